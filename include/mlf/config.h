/*
 * mlf/config.h: the workspace, as its configuration describes it: every
 * key and where its value came from, then the model versions (retrained_vN)
 * and the files each one has in the workspace.
 */
/*
 * Configuration: built-in defaults < mlf.yaml < environment < command line.
 *
 * Every key is declared once in lib/config/config_keys.c (name, type, environment
 * variable, default, help); examples/mlf.yaml documents the same keys.
 * Environment variables use MLflow's own names where MLflow has one
 * (MLFLOW_TRACKING_URI, ...), else MLF_<KEY> with dots as underscores.
 *
 * Ownership: struct mlf_config owns every string in it; mlf_config_release()
 * frees them.  Getters return borrowed pointers valid until the next set or
 * release.  Secrets (auth.*) never appear in messages or dumps.
 */
#ifndef MLF_CONFIG_H
#define MLF_CONFIG_H

#include "mlf/base.h"
#include "mlf/tracking.h"

enum mlf_config_type {
	MLF_CFG_STRING,
	MLF_CFG_PATH,    /* a string; relative paths are relative to the workspace */
	MLF_CFG_SECRET,  /* a string never printed */
	MLF_CFG_INT,
	MLF_CFG_FLOAT,
	MLF_CFG_BOOL,
};

struct mlf_config_key {
	const char *name;      /* "http.timeout": YAML section "http", key "timeout" */
	enum mlf_config_type type;
	const char *env;       /* environment variable, or NULL for MLF_<NAME> */
	const char *def;       /* default as text, NULL = unset */
	double min, max;       /* bounds for numbers (ignored when min == max) */
	const char *help;      /* one line for --help and the example file */
};

extern const struct mlf_config_key mlf_config_keys[];
extern const unsigned mlf_config_nkeys;

struct mlf_config {
	char *workspace;     /* absolute */
	char *file;          /* the mlf.yaml read, or NULL when there was none */
	char **values;       /* per key, text form; NULL = unset */
	char **origins;      /* per key: "default", "mlf.yaml:12", "env MLFLOW_TRACKING_URI", "--set" */
};

/*
 * Load: `workspace` NULL = $MLF_WORKSPACE or the CWD; `file` NULL = $MLF_CONFIG
 * or <workspace>/mlf.yaml when it exists (an explicitly named file must
 * exist).  Errors name the key and the file line; status 78.
 */
int mlf_config_load(struct mlf_config *cfg, const char *workspace, const char *file,
		    struct mlf_error *err);
void mlf_config_release(struct mlf_config *cfg);

/* Override one key (command-line flags); the text is checked against the key's type. */
int mlf_config_set(struct mlf_config *cfg, const char *name, const char *value,
		   const char *origin, struct mlf_error *err);
/* "key=value" from --set. */
int mlf_config_set_pair(struct mlf_config *cfg, const char *pair, struct mlf_error *err);

const char *mlf_config_get(const struct mlf_config *cfg, const char *name);
const char *mlf_config_origin(const struct mlf_config *cfg, const char *name);
long mlf_config_int(const struct mlf_config *cfg, const char *name);
double mlf_config_float(const struct mlf_config *cfg, const char *name);
int mlf_config_bool(const struct mlf_config *cfg, const char *name);
/* A PATH key made absolute against the workspace (allocated); NULL when unset. */
char *mlf_config_path(const struct mlf_config *cfg, const char *name);

/* Parse a boolean as MLflow does: true/false/1/0, any case; -1 otherwise. */
int mlf_parse_bool(const char *s);

/*
 * Fill tracking options from the configuration.  The strings stay owned by
 * `cfg`, so `cfg` must outlive `opts`.
 */
int mlf_config_tracking_options(const struct mlf_config *cfg, struct mlf_tracking_options *opts,
				struct mlf_error *err);

/* The artifact location the experiment must have (allocated): artifact_location, or
 * for local stores the file: URI of <workspace>/<paths.runs>/mlflow/<experiment_id>;
 * NULL when nothing is expected (a server chooses). */
char *mlf_config_expected_artifact_location(const struct mlf_config *cfg);

/*
 * The registered model versions go to (allocated): registered_model when
 * set; else the name of the experiment the runs go to, each character a
 * model name cannot hold ('/', ':', '\\', a leading '.') made '-', so that
 * two experiments on one server never share a model and its champion.
 */
char *mlf_config_registered_model(const struct mlf_config *cfg, const char *experiment_name);

/*
 * Model versions in a workspace: where retrained_vN lives.
 *
 * Version N of the model is trained from dataset version data/retrain_vN/
 * and is found at (paths.models = models/, paths.runs = runs/ by default):
 *
 *   models/retrained_vN.pt                 the model (published last, only by a finished run)
 *   models/retrained_vN_metadata.json      what it is and where it came from
 *   models/retrained_vN.safetensors        the same weights for other consumers
 *   runs/train/retrained_vN.pt             quick-access copy (+ _metadata.json)
 *   runs/train/retrain_vN/                 the training folder: weights/best.pt, last.pt,
 *                                          args.yaml, results.csv, plots, mlf_run.json
 *
 * and its run keeps its artifacts where the Python system this toolchain
 * replaces put them, so that queries and scripts written for it find them:
 *
 *   models/retrained_vN.pt (+ _metadata.json, .safetensors)
 *   retraining_dataset/    data.yaml, corrections_applied.json, retraining_dataset_metadata.json
 *   config/args.yaml       the training settings
 *   plots/                 every figure of the training folder, and results.csv behind them
 *
 * Ownership: every string in struct mlf_version_paths is allocated and
 * freed by mlf_version_paths_release(); the configuration is borrowed.
 */

struct mlf_version_paths {
	long n;
	char *name;            /* "retrained_vN" */
	char *models_dir;      /* paths.models, absolute */
	char *model_pt;        /* models/retrained_vN.pt */
	char *metadata;        /* models/retrained_vN_metadata.json */
	char *safetensors;     /* models/retrained_vN.safetensors */
	char *train_root;      /* runs/train */
	char *quick_pt;        /* runs/train/retrained_vN.pt */
	char *quick_metadata;  /* runs/train/retrained_vN_metadata.json */
	char *train_dir;       /* runs/train/retrain_vN */
	char *best_pt;         /* runs/train/retrain_vN/weights/best.pt */
	char *last_pt;         /* runs/train/retrain_vN/weights/last.pt */
	char *state;           /* runs/train/retrain_vN/mlf_run.json: the run this folder belongs to */
	char *lock;            /* runs/train/.retrain-run.lock: one retrain-run per workspace */
	char *art_model;       /* the run's artifact models/retrained_vN.pt */
	char *art_metadata;    /* models/retrained_vN_metadata.json */
	char *art_safetensors; /* models/retrained_vN.safetensors */
};

#define MLF_ART_MODELS "models"
#define MLF_ART_DATASET "retraining_dataset"
#define MLF_ART_CONFIG "config"
#define MLF_ART_PLOTS "plots"
#define MLF_ART_ARGS MLF_ART_CONFIG "/args.yaml"
#define MLF_ART_RESULTS MLF_ART_PLOTS "/results.csv"
#define MLF_ART_RESULTS_PNG MLF_ART_PLOTS "/results.png"

void mlf_version_paths_init(struct mlf_version_paths *p, const struct mlf_config *cfg, long n);
void mlf_version_paths_release(struct mlf_version_paths *p);

/* "3", "v3", "retrain_v3", "retrained_v3" -> 3.  -1 with status 64 otherwise. */
int mlf_version_parse(const char *text, long *n, struct mlf_error *err);

/* The highest N with models/retrained_vN.pt, 0 when there is none. */
long mlf_version_latest(const struct mlf_config *cfg);

/* mlf_version_parse, or "latest" = mlf_version_latest (66 when there is none yet). */
int mlf_version_resolve(const struct mlf_config *cfg, const char *text, long *n, struct mlf_error *err);

#endif
