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
 */
#ifndef MLF_CKPT_INTERNAL_H
#define MLF_CKPT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mlf/checkpoint.h"
#include "mlf/error.h"

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
			char *key;
			uint64_t numel;
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

/* Dict lookup by string key; NULL when absent or `d` is not a dict. */
struct pv *pv_dict_get(const struct pv *d, const char *key);
/* "module.name" of a global, or of an object's class; NULL otherwise. */
const char *pv_class_module(const struct pv *v);
const char *pv_class_name(const struct pv *v);
/* The attribute dict of an object (its BUILD state, or the first half of a (dict, slots) pair). */
struct pv *pv_object_dict(const struct pv *v);

/*
 * A value as JSON (new reference), for metadata: dict keys become strings,
 * tensors and unknown objects become small descriptions, SimpleNamespace
 * objects their attributes, numpy scalars numbers.  Returns NULL when the
 * value is nested deeper than MLF_CKPT_MAX_NESTING or when more than
 * *budget values would be visited (shared references are visited each time).
 */
#include <jansson.h>
json_t *pv_to_json(const struct pv *v, int depth, size_t *budget);

#endif
