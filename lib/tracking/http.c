/*
 * HTTP client for an MLflow server: libcurl for transport, jansson for
 * bodies, lib/tracking/retry.c for when to try again (see mlf/tracking.h).
 *
 * One easy handle is reused for every request so the connection is kept
 * alive; it is reset before each request (curl_easy_reset keeps the live
 * connections, DNS and TLS session caches) so no option of one request can
 * leak into the next.
 *
 * The same client speaks to S3 (lib/tracking/s3.c): requests are then signed
 * with libcurl's AWS SigV4 support, and mlf_http_exchange() hands the caller
 * any final answer to interpret (S3's errors are XML, not MLflow's JSON).
 *
 * Timeouts mirror requests' (connect timeout + read timeout): a connect
 * timeout, then a low-speed limit of "no byte moved for timeout seconds"
 * instead of a total timeout, so a 100 MB artifact on a slow link is never
 * cut off while it is still moving.
 */
#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "tracking_internal.h"

#define USER_AGENT "mlf/0.1"
#define MAX_ERROR_BODY (64 * 1024)  /* enough for any MLflow error; bounds memory on downloads */

struct mlf_http {
	CURL *curl;
	char *base_url;    /* without trailing '/' */
	char *shown_url;   /* base_url with credentials redacted, for messages */
	char *username;
	char *password;
	char *token;
	char *ca_path;
	char *aws_sigv4;   /* "aws:amz:REGION:s3" when requests are SigV4-signed */
	char *session_token;
	const char *service, *uri_setting, *ca_setting;  /* words for messages */
	int insecure_tls;
	long timeout_s;
	struct mlf_retry_policy retry;
	unsigned short rand_state[3];
	char curl_err[CURL_ERROR_SIZE];
};

/* A body streamed from bytes [offset, offset + size) of a file. */
struct upload {
	FILE *f;
	curl_off_t offset, size, left;
};

/* What one request sends and where its answer goes. */
struct request {
	const char *method;
	const char *url;
	const char *body;        /* bytes to send (POST, PUT, PATCH), or NULL */
	size_t body_len;
	const char *content_type;
	const char *const *headers;  /* extra "Name: value" lines, NULL-terminated */
	struct upload *upload;   /* body streamed from a file, or NULL */
	FILE *download;          /* 2xx body goes here when set, else into `body` */
	int head;                /* HEAD: the answer has no body */
	int idempotent;
	int keep_status;         /* a final non-2xx answer is returned, not failed */
};

/* What one attempt got back. */
struct answer {
	enum mlf_transport transport;
	CURLcode code;
	long status;
	struct mlf_buf body;
	char retry_after[64];
	char location[512];
	char etag[128];
	int64_t content_length;
	int write_failed_errno;
	struct mlf_http *h;
	FILE *download;
};

/* ---- opening ----------------------------------------------------------- */

int mlf_http_open(struct mlf_http **out, const struct mlf_http_options *opts,
		  struct mlf_error *err)
{
	*out = NULL;
	if (!opts->base_url || !*opts->base_url)
		return mlf_fail(err, MLF_EX_CONFIG, "no server URL given");
	if (opts->insecure_tls && opts->ca_path && *opts->ca_path)
		return mlf_fail(err, MLF_EX_CONFIG,
				"MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH "
				"cannot both be set: either verify with the given CA bundle or not at all");
	if (opts->retry.max_retries < 0 || opts->retry.max_retries > 10)
		return mlf_fail(err, MLF_EX_CONFIG,
				"HTTP retries must be 0..10 (MLFLOW_HTTP_REQUEST_MAX_RETRIES), got %d",
				opts->retry.max_retries);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return mlf_fail(err, MLF_EX_SOFTWARE, "libcurl failed to initialise");

	struct mlf_http *h = mlf_xcalloc(1, sizeof(*h));
	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h);
		curl_global_cleanup();
		return mlf_fail(err, MLF_EX_SOFTWARE, "libcurl failed to create a handle");
	}
	size_t len = strlen(opts->base_url);
	while (len && opts->base_url[len - 1] == '/')
		len--;
	h->base_url = mlf_xstrndup(opts->base_url, len);
	h->shown_url = mlf_uri_redact(h->base_url);
	if (opts->username && *opts->username && opts->password && *opts->password) {
		h->username = mlf_xstrdup(opts->username);
		h->password = mlf_xstrdup(opts->password);
	} else if (opts->token && *opts->token) {
		h->token = mlf_xstrdup(opts->token);
	}
	h->ca_path = opts->ca_path && *opts->ca_path ? mlf_xstrdup(opts->ca_path) : NULL;
	if (opts->aws_sigv4) {
		/* The key id and secret travel as curl's user and password, which SigV4 signs with. */
		h->aws_sigv4 = mlf_xstrdup(opts->aws_sigv4);
		h->session_token = opts->session_token && *opts->session_token
					   ? mlf_xstrdup(opts->session_token) : NULL;
	}
	h->service = opts->service ? opts->service : "MLflow server";
	h->uri_setting = opts->uri_setting ? opts->uri_setting : "the tracking URI";
	h->ca_setting = opts->ca_setting ? opts->ca_setting : "MLFLOW_TRACKING_SERVER_CERT_PATH";
	h->insecure_tls = opts->insecure_tls;
	double t = opts->timeout_s > 0 ? opts->timeout_s : 120;
	h->timeout_s = (long)ceil(t);
	h->retry = opts->retry;
	unsigned long seed = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
	h->rand_state[0] = (unsigned short)seed;
	h->rand_state[1] = (unsigned short)(seed >> 16);
	h->rand_state[2] = (unsigned short)(seed >> 32 >> 0);
	*out = h;
	return 0;
}

/* Secrets are overwritten before their memory goes back to the allocator. */
static void free_secret(char *s)
{
	if (s) {
		volatile char *p = s;
		while (*p)
			*p++ = 0;
		free(s);
	}
}

void mlf_http_close(struct mlf_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	curl_global_cleanup();
	free(h->base_url);
	free(h->shown_url);
	free(h->username);
	free_secret(h->password);
	free_secret(h->token);
	free_secret(h->session_token);
	free(h->aws_sigv4);
	free(h->ca_path);
	free(h);
}

const char *mlf_http_base_url(const struct mlf_http *h)
{
	return h->base_url;
}

/* ---- one attempt ------------------------------------------------------- */

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
	struct answer *a = userp;
	size_t len = size * n;
	static const char *const wanted[] = { "retry-after:", "location:", "etag:" };
	char *const dests[] = { a->retry_after, a->location, a->etag };
	const size_t caps[] = { sizeof(a->retry_after), sizeof(a->location), sizeof(a->etag) };

	if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
		/* A new response (after "100 Continue" or a retry): forget the last one's headers. */
		a->retry_after[0] = a->location[0] = a->etag[0] = '\0';
		a->content_length = -1;
		return len;
	}
	if (len > 15 && !strncasecmp(data, "content-length:", 15)) {
		char *end;
		long long v = strtoll(data + 15, &end, 10);
		a->content_length = end != data + 15 && v >= 0 ? (int64_t)v : -1;
		return len;
	}
	for (int i = 0; i < 3; i++) {
		size_t wl = strlen(wanted[i]);
		if (len <= wl || strncasecmp(data, wanted[i], wl))
			continue;
		const char *v = data + wl;
		size_t vl = len - wl;
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		if (vl >= caps[i])
			vl = caps[i] - 1;
		memcpy(dests[i], v, vl);
		dests[i][vl] = '\0';
	}
	return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
	struct answer *a = userp;
	size_t len = size * n;
	long status = 0;

	curl_easy_getinfo(a->h->curl, CURLINFO_RESPONSE_CODE, &status);
	if (a->download && status >= 200 && status < 300) {
		if (fwrite(data, 1, len, a->download) != len) {
			a->write_failed_errno = errno ? errno : EIO;
			return 0;
		}
		return len;
	}
	if (a->download && a->body.len + len > MAX_ERROR_BODY)
		return len;  /* an error page this long says nothing more; keep the start */
	mlf_buf_add(&a->body, data, len);
	return len;
}

static size_t on_upload(char *buffer, size_t size, size_t n, void *userp)
{
	struct upload *u = userp;
	size_t want = size * n;
	if ((curl_off_t)want > u->left)
		want = (size_t)u->left;
	size_t got = want ? fread(buffer, 1, want, u->f) : 0;
	if (got < want && ferror(u->f))
		return CURL_READFUNC_ABORT;
	u->left -= (curl_off_t)got;
	return got;
}

static enum mlf_transport classify(CURLcode code, struct mlf_http *h)
{
	curl_off_t sent = 0;
	long request_size = 0;

	switch (code) {
	case CURLE_OK:
		return MLF_TRANSPORT_OK;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_READ_ERROR:
	case CURLE_WRITE_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_FILESIZE_EXCEEDED:
	case CURLE_LOGIN_DENIED:
		return MLF_TRANSPORT_FATAL;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return MLF_TRANSPORT_NOT_SENT;
	default:
		break;
	}
	/* A timeout or reset before a single byte of the request went out is as good as refused. */
	curl_easy_getinfo(h->curl, CURLINFO_REQUEST_SIZE, &request_size);
	curl_easy_getinfo(h->curl, CURLINFO_SIZE_UPLOAD_T, &sent);
	if (request_size == 0 && sent == 0)
		return MLF_TRANSPORT_NOT_SENT;
	return MLF_TRANSPORT_LOST;
}

static void set_common_options(struct mlf_http *h, struct answer *a)
{
	CURL *c = h->curl;
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->curl_err);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->timeout_s);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->timeout_s);
	/* Redirects are reported, not followed: credentials must not travel to another host. */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, h->insecure_tls ? 0L : 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, h->insecure_tls ? 0L : 2L);
	if (h->ca_path)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_path);
	if (h->aws_sigv4) {
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, h->aws_sigv4);
		curl_easy_setopt(c, CURLOPT_USERNAME, h->username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, h->password);
	} else if (h->username) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, h->username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, h->password);
	}
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
}

static struct curl_slist *add_header(struct curl_slist *list, const char *line)
{
	struct curl_slist *next = curl_slist_append(list, line);
	if (!next) {
		fprintf(stderr, "fatal: out of memory building HTTP headers\n");
		abort();
	}
	return next;
}

static struct curl_slist *build_headers(struct mlf_http *h, const struct request *rq)
{
	struct curl_slist *list = NULL, *next;
	/* requests never sends Expect; some proxies mishandle 100-continue.  A SigV4
	 * request signs every header it lists, so it lists only what it sends. */
	if (!h->aws_sigv4)
		list = add_header(list, "Expect:");
	list = add_header(list, h->aws_sigv4 ? "Accept: */*" : "Accept: application/json, */*");
	if (rq->body || rq->upload) {
		char *line = mlf_xasprintf("Content-Type: %s", rq->content_type ? rq->content_type
						: rq->upload ? "application/octet-stream" : "application/json");
		list = add_header(list, line);
		free(line);
	}
	for (size_t i = 0; rq->headers && rq->headers[i]; i++)
		list = add_header(list, rq->headers[i]);
	if (h->session_token) {
		char *line = mlf_xasprintf("x-amz-security-token: %s", h->session_token);
		list = add_header(list, line);
		free_secret(line);
	}
	if (h->token) {
		char *line = mlf_xasprintf("Authorization: Bearer %s", h->token);
		next = curl_slist_append(list, line);
		free_secret(line);
		if (!next)
			goto oom;
		list = next;
	}
	return list;
oom:
	fprintf(stderr, "fatal: out of memory building HTTP headers\n");
	abort();
}

static void free_headers(struct curl_slist *list)
{
	/* The Authorization line holds the token: wipe before freeing. */
	for (struct curl_slist *p = list; p; p = p->next)
		if (!strncasecmp(p->data, "Authorization:", 14) ||
		    !strncasecmp(p->data, "x-amz-security-token:", 21))
			for (volatile char *q = p->data; *q; q++)
				*q = 0;
	curl_slist_free_all(list);
}

static void perform_once(struct mlf_http *h, const struct request *rq, struct answer *a)
{
	CURL *c = h->curl;

	mlf_buf_reset(&a->body);
	a->retry_after[0] = a->location[0] = a->etag[0] = '\0';
	a->content_length = -1;
	a->status = 0;
	a->write_failed_errno = 0;
	a->h = h;
	a->download = rq->download;
	h->curl_err[0] = '\0';

	curl_easy_reset(c);
	set_common_options(h, a);
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	struct curl_slist *headers = build_headers(h, rq);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (rq->upload) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_upload);
		curl_easy_setopt(c, CURLOPT_READDATA, rq->upload);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, rq->upload->size);
		if (strcmp(rq->method, "PUT"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	} else if (rq->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
		if (strcmp(rq->method, "POST"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	} else if (rq->head) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(rq->method, "GET")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	}

	a->code = curl_easy_perform(c);
	a->transport = classify(a->code, h);
	if (a->transport == MLF_TRANSPORT_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
	free_headers(headers);
}

/* ---- messages ---------------------------------------------------------- */

/* "/api/2.0/mlflow/runs/get" out of a full URL, for messages (no query: it may be long). */
static char *endpoint_of(struct mlf_http *h, const char *url)
{
	const char *p = url;
	if (!strncmp(url, h->base_url, strlen(h->base_url)))
		p = url + strlen(h->base_url);
	else if (strstr(url, "://"))
		p = strchr(strstr(url, "://") + 3, '/');
	if (!p || !*p)
		p = "/";
	return mlf_xstrndup(p, strcspn(p, "?"));
}

/* First line-ish of a non-JSON body, printable, bounded. */
static char *body_snippet(const struct mlf_buf *body)
{
	struct mlf_buf b = MLF_BUF_INIT;
	int space = 0;
	for (size_t i = 0; i < body->len && b.len < 200; i++) {
		unsigned char c = (unsigned char)body->data[i];
		if (c < 0x20 || c == 0x7f) {
			space = 1;
			continue;
		}
		if (space && b.len)
			mlf_buf_addc(&b, ' ');
		space = 0;
		mlf_buf_addc(&b, (char)c);
	}
	if (b.len >= 200)
		mlf_buf_adds(&b, "...");
	return mlf_buf_detach(&b);
}

/* MLflow's {"error_code": ..., "message": ...}, or the body's text. */
static void describe_error_body(const struct mlf_buf *body, char **code, char **text)
{
	json_t *j = body->len ? json_loadb(body->data, body->len, 0, NULL) : NULL;
	*code = NULL;
	*text = NULL;
	if (json_is_object(j)) {
		json_t *c = json_object_get(j, "error_code"), *m = json_object_get(j, "message");
		if (json_is_string(c))
			*code = mlf_xstrdup(json_string_value(c));
		if (json_is_string(m)) {
			/* First line only: the rest is often a SQL statement or a traceback. */
			const char *s = json_string_value(m);
			size_t n = strcspn(s, "\r\n");
			*text = n > 600 ? mlf_xasprintf("%.600s...", s)
				: mlf_xstrndup(s, n);
		}
	}
	json_decref(j);
	if (!*text && body->len)
		*text = body_snippet(body);
}

static const char *credentials_hint(struct mlf_http *h)
{
	if (h->username)
		return "check MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD";
	if (h->token)
		return "check MLFLOW_TRACKING_TOKEN";
	if (strchr(h->shown_url, '@'))
		return "check the user and password in the tracking URI";
	return "no credentials were sent; set MLFLOW_TRACKING_USERNAME and "
	       "MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)";
}

/* A final HTTP error status turned into err (kind and sysexits status). */
static int fail_status(struct mlf_http *h, const struct request *rq, const struct answer *a,
		       int attempts, struct mlf_error *err)
{
	char *code, *text, *ep = endpoint_of(h, rq->url);
	describe_error_body(&a->body, &code, &text);
	char *what = mlf_xasprintf("HTTP %ld%s%s%s%s", a->status, code ? " " : "", code ? code : "",
				   text ? ": " : "", text ? text : "");

	if (a->status == 401 || (code && !strcmp(code, "UNAUTHENTICATED"))) {
		mlf_fail_kind(err, MLF_EX_CONFIG, MLF_ERR_AUTH,
			      "MLflow server %s refused the credentials for %s %s (%s); %s",
			      h->shown_url, rq->method, ep, what, credentials_hint(h));
	} else if (a->status == 403 || (code && !strcmp(code, "PERMISSION_DENIED"))) {
		if (h->username)
			mlf_fail_kind(err, MLF_EX_CONFIG, MLF_ERR_AUTH,
				      "MLflow server %s denied user '%s' %s %s (%s); ask its admin for "
				      "permission on this experiment or model, or check "
				      "MLFLOW_TRACKING_USERNAME", h->shown_url, h->username,
				      rq->method, ep, what);
		else
			mlf_fail_kind(err, MLF_EX_CONFIG, MLF_ERR_AUTH,
				      "MLflow server %s denied %s %s (%s); %s", h->shown_url,
				      rq->method, ep, what, credentials_hint(h));
	} else if (code && !strcmp(code, "RESOURCE_ALREADY_EXISTS")) {
		mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_EXISTS, "%s", text ? text : what);
	} else if (a->status == 404 || (code && !strcmp(code, "RESOURCE_DOES_NOT_EXIST"))) {
		if (code && strcmp(code, "ENDPOINT_NOT_FOUND"))
			mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND, "%s", text ? text : what);
		else
			mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
				      "%s has no endpoint %s %s (%s); is it an MLflow server "
				      "(check the tracking URI and its path prefix)?",
				      h->shown_url, rq->method, ep, what);
	} else if (a->status >= 300 && a->status < 400) {
		mlf_fail(err, MLF_EX_CONFIG,
			 "%s redirected %s %s to '%s'; set the tracking URI to the address it "
			 "redirects to", h->shown_url, rq->method, ep, a->location);
	} else if (a->status >= 400 && a->status < 500) {
		mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
			      "MLflow server %s rejected %s %s: %s", h->shown_url, rq->method, ep, what);
	} else if (attempts > 1) {
		mlf_fail_kind(err, MLF_EX_UNAVAILABLE, MLF_ERR_UNREACHABLE,
			      "MLflow server %s kept failing %s %s (%s) after %d attempts; "
			      "check the server's health and log", h->shown_url, rq->method, ep,
			      what, attempts);
	} else {
		mlf_fail_kind(err, MLF_EX_UNAVAILABLE, MLF_ERR_GENERIC,
			      "MLflow server %s failed %s %s (%s)", h->shown_url, rq->method, ep, what);
	}
	free(what);
	free(code);
	free(text);
	free(ep);
	return -1;
}

static int fail_transport(struct mlf_http *h, const struct request *rq, const struct answer *a,
			  int attempts, struct mlf_error *err)
{
	char *ep = endpoint_of(h, rq->url);
	const char *why = h->curl_err[0] ? h->curl_err : curl_easy_strerror(a->code);

	if (a->write_failed_errno)
		mlf_fail(err, MLF_EX_IOERR, "cannot write the answer of %s %s: %s",
			 rq->method, ep, strerror(a->write_failed_errno));
	else if (a->code == CURLE_READ_ERROR || a->code == CURLE_ABORTED_BY_CALLBACK)
		mlf_fail(err, MLF_EX_IOERR, "reading the file to upload to %s%s failed", h->shown_url, ep);
	else if (a->code == CURLE_PEER_FAILED_VERIFICATION || a->code == CURLE_SSL_CACERT_BADFILE ||
		 a->code == CURLE_SSL_ISSUER_ERROR || a->code == CURLE_SSL_CERTPROBLEM)
		mlf_fail(err, MLF_EX_CONFIG,
			 "TLS verification of %s failed (%s); point %s at the CA bundle that signed "
			 "its certificate", h->shown_url, why, h->ca_setting);
	else if (a->transport == MLF_TRANSPORT_FATAL)
		mlf_fail(err, MLF_EX_CONFIG, "cannot send %s %s to %s: %s", rq->method, ep,
			 h->shown_url, why);
	else
		mlf_fail_kind(err, MLF_EX_UNAVAILABLE, MLF_ERR_UNREACHABLE,
			      "cannot reach %s %s (%s %s: %s) after %d attempt%s; check "
			      "that it is running and %s is right", h->service, h->shown_url,
			      rq->method, ep, why, attempts, attempts == 1 ? "" : "s", h->uri_setting);
	free(ep);
	return -1;
}

/* ---- the retry loop ---------------------------------------------------- */

static void sleep_seconds(double s)
{
	if (s <= 0)
		return;
	struct timespec ts = { (time_t)s, (long)((s - floor(s)) * 1e9) };
	/* A signal cuts the wait short: the program wants to wind up, not to retry later. */
	nanosleep(&ts, NULL);
}

/* Put a request's body sources back to the start before sending it again. */
static int rewind_request(const struct request *rq, struct mlf_error *err)
{
	if (rq->upload) {
		if (fseeko(rq->upload->f, (off_t)rq->upload->offset, SEEK_SET))
			return mlf_fail_errno(err, MLF_EX_IOERR, "cannot rewind the file being uploaded");
		rq->upload->left = rq->upload->size;
	}
	if (rq->download) {
		if (fflush(rq->download) || ftruncate(fileno(rq->download), 0) ||
		    fseeko(rq->download, 0, SEEK_SET))
			return mlf_fail_errno(err, MLF_EX_IOERR, "cannot restart a download");
	}
	return 0;
}

static int run_request(struct mlf_http *h, const struct request *rq,
		       mlf_http_reconcile_fn reconcile, void *ctx, struct answer *a,
		       json_t **reconciled, struct mlf_error *err)
{
	*reconciled = NULL;
	for (int attempt = 0;; attempt++) {
		if (rewind_request(rq, err))
			return -1;
		perform_once(h, rq, a);
		if (a->transport == MLF_TRANSPORT_OK && a->status >= 200 && a->status < 300)
			return 0;

		double delay;
		double u = erand48(h->rand_state);
		enum mlf_retry_verdict v = mlf_retry_decide(&h->retry, attempt, a->transport,
							    a->status, rq->idempotent,
							    a->retry_after[0] ? a->retry_after : NULL,
							    u, &delay);
		if (v == MLF_RETRY_NO) {
			if (a->transport != MLF_TRANSPORT_OK)
				return fail_transport(h, rq, a, attempt + 1, err);
			if (rq->keep_status)
				return 0;
			return fail_status(h, rq, a, attempt + 1, err);
		}
		if (v == MLF_RETRY_CHECK_FIRST) {
			if (!reconcile) {
				char *ep = endpoint_of(h, rq->url);
				mlf_fail_kind(err, MLF_EX_UNAVAILABLE, MLF_ERR_UNREACHABLE,
					      "%s %s to %s may or may not have been applied (%s); "
					      "not repeating it blindly", rq->method, ep, h->shown_url,
					      a->transport == MLF_TRANSPORT_OK ? "server error"
					      : (h->curl_err[0] ? h->curl_err : "connection lost"));
				free(ep);
				return -1;
			}
			sleep_seconds(delay);
			int found = reconcile(ctx, reconciled, err);
			if (found < 0)
				return -1;
			if (found)
				return 0;
			continue;
		}
		sleep_seconds(delay);
	}
}

static int call(struct mlf_http *h, const char *method, const char *path, json_t *body,
		int idempotent, mlf_http_reconcile_fn reconcile, void *ctx,
		json_t **response, struct mlf_error *err)
{
	struct request rq = { 0 };
	struct answer a = { 0 };
	char *json = NULL, *url = mlf_xasprintf("%s%s%s", h->base_url, path[0] == '/' ? "" : "/", path);
	json_t *reconciled = NULL;
	int rc = -1;

	*response = NULL;
	mlf_buf_init(&a.body);
	if (body) {
		json = json_dumps(body, JSON_COMPACT);
		if (!json) {
			mlf_fail(err, MLF_EX_DATAERR, "cannot encode the request for %s as JSON "
				 "(a value that is not valid UTF-8?)", path);
			goto out;
		}
	}
	rq.method = method;
	rq.url = url;
	rq.body = json ? json : (strcmp(method, "GET") && strcmp(method, "DELETE") ? "{}" : NULL);
	rq.body_len = rq.body ? strlen(rq.body) : 0;
	rq.idempotent = idempotent;
	if (run_request(h, &rq, reconcile, ctx, &a, &reconciled, err))
		goto out;
	if (reconciled) {
		*response = reconciled;
		rc = 0;
		goto out;
	}
	if (a.body.len == 0) {
		*response = json_object();
		rc = 0;
		goto out;
	}
	json_error_t jerr;
	json_t *j = json_loadb(a.body.data, a.body.len, 0, &jerr);
	if (!json_is_object(j)) {
		json_decref(j);
		char *snip = body_snippet(&a.body), *ep = endpoint_of(h, url);
		mlf_fail_kind(err, MLF_EX_UNAVAILABLE, MLF_ERR_UNREACHABLE,
			      "%s answered %s %s with something that is not MLflow's JSON ('%s'); "
			      "is the tracking URI an MLflow server?", h->shown_url, method, ep, snip);
		free(snip);
		free(ep);
		goto out;
	}
	*response = j;
	rc = 0;
out:
	free(json);
	free(url);
	mlf_buf_release(&a.body);
	return rc;
}

int mlf_http_call(struct mlf_http *h, const char *method, const char *path,
		  json_t *body, int idempotent, json_t **response, struct mlf_error *err)
{
	return call(h, method, path, body, idempotent, NULL, NULL, response, err);
}

int mlf_http_call_reconciled(struct mlf_http *h, const char *method, const char *path,
			     json_t *body, mlf_http_reconcile_fn reconcile, void *ctx,
			     json_t **response, struct mlf_error *err)
{
	return call(h, method, path, body, 0, reconcile, ctx, response, err);
}

/* ---- files ------------------------------------------------------------- */

/* A download goes to a temporary file beside its destination, renamed into place when whole. */
static FILE *download_open(const char *local_path, char **tmp, struct mlf_error *err)
{
	static unsigned counter;
	char *dir = mlf_xstrdup(local_path), *slash = strrchr(dir, '/');
	*tmp = NULL;
	if (slash && slash != dir) {
		*slash = '\0';
		if (mlf_mkdir_p(dir, 0777, err)) {
			free(dir);
			return NULL;
		}
	}
	free(dir);
	*tmp = mlf_xasprintf("%s.tmp.%ld.%u", local_path, (long)getpid(), counter++);
	int fd = open(*tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	FILE *f = fd >= 0 ? fdopen(fd, "w+b") : NULL;
	if (!f) {
		mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot create '%s'", *tmp);
		if (fd >= 0)
			close(fd);
		free(*tmp);
		*tmp = NULL;
	}
	return f;
}

/* Close the temporary file; rename it into place when `keep`, else remove it.  rc: the transfer's. */
static int download_close(FILE *f, char *tmp, const char *local_path, int rc, int keep,
			  struct mlf_error *err)
{
	if (!rc && keep && (fflush(f) || fsync(fileno(f))))
		rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot write '%s'", tmp);
	if (fclose(f) && !rc && keep)
		rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot write '%s'", tmp);
	if (!rc && keep && rename(tmp, local_path))
		rc = mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot rename '%s' to '%s'", tmp, local_path);
	if (rc || !keep)
		unlink(tmp);
	free(tmp);
	return rc;
}

static int open_upload(const char *local_path, int64_t offset, int64_t len, struct upload *u,
		       struct mlf_error *err)
{
	struct stat st;
	memset(u, 0, sizeof(*u));
	u->f = fopen(local_path, "rb");
	if (!u->f)
		return mlf_fail_errno(err, MLF_EX_NOINPUT, "cannot open '%s' for upload", local_path);
	if (fstat(fileno(u->f), &st) || !S_ISREG(st.st_mode)) {
		fclose(u->f);
		return mlf_fail(err, MLF_EX_NOINPUT, "'%s' is not a regular file", local_path);
	}
	if (len < 0)
		len = (int64_t)st.st_size - offset;
	if (offset < 0 || len < 0 || offset + len > (int64_t)st.st_size) {
		fclose(u->f);
		return mlf_fail(err, MLF_EX_SOFTWARE, "bytes %lld..%lld of '%s' do not exist (it has %lld)",
				(long long)offset, (long long)(offset + len), local_path,
				(long long)st.st_size);
	}
	u->offset = (curl_off_t)offset;
	u->size = u->left = (curl_off_t)len;
	return 0;
}

/*
 * Run a request whose body streams from or to a file.  Idempotent: the same
 * bytes to or from the same path, so repeating it is harmless.
 */
static int transfer_file(struct mlf_http *h, struct request *rq, struct mlf_error *err)
{
	struct answer a = { 0 };
	json_t *unused = NULL;
	mlf_buf_init(&a.body);
	rq->idempotent = 1;
	int rc = run_request(h, rq, NULL, NULL, &a, &unused, err);
	mlf_buf_release(&a.body);
	return rc;
}

int mlf_http_put_file(struct mlf_http *h, const char *url, const char *local_path,
		      struct mlf_error *err)
{
	struct upload u;
	if (open_upload(local_path, 0, -1, &u, err))
		return -1;
	struct request rq = { 0 };
	rq.method = "PUT";
	rq.url = url;
	rq.upload = &u;
	int rc = transfer_file(h, &rq, err);
	if (rc)
		mlf_error_prefix(err, "uploading '%s'", local_path);
	fclose(u.f);
	return rc;
}

int mlf_http_get_file(struct mlf_http *h, const char *url, const char *local_path,
		      struct mlf_error *err)
{
	char *tmp;
	FILE *f = download_open(local_path, &tmp, err);
	if (!f)
		return -1;
	struct request rq = { 0 };
	rq.method = "GET";
	rq.url = url;
	rq.download = f;
	int rc = transfer_file(h, &rq, err);
	return download_close(f, tmp, local_path, rc, 1, err);
}

int mlf_http_exchange(struct mlf_http *h, struct mlf_http_exchange *x, struct mlf_error *err)
{
	struct request rq = { 0 };
	struct answer a = { 0 };
	struct upload u = { 0 };
	json_t *unused = NULL;
	char *tmp = NULL;
	FILE *down = NULL;
	int rc;

	x->status = 0;
	x->etag[0] = '\0';
	x->content_length = -1;
	mlf_buf_reset(&x->answer);
	if (x->upload_path && open_upload(x->upload_path, x->upload_offset, x->upload_len, &u, err))
		return -1;
	if (x->download_path && !(down = download_open(x->download_path, &tmp, err))) {
		if (u.f)
			fclose(u.f);
		return -1;
	}
	rq.method = x->method;
	rq.url = x->url;
	rq.headers = x->headers;
	rq.body = x->body;
	rq.body_len = x->body_len;
	rq.content_type = x->content_type;
	rq.upload = u.f ? &u : NULL;
	rq.download = down;
	rq.head = !strcmp(x->method, "HEAD");
	rq.idempotent = 1;
	rq.keep_status = 1;
	mlf_buf_init(&a.body);
	rc = run_request(h, &rq, NULL, NULL, &a, &unused, err);
	if (!rc) {
		x->status = a.status;
		memcpy(x->etag, a.etag, sizeof(x->etag));
		x->content_length = a.content_length;
		mlf_buf_add(&x->answer, a.body.data, a.body.len);
	}
	if (down)
		rc = download_close(down, tmp, x->download_path, rc, x->status >= 200 && x->status < 300,
				    err);
	if (u.f)
		fclose(u.f);
	mlf_buf_release(&a.body);
	return rc;
}
