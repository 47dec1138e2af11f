"""Check a dataset version made by retrain-prep, with Python's own yaml module.

usage: prep_check.py VERSION_DIR TRUTH_JSON [TRUTH_JSON...]
Checks that data.yaml loads and lists the base classes; that every image in
train.txt/val.txt exists; that each corrected image's label file, read back
to pixels, equals the generator's true boxes (to 1e-6 px); that metadata
counts agree with the files. Prints "ok" last when everything holds.
"""
import hashlib
import json
import os
import sys

import yaml

vdir, truth_files = sys.argv[1], sys.argv[2:]
problems = []

data = yaml.safe_load(open(os.path.join(vdir, "data.yaml")))
names = data["names"]
if data["path"] != vdir or data["train"] != "train.txt" or data["val"] != "val.txt":
    problems.append(f"data.yaml paths: {data}")
if data["nc"] != len(names) or sorted(names) != list(range(len(names))):
    problems.append(f"data.yaml names/nc: {data}")

truth = {}
for tf in truth_files:
    for img in json.load(open(tf))["images"]:
        sha = hashlib.sha256(open(img["path"], "rb").read()).hexdigest()
        truth[sha] = img

applied = json.load(open(os.path.join(vdir, "corrections_applied.json")))
meta = json.load(open(os.path.join(vdir, "retraining_dataset_metadata.json")))
listed = {}
for split in ("train", "val"):
    for line in open(os.path.join(vdir, f"{split}.txt")).read().split():
        path = os.path.normpath(os.path.join(vdir, line)) if line.startswith("./") else line
        if not os.path.isfile(path):
            problems.append(f"{split}.txt lists missing {path}")
        listed[path] = split

name_of = {i: n for i, n in names.items()}
matched = 0
for c in applied["corrections"]:
    img = os.path.join(vdir, c["image"])
    if listed.get(img) != c["split"]:
        problems.append(f"{c['image']} not listed in {c['split']}.txt")
    t = truth.get(c["image_sha256"])
    if t is None:
        continue
    stem = os.path.splitext(c["image"].replace("images/", "labels/", 1))[0]
    rows = [r.split() for r in open(os.path.join(vdir, stem + ".txt")).read().splitlines() if r]
    W, H = t["width"], t["height"]
    got = sorted((name_of[int(r[0])], round((float(r[1]) - float(r[3]) / 2) * W, 6),
                  round((float(r[2]) - float(r[4]) / 2) * H, 6),
                  round((float(r[1]) + float(r[3]) / 2) * W, 6),
                  round((float(r[2]) + float(r[4]) / 2) * H, 6)) for r in rows)
    want = sorted((b["class"], *[round(v, 6) for v in b["xyxy"]]) for b in t["boxes"])
    close = len(got) == len(want) and all(
        g[0] == w[0] and all(abs(a - b) <= 1e-6 for a, b in zip(g[1:], w[1:])) for g, w in zip(got, want))
    if not close:
        problems.append(f"{c['image']}: labels {got} != truth {want}")
    matched += 1

counts = meta["counts"]
if counts["corrections"] != len(applied["corrections"]):
    problems.append(f"metadata counts {counts['corrections']} != {len(applied['corrections'])} applied")
if meta["digest"] != json.load(open(os.path.join(vdir, "retraining_dataset_metadata.json")))["digest"]:
    problems.append("digest unstable")
print(f"{len(applied['corrections'])} corrections, {matched} compared with the truth, "
      f"{len(listed)} images listed")
for p in problems:
    print("PROBLEM", p)
print("ok" if not problems and matched == len(applied["corrections"]) else "mismatch")
