"""Write a log-batch document for track-driver with the cases the REST tests need:
6000-character param values, keys with '/', 5,000+ metric points including NaN and
+-Infinity.  Usage: rest_batch.py OUT.json"""
import json
import sys

params = [{"key": "long/value", "value": "x" * 5990 + "0123456789"},
          {"key": "nested/a/b", "value": "it's \"quoted\" & <odd>"},
          {"key": "lr", "value": "0.001"}]
params += [{"key": "p%03d" % i, "value": str(i)} for i in range(120)]
tags = [{"key": "type", "value": "retraining"}, {"key": "team/owner", "value": "vision"},
        {"key": "long.tag", "value": "t" * 7000}]
metrics = []
for step in range(5200):
    v = 1.0 / (step + 1)
    if step == 10:
        v = "NaN"
    elif step == 11:
        v = "Infinity"
    elif step == 12:
        v = "-Infinity"
    metrics.append({"key": "train/loss", "value": v, "timestamp": 1700000000000 + step, "step": step})
for step in range(50):
    metrics.append({"key": "val/mAP50-95", "value": step * 0.01 + 1e-17, "timestamp": 1700000100000 + step,
                    "step": step})
metrics.append({"key": "tiny", "value": 5e-324, "timestamp": 1700000200000, "step": -3})
metrics.append({"key": "big", "value": -1.2345678901234567e300, "timestamp": 1700000200001, "step": 7})
json.dump({"metrics": metrics, "params": params, "tags": tags}, open(sys.argv[1], "w"))
