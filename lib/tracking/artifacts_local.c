/*
 * Artifacts in a local folder: the run's artifact URI is a file: URI or a
 * plain path (file store, SQLite store, or a server that hands out local
 * artifact roots).  Artifacts are plain files below that folder, no
 * metadata, exactly as MLflow's LocalArtifactRepository keeps them.
 *
 * Copies go through a temporary file and a rename (mlf_copy_file_atomic),
 * so a crash never leaves a half-written artifact under its real name.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mlf/buf.h"
#include "mlf/fs.h"
#include "mlf/uri.h"
#include "tracking/backend.h"

#define MAX_DEPTH 64

/* An artifact path stays inside the artifact root: relative, no "." or ".." parts. */
static int check_rel_path(const char *what, const char *path, struct mlf_error *err)
{
	if (!path)
		return 0;
	if (path[0] == '/')
		goto bad;
	for (const char *p = path; *p; ) {
		size_t n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			goto bad;
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
bad:
	return mlf_fail(err, MLF_EX_DATAERR,
			"%s '%s' must be a relative path inside the run's artifacts (no '..', "
			"no leading '/')", what, path);
}

/* "a//b/" -> "a/b"; NULL or "" -> "". */
static char *clean_rel(const char *path)
{
	struct mlf_buf b = MLF_BUF_INIT;
	for (const char *p = path ? path : ""; *p; ) {
		size_t n = strcspn(p, "/");
		if (n) {
			if (b.len)
				mlf_buf_addc(&b, '/');
			mlf_buf_add(&b, p, n);
		}
		p += n;
		while (*p == '/')
			p++;
	}
	return mlf_buf_detach(&b);
}

static int root_path(const char *artifact_root, const char *workspace, char **path,
		     struct mlf_error *err)
{
	if (mlf_uri_kind(artifact_root) != MLF_URI_FILE)
		return mlf_fail(err, MLF_EX_SOFTWARE, "artifact root '%s' is not a local path",
				artifact_root);
	return mlf_uri_local_path(artifact_root, workspace, path, err);
}

static const char *base_name(const char *path)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	const char *end = path + n;
	const char *s = end;
	while (s > path && s[-1] != '/')
		s--;
	return s;
}

/* Copy a folder's contents into `dst` (created), recursively. */
static int copy_tree(const char *src, const char *dst, int depth, struct mlf_error *err)
{
	if (depth > MAX_DEPTH)
		return mlf_fail(err, MLF_EX_DATAERR, "'%s' is nested too deep (a symlink loop?)", src);
	if (mlf_mkdir_p(dst, 0777, err) != 0)
		return -1;
	DIR *d = opendir(src);
	if (!d)
		return mlf_fail_errno(err, MLF_EX_NOINPUT, "cannot open folder '%s'", src);
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *s = mlf_path_join(src, de->d_name);
		char *t = mlf_path_join(dst, de->d_name);
		struct stat st;
		if (stat(s, &st) != 0)
			rc = mlf_fail_errno(err, MLF_EX_NOINPUT, "cannot read '%s'", s);
		else if (S_ISDIR(st.st_mode))
			rc = copy_tree(s, t, depth + 1, err);
		else if (S_ISREG(st.st_mode))
			rc = mlf_copy_file_atomic(s, t, NULL, err);
		/* sockets, fifos, devices: not artifacts, skipped */
		free(s);
		free(t);
	}
	closedir(d);
	return rc;
}

int mlf_local_artifacts_log(const char *artifact_root, const char *workspace,
			    const char *local_path, const char *artifact_dir,
			    struct mlf_error *err)
{
	char *root = NULL, *rel = NULL, *dir = NULL, *dst = NULL;
	struct stat st;
	int rc = -1;

	if (check_rel_path("artifact folder", artifact_dir, err) ||
	    root_path(artifact_root, workspace, &root, err))
		return -1;
	if (stat(local_path, &st) != 0) {
		mlf_fail_errno(err, MLF_EX_NOINPUT, "cannot read artifact '%s'", local_path);
		goto out;
	}
	rel = clean_rel(artifact_dir);
	dir = mlf_path_join(root, rel);
	/* As MLflow's log_artifact: a file or a folder lands under its own name ("." too). */
	char *abs = mlf_path_absolute(NULL, local_path);
	dst = mlf_path_join(dir, base_name(abs));
	free(abs);
	if (S_ISDIR(st.st_mode)) {
		rc = copy_tree(local_path, dst, 0, err);
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

static int list_tree(const char *dir, const char *rel, struct mlf_artifact_list *out, int depth,
		     struct mlf_error *err)
{
	if (depth > MAX_DEPTH)
		return mlf_fail(err, MLF_EX_DATAERR, "'%s' is nested too deep (a symlink loop?)", dir);
	DIR *d = opendir(dir);
	if (!d)
		return mlf_fail_errno(err, MLF_EX_IOERR, "cannot open artifact folder '%s'", dir);
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *path = mlf_path_join(dir, de->d_name);
		char *name = *rel ? mlf_xasprintf("%s/%s", rel, de->d_name) : mlf_xstrdup(de->d_name);
		struct stat st;
		if (stat(path, &st) != 0) {
			rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot read '%s'", path);
		} else if (S_ISDIR(st.st_mode)) {
			mlf_artifact_list_add(out, name, 1, -1);
			rc = list_tree(path, name, out, depth + 1, err);
		} else {
			mlf_artifact_list_add(out, name, 0, (int64_t)st.st_size);
		}
		free(path);
		free(name);
	}
	closedir(d);
	return rc;
}

int mlf_local_artifacts_list(const char *artifact_root, const char *workspace,
			     const char *path, struct mlf_artifact_list *out,
			     struct mlf_error *err)
{
	char *root = NULL, *rel = NULL, *dir = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (check_rel_path("artifact path", path, err) ||
	    root_path(artifact_root, workspace, &root, err))
		return -1;
	rel = clean_rel(path);
	dir = mlf_path_join(root, rel);
	/* Like MLflow: nothing logged yet, or a file named, lists as empty. */
	if (!mlf_is_dir(dir))
		rc = 0;
	else
		rc = list_tree(dir, rel, out, 0, err);
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

	if (check_rel_path("artifact path", path, err) ||
	    root_path(artifact_root, workspace, &root, err))
		return -1;
	rel = clean_rel(path);
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
	dst = mlf_is_dir(local_dst) ? mlf_path_join(local_dst, base_name(rel)) : mlf_xstrdup(local_dst);
	rc = mlf_copy_file_atomic(src, dst, NULL, err);
out:
	free(root);
	free(rel);
	free(src);
	free(dst);
	return rc;
}
