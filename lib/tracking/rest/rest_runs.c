/*
 * Runs through the REST backend: creating, logging to, ending, reading,
 * searching and deleting runs, metric history and dataset inputs (see
 * rest_internal.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "tracking/tracking_internal.h"
#include "rest_internal.h"

#define SEARCH_PAGE 1000
#define HISTORY_PAGE 25000

/* ---- reading runs ------------------------------------------------------ */

static int read_metric(const json_t *m, struct mlf_metric *out)
{
	const char *k = mlf_json_str(m, "key", NULL);
	double v;
	if (mlf_json_to_double(json_object_get(m, "value"), &v))
		return -1;
	out->key = mlf_xstrdup(k ? k : "");
	out->value = v;
	out->timestamp = mlf_rest_jget_i64(m, "timestamp");
	out->step = mlf_rest_jget_i64(m, "step");
	return 0;
}

int mlf_rest_read_metrics(const json_t *arr, struct mlf_metric **out, size_t *n,
			const char *what, struct mlf_error *err)
{
	size_t i, cnt = json_array_size(arr);
	json_t *it;
	struct mlf_metric *m = mlf_xcalloc(cnt ? cnt : 1, sizeof(*m));
	json_array_foreach(arr, i, it) {
		if (read_metric(it, &m[i])) {
			mlf_metrics_release(m, i);
			return mlf_fail(err, MLF_REST_EX_BAD_ANSWER,
					"metric %zu of %s has no numeric value", i, what);
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

int mlf_rest_read_run(const json_t *run, struct mlf_run *out, struct mlf_error *err)
{
	const json_t *info = json_object_get(run, "info");
	const json_t *data = json_object_get(run, "data");

	memset(out, 0, sizeof(*out));
	if (!json_is_object(info) ||
	    !(mlf_json_str(info, "run_id", NULL) || mlf_json_str(info, "run_uuid", NULL)))
		return mlf_fail(err, MLF_REST_EX_BAD_ANSWER, "the server's run has no run_id");
	const char *run_id = mlf_json_str(info, "run_id", NULL);
	out->run_id = mlf_xstrdup(run_id ? run_id : mlf_json_str(info, "run_uuid", NULL));
	out->experiment_id = mlf_rest_jdup_str(info, "experiment_id");
	out->run_name = mlf_rest_jdup_str(info, "run_name");
	out->user_id = mlf_rest_jdup_str(info, "user_id");
	out->artifact_uri = mlf_rest_jdup_str(info, "artifact_uri");
	out->lifecycle_stage = mlf_xstrdup(mlf_json_str(info, "lifecycle_stage", "active"));
	out->status = read_status(info);
	out->start_time = mlf_rest_jget_i64(info, "start_time");
	out->end_time = mlf_rest_jget_i64(info, "end_time");
	if (json_is_object(data)) {
		mlf_rest_read_kvs(json_object_get(data, "params"), &out->params);
		mlf_rest_read_kvs(json_object_get(data, "tags"), &out->tags);
		if (mlf_rest_read_metrics(json_object_get(data, "metrics"), &out->metrics, &out->nmetrics,
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

/* ---- search ------------------------------------------------------------ */

/*
 * A filter value in quotes.  MLflow strips the outer quotes and does not
 * unescape anything, so the only safe quoting is a quote character the
 * value does not contain (and no trailing backslash, which would escape it).
 */
int mlf_rest_filter_quote(struct mlf_buf *f, const char *value, struct mlf_error *err)
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
	return mlf_rest_filter_quote(f, value, err);
}

/* runs/search over every page; `view` is ACTIVE_ONLY or ALL. */
static int search_all(struct rest_store *s, const char *experiment_id, const char *filter,
		      const char *view, int limit, struct mlf_run_list *out, struct mlf_error *err)
{
	char *token = NULL;
	memset(out, 0, sizeof(*out));
	for (;;) {
		struct rest_builder b = { json_object(), NULL };
		json_t *ids = json_array(), *order = json_array(), *resp;
		json_array_append_new(ids, mlf_rest_jstr(&b, "experiment id", experiment_id));
		json_object_set_new(b.obj, "experiment_ids", ids);
		mlf_rest_put_str(&b, b.obj, "filter", filter);
		mlf_rest_put_str(&b, b.obj, "run_view_type", view);
		json_object_set_new(b.obj, "max_results", json_integer(limit > 0 ? limit : SEARCH_PAGE));
		json_array_append_new(order, json_string("attributes.start_time DESC"));
		json_object_set_new(b.obj, "order_by", order);
		if (token)
			mlf_rest_put_str(&b, b.obj, "page_token", token);
		if (mlf_rest_builder_check(&b, "runs/search", err))
			goto fail;
		if (mlf_rest_api(s, "POST", "runs/search", b.obj, &resp, err))
			goto fail;
		size_t i;
		json_t *it;
		json_array_foreach(json_object_get(resp, "runs"), i, it) {
			struct mlf_run r;
			if (mlf_rest_read_run(it, &r, err)) {
				json_decref(resp);
				goto fail;
			}
			mlf_run_list_add(out, &r);
		}
		const char *next = mlf_json_str(resp, "next_page_token", NULL);
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

int mlf_rest_search_runs(void *impl, const char *experiment_id, const char *tag_key,
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

/* ---- runs -------------------------------------------------------------- */

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

	mlf_buf_addf(&f, "tags.`%s` = '%s'", MLF_REST_REQUEST_ID_TAG, ctx->request_id);
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
	mlf_rest_query_add(&q, "run_id", found.runs[0].run_id);
	mlf_run_list_release(&found);
	if (mlf_rest_api_get(ctx->s, "runs/get", &q, &resp, err))
		return -1;
	*response = resp;
	return 1;
}

int mlf_rest_create_run(void *impl, const char *experiment_id, const char *run_name,
			const char *user_id, int64_t start_time, const struct mlf_kvs *tags,
			struct mlf_run *out, struct mlf_error *err)
{
	struct rest_store *s = impl;
	char request_id[33];
	struct rest_builder b = { json_object(), NULL };
	json_t *resp;

	memset(out, 0, sizeof(*out));
	mlf_random_hex32(request_id);
	mlf_rest_put_str(&b, b.obj, "experiment_id", experiment_id);
	mlf_rest_put_str(&b, b.obj, "user_id", user_id);
	if (run_name && *run_name)
		mlf_rest_put_str(&b, b.obj, "run_name", run_name);
	json_object_set_new(b.obj, "start_time", json_integer(start_time));
	json_t *tl = mlf_rest_kv_array(&b, "tag value", tags ? tags->items : NULL,
				       tags ? tags->n : 0);
	json_t *rid = json_object();
	mlf_rest_put_str(&b, rid, "key", MLF_REST_REQUEST_ID_TAG);
	mlf_rest_put_str(&b, rid, "value", request_id);
	json_array_append_new(tl, rid);
	json_object_set_new(b.obj, "tags", tl);
	if (mlf_rest_builder_check(&b, "runs/create", err))
		return -1;

	struct create_run_ctx ctx = { s, experiment_id, request_id };
	int rc = mlf_http_call_reconciled(s->http, "POST", MLF_REST_API "runs/create", b.obj,
					  reconcile_run, &ctx, &resp, err);
	json_decref(b.obj);
	if (rc) {
		mlf_error_prefix(err, "cannot start a run in experiment %s", experiment_id);
		return -1;
	}
	rc = mlf_rest_read_run(json_object_get(resp, "run"), out, err);
	json_decref(resp);
	return rc;
}

int mlf_rest_log_batch(void *impl, const char *run_id, const struct mlf_metric *metrics,
		       size_t nmetrics, const struct mlf_kv *params, size_t nparams,
		       const struct mlf_kv *tags, size_t ntags, struct mlf_error *err)
{
	struct rest_builder b = { json_object(), NULL };
	json_t *ml = json_array(), *resp;

	mlf_rest_put_str(&b, b.obj, "run_id", run_id);
	for (size_t i = 0; i < nmetrics; i++) {
		json_t *m = json_object();
		mlf_rest_put_str(&b, m, "key", metrics[i].key);
		json_object_set_new(m, "value", mlf_json_double(metrics[i].value));
		json_object_set_new(m, "timestamp", json_integer(metrics[i].timestamp));
		json_object_set_new(m, "step", json_integer(metrics[i].step));
		json_array_append_new(ml, m);
	}
	json_object_set_new(b.obj, "metrics", ml);
	json_object_set_new(b.obj, "params", mlf_rest_kv_array(&b, "param value", params, nparams));
	json_object_set_new(b.obj, "tags", mlf_rest_kv_array(&b, "tag value", tags, ntags));
	if (mlf_rest_builder_check(&b, "runs/log-batch", err))
		return -1;
	if (mlf_rest_api(impl, "POST", "runs/log-batch", b.obj, &resp, err))
		return mlf_error_prefix(err, "logging to run %s", run_id);
	json_decref(resp);
	return 0;
}

int mlf_rest_update_run(void *impl, const char *run_id, int status, int64_t end_time,
			struct mlf_error *err)
{
	struct rest_builder b = { json_object(), NULL };
	json_t *resp;
	mlf_rest_put_str(&b, b.obj, "run_id", run_id);
	mlf_rest_put_str(&b, b.obj, "run_uuid", run_id);
	mlf_rest_put_str(&b, b.obj, "status", mlf_run_status_name(status));
	/* The API cannot clear end_time: a reopened run keeps its old one, as with MLflow's client. */
	if (end_time > 0)
		json_object_set_new(b.obj, "end_time", json_integer(end_time));
	if (mlf_rest_builder_check(&b, "runs/update", err))
		return -1;
	if (mlf_rest_api(impl, "POST", "runs/update", b.obj, &resp, err))
		return mlf_error_prefix(err, "cannot set run %s to %s", run_id,
					mlf_run_status_name(status));
	json_decref(resp);
	return 0;
}

int mlf_rest_get_run(void *impl, const char *run_id, struct mlf_run *out,
		     struct mlf_error *err)
{
	struct mlf_buf q = MLF_BUF_INIT;
	json_t *resp;
	memset(out, 0, sizeof(*out));
	mlf_rest_query_add(&q, "run_id", run_id);
	if (mlf_rest_api_get(impl, "runs/get", &q, &resp, err))
		return -1;
	int rc = mlf_rest_read_run(json_object_get(resp, "run"), out, err);
	json_decref(resp);
	return rc;
}

int mlf_rest_get_metric_history(void *impl, const char *run_id, const char *key,
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
		mlf_rest_query_add(&q, "run_id", run_id);
		mlf_rest_query_add(&q, "metric_key", key);
		mlf_rest_query_add(&q, "max_results", page);
		if (token)
			mlf_rest_query_add(&q, "page_token", token);
		if (mlf_rest_api_get(impl, "metrics/get-history", &q, &resp, err))
			goto fail;
		struct mlf_metric *got;
		size_t ngot;
		if (mlf_rest_read_metrics(json_object_get(resp, "metrics"), &got, &ngot, run_id, err)) {
			json_decref(resp);
			goto fail;
		}
		all = mlf_xrealloc(all, (nall + ngot + 1) * sizeof(*all));
		memcpy(all + nall, got, ngot * sizeof(*got));
		nall += ngot;
		free(got);
		const char *next = mlf_json_str(resp, "next_page_token", NULL);
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

int mlf_rest_delete_run(void *impl, const char *run_id, struct mlf_error *err)
{
	struct rest_builder b = { json_object(), NULL };
	json_t *resp;
	mlf_rest_put_str(&b, b.obj, "run_id", run_id);
	if (mlf_rest_builder_check(&b, "runs/delete", err))
		return -1;
	if (mlf_rest_api(impl, "POST", "runs/delete", b.obj, &resp, err))
		return -1;
	json_decref(resp);
	return 0;
}

int mlf_rest_log_dataset_input(void *impl, const char *run_id, const char *name,
			       const char *digest, const char *source_type, const char *source,
			       const char *context, struct mlf_error *err)
{
	struct rest_builder b = { json_object(), NULL };
	json_t *ds = json_object(), *input = json_object(), *tags = json_array();
	json_t *ctx_tag = json_object(), *list = json_array(), *resp;

	mlf_rest_put_str(&b, b.obj, "run_id", run_id);
	mlf_rest_put_str(&b, ds, "name", name);
	mlf_rest_put_str(&b, ds, "digest", digest);
	mlf_rest_put_str(&b, ds, "source_type", source_type);
	mlf_rest_put_str(&b, ds, "source", source);
	mlf_rest_put_str(&b, ctx_tag, "key", "mlflow.data.context");
	mlf_rest_put_str(&b, ctx_tag, "value", context);
	json_array_append_new(tags, ctx_tag);
	json_object_set_new(input, "tags", tags);
	json_object_set_new(input, "dataset", ds);
	json_array_append_new(list, input);
	json_object_set_new(b.obj, "datasets", list);
	if (mlf_rest_builder_check(&b, "runs/log-inputs", err))
		return -1;
	if (mlf_rest_api(impl, "POST", "runs/log-inputs", b.obj, &resp, err))
		return mlf_error_prefix(err, "recording dataset '%s' on run %s", name, run_id);
	json_decref(resp);
	return 0;
}
