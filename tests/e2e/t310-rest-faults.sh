#!/usr/bin/env bash
# REST backend faults: no server listening, and (with a fake server, see
# py/rest_fake_server.py) 429/503 with Retry-After and a create-run whose answer is lost.
. "$(dirname "$0")/lib.sh"
unset MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD MLFLOW_TRACKING_TOKEN
export MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR=0 MLFLOW_HTTP_REQUEST_BACKOFF_JITTER=0

# ---- nobody listening: bounded retries, then 69 naming the URL ----
port=$(free_port)
start=$(date +%s)
MLFLOW_HTTP_REQUEST_MAX_RETRIES=3 MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR=0.2 \
	check_status 69 "server down -> 69" "$DRIVER" --uri "http://u:s3cret@127.0.0.1:$port" get-experiment 1 2>"$T/err"
elapsed=$(( $(date +%s) - start ))
check "gave up within a bounded time (${elapsed}s)" test "$elapsed" -le 10
cat "$T/err"
check_grep "message names the URL" "127.0.0.1:$port" "$T/err"
check_grep "message says how many attempts" "after 4 attempts" "$T/err"
check "no password in the message" sh -c "! grep -q s3cret '$T/err'"

start_fake() {  # MODE
	rm -f "$T/port" "$T/log"
	setsid "$PY" "$PYLIB/rest_fake_server.py" "$T/port" "$T/log" "$1" >"$T/fake.log" 2>&1 &
	_server_pgids+=("$!")
	FAKE_PID=$!
	for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
	export MLFLOW_TRACKING_URI="http://127.0.0.1:$(cat "$T/port")"
}
stop_fake() { kill -TERM -- "-$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; }
gaps() {  # the seconds between logged requests, rounded down to tenths
	"$PY" -c 'import json,sys
t=[json.loads(l)["t"] for l in open(sys.argv[1])]
print(" ".join("%.1f" % (int((b-a)*10)/10) for a,b in zip(t,t[1:])))' "$T/log"
}

# ---- 429 then 503, each with Retry-After: honoured ----
start_fake retry-after
check_status 0 "429 and 503 with Retry-After, then success" "$DRIVER" get-experiment 7
check_eq "three requests" "$(wc -l <"$T/log")" 3
read -r g1 g2 <<<"$(gaps)"
check "waited Retry-After 2 s after the 429 (${g1}s)" "$PY" -c "import sys; sys.exit(not 1.9 <= $g1 < 3.5)"
check "waited Retry-After 1 s after the 503 (${g2}s)" "$PY" -c "import sys; sys.exit(not 0.9 <= $g2 < 2.5)"
stop_fake

# ---- always 503: bounded ----
start_fake always-503
MLFLOW_HTTP_REQUEST_MAX_RETRIES=2 check_status 69 "a server that stays 503 -> 69" "$DRIVER" get-experiment 7 2>"$T/err"
check_eq "1 + 2 retries" "$(wc -l <"$T/log")" 3
check_grep "message says how many attempts" "after 3 attempts" "$T/err"
stop_fake

# ---- create-run: the first answer is lost, the run exists: exactly one run ----
start_fake drop-create
"$DRIVER" create-run 1 lost-answer >"$T/run.json"
check_eq "create-run survives a dropped answer (exit status)" "$?" 0
"$PY" -c 'import json,sys,urllib.request
runs=json.load(urllib.request.urlopen(sys.argv[1]+"/_fake/runs"))["runs"]
print(len(runs), runs[0] if runs else "")' "$MLFLOW_TRACKING_URI" >"$T/runs"
rid=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$T/run.json" 2>/dev/null)
check_eq "exactly one run, and it is the one we report" "$(cat "$T/runs")" "1 $rid"
check_grep "it looked before resending" "runs/search" "$T/log"
stop_fake

# ---- create-run: a 500 that did nothing: looked, found nothing, sent again ----
start_fake error-create
"$DRIVER" create-run 1 after-500 >"$T/run.json"
check_eq "create-run after a 500 (exit status)" "$?" 0
"$PY" -c 'import json,sys,urllib.request
print(len(json.load(urllib.request.urlopen(sys.argv[1]+"/_fake/runs"))["runs"]))' "$MLFLOW_TRACKING_URI" >"$T/runs"
check_eq "exactly one run" "$(cat "$T/runs")" 1
check_eq "create, search, create" "$("$PY" -c 'import json,sys
print(" ".join(json.loads(l)["path"].rsplit("/",2)[-2]+"/"+json.loads(l)["path"].rsplit("/",1)[-1] for l in open(sys.argv[1]) if "_fake" not in l))' "$T/log")" \
	"runs/create runs/search runs/create"
stop_fake
finish
