/*
 * Forward passes of the modules (ultralytics 8.4.190 nn/modules/conv.py,
 * block.py), operation for operation in the order Ultralytics runs them, so
 * that float results agree to rounding.  Called inside the forward's scope:
 * intermediates are left to it.  Each returns NULL with the shim's error set
 * when an operation fails (a NULL argument passes through).
 */
#include <stdint.h>
#include <stdlib.h>

#include "mlf/base.h"
#include "model_internal.h"

mlf_th *yolo_conv_fwd(const struct yfwd *f, int ci, const mlf_th *x)
{
	const struct yconv *c = &f->net->convs[ci];
	int pad = c->k / 2; /* autopad(k) with dilation 1 */
	mlf_th *y;
	if (f->fused && c->bn_w) {
		y = mlf_th_conv2d(x, c->fw, c->fb, c->s, pad, 1, c->g);
	} else {
		y = mlf_th_conv2d(x, c->w, c->b, c->s, pad, 1, c->g);
		if (c->bn_w) {
			if (c->act)
				y = mlf_th_batch_norm_silu(y, c->bn_w, c->bn_b, c->bn_mean, c->bn_var,
							   f->training, MLF_YOLO_BN_MOMENTUM, MLF_YOLO_BN_EPS);
			else
				y = mlf_th_batch_norm(y, c->bn_w, c->bn_b, c->bn_mean, c->bn_var, f->training,
						      MLF_YOLO_BN_MOMENTUM, MLF_YOLO_BN_EPS);
			/* nn.BatchNorm2d counts the batches it normalised in training. */
			if (y && f->training && mlf_th_add_(c->bn_count, f->net->one, 1.0) < 0)
				return NULL;
			return y;  /* activated above when c->act */
		}
	}
	if (!c->act || !y)
		return y;
	/* Out of place when training: autograd saves the input of an in-place
	 * SiLU by cloning it (its derivative needs it), so Ultralytics'
	 * SiLU(inplace=True) would cost a copy of every map for nothing.  The
	 * values are the same either way. */
	if (f->training)
		return mlf_th_unary(MLF_TH_SILU, y);
	return mlf_th_unary_(MLF_TH_SILU, y) < 0 ? NULL : y; /* y is this call's own */
}

static mlf_th *bneck_fwd(const struct yfwd *f, const struct ybneck *b, const mlf_th *x)
{
	mlf_th *y = yolo_conv_fwd(f, b->cv2, yolo_conv_fwd(f, b->cv1, x));
	return b->add ? mlf_th_binary(MLF_TH_ADD, x, y) : y;
}

/* Attention: qkv viewed as (B, heads, 2*key_dim + head_dim, N), per head
 * [q | k | v]; softmax((q*scale)^T k) over keys; v attn^T plus the depthwise
 * positional encoding of v; then proj. */
static mlf_th *attn_fwd(const struct yfwd *f, const struct yattn *a, const mlf_th *x)
{
	int64_t shape[4];
	if (mlf_th_shape(x, shape, 4) != 4)
		return NULL;
	int64_t B = shape[0], C = shape[1], H = shape[2], W = shape[3], N = H * W;
	int64_t qkv_shape[4] = { B, a->heads, 2 * a->key_dim + a->head_dim, N };
	mlf_th *qkv = mlf_th_reshape(yolo_conv_fwd(f, a->qkv, x), 4, qkv_shape);
	int64_t sizes[3] = { a->key_dim, a->key_dim, a->head_dim };
	mlf_th *p[3] = { NULL, NULL, NULL };
	if (!qkv || mlf_th_split(qkv, 3, sizes, 2, p) < 0)
		return NULL;
	mlf_th *q = p[0], *k = p[1], *v = p[2];
	mlf_th *attn = mlf_th_matmul(mlf_th_transpose(mlf_th_binary_s(MLF_TH_MUL, q, a->scale), -2, -1), k);
	attn = mlf_th_softmax(attn, -1);
	int64_t img[4] = { B, C, H, W };
	mlf_th *o = mlf_th_reshape(mlf_th_matmul(v, mlf_th_transpose(attn, -2, -1)), 4, img);
	mlf_th *pe = yolo_conv_fwd(f, a->pe, mlf_th_reshape(v, 4, img));
	return yolo_conv_fwd(f, a->proj, mlf_th_binary(MLF_TH_ADD, o, pe));
}

static mlf_th *psa_fwd(const struct yfwd *f, const struct ypsa *p, const mlf_th *x)
{
	mlf_th *y = mlf_th_binary(MLF_TH_ADD, x, attn_fwd(f, &p->attn, x));
	mlf_th *z = yolo_conv_fwd(f, p->ffn1, yolo_conv_fwd(f, p->ffn0, y));
	return mlf_th_binary(MLF_TH_ADD, y, z);
}

/* C3k: cv3(cat(m(cv1(x)), cv2(x))) */
static mlf_th *c3k_fwd(const struct yfwd *f, const struct yunit *u, const mlf_th *x)
{
	mlf_th *a = yolo_conv_fwd(f, u->cv1, x);
	for (int k = 0; k < u->n; k++)
		a = bneck_fwd(f, &u->m[k], a);
	mlf_th *parts[2] = { a, yolo_conv_fwd(f, u->cv2, x) };
	if (!parts[0] || !parts[1])
		return NULL;
	return yolo_conv_fwd(f, u->cv3, mlf_th_cat(2, parts, 1));
}

static mlf_th *unit_fwd(const struct yfwd *f, const struct yunit *u, const mlf_th *x)
{
	switch (u->kind) {
	case YU_BNECK:
		return bneck_fwd(f, &u->b, x);
	case YU_C3K:
		return c3k_fwd(f, u, x);
	case YU_ATTN:
		return psa_fwd(f, &u->psa, bneck_fwd(f, &u->b, x));
	}
	return NULL;
}

/* C2f / C3k2: cv1 split in two halves, each unit on the last piece, cv2 on
 * all pieces. */
static mlf_th *c2f_fwd(const struct yfwd *f, const struct ymod *md, const mlf_th *x)
{
	mlf_th *pieces[2 + 64];
	mlf_th **y = md->nunits <= 64 ? pieces : mlf_xcalloc((size_t)md->nunits + 2, sizeof(*y));
	mlf_th *r = NULL;
	int64_t sizes[2] = { md->c, md->c };
	mlf_th *t = yolo_conv_fwd(f, md->cv1, x);
	if (t && mlf_th_split(t, 2, sizes, 1, y) == 0) {
		int n = 2;
		for (int j = 0; j < md->nunits && y[n - 1]; j++, n++)
			y[n] = unit_fwd(f, &md->units[j], y[n - 1]);
		if (y[n - 1])
			r = yolo_conv_fwd(f, md->cv2, mlf_th_cat((size_t)n, y, 1));
	}
	if (y != pieces)
		free(y);
	return r;
}

static mlf_th *sppf_fwd(const struct yfwd *f, const struct ymod *md, const mlf_th *x)
{
	mlf_th *pieces[1 + YOLO_SPPF_MAX_POOLS];
	pieces[0] = yolo_conv_fwd(f, md->cv1, x);
	for (int j = 1; j <= md->pool_n; j++)
		if (!(pieces[j] = mlf_th_max_pool2d(pieces[j - 1], md->pool_k, 1, md->pool_k / 2)))
			return NULL;
	if (!pieces[0])
		return NULL;
	mlf_th *y = yolo_conv_fwd(f, md->cv2, mlf_th_cat((size_t)md->pool_n + 1, pieces, 1));
	return md->add ? mlf_th_binary(MLF_TH_ADD, y, x) : y;
}

/* C2PSA: cv1 split into a, b; b through the PSABlocks; cv2(cat(a, b)). */
static mlf_th *c2psa_fwd(const struct yfwd *f, const struct ymod *md, const mlf_th *x)
{
	mlf_th *ab[2] = { NULL, NULL };
	int64_t sizes[2] = { md->c, md->c };
	mlf_th *t = yolo_conv_fwd(f, md->cv1, x);
	if (!t || mlf_th_split(t, 2, sizes, 1, ab) < 0)
		return NULL;
	for (int j = 0; j < md->npsa; j++)
		ab[1] = psa_fwd(f, &md->psa[j], ab[1]);
	if (!ab[1])
		return NULL;
	return yolo_conv_fwd(f, md->cv2, mlf_th_cat(2, ab, 1));
}

mlf_th *yolo_mod_fwd(const struct yfwd *f, const struct ymod *md, const mlf_th *x)
{
	switch (md->type) {
	case MLF_YOLO_CONV:
		return yolo_conv_fwd(f, md->conv, x);
	case MLF_YOLO_C2F:
	case MLF_YOLO_C3K2:
		return c2f_fwd(f, md, x);
	case MLF_YOLO_SPPF:
		return sppf_fwd(f, md, x);
	case MLF_YOLO_C2PSA:
		return c2psa_fwd(f, md, x);
	case MLF_YOLO_UPSAMPLE:
		return mlf_th_upsample_nearest(x, md->scale);
	case MLF_YOLO_CONCAT:
	case MLF_YOLO_DETECT:
		break;  /* handled by the forward loop: they take several inputs */
	}
	return NULL;
}
