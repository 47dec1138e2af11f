/*
 * Artifacts in S3 (or an S3-compatible store), read and written directly:
 * the run's artifact URI is s3://bucket/prefix, as an MLflow server started
 * with --no-serve-artifacts --default-artifact-root s3://... hands out, and
 * an artifact at path P is the object <prefix>/P, exactly as MLflow's
 * S3ArtifactRepository keeps it.
 *
 * Same behaviour as artifacts_local.c and artifacts_proxy.c, so a program
 * cannot tell the stores apart: a file or a folder lands under its own name
 * below `artifact_dir`; listing is recursive with paths relative to the run's
 * artifact root, folders included (S3 has none: they are the keys' parents);
 * download takes one file.  An upload is whole or absent: S3 publishes an
 * object only when its last byte (or part) arrived.
 */
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "tracking_internal.h"

static char *object_key(const char *prefix, const char *rel)
{
	return mlf_artifact_path_join(prefix, rel);
}

struct s3_root {
	struct mlf_s3 *s3;
	char *bucket, *prefix;
};

/* mlf_artifact_put_fn: one file to its artifact path. */
static int put_one(void *vr, const char *local, const char *rel, struct mlf_error *err)
{
	struct s3_root *r = vr;
	char *key = object_key(r->prefix, rel);
	int rc = mlf_s3_put_file(r->s3, r->bucket, key, local, err);
	free(key);
	return rc;
}

int mlf_s3_artifacts_log(struct mlf_s3 *s3, const char *artifact_uri, const char *local_path,
			 const char *artifact_dir, struct mlf_error *err)
{
	struct s3_root r = { s3, NULL, NULL };
	if (mlf_s3_parse_uri(artifact_uri, &r.bucket, &r.prefix, err))
		return -1;
	int rc = mlf_artifact_put_each(local_path, artifact_dir, put_one, &r, err);
	free(r.bucket);
	free(r.prefix);
	return rc;
}

/* Add `rel`'s parent folders below `under` (each once: the list is deduplicated after sorting). */
static void add_parents(struct mlf_artifact_list *out, const char *under, const char *rel)
{
	size_t skip = *under ? strlen(under) + 1 : 0;
	for (const char *p = rel + skip; (p = strchr(p, '/')); p++) {
		char *dir = mlf_xstrndup(rel, (size_t)(p - rel));
		mlf_artifact_list_add(out, dir, 1, -1);
		free(dir);
	}
}

static void drop_duplicates(struct mlf_artifact_list *l)
{
	size_t w = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (w && !strcmp(l->items[w - 1].path, l->items[i].path)) {
			free(l->items[i].path);
			continue;
		}
		l->items[w++] = l->items[i];
	}
	l->n = w;
}

int mlf_s3_artifacts_list(struct mlf_s3 *s3, const char *artifact_uri, const char *path,
			  struct mlf_artifact_list *out, struct mlf_error *err)
{
	char *bucket, *prefix, *rel = mlf_artifact_path_clean(path);
	struct mlf_s3_listing l = { 0 };

	memset(out, 0, sizeof(*out));
	if (mlf_artifact_path_check("artifact path", rel, err) ||
	    mlf_s3_parse_uri(artifact_uri, &bucket, &prefix, err)) {
		free(rel);
		return -1;
	}
	char *top = object_key(prefix, rel);
	char *want = mlf_xasprintf("%s/", top);
	int rc = mlf_s3_list(s3, bucket, *top ? want : "", &l, err);
	size_t root_len = *prefix ? strlen(prefix) + 1 : 0;
	for (size_t i = 0; !rc && i < l.n; i++) {
		const char *key = l.items[i].key;
		size_t kl = strlen(key);
		/* keys outside the root cannot come back; a zero-byte "folder/" marker is no file */
		if (strncmp(key, want, *top ? strlen(want) : 0) || kl <= root_len || key[kl - 1] == '/')
			continue;
		const char *r = key + root_len;
		char *clean = mlf_artifact_path_clean(r);
		if (strcmp(clean, r) || mlf_artifact_path_check("artifact path", clean, NULL)) {
			free(clean);  /* "a//b", "../x": no artifact path names it */
			continue;
		}
		add_parents(out, rel, clean);
		mlf_artifact_list_add(out, clean, 0, l.items[i].size);
		free(clean);
	}
	if (rc) {
		mlf_artifact_list_release(out);
	} else {
		mlf_artifact_list_sort(out);
		drop_duplicates(out);
	}
	mlf_s3_listing_release(&l);
	free(want);
	free(top);
	free(rel);
	free(bucket);
	free(prefix);
	return rc;
}

int mlf_s3_artifacts_download(struct mlf_s3 *s3, const char *artifact_uri, const char *path,
			      const char *local_dst, struct mlf_error *err)
{
	char *bucket, *prefix, *rel = mlf_artifact_path_clean(path);
	int rc = -1;

	if (mlf_artifact_path_check("artifact path", rel, err) ||
	    mlf_s3_parse_uri(artifact_uri, &bucket, &prefix, err)) {
		free(rel);
		return -1;
	}
	if (!*rel) {
		mlf_fail(err, MLF_EX_DATAERR, "artifact '%s' is a folder; download one file at a time", path);
		goto out;
	}
	char *key = object_key(prefix, rel);
	/* Into an existing folder: under the artifact's own name (as artifacts_local.c). */
	char *dst = mlf_is_dir(local_dst) ? mlf_path_join(local_dst, mlf_artifact_path_base(rel))
					  : mlf_xstrdup(local_dst);
	rc = mlf_s3_get_file(s3, bucket, key, dst, err);
	if (rc && err->kind == MLF_ERR_NOT_FOUND && err->status == MLF_EX_NOINPUT) {
		struct mlf_artifact_list below = { 0 };
		struct mlf_error ignored = MLF_ERROR_INIT;
		if (!mlf_s3_artifacts_list(s3, artifact_uri, rel, &below, &ignored) && below.n)
			mlf_fail(err, MLF_EX_DATAERR, "artifact '%s' is a folder; download one file at a "
				 "time", path);
		else
			mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
				      "artifact '%s' does not exist in %s", path, artifact_uri);
		mlf_artifact_list_release(&below);
	} else if (rc) {
		mlf_error_prefix(err, "downloading artifact '%s'", path);
	}
	free(dst);
	free(key);
out:
	free(rel);
	free(bucket);
	free(prefix);
	return rc;
}
