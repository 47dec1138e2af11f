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
 * Ownership: every string in struct mlf_version_paths is allocated and
 * freed by mlf_version_paths_release(); the configuration is borrowed.
 */
#ifndef MLF_VERSIONS_H
#define MLF_VERSIONS_H

#include "mlf/config.h"
#include "mlf/error.h"

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
};

void mlf_version_paths_init(struct mlf_version_paths *p, const struct mlf_config *cfg, long n);
void mlf_version_paths_release(struct mlf_version_paths *p);

/* "3", "v3", "retrain_v3", "retrained_v3" -> 3.  -1 with status 64 otherwise. */
int mlf_version_parse(const char *text, long *n, struct mlf_error *err);

/* The highest N with models/retrained_vN.pt, 0 when there is none. */
long mlf_version_latest(const struct mlf_config *cfg);

/* mlf_version_parse, or "latest" = mlf_version_latest (66 when there is none yet). */
int mlf_version_resolve(const struct mlf_config *cfg, const char *text, long *n, struct mlf_error *err);

#endif
