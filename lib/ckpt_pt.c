/*
 * Reading torch.save zip archives: find data.pkl, run it through the
 * restricted interpreter, then walk the result for the model's tensors
 * (state_dict names) and its description, reading storages from the zip.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "ckpt_internal.h"
#include "mlf/buf.h"
#include "mlf/json.h"

#define MAX_MODULE_DEPTH 64
#define MAX_WALK (1u << 20)     /* modules + tensors visited */
#define JSON_BUDGET (1u << 22)  /* values turned into JSON */

struct storage_cache {
	char *key;
	unsigned char *data;
	uint64_t nbytes;
};

struct pt_reader {
	const char *path;
	zip_t *zip;
	char *prefix;                  /* the archive folder, e.g. "yolov8n" */
	struct storage_cache *storages;
	size_t nstorages, cap;
	struct mlf_ckpt *ckpt;
	json_t *modules;
	size_t walked;
	struct mlf_error *err;
};

static int fail(struct pt_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct pt_reader *r, const char *fmt, ...)
{
	char what[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return mlf_fail(r->err, MLF_EX_DATAERR, "%s: %s", r->path, what);
}

/* Entry names must be relative, without "..", backslashes or control characters. */
static int bad_name(const char *name)
{
	if (!*name || name[0] == '/')
		return 1;
	for (const char *p = name; *p; p++)
		if (*p == '\\' || (unsigned char)*p < 0x20)
			return 1;
	for (const char *p = name; p; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (!strncmp(p, "..", 2) && (p[2] == '/' || !p[2]))
			return 1;
	}
	return 0;
}

static int open_archive(struct pt_reader *r)
{
	int zerr = 0;
	r->zip = zip_open(r->path, ZIP_RDONLY, &zerr);
	if (!r->zip) {
		if (zerr == ZIP_ER_NOENT)
			return mlf_fail_kind(r->err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
					     "%s: no such file", r->path);
		if (zerr == ZIP_ER_OPEN || zerr == ZIP_ER_READ) {
			zip_error_t ze;
			zip_error_init_with_code(&ze, zerr);
			mlf_fail(r->err, MLF_EX_IOERR, "%s: cannot read: %s", r->path, zip_error_strerror(&ze));
			zip_error_fini(&ze);
			return -1;
		}
		if (zerr == ZIP_ER_NOZIP)
			return fail(r, "not a zip archive (expected a torch.save file from PyTorch 1.6 or later)");
		zip_error_t ze;
		zip_error_init_with_code(&ze, zerr);
		fail(r, "damaged zip archive: %s", zip_error_strerror(&ze));
		zip_error_fini(&ze);
		return -1;
	}
	zip_int64_t n = zip_get_num_entries(r->zip, 0);
	if (n <= 0)
		return fail(r, "empty zip archive");
	for (zip_int64_t i = 0; i < n; i++) {
		const char *name = zip_get_name(r->zip, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
		if (!name)
			return fail(r, "zip entry %lld has no name", (long long)i);
		if (bad_name(name))
			return fail(r, "unsafe zip entry name '%s'", name);
		const char *slash = strchr(name, '/');
		if (!slash)
			return fail(r, "zip entry '%s' is not inside the archive folder", name);
		size_t plen = (size_t)(slash - name);
		if (!r->prefix)
			r->prefix = mlf_xstrndup(name, plen);
		else if (strlen(r->prefix) != plen || strncmp(r->prefix, name, plen))
			return fail(r, "zip entries in two folders ('%s' and '%.*s')", r->prefix,
				    (int)plen, name);
	}
	return 0;
}

/*
 * Read `want` bytes of entry <prefix>/<rel> (all of it when want is -1), at
 * most `max`.  Sizes declared by the zip are checked against what can really
 * be in it before anything is allocated.
 */
static int read_entry(struct pt_reader *r, const char *rel, int64_t want, uint64_t max,
		      unsigned char **out, uint64_t *len, int optional)
{
	char *name = mlf_xasprintf("%s/%s", r->prefix, rel);
	zip_stat_t st;
	zip_stat_init(&st);
	zip_int64_t idx = zip_name_locate(r->zip, name, ZIP_FL_ENC_RAW);
	int rc = -1;
	*out = NULL;
	*len = 0;
	if (idx < 0) {
		rc = optional ? 1 : fail(r, "archive has no '%s'", name);
		goto done;
	}
	if (zip_stat_index(r->zip, (zip_uint64_t)idx, 0, &st) ||
	    !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE)) {
		fail(r, "cannot read the size of '%s'", name);
		goto done;
	}
	uint64_t n = want < 0 ? st.size : (uint64_t)want;
	if (want >= 0 && st.size < n) {
		fail(r, "'%s' holds %llu bytes but the pickle needs %llu", name,
		     (unsigned long long)st.size, (unsigned long long)n);
		goto done;
	}
	/* Deflate cannot expand more than about 1032:1; stored entries not at all. */
	uint64_t cap = st.comp_method == ZIP_CM_STORE ? st.comp_size : st.comp_size * 1100 + 4096;
	if (n > max || n > cap) {
		fail(r, "'%s' declares an impossible size (%llu bytes)", name, (unsigned long long)n);
		goto done;
	}
	unsigned char *buf = malloc(n ? n : 1);
	if (!buf) {
		mlf_fail(r->err, MLF_EX_SOFTWARE, "%s: out of memory reading '%s' (%llu bytes)",
			 r->path, name, (unsigned long long)n);
		goto done;
	}
	zip_file_t *zf = zip_fopen_index(r->zip, (zip_uint64_t)idx, 0);
	uint64_t got = 0;
	while (zf && got < n) {
		zip_int64_t k = zip_fread(zf, buf + got, n - got);
		if (k <= 0)
			break;
		got += (uint64_t)k;
	}
	if (!zf || got != n) {
		fail(r, "'%s' is truncated or damaged: %s", name,
		     zf ? zip_error_strerror(zip_file_get_error(zf)) : zip_strerror(r->zip));
		if (zf)
			zip_fclose(zf);
		free(buf);
		goto done;
	}
	zip_fclose(zf);
	*out = buf;
	*len = n;
	rc = 0;
done:
	free(name);
	return rc;
}

static int storage_bytes(struct pt_reader *r, const struct pv *s, const unsigned char **data)
{
	for (size_t i = 0; i < r->nstorages; i++)
		if (!strcmp(r->storages[i].key, s->u.storage.key)) {
			*data = r->storages[i].data;
			return 0;
		}
	char *rel = mlf_xasprintf("data/%s", s->u.storage.key);
	uint64_t need = s->u.storage.numel * mlf_dtype_size(s->u.storage.dtype), len;
	unsigned char *buf;
	int rc = read_entry(r, rel, (int64_t)need, MLF_CKPT_MAX_TENSOR_BYTES, &buf, &len, 0);
	free(rel);
	if (rc)
		return -1;
	if (r->nstorages == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->storages = mlf_xrealloc(r->storages, r->cap * sizeof(*r->storages));
	}
	r->storages[r->nstorages++] = (struct storage_cache){ mlf_xstrdup(s->u.storage.key), buf, len };
	*data = buf;
	return 0;
}

/* Copy a (possibly strided) view into a contiguous tensor. */
static int add_tensor(struct pt_reader *r, const char *name, const struct pv *t)
{
	const struct pv *s = t->u.tensor.storage;
	const unsigned char *src;
	if (++r->walked > MAX_WALK)
		return fail(r, "more than %u modules and tensors (shared or cyclic references?)", MAX_WALK);
	if (storage_bytes(r, s, &src))
		return -1;
	struct mlf_tensor *dst = mlf_ckpt_add(r->ckpt, name, s->u.storage.dtype, t->u.tensor.ndim,
					      t->u.tensor.shape, r->err);
	if (!dst)
		return mlf_error_prefix(r->err, "%s", r->path);
	dst->requires_grad = t->u.tensor.requires_grad;
	if (!dst->nbytes)
		return 0;
	size_t es = mlf_dtype_size(s->u.storage.dtype);
	int nd = t->u.tensor.ndim;
	const int64_t *shape = t->u.tensor.shape, *stride = t->u.tensor.stride;
	int64_t idx[MLF_TENSOR_MAX_DIMS] = { 0 }, expect = 1;
	int contiguous = 1;
	for (int i = nd - 1; i >= 0; i--) {
		if (shape[i] != 1 && stride[i] != expect)
			contiguous = 0;
		expect *= shape[i];
	}
	/* The pickle interpreter already checked every element lies inside the storage. */
	if (contiguous) {
		memcpy(dst->data, src + (size_t)t->u.tensor.offset * es, dst->nbytes);
		return 0;
	}
	for (size_t k = 0; k < dst->nbytes / es; k++) {
		int64_t off = t->u.tensor.offset;
		for (int i = 0; i < nd; i++)
			off += idx[i] * stride[i];
		memcpy(dst->data + k * es, src + (size_t)off * es, es);
		for (int i = nd - 1; i >= 0 && ++idx[i] == shape[i]; i--)
			idx[i] = 0;
	}
	return 0;
}

static int is_member(const struct pv *list, const char *s)
{
	if (!list || (list->kind != PV_LIST && list->kind != PV_TUPLE))
		return 0;
	for (size_t i = 0; i < list->u.seq.n; i++)
		if (list->u.seq.v[i]->kind == PV_STR && !strcmp(list->u.seq.v[i]->u.str.s, s))
			return 1;
	return 0;
}

static int add_tensor_dict(struct pt_reader *r, const struct pv *d, const char *prefix,
			   const struct pv *skip, const char *what)
{
	if (!d)
		return 0;
	if (d->kind != PV_DICT)
		return fail(r, "module '%s': %s is not a dict", prefix, what);
	for (size_t i = 0; i + 1 < d->u.seq.n; i += 2) {
		const struct pv *k = d->u.seq.v[i], *v = d->u.seq.v[i + 1];
		if (k->kind != PV_STR)
			return fail(r, "module '%s': %s has a key that is not a string", prefix, what);
		if (v->kind == PV_NONE || is_member(skip, k->u.str.s))
			continue;
		if (v->kind != PV_TENSOR)
			return fail(r, "'%s%s' in %s is not a tensor", prefix, k->u.str.s, what);
		char *name = mlf_xasprintf("%s%s", prefix, k->u.str.s);
		int rc = add_tensor(r, name, v);
		free(name);
		if (rc)
			return -1;
	}
	return 0;
}

/* nn.Module.state_dict(): own parameters, persistent buffers, then each child. */
static int walk_module(struct pt_reader *r, const struct pv *m, const char *prefix, int depth)
{
	if (depth > MAX_MODULE_DEPTH)
		return fail(r, "modules nested more than %d deep", MAX_MODULE_DEPTH);
	if (++r->walked > MAX_WALK)
		return fail(r, "more than %u modules and tensors (shared or cyclic references?)", MAX_WALK);
	const struct pv *d = pv_object_dict(m);
	if (!d)
		return fail(r, "module '%s' is not a pickled nn.Module", *prefix ? prefix : "(root)");
	size_t plen = strlen(prefix);
	char *path = mlf_xstrndup(prefix, plen ? plen - 1 : 0);  /* without the trailing dot */
	char *cls = mlf_xasprintf("%s.%s", pv_class_module(m), pv_class_name(m));
	json_object_set_new(r->modules, path, json_string(cls));
	free(path);
	free(cls);

	if (add_tensor_dict(r, pv_dict_get(d, "_parameters"), prefix, NULL, "_parameters") ||
	    add_tensor_dict(r, pv_dict_get(d, "_buffers"), prefix,
			    pv_dict_get(d, "_non_persistent_buffers_set"), "_buffers"))
		return -1;
	const struct pv *children = pv_dict_get(d, "_modules");
	if (!children)
		return 0;
	if (children->kind != PV_DICT)
		return fail(r, "module '%s': _modules is not a dict", prefix);
	for (size_t i = 0; i + 1 < children->u.seq.n; i += 2) {
		const struct pv *k = children->u.seq.v[i], *v = children->u.seq.v[i + 1];
		if (k->kind != PV_STR || !k->u.str.len || strchr(k->u.str.s, '.'))
			return fail(r, "module '%s' has a child with a bad name", prefix);
		if (v->kind == PV_NONE)
			continue;
		if (v->kind != PV_OBJECT)
			return fail(r, "'%s%s' in _modules is not a module", prefix, k->u.str.s);
		char *sub = mlf_xasprintf("%s%s.", prefix, k->u.str.s);
		int rc = walk_module(r, v, sub, depth + 1);
		free(sub);
		if (rc)
			return -1;
	}
	return 0;
}

static int set_json(struct pt_reader *r, json_t *obj, const char *key, const struct pv *v)
{
	size_t budget = JSON_BUDGET;
	json_t *j = pv_to_json(v, 0, &budget);
	if (!j)
		return fail(r, "'%s' is nested too deeply or too large", key);
	json_object_set_new(obj, key, j);
	return 0;
}

/* A small float tensor attribute (the model's strides) as numbers. */
static int small_tensor_values(struct pt_reader *r, const struct pv *t, json_t **out)
{
	const struct pv *s = t->u.tensor.storage;
	const unsigned char *src;
	*out = NULL;
	if (t->u.tensor.ndim != 1 || t->u.tensor.shape[0] > 64 ||
	    (s->u.storage.dtype != MLF_DTYPE_F32 && s->u.storage.dtype != MLF_DTYPE_F64))
		return 0;
	if (storage_bytes(r, s, &src))
		return -1;
	json_t *a = json_array();
	for (int64_t i = 0; i < t->u.tensor.shape[0]; i++) {
		size_t off = (size_t)(t->u.tensor.offset + i * t->u.tensor.stride[0]);
		double v;
		if (s->u.storage.dtype == MLF_DTYPE_F32) {
			float f;
			memcpy(&f, src + off * 4, 4);
			v = f;
		} else {
			memcpy(&v, src + off * 8, 8);
		}
		json_array_append_new(a, mlf_json_double(v));
	}
	*out = a;
	return 0;
}

static int model_meta(struct pt_reader *r, const struct pv *m, json_t *meta)
{
	static const char *const attrs[] = { "yaml", "names", "nc", "task", "args" };
	const struct pv *d = pv_object_dict(m);
	char *cls = mlf_xasprintf("%s.%s", pv_class_module(m), pv_class_name(m));
	json_object_set_new(meta, "model_class", json_string(cls));
	free(cls);
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		const struct pv *v = pv_dict_get(d, attrs[i]);
		if (v && set_json(r, meta, attrs[i], v))
			return -1;
	}
	const struct pv *stride = pv_dict_get(d, "stride");
	if (stride && stride->kind == PV_TENSOR) {
		json_t *a;
		if (small_tensor_values(r, stride, &a))
			return -1;
		if (a)
			json_object_set_new(meta, "stride", a);
	}
	return 0;
}

static int is_state_dict(const struct pv *d)
{
	if (d->kind != PV_DICT || !d->u.seq.n)
		return 0;
	for (size_t i = 0; i + 1 < d->u.seq.n; i += 2)
		if (d->u.seq.v[i]->kind != PV_STR || d->u.seq.v[i + 1]->kind != PV_TENSOR)
			return 0;
	return 1;
}

static int extract(struct pt_reader *r, const struct pv *root, json_t *meta)
{
	const struct pv *model = NULL;
	const char *key = NULL;
	json_t *ck = json_object();
	json_object_set_new(meta, "checkpoint", ck);

	if (root->kind == PV_DICT && !is_state_dict(root)) {
		static const char *const keys[] = { "ema", "model", "state_dict" };
		for (size_t i = 0; i < 3 && !model; i++) {
			const struct pv *v = pv_dict_get(root, keys[i]);
			if (v && (v->kind == PV_OBJECT || is_state_dict(v))) {
				model = v;
				key = keys[i];
			}
		}
		for (size_t i = 0; i + 1 < root->u.seq.n; i += 2) {
			const struct pv *k = root->u.seq.v[i];
			if (k->kind == PV_STR && set_json(r, ck, k->u.str.s, root->u.seq.v[i + 1]))
				return -1;
		}
		if (!model)
			return fail(r, "no model found: expected 'ema' or 'model' holding a module, or a state_dict");
	} else {
		model = root;
	}
	json_object_set_new(meta, "model_key", key ? json_string(key) : json_null());
	if (model->kind == PV_DICT) {
		if (!is_state_dict(model))
			return fail(r, "the pickled object is neither a module nor a state_dict");
		return add_tensor_dict(r, model, "", NULL, "state_dict");
	}
	if (model->kind != PV_OBJECT)
		return fail(r, "the pickled object is neither a module nor a state_dict");
	if (model_meta(r, model, meta))
		return -1;
	json_object_set(meta, "modules", r->modules);
	return walk_module(r, model, "", 0);
}

int mlf_ckpt_read_pt(const char *path, struct mlf_ckpt *c, struct mlf_error *err)
{
	struct pt_reader r = { .path = path, .ckpt = c, .err = err, .modules = json_object() };
	struct pv_vm vm;
	unsigned char *pkl = NULL, *small = NULL;
	uint64_t len, slen;
	struct pv *root;
	int rc = -1, got;

	mlf_ckpt_init(c);
	pv_vm_init(&vm);
	c->meta = json_object();
	if (open_archive(&r))
		goto done;
	json_object_set_new(c->meta, "format", json_string("pt"));
	json_object_set_new(c->meta, "archive", json_string(r.prefix));
	got = read_entry(&r, "byteorder", -1, 64, &small, &slen, 1);
	if (got < 0)
		goto done;
	if (!got && !(slen == 6 && !memcmp(small, "little", 6))) {
		fail(&r, "byteorder is '%.*s'; only little-endian archives are supported",
		     (int)(slen < 16 ? slen : 16), (char *)small);
		goto done;
	}
	free(small);
	small = NULL;
	if ((got = read_entry(&r, "version", -1, 64, &small, &slen, 1)) < 0)
		goto done;
	if (!got) {
		while (slen && (small[slen - 1] == '\n' || small[slen - 1] == '\r'))
			slen--;
		json_t *v = json_stringn((char *)small, slen);
		json_object_set_new(c->meta, "archive_version", v ? v : json_null());
	}
	if (read_entry(&r, "data.pkl", -1, MLF_CKPT_MAX_PICKLE, &pkl, &len, 0))
		goto done;
	if (pv_run(&vm, pkl, len, &root, err)) {
		mlf_error_prefix(err, "%s: data.pkl", path);
		goto done;
	}
	rc = extract(&r, root, c->meta);
done:
	for (size_t i = 0; i < r.nstorages; i++) {
		free(r.storages[i].key);
		free(r.storages[i].data);
	}
	free(r.storages);
	free(r.prefix);
	free(pkl);
	free(small);
	json_decref(r.modules);
	pv_vm_release(&vm);
	if (r.zip)
		zip_discard(r.zip);
	if (rc)
		mlf_ckpt_release(c);
	return rc;
}
