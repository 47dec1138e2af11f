/*
 * The `file:` / plain-path tracking backend: opening the store, the ops
 * table, and what every part of it shares (names, key paths, meta.yaml).
 * The layout and the other files are listed in file_store_internal.h.
 *
 * meta.yaml files are written whole to a temporary file and renamed, so a
 * reader never sees a torn one; metric lines are appended with one write(2).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "file_store_internal.h"

/* ---- names and paths ---------------------------------------------------- */

static int word_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

int mlf_fst_id_ok(const char *id, size_t max)
{
	size_t n = strlen(id);
	if (n == 0 || n > max || id[0] == '_' || id[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!word_char((unsigned char)id[i]))
			return 0;
	return 1;
}

int mlf_fst_check_experiment_id(const char *id, struct mlf_error *err)
{
	if (!mlf_fst_id_ok(id, 64))
		return mlf_fail(err, MLF_EX_DATAERR,
				"invalid experiment id '%s': MLflow wants a letter or digit, then up to "
				"63 letters, digits, '_' or '-'", id);
	return 0;
}

int mlf_fst_check_run_id(const char *id, struct mlf_error *err)
{
	if (!mlf_fst_id_ok(id, 256))
		return mlf_fail(err, MLF_EX_DATAERR, "invalid run id '%s'", id);
	return 0;
}

int mlf_fst_check_key_path(const char *what, const char *key, struct mlf_error *err)
{
	const char *p = key;
	if (!*key || *key == '/')
		goto bad;
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			goto bad;
		p += n;
		if (*p == '/' && !*++p)
			goto bad;
	}
	return 0;
bad:
	return mlf_fail(err, MLF_EX_DATAERR, "%s key '%s' is not a clean relative path", what, key);
}

int mlf_fst_reserved_root_entry(const char *name)
{
	return name[0] == '.' || !strcmp(name, "models");
}

char *mlf_fst_join3(const char *a, const char *b, const char *c)
{
	return mlf_xasprintf("%s/%s/%s", a, b, c);
}

/* ---- meta.yaml ------------------------------------------------------------ */

/*
 * Read a meta.yaml.  MLflow retries a momentarily empty file; we write
 * atomically, but another writer (MLflow rewrites run meta in place) may not.
 */
int mlf_fst_load_meta(const char *dir, struct mlf_fsyaml_doc *doc, char **path_out,
		      struct mlf_error *err)
{
	char *path = mlf_path_join(dir, MLF_FST_META);
	char *data = NULL;
	size_t len = 0;
	int rc = -1;

	for (int attempt = 0; attempt < 3; attempt++) {
		free(data);
		data = NULL;
		if (mlf_read_file(path, &data, &len, err) != 0) {
			if (errno == ENOENT)
				mlf_fail(err, MLF_EX_DATAERR,
					 "'%s' is missing: the folder is incomplete or damaged", path);
			goto out;
		}
		if (len)
			break;
		struct timespec ts = { 0, 100000000L * (attempt + 1) };
		nanosleep(&ts, NULL);
	}
	rc = mlf_fsyaml_load(path, data, len, doc, err);
out:
	free(data);
	if (rc == 0 && path_out)
		*path_out = path;
	else
		free(path);
	return rc;
}

int mlf_fst_write_meta(const char *dir, struct mlf_fsyaml_item *items, size_t n,
		       struct mlf_error *err)
{
	struct mlf_buf b = MLF_BUF_INIT;
	char *path = mlf_path_join(dir, MLF_FST_META);
	int rc = mlf_fsyaml_emit(items, n, &b, err);
	if (!rc)
		rc = mlf_write_file_atomic(path, b.data, b.len, err);
	free(path);
	mlf_buf_release(&b);
	return rc;
}

/* ---- the store itself ----------------------------------------------------- */

static int fs_ping(void *impl, struct mlf_error *err)
{
	struct file_store *fs = impl;
	DIR *d = opendir(fs->root);
	if (!d)
		return mlf_fail_kind(err, MLF_EX_UNAVAILABLE, MLF_ERR_UNREACHABLE,
				     "cannot read the tracking folder '%s': %s", fs->root, strerror(errno));
	closedir(d);
	return 0;
}

static void fs_close(void *impl)
{
	struct file_store *fs = impl;
	if (!fs)
		return;
	free(fs->root);
	free(fs->trash);
	free(fs->artifact_root);
	free(fs->workspace);
	free(fs->cached_run_id);
	free(fs->cached_run_dir);
	free(fs->cached_exp_id);
	free(fs);
}

/* A missing root is created with experiment 0 (Default), as MLflow does. */
static int create_root(struct file_store *fs, struct mlf_error *err)
{
	if (mlf_mkdir_p(fs->root, 0777, err) != 0)
		return -1;
	return mlf_fst_make_experiment(fs, "0", "Default", NULL, err);
}

int mlf_file_store_open(const struct mlf_tracking_options *opts, void **impl,
			struct mlf_error *err)
{
	struct file_store *fs = mlf_xcalloc(1, sizeof(*fs));
	struct stat st;

	*impl = NULL;
	if (mlf_uri_local_path(opts->uri, opts->workspace, &fs->root, err) != 0)
		goto fail;
	fs->workspace = mlf_xstrdup(opts->workspace);
	fs->trash = mlf_path_join(fs->root, MLF_FST_TRASH);
	fs->artifact_root = mlf_uri_from_path(fs->root);
	if (stat(fs->root, &st) != 0) {
		if (errno != ENOENT) {
			mlf_fail_errno(err, MLF_EX_IOERR, "cannot inspect tracking folder '%s'", fs->root);
			goto fail;
		}
		if (create_root(fs, err) != 0)
			goto fail;
	} else if (!S_ISDIR(st.st_mode)) {
		mlf_fail(err, MLF_EX_CONFIG, "tracking path '%s' exists and is not a folder", fs->root);
		goto fail;
	}
	/* MLflow always adds .trash; a read-only store stays readable without it. */
	if (!mlf_is_dir(fs->trash))
		mkdir(fs->trash, 0777);
	*impl = fs;
	return 0;
fail:
	mlf_error_prefix(err, "file tracking store");
	fs_close(fs);
	return -1;
}

const struct mlf_tracking_ops mlf_file_store_ops = {
	.name = "file",
	.close = fs_close,
	.ping = fs_ping,
	.get_experiment = mlf_fst_get_experiment,
	.get_experiment_by_name = mlf_fst_get_experiment_by_name,
	.create_experiment = mlf_fst_create_experiment,
	.create_run = mlf_fst_create_run,
	.log_batch = mlf_fst_log_batch,
	.update_run = mlf_fst_update_run,
	.get_run = mlf_fst_get_run,
	.get_metric_history = mlf_fst_get_metric_history,
	.search_runs = mlf_fst_search_runs,
	.delete_run = mlf_fst_delete_run,
	.log_dataset_input = mlf_fst_log_dataset_input,
	.ensure_registered_model = mlf_fst_ensure_registered_model,
	.create_model_version = mlf_fst_create_model_version,
	.get_model_version = mlf_fst_get_model_version,
	.set_alias = mlf_fst_set_alias,
	.delete_alias = mlf_fst_delete_alias,
	.set_model_version_tag = mlf_fst_set_model_version_tag,
	.create_logged_model = mlf_fst_create_logged_model,
	.get_logged_model = mlf_fst_get_logged_model,
	.finalize_logged_model = mlf_fst_finalize_logged_model,
	.set_logged_model_tag = mlf_fst_set_logged_model_tag,
	.log_model_output = mlf_fst_log_model_output,
	.list_model_versions = mlf_fst_list_model_versions,
	.get_alias = mlf_fst_get_alias,
};
