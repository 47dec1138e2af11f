/*
 * mlf-validate's checks.  They run in a fixed order; a check whose
 * precondition failed (no tracking store, no experiment) is reported as
 * failed with a detail saying why, so the report always lists every check.
 */
#include "mlf/check.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/ckpt.h"
#include "mlf/corrections.h"
#include "mlf/data.h"
#include "mlf/tracking.h"
#include "mlf/yolo.h"
#include "check_internal.h"

const char *const mlf_check_names[] = {
	"config", "tracking_store", "experiment", "artifact_location", "registered_model",
	"artifact_writable", "workspace_writable", "disk_space", "base_model", "corrections", "probe", NULL,
};

int mlf_validate_check_skip(const char *list, struct mlf_error *err)
{
	while (*list) {
		size_t len = strcspn(list, ",");
		int known = 0;
		for (int i = 0; mlf_check_names[i]; i++)
			known |= strlen(mlf_check_names[i]) == len && !strncmp(mlf_check_names[i], list, len);
		if (!known)
			return mlf_fail(err, MLF_EX_USAGE, "unknown check '%.*s' in --skip", (int)len, list);
		list += len;
		list += *list == ',';
	}
	return 0;
}

struct validation {
	const struct mlf_config *cfg;
	const struct mlf_validate_options *opts;
	struct mlf_report *report;
	struct mlf_tracking *store;
	struct mlf_experiment exp;
	int have_exp;
};

static int skipped(const struct validation *v, const char *name)
{
	const char *list = v->opts->skip;
	size_t n = strlen(name);
	while (list && *list) {
		size_t len = strcspn(list, ",");
		if (len == n && !strncmp(list, name, n))
			return 1;
		list += len;
		list += *list == ',';
	}
	return 0;
}

static void vadd(struct validation *v, const char *name, int ok, int status, const char *hint,
		 const char *fmt, va_list ap)
{
	struct mlf_report *r = v->report;
	r->checks = mlf_xrealloc(r->checks, (r->n + 1) * sizeof(*r->checks));
	struct mlf_check *c = &r->checks[r->n++];
	struct mlf_buf detail = MLF_BUF_INIT;
	mlf_buf_vaddf(&detail, fmt, ap);
	c->name = mlf_xstrdup(name);
	c->ok = ok;
	c->skipped = 0;
	c->warning = 0;
	c->status = ok ? 0 : status ? status : MLF_EX_CHECK;
	c->detail = mlf_buf_detach(&detail);
	c->hint = mlf_xstrdup(hint);
}

static void pass(struct validation *v, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void pass(struct validation *v, const char *name, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(v, name, 1, 0, NULL, fmt, ap);
	va_end(ap);
}

static void fail(struct validation *v, const char *name, int status, const char *hint,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void fail(struct validation *v, const char *name, int status, const char *hint,
		 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(v, name, 0, status, hint, fmt, ap);
	va_end(ap);
}

/* Passed, with something to look at: the report says "warning" and the hint what to do. */
static void warn(struct validation *v, const char *name, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void warn(struct validation *v, const char *name, const char *hint, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(v, name, 1, 0, hint, fmt, ap);
	va_end(ap);
	v->report->checks[v->report->n - 1].warning = 1;
}

static void skip(struct validation *v, const char *name)
{
	pass(v, name, "skipped on request");
	v->report->checks[v->report->n - 1].skipped = 1;
}

/* Nearest existing ancestor of `path` (itself included), allocated. */
static char *existing_ancestor(const char *path)
{
	char *p = mlf_xstrdup(path);
	while (!mlf_is_dir(p)) {
		char *slash = strrchr(p, '/');
		if (!slash || slash == p) {
			free(p);
			return mlf_xstrdup("/");
		}
		*slash = '\0';
	}
	return p;
}

/* ---- the checks -------------------------------------------------------- */

static void check_config(struct validation *v)
{
	const struct mlf_config *cfg = v->cfg;
	if (cfg->file)
		pass(v, "config", "read %s (workspace %s)", cfg->file, cfg->workspace);
	else
		pass(v, "config", "no mlf.yaml in %s; using defaults and the environment",
		     cfg->workspace);
}

/*
 * A SQLite store answers reads even when this user cannot write it, and
 * retrain-run would then fail at its first write (77): the database file and
 * its folder (SQLite writes its journal beside it) must be writable.  0 after
 * failing the check.
 */
static int sqlite_writable(struct validation *v, const char *uri)
{
	char *path = NULL;
	struct mlf_error err = MLF_ERROR_INIT;
	int ok = 1;
	if (!uri || strcmp(mlf_tracking_backend(v->store), "sqlite") ||
	    mlf_uri_sqlite_path(uri, v->cfg->workspace, &path, &err))
		return 1;
	char *dir = mlf_xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	const char *bad = access(path, W_OK) ? path : access(dir, W_OK | X_OK) ? dir : NULL;
	if (bad) {
		fail(v, "tracking_store", MLF_EX_CHECK,
		     "make it writable by this user, or run as the user that owns it",
		     "the SQLite store %s answers, but %s is not writable by this user: retrain-run "
		     "could not record a run", path, bad);
		ok = 0;
	}
	free(dir);
	free(path);
	return ok;
}

static void check_store(struct validation *v)
{
	struct mlf_tracking_options opts;
	struct mlf_error err = MLF_ERROR_INIT;
	const char *uri = mlf_config_get(v->cfg, "tracking_uri");
	char *shown = mlf_uri_redact(uri ? uri : "");

	int rc = mlf_config_tracking_options(v->cfg, &opts, &err);
	opts.create_store = v->opts->init;
	if (rc || mlf_tracking_open(&v->store, &opts, &err) || mlf_tracking_ping(v->store, &err)) {
		const char *hint = err.kind == MLF_ERR_AUTH ?
			"check MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN" :
			err.kind == MLF_ERR_NOT_FOUND ? "run `mlf-validate --init` to create it" :
			err.status == MLF_EX_UNAVAILABLE ?
			"start the MLflow server or fix tracking_uri (mlf.yaml) / MLFLOW_TRACKING_URI" :
			"fix tracking_uri in mlf.yaml or MLFLOW_TRACKING_URI";
		fail(v, "tracking_store", check_tracking_status(&err), hint, "%s", err.msg);
		mlf_tracking_close(v->store);
		v->store = NULL;
	} else if (!sqlite_writable(v, uri)) {
		mlf_tracking_close(v->store);
		v->store = NULL;
	} else {
		pass(v, "tracking_store", "%s store at %s answers (tracking_uri from %s)",
		     mlf_tracking_backend(v->store), shown, mlf_config_origin(v->cfg, "tracking_uri"));
	}
	free(shown);
}

/*
 * --init without an id, or on a server (which assigns ids itself): create the
 * experiment by name, or find it, and say which id to configure.  Returns -1
 * with the explanation in err (status 1: the configuration is still missing).
 */
static int init_by_name(struct validation *v, const char *id, struct mlf_error *err)
{
	const char *name = mlf_config_get(v->cfg, "experiment_name");
	const char *why = id ? "an MLflow server assigns experiment ids" : "no experiment_id is configured";
	struct mlf_experiment existing = { 0 };
	struct mlf_error e2 = MLF_ERROR_INIT;
	char *new_id = NULL, *loc = NULL;
	int rc;

	if (mlf_tracking_get_experiment_by_name(v->store, name, &existing, &e2) == 0) {
		rc = mlf_fail(err, MLF_EX_CHECK, "%s; experiment '%s' already exists there with id %s",
			      why, name, existing.experiment_id);
		mlf_experiment_release(&existing);
		return rc;
	}
	if (e2.kind != MLF_ERR_NOT_FOUND)
		return mlf_fail(err, check_tracking_status(&e2), "%s", e2.msg);
	loc = mlf_config_expected_artifact_location(v->cfg);
	if (mlf_tracking_create_experiment(v->store, name, NULL, loc, &new_id, &e2) == 0)
		rc = mlf_fail(err, MLF_EX_CHECK, "%s, so --init created experiment '%s' with id %s",
			      why, name, new_id);
	else
		rc = mlf_fail(err, check_tracking_status(&e2), "%s", e2.msg);
	free(new_id);
	free(loc);
	return rc;
}

/* --init: create the experiment with the exact id where the store allows it. */
static int init_experiment(struct validation *v, const char *id, struct mlf_error *err)
{
	if (!id || !strcmp(mlf_tracking_backend(v->store), "rest"))
		return init_by_name(v, id, err);
	const char *name = mlf_config_get(v->cfg, "experiment_name");
	char *loc = mlf_config_expected_artifact_location(v->cfg);
	int rc = mlf_tracking_create_experiment(v->store, name, id, loc, NULL, err);
	free(loc);
	if (rc == 0 && !v->opts->quiet)
		fprintf(stderr, "mlf-validate: created experiment %s '%s'\n", id, name);
	return rc;
}

static void check_experiment(struct validation *v)
{
	const char *id = mlf_config_get(v->cfg, "experiment_id");
	struct mlf_error err = MLF_ERROR_INIT;

	if (!id && v->opts->init && v->store) {
		struct mlf_error init_err = MLF_ERROR_INIT;
		init_experiment(v, NULL, &init_err);
		fail(v, "experiment", init_err.status, "put that id in experiment_id (mlf.yaml) and run "
		     "mlf-validate again", "%s", init_err.msg);
		return;
	}
	if (!id) {
		fail(v, "experiment", MLF_EX_CHECK,
		     "set experiment_id in mlf.yaml or MLFLOW_EXPERIMENT_ID (mlf-validate --init creates it)",
		     "no experiment_id configured; runs are only ever logged to an exact experiment");
		return;
	}
	if (!v->store) {
		fail(v, "experiment", MLF_EX_CHECK, NULL, "not checked: no tracking store");
		return;
	}
	int rc = mlf_tracking_get_experiment(v->store, id, &v->exp, &err);
	if (rc && err.kind == MLF_ERR_NOT_FOUND && v->opts->init) {
		struct mlf_error init_err = MLF_ERROR_INIT;
		if (init_experiment(v, id, &init_err)) {
			const char *hint = !strcmp(mlf_tracking_backend(v->store), "rest") ?
				"put the server's id in experiment_id (mlf.yaml) and run mlf-validate again" : NULL;
			fail(v, "experiment", check_tracking_status(&init_err), hint, "%s", init_err.msg);
			return;
		}
		mlf_error_clear(&err);
		rc = mlf_tracking_get_experiment(v->store, id, &v->exp, &err);
	}
	if (rc) {
		if (err.kind == MLF_ERR_NOT_FOUND)
			fail(v, "experiment", MLF_EX_CHECK,
			     "create it with `mlf-validate --init` or fix experiment_id in mlf.yaml",
			     "experiment %s not found at %s (experiment_id from %s)", id,
			     mlf_tracking_uri(v->store), mlf_config_origin(v->cfg, "experiment_id"));
		else
			fail(v, "experiment", check_tracking_status(&err), NULL, "%s", err.msg);
		return;
	}
	v->have_exp = 1;
	if (v->exp.lifecycle_stage && strcmp(v->exp.lifecycle_stage, "active")) {
		fail(v, "experiment", MLF_EX_CHECK,
		     "restore it (mlflow experiments restore --experiment-id ID) or configure another id",
		     "experiment %s '%s' is deleted", id, v->exp.name);
		return;
	}
	const char *want_name = mlf_config_get(v->cfg, "experiment_name");
	int name_pinned = strcmp(mlf_config_origin(v->cfg, "experiment_name"), "default") != 0;
	if (name_pinned && want_name && strcmp(want_name, v->exp.name)) {
		fail(v, "experiment", MLF_EX_CHECK, "fix experiment_id or experiment_name in mlf.yaml",
		     "experiment %s is named '%s', but experiment_name is '%s' (from %s)",
		     id, v->exp.name, want_name, mlf_config_origin(v->cfg, "experiment_name"));
		return;
	}
	pass(v, "experiment", "experiment %s '%s' exists and is active", id, v->exp.name);
}

static void check_artifact_location(struct validation *v)
{
	if (!v->have_exp) {
		fail(v, "artifact_location", MLF_EX_CHECK, NULL, "not checked: no experiment");
		return;
	}
	char *want = mlf_config_expected_artifact_location(v->cfg);
	const char *have = v->exp.artifact_location ? v->exp.artifact_location : "";
	if (!want)
		pass(v, "artifact_location", "the server chose %s (pin it with artifact_location in mlf.yaml)",
		     have);
	else if (mlf_uri_same_location(want, have, v->cfg->workspace))
		pass(v, "artifact_location", "%s, as configured", have);
	else
		fail(v, "artifact_location", MLF_EX_CHECK,
		     "point artifact_location (mlf.yaml) at the experiment's location, or use an "
		     "experiment whose artifacts go where you expect",
		     "experiment %s stores artifacts at '%s', but the configured location is '%s' (%s)",
		     v->exp.experiment_id, have, want,
		     mlf_config_get(v->cfg, "artifact_location") ? mlf_config_origin(v->cfg, "artifact_location")
								  : "from artifact_root");
	free(want);
}

/*
 * The registered model should be this experiment's alone: a version of
 * another experiment's run means another workspace registers under the same
 * name, and champion would be decided between models measured on different
 * validation data.  A warning, not a failure: sharing may be meant.
 */
static void check_registered_model(struct validation *v)
{
	if (!v->have_exp) {
		fail(v, "registered_model", MLF_EX_CHECK, NULL, "not checked: no experiment");
		return;
	}
	char *name = mlf_config_registered_model(v->cfg, v->exp.name);
	struct mlf_kvs versions = MLF_KVS_INIT;
	struct mlf_buf others = MLF_BUF_INIT;
	struct mlf_error err = MLF_ERROR_INIT;
	size_t nothers = 0;
	int rc = mlf_tracking_list_model_versions(v->store, name, &versions, &err);
	for (size_t i = 0; !rc && i < versions.n; i++) {
		struct mlf_run run = { 0 };
		if (!*versions.items[i].value)
			continue;  /* registered by hand, from no run */
		if (mlf_tracking_get_run(v->store, versions.items[i].value, &run, &err)) {
			if (err.kind == MLF_ERR_NOT_FOUND)  /* a deleted run: nothing to compare */
				mlf_error_clear(&err);
			else
				rc = -1;
		} else if (run.experiment_id && strcmp(run.experiment_id, v->exp.experiment_id)) {
			if (nothers++ < 3)
				mlf_buf_addf(&others, "%sversion %s (experiment %s)", nothers > 1 ? ", " : "",
					     versions.items[i].key, run.experiment_id);
		}
		mlf_run_release(&run);
	}
	if (rc && err.kind == MLF_ERR_UNSUPPORTED)
		pass(v, "registered_model", "not checked: %s", err.msg);
	else if (rc)
		fail(v, "registered_model", check_tracking_status(&err), NULL, "%s", err.msg);
	else if (nothers)
		warn(v, "registered_model", "set registered_model (mlf.yaml) to a name this workspace "
		     "alone uses",
		     "registered model '%s' holds %zu version(s) of other experiments' runs: %s%s; another "
		     "workspace registers under the same name, and champion would be decided across both",
		     name, nothers, others.data, nothers > 3 ? ", ..." : "");
	else {
		const char *set = mlf_config_get(v->cfg, "registered_model");
		const char *why = set && *set ? "registered_model" : "the experiment's name";
		if (versions.n)
			pass(v, "registered_model", "'%s' (%s): %zu version(s), all of experiment %s", name,
			     why, versions.n, v->exp.experiment_id);
		else
			pass(v, "registered_model", "'%s' (%s): no version yet", name, why);
	}
	mlf_buf_release(&others);
	mlf_kvs_release(&versions);
	free(name);
}

static void check_local_writable(struct validation *v, const char *name, const char *dir,
				 const char *what)
{
	struct mlf_error err = MLF_ERROR_INIT;
	if (v->opts->init && mlf_mkdir_p(dir, 0777, &err)) {
		fail(v, name, MLF_EX_CHECK, "fix the folder's permissions or point the setting elsewhere",
		     "%s", err.msg);
		return;
	}
	char *probe_dir = existing_ancestor(dir);
	if (mlf_probe_writable(probe_dir, &err))
		fail(v, name, MLF_EX_CHECK, "fix the folder's permissions or point the setting elsewhere",
		     "%s %s: %s", what, dir, err.msg);
	else if (strcmp(probe_dir, dir))
		pass(v, name, "%s %s will be created in writable %s", what, dir, probe_dir);
	else
		pass(v, name, "%s %s is writable", what, dir);
	free(probe_dir);
}

static void check_artifact_writable(struct validation *v)
{
	if (!v->have_exp) {
		fail(v, "artifact_writable", MLF_EX_CHECK, NULL, "not checked: no experiment");
		return;
	}
	const char *loc = v->exp.artifact_location ? v->exp.artifact_location : "";
	switch (mlf_uri_kind(loc)) {
	case MLF_URI_FILE: {
		char *dir = NULL;
		struct mlf_error err = MLF_ERROR_INIT;
		if (mlf_uri_local_path(loc, v->cfg->workspace, &dir, &err)) {
			fail(v, "artifact_writable", MLF_EX_CHECK, NULL, "%s", err.msg);
			return;
		}
		check_local_writable(v, "artifact_writable", dir, "artifact folder");
		free(dir);
		return;
	}
	default: {
		/* the rule retrain-run applies before it creates a run: a configuration error */
		struct mlf_error err = MLF_ERROR_INIT;
		if (mlf_tracking_check_artifact_location(v->store, loc, &err))
			fail(v, "artifact_writable", MLF_EX_CONFIG, NULL, "%s", err.msg);
		else if (mlf_uri_kind(loc) == MLF_URI_S3)
			pass(v, "artifact_writable", "%s took a test object, written and removed", loc);
		else
			pass(v, "artifact_writable", "%s is served by the tracking server%s", loc,
			     v->opts->probe ? "; the probe writes through it" : "; run with --probe to write through it");
		return;
	}
	}
}

static void check_workspace_writable(struct validation *v)
{
	struct mlf_error err = MLF_ERROR_INIT;
	static const char *const layout[] = { "paths.corrections", "paths.data", "paths.runs" };
	for (size_t i = 0; v->opts->init && i < sizeof(layout) / sizeof(layout[0]); i++) {
		char *dir = mlf_config_path(v->cfg, layout[i]);
		int rc = mlf_mkdir_p(dir, 0777, &err);
		free(dir);
		if (rc) {
			fail(v, "workspace_writable", MLF_EX_CHECK, NULL, "%s", err.msg);
			return;
		}
	}
	char *models = mlf_config_path(v->cfg, "paths.models");
	check_local_writable(v, "workspace_writable", models, "models folder");
	free(models);
}

/*
 * Each folder the pipeline writes to (the workspace, paths.models, paths.data,
 * paths.runs) may sit on its own file system: each distinct one must have
 * checks.min_free_disk_mb free.  A folder not made yet is judged by its
 * nearest existing parent.
 */
static void check_disk(struct validation *v)
{
	static const char *const keys[] = { "paths.models", "paths.data", "paths.runs" };
	uint64_t need = (uint64_t)mlf_config_int(v->cfg, "checks.min_free_disk_mb") << 20;
	struct { dev_t dev; char *where; uint64_t have; } fs[4];
	size_t nfs = 0;
	struct mlf_error err = MLF_ERROR_INIT;
	int failed = 0;
	for (size_t i = 0; i < 4 && !failed; i++) {
		char *dir = i ? mlf_config_path(v->cfg, keys[i - 1]) : mlf_xstrdup(v->cfg->workspace);
		char *where = existing_ancestor(dir);
		struct stat st;
		size_t k = 0;
		free(dir);
		if (stat(where, &st) != 0) {
			failed = mlf_fail_errno(&err, MLF_EX_CHECK, "cannot look at %s", where);
			free(where);
			break;
		}
		while (k < nfs && fs[k].dev != st.st_dev)
			k++;
		if (k < nfs) {  /* a file system already counted */
			free(where);
			continue;
		}
		fs[nfs].dev = st.st_dev;
		fs[nfs].where = where;
		failed = mlf_free_bytes(where, &fs[nfs++].have, &err);
	}
	if (failed) {
		fail(v, "disk_space", MLF_EX_CHECK, NULL, "%s", err.msg);
	} else {
		struct mlf_buf low = MLF_BUF_INIT, all = MLF_BUF_INIT;
		for (size_t k = 0; k < nfs; k++) {
			struct mlf_buf *b = fs[k].have < need ? &low : &all;
			mlf_buf_addf(b, "%s%.0f MiB free at %s", b->len ? ", " : "",
				     fs[k].have / 1048576.0, fs[k].where);
		}
		if (low.len)
			fail(v, "disk_space", MLF_EX_CHECK, "free some space or lower checks.min_free_disk_mb",
			     "%s, %.0f MiB needed", low.data, need / 1048576.0);
		else
			pass(v, "disk_space", "%s (%.0f MiB needed on each)", all.data, need / 1048576.0);
		mlf_buf_release(&low);
		mlf_buf_release(&all);
	}
	for (size_t k = 0; k < nfs; k++)
		free(fs[k].where);
}

/* The base model is read whole, as retrain-run will read it (mlf_yolo_checkpoint_read):
 * a truncated zip, a garbage pickle, a pickle naming code to run, or weights that do
 * not fit their architecture fail here rather than after a run exists. */
static void check_base_model(struct validation *v)
{
	char *path = mlf_config_path(v->cfg, "paths.base_model");
	struct stat st;
	struct mlf_ckpt c;
	struct mlf_error err = MLF_ERROR_INIT;
	if (stat(path, &st) != 0) {
		fail(v, "base_model", MLF_EX_CHECK,
		     "copy the detector to retrain there, or set paths.base_model in mlf.yaml",
		     "base model %s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode) || st.st_size < 4) {
		fail(v, "base_model", MLF_EX_CHECK, "point paths.base_model at an Ultralytics .pt file",
		     "base model %s is not a non-empty file", path);
	} else if (mlf_yolo_checkpoint_read(path, &c, &err)) {
		fail(v, "base_model", MLF_EX_CHECK, "point paths.base_model at an Ultralytics .pt file",
		     "base model: %s", err.msg);
	} else {
		pass(v, "base_model", "%s (%lld bytes): a detector of %d classes, %zu tensors", path,
		     (long long)st.st_size, (int)json_object_size(json_object_get(c.meta, "names")),
		     c.ntensors);
		mlf_ckpt_release(&c);
	}
	free(path);
}

static void check_corrections(struct validation *v)
{
	char *dir = mlf_config_path(v->cfg, "paths.corrections");
	char *base_yaml = mlf_config_path(v->cfg, "prep.base_data");
	long want = mlf_config_int(v->cfg, "checks.min_corrections");
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_data_yaml base = { 0 };
	struct mlf_correction_set set = { 0 };
	struct mlf_problems problems = MLF_PROBLEMS_INIT;

	if (v->opts->init && mlf_mkdir_p(dir, 0777, &err))
		fail(v, "corrections", MLF_EX_CHECK, NULL, "%s", err.msg);
	else if (mlf_data_yaml_load(base_yaml, &base, &err))
		fail(v, "corrections", MLF_EX_CHECK,
		     "point prep.base_data at the original training data (its class names are needed)",
		     "cannot read the class names: %s", err.msg);
	else if (mlf_corrections_load(dir, &base.classes, &set, &problems, &err))
		fail(v, "corrections", MLF_EX_CHECK, "create it (mlf-validate --init) or set paths.corrections",
		     "%s", err.msg);
	else if ((long)set.n < want)
		fail(v, "corrections", MLF_EX_CHECK, "collect more corrections or lower checks.min_corrections",
		     "%zu correction(s) in %s, %ld needed (%zu file(s) with problems)", set.n, dir, want,
		     problems.n);
	else
		pass(v, "corrections", "%zu correction(s) in %s (%ld needed)%s", set.n, dir, want,
		     problems.n ? "; some files have problems: retrain-prep lists them" : "");
	mlf_problems_release(&problems);
	mlf_correction_set_release(&set);
	mlf_data_yaml_release(&base);
	free(base_yaml);
	free(dir);
}

/* ---- the probe run ----------------------------------------------------- */

static int probe_readback(struct validation *v, struct mlf_run *run, const char *marker,
			  struct mlf_error *err)
{
	struct mlf_run got = { 0 };
	struct mlf_artifact_list arts = { 0 };
	int rc = mlf_tracking_get_run(v->store, run->run_id, &got, err);
	if (!rc) {
		const char *p = mlf_kvs_get(&got.params, "mlf.probe.param");
		const char *t = mlf_kvs_get(&got.tags, "mlf.probe.tag");
		int metric_ok = 0;
		for (size_t i = 0; i < got.nmetrics; i++)
			metric_ok |= !strcmp(got.metrics[i].key, "mlf.probe.metric") &&
				     got.metrics[i].value == 0.5;
		if (!p || strcmp(p, marker) || !t || strcmp(t, marker) || !metric_ok)
			rc = mlf_fail(err, MLF_EX_CHECK, "probe run %s did not read back what was logged",
				      run->run_id);
	}
	if (!rc)
		rc = mlf_tracking_list_artifacts(v->store, run, NULL, &arts, err);
	if (!rc) {
		int found = 0;
		for (size_t i = 0; i < arts.n; i++)
			found |= !strcmp(arts.items[i].path, "mlf-probe.txt") &&
				 arts.items[i].size == (int64_t)strlen(marker);
		if (!found)
			rc = mlf_fail(err, MLF_EX_CHECK, "probe artifact mlf-probe.txt missing from run %s",
				      run->run_id);
	}
	mlf_artifact_list_release(&arts);
	mlf_run_release(&got);
	return rc;
}

static void check_probe(struct validation *v)
{
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_run run = { 0 };
	char marker[33], *tmpdir = NULL, *file = NULL;
	int created = 0, rc;

	if (!v->have_exp || !v->store) {
		fail(v, "probe", MLF_EX_CHECK, NULL, "not run: no experiment");
		return;
	}
	mlf_random_hex32(marker);
	struct mlf_kvs tags = MLF_KVS_INIT;
	mlf_kvs_add(&tags, "mlf.probe", "true");
	struct mlf_run_request req = { .experiment_id = v->exp.experiment_id,
				       .run_name = "mlf-validate-probe", .tags = &tags,
				       .source_name = "mlf-validate" };
	rc = mlf_tracking_create_run(v->store, &req, &run, &err);
	mlf_kvs_release(&tags);
	created = rc == 0;
	if (!rc) {
		struct mlf_kvs params = MLF_KVS_INIT, ptags = MLF_KVS_INIT;
		struct mlf_metric m = { (char *)"mlf.probe.metric", 0.5, mlf_now_ms(), 0 };
		mlf_kvs_add(&params, "mlf.probe.param", marker);
		mlf_kvs_add(&ptags, "mlf.probe.tag", marker);
		rc = mlf_tracking_log_batch(v->store, run.run_id, &m, 1, &params, &ptags, &err);
		mlf_kvs_release(&params);
		mlf_kvs_release(&ptags);
	}
	if (!rc) {
		char tmpl[] = "/tmp/mlf-probe.XXXXXX";
		tmpdir = mkdtemp(tmpl) ? mlf_xstrdup(tmpl) : NULL;
		if (!tmpdir)
			rc = mlf_fail_errno(&err, MLF_EX_CANTCREAT, "cannot create a temporary folder");
		else {
			file = mlf_path_join(tmpdir, "mlf-probe.txt");
			rc = mlf_write_file_atomic(file, marker, strlen(marker), &err);
		}
	}
	if (!rc)
		rc = mlf_tracking_log_artifact(v->store, &run, file, NULL, &err);
	if (!rc)
		rc = probe_readback(v, &run, marker, &err);
	if (!rc)
		rc = mlf_tracking_end_run(v->store, run.run_id, MLF_RUN_FINISHED, 0, &err);

	if (rc && created) {
		struct mlf_error ignored = MLF_ERROR_INIT;
		mlf_tracking_end_run(v->store, run.run_id, MLF_RUN_FAILED, 0, &ignored);
	}
	/* The probe leaves nothing behind: delete the run and, when local, its artifact files. */
	if (created) {
		char *dir = NULL;
		if (mlf_tracking_delete_run(v->store, run.run_id, rc ? &(struct mlf_error)MLF_ERROR_INIT : &err))
			rc = rc ? rc : mlf_error_prefix(&err, "cannot remove probe run %s", run.run_id);
		if (run.artifact_uri && mlf_uri_kind(run.artifact_uri) == MLF_URI_FILE &&
		    mlf_uri_local_path(run.artifact_uri, v->cfg->workspace, &dir, NULL) == 0) {
			char *slash = strrchr(dir, '/');  /* <exp>/<run>/artifacts -> <exp>/<run>/ */
			if (slash)
				*slash = '\0';
			char *leaf = strrchr(dir, '/');
			if (leaf && !strcmp(leaf + 1, run.run_id))
				mlf_remove_tree(dir, NULL);
		}
		free(dir);
	}
	if (rc)
		fail(v, "probe", check_tracking_status(&err), NULL, "%s", err.msg);
	else
		pass(v, "probe", "run %s logged a param, a metric, a tag and an artifact, read them "
		     "back, and was removed", run.run_id);
	if (tmpdir) {
		mlf_remove_tree(tmpdir, NULL);
		free(tmpdir);
	}
	free(file);
	mlf_run_release(&run);
}

/* ---- driver and report ------------------------------------------------- */

int mlf_validate(const struct mlf_config *cfg, const struct mlf_validate_options *opts,
		 struct mlf_report *report)
{
	struct validation v = { cfg, opts, report, NULL, { 0 }, 0 };
	static void (*const steps[])(struct validation *) = {
		check_config, check_store, check_experiment, check_artifact_location,
		check_registered_model, check_artifact_writable, check_workspace_writable, check_disk,
		check_base_model, check_corrections,
	};
	memset(report, 0, sizeof(*report));
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (skipped(&v, mlf_check_names[i]))
			skip(&v, mlf_check_names[i]);
		else
			steps[i](&v);
	}
	if (opts->probe)
		check_probe(&v);
	mlf_experiment_release(&v.exp);
	mlf_tracking_close(v.store);
	return mlf_report_status(report);
}

int mlf_report_status(const struct mlf_report *r)
{
	int status = 0;
	for (size_t i = 0; i < r->n; i++)
		if (!r->checks[i].ok)
			status = mlf_status_worse(status, r->checks[i].status);
	return status;
}

json_t *mlf_report_json(const struct mlf_report *r, const struct mlf_config *cfg)
{
	json_t *checks = json_array();
	for (size_t i = 0; i < r->n; i++) {
		const struct mlf_check *c = &r->checks[i];
		json_t *o = json_pack("{s:s, s:b, s:s, s:o}", "name", c->name, "ok", c->ok,
				      "detail", c->detail, "hint", mlf_json_string_or_null(c->hint));
		if (c->skipped)
			json_object_set_new(o, "skipped", json_true());
		if (c->warning)
			json_object_set_new(o, "warning", json_true());
		json_array_append_new(checks, o);
	}
	int status = mlf_report_status(r);
	const char *uri = mlf_config_get(cfg, "tracking_uri");
	char *shown = mlf_uri_redact(uri ? uri : "");
	json_t *doc = json_pack("{s:s, s:i, s:b, s:i, s:s, s:s, s:o, s:o}",
				"kind", "mlf.validation", "schema_version", 1, "ok", status == 0,
				"exit_status", status, "workspace", cfg->workspace,
				"tracking_uri", shown,
				"experiment_id", mlf_json_string_or_null(mlf_config_get(cfg, "experiment_id")),
				"checks", checks);
	free(shown);
	return doc;
}

void mlf_report_print(const struct mlf_report *r, FILE *out, int color)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct mlf_check *c = &r->checks[i];
		const char *mark = c->skipped ? "skip" : c->warning ? "WARN" : c->ok ? " ok " : "FAIL";
		if (color && !c->skipped)
			fprintf(out, "[%s%s\033[0m] %-18s %s\n",
				c->warning ? "\033[33m" : c->ok ? "\033[32m" : "\033[31m", mark, c->name,
				c->detail);
		else
			fprintf(out, "[%s] %-18s %s\n", mark, c->name, c->detail);
		if ((!c->ok || c->warning) && c->hint)
			fprintf(out, "       %-18s hint: %s\n", "", c->hint);
	}
}

void mlf_report_release(struct mlf_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->checks[i].name);
		free(r->checks[i].detail);
		free(r->checks[i].hint);
	}
	free(r->checks);
	memset(r, 0, sizeof(*r));
}
