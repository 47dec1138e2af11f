"""Read a run with the real MLflow client and compare it exactly with the batch
that track-driver logged.  Usage: rest_verify_run.py URI RUN_ID BATCH.json RUN_NAME STATUS

A SQL store behind the server (as in these tests) keeps NaN (stored as 0 with an
is_nan flag) but clamps +-Infinity to +-sys.float_info.max
(sqlalchemy_store.sanitize_metric_value), so that is what the client reads back and
what we assert."""
import json
import math
import sys

from mlflow import MlflowClient

uri, run_id, batch_path, run_name, status = sys.argv[1:6]
batch = json.load(open(batch_path))
client = MlflowClient(tracking_uri=uri)
run = client.get_run(run_id)
failures = 0


def check(what, cond, detail=""):
    global failures
    print(("ok - " if cond else "not ok - ") + what + ("" if cond else ": " + detail))
    failures += 0 if cond else 1


def as_read_back(v):
    if v == "NaN":
        return math.nan
    if v == "Infinity":
        return sys.float_info.max
    if v == "-Infinity":
        return -sys.float_info.max
    return float(v)


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


check("run name", run.info.run_name == run_name, run.info.run_name)
check("status", run.info.status == status, run.info.status)
check("end_time set", (run.info.end_time or 0) >= run.info.start_time)
want_params = {p["key"]: p["value"] for p in batch["params"]}
check("params equal (%d)" % len(want_params), run.data.params == want_params,
      str(set(run.data.params.items()) ^ set(want_params.items()))[:300])
for t in batch["tags"]:
    check("tag " + t["key"], run.data.tags.get(t["key"]) == t["value"])
keys = sorted({m["key"] for m in batch["metrics"]})
for key in keys:
    want = sorted([(m["step"], m["timestamp"], as_read_back(m["value"])) for m in batch["metrics"]
                   if m["key"] == key], key=lambda x: (x[0], x[1]))
    got = sorted([(m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key)],
                 key=lambda x: (x[0], x[1]))
    ok = len(want) == len(got) and all(w[0] == g[0] and w[1] == g[1] and same(w[2], g[2])
                                       for w, g in zip(want, got))
    check("metric history %s (%d points, exact)" % (key, len(want)), ok,
          "lengths %d/%d, first difference: %s" % (len(want), len(got), str(next(
              ((w, g) for w, g in zip(want, got) if not (w[:2] == g[:2] and same(w[2], g[2]))), None))))
sys.exit(1 if failures else 0)
