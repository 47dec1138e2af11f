/* YOLO labels: an image plus a "class cx cy w h" text file, beside it or under labels/. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "corrections_internal.h"
#include "mlf/base.h"

/* Past this many bad lines in one file (a segment export, say) the rest are only counted. */
#define MAX_LINE_PROBLEMS 10
#define MAX_FIELDS 8

enum { UNCLAIMED = -1, AMBIGUOUS = -2 };

static char *with_txt(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(path, '.');
	size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - path) : strlen(path);
	return mlf_xasprintf("%.*s.txt", (int)stem, path);
}

/* Ultralytics' rule: the last "/images/" of the path becomes "/labels/". */
static char *parallel_label(const char *rel)
{
	char *slashed = mlf_xasprintf("/%s", rel);
	char *last = NULL;
	for (char *p = strstr(slashed, "/images/"); p; p = strstr(p + 1, "/images/"))
		last = p;
	char *out = NULL;
	if (last) {
		char *swapped = mlf_xasprintf("%.*s/labels/%s", (int)(last - slashed), slashed,
					      last + strlen("/images/"));
		out = with_txt(swapped + 1);
		free(swapped);
	}
	free(slashed);
	return out;
}

static int parse_double(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno == ERANGE || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

/* One label line into `b`; a problem message into `why` otherwise. */
static int parse_line(struct corr_ctx *ctx, char *line, struct mlf_box *b, struct mlf_buf *why)
{
	char *tok[MAX_FIELDS], *save = NULL;
	size_t n = 0, total = 0;
	for (char *t = strtok_r(line, " \t\v\f", &save); t; t = strtok_r(NULL, " \t\v\f", &save)) {
		if (n < MAX_FIELDS)
			tok[n++] = t;
		total++;
	}
	if (total == 0)
		return 1;
	if (total != 5) {
		if (total > 5 && (total - 1) % 2 == 0)
			mlf_buf_addf(why, "a segment (polygon) with %zu points; only boxes "
				     "\"class cx cy w h\" are supported", (total - 1) / 2);
		else
			mlf_buf_addf(why, "expected 5 fields \"class cx cy w h\", found %zu", total);
		return -1;
	}
	char *end;
	errno = 0;
	long id = strtol(tok[0], &end, 10);
	size_t nclasses = ctx->classes ? ctx->classes->n : 0;
	if (end == tok[0] || *end || errno) {
		mlf_buf_addf(why, "class '%s' is not an integer", tok[0]);
		return -1;
	}
	if (id < 0 || (size_t)id >= nclasses) {
		mlf_buf_addf(why, "class id %ld is out of range (0..%zu for %zu classes)", id,
			     nclasses ? nclasses - 1 : 0, nclasses);
		return -1;
	}
	double v[4];
	static const char *const names[] = { "cx", "cy", "w", "h" };
	for (int k = 0; k < 4; k++)
		if (parse_double(tok[k + 1], &v[k])) {
			mlf_buf_addf(why, "%s '%s' is not a finite number", names[k], tok[k + 1]);
			return -1;
		}
	if (v[2] <= 0 || v[3] <= 0) {
		mlf_buf_addf(why, "degenerate or negative box: w %g and h %g must be positive", v[2],
			     v[3]);
		return -1;
	}
	b->class_id = (int)id;
	b->x1 = v[0] - v[2] / 2;
	b->y1 = v[1] - v[3] / 2;
	b->x2 = v[0] + v[2] / 2;
	b->y2 = v[1] + v[3] / 2;
	return 0;
}

static void read_label(struct corr_ctx *ctx, const char *label_rel, const char *image_rel)
{
	char *path = mlf_path_join(ctx->root, label_rel);
	char *text = NULL;
	size_t len = 0;
	struct mlf_error err = MLF_ERROR_INIT;
	char sha[65];
	struct mlf_correction c = { .source_index = -1 };
	size_t cap = 0, nbad = 0;

	if (corr_too_big(ctx, path, label_rel))
		goto out;
	if (mlf_read_file(path, &text, &len, &err) || mlf_sha256_file(path, sha, NULL, &err)) {
		mlf_problems_add(ctx->problems, label_rel, NULL, "%s", err.msg);
		goto out;
	}
	if (!mlf_is_utf8(text, len)) {
		mlf_problems_add(ctx->problems, label_rel, NULL, "not a text file (not valid UTF-8)");
		goto out;
	}
	char *save = NULL;
	long lineno = 0;
	/* strtok_r would merge empty lines and lose the numbering; split by hand. */
	for (char *line = text; line; line = save) {
		char *nl = strchr(line, '\n');
		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		lineno++;
		size_t ll = strlen(line);
		if (ll && line[ll - 1] == '\r')
			line[ll - 1] = '\0';
		struct mlf_box b;
		struct mlf_buf why = MLF_BUF_INIT;
		int rc = parse_line(ctx, line, &b, &why);
		if (rc < 0) {
			if (nbad++ < MAX_LINE_PROBLEMS) {
				char field[32];
				snprintf(field, sizeof(field), "line %ld", lineno);
				mlf_problems_add(ctx->problems, label_rel, field, "%s", why.data);
			}
		} else if (rc == 0) {
			if (c.nboxes == cap) {
				cap = cap ? cap * 2 : 16;
				c.boxes = mlf_xrealloc(c.boxes, cap * sizeof(*c.boxes));
			}
			c.boxes[c.nboxes++] = b;
		}
		mlf_buf_release(&why);
	}
	if (nbad > MAX_LINE_PROBLEMS)
		mlf_problems_add(ctx->problems, label_rel, NULL, "and %zu more bad lines",
				 nbad - MAX_LINE_PROBLEMS);
	if (nbad)
		goto out;
	c.source = mlf_xstrdup(label_rel);
	c.source_sha256 = mlf_xstrdup(sha);
	c.format = mlf_xstrdup("yolo");
	c.image = mlf_path_join(ctx->root_abs, image_rel);
	c.normalized = 1;
	if (!c.boxes)
		c.boxes = mlf_xcalloc(1, sizeof(*c.boxes));
	corr_push(ctx, &c);
out:
	corr_free(&c);
	free(text);
	free(path);
}

static int has_txt(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && !strcmp(name + n - 4, ".txt");
}

void corr_read_yolo(struct corr_ctx *ctx)
{
	long *claim = mlf_xcalloc(ctx->nfiles ? ctx->nfiles : 1, sizeof(*claim));
	for (size_t i = 0; i < ctx->nfiles; i++)
		claim[i] = UNCLAIMED;
	for (size_t i = 0; i < ctx->nfiles; i++) {
		const char *img = ctx->files[i];
		if (!corr_is_image_name(img))
			continue;
		char *beside = with_txt(img), *parallel = parallel_label(img);
		long b = corr_find_file(ctx, beside), p = parallel ? corr_find_file(ctx, parallel) : -1;
		long label = b >= 0 ? b : p;
		if (b >= 0 && p >= 0 && b != p) {
			mlf_problems_add(ctx->problems, img, NULL, "two label files, '%s' and '%s'; keep "
					 "one", beside, parallel);
			claim[b] = claim[p] = AMBIGUOUS;
		} else if (label >= 0 && claim[label] == UNCLAIMED) {
			claim[label] = (long)i;
		} else if (label >= 0 && claim[label] >= 0) {
			mlf_problems_add(ctx->problems, ctx->files[label], NULL, "labels two images, '%s' "
					 "and '%s'; rename one", ctx->files[claim[label]], img);
			claim[label] = AMBIGUOUS;
		}
		free(beside);
		free(parallel);
	}
	for (size_t i = 0; i < ctx->nfiles; i++) {
		const char *rel = ctx->files[i];
		const char *slash = strrchr(rel, '/');
		if (!has_txt(rel))
			continue;
		if (claim[i] >= 0)
			read_label(ctx, rel, ctx->files[claim[i]]);
		/* classes.txt comes with YOLO exports (Label Studio, CVAT); it is not a label. */
		else if (claim[i] == UNCLAIMED && strcmp(slash ? slash + 1 : rel, "classes.txt"))
			mlf_problems_add(ctx->problems, rel, NULL, "label without image (no .jpg, .jpeg "
					 "or .png of the same name beside it or in the parallel "
					 "images/ folder)");
	}
	free(claim);
}
