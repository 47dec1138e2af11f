/*
 * The small YAML subset MLflow's file store uses (internal to lib/tracking/).
 *
 * Writing: one block mapping per file, keys sorted as PyYAML's sort_keys
 * does, every string scalar quoted so YAML 1.1's implicit typing can never
 * turn an id such as '0123' or '1e5' into a number on read.  Lines are never
 * folded.
 *
 * Reading: PyYAML writes plain scalars where it can (`name: Default`), so
 * both plain and quoted scalars are accepted; missing keys are the caller's
 * business, as MLflow tolerates them.
 */
#ifndef MLF_TRACKING_FILE_STORE_YAML_H
#define MLF_TRACKING_FILE_STORE_YAML_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "mlf/buf.h"
#include "mlf/error.h"
#include "mlf/tracking.h"

enum mlf_fsyaml_type {
	MLF_FSYAML_STR,       /* quoted string; NULL str is written as null */
	MLF_FSYAML_INT,       /* plain integer */
	MLF_FSYAML_NULL,
	MLF_FSYAML_EMPTY_SEQ, /* [] */
	MLF_FSYAML_MAP,       /* mapping of quoted strings, {} when empty */
};

struct mlf_fsyaml_item {
	const char *key;
	int type;                   /* enum mlf_fsyaml_type */
	const char *str;
	int64_t num;
	const struct mlf_kvs *map;
};

/* Emit one mapping document; `items` is sorted in place by key. */
int mlf_fsyaml_emit(struct mlf_fsyaml_item *items, size_t n, struct mlf_buf *out,
		    struct mlf_error *err);

struct mlf_fsyaml_doc {
	yaml_document_t doc;
	int loaded;
};

/*
 * Parse `data` (read from `path`, named in messages).  The document must be
 * a mapping; an empty file is an error too (a torn or truncated meta.yaml).
 */
int mlf_fsyaml_load(const char *path, const char *data, size_t len,
		    struct mlf_fsyaml_doc *d, struct mlf_error *err);
void mlf_fsyaml_free(struct mlf_fsyaml_doc *d);

/*
 * The scalar under `key`: 1 and *out allocated when present, 0 when the key
 * is missing or null, -1 (err filled) when the value is not a scalar.
 */
int mlf_fsyaml_get_str(struct mlf_fsyaml_doc *d, const char *path, const char *key,
		       char **out, struct mlf_error *err);
/* Same for an integer; a non-integer scalar is an error. */
int mlf_fsyaml_get_int(struct mlf_fsyaml_doc *d, const char *path, const char *key,
		       int64_t *out, struct mlf_error *err);

#endif
