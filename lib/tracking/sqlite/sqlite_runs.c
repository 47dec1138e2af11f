/*
 * Runs in the sqlite:/// backend: creating, reading, updating, searching and
 * deleting them, logging their params, metrics and tags, and recording the
 * datasets they used.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "sqlite_internal.h"

#define MAX_DATASET_NAME 500
#define MAX_DATASET_DIGEST 36
#define MAX_DATASET_SOURCE_TYPE 36  /* datasets.dataset_source_type is VARCHAR(36) too */
#define MAX_DATASET_SOURCE 65535
#define MAX_INPUT_TAG_VALUE 500

/* ---- metric values ----------------------------------------------------- */

/* The SQL store cannot hold NaN (SQLite reads it as NULL): 0 plus the is_nan flag. */
static double stored_value(double v, int *is_nan)
{
	*is_nan = isnan(v) != 0;
	return *is_nan ? 0.0 : v;
}

/*
 * Append the current row of `st`, whose first columns are value, timestamp,
 * step and is_nan, to the array `*v` of `*n` metrics; it takes `key`.
 */
static void add_metric_row(struct mlf_metric **v, size_t *n, size_t *cap, char *key,
			   sqlite3_stmt *st)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		*v = mlf_xrealloc(*v, *cap * sizeof(**v));
	}
	struct mlf_metric *m = &(*v)[(*n)++];
	m->key = key;
	m->value = sqlite3_column_int(st, 3) ? NAN : sqlite3_column_double(st, 0);
	m->timestamp = sqlite3_column_int64(st, 1);
	m->step = sqlite3_column_int64(st, 2);
}

/* ---- runs -------------------------------------------------------------- */

/* The run's lifecycle stage; NOT_FOUND when missing; INVALID when deleted and `active` asked. */
static int check_run(struct sqlite_store *s, const char *run_id, int active, int64_t *exp_id,
		     struct mlf_error *err)
{
	sqlite3_stmt *st;
	if (mlf_sq_prepare(s, &st, "reading a run", err,
			   "SELECT lifecycle_stage, experiment_id FROM runs WHERE run_uuid = ?", "s", run_id))
		return -1;
	int rc = mlf_sq_step(s, st, "reading a run", err);
	if (rc == 0)
		mlf_sq_not_found(err, "run %s not found in %s", run_id, s->uri);
	else if (rc == 1 && active &&
		 strcmp((const char *)sqlite3_column_text(st, 0), "active") != 0)
		rc = mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
				   "run %s in %s is deleted; restore it before changing it", run_id, s->uri);
	if (rc == 1 && exp_id)
		*exp_id = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	return rc == 1 ? 0 : -1;
}

static int load_latest_metrics(struct sqlite_store *s, const char *run_id, struct mlf_run *out,
			       struct mlf_error *err)
{
	sqlite3_stmt *st;
	int rc;
	size_t cap = 0;
	if (mlf_sq_prepare(s, &st, "reading a run's metrics", err,
			   "SELECT value, timestamp, step, is_nan, key FROM latest_metrics "
			   "WHERE run_uuid = ? ORDER BY key", "s", run_id))
		return -1;
	while ((rc = mlf_sq_step(s, st, "reading a run's metrics", err)) == 1)
		add_metric_row(&out->metrics, &out->nmetrics, &cap, mlf_sq_col_str(st, 4), st);
	sqlite3_finalize(st);
	return rc;
}

static int load_run(struct sqlite_store *s, const char *run_id, struct mlf_run *out,
		    struct mlf_error *err)
{
	sqlite3_stmt *st;
	memset(out, 0, sizeof(*out));
	if (mlf_sq_prepare(s, &st, "reading a run", err,
			   "SELECT run_uuid, experiment_id, name, user_id, artifact_uri, lifecycle_stage, "
			   "status, start_time, end_time FROM runs WHERE run_uuid = ?", "s", run_id))
		return -1;
	int rc = mlf_sq_step(s, st, "reading a run", err);
	if (rc == 1) {
		out->run_id = mlf_sq_col_str(st, 0);
		out->experiment_id = mlf_sq_col_str(st, 1);
		out->run_name = mlf_sq_col_str(st, 2);
		out->user_id = mlf_sq_col_str(st, 3);
		out->artifact_uri = mlf_sq_col_str(st, 4);
		out->lifecycle_stage = mlf_sq_col_str(st, 5);
		out->status = mlf_run_status_parse((const char *)sqlite3_column_text(st, 6));
		out->start_time = sqlite3_column_int64(st, 7);
		out->end_time = sqlite3_column_int64(st, 8);  /* NULL reads as 0: not ended */
	}
	sqlite3_finalize(st);
	if (rc == 0)
		return mlf_sq_not_found(err, "run %s not found in %s", run_id, s->uri);
	if (rc < 0 ||
	    mlf_sq_load_kvs(s, "reading a run", &out->params, err,
			    "SELECT key, value FROM params WHERE run_uuid = ? ORDER BY key", "s", run_id) ||
	    mlf_sq_load_kvs(s, "reading a run", &out->tags, err,
			    "SELECT key, value FROM tags WHERE run_uuid = ? ORDER BY key", "s", run_id) ||
	    load_latest_metrics(s, run_id, out, err)) {
		mlf_run_release(out);
		return -1;
	}
	return 0;
}

int mlf_sq_get_run(void *impl, const char *run_id, struct mlf_run *out, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	memset(out, 0, sizeof(*out));
	if (mlf_sq_tx_begin_read(s, err))
		return -1;
	int rc = load_run(s, run_id, out, err);
	mlf_sq_tx_rollback(s);
	return rc;
}

/* Insert or overwrite one run tag; mlflow.runName also renames the run, as MLflow does. */
static int set_tag(struct sqlite_store *s, const char *run_id, const char *key, const char *value,
		   struct mlf_error *err)
{
	if (mlf_sq_exec(s, "setting a tag", err,
			"INSERT OR REPLACE INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
			"sss", key, value, run_id))
		return -1;
	if (!strcmp(key, "mlflow.runName"))
		return mlf_sq_exec(s, "renaming the run", err, "UPDATE runs SET name = ? WHERE run_uuid = ?",
				   "ss", value, run_id);
	return 0;
}

static int insert_run(struct sqlite_store *s, const char *run_id, const char *experiment_id,
		      const char *run_name, const char *user_id, int64_t start_time,
		      const struct mlf_kvs *tags, struct mlf_error *err)
{
	struct mlf_experiment exp;
	if (mlf_sq_load_experiment(s, experiment_id, &exp, err))
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
	int rc = mlf_sq_exec(s, "creating the run", err,
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

int mlf_sq_create_run(void *impl, const char *experiment_id, const char *run_name,
		      const char *user_id, int64_t start_time, const struct mlf_kvs *tags,
		      struct mlf_run *out, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	char run_id[33];

	memset(out, 0, sizeof(*out));
	mlf_random_hex32(run_id);
	if (mlf_sq_tx_begin_write(s, err))
		return -1;
	if (mlf_sq_tx_end(s, insert_run(s, run_id, experiment_id, run_name, user_id, start_time, tags, err),
			  err))
		return -1;
	return mlf_sq_get_run(impl, run_id, out, err);
}

static int log_params(struct sqlite_store *s, const char *run_id, const struct mlf_kv *params,
		      size_t n, struct mlf_error *err)
{
	sqlite3_stmt *sel;
	int rc = 0;
	if (n == 0)
		return 0;
	if (mlf_sq_prepare(s, &sel, "reading params", err,
			   "SELECT value FROM params WHERE run_uuid = ? AND key = ?", ""))
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct mlf_kv *p = &params[i];
		if ((rc = mlf_sq_too_long("value of param", p->value, MLF_MAX_PARAM_VALUE, err)))
			break;
		rc = mlf_sq_rerun(s, sel, "reading params", err, "ss", run_id, p->key);
		if (rc == 1) {
			const char *old = (const char *)sqlite3_column_text(sel, 0);
			rc = 0;
			if (strcmp(old ? old : "", p->value ? p->value : "") != 0)
				rc = mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
						   "param '%s' of run %s is already '%.200s'; MLflow never "
						   "changes a logged param (new value '%.200s')",
						   p->key, run_id, old ? old : "", p->value ? p->value : "");
		} else if (rc == 0) {
			rc = mlf_sq_exec(s, "logging a param", err,
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
	if (mlf_sq_prepare(s, &ins, "logging metrics", err,
			   "INSERT OR IGNORE INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
			   "VALUES (?, ?, ?, ?, ?, ?)", "") ||
	    mlf_sq_prepare(s, &sel, "logging metrics", err,
			   "SELECT value, timestamp, step FROM latest_metrics "
			   "WHERE run_uuid = ? AND key = ?", "") ||
	    mlf_sq_prepare(s, &put, "logging metrics", err,
			   "INSERT OR REPLACE INTO latest_metrics "
			   "(key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)", ""))
		rc = -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct mlf_metric *m = &metrics[i];
		int is_nan;
		double v = stored_value(m->value, &is_nan);
		rc = mlf_sq_rerun(s, ins, "logging metrics", err, "sdisii", m->key, v, m->timestamp, run_id,
				  m->step, (int64_t)is_nan);
		if (rc == 0)
			rc = mlf_sq_rerun(s, sel, "logging metrics", err, "ss", run_id, m->key);
		if (rc < 0)
			break;
		int replace = rc == 0 || newer(m, v, sel);
		sqlite3_reset(sel);
		rc = 0;
		if (replace)
			rc = mlf_sq_rerun(s, put, "logging metrics", err, "sdiiis", m->key, v, m->timestamp,
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
		if (mlf_sq_too_long("value of tag", tags[i].value, MLF_MAX_TAG_VALUE, err) ||
		    set_tag(s, run_id, tags[i].key, tags[i].value ? tags[i].value : "", err))
			return -1;
	}
	return 0;
}

int mlf_sq_log_batch(void *impl, const char *run_id, const struct mlf_metric *metrics,
		     size_t nmetrics, const struct mlf_kv *params, size_t nparams,
		     const struct mlf_kv *tags, size_t ntags, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	if (mlf_sq_tx_begin_write(s, err))
		return -1;
	int rc = check_run(s, run_id, 1, NULL, err);
	if (rc == 0)
		rc = log_params(s, run_id, params, nparams, err);
	if (rc == 0)
		rc = log_metrics(s, run_id, metrics, nmetrics, err);
	if (rc == 0)
		rc = log_tags(s, run_id, tags, ntags, err);
	return mlf_sq_tx_end(s, rc, err);
}

int mlf_sq_update_run(void *impl, const char *run_id, int status, int64_t end_time,
		      struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	const char *name = mlf_run_status_name(status);
	int rc;

	if (!mlf_run_status_parse(name))
		return mlf_fail(err, MLF_EX_SOFTWARE, "run status %d is not an MLflow status", status);
	if (mlf_sq_tx_begin_write(s, err))
		return -1;
	rc = check_run(s, run_id, 1, NULL, err);
	if (rc == 0 && status == MLF_RUN_RUNNING && end_time == 0)
		rc = mlf_sq_exec(s, "reopening the run", err,
				 "UPDATE runs SET status = ?, end_time = NULL WHERE run_uuid = ?",
				 "ss", name, run_id);
	else if (rc == 0 && end_time == 0)
		rc = mlf_sq_exec(s, "updating the run", err, "UPDATE runs SET status = ? WHERE run_uuid = ?",
				 "ss", name, run_id);
	else if (rc == 0)
		rc = mlf_sq_exec(s, "updating the run", err,
				 "UPDATE runs SET status = ?, end_time = ? WHERE run_uuid = ?",
				 "sis", name, end_time, run_id);
	return mlf_sq_tx_end(s, rc, err);
}

int mlf_sq_get_metric_history(void *impl, const char *run_id, const char *key,
			      struct mlf_metric **out, size_t *n, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	sqlite3_stmt *st = NULL;
	struct mlf_metric *m = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (mlf_sq_tx_begin_read(s, err))
		return -1;
	rc = check_run(s, run_id, 0, NULL, err);
	/* MLflow's order: timestamp, then step, then value. */
	if (rc == 0)
		rc = mlf_sq_prepare(s, &st, "reading a metric history", err,
				    "SELECT value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? "
				    "AND key = ? ORDER BY timestamp, step, value", "ss", run_id, key);
	while (rc == 0 && (rc = mlf_sq_step(s, st, "reading a metric history", err)) == 1) {
		add_metric_row(&m, &len, &cap, mlf_xstrdup(key), st);
		rc = 0;
	}
	sqlite3_finalize(st);
	mlf_sq_tx_rollback(s);
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

	if (mlf_sq_load_experiment(s, experiment_id, &exp, err))
		return -1;
	mlf_experiment_release(&exp);
	if (mlf_sq_prepare(s, &st, "searching runs", err,
			   "SELECT r.run_uuid FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
			   "WHERE r.experiment_id = ?1 AND r.lifecycle_stage = 'active' AND t.key = ?2 "
			   "AND (?3 IS NULL OR t.value = ?3) ORDER BY r.start_time DESC, r.run_uuid",
			   "iss", (int64_t)strtoll(experiment_id, NULL, 10), tag_key, tag_value))
		return -1;
	while ((rc = mlf_sq_step(s, st, "searching runs", err)) == 1)
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

int mlf_sq_search_runs(void *impl, const char *experiment_id, const char *tag_key,
		       const char *tag_value, struct mlf_run_list *out, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	memset(out, 0, sizeof(*out));
	if (mlf_sq_tx_begin_read(s, err))
		return -1;
	int rc = find_runs(s, experiment_id, tag_key, tag_value, out, err);
	mlf_sq_tx_rollback(s);
	if (rc)
		mlf_run_list_release(out);
	return rc ? -1 : 0;
}

int mlf_sq_delete_run(void *impl, const char *run_id, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	if (mlf_sq_tx_begin_write(s, err))
		return -1;
	int rc = check_run(s, run_id, 0, NULL, err);
	if (rc == 0)
		rc = mlf_sq_exec(s, "deleting the run", err,
				 "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? "
				 "WHERE run_uuid = ?",
				 "is", mlf_now_ms(), run_id);
	return mlf_sq_tx_end(s, rc, err);
}

/* ---- dataset inputs ---------------------------------------------------- */

/* The experiment's dataset with this name and digest, created when missing. */
static int dataset_uuid(struct sqlite_store *s, int64_t exp_id, const char *name,
			const char *digest, const char *source_type, const char *source,
			char out[33], struct mlf_error *err)
{
	sqlite3_stmt *st;
	if (mlf_sq_prepare(s, &st, "reading datasets", err,
			   "SELECT dataset_uuid FROM datasets "
			   "WHERE experiment_id = ? AND name = ? AND digest = ?",
			   "iss", exp_id, name, digest))
		return -1;
	int rc = mlf_sq_step(s, st, "reading datasets", err);
	if (rc == 1)
		snprintf(out, 33, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	mlf_random_hex32(out);
	return mlf_sq_exec(s, "recording the dataset", err,
			   "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, "
			   "dataset_source_type, dataset_source, dataset_schema, dataset_profile) "
			   "VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
			   "sissss", out, exp_id, name, digest, source_type, source);
}

static int add_input(struct sqlite_store *s, const char *run_id, const char *ds_uuid,
		     const char *context, struct mlf_error *err)
{
	char input_uuid[33];
	int rc = mlf_sq_exists(s, "reading run inputs", err,
			       "SELECT input_uuid FROM inputs WHERE source_type = 'DATASET' "
			       "AND source_id = ? AND destination_type = 'RUN' AND destination_id = ?",
			       "ss", ds_uuid, run_id);
	if (rc != 0)  /* already an input of this run: MLflow keeps the first one */
		return rc < 0 ? -1 : 0;
	mlf_random_hex32(input_uuid);
	if (mlf_sq_exec(s, "recording the run input", err,
			"INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, "
			"destination_id) VALUES (?, 'DATASET', ?, 'RUN', ?)",
			"sss", input_uuid, ds_uuid, run_id))
		return -1;
	if (!context || !*context)
		return 0;
	return mlf_sq_exec(s, "recording the dataset context", err,
			   "INSERT INTO input_tags (input_uuid, name, value) "
			   "VALUES (?, 'mlflow.data.context', ?)",
			   "ss", input_uuid, context);
}

int mlf_sq_log_dataset_input(void *impl, const char *run_id, const char *name,
			     const char *digest, const char *source_type, const char *source,
			     const char *context, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	char ds[33];
	int64_t exp_id = 0;

	if (!name || !*name || !digest || !*digest || !source_type || !*source_type || !source)
		return mlf_fail(err, MLF_EX_USAGE, "a dataset needs a name, digest, source type and source");
	if (mlf_sq_too_long("dataset name", name, MAX_DATASET_NAME, err) ||
	    mlf_sq_too_long("dataset digest", digest, MAX_DATASET_DIGEST, err) ||
	    mlf_sq_too_long("dataset source type", source_type, MAX_DATASET_SOURCE_TYPE, err) ||
	    mlf_sq_too_long("dataset source", source, MAX_DATASET_SOURCE, err) ||
	    mlf_sq_too_long("dataset context", context, MAX_INPUT_TAG_VALUE, err))
		return -1;
	if (mlf_sq_tx_begin_write(s, err))
		return -1;
	int rc = check_run(s, run_id, 1, &exp_id, err);
	if (rc == 0)
		rc = dataset_uuid(s, exp_id, name, digest, source_type, source, ds, err);
	if (rc == 0)
		rc = add_input(s, run_id, ds, context, err);
	return mlf_sq_tx_end(s, rc, err);
}
