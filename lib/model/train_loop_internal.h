/*
 * The state of one mlf_train call, shared by train_setup.c (which opens it)
 * and train_loop.c (which runs the epochs); not part of the interface.
 * train_ctx owns everything in it; train_ctx_close frees it all, whatever
 * train_ctx_open got to.
 */
#ifndef MLF_TRAIN_LOOP_INTERNAL_H
#define MLF_TRAIN_LOOP_INTERNAL_H

#include "train_internal.h"

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
