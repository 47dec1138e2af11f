#!/usr/bin/env bash
# A database created by our sqlite backend is exactly a fresh MLflow database
# (schema, rows, alembic revision, Default experiment), MLflow finds nothing
# to migrate; databases we cannot safely write are refused, untouched.
. "$(dirname "$0")/lib.sh"

DB="$T/new/sub/mlflow.db"

check "ping creates a new database in a missing folder" "$DRIVER" --uri "sqlite:///$DB" ping
"$MLFLOW" db upgrade "sqlite:///$T/ref.db" >"$T/ref.log" 2>&1 || not_ok "mlflow db upgrade of a fresh file"
check "schema identical to MLflow's own" py sqlite_schema_eq.py "$T/ref.db" "$DB"
check_eq "alembic revision is MLflow's head" "$(sqlite3 "$DB" 'SELECT version_num FROM alembic_version')" \
	"$(sqlite3 "$T/ref.db" 'SELECT version_num FROM alembic_version')"
check_eq "workspaces row as MLflow's migrations leave it" "$(sqlite3 "$DB" 'SELECT * FROM workspaces')" \
	"$(sqlite3 "$T/ref.db" 'SELECT * FROM workspaces')"
check_eq "Default experiment 0" \
	"$(sqlite3 "$DB" "SELECT experiment_id, name, artifact_location, lifecycle_stage, workspace, creation_time = last_update_time FROM experiments")" \
	"0|Default|file://$T/new/sub/0|active|default|1"

before=$(sha256sum <"$DB")
"$MLFLOW" db upgrade "sqlite:///$DB" >"$T/upgrade.log" 2>&1
check_eq "mlflow db upgrade succeeds on it" "$?" 0
check_eq "mlflow db upgrade changes nothing" "$(sha256sum <"$DB")" "$before"
check "the MLflow client opens it and sees Default" "$PY" -c "
import sys
from mlflow.tracking import MlflowClient
c = MlflowClient(tracking_uri='sqlite:///$DB')
e = c.get_experiment('0')
sys.exit(0 if (e.name, e.artifact_location) == ('Default', 'file://$T/new/sub/0') else 1)"

# refuse DB DESCRIPTION PATTERN: status 78, message naming the file, file untouched
refuse() {
	local db=$1 what=$2 pattern=$3 sum
	sum=$(sha256sum <"$db")
	"$DRIVER" --uri "sqlite:///$db" ping >"$T/out" 2>"$T/err"
	check_eq "$what: refused with status 78" "$?" 78
	check_grep "$what: message names the file" "$db" "$T/err"
	check_grep "$what: message says why" "$pattern" "$T/err"
	check_eq "$what: file untouched" "$(sha256sum <"$db")" "$sum"
	"$DRIVER" --uri "sqlite:///$db" create-experiment x >/dev/null 2>&1
	check_eq "$what: writes refused too, file untouched" "$(sha256sum <"$db")" "$sum"
}

cp "$T/ref.db" "$T/old.db"
sqlite3 "$T/old.db" "UPDATE alembic_version SET version_num = '$(sed -n 's/^\t"\([0-9a-f]\{12\}\)",$/\1/p' lib/tracking/sqlite/sqlite_schema.c | head -1)'"
refuse "$T/old.db" "older MLflow revision" "mlflow db upgrade"
cp "$T/ref.db" "$T/future.db"
sqlite3 "$T/future.db" "UPDATE alembic_version SET version_num = 'ffffffffffff'"
refuse "$T/future.db" "unknown revision" "ffffffffffff"
cp "$T/ref.db" "$T/nocol.db"
sqlite3 "$T/nocol.db" "ALTER TABLE runs DROP COLUMN deleted_time"
refuse "$T/nocol.db" "missing column" "runs.deleted_time"
head -c 5000 /dev/urandom >"$T/random.db"
refuse "$T/random.db" "not a database" "not an SQLite database"
printf 'runs:\n  - not sqlite\n' >"$T/text.db"
refuse "$T/text.db" "text file" "not an SQLite database"
sqlite3 "$T/other.db" "CREATE TABLE t (x); INSERT INTO t VALUES (1)"
refuse "$T/other.db" "another application's database" "not an MLflow tracking store"
mkdir -p "$T/dir.db"
"$DRIVER" --uri "sqlite:///$T/dir.db" ping 2>/dev/null
check_eq "a folder is refused" "$?" 78
finish
