/*
 * MLflow 3 logged models over REST: /api/2.0/mlflow/logged-models (create,
 * get, PATCH to finalize, PATCH .../tags) and runs/outputs for the link from
 * the run.  The server chooses the model's id and artifact location; the id
 * the facade drew is not sent.  Creating is not retried blindly: a second
 * attempt after an unclear failure could leave a second, PENDING model that
 * nothing refers to, which is harmless, so it is allowed (idempotent call).
 */
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "rest_internal.h"

static const char *const status_names[] = {
	"LOGGED_MODEL_STATUS_UNSPECIFIED", "LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY",
	"LOGGED_MODEL_UPLOAD_FAILED",
};

static int read_model(const json_t *resp, struct mlf_logged_model *out, struct mlf_error *err)
{
	const json_t *model = json_object_get(resp, "model");
	const json_t *info = json_object_get(model, "info");
	const json_t *data = json_object_get(model, "data");
	memset(out, 0, sizeof(*out));
	if (!mlf_json_str(info, "model_id", NULL) || !mlf_json_str(info, "artifact_uri", NULL))
		return mlf_fail(err, MLF_REST_EX_BAD_ANSWER, "the server's answer holds no logged model "
				"(model.info.model_id and artifact_uri)");
	out->model_id = mlf_rest_jdup_str(info, "model_id");
	out->experiment_id = mlf_rest_jdup_str(info, "experiment_id");
	out->name = mlf_rest_jdup_str(info, "name");
	out->artifact_uri = mlf_rest_jdup_str(info, "artifact_uri");
	out->source_run_id = mlf_rest_jdup_str(info, "source_run_id");
	out->model_type = mlf_rest_jdup_str(info, "model_type");
	const char *status = mlf_json_str(info, "status", "");
	for (int i = 0; i < 4; i++)
		if (!strcmp(status, status_names[i]))
			out->status = i;
	mlf_rest_read_kvs(json_object_get(info, "tags"), &out->tags);
	mlf_rest_read_kvs(json_object_get(data, "params"), &out->params);
	return 0;
}

int mlf_rest_create_logged_model(void *impl, const struct mlf_logged_model_request *req,
				 const char *model_id, struct mlf_logged_model *out,
				 struct mlf_error *err)
{
	(void)model_id;
	struct rest_builder b = { json_object(), NULL };
	json_t *resp;
	mlf_rest_put_str(&b, b.obj, "experiment_id", req->experiment_id);
	mlf_rest_put_str(&b, b.obj, "name", req->name);
	if (req->model_type)
		mlf_rest_put_str(&b, b.obj, "model_type", req->model_type);
	if (req->source_run_id)
		mlf_rest_put_str(&b, b.obj, "source_run_id", req->source_run_id);
	if (req->tags)
		json_object_set_new(b.obj, "tags", mlf_rest_kv_array(&b, "tag", req->tags->items,
								     req->tags->n));
	/* the server takes 100 params with the model; the rest go to .../params */
	size_t first = req->params ? req->params->n : 0;
	if (first > MLF_BATCH_MAX_PARAMS)
		first = MLF_BATCH_MAX_PARAMS;
	if (first)
		json_object_set_new(b.obj, "params", mlf_rest_kv_array(&b, "param", req->params->items,
								       first));
	if (mlf_rest_builder_check(&b, "logged-models", err))
		return -1;
	if (mlf_rest_api(impl, "POST", "logged-models", b.obj, &resp, err))
		return mlf_error_prefix(err, "cannot create logged model '%s'", req->name);
	int rc = read_model(resp, out, err);
	json_decref(resp);
	for (size_t at = first; !rc && req->params && at < req->params->n; at += MLF_BATCH_MAX_PARAMS) {
		size_t n = req->params->n - at;
		struct rest_builder pb = { json_object(), NULL };
		char *endpoint = mlf_xasprintf("logged-models/%s/params", out->model_id);
		mlf_rest_put_str(&pb, pb.obj, "model_id", out->model_id);
		json_object_set_new(pb.obj, "params", mlf_rest_kv_array(&pb, "param", req->params->items + at,
									n < MLF_BATCH_MAX_PARAMS ? n : MLF_BATCH_MAX_PARAMS));
		rc = mlf_rest_builder_check(&pb, endpoint, err) ||
		     mlf_rest_api(impl, "POST", endpoint, pb.obj, &resp, err) ? -1 : 0;
		if (!rc)
			json_decref(resp);
		free(endpoint);
	}
	if (rc)
		mlf_logged_model_release(out);
	return rc;
}

int mlf_rest_get_logged_model(void *impl, const char *model_id, struct mlf_logged_model *out,
			      struct mlf_error *err)
{
	struct mlf_buf q = MLF_BUF_INIT;
	json_t *resp;
	char *endpoint = mlf_xasprintf("logged-models/%s", model_id);
	mlf_buf_adds(&q, "");
	int rc = mlf_rest_api_get(impl, endpoint, &q, &resp, err);
	free(endpoint);
	if (rc)
		return mlf_error_prefix(err, "cannot read logged model %s", model_id);
	rc = read_model(resp, out, err);
	json_decref(resp);
	return rc;
}

int mlf_rest_finalize_logged_model(void *impl, const char *model_id, int status, struct mlf_error *err)
{
	struct rest_builder b = { json_object(), NULL };
	json_t *resp;
	char *endpoint = mlf_xasprintf("logged-models/%s", model_id);
	mlf_rest_put_str(&b, b.obj, "model_id", model_id);
	mlf_rest_put_str(&b, b.obj, "status", status_names[status]);
	int rc = mlf_rest_builder_check(&b, endpoint, err) ||
		 mlf_rest_api(impl, "PATCH", endpoint, b.obj, &resp, err) ? -1 : 0;
	free(endpoint);
	if (rc)
		return mlf_error_prefix(err, "cannot finalize logged model %s", model_id);
	json_decref(resp);
	return 0;
}

int mlf_rest_set_logged_model_tag(void *impl, const char *model_id, const char *key, const char *value,
				  struct mlf_error *err)
{
	struct rest_builder b = { json_object(), NULL };
	struct mlf_kv kv = { (char *)key, (char *)value };
	json_t *resp;
	char *endpoint = mlf_xasprintf("logged-models/%s/tags", model_id);
	json_object_set_new(b.obj, "tags", mlf_rest_kv_array(&b, "tag", &kv, 1));
	int rc = mlf_rest_builder_check(&b, endpoint, err) ||
		 mlf_rest_api(impl, "PATCH", endpoint, b.obj, &resp, err) ? -1 : 0;
	free(endpoint);
	if (rc)
		return mlf_error_prefix(err, "cannot tag logged model %s", model_id);
	json_decref(resp);
	return 0;
}

/* Does the run already name `model_id` among its outputs?  1, 0, or -1 with err. */
static int run_has_output(void *impl, const char *run_id, const char *model_id, struct mlf_error *err)
{
	struct mlf_buf q = MLF_BUF_INIT;
	json_t *resp, *it;
	size_t i;
	int found = 0;
	mlf_rest_query_add(&q, "run_id", run_id);
	if (mlf_rest_api_get(impl, "runs/get", &q, &resp, err))
		return -1;
	json_t *outs = json_object_get(json_object_get(json_object_get(resp, "run"), "outputs"), "model_outputs");
	json_array_foreach(outs, i, it)
		found |= !strcmp(mlf_json_str(it, "model_id", ""), model_id);
	json_decref(resp);
	return found;
}

/*
 * The link is made once: a server refuses a second one (its SQL store's unique
 * key on inputs answers 400), which a run resumed after a crash between the link
 * and its record would send.  A refusal with the link already there is success.
 */
int mlf_rest_log_model_output(void *impl, const char *run_id, const char *model_id, int64_t step,
			      struct mlf_error *err)
{
	struct rest_builder b = { json_object(), NULL };
	json_t *resp, *models = json_array(), *m = json_object();
	mlf_rest_put_str(&b, b.obj, "run_id", run_id);
	mlf_rest_put_str(&b, m, "model_id", model_id);
	json_object_set_new(m, "step", json_integer(step));
	json_array_append_new(models, m);
	json_object_set_new(b.obj, "models", models);
	if (mlf_rest_builder_check(&b, "runs/outputs", err))
		return -1;
	if (mlf_rest_api(impl, "POST", "runs/outputs", b.obj, &resp, err)) {
		struct mlf_error check = MLF_ERROR_INIT;
		if (err->kind == MLF_ERR_INVALID && run_has_output(impl, run_id, model_id, &check) == 1) {
			mlf_error_clear(err);
			return 0;
		}
		return mlf_error_prefix(err, "cannot link run %s to logged model %s", run_id, model_id);
	}
	json_decref(resp);
	return 0;
}
