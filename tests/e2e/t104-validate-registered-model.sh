#!/usr/bin/env bash
# mlf-validate's registered_model check on the three stores: the default name
# is the experiment's; a version another experiment's run registered under it
# (made here with the real MLflow client, as another workspace would) is a
# warning (exit 0, "warning": true, a line on stderr even with -q); a name of
# the workspace's own (registered_model) clears it.
. "$(dirname "$0")/lib.sh"
export MLFLOW_ALLOW_FILE_STORE=true
start_mlflow_server "$T/server" || { not_ok "mlflow server starts"; finish; }

# other_version URI MODEL: a run in another experiment, registered as a version of MODEL
other_version() { "$PY" - "$1" "$2" <<'PY'
import sys
from mlflow import MlflowClient
uri, model = sys.argv[1:3]
c = MlflowClient(uri, registry_uri=uri)
exp = c.create_experiment("another-workspace")
run = c.create_run(exp)
c.set_terminated(run.info.run_id)
try:
    c.create_registered_model(model)
except Exception:
    pass
print(c.create_model_version(model, f"runs:/{run.info.run_id}/model", run.info.run_id).version)
PY
} >/dev/null 2>&1
# check_of REPORT FIELD: the registered_model check's field
check_of() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))
c=[c for c in d["checks"] if c["name"] == "registered_model"][0]; v=c.get(sys.argv[2])
print(json.dumps(v) if isinstance(v, bool) else v)' "$1" "$2"; }

for store in sqlite file rest; do
	WS=$T/ws-$store
	case $store in
	sqlite) uri="sqlite:///runs/mlflow/mlflow.db" full="sqlite:///$WS/runs/mlflow/mlflow.db" ;;
	file) uri="file:runs/mlruns" full="file://$WS/runs/mlruns" ;;
	rest) uri=$MLFLOW_SERVER_URL full=$MLFLOW_SERVER_URL ;;
	esac
	make_workspace "$WS" "$uri"
	cd "$WS"
	if [ $store = rest ]; then
		id=$("$PY" -c 'import sys; from mlflow import MlflowClient
print(MlflowClient(sys.argv[1]).create_experiment("mlf-retraining"))' "$full")
		sed -i "s/^experiment_id: .*/experiment_id: \"$id\"/" mlf.yaml
	fi
	mlf-validate --init -q >"$T/$store-1.json"
	check_eq "$store: validates (exit 0)" "$?" "0"
	check_eq "$store: registered_model passes, no warning" "$(check_of "$T/$store-1.json" ok):$(check_of "$T/$store-1.json" warning)" "true:None"
	check_of "$T/$store-1.json" detail >"$T/$store-1.txt"
	check_grep "$store: ... the model is named after the experiment" "'mlf-retraining' (the experiment's name): no version yet" \
		"$T/$store-1.txt"
	check "$store: another experiment registers a version of mlf-retraining" other_version "$full" mlf-retraining
	mlf-validate -q >"$T/$store-2.json" 2>"$T/$store-2.err"
	check_eq "$store: still exit 0" "$?" "0"
	check_eq "$store: registered_model warns" "$(check_of "$T/$store-2.json" ok):$(check_of "$T/$store-2.json" warning)" "true:true"
	check_of "$T/$store-2.json" detail >"$T/$store-2.txt"
	check_grep "$store: ... naming the other experiment's version" "holds 1 version(s) of other experiments' runs: version 1 (experiment" \
		"$T/$store-2.txt"
	check_grep "$store: ... said on stderr even with -q" "mlf-validate: warning: registered model 'mlf-retraining'" "$T/$store-2.err"
	mlf-validate -q --set registered_model=team-a-detector >"$T/$store-3.json" 2>/dev/null
	check_eq "$store: a name of its own clears it" "$(check_of "$T/$store-3.json" warning)" "None"
	cd "$T"
done
finish
