#!/usr/bin/env bash
# retrain-prep options: a fixed holdout, base images copied or linked into the
# version, and a different seed reshuffling the split.
. "$(dirname "$0")/lib.sh"

W=$T/ws
mkdir -p "$W"
printf 'checks:\n  min_corrections: 1\n' >"$W/mlf.yaml"
mlf-synth base "$W/data/base" --images 10 --seed 1 2>/dev/null
mlf-synth corrections "$W/data/corrections" --count 20 --format yolo --seed 2 2>/dev/null
field() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d"+sys.argv[2]))' "$@"; }
splits() {  # image file name -> split, from a version's corrections_applied.json
	"$PY" -c 'import json,sys; [print(c["image"].split("_",1)[1], c["split"]) for c in json.load(open(sys.argv[1]))["corrections"]]' "$1" | sort
}

retrain-prep -C "$W" -q >"$T/v1.json"
check_eq "v1 made" "$(field "$T/v1.json" '["version"]')" v1
train_img=$(splits "$W/data/retrain_v1/corrections_applied.json" | awk '$2=="train"{print $1; exit}')
check "some corrected image is in train" test -n "$train_img"

# A holdout by file name moves it to val, everything else stays put.
echo "$train_img" >"$T/holdout.txt"
retrain-prep -C "$W" -q -m 0 --holdout "$T/holdout.txt" >"$T/v2.json"
check_eq "the held-out image is in val" "$(splits "$W/data/retrain_v2/corrections_applied.json" | awk -v n="$train_img" '$1==n{print $2}')" val
check_eq "only that image changed sides" \
	"$(diff <(splits "$W/data/retrain_v1/corrections_applied.json") <(splits "$W/data/retrain_v2/corrections_applied.json") | grep -c '^>')" 1
check_grep "the metadata records the holdout" "holdout.txt" "$W/data/retrain_v2/retraining_dataset_metadata.json"

# Another seed reshuffles (and is recorded).
retrain-prep -C "$W" -q -m 0 --seed 7 >"$T/v3.json"
check "a different seed moves some images" test "$(diff <(splits "$W/data/retrain_v1/corrections_applied.json") <(splits "$W/data/retrain_v3/corrections_applied.json") | grep -c '^>')" -gt 0
check_eq "the seed is recorded" "$(field "$W/data/retrain_v3/retraining_dataset_metadata.json" '["seed"]')" 7

# Base images copied into the version: listed relative, present, same bytes.
retrain-prep -C "$W" -q -m 0 --base-mode copy >"$T/v4.json"
V4=$W/data/retrain_v4
check_eq "copy mode puts the 10 base images in the version" "$(ls "$V4"/images/*/base_* | wc -l)" 10
check_eq "and their labels" "$(ls "$V4"/labels/*/base_* | wc -l)" 10
check "no absolute paths in its lists" sh -c "! grep -q '^/' '$V4/train.txt' '$V4/val.txt'"
check_eq "same digest as by reference (content, not place, counts)" \
	"$(field "$T/v4.json" '["digest"]')" "$(field "$T/v1.json" '["digest"]')"
retrain-prep -C "$W" -q -m 0 --base-mode link >"$T/v5.json"
first=$(ls "$W"/data/retrain_v5/images/train/base_* | head -1)
check "link mode hard-links base images" test "$(stat -c %h "$first")" -ge 2
retrain-prep -C "$W" -m 0 --base-mode sideways >/dev/null 2>&1
check_eq "an unknown base mode is a configuration error" "$?" 78

finish
