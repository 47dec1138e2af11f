/*
 * The REST backend: an MLflow tracking server through /api/2.0/mlflow/
 * (reference/mlflow.md section 3).
 *
 * Wire rules: ids travel as JSON strings, int64 as numbers (numeric strings
 * are accepted back), doubles as numbers or "NaN"/"Infinity"/"-Infinity".
 * Requests that only read or that the server applies idempotently (log-batch
 * with the same values, update, delete, set-alias) are retried freely; the
 * two that create something new (a run, a model version) carry a random
 * `mlf.request_id` tag so that after an unclear failure we can look for
 * what the first attempt made instead of making a second one.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlf/buf.h"
#include "mlf/http.h"
#include "mlf/json.h"
#include "mlf/uri.h"
#include "http_util.h"
#include "tracking/backend.h"

#define API "/api/2.0/mlflow/"
#define REQUEST_ID_TAG "mlf.request_id"
#define SEARCH_PAGE 1000
#define HISTORY_PAGE 25000
#define REGISTRATION_WAIT_S 300  /* as MLflow's client waits for a model version */
/* A server whose answer lacks what the API promises is not a working MLflow server. */
#define EX_BAD_ANSWER MLF_EX_UNAVAILABLE

struct rest_store {
	struct mlf_http *http;
	char *shown_url;
};

/* ---- JSON building ----------------------------------------------------- */

/*
 * jansson refuses strings that are not UTF-8 and then silently drops the
 * member; a request missing a field must never go out, so builders record
 * the failure here and the request is refused before sending.
 */
struct builder {
	json_t *obj;
	const char *bad_field;
};

static json_t *jstr(struct builder *b, const char *field, const char *s)
{
	json_t *j = json_string(s ? s : "");
	if (!j) {
		if (!b->bad_field)
			b->bad_field = field;
		return json_null();
	}
	return j;
}

static void put_str(struct builder *b, json_t *obj, const char *key, const char *value)
{
	json_object_set_new(obj, key, jstr(b, key, value));
}

static json_t *kv_array(struct builder *b, const char *what, const struct mlf_kv *items, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		put_str(b, o, "key", items[i].key);
		json_object_set_new(o, "value", jstr(b, what, items[i].value));
		json_array_append_new(arr, o);
	}
	return arr;
}

static int builder_check(struct builder *b, const char *endpoint, struct mlf_error *err)
{
	if (!b->bad_field)
		return 0;
	return mlf_fail(err, MLF_EX_DATAERR, "cannot send %s: a %s is not valid UTF-8", endpoint,
			b->bad_field);
}

/* Query string: "?k=v&k2=v2" with values percent-encoded. */
static void query_add(struct mlf_buf *q, const char *key, const char *value)
{
	char *enc = mlf_uri_encode(value ? value : "", NULL);
	mlf_buf_addc(q, q->len ? '&' : '?');
	mlf_buf_adds(q, key);
	mlf_buf_addc(q, '=');
	mlf_buf_adds(q, enc);
	free(enc);
}

/* ---- calls ------------------------------------------------------------- */

/* Call an API endpoint; consumes `body`. */
static int api(struct rest_store *s, const char *method, const char *endpoint,
	       json_t *body, json_t **resp, struct mlf_error *err)
{
	char *path = mlf_xasprintf(API "%s", endpoint);
	int rc = mlf_http_call(s->http, method, path, body, 1, resp, err);
	free(path);
	json_decref(body);
	return rc;
}

static int api_get(struct rest_store *s, const char *endpoint, struct mlf_buf *query,
		   json_t **resp, struct mlf_error *err)
{
	char *path = mlf_xasprintf(API "%s%s", endpoint, query->data);
	int rc = mlf_http_call(s->http, "GET", path, NULL, 1, resp, err);
	free(path);
	mlf_buf_release(query);
	return rc;
}

/* ---- JSON reading ------------------------------------------------------ */

static const char *jget_str(const json_t *obj, const char *key)
{
	const json_t *j = json_object_get(obj, key);
	return json_is_string(j) ? json_string_value(j) : NULL;
}

static char *jdup_str(const json_t *obj, const char *key)
{
	const char *s = jget_str(obj, key);
	/* Ids may come back as numbers from some gateways. */
	const json_t *j = json_object_get(obj, key);
	if (!s && json_is_integer(j))
		return mlf_xasprintf("%lld", (long long)json_integer_value(j));
	return mlf_xstrdup(s ? s : "");
}

static int64_t jget_i64(const json_t *obj, const char *key)
{
	int64_t v = 0;
	const json_t *j = json_object_get(obj, key);
	if (j && mlf_json_to_int64(j, &v))
		v = 0;
	return v;
}

static void read_kvs(const json_t *arr, struct mlf_kvs *out)
{
	size_t i;
	json_t *it;
	json_array_foreach(arr, i, it) {
		const char *k = jget_str(it, "key");
		if (k)
			mlf_kvs_add(out, k, jget_str(it, "value"));
	}
}

static int read_metric(const json_t *m, struct mlf_metric *out)
{
	const char *k = jget_str(m, "key");
	double v;
	if (mlf_json_to_double(json_object_get(m, "value"), &v))
		return -1;
	out->key = mlf_xstrdup(k ? k : "");
	out->value = v;
	out->timestamp = jget_i64(m, "timestamp");
	out->step = jget_i64(m, "step");
	return 0;
}

static int read_metrics(const json_t *arr, struct mlf_metric **out, size_t *n,
			const char *what, struct mlf_error *err)
{
	size_t i, cnt = json_array_size(arr);
	json_t *it;
	struct mlf_metric *m = mlf_xcalloc(cnt ? cnt : 1, sizeof(*m));
	json_array_foreach(arr, i, it) {
		if (read_metric(it, &m[i])) {
			mlf_metrics_release(m, i);
			return mlf_fail(err, EX_BAD_ANSWER, "metric %zu of %s has no numeric value",
					i, what);
		}
	}
	*out = m;
	*n = cnt;
	return 0;
}

static int read_status(const json_t *info)
{
	const json_t *j = json_object_get(info, "status");
	if (json_is_integer(j))
		return (int)json_integer_value(j);
	return mlf_run_status_parse(json_string_value(j));
}

static int read_run(const json_t *run, struct mlf_run *out, struct mlf_error *err)
{
	const json_t *info = json_object_get(run, "info");
	const json_t *data = json_object_get(run, "data");

	memset(out, 0, sizeof(*out));
	if (!json_is_object(info) || !(jget_str(info, "run_id") || jget_str(info, "run_uuid")))
		return mlf_fail(err, EX_BAD_ANSWER, "the server's run has no run_id");
	out->run_id = mlf_xstrdup(jget_str(info, "run_id") ? jget_str(info, "run_id")
				  : jget_str(info, "run_uuid"));
	out->experiment_id = jdup_str(info, "experiment_id");
	out->run_name = jdup_str(info, "run_name");
	out->user_id = jdup_str(info, "user_id");
	out->artifact_uri = jdup_str(info, "artifact_uri");
	out->lifecycle_stage = mlf_xstrdup(jget_str(info, "lifecycle_stage")
					   ? jget_str(info, "lifecycle_stage") : "active");
	out->status = read_status(info);
	out->start_time = jget_i64(info, "start_time");
	out->end_time = jget_i64(info, "end_time");
	if (json_is_object(data)) {
		read_kvs(json_object_get(data, "params"), &out->params);
		read_kvs(json_object_get(data, "tags"), &out->tags);
		if (read_metrics(json_object_get(data, "metrics"), &out->metrics, &out->nmetrics,
				 out->run_id, err)) {
			mlf_run_release(out);
			return -1;
		}
	}
	/* Older servers leave run_name empty and keep the name in the tag only. */
	if (!*out->run_name && mlf_kvs_get(&out->tags, "mlflow.runName")) {
		free(out->run_name);
		out->run_name = mlf_xstrdup(mlf_kvs_get(&out->tags, "mlflow.runName"));
	}
	return 0;
}

static void read_experiment(const json_t *e, struct mlf_experiment *out)
{
	memset(out, 0, sizeof(*out));
	out->experiment_id = jdup_str(e, "experiment_id");
	out->name = jdup_str(e, "name");
	out->artifact_location = jdup_str(e, "artifact_location");
	out->lifecycle_stage = mlf_xstrdup(jget_str(e, "lifecycle_stage")
					   ? jget_str(e, "lifecycle_stage") : "active");
	out->creation_time = jget_i64(e, "creation_time");
	out->last_update_time = jget_i64(e, "last_update_time");
	read_kvs(json_object_get(e, "tags"), &out->tags);
}

static int read_model_version(const json_t *resp, struct mlf_model_version *out,
			      struct mlf_error *err)
{
	const json_t *mv = json_object_get(resp, "model_version");
	size_t i;
	json_t *it;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(mv))
		return mlf_fail(err, EX_BAD_ANSWER, "the server's answer has no model_version");
	out->name = jdup_str(mv, "name");
	out->version = jdup_str(mv, "version");
	out->source = jdup_str(mv, "source");
	out->run_id = jdup_str(mv, "run_id");
	out->status = jdup_str(mv, "status");
	json_array_foreach(json_object_get(mv, "aliases"), i, it) {
		if (json_is_string(it))
			mlf_kvs_add(&out->aliases, json_string_value(it), "");
	}
	return 0;
}

/* ---- store ------------------------------------------------------------- */

int mlf_rest_store_open(const struct mlf_tracking_options *opts, void **impl,
			struct mlf_error *err)
{
	struct mlf_http_options ho = { 0 };
	struct mlf_retry_policy def = MLF_RETRY_POLICY_DEFAULT;

	ho.base_url = opts->uri;
	ho.token = opts->token;
	ho.username = opts->username;
	ho.password = opts->password;
	ho.ca_path = opts->ca_path;
	ho.insecure_tls = opts->insecure_tls;
	ho.timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 120;
	ho.retry = def;
	if (opts->max_retries >= 0)
		ho.retry.max_retries = opts->max_retries;
	if (opts->backoff_factor >= 0)
		ho.retry.backoff_factor = opts->backoff_factor;
	if (opts->backoff_max > 0)
		ho.retry.backoff_max = opts->backoff_max;
	if (opts->backoff_jitter >= 0)
		ho.retry.backoff_jitter = opts->backoff_jitter;
	ho.retry.respect_retry_after = !opts->ignore_retry_after;

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
	query_add(&q, "max_results", "1");
	if (api_get(s, "experiments/search", &q, &resp, err))
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

static int experiment_from(const json_t *resp, struct mlf_experiment *out, const char *what,
			   struct mlf_error *err)
{
	const json_t *e = json_object_get(resp, "experiment");
	if (!json_is_object(e))
		return mlf_fail(err, EX_BAD_ANSWER, "the server's answer for %s has no experiment",
				what);
	read_experiment(e, out);
	return 0;
}

static int rest_get_experiment(void *impl, const char *id, struct mlf_experiment *out,
			       struct mlf_error *err)
{
	struct mlf_buf q = MLF_BUF_INIT;
	json_t *resp;
	query_add(&q, "experiment_id", id);
	if (api_get(impl, "experiments/get", &q, &resp, err))
		return -1;
	int rc = experiment_from(resp, out, id, err);
	json_decref(resp);
	return rc;
}

static int rest_get_experiment_by_name(void *impl, const char *name, struct mlf_experiment *out,
				       struct mlf_error *err)
{
	struct mlf_buf q = MLF_BUF_INIT;
	json_t *resp;
	query_add(&q, "experiment_name", name);
	if (api_get(impl, "experiments/get-by-name", &q, &resp, err))
		return -1;
	int rc = experiment_from(resp, out, name, err);
	json_decref(resp);
	return rc;
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
	struct builder b = { json_object(), NULL };
	put_str(&b, b.obj, "name", name);
	if (artifact_location && *artifact_location)
		put_str(&b, b.obj, "artifact_location", artifact_location);
	if (builder_check(&b, "experiments/create", err)) {
		json_decref(b.obj);
		return -1;
	}
	struct create_experiment_ctx ctx = { s, name };
	json_t *resp;
	int rc = mlf_http_call_reconciled(s->http, "POST", API "experiments/create", b.obj,
					  reconcile_experiment, &ctx, &resp, err);
	json_decref(b.obj);
	if (rc) {
		if (err->kind == MLF_ERR_EXISTS)
			mlf_error_prefix(err, "experiment '%s' already exists at %s", name, s->shown_url);
		return -1;
	}
	const char *got = jget_str(resp, "experiment_id");
	if (!got) {
		json_decref(resp);
		return mlf_fail(err, EX_BAD_ANSWER,
				"%s created experiment '%s' but returned no id", s->shown_url, name);
	}
	if (id_out)
		*id_out = mlf_xstrdup(got);
	json_decref(resp);
	return 0;
}

/* ---- runs -------------------------------------------------------------- */

/*
 * A filter value in quotes.  MLflow strips the outer quotes and does not
 * unescape anything, so the only safe quoting is a quote character the
 * value does not contain (and no trailing backslash, which would escape it).
 */
static int filter_quote(struct mlf_buf *f, const char *value, struct mlf_error *err)
{
	char q = !strchr(value, '\'') ? '\'' : !strchr(value, '"') ? '"' : 0;
	size_t n = strlen(value);
	if (!q || (n && value[n - 1] == '\\'))
		return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_UNSUPPORTED,
				     "cannot search an MLflow server for the value '%s': it holds both "
				     "quote characters or ends in a backslash", value);
	mlf_buf_addc(f, q);
	mlf_buf_adds(f, value);
	mlf_buf_addc(f, q);
	return 0;
}

static int tag_filter(struct mlf_buf *f, const char *key, const char *value,
		      struct mlf_error *err)
{
	if (strchr(key, '`'))
		return mlf_fail(err, MLF_EX_DATAERR, "tag key '%s' cannot hold '`'", key);
	mlf_buf_addf(f, "tags.`%s`", key);
	if (!value) {
		mlf_buf_adds(f, " IS NOT NULL");
		return 0;
	}
	mlf_buf_adds(f, " = ");
	return filter_quote(f, value, err);
}

/* runs/search over every page; `view` is ACTIVE_ONLY or ALL. */
static int search_all(struct rest_store *s, const char *experiment_id, const char *filter,
		      const char *view, int limit, struct mlf_run_list *out, struct mlf_error *err)
{
	char *token = NULL;
	memset(out, 0, sizeof(*out));
	for (;;) {
		struct builder b = { json_object(), NULL };
		json_t *ids = json_array(), *order = json_array(), *resp;
		json_array_append_new(ids, jstr(&b, "experiment id", experiment_id));
		json_object_set_new(b.obj, "experiment_ids", ids);
		put_str(&b, b.obj, "filter", filter);
		put_str(&b, b.obj, "run_view_type", view);
		json_object_set_new(b.obj, "max_results", json_integer(limit > 0 ? limit : SEARCH_PAGE));
		json_array_append_new(order, json_string("attributes.start_time DESC"));
		json_object_set_new(b.obj, "order_by", order);
		if (token)
			put_str(&b, b.obj, "page_token", token);
		if (builder_check(&b, "runs/search", err)) {
			json_decref(b.obj);
			goto fail;
		}
		if (api(s, "POST", "runs/search", b.obj, &resp, err))
			goto fail;
		size_t i;
		json_t *it;
		json_array_foreach(json_object_get(resp, "runs"), i, it) {
			struct mlf_run r;
			if (read_run(it, &r, err)) {
				json_decref(resp);
				goto fail;
			}
			mlf_run_list_add(out, &r);
		}
		const char *next = jget_str(resp, "next_page_token");
		int more = next && *next && (limit <= 0) && (!token || strcmp(token, next));
		free(token);
		token = more ? mlf_xstrdup(next) : NULL;
		json_decref(resp);
		if (!more)
			break;
	}
	return 0;
fail:
	free(token);
	mlf_run_list_release(out);
	return -1;
}

static int rest_search_runs(void *impl, const char *experiment_id, const char *tag_key,
			    const char *tag_value, struct mlf_run_list *out, struct mlf_error *err)
{
	struct mlf_buf f = MLF_BUF_INIT;
	memset(out, 0, sizeof(*out));
	if (tag_key && tag_filter(&f, tag_key, tag_value, err)) {
		mlf_buf_release(&f);
		return -1;
	}
	int rc = search_all(impl, experiment_id, f.data, "ACTIVE_ONLY", 0, out, err);
	mlf_buf_release(&f);
	return rc;
}

struct create_run_ctx {
	struct rest_store *s;
	const char *experiment_id;
	const char *request_id;
};

/* A runs/create whose answer was lost: did the server make the run? */
static int reconcile_run(void *vctx, json_t **response, struct mlf_error *err)
{
	struct create_run_ctx *ctx = vctx;
	struct mlf_buf f = MLF_BUF_INIT;
	struct mlf_run_list found;
	json_t *resp;

	mlf_buf_addf(&f, "tags.`%s` = '%s'", REQUEST_ID_TAG, ctx->request_id);
	int rc = search_all(ctx->s, ctx->experiment_id, f.data, "ALL", 1, &found, err);
	mlf_buf_release(&f);
	if (rc)
		return -1;
	if (found.n == 0) {
		mlf_run_list_release(&found);
		return 0;
	}
	/* Fetch it whole: search results may leave out parts of a run. */
	struct mlf_buf q = MLF_BUF_INIT;
	query_add(&q, "run_id", found.runs[0].run_id);
	mlf_run_list_release(&found);
	if (api_get(ctx->s, "runs/get", &q, &resp, err))
		return -1;
	*response = resp;
	return 1;
}

static int rest_create_run(void *impl, const char *experiment_id, const char *run_name,
			   const char *user_id, int64_t start_time, const struct mlf_kvs *tags,
			   struct mlf_run *out, struct mlf_error *err)
{
	struct rest_store *s = impl;
	char request_id[33];
	struct builder b = { json_object(), NULL };
	json_t *resp;

	memset(out, 0, sizeof(*out));
	mlf_random_hex32(request_id);
	put_str(&b, b.obj, "experiment_id", experiment_id);
	put_str(&b, b.obj, "user_id", user_id);
	if (run_name && *run_name)
		put_str(&b, b.obj, "run_name", run_name);
	json_object_set_new(b.obj, "start_time", json_integer(start_time));
	json_t *tl = kv_array(&b, "tag value", tags ? tags->items : NULL, tags ? tags->n : 0);
	json_t *rid = json_object();
	put_str(&b, rid, "key", REQUEST_ID_TAG);
	put_str(&b, rid, "value", request_id);
	json_array_append_new(tl, rid);
	json_object_set_new(b.obj, "tags", tl);
	if (builder_check(&b, "runs/create", err)) {
		json_decref(b.obj);
		return -1;
	}

	struct create_run_ctx ctx = { s, experiment_id, request_id };
	int rc = mlf_http_call_reconciled(s->http, "POST", API "runs/create", b.obj,
					  reconcile_run, &ctx, &resp, err);
	json_decref(b.obj);
	if (rc) {
		mlf_error_prefix(err, "cannot start a run in experiment %s", experiment_id);
		return -1;
	}
	rc = read_run(json_object_get(resp, "run"), out, err);
	json_decref(resp);
	return rc;
}

static int rest_log_batch(void *impl, const char *run_id, const struct mlf_metric *metrics,
			  size_t nmetrics, const struct mlf_kv *params, size_t nparams,
			  const struct mlf_kv *tags, size_t ntags, struct mlf_error *err)
{
	struct builder b = { json_object(), NULL };
	json_t *ml = json_array(), *resp;

	put_str(&b, b.obj, "run_id", run_id);
	for (size_t i = 0; i < nmetrics; i++) {
		json_t *m = json_object();
		put_str(&b, m, "key", metrics[i].key);
		json_object_set_new(m, "value", mlf_json_double(metrics[i].value));
		json_object_set_new(m, "timestamp", json_integer(metrics[i].timestamp));
		json_object_set_new(m, "step", json_integer(metrics[i].step));
		json_array_append_new(ml, m);
	}
	json_object_set_new(b.obj, "metrics", ml);
	json_object_set_new(b.obj, "params", kv_array(&b, "param value", params, nparams));
	json_object_set_new(b.obj, "tags", kv_array(&b, "tag value", tags, ntags));
	if (builder_check(&b, "runs/log-batch", err)) {
		json_decref(b.obj);
		return -1;
	}
	if (api(impl, "POST", "runs/log-batch", b.obj, &resp, err))
		return mlf_error_prefix(err, "logging to run %s", run_id);
	json_decref(resp);
	return 0;
}

static int rest_update_run(void *impl, const char *run_id, int status, int64_t end_time,
			   struct mlf_error *err)
{
	struct builder b = { json_object(), NULL };
	json_t *resp;
	put_str(&b, b.obj, "run_id", run_id);
	put_str(&b, b.obj, "run_uuid", run_id);
	put_str(&b, b.obj, "status", mlf_run_status_name(status));
	/* The API cannot clear end_time: a reopened run keeps its old one, as with MLflow's client. */
	if (end_time > 0)
		json_object_set_new(b.obj, "end_time", json_integer(end_time));
	if (builder_check(&b, "runs/update", err)) {
		json_decref(b.obj);
		return -1;
	}
	if (api(impl, "POST", "runs/update", b.obj, &resp, err))
		return mlf_error_prefix(err, "cannot set run %s to %s", run_id,
					mlf_run_status_name(status));
	json_decref(resp);
	return 0;
}

static int rest_get_run(void *impl, const char *run_id, struct mlf_run *out,
			struct mlf_error *err)
{
	struct mlf_buf q = MLF_BUF_INIT;
	json_t *resp;
	memset(out, 0, sizeof(*out));
	query_add(&q, "run_id", run_id);
	if (api_get(impl, "runs/get", &q, &resp, err))
		return -1;
	int rc = read_run(json_object_get(resp, "run"), out, err);
	json_decref(resp);
	return rc;
}

static int rest_get_metric_history(void *impl, const char *run_id, const char *key,
				   struct mlf_metric **out, size_t *n, struct mlf_error *err)
{
	struct mlf_metric *all = NULL;
	size_t nall = 0;
	char *token = NULL;
	char page[32];

	*out = NULL;
	*n = 0;
	snprintf(page, sizeof(page), "%d", HISTORY_PAGE);
	for (;;) {
		struct mlf_buf q = MLF_BUF_INIT;
		json_t *resp;
		query_add(&q, "run_id", run_id);
		query_add(&q, "metric_key", key);
		query_add(&q, "max_results", page);
		if (token)
			query_add(&q, "page_token", token);
		if (api_get(impl, "metrics/get-history", &q, &resp, err))
			goto fail;
		struct mlf_metric *got;
		size_t ngot;
		if (read_metrics(json_object_get(resp, "metrics"), &got, &ngot, run_id, err)) {
			json_decref(resp);
			goto fail;
		}
		all = mlf_xrealloc(all, (nall + ngot + 1) * sizeof(*all));
		memcpy(all + nall, got, ngot * sizeof(*got));
		nall += ngot;
		free(got);
		const char *next = jget_str(resp, "next_page_token");
		int more = next && *next && (!token || strcmp(token, next)) && ngot > 0;
		free(token);
		token = more ? mlf_xstrdup(next) : NULL;
		json_decref(resp);
		if (!more)
			break;
	}
	if (!all)
		all = mlf_xcalloc(1, sizeof(*all));
	*out = all;
	*n = nall;
	return 0;
fail:
	free(token);
	mlf_metrics_release(all, nall);
	return -1;
}

static int rest_delete_run(void *impl, const char *run_id, struct mlf_error *err)
{
	struct builder b = { json_object(), NULL };
	json_t *resp;
	put_str(&b, b.obj, "run_id", run_id);
	if (builder_check(&b, "runs/delete", err)) {
		json_decref(b.obj);
		return -1;
	}
	if (api(impl, "POST", "runs/delete", b.obj, &resp, err))
		return -1;
	json_decref(resp);
	return 0;
}

static int rest_log_dataset_input(void *impl, const char *run_id, const char *name,
				  const char *digest, const char *source_type, const char *source,
				  const char *context, struct mlf_error *err)
{
	struct builder b = { json_object(), NULL };
	json_t *ds = json_object(), *input = json_object(), *tags = json_array();
	json_t *ctx_tag = json_object(), *list = json_array(), *resp;

	put_str(&b, b.obj, "run_id", run_id);
	put_str(&b, ds, "name", name);
	put_str(&b, ds, "digest", digest);
	put_str(&b, ds, "source_type", source_type);
	put_str(&b, ds, "source", source);
	put_str(&b, ctx_tag, "key", "mlflow.data.context");
	put_str(&b, ctx_tag, "value", context);
	json_array_append_new(tags, ctx_tag);
	json_object_set_new(input, "tags", tags);
	json_object_set_new(input, "dataset", ds);
	json_array_append_new(list, input);
	json_object_set_new(b.obj, "datasets", list);
	if (builder_check(&b, "runs/log-inputs", err)) {
		json_decref(b.obj);
		return -1;
	}
	if (api(impl, "POST", "runs/log-inputs", b.obj, &resp, err))
		return mlf_error_prefix(err, "recording dataset '%s' on run %s", name, run_id);
	json_decref(resp);
	return 0;
}

/* ---- model registry ---------------------------------------------------- */

static int rest_ensure_registered_model(void *impl, const char *name, struct mlf_error *err)
{
	struct builder b = { json_object(), NULL };
	json_t *resp;
	put_str(&b, b.obj, "name", name);
	if (builder_check(&b, "registered-models/create", err)) {
		json_decref(b.obj);
		return -1;
	}
	if (api(impl, "POST", "registered-models/create", b.obj, &resp, err)) {
		if (err->kind == MLF_ERR_EXISTS) {
			mlf_error_clear(err);
			return 0;
		}
		return mlf_error_prefix(err, "cannot register model '%s'", name);
	}
	json_decref(resp);
	return 0;
}

static int rest_get_model_version(void *impl, const char *name, const char *version,
				  struct mlf_model_version *out, struct mlf_error *err)
{
	struct mlf_buf q = MLF_BUF_INIT;
	json_t *resp;
	memset(out, 0, sizeof(*out));
	query_add(&q, "name", name);
	query_add(&q, "version", version);
	if (api_get(impl, "model-versions/get", &q, &resp, err))
		return -1;
	int rc = read_model_version(resp, out, err);
	json_decref(resp);
	return rc;
}

struct create_version_ctx {
	struct rest_store *s;
	const char *name;
	const char *request_id;
};

/* A model-versions/create whose answer was lost: find the version by its request tag. */
static int reconcile_version(void *vctx, json_t **response, struct mlf_error *err)
{
	struct create_version_ctx *ctx = vctx;
	struct mlf_buf q = MLF_BUF_INIT, f = MLF_BUF_INIT;
	json_t *resp;

	if (filter_quote(&f, ctx->name, err)) {
		mlf_buf_release(&f);
		return -1;
	}
	char *filter = mlf_xasprintf("name = %s and tags.`%s` = '%s'", f.data, REQUEST_ID_TAG,
				     ctx->request_id);
	mlf_buf_release(&f);
	query_add(&q, "filter", filter);
	query_add(&q, "max_results", "10");
	free(filter);
	if (api_get(ctx->s, "model-versions/search", &q, &resp, err))
		return -1;
	json_t *list = json_object_get(resp, "model_versions");
	if (json_array_size(list) == 0) {
		json_decref(resp);
		return 0;
	}
	*response = json_pack("{s:O}", "model_version", json_array_get(list, 0));
	json_decref(resp);
	return 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int rest_create_model_version(void *impl, const char *name, const char *source,
				     const char *run_id, struct mlf_model_version *out,
				     struct mlf_error *err)
{
	struct rest_store *s = impl;
	char request_id[33];
	struct builder b = { json_object(), NULL };
	json_t *tags = json_array(), *tag = json_object(), *resp;

	memset(out, 0, sizeof(*out));
	mlf_random_hex32(request_id);
	put_str(&b, b.obj, "name", name);
	put_str(&b, b.obj, "source", source);
	if (run_id && *run_id)
		put_str(&b, b.obj, "run_id", run_id);
	put_str(&b, tag, "key", REQUEST_ID_TAG);
	put_str(&b, tag, "value", request_id);
	json_array_append_new(tags, tag);
	json_object_set_new(b.obj, "tags", tags);
	if (builder_check(&b, "model-versions/create", err)) {
		json_decref(b.obj);
		return -1;
	}
	struct create_version_ctx ctx = { s, name, request_id };
	int rc = mlf_http_call_reconciled(s->http, "POST", API "model-versions/create", b.obj,
					  reconcile_version, &ctx, &resp, err);
	json_decref(b.obj);
	if (rc)
		return mlf_error_prefix(err, "cannot create a version of model '%s'", name);
	rc = read_model_version(resp, out, err);
	json_decref(resp);
	if (rc)
		return -1;

	/* Registration can be asynchronous (cloud stores): wait, bounded, for READY. */
	time_t deadline = time(NULL) + REGISTRATION_WAIT_S;
	long pause = 250;
	while (strcmp(out->status, "READY")) {
		if (!strcmp(out->status, "FAILED_REGISTRATION"))
			return mlf_fail(err, MLF_EX_UNAVAILABLE,
					"registering version %s of model '%s' failed on %s",
					out->version, name, s->shown_url);
		if (time(NULL) >= deadline)
			return mlf_fail(err, MLF_EX_TEMPFAIL,
					"version %s of model '%s' is still %s after %d s on %s; "
					"check it later", out->version, name, out->status,
					REGISTRATION_WAIT_S, s->shown_url);
		sleep_ms(pause);
		pause = pause < 2000 ? pause * 2 : 2000;
		char *version = mlf_xstrdup(out->version);
		mlf_model_version_release(out);
		rc = rest_get_model_version(impl, name, version, out, err);
		free(version);
		if (rc)
			return -1;
	}
	return 0;
}

static int rest_set_alias(void *impl, const char *name, const char *alias, const char *version,
			  struct mlf_error *err)
{
	struct builder b = { json_object(), NULL };
	json_t *resp;
	put_str(&b, b.obj, "name", name);
	put_str(&b, b.obj, "alias", alias);
	put_str(&b, b.obj, "version", version);
	if (builder_check(&b, "registered-models/alias", err)) {
		json_decref(b.obj);
		return -1;
	}
	if (api(impl, "POST", "registered-models/alias", b.obj, &resp, err))
		return mlf_error_prefix(err, "cannot point alias '%s' of model '%s' at version %s",
					alias, name, version);
	json_decref(resp);
	return 0;
}

static int rest_get_alias(void *impl, const char *name, const char *alias,
			  struct mlf_model_version *out, struct mlf_error *err)
{
	struct mlf_buf q = MLF_BUF_INIT;
	json_t *resp;
	memset(out, 0, sizeof(*out));
	query_add(&q, "name", name);
	query_add(&q, "alias", alias);
	if (api_get(impl, "registered-models/alias", &q, &resp, err)) {
		/* The server calls a missing alias an invalid parameter (400), not a 404. */
		if (err->kind == MLF_ERR_INVALID && strstr(err->msg, "not found"))
			return mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
					     "model '%s' has no alias '%s'", name, alias);
		return -1;
	}
	int rc = read_model_version(resp, out, err);
	json_decref(resp);
	return rc;
}

const struct mlf_tracking_ops mlf_rest_store_ops = {
	.name = "rest",
	.close = rest_close,
	.ping = rest_ping,
	.get_experiment = rest_get_experiment,
	.get_experiment_by_name = rest_get_experiment_by_name,
	.create_experiment = rest_create_experiment,
	.create_run = rest_create_run,
	.log_batch = rest_log_batch,
	.update_run = rest_update_run,
	.get_run = rest_get_run,
	.get_metric_history = rest_get_metric_history,
	.search_runs = rest_search_runs,
	.delete_run = rest_delete_run,
	.log_dataset_input = rest_log_dataset_input,
	.ensure_registered_model = rest_ensure_registered_model,
	.create_model_version = rest_create_model_version,
	.get_model_version = rest_get_model_version,
	.set_alias = rest_set_alias,
	.get_alias = rest_get_alias,
	.http = rest_http,
};
