/*
 * The module graph of a model, built by walking the architecture's layers in
 * the order PyTorch registers their submodules, taking each state_dict
 * entry as its module asks for it.  The names are checked against the
 * architecture's as they are taken, so this file and lib/yolo/yolo_arch_params.c
 * cannot silently disagree.  Constructors mirrored: Conv, DWConv,
 * Bottleneck, C2f, C3k2, C3k, SPPF, C2PSA, PSABlock, Attention, Detect
 * (ultralytics 8.4.190 nn/modules/conv.py, block.py, head.py; see
 * docs/ultralytics-recipe.md).
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "model_internal.h"

struct builder {
	struct mlf_yolo_model *m;
	struct yolo_net *n;
	size_t next;            /* the next arch parameter to take */
	struct mlf_error *err;
};

/* The tensor "<path>.<leaf>", which must be the next one in state_dict order. */
static mlf_th *take(struct builder *b, const char *path, const char *leaf)
{
	const struct mlf_yolo_arch *a = &b->m->arch;
	char *want = mlf_xasprintf("%s.%s", path, leaf);
	mlf_th *t = NULL;
	if (b->next >= a->nparams)
		mlf_fail(b->err, MLF_EX_SOFTWARE, "model: %s is missing from the architecture", want);
	else if (strcmp(a->params[b->next].name, want))
		mlf_fail(b->err, MLF_EX_SOFTWARE, "model: expected %s, the architecture has %s next",
			 want, a->params[b->next].name);
	else
		t = b->m->tensors[b->next++];
	free(want);
	return t;
}

static struct yconv *new_conv(struct builder *b, int *index)
{
	struct yolo_net *n = b->n;
	if (n->nconvs == n->cap) {
		n->cap = n->cap ? 2 * n->cap : 128;
		n->convs = mlf_xrealloc(n->convs, n->cap * sizeof(*n->convs));
	}
	*index = (int)n->nconvs;
	struct yconv *c = &n->convs[n->nconvs++];
	memset(c, 0, sizeof(*c));
	return c;
}

/* Conv(c1, c2, k, s, g, act) at "<fmt...>"; returns its index or -1. */
static int conv(struct builder *b, int c1, int c2, int k, int s, int g, int act, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));
static int conv(struct builder *b, int c1, int c2, int k, int s, int g, int act, const char *fmt, ...)
{
	struct mlf_buf p = MLF_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	mlf_buf_vaddf(&p, fmt, ap);
	va_end(ap);
	char *cp = mlf_xasprintf("%s.conv", p.data), *bp = mlf_xasprintf("%s.bn", p.data);
	int i;
	struct yconv *c = new_conv(b, &i);
	c->c1 = c1, c->c2 = c2, c->k = k, c->s = s, c->g = g, c->act = act;
	int ok = (c->w = take(b, cp, "weight")) && (c->bn_w = take(b, bp, "weight")) &&
		 (c->bn_b = take(b, bp, "bias")) && (c->bn_mean = take(b, bp, "running_mean")) &&
		 (c->bn_var = take(b, bp, "running_var")) &&
		 (c->bn_count = take(b, bp, "num_batches_tracked"));
	free(cp);
	free(bp);
	mlf_buf_release(&p);
	return ok ? i : -1;
}

/* nn.Conv2d(c1, c2, k, bias=bias) at "<path>". */
static int conv2d(struct builder *b, int c1, int c2, int k, int bias, const char *path)
{
	int i;
	struct yconv *c = new_conv(b, &i);
	c->c1 = c1, c->c2 = c2, c->k = k, c->s = 1, c->g = 1;
	if (!(c->w = take(b, path, "weight")) || (bias && !(c->b = take(b, path, "bias"))))
		return -1;
	return i;
}

/* Bottleneck(c1, c2, shortcut, g, k=(k0, k1), e) */
static int bottleneck(struct builder *b, const char *path, int c1, int c2, int shortcut, int g,
		      int k0, int k1, double e, struct ybneck *bn)
{
	int c_ = (int)(c2 * e);
	bn->add = shortcut && c1 == c2;
	if ((bn->cv1 = conv(b, c1, c_, k0, 1, 1, 1, "%s.cv1", path)) < 0)
		return -1;
	return (bn->cv2 = conv(b, c_, c2, k1, 1, g, 1, "%s.cv2", path)) < 0 ? -1 : 0;
}

/* PSABlock(c, attn_ratio=0.5, num_heads): Attention then the feed-forward pair. */
static int psablock(struct builder *b, const char *path, int c, int heads, struct ypsa *p)
{
	struct yattn *at = &p->attn;
	at->heads = heads;
	at->head_dim = c / heads;
	at->key_dim = (int)(at->head_dim * 0.5);
	if (at->key_dim < 1)
		return mlf_fail(b->err, MLF_EX_DATAERR, "%s: %d channels over %d heads leave no key dimension",
				path, c, heads);
	at->scale = pow(at->key_dim, -0.5); /* key_dim**-0.5 */
	int h = c + 2 * at->key_dim * heads;
	if ((at->qkv = conv(b, c, h, 1, 1, 1, 0, "%s.attn.qkv", path)) < 0 ||
	    (at->proj = conv(b, c, c, 1, 1, 1, 0, "%s.attn.proj", path)) < 0 ||
	    (at->pe = conv(b, c, c, 3, 1, c, 0, "%s.attn.pe", path)) < 0 ||
	    (p->ffn0 = conv(b, c, 2 * c, 1, 1, 1, 1, "%s.ffn.0", path)) < 0 ||
	    (p->ffn1 = conv(b, 2 * c, c, 1, 1, 1, 0, "%s.ffn.1", path)) < 0)
		return -1;
	return 0;
}

/* C2f, and C3k2 (a C2f whose `m` holds Bottleneck e=0.5, C3k, or Bottleneck + PSABlock). */
static int c2f_like(struct builder *b, const char *path, const struct mlf_yolo_layer *l, struct ymod *md)
{
	int c = l->hidden, n = l->repeats;
	md->c = c;
	if ((md->cv1 = conv(b, l->c1, 2 * c, 1, 1, 1, 1, "%s.cv1", path)) < 0 ||
	    (md->cv2 = conv(b, (2 + n) * c, l->c2, 1, 1, 1, 1, "%s.cv2", path)) < 0)
		return -1;
	md->units = mlf_xcalloc((size_t)(n > 0 ? n : 1), sizeof(*md->units));
	md->nunits = n;
	for (int j = 0; j < n; j++) {
		struct yunit *u = &md->units[j];
		char *mp = mlf_xasprintf("%s.m.%d", path, j);
		int rc = 0;
		if (l->type == MLF_YOLO_C2F) {
			u->kind = YU_BNECK;
			rc = bottleneck(b, mp, c, c, l->shortcut, l->g, 3, 3, 1.0, &u->b);
		} else if (l->attn) {
			u->kind = YU_ATTN;
			char *b0 = mlf_xasprintf("%s.0", mp), *b1 = mlf_xasprintf("%s.1", mp);
			rc = bottleneck(b, b0, c, c, l->shortcut, l->g, 3, 3, 0.5, &u->b);
			if (!rc)
				rc = psablock(b, b1, c, c / 64 > 1 ? c / 64 : 1, &u->psa);
			free(b0);
			free(b1);
		} else if (l->c3k) {
			/* C3k(c, c, 2, shortcut, g): a C3 with 3x3 bottlenecks, e=1.0 inside. */
			u->kind = YU_C3K;
			int c_ = (int)(c * 0.5);
			u->n = 2;
			u->m = mlf_xcalloc((size_t)u->n, sizeof(*u->m));
			if ((u->cv1 = conv(b, c, c_, 1, 1, 1, 1, "%s.cv1", mp)) < 0 ||
			    (u->cv2 = conv(b, c, c_, 1, 1, 1, 1, "%s.cv2", mp)) < 0 ||
			    (u->cv3 = conv(b, 2 * c_, c, 1, 1, 1, 1, "%s.cv3", mp)) < 0)
				rc = -1;
			for (int k = 0; !rc && k < u->n; k++) {
				char *bp = mlf_xasprintf("%s.m.%d", mp, k);
				rc = bottleneck(b, bp, c_, c_, l->shortcut, l->g, 3, 3, 1.0, &u->m[k]);
				free(bp);
			}
		} else {
			u->kind = YU_BNECK;
			rc = bottleneck(b, mp, c, c, l->shortcut, l->g, 3, 3, 0.5, &u->b);
		}
		free(mp);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int c2psa(struct builder *b, const char *path, const struct mlf_yolo_layer *l, struct ymod *md)
{
	int c = l->hidden;
	md->c = c;
	if ((md->cv1 = conv(b, l->c1, 2 * c, 1, 1, 1, 1, "%s.cv1", path)) < 0 ||
	    (md->cv2 = conv(b, 2 * c, l->c1, 1, 1, 1, 1, "%s.cv2", path)) < 0)
		return -1;
	md->psa = mlf_xcalloc((size_t)(l->repeats > 0 ? l->repeats : 1), sizeof(*md->psa));
	md->npsa = l->repeats;
	for (int j = 0; j < l->repeats; j++) {
		char *mp = mlf_xasprintf("%s.m.%d", path, j);
		int rc = psablock(b, mp, c, l->heads, &md->psa[j]);
		free(mp);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* The yaml row [from, repeats, module, args] of layer `index`. */
static const json_t *yaml_args(const struct mlf_yolo_arch *a, int index)
{
	const json_t *bb = json_object_get(a->yaml, "backbone"), *hd = json_object_get(a->yaml, "head");
	size_t nb = json_array_size(bb);
	const json_t *row = (size_t)index < nb ? json_array_get(bb, (size_t)index)
					       : json_array_get(hd, (size_t)index - nb);
	return json_array_get(row, 3);
}

/*
 * SPPF's cv1 has no activation in 8.4.190 (the YOLO26 SPPF), except that
 * parse_model puts SiLU back for yaml rows of at most [c2, k] (every
 * YOLOv8/YOLO11 yaml), which is also what their released weights were
 * trained with.
 */
static int sppf_cv1_act(const struct mlf_yolo_arch *a, int index)
{
	return json_array_size(yaml_args(a, index)) <= 2;
}

/* What the forward does not implement fails here, not as wrong numbers later. */
static int check_supported(struct builder *b, const struct mlf_yolo_layer *l)
{
	const json_t *args = yaml_args(&b->m->arch, l->index), *v;
	if (l->type == MLF_YOLO_CONCAT) {
		v = json_array_get(args, 0);
		if (v && !(json_is_integer(v) && json_integer_value(v) == 1))
			return mlf_fail(b->err, MLF_EX_DATAERR,
					"model layer %d (Concat): only concatenation along channels "
					"(dimension 1) is supported",
					l->index);
	} else if (l->type == MLF_YOLO_UPSAMPLE) {
		v = json_array_get(args, 2);
		if (v && !(json_is_string(v) && !strcmp(json_string_value(v), "nearest")))
			return mlf_fail(b->err, MLF_EX_DATAERR,
					"model layer %d (nn.Upsample): only mode 'nearest' is supported", l->index);
	}
	return 0;
}

/* Detect's box (cv2) and class (cv3) branches under names box/cls. */
static int detect_branches(struct builder *b, const char *path, const struct mlf_yolo_layer *l,
			   const char *box, const char *cls, struct ymod *md)
{
	int c2, c3;
	mlf_yolo_detect_widths(l, &c2, &c3);
	for (int i = 0; i < l->nin; i++) {
		int x = l->ch[i];
		int *o = md->box[i];
		if ((o[0] = conv(b, x, c2, 3, 1, 1, 1, "%s.%s.%d.0", path, box, i)) < 0 ||
		    (o[1] = conv(b, c2, c2, 3, 1, 1, 1, "%s.%s.%d.1", path, box, i)) < 0)
			return -1;
		char *p = mlf_xasprintf("%s.%s.%d.2", path, box, i);
		o[2] = conv2d(b, c2, 4 * l->reg_max, 1, 1, p);
		free(p);
		if (o[2] < 0)
			return -1;
	}
	md->ncls = l->legacy ? 3 : 5;
	for (int i = 0; i < l->nin; i++) {
		int x = l->ch[i];
		int *o = md->cls[i];
		if (l->legacy) {
			if ((o[0] = conv(b, x, c3, 3, 1, 1, 1, "%s.%s.%d.0", path, cls, i)) < 0 ||
			    (o[1] = conv(b, c3, c3, 3, 1, 1, 1, "%s.%s.%d.1", path, cls, i)) < 0)
				return -1;
		} else {
			/* DWConv(c, c, 3) is a Conv with groups gcd(c, c) = c. */
			if ((o[0] = conv(b, x, x, 3, 1, x, 1, "%s.%s.%d.0.0", path, cls, i)) < 0 ||
			    (o[1] = conv(b, x, c3, 1, 1, 1, 1, "%s.%s.%d.0.1", path, cls, i)) < 0 ||
			    (o[2] = conv(b, c3, c3, 3, 1, c3, 1, "%s.%s.%d.1.0", path, cls, i)) < 0 ||
			    (o[3] = conv(b, c3, c3, 1, 1, 1, 1, "%s.%s.%d.1.1", path, cls, i)) < 0)
				return -1;
		}
		char *p = mlf_xasprintf("%s.%s.%d.2", path, cls, i);
		o[md->ncls - 1] = conv2d(b, c3, l->nc, 1, 1, p);
		free(p);
		if (o[md->ncls - 1] < 0)
			return -1;
	}
	return 0;
}

static int detect(struct builder *b, const char *path, const struct mlf_yolo_layer *l, struct ymod *md)
{
	if (l->nin > MLF_YOLO_MAX_LEVELS)
		return mlf_fail(b->err, MLF_EX_DATAERR, "%s: %d levels (at most %d)", path, l->nin,
				MLF_YOLO_MAX_LEVELS);
	md->nl = l->nin;
	md->nc = l->nc;
	md->reg_max = l->reg_max;
	md->dfl = -1;
	for (int i = 0; i < l->nin; i++)
		md->strides[i] = l->strides[i];
	if (detect_branches(b, path, l, "cv2", "cv3", md) < 0)
		return -1;
	if (l->reg_max > 1) {
		char *p = mlf_xasprintf("%s.dfl.conv", path);
		md->dfl = conv2d(b, l->reg_max, 1, 1, 0, p);
		free(p);
		if (md->dfl < 0)
			return -1;
	}
	if (l->end2end) {
		/* The one-to-one head is loaded and saved, but the forward uses the
		 * one-to-many head (end2end inference is not implemented). */
		struct ymod o2o;
		memset(&o2o, 0, sizeof(o2o));
		return detect_branches(b, path, l, "one2one_cv2", "one2one_cv3", &o2o);
	}
	return 0;
}

static int module(struct builder *b, const char *path, const struct mlf_yolo_layer *l, struct ymod *md)
{
	md->type = l->type;
	switch (l->type) {
	case MLF_YOLO_CONV:
		md->conv = conv(b, l->c1, l->c2, l->k, l->s, l->g, 1, "%s", path);
		return md->conv < 0 ? -1 : 0;
	case MLF_YOLO_C2F:
	case MLF_YOLO_C3K2:
		return c2f_like(b, path, l, md);
	case MLF_YOLO_SPPF:
		md->pool_k = l->k;
		md->pool_n = l->sppf_n;
		md->add = l->shortcut && l->c1 == l->c2;
		if (md->pool_n > YOLO_SPPF_MAX_POOLS)
			return mlf_fail(b->err, MLF_EX_DATAERR, "%s: %d pools (at most %d)", path, md->pool_n,
					YOLO_SPPF_MAX_POOLS);
		if ((md->cv1 = conv(b, l->c1, l->hidden, 1, 1, 1, sppf_cv1_act(&b->m->arch, l->index),
				    "%s.cv1", path)) < 0)
			return -1;
		md->cv2 = conv(b, l->hidden * (l->sppf_n + 1), l->c2, 1, 1, 1, 1, "%s.cv2", path);
		return md->cv2 < 0 ? -1 : 0;
	case MLF_YOLO_C2PSA:
		return c2psa(b, path, l, md);
	case MLF_YOLO_UPSAMPLE:
		md->scale = (int)l->upsample;
		if (md->scale != l->upsample)
			return mlf_fail(b->err, MLF_EX_DATAERR,
					"%s: upsampling by %g is not supported (whole factors only)", path,
					l->upsample);
		return 0;
	case MLF_YOLO_CONCAT:
		return 0;
	case MLF_YOLO_DETECT:
		return detect(b, path, l, md);
	}
	return mlf_fail(b->err, MLF_EX_SOFTWARE, "%s: unhandled module", path);
}

static void free_mod(struct ymod *md)
{
	for (int j = 0; j < md->nunits; j++)
		free(md->units[j].m);
	free(md->units);
	free(md->psa);
}

void yolo_net_free(struct yolo_net *n)
{
	if (!n)
		return;
	yolo_unfold(n);
	for (size_t i = 0; i < n->nlayers; i++) {
		for (int j = 0; j < n->layers[i].nmods; j++)
			free_mod(&n->layers[i].mods[j]);
		free(n->layers[i].mods);
	}
	free(n->layers);
	free(n->convs);
	mlf_th_free(n->one);
	free(n);
}

static int build_layers(struct builder *b)
{
	const struct mlf_yolo_arch *a = &b->m->arch;
	struct yolo_net *n = b->n;
	/* parse_model's `activation` key replaces Conv's SiLU everywhere. */
	const json_t *act = json_object_get(a->yaml, "activation");
	if (act && !(json_is_string(act) && !strcmp(json_string_value(act), "nn.SiLU()")))
		return mlf_fail(b->err, MLF_EX_DATAERR,
				"model yaml: activation %s is not supported (only nn.SiLU())",
				json_is_string(act) ? json_string_value(act) : "(not a string)");
	n->layers = mlf_xcalloc(a->nlayers ? a->nlayers : 1, sizeof(*n->layers));
	n->nlayers = a->nlayers;
	for (size_t i = 0; i < a->nlayers; i++) {
		const struct mlf_yolo_layer *l = &a->layers[i];
		struct ylayer *yl = &n->layers[i];
		yl->l = l;
		yl->last_use = -1;
		if (l->type == MLF_YOLO_DETECT && i + 1 != a->nlayers)
			return mlf_fail(b->err, MLF_EX_DATAERR,
					"model layer %zu (Detect): Detect must be the last layer", i);
		if (check_supported(b, l) < 0)
			return -1;
		/* Modules without a repeat argument are n copies in nn.Sequential. */
		int copies = (l->type == MLF_YOLO_C2F || l->type == MLF_YOLO_C3K2 ||
			      l->type == MLF_YOLO_C2PSA || l->repeats < 1) ? 1 : l->repeats;
		yl->mods = mlf_xcalloc((size_t)copies, sizeof(*yl->mods));
		yl->nmods = copies;
		for (int j = 0; j < copies; j++) {
			char *path = copies > 1 ? mlf_xasprintf("model.%zu.%d", i, j) : mlf_xasprintf("model.%zu", i);
			int rc = module(b, path, l, &yl->mods[j]);
			free(path);
			if (rc < 0)
				return -1;
		}
		for (int f = 0; f < l->nfrom; f++)
			if (l->from_abs[f] >= 0 && n->layers[l->from_abs[f]].last_use < (int)i)
				n->layers[l->from_abs[f]].last_use = (int)i;
	}
	if (!a->nlayers || a->layers[a->nlayers - 1].type != MLF_YOLO_DETECT)
		return mlf_fail(b->err, MLF_EX_DATAERR, "model: the last layer must be Detect");
	if (b->next != a->nparams)
		return mlf_fail(b->err, MLF_EX_SOFTWARE, "model: %s of the architecture belongs to no module",
				a->params[b->next].name);
	return 0;
}

int yolo_net_build(struct mlf_yolo_model *m, struct mlf_error *err)
{
	struct yolo_net *n = mlf_xcalloc(1, sizeof(*n));
	struct builder b = { m, n, 0, err };
	if (build_layers(&b) < 0) {
		yolo_net_free(n);
		return -1;
	}
	n->one = yolo_own(mlf_th_scalar(1, MLF_DTYPE_I64, m->device));
	if (!n->one) {
		yolo_net_free(n);
		return mlf_th_fail(err, "model: making a counter increment");
	}
	m->net = n;
	return 0;
}
