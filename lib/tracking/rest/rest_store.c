/*
 * The REST backend: opening the store, ping, the ops table, what every part
 * of it shares (building requests, calls, reading answers), and experiments.
 * The wire rules and the other files are listed in rest_internal.h.
 */
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "tracking/tracking_internal.h"
#include "rest_internal.h"

/* ---- JSON building ----------------------------------------------------- */

json_t *mlf_rest_jstr(struct rest_builder *b, const char *field, const char *s)
{
	json_t *j = json_string(s ? s : "");
	if (!j) {
		if (!b->bad_field)
			b->bad_field = field;
		return json_null();
	}
	return j;
}

void mlf_rest_put_str(struct rest_builder *b, json_t *obj, const char *key, const char *value)
{
	json_object_set_new(obj, key, mlf_rest_jstr(b, key, value));
}

json_t *mlf_rest_kv_array(struct rest_builder *b, const char *what, const struct mlf_kv *items,
			  size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		mlf_rest_put_str(b, o, "key", items[i].key);
		json_object_set_new(o, "value", mlf_rest_jstr(b, what, items[i].value));
		json_array_append_new(arr, o);
	}
	return arr;
}

int mlf_rest_builder_check(struct rest_builder *b, const char *endpoint, struct mlf_error *err)
{
	if (!b->bad_field)
		return 0;
	json_decref(b->obj);
	b->obj = NULL;
	return mlf_fail(err, MLF_EX_DATAERR, "cannot send %s: a %s is not valid UTF-8", endpoint,
			b->bad_field);
}

void mlf_rest_query_add(struct mlf_buf *q, const char *key, const char *value)
{
	char *enc = mlf_uri_encode(value ? value : "", NULL);
	mlf_buf_addc(q, q->len ? '&' : '?');
	mlf_buf_adds(q, key);
	mlf_buf_addc(q, '=');
	mlf_buf_adds(q, enc);
	free(enc);
}

/* ---- calls ------------------------------------------------------------- */

int mlf_rest_api(struct rest_store *s, const char *method, const char *endpoint,
		 json_t *body, json_t **resp, struct mlf_error *err)
{
	char *path = mlf_xasprintf(MLF_REST_API "%s", endpoint);
	int rc = mlf_http_call(s->http, method, path, body, 1, resp, err);
	free(path);
	json_decref(body);
	return rc;
}

int mlf_rest_api_get(struct rest_store *s, const char *endpoint, struct mlf_buf *query,
		     json_t **resp, struct mlf_error *err)
{
	char *path = mlf_xasprintf(MLF_REST_API "%s%s", endpoint, query->data);
	int rc = mlf_http_call(s->http, "GET", path, NULL, 1, resp, err);
	free(path);
	mlf_buf_release(query);
	return rc;
}

/* ---- JSON reading ------------------------------------------------------ */

char *mlf_rest_jdup_str(const json_t *obj, const char *key)
{
	const char *s = mlf_json_str(obj, key, NULL);
	/* Ids may come back as numbers from some gateways. */
	const json_t *j = json_object_get(obj, key);
	if (!s && json_is_integer(j))
		return mlf_xasprintf("%lld", (long long)json_integer_value(j));
	return mlf_xstrdup(s ? s : "");
}

int64_t mlf_rest_jget_i64(const json_t *obj, const char *key)
{
	int64_t v = 0;
	const json_t *j = json_object_get(obj, key);
	if (j && mlf_json_to_int64(j, &v))
		v = 0;
	return v;
}

void mlf_rest_read_kvs(const json_t *arr, struct mlf_kvs *out)
{
	size_t i;
	json_t *it;
	json_array_foreach(arr, i, it) {
		const char *k = mlf_json_str(it, "key", NULL);
		if (k)
			mlf_kvs_add(out, k, mlf_json_str(it, "value", NULL));
	}
}

void mlf_rest_read_experiment(const json_t *e, struct mlf_experiment *out)
{
	memset(out, 0, sizeof(*out));
	out->experiment_id = mlf_rest_jdup_str(e, "experiment_id");
	out->name = mlf_rest_jdup_str(e, "name");
	out->artifact_location = mlf_rest_jdup_str(e, "artifact_location");
	out->lifecycle_stage = mlf_xstrdup(mlf_json_str(e, "lifecycle_stage", "active"));
	out->creation_time = mlf_rest_jget_i64(e, "creation_time");
	out->last_update_time = mlf_rest_jget_i64(e, "last_update_time");
	mlf_rest_read_kvs(json_object_get(e, "tags"), &out->tags);
}

/* ---- store ------------------------------------------------------------- */

int mlf_rest_store_open(const struct mlf_tracking_options *opts, void **impl,
			struct mlf_error *err)
{
	struct mlf_http_options ho = { 0 };

	ho.base_url = opts->uri;
	ho.token = opts->token;
	ho.username = opts->username;
	ho.password = opts->password;
	ho.ca_path = opts->ca_path;
	ho.insecure_tls = opts->insecure_tls;
	ho.timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 120;
	ho.retry = mlf_tracking_retry_policy(opts);

	struct mlf_http *http;
	if (mlf_http_open(&http, &ho, err))
		return -1;
	struct rest_store *s = mlf_xcalloc(1, sizeof(*s));
	s->http = http;
	s->shown_url = mlf_uri_redact(opts->uri);
	*impl = s;
	return 0;
}

static void rest_close(void *impl)
{
	struct rest_store *s = impl;
	if (!s)
		return;
	mlf_http_close(s->http);
	free(s->shown_url);
	free(s);
}

static struct mlf_http *rest_http(void *impl)
{
	return ((struct rest_store *)impl)->http;
}

/*
 * A cheap API call rather than /health: it proves the URL serves MLflow's
 * API (not just some web server) and that the credentials are accepted.
 */
static int rest_ping(void *impl, struct mlf_error *err)
{
	struct rest_store *s = impl;
	struct mlf_buf q = MLF_BUF_INIT;
	json_t *resp;
	mlf_rest_query_add(&q, "max_results", "1");
	if (mlf_rest_api_get(s, "experiments/search", &q, &resp, err))
		return -1;
	int ok = json_is_array(json_object_get(resp, "experiments")) ||
		 json_object_size(resp) == 0 || json_object_get(resp, "next_page_token");
	json_decref(resp);
	if (!ok)
		return mlf_fail_kind(err, MLF_EX_UNAVAILABLE, MLF_ERR_UNREACHABLE,
				     "%s answered experiments/search without an experiment list; "
				     "is the tracking URI an MLflow server?", s->shown_url);
	return 0;
}

/* ---- experiments ------------------------------------------------------- */

/* GET `endpoint`?`key`=`value` and read the experiment it answers. */
static int fetch_experiment(void *impl, const char *endpoint, const char *key, const char *value,
			    struct mlf_experiment *out, struct mlf_error *err)
{
	struct mlf_buf q = MLF_BUF_INIT;
	json_t *resp;
	mlf_rest_query_add(&q, key, value);
	if (mlf_rest_api_get(impl, endpoint, &q, &resp, err))
		return -1;
	const json_t *e = json_object_get(resp, "experiment");
	int rc = 0;
	if (json_is_object(e))
		mlf_rest_read_experiment(e, out);
	else
		rc = mlf_fail(err, MLF_REST_EX_BAD_ANSWER,
			      "the server's answer for %s has no experiment", value);
	json_decref(resp);
	return rc;
}

static int rest_get_experiment(void *impl, const char *id, struct mlf_experiment *out,
			       struct mlf_error *err)
{
	return fetch_experiment(impl, "experiments/get", "experiment_id", id, out, err);
}

static int rest_get_experiment_by_name(void *impl, const char *name, struct mlf_experiment *out,
				       struct mlf_error *err)
{
	return fetch_experiment(impl, "experiments/get-by-name", "experiment_name", name, out, err);
}

struct create_experiment_ctx {
	struct rest_store *s;
	const char *name;
};

/* A lost experiments/create: the name is unique, so look it up. */
static int reconcile_experiment(void *vctx, json_t **response, struct mlf_error *err)
{
	struct create_experiment_ctx *ctx = vctx;
	struct mlf_experiment e;
	if (rest_get_experiment_by_name(ctx->s, ctx->name, &e, err)) {
		if (err->kind == MLF_ERR_NOT_FOUND) {
			mlf_error_clear(err);
			return 0;
		}
		return -1;
	}
	*response = json_pack("{s:s}", "experiment_id", e.experiment_id);
	mlf_experiment_release(&e);
	return 1;
}

static int rest_create_experiment(void *impl, const char *name, const char *id,
				  const char *artifact_location, char **id_out,
				  struct mlf_error *err)
{
	struct rest_store *s = impl;
	if (id && *id)
		return mlf_fail_kind(err, MLF_EX_CONFIG, MLF_ERR_UNSUPPORTED,
				     "an MLflow server assigns experiment ids itself, so experiment "
				     "'%s' cannot be created with id %s at %s; create it without an id "
				     "and put the id the server assigns in mlf.yaml (experiment_id)",
				     name, id, s->shown_url);
	struct rest_builder b = { json_object(), NULL };
	mlf_rest_put_str(&b, b.obj, "name", name);
	if (artifact_location && *artifact_location)
		mlf_rest_put_str(&b, b.obj, "artifact_location", artifact_location);
	if (mlf_rest_builder_check(&b, "experiments/create", err))
		return -1;
	struct create_experiment_ctx ctx = { s, name };
	json_t *resp;
	int rc = mlf_http_call_reconciled(s->http, "POST", MLF_REST_API "experiments/create",
					  b.obj, reconcile_experiment, &ctx, &resp, err);
	json_decref(b.obj);
	if (rc) {
		if (err->kind == MLF_ERR_EXISTS)
			mlf_error_prefix(err, "experiment '%s' already exists at %s", name, s->shown_url);
		return -1;
	}
	const char *got = mlf_json_str(resp, "experiment_id", NULL);
	if (!got) {
		json_decref(resp);
		return mlf_fail(err, MLF_REST_EX_BAD_ANSWER,
				"%s created experiment '%s' but returned no id", s->shown_url, name);
	}
	if (id_out)
		*id_out = mlf_xstrdup(got);
	json_decref(resp);
	return 0;
}

const struct mlf_tracking_ops mlf_rest_store_ops = {
	.name = "rest",
	.close = rest_close,
	.ping = rest_ping,
	.get_experiment = rest_get_experiment,
	.get_experiment_by_name = rest_get_experiment_by_name,
	.create_experiment = rest_create_experiment,
	.create_run = mlf_rest_create_run,
	.log_batch = mlf_rest_log_batch,
	.update_run = mlf_rest_update_run,
	.get_run = mlf_rest_get_run,
	.get_metric_history = mlf_rest_get_metric_history,
	.search_runs = mlf_rest_search_runs,
	.delete_run = mlf_rest_delete_run,
	.log_dataset_input = mlf_rest_log_dataset_input,
	.ensure_registered_model = mlf_rest_ensure_registered_model,
	.create_model_version = mlf_rest_create_model_version,
	.get_model_version = mlf_rest_get_model_version,
	.set_alias = mlf_rest_set_alias,
	.delete_alias = mlf_rest_delete_alias,
	.set_model_version_tag = mlf_rest_set_model_version_tag,
	.create_logged_model = mlf_rest_create_logged_model,
	.get_logged_model = mlf_rest_get_logged_model,
	.finalize_logged_model = mlf_rest_finalize_logged_model,
	.set_logged_model_tag = mlf_rest_set_logged_model_tag,
	.log_model_output = mlf_rest_log_model_output,
	.list_model_versions = mlf_rest_list_model_versions,
	.get_alias = mlf_rest_get_alias,
	.http = rest_http,
};
