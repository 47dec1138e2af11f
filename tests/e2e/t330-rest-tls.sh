#!/usr/bin/env bash
# TLS to a real MLflow server (uvicorn serving a certificate made here):
# verification is on by default, a CA bundle makes it pass, and skipping it
# takes an explicit opt-in; the two options together are refused.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mlf test CA" \
	-keyout "$T/tls/key.pem" -out "$T/tls/cert.pem" \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
check "made a self-signed certificate" test -s "$T/tls/cert.pem"

MLF_TEST_SCHEME=https start_mlflow_server "$T/server" \
	--uvicorn-opts "--ssl-keyfile $T/tls/key.pem --ssl-certfile $T/tls/cert.pem" ||
	{ not_ok "https mlflow server starts"; finish; }
case "$MLFLOW_SERVER_URL" in https://*) ok "server speaks https" ;; *) not_ok "server url $MLFLOW_SERVER_URL" ;; esac
export MLFLOW_TRACKING_URI=$MLFLOW_SERVER_URL MLFLOW_HTTP_REQUEST_MAX_RETRIES=0

"$DRIVER" ping >/dev/null 2>"$T/verify.err"
check_eq "an unknown certificate is refused by default (exit 78)" "$?" 78
check_grep "the message says how to trust it" "MLFLOW_TRACKING_SERVER_CERT_PATH" "$T/verify.err"

MLFLOW_TRACKING_SERVER_CERT_PATH="$T/tls/cert.pem" "$DRIVER" create-experiment tls-ca >"$T/ca.json"
check_eq "with the CA bundle the server is trusted" "$?" 0
check_grep "and an experiment is created" "experiment_id" "$T/ca.json"

MLFLOW_TRACKING_INSECURE_TLS=true "$DRIVER" get-experiment-by-name tls-ca >"$T/insecure.json"
check_eq "explicit insecure opt-in skips verification" "$?" 0
check_grep "and reads the experiment back" '"name":"tls-ca"' "$T/insecure.json"

MLFLOW_TRACKING_INSECURE_TLS=true MLFLOW_TRACKING_SERVER_CERT_PATH="$T/tls/cert.pem" \
	"$DRIVER" ping >/dev/null 2>"$T/both.err"
check_eq "insecure together with a CA path is a configuration error" "$?" 78
check_grep "the message names the contradiction" "contradict" "$T/both.err"

MLFLOW_TRACKING_INSECURE_TLS=maybe "$DRIVER" ping >/dev/null 2>"$T/bool.err"
check_eq "a non-boolean MLFLOW_TRACKING_INSECURE_TLS is refused" "$?" 78

finish
