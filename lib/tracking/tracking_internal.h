/*
 * What a tracking backend implements (internal to lib/tracking/).
 *
 * tracking.c does everything that is the same for all stores before calling
 * an op: argument checks, MLflow's key rules, system tags on new runs,
 * splitting batches within MLflow's limits, and artifact transfer (which
 * depends on the run's artifact URI, not on the store).  An op left NULL
 * means the backend cannot do it: the caller gets MLF_ERR_UNSUPPORTED.
 *
 * Ops follow the public contract in mlf/tracking.h: return 0 or -1 with err
 * filled, fill caller-owned output structs, borrow their inputs.
 * log_batch receives at most MLF_BATCH_MAX_* items of each kind.
 * create_run receives the complete tag list (system tags included) and a
 * non-zero start_time and non-NULL user_id.
 */
#ifndef MLF_LIB_TRACKING_TRACKING_INTERNAL_H
#define MLF_LIB_TRACKING_TRACKING_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "mlf/base.h"
#include "mlf/tracking.h"

struct mlf_http;

struct mlf_tracking_ops {
	const char *name;  /* "sqlite" | "rest" | "file" */
	void (*close)(void *impl);
	int (*ping)(void *impl, struct mlf_error *err);
	int (*get_experiment)(void *impl, const char *id, struct mlf_experiment *out,
			      struct mlf_error *err);
	int (*get_experiment_by_name)(void *impl, const char *name, struct mlf_experiment *out,
				      struct mlf_error *err);
	int (*create_experiment)(void *impl, const char *name, const char *id,
				 const char *artifact_location, char **id_out,
				 struct mlf_error *err);
	int (*create_run)(void *impl, const char *experiment_id, const char *run_name,
			  const char *user_id, int64_t start_time, const struct mlf_kvs *tags,
			  struct mlf_run *out, struct mlf_error *err);
	int (*log_batch)(void *impl, const char *run_id, const struct mlf_metric *metrics,
			 size_t nmetrics, const struct mlf_kv *params, size_t nparams,
			 const struct mlf_kv *tags, size_t ntags, struct mlf_error *err);
	/* status MLF_RUN_RUNNING with end_time 0 reopens a run */
	int (*update_run)(void *impl, const char *run_id, int status, int64_t end_time,
			  struct mlf_error *err);
	int (*get_run)(void *impl, const char *run_id, struct mlf_run *out,
		       struct mlf_error *err);
	int (*get_metric_history)(void *impl, const char *run_id, const char *key,
				  struct mlf_metric **out, size_t *n, struct mlf_error *err);
	int (*search_runs)(void *impl, const char *experiment_id, const char *tag_key,
			   const char *tag_value, struct mlf_run_list *out, struct mlf_error *err);
	int (*delete_run)(void *impl, const char *run_id, struct mlf_error *err);
	int (*log_dataset_input)(void *impl, const char *run_id, const char *name,
				 const char *digest, const char *source_type, const char *source,
				 const char *context, struct mlf_error *err);
	int (*ensure_registered_model)(void *impl, const char *name, struct mlf_error *err);
	int (*create_model_version)(void *impl, const char *name, const char *source,
				    const char *run_id, const char *model_id,
				    struct mlf_model_version *out, struct mlf_error *err);
	/* logged models (mlf/tracking.h); the facade checks names and arguments */
	int (*create_logged_model)(void *impl, const struct mlf_logged_model_request *req,
				   const char *model_id, struct mlf_logged_model *out,
				   struct mlf_error *err);
	int (*get_logged_model)(void *impl, const char *model_id, struct mlf_logged_model *out,
				struct mlf_error *err);
	int (*finalize_logged_model)(void *impl, const char *model_id, int status,
				     struct mlf_error *err);
	int (*set_logged_model_tag)(void *impl, const char *model_id, const char *key,
				    const char *value, struct mlf_error *err);
	int (*log_model_output)(void *impl, const char *run_id, const char *model_id, int64_t step,
				struct mlf_error *err);
	int (*get_model_version)(void *impl, const char *name, const char *version,
				 struct mlf_model_version *out, struct mlf_error *err);
	int (*set_alias)(void *impl, const char *name, const char *alias, const char *version,
			 struct mlf_error *err);
	int (*delete_alias)(void *impl, const char *name, const char *alias, struct mlf_error *err);
	int (*set_model_version_tag)(void *impl, const char *name, const char *version,
				     const char *key, const char *value, struct mlf_error *err);
	/* Every live version of `name` into *out: key = version, value = run id ("" when none);
	 * a model that does not exist has none. */
	int (*list_model_versions)(void *impl, const char *name, struct mlf_kvs *out,
				   struct mlf_error *err);
	int (*get_alias)(void *impl, const char *name, const char *alias,
			 struct mlf_model_version *out, struct mlf_error *err);
	/* The HTTP client the artifact proxy should use, when the store is a server. */
	struct mlf_http *(*http)(void *impl);
};

/*
 * A logged model lists the registry versions made of it in its tag
 * mlflow.modelVersions, a JSON list [{"name": ..., "version": N}] that MLflow's
 * UI reads; a server writes it itself, the local stores here.  The new value
 * with (name, version) appended to `current` (NULL or not a list: none yet).
 */
#define MLF_TAG_MODEL_VERSIONS "mlflow.modelVersions"
char *mlf_model_versions_tag_add(const char *current, const char *name, int64_t version);

/* The retry policy the options ask for (MLflow's defaults where they are silent): REST and S3. */
struct mlf_retry_policy mlf_tracking_retry_policy(const struct mlf_tracking_options *o);

/* Each backend's constructor; `impl` is what the ops receive. */
int mlf_sqlite_store_open(const struct mlf_tracking_options *opts, void **impl,
			  struct mlf_error *err);
int mlf_rest_store_open(const struct mlf_tracking_options *opts, void **impl,
			struct mlf_error *err);
int mlf_file_store_open(const struct mlf_tracking_options *opts, void **impl,
			struct mlf_error *err);

extern const struct mlf_tracking_ops mlf_sqlite_store_ops;
extern const struct mlf_tracking_ops mlf_rest_store_ops;
extern const struct mlf_tracking_ops mlf_file_store_ops;

/*
 * Artifact repositories by artifact URI (lib/tracking/artifacts_*.c).
 * `http` is the tracking server's client, needed for mlflow-artifacts: URIs.
 */
int mlf_local_artifacts_log(const char *artifact_root, const char *workspace,
			    const char *local_path, const char *artifact_dir,
			    struct mlf_error *err);
int mlf_local_artifacts_list(const char *artifact_root, const char *workspace,
			     const char *path, struct mlf_artifact_list *out,
			     struct mlf_error *err);
int mlf_local_artifacts_download(const char *artifact_root, const char *workspace,
				 const char *path, const char *local_dst,
				 struct mlf_error *err);
int mlf_proxy_artifacts_log(struct mlf_http *http, const char *artifact_uri,
			    const char *local_path, const char *artifact_dir,
			    struct mlf_error *err);
int mlf_proxy_artifacts_list(struct mlf_http *http, const char *artifact_uri,
			     const char *path, struct mlf_artifact_list *out,
			     struct mlf_error *err);
int mlf_proxy_artifacts_download(struct mlf_http *http, const char *artifact_uri,
				 const char *path, const char *local_dst,
				 struct mlf_error *err);

/*
 * S3 (lib/tracking/s3.c, s3_parse.c, artifacts_s3.c): a client for one
 * endpoint with one set of credentials, opened on the first s3:// location
 * a tracking handle meets.  Options are borrowed during mlf_s3_open only.
 */
#define MLF_S3_MULTIPART_THRESHOLD (8 * 1024 * 1024)  /* and part size: boto3's defaults */

struct mlf_s3_options {
	const char *endpoint_url;  /* NULL: AWS, https://s3.REGION.amazonaws.com */
	const char *region;        /* NULL: AWS_REGION, the profile's region, else us-east-1 */
	const char *profile;       /* NULL: "default" */
	const char *ca_bundle;
	int ignore_tls;
	int64_t part_size;         /* 0: MLF_S3_MULTIPART_THRESHOLD; larger files go in parts */
	double timeout_s;
	struct mlf_retry_policy retry;
};

struct mlf_s3;

struct mlf_s3_object {
	char *key;
	int64_t size;
};

struct mlf_s3_listing {
	struct mlf_s3_object *items;
	size_t n, cap;
	char *next_token;  /* while truncated */
	int truncated;
};

int mlf_s3_open(struct mlf_s3 **out, const struct mlf_s3_options *o, struct mlf_error *err);
void mlf_s3_close(struct mlf_s3 *s);
const char *mlf_s3_endpoint(const struct mlf_s3 *s);
/* s3://bucket/prefix -> "bucket", "prefix" (cleaned, "" for the bucket's top); new strings. */
int mlf_s3_parse_uri(const char *uri, char **bucket, char **prefix, struct mlf_error *err);
int mlf_s3_put_file(struct mlf_s3 *s, const char *bucket, const char *key, const char *local,
		    struct mlf_error *err);
int mlf_s3_put_bytes(struct mlf_s3 *s, const char *bucket, const char *key, const void *data,
		     size_t len, struct mlf_error *err);
int mlf_s3_get_file(struct mlf_s3 *s, const char *bucket, const char *key, const char *local,
		    struct mlf_error *err);
int mlf_s3_delete(struct mlf_s3 *s, const char *bucket, const char *key, struct mlf_error *err);
/* Every key starting with `prefix` (all pages), into *out (released by the caller). */
int mlf_s3_list(struct mlf_s3 *s, const char *bucket, const char *prefix, struct mlf_s3_listing *out,
		struct mlf_error *err);
void mlf_s3_listing_release(struct mlf_s3_listing *l);

/* Parsers of S3's answers and the AWS shared files (s3_parse.c; fuzzed by tests/fuzz/fuzz_s3.c). */
/* Append a ListObjectsV2 page's objects to *out and set truncated/next_token. */
int mlf_s3_parse_listing(const char *xml, size_t len, int url_encoded, struct mlf_s3_listing *out,
			 struct mlf_error *err);
/* 1 with *code and *message (each may be NULL) when `xml` is an <Error> document, else 0. */
int mlf_s3_parse_error(const char *xml, size_t len, char **code, char **message);
char *mlf_s3_parse_upload_id(const char *xml, size_t len);  /* NULL when absent */
/* The value of `key` in [section] of an AWS ini file: 1 with *value (new), 0 absent, -1 broken. */
int mlf_aws_ini_get(const char *text, size_t len, const char *section, const char *key,
		    char **value);

int mlf_s3_artifacts_log(struct mlf_s3 *s3, const char *artifact_uri, const char *local_path,
			 const char *artifact_dir, struct mlf_error *err);
int mlf_s3_artifacts_list(struct mlf_s3 *s3, const char *artifact_uri, const char *path,
			  struct mlf_artifact_list *out, struct mlf_error *err);
int mlf_s3_artifacts_download(struct mlf_s3 *s3, const char *artifact_uri, const char *path,
			      const char *local_dst, struct mlf_error *err);

/* Struct helpers shared by backends. */
void mlf_artifact_list_add(struct mlf_artifact_list *l, const char *path, int is_dir,
			   int64_t size);
void mlf_artifact_list_sort(struct mlf_artifact_list *l);
void mlf_run_list_add(struct mlf_run_list *l, struct mlf_run *moved);  /* takes *moved's contents */

/*
 * Artifact paths: the '/'-separated paths of artifacts relative to a run's
 * artifact root, as artifacts_local.c, artifacts_proxy.c and artifacts_s3.c
 * take and give them (internal to lib/tracking/).
 *
 * Ownership: the functions borrow their arguments.  Those returning `char *`
 * return a new string the caller frees; mlf_artifact_path_base returns a
 * pointer into its argument.
 */

/* "a//b/" -> "a/b"; NULL or "" -> "". */
char *mlf_artifact_path_clean(const char *path);
/* "a" + "b" -> "a/b"; an empty side gives the other one. */
char *mlf_artifact_path_join(const char *a, const char *b);
/* What follows the last '/' ("a/b" -> "b", "a/" -> ""). */
const char *mlf_artifact_path_base(const char *path);
/*
 * An artifact path stays inside the artifact root: relative, no "." or ".."
 * parts.  NULL passes.  `what` names the path in the message ("artifact path").
 */
int mlf_artifact_path_check(const char *what, const char *path, struct mlf_error *err);
/* Append "/seg1/seg2..." of `rel` to a URL, each segment percent-encoded; empty ones dropped. */
void mlf_artifact_path_encode(struct mlf_buf *b, const char *rel);

/*
 * What a remote artifact store does to log a file or a folder: `put` is called
 * for each file with its local path and its artifact path, which is below
 * `artifact_dir` under the file's or folder's own name, as MLflow's
 * log_artifact does.  Files only: neither the proxy nor S3 has empty folders.
 */
typedef int (*mlf_artifact_put_fn)(void *ctx, const char *local, const char *artifact_path,
				   struct mlf_error *err);
int mlf_artifact_put_each(const char *local_path, const char *artifact_dir, mlf_artifact_put_fn put,
			  void *ctx, struct mlf_error *err);

/*
 * The part of the HTTP client that only the REST backend needs (internal to
 * lib/): a call for requests that must not be applied twice.
 */

/*
 * Asked when a non-idempotent request may or may not have taken effect
 * (the connection broke after sending, or a 5xx other than 503): return 1
 * with *response filled when the first attempt did take effect, 0 when it
 * did not (the request is then sent again), -1 with err filled on failure.
 */
typedef int (*mlf_http_reconcile_fn)(void *ctx, json_t **response, struct mlf_error *err);

/*
 * mlf_http_call() for a non-idempotent POST, with `reconcile` deciding
 * whether to resend after an unclear failure.  All attempts, resends and
 * reconcile's own calls aside, count against the retry policy.
 */
int mlf_http_call_reconciled(struct mlf_http *h, const char *method, const char *path,
			     json_t *body, mlf_http_reconcile_fn reconcile, void *ctx,
			     json_t **response, struct mlf_error *err);

/*
 * One request of any kind, for a client that reads the answers itself (S3's
 * are XML).  Retried like every call (as idempotent: the caller sends only
 * requests that are); returns 0 once a final answer arrived, whatever its
 * status, with status, ETag, Content-Length and body filled in; -1 when
 * none arrived or a local file failed.  The body is either `body` or bytes
 * [upload_offset, upload_offset + upload_len) of upload_path (upload_len -1:
 * to the end).  With download_path, a 2xx answer's body goes into that file
 * (atomically), any other's into `answer`.  The caller initialises `answer`
 * (MLF_BUF_INIT) and releases it.
 */
struct mlf_http_exchange {
	const char *method;
	const char *url;                /* absolute */
	const char *const *headers;     /* extra "Name: value" lines, NULL-terminated, or NULL */
	const char *body;
	size_t body_len;
	const char *content_type;       /* of body or upload; NULL: JSON / octet-stream */
	const char *upload_path;
	int64_t upload_offset, upload_len;
	const char *download_path;
	/* the answer */
	long status;
	char etag[128];                 /* quotes kept; "" when none */
	int64_t content_length;         /* -1 when not given */
	struct mlf_buf answer;
};

int mlf_http_exchange(struct mlf_http *h, struct mlf_http_exchange *x, struct mlf_error *err);

#endif
