/* A Label Studio JSON export: tasks whose annotations hold rectanglelabels in percent. */
#include <stdlib.h>
#include <string.h>

#include "corrections_internal.h"
#include "mlf/base.h"

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The file name in data.image: "/data/upload/3/1f2e3d4c-frame.jpg",
 * "/data/local-files/?d=cams%2Ffront%2Fframe.jpg", "s3://bucket/frame.jpg".
 * NULL when nothing usable is left.
 */
static char *file_name_of(const char *url)
{
	const char *d = strstr(url, "?d=");
	const char *s = d ? d + 3 : url;
	size_t len = d ? strcspn(s, "&#") : strcspn(s, "?#");
	struct mlf_buf b = MLF_BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < len && (hi = hex_digit(s[i + 1])) >= 0 &&
		    (lo = hex_digit(s[i + 2])) >= 0) {
			mlf_buf_addc(&b, (char)(hi * 16 + lo));
			i += 2;
		} else {
			mlf_buf_addc(&b, s[i]);
		}
	}
	const char *slash = strrchr(b.data, '/');
	const char *name = slash ? slash + 1 : b.data;
	char *out = NULL;
	if (strlen(name) == b.len - (size_t)(name - b.data) && *name && strcmp(name, ".") &&
	    strcmp(name, ".."))
		out = mlf_xstrdup(name);  /* (a decoded %00 would have cut the name short) */
	mlf_buf_release(&b);
	return out;
}

/* Uploads are stored as "<8 hex>-<original name>"; the folder may hold the original. */
static const char *without_upload_prefix(const char *name)
{
	for (int i = 0; i < 8; i++)
		if (hex_digit(name[i]) < 0)
			return NULL;
	return name[8] == '-' && name[9] ? name + 9 : NULL;
}

static char *find_image(struct corr_ctx *ctx, const char *rel, const char *field,
			const char *url)
{
	char *name = file_name_of(url), *abs = NULL;
	if (!name) {
		mlf_problems_add(ctx->problems, rel, field, "no file name in '%s'", url);
		return NULL;
	}
	int found = corr_find_in_export(ctx, rel, field, name, &abs);
	const char *original = without_upload_prefix(name);
	if (found == 0 && original)
		found = corr_find_in_export(ctx, rel, field, original, &abs);
	if (found == 0)
		mlf_problems_add(ctx->problems, rel, field, "image '%s' (from '%s') not found beside "
				 "the export or in its images/ folder", name, url);
	free(name);
	return found > 0 ? abs : NULL;
}

/* The newest annotation not cancelled: by updated_at, a tie or none going to the later one. */
static const json_t *pick_annotation(const json_t *anns, size_t *index)
{
	const json_t *best = NULL;
	const char *best_at = "";
	for (size_t k = 0; k < json_array_size(anns); k++) {
		const json_t *a = json_array_get(anns, k);
		if (!json_is_object(a) || json_is_true(json_object_get(a, "was_cancelled")))
			continue;
		const char *at = json_string_value(json_object_get(a, "updated_at"));
		if (!at)
			at = "";
		if (!best || strcmp(at, best_at) >= 0) {
			best = a;
			best_at = at;
			*index = k;
		}
	}
	return best;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

/* One result into `b`: 1 when it is a box, 0 when it is something else to ignore, -1 on a problem. */
static int read_result(struct corr_ctx *ctx, const char *rel, const char *prefix, const json_t *r,
		       struct mlf_box *b, int *width, int *height)
{
	char field[224];
	const char *type = json_string_value(json_object_get(r, "type"));
	if (!json_is_object(r) || !type) {
		mlf_problems_add(ctx->problems, rel, prefix, "a result must be an object with a type");
		return -1;
	}
	if (strcmp(type, "rectanglelabels")) {
		if (!has_suffix(type, "labels"))
			return 0;  /* choices, text areas, ratings: not boxes */
		snprintf(field, sizeof(field), "%s.type", prefix);
		mlf_problems_add(ctx->problems, rel, field, "only rectanglelabels boxes are supported "
				 "(found %s)", type);
		return -1;
	}
	const json_t *v = json_object_get(r, "value");
	snprintf(field, sizeof(field), "%s.value", prefix);
	if (!json_is_object(v)) {
		mlf_problems_add(ctx->problems, rel, field, "missing or not an object");
		return -1;
	}
	int bad = 0;
	const json_t *rot = json_object_get(v, "rotation");
	double rotation = 0;
	if (rot && (corr_number(rot, &rotation) || rotation != 0)) {
		snprintf(field, sizeof(field), "%s.value.rotation", prefix);
		mlf_problems_add(ctx->problems, rel, field, "rotated boxes are not supported");
		bad = 1;
	}
	const json_t *labels = json_object_get(v, "rectanglelabels");
	snprintf(field, sizeof(field), "%s.value.rectanglelabels", prefix);
	b->class_id = -1;
	if (!json_is_array(labels) || json_array_size(labels) != 1 ||
	    !json_is_string(json_array_get(labels, 0))) {
		mlf_problems_add(ctx->problems, rel, field, "a box needs exactly one label (found %zu)",
				 json_array_size(labels));
		bad = 1;
	} else {
		const char *name = json_string_value(json_array_get(labels, 0));
		if ((b->class_id = mlf_class_names_find(ctx->classes, name)) < 0) {
			corr_unknown_class(ctx, rel, field, name);
			bad = 1;
		}
	}
	static const char *const keys[] = { "x", "y", "width", "height" };
	double p[4];
	for (int k = 0; k < 4; k++)
		if (corr_number(json_object_get(v, keys[k]), &p[k])) {
			snprintf(field, sizeof(field), "%s.value.%s", prefix, keys[k]);
			mlf_problems_add(ctx->problems, rel, field, "must be a number (percent of the "
					 "image)");
			return -1;
		}
	if (p[2] <= 0 || p[3] <= 0) {
		snprintf(field, sizeof(field), "%s.value", prefix);
		mlf_problems_add(ctx->problems, rel, field, "degenerate or negative box: width %g and "
				 "height %g must be positive", p[2], p[3]);
		return -1;
	}
	static const char *const sizes[] = { "original_width", "original_height" };
	int *dims[] = { width, height };
	for (int k = 0; k < 2; k++) {
		const json_t *s = json_object_get(r, sizes[k]);
		int d;
		if (!s)
			continue;
		snprintf(field, sizeof(field), "%s.%s", prefix, sizes[k]);
		if (corr_positive_int(s, &d)) {
			mlf_problems_add(ctx->problems, rel, field, "must be a positive integer (pixels)");
			bad = 1;
		} else if (*dims[k] && *dims[k] != d) {
			mlf_problems_add(ctx->problems, rel, field, "%d differs from %d in another result "
					 "of the same task", d, *dims[k]);
			bad = 1;
		} else {
			*dims[k] = d;
		}
	}
	b->x1 = p[0] / 100;
	b->y1 = p[1] / 100;
	b->x2 = (p[0] + p[2]) / 100;
	b->y2 = (p[1] + p[3]) / 100;
	return bad ? -1 : 1;
}

static char *who(const json_t *by)
{
	if (json_is_string(by))
		return mlf_xstrdup(json_string_value(by));
	if (json_is_integer(by))
		return mlf_xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(by));
	if (json_is_object(by)) {  /* some versions export the user object */
		const json_t *email = json_object_get(by, "email");
		return email ? who(email) : who(json_object_get(by, "id"));
	}
	return NULL;
}

static void read_task(struct corr_ctx *ctx, const char *rel, const char *sha, size_t i,
		      const json_t *task)
{
	char prefix[160];
	snprintf(prefix, sizeof(prefix), "[%zu]", i);
	if (!json_is_object(task)) {
		mlf_problems_add(ctx->problems, rel, prefix, "a task must be an object with data and "
				 "annotations");
		return;
	}
	const json_t *anns = json_object_get(task, "annotations");
	if (!json_is_array(anns)) {
		snprintf(prefix, sizeof(prefix), "[%zu].annotations", i);
		mlf_problems_add(ctx->problems, rel, prefix, "%s", anns ? "must be an array"
				 : "missing (export with annotations)");
		return;
	}
	size_t k = 0;
	const json_t *ann = pick_annotation(anns, &k);
	if (!ann)
		return;  /* not annotated yet, or every annotation cancelled: no correction */

	struct mlf_correction c = { .source_index = (long)i };
	int bad = 0;
	const json_t *url = json_object_get(json_object_get(task, "data"), "image");
	snprintf(prefix, sizeof(prefix), "[%zu].data.image", i);
	if (!json_is_string(url)) {
		mlf_problems_add(ctx->problems, rel, prefix, "%s", url ? "must be a string"
				 : "missing: the task's image");
		bad = 1;
	} else if (!(c.image = find_image(ctx, rel, prefix, json_string_value(url)))) {
		bad = 1;
	}

	const json_t *results = json_object_get(ann, "result");
	snprintf(prefix, sizeof(prefix), "[%zu].annotations[%zu].result", i, k);
	if (!json_is_array(results)) {
		mlf_problems_add(ctx->problems, rel, prefix, "%s", results ? "must be an array"
				 : "missing");
		corr_free(&c);
		return;
	}
	c.boxes = mlf_xcalloc(json_array_size(results) + 1, sizeof(*c.boxes));
	for (size_t r = 0; r < json_array_size(results); r++) {
		snprintf(prefix, sizeof(prefix), "[%zu].annotations[%zu].result[%zu]", i, k, r);
		int rc = read_result(ctx, rel, prefix, json_array_get(results, r), &c.boxes[c.nboxes],
				     &c.declared_width, &c.declared_height);
		if (rc < 0)
			bad = 1;
		else if (rc > 0)
			c.nboxes++;
	}
	if (bad) {
		corr_free(&c);
		return;
	}
	c.normalized = 1;
	c.corrected_by = who(json_object_get(ann, "completed_by"));
	c.corrected_at = mlf_xstrdup(json_string_value(json_object_get(ann, "updated_at")));
	c.source = mlf_xstrdup(rel);
	c.source_sha256 = mlf_xstrdup(sha);
	c.format = mlf_xstrdup("labelstudio");
	corr_push(ctx, &c);
}

void corr_read_labelstudio(struct corr_ctx *ctx, const char *rel, const json_t *doc,
			   const char *sha)
{
	for (size_t i = 0; i < json_array_size(doc); i++)
		read_task(ctx, rel, sha, i, json_array_get(doc, i));
}
