/*
 * What a retraining writes to the tracking store before the model is
 * stored: the run and its tags, the settings, the dataset, the base
 * model's metrics, each epoch's metrics and the final validation.
 * Metric names follow Ultralytics' own MLflow callback (its keys with the
 * parentheses removed), so runs of both tools compare in one chart.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/torch/torch.h"
#include "retrain_internal.h"

/* The keys of metrics built here; the array is on the stack. */
static void release_keys(struct mlf_metric *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].key);
}

int retrain_set_tag(struct retrain *r, const char *key, const char *value, struct mlf_error *err)
{
	struct mlf_kvs tags = MLF_KVS_INIT;
	mlf_kvs_add(&tags, key, value);
	int rc = mlf_tracking_log_batch(r->t, r->run.run_id, NULL, 0, NULL, &tags, err);
	mlf_kvs_release(&tags);
	return rc;
}

static const char *const audit_tags[] = {
	"type", "model_type", "version", "training_type", "experiment_id", "dataset", "dataset_digest",
	"base_model", "base_model_sha256", "registered_model", "registry_version", NULL,
};

/* "k=v,k=v" from run.tags; an audit tag cannot be overridden. */
static int add_extra_tags(struct mlf_kvs *tags, const char *text, const char *origin,
			  struct mlf_error *err)
{
	char *copy = mlf_xstrdup(text), *save = NULL;
	int rc = 0;
	for (char *item = strtok_r(copy, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		while (*item == ' ')
			item++;
		if (!eq || eq == item) {
			rc = mlf_fail(err, MLF_EX_CONFIG, "run.tags (%s): '%s' is not key=value", origin, item);
			break;
		}
		*eq = '\0';
		for (int i = 0; audit_tags[i] && !rc; i++)
			if (!strcmp(item, audit_tags[i]))
				rc = mlf_fail(err, MLF_EX_CONFIG, "run.tags (%s): '%s' is set by retrain-run itself "
					      "and cannot be overridden", origin, item);
		if (!rc)
			rc = mlf_tracking_check_key("tag", item, err);
		if (!rc)
			mlf_kvs_set(tags, item, eq + 1);
	}
	free(copy);
	return rc;
}

static int run_tags(struct retrain *r, struct mlf_kvs *tags, struct mlf_error *err)
{
	const char *extra = mlf_config_get(r->cfg, "run.tags");
	if (extra && *extra && add_extra_tags(tags, extra, mlf_config_origin(r->cfg, "run.tags"), err))
		return -1;
	for (size_t i = 0; r->o->tags && i < r->o->tags->n; i++) {
		char *pair = mlf_xasprintf("%s=%s", r->o->tags->items[i].key, r->o->tags->items[i].value);
		int rc = add_extra_tags(tags, pair, "--tag", err);
		free(pair);
		if (rc)
			return -1;
	}
	char host[256] = "", version[32];
	gethostname(host, sizeof(host) - 1);
	snprintf(version, sizeof(version), "v%ld", r->p.n);
	char *base_sha = mlf_xasprintf("%s", r->base_sha);
	const char *pairs[][2] = {
		{ "type", "retraining" },
		{ "model_type", r->model_type },
		{ "version", version },
		{ "training_type", mlf_config_get(r->cfg, "train.training_type") },
		{ "experiment_id", r->experiment_id },
		{ "dataset", json_string_value(json_object_get(r->dataset, "name")) },
		{ "dataset_digest", json_string_value(json_object_get(r->dataset, "digest")) },
		{ "base_model", r->base_model },
		{ "base_model_sha256", base_sha },
		{ "mlf.tool", "retrain-run" },
		{ "mlf.tool_version", MLF_VERSION },
		{ "mlf.host", host },
		{ "mlf.workspace", r->cfg->workspace },
		{ "mlf.device", r->device_name },
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if (pairs[i][1])
			mlf_kvs_set(tags, pairs[i][0], pairs[i][1]);
	free(base_sha);
	return 0;
}

static int reopen_run(struct retrain *r, struct mlf_error *err)
{
	const char *run_id = json_string_value(json_object_get(r->state, "run_id"));
	if (!run_id)
		return mlf_fail(err, MLF_EX_DATAERR, "%s names no run to resume", r->p.state);
	if (mlf_tracking_get_run(r->t, run_id, &r->run, err))
		return mlf_error_prefix(err, "resuming v%ld", r->p.n);
	if (!r->run.experiment_id || strcmp(r->run.experiment_id, r->experiment_id))
		return mlf_fail(err, MLF_EX_CONFIG, "run %s is in experiment %s, not %s", run_id,
				r->run.experiment_id ? r->run.experiment_id : "?", r->experiment_id);
	if (r->run.status != MLF_RUN_RUNNING && mlf_tracking_reopen_run(r->t, run_id, err))
		return -1;
	r->run_started = 1;
	const char *why = json_string_value(json_object_get(r->state, "reason"));
	char *note = mlf_xasprintf("resumed after: %s", why ? why : "an interruption");
	struct mlf_kvs tags = MLF_KVS_INIT;
	mlf_kvs_add(&tags, "mlf.resumed", note);
	mlf_kvs_add(&tags, "mlf.failure_reason", "none: resumed (see mlf.resumed)");
	int rc = mlf_tracking_log_batch(r->t, run_id, NULL, 0, NULL, &tags, err);
	mlf_kvs_release(&tags);
	free(note);
	return rc;
}

int retrain_start_run(struct retrain *r, struct mlf_error *err)
{
	if (r->resuming)
		return reopen_run(r, err);
	struct mlf_kvs tags = MLF_KVS_INIT;
	struct mlf_run_request req = { 0 };
	int rc = run_tags(r, &tags, err);
	req.experiment_id = r->experiment_id;
	req.run_name = r->p.name;
	req.tags = &tags;
	req.source_name = "retrain-run";
	req.git_dir = r->cfg->workspace;
	if (!rc)
		rc = mlf_tracking_create_run(r->t, &req, &r->run, err);
	mlf_kvs_release(&tags);
	if (rc)
		return -1;
	r->run_started = 1;
	retrain_say(r, "run %s (%s) in experiment %s", r->run.run_id, r->p.name, r->experiment_id);
	return retrain_state_save(r, "RUNNING", NULL, err);
}

int retrain_log_params(struct retrain *r, struct mlf_error *err)
{
	json_t *args = mlf_train_args_json(&r->train.args);
	struct mlf_kvs params = MLF_KVS_INIT;
	const char *key;
	json_t *v;
	json_object_foreach(args, key, v) {
		/* as Ultralytics' callback logs them through MLflow's Python client: str(value),
		 * so 0.7 (not 0.69999999999999996), True, None */
		char *text = mlf_json_py_str(v);
		mlf_kvs_add(&params, key, text);
		free(text);
	}
	/* kept for a resume: the run goes on with the settings it was logged with */
	json_object_set_new(r->state, "train_args", args);
	char version[32];
	snprintf(version, sizeof(version), "v%ld", r->p.n);
	mlf_kvs_set(&params, "dataset_version", version);
	mlf_kvs_set(&params, "dataset_digest", json_string_value(json_object_get(r->dataset, "digest")));
	mlf_kvs_set(&params, "base_model_sha256", r->base_sha);
	mlf_kvs_set(&params, "device", r->device_name);
	int rc = mlf_tracking_log_batch(r->t, r->run.run_id, NULL, 0, &params, NULL, err);
	mlf_kvs_release(&params);
	return rc;
}

int retrain_log_dataset(struct retrain *r, struct mlf_error *err)
{
	static const char *const files[] = { "corrections_applied", "metadata", "data_yaml" };
	for (size_t i = 0; i < 3; i++) {
		const char *path = json_string_value(json_object_get(r->dataset, files[i]));
		if (!path)
			return mlf_fail(err, MLF_EX_DATAERR, "the dataset document names no %s file", files[i]);
		if (mlf_tracking_log_artifact(r->t, &r->run, path, "retraining_dataset", err))
			return -1;
	}
	struct mlf_error e2 = MLF_ERROR_INIT;
	const char *name = json_string_value(json_object_get(r->dataset, "name"));
	const char *path = json_string_value(json_object_get(r->dataset, "path"));
	/* the source as MLflow's own local dataset source writes it (json.dumps of {"uri": path}),
	 * so that mlflow.data.get_source() reads it back */
	json_t *src = json_pack("{s:s}", "uri", path ? path : "");
	char *source = json_dumps(src, JSON_ENSURE_ASCII);
	json_decref(src);
	/* the digest mlflow.data's MetaDataset gives a dataset known by name and source: the
	 * first 8 hex of sha256 over json.dumps of its config (separators ", " and ": ", ASCII);
	 * the content's full sha256 (r->dataset's digest) is the tag dataset_digest */
	json_t *config = json_pack("{s:s, s:s, s:s, s:s}", "name", name, "source", source,
				   "source_type", "local", "schema", "");
	char *config_text = json_dumps(config, JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
	char hex[65], digest8[9];
	mlf_sha256_hex(config_text, strlen(config_text), hex);
	memcpy(digest8, hex, 8);
	digest8[8] = '\0';
	json_decref(config);
	free(config_text);
	int rc = mlf_tracking_log_dataset_input(r->t, r->run.run_id, name, digest8, "local", source,
						"training", &e2);
	free(source);
	if (rc) {
		if (e2.kind != MLF_ERR_UNSUPPORTED) {
			*err = e2;
			return -1;
		}
		retrain_say(r, "the dataset is not recorded as a run input: %s", e2.msg);
	}
	return 0;
}

json_t *retrain_val_json(const struct mlf_val_summary *v)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o}", "precision", mlf_json_double(v->precision),
			 "recall", mlf_json_double(v->recall), "mAP50", mlf_json_double(v->map50),
			 "mAP50-95", mlf_json_double(v->map50_95), "fitness", mlf_json_double(v->fitness));
}

/* Metrics `prefix`+key for each figure of a retrain_val_json object. */
static size_t val_metrics(struct mlf_metric *m, const json_t *val, const char *prefix, int64_t step)
{
	const char *key;
	json_t *v;
	size_t n = 0;
	int64_t now = mlf_now_ms();
	json_object_foreach((json_t *)val, key, v) {
		m[n].key = mlf_xasprintf("%s%s", prefix, key);
		mlf_json_to_double(v, &m[n].value);
		m[n].timestamp = now;
		m[n].step = step;
		n++;
	}
	return n;
}

/* Step 5's second half: the champion on the same data as the new model will be. */
static int evaluate_champion(struct retrain *r, struct mlf_error *err)
{
	char *version, *run_id;
	const char *why;
	char *path = retrain_champion_file(r, &version, &run_id, &why, err);
	int rc = 0;
	json_decref(r->champion);
	r->champion = NULL;
	if (!path) {
		if (!why)  /* the store failed */
			rc = -1;
		else if (version)
			retrain_say(r, "champion (version %s) not measured on the new split: %s", version, why);
	} else {
		char sha[65];
		json_t *metrics = NULL;
		if (mlf_sha256_file(path, sha, NULL, err))
			rc = -1;
		else if (!strcmp(sha, r->base_sha)) {
			metrics = json_incref(r->pre);  /* the champion is the base model: measured already */
		} else {
			struct mlf_val_summary v;
			if (mlf_train_evaluate(path, r->data_yaml, "val", &r->train.args, r->train.device, &v, err))
				rc = mlf_error_prefix(err, "evaluating the champion %s", path);
			else
				metrics = retrain_val_json(&v);
		}
		if (!rc) {
			r->champion = json_pack("{s:s?, s:s?, s:o}", "version", version, "run_id", run_id,
						"metrics", metrics);
			double m = NAN;
			mlf_json_to_double(json_object_get(metrics, "mAP50-95"), &m);
			retrain_say(r, "champion (version %s) on the new val split: mAP50-95 %.3f", version, m);
			struct mlf_metric mm[8];
			size_t n = val_metrics(mm, metrics, "champion_", 0);
			rc = mlf_tracking_log_batch(r->t, r->run.run_id, mm, n, NULL, NULL, err);
			release_keys(mm, n);
		}
	}
	free(path);
	free(version);
	free(run_id);
	return rc;
}

int retrain_evaluate_base(struct retrain *r, struct mlf_error *err)
{
	struct mlf_val_summary v;
	struct timespec t0, t1;
	if (r->o->threads > 0)
		mlf_th_set_threads(r->o->threads);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (mlf_train_evaluate(r->base_model, r->data_yaml, "val", &r->train.args, r->train.device, &v, err))
		return mlf_error_prefix(err, "evaluating the base model %s", r->base_model);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->eval_seconds += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	json_decref(r->pre);
	r->pre = retrain_val_json(&v);
	retrain_say(r, "base model on the new val split: precision %.3f recall %.3f mAP50 %.3f "
		    "mAP50-95 %.3f (%zu images)", v.precision, v.recall, v.map50, v.map50_95, v.images);
	struct mlf_metric m[8];
	size_t n = val_metrics(m, r->pre, "pre_", 0);
	int rc = mlf_tracking_log_batch(r->t, r->run.run_id, m, n, NULL, NULL, err);
	release_keys(m, n);
	if (rc || evaluate_champion(r, err))
		return -1;
	/* kept for a resume, which skips this step */
	json_object_set(r->state, "champion_eval", r->champion ? r->champion : json_null());
	return retrain_mark_done(r, "pre_eval", json_incref(r->pre), err);
}

/* Log the metrics kept back while the store was unavailable. */
int retrain_flush_pending(struct retrain *r, struct mlf_error *err)
{
	size_t n = json_array_size(r->pending);
	if (!n)
		return 0;
	struct mlf_metric *m = mlf_xcalloc(n, sizeof(*m));
	retrain_metrics_from_json(r->pending, n, m);
	int rc = mlf_tracking_log_batch(r->t, r->run.run_id, m, n, NULL, NULL, err);
	release_keys(m, n);
	free(m);
	if (rc)
		return mlf_error_prefix(err, "logging %zu metrics kept back while the tracking store was "
					"unavailable (kept in %s for `retrain-run --resume v%ld`)",
					n, r->p.state, r->p.n);
	retrain_say(r, "logged %zu metrics kept back while the tracking store was unavailable", n);
	json_decref(r->pending);
	r->pending = NULL;
	return 0;
}

int retrain_on_epoch(const struct mlf_train_epoch *e, void *ctx, struct mlf_error *err)
{
	struct retrain *r = ctx;
	struct { const char *key; double value; } figures[] = {
		{ "train/box_loss", e->box_loss }, { "train/cls_loss", e->cls_loss },
		{ "train/dfl_loss", e->dfl_loss },
		{ "metrics/precisionB", e->val.precision }, { "metrics/recallB", e->val.recall },
		{ "metrics/mAP50B", e->val.map50 }, { "metrics/mAP50-95B", e->val.map50_95 },
		{ "val/box_loss", e->val.box_loss }, { "val/cls_loss", e->val.cls_loss },
		{ "val/dfl_loss", e->val.dfl_loss },
		{ "epoch/seconds", e->seconds }, { "epoch/images_per_s", e->images_per_s },
	};
	enum { NFIG = sizeof(figures) / sizeof(figures[0]) };
	struct mlf_metric m[NFIG + MLF_NGROUPS];
	size_t n = 0;
	int64_t now = mlf_now_ms();
	/* step: the epoch counted from 0, as Ultralytics' callback logs it (trainer.epoch) */
	int64_t step = e->epoch - 1;
	for (size_t i = 0; i < NFIG; i++)
		m[n++] = (struct mlf_metric){ mlf_xstrdup(figures[i].key), figures[i].value, now, step };
	for (int g = 0; g < e->ngroups && g < MLF_NGROUPS; g++)
		m[n++] = (struct mlf_metric){ mlf_xasprintf("lr/pg%d", g), e->lr[g], now, step };
	/* never a network wait here: the logger thread sends them (see retrain_logger.c) */
	retrain_logger_add(r, m, n);
	release_keys(m, n);
	(void)err;
	return 0;
}

static json_int_t dataset_images(const json_t *dataset)
{
	const json_t *counts = json_object_get(dataset, "counts");
	json_int_t n = 0;
	static const char *const splits[] = { "train", "val" };
	for (int i = 0; i < 2; i++) {
		const json_t *s = json_object_get(counts, splits[i]);
		n += json_integer_value(json_object_get(s, "corrected_images")) +
		     json_integer_value(json_object_get(s, "base_images"));
	}
	return n;
}

int retrain_log_final(struct retrain *r, struct mlf_error *err)
{
	if (retrain_flush_pending(r, err))
		return -1;
	struct mlf_metric m[16];
	size_t n = val_metrics(m, r->post, "val_", r->result.epochs_done);
	int64_t now = mlf_now_ms();
	/* the same figures under the names the Python system this replaces logged, which
	 * its users' queries and dashboards ask for (metrics.mAP50 > 0.5) */
	static const char *const seed_names[] = { "precision", "recall", "mAP50", "mAP50-95" };
	for (size_t i = 0; i < 4; i++) {
		double v = NAN;
		mlf_json_to_double(json_object_get(r->post, seed_names[i]), &v);
		m[n++] = (struct mlf_metric){ mlf_xstrdup(seed_names[i]), v, now, 0 };
	}
	m[n++] = (struct mlf_metric){ mlf_xstrdup("retraining_dataset_samples"),
				      (double)dataset_images(r->dataset), now, 0 };
	m[n++] = (struct mlf_metric){ mlf_xstrdup("best_epoch"), r->result.best_epoch, now, 0 };
	m[n++] = (struct mlf_metric){ mlf_xstrdup("epochs_done"), r->result.epochs_done, now, 0 };
	m[n++] = (struct mlf_metric){ mlf_xstrdup("train_seconds"), r->train_seconds, now, 0 };
	int rc = mlf_tracking_log_batch(r->t, r->run.run_id, m, n, NULL, NULL, err);
	release_keys(m, n);
	double map50 = 0, pre_map50 = NAN;
	mlf_json_to_double(json_object_get(r->post, "mAP50"), &map50);
	if (r->pre)
		mlf_json_to_double(json_object_get(r->pre, "mAP50"), &pre_map50);
	retrain_say(r, "retrained model: mAP50 %.3f (base model %.3f) after %d epochs, best epoch %d",
		    map50, pre_map50, r->result.epochs_done, r->result.best_epoch);
	return rc;
}
