/*
 * Artifacts in a local folder: the run's artifact URI is a file: URI or a
 * plain path (file store, SQLite store, or a server that hands out local
 * artifact roots).  Artifacts are plain files below that folder, no
 * metadata, exactly as MLflow's LocalArtifactRepository keeps them.
 *
 * Copies go through a temporary file and a rename (mlf_copy_file_atomic),
 * so a crash never leaves a half-written artifact under its real name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "tracking_internal.h"

static int root_path(const char *artifact_root, const char *workspace, char **path,
		     struct mlf_error *err)
{
	if (mlf_uri_kind(artifact_root) != MLF_URI_FILE)
		return mlf_fail(err, MLF_EX_SOFTWARE, "artifact root '%s' is not a local path",
				artifact_root);
	return mlf_uri_local_path(artifact_root, workspace, path, err);
}

/* mlf_walk_tree callbacks copying a folder into `dst`, the copy's top folder. */
static int copy_dir(const char *src, const char *rel, void *dst, struct mlf_error *err)
{
	(void)src;
	char *t = mlf_path_join(dst, rel);
	int rc = mlf_mkdir_p(t, 0777, err);
	free(t);
	return rc;
}

static int copy_file(const char *src, const char *rel, void *dst, struct mlf_error *err)
{
	char *t = mlf_path_join(dst, rel);
	int rc = mlf_copy_file_atomic(src, t, NULL, err);
	free(t);
	return rc;
}

int mlf_local_artifacts_log(const char *artifact_root, const char *workspace,
			    const char *local_path, const char *artifact_dir,
			    struct mlf_error *err)
{
	char *root = NULL, *rel = NULL, *dir = NULL, *dst = NULL;
	struct stat st;
	int rc = -1;

	if (mlf_artifact_path_check("artifact folder", artifact_dir, err) ||
	    root_path(artifact_root, workspace, &root, err))
		return -1;
	if (stat(local_path, &st) != 0) {
		mlf_fail_errno(err, MLF_EX_NOINPUT, "cannot read artifact '%s'", local_path);
		goto out;
	}
	rel = mlf_artifact_path_clean(artifact_dir);
	dir = mlf_path_join(root, rel);
	/* As MLflow's log_artifact: a file or a folder lands under its own name ("." too). */
	char *abs = mlf_path_absolute(NULL, local_path);
	dst = mlf_path_join(dir, mlf_artifact_path_base(abs));
	free(abs);
	if (S_ISDIR(st.st_mode)) {
		/* A folder is copied whole, empty folders in it too. */
		struct mlf_walk w = { .flags = MLF_WALK_FOLLOW_DIRS, .on_dir = copy_dir,
				      .on_file = copy_file, .ctx = dst };
		rc = mlf_walk_tree(local_path, &w, err);
	} else if (S_ISREG(st.st_mode)) {
		rc = mlf_mkdir_p(dir, 0777, err);
		if (!rc && mlf_is_dir(dst))
			rc = mlf_fail(err, MLF_EX_CANTCREAT, "artifact '%s' is already a folder", dst);
		if (!rc)
			rc = mlf_copy_file_atomic(local_path, dst, NULL, err);
	} else {
		mlf_fail(err, MLF_EX_NOINPUT, "'%s' is neither a file nor a folder", local_path);
	}
out:
	free(root);
	free(rel);
	free(dir);
	free(dst);
	return rc;
}

/* mlf_walk_tree callbacks listing a folder of the store below the artifact path `top`. */
struct list_ctx {
	const char *top;
	struct mlf_artifact_list *out;
};

static int list_dir(const char *path, const char *rel, void *vctx, struct mlf_error *err)
{
	struct list_ctx *ctx = vctx;
	(void)path;
	(void)err;
	if (*rel) {
		char *name = mlf_artifact_path_join(ctx->top, rel);
		mlf_artifact_list_add(ctx->out, name, 1, -1);
		free(name);
	}
	return 0;
}

static int list_file(const char *path, const char *rel, void *vctx, struct mlf_error *err)
{
	struct list_ctx *ctx = vctx;
	struct stat st;
	if (stat(path, &st) != 0)
		return mlf_fail_errno(err, MLF_EX_IOERR, "cannot read '%s'", path);
	char *name = mlf_artifact_path_join(ctx->top, rel);
	mlf_artifact_list_add(ctx->out, name, 0, (int64_t)st.st_size);
	free(name);
	return 0;
}

int mlf_local_artifacts_list(const char *artifact_root, const char *workspace,
			     const char *path, struct mlf_artifact_list *out,
			     struct mlf_error *err)
{
	char *root = NULL, *rel = NULL, *dir = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (mlf_artifact_path_check("artifact path", path, err) ||
	    root_path(artifact_root, workspace, &root, err))
		return -1;
	rel = mlf_artifact_path_clean(path);
	dir = mlf_path_join(root, rel);
	/* Like MLflow: nothing logged yet, or a file named, lists as empty. */
	struct list_ctx ctx = { rel, out };
	struct mlf_walk w = { .on_dir = list_dir, .on_file = list_file, .ctx = &ctx };
	if (!mlf_is_dir(dir))
		rc = 0;
	else
		rc = mlf_walk_tree(dir, &w, err);
	if (rc)
		mlf_artifact_list_release(out);
	else
		mlf_artifact_list_sort(out);
	free(root);
	free(rel);
	free(dir);
	return rc;
}

int mlf_local_artifacts_download(const char *artifact_root, const char *workspace,
				 const char *path, const char *local_dst,
				 struct mlf_error *err)
{
	char *root = NULL, *rel = NULL, *src = NULL, *dst = NULL;
	int rc = -1;

	if (mlf_artifact_path_check("artifact path", path, err) ||
	    root_path(artifact_root, workspace, &root, err))
		return -1;
	rel = mlf_artifact_path_clean(path);
	src = mlf_path_join(root, rel);
	if (!*rel || mlf_is_dir(src)) {
		mlf_fail(err, MLF_EX_DATAERR, "artifact '%s' is a folder; download one file at a time",
			 path);
		goto out;
	}
	if (!mlf_is_file(src)) {
		mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND, "artifact '%s' does not exist in %s",
			      path, artifact_root);
		goto out;
	}
	/* Into an existing folder: under the artifact's own name. */
	dst = mlf_is_dir(local_dst) ? mlf_path_join(local_dst, mlf_artifact_path_base(rel))
				    : mlf_xstrdup(local_dst);
	rc = mlf_copy_file_atomic(src, dst, NULL, err);
out:
	free(root);
	free(rel);
	free(src);
	free(dst);
	return rc;
}
