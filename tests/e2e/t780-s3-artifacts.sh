#!/usr/bin/env bash
# Artifacts in S3, written and read directly: a real `mlflow server` that does not
# proxy artifacts (--no-serve-artifacts --default-artifact-root s3://...) over an
# S3 endpoint on loopback.  The endpoint is moto's S3 server with signature checking
# on (no real S3 server installs from the package registries; tests/e2e/lib.sh
# start_s3).  The whole pipeline; the real MLflow client, which reaches S3 through
# boto3, lists and downloads every artifact of the run and of its MLflow Model with
# matching sha256; mlf-verify and model-locate pass; a multipart upload (a generated
# file above the 8 MiB threshold); a wrong secret key fails mlf-validate and
# retrain-run with 78 before any run exists.  (Missing credentials and unsupported
# schemes: t105.)
# needs: libtorch training
. "$(dirname "$0")/lib.sh"
set -o pipefail
BUCKET=mlf-artifacts
start_s3 "$T/s3" "$BUCKET" || { not_ok "the S3 endpoint starts"; finish; }
MLF_SERVER_ARTIFACT_ROOT=s3://$BUCKET/mlflow start_mlflow_server "$T/server" || { not_ok "mlflow server starts"; finish; }
URL=$MLFLOW_SERVER_URL
WS=$T/ws
RETRAIN_EPOCHS=2 make_workspace "$WS" "$URL"
cd "$WS"
id=$("$PY" -c 'import sys; from mlflow import MlflowClient
print(MlflowClient(sys.argv[1]).create_experiment("s3-team"))' "$URL")
sed -i "s/^experiment_id: .*/experiment_id: \"$id\"/" mlf.yaml
check_eq "the server gives the experiment an s3:// location" \
	"$("$DRIVER" get-experiment "$id" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["artifact_location"])')" \
	"s3://$BUCKET/mlflow/$id"

# check_of FILE NAME: "NAME/ok" of that check in an mlf-validate report
check_of() { "$PY" -c 'import json,sys
print(*[c["name"] + "/" + str(c["ok"]) for c in json.load(open(sys.argv[1]))["checks"] if c["name"] == sys.argv[2]])' "$1" "$2"; }
mlf-validate -q >"$T/validate.json"
check_eq "mlf-validate passes: the bucket takes a test write" "$?" 0
check_eq "... artifact_writable says so" "$(check_of "$T/validate.json" artifact_writable)" \
	"artifact_writable/True"

pipeline() { retrain-prep -q | retrain-run | mlf-verify -q >"$1"; }
check_status 0 "pipeline with artifacts in S3; mlf-verify passes" pipeline "$T/verify.json"
run=$(json_get "$T/verify.json" run_id)
sha=$(sha256sum models/retrained_v1.pt | cut -d' ' -f1)
check "run read back by MLflow: params, metrics, registry, the model's sha256" py retrain_check.py "$URL" "$run" \
	--experiment "$id" --version v1 --epochs 2 --aliases challenger,champion --model-sha "$sha"
"$DRIVER" list-artifacts "$run" >"$T/ours.json"
check "MLflow's client (boto3) lists and downloads every artifact of the run, sha256 matching" \
	py s3_artifacts_check.py "$URL" "$run" "$T/ours.json" \
	models/retrained_v1.pt=models/retrained_v1.pt \
	models/retrained_v1_metadata.json=models/retrained_v1_metadata.json \
	config/args.yaml=runs/train/retrain_v1/args.yaml plots/results.csv=runs/train/retrain_v1/results.csv \
	retraining_dataset/data.yaml=data/retrain_v1/data.yaml
model_id=$(json_get runs/train/retrain_v1/mlf_run.json logged_model.model_id)
check "... and every file of its MLflow Model" py s3_artifacts_check.py "$URL" --model "$model_id" - \
	data/retrained_v1.pt=models/retrained_v1.pt
check "an MLflow Model in S3, registered, its MLmodel read by MLflow's loaders" py logged_model_check.py \
	"$URL" "$id" "$run" s3-team v1 "$sha"
model-locate latest >"$T/locate.json"
check_eq "model-locate: every copy agrees, the S3 ones included" "$(json_get "$T/locate.json" agree)" "true"
check_eq "... the run's copy and the MLflow Model's are in S3, each hashed" "$("$PY" -c 'import json,sys
print(*sorted(l["kind"] + ":" + l["uri"][:5] + ":" + str(len(l.get("sha256", ""))) for l in json.load(open(sys.argv[1]))["locations"] if "uri" in l))' "$T/locate.json")" \
	"mlflow_artifact:s3://:64 mlflow_model:s3://:64"

# ---- a file above the multipart threshold: uploaded in parts, read back whole
head -c $((20 * 1024 * 1024 + 5)) /dev/urandom >"$T/big.bin"
check_status 0 "a 20 MiB artifact is uploaded" bash -c '"$1" log-artifact "$2" "$3" extra >/dev/null' _ \
	"$DRIVER" "$run" "$T/big.bin"
check_eq "... in 3 parts (S3's multipart ETag)" "$("$PY" -c 'import boto3,os,sys
o = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"]).head_object(Bucket=sys.argv[1], Key=sys.argv[2])
print(o["ETag"].strip("\"").split("-")[-1], o["ContentLength"])' "$BUCKET" "mlflow/$id/$run/artifacts/extra/big.bin")" \
	"3 $((20 * 1024 * 1024 + 5))"
"$DRIVER" list-artifacts "$run" >"$T/ours2.json"
check "... and MLflow downloads it whole (sha256)" py s3_artifacts_check.py "$URL" "$run" "$T/ours2.json" \
	extra/big.bin="$T/big.bin"
check_status 0 "mlf downloads it back" bash -c '"$1" download-artifact "$2" extra/big.bin "$3" >/dev/null' _ \
	"$DRIVER" "$run" "$T/big.back"
check "... byte for byte" cmp -s "$T/big.bin" "$T/big.back"

# ---- a wrong secret: found before any run exists
runs_in() { "$PY" -c 'import sys; from mlflow import MlflowClient
from mlflow.entities import ViewType
print(len(MlflowClient(sys.argv[1]).search_runs([sys.argv[2]], run_view_type=ViewType.ALL)))' "$URL" "$id"; }
before=$(runs_in)
mlf-synth corrections data/corrections --count 6 --start 100 --size 160x120 --classes cat,dog,person \
	--seed 5 2>/dev/null
AWS_SECRET_ACCESS_KEY=not-the-secret mlf-validate -q >"$T/bad.json" 2>/dev/null
check_eq "wrong secret: mlf-validate exits 78" "$?" 78
check_eq "... artifact_writable fails" "$(check_of "$T/bad.json" artifact_writable)" \
	"artifact_writable/False"
check_grep "... S3 refused the signature" "SignatureDoesNotMatch" "$T/bad.json"
check "... and no secret is printed, right or wrong" bash -c '! grep -q -e "$1" -e "$2" "$3"' _ \
	"$AWS_SECRET_ACCESS_KEY" not-the-secret "$T/bad.json"
retrain-prep -q >"$T/ds2.json"
AWS_SECRET_ACCESS_KEY=not-the-secret retrain-run -q <"$T/ds2.json" >/dev/null 2>"$T/bad.err"
check_eq "wrong secret: retrain-run exits 78" "$?" 78
check_grep "... naming the credentials to check" "AWS_SECRET_ACCESS_KEY" "$T/bad.err"
check "... and printing no secret" bash -c '! grep -q -e "$1" -e "$2" "$3"' _ "$AWS_SECRET_ACCESS_KEY" not-the-secret "$T/bad.err"
check "... suggesting no resume" bash -c '! grep -q -- --resume "$1"' _ "$T/bad.err"
check_eq "... and no run was created" "$(runs_in)" "$before"
check_status 0 "with the right secret the same dataset trains" bash -c 'retrain-run -q <"$1" >/dev/null' _ "$T/ds2.json"
finish
