/*
 * The restricted pickle interpreter behind mlf_ckpt_read_pt.
 *
 * It turns data.pkl into a graph of inert values ("pv"): Python's None,
 * bools, ints, floats, strings, bytes, tuples, lists and dicts as themselves;
 * a GLOBAL as a (module, name) pair; a call to a class it does not know as a
 * placeholder object holding the class, the arguments and any state later
 * given by BUILD.  Only torch's tensor rebuild functions and a few harmless
 * constructors (OrderedDict, torch.Size, set, _codecs.encode) are given their
 * meaning, and even those only build descriptions: a tensor is a storage key
 * plus offset, shape and strides, resolved against the zip by the caller.
 *
 * Every value is owned by the `struct pv_vm` that made it and freed with it,
 * so shared and even cyclic references (through the memo) need no counting.
 *
 * Values also remember how the pickle made them (the call and its
 * arguments, whether it was a set), so that ckpt_pickle_write.c can pickle
 * the same graph back: mlf_ckpt_write_pt reads a template .pt, swaps in new
 * tensors and writes what Python's pickler would have written.
 */
#ifndef MLF_CKPT_INTERNAL_H
#define MLF_CKPT_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <zip.h>

#include "mlf/base.h"
#include "mlf/ckpt.h"

enum pv_kind {
	PV_NONE,
	PV_BOOL,
	PV_INT,
	PV_FLOAT,
	PV_STR,
	PV_BYTES,
	PV_TUPLE,
	PV_LIST,
	PV_DICT,
	PV_GLOBAL,
	PV_OBJECT,
	PV_STORAGE,
	PV_TENSOR,
};

struct pv;

struct pv_seq {
	struct pv **v;
	size_t n, cap;
};

struct pv {
	enum pv_kind kind;
	struct pv *next_owned;
	/*
	 * The REDUCE or NEWOBJ that returned this value: the callable (a
	 * PV_GLOBAL) and its argument tuple; NULL for values plain opcodes
	 * built.  For a dict or list so made, made_len is how many entries
	 * the call itself gave (the rest came from SETITEMS / APPENDS).
	 */
	struct pv *made_by, *made_args;
	size_t made_len;
	struct pv *built;           /* BUILD state given to a value that is not a PV_OBJECT */
	unsigned char newobj;       /* made by NEWOBJ (cls.__new__), not REDUCE */
	unsigned char set_kind;     /* a PV_LIST read from EMPTY_SET (1) or FROZENSET (2) */
	size_t pickled;             /* pv_pickle's memo index + 1; 0 until pickled */
	union {
		int64_t i;                  /* PV_BOOL, PV_INT */
		double f;                   /* PV_FLOAT */
		struct {                    /* PV_STR (UTF-8, NUL-terminated), PV_BYTES */
			char *s;
			size_t len;
		} str;
		struct pv_seq seq;          /* PV_TUPLE, PV_LIST; PV_DICT as key, value pairs */
		struct {                    /* PV_GLOBAL */
			char *module, *name;
		} global;
		struct {                    /* PV_OBJECT: an instance of an unknown class */
			struct pv *cls;     /* a PV_GLOBAL */
			struct pv *args;
			struct pv *state;   /* from BUILD, or NULL */
			struct pv *items;   /* a PV_DICT from SETITEM(S), or NULL */
			struct pv *elems;   /* a PV_LIST from APPEND(S), or NULL */
		} obj;
		struct {                    /* PV_STORAGE: a persistent id */
			enum mlf_dtype dtype;
			char *key;          /* NULL for a storage a writer made */
			uint64_t numel;
			struct pv *pid;     /* the ('storage', type, key, location, numel) tuple */
			const unsigned char *data;  /* a writer's bytes (key NULL) */
		} storage;
		struct {                    /* PV_TENSOR */
			struct pv *storage;
			int64_t offset;
			int ndim;
			int64_t shape[MLF_TENSOR_MAX_DIMS];
			int64_t stride[MLF_TENSOR_MAX_DIMS];
			int requires_grad;
		} tensor;
	} u;
};

struct pv_vm {
	struct pv *owned;       /* every value made, linked through next_owned */
	struct pv_seq stack;
	size_t *marks;
	size_t nmarks, marks_cap;
	struct pv **memo;
	size_t memo_len;
};

void pv_vm_init(struct pv_vm *vm);
void pv_vm_release(struct pv_vm *vm);
/*
 * Run the pickle in `data`; *result is the value left by STOP (owned by vm).
 * Fails with status 65 and a message giving the offset of the problem.
 */
int pv_run(struct pv_vm *vm, const unsigned char *data, size_t len, struct pv **result,
	   struct mlf_error *err);

/* New values owned by `vm`, for code that adds to a graph (the .pt writer). */
struct pv *pv_new(struct pv_vm *vm, enum pv_kind kind);
struct pv *pv_new_str(struct pv_vm *vm, enum pv_kind kind, const char *s, size_t n);
struct pv *pv_new_int(struct pv_vm *vm, int64_t i);
void pv_seq_push(struct pv_seq *s, struct pv *v);

/* Dict lookup by string key; NULL when absent or `d` is not a dict. */
struct pv *pv_dict_get(const struct pv *d, const char *key);
/* "module.name" of a global, or of an object's class; NULL otherwise. */
const char *pv_class_module(const struct pv *v);
const char *pv_class_name(const struct pv *v);
/* The attribute dict of an object (its BUILD state, or the first half of a (dict, slots) pair). */
struct pv *pv_object_dict(const struct pv *v);

/* True when `v` is the PV_GLOBAL module.name. */
int pv_is_global(const struct pv *v, const char *module, const char *name);

/*
 * A value as JSON (new reference), for metadata: dict keys become strings,
 * tensors and unknown objects become small descriptions, SimpleNamespace
 * objects their attributes, numpy scalars numbers.  Returns NULL when the
 * value is nested deeper than MLF_CKPT_MAX_NESTING or when more than
 * *budget values would be visited (shared references are visited each time).
 */
json_t *pv_to_json(const struct pv *v, int depth, size_t *budget);

/* ---- ckpt_pickle_write.c ---- */

/*
 * Called for every PV_STORAGE met, each time, like Python's
 * Pickler.persistent_id: sets *pid to the value to pickle as its persistent
 * id (BINPERSID).  Returns 0, or -1 with `err` filled.
 */
typedef int (*pv_persistent_id_fn)(void *ctx, const struct pv *storage, struct pv **pid,
				   struct mlf_error *err);

/*
 * Append `root` to `out` as the protocol 2 pickle CPython's pickler (which
 * torch.save uses) writes for the objects the graph stands for: values
 * referenced twice are written once and then fetched from the memo, calls
 * are replayed from made_by / made_args, SETITEMS and APPENDS come in
 * batches of 1000.  A graph read from such a pickle gives back the same
 * bytes.  Every value of the graph must be owned by `vm` (values made for
 * the output are added to it).  Fails with status 65 when the graph is
 * nested more than MLF_CKPT_MAX_NESTING deep or the pickle would exceed
 * MLF_CKPT_MAX_PICKLE bytes.
 */
int pv_pickle(struct pv_vm *vm, struct pv *root, pv_persistent_id_fn persistent_id, void *ctx,
	      struct mlf_buf *out, struct mlf_error *err);

/* ---- ckpt_pt.c: torch.save archives, shared by the reader and the writer ---- */

struct pt_archive {
	const char *path;
	zip_t *zip;
	char *prefix;           /* the folder every entry is in, e.g. "yolov8n" */
	char *version;          /* the "version" record without its newline, or NULL */
	struct pv_vm vm;
	struct pv *root;        /* data.pkl, unpickled */
};

/*
 * Open the torch.save archive at `path`: check its entry names and byte
 * order and unpickle data.pkl.  Statuses as mlf_ckpt_read_pt; on failure
 * `a` is left closed.
 */
int pt_archive_open(struct pt_archive *a, const char *path, struct mlf_error *err);
void pt_archive_close(struct pt_archive *a);
/*
 * Read `want` bytes of entry <prefix>/<rel> (all of it when want is -1, at
 * most `max`) into *out (the caller frees it).  Returns 1 when the entry is
 * absent and `optional`, else 0 or -1 (status 65).
 */
int pt_archive_read(struct pt_archive *a, const char *rel, int64_t want, uint64_t max,
		    unsigned char **out, uint64_t *len, int optional, struct mlf_error *err);

/*
 * Check the name of an extra record (mlf_ckpt_write_pt_records): printable
 * ASCII without backslashes, relative, no empty, "." or ".." component, and
 * none of the names torch reads or writes itself.  Fails with status 64
 * naming the record.
 */
int pt_record_name_check(const char *name, struct mlf_error *err);

/*
 * The saved model: the "ema", "model" or "state_dict" entry of a dict root
 * that holds a module or a state_dict (*key names it), or the root itself
 * (*key NULL).  NULL when a dict root holds no model.
 */
struct pv *pt_find_model(struct pv *root, const char **key);

/*
 * Walk a module (or a state_dict) in state_dict() order: on_module for each
 * module (dotted path, "" for the root), on_tensor for each parameter and
 * persistent buffer with its state_dict name.  The tensor given is the
 * value stored in the module (a parameter's PV_TENSOR, made by
 * _rebuild_parameter).  A callback's -1 stops the walk.
 */
struct pt_walk {
	int (*on_module)(void *ctx, const char *path, const struct pv *module,
			 struct mlf_error *err);
	int (*on_tensor)(void *ctx, const char *name, struct pv *tensor, struct mlf_error *err);
	void *ctx;
};
int pt_walk_model(const struct pt_archive *a, struct pv *model, const struct pt_walk *w,
		  struct mlf_error *err);

/* ---- ckpt_tensor.c ---- */

/*
 * Convert `n` elements from `src` (dtype `from`) to `dst` (dtype `to`),
 * rounding to nearest even as torch's .to() does.  Floating types convert
 * among themselves; other types only to themselves.  Returns -1 when the
 * pair is not supported.
 */
int ckpt_convert(enum mlf_dtype to, void *dst, enum mlf_dtype from, const void *src, size_t n);
uint16_t ckpt_f32_to_f16(float f);
float ckpt_f16_to_f32(uint16_t h);
uint16_t ckpt_f32_to_bf16(float f);
float ckpt_bf16_to_f32(uint16_t h);

#endif
