/* Checking corrections against their images; duplicates; the split; correction ids. */
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/buf.h"
#include "mlf/fs.h"
#include "mlf/image.h"
#include "mlf/progress.h"
#include "prep_internal.h"

const char *const mlf_prep_split_names[2] = { "train", "val" };

void mlf_prep_items_release(struct prep_items *items)
{
	for (size_t i = 0; i < items->n; i++) {
		free(items->items[i].image);
		free(items->items[i].label);
		free(items->items[i].boxes);
		free(items->items[i].dest);
	}
	free(items->items);
	memset(items, 0, sizeof(*items));
}

static struct prep_item *add_item(struct prep_items *items)
{
	items->items = mlf_xrealloc(items->items, (items->n + 1) * sizeof(*items->items));
	struct prep_item *it = &items->items[items->n++];
	memset(it, 0, sizeof(*it));
	return it;
}

static void sha256_text(const char *text, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	EVP_Digest(text, len, md, &n, EVP_sha256(), NULL);
	mlf_hex_encode(md, n, hex);
}

/*
 * A box overshooting the image by a little is a slip of the mouse: clip it.
 * More than this many pixels (or 1% of the side, if larger) is a real error.
 */
static double overshoot_allowed(int side)
{
	double pct = side * 0.01;
	return pct > 2.0 ? pct : 2.0;
}

static int clip_axis(double *lo, double *hi, int side)
{
	double slack = overshoot_allowed(side);
	if (*lo < -slack || *hi > side + slack)
		return -1;
	if (*lo < 0)
		*lo = 0;
	if (*hi > side)
		*hi = side;
	return 0;
}

/* Pixel boxes of one correction, checked against the decoded size. */
static int convert_boxes(const struct mlf_correction *c, int w, int h, struct prep_item *it,
			 struct mlf_problems *problems)
{
	int bad = 0;
	it->boxes = mlf_xcalloc(c->nboxes ? c->nboxes : 1, sizeof(*it->boxes));
	for (size_t i = 0; i < c->nboxes; i++) {
		struct mlf_box b = c->boxes[i];
		char field[48];
		snprintf(field, sizeof(field), "boxes[%zu]", i);
		if (c->normalized) {
			b.x1 *= w;
			b.x2 *= w;
			b.y1 *= h;
			b.y2 *= h;
		}
		if (!isfinite(b.x1) || !isfinite(b.y1) || !isfinite(b.x2) || !isfinite(b.y2) ||
		    b.x2 <= b.x1 || b.y2 <= b.y1) {
			mlf_problems_add(problems, c->source, field, "degenerate or negative box "
					 "[%g, %g, %g, %g]", b.x1, b.y1, b.x2, b.y2);
			bad = 1;
			continue;
		}
		if (clip_axis(&b.x1, &b.x2, w) || clip_axis(&b.y1, &b.y2, h)) {
			mlf_problems_add(problems, c->source, field, "box [%.1f, %.1f, %.1f, %.1f] lies "
					 "outside the %dx%d image", b.x1, b.y1, b.x2, b.y2, w, h);
			bad = 1;
			continue;
		}
		if (b.x2 - b.x1 < 1.0 || b.y2 - b.y1 < 1.0) {
			mlf_problems_add(problems, c->source, field, "box is less than one pixel wide or "
					 "high after clipping to the image");
			bad = 1;
			continue;
		}
		it->boxes[it->nboxes++] = b;
	}
	return bad ? -1 : 0;
}

static int by_box(const void *a, const void *b)
{
	const struct mlf_box *x = a, *y = b;
	if (x->class_id != y->class_id)
		return x->class_id - y->class_id;
	double d[4] = { x->x1 - y->x1, x->y1 - y->y1, x->x2 - y->x2, x->y2 - y->y2 };
	for (int i = 0; i < 4; i++)
		if (d[i] != 0)
			return d[i] < 0 ? -1 : 1;
	return 0;
}

/* What was corrected, whatever format it came in: image content plus boxes. */
static void correction_id(struct prep_item *it)
{
	struct mlf_buf b = MLF_BUF_INIT;
	qsort(it->boxes, it->nboxes, sizeof(*it->boxes), by_box);
	mlf_buf_addf(&b, "mlf.correction.v1\n%s\n", it->image_sha);
	for (size_t i = 0; i < it->nboxes; i++)
		mlf_buf_addf(&b, "%d %.3f %.3f %.3f %.3f\n", it->boxes[i].class_id, it->boxes[i].x1,
			     it->boxes[i].y1, it->boxes[i].x2, it->boxes[i].y2);
	sha256_text(b.data, b.len, it->correction_id);
	mlf_buf_release(&b);
}

static int in_holdout(const char *holdout_text, const struct prep_item *it)
{
	if (!holdout_text)
		return 0;
	const char *base = strrchr(it->image, '/');
	base = base ? base + 1 : it->image;
	for (const char *line = holdout_text; *line; ) {
		size_t n = strcspn(line, "\r\n");
		if ((n == 64 && !strncmp(line, it->image_sha, 64)) ||
		    (n == strlen(base) && !strncmp(line, base, n)))
			return 1;
		line += n;
		line += strspn(line, "\r\n");
	}
	return 0;
}

/*
 * The split depends only on the image's bytes (and the seed), so an image
 * keeps its side across versions however the corrections folder changes.
 */
static int split_of(const struct prep_item *it, const struct mlf_prep_options *opts,
		    const char *holdout_text)
{
	if (in_holdout(holdout_text, it))
		return SPLIT_VAL;
	char *salted = mlf_xasprintf("mlf-split:%ld:%s", opts->seed, it->image_sha);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	EVP_Digest(salted, strlen(salted), md, &n, EVP_sha256(), NULL);
	free(salted);
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | md[i];
	double u = (double)(v >> 11) / 9007199254740992.0;  /* 53 bits -> [0,1) */
	return u < opts->val_fraction ? SPLIT_VAL : SPLIT_TRAIN;
}

/* Later wins: by corrected_at, then by position in the (sorted) set. */
static int newer(const struct mlf_correction *a, const struct mlf_correction *b)
{
	const char *ta = a->corrected_at ? a->corrected_at : "";
	const char *tb = b->corrected_at ? b->corrected_at : "";
	return strcmp(ta, tb) >= 0;
}

int mlf_prep_check_corrections(const struct mlf_correction_set *set,
			       const struct mlf_class_names *classes,
			       const struct mlf_prep_options *opts, struct prep_items *out,
			       struct mlf_problems *problems, struct mlf_error *err)
{
	struct mlf_progress progress;
	char *holdout = NULL;
	json_t *by_sha = json_object();  /* image sha256 -> index in out: a hash table */
	(void)classes;
	if (opts->holdout && mlf_read_file(opts->holdout, &holdout, NULL, err))
		return -1;
	mlf_progress_start(&progress, opts->prog, "checking corrections", set->n, 200);
	for (size_t i = 0; i < set->n; i++) {
		const struct mlf_correction *c = &set->items[i];
		struct mlf_image_info info;
		struct mlf_error ierr = MLF_ERROR_INIT;
		mlf_progress_step(&progress);
		if (mlf_image_probe(c->image, &info, &ierr)) {
			mlf_problems_add(problems, c->source, "image", "%s", ierr.msg);
			continue;
		}
		if ((c->declared_width && c->declared_width != info.width) ||
		    (c->declared_height && c->declared_height != info.height)) {
			mlf_problems_add(problems, c->source, "width/height", "declares %dx%d but the image "
					 "is %dx%d", c->declared_width, c->declared_height, info.width,
					 info.height);
			continue;
		}
		struct prep_item it = { .c = c, .width = info.width, .height = info.height,
					.split = SPLIT_TRAIN };
		if (convert_boxes(c, info.width, info.height, &it, problems)) {
			free(it.boxes);
			continue;
		}
		if (mlf_sha256_file(c->image, it.image_sha, NULL, &ierr)) {
			mlf_problems_add(problems, c->source, "image", "%s", ierr.msg);
			free(it.boxes);
			continue;
		}
		correction_id(&it);
		/* The same picture corrected twice counts once: the newer correction wins. */
		json_t *seen = json_object_get(by_sha, it.image_sha);
		struct prep_item *twin = seen ? &out->items[json_integer_value(seen)] : NULL;
		if (twin) {
			out->duplicates++;
			if (!newer(c, twin->c)) {
				free(it.boxes);
				continue;
			}
			free(twin->image);
			free(twin->boxes);
			*twin = it;
		} else {
			*add_item(out) = it;
			twin = &out->items[out->n - 1];
			json_object_set_new(by_sha, it.image_sha, json_integer((json_int_t)(out->n - 1)));
		}
		twin->image = mlf_xstrdup(c->image);
		twin->split = split_of(twin, opts, holdout);
	}
	mlf_progress_finish(&progress);
	json_decref(by_sha);
	free(holdout);
	return 0;
}

int mlf_prep_add_base(const struct mlf_data_yaml *base, const struct mlf_prep_options *opts,
		      struct prep_items *items, struct mlf_error *err)
{
	const struct mlf_image_list *lists[2] = { &base->train, &base->val };
	struct mlf_progress progress;
	json_t *corrected = json_object();  /* image sha256s of the corrections, as a set */
	for (size_t k = 0; k < items->n; k++)
		json_object_set_new(corrected, items->items[k].image_sha, json_true());
	mlf_progress_start(&progress, opts->prog, "checksumming base images",
			   base->train.n + base->val.n, 500);
	for (int split = 0; split < 2; split++) {
		for (size_t i = 0; i < lists[split]->n; i++) {
			const char *path = lists[split]->paths[i];
			char sha[65];
			mlf_progress_step(&progress);
			if (mlf_sha256_file(path, sha, NULL, err)) {
				json_decref(corrected);
				return mlf_error_prefix(err, "base dataset %s", base->file);
			}
			if (json_object_get(corrected, sha)) {
				items->superseded_base++;
				continue;
			}
			struct prep_item *it = add_item(items);
			it->image = mlf_xstrdup(path);
			memcpy(it->image_sha, sha, sizeof(sha));
			it->label = mlf_label_path_for(path);
			it->split = split;
			if (mlf_is_file(it->label) && mlf_sha256_file(it->label, it->label_sha, NULL, err)) {
				json_decref(corrected);
				return mlf_error_prefix(err, "base dataset %s", base->file);
			}
		}
	}
	mlf_progress_finish(&progress);
	json_decref(corrected);
	return 0;
}
