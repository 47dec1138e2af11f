#!/usr/bin/env bash
# The pipeline on MLflow's legacy file store, read back with the real MLflow
# client (MLFLOW_ALLOW_FILE_STORE=true), its model registry included: the
# version and its aliases are kept under runs/mlruns/models/ as MLflow keeps them.
# needs: libtorch training
. "$(dirname "$0")/lib.sh"
set -o pipefail
WS=$T/ws
RETRAIN_EXPERIMENT=0123 make_workspace "$WS" "file:runs/mlruns"
cd "$WS"
check "mlf-validate --init creates experiment 0123" mlf-validate --init -q
check_status 0 "pipeline on the file store" \
	bash -c 'mlf-validate -q && retrain-prep -q | retrain-run >"$0/run.json" && mlf-verify -q <"$0/run.json" >"$0/verify.json"' "$T"
run=$(json_get "$T/run.json" run_id)
check_eq "registered: version 1" "$(json_get "$T/run.json" registry.version)" "1"
check_eq "mlf-verify passes it, the registry check included" "$(json_get "$T/verify.json" ok)" "true"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))
print([c["detail"] for c in d["checks"] if c["name"] == "registry"][0])' "$T/verify.json" >"$T/reg.txt"
check_grep "... which read the version from the file store's registry" "mlf-retraining version 1 of run" "$T/reg.txt"
check "MLflow reads the run and its registry version from the file store" py retrain_check.py \
	"file://$WS/runs/mlruns" "$run" --experiment 0123 --version v1 --epochs 3 --aliases challenger,champion \
	--model-sha "$(sha256sum models/retrained_v1.pt | cut -d' ' -f1)"
check "metrics written in the file store's layout" test -s "runs/mlruns/0123/$run/metrics/val_mAP50"
check "an MLflow Model in the file store, its MLmodel read by MLflow's loaders" \
	env MLFLOW_ALLOW_FILE_STORE=true "$PY" "$PYLIB/logged_model_check.py" "file://$WS/runs/mlruns" 0123 "$run" \
	mlf-retraining v1 "$(sha256sum models/retrained_v1.pt | cut -d' ' -f1)"
model-locate 1 >"$T/locate.json"
check_eq "model-locate: all copies agree" "$(json_get "$T/locate.json" agree)" "true"
check_eq "model-locate: the registry version" "$(json_get "$T/locate.json" registry.version)" "1"
check_eq "champion.pt is v1's model (retrain-run made champion follow)" \
	"$(sha256sum models/champion.pt | cut -d' ' -f1)" "$(sha256sum models/retrained_v1.pt | cut -d' ' -f1)"
check_status 0 "model-promote 1 --alias production on the file store" \
	model-promote -q 1 --alias production --reason "qa approved"
check "MLflow reads the alias and the promotion tag from the file store" env MLFLOW_ALLOW_FILE_STORE=true "$PY" "$PYLIB/promotion_check.py" \
	"file://$WS/runs/mlruns" mlf-retraining production 1 "qa approved"
check_status 1 "--rollback of production: nothing earlier to go to" model-promote -q --rollback --alias production
finish
