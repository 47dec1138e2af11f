/*
 * Reading torch.save zip archives: find data.pkl, run it through the
 * restricted interpreter, then walk the result for the model's tensors
 * (state_dict names) and its description, reading storages from the zip.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "ckpt_internal.h"
#include "mlf/base.h"

#define MAX_MODULE_DEPTH 64
#define MAX_WALK (1u << 20)     /* modules + tensors visited */
#define JSON_BUDGET (1u << 22)  /* values turned into JSON */

struct storage_cache {
	char *key;
	unsigned char *data;
	uint64_t nbytes;
};

struct pt_reader {
	struct pt_archive a;
	struct storage_cache *storages;
	size_t nstorages, cap;
	struct mlf_ckpt *ckpt;
	json_t *modules;
	struct mlf_error *err;
};

static int afail(const struct pt_archive *a, struct mlf_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int afail(const struct pt_archive *a, struct mlf_error *err, const char *fmt, ...)
{
	char what[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return mlf_fail(err, MLF_EX_DATAERR, "%s: %s", a->path, what);
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

static int open_zip(struct pt_archive *a, struct mlf_error *err)
{
	int zerr = 0;
	a->zip = zip_open(a->path, ZIP_RDONLY, &zerr);
	if (!a->zip) {
		if (zerr == ZIP_ER_NOENT)
			return mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
					     "%s: no such file", a->path);
		if (zerr == ZIP_ER_OPEN || zerr == ZIP_ER_READ) {
			zip_error_t ze;
			zip_error_init_with_code(&ze, zerr);
			mlf_fail(err, MLF_EX_IOERR, "%s: cannot read: %s", a->path, zip_error_strerror(&ze));
			zip_error_fini(&ze);
			return -1;
		}
		if (zerr == ZIP_ER_NOZIP)
			return afail(a, err, "not a zip archive (expected a torch.save file from PyTorch 1.6 or later)");
		zip_error_t ze;
		zip_error_init_with_code(&ze, zerr);
		afail(a, err, "damaged zip archive: %s", zip_error_strerror(&ze));
		zip_error_fini(&ze);
		return -1;
	}
	zip_int64_t n = zip_get_num_entries(a->zip, 0);
	if (n <= 0)
		return afail(a, err, "empty zip archive");
	for (zip_int64_t i = 0; i < n; i++) {
		const char *name = zip_get_name(a->zip, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
		if (!name)
			return afail(a, err, "zip entry %lld has no name", (long long)i);
		if (bad_name(name))
			return afail(a, err, "unsafe zip entry name '%s'", name);
		const char *slash = strchr(name, '/');
		if (!slash)
			return afail(a, err, "zip entry '%s' is not inside the archive folder", name);
		size_t plen = (size_t)(slash - name);
		if (!a->prefix)
			a->prefix = mlf_xstrndup(name, plen);
		else if (strlen(a->prefix) != plen || strncmp(a->prefix, name, plen))
			return afail(a, err, "zip entries in two folders ('%s' and '%.*s')", a->prefix,
				     (int)plen, name);
	}
	return 0;
}

/*
 * Sizes declared by the zip are checked against what can really be in it
 * before anything is allocated.
 */
int pt_archive_read(struct pt_archive *a, const char *rel, int64_t want, uint64_t max,
		    unsigned char **out, uint64_t *len, int optional, struct mlf_error *err)
{
	char *name = mlf_xasprintf("%s/%s", a->prefix, rel);
	zip_stat_t st;
	zip_stat_init(&st);
	zip_int64_t idx = zip_name_locate(a->zip, name, ZIP_FL_ENC_RAW);
	int rc = -1;
	*out = NULL;
	*len = 0;
	if (idx < 0) {
		rc = optional ? 1 : afail(a, err, "archive has no '%s'", name);
		goto done;
	}
	if (zip_stat_index(a->zip, (zip_uint64_t)idx, 0, &st) ||
	    !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE)) {
		afail(a, err, "cannot read the size of '%s'", name);
		goto done;
	}
	uint64_t n = want < 0 ? st.size : (uint64_t)want;
	if (want >= 0 && st.size < n) {
		afail(a, err, "'%s' holds %llu bytes but the pickle needs %llu", name,
		      (unsigned long long)st.size, (unsigned long long)n);
		goto done;
	}
	/* Deflate cannot expand more than about 1032:1; stored entries not at all. */
	uint64_t cap = st.comp_method == ZIP_CM_STORE ? st.comp_size : st.comp_size * 1100 + 4096;
	if (n > max || n > cap) {
		afail(a, err, "'%s' declares an impossible size (%llu bytes)", name, (unsigned long long)n);
		goto done;
	}
	/* One byte more, NUL, so that a record can be handed over as a struct mlf_buf. */
	unsigned char *buf = n < SIZE_MAX ? malloc((size_t)n + 1) : NULL;
	if (!buf) {
		mlf_fail(err, MLF_EX_SOFTWARE, "%s: out of memory reading '%s' (%llu bytes)",
			 a->path, name, (unsigned long long)n);
		goto done;
	}
	zip_file_t *zf = zip_fopen_index(a->zip, (zip_uint64_t)idx, 0);
	uint64_t got = 0;
	while (zf && got < n) {
		zip_int64_t k = zip_fread(zf, buf + got, n - got);
		if (k <= 0)
			break;
		got += (uint64_t)k;
	}
	if (!zf || got != n) {
		zip_error_t *ze = zf ? zip_file_get_error(zf) : zip_get_error(a->zip);
		if (zip_error_code_zip(ze) == ZIP_ER_READ)
			mlf_fail(err, MLF_EX_IOERR, "%s: cannot read '%s': %s", a->path, name,
				 zip_error_strerror(ze));
		else
			afail(a, err, "'%s' is truncated or damaged: %s", name, zip_error_strerror(ze));
		if (zf)
			zip_fclose(zf);
		free(buf);
		goto done;
	}
	zip_fclose(zf);
	buf[n] = 0;
	*out = buf;
	*len = n;
	rc = 0;
done:
	free(name);
	return rc;
}

void pt_archive_close(struct pt_archive *a)
{
	if (a->zip)
		zip_discard(a->zip);
	free(a->prefix);
	free(a->version);
	pv_vm_release(&a->vm);
	memset(a, 0, sizeof(*a));
}

int pt_archive_open(struct pt_archive *a, const char *path, struct mlf_error *err)
{
	unsigned char *pkl = NULL, *small = NULL;
	uint64_t len, slen;
	int got;

	memset(a, 0, sizeof(*a));
	a->path = path;
	pv_vm_init(&a->vm);
	if (open_zip(a, err))
		goto fail;
	got = pt_archive_read(a, "byteorder", -1, 64, &small, &slen, 1, err);
	if (got < 0)
		goto fail;
	if (!got && !(slen == 6 && !memcmp(small, "little", 6))) {
		afail(a, err, "byteorder is '%.*s'; only little-endian archives are supported",
		      (int)(slen < 16 ? slen : 16), (char *)small);
		goto fail;
	}
	free(small);
	small = NULL;
	if ((got = pt_archive_read(a, "version", -1, 64, &small, &slen, 1, err)) < 0)
		goto fail;
	if (!got) {
		while (slen && (small[slen - 1] == '\n' || small[slen - 1] == '\r'))
			slen--;
		a->version = mlf_xstrndup((char *)small, slen);
	}
	if (pt_archive_read(a, "data.pkl", -1, MLF_CKPT_MAX_PICKLE, &pkl, &len, 0, err))
		goto fail;
	if (pv_run(&a->vm, pkl, len, &a->root, err)) {
		mlf_error_prefix(err, "%s: data.pkl", path);
		goto fail;
	}
	free(pkl);
	free(small);
	return 0;
fail:
	free(pkl);
	free(small);
	pt_archive_close(a);
	return -1;
}

static int storage_bytes(struct pt_reader *r, const struct pv *s, const unsigned char **data)
{
	uint64_t need = s->u.storage.numel * mlf_dtype_size(s->u.storage.dtype), len;
	for (size_t i = 0; i < r->nstorages; i++)
		if (!strcmp(r->storages[i].key, s->u.storage.key)) {
			/* a pickle may name one storage twice with other sizes or dtypes: the
			 * bytes read for the first must cover this one too */
			if (r->storages[i].nbytes < need)
				return mlf_fail(r->err, MLF_EX_DATAERR, "%s: storage %s is named with %llu "
						"bytes but holds %llu", r->a.path, s->u.storage.key,
						(unsigned long long)need,
						(unsigned long long)r->storages[i].nbytes);
			*data = r->storages[i].data;
			return 0;
		}
	char *rel = mlf_xasprintf("data/%s", s->u.storage.key);
	unsigned char *buf;
	int rc = pt_archive_read(&r->a, rel, (int64_t)need, MLF_CKPT_MAX_TENSOR_BYTES, &buf, &len, 0,
				 r->err);
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
static int add_tensor(void *ctx, const char *name, struct pv *t, struct mlf_error *err)
{
	struct pt_reader *r = ctx;
	const struct pv *s = t->u.tensor.storage;
	const unsigned char *src;
	if (storage_bytes(r, s, &src))
		return -1;
	struct mlf_tensor *dst = mlf_ckpt_add(r->ckpt, name, s->u.storage.dtype, t->u.tensor.ndim,
					      t->u.tensor.shape, err);
	if (!dst)
		return mlf_error_prefix(err, "%s", r->a.path);
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

static int add_module(void *ctx, const char *path, const struct pv *m, struct mlf_error *err)
{
	struct pt_reader *r = ctx;
	char *cls = mlf_xasprintf("%s.%s", pv_class_module(m), pv_class_name(m));
	json_object_set_new(r->modules, path, json_string(cls));
	free(cls);
	(void)err;
	return 0;
}

/* ---- the state_dict walk, shared with the writer ---- */

struct walker {
	const struct pt_archive *a;
	const struct pt_walk *w;
	size_t walked;
	struct mlf_error *err;
};

static int is_member(const struct pv *list, const char *s)
{
	if (!list || (list->kind != PV_LIST && list->kind != PV_TUPLE))
		return 0;
	for (size_t i = 0; i < list->u.seq.n; i++)
		if (list->u.seq.v[i]->kind == PV_STR && !strcmp(list->u.seq.v[i]->u.str.s, s))
			return 1;
	return 0;
}

static int count_walked(struct walker *k)
{
	if (++k->walked > MAX_WALK)
		return afail(k->a, k->err, "more than %u modules and tensors (shared or cyclic references?)",
			     MAX_WALK);
	return 0;
}

static int walk_tensor_dict(struct walker *k, const struct pv *d, const char *prefix,
			    const struct pv *skip, const char *what)
{
	if (!d)
		return 0;
	if (d->kind != PV_DICT)
		return afail(k->a, k->err, "module '%s': %s is not a dict", prefix, what);
	for (size_t i = 0; i + 1 < d->u.seq.n; i += 2) {
		const struct pv *key = d->u.seq.v[i];
		struct pv *v = d->u.seq.v[i + 1];
		if (key->kind != PV_STR)
			return afail(k->a, k->err, "module '%s': %s has a key that is not a string", prefix, what);
		if (v->kind == PV_NONE || is_member(skip, key->u.str.s))
			continue;
		if (v->kind != PV_TENSOR)
			return afail(k->a, k->err, "'%s%s' in %s is not a tensor", prefix, key->u.str.s, what);
		if (count_walked(k))
			return -1;
		char *name = mlf_xasprintf("%s%s", prefix, key->u.str.s);
		int rc = k->w->on_tensor(k->w->ctx, name, v, k->err);
		free(name);
		if (rc)
			return -1;
	}
	return 0;
}

/* nn.Module.state_dict(): own parameters, persistent buffers, then each child. */
static int walk_module(struct walker *k, const struct pv *m, const char *prefix, int depth)
{
	if (depth > MAX_MODULE_DEPTH)
		return afail(k->a, k->err, "modules nested more than %d deep", MAX_MODULE_DEPTH);
	if (count_walked(k))
		return -1;
	const struct pv *d = pv_object_dict(m);
	if (!d)
		return afail(k->a, k->err, "module '%s' is not a pickled nn.Module",
			     *prefix ? prefix : "(root)");
	if (k->w->on_module) {
		size_t plen = strlen(prefix);
		char *path = mlf_xstrndup(prefix, plen ? plen - 1 : 0);  /* without the trailing dot */
		int rc = k->w->on_module(k->w->ctx, path, m, k->err);
		free(path);
		if (rc)
			return -1;
	}
	if (walk_tensor_dict(k, pv_dict_get(d, "_parameters"), prefix, NULL, "_parameters") ||
	    walk_tensor_dict(k, pv_dict_get(d, "_buffers"), prefix,
			     pv_dict_get(d, "_non_persistent_buffers_set"), "_buffers"))
		return -1;
	const struct pv *children = pv_dict_get(d, "_modules");
	if (!children)
		return 0;
	if (children->kind != PV_DICT)
		return afail(k->a, k->err, "module '%s': _modules is not a dict", prefix);
	for (size_t i = 0; i + 1 < children->u.seq.n; i += 2) {
		const struct pv *key = children->u.seq.v[i], *v = children->u.seq.v[i + 1];
		if (key->kind != PV_STR || !key->u.str.len || strchr(key->u.str.s, '.'))
			return afail(k->a, k->err, "module '%s' has a child with a bad name", prefix);
		if (v->kind == PV_NONE)
			continue;
		if (v->kind != PV_OBJECT)
			return afail(k->a, k->err, "'%s%s' in _modules is not a module", prefix, key->u.str.s);
		char *sub = mlf_xasprintf("%s%s.", prefix, key->u.str.s);
		int rc = walk_module(k, v, sub, depth + 1);
		free(sub);
		if (rc)
			return -1;
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

int pt_walk_model(const struct pt_archive *a, struct pv *model, const struct pt_walk *w,
		  struct mlf_error *err)
{
	struct walker k = { .a = a, .w = w, .err = err };
	if (model->kind == PV_DICT) {
		if (!is_state_dict(model))
			return afail(a, err, "the pickled object is neither a module nor a state_dict");
		return walk_tensor_dict(&k, model, "", NULL, "state_dict");
	}
	if (model->kind != PV_OBJECT)
		return afail(a, err, "the pickled object is neither a module nor a state_dict");
	return walk_module(&k, model, "", 0);
}

struct pv *pt_find_model(struct pv *root, const char **key)
{
	static const char *const keys[] = { "ema", "model", "state_dict" };
	*key = NULL;
	if (root->kind != PV_DICT || is_state_dict(root))
		return root;
	for (size_t i = 0; i < 3; i++) {
		struct pv *v = pv_dict_get(root, keys[i]);
		if (v && (v->kind == PV_OBJECT || is_state_dict(v))) {
			*key = keys[i];
			return v;
		}
	}
	return NULL;
}

/* ---- metadata ---- */

static int set_json(struct pt_reader *r, json_t *obj, const char *key, const struct pv *v)
{
	size_t budget = JSON_BUDGET;
	json_t *j = pv_to_json(v, 0, &budget);
	if (!j)
		return afail(&r->a, r->err, "'%s' is nested too deeply or too large", key);
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

static int extract(struct pt_reader *r, json_t *meta)
{
	struct pv *root = r->a.root;
	const char *key = NULL;
	struct pv *model = pt_find_model(root, &key);
	json_t *ck = json_object();
	json_object_set_new(meta, "checkpoint", ck);

	if (model != root) {
		for (size_t i = 0; i + 1 < root->u.seq.n; i += 2) {
			const struct pv *k = root->u.seq.v[i];
			if (k->kind == PV_STR && set_json(r, ck, k->u.str.s, root->u.seq.v[i + 1]))
				return -1;
		}
		if (!model)
			return afail(&r->a, r->err,
				     "no model found: expected 'ema' or 'model' holding a module, or a state_dict");
	}
	json_object_set_new(meta, "model_key", key ? json_string(key) : json_null());
	struct pt_walk w = { .on_tensor = add_tensor, .ctx = r };
	if (model->kind == PV_OBJECT) {
		if (model_meta(r, model, meta))
			return -1;
		json_object_set(meta, "modules", r->modules);
		w.on_module = add_module;
	}
	return pt_walk_model(&r->a, model, &w, r->err);
}

int mlf_ckpt_read_pt(const char *path, struct mlf_ckpt *c, struct mlf_error *err)
{
	struct pt_reader r = { .ckpt = c, .err = err, .modules = json_object() };
	int rc = -1;

	mlf_ckpt_init(c);
	c->meta = json_object();
	if (pt_archive_open(&r.a, path, err))
		goto done;
	json_object_set_new(c->meta, "format", json_string("pt"));
	json_object_set_new(c->meta, "archive", json_string(r.a.prefix));
	if (r.a.version) {
		json_t *v = json_string(r.a.version);
		json_object_set_new(c->meta, "archive_version", v ? v : json_null());
	}
	rc = extract(&r, c->meta);
done:
	for (size_t i = 0; i < r.nstorages; i++) {
		free(r.storages[i].key);
		free(r.storages[i].data);
	}
	free(r.storages);
	json_decref(r.modules);
	pt_archive_close(&r.a);
	if (rc)
		mlf_ckpt_release(c);
	return rc;
}

/* ---- extra records ---- */

int pt_record_name_check(const char *name, struct mlf_error *err)
{
	/* What torch.save writes, what torch.load reads, and what makes it take the file for TorchScript. */
	static const char *const torch_files[] = { "data.pkl", "version", "byteorder", ".format_version",
						   ".storage_alignment", "constants.pkl" };
	static const char *const torch_folders[] = { "data", ".data", "code" };
	const char *why = NULL;
	if (!name)
		return mlf_fail(err, MLF_EX_USAGE, "a .pt record has no name");
	size_t len = strlen(name);
	if (!len)
		why = "is empty";
	else if (len > MLF_CKPT_MAX_RECORD_NAME)
		why = "is too long";
	for (const char *p = name; !why && *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || *p == '\\')
			why = "must be printable ASCII without backslashes";
	for (const char *p = name; !why; p++) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (!n || (n == 1 && p[0] == '.') || (n == 2 && !strncmp(p, "..", 2)))
			why = "must be a relative path without empty, '.' or '..' parts";
		if (!end)
			break;
		p = end;
	}
	for (size_t i = 0; !why && i < sizeof(torch_files) / sizeof(torch_files[0]); i++)
		if (!strcmp(name, torch_files[i]))
			why = "is one of torch's own records";
	for (size_t i = 0; !why && i < sizeof(torch_folders) / sizeof(torch_folders[0]); i++) {
		size_t n = strlen(torch_folders[i]);
		if (!strncmp(name, torch_folders[i], n) && (!name[n] || name[n] == '/'))
			why = "is in one of torch's own folders";
	}
	if (why)
		return mlf_fail(err, MLF_EX_USAGE, ".pt record name '%.*s' %s", len > 200 ? 200 : (int)len,
				name, why);
	return 0;
}

int mlf_ckpt_read_pt_record(const char *path, const char *name, struct mlf_buf *out,
			    struct mlf_error *err)
{
	struct pt_archive a;
	unsigned char *data = NULL;
	uint64_t len = 0;
	int rc = -1;

	if (pt_record_name_check(name, err))
		return -1;
	/* Only the zip: the record's bytes do not depend on the pickle, which need not be run. */
	memset(&a, 0, sizeof(a));
	a.path = path;
	pv_vm_init(&a.vm);
	if (open_zip(&a, err))
		goto done;
	char *pkl = mlf_xasprintf("%s/data.pkl", a.prefix);
	int is_pt = zip_name_locate(a.zip, pkl, ZIP_FL_ENC_RAW) >= 0;
	free(pkl);
	if (!is_pt) {
		afail(&a, err, "not a torch.save archive (no data.pkl), so it has no record '%s'", name);
		goto done;
	}
	int got = pt_archive_read(&a, name, -1, MLF_CKPT_MAX_RECORD, &data, &len, 1, err);
	if (got > 0)
		afail(&a, err, "no record '%s' in the archive", name);
	if (got)
		goto done;
	/* pt_archive_read left a NUL after the bytes: the buffer is handed over as it is. */
	mlf_buf_release(out);
	out->data = (char *)data;
	out->len = (size_t)len;
	out->cap = (size_t)len + 1;
	rc = 0;
done:
	pt_archive_close(&a);
	return rc;
}
