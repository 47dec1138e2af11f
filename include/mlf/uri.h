/*
 * Tracking and artifact URIs, parsed the way MLflow reads them (see
 * reference/mlflow.md section 5), with the traps turned into errors.
 *
 * All returned strings are allocated; the caller frees them.
 */
#ifndef MLF_URI_H
#define MLF_URI_H

#include "mlf/error.h"

enum mlf_uri_kind {
	MLF_URI_INVALID = 0,
	MLF_URI_SQLITE,           /* sqlite:///rel.db, sqlite:////abs.db */
	MLF_URI_HTTP,             /* http:// and https:// */
	MLF_URI_FILE,             /* file: URIs and plain paths */
	MLF_URI_MLFLOW_ARTIFACTS, /* mlflow-artifacts:/path or mlflow-artifacts://host:port/path */
	MLF_URI_OTHER,            /* s3://, gs://, ... : recognised, not handled here */
};

enum mlf_uri_kind mlf_uri_kind(const char *uri);
const char *mlf_uri_kind_name(enum mlf_uri_kind kind);

/*
 * Local path named by a `file:` URI or a plain path, percent-decoded and made
 * absolute against `base` (the workspace; NULL = CWD).  Refuses the forms
 * that silently put data somewhere else: `file://host/...` (a host part,
 * including the two-slash Windows drive form `file://C:/...`), `file://./x`,
 * and Windows drive paths, which cannot name anything on this system.
 */
int mlf_uri_local_path(const char *uri, const char *base, char **path, struct mlf_error *err);

/* Path of the database named by a sqlite: URI, made absolute against `base`. */
int mlf_uri_sqlite_path(const char *uri, const char *base, char **path, struct mlf_error *err);

/* `file://` URI of an absolute path, percent-encoded as Python's Path.as_uri(). */
char *mlf_uri_from_path(const char *abs_path);

/*
 * HTTP URL that serves the artifact path of a `mlflow-artifacts:` URI through
 * the tracking server at `tracking_uri` (its path prefix kept).
 */
int mlf_uri_artifact_proxy_url(const char *artifact_uri, const char *tracking_uri,
			       char **url, struct mlf_error *err);

/* Append path segments: ("file:///r/1", "abc/artifacts") -> "file:///r/1/abc/artifacts". */
char *mlf_uri_append(const char *uri, const char *segments);

/* Percent-encoding: keep unreserved characters and those in `keep`. */
char *mlf_uri_encode(const char *s, const char *keep);
/* Decode %XX; fails on a malformed escape or an encoded NUL. */
int mlf_uri_decode(const char *s, char **out, struct mlf_error *err);

/*
 * Two artifact locations name the same place: equal after trailing slashes
 * are dropped and local forms (plain path vs file: URI) are compared as paths.
 */
int mlf_uri_same_location(const char *a, const char *b, const char *base);

/* The tracking URI with any user:password@ part replaced by "***@", for messages. */
char *mlf_uri_redact(const char *uri);

#endif
