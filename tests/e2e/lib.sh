# Shared helpers for the end-to-end tests (sourced by tests/e2e/t*.sh).
#
# Each script runs the real programs from $MLF_BIN in a private temporary
# folder ($T, removed on exit), can start a real `mlflow server` on loopback,
# and reads results back with the real MLflow client ($PY).  It prints
# "ok - ..." / "not ok - ..." per check and exits 1 if any check failed.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
. scripts/versions.sh
: "${MLF_BIN:=$ROOT/build/bin}"
PY="$MLF_VENV/bin/python"
MLFLOW="$MLF_VENV/bin/mlflow"
PYLIB="$ROOT/tests/e2e/py"
export PATH="$MLF_BIN:$(dirname "$MLF_BIN")/tools:$PATH"
MLF_TOOLS=${MLF_TOOLS:-$(dirname "$MLF_BIN")/tests/tools}
DRIVER="$MLF_TOOLS/track-driver"
export PYTHONDONTWRITEBYTECODE=1
T=$(mktemp -d "${TMPDIR:-/tmp}/mlf-e2e.XXXXXX")
_failures=0
_server_pgids=()

_cleanup() {
	local pg
	for pg in "${_server_pgids[@]}"; do
		kill -TERM -- "-$pg" 2>/dev/null
	done
	for pg in "${_server_pgids[@]}"; do
		for _ in $(seq 50); do kill -0 -- "-$pg" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$pg" 2>/dev/null
	done
	chmod -R u+w "$T" 2>/dev/null
	rm -rf "$T"
}
trap _cleanup EXIT

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; _failures=$((_failures + 1)); }

# check "description" command...   passes when the command exits 0
check() {
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# check_status EXPECTED "description" command...   the command's exit status must be EXPECTED
check_status() {
	local want=$1 what=$2 rc; shift 2
	"$@"
	rc=$?
	if [ "$rc" -eq "$want" ]; then ok "$what (exit $rc)"; else not_ok "$what: exit $rc, wanted $want"; fi
}

# check_eq "description" ACTUAL EXPECTED
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: got '$2', wanted '$3'"; fi
}

# check_grep "description" PATTERN FILE
check_grep() {
	if grep -q -- "$2" "$3"; then ok "$1"; else not_ok "$1: '$2' not in $3:"; sed 's/^/    /' "$3" | head -20; fi
}

free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_mlflow_server DIR [extra mlflow server args...]
# Starts a real MLflow server (SQLite store in DIR, artifact proxy on) and sets
# MLFLOW_SERVER_URL.  The server is stopped when the script exits.
# MLF_TEST_SCHEME=https makes the URL https (pass uvicorn's TLS options along).
# MLF_SERVER_ARTIFACT_ROOT=s3://... : no proxy; clients write artifacts there directly.
start_mlflow_server() {
	local dir=$1; shift
	mkdir -p "$dir"
	local port; port=${MLF_SERVER_PORT:-$(free_port)}   # MLF_SERVER_PORT: restart on the same port
	local artifacts=(--artifacts-destination "$dir/artifacts" --serve-artifacts)
	[ -n "${MLF_SERVER_ARTIFACT_ROOT:-}" ] &&
		artifacts=(--no-serve-artifacts --default-artifact-root "$MLF_SERVER_ARTIFACT_ROOT")
	# MLF_SERVER_NICE: a server started beside a training must not starve it of CPU
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid ${MLF_SERVER_NICE:+nice -n "$MLF_SERVER_NICE"} "$MLFLOW" server \
		--backend-store-uri "sqlite:///$dir/mlflow.db" \
		"${artifacts[@]}" \
		--host 127.0.0.1 --port "$port" --workers 1 "$@" \
		>"$dir/server.log" 2>&1 &
	local pid=$!
	_server_pgids+=("$pid")
	MLFLOW_SERVER_URL="${MLF_TEST_SCHEME:-http}://127.0.0.1:$port"
	MLFLOW_SERVER_PID=$pid
	for _ in $(seq 240); do
		if "$PY" -c "import ssl,urllib.request; urllib.request.urlopen('$MLFLOW_SERVER_URL/health', timeout=1, context=ssl._create_unverified_context())" 2>/dev/null; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	echo "mlflow server did not come up; its log:" >&2
	cat "$dir/server.log" >&2
	return 1
}

# start_s3 DIR BUCKET: an S3 endpoint on loopback, moto's server (no real S3 server
# installs from the package registries), with signature checking on: its first three
# requests, unsigned, make an IAM user with a key; every later one must be signed with
# that key.  Then BUCKET is made with it.  Exports the variables MLflow's client (boto3)
# and mlf both read: MLFLOW_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_DEFAULT_REGION; sets S3_PID.  Stopped when the script exits.
start_s3() {
	local dir=$1 bucket=$2 port
	mkdir -p "$dir"
	port=$(free_port)
	INITIAL_NO_AUTH_ACTION_COUNT=3 setsid "$MLF_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" \
		>"$dir/moto.log" 2>&1 &
	S3_PID=$!
	_server_pgids+=("$S3_PID")
	# wait for the port without an HTTP request: each request would spend an unsigned action
	for _ in $(seq 100); do
		"$PY" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" \
			2>/dev/null && break
		sleep 0.2
	done
	unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION
	export AWS_SHARED_CREDENTIALS_FILE=$dir/no-credentials AWS_CONFIG_FILE=$dir/no-config
	export MLFLOW_S3_ENDPOINT_URL="http://127.0.0.1:$port" AWS_DEFAULT_REGION=us-east-1
	local keys
	keys=$("$PY" - "$MLFLOW_S3_ENDPOINT_URL" "$bucket" <<'PYEOF'
import json, sys, boto3
url, bucket = sys.argv[1], sys.argv[2]
iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                   aws_access_key_id="unsigned", aws_secret_access_key="unsigned")
iam.create_user(UserName="mlf")
key = iam.create_access_key(UserName="mlf")["AccessKey"]
iam.put_user_policy(UserName="mlf", PolicyName="s3", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
             aws_secret_access_key=key["SecretAccessKey"]).create_bucket(Bucket=bucket)
print(key["AccessKeyId"], key["SecretAccessKey"])
PYEOF
) || { echo "moto S3 did not come up; its log:" >&2; cat "$dir/moto.log" >&2; return 1; }
	export AWS_ACCESS_KEY_ID=${keys%% *} AWS_SECRET_ACCESS_KEY=${keys#* }
}

# start_mlflow_auth_server DIR: a real server with MLflow's basic-auth app.
# Admin user "admin" / password "admin-pass-1234"; new users get READ by default.
start_mlflow_auth_server() {
	local dir=$1; shift
	mkdir -p "$dir"
	cat >"$dir/basic_auth.ini" <<INI
[mlflow]
default_permission = READ
database_uri = sqlite:///$dir/basic_auth.db
admin_username = admin
admin_password = admin-pass-1234
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
	MLFLOW_AUTH_CONFIG_PATH="$dir/basic_auth.ini" MLFLOW_FLASK_SERVER_SECRET_KEY=mlf-test-only \
		start_mlflow_server "$dir" --app-name basic-auth "$@"
}

stop_mlflow_server() {
	kill -TERM -- "-$MLFLOW_SERVER_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 -- "-$MLFLOW_SERVER_PID" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL -- "-$MLFLOW_SERVER_PID" 2>/dev/null
}

# py SCRIPT ARGS...: run a Python helper from tests/e2e/py with the pinned MLflow.
py() {
	local script=$1; shift
	"$PY" "$PYLIB/$script" "$@"
}

# make_workspace DIR TRACKING_URI [CORRECTIONS_SEED]: a retraining workspace with a
# generated base dataset and 12 corrections (classes of the fixture model), the
# small trained base model, and a short training (RETRAIN_EPOCHS, default 3).
make_workspace() {
	local ws=$1 uri=$2 seed=${3:-2}
	mkdir -p "$ws/models"
	mlf-synth base "$ws/data/base" --images 40 --size 160x120 --classes cat,dog,person --seed 11 2>/dev/null &&
	mlf-synth corrections "$ws/data/corrections" --count 12 --size 160x120 --classes cat,dog,person \
		--format mixed --seed "$seed" 2>/dev/null &&
	cp "$ROOT/tests/fixtures/ckpt/yolov8-tiny-base.pt" "$ws/models/best_improved.pt" || return 1
	cat >"$ws/mlf.yaml" <<YAML
tracking_uri: $uri
experiment_id: "${RETRAIN_EXPERIMENT:-1}"
checks:
  min_free_disk_mb: 10
train:
  epochs: ${RETRAIN_EPOCHS:-3}
  imgsz: 128
  batch: 8
  args: '{"workers": 2, "warmup_epochs": 0, "close_mosaic": 0, "lr0": 0.002, "optimizer": "AdamW"}'
YAML
}

# wait_epochs VERSION N: until the workspace's runs/train/retrain_vVERSION/results.csv
# holds N epoch rows (the training is that far), or 120 s pass (then status 1).
wait_epochs() {
	local csv=runs/train/retrain_v$1/results.csv
	for _ in $(seq 1200); do
		[ -f "$csv" ] && [ $(($(wc -l <"$csv") - 1)) -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# json_get FILE KEY[.KEY...]: one value of a JSON document (strings bare).
json_get() {
	"$PY" -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v=v[int(k)] if isinstance(v,list) else v.get(k) if isinstance(v,dict) else None
print(v if not isinstance(v,(dict,list,bool)) else json.dumps(v))' "$1" "$2"
}

finish() {
	if [ "$_failures" -eq 0 ]; then echo "all checks passed"; exit 0; fi
	echo "$_failures check(s) failed"
	exit 1
}
