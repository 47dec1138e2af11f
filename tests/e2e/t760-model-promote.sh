#!/usr/bin/env bash
# model-promote on the embedded store, read back with the real MLflow client:
# two retrainings (each promoted by registry.promote: always), then --rollback
# puts champion back on version 1 and models/champion.pt follows; promoting 2
# again moves it forward; a tampered version and a FAILED run are refused and
# leave champion where it was; a damaged history is named.
# needs: libtorch training
. "$(dirname "$0")/lib.sh"
WS=$T/ws
RETRAIN_EPOCHS=1 make_workspace "$WS" "sqlite:///runs/mlflow/mlflow.db"
cd "$WS"
URI="sqlite:///$WS/runs/mlflow/mlflow.db"
sha() { sha256sum "$1" | cut -d' ' -f1; }
# alias_of ALIAS: the registry version the alias names, read by MLflow
alias_of() {
	"$PY" -c 'import sys; from mlflow import MlflowClient
print(MlflowClient(sys.argv[1]).get_model_version_by_alias("mlf-retraining", sys.argv[2]).version)' "$URI" "$1"
}
mlf-validate --init -q >/dev/null
retrain-prep -q | retrain-run -q --set registry.promote=always >"$T/v1.json" 2>"$T/v1.err"
check_eq "v1 trained" "$(json_get "$T/v1.json" success)" "true"
check_eq "... champion.pt is v1's model, written by retrain-run" "$(sha models/champion.pt)" \
	"$(sha models/retrained_v1.pt)"
mlf-synth corrections data/corrections --count 8 --start 100 --size 160x120 --classes cat,dog,person \
	--seed 7 2>/dev/null
retrain-prep -q | retrain-run -q --set registry.promote=always >"$T/v2.json" 2>"$T/v2.err"
check_eq "v2 trained" "$(json_get "$T/v2.json" success)" "true"
check_eq "champion is version 2 (MLflow)" "$(alias_of champion)" "2"
check_eq "... champion.pt followed it" "$(sha models/champion.pt)" "$(sha models/retrained_v2.pt)"
check_eq "... champion.json says v2" "$(json_get models/champion.json version)" "v2"
check_eq "the history holds one line per alias move (2 champion, 2 challenger)" \
	"$(wc -l <models/promotions.jsonl)" "4"

# ---- rollback
model-promote --rollback --reason "v2 misses small objects" >"$T/rb.json" 2>"$T/rb.err"
check_eq "rollback exits 0" "$?" "0"
check_eq "... the document says 2 -> 1" "$(json_get "$T/rb.json" from) $(json_get "$T/rb.json" to)" "2 1"
check_eq "... as a rollback" "$(json_get "$T/rb.json" rollback)" "true"
check_eq "champion is version 1 again (MLflow)" "$(alias_of champion)" "1"
check_eq "... champion.pt followed it" "$(sha models/champion.pt)" "$(sha models/retrained_v1.pt)"
check_eq "... champion.json says v1" "$(json_get models/champion.json version)" "v1"
check "the move is tagged on version 1, who, when and why (MLflow)" "$PY" - "$URI" <<'PY'
import json, sys
from mlflow import MlflowClient
t = json.loads(MlflowClient(sys.argv[1]).get_model_version("mlf-retraining", "1").tags["mlf.promotion.champion"])
assert t["reason"] == "v2 misses small objects" and t["rollback"] is True and t["from"] == "2", t
assert t["by"] and t["at"].endswith("Z"), t
PY
check_eq "... and appended to the history" "$(tail -n1 models/promotions.jsonl | "$PY" -c \
	'import json,sys; d=json.load(sys.stdin); print(d["alias"], d["from"], d["to"], d["rollback"], d["tool"])')" \
	"champion 2 1 True model-promote"
mlf-verify <"$T/v2.json" >"$T/verify2.json" 2>/dev/null
check_eq "mlf-verify still passes v2's run: champion left it by a recorded rollback" "$?" "0"
check_grep "... and says so" "rolled back at" "$T/verify2.json"
check_status 1 "a second rollback has nowhere to go (v1 was the first champion)" model-promote -q --rollback
check_eq "... and champion stays on 1" "$(alias_of champion)" "1"

# ---- forward again, and the same version twice
check_status 0 "model-promote 2" model-promote -q 2
check_eq "champion is version 2 (MLflow)" "$(alias_of champion)" "2"
check_eq "... champion.pt followed it" "$(sha models/champion.pt)" "$(sha models/retrained_v2.pt)"
model-promote -q latest >"$T/same.json"
check_eq "promoting the version that already holds it moves nothing" "$(json_get "$T/same.json" moved)" "false"
check_status 0 "another alias: model-promote 1 --alias production" model-promote -q 1 --alias production
check_eq "production is version 1 (MLflow)" "$(alias_of production)" "1"
check_eq "... and champion.pt is still v2's" "$(sha models/champion.pt)" "$(sha models/retrained_v2.pt)"

# ---- refusals
cp models/retrained_v1.pt "$T/v1.pt"
printf 'x' >>models/retrained_v1.pt
model-promote 1 >"$T/tampered.json" 2>"$T/tampered.err"
check_eq "a tampered version is refused: exit 1" "$?" "1"
check_grep "... naming the copy that differs" "sha256" "$T/tampered.json"
check_eq "... champion stays on 2" "$(alias_of champion)" "2"
check_eq "... and champion.pt too" "$(sha models/champion.pt)" "$(sha models/retrained_v2.pt)"
cp "$T/v1.pt" models/retrained_v1.pt

mlf-synth corrections data/corrections --count 8 --start 200 --size 160x120 --classes cat,dog,person \
	--seed 8 2>/dev/null
retrain-prep -q | MLF_FAILPOINT=check:1:enospc retrain-run -q >"$T/v3.json" 2>"$T/v3.err"
check_eq "v3's run failed (ENOSPC on purpose)" "$(json_get "$T/v3.json" status)" "FAILED"
model-promote 3 >"$T/failed.json" 2>"$T/failed.err"
check_eq "a FAILED version is refused: exit 1" "$?" "1"
check_grep "... saying its run is FAILED" "FAILED" "$T/failed.err"
check_eq "... champion stays on 2" "$(alias_of champion)" "2"

cp models/promotions.jsonl "$T/history"
echo '{"format": "mlf.promotion", "to": 3' >>models/promotions.jsonl
model-promote -q --rollback 2>"$T/damaged.err"
check_eq "a damaged history is refused: exit 65" "$?" "65"
check_grep "... naming its line" "promotions.jsonl: line 8" "$T/damaged.err"
cp "$T/history" models/promotions.jsonl
"$PY" -c 'import sys; from mlflow import MlflowClient
MlflowClient(sys.argv[1]).set_registered_model_alias("mlf-retraining", "champion", "1")' "$URI"
model-promote -q --rollback 2>"$T/outside.err"
check_eq "a rollback after champion was moved outside mlf is refused: exit 1" "$?" "1"
check_grep "... saying so" "moved outside mlf" "$T/outside.err"
check_eq "... and moves nothing" "$(alias_of champion)" "1"
finish
