"""Helpers for the file-store end-to-end tests (tests/e2e/t4NN-file-*.sh).

    file_check.py gen DIR              write DIR/spec.json and driver batch files
    file_check.py read URI SPEC        MLflow client reads our run back; compares exactly
    file_check.py yaml ROOT EXP RUN    meta.yaml files parse to MLflow's own types
    file_check.py lines RUNDIR SPEC    metric files hold exactly the lines MLflow writes
    file_check.py rest URL SPEC        a running `mlflow server` serves the run
    file_check.py write URI OUT        MLflow client writes a run; OUT = expected JSON
    file_check.py compare EXPECTED GETRUN HISTDIR ARTLIST
                                       our driver's view equals what MLflow wrote

Every comparison is exact: floats bit for bit (NaN equal to NaN), strings
byte for byte.  Prints one line per problem and exits 1 if there was any.
"""
import json
import math
import os
import struct
import sys

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

problems = []


def bad(msg):
    problems.append(msg)
    print("MISMATCH: " + msg)


def same_float(a, b):
    if isinstance(a, str):
        a = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[a]
    if isinstance(b, str):
        b = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[b]
    a, b = float(a), float(b)
    if math.isnan(a) and math.isnan(b):
        return True
    return struct.pack("<d", a) == struct.pack("<d", b)


def json_float(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def done():
    if problems:
        print("%d mismatch(es)" % len(problems))
        sys.exit(1)
    print("all equal")


# ---- gen ------------------------------------------------------------------

SPECIAL = [0.1, 1e-05, 1 / 3, 1e300, -0.0, 5e-324, 2.0 ** 53 + 2, 123456789.125,
           -1.5e-310, math.nan, math.inf, -math.inf, 100.0, 0.30000000000000004]


def gen(out):
    import random

    rnd = random.Random(4242)
    metrics = []
    ts0 = 1700000000000
    for i in range(5200):
        key = ["loss", "metrics/mAP50-95", "val/box loss", "lr"][i % 4]
        if i < len(SPECIAL) * 4:
            v = SPECIAL[i // 4]
        else:
            v = rnd.uniform(-1e6, 1e6) * 10 ** rnd.randint(-12, 12)
        metrics.append({"key": key, "value": json_float(v), "timestamp": ts0 + i, "step": i // 4 - 3})
    params = [
        # 6000 characters, MLflow's limit (ASCII: the C side counts bytes)
        {"key": "long", "value": ("0123456789abcdef" * 400)[:6000]},
        {"key": "unicode", "value": "x\u00e9\u4e2d\U0001f600 caf\u00e9"},
        {"key": "nested/a/b", "value": "value with 'quotes' and \"dq\" and: colon"},
        {"key": "yes", "value": "no"},
        {"key": "num", "value": "0123"},
        {"key": "empty", "value": ""},
        {"key": "multi", "value": "line1\nline2\n"},
    ]
    tags = [
        {"key": "team/owner", "value": "vision"},
        {"key": "retrain.dataset", "value": "coco 2017"},
        {"key": "null", "value": "null"},
    ]
    half = len(metrics) // 2
    with open(os.path.join(out, "batch1.json"), "w") as f:
        json.dump({"metrics": metrics[:half], "params": params, "tags": tags}, f)
    with open(os.path.join(out, "batch2.json"), "w") as f:
        json.dump({"metrics": metrics[half:], "params": params[:2], "tags": []}, f)
    with open(os.path.join(out, "spec.json"), "w") as f:
        json.dump({"metrics": metrics, "params": params, "tags": tags}, f)


# ---- read (MLflow reads what we wrote) -------------------------------------


def read(uri, spec_path):
    from mlflow import MlflowClient

    spec = json.load(open(spec_path))
    c = MlflowClient(tracking_uri=uri)
    exp = c.get_experiment(spec["experiment_id"])
    if exp is None:
        bad("experiment %s not found" % spec["experiment_id"])
        return
    for k in ("name", "artifact_location"):
        if getattr(exp, k) != spec["experiment_" + k]:
            bad("experiment %s: %r != %r" % (k, getattr(exp, k), spec["experiment_" + k]))
    if exp.lifecycle_stage != "active":
        bad("experiment lifecycle %r" % exp.lifecycle_stage)
    by_name = c.get_experiment_by_name(spec["experiment_name"])
    if by_name is None or by_name.experiment_id != spec["experiment_id"]:
        bad("get_experiment_by_name gave %r" % (by_name and by_name.experiment_id))

    run = c.get_run(spec["run_id"])
    info = run.info
    checks = {
        "run_id": spec["run_id"], "experiment_id": spec["experiment_id"],
        "run_name": spec["run_name"], "status": "FINISHED", "lifecycle_stage": "active",
        "artifact_uri": spec["artifact_uri"], "start_time": spec["start_time"],
        "end_time": spec["end_time"],
    }
    for k, want in checks.items():
        if getattr(info, k) != want:
            bad("run %s: %r != %r" % (k, getattr(info, k), want))
    params = {p["key"]: p["value"] for p in spec["params"]}
    if run.data.params != params:
        diff = sorted(k for k in set(run.data.params) | set(params) if run.data.params.get(k) != params.get(k))
        bad("params differ at keys %r" % diff)
    for t in spec["tags"]:
        if run.data.tags.get(t["key"]) != t["value"]:
            bad("tag %s: %r != %r" % (t["key"], run.data.tags.get(t["key"]), t["value"]))
    if run.data.tags.get("mlflow.runName") != spec["run_name"]:
        bad("mlflow.runName tag %r" % run.data.tags.get("mlflow.runName"))

    by_key = {}
    for m in spec["metrics"]:
        by_key.setdefault(m["key"], []).append(m)
    for key, want in by_key.items():
        hist = c.get_metric_history(spec["run_id"], key)
        if len(hist) != len(want):
            bad("metric %s: %d points, wanted %d" % (key, len(hist), len(want)))
            continue
        for i, (h, w) in enumerate(zip(hist, want)):
            if not same_float(h.value, w["value"]) or h.timestamp != w["timestamp"] or h.step != w["step"]:
                bad("metric %s[%d]: (%r,%r,%r) != %r" % (key, i, h.value, h.timestamp, h.step, w))
                break
        latest = max(want, key=lambda m: (m["step"], m["timestamp"]))
        if not same_float(run.data.metrics[key], latest["value"]):
            bad("latest %s: %r != %r" % (key, run.data.metrics[key], latest["value"]))

    arts = sorted((a.path, a.is_dir, a.file_size) for a in list_all(c, spec["run_id"], None))
    want_arts = sorted((a["path"], a["is_dir"], None if a["is_dir"] else a["size"]) for a in spec["artifacts"])
    if arts != want_arts:
        bad("artifacts: %r != %r" % (arts, want_arts))
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        for a in spec["artifacts"]:
            if a["is_dir"]:
                continue
            p = c.download_artifacts(spec["run_id"], a["path"], d)
            if open(p, "rb").read() != open(a["local"], "rb").read():
                bad("artifact %s bytes differ" % a["path"])

    inputs = run.inputs.dataset_inputs
    if len(inputs) != 1:
        bad("%d dataset inputs" % len(inputs))
    else:
        ds = inputs[0].dataset
        got = (ds.name, ds.digest, ds.source_type, ds.source,
               {t.key: t.value for t in inputs[0].tags})
        want = tuple(spec["dataset"]) + ({"mlflow.data.context": spec["dataset_context"]},)
        if got != want:
            bad("dataset %r != %r" % (got, want))

    found = c.search_runs([spec["experiment_id"]], "tags.`team/owner` = 'vision'")
    if [r.info.run_id for r in found] != [spec["run_id"]]:
        bad("search_runs gave %r" % [r.info.run_id for r in found])


def list_all(c, run_id, path):
    out = []
    for a in c.list_artifacts(run_id, path):
        out.append(a)
        if a.is_dir:
            out.extend(list_all(c, run_id, a.path))
    return out


# ---- yaml: types as MLflow's own reader sees them ---------------------------


def yaml_types(root, exp_id, run_id):
    import yaml

    exp = yaml.safe_load(open(os.path.join(root, exp_id, "meta.yaml")))
    want = {"artifact_location": str, "creation_time": int, "experiment_id": str,
            "last_update_time": int, "lifecycle_stage": str, "name": str}
    for k, t in want.items():
        if not isinstance(exp.get(k), t) or isinstance(exp.get(k), bool):
            bad("experiment meta %s is %r" % (k, exp.get(k)))
    if exp["experiment_id"] != exp_id:
        bad("experiment_id %r != %r" % (exp["experiment_id"], exp_id))
    run = yaml.safe_load(open(os.path.join(root, exp_id, run_id, "meta.yaml")))
    want = {"artifact_uri": str, "end_time": int, "entry_point_name": str, "experiment_id": str,
            "lifecycle_stage": str, "run_id": str, "run_uuid": str, "run_name": str,
            "source_name": str, "source_type": int, "source_version": str, "start_time": int,
            "status": int, "tags": list, "user_id": str}
    for k, t in want.items():
        if not isinstance(run.get(k), t) or isinstance(run.get(k), bool):
            bad("run meta %s is %r" % (k, run.get(k)))
    if "deleted_time" not in run:
        bad("run meta has no deleted_time")
    if run["experiment_id"] != exp_id or run["run_id"] != run_id or run["run_uuid"] != run_id:
        bad("run meta ids %r %r %r" % (run["experiment_id"], run["run_id"], run["run_uuid"]))
    if run["status"] != 3 or run["source_type"] != 4 or run["tags"] != []:
        bad("run meta status/source_type/tags %r %r %r" % (run["status"], run["source_type"], run["tags"]))
    for k in ("entry_point_name", "source_name", "source_version"):
        if run[k] != "":
            bad("run meta %s %r" % (k, run[k]))
    keys = [line.split(":")[0] for line in open(os.path.join(root, exp_id, run_id, "meta.yaml"))]
    if keys != sorted(keys):
        bad("run meta keys not sorted: %r" % keys)


# ---- rest: mlflow server serves our file store ------------------------------


def rest(url, spec_path):
    import urllib.parse
    import urllib.request

    spec = json.load(open(spec_path))

    def get(path, **q):
        with urllib.request.urlopen(url + path + "?" + urllib.parse.urlencode(q), timeout=30) as r:
            return json.load(r)

    run = get("/api/2.0/mlflow/runs/get", run_id=spec["run_id"])["run"]
    if run["info"]["status"] != "FINISHED" or run["info"]["experiment_id"] != spec["experiment_id"]:
        bad("server run info %r" % run["info"])
    params = {p["key"]: p["value"] for p in run["data"].get("params", [])}
    if params != {p["key"]: p["value"] for p in spec["params"]}:
        bad("server params differ")
    hist = get("/api/2.0/mlflow/metrics/get-history", run_id=spec["run_id"], metric_key="loss")["metrics"]
    want = [m for m in spec["metrics"] if m["key"] == "loss"]
    if len(hist) != len(want):
        bad("server loss history %d != %d" % (len(hist), len(want)))
    else:
        for h, w in zip(hist, want):
            if not same_float(h["value"], w["value"]) or int(h["timestamp"]) != w["timestamp"] or int(h.get("step", 0)) != w["step"]:
                bad("server loss point %r != %r" % (h, w))
                break
    exp = get("/api/2.0/mlflow/experiments/get", experiment_id=spec["experiment_id"])["experiment"]
    if exp["name"] != spec["experiment_name"]:
        bad("server experiment name %r" % exp["name"])


# ---- write (MLflow writes, we read) -----------------------------------------


def write(uri, out):
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

    c = MlflowClient(tracking_uri=uri)
    exp_id = c.create_experiment("written by mlflow")
    run = c.create_run(exp_id, run_name="py-run", tags={"origin": "python", "a/b": "nested"})
    rid = run.info.run_id
    metrics = []
    for i in range(1500):
        v = SPECIAL[i] if i < len(SPECIAL) else (i * 0.37) ** 1.5 / 7
        metrics.append(Metric("acc" if i % 2 else "group/loss", v, 1700000000000 + i, i // 2))
    for i in range(0, len(metrics), 1000):
        c.log_batch(rid, metrics=metrics[i:i + 1000])
    params = {"lr": "0.01", "long": "p" * 6000, "nested/x": "yes", "zero": "0123"}
    c.log_batch(rid, params=[Param(k, v) for k, v in params.items()])
    c.log_inputs(rid, datasets=[DatasetInput(Dataset("ds", "d1g", "local", "/data/x"),
                                             [InputTag("mlflow.data.context", "training")])])
    src = os.path.join(os.path.dirname(out), "py-art")
    os.makedirs(os.path.join(src, "sub"), exist_ok=True)
    open(os.path.join(src, "a.txt"), "wb").write(b"alpha\n")
    open(os.path.join(src, "sub", "b.bin"), "wb").write(bytes(range(256)) * 10)
    c.log_artifacts(rid, src, "out")
    c.set_terminated(rid, "KILLED")
    r = c.get_run(rid)
    hist = {}
    for m in metrics:
        hist.setdefault(m.key, []).append({"value": json_float(m.value), "timestamp": m.timestamp, "step": m.step})
    expected = {
        "run_id": rid, "experiment_id": exp_id, "run_name": "py-run", "user_id": r.info.user_id,
        "artifact_uri": r.info.artifact_uri, "lifecycle_stage": "active", "status": "KILLED",
        "start_time": r.info.start_time, "end_time": r.info.end_time,
        "params": params, "tags": dict(r.data.tags),
        "metrics": {k: json_float(v) for k, v in r.data.metrics.items()},
        "history": hist,
        "artifacts": sorted([
            {"path": "out", "is_dir": True, "size": -1},
            {"path": "out/a.txt", "is_dir": False, "size": 6},
            {"path": "out/sub", "is_dir": True, "size": -1},
            {"path": "out/sub/b.bin", "is_dir": False, "size": 2560},
        ], key=lambda a: a["path"]),
        "artifact_bytes": {"out/sub/b.bin": os.path.join(src, "sub", "b.bin")},
    }
    json.dump(expected, open(out, "w"))


def compare(expected_path, getrun_path, histdir, artlist_path):
    exp = json.load(open(expected_path))
    got = json.load(open(getrun_path))
    for k in ("run_id", "experiment_id", "run_name", "user_id", "artifact_uri", "lifecycle_stage",
              "status", "start_time", "end_time", "params", "tags"):
        if got.get(k) != exp[k]:
            bad("get-run %s: %r != %r" % (k, got.get(k), exp[k]))
    if set(got["metrics"]) != set(exp["metrics"]):
        bad("metric keys %r != %r" % (sorted(got["metrics"]), sorted(exp["metrics"])))
    for k, v in exp["metrics"].items():
        if k in got["metrics"] and not same_float(got["metrics"][k], v):
            bad("latest %s: %r != %r" % (k, got["metrics"][k], v))
    for key, want in exp["history"].items():
        hist = json.load(open(os.path.join(histdir, key.replace("/", "_") + ".json")))
        if len(hist) != len(want):
            bad("history %s: %d != %d points" % (key, len(hist), len(want)))
            continue
        for h, w in zip(hist, want):
            if not same_float(h["value"], w["value"]) or h["timestamp"] != w["timestamp"] or h["step"] != w["step"]:
                bad("history %s point %r != %r" % (key, h, w))
                break
    arts = json.load(open(artlist_path))
    if arts != exp["artifacts"]:
        bad("artifacts %r != %r" % (arts, exp["artifacts"]))


# ---- lines: metric files byte for byte as MLflow's own writer makes them ------


def metric_lines(run_dir, spec_path):
    spec = json.load(open(spec_path))
    want = {}
    for m in spec["metrics"]:
        v = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(m["value"], m["value"])
        want.setdefault(m["key"], []).append("%d %s %d\n" % (m["timestamp"], str(float(v)), m["step"]))
    for key, lines in want.items():
        got = open(os.path.join(run_dir, "metrics", key), encoding="utf-8").read()
        if got != "".join(lines):
            g = got.splitlines(True)
            first = next((i for i, (a, b) in enumerate(zip(g, lines)) if a != b), min(len(g), len(lines)))
            bad("metric file %s differs at line %d: %r != %r" % (key, first + 1,
                g[first] if first < len(g) else None, lines[first] if first < len(lines) else None))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "gen":
        gen(*args)
        return
    {"read": read, "yaml": yaml_types, "lines": metric_lines, "rest": rest, "write": write, "compare": compare}[cmd](*args)
    done()


if __name__ == "__main__":
    main()
