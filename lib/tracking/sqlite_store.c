/*
 * The sqlite:/// backend: MLflow's own SQL schema, written directly through
 * libsqlite3, so `mlflow ui --backend-store-uri sqlite:///...` and the MLflow
 * client read what we write, and we read what they wrote.
 *
 * A new database gets exactly the schema of the pinned MLflow release
 * (sqlite_schema.c, generated) plus the Default experiment, in one
 * transaction.  An existing one must be at that release's alembic revision
 * and have every column used here; anything else is refused untouched.
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
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mlf/buf.h"
#include "mlf/fs.h"
#include "mlf/uri.h"
#include "tracking/backend.h"
#include "tracking/sqlite_schema.h"

/* MLflow's server waits 20 s on a locked database; a nightly job can wait longer. */
#define BUSY_TIMEOUT_MS 30000

#define MAX_EXPERIMENT_NAME 500
#define MAX_DATASET_NAME 500
#define MAX_DATASET_DIGEST 36
#define MAX_DATASET_SOURCE 65535
#define MAX_INPUT_TAG_VALUE 500
#define MAX_ALIAS 255

struct sqlite_store {
	sqlite3 *db;
	char *path;           /* absolute path of the database file */
	char *uri;            /* sqlite:///<path>, for messages */
	char *artifact_root;  /* file:// URI of the folder holding the database */
	char *workspace;
};

/* ---- errors ------------------------------------------------------------ */

static int status_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return MLF_EX_TEMPFAIL;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return MLF_EX_NOPERM;
	case SQLITE_CANTOPEN:
		return MLF_EX_CANTCREAT;
	case SQLITE_IOERR:
	case SQLITE_FULL:
		return MLF_EX_IOERR;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return MLF_EX_CONFIG;
	default:
		return MLF_EX_SOFTWARE;
	}
}

/* The connection's last error, as "sqlite:///x.db: <what>: <sqlite message>". */
static int db_fail(struct sqlite_store *s, const char *what, struct mlf_error *err)
{
	int rc = sqlite3_extended_errcode(s->db);
	const char *hint = "";
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		hint = " (another process kept the database locked; try again later)";
	else if ((rc & 0xff) == SQLITE_READONLY)
		hint = " (check the permissions of the database file and its folder)";
	return mlf_fail(err, status_of(rc), "%s: %s: %s%s", s->uri, what, sqlite3_errmsg(s->db), hint);
}

static int not_found(struct mlf_error *err, const char *fmt, const char *a, const char *b)
{
	return mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND, fmt, a, b);
}

/* ---- statements -------------------------------------------------------- */

/*
 * Prepare `sql` and bind one argument per character of `types`:
 * 's' const char * (NULL binds NULL), 'i' int64_t, 'd' double.
 */
static int prepare_v(struct sqlite_store *s, sqlite3_stmt **st, const char *what,
		     struct mlf_error *err, const char *sql, const char *types, va_list ap)
{
	*st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return db_fail(s, what, err);
	for (int i = 1; types[i - 1]; i++) {
		int rc;
		if (types[i - 1] == 's') {
			const char *v = va_arg(ap, const char *);
			rc = v ? sqlite3_bind_text(*st, i, v, -1, SQLITE_TRANSIENT)
			       : sqlite3_bind_null(*st, i);
		} else if (types[i - 1] == 'i') {
			rc = sqlite3_bind_int64(*st, i, va_arg(ap, int64_t));
		} else {
			rc = sqlite3_bind_double(*st, i, va_arg(ap, double));
		}
		if (rc != SQLITE_OK) {
			db_fail(s, what, err);
			sqlite3_finalize(*st);
			*st = NULL;
			return -1;
		}
	}
	return 0;
}

static int prepare(struct sqlite_store *s, sqlite3_stmt **st, const char *what,
		   struct mlf_error *err, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	int rc = prepare_v(s, st, what, err, sql, types, ap);
	va_end(ap);
	return rc;
}

/* 1 for a row, 0 when done, -1 on error. */
static int step(struct sqlite_store *s, sqlite3_stmt *st, const char *what, struct mlf_error *err)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_fail(s, what, err);
}

/* Run a statement that returns no rows we need. */
static int exec(struct sqlite_store *s, const char *what, struct mlf_error *err,
		const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	va_start(ap, types);
	int rc = prepare_v(s, &st, what, err, sql, types, ap);
	va_end(ap);
	if (rc)
		return -1;
	while ((rc = step(s, st, what, err)) == 1)
		;
	sqlite3_finalize(st);
	return rc;
}

/* Re-run a prepared statement with new values (same binding rules as prepare). */
static int rerun(struct sqlite_store *s, sqlite3_stmt *st, const char *what, struct mlf_error *err,
		 const char *types, ...)
{
	va_list ap;
	int rc = 0;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	va_start(ap, types);
	for (int i = 1; types[i - 1] && rc == 0; i++) {
		if (types[i - 1] == 's') {
			const char *v = va_arg(ap, const char *);
			rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
		} else if (types[i - 1] == 'i') {
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
		} else {
			rc = sqlite3_bind_double(st, i, va_arg(ap, double));
		}
	}
	va_end(ap);
	if (rc != SQLITE_OK)
		return db_fail(s, what, err);
	return step(s, st, what, err);
}

static char *col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *v = sqlite3_column_text(st, i);
	return mlf_xstrdup(v ? (const char *)v : "");
}

/* ---- transactions ------------------------------------------------------ */

static void tx_rollback(struct sqlite_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int tx_begin_write(struct sqlite_store *s, struct mlf_error *err)
{
	return exec(s, "starting a write", err, "BEGIN IMMEDIATE", "");
}

static int tx_begin_read(struct sqlite_store *s, struct mlf_error *err)
{
	return exec(s, "starting a read", err, "BEGIN", "");
}

/* Commit when `rc` is 0, else roll back; returns the outcome. */
static int tx_end(struct sqlite_store *s, int rc, struct mlf_error *err)
{
	if (rc == 0 && exec(s, "committing", err, "COMMIT", "") == 0)
		return 0;
	tx_rollback(s);
	return -1;
}

/* ---- values ------------------------------------------------------------ */

/*
 * SQL ids are integers.  Only the canonical decimal form is accepted, so
 * that "007" and "7" cannot name the same experiment in two spellings.
 */
static int parse_id(const char *text, int64_t *out)
{
	if (!text || !*text || strlen(text) > 19 || (text[0] == '0' && text[1]))
		return -1;
	int64_t v = 0;
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		int d = *p - '0';
		if (v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int bad_experiment_id(const char *id, struct mlf_error *err)
{
	return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
			     "experiment id '%s' is not a decimal integer; a sqlite tracking store "
			     "numbers its experiments 0, 1, 2, ... (leave the id out to let it choose)", id);
}

static int too_long(const char *what, const char *value, size_t max, struct mlf_error *err)
{
	size_t n = value ? strlen(value) : 0;
	if (n <= max)
		return 0;
	return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
			     "%s '%.60s...' is %zu characters; MLflow allows at most %zu", what, value, n, max);
}

/* The SQL store cannot hold NaN (SQLite reads it as NULL): 0 plus the is_nan flag. */
static double stored_value(double v, int *is_nan)
{
	*is_nan = isnan(v) != 0;
	return *is_nan ? 0.0 : v;
}

/* ---- experiments ------------------------------------------------------- */

static const char experiment_columns[] =
	"SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
	"last_update_time FROM experiments ";

/* Fill `out` from the first row of `st`; 1 found, 0 not found, -1 error. */
static int read_experiment(struct sqlite_store *s, sqlite3_stmt *st, struct mlf_experiment *out,
			   struct mlf_error *err)
{
	int rc = step(s, st, "reading an experiment", err);
	if (rc != 1)
		return rc;
	memset(out, 0, sizeof(*out));
	out->experiment_id = col_str(st, 0);
	out->name = col_str(st, 1);
	out->artifact_location = col_str(st, 2);
	out->lifecycle_stage = col_str(st, 3);
	out->creation_time = sqlite3_column_int64(st, 4);
	out->last_update_time = sqlite3_column_int64(st, 5);

	sqlite3_stmt *tags;
	if (prepare(s, &tags, "reading experiment tags", err,
		    "SELECT key, value FROM experiment_tags WHERE experiment_id = ? ORDER BY key",
		    "i", sqlite3_column_int64(st, 0)))
		goto fail;
	while ((rc = step(s, tags, "reading experiment tags", err)) == 1)
		mlf_kvs_add(&out->tags, (const char *)sqlite3_column_text(tags, 0),
			    (const char *)sqlite3_column_text(tags, 1));
	sqlite3_finalize(tags);
	if (rc == 0)
		return 1;
fail:
	mlf_experiment_release(out);
	return -1;
}

static int load_experiment(struct sqlite_store *s, const char *id, struct mlf_experiment *out,
			   struct mlf_error *err)
{
	int64_t n;
	sqlite3_stmt *st;
	if (parse_id(id, &n))
		return not_found(err, "experiment '%s' not found in %s (sqlite stores have integer ids)",
				 id, s->uri);
	struct mlf_buf sql = MLF_BUF_INIT;
	mlf_buf_adds(&sql, experiment_columns);
	mlf_buf_adds(&sql, "WHERE experiment_id = ?");
	int rc = prepare(s, &st, "reading an experiment", err, sql.data, "i", n);
	mlf_buf_release(&sql);
	if (rc)
		return -1;
	rc = read_experiment(s, st, out, err);
	sqlite3_finalize(st);
	if (rc == 0)
		return not_found(err, "experiment %s not found in %s", id, s->uri);
	return rc < 0 ? -1 : 0;
}

static int sq_get_experiment(void *impl, const char *id, struct mlf_experiment *out,
			     struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	if (tx_begin_read(s, err))
		return -1;
	int rc = load_experiment(s, id, out, err);
	tx_rollback(s);
	return rc;
}

static int sq_get_experiment_by_name(void *impl, const char *name, struct mlf_experiment *out,
				     struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	struct mlf_buf sql = MLF_BUF_INIT;
	sqlite3_stmt *st;
	int rc = -1;

	if (tx_begin_read(s, err))
		return -1;
	mlf_buf_adds(&sql, experiment_columns);
	mlf_buf_adds(&sql, "WHERE name = ?");
	if (prepare(s, &st, "reading an experiment", err, sql.data, "s", name) == 0) {
		rc = read_experiment(s, st, out, err);
		sqlite3_finalize(st);
		if (rc == 0)
			rc = not_found(err, "no experiment named '%s' in %s", name, s->uri);
		else if (rc == 1)
			rc = 0;
	}
	mlf_buf_release(&sql);
	tx_rollback(s);
	return rc;
}

/* As MLflow: a plain path is made absolute and stored as a path; URIs are kept. */
static char *resolve_artifact_location(struct sqlite_store *s, const char *loc)
{
	if (mlf_uri_kind(loc) == MLF_URI_FILE && strncmp(loc, "file:", 5) != 0)
		return mlf_path_absolute(s->workspace, loc);
	return mlf_xstrdup(loc);
}

static int check_new_experiment(struct sqlite_store *s, const char *name, const char *id,
				int64_t n, struct mlf_error *err)
{
	sqlite3_stmt *st;
	int rc;
	if (prepare(s, &st, "checking experiment names", err,
		    "SELECT experiment_id, lifecycle_stage FROM experiments WHERE name = ?", "s", name))
		return -1;
	rc = step(s, st, "checking experiment names", err);
	if (rc == 1)
		mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_EXISTS,
			      "an experiment named '%s' already exists in %s (id %s, %s)", name, s->uri,
			      (const char *)sqlite3_column_text(st, 0),
			      (const char *)sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	if (rc != 0 || !id)
		return rc ? -1 : 0;
	if (prepare(s, &st, "checking experiment ids", err,
		    "SELECT name, lifecycle_stage FROM experiments WHERE experiment_id = ?", "i", n))
		return -1;
	rc = step(s, st, "checking experiment ids", err);
	if (rc == 1)
		mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_EXISTS,
			      "experiment id %s is already taken in %s by '%s' (%s)", id, s->uri,
			      (const char *)sqlite3_column_text(st, 0),
			      (const char *)sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	return rc ? -1 : 0;
}

static int insert_experiment(struct sqlite_store *s, const char *name, const char *id, int64_t n,
			     const char *location, char **id_out, struct mlf_error *err)
{
	int64_t now = mlf_now_ms();
	const char *sql = id ?
		"INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
		"creation_time, last_update_time) VALUES (?4, ?1, ?2, 'active', ?3, ?3)" :
		/* No id: the INTEGER PRIMARY KEY takes the next rowid, as MLflow's autoincrement. */
		"INSERT INTO experiments (name, artifact_location, lifecycle_stage, "
		"creation_time, last_update_time) VALUES (?1, ?2, 'active', ?3, ?3)";

	if (check_new_experiment(s, name, id, n, err) ||
	    exec(s, "creating the experiment", err, sql, id ? "ssii" : "ssi", name, location, now, n))
		return -1;
	int64_t got = sqlite3_last_insert_rowid(s->db);
	*id_out = mlf_xasprintf("%" PRId64, got);
	if (!location) {
		char *seg = mlf_xasprintf("%" PRId64, got);
		char *loc = mlf_uri_append(s->artifact_root, seg);
		int rc = exec(s, "setting the artifact location", err,
			      "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
			      "si", loc, got);
		free(seg);
		free(loc);
		if (rc)
			return -1;
	}
	return 0;
}

static int sq_create_experiment(void *impl, const char *name, const char *id,
				const char *artifact_location, char **id_out, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	int64_t n = 0;
	char *location = NULL, *got = NULL;

	*id_out = NULL;
	if (id && parse_id(id, &n))
		return bad_experiment_id(id, err);
	if (!name || !*name)
		return mlf_fail(err, MLF_EX_USAGE, "experiment name is empty");
	if (too_long("experiment name", name, MAX_EXPERIMENT_NAME, err))
		return -1;
	if (artifact_location && *artifact_location)
		location = resolve_artifact_location(s, artifact_location);
	if (tx_begin_write(s, err)) {
		free(location);
		return -1;
	}
	int rc = tx_end(s, insert_experiment(s, name, id, n, location, &got, err), err);
	free(location);
	if (rc) {
		free(got);
		return -1;
	}
	*id_out = got;
	return 0;
}

/* ---- runs -------------------------------------------------------------- */

/* The run's lifecycle stage; NOT_FOUND when missing; INVALID when deleted and `active` asked. */
static int check_run(struct sqlite_store *s, const char *run_id, int active, int64_t *exp_id,
		     struct mlf_error *err)
{
	sqlite3_stmt *st;
	if (prepare(s, &st, "reading a run", err,
		    "SELECT lifecycle_stage, experiment_id FROM runs WHERE run_uuid = ?", "s", run_id))
		return -1;
	int rc = step(s, st, "reading a run", err);
	if (rc == 0)
		not_found(err, "run %s not found in %s", run_id, s->uri);
	else if (rc == 1 && active &&
		 strcmp((const char *)sqlite3_column_text(st, 0), "active") != 0)
		rc = mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
				   "run %s in %s is deleted; restore it before changing it", run_id, s->uri);
	if (rc == 1 && exp_id)
		*exp_id = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	return rc == 1 ? 0 : -1;
}

static int load_kvs(struct sqlite_store *s, const char *sql, const char *run_id,
		    struct mlf_kvs *out, struct mlf_error *err)
{
	sqlite3_stmt *st;
	int rc;
	if (prepare(s, &st, "reading a run", err, sql, "s", run_id))
		return -1;
	while ((rc = step(s, st, "reading a run", err)) == 1)
		mlf_kvs_add(out, (const char *)sqlite3_column_text(st, 0),
			    (const char *)sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	return rc;
}

static int load_latest_metrics(struct sqlite_store *s, const char *run_id, struct mlf_run *out,
			       struct mlf_error *err)
{
	sqlite3_stmt *st;
	int rc;
	size_t cap = 0;
	if (prepare(s, &st, "reading a run's metrics", err,
		    "SELECT key, value, timestamp, step, is_nan FROM latest_metrics "
		    "WHERE run_uuid = ? ORDER BY key", "s", run_id))
		return -1;
	while ((rc = step(s, st, "reading a run's metrics", err)) == 1) {
		if (out->nmetrics == cap) {
			cap = cap ? 2 * cap : 16;
			out->metrics = mlf_xrealloc(out->metrics, cap * sizeof(*out->metrics));
		}
		struct mlf_metric *m = &out->metrics[out->nmetrics++];
		m->key = col_str(st, 0);
		m->value = sqlite3_column_int(st, 4) ? NAN : sqlite3_column_double(st, 1);
		m->timestamp = sqlite3_column_int64(st, 2);
		m->step = sqlite3_column_int64(st, 3);
	}
	sqlite3_finalize(st);
	return rc;
}

static int load_run(struct sqlite_store *s, const char *run_id, struct mlf_run *out,
		    struct mlf_error *err)
{
	sqlite3_stmt *st;
	memset(out, 0, sizeof(*out));
	if (prepare(s, &st, "reading a run", err,
		    "SELECT run_uuid, experiment_id, name, user_id, artifact_uri, lifecycle_stage, "
		    "status, start_time, end_time FROM runs WHERE run_uuid = ?", "s", run_id))
		return -1;
	int rc = step(s, st, "reading a run", err);
	if (rc == 1) {
		out->run_id = col_str(st, 0);
		out->experiment_id = col_str(st, 1);
		out->run_name = col_str(st, 2);
		out->user_id = col_str(st, 3);
		out->artifact_uri = col_str(st, 4);
		out->lifecycle_stage = col_str(st, 5);
		out->status = mlf_run_status_parse((const char *)sqlite3_column_text(st, 6));
		out->start_time = sqlite3_column_int64(st, 7);
		out->end_time = sqlite3_column_int64(st, 8);  /* NULL reads as 0: not ended */
	}
	sqlite3_finalize(st);
	if (rc == 0)
		return not_found(err, "run %s not found in %s", run_id, s->uri);
	if (rc < 0 ||
	    load_kvs(s, "SELECT key, value FROM params WHERE run_uuid = ? ORDER BY key",
		     run_id, &out->params, err) ||
	    load_kvs(s, "SELECT key, value FROM tags WHERE run_uuid = ? ORDER BY key",
		     run_id, &out->tags, err) ||
	    load_latest_metrics(s, run_id, out, err)) {
		mlf_run_release(out);
		return -1;
	}
	return 0;
}

static int sq_get_run(void *impl, const char *run_id, struct mlf_run *out, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	memset(out, 0, sizeof(*out));
	if (tx_begin_read(s, err))
		return -1;
	int rc = load_run(s, run_id, out, err);
	tx_rollback(s);
	return rc;
}

/* Insert or overwrite one run tag; mlflow.runName also renames the run, as MLflow does. */
static int set_tag(struct sqlite_store *s, const char *run_id, const char *key, const char *value,
		   struct mlf_error *err)
{
	if (exec(s, "setting a tag", err,
		 "INSERT OR REPLACE INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
		 "sss", key, value, run_id))
		return -1;
	if (!strcmp(key, "mlflow.runName"))
		return exec(s, "renaming the run", err, "UPDATE runs SET name = ? WHERE run_uuid = ?",
			    "ss", value, run_id);
	return 0;
}

static int insert_run(struct sqlite_store *s, const char *run_id, const char *experiment_id,
		      const char *run_name, const char *user_id, int64_t start_time,
		      const struct mlf_kvs *tags, struct mlf_error *err)
{
	struct mlf_experiment exp;
	if (load_experiment(s, experiment_id, &exp, err))
		return -1;
	if (strcmp(exp.lifecycle_stage, "active") != 0) {
		mlf_experiment_release(&exp);
		return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
				     "experiment %s ('%s') in %s is deleted; restore it or use another",
				     experiment_id, exp.name, s->uri);
	}
	char *segments = mlf_xasprintf("%s/artifacts", run_id);
	char *artifact_uri = mlf_uri_append(exp.artifact_location, segments);
	free(segments);
	const char *tag_name = tags ? mlf_kvs_get(tags, "mlflow.runName") : NULL;
	const char *name = run_name && *run_name ? run_name : tag_name;
	/* Columns as MLflow's create_run fills them: source fields live in tags now. */
	int rc = exec(s, "creating the run", err,
		      "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
		      "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
		      "artifact_uri, experiment_id, deleted_time) VALUES "
		      "(?, ?, 'UNKNOWN', '', '', ?, 'RUNNING', ?, NULL, '', 'active', ?, ?, NULL)",
		      "sssisi", run_id, name, user_id, start_time, artifact_uri,
		      (int64_t)strtoll(exp.experiment_id, NULL, 10));
	free(artifact_uri);
	mlf_experiment_release(&exp);
	for (size_t i = 0; rc == 0 && tags && i < tags->n; i++)
		rc = set_tag(s, run_id, tags->items[i].key, tags->items[i].value, err);
	if (rc == 0 && name && !tag_name)
		rc = set_tag(s, run_id, "mlflow.runName", name, err);
	return rc;
}

static int sq_create_run(void *impl, const char *experiment_id, const char *run_name,
			 const char *user_id, int64_t start_time, const struct mlf_kvs *tags,
			 struct mlf_run *out, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	char run_id[33];

	memset(out, 0, sizeof(*out));
	mlf_random_hex32(run_id);
	if (tx_begin_write(s, err))
		return -1;
	if (tx_end(s, insert_run(s, run_id, experiment_id, run_name, user_id, start_time, tags, err),
		   err))
		return -1;
	return sq_get_run(impl, run_id, out, err);
}

static int log_params(struct sqlite_store *s, const char *run_id, const struct mlf_kv *params,
		      size_t n, struct mlf_error *err)
{
	sqlite3_stmt *sel;
	int rc = 0;
	if (n == 0)
		return 0;
	if (prepare(s, &sel, "reading params", err,
		    "SELECT value FROM params WHERE run_uuid = ? AND key = ?", ""))
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct mlf_kv *p = &params[i];
		if ((rc = too_long("value of param", p->value, MLF_MAX_PARAM_VALUE, err)))
			break;
		rc = rerun(s, sel, "reading params", err, "ss", run_id, p->key);
		if (rc == 1) {
			const char *old = (const char *)sqlite3_column_text(sel, 0);
			rc = 0;
			if (strcmp(old ? old : "", p->value ? p->value : "") != 0)
				rc = mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
						   "param '%s' of run %s is already '%.200s'; MLflow never "
						   "changes a logged param (new value '%.200s')",
						   p->key, run_id, old ? old : "", p->value ? p->value : "");
		} else if (rc == 0) {
			rc = exec(s, "logging a param", err,
				  "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
				  "sss", p->key, p->value ? p->value : "", run_id);
		}
	}
	sqlite3_finalize(sel);
	return rc ? -1 : 0;
}

/* MLflow's order for "latest": greater step, then timestamp, then stored value (NaN as 0). */
static int newer(const struct mlf_metric *m, double stored, sqlite3_stmt *latest)
{
	int64_t old_step = sqlite3_column_int64(latest, 2), old_ts = sqlite3_column_int64(latest, 1);
	if (m->step != old_step)
		return m->step > old_step;
	if (m->timestamp != old_ts)
		return m->timestamp > old_ts;
	return stored > sqlite3_column_double(latest, 0);
}

static int log_metrics(struct sqlite_store *s, const char *run_id, const struct mlf_metric *metrics,
		       size_t n, struct mlf_error *err)
{
	sqlite3_stmt *ins = NULL, *sel = NULL, *put = NULL;
	int rc = 0;
	if (n == 0)
		return 0;
	/* An identical point logged twice is kept once, as MLflow's primary key does. */
	if (prepare(s, &ins, "logging metrics", err,
		    "INSERT OR IGNORE INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
		    "VALUES (?, ?, ?, ?, ?, ?)", "") ||
	    prepare(s, &sel, "logging metrics", err,
		    "SELECT value, timestamp, step FROM latest_metrics WHERE run_uuid = ? AND key = ?", "") ||
	    prepare(s, &put, "logging metrics", err,
		    "INSERT OR REPLACE INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
		    "VALUES (?, ?, ?, ?, ?, ?)", ""))
		rc = -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct mlf_metric *m = &metrics[i];
		int is_nan;
		double v = stored_value(m->value, &is_nan);
		rc = rerun(s, ins, "logging metrics", err, "sdisii", m->key, v, m->timestamp, run_id,
			   m->step, (int64_t)is_nan);
		if (rc == 0)
			rc = rerun(s, sel, "logging metrics", err, "ss", run_id, m->key);
		if (rc < 0)
			break;
		int replace = rc == 0 || newer(m, v, sel);
		sqlite3_reset(sel);
		rc = 0;
		if (replace)
			rc = rerun(s, put, "logging metrics", err, "sdiiis", m->key, v, m->timestamp,
				   m->step, (int64_t)is_nan, run_id);
	}
	sqlite3_finalize(ins);
	sqlite3_finalize(sel);
	sqlite3_finalize(put);
	return rc ? -1 : 0;
}

static int log_tags(struct sqlite_store *s, const char *run_id, const struct mlf_kv *tags,
		    size_t n, struct mlf_error *err)
{
	for (size_t i = 0; i < n; i++) {
		if (too_long("value of tag", tags[i].value, MLF_MAX_TAG_VALUE, err) ||
		    set_tag(s, run_id, tags[i].key, tags[i].value ? tags[i].value : "", err))
			return -1;
	}
	return 0;
}

static int sq_log_batch(void *impl, const char *run_id, const struct mlf_metric *metrics,
			size_t nmetrics, const struct mlf_kv *params, size_t nparams,
			const struct mlf_kv *tags, size_t ntags, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	if (tx_begin_write(s, err))
		return -1;
	int rc = check_run(s, run_id, 1, NULL, err);
	if (rc == 0)
		rc = log_params(s, run_id, params, nparams, err);
	if (rc == 0)
		rc = log_metrics(s, run_id, metrics, nmetrics, err);
	if (rc == 0)
		rc = log_tags(s, run_id, tags, ntags, err);
	return tx_end(s, rc, err);
}

static int sq_update_run(void *impl, const char *run_id, int status, int64_t end_time,
			 struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	const char *name = mlf_run_status_name(status);
	int rc;

	if (!mlf_run_status_parse(name))
		return mlf_fail(err, MLF_EX_SOFTWARE, "run status %d is not an MLflow status", status);
	if (tx_begin_write(s, err))
		return -1;
	rc = check_run(s, run_id, 1, NULL, err);
	if (rc == 0 && status == MLF_RUN_RUNNING && end_time == 0)
		rc = exec(s, "reopening the run", err,
			  "UPDATE runs SET status = ?, end_time = NULL WHERE run_uuid = ?",
			  "ss", name, run_id);
	else if (rc == 0 && end_time == 0)
		rc = exec(s, "updating the run", err, "UPDATE runs SET status = ? WHERE run_uuid = ?",
			  "ss", name, run_id);
	else if (rc == 0)
		rc = exec(s, "updating the run", err,
			  "UPDATE runs SET status = ?, end_time = ? WHERE run_uuid = ?",
			  "sis", name, end_time, run_id);
	return tx_end(s, rc, err);
}

static int sq_get_metric_history(void *impl, const char *run_id, const char *key,
				 struct mlf_metric **out, size_t *n, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st = NULL;
	struct mlf_metric *m = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (tx_begin_read(s, err))
		return -1;
	rc = check_run(s, run_id, 0, NULL, err);
	/* MLflow's order: timestamp, then step, then value. */
	if (rc == 0)
		rc = prepare(s, &st, "reading a metric history", err,
			     "SELECT value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? "
			     "AND key = ? ORDER BY timestamp, step, value", "ss", run_id, key);
	while (rc == 0 && (rc = step(s, st, "reading a metric history", err)) == 1) {
		if (len == cap) {
			cap = cap ? 2 * cap : 256;
			m = mlf_xrealloc(m, cap * sizeof(*m));
		}
		m[len].key = mlf_xstrdup(key);
		m[len].value = sqlite3_column_int(st, 3) ? NAN : sqlite3_column_double(st, 0);
		m[len].timestamp = sqlite3_column_int64(st, 1);
		m[len].step = sqlite3_column_int64(st, 2);
		len++;
		rc = 0;
	}
	sqlite3_finalize(st);
	tx_rollback(s);
	if (rc) {
		mlf_metrics_release(m, len);
		return -1;
	}
	*out = m;
	*n = len;
	return 0;
}

static int find_runs(struct sqlite_store *s, const char *experiment_id, const char *tag_key,
		     const char *tag_value, struct mlf_run_list *out, struct mlf_error *err)
{
	struct mlf_experiment exp;
	struct mlf_kvs ids = MLF_KVS_INIT;
	sqlite3_stmt *st;
	int rc;

	if (load_experiment(s, experiment_id, &exp, err))
		return -1;
	mlf_experiment_release(&exp);
	if (prepare(s, &st, "searching runs", err,
		    "SELECT r.run_uuid FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
		    "WHERE r.experiment_id = ?1 AND r.lifecycle_stage = 'active' AND t.key = ?2 "
		    "AND (?3 IS NULL OR t.value = ?3) ORDER BY r.start_time DESC, r.run_uuid",
		    "iss", (int64_t)strtoll(experiment_id, NULL, 10), tag_key, tag_value))
		return -1;
	while ((rc = step(s, st, "searching runs", err)) == 1)
		mlf_kvs_add(&ids, (const char *)sqlite3_column_text(st, 0), NULL);
	sqlite3_finalize(st);
	for (size_t i = 0; rc == 0 && i < ids.n; i++) {
		struct mlf_run run;
		rc = load_run(s, ids.items[i].key, &run, err);
		if (rc == 0)
			mlf_run_list_add(out, &run);
	}
	mlf_kvs_release(&ids);
	return rc;
}

static int sq_search_runs(void *impl, const char *experiment_id, const char *tag_key,
			  const char *tag_value, struct mlf_run_list *out, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	memset(out, 0, sizeof(*out));
	if (tx_begin_read(s, err))
		return -1;
	int rc = find_runs(s, experiment_id, tag_key, tag_value, out, err);
	tx_rollback(s);
	if (rc)
		mlf_run_list_release(out);
	return rc ? -1 : 0;
}

static int sq_delete_run(void *impl, const char *run_id, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	if (tx_begin_write(s, err))
		return -1;
	int rc = check_run(s, run_id, 0, NULL, err);
	if (rc == 0)
		rc = exec(s, "deleting the run", err,
			  "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? WHERE run_uuid = ?",
			  "is", mlf_now_ms(), run_id);
	return tx_end(s, rc, err);
}

/* ---- dataset inputs ---------------------------------------------------- */

/* The experiment's dataset with this name and digest, created when missing. */
static int dataset_uuid(struct sqlite_store *s, int64_t exp_id, const char *name,
			const char *digest, const char *source_type, const char *source,
			char out[33], struct mlf_error *err)
{
	sqlite3_stmt *st;
	if (prepare(s, &st, "reading datasets", err,
		    "SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?",
		    "iss", exp_id, name, digest))
		return -1;
	int rc = step(s, st, "reading datasets", err);
	if (rc == 1)
		snprintf(out, 33, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	mlf_random_hex32(out);
	return exec(s, "recording the dataset", err,
		    "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, "
		    "dataset_source, dataset_schema, dataset_profile) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
		    "sissss", out, exp_id, name, digest, source_type, source);
}

static int add_input(struct sqlite_store *s, const char *run_id, const char *ds_uuid,
		     const char *context, struct mlf_error *err)
{
	sqlite3_stmt *st;
	char input_uuid[33];
	if (prepare(s, &st, "reading run inputs", err,
		    "SELECT input_uuid FROM inputs WHERE source_type = 'DATASET' AND source_id = ? "
		    "AND destination_type = 'RUN' AND destination_id = ?", "ss", ds_uuid, run_id))
		return -1;
	int rc = step(s, st, "reading run inputs", err);
	sqlite3_finalize(st);
	if (rc != 0)  /* already an input of this run: MLflow keeps the first one */
		return rc < 0 ? -1 : 0;
	mlf_random_hex32(input_uuid);
	if (exec(s, "recording the run input", err,
		 "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, "
		 "destination_id) VALUES (?, 'DATASET', ?, 'RUN', ?)", "sss", input_uuid, ds_uuid, run_id))
		return -1;
	if (!context || !*context)
		return 0;
	return exec(s, "recording the dataset context", err,
		    "INSERT INTO input_tags (input_uuid, name, value) VALUES (?, 'mlflow.data.context', ?)",
		    "ss", input_uuid, context);
}

static int sq_log_dataset_input(void *impl, const char *run_id, const char *name,
				const char *digest, const char *source_type, const char *source,
				const char *context, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	char ds[33];
	int64_t exp_id = 0;

	if (!name || !*name || !digest || !*digest || !source_type || !*source_type || !source)
		return mlf_fail(err, MLF_EX_USAGE, "a dataset needs a name, digest, source type and source");
	if (too_long("dataset name", name, MAX_DATASET_NAME, err) ||
	    too_long("dataset digest", digest, MAX_DATASET_DIGEST, err) ||
	    too_long("dataset source type", source_type, MAX_DATASET_DIGEST, err) ||
	    too_long("dataset source", source, MAX_DATASET_SOURCE, err) ||
	    too_long("dataset context", context, MAX_INPUT_TAG_VALUE, err))
		return -1;
	if (tx_begin_write(s, err))
		return -1;
	int rc = check_run(s, run_id, 1, &exp_id, err);
	if (rc == 0)
		rc = dataset_uuid(s, exp_id, name, digest, source_type, source, ds, err);
	if (rc == 0)
		rc = add_input(s, run_id, ds, context, err);
	return tx_end(s, rc, err);
}

/* ---- model registry ---------------------------------------------------- */

static int check_model_name(const char *name, struct mlf_error *err)
{
	if (!name || !*name)
		return mlf_fail(err, MLF_EX_USAGE, "registered model name is empty");
	if (strpbrk(name, "/:"))
		return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
				     "registered model name '%s' has '/' or ':', which MLflow refuses", name);
	return 0;
}

static int check_model(struct sqlite_store *s, const char *name, struct mlf_error *err)
{
	sqlite3_stmt *st;
	if (prepare(s, &st, "reading registered models", err,
		    "SELECT 1 FROM registered_models WHERE name = ?", "s", name))
		return -1;
	int rc = step(s, st, "reading registered models", err);
	sqlite3_finalize(st);
	if (rc == 0)
		return not_found(err, "registered model '%s' not found in %s", name, s->uri);
	return rc < 0 ? -1 : 0;
}

static int sq_ensure_registered_model(void *impl, const char *name, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	int64_t now = mlf_now_ms();
	if (check_model_name(name, err) || tx_begin_write(s, err))
		return -1;
	int rc = exec(s, "creating the registered model", err,
		      "INSERT OR IGNORE INTO registered_models (name, creation_time, last_updated_time) "
		      "VALUES (?, ?, ?)", "sii", name, now, now);
	return tx_end(s, rc, err);
}

/* Fill `out` with version `version` of `name` (deleted versions are invisible, as in MLflow). */
static int load_version(struct sqlite_store *s, const char *name, int64_t version,
			struct mlf_model_version *out, struct mlf_error *err)
{
	sqlite3_stmt *st;
	memset(out, 0, sizeof(*out));
	if (prepare(s, &st, "reading a model version", err,
		    "SELECT source, run_id, status FROM model_versions WHERE name = ? AND version = ? "
		    "AND (current_stage IS NULL OR current_stage != 'Deleted_Internal')",
		    "si", name, version))
		return -1;
	int rc = step(s, st, "reading a model version", err);
	if (rc == 1) {
		out->name = mlf_xstrdup(name);
		out->version = mlf_xasprintf("%" PRId64, version);
		out->source = col_str(st, 0);
		out->run_id = col_str(st, 1);
		out->status = col_str(st, 2);
	}
	sqlite3_finalize(st);
	if (rc == 0) {
		char v[24];
		snprintf(v, sizeof(v), "%" PRId64, version);
		mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
			      "version %s of registered model '%s' not found in %s", v, name, s->uri);
	}
	if (rc != 1)
		return -1;
	if (prepare(s, &st, "reading model aliases", err,
		    "SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ? ORDER BY alias",
		    "si", name, version) == 0) {
		while ((rc = step(s, st, "reading model aliases", err)) == 1)
			mlf_kvs_add(&out->aliases, (const char *)sqlite3_column_text(st, 0), "");
		sqlite3_finalize(st);
		if (rc == 0)
			return 0;
	}
	mlf_model_version_release(out);
	return -1;
}

static int insert_version(struct sqlite_store *s, const char *name, const char *source,
			  const char *run_id, int64_t *version, struct mlf_error *err)
{
	sqlite3_stmt *st;
	int64_t now = mlf_now_ms();
	if (check_model(s, name, err))
		return -1;
	/* The write lock is held since BEGIN IMMEDIATE, so max+1 cannot race. */
	if (prepare(s, &st, "numbering the model version", err,
		    "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = ?", "s", name))
		return -1;
	int rc = step(s, st, "numbering the model version", err);
	if (rc == 1)
		*version = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != 1)
		return -1;
	/* As MLflow outside Databricks: no run_link; storage_location = source; stage "None". */
	if (exec(s, "creating the model version", err,
		 "INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
		 "description, user_id, current_stage, source, run_id, status, status_message, "
		 "run_link, storage_location) VALUES "
		 "(?1, ?2, ?3, ?3, NULL, NULL, 'None', ?4, ?5, 'READY', NULL, NULL, ?4)",
		 "siiss", name, *version, now, source, run_id && *run_id ? run_id : NULL))
		return -1;
	return exec(s, "updating the registered model", err,
		    "UPDATE registered_models SET last_updated_time = ? WHERE name = ?", "is", now, name);
}

static int sq_create_model_version(void *impl, const char *name, const char *source,
				   const char *run_id, struct mlf_model_version *out,
				   struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	int64_t version = 0;

	memset(out, 0, sizeof(*out));
	if (check_model_name(name, err))
		return -1;
	if (!source || !*source)
		return mlf_fail(err, MLF_EX_USAGE, "a model version needs a source");
	if (too_long("model version source", source, 500, err) || tx_begin_write(s, err))
		return -1;
	int rc = insert_version(s, name, source, run_id, &version, err);
	if (rc == 0)
		rc = load_version(s, name, version, out, err);
	if (tx_end(s, rc, err)) {
		if (rc == 0)
			mlf_model_version_release(out);
		return -1;
	}
	return 0;
}

static int parse_version(const char *name, const char *version, int64_t *out, struct mlf_error *err)
{
	if (parse_id(version, out) == 0 && *out > 0)
		return 0;
	return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
			     "model version '%s' of '%s' is not a positive integer", version ? version : "",
			     name);
}

static int sq_get_model_version(void *impl, const char *name, const char *version,
				struct mlf_model_version *out, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	int64_t v;
	memset(out, 0, sizeof(*out));
	if (check_model_name(name, err) || parse_version(name, version, &v, err) ||
	    tx_begin_read(s, err))
		return -1;
	int rc = load_version(s, name, v, out, err);
	tx_rollback(s);
	return rc;
}

static int check_alias(const char *alias, struct mlf_error *err)
{
	if (!alias || !*alias)
		return mlf_fail(err, MLF_EX_USAGE, "model alias is empty");
	if (too_long("model alias", alias, MAX_ALIAS, err))
		return -1;
	for (const unsigned char *p = (const unsigned char *)alias; *p; p++)
		if (!(*p >= 0x80 || *p == '_' || *p == '-' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
					     "model alias '%s' may hold only letters, digits, '_' and '-'",
					     alias);
	return 0;
}

/* "latest" and v<digits> mean something else to MLflow, so they cannot be set. */
static int reserved_alias(const char *alias)
{
	if (!strcasecmp(alias, "latest"))
		return 1;
	if ((alias[0] != 'v' && alias[0] != 'V') || !alias[1])
		return 0;
	return strspn(alias + 1, "0123456789") == strlen(alias + 1);
}

static int sq_set_alias(void *impl, const char *name, const char *alias, const char *version,
			struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	struct mlf_model_version mv;
	int64_t v;

	if (check_model_name(name, err) || check_alias(alias, err) ||
	    parse_version(name, version, &v, err))
		return -1;
	if (reserved_alias(alias))
		return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
				     "model alias '%s' is reserved by MLflow; choose another", alias);
	if (tx_begin_write(s, err))
		return -1;
	int rc = check_model(s, name, err);
	if (rc == 0 && (rc = load_version(s, name, v, &mv, err)) == 0)
		mlf_model_version_release(&mv);
	if (rc == 0)
		rc = exec(s, "setting the alias", err,
			  "INSERT OR REPLACE INTO registered_model_aliases (alias, version, name) "
			  "VALUES (?, ?, ?)", "sis", alias, v, name);
	return tx_end(s, rc, err);
}

static int find_alias(struct sqlite_store *s, const char *name, const char *alias,
		      struct mlf_model_version *out, struct mlf_error *err)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	int rc;

	if (check_model(s, name, err))
		return -1;
	if (!strcasecmp(alias, "latest"))
		/* MLflow's meaning: the highest live version. */
		rc = prepare(s, &st, "reading model aliases", err,
			     "SELECT MAX(version) FROM model_versions WHERE name = ? AND "
			     "(current_stage IS NULL OR current_stage != 'Deleted_Internal') "
			     "HAVING MAX(version) IS NOT NULL", "s", name);
	else
		rc = prepare(s, &st, "reading model aliases", err,
			     "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
			     "ss", name, alias);
	if (rc)
		return -1;
	rc = step(s, st, "reading model aliases", err);
	if (rc == 1)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc == 0)
		return not_found(err, "registered model '%s' has no alias '%s'", name, alias);
	if (rc < 0)
		return -1;
	return load_version(s, name, v, out, err);
}

static int sq_get_alias(void *impl, const char *name, const char *alias,
			struct mlf_model_version *out, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	memset(out, 0, sizeof(*out));
	if (check_model_name(name, err) || check_alias(alias, err) || tx_begin_read(s, err))
		return -1;
	int rc = find_alias(s, name, alias, out, err);
	tx_rollback(s);
	return rc;
}

/* ---- opening: create or check the schema ------------------------------- */

struct required_table {
	const char *table;
	const char *columns[16];
};

/* Every column this file reads or writes; an existing database must have them all. */
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
	sqlite3_stmt *st;
	if (prepare(s, &st, "checking the schema", err,
		    "SELECT 1 FROM pragma_table_info(?) WHERE name = ?", "ss", table, column))
		return -1;
	int rc = step(s, st, "checking the schema", err);
	sqlite3_finalize(st);
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
	if (prepare(s, &st, "checking the schema", err,
		    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'", ""))
		return -1;
	rc = step(s, st, "checking the schema", err);
	sqlite3_finalize(st);
	if (rc == 0)
		return mlf_fail(err, MLF_EX_CONFIG,
				"%s is an SQLite database but not an MLflow tracking store (it has "
				"no alembic_version table); point tracking_uri at an MLflow database "
				"or at a new file", s->uri);
	if (rc < 0 || prepare(s, &st, "checking the schema", err,
			      "SELECT version_num FROM alembic_version", ""))
		return -1;
	rc = step(s, st, "checking the schema", err);
	char *rev = rc == 1 ? col_str(st, 0) : NULL;
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
		mlf_fail(err, status_of(sqlite3_extended_errcode(s->db)),
			 "%s: creating MLflow %s's tables: %s", s->uri,
			 mlf_sqlite_schema_mlflow_version, errmsg ? errmsg : "unknown error");
		sqlite3_free(errmsg);
		return -1;
	}
	int64_t now = mlf_now_ms();
	char *loc = mlf_uri_append(s->artifact_root, "0");
	int rc = exec(s, "creating the Default experiment", err,
		      "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
		      "creation_time, last_update_time, workspace) "
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
		return db_fail(s, "opening the database", err);
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
	if (tx_begin_write(s, err))
		return -1;
	int rc = count_tables(s, &n, err);
	if (rc == 0 && n == 0)
		rc = create_schema(s, err);
	if (tx_end(s, rc, err))
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
		return db_fail(s, create ? "creating the database" : "opening the database", err);
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
	    exec(s, "opening the database", err, "PRAGMA foreign_keys = ON", "")) {
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
	if (tx_begin_read(s, err))
		return -1;
	int rc = check_schema(s, err);
	tx_rollback(s);
	return rc;
}

const struct mlf_tracking_ops mlf_sqlite_store_ops = {
	.name = "sqlite",
	.close = sq_close,
	.ping = sq_ping,
	.get_experiment = sq_get_experiment,
	.get_experiment_by_name = sq_get_experiment_by_name,
	.create_experiment = sq_create_experiment,
	.create_run = sq_create_run,
	.log_batch = sq_log_batch,
	.update_run = sq_update_run,
	.get_run = sq_get_run,
	.get_metric_history = sq_get_metric_history,
	.search_runs = sq_search_runs,
	.delete_run = sq_delete_run,
	.log_dataset_input = sq_log_dataset_input,
	.ensure_registered_model = sq_ensure_registered_model,
	.create_model_version = sq_create_model_version,
	.get_model_version = sq_get_model_version,
	.set_alias = sq_set_alias,
	.get_alias = sq_get_alias,
	.http = NULL,
};
