#include "mlf/tracking.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"

static int has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* Length of an RFC 3986 scheme followed by ':', or 0 when there is none. */
static size_t scheme_len(const char *uri)
{
	if (!isalpha((unsigned char)uri[0]))
		return 0;
	size_t i = 1;
	while (isalnum((unsigned char)uri[i]) || uri[i] == '+' || uri[i] == '-' || uri[i] == '.')
		i++;
	return uri[i] == ':' ? i : 0;
}

static int is_windows_drive(const char *p)
{
	return isalpha((unsigned char)p[0]) && p[1] == ':' && (p[2] == '/' || p[2] == '\\' || !p[2]);
}

enum mlf_uri_kind mlf_uri_kind(const char *uri)
{
	if (!uri || !*uri)
		return MLF_URI_INVALID;
	size_t n = scheme_len(uri);
	if (n == 0)
		return MLF_URI_FILE;
	if (n == 1)  /* "C:\x" or "C:/x": a Windows drive path, handled as a local path */
		return MLF_URI_FILE;
	if (has_prefix(uri, "sqlite:"))
		return MLF_URI_SQLITE;
	if (has_prefix(uri, "http:") || has_prefix(uri, "https:"))
		return MLF_URI_HTTP;
	if (has_prefix(uri, "file:"))
		return MLF_URI_FILE;
	if (has_prefix(uri, "mlflow-artifacts:"))
		return MLF_URI_MLFLOW_ARTIFACTS;
	if (has_prefix(uri, "s3:"))
		return MLF_URI_S3;
	return MLF_URI_OTHER;
}

const char *mlf_uri_kind_name(enum mlf_uri_kind kind)
{
	switch (kind) {
	case MLF_URI_SQLITE: return "sqlite";
	case MLF_URI_HTTP: return "rest";
	case MLF_URI_FILE: return "file";
	case MLF_URI_MLFLOW_ARTIFACTS: return "mlflow-artifacts";
	case MLF_URI_S3: return "s3";
	case MLF_URI_OTHER: return "other";
	default: return "invalid";
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int mlf_uri_decode(const char *s, char **out, struct mlf_error *err)
{
	struct mlf_buf b = MLF_BUF_INIT;
	for (const char *p = s; *p; p++) {
		if (*p != '%') {
			mlf_buf_addc(&b, *p);
			continue;
		}
		int hi = hexval((unsigned char)p[1]);
		int lo = hi < 0 ? -1 : hexval((unsigned char)p[2]);
		if (lo < 0) {
			mlf_buf_release(&b);
			return mlf_fail(err, MLF_EX_CONFIG, "malformed percent-escape in '%s'", s);
		}
		if (hi == 0 && lo == 0) {
			mlf_buf_release(&b);
			return mlf_fail(err, MLF_EX_CONFIG, "'%s' encodes a NUL byte (%%00)", s);
		}
		mlf_buf_addc(&b, (char)(hi * 16 + lo));
		p += 2;
	}
	*out = mlf_buf_detach(&b);
	return 0;
}

char *mlf_uri_encode(const char *s, const char *keep)
{
	static const char digits[] = "0123456789ABCDEF";
	struct mlf_buf b = MLF_BUF_INIT;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p) || (keep && *p && strchr(keep, *p))) {
			mlf_buf_addc(&b, (char)*p);
		} else {
			mlf_buf_addc(&b, '%');
			mlf_buf_addc(&b, digits[*p >> 4]);
			mlf_buf_addc(&b, digits[*p & 15]);
		}
	}
	return mlf_buf_detach(&b);
}

char *mlf_uri_from_path(const char *abs_path)
{
	char *enc = mlf_uri_encode(abs_path, "/");
	char *uri = mlf_xasprintf("file://%s", enc);
	free(enc);
	return uri;
}

static int refuse_windows(const char *uri, struct mlf_error *err)
{
	return mlf_fail(err, MLF_EX_CONFIG,
			"'%s' names a Windows drive, which does not exist on this system; "
			"use a POSIX path such as file:///srv/mlflow", uri);
}

int mlf_uri_local_path(const char *uri, const char *base, char **path, struct mlf_error *err)
{
	const char *p = uri;
	char *decoded = NULL;

	if (!uri || !*uri)
		return mlf_fail(err, MLF_EX_CONFIG, "empty path or file: URI");
	if (is_windows_drive(uri))
		return refuse_windows(uri, err);
	if (has_prefix(uri, "file:")) {
		p = uri + 5;
		if (has_prefix(p, "//")) {
			const char *host = p + 2;
			const char *slash = strchr(host, '/');
			size_t hlen = slash ? (size_t)(slash - host) : strlen(host);
			if (hlen == 2 && host[1] == ':' && isalpha((unsigned char)host[0]))
				return mlf_fail(err, MLF_EX_CONFIG,
						"'%s' puts the drive in the host part (two slashes); "
						"MLflow drops it and writes elsewhere. Write file:///%c:/... "
						"on Windows, or a POSIX path here", uri, host[0]);
			if (hlen == 1 && host[0] == '.')
				return mlf_fail(err, MLF_EX_CONFIG,
						"'%s' means the root folder /, not the current one; "
						"write file:./... or a plain relative path", uri);
			if (hlen && !(hlen == 9 && !strncmp(host, "localhost", 9)))
				return mlf_fail(err, MLF_EX_CONFIG,
						"'%s' names host '%.*s'; only local file: URIs "
						"(file:///path) are supported", uri, (int)hlen, host);
			p = host + hlen;
			if (!*p)
				p = "/";
		}
		/* A query or fragment has no meaning for a folder and hides typos. */
		if (strpbrk(p, "?#"))
			return mlf_fail(err, MLF_EX_CONFIG,
					"'%s' has a query or fragment; percent-encode '?' and '#' in paths", uri);
		if (mlf_uri_decode(p, &decoded, err) != 0)
			return -1;
		if (decoded[0] == '/' && is_windows_drive(decoded + 1)) {
			free(decoded);
			return refuse_windows(uri, err);
		}
	} else {
		/* Plain paths are percent-decoded too, as MLflow does with url2pathname. */
		if (mlf_uri_decode(p, &decoded, err) != 0)
			return -1;
	}
	*path = mlf_path_absolute(base, decoded);
	free(decoded);
	return 0;
}

int mlf_uri_sqlite_path(const char *uri, const char *base, char **path, struct mlf_error *err)
{
	if (!has_prefix(uri, "sqlite:///"))
		return mlf_fail(err, MLF_EX_CONFIG,
				"'%s' is not a sqlite URI of the form sqlite:///relative.db "
				"or sqlite:////absolute/path.db", uri);
	const char *p = uri + strlen("sqlite:///");
	if (!*p || !strcmp(p, ":memory:"))
		return mlf_fail(err, MLF_EX_CONFIG,
				"'%s' names no database file (an in-memory database would lose every run)", uri);
	size_t plen = strcspn(p, "?");
	char *raw = mlf_xstrndup(p, plen);
	char *decoded = NULL;
	int rc = mlf_uri_decode(raw, &decoded, err);
	free(raw);
	if (rc)
		return -1;
	*path = mlf_path_absolute(base, decoded);
	free(decoded);
	return 0;
}

int mlf_uri_artifact_proxy_url(const char *artifact_uri, const char *tracking_uri,
			       char **url, struct mlf_error *err)
{
	const char *p;
	if (!has_prefix(artifact_uri, "mlflow-artifacts:"))
		return mlf_fail(err, MLF_EX_SOFTWARE, "'%s' is not an mlflow-artifacts: URI", artifact_uri);
	if (mlf_uri_kind(tracking_uri) != MLF_URI_HTTP)
		return mlf_fail(err, MLF_EX_CONFIG,
				"artifact location '%s' is served by an MLflow server's proxy, "
				"but the tracking URI '%s' is not http(s)", artifact_uri, tracking_uri);
	p = artifact_uri + strlen("mlflow-artifacts:");
	struct mlf_buf b = MLF_BUF_INIT;
	if (has_prefix(p, "//")) {
		/* mlflow-artifacts://host:port/path: that server, same scheme as tracking. */
		const char *host = p + 2;
		const char *slash = strchr(host, '/');
		size_t hlen = slash ? (size_t)(slash - host) : strlen(host);
		if (hlen) {
			mlf_buf_add(&b, tracking_uri, strcspn(tracking_uri, ":"));
			mlf_buf_adds(&b, "://");
			mlf_buf_add(&b, host, hlen);
		} else {
			mlf_buf_adds(&b, tracking_uri);
		}
		p = host + hlen;
	} else {
		mlf_buf_adds(&b, tracking_uri);
	}
	while (b.len && b.data[b.len - 1] == '/')
		b.data[--b.len] = '\0';
	while (*p == '/')
		p++;
	if (strstr(p, "..") || strchr(p, '?') || strchr(p, '#')) {
		mlf_buf_release(&b);
		return mlf_fail(err, MLF_EX_DATAERR, "artifact URI '%s' has '..', '?' or '#'", artifact_uri);
	}
	mlf_buf_adds(&b, "/api/2.0/mlflow-artifacts/artifacts");
	if (*p) {
		mlf_buf_addc(&b, '/');
		mlf_buf_adds(&b, p);
	}
	*url = mlf_buf_detach(&b);
	return 0;
}

char *mlf_uri_append(const char *uri, const char *segments)
{
	struct mlf_buf b = MLF_BUF_INIT;
	mlf_buf_adds(&b, uri);
	/* drop trailing slashes, but not those of "scheme:/" or "//" (nor a lone "/") */
	while (b.len > 1 && b.data[b.len - 1] == '/' && b.data[b.len - 2] != ':' && b.data[b.len - 2] != '/')
		b.data[--b.len] = '\0';
	while (*segments == '/')
		segments++;
	if (*segments) {
		if (!b.len || b.data[b.len - 1] != '/')
			mlf_buf_addc(&b, '/');
		mlf_buf_adds(&b, segments);
	}
	return mlf_buf_detach(&b);
}

static char *strip_trailing_slashes(const char *s)
{
	size_t n = strlen(s);
	while (n > 1 && s[n - 1] == '/' && s[n - 2] != ':')
		n--;
	return mlf_xstrndup(s, n);
}

int mlf_uri_same_location(const char *a, const char *b, const char *base)
{
	int same;
	if (mlf_uri_kind(a) == MLF_URI_FILE && mlf_uri_kind(b) == MLF_URI_FILE) {
		char *pa = NULL, *pb = NULL;
		same = mlf_uri_local_path(a, base, &pa, NULL) == 0 &&
		       mlf_uri_local_path(b, base, &pb, NULL) == 0 && !strcmp(pa, pb);
		free(pa);
		free(pb);
		return same;
	}
	char *sa = strip_trailing_slashes(a), *sb = strip_trailing_slashes(b);
	same = !strcmp(sa, sb);
	free(sa);
	free(sb);
	return same;
}

char *mlf_uri_redact(const char *uri)
{
	const char *auth = strstr(uri, "://");
	if (!auth)
		return mlf_xstrdup(uri);
	auth += 3;
	const char *end = auth + strcspn(auth, "/?#");
	const char *at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return mlf_xstrdup(uri);
	return mlf_xasprintf("%.*s***%s", (int)(auth - uri), uri, at);
}
