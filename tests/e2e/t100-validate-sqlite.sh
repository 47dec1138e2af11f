#!/usr/bin/env bash
# mlf-validate on the embedded SQLite store: --init, --probe, every failure
# class with its exit status, read back with the real MLflow client.
. "$(dirname "$0")/lib.sh"

W=$T/ws
mkdir -p "$W"
cat >"$W/mlf.yaml" <<'YAML'
experiment_id: "1"
experiment_name: nightly
checks:
  min_free_disk_mb: 1
YAML
DB=$W/runs/mlflow/mlflow.db
SKIP="--skip base_model,corrections"
v() { mlf-validate -C "$W" "$@"; }
# check_of NAME REPORT: that check's ok and detail, as one line
check_of() {
	"$PY" -c 'import json,sys
c=[c for c in json.load(open(sys.argv[2]))["checks"] if c["name"]==sys.argv[1]][0]
print(c["ok"], c["detail"])' "$1" "$2"
}

# Before --init: no database; the report says what to do; nothing is created.
v $SKIP >"$T/out.json" 2>"$T/err.txt"
check_eq "missing database exits 1" "$?" 1
check_grep "report names the missing database" "no MLflow database at $DB" "$T/out.json"
check_grep "hint says --init" 'run `mlf-validate --init`' "$T/out.json"
check_grep "summary on stderr" 'FAIL.*tracking_store' "$T/err.txt"
check "without --init no database is created" test ! -e "$DB"

# --init creates the exact experiment; a second --init changes nothing.
v --init $SKIP -q >/dev/null 2>"$T/init.err"
check_eq "--init succeeds" "$?" 0
check "-q --init says nothing on stderr (not even 'created experiment')" test ! -s "$T/init.err"
check_status 0 "--init is idempotent" v --init $SKIP -q
py sqlite_validate_read.py "$DB" experiment 1 nightly "file://$W/runs/mlflow/1" >"$T/exp.txt" 2>&1
check "MLflow client sees experiment 1 'nightly' at the configured location" test "$(tail -1 "$T/exp.txt")" = ok
check "--init made the corrections folder" test -d "$W/data/corrections"

# Another experiment id that does not exist: named, with the fix.
v -e 5 $SKIP >"$T/out.json" 2>/dev/null
check_eq "missing experiment exits 1" "$?" 1
check_grep "report names the missing experiment" '"experiment 5 not found' "$T/out.json"
check_grep "report says where the id came from" 'experiment_id from command line' "$T/out.json"

# The probe logs, reads back and removes its run.
v --probe $SKIP >"$T/probe.json" 2>/dev/null
check_eq "--probe exits 0" "$?" 0
check_grep "report says the probe passed" '"name":"probe","ok":true' "$T/probe.json"
run_id=$(grep -o 'run [0-9a-f]\{32\}' "$T/probe.json" | head -1 | cut -d' ' -f2)
py sqlite_validate_read.py "$DB" probe-removed "$run_id" >"$T/probe.txt" 2>&1
check "MLflow sees the probe run deleted, FINISHED, param logged" test "$(tail -1 "$T/probe.txt")" = ok
check "probe artifacts removed from disk" test ! -e "$W/runs/mlflow/1/$run_id"

# --silent prints nothing at all; -q (as in every program) only drops the summary.
v --silent $SKIP >"$T/q.out" 2>"$T/q.err"
check_eq "--silent exit 0" "$?" 0
check "--silent prints nothing" test ! -s "$T/q.out" -a ! -s "$T/q.err"
v -q $SKIP >"$T/q.out" 2>"$T/q.err"
check_eq "-q exit 0" "$?" 0
check_eq "-q still prints the report" "$(json_get "$T/q.out" kind)" mlf.validation
check "-q prints no summary" test ! -s "$T/q.err"
v --silent -s experiment_id=77 $SKIP >"$T/q.out" 2>"$T/q.err"
check_eq "--silent: a failed check still exits 1" "$?" 1
check "--silent: ... and prints nothing" test ! -s "$T/q.out" -a ! -s "$T/q.err"

# Output that cannot be written is an error, not a silent success.
check_status 74 "stdout on /dev/full exits 74" v $SKIP >/dev/full 2>/dev/null

# Workspace checks: base model must be a checkpoint, corrections must be enough.
mkdir -p "$W/models"
echo "not a checkpoint" >"$W/models/best_improved.pt"
v -q --skip corrections; check_eq "a non-zip base model fails" "$?" 1
# The base model is read whole, as retrain-run reads it: each of these fails the check,
# with the reason in the report.
FIX=$ROOT/tests/fixtures/ckpt/yolov8-tiny-base.pt
head -c 100000 "$FIX" >"$W/models/best_improved.pt"
v --skip corrections >"$T/b.json" 2>/dev/null; check_eq "a truncated checkpoint fails" "$?" 1
check_grep "... naming the damage" '"name":"base_model","ok":false,"detail":"base model: ' "$T/b.json"
"$PY" - "$W/models/best_improved.pt" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("archive/data.pkl", b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00true\x85R.")
    z.writestr("archive/version", b"3\n")
PY
v --skip corrections >"$T/b.json" 2>/dev/null; check_eq "a pickle naming posix.system fails" "$?" 1
check_eq "... naming the global" "$(check_of base_model "$T/b.json" | grep -o 'names the global posix.system')" \
	"names the global posix.system"
"$PY" - "$W/models/best_improved.pt" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("archive/data.pkl", b"garbage, not a pickle")
    z.writestr("archive/version", b"3\n")
PY
v --skip corrections >"$T/b.json" 2>/dev/null; check_eq "a zip holding no pickle fails" "$?" 1
cp "$FIX" "$W/models/best_improved.pt"
v --skip corrections >"$T/b.json" 2>/dev/null; check_eq "the genuine checkpoint passes" "$?" 0
check_eq "... described by the check" "$(check_of base_model "$T/b.json")" \
	"True $W/models/best_improved.pt ($(stat -c %s "$FIX") bytes): a detector of 3 classes, 355 tensors"
v --skip base_model >"$T/nobase.json" 2>/dev/null; check_eq "no base dataset: the corrections check fails" "$?" 1
check_grep "and says the class names are needed" "cannot read the class names" "$T/nobase.json"
mlf-synth base "$W/data/base" --images 6 2>/dev/null
mlf-synth corrections "$W/data/corrections" --count 3 --format coco 2>/dev/null
mlf-synth corrections "$W/data/corrections" --count 1 --start 10 --format mlf 2>/dev/null
v --skip base_model >"$T/c.json" 2>/dev/null; check_eq "4 of 5 corrections fails" "$?" 1
check_grep "report counts corrections as retrain-prep reads them (3 in one COCO file)" '4 correction(s)' "$T/c.json"
mlf-synth corrections "$W/data/corrections" --count 1 --start 20 --format labelstudio 2>/dev/null
check_status 0 "with 5 corrections and a checkpoint every check passes" v -q

# Configuration errors: 78, naming the line.
cp "$W/mlf.yaml" "$T/good.yaml"
printf 'experiment_id: "1"\nchecks:\n  min_corrections: lots\n' >"$W/mlf.yaml"
v >"$T/bad.out" 2>"$T/bad.err"; check_eq "malformed mlf.yaml exits 78" "$?" 78
check_grep "message names file, line and key" 'mlf.yaml:3: checks.min_corrections' "$T/bad.err"
check "nothing on stdout on a config error" test ! -s "$T/bad.out"
printf 'experiment_idd: "1"\n' >"$W/mlf.yaml"
v 2>"$T/bad.err" >/dev/null; check_eq "unknown key exits 78" "$?" 78
check_grep "unknown key named" "unknown configuration key 'experiment_idd'" "$T/bad.err"
cp "$T/good.yaml" "$W/mlf.yaml"

# Usage errors.
check_status 64 "unknown option exits 64" v --no-such-flag 2>/dev/null
check_status 64 "unknown check in --skip exits 64" v --skip nope 2>/dev/null
v --help >"$T/help.txt"; check_eq "--help exits 0" "$?" 0
check_grep "--help documents exit statuses" 'Exit status' "$T/help.txt"

# Artifact location other than the configured one.
v -q -s artifact_location=file:///elsewhere/1; check_eq "different artifact location exits 1" "$?" 1
v -s artifact_location=file:///elsewhere/1 2>/dev/null | grep -q "stores artifacts at 'file://$W/runs/mlflow/1'"
check_eq "report shows both locations" "$?" 0

# A read-only artifact folder (as an unprivileged user when running as root).
chmod 755 "$T"
chmod -R a+rX "$W"
chmod a+w "$DB" "$(dirname "$DB")"
chmod 555 "$W/runs/mlflow/1"
if [ "$(id -u)" -eq 0 ]; then
	as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
else
	as_user() { "$@"; }
fi
as_user env HOME=/tmp "$MLF_BIN/mlf-validate" -C "$W" --skip base_model,corrections,workspace_writable >"$T/ro.json" 2>/dev/null
check_eq "read-only artifact folder exits 1" "$?" 1
check_grep "report names the folder" '"name":"artifact_writable","ok":false' "$T/ro.json"
chmod 755 "$W/runs/mlflow/1"

# A SQLite store this user cannot write answers reads, but no run could be recorded
# in it: the database file, then its folder (where SQLite keeps its journal).
RO_SKIP=base_model,corrections,workspace_writable,artifact_writable
chmod a-w "$DB"
as_user env HOME=/tmp "$MLF_BIN/mlf-validate" -C "$W" --skip $RO_SKIP >"$T/rodb.json" 2>/dev/null
check_eq "read-only SQLite database exits 1" "$?" 1
check_eq "the store check names the database" "$(check_of tracking_store "$T/rodb.json")" \
	"False the SQLite store $DB answers, but $DB is not writable by this user: retrain-run could not record a run"
chmod a+w "$DB"
chmod a-w "$(dirname "$DB")"
as_user env HOME=/tmp "$MLF_BIN/mlf-validate" -C "$W" --skip $RO_SKIP >"$T/rodb.json" 2>/dev/null
check_eq "read-only SQLite folder exits 1" "$?" 1
check_eq "the store check names the folder" "$(check_of tracking_store "$T/rodb.json")" \
	"False the SQLite store $DB answers, but $(dirname "$DB") is not writable by this user: retrain-run could not record a run"
chmod a+w "$(dirname "$DB")"
as_user env HOME=/tmp "$MLF_BIN/mlf-validate" -C "$W" --skip $RO_SKIP >"$T/rodb.json" 2>/dev/null
check_eq "writable again: exits 0" "$?" 0

# The disk check covers the file system of each folder written to: paths.models on
# /dev/shm (a tmpfs) is looked at too, and a need between the two free amounts fails
# that file system alone.
SHM=/dev/shm/mlf-t100-$$
v -s paths.models=$SHM/models $SKIP >"$T/disk.json" 2>/dev/null
check_eq "models on another file system: exit 0" "$?" 0
detail=$(check_of disk_space "$T/disk.json")
check_grep "... the check names the workspace's file system" "MiB free at $W" <(echo "$detail")
check_grep "... and the one of paths.models" "MiB free at /dev/shm" <(echo "$detail")
ws_free=$(echo "$detail" | sed -n "s/.* \([0-9]*\) MiB free at $(echo "$W" | sed 's/[\/&.]/\\&/g').*/\1/p")
shm_free=$(echo "$detail" | sed -n 's/.* \([0-9]*\) MiB free at \/dev\/shm.*/\1/p')
if [ "$shm_free" -lt "$ws_free" ]; then low=/dev/shm; need=$((shm_free + 1)); else low=$W; need=$((ws_free + 1)); fi
v -s paths.models=$SHM/models -s checks.min_free_disk_mb=$need $SKIP >"$T/disk.json" 2>/dev/null
check_eq "too little space on one of them: exit 1" "$?" 1
check_eq "... the check names that one alone" \
	"$(check_of disk_space "$T/disk.json" | sed 's/ [0-9]* MiB free at / N MiB free at /')" \
	"False N MiB free at $low, $need MiB needed"

# A deleted experiment is not silently used.
py sqlite_validate_read.py "$DB" delete-experiment 1 >/dev/null 2>&1
v $SKIP >"$T/del.json" 2>/dev/null; check_eq "deleted experiment exits 1" "$?" 1
check_grep "report says deleted" "is deleted" "$T/del.json"

# An incompatible database: refused with 78, file untouched.
sqlite3 "$DB" "UPDATE alembic_version SET version_num='0000deadbeef'"
sum_before=$(sha256sum "$DB")
v $SKIP >"$T/inc.json" 2>/dev/null; check_eq "incompatible database exits 78" "$?" 78
check_grep "report names the revision found" "0000deadbeef" "$T/inc.json"
check_eq "database untouched" "$(sha256sum "$DB")" "$sum_before"

finish
