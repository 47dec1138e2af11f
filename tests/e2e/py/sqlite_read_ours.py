"""Read, with the real MLflow client straight from the database, what our
driver wrote, and compare every value with what was sent.

usage: sqlite_read_ours.py DB EXPECT.json
EXPECT: {experiment_id, experiment_name, artifact_location, run (driver get-run
output), batch (log-batch file), dataset {...}, model {...}, deleted_run_id}
"""
import math
import sys

from mlflow.tracking import MlflowClient

from sqlite_common import Checker, from_json_number, load, same_float

db, expect_path = sys.argv[1], sys.argv[2]
exp = load(expect_path)
batch = load(exp["batch"])
ours = load(exp["run"])
c = Checker()
client = MlflowClient(tracking_uri=f"sqlite:///{db}")

e = client.get_experiment(exp["experiment_id"])
c.eq("experiment id", e.experiment_id, exp["experiment_id"])
c.eq("experiment name", e.name, exp["experiment_name"])
c.eq("experiment artifact location", e.artifact_location, exp["artifact_location"])
c.eq("experiment lifecycle", e.lifecycle_stage, "active")
c.eq("experiment by name", client.get_experiment_by_name(exp["experiment_name"]).experiment_id,
     exp["experiment_id"])
d = client.get_experiment("0")
c.eq("Default experiment", (d.name, d.lifecycle_stage), ("Default", "active"))

run_id = ours["run_id"]
r = client.get_run(run_id)
i = r.info
c.eq("run id", i.run_id, run_id)
c.eq("run experiment", i.experiment_id, exp["experiment_id"])
c.eq("run name", i.run_name, ours["run_name"])
c.eq("run status", i.status, "FINISHED")
c.eq("run start_time", i.start_time, ours["start_time"])
c.eq("run end_time", i.end_time, ours["end_time"])
c.true("run end_time set", isinstance(i.end_time, int) and i.end_time >= i.start_time)
c.eq("run user", i.user_id, ours["user_id"])
c.eq("run lifecycle", i.lifecycle_stage, "active")
c.eq("run artifact_uri", i.artifact_uri,
     exp["artifact_location"].rstrip("/") + f"/{run_id}/artifacts")

want_params = {p["key"]: p["value"] for p in batch["params"]}
c.eq("params (all %d, exact)" % len(want_params), r.data.params, want_params)
c.eq("6000-character param", len(r.data.params.get("p/long", "")), 6000)

want_tags = dict(ours["tags"])
for t in batch["tags"]:
    want_tags[t["key"]] = t["value"]
c.eq("tags (exact)", r.data.tags, want_tags)
c.eq("mlflow.runName tag", r.data.tags.get("mlflow.runName"), ours["run_name"])
c.eq("8000-character tag", len(r.data.tags.get("t/long", "")), 8000)

# Expected histories and latest values, by MLflow's rule: max (step, timestamp, value).
hist = {}
for m in batch["metrics"]:
    hist.setdefault(m["key"], []).append(
        (m["step"], m["timestamp"], from_json_number(m["value"])))


def rank(p):
    step, ts, v = p
    return (step, ts, 0.0 if math.isnan(v) else v)


for key, points in sorted(hist.items()):
    got = client.get_metric_history(run_id, key)
    got_pts = {(m.step, m.timestamp): m.value for m in got}
    want_pts = {(s, t): v for s, t, v in points}
    ok = len(got) == len(points) and got_pts.keys() == want_pts.keys() and all(
        same_float(got_pts[k], want_pts[k]) for k in want_pts)
    bad = [(k, got_pts.get(k), want_pts[k]) for k in want_pts
           if k not in got_pts or not same_float(got_pts[k], want_pts[k])][:3]
    c.true(f"history of {key}: {len(points)} points exact", ok, f"first differences {bad}")
    latest = max(points, key=rank)[2]
    c.true(f"latest {key} = {latest!r}", key in r.data.metrics and
           same_float(r.data.metrics[key], latest), f"got {r.data.metrics.get(key)!r}")
c.eq("metric keys", sorted(r.data.metrics), sorted(hist))
nan = sum(1 for p in hist["train/loss"] if math.isnan(p[2]))
inf = sum(1 for p in hist["train/loss"] if math.isinf(p[2]))
c.true(f"history has NaN ({nan}) and Inf ({inf}) points", nan > 0 and inf > 0)

ds = exp["dataset"]
inputs = r.inputs.dataset_inputs
c.eq("one dataset input", len(inputs), 1)
if inputs:
    d = inputs[0].dataset
    c.eq("dataset", (d.name, d.digest, d.source_type, d.source),
         (ds["name"], ds["digest"], ds["source_type"], ds["source"]))
    c.eq("dataset context tag", {t.key: t.value for t in inputs[0].tags},
         {"mlflow.data.context": ds["context"]})

m = exp["model"]
for v in m["versions"]:
    mv = client.get_model_version(m["name"], v["version"])
    # The client's SQL store hands versions out as int, its REST client as str.
    c.eq(f"model version {v['version']}", (mv.name, str(mv.version), mv.source, mv.run_id, mv.status,
                                           mv.current_stage),
         (m["name"], v["version"], v["source"], run_id, "READY", "None"))
    c.eq(f"model version {v['version']} aliases", sorted(mv.aliases), sorted(v["aliases"]))
rm = client.get_registered_model(m["name"])
c.eq("registered model aliases", {k: str(v) for k, v in rm.aliases.items()}, m["aliases"])
c.true("registered model updated when a version was added",
       rm.last_updated_timestamp >= rm.creation_timestamp and
       rm.last_updated_timestamp == client.get_model_version(
           m["name"], m["versions"][-1]["version"]).creation_timestamp)
for alias, version in m["aliases"].items():
    c.eq(f"alias {alias}", str(client.get_model_version_by_alias(m["name"], alias).version), version)

dr = client.get_run(exp["deleted_run_id"])
c.eq("deleted run lifecycle", dr.info.lifecycle_stage, "deleted")
runs = client.search_runs([exp["experiment_id"]], "tags.type = 'retraining'")
c.eq("search_runs sees only the live run", [x.info.run_id for x in runs], [run_id])
c.finish()
