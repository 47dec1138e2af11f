"""Log a run with the real MLflow client, for track-driver to read back.
Usage: rest_python_logs.py URI EXPERIMENT_ID ARTIFACT_DIR -> prints the run id"""
import math
import sys

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

uri, exp_id, art_dir = sys.argv[1:4]
client = MlflowClient(tracking_uri=uri)
run = client.create_run(exp_id, run_name="from-python", tags={"origin": "python", "team/owner": "qa"})
rid = run.info.run_id
metrics = [Metric("py/loss", 1.0 / (i + 1), 1700000000000 + i, i) for i in range(1500)]
metrics.append(Metric("py/loss", math.nan, 1700000009999, 1500))
metrics.append(Metric("acc", 0.875, 1700000000000, 0))
client.log_batch(rid, metrics=metrics, params=[Param("alpha", "0.5"), Param("path/like", "y" * 6000)],
                 tags=[RunTag("note", "héllo ✓")])
client.log_artifacts(rid, art_dir, "inputs")
client.set_terminated(rid, "KILLED")
print(rid)
