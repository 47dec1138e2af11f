/*
 * Experiments in the sqlite:/// backend: reading them with their tags, and
 * creating them with MLflow's integer ids and default artifact locations.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "sqlite_internal.h"

#define MAX_EXPERIMENT_NAME 500

static int bad_experiment_id(const char *id, struct mlf_error *err)
{
	return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
			     "experiment id '%s' is not a decimal integer; a sqlite tracking store "
			     "numbers its experiments 0, 1, 2, ... (leave the id out to let it choose)", id);
}

static const char experiment_columns[] =
	"SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
	"last_update_time FROM experiments ";

/* Fill `out` from the first row of `st`; 1 found, 0 not found, -1 error. */
static int read_experiment(struct sqlite_store *s, sqlite3_stmt *st, struct mlf_experiment *out,
			   struct mlf_error *err)
{
	int rc = mlf_sq_step(s, st, "reading an experiment", err);
	if (rc != 1)
		return rc;
	memset(out, 0, sizeof(*out));
	out->experiment_id = mlf_sq_col_str(st, 0);
	out->name = mlf_sq_col_str(st, 1);
	out->artifact_location = mlf_sq_col_str(st, 2);
	out->lifecycle_stage = mlf_sq_col_str(st, 3);
	out->creation_time = sqlite3_column_int64(st, 4);
	out->last_update_time = sqlite3_column_int64(st, 5);

	if (mlf_sq_load_kvs(s, "reading experiment tags", &out->tags, err,
			    "SELECT key, value FROM experiment_tags WHERE experiment_id = ? ORDER BY key",
			    "i", sqlite3_column_int64(st, 0)) == 0)
		return 1;
	mlf_experiment_release(out);
	return -1;
}

int mlf_sq_load_experiment(struct sqlite_store *s, const char *id, struct mlf_experiment *out,
			   struct mlf_error *err)
{
	int64_t n;
	sqlite3_stmt *st;
	if (mlf_sq_parse_id(id, &n))
		return mlf_sq_not_found(err, "experiment '%s' not found in %s "
					"(sqlite stores have integer ids)", id, s->uri);
	struct mlf_buf sql = MLF_BUF_INIT;
	mlf_buf_adds(&sql, experiment_columns);
	mlf_buf_adds(&sql, "WHERE experiment_id = ?");
	int rc = mlf_sq_prepare(s, &st, "reading an experiment", err, sql.data, "i", n);
	mlf_buf_release(&sql);
	if (rc)
		return -1;
	rc = read_experiment(s, st, out, err);
	sqlite3_finalize(st);
	if (rc == 0)
		return mlf_sq_not_found(err, "experiment %s not found in %s", id, s->uri);
	return rc < 0 ? -1 : 0;
}

int mlf_sq_get_experiment(void *impl, const char *id, struct mlf_experiment *out,
			  struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	if (mlf_sq_tx_begin_read(s, err))
		return -1;
	int rc = mlf_sq_load_experiment(s, id, out, err);
	mlf_sq_tx_rollback(s);
	return rc;
}

int mlf_sq_get_experiment_by_name(void *impl, const char *name, struct mlf_experiment *out,
				  struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	struct mlf_buf sql = MLF_BUF_INIT;
	sqlite3_stmt *st;
	int rc = -1;

	if (mlf_sq_tx_begin_read(s, err))
		return -1;
	mlf_buf_adds(&sql, experiment_columns);
	mlf_buf_adds(&sql, "WHERE name = ?");
	if (mlf_sq_prepare(s, &st, "reading an experiment", err, sql.data, "s", name) == 0) {
		rc = read_experiment(s, st, out, err);
		sqlite3_finalize(st);
		if (rc == 0)
			rc = mlf_sq_not_found(err, "no experiment named '%s' in %s", name, s->uri);
		else if (rc == 1)
			rc = 0;
	}
	mlf_buf_release(&sql);
	mlf_sq_tx_rollback(s);
	return rc;
}

/* As MLflow: a plain path is made absolute and stored as a path; URIs are kept. */
static char *resolve_artifact_location(struct sqlite_store *s, const char *loc)
{
	if (mlf_uri_kind(loc) == MLF_URI_FILE && strncmp(loc, "file:", 5) != 0)
		return mlf_path_absolute(s->workspace, loc);
	return mlf_xstrdup(loc);
}

/* -1 (EXISTS) when `st` finds a row: `fmt` gets `a`, the store and the row's two columns. */
static int refuse_existing(struct sqlite_store *s, sqlite3_stmt *st, const char *what,
			   const char *fmt, const char *a, struct mlf_error *err)
{
	int rc = mlf_sq_step(s, st, what, err);
	if (rc == 1)
		mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_EXISTS, fmt, a, s->uri,
			      (const char *)sqlite3_column_text(st, 0),
			      (const char *)sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	return rc ? -1 : 0;
}

static int check_new_experiment(struct sqlite_store *s, const char *name, const char *id,
				int64_t n, struct mlf_error *err)
{
	sqlite3_stmt *st;
	if (mlf_sq_prepare(s, &st, "checking experiment names", err,
			   "SELECT experiment_id, lifecycle_stage FROM experiments WHERE name = ?",
			   "s", name) ||
	    refuse_existing(s, st, "checking experiment names",
			    "an experiment named '%s' already exists in %s (id %s, %s)", name, err))
		return -1;
	if (!id)
		return 0;
	if (mlf_sq_prepare(s, &st, "checking experiment ids", err,
			   "SELECT name, lifecycle_stage FROM experiments WHERE experiment_id = ?",
			   "i", n) ||
	    refuse_existing(s, st, "checking experiment ids",
			    "experiment id %s is already taken in %s by '%s' (%s)", id, err))
		return -1;
	return 0;
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
	    mlf_sq_exec(s, "creating the experiment", err, sql, id ? "ssii" : "ssi",
			name, location, now, n))
		return -1;
	int64_t got = sqlite3_last_insert_rowid(s->db);
	*id_out = mlf_xasprintf("%" PRId64, got);
	if (!location) {
		char *seg = mlf_xasprintf("%" PRId64, got);
		char *loc = mlf_uri_append(s->artifact_root, seg);
		int rc = mlf_sq_exec(s, "setting the artifact location", err,
				     "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
				     "si", loc, got);
		free(seg);
		free(loc);
		if (rc)
			return -1;
	}
	return 0;
}

int mlf_sq_create_experiment(void *impl, const char *name, const char *id,
			     const char *artifact_location, char **id_out, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	int64_t n = 0;
	char *location = NULL, *got = NULL;

	*id_out = NULL;
	if (id && mlf_sq_parse_id(id, &n))
		return bad_experiment_id(id, err);
	if (!name || !*name)
		return mlf_fail(err, MLF_EX_USAGE, "experiment name is empty");
	if (mlf_sq_too_long("experiment name", name, MAX_EXPERIMENT_NAME, err))
		return -1;
	if (artifact_location && *artifact_location)
		location = resolve_artifact_location(s, artifact_location);
	if (mlf_sq_tx_begin_write(s, err)) {
		free(location);
		return -1;
	}
	int rc = mlf_sq_tx_end(s, insert_experiment(s, name, id, n, location, &got, err), err);
	free(location);
	if (rc) {
		free(got);
		return -1;
	}
	*id_out = got;
	return 0;
}
