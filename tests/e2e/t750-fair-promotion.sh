#!/usr/bin/env bash
# Fair promotion: step 5 measures the champion on the new version's validation
# split (champion_* metrics), and if-better compares the new model with that,
# not with the number the champion's own run logged on its older split.  Made
# to disagree on purpose: v1 is trained to be poor (a learning rate that wrecks
# it) yet becomes champion (there is none yet), and its run's logged
# val_mAP50-95 is then raised to 0.999 with the MLflow client; v2 trains
# normally.  The old comparison (v2 against 0.999) would keep v1; the fair one
# measures v1 on v2's split and promotes v2.  Then train.start_from: champion
# starts v3 from v2's model (continuous learning).
# needs: libtorch training
. "$(dirname "$0")/lib.sh"
WS=$T/ws
RETRAIN_EPOCHS=1 make_workspace "$WS" "sqlite:///runs/mlflow/mlflow.db"
cd "$WS"
URI="sqlite:///$WS/runs/mlflow/mlflow.db"
mlf-validate --init -q >/dev/null
retrain-prep -q | retrain-run -q --set 'train.args={"lr0": 0.5, "optimizer": "SGD", "warmup_epochs": 0, "workers": 2}' \
	>"$T/v1.json" 2>"$T/v1.err"
check_eq "v1 (wrecked on purpose) trained" "$(json_get "$T/v1.json" success)" "true"
check_eq "... and is champion: there was none" "$(json_get "$T/v1.json" registry.promoted)" "true"
check_eq "... nothing to measure as champion then" "$(json_get "$T/v1.json" registry.champion)" "None"
run1=$(json_get "$T/v1.json" run_id)
"$PY" -c 'import sys; from mlflow import MlflowClient
MlflowClient(sys.argv[1]).log_metric(sys.argv[2], "val_mAP50-95", 0.999, step=99)' "$URI" "$run1"

mlf-synth corrections data/corrections --count 8 --start 100 --size 160x120 --classes cat,dog,person \
	--seed 7 2>/dev/null
retrain-prep -q | retrain-run --epochs 3 >"$T/v2.json" 2>"$T/v2.err"
check_eq "v2 trained" "$(json_get "$T/v2.json" success)" "true"
check_eq "the champion measured in step 5 is version 1" "$(json_get "$T/v2.json" registry.champion.version)" "1"
check_grep "... said on stderr" "champion (version 1) on the new val split" "$T/v2.err"
check "the decision, read back with MLflow, follows the numbers measured on the same split" "$PY" - \
	"$URI" "$(json_get "$T/v2.json" run_id)" "$T/v2.json" <<'PY'
import json, sys
from mlflow import MlflowClient
uri, run, doc = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
m = MlflowClient(uri).get_run(run).data
champ, new = m.metrics["champion_mAP50-95"], m.metrics["val_mAP50-95"]
reg = doc["registry"]
assert abs(champ - reg["champion"]["metrics"]["mAP50-95"]) < 1e-12, (champ, reg)
assert reg["promoted"] == (new > champ), (new, champ, reg)
assert "both measured on this version's validation split" in reg["reason"], reg["reason"]
assert "0.9990" not in reg["reason"], reg["reason"]
assert m.tags["mlf.promotion"] == reg["reason"], m.tags.get("mlf.promotion")
print("new %.4f champion %.4f promoted %s" % (new, champ, reg["promoted"]))
PY
check_eq "the fair comparison promotes v2, where the old one (against 0.999) would not" \
	"$(json_get "$T/v2.json" registry.promoted)" "true"

# ---- continuous learning: train.start_from champion starts v3 from v2's model
mlf-synth corrections data/corrections --count 8 --start 200 --size 160x120 --classes cat,dog,person \
	--seed 8 2>/dev/null
retrain-prep -q >/dev/null
check_status 78 "train.start_from takes base or champion only" \
	retrain-run -q --set train.start_from=latest --dataset data/retrain_v3
retrain-run --set train.start_from=champion --dataset data/retrain_v3 >"$T/v3.json" 2>"$T/v3.err"
check_eq "v3 trained" "$(json_get "$T/v3.json" success)" "true"
check_grep "... said to start from the champion" "starting from the champion, version 2" "$T/v3.err"
check_eq "... from models/retrained_v2.pt" "$(json_get "$T/v3.json" base_model.path)" "$WS/models/retrained_v2.pt"
check_eq "... whose sha256 the run records" "$(json_get "$T/v3.json" base_model.sha256)" \
	"$(sha256sum models/retrained_v2.pt | cut -d' ' -f1)"
check_eq "... and the champion measured in step 5 is the model it started from (its pre_ figures)" \
	"$(json_get "$T/v3.json" registry.champion.metrics.mAP50-95)" "$(json_get "$T/v3.json" pre_metrics.mAP50-95)"
finish
