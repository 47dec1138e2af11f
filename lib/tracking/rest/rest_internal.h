/*
 * What the files of the REST backend share (internal to lib/tracking/): an
 * MLflow tracking server through /api/2.0/mlflow/ (docs/mlflow-formats.md
 * section 3).
 *
 *   rest_store.c     opening, ping, the ops table; building requests, calls,
 *                    reading answers; experiments
 *   rest_runs.c      runs, log-batch, search, metric history, dataset inputs
 *   rest_registry.c  registered models, their versions and aliases
 *   rest_models.c    MLflow 3 logged models and run outputs
 *
 * Wire rules: ids travel as JSON strings, int64 as numbers (numeric strings
 * are accepted back), doubles as numbers or "NaN"/"Infinity"/"-Infinity".
 * Requests that only read or that the server applies idempotently (log-batch
 * with the same values, update, delete, set-alias) are retried freely; the
 * two that create something new (a run, a model version) carry a random
 * `mlf.request_id` tag so that after an unclear failure we can look for
 * what the first attempt made instead of making a second one.
 *
 * Ownership: struct rest_store owns its HTTP client and strings, made by
 * mlf_rest_store_open and freed by the ops table's close.  Helpers borrow
 * the store and their arguments; strings they return are the caller's to
 * free (mlf_json_str's point into the JSON it reads), and JSON answers
 * are the caller's to json_decref.  The mlf_rest_* ops follow backend.h.
 */
#ifndef MLF_TRACKING_REST_INTERNAL_H
#define MLF_TRACKING_REST_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mlf/base.h"
#include "tracking/tracking_internal.h"

#define MLF_REST_API "/api/2.0/mlflow/"
#define MLF_REST_REQUEST_ID_TAG "mlf.request_id"
/* A server whose answer lacks what the API promises is not a working MLflow server. */
#define MLF_REST_EX_BAD_ANSWER MLF_EX_UNAVAILABLE

struct rest_store {
	struct mlf_http *http;
	char *shown_url;
};

/* ---- building requests (rest_store.c) ---------------------------------- */

/*
 * jansson refuses strings that are not UTF-8 and then silently drops the
 * member; a request missing a field must never go out, so builders record
 * the failure here and the request is refused before sending.
 */
struct rest_builder {
	json_t *obj;
	const char *bad_field;
};

/* A JSON string of `s` (NULL as ""); JSON null, noted in `b`, when not UTF-8. */
json_t *mlf_rest_jstr(struct rest_builder *b, const char *field, const char *s);
void mlf_rest_put_str(struct rest_builder *b, json_t *obj, const char *key, const char *value);
/* [{"key": ..., "value": ...}, ...]; `what` names the values in errors. */
json_t *mlf_rest_kv_array(struct rest_builder *b, const char *what, const struct mlf_kv *items,
			  size_t n);
/* Refuse a request with a field that is not UTF-8; on refusal b->obj is freed. */
int mlf_rest_builder_check(struct rest_builder *b, const char *endpoint, struct mlf_error *err);
/* Query string: "?k=v&k2=v2" with values percent-encoded. */
void mlf_rest_query_add(struct mlf_buf *q, const char *key, const char *value);

/* ---- calls (rest_store.c) ---------------------------------------------- */

/* Call an API endpoint; consumes `body`. */
int mlf_rest_api(struct rest_store *s, const char *method, const char *endpoint,
		 json_t *body, json_t **resp, struct mlf_error *err);
/* GET an API endpoint with the query string `query`, which it releases. */
int mlf_rest_api_get(struct rest_store *s, const char *endpoint, struct mlf_buf *query,
		     json_t **resp, struct mlf_error *err);

/* ---- reading answers (rest_store.c) ------------------------------------ */

/* A string or integer member as a new string; "" when missing. */
char *mlf_rest_jdup_str(const json_t *obj, const char *key);
/* A run as the server's JSON gives it ({"info": ..., "data": ...}) into *out; -1 with err
 * when it has no run id.  *out is released by the caller either way. */
int mlf_rest_read_run(const json_t *run, struct mlf_run *out, struct mlf_error *err);
/* An experiment ({"experiment_id": ..., "name": ..., "tags": ...}) into *out (released by
 * the caller); what is missing is left "" or 0. */
void mlf_rest_read_experiment(const json_t *e, struct mlf_experiment *out);
/* {"model_version": {...}} into *out (released by the caller either way); -1 with err
 * when there is no model_version. */
int mlf_rest_read_model_version(const json_t *resp, struct mlf_model_version *out,
				struct mlf_error *err);
/* [{"key", "value", "timestamp", "step"}, ...] into a new array; -1 with err (`what` names
 * the run) when a value is not a number. */
int mlf_rest_read_metrics(const json_t *arr, struct mlf_metric **out, size_t *n, const char *what,
			  struct mlf_error *err);
/* An int64 member (number or numeric string); 0 when missing or not one. */
int64_t mlf_rest_jget_i64(const json_t *obj, const char *key);
/* Append [{"key": ..., "value": ...}, ...] to `out`. */
void mlf_rest_read_kvs(const json_t *arr, struct mlf_kvs *out);

/* ---- runs (rest_runs.c) ------------------------------------------------ */

/* Append `value` in quotes to a search filter; fails for a value no quoting can carry. */
int mlf_rest_filter_quote(struct mlf_buf *f, const char *value, struct mlf_error *err);

int mlf_rest_create_run(void *impl, const char *experiment_id, const char *run_name,
			const char *user_id, int64_t start_time, const struct mlf_kvs *tags,
			struct mlf_run *out, struct mlf_error *err);
int mlf_rest_log_batch(void *impl, const char *run_id, const struct mlf_metric *metrics,
		       size_t nmetrics, const struct mlf_kv *params, size_t nparams,
		       const struct mlf_kv *tags, size_t ntags, struct mlf_error *err);
int mlf_rest_update_run(void *impl, const char *run_id, int status, int64_t end_time,
			struct mlf_error *err);
int mlf_rest_get_run(void *impl, const char *run_id, struct mlf_run *out,
		     struct mlf_error *err);
int mlf_rest_get_metric_history(void *impl, const char *run_id, const char *key,
				struct mlf_metric **out, size_t *n, struct mlf_error *err);
int mlf_rest_search_runs(void *impl, const char *experiment_id, const char *tag_key,
			 const char *tag_value, struct mlf_run_list *out, struct mlf_error *err);
int mlf_rest_delete_run(void *impl, const char *run_id, struct mlf_error *err);
int mlf_rest_log_dataset_input(void *impl, const char *run_id, const char *name,
			       const char *digest, const char *source_type, const char *source,
			       const char *context, struct mlf_error *err);

/* ---- model registry (rest_registry.c) ---------------------------------- */

int mlf_rest_ensure_registered_model(void *impl, const char *name, struct mlf_error *err);
int mlf_rest_create_model_version(void *impl, const char *name, const char *source,
				  const char *run_id, const char *model_id, struct mlf_model_version *out,
				  struct mlf_error *err);
int mlf_rest_get_model_version(void *impl, const char *name, const char *version,
			       struct mlf_model_version *out, struct mlf_error *err);
int mlf_rest_set_alias(void *impl, const char *name, const char *alias, const char *version,
		       struct mlf_error *err);
int mlf_rest_list_model_versions(void *impl, const char *name, struct mlf_kvs *out,
				 struct mlf_error *err);
int mlf_rest_delete_alias(void *impl, const char *name, const char *alias, struct mlf_error *err);
int mlf_rest_set_model_version_tag(void *impl, const char *name, const char *version, const char *key,
				   const char *value, struct mlf_error *err);
int mlf_rest_get_alias(void *impl, const char *name, const char *alias,
		       struct mlf_model_version *out, struct mlf_error *err);

/* ---- logged models (rest_models.c) ------------------------------------- */

int mlf_rest_create_logged_model(void *impl, const struct mlf_logged_model_request *req,
				 const char *model_id, struct mlf_logged_model *out,
				 struct mlf_error *err);
int mlf_rest_get_logged_model(void *impl, const char *model_id, struct mlf_logged_model *out,
			      struct mlf_error *err);
int mlf_rest_finalize_logged_model(void *impl, const char *model_id, int status, struct mlf_error *err);
int mlf_rest_set_logged_model_tag(void *impl, const char *model_id, const char *key, const char *value,
				  struct mlf_error *err);
int mlf_rest_log_model_output(void *impl, const char *run_id, const char *model_id, int64_t step,
			      struct mlf_error *err);

#endif
