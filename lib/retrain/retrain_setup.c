/*
 * Before the run: which version, is it free, the workspace lock, the base
 * model, the training settings, and the exact experiment.  Nothing here
 * writes to the tracking store, so a refusal leaves no run behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mlf/ckpt.h"
#include "mlf/data.h"
#include "mlf/base.h"
#include "mlf/prep.h"
#include "mlf/tracking.h"
#include "mlf/yolo.h"
#include "retrain_internal.h"

/*
 * The document must describe this workspace's version N as retrain-prep left
 * it: its files in <paths.data>/retrain_vN, and the metadata there naming the
 * same version and digest.  Checked before any run exists, so a forged or
 * stray document (another workspace's version, an edited digest) leaves
 * nothing behind.
 */
static int dataset_is_ours(struct retrain *r, const json_t *d, struct mlf_error *err)
{
	static const struct { const char *key, *file; } files[] = {
		{ "data_yaml", "data.yaml" },
		{ "metadata", "retraining_dataset_metadata.json" },
		{ "corrections_applied", "corrections_applied.json" },
	};
	char *data = mlf_config_path(r->cfg, "paths.data");
	char *leaf = mlf_xasprintf("retrain_v%ld", r->p.n);
	char *joined = mlf_path_join(data, leaf);
	char *dir = mlf_path_normalize(joined);
	json_t *meta = NULL;
	int rc = 0;
	for (size_t i = 0; !rc && i < sizeof(files) / sizeof(files[0]); i++) {
		const char *given = mlf_json_str(d, files[i].key, NULL);
		if (!given) {
			rc = mlf_fail(err, MLF_EX_DATAERR, "the dataset document lacks %s", files[i].key);
			break;
		}
		char *want = mlf_path_join(dir, files[i].file);
		char *abs = mlf_path_absolute(NULL, given);
		char *norm = mlf_path_normalize(abs);
		if (strcmp(norm, want))
			rc = mlf_fail(err, MLF_EX_DATAERR, "the dataset document's %s is %s, not %s: "
				      "version v%ld of this workspace (paths.data) is trained only from "
				      "its own folder", files[i].key, given, want, r->p.n);
		free(want);
		free(abs);
		free(norm);
	}
	if (!rc) {
		json_error_t je;
		const char *path = mlf_json_str(d, "metadata", NULL);
		const char *digest = mlf_json_str(d, "digest", NULL);
		if (!mlf_is_file(path))
			rc = mlf_fail(err, MLF_EX_NOINPUT, "%s (dataset %s) not found; was the dataset moved?",
				      path, leaf);
		else if (!(meta = json_load_file(path, 0, &je)))
			rc = mlf_fail(err, MLF_EX_DATAERR, "%s: %s", path, je.text);
		else if (strcmp(mlf_json_str(meta, "name", ""), leaf))
			rc = mlf_fail(err, MLF_EX_DATAERR, "%s names version '%s', not %s", path,
				      mlf_json_str(meta, "name", ""), leaf);
		else if (strcmp(mlf_json_str(meta, "digest", ""), digest))
			rc = mlf_fail(err, MLF_EX_DATAERR, "the dataset document's digest %s is not the one "
				      "retrain-prep recorded for %s (%s): the document was altered",
				      digest, leaf, mlf_json_str(meta, "digest", "none"));
	}
	if (!rc) {
		/* and the files are still what that digest says: none changed since */
		char now[65];
		if (mlf_prep_digest(dir, now, err))
			rc = mlf_error_prefix(err, "recomputing the digest of %s", leaf);
		else if (strncmp(mlf_json_str(d, "digest", ""), "sha256:", 7) ||
			 strcmp(mlf_json_str(d, "digest", "") + 7, now))
			rc = mlf_fail(err, MLF_EX_DATAERR, "the files of %s no longer match its digest "
				      "(recorded %s, now sha256:%s): an image, a label or a base file "
				      "changed after retrain-prep made the version", leaf,
				      mlf_json_str(d, "digest", ""), now);
	}
	json_decref(meta);
	free(dir);
	free(joined);
	free(leaf);
	free(data);
	return rc;
}

static int dataset_from_document(struct retrain *r, struct mlf_error *err)
{
	const json_t *d = r->o->dataset;
	const char *kind = json_string_value(json_object_get(d, "kind"));
	if (!d || !kind)
		return mlf_fail(err, MLF_EX_DATAERR, "no dataset document: pipe retrain-prep's output in, "
				"or give --dataset data/retrain_vN");
	if (strcmp(kind, "mlf.dataset"))
		return mlf_fail(err, MLF_EX_DATAERR, "the input document is of kind '%s', not mlf.dataset "
				"(retrain-prep's output)", kind);
	const char *version = json_string_value(json_object_get(d, "version"));
	const char *yaml = json_string_value(json_object_get(d, "data_yaml"));
	if (!version || !yaml || !json_string_value(json_object_get(d, "digest")))
		return mlf_fail(err, MLF_EX_DATAERR, "the dataset document lacks version, data_yaml or digest");
	if (mlf_version_parse(version, &r->p.n, err))
		return mlf_fail(err, MLF_EX_DATAERR, "the dataset document's version '%s' is not vN", version);
	if (dataset_is_ours(r, d, err))
		return -1;
	if (!mlf_is_file(yaml))
		return mlf_fail(err, MLF_EX_NOINPUT, "%s (dataset %s) not found; was the dataset moved?",
				yaml, version);
	r->dataset = json_deep_copy(d);
	return 0;
}

json_t *mlf_retrain_dataset_document(const char *dir, struct mlf_error *err)
{
	char *abs = mlf_path_absolute(NULL, dir);
	char *clean = mlf_path_normalize(abs);
	size_t len = strlen(clean);
	while (len > 1 && clean[len - 1] == '/')
		clean[--len] = '\0';
	const char *name = strrchr(clean, '/') ? strrchr(clean, '/') + 1 : clean;
	char *yaml = mlf_path_join(clean, "data.yaml");
	char *applied = mlf_path_join(clean, "corrections_applied.json");
	char *meta_path = mlf_path_join(clean, "retraining_dataset_metadata.json");
	json_t *doc = NULL, *meta = NULL;
	long n;
	json_error_t je;
	if (!mlf_is_dir(clean))
		mlf_fail(err, MLF_EX_NOINPUT, "dataset folder %s not found", clean);
	else if (strncmp(name, "retrain_v", 9) || mlf_version_parse(name, &n, err))
		mlf_fail(err, MLF_EX_USAGE, "%s is not a dataset version folder (retrain_vN)", clean);
	else if (!mlf_is_file(yaml) || !mlf_is_file(applied))
		mlf_fail(err, MLF_EX_NOINPUT, "%s lacks data.yaml or corrections_applied.json; is it a "
			 "retrain-prep version?", clean);
	else if (!(meta = json_load_file(meta_path, 0, &je)))
		mlf_fail(err, MLF_EX_DATAERR, "%s: %s", meta_path, je.text);
	else if (!json_string_value(json_object_get(meta, "digest")))
		mlf_fail(err, MLF_EX_DATAERR, "%s has no digest", meta_path);
	else
		doc = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:O, s:s, s:s, s:O}", "kind", "mlf.dataset",
				"schema_version", 1, "version", name + strlen("retrain_"), "name", name,
				"path", clean, "data_yaml", yaml, "digest", json_object_get(meta, "digest"),
				"corrections_applied", applied, "metadata", meta_path,
				"counts", json_object_get(meta, "counts") ? json_object_get(meta, "counts")
									   : json_null());
	json_decref(meta);
	free(abs);
	free(clean);
	free(yaml);
	free(applied);
	free(meta_path);
	return doc;
}

/* Resuming: everything comes from runs/train/retrain_vN/mlf_run.json. */
static int dataset_from_state(struct retrain *r, struct mlf_error *err)
{
	struct mlf_version_paths p;
	mlf_version_paths_init(&p, r->cfg, r->o->resume);
	r->state = retrain_state_read(p.state, err);
	mlf_version_paths_release(&p);
	if (!r->state)
		return mlf_error_prefix(err, "nothing to resume for v%ld", r->o->resume);
	const char *status = json_string_value(json_object_get(r->state, "status"));
	if (status && !strcmp(status, "FINISHED"))
		return mlf_fail(err, MLF_EX_USAGE, "v%ld finished already (run %s); nothing to resume",
				r->o->resume, json_string_value(json_object_get(r->state, "run_id")));
	const char *exp = json_string_value(json_object_get(r->state, "experiment_id"));
	if (!exp || strcmp(exp, r->experiment_id))
		return mlf_fail(err, MLF_EX_CONFIG, "v%ld's run belongs to experiment %s, but experiment_id is "
				"%s; resume with the configuration it started with", r->o->resume,
				exp ? exp : "(none)", r->experiment_id);
	r->dataset = json_incref(json_object_get(r->state, "dataset"));
	json_t *pending = json_object_get(r->state, "pending");
	if (json_array_size(pending))
		r->pending = json_incref(pending);
	/* killed while the store was away: the logger's spill is newer, and holds those too */
	json_t *spill = retrain_logger_spill_read(r);
	if (spill) {
		json_decref(r->pending);
		r->pending = spill;
	}
	json_t *pre = json_object_get(json_object_get(r->state, "done"), "pre_eval");
	if (json_is_object(pre))
		r->pre = json_incref(pre);
	json_t *champion = json_object_get(r->state, "champion_eval");
	if (json_is_object(champion))
		r->champion = json_incref(champion);
	json_t *registry = json_object_get(json_object_get(r->state, "done"), "register");
	if (json_is_object(registry))
		r->registry = json_incref(registry);
	r->p.n = r->o->resume;
	r->resuming = 1;
	return 0;
}

/* The version must be free: not published, its folder not another run's. */
static int version_free(struct retrain *r, struct mlf_error *err)
{
	if (mlf_is_file(r->p.model_pt))
		return mlf_fail(err, MLF_EX_CANTCREAT, "%s exists: v%ld was trained already; prepare a new "
				"dataset version with retrain-prep", r->p.model_pt, r->p.n);
	if (r->resuming || !mlf_is_dir(r->p.train_dir))
		return 0;
	struct mlf_error e2 = MLF_ERROR_INIT;
	/* Empty (its stale temporary files are gone by now): a retrain-run died between
	 * creating its run and first writing mlf_run.json.  The run was closed FAILED at
	 * this start; nothing here is worth keeping, and the version is trained anew. */
	if (rmdir(r->p.train_dir) == 0) {
		retrain_say(r, "removed the empty %s, left by a retrain-run that died before its first "
			    "step was recorded", r->p.train_dir);
		return 0;
	}
	json_t *old = retrain_state_read(r->p.state, &e2);
	const char *status = json_string_value(json_object_get(old, "status"));
	const char *run_id = json_string_value(json_object_get(old, "run_id"));
	if (!r->o->restart) {
		if (old)
			mlf_fail(err, MLF_EX_CANTCREAT, "%s holds run %s of v%ld (%s); continue it with "
				 "`retrain-run --resume v%ld`, or start over with --restart",
				 r->p.train_dir, run_id ? run_id : "?", r->p.n, status ? status : "?", r->p.n);
		else
			mlf_fail(err, MLF_EX_CANTCREAT, "%s exists but is not a retrain-run folder; move it "
				 "away, or replace it with --restart", r->p.train_dir);
		json_decref(old);
		return -1;
	}
	if (status && !strcmp(status, "RUNNING")) {
		json_decref(old);
		return mlf_fail(err, MLF_EX_CANTCREAT, "v%ld's run %s is still marked RUNNING; close it "
				"with `retrain-run --sweep` first", r->p.n, run_id ? run_id : "?");
	}
	json_decref(old);
	retrain_say(r, "--restart: removing %s", r->p.train_dir);
	return mlf_remove_tree(r->p.train_dir, err);
}

/* "yolov8n" from the checkpoint's model description. */
static char *model_type(const json_t *meta)
{
	const json_t *yaml = json_object_get(meta, "yaml");
	const char *file = json_string_value(json_object_get(yaml, "yaml_file"));
	const char *scale = json_string_value(json_object_get(yaml, "scale"));
	if (!file)
		return mlf_xstrdup("unknown");
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	size_t len = strlen(base);
	if (len > 5 && !strcmp(base + len - 5, ".yaml"))
		len -= 5;
	/* "yolov8.yaml" built at scale n is Ultralytics' "yolov8n" */
	if (scale && len && base[len - 1] != scale[0] && strlen(scale) == 1)
		return mlf_xasprintf("%.*s%s", (int)len, base, scale);
	return mlf_xasprintf("%.*s", (int)len, base);
}

/* r->base_model read as mlf-validate reads it: its sha256, model type and classes. */
static int load_base_model(struct retrain *r, struct mlf_error *err)
{
	if (mlf_sha256_file(r->base_model, r->base_sha, NULL, err))
		return -1;
	struct mlf_ckpt c;
	if (mlf_yolo_checkpoint_read(r->base_model, &c, err))  /* as mlf-validate checks it */
		return mlf_error_prefix(err, "base model");
	free(r->model_type);
	json_decref(r->classes);
	r->model_type = model_type(c.meta);
	r->classes = json_array();
	const json_t *names = json_object_get(c.meta, "names");
	for (size_t i = 0; i < json_object_size(names); i++) {
		char key[24];
		snprintf(key, sizeof(key), "%zu", i);
		const char *name = json_string_value(json_object_get(names, key));
		json_array_append_new(r->classes, json_string(name ? name : key));
	}
	mlf_ckpt_release(&c);
	return 0;
}

static int base_model(struct retrain *r, struct mlf_error *err)
{
	const char *saved = json_string_value(json_object_get(r->state, "base_model"));
	const char *from = mlf_config_get(r->cfg, "train.start_from");
	if (strcmp(from, "base") && strcmp(from, "champion"))
		return mlf_fail(err, MLF_EX_CONFIG, "train.start_from is base or champion, not '%s' (%s)", from,
				mlf_config_origin(r->cfg, "train.start_from"));
	r->base_model = saved ? mlf_xstrdup(saved) : mlf_config_path(r->cfg, "paths.base_model");
	if (!mlf_is_file(r->base_model))
		return mlf_fail(err, MLF_EX_NOINPUT, "base model %s not found; copy the detector to retrain "
				"there or set paths.base_model", r->base_model);
	return load_base_model(r, err);
}

/* The training would refuse other classes; say so before a run exists. */
static int same_classes(struct retrain *r, struct mlf_error *err)
{
	struct mlf_data_yaml d;
	if (mlf_data_yaml_load(r->data_yaml, &d, err))
		return -1;
	int rc = 0;
	size_t n = json_array_size(r->classes);
	if (d.classes.n != n)
		rc = mlf_fail(err, MLF_EX_DATAERR, "%s has %zu classes but the base model %s has %zu; "
			      "retraining keeps the model's classes", r->data_yaml, d.classes.n,
			      r->base_model, n);
	for (size_t i = 0; i < n && !rc; i++)
		if (strcmp(d.classes.names[i], json_string_value(json_array_get(r->classes, i))))
			rc = mlf_fail(err, MLF_EX_DATAERR, "class %zu is '%s' in %s but '%s' in the base "
				      "model %s; retraining keeps the model's classes", i, d.classes.names[i],
				      r->data_yaml, json_string_value(json_array_get(r->classes, i)),
				      r->base_model);
	mlf_data_yaml_release(&d);
	return rc;
}

static int copy_arg(char *dst, size_t size, const char *src, const char *what, struct mlf_error *err)
{
	if ((size_t)snprintf(dst, size, "%s", src) >= size)
		return mlf_fail(err, MLF_EX_USAGE, "%s path is too long (%zu bytes at most): %s", what,
				size - 1, src);
	return 0;
}

int retrain_train_options(struct retrain *r, struct mlf_error *err)
{
	struct mlf_train_options *t = &r->train;
	mlf_train_options_default(t);
	t->args.epochs = (int)mlf_config_int(r->cfg, "train.epochs");
	t->args.imgsz = (int)mlf_config_int(r->cfg, "train.imgsz");
	t->args.batch = (int)mlf_config_int(r->cfg, "train.batch");
	t->args.seed = (int)mlf_config_int(r->cfg, "train.seed");
	const char *extra = mlf_config_get(r->cfg, "train.args");
	if (extra && *extra) {
		json_error_t je;
		json_t *j = json_loads(extra, 0, &je);
		int rc = json_is_object(j) ? mlf_train_args_override(&t->args, j, err)
					   : mlf_fail(err, MLF_EX_CONFIG, "not a JSON object: %s", je.text);
		json_decref(j);
		if (rc) {
			err->status = MLF_EX_CONFIG;  /* the settings come from the configuration */
			return mlf_error_prefix(err, "train.args (%s)", mlf_config_origin(r->cfg, "train.args"));
		}
	}
	const char *device = mlf_config_get(r->cfg, "train.device");
	if (mlf_train_parse_device(device, &t->device))
		return mlf_fail(err, MLF_EX_CONFIG, "train.device is auto, cpu or cuda:N, not '%s' (%s)",
				device, mlf_config_origin(r->cfg, "train.device"));
	mlf_train_device_name(t->device, r->device_name);
	const json_t *saved = json_object_get(r->state, "train_args");
	if (r->resuming && json_is_object(saved) && mlf_train_args_override(&t->args, saved, err))
		return mlf_error_prefix(err, "the settings recorded in %s", r->p.state);
	if (copy_arg(t->args.model, sizeof(t->args.model), r->base_model, "base model", err) ||
	    copy_arg(t->args.data, sizeof(t->args.data), r->data_yaml, "data.yaml", err))
		return -1;
	t->base_model = r->base_model;
	t->data_yaml = r->data_yaml;
	t->save_dir = r->p.train_dir;
	t->threads = r->o->threads;
	t->prog = r->o->prog;
	t->progress = r->o->quiet ? MLF_PROGRESS_NONE : MLF_PROGRESS_AUTO;  /* -q: no epoch lines either */
	t->on_epoch = retrain_on_epoch;
	t->ctx = r;
	t->stop = r->o->stop;
	return 0;
}

/* One retrain-run per workspace.  Waiting polls, so that a signal stops a
 * job that never began (flock would sleep through it). */
static int take_lock(struct retrain *r, struct mlf_error *err)
{
	int said = 0;
	if (r->o->lock_fd > 0)  /* taken by the caller, who decided what to train under it */
		return 0;
	while (mlf_lock(r->p.lock, 0, &r->lock_fd, err)) {
		if (err->status != MLF_EX_TEMPFAIL)
			return -1;
		if (r->o->no_wait)
			return mlf_error_prefix(err, "another retrain-run is working in this workspace");
		if (r->o->stop && *r->o->stop)
			return mlf_fail(err, MLF_EX_INTERRUPTED, "stopped by a signal while waiting for "
					"another retrain-run in this workspace; nothing was started");
		if (!said++)
			retrain_say(r, "waiting for another retrain-run in this workspace to finish (%s)",
				    r->p.lock);
		mlf_error_clear(err);
		struct timespec pause = { 0, 200 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	return 0;
}

/* Under the lock no writer of ours is alive here: what a killed one left half-written
 * (models/ and the training folders) goes, and the operator is told. */
static int remove_stale_temps(struct retrain *r, struct mlf_error *err)
{
	json_t *removed = json_array();
	int n = mlf_remove_stale_temps(r->p.models_dir, removed, err);
	int m = n < 0 ? -1 : mlf_remove_stale_temps(r->p.train_root, removed, err);
	if (m >= 0)
		retrain_say_removed(r->o->prog, r->o->quiet, removed);
	json_decref(removed);
	return m < 0 ? -1 : 0;
}

int retrain_setup(struct retrain *r, struct mlf_error *err)
{
	const char *id = mlf_config_get(r->cfg, "experiment_id");
	if (!id || !*id)
		return mlf_fail(err, MLF_EX_CONFIG, "experiment_id is not set: put the exact experiment id "
				"in mlf.yaml or MLFLOW_EXPERIMENT_ID");
	r->experiment_id = mlf_xstrdup(id);
	if (r->o->resume > 0 ? dataset_from_state(r, err) : dataset_from_document(r, err))
		return -1;
	long n = r->p.n;
	mlf_version_paths_init(&r->p, r->cfg, n);
	r->data_yaml = mlf_xstrdup(mlf_json_str(r->dataset, "data_yaml", NULL));
	if (mlf_mkdir_p(r->p.train_root, 0777, err))
		return -1;
	if (take_lock(r, err) || remove_stale_temps(r, err))
		return -1;
	return version_free(r, err) || base_model(r, err) || same_classes(r, err) ||
	       retrain_train_options(r, err) ? -1 : 0;
}

/*
 * train.start_from: champion (continuous learning): a new training starts from
 * the registry's champion, found once the store is open, instead of
 * paths.base_model; with no champion usable here, from paths.base_model, said.
 * A resumed run keeps what it started from (mlf_run.json).
 */
static int start_from_champion(struct retrain *r, struct mlf_error *err)
{
	if (r->resuming || strcmp(mlf_config_get(r->cfg, "train.start_from"), "champion"))
		return 0;
	char *version, *run_id;
	const char *why;
	char *path = retrain_champion_file(r, &version, &run_id, &why, err);
	int rc = 0;
	if (!path) {
		if (why)
			retrain_say(r, "train.start_from is champion, but %s: starting from the base model %s",
				    why, r->base_model);
		else
			rc = -1;
	} else {
		free(r->base_model);
		r->base_model = path;
		path = NULL;
		rc = load_base_model(r, err) || same_classes(r, err) ||
		     copy_arg(r->train.args.model, sizeof(r->train.args.model), r->base_model, "base model", err);
		r->train.base_model = r->base_model;
		if (!rc)
			retrain_say(r, "starting from the champion, version %s: %s", version, r->base_model);
	}
	free(path);
	free(version);
	free(run_id);
	return rc;
}

int retrain_open_experiment(struct retrain *r, struct mlf_error *err)
{
	struct mlf_tracking_options to;
	struct mlf_experiment e = { 0 };
	if (mlf_config_tracking_options(r->cfg, &to, err) || mlf_tracking_open(&r->t, &to, err))
		return -1;
	if (mlf_tracking_get_experiment(r->t, r->experiment_id, &e, err)) {
		if (err->kind == MLF_ERR_NOT_FOUND)
			mlf_fail(err, MLF_EX_CONFIG, "experiment %s not found at %s; create it with "
				 "`mlf-validate --init` or fix experiment_id (%s)", r->experiment_id,
				 mlf_tracking_uri(r->t), mlf_config_origin(r->cfg, "experiment_id"));
		return -1;
	}
	int rc = 0;
	char *want = mlf_config_expected_artifact_location(r->cfg);
	if (e.lifecycle_stage && strcmp(e.lifecycle_stage, "active"))
		rc = mlf_fail(err, MLF_EX_CONFIG, "experiment %s '%s' is deleted; restore it or configure "
			      "another id", r->experiment_id, e.name);
	else if (want && !mlf_uri_same_location(want, e.artifact_location ? e.artifact_location : "",
						r->cfg->workspace))
		rc = mlf_fail(err, MLF_EX_CONFIG, "experiment %s stores artifacts at '%s', not at the "
			      "configured '%s'; run mlf-validate to see why", r->experiment_id,
			      e.artifact_location ? e.artifact_location : "", want);
	/* before any run exists: a location mlf cannot write must not leave a FAILED run */
	else if (mlf_tracking_check_artifact_location(r->t, e.artifact_location, err))
		rc = mlf_error_prefix(err, "experiment %s", r->experiment_id);
	free(want);
	free(r->registered_model);
	r->registered_model = mlf_config_registered_model(r->cfg, e.name);
	mlf_experiment_release(&e);
	if (!rc)
		rc = start_from_champion(r, err);
	/* One recovery path, at every start: under the lock, a RUNNING run of this workspace
	 * has no process left; close it now rather than leave it RUNNING for ever. */
	r->reconciled = json_array();
	if (!rc) {
		json_t *removed = json_array();  /* temporary files of dead runs' artifact copies */
		rc = retrain_reconcile(r->cfg, r->t, r->reconciled, removed, "the next retrain-run", err);
		retrain_say_removed(r->o->prog, r->o->quiet, removed);
		json_decref(removed);
	}
	return rc;
}
