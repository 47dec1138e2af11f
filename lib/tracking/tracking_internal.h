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

/* Struct helpers shared by backends. */
void mlf_artifact_list_add(struct mlf_artifact_list *l, const char *path, int is_dir,
			   int64_t size);
void mlf_artifact_list_sort(struct mlf_artifact_list *l);
void mlf_run_list_add(struct mlf_run_list *l, struct mlf_run *moved);  /* takes *moved's contents */

/*
 * Artifact paths: the '/'-separated paths of artifacts relative to a run's
 * artifact root, as artifacts_local.c and artifacts_proxy.c take and give
 * them (internal to lib/tracking/).
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

#endif
