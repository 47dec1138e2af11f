/*
 * A training's checkpoints: best.pt and last.pt written as the base model's
 * .pt with the EMA weights, and the exact resume state carried by last.pt
 * as an extra archive record (safetensors: "model/<name>", "ema/<name>",
 * "optim/<group>/<index>/<state>" tensors, and "grad/<name>" for gradients
 * accumulated but not yet stepped (accumulation runs across epoch ends);
 * counters, step counts and
 * settings as JSON in the metadata entry "mlf_resume").
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlf/base.h"
#include "mlf/torch/torch.h"
#include "train_internal.h"

#define RESUME_META "mlf_resume"
#define RESUME_FORMAT 1

static const char *const sgd_states[] = { "momentum_buffer" };
static const char *const adam_states[] = { "exp_avg", "exp_avg_sq" };

static const char *const *state_names(enum mlf_th_optim_kind k, size_t *n)
{
	*n = k == MLF_TH_SGD ? 1 : 2;
	return k == MLF_TH_SGD ? sgd_states : adam_states;
}

/* Appends `t` (any shim tensor) to `c` as `name`, float32 or int64 as it is. */
static int add_tensor(struct mlf_ckpt *c, const char *name, const mlf_th *t, struct mlf_error *err)
{
	int64_t shape[MLF_TENSOR_MAX_DIMS];
	int nd = mlf_th_shape(t, shape, MLF_TENSOR_MAX_DIMS);
	enum mlf_dtype dt = mlf_th_dtype(t) == MLF_DTYPE_I64 ? MLF_DTYPE_I64 : MLF_DTYPE_F32;
	if (nd < 0)
		return mlf_th_fail(err, "saving %s", name);
	struct mlf_tensor *o = mlf_ckpt_add(c, name, dt, nd, shape, err);
	if (!o)
		return -1;
	if (o->nbytes && mlf_th_copy_out(t, dt, o->data, o->nbytes) < 0)
		return mlf_th_fail(err, "saving %s", name);
	return 0;
}

static json_t *metrics_json(const struct mlf_val_summary *m)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "metrics/precision(B)", mlf_json_double(m->precision),
			 "metrics/recall(B)", mlf_json_double(m->recall),
			 "metrics/mAP50(B)", mlf_json_double(m->map50),
			 "metrics/mAP50-95(B)", mlf_json_double(m->map50_95),
			 "val/box_loss", mlf_json_double(m->box_loss),
			 "val/cls_loss", mlf_json_double(m->cls_loss),
			 "val/dfl_loss", mlf_json_double(m->dfl_loss),
			 "fitness", mlf_json_double(m->fitness));
}

static json_t *counters_json(const struct mlf_train_recipe *r, const struct mlf_train_args *a,
			     const struct train_counters *c)
{
	json_t *steps = json_array();
	size_t ng = mlf_th_optim_ngroups(r->optim);
	for (size_t g = 0; g < ng; g++) {
		json_t *row = json_array();
		for (size_t j = 0; j < mlf_th_optim_group_size(r->optim, g); j++)
			json_array_append_new(row, json_integer(mlf_th_optim_step_count(r->optim, g, j)));
		json_array_append_new(steps, row);
	}
	return json_pack("{s:i, s:i, s:o, s:i, s:I, s:i, s:o, s:I, s:o, s:o, s:f, s:i}",
			 "format", RESUME_FORMAT, "epochs_done", c->epochs_done,
			 "best_fitness", mlf_json_double(c->best_fitness), "best_epoch", c->best_epoch,
			 "last_opt_step", (json_int_t)c->last_opt_step,
			 "stopper_best_epoch", c->stopper_best_epoch,
			 "stopper_best_fitness", mlf_json_double(c->stopper_best_fitness),
			 "ema_updates", (json_int_t)r->ema.updates, "steps", steps,
			 "args", mlf_train_args_json(a), "scaler_scale", r->scale,
			 "scaler_growth", r->growth_tracker);
}

/* The resume record's bytes. */
static int encode_state(const struct mlf_yolo_model *model, const struct mlf_train_recipe *r,
			const struct mlf_train_args *a, const struct train_counters *c,
			struct mlf_buf *out, struct mlf_error *err)
{
	struct mlf_ckpt st;
	mlf_ckpt_init(&st);
	int rc = 0;
	char name[512];
	for (size_t i = 0; i < model->ntensors && !rc; i++) {
		snprintf(name, sizeof(name), "model/%s", model->arch.params[i].name);
		rc = add_tensor(&st, name, model->tensors[i], err);
		snprintf(name, sizeof(name), "ema/%s", model->arch.params[i].name);
		if (!rc)
			rc = add_tensor(&st, name, r->ema.tensors[i], err);
		size_t mark = mlf_th_scope_open();
		mlf_th *g = rc ? NULL : mlf_th_grad(model->tensors[i]);
		snprintf(name, sizeof(name), "grad/%s", model->arch.params[i].name);
		if (g)
			rc = add_tensor(&st, name, g, err);
		mlf_th_scope_close(mark);
	}
	size_t nstates;
	const char *const *states = state_names(r->plan.kind, &nstates);
	for (size_t g = 0; g < mlf_th_optim_ngroups(r->optim) && !rc; g++)
		for (size_t j = 0; j < mlf_th_optim_group_size(r->optim, g) && !rc; j++)
			for (size_t k = 0; k < nstates && !rc; k++) {
				size_t mark = mlf_th_scope_open();
				mlf_th *s = mlf_th_optim_state(r->optim, g, j, states[k]);
				snprintf(name, sizeof(name), "optim/%zu/%zu/%s", g, j, states[k]);
				if (s)
					rc = add_tensor(&st, name, s, err);
				else if (*mlf_th_error())
					rc = mlf_th_fail(err, "optimizer state");
				mlf_th_scope_close(mark);
			}
	if (!rc) {
		json_t *counters = counters_json(r, a, c);
		char *text = json_dumps(counters, JSON_COMPACT);
		json_t *meta = json_pack("{s:s}", RESUME_META, text);
		rc = mlf_ckpt_safetensors_encode(&st, meta, out, err);
		json_decref(meta);
		free(text);
		json_decref(counters);
	}
	mlf_ckpt_release(&st);
	return rc;
}

static char *iso_now(void)
{
	char buf[64];
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S%z", &tm);
	/* +0100 -> +01:00, as Python's isoformat */
	size_t n = strlen(buf);
	if (n >= 5 && (buf[n - 5] == '+' || buf[n - 5] == '-')) {
		memmove(buf + n - 1, buf + n - 2, 3);
		buf[n - 2] = ':';
	}
	return mlf_xstrdup(buf);
}

int train_save(const char *template_pt, const char *save_dir, struct mlf_yolo_model *ema_model,
	       const struct mlf_yolo_model *model, const struct mlf_train_recipe *r,
	       const struct mlf_train_args *a, const struct train_counters *c,
	       const struct mlf_val_summary *metrics, int best, struct mlf_error *err)
{
	struct mlf_ckpt w;
	struct mlf_buf rec = MLF_BUF_INIT;
	mlf_ckpt_init(&w);
	if (mlf_ema_apply(&r->ema, ema_model, err) < 0 || mlf_yolo_model_export(ema_model, &w, err) < 0 ||
	    encode_state(model, r, a, c, &rec, err) < 0) {
		mlf_ckpt_release(&w);
		mlf_buf_release(&rec);
		return -1;
	}
	char *date = iso_now();
	json_t *updates = json_pack("{s:i, s:o, s:o, s:o, s:o, s:I, s:n, s:n, s:s, s:{s:s}}",
				    "epoch", c->epochs_done - 1, "best_fitness", mlf_json_double(c->best_fitness),
				    "train_args", mlf_train_args_json(a),
				    "train_metrics", metrics ? metrics_json(metrics) : json_object(),
				    "train_results", json_null(), "updates", (json_int_t)r->ema.updates,
				    "optimizer", "scaler", "date", date, "mlf", "resume_record",
				    MLF_TRAIN_RESUME_RECORD);
	free(date);
	char *wdir = mlf_path_join(save_dir, "weights");
	char *last = mlf_path_join(wdir, "last.pt"), *bestp = mlf_path_join(wdir, "best.pt");
	struct mlf_ckpt_record record = { MLF_TRAIN_RESUME_RECORD, rec.data, rec.len };
	/* best.pt before last.pt: last.pt is what a resume starts from, so once it
	 * records an epoch, that epoch's best.pt must already be on disk (a crash
	 * between the two then repeats the epoch rather than lose its best.pt) */
	int rc = mlf_mkdir_p(wdir, 0777, err);
	if (!rc && best)
		rc = mlf_ckpt_write_pt(template_pt, &w, updates, bestp, err);
	if (!rc)
		rc = mlf_ckpt_write_pt_records(template_pt, &w, updates, &record, 1, last, err);
	json_decref(updates);
	free(wdir);
	free(last);
	free(bestp);
	mlf_ckpt_release(&w);
	mlf_buf_release(&rec);
	return rc;
}

static int json_get_double(const json_t *o, const char *key, double *v)
{
	return mlf_json_to_double(json_object_get(o, key), v);
}

int train_state_read(const char *last_pt, struct mlf_train_args *a, struct train_counters *c,
		     char **base_model, char **data_yaml, struct mlf_ckpt *state,
		     struct mlf_error *err)
{
	struct mlf_buf rec = MLF_BUF_INIT;
	*base_model = *data_yaml = NULL;
	if (mlf_ckpt_read_pt_record(last_pt, MLF_TRAIN_RESUME_RECORD, &rec, err) < 0)
		return -1;
	int rc = mlf_ckpt_safetensors_decode(rec.data, rec.len, last_pt, state, err);
	mlf_buf_release(&rec);
	if (rc < 0)
		return -1;
	json_t *md = json_object_get(json_object_get(state->meta, "metadata"), RESUME_META);
	json_t *j = json_is_string(md) ? json_loads(json_string_value(md), JSON_ALLOW_NUL, NULL) : NULL;
	json_int_t fmt = json_integer_value(json_object_get(j, "format"));
	json_t *args = json_object_get(j, "args");
	if (!j || fmt != RESUME_FORMAT || !json_is_object(args)) {
		json_decref(j);
		return mlf_fail(err, MLF_EX_DATAERR, "%s: resume state unreadable (format %lld, mlf reads %d)",
				last_pt, (long long)fmt, RESUME_FORMAT);
	}
	mlf_train_args_default(a);
	rc = mlf_train_args_override(a, args, err);
	c->epochs_done = (int)json_integer_value(json_object_get(j, "epochs_done"));
	c->best_epoch = (int)json_integer_value(json_object_get(j, "best_epoch"));
	c->last_opt_step = json_integer_value(json_object_get(j, "last_opt_step"));
	c->stopper_best_epoch = (int)json_integer_value(json_object_get(j, "stopper_best_epoch"));
	if (json_get_double(j, "best_fitness", &c->best_fitness) < 0)
		c->best_fitness = NAN;
	if (json_get_double(j, "stopper_best_fitness", &c->stopper_best_fitness) < 0)
		c->stopper_best_fitness = 0;
	if (!rc) {
		*base_model = mlf_xstrdup(a->model);
		*data_yaml = mlf_xstrdup(a->data);
	}
	/* step counts and EMA updates travel in the state's meta for apply */
	json_object_set(state->meta, "steps", json_object_get(j, "steps"));
	json_object_set(state->meta, "ema_updates", json_object_get(j, "ema_updates"));
	json_object_set(state->meta, "scaler_scale", json_object_get(j, "scaler_scale"));
	json_object_set(state->meta, "scaler_growth", json_object_get(j, "scaler_growth"));
	json_decref(j);
	return rc;
}

static int copy_named(const struct mlf_ckpt *state, const char *name, mlf_th *dst, struct mlf_error *err)
{
	const struct mlf_tensor *t = mlf_ckpt_find(state, name);
	if (!t)
		return mlf_fail(err, MLF_EX_DATAERR, "resume state lacks %s", name);
	size_t mark = mlf_th_scope_open();
	mlf_th *src = mlf_th_from_data(t->data, t->dtype, t->ndim, t->shape, MLF_TH_CPU);
	int rc = src && mlf_th_numel(src) == mlf_th_numel(dst) ? mlf_th_copy_(dst, src) : -1;
	mlf_th_scope_close(mark);
	if (rc < 0)
		return mlf_fail(err, MLF_EX_DATAERR, "resume state %s does not fit the model: %s", name,
				mlf_th_error());
	return 0;
}

/* Gradients come back through autograd (the shim has no .grad setter):
 * backward of sum(p * g) over the saved ones leaves exactly g in p.grad. */
static int restore_grads(const struct mlf_ckpt *state, struct mlf_yolo_model *model, struct mlf_error *err)
{
	char name[512];
	size_t mark = mlf_th_scope_open();
	mlf_th *total = NULL;
	int rc = 0, was = mlf_th_grad_enabled(1);
	for (size_t i = 0; i < model->ntensors && !rc; i++) {
		snprintf(name, sizeof(name), "grad/%s", model->arch.params[i].name);
		const struct mlf_tensor *t = mlf_ckpt_find(state, name);
		if (!t)
			continue;
		mlf_th *g = mlf_th_from_data(t->data, t->dtype, t->ndim, t->shape, model->device);
		mlf_th *term = mlf_th_reduce(MLF_TH_SUM, mlf_th_binary(MLF_TH_MUL, model->tensors[i], g),
					     MLF_TH_ALL_DIMS, 0);
		total = total ? mlf_th_binary(MLF_TH_ADD, total, term) : term;
		if (!total)
			rc = mlf_fail(err, MLF_EX_DATAERR, "resume state %s: %s", name, mlf_th_error());
	}
	if (!rc && total && mlf_th_backward(total) < 0)
		rc = mlf_fail(err, MLF_EX_SOFTWARE, "restoring gradients: %s", mlf_th_error());
	mlf_th_grad_enabled(was);
	mlf_th_scope_close(mark);
	return rc;
}

int train_state_apply(const struct mlf_ckpt *state, struct mlf_yolo_model *model,
		      struct mlf_train_recipe *r, struct mlf_error *err)
{
	char name[512];
	int grad = mlf_th_grad_enabled(0), rc = 0;
	for (size_t i = 0; i < model->ntensors && !rc; i++) {
		snprintf(name, sizeof(name), "model/%s", model->arch.params[i].name);
		rc = copy_named(state, name, model->tensors[i], err);
		snprintf(name, sizeof(name), "ema/%s", model->arch.params[i].name);
		if (!rc)
			rc = copy_named(state, name, r->ema.tensors[i], err);
	}
	mlf_yolo_model_weights_changed(model);
	size_t nstates;
	const char *const *states = state_names(r->plan.kind, &nstates);
	const json_t *steps = json_object_get(state->meta, "steps");
	for (size_t g = 0; g < mlf_th_optim_ngroups(r->optim) && !rc; g++) {
		const json_t *row = json_array_get(steps, g);
		if (json_array_size(row) != mlf_th_optim_group_size(r->optim, g)) {
			rc = mlf_fail(err, MLF_EX_DATAERR,
				      "resume state: optimizer group %zu has %zu step counts, the model %zu",
				      g, json_array_size(row), mlf_th_optim_group_size(r->optim, g));
			break;
		}
		for (size_t j = 0; j < mlf_th_optim_group_size(r->optim, g) && !rc; j++) {
			if (mlf_th_optim_set_step_count(r->optim, g, j,
							json_integer_value(json_array_get(row, j))) < 0)
				rc = mlf_th_fail(err, "resume state");
			for (size_t k = 0; k < nstates && !rc; k++) {
				snprintf(name, sizeof(name), "optim/%zu/%zu/%s", g, j, states[k]);
				const struct mlf_tensor *t = mlf_ckpt_find(state, name);
				if (!t)
					continue;   /* never stepped */
				size_t mark = mlf_th_scope_open();
				mlf_th *src = mlf_th_from_data(t->data, t->dtype, t->ndim, t->shape, MLF_TH_CPU);
				if (mlf_th_optim_set_state(r->optim, g, j, states[k], src) < 0)
					rc = mlf_fail(err, MLF_EX_DATAERR, "resume state %s: %s", name,
						      mlf_th_error());
				mlf_th_scope_close(mark);
			}
		}
	}
	r->ema.updates = json_integer_value(json_object_get(state->meta, "ema_updates"));
	/* the scaler resumes where it was when it is on (amp on CUDA) */
	double scale = json_real_value(json_object_get(state->meta, "scaler_scale"));
	if (r->scale > 0 && scale > 0) {
		r->scale = scale;
		r->growth_tracker = (int)json_integer_value(json_object_get(state->meta, "scaler_growth"));
	}
	mlf_th_grad_enabled(grad);
	if (!rc)
		rc = restore_grads(state, model, err);
	return rc;
}
