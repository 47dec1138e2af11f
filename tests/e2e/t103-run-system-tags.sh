#!/usr/bin/env bash
# New runs carry MLflow's system tags, the git commit when the workspace is a
# git checkout, and `make install` puts programs and man pages in place.
. "$(dirname "$0")/lib.sh"

W=$T/ws
mkdir -p "$W"
git -C "$W" init -q
git -C "$W" -c user.email=t@example.com -c user.name=t commit -q --allow-empty -m first
head=$(git -C "$W" rev-parse HEAD)
URI="sqlite:///$W/mlflow.db"

"$DRIVER" --workspace "$W" --uri "$URI" create-experiment tags 7 >/dev/null
run=$(USER=operator "$DRIVER" --workspace "$W" --uri "$URI" create-run 7 nightly-v3 type=retraining)
run_id=$(printf '%s' "$run" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
"$PY" - "$W/mlflow.db" "$run_id" "$head" >"$T/tags.txt" 2>&1 <<'PY'
import sys, warnings
warnings.filterwarnings("ignore")
from mlflow.tracking import MlflowClient
db, run_id, head = sys.argv[1:]
r = MlflowClient(tracking_uri=f"sqlite:///{db}").get_run(run_id)
t = r.data.tags
want = {"mlflow.user": "operator", "mlflow.source.name": "track-driver", "mlflow.source.type": "LOCAL",
        "mlflow.runName": "nightly-v3", "mlflow.source.git.commit": head, "type": "retraining"}
bad = {k: (t.get(k), v) for k, v in want.items() if t.get(k) != v}
print(r.info.run_name, r.info.user_id, bad)
print("ok" if not bad and r.info.run_name == "nightly-v3" and r.info.user_id == "operator" else "mismatch")
PY
check "MLflow sees user, source, run name, git commit and our tags" test "$(tail -1 "$T/tags.txt")" = ok
[ "$(tail -1 "$T/tags.txt")" = ok ] || cat "$T/tags.txt"

# Outside a git checkout there is no commit tag (rather than a wrong one).
mkdir -p "$T/plain"
run=$("$DRIVER" --workspace "$T/plain" --uri "sqlite:///$T/plain/m.db" create-run 0 plain)
check "no git commit tag outside a checkout" sh -c "! printf '%s' '$run' | grep -q mlflow.source.git.commit"

# A conflicting run name and mlflow.runName tag is refused.
"$DRIVER" --workspace "$W" --uri "$URI" create-run 7 a mlflow.runName=b >/dev/null 2>"$T/conflict.err"
check_eq "run name vs mlflow.runName conflict exits 64" "$?" 64

# make install
make -s -C "$ROOT" install BUILD="$(dirname "$MLF_BIN")" PREFIX="$T/prefix" >/dev/null
check "make install puts mlf-validate in PREFIX/bin" test -x "$T/prefix/bin/mlf-validate"
check "make install puts the man page in PREFIX/share/man/man1" test -f "$T/prefix/share/man/man1/mlf-validate.1"
check "the installed program runs" "$T/prefix/bin/mlf-validate" --version

finish
