/*
 * The tracking dispatcher: what is the same for every MLflow store happens
 * here once (argument and key checks, system tags, batch limits, artifact
 * routing), then the backend's op does the store-specific part.
 */
#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "tracking_internal.h"

struct mlf_tracking {
	const struct mlf_tracking_ops *ops;
	void *impl;
	char *uri_redacted;
	char *workspace;
	char *username;  /* MLflow uses the tracking username as mlflow.user when set */
	/* s3:// artifacts: the settings, and the client opened on first use */
	struct mlf_s3_options s3_opts;
	char *s3_strings[4];
	struct mlf_s3 *s3;
};

int64_t mlf_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mlf_random_hex32(char out[33])
{
	unsigned char raw[16];
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		/* The OS generator failing is not something to carry on from. */
		abort();
	}
	mlf_hex_encode(raw, sizeof(raw), out);
}

static int unsupported(struct mlf_tracking *t, const char *what, struct mlf_error *err)
{
	return mlf_fail_kind(err, MLF_EX_CONFIG, MLF_ERR_UNSUPPORTED,
			     "the %s tracking store at %s cannot %s",
			     t->ops->name, t->uri_redacted, what);
}

/* Local stores are only created on request, so a typo in a path never starts an empty store. */
static int check_store_exists(const struct mlf_tracking_options *opts, struct mlf_error *err)
{
	char *path = NULL;
	int rc = 0;
	switch (mlf_uri_kind(opts->uri)) {
	case MLF_URI_SQLITE:
		if (mlf_uri_sqlite_path(opts->uri, opts->workspace, &path, err))
			return -1;
		if (!mlf_is_file(path))
			rc = mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
					   "no MLflow database at %s; `mlf-validate --init` creates one, "
					   "or fix tracking_uri", path);
		break;
	case MLF_URI_FILE:
		if (mlf_uri_local_path(opts->uri, opts->workspace, &path, err))
			return -1;
		if (!mlf_is_dir(path))
			rc = mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
					   "no MLflow file store at %s; `mlf-validate --init` creates one, "
					   "or fix tracking_uri", path);
		break;
	default:
		break;
	}
	free(path);
	return rc;
}

int mlf_tracking_open(struct mlf_tracking **out, const struct mlf_tracking_options *opts,
		      struct mlf_error *err)
{
	const struct mlf_tracking_ops *ops;
	int (*open_fn)(const struct mlf_tracking_options *, void **, struct mlf_error *);

	*out = NULL;
	switch (mlf_uri_kind(opts->uri)) {
	case MLF_URI_SQLITE:
		ops = &mlf_sqlite_store_ops;
		open_fn = mlf_sqlite_store_open;
		break;
	case MLF_URI_HTTP:
		ops = &mlf_rest_store_ops;
		open_fn = mlf_rest_store_open;
		break;
	case MLF_URI_FILE:
		ops = &mlf_file_store_ops;
		open_fn = mlf_file_store_open;
		break;
	case MLF_URI_INVALID:
		return mlf_fail(err, MLF_EX_CONFIG, "no tracking URI configured; set tracking_uri "
				"in mlf.yaml or MLFLOW_TRACKING_URI");
	default: {
		char *r = mlf_uri_redact(opts->uri);
		mlf_fail(err, MLF_EX_CONFIG, "tracking URI '%s' is not supported; use sqlite:///path.db, "
			 "http(s)://server or a file: path", r);
		free(r);
		return -1;
	}
	}
	if (!opts->create_store && check_store_exists(opts, err))
		return -1;
	void *impl = NULL;
	if (open_fn(opts, &impl, err) != 0)
		return -1;
	struct mlf_tracking *t = mlf_xcalloc(1, sizeof(*t));
	t->ops = ops;
	t->impl = impl;
	t->uri_redacted = mlf_uri_redact(opts->uri);
	t->workspace = mlf_xstrdup(opts->workspace);
	t->username = mlf_xstrdup(opts->username);
	const char *s3[4] = { opts->s3_endpoint_url, opts->s3_region, opts->s3_profile, opts->s3_ca_bundle };
	for (int i = 0; i < 4; i++)
		t->s3_strings[i] = s3[i] && *s3[i] ? mlf_xstrdup(s3[i]) : NULL;
	t->s3_opts.endpoint_url = t->s3_strings[0];
	t->s3_opts.region = t->s3_strings[1];
	t->s3_opts.profile = t->s3_strings[2];
	t->s3_opts.ca_bundle = t->s3_strings[3];
	t->s3_opts.ignore_tls = opts->s3_ignore_tls;
	t->s3_opts.timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 120;
	t->s3_opts.retry = mlf_tracking_retry_policy(opts);
	*out = t;
	return 0;
}

void mlf_tracking_close(struct mlf_tracking *t)
{
	if (!t)
		return;
	t->ops->close(t->impl);
	mlf_s3_close(t->s3);
	for (int i = 0; i < 4; i++)
		free(t->s3_strings[i]);
	free(t->uri_redacted);
	free(t->workspace);
	free(t->username);
	free(t);
}

const char *mlf_tracking_backend(const struct mlf_tracking *t)
{
	return t->ops->name;
}

const char *mlf_tracking_uri(const struct mlf_tracking *t)
{
	return t->uri_redacted;
}

int mlf_tracking_ping(struct mlf_tracking *t, struct mlf_error *err)
{
	return t->ops->ping(t->impl, err);
}

/* ---- keys -------------------------------------------------------------- */

static int key_char_ok(unsigned char c)
{
	/* MLflow's rule is ^[/\w.\- :]*$ with a Unicode \w: non-ASCII bytes pass here. */
	return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("_/.- :", c) != NULL;
}

int mlf_tracking_check_key(const char *what, const char *key, struct mlf_error *err)
{
	if (!key || !*key)
		return mlf_fail(err, MLF_EX_DATAERR, "%s name is empty", what);
	size_t n = strlen(key);
	if (n > MLF_MAX_KEY_LENGTH)
		return mlf_fail(err, MLF_EX_DATAERR, "%s name '%.40s...' is %zu characters; MLflow allows %d",
				what, key, n, MLF_MAX_KEY_LENGTH);
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		if (!key_char_ok(*p))
			return mlf_fail(err, MLF_EX_DATAERR,
					"%s name '%s' has the character '%c'; MLflow allows letters, digits, "
					"'_', '-', '.', ' ', ':' and '/'", what, key, *p);
	/* The key must be its own normal path: it becomes folders in the file store. */
	char *norm = mlf_path_normalize(key);
	int same = !strcmp(norm, key);
	free(norm);
	if (!same || key[0] == '/' || !strcmp(key, ".") || !strncmp(key, "..", 2))
		return mlf_fail(err, MLF_EX_DATAERR,
				"%s name '%s' is not a clean relative path (no leading '/', '//', "
				"'./', '../' or trailing '/')", what, key);
	return 0;
}

/* ---- experiments ------------------------------------------------------- */

static int need(const char *value, const char *what, struct mlf_error *err)
{
	if (value && *value)
		return 0;
	return mlf_fail(err, MLF_EX_USAGE, "%s is required", what);
}

int mlf_tracking_get_experiment(struct mlf_tracking *t, const char *experiment_id,
				struct mlf_experiment *out, struct mlf_error *err)
{
	memset(out, 0, sizeof(*out));
	if (need(experiment_id, "experiment id", err))
		return -1;
	return t->ops->get_experiment(t->impl, experiment_id, out, err);
}

int mlf_tracking_get_experiment_by_name(struct mlf_tracking *t, const char *name,
					struct mlf_experiment *out, struct mlf_error *err)
{
	memset(out, 0, sizeof(*out));
	if (need(name, "experiment name", err))
		return -1;
	return t->ops->get_experiment_by_name(t->impl, name, out, err);
}

int mlf_tracking_create_experiment(struct mlf_tracking *t, const char *name,
				   const char *experiment_id, const char *artifact_location,
				   char **id_out, struct mlf_error *err)
{
	char *id = NULL;
	if (need(name, "experiment name", err))
		return -1;
	if (strlen(name) > 500)
		return mlf_fail(err, MLF_EX_DATAERR, "experiment name is longer than MLflow's 500 characters");
	if (artifact_location && strlen(artifact_location) > 2048)
		return mlf_fail(err, MLF_EX_DATAERR, "artifact location is longer than MLflow's 2048 characters");
	if (mlf_failpoint("store: create experiment", err) ||
	    t->ops->create_experiment(t->impl, name, experiment_id, artifact_location, &id, err) != 0)
		return -1;
	if (id_out)
		*id_out = id;
	else
		free(id);
	return 0;
}

/* ---- runs -------------------------------------------------------------- */

static void add_default_tag(struct mlf_kvs *tags, const char *key, const char *value)
{
	if (value && !mlf_kvs_get(tags, key))
		mlf_kvs_add(tags, key, value);
}

int mlf_tracking_create_run(struct mlf_tracking *t, const struct mlf_run_request *req,
			    struct mlf_run *out, struct mlf_error *err)
{
	struct mlf_kvs tags = MLF_KVS_INIT;
	char *user = NULL, *commit = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (need(req->experiment_id, "experiment id", err))
		return -1;
	if (req->tags)
		for (size_t i = 0; i < req->tags->n; i++) {
			if (mlf_tracking_check_key("tag", req->tags->items[i].key, err))
				return -1;
			mlf_kvs_set(&tags, req->tags->items[i].key, req->tags->items[i].value);
		}
	if (req->run_name) {
		const char *given = mlf_kvs_get(&tags, "mlflow.runName");
		if (given && strcmp(given, req->run_name)) {
			mlf_fail(err, MLF_EX_USAGE, "run name '%s' and tag mlflow.runName '%s' differ",
				 req->run_name, given);
			goto out;
		}
	}
	/* As MLflow's client: the tracking username, else the OS login name. */
	user = mlf_xstrdup(req->user_id ? req->user_id :
			   t->username && *t->username ? t->username : NULL);
	if (!user)
		user = mlf_login_name();
	add_default_tag(&tags, "mlflow.user", user);
	add_default_tag(&tags, "mlflow.source.name",
			req->source_name ? req->source_name : program_invocation_short_name);
	add_default_tag(&tags, "mlflow.source.type", "LOCAL");
	add_default_tag(&tags, "mlflow.runName", req->run_name);
	commit = mlf_git_head_commit(req->git_dir ? req->git_dir : t->workspace ? t->workspace : ".");
	add_default_tag(&tags, "mlflow.source.git.commit", commit);

	if (mlf_failpoint("store: create run", err))
		goto out;
	rc = t->ops->create_run(t->impl, req->experiment_id, req->run_name, user,
				req->start_time ? req->start_time : mlf_now_ms(), &tags, out, err);
out:
	free(user);
	free(commit);
	mlf_kvs_release(&tags);
	return rc;
}

/* MLflow's limits count characters (code points), not bytes. */
static size_t utf8_length(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static int check_values(const struct mlf_kvs *kvs, const char *what, size_t max_value,
			struct mlf_error *err)
{
	if (!kvs)
		return 0;
	for (size_t i = 0; i < kvs->n; i++) {
		if (mlf_tracking_check_key(what, kvs->items[i].key, err))
			return -1;
		size_t n = utf8_length(kvs->items[i].value);
		if (n > max_value)
			return mlf_fail(err, MLF_EX_DATAERR,
					"%s '%s' has a %zu-character value; MLflow keeps at most %zu "
					"(it would silently truncate it)", what, kvs->items[i].key, n, max_value);
	}
	return 0;
}

/* Params with the same key twice in one call: same value is folded, a different one refused. */
static int dedupe_params(const struct mlf_kvs *in, struct mlf_kvs *out, struct mlf_error *err)
{
	if (!in)
		return 0;
	for (size_t i = 0; i < in->n; i++) {
		const char *seen = mlf_kvs_get(out, in->items[i].key);
		if (!seen) {
			mlf_kvs_add(out, in->items[i].key, in->items[i].value);
		} else if (strcmp(seen, in->items[i].value)) {
			return mlf_fail(err, MLF_EX_DATAERR, "param '%s' given twice with different values",
					in->items[i].key);
		}
	}
	return 0;
}

int mlf_tracking_log_batch(struct mlf_tracking *t, const char *run_id,
			   const struct mlf_metric *metrics, size_t nmetrics,
			   const struct mlf_kvs *params, const struct mlf_kvs *tags,
			   struct mlf_error *err)
{
	struct mlf_kvs uniq = MLF_KVS_INIT;
	int rc = -1;

	if (need(run_id, "run id", err))
		return -1;
	for (size_t i = 0; i < nmetrics; i++)
		if (mlf_tracking_check_key("metric", metrics[i].key, err))
			return -1;
	if (check_values(params, "param", MLF_MAX_PARAM_VALUE, err) ||
	    check_values(tags, "tag", MLF_MAX_TAG_VALUE, err) ||
	    dedupe_params(params, &uniq, err))
		goto out;

	size_t im = 0, ip = 0, it = 0, nt = tags ? tags->n : 0;
	/* One call per chunk: params and tags first, metrics fill the rest of the budget. */
	do {
		size_t np_chunk = uniq.n - ip < MLF_BATCH_MAX_PARAMS ? uniq.n - ip : MLF_BATCH_MAX_PARAMS;
		size_t nt_chunk = nt - it < MLF_BATCH_MAX_TAGS ? nt - it : MLF_BATCH_MAX_TAGS;
		size_t room = MLF_BATCH_MAX_TOTAL - np_chunk - nt_chunk;
		if (room > MLF_BATCH_MAX_METRICS)
			room = MLF_BATCH_MAX_METRICS;
		size_t nm_chunk = nmetrics - im < room ? nmetrics - im : room;
		if (mlf_failpoint("store: log batch", err) ||
		    t->ops->log_batch(t->impl, run_id, metrics + im, nm_chunk,
				      uniq.items + ip, np_chunk,
				      tags ? tags->items + it : NULL, nt_chunk, err) != 0)
			goto out;
		im += nm_chunk;
		ip += np_chunk;
		it += nt_chunk;
	} while (im < nmetrics || ip < uniq.n || it < nt);
	rc = 0;
out:
	mlf_kvs_release(&uniq);
	return rc;
}

int mlf_tracking_end_run(struct mlf_tracking *t, const char *run_id, int status,
			 int64_t end_time, struct mlf_error *err)
{
	if (need(run_id, "run id", err))
		return -1;
	if (status != MLF_RUN_FINISHED && status != MLF_RUN_FAILED && status != MLF_RUN_KILLED)
		return mlf_fail(err, MLF_EX_USAGE, "a run ends FINISHED, FAILED or KILLED, not %s",
				mlf_run_status_name(status));
	if (mlf_failpoint("store: end run", err))
		return -1;
	return t->ops->update_run(t->impl, run_id, status, end_time ? end_time : mlf_now_ms(), err);
}

int mlf_tracking_reopen_run(struct mlf_tracking *t, const char *run_id, struct mlf_error *err)
{
	if (need(run_id, "run id", err))
		return -1;
	if (mlf_failpoint("store: reopen run", err))
		return -1;
	return t->ops->update_run(t->impl, run_id, MLF_RUN_RUNNING, 0, err);
}

int mlf_tracking_get_run(struct mlf_tracking *t, const char *run_id, struct mlf_run *out,
			 struct mlf_error *err)
{
	memset(out, 0, sizeof(*out));
	if (need(run_id, "run id", err))
		return -1;
	return t->ops->get_run(t->impl, run_id, out, err);
}

int mlf_tracking_get_metric_history(struct mlf_tracking *t, const char *run_id,
				    const char *key, struct mlf_metric **out, size_t *n,
				    struct mlf_error *err)
{
	*out = NULL;
	*n = 0;
	if (need(run_id, "run id", err) || mlf_tracking_check_key("metric", key, err))
		return -1;
	return t->ops->get_metric_history(t->impl, run_id, key, out, n, err);
}

int mlf_tracking_search_runs(struct mlf_tracking *t, const char *experiment_id,
			     const char *tag_key, const char *tag_value,
			     struct mlf_run_list *out, struct mlf_error *err)
{
	memset(out, 0, sizeof(*out));
	if (need(experiment_id, "experiment id", err) || mlf_tracking_check_key("tag", tag_key, err))
		return -1;
	return t->ops->search_runs(t->impl, experiment_id, tag_key, tag_value, out, err);
}

int mlf_tracking_delete_run(struct mlf_tracking *t, const char *run_id, struct mlf_error *err)
{
	if (need(run_id, "run id", err))
		return -1;
	if (mlf_failpoint("store: delete run", err))
		return -1;
	return t->ops->delete_run(t->impl, run_id, err);
}

int mlf_tracking_log_dataset_input(struct mlf_tracking *t, const char *run_id,
				   const char *name, const char *digest,
				   const char *source_type, const char *source,
				   const char *context, struct mlf_error *err)
{
	if (need(run_id, "run id", err) || need(name, "dataset name", err) ||
	    need(digest, "dataset digest", err) || need(source_type, "dataset source type", err) ||
	    need(source, "dataset source", err))
		return -1;
	if (strlen(name) > 500 || strlen(digest) > 36)
		return mlf_fail(err, MLF_EX_DATAERR,
				"dataset name (max 500) or digest (max 36 characters) too long for MLflow");
	if (!t->ops->log_dataset_input)
		return unsupported(t, "record dataset inputs", err);
	if (mlf_failpoint("store: log dataset input", err))
		return -1;
	return t->ops->log_dataset_input(t->impl, run_id, name, digest, source_type, source,
					 context ? context : "training", err);
}

/* ---- artifacts --------------------------------------------------------- */

/* How artifacts at a location are reached: neither set = a local folder. */
struct artifact_route {
	struct mlf_http *http;  /* the tracking server's artifact proxy */
	struct mlf_s3 *s3;      /* S3, directly */
};

/* The one rule for which artifact locations mlf reads and writes, and how. */
static int artifact_location_route(struct mlf_tracking *t, const char *location,
				   struct artifact_route *route, struct mlf_error *err)
{
	memset(route, 0, sizeof(*route));
	if (!location || !*location)
		return mlf_fail(err, MLF_EX_CONFIG, "the artifact location is empty");
	switch (mlf_uri_kind(location)) {
	case MLF_URI_FILE:
		return 0;
	case MLF_URI_MLFLOW_ARTIFACTS:
		route->http = t->ops->http ? t->ops->http(t->impl) : NULL;
		if (!route->http)
			return mlf_fail(err, MLF_EX_CONFIG,
					"artifacts at '%s' go through an MLflow server's proxy, which the %s "
					"store at %s cannot reach; use the server's http(s) URI as tracking_uri",
					location, t->ops->name, t->uri_redacted);
		return 0;
	case MLF_URI_S3: {
		char *bucket, *prefix;
		if (mlf_s3_parse_uri(location, &bucket, &prefix, err))
			return -1;
		free(bucket);
		free(prefix);
		if (!t->s3 && mlf_s3_open(&t->s3, &t->s3_opts, err))
			return mlf_error_prefix(err, "artifact location '%s'", location);
		route->s3 = t->s3;
		return 0;
	}
	default: {
		size_t scheme = strcspn(location, ":");
		return mlf_fail(err, MLF_EX_CONFIG,
				"artifact location '%s': mlf cannot read or write %.*s: artifacts (it "
				"writes local folders, s3:// and an MLflow server's proxy); start the "
				"MLflow server with --serve-artifacts (artifacts then go through it), or give "
				"the experiment a local or s3:// artifact location", location, (int)scheme,
				location);
	}
	}
}

/* S3: write and remove a small object where the run's artifacts will go. */
static int s3_probe_write(struct mlf_s3 *s3, const char *location, struct mlf_error *err)
{
	char *bucket, *prefix, hex[33];
	if (mlf_s3_parse_uri(location, &bucket, &prefix, err))
		return -1;
	mlf_random_hex32(hex);
	char *name = mlf_xasprintf(".mlf-write-probe-%s", hex);
	char *key = mlf_artifact_path_join(prefix, name);
	int rc = mlf_s3_put_bytes(s3, bucket, key, "mlf write probe\n", 16, err);
	if (rc)
		mlf_error_prefix(err, "a test write to %s failed", location);
	else
		mlf_s3_delete(s3, bucket, key, NULL);  /* a store that forbids deleting keeps 16 bytes */
	free(key);
	free(name);
	free(bucket);
	free(prefix);
	return rc;
}

int mlf_tracking_check_artifact_location(struct mlf_tracking *t, const char *location,
					 struct mlf_error *err)
{
	struct artifact_route route;
	if (artifact_location_route(t, location, &route, err))
		return -1;
	return route.s3 ? s3_probe_write(route.s3, location, err) : 0;
}

static int artifact_route(struct mlf_tracking *t, const struct mlf_run *run,
			  struct artifact_route *route, struct mlf_error *err)
{
	memset(route, 0, sizeof(*route));
	if (!run || !run->artifact_uri || !*run->artifact_uri)
		return mlf_fail(err, MLF_EX_SOFTWARE, "run has no artifact URI");
	if (artifact_location_route(t, run->artifact_uri, route, err))
		return mlf_error_prefix(err, "run %s", run->run_id);
	return 0;
}

static int check_artifact_path(const char *path, struct mlf_error *err)
{
	if (!path || !*path)
		return 0;
	char *norm = mlf_path_normalize(path);
	int bad = path[0] == '/' || !strcmp(norm, "..") || !strncmp(norm, "../", 3);
	free(norm);
	if (bad)
		return mlf_fail(err, MLF_EX_USAGE,
				"artifact path '%s' must stay inside the run's artifact folder", path);
	return 0;
}

int mlf_tracking_log_artifact(struct mlf_tracking *t, const struct mlf_run *run,
			      const char *local_path, const char *artifact_dir,
			      struct mlf_error *err)
{
	struct artifact_route r;
	if (check_artifact_path(artifact_dir, err) || artifact_route(t, run, &r, err))
		return -1;
	if (!mlf_is_file(local_path) && !mlf_is_dir(local_path))
		return mlf_fail(err, MLF_EX_NOINPUT, "artifact '%s' does not exist", local_path);
	if (mlf_failpoint("store: log artifact", err))
		return -1;
	if (r.http)
		return mlf_proxy_artifacts_log(r.http, run->artifact_uri, local_path, artifact_dir, err);
	if (r.s3)
		return mlf_s3_artifacts_log(r.s3, run->artifact_uri, local_path, artifact_dir, err);
	return mlf_local_artifacts_log(run->artifact_uri, t->workspace, local_path, artifact_dir, err);
}

int mlf_tracking_list_artifacts(struct mlf_tracking *t, const struct mlf_run *run,
				const char *path, struct mlf_artifact_list *out,
				struct mlf_error *err)
{
	struct artifact_route r;
	memset(out, 0, sizeof(*out));
	if (check_artifact_path(path, err) || artifact_route(t, run, &r, err))
		return -1;
	int rc = r.http ? mlf_proxy_artifacts_list(r.http, run->artifact_uri, path, out, err)
		 : r.s3 ? mlf_s3_artifacts_list(r.s3, run->artifact_uri, path, out, err)
		 : mlf_local_artifacts_list(run->artifact_uri, t->workspace, path, out, err);
	if (!rc)
		mlf_artifact_list_sort(out);
	return rc;
}

int mlf_tracking_download_artifact(struct mlf_tracking *t, const struct mlf_run *run,
				   const char *path, const char *local_dst,
				   struct mlf_error *err)
{
	struct artifact_route r;
	if (need(path, "artifact path", err) || check_artifact_path(path, err) ||
	    artifact_route(t, run, &r, err))
		return -1;
	if (r.http)
		return mlf_proxy_artifacts_download(r.http, run->artifact_uri, path, local_dst, err);
	if (r.s3)
		return mlf_s3_artifacts_download(r.s3, run->artifact_uri, path, local_dst, err);
	return mlf_local_artifacts_download(run->artifact_uri, t->workspace, path, local_dst, err);
}

/* ---- registry ---------------------------------------------------------- */

static int check_model_name(const char *name, struct mlf_error *err)
{
	if (need(name, "registered model name", err))
		return -1;
	if (strpbrk(name, "/:"))
		return mlf_fail(err, MLF_EX_DATAERR, "registered model name '%s' may not contain '/' or ':'",
				name);
	return 0;
}

int mlf_tracking_ensure_registered_model(struct mlf_tracking *t, const char *name,
					 struct mlf_error *err)
{
	if (check_model_name(name, err))
		return -1;
	if (!t->ops->ensure_registered_model)
		return unsupported(t, "keep a model registry (use sqlite or a server)", err);
	if (mlf_failpoint("store: registered model", err))
		return -1;
	return t->ops->ensure_registered_model(t->impl, name, err);
}

int mlf_tracking_create_model_version(struct mlf_tracking *t, const char *name,
				      const char *source, const char *run_id, const char *model_id,
				      struct mlf_model_version *out, struct mlf_error *err)
{
	memset(out, 0, sizeof(*out));
	if (check_model_name(name, err) || need(source, "model source", err))
		return -1;
	if (!t->ops->create_model_version)
		return unsupported(t, "keep a model registry (use sqlite or a server)", err);
	if (mlf_failpoint("store: create model version", err))
		return -1;
	return t->ops->create_model_version(t->impl, name, source, run_id, model_id, out, err);
}

int mlf_tracking_get_model_version(struct mlf_tracking *t, const char *name,
				   const char *version, struct mlf_model_version *out,
				   struct mlf_error *err)
{
	memset(out, 0, sizeof(*out));
	if (check_model_name(name, err) || need(version, "model version", err))
		return -1;
	if (!t->ops->get_model_version)
		return unsupported(t, "keep a model registry (use sqlite or a server)", err);
	return t->ops->get_model_version(t->impl, name, version, out, err);
}

static int check_alias(const char *alias, struct mlf_error *err)
{
	if (need(alias, "alias", err))
		return -1;
	for (const char *p = alias; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return mlf_fail(err, MLF_EX_DATAERR,
					"alias '%s' may only hold letters, digits, '_' and '-'", alias);
	int vnum = alias[0] == 'v' || alias[0] == 'V';
	for (const char *p = alias + 1; vnum && *p; p++)
		vnum = *p >= '0' && *p <= '9';
	if (!strcmp(alias, "latest") || (vnum && alias[1]) || strlen(alias) > 255)
		return mlf_fail(err, MLF_EX_DATAERR,
				"alias '%s' is reserved by MLflow ('latest' and v<number>) or too long", alias);
	return 0;
}

int mlf_tracking_set_alias(struct mlf_tracking *t, const char *name, const char *alias,
			   const char *version, struct mlf_error *err)
{
	if (check_model_name(name, err) || check_alias(alias, err) || need(version, "model version", err))
		return -1;
	if (!t->ops->set_alias)
		return unsupported(t, "keep a model registry (use sqlite or a server)", err);
	if (mlf_failpoint("store: set alias", err))
		return -1;
	return t->ops->set_alias(t->impl, name, alias, version, err);
}

int mlf_tracking_list_model_versions(struct mlf_tracking *t, const char *name, struct mlf_kvs *out,
				     struct mlf_error *err)
{
	if (check_model_name(name, err))
		return -1;
	if (!t->ops->list_model_versions)
		return unsupported(t, "keep a model registry (use sqlite or a server)", err);
	return t->ops->list_model_versions(t->impl, name, out, err);
}

int mlf_tracking_delete_alias(struct mlf_tracking *t, const char *name, const char *alias,
			      struct mlf_error *err)
{
	if (check_model_name(name, err) || check_alias(alias, err))
		return -1;
	if (!t->ops->delete_alias)
		return unsupported(t, "keep a model registry (use sqlite or a server)", err);
	if (mlf_failpoint("store: delete alias", err))
		return -1;
	return t->ops->delete_alias(t->impl, name, alias, err);
}

int mlf_tracking_set_model_version_tag(struct mlf_tracking *t, const char *name,
				       const char *version, const char *key, const char *value,
				       struct mlf_error *err)
{
	if (check_model_name(name, err) || need(version, "model version", err) ||
	    mlf_tracking_check_key("model version tag", key, err) || need(value, "tag value", err))
		return -1;
	if (!t->ops->set_model_version_tag)
		return unsupported(t, "keep a model registry (use sqlite or a server)", err);
	if (mlf_failpoint("store: set model version tag", err))
		return -1;
	return t->ops->set_model_version_tag(t->impl, name, version, key, value, err);
}

int mlf_tracking_get_alias(struct mlf_tracking *t, const char *name, const char *alias,
			   struct mlf_model_version *out, struct mlf_error *err)
{
	memset(out, 0, sizeof(*out));
	if (check_model_name(name, err) || check_alias(alias, err))
		return -1;
	if (!t->ops->get_alias)
		return unsupported(t, "keep a model registry (use sqlite or a server)", err);
	return t->ops->get_alias(t->impl, name, alias, out, err);
}

int mlf_tracking_alias_version(struct mlf_tracking *t, const char *name, const char *alias,
			       char **version, struct mlf_error *err)
{
	struct mlf_model_version mv = { 0 };
	*version = NULL;
	if (mlf_tracking_get_alias(t, name, alias, &mv, err)) {
		if (err->kind != MLF_ERR_NOT_FOUND)
			return -1;
		mlf_error_clear(err);
		return 0;
	}
	*version = mlf_xstrdup(mv.version);
	mlf_model_version_release(&mv);
	return 0;
}

/* ---- logged models ---------------------------------------------------- */

void mlf_logged_model_release(struct mlf_logged_model *m)
{
	char **all[] = { &m->model_id, &m->experiment_id, &m->name, &m->artifact_uri,
			 &m->source_run_id, &m->model_type };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		free(*all[i]);
		*all[i] = NULL;
	}
	mlf_kvs_release(&m->params);
	mlf_kvs_release(&m->tags);
}

/* MLflow's rule for logged-model names (_validate_logged_model_name). */
static int check_logged_model_name(const char *name, struct mlf_error *err)
{
	if (need(name, "logged model name", err))
		return -1;
	if (strpbrk(name, "/:.%\"'") || strlen(name) > 500)
		return mlf_fail(err, MLF_EX_DATAERR, "logged model name '%s' may not contain '/', ':', "
				"'.', '%%', '\"' or \"'\" (MLflow's rule), nor be longer than 500", name);
	return 0;
}

static int check_model_id(const char *model_id, struct mlf_error *err)
{
	if (need(model_id, "logged model id", err))
		return -1;
	int hex = strlen(model_id) == 34 && !strncmp(model_id, "m-", 2);
	for (const char *p = model_id + 2; hex && *p; p++)
		hex = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f');
	if (!hex)
		return mlf_fail(err, MLF_EX_DATAERR, "'%s' is not a logged model id (m- and 32 hex digits)",
				model_id);
	return 0;
}

static int logged_models_unsupported(struct mlf_tracking *t, struct mlf_error *err)
{
	return unsupported(t, "keep MLflow 3 logged models", err);
}

int mlf_tracking_create_logged_model(struct mlf_tracking *t, const struct mlf_logged_model_request *req,
				     struct mlf_logged_model *out, struct mlf_error *err)
{
	memset(out, 0, sizeof(*out));
	if (need(req->experiment_id, "experiment id", err) || check_logged_model_name(req->name, err))
		return -1;
	for (size_t i = 0; req->params && i < req->params->n; i++)
		if (mlf_tracking_check_key("param", req->params->items[i].key, err))
			return -1;
	for (size_t i = 0; req->tags && i < req->tags->n; i++)
		if (mlf_tracking_check_key("tag", req->tags->items[i].key, err))
			return -1;
	if (!t->ops->create_logged_model)
		return logged_models_unsupported(t, err);
	if (mlf_failpoint("store: create logged model", err))
		return -1;
	char hex[33], id[40];
	mlf_random_hex32(hex);
	snprintf(id, sizeof(id), "m-%s", hex);
	return t->ops->create_logged_model(t->impl, req, id, out, err);
}

int mlf_tracking_get_logged_model(struct mlf_tracking *t, const char *model_id,
				  struct mlf_logged_model *out, struct mlf_error *err)
{
	memset(out, 0, sizeof(*out));
	if (check_model_id(model_id, err))
		return -1;
	if (!t->ops->get_logged_model)
		return logged_models_unsupported(t, err);
	return t->ops->get_logged_model(t->impl, model_id, out, err);
}

int mlf_tracking_finalize_logged_model(struct mlf_tracking *t, const char *model_id, int status,
				       struct mlf_error *err)
{
	if (check_model_id(model_id, err))
		return -1;
	if (status != MLF_LOGGED_MODEL_READY && status != MLF_LOGGED_MODEL_FAILED)
		return mlf_fail(err, MLF_EX_SOFTWARE, "a logged model is finalized READY or FAILED");
	if (!t->ops->finalize_logged_model)
		return logged_models_unsupported(t, err);
	if (mlf_failpoint("store: finalize logged model", err))
		return -1;
	return t->ops->finalize_logged_model(t->impl, model_id, status, err);
}

int mlf_tracking_set_logged_model_tag(struct mlf_tracking *t, const char *model_id, const char *key,
				      const char *value, struct mlf_error *err)
{
	if (check_model_id(model_id, err) || mlf_tracking_check_key("tag", key, err) ||
	    need(value, "tag value", err))
		return -1;
	if (!t->ops->set_logged_model_tag)
		return logged_models_unsupported(t, err);
	if (mlf_failpoint("store: logged model tag", err))
		return -1;
	return t->ops->set_logged_model_tag(t->impl, model_id, key, value, err);
}

int mlf_tracking_log_model_output(struct mlf_tracking *t, const char *run_id, const char *model_id,
				  int64_t step, struct mlf_error *err)
{
	if (need(run_id, "run id", err) || check_model_id(model_id, err))
		return -1;
	if (!t->ops->log_model_output)
		return logged_models_unsupported(t, err);
	if (mlf_failpoint("store: log model output", err))
		return -1;
	return t->ops->log_model_output(t->impl, run_id, model_id, step, err);
}

/* The artifact functions route by an artifact URI; a logged model has its own. */
static struct mlf_run model_as_run(const struct mlf_logged_model *m)
{
	struct mlf_run r = { 0 };
	r.run_id = m->model_id;
	r.artifact_uri = m->artifact_uri;
	return r;
}

int mlf_tracking_log_model_artifact(struct mlf_tracking *t, const struct mlf_logged_model *m,
				    const char *local_path, const char *artifact_dir,
				    struct mlf_error *err)
{
	struct mlf_run r = model_as_run(m);
	return mlf_tracking_log_artifact(t, &r, local_path, artifact_dir, err);
}

int mlf_tracking_list_model_artifacts(struct mlf_tracking *t, const struct mlf_logged_model *m,
				      struct mlf_artifact_list *out, struct mlf_error *err)
{
	struct mlf_run r = model_as_run(m);
	return mlf_tracking_list_artifacts(t, &r, NULL, out, err);
}
