#!/usr/bin/env bash
# REST backend against a real `mlflow server` (SQLite behind it, artifact proxy on):
# everything track-driver writes is read back exactly by the real MLflow client, and
# everything the real client writes is read back exactly by track-driver.
. "$(dirname "$0")/lib.sh"

start_mlflow_server "$T/srv" || { not_ok "mlflow server started"; finish; }
export MLFLOW_TRACKING_URI=$MLFLOW_SERVER_URL
unset MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD MLFLOW_TRACKING_TOKEN
jget() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d"+sys.argv[2]))' "$@"; }

check_status 0 "ping" "$DRIVER" ping
"$DRIVER" create-experiment rest-e2e >"$T/exp.json"
EXP=$(jget "$T/exp.json" '["experiment_id"]')
check "experiment created" test -n "$EXP"
check_status 78 "create-experiment with an explicit id is refused" \
	"$DRIVER" create-experiment other 123456 2>"$T/err"
check_grep "the message says the server assigns ids" "assigns experiment ids" "$T/err"
check_status 65 "creating an existing experiment name fails" "$DRIVER" create-experiment rest-e2e
"$DRIVER" get-experiment-by-name rest-e2e >"$T/exp2.json"
check_eq "get-experiment-by-name" "$(jget "$T/exp2.json" '["experiment_id"]')" "$EXP"
check_eq "artifact location is the proxy" "$(jget "$T/exp2.json" '["artifact_location"]')" \
	"mlflow-artifacts:/$EXP"
check_status 66 "unknown experiment -> 66" "$DRIVER" get-experiment 987654

# ---- a run logged by us, read by MLflow ----
"$DRIVER" create-run "$EXP" retrain-v1 stage=nightly >"$T/run.json"
RID=$(jget "$T/run.json" '["run_id"]')
check_eq "new run is RUNNING" "$(jget "$T/run.json" '["status"]')" RUNNING
py rest_batch.py "$T/batch.json"
check_status 0 "log-batch (5,252 metrics, 123 params, 3 tags)" "$DRIVER" log-batch "$RID" "$T/batch.json"
check_status 0 "end-run FINISHED" "$DRIVER" end-run "$RID" FINISHED
check "MLflow client reads exactly what we logged" \
	py rest_verify_run.py "$MLFLOW_SERVER_URL" "$RID" "$T/batch.json" retrain-v1 FINISHED
"$DRIVER" get-run "$RID" >"$T/ours.json"
"$DRIVER" metric-history "$RID" train/loss >"$T/h1.json"
"$DRIVER" metric-history "$RID" tiny >"$T/h2.json"
check "our reads equal the MLflow client's" py rest_compare_driver.py "$MLFLOW_SERVER_URL" "$RID" \
	"$T/ours.json" train/loss "$T/h1.json" tiny "$T/h2.json"

"$DRIVER" search-runs "$EXP" stage nightly >"$T/s1.json"
check_eq "search by tag finds the run" "$(jget "$T/s1.json" '[0]["run_id"]')" "$RID"
"$DRIVER" search-runs "$EXP" stage >"$T/s2.json"
check_eq "search by tag key (any value)" "$(jget "$T/s2.json" '.__len__()')" 1
"$DRIVER" search-runs "$EXP" stage "it's" >"$T/s3.json"
check_eq "search with a quote in the value" "$(jget "$T/s3.json" '.__len__()')" 0

# ---- artifacts through the mlflow-artifacts proxy ----
mkdir -p "$T/art/sub dir" && echo "hello" >"$T/art/a.txt" && printf 'x%.0s' $(seq 100) >"$T/art/sub dir/b% +&=.txt"
check_status 0 "log a folder" "$DRIVER" log-artifact "$RID" "$T/art" data
head -c 104857600 /dev/urandom >"$T/big.bin"
head -c 1000 /dev/urandom >>"$T/big.bin"
check_status 0 "log a 100 MB file" py rest_rss.py "$T/rss" "$DRIVER" log-artifact "$RID" "$T/big.bin" weights
rss=$(cat "$T/rss")
check "peak RSS of the upload ($rss KiB) stays far below the file size" test "$rss" -lt 40960
"$DRIVER" list-artifacts "$RID" >"$T/list.json"
check_eq "listing" "$("$PY" -c 'import json,sys; print(" ".join("%s:%s:%s" % (e["path"], int(e["is_dir"]), e["size"]) for e in json.load(open(sys.argv[1]))))' "$T/list.json")" \
	"data:1:-1 data/art:1:-1 data/art/a.txt:0:6 data/art/sub dir:1:-1 data/art/sub dir/b% +&=.txt:0:100 weights:1:-1 weights/big.bin:0:104858600"
cat >"$T/art.py" <<'PY'
import hashlib, sys
from mlflow import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
paths = sorted(f.path for f in c.list_artifacts(sys.argv[2], "data/art"))
print(paths)
p = c.download_artifacts(sys.argv[2], "weights/big.bin", sys.argv[3])
h = hashlib.sha256()
with open(p, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
print(h.hexdigest())
PY
mkdir -p "$T/dl-py"
"$PY" "$T/art.py" "$MLFLOW_SERVER_URL" "$RID" "$T/dl-py" >"$T/art.out"
check_eq "MLflow lists our folder" "$(sed -n 1p "$T/art.out")" "['data/art/a.txt', 'data/art/sub dir']"
want_sha=$(sha256sum "$T/big.bin" | cut -d' ' -f1)
check_eq "the 100 MB file arrived byte for byte (sha256)" "$(sed -n 2p "$T/art.out")" "$want_sha"
check_status 0 "download the big file" "$DRIVER" download-artifact "$RID" weights/big.bin "$T/big.back"
check_eq "our download is byte for byte" "$(sha256sum "$T/big.back" | cut -d' ' -f1)" "$want_sha"
check_status 0 "download a file with odd characters" \
	"$DRIVER" download-artifact "$RID" "data/art/sub dir/b% +&=.txt" "$T/b.back"
check "its bytes" cmp -s "$T/b.back" "$T/art/sub dir/b% +&=.txt"
check_status 66 "download of a missing artifact -> 66" "$DRIVER" download-artifact "$RID" nope "$T/x"

# ---- registry and dataset input ----
check_status 0 "ensure registered model" "$DRIVER" ensure-registered-model yolo-det
check_status 0 "ensure registered model again (exists is fine)" "$DRIVER" ensure-registered-model yolo-det
"$DRIVER" create-model-version yolo-det "mlflow-artifacts:/$EXP/$RID/artifacts/weights" "$RID" >"$T/mv.json"
check_eq "model version 1 READY" "$(jget "$T/mv.json" '["version"]'):$(jget "$T/mv.json" '["status"]')" "1:READY"
check_status 0 "set alias" "$DRIVER" set-alias yolo-det champion 1
"$DRIVER" get-alias yolo-det champion >"$T/alias.json"
check_eq "get alias" "$(jget "$T/alias.json" '["version"]')" 1
check_status 66 "missing alias -> 66" "$DRIVER" get-alias yolo-det nobody
check_status 0 "log dataset input" "$DRIVER" log-dataset "$RID" retrain_v1 d1g3st local /data/retrain_v1 training
cat >"$T/reg.py" <<'PY'
import sys
from mlflow import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1], registry_uri=sys.argv[1])
mv = c.get_model_version_by_alias("yolo-det", "champion")
print(mv.version, mv.run_id, mv.source, mv.status)
run = c.get_run(sys.argv[2])
for d in run.inputs.dataset_inputs:
    print(d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.source,
          [(t.key, t.value) for t in d.tags])
PY
"$PY" "$T/reg.py" "$MLFLOW_SERVER_URL" "$RID" >"$T/reg.out"
check_eq "MLflow reads the alias" "$(sed -n 1p "$T/reg.out")" \
	"1 $RID mlflow-artifacts:/$EXP/$RID/artifacts/weights READY"
check_eq "MLflow reads the dataset input" "$(sed -n 2p "$T/reg.out")" \
	"retrain_v1 d1g3st local /data/retrain_v1 [('mlflow.data.context', 'training')]"

# ---- a run logged by the real client, read by us ----
mkdir -p "$T/pyart" && echo "from python" >"$T/pyart/readme.txt"
PRID=$(py rest_python_logs.py "$MLFLOW_SERVER_URL" "$EXP" "$T/pyart" | tail -n 1)
"$DRIVER" get-run "$PRID" >"$T/py-ours.json"
"$DRIVER" metric-history "$PRID" py/loss >"$T/py-h.json"
check "we read the client's run exactly" py rest_compare_driver.py "$MLFLOW_SERVER_URL" "$PRID" \
	"$T/py-ours.json" py/loss "$T/py-h.json"
check_eq "its status" "$(jget "$T/py-ours.json" '["status"]')" KILLED
check_eq "its 6000-character param" "$(jget "$T/py-ours.json" '["params"]["path/like"].__len__()')" 6000
"$DRIVER" list-artifacts "$PRID" >"$T/py-list.json"
check_eq "we list its artifacts" "$(jget "$T/py-list.json" '[1]["path"]')" inputs/readme.txt
check_status 0 "we download its artifact" "$DRIVER" download-artifact "$PRID" inputs/readme.txt "$T/readme.back"
check "its bytes" cmp -s "$T/readme.back" "$T/pyart/readme.txt"

# ---- delete ----
check_status 0 "delete-run" "$DRIVER" delete-run "$PRID"
"$DRIVER" get-run "$PRID" >"$T/del.json"
check_eq "deleted run's lifecycle" "$(jget "$T/del.json" '["lifecycle_stage"]')" deleted
"$DRIVER" search-runs "$EXP" origin python >"$T/s4.json"
check_eq "deleted runs are not found by search" "$(jget "$T/s4.json" '.__len__()')" 0
finish
