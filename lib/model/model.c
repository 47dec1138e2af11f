/*
 * A model's life: its tensors made from the architecture, its module graph,
 * its modes.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "model_internal.h"

mlf_th *yolo_own(mlf_th *t)
{
	return mlf_th_unscope(t);
}

static int is_counter(const struct mlf_yolo_param *p)
{
	size_t n = strlen(p->name), k = strlen("num_batches_tracked");
	return n >= k && !strcmp(p->name + n - k, "num_batches_tracked");
}

void mlf_yolo_model_init(struct mlf_yolo_model *m)
{
	memset(m, 0, sizeof(*m));
	mlf_yolo_arch_init(&m->arch);
	m->device = MLF_TH_CPU;
}

void mlf_yolo_model_release(struct mlf_yolo_model *m)
{
	yolo_net_free(m->net);
	for (size_t i = 0; i < m->ntensors; i++)
		mlf_th_free(m->tensors[i]);
	free(m->tensors);
	mlf_yolo_arch_release(&m->arch);
	mlf_yolo_model_init(m);
}

static int make_tensors(struct mlf_yolo_model *m, struct mlf_error *err)
{
	const struct mlf_yolo_arch *a = &m->arch;
	m->tensors = mlf_xcalloc(a->nparams ? a->nparams : 1, sizeof(*m->tensors));
	for (size_t i = 0; i < a->nparams; i++) {
		const struct mlf_yolo_param *p = &a->params[i];
		mlf_th *t = mlf_th_empty(p->ndim, p->shape, is_counter(p) ? MLF_DTYPE_I64 : MLF_DTYPE_F32,
					 m->device);
		if (!t)
			return mlf_th_fail(err, "model: allocating %s", p->name);
		m->tensors[m->ntensors++] = yolo_own(t);
	}
	return 0;
}

int mlf_yolo_model_create(struct mlf_yolo_model *m, const struct mlf_yolo_arch *a, int device,
			  struct mlf_error *err)
{
	mlf_yolo_model_init(m);
	if (device < MLF_TH_CPU || (device >= 0 && device >= mlf_th_cuda_device_count()))
		return mlf_fail(err, MLF_EX_USAGE, "model: device %d does not exist (%d CUDA devices)",
				device, mlf_th_cuda_device_count());
	m->device = device;
	m->training = 1;
	/* Channels-last everywhere.  Measured on the CPU: eval forwards about
	 * 15-20% faster (yolov8n, 640), training epochs about 12% (yolov8n,
	 * 320).  On a GPU it is what cuDNN's tensor-core convolutions take in
	 * float16 (PyTorch's advice for AMP training); not yet measured there:
	 * scripts/gpu-check will. */
	m->channels_last = 1;
	if (mlf_yolo_arch_from_yaml(&m->arch, a->yaml, err) < 0 || make_tensors(m, err) < 0 ||
	    yolo_net_build(m, err) < 0 || mlf_yolo_model_reset_parameters(m, err) < 0) {
		mlf_yolo_model_release(m);
		return -1;
	}
	return 0;
}

int mlf_yolo_model_from_yaml(struct mlf_yolo_model *m, const json_t *yaml, int device,
			     struct mlf_error *err)
{
	struct mlf_yolo_arch a;
	mlf_yolo_arch_init(&a);
	mlf_yolo_model_init(m);
	if (mlf_yolo_arch_from_yaml(&a, yaml, err) < 0)
		return -1;
	int rc = mlf_yolo_model_create(m, &a, device, err);
	mlf_yolo_arch_release(&a);
	return rc;
}

int mlf_yolo_model_from_ckpt(struct mlf_yolo_model *m, const struct mlf_ckpt *c, int device,
			     struct mlf_error *err)
{
	mlf_yolo_model_init(m);
	const json_t *yaml = json_object_get(c->meta, "yaml");
	if (!json_is_object(yaml))
		return mlf_fail(err, MLF_EX_DATAERR,
				"checkpoint has no model description (meta \"yaml\"); "
				"build the model from a yaml and load the weights into it");
	if (mlf_yolo_model_from_yaml(m, yaml, device, err) < 0)
		return mlf_error_prefix(err, "checkpoint's model description");
	if (mlf_yolo_model_load(m, c, 0, NULL, err) < 0) {
		mlf_yolo_model_release(m);
		return -1;
	}
	mlf_yolo_model_train(m, 0);
	return 0;
}

mlf_th *mlf_yolo_model_tensor(const struct mlf_yolo_model *m, const char *name)
{
	for (size_t i = 0; i < m->ntensors; i++)
		if (!strcmp(m->arch.params[i].name, name))
			return m->tensors[i];
	return NULL;
}

static const struct ymod *detect_mod(const struct mlf_yolo_model *m)
{
	if (!m->net || !m->net->nlayers)
		return NULL;
	return &m->net->layers[m->net->nlayers - 1].mods[0];
}

int mlf_yolo_model_strides(const struct mlf_yolo_model *m, double *strides, int max)
{
	const struct ymod *d = detect_mod(m);
	if (!d)
		return 0;
	for (int i = 0; i < d->nl && i < max; i++)
		strides[i] = d->strides[i];
	return d->nl;
}

int mlf_yolo_model_max_stride(const struct mlf_yolo_model *m)
{
	double s[MLF_YOLO_MAX_LEVELS], mx = 1;
	int n = mlf_yolo_model_strides(m, s, MLF_YOLO_MAX_LEVELS);
	for (int i = 0; i < n; i++)
		if (s[i] > mx)
			mx = s[i];
	return (int)mx;
}

void mlf_yolo_model_train(struct mlf_yolo_model *m, int on)
{
	m->training = !!on;
}

void mlf_yolo_model_set_fused(struct mlf_yolo_model *m, int on)
{
	m->fused = !!on;
}

void mlf_yolo_model_weights_changed(struct mlf_yolo_model *m)
{
	if (m->net)
		yolo_unfold(m->net);
}

void mlf_yolo_model_set_channels_last(struct mlf_yolo_model *m, int on)
{
	m->channels_last = !!on;
}

int mlf_yolo_model_weights_channels_last(struct mlf_yolo_model *m, struct mlf_error *err)
{
	for (size_t i = 0; m->channels_last && i < m->arch.nparams; i++) {
		if (mlf_th_ndim(m->tensors[i]) != 4)
			continue;
		mlf_th *cl = mlf_th_channels_last(m->tensors[i]);
		int rc = cl ? mlf_th_set_data(m->tensors[i], cl) : -1;
		mlf_th_free(cl);
		if (rc < 0)
			return mlf_th_fail(err, "model: weights to channels-last");
	}
	mlf_yolo_model_weights_changed(m);
	return 0;
}
