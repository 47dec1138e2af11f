/*
 * What the files of the `file:` / plain-path backend share (internal to
 * lib/tracking/).  The layout is MLflow's file store (docs/mlflow-formats.md
 * section 1), written so the real MLflow 3.x reads it:
 *
 *   <root>/<exp_id>/meta.yaml, tags/<key>
 *   <root>/<exp_id>/<run_id>/meta.yaml, metrics/ params/ tags/ artifacts/ inputs/
 *   <root>/<exp_id>/datasets/<md5>/meta.yaml
 *   <root>/<exp_id>/models/<model_id>/meta.yaml, params/ tags/ artifacts/  logged models
 *   <root>/models/<name>/meta.yaml, aliases/<alias>, version-<n>/meta.yaml
 *   <root>/.trash/<exp_id>/...   deleted experiments
 *
 *   file_store.c              opening, ping, the ops table; ids, key paths, meta.yaml
 *   file_store_experiments.c  experiments
 *   file_store_runs.c         finding runs, run meta.yaml, run lifecycle and search
 *   file_store_metrics.c      param, tag and metric files; metric text; log_batch
 *   file_store_inputs.c       dataset inputs
 *   file_store_registry.c     the model registry: <root>/models/<name>/
 *   file_store_models.c       MLflow 3 logged models and run outputs
 *   file_store_yaml.c         the YAML subset of meta.yaml
 *
 * Ownership: struct file_store owns its strings, made by mlf_file_store_open
 * and freed by the ops table's close.  Helpers borrow the store and their
 * arguments; strings and structs they fill or return are the caller's, to
 * free with the matching release.  The mlf_fst_* ops follow backend.h.
 */
#ifndef MLF_LIB_TRACKING_FILE_FILE_STORE_INTERNAL_H
#define MLF_LIB_TRACKING_FILE_FILE_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "tracking/tracking_internal.h"

/*
 * The small YAML subset MLflow's file store uses (internal to lib/tracking/).
 *
 * Writing: one block mapping per file, keys sorted as PyYAML's sort_keys
 * does, every string scalar quoted so YAML 1.1's implicit typing can never
 * turn an id such as '0123' or '1e5' into a number on read.  Lines are never
 * folded.
 *
 * Reading: PyYAML writes plain scalars where it can (`name: Default`), so
 * both plain and quoted scalars are accepted; missing keys are the caller's
 * business, as MLflow tolerates them.
 */

enum mlf_fsyaml_type {
	MLF_FSYAML_STR,       /* quoted string; NULL str is written as null */
	MLF_FSYAML_INT,       /* plain integer */
	MLF_FSYAML_NULL,
	MLF_FSYAML_EMPTY_SEQ, /* [] */
	MLF_FSYAML_MAP,       /* mapping of quoted strings, {} when empty */
};

struct mlf_fsyaml_item {
	const char *key;
	int type;                   /* enum mlf_fsyaml_type */
	const char *str;
	int64_t num;
	const struct mlf_kvs *map;
};

/* Emit one mapping document; `items` is sorted in place by key. */
int mlf_fsyaml_emit(struct mlf_fsyaml_item *items, size_t n, struct mlf_buf *out,
		    struct mlf_error *err);

struct mlf_fsyaml_doc {
	yaml_document_t doc;
	int loaded;
};

/*
 * Parse `data` (read from `path`, named in messages).  The document must be
 * a mapping; an empty file is an error too (a torn or truncated meta.yaml).
 */
int mlf_fsyaml_load(const char *path, const char *data, size_t len,
		    struct mlf_fsyaml_doc *d, struct mlf_error *err);
void mlf_fsyaml_free(struct mlf_fsyaml_doc *d);

/*
 * The scalar under `key`: 1 and *out allocated when present, 0 when the key
 * is missing or null, -1 (err filled) when the value is not a scalar.
 */
int mlf_fsyaml_get_str(struct mlf_fsyaml_doc *d, const char *path, const char *key,
		       char **out, struct mlf_error *err);
/* Same for an integer; a non-integer scalar is an error. */
int mlf_fsyaml_get_int(struct mlf_fsyaml_doc *d, const char *path, const char *key,
		       int64_t *out, struct mlf_error *err);


#define MLF_FST_META "meta.yaml"
#define MLF_FST_TRASH ".trash"

struct file_store {
	char *root;              /* absolute folder */
	char *trash;
	char *artifact_root;     /* file:// URI of the root: default experiment artifact roots */
	char *workspace;         /* base for relative artifact locations; NULL = CWD */
	/* The last run looked up: logging loops hit the same run thousands of times. */
	char *cached_run_id;
	char *cached_run_dir;
	char *cached_exp_id;
};

/* ---- names and paths (file_store.c) -------------------------------------- */

/* MLflow's ^[a-zA-Z0-9][\w\-]{0,max-1}$ (ASCII only: these become folder names). */
int mlf_fst_id_ok(const char *id, size_t max);
int mlf_fst_check_experiment_id(const char *id, struct mlf_error *err);
int mlf_fst_check_run_id(const char *id, struct mlf_error *err);
/*
 * Keys become paths under metrics/, params/, tags/.  The dispatcher applies
 * MLflow's rules; this guard keeps a key from ever leaving its folder.
 */
int mlf_fst_check_key_path(const char *what, const char *key, struct mlf_error *err);
/* Folders at the root that are not experiments. */
int mlf_fst_reserved_root_entry(const char *name);
char *mlf_fst_join3(const char *a, const char *b, const char *c);

/* ---- meta.yaml (file_store.c) -------------------------------------------- */

/* Read `dir`/meta.yaml; *path_out (may be NULL) gets its path on success. */
int mlf_fst_load_meta(const char *dir, struct mlf_fsyaml_doc *doc, char **path_out,
		      struct mlf_error *err);
/* Write `dir`/meta.yaml whole, atomically; `items` is sorted in place. */
int mlf_fst_write_meta(const char *dir, struct mlf_fsyaml_item *items, size_t n,
		       struct mlf_error *err);

/* ---- experiments (file_store_experiments.c) ------------------------------ */

/* mkdir the experiment folder (fails if taken) and write its meta.yaml. */
int mlf_fst_make_experiment(struct file_store *fs, const char *id, const char *name,
			    const char *artifact_location, struct mlf_error *err);
int mlf_fst_get_experiment(void *impl, const char *id, struct mlf_experiment *out,
			   struct mlf_error *err);
int mlf_fst_get_experiment_by_name(void *impl, const char *name, struct mlf_experiment *out,
				   struct mlf_error *err);
int mlf_fst_create_experiment(void *impl, const char *name, const char *id,
			      const char *artifact_location, char **id_out,
			      struct mlf_error *err);

/* ---- runs (file_store_runs.c) -------------------------------------------- */

/* Everything MLflow keeps in a run's meta.yaml that we carry over rewrites. */
struct run_meta {
	char *artifact_uri;
	char *experiment_id;
	char *lifecycle_stage;
	char *run_id;
	char *run_name;
	char *user_id;
	int status;
	int64_t start_time;      /* -1 = null */
	int64_t end_time;        /* -1 = null */
	int64_t deleted_time;    /* -1 = null */
};

int mlf_fst_write_run_meta(const char *run_dir, const struct run_meta *m,
			   struct mlf_error *err);

/* A run found and its meta.yaml read. */
struct fst_run {
	char *exp_id;
	char *dir;
	struct run_meta meta;
};

/* On failure *r is left empty (safe to release) and the error names the run. */
int mlf_fst_run_open(struct file_store *fs, const char *run_id, struct fst_run *r,
		     struct mlf_error *err);
void mlf_fst_run_release(struct fst_run *r);
/* MLflow only logs to active runs. */
int mlf_fst_check_active(const struct run_meta *m, struct mlf_error *err);

int mlf_fst_create_run(void *impl, const char *experiment_id, const char *run_name,
		       const char *user_id, int64_t start_time, const struct mlf_kvs *tags,
		       struct mlf_run *out, struct mlf_error *err);
int mlf_fst_update_run(void *impl, const char *run_id, int status, int64_t end_time,
		       struct mlf_error *err);
int mlf_fst_get_run(void *impl, const char *run_id, struct mlf_run *out,
		    struct mlf_error *err);
int mlf_fst_search_runs(void *impl, const char *experiment_id, const char *tag_key,
			const char *tag_value, struct mlf_run_list *out, struct mlf_error *err);
int mlf_fst_delete_run(void *impl, const char *run_id, struct mlf_error *err);

/* ---- params, tags and metrics (file_store_metrics.c) ---------------------- */

/* params/ or tags/: every file below `dir` is one key ('/'-joined path) and its value. */
int mlf_fst_read_kv_tree(const char *dir, struct mlf_kvs *out, struct mlf_error *err);
/* Write a param/tag value file, creating the folders a '/' key needs. */
int mlf_fst_write_value(const char *dir, const char *key, const char *value,
			struct mlf_error *err);
/* The latest value of every metric of the run in `run_dir`, into out->metrics. */
int mlf_fst_latest_metrics(const char *run_dir, struct mlf_run *out, struct mlf_error *err);

int mlf_fst_log_batch(void *impl, const char *run_id, const struct mlf_metric *metrics,
		      size_t nmetrics, const struct mlf_kv *params, size_t nparams,
		      const struct mlf_kv *tags, size_t ntags, struct mlf_error *err);
int mlf_fst_get_metric_history(void *impl, const char *run_id, const char *key,
			       struct mlf_metric **out, size_t *n, struct mlf_error *err);

/* ---- dataset inputs (file_store_inputs.c) -------------------------------- */

int mlf_fst_log_dataset_input(void *impl, const char *run_id, const char *name,
			      const char *digest, const char *source_type, const char *source,
			      const char *context, struct mlf_error *err);

/* ---- model registry (file_store_registry.c) ------------------------------- */

int mlf_fst_ensure_registered_model(void *impl, const char *name, struct mlf_error *err);
int mlf_fst_create_model_version(void *impl, const char *name, const char *source, const char *run_id,
				 const char *model_id, struct mlf_model_version *out, struct mlf_error *err);
int mlf_fst_get_model_version(void *impl, const char *name, const char *version,
			      struct mlf_model_version *out, struct mlf_error *err);
int mlf_fst_set_alias(void *impl, const char *name, const char *alias, const char *version,
		      struct mlf_error *err);
int mlf_fst_list_model_versions(void *impl, const char *name, struct mlf_kvs *out,
				struct mlf_error *err);
int mlf_fst_delete_alias(void *impl, const char *name, const char *alias, struct mlf_error *err);
int mlf_fst_set_model_version_tag(void *impl, const char *name, const char *version, const char *key,
				  const char *value, struct mlf_error *err);
int mlf_fst_get_alias(void *impl, const char *name, const char *alias, struct mlf_model_version *out,
		      struct mlf_error *err);

/* ---- logged models (file_store_models.c) ---------------------------------- */

int mlf_fst_create_logged_model(void *impl, const struct mlf_logged_model_request *req,
				const char *model_id, struct mlf_logged_model *out,
				struct mlf_error *err);
int mlf_fst_get_logged_model(void *impl, const char *model_id, struct mlf_logged_model *out,
			     struct mlf_error *err);
int mlf_fst_finalize_logged_model(void *impl, const char *model_id, int status, struct mlf_error *err);
int mlf_fst_set_logged_model_tag(void *impl, const char *model_id, const char *key, const char *value,
				 struct mlf_error *err);
int mlf_fst_log_model_output(void *impl, const char *run_id, const char *model_id, int64_t step,
			     struct mlf_error *err);
/* The storage location of model_id's version `version` of `name` (*location, new),
 * after listing it in the model's mlflow.modelVersions tag. */
int mlf_fst_model_version_of_model(struct file_store *fs, const char *model_id, const char *name,
				   long version, char **location, struct mlf_error *err);

#endif
