/* A COCO detection export: images, annotations (bbox [x, y, w, h] in pixels), categories. */
#include <stdlib.h>
#include <string.h>

#include "corrections_internal.h"
#include "mlf/base.h"

struct id_index {
	json_int_t id;
	size_t pos;
};

struct coco_image {
	json_int_t id;
	int ok;                /* no problem so far */
	int width, height;
	const char *file_name;
	struct mlf_box *boxes;
	size_t nboxes, cap;
};

static int by_id(const void *a, const void *b)
{
	const struct id_index *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

static const struct id_index *find_id(const struct id_index *ix, size_t n, json_int_t id)
{
	/* The first entry with this id (ids are sorted, ties by position). */
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ix[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && ix[lo].id == id ? &ix[lo] : NULL;
}

static int require_array(struct corr_ctx *ctx, const char *rel, const json_t *doc, const char *key)
{
	const json_t *v = json_object_get(doc, key);
	if (json_is_array(v))
		return 0;
	mlf_problems_add(ctx->problems, rel, key, v ? "must be an array" : "missing (a COCO "
			 "export has images, annotations and categories)");
	return -1;
}

/* Reports ids used twice (the index holds only entries with a valid id, sorted). */
static void duplicates(struct corr_ctx *ctx, const char *rel, const char *array,
		       const char *what, const struct id_index *ix, size_t n, int *ok)
{
	for (size_t i = 1; i < n; i++)
		if (ix[i].id == ix[i - 1].id) {
			char field[48];
			snprintf(field, sizeof(field), "%s[%zu].id", array, ix[i].pos);
			mlf_problems_add(ctx->problems, rel, field, "duplicate %s id %"
					 JSON_INTEGER_FORMAT " (also %s[%zu])", what, ix[i].id, array,
					 ix[i - 1].pos);
			ok[ix[i].pos] = ok[ix[i - 1].pos] = 0;
		}
}

/* Category -> class id in class_of (-1: not usable); *nix valid ids in *ix. */
static void read_categories(struct corr_ctx *ctx, const char *rel, const json_t *cats,
			    struct id_index **ix, size_t *nix, int **class_of)
{
	size_t n = json_array_size(cats);
	int *ok = mlf_xcalloc(n ? n : 1, sizeof(*ok));
	*ix = mlf_xcalloc(n ? n : 1, sizeof(**ix));
	*nix = 0;
	*class_of = mlf_xcalloc(n ? n : 1, sizeof(**class_of));
	for (size_t i = 0; i < n; i++) {
		const json_t *cat = json_array_get(cats, i);
		const json_t *id = json_object_get(cat, "id"), *name = json_object_get(cat, "name");
		char field[48];
		(*class_of)[i] = -1;
		if (!json_is_integer(id) || !json_is_string(name)) {
			snprintf(field, sizeof(field), "categories[%zu]", i);
			mlf_problems_add(ctx->problems, rel, field, "a category needs an integer \"id\" "
					 "and a string \"name\"");
			continue;
		}
		(*ix)[*nix].id = json_integer_value(id);
		(*ix)[(*nix)++].pos = i;
		(*class_of)[i] = mlf_class_names_find(ctx->classes, json_string_value(name));
		ok[i] = (*class_of)[i] >= 0;
		if (!ok[i]) {
			snprintf(field, sizeof(field), "categories[%zu].name", i);
			corr_unknown_class(ctx, rel, field, json_string_value(name));
		}
	}
	qsort(*ix, *nix, sizeof(**ix), by_id);
	duplicates(ctx, rel, "categories", "category", *ix, *nix, ok);
	for (size_t i = 0; i < n; i++)
		if (!ok[i])
			(*class_of)[i] = -1;
	free(ok);
}

/* Fills im[] and the index of valid image ids (*nix of them). */
static void read_images(struct corr_ctx *ctx, const char *rel, const json_t *images,
			struct coco_image *im, struct id_index *ix, size_t *nix)
{
	size_t n = json_array_size(images);
	int *ok = mlf_xcalloc(n ? n : 1, sizeof(*ok));
	*nix = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *j = json_array_get(images, i);
		char field[48];
		ok[i] = 1;
		if (!json_is_object(j)) {
			snprintf(field, sizeof(field), "images[%zu]", i);
			mlf_problems_add(ctx->problems, rel, field, "an image must be an object with id, "
					 "file_name, width and height");
			ok[i] = 0;
			continue;
		}
		const json_t *id = json_object_get(j, "id"), *fn = json_object_get(j, "file_name");
		if (!json_is_integer(id)) {
			snprintf(field, sizeof(field), "images[%zu].id", i);
			mlf_problems_add(ctx->problems, rel, field, "%s", id ? "must be an integer"
					 : "missing");
			ok[i] = 0;
		} else {
			im[i].id = json_integer_value(id);
			ix[*nix].id = im[i].id;
			ix[(*nix)++].pos = i;
		}
		if (!json_is_string(fn)) {
			snprintf(field, sizeof(field), "images[%zu].file_name", i);
			mlf_problems_add(ctx->problems, rel, field, "%s", fn ? "must be a string"
					 : "missing");
			ok[i] = 0;
		} else {
			im[i].file_name = json_string_value(fn);
		}
		static const char *const sizes[] = { "width", "height" };
		int *dims[] = { &im[i].width, &im[i].height };
		for (int k = 0; k < 2; k++) {
			const json_t *v = json_object_get(j, sizes[k]);
			if (corr_positive_int(v, dims[k])) {
				snprintf(field, sizeof(field), "images[%zu].%s", i, sizes[k]);
				mlf_problems_add(ctx->problems, rel, field, "%s", v ? "must be a positive "
						 "integer (pixels)" : "missing");
				ok[i] = 0;
			}
		}
	}
	qsort(ix, *nix, sizeof(*ix), by_id);
	duplicates(ctx, rel, "images", "image", ix, *nix, ok);
	for (size_t i = 0; i < n; i++)
		im[i].ok = ok[i];
	free(ok);
}

static void add_box(struct coco_image *im, const struct mlf_box *b)
{
	if (im->nboxes == im->cap) {
		im->cap = im->cap ? im->cap * 2 : 8;
		im->boxes = mlf_xrealloc(im->boxes, im->cap * sizeof(*im->boxes));
	}
	im->boxes[im->nboxes++] = *b;
}

/* The entry of `ix` that annotation i's `key` names; NULL, with the problem added, when none. */
static const struct id_index *annotation_ref(struct corr_ctx *ctx, const char *rel, size_t i,
					     const json_t *a, const char *key, const char *what,
					     const struct id_index *ix, size_t n)
{
	const json_t *id = json_object_get(a, key);
	const struct id_index *hit = json_is_integer(id) ? find_id(ix, n, json_integer_value(id)) : NULL;
	if (!hit) {
		char field[64];
		snprintf(field, sizeof(field), "annotations[%zu].%s", i, key);
		if (json_is_integer(id))
			mlf_problems_add(ctx->problems, rel, field, "no %s with id %" JSON_INTEGER_FORMAT,
					 what, json_integer_value(id));
		else
			mlf_problems_add(ctx->problems, rel, field, "%s", id ? "must be an integer" :
					 "missing");
	}
	return hit;
}

static void read_annotations(struct corr_ctx *ctx, const char *rel, const json_t *anns,
			     struct coco_image *im, const struct id_index *imix, size_t nimages,
			     const struct id_index *catix, const int *class_of, size_t ncats)
{
	for (size_t i = 0; i < json_array_size(anns); i++) {
		const json_t *a = json_array_get(anns, i);
		char field[64];
		snprintf(field, sizeof(field), "annotations[%zu]", i);
		if (!json_is_object(a)) {
			mlf_problems_add(ctx->problems, rel, field, "an annotation must be an object");
			continue;
		}
		/* Crowd regions mark many objects at once; COCO's own evaluation ignores them, so do we. */
		const json_t *crowd = json_object_get(a, "iscrowd");
		if (json_is_integer(crowd) && json_integer_value(crowd) == 1)
			continue;
		const struct id_index *hit = annotation_ref(ctx, rel, i, a, "image_id", "image", imix,
							    nimages);
		if (!hit)
			continue;
		struct coco_image *target = &im[hit->pos];
		struct mlf_box b = { .class_id = -1 };
		const struct id_index *cat = annotation_ref(ctx, rel, i, a, "category_id", "category",
							    catix, ncats);
		if (!cat || class_of[cat->pos] < 0)
			target->ok = 0;  /* a problem says why: the reference's, or the category's own */
		else
			b.class_id = class_of[cat->pos];
		const json_t *bbox = json_object_get(a, "bbox");
		double v[4];
		snprintf(field, sizeof(field), "annotations[%zu].bbox", i);
		int nums = json_is_array(bbox) && json_array_size(bbox) == 4;
		for (size_t k = 0; nums && k < 4; k++)
			nums = !corr_number(json_array_get(bbox, k), &v[k]);
		if (!nums) {
			mlf_problems_add(ctx->problems, rel, field, "must be 4 numbers [x, y, width, "
					 "height] in pixels");
			target->ok = 0;
			continue;
		}
		if (v[2] <= 0 || v[3] <= 0) {
			mlf_problems_add(ctx->problems, rel, field, "degenerate or negative box "
					 "[%g, %g, %g, %g]: width and height must be positive", v[0],
					 v[1], v[2], v[3]);
			target->ok = 0;
			continue;
		}
		b.x1 = v[0];
		b.y1 = v[1];
		b.x2 = v[0] + v[2];
		b.y2 = v[1] + v[3];
		if (b.class_id >= 0)
			add_box(target, &b);
	}
}

static char *find_image(struct corr_ctx *ctx, const char *rel, size_t i, const char *name)
{
	char field[48], *abs = NULL;
	snprintf(field, sizeof(field), "images[%zu].file_name", i);
	int found = corr_find_in_export(ctx, rel, field, name, &abs);
	if (found == 0)
		mlf_problems_add(ctx->problems, rel, field, "image '%s' not found beside the export "
				 "or in its images/ folder", name);
	return found > 0 ? abs : NULL;
}

void corr_read_coco(struct corr_ctx *ctx, const char *rel, const json_t *doc, const char *sha)
{
	if (require_array(ctx, rel, doc, "images") | require_array(ctx, rel, doc, "annotations") |
	    require_array(ctx, rel, doc, "categories"))
		return;
	const json_t *images = json_object_get(doc, "images");
	size_t n = json_array_size(images);
	struct id_index *catix, *imix = mlf_xcalloc(n ? n : 1, sizeof(*imix));
	size_t nimix, ncatix;
	int *class_of;
	struct coco_image *im = mlf_xcalloc(n ? n : 1, sizeof(*im));

	read_categories(ctx, rel, json_object_get(doc, "categories"), &catix, &ncatix, &class_of);
	read_images(ctx, rel, images, im, imix, &nimix);
	read_annotations(ctx, rel, json_object_get(doc, "annotations"), im, imix, nimix, catix,
			 class_of, ncatix);
	for (size_t i = 0; i < n; i++) {
		char *path = im[i].ok ? find_image(ctx, rel, i, im[i].file_name) : NULL;
		if (path) {
			struct mlf_correction c = {
				.source = mlf_xstrdup(rel), .source_sha256 = mlf_xstrdup(sha),
				.source_index = (long)i, .format = mlf_xstrdup("coco"), .image = path,
				.declared_width = im[i].width, .declared_height = im[i].height,
				.boxes = im[i].boxes ? im[i].boxes : mlf_xcalloc(1, sizeof(struct mlf_box)),
				.nboxes = im[i].nboxes,
			};
			im[i].boxes = NULL;
			corr_push(ctx, &c);
		}
		free(im[i].boxes);
	}
	free(im);
	free(imix);
	free(catix);
	free(class_of);
}
