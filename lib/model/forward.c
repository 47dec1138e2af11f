/*
 * The forward pass: DetectionModel._predict_once over the resolved layers.
 * Each layer's output is freed as soon as the last layer reading it has run
 * (Ultralytics keeps only its `save` list; this is the same memory bound).
 */
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "model_internal.h"

static int check_input(const struct mlf_yolo_model *m, const mlf_th *x, struct mlf_error *err)
{
	int64_t s[MLF_TH_MAX_DIMS];
	int nd = mlf_th_shape(x, s, MLF_TH_MAX_DIMS);
	int stride = mlf_yolo_model_max_stride(m);
	if (nd != 4 || s[1] != m->arch.channels || s[0] < 1 || s[2] < stride || s[3] < stride ||
	    s[2] % stride || s[3] % stride)
		return mlf_fail(err, MLF_EX_USAGE,
				"model forward: input %s must be [batch, %d, H, W] with H and W multiples of %d",
				mlf_th_describe(x), m->arch.channels, stride);
	if (mlf_th_device(x) != m->device)
		return mlf_fail(err, MLF_EX_USAGE, "model forward: input %s is not on the model's device",
				mlf_th_describe(x));
	if (mlf_th_dtype(x) != MLF_DTYPE_F32 && mlf_th_dtype(x) != MLF_DTYPE_F16 &&
	    mlf_th_dtype(x) != MLF_DTYPE_BF16)
		return mlf_fail(err, MLF_EX_USAGE, "model forward: input %s is not floating point",
				mlf_th_describe(x));
	return 0;
}

/* Output of the layer at absolute index `k` (-1: the input). */
static mlf_th *from(mlf_th *in, mlf_th **y, int k)
{
	return k < 0 ? in : y[k];
}

static int run_layers(struct mlf_yolo_model *m, const struct yfwd *f, mlf_th *in, unsigned what,
		      struct mlf_yolo_output *out, mlf_th **y, struct mlf_error *err)
{
	struct yolo_net *n = m->net;
	for (size_t i = 0; i < n->nlayers; i++) {
		const struct ylayer *yl = &n->layers[i];
		const struct mlf_yolo_layer *l = yl->l;
		mlf_th *ins[MLF_YOLO_MAX_FROM];
		for (int j = 0; j < l->nfrom; j++)
			ins[j] = from(in, y, l->from_abs[j]);
		mlf_th *t = NULL;
		if (l->type == MLF_YOLO_DETECT) {
			if (yolo_detect_fwd(f, &yl->mods[0], ins, what, out) < 0)
				return mlf_th_fail(err, "model forward: layer %zu (Detect)", i);
			break;
		} else if (l->type == MLF_YOLO_CONCAT) {
			t = mlf_th_cat((size_t)l->nfrom, ins, 1);
		} else {
			t = ins[0];
			for (int j = 0; j < yl->nmods && t; j++)
				t = yolo_mod_fwd(f, &yl->mods[j], t);
		}
		if (!t)
			return mlf_th_fail(err, "model forward: layer %zu (%s)", i, mlf_yolo_module_name(l->type));
		y[i] = t;
		if (what & MLF_YOLO_OUT_TRACE)
			continue;
		for (int j = 0; j < l->nfrom; j++) {
			int k = l->from_abs[j];
			if (k >= 0 && y[k] && n->layers[k].last_use == (int)i) {
				mlf_th_free(y[k]);
				y[k] = NULL;
			}
		}
	}
	return 0;
}

int mlf_yolo_forward(struct mlf_yolo_model *m, const mlf_th *x, unsigned what,
		     struct mlf_yolo_output *out, struct mlf_error *err)
{
	memset(out, 0, sizeof(*out));
	if (!m->net)
		return mlf_fail(err, MLF_EX_USAGE, "model forward: the model is not built");
	if (check_input(m, x, err) < 0)
		return -1;
	struct yfwd f = { m->net, m->training, !m->training && m->fused };
	/* Outside the forward's scope: the folded weights outlive it. */
	if (f.fused && yolo_fold(m, err) < 0)
		return -1;
	struct yolo_net *n = m->net;
	mlf_th **y = mlf_xcalloc(n->nlayers, sizeof(*y));
	size_t mark = mlf_th_scope_open();
	mlf_th *in = (mlf_th *)x;
	int rc = 0;
	if (m->channels_last && !(in = mlf_th_channels_last(x)))
		rc = mlf_th_fail(err, "model forward: channels-last input");
	if (!rc)
		rc = run_layers(m, &f, in, what, out, y, err);
	if (!rc) {
		for (int i = 0; i < out->nlevels; i++)
			mlf_th_keep(out->level[i]);
		mlf_th_keep(out->decoded);
		if (what & MLF_YOLO_OUT_TRACE) {
			out->layer = mlf_xcalloc(n->nlayers, sizeof(*out->layer));
			out->nlayers = n->nlayers;
			for (size_t i = 0; i + 1 < n->nlayers; i++)
				out->layer[i] = mlf_th_keep(y[i]);
		}
	} else {
		memset(out, 0, sizeof(*out));
	}
	mlf_th_scope_close(mark);
	free(y);
	return rc;
}

void mlf_yolo_output_release(struct mlf_yolo_output *o)
{
	for (int i = 0; i < o->nlevels; i++)
		mlf_th_free(o->level[i]);
	mlf_th_free(o->decoded);
	for (size_t i = 0; i < o->nlayers; i++)
		mlf_th_free(o->layer[i]);
	free(o->layer);
	memset(o, 0, sizeof(*o));
}
