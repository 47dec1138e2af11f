/*
 * MLflow 3 logged models in MLflow's SQL schema: the rows of logged_models,
 * logged_model_params and logged_model_tags as MLflow's SQL store writes
 * them (status as its integer, lifecycle "active"), and the run output, a
 * row of inputs from RUN_OUTPUT <run> to MODEL_OUTPUT <model> at a step.
 */
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "sqlite_internal.h"

static int insert_kvs(struct sqlite_store *s, const char *table, const char *key_col,
		      const char *value_col, const char *model_id, int64_t exp_id,
		      const struct mlf_kvs *kvs, struct mlf_error *err)
{
	int rc = 0;
	char *sql = mlf_xasprintf("INSERT OR REPLACE INTO %s (model_id, experiment_id, %s, %s) "
				  "VALUES (?, ?, ?, ?)", table, key_col, value_col);
	for (size_t i = 0; !rc && kvs && i < kvs->n; i++)
		rc = mlf_sq_exec(s, "recording the logged model", err, sql, "siss", model_id, exp_id,
				 kvs->items[i].key, kvs->items[i].value);
	free(sql);
	return rc;
}

static int load(struct sqlite_store *s, const char *model_id, struct mlf_logged_model *out,
		struct mlf_error *err)
{
	sqlite3_stmt *st;
	memset(out, 0, sizeof(*out));
	if (mlf_sq_prepare(s, &st, "reading the logged model", err,
			   "SELECT model_id, CAST(experiment_id AS TEXT), name, artifact_location, "
			   "source_run_id, model_type, status FROM logged_models "
			   "WHERE model_id = ? AND lifecycle_stage = 'active'", "s", model_id))
		return -1;
	int rc = mlf_sq_step(s, st, "reading the logged model", err);
	if (rc == 1) {
		out->model_id = mlf_sq_col_str(st, 0);
		out->experiment_id = mlf_sq_col_str(st, 1);
		out->name = mlf_sq_col_str(st, 2);
		out->artifact_uri = mlf_sq_col_str(st, 3);
		out->source_run_id = mlf_sq_col_str(st, 4);
		out->model_type = mlf_sq_col_str(st, 5);
		out->status = sqlite3_column_int(st, 6);
	}
	sqlite3_finalize(st);
	if (rc == 0)
		return mlf_sq_not_found(err, "logged model '%s' not found in %s", model_id, s->uri);
	if (rc < 0 ||
	    mlf_sq_load_kvs(s, "reading the logged model's params", &out->params, err,
			    "SELECT param_key, param_value FROM logged_model_params WHERE model_id = ? "
			    "ORDER BY param_key", "s", model_id) ||
	    mlf_sq_load_kvs(s, "reading the logged model's tags", &out->tags, err,
			    "SELECT tag_key, tag_value FROM logged_model_tags WHERE model_id = ? "
			    "ORDER BY tag_key", "s", model_id)) {
		mlf_logged_model_release(out);
		return -1;
	}
	return 0;
}

int mlf_sq_get_logged_model(void *impl, const char *model_id, struct mlf_logged_model *out,
			    struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	if (mlf_sq_tx_begin_read(s, err))
		return -1;
	int rc = load(s, model_id, out, err);
	mlf_sq_tx_rollback(s);
	return rc;
}

int mlf_sq_create_logged_model(void *impl, const struct mlf_logged_model_request *req,
			       const char *model_id, struct mlf_logged_model *out,
			       struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	struct mlf_experiment exp;
	memset(out, 0, sizeof(*out));
	if (mlf_sq_tx_begin_write(s, err))
		return -1;
	if (mlf_sq_load_experiment(s, req->experiment_id, &exp, err)) {
		mlf_sq_tx_rollback(s);
		return -1;
	}
	int64_t exp_id = strtoll(exp.experiment_id, NULL, 10), now = mlf_now_ms();
	/* where MLflow's SQL store puts a model's files: <experiment root>/models/<id>/artifacts */
	char *segments = mlf_xasprintf("models/%s/artifacts", model_id);
	char *location = mlf_uri_append(exp.artifact_location, segments);
	int rc = strcmp(exp.lifecycle_stage, "active")
		 ? mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID, "experiment %s in %s is deleted",
				 req->experiment_id, s->uri)
		 : mlf_sq_exec(s, "creating the logged model", err,
			       "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, "
			       "creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, "
			       "model_type, source_run_id, status_message) "
			       "VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, 'active', ?7, ?8, NULL)",
			       "sissiiss", model_id, exp_id, req->name, location, now,
			       (int64_t)MLF_LOGGED_MODEL_PENDING, req->model_type, req->source_run_id);
	if (!rc)
		rc = insert_kvs(s, "logged_model_params", "param_key", "param_value", model_id, exp_id,
				req->params, err) ||
		     insert_kvs(s, "logged_model_tags", "tag_key", "tag_value", model_id, exp_id,
				req->tags, err);
	free(location);
	free(segments);
	mlf_experiment_release(&exp);
	if (mlf_sq_tx_end(s, rc, err))
		return -1;
	return mlf_sq_get_logged_model(impl, model_id, out, err);
}

/* 0 when the logged model exists, else -1 (NOT_FOUND, or the database's error). */
static int model_exists(struct sqlite_store *s, const char *model_id, struct mlf_error *err)
{
	int rc = mlf_sq_exists(s, "reading the logged model", err,
			       "SELECT 1 FROM logged_models WHERE model_id = ?", "s", model_id);
	if (rc == 0)
		return mlf_sq_not_found(err, "logged model '%s' not found in %s", model_id, s->uri);
	return rc == 1 ? 0 : -1;
}

int mlf_sq_finalize_logged_model(void *impl, const char *model_id, int status, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	if (mlf_sq_tx_begin_write(s, err))
		return -1;
	int rc = model_exists(s, model_id, err);
	if (rc == 0)
		rc = mlf_sq_exec(s, "finalizing the logged model", err,
				 "UPDATE logged_models SET status = ?, last_updated_timestamp_ms = ? "
				 "WHERE model_id = ?", "iis", (int64_t)status, mlf_now_ms(), model_id);
	return mlf_sq_tx_end(s, rc, err);
}

/* Inside a write transaction: set one tag, the model's experiment taken from its row. */
static int set_tag(struct sqlite_store *s, const char *model_id, const char *key, const char *value,
		   struct mlf_error *err)
{
	return mlf_sq_exec(s, "tagging the logged model", err,
			   "INSERT OR REPLACE INTO logged_model_tags (model_id, experiment_id, tag_key, "
			   "tag_value) SELECT model_id, experiment_id, ?2, ?3 FROM logged_models "
			   "WHERE model_id = ?1", "sss", model_id, key, value);
}

int mlf_sq_set_logged_model_tag(void *impl, const char *model_id, const char *key, const char *value,
				struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	if (mlf_sq_tx_begin_write(s, err))
		return -1;
	int rc = model_exists(s, model_id, err);
	if (rc == 0)
		rc = set_tag(s, model_id, key, value, err);
	return mlf_sq_tx_end(s, rc, err);
}

int mlf_sq_log_model_output(void *impl, const char *run_id, const char *model_id, int64_t step,
			    struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	char input_uuid[33];
	if (mlf_sq_tx_begin_write(s, err))
		return -1;
	int rc = mlf_sq_exists(s, "reading run outputs", err,
			       "SELECT 1 FROM inputs WHERE source_type = 'RUN_OUTPUT' AND source_id = ? "
			       "AND destination_type = 'MODEL_OUTPUT' AND destination_id = ?",
			       "ss", run_id, model_id);
	if (rc == 0) {
		mlf_random_hex32(input_uuid);
		rc = mlf_sq_exec(s, "recording the run output", err,
				 "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, "
				 "destination_id, step) VALUES (?, 'RUN_OUTPUT', ?, 'MODEL_OUTPUT', ?, ?)",
				 "sssi", input_uuid, run_id, model_id, step);
	}
	return mlf_sq_tx_end(s, rc < 0 ? -1 : 0, err);
}

/*
 * Inside create_model_version's transaction: the model's files are the
 * version's (storage_location), and the model lists its registered versions
 * in its tag mlflow.modelVersions, as MLflow's server writes it.
 */
int mlf_sq_model_version_of_model(struct sqlite_store *s, const char *model_id, const char *name,
				  int64_t version, char **location, struct mlf_error *err)
{
	struct mlf_logged_model m;
	*location = NULL;
	if (load(s, model_id, &m, err))
		return -1;
	char *text = mlf_model_versions_tag_add(mlf_kvs_get(&m.tags, MLF_TAG_MODEL_VERSIONS), name, version);
	int rc = set_tag(s, model_id, MLF_TAG_MODEL_VERSIONS, text, err);
	free(text);
	if (!rc)
		*location = mlf_xstrdup(m.artifact_uri);
	mlf_logged_model_release(&m);
	return rc;
}
