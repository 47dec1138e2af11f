#!/usr/bin/env bash
# Crash points (mlf/base.h's failpoints): the torture test over a sample of
# the write points of a night (scripts/torture runs them all) and over the
# cases where it once found bugs: kill -9 before the first mlf_run.json (an
# empty folder, exit 73 for ever), a dead RUNNING run on a night with nothing
# new, best.pt/last.pt and the final plots, a temporary file in the artifact
# store, mlf_run.json after FINISHED, the aliases moved; and the
# registry's aliases: moved only at the end of step 12, put back where they
# were when the run fails there (set back on the SQLite store, removed through
# a real MLflow server when there was none), read back with the MLflow client.
# needs: libtorch training
. "$(dirname "$0")/lib.sh"

# ---- the torture test, a sample: each case a fault, its checks, and the next night
scripts/torture --sample "${MLF_TORTURE_SAMPLE:-24}" >"$T/torture.log" 2>&1
rc=$?
sed 's/^/    /' "$T/torture.log" | grep -v '^    ok ' | tail -40
check_eq "torture sample: exit 0" "$rc" "0"
check_grep "torture sample: every case tried" "^torture: ${MLF_TORTURE_SAMPLE:-24} case(s) tried" "$T/torture.log"
check_grep "torture sample: no invariant broken" " 0 invariant(s) broken" "$T/torture.log"
check_eq "torture sample: a line per case" "$(grep -c '^ok ' "$T/torture.log")" "${MLF_TORTURE_SAMPLE:-24}"

# ---- the cases where the torture test found bugs, every time (see the commit that fixed them)
found=run:2:kill,pre_eval:3:kill,train:7:kill,train:12:enospc,dataset:3:kill,finished:1:enospc,publish:7:kill
scripts/torture --only "$found" >"$T/found.log" 2>&1
rc=$?
sed 's/^/    /' "$T/found.log" | grep -v '^    ok ' | tail -20
check_eq "torture, the cases that once failed: exit 0" "$rc" "0"
check_eq "... all 7 tried and passed" "$(grep -c '^ok ' "$T/found.log")" "7"

# alias_of STORE ALIAS: the version ALIAS names (or "none") in the registered model
# of the store's experiment $EXP_NAME (mlf's default model name is the experiment's)
alias_of() { "$PY" -c 'import sys; from mlflow import MlflowClient
c = MlflowClient(sys.argv[1], registry_uri=sys.argv[1])
try: print(c.get_model_version_by_alias(sys.argv[3], sys.argv[2]).version)
except Exception: print("none")' "$1" "$2" "$EXP_NAME"; }
run_status() { "$PY" -c 'import sys; from mlflow import MlflowClient
print(MlflowClient(sys.argv[1]).get_run(sys.argv[2]).info.status)' "$1" "$2"; }
# end_run_point: the failpoint number of "ending the run" in step 12 (from a trace)
end_run_point() { awk '$1 == "publish" && $3 == "store:" && $4 == "end" { n = $2 } END { print n }' "$1"; }

# ---- SQLite: v1 becomes champion; v2 (promote: always) fails as it ends its run
WS=$T/ws
RETRAIN_EPOCHS=1 make_workspace "$WS" "sqlite:///runs/mlflow/mlflow.db"
printf 'registry:\n  promote: always\n' >>"$WS/mlf.yaml"
cd "$WS"
URI="sqlite:///$WS/runs/mlflow/mlflow.db"
mlf-validate --init -q >/dev/null
EXP_NAME=mlf-retraining
retrain-prep -q | MLF_FAILPOINT_TRACE=$T/trace.txt retrain-run -q >"$T/v1.json"
check_eq "v1 trained" "$(json_get "$T/v1.json" success)" "true"
point=$(end_run_point "$T/trace.txt")
check "the trace shows step 12 ending the run" test -n "$point"
check_eq "v1 is champion" "$(alias_of "$URI" champion)" "1"
mlf-synth corrections data/corrections --count 6 --start 100 --size 160x120 --classes cat,dog,person \
	--seed 9 2>/dev/null
retrain-prep -q >"$T/ds2.json"
MLF_FAILPOINT=publish:$point:enospc retrain-run -q <"$T/ds2.json" >"$T/v2.json" 2>"$T/v2.err"
check_eq "v2 fails as it ends its run: exit 74" "$?" "74"
run2=$(json_get "$T/v2.json" run_id)
check_eq "... its run FAILED" "$(run_status "$URI" "$run2")" "FAILED"
check_eq "... champion back on v1's version" "$(alias_of "$URI" champion)" "1"
check_eq "... challenger back on v1's version" "$(alias_of "$URI" challenger)" "1"
check "... nothing of v2 in models/" test ! -e models/retrained_v2.pt
check_eq "... mlf_run.json records where the aliases were" \
	"$(json_get runs/train/retrain_v2/mlf_run.json aliases_before.champion)" "1"
retrain-run -q --resume v2 >"$T/v2r.json"
check_eq "--resume v2 finishes it" "$?:$(json_get "$T/v2r.json" success)" "0:true"
check_eq "... and only now champion moves to v2's version" "$(alias_of "$URI" champion)" "2"

# ---- a real MLflow server: no champion before, so failing removes the aliases it set
start_mlflow_server "$T/server" || { not_ok "mlflow server starts"; finish; }
URL=$MLFLOW_SERVER_URL
WS2=$T/ws2
RETRAIN_EPOCHS=1 make_workspace "$WS2" "$URL"
cd "$WS2"
id=$("$PY" -c 'import sys; from mlflow import MlflowClient
print(MlflowClient(sys.argv[1]).create_experiment("crash-points"))' "$URL")
EXP_NAME=crash-points
sed -i "s/^experiment_id: .*/experiment_id: \"$id\"/" mlf.yaml
retrain-prep -q >"$T/rds1.json"
MLF_FAILPOINT=publish:$point:enospc retrain-run -q <"$T/rds1.json" >"$T/r1.json" 2>"$T/r1.err"
check_eq "server: v1 fails as it ends its run: exit 74" "$?" "74"
check_eq "server: ... no champion left behind" "$(alias_of "$URL" champion)" "none"
check_eq "server: ... no challenger left behind" "$(alias_of "$URL" challenger)" "none"
retrain-prep -q | retrain-run -q >"$T/r1b.json"
check_eq "server: the next night finishes v1" "$(json_get "$T/r1b.json" new_version):$(json_get "$T/r1b.json" success)" "v1:true"
check_eq "server: ... and makes it champion" "$(alias_of "$URL" champion)" "1"
finish
