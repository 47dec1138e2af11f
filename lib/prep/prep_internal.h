/*
 * retrain-prep's internals, shared by lib/prep*.c:
 *   prep.c        orchestration: inputs, threshold, version lock and numbering
 *   prep_check.c  checking each correction against its decoded image (pixel boxes,
 *                 image sha256, correction id), on worker threads
 *   prep_items.c  merging those checks in order: duplicates, the content-based split;
 *                 the base dataset's images
 *   prep_write.c  writing the version folder, its metadata and digest
 *
 * A struct prep_items owns its items and their strings; corrections are
 * borrowed from the correction set, which must outlive the items.
 */
#ifndef MLF_PREP_INTERNAL_H
#define MLF_PREP_INTERNAL_H

#include "mlf/corrections.h"
#include "mlf/data.h"
#include "mlf/prep.h"
#include "mlf/base.h"

enum { SPLIT_TRAIN = 0, SPLIT_VAL = 1 };
extern const char *const mlf_prep_split_names[2];

struct prep_item {
	const struct mlf_correction *c;  /* NULL for a base image */
	char *image;                     /* absolute source path */
	char image_sha[65];
	char *label;                     /* base: its label file (may not exist); else NULL */
	char label_sha[65];              /* "" when a base image has no label file */
	int width, height;               /* decoded (corrections only) */
	struct mlf_box *boxes;           /* pixels, clipped (corrections only) */
	size_t nboxes;
	char correction_id[65];          /* content of the correction (corrections only) */
	int split;
	int is_new;                      /* not in the previous version */
	char *dest;                      /* path inside the version: images/<split>/<name>; base
					    items in reference mode: NULL */
};

struct prep_items {
	struct prep_item *items;
	size_t n;
	size_t duplicates;               /* corrections of an image already corrected */
	size_t superseded_base;          /* base images replaced by a correction of the same image */
};

void mlf_prep_items_release(struct prep_items *items);

/*
 * One correction's check, written by whichever worker took it.  With ok, item
 * is checked (c, width, height, boxes, image_sha, correction_id) and owns its
 * boxes; image and split are left to the merge.  problems are this
 * correction's alone, in the order found.  Zeroed before the check.
 */
struct check_slot {
	int ok;
	struct prep_item item;
	struct mlf_problems problems;
};

/*
 * Check every correction of `set` against its image into slots[i] (set->n of
 * them, zeroed), on up to one worker thread per online CPU (at most 16).
 * `progress` is stepped from the calling thread only.  Returns when all are done.
 */
void mlf_prep_check_each(const struct mlf_correction_set *set, struct check_slot *slots,
			 struct mlf_progress *progress);

/* Decode and check every correction's image and boxes; problems collected. */
int mlf_prep_check_corrections(const struct mlf_correction_set *set,
			       const struct mlf_prep_options *opts, struct prep_items *out,
			       struct mlf_problems *problems, struct mlf_error *err);
/* Add the base dataset's images (checksummed, not decoded), minus superseded ones. */
int mlf_prep_add_base(const struct mlf_data_yaml *base, const struct mlf_prep_options *opts,
		      struct prep_items *items, struct mlf_error *err);

/* The digest of the "<path>\t<sha256>" lines (sorted here) and the class names. */
void mlf_prep_digest_lines(char **lines, size_t n, const struct mlf_class_names *classes,
			   char out[65]);

/* Write <dir> (a fresh temporary folder) as version `name`, final path `final_dir`. */
int mlf_prep_write_version(const char *dir, const char *final_dir, const char *name,
			   const struct prep_items *items, const struct mlf_class_names *classes,
			   const struct mlf_data_yaml *base, const struct mlf_prep_options *opts,
			   const struct mlf_problems *skipped, json_t **doc, struct mlf_error *err);

#endif
