#!/usr/bin/env bash
# The S3 artifact client on its own (no training, so it also runs under ASan):
# track-driver against a real `mlflow server` that hands out s3:// artifact URIs
# (--no-serve-artifacts), over moto's S3 server with signature checking (no real S3
# server installs from the package registries; tests/e2e/lib.sh start_s3).  A folder
# and a file above the multipart threshold go up; MLflow's own client (boto3) lists
# them exactly as mlf does and downloads them byte for byte; mlf downloads them back;
# a folder, a missing artifact, a missing bucket, a wrong key and a profile without
# keys each get their own clear error and status.  Through a fault-injecting proxy
# (py/s3_fault_proxy.py: moto cannot be made to fail on demand), 503 SlowDown answers,
# connections dropped mid-part and a completion failing inside a 200 are retried as
# the REST calls are; a completion whose answer was lost is confirmed by the object's
# size; each time the file arrives whole.  A part refused for good aborts the upload.
. "$(dirname "$0")/lib.sh"
start_s3 "$T/s3" mlf-bucket || { not_ok "the S3 endpoint starts"; finish; }
MLF_SERVER_ARTIFACT_ROOT=s3://mlf-bucket/team start_mlflow_server "$T/srv" || { not_ok "mlflow server starts"; finish; }
export MLFLOW_TRACKING_URI=$MLFLOW_SERVER_URL
cd "$T"
exp=$("$DRIVER" create-experiment s3-client | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["experiment_id"])')
run=$("$DRIVER" create-run "$exp" upload | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
check "a run with an s3:// artifact URI" test -n "$run"

mkdir -p tree/sub/deeper
printf 'a\n' >tree/a.txt
printf 'b b\n' >"tree/sub/with space & plus+.txt"
: >tree/sub/deeper/empty.bin
head -c $((9 * 1024 * 1024)) /dev/urandom >big.bin   # just above the 8 MiB threshold: 2 parts
check_status 0 "a folder is uploaded" bash -c '"$1" log-artifact "$2" tree >/dev/null' _ "$DRIVER" "$run"
check_status 0 "a 9 MiB file is uploaded in parts" bash -c '"$1" log-artifact "$2" big.bin blobs >/dev/null' _ "$DRIVER" "$run"
"$DRIVER" list-artifacts "$run" >ours.json
check_eq "mlf lists files and their folders, sizes exact" "$("$PY" -c 'import json,sys
print(" ".join(e["path"] + ("/" if e["is_dir"] else ":" + str(e["size"])) for e in json.load(open(sys.argv[1]))))' ours.json)" \
	"blobs/ blobs/big.bin:9437184 tree/ tree/a.txt:2 tree/sub/ tree/sub/deeper/ tree/sub/deeper/empty.bin:0 tree/sub/with space & plus+.txt:4"
check "MLflow's client lists the same and downloads each byte for byte" py s3_artifacts_check.py \
	"$MLFLOW_SERVER_URL" "$run" ours.json blobs/big.bin=big.bin "tree/sub/with space & plus+.txt=tree/sub/with space & plus+.txt"
"$DRIVER" list-artifacts "$run" tree/sub >sub.json
check_eq "listing a folder: paths stay relative to the run's root" "$("$PY" -c 'import json,sys
print(" ".join(e["path"] for e in json.load(open(sys.argv[1]))))' sub.json)" \
	"tree/sub/deeper tree/sub/deeper/empty.bin tree/sub/with space & plus+.txt"
check_status 0 "mlf downloads the multipart file" bash -c '"$1" download-artifact "$2" blobs/big.bin back.bin >/dev/null' _ "$DRIVER" "$run"
check "... byte for byte" cmp -s big.bin back.bin
mkdir -p into
check_status 0 "into a folder: under its own name" bash -c '"$1" download-artifact "$2" "tree/sub/with space & plus+.txt" into >/dev/null' _ "$DRIVER" "$run"
check "... byte for byte" cmp -s "tree/sub/with space & plus+.txt" "into/with space & plus+.txt"

"$DRIVER" download-artifact "$run" tree out 2>err.txt >/dev/null
check_eq "a folder cannot be downloaded as a file: 65" "$?" 65
check_grep "... saying it is a folder" "is a folder" err.txt
"$DRIVER" download-artifact "$run" tree/nope.txt out 2>err.txt >/dev/null
check_eq "a missing artifact: 66" "$?" 66
check_grep "... naming it and the run's S3 location" "tree/nope.txt' does not exist in s3://mlf-bucket/team/" err.txt
check "... and nothing, not even a temporary file, is left" bash -c '! ls -a | grep -q "^out"'

run2=$("$DRIVER" create-run "$exp" gone | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
AWS_SECRET_ACCESS_KEY=wrong "$DRIVER" log-artifact "$run2" tree 2>err.txt >/dev/null
check_eq "a wrong secret key: 78" "$?" 78
check_grep "... S3 refused the signature" "SignatureDoesNotMatch" err.txt
check "... no secret printed" bash -c '! grep -q -e "$1" -e wrong "$2"' _ "$AWS_SECRET_ACCESS_KEY" err.txt
(unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
printf '[default]\nregion = us-east-1\n' >"$AWS_CONFIG_FILE"
AWS_PROFILE=nightly "$DRIVER" log-artifact "$run2" tree 2>err.txt >/dev/null; echo $? >rc)
check_eq "a profile that does not exist: 78" "$(cat rc)" 78
check_grep "... naming it and the files looked in" "profile 'nightly'" err.txt
exp3=$("$DRIVER" create-experiment no-bucket - s3://no-such-bucket/x | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["experiment_id"])')
run3=$("$DRIVER" create-run "$exp3" nobucket | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
"$DRIVER" log-artifact "$run3" big.bin 2>err.txt >/dev/null
check_eq "a bucket that does not exist: 78" "$?" 78
check_grep "... saying so" "bucket 'no-such-bucket' does not exist" err.txt

# ---- faults a real endpoint cannot be made to produce: a proxy in front of moto
export MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR=0.1 MLFLOW_HTTP_REQUEST_BACKOFF_JITTER=0
moto_port=${MLFLOW_S3_ENDPOINT_URL##*:}
for mode in slowdown drop-part complete-error complete-lost; do
	rm -f "proxy-$mode.port"
	setsid "$PY" "$PYLIB/s3_fault_proxy.py" "$T/proxy-$mode.port" "$T/proxy-$mode.log" "$moto_port" "$mode" \
		>"$T/proxy-$mode.out" 2>&1 &
	_server_pgids+=("$!")
	for _ in $(seq 100); do [ -s "proxy-$mode.port" ] && break; sleep 0.1; done
	MLFLOW_S3_ENDPOINT_URL=http://127.0.0.1:$(cat "proxy-$mode.port") "$DRIVER" log-artifact "$run" big.bin "$mode" \
		>/dev/null 2>"$mode.err"
	check_eq "$mode: the 2-part upload succeeds" "$?" 0
	case $mode in
	slowdown) want="503 answers retried: 4" ;;
	drop-part) want="dropped part uploads retried: 2" ;;
	complete-error) want="completions: 200-error 200" ;;  # a failure inside a 200, retried
	complete-lost) want="completions: 200-lost 404, then HEAD 200" ;;
	esac
	check_eq "$mode: ... after the faults were retried" "$("$PY" -c 'import json,sys
lines = [json.loads(l) for l in open(sys.argv[1])]
if sys.argv[2] == "slowdown": print("503 answers retried:", sum(l["what"] == "503" for l in lines))
elif sys.argv[2] == "drop-part": print("dropped part uploads retried:", sum(l["what"] == "dropped" for l in lines))
else:
    heads = ["HEAD " + l["what"] for l in lines if l["method"] == "HEAD"]
    print("completions:", " ".join(l["what"] for l in lines if l["complete"]) + (", then " + " ".join(heads) if heads else ""))' "proxy-$mode.log" "$mode")" "$want"
	"$DRIVER" download-artifact "$run" "$mode/big.bin" "back-$mode.bin" >/dev/null
	check "$mode: ... and the object is whole" cmp -s big.bin "back-$mode.bin"
done
# a part refused for good: the upload fails and is aborted, leaving neither object nor parts
rm -f proxy-deny.port
setsid "$PY" "$PYLIB/s3_fault_proxy.py" "$T/proxy-deny.port" "$T/proxy-deny.log" "$moto_port" deny-part \
	>"$T/proxy-deny.out" 2>&1 &
_server_pgids+=("$!")
for _ in $(seq 100); do [ -s proxy-deny.port ] && break; sleep 0.1; done
MLFLOW_S3_ENDPOINT_URL=http://127.0.0.1:$(cat proxy-deny.port) "$DRIVER" log-artifact "$run" big.bin denied \
	>/dev/null 2>deny.err
check_eq "a part refused (403): the upload fails with 78" "$?" 78
check_grep "... naming the refusal" "AccessDenied" deny.err
check_eq "... and is aborted: no object, no open multipart upload" "$("$PY" -c 'import boto3,os
s3 = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"])
objs = s3.list_objects_v2(Bucket="mlf-bucket", Prefix="team/").get("Contents", [])
print(sum(o["Key"].endswith("/denied/big.bin") for o in objs), len(s3.list_multipart_uploads(Bucket="mlf-bucket").get("Uploads", [])))')" "0 0"
finish
