#!/usr/bin/env bash
# mlf-synth, the test-data generator: same seed same bytes, every format
# written, and every format's boxes (read back with Python) equal --truth.
. "$(dirname "$0")/lib.sh"

tree_sum() {  # sha256 over every file's relative path and bytes
	(cd "$1" && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
}
gen() {  # gen DIR SEED
	mlf-synth base "$1/base" --images 12 --seed "$2" --truth "$1/base.truth.json" 2>/dev/null &&
	mlf-synth corrections "$1/corr" --count 16 --format mixed --seed "$2" --truth "$1/corr.truth.json" 2>/dev/null
}

gen "$T/a" 1; check_eq "generator exits 0" "$?" 0
sum1=$(tree_sum "$T/a")
rm -rf "$T/a"; gen "$T/a" 1
check_eq "the same seed gives identical bytes" "$(tree_sum "$T/a")" "$sum1"
gen "$T/b" 2
check "another seed gives other bytes" test "$(tree_sum "$T/b")" != "$sum1"

C=$T/a/corr
check "native corrections written" grep -q '"mlf.correction"' "$C/corr_000000.json"
check "YOLO corrections written" test -s "$C/corr_000001.txt"
check "a COCO export written" test -s "$C/coco_0/annotations.json"
check "a Label Studio export written" test -s "$C/ls_0/export.json"
check_eq "JPEG and PNG alternate (8 of each)" \
	"$(ls "$C"/*.jpg "$C"/*.png "$C"/coco_0/images/* "$C"/ls_0/* | sed -n 's/.*\.\(jpg\|png\)$/\1/p' | sort | uniq -c | awk '{print $1}' | tr '\n' ' ')" "8 8 "

mlf-synth corrections "$T/c" --count 2 --start 100 --format yolo --seed 1 2>/dev/null
check "--start makes new names" test -f "$T/c/corr_000100.txt"
check "--start makes new pictures" sh -c "! cmp -s '$T/c/corr_000100.jpg' '$C/corr_000000.jpg'"

"$PY" - "$T/a" >"$T/py.txt" 2>&1 <<'PY'
import json, os, struct, sys, yaml

root = sys.argv[1]
problems = []

def size_of(path):
    b = open(path, "rb").read()
    if b[:8] == b"\x89PNG\r\n\x1a\n":
        return "png", struct.unpack(">II", b[16:24])
    if b[:3] != b"\xff\xd8\xff":
        return "?", (0, 0)
    i = 2
    while i < len(b):
        marker, length = b[i + 1], struct.unpack(">H", b[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", b[i + 5:i + 9])
            return "jpeg", (w, h)
        i += 2 + length
    return "?", (0, 0)

def near(a, b):
    return len(a) == len(b) and all(x[0] == y[0] and all(abs(p - q) <= 1e-6 for p, q in zip(x[1:], y[1:]))
                                    for x, y in zip(sorted(a), sorted(b)))

def from_yolo(txt, names):
    return [(names[int(r[0])], float(r[1]), float(r[2]), float(r[3]), float(r[4]))
            for r in (l.split() for l in open(txt).read().splitlines() if l)]

def norm(boxes, W, H):  # truth xyxy pixels -> (class, cx, cy, w, h) normalised
    return [(b["class"], (b["xyxy"][0] + b["xyxy"][2]) / 2 / W, (b["xyxy"][1] + b["xyxy"][3]) / 2 / H,
             (b["xyxy"][2] - b["xyxy"][0]) / W, (b["xyxy"][3] - b["xyxy"][1]) / H) for b in boxes]

# Base dataset: data.yaml as Ultralytics reads it, labels equal the truth.
data = yaml.safe_load(open(f"{root}/base/data.yaml"))
names = data["names"]
if data["path"] != f"{root}/base" or data["train"] != "images/train" or data["val"] != "images/val":
    problems.append(f"data.yaml paths {data}")
if names != {0: "circle", 1: "square", 2: "triangle"} or data["nc"] != 3:
    problems.append(f"data.yaml names {data}")
truth = json.load(open(f"{root}/base.truth.json"))["images"]
splits = [t["split"] for t in truth]
if len(truth) != 12 or splits.count("val") != 3:
    problems.append(f"base split {splits}")
by_path = {}
for t in truth:
    by_path[os.path.realpath(t["path"])] = t
    kind, (w, h) = size_of(t["path"])
    if (w, h) != (t["width"], t["height"]) or (w, h) != (160, 120):
        problems.append(f"{t['path']}: {kind} {w}x{h}")
    if not 1 <= len(t["boxes"]) <= 4:
        problems.append(f"{t['path']}: {len(t['boxes'])} boxes")
    for b in t["boxes"]:
        x1, y1, x2, y2 = b["xyxy"]
        if not (0 <= x1 < x2 <= t["width"] and 0 <= y1 < y2 <= t["height"]):
            problems.append(f"{t['path']}: box outside {b}")
    lab = t["path"].replace("/images/", "/labels/").rsplit(".", 1)[0] + ".txt"
    if not near(from_yolo(lab, names), norm(t["boxes"], t["width"], t["height"])):
        problems.append(f"{lab} != truth")

# Corrections: each format read back to pixels equals the truth.
truth = {os.path.realpath(t["path"]): t for t in json.load(open(f"{root}/corr.truth.json"))["images"]}
got = {}
C = f"{root}/corr"
for f in sorted(os.listdir(C)):
    p = os.path.join(C, f)
    if f.endswith(".json"):
        d = json.load(open(p))
        got[os.path.realpath(os.path.join(C, d["image"]))] = [(b["class"], *b["xyxy"]) for b in d["boxes"]]
    elif f.endswith(".txt"):
        img = [x for x in os.listdir(C) if x.startswith(f[:-4] + ".") and not x.endswith(".txt")][0]
        t = truth[os.path.realpath(os.path.join(C, img))]
        W, H = t["width"], t["height"]
        got[os.path.realpath(os.path.join(C, img))] = [
            (n, (cx - w / 2) * W, (cy - h / 2) * H, (cx + w / 2) * W, (cy + h / 2) * H)
            for n, cx, cy, w, h in from_yolo(p, names)]
coco = json.load(open(f"{C}/coco_0/annotations.json"))
cats = {c["id"]: c["name"] for c in coco["categories"]}
for im in coco["images"]:
    got[os.path.realpath(f"{C}/coco_0/{im['file_name']}")] = [
        (cats[a["category_id"]], a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3])
        for a in coco["annotations"] if a["image_id"] == im["id"]]
for task in json.load(open(f"{C}/ls_0/export.json")):
    rs = task["annotations"][0]["result"]
    got[os.path.realpath(f"{C}/ls_0/" + os.path.basename(task["data"]["image"]))] = [
        (r["value"]["rectanglelabels"][0], r["value"]["x"] * r["original_width"] / 100,
         r["value"]["y"] * r["original_height"] / 100,
         (r["value"]["x"] + r["value"]["width"]) * r["original_width"] / 100,
         (r["value"]["y"] + r["value"]["height"]) * r["original_height"] / 100) for r in rs]
if sorted(got) != sorted(truth):
    problems.append(f"corrections found {sorted(got)} but the truth lists {sorted(truth)}")
for p, t in truth.items():
    want = [(b["class"], *b["xyxy"]) for b in t["boxes"]]
    if not near(got.get(p, []), want):
        problems.append(f"{p}: {got.get(p)} != truth {want}")
    if size_of(p)[1] != (t["width"], t["height"]):
        problems.append(f"{p}: size {size_of(p)}")
    # normalised to 6 decimals, every box is exact: what retrain-prep writes loses nothing
    for n, cx, cy, w, h in norm(t["boxes"], t["width"], t["height"]):
        if any(abs(v - round(v, 6)) > 1e-9 for v in (cx, cy, w, h)):
            problems.append(f"{p}: box not on the 1e-6 grid")
fmts = sorted({t["format"] for t in truth.values()})
if fmts != ["coco", "labelstudio", "mlf", "yolo"]:
    problems.append(f"formats {fmts}")
for pr in problems:
    print("PROBLEM", pr)
print("ok" if not problems else "mismatch")
PY
check "data.yaml, labels and every format read by Python equal the truth" test "$(tail -1 "$T/py.txt")" = ok
[ "$(tail -1 "$T/py.txt")" = ok ] || head -20 "$T/py.txt"

mlf-synth corrections "$T/d" --count 3 --classes cat,dog,bird,"no" --format coco --seed 1 2>/dev/null
check_grep "--classes names the categories" '"bird"' "$T/d/coco_0/annotations.json"
mlf-synth base "$T/e" --images 3 --classes cat,dog,bird,"no" 2>/dev/null
check_eq "a YAML-special class name is quoted" \
	"$("$PY" -c 'import yaml,sys; print(yaml.safe_load(open(sys.argv[1]))["names"][3])' "$T/e/data.yaml")" no
check_status 64 "unknown command is a usage error" mlf-synth frobnicate "$T/x" 2>/dev/null
check_status 64 "a bad --size is a usage error" mlf-synth base "$T/x" --size 10 2>/dev/null
check_status 64 "--count is not a base option" mlf-synth base "$T/x" --count 3 2>/dev/null
check_status 64 "a missing folder argument is a usage error" mlf-synth corrections 2>/dev/null
touch "$T/file"
check_status 73 "an uncreatable folder exits 73" mlf-synth base "$T/file/sub" 2>/dev/null
mlf-synth --help >"$T/help.txt"
check_grep "--help prints usage" "usage: mlf-synth" "$T/help.txt"

finish
