/*
 * The model registry through the REST backend: registered models, their
 * versions and aliases (see rest_internal.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "tracking/tracking_internal.h"
#include "rest_internal.h"

#define REGISTRATION_WAIT_S 300  /* as MLflow's client waits for a model version */

int mlf_rest_read_model_version(const json_t *resp, struct mlf_model_version *out,
			      struct mlf_error *err)
{
	const json_t *mv = json_object_get(resp, "model_version");
	size_t i;
	json_t *it;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(mv))
		return mlf_fail(err, MLF_REST_EX_BAD_ANSWER,
				"the server's answer has no model_version");
	out->name = mlf_rest_jdup_str(mv, "name");
	out->version = mlf_rest_jdup_str(mv, "version");
	out->source = mlf_rest_jdup_str(mv, "source");
	out->run_id = mlf_rest_jdup_str(mv, "run_id");
	out->status = mlf_rest_jdup_str(mv, "status");
	json_array_foreach(json_object_get(mv, "aliases"), i, it) {
		if (json_is_string(it))
			mlf_kvs_add(&out->aliases, json_string_value(it), "");
	}
	return 0;
}

int mlf_rest_ensure_registered_model(void *impl, const char *name, struct mlf_error *err)
{
	struct rest_builder b = { json_object(), NULL };
	json_t *resp;
	mlf_rest_put_str(&b, b.obj, "name", name);
	if (mlf_rest_builder_check(&b, "registered-models/create", err))
		return -1;
	if (mlf_rest_api(impl, "POST", "registered-models/create", b.obj, &resp, err)) {
		if (err->kind == MLF_ERR_EXISTS) {
			mlf_error_clear(err);
			return 0;
		}
		return mlf_error_prefix(err, "cannot register model '%s'", name);
	}
	json_decref(resp);
	return 0;
}

int mlf_rest_get_model_version(void *impl, const char *name, const char *version,
			       struct mlf_model_version *out, struct mlf_error *err)
{
	struct mlf_buf q = MLF_BUF_INIT;
	json_t *resp;
	memset(out, 0, sizeof(*out));
	mlf_rest_query_add(&q, "name", name);
	mlf_rest_query_add(&q, "version", version);
	if (mlf_rest_api_get(impl, "model-versions/get", &q, &resp, err))
		return -1;
	int rc = mlf_rest_read_model_version(resp, out, err);
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

	if (mlf_rest_filter_quote(&f, ctx->name, err)) {
		mlf_buf_release(&f);
		return -1;
	}
	char *filter = mlf_xasprintf("name = %s and tags.`%s` = '%s'", f.data,
				     MLF_REST_REQUEST_ID_TAG, ctx->request_id);
	mlf_buf_release(&f);
	mlf_rest_query_add(&q, "filter", filter);
	mlf_rest_query_add(&q, "max_results", "10");
	free(filter);
	if (mlf_rest_api_get(ctx->s, "model-versions/search", &q, &resp, err))
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

int mlf_rest_create_model_version(void *impl, const char *name, const char *source,
				  const char *run_id, const char *model_id, struct mlf_model_version *out,
				  struct mlf_error *err)
{
	struct rest_store *s = impl;
	char request_id[33];
	struct rest_builder b = { json_object(), NULL };
	json_t *tags = json_array(), *tag = json_object(), *resp;

	memset(out, 0, sizeof(*out));
	mlf_random_hex32(request_id);
	mlf_rest_put_str(&b, b.obj, "name", name);
	mlf_rest_put_str(&b, b.obj, "source", source);
	if (run_id && *run_id)
		mlf_rest_put_str(&b, b.obj, "run_id", run_id);
	if (model_id && *model_id)  /* the server then also lists the version on the model */
		mlf_rest_put_str(&b, b.obj, "model_id", model_id);
	mlf_rest_put_str(&b, tag, "key", MLF_REST_REQUEST_ID_TAG);
	mlf_rest_put_str(&b, tag, "value", request_id);
	json_array_append_new(tags, tag);
	json_object_set_new(b.obj, "tags", tags);
	if (mlf_rest_builder_check(&b, "model-versions/create", err))
		return -1;
	struct create_version_ctx ctx = { s, name, request_id };
	int rc = mlf_http_call_reconciled(s->http, "POST", MLF_REST_API "model-versions/create",
					  b.obj, reconcile_version, &ctx, &resp, err);
	json_decref(b.obj);
	if (rc)
		return mlf_error_prefix(err, "cannot create a version of model '%s'", name);
	rc = mlf_rest_read_model_version(resp, out, err);
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
		rc = mlf_rest_get_model_version(impl, name, version, out, err);
		free(version);
		if (rc)
			return -1;
	}
	return 0;
}

int mlf_rest_set_alias(void *impl, const char *name, const char *alias, const char *version,
		       struct mlf_error *err)
{
	struct rest_builder b = { json_object(), NULL };
	json_t *resp;
	mlf_rest_put_str(&b, b.obj, "name", name);
	mlf_rest_put_str(&b, b.obj, "alias", alias);
	mlf_rest_put_str(&b, b.obj, "version", version);
	if (mlf_rest_builder_check(&b, "registered-models/alias", err))
		return -1;
	if (mlf_rest_api(impl, "POST", "registered-models/alias", b.obj, &resp, err))
		return mlf_error_prefix(err, "cannot point alias '%s' of model '%s' at version %s",
					alias, name, version);
	json_decref(resp);
	return 0;
}

int mlf_rest_list_model_versions(void *impl, const char *name, struct mlf_kvs *out,
				 struct mlf_error *err)
{
	struct mlf_buf f = MLF_BUF_INIT;
	char *token = NULL;
	int rc = -1;
	mlf_buf_adds(&f, "name=");
	if (mlf_rest_filter_quote(&f, name, err))
		goto out;
	for (;;) {
		struct mlf_buf q = MLF_BUF_INIT;
		json_t *resp, *it;
		size_t i;
		mlf_rest_query_add(&q, "filter", f.data);
		mlf_rest_query_add(&q, "max_results", "1000");
		if (token)
			mlf_rest_query_add(&q, "page_token", token);
		if (mlf_rest_api_get(impl, "model-versions/search", &q, &resp, err)) {
			mlf_error_prefix(err, "cannot list the versions of model '%s'", name);
			goto out;
		}
		json_array_foreach(json_object_get(resp, "model_versions"), i, it) {
			char *v = mlf_rest_jdup_str(it, "version"), *run = mlf_rest_jdup_str(it, "run_id");
			mlf_kvs_add(out, v, run);
			free(v);
			free(run);
		}
		const char *next = mlf_json_str(resp, "next_page_token", NULL);
		int more = next && *next && (!token || strcmp(token, next));
		free(token);
		token = more ? mlf_xstrdup(next) : NULL;
		json_decref(resp);
		if (!more)
			break;
	}
	rc = 0;
out:
	free(token);
	mlf_buf_release(&f);
	return rc;
}

int mlf_rest_delete_alias(void *impl, const char *name, const char *alias, struct mlf_error *err)
{
	struct rest_builder b = { json_object(), NULL };
	json_t *resp;
	mlf_rest_put_str(&b, b.obj, "name", name);
	mlf_rest_put_str(&b, b.obj, "alias", alias);
	if (mlf_rest_builder_check(&b, "registered-models/alias", err))
		return -1;
	if (mlf_rest_api(impl, "DELETE", "registered-models/alias", b.obj, &resp, err))
		return mlf_error_prefix(err, "cannot remove alias '%s' of model '%s'", alias, name);
	json_decref(resp);
	return 0;
}

int mlf_rest_get_alias(void *impl, const char *name, const char *alias,
		       struct mlf_model_version *out, struct mlf_error *err)
{
	struct mlf_buf q = MLF_BUF_INIT;
	json_t *resp;
	memset(out, 0, sizeof(*out));
	mlf_rest_query_add(&q, "name", name);
	mlf_rest_query_add(&q, "alias", alias);
	if (mlf_rest_api_get(impl, "registered-models/alias", &q, &resp, err)) {
		/* The server calls a missing alias an invalid parameter (400), not a 404. */
		if (err->kind == MLF_ERR_INVALID && strstr(err->msg, "not found"))
			return mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
					     "model '%s' has no alias '%s'", name, alias);
		return -1;
	}
	int rc = mlf_rest_read_model_version(resp, out, err);
	json_decref(resp);
	return rc;
}

int mlf_rest_set_model_version_tag(void *impl, const char *name, const char *version, const char *key,
				   const char *value, struct mlf_error *err)
{
	struct rest_builder b = { json_object(), NULL };
	json_t *resp;
	mlf_rest_put_str(&b, b.obj, "name", name);
	mlf_rest_put_str(&b, b.obj, "version", version);
	mlf_rest_put_str(&b, b.obj, "key", key);
	mlf_rest_put_str(&b, b.obj, "value", value);
	if (mlf_rest_builder_check(&b, "model-versions/set-tag", err))
		return -1;
	if (mlf_rest_api(impl, "POST", "model-versions/set-tag", b.obj, &resp, err))
		return mlf_error_prefix(err, "cannot tag version %s of model '%s' with %s", version, name,
					key);
	json_decref(resp);
	return 0;
}
