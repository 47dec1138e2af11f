#!/usr/bin/env bash
# The training engine on generated data, through mlf-train: a tiny YOLOv8
# trained from fresh weights learns (its class and DFL losses fall, its mAP50
# rises far above what the untrained model scores), leaves Ultralytics' files, its
# best.pt reloads and scores what the training reported, and a training
# stopped by SIGTERM resumes to exactly the uninterrupted run's results.
# needs: libtorch training
. "$(dirname "$0")/lib.sh"

BASE=$ROOT/tests/fixtures/ckpt/yolov8-tiny-train.pt   # architecture and class names only
mlf-synth base "$T/data" --images 80 --size 160x120 --seed 3 --classes cat,dog,person 2>/dev/null
DATA=$T/data/data.yaml
ARGS='{"epochs": 8, "imgsz": 96, "batch": 4, "nbs": 4, "workers": 2, "seed": 1, "pretrained": false,
       "optimizer": "AdamW", "lr0": 0.01, "warmup_epochs": 0, "mosaic": 0, "close_mosaic": 0}'
field() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d"+sys.argv[2]))' "$@"; }
train() { mlf-train --data "$DATA" --model "$BASE" --progress lines "$@"; }
# stop_training DIR PATTERN: a training into DIR, sent SIGTERM once its
# stderr shows PATTERN; returns its exit status.  (mlf-train itself runs in
# the background, not the shell function: the signal is for it.)
stop_training() {
	local pid
	mlf-train --data "$DATA" --model "$BASE" --progress lines --save-dir "$1" --args "$ARGS" \
		>"$1.json" 2>"$1.err" &
	pid=$!
	for _ in $(seq 3000); do grep -q "$2" "$1.err" 2>/dev/null && break; sleep 0.1; done
	kill -TERM "$pid"
	wait "$pid"
}

# An uninterrupted training.
train --save-dir "$T/a" --args "$ARGS" >"$T/a.json" 2>"$T/a.err"
check_eq "training exits 0" "$?" 0
[ -s "$T/a.json" ] || cat "$T/a.err"
check_eq "all 8 epochs ran" "$(field "$T/a.json" '["epochs_done"]')" 8
check "one progress line per epoch on a pipe" test "$(grep -c '^mlf-train: epoch [0-9]/8' "$T/a.err")" -eq 8
for f in args.yaml results.csv weights/best.pt weights/last.pt results.png labels.png BoxPR_curve.png \
	BoxF1_curve.png BoxP_curve.png BoxR_curve.png confusion_matrix.png confusion_matrix_normalized.png; do
	check "it left $f" test -s "$T/a/$f"
done
check "results.png is a 2400x1200 PNG" "$PY" -c "import struct,sys; b=open(sys.argv[1],'rb').read(24); sys.exit(not (b[:8]==b'\\x89PNG\\r\\n\\x1a\\n' and struct.unpack('>II', b[16:24])==(2400,1200)))" "$T/a/results.png"
check_eq "results.csv has Ultralytics' columns" "$(head -1 "$T/a/results.csv")" \
	"epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2"
check_eq "and a row per epoch" "$(($(wc -l <"$T/a/results.csv") - 1))" 8
check "args.yaml has every setting used" grep -qx 'optimizer: AdamW' "$T/a/args.yaml"
check "args.yaml names the save folder" grep -qx "save_dir: $T/a" "$T/a/args.yaml"

# It learned: the classification and DFL losses fall, mAP50 rises.  (Not the
# box loss: at 96 px from fresh weights in 8 epochs it moves with the batches
# as much as with learning.  With lr0 0 its epoch means still wandered by 7%;
# trained, over seeds 1-5 and either batch norm kernel, its last epoch was
# 1-11% below its first.  The other two fell 20-30%, and by 1% with lr0 0.)
"$PY" - "$T/a/results.csv" >"$T/learn.txt" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
first, last = rows[0], rows[-1]
for k in ("train/cls_loss", "train/dfl_loss"):
    print(k, "falls" if float(last[k]) < 0.9 * float(first[k]) else f"does not fall: {first[k]} -> {last[k]}")
PY
check "cls loss falls by 10%" grep -qx 'train/cls_loss falls' "$T/learn.txt"
check "dfl loss falls by 10%" grep -qx 'train/dfl_loss falls' "$T/learn.txt"
MAP_TRAINED=$(field "$T/a.json" '["final"]["mAP50"]')

# Stopped before its first epoch ends, a training leaves the untrained
# model as a resumable last.pt: what it scores is the baseline.
stop_training "$T/u" '^mlf-train: training'
check_eq "SIGTERM stops it with exit 130" "$?" 130
check_eq "it says it stopped" "$(field "$T/u.json" '["stopped"]')" True
check "and that last.pt resumes from epoch 0" grep -q 'holds epoch 0' "$T/u.err"
mlf-train --evaluate "$T/u/weights/last.pt" --data "$DATA" --args "$ARGS" >"$T/untrained.json"
MAP_UNTRAINED=$(field "$T/untrained.json" '["mAP50"]')
check "the untrained model scores mAP50 < 0.005 ($MAP_UNTRAINED)" \
	"$PY" -c "import sys; sys.exit(not float('$MAP_UNTRAINED') < 0.005)"
check "the trained one scores mAP50 > 0.02 ($MAP_TRAINED)" \
	"$PY" -c "import sys; sys.exit(not float('$MAP_TRAINED') > 0.02)"

# best.pt reloads and scores what the training's final validation reported.
mlf-train --evaluate "$T/a/weights/best.pt" --data "$DATA" --args "$ARGS" >"$T/best.json"
check_eq "best.pt reloads with the reported mAP50-95" "$(field "$T/best.json" '["mAP50-95"]')" \
	"$(field "$T/a.json" '["final"]["mAP50-95"]')"

# SIGTERM in epoch 4, then --resume: the same results as without the stop.
stop_training "$T/b" '^mlf-train: epoch 3/8'
check_eq "stopped in epoch 4 with exit 130" "$?" 130
check_eq "three epochs were saved" "$(field "$T/b.json" '["epochs_done"]')" 3
mlf-train --resume "$T/b/weights/last.pt" --progress none >"$T/b2.json" 2>"$T/b2.err"
check_eq "--resume finishes with exit 0" "$?" 0
check_eq "it finished epoch 8" "$(field "$T/b2.json" '["epochs_done"]')" 8
check_eq "resumed results equal the uninterrupted run's (time aside)" \
	"$(cut -d, -f1,3- "$T/b/results.csv" | sha256sum)" "$(cut -d, -f1,3- "$T/a/results.csv" | sha256sum)"
check_status 64 "resuming a finished training is refused" mlf-train --resume "$T/b/weights/last.pt" 2>/dev/null

# Bad input gets a clear error and writes nothing.
check_status 66 "a missing base model" train --save-dir "$T/x1" --model "$T/none.pt" 2>"$T/x1.err"
check "names the file" grep -q none.pt "$T/x1.err"
mlf-synth base "$T/other" --images 8 --seed 1 --classes a,b 2>/dev/null
check_status 65 "a dataset with other classes" mlf-train --data "$T/other/data.yaml" --model "$BASE" \
	--save-dir "$T/x2" 2>"$T/x2.err"
check "says which" grep -q "3 classes but" "$T/x2.err"
check_status 64 "an unknown setting" train --save-dir "$T/x3" --args '{"epoch": 3}' 2>"$T/x3.err"
check "names it" grep -q "epoch" "$T/x3.err"
check_status 73 "a folder that holds a training" train --save-dir "$T/a" --args "$ARGS" 2>/dev/null
check "nothing written for the refused runs" test ! -e "$T/x1/weights" -a ! -e "$T/x3"
exit "$_failures"
