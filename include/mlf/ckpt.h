/*
 * Model checkpoints: the tensors of a model and what describes them, read
 * from PyTorch/Ultralytics `.pt` files and from safetensors, written as
 * either.  No Python and no libtorch are involved.
 *
 * A `.pt` file is a zip archive made by torch.save: `<archive>/data.pkl` is a
 * pickle of the saved object and `<archive>/data/<key>` hold the raw bytes of
 * each storage.  The pickle is read by a small interpreter that knows only
 * the opcodes torch.save emits and builds inert values: no class is ever
 * imported or called.  Classes it does not know become named placeholders.
 * For an Ultralytics checkpoint the pickled nn.Module tree is walked
 * (`_parameters`, `_buffers`, `_modules`) and every tensor is named as
 * `state_dict()` would name it ("model.0.conv.weight").  A `.pt` is written
 * from a template `.pt`: its pickle is replayed (the interpreter keeps how
 * each value was made) with the tensors swapped, so the new file holds the
 * same module tree, classes and attributes, optionally with extra records
 * of our own that other loaders ignore (struct mlf_ckpt_record).
 *
 * Ownership: a `struct mlf_ckpt` owns its tensors, their names and bytes, and
 * one reference to `meta`.  Readers start from an empty checkpoint they
 * initialise themselves and leave it released when they fail.  Damaged or
 * hostile files fail with status 65 and a message naming the file and what
 * is wrong; a missing file fails with 66, an unreadable one with 74.
 */
#ifndef MLF_CKPT_H
#define MLF_CKPT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mlf/base.h"

enum mlf_dtype {
	MLF_DTYPE_F32,
	MLF_DTYPE_F16,
	MLF_DTYPE_BF16,
	MLF_DTYPE_F64,
	MLF_DTYPE_I64,
	MLF_DTYPE_I32,
	MLF_DTYPE_I16,
	MLF_DTYPE_I8,
	MLF_DTYPE_U8,
	MLF_DTYPE_BOOL,
	MLF_DTYPE_COUNT
};

/* Bytes per element. */
size_t mlf_dtype_size(enum mlf_dtype t);
/* PyTorch's name without "torch.": "float32", "float16", "int64", "bool", ... */
const char *mlf_dtype_name(enum mlf_dtype t);
/* safetensors' name: "F32", "F16", "BF16", "I64", "BOOL", ... */
const char *mlf_dtype_st_name(enum mlf_dtype t);
/* Accepts either spelling; -1 if unknown. */
int mlf_dtype_parse(const char *name, enum mlf_dtype *t);

#define MLF_TENSOR_MAX_DIMS 8

/*
 * One tensor, always contiguous (row-major) whatever its strides were in the
 * file, bytes little-endian as stored (fp16 stays fp16).  A 0-d tensor has
 * ndim 0 and one element.
 */
struct mlf_tensor {
	char *name;             /* state_dict key */
	enum mlf_dtype dtype;
	int ndim;
	int64_t shape[MLF_TENSOR_MAX_DIMS];
	int requires_grad;      /* as pickled (nn.Parameter), kept for writing .pt back */
	size_t nbytes;          /* numel * dtype size */
	unsigned char *data;    /* nbytes bytes (NULL when nbytes is 0) */
};

int64_t mlf_tensor_numel(const struct mlf_tensor *t);

/*
 * `meta` is a JSON object.  For a .pt file:
 *   "format": "pt", "archive": the zip's folder name, "model_key": "ema" or
 *   "model" (or null for a bare state_dict), "model_class": the pickled class,
 *   "yaml", "names", "nc", "stride", "task", "args": attributes of the model,
 *   "checkpoint": every other top-level entry of the saved dict (epoch, date,
 *   version, train_args, best_fitness, ...; tensors and modules there are
 *   summarised, not extracted),
 *   "modules": { dotted module path: class } for every module of the tree.
 * For safetensors: "format": "safetensors", "metadata": the __metadata__ map.
 * Python objects become JSON as: int keys -> strings, NaN -> "NaN",
 * an unknown object -> {"__class__": "module.Name", ...}.
 */
struct mlf_ckpt {
	struct mlf_tensor *tensors;   /* in state_dict order (file order for safetensors) */
	size_t ntensors;
	size_t cap;
	json_t *meta;
};

void mlf_ckpt_init(struct mlf_ckpt *c);
void mlf_ckpt_release(struct mlf_ckpt *c);
const struct mlf_tensor *mlf_ckpt_find(const struct mlf_ckpt *c, const char *name);
/*
 * Append a tensor named `name` with zeroed bytes and return it (the caller
 * fills `data`).  Fails with status 65 on a duplicate name, a bad shape or a
 * size that does not fit in memory.
 */
struct mlf_tensor *mlf_ckpt_add(struct mlf_ckpt *c, const char *name, enum mlf_dtype dtype,
				int ndim, const int64_t *shape, struct mlf_error *err);

/* Limits that bound what a hostile file can make us do. */
#define MLF_CKPT_MAX_PICKLE (512u << 20)   /* bytes of data.pkl */
#define MLF_CKPT_MAX_NESTING 1000          /* open MARKs / nested values walked */
#define MLF_CKPT_MAX_STACK (1u << 22)      /* pickle stack entries */
#define MLF_CKPT_MAX_MEMO (1u << 22)       /* pickle memo entries */
#define MLF_CKPT_MAX_TENSOR_BYTES ((uint64_t)16 << 30)
#define MLF_CKPT_MAX_ST_HEADER (100u << 20) /* safetensors' own limit */
#define MLF_CKPT_MAX_RECORD ((uint64_t)16 << 30) /* bytes of one extra .pt record */
#define MLF_CKPT_MAX_RECORD_NAME 256u       /* bytes of its name */

int mlf_ckpt_read_pt(const char *path, struct mlf_ckpt *c, struct mlf_error *err);
int mlf_ckpt_read_safetensors(const char *path, struct mlf_ckpt *c, struct mlf_error *err);
/*
 * Write all tensors as safetensors, atomically: keys sorted by name, the
 * header padded with spaces to a multiple of 8 bytes, data in key order.
 * `metadata` (may be NULL) must map strings to strings; it becomes __metadata__.
 */
int mlf_ckpt_write_safetensors(const struct mlf_ckpt *c, const char *path,
			       const json_t *metadata, struct mlf_error *err);

/*
 * The same safetensors bytes in memory, for a file that is stored inside
 * another (the resume state in a .pt record, mlf_ckpt_write_pt_records).
 * Encoding replaces what `out` (an initialised struct mlf_buf, owned by
 * the caller) held with exactly the bytes mlf_ckpt_write_safetensors would
 * write; a metadata map that is not strings to strings fails with status
 * 70, a tensor named "__metadata__" with 65, and either leaves `out` alone.
 * Decoding reads `len` bytes at `data` (not kept) as
 * mlf_ckpt_read_safetensors reads a file, with the same checks, into `c`,
 * which it initialises (and leaves released on failure); `what` names the
 * source in its messages.
 */
int mlf_ckpt_safetensors_encode(const struct mlf_ckpt *c, const json_t *metadata,
				struct mlf_buf *out, struct mlf_error *err);
int mlf_ckpt_safetensors_decode(const void *data, size_t len, const char *what,
				struct mlf_ckpt *c, struct mlf_error *err);

/*
 * Write `weights` as a PyTorch/Ultralytics .pt file shaped like
 * `template_path` (a .pt this library reads, normally the base model the
 * weights were trained from), so that torch.load and ultralytics.YOLO load
 * it as they load the template:
 *  - the template's pickled object graph (module tree, attributes, names,
 *    yaml, args, ...) is written back as torch.save would pickle it
 *    (protocol 2, same memo sharing), with every tensor of the model (meta
 *    "model_key") holding the weights tensor of the same state_dict name,
 *    converted to the template tensor's dtype (f32 -> f16 for an fp16 EMA,
 *    rounding to nearest even as torch does) in a storage of its own;
 *    storages outside the model (optimizer state, ...) keep their bytes;
 *  - each entry of `updates` (a JSON object, or NULL) sets the top-level
 *    dict entry of that name, added or replaced: objects become dicts,
 *    arrays lists, null None ({"optimizer": null} drops the optimizer state);
 *  - the zip has torch.save 2.11's layout: <name>/data.pkl, .format_version,
 *    .storage_alignment, byteorder, data/0..N-1 (numbered by first use),
 *    version, .data/serialization_id, all stored, data 64-byte aligned; the
 *    folder <name> is path's file name without its extension, as torch does.
 * Every tensor of the template's model must be in `weights` with the same
 * shape, and every tensor of `weights` must be in the model: anything else
 * fails with status 65 naming the tensor.  A missing template fails with 66,
 * a damaged one with 65, an unreadable one with 74; a file that cannot be
 * created fails with 73, a write that fails with 74.  The file is written
 * atomically (a temporary file beside `path`, synced, renamed): on failure
 * nothing is left at `path` or beside it.  `weights` is not modified.
 */
int mlf_ckpt_write_pt(const char *template_path, const struct mlf_ckpt *weights,
		      const json_t *updates, const char *path, struct mlf_error *err);

/*
 * A file stored in a .pt archive beside torch's own records, as
 * "<archive>/<name>".  torch.load reads only the records data.pkl refers to
 * (and the few it always reads), so torch, Ultralytics and every other
 * loader ignore it: one file, written atomically, can be both an
 * Ultralytics checkpoint and what mlf needs to resume training exactly.
 * `name` is a relative path of printable ASCII ("mlf/resume.safetensors"),
 * at most MLF_CKPT_MAX_RECORD_NAME bytes, without backslashes or empty, "."
 * or ".." parts, and not one of torch's names: data.pkl, version,
 * byteorder, .format_version, .storage_alignment, constants.pkl (which
 * would make torch.load take the file for TorchScript), nor anything in
 * data/, .data/ or code/.  The caller owns `name` and `data`.
 */
struct mlf_ckpt_record {
	const char *name;
	const void *data;
	size_t len;
};

/*
 * mlf_ckpt_write_pt with `nrecords` extra records, stored and 64-byte
 * aligned like the rest, after torch's data/ records and before "version"
 * (an order torch.load 2.11 reads, mmap or not; its record lookups go by
 * name through the central directory).  The serialization id covers them
 * too: the same weights, updates and records give the same file.  A bad
 * or repeated record name fails with status 64 naming it, before anything
 * is read or created.  mlf_ckpt_write_pt is this with no records.
 */
int mlf_ckpt_write_pt_records(const char *template_path, const struct mlf_ckpt *weights,
			      const json_t *updates, const struct mlf_ckpt_record *records,
			      size_t nrecords, const char *path, struct mlf_error *err);

/*
 * The bytes of the record `name` (named as in struct mlf_ckpt_record) of
 * the .pt archive at `path`, whatever its archive folder is called.  They
 * replace what `out` (an initialised struct mlf_buf, owned by the caller)
 * held; on failure `out` is left as it was.  Only the zip is read, not the
 * pickle.  A bad name fails with 64; a missing file with 66; a file that is
 * not a torch.save archive, or has no such record, with 65 and a message
 * naming the file and the record; a read error with 74.
 */
int mlf_ckpt_read_pt_record(const char *path, const char *name, struct mlf_buf *out,
			    struct mlf_error *err);

#endif
