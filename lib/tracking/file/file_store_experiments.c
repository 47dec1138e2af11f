/*
 * Experiments of the file store: <root>/<exp_id>/meta.yaml and tags/, or
 * under .trash/ once deleted (see file_store_internal.h).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "file_store_internal.h"

/* Folder of experiment `id`: active under the root, deleted under .trash. */
static char *experiment_dir(struct file_store *fs, const char *id, int *deleted)
{
	char *dir = mlf_path_join(fs->root, id);
	if (mlf_is_dir(dir)) {
		if (deleted)
			*deleted = 0;
		return dir;
	}
	free(dir);
	dir = mlf_path_join(fs->trash, id);
	if (mlf_is_dir(dir)) {
		if (deleted)
			*deleted = 1;
		return dir;
	}
	free(dir);
	return NULL;
}

static int read_experiment(const char *dir, const char *id, struct mlf_experiment *out,
			   struct mlf_error *err)
{
	struct mlf_fsyaml_doc doc;
	char *path = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (mlf_fst_load_meta(dir, &doc, &path, err) != 0)
		return -1;
	if (mlf_fsyaml_get_str(&doc, path, "experiment_id", &out->experiment_id, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "name", &out->name, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "artifact_location", &out->artifact_location, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "lifecycle_stage", &out->lifecycle_stage, err) < 0 ||
	    mlf_fsyaml_get_int(&doc, path, "creation_time", &out->creation_time, err) < 0 ||
	    mlf_fsyaml_get_int(&doc, path, "last_update_time", &out->last_update_time, err) < 0)
		goto out;
	if (!out->experiment_id || strcmp(out->experiment_id, id)) {
		mlf_fail(err, MLF_EX_DATAERR, "'%s' says experiment '%s', but its folder is '%s'",
			 path, out->experiment_id ? out->experiment_id : "(none)", id);
		goto out;
	}
	if (!out->name)
		out->name = mlf_xstrdup("");
	if (!out->artifact_location)
		out->artifact_location = mlf_xstrdup("");
	if (!out->lifecycle_stage)
		out->lifecycle_stage = mlf_xstrdup("active");
	char *tags = mlf_path_join(dir, "tags");
	rc = mlf_fst_read_kv_tree(tags, &out->tags, err);
	free(tags);
out:
	mlf_fsyaml_free(&doc);
	free(path);
	if (rc)
		mlf_experiment_release(out);
	return rc;
}

int mlf_fst_get_experiment(void *impl, const char *id, struct mlf_experiment *out,
			   struct mlf_error *err)
{
	struct file_store *fs = impl;
	int deleted = 0;
	if (mlf_fst_check_experiment_id(id, err))
		return -1;
	char *dir = experiment_dir(fs, id, &deleted);
	if (!dir)
		return mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
				     "experiment '%s' does not exist in %s", id, fs->root);
	int rc = read_experiment(dir, id, out, err);
	free(dir);
	return rc;
}

/*
 * Look through every experiment folder in `parent` for `name`.  Folders
 * that are not readable experiments are skipped, as MLflow skips them.
 * Returns 1 and fills *out when found.
 */
static int find_experiment_in(const char *parent, const char *name, struct mlf_experiment *out,
			      struct mlf_error *err)
{
	DIR *d = opendir(parent);
	if (!d)
		return errno == ENOENT ? 0 : mlf_fail_errno(err, MLF_EX_IOERR, "cannot open folder '%s'", parent);
	struct dirent *de;
	int found = 0;
	while (!found && (de = readdir(d))) {
		if (mlf_fst_reserved_root_entry(de->d_name) || !mlf_fst_id_ok(de->d_name, 64))
			continue;
		char *dir = mlf_path_join(parent, de->d_name);
		struct mlf_experiment e;
		if (mlf_is_dir(dir) && read_experiment(dir, de->d_name, &e, NULL) == 0) {
			if (!strcmp(e.name, name)) {
				*out = e;
				found = 1;
			} else {
				mlf_experiment_release(&e);
			}
		}
		free(dir);
	}
	closedir(d);
	return found;
}

int mlf_fst_get_experiment_by_name(void *impl, const char *name, struct mlf_experiment *out,
				   struct mlf_error *err)
{
	struct file_store *fs = impl;
	int found = find_experiment_in(fs->root, name, out, err);
	if (found == 0)
		found = find_experiment_in(fs->trash, name, out, err);
	if (found < 0)
		return -1;
	if (!found)
		return mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
				     "no experiment named '%s' in %s", name, fs->root);
	return 0;
}

/* 18 decimal digits, first one non-zero, as MLflow's _generate_unique_integer_id. */
static char *random_experiment_id(void)
{
	uint64_t r;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		abort();
	return mlf_xasprintf("%" PRIu64, UINT64_C(100000000000000000) +
			     r % UINT64_C(900000000000000000));
}

/* MLflow makes a relative local artifact location absolute; other URIs stay as given. */
static char *resolve_artifact_location(struct file_store *fs, const char *loc)
{
	if (mlf_uri_kind(loc) == MLF_URI_FILE && strncmp(loc, "file:", 5) != 0 && loc[0] != '/')
		return mlf_path_absolute(fs->workspace, loc);
	if (!strncmp(loc, "file:", 5) && loc[5] != '/') {
		char *path = NULL;
		if (mlf_uri_local_path(loc, fs->workspace, &path, NULL) == 0) {
			char *uri = mlf_uri_from_path(path);
			free(path);
			return uri;
		}
	}
	return mlf_xstrdup(loc);
}

static int write_experiment_meta(const char *dir, const char *id, const char *name,
				 const char *artifact_location, int64_t now,
				 struct mlf_error *err)
{
	struct mlf_fsyaml_item items[] = {
		{ "artifact_location", MLF_FSYAML_STR, artifact_location, 0, NULL },
		{ "creation_time", MLF_FSYAML_INT, NULL, now, NULL },
		{ "effective_trace_archival_retention", MLF_FSYAML_NULL, NULL, 0, NULL },
		{ "experiment_id", MLF_FSYAML_STR, id, 0, NULL },
		{ "last_update_time", MLF_FSYAML_INT, NULL, now, NULL },
		{ "lifecycle_stage", MLF_FSYAML_STR, "active", 0, NULL },
		{ "name", MLF_FSYAML_STR, name, 0, NULL },
		{ "trace_location", MLF_FSYAML_NULL, NULL, 0, NULL },
		{ "workspace", MLF_FSYAML_STR, "default", 0, NULL },
	};
	return mlf_fst_write_meta(dir, items, sizeof(items) / sizeof(items[0]), err);
}

int mlf_fst_make_experiment(struct file_store *fs, const char *id, const char *name,
			    const char *artifact_location, struct mlf_error *err)
{
	char *dir = mlf_path_join(fs->root, id);
	char *loc = artifact_location ? resolve_artifact_location(fs, artifact_location)
				      : mlf_uri_append(fs->artifact_root, id);
	int rc = 0;
	if (mkdir(dir, 0777) != 0) {
		if (errno == EEXIST)
			rc = mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_EXISTS,
					   "experiment id '%s' is already taken in %s", id, fs->root);
		else
			rc = mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot create folder '%s'", dir);
	} else if (write_experiment_meta(dir, id, name, loc, mlf_now_ms(), err) != 0) {
		rmdir(dir);
		rc = -1;
	}
	free(dir);
	free(loc);
	return rc;
}

int mlf_fst_create_experiment(void *impl, const char *name, const char *id,
			      const char *artifact_location, char **id_out,
			      struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct mlf_experiment e;
	char *chosen = NULL;

	if (!*name)
		return mlf_fail(err, MLF_EX_DATAERR, "experiment name is empty");
	if (artifact_location && !strncmp(artifact_location, "runs:", 5))
		return mlf_fail(err, MLF_EX_DATAERR, "artifact location cannot be a runs: URI");
	if (id && mlf_fst_check_experiment_id(id, err))
		return -1;
	struct mlf_error lookup = MLF_ERROR_INIT;
	if (mlf_fst_get_experiment_by_name(fs, name, &e, &lookup) == 0) {
		int deleted = !strcmp(e.lifecycle_stage, "deleted");
		mlf_experiment_release(&e);
		return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_EXISTS,
				     "experiment '%s' already exists%s", name,
				     deleted ? " in deleted state (MLflow keeps the name reserved)" : "");
	}
	if (lookup.kind != MLF_ERR_NOT_FOUND) {
		if (err)
			*err = lookup;
		return -1;
	}
	if (id) {
		char *taken = experiment_dir(fs, id, NULL);
		if (taken) {
			free(taken);
			return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_EXISTS,
					     "experiment id '%s' is already taken in %s", id, fs->root);
		}
		chosen = mlf_xstrdup(id);
	} else {
		for (;;) {
			chosen = random_experiment_id();
			char *taken = experiment_dir(fs, chosen, NULL);
			if (!taken)
				break;
			free(taken);
			free(chosen);
		}
	}
	if (mlf_fst_make_experiment(fs, chosen, name, artifact_location, err) != 0) {
		free(chosen);
		return -1;
	}
	*id_out = chosen;
	return 0;
}
