/*
 * A retraining, end to end and recorded in MLflow: what retrain-run does.
 *
 * From a dataset document (retrain-prep's output, version N), in order:
 * open the exact experiment; start a tagged run "retrained_vN"; log every
 * training setting as a param; log the dataset files as artifacts (and as a
 * run input where the store has them); evaluate the base model on the new
 * validation split (pre_ metrics); train, logging each epoch as it ends;
 * log the final validation (val_ metrics); store the model in the training
 * folder with its metadata and safetensors; log model, plots and settings
 * as artifacts; register a model version (alias challenger, champion by the
 * promotion rule); check every uploaded artifact; publish the model under
 * models/; end the run FINISHED.  See mlf/config.h for the files and
 * retrain-run(1) for the run document.
 *
 * Failure: once the run exists, any error ends it FAILED with the reason
 * in the tag mlf.failure_reason, and models/ is left without a trace of
 * the version; *stop ends it KILLED after the batch in progress, last.pt
 * kept.  Either way runs/train/retrain_vN/mlf_run.json records where it
 * stood, and `resume` continues the same MLflow run from there.  A store
 * that stops answering mid-run: per-epoch metrics are kept and retried;
 * if it is still gone at the end, the run is recorded FAILED locally
 * (mlf_run.json, with what is still to be logged) and resuming retries.
 *
 * Only one retrain-run works in a workspace at a time (a lock in
 * runs/train/); another waits for it, or fails with status 75 (no_wait).
 *
 * Ownership: options and everything they point to are borrowed for the
 * call; *doc is a new reference for the caller, filled on success and on
 * failures after the options were understood (a run document with
 * "success": false).
 */
#ifndef MLF_TORCH_RETRAIN_H
#define MLF_TORCH_RETRAIN_H

#include <jansson.h>
#include <signal.h>
#include <stdio.h>

#include "mlf/config.h"
#include "mlf/base.h"
#include "mlf/tracking.h"

enum mlf_promote { MLF_PROMOTE_IF_BETTER, MLF_PROMOTE_ALWAYS, MLF_PROMOTE_NEVER };

/* "always" | "if-better" | "never"; -1 otherwise. */
int mlf_promote_parse(const char *text, enum mlf_promote *out);

struct mlf_retrain_options {
	const struct mlf_config *cfg;   /* train.*, registry.*, run.tags, paths, tracking */
	const json_t *dataset;          /* the dataset document (kind "mlf.dataset"); NULL when resuming */
	long resume;                    /* > 0: continue version N's run */
	int restart;                    /* version N's folder holds an unfinished run: start over */
	int no_wait;                    /* the workspace lock is held: fail with 75 instead of waiting */
	const struct mlf_kvs *tags;     /* extra tags (after run.tags), may be NULL */
	int threads;                    /* CPU threads for libtorch; 0 = every core */
	int quiet;                      /* no step lines on stderr (training progress aside) */
	const char *prog;               /* "retrain-run" */
	volatile sig_atomic_t *stop;    /* set by a signal handler; may be NULL */
	int lock_fd;                    /* > 0: the workspace lock, already held on this fd (handed
					   over: mlf_retrain releases it) */
};

/* 0 on success; -1 with err filled (a status of enum mlf_status, mlf/base.h;
 * 130 when stopped). */
int mlf_retrain(const struct mlf_retrain_options *o, json_t **doc, struct mlf_error *err);

/*
 * Close this workspace's own runs left RUNNING by a process that died
 * (kill -9, a crash): runs of the configured experiment tagged
 * mlf.tool=retrain-run with this host and workspace, while no retrain-run
 * holds the workspace lock.  Each is ended FAILED with the reason tagged,
 * its mlf_run.json updated, and any models/ file it published removed.
 * *doc lists what was closed.  no_wait as above.
 */
int mlf_retrain_sweep(const struct mlf_config *cfg, int no_wait, json_t **doc, struct mlf_error *err);

/*
 * The dataset document of an existing version folder (data/retrain_vN),
 * as retrain-prep printed it, rebuilt from the files in it: for
 * `retrain-run --dataset DIR`.  A new reference, or NULL with err (65/66).
 */
json_t *mlf_retrain_dataset_document(const char *dir, struct mlf_error *err);

/*
 * A skip document (retrain-prep found nothing new since version N) over a
 * version N that was never trained to the end: its run never started,
 * failed, was stopped, or died RUNNING.  Returns N (0 when the skip
 * stands), with *resume set when N's run is to be resumed rather than
 * started, and *why a static phrase for the message.  The nightly job
 * then finishes N instead of passing the skip on, so a failed night is
 * retried by the next one rather than forgotten.  The caller holds the
 * workspace lock, which is what makes a RUNNING state a dead one.
 */
long mlf_retrain_unfinished_previous(const struct mlf_config *cfg, const json_t *skip, int *resume,
				     const char **why);

/* The highest N whose runs/train/retrain_vN/mlf_run.json is not FINISHED; 0 if none. */
long mlf_retrain_latest_unfinished(const struct mlf_config *cfg);

/* What retrain-run's command line asks for; at most one of the three is set. */
struct mlf_retrain_request {
	const char *dataset;    /* --dataset DIR: that version folder's document */
	const char *resume;     /* --resume N|vN|latest ("latest": mlf_retrain_latest_unfinished) */
	int sweep;              /* --sweep: mlf_retrain_sweep */
	FILE *in;               /* none of them: the dataset document is read from here */
};

/*
 * Do what `r` asks, with `o` for everything else (its dataset and resume
 * are filled here).  A skip document is passed on as *doc, unless the
 * version before it never finished (mlf_retrain_unfinished_previous): that
 * one is trained or resumed instead.  Statuses as mlf_retrain; 64 when
 * there is no document and `in` is a terminal.
 */
int mlf_retrain_request(const struct mlf_retrain_request *r, struct mlf_retrain_options *o,
			json_t **doc, struct mlf_error *err);

#endif
