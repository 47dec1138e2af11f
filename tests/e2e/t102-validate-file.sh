#!/usr/bin/env bash
# mlf-validate on MLflow's file store: --init with an exact id and location,
# --probe, and MLflow (with its opt-in variable) reading the result.
. "$(dirname "$0")/lib.sh"

W=$T/ws
mkdir -p "$W"
printf 'tracking_uri: file:runs/mlruns\nexperiment_id: "0123"\nexperiment_name: nightly-file\nchecks:\n  min_free_disk_mb: 1\n' >"$W/mlf.yaml"
SKIP="--skip base_model,corrections"

mlf-validate -C "$W" $SKIP >"$T/out.json" 2>/dev/null
check_eq "no store yet exits 1" "$?" 1
check_grep "report names the missing store" "no MLflow file store at $W/runs/mlruns" "$T/out.json"
check "nothing created without --init" test ! -e "$W/runs/mlruns"

check_status 0 "--init creates the store and experiment 0123" mlf-validate -C "$W" --init $SKIP -q
check_status 0 "--probe passes" mlf-validate -C "$W" --probe $SKIP -q

MLFLOW_ALLOW_FILE_STORE=true "$PY" - "$W" >"$T/read.txt" 2>&1 <<'PY'
import sys, warnings
warnings.filterwarnings("ignore")
from mlflow.tracking import MlflowClient
from mlflow.entities import ViewType
ws = sys.argv[1]
c = MlflowClient(tracking_uri=f"file://{ws}/runs/mlruns")
e = c.get_experiment("0123")
runs = c.search_runs(["0123"], run_view_type=ViewType.ALL)
print(e.experiment_id, e.name, e.artifact_location, [(r.info.lifecycle_stage, r.info.status) for r in runs])
ok = (e.experiment_id == "0123" and e.name == "nightly-file"
      and e.artifact_location == f"file://{ws}/runs/mlflow/0123"
      and [(r.info.lifecycle_stage, r.info.status) for r in runs] == [("deleted", "FINISHED")])
print("ok" if ok else "mismatch")
PY
check "MLflow reads experiment 0123 (a string, not octal) and the removed probe run" test "$(tail -1 "$T/read.txt")" = ok
[ "$(tail -1 "$T/read.txt")" = ok ] || cat "$T/read.txt"

finish
