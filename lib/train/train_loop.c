/*
 * The epochs of a training, as 8.4.190's _do_train runs them: scheduler
 * step, batches (warmup, forward, loss, backward, accumulated optimizer
 * step with clipping and EMA), validation of the EMA, results.csv row,
 * early stopping, checkpoints, the caller's per-epoch callback; then the
 * final validation of best.pt and the plots.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/torch/torch.h"
#include "train_internal.h"

static int stop_requested(const struct mlf_train_options *o)
{
	return o->stop && *o->stop;
}

/* One batch: forward, loss, backward, maybe an optimizer step. */
static int train_batch(struct train_ctx *t, int epoch, size_t i, const struct mlf_batch *b, double tl[3],
		       struct mlf_error *err)
{
	if (mlf_recipe_batch_start(&t->recipe, epoch, (int64_t)i, err) < 0)
		return -1;
	struct mlf_yolo_target *tg = train_batch_targets(b);
	struct mlf_yolo_output out;
	struct mlf_yolo_loss_value v;
	size_t mark = mlf_th_scope_open();
	mlf_th *x = train_batch_input(b, t->device);
	/* AMP (CUDA): forward and loss under float16 autocast, as the trainer */
	if (t->amp && mlf_th_autocast_begin(t->device, MLF_DTYPE_F16) < 0) {
		mlf_th_scope_close(mark);
		free(tg);
		return mlf_th_fail(err, "autocast");
	}
	int rc = x ? mlf_yolo_forward(&t->model, x, MLF_YOLO_OUT_LEVELS, &out, err)
		   : mlf_th_fail(err, "training batch");
	if (!rc)
		rc = mlf_yolo_loss_compute(&t->loss, &out, tg, b->ntargets, &v, NULL, err);
	if (t->amp)
		mlf_th_autocast_end(t->device);
	if (!rc && !(isfinite(v.box) && isfinite(v.cls) && isfinite(v.dfl)))
		rc = mlf_fail(err, MLF_EX_SOFTWARE,
			      "the loss is not finite at epoch %d batch %zu (box %g cls %g dfl %g); "
			      "lower lr0 or check the labels", epoch + 1, i + 1, v.box, v.cls, v.dfl);
	/* scaler.scale(loss).backward() */
	mlf_th *scaled = rc || !t->amp ? v.total
				       : mlf_th_binary_s(MLF_TH_MUL, v.total, mlf_recipe_loss_scale(&t->recipe));
	if (!rc && mlf_th_backward(scaled) < 0)
		rc = mlf_th_fail(err, "backward");
	mlf_th_scope_close(mark);
	free(tg);
	if (rc)
		return -1;
	/* tloss = (tloss * i + items) / (i + 1) */
	const double items[3] = { v.box, v.cls, v.dfl };
	for (int k = 0; k < 3; k++)
		tl[k] = i == 0 ? items[k] : (tl[k] * (double)i + items[k]) / (double)(i + 1);
	return mlf_recipe_batch_end(&t->recipe, epoch, (int64_t)i, NULL, err);
}

static int run_epoch_batches(struct train_ctx *t, const struct mlf_train_options *o, int epoch,
			     struct train_progress *p, double tl[3], int *stopped, struct mlf_error *err)
{
	mlf_yolo_model_train(&t->model, 1);
	if (mlf_loader_start_epoch(t->train, epoch, err) < 0)
		return -1;
	p->t0 = train_now();   /* the bar's rate counts from here */
	for (size_t i = 0;; i++) {
		if (stop_requested(o)) {
			*stopped = 1;
			return 0;
		}
		const struct mlf_batch *b;
		int got = mlf_loader_next(t->train, &b, err);
		if (got < 0)
			return -1;
		if (got == 0)
			return 0;
		if (train_batch(t, epoch, i, b, tl, err) < 0)
			return -1;
		train_progress_batch(p, epoch + 1, i, tl[0], tl[1], tl[2], (int)b->ntargets, b->w);
	}
}

static int append_row(struct train_ctx *t, const struct mlf_train_epoch *e, struct mlf_error *err)
{
	struct mlf_buf row = MLF_BUF_INIT;
	if (!mlf_is_file(t->csv_path)) {
		train_csv_header(&row, e->ngroups);
		mlf_buf_addc(&row, '\n');
	}
	train_csv_row(&row, e);
	mlf_buf_addc(&row, '\n');
	int rc = mlf_append_file(t->csv_path, row.data, row.len, err);
	mlf_buf_release(&row);
	return rc;
}

/* EarlyStopping.__call__(epoch, fitness) */
static int stopper(struct train_counters *c, int epoch, double fitness, int patience)
{
	if (fitness > c->stopper_best_fitness || c->stopper_best_fitness == 0) {
		c->stopper_best_epoch = epoch;
		c->stopper_best_fitness = fitness;
	}
	return patience > 0 && epoch - c->stopper_best_epoch >= patience;
}

static int finish_epoch(struct train_ctx *t, const struct mlf_train_options *o, int epoch,
			const double tl[3], double t_epoch, double t_batches, double t_start,
			struct train_progress *p, int *stop, struct mlf_error *err)
{
	struct mlf_train_epoch e = { .epoch = epoch + 1, .epochs = t->args.epochs };
	e.box_loss = tl[0];
	e.cls_loss = tl[1];
	e.dfl_loss = tl[2];
	e.train_seconds = t_batches;
	e.images_per_s = t_batches > 0 ? (double)t->train_ds.n / t_batches : 0;
	e.ngroups = (int)mlf_th_optim_ngroups(t->recipe.optim);
	for (int g = 0; g < e.ngroups && g < MLF_NGROUPS; g++)
		e.lr[g] = mlf_th_optim_lr(t->recipe.optim, (size_t)g);
	/* validate the EMA (args.val is always honoured: the final epoch needs it) */
	if (mlf_ema_apply(&t->recipe.ema, &t->ema_model, err) < 0 ||
	    train_val_run(&t->val, &t->ema_model, &t->loss, &e.val, err) < 0)
		return -1;
	struct train_counters *c = &t->counters;
	double fit = e.val.fitness;
	if (isnan(c->best_fitness) || c->best_fitness < fit) {
		c->best_fitness = fit;
		c->best_epoch = epoch + 1;
	}
	e.is_best = c->best_fitness == fit;
	e.best_fitness = c->best_fitness;
	e.best_epoch = c->best_epoch;
	e.time = train_now() - t_start;
	if (append_row(t, &e, err) < 0)
		return -1;
	*stop = stopper(c, epoch + 1, fit, t->args.patience) || epoch + 1 >= t->args.epochs;
	c->epochs_done = epoch + 1;
	c->last_opt_step = t->recipe.last_opt_step;
	if (train_save(t->base_model, t->save_dir, &t->ema_model, &t->model, &t->recipe, &t->args, c,
		       &e.val, e.is_best, err) < 0)
		return -1;
	e.seconds = train_now() - t_epoch;
	train_history_add(&t->history, &e);
	train_progress_epoch(p, &e);
	if (o->on_epoch && o->on_epoch(&e, o->ctx, err) != 0) {
		if (!err || !err->msg[0])
			mlf_fail(err, MLF_EX_SOFTWARE, "stopped by the epoch callback after epoch %d", e.epoch);
		return -1;
	}
	return 0;
}

/* final_eval: best.pt as written, fused, validated without the loss. */
static int final_eval(struct train_ctx *t, struct mlf_train_result *r, struct mlf_error *err)
{
	struct mlf_ckpt c;
	struct mlf_yolo_model m;
	mlf_ckpt_init(&c);
	mlf_yolo_model_init(&m);
	int rc = mlf_ckpt_read_pt(r->best_pt, &c, err);
	if (!rc)
		rc = mlf_yolo_model_from_ckpt(&m, &c, t->device, err);
	mlf_ckpt_release(&c);
	if (!rc) {
		mlf_yolo_model_set_fused(&m, 1);
		rc = train_val_run(&t->val, &m, NULL, &r->final, err);
	}
	mlf_yolo_model_release(&m);
	if (rc)
		return mlf_error_prefix(err, "validating %s", r->best_pt);
	if (t->args.plots &&
	    train_plots_final(t->save_dir, &t->history, &t->val.last, &t->val.acc,
			      (const char *const *)t->data.classes.names, (int)t->data.classes.n, err) < 0)
		return -1;
	return 0;
}

int mlf_train(const struct mlf_train_options *o, struct mlf_train_result *r, struct mlf_error *err)
{
	double t0 = train_now();
	memset(r, 0, sizeof(*r));
	struct train_ctx t;
	int rc = train_ctx_open(&t, o, err);
	struct train_progress p;
	train_progress_start(&p, o->progress, o->prog, t.args.epochs, t.nb);
	int start = t.counters.epochs_done, stopped = 0, stop = 0;
	if (!rc) {
		snprintf(r->last_pt, sizeof(r->last_pt), "%s/weights/last.pt", t.save_dir);
		snprintf(r->best_pt, sizeof(r->best_pt), "%s/weights/best.pt", t.save_dir);
		if (start >= t.args.epochs)
			train_progress_note(&p, "all %d epochs were trained; finishing with the final "
					    "validation of %s", t.args.epochs, r->best_pt);
		else
			train_progress_note(&p, "%s %d epochs from %s: %zu training images, %zu validation, "
					    "imgsz %d, batch %d, %s",
					    start ? "resuming" : "training", t.args.epochs, t.base_model,
					    t.train_ds.n, t.val.ds.n, t.args.imgsz, t.args.batch, t.save_dir);
		/* a fresh training is resumable before its first epoch ends */
		if (!start)
			rc = train_save(t.base_model, t.save_dir, &t.ema_model, &t.model, &t.recipe, &t.args,
					&t.counters, NULL, 0, err);
	}
	double t_start = train_now();
	for (int epoch = start; !rc && !stop && epoch < t.args.epochs; epoch++) {
		double te = train_now(), tl[3] = { 0, 0, 0 };
		rc = mlf_recipe_epoch_start(&t.recipe, epoch, err);
		if (!rc)
			rc = run_epoch_batches(&t, o, epoch, &p, tl, &stopped, err);
		if (!rc && stopped)
			break;
		if (!rc)
			rc = finish_epoch(&t, o, epoch, tl, te, train_now() - te, t_start, &p, &stop, err);
		if (!rc && stop && epoch + 1 < t.args.epochs)
			r->early_stopped = 1;
	}
	r->epochs_done = t.counters.epochs_done;
	r->best_epoch = t.counters.best_epoch;
	r->best_fitness = t.counters.best_fitness;
	/* a live bar ends its line before any other message */
	if ((rc || stopped) && p.bar_open)
		fputs("\n", stderr);
	if (!rc && stopped) {
		train_progress_note(&p, "stopped during epoch %d; %s holds epoch %d and resumes from there",
				    t.counters.epochs_done + 1, r->last_pt, t.counters.epochs_done);
		rc = MLF_TRAIN_STOPPED;
	} else if (!rc) {
		rc = final_eval(&t, r, err);
	}
	train_ctx_close(&t);
	r->seconds = train_now() - t0;
	return rc;
}
