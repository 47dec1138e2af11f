#!/usr/bin/env bash
# The nightly pipeline on the embedded default (SQLite tracking), read back with
# the real MLflow client: two retrainings (champion promotion, challenger moving
# on), every local copy agreeing, model-locate, and a skip document flowing
# through the whole pipeline with exit 0; a failed night retried by the next one.
# needs: libtorch training
. "$(dirname "$0")/lib.sh"
set -o pipefail
WS=$T/ws
make_workspace "$WS" "sqlite:///runs/mlflow/mlflow.db"
cd "$WS"
check "mlf-validate --init creates experiment 1" mlf-validate --init -q

pipeline() { mlf-validate -q && retrain-prep -q | retrain-run | tee "$T/run1.json" | mlf-verify -q >"$1"; }
check_status 0 "first pipeline: validate, prep, run, verify" pipeline "$T/verify1.json"
check_eq "mlf-verify found no problem" "$(json_get "$T/verify1.json" ok)" "true"
run1=$(json_get "$T/verify1.json" run_id)
sha1=$(sha256sum models/retrained_v1.pt | cut -d' ' -f1)
check "run 1 read back by MLflow" py retrain_check.py "sqlite:///$WS/runs/mlflow/mlflow.db" "$run1" \
	--experiment 1 --version v1 --epochs 3 --aliases challenger,champion --model-sha "$sha1"
for f in models/retrained_v1.pt models/retrained_v1_metadata.json models/retrained_v1.safetensors \
	runs/train/retrained_v1.pt runs/train/retrain_v1/weights/best.pt runs/train/retrain_v1/weights/last.pt \
	runs/train/retrain_v1/args.yaml runs/train/retrain_v1/results.csv runs/train/retrain_v1/results.png; do
	check "$f written" test -s "$f"
done
check_eq "quick-access copy equals the model" "$(sha256sum runs/train/retrained_v1.pt | cut -d' ' -f1)" "$sha1"
check_eq "metadata records the sha256" "$(json_get models/retrained_v1_metadata.json sha256)" "$sha1"
check_eq "metadata records the run" "$(json_get models/retrained_v1_metadata.json run.run_id)" "$run1"
check "no temporary files left" test -z "$(find models runs/train -name '*.tmp.*')"
check "artifacts under the experiment's folder" test -s "runs/mlflow/1/$run1/artifacts/models/retrained_v1.pt"
check "an MLflow Model, registered, its MLmodel read by MLflow's loaders" py logged_model_check.py \
	"sqlite:///$WS/runs/mlflow/mlflow.db" 1 "$run1" mlf-retraining v1 "$sha1"

# a second batch of corrections: version 2, challenger moves to it
mlf-synth corrections data/corrections --count 8 --start 100 --size 160x120 --classes cat,dog,person \
	--format mlf --seed 7 2>/dev/null
retrain-prep -q | retrain-run -q --promote always >"$T/run2.json"
check_eq "second run finished" "$(json_get "$T/run2.json" status)" "FINISHED"
check_eq "second run is v2" "$(json_get "$T/run2.json" new_version)" "v2"
run2=$(json_get "$T/run2.json" run_id)
check "run 2 read back: challenger and champion moved to it" py retrain_check.py \
	"sqlite:///$WS/runs/mlflow/mlflow.db" "$run2" --experiment 1 --version v2 --epochs 3 \
	--aliases challenger,champion
check_status 0 "version 1 still verifies (its aliases moved on to a newer version)" mlf-verify -q --version 1
mlf-verify -q <"$T/run1.json" >"$T/reverify1.json"
check_eq "run 1's document still verifies" "$?" "0"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))
print([c["detail"] for c in d["checks"] if c["name"] == "registry"][0])' "$T/reverify1.json" >"$T/reg1.txt"
check_grep "... its aliases judged from the registry: moved on to version 2" \
	"challenger -> 2 (moved on by a later retraining), champion -> 2 (moved on" "$T/reg1.txt"
model-locate latest >"$T/locate.json"
check_eq "model-locate latest is v2" "$(json_get "$T/locate.json" version)" "v2"
check_eq "all copies of v2 agree" "$(json_get "$T/locate.json" agree)" "true"
check_eq "model-locate names the run" "$(json_get "$T/locate.json" run.run_id)" "$run2"
check_status 0 "model-locate 1 --format text" model-locate --format text 1
check_status 73 "the same dataset version cannot be trained twice" \
	retrain-run -q --dataset data/retrain_v1

# a night that fails before its run starts is retried by the next night
mlf-synth corrections data/corrections --count 6 --start 200 --size 160x120 --classes cat,dog,person \
	--format yolo --seed 8 2>/dev/null
retrain-prep -q | retrain-run -q -s 'train.args={"no_such_setting": 1}' >/dev/null 2>"$T/bad.err"
check_eq "a bad setting fails the night before any run (exit 78)" "$?" "78"
check_grep "the message names the setting" "no_such_setting" "$T/bad.err"
check_status 0 "next night: nothing new, but v3 was never trained: the pipeline trains it" \
	pipeline "$T/retry.json"
check_eq "v3 verified" "$(json_get "$T/retry.json" version)" "v3"
check "models/retrained_v3.pt published" test -s models/retrained_v3.pt

# nothing new: the skip document flows through every program, exit 0
check_status 0 "no new corrections: the pipeline exits 0" pipeline "$T/skip.json"
check_eq "a skip document comes out the end" "$(json_get "$T/skip.json" kind)" "mlf.skip"
check "no version 4 was made" test ! -e runs/train/retrain_v4

# what MLflow's UI asks a server for, on this workspace's database
if start_mlflow_server "$WS/runs/mlflow"; then
	check "a server on our database serves version 1's MLmodel and the logged models, as the UI asks" \
		py ui_check.py "$MLFLOW_SERVER_URL" mlf-retraining 1 1
else
	not_ok "mlflow server starts on the workspace's database"
fi
finish
