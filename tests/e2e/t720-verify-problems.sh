#!/usr/bin/env bash
# mlf-verify must fail, naming the problem, on what a real retraining left
# behind when it was later damaged: a tampered model copy, a missing artifact,
# the run looked for in the wrong experiment; and model-locate must see the
# tampered copy disagree.  retrain-run must refuse an experiment id that does
# not exist, creating nothing.
# needs: libtorch training
. "$(dirname "$0")/lib.sh"
set -o pipefail
# What a verification report found, from its exact fields (not a grep of the whole
# report: a clean one names every copy and artifact too).
# problems FILE: its "problems" list, one a line; failed FILE: the names of its failed checks
problems() { "$PY" -c 'import json,sys; [print(p) for p in json.load(open(sys.argv[1]))["problems"]]' "$1"; }
failed() {
	"$PY" -c 'import json,sys
print(" ".join(c["name"] for c in json.load(open(sys.argv[1]))["checks"] if not c["ok"]))' "$1"
}
WS=$T/ws
make_workspace "$WS" "sqlite:///runs/mlflow/mlflow.db"
cd "$WS"
mlf-validate --init -q
retrain-prep -q | retrain-run -q >"$T/run.json"
mlf-verify -q <"$T/run.json" >"$T/clean.json"
check_eq "the untouched run verifies: exit 0" "$?" "0"
check_eq "the untouched run's report lists no problem" "$(problems "$T/clean.json")" ""
run=$(json_get "$T/run.json" run_id)

# a tampered copy (same size, one byte changed)
cp runs/train/retrained_v1.pt "$T/saved.pt"
printf 'X' | dd of=runs/train/retrained_v1.pt bs=1 seek=100 conv=notrunc 2>/dev/null
mlf-verify -q <"$T/run.json" >"$T/tampered.json"
check_eq "tampered copy: exit 1" "$?" "1"
check_eq "tampered copy: the one failed check is that copy's sha256" "$(failed "$T/tampered.json")" \
	"sha256:runs/train/retrained_v1.pt"
check_eq "tampered copy: the one problem names that copy" \
	"$(problems "$T/tampered.json" | sed 's/ has sha256 [0-9a-f]*\.\.\., but the metadata says .*//')" \
	"runs/train/retrained_v1.pt"
model-locate 1 >"$T/locate.json"
check_eq "model-locate: copies disagree (exit 1)" "$?" "1"
check_eq "model-locate says they do not agree" "$(json_get "$T/locate.json" agree)" "false"
cp "$T/saved.pt" runs/train/retrained_v1.pt
check_status 0 "restored: verifies again" mlf-verify -q <"$T/run.json"

# a missing artifact
art=runs/mlflow/1/$run/artifacts
mv "$art/plots/results.csv" "$T/results.csv"
mlf-verify -q --run-id "$run" >"$T/missing.json"
check_eq "missing artifact: exit 1" "$?" "1"
check_eq "missing artifact: the one failed check is that artifact" "$(failed "$T/missing.json")" \
	"artifact:plots/results.csv"
check_eq "missing artifact: the one problem names it" \
	"$(problems "$T/missing.json" | sed 's/ (artifact root .*)$//')" \
	"run $run has no artifact plots/results.csv"
mv "$T/results.csv" "$art/plots/results.csv"

# the wrong experiment: another experiment configured than the one the run is in
"$PY" -c 'import sys; from mlflow import MlflowClient
MlflowClient(sys.argv[1]).create_experiment("other")' "sqlite:///$WS/runs/mlflow/mlflow.db" >/dev/null 2>&1
mlf-verify -q -s experiment_id=2 <"$T/run.json" >"$T/wrong.json"
check_eq "wrong experiment: exit 1" "$?" "1"
check_eq "wrong experiment: the failed checks" "$(failed "$T/wrong.json")" \
	"metadata experiment tag:experiment_id"
check_eq "a problem says the run is in another experiment" \
	"$(problems "$T/wrong.json" | grep '^wrong experiment: ' | sed 's/ (--set); .*//')" \
	"wrong experiment: run $run is in experiment 1, but the configured experiment_id is 2"
check_eq "report is not ok" "$(json_get "$T/wrong.json" ok)" "false"

# an experiment id that does not exist: refused, nothing created, no fallback
retrain-prep -q -m 0 >/dev/null
retrain-run -q -s experiment_id=999 --dataset data/retrain_v2 >/dev/null 2>"$T/noexp.err"
check_eq "absent experiment: exit 78" "$?" "78"
check_grep "the message says how to create it" "experiment 999 not found .*mlf-validate --init" "$T/noexp.err"
"$PY" -c 'import sys; from mlflow import MlflowClient
from mlflow.entities import ViewType
c = MlflowClient(sys.argv[1])
exps = c.search_experiments(view_type=ViewType.ALL)
runs = c.search_runs([e.experiment_id for e in exps], run_view_type=ViewType.ALL)
print(len(runs), "999" in [e.experiment_id for e in exps])' "sqlite:///$WS/runs/mlflow/mlflow.db" >"$T/count.txt"
check_eq "no run and no experiment were created" "$(cat "$T/count.txt")" "1 False"

# copies that agree are not a deployable model while their run is unfinished (the
# window between the rename into models/ and the end of the run, or a failure there)
DB=$WS/runs/mlflow/mlflow.db
model-locate -q 1 >"$T/ok.json"
check_eq "a FINISHED run's model: deployable, exit 0" "$?:$(json_get "$T/ok.json" deployable)" "0:true"
sqlite3 "$DB" "UPDATE runs SET status = 'RUNNING', end_time = NULL WHERE run_uuid = '$run'"
model-locate -q 1 >"$T/running.json" 2>/dev/null
check_eq "while its run is RUNNING: not deployable, exit 1" \
	"$?:$(json_get "$T/running.json" agree):$(json_get "$T/running.json" deployable)" "1:true:false"
model-locate 1 2>&1 >/dev/null | tail -1 >"$T/running.err"
check_eq "... and the summary says why" "$(cat "$T/running.err")" \
	"model-locate: retrained_v1 is not deployable: its run is not FINISHED (still running, or it failed after the model was stored)"
sqlite3 "$DB" "UPDATE runs SET status = 'FAILED' WHERE run_uuid = '$run'"
model-locate -q 1 >"$T/failed.json" 2>/dev/null
check_eq "a FAILED run's model: not deployable, exit 1" "$?:$(json_get "$T/failed.json" deployable)" "1:false"
sqlite3 "$DB" "UPDATE runs SET status = 'FINISHED' WHERE run_uuid = '$run'"

# a document that is not a run document
echo '{"kind": "mlf.dataset"}' | mlf-verify -q >/dev/null 2>&1
check_eq "a dataset document is not a run document: exit 65" "$?" "65"
finish
