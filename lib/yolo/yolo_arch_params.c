/*
 * The parameters and buffers each module creates, in the order PyTorch
 * registers them (which is state_dict order).  Shapes follow the module
 * constructors of ultralytics 8.4.190 nn/modules/conv.py, block.py and
 * head.py (see docs/ultralytics-recipe.md).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "yolo_internal.h"

static int add(struct mlf_yolo_arch *a, const char *path, const char *leaf, int is_buffer,
	       int requires_grad, int ndim, const int64_t *shape, struct mlf_error *err)
{
	int64_t numel = 1;
	for (int d = 0; d < ndim; d++) {
		if (shape[d] <= 0)
			return mlf_fail(err, MLF_EX_DATAERR, "%s.%s would have a dimension of %lld",
					path, leaf, (long long)shape[d]);
		numel *= shape[d];
	}
	if (a->nparams == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 256;
		a->params = mlf_xrealloc(a->params, a->cap * sizeof(*a->params));
	}
	struct mlf_yolo_param *p = &a->params[a->nparams++];
	memset(p, 0, sizeof(*p));
	p->name = mlf_xasprintf("%s.%s", path, leaf);
	p->ndim = ndim;
	if (ndim)  /* scalars (num_batches_tracked) have no shape to copy */
		memcpy(p->shape, shape, (size_t)ndim * sizeof(*shape));
	p->numel = numel;
	p->is_buffer = is_buffer;
	p->requires_grad = requires_grad;
	return 0;
}

/* nn.Conv2d(c1, c2, k, groups=g, bias=bias) */
static int conv2d(struct mlf_yolo_arch *a, const char *path, int c1, int c2, int k, int g, int bias,
		  int requires_grad, struct mlf_error *err)
{
	if (g < 1 || c1 % g || c2 % g)
		return mlf_fail(err, MLF_EX_DATAERR, "%s: %d and %d channels do not divide into %d groups",
				path, c1, c2, g);
	int64_t w[4] = { c2, c1 / g, k, k }, b[1] = { c2 };
	if (add(a, path, "weight", 0, requires_grad, 4, w, err) < 0)
		return -1;
	return bias ? add(a, path, "bias", 0, 1, 1, b, err) : 0;
}

int yolo_conv(struct mlf_yolo_arch *a, const char *path, int c1, int c2, int k, int g,
	      struct mlf_error *err)
{
	char *conv = mlf_xasprintf("%s.conv", path), *bn = mlf_xasprintf("%s.bn", path);
	int64_t c[1] = { c2 };
	int rc = conv2d(a, conv, c1, c2, k, g, 0, 1, err);
	if (!rc)
		rc = add(a, bn, "weight", 0, 1, 1, c, err);
	if (!rc)
		rc = add(a, bn, "bias", 0, 1, 1, c, err);
	if (!rc)
		rc = add(a, bn, "running_mean", 1, 0, 1, c, err);
	if (!rc)
		rc = add(a, bn, "running_var", 1, 0, 1, c, err);
	if (!rc)
		rc = add(a, bn, "num_batches_tracked", 1, 0, 0, NULL, err);
	free(conv);
	free(bn);
	return rc;
}

/* Conv at "<path>.<fmt...>". */
static int conv_at(struct mlf_yolo_arch *a, int c1, int c2, int k, int g, struct mlf_error *err,
		   const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static int conv_at(struct mlf_yolo_arch *a, int c1, int c2, int k, int g, struct mlf_error *err,
		   const char *fmt, ...)
{
	struct mlf_buf b = MLF_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	mlf_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	int rc = yolo_conv(a, b.data, c1, c2, k, g, err);
	mlf_buf_release(&b);
	return rc;
}

/* Bottleneck(c1, c2, shortcut, g, k=(k0, k1), e) */
static int bottleneck(struct mlf_yolo_arch *a, const char *path, int c1, int c2, int g, int k0, int k1,
		      double e, struct mlf_error *err)
{
	int c_ = (int)(c2 * e);
	if (conv_at(a, c1, c_, k0, 1, err, "%s.cv1", path) < 0)
		return -1;
	return conv_at(a, c_, c2, k1, g, err, "%s.cv2", path);
}

/* C3k(c1, c2, n, shortcut, g, e=0.5, k=3): a C3 whose bottlenecks are k x k. */
static int c3k(struct mlf_yolo_arch *a, const char *path, int c1, int c2, int n, int g,
	       struct mlf_error *err)
{
	int c_ = (int)(c2 * 0.5);
	if (conv_at(a, c1, c_, 1, 1, err, "%s.cv1", path) < 0 ||
	    conv_at(a, c1, c_, 1, 1, err, "%s.cv2", path) < 0 ||
	    conv_at(a, 2 * c_, c2, 1, 1, err, "%s.cv3", path) < 0)
		return -1;
	for (int j = 0; j < n; j++) {
		char *m = mlf_xasprintf("%s.m.%d", path, j);
		int rc = bottleneck(a, m, c_, c_, g, 3, 3, 1.0, err);
		free(m);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* PSABlock(c, attn_ratio=0.5, num_heads) */
static int psablock(struct mlf_yolo_arch *a, const char *path, int c, int heads, struct mlf_error *err)
{
	int key_dim = (int)((c / heads) * 0.5);
	int h = c + 2 * key_dim * heads;
	if (conv_at(a, c, h, 1, 1, err, "%s.attn.qkv", path) < 0 ||
	    conv_at(a, c, c, 1, 1, err, "%s.attn.proj", path) < 0 ||
	    conv_at(a, c, c, 3, c, err, "%s.attn.pe", path) < 0 ||
	    conv_at(a, c, 2 * c, 1, 1, err, "%s.ffn.0", path) < 0)
		return -1;
	return conv_at(a, 2 * c, c, 1, 1, err, "%s.ffn.1", path);
}

static int psa_heads(int c)
{
	return c / 64 > 1 ? c / 64 : 1;
}

/* C2f and C3k2 share cv1/cv2; only their `m` differs. */
static int c2f_like(struct mlf_yolo_arch *a, const char *path, const struct mlf_yolo_layer *l,
		    struct mlf_error *err)
{
	int c = l->hidden, n = l->repeats;
	if (conv_at(a, l->c1, 2 * c, 1, 1, err, "%s.cv1", path) < 0 ||
	    conv_at(a, (2 + n) * c, l->c2, 1, 1, err, "%s.cv2", path) < 0)
		return -1;
	for (int j = 0; j < n; j++) {
		char *m = mlf_xasprintf("%s.m.%d", path, j);
		int rc;
		if (l->type == MLF_YOLO_C2F) {
			rc = bottleneck(a, m, c, c, l->g, 3, 3, 1.0, err);
		} else if (l->attn) {
			char *b0 = mlf_xasprintf("%s.0", m), *b1 = mlf_xasprintf("%s.1", m);
			rc = bottleneck(a, b0, c, c, l->g, 3, 3, 0.5, err);
			if (!rc)
				rc = psablock(a, b1, c, psa_heads(c), err);
			free(b0);
			free(b1);
		} else if (l->c3k) {
			rc = c3k(a, m, c, c, 2, l->g, err);
		} else {
			rc = bottleneck(a, m, c, c, l->g, 3, 3, 0.5, err);
		}
		free(m);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int c2psa(struct mlf_yolo_arch *a, const char *path, const struct mlf_yolo_layer *l,
		 struct mlf_error *err)
{
	int c = l->hidden;
	if (conv_at(a, l->c1, 2 * c, 1, 1, err, "%s.cv1", path) < 0 ||
	    conv_at(a, 2 * c, l->c1, 1, 1, err, "%s.cv2", path) < 0)
		return -1;
	for (int j = 0; j < l->repeats; j++) {
		char *m = mlf_xasprintf("%s.m.%d", path, j);
		int rc = psablock(a, m, c, l->heads, err);
		free(m);
		if (rc < 0)
			return -1;
	}
	return 0;
}

void mlf_yolo_detect_widths(const struct mlf_yolo_layer *l, int *box_c, int *cls_c)
{
	int ch0 = l->ch[0], c2 = 16, c3 = l->nc < 100 ? l->nc : 100;
	if (ch0 / 4 > c2)
		c2 = ch0 / 4;
	if (4 * l->reg_max > c2)
		c2 = 4 * l->reg_max;
	if (ch0 > c3)
		c3 = ch0;
	*box_c = c2;
	*cls_c = c3;
}

/* cv2 (box) and cv3 (cls) branches under `head` ("cv2"/"cv3" or "one2one_cv2"/...). */
static int detect_branches(struct mlf_yolo_arch *a, const char *path, const struct mlf_yolo_layer *l,
			   const char *box, const char *cls, struct mlf_error *err)
{
	int c2, c3;
	mlf_yolo_detect_widths(l, &c2, &c3);
	for (int i = 0; i < l->nin; i++) {
		int x = l->ch[i];
		if (conv_at(a, x, c2, 3, 1, err, "%s.%s.%d.0", path, box, i) < 0 ||
		    conv_at(a, c2, c2, 3, 1, err, "%s.%s.%d.1", path, box, i) < 0)
			return -1;
		char *p = mlf_xasprintf("%s.%s.%d.2", path, box, i);
		int rc = conv2d(a, p, c2, 4 * l->reg_max, 1, 1, 1, 1, err);
		free(p);
		if (rc < 0)
			return -1;
	}
	for (int i = 0; i < l->nin; i++) {
		int x = l->ch[i];
		if (l->legacy) {
			if (conv_at(a, x, c3, 3, 1, err, "%s.%s.%d.0", path, cls, i) < 0 ||
			    conv_at(a, c3, c3, 3, 1, err, "%s.%s.%d.1", path, cls, i) < 0)
				return -1;
		} else {
			/* DWConv(c, c, 3) has groups gcd(c, c) = c. */
			if (conv_at(a, x, x, 3, x, err, "%s.%s.%d.0.0", path, cls, i) < 0 ||
			    conv_at(a, x, c3, 1, 1, err, "%s.%s.%d.0.1", path, cls, i) < 0 ||
			    conv_at(a, c3, c3, 3, c3, err, "%s.%s.%d.1.0", path, cls, i) < 0 ||
			    conv_at(a, c3, c3, 1, 1, err, "%s.%s.%d.1.1", path, cls, i) < 0)
				return -1;
		}
		char *p = mlf_xasprintf("%s.%s.%d.2", path, cls, i);
		int rc = conv2d(a, p, c3, l->nc, 1, 1, 1, 1, err);
		free(p);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int detect(struct mlf_yolo_arch *a, const char *path, const struct mlf_yolo_layer *l,
		  struct mlf_error *err)
{
	if (detect_branches(a, path, l, "cv2", "cv3", err) < 0)
		return -1;
	if (l->reg_max > 1) {
		/* DFL: fixed bin weights 0..reg_max-1, never trained. */
		char *p = mlf_xasprintf("%s.dfl.conv", path);
		int rc = conv2d(a, p, l->reg_max, 1, 1, 1, 0, 0, err);
		free(p);
		if (rc < 0)
			return -1;
	}
	if (l->end2end)
		return detect_branches(a, path, l, "one2one_cv2", "one2one_cv3", err);
	return 0;
}

/* One instance of the layer's module at `path`. */
static int module_params(struct mlf_yolo_arch *a, const char *path, const struct mlf_yolo_layer *l,
			 struct mlf_error *err)
{
	switch (l->type) {
	case MLF_YOLO_CONV:
		return yolo_conv(a, path, l->c1, l->c2, l->k, l->g, err);
	case MLF_YOLO_C2F:
	case MLF_YOLO_C3K2:
		return c2f_like(a, path, l, err);
	case MLF_YOLO_SPPF:
		if (conv_at(a, l->c1, l->hidden, 1, 1, err, "%s.cv1", path) < 0)
			return -1;
		return conv_at(a, l->hidden * (l->sppf_n + 1), l->c2, 1, 1, err, "%s.cv2", path);
	case MLF_YOLO_C2PSA:
		return c2psa(a, path, l, err);
	case MLF_YOLO_DETECT:
		return detect(a, path, l, err);
	case MLF_YOLO_UPSAMPLE:
	case MLF_YOLO_CONCAT:
		return 0;
	}
	return mlf_fail(err, MLF_EX_SOFTWARE, "%s: unhandled module", path);
}

int yolo_layer_params(struct mlf_yolo_arch *a, struct mlf_yolo_layer *l, struct mlf_error *err)
{
	int rc = 0;
	l->param_first = a->nparams;
	/* Modules without a repeat argument become nn.Sequential of n copies. */
	int copies = yolo_module_takes_repeats(l->type) ? 1 : l->repeats;
	if (copies <= 1) {
		char *path = mlf_xasprintf("model.%d", l->index);
		rc = module_params(a, path, l, err);
		free(path);
	} else {
		for (int j = 0; j < copies && !rc; j++) {
			char *path = mlf_xasprintf("model.%d.%d", l->index, j);
			rc = module_params(a, path, l, err);
			free(path);
		}
	}
	l->nparams = a->nparams - l->param_first;
	return rc;
}
