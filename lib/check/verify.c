/* What a retraining left behind, checked (see mlf/check.h and mlf-verify(1)). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mlf/base.h"
#include "mlf/check.h"
#include "mlf/tracking.h"
#include "mlf/config.h"
#include "check_internal.h"

/* Everything one verification works with; verify_release() frees it. */
struct verify {
	const struct mlf_verify_options *o;
	const struct mlf_config *cfg;
	struct mlf_verification *v;
	const char *want_exp;          /* the configured experiment id */
	long n;                        /* the version; 0 when unknown */
	struct mlf_version_paths p;    /* filled when n is known */
	json_t *metadata;              /* retrained_vN_metadata.json when it parses */
	struct mlf_tracking *t;
	int store_tried;
	struct mlf_run run;
	int have_run;
	struct mlf_location copies[MLF_LOC_COUNT];  /* the local .pt copies (and the artifact) */
};

static const char *const required_params[] = {
	"epochs", "imgsz", "batch", "optimizer", "lr0", "seed", "data", "dataset_digest",
};
static const char *const required_metrics[] = { "val_mAP50", "val_precision", "mAP50", "precision" };

/* ---- the report --------------------------------------------------------- */

static void vadd(struct verify *s, int ok, const char *name, const char *fmt, va_list ap)
{
	struct mlf_verification *v = s->v;
	struct mlf_buf detail = MLF_BUF_INIT;
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 32;
		v->checks = mlf_xrealloc(v->checks, v->cap * sizeof(*v->checks));
	}
	mlf_buf_vaddf(&detail, fmt, ap);
	v->checks[v->n].name = mlf_xstrdup(name);
	v->checks[v->n].ok = ok;
	v->checks[v->n].detail = mlf_buf_detach(&detail);
	v->n++;
	if (!ok)
		v->status = mlf_status_worse(v->status, MLF_EX_CHECK);
}

static void add(struct verify *s, int ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void add(struct verify *s, int ok, const char *name, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(s, ok, name, fmt, ap);
	va_end(ap);
}

/* The exit status a tracking failure implies; an incomplete answer outranks a failed check. */
static void raise_for(struct verify *s, const struct mlf_error *err)
{
	s->v->status = mlf_status_worse(s->v->status, check_tracking_status(err));
}

/* A path as the operator knows it: relative to the workspace when inside it. */
static const char *shown(const struct verify *s, const char *path)
{
	const char *ws = s->cfg->workspace;
	size_t len = strlen(ws);
	if (!strncmp(path, ws, len) && path[len] == '/')
		return path + len + 1;
	return path;
}

/* ---- finding what to verify --------------------------------------------- */

int mlf_verify_document_kind(const json_t *doc, struct mlf_error *err)
{
	const char *kind = mlf_json_str(doc, "kind", NULL);
	if (!json_is_object(doc))
		return mlf_fail(err, MLF_EX_DATAERR, "the input is not a JSON object; expected the run "
				"document retrain-run prints");
	if (!kind)
		return mlf_fail(err, MLF_EX_DATAERR, "the input document has no \"kind\"; expected the "
				"run document (kind \"mlf.run\") retrain-run prints");
	if (!strcmp(kind, "mlf.skip"))
		return 1;
	if (!strcmp(kind, "mlf.run"))
		return 0;
	if (!strcmp(kind, "mlf.dataset"))
		return mlf_fail(err, MLF_EX_DATAERR, "the input is a dataset document (retrain-prep's "
				"output), not a run document; pipe it through retrain-run first");
	return mlf_fail(err, MLF_EX_DATAERR, "the input is a \"%s\" document, not a run document "
			"(kind \"mlf.run\", retrain-run's output)", kind);
}

static int open_store(struct verify *s, struct mlf_error *err)
{
	struct mlf_tracking_options opts;
	s->store_tried = 1;
	if (mlf_config_tracking_options(s->cfg, &opts, err))
		return -1;
	opts.create_store = 0;
	return mlf_tracking_open(&s->t, &opts, err);
}

static void set_version(struct verify *s, long n)
{
	s->n = n;
	s->v->version = mlf_xasprintf("v%ld", n);
	mlf_version_paths_init(&s->p, s->cfg, n);
}

static int from_document(struct verify *s, struct mlf_error *err)
{
	const json_t *doc = s->o->doc;
	const char *version = mlf_json_str(doc, "new_version", NULL);
	const char *run_id = mlf_json_str(doc, "run_id", NULL);
	const char *exp = mlf_json_str(doc, "experiment_id", NULL);
	long n;

	if (!version || mlf_version_parse(version, &n, NULL))
		return mlf_fail(err, MLF_EX_DATAERR, "the run document has no valid \"new_version\" "
				"(%s); expected retrain-run's output", version ? version : "missing");
	set_version(s, n);
	s->v->run_id = mlf_xstrdup(run_id);
	s->v->experiment_id = mlf_xstrdup(exp);
	if (json_is_true(json_object_get(doc, "success"))) {
		add(s, 1, "run_document", "retrain-run reports %s recorded as run %s",
		    s->p.name, run_id ? run_id : "(none)");
		return 0;
	}
	const char *why = mlf_json_str(doc, "error", NULL), *status = mlf_json_str(doc, "status", NULL);
	const char *resume = mlf_json_str(doc, "resume", NULL);
	if (!run_id)
		add(s, 0, "run_document", "the run did not finish: %s (no MLflow run was started)",
		    why ? why : "no reason given");
	else
		add(s, 0, "run_document", "the run did not finish: %s (status %s, run %s)%s%s%s",
		    why ? why : "no reason given", status ? status : "unknown", run_id,
		    resume ? "; continue it with `" : "", resume ? resume : "", resume ? "`" : "");
	return 0;
}

/* The version a run belongs to: its version tag, else its name retrained_vN. */
static int version_of_run(const struct mlf_run *run, long *n)
{
	const char *tag = mlf_kvs_get(&run->tags, "version");
	if (tag && !mlf_version_parse(tag, n, NULL))
		return 0;
	return run->run_name && !strncmp(run->run_name, "retrained_v", 11) &&
	       !mlf_version_parse(run->run_name, n, NULL) ? 0 : -1;
}

static int from_run_id(struct verify *s, struct mlf_error *err)
{
	const char *id = s->o->run_id;
	long n;
	s->v->run_id = mlf_xstrdup(id);
	if (open_store(s, err))
		return -1;
	if (mlf_tracking_get_run(s->t, id, &s->run, err)) {
		if (err->kind == MLF_ERR_NOT_FOUND)
			return mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
					     "run %s not found at %s; check the id and tracking_uri "
					     "(mlf.yaml or MLFLOW_TRACKING_URI)", id,
					     mlf_tracking_uri(s->t));
		return -1;
	}
	s->have_run = 1;
	if (version_of_run(&s->run, &n) == 0)
		set_version(s, n);
	else
		add(s, 0, "version", "run %s has no version tag and its name '%s' is not "
		    "retrained_vN, so its local files cannot be found; verify it with --version N",
		    id, s->run.run_name ? s->run.run_name : "");
	return 0;
}

static int from_version(struct verify *s, struct mlf_error *err)
{
	set_version(s, s->o->version);
	json_t *meta = json_load_file(s->p.metadata, 0, NULL);
	json_t *state = json_load_file(s->p.state, 0, NULL);
	const char *id = mlf_json_str(json_object_get(meta, "run"), "run_id", NULL);
	int known = meta || state || mlf_is_file(s->p.model_pt) || mlf_is_dir(s->p.train_dir);

	/* Without metadata (the file check reports it) the training folder still names the run. */
	if (!id)
		id = mlf_json_str(state, "run_id", NULL);
	s->v->run_id = mlf_xstrdup(id);
	json_decref(meta);
	json_decref(state);
	if (!known)
		return mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
				     "%s not found: no %s and no training folder %s; "
				     "`model-locate latest` shows the newest version",
				     s->p.name, s->p.model_pt, s->p.train_dir);
	return 0;
}

/* ---- local files -------------------------------------------------------- */

/* Where the run keeps a copy of a local file, for the "restore it" hint. */
static void restore_hint(const struct verify *s, const char *artifact, struct mlf_buf *b)
{
	if (s->v->run_id && artifact)
		mlf_buf_addf(b, "; restore it from the run's artifact (mlflow artifacts download "
			     "-r %s -a %s)", s->v->run_id, artifact);
}

static void check_file(struct verify *s, const char *path, const char *artifact)
{
	struct stat st;
	struct mlf_buf problem = MLF_BUF_INIT;
	char *name = mlf_xasprintf("file:%s", shown(s, path));
	if (stat(path, &st))
		mlf_buf_addf(&problem, "%s is missing", path);
	else if (!S_ISREG(st.st_mode))
		mlf_buf_addf(&problem, "%s is not a regular file", path);
	else if (st.st_size == 0)
		mlf_buf_addf(&problem, "%s is empty", path);
	if (problem.len) {
		restore_hint(s, artifact, &problem);
		add(s, 0, name, "%s", problem.data);
	} else {
		add(s, 1, name, "%lld bytes", (long long)st.st_size);
	}
	mlf_buf_release(&problem);
	free(name);
}

static void check_files(struct verify *s)
{
	const char *pt = s->p.art_model;
	char *args = mlf_path_join(s->p.train_dir, "args.yaml");
	char *results = mlf_path_join(s->p.train_dir, "results.csv");
	check_file(s, s->p.model_pt, pt);
	check_file(s, s->p.metadata, s->p.art_metadata);
	check_file(s, s->p.quick_pt, pt);
	check_file(s, s->p.best_pt, pt);
	check_file(s, args, MLF_ART_ARGS);
	check_file(s, results, MLF_ART_RESULTS);
	free(args);
	free(results);
	mlf_location_probe_file(&s->copies[MLF_LOC_MODELS], MLF_LOC_MODELS, s->p.model_pt);
	mlf_location_probe_file(&s->copies[MLF_LOC_QUICK], MLF_LOC_QUICK, s->p.quick_pt);
	mlf_location_probe_file(&s->copies[MLF_LOC_TRAINING], MLF_LOC_TRAINING, s->p.best_pt);
}

static void check_metadata(struct verify *s)
{
	const char *path = s->p.metadata;
	json_error_t je;
	struct mlf_buf problems = MLF_BUF_INIT;

	if (!mlf_is_file(path))
		return;  /* its file check said so */
	s->metadata = json_load_file(path, 0, &je);
	const char *format = mlf_json_str(s->metadata, "format", NULL);
	if (!s->metadata || !format || strcmp(format, "mlf.model")) {
		if (s->metadata)
			add(s, 0, "metadata", "%s is not model metadata (no \"format\": \"mlf.model\"); "
			    "restore it from the run's artifact %s", path, s->p.art_metadata);
		else
			add(s, 0, "metadata", "%s is not valid JSON (line %d: %s); restore it from the "
			    "run's artifact %s", path, je.line, je.text, s->p.art_metadata);
		json_decref(s->metadata);
		s->metadata = NULL;
		return;
	}
	const char *version = mlf_json_str(s->metadata, "version", NULL);
	const char *run_id = mlf_json_str(json_object_get(s->metadata, "run"), "run_id", NULL);
	const char *exp = mlf_json_str(json_object_get(s->metadata, "run"), "experiment_id", NULL);
	if (!version || strcmp(version, s->v->version))
		mlf_buf_addf(&problems, "; its version is '%s', not '%s'", version ? version : "",
			     s->v->version);
	if (!run_id)
		mlf_buf_adds(&problems, "; it names no run (run.run_id)");
	else if (s->v->run_id && strcmp(run_id, s->v->run_id))
		mlf_buf_addf(&problems, "; it names run %s, not run %s", run_id, s->v->run_id);
	if (!exp || strcmp(exp, s->want_exp))
		mlf_buf_addf(&problems, "; it names experiment %s, not the configured %s",
			     exp ? exp : "(none)", s->want_exp);
	if (!mlf_is_sha256_hex(mlf_json_str(s->metadata, "sha256", NULL)))
		mlf_buf_adds(&problems, "; its sha256 is missing or malformed");
	if (problems.len)
		add(s, 0, "metadata", "%s does not match the run%s", shown(s, path), problems.data);
	else
		add(s, 1, "metadata", "%s names run %s in experiment %s", shown(s, path), run_id, exp);
	mlf_buf_release(&problems);
}

/* ---- the store and the run ---------------------------------------------- */

static void check_store(struct verify *s)
{
	struct mlf_error err = MLF_ERROR_INIT;
	if ((!s->store_tried && open_store(s, &err)) || mlf_tracking_ping(s->t, &err)) {
		/* The tracking library's messages already say what to fix. */
		add(s, 0, "tracking_store", "%s", err.msg);
		raise_for(s, &err);
		mlf_tracking_close(s->t);
		s->t = NULL;
		return;
	}
	add(s, 1, "tracking_store", "%s store at %s", mlf_tracking_backend(s->t),
	    mlf_tracking_uri(s->t));
}

static void check_run(struct verify *s)
{
	struct mlf_error err = MLF_ERROR_INIT;
	const char *id = s->v->run_id;
	if (!id) {
		/* A failed run document without a run: its own problem already says so. */
		if (s->o->doc && !json_is_true(json_object_get(s->o->doc, "success")))
			return;
		add(s, 0, "run", "no MLflow run is known for %s: neither %s nor %s names one",
		    s->v->version ? s->v->version : "this retraining",
		    s->n ? shown(s, s->p.metadata) : "the metadata",
		    s->n ? shown(s, s->p.state) : "mlf_run.json");
		return;
	}
	if (!s->have_run && mlf_tracking_get_run(s->t, id, &s->run, &err)) {
		if (err.kind == MLF_ERR_NOT_FOUND)
			add(s, 0, "run", "run %s not found at %s; is tracking_uri the store the model "
			    "was trained with?", id, mlf_tracking_uri(s->t));
		else
			add(s, 0, "run", "cannot read run %s: %s", id, err.msg);
		raise_for(s, &err);
		return;
	}
	s->have_run = 1;
	free(s->v->experiment_id);
	s->v->experiment_id = mlf_xstrdup(s->run.experiment_id);
	if (s->run.lifecycle_stage && strcmp(s->run.lifecycle_stage, "active"))
		add(s, 0, "run", "run %s is deleted; restore it (mlflow runs restore --run-id %s)",
		    id, id);
	else
		add(s, 1, "run", "run %s '%s' found", id, s->run.run_name ? s->run.run_name : "");
}

static void check_experiment(struct verify *s)
{
	const char *exp = s->run.experiment_id ? s->run.experiment_id : "";
	const char *doc_exp = mlf_json_str(s->o->doc, "experiment_id", NULL);
	const char *origin = mlf_config_origin(s->cfg, "experiment_id");
	if (strcmp(exp, s->want_exp))
		add(s, 0, "experiment", "wrong experiment: run %s is in experiment %s, but the "
		    "configured experiment_id is %s (%s); retrainings must be recorded in exactly "
		    "that experiment", s->run.run_id, exp, s->want_exp, origin ? origin : "config");
	else if (doc_exp && strcmp(doc_exp, exp))
		add(s, 0, "experiment", "wrong experiment: the run document says experiment %s, but "
		    "run %s is in experiment %s", doc_exp, s->run.run_id, exp);
	else
		add(s, 1, "experiment", "run %s is in the configured experiment %s", s->run.run_id,
		    exp);
}

/* Without the run, the document alone can still be in the wrong experiment. */
static void check_document_experiment(struct verify *s)
{
	const char *doc_exp = mlf_json_str(s->o->doc, "experiment_id", NULL);
	const char *origin = mlf_config_origin(s->cfg, "experiment_id");
	if (doc_exp && strcmp(doc_exp, s->want_exp))
		add(s, 0, "experiment", "wrong experiment: the run document says experiment %s, but "
		    "the configured experiment_id is %s (%s)", doc_exp, s->want_exp,
		    origin ? origin : "config");
}

static void check_status(struct verify *s)
{
	const char *status = mlf_run_status_name(s->run.status);
	const char *reason = mlf_kvs_get(&s->run.tags, "mlf.failure_reason");
	if (s->run.status == MLF_RUN_FINISHED) {
		add(s, 1, "run_status", "run %s is FINISHED", s->run.run_id);
		return;
	}
	const char *version = s->v->version ? s->v->version : "vN";
	if (s->run.status == MLF_RUN_RUNNING)
		add(s, 0, "run_status", "run %s is still RUNNING: retrain-run is at work, or died "
		    "(then `retrain-run --resume %s` continues it)", s->run.run_id, version);
	else
		add(s, 0, "run_status", "run %s is %s, not FINISHED%s%s%s; `retrain-run --resume %s` "
		    "continues it", s->run.run_id, status, reason ? " (" : "", reason ? reason : "",
		    reason ? ")" : "", version);
}

/* ---- tags, params, metrics, artifacts ----------------------------------- */

/* The expected value of a field, from the run document, else the metadata. */
static const char *expected(const struct verify *s, const char *section, const char *key,
			    const char **from)
{
	const char *v = mlf_json_str(json_object_get(s->o->doc, section), key, NULL);
	*from = "from the run document";
	if (!v) {
		v = mlf_json_str(json_object_get(s->metadata, section), key, NULL);
		*from = "from the metadata";
	}
	return v;
}

static void check_tag(struct verify *s, const char *key, const char *want, const char *from)
{
	const char *have = mlf_kvs_get(&s->run.tags, key);
	char *name = mlf_xasprintf("tag:%s", key);
	if (!have || !*have)
		add(s, 0, name, "run %s has no tag %s%s%s%s; it was not recorded by retrain-run as a "
		    "retraining", s->run.run_id, key, want ? " (expected '" : "", want ? want : "",
		    want ? "')" : "");
	else if (want && strcmp(have, want))
		add(s, 0, name, "run %s has tag %s='%s', expected '%s' (%s)", s->run.run_id, key, have,
		    want, from);
	else
		add(s, 1, name, "%s=%s", key, have);
	free(name);
}

static void check_tags(struct verify *s)
{
	const char *from;
	check_tag(s, "type", "retraining", "required of every retraining");
	check_tag(s, "version", s->v->version, "the version being verified");
	check_tag(s, "experiment_id", s->want_exp, "the configured experiment_id");
	const char *model_type = mlf_json_str(s->metadata, "model_type", NULL);
	check_tag(s, "model_type", model_type, "from the metadata");
	check_tag(s, "training_type", NULL, NULL);
	const char *digest = expected(s, "dataset", "digest", &from);
	check_tag(s, "dataset_digest", digest, from);
	const char *base = expected(s, "base_model", "sha256", &from);
	check_tag(s, "base_model_sha256", base, from);
}

static void check_params(struct verify *s)
{
	const char *digest = mlf_kvs_get(&s->run.tags, "dataset_digest");
	for (size_t i = 0; i < sizeof(required_params) / sizeof(required_params[0]); i++) {
		const char *key = required_params[i], *have = mlf_kvs_get(&s->run.params, key);
		char *name = mlf_xasprintf("param:%s", key);
		if (!have)
			add(s, 0, name, "run %s has no param %s; every training setting must be logged",
			    s->run.run_id, key);
		else if (!strcmp(key, "dataset_digest") && digest && strcmp(have, digest))
			add(s, 0, name, "run %s has param dataset_digest='%s' but tag '%s'",
			    s->run.run_id, have, digest);
		else
			add(s, 1, name, "%s=%s", key, have);
		free(name);
	}
}

static void check_metrics(struct verify *s)
{
	for (size_t i = 0; i < sizeof(required_metrics) / sizeof(required_metrics[0]); i++) {
		const char *key = required_metrics[i];
		const struct mlf_metric *m = NULL;
		char *name = mlf_xasprintf("metric:%s", key);
		for (size_t j = 0; j < s->run.nmetrics && !m; j++)
			if (!strcmp(s->run.metrics[j].key, key))
				m = &s->run.metrics[j];
		if (!m)
			add(s, 0, name, "run %s has no metric %s; the final validation was not logged",
			    s->run.run_id, key);
		else if (!isfinite(m->value) || m->value <= 0)
			add(s, 0, name, "run %s has %s = %g, which must be above 0: the retrained model "
			    "finds nothing on the validation split; see the run's " MLF_ART_RESULTS " "
			    "and plots, train longer (train.epochs) or check the dataset",
			    s->run.run_id, key, m->value);
		else
			add(s, 1, name, "%s = %g", key, m->value);
		free(name);
	}
}

static const struct mlf_artifact_entry *find_artifact(const struct mlf_artifact_list *l,
						      const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->items[i].path, path))
			return &l->items[i];
	return NULL;
}

static void check_artifact(struct verify *s, const struct mlf_artifact_list *l, const char *path)
{
	const struct mlf_artifact_entry *e = find_artifact(l, path);
	char *name = mlf_xasprintf("artifact:%s", path);
	if (!e)
		add(s, 0, name, "run %s has no artifact %s (artifact root %s)", s->run.run_id, path,
		    s->run.artifact_uri ? s->run.artifact_uri : "unknown");
	else if (e->is_dir)
		add(s, 0, name, "artifact %s of run %s is a folder, not a file", path, s->run.run_id);
	else if (e->size == 0)
		add(s, 0, name, "artifact %s of run %s is empty", path, s->run.run_id);
	else if (e->size < 0)
		add(s, 1, name, "present (the store reports no size)");
	else
		add(s, 1, name, "%lld bytes", (long long)e->size);
	free(name);
}

static void check_artifacts(struct verify *s)
{
	struct mlf_artifact_list list = { 0 };
	struct mlf_error err = MLF_ERROR_INIT;
	static const char *const fixed[] = {
		MLF_ART_DATASET "/corrections_applied.json",
		MLF_ART_DATASET "/retraining_dataset_metadata.json",
		MLF_ART_DATASET "/data.yaml",
		MLF_ART_ARGS,
		MLF_ART_RESULTS,
		MLF_ART_RESULTS_PNG,
	};
	if (mlf_tracking_list_artifacts(s->t, &s->run, NULL, &list, &err)) {
		add(s, 0, "artifacts", "cannot list the artifacts of run %s at %s: %s", s->run.run_id,
		    s->run.artifact_uri ? s->run.artifact_uri : "unknown", err.msg);
		raise_for(s, &err);
		return;
	}
	for (size_t i = 0; i < 3; i++)
		check_artifact(s, &list, fixed[i]);
	if (s->n) {
		check_artifact(s, &list, s->p.art_model);
		check_artifact(s, &list, s->p.art_metadata);
		check_artifact(s, &list, s->p.art_safetensors);
	}
	for (size_t i = 3; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		check_artifact(s, &list, fixed[i]);
	mlf_artifact_list_release(&list);
}

/* ---- checksums ---------------------------------------------------------- */

static void check_copy(struct verify *s, const struct mlf_location *c, const char *ref,
		       const char *ref_from)
{
	const char *where = mlf_location_remote(c->kind) ? c->where : shown(s, c->where);
	char *name = mlf_xasprintf("sha256:%s", mlf_location_remote(c->kind) ?
				   mlf_location_kind_name(c->kind) : shown(s, c->where));
	if (c->error)
		add(s, 0, name, "cannot hash %s: %s", where, c->error);
	else if (strcmp(c->sha256, ref))
		add(s, 0, name, "%s has sha256 %.12s..., but %s says %.12s...; every copy must be "
		    "byte-identical: restore it from another copy (`model-locate %ld` shows them)",
		    where, c->sha256, ref_from, ref, s->n);
	else
		add(s, 1, name, "matches %s (%.12s...)", ref_from, ref);
	free(name);
}

static void check_checksums(struct verify *s)
{
	const char *meta_sha = mlf_json_str(s->metadata, "sha256", NULL);
	const char *doc_sha = mlf_json_str(json_object_get(s->o->doc, "model"), "sha256", NULL);
	const char *ref = NULL, *ref_from = NULL;
	struct mlf_error err = MLF_ERROR_INIT;

	if (mlf_is_sha256_hex(meta_sha)) {
		ref = meta_sha;
		ref_from = "the metadata";
	} else if (doc_sha) {
		ref = doc_sha;
		ref_from = "the run document";
	} else if (s->copies[MLF_LOC_MODELS].exists == 1 && s->copies[MLF_LOC_MODELS].sha256[0]) {
		ref = s->copies[MLF_LOC_MODELS].sha256;
		ref_from = "models/";
	}
	if (doc_sha && ref && strcmp(doc_sha, ref))
		add(s, 0, "sha256:run_document", "the run document says sha256 %.12s..., but %s "
		    "says %.12s...", doc_sha, ref_from, ref);
	if (s->have_run && s->t) {
		if (mlf_location_probe_artifact(&s->copies[MLF_LOC_ARTIFACT], s->t, &s->run,
						s->p.art_model, &err))
			raise_for(s, &err);
		/* the MLflow Model's weights, when the registry version is of one */
		const char *name = mlf_kvs_get(&s->run.tags, "registered_model");
		const char *version = mlf_kvs_get(&s->run.tags, "registry_version");
		struct mlf_location *mm = &s->copies[MLF_LOC_MLFLOW_MODEL];
		if (name && version &&
		    mlf_location_probe_mlflow_model(mm, s->t, name, version, s->p.name, &err)) {
			if (err.kind == MLF_ERR_NOT_FOUND) {  /* the registry check says so */
				mlf_location_release(mm);
				mm->kind = MLF_LOC_MLFLOW_MODEL;
			} else {
				raise_for(s, &err);
			}
		}
		if (mm->where && mm->exists == 0)
			add(s, 0, "sha256:mlflow_model", "%s is missing: the MLflow Model of registry "
			    "version %s %s has no weights; re-register the version from the run's %s",
			    mm->where, name, version, s->p.art_model);
	}
	if (!ref) {
		if (s->copies[MLF_LOC_QUICK].exists == 1 || s->copies[MLF_LOC_TRAINING].exists == 1 ||
		    s->copies[MLF_LOC_ARTIFACT].exists == 1)
			add(s, 0, "sha256", "no sha256 to compare the copies against: the metadata, the "
			    "run document and models/%s.pt are all missing", s->p.name);
		return;
	}
	for (int k = 0; k < MLF_LOC_COUNT; k++)
		if (mlf_location_compared(k) && s->copies[k].exists)
			check_copy(s, &s->copies[k], ref, ref_from);
}

/* ---- registry ----------------------------------------------------------- */

static void judge_alias(struct verify *s, const char *name, const char *version,
			const char *alias, struct mlf_buf *ok, struct mlf_buf *bad)
{
	struct mlf_model_version mv = { 0 };
	struct mlf_error err = MLF_ERROR_INIT;
	const char *now = NULL;
	if (mlf_tracking_get_alias(s->t, name, alias, &mv, &err) == 0)
		now = mv.version;
	else if (err.kind != MLF_ERR_NOT_FOUND) {
		mlf_buf_addf(bad, "; cannot read alias %s: %s", alias, err.msg);
		raise_for(s, &err);
		mlf_model_version_release(&mv);
		return;
	}
	switch (mlf_alias_judge(version, now)) {
	case MLF_ALIAS_HERE:
		mlf_buf_addf(ok, ", %s -> %s", alias, version);
		break;
	case MLF_ALIAS_MOVED_ON:
		mlf_buf_addf(ok, ", %s -> %s (moved on by a later retraining)", alias, now);
		break;
	case MLF_ALIAS_OLDER: {
		/* moved back on purpose (model-promote --rollback) is not a fault of this run */
		char *history = s->p.models_dir ? mlf_path_join(s->p.models_dir, MLF_PROMOTIONS_FILE) : NULL;
		json_t *back = history ? mlf_promotion_history_rollback_from(history, name, alias, version)
				       : NULL;
		if (back)
			mlf_buf_addf(ok, ", %s -> %s (rolled back at %s by %s)", alias, now,
				     mlf_json_str(back, "at", "?"), mlf_json_str(back, "by", "?"));
		else
			mlf_buf_addf(bad, "; alias %s points to older version %s, not to %s", alias, now,
				     version);
		json_decref(back);
		free(history);
		break;
	}
	case MLF_ALIAS_NOWHERE:
		mlf_buf_addf(bad, "; alias %s is not set (it should point to %s or newer)", alias,
			     version);
		break;
	case MLF_ALIAS_INVALID:
		mlf_buf_addf(bad, "; alias %s points to '%s', which is not a version number", alias,
			     now);
		break;
	}
	mlf_model_version_release(&mv);
}

/*
 * The version exists and is this run's.  Its aliases: the registry is the
 * one truth (no run tag repeats them, so none goes stale when they move);
 * the ones the run document says the run set, `expected` (NULL when a
 * version is verified on its own), are judged; the rest are reported.
 */
/* Is `alias` one of the strings of the JSON array `list` (NULL: none)? */
static int listed(const json_t *list, const char *alias)
{
	size_t i;
	json_t *a;
	json_array_foreach(list, i, a)
		if (json_is_string(a) && !strcmp(json_string_value(a), alias))
			return 1;
	return 0;
}

static void check_model_version(struct verify *s, const char *name, const char *version,
				const json_t *expected)
{
	struct mlf_model_version mv = { 0 };
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_buf ok = MLF_BUF_INIT, bad = MLF_BUF_INIT;

	if (mlf_tracking_get_model_version(s->t, name, version, &mv, &err)) {
		if (err.kind == MLF_ERR_UNSUPPORTED) {
			add(s, 1, "registry", "skipped: %s", err.msg);
		} else if (err.kind == MLF_ERR_NOT_FOUND) {
			add(s, 0, "registry", "model version %s %s (tags of run %s) is not in the "
			    "registry at %s: it was deleted, or the run was registered elsewhere",
			    name, version, s->run.run_id, mlf_tracking_uri(s->t));
		} else {
			add(s, 0, "registry", "cannot read model version %s %s: %s", name, version,
			    err.msg);
			raise_for(s, &err);
		}
		return;
	}
	if (!mv.run_id || strcmp(mv.run_id, s->run.run_id))
		mlf_buf_addf(&bad, "; it belongs to run %s, not to run %s",
			     mv.run_id ? mv.run_id : "(none)", s->run.run_id);
	size_t i;
	json_t *a;
	json_array_foreach(expected, i, a)
		if (json_is_string(a))
			judge_alias(s, name, version, json_string_value(a), &ok, &bad);
	for (i = 0; i < mv.aliases.n; i++)
		if (!listed(expected, mv.aliases.items[i].key))
			mlf_buf_addf(&ok, ", %s -> %s", mv.aliases.items[i].key, version);
	if (bad.len)
		add(s, 0, "registry", "model version %s %s: %s", name, version, bad.data + 2);
	else
		add(s, 1, "registry", "%s version %s of run %s%s%s", name, version, s->run.run_id,
		    ok.len ? "; aliases " : "", ok.len ? ok.data + 2 : "");
	mlf_buf_release(&ok);
	mlf_buf_release(&bad);
	mlf_model_version_release(&mv);
}

static void check_registry(struct verify *s)
{
	const json_t *reg = json_object_get(s->o->doc, "registry");
	const char *skipped = mlf_json_str(reg, "skipped", NULL);
	const char *name = mlf_kvs_get(&s->run.tags, "registered_model");
	const char *version = mlf_kvs_get(&s->run.tags, "registry_version");
	const char *doc_version = mlf_json_str(reg, "version", NULL);

	if (skipped) {
		add(s, 1, "registry", "skipped: %s", skipped);
	} else if (name && version) {
		if (doc_version && strcmp(doc_version, version))
			add(s, 0, "registry", "the run document says registry version %s, but run %s "
			    "is tagged registry_version=%s", doc_version, s->run.run_id, version);
		else
			check_model_version(s, name, version, json_object_get(reg, "aliases"));
	} else {
		add(s, 0, "registry", "run %s has no registered_model / registry_version tags: the "
		    "model was not registered; register %s of the run, or retrain",
		    s->run.run_id, s->n ? s->p.art_model : MLF_ART_MODELS "/retrained_vN.pt");
	}
}

/* ---- the whole verification --------------------------------------------- */

static void verify_release(struct verify *s)
{
	mlf_version_paths_release(&s->p);
	json_decref(s->metadata);
	mlf_run_release(&s->run);
	mlf_tracking_close(s->t);
	for (int k = 0; k < MLF_LOC_COUNT; k++)
		mlf_location_release(&s->copies[k]);
}

/* What only the run can tell, after the checksums (which need its artifact). */
static void verify_run(struct verify *s)
{
	check_tags(s);
	check_params(s);
	check_metrics(s);
	check_artifacts(s);
	check_registry(s);
}

int mlf_verify(const struct mlf_verify_options *o, struct mlf_verification *v,
	       struct mlf_error *err)
{
	struct verify s = { .o = o, .cfg = o->cfg, .v = v };
	int rc;

	memset(v, 0, sizeof(*v));
	s.want_exp = mlf_config_get(o->cfg, "experiment_id");
	if (!s.want_exp || !*s.want_exp)
		return mlf_fail(err, MLF_EX_CONFIG, "experiment_id is not set; set it in mlf.yaml or "
				"MLFLOW_EXPERIMENT_ID to the experiment retrainings are recorded in");
	rc = o->doc ? from_document(&s, err) : o->run_id ? from_run_id(&s, err)
							  : from_version(&s, err);
	if (rc) {
		verify_release(&s);
		return -1;
	}
	if (!v->experiment_id)
		v->experiment_id = mlf_xstrdup(s.want_exp);
	if (s.n) {
		check_files(&s);
		check_metadata(&s);
	}
	check_store(&s);
	if (s.t)
		check_run(&s);
	if (s.have_run) {
		check_experiment(&s);
		check_status(&s);
	} else {
		check_document_experiment(&s);
	}
	if (s.n)
		check_checksums(&s);
	if (s.have_run)
		verify_run(&s);
	verify_release(&s);
	return v->status;
}

/* ---- output ------------------------------------------------------------- */

size_t mlf_verification_failed(const struct mlf_verification *v)
{
	size_t failed = 0;
	for (size_t i = 0; i < v->n; i++)
		failed += !v->checks[i].ok;
	return failed;
}

json_t *mlf_verification_json(const struct mlf_verification *v)
{
	json_t *checks = json_array(), *problems = json_array();
	for (size_t i = 0; i < v->n; i++) {
		const struct mlf_verify_check *c = &v->checks[i];
		json_array_append_new(checks, json_pack("{s:s, s:b, s:s}", "name", c->name,
							"ok", c->ok, "detail", c->detail));
		if (!c->ok)
			json_array_append_new(problems, json_string(c->detail));
	}
	return json_pack("{s:s, s:i, s:b, s:o, s:o, s:o, s:o, s:o}",
			 "kind", "mlf.verification", "schema_version", 1, "ok", v->status == 0,
			 "version", mlf_json_string_or_null(v->version),
			 "run_id", mlf_json_string_or_null(v->run_id),
			 "experiment_id", mlf_json_string_or_null(v->experiment_id),
			 "checks", checks, "problems", problems);
}

static void print_title(const struct mlf_verification *v, FILE *out)
{
	if (v->version)
		fprintf(out, "retrained_%s", v->version);
	else
		fputs("retraining", out);
	if (v->run_id)
		fprintf(out, " (run %s)", v->run_id);
	else
		fputs(" (no run)", out);
}

void mlf_verification_print(const struct mlf_verification *v, FILE *out, int color)
{
	int width = 10;
	for (size_t i = 0; i < v->n; i++)
		if ((int)strlen(v->checks[i].name) > width)
			width = (int)strlen(v->checks[i].name);
	print_title(v, out);
	fprintf(out, ", experiment %s\n", v->experiment_id ? v->experiment_id : "unknown");
	for (size_t i = 0; i < v->n; i++) {
		const struct mlf_verify_check *c = &v->checks[i];
		const char *mark = c->ok ? " ok " : "FAIL";
		if (color)
			fprintf(out, "[%s%s\033[0m] %-*s  %s\n", c->ok ? "\033[32m" : "\033[31m", mark,
				width, c->name, c->detail);
		else
			fprintf(out, "[%s] %-*s  %s\n", mark, width, c->name, c->detail);
	}
	size_t failed = mlf_verification_failed(v);
	fprintf(out, "%zu checks, %zu passed, %zu failed\n", v->n, v->n - failed, failed);
}

void mlf_verification_summary(const struct mlf_verification *v, const char *prog, FILE *out)
{
	size_t failed = mlf_verification_failed(v);
	fprintf(out, "%s: ", prog);
	print_title(v, out);
	if (!failed) {
		fprintf(out, ": %zu checks passed\n", v->n);
		return;
	}
	fprintf(out, ": %zu of %zu checks failed:\n", failed, v->n);
	for (size_t i = 0; i < v->n; i++)
		if (!v->checks[i].ok)
			fprintf(out, "  - %s\n", v->checks[i].detail);
}

void mlf_verification_release(struct mlf_verification *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free(v->checks[i].name);
		free(v->checks[i].detail);
	}
	free(v->checks);
	free(v->version);
	free(v->run_id);
	free(v->experiment_id);
	memset(v, 0, sizeof(*v));
}
