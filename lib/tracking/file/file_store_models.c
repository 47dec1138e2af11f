/*
 * MLflow 3 logged models in the file store, as MLflow 3.17 keeps them:
 *
 *   <root>/<exp_id>/models/<model_id>/meta.yaml    (experiment_id quoted: MLflow
 *                                                   refuses the model otherwise)
 *   <root>/<exp_id>/models/<model_id>/params/<key>, tags/<key>
 *   <root>/<exp_id>/models/<model_id>/artifacts/   its files (the default location)
 *   <root>/<exp_id>/<run_id>/outputs/<model_id>/meta.yaml   the run's output
 *
 * meta.yaml is rewritten whole (atomically) when the status changes.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "file_store_internal.h"

/* The folder of logged model `model_id`, in whichever experiment holds it. */
static char *find_model(struct file_store *fs, const char *model_id, char **exp_id)
{
	DIR *d = opendir(fs->root);
	struct dirent *de;
	char *found = NULL;
	while (d && !found && (de = readdir(d))) {
		if (mlf_fst_reserved_root_entry(de->d_name))
			continue;
		char *models = mlf_fst_join3(fs->root, de->d_name, "models");
		char *dir = mlf_path_join(models, model_id);
		char *meta = mlf_path_join(dir, MLF_FST_META);
		if (mlf_is_file(meta)) {
			found = dir;
			if (exp_id)
				*exp_id = mlf_xstrdup(de->d_name);
		} else {
			free(dir);
		}
		free(meta);
		free(models);
	}
	if (d)
		closedir(d);
	return found;
}

static int not_found(struct file_store *fs, const char *model_id, struct mlf_error *err)
{
	return mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND, "logged model '%s' not found in %s",
			     model_id, fs->root);
}

struct model_meta {
	char *artifact_location, *experiment_id, *model_id, *model_type, *name, *source_run_id;
	int64_t created, status;
};

static void meta_release(struct model_meta *m)
{
	free(m->artifact_location);
	free(m->experiment_id);
	free(m->model_id);
	free(m->model_type);
	free(m->name);
	free(m->source_run_id);
	memset(m, 0, sizeof(*m));
}

static int read_meta(const char *dir, struct model_meta *m, struct mlf_error *err)
{
	struct mlf_fsyaml_doc doc = { 0 };
	char *path = NULL;
	memset(m, 0, sizeof(*m));
	int rc = mlf_fst_load_meta(dir, &doc, &path, err);
	if (!rc && (mlf_fsyaml_get_str(&doc, path, "artifact_location", &m->artifact_location, err) < 0 ||
		    mlf_fsyaml_get_str(&doc, path, "experiment_id", &m->experiment_id, err) < 0 ||
		    mlf_fsyaml_get_str(&doc, path, "model_id", &m->model_id, err) < 0 ||
		    mlf_fsyaml_get_str(&doc, path, "model_type", &m->model_type, err) < 0 ||
		    mlf_fsyaml_get_str(&doc, path, "name", &m->name, err) < 0 ||
		    mlf_fsyaml_get_str(&doc, path, "source_run_id", &m->source_run_id, err) < 0 ||
		    mlf_fsyaml_get_int(&doc, path, "creation_timestamp", &m->created, err) < 0 ||
		    mlf_fsyaml_get_int(&doc, path, "status", &m->status, err) < 0))
		rc = -1;
	mlf_fsyaml_free(&doc);
	free(path);
	if (rc)
		meta_release(m);
	return rc;
}

static int write_meta(const char *dir, const struct model_meta *m, struct mlf_error *err)
{
	struct mlf_fsyaml_item items[] = {
		{ "artifact_location", MLF_FSYAML_STR, m->artifact_location, 0, NULL },
		{ "creation_timestamp", MLF_FSYAML_INT, NULL, m->created, NULL },
		{ "experiment_id", MLF_FSYAML_STR, m->experiment_id, 0, NULL },
		{ "last_updated_timestamp", MLF_FSYAML_INT, NULL, mlf_now_ms(), NULL },
		{ "model_id", MLF_FSYAML_STR, m->model_id, 0, NULL },
		{ "model_type", m->model_type ? MLF_FSYAML_STR : MLF_FSYAML_NULL, m->model_type, 0, NULL },
		{ "name", MLF_FSYAML_STR, m->name, 0, NULL },
		{ "source_run_id", m->source_run_id ? MLF_FSYAML_STR : MLF_FSYAML_NULL, m->source_run_id, 0,
		  NULL },
		{ "status", MLF_FSYAML_INT, NULL, m->status, NULL },
		{ "status_message", MLF_FSYAML_NULL, NULL, 0, NULL },
	};
	return mlf_fst_write_meta(dir, items, sizeof(items) / sizeof(items[0]), err);
}

static int write_kvs(const char *dir, const char *sub, const struct mlf_kvs *kvs, struct mlf_error *err)
{
	if (!kvs || !kvs->n)
		return 0;
	char *folder = mlf_path_join(dir, sub);
	int rc = mlf_mkdir_p(folder, 0777, err);
	for (size_t i = 0; !rc && i < kvs->n; i++)
		rc = mlf_fst_check_key_path(sub, kvs->items[i].key, err) ||
		     mlf_fst_write_value(folder, kvs->items[i].key, kvs->items[i].value, err);
	free(folder);
	return rc ? -1 : 0;
}

int mlf_fst_get_logged_model(void *impl, const char *model_id, struct mlf_logged_model *out,
			     struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct model_meta m;
	memset(out, 0, sizeof(*out));
	char *dir = find_model(fs, model_id, NULL);
	if (!dir)
		return not_found(fs, model_id, err);
	int rc = read_meta(dir, &m, err);
	if (!rc) {
		out->model_id = m.model_id ? mlf_xstrdup(m.model_id) : mlf_xstrdup(model_id);
		out->experiment_id = mlf_xstrdup(m.experiment_id ? m.experiment_id : "");
		out->name = mlf_xstrdup(m.name ? m.name : "");
		out->artifact_uri = mlf_xstrdup(m.artifact_location ? m.artifact_location : "");
		out->source_run_id = mlf_xstrdup(m.source_run_id ? m.source_run_id : "");
		out->model_type = mlf_xstrdup(m.model_type ? m.model_type : "");
		out->status = (int)m.status;
		char *params = mlf_path_join(dir, "params"), *tags = mlf_path_join(dir, "tags");
		rc = (mlf_is_dir(params) && mlf_fst_read_kv_tree(params, &out->params, err)) ||
		     (mlf_is_dir(tags) && mlf_fst_read_kv_tree(tags, &out->tags, err)) ? -1 : 0;
		free(params);
		free(tags);
		meta_release(&m);
		if (rc)
			mlf_logged_model_release(out);
	}
	free(dir);
	return rc;
}

int mlf_fst_create_logged_model(void *impl, const struct mlf_logged_model_request *req,
				const char *model_id, struct mlf_logged_model *out,
				struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct mlf_experiment e;
	memset(out, 0, sizeof(*out));
	if (mlf_fst_get_experiment(impl, req->experiment_id, &e, err))
		return -1;
	char *models = mlf_fst_join3(fs->root, e.experiment_id, "models");
	char *dir = mlf_path_join(models, model_id);
	char *rel = mlf_xasprintf("models/%s/artifacts", model_id);
	struct model_meta m = {
		.artifact_location = mlf_uri_append(e.artifact_location, rel),
		.experiment_id = mlf_xstrdup(e.experiment_id),
		.model_id = mlf_xstrdup(model_id),
		.model_type = req->model_type ? mlf_xstrdup(req->model_type) : NULL,
		.name = mlf_xstrdup(req->name),
		.source_run_id = req->source_run_id ? mlf_xstrdup(req->source_run_id) : NULL,
		.created = mlf_now_ms(),
		.status = MLF_LOGGED_MODEL_PENDING,
	};
	/* params and tags first, meta.yaml last: the model exists once its meta.yaml does */
	int rc = strcmp(e.lifecycle_stage, "active")
		 ? mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID, "experiment %s in %s is deleted",
				 e.experiment_id, fs->root)
		 : mlf_mkdir_p(dir, 0777, err) || write_kvs(dir, "params", req->params, err) ||
			   write_kvs(dir, "tags", req->tags, err) || write_meta(dir, &m, err) ? -1 : 0;
	meta_release(&m);
	free(rel);
	free(dir);
	free(models);
	mlf_experiment_release(&e);
	return rc ? -1 : mlf_fst_get_logged_model(impl, model_id, out, err);
}

int mlf_fst_finalize_logged_model(void *impl, const char *model_id, int status, struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct model_meta m;
	char *dir = find_model(fs, model_id, NULL);
	if (!dir)
		return not_found(fs, model_id, err);
	int rc = read_meta(dir, &m, err);
	if (!rc) {
		m.status = status;
		rc = write_meta(dir, &m, err);
		meta_release(&m);
	}
	free(dir);
	return rc;
}

int mlf_fst_set_logged_model_tag(void *impl, const char *model_id, const char *key, const char *value,
				 struct mlf_error *err)
{
	struct file_store *fs = impl;
	char *dir = find_model(fs, model_id, NULL);
	if (!dir)
		return not_found(fs, model_id, err);
	struct mlf_kvs one = MLF_KVS_INIT;
	mlf_kvs_add(&one, key, value);
	int rc = write_kvs(dir, "tags", &one, err);
	mlf_kvs_release(&one);
	free(dir);
	return rc;
}

int mlf_fst_log_model_output(void *impl, const char *run_id, const char *model_id, int64_t step,
			     struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct fst_run r;
	char *mdir = find_model(fs, model_id, NULL);
	if (!mdir)
		return not_found(fs, model_id, err);
	free(mdir);
	if (mlf_fst_run_open(fs, run_id, &r, err))
		return -1;
	/* MLflow writes the model id as both ends; its reader only needs the destination */
	char *dir = mlf_fst_join3(r.dir, "outputs", model_id);
	struct mlf_kvs none = MLF_KVS_INIT;
	struct mlf_fsyaml_item items[] = {
		{ "destination_id", MLF_FSYAML_STR, model_id, 0, NULL },
		{ "destination_type", MLF_FSYAML_STR, "MODEL_OUTPUT", 0, NULL },
		{ "source_id", MLF_FSYAML_STR, model_id, 0, NULL },
		{ "source_type", MLF_FSYAML_STR, "RUN_OUTPUT", 0, NULL },
		{ "step", MLF_FSYAML_INT, NULL, step, NULL },
		{ "tags", MLF_FSYAML_MAP, NULL, 0, &none },
	};
	int rc = mlf_mkdir_p(dir, 0777, err) ||
		 mlf_fst_write_meta(dir, items, sizeof(items) / sizeof(items[0]), err) ? -1 : 0;
	free(dir);
	mlf_fst_run_release(&r);
	return rc;
}

int mlf_fst_model_version_of_model(struct file_store *fs, const char *model_id, const char *name,
				   long version, char **location, struct mlf_error *err)
{
	struct mlf_logged_model m;
	*location = NULL;
	if (mlf_fst_get_logged_model(fs, model_id, &m, err))
		return -1;
	char *text = mlf_model_versions_tag_add(mlf_kvs_get(&m.tags, MLF_TAG_MODEL_VERSIONS), name, version);
	int rc = mlf_fst_set_logged_model_tag(fs, model_id, MLF_TAG_MODEL_VERSIONS, text, err);
	free(text);
	if (!rc)
		*location = mlf_xstrdup(m.artifact_uri);
	mlf_logged_model_release(&m);
	return rc;
}
