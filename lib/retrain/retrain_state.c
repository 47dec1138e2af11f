/*
 * runs/train/retrain_vN/mlf_run.json: which MLflow run a training folder
 * belongs to and how far it got, rewritten atomically after every step so
 * that a resume, a sweep or a person can tell after any crash.  And the
 * sweep itself, which closes runs whose process died without a word.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "retrain_internal.h"

json_t *retrain_state_read(const char *path, struct mlf_error *err)
{
	if (!mlf_is_file(path)) {
		mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND, "%s not found", path);
		return NULL;
	}
	json_error_t je;
	json_t *s = json_load_file(path, 0, &je);
	const char *kind = json_string_value(json_object_get(s, "kind"));
	if (!kind || strcmp(kind, "mlf.run_state")) {
		mlf_fail(err, MLF_EX_DATAERR, "%s is not a retrain-run state file%s%s", path,
			 s ? "" : ": ", s ? "" : je.text);
		json_decref(s);
		return NULL;
	}
	return s;
}

static void set_str(json_t *o, const char *key, const char *value)
{
	json_object_set_new(o, key, mlf_json_string_or_null(value));
}

int retrain_state_save(struct retrain *r, const char *status, const char *reason,
		       struct mlf_error *err)
{
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	if (!r->state)
		r->state = json_pack("{s:s, s:i}", "kind", "mlf.run_state", "schema_version", 1);
	json_t *s = r->state;
	char *version = mlf_xasprintf("v%ld", r->p.n);
	char *now = mlf_now_rfc3339();
	set_str(s, "version", version);
	set_str(s, "status", status);
	set_str(s, "step", r->step);
	set_str(s, "reason", reason);
	set_str(s, "experiment_id", r->experiment_id);
	if (r->t)
		set_str(s, "tracking_uri", mlf_tracking_uri(r->t));
	if (r->run.run_id) {
		set_str(s, "run_id", r->run.run_id);
		set_str(s, "artifact_uri", r->run.artifact_uri);
	}
	set_str(s, "base_model", r->base_model);
	set_str(s, "host", host);
	json_object_set_new(s, "pid", json_integer(getpid()));
	set_str(s, "updated_at", now);
	json_object_set(s, "dataset", r->dataset);
	json_object_set_new(s, "pending", json_array_size(r->pending) ? json_incref(r->pending) : json_null());
	free(version);
	free(now);
	if (mlf_mkdir_p(r->p.train_dir, 0777, err))
		return -1;
	char *text = json_dumps(s, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	int rc = mlf_write_file_atomic(r->p.state, text, strlen(text), err);
	free(text);
	if (!rc)
		retrain_logger_spill_done(r);  /* "pending" above is the whole truth now */
	return rc;
}

long mlf_retrain_latest_unfinished(const struct mlf_config *cfg)
{
	struct mlf_version_paths p;
	mlf_version_paths_init(&p, cfg, 1);
	DIR *d = opendir(p.train_root);
	long best = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		long n;
		struct mlf_error err = MLF_ERROR_INIT;
		if (strncmp(e->d_name, "retrain_v", 9) || mlf_version_parse(e->d_name, &n, &err) || n <= best)
			continue;
		struct mlf_version_paths q;
		mlf_version_paths_init(&q, cfg, n);
		json_t *s = retrain_state_read(q.state, &err);
		const char *status = json_string_value(json_object_get(s, "status"));
		if (status && strcmp(status, "FINISHED"))
			best = n;
		json_decref(s);
		mlf_version_paths_release(&q);
	}
	if (d)
		closedir(d);
	mlf_version_paths_release(&p);
	return best;
}

/* ---- the sweep ------------------------------------------------------------ */

/* A stale run's traces: state FAILED, no models/ files of its own, the
 * registry's aliases back where they were before it moved them. */
static void remove_artifact_temps(const struct mlf_config *cfg, const char *uri, json_t *removed)
{
	struct mlf_error err = MLF_ERROR_INIT;
	char *dir = NULL;
	if (uri && mlf_uri_kind(uri) == MLF_URI_FILE && !mlf_uri_local_path(uri, cfg->workspace, &dir, &err)) {
		if (mlf_remove_stale_temps(dir, removed, &err) < 0)
			fprintf(stderr, "retrain-run: %s\n", err.msg);
	}
	free(dir);
}

static void sweep_local(const struct mlf_config *cfg, struct mlf_tracking *t, const struct mlf_run *run,
			const char *reason, json_t *removed)
{
	struct mlf_error err = MLF_ERROR_INIT;
	const char *version = mlf_kvs_get(&run->tags, "version");
	long n;
	if (!version || mlf_version_parse(version, &n, &err))
		return;
	struct mlf_version_paths p;
	mlf_version_paths_init(&p, cfg, n);
	json_t *meta = json_load_file(p.metadata, 0, NULL);
	const char *meta_run = json_string_value(json_object_get(json_object_get(meta, "run"), "run_id"));
	if (meta_run && !strcmp(meta_run, run->run_id)) {  /* published, but never FINISHED */
		unlink(p.model_pt);
		unlink(p.safetensors);
		unlink(p.metadata);
	}
	json_decref(meta);
	json_t *s = retrain_state_read(p.state, &err);
	const char *state_run = json_string_value(json_object_get(s, "run_id"));
	if (state_run && !strcmp(state_run, run->run_id)) {
		if (retrain_restore_aliases(t, s, &err)) {
			fprintf(stderr, "retrain-run: %s\n", err.msg);
			mlf_error_clear(&err);
		}
		json_object_set_new(s, "status", json_string("FAILED"));
		json_object_set_new(s, "reason", json_string(reason));
		char *text = json_dumps(s, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (mlf_write_file_atomic(p.state, text, strlen(text), &err))
			fprintf(stderr, "retrain-run: --sweep: %s\n", err.msg);
		free(text);
	}
	/* a copy into a local artifact store that was cut short leaves its temporary file
	 * among the run's artifacts (or its MLflow Model's), where MLflow would list it */
	remove_artifact_temps(cfg, run->artifact_uri, removed);
	if (state_run && !strcmp(state_run, run->run_id))
		remove_artifact_temps(cfg, mlf_json_str(json_object_get(s, "logged_model"), "artifact_uri",
							NULL), removed);
	json_decref(s);
	mlf_version_paths_release(&p);
}

int retrain_sweep_runs(const struct mlf_config *cfg, struct mlf_tracking *t, json_t *closed,
		       json_t *removed, const char *by, struct mlf_error *err)
{
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	const char *exp = mlf_config_get(cfg, "experiment_id");
	struct mlf_run_list list = { 0 };
	if (mlf_tracking_search_runs(t, exp, "mlf.tool", "retrain-run", &list, err))
		return -1;
	int rc = 0;
	for (size_t i = 0; i < list.n && !rc; i++) {
		const struct mlf_run *run = &list.runs[i];
		const char *ws = mlf_kvs_get(&run->tags, "mlf.workspace");
		const char *run_host = mlf_kvs_get(&run->tags, "mlf.host");
		if (run->status != MLF_RUN_RUNNING || !ws || strcmp(ws, cfg->workspace) ||
		    !run_host || strcmp(run_host, host))
			continue;
		char *now = mlf_now_rfc3339();
		const char *version = mlf_kvs_get(&run->tags, "version");
		char *reason = mlf_xasprintf("the retrain-run process ended without closing the run (machine "
					     "crash or kill -9); closed by %s at %s; `retrain-run --resume %s` "
					     "continues it", by, now, version ? version : "vN");
		struct mlf_kvs tags = MLF_KVS_INIT;
		mlf_kvs_add(&tags, "mlf.failure_reason", reason);
		rc = mlf_tracking_log_batch(t, run->run_id, NULL, 0, NULL, &tags, err) ||
		     mlf_tracking_end_run(t, run->run_id, MLF_RUN_FAILED, 0, err);
		if (!rc) {
			sweep_local(cfg, t, run, reason, removed);
			json_array_append_new(closed, json_pack("{s:s, s:s?, s:s?}", "run_id", run->run_id,
								"run_name", run->run_name,
								"version", mlf_kvs_get(&run->tags, "version")));
			fprintf(stderr, "retrain-run: run %s (%s) was left RUNNING by a retrain-run that "
				"died; ended it FAILED (resume it with retrain-run --resume %s)\n",
				run->run_id, run->run_name ? run->run_name : "?", version ? version : "vN");
		}
		mlf_kvs_release(&tags);
		free(reason);
		free(now);
	}
	mlf_run_list_release(&list);
	return rc;
}

/*
 * mlf_run.json files left RUNNING whose run has ended in the store since
 * (retrain-run died after ending it, or could not write the file then): the
 * file takes the store's word.  Under the lock no process of ours is alive.
 */
static int repair_states(const struct mlf_config *cfg, struct mlf_tracking *t, json_t *closed,
			 struct mlf_error *err)
{
	struct mlf_version_paths root;
	mlf_version_paths_init(&root, cfg, 1);
	DIR *d = opendir(root.train_root);
	struct dirent *e;
	int rc = 0;
	while (!rc && d && (e = readdir(d))) {
		long n;
		struct mlf_error ignored = MLF_ERROR_INIT;
		if (strncmp(e->d_name, "retrain_v", 9) || mlf_version_parse(e->d_name, &n, &ignored))
			continue;
		struct mlf_version_paths p;
		mlf_version_paths_init(&p, cfg, n);
		json_t *s = retrain_state_read(p.state, &ignored);
		const char *status = json_string_value(json_object_get(s, "status"));
		const char *run_id = json_string_value(json_object_get(s, "run_id"));
		struct mlf_run run = { 0 };
		if (status && !strcmp(status, "RUNNING") && run_id) {
			if (mlf_tracking_get_run(t, run_id, &run, err)) {
				if (err->kind == MLF_ERR_NOT_FOUND)  /* not ours to judge: left as it is */
					mlf_error_clear(err);
				else
					rc = -1;
			} else if (run.status != MLF_RUN_RUNNING) {
				const char *now = mlf_run_status_name(run.status);
				json_object_set_new(s, "status", json_string(now));
				if (run.status == MLF_RUN_FINISHED) {
					json_object_set_new(s, "step", json_string("finished"));
					json_object_set_new(s, "reason", json_null());
				} else {
					const char *why = mlf_kvs_get(&run.tags, "mlf.failure_reason");
					json_object_set_new(s, "reason", json_string(why ? why : "ended in the tracking store"));
				}
				char *text = json_dumps(s, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
				rc = mlf_write_file_atomic(p.state, text, strlen(text), err);
				free(text);
				if (!rc) {
					json_array_append_new(closed, json_pack("{s:s, s:s, s:s}", "run_id", run_id,
										"version", e->d_name + 8,
										"mlf_run_json", now));
					fprintf(stderr, "retrain-run: %s said RUNNING, but run %s is %s in the "
						"tracking store; the file now says so too\n", p.state, run_id, now);
				}
			}
		}
		/* a FINISHED run whose alias moves were not recorded (killed just after) */
		if (!rc && s && retrain_record_moves_state(cfg, t, s, n, "retrain-run")) {
			char *text = json_dumps(s, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			rc = mlf_write_file_atomic(p.state, text, strlen(text), err);
			free(text);
		}
		mlf_run_release(&run);
		json_decref(s);
		mlf_version_paths_release(&p);
	}
	if (d)
		closedir(d);
	mlf_version_paths_release(&root);
	return rc;
}

int retrain_reconcile(const struct mlf_config *cfg, struct mlf_tracking *t, json_t *closed,
		      json_t *removed, const char *by, struct mlf_error *err)
{
	return retrain_sweep_runs(cfg, t, closed, removed, by, err) || repair_states(cfg, t, closed, err)
		       ? -1 : 0;
}

void retrain_say_removed(const char *prog, int quiet, const json_t *removed)
{
	for (size_t i = 0; !quiet && i < json_array_size(removed); i++)
		fprintf(stderr, "%s: removed %s, left half-written by a retrain-run that died\n",
			prog ? prog : "retrain-run",
			json_string_value(json_array_get(removed, i)));
}

int retrain_recover(const struct mlf_config *cfg, json_t *closed, json_t *removed, const char *by,
		    struct mlf_error *err)
{
	struct mlf_version_paths p;
	struct mlf_tracking_options to;
	struct mlf_tracking *t = NULL;
	mlf_version_paths_init(&p, cfg, 1);
	int rc = mlf_config_tracking_options(cfg, &to, err) || mlf_tracking_open(&t, &to, err) ||
		 retrain_reconcile(cfg, t, closed, removed, by, err) ||
		 mlf_remove_stale_temps(p.models_dir, removed, err) < 0 ||
		 mlf_remove_stale_temps(p.train_root, removed, err) < 0;
	if (t)
		mlf_tracking_close(t);
	mlf_version_paths_release(&p);
	return rc ? -1 : 0;
}

int mlf_retrain_sweep(const struct mlf_config *cfg, int no_wait, json_t **doc, struct mlf_error *err)
{
	struct mlf_version_paths p;
	struct mlf_tracking_options to;
	struct mlf_tracking *t = NULL;
	int fd = -1, rc;
	*doc = NULL;
	mlf_version_paths_init(&p, cfg, 1);
	json_t *closed = json_array();
	if (!mlf_is_dir(p.train_root)) {  /* retrain-run never worked here: nothing of ours to close */
		/* ... provided the store answers: "nothing closed" from a store that is not
		 * there (a wrong tracking_uri) would be a false all-clear */
		if (mlf_config_tracking_options(cfg, &to, err) || mlf_tracking_open(&t, &to, err)) {
			json_decref(closed);
			mlf_version_paths_release(&p);
			return -1;
		}
		mlf_tracking_close(t);
		mlf_version_paths_release(&p);
		*doc = json_pack("{s:s, s:i, s:s?, s:s, s:o, s:[]}", "kind", "mlf.sweep",
				 "schema_version", 1, "experiment_id", mlf_config_get(cfg, "experiment_id"),
				 "workspace", cfg->workspace, "closed", closed, "removed");
		return 0;
	}
	/* Holding the workspace lock proves no retrain-run is alive here, so a
	 * RUNNING run of this workspace has no process left to finish it. */
	rc = mlf_lock(p.lock, !no_wait, &fd, err);
	if (rc && err->status == MLF_EX_TEMPFAIL)
		mlf_error_prefix(err, "a retrain-run is working in this workspace; its run is not stale");
	json_t *removed = json_array();
	if (!rc)
		rc = retrain_recover(cfg, closed, removed, "retrain-run --sweep", err);
	if (!rc)
		*doc = json_pack("{s:s, s:i, s:s?, s:s, s:o, s:o}", "kind", "mlf.sweep", "schema_version", 1,
				 "experiment_id", mlf_config_get(cfg, "experiment_id"),
				 "workspace", cfg->workspace, "closed", closed, "removed", removed);
	else {
		json_decref(closed);
		json_decref(removed);
	}
	if (fd >= 0)
		mlf_unlock(fd);
	mlf_version_paths_release(&p);
	return rc ? -1 : 0;
}

/* ---- a skip document over an unfinished version ------------------------- */

long mlf_retrain_unfinished_previous(const struct mlf_config *cfg, const json_t *skip, int *resume,
				     const char **why)
{
	const char *previous = json_string_value(json_object_get(skip, "previous_version"));
	struct mlf_error err = MLF_ERROR_INIT;
	long n, found = 0;
	*resume = 0;
	if (!previous || mlf_version_parse(previous, &n, &err))
		return 0;
	struct mlf_version_paths p;
	mlf_version_paths_init(&p, cfg, n);
	json_t *s = retrain_state_read(p.state, &err);
	const char *status = json_string_value(json_object_get(s, "status"));
	char *data = mlf_config_path(cfg, "paths.data");
	char *leaf = mlf_xasprintf("retrain_v%ld/data.yaml", n);
	char *yaml = mlf_path_join(data, leaf);
	if (mlf_is_file(p.model_pt)) {
		/* trained: the skip stands */
	} else if (!s) {
		if (mlf_is_file(yaml)) {
			*why = "its training never started";
			found = n;
		}
	} else if (status && (!strcmp(status, "KILLED") || !strcmp(status, "FAILED"))) {
		*why = !strcmp(status, "KILLED") ? "its run was stopped" : "its run failed";
		*resume = 1;
		found = n;
	} else if (status && !strcmp(status, "RUNNING")) {
		/* RUNNING while our caller holds the workspace lock: its process died (a
		 * crash, kill -9).  (Taking the lock again here would fail against our own
		 * caller's, and leave the version RUNNING for ever.) */
		*why = "its process died while the run was RUNNING";
		*resume = 1;
		found = n;
	}
	free(yaml);
	free(leaf);
	free(data);
	json_decref(s);
	mlf_version_paths_release(&p);
	return found;
}
