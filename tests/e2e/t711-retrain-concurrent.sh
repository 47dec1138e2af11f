#!/usr/bin/env bash
# Two pipelines at once in one workspace: distinct dataset and model versions,
# the second retrain-run waits for the first (it says so before its first step,
# and its run starts only after the first run ended); --no-wait exits 75 instead.
# needs: libtorch training
. "$(dirname "$0")/lib.sh"
WS=$T/ws
make_workspace "$WS" "sqlite:///runs/mlflow/mlflow.db"
cd "$WS"
mlf-validate --init -q
# -m 0: the second prep finds no new corrections but still makes a version
# not -q: their step lines (stderr) show which one waited
(retrain-prep -q -m 0 | retrain-run >"$T/a.json" 2>"$T/a.err"; echo $? >"$T/a.rc") &
(retrain-prep -q -m 0 | retrain-run >"$T/b.json" 2>"$T/b.err"; echo $? >"$T/b.rc") &
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

# The one that found the lock taken said so as its first line, before any step; the
# other began at once with step 1.
waiting="retrain-run: waiting for another retrain-run in this workspace to finish ($WS/runs/train/.retrain-run.lock)"
step1="retrain-run: [1/12] opening experiment 1"
first= second=
for p in a b; do
	line1=$(head -n 1 "$T/$p.err")
	if [ "$line1" = "$waiting" ]; then second+=$p; elif [ "$line1" = "$step1" ]; then first+=$p; fi
done
case $first+$second in
a+b|b+a) ok "one pipeline ($first) started at once, the other ($second) waited (first lines of their logs)" ;;
*) not_ok "one pipeline starts at once, the other waits: their logs begin with:"
   head -n 1 "$T/a.err" "$T/b.err" | sed 's/^/    /' ;;
esac
if [ "$first+$second" = a+b ] || [ "$first+$second" = b+a ]; then
	check_eq "the waiting one then ran every step, in order, after its wait" \
		"$(grep -E '^retrain-run: (waiting for|\[[0-9]+/12\])' "$T/$second.err" | sed 's/^retrain-run: //; s/ .*//' | tr '\n' ' ')" \
		"waiting [1/12] [2/12] [3/12] [4/12] [5/12] [6/12] [7/12] [8/12] [9/12] [10/12] [11/12] [12/12] "
	# its run (and so its training, a later step) began only after the first run ended
	"$PY" -c 'import sys; from mlflow import MlflowClient
c = MlflowClient(sys.argv[1])
first, second = c.get_run(sys.argv[2]).info, c.get_run(sys.argv[3]).info
print("after" if first.end_time and second.start_time >= first.end_time
      else "overlap: second started %s, first ended %s" % (second.start_time, first.end_time))' \
		"sqlite:///$WS/runs/mlflow/mlflow.db" "$(json_get "$T/$first.json" run_id)" \
		"$(json_get "$T/$second.json" run_id)" >"$T/order.txt" 2>&1
	check_eq "the waiting one's run started after the first's ended (MLflow start_time, end_time)" \
		"$(tail -n 1 "$T/order.txt")" "after"
fi
check_eq "--no-wait while another works: exit 75" "$c_rc" "75"
check_grep "--no-wait says why" "another retrain-run" "$T/c.err"
check "both models published" test -s "models/retrained_$a.pt" -a -s "models/retrained_$b.pt"
check_status 0 "mlf-verify passes A" mlf-verify -q <"$T/a.json"
check_status 0 "mlf-verify passes B" mlf-verify -q <"$T/b.json"
finish
