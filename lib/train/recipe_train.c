/*
 * The recipe at run time, as 8.4.190's _do_train and optimizer_step: the
 * LambdaLR step per epoch, warmup per batch, accumulation, clipping at norm
 * 10, step, zero_grad, EMA update.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/torch/train.h"

static int shim_fail(struct mlf_error *err, const char *what)
{
	return mlf_fail(err, 70, "%s: %s", what, mlf_th_error());
}

void mlf_recipe_init_empty(struct mlf_train_recipe *r)
{
	memset(r, 0, sizeof(*r));
	for (int g = 0; g < MLF_NGROUPS; g++)
		r->group_index[g] = -1;
	r->last_opt_step = -1;
	r->max_norm = 10.0;
	mlf_ema_init(&r->ema);
}

void mlf_recipe_release(struct mlf_train_recipe *r)
{
	mlf_th_optim_free(r->optim);
	mlf_ema_release(&r->ema);
	mlf_recipe_init_empty(r);
}

int mlf_recipe_init(struct mlf_train_recipe *r, struct mlf_yolo_model *m,
		    const struct mlf_recipe_plan *p, struct mlf_error *err)
{
	mlf_recipe_init_empty(r);
	r->plan = *p;
	r->model = m;
	r->accumulate = p->accumulate;
	r->optim = mlf_th_optim_new(p->kind);
	if (!r->optim)
		return shim_fail(err, "optimizer");
	mlf_th **members = mlf_xcalloc(m->ntensors ? m->ntensors : 1, sizeof(*members));
	for (int g = 0; g < MLF_NGROUPS; g++) {
		size_t n = 0;
		for (size_t i = 0; i < m->ntensors; i++)
			if (mlf_recipe_group_of(&m->arch, i) == g)
				members[n++] = m->tensors[i];
		r->momentum[g] = p->momentum;
		if (n == 0)
			continue;
		struct mlf_th_group_opts o = {
			.lr = p->lr,
			.momentum = p->momentum,
			.beta2 = 0.999,
			.weight_decay = g == MLF_GROUP_WEIGHT ? p->weight_decay : 0.0,
			.eps = 1e-8,
			.nesterov = p->kind == MLF_TH_SGD,
		};
		r->group_index[g] = mlf_th_optim_add_group(r->optim, n, members, &o);
		if (r->group_index[g] < 0) {
			free(members);
			int rc = shim_fail(err, "optimizer group");
			mlf_recipe_release(r);
			return rc;
		}
	}
	free(members);
	if (mlf_th_optim_zero_grad(r->optim) < 0 || mlf_ema_create(&r->ema, m, err) < 0) {
		if (!err || !err->msg[0])
			shim_fail(err, "optimizer");
		mlf_recipe_release(r);
		return -1;
	}
	return 0;
}

static int set_lr(struct mlf_train_recipe *r, int g, double lr, struct mlf_error *err)
{
	if (r->group_index[g] >= 0 && mlf_th_optim_set_lr(r->optim, (size_t)r->group_index[g], lr) < 0)
		return shim_fail(err, "set lr");
	return 0;
}

int mlf_recipe_epoch_start(struct mlf_train_recipe *r, int epoch, struct mlf_error *err)
{
	double lr = r->plan.lr * mlf_recipe_lf(&r->plan, epoch);
	for (int g = 0; g < MLF_NGROUPS; g++)
		if (set_lr(r, g, lr, err) < 0)
			return -1;
	return 0;
}

/* np.interp(x, [0, x1], [y0, y1]) for 0 <= x <= x1 */
static double interp(double x, double x1, double y0, double y1)
{
	if (x >= x1)
		return y1;
	if (x <= 0)
		return y0;
	double slope = (y1 - y0) / x1;
	return slope * x + y0;
}

int mlf_recipe_batch_start(struct mlf_train_recipe *r, int epoch, int64_t i, struct mlf_error *err)
{
	const struct mlf_recipe_plan *p = &r->plan;
	int64_t ni = i + p->nb * epoch;
	if (!p->nw || ni > p->nw)
		return 0;
	double x = (double)ni, x1 = (double)p->nw;
	int acc = (int)mlf_py_round(interp(x, x1, 1, p->accumulate));
	r->accumulate = acc > 1 ? acc : 1;
	double target = p->lr * mlf_recipe_lf(p, epoch);
	for (int g = 0; g < MLF_NGROUPS; g++) {
		double y0 = g == MLF_GROUP_BIAS ? p->warmup_bias_lr : 0.0;
		if (set_lr(r, g, interp(x, x1, y0, target), err) < 0)
			return -1;
		/* only SGD groups have a "momentum" key; Adam's betas stay */
		if (p->kind == MLF_TH_SGD) {
			double mom = interp(x, x1, p->warmup_momentum, p->final_momentum);
			r->momentum[g] = mom;
			if (r->group_index[g] >= 0 &&
			    mlf_th_optim_set_momentum(r->optim, (size_t)r->group_index[g], mom) < 0)
				return shim_fail(err, "set momentum");
		}
	}
	return 0;
}

void mlf_recipe_enable_scaler(struct mlf_train_recipe *r)
{
	r->scale = 65536.0;
	r->growth_tracker = 0;
}

double mlf_recipe_loss_scale(const struct mlf_train_recipe *r)
{
	return r->scale > 0 ? r->scale : 1.0;
}

/* scaler.unscale_: every gradient times 1 / scale, in place. */
static int unscale(mlf_th *const *params, size_t n, double scale)
{
	int rc = 0;
	size_t mark = mlf_th_scope_open();
	for (size_t k = 0; k < n && !rc; k++) {
		mlf_th *g = mlf_th_grad(params[k]);
		if (g)
			rc = mlf_th_mul_s_(g, 1.0 / scale);
	}
	mlf_th_scope_close(mark);
	return rc;
}

/* scaler.update: backoff 0.5 on overflow, growth 2.0 every 2000 clean steps. */
static void scaler_update(struct mlf_train_recipe *r, int overflow)
{
	if (overflow) {
		r->scale *= 0.5;
		r->growth_tracker = 0;
		r->skipped_steps++;
	} else if (++r->growth_tracker == 2000) {
		r->scale *= 2.0;
		r->growth_tracker = 0;
	}
}

int mlf_recipe_batch_end(struct mlf_train_recipe *r, int epoch, int64_t i, int *stepped,
			 struct mlf_error *err)
{
	int64_t ni = i + r->plan.nb * epoch;
	if (stepped)
		*stepped = 0;
	if (ni - r->last_opt_step < r->accumulate)
		return 0;
	struct mlf_yolo_model *m = r->model;
	mlf_th **params = mlf_xcalloc(m->ntensors ? m->ntensors : 1, sizeof(*params));
	size_t n = 0;
	for (size_t k = 0; k < m->ntensors; k++)
		if (!m->arch.params[k].is_buffer)
			params[n++] = m->tensors[k];
	int rc = r->scale > 0 ? unscale(params, n, r->scale) : 0;
	r->last_grad_norm = rc ? -1 : mlf_th_clip_grad_norm(n, params, r->max_norm);
	free(params);
	if (r->last_grad_norm < 0 && !isnan(r->last_grad_norm))
		return shim_fail(err, "clip_grad_norm");
	/* scaler.step: a step whose gradients overflowed is skipped */
	int skip = r->scale > 0 && !isfinite(r->last_grad_norm);
	if (!skip && mlf_th_optim_step(r->optim) < 0)
		return shim_fail(err, "optimizer step");
	if (r->scale > 0)
		scaler_update(r, skip);
	if (mlf_th_optim_zero_grad(r->optim) < 0)
		return shim_fail(err, "zero_grad");
	mlf_yolo_model_weights_changed(m);
	if (mlf_ema_update(&r->ema, m, err) < 0)
		return -1;
	r->last_opt_step = ni;
	if (stepped)
		*stepped = !skip;
	return 0;
}

double mlf_recipe_lr(const struct mlf_train_recipe *r, enum mlf_recipe_group g)
{
	if (g >= MLF_NGROUPS || r->group_index[g] < 0)
		return NAN;
	return mlf_th_optim_lr(r->optim, (size_t)r->group_index[g]);
}

double mlf_recipe_momentum(const struct mlf_train_recipe *r, enum mlf_recipe_group g)
{
	if (g >= MLF_NGROUPS || r->group_index[g] < 0)
		return NAN;
	return r->momentum[g];
}
