#!/usr/bin/env bash
# The pipeline against a real `mlflow server` (REST, artifacts through its
# proxy), read back with the real MLflow client; the server going away during
# training (metrics kept, run recorded FAILED locally, --resume finishes it once
# the server is back); an artifact upload the server cannot store (run FAILED,
# not FINISHED, nothing published).
# needs: libtorch training
. "$(dirname "$0")/lib.sh"
set -o pipefail
start_mlflow_server "$T/server" || { not_ok "mlflow server starts"; finish; }
URL=$MLFLOW_SERVER_URL
# few, short retries so that "the server is gone" is decided in seconds
fast_retries() { printf 'http:\n  max_retries: 1\n  backoff_factor: 0.2\n  backoff_jitter: 0\n  timeout: 10\n' >>"$1/mlf.yaml"; }
# a server assigns experiment ids: create one with the MLflow client
new_experiment() { "$PY" -c 'import sys; from mlflow import MlflowClient
print(MlflowClient(sys.argv[1]).create_experiment(sys.argv[2]))' "$1" "$2"; }
WS=$T/ws
make_workspace "$WS" "$URL" && fast_retries "$WS"
cd "$WS"
id=$(new_experiment "$URL" nightly)
sed -i "s/^experiment_id: .*/experiment_id: \"$id\"/" mlf.yaml
check "the server assigned an experiment id" test -n "$id"

pipeline() { mlf-validate -q && retrain-prep -q | retrain-run | mlf-verify -q >"$1"; }
check_status 0 "pipeline through the server" pipeline "$T/verify.json"
run=$(json_get "$T/verify.json" run_id)
sha=$(sha256sum models/retrained_v1.pt | cut -d' ' -f1)
check "run read back by MLflow from the server" py retrain_check.py "$URL" "$run" --experiment "$id" \
	--version v1 --epochs 3 --aliases challenger,champion --model-sha "$sha"
check "artifacts stored by the server's proxy" \
	test -s "$T/server/artifacts/$id/$run/artifacts/models/retrained_v1.pt"
check "an MLflow Model through the server, its MLmodel read by MLflow's loaders" py logged_model_check.py \
	"$URL" "$id" "$run" nightly v1 "$sha"
model-locate latest >"$T/locate.json"
check_eq "model-locate: copies agree, the artifact included" "$(json_get "$T/locate.json" agree)" "true"
check_status 0 "model-promote 1 --alias production through the server" \
	model-promote -q 1 --alias production --reason "qa approved"
check "MLflow reads the alias and the promotion tag from the server" py promotion_check.py \
	"$URL" nightly production 1 "qa approved"
check_status 1 "--rollback of production: nothing earlier to go to" model-promote -q --rollback --alias production

# ---- the server goes away mid-training and comes back
mlf-synth corrections data/corrections --count 6 --start 100 --size 160x120 --classes cat,dog,person \
	--seed 5 2>/dev/null
retrain-prep -q >"$T/ds2.json"
port=${URL##*:}
retrain-run -q --epochs 12 <"$T/ds2.json" >"$T/down.json" 2>"$T/down.err" &
pid=$!
wait_epochs 2 2
stop_mlflow_server
wait $pid
check_eq "store gone at the end: exit 69" "$?" "69"
check_grep "epochs' metrics were kept while the store was away" "metric records wait for the tracking store" "$T/down.err"
check_grep "... and training went on" "training goes on" "$T/down.err"
check_eq "recorded FAILED locally" "$(json_get runs/train/retrain_v2/mlf_run.json status)" "FAILED"
check "the metrics still to log are recorded" test "$(json_get runs/train/retrain_v2/mlf_run.json pending)" != "None"
check "nothing published" test ! -e models/retrained_v2.pt
run2=$(json_get "$T/down.json" run_id)
MLF_SERVER_PORT=$port start_mlflow_server "$T/server" || not_ok "server restarts"
retrain-run -q --resume v2 >"$T/up.json"
check_eq "--resume v2 logs the rest and finishes" "$?" "0"
check "the resumed run read back: every epoch logged" py retrain_check.py "$URL" "$run2" \
	--experiment "$id" --version v2 --epochs 12

# ---- a second workspace on the same server: its own experiment, so its own model and champion
champion_of() { "$PY" -c 'import sys; from mlflow import MlflowClient
c = MlflowClient(sys.argv[1], registry_uri=sys.argv[1])
try: mv = c.get_model_version_by_alias(sys.argv[2], "champion"); print(mv.version, mv.run_id)
except Exception as e: print("none")' "$URL" "$1"; }
before=$(champion_of nightly)
check "the first workspace's model is named after its experiment, with a champion" test "$before" != none
WS3=$T/ws3
RETRAIN_EPOCHS=1 make_workspace "$WS3" "$URL" 5 && fast_retries "$WS3"
cd "$WS3"
id3=$(new_experiment "$URL" second-team)
sed -i "s/^experiment_id: .*/experiment_id: \"$id3\"/" mlf.yaml
retrain-prep -q | retrain-run -q >"$T/team2.json"
check_eq "the second workspace trains its v1" "$(json_get "$T/team2.json" success)" "true"
check_eq "... registered under its own experiment's name" "$(json_get "$T/team2.json" registry.name)" "second-team"
check_eq "... as version 1, its champion" "$(champion_of second-team | cut -d' ' -f1)" "1"
check_eq "the first workspace's champion did not move" "$(champion_of nightly)" "$before"

# ---- a server that cannot store artifacts
start_mlflow_server "$T/broken" --artifacts-destination "$T/not-a-folder" || not_ok "second server starts"
: >"$T/not-a-folder"
URL2=$MLFLOW_SERVER_URL
WS2=$T/ws2
make_workspace "$WS2" "$URL2" && fast_retries "$WS2"
cd "$WS2"
id2=$(new_experiment "$URL2" broken)
sed -i "s/^experiment_id: .*/experiment_id: \"$id2\"/" mlf.yaml
retrain-prep -q | retrain-run -q >"$T/fail.json" 2>"$T/fail.err"
rc=$?
check "artifact upload failure: nonzero exit ($rc)" test "$rc" -ne 0
check_eq "run document: FAILED" "$(json_get "$T/fail.json" status)" "FAILED"
check "MLflow shows it FAILED with the reason" py retrain_check.py "$URL2" "$(json_get "$T/fail.json" run_id)" \
	--experiment "$id2" --version v1 --epochs 3 --status FAILED
check "nothing published" test ! -e models/retrained_v1.pt
check_status 1 "mlf-verify reports the failed run" mlf-verify -q <"$T/fail.json"
finish
