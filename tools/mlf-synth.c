/*
 * mlf-synth: deterministic synthetic object-detection data, so tests and the
 * demo need no downloads.  A developer tool; not installed.  Options: --help.
 *
 *   mlf-synth base DIR [options]
 *       An Ultralytics dataset: DIR/data.yaml, DIR/images/{train,val}/,
 *       DIR/labels/{train,val}/ ("class cx cy w h", normalised).
 *
 *   mlf-synth corrections DIR [options]
 *       N corrected images corr_<K..K+N-1>, as native mlf.correction JSON, YOLO
 *       .txt, a COCO export (DIR/coco_K/) or a Label Studio export (DIR/ls_K/);
 *       "mixed" deals them round-robin over the four.
 *
 * Images are coloured shapes (class i is drawn as circle, square, triangle
 * for i mod 3) on flat, gradient or noisy backgrounds, 1-4 per image, fully
 * inside it; even-numbered images are JPEG, odd ones PNG.  --truth writes
 * every image's path, size and true pixel boxes as JSON.
 *
 * Everything comes from one splitmix64 stream per image, derived from the
 * seed, the command and the image number, so a seed always gives the same
 * bytes.  Box corners lie on a grid of 1/50000 of the image side: every
 * format's numbers (pixels, percent, normalised with 6 decimals) are then
 * exact decimals, and converting between them loses nothing.
 */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mlf/base.h"
#include "mlf/cli.h"
#include "mlf/data.h"

#define GRID 50000L          /* box corners are multiples of side/GRID */
#define MAX_OBJECTS 4
#define JSON_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(12))

enum fmt { F_MLF, F_YOLO, F_COCO, F_LS, F_MIXED, F_BASE };
static const char *const fmt_names[] = { "mlf", "yolo", "coco", "labelstudio", "mixed", "base" };

struct opts {
	const char *dir;
	long count, start, images;
	int w, h;
	double val_fraction;
	uint64_t seed;
	enum fmt format;
	char **classes;
	int nclasses;
	const char *truth;
};

/* ---- randomness --------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t stream_for(uint64_t seed, int kind, long index)
{
	uint64_t s = seed ^ ((uint64_t)kind << 56);
	uint64_t a = splitmix64(&s);
	s = a ^ (uint64_t)index;
	return splitmix64(&s);
}

static long rnd_range(uint64_t *s, long lo, long hi)  /* inclusive */
{
	return lo + (long)(splitmix64(s) % (uint64_t)(hi - lo + 1));
}

static double rnd_unit(uint64_t *s)
{
	return (double)(splitmix64(s) >> 11) / 9007199254740992.0;
}

/* ---- images ------------------------------------------------------------- */

struct box {
	int cls;
	long gx1, gy1, gx2, gy2;   /* grid units */
};

struct image {
	int w, h;
	unsigned char *px;
	struct box boxes[MAX_OBJECTS];
	int n;
};

static double px_of(long g, int side)
{
	return (double)g * side / GRID;
}

static void color(uint64_t *s, unsigned char c[3])
{
	for (int i = 0; i < 3; i++)
		c[i] = (unsigned char)rnd_range(s, 0, 255);
}

static void background(uint64_t *s, struct image *im)
{
	unsigned char a[3], b[3];
	int kind = (int)rnd_range(s, 0, 2), dir = (int)rnd_range(s, 0, 2);
	color(s, a);
	color(s, b);
	for (int y = 0; y < im->h; y++)
		for (int x = 0; x < im->w; x++) {
			unsigned char *p = im->px + ((size_t)y * im->w + x) * 3;
			double t = dir == 0 ? (double)x / im->w : dir == 1 ? (double)y / im->h
				 : (double)(x + y) / (im->w + im->h);
			for (int c = 0; c < 3; c++) {
				double v = a[c];
				if (kind == 1)
					v = a[c] + (b[c] - a[c]) * t;
				else if (kind == 2)
					v = a[c] * 0.6 + 50 + (double)rnd_range(s, -40, 40);
				p[c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
			}
		}
}

/* Is the point inside the shape of class `cls` drawn in the box? */
static int inside(int shape, double x, double y, double x1, double y1, double x2, double y2)
{
	if (x < x1 || x > x2 || y < y1 || y > y2)
		return 0;
	double cx = (x1 + x2) / 2, cy = (y1 + y2) / 2;
	if (shape == 0) {
		double dx = (x - cx) / ((x2 - x1) / 2), dy = (y - cy) / ((y2 - y1) / 2);
		return dx * dx + dy * dy <= 1.0;
	}
	if (shape == 2)  /* apex at the top middle, base along the bottom */
		return fabs(x - cx) <= (y - y1) / (y2 - y1) * (x2 - x1) / 2;
	return 1;
}

static void draw(uint64_t *s, struct image *im, const struct box *b)
{
	double x1 = px_of(b->gx1, im->w), x2 = px_of(b->gx2, im->w);
	double y1 = px_of(b->gy1, im->h), y2 = px_of(b->gy2, im->h);
	int shape = b->cls % 3;
	unsigned char c[3];
	/* a colour far from the background at the box centre, so the shape shows */
	const unsigned char *bg = im->px + ((size_t)((y1 + y2) / 2) * im->w + (size_t)((x1 + x2) / 2)) * 3;
	for (int tries = 0; tries < 16; tries++) {
		color(s, c);
		if (abs(c[0] - bg[0]) + abs(c[1] - bg[1]) + abs(c[2] - bg[2]) > 200)
			break;
	}
	for (int y = (int)floor(y1); y < (int)ceil(y2) && y < im->h; y++)
		for (int x = (int)floor(x1); x < (int)ceil(x2) && x < im->w; x++) {
			int cover = 0;  /* 4x4 supersampling for smooth edges */
			for (int sy = 0; sy < 4; sy++)
				for (int sx = 0; sx < 4; sx++)
					cover += inside(shape, x + (sx + 0.5) / 4, y + (sy + 0.5) / 4,
							x1, y1, x2, y2);
			unsigned char *p = im->px + ((size_t)y * im->w + x) * 3;
			for (int k = 0; k < 3; k++)
				p[k] = (unsigned char)((p[k] * (16 - cover) + c[k] * cover + 8) / 16);
		}
}

static int overlaps(const struct box *a, const struct box *b)
{
	return a->gx1 < b->gx2 && b->gx1 < a->gx2 && a->gy1 < b->gy2 && b->gy1 < a->gy2;
}

static void make_image(uint64_t seed, int kind, long index, const struct opts *o, struct image *im)
{
	uint64_t s = stream_for(seed, kind, index);
	im->w = o->w;
	im->h = o->h;
	im->n = 0;
	im->px = mlf_xmalloc((size_t)o->w * o->h * 3);
	background(&s, im);
	int want = (int)rnd_range(&s, 1, MAX_OBJECTS);
	int minside = o->w < o->h ? o->w : o->h;
	for (int tries = 0; im->n < want && tries < 50; tries++) {
		struct box b;
		b.cls = (int)rnd_range(&s, 0, o->nclasses - 1);
		/* side 12-40% of the shorter side (at least 6 px), aspect 0.7-1.4 */
		double side = minside * (0.12 + 0.28 * rnd_unit(&s));
		if (side < 6)
			side = 6;
		double aspect = 0.7 + 0.7 * rnd_unit(&s);
		long gw = (long)(side * sqrt(aspect) / o->w * GRID);
		long gh = (long)(side / sqrt(aspect) / o->h * GRID);
		if (gw >= GRID)
			gw = GRID - 1;
		if (gh >= GRID)
			gh = GRID - 1;
		b.gx1 = rnd_range(&s, 0, GRID - gw);
		b.gy1 = rnd_range(&s, 0, GRID - gh);
		b.gx2 = b.gx1 + gw;
		b.gy2 = b.gy1 + gh;
		int clash = 0;
		for (int i = 0; i < im->n; i++)
			clash |= overlaps(&b, &im->boxes[i]);
		if (clash)
			continue;
		draw(&s, im, &b);
		im->boxes[im->n++] = b;
	}
}

/* JPEG and PNG alternate, shifted every 4 so "mixed" gives each format both. */
static int is_png(long index)
{
	return (index + index / 4) % 2;
}

static const char *ext_of(long index)
{
	return is_png(index) ? "png" : "jpg";
}

static int save_image(const char *path, long index, const struct image *im, struct mlf_error *err)
{
	if (is_png(index))
		return mlf_image_save_png(path, im->px, im->w, im->h, err);
	return mlf_image_save_jpeg(path, im->px, im->w, im->h, 92, err);
}

/* ---- text of each format ------------------------------------------------ */

static void yolo_lines(struct mlf_buf *b, const struct image *im)
{
	for (int i = 0; i < im->n; i++) {
		const struct box *x = &im->boxes[i];
		mlf_buf_addf(b, "%d %.6f %.6f %.6f %.6f\n", x->cls,
			     (double)(x->gx1 + x->gx2) / (2 * GRID), (double)(x->gy1 + x->gy2) / (2 * GRID),
			     (double)(x->gx2 - x->gx1) / GRID, (double)(x->gy2 - x->gy1) / GRID);
	}
}

static json_t *xyxy(const struct box *b, int w, int h)
{
	return json_pack("[ffff]", px_of(b->gx1, w), px_of(b->gy1, h), px_of(b->gx2, w),
			 px_of(b->gy2, h));
}

static json_t *true_boxes(const struct image *im, const struct opts *o)
{
	json_t *a = json_array();
	for (int i = 0; i < im->n; i++)
		json_array_append_new(a, json_pack("{s:s, s:o}", "class", o->classes[im->boxes[i].cls],
						   "xyxy", xyxy(&im->boxes[i], im->w, im->h)));
	return a;
}

/* What a detector might have said: jittered boxes, a wrong class now and then, a miss. */
static json_t *prediction(uint64_t seed, long index, const struct image *im, const struct opts *o)
{
	uint64_t s = stream_for(seed, 9, index);
	json_t *a = json_array();
	for (int i = 0; i < im->n; i++) {
		if (rnd_range(&s, 0, 5) == 0)
			continue;
		const struct box *b = &im->boxes[i];
		int cls = rnd_range(&s, 0, 3) == 0 ? (int)rnd_range(&s, 0, o->nclasses - 1) : b->cls;
		double v[4] = { px_of(b->gx1, im->w), px_of(b->gy1, im->h), px_of(b->gx2, im->w),
				px_of(b->gy2, im->h) };
		for (int k = 0; k < 4; k++) {
			v[k] = round((v[k] + (rnd_unit(&s) - 0.5) * 6) * 100) / 100;
			double lim = k % 2 ? im->h : im->w;
			v[k] = v[k] < 0 ? 0 : v[k] > lim ? lim : v[k];
		}
		json_array_append_new(a, json_pack("{s:s, s:[ffff], s:f}", "class", o->classes[cls],
						   "xyxy", v[0], v[1], v[2], v[3], "confidence",
						   round((0.3 + 0.65 * rnd_unit(&s)) * 100) / 100));
	}
	return json_pack("{s:o}", "boxes", a);
}

static void timestamp(long index, char out[32])
{
	time_t t = 1795166100 + index * 60;   /* 2026-11-20T09:15:00Z + index minutes */
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_json(const char *path, json_t *doc, struct mlf_error *err)
{
	char *text = json_dumps(doc, JSON_FLAGS);
	if (!text)
		return mlf_fail(err, MLF_EX_SOFTWARE, "cannot serialise '%s'", path);
	struct mlf_buf b = MLF_BUF_INIT;
	mlf_buf_adds(&b, text);
	mlf_buf_addc(&b, '\n');
	free(text);
	int rc = mlf_write_file_atomic(path, b.data, b.len, err);
	mlf_buf_release(&b);
	return rc;
}

static void truth_add(json_t *truth, const char *path, const char *fmt, const char *split,
		      const struct image *im, const struct opts *o)
{
	if (!truth)
		return;
	char *abs = mlf_path_absolute(NULL, path);
	json_t *e = json_pack("{s:s, s:s, s:i, s:i, s:o}", "path", abs, "format", fmt, "width", im->w,
			      "height", im->h, "boxes", true_boxes(im, o));
	if (split)
		json_object_set_new(e, "split", json_string(split));
	json_array_append_new(json_object_get(truth, "images"), e);
	free(abs);
}

/* A YAML scalar: plain when that is unambiguous, else double-quoted. */
static void yaml_scalar(struct mlf_buf *b, const char *s)
{
	static const char *const special[] = { "y", "n", "yes", "no", "true", "false", "on",
					       "off", "null", "~", NULL };
	int plain = *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./")
		== strlen(s) && !strchr("-.0123456789", s[0]);
	for (int i = 0; plain && special[i]; i++)
		plain = strcasecmp(s, special[i]) != 0;
	if (plain) {
		mlf_buf_adds(b, s);
		return;
	}
	mlf_buf_addc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			mlf_buf_addc(b, '\\');
		mlf_buf_addc(b, *s);
	}
	mlf_buf_addc(b, '"');
}

/* ---- commands ----------------------------------------------------------- */

static int cmd_base(const struct opts *o, json_t *truth, struct mlf_error *err)
{
	static const char *const sub[] = { "images/train", "images/val", "labels/train", "labels/val" };
	for (int i = 0; i < 4; i++) {
		char *d = mlf_path_join(o->dir, sub[i]);
		int rc = mlf_mkdir_p(d, 0755, err);
		free(d);
		if (rc)
			return -1;
	}
	long nval = 0;
	for (long i = 0; i < o->images; i++) {
		/* spread the validation images evenly: exactly floor(N * fraction) of them */
		int val = (long)floor((i + 1) * o->val_fraction) > (long)floor(i * o->val_fraction);
		const char *split = val ? "val" : "train";
		struct image im;
		make_image(o->seed, 1, i, o, &im);
		char *img = mlf_xasprintf("%s/images/%s/img_%06ld.%s", o->dir, split, i, ext_of(i));
		char *lab = mlf_xasprintf("%s/labels/%s/img_%06ld.txt", o->dir, split, i);
		struct mlf_buf b = MLF_BUF_INIT;
		yolo_lines(&b, &im);
		int rc = save_image(img, i, &im, err);
		if (!rc)
			rc = mlf_write_file_atomic(lab, b.data, b.len, err);
		truth_add(truth, img, "base", split, &im, o);
		mlf_buf_release(&b);
		free(im.px);
		free(img);
		free(lab);
		if (rc)
			return -1;
		nval += val;
	}
	char *abs = mlf_path_absolute(NULL, o->dir);
	struct mlf_buf y = MLF_BUF_INIT;
	mlf_buf_addf(&y, "# Synthetic detection data made by mlf-synth (seed %llu).\npath: ",
		     (unsigned long long)o->seed);
	yaml_scalar(&y, abs);
	mlf_buf_addf(&y, "\ntrain: images/train\nval: images/val\nnc: %d\nnames:\n", o->nclasses);
	for (int c = 0; c < o->nclasses; c++) {
		mlf_buf_addf(&y, "  %d: ", c);
		yaml_scalar(&y, o->classes[c]);
		mlf_buf_addc(&y, '\n');
	}
	char *yaml = mlf_path_join(o->dir, "data.yaml");
	int rc = mlf_write_file_atomic(yaml, y.data, y.len, err);
	free(yaml);
	free(abs);
	mlf_buf_release(&y);
	if (!rc)
		fprintf(stderr, "mlf-synth: wrote %ld images (%ld train, %ld val, %d classes) to %s\n",
			o->images, o->images - nval, nval, o->nclasses, o->dir);
	return rc;
}

struct export {
	char *dir;
	json_t *doc;    /* COCO object or Label Studio task array */
	long n;
};

static int export_dir(struct export *x, const char *dir, const char *sub, struct mlf_error *err)
{
	if (x->dir)
		return 0;
	x->dir = mlf_path_join(dir, sub);
	return mlf_mkdir_p(x->dir, 0755, err);
}

static int one_correction(const struct opts *o, enum fmt f, long k, struct export *coco,
			  struct export *ls, json_t *truth, struct mlf_error *err)
{
	struct image im;
	char name[64], stem[64], when[32], *img = NULL;
	int rc = 0;
	snprintf(stem, sizeof(stem), "corr_%06ld", k);
	snprintf(name, sizeof(name), "corr_%06ld.%s", k, ext_of(k));
	timestamp(k, when);
	make_image(o->seed, 2, k, o, &im);

	if (f == F_MLF || f == F_YOLO) {
		img = mlf_path_join(o->dir, name);
		char *side = mlf_xasprintf("%s/%s.%s", o->dir, stem, f == F_MLF ? "json" : "txt");
		rc = save_image(img, k, &im, err);
		if (!rc && f == F_YOLO) {
			struct mlf_buf b = MLF_BUF_INIT;
			yolo_lines(&b, &im);
			rc = mlf_write_file_atomic(side, b.data, b.len, err);
			mlf_buf_release(&b);
		} else if (!rc) {
			json_t *doc = json_pack("{s:s, s:i, s:s, s:i, s:i, s:o, s:s, s:s, s:o}",
						"format", "mlf.correction", "version", 1, "image", name,
						"width", im.w, "height", im.h, "boxes", true_boxes(&im, o),
						"corrected_by", "synth", "corrected_at", when,
						"prediction", prediction(o->seed, k, &im, o));
			rc = write_json(side, doc, err);
			json_decref(doc);
		}
		free(side);
	} else if (f == F_COCO) {
		char sub[32];
		snprintf(sub, sizeof(sub), "coco_%ld", o->start);
		if (!(rc = export_dir(coco, o->dir, sub, err))) {
			char *imgdir = mlf_path_join(coco->dir, "images");
			rc = mlf_mkdir_p(imgdir, 0755, err);
			img = mlf_path_join(imgdir, name);
			free(imgdir);
		}
		if (!rc)
			rc = save_image(img, k, &im, err);
		if (!rc) {
			long id = ++coco->n;
			char *fn = mlf_xasprintf("images/%s", name);
			json_array_append_new(json_object_get(coco->doc, "images"),
					      json_pack("{s:I, s:s, s:i, s:i}", "id", (json_int_t)id,
							"file_name", fn, "width", im.w, "height", im.h));
			free(fn);
			json_t *anns = json_object_get(coco->doc, "annotations");
			for (int i = 0; i < im.n; i++) {
				const struct box *b = &im.boxes[i];
				double x = px_of(b->gx1, im.w), y = px_of(b->gy1, im.h);
				double w = px_of(b->gx2 - b->gx1, im.w), h = px_of(b->gy2 - b->gy1, im.h);
				json_array_append_new(anns, json_pack(
					"{s:I, s:I, s:i, s:[ffff], s:f, s:i}", "id",
					(json_int_t)json_array_size(anns) + 1, "image_id", (json_int_t)id,
					"category_id", b->cls + 1, "bbox", x, y, w, h, "area",
					round(w * h * 100) / 100, "iscrowd", 0));
			}
		}
	} else {
		char sub[32];
		snprintf(sub, sizeof(sub), "ls_%ld", o->start);
		if (!(rc = export_dir(ls, o->dir, sub, err))) {
			img = mlf_path_join(ls->dir, name);
			rc = save_image(img, k, &im, err);
		}
		if (!rc) {
			json_t *result = json_array();
			for (int i = 0; i < im.n; i++) {
				const struct box *b = &im.boxes[i];
				char rid[32];
				snprintf(rid, sizeof(rid), "r%ld_%d", k, i);
				json_array_append_new(result, json_pack(
					"{s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:{s:f, s:f, s:f, s:f, s:i, s:[s]}}",
					"id", rid, "type", "rectanglelabels", "from_name", "label",
					"to_name", "image", "original_width", im.w, "original_height", im.h,
					"origin", "manual", "value", "x", (double)b->gx1 * 100 / GRID,
					"y", (double)b->gy1 * 100 / GRID,
					"width", (double)(b->gx2 - b->gx1) * 100 / GRID,
					"height", (double)(b->gy2 - b->gy1) * 100 / GRID, "rotation", 0,
					"rectanglelabels", o->classes[b->cls]));
			}
			long id = ++ls->n;
			char *up = mlf_xasprintf("/data/upload/1/%s", name);
			json_array_append_new(ls->doc, json_pack(
				"{s:I, s:{s:s}, s:[{s:I, s:i, s:s, s:b, s:o}]}", "id", (json_int_t)id,
				"data", "image", up, "annotations", "id", (json_int_t)id, "completed_by", 1,
				"updated_at", when, "was_cancelled", 0, "result", result));
			free(up);
		}
	}
	if (!rc)
		truth_add(truth, img, fmt_names[f], NULL, &im, o);
	free(img);
	free(im.px);
	return rc;
}

static int cmd_corrections(const struct opts *o, json_t *truth, struct mlf_error *err)
{
	struct export coco = { NULL, NULL, 0 }, ls = { NULL, NULL, 0 };
	long per[4] = { 0, 0, 0, 0 };
	int rc = mlf_mkdir_p(o->dir, 0755, err);
	coco.doc = json_pack("{s:[], s:[], s:[]}", "images", "annotations", "categories");
	for (int c = 0; c < o->nclasses; c++)
		json_array_append_new(json_object_get(coco.doc, "categories"),
				      json_pack("{s:i, s:s}", "id", c + 1, "name", o->classes[c]));
	ls.doc = json_array();
	for (long i = 0; !rc && i < o->count; i++) {
		enum fmt f = o->format == F_MIXED ? (enum fmt)(i % 4) : o->format;
		rc = one_correction(o, f, o->start + i, &coco, &ls, truth, err);
		per[f]++;
	}
	if (!rc && coco.dir) {
		char *p = mlf_path_join(coco.dir, "annotations.json");
		rc = write_json(p, coco.doc, err);
		free(p);
	}
	if (!rc && ls.dir) {
		char *p = mlf_path_join(ls.dir, "export.json");
		rc = write_json(p, ls.doc, err);
		free(p);
	}
	if (!rc)
		fprintf(stderr, "mlf-synth: wrote %ld corrections to %s (mlf %ld, yolo %ld, coco %ld, "
			"labelstudio %ld)\n", o->count, o->dir, per[0], per[1], per[2], per[3]);
	json_decref(coco.doc);
	json_decref(ls.doc);
	free(coco.dir);
	free(ls.dir);
	return rc;
}

/* ---- options ------------------------------------------------------------ */

/* The ids of one command's options come first: base's, then corrections', then both's. */
enum { OPT_IMAGES = MLF_OPT_LONG, OPT_VAL_FRACTION,
       OPT_COUNT, OPT_FORMAT, OPT_START,
       OPT_SIZE, OPT_SEED, OPT_CLASSES, OPT_TRUTH };

static const struct mlf_option options[] = {
	{ OPT_IMAGES, "images", "N", NULL, "base: images, 1 to 10000000 (default: 40)", NULL, 0 },
	{ OPT_VAL_FRACTION, "val-fraction", "F", NULL,
	  "base: share of them in val, 0 <= F < 1 (default: 0.25)", NULL, 0 },
	{ OPT_COUNT, "count", "N", NULL, "corrections: how many, 0 to 10000000 (default: 10)", NULL, 0 },
	{ OPT_FORMAT, "format", "FMT", NULL,
	  "corrections: mlf, yolo, coco, labelstudio or mixed (default: mlf)", NULL, 0 },
	{ OPT_START, "start", "K", NULL,
	  "corrections: number of the first, 0 to 99999999 (default: 0)", NULL, 0 },
	{ OPT_SIZE, "size", "WxH", NULL, "image size, sides 16 to 8192 (default: 160x120)", NULL, 0 },
	{ OPT_SEED, "seed", "S", NULL, "the seed: same seed, same bytes (default: 1)", NULL, 0 },
	{ OPT_CLASSES, "classes", "a,b,c", NULL,
	  "class names, distinct (default: circle,square,triangle)", NULL, 0 },
	{ OPT_TRUTH, "truth", "FILE", NULL,
	  "also write every image's path, size and true pixel boxes as JSON", NULL, 0 },
	MLF_OPT_HELP,
	MLF_OPT_VERSION,
	MLF_OPT_END,
};

static const struct mlf_exit_doc exits[] = {
	{ 0, "done" },
	MLF_EXIT_USAGE,
	MLF_EXIT_SOFTWARE,
	{ 73, "the output cannot be created" },
	{ 74, "I/O error" },
	MLF_EXIT_END,
};

static const struct mlf_program program = {
	.name = "mlf-synth",
	.synopsis = "base DIR [options]\ncorrections DIR [options]",
	.about = "Deterministic synthetic detection data for tests (same seed, same bytes). base "
		 "writes an Ultralytics dataset in DIR (data.yaml, images/ and labels/); "
		 "corrections writes corrected images corr_K... in DIR, as mlf.correction JSON, "
		 "YOLO .txt, a COCO export (DIR/coco_K/) or a Label Studio export (DIR/ls_K/). "
		 "Options marked base: or corrections: belong to that command only.",
	.max_operands = 1,
	.options = options,
	.exits = exits,
};

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_classes(const char *list, struct opts *o)
{
	char *copy = mlf_xstrdup(list), *save = NULL;
	o->nclasses = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		for (const char *p = t; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\') {
				free(copy);
				return -1;
			}
		for (int i = 0; i < o->nclasses; i++)
			if (!strcmp(o->classes[i], t)) {
				free(copy);
				return -1;
			}
		o->classes = mlf_xrealloc(o->classes, (size_t)(o->nclasses + 1) * sizeof(char *));
		o->classes[o->nclasses++] = mlf_xstrdup(t);
	}
	free(copy);
	return o->nclasses ? 0 : -1;
}

struct parse {
	struct opts *o;
	const char *cmd;   /* "base", "corrections", or NULL before a command */
	int base;
};

static int option(void *ctx, int id, const char *arg)
{
	struct parse *p = ctx;
	struct opts *o = p->o;
	long v;
	char *end;
	if (p->cmd && (p->base ? id >= OPT_COUNT && id <= OPT_START
			      : id >= OPT_IMAGES && id <= OPT_VAL_FRACTION)) {
		const struct mlf_option *opt = options;
		while (opt->id != id)
			opt++;
		return mlf_cli_usage_error("%s does not take --%s", p->cmd, opt->name);
	}
	switch (id) {
	case OPT_IMAGES:
		if (parse_long(arg, 1, 10000000, &o->images))
			return mlf_cli_usage_error("--images wants a count from 1, not '%s'", arg);
		return 0;
	case OPT_COUNT:
		if (parse_long(arg, 0, 10000000, &o->count))
			return mlf_cli_usage_error("--count wants a count, not '%s'", arg);
		return 0;
	case OPT_START:
		if (parse_long(arg, 0, 99999999, &o->start))
			return mlf_cli_usage_error("--start wants a number, not '%s'", arg);
		return 0;
	case OPT_SIZE:
		if (sscanf(arg, "%dx%d", &o->w, &o->h) != 2 || o->w < 16 || o->h < 16 ||
		    o->w > 8192 || o->h > 8192 || !strchr(arg, 'x'))
			return mlf_cli_usage_error("--size wants WxH with sides 16-8192, not '%s'", arg);
		return 0;
	case OPT_VAL_FRACTION:
		o->val_fraction = strtod(arg, &end);
		if (*end || !*arg || !(o->val_fraction >= 0 && o->val_fraction < 1))
			return mlf_cli_usage_error("--val-fraction wants 0 <= F < 1, not '%s'", arg);
		return 0;
	case OPT_SEED:
		if (parse_long(arg, 0, LONG_MAX, &v))
			return mlf_cli_usage_error("--seed wants a non-negative integer, not '%s'", arg);
		o->seed = (uint64_t)v;
		return 0;
	case OPT_CLASSES:
		if (parse_classes(arg, o))
			return mlf_cli_usage_error("--classes wants distinct comma-separated names "
						   "without quotes or control characters");
		return 0;
	case OPT_FORMAT:
		o->format = F_BASE;
		for (int i = F_MLF; i <= F_MIXED; i++)
			if (!strcmp(arg, fmt_names[i]))
				o->format = (enum fmt)i;
		if (o->format == F_BASE)
			return mlf_cli_usage_error("--format wants mlf, yolo, coco, labelstudio or "
						   "mixed, not '%s'", arg);
		return 0;
	case OPT_TRUTH:
		o->truth = arg;
		return 0;
	}
	return MLF_EX_SOFTWARE;
}

/*
 * The command, then its folder and options: -1 to go on, else the status to
 * exit with (0 after --help).  Only --help and --version come without a command.
 */
static int parse_args(int argc, char **argv, struct opts *o, int *base)
{
	struct mlf_cli cli;
	struct parse p = { o, NULL, 0 };
	int status;
	if (argc < 2)
		return mlf_cli_usage_error("missing command (base or corrections)");
	if (argv[1][0] == '-') {
		status = mlf_cli_parse(&program, argc, argv, &cli, option, &p);
		return status >= 0 ? status : mlf_cli_usage_error("missing command (base or corrections)");
	}
	p.cmd = argv[1];
	p.base = *base = !strcmp(p.cmd, "base");
	if (!p.base && strcmp(p.cmd, "corrections"))
		return mlf_cli_usage_error("unknown command '%s' (base or corrections)", p.cmd);
	/* argv + 1: the command stands where getopt expects the program's name */
	status = mlf_cli_parse(&program, argc - 1, argv + 1, &cli, option, &p);
	if (status >= 0)
		return status;
	if (cli.nargs != 1)
		return mlf_cli_usage_error("%s wants exactly one folder", p.cmd);
	o->dir = cli.args[0];
	return -1;
}

int main(int argc, char **argv)
{
	mlf_cli_init(program.name);
	struct opts o = { .count = 10, .images = 40, .w = 160, .h = 120, .val_fraction = 0.25,
			  .seed = 1, .format = F_MLF };
	int base = 0, rc = parse_args(argc, argv, &o, &base);
	if (rc < 0 && !o.nclasses)
		parse_classes("circle,square,triangle", &o);
	if (rc < 0) {
		struct mlf_error err = MLF_ERROR_INIT;
		json_t *truth = o.truth ? json_pack("{s:I, s:[]}", "seed", (json_int_t)o.seed, "images")
					: NULL;
		rc = base ? cmd_base(&o, truth, &err) : cmd_corrections(&o, truth, &err);
		if (!rc && truth)
			rc = write_json(o.truth, truth, &err);
		json_decref(truth);
		rc = rc ? mlf_cli_report(&err) : mlf_cli_exit(0);
	}
	for (int i = 0; i < o.nclasses; i++)
		free(o.classes[i]);
	free(o.classes);
	return rc;
}
