#!/usr/bin/env bash
# Bad corrections: every problem listed with its file and field, exit 65, and
# nothing written; --skip-bad leaves them out and records why.
. "$(dirname "$0")/lib.sh"

# small_workspace DIR N: 8 base images and N corrections, one new correction enough
small_workspace() {
	mkdir -p "$1"
	printf 'checks:\n  min_corrections: 1\n' >"$1/mlf.yaml"
	mlf-synth base "$1/data/base" --images 8 --seed 1 2>/dev/null
	mlf-synth corrections "$1/data/corrections" --count "$2" --format mlf --seed 5 2>/dev/null
}
W=$T/ws
C=$W/data/corrections
small_workspace "$W" 10
cls=$(ls "$C"/*.json | head -1)
cls_name=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["boxes"][0]["class"])' "$cls")

edit() {  # edit FILE PYTHON-EXPRESSION-ON-d
	"$PY" - "$1" "$2" <<'PY'
import json, sys
p, expr = sys.argv[1], sys.argv[2]
d = json.load(open(p))
exec(expr)
json.dump(d, open(p, "w"))
PY
}
files=($(ls "$C"/*.json))
img_of() { "$PY" -c 'import json,sys,os; p=sys.argv[1]; print(os.path.join(os.path.dirname(p), json.load(open(p))["image"]))' "$1"; }

# 1 corrupt image (truncated), 2 declared size wrong, 3 box far outside, 4 degenerate box,
# 5 unknown class, 6 path escaping the folder, 7 image missing, 8 small overshoot (clipped: fine),
# 9 a duplicate of 0's image (counted once: fine).
truncate -s 200 "$(img_of "${files[1]}")"
edit "${files[2]}" 'd["width"] += 7'
edit "${files[3]}" 'd["boxes"][0]["xyxy"][2] = d["width"] + 500'
edit "${files[4]}" 'b = d["boxes"][0]["xyxy"]; b[2] = b[0]'
edit "${files[5]}" 'd["boxes"][0]["class"] = "unicorn"'
edit "${files[6]}" 'd["image"] = "../../outside.jpg"'
cp "$(img_of "${files[0]}")" "$W/outside.jpg"
edit "${files[7]}" 'd["image"] = "gone.jpg"'
edit "${files[8]}" 'd["boxes"][0]["xyxy"][0] = -1.0'
img0=$(img_of "${files[0]}"); cp "$img0" "$C/dup_copy.${img0##*.}"
edit "${files[9]}" "d[\"image\"] = \"$(basename "$(img_of "${files[0]}")")\""

retrain-prep -C "$W" >"$T/out.json" 2>"$T/err.txt"
check_eq "bad corrections exit 65" "$?" 65
check "nothing on stdout" test ! -s "$T/out.json"
check "no version written" sh -c "! ls -a '$W/data' | grep -q retrain_v"
check_grep "the summary counts the problems" "7 problems" "$T/err.txt"
for i in 1 2 3 4 5 6 7; do
	check_grep "problem $i names its file" "$(basename "${files[$i]}")" "$T/err.txt"
done
check_grep "corrupt image explained" "$(basename "${files[1]}").*image" "$T/err.txt"
check_grep "wrong size explained" "declares" "$T/err.txt"
check_grep "box outside explained" "outside the" "$T/err.txt"
check_grep "degenerate box explained" "degenerate" "$T/err.txt"
check_grep "unknown class named" "unicorn" "$T/err.txt"
grep -q "$(basename "${files[8]}")" "$T/err.txt"; check_eq "a 1-pixel overshoot is clipped, not refused" "$?" 1

retrain-prep -C "$W" --skip-bad >"$T/skip.json" 2>"$T/skip.err"
check_eq "--skip-bad exits 0" "$?" 0
check_eq "--skip-bad keeps the good image (corrected twice, counted once) and the clipped one" \
	"$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["corrections"])' "$T/skip.json")" 2
check_eq "and records the 7 left out" \
	"$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["skipped"]))' "$W/data/retrain_v1/corrections_applied.json")" 7
check_eq "one duplicate counted" \
	"$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["duplicates"])' "$T/skip.json")" 1

# A correction file whose name is not UTF-8: refused with the name shown escaped; with
# --skip-bad recorded, escaped, among the skipped (it used to be trained on, unlisted).
W3=$T/ws3
C3=$W3/data/corrections
small_workspace "$W3" 3
mv "$(ls "$C3"/*.json | head -1)" "$C3/bad$(printf '\377').json"
retrain-prep -C "$W3" >/dev/null 2>"$T/u.err"
check_eq "a name that is not UTF-8 exits 65" "$?" 65
check_grep "... shown escaped, with the reason" 'bad\\xff\.json: the file name is not valid UTF-8' "$T/u.err"
retrain-prep -C "$W3" --skip-bad >"$T/u.json" 2>/dev/null
check_eq "--skip-bad exits 0" "$?" 0
check_eq "... trains on the other two" \
	"$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["corrections"])' "$T/u.json")" 2
check_eq "... and records the escaped name among the skipped" \
	"$("$PY" -c 'import json,sys; print([s["file"] for s in json.load(open(sys.argv[1]))["skipped"]])' "$W3/data/retrain_v1/corrections_applied.json")" \
	"['bad\\\\xff.json']"

# Missing inputs.
retrain-prep -C "$W" -i "$W/nope" >/dev/null 2>"$T/nope.err"
check_eq "missing corrections folder exits 66" "$?" 66
retrain-prep -C "$W" -b "$W/nope.yaml" >/dev/null 2>"$T/nobase.err"
check_eq "missing base data.yaml exits 66" "$?" 66
check_grep "message names it" "nope.yaml" "$T/nobase.err"
retrain-prep -C "$W" --val-fraction 2 >/dev/null 2>&1
check_eq "val fraction out of range is a configuration error" "$?" 78

finish
