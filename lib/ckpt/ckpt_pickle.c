/*
 * A pickle interpreter for what torch.save writes (protocol 2, plus the few
 * protocol 3/4 opcodes that cost nothing), which never imports or calls.
 * Opcode meanings follow Python's pickletools documentation.
 */
#include "ckpt_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"

struct pv_run_ctx {
	struct pv_vm *vm;
	const unsigned char *p;
	size_t len, pos, op_pos;
	struct mlf_error *err;
};

struct pv *pv_new(struct pv_vm *vm, enum pv_kind kind)
{
	struct pv *v = mlf_xcalloc(1, sizeof(*v));
	v->kind = kind;
	v->next_owned = vm->owned;
	vm->owned = v;
	return v;
}

void pv_seq_push(struct pv_seq *s, struct pv *v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 4;
		s->v = mlf_xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = v;
}

void pv_vm_init(struct pv_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
}

void pv_vm_release(struct pv_vm *vm)
{
	struct pv *v = vm->owned, *next;
	for (; v; v = next) {
		next = v->next_owned;
		switch (v->kind) {
		case PV_STR:
		case PV_BYTES:
			free(v->u.str.s);
			break;
		case PV_TUPLE:
		case PV_LIST:
		case PV_DICT:
			free(v->u.seq.v);
			break;
		case PV_GLOBAL:
			free(v->u.global.module);
			free(v->u.global.name);
			break;
		case PV_STORAGE:
			free(v->u.storage.key);
			break;
		default:
			break;
		}
		free(v);
	}
	free(vm->stack.v);
	free(vm->marks);
	free(vm->memo);
	memset(vm, 0, sizeof(*vm));
}

struct pv *pv_dict_get(const struct pv *d, const char *key)
{
	if (!d || d->kind != PV_DICT)
		return NULL;
	/* The last occurrence wins, as in Python's dict. */
	for (size_t i = d->u.seq.n; i >= 2; i -= 2) {
		const struct pv *k = d->u.seq.v[i - 2];
		if (k->kind == PV_STR && !strcmp(k->u.str.s, key))
			return d->u.seq.v[i - 1];
	}
	return NULL;
}

static const struct pv *class_of(const struct pv *v)
{
	if (v && v->kind == PV_OBJECT)
		v = v->u.obj.cls;
	return v && v->kind == PV_GLOBAL ? v : NULL;
}

const char *pv_class_module(const struct pv *v)
{
	const struct pv *c = class_of(v);
	return c ? c->u.global.module : NULL;
}

const char *pv_class_name(const struct pv *v)
{
	const struct pv *c = class_of(v);
	return c ? c->u.global.name : NULL;
}

struct pv *pv_object_dict(const struct pv *v)
{
	if (!v || v->kind != PV_OBJECT || !v->u.obj.state)
		return NULL;
	struct pv *s = v->u.obj.state;
	if (s->kind == PV_TUPLE && s->u.seq.n == 2)
		s = s->u.seq.v[0];
	return s->kind == PV_DICT ? s : NULL;
}

/* ---- the interpreter ---- */

static int bad(struct pv_run_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct pv_run_ctx *c, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return mlf_fail(c->err, MLF_EX_DATAERR, "pickle opcode 0x%02x at offset %zu: %s",
			c->p[c->op_pos], c->op_pos, what);
}

static int take(struct pv_run_ctx *c, size_t n, const unsigned char **out)
{
	if (n > c->len - c->pos)
		return mlf_fail(c->err, MLF_EX_DATAERR,
				"pickle truncated: opcode 0x%02x at offset %zu needs %zu more bytes",
				c->p[c->op_pos], c->op_pos, n);
	*out = c->p + c->pos;
	c->pos += n;
	return 0;
}

static uint64_t le(const unsigned char *b, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static size_t frame_start(const struct pv_vm *vm)
{
	return vm->nmarks ? vm->marks[vm->nmarks - 1] : 0;
}

static int push(struct pv_run_ctx *c, struct pv *v)
{
	if (c->vm->stack.n >= MLF_CKPT_MAX_STACK)
		return bad(c, "stack deeper than %u entries", MLF_CKPT_MAX_STACK);
	pv_seq_push(&c->vm->stack, v);
	return 0;
}

static int pop(struct pv_run_ctx *c, struct pv **v)
{
	struct pv_vm *vm = c->vm;
	if (vm->stack.n <= frame_start(vm))
		return bad(c, "stack underflow");
	*v = vm->stack.v[--vm->stack.n];
	return 0;
}

static int top(struct pv_run_ctx *c, struct pv **v)
{
	struct pv_vm *vm = c->vm;
	if (vm->stack.n <= frame_start(vm))
		return bad(c, "stack underflow");
	*v = vm->stack.v[vm->stack.n - 1];
	return 0;
}

/* Items above the last MARK: stack.v[*from .. stack.n); pops the mark (not the items). */
static int pop_mark(struct pv_run_ctx *c, size_t *from)
{
	if (!c->vm->nmarks)
		return bad(c, "no MARK on the stack");
	*from = c->vm->marks[--c->vm->nmarks];
	return 0;
}

struct pv *pv_new_str(struct pv_vm *vm, enum pv_kind kind, const char *s, size_t n)
{
	struct pv *v = pv_new(vm, kind);
	v->u.str.s = mlf_xmalloc(n + 1);
	memcpy(v->u.str.s, s, n);
	v->u.str.s[n] = '\0';
	v->u.str.len = n;
	return v;
}

static struct pv *make_str(struct pv_vm *vm, enum pv_kind kind, const unsigned char *s, size_t n)
{
	return pv_new_str(vm, kind, (const char *)s, n);
}

static struct pv *make_int(struct pv_vm *vm, enum pv_kind kind, int64_t i)
{
	struct pv *v = pv_new(vm, kind);
	v->u.i = i;
	return v;
}

struct pv *pv_new_int(struct pv_vm *vm, int64_t i)
{
	return make_int(vm, PV_INT, i);
}

static struct pv *make_seq(struct pv_vm *vm, enum pv_kind kind, struct pv **items, size_t n)
{
	struct pv *v = pv_new(vm, kind);
	for (size_t i = 0; i < n; i++)
		pv_seq_push(&v->u.seq, items[i]);
	return v;
}

static int valid_dotted_name(const char *s, size_t n)
{
	if (!n || n > 256)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!(ch == '_' || ch == '.' || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z')))
			return 0;
	}
	return 1;
}

/*
 * The globals a genuine torch/Ultralytics checkpoint names, and nothing else.
 * A pickle's GLOBAL is what torch.load(weights_only=False), as Ultralytics
 * loads, imports and may call: a checkpoint naming anything else (posix.system,
 * builtins.eval, a downloader) would run code in whoever loads it, and mlf
 * would carry that reference into the .pt it publishes.  So such a checkpoint
 * is refused outright.  Allowed: the tensor and storage builders, the
 * nn.Module classes of torch and of Ultralytics' model code (made without
 * running any method of theirs but __init__/__setstate__), Ultralytics'
 * argument namespace, and plain data containers.
 */
static int global_allowed(const char *mod, const char *name)
{
	static const char *const exact[] = {
		"collections.OrderedDict", "__builtin__.set", "builtins.set", "__builtin__.frozenset",
		"builtins.frozenset", "__builtin__.bytes", "builtins.bytes", "__builtin__.bytearray",
		"builtins.bytearray", "_codecs.encode", "copyreg._reconstructor", "types.SimpleNamespace",
		"torch.Size", "torch.nn.parameter.Parameter", "ultralytics.utils.IterableSimpleNamespace",
		"numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
		"numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.ndarray",
		"numpy.dtype", "pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath",
		"pathlib.PurePosixPath", "pathlib.PureWindowsPath",
	};
	size_t len = strlen(name);
	char *full = mlf_xasprintf("%s.%s", mod, name);
	int ok = 0;
	for (size_t i = 0; !ok && i < sizeof(exact) / sizeof(exact[0]); i++)
		ok = !strcmp(full, exact[i]);
	free(full);
	if (!ok && !strcmp(mod, "torch._utils"))
		ok = !strncmp(name, "_rebuild_", 9);          /* tensors and parameters */
	if (!ok && (!strcmp(mod, "torch") || !strcmp(mod, "torch.storage")))
		ok = len > 7 && !strcmp(name + len - 7, "Storage");  /* FloatStorage, ... */
	if (!ok && !strncmp(mod, "torch.nn.modules.", 17))
		ok = 1;                                          /* Conv2d, BatchNorm2d, SiLU, ... */
	if (!ok && !strncmp(mod, "ultralytics.nn.modules.", 23))
		ok = 1;                                          /* Conv, C2f, Detect, ... */
	if (!ok && !strcmp(mod, "ultralytics.nn.tasks"))
		ok = len > 5 && !strcmp(name + len - 5, "Model");  /* DetectionModel, ... */
	return ok;
}

static int make_global(struct pv_run_ctx *c, const char *mod, size_t nmod, const char *name,
		       size_t nname)
{
	if (!valid_dotted_name(mod, nmod) || !valid_dotted_name(name, nname))
		return bad(c, "GLOBAL with a malformed module or name");
	char *m = mlf_xstrndup(mod, nmod), *n = mlf_xstrndup(name, nname);
	int allowed = global_allowed(m, n);
	if (!allowed)
		bad(c, "the pickle names the global %s.%s, which no genuine torch or Ultralytics "
		    "checkpoint uses: loading this file with torch.load would run it", m, n);
	free(m);
	free(n);
	if (!allowed)
		return -1;
	struct pv *g = pv_new(c->vm, PV_GLOBAL);
	g->u.global.module = mlf_xstrndup(mod, nmod);
	g->u.global.name = mlf_xstrndup(name, nname);
	return push(c, g);
}

int pv_is_global(const struct pv *v, const char *mod, const char *name)
{
	return v->kind == PV_GLOBAL && !strcmp(v->u.global.module, mod) &&
	       !strcmp(v->u.global.name, name);
}

static int storage_dtype(const struct pv *g, enum mlf_dtype *dt)
{
	static const struct {
		const char *name;
		enum mlf_dtype dt;
	} map[] = {
		{ "FloatStorage", MLF_DTYPE_F32 },  { "HalfStorage", MLF_DTYPE_F16 },
		{ "BFloat16Storage", MLF_DTYPE_BF16 }, { "DoubleStorage", MLF_DTYPE_F64 },
		{ "LongStorage", MLF_DTYPE_I64 },   { "IntStorage", MLF_DTYPE_I32 },
		{ "ShortStorage", MLF_DTYPE_I16 },  { "CharStorage", MLF_DTYPE_I8 },
		{ "ByteStorage", MLF_DTYPE_U8 },    { "BoolStorage", MLF_DTYPE_BOOL },
		{ "UntypedStorage", MLF_DTYPE_U8 },
	};
	if (g->kind != PV_GLOBAL ||
	    (strcmp(g->u.global.module, "torch") && strcmp(g->u.global.module, "torch.storage")))
		return -1;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(g->u.global.name, map[i].name)) {
			*dt = map[i].dt;
			return 0;
		}
	return -1;
}

/* ('storage', torch.<T>Storage, key, location, numel) -> PV_STORAGE */
static int persistent_load(struct pv_run_ctx *c, struct pv *pid, struct pv **out)
{
	struct pv **a = pid->u.seq.v;
	if (pid->kind != PV_TUPLE || pid->u.seq.n != 5 || a[0]->kind != PV_STR ||
	    strcmp(a[0]->u.str.s, "storage"))
		return bad(c, "persistent id is not a ('storage', type, key, location, size) tuple");
	enum mlf_dtype dt;
	if (storage_dtype(a[1], &dt))
		return bad(c, "unsupported storage type %s.%s",
			   a[1]->kind == PV_GLOBAL ? a[1]->u.global.module : "?",
			   a[1]->kind == PV_GLOBAL ? a[1]->u.global.name : "?");
	if (a[2]->kind != PV_STR || !a[2]->u.str.len || a[2]->u.str.len > 64)
		return bad(c, "storage key is not a short string");
	for (size_t i = 0; i < a[2]->u.str.len; i++) {
		char ch = a[2]->u.str.s[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      ch == '_'))
			return bad(c, "storage key '%s' is not a plain name", a[2]->u.str.s);
	}
	if (a[4]->kind != PV_INT || a[4]->u.i < 0 ||
	    (uint64_t)a[4]->u.i > MLF_CKPT_MAX_TENSOR_BYTES / mlf_dtype_size(dt))
		return bad(c, "storage '%s' has an impossible size", a[2]->u.str.s);
	struct pv *s = pv_new(c->vm, PV_STORAGE);
	s->u.storage.dtype = dt;
	s->u.storage.key = mlf_xstrdup(a[2]->u.str.s);
	s->u.storage.numel = (uint64_t)a[4]->u.i;
	s->u.storage.pid = pid;
	*out = s;
	return 0;
}

static int int_tuple(struct pv_run_ctx *c, const struct pv *t, const char *what, int64_t *out,
		     int *n)
{
	if (t->kind != PV_TUPLE && t->kind != PV_LIST)
		return bad(c, "tensor %s is not a tuple", what);
	if (t->u.seq.n > MLF_TENSOR_MAX_DIMS)
		return bad(c, "tensor has %zu dimensions (at most %d)", t->u.seq.n,
			   MLF_TENSOR_MAX_DIMS);
	for (size_t i = 0; i < t->u.seq.n; i++) {
		const struct pv *x = t->u.seq.v[i];
		if (x->kind != PV_INT || x->u.i < 0)
			return bad(c, "tensor %s holds a value that is not a non-negative integer", what);
		out[i] = x->u.i;
	}
	*n = (int)t->u.seq.n;
	return 0;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
static int rebuild_tensor(struct pv_run_ctx *c, struct pv *args, int nargs_min, struct pv **out)
{
	struct pv **a = args->u.seq.v;
	size_t n = args->u.seq.n;
	if (n < (size_t)nargs_min || n > 7)
		return bad(c, "tensor rebuild with %zu arguments", n);
	if (a[0]->kind != PV_STORAGE)
		return bad(c, "tensor rebuild without a storage");
	if (a[1]->kind != PV_INT || a[1]->u.i < 0)
		return bad(c, "tensor storage offset is not a non-negative integer");
	struct pv *t = pv_new(c->vm, PV_TENSOR);
	int nd_stride = 0;
	t->u.tensor.storage = a[0];
	t->u.tensor.offset = a[1]->u.i;
	if (int_tuple(c, a[2], "size", t->u.tensor.shape, &t->u.tensor.ndim) ||
	    int_tuple(c, a[3], "stride", t->u.tensor.stride, &nd_stride))
		return -1;
	if (nd_stride != t->u.tensor.ndim)
		return bad(c, "tensor size and stride differ in length");
	t->u.tensor.requires_grad = n > 4 && a[4]->kind == PV_BOOL && a[4]->u.i;

	/* The last element addressed must lie inside the storage. */
	uint64_t numel = 1, last = (uint64_t)t->u.tensor.offset, limit = MLF_CKPT_MAX_TENSOR_BYTES;
	for (int i = 0; i < t->u.tensor.ndim; i++) {
		uint64_t d = (uint64_t)t->u.tensor.shape[i], s = (uint64_t)t->u.tensor.stride[i];
		if (d && numel > limit / d)
			return bad(c, "tensor shape overflows");
		numel *= d;
		if (d && s && d - 1 > (limit - last) / s)
			return bad(c, "tensor strides reach outside any storage");
		if (d)
			last += (d - 1) * s;
	}
	if (numel && last >= a[0]->u.storage.numel)
		return bad(c, "tensor reaches element %llu of storage '%s' which holds %llu",
			   (unsigned long long)last, a[0]->u.storage.key,
			   (unsigned long long)a[0]->u.storage.numel);
	*out = t;
	return 0;
}

/* _rebuild_parameter(data, requires_grad, hooks[, state]): the tensor, flagged. */
static int rebuild_parameter(struct pv_run_ctx *c, struct pv *args, struct pv **out)
{
	struct pv **a = args->u.seq.v;
	if (args->u.seq.n < 3 || args->u.seq.n > 4 || a[0]->kind != PV_TENSOR)
		return bad(c, "parameter rebuild without a tensor");
	struct pv *t = pv_new(c->vm, PV_TENSOR);
	t->u.tensor = a[0]->u.tensor;
	t->u.tensor.requires_grad = a[1]->kind == PV_BOOL && a[1]->u.i;
	*out = t;
	return 0;
}

/* _codecs.encode(text, 'latin1'): how protocol 2 spells bytes. */
static int codecs_encode(struct pv_run_ctx *c, struct pv *args, struct pv **out)
{
	struct pv **a = args->u.seq.v;
	if (args->u.seq.n != 2 || a[0]->kind != PV_STR || a[1]->kind != PV_STR)
		return bad(c, "_codecs.encode with unexpected arguments");
	const unsigned char *s = (const unsigned char *)a[0]->u.str.s;
	size_t n = a[0]->u.str.len;
	if (!strcmp(a[1]->u.str.s, "utf-8") || !strcmp(a[1]->u.str.s, "utf8")) {
		*out = make_str(c->vm, PV_BYTES, s, n);
		return 0;
	}
	if (strcmp(a[1]->u.str.s, "latin1") && strcmp(a[1]->u.str.s, "latin-1"))
		return bad(c, "_codecs.encode to '%s'", a[1]->u.str.s);
	struct pv *b = make_str(c->vm, PV_BYTES, s, 0);
	size_t j = 0;
	b->u.str.s = mlf_xrealloc(b->u.str.s, n + 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x80) {
			b->u.str.s[j++] = (char)s[i];
		} else if ((s[i] & 0xfe) == 0xc2 && i + 1 < n && (s[i + 1] & 0xc0) == 0x80) {
			b->u.str.s[j++] = (char)(((s[i] & 0x03) << 6) | (s[i + 1] & 0x3f));
			i++;
		} else {
			return bad(c, "_codecs.encode of text that is not latin-1");
		}
	}
	b->u.str.s[j] = '\0';
	b->u.str.len = j;
	*out = b;
	return 0;
}

/*
 * REDUCE and NEWOBJ.  Only the functions below are given a meaning; any other
 * callable becomes an inert object that remembers what would have been called.
 */
static int call(struct pv_run_ctx *c, struct pv *fn, struct pv *args, struct pv **out)
{
	if (fn->kind != PV_GLOBAL)
		return bad(c, "call of something that is not a global");
	if (args->kind != PV_TUPLE)
		return bad(c, "call arguments are not a tuple");
	size_t n = args->u.seq.n;
	struct pv **a = args->u.seq.v;
	if (pv_is_global(fn, "torch._utils", "_rebuild_tensor_v2"))
		return rebuild_tensor(c, args, 6, out);
	if (pv_is_global(fn, "torch._utils", "_rebuild_tensor"))
		return rebuild_tensor(c, args, 4, out);
	if (pv_is_global(fn, "torch._utils", "_rebuild_parameter") ||
	    pv_is_global(fn, "torch._utils", "_rebuild_parameter_with_state"))
		return rebuild_parameter(c, args, out);
	if (pv_is_global(fn, "collections", "OrderedDict")) {
		*out = pv_new(c->vm, PV_DICT);
		if (n == 0)
			return 0;
		if (n != 1 || (a[0]->kind != PV_LIST && a[0]->kind != PV_TUPLE))
			return bad(c, "OrderedDict with unexpected arguments");
		for (size_t i = 0; i < a[0]->u.seq.n; i++) {
			struct pv *kv = a[0]->u.seq.v[i];
			if (kv->kind != PV_TUPLE || kv->u.seq.n != 2)
				return bad(c, "OrderedDict item is not a pair");
			pv_seq_push(&(*out)->u.seq, kv->u.seq.v[0]);
			pv_seq_push(&(*out)->u.seq, kv->u.seq.v[1]);
		}
		return 0;
	}
	if (pv_is_global(fn, "torch", "Size")) {
		if (n != 1 || a[0]->kind != PV_TUPLE)
			return bad(c, "torch.Size with unexpected arguments");
		/* A tuple of its own, so that it can remember it was a torch.Size. */
		*out = make_seq(c->vm, PV_TUPLE, a[0]->u.seq.v, a[0]->u.seq.n);
		return 0;
	}
	if (pv_is_global(fn, "__builtin__", "set") || pv_is_global(fn, "builtins", "set") ||
	    pv_is_global(fn, "__builtin__", "frozenset") || pv_is_global(fn, "builtins", "frozenset")) {
		if (n == 0) {
			*out = pv_new(c->vm, PV_LIST);
			return 0;
		}
		if (n != 1 || (a[0]->kind != PV_LIST && a[0]->kind != PV_TUPLE))
			return bad(c, "set with unexpected arguments");
		*out = make_seq(c->vm, PV_LIST, a[0]->u.seq.v, a[0]->u.seq.n);
		return 0;
	}
	if (pv_is_global(fn, "_codecs", "encode"))
		return codecs_encode(c, args, out);
	struct pv *o = pv_new(c->vm, PV_OBJECT);
	o->u.obj.cls = fn;
	o->u.obj.args = args;
	*out = o;
	return 0;
}

static int memo_put(struct pv_run_ctx *c, uint64_t id)
{
	struct pv_vm *vm = c->vm;
	struct pv *v;
	if (top(c, &v))
		return -1;
	/* Picklers number memo entries 0, 1, 2, ...; allow small gaps, not huge ones. */
	if (id >= MLF_CKPT_MAX_MEMO || id > vm->memo_len + 1024)
		return bad(c, "memo index %llu out of range", (unsigned long long)id);
	if (id >= vm->memo_len) {
		vm->memo = mlf_xrealloc(vm->memo, (id + 1) * sizeof(*vm->memo));
		for (size_t i = vm->memo_len; i < id; i++)
			vm->memo[i] = NULL;
		vm->memo_len = id + 1;
	}
	vm->memo[id] = v;
	return 0;
}

static int memo_get(struct pv_run_ctx *c, uint64_t id)
{
	if (id >= c->vm->memo_len || !c->vm->memo[id])
		return bad(c, "memo index %llu was never stored", (unsigned long long)id);
	return push(c, c->vm->memo[id]);
}

static int add_items(struct pv_run_ctx *c, struct pv *target, struct pv **items, size_t n,
		     int pairs)
{
	struct pv_seq *dst;
	if (pairs && n % 2)
		return bad(c, "SETITEMS with an odd number of items");
	if (pairs && target->kind == PV_DICT) {
		dst = &target->u.seq;
	} else if (!pairs && target->kind == PV_LIST) {
		dst = &target->u.seq;
	} else if (target->kind == PV_OBJECT) {
		struct pv **slot = pairs ? &target->u.obj.items : &target->u.obj.elems;
		if (!*slot)
			*slot = pv_new(c->vm, pairs ? PV_DICT : PV_LIST);
		dst = &(*slot)->u.seq;
	} else {
		return bad(c, "%s into a value that is not a %s", pairs ? "SETITEM" : "APPEND",
			   pairs ? "dict" : "list");
	}
	for (size_t i = 0; i < n; i++)
		pv_seq_push(dst, items[i]);
	return 0;
}

static int build(struct pv_run_ctx *c, struct pv *target, struct pv *state)
{
	/* Other values (a Parameter's empty state) keep it only for the writer. */
	struct pv **slot = target->kind == PV_OBJECT ? &target->u.obj.state : &target->built;
	struct pv *old = *slot;
	if (old && old->kind == PV_DICT && state->kind == PV_DICT) {
		for (size_t i = 0; i < state->u.seq.n; i++)
			pv_seq_push(&old->u.seq, state->u.seq.v[i]);
		return 0;
	}
	*slot = state;
	(void)c;
	return 0;
}

static int run_op(struct pv_run_ctx *c, unsigned char op, int *stop)
{
	struct pv_vm *vm = c->vm;
	const unsigned char *b = NULL;
	struct pv *v, *w, *x;
	size_t from = 0;
	uint64_t n;

	switch (op) {
	case 0x80: /* PROTO */
		if (take(c, 1, &b))
			return -1;
		if (b[0] > 5)
			return bad(c, "pickle protocol %u is not supported", b[0]);
		return 0;
	case 0x95: /* FRAME: framing is only a hint for buffering */
		return take(c, 8, &b);
	case '.': /* STOP */
		*stop = 1;
		return 0;
	case '(': /* MARK */
		if (vm->nmarks >= MLF_CKPT_MAX_NESTING)
			return bad(c, "more than %d nested MARKs", MLF_CKPT_MAX_NESTING);
		if (vm->nmarks == vm->marks_cap) {
			vm->marks_cap = vm->marks_cap ? 2 * vm->marks_cap : 16;
			vm->marks = mlf_xrealloc(vm->marks, vm->marks_cap * sizeof(*vm->marks));
		}
		vm->marks[vm->nmarks++] = vm->stack.n;
		return 0;
	case '0': /* POP */
		if (vm->stack.n > frame_start(vm)) {
			vm->stack.n--;
			return 0;
		}
		return pop_mark(c, &from);
	case '1': /* POP_MARK */
		if (pop_mark(c, &from))
			return -1;
		vm->stack.n = from;
		return 0;
	case '2': /* DUP */
		return top(c, &v) || push(c, v);
	case 'N':
		return push(c, pv_new(vm, PV_NONE));
	case 0x88: /* NEWTRUE */
	case 0x89: /* NEWFALSE */
		return push(c, make_int(vm, PV_BOOL, op == 0x88));
	case 'J': /* BININT */
		return take(c, 4, &b) || push(c, make_int(vm, PV_INT, (int32_t)(uint32_t)le(b, 4)));
	case 'K': /* BININT1 */
		return take(c, 1, &b) || push(c, make_int(vm, PV_INT, b[0]));
	case 'M': /* BININT2 */
		return take(c, 2, &b) || push(c, make_int(vm, PV_INT, (int64_t)le(b, 2)));
	case 0x8a: /* LONG1 */
	case 0x8b: /* LONG4 */
		if (take(c, op == 0x8a ? 1 : 4, &b))
			return -1;
		n = op == 0x8a ? b[0] : le(b, 4);
		if (n > 8)
			return bad(c, "integer of %llu bytes does not fit in 64 bits", (unsigned long long)n);
		if (take(c, n, &b))
			return -1;
		{
			uint64_t u = le(b, (int)n);
			if (n && n < 8 && (b[n - 1] & 0x80))
				u |= ~(uint64_t)0 << (8 * n);  /* sign-extend */
			return push(c, make_int(vm, PV_INT, (int64_t)u));
		}
	case 'G': /* BINFLOAT, big-endian */
		if (take(c, 8, &b))
			return -1;
		{
			uint64_t u = 0;
			double d;
			for (int i = 0; i < 8; i++)
				u = u << 8 | b[i];
			memcpy(&d, &u, sizeof(d));
			v = pv_new(vm, PV_FLOAT);
			v->u.f = d;
			return push(c, v);
		}
	case 'X':    /* BINUNICODE */
	case 0x8c:   /* SHORT_BINUNICODE */
	case 'B':    /* BINBYTES */
	case 'C':    /* SHORT_BINBYTES */
		{
			int small = op == 0x8c || op == 'C';
			if (take(c, small ? 1 : 4, &b))
				return -1;
			n = le(b, small ? 1 : 4);
			if (take(c, n, &b))
				return -1;
			return push(c, make_str(vm, (op == 'X' || op == 0x8c) ? PV_STR : PV_BYTES, b, n));
		}
	case '}': /* EMPTY_DICT */
		return push(c, pv_new(vm, PV_DICT));
	case ']': /* EMPTY_LIST */
		return push(c, pv_new(vm, PV_LIST));
	case 0x8f: /* EMPTY_SET: kept as a list that remembers it was a set */
		v = pv_new(vm, PV_LIST);
		v->set_kind = 1;
		return push(c, v);
	case ')': /* EMPTY_TUPLE */
		return push(c, pv_new(vm, PV_TUPLE));
	case 0x85: /* TUPLE1..3 */
	case 0x86:
	case 0x87:
		n = (uint64_t)(op - 0x84);
		if (vm->stack.n < frame_start(vm) + n)
			return bad(c, "stack underflow");
		v = make_seq(vm, PV_TUPLE, vm->stack.v + vm->stack.n - n, n);
		vm->stack.n -= n;
		return push(c, v);
	case 't':  /* TUPLE */
	case 'l':  /* LIST */
	case 'd':  /* DICT */
	case 0x91: /* FROZENSET */
		if (pop_mark(c, &from))
			return -1;
		n = vm->stack.n - from;
		if (op == 'd') {
			if (n % 2)
				return bad(c, "DICT with an odd number of items");
			v = make_seq(vm, PV_DICT, vm->stack.v + from, n);
		} else {
			v = make_seq(vm, op == 't' ? PV_TUPLE : PV_LIST, vm->stack.v + from, n);
			if (op == 0x91)
				v->set_kind = 2;
		}
		vm->stack.n = from;
		return push(c, v);
	case 'a': /* APPEND */
		return pop(c, &v) || top(c, &w) || add_items(c, w, &v, 1, 0);
	case 's': /* SETITEM */
		{
			struct pv *kv[2];
			if (pop(c, &kv[1]) || pop(c, &kv[0]) || top(c, &w))
				return -1;
			return add_items(c, w, kv, 2, 1);
		}
	case 'e':  /* APPENDS */
	case 'u':  /* SETITEMS */
	case 0x90: /* ADDITEMS */
		if (pop_mark(c, &from))
			return -1;
		if (from <= frame_start(vm)) {
			vm->stack.n = from;
			return bad(c, "no container below the MARK");
		}
		w = vm->stack.v[from - 1];
		n = vm->stack.n - from;
		vm->stack.n = from;
		return add_items(c, w, vm->stack.v + from, n, op == 'u');
	case 'q': /* BINPUT */
		return take(c, 1, &b) || memo_put(c, b[0]);
	case 'r': /* LONG_BINPUT */
		return take(c, 4, &b) || memo_put(c, le(b, 4));
	case 0x94: /* MEMOIZE */
		return memo_put(c, vm->memo_len);
	case 'h': /* BINGET */
		return take(c, 1, &b) || memo_get(c, b[0]);
	case 'j': /* LONG_BINGET */
		return take(c, 4, &b) || memo_get(c, le(b, 4));
	case 'c': /* GLOBAL: "module\nname\n" */
		{
			const unsigned char *mod = c->p + c->pos, *nl1, *nl2;
			size_t rest = c->len - c->pos;
			nl1 = memchr(mod, '\n', rest);
			nl2 = nl1 ? memchr(nl1 + 1, '\n', rest - (size_t)(nl1 + 1 - mod)) : NULL;
			if (!nl2)
				return mlf_fail(c->err, MLF_EX_DATAERR,
						"pickle truncated: GLOBAL at offset %zu", c->op_pos);
			c->pos += (size_t)(nl2 + 1 - mod);
			return make_global(c, (const char *)mod, (size_t)(nl1 - mod),
					   (const char *)nl1 + 1, (size_t)(nl2 - nl1 - 1));
		}
	case 0x93: /* STACK_GLOBAL */
		if (pop(c, &w) || pop(c, &v))
			return -1;
		if (v->kind != PV_STR || w->kind != PV_STR)
			return bad(c, "STACK_GLOBAL needs two strings");
		return make_global(c, v->u.str.s, v->u.str.len, w->u.str.s, w->u.str.len);
	case 'Q': /* BINPERSID */
		return pop(c, &v) || persistent_load(c, v, &w) || push(c, w);
	case 'R':  /* REDUCE */
	case 0x81: /* NEWOBJ */
		if (pop(c, &w) || pop(c, &v) || call(c, v, w, &x))
			return -1;
		x->made_by = v;
		x->made_args = w;
		x->newobj = op == 0x81;
		if (x->kind == PV_DICT || x->kind == PV_LIST)
			x->made_len = x->u.seq.n;
		return push(c, x);
	case 'b': /* BUILD */
		return pop(c, &w) || top(c, &v) || build(c, v, w);
	default:
		return mlf_fail(c->err, MLF_EX_DATAERR,
				"pickle opcode 0x%02x at offset %zu is unknown or not supported",
				op, c->op_pos);
	}
}

int pv_run(struct pv_vm *vm, const unsigned char *data, size_t len, struct pv **result,
	   struct mlf_error *err)
{
	struct pv_run_ctx c = { .vm = vm, .p = data, .len = len, .err = err };
	int stop = 0;

	if (len > MLF_CKPT_MAX_PICKLE)
		return mlf_fail(err, MLF_EX_DATAERR, "pickle of %zu bytes is larger than the limit",
				len);
	while (!stop) {
		if (c.pos >= c.len)
			return mlf_fail(err, MLF_EX_DATAERR,
					"pickle truncated: no STOP opcode in %zu bytes", len);
		c.op_pos = c.pos++;
		if (run_op(&c, data[c.op_pos], &stop))
			return -1;
	}
	if (vm->stack.n <= frame_start(vm))
		return mlf_fail(err, MLF_EX_DATAERR, "pickle STOP at offset %zu with an empty stack",
				c.op_pos);
	*result = vm->stack.v[vm->stack.n - 1];
	return 0;
}
