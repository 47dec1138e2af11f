"""Write the log-batch file for the sqlite round trip: 5000+ metric points with
NaN and +-Inf, 120 params (6000-character values, keys with '/'), long tags."""
import json
import random
import sys

from sqlite_common import to_json_number

out = sys.argv[1]
rng = random.Random(20240611)
T0 = 1_700_000_000_000
metrics = []
for i in range(5000):
    v = rng.uniform(-10, 10) * 10 ** rng.randint(-20, 20)
    if i % 97 == 0:
        v = float("nan")
    elif i % 101 == 0:
        v = float("inf")
    elif i % 103 == 0:
        v = float("-inf")
    metrics.append({"key": "train/loss", "value": to_json_number(v), "timestamp": T0 + i, "step": i})
# Latest by step, then timestamp: the step-5 point logged last in time must not win over step 7.
for step, ts, v in [(5, T0 + 10, 1.5), (7, T0 + 5, 2.5), (5, T0 + 30, 3.5), (7, T0 + 6, -0.25)]:
    metrics.append({"key": "order", "value": v, "timestamp": ts, "step": step})
metrics.append({"key": "nan_last", "value": 1.0, "timestamp": T0, "step": 0})
metrics.append({"key": "nan_last", "value": "NaN", "timestamp": T0 + 1, "step": 1})
metrics.append({"key": "inf_last", "value": "-Infinity", "timestamp": T0, "step": 0})
metrics.append({"key": "inf_last", "value": "Infinity", "timestamp": T0 + 1, "step": 1})
metrics.append({"key": "tiny", "value": 5e-324, "timestamp": T0, "step": -3})
metrics.append({"key": "neg_zero", "value": -0.0, "timestamp": T0, "step": 0})

params = [{"key": "p/long", "value": "x" * 5990 + "0123456789"},
          {"key": "a b:c.d-e_f/g", "value": "spaces and: colons"},
          {"key": "lr", "value": "0.01"},
          {"key": "unicode", "value": "d\u00e9j\u00e0 vu \u2713"}]
params += [{"key": f"p{i:03d}", "value": str(i) * (i % 7)} for i in range(116)]
tags = [{"key": "t/long", "value": "y" * 7999 + "!"},
        {"key": "type", "value": "retraining"},
        {"key": "quote", "value": "it's \"quoted\"\nand multi-line"}]
with open(out, "w") as f:
    json.dump({"metrics": metrics, "params": params, "tags": tags}, f)
