/*
 * An S3 client, as far as artifacts need one: put a file (in parts above
 * MLF_S3_MULTIPART_THRESHOLD), get one, list keys under a prefix, delete.
 * It speaks to AWS or any S3-compatible endpoint (MinIO, Ceph, moto)
 * through lib/tracking/http.c, whose retries it shares; requests are signed
 * by libcurl's AWS SigV4 support, never by hand.
 *
 * What libcurl 7.88 leaves to the caller, done here:
 *  - the region and service always go in the signing string: curl would
 *    otherwise guess them from the host name ("127" for 127.0.0.1);
 *  - x-amz-content-sha256 is sent on every request (curl adds it only from
 *    8.0).  It carries the payload's real SHA-256, so S3 refuses a body
 *    that changed on the way: every upload is checked by the server;
 *  - query strings are written already sorted by name and percent-encoded
 *    (curl signs them verbatim), valueless parameters as "name=";
 *  - keys are percent-encoded segment by segment (curl signs the path as given);
 *  - a session token goes in x-amz-security-token (signed like any header).
 *
 * Parts of a multipart upload go up MLF_S3_PARALLEL_PARTS at a time, each on
 * its own connection (a worker thread with its own HTTP client), as boto3's
 * transfer manager does: one connection to S3 rarely fills a link, and
 * several hide each part's round trips.
 *
 * Credentials and settings come the way the AWS tools and MLflow's client
 * (boto3) take them: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
 * AWS_SESSION_TOKEN, else the profile (AWS_PROFILE, default "default") in
 * the shared credentials file, then in the config file; the region from the
 * settings, AWS_REGION, the profile, else us-east-1.  Profiles that get
 * credentials by running something (role_arn, credential_process, sso_*)
 * and instance roles are not followed: the error says to export keys.
 * Secrets never appear in a message.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "tracking_internal.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define MAX_PARTS 10000
#define MAX_SHARED_FILE (1024 * 1024)
#define MLF_S3_PARALLEL_PARTS 4

struct mlf_s3 {
	struct mlf_http *http;
	struct mlf_http *workers[MLF_S3_PARALLEL_PARTS];  /* opened on the first multipart upload */
	struct mlf_http_options ho;  /* to open them: its strings are owned here */
	char *endpoint;      /* scheme://host[:port], no trailing '/' */
	char *region;
	int path_style;      /* endpoint/bucket/key, else bucket.endpoint/key */
	char *creds_from;    /* where the credentials came from, for messages */
	int64_t part_size;
};

/* ---- settings -------------------------------------------------------------- */

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static char *home_file(const char *var, const char *rel)
{
	if (env(var))
		return mlf_xstrdup(env(var));
	return env("HOME") ? mlf_xasprintf("%s/%s", env("HOME"), rel) : NULL;
}

/* The text of a shared file, or NULL when there is none. */
static int read_shared(const char *path, char **text, size_t *len, struct mlf_error *err)
{
	struct stat st;
	*text = NULL;
	*len = 0;
	if (!path || stat(path, &st) != 0)
		return 0;
	if (!S_ISREG(st.st_mode) || st.st_size > MAX_SHARED_FILE)
		return mlf_fail(err, MLF_EX_CONFIG, "AWS file %s is not a regular file of at most 1 MiB",
				path);
	return mlf_read_file(path, text, len, err) ? -1 : 0;
}

struct shared {
	char *path[2];   /* credentials file, config file */
	char *text[2];
	size_t len[2];
	char *section[2];
};

static void shared_release(struct shared *sh)
{
	for (int i = 0; i < 2; i++) {
		free(sh->path[i]);
		if (sh->text[i])
			OPENSSL_cleanse(sh->text[i], sh->len[i]);
		free(sh->text[i]);
		free(sh->section[i]);
	}
}

/* Key `key` of the profile: credentials file first, then config file.  *which: the file's index. */
static char *shared_get(const struct shared *sh, const char *key, int *which)
{
	for (int i = 0; i < 2; i++) {
		char *v = NULL;
		if (sh->text[i] && mlf_aws_ini_get(sh->text[i], sh->len[i], sh->section[i], key, &v) == 1) {
			if (which)
				*which = i;
			return v;
		}
	}
	return NULL;
}

static int shared_has_section(const struct shared *sh, int i)
{
	/* A section with no keys still names the profile; look for its header. */
	if (!sh->text[i])
		return 0;
	char *hdr = mlf_xasprintf("[%s]", sh->section[i]);
	int found = memmem(sh->text[i], sh->len[i], hdr, strlen(hdr)) != NULL;
	free(hdr);
	return found;
}

static void free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

struct creds {
	char *key, *secret, *token, *profile_region;
	char *from;
};

static void creds_release(struct creds *c)
{
	free(c->key);
	free_secret(c->secret);
	free_secret(c->token);
	free(c->profile_region);
	free(c->from);
}

static int resolve_credentials(const struct mlf_s3_options *o, struct creds *c, struct mlf_error *err)
{
	struct shared sh = { 0 };
	const char *profile = o->profile ? o->profile : "default";
	int rc = 0;

	memset(c, 0, sizeof(*c));
	sh.path[0] = home_file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
	sh.path[1] = home_file("AWS_CONFIG_FILE", ".aws/config");
	sh.section[0] = mlf_xstrdup(profile);
	sh.section[1] = strcmp(profile, "default") ? mlf_xasprintf("profile %s", profile)
						   : mlf_xstrdup("default");
	for (int i = 0; i < 2; i++)
		if (read_shared(sh.path[i], &sh.text[i], &sh.len[i], err)) {
			shared_release(&sh);
			return -1;
		}
	c->profile_region = shared_get(&sh, "region", NULL);

	const char *ek = env("AWS_ACCESS_KEY_ID"), *es = env("AWS_SECRET_ACCESS_KEY");
	if (ek && es) {
		c->key = mlf_xstrdup(ek);
		c->secret = mlf_xstrdup(es);
		c->token = env("AWS_SESSION_TOKEN") ? mlf_xstrdup(env("AWS_SESSION_TOKEN")) : NULL;
		c->from = mlf_xstrdup("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
		goto out;
	}
	if (ek || es) {
		rc = mlf_fail(err, MLF_EX_CONFIG, "%s is set but %s is not; set both, or neither to use "
			      "a profile of ~/.aws/credentials", ek ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			      ek ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		goto out;
	}
	int kf = 0, sf = 0;
	c->key = shared_get(&sh, "aws_access_key_id", &kf);
	c->secret = shared_get(&sh, "aws_secret_access_key", &sf);
	if (c->key && c->secret) {
		c->token = shared_get(&sh, "aws_session_token", NULL);
		c->from = mlf_xasprintf("profile '%s' in %s", profile, sh.path[kf]);
		goto out;
	}
	static const char *const runs[] = { "role_arn", "credential_process", "sso_session",
					    "sso_start_url", "web_identity_token_file" };
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		char *v = shared_get(&sh, runs[i], NULL);
		free(v);
		if (v) {
			rc = mlf_fail(err, MLF_EX_CONFIG, "AWS profile '%s' gets its credentials through %s, "
				      "which mlf does not run; export AWS_ACCESS_KEY_ID, "
				      "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) from `aws configure "
				      "export-credentials --profile %s --format env`", profile, runs[i], profile);
			goto out;
		}
	}
	if (c->key || c->secret)
		rc = mlf_fail(err, MLF_EX_CONFIG, "AWS profile '%s' has %s but not %s", profile,
			      c->key ? "aws_access_key_id" : "aws_secret_access_key",
			      c->key ? "aws_secret_access_key" : "aws_access_key_id");
	else if (o->profile && !shared_has_section(&sh, 0) && !shared_has_section(&sh, 1))
		rc = mlf_fail(err, MLF_EX_CONFIG, "AWS profile '%s' (s3.profile or AWS_PROFILE) is in "
			      "neither %s nor %s", profile, sh.path[0] ? sh.path[0] : "~/.aws/credentials",
			      sh.path[1] ? sh.path[1] : "~/.aws/config");
	else
		rc = mlf_fail(err, MLF_EX_CONFIG, "no AWS credentials for S3 artifacts: set "
			      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile '%s' keys "
			      "in %s", profile, sh.path[0] ? sh.path[0] : "~/.aws/credentials");
out:
	shared_release(&sh);
	if (rc) {
		creds_release(c);
		memset(c, 0, sizeof(*c));
	}
	return rc;
}

int mlf_s3_open(struct mlf_s3 **out, const struct mlf_s3_options *o, struct mlf_error *err)
{
	struct creds c;
	*out = NULL;
	if (o->ignore_tls && o->ca_bundle && *o->ca_bundle)
		return mlf_fail(err, MLF_EX_CONFIG, "MLFLOW_S3_IGNORE_TLS and AWS_CA_BUNDLE (s3.ignore_tls, "
				"s3.ca_bundle) contradict each other; set one");
	const char *ep = o->endpoint_url && *o->endpoint_url ? o->endpoint_url : NULL;
	if (ep && strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8))
		return mlf_fail(err, MLF_EX_CONFIG, "S3 endpoint '%s' (MLFLOW_S3_ENDPOINT_URL) must be an "
				"http:// or https:// URL", ep);
	if (resolve_credentials(o, &c, err))
		return -1;

	struct mlf_s3 *s = mlf_xcalloc(1, sizeof(*s));
	const char *region = o->region && *o->region ? o->region
			     : env("AWS_REGION") ? env("AWS_REGION")
			     : c.profile_region && *c.profile_region ? c.profile_region : "us-east-1";
	s->region = mlf_xstrdup(region);
	if (ep) {
		size_t n = strlen(ep);
		while (n && ep[n - 1] == '/')
			n--;
		s->endpoint = mlf_xstrndup(ep, n);
		s->path_style = 1;  /* what MinIO and other S3-compatible servers expect */
	} else {
		s->endpoint = mlf_xasprintf("https://s3.%s.amazonaws.com", s->region);
	}
	s->creds_from = c.from;
	c.from = NULL;
	s->part_size = o->part_size > 0 ? o->part_size : MLF_S3_MULTIPART_THRESHOLD;

	struct mlf_http_options *ho = &s->ho;
	ho->base_url = s->endpoint;
	ho->username = c.key;        /* the strings move into s->ho: freed (secrets wiped) by close */
	ho->password = c.secret;
	ho->session_token = c.token;
	c.key = c.secret = c.token = NULL;
	ho->aws_sigv4 = mlf_xasprintf("aws:amz:%s:s3", s->region);
	ho->ca_path = o->ca_bundle && *o->ca_bundle ? mlf_xstrdup(o->ca_bundle) : NULL;
	ho->insecure_tls = o->ignore_tls;
	ho->timeout_s = o->timeout_s;
	ho->retry = o->retry;
	ho->service = "S3 endpoint";
	ho->uri_setting = ep ? "MLFLOW_S3_ENDPOINT_URL" : "the region (AWS_DEFAULT_REGION)";
	ho->ca_setting = "AWS_CA_BUNDLE";
	creds_release(&c);
	if (mlf_http_open(&s->http, ho, err)) {
		mlf_s3_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

void mlf_s3_close(struct mlf_s3 *s)
{
	if (!s)
		return;
	mlf_http_close(s->http);
	for (int i = 0; i < MLF_S3_PARALLEL_PARTS; i++)
		mlf_http_close(s->workers[i]);
	free((char *)s->ho.username);
	free_secret((char *)s->ho.password);
	free_secret((char *)s->ho.session_token);
	free((char *)s->ho.aws_sigv4);
	free((char *)s->ho.ca_path);
	free(s->endpoint);
	free(s->region);
	free(s->creds_from);
	free(s);
}

int mlf_s3_parse_uri(const char *uri, char **bucket, char **prefix, struct mlf_error *err)
{
	*bucket = *prefix = NULL;
	if (!uri || strncmp(uri, "s3://", 5))
		return mlf_fail(err, MLF_EX_CONFIG, "'%s' is not an s3:// URI", uri ? uri : "");
	const char *b = uri + 5;
	size_t bn = strcspn(b, "/?#");
	if (!bn || b[bn] == '?' || b[bn] == '#')
		return mlf_fail(err, MLF_EX_CONFIG, "'%s' names no bucket, or has a query: write "
				"s3://bucket/prefix", uri);
	for (size_t i = 0; i < bn; i++) {
		char ch = b[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		      ch == '_' || (ch >= 'A' && ch <= 'Z')))
			return mlf_fail(err, MLF_EX_CONFIG, "bucket '%.*s' of '%s' is not a valid S3 "
					"bucket name", (int)bn, b, uri);
	}
	*bucket = mlf_xstrndup(b, bn);
	*prefix = mlf_artifact_path_clean(b[bn] ? b + bn + 1 : "");
	return 0;
}

/* ---- requests --------------------------------------------------------------- */

static int dns_bucket(const char *bucket)
{
	for (const char *p = bucket; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
	return 1;
}

static char *object_url(const struct mlf_s3 *s, const char *bucket, const char *key, const char *query)
{
	struct mlf_buf b = MLF_BUF_INIT;
	if (s->path_style || !dns_bucket(bucket)) {
		mlf_buf_addf(&b, "%s/%s", s->endpoint, bucket);
	} else {
		const char *host = strstr(s->endpoint, "://") + 3;
		mlf_buf_addf(&b, "%.*s%s.%s", (int)(host - s->endpoint), s->endpoint, bucket, host);
	}
	if (key && *key)
		mlf_artifact_path_encode(&b, key);  /* keys are clean artifact paths */
	else
		mlf_buf_addc(&b, '/');
	if (query && *query)
		mlf_buf_addf(&b, "?%s", query);
	return mlf_buf_detach(&b);
}

static int sha256_slice(const char *path, int64_t offset, int64_t len, char hex[65],
			struct mlf_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return mlf_fail_errno(err, MLF_EX_NOINPUT, "cannot open '%s' for upload", path);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char buf[1 << 16], md[32];
	unsigned int mdlen = 0;
	int rc = 0;
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) || fseeko(f, (off_t)offset, SEEK_SET)) {
		rc = mlf_fail(err, MLF_EX_IOERR, "cannot hash '%s'", path);
		goto out;
	}
	while (len > 0) {
		size_t want = len < (int64_t)sizeof(buf) ? (size_t)len : sizeof(buf);
		size_t got = fread(buf, 1, want, f);
		if (got != want) {
			rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot read '%s'", path);
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, got);
		len -= (int64_t)got;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	mlf_hex_encode(md, 32, hex);
out:
	EVP_MD_CTX_free(ctx);
	fclose(f);
	return rc;
}

/* What one S3 request sends; `x` receives the answer. */
struct s3_req {
	const char *method;
	const char *bucket, *key, *query;
	const char *body;
	size_t body_len;
	const char *content_type;  /* of body; NULL: application/xml */
	const char *upload_path;
	int64_t upload_offset, upload_len;
	const char *download_path;
};

static int s3_send_on(struct mlf_s3 *s, struct mlf_http *http, const struct s3_req *r,
		      struct mlf_http_exchange *x, struct mlf_error *err)
{
	char hex[65];
	if (r->upload_path) {
		if (sha256_slice(r->upload_path, r->upload_offset, r->upload_len, hex, err))
			return -1;
	} else if (r->body) {
		mlf_sha256_hex(r->body, r->body_len, hex);
	} else {
		memcpy(hex, EMPTY_SHA256, sizeof(hex));
	}
	char *sha = mlf_xasprintf("x-amz-content-sha256: %s", hex);
	const char *headers[] = { sha, NULL };
	char *url = object_url(s, r->bucket, r->key, r->query);
	x->method = r->method;
	x->url = url;
	x->headers = headers;
	x->body = r->body;
	x->body_len = r->body_len;
	x->content_type = r->body ? (r->content_type ? r->content_type : "application/xml") : NULL;
	x->upload_path = r->upload_path;
	x->upload_offset = r->upload_offset;
	x->upload_len = r->upload_len;
	x->download_path = r->download_path;
	int rc = mlf_http_exchange(http, x, err);
	x->url = x->method = NULL;
	x->headers = NULL;
	free(url);
	free(sha);
	return rc;
}

static int s3_send(struct mlf_s3 *s, const struct s3_req *r, struct mlf_http_exchange *x,
		   struct mlf_error *err)
{
	return s3_send_on(s, s->http, r, x, err);
}

/* A final non-2xx answer turned into err, with what to do about it. */
static int s3_fail(const struct mlf_s3 *s, const struct s3_req *r, const struct mlf_http_exchange *x,
		   struct mlf_error *err)
{
	char *code = NULL, *msg = NULL;
	mlf_s3_parse_error(x->answer.data, x->answer.len, &code, &msg);
	const char *c = code ? code : "";
	char *what = mlf_xasprintf("HTTP %ld%s%s%s%s", x->status, code ? " " : "", c,
				   msg ? ": " : "", msg ? msg : "");
	char *obj = mlf_xasprintf("s3://%s/%s", r->bucket, r->key ? r->key : "");
	int rc;

	if (!strcmp(c, "SignatureDoesNotMatch") || !strcmp(c, "InvalidAccessKeyId") ||
	    !strcmp(c, "InvalidToken") || !strcmp(c, "ExpiredToken") || !strcmp(c, "TokenRefreshRequired") ||
	    !strcmp(c, "InvalidClientTokenId") || (x->status == 403 && !*c))
		rc = mlf_fail_kind(err, MLF_EX_CONFIG, MLF_ERR_AUTH,
				   "S3 endpoint %s refused the credentials for %s %s (%s); check the "
				   "access key and secret (from %s)", s->endpoint, r->method, obj, what,
				   s->creds_from);
	else if (x->status == 403)
		rc = mlf_fail_kind(err, MLF_EX_CONFIG, MLF_ERR_AUTH,
				   "S3 endpoint %s denied %s %s (%s); the credentials (from %s) need "
				   "permission to read, write and list that bucket and prefix", s->endpoint,
				   r->method, obj, what, s->creds_from);
	else if (!strcmp(c, "NoSuchBucket"))
		rc = mlf_fail_kind(err, MLF_EX_CONFIG, MLF_ERR_NOT_FOUND,
				   "S3 bucket '%s' does not exist at %s; create it, or fix the experiment's "
				   "artifact location or MLFLOW_S3_ENDPOINT_URL", r->bucket, s->endpoint);
	else if (x->status == 404 || !strcmp(c, "NoSuchKey"))
		rc = mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND, "%s does not exist", obj);
	else if ((x->status >= 300 && x->status < 400) || !strcmp(c, "AuthorizationHeaderMalformed") ||
		 !strcmp(c, "PermanentRedirect") || !strcmp(c, "IllegalLocationConstraintException"))
		rc = mlf_fail(err, MLF_EX_CONFIG, "S3 endpoint %s sent %s %s elsewhere (%s); bucket '%s' "
			      "is probably not in region %s: set AWS_DEFAULT_REGION (or s3.region) to its "
			      "region", s->endpoint, r->method, obj, what, r->bucket, s->region);
	else if (x->status >= 400 && x->status < 500)
		rc = mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID, "S3 endpoint %s rejected %s %s: %s",
				   s->endpoint, r->method, obj, what);
	else
		rc = mlf_fail_kind(err, MLF_EX_UNAVAILABLE, MLF_ERR_UNREACHABLE,
				   "S3 endpoint %s kept failing %s %s (%s); check the object store's "
				   "health", s->endpoint, r->method, obj, what);
	free(code);
	free(msg);
	free(what);
	free(obj);
	return rc;
}

/* Send, and fail unless the answer is 2xx (and, for some S3 calls, not an <Error> in a 200). */
static int s3_call_on(struct mlf_s3 *s, struct mlf_http *http, const struct s3_req *r,
		      struct mlf_http_exchange *x, struct mlf_error *err)
{
	if (s3_send_on(s, http, r, x, err))
		return -1;
	if (x->status >= 200 && x->status < 300) {
		char *code, *msg;
		int is_error = !r->download_path && mlf_s3_parse_error(x->answer.data, x->answer.len,
								       &code, &msg);
		if (is_error) {
			free(code);
			free(msg);
			x->status = 500;  /* CompleteMultipartUpload can fail inside a 200 */
			return s3_fail(s, r, x, err);
		}
		return 0;
	}
	return s3_fail(s, r, x, err);
}

static int s3_call(struct mlf_s3 *s, const struct s3_req *r, struct mlf_http_exchange *x,
		   struct mlf_error *err)
{
	return s3_call_on(s, s->http, r, x, err);
}

/* ---- operations --------------------------------------------------------------- */

static int put_single(struct mlf_s3 *s, const char *bucket, const char *key, const char *local,
		      int64_t size, struct mlf_error *err)
{
	struct mlf_http_exchange x = { .answer = MLF_BUF_INIT };
	struct s3_req r = { .method = "PUT", .bucket = bucket, .key = key, .upload_path = local,
			    .upload_offset = 0, .upload_len = size };
	int rc = s3_call(s, &r, &x, err);
	mlf_buf_release(&x.answer);
	return rc;
}

static void abort_upload(struct mlf_s3 *s, const char *bucket, const char *key, const char *upload_id)
{
	struct mlf_error ignored = MLF_ERROR_INIT;
	struct mlf_http_exchange x = { .answer = MLF_BUF_INIT };
	char *enc = mlf_uri_encode(upload_id, NULL);
	char *q = mlf_xasprintf("uploadId=%s", enc);
	struct s3_req r = { .method = "DELETE", .bucket = bucket, .key = key, .query = q };
	s3_send(s, &r, &x, &ignored);  /* best effort: a lifecycle rule clears what is left */
	mlf_buf_release(&x.answer);
	free(q);
	free(enc);
}

/* Did an object of `size` bytes land at `key`?  For a completion whose answer was lost. */
static int object_has_size(struct mlf_s3 *s, const char *bucket, const char *key, int64_t size)
{
	struct mlf_error ignored = MLF_ERROR_INIT;
	struct mlf_http_exchange x = { .answer = MLF_BUF_INIT };
	struct s3_req r = { .method = "HEAD", .bucket = bucket, .key = key };
	int ok = !s3_send(s, &r, &x, &ignored) && x.status == 200 && x.content_length == size;
	mlf_buf_release(&x.answer);
	return ok;
}

/*
 * CompleteMultipartUpload can fail inside a 200 answer (S3 sends the status
 * before it knows): such an answer is retried like a 500, by the same policy.
 */
static int complete_upload(struct mlf_s3 *s, const struct s3_req *r, struct mlf_http_exchange *x,
			   struct mlf_error *err)
{
	for (int attempt = 0;; attempt++) {
		if (s3_send(s, r, x, err))
			return -1;
		char *code = NULL, *msg = NULL;
		int failed_in_200 = x->status == 200 && mlf_s3_parse_error(x->answer.data, x->answer.len,
									   &code, &msg);
		free(code);
		free(msg);
		if (!failed_in_200)
			return x->status >= 200 && x->status < 300 ? 0 : s3_fail(s, r, x, err);
		double delay = 0;
		x->status = 500;
		if (mlf_retry_decide(&s->ho.retry, attempt, MLF_TRANSPORT_OK, 500, 1, NULL, 0.5, &delay) !=
		    MLF_RETRY_YES)
			return s3_fail(s, r, x, err);
		struct timespec ts = { (time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9) };
		nanosleep(&ts, NULL);
	}
}

/* The parts of one multipart upload, shared by the workers sending them. */
struct parts {
	struct mlf_s3 *s;
	const char *bucket, *key, *local, *enc_id;
	int64_t size, part_size, count;
	pthread_mutex_t lock;
	int64_t next;          /* the next part to send, 0-based */
	int failed;            /* set by the first failure: the others stop taking parts */
	struct mlf_error err;  /* that failure */
	char (*etags)[128];
};

struct worker {
	struct parts *p;
	struct mlf_http *http;
};

static void *send_parts(void *arg)
{
	struct worker *w = arg;
	struct parts *p = w->p;
	struct mlf_http_exchange x = { .answer = MLF_BUF_INIT };
	struct mlf_error err = MLF_ERROR_INIT;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		int64_t n = p->failed || p->next >= p->count ? -1 : p->next++;
		pthread_mutex_unlock(&p->lock);
		if (n < 0)
			break;
		int64_t off = n * p->part_size;
		char *q = mlf_xasprintf("partNumber=%lld&uploadId=%s", (long long)n + 1, p->enc_id);
		struct s3_req pr = { .method = "PUT", .bucket = p->bucket, .key = p->key, .query = q,
				     .upload_path = p->local, .upload_offset = off,
				     .upload_len = p->size - off < p->part_size ? p->size - off : p->part_size };
		int rc = s3_call_on(p->s, w->http, &pr, &x, &err);
		free(q);
		if (!rc && !x.etag[0])
			rc = mlf_fail(&err, MLF_EX_UNAVAILABLE, "S3 endpoint %s took part %lld of s3://%s/%s "
				      "without an ETag", p->s->endpoint, (long long)n + 1, p->bucket, p->key);
		pthread_mutex_lock(&p->lock);
		if (rc && !p->failed) {
			p->failed = 1;
			p->err = err;
		}
		if (!rc)
			memcpy(p->etags[n], x.etag, sizeof(p->etags[n]));
		pthread_mutex_unlock(&p->lock);
		if (rc)
			break;
	}
	mlf_buf_release(&x.answer);
	return NULL;
}

/* Send every part, MLF_S3_PARALLEL_PARTS at a time; 0, or -1 with the first failure. */
static int send_all_parts(struct parts *p, struct mlf_error *err)
{
	struct mlf_s3 *s = p->s;
	int nworkers = p->count < MLF_S3_PARALLEL_PARTS ? (int)p->count : MLF_S3_PARALLEL_PARTS;
	struct worker w[MLF_S3_PARALLEL_PARTS];
	pthread_t tid[MLF_S3_PARALLEL_PARTS];
	int started = 0;

	/* Opened here, in one thread: libcurl's global set-up is not for concurrent callers. */
	for (int i = 0; i < nworkers; i++)
		if (!s->workers[i] && mlf_http_open(&s->workers[i], &s->ho, err))
			return -1;
	/* Signals stay with the calling thread, which decides what an interruption means. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (int i = 0; i < nworkers; i++) {
		w[i].p = p;
		w[i].http = s->workers[i];
		if (pthread_create(&tid[i], NULL, send_parts, &w[i]) != 0)
			break;
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!started)  /* no thread to spare: send them from here */
		send_parts(&(struct worker){ p, s->http });
	for (int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	if (p->failed) {
		*err = p->err;
		return -1;
	}
	return 0;
}

static int put_multipart(struct mlf_s3 *s, const char *bucket, const char *key, const char *local,
			 int64_t size, struct mlf_error *err)
{
	struct mlf_http_exchange x = { .answer = MLF_BUF_INIT };
	struct mlf_buf done = MLF_BUF_INIT;
	int64_t part = s->part_size;
	while ((size + part - 1) / part > MAX_PARTS)
		part *= 2;
	struct s3_req r = { .method = "POST", .bucket = bucket, .key = key, .query = "uploads=" };
	if (s3_call(s, &r, &x, err)) {
		mlf_buf_release(&x.answer);
		return -1;
	}
	char *id = mlf_s3_parse_upload_id(x.answer.data, x.answer.len);
	if (!id) {
		mlf_buf_release(&x.answer);
		return mlf_fail(err, MLF_EX_UNAVAILABLE, "S3 endpoint %s started a multipart upload of "
				"s3://%s/%s without an UploadId", s->endpoint, bucket, key);
	}
	char *enc_id = mlf_uri_encode(id, NULL);
	struct parts p = { .s = s, .bucket = bucket, .key = key, .local = local, .enc_id = enc_id,
			   .size = size, .part_size = part, .count = (size + part - 1) / part };
	pthread_mutex_init(&p.lock, NULL);
	p.etags = mlf_xcalloc((size_t)p.count, sizeof(*p.etags));
	int rc = send_all_parts(&p, err);
	if (!rc) {
		mlf_buf_adds(&done, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
		/* ETags are quoted hex: nothing in them needs escaping in XML */
		for (int64_t n = 0; n < p.count; n++)
			mlf_buf_addf(&done, "<Part><PartNumber>%lld</PartNumber><ETag>%s</ETag></Part>",
				     (long long)n + 1, p.etags[n]);
		mlf_buf_adds(&done, "</CompleteMultipartUpload>");
		char *q = mlf_xasprintf("uploadId=%s", enc_id);
		struct s3_req cr = { .method = "POST", .bucket = bucket, .key = key, .query = q,
				     .body = done.data, .body_len = done.len };
		rc = complete_upload(s, &cr, &x, err);
		/* A retried completion finds its upload gone when the first one did complete. */
		if (rc && err->kind == MLF_ERR_NOT_FOUND && object_has_size(s, bucket, key, size)) {
			mlf_error_clear(err);
			rc = 0;
		}
		free(q);
	}
	if (rc)
		abort_upload(s, bucket, key, id);
	pthread_mutex_destroy(&p.lock);
	free(p.etags);
	mlf_buf_release(&done);
	mlf_buf_release(&x.answer);
	free(enc_id);
	free(id);
	return rc;
}

int mlf_s3_put_file(struct mlf_s3 *s, const char *bucket, const char *key, const char *local,
		    struct mlf_error *err)
{
	struct stat st;
	if (stat(local, &st) != 0)
		return mlf_fail_errno(err, MLF_EX_NOINPUT, "cannot read '%s'", local);
	if (!S_ISREG(st.st_mode))
		return mlf_fail(err, MLF_EX_NOINPUT, "'%s' is not a regular file", local);
	int rc = (int64_t)st.st_size > s->part_size
			 ? put_multipart(s, bucket, key, local, (int64_t)st.st_size, err)
			 : put_single(s, bucket, key, local, (int64_t)st.st_size, err);
	if (rc)
		mlf_error_prefix(err, "uploading '%s'", local);
	return rc;
}

int mlf_s3_put_bytes(struct mlf_s3 *s, const char *bucket, const char *key, const void *data,
		     size_t len, struct mlf_error *err)
{
	struct mlf_http_exchange x = { .answer = MLF_BUF_INIT };
	struct s3_req r = { .method = "PUT", .bucket = bucket, .key = key, .body = data, .body_len = len,
			    .content_type = "application/octet-stream" };
	int rc = s3_call(s, &r, &x, err);
	mlf_buf_release(&x.answer);
	return rc;
}

int mlf_s3_get_file(struct mlf_s3 *s, const char *bucket, const char *key, const char *local,
		    struct mlf_error *err)
{
	struct mlf_http_exchange x = { .answer = MLF_BUF_INIT };
	struct s3_req r = { .method = "GET", .bucket = bucket, .key = key, .download_path = local };
	int rc = s3_call(s, &r, &x, err);
	mlf_buf_release(&x.answer);
	return rc;
}

int mlf_s3_delete(struct mlf_s3 *s, const char *bucket, const char *key, struct mlf_error *err)
{
	struct mlf_http_exchange x = { .answer = MLF_BUF_INIT };
	struct s3_req r = { .method = "DELETE", .bucket = bucket, .key = key };
	int rc = s3_call(s, &r, &x, err);
	mlf_buf_release(&x.answer);
	return rc;
}

int mlf_s3_list(struct mlf_s3 *s, const char *bucket, const char *prefix, struct mlf_s3_listing *out,
		struct mlf_error *err)
{
	struct mlf_http_exchange x = { .answer = MLF_BUF_INIT };
	char *enc_prefix = mlf_uri_encode(prefix ? prefix : "", NULL);
	int rc = 0;

	memset(out, 0, sizeof(*out));
	for (int page = 0;; page++) {
		struct mlf_buf q = MLF_BUF_INIT;
		/* sorted by name, as curl 7.88 signs the query verbatim */
		if (out->next_token) {
			char *t = mlf_uri_encode(out->next_token, NULL);
			mlf_buf_addf(&q, "continuation-token=%s&", t);
			free(t);
		}
		mlf_buf_addf(&q, "encoding-type=url&list-type=2&prefix=%s", enc_prefix);
		struct s3_req r = { .method = "GET", .bucket = bucket, .key = "", .query = q.data };
		rc = s3_call(s, &r, &x, err);
		mlf_buf_release(&q);
		if (!rc)
			rc = mlf_s3_parse_listing(x.answer.data, x.answer.len, 1, out, err);
		if (rc || !out->truncated)
			break;
		if (page > 100000) {
			rc = mlf_fail(err, MLF_EX_UNAVAILABLE, "S3 listing of s3://%s/%s does not end",
				      bucket, prefix);
			break;
		}
	}
	if (rc)
		mlf_s3_listing_release(out);
	mlf_buf_release(&x.answer);
	free(enc_prefix);
	return rc;
}

const char *mlf_s3_endpoint(const struct mlf_s3 *s)
{
	return s->endpoint;
}
