/*
 * The inverse of the restricted interpreter: a graph of inert values back to
 * a protocol 2 pickle, byte for byte what CPython's C pickler (the one
 * torch.save drives) writes for the objects the graph stands for.  That
 * pickler's choices are copied here because a file that differs only in
 * memo numbering or batching would still load, but would not let the tests
 * prove the writer exact by comparing against torch's own data.pkl.
 *
 * The graph keeps everything the pickle said except the order of opcodes
 * that CPython never interleaves differently (a reduced object's APPENDS,
 * then SETITEMS, then BUILD), and how values were spelled (STACK_GLOBAL,
 * SHORT_BINUNICODE, BINBYTES, EMPTY_SET of newer protocols come back as
 * protocol 2 spells them).
 */
#include "ckpt_internal.h"

#include <stdio.h>
#include <string.h>

#include "mlf/base.h"

#define BATCHSIZE 1000  /* items per SETITEMS / APPENDS, as pickle.py and _pickle.c */

struct pw {
	struct pv_vm *vm;
	struct mlf_buf *out;
	size_t start;           /* where this pickle began in `out` */
	size_t memo_len;
	pv_persistent_id_fn persistent_id;
	void *ctx;
	struct pv *codecs_encode, *latin1, *bytes_type, *set_type, *frozenset_type;
	struct mlf_error *err;
};

static int save(struct pw *w, struct pv *v, int depth);

static void op(struct pw *w, unsigned char c)
{
	mlf_buf_addc(w->out, (char)c);
}

static void le32(struct pw *w, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		op(w, (unsigned char)(v >> (8 * i)));
}

/* BINPUT / LONG_BINPUT the value just written under the next memo index. */
static void memoize(struct pw *w, struct pv *v)
{
	size_t idx = w->memo_len++;
	v->pickled = idx + 1;
	if (idx < 256) {
		op(w, 'q');
		op(w, (unsigned char)idx);
	} else {
		op(w, 'r');
		le32(w, (uint32_t)idx);
	}
}

static void memo_get(struct pw *w, size_t idx)
{
	if (idx < 256) {
		op(w, 'h');
		op(w, (unsigned char)idx);
	} else {
		op(w, 'j');
		le32(w, (uint32_t)idx);
	}
}

static void save_int(struct pw *w, int64_t v)
{
	if (v >= 0 && v <= 0xff) {
		op(w, 'K');
		op(w, (unsigned char)v);
	} else if (v >= 0 && v <= 0xffff) {
		op(w, 'M');
		op(w, (unsigned char)v);
		op(w, (unsigned char)(v >> 8));
	} else if (v >= INT32_MIN && v <= INT32_MAX) {
		op(w, 'J');
		le32(w, (uint32_t)(int32_t)v);
	} else {
		/* LONG1: the shortest little-endian two's complement that holds v. */
		int n = 1;
		while (n < 8 && !(v >= -((int64_t)1 << (8 * n - 1)) && v < ((int64_t)1 << (8 * n - 1))))
			n++;
		op(w, 0x8a);
		op(w, (unsigned char)n);
		for (int i = 0; i < n; i++)
			op(w, (unsigned char)((uint64_t)v >> (8 * i)));
	}
}

static void save_float(struct pw *w, double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	op(w, 'G');
	for (int i = 7; i >= 0; i--)
		op(w, (unsigned char)(u >> (8 * i)));
}

static void save_text(struct pw *w, const char *s, size_t n)
{
	op(w, 'X');
	le32(w, (uint32_t)n);
	mlf_buf_add(w->out, s, n);
}

static int save_global(struct pw *w, struct pv *g)
{
	mlf_buf_addf(w->out, "c%s\n%s\n", g->u.global.module, g->u.global.name);
	memoize(w, g);
	return 0;
}

/* Values the output needs that the template may lack, made once so they are memoized once. */
static struct pv *scratch_global(struct pw *w, struct pv **slot, const char *mod, const char *name)
{
	if (!*slot) {
		*slot = pv_new(w->vm, PV_GLOBAL);
		(*slot)->u.global.module = mlf_xstrdup(mod);
		(*slot)->u.global.name = mlf_xstrdup(name);
	}
	return *slot;
}

static struct pv *scratch_tuple(struct pw *w, struct pv *a, struct pv *b)
{
	struct pv *t = pv_new(w->vm, PV_TUPLE);
	if (a)
		pv_seq_push(&t->u.seq, a);
	if (b)
		pv_seq_push(&t->u.seq, b);
	return t;
}

static int too_big(struct pw *w)
{
	if (w->out->len - w->start <= MLF_CKPT_MAX_PICKLE)
		return 0;
	return mlf_fail(w->err, MLF_EX_DATAERR, "the pickle would be larger than %u bytes",
			MLF_CKPT_MAX_PICKLE);
}

/*
 * Items n0.. of a list or dict.  `exact` follows the pickler's two code
 * paths: a plain list/dict (batch_list_exact / batch_dict_exact) or items
 * that came through __reduce__ (an iterator: batch_list / batch_dict).
 */
static int save_items(struct pw *w, const struct pv_seq *seq, size_t n0, int pairs, int exact,
		      int depth)
{
	size_t step = pairs ? 2 : 1, n = (seq->n - n0) / step;
	unsigned char one = pairs ? 's' : 'a', many = pairs ? 'u' : 'e';
	if (!n)
		return 0;
	if (n == 1) {
		for (size_t i = 0; i < step; i++)
			if (save(w, seq->v[n0 + i], depth + 1))
				return -1;
		op(w, one);
		return 0;
	}
	size_t done = 0;
	for (;;) {
		size_t batch = n - done < BATCHSIZE ? n - done : BATCHSIZE;
		/* The iterator path writes a lone last item with SETITEM / APPEND. */
		if (!exact && batch == 1) {
			for (size_t i = 0; i < step; i++)
				if (save(w, seq->v[n0 + done * step + i], depth + 1))
					return -1;
			op(w, one);
			return 0;
		}
		if (!exact && batch == 0)
			return 0;
		op(w, '(');
		for (size_t k = 0; k < batch * step; k++)
			if (save(w, seq->v[n0 + done * step + k], depth + 1))
				return -1;
		op(w, many);
		done += batch;
		if (batch < BATCHSIZE)
			return 0;
		/* A full list stops here; a full dict writes one more, empty, batch. */
		if (!pairs && done == n)
			return 0;
	}
}

static int save_tuple(struct pw *w, struct pv *t, int depth)
{
	size_t n = t->u.seq.n;
	if (!n) {
		op(w, ')');
		return 0;  /* the empty tuple is never memoized */
	}
	if (n > 3)
		op(w, '(');
	for (size_t i = 0; i < n; i++)
		if (save(w, t->u.seq.v[i], depth + 1))
			return -1;
	op(w, n == 1 ? 0x85 : n == 2 ? 0x86 : n == 3 ? 0x87 : 't');
	memoize(w, t);
	return 0;
}

/* BUILD with the state a value that is not an object was given, if any. */
static int save_built(struct pw *w, struct pv *v, int depth)
{
	if (!v->built)
		return 0;
	if (save(w, v->built, depth + 1))
		return -1;
	op(w, 'b');
	return 0;
}

/* func(*args) or cls.__new__(cls, *args), then what was added to the result. */
static int save_reduce(struct pw *w, struct pv *v, int depth)
{
	if (save(w, v->made_by, depth + 1) || save(w, v->made_args, depth + 1))
		return -1;
	op(w, v->newobj ? 0x81 : 'R');
	memoize(w, v);
	switch (v->kind) {
	case PV_OBJECT:
		if ((v->u.obj.elems && save_items(w, &v->u.obj.elems->u.seq, 0, 0, 0, depth)) ||
		    (v->u.obj.items && save_items(w, &v->u.obj.items->u.seq, 0, 1, 0, depth)))
			return -1;
		if (v->u.obj.state) {
			if (save(w, v->u.obj.state, depth + 1))
				return -1;
			op(w, 'b');
		}
		return 0;
	case PV_LIST:
		return save_items(w, &v->u.seq, v->made_len, 0, 0, depth) || save_built(w, v, depth);
	case PV_DICT:
		return save_items(w, &v->u.seq, v->made_len, 1, 0, depth) || save_built(w, v, depth);
	default:
		return save_built(w, v, depth);
	}
}

/*
 * bytes read from a protocol 3+ template, written the protocol 2 way:
 * _codecs.encode(text, 'latin1'), or bytes() when empty.
 */
static int save_bytes(struct pw *w, struct pv *b, int depth)
{
	struct pv *fn, *args;
	if (!b->u.str.len) {
		fn = scratch_global(w, &w->bytes_type, "__builtin__", "bytes");
		args = scratch_tuple(w, NULL, NULL);
	} else {
		struct mlf_buf text = MLF_BUF_INIT;
		for (size_t i = 0; i < b->u.str.len; i++) {
			unsigned char ch = (unsigned char)b->u.str.s[i];
			if (ch < 0x80) {
				mlf_buf_addc(&text, (char)ch);
			} else {
				mlf_buf_addc(&text, (char)(0xc0 | ch >> 6));
				mlf_buf_addc(&text, (char)(0x80 | (ch & 0x3f)));
			}
		}
		if (!w->latin1)
			w->latin1 = pv_new_str(w->vm, PV_STR, "latin1", 6);
		fn = scratch_global(w, &w->codecs_encode, "_codecs", "encode");
		args = scratch_tuple(w, pv_new_str(w->vm, PV_STR, text.data, text.len), w->latin1);
		mlf_buf_release(&text);
	}
	b->made_by = fn;
	b->made_args = args;
	return save_reduce(w, b, depth);
}

/* A set read from EMPTY_SET / FROZENSET: set(list) as protocol 2 spells it. */
static int save_set(struct pw *w, struct pv *s, int depth)
{
	struct pv *list = pv_new(w->vm, PV_LIST);
	for (size_t i = 0; i < s->u.seq.n; i++)
		pv_seq_push(&list->u.seq, s->u.seq.v[i]);
	s->made_by = s->set_kind == 2 ? scratch_global(w, &w->frozenset_type, "__builtin__", "frozenset")
				      : scratch_global(w, &w->set_type, "__builtin__", "set");
	s->made_args = scratch_tuple(w, list, NULL);
	s->made_len = s->u.seq.n;
	return save_reduce(w, s, depth);
}

static int save_pers(struct pw *w, struct pv *s, int depth)
{
	struct pv *pid = NULL;
	if (!w->persistent_id)
		return mlf_fail(w->err, MLF_EX_SOFTWARE, "a storage to pickle without a persistent_id");
	if (w->persistent_id(w->ctx, s, &pid, w->err))
		return -1;
	if (save(w, pid, depth + 1))
		return -1;
	op(w, 'Q');
	return 0;
}

static int save(struct pw *w, struct pv *v, int depth)
{
	if (depth > MLF_CKPT_MAX_NESTING)
		return mlf_fail(w->err, MLF_EX_DATAERR, "values nested more than %d deep",
				MLF_CKPT_MAX_NESTING);
	if (too_big(w))
		return -1;
	/* As the pickler: persistent ids first, then the memo. */
	if (v->kind == PV_STORAGE)
		return save_pers(w, v, depth);
	if (v->pickled) {
		memo_get(w, v->pickled - 1);
		return 0;
	}
	if (v->made_by)
		return save_reduce(w, v, depth);
	switch (v->kind) {
	case PV_NONE:
		op(w, 'N');
		return 0;
	case PV_BOOL:
		op(w, v->u.i ? 0x88 : 0x89);
		return 0;
	case PV_INT:
		save_int(w, v->u.i);
		return 0;
	case PV_FLOAT:
		save_float(w, v->u.f);
		return 0;
	case PV_STR:
		if (v->u.str.len > UINT32_MAX)
			return mlf_fail(w->err, MLF_EX_DATAERR, "a string too long for protocol 2");
		save_text(w, v->u.str.s, v->u.str.len);
		memoize(w, v);
		return 0;
	case PV_BYTES:
		return save_bytes(w, v, depth);
	case PV_TUPLE:
		return save_tuple(w, v, depth);
	case PV_LIST:
		if (v->set_kind)
			return save_set(w, v, depth);
		op(w, ']');
		memoize(w, v);
		return save_items(w, &v->u.seq, 0, 0, 1, depth) || save_built(w, v, depth);
	case PV_DICT:
		op(w, '}');
		memoize(w, v);
		return save_items(w, &v->u.seq, 0, 1, 1, depth) || save_built(w, v, depth);
	case PV_GLOBAL:
		return save_global(w, v);
	default:
		/* Objects and tensors only come from calls, which set made_by. */
		return mlf_fail(w->err, MLF_EX_SOFTWARE, "a value of kind %d without its call",
				(int)v->kind);
	}
}

int pv_pickle(struct pv_vm *vm, struct pv *root, pv_persistent_id_fn persistent_id, void *ctx,
	      struct mlf_buf *out, struct mlf_error *err)
{
	struct pw w = { .vm = vm, .out = out, .start = out->len, .persistent_id = persistent_id,
			.ctx = ctx, .err = err };
	for (struct pv *v = vm->owned; v; v = v->next_owned)
		v->pickled = 0;
	op(&w, 0x80);  /* PROTO 2 */
	op(&w, 2);
	if (save(&w, root, 0) || too_big(&w))
		return -1;
	op(&w, '.');
	return 0;
}
