/*
 * safetensors: an 8-byte little-endian header length, a JSON header
 * { name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str} },
 * then the tensors' bytes.  Offsets are relative to the end of the header and
 * must tile the data exactly: no overlap, no hole, nothing left over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/ckpt.h"

struct st_entry {
	const char *name;
	enum mlf_dtype dtype;
	int ndim;
	int64_t shape[MLF_TENSOR_MAX_DIMS];
	uint64_t begin, end;
};

static int cmp_begin(const void *a, const void *b)
{
	const struct st_entry *x = a, *y = b;
	return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int string_map(const json_t *m)
{
	const char *k;
	json_t *v;
	if (!json_is_object(m))
		return 0;
	json_object_foreach((json_t *)m, k, v)
		if (!json_is_string(v))
			return 0;
	return 1;
}

static int parse_entry(const char *what, const char *name, json_t *j, uint64_t data_len,
		       struct st_entry *e, struct mlf_error *err)
{
	json_t *dt = json_object_get(j, "dtype"), *shape = json_object_get(j, "shape"),
	       *off = json_object_get(j, "data_offsets");
	e->name = name;
	if (!json_is_object(j) || !json_is_string(dt) || !json_is_array(shape) ||
	    !json_is_array(off) || json_array_size(off) != 2)
		return mlf_fail(err, MLF_EX_DATAERR,
				"%s: tensor '%s' needs dtype, shape and data_offsets", what, name);
	if (mlf_dtype_parse(json_string_value(dt), &e->dtype))
		return mlf_fail(err, MLF_EX_DATAERR, "%s: tensor '%s' has unsupported dtype '%s'",
				what, name, json_string_value(dt));
	if (json_array_size(shape) > MLF_TENSOR_MAX_DIMS)
		return mlf_fail(err, MLF_EX_DATAERR, "%s: tensor '%s' has more than %d dimensions",
				what, name, MLF_TENSOR_MAX_DIMS);
	e->ndim = (int)json_array_size(shape);
	uint64_t bytes = mlf_dtype_size(e->dtype);
	for (int i = 0; i < e->ndim; i++) {
		json_t *d = json_array_get(shape, (size_t)i);
		if (!json_is_integer(d) || json_integer_value(d) < 0)
			return mlf_fail(err, MLF_EX_DATAERR, "%s: tensor '%s' has a bad shape", what, name);
		e->shape[i] = json_integer_value(d);
		if (e->shape[i] && bytes > MLF_CKPT_MAX_TENSOR_BYTES / (uint64_t)e->shape[i])
			return mlf_fail(err, MLF_EX_DATAERR, "%s: tensor '%s' has a shape too large",
					what, name);
		bytes *= (uint64_t)e->shape[i];
	}
	json_t *b = json_array_get(off, 0), *en = json_array_get(off, 1);
	if (!json_is_integer(b) || !json_is_integer(en) || json_integer_value(b) < 0 ||
	    json_integer_value(en) < json_integer_value(b))
		return mlf_fail(err, MLF_EX_DATAERR, "%s: tensor '%s' has bad data_offsets", what, name);
	e->begin = (uint64_t)json_integer_value(b);
	e->end = (uint64_t)json_integer_value(en);
	if (e->end > data_len)
		return mlf_fail(err, MLF_EX_DATAERR,
				"%s: tensor '%s' ends at byte %llu of %llu data bytes", what, name,
				(unsigned long long)e->end, (unsigned long long)data_len);
	if (e->end - e->begin != bytes)
		return mlf_fail(err, MLF_EX_DATAERR,
				"%s: tensor '%s' has %llu bytes but its shape needs %llu", what, name,
				(unsigned long long)(e->end - e->begin), (unsigned long long)bytes);
	return 0;
}

static int read_header(const char *what, const unsigned char *p, size_t len, json_t **hdr,
		       struct mlf_error *err)
{
	if (len < 8)
		return mlf_fail(err, MLF_EX_DATAERR, "%s: too short for safetensors (%zu bytes)", what, len);
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | p[i];
	if (n > MLF_CKPT_MAX_ST_HEADER || n > len - 8)
		return mlf_fail(err, MLF_EX_DATAERR,
				"%s: safetensors header length %llu is impossible for %zu bytes",
				what, (unsigned long long)n, len);
	json_error_t je;
	*hdr = json_loadb((const char *)p + 8, (size_t)n, JSON_REJECT_DUPLICATES, &je);
	if (!*hdr)
		return mlf_fail(err, MLF_EX_DATAERR, "%s: safetensors header: %s", what, je.text);
	if (!json_is_object(*hdr)) {
		json_decref(*hdr);
		*hdr = NULL;
		return mlf_fail(err, MLF_EX_DATAERR, "%s: safetensors header is not a JSON object", what);
	}
	return 0;
}

int mlf_ckpt_safetensors_decode(const void *bytes, size_t len, const char *what, struct mlf_ckpt *c,
				struct mlf_error *err)
{
	size_t n = 0;
	json_t *hdr = NULL, *md = NULL;
	struct st_entry *ents = NULL;
	int rc = -1;

	mlf_ckpt_init(c);
	const unsigned char *p = bytes;
	if (read_header(what, p, len, &hdr, err))
		goto done;
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | p[i];
	const unsigned char *data = p + 8 + hlen;
	uint64_t data_len = len - 8 - hlen;

	ents = mlf_xcalloc(json_object_size(hdr) + 1, sizeof(*ents));
	const char *k;
	json_t *v;
	json_object_foreach(hdr, k, v) {
		if (!strcmp(k, "__metadata__")) {
			if (!string_map(v)) {
				mlf_fail(err, MLF_EX_DATAERR,
					 "%s: __metadata__ must map strings to strings", what);
				goto done;
			}
			md = v;
			continue;
		}
		if (parse_entry(what, k, v, data_len, &ents[n], err))
			goto done;
		n++;
	}
	qsort(ents, n, sizeof(*ents), cmp_begin);
	uint64_t at = 0;
	for (size_t i = 0; i < n; i++) {
		if (ents[i].begin != at) {
			mlf_fail(err, MLF_EX_DATAERR, "%s: tensor '%s' %s at byte %llu", what,
				 ents[i].name, ents[i].begin < at ? "overlaps another" : "leaves a gap",
				 (unsigned long long)ents[i].begin);
			goto done;
		}
		at = ents[i].end;
	}
	if (at != data_len) {
		mlf_fail(err, MLF_EX_DATAERR, "%s: %llu data bytes but tensors cover %llu", what,
			 (unsigned long long)data_len, (unsigned long long)at);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		struct mlf_tensor *t = mlf_ckpt_add(c, ents[i].name, ents[i].dtype, ents[i].ndim,
						    ents[i].shape, err);
		if (!t) {
			mlf_error_prefix(err, "%s", what);
			goto done;
		}
		if (t->nbytes)
			memcpy(t->data, data + ents[i].begin, t->nbytes);
	}
	c->meta = json_pack("{s:s,s:O?}", "format", "safetensors", "metadata", md);
	rc = 0;
done:
	free(ents);
	json_decref(hdr);
	if (rc)
		mlf_ckpt_release(c);
	return rc;
}

int mlf_ckpt_read_safetensors(const char *path, struct mlf_ckpt *c, struct mlf_error *err)
{
	char *raw = NULL;
	size_t len = 0;

	mlf_ckpt_init(c);
	if (mlf_read_file(path, &raw, &len, err))
		return -1;
	int rc = mlf_ckpt_safetensors_decode(raw, len, path, c, err);
	free(raw);
	return rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp((*(const struct mlf_tensor *const *)a)->name,
		      (*(const struct mlf_tensor *const *)b)->name);
}

int mlf_ckpt_safetensors_encode(const struct mlf_ckpt *c, const json_t *metadata,
				struct mlf_buf *out, struct mlf_error *err)
{
	if (metadata && !string_map(metadata))
		return mlf_fail(err, MLF_EX_SOFTWARE, "safetensors metadata must map strings to strings");
	if (mlf_ckpt_find(c, "__metadata__"))
		return mlf_fail(err, MLF_EX_DATAERR,
				"a tensor named '__metadata__' cannot be stored in safetensors");
	const struct mlf_tensor **order = mlf_xcalloc(c->ntensors + 1, sizeof(*order));
	for (size_t i = 0; i < c->ntensors; i++)
		order[i] = &c->tensors[i];
	qsort(order, c->ntensors, sizeof(*order), cmp_name);

	json_t *hdr = json_object();
	if (metadata)
		json_object_set_new(hdr, "__metadata__", json_deep_copy(metadata));
	uint64_t at = 0;
	for (size_t i = 0; i < c->ntensors; i++) {
		const struct mlf_tensor *t = order[i];
		json_t *shape = json_array();
		for (int d = 0; d < t->ndim; d++)
			json_array_append_new(shape, json_integer(t->shape[d]));
		json_object_set_new(hdr, t->name,
				    json_pack("{s:s,s:o,s:[I,I]}", "dtype", mlf_dtype_st_name(t->dtype),
					      "shape", shape, "data_offsets", (json_int_t)at,
					      (json_int_t)(at + t->nbytes)));
		at += t->nbytes;
	}
	char *text = json_dumps(hdr, JSON_COMPACT);
	json_decref(hdr);
	if (!text) {
		free(order);
		return mlf_fail(err, MLF_EX_SOFTWARE, "cannot encode the safetensors header");
	}
	/* Spaces after the JSON keep the data 8-byte aligned; readers accept them. */
	size_t tlen = strlen(text), hlen = (tlen + 7) & ~(size_t)7;
	unsigned char lenbuf[8];
	for (int i = 0; i < 8; i++)
		lenbuf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));

	mlf_buf_reset(out);
	mlf_buf_grow(out, 8 + hlen + (size_t)at);
	mlf_buf_add(out, lenbuf, 8);
	mlf_buf_add(out, text, tlen);
	for (size_t i = tlen; i < hlen; i++)
		mlf_buf_addc(out, ' ');
	for (size_t i = 0; i < c->ntensors; i++)
		if (order[i]->nbytes)
			mlf_buf_add(out, order[i]->data, order[i]->nbytes);
	free(text);
	free(order);
	return 0;
}

int mlf_ckpt_write_safetensors(const struct mlf_ckpt *c, const char *path,
			       const json_t *metadata, struct mlf_error *err)
{
	struct mlf_buf b = MLF_BUF_INIT;
	int rc = mlf_ckpt_safetensors_encode(c, metadata, &b, err);
	if (rc)
		mlf_error_prefix(err, "%s", path);
	else
		rc = mlf_write_file_atomic(path, b.data, b.len, err);
	mlf_buf_release(&b);
	return rc;
}
