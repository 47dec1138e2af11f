#!/usr/bin/env bash
# An artifact location mlf cannot write (gs://, wasbs://, or s3:// without any AWS
# credentials) is refused before any run exists: mlf-validate and retrain-run both
# exit 78 naming the location and what to configure, and the experiment holds no run
# (read back with the real MLflow client); no hint suggests a resume.  (S3 with
# credentials, and with a wrong key: t780.)
# needs: libtorch
. "$(dirname "$0")/lib.sh"
# no credentials anywhere: neither in the environment nor in shared files
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE
export AWS_SHARED_CREDENTIALS_FILE=$T/none AWS_CONFIG_FILE=$T/none
for loc in s3://bucket/mlflow gs://bucket/mlflow wasbs://c@acct.blob.core.windows.net/mlflow; do
	scheme=${loc%%:*}
	WS=$T/ws-$scheme
	RETRAIN_EPOCHS=1 make_workspace "$WS" "sqlite:///runs/mlflow/mlflow.db"
	mkdir -p "$WS/runs/mlflow"
	(cd "$T" && "$PY" -c 'import sys; from mlflow import MlflowClient
c = MlflowClient(sys.argv[1])
print(c.create_experiment("elsewhere", artifact_location=sys.argv[2]))' "sqlite:///$WS/runs/mlflow/mlflow.db" "$loc" \
		>"$T/id" 2>/dev/null)
	id=$(tail -n1 "$T/id")
	sed -i "s/^experiment_id: .*/experiment_id: \"$id\"/" "$WS/mlf.yaml"
	printf 'artifact_location: %s\n' "$loc" >>"$WS/mlf.yaml"
	cd "$WS"
	mlf-validate -q >"$T/validate.json" 2>/dev/null
	check_eq "$scheme: mlf-validate exits 78" "$?" 78
	check_eq "$scheme: ... the failing check is artifact_writable" "$("$PY" -c 'import json,sys
print(",".join(c["name"] for c in json.load(open(sys.argv[1]))["checks"] if not c["ok"] and not c.get("skipped")))' "$T/validate.json")" \
		artifact_writable
	check_grep "$scheme: ... naming the location" "$loc" "$T/validate.json"
	retrain-prep -q | retrain-run -q >"$T/run.json" 2>"$T/run.err"
	check_eq "$scheme: retrain-run exits 78" "${PIPESTATUS[1]}" 78
	case $scheme in
	s3) hint="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" ;;
	*) hint="serve-artifacts" ;;
	esac
	check_grep "$scheme: ... saying what to configure" "$hint" "$T/run.err"
	check_grep "$scheme: ... mlf-validate too" "$hint" "$T/validate.json"
	check "$scheme: ... and suggests no resume" bash -c '! grep -q -- --resume "$1"' _ "$T/run.err"
	check_eq "$scheme: no run was created in the experiment" "$("$PY" -c 'import sys; from mlflow import MlflowClient
from mlflow.entities import ViewType
print(len(MlflowClient(sys.argv[1]).search_runs([sys.argv[2]], run_view_type=ViewType.ALL)))' \
		"sqlite:///$WS/runs/mlflow/mlflow.db" "$id")" 0
	cd "$T"
done
finish
