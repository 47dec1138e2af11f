"""Read what mlf-validate left on an MLflow server with the real client.

usage: rest_validate_read.py URL id-of NAME       prints the experiment id
       rest_validate_read.py URL run-state RUN_ID prints "<lifecycle> <status>"
"""
import sys
import warnings

warnings.filterwarnings("ignore")
from mlflow.tracking import MlflowClient  # noqa: E402

client = MlflowClient(tracking_uri=sys.argv[1])
if sys.argv[2] == "id-of":
    exp = client.get_experiment_by_name(sys.argv[3])
    print(exp.experiment_id if exp else "")
elif sys.argv[2] == "run-state":
    run = client.get_run(sys.argv[3])
    print(run.info.lifecycle_stage, run.info.status)
