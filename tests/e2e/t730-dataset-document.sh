#!/usr/bin/env bash
# retrain-run verifies the dataset document before any run exists: a version of
# another workspace, an altered digest, a missing field or trailing data after the
# document is refused with exit 65, and the experiment holds no run afterwards.
# The genuine document still trains (t700-t702 pipe it straight from retrain-prep).
# And --sweep of a store that is not there is an error, not "nothing to close"; and
# on a night with nothing new, what to finish is decided under the workspace lock.
# needs: libtorch
. "$(dirname "$0")/lib.sh"
runs() { sqlite3 "$1/runs/mlflow/mlflow.db" "SELECT count(*) FROM runs"; }
edit() {  # edit IN OUT PYTHON-STATEMENT-ON-d
	"$PY" -c 'import json,sys
d=json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(d,open(sys.argv[2],"w"))' "$1" "$2" "$3"
}
# refused NAME DOCUMENT WORKSPACE PATTERN: exit 65, the message, no run created
refused() {
	retrain-run -C "$3" -q <"$2" >"$T/out.json" 2>"$T/err"
	check_eq "$1: exit 65" "$?" 65
	check_grep "$1: the message says why" "$4" "$T/err"
	check_eq "$1: no run was created" "$(runs "$3")" 0
	check "$1: nothing on stdout" test ! -s "$T/out.json"
}

W=$T/ws
make_workspace "$W" "sqlite:///runs/mlflow/mlflow.db"
retrain-run -C "$W" --sweep >"$T/sweep.json" 2>"$T/sweep.err"
check_eq "--sweep with no store there: exit 66" "$?" 66
check_grep "... naming the missing database" "no MLflow database at" "$T/sweep.err"
check "... with no sweep document" test ! -s "$T/sweep.json"
check "... and no store created" test ! -e "$W/runs"
mlf-validate -C "$W" --init --silent
retrain-run -C "$W" --sweep >"$T/sweep.json"
check_eq "--sweep of a store with nothing of ours: exit 0" "$?" 0
check_eq "... closing nothing" "$(json_get "$T/sweep.json" closed)" "[]"
check_eq "... removing nothing" "$(json_get "$T/sweep.json" removed)" "[]"

# What a writer killed before its rename left is removed by the next sweep (or run),
# unless that writer is still alive.
dead=$(( $(cat /proc/sys/kernel/pid_max) + 1 ))  # no process can have it
mkdir -p "$W/runs/train/retrain_v9/weights"
echo half >"$W/models/retrained_v9.pt.tmp.$dead.0"
echo half >"$W/runs/train/retrain_v9/weights/best.pt.tmp.$dead.3"
echo live >"$W/models/retrained_v9.pt.tmp.$$.0"
echo keep >"$W/models/notes.tmp.txt"
retrain-run -C "$W" --sweep >"$T/sweep.json"
check_eq "sweep with temporary files of a dead writer: exit 0" "$?" 0
check_eq "... removes both of them, and says so" "$(json_get "$T/sweep.json" removed)" \
	"[\"$W/models/retrained_v9.pt.tmp.$dead.0\", \"$W/runs/train/retrain_v9/weights/best.pt.tmp.$dead.3\"]"
check "... keeps the file of a writer still alive" test -f "$W/models/retrained_v9.pt.tmp.$$.0"
check "... and files that only look alike" test -f "$W/models/notes.tmp.txt"
rm -rf "$W/runs/train/retrain_v9" "$W/models/retrained_v9.pt.tmp.$$.0" "$W/models/notes.tmp.txt"
retrain-prep -C "$W" -q >"$T/ds.json"
check_eq "retrain-prep made v1" "$(json_get "$T/ds.json" version)" v1

# Another workspace with its own v1: its document is not this workspace's dataset.
W2=$T/ws2
make_workspace "$W2" "sqlite:///runs/mlflow/mlflow.db" 5
mlf-validate -C "$W2" --init --silent
retrain-prep -C "$W2" -q >"$T/ds2.json"
refused "another workspace's version" "$T/ds2.json" "$W" "is trained only from its own folder"

edit "$T/ds.json" "$T/forged.json" 'd["digest"]="sha256:"+"0"*64'
refused "an altered digest" "$T/forged.json" "$W" "the document was altered"

edit "$T/ds.json" "$T/nometa.json" 'del d["metadata"]'
refused "no metadata field" "$T/nometa.json" "$W" "the dataset document lacks metadata"

edit "$T/ds.json" "$T/v2.json" 'd["version"]="v2"; d["name"]="retrain_v2"'
refused "a version that does not match its files" "$T/v2.json" "$W" "retrain_v2"

cp "$W/data/retrain_v1/retraining_dataset_metadata.json" "$T/meta.saved"
edit "$T/meta.saved" "$W/data/retrain_v1/retraining_dataset_metadata.json" 'd["digest"]="sha256:"+"1"*64'
refused "metadata whose digest differs from the document's" "$T/ds.json" "$W" "the document was altered"
cp "$T/meta.saved" "$W/data/retrain_v1/retraining_dataset_metadata.json"

# The files themselves: the digest is recomputed, so a label changed after
# retrain-prep (document and metadata untouched) is refused too.
label=$(ls "$W"/data/retrain_v1/labels/train/*.txt | head -1)
cp "$label" "$T/label.saved"
echo "0 0.5 0.5 0.9 0.9" >>"$label"
refused "a label changed after retrain-prep" "$T/ds.json" "$W" "no longer match its digest"
cp "$T/label.saved" "$label"

# A genuine document passes every check, whatever the base mode: the run is then
# stopped at the next step by an experiment that does not exist (78, not 65).
for mode in reference link copy; do
	M=$T/ws-$mode
	make_workspace "$M" "sqlite:///runs/mlflow/mlflow.db" 7
	mlf-validate -C "$M" --init --silent
	retrain-prep -C "$M" -q --base-mode $mode >"$T/m.json"
	retrain-run -C "$M" -q -e 999 <"$T/m.json" >/dev/null 2>"$T/m.err"
	check_eq "base mode $mode: the genuine document passes the dataset checks (then 78)" "$?" 78
	check_grep "... stopped by the experiment" "experiment 999 not found" "$T/m.err"
done

# A skip document while another job holds the workspace: which version never finished
# is decided under the lock, so --no-wait gives 75 and a waiting run decides after it.
mkdir -p "$W/runs/train"
printf '{"kind":"mlf.skip","schema_version":1,"reason":"2 new corrections, 5 needed"}\n' >"$T/skip.json"
flock "$W/runs/train/.retrain-run.lock" sleep 3 &
holder=$!
sleep 0.5
retrain-run -C "$W" --no-wait <"$T/skip.json" >"$T/o.json" 2>"$T/e"
check_eq "a skip while the workspace is busy, --no-wait: exit 75" "$?" 75
check_grep "... saying why" "another retrain-run is working in this workspace" "$T/e"
start=$(date +%s)
retrain-run -C "$W" -q <"$T/skip.json" >"$T/o.json"
check_eq "... without --no-wait: passes the skip on once the lock is free" \
	"$?:$(json_get "$T/o.json" kind)" "0:mlf.skip"
check "... having waited for it" test $(($(date +%s) - start)) -ge 1
wait $holder

{ cat "$T/ds.json"; echo '{"kind":"mlf.skip"}'; } >"$T/two.json"
refused "a second document after the first" "$T/two.json" "$W" "not one JSON document"
{ cat "$T/ds.json"; echo 'garbage'; } >"$T/garbage.json"
refused "trailing garbage" "$T/garbage.json" "$W" "not one JSON document"

finish
