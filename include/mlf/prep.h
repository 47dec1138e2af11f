/*
 * Building an immutable dataset version (retrain-prep's library part).
 *
 * From the corrections folder and the base data.yaml, build
 * <data_dir>/retrain_vN/ atomically (under a temporary name, renamed when
 * complete), with N reserved under a lock so concurrent runs never share a
 * number or mix a folder.  See retrain-prep(1) for the layout.
 *
 * Ownership: options are borrowed; *doc is a new JSON reference for the
 * caller (the dataset document, or a skip document when there are too few
 * new corrections); *problems is filled and owned by the caller.
 */
#ifndef MLF_PREP_H
#define MLF_PREP_H

#include <jansson.h>
#include <stdio.h>

#include "mlf/base.h"
#include "mlf/config.h"

enum mlf_base_mode {
	MLF_BASE_REFERENCE = 0,  /* listed by absolute path in train.txt/val.txt (default) */
	MLF_BASE_LINK,           /* hard-linked into the version (copied across devices) */
	MLF_BASE_COPY,           /* copied into the version */
};

struct mlf_prep_options {
	const char *corrections_dir;
	const char *base_data;        /* base data.yaml (required: class names, and no forgetting) */
	const char *data_dir;         /* where retrain_vN/ are created */
	long min_corrections;         /* new corrections needed; fewer -> skip document */
	double val_fraction;          /* share of corrected images in val, by content hash */
	const char *holdout;          /* file of image sha256s or file names always in val; NULL */
	long seed;                    /* salts the split hash */
	int skip_bad;                 /* leave bad corrections out instead of stopping */
	enum mlf_base_mode base_mode;
	int no_wait;                  /* lock held by another run: exit 75 instead of waiting */
	const char *prog;             /* program name for progress lines */
};

/*
 * 0: *doc is the dataset or skip document.  -1: err filled; when the inputs
 * were bad, `problems` lists every one (status 65) and nothing was written.
 */
int mlf_prep_run(const struct mlf_prep_options *opts, json_t **doc,
		 struct mlf_problems *problems, struct mlf_error *err);

/*
 * The options the configuration gives (paths.corrections, prep.base_data,
 * paths.data, checks.min_corrections, prep.val_fraction, prep.seed,
 * prep.base_mode); the rest stay zero.  Here the three paths are allocated,
 * and mlf_prep_options_release() frees them.  -1 with err (78) for a bad
 * prep.base_mode.
 */
int mlf_prep_options_from_config(struct mlf_prep_options *o, const struct mlf_config *cfg,
				 struct mlf_error *err);
void mlf_prep_options_release(struct mlf_prep_options *o);
/*
 * The digest of the dataset version in `dir` (its hex, without "sha256:"),
 * recomputed from its files and the base files it lists, as retrain-prep
 * computed it when it wrote the version: equal unless something changed.
 */
int mlf_prep_digest(const char *dir, char out[65], struct mlf_error *err);
/*
 * Check the corrections under `dir` alone, each as a version would check it (the
 * reader, the image probed and hashed, the boxes against its size), writing
 * nothing: *count usable ones, every problem in `problems`.  0 when the check
 * ran (problems or not), -1 with err when it could not (no base dataset, ...).
 */
int mlf_prep_check_dir(const struct mlf_prep_options *opts, const char *dir, size_t *count,
		       struct mlf_problems *problems, struct mlf_error *err);
/*
 * What retrain-prep would find now, writing nothing: {"kind":
 * "mlf.corrections_status", "corrections", "new_corrections" (not in the
 * previous version), "min_corrections", "ready", "previous_version", "problems"}.
 */
int mlf_prep_status(const struct mlf_prep_options *opts, json_t **doc, struct mlf_error *err);
/* The summary of a dataset or skip document, for people. */
void mlf_prep_summary(json_t *doc, FILE *out);

#endif
