/* Pickled Python values as JSON, for checkpoint metadata. */
#include "ckpt_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"

static json_t *class_desc(const char *key, const struct pv *v)
{
	char *name = mlf_xasprintf("%s.%s", pv_class_module(v), pv_class_name(v));
	json_t *o = json_pack("{s:s}", key, name);
	free(name);
	return o;
}

static int is_namespace(const struct pv *v)
{
	const char *name = pv_class_name(v);
	return name && (!strcmp(name, "SimpleNamespace") || !strcmp(name, "IterableSimpleNamespace"));
}

/* A dict key as text: Python's str() for the scalar kinds, NULL otherwise. */
static char *key_text(const struct pv *k)
{
	switch (k->kind) {
	case PV_STR:
		return mlf_xstrdup(k->u.str.s);
	case PV_INT:
		return mlf_xasprintf("%" PRId64, k->u.i);
	case PV_BOOL:
		return mlf_xstrdup(k->u.i ? "True" : "False");
	case PV_NONE:
		return mlf_xstrdup("None");
	case PV_FLOAT:
		return mlf_xasprintf("%.17g", k->u.f);
	default:
		return NULL;
	}
}

static json_t *dict_json(const struct pv *d, int depth, size_t *budget)
{
	json_t *o = json_object();
	for (size_t i = 0; i + 1 < d->u.seq.n; i += 2) {
		char *k = key_text(d->u.seq.v[i]);
		if (!k)
			continue;  /* a tuple or object key: no JSON spelling worth having */
		json_t *v = pv_to_json(d->u.seq.v[i + 1], depth + 1, budget);
		if (!v) {
			free(k);
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, k, v);  /* a key that is not UTF-8 is dropped */
		free(k);
	}
	return o;
}

json_t *pv_to_json(const struct pv *v, int depth, size_t *budget)
{
	if (depth > MLF_CKPT_MAX_NESTING || !*budget)
		return NULL;
	(*budget)--;
	switch (v->kind) {
	case PV_NONE:
		return json_null();
	case PV_BOOL:
		return json_boolean(v->u.i);
	case PV_INT:
		return json_integer(v->u.i);
	case PV_FLOAT:
		return mlf_json_double(v->u.f);
	case PV_STR: {
		json_t *s = json_stringn(v->u.str.s, v->u.str.len);
		return s ? s : json_null();
	}
	case PV_BYTES:
		return json_pack("{s:I}", "__bytes__", (json_int_t)v->u.str.len);
	case PV_TUPLE:
	case PV_LIST: {
		json_t *a = json_array();
		for (size_t i = 0; i < v->u.seq.n; i++) {
			json_t *x = pv_to_json(v->u.seq.v[i], depth + 1, budget);
			if (!x) {
				json_decref(a);
				return NULL;
			}
			json_array_append_new(a, x);
		}
		return a;
	}
	case PV_DICT:
		return dict_json(v, depth, budget);
	case PV_GLOBAL:
		return class_desc("__global__", v);
	case PV_OBJECT: {
		const struct pv *d = pv_object_dict(v);
		if (is_namespace(v) && d)
			return dict_json(d, depth, budget);
		return class_desc("__class__", v);
	}
	case PV_STORAGE:
		return json_pack("{s:s}", "__storage__", v->u.storage.key);
	case PV_TENSOR: {
		json_t *shape = json_array();
		for (int i = 0; i < v->u.tensor.ndim; i++)
			json_array_append_new(shape, json_integer(v->u.tensor.shape[i]));
		return json_pack("{s:{s:s,s:o}}", "__tensor__", "dtype",
				 mlf_dtype_name(v->u.tensor.storage->u.storage.dtype), "shape", shape);
	}
	}
	return json_null();
}
