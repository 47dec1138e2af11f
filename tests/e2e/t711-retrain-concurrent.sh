#!/usr/bin/env bash
# Two pipelines at once in one workspace: distinct dataset and model versions,
# the second retrain-run waits for the first; --no-wait exits 75 instead.
# needs: libtorch (trains a model)
. "$(dirname "$0")/lib.sh"
WS=$T/ws
make_workspace "$WS" "sqlite:///runs/mlflow/mlflow.db"
cd "$WS"
mlf-validate --init -q
# -m 0: the second prep finds no new corrections but still makes a version
(retrain-prep -q -m 0 | retrain-run -q >"$T/a.json"; echo $? >"$T/a.rc") &
(retrain-prep -q -m 0 | retrain-run -q >"$T/b.json"; echo $? >"$T/b.rc") &
# while they run, a third one that will not wait
for _ in $(seq 600); do [ -f runs/train/.retrain-run.lock ] && [ -d runs/train/retrain_v1 -o -d runs/train/retrain_v2 ] && break; sleep 0.1; done
retrain-prep -q -m 0 >"$T/c-ds.json"
retrain-run -q --no-wait <"$T/c-ds.json" >"$T/c.json" 2>"$T/c.err"
c_rc=$?
wait
check_eq "pipeline A finished" "$(cat "$T/a.rc")" "0"
check_eq "pipeline B finished" "$(cat "$T/b.rc")" "0"
a=$(json_get "$T/a.json" new_version) b=$(json_get "$T/b.json" new_version)
check "distinct versions ($a, $b)" test "$a" != "$b"
check "distinct runs" test "$(json_get "$T/a.json" run_id)" != "$(json_get "$T/b.json" run_id)"
check_eq "--no-wait while another works: exit 75" "$c_rc" "75"
check_grep "--no-wait says why" "another retrain-run" "$T/c.err"
check "both models published" test -s "models/retrained_$a.pt" -a -s "models/retrained_$b.pt"
check_status 0 "mlf-verify passes A" mlf-verify -q <"$T/a.json"
check_status 0 "mlf-verify passes B" mlf-verify -q <"$T/b.json"
finish
