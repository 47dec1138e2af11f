"""Compare our driver's JSON (read from an MLflow-written database) with what
the MLflow client read.  usage: sqlite_check_reverse.py EXPECT.json DIR
DIR: run.json, hist-<key>.json, exp.json, mv-<n>.json, alias.json, search.json"""
import os
import sys

from sqlite_common import Checker, load

want = load(sys.argv[1])
d = sys.argv[2]
c = Checker()
run = load(os.path.join(d, "run.json"))
for k, v in want["run"].items():
    c.eq(f"run {k}", run.get(k), v)
for key, pts in want["history"].items():
    c.eq(f"history of {key} ({len(pts)} points)", load(os.path.join(d, f"hist-{key}.json")), pts)
exp = load(os.path.join(d, "exp.json"))
for k, v in want["experiment"].items():
    c.eq(f"experiment {k}", exp.get(k), v)
for v, mv in want["versions"].items():
    got = load(os.path.join(d, f"mv-{v}.json"))
    got["aliases"] = sorted(got.get("aliases", []))
    c.eq(f"model version {v}", got, mv)
c.eq("alias prod", load(os.path.join(d, "alias.json")), want["versions"]["2"])
c.eq("search-runs type=retraining, newest first",
     [r["run_id"] for r in load(os.path.join(d, "search.json"))], want["search"])
c.finish()
