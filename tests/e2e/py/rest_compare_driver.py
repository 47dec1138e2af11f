"""Compare what track-driver read (get-run JSON, and metric-history JSON per key) with
what the real MLflow client reads for the same run, value for value.
Usage: rest_compare_driver.py URI RUN_ID DRIVER_RUN.json [KEY HISTORY.json]..."""
import json
import math
import sys

from mlflow import MlflowClient

uri, run_id, run_path = sys.argv[1:4]
pairs = sys.argv[4:]
client = MlflowClient(tracking_uri=uri)
run = client.get_run(run_id)
ours = json.load(open(run_path))
failures = 0


def check(what, cond, detail=""):
    global failures
    print(("ok - " if cond else "not ok - ") + what + ("" if cond else ": " + str(detail)[:400]))
    failures += 0 if cond else 1


def num(v):
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(v, v)


def same(a, b):
    a, b = num(a), num(b)
    return (math.isnan(a) and math.isnan(b)) or a == b


info = run.info
for field in ("run_id", "experiment_id", "run_name", "user_id", "artifact_uri", "lifecycle_stage",
              "status", "start_time"):
    check("driver " + field, ours[field] == getattr(info, field), (ours[field], getattr(info, field)))
check("driver end_time", ours["end_time"] == info.end_time, (ours["end_time"], info.end_time))
check("driver params", ours["params"] == run.data.params)
check("driver tags", ours["tags"] == run.data.tags)
check("driver latest metrics keys", set(ours["metrics"]) == set(run.data.metrics))
check("driver latest metric values",
      all(same(ours["metrics"][k], v) for k, v in run.data.metrics.items() if k in ours["metrics"]),
      (ours["metrics"], run.data.metrics))
for key, path in zip(pairs[::2], pairs[1::2]):
    hist = json.load(open(path))
    want = sorted([(m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key)],
                  key=lambda x: (x[0], x[1]))
    got = sorted([(m["step"], m["timestamp"], num(m["value"])) for m in hist], key=lambda x: (x[0], x[1]))
    check("driver history %s (%d points)" % (key, len(want)),
          len(want) == len(got) and all(w[:2] == g[:2] and same(w[2], g[2]) for w, g in zip(want, got)))
sys.exit(1 if failures else 0)
