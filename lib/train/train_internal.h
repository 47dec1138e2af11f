/*
 * The pieces of a training (mlf/torch/train.h) shared between lib/train/train_*.c;
 * not part of the library's interface.
 */
#ifndef MLF_LIB_TRAIN_TRAIN_INTERNAL_H
#define MLF_LIB_TRAIN_TRAIN_INTERNAL_H

#include <stdio.h>

#include "mlf/base.h"
#include "mlf/ckpt.h"
#include "mlf/data.h"
#include "mlf/metrics.h"
#include "mlf/torch/model.h"
#include "mlf/torch/train.h"

/* ---- validation (train_val.c) ---- */

/* A validation split with its loader and the metrics accumulated over it.
 * Owns everything; train_val_close frees it. */
struct train_val {
	struct mlf_dataset ds;
	struct mlf_loader *loader;
	struct mlf_det_metrics acc;
	struct mlf_det_metrics_result last;  /* the latest result (curves for the plots) */
	struct mlf_nms_options nms;
	int have_last;
};

/* `list` scanned with nc classes; batches of `batch` images (the trainer
 * passes 2 x its batch), rectangular, `threads` loader threads. */
int train_val_open(struct train_val *v, const struct mlf_image_list *list, int nc,
		   const struct mlf_train_args *a, int batch, int stride, int threads,
		   struct mlf_error *err);
/* One pass over the split with `m` in eval mode (its mode is restored):
 * NMS, matching, metrics into `s`; the losses too when `loss` is given. */
int train_val_run(struct train_val *v, struct mlf_yolo_model *m, const struct mlf_yolo_loss *loss,
		  struct mlf_val_summary *s, struct mlf_error *err);
void train_val_close(struct train_val *v);

/* A loader batch as the model's input: [n, 3, h, w] float32 / 255. */
mlf_th *train_batch_input(const struct mlf_batch *b, int device);
/* The batch's targets in the loss's layout (malloc'd, n may be 0: non-NULL). */
struct mlf_yolo_target *train_batch_targets(const struct mlf_batch *b);

/* ---- results.csv and progress (train_report.c) ---- */

/* The rows of results.csv a training has written (what results.png plots). */
struct train_history {
	struct mlf_train_epoch *rows;
	size_t n, cap;
};

/* The results.csv header line (no newline) and one row, "%.6g" as Ultralytics. */
void train_csv_header(struct mlf_buf *out, int ngroups);
void train_csv_row(struct mlf_buf *out, const struct mlf_train_epoch *e);
/* A resumed training's results.csv: the header and the rows of its saved
 * epochs are kept (later rows, of the interrupted epoch, are cut) and read
 * back into `h`. */
int train_csv_resume(const char *path, int epochs, struct train_history *h, struct mlf_error *err);

struct train_progress {
	enum mlf_train_progress mode;   /* BAR, LINES or NONE after start */
	const char *prog;
	int epochs;
	size_t nb;
	double t0;                      /* start of the epoch's batches */
	int bar_open;                   /* a bar line is on the terminal, unfinished */
};
void train_progress_start(struct train_progress *p, enum mlf_train_progress mode, const char *prog,
			  int epochs, size_t nb);
void train_progress_batch(struct train_progress *p, int epoch, size_t i, double box, double cls,
			  double dfl, int ninst, int imgsz);
void train_progress_epoch(struct train_progress *p, const struct mlf_train_epoch *e);
void train_progress_note(struct train_progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void train_history_add(struct train_history *h, const struct mlf_train_epoch *e);
/* Plots at the end of a training: results.png from the rows, the curves
 * and confusion matrices of the final validation. */
int train_plots_final(const char *save_dir, const struct train_history *h,
		      const struct mlf_det_metrics_result *r, const struct mlf_det_metrics *acc,
		      const char *const *names, int nc, struct mlf_error *err);
int train_plot_labels(const char *save_dir, const struct mlf_dataset *ds,
		      const char *const *names, int nc, struct mlf_error *err);

/* ---- checkpoints and the resume state (train_state.c) ---- */

/* What a resumed training needs besides the tensors. */
struct train_counters {
	int epochs_done;                /* finished epochs */
	double best_fitness;            /* NaN before the first validation */
	int best_epoch;
	int64_t last_opt_step;
	int stopper_best_epoch;
	double stopper_best_fitness;
};

/* Write last.pt (and best.pt when `best`) from the EMA in `ema_model`, with
 * the resume state of `model` / recipe / counters embedded in last.pt. */
int train_save(const char *template_pt, const char *save_dir, struct mlf_yolo_model *ema_model,
	       const struct mlf_yolo_model *model, const struct mlf_train_recipe *r,
	       const struct mlf_train_args *a, const struct train_counters *c,
	       const struct mlf_val_summary *metrics, int best, struct mlf_error *err);
/* Read the resume record of `last_pt`: args (as saved) and counters; the
 * tensors go to `state` (an initialised checkpoint) to be applied by
 * train_state_apply once the model and recipe exist. */
int train_state_read(const char *last_pt, struct mlf_train_args *a, struct train_counters *c,
		     char **base_model, char **data_yaml, struct mlf_ckpt *state,
		     struct mlf_error *err);
int train_state_apply(const struct mlf_ckpt *state, struct mlf_yolo_model *model,
		      struct mlf_train_recipe *r, struct mlf_error *err);

/* Monotonic seconds. */
double train_now(void);

/*
 * The state of one mlf_train call, shared by train_setup.c (which opens it)
 * and train_loop.c (which runs the epochs); not part of the interface.
 * train_ctx owns everything in it; train_ctx_close frees it all, whatever
 * train_ctx_open got to.
 */

struct train_ctx {
	struct mlf_train_args args;
	char *base_model, *data_yaml, *save_dir, *csv_path;
	int device;
	int resuming;
	int amp;                            /* float16 autocast + loss scaling (CUDA) */
	struct mlf_data_yaml data;
	int have_data;
	struct mlf_yolo_model model;        /* trained */
	struct mlf_yolo_model ema_model;    /* holds the EMA for validation and saving */
	struct mlf_dataset train_ds;
	struct mlf_loader *train;
	size_t nb;                          /* batches per epoch */
	struct train_val val;
	int have_val;
	struct mlf_recipe_plan plan;
	struct mlf_train_recipe recipe;
	struct mlf_yolo_loss loss;
	int have_loss;
	struct train_counters counters;
	struct mlf_ckpt resume_state;       /* read before the model exists, applied after */
	struct train_history history;       /* every epoch's row, resumed ones read back, for results.png */
};

int train_ctx_open(struct train_ctx *t, const struct mlf_train_options *o, struct mlf_error *err);
void train_ctx_close(struct train_ctx *t);

#endif
