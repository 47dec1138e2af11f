/*
 * mlf/tracking.h: recording runs in MLflow.  Sections: tracking and artifact
 * URIs; when an HTTP request is retried; the HTTP client; and the tracking
 * interface itself, one set of calls over MLflow's three stores (its SQLite
 * schema, its REST API, its file store), whose backends live in
 * lib/tracking/sqlite/, rest/ and file/.
 */
/*
 * Tracking and artifact URIs, parsed the way MLflow reads them (see
 * docs/mlflow-formats.md section 5), with the traps turned into errors.
 *
 * All returned strings are allocated; the caller frees them.
 */
#ifndef MLF_TRACKING_H
#define MLF_TRACKING_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mlf/base.h"

enum mlf_uri_kind {
	MLF_URI_INVALID = 0,
	MLF_URI_SQLITE,           /* sqlite:///rel.db, sqlite:////abs.db */
	MLF_URI_HTTP,             /* http:// and https:// */
	MLF_URI_FILE,             /* file: URIs and plain paths */
	MLF_URI_MLFLOW_ARTIFACTS, /* mlflow-artifacts:/path or mlflow-artifacts://host:port/path */
	MLF_URI_S3,               /* s3://bucket/prefix (artifacts only) */
	MLF_URI_OTHER,            /* gs://, wasbs://, ... : recognised, not handled here */
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

/*
 * Whether and when to retry an HTTP request to a tracking server: a pure
 * function, so the rules can be unit-tested without a network.
 *
 * Retried: transport failures (could not connect, connection reset, timeout)
 * and statuses 408, 429, 500, 502, 503, 504.  A request that is not
 * idempotent (creating a run) is retried only when it certainly never
 * reached the server (connection refused, DNS failure) or the server said
 * so (429, 503 answer before any work is done); otherwise the caller must
 * first find out whether the first attempt took effect.
 */

struct mlf_retry_policy {
	int max_retries;        /* retries after the first attempt, 0..10 */
	double backoff_factor;  /* seconds */
	double backoff_max;     /* cap on one delay, seconds */
	double backoff_jitter;  /* uniform extra seconds, 0..jitter */
	int respect_retry_after;
};

#define MLF_RETRY_POLICY_DEFAULT { 7, 2.0, 120.0, 1.0, 1 }

enum mlf_transport {
	MLF_TRANSPORT_OK = 0,        /* a response arrived: look at the status */
	MLF_TRANSPORT_NOT_SENT,      /* connect/resolve failed: the server saw nothing */
	MLF_TRANSPORT_LOST,          /* reset or timeout after sending: outcome unknown */
	MLF_TRANSPORT_FATAL,         /* TLS verification, bad URL, ...: retrying cannot help */
};

enum mlf_retry_verdict {
	MLF_RETRY_NO = 0,        /* final: success or a non-retryable failure */
	MLF_RETRY_YES,           /* sleep *delay_s, then send again */
	MLF_RETRY_CHECK_FIRST,   /* non-idempotent and maybe applied: reconcile before resending */
};

/*
 * `attempt` counts retries already made (0 after the first try).
 * `retry_after` is the header's value or NULL; `jitter_u` a uniform sample
 * in [0,1) (passed in so tests are deterministic).
 */
enum mlf_retry_verdict mlf_retry_decide(const struct mlf_retry_policy *p, int attempt,
					enum mlf_transport transport, long http_status,
					int idempotent, const char *retry_after,
					double jitter_u, double *delay_s);

/* Seconds from a Retry-After value (delta-seconds or HTTP-date); -1 if unparsable. */
double mlf_retry_after_seconds(const char *value, long now_epoch_s);

/*
 * HTTP client for an MLflow server (libcurl + jansson), with MLflow's retry
 * rules: connection errors, 408/429/500/502/503/504 are retried with
 * exponential backoff (factor * 2^(n-1), capped, plus jitter), honouring
 * Retry-After, a bounded number of times.  See retry.h for the decision.
 *
 * Ownership: mlf_http_open() copies the options; JSON bodies are borrowed;
 * a returned response is a new reference the caller json_decref()s.
 * Credentials are never put in messages.
 */

struct mlf_http_options {
	const char *base_url;      /* tracking URI, trailing '/' ignored */
	const char *token;
	const char *username;
	const char *password;
	const char *ca_path;
	int insecure_tls;
	double timeout_s;
	struct mlf_retry_policy retry;
	/* S3 (lib/tracking/s3.c): sign with libcurl's AWS SigV4 ("aws:amz:REGION:s3"),
	 * username and password being the access key id and the secret key. */
	const char *aws_sigv4;
	const char *session_token;  /* sent as x-amz-security-token */
	/* How messages name the server and the settings that lead to it;
	 * NULL: "MLflow server", "the tracking URI", "MLFLOW_TRACKING_SERVER_CERT_PATH". */
	const char *service;
	const char *uri_setting;
	const char *ca_setting;
};

struct mlf_http;

int mlf_http_open(struct mlf_http **out, const struct mlf_http_options *opts,
		  struct mlf_error *err);
void mlf_http_close(struct mlf_http *h);
const char *mlf_http_base_url(const struct mlf_http *h);

/*
 * Call an MLflow endpoint: `path` is relative to the base URL (e.g.
 * "/api/2.0/mlflow/runs/get?run_id=..."), `body` is sent as JSON for
 * POST/PATCH/DELETE.  `idempotent` 0 marks a call that must not be repeated
 * blindly after the request may have reached the server (see retry.h).
 * On success *response holds the parsed JSON object ({} for an empty body).
 * MLflow errors map to err->kind (404 -> NOT_FOUND, RESOURCE_ALREADY_EXISTS
 * -> EXISTS, 401/403 -> AUTH, retries exhausted -> UNREACHABLE).
 */
int mlf_http_call(struct mlf_http *h, const char *method, const char *path,
		  json_t *body, int idempotent, json_t **response, struct mlf_error *err);

/* Stream a local file as the body of PUT to `url` (memory flat in file size). */
int mlf_http_put_file(struct mlf_http *h, const char *url, const char *local_path,
		      struct mlf_error *err);
/* GET `url` into a local file, written atomically. */
int mlf_http_get_file(struct mlf_http *h, const char *url, const char *local_path,
		      struct mlf_error *err);

/*
 * The tracking library: one interface over MLflow's three stores.
 *
 *   sqlite:///path.db    MLflow's SQL schema written directly (embedded default)
 *   http(s)://host       MLflow REST API
 *   file: URI or path    MLflow's file store layout
 *
 * Ownership: every struct filled by a mlf_tracking_* call belongs to the
 * caller, who releases it with the matching *_release() function (which
 * also makes it safe to fill again).  Input strings are borrowed for the
 * duration of the call only.  A `struct mlf_tracking` is used by one thread
 * at a time.
 *
 * Errors: -1 with `err` filled.  err->kind tells "not found"
 * (MLF_ERR_NOT_FOUND), "already exists" (MLF_ERR_EXISTS), authentication
 * (MLF_ERR_AUTH), an unreachable store (MLF_ERR_UNREACHABLE, status 69) and
 * what a backend cannot do (MLF_ERR_UNSUPPORTED) apart from the rest.
 */

#define MLF_ERR_UNSUPPORTED 100  /* an enum mlf_errkind value reserved for backends */

/* ---- plain values ---------------------------------------------------- */

struct mlf_kv {
	char *key;
	char *value;
};

/* An ordered list of key/value pairs; keys are not forced unique. */
struct mlf_kvs {
	struct mlf_kv *items;
	size_t n, cap;
};

#define MLF_KVS_INIT { NULL, 0, 0 }

void mlf_kvs_add(struct mlf_kvs *kvs, const char *key, const char *value);
/* Add, or replace the value of the first pair with this key. */
void mlf_kvs_set(struct mlf_kvs *kvs, const char *key, const char *value);
const char *mlf_kvs_get(const struct mlf_kvs *kvs, const char *key);
void mlf_kvs_release(struct mlf_kvs *kvs);

struct mlf_metric {
	char *key;
	double value;       /* NaN and +-Inf allowed */
	int64_t timestamp;  /* ms since the epoch */
	int64_t step;
};

void mlf_metrics_release(struct mlf_metric *m, size_t n);  /* frees keys and the array */

enum mlf_run_status {
	MLF_RUN_RUNNING = 1,
	MLF_RUN_SCHEDULED = 2,
	MLF_RUN_FINISHED = 3,
	MLF_RUN_FAILED = 4,
	MLF_RUN_KILLED = 5,
};

const char *mlf_run_status_name(int status);  /* "FINISHED", ...; "UNKNOWN" otherwise */
int mlf_run_status_parse(const char *name);   /* 0 when unknown */

struct mlf_experiment {
	char *experiment_id;
	char *name;
	char *artifact_location;
	char *lifecycle_stage;   /* "active" | "deleted" */
	int64_t creation_time;   /* 0 when the store does not record it */
	int64_t last_update_time;
	struct mlf_kvs tags;
};

void mlf_experiment_release(struct mlf_experiment *e);

struct mlf_run {
	char *run_id;
	char *experiment_id;
	char *run_name;
	char *user_id;
	char *artifact_uri;
	char *lifecycle_stage;
	int status;              /* enum mlf_run_status */
	int64_t start_time;
	int64_t end_time;        /* 0 while the run has not ended */
	struct mlf_kvs params;
	struct mlf_kvs tags;
	struct mlf_metric *metrics;  /* latest value per key */
	size_t nmetrics;
};

void mlf_run_release(struct mlf_run *r);

struct mlf_run_list {
	struct mlf_run *runs;
	size_t n;
};

void mlf_run_list_release(struct mlf_run_list *l);

struct mlf_artifact_entry {
	char *path;      /* relative to the run's artifact root, '/'-separated */
	int is_dir;
	int64_t size;    /* -1 for folders */
};

struct mlf_artifact_list {
	struct mlf_artifact_entry *items;
	size_t n;
};

void mlf_artifact_list_release(struct mlf_artifact_list *l);

struct mlf_model_version {
	char *name;
	char *version;   /* decimal string, as MLflow transports it */
	char *source;
	char *run_id;
	char *status;    /* "READY", ... */
	struct mlf_kvs aliases;  /* key = alias, value = "" */
};

void mlf_model_version_release(struct mlf_model_version *v);

/*
 * An MLflow 3 LoggedModel: a model with its own id ("m-" and 32 hex) and its
 * own artifact folder, <experiment artifact root>/models/<model_id>/artifacts,
 * linked to the run that made it by a run output, and registered by
 * "models:/<model_id>".  Status as MLflow stores it: 1 pending (files still
 * being written), 2 ready, 3 upload failed.
 */
enum mlf_logged_model_status {
	MLF_LOGGED_MODEL_PENDING = 1,
	MLF_LOGGED_MODEL_READY = 2,
	MLF_LOGGED_MODEL_FAILED = 3,
};

struct mlf_logged_model {
	char *model_id;
	char *experiment_id;
	char *name;
	char *artifact_uri;    /* where its files go (local path, file: URI or mlflow-artifacts:) */
	char *source_run_id;
	char *model_type;
	int status;            /* enum mlf_logged_model_status */
	struct mlf_kvs params;
	struct mlf_kvs tags;
};

void mlf_logged_model_release(struct mlf_logged_model *m);

/* ---- opening a store --------------------------------------------------- */

/* Everything a backend needs; strings are borrowed and copied by open(). */
struct mlf_tracking_options {
	const char *uri;           /* tracking URI; required */
	const char *workspace;     /* base for relative paths; NULL = CWD */
	int create_store;          /* sqlite/file: create a missing database or store folder;
				      else opening one fails with MLF_ERR_NOT_FOUND (status 66) */
	/* REST only */
	const char *token;         /* bearer token */
	const char *username;      /* basic auth when both username and password are set */
	const char *password;
	const char *ca_path;       /* CA bundle for TLS verification */
	int insecure_tls;          /* explicit opt-out of TLS verification */
	double timeout_s;          /* per request (connect and transfer); 0 = 120 */
	int max_retries;           /* -1 = default (7) */
	double backoff_factor;     /* seconds; < 0 = default (2) */
	double backoff_max;        /* cap on one sleep, seconds; 0 = 120 */
	double backoff_jitter;     /* uniform extra seconds; < 0 = default (1) */
	int ignore_retry_after;    /* 1 = do not honour Retry-After; HTTP settings apply to S3 too */
	/* s3:// artifact locations; credentials come from the AWS variables and files */
	const char *s3_endpoint_url;  /* S3-compatible server; NULL = AWS */
	const char *s3_region;        /* NULL = AWS_REGION, the profile's, else us-east-1 */
	const char *s3_profile;       /* NULL = "default" */
	const char *s3_ca_bundle;
	int s3_ignore_tls;
};

void mlf_tracking_options_init(struct mlf_tracking_options *o);

struct mlf_tracking;

int mlf_tracking_open(struct mlf_tracking **out, const struct mlf_tracking_options *opts,
		      struct mlf_error *err);
void mlf_tracking_close(struct mlf_tracking *t);
const char *mlf_tracking_backend(const struct mlf_tracking *t);  /* "sqlite" | "rest" | "file" */
const char *mlf_tracking_uri(const struct mlf_tracking *t);      /* credentials redacted */

/* Can we talk to the store at all (server answers, database opens, folder readable)? */
int mlf_tracking_ping(struct mlf_tracking *t, struct mlf_error *err);

/* ---- experiments ------------------------------------------------------- */

int mlf_tracking_get_experiment(struct mlf_tracking *t, const char *experiment_id,
				struct mlf_experiment *out, struct mlf_error *err);
int mlf_tracking_get_experiment_by_name(struct mlf_tracking *t, const char *name,
					struct mlf_experiment *out, struct mlf_error *err);
/*
 * Create an experiment.  `experiment_id` NULL lets the store choose; a given
 * id is honoured exactly or the call fails (MLF_ERR_UNSUPPORTED on a REST
 * server, which always assigns ids).  `artifact_location` NULL = the store's
 * default.  *id_out (may be NULL) receives the id.
 */
int mlf_tracking_create_experiment(struct mlf_tracking *t, const char *name,
				   const char *experiment_id, const char *artifact_location,
				   char **id_out, struct mlf_error *err);

/* ---- runs -------------------------------------------------------------- */

struct mlf_run_request {
	const char *experiment_id;
	const char *run_name;
	const char *user_id;         /* NULL = the login name */
	int64_t start_time;          /* 0 = now */
	const struct mlf_kvs *tags;  /* may be NULL; system tags are added to these */
	const char *source_name;     /* mlflow.source.name; NULL = the program's name */
	const char *git_dir;         /* where to look for a git checkout; NULL = workspace */
};

/*
 * Start a run.  Adds MLflow's system tags (mlflow.user, mlflow.source.name,
 * mlflow.source.type=LOCAL, mlflow.runName, mlflow.source.git.commit when
 * the workspace is a git checkout) unless the caller set them.
 */
int mlf_tracking_create_run(struct mlf_tracking *t, const struct mlf_run_request *req,
			    struct mlf_run *out, struct mlf_error *err);
/* Log any mix; split into batches within MLflow's limits. */
int mlf_tracking_log_batch(struct mlf_tracking *t, const char *run_id,
			   const struct mlf_metric *metrics, size_t nmetrics,
			   const struct mlf_kvs *params, const struct mlf_kvs *tags,
			   struct mlf_error *err);
int mlf_tracking_end_run(struct mlf_tracking *t, const char *run_id, int status,
			 int64_t end_time, struct mlf_error *err);
/* Set a run back to RUNNING (for --resume).  Local stores clear end_time; the
 * REST API cannot, so a server keeps the old one (as with MLflow's own client). */
int mlf_tracking_reopen_run(struct mlf_tracking *t, const char *run_id, struct mlf_error *err);
int mlf_tracking_get_run(struct mlf_tracking *t, const char *run_id, struct mlf_run *out,
			 struct mlf_error *err);
int mlf_tracking_get_metric_history(struct mlf_tracking *t, const char *run_id,
				    const char *key, struct mlf_metric **out, size_t *n,
				    struct mlf_error *err);
/* Active runs of one experiment carrying tag key=value (value NULL = any), newest first. */
int mlf_tracking_search_runs(struct mlf_tracking *t, const char *experiment_id,
			     const char *tag_key, const char *tag_value,
			     struct mlf_run_list *out, struct mlf_error *err);
/* Soft delete, as MLflow does (lifecycle_stage = deleted). */
int mlf_tracking_delete_run(struct mlf_tracking *t, const char *run_id, struct mlf_error *err);
/* Record a dataset as a run input (context e.g. "training"); MLF_ERR_UNSUPPORTED where impossible. */
int mlf_tracking_log_dataset_input(struct mlf_tracking *t, const char *run_id,
				   const char *name, const char *digest,
				   const char *source_type, const char *source,
				   const char *context, struct mlf_error *err);

/* ---- logged models (MLflow 3) ------------------------------------------ */

struct mlf_logged_model_request {
	const char *experiment_id;
	const char *name;            /* no '/', ':', '.', '%', '"' or "'" (MLflow's rule) */
	const char *model_type;      /* may be NULL */
	const char *source_run_id;   /* may be NULL */
	const struct mlf_kvs *params;  /* may be NULL; MLflow copies the run's params here */
	const struct mlf_kvs *tags;    /* may be NULL */
};

/* Create a logged model, PENDING, with its artifact location chosen as MLflow does. */
int mlf_tracking_create_logged_model(struct mlf_tracking *t, const struct mlf_logged_model_request *req,
				     struct mlf_logged_model *out, struct mlf_error *err);
int mlf_tracking_get_logged_model(struct mlf_tracking *t, const char *model_id,
				  struct mlf_logged_model *out, struct mlf_error *err);
/* READY once its files are all written, or FAILED. */
int mlf_tracking_finalize_logged_model(struct mlf_tracking *t, const char *model_id, int status,
				       struct mlf_error *err);
int mlf_tracking_set_logged_model_tag(struct mlf_tracking *t, const char *model_id, const char *key,
				      const char *value, struct mlf_error *err);
/* Link run -> model (MLflow's "run output"), at a step of the run. */
int mlf_tracking_log_model_output(struct mlf_tracking *t, const char *run_id, const char *model_id,
				  int64_t step, struct mlf_error *err);
/* Upload a file or folder into the model's artifacts, under `artifact_dir` (NULL = root). */
int mlf_tracking_log_model_artifact(struct mlf_tracking *t, const struct mlf_logged_model *m,
				    const char *local_path, const char *artifact_dir,
				    struct mlf_error *err);
int mlf_tracking_list_model_artifacts(struct mlf_tracking *t, const struct mlf_logged_model *m,
				      struct mlf_artifact_list *out, struct mlf_error *err);

/* ---- artifacts (by the run's artifact_uri: local path or mlflow-artifacts proxy) ---- */

/*
 * Can mlf read and write artifacts at `location` (an experiment's artifact
 * location, or a run's artifact URI) through this store?  0, or -1 with err
 * (78) saying why and what to configure: checked before a run is created, so
 * that a location mlf cannot use never leaves a run behind.
 */
int mlf_tracking_check_artifact_location(struct mlf_tracking *t, const char *location,
					 struct mlf_error *err);

/* Upload a file, or a folder recursively, under `artifact_dir` (NULL = root). */
int mlf_tracking_log_artifact(struct mlf_tracking *t, const struct mlf_run *run,
			      const char *local_path, const char *artifact_dir,
			      struct mlf_error *err);
/* Every file and folder under `path` (NULL = root), recursively, sorted by path. */
int mlf_tracking_list_artifacts(struct mlf_tracking *t, const struct mlf_run *run,
				const char *path, struct mlf_artifact_list *out,
				struct mlf_error *err);
int mlf_tracking_download_artifact(struct mlf_tracking *t, const struct mlf_run *run,
				   const char *path, const char *local_dst,
				   struct mlf_error *err);

/* ---- model registry (sqlite and REST) ---------------------------------- */

/* Creates the registered model if absent; an existing one is fine. */
int mlf_tracking_ensure_registered_model(struct mlf_tracking *t, const char *name,
					 struct mlf_error *err);
/* `model_id` (may be NULL): the logged model the version is of; then `source`
 * is "models:/<model_id>" and the version's files are that model's. */
int mlf_tracking_create_model_version(struct mlf_tracking *t, const char *name,
				      const char *source, const char *run_id, const char *model_id,
				      struct mlf_model_version *out, struct mlf_error *err);
int mlf_tracking_get_model_version(struct mlf_tracking *t, const char *name,
				   const char *version, struct mlf_model_version *out,
				   struct mlf_error *err);
int mlf_tracking_set_alias(struct mlf_tracking *t, const char *name, const char *alias,
			   const char *version, struct mlf_error *err);
/* Every live version of model `name` (none when it does not exist) into *out, in version
 * order: key = the version, value = its run id ("" when it has none). */
int mlf_tracking_list_model_versions(struct mlf_tracking *t, const char *name, struct mlf_kvs *out,
				     struct mlf_error *err);
/* Removes the alias; one that is not set is not an error. */
int mlf_tracking_delete_alias(struct mlf_tracking *t, const char *name, const char *alias,
			      struct mlf_error *err);
/* Sets (or replaces) one tag of an existing model version. */
int mlf_tracking_set_model_version_tag(struct mlf_tracking *t, const char *name,
				       const char *version, const char *key, const char *value,
				       struct mlf_error *err);
/* MLF_ERR_NOT_FOUND when the alias is not set. */
int mlf_tracking_get_alias(struct mlf_tracking *t, const char *name, const char *alias,
			   struct mlf_model_version *out, struct mlf_error *err);
/* The version `alias` names, as a new string in *version; NULL (and 0) when it is not set. */
int mlf_tracking_alias_version(struct mlf_tracking *t, const char *name, const char *alias,
			       char **version, struct mlf_error *err);

/* ---- small helpers shared by the backends and programs ----------------- */

int64_t mlf_now_ms(void);
/* 32 lowercase hex characters from the OS random generator, as uuid4().hex. */
void mlf_random_hex32(char out[33]);

/* Limits MLflow's server enforces (mlflow/utils/validation.py): per log-batch
 * call at most 1000 metrics, 100 params, 100 tags and 1000 items in all;
 * keys up to 250 characters; param values up to 6000 characters (since 2.8),
 * run tag values up to 8000 (since 2.17).  See docs/mlflow-formats.md. */
#define MLF_BATCH_MAX_METRICS 1000
#define MLF_BATCH_MAX_PARAMS 100
#define MLF_BATCH_MAX_TAGS 100
#define MLF_BATCH_MAX_TOTAL 1000
#define MLF_MAX_KEY_LENGTH 250
#define MLF_MAX_PARAM_VALUE 6000
#define MLF_MAX_TAG_VALUE 8000

/* Validate a metric/param/tag key as MLflow does; fills err naming the key. */
int mlf_tracking_check_key(const char *what, const char *key, struct mlf_error *err);

#endif
