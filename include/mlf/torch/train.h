/*
 * mlf/torch/train.h: training a detector as Ultralytics 8.4.190 does.
 * Sections: the recipe that does not touch data (arguments, optimizer,
 * schedule, EMA); then the training itself (mlf_train).  Needs
 * libmlf_torch.a.
 */
/*
 * The training recipe of Ultralytics 8.4.190 that does not touch data:
 * the training arguments (args.yaml), the optimizer and its parameter
 * groups, nominal batch size and gradient accumulation, the learning-rate
 * schedule with warmup, gradient clipping, and the EMA of the weights.
 * Behaviour follows engine/trainer.py (_build_train_pipeline,
 * build_optimizer, _setup_scheduler, _get_warmup_iterations, _do_train,
 * optimizer_step) and utils/torch_utils.py (ModelEMA, one_cycle).
 *
 * A training loop uses it so:
 *
 *     mlf_recipe_plan(&args, dataset_size, nc, nb, &plan, err);
 *     mlf_recipe_init(&r, model, &plan, err);          // optimizer + EMA
 *     for (epoch...) {
 *         mlf_recipe_epoch_start(&r, epoch);           // scheduler.step()
 *         for (i...) {
 *             mlf_recipe_batch_start(&r, epoch, i);    // warmup
 *             forward, loss, backward
 *             mlf_recipe_batch_end(&r, epoch, i, &stepped, err);  // clip, step, zero_grad, EMA
 *         }
 *     }
 *     mlf_ema_apply(&r.ema, model, err);              // EMA weights for val/save
 *
 * Ownership: struct mlf_train_args is plain data (fixed-size strings).  A
 * struct mlf_train_recipe owns its optimizer and its EMA (caller-owned shim
 * handles, freed by mlf_recipe_release); it refers to the model it was made
 * for, which must outlive it.  Errors: 64 for bad arguments or unsupported
 * settings, 70 for a failure inside libtorch.
 */
#ifndef MLF_TORCH_TRAIN_H
#define MLF_TORCH_TRAIN_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "mlf/base.h"
#include "mlf/torch/model.h"
#include "mlf/torch/torch.h"

/* ---- training arguments (cfg/default.yaml of 8.4.190) ----------------- */

#define MLF_ARG_STR 256
#define MLF_ARG_PATH 4096

/* Every setting a detection training reads, with Ultralytics' default.
 * Nullable settings: floats are NaN, ints MLF_ARG_NULL_INT, strings "" when
 * null.  The other keys of default.yaml (predict/export/other tasks) are
 * written to args.yaml with their defaults and cannot be overridden. */
#define MLF_ARG_NULL_INT INT32_MIN
struct mlf_train_args {
	char task[MLF_ARG_STR], mode[MLF_ARG_STR];
	char model[MLF_ARG_PATH], data[MLF_ARG_PATH];
	int epochs;
	double time;                  /* null */
	int patience, batch, imgsz;
	int save, save_period, cache;
	char device[MLF_ARG_STR];     /* null */
	int workers;
	char project[MLF_ARG_PATH], name[MLF_ARG_STR]; /* null */
	int exist_ok, pretrained, cls_remap;
	char optimizer[MLF_ARG_STR];  /* "auto" */
	int verbose, seed, deterministic, single_cls, rect, cos_lr, close_mosaic, resume, amp;
	double fraction;
	int profile, freeze;          /* freeze: null */
	double multi_scale;
	int compile, val;
	char split[MLF_ARG_STR];
	int save_json;
	double conf;                  /* null */
	double iou;
	int max_det, plots;
	double lr0, lrf, momentum, weight_decay, warmup_epochs, warmup_momentum, warmup_bias_lr;
	double box, cls, cls_pw, dfl;
	int nbs;
	double hsv_h, hsv_s, hsv_v, degrees, translate, scale, shear, perspective;
	double flipud, fliplr, bgr, mosaic, mixup, cutmix, copy_paste;
	char copy_paste_mode[MLF_ARG_STR];
	char save_dir[MLF_ARG_PATH];  /* written last when set, as the trainer adds it */
};

void mlf_train_args_default(struct mlf_train_args *a);
/* Applies the keys of a JSON object.  An unknown key, a key mlf does not
 * support, a value of the wrong type or a string too long fails (64) naming
 * the key; `a` is then partly updated. */
int mlf_train_args_override(struct mlf_train_args *a, const json_t *obj, struct mlf_error *err);
/* Appends args.yaml as the trainer writes it (YAML.save(vars(args))): every
 * key of default.yaml in its order, PyYAML's scalar forms (true, null,
 * 1.0e-05), then save_dir when set. */
int mlf_train_args_yaml(const struct mlf_train_args *a, struct mlf_buf *out, struct mlf_error *err);
/* The settings mlf uses as a JSON object (what a checkpoint's train_args and
 * the resume state keep; mlf_train_args_override reads it back): every
 * key except default.yaml's fixed ones, nulls as null.  A new reference. */
json_t *mlf_train_args_json(const struct mlf_train_args *a);
/* Python's round(x) (halves to even) and round(x, 6): the recipe's rounding. */
double mlf_py_round(double x);
double mlf_py_round6(double x);

/* ---- plan: what _build_train_pipeline and build_optimizer decide ------- */

enum mlf_recipe_group { MLF_GROUP_WEIGHT, MLF_GROUP_BN, MLF_GROUP_BIAS, MLF_NGROUPS };

struct mlf_recipe_plan {
	enum mlf_th_optim_kind kind;
	char optimizer[16];           /* "SGD", "Adam", "AdamW" (args.optimizer after auto) */
	double lr;                    /* initial_lr of every group (args.lr0 after auto) */
	double momentum;              /* SGD momentum / Adam beta1 at construction */
	double warmup_momentum, final_momentum; /* warmup moves SGD momentum between these */
	double warmup_bias_lr;        /* 0 when auto chose */
	double weight_decay;          /* scaled, for the weight group */
	double lrf;
	int cos_lr;
	int epochs;
	int64_t nb;                   /* batches per epoch */
	int64_t iterations;           /* ceil(dataset / max(batch, nbs)) * epochs */
	int accumulate;               /* nominal, capped at nb * epochs */
	int64_t nw;                   /* warmup iterations (0: none) */
	double nbs_over_batch;
};

/* dataset_size images, nc classes, nb batches per epoch (len(train_loader)).
 * args.optimizer "auto" chooses as 8.4.190 does; its MuSGD (chosen by auto
 * beyond 10000 iterations) and Adamax/NAdam/RAdam/RMSprop are refused. */
int mlf_recipe_plan(const struct mlf_train_args *a, int64_t dataset_size, int nc, int64_t nb,
		    struct mlf_recipe_plan *p, struct mlf_error *err);
/* lf(epoch): linear max(1 - e/epochs, 0) * (1 - lrf) + lrf, or one_cycle(1, lrf). */
double mlf_recipe_lf(const struct mlf_recipe_plan *p, double epoch);
/* The group of state_dict entry i (-1 for buffers): bias when the name holds
 * "bias", BN when it is the weight of a BatchNorm (has running stats), else
 * weight (decayed). */
int mlf_recipe_group_of(const struct mlf_yolo_arch *arch, size_t i);

/* ---- EMA (ModelEMA) --------------------------------------------------- */

struct mlf_ema {
	mlf_th **tensors;             /* copies of every state_dict entry */
	size_t ntensors;
	int64_t updates;
	double decay, tau;            /* 0.9999, 2000 */
};

void mlf_ema_init(struct mlf_ema *e);
void mlf_ema_release(struct mlf_ema *e);
/* Copies the model's state now (ModelEMA(model)). */
int mlf_ema_create(struct mlf_ema *e, const struct mlf_yolo_model *m, struct mlf_error *err);
/* updates += 1; d = decay * (1 - exp(-updates / tau)); every floating entry
 * lerps toward the model's by 1 - d; integer entries are left alone. */
int mlf_ema_update(struct mlf_ema *e, const struct mlf_yolo_model *m, struct mlf_error *err);
/* Copies the EMA's state into the model (for validation and saving). */
int mlf_ema_apply(const struct mlf_ema *e, struct mlf_yolo_model *m, struct mlf_error *err);

/* ---- the recipe at run time ------------------------------------------- */

struct mlf_train_recipe {
	struct mlf_recipe_plan plan;
	struct mlf_yolo_model *model;
	mlf_th_optim *optim;
	int group_index[MLF_NGROUPS];  /* optimizer group of each kind (-1 when empty) */
	double momentum[MLF_NGROUPS];  /* current SGD momentum / Adam beta1 */
	int accumulate;                /* current (ramped during warmup) */
	int64_t last_opt_step;
	double max_norm;               /* 10 */
	double last_grad_norm;
	struct mlf_ema ema;
	/* torch.amp.GradScaler for float16 training (0: off): the loss is
	 * backpropagated times `scale`; batch_end unscales, skips a step whose
	 * gradients are not finite (halving the scale) and doubles the scale
	 * after 2000 steps in a row without one. */
	double scale;
	int growth_tracker;
	int64_t skipped_steps;
};

void mlf_recipe_init_empty(struct mlf_train_recipe *r);
/* Builds the optimizer over the model's parameters (groups weight, bn, bias
 * in that order, as 8.4.190) and the EMA. */
int mlf_recipe_init(struct mlf_train_recipe *r, struct mlf_yolo_model *m,
		    const struct mlf_recipe_plan *p, struct mlf_error *err);
void mlf_recipe_release(struct mlf_train_recipe *r);
/* scheduler.step() at the start of an epoch: lr = initial_lr * lf(epoch). */
int mlf_recipe_epoch_start(struct mlf_train_recipe *r, int epoch, struct mlf_error *err);
/* Warmup before batch i of the epoch (ni = i + nb * epoch <= nw). */
int mlf_recipe_batch_start(struct mlf_train_recipe *r, int epoch, int64_t i, struct mlf_error *err);
/* After backward of batch i: when ni - last_opt_step >= accumulate, clips
 * the gradients (already unscaled) to norm 10, steps, zeroes the gradients
 * and updates the EMA; *stepped (may be NULL) says whether it did. */
int mlf_recipe_batch_end(struct mlf_train_recipe *r, int epoch, int64_t i, int *stepped,
			 struct mlf_error *err);
/* Turns the loss scaler on (initial scale 2^16, as GradScaler). */
void mlf_recipe_enable_scaler(struct mlf_train_recipe *r);
/* What the loss is multiplied by before backward: the scale, or 1 when off. */
double mlf_recipe_loss_scale(const struct mlf_train_recipe *r);
/* Current lr and momentum (Adam: beta1) of a group kind; NaN when empty. */
double mlf_recipe_lr(const struct mlf_train_recipe *r, enum mlf_recipe_group g);
double mlf_recipe_momentum(const struct mlf_train_recipe *r, enum mlf_recipe_group g);

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
	int resume_done;                /* a last.pt whose epochs are all done goes on to the final
					   validation (what a crash after the last epoch cut short);
					   0: it is refused (64), there is nothing to resume */
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
