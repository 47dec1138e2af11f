/*
 * Writing a .pt file shaped like a template: the template's pickled graph
 * is read, the model's tensors are pointed at new storages holding the
 * weights, top-level entries are set, and the graph is pickled back and
 * zipped the way torch.save lays out its archives.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <zip.h>

#include "ckpt_internal.h"
#include "mlf/base.h"

/*
 * torch.save (2.x) starts every record's data on a 64-byte boundary by
 * padding the local header's extra field ("FB" + 'Z's), and says so in
 * .storage_alignment.  torch.load does not need it, not even with
 * mmap=True (checked with torch 2.11: it slices the mapping at each
 * record's real offset, aligned or not); it is kept so that storages used
 * in place from a mapping are aligned as torch's own.
 *
 * What libzip cannot do is torch's data descriptor after each record
 * (miniz streams).  Only torch's opt-in
 * torch.utils.serialization.config.load.calculate_storage_offsets, which
 * computes offsets assuming those descriptors instead of reading them,
 * cannot read our files (with mmap=True it reads wrong bytes); the default
 * loads, mmap or not, read the real offsets.
 */
#define ALIGN 64
#define EXTRA_FB 0x4246  /* "FB" as a little-endian id */
#define DOS_EPOCH ((0 << 9) | (1 << 5) | 1)  /* 1980-01-01 as an MS-DOS date */

struct out_storage {
	struct pv *key;               /* the new key ("0", "1", ...), a PV_STR */
	const struct pv *first;       /* the first storage value met for it */
	const unsigned char *data;    /* the bytes to write */
	uint64_t nbytes;
	unsigned char *read;          /* template bytes read for it, owned */
};

struct key_slot {
	const char *key;              /* a template storage key, or NULL */
	size_t out;
};

struct pt_writer {
	struct pt_archive a;
	const struct mlf_ckpt *weights;
	unsigned char *used;          /* per weights tensor: replaced something */
	unsigned char **bufs;         /* converted tensor bytes, owned */
	size_t nbufs, bufs_cap;
	struct out_storage *out;      /* storages in the order the pickle meets them */
	size_t nout, out_cap;
	struct key_slot *slots;       /* template key -> out index (open addressing) */
	size_t slots_cap;
	struct mlf_error *err;
};

static int wfail(struct pt_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int wfail(struct pt_writer *w, const char *fmt, ...)
{
	char what[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return mlf_fail(w->err, MLF_EX_DATAERR, "%s: %s", w->a.path, what);
}

static void shape_text(char *buf, size_t cap, int ndim, const int64_t *shape)
{
	size_t at = (size_t)snprintf(buf, cap, "[");
	for (int i = 0; i < ndim && at < cap; i++)
		at += (size_t)snprintf(buf + at, cap - at, "%s%" PRId64, i ? "," : "", shape[i]);
	if (at < cap)
		snprintf(buf + at, cap - at, "]");
}

static int is_rebuild_parameter(const struct pv *v)
{
	return v->made_by && (pv_is_global(v->made_by, "torch._utils", "_rebuild_parameter") ||
			      pv_is_global(v->made_by, "torch._utils", "_rebuild_parameter_with_state"));
}

static int is_rebuild_tensor(const struct pv *v)
{
	return v->kind == PV_TENSOR && v->made_by && v->made_args->kind == PV_TUPLE &&
	       v->made_args->u.seq.n >= 4 &&
	       (pv_is_global(v->made_by, "torch._utils", "_rebuild_tensor_v2") ||
		pv_is_global(v->made_by, "torch._utils", "_rebuild_tensor"));
}

/* Row-major strides as torch computes them (a size-0 dimension counts as 1). */
static void contiguous_strides(int ndim, const int64_t *shape, int64_t *stride)
{
	int64_t s = 1;
	for (int i = ndim - 1; i >= 0; i--) {
		stride[i] = s;
		s *= shape[i] > 1 ? shape[i] : 1;
	}
}

/* The weights' bytes as the template's dtype: theirs when the dtype agrees, else a converted copy. */
static int weight_bytes(struct pt_writer *w, const char *name, const struct mlf_tensor *src,
			enum mlf_dtype to, uint64_t numel, const unsigned char **out)
{
	if (src->dtype == to) {
		*out = src->data;
		return 0;
	}
	size_t n = (size_t)numel * mlf_dtype_size(to);
	unsigned char *buf = malloc(n ? n : 1);
	if (!buf)
		return mlf_fail(w->err, MLF_EX_SOFTWARE, "tensor '%s': out of memory for %zu bytes",
				name, n);
	if (ckpt_convert(to, buf, src->dtype, src->data, (size_t)numel)) {
		free(buf);
		return wfail(w, "tensor '%s' is %s in the weights and %s in the template; "
			     "only floating types convert", name, mlf_dtype_name(src->dtype),
			     mlf_dtype_name(to));
	}
	if (w->nbufs == w->bufs_cap) {
		w->bufs_cap = w->bufs_cap ? 2 * w->bufs_cap : 64;
		w->bufs = mlf_xrealloc(w->bufs, w->bufs_cap * sizeof(*w->bufs));
	}
	w->bufs[w->nbufs++] = buf;
	*out = buf;
	return 0;
}

/*
 * Point the template tensor at a new storage of its own holding the
 * weights: _rebuild_tensor_v2(new storage, 0, size, contiguous strides, ...)
 * with the template's other arguments (requires_grad, hooks) kept.
 */
static int replace_tensor(void *ctx, const char *name, struct pv *t, struct mlf_error *err)
{
	struct pt_writer *w = ctx;
	struct pv *data = is_rebuild_parameter(t) ? t->made_args->u.seq.v[0] : t;
	char want[200], have[200];
	(void)err;
	if (!is_rebuild_tensor(data))
		return wfail(w, "tensor '%s' is not pickled the way torch.save pickles tensors", name);
	const struct mlf_tensor *src = mlf_ckpt_find(w->weights, name);
	if (!src)
		return wfail(w, "the weights have no tensor '%s', which the template's model holds", name);
	w->used[src - w->weights->tensors] = 1;
	int nd = data->u.tensor.ndim;
	if (src->ndim != nd ||
	    memcmp(src->shape, data->u.tensor.shape, (size_t)nd * sizeof(src->shape[0]))) {
		shape_text(want, sizeof(want), nd, data->u.tensor.shape);
		shape_text(have, sizeof(have), src->ndim, src->shape);
		return wfail(w, "tensor '%s' has shape %s in the weights but %s in the template", name,
			     have, want);
	}
	struct pv *old = data->u.tensor.storage;
	enum mlf_dtype dt = old->u.storage.dtype;
	uint64_t numel = (uint64_t)mlf_tensor_numel(src);
	const unsigned char *bytes = NULL;
	if (weight_bytes(w, name, src, dt, numel, &bytes))
		return -1;
	if (!old->u.storage.key) {
		/* The same tensor under a second name (tied weights): the values must agree. */
		size_t n = (size_t)numel * mlf_dtype_size(dt);
		if (n && memcmp(old->u.storage.data, bytes, n))
			return wfail(w, "tensor '%s' is shared with another in the template but differs "
				     "from it in the weights", name);
		return 0;
	}

	struct pv_vm *vm = &w->a.vm;
	struct pv *s = pv_new(vm, PV_STORAGE);
	s->u.storage.dtype = dt;
	s->u.storage.numel = numel;
	s->u.storage.pid = old->u.storage.pid;
	s->u.storage.data = bytes;

	struct pv *oargs = data->made_args, *args = pv_new(vm, PV_TUPLE);
	for (size_t i = 0; i < oargs->u.seq.n; i++)
		pv_seq_push(&args->u.seq, oargs->u.seq.v[i]);
	args->u.seq.v[0] = s;
	if (data->u.tensor.offset)
		args->u.seq.v[1] = pv_new_int(vm, 0);
	int64_t stride[MLF_TENSOR_MAX_DIMS];
	contiguous_strides(nd, data->u.tensor.shape, stride);
	if (memcmp(stride, data->u.tensor.stride, (size_t)nd * sizeof(stride[0]))) {
		struct pv *st = pv_new(vm, PV_TUPLE);
		for (int i = 0; i < nd; i++)
			pv_seq_push(&st->u.seq, pv_new_int(vm, stride[i]));
		args->u.seq.v[3] = st;
	}
	data->made_args = args;
	data->u.tensor.storage = s;
	data->u.tensor.offset = 0;
	memcpy(data->u.tensor.stride, stride, sizeof(stride));
	return 0;
}

/* ---- storages, numbered as torch.save numbers them: by first use ---- */

static uint64_t hash_key(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct key_slot *find_slot(struct pt_writer *w, const char *key)
{
	size_t mask = w->slots_cap - 1, i = (size_t)hash_key(key) & mask;
	while (w->slots[i].key && strcmp(w->slots[i].key, key))
		i = (i + 1) & mask;
	return &w->slots[i];
}

static void add_slot(struct pt_writer *w, const char *key, size_t out)
{
	if (2 * (w->nout + 1) > w->slots_cap) {
		struct key_slot *old = w->slots;
		size_t old_cap = w->slots_cap;
		w->slots_cap = old_cap ? 2 * old_cap : 256;
		w->slots = mlf_xcalloc(w->slots_cap, sizeof(*w->slots));
		for (size_t i = 0; i < old_cap; i++)
			if (old[i].key)
				*find_slot(w, old[i].key) = old[i];
		free(old);
	}
	*find_slot(w, key) = (struct key_slot){ key, out };
}

static size_t add_out(struct pt_writer *w, const struct pv *s)
{
	if (w->nout == w->out_cap) {
		w->out_cap = w->out_cap ? 2 * w->out_cap : 64;
		w->out = mlf_xrealloc(w->out, w->out_cap * sizeof(*w->out));
	}
	char key[24];
	int n = snprintf(key, sizeof(key), "%zu", w->nout);
	struct out_storage *o = &w->out[w->nout];
	memset(o, 0, sizeof(*o));
	o->key = pv_new_str(&w->a.vm, PV_STR, key, (size_t)n);
	o->first = s;
	o->data = s->u.storage.data;
	o->nbytes = s->u.storage.numel * mlf_dtype_size(s->u.storage.dtype);
	return w->nout++;
}

/*
 * torch.save's persistent_id: ('storage', torch.<T>Storage, key, location,
 * numel), with the template's type and location values (so the memo shares
 * them as torch's pickle does) and the new key, the same string value for
 * every use of one storage.
 */
static int persistent_id(void *ctx, const struct pv *s, struct pv **pid, struct mlf_error *err)
{
	struct pt_writer *w = ctx;
	size_t idx;
	if (!s->u.storage.key) {
		/* A new storage is met once: the tensor holding it is memoized. */
		idx = add_out(w, s);
	} else {
		struct key_slot *slot = w->slots_cap ? find_slot(w, s->u.storage.key) : NULL;
		if (slot && slot->key) {
			idx = slot->out;
			const struct pv *f = w->out[idx].first;
			if (f->u.storage.dtype != s->u.storage.dtype || f->u.storage.numel != s->u.storage.numel)
				return mlf_fail(err, MLF_EX_DATAERR,
						"storage '%s' is used with two different types or sizes",
						s->u.storage.key);
		} else {
			idx = add_out(w, s);
			add_slot(w, s->u.storage.key, idx);
		}
	}
	struct pv **old = s->u.storage.pid->u.seq.v, *t = pv_new(&w->a.vm, PV_TUPLE);
	pv_seq_push(&t->u.seq, old[0]);
	pv_seq_push(&t->u.seq, old[1]);
	pv_seq_push(&t->u.seq, w->out[idx].key);
	pv_seq_push(&t->u.seq, old[3]);
	pv_seq_push(&t->u.seq, pv_new_int(&w->a.vm, (int64_t)s->u.storage.numel));
	*pid = t;
	return 0;
}

/* ---- top-level entries from JSON ---- */

static struct pv *from_json(struct pt_writer *w, const json_t *j, int depth)
{
	struct pv_vm *vm = &w->a.vm;
	struct pv *v;
	if (depth > MLF_CKPT_MAX_NESTING) {
		wfail(w, "an update is nested more than %d deep", MLF_CKPT_MAX_NESTING);
		return NULL;
	}
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		v = pv_new(vm, PV_DICT);
		json_object_foreach((json_t *)j, k, x) {
			struct pv *val = from_json(w, x, depth + 1);
			if (!val)
				return NULL;
			pv_seq_push(&v->u.seq, pv_new_str(vm, PV_STR, k, strlen(k)));
			pv_seq_push(&v->u.seq, val);
		}
		return v;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;
		v = pv_new(vm, PV_LIST);
		json_array_foreach(j, i, x) {
			struct pv *val = from_json(w, x, depth + 1);
			if (!val)
				return NULL;
			pv_seq_push(&v->u.seq, val);
		}
		return v;
	}
	case JSON_STRING:
		return pv_new_str(vm, PV_STR, json_string_value(j), json_string_length(j));
	case JSON_INTEGER:
		return pv_new_int(vm, json_integer_value(j));
	case JSON_REAL:
		v = pv_new(vm, PV_FLOAT);
		v->u.f = json_real_value(j);
		return v;
	case JSON_TRUE:
	case JSON_FALSE:
		v = pv_new(vm, PV_BOOL);
		v->u.i = json_is_true(j);
		return v;
	default:
		return pv_new(vm, PV_NONE);
	}
}

/* Set root[key] = value for each entry: in place when the key is there (dict order kept), else appended. */
static int apply_updates(struct pt_writer *w, struct pv *root, const json_t *updates)
{
	const char *k;
	json_t *x;
	json_object_foreach((json_t *)updates, k, x) {
		struct pv *val = from_json(w, x, 1);
		if (!val)
			return -1;
		struct pv_seq *d = &root->u.seq;
		size_t i = d->n;
		for (; i >= 2; i -= 2)
			if (d->v[i - 2]->kind == PV_STR && !strcmp(d->v[i - 2]->u.str.s, k))
				break;
		if (i >= 2) {
			d->v[i - 1] = val;
		} else {
			pv_seq_push(d, pv_new_str(&w->a.vm, PV_STR, k, strlen(k)));
			pv_seq_push(d, val);
		}
	}
	return 0;
}

/* ---- the zip ---- */

struct record {
	char *name;
	const void *data;
	uint64_t len;
};

/* torch names the archive folder after the file: ".../best.pt" -> "best". */
static char *archive_name(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strrchr(base, '.');
	size_t n = dot ? (size_t)(dot - base) : strlen(base);
	int ok = n && !(n == 1 && base[0] == '.') && !(n == 2 && !strncmp(base, "..", 2));
	for (size_t i = 0; i < n && ok; i++)
		ok = base[i] != '\\' && (unsigned char)base[i] >= 0x20;
	return ok ? mlf_xstrndup(base, n) : mlf_xstrdup("archive");
}

/* 40 decimal digits from a digest of every record: the same content gets the same file. */
static void serialization_id(const struct record *r, size_t n, char id[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	uint64_t a = 0, b = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
		for (size_t i = 0; i < n; i++) {
			EVP_DigestUpdate(ctx, r[i].name, strlen(r[i].name) + 1);
			EVP_DigestUpdate(ctx, r[i].data, r[i].len);
		}
		EVP_DigestFinal_ex(ctx, md, &mdlen);
	}
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < 8 && i + 8 < mdlen; i++) {
		a = a << 8 | md[i];
		b = b << 8 | md[i + 8];
	}
	/* Each half below 10^19 keeps it 20 digits, as torch's ids are. */
	const uint64_t ten19 = UINT64_C(10000000000000000000);
	snprintf(id, 41, "%020" PRIu64 "%020" PRIu64, a % ten19, b % ten19);
}

static int zip_fail(zip_t *z, const char *tmp, int status, const char *what, struct mlf_error *err)
{
	return mlf_fail(err, status, "cannot %s '%s': %s", what, tmp, zip_strerror(z));
}

/*
 * Write the records, stored, in order, each one's data starting on an
 * ALIGN boundary.  libzip writes local headers of 30 bytes + name + extra
 * fields and no data descriptors, so the offsets are known in advance.
 */
static int write_zip(const char *tmp, const struct record *r, size_t n, struct mlf_error *err)
{
	unsigned char pad[ALIGN];
	int zerr = 0;
	memset(pad, 'Z', sizeof(pad));
	zip_t *z = zip_open(tmp, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
	if (!z) {
		zip_error_t ze;
		zip_error_init_with_code(&ze, zerr);
		mlf_fail(err, MLF_EX_CANTCREAT, "cannot create '%s': %s", tmp, zip_error_strerror(&ze));
		zip_error_fini(&ze);
		return -1;
	}
	uint64_t off = 0;
	for (size_t i = 0; i < n; i++) {
		zip_source_t *src = zip_source_buffer(z, r[i].len ? r[i].data : "", r[i].len, 0);
		if (!src) {
			zip_fail(z, tmp, MLF_EX_SOFTWARE, "add to", err);
			goto fail;
		}
		zip_int64_t idx = zip_file_add(z, r[i].name, src, ZIP_FL_ENC_UTF_8);
		if (idx < 0) {
			zip_source_free(src);
			zip_fail(z, tmp, MLF_EX_SOFTWARE, "add to", err);
			goto fail;
		}
		uint64_t data_at = off + 30 + strlen(r[i].name) + 4;
		uint16_t npad = (uint16_t)((ALIGN - data_at % ALIGN) % ALIGN);
		/*
		 * A fixed time so that the same content gives the same file: the zip
		 * epoch, 1980-01-01 00:00 (torch writes an all-zero date, which
		 * libzip does not keep).
		 */
		if (zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_STORE, 0) ||
		    zip_file_set_dostime(z, (zip_uint64_t)idx, 0, DOS_EPOCH, 0) ||
		    zip_file_extra_field_set(z, (zip_uint64_t)idx, EXTRA_FB, ZIP_EXTRA_FIELD_NEW, pad,
					     npad, ZIP_FL_LOCAL)) {
			zip_fail(z, tmp, MLF_EX_SOFTWARE, "add to", err);
			goto fail;
		}
		off = data_at + npad + r[i].len;
	}
	if (zip_close(z)) {
		zip_fail(z, tmp, MLF_EX_IOERR, "write", err);
		goto fail;
	}
	return 0;
fail:
	zip_discard(z);
	return -1;
}

/* zip_close wrote and renamed its own temporary file over `tmp`; make it durable, then publish. */
static int publish(const char *tmp, const char *path, struct mlf_error *err)
{
	int fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mlf_fail_errno(err, MLF_EX_IOERR, "cannot open '%s'", tmp);
	int rc = 0;
	if (fsync(fd))
		rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot flush '%s'", tmp);
	close(fd);
	if (!rc && mlf_failpoint(path, err))
		rc = -1;
	if (!rc && rename(tmp, path))
		rc = mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot rename '%s' to '%s'", tmp, path);
	return rc;
}

static int write_archive(struct pt_writer *w, const struct mlf_buf *pkl,
			 const struct mlf_ckpt_record *extra, size_t nextra, const char *path)
{
	static const char *const small[][2] = {
		{ ".format_version", "1" }, { ".storage_alignment", "64" }, { "byteorder", "little" },
	};
	char *prefix = archive_name(path), id[41], *tmp = NULL;
	size_t n = 0, cap = w->nout + nextra + 8;
	struct record *r = mlf_xcalloc(cap, sizeof(*r));
	int rc = -1;

	/* Storages kept from the template are read (and checked) before anything is created. */
	for (size_t i = 0; i < w->nout; i++) {
		struct out_storage *o = &w->out[i];
		if (o->first->u.storage.key) {
			char *rel = mlf_xasprintf("data/%s", o->first->u.storage.key);
			uint64_t len;
			int got = pt_archive_read(&w->a, rel, (int64_t)o->nbytes, MLF_CKPT_MAX_TENSOR_BYTES,
						  &o->read, &len, 0, w->err);
			free(rel);
			if (got)
				goto done;
			o->data = o->read;
		}
	}
	/* The order torch.save 2.11 writes. */
	r[n++] = (struct record){ mlf_xasprintf("%s/data.pkl", prefix), pkl->data, pkl->len };
	for (size_t i = 0; i < 3; i++)
		r[n++] = (struct record){ mlf_xasprintf("%s/%s", prefix, small[i][0]), small[i][1],
					  strlen(small[i][1]) };
	for (size_t i = 0; i < w->nout; i++)
		r[n++] = (struct record){ mlf_xasprintf("%s/data/%s", prefix, w->out[i].key->u.str.s),
					  w->out[i].data, w->out[i].nbytes };
	/* Ours after torch's data, where a reader walking torch's records in order meets them last. */
	for (size_t i = 0; i < nextra; i++)
		r[n++] = (struct record){ mlf_xasprintf("%s/%s", prefix, extra[i].name), extra[i].data,
					  extra[i].len };
	r[n++] = (struct record){ mlf_xasprintf("%s/version", prefix), "3\n", 2 };
	serialization_id(r, n, id);
	r[n++] = (struct record){ mlf_xasprintf("%s/.data/serialization_id", prefix), id, 40 };

	/* A fresh name beside `path`; libzip then replaces it whole. */
	FILE *f = mlf_atomic_fopen(path, &tmp, w->err);
	if (!f)
		goto done;
	fclose(f);
	rc = write_zip(tmp, r, n, w->err);
	if (!rc)
		rc = publish(tmp, path, w->err);
	if (rc)
		unlink(tmp);
done:
	for (size_t i = 0; i < n; i++)
		free(r[i].name);
	free(r);
	free(tmp);
	free(prefix);
	return rc;
}

static int check_records(const struct mlf_ckpt_record *r, size_t n, struct mlf_error *err)
{
	if (n && !r)
		return mlf_fail(err, MLF_EX_USAGE, "%zu .pt records given without their array", n);
	for (size_t i = 0; i < n; i++) {
		if (pt_record_name_check(r[i].name, err))
			return -1;
		if (r[i].len && !r[i].data)
			return mlf_fail(err, MLF_EX_USAGE, ".pt record '%s' has %zu bytes but no data",
					r[i].name, r[i].len);
		if ((uint64_t)r[i].len > MLF_CKPT_MAX_RECORD)
			return mlf_fail(err, MLF_EX_USAGE, ".pt record '%s' is larger than %llu bytes",
					r[i].name, (unsigned long long)MLF_CKPT_MAX_RECORD);
		/* Quadratic, but a checkpoint carries a handful of records. */
		for (size_t j = 0; j < i; j++)
			if (!strcmp(r[i].name, r[j].name))
				return mlf_fail(err, MLF_EX_USAGE, ".pt record '%s' is given twice", r[i].name);
	}
	return 0;
}

int mlf_ckpt_write_pt(const char *template_path, const struct mlf_ckpt *weights,
		      const json_t *updates, const char *path, struct mlf_error *err)
{
	return mlf_ckpt_write_pt_records(template_path, weights, updates, NULL, 0, path, err);
}

int mlf_ckpt_write_pt_records(const char *template_path, const struct mlf_ckpt *weights,
			      const json_t *updates, const struct mlf_ckpt_record *records,
			      size_t nrecords, const char *path, struct mlf_error *err)
{
	struct pt_writer w = { .weights = weights, .err = err };
	struct mlf_buf pkl = MLF_BUF_INIT;
	int rc = -1;

	if (check_records(records, nrecords, err))
		return -1;
	if (updates && !json_is_object(updates))
		return mlf_fail(err, MLF_EX_SOFTWARE, "%s: the updates must be a JSON object", path);
	if (pt_archive_open(&w.a, template_path, err))
		return -1;
	w.used = mlf_xcalloc(weights->ntensors + 1, 1);

	const char *key;
	struct pv *model = pt_find_model(w.a.root, &key);
	if (!model) {
		wfail(&w, "no model found: expected 'ema' or 'model' holding a module, or a state_dict");
		goto done;
	}
	struct pt_walk walk = { .on_tensor = replace_tensor, .ctx = &w };
	if (pt_walk_model(&w.a, model, &walk, err))
		goto done;
	for (size_t i = 0; i < weights->ntensors; i++)
		if (!w.used[i]) {
			wfail(&w, "the template's model has no tensor '%s'", weights->tensors[i].name);
			goto done;
		}
	if (updates && json_object_size(updates)) {
		if (model == w.a.root) {
			wfail(&w, "the template holds a bare model, not a dict whose entries can be set");
			goto done;
		}
		if (apply_updates(&w, w.a.root, updates))
			goto done;
	}
	if (pv_pickle(&w.a.vm, w.a.root, persistent_id, &w, &pkl, err)) {
		mlf_error_prefix(err, "%s: writing data.pkl", template_path);
		goto done;
	}
	rc = write_archive(&w, &pkl, records, nrecords, path);
done:
	for (size_t i = 0; i < w.nbufs; i++)
		free(w.bufs[i]);
	for (size_t i = 0; i < w.nout; i++)
		free(w.out[i].read);
	free(w.bufs);
	free(w.out);
	free(w.slots);
	free(w.used);
	mlf_buf_release(&pkl);
	pt_archive_close(&w.a);
	return rc;
}
