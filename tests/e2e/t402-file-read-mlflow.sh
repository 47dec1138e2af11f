#!/usr/bin/env bash
# File store, the other way: runs the real MLflow client wrote (plain YAML
# scalars, no run_uuid, nested keys, NaN/Inf metrics, artifacts) are read exactly
# by our driver; damaged run folders are reported clearly, never crashed on.
. "$(dirname "$0")/lib.sh"
export MLFLOW_ALLOW_FILE_STORE=true

ROOT_DIR="$T/mlruns"
URI="file://$ROOT_DIR"
drv() { "$DRIVER" --uri "$URI" "$@"; }
drv_to() { local out=$1; shift; drv "$@" >"$out"; }  # inside check: keep "ok" lines out of OUT
jget() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])' "$@"; }

check "MLflow client writes a run" py file_check.py write "$URI" "$T/expected.json"
RUN=$(jget "$T/expected.json" run_id)
EXP=$(jget "$T/expected.json" experiment_id)

check "driver pings the store" drv_to /dev/null ping
check "get-run" drv_to "$T/getrun.json" get-run "$RUN"
mkdir -p "$T/hist"
check "metric-history acc" drv_to "$T/hist/acc.json" metric-history "$RUN" acc
check "metric-history group/loss" drv_to "$T/hist/group_loss.json" metric-history "$RUN" group/loss
check "list-artifacts" drv_to "$T/arts.json" list-artifacts "$RUN"
check "driver's view equals what MLflow wrote" py file_check.py compare "$T/expected.json" "$T/getrun.json" "$T/hist" "$T/arts.json"
check "download-artifact" drv download-artifact "$RUN" out/sub/b.bin "$T/b.bin"
check "downloaded bytes" cmp "$T/b.bin" "$T/py-art/sub/b.bin"
check_eq "experiment by name" "$(drv get-experiment-by-name "written by mlflow" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["experiment_id"])')" "$EXP"
check_eq "Default experiment as MLflow wrote it" "$(drv get-experiment 0 | "$PY" -c 'import json,sys; e=json.load(sys.stdin); print(e["name"], e["lifecycle_stage"], e["artifact_location"])')" \
	"Default active file://$ROOT_DIR/0"
check_status 66 "unknown run is not found" drv get-run 0123456789abcdef0123456789abcdef
check_status 66 "unknown experiment is not found" drv get-experiment 424242

# We may keep logging into a run MLflow created: one more point, a param MLflow set again.
printf '{"metrics":[{"key":"acc","value":0.5,"timestamp":1800000000000,"step":99999}],"params":[{"key":"lr","value":"0.01"}]}' >"$T/more.json"
check "log into MLflow's run" drv_to /dev/null log-batch "$RUN" "$T/more.json"
check "MLflow reads the appended point" "$PY" -c '
import os, sys; os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
from mlflow import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
h = c.get_metric_history(sys.argv[2], "acc")
r = c.get_run(sys.argv[2])
sys.exit(0 if len(h) == 751 and h[-1].value == 0.5 and h[-1].step == 99999 and r.data.metrics["acc"] == 0.5 else 1)' "$URI" "$RUN"

# ---- damaged run folders ------------------------------------------------------
check "create a run to damage" drv_to "$T/r2.json" create-run "$EXP" "victim" probe=1
R2=$(jget "$T/r2.json" run_id)
META="$ROOT_DIR/$EXP/$R2/meta.yaml"

cp "$META" "$T/meta.good"
head -c 40 "$T/meta.good" >"$META"   # cut inside a quoted scalar
check_status 65 "torn meta.yaml is a data error" drv get-run "$R2" 2>"$T/torn.err"
check_grep "torn meta.yaml named in the error" "meta.yaml" "$T/torn.err"
: >"$META"
check_status 65 "empty meta.yaml is a data error" drv get-run "$R2" 2>"$T/empty.err"
check_grep "empty meta.yaml explained" "empty" "$T/empty.err"
rm -f "$META"
check_status 65 "missing meta.yaml is a data error" drv get-run "$R2" 2>"$T/missing.err"
check_grep "missing meta.yaml explained" "meta.yaml' is missing" "$T/missing.err"
check_eq "search skips the damaged run" "$(drv search-runs "$EXP" probe)" "[]"
cp "$T/meta.good" "$META"
check_eq "repaired run is found again" "$(drv search-runs "$EXP" probe | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')" "1"
sed "s/^experiment_id: .*/experiment_id: '999'/" "$T/meta.good" >"$META"
check_status 65 "run in the wrong experiment folder is refused" drv get-run "$R2" 2>"$T/wrong.err"
check_grep "wrong experiment explained" "999" "$T/wrong.err"
cp "$T/meta.good" "$META"
printf '1 2 3\n\n' >>"$ROOT_DIR/$EXP/$R2/metrics/bad" 2>/dev/null || { mkdir -p "$ROOT_DIR/$EXP/$R2/metrics"; printf '1 2 3\n\n' >"$ROOT_DIR/$EXP/$R2/metrics/bad"; }
check_status 65 "blank metric line is malformed (as MLflow says)" drv get-run "$R2" 2>"$T/metric.err"
check_grep "malformed metric named" "metric 'bad'" "$T/metric.err"
rm -f "$ROOT_DIR/$EXP/$R2/metrics/bad"

# ---- byte-level golden meta.yaml ------------------------------------------------
check "golden experiment" drv_to /dev/null create-experiment "golden: 'q'" 00 "relative/art"
"$PY" - "$ROOT_DIR/00/meta.yaml" "$PWD" >"$T/golden.out" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
print(re.sub(r"\b1\d{12}\b", "<ms>", text), end="")
EOF
cat >"$T/golden.want" <<EOF
artifact_location: '$PWD/relative/art'
creation_time: <ms>
effective_trace_archival_retention: null
experiment_id: '00'
last_update_time: <ms>
lifecycle_stage: 'active'
name: 'golden: ''q'''
trace_location: null
workspace: 'default'
EOF
check "experiment meta.yaml bytes" cmp "$T/golden.out" "$T/golden.want"
check "MLflow reads id '00' and the quoted name" "$PY" -c '
import os, sys; os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
from mlflow import MlflowClient
e = MlflowClient(tracking_uri=sys.argv[1]).get_experiment("00")
sys.exit(0 if e.experiment_id == "00" and e.name == "golden: '"'q'"'" else 1)' "$URI"
finish
