#!/usr/bin/env bash
# The file store's model registry (MLflow 3 keeps one beside the experiments,
# <root>/models/): what our driver writes, the real MLflow client reads back
# (versions, sources, runs, aliases set, moved and removed), and what MLflow
# writes, our driver reads; names that would leave models/ are refused.
. "$(dirname "$0")/lib.sh"
export MLFLOW_ALLOW_FILE_STORE=true
ROOT_DIR="$T/mlruns"
URI="file://$ROOT_DIR"
drv() { "$DRIVER" --uri "$URI" --workspace "$T" "$@"; }
cd "$T"  # the MLflow client makes an mlflow.db in its working folder
jget() { "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d[sys.argv[1]])' "$1"; }

run=$(drv create-run 0 registry-run | jget run_id)
check "a run to register" test -n "$run"
check "ensure-registered-model creates it" drv ensure-registered-model mlf-detector
check "... and a second time is fine" drv ensure-registered-model mlf-detector
check_eq "version 1" "$(drv create-model-version mlf-detector "file://$T/a/model" "$run" | jget version)" "1"
check_eq "version 2" "$(drv create-model-version mlf-detector "file://$T/b/model" "$run" | jget version)" "2"
check "alias champion -> 1" drv set-alias mlf-detector champion 1
check "alias challenger -> 2" drv set-alias mlf-detector challenger 2
check "alias old -> 2, then removed" sh -c "'$DRIVER' --uri '$URI' set-alias mlf-detector old 2 >/dev/null &&
	'$DRIVER' --uri '$URI' delete-alias mlf-detector old >/dev/null"
check "removing an alias that is not set is fine" drv delete-alias mlf-detector never-set
check_status 66 "an alias to a version that does not exist is refused" drv set-alias mlf-detector x 9
check_status 66 "a version of a model that does not exist" drv create-model-version nosuch "file:///x" "$run"
check_status 65 "a model name that would leave models/" drv ensure-registered-model ..
check_status 66 "an alias that is not set" drv get-alias mlf-detector never-set
check_eq "get-alias champion" "$(drv get-alias mlf-detector champion | jget version)" "1"

# the real client reads what we wrote
check "MLflow's client reads the registry we wrote" "$PY" - "$URI" "$run" "$T" <<'PY'
import sys
from mlflow import MlflowClient
uri, run, t = sys.argv[1:4]
c = MlflowClient(uri, registry_uri=uri)
rm = c.get_registered_model("mlf-detector")
assert rm.aliases == {"champion": "1", "challenger": "2"}, rm.aliases
v1 = c.get_model_version("mlf-detector", "1")
assert (v1.run_id, v1.source, v1.status, v1.aliases) == (run, f"file://{t}/a/model", "READY", ["champion"]), v1
v2 = c.get_model_version_by_alias("mlf-detector", "challenger")
assert str(v2.version) == "2" and v2.source == f"file://{t}/b/model", v2
assert len(c.search_model_versions(f"run_id='{run}'")) == 2
assert [m.name for m in c.search_registered_models()] == ["mlf-detector"]
# and writes on top of it: a version 3 and an alias
v3 = c.create_model_version("mlf-detector", f"file://{t}/c/model", run)
assert str(v3.version) == "3", v3.version
c.set_registered_model_alias("mlf-detector", "champion", "3")
print("ok")
PY
check_eq "we read what MLflow wrote: champion -> 3" "$(drv get-alias mlf-detector champion | jget version)" "3"
check_eq "... its source" "$(drv get-model-version mlf-detector 3 | jget source)" "file://$T/c/model"
check_eq "our next version after MLflow's is 4" \
	"$(drv create-model-version mlf-detector "file://$T/d/model" "$run" | jget version)" "4"
check "no experiment named models appears" sh -c "! '$DRIVER' --uri '$URI' get-experiment models >/dev/null 2>&1"
finish
