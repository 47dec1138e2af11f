#include "tracking_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mlf/base.h"

char *mlf_artifact_path_clean(const char *path)
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

char *mlf_artifact_path_join(const char *a, const char *b)
{
	if (!*a)
		return mlf_xstrdup(b);
	if (!*b)
		return mlf_xstrdup(a);
	return mlf_xasprintf("%s/%s", a, b);
}

const char *mlf_artifact_path_base(const char *path)
{
	const char *s = path + strlen(path);
	while (s > path && s[-1] != '/')
		s--;
	return s;
}

int mlf_artifact_path_check(const char *what, const char *path, struct mlf_error *err)
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
			"%s '%s' must be a relative path inside the run's artifacts (no '.' or "
			"'..' parts, no leading '/')", what, path);
}

void mlf_artifact_path_encode(struct mlf_buf *b, const char *rel)
{
	for (const char *p = rel ? rel : ""; *p; ) {
		size_t n = strcspn(p, "/");
		if (n) {
			char *seg = mlf_xstrndup(p, n);
			char *enc = mlf_uri_encode(seg, NULL);
			mlf_buf_addc(b, '/');
			mlf_buf_adds(b, enc);
			free(enc);
			free(seg);
		}
		p += n;
		while (*p == '/')
			p++;
	}
}

struct put_each_ctx {
	mlf_artifact_put_fn put;
	void *ctx;
	const char *dst;  /* the folder's artifact path */
};

/* mlf_walk_tree callback: one file of a folder, below the folder's artifact path. */
static int put_each_file(const char *local, const char *rel, void *vctx, struct mlf_error *err)
{
	struct put_each_ctx *c = vctx;
	char *dst = mlf_artifact_path_join(c->dst, rel);
	int rc = c->put(c->ctx, local, dst, err);
	free(dst);
	return rc;
}

int mlf_artifact_put_each(const char *local_path, const char *artifact_dir, mlf_artifact_put_fn put,
			  void *ctx, struct mlf_error *err)
{
	struct stat st;
	char *dir = mlf_artifact_path_clean(artifact_dir);
	if (mlf_artifact_path_check("artifact folder", dir, err)) {
		free(dir);
		return -1;
	}
	if (stat(local_path, &st) != 0) {
		free(dir);
		return mlf_fail_errno(err, MLF_EX_NOINPUT, "cannot read artifact '%s'", local_path);
	}
	/* As MLflow's log_artifact: a file or a folder lands under its own name ("." too). */
	char *abs = mlf_path_absolute(NULL, local_path);
	char *norm = mlf_path_normalize(abs);
	char *dst = mlf_artifact_path_join(dir, mlf_artifact_path_base(norm));
	int rc = -1;
	if (S_ISDIR(st.st_mode)) {
		struct put_each_ctx c = { put, ctx, dst };
		struct mlf_walk w = { .flags = MLF_WALK_FOLLOW_DIRS, .on_file = put_each_file, .ctx = &c };
		rc = mlf_walk_tree(local_path, &w, err);
	} else if (S_ISREG(st.st_mode)) {
		rc = put(ctx, local_path, dst, err);
	} else {
		mlf_fail(err, MLF_EX_NOINPUT, "'%s' is neither a file nor a folder", local_path);
	}
	free(abs);
	free(norm);
	free(dst);
	free(dir);
	return rc;
}
