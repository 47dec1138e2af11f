"""Through a real `mlflow server` running on our database, the MLflow client
sees our run exactly.  usage: sqlite_via_server.py URL RUN.json BATCH.json"""
import math
import sys

from mlflow.tracking import MlflowClient

from sqlite_common import Checker, from_json_number, load, same_float

url, ours, batch = sys.argv[1], load(sys.argv[2]), load(sys.argv[3])
c = Checker()
client = MlflowClient(tracking_uri=url)
r = client.get_run(ours["run_id"])
c.eq("status", r.info.status, ours["status"])
c.eq("times", (r.info.start_time, r.info.end_time), (ours["start_time"], ours["end_time"]))
c.eq("params", r.data.params, ours["params"])
c.eq("tags", r.data.tags, ours["tags"])
for key, v in ours["metrics"].items():
    c.true(f"latest {key} = {v}", same_float(r.data.metrics.get(key, -1.0), from_json_number(v)),
           f"got {r.data.metrics.get(key)!r}")
pts = [m for m in batch["metrics"] if m["key"] == "m"]
got = client.get_metric_history(ours["run_id"], "m")
c.true(f"history of m through the server ({len(pts)} points, NaN and +-Inf)",
       len(got) == len(pts) and all(
           g.step == p["step"] and g.timestamp == p["timestamp"] and
           same_float(g.value, from_json_number(p["value"])) for g, p in zip(got, pts)),
       f"{[(g.step, g.value) for g in got]}")
runs = client.search_runs([ours["experiment_id"]], "tags.type = 'retraining'")
c.eq("search through the server", [x.info.run_id for x in runs], [ours["run_id"]])
c.finish()
