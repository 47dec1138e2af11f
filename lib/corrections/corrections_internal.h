/*
 * Shared by lib/corrections*.c: the state of one mlf_corrections_load() and
 * the checks every format uses.  Each format reader collects every problem
 * in a file before giving up on an entry, and adds an entry to the set only
 * when nothing is wrong with it.
 */
#ifndef MLF_CORRECTIONS_INTERNAL_H
#define MLF_CORRECTIONS_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "mlf/corrections.h"
#include "mlf/base.h"

struct corr_ctx {
	const char *root;          /* as the caller gave it */
	char *root_abs;            /* lexically absolute, normalised */
	char *root_real;           /* realpath(3) of the root */
	const struct mlf_class_names *classes;
	struct mlf_problems *problems;
	struct mlf_correction_set *out;
	size_t cap;
	char **files;              /* every regular file below root, relative, sorted */
	size_t nfiles;
};

/* Moves `c` into the set (the set owns its strings afterwards). */
void corr_push(struct corr_ctx *ctx, struct mlf_correction *c);
/* Frees what `c` points to and zeroes it. */
void corr_free(struct mlf_correction *c);

/* Index of `rel` in ctx->files, or -1. */
long corr_find_file(const struct corr_ctx *ctx, const char *rel);
int corr_is_image_name(const char *name);
/* Over MLF_CORRECTION_MAX_BYTES: recorded as a problem of `rel`, 1 (not to be read). */
int corr_too_big(struct corr_ctx *ctx, const char *path, const char *rel);
/* The folder part of a relative path ("" for a file at the root); caller frees. */
char *corr_dirname(const char *rel);

/*
 * Resolve `name`, relative to the folder of `file_rel`, to an absolute path
 * inside the corrections folder.  Refuses (problem on file_rel/field, -1)
 * absolute names and names that leave the folder lexically or, when the
 * path exists, through a symbolic link.  On 0, *abs is set (caller frees)
 * and *exists tells whether a regular file is there.
 */
int corr_resolve(struct corr_ctx *ctx, const char *file_rel, const char *field,
		 const char *name, char **abs, int *exists);

/*
 * An image named in an export: `name` relative to the export's folder, else
 * to its images/ folder.  1 with *abs set (caller frees), 0 when in neither
 * (no problem added), -1 when refused (problem added).
 */
int corr_find_in_export(struct corr_ctx *ctx, const char *rel, const char *field,
			const char *name, char **abs);

/* Problem "unknown class 'x' (classes: a, b, ...)" on file/field. */
void corr_unknown_class(struct corr_ctx *ctx, const char *file, const char *field,
			const char *name);
/* Class id from a JSON integer in range; adds a problem and returns -1 otherwise. */
int corr_class_id(struct corr_ctx *ctx, const char *file, const char *field, const json_t *v);
/* A finite JSON number into *out; -1 (no problem added) otherwise. */
int corr_number(const json_t *v, double *out);
/* A JSON integer in 1..INT_MAX into *out; -1 (no problem added) otherwise. */
int corr_positive_int(const json_t *v, int *out);
/* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
int corr_is_rfc3339(const char *s);

/* The format readers.  `sha` is the hex digest of the file at `rel`. */
void corr_read_native(struct corr_ctx *ctx, const char *rel, const json_t *doc, const char *sha);
void corr_read_coco(struct corr_ctx *ctx, const char *rel, const json_t *doc, const char *sha);
void corr_read_labelstudio(struct corr_ctx *ctx, const char *rel, const json_t *doc,
			   const char *sha);
/* Every image with a label file, and every label file without an image. */
void corr_read_yolo(struct corr_ctx *ctx);

#endif
