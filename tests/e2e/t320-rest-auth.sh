#!/usr/bin/env bash
# REST backend against a real `mlflow server --app-name basic-auth`: wrong or missing
# credentials -> 401 -> exit 78 without the secret in the output; a user without
# permission on an experiment -> 403 -> exit 78.
. "$(dirname "$0")/lib.sh"
unset MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD MLFLOW_TRACKING_TOKEN
export MLFLOW_HTTP_REQUEST_MAX_RETRIES=0

ADMIN_PW="Adm1n-$(date +%s)-pw-xyzzy"
BOB_PW="B0b-secret-pw-plugh-42"
cat >"$T/auth.ini" <<INI
[mlflow]
default_permission = READ
database_uri = sqlite:///$T/auth.db
admin_username = admin
admin_password = $ADMIN_PW
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
export MLFLOW_AUTH_CONFIG_PATH="$T/auth.ini" MLFLOW_FLASK_SERVER_SECRET_KEY="test-only-$RANDOM$RANDOM"
start_mlflow_server "$T/srv" --app-name basic-auth || { not_ok "mlflow server started"; finish; }
export MLFLOW_TRACKING_URI=$MLFLOW_SERVER_URL

as_admin() { MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=$ADMIN_PW "$@"; }
as_admin "$DRIVER" create-experiment guarded >"$T/exp.json"
EXP=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["experiment_id"])' "$T/exp.json")
check "admin creates an experiment" test -n "$EXP"
MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=$ADMIN_PW "$PY" -c '
import sys
from mlflow.server import get_app_client
get_app_client("basic-auth", tracking_uri=sys.argv[1]).create_user("bob", sys.argv[2])' \
	"$MLFLOW_SERVER_URL" "$BOB_PW"
check "user bob created" test $? -eq 0

MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=wrong-pw-$ADMIN_PW \
	"$DRIVER" get-experiment "$EXP" >"$T/out" 2>"$T/err"
check_eq "wrong password -> 78" "$?" 78
cat "$T/err"
check_grep "names the credentials to check" "MLFLOW_TRACKING_PASSWORD" "$T/err"
check_grep "says it is a 401" "401" "$T/err"
check "no password in the output" sh -c "! grep -q -e '$ADMIN_PW' '$T/err' '$T/out'"

check_status 78 "no credentials -> 78" "$DRIVER" ping 2>"$T/err"
cat "$T/err"
check_grep "says no credentials were sent" "no credentials were sent" "$T/err"

MLFLOW_TRACKING_TOKEN=tok-$BOB_PW check_status 78 "a bearer token the server does not know -> 78" \
	"$DRIVER" get-experiment "$EXP" 2>"$T/err"
check_grep "names the token variable" "MLFLOW_TRACKING_TOKEN" "$T/err"
check "no token in the output" sh -c "! grep -q -e 'tok-' '$T/err'"

export MLFLOW_TRACKING_USERNAME=bob MLFLOW_TRACKING_PASSWORD=$BOB_PW
check_status 0 "bob may read the experiment (default READ)" "$DRIVER" get-experiment "$EXP"
check_status 78 "bob may not start a run in it -> 403 -> 78" "$DRIVER" create-run "$EXP" sneaky 2>"$T/err"
cat "$T/err"
check_grep "says it is a 403" "403" "$T/err"
check_grep "names the user" "bob" "$T/err"
check "no password in the output" sh -c "! grep -q -e '$BOB_PW' '$T/err'"
unset MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD
as_admin "$PY" -c '
import sys
from mlflow import MlflowClient
print(len(MlflowClient(tracking_uri=sys.argv[1]).search_runs([sys.argv[2]])))' "$MLFLOW_SERVER_URL" "$EXP" >"$T/n"
check_eq "no run was created" "$(cat "$T/n")" 0
finish
