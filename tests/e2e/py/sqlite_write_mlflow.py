"""Write runs, an experiment and a registered model into a fresh database with
the real MLflow client, and save what our driver should read back, in the
driver's JSON shapes.

usage: sqlite_write_mlflow.py DB ARTIFACT_LOCATION OUT_DIR
"""
import json
import math
import os
import sys

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from sqlite_common import to_json_number

db, art, out = sys.argv[1:4]
client = MlflowClient(tracking_uri=f"sqlite:///{db}")
exp_id = client.create_experiment("written-by-mlflow", artifact_location=art)
run = client.create_run(exp_id, run_name="mlflow-run", tags={"type": "retraining", "k/x": "v" * 8000},
                        start_time=1_700_000_000_123)
rid = run.info.run_id
metrics = [Metric("loss", (i * 0.37) % 5 - 2.5 if i % 50 else float("nan"), 1_700_000_000_000 + i, i)
           for i in range(1500)]
metrics += [Metric("acc", 0.1 + 0.2, 1_700_000_000_000, 3), Metric("acc", 1e-300, 1_700_000_000_001, 2)]
# MLflow itself clamps infinities to +-DBL_MAX when it writes them.
metrics += [Metric("big", float("inf"), 1_700_000_000_000, 0)]
for i in range(0, len(metrics), 1000):
    client.log_batch(rid, metrics=metrics[i:i + 1000])
params = {"lr": "0.001", "p/long": "z" * 6000, "epochs": "50"}
client.log_batch(rid, params=[Param(k, v) for k, v in params.items()])
client.set_terminated(rid, "KILLED", end_time=1_700_000_999_000)
other = client.create_run(exp_id, run_name="other", tags={"type": "eval"}, start_time=1_700_000_000_200)
client.set_terminated(other.info.run_id, "FINISHED", end_time=1_700_000_000_300)
third = client.create_run(exp_id, run_name="third", tags={"type": "retraining"}, start_time=1_700_000_000_500)

client.create_registered_model("mlflow-model")
client.create_model_version("mlflow-model", f"{art}/{rid}/artifacts/model", rid)
client.create_model_version("mlflow-model", f"{art}/{rid}/artifacts/model2", rid)
client.set_registered_model_alias("mlflow-model", "prod", "2")

r = client.get_run(rid)
want_run = {
    "run_id": rid, "experiment_id": exp_id, "run_name": "mlflow-run",
    "user_id": r.info.user_id, "artifact_uri": r.info.artifact_uri,
    "lifecycle_stage": "active", "status": "KILLED",
    "start_time": 1_700_000_000_123, "end_time": 1_700_000_999_000,
    "params": params, "tags": r.data.tags,
    "metrics": {k: to_json_number(v) for k, v in r.data.metrics.items()},
}
hist = {k: [{"value": to_json_number(m.value), "timestamp": m.timestamp, "step": m.step}
            for m in client.get_metric_history(rid, k)] for k in ("loss", "acc", "big")}
e = client.get_experiment(exp_id)
want_exp = {"experiment_id": exp_id, "name": e.name, "artifact_location": e.artifact_location,
            "lifecycle_stage": "active", "creation_time": e.creation_time,
            "last_update_time": e.last_update_time}
mvs = {v: client.get_model_version("mlflow-model", v) for v in ("1", "2")}
want_mv = {v: {"name": "mlflow-model", "version": v, "source": mv.source, "run_id": mv.run_id,
               "status": mv.status, "aliases": sorted(mv.aliases)} for v, mv in mvs.items()}
assert math.isnan(r.data.metrics["loss"]) is False
with open(os.path.join(out, "expect.json"), "w") as f:
    json.dump({"run": want_run, "history": hist, "experiment": want_exp, "versions": want_mv,
               "search": [third.info.run_id, rid]}, f)
print(rid, exp_id)
