/* Checkpoint container and dtype table. */
#include "mlf/checkpoint.h"

#include <stdlib.h>
#include <string.h>

#include "mlf/buf.h"

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
