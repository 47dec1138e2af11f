#!/usr/bin/env bash
# Interruptions: SIGTERM during training (run KILLED, nothing under models/,
# last.pt kept) and --resume finishing the same MLflow run; kill -9 (run left
# RUNNING) and --sweep closing it FAILED, then --resume finishing it; and a run a dead
# process left RUNNING closed by the next retrain-run at its start.
# needs: libtorch training
. "$(dirname "$0")/lib.sh"
WS=$T/ws
RETRAIN_EPOCHS=12 make_workspace "$WS" "sqlite:///runs/mlflow/mlflow.db"
cd "$WS"
URI="sqlite:///$WS/runs/mlflow/mlflow.db"
mlf-validate --init -q
retrain-prep -q >"$T/ds1.json"

run_status() { "$PY" -c 'import sys; from mlflow import MlflowClient
print(MlflowClient(sys.argv[1]).get_run(sys.argv[2]).info.status)' "$URI" "$1"; }

# ---- SIGTERM, then --resume
retrain-run -q <"$T/ds1.json" >"$T/killed.json" 2>"$T/killed.err" &
pid=$!
check "training reached epoch 3" wait_epochs 1 3
kill -TERM $pid
wait $pid
check_eq "SIGTERM: exit 130" "$?" "130"
check_eq "run document says KILLED" "$(json_get "$T/killed.json" status)" "KILLED"
run=$(json_get "$T/killed.json" run_id)
check_eq "MLflow shows the run KILLED" "$(run_status "$run")" "KILLED"
check "nothing under models/" test -z "$(ls models | grep retrained)"
check "last.pt kept" test -s runs/train/retrain_v1/weights/last.pt
check_eq "mlf_run.json says KILLED" "$(json_get runs/train/retrain_v1/mlf_run.json status)" "KILLED"
check_grep "the message says how to resume" "retrain-run --resume v1" "$T/killed.err"
check_status 73 "a new run of v1 is refused while the folder holds the killed one" \
	retrain-run -q --dataset data/retrain_v1
retrain-run -q --resume v1 >"$T/resumed.json"
check_eq "--resume v1 finishes it" "$?" "0"
check_eq "the same MLflow run" "$(json_get "$T/resumed.json" run_id)" "$run"
check "resumed run read back by MLflow (every epoch logged once)" py retrain_check.py "$URI" "$run" \
	--experiment 1 --version v1 --epochs 12 --aliases challenger,champion
check_status 0 "mlf-verify passes the resumed run" mlf-verify -q <"$T/resumed.json"
check_status 64 "--resume of a finished version is refused" retrain-run -q --resume v1

# ---- kill -9, then --sweep
mlf-synth corrections data/corrections --count 6 --start 100 --size 160x120 --classes cat,dog,person \
	--seed 9 2>/dev/null
retrain-prep -q >"$T/ds2.json"
retrain-run -q <"$T/ds2.json" >/dev/null 2>"$T/crash.err" &
pid=$!
wait_epochs 2 2
kill -KILL $pid
wait $pid 2>/dev/null
run2=$(json_get runs/train/retrain_v2/mlf_run.json run_id)
check_eq "after kill -9 the run is left RUNNING" "$(run_status "$run2")" "RUNNING"
retrain-run --sweep >"$T/sweep.json" 2>"$T/sweep.err"
check_eq "--sweep closed it" "$(json_get "$T/sweep.json" closed.0.run_id)" "$run2"
check_eq "MLflow shows it FAILED" "$(run_status "$run2")" "FAILED"
check_eq "mlf_run.json says FAILED" "$(json_get runs/train/retrain_v2/mlf_run.json status)" "FAILED"
retrain-run --sweep >"$T/sweep2.json" 2>/dev/null
check_eq "a second sweep finds nothing" "$(json_get "$T/sweep2.json" closed)" "[]"
retrain-run -q --resume latest >"$T/r2.json"
check_eq "--resume latest finishes the crashed run" "$?" "0"
check_eq "resumed v2" "$(json_get "$T/r2.json" new_version)" "v2"
check_eq "MLflow shows it FINISHED" "$(run_status "$run2")" "FINISHED"

# ---- the next night closes what a dead process left RUNNING, without --sweep
# (v1's run put back to RUNNING in MLflow's database, as a kill -9 leaves it)
sqlite3 runs/mlflow/mlflow.db "UPDATE runs SET status = 'RUNNING', end_time = NULL WHERE run_uuid = '$run'"
mlf-synth corrections data/corrections --count 6 --start 200 --size 160x120 --classes cat,dog,person \
	--seed 10 2>/dev/null
retrain-prep -q >"$T/ds3.json"
retrain-run -q --epochs 1 <"$T/ds3.json" >"$T/r3.json" 2>"$T/r3.err"
check_eq "the next retrain-run trains v3" "$?:$(json_get "$T/r3.json" new_version)" "0:v3"
check_eq "... after closing the run left RUNNING" "$(json_get "$T/r3.json" reconciled.0.run_id)" "$run"
check_eq "... which MLflow shows FAILED" "$(run_status "$run")" "FAILED"
check_grep "... saying so, and how to resume it" \
	"run $run (retrained_v1) was left RUNNING by a retrain-run that died; ended it FAILED (resume it with retrain-run --resume v1)" \
	"$T/r3.err"
finish
