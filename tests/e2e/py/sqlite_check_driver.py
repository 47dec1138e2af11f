"""Check what our driver reads back (get-run, metric-history JSON) against the
log-batch file it was given.

usage: sqlite_check_driver.py BATCH RUN.json HISTORY_DIR
HISTORY_DIR holds <n>.json = driver metric-history output for the n-th key (sorted).
"""
import math
import os
import sys

from sqlite_common import Checker, from_json_number, load, same_float

batch, run, hdir = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3]
c = Checker()
c.eq("driver: params", run["params"], {p["key"]: p["value"] for p in batch["params"]})
c.true("driver: tags", all(run["tags"].get(t["key"]) == t["value"] for t in batch["tags"]))
hist = {}
for m in batch["metrics"]:
    hist.setdefault(m["key"], []).append((m["step"], m["timestamp"], from_json_number(m["value"])))
for n, key in enumerate(sorted(hist)):
    pts = hist[key]
    latest = max(pts, key=lambda p: (p[0], p[1], 0.0 if math.isnan(p[2]) else p[2]))[2]
    got = from_json_number(run["metrics"].get(key, "NaN")) if key in run["metrics"] else None
    c.true(f"driver: latest {key}", got is not None and same_float(got, latest),
           f"got {got!r} wanted {latest!r}")
    h = load(os.path.join(hdir, f"{n}.json"))
    want = sorted(pts, key=lambda p: (p[1], p[0], 0.0 if math.isnan(p[2]) else p[2]))
    ok = len(h) == len(want) and all(
        g["step"] == s and g["timestamp"] == t and same_float(from_json_number(g["value"]), v)
        for g, (s, t, v) in zip(h, want))
    c.true(f"driver: history of {key} ({len(want)} points, MLflow's order)", ok)
c.finish()
