/* Where model version N lives and whether its copies agree (see mlf/check.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mlf/base.h"
#include "mlf/check.h"
#include "mlf/tracking.h"
#include "check_internal.h"

static const char *const kind_names[MLF_LOC_COUNT] = {
	"models", "quick_access", "training", "safetensors", "mlflow_artifact", "mlflow_model",
};

const char *mlf_location_kind_name(enum mlf_location_kind kind)
{
	return (unsigned)kind < MLF_LOC_COUNT ? kind_names[kind] : "unknown";
}

int mlf_location_compared(enum mlf_location_kind kind)
{
	return kind != MLF_LOC_SAFETENSORS && (unsigned)kind < MLF_LOC_COUNT;
}

int mlf_location_remote(enum mlf_location_kind kind)
{
	return kind == MLF_LOC_ARTIFACT || kind == MLF_LOC_MLFLOW_MODEL;
}

/* ---- one location ------------------------------------------------------- */

void mlf_location_probe_file(struct mlf_location *loc, enum mlf_location_kind kind,
			     const char *path)
{
	struct mlf_error err = MLF_ERROR_INIT;
	struct stat st;

	memset(loc, 0, sizeof(*loc));
	loc->kind = kind;
	loc->where = mlf_xstrdup(path);
	if (stat(path, &st)) {
		if (errno == ENOENT || errno == ENOTDIR)
			return;
		loc->exists = -1;
		loc->error = mlf_xasprintf("cannot look at %s: %s", path, strerror(errno));
		return;
	}
	loc->exists = 1;
	mlf_time_rfc3339(st.st_mtime, loc->mtime);
	if (!S_ISREG(st.st_mode)) {
		loc->error = mlf_xasprintf("%s is not a regular file", path);
		return;
	}
	if (mlf_sha256_file(path, loc->sha256, &loc->size, &err)) {
		loc->sha256[0] = '\0';
		loc->error = mlf_xstrdup(err.msg);
	}
}

static const char *temp_root(void)
{
	const char *dir = getenv("TMPDIR");
	return dir && *dir ? dir : "/tmp";
}

int mlf_location_probe_artifact(struct mlf_location *loc, struct mlf_tracking *t,
				const struct mlf_run *run, const char *artifact_path,
				struct mlf_error *err)
{
	struct mlf_error ignored = MLF_ERROR_INIT;
	int rc = 0;

	memset(loc, 0, sizeof(*loc));
	loc->kind = MLF_LOC_ARTIFACT;
	loc->where = mlf_uri_append(run->artifact_uri ? run->artifact_uri : "", artifact_path);
	/* A private folder, so two verifications at once never share a file. */
	char *dir = mlf_xasprintf("%s/mlf-artifact.XXXXXX", temp_root());
	if (!mkdtemp(dir)) {
		mlf_fail(err, MLF_EX_CANTCREAT, "cannot create a temporary folder in %s to download "
			 "the artifact into: %s; set TMPDIR to a writable folder", temp_root(),
			 strerror(errno));
		loc->exists = -1;
		loc->error = mlf_xstrdup(err->msg);
		free(dir);
		return -1;
	}
	char *dst = mlf_path_join(dir, "artifact");
	if (mlf_tracking_download_artifact(t, run, artifact_path, dst, err)) {
		if (err->kind == MLF_ERR_NOT_FOUND) {
			mlf_error_clear(err);
		} else {
			loc->exists = -1;
			loc->error = mlf_xstrdup(err->msg);
			rc = -1;
		}
	} else if (mlf_sha256_file(dst, loc->sha256, &loc->size, err)) {
		loc->exists = -1;
		loc->error = mlf_xstrdup(err->msg);
		loc->sha256[0] = '\0';
		rc = -1;
	} else {
		loc->exists = 1;
	}
	mlf_remove_tree(dir, &ignored);
	free(dst);
	free(dir);
	return rc;
}

int mlf_location_probe_mlflow_model(struct mlf_location *loc, struct mlf_tracking *t,
				    const char *name, const char *version, const char *model_name,
				    struct mlf_error *err)
{
	struct mlf_model_version mv = { 0 };
	struct mlf_logged_model m = { 0 };
	memset(loc, 0, sizeof(*loc));
	loc->kind = MLF_LOC_MLFLOW_MODEL;
	if (mlf_tracking_get_model_version(t, name, version, &mv, err))
		goto failed;
	if (!mv.source || strncmp(mv.source, "models:/m-", 10)) {
		mlf_model_version_release(&mv);
		return 0;  /* not of a logged model */
	}
	if (mlf_tracking_get_logged_model(t, mv.source + strlen("models:/"), &m, err))
		goto failed;
	/* the artifact functions route by an artifact URI: the model's own */
	struct mlf_run view = { .run_id = m.model_id, .artifact_uri = m.artifact_uri };
	char *path = mlf_xasprintf("data/%s.pt", model_name);
	int rc = mlf_location_probe_artifact(loc, t, &view, path, err);
	loc->kind = MLF_LOC_MLFLOW_MODEL;
	free(path);
	mlf_logged_model_release(&m);
	mlf_model_version_release(&mv);
	return rc;
failed:
	loc->where = mlf_xstrdup(mv.source ? mv.source : "models:/?");
	loc->exists = -1;
	loc->error = mlf_xstrdup(err->msg);
	mlf_model_version_release(&mv);
	return -1;
}

void mlf_location_release(struct mlf_location *loc)
{
	free(loc->where);
	free(loc->error);
	memset(loc, 0, sizeof(*loc));
}

/* ---- registry helpers --------------------------------------------------- */

static int is_decimal(const char *s)
{
	return s && *s && strspn(s, "0123456789") == strlen(s);
}

int mlf_registry_version_cmp(const char *a, const char *b, int *cmp)
{
	if (!is_decimal(a) || !is_decimal(b))
		return -1;
	/* Compared as digit strings: no overflow whatever the length. */
	while (*a == '0' && a[1])
		a++;
	while (*b == '0' && b[1])
		b++;
	size_t la = strlen(a), lb = strlen(b);
	int c = la != lb ? (la < lb ? -1 : 1) : strcmp(a, b);
	*cmp = (c > 0) - (c < 0);
	return 0;
}

enum mlf_alias_verdict mlf_alias_judge(const char *ours, const char *now)
{
	int cmp;
	if (!now)
		return MLF_ALIAS_NOWHERE;
	if (mlf_registry_version_cmp(now, ours, &cmp))
		return MLF_ALIAS_INVALID;
	return cmp == 0 ? MLF_ALIAS_HERE : cmp > 0 ? MLF_ALIAS_MOVED_ON : MLF_ALIAS_OLDER;
}

/* ---- one version, every location ---------------------------------------- */

static void read_metadata(struct mlf_locations *l)
{
	const char *path = l->paths.metadata;
	json_error_t je;
	if (!mlf_is_file(path)) {
		l->metadata_error = mlf_xasprintf("%s is missing", path);
		return;
	}
	l->metadata = json_load_file(path, 0, &je);
	const char *format = mlf_json_str(l->metadata, "format", NULL);
	if (!l->metadata) {
		l->metadata_error = mlf_xasprintf("%s is not valid JSON (line %d: %s)", path, je.line,
						  je.text);
	} else if (!format || strcmp(format, "mlf.model")) {
		l->metadata_error = mlf_xasprintf("%s is not model metadata (no \"format\": "
						  "\"mlf.model\")", path);
	} else if (!mlf_is_sha256_hex(mlf_json_str(l->metadata, "sha256", NULL))) {
		l->metadata_error = mlf_xasprintf("%s has no valid \"sha256\"", path);
	} else {
		l->metadata_sha256 = mlf_json_str(l->metadata, "sha256", NULL);
	}
}

/* The run the version belongs to: the metadata's, else the training folder's state file. */
static void find_run(struct mlf_locations *l)
{
	const char *id = mlf_json_str(json_object_get(l->metadata, "run"), "run_id", NULL);
	const char *exp = mlf_json_str(json_object_get(l->metadata, "run"), "experiment_id", NULL);
	json_t *state = NULL;
	if (!id && mlf_is_file(l->paths.state)) {
		state = json_load_file(l->paths.state, 0, NULL);
		id = mlf_json_str(state, "run_id", NULL);
		exp = mlf_json_str(state, "experiment_id", NULL);
	}
	l->run_id = mlf_xstrdup(id);
	l->experiment_id = mlf_xstrdup(exp);
	json_decref(state);
}

static void raise_status(struct mlf_locations *l, int status)
{
	/* An incomplete answer matters more than a known mismatch. */
	l->status = mlf_status_worse(l->status, status);
}

static void locate_registry(struct mlf_locations *l, struct mlf_tracking *t,
			    const struct mlf_run *run)
{
	const char *name = mlf_kvs_get(&run->tags, "registered_model");
	const char *version = mlf_kvs_get(&run->tags, "registry_version");
	struct mlf_model_version mv = { 0 };
	struct mlf_error err = MLF_ERROR_INIT;

	if (!name || !version)
		return;
	l->reg_name = mlf_xstrdup(name);
	l->reg_version = mlf_xstrdup(version);
	if (mlf_tracking_get_model_version(t, name, version, &mv, &err)) {
		if (err.kind == MLF_ERR_UNSUPPORTED) {
			l->reg_note = mlf_xasprintf("unconfirmed: %s", err.msg);
		} else {
			l->reg_error = mlf_xstrdup(err.msg);
			if (err.kind != MLF_ERR_NOT_FOUND)
				raise_status(l, check_tracking_status(&err));
		}
	} else if (mv.run_id && strcmp(mv.run_id, run->run_id)) {
		l->reg_error = mlf_xasprintf("model version %s %s belongs to run %s, not to run %s",
					     name, version, mv.run_id, run->run_id);
	} else {
		/* the registry is the one truth about aliases: no run tag repeats them */
		for (size_t i = 0; i < mv.aliases.n; i++)
			mlf_kvs_add(&l->aliases, mv.aliases.items[i].key, "");
		if (mlf_location_probe_mlflow_model(&l->loc[MLF_LOC_MLFLOW_MODEL], t, name, version,
						    l->paths.name, &err))
			raise_status(l, check_tracking_status(&err));
	}
	mlf_model_version_release(&mv);
}

static char *artifact_path_of(const struct mlf_locations *l)
{
	const char *p = mlf_json_str(json_object_get(l->metadata, "run"), "artifact_path", NULL);
	return mlf_xstrdup(p ? p : l->paths.art_model);
}

static void locate_run(struct mlf_locations *l, const struct mlf_config *cfg)
{
	struct mlf_tracking_options opts;
	struct mlf_tracking *t = NULL;
	struct mlf_run run = { 0 };
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_location *art = &l->loc[MLF_LOC_ARTIFACT];
	char *path = artifact_path_of(l);

	int rc = mlf_config_tracking_options(cfg, &opts, &err);
	opts.create_store = 0;
	if (rc || mlf_tracking_open(&t, &opts, &err) ||
	    mlf_tracking_get_run(t, l->run_id, &run, &err)) {
		const char *uri = mlf_config_get(cfg, "tracking_uri");
		l->tracking_uri = t ? mlf_xstrdup(mlf_tracking_uri(t)) : mlf_uri_redact(uri ? uri : "");
		if (err.kind == MLF_ERR_NOT_FOUND && t)
			l->run_error = mlf_xasprintf("run %s not found at %s; is tracking_uri the store "
						     "the model was trained with?", l->run_id,
						     l->tracking_uri);
		else
			l->run_error = mlf_xstrdup(err.msg);
		raise_status(l, check_tracking_status(&err));
		const char *root = mlf_json_str(json_object_get(l->metadata, "run"), "artifact_uri", NULL);
		art->kind = MLF_LOC_ARTIFACT;
		art->where = root ? mlf_uri_append(root, path) : NULL;
		art->exists = -1;
		art->error = mlf_xasprintf("not checked: %s", l->run_error);
		goto out;
	}
	l->tracking_uri = mlf_xstrdup(mlf_tracking_uri(t));
	free(l->experiment_id);
	l->experiment_id = mlf_xstrdup(run.experiment_id);
	l->run_status = mlf_xstrdup(mlf_run_status_name(run.status));
	if (mlf_location_probe_artifact(art, t, &run, path, &err))
		raise_status(l, check_tracking_status(&err));
	locate_registry(l, t, &run);
out:
	mlf_run_release(&run);
	mlf_tracking_close(t);
	free(path);
}

/* Is copy k judged?  The store's copies not when the run could not be read, and the
 * MLflow Model's not when the version is of none (registered before mlf logged them). */
static int judged(const struct mlf_locations *l, int k)
{
	if (!mlf_location_compared(k))
		return 0;
	if (mlf_location_remote(k) && l->run_error)
		return 0;
	return k != MLF_LOC_MLFLOW_MODEL || l->loc[k].where;
}

static int judged_count(const struct mlf_locations *l)
{
	int n = 0;
	for (int k = 0; k < MLF_LOC_COUNT; k++)
		n += judged(l, k);
	return n;
}

static int copies_agree(const struct mlf_locations *l)
{
	if (!l->metadata_sha256)
		return 0;
	for (int k = 0; k < MLF_LOC_COUNT; k++)
		if (judged(l, k) && (l->loc[k].exists != 1 || strcmp(l->loc[k].sha256, l->metadata_sha256)))
			return 0;
	return 1;
}

static int any_trace(const struct mlf_locations *l)
{
	for (int k = 0; k < MLF_LOC_COUNT; k++)
		if (l->loc[k].exists)
			return 1;
	return mlf_is_file(l->paths.metadata) || mlf_is_dir(l->paths.train_dir);
}

int mlf_locate(const struct mlf_config *cfg, long n, struct mlf_locations *l,
	       struct mlf_error *err)
{
	memset(l, 0, sizeof(*l));
	l->n = n;
	snprintf(l->version, sizeof(l->version), "v%ld", n);
	mlf_version_paths_init(&l->paths, cfg, n);
	l->loc[MLF_LOC_ARTIFACT].kind = MLF_LOC_ARTIFACT;
	l->loc[MLF_LOC_MLFLOW_MODEL].kind = MLF_LOC_MLFLOW_MODEL;

	mlf_location_probe_file(&l->loc[MLF_LOC_MODELS], MLF_LOC_MODELS, l->paths.model_pt);
	mlf_location_probe_file(&l->loc[MLF_LOC_QUICK], MLF_LOC_QUICK, l->paths.quick_pt);
	mlf_location_probe_file(&l->loc[MLF_LOC_TRAINING], MLF_LOC_TRAINING, l->paths.best_pt);
	mlf_location_probe_file(&l->loc[MLF_LOC_SAFETENSORS], MLF_LOC_SAFETENSORS,
				l->paths.safetensors);
	if (!any_trace(l))
		return mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
				     "%s not found: no %s and no training folder %s; "
				     "`model-locate latest` shows the newest version",
				     l->paths.name, l->paths.model_pt, l->paths.train_dir);
	read_metadata(l);
	find_run(l);
	if (l->run_id) {
		locate_run(l, cfg);
	} else {
		l->loc[MLF_LOC_ARTIFACT].error = mlf_xasprintf(
			"no MLflow run is known for %s: neither %s nor %s names one",
			l->paths.name, l->paths.metadata, l->paths.state);
	}
	l->agree = copies_agree(l);
	/* Copies that agree are not yet a model to ship: between the rename into models/
	 * and the end of its run, or after a failure there, the run says it is unfinished. */
	l->deployable = l->agree && l->run_status && !strcmp(l->run_status, "FINISHED");
	if (!l->deployable)
		raise_status(l, MLF_EX_CHECK);
	return l->status;
}

/* ---- output ------------------------------------------------------------- */

/* A version that is of no MLflow Model has no such location to show. */
static int shown_kind(const struct mlf_locations *l, int k)
{
	return k != MLF_LOC_MLFLOW_MODEL || l->loc[k].where || l->loc[k].error;
}

static json_t *location_json(const struct mlf_location *loc)
{
	json_t *o = json_object();
	json_object_set_new(o, "kind", json_string(mlf_location_kind_name(loc->kind)));
	json_object_set_new(o, mlf_location_remote(loc->kind) ? "uri" : "path",
			    mlf_json_string_or_null(loc->where));
	json_object_set_new(o, "exists", loc->exists < 0 ? json_null() : json_boolean(loc->exists));
	if (loc->exists == 1 && loc->sha256[0]) {
		json_object_set_new(o, "size", json_integer((json_int_t)loc->size));
		json_object_set_new(o, "sha256", json_string(loc->sha256));
	}
	if (loc->mtime[0])
		json_object_set_new(o, "mtime", json_string(loc->mtime));
	if (loc->error)
		json_object_set_new(o, "error", json_string(loc->error));
	return o;
}

static json_t *kvs_keys_json(const struct mlf_kvs *kvs)
{
	json_t *a = json_array();
	for (size_t i = 0; i < kvs->n; i++)
		json_array_append_new(a, json_string(kvs->items[i].key));
	return a;
}

static json_t *run_json(const struct mlf_locations *l)
{
	if (!l->run_id)
		return json_null();
	json_t *o = json_pack("{s:s, s:o, s:o, s:o}", "run_id", l->run_id,
			      "experiment_id", mlf_json_string_or_null(l->experiment_id),
			      "status", mlf_json_string_or_null(l->run_status),
			      "tracking_uri", mlf_json_string_or_null(l->tracking_uri));
	if (l->run_error)
		json_object_set_new(o, "error", json_string(l->run_error));
	return o;
}

static json_t *registry_json(const struct mlf_locations *l)
{
	if (!l->reg_name)
		return json_null();
	json_t *o = json_pack("{s:s, s:s, s:o}", "name", l->reg_name, "version", l->reg_version,
			      "aliases", kvs_keys_json(&l->aliases));
	if (l->reg_error)
		json_object_set_new(o, "error", json_string(l->reg_error));
	if (l->reg_note)
		json_object_set_new(o, "note", json_string(l->reg_note));
	return o;
}

json_t *mlf_locations_json(const struct mlf_locations *l)
{
	json_t *locs = json_array();
	for (int k = 0; k < MLF_LOC_COUNT; k++)
		if (shown_kind(l, k))
			json_array_append_new(locs, location_json(&l->loc[k]));
	return json_pack("{s:s, s:i, s:s, s:s, s:b, s:b, s:o, s:o, s:o, s:o, s:o}",
			 "kind", "mlf.locations", "schema_version", 1,
			 "version", l->version, "name", l->paths.name, "agree", l->agree,
			 "deployable", l->deployable,
			 "sha256", mlf_json_string_or_null(l->agree ? l->metadata_sha256 : NULL),
			 "metadata", mlf_json_string_or_null(l->metadata ? l->paths.metadata : NULL),
			 "run", run_json(l), "registry", registry_json(l), "locations", locs);
}

static void add_kvs_keys(struct mlf_buf *b, const struct mlf_kvs *kvs)
{
	for (size_t i = 0; i < kvs->n; i++)
		mlf_buf_addf(b, "%s%s", i ? ", " : "", kvs->items[i].key);
}

static char *registry_text(const struct mlf_locations *l)
{
	struct mlf_buf b = MLF_BUF_INIT;
	mlf_buf_addf(&b, "%s version %s", l->reg_name, l->reg_version);
	if (l->aliases.n) {
		mlf_buf_adds(&b, ", aliases ");
		add_kvs_keys(&b, &l->aliases);
	}
	if (l->reg_error)
		mlf_buf_addf(&b, "; %s", l->reg_error);
	if (l->reg_note)
		mlf_buf_addf(&b, " (%s)", l->reg_note);
	return mlf_buf_detach(&b);
}

/* What is wrong with one compared copy, or NULL. */
static char *copy_problem(const struct mlf_locations *l, const struct mlf_location *loc)
{
	const char *name = mlf_location_kind_name(loc->kind);
	const char *where = loc->where ? loc->where : "(no run known)";
	if (loc->exists == 0)
		return mlf_xasprintf("%s copy %s is missing", name, where);
	if (loc->exists < 0 || loc->error)
		return mlf_xasprintf("%s copy %s: %s", name, where,
				     loc->error ? loc->error : "could not be read");
	if (l->metadata_sha256 && strcmp(loc->sha256, l->metadata_sha256))
		return mlf_xasprintf("%s copy %s has sha256 %.12s..., the metadata says %.12s...",
				     name, where, loc->sha256, l->metadata_sha256);
	return NULL;
}

/* How many compared copies are missing or differ (an unread MLflow copy is not counted). */
static int copy_problems(const struct mlf_locations *l)
{
	int n = 0;
	for (int k = 0; k < MLF_LOC_COUNT; k++) {
		if (!judged(l, k))
			continue;
		char *p = copy_problem(l, &l->loc[k]);
		n += p != NULL;
		free(p);
	}
	return n;
}

static void print_header(const struct mlf_locations *l, FILE *out)
{
	fprintf(out, "%s\n", l->paths.name);
	fprintf(out, "  metadata  %s\n", l->metadata ? l->paths.metadata : l->metadata_error);
	if (!l->run_id)
		fprintf(out, "  run       none known\n");
	else if (l->run_error)
		fprintf(out, "  run       %s: %s\n", l->run_id, l->run_error);
	else
		fprintf(out, "  run       %s %s, experiment %s, %s\n", l->run_id, l->run_status,
			l->experiment_id, l->tracking_uri);
	if (l->reg_name) {
		char *reg = registry_text(l);
		fprintf(out, "  registry  %s\n", reg);
		free(reg);
	}
	if (l->agree)
		fprintf(out, "  copies    all %d agree, sha256 %s\n", judged_count(l), l->metadata_sha256);
	else if (copy_problems(l) || l->metadata_error)
		fprintf(out, "  copies    DO NOT AGREE (see below)\n");
	else
		fprintf(out, "  copies    the local ones agree; the MLflow copy could not be checked\n");
}

/* The SHA256 column: a prefix is enough to tell copies apart by eye. */
static const char *sha_cell(const struct mlf_location *loc, char buf[16])
{
	if (loc->exists == 0)
		return "missing";
	if (loc->exists < 0 || !loc->sha256[0])
		return "unknown";
	snprintf(buf, 16, "%.12s", loc->sha256);
	return buf;
}

static const char *note_cell(const struct mlf_locations *l, const struct mlf_location *loc)
{
	if (loc->error)
		return loc->error;
	if (!mlf_location_compared(loc->kind))
		return "(not compared)";
	if (loc->exists == 1 && l->metadata_sha256 && strcmp(loc->sha256, l->metadata_sha256))
		return "DIFFERS from the metadata's sha256";
	return "";
}

void mlf_locations_print(const struct mlf_locations *l, FILE *out)
{
	char sizes[MLF_LOC_COUNT][24], sha[16];
	int wsize = 4;
	print_header(l, out);
	for (int k = 0; k < MLF_LOC_COUNT; k++) {
		const struct mlf_location *loc = &l->loc[k];
		if (loc->exists == 1 && loc->sha256[0])
			snprintf(sizes[k], sizeof(sizes[k]), "%llu", (unsigned long long)loc->size);
		else
			snprintf(sizes[k], sizeof(sizes[k]), "-");
		if ((int)strlen(sizes[k]) > wsize)
			wsize = (int)strlen(sizes[k]);
	}
	fprintf(out, "\n  %-15s  %*s  %-12s  %-20s  %s\n", "KIND", wsize, "SIZE", "SHA256",
		"MODIFIED", "LOCATION");
	for (int k = 0; k < MLF_LOC_COUNT; k++) {
		const struct mlf_location *loc = &l->loc[k];
		const char *note = note_cell(l, loc);
		if (!shown_kind(l, k))
			continue;
		fprintf(out, "  %-15s  %*s  %-12s  %-20s  %s%s%s\n", mlf_location_kind_name(loc->kind),
			wsize, sizes[k], sha_cell(loc, sha), loc->mtime[0] ? loc->mtime : "-",
			loc->where ? loc->where : "-", *note ? "  " : "", note);
	}
}

void mlf_locations_summary(const struct mlf_locations *l, const char *prog, FILE *out)
{
	struct mlf_buf problems = MLF_BUF_INIT;
	if (l->agree && !l->run_error) {
		fprintf(out, "%s: %s: all %d copies agree (sha256 %.12s...)", prog, l->paths.name,
			judged_count(l), l->metadata_sha256);
		if (l->run_id)
			fprintf(out, ", run %s %s", l->run_id, l->run_status);
		if (l->reg_name)
			fprintf(out, ", %s version %s", l->reg_name, l->reg_version);
		fputc('\n', out);
		if (!l->deployable)
			fprintf(out, "%s: %s is not deployable: %s\n", prog, l->paths.name,
				l->run_id ? "its run is not FINISHED (still running, or it failed after "
					    "the model was stored)" : "no MLflow run is known for it");
		return;
	}
	if (l->metadata_error)
		mlf_buf_addf(&problems, "  - %s\n", l->metadata_error);
	for (int k = 0; k < MLF_LOC_COUNT; k++) {
		if (!judged(l, k))
			continue;
		char *p = copy_problem(l, &l->loc[k]);
		if (p)
			mlf_buf_addf(&problems, "  - %s\n", p);
		free(p);
	}
	/* An unreadable run is no evidence that the copies differ: say which it is. */
	fprintf(out, "%s: %s: %s\n%s", prog, l->paths.name,
		copy_problems(l) ? "the copies do not agree:" :
		l->metadata_error ? "without usable metadata there is no sha256 to agree on:" :
		"the local copies agree; the MLflow copy could not be checked:", problems.data);
	if (l->run_error)
		fprintf(out, "  - run %s: %s\n", l->run_id, l->run_error);
	if (problems.len)
		fprintf(out, "  `mlf-verify --version %ld` checks the whole run; a copy that differs "
			"can be restored from the MLflow artifact\n", l->n);
	mlf_buf_release(&problems);
}

void mlf_locations_release(struct mlf_locations *l)
{
	mlf_version_paths_release(&l->paths);
	json_decref(l->metadata);
	for (int k = 0; k < MLF_LOC_COUNT; k++)
		mlf_location_release(&l->loc[k]);
	char **strings[] = { &l->metadata_error, &l->run_id, &l->experiment_id, &l->run_status,
			     &l->tracking_uri, &l->run_error, &l->reg_name, &l->reg_version,
			     &l->reg_error, &l->reg_note };
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		free(*strings[i]);
	mlf_kvs_release(&l->aliases);
	memset(l, 0, sizeof(*l));
}
