/*
 * Everything a training needs before its first batch (8.4.190's
 * _setup_train and get_model): settings, the dataset, the model built from
 * the base checkpoint, loaders, the recipe, the loss, the save folder, and
 * the resume state when continuing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlf/base.h"
#include "train_internal.h"

int mlf_train_resolve_device(int device)
{
	if (device != MLF_TRAIN_DEVICE_AUTO)
		return device;
	return mlf_th_cuda_device_count() > 0 ? 0 : MLF_TH_CPU;
}

int mlf_train_parse_device(const char *s, int *device)
{
	if (!strcmp(s, "auto")) {
		*device = MLF_TRAIN_DEVICE_AUTO;
		return 0;
	}
	if (!strcmp(s, "cpu")) {
		*device = MLF_TH_CPU;
		return 0;
	}
	char *end;
	if (!strncmp(s, "cuda:", 5)) {
		long d = strtol(s + 5, &end, 10);
		if (*end || end == s + 5 || d < 0 || d > 64)
			return -1;
		*device = (int)d;
		return 0;
	}
	return -1;
}

const char *mlf_train_device_name(int device, char buf[16])
{
	device = mlf_train_resolve_device(device);
	if (device == MLF_TH_CPU)
		snprintf(buf, 16, "cpu");
	else
		snprintf(buf, 16, "cuda:%d", device);
	return buf;
}

void mlf_train_options_default(struct mlf_train_options *o)
{
	memset(o, 0, sizeof(*o));
	mlf_train_args_default(&o->args);
	o->device = MLF_TRAIN_DEVICE_AUTO;
	o->progress = MLF_PROGRESS_AUTO;
	o->prog = "mlf";
}

static int copy_arg(char *dst, size_t cap, const char *src, const char *what, struct mlf_error *err)
{
	if (!src || !*src)
		return mlf_fail(err, MLF_EX_USAGE, "no %s given", what);
	if (strlen(src) >= cap)
		return mlf_fail(err, MLF_EX_USAGE, "%s path too long", what);
	snprintf(dst, cap, "%s", src);
	return 0;
}

/* The base model's class names must be the dataset's: the checkpoints are
 * written in the base model's shape, names included. */
static int check_classes(const struct mlf_ckpt *c, int nc, const struct mlf_data_yaml *y,
			 const char *base, struct mlf_error *err)
{
	if ((size_t)nc != y->classes.n)
		return mlf_fail(err, MLF_EX_DATAERR,
				"%s has %d classes but %s has %zu: mlf retrains a model on its own classes",
				base, nc, y->file, y->classes.n);
	const json_t *names = json_object_get(c->meta, "names");
	for (size_t i = 0; i < y->classes.n && names; i++) {
		char key[32];
		snprintf(key, sizeof(key), "%zu", i);
		const json_t *n = json_is_array(names) ? json_array_get(names, i) : json_object_get(names, key);
		if (json_is_string(n) && strcmp(json_string_value(n), y->classes.names[i]) != 0)
			return mlf_fail(err, MLF_EX_DATAERR,
					"class %zu is '%s' in %s but '%s' in %s: mlf retrains a model on its "
					"own classes", i, json_string_value(n), base, y->classes.names[i], y->file);
	}
	return 0;
}

/* A fresh folder, or one this training owns (resume, exist_ok). */
static int prepare_save_dir(struct train_ctx *t, int resuming, struct mlf_error *err)
{
	char *csv = mlf_path_join(t->save_dir, "results.csv");
	char *last = mlf_path_join(t->save_dir, "weights/last.pt");
	int used = mlf_is_file(csv) || mlf_is_file(last);
	free(last);
	if (used && !resuming && !t->args.exist_ok) {
		free(csv);
		return mlf_fail(err, MLF_EX_CANTCREAT,
				"%s already holds a training; resume it or choose another folder", t->save_dir);
	}
	int rc = mlf_mkdir_p(t->save_dir, 0777, err);
	if (!rc && !resuming && used)
		unlink(csv);
	t->csv_path = csv;
	return rc;
}

static int write_args_yaml(struct train_ctx *t, struct mlf_error *err)
{
	struct mlf_buf y = MLF_BUF_INIT;
	char *path = mlf_path_join(t->save_dir, "args.yaml");
	int rc = mlf_train_args_yaml(&t->args, &y, err);
	if (!rc)
		rc = mlf_write_file_atomic(path, y.data, y.len, err);
	free(path);
	mlf_buf_release(&y);
	return rc;
}

static int open_models(struct train_ctx *t, struct mlf_error *err)
{
	struct mlf_ckpt c;
	mlf_ckpt_init(&c);
	int rc = mlf_ckpt_read_pt(t->base_model, &c, err);
	/* get_model: DetectionModel(cfg) then load(weights); with the base's
	 * own classes every tensor loads, which is the checkpoint itself */
	if (!rc)
		rc = mlf_yolo_model_from_ckpt(&t->model, &c, t->device, err);
	if (!rc)
		rc = check_classes(&c, t->model.arch.nc, &t->data, t->base_model, err);
	if (!rc)
		rc = mlf_yolo_model_from_ckpt(&t->ema_model, &c, t->device, err);
	mlf_ckpt_release(&c);
	/* pretrained=false: the base model's architecture and classes with fresh
	 * weights (Ultralytics' own init), i.e. training from scratch */
	if (!rc && !t->args.pretrained && !t->resuming)
		rc = mlf_yolo_model_reset_parameters(&t->model, err);
	if (rc)
		return mlf_error_prefix(err, "%s", t->base_model);
	mlf_yolo_model_train(&t->model, 1);
	/* Weights channels-last like the activations: no layout conversions in the step. */
	if (mlf_yolo_model_weights_channels_last(&t->model, err) < 0 ||
	    mlf_yolo_model_weights_channels_last(&t->ema_model, err) < 0)
		return mlf_error_prefix(err, "%s", t->base_model);
	return 0;
}

static int open_loaders(struct train_ctx *t, struct mlf_error *err)
{
	const struct mlf_train_args *a = &t->args;
	int nc = (int)t->data.classes.n;
	int stride = mlf_yolo_model_max_stride(&t->model);
	stride = stride > 32 ? stride : 32;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	/* build_dataloader: min(cpu count, workers) */
	int workers = a->workers < cpus ? a->workers : (int)cpus;
	struct mlf_dataset_options dopt = { .nc = nc, .single_cls = a->single_cls, .require_labels = 1 };
	if (mlf_dataset_open(&t->train_ds, &t->data.train, &dopt, NULL, err) < 0)
		return mlf_error_prefix(err, "training images");
	struct mlf_loader_options lo;
	mlf_loader_options_defaults(&lo, MLF_LOADER_TRAIN);
	lo.batch = a->batch;
	lo.imgsz = a->imgsz;
	lo.stride = stride;
	lo.workers = workers;
	lo.seed = (uint64_t)a->seed;
	lo.cache_ram = a->cache;
	lo.epochs = a->epochs;
	lo.close_mosaic = a->close_mosaic;
	lo.hyp = (struct mlf_augment_hyp){
		.hsv_h = a->hsv_h, .hsv_s = a->hsv_s, .hsv_v = a->hsv_v, .degrees = a->degrees,
		.translate = a->translate, .scale = a->scale, .shear = a->shear,
		.perspective = a->perspective, .flipud = a->flipud, .fliplr = a->fliplr,
		.mosaic = a->mosaic, .mixup = a->mixup, .cutmix = a->cutmix, .copy_paste = a->copy_paste,
	};
	if (mlf_augment_hyp_check(&lo.hyp, err) < 0 || mlf_loader_open(&t->train, &t->train_ds, &lo, err) < 0)
		return -1;
	t->nb = mlf_loader_batches(t->train);
	if (train_val_open(&t->val, &t->data.val, nc, a, a->batch * 2, stride, workers, err) < 0)
		return mlf_error_prefix(err, "validation images");
	t->have_val = 1;
	return 0;
}

/* Settings mlf cannot honour are refused rather than ignored. */
static int check_args(const struct mlf_train_args *a, struct mlf_error *err)
{
	if (a->epochs < 1 || a->batch < 1 || a->imgsz < 32)
		return mlf_fail(err, MLF_EX_USAGE, "epochs, batch and imgsz must be positive (imgsz >= 32)");
	if (!isnan(a->time))
		return mlf_fail(err, MLF_EX_USAGE, "'time' (timed training) is not supported; set epochs");
	if (a->cls_pw != 0)
		return mlf_fail(err, MLF_EX_USAGE, "'cls_pw' (class weights) is not supported");
	if (a->rect || a->multi_scale != 0 || a->freeze != MLF_ARG_NULL_INT || a->fraction != 1.0)
		return mlf_fail(err, MLF_EX_USAGE,
				"rect training, multi_scale, freeze and fraction are not supported");
	return 0;
}

int train_ctx_open(struct train_ctx *t, const struct mlf_train_options *o, struct mlf_error *err)
{
	memset(t, 0, sizeof(*t));
	mlf_yolo_model_init(&t->model);
	mlf_yolo_model_init(&t->ema_model);
	mlf_recipe_init_empty(&t->recipe);
	mlf_ckpt_init(&t->resume_state);
	t->device = mlf_train_resolve_device(o->device);
	t->counters = (struct train_counters){ .best_fitness = NAN, .last_opt_step = -1 };
	int resuming = t->resuming = o->resume != NULL;
	if (resuming) {
		if (train_state_read(o->resume, &t->args, &t->counters, &t->base_model, &t->data_yaml,
				     &t->resume_state, err) < 0)
			return -1;
		/* <save_dir>/weights/last.pt */
		char *abs = mlf_path_absolute(NULL, o->resume);
		char *w = abs ? strrchr(abs, '/') : NULL;
		if (w)
			*w = 0;
		char *s = abs ? strrchr(abs, '/') : NULL;
		if (s && s != abs)
			*s = 0;
		t->save_dir = abs;
		/* all epochs done: with resume_done, mlf_train goes straight to the final
		 * validation, which a process killed after the last epoch's checkpoint never
		 * finished */
		if (t->counters.epochs_done >= t->args.epochs && !o->resume_done)
			return mlf_fail(err, MLF_EX_USAGE, "%s: its training already finished all %d epochs",
					o->resume, t->args.epochs);
	} else {
		t->args = o->args;
		if (copy_arg(t->args.model, sizeof(t->args.model), o->base_model, "base model", err) < 0 ||
		    copy_arg(t->args.data, sizeof(t->args.data), o->data_yaml, "data.yaml", err) < 0 ||
		    copy_arg(t->args.save_dir, sizeof(t->args.save_dir), o->save_dir, "save folder", err) < 0)
			return -1;
		t->base_model = mlf_xstrdup(o->base_model);
		t->data_yaml = mlf_xstrdup(o->data_yaml);
		t->save_dir = mlf_xstrdup(o->save_dir);
	}
	if (check_args(&t->args, err) < 0)
		return -1;
	int threads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (t->device == MLF_TH_CPU && mlf_th_set_threads(threads) < 0)
		return mlf_fail(err, MLF_EX_USAGE, "cannot use %d threads: %s", threads, mlf_th_error());
	if (t->device != MLF_TH_CPU && mlf_th_cuda_training_mode(t->args.deterministic) < 0)
		return mlf_fail(err, MLF_EX_SOFTWARE, "CUDA settings: %s", mlf_th_error());
	/* init_seeds(seed + 1): only parameters the base model lacks would draw */
	mlf_th_manual_seed((uint64_t)t->args.seed + 1);
	if (mlf_data_yaml_load(t->data_yaml, &t->data, err) < 0)
		return -1;
	t->have_data = 1;
	/* everything is checked before the save folder is touched */
	if (open_models(t, err) < 0 || open_loaders(t, err) < 0 || prepare_save_dir(t, resuming, err) < 0)
		return -1;
	if (mlf_recipe_plan(&t->args, (int64_t)t->train_ds.n, (int)t->data.classes.n, (int64_t)t->nb,
			    &t->plan, err) < 0 ||
	    mlf_recipe_init(&t->recipe, &t->model, &t->plan, err) < 0 ||
	    mlf_yolo_loss_init(&t->loss, &t->model, err) < 0)
		return -1;
	t->have_loss = 1;
	/* amp on the CPU is off in Ultralytics too (check_amp) */
	t->amp = t->args.amp && t->device != MLF_TH_CPU;
	if (t->amp)
		mlf_recipe_enable_scaler(&t->recipe);
	t->loss.box = t->args.box;
	t->loss.cls = t->args.cls;
	t->loss.dfl = t->args.dfl;
	if (resuming) {
		if (train_state_apply(&t->resume_state, &t->model, &t->recipe, err) < 0 ||
		    train_csv_resume(t->csv_path, t->counters.epochs_done, &t->history, err) < 0)
			return -1;
		t->recipe.last_opt_step = t->counters.last_opt_step;
	}
	mlf_ckpt_release(&t->resume_state);
	if (write_args_yaml(t, err) < 0)
		return -1;
	if (t->args.plots && !resuming &&
	    train_plot_labels(t->save_dir, &t->train_ds, (const char *const *)t->data.classes.names,
			      (int)t->data.classes.n, err) < 0)
		return -1;
	return 0;
}

void train_ctx_close(struct train_ctx *t)
{
	mlf_loader_close(t->train);
	if (t->have_val)
		train_val_close(&t->val);
	mlf_dataset_release(&t->train_ds);
	if (t->have_loss)
		mlf_yolo_loss_release(&t->loss);
	mlf_recipe_release(&t->recipe);
	mlf_yolo_model_release(&t->model);
	mlf_yolo_model_release(&t->ema_model);
	mlf_ckpt_release(&t->resume_state);
	if (t->have_data)
		mlf_data_yaml_release(&t->data);
	free(t->history.rows);
	free(t->base_model);
	free(t->data_yaml);
	free(t->save_dir);
	free(t->csv_path);
	memset(t, 0, sizeof(*t));
}
