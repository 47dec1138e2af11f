#!/usr/bin/env bash
# retrain-prep as a user runs it: generated base data and corrections in every
# format, a first version, a quiet skip, a second version with five more,
# split stability, the digest, the lock, and data.yaml/labels read by Python.
. "$(dirname "$0")/lib.sh"

W=$T/ws
mkdir -p "$W"
printf 'checks:\n  min_corrections: 5\n' >"$W/mlf.yaml"
mlf-synth base "$W/data/base" --images 24 --seed 1 2>/dev/null
mlf-synth corrections "$W/data/corrections" --count 12 --format mixed --seed 2 --truth "$T/truth1.json" 2>/dev/null
check "generator made base data and corrections" test -f "$W/data/base/data.yaml" -a -s "$T/truth1.json"
prep() { retrain-prep -C "$W" "$@"; }
field() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d"+sys.argv[2]))' "$@"; }

# First version.
prep >"$T/v1.json" 2>"$T/v1.err"
check_eq "first run exits 0" "$?" 0
check_eq "it is version v1" "$(field "$T/v1.json" '["version"]')" v1
V1=$W/data/retrain_v1
check_eq "all 12 corrections applied" "$(field "$T/v1.json" '["counts"]["corrections"]')" 12
check_eq "all 12 are new" "$(field "$T/v1.json" '["counts"]["new_corrections"]')" 12
check_eq "24 base images mixed in" \
	"$(( $(field "$T/v1.json" '["counts"]["train"]["base_images"]') + $(field "$T/v1.json" '["counts"]["val"]["base_images"]') ))" 24
py prep_check.py "$V1" "$T/truth1.json" >"$T/check1.txt" 2>&1
check "data.yaml and labels read by Python match the true boxes" test "$(tail -1 "$T/check1.txt")" = ok
[ "$(tail -1 "$T/check1.txt")" = ok ] || cat "$T/check1.txt"
check "summary on stderr names the version" grep -q "retrain_v1" "$T/v1.err"
check "no temporary folder left" sh -c "! ls -a '$W/data' | grep -q tmp"
(cd "$V1" && sha256sum --quiet -c base_images.sha256) >/dev/null 2>&1
check_eq "base_images.sha256 verifies with sha256sum -c" "$?" 0

# Nothing new: a skip document, exit 0, nothing written.
prep >"$T/skip.json" 2>/dev/null
check_eq "second run with nothing new exits 0" "$?" 0
check_eq "it prints a skip document" "$(field "$T/skip.json" '["kind"]')" mlf.skip
check_eq "skip says 0 new" "$(field "$T/skip.json" '["new_corrections"]')" 0
check "no retrain_v2 created" test ! -e "$W/data/retrain_v2"

# Four more is still below the threshold; a fifth makes v2.
mlf-synth corrections "$W/data/corrections" --count 4 --start 100 --format mlf --seed 3 --truth "$T/truth2.json" 2>/dev/null
prep -q >"$T/skip2.json"; check_eq "4 new corrections: skip (exit 0)" "$(field "$T/skip2.json" '["new_corrections"]')" 4
mlf-synth corrections "$W/data/corrections" --count 1 --start 200 --format yolo --seed 4 --truth "$T/truth3.json" 2>/dev/null
prep -q >"$T/v2.json"
check_eq "5 new corrections make v2" "$(field "$T/v2.json" '["version"]')" v2
check_eq "v2 holds all 17" "$(field "$T/v2.json" '["counts"]["corrections"]')" 17
check_eq "of which 5 new" "$(field "$T/v2.json" '["counts"]["new_corrections"]')" 5
V2=$W/data/retrain_v2
py prep_check.py "$V2" "$T/truth1.json" "$T/truth2.json" "$T/truth3.json" >"$T/check2.txt" 2>&1
check "v2 labels match the truth" test "$(tail -1 "$T/check2.txt")" = ok
"$PY" - "$V1" "$V2" >"$T/stable.txt" <<'PY'
import json, sys
a = {c["image_sha256"]: c["split"] for c in json.load(open(sys.argv[1] + "/corrections_applied.json"))["corrections"]}
b = {c["image_sha256"]: c["split"] for c in json.load(open(sys.argv[2] + "/corrections_applied.json"))["corrections"]}
moved = [k for k in a if b.get(k) != a[k]]
print("ok" if a and not moved else f"moved: {moved}")
PY
check "no image moved between train and val from v1 to v2" test "$(cat "$T/stable.txt")" = ok
check "v1 is untouched (immutable)" sh -c "(cd '$V1' && sha256sum --quiet -c base_images.sha256) && test \$(ls '$V1/images/train' '$V1/images/val' | grep -c .) -ge 12"

# The digest depends on the images and labels, and on nothing else.
prep -q -m 0 >"$T/v3.json"
check_eq "same inputs, same digest" "$(field "$T/v3.json" '["digest"]')" "$(field "$T/v2.json" '["digest"]')"
first_mlf=$(ls "$W/data/corrections"/corr_000100.json)
"$PY" - "$first_mlf" <<'PY'
import json, sys
p = sys.argv[1]; d = json.load(open(p))
d["boxes"][0]["xyxy"][0] += 1.0
json.dump(d, open(p, "w"))
PY
prep -q -m 0 >"$T/v4.json"
check "a changed box changes the digest" test "$(field "$T/v4.json" '["digest"]')" != "$(field "$T/v3.json" '["digest"]')"
check_eq "and counts as one new correction" "$(field "$T/v4.json" '["counts"]["new_corrections"]')" 1
base_label=$(ls "$W"/data/base/labels/train/*.txt | head -1)
echo "0 0.5 0.5 0.1 0.1" >>"$base_label"
prep -q -m 0 >"$T/v5.json"
check "a changed base label changes the digest" test "$(field "$T/v5.json" '["digest"]')" != "$(field "$T/v4.json" '["digest"]')"
(cd "$W/data/retrain_v4" && sha256sum --quiet -c base_images.sha256) >/dev/null 2>&1
check_eq "and the older version's manifest detects the drift" "$?" 1

# Two runs at once get different numbers; --no-wait gives up with 75 on a held lock.
prep -q -m 0 >"$T/a.json" & pa=$!
prep -q -m 0 >"$T/b.json" & pb=$!
wait $pa; ra=$?; wait $pb; rb=$?
check_eq "concurrent runs both succeed" "$ra$rb" 00
check "and got different versions" test "$(field "$T/a.json" '["version"]')" != "$(field "$T/b.json" '["version"]')"
flock "$W/data/.retrain-prep.lock" sleep 3 & holder=$!
sleep 0.5
prep -q -m 0 --no-wait >/dev/null 2>"$T/busy.err"
check_eq "--no-wait on a held lock exits 75" "$?" 75
check_grep "and says the lock is held" "locked" "$T/busy.err"
wait $holder

finish
