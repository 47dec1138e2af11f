#!/usr/bin/env bash
# mlf-serve end to end, with curl, over the real programs on a generated
# workspace: the token; the Python system's curl line with ?wait=true (its answer's
# fields, a run id the MLflow client finds FINISHED); the refusals (wrong experiment
# 409, bad JSON 400, oversized 413, too few corrections 422); async jobs with polling,
# a second POST queued then run, the queue bound (429); DELETE mid-training (the run
# ends KILLED, retrain-run --resume finishes it); SIGTERM to the service mid-job; a
# restart that keeps the history; model-locate's document over HTTP; corrections
# intake (multipart and JSON) checked as retrain-prep checks them, nothing written
# for a refused one.
# needs: libtorch training
. "$(dirname "$0")/lib.sh"
WS=$T/ws
RETRAIN_EPOCHS=1 make_workspace "$WS" "sqlite:///runs/mlflow/mlflow.db"
cd "$WS"
URI="sqlite:///$WS/runs/mlflow/mlflow.db"
mlf-validate --init -q >/dev/null
head -c 24 /dev/urandom | base64 >"$T/token"
TOKEN=$(cat "$T/token")
AUTH="Authorization: Bearer $TOKEN"

serve() {  # serve [options]: start mlf-serve on a free port, wait until it answers
	PORT=$(free_port)
	URL=http://127.0.0.1:$PORT
	mlf-serve --listen "127.0.0.1:$PORT" --token-file "$T/token" "$@" 2>>"$T/serve.log" &
	SERVE_PID=$!
	for _ in $(seq 100); do curl -s -o /dev/null "$URL/api/health" && return 0; sleep 0.1; done
	return 1
}
# req METHOD PATH [curl args...]: the body into $T/body, the status into $T/code
req() {
	local m=$1 p=$2; shift 2
	curl -s -o "$T/body" -w '%{http_code}' -X "$m" "$@" "$URL$p" >"$T/code"
}
field() { json_get "$T/body" "$1"; }
job_state() { curl -s -H "$AUTH" "$URL/api/jobs/$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }
wait_job() {  # wait_job ID: until it has ended; prints its state
	local s
	for _ in $(seq 1200); do
		s=$(job_state "$1")
		case $s in queued|running) sleep 0.2 ;; *) echo "$s"; return ;; esac
	done
	echo timeout
}
run_status() { "$PY" -c 'import sys; from mlflow import MlflowClient
print(MlflowClient(sys.argv[1]).get_run(sys.argv[2]).info.status)' "$URI" "$1"; }
more_corrections() {
	mlf-synth corrections data/corrections --count 8 --start "$1" --size 160x120 --classes cat,dog,person \
		--seed "$1" 2>/dev/null
}

check_status 78 "no token configured: refuses to start" env -u MLF_SERVE_TOKEN mlf-serve --listen 127.0.0.1:1
check "mlf-serve starts" serve
req GET /api/health
check_eq "GET /api/health needs no token: 200" "$(cat "$T/code")" 200
check_eq "... and carries mlf-validate's report" "$(field validation.kind)" "mlf.validation"
req GET /api/jobs
check_eq "no token: 401" "$(cat "$T/code")" 401
check_eq "... with the error shape" "$(field code) $(field status) $(field success)" "unauthorized 401 false"
req GET /api/jobs -H "Authorization: Bearer not-the-token-at-all"
check_eq "wrong token: 401" "$(cat "$T/code")" 401
req POST /api/model/retrain -H "$AUTH" -d '{"experiment_id": "401576597529460193"}'
check_eq "another experiment: 409" "$(cat "$T/code")" 409
check_eq "... saying so" "$(field code)" experiment_mismatch
req POST /api/model/retrain -H "$AUTH" -d '{"epochs": 3,'
check_eq "malformed JSON: 400" "$(cat "$T/code")" 400
req POST /api/model/retrain -H "$AUTH" -d '{"epoch": 3}'
check_eq "an unknown field: 400" "$(cat "$T/code")" 400
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big"
req POST /api/model/retrain -H "$AUTH" --data-binary @"$T/big"
check_eq "an oversized body: 413" "$(cat "$T/code")" 413

# ---- corrections intake: checked as retrain-prep checks them, written whole or not at all
mlf-synth corrections "$T/one" --count 1 --size 160x120 --classes cat,dog,person --format mlf \
	--seed 99 2>/dev/null
img=$(ls "$T"/one/*.jpg "$T"/one/*.png 2>/dev/null | head -n1)
corr=${img%.*}.json
req GET /api/corrections/status -H "$AUTH"
check_eq "GET /api/corrections/status" "$(cat "$T/code") $(field kind)" "200 mlf.corrections_status"
before=$(field corrections)
check_eq "... the threshold" "$(field min_corrections)" 5
files_before=$(find data/corrections | sort | sha256sum)
sed 's/"dog"/"horse"/; s/"cat"/"horse"/; s/"person"/"horse"/' "$corr" >"$T/bad.json"
req POST /api/corrections -H "$AUTH" -F "image=@$img" -F "correction=@$T/bad.json"
check_eq "a correction with an unknown class: 422" "$(cat "$T/code") $(field code)" "422 invalid_correction"
check_grep "... with retrain-prep's problem list" "unknown class 'horse'" "$T/body"
check_eq "... and nothing written" "$(find data/corrections | sort | sha256sum)" "$files_before"
req POST /api/corrections -H "$AUTH" -F "image=@$img;filename=../../evil.jpg" -F "correction=@$corr"
check_eq "an image name with a path: 400" "$(cat "$T/code")" 400
check_eq "... nothing written" "$(find data/corrections | sort | sha256sum)" "$files_before"
req POST /api/corrections -H "$AUTH" -F "image=@$img" -F "correction=@$corr"
check_eq "a good correction (multipart): 201" "$(cat "$T/code")" 201
check "... its files are in the corrections folder" test -s "$(field correction)"
"$PY" -c 'import base64,json,sys
c = json.load(open(sys.argv[2])); c["image"] = "sent.png" if sys.argv[1].endswith(".png") else "sent.jpg"
print(json.dumps({"image": {"name": c["image"], "data": base64.b64encode(open(sys.argv[1], "rb").read()).decode()},
                  "correction": c}))' "$img" "$corr" >"$T/intake.json"
mlf-synth corrections "$T/two" --count 1 --size 160x120 --classes cat,dog,person --format mlf \
	--seed 98 2>/dev/null
img2=$(ls "$T"/two/*.jpg "$T"/two/*.png 2>/dev/null | head -n1)
"$PY" -c 'import base64,json,sys
c = json.load(open(sys.argv[2])); c["image"] = "sent2" + sys.argv[1][sys.argv[1].rfind("."):]
print(json.dumps({"image": {"name": c["image"], "data": base64.b64encode(open(sys.argv[1], "rb").read()).decode()},
                  "correction": c}))' "$img2" "${img2%.*}.json" >"$T/intake2.json"
req POST /api/corrections -H "$AUTH" -H 'Content-Type: application/json' --data-binary @"$T/intake2.json"
check_eq "a good correction (JSON, base64): 201" "$(cat "$T/code")" 201
req POST /api/corrections -H "$AUTH" -H 'Content-Type: application/json' \
	-d '{"image": {"name": "x.jpg", "data": "@@not base64@@"}, "correction": {}}'
check_eq "an image that is not base64: 400" "$(cat "$T/code")" 400
req GET /api/corrections/status -H "$AUTH"
check_eq "the status counts the two new ones" "$(field corrections)" "$((before + 2))"
ls -a data/corrections | grep -q '^\.incoming' && not_ok "a staging folder was left" || ok "no staging folder left"

# ---- the Python system's curl line, waiting for the answer
req POST '/api/model/retrain?wait=true' -H "$AUTH" -H 'Content-Type: application/json' \
	-d '{"epochs": 1, "batch_size": 8, "experiment_id": "1"}'
check_eq "the seed's request with ?wait=true: 200" "$(cat "$T/code")" 200
cp "$T/body" "$T/seed.json"
check_eq "... success" "$(json_get "$T/seed.json" success)" true
check_eq "... experiment_id" "$(json_get "$T/seed.json" experiment_id)" 1
check_eq "... new_version, a number" "$(json_get "$T/seed.json" new_version)" 1
check "... metrics mAP50 and mAP50-95" "$PY" -c 'import json,sys; m=json.load(open(sys.argv[1]))["metrics"]
assert isinstance(m["mAP50"], float) and isinstance(m["mAP50-95"], float), m' "$T/seed.json"
check_grep "... mlflow_message" "FINISHED in experiment 1" "$T/seed.json"
run1=$(json_get "$T/seed.json" mlflow_run_id)
check_eq "the MLflow client finds its mlflow_run_id FINISHED" "$(run_status "$run1")" FINISHED
check_eq "the job's documents: the run document" "$(json_get "$T/seed.json" run.kind)" mlf.run
check_eq "... and the verification passed" "$(json_get "$T/seed.json" job.documents.verification.ok)" true

req POST '/api/model/retrain?wait=true' -H "$AUTH" -d '{}'
check_eq "too few new corrections: 422" "$(cat "$T/code")" 422
check_eq "... a skip, not a failure" "$(field skipped) $(field state)" "true skipped"
check_grep "... saying how many are needed" "needed" "$T/body"

# ---- async: 202, Location, polling; a second POST queued behind the first, then run
more_corrections 100
req POST /api/model/retrain -H "$AUTH" -D "$T/headers" -d '{"epochs": 2}'
check_eq "async: 202" "$(cat "$T/code")" 202
job1=$(field job_id)
check_grep "... Location: /api/jobs/ID" "Location: /api/jobs/$job1" "$T/headers"
req POST /api/model/retrain -H "$AUTH" -d '{}'
check_eq "a second POST while the first runs: 202" "$(cat "$T/code")" 202
job2=$(field job_id)
check_eq "... queued behind it" "$(job_state "$job2")" queued
check_eq "the first succeeds" "$(wait_job "$job1")" succeeded
check_eq "the second then runs, and finds nothing new: skipped" "$(wait_job "$job2")" skipped
req GET /api/jobs -H "$AUTH"
check_eq "GET /api/jobs lists them, newest first" "$(field jobs.0.id) $(field jobs.1.id)" "$job2 $job1"

# ---- DELETE mid-training: the run ends KILLED and can be resumed
more_corrections 200
req POST /api/model/retrain -H "$AUTH" -d '{"epochs": 12}'
job3=$(field job_id)
check "job 3 trains" wait_epochs 3 1
req DELETE "/api/jobs/$job3" -H "$AUTH"
check_eq "DELETE a running job: 202" "$(cat "$T/code")" 202
check_eq "... it ends killed" "$(wait_job "$job3")" killed
run3=$(curl -s -H "$AUTH" "$URL/api/jobs/$job3" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
check_eq "... its run KILLED in MLflow" "$(run_status "$run3")" KILLED
req DELETE "/api/jobs/$job3" -H "$AUTH"
check_eq "DELETE an ended job: 409" "$(cat "$T/code")" 409
retrain-run -q --resume v3 >"$T/resumed.json"
check_eq "retrain-run --resume v3 finishes it" "$?" 0
check_eq "... FINISHED" "$(run_status "$run3")" FINISHED

# ---- the queue bound
kill -TERM "$SERVE_PID"; wait "$SERVE_PID"
check "mlf-serve starts with --queue 1" serve --queue 1
more_corrections 300
req POST /api/model/retrain -H "$AUTH" -d '{"epochs": 12}'
job4=$(field job_id)
req POST /api/model/retrain -H "$AUTH" -d '{}'
job5=$(field job_id)
req POST /api/model/retrain -H "$AUTH" -D "$T/headers" -d '{}'
check_eq "one more than the queue holds: 429" "$(cat "$T/code")" 429
check_grep "... with Retry-After" "Retry-After" "$T/headers"
req DELETE "/api/jobs/$job5" -H "$AUTH"
check_eq "DELETE a queued job: it never runs" "$(job_state "$job5")" killed

# ---- SIGTERM to the service mid-job
check "job 4 trains" wait_epochs 4 1
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
check_eq "SIGTERM: the service exits 0" "$?" 0
check_eq "... the job's record says killed" "$(json_get "runs/serve/jobs/$job4.json" state)" killed
run4=$(json_get "runs/serve/jobs/$job4.json" run_id)
check_eq "... its run KILLED in MLflow" "$(run_status "$run4")" KILLED

# ---- a restart keeps the history
check "mlf-serve starts again" serve
check_status 75 "a second mlf-serve on the same workspace is refused" \
	mlf-serve -q --listen "127.0.0.1:$(free_port)" --token-file "$T/token"
req GET /api/jobs -H "$AUTH"
check "... and lists every earlier job" "$PY" -c 'import json,sys
ids = [j["id"] for j in json.load(open(sys.argv[1]))["jobs"]]
assert all(i in ids for i in sys.argv[2:]), ids' "$T/body" "$job1" "$job2" "$job3" "$job4" "$job5"
req GET /api/models/latest -H "$AUTH"
check_eq "GET /api/models/latest: model-locate's document" "$(cat "$T/code") $(field kind)" "200 mlf.locations"
req GET /api/models/99 -H "$AUTH"
check_eq "GET /api/models/99: 404" "$(cat "$T/code")" 404
req GET /api/nothing -H "$AUTH"
check_eq "an unknown route: 404" "$(cat "$T/code")" 404

# ---- DELETE at once: whatever program the job is in (or between two), it ends killed
more_corrections 250
req POST /api/model/retrain -H "$AUTH" -d '{"epochs": 12}'
jobq=$(field job_id)
req DELETE "/api/jobs/$jobq" -H "$AUTH"
check_eq "DELETE right after the POST: the job ends killed, never succeeded or failed" \
	"$(wait_job "$jobq")" killed
kill -TERM "$SERVE_PID"; wait "$SERVE_PID"
finish
