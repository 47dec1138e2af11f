#!/usr/bin/env bash
# mlf-validate against a real MLflow server: --init explains server-assigned
# ids, --probe writes through the artifact proxy, an unreachable server exits
# 69 naming the URI, rejected credentials exit 78 without leaking them.
. "$(dirname "$0")/lib.sh"

start_mlflow_server "$T/server" || { not_ok "mlflow server starts"; finish; }
W=$T/ws
mkdir -p "$W"
printf 'experiment_name: nightly-rest\nchecks:\n  min_free_disk_mb: 1\n' >"$W/mlf.yaml"
SKIP="--skip base_model,corrections"
export MLFLOW_TRACKING_URI=$MLFLOW_SERVER_URL

# No experiment_id yet: --init creates the experiment by name and reports the server's id.
mlf-validate -C "$W" --init $SKIP >"$T/init.json" 2>/dev/null
check_eq "--init on a server exits 1 until the id is configured" "$?" 1
check_grep "report says which id --init created" "init created experiment .nightly-rest. with id" "$T/init.json"
id=$(py rest_validate_read.py "$MLFLOW_SERVER_URL" id-of nightly-rest)
check "the experiment exists on the server" test -n "$id"

# With the id configured, every check passes, the probe included.
mlf-validate -C "$W" -e "$id" --probe $SKIP >"$T/probe.json" 2>/dev/null
check_eq "--probe through the server exits 0" "$?" 0
check_grep "artifact location reported" "mlflow-artifacts:/$id" "$T/probe.json"
run_id=$(grep -o 'run [0-9a-f]\{32\}' "$T/probe.json" | head -1 | cut -d' ' -f2)
check_eq "MLflow sees the probe run deleted and FINISHED" \
	"$(py rest_validate_read.py "$MLFLOW_SERVER_URL" run-state "$run_id")" "deleted FINISHED"

# --init with a configured id that the server does not know: explained, nothing created.
mlf-validate -C "$W" -e 999 --init $SKIP >"$T/init2.json" 2>/dev/null
check_eq "unknown id with --init exits 1" "$?" 1
check_grep "report points at the existing experiment" "server assigns experiment ids; experiment .nightly-rest. already exists there with id $id" "$T/init2.json"

# Pinned artifact location that differs from the server's choice.
mlf-validate -C "$W" -e "$id" -s artifact_location=mlflow-artifacts:/other -q $SKIP
check_eq "different artifact location exits 1" "$?" 1

# Server down: bounded retries, then 69 with the URI in the message.
stop_mlflow_server
start=$(date +%s)
MLFLOW_HTTP_REQUEST_MAX_RETRIES=2 MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR=0.1 MLFLOW_HTTP_REQUEST_BACKOFF_JITTER=0 \
	mlf-validate -C "$W" -e "$id" $SKIP >"$T/down.json" 2>/dev/null
check_eq "server down exits 69" "$?" 69
check "gave up within 30 s" test $(( $(date +%s) - start )) -lt 30
check_grep "message names the URI" "127.0.0.1" "$T/down.json"

# Wrong credentials against the real basic-auth app: 78, secret not printed.
start_mlflow_auth_server "$T/auth" || { not_ok "auth server starts"; finish; }
MLFLOW_TRACKING_URI=$MLFLOW_SERVER_URL MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=wrong-s3cret \
	mlf-validate -C "$W" -e 0 $SKIP >"$T/auth.json" 2>"$T/auth.err"
check_eq "rejected credentials exit 78" "$?" 78
check_grep "hint names the credential variables" "MLFLOW_TRACKING_PASSWORD" "$T/auth.json"
check "the password is not printed" sh -c "! grep -q wrong-s3cret '$T/auth.json' '$T/auth.err'"

finish
