"""Read what mlf-validate left in a SQLite store with the real MLflow client.

usage: sqlite_validate_read.py DB experiment ID NAME ARTIFACT_LOCATION
       sqlite_validate_read.py DB probe-removed RUN_ID
       sqlite_validate_read.py DB delete-experiment ID
Prints "ok" as its last line when every expectation holds.
"""
import sys
import warnings

warnings.filterwarnings("ignore")
from mlflow.tracking import MlflowClient  # noqa: E402

db, what = sys.argv[1], sys.argv[2]
client = MlflowClient(tracking_uri=f"sqlite:///{db}")
if what == "experiment":
    exp = client.get_experiment(sys.argv[3])
    got = (exp.experiment_id, exp.name, exp.artifact_location, exp.lifecycle_stage)
    want = (sys.argv[3], sys.argv[4], sys.argv[5], "active")
    print(got)
    print("ok" if got == want else f"mismatch: wanted {want}")
elif what == "probe-removed":
    run = client.get_run(sys.argv[3])
    got = (run.info.lifecycle_stage, run.info.status, run.data.tags.get("mlf.probe"),
           len(run.data.params.get("mlf.probe.param", "")), run.data.metrics.get("mlf.probe.metric"))
    print(got)
    print("ok" if got == ("deleted", "FINISHED", "true", 32, 0.5) else "mismatch")
elif what == "delete-experiment":
    client.delete_experiment(sys.argv[3])
    print("ok")
