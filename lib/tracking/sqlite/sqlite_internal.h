/*
 * What the files of the sqlite:/// backend share (internal to lib/tracking/).
 *
 *   sqlite_store.c        opening, the schema check and creation, ping, the ops table
 *   sqlite_db.c           errors, statements, transactions and value checks
 *   sqlite_experiments.c  experiments
 *   sqlite_runs.c         runs, their params, metrics and tags, and dataset inputs
 *   sqlite_registry.c     registered models, their versions and aliases
 *   sqlite_models.c       MLflow 3 logged models and run outputs
 *
 * Ownership: struct sqlite_store owns its connection and strings, made by
 * mlf_sqlite_store_open and freed by the ops table's close.  Helpers borrow
 * the store and their string arguments; strings they return are the caller's
 * to free.  mlf_sq_prepare hands its statement to the caller, who finalizes
 * it; the other statement helpers finalize their own.  The ops follow backend.h.
 */
#ifndef MLF_LIB_TRACKING_SQLITE_SQLITE_INTERNAL_H
#define MLF_LIB_TRACKING_SQLITE_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "tracking/tracking_internal.h"

struct sqlite_store {
	sqlite3 *db;
	char *path;           /* absolute path of the database file */
	char *uri;            /* sqlite:///<path>, for messages */
	char *artifact_root;  /* file:// URI of the folder holding the database */
	char *workspace;
};

/* ---- errors (sqlite_db.c) ---------------------------------------------- */

/* The sysexits status for an SQLite result code. */
int mlf_sq_status(int rc);
/* The connection's last error, as "sqlite:///x.db: <what>: <sqlite message>". */
int mlf_sq_fail(struct sqlite_store *s, const char *what, struct mlf_error *err);
/* A NOT_FOUND error; `fmt` takes the two strings `a` and `b`. */
int mlf_sq_not_found(struct mlf_error *err, const char *fmt, const char *a, const char *b);

/* ---- statements -------------------------------------------------------- */

/*
 * The variadic helpers bind one argument per character of `types`:
 * 's' const char * (NULL binds NULL), 'i' int64_t, 'd' double.
 * `what` says in error messages what was being done.
 */
int mlf_sq_prepare(struct sqlite_store *s, sqlite3_stmt **st, const char *what,
		   struct mlf_error *err, const char *sql, const char *types, ...);
/* 1 for a row, 0 when done, -1 on error. */
int mlf_sq_step(struct sqlite_store *s, sqlite3_stmt *st, const char *what,
		struct mlf_error *err);
/* Run a statement that returns no rows we need. */
int mlf_sq_exec(struct sqlite_store *s, const char *what, struct mlf_error *err,
		const char *sql, const char *types, ...);
/* 1 when the query returns a row, 0 when it returns none, -1 on error. */
int mlf_sq_exists(struct sqlite_store *s, const char *what, struct mlf_error *err,
		  const char *sql, const char *types, ...);
/* Re-run a prepared statement with new values; returns as mlf_sq_step. */
int mlf_sq_rerun(struct sqlite_store *s, sqlite3_stmt *st, const char *what,
		 struct mlf_error *err, const char *types, ...);
/* Add each row's first two columns to `out` as key and value. */
int mlf_sq_load_kvs(struct sqlite_store *s, const char *what, struct mlf_kvs *out,
		    struct mlf_error *err, const char *sql, const char *types, ...);
/* Column `i` of the current row, "" for NULL. */
char *mlf_sq_col_str(sqlite3_stmt *st, int i);

/* ---- transactions ------------------------------------------------------ */

/* Takes the write lock up front (BEGIN IMMEDIATE), so writers wait, not fail half-way. */
int mlf_sq_tx_begin_write(struct sqlite_store *s, struct mlf_error *err);
/* A deferred transaction, so a read sees one snapshot; end it with mlf_sq_tx_rollback. */
int mlf_sq_tx_begin_read(struct sqlite_store *s, struct mlf_error *err);
/* Commit when `rc` is 0, else roll back; returns the outcome. */
int mlf_sq_tx_end(struct sqlite_store *s, int rc, struct mlf_error *err);
void mlf_sq_tx_rollback(struct sqlite_store *s);

/* ---- values ------------------------------------------------------------ */

/* An SQL id in canonical decimal form; -1 for anything else. */
int mlf_sq_parse_id(const char *text, int64_t *out);
/* 0, or -1 with err filled when `value` is longer than MLflow allows. */
int mlf_sq_too_long(const char *what, const char *value, size_t max, struct mlf_error *err);

/* ---- ops, as in struct mlf_tracking_ops; close and ping are in sqlite_store.c */

/* sqlite_experiments.c */
int mlf_sq_get_experiment(void *impl, const char *id, struct mlf_experiment *out,
			  struct mlf_error *err);
int mlf_sq_get_experiment_by_name(void *impl, const char *name, struct mlf_experiment *out,
				  struct mlf_error *err);
int mlf_sq_create_experiment(void *impl, const char *name, const char *id,
			     const char *artifact_location, char **id_out, struct mlf_error *err);
/* Not an op: fill `out` with experiment `id`, NOT_FOUND when there is none; for runs. */
int mlf_sq_load_experiment(struct sqlite_store *s, const char *id, struct mlf_experiment *out,
			   struct mlf_error *err);

/* sqlite_runs.c */
int mlf_sq_create_run(void *impl, const char *experiment_id, const char *run_name,
		      const char *user_id, int64_t start_time, const struct mlf_kvs *tags,
		      struct mlf_run *out, struct mlf_error *err);
int mlf_sq_log_batch(void *impl, const char *run_id, const struct mlf_metric *metrics,
		     size_t nmetrics, const struct mlf_kv *params, size_t nparams,
		     const struct mlf_kv *tags, size_t ntags, struct mlf_error *err);
int mlf_sq_update_run(void *impl, const char *run_id, int status, int64_t end_time,
		      struct mlf_error *err);
int mlf_sq_get_run(void *impl, const char *run_id, struct mlf_run *out, struct mlf_error *err);
int mlf_sq_get_metric_history(void *impl, const char *run_id, const char *key,
			      struct mlf_metric **out, size_t *n, struct mlf_error *err);
int mlf_sq_search_runs(void *impl, const char *experiment_id, const char *tag_key,
		       const char *tag_value, struct mlf_run_list *out, struct mlf_error *err);
int mlf_sq_delete_run(void *impl, const char *run_id, struct mlf_error *err);
int mlf_sq_log_dataset_input(void *impl, const char *run_id, const char *name,
			     const char *digest, const char *source_type, const char *source,
			     const char *context, struct mlf_error *err);

/* sqlite_registry.c */
int mlf_sq_ensure_registered_model(void *impl, const char *name, struct mlf_error *err);
int mlf_sq_create_model_version(void *impl, const char *name, const char *source,
				const char *run_id, const char *model_id, struct mlf_model_version *out,
				struct mlf_error *err);
/* sqlite_models.c: logged models */
int mlf_sq_create_logged_model(void *impl, const struct mlf_logged_model_request *req,
			       const char *model_id, struct mlf_logged_model *out,
			       struct mlf_error *err);
int mlf_sq_get_logged_model(void *impl, const char *model_id, struct mlf_logged_model *out,
			    struct mlf_error *err);
int mlf_sq_finalize_logged_model(void *impl, const char *model_id, int status, struct mlf_error *err);
int mlf_sq_set_logged_model_tag(void *impl, const char *model_id, const char *key, const char *value,
				struct mlf_error *err);
int mlf_sq_log_model_output(void *impl, const char *run_id, const char *model_id, int64_t step,
			    struct mlf_error *err);
/* In a write transaction: the storage location of model_id's version `version` of `name`
 * (*location, new), after listing it in the model's mlflow.modelVersions tag. */
int mlf_sq_model_version_of_model(struct sqlite_store *s, const char *model_id, const char *name,
				  int64_t version, char **location, struct mlf_error *err);
int mlf_sq_get_model_version(void *impl, const char *name, const char *version,
			     struct mlf_model_version *out, struct mlf_error *err);
int mlf_sq_list_model_versions(void *impl, const char *name, struct mlf_kvs *out,
			       struct mlf_error *err);
int mlf_sq_delete_alias(void *impl, const char *name, const char *alias, struct mlf_error *err);
int mlf_sq_set_model_version_tag(void *impl, const char *name, const char *version, const char *key,
				 const char *value, struct mlf_error *err);
int mlf_sq_set_alias(void *impl, const char *name, const char *alias, const char *version,
		     struct mlf_error *err);
int mlf_sq_get_alias(void *impl, const char *name, const char *alias,
		     struct mlf_model_version *out, struct mlf_error *err);

/*
 * The schema of a fresh MLflow tracking database, as generated data
 * (lib/tracking/sqlite/sqlite_schema.c, made by scripts/gen-sqlite-schema).
 */

/* The MLflow release the schema was taken from, e.g. "3.17.2". */
extern const char mlf_sqlite_schema_mlflow_version[];
/* Its alembic head revision: the only one the backend accepts. */
extern const char mlf_sqlite_schema_revision[];
/* The release's earlier revisions, newest first, NULL-terminated. */
extern const char *const mlf_sqlite_schema_older_revisions[];
/* SQL statements (CREATE ... and INSERT ...) to run inside one transaction. */
extern const char mlf_sqlite_schema_sql[];

#endif
