/*
 * The sqlite:/// backend: MLflow's own SQL schema, written directly through
 * libsqlite3, so `mlflow ui --backend-store-uri sqlite:///...` and the MLflow
 * client read what we write, and we read what they wrote.
 *
 * A new database gets exactly the schema of the pinned MLflow release
 * (sqlite_schema.c, generated) plus the Default experiment, in one
 * transaction.  An existing one must be at that release's alembic revision
 * and have every column this backend uses; anything else is refused untouched.
 *
 * Column values follow what MLflow's SqlAlchemyStore writes.  The one
 * deliberate difference: MLflow clamps +-Inf metric values to +-DBL_MAX,
 * which loses them; SQLite stores infinities exactly and MLflow's client
 * reads them back as inf, so we store them as they are.
 *
 * Every write runs in one BEGIN IMMEDIATE transaction (the write lock is
 * taken up front, so a concurrent MLflow server makes us wait on the busy
 * timeout instead of failing half-way); reads run in one deferred
 * transaction so they see a single snapshot.  All values are bound.
 *
 * This file opens the store and checks or creates its schema; the ops live
 * in the other sqlite_*.c files, listed in sqlite_internal.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "sqlite_internal.h"

/* MLflow's server waits 20 s on a locked database; a nightly job can wait longer. */
#define BUSY_TIMEOUT_MS 30000

/* ---- opening: create or check the schema ------------------------------- */

struct required_table {
	const char *table;
	const char *columns[16];
};

/* Every column the sqlite_*.c files read or write; an existing database must have them all. */
static const struct required_table required[] = {
	{ "experiments", { "experiment_id", "name", "artifact_location", "lifecycle_stage",
			   "creation_time", "last_update_time" } },
	{ "experiment_tags", { "key", "value", "experiment_id" } },
	{ "runs", { "run_uuid", "name", "source_type", "source_name", "entry_point_name", "user_id",
		    "status", "start_time", "end_time", "source_version", "lifecycle_stage",
		    "artifact_uri", "experiment_id", "deleted_time" } },
	{ "tags", { "key", "value", "run_uuid" } },
	{ "params", { "key", "value", "run_uuid" } },
	{ "metrics", { "key", "value", "timestamp", "run_uuid", "step", "is_nan" } },
	{ "latest_metrics", { "key", "value", "timestamp", "step", "is_nan", "run_uuid" } },
	{ "datasets", { "dataset_uuid", "experiment_id", "name", "digest", "dataset_source_type",
			"dataset_source", "dataset_schema", "dataset_profile" } },
	{ "inputs", { "input_uuid", "source_type", "source_id", "destination_type",
		      "destination_id" } },
	{ "input_tags", { "input_uuid", "name", "value" } },
	{ "registered_models", { "name", "creation_time", "last_updated_time" } },
	{ "model_versions", { "name", "version", "creation_time", "last_updated_time", "description",
			      "user_id", "current_stage", "source", "run_id", "status",
			      "status_message", "run_link", "storage_location" } },
	{ "registered_model_aliases", { "alias", "version", "name" } },
};

static int column_exists(struct sqlite_store *s, const char *table, const char *column,
			 int *found, struct mlf_error *err)
{
	int rc = mlf_sq_exists(s, "checking the schema", err,
			       "SELECT 1 FROM pragma_table_info(?) WHERE name = ?", "ss", table, column);
	*found = rc == 1;
	return rc < 0 ? -1 : 0;
}

static int check_columns(struct sqlite_store *s, const char *revision, struct mlf_error *err)
{
	for (size_t t = 0; t < sizeof(required) / sizeof(required[0]); t++) {
		for (const char *const *c = required[t].columns; *c; c++) {
			int found;
			if (column_exists(s, required[t].table, *c, &found, err))
				return -1;
			if (!found)
				return mlf_fail(err, MLF_EX_CONFIG,
						"%s claims MLflow schema revision %s but has no column "
						"%s.%s, so it was altered or not made by MLflow; "
						"point tracking_uri at an MLflow %s database or a new file",
						s->uri, revision, required[t].table, *c,
						mlf_sqlite_schema_mlflow_version);
		}
	}
	return 0;
}

static int is_older_revision(const char *rev)
{
	for (const char *const *r = mlf_sqlite_schema_older_revisions; *r; r++)
		if (!strcmp(*r, rev))
			return 1;
	return 0;
}

static int wrong_revision(struct sqlite_store *s, const char *rev, struct mlf_error *err)
{
	if (is_older_revision(rev))
		return mlf_fail(err, MLF_EX_CONFIG,
				"%s has the schema of an older MLflow (alembic revision %s; MLflow %s "
				"has %s); back it up, then upgrade it with `mlflow db upgrade %s`",
				s->uri, rev, mlf_sqlite_schema_mlflow_version, mlf_sqlite_schema_revision,
				s->uri);
	return mlf_fail(err, MLF_EX_CONFIG,
			"%s has alembic revision '%s', which MLflow %s does not know (a newer "
			"MLflow wrote it?); mlf writes MLflow %s's schema (revision %s) only: use "
			"that MLflow release's database or a new file", s->uri, rev,
			mlf_sqlite_schema_mlflow_version, mlf_sqlite_schema_mlflow_version,
			mlf_sqlite_schema_revision);
}

static int check_schema(struct sqlite_store *s, struct mlf_error *err)
{
	sqlite3_stmt *st;
	int rc;
	rc = mlf_sq_exists(s, "checking the schema", err,
			   "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'",
			   "");
	if (rc == 0)
		return mlf_fail(err, MLF_EX_CONFIG,
				"%s is an SQLite database but not an MLflow tracking store (it has "
				"no alembic_version table); point tracking_uri at an MLflow database "
				"or at a new file", s->uri);
	if (rc < 0 || mlf_sq_prepare(s, &st, "checking the schema", err,
				     "SELECT version_num FROM alembic_version", ""))
		return -1;
	rc = mlf_sq_step(s, st, "checking the schema", err);
	char *rev = rc == 1 ? mlf_sq_col_str(st, 0) : NULL;
	sqlite3_finalize(st);
	if (rc < 0)
		return -1;
	if (!rev)
		rc = mlf_fail(err, MLF_EX_CONFIG,
			      "%s has an empty alembic_version table (an interrupted migration?); "
			      "restore it from a backup or run `mlflow db upgrade %s`", s->uri, s->uri);
	else if (strcmp(rev, mlf_sqlite_schema_revision) != 0)
		rc = wrong_revision(s, rev, err);
	else
		rc = check_columns(s, rev, err);
	free(rev);
	return rc;
}

/* Schema and rows of a fresh MLflow database, plus the Default experiment 0. */
static int create_schema(struct sqlite_store *s, struct mlf_error *err)
{
	char *errmsg = NULL;
	/* The schema is fixed text compiled into the library, not data: exec is fine. */
	if (sqlite3_exec(s->db, mlf_sqlite_schema_sql, NULL, NULL, &errmsg) != SQLITE_OK) {
		mlf_fail(err, mlf_sq_status(sqlite3_extended_errcode(s->db)),
			 "%s: creating MLflow %s's tables: %s", s->uri,
			 mlf_sqlite_schema_mlflow_version, errmsg ? errmsg : "unknown error");
		sqlite3_free(errmsg);
		return -1;
	}
	int64_t now = mlf_now_ms();
	char *loc = mlf_uri_append(s->artifact_root, "0");
	int rc = mlf_sq_exec(s, "creating the Default experiment", err,
			     "INSERT INTO experiments (experiment_id, name, artifact_location, "
			     "lifecycle_stage, creation_time, last_update_time, workspace) "
			     "VALUES (0, 'Default', ?, 'active', ?, ?, 'default')", "sii", loc, now, now);
	free(loc);
	return rc;
}

static int count_tables(struct sqlite_store *s, int64_t *n, struct mlf_error *err)
{
	sqlite3_stmt *st;
	/* The first read of a file that is not a database fails here with SQLITE_NOTADB. */
	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		int rc = sqlite3_extended_errcode(s->db) & 0xff;
		sqlite3_finalize(st);
		if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
			return mlf_fail(err, MLF_EX_CONFIG,
					"%s is not an SQLite database (%s); point tracking_uri at an "
					"MLflow database or at a new file", s->uri, sqlite3_errmsg(s->db));
		return mlf_sq_fail(s, "opening the database", err);
	}
	*n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

static int prepare_schema(struct sqlite_store *s, struct mlf_error *err)
{
	int64_t n;
	if (count_tables(s, &n, err))
		return -1;
	if (n)
		return check_schema(s, err);
	/* Empty: create it, unless another process did between our look and our lock. */
	if (mlf_sq_tx_begin_write(s, err))
		return -1;
	int rc = count_tables(s, &n, err);
	if (rc == 0 && n == 0)
		rc = create_schema(s, err);
	if (mlf_sq_tx_end(s, rc, err))
		return mlf_error_prefix(err, "creating a new MLflow tracking database");
	return n ? check_schema(s, err) : 0;
}

static void store_free(struct sqlite_store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	free(s->path);
	free(s->uri);
	free(s->artifact_root);
	free(s->workspace);
	free(s);
}

static int open_db(struct sqlite_store *s, int create, struct mlf_error *err)
{
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(s->path, &s->db, flags, NULL) != SQLITE_OK) {
		if (!s->db)
			return mlf_fail(err, MLF_EX_SOFTWARE, "%s: out of memory opening it", s->uri);
		return mlf_sq_fail(s, create ? "creating the database" : "opening the database", err);
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	return 0;
}

static void remove_new_file(const char *path)
{
	static const char *const suffixes[] = { "", "-journal", "-wal", "-shm" };
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char *p = mlf_xasprintf("%s%s", path, suffixes[i]);
		unlink(p);
		free(p);
	}
}

int mlf_sqlite_store_open(const struct mlf_tracking_options *opts, void **impl,
			  struct mlf_error *err)
{
	struct sqlite_store *s = mlf_xcalloc(1, sizeof(*s));
	struct stat st;
	int created = 0;

	*impl = NULL;
	if (mlf_uri_sqlite_path(opts->uri, opts->workspace, &s->path, err))
		goto fail;
	s->uri = mlf_xasprintf("sqlite:///%s", s->path);
	s->workspace = mlf_xstrdup(opts->workspace);
	char *dir = mlf_xstrdup(s->path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	s->artifact_root = mlf_uri_from_path(dir);

	if (stat(s->path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			free(dir);
			mlf_fail(err, MLF_EX_CONFIG, "%s names a folder, not a database file", s->uri);
			goto fail;
		}
	} else if (errno == ENOENT) {
		created = 1;
		if (mlf_mkdir_p(dir, 0777, err)) {
			free(dir);
			mlf_error_prefix(err, "%s: creating its folder", s->uri);
			goto fail;
		}
	} else {
		free(dir);
		mlf_fail_errno(err, MLF_EX_CONFIG, "%s: cannot look at the database file", s->uri);
		goto fail;
	}
	free(dir);
	/* Foreign keys on as in MLflow's sessions, once the file is known to be a database. */
	if (open_db(s, created, err) || prepare_schema(s, err) ||
	    mlf_sq_exec(s, "opening the database", err, "PRAGMA foreign_keys = ON", "")) {
		if (created) {
			sqlite3_close(s->db);
			s->db = NULL;
			remove_new_file(s->path);
		}
		goto fail;
	}
	*impl = s;
	return 0;
fail:
	store_free(s);
	return -1;
}

static void sq_close(void *impl)
{
	store_free(impl);
}

static int sq_ping(void *impl, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	if (mlf_sq_tx_begin_read(s, err))
		return -1;
	int rc = check_schema(s, err);
	mlf_sq_tx_rollback(s);
	return rc;
}

const struct mlf_tracking_ops mlf_sqlite_store_ops = {
	.name = "sqlite",
	.close = sq_close,
	.ping = sq_ping,
	.get_experiment = mlf_sq_get_experiment,
	.get_experiment_by_name = mlf_sq_get_experiment_by_name,
	.create_experiment = mlf_sq_create_experiment,
	.create_run = mlf_sq_create_run,
	.log_batch = mlf_sq_log_batch,
	.update_run = mlf_sq_update_run,
	.get_run = mlf_sq_get_run,
	.get_metric_history = mlf_sq_get_metric_history,
	.search_runs = mlf_sq_search_runs,
	.delete_run = mlf_sq_delete_run,
	.log_dataset_input = mlf_sq_log_dataset_input,
	.ensure_registered_model = mlf_sq_ensure_registered_model,
	.create_model_version = mlf_sq_create_model_version,
	.get_model_version = mlf_sq_get_model_version,
	.set_alias = mlf_sq_set_alias,
	.delete_alias = mlf_sq_delete_alias,
	.set_model_version_tag = mlf_sq_set_model_version_tag,
	.create_logged_model = mlf_sq_create_logged_model,
	.get_logged_model = mlf_sq_get_logged_model,
	.finalize_logged_model = mlf_sq_finalize_logged_model,
	.set_logged_model_tag = mlf_sq_set_logged_model_tag,
	.log_model_output = mlf_sq_log_model_output,
	.list_model_versions = mlf_sq_list_model_versions,
	.get_alias = mlf_sq_get_alias,
	.http = NULL,
};
