#!/usr/bin/env bash
# What the real MLflow client writes into a fresh database, our sqlite backend
# reads exactly: experiment, run info, params, tags, latest metrics (NaN, the
# +-DBL_MAX MLflow stores for inf), full histories, registry versions, aliases.
. "$(dirname "$0")/lib.sh"

DB="$T/mlflow.db"
ART="file://$T/art"
drv() { "$DRIVER" --uri "sqlite:///$DB" "$@"; }
read -r RID EXP < <(py sqlite_write_mlflow.py "$DB" "$ART" "$T" 2>"$T/writer.log") || { cat "$T/writer.log"; not_ok "MLflow client wrote the database"; finish; }
check "our driver opens MLflow's database" drv ping
drv get-run "$RID" >"$T/run.json"
for k in loss acc big; do drv metric-history "$RID" "$k" >"$T/hist-$k.json"; done
drv get-experiment "$EXP" >"$T/exp.json"
drv get-model-version mlflow-model 1 >"$T/mv-1.json"
drv get-model-version mlflow-model 2 >"$T/mv-2.json"
drv get-alias mlflow-model prod >"$T/alias.json"
drv search-runs "$EXP" type retraining >"$T/search.json"
check "every value read exactly" py sqlite_check_reverse.py "$T/expect.json" "$T"
check_eq "experiment by name" "$(drv get-experiment-by-name written-by-mlflow | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["experiment_id"])')" "$EXP"
v=$(drv create-model-version mlflow-model "$ART/x" "$RID" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["version"])')
check_eq "our next version continues MLflow's numbering" "$v" 3
finish
