/*
 * The model registry of the file store, as MLflow 3's own file registry
 * keeps it beside the experiments (see file_store_internal.h):
 *
 *   <root>/models/<name>/meta.yaml             the registered model
 *   <root>/models/<name>/aliases/<alias>       the version number, nothing else
 *   <root>/models/<name>/version-<n>/meta.yaml a version
 *
 * The aliases/ files are the truth MLflow reads; the registered model's
 * meta.yaml repeats them (MLflow writes its `aliases` field there on every
 * update) and its last_updated_timestamp moves with each change.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mlf/base.h"
#include "file_store_internal.h"

#define VERSION_PREFIX "version-"
#define CREATE_TRIES 3  /* a version number taken by another writer between list and mkdir */

/* A name becomes a folder: nothing that could leave models/ or hide in it. */
static int check_name(const char *name, struct mlf_error *err)
{
	if (!name || !*name || name[0] == '.' || strchr(name, '/') || strchr(name, '\\'))
		return mlf_fail(err, MLF_EX_DATAERR, "registered model name '%s' cannot name a folder of "
				"the file store", name ? name : "");
	return 0;
}

static char *model_dir(struct file_store *fs, const char *name)
{
	return mlf_fst_join3(fs->root, "models", name);
}

static int not_found(struct mlf_error *err, const char *what, const char *name)
{
	return mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND, "%s '%s' not found in the file "
			     "store's model registry", what, name);
}

/* The aliases of model `dir`: alias -> version, from aliases/. */
static int read_aliases(const char *dir, struct mlf_kvs *out, struct mlf_error *err)
{
	char *adir = mlf_path_join(dir, "aliases");
	int rc = mlf_is_dir(adir) ? mlf_fst_read_kv_tree(adir, out, err) : 0;
	free(adir);
	return rc;
}

/* Rewrite the registered model's meta.yaml: its creation time kept, updated now. */
static int write_model_meta(const char *dir, const char *name, int64_t created, struct mlf_error *err)
{
	struct mlf_kvs aliases = MLF_KVS_INIT;
	if (read_aliases(dir, &aliases, err))
		return -1;
	int64_t now = mlf_now_ms();
	struct mlf_fsyaml_item items[] = {
		{ "aliases", MLF_FSYAML_MAP, NULL, 0, &aliases },
		{ "creation_timestamp", MLF_FSYAML_INT, NULL, created ? created : now, NULL },
		{ "deployment_job_id", MLF_FSYAML_NULL, NULL, 0, NULL },
		{ "deployment_job_state", MLF_FSYAML_NULL, NULL, 0, NULL },
		{ "description", MLF_FSYAML_NULL, NULL, 0, NULL },
		{ "last_updated_timestamp", MLF_FSYAML_INT, NULL, now, NULL },
		{ "name", MLF_FSYAML_STR, name, 0, NULL },
		{ "workspace", MLF_FSYAML_STR, "default", 0, NULL },
	};
	int rc = mlf_fst_write_meta(dir, items, sizeof(items) / sizeof(items[0]), err);
	mlf_kvs_release(&aliases);
	return rc;
}

/* After a change to the model's versions or aliases: its meta.yaml follows. */
static int touch_model(const char *dir, const char *name, struct mlf_error *err)
{
	struct mlf_fsyaml_doc doc = { 0 };
	int64_t created = 0;
	char *path = NULL;
	int rc = mlf_fst_load_meta(dir, &doc, &path, err);
	if (!rc && mlf_fsyaml_get_int(&doc, path, "creation_timestamp", &created, err) < 0)
		rc = -1;
	mlf_fsyaml_free(&doc);
	free(path);
	return rc ? -1 : write_model_meta(dir, name, created, err);
}

int mlf_fst_ensure_registered_model(void *impl, const char *name, struct mlf_error *err)
{
	struct file_store *fs = impl;
	if (check_name(name, err))
		return -1;
	char *dir = model_dir(fs, name), *meta = mlf_path_join(dir, MLF_FST_META);
	int rc = 0;
	if (!mlf_is_file(meta)) {
		char *models = mlf_path_join(fs->root, "models");
		rc = mlf_mkdir_p(models, 0777, err);
		if (!rc && mkdir(dir, 0777) != 0 && errno != EEXIST)
			rc = mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot create '%s'", dir);
		if (!rc)
			rc = write_model_meta(dir, name, 0, err);
		free(models);
	}
	free(meta);
	free(dir);
	return rc;
}

/* The highest version-<n> in `dir`; 0 when none. */
static long last_version(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long last = 0;
	while (d && (e = readdir(d))) {
		int64_t n;
		if (!strncmp(e->d_name, VERSION_PREFIX, strlen(VERSION_PREFIX)) &&
		    !mlf_parse_int64(e->d_name + strlen(VERSION_PREFIX), &n) && n > last)
			last = (long)n;
	}
	if (d)
		closedir(d);
	return last;
}

/* version-<n>/meta.yaml into *out; the aliases pointing at it from aliases/. */
static int read_version(const char *dir, const char *name, const char *version,
			struct mlf_model_version *out, struct mlf_error *err)
{
	int64_t n;
	memset(out, 0, sizeof(*out));
	if (mlf_parse_int64(version, &n) || n < 1)
		return mlf_fail(err, MLF_EX_DATAERR, "model version '%s' is not a version number", version);
	char *leaf = mlf_xasprintf(VERSION_PREFIX "%lld", (long long)n);
	char *vdir = mlf_path_join(dir, leaf), *path = NULL;
	free(leaf);
	struct mlf_fsyaml_doc doc = { 0 };
	struct mlf_kvs aliases = MLF_KVS_INIT;
	int rc = -1;
	if (!mlf_is_dir(vdir)) {
		mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND, "model '%s' has no version %s", name,
			      version);
		goto out;
	}
	if (mlf_fst_load_meta(vdir, &doc, &path, err) ||
	    mlf_fsyaml_get_str(&doc, path, "source", &out->source, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "run_id", &out->run_id, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "status", &out->status, err) < 0 || read_aliases(dir, &aliases, err))
		goto out;
	out->name = mlf_xstrdup(name);
	out->version = mlf_xasprintf("%lld", (long long)n);
	for (size_t i = 0; i < aliases.n; i++)
		if (!strcmp(aliases.items[i].value, out->version))
			mlf_kvs_add(&out->aliases, aliases.items[i].key, "");
	rc = 0;
out:
	mlf_kvs_release(&aliases);
	mlf_fsyaml_free(&doc);
	free(path);
	free(vdir);
	return rc;
}

int mlf_fst_create_model_version(void *impl, const char *name, const char *source, const char *run_id,
				 const char *model_id, struct mlf_model_version *out, struct mlf_error *err)
{
	struct file_store *fs = impl;
	memset(out, 0, sizeof(*out));
	if (check_name(name, err))
		return -1;
	char *dir = model_dir(fs, name), *vdir = NULL;
	int rc = -1;
	long n = 0;
	if (!mlf_is_dir(dir)) {
		not_found(err, "registered model", name);
		goto out;
	}
	/* mkdir claims the number: two writers never share one */
	for (int tries = 0; tries < CREATE_TRIES && !vdir; tries++) {
		n = last_version(dir) + 1;
		char *leaf = mlf_xasprintf(VERSION_PREFIX "%ld", n);
		vdir = mlf_path_join(dir, leaf);
		free(leaf);
		if (mkdir(vdir, 0777) != 0) {
			if (errno != EEXIST || tries + 1 == CREATE_TRIES)
				mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot create '%s'", vdir);
			free(vdir);
			vdir = NULL;
		}
	}
	if (!vdir)
		goto out;
	int64_t now = mlf_now_ms();
	/* a logged model's version: its files are the model's, and the model lists it */
	char *location = NULL;
	if (model_id && mlf_fst_model_version_of_model(fs, model_id, name, n, &location, err)) {
		rmdir(vdir);
		goto out;
	}
	struct mlf_fsyaml_item items[] = {
		{ "creation_timestamp", MLF_FSYAML_INT, NULL, now, NULL },
		{ "current_stage", MLF_FSYAML_STR, "None", 0, NULL },
		{ "deployment_job_state", MLF_FSYAML_NULL, NULL, 0, NULL },
		{ "description", MLF_FSYAML_NULL, NULL, 0, NULL },
		{ "last_updated_timestamp", MLF_FSYAML_INT, NULL, now, NULL },
		{ "model_id", model_id ? MLF_FSYAML_STR : MLF_FSYAML_NULL, model_id, 0, NULL },
		{ "name", MLF_FSYAML_STR, name, 0, NULL },
		{ "run_id", run_id ? MLF_FSYAML_STR : MLF_FSYAML_NULL, run_id, 0, NULL },
		{ "run_link", MLF_FSYAML_NULL, NULL, 0, NULL },
		{ "source", MLF_FSYAML_STR, source, 0, NULL },
		{ "status", MLF_FSYAML_STR, "READY", 0, NULL },
		{ "status_message", MLF_FSYAML_NULL, NULL, 0, NULL },
		{ "storage_location", MLF_FSYAML_STR, location ? location : source, 0, NULL },
		{ "user_id", MLF_FSYAML_NULL, NULL, 0, NULL },
		{ "version", MLF_FSYAML_INT, NULL, n, NULL },
		{ "workspace", MLF_FSYAML_STR, "default", 0, NULL },
	};
	char version[32];
	snprintf(version, sizeof(version), "%ld", n);
	rc = mlf_fst_write_meta(vdir, items, sizeof(items) / sizeof(items[0]), err);
	free(location);
	if (rc) {
		rmdir(vdir);
		goto out;
	}
	rc = touch_model(dir, name, err) || read_version(dir, name, version, out, err) ? -1 : 0;
out:
	free(vdir);
	free(dir);
	return rc;
}

int mlf_fst_get_model_version(void *impl, const char *name, const char *version,
			      struct mlf_model_version *out, struct mlf_error *err)
{
	struct file_store *fs = impl;
	memset(out, 0, sizeof(*out));
	if (check_name(name, err))
		return -1;
	char *dir = model_dir(fs, name);
	int rc = mlf_is_dir(dir) ? read_version(dir, name, version, out, err)
				 : not_found(err, "registered model", name);
	free(dir);
	return rc;
}

int mlf_fst_list_model_versions(void *impl, const char *name, struct mlf_kvs *out,
				struct mlf_error *err)
{
	struct file_store *fs = impl;
	if (check_name(name, err))
		return -1;
	char *dir = model_dir(fs, name);
	long last = mlf_is_dir(dir) ? last_version(dir) : 0;
	int rc = 0;
	for (long n = 1; n <= last && !rc; n++) {
		char version[24];
		struct mlf_model_version mv;
		snprintf(version, sizeof(version), "%ld", n);
		if (read_version(dir, name, version, &mv, err)) {
			if (err->kind == MLF_ERR_NOT_FOUND) {  /* a number never used, or removed */
				mlf_error_clear(err);
				continue;
			}
			rc = -1;
			break;
		}
		mlf_kvs_add(out, mv.version, mv.run_id ? mv.run_id : "");
		mlf_model_version_release(&mv);
	}
	free(dir);
	return rc;
}

int mlf_fst_set_alias(void *impl, const char *name, const char *alias, const char *version,
		      struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct mlf_model_version mv;
	if (mlf_fst_get_model_version(impl, name, version, &mv, err))
		return -1;  /* the version must exist, as MLflow checks */
	char *dir = model_dir(fs, name), *adir = mlf_path_join(dir, "aliases");
	int rc = mlf_mkdir_p(adir, 0777, err) || mlf_fst_write_value(adir, alias, mv.version, err) ||
		 touch_model(dir, name, err);
	mlf_model_version_release(&mv);
	free(adir);
	free(dir);
	return rc ? -1 : 0;
}

int mlf_fst_delete_alias(void *impl, const char *name, const char *alias, struct mlf_error *err)
{
	struct file_store *fs = impl;
	if (check_name(name, err) || mlf_fst_check_key_path("alias", alias, err))
		return -1;
	char *dir = model_dir(fs, name), *path = mlf_fst_join3(dir, "aliases", alias);
	int rc = 0;
	if (!mlf_is_dir(dir))
		rc = not_found(err, "registered model", name);
	else if (unlink(path) == 0)
		rc = touch_model(dir, name, err);
	else if (errno != ENOENT)
		rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot remove '%s'", path);
	free(path);
	free(dir);
	return rc;
}

int mlf_fst_get_alias(void *impl, const char *name, const char *alias, struct mlf_model_version *out,
		      struct mlf_error *err)
{
	struct file_store *fs = impl;
	memset(out, 0, sizeof(*out));
	if (check_name(name, err) || mlf_fst_check_key_path("alias", alias, err))
		return -1;
	char *dir = model_dir(fs, name), *path = mlf_fst_join3(dir, "aliases", alias);
	char *version = NULL;
	size_t len = 0;
	int rc;
	if (!mlf_is_dir(dir))
		rc = not_found(err, "registered model", name);
	else if (!mlf_is_file(path))
		rc = mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND, "model '%s' has no alias '%s'",
				   name, alias);
	else
		rc = mlf_read_file(path, &version, &len, err) || read_version(dir, name, version, out, err)
			     ? -1 : 0;
	free(version);
	free(path);
	free(dir);
	return rc;
}

int mlf_fst_set_model_version_tag(void *impl, const char *name, const char *version, const char *key,
				  const char *value, struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct mlf_model_version mv;
	if (mlf_fst_check_key_path("model version tag", key, err) ||
	    mlf_fst_get_model_version(impl, name, version, &mv, err))
		return -1;
	char *dir = model_dir(fs, name);
	char *leaf = mlf_xasprintf("version-%s", mv.version);
	char *tdir = mlf_fst_join3(dir, leaf, "tags");
	int rc = mlf_mkdir_p(tdir, 0777, err) || mlf_fst_write_value(tdir, key, value, err);
	mlf_model_version_release(&mv);
	free(tdir);
	free(leaf);
	free(dir);
	return rc ? -1 : 0;
}
