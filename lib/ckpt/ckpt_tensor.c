/* Checkpoint container, dtype table and dtype conversion. */
#include "mlf/ckpt.h"

#include <stdlib.h>
#include <string.h>

#include "ckpt_internal.h"
#include "mlf/base.h"

static const struct {
	const char *torch, *st;
	size_t size;
} dtypes[MLF_DTYPE_COUNT] = {
	[MLF_DTYPE_F32] = { "float32", "F32", 4 },
	[MLF_DTYPE_F16] = { "float16", "F16", 2 },
	[MLF_DTYPE_BF16] = { "bfloat16", "BF16", 2 },
	[MLF_DTYPE_F64] = { "float64", "F64", 8 },
	[MLF_DTYPE_I64] = { "int64", "I64", 8 },
	[MLF_DTYPE_I32] = { "int32", "I32", 4 },
	[MLF_DTYPE_I16] = { "int16", "I16", 2 },
	[MLF_DTYPE_I8] = { "int8", "I8", 1 },
	[MLF_DTYPE_U8] = { "uint8", "U8", 1 },
	[MLF_DTYPE_BOOL] = { "bool", "BOOL", 1 },
};

size_t mlf_dtype_size(enum mlf_dtype t)
{
	return (unsigned)t < MLF_DTYPE_COUNT ? dtypes[t].size : 0;
}

const char *mlf_dtype_name(enum mlf_dtype t)
{
	return (unsigned)t < MLF_DTYPE_COUNT ? dtypes[t].torch : "?";
}

const char *mlf_dtype_st_name(enum mlf_dtype t)
{
	return (unsigned)t < MLF_DTYPE_COUNT ? dtypes[t].st : "?";
}

int mlf_dtype_parse(const char *name, enum mlf_dtype *t)
{
	if (!strncmp(name, "torch.", 6))
		name += 6;
	for (int i = 0; i < MLF_DTYPE_COUNT; i++) {
		if (!strcmp(name, dtypes[i].torch) || !strcmp(name, dtypes[i].st)) {
			*t = (enum mlf_dtype)i;
			return 0;
		}
	}
	return -1;
}

int64_t mlf_tensor_numel(const struct mlf_tensor *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= t->shape[i];
	return n;
}

void mlf_ckpt_init(struct mlf_ckpt *c)
{
	memset(c, 0, sizeof(*c));
}

void mlf_ckpt_release(struct mlf_ckpt *c)
{
	for (size_t i = 0; i < c->ntensors; i++) {
		free(c->tensors[i].name);
		free(c->tensors[i].data);
	}
	free(c->tensors);
	json_decref(c->meta);
	memset(c, 0, sizeof(*c));
}

const struct mlf_tensor *mlf_ckpt_find(const struct mlf_ckpt *c, const char *name)
{
	for (size_t i = 0; i < c->ntensors; i++)
		if (!strcmp(c->tensors[i].name, name))
			return &c->tensors[i];
	return NULL;
}

struct mlf_tensor *mlf_ckpt_add(struct mlf_ckpt *c, const char *name, enum mlf_dtype dtype,
				int ndim, const int64_t *shape, struct mlf_error *err)
{
	if ((unsigned)dtype >= MLF_DTYPE_COUNT)
		return mlf_fail(err, MLF_EX_DATAERR, "tensor '%s': unknown dtype", name), NULL;
	if (ndim < 0 || ndim > MLF_TENSOR_MAX_DIMS)
		return mlf_fail(err, MLF_EX_DATAERR, "tensor '%s': %d dimensions (at most %d)",
				name, ndim, MLF_TENSOR_MAX_DIMS), NULL;
	uint64_t bytes = mlf_dtype_size(dtype);
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0)
			return mlf_fail(err, MLF_EX_DATAERR, "tensor '%s': negative dimension %lld",
					name, (long long)shape[i]), NULL;
		if (shape[i] && bytes > MLF_CKPT_MAX_TENSOR_BYTES / (uint64_t)shape[i])
			return mlf_fail(err, MLF_EX_DATAERR, "tensor '%s': shape too large", name), NULL;
		bytes *= (uint64_t)shape[i];
	}
	if (bytes > MLF_CKPT_MAX_TENSOR_BYTES)
		return mlf_fail(err, MLF_EX_DATAERR, "tensor '%s': shape too large", name), NULL;
	if (mlf_ckpt_find(c, name))
		return mlf_fail(err, MLF_EX_DATAERR, "tensor '%s' appears twice", name), NULL;
	unsigned char *data = NULL;
	if (bytes && !(data = calloc(1, (size_t)bytes)))
		return mlf_fail(err, MLF_EX_SOFTWARE, "tensor '%s': out of memory for %llu bytes",
				name, (unsigned long long)bytes), NULL;
	if (c->ntensors == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->tensors = mlf_xrealloc(c->tensors, c->cap * sizeof(*c->tensors));
	}
	struct mlf_tensor *t = &c->tensors[c->ntensors++];
	memset(t, 0, sizeof(*t));
	t->name = mlf_xstrdup(name);
	t->dtype = dtype;
	t->ndim = ndim;
	for (int i = 0; i < ndim; i++)
		t->shape[i] = shape[i];
	t->nbytes = (size_t)bytes;
	t->data = data;
	return t;
}

/* ---- conversions: IEEE bit patterns, rounding to nearest even ---- */

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static float f32_from_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

/* Drop the low `shift` bits of `m`, rounding to nearest, ties to even. */
static uint32_t round_shift(uint32_t m, int shift)
{
	uint32_t kept = m >> shift, rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
	if (rest > half || (rest == half && (kept & 1)))
		kept++;
	return kept;
}

uint16_t ckpt_f32_to_f16(float f)
{
	uint32_t x = f32_bits(f);
	uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
	int32_t e = (int32_t)((x >> 23) & 0xff);
	uint32_t m = x & 0x7fffff;
	if (e == 0xff)  /* infinity, or NaN kept quiet with the top of its payload */
		return (uint16_t)(sign | 0x7c00 | (m ? 0x200 | (m >> 13) : 0));
	int32_t he = e - 127 + 15;
	if (he >= 0x1f)
		return (uint16_t)(sign | 0x7c00);
	if (he <= 0) {
		/* A subnormal half (or zero): the value in units of 2^-24 is m' >> (14 - he). */
		if (he < -10)
			return sign;
		return (uint16_t)(sign | round_shift(m | 0x800000, 14 - he));
	}
	/* A carry out of the mantissa steps the exponent up, to infinity at the top: both right. */
	return (uint16_t)(sign | round_shift(((uint32_t)he << 23) | m, 13));
}

float ckpt_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, m = h & 0x3ff;
	int32_t e = (h >> 10) & 0x1f;
	if (e == 0x1f)
		return f32_from_bits(sign | 0x7f800000 | (m << 13));
	if (e == 0) {
		if (!m)
			return f32_from_bits(sign);
		e = 1;
		while (!(m & 0x400)) {  /* normalise a subnormal */
			m <<= 1;
			e--;
		}
		m &= 0x3ff;
	}
	return f32_from_bits(sign | (uint32_t)(e + 127 - 15) << 23 | (m << 13));
}

uint16_t ckpt_f32_to_bf16(float f)
{
	uint32_t x = f32_bits(f);
	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((x >> 16) | 0x40);  /* NaN stays NaN, quiet */
	return (uint16_t)round_shift(x, 16);
}

float ckpt_bf16_to_f32(uint16_t h)
{
	return f32_from_bits((uint32_t)h << 16);
}

static int is_float(enum mlf_dtype t)
{
	return t == MLF_DTYPE_F32 || t == MLF_DTYPE_F16 || t == MLF_DTYPE_BF16 || t == MLF_DTYPE_F64;
}

/*
 * Everything goes through f32, which holds every f16 and bf16 exactly; only
 * f64 -> f16/bf16 can round twice, a pair no checkpoint of ours uses.
 */
static float load_float(enum mlf_dtype t, const unsigned char *p)
{
	uint16_t h;
	float f;
	double d;
	switch (t) {
	case MLF_DTYPE_F16:
		memcpy(&h, p, 2);
		return ckpt_f16_to_f32(h);
	case MLF_DTYPE_BF16:
		memcpy(&h, p, 2);
		return ckpt_bf16_to_f32(h);
	case MLF_DTYPE_F64:
		memcpy(&d, p, 8);
		return (float)d;
	default:
		memcpy(&f, p, 4);
		return f;
	}
}

static void store_float(enum mlf_dtype t, unsigned char *p, float f)
{
	uint16_t h;
	double d;
	switch (t) {
	case MLF_DTYPE_F16:
		h = ckpt_f32_to_f16(f);
		memcpy(p, &h, 2);
		break;
	case MLF_DTYPE_BF16:
		h = ckpt_f32_to_bf16(f);
		memcpy(p, &h, 2);
		break;
	case MLF_DTYPE_F64:
		d = f;
		memcpy(p, &d, 8);
		break;
	default:
		memcpy(p, &f, 4);
		break;
	}
}

int ckpt_convert(enum mlf_dtype to, void *dst, enum mlf_dtype from, const void *src, size_t n)
{
	if (to == from) {
		if (n)
			memcpy(dst, src, n * mlf_dtype_size(to));
		return 0;
	}
	if (!is_float(to) || !is_float(from))
		return -1;
	size_t si = mlf_dtype_size(from), so = mlf_dtype_size(to);
	const unsigned char *s = src;
	unsigned char *d = dst;
	for (size_t i = 0; i < n; i++)
		store_float(to, d + i * so, load_float(from, s + i * si));
	return 0;
}
