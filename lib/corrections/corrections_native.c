/* The native format: one "mlf.correction" JSON file per corrected image (retrain-prep(1)). */
#include <stdlib.h>
#include <string.h>

#include "corrections_internal.h"
#include "mlf/base.h"

static int known_key(const char *key, const char *const *keys)
{
	for (; *keys; keys++)
		if (!strcmp(key, *keys))
			return 1;
	return 0;
}

/* Unknown keys are almost always typos ("boxs"), which would otherwise drop data silently. */
static int check_keys(struct corr_ctx *ctx, const char *rel, const char *prefix, const json_t *obj,
		      const char *const *keys)
{
	const char *key;
	json_t *v;
	int bad = 0;
	json_object_foreach((json_t *)obj, key, v) {
		if (known_key(key, keys))
			continue;
		struct mlf_buf allowed = MLF_BUF_INIT;
		for (const char *const *k = keys; *k; k++)
			mlf_buf_addf(&allowed, "%s%s", k == keys ? "" : ", ", *k);
		char *field = mlf_xasprintf("%s%s", prefix, key);
		mlf_problems_add(ctx->problems, rel, field, "unknown key (allowed: %s)", allowed.data);
		free(field);
		mlf_buf_release(&allowed);
		bad = 1;
	}
	return bad ? -1 : 0;
}

static int read_box(struct corr_ctx *ctx, const char *rel, size_t i, const json_t *jb,
		    struct mlf_box *b)
{
	static const char *const keys[] = { "class", "class_id", "xyxy", NULL };
	char prefix[48], field[64];
	snprintf(prefix, sizeof(prefix), "boxes[%zu]", i);
	if (!json_is_object(jb)) {
		mlf_problems_add(ctx->problems, rel, prefix, "a box must be an object with \"class\" "
				 "(or \"class_id\") and \"xyxy\"");
		return -1;
	}
	snprintf(field, sizeof(field), "%s.", prefix);
	int bad = check_keys(ctx, rel, field, jb, keys);

	const json_t *cname = json_object_get(jb, "class"), *cid = json_object_get(jb, "class_id");
	b->class_id = -1;
	if (cname && cid) {
		mlf_problems_add(ctx->problems, rel, prefix, "give \"class\" or \"class_id\", not both");
		bad = 1;
	} else if (!cname && !cid) {
		mlf_problems_add(ctx->problems, rel, prefix, "box has no \"class\" (or \"class_id\")");
		bad = 1;
	} else if (cname) {
		snprintf(field, sizeof(field), "%s.class", prefix);
		if (!json_is_string(cname)) {
			mlf_problems_add(ctx->problems, rel, field, "class must be a class name (a string)");
			bad = 1;
		} else if ((b->class_id = mlf_class_names_find(ctx->classes,
							       json_string_value(cname))) < 0) {
			corr_unknown_class(ctx, rel, field, json_string_value(cname));
			bad = 1;
		}
	} else {
		snprintf(field, sizeof(field), "%s.class_id", prefix);
		if ((b->class_id = corr_class_id(ctx, rel, field, cid)) < 0)
			bad = 1;
	}

	const json_t *xy = json_object_get(jb, "xyxy");
	double v[4];
	snprintf(field, sizeof(field), "%s.xyxy", prefix);
	if (!xy) {
		mlf_problems_add(ctx->problems, rel, field, "missing: the box corners [x1, y1, x2, y2] "
				 "in pixels");
		return -1;
	}
	if (!json_is_array(xy) || json_array_size(xy) != 4) {
		mlf_problems_add(ctx->problems, rel, field, "must be an array of 4 numbers "
				 "[x1, y1, x2, y2]");
		return -1;
	}
	for (size_t k = 0; k < 4; k++)
		if (corr_number(json_array_get(xy, k), &v[k])) {
			mlf_problems_add(ctx->problems, rel, field, "element %zu is not a finite number; "
					 "the corners must be 4 numbers [x1, y1, x2, y2]", k);
			return -1;
		}
	if (v[2] <= v[0] || v[3] <= v[1]) {
		mlf_problems_add(ctx->problems, rel, field, "degenerate or negative box "
				 "[%g, %g, %g, %g]: need x2 > x1 and y2 > y1", v[0], v[1], v[2], v[3]);
		return -1;
	}
	b->x1 = v[0];
	b->y1 = v[1];
	b->x2 = v[2];
	b->y2 = v[3];
	return bad ? -1 : 0;
}

static int optional_string(struct corr_ctx *ctx, const char *rel, const json_t *doc,
			   const char *key, char **out)
{
	const json_t *v = json_object_get(doc, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		mlf_problems_add(ctx->problems, rel, key, "must be a string");
		return -1;
	}
	*out = mlf_xstrdup(json_string_value(v));
	return 0;
}

void corr_read_native(struct corr_ctx *ctx, const char *rel, const json_t *doc, const char *sha)
{
	static const char *const keys[] = { "format", "version", "image", "width", "height", "boxes",
					    "corrected_by", "corrected_at", "prediction", NULL };
	const json_t *version = json_object_get(doc, "version");
	if (!version) {
		mlf_problems_add(ctx->problems, rel, "version", "missing (this mlf reads version 1)");
		return;
	}
	if (!json_is_integer(version) || json_integer_value(version) != 1) {
		/* Other fields of another version would only add noise to the report. */
		char *text = json_dumps(version, JSON_ENCODE_ANY | JSON_COMPACT);
		mlf_problems_add(ctx->problems, rel, "version", "unsupported version %s (this mlf "
				 "reads version 1)", text ? text : "?");
		free(text);
		return;
	}

	struct mlf_correction c = { .source_index = -1 };
	int bad = check_keys(ctx, rel, "", doc, keys);

	const json_t *image = json_object_get(doc, "image");
	if (!image) {
		mlf_problems_add(ctx->problems, rel, "image", "missing: the image's path, relative to "
				 "this file's folder");
		bad = 1;
	} else if (!json_is_string(image)) {
		mlf_problems_add(ctx->problems, rel, "image", "must be a string (a path relative to "
				 "this file's folder)");
		bad = 1;
	} else {
		int exists;
		if (corr_resolve(ctx, rel, "image", json_string_value(image), &c.image, &exists)) {
			bad = 1;
		} else if (!exists) {
			mlf_problems_add(ctx->problems, rel, "image", "image '%s' not found (looked for "
					 "'%s')", json_string_value(image), c.image);
			bad = 1;
		}
	}

	static const char *const sizes[] = { "width", "height" };
	int *dims[] = { &c.declared_width, &c.declared_height };
	for (int k = 0; k < 2; k++) {
		const json_t *v = json_object_get(doc, sizes[k]);
		if (!v) {
			mlf_problems_add(ctx->problems, rel, sizes[k], "missing: the image's %s in pixels",
					 sizes[k]);
			bad = 1;
		} else if (corr_positive_int(v, dims[k])) {
			mlf_problems_add(ctx->problems, rel, sizes[k], "must be a positive integer "
					 "(pixels)");
			bad = 1;
		}
	}

	const json_t *boxes = json_object_get(doc, "boxes");
	if (!boxes) {
		mlf_problems_add(ctx->problems, rel, "boxes", "missing: the corrected boxes (an empty "
				 "list when the image holds no objects)");
		bad = 1;
	} else if (!json_is_array(boxes)) {
		mlf_problems_add(ctx->problems, rel, "boxes", "must be an array of boxes");
		bad = 1;
	} else {
		c.nboxes = json_array_size(boxes);
		c.boxes = mlf_xcalloc(c.nboxes ? c.nboxes : 1, sizeof(*c.boxes));
		for (size_t i = 0; i < c.nboxes; i++)
			if (read_box(ctx, rel, i, json_array_get(boxes, i), &c.boxes[i]))
				bad = 1;
	}

	if (optional_string(ctx, rel, doc, "corrected_by", &c.corrected_by))
		bad = 1;
	if (optional_string(ctx, rel, doc, "corrected_at", &c.corrected_at))
		bad = 1;
	if (c.corrected_at && !corr_is_rfc3339(c.corrected_at)) {
		mlf_problems_add(ctx->problems, rel, "corrected_at", "'%s' is not an RFC 3339 time "
				 "(like 2026-11-20T09:15:00Z)", c.corrected_at);
		bad = 1;
	}
	const json_t *pred = json_object_get(doc, "prediction");
	if (pred && !json_is_null(pred)) {
		if (!json_is_object(pred)) {
			mlf_problems_add(ctx->problems, rel, "prediction", "must be an object");
			bad = 1;
		} else {
			c.prediction = json_deep_copy(pred);
		}
	}

	if (bad) {
		corr_free(&c);
		return;
	}
	c.source = mlf_xstrdup(rel);
	c.source_sha256 = mlf_xstrdup(sha);
	c.format = mlf_xstrdup("mlf");
	corr_push(ctx, &c);
}
