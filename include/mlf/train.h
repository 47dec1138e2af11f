/*
 * A YOLO detection training as Ultralytics 8.4.190's DetectionTrainer runs
 * one (engine/trainer.py _do_train, validate, save_model, final_eval), in
 * C over the model, loss, recipe, data pipeline and metrics of this
 * library: what retrain-run drives.
 *
 *     struct mlf_train_options o;
 *     mlf_train_options_default(&o);
 *     o.base_model = "base.pt"; o.data_yaml = "data.yaml"; o.save_dir = "runs/train/x";
 *     o.on_epoch = log_to_mlflow; o.ctx = run; o.stop = &got_signal;
 *     struct mlf_train_result r;
 *     rc = mlf_train(&o, &r, &err);
 *
 * What a training leaves in save_dir, as Ultralytics does: args.yaml (every
 * setting), results.csv (Ultralytics' columns, one row per epoch, written
 * as each epoch ends), weights/last.pt (every epoch) and weights/best.pt
 * (when the fitness improves), and with args.plots the PNG plots of
 * mlf/plot.h.  The checkpoints are the base model's .pt with the EMA
 * weights (mlf_ckpt_write_pt: torch.load and ultralytics.YOLO load them)
 * and updated epoch, best_fitness, train_args, train_metrics,
 * train_results and date entries; the optimizer entry is dropped.
 *
 * Resuming: last.pt also carries, as an extra archive record that torch
 * and Ultralytics ignore (MLF_TRAIN_RESUME_RECORD), the exact state of the
 * training at the end of its last finished epoch: the float32 model, EMA
 * and optimizer tensors, step counts, best fitness and settings.
 * Ultralytics keeps that state in the pickle at half precision; ours is
 * exact, so a resumed training continues as if it had never stopped.
 * A last.pt is written before the first epoch too, so a training stopped
 * at any time can be resumed.
 *
 * Stopping: when *stop becomes nonzero (a signal handler sets it), the
 * training stops after the batch in progress and returns MLF_TRAIN_STOPPED;
 * the epoch it was in is not saved (resuming repeats it from its start),
 * last.pt is that of the last finished epoch.  Resuming is done with
 * `resume` = that last.pt: settings, save_dir and base model come from it;
 * results.csv is cut back to the saved epochs and continued.
 *
 * Differences from Ultralytics 8.4.190, by design: no NaN recovery (a
 * non-finite loss fails the training, 70), no OOM batch halving, no
 * timed stopping (args.time), no DDP; the final validation of best.pt
 * runs as in Ultralytics but its plots are ours (labels.png, not .jpg).
 * fitness is 8.4.190's: mAP50-95.
 *
 * Ownership: options are only read; `resume`, `base_model`, `data_yaml`,
 * `save_dir` strings belong to the caller.  A struct mlf_train_result is
 * plain data.  Threads: one training per process at a time (libtorch's
 * thread count is process-wide).
 * Errors: bad settings 64; a base model or dataset that cannot be used 65
 * (66 when missing); the save folder unwritable 73; I/O 74; libtorch 70.
 */
#ifndef MLF_TRAIN_H
#define MLF_TRAIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "mlf/error.h"
#include "mlf/train_recipe.h"

/* The archive record of last.pt that holds the resume state (safetensors). */
#define MLF_TRAIN_RESUME_RECORD "mlf/resume.safetensors"

/* Device "auto", as Ultralytics' select_device(None): CUDA device 0 when
 * libtorch has one, else the CPU. */
#define MLF_TRAIN_DEVICE_AUTO (-3)
int mlf_train_resolve_device(int device);
/* "auto", "cpu" or "cuda:N" -> MLF_TRAIN_DEVICE_AUTO, MLF_TH_CPU or N; -1 otherwise. */
int mlf_train_parse_device(const char *text, int *device);
/* The device as people write it: "cpu", "cuda:0" (after resolving "auto"). */
const char *mlf_train_device_name(int device, char buf[16]);

/* mlf_train's return value when *stop ended it (not an error). */
#define MLF_TRAIN_STOPPED 1

enum mlf_train_progress { MLF_PROGRESS_AUTO, MLF_PROGRESS_BAR, MLF_PROGRESS_LINES, MLF_PROGRESS_NONE };

/* Validation figures: the four logged metrics, fitness, the losses. */
struct mlf_val_summary {
	double precision, recall, map50, map50_95, fitness;
	double box_loss, cls_loss, dfl_loss;   /* NaN when not computed */
	size_t images;
	int64_t instances;
	double seconds;
};

/* What the per-epoch callback is given, as the epoch's results.csv row. */
struct mlf_train_epoch {
	int epoch, epochs;              /* 1-based, as results.csv */
	double time;                    /* seconds since the training (or resume) began */
	double seconds;                 /* this epoch, validation included */
	double train_seconds;           /* its batches alone */
	double images_per_s;            /* training images / train_seconds */
	double box_loss, cls_loss, dfl_loss;  /* train/: running means over the batches */
	struct mlf_val_summary val;
	int ngroups;
	double lr[MLF_NGROUPS];         /* lr/pg0.. at the end of the epoch */
	int is_best;                    /* best.pt was written from this epoch */
	double best_fitness;
	int best_epoch;
};

struct mlf_train_options {
	struct mlf_train_args args;     /* mlf_train_args_default + overrides */
	const char *base_model;         /* .pt: starting weights and checkpoint template */
	const char *data_yaml;
	const char *save_dir;           /* created; must not hold a training unless resuming */
	const char *resume;             /* a last.pt to continue from, or NULL */
	int device;                     /* MLF_TRAIN_DEVICE_AUTO (default), MLF_TH_CPU or a CUDA index */
	int threads;                    /* CPU threads for libtorch; 0: every online core */
	enum mlf_train_progress progress;
	const char *prog;               /* prefix of progress lines ("retrain-run") */
	/* Called after each epoch's row is written; a nonzero return stops the
	 * training as a failure (status 70 unless err is set by the callback). */
	int (*on_epoch)(const struct mlf_train_epoch *e, void *ctx, struct mlf_error *err);
	void *ctx;
	volatile sig_atomic_t *stop;    /* may be NULL */
};

void mlf_train_options_default(struct mlf_train_options *o);

struct mlf_train_result {
	int epochs_done;                /* finished epochs (resumed ones included) */
	int best_epoch;                 /* 1-based; 0 when no epoch was validated */
	double best_fitness;
	int early_stopped;              /* patience ran out */
	struct mlf_val_summary final;   /* best.pt validated again after training (final_eval) */
	double seconds;                 /* wall time of this call */
	char best_pt[4096], last_pt[4096];
};

/* 0 when the training finished, MLF_TRAIN_STOPPED when *stop ended it,
 * -1 on failure. */
int mlf_train(const struct mlf_train_options *o, struct mlf_train_result *r, struct mlf_error *err);

/*
 * Validate a checkpoint on a dataset split as `yolo val` does after training
 * (DetectionValidator: rectangular batches of 2 x batch, conf 0.001, iou 0.7,
 * multi-label NMS, no loss): what retrain-run reports as pre_ metrics for
 * the base model.  `split` is "val" or "train".
 */
int mlf_train_evaluate(const char *model_pt, const char *data_yaml, const char *split,
		       const struct mlf_train_args *args, int device, struct mlf_val_summary *out,
		       struct mlf_error *err);

#endif
