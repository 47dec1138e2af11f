#!/usr/bin/env bash
# Tracking off the training path: a real `mlflow server` stopped for 60 s in the
# middle of a training costs the training nothing.  The same training runs twice,
# once with the server up and once with the outage; each epoch's wall time (the
# spacing of the epochs' own metric timestamps) is compared, every metric is read
# back from the server once, at its step, with the time it was taken, and the run
# ends FINISHED.  Then the server away past the end: 69, and --resume completes.
# needs: libtorch training
. "$(dirname "$0")/lib.sh"
set -o pipefail
start_mlflow_server "$T/server" || { not_ok "mlflow server starts"; finish; }
URL=$MLFLOW_SERVER_URL
port=${URL##*:}
# about 0.5 s an epoch here: the outage run must still be training when the server
# comes back (3 epochs, then 60 s away, then more); the baseline needs fewer
EPOCHS=${OUTAGE_EPOCHS:-160}
BASELINE_EPOCHS=40
WS=$T/ws
RETRAIN_EPOCHS=$EPOCHS make_workspace "$WS" "$URL"
# MLflow's default retry budget (7 retries, backoff up to 2 minutes): the one that used
# to stall an epoch for the whole outage
sed -i 's/^  imgsz: 128/  imgsz: 256/' "$WS/mlf.yaml"  # epochs of about a second: timing noise stays small
cd "$WS"
new_experiment() { "$PY" -c 'import sys; from mlflow import MlflowClient
print(MlflowClient(sys.argv[1]).create_experiment(sys.argv[2]))' "$URL" "$1"; }
sed -i "s/^experiment_id: .*/experiment_id: \"$(new_experiment outage)\"/" mlf.yaml
retrain-prep -q >"$T/ds1.json"
# the baseline: a copy of the workspace, the same dataset, its own experiment, the server up
cp -a "$WS" "$T/base"
sed -i "s/^experiment_id: .*/experiment_id: \"$(new_experiment baseline)\"/" "$T/base/mlf.yaml"
# epoch_times RUN: each epoch's wall time, from the timestamps its metrics were taken at
epoch_times() { "$PY" - "$URL" "$1" <<'PY'
import sys
from mlflow import MlflowClient
h = MlflowClient(sys.argv[1]).get_metric_history(sys.argv[2], "train/box_loss")
t = [m.timestamp for m in sorted(h, key=lambda m: m.step)]
print(" ".join("%.3f" % ((b - a) / 1000) for a, b in zip(t, t[1:])))
PY
}

(cd "$T/base" && retrain-run -q --epochs "$BASELINE_EPOCHS" --dataset data/retrain_v1) >"$T/up.json"
check_eq "with the server up: FINISHED" "$(json_get "$T/up.json" status)" FINISHED
up=$(epoch_times "$(json_get "$T/up.json" run_id)")

retrain-run <"$T/ds1.json" >"$T/down.json" 2>"$T/down.err" &
pid=$!
wait_epochs 1 3
stop_mlflow_server
stopped=$(date +%s)
sleep 60
MLF_SERVER_NICE=19 MLF_SERVER_PORT=$port start_mlflow_server "$T/server" || not_ok "server restarts"
echo "# the server was away $(( $(date +%s) - stopped )) s"
wait $pid
check_eq "with the server away for 60 s mid-training: exit 0" "$?" 0
check_eq "... FINISHED" "$(json_get "$T/down.json" status)" FINISHED
check_grep "... training went on" "training goes on" "$T/down.err"
check "... the run document says how long the store was away" "$PY" -c 'import json,sys
t = json.load(open(sys.argv[1]))["tracking_store"]
assert t["away_s"] >= 50 and t["records_waited"] > 0, t' "$T/down.json"
run1=$(json_get "$T/down.json" run_id)
down=$(epoch_times "$run1")
echo "# epoch wall times, server up:   $up"
echo "# epoch wall times, 60 s outage: $down"
check "each epoch's wall time within 10% of the same training with the server up (median), none stalled" \
	"$PY" - "$up" "$down" <<'PY'
import statistics, sys
up = [float(x) for x in sys.argv[1].split()]
down = [float(x) for x in sys.argv[2].split()]
mu, md = statistics.median(up), statistics.median(down)
print("# median %.3f s up, %.3f s with the outage (%+.1f%%); mean %.3f vs %.3f; max %.3f vs %.3f" %
      (mu, md, 100 * (md / mu - 1), statistics.mean(up), statistics.mean(down), max(up), max(down)))
assert md <= 1.10 * mu, (mu, md)
# The old way stalled the epoch after the stop for the whole outage (60 s here).  The
# server stopping and starting on these same 2 cores competes with the training at
# those two moments, and any co-located load slows an epoch by seconds here (torch's
# threads wait for one another), so the bound on a single epoch is 10 s.
assert max(down) <= 10, (max(up), max(down))
PY
check "every metric read back once, at its step, with the time it was taken" "$PY" - "$URL" "$run1" \
	runs/train/retrain_v1/results.csv "$EPOCHS" <<'PY'
import sys
from mlflow import MlflowClient
c = MlflowClient(sys.argv[1])
epochs = int(sys.argv[4])
for key in ("train/box_loss", "metrics/mAP50B", "lr/pg0", "epoch/seconds"):
    h = c.get_metric_history(sys.argv[2], key)
    steps = sorted(m.step for m in h)
    assert steps == list(range(epochs)), (key, steps)
    ts = [m.timestamp for m in sorted(h, key=lambda m: m.step)]
    assert ts == sorted(ts), (key, "timestamps out of order")
PY

# ---- the server away past the end of training: 69, then --resume completes
# (few, short retries: with the default budget giving up takes minutes)
printf 'http:\n  max_retries: 1\n  backoff_factor: 0.2\n  backoff_jitter: 0\n  timeout: 10\n' >>mlf.yaml
mlf-synth corrections data/corrections --count 8 --start 200 --size 160x120 --classes cat,dog,person \
	--seed 6 2>/dev/null
retrain-prep -q >"$T/ds2.json"
retrain-run -q --epochs 6 <"$T/ds2.json" >"$T/end.json" 2>"$T/end.err" &
pid=$!
wait_epochs 2 1
stop_mlflow_server
wait $pid
check_eq "the server away at the end: exit 69" "$?" 69
check "... what waits is kept in mlf_run.json" test "$(json_get runs/train/retrain_v2/mlf_run.json pending)" != "None"
MLF_SERVER_PORT=$port start_mlflow_server "$T/server" || not_ok "server restarts"
retrain-run -q --resume v2 >"$T/resumed.json"
check_eq "--resume v2 completes" "$?" 0
check "... with every epoch logged" "$PY" -c 'import sys; from mlflow import MlflowClient
h = MlflowClient(sys.argv[1]).get_metric_history(sys.argv[2], "train/box_loss")
assert sorted(m.step for m in h) == list(range(6)), [m.step for m in h]' "$URL" "$(json_get "$T/end.json" run_id)"
finish
