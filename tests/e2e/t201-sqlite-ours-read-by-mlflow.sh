#!/usr/bin/env bash
# What our sqlite backend writes, the real MLflow client reads back exactly:
# experiment with an exact id and artifact location, a run with 5000+ metric
# points (NaN, +-Inf), 120 params (6000-character values, keys with '/'),
# long tags, its status and times, a dataset input, model versions, aliases.
. "$(dirname "$0")/lib.sh"

DB="$T/ws/runs/mlflow/mlflow.db"
U="sqlite:///$DB"
ART="file://$T/artifacts/exp"
drv() { "$DRIVER" --uri "$U" "$@"; }

check "driver creates the database and folders on first use" drv ping
check "database file exists" test -f "$DB"
out=$(drv create-experiment e2e-sqlite 4242 "$ART")
check_eq "experiment created with the exact id" "$out" '{"experiment_id":"4242"}'
drv create-experiment e2e-sqlite 4243 >"$T/dup.out" 2>"$T/dup.err"
check_eq "duplicate experiment name refused" "$?" 65
check_grep "message names the experiment" "e2e-sqlite" "$T/dup.err"
drv create-experiment other 4242 >/dev/null 2>&1
check_eq "duplicate experiment id refused" "$?" 65
drv create-experiment bad-id x12 >/dev/null 2>"$T/badid.err"
check_eq "non-integer experiment id refused" "$?" 65
check_grep "message says why" "not a decimal integer" "$T/badid.err"
auto=$(drv create-experiment auto-id | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["experiment_id"])')
check_eq "automatic id follows the largest" "$auto" 4243
loc=$(drv get-experiment "$auto" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["artifact_location"])')
check_eq "default artifact location is beside the database" "$loc" "file://$T/ws/runs/mlflow/4243"

drv create-run 4242 retrain-v1 type=retraining >"$T/run.json" || not_ok "create-run"
RUN=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$T/run.json")
check "run id is 32 lowercase hex" grep -Eq '^[0-9a-f]{32}$' <<<"$RUN"
py sqlite_gen_batch.py "$T/batch.json"
check "log-batch of 5000+ metrics, 120 params, long tags" drv log-batch "$RUN" "$T/batch.json"
check "re-logging the same params is fine" drv log-batch "$RUN" "$T/batch.json"
echo '{"params":[{"key":"lr","value":"0.02"}]}' >"$T/conflict.json"
drv log-batch "$RUN" "$T/conflict.json" 2>"$T/conflict.err"
check_eq "changing a param is refused" "$?" 65
check_grep "message names the param" "'lr'" "$T/conflict.err"
check "log a dataset input" drv log-dataset "$RUN" retrain_v1 0123456789abcdef local "file://$T/ws/data/retrain_v1" training
check "log the same dataset again (kept once)" drv log-dataset "$RUN" retrain_v1 0123456789abcdef local "file://$T/ws/data/retrain_v1" training
check "end the run FINISHED" drv end-run "$RUN" FINISHED

check "ensure registered model" drv ensure-registered-model yolo-retrained
check "ensure it again" drv ensure-registered-model yolo-retrained
v1=$(drv create-model-version yolo-retrained "$ART/$RUN/artifacts/model" "$RUN")
check_eq "first version" "$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps([d["version"],d["status"],d["aliases"]],separators=(",",":")))' "$v1")" '["1","READY",[]]'
drv create-model-version yolo-retrained "$ART/$RUN/artifacts/model2" "$RUN" >/dev/null
check "set alias champion -> 1" drv set-alias yolo-retrained champion 1
check "set alias challenger -> 2" drv set-alias yolo-retrained challenger 2
check "move alias challenger -> 1" drv set-alias yolo-retrained challenger 1
check "set alias candidate -> 2" drv set-alias yolo-retrained candidate 2
drv set-alias yolo-retrained latest 1 >/dev/null 2>&1
check_eq "reserved alias refused" "$?" 65
drv get-alias yolo-retrained nosuch >/dev/null 2>&1
check_eq "missing alias: not found" "$?" 66
drv get-model-version yolo-retrained 9 >/dev/null 2>&1
check_eq "missing version: not found" "$?" 66

drv create-run 4242 doomed type=retraining >"$T/run2.json"
RUN2=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$T/run2.json")
check "delete a run" drv delete-run "$RUN2"
drv search-runs 4242 type retraining >"$T/search.json"
check_eq "search-runs skips the deleted run" "$("$PY" -c 'import json,sys; print([r["run_id"] for r in json.load(open(sys.argv[1]))])' "$T/search.json")" "['$RUN']"
drv get-run nosuchrun >/dev/null 2>&1
check_eq "missing run: not found" "$?" 66

drv get-run "$RUN" >"$T/ours.json"
mkdir -p "$T/hist"
n=0
for key in $("$PY" -c 'import json,sys; print("\n".join(sorted({m["key"] for m in json.load(open(sys.argv[1]))["metrics"]})))' "$T/batch.json"); do
	drv metric-history "$RUN" "$key" >"$T/hist/$n.json"
	n=$((n + 1))
done
check "our driver reads back every value exactly" py sqlite_check_driver.py "$T/batch.json" "$T/ours.json" "$T/hist"

cat >"$T/expect.json" <<JSON
{"experiment_id": "4242", "experiment_name": "e2e-sqlite", "artifact_location": "$ART",
 "run": "$T/ours.json", "batch": "$T/batch.json", "deleted_run_id": "$RUN2",
 "dataset": {"name": "retrain_v1", "digest": "0123456789abcdef", "source_type": "local",
             "source": "file://$T/ws/data/retrain_v1", "context": "training"},
 "model": {"name": "yolo-retrained",
           "versions": [{"version": "1", "source": "$ART/$RUN/artifacts/model", "aliases": ["challenger", "champion"]},
                        {"version": "2", "source": "$ART/$RUN/artifacts/model2", "aliases": ["candidate"]}],
           "aliases": {"champion": "1", "challenger": "1", "candidate": "2"}}}
JSON
check "the real MLflow client reads every value exactly" py sqlite_read_ours.py "$DB" "$T/expect.json"
finish
