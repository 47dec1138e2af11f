#!/usr/bin/env bash
# `mlflow server --backend-store-uri sqlite:///<our db>` starts on a database
# our backend created, without migrating it, and serves our run exactly.
. "$(dirname "$0")/lib.sh"

SRV="$T/srv"
DB="$SRV/mlflow.db"
drv() { "$DRIVER" --uri "sqlite:///$DB" "$@"; }
drv create-experiment served 12 >/dev/null || not_ok "create experiment"
drv create-run 12 served-run type=retraining >"$T/run.json"
RID=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$T/run.json")
cat >"$T/batch.json" <<JSON
{"metrics": [{"key": "m", "value": 0.5, "timestamp": 1700000000000, "step": 0},
             {"key": "m", "value": "NaN", "timestamp": 1700000000001, "step": 1},
             {"key": "m", "value": "Infinity", "timestamp": 1700000000002, "step": 2},
             {"key": "m", "value": "-Infinity", "timestamp": 1700000000003, "step": 3},
             {"key": "m", "value": 1e-310, "timestamp": 1700000000004, "step": 4},
             {"key": "n", "value": "NaN", "timestamp": 1700000000004, "step": 4},
             {"key": "i", "value": "Infinity", "timestamp": 1700000000004, "step": 4}],
 "params": [{"key": "p/1", "value": "$(printf 'q%.0s' $(seq 6000))"}],
 "tags": [{"key": "note", "value": "served"}]}
JSON
check "log batch" drv log-batch "$RID" "$T/batch.json"
check "end run" drv end-run "$RID" FINISHED
drv get-run "$RID" >"$T/ours.json"
schema_before=$(sqlite3 "$DB" "SELECT sql FROM sqlite_master ORDER BY name; SELECT * FROM alembic_version" | sha256sum)

check "mlflow server starts on our database" start_mlflow_server "$SRV"
check_eq "server did not migrate (schema and revision unchanged)" \
	"$(sqlite3 "$DB" "SELECT sql FROM sqlite_master ORDER BY name; SELECT * FROM alembic_version" | sha256sum)" "$schema_before"
if grep -qi 'migrat\|Updating database tables\|Creating initial' "$SRV/server.log"; then
	not_ok "server log mentions a migration:"; grep -i 'migrat\|Updating\|Creating' "$SRV/server.log" | head
else
	ok "server log mentions no migration"
fi
check "the client through the server sees our run exactly" py sqlite_via_server.py "$MLFLOW_SERVER_URL" "$T/ours.json" "$T/batch.json"
finish
