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
#ifndef MLF_TRAIN_RECIPE_H
#define MLF_TRAIN_RECIPE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mlf/buf.h"
#include "mlf/error.h"
#include "mlf/torch.h"
#include "mlf/yolo_model.h"

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

#endif
