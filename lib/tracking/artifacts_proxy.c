/*
 * Artifacts behind an MLflow server's artifact proxy: the run's artifact URI
 * is mlflow-artifacts:/<path> (or mlflow-artifacts://host:port/<path>) and
 * the server serves it under /api/2.0/mlflow-artifacts/artifacts/<path>
 * (docs/mlflow-formats.md section 4).
 *
 * Same behaviour as artifacts_local.c, so a program cannot tell the stores
 * apart: a file or a folder lands under its own name below `artifact_dir`;
 * listing is recursive with paths relative to the run's artifact root;
 * download takes one file.  Uploads stream from disk (mlf_http_put_file),
 * so memory stays flat whatever the artifact's size.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "tracking_internal.h"

#define PROXY_PREFIX "/api/2.0/mlflow-artifacts/artifacts"
#define MAX_DEPTH 64

/* Where a run's artifacts live, in the proxy's two address forms. */
struct proxy_root {
	struct mlf_http *http;
	char *url;        /* .../api/2.0/mlflow-artifacts/artifacts[/<root>] */
	char *list_url;   /* .../api/2.0/mlflow-artifacts/artifacts (takes ?path=) */
	char *root;       /* <root>: the artifact URI's path, "" for the proxy's top */
};

static void proxy_root_release(struct proxy_root *r)
{
	free(r->url);
	free(r->list_url);
	free(r->root);
}

static int proxy_root_init(struct mlf_http *http, const char *artifact_uri,
			   struct proxy_root *r, struct mlf_error *err)
{
	memset(r, 0, sizeof(*r));
	r->http = http;
	if (mlf_uri_artifact_proxy_url(artifact_uri, mlf_http_base_url(http), &r->url, err))
		return -1;
	char *at = strstr(r->url, PROXY_PREFIX);
	while (at && strstr(at + 1, PROXY_PREFIX))
		at = strstr(at + 1, PROXY_PREFIX);
	if (!at) {
		proxy_root_release(r);
		return mlf_fail(err, MLF_EX_SOFTWARE, "cannot map '%s' to the artifact proxy",
				artifact_uri);
	}
	const char *tail = at + strlen(PROXY_PREFIX);
	r->list_url = mlf_xstrndup(r->url, (size_t)(tail - r->url));
	while (*tail == '/')
		tail++;
	r->root = mlf_xstrdup(tail);
	while (*r->root && r->root[strlen(r->root) - 1] == '/')
		r->root[strlen(r->root) - 1] = '\0';
	return 0;
}

/* ---- upload ------------------------------------------------------------ */

/* mlf_artifact_put_fn: one file to its artifact path. */
static int put_one(void *vr, const char *local, const char *rel, struct mlf_error *err)
{
	struct proxy_root *r = vr;
	struct mlf_buf url = MLF_BUF_INIT;
	mlf_buf_adds(&url, r->url);
	mlf_artifact_path_encode(&url, rel);
	int rc = mlf_http_put_file(r->http, url.data, local, err);
	mlf_buf_release(&url);
	return rc;
}

int mlf_proxy_artifacts_log(struct mlf_http *http, const char *artifact_uri,
			    const char *local_path, const char *artifact_dir,
			    struct mlf_error *err)
{
	struct proxy_root r;
	if (proxy_root_init(http, artifact_uri, &r, err))
		return -1;
	int rc = mlf_artifact_put_each(local_path, artifact_dir, put_one, &r, err);
	proxy_root_release(&r);
	return rc;
}

/* ---- listing ----------------------------------------------------------- */

/* One folder's entries (basenames) as the proxy lists them. */
static int list_one(struct mlf_http *http, const struct proxy_root *r, const char *rel,
		    json_t **files, struct mlf_error *err)
{
	char *full = mlf_artifact_path_join(r->root, rel);
	char *enc = mlf_uri_encode(full, NULL);
	struct mlf_buf url = MLF_BUF_INIT;
	json_t *resp;

	mlf_buf_adds(&url, r->list_url);
	if (*full) {
		mlf_buf_adds(&url, "?path=");
		mlf_buf_adds(&url, enc);
	}
	free(full);
	free(enc);
	/* mlf_http_call takes a path under the base URL; ours came from it. */
	const char *base = mlf_http_base_url(http);
	const char *path = url.data + (strncmp(url.data, base, strlen(base)) ? 0 : strlen(base));
	int rc;
	if (path == url.data)
		rc = mlf_fail(err, MLF_EX_CONFIG,
			      "artifacts at another server (%s) are not supported", r->url);
	else
		rc = mlf_http_call(http, "GET", path, NULL, 1, &resp, err);
	mlf_buf_release(&url);
	if (rc)
		return -1;
	*files = json_incref(json_object_get(resp, "files"));
	json_decref(resp);
	if (!*files)
		*files = json_array();
	return 0;
}

static int list_tree(struct mlf_http *http, const struct proxy_root *r, const char *rel,
		     struct mlf_artifact_list *out, int depth, struct mlf_error *err)
{
	json_t *files, *it;
	size_t i;
	int rc = 0;

	if (depth > MAX_DEPTH)
		return mlf_fail(err, MLF_EX_DATAERR, "artifact folder '%s' is nested too deep", rel);
	if (list_one(http, r, rel, &files, err))
		return -1;
	json_array_foreach(files, i, it) {
		json_t *p = json_object_get(it, "path");
		if (!json_is_string(p))
			continue;
		/* The proxy answers basenames; older servers answered full paths. */
		const char *base = mlf_artifact_path_base(json_string_value(p));
		char *name = mlf_artifact_path_join(rel, base);
		if (json_is_true(json_object_get(it, "is_dir"))) {
			mlf_artifact_list_add(out, name, 1, -1);
			rc = list_tree(http, r, name, out, depth + 1, err);
		} else {
			int64_t size = 0;
			json_t *fs = json_object_get(it, "file_size");
			if (fs && mlf_json_to_int64(fs, &size))
				size = 0;
			mlf_artifact_list_add(out, name, 0, size);
		}
		free(name);
		if (rc)
			break;
	}
	json_decref(files);
	return rc;
}

int mlf_proxy_artifacts_list(struct mlf_http *http, const char *artifact_uri,
			     const char *path, struct mlf_artifact_list *out,
			     struct mlf_error *err)
{
	struct proxy_root r;
	char *rel = mlf_artifact_path_clean(path);
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (mlf_artifact_path_check("artifact path", rel, err) ||
	    proxy_root_init(http, artifact_uri, &r, err)) {
		free(rel);
		return -1;
	}
	rc = list_tree(http, &r, rel, out, 0, err);
	if (rc)
		mlf_artifact_list_release(out);
	else
		mlf_artifact_list_sort(out);
	proxy_root_release(&r);
	free(rel);
	return rc;
}

/* ---- download ---------------------------------------------------------- */

/* Is `rel` a file, a folder, or absent?  Asked of its parent's listing. */
static int lookup(struct mlf_http *http, const struct proxy_root *r, const char *rel,
		  int *is_dir, int *exists, struct mlf_error *err)
{
	char *parent = mlf_xstrdup(rel);
	char *slash = strrchr(parent, '/');
	const char *name = mlf_artifact_path_base(rel);
	json_t *files, *it;
	size_t i;

	if (slash)
		*slash = '\0';
	else
		parent[0] = '\0';
	*exists = *is_dir = 0;
	int rc = list_one(http, r, parent, &files, err);
	free(parent);
	if (rc)
		return -1;
	json_array_foreach(files, i, it) {
		json_t *p = json_object_get(it, "path");
		if (json_is_string(p) &&
		    !strcmp(mlf_artifact_path_base(json_string_value(p)), name)) {
			*exists = 1;
			*is_dir = json_is_true(json_object_get(it, "is_dir"));
			break;
		}
	}
	json_decref(files);
	return 0;
}

int mlf_proxy_artifacts_download(struct mlf_http *http, const char *artifact_uri,
				 const char *path, const char *local_dst,
				 struct mlf_error *err)
{
	struct proxy_root r;
	char *rel = mlf_artifact_path_clean(path), *dst = NULL;
	int is_dir, exists, rc = -1;

	if (mlf_artifact_path_check("artifact path", rel, err) ||
	    proxy_root_init(http, artifact_uri, &r, err)) {
		free(rel);
		return -1;
	}
	if (!*rel) {
		mlf_fail(err, MLF_EX_DATAERR, "artifact '%s' is a folder; download one file at a time",
			 path);
		goto out;
	}
	if (lookup(http, &r, rel, &is_dir, &exists, err))
		goto out;
	if (!exists) {
		mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND, "artifact '%s' does not exist in %s",
			      path, artifact_uri);
		goto out;
	}
	if (is_dir) {
		mlf_fail(err, MLF_EX_DATAERR, "artifact '%s' is a folder; download one file at a time",
			 path);
		goto out;
	}
	/* Into an existing folder: under the artifact's own name (as artifacts_local.c). */
	dst = mlf_is_dir(local_dst) ? mlf_path_join(local_dst, mlf_artifact_path_base(rel))
				    : mlf_xstrdup(local_dst);
	struct mlf_buf url = MLF_BUF_INIT;
	mlf_buf_adds(&url, r.url);
	mlf_artifact_path_encode(&url, rel);
	rc = mlf_http_get_file(http, url.data, dst, err);
	mlf_buf_release(&url);
	if (rc)
		mlf_error_prefix(err, "downloading artifact '%s'", path);
out:
	free(dst);
	free(rel);
	proxy_root_release(&r);
	return rc;
}
