#!/usr/bin/env bash
# File store: what our driver writes, the real MLflow client and `mlflow server` read
# back exactly (ids, params, tags, 5,000+ metric points with NaN/Inf, artifacts,
# dataset input), and the meta.yaml files keep MLflow's types.
. "$(dirname "$0")/lib.sh"
export MLFLOW_ALLOW_FILE_STORE=true

ROOT_DIR="$T/mlruns"
URI="file://$ROOT_DIR"
drv() { "$DRIVER" --uri "$URI" --workspace "$T" "$@"; }
drv_to() { local out=$1; shift; drv "$@" >"$out"; }  # inside check: keep "ok" lines out of OUT
jget() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])' "$@"; }

mkdir -p "$T/gen"
check "generate test data" py file_check.py gen "$T/gen"

# A leading-zero id: YAML 1.1 would read a plain 0123 as the octal number 83.
check "create experiment with exact id 0123" drv_to "$T/exp.json" create-experiment "e2e file exp" 0123 "$T/art-root"
check_eq "experiment id kept" "$(jget "$T/exp.json" experiment_id)" "0123"
check_status 65 "same name again is refused" drv create-experiment "e2e file exp" 0124
check_status 65 "same id again is refused" drv create-experiment "other" 0123
check_status 65 "id with a path in it is refused" drv create-experiment "evil" "../x"
check "create experiment 1e5 (a float in YAML 1.1)" drv_to /dev/null create-experiment "float-like" 1e5
check "create experiment with a random id" drv_to "$T/exp2.json" create-experiment "random id"
rid2=$(jget "$T/exp2.json" experiment_id)
check "random id has 18 digits" grep -Eq '^[1-9][0-9]{17}$' <<<"$rid2"
check_eq "default experiment 0 exists" "$(drv get-experiment 0 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["name"])')" "Default"

check "create run" drv_to "$T/run.json" create-run 0123 "file-run" origin=driver
RUN=$(jget "$T/run.json" run_id)
check "log batch 1 (params, tags, metrics)" drv log-batch "$RUN" "$T/gen/batch1.json"
check "log batch 2 (same params again, more metrics)" drv log-batch "$RUN" "$T/gen/batch2.json"
echo '{"params":[{"key":"nested/a/b","value":"changed"}]}' >"$T/conflict.json"
check_status 65 "changing a param is refused" drv log-batch "$RUN" "$T/conflict.json" 2>"$T/conflict.err"
check_grep "error names the param" "nested/a/b" "$T/conflict.err"

# artifacts: two files (one binary) and a folder
mkdir -p "$T/src/folder/deep"
printf 'hello artifacts\n' >"$T/src/hello.txt"
head -c 300000 /dev/urandom >"$T/src/blob.bin"
printf 'deep file' >"$T/src/folder/deep/d.txt"
printf '' >"$T/src/folder/empty.txt"
check "log artifact file" drv log-artifact "$RUN" "$T/src/hello.txt"
check "log artifact file under a folder" drv log-artifact "$RUN" "$T/src/blob.bin" "bin/x"
check "log artifact folder" drv log-artifact "$RUN" "$T/src/folder" "tree"
check_status 64 "artifact dir with .. is refused" drv log-artifact "$RUN" "$T/src/hello.txt" "../escape"
check "list artifacts" drv_to "$T/arts.json" list-artifacts "$RUN"
check "log dataset input" drv log-dataset "$RUN" coco128 0123abcd local /data/coco128 training
check "end run FINISHED" drv end-run "$RUN" FINISHED
check "get run" drv_to "$T/getrun.json" get-run "$RUN"

"$PY" - "$T" "$RUN" <<'EOF'
import json, os, sys
T, run = sys.argv[1], sys.argv[2]
spec = json.load(open(f"{T}/gen/spec.json"))
r = json.load(open(f"{T}/getrun.json"))
arts = json.load(open(f"{T}/arts.json"))
local = {"hello.txt": "src/hello.txt", "bin/x/blob.bin": "src/blob.bin",
         "tree/folder/deep/d.txt": "src/folder/deep/d.txt", "tree/folder/empty.txt": "src/folder/empty.txt"}
for a in arts:
    if not a["is_dir"]:
        a["local"] = os.path.join(T, local[a["path"]])
spec.update(experiment_id="0123", experiment_name="e2e file exp",
            experiment_artifact_location=T + "/art-root",
            run_id=run, run_name="file-run", artifact_uri=r["artifact_uri"],
            start_time=r["start_time"], end_time=r["end_time"], artifacts=arts,
            dataset=["coco128", "0123abcd", "local", "/data/coco128"], dataset_context="training")
json.dump(spec, open(f"{T}/spec.json", "w"))
EOF
check_eq "artifact_uri derives from the explicit location" "$(jget "$T/getrun.json" artifact_uri)" "$T/art-root/$RUN/artifacts"
# A relative local location is made absolute (against the workspace), as MLflow does with its CWD.
check "experiment with a relative artifact location" drv_to /dev/null create-experiment "relative loc" - rel/art
check_eq "relative location made absolute" "$(drv get-experiment-by-name "relative loc" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["artifact_location"])')" "$T/rel/art"
check_eq "artifact list" "$("$PY" -c 'import json,sys; print(" ".join("%s:%d:%d" % (a["path"], a["is_dir"], a["size"]) for a in json.load(open(sys.argv[1]))))' "$T/arts.json")" \
	"bin:1:-1 bin/x:1:-1 bin/x/blob.bin:0:300000 hello.txt:0:16 tree:1:-1 tree/folder:1:-1 tree/folder/deep:1:-1 tree/folder/deep/d.txt:0:9 tree/folder/empty.txt:0:0"
check "downloaded artifact is byte-identical" drv download-artifact "$RUN" bin/x/blob.bin "$T/dl.bin"
check "download bytes" cmp "$T/src/blob.bin" "$T/dl.bin"

check "MLflow client reads every value exactly" py file_check.py read "$URI" "$T/spec.json"
check "meta.yaml keeps MLflow's types" py file_check.py yaml "$ROOT_DIR" 0123 "$RUN"
check "1e5 experiment reads back as a string id" "$PY" -c '
import os, sys; os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
from mlflow import MlflowClient
e = MlflowClient(tracking_uri=sys.argv[1]).get_experiment("1e5")
sys.exit(0 if e.experiment_id == "1e5" and e.name == "float-like" else 1)' "$URI"

# Byte-level: metric lines exactly as MLflow writes them.
RUNDIR="$ROOT_DIR/0123/$RUN"
check_eq "first loss lines" "$(head -n 4 "$RUNDIR/metrics/loss")" "1700000000000 0.1 -3
1700000000004 1e-05 -2
1700000000008 0.3333333333333333 -1
1700000000012 1e+300 0"
check_eq "nan/inf/-inf lines" "$(sed -n '10,12p' "$RUNDIR/metrics/loss")" "1700000000036 nan 6
1700000000040 inf 7
1700000000044 -inf 8"
check "every metric line as MLflow writes it (str(float))" py file_check.py lines "$RUNDIR" "$T/spec.json"
check_eq "metric line count" "$(cat "$RUNDIR/metrics/loss" "$RUNDIR/metrics/lr" "$RUNDIR/metrics/val/box loss" "$RUNDIR/metrics/metrics/mAP50-95" | wc -l)" "5200"
check_eq "param value has no trailing newline" "$(od -An -c "$RUNDIR/params/yes" | tr -d ' \n')" "no"
check "params/ tags/ metrics/ artifacts/ exist" test -d "$RUNDIR/params" -a -d "$RUNDIR/tags" -a -d "$RUNDIR/metrics" -a -d "$RUNDIR/artifacts"
check "dataset record" test -f "$ROOT_DIR/0123/datasets/$(printf '%s' coco1280123abcd | md5sum | cut -c1-32)/meta.yaml"

# search and delete
check_eq "search-runs finds the run" "$(drv search-runs 0123 origin driver | "$PY" -c 'import json,sys; print(" ".join(r["run_id"] for r in json.load(sys.stdin)))')" "$RUN"

# mlflow server over the same file store
PORT=$(free_port)
MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$MLFLOW" server --backend-store-uri "$URI" \
	--host 127.0.0.1 --port "$PORT" --workers 1 >"$T/server.log" 2>&1 &
_server_pgids+=("$!")
for _ in $(seq 240); do
	"$PY" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/health', timeout=1)" 2>/dev/null && break
	sleep 0.5
done
check "mlflow server serves the file store" py file_check.py rest "http://127.0.0.1:$PORT" "$T/spec.json"

check "delete run" drv delete-run "$RUN"
check_eq "deleted run is not searched" "$(drv search-runs 0123 origin driver)" "[]"
check_eq "deleted run reads back deleted" "$(drv get-run "$RUN" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["lifecycle_stage"])')" "deleted"
check "MLflow sees it deleted" "$PY" -c '
import os, sys; os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
from mlflow import MlflowClient
r = MlflowClient(tracking_uri=sys.argv[1]).get_run(sys.argv[2])
sys.exit(0 if r.info.lifecycle_stage == "deleted" else 1)' "$URI" "$RUN"
finish
