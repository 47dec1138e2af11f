/*
 * Runs of the file store: <root>/<exp_id>/<run_id>/meta.yaml and the
 * folders beside it; finding a run, creating, reading, searching, ending
 * and deleting it (see file_store_internal.h).
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "file_store_internal.h"

static void run_meta_release(struct run_meta *m)
{
	free(m->artifact_uri);
	free(m->experiment_id);
	free(m->lifecycle_stage);
	free(m->run_id);
	free(m->run_name);
	free(m->user_id);
	memset(m, 0, sizeof(*m));
}

/* ---- finding runs --------------------------------------------------------- */

static int find_run_in(const char *parent, const char *run_id, char **exp_id, char **run_dir)
{
	DIR *d = opendir(parent);
	if (!d)
		return 0;
	struct dirent *de;
	int found = 0;
	while (!found && (de = readdir(d))) {
		if (mlf_fst_reserved_root_entry(de->d_name))
			continue;
		char *dir = mlf_fst_join3(parent, de->d_name, run_id);
		if (mlf_is_dir(dir)) {
			*exp_id = mlf_xstrdup(de->d_name);
			*run_dir = dir;
			found = 1;
		} else {
			free(dir);
		}
	}
	closedir(d);
	return found;
}

/* Folder of run `run_id` in any experiment, deleted experiments included. */
static int find_run(struct file_store *fs, const char *run_id, char **exp_id, char **run_dir,
		    struct mlf_error *err)
{
	if (mlf_fst_check_run_id(run_id, err))
		return -1;
	if (fs->cached_run_id && !strcmp(fs->cached_run_id, run_id) && mlf_is_dir(fs->cached_run_dir)) {
		*exp_id = mlf_xstrdup(fs->cached_exp_id);
		*run_dir = mlf_xstrdup(fs->cached_run_dir);
		return 0;
	}
	if (!find_run_in(fs->root, run_id, exp_id, run_dir) &&
	    !find_run_in(fs->trash, run_id, exp_id, run_dir))
		return mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
				     "run '%s' does not exist in %s", run_id, fs->root);
	free(fs->cached_run_id);
	free(fs->cached_run_dir);
	free(fs->cached_exp_id);
	fs->cached_run_id = mlf_xstrdup(run_id);
	fs->cached_run_dir = mlf_xstrdup(*run_dir);
	fs->cached_exp_id = mlf_xstrdup(*exp_id);
	return 0;
}

static int read_run_meta(const char *run_dir, const char *exp_id, const char *run_id,
			 struct run_meta *m, struct mlf_error *err)
{
	struct mlf_fsyaml_doc doc;
	char *path = NULL;
	int64_t status = MLF_RUN_RUNNING;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	m->start_time = m->end_time = m->deleted_time = -1;
	if (mlf_fst_load_meta(run_dir, &doc, &path, err) != 0)
		return -1;
	if (mlf_fsyaml_get_str(&doc, path, "artifact_uri", &m->artifact_uri, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "experiment_id", &m->experiment_id, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "lifecycle_stage", &m->lifecycle_stage, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "run_id", &m->run_id, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "run_name", &m->run_name, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "user_id", &m->user_id, err) < 0 ||
	    mlf_fsyaml_get_int(&doc, path, "status", &status, err) < 0 ||
	    mlf_fsyaml_get_int(&doc, path, "start_time", &m->start_time, err) < 0 ||
	    mlf_fsyaml_get_int(&doc, path, "end_time", &m->end_time, err) < 0 ||
	    mlf_fsyaml_get_int(&doc, path, "deleted_time", &m->deleted_time, err) < 0)
		goto out;
	/* 2.x wrote run_uuid alongside or instead of run_id. */
	if (!m->run_id && mlf_fsyaml_get_str(&doc, path, "run_uuid", &m->run_id, err) < 0)
		goto out;
	if (!m->run_id || strcmp(m->run_id, run_id)) {
		mlf_fail(err, MLF_EX_DATAERR, "'%s' says run '%s', but its folder is '%s'",
			 path, m->run_id ? m->run_id : "(none)", run_id);
		goto out;
	}
	if (!m->experiment_id || strcmp(m->experiment_id, exp_id)) {
		mlf_fail(err, MLF_EX_DATAERR, "'%s' says experiment '%s', but the run is in experiment "
			 "folder '%s'", path, m->experiment_id ? m->experiment_id : "(none)", exp_id);
		goto out;
	}
	if (status < MLF_RUN_RUNNING || status > MLF_RUN_KILLED) {
		mlf_fail(err, MLF_EX_DATAERR, "'%s' has unknown run status %" PRId64, path, status);
		goto out;
	}
	m->status = (int)status;
	if (!m->lifecycle_stage)
		m->lifecycle_stage = mlf_xstrdup("active");
	rc = 0;
out:
	mlf_fsyaml_free(&doc);
	free(path);
	if (rc)
		run_meta_release(m);
	return rc;
}

int mlf_fst_write_run_meta(const char *run_dir, const struct run_meta *m,
			   struct mlf_error *err)
{
#define TIME_ITEM(k, v) { k, (v) < 0 ? MLF_FSYAML_NULL : MLF_FSYAML_INT, NULL, (v), NULL }
	struct mlf_fsyaml_item items[] = {
		{ "artifact_uri", MLF_FSYAML_STR, m->artifact_uri, 0, NULL },
		TIME_ITEM("deleted_time", m->deleted_time),
		TIME_ITEM("end_time", m->end_time),
		{ "entry_point_name", MLF_FSYAML_STR, "", 0, NULL },
		{ "experiment_id", MLF_FSYAML_STR, m->experiment_id, 0, NULL },
		{ "lifecycle_stage", MLF_FSYAML_STR, m->lifecycle_stage, 0, NULL },
		{ "run_id", MLF_FSYAML_STR, m->run_id, 0, NULL },
		{ "run_name", MLF_FSYAML_STR, m->run_name ? m->run_name : "", 0, NULL },
		/* MLflow < 2.22.1 cannot read a run without run_uuid. */
		{ "run_uuid", MLF_FSYAML_STR, m->run_id, 0, NULL },
		{ "source_name", MLF_FSYAML_STR, "", 0, NULL },
		{ "source_type", MLF_FSYAML_INT, NULL, 4, NULL },  /* LOCAL, always (legacy field) */
		{ "source_version", MLF_FSYAML_STR, "", 0, NULL },
		TIME_ITEM("start_time", m->start_time),
		{ "status", MLF_FSYAML_INT, NULL, m->status, NULL },
		{ "tags", MLF_FSYAML_EMPTY_SEQ, NULL, 0, NULL },
		{ "user_id", MLF_FSYAML_STR, m->user_id, 0, NULL },
	};
#undef TIME_ITEM
	return mlf_fst_write_meta(run_dir, items, sizeof(items) / sizeof(items[0]), err);
}

void mlf_fst_run_release(struct fst_run *r)
{
	run_meta_release(&r->meta);
	free(r->exp_id);
	free(r->dir);
	memset(r, 0, sizeof(*r));
}

int mlf_fst_run_open(struct file_store *fs, const char *run_id, struct fst_run *r,
		     struct mlf_error *err)
{
	memset(r, 0, sizeof(*r));
	if (find_run(fs, run_id, &r->exp_id, &r->dir, err) != 0)
		return -1;
	if (read_run_meta(r->dir, r->exp_id, run_id, &r->meta, err) != 0) {
		mlf_error_prefix(err, "run '%s'", run_id);
		mlf_fst_run_release(r);
		return -1;
	}
	return 0;
}

int mlf_fst_check_active(const struct run_meta *m, struct mlf_error *err)
{
	if (strcmp(m->lifecycle_stage, "active"))
		return mlf_fail(err, MLF_EX_DATAERR, "run '%s' is %s; MLflow only logs to active runs",
				m->run_id, m->lifecycle_stage);
	return 0;
}

/* ---- reading runs --------------------------------------------------------- */

static int load_run(const char *run_dir, struct run_meta *m, struct mlf_run *out,
		    struct mlf_error *err)
{
	memset(out, 0, sizeof(*out));
	char *params = mlf_path_join(run_dir, "params");
	char *tags = mlf_path_join(run_dir, "tags");
	int rc = mlf_fst_read_kv_tree(params, &out->params, err);
	if (!rc)
		rc = mlf_fst_read_kv_tree(tags, &out->tags, err);
	if (!rc)
		rc = mlf_fst_latest_metrics(run_dir, out, err);
	free(params);
	free(tags);
	if (rc) {
		mlf_run_release(out);
		return -1;
	}
	out->run_id = m->run_id;
	out->experiment_id = m->experiment_id;
	out->artifact_uri = m->artifact_uri ? m->artifact_uri : mlf_xstrdup("");
	out->lifecycle_stage = m->lifecycle_stage;
	out->user_id = m->user_id ? m->user_id : mlf_xstrdup("");
	/* An empty run_name falls back to the mlflow.runName tag, as MLflow reads it. */
	if (m->run_name && *m->run_name) {
		out->run_name = m->run_name;
	} else {
		const char *tag = mlf_kvs_get(&out->tags, "mlflow.runName");
		out->run_name = mlf_xstrdup(tag ? tag : "");
		free(m->run_name);
	}
	out->status = m->status;
	out->start_time = m->start_time < 0 ? 0 : m->start_time;
	out->end_time = m->end_time < 0 ? 0 : m->end_time;
	memset(m, 0, sizeof(*m));  /* its strings now belong to *out */
	return 0;
}

int mlf_fst_get_run(void *impl, const char *run_id, struct mlf_run *out, struct mlf_error *err)
{
	struct fst_run r;
	if (mlf_fst_run_open(impl, run_id, &r, err) != 0)
		return -1;
	int rc = load_run(r.dir, &r.meta, out, err);
	mlf_fst_run_release(&r);
	return rc;
}

static int newest_first(const void *a, const void *b)
{
	const struct mlf_run *x = a, *y = b;
	if (x->start_time != y->start_time)
		return x->start_time > y->start_time ? -1 : 1;
	return strcmp(x->run_id, y->run_id);
}

int mlf_fst_search_runs(void *impl, const char *experiment_id, const char *tag_key,
			const char *tag_value, struct mlf_run_list *out, struct mlf_error *err)
{
	struct file_store *fs = impl;
	if (mlf_fst_check_experiment_id(experiment_id, err) ||
	    mlf_fst_check_key_path("tag", tag_key, err))
		return -1;
	char *exp_dir = mlf_path_join(fs->root, experiment_id);
	DIR *d = opendir(exp_dir);
	if (!d) {
		int rc = mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
				       "no active experiment '%s' in %s", experiment_id, fs->root);
		free(exp_dir);
		return rc;
	}
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(d))) {
		if (!mlf_fst_id_ok(de->d_name, 256) || !strcmp(de->d_name, "tags") ||
		    !strcmp(de->d_name, "datasets") || !strcmp(de->d_name, "traces") ||
		    !strcmp(de->d_name, "models"))
			continue;
		char *run_dir = mlf_path_join(exp_dir, de->d_name);
		char *tag = mlf_fst_join3(run_dir, "tags", tag_key);
		char *value = NULL;
		struct run_meta m;
		struct mlf_run run;
		/* Like MLflow's search, folders that are not readable runs are skipped. */
		if (mlf_is_file(tag) && mlf_read_file(tag, &value, NULL, NULL) == 0 &&
		    (!tag_value || !strcmp(value, tag_value)) &&
		    read_run_meta(run_dir, experiment_id, de->d_name, &m, NULL) == 0) {
			if (!strcmp(m.lifecycle_stage, "active")) {
				rc = load_run(run_dir, &m, &run, err);
				if (!rc)
					mlf_run_list_add(out, &run);
			}
			run_meta_release(&m);
		}
		free(value);
		free(tag);
		free(run_dir);
	}
	closedir(d);
	free(exp_dir);
	if (rc) {
		mlf_run_list_release(out);
		return -1;
	}
	if (out->n > 1)
		qsort(out->runs, out->n, sizeof(*out->runs), newest_first);
	return 0;
}

/* ---- writing runs --------------------------------------------------------- */

static int make_run_dirs(const char *run_dir, struct mlf_error *err)
{
	static const char *const subdirs[] = { "metrics", "params", "tags", "artifacts" };
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		char *p = mlf_path_join(run_dir, subdirs[i]);
		int rc = mlf_mkdir_p(p, 0777, err);
		free(p);
		if (rc)
			return -1;
	}
	return 0;
}

int mlf_fst_create_run(void *impl, const char *experiment_id, const char *run_name,
		       const char *user_id, int64_t start_time, const struct mlf_kvs *tags,
		       struct mlf_run *out, struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct mlf_experiment e;
	char run_id[33];
	int rc = -1;

	if (mlf_fst_get_experiment(fs, experiment_id, &e, err) != 0)
		return -1;
	if (strcmp(e.lifecycle_stage, "active")) {
		mlf_experiment_release(&e);
		return mlf_fail(err, MLF_EX_DATAERR,
				"experiment '%s' is deleted; MLflow creates runs only in active experiments",
				experiment_id);
	}
	for (size_t i = 0; tags && i < tags->n; i++)
		if (mlf_fst_check_key_path("tag", tags->items[i].key, err)) {
			mlf_experiment_release(&e);
			return -1;
		}
	mlf_random_hex32(run_id);
	char *exp_dir = mlf_path_join(fs->root, experiment_id);
	char *run_dir = mlf_path_join(exp_dir, run_id);
	char *tags_dir = mlf_path_join(run_dir, "tags");
	char *rel = mlf_xasprintf("%s/artifacts", run_id);
	const char *name_tag = tags ? mlf_kvs_get(tags, "mlflow.runName") : NULL;
	struct run_meta m = {
		.artifact_uri = mlf_uri_append(e.artifact_location, rel),
		.experiment_id = (char *)experiment_id,
		.lifecycle_stage = (char *)"active",
		.run_id = run_id,
		.run_name = (char *)(run_name ? run_name : name_tag ? name_tag : ""),
		.user_id = (char *)user_id,
		.status = MLF_RUN_RUNNING,
		.start_time = start_time,
		.end_time = -1,
		.deleted_time = -1,
	};

	if (mkdir(run_dir, 0777) != 0) {
		mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot create run folder '%s'", run_dir);
		goto out;
	}
	/* meta.yaml last: until it exists, readers skip the folder as not a run yet. */
	int written = make_run_dirs(run_dir, err) == 0;
	for (size_t i = 0; written && tags && i < tags->n; i++)
		written = mlf_fst_write_value(tags_dir, tags->items[i].key, tags->items[i].value,
					      err) == 0;
	if (!written || mlf_fst_write_run_meta(run_dir, &m, err)) {
		mlf_remove_tree(run_dir, NULL);
		goto out;
	}
	rc = mlf_fst_get_run(fs, run_id, out, err);
out:
	free(m.artifact_uri);
	free(rel);
	free(tags_dir);
	free(run_dir);
	free(exp_dir);
	mlf_experiment_release(&e);
	return rc;
}

int mlf_fst_update_run(void *impl, const char *run_id, int status, int64_t end_time,
		       struct mlf_error *err)
{
	struct fst_run r;
	if (mlf_fst_run_open(impl, run_id, &r, err) != 0)
		return -1;
	int rc = mlf_fst_check_active(&r.meta, err);
	if (!rc) {
		r.meta.status = status;
		r.meta.end_time = status == MLF_RUN_RUNNING && end_time == 0 ? -1 : end_time;
		rc = mlf_fst_write_run_meta(r.dir, &r.meta, err);
	}
	mlf_fst_run_release(&r);
	return rc;
}

int mlf_fst_delete_run(void *impl, const char *run_id, struct mlf_error *err)
{
	struct fst_run r;
	if (mlf_fst_run_open(impl, run_id, &r, err) != 0)
		return -1;
	free(r.meta.lifecycle_stage);
	r.meta.lifecycle_stage = mlf_xstrdup("deleted");
	r.meta.deleted_time = mlf_now_ms();
	int rc = mlf_fst_write_run_meta(r.dir, &r.meta, err);
	mlf_fst_run_release(&r);
	return rc;
}
