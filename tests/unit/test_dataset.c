/*
 * The data pipeline (lib/data_*.c): labels, scanning, loading, the
 * augmentation pieces and the batch loader.
 *
 * Against Ultralytics 8.4.190 and opencv-python 5.0.0, through fixtures
 * that scripts/make-data-fixtures records with their own code
 * (tests/fixtures/data/): label checks (verify_image_label), rectangular
 * validation batch shapes (set_rectangle), whole validation samples
 * (pixels, boxes, ratio_pad), cv2.warpAffine, cv2's HSV conversions and
 * RandomHSV.  The images those fixtures describe are regenerated here from
 * the same splitmix64 bytes.
 *
 * On a dataset drawn here (rectangles of a colour unique to each object on
 * a grey background): mosaic geometry and boxes against the pixels,
 * determinism over thread counts and seeds, flips, close_mosaic, and a
 * corrupt image reported by name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlf/data.h"
#include "mlf/base.h"
#include "mlf/yolo.h"

#define FIX SOURCE_DIR "/tests/fixtures/data/"

static char tmp[] = "/tmp/mlf-test-dataset.XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return mlf_remove_tree(tmp, NULL);
}

/* ---- helpers ------------------------------------------------------------ */

/* scripts/make-data-fixtures noise(): splitmix64 of (seed << 32) + i, top byte. */
static unsigned char *noise(int w, int h, uint64_t seed)
{
	size_t n = (size_t)w * h * 3;
	unsigned char *p = malloc(n);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		uint64_t x = (seed << 32) + i + 0x9E3779B97F4A7C15u;
		x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
		x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
		x ^= x >> 31;
		p[i] = (unsigned char)(x >> 56);
	}
	return p;
}

static void sha256_hex(const void *p, size_t n, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	assert_int_equal(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL), 1);
	mlf_hex_encode(md, len, hex);
}

static json_t *load_fixture(const char *name)
{
	json_error_t je;
	char *path = mlf_xasprintf("%s%s", FIX, name);
	json_t *j = json_load_file(path, 0, &je);
	if (!j)
		fail_msg("%s: %s", path, je.text);
	free(path);
	return j;
}

static char *tmp_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *tmp_path(const char *fmt, ...)
{
	struct mlf_buf b = MLF_BUF_INIT;
	va_list ap;
	mlf_buf_adds(&b, tmp);
	mlf_buf_addc(&b, '/');
	va_start(ap, fmt);
	mlf_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return mlf_buf_detach(&b);
}

static void write_text(const char *path, const char *text)
{
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_write_file_atomic(path, text, strlen(text), &err))
		fail_msg("%s", err.msg);
}

static void save_png(const char *path, const unsigned char *rgb, int w, int h)
{
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_image_save_png(path, rgb, w, h, &err))
		fail_msg("%s", err.msg);
}

static void list_release(struct mlf_image_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
	l->paths = NULL;
	l->n = 0;
}

static void list_add(struct mlf_image_list *l, char *moved)
{
	l->paths = mlf_xrealloc(l->paths, (l->n + 1) * sizeof(*l->paths));
	l->paths[l->n++] = moved;
}

static double jnum(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_number(v))
		fail_msg("fixture: %s missing", k);
	return json_number_value(v);
}

/* ---- labels ---------------------------------------------------------------- */

static void test_labels_fixture(void **state)
{
	(void)state;
	json_t *root = load_fixture("labels.json");
	json_t *cases = json_object_get(root, "cases"), *c;
	size_t i;
	assert_true(json_array_size(cases) >= 20);
	json_array_foreach(cases, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *text = json_string_value(json_object_get(c, "text"));
		int nc = (int)jnum(c, "nc");
		struct mlf_object *o = NULL;
		size_t n = 0, dups = 0;
		char why[256] = "";
		int rc = mlf_labels_parse(text, strlen(text), nc, 0, &o, &n, &dups, why, sizeof(why));
		int want_ok = json_is_true(json_object_get(c, "ok"));
		if ((rc == 0) != want_ok)
			fail_msg("labels case %s: Ultralytics says %s, we say %s (%s)", name,
				 want_ok ? "ok" : "corrupt", rc ? "corrupt" : "ok", why);
		json_t *rows = json_object_get(c, "rows");
		assert_int_equal(n, json_array_size(rows));
		for (size_t r = 0; r < n; r++) {
			json_t *row = json_array_get(rows, r);
			float want[5], got[5] = { (float)o[r].cls, o[r].cx, o[r].cy, o[r].w, o[r].h };
			for (int k = 0; k < 5; k++) {
				want[k] = (float)json_number_value(json_array_get(row, (size_t)k));
				if (want[k] != got[k])
					fail_msg("labels case %s row %zu value %d: %.9g, Ultralytics %.9g", name, r, k,
						 got[k], want[k]);
			}
		}
		if (!strcmp(name, "duplicates"))
			assert_int_equal(dups, 1);
		free(o);
	}
	json_decref(root);
}

static void test_labels_single_cls(void **state)
{
	(void)state;
	const char *t = "5 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.2 0.2\n";
	struct mlf_object *o = NULL;
	size_t n = 0, d = 0;
	char why[128];
	/* single_cls skips the class range check, keeps both rows (they differ before zeroing), zeroes classes */
	assert_int_equal(mlf_labels_parse(t, strlen(t), 2, 1, &o, &n, &d, why, sizeof(why)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(d, 0);
	assert_int_equal(o[0].cls, 0);
	assert_int_equal(o[1].cls, 0);
	free(o);
	assert_int_equal(mlf_labels_parse(t, strlen(t), 2, 0, &o, &n, &d, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "exceeds dataset class count"));
	const char *hex = "0 0x1p-1 0.5 0.2 0.2\n";
	assert_int_equal(mlf_labels_parse(hex, strlen(hex), 2, 0, &o, &n, &d, why, sizeof(why)), -1);
}

/* ---- scanning --------------------------------------------------------------- */

static void test_scan(void **state)
{
	(void)state;
	char *dir = tmp_path("scan/images/train");
	char *ldir = tmp_path("scan/labels/train");
	assert_int_equal(mlf_mkdir_p(dir, 0755, NULL), 0);
	assert_int_equal(mlf_mkdir_p(ldir, 0755, NULL), 0);
	unsigned char *px = noise(40, 30, 1);
	struct mlf_image_list list = { NULL, 0 };
	const char *names[] = { "a.png", "b.png", "c.png", "d.png", "e.png", "f.jpg", "g.png" };
	for (int i = 0; i < 7; i++) {
		char *p = tmp_path("scan/images/train/%s", names[i]);
		if (i == 5)
			write_text(p, "this is not a JPEG");
		else if (i == 6)
			save_png(p, px, 9, 30);   /* under 10 pixels wide */
		else
			save_png(p, px, 40, 30);
		list_add(&list, p);
	}
	free(px);
	char *l;
	write_text(l = tmp_path("scan/labels/train/a.txt"), "0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2 0.2\n"), free(l);
	write_text(l = tmp_path("scan/labels/train/b.txt"), ""), free(l);   /* empty: background */
	/* c has no label file: background */
	write_text(l = tmp_path("scan/labels/train/d.txt"), "3 0.5 0.5 0.2 0.2\n"), free(l);   /* class >= nc */
	write_text(l = tmp_path("scan/labels/train/e.txt"), "1 0.25 0.25 0.5 0.5\n"), free(l);

	struct mlf_dataset ds;
	struct mlf_problems pr = MLF_PROBLEMS_INIT;
	struct mlf_dataset_options o = { .nc = 2, .threads = 3 };
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_dataset_open(&ds, &list, &o, &pr, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(ds.n, 4);           /* a, b, c, e */
	assert_int_equal(ds.corrupt, 3);     /* d (class), f (not an image), g (too small) */
	assert_int_equal(ds.labels_found, 3);
	assert_int_equal(ds.labels_missing, 1);
	assert_int_equal(ds.labels_empty, 1);
	assert_int_equal(ds.duplicates, 1);
	assert_int_equal(ds.images[0].n, 1);
	assert_int_equal(ds.images[0].w, 40);
	assert_int_equal(ds.images[0].h, 30);
	assert_int_equal(ds.images[3].n, 1);
	assert_int_equal(ds.objects[ds.images[3].first].cls, 1);
	assert_int_equal(pr.n, 4);           /* a's duplicate, d, f, g */
	int saw_class = 0, saw_format = 0, saw_small = 0;
	for (size_t i = 0; i < pr.n; i++) {
		saw_class |= strstr(pr.items[i].file, "d.png") && strstr(pr.items[i].message, "exceeds");
		saw_format |= strstr(pr.items[i].file, "f.jpg") && strstr(pr.items[i].message, "not a JPEG or PNG");
		saw_small |= strstr(pr.items[i].file, "g.png") && strstr(pr.items[i].message, "<10 pixels");
	}
	assert_true(saw_class && saw_format && saw_small);
	mlf_problems_release(&pr);
	mlf_dataset_release(&ds);

	/* a training split needs at least one label file */
	struct mlf_image_list one = { NULL, 0 };
	list_add(&one, mlf_xstrdup(list.paths[2]));
	o.require_labels = 1;
	assert_int_equal(mlf_dataset_open(&ds, &one, &o, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "no label file"));
	list_release(&one);
	list_release(&list);
	free(dir);
	free(ldir);
}

static void test_resized_size(void **state)
{
	(void)state;
	int w, h;
	mlf_resized_size(1280, 720, 640, &w, &h);
	assert_int_equal(w, 640);
	assert_int_equal(h, 360);
	mlf_resized_size(333, 500, 640, &w, &h);   /* up: ceil(333 * 1.28) = 427 */
	assert_int_equal(w, 427);
	assert_int_equal(h, 640);
	mlf_resized_size(641, 479, 640, &w, &h);   /* ceil(479 * 640 / 641) = 479 */
	assert_int_equal(w, 640);
	assert_int_equal(h, 479);
	mlf_resized_size(640, 20, 640, &w, &h);
	assert_int_equal(w, 640);
	assert_int_equal(h, 20);
}

/* ---- rectangular validation batches -------------------------------------------------- */

static void test_rect_fixture(void **state)
{
	(void)state;
	json_t *root = load_fixture("rect.json");
	json_t *cases = json_object_get(root, "cases"), *c;
	size_t i;
	assert_true(json_array_size(cases) >= 6);
	json_array_foreach(cases, i, c) {
		json_t *sizes = json_object_get(c, "sizes");
		size_t n = json_array_size(sizes);
		int *w = malloc(n * sizeof(int)), *h = malloc(n * sizeof(int));
		for (size_t k = 0; k < n; k++) {
			w[k] = (int)json_integer_value(json_array_get(json_array_get(sizes, k), 0));
			h[k] = (int)json_integer_value(json_array_get(json_array_get(sizes, k), 1));
		}
		int batch = (int)jnum(c, "batch"), imgsz = (int)jnum(c, "imgsz");
		size_t nb = (n + (size_t)batch - 1) / (size_t)batch;
		json_t *shapes = json_object_get(c, "shapes"), *order = json_object_get(c, "order");
		assert_int_equal(json_array_size(shapes), nb);
		size_t *ord = malloc(n * sizeof(size_t));
		int (*sh)[2] = malloc(nb * sizeof(*sh));
		mlf_rect_shapes(w, h, n, batch, imgsz, (int)jnum(c, "stride"), jnum(c, "pad"), ord, sh);
		for (size_t b = 0; b < nb; b++)
			for (int k = 0; k < 2; k++) {
				int want = (int)json_integer_value(json_array_get(json_array_get(shapes, b), (size_t)k));
				if (sh[b][k] != want)
					fail_msg("rect case %zu batch %zu: shape [%d, %d], Ultralytics [%d, %d]", i, b,
						 sh[b][0], sh[b][1],
						 (int)json_integer_value(json_array_get(json_array_get(shapes, b), 0)),
						 (int)json_integer_value(json_array_get(json_array_get(shapes, b), 1)));
			}
		/* the same aspect ratio at every position (equal ratios may come in another order) */
		for (size_t k = 0; k < n; k++) {
			size_t u = (size_t)json_integer_value(json_array_get(order, k));
			assert_true((double)h[ord[k]] / w[ord[k]] == (double)h[u] / w[u]);
		}
		free(w);
		free(h);
		free(ord);
		free(sh);
	}
	json_decref(root);
}

/* ---- whole validation samples ---------------------------------------------------------------- */

static void write_val_set(json_t *root, struct mlf_image_list *list)
{
	char *d = tmp_path("val/images"), *ld = tmp_path("val/labels");
	assert_int_equal(mlf_mkdir_p(d, 0755, NULL), 0);
	assert_int_equal(mlf_mkdir_p(ld, 0755, NULL), 0);
	json_t *sizes = json_object_get(root, "sizes");
	for (size_t i = 0; i < json_array_size(sizes); i++) {
		int w = (int)json_integer_value(json_array_get(json_array_get(sizes, i), 0));
		int h = (int)json_integer_value(json_array_get(json_array_get(sizes, i), 1));
		unsigned char *px = noise(w, h, 100 + i);
		char *p = tmp_path("val/images/im%02zu.png", i);
		save_png(p, px, w, h);
		free(px);
		list_add(list, p);
		char *lp = tmp_path("val/labels/im%02zu.txt", i);
		char *text = mlf_xasprintf("%zu 0.5 0.5 0.25 0.5\n0 0.125 0.25 0.125 0.25\n", i % 3);
		write_text(lp, text);
		free(text);
		free(lp);
	}
	/* a JPEG and a PNG with an Exif orientation: cv2 decodes them upright */
	static const char *const jpgs[3][2] = { { "exif3.jpg", "2 0.25 0.5 0.25 0.5\n" },
						{ "exif6.jpg", "0 0.375 0.25 0.5 0.25\n" },
						{ "exif8.png", "1 0.25 0.625 0.125 0.5\n" } };
	for (int k = 0; k < 3; k++) {
		char *src = mlf_xasprintf("%s%s", FIX, jpgs[k][0]);
		char *jpg = tmp_path("val/images/zz_%s", jpgs[k][0]);
		struct mlf_error err = MLF_ERROR_INIT;
		if (mlf_copy_file_atomic(src, jpg, NULL, &err))
			fail_msg("%s", err.msg);
		list_add(list, jpg);
		char *lp = tmp_path("val/labels/zz_%.5s.txt", jpgs[k][0]);
		write_text(lp, jpgs[k][1]);
		free(lp);
		free(src);
	}
	free(d);
	free(ld);
}

static json_t *find_item(json_t *items, const char *path)
{
	const char *base = strrchr(path, '/') + 1;
	json_t *it;
	size_t i;
	json_array_foreach(items, i, it)
		if (!strcmp(json_string_value(json_object_get(it, "file")), base))
			return it;
	fail_msg("no fixture item for %s", base);
	return NULL;
}

static void test_val_fixture(void **state)
{
	(void)state;
	json_t *root = load_fixture("val.json");
	struct mlf_image_list list = { NULL, 0 };
	write_val_set(root, &list);
	struct mlf_dataset ds;
	struct mlf_dataset_options dopt = { .nc = 3 };
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_dataset_open(&ds, &list, &dopt, NULL, &err))
		fail_msg("%s", err.msg);
	json_t *cases = json_object_get(root, "cases"), *c;
	size_t ci;
	json_array_foreach(cases, ci, c) {
		struct mlf_loader_options o;
		mlf_loader_options_defaults(&o, MLF_LOADER_VAL);
		o.imgsz = (int)jnum(c, "imgsz");
		o.batch = (int)jnum(c, "batch");
		o.workers = 2;
		struct mlf_loader *l;
		if (mlf_loader_open(&l, &ds, &o, &err) || mlf_loader_start_epoch(l, 0, &err))
			fail_msg("%s", err.msg);
		json_t *items = json_object_get(c, "items"), *shapes = json_object_get(c, "shapes");
		assert_int_equal(mlf_loader_batches(l), json_array_size(shapes));
		const struct mlf_batch *b;
		size_t seen = 0;
		int rc;
		while ((rc = mlf_loader_next(l, &b, &err)) == 1) {
			json_t *shape = json_array_get(shapes, b->index);
			assert_int_equal(b->h, json_integer_value(json_array_get(shape, 0)));
			assert_int_equal(b->w, json_integer_value(json_array_get(shape, 1)));
			size_t plane = 3 * (size_t)b->h * (size_t)b->w;
			for (int j = 0; j < b->n; j++, seen++) {
				json_t *it = find_item(items, b->paths[j]);
				/* the fixture's aspect ratios all differ, so the order is numpy's too */
				assert_int_equal(json_integer_value(json_object_get(it, "batch")), b->index);
				char hex[65];
				sha256_hex(b->images + (size_t)j * plane, plane, hex);
				if (strcmp(hex, json_string_value(json_object_get(it, "sha256"))))
					fail_msg("val imgsz %d: pixels of %s differ from Ultralytics'", o.imgsz, b->paths[j]);
				json_t *ori = json_object_get(it, "ori_shape"), *rp = json_object_get(it, "ratio_pad");
				assert_int_equal(b->ori_shape[j][0], json_integer_value(json_array_get(ori, 0)));
				assert_int_equal(b->ori_shape[j][1], json_integer_value(json_array_get(ori, 1)));
				for (int k = 0; k < 2; k++) {
					assert_true(b->ratio_pad[j][k] ==
						    json_number_value(json_array_get(json_array_get(rp, 0), (size_t)k)));
					assert_true(b->ratio_pad[j][2 + k] ==
						    json_number_value(json_array_get(json_array_get(rp, 1), (size_t)k)));
				}
				json_t *cls = json_object_get(it, "cls"), *bb = json_object_get(it, "bboxes");
				size_t nt = 0;
				for (size_t t = 0; t < b->ntargets; t++) {
					const struct mlf_target *tg = &b->targets[t];
					if (tg->image != j)
						continue;
					assert_true(nt < json_array_size(cls));
					assert_int_equal(tg->cls, (int)json_number_value(json_array_get(cls, nt)));
					json_t *row = json_array_get(bb, nt);
					float got[4] = { tg->cx, tg->cy, tg->w, tg->h };
					for (int k = 0; k < 4; k++)
						if (got[k] != (float)json_number_value(json_array_get(row, (size_t)k)))
							fail_msg("val %s box %zu value %d: %.9g, Ultralytics %.9g", b->paths[j], nt,
								 k, got[k], json_number_value(json_array_get(row, (size_t)k)));
					nt++;
				}
				assert_int_equal(nt, json_array_size(cls));
			}
		}
		if (rc < 0)
			fail_msg("%s", err.msg);
		assert_int_equal(seen, json_array_size(items));
		mlf_loader_close(l);
	}
	mlf_dataset_release(&ds);
	list_release(&list);
	json_decref(root);
}

/* ---- warpAffine ----------------------------------------------------------------------------------- */

static void warp_fixture(void)
{
	json_t *root = load_fixture("warp.json");
	json_t *cases = json_object_get(root, "cases"), *c;
	size_t i;
	json_array_foreach(cases, i, c) {
		json_t *src = json_object_get(c, "src"), *out = json_object_get(c, "out"), *M = json_object_get(c, "M");
		struct mlf_rgb_image s = { NULL, (int)json_integer_value(json_array_get(src, 0)),
					   (int)json_integer_value(json_array_get(src, 1)) };
		s.px = noise(s.w, s.h, (uint64_t)jnum(c, "seed"));
		struct mlf_rgb_image d = { NULL, (int)json_integer_value(json_array_get(out, 0)),
					   (int)json_integer_value(json_array_get(out, 1)) };
		d.px = malloc((size_t)d.w * d.h * 3);
		float m[6];
		for (int k = 0; k < 6; k++)
			m[k] = (float)json_number_value(json_array_get(M, (size_t)k));
		mlf_warp_affine(&s, m, 114, &d);
		char hex[65];
		sha256_hex(d.px, (size_t)d.w * d.h * 3, hex);
		if (strcmp(hex, json_string_value(json_object_get(c, "sha256"))))
			fail_msg("warp case %zu (%dx%d -> %dx%d) differs from cv2.warpAffine%s", i, s.w, s.h, d.w, d.h,
				 getenv("MLF_NO_SIMD") ? " (portable code)" : "");
		free(s.px);
		free(d.px);
	}
	json_decref(root);
}

/* With the vector kernels (where the CPU has them) and without. */
static void test_warp_fixture(void **state)
{
	(void)state;
	warp_fixture();
	setenv("MLF_NO_SIMD", "1", 1);
	warp_fixture();
	unsetenv("MLF_NO_SIMD");
}

/* ---- HSV ---------------------------------------------------------------------------------------------- */

static void test_hsv_fixture(void **state)
{
	(void)state;
	json_t *root = load_fixture("hsv.json");
	size_t n = (size_t)1 << 24;
	unsigned char *in = malloc(n * 3), *out = malloc(n * 3);
	assert_non_null(in);
	assert_non_null(out);
	char hex[65];
	for (size_t i = 0; i < n; i++) {
		in[3 * i] = (unsigned char)(i >> 16);
		in[3 * i + 1] = (unsigned char)(i >> 8);
		in[3 * i + 2] = (unsigned char)i;
	}
	for (size_t r = 0; r < 4096; r++)
		mlf_rgb_to_hsv_row(in + r * 4096 * 3, out + r * 4096 * 3, 4096);
	sha256_hex(out, n * 3, hex);
	assert_string_equal(hex, json_string_value(json_object_get(root, "bgr2hsv_all")));
	/* the same bytes read as H, S, V */
	for (size_t r = 0; r < 4096; r++)
		mlf_hsv_to_rgb_row(in + r * 4096 * 3, out + r * 4096 * 3, 4096);
	sha256_hex(out, n * 3, hex);
	assert_string_equal(hex, json_string_value(json_object_get(root, "hsv2rgb_all")));
	for (size_t i = 0; i < 200000; i++) {
		uint64_t v = (i * 2654435761u) % ((uint64_t)1 << 24);
		in[3 * i] = (unsigned char)(v >> 16);
		in[3 * i + 1] = (unsigned char)(v >> 8);
		in[3 * i + 2] = (unsigned char)v;
	}
	for (size_t r = 0; r < 2000; r++)
		mlf_hsv_to_rgb_row(in + r * 300, out + r * 300, 100);
	sha256_hex(out, 200000 * 3, hex);
	assert_string_equal(hex, json_string_value(json_object_get(root, "hsv2rgb_rows100")));
	free(in);
	free(out);

	json_t *cases = json_object_get(root, "random_hsv"), *c;
	size_t i;
	for (int pass = 0; pass < 2; pass++) {
	if (pass)
		setenv("MLF_NO_SIMD", "1", 1);
	json_array_foreach(cases, i, c) {
		struct mlf_rgb_image im = { NULL, (int)jnum(c, "w"), (int)jnum(c, "h") };
		im.px = noise(im.w, im.h, (uint64_t)jnum(c, "seed"));
		json_t *u = json_object_get(c, "u"), *gains = json_object_get(c, "gains");
		double g[3];
		for (int k = 0; k < 3; k++)
			g[k] = json_number_value(json_array_get(u, (size_t)k)) *
			       json_number_value(json_array_get(gains, (size_t)k));
		mlf_hsv_apply(&im, g);
		sha256_hex(im.px, (size_t)im.w * im.h * 3, hex);
		if (strcmp(hex, json_string_value(json_object_get(c, "sha256"))))
			fail_msg("RandomHSV case %zu (%dx%d, draws %g %g %g) differs from Ultralytics'%s", i, im.w, im.h,
				 g[0], g[1], g[2], pass ? " (portable code)" : "");
		free(im.px);
	}
	}
	unsetenv("MLF_NO_SIMD");
	json_decref(root);
}

/* numpy's LUTs as mlf_hsv_apply builds them */
static void hsv_luts(const double g[3], unsigned char lut[3][256])
{
	for (int x = 0; x < 256; x++) {
		double hue = fmod(x + g[0] * 180, 180), sat = x * (g[1] + 1), val = x * (g[2] + 1);
		if (hue < 0)
			hue += 180;
		lut[0][x] = (unsigned char)hue;
		lut[1][x] = (unsigned char)(sat < 0 ? 0 : sat > 255 ? 255 : sat);
		lut[2][x] = (unsigned char)(val < 0 ? 0 : val > 255 ? 255 : val);
	}
	lut[1][0] = 0;
}

/* mlf_hsv_apply (vector kernels or not) = the two conversions with the LUTs
 * between, on every colour. */
static void test_hsv_apply_all_colours(void **state)
{
	(void)state;
	const int W = 4096, H = 4096;
	size_t n = (size_t)W * H;
	struct mlf_rgb_image im = { malloc(n * 3), W, H };
	unsigned char *want = malloc(n * 3), *hsv = malloc((size_t)W * 3);
	const double g[3] = { 0.3 * 0.015, -0.6 * 0.7, 0.45 * 0.4 };
	unsigned char lut[3][256];
	hsv_luts(g, lut);
	for (size_t i = 0; i < n; i++) {
		im.px[3 * i] = (unsigned char)(i >> 16);
		im.px[3 * i + 1] = (unsigned char)(i >> 8);
		im.px[3 * i + 2] = (unsigned char)i;
	}
	for (int y = 0; y < H; y++) {
		mlf_rgb_to_hsv_row(im.px + (size_t)y * W * 3, hsv, W);
		for (int x = 0; x < W; x++)
			for (int k = 0; k < 3; k++)
				hsv[3 * x + k] = lut[k][hsv[3 * x + k]];
		mlf_hsv_to_rgb_row(hsv, want + (size_t)y * W * 3, W);
	}
	unsigned char *orig = malloc(n * 3);
	memcpy(orig, im.px, n * 3);
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			setenv("MLF_NO_SIMD", "1", 1);
		memcpy(im.px, orig, n * 3);
		mlf_hsv_apply(&im, g);
		if (memcmp(im.px, want, n * 3))
			fail_msg("mlf_hsv_apply%s differs from the row conversions", pass ? " (portable code)" : "");
	}
	unsetenv("MLF_NO_SIMD");
	free(orig);
	free(im.px);
	free(want);
	free(hsv);
}

static void test_hsv_zero_gains(void **state)
{
	(void)state;
	struct mlf_rgb_image im = { noise(64, 48, 9), 64, 48 };
	unsigned char *copy = malloc(64 * 48 * 3);
	memcpy(copy, im.px, 64 * 48 * 3);
	const double zero[3] = { 0, 0, 0 };
	mlf_hsv_apply(&im, zero);
	assert_memory_equal(im.px, copy, 64 * 48 * 3);
	free(copy);
	free(im.px);
}

/* ---- a dataset of coloured rectangles --------------------------------------------------------------- */

#define SYN_IMAGES 12
#define SYN_NC (2 * SYN_IMAGES)
#define SYN_SZ 192

struct syn_obj {
	int x1, y1, x2, y2;     /* pixels, the rectangle covers [x1, x2) x [y1, y2) */
};

static struct syn_obj syn_truth[SYN_NC];

/* Object c's colour: unique, never grey (r >= 200, b distinct per c). */
static void syn_colour(int c, unsigned char rgb[3])
{
	rgb[0] = (unsigned char)(200 + (c % 7) * 8);
	rgb[1] = (unsigned char)((c * 29) % 200);
	rgb[2] = (unsigned char)(255 - c * 9);
}

static int syn_class_of(const unsigned char *p)
{
	for (int c = 0; c < SYN_NC; c++) {
		unsigned char rgb[3];
		syn_colour(c, rgb);
		if (!memcmp(p, rgb, 3))
			return c;
	}
	return -1;
}

/* Long side SYN_SZ, so load_image keeps them as they are. */
static void syn_size(int i, int *w, int *h)
{
	static const int sz[3][2] = { { SYN_SZ, 144 }, { 144, SYN_SZ }, { SYN_SZ, SYN_SZ } };
	*w = sz[i % 3][0];
	*h = sz[i % 3][1];
}

static void write_syn_set(const char *name, struct mlf_image_list *list)
{
	char *d = tmp_path("%s/images", name), *ld = tmp_path("%s/labels", name);
	assert_int_equal(mlf_mkdir_p(d, 0755, NULL), 0);
	assert_int_equal(mlf_mkdir_p(ld, 0755, NULL), 0);
	for (int i = 0; i < SYN_IMAGES; i++) {
		int w, h;
		syn_size(i, &w, &h);
		unsigned char *px = malloc((size_t)w * h * 3);
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				unsigned char g = (unsigned char)(80 + (x + 2 * y + 7 * i) % 40);
				memset(px + ((size_t)y * w + x) * 3, g, 3);
			}
		struct mlf_buf lab = MLF_BUF_INIT;
		for (int k = 0; k < 2; k++) {
			int c = 2 * i + k;
			/* two rectangles side by side, sizes varying with i */
			struct syn_obj *o = &syn_truth[c];
			o->x1 = k ? w / 2 + 6 + i % 5 : 10 + (i * 7) % 20;
			o->x2 = k ? w - 12 - i % 4 : w / 2 - 4;
			o->y1 = 12 + (i * 11 + k * 30) % 40;
			o->y2 = h - 10 - (i * 5 + k * 17) % 50;
			unsigned char rgb[3];
			syn_colour(c, rgb);
			for (int y = o->y1; y < o->y2; y++)
				for (int x = o->x1; x < o->x2; x++)
					memcpy(px + ((size_t)y * w + x) * 3, rgb, 3);
			mlf_buf_addf(&lab, "%d %.9f %.9f %.9f %.9f\n", c, (o->x1 + o->x2) / 2.0 / w,
				     (o->y1 + o->y2) / 2.0 / h, (double)(o->x2 - o->x1) / w, (double)(o->y2 - o->y1) / h);
		}
		char *p = tmp_path("%s/images/s%02d.png", name, i), *lp = tmp_path("%s/labels/s%02d.txt", name, i);
		save_png(p, px, w, h);
		write_text(lp, lab.data);
		mlf_buf_release(&lab);
		free(lp);
		free(px);
		list_add(list, p);
	}
	free(d);
	free(ld);
}

static void open_syn(const char *name, struct mlf_dataset *ds)
{
	struct mlf_image_list list = { NULL, 0 };
	write_syn_set(name, &list);
	struct mlf_dataset_options o = { .nc = SYN_NC, .require_labels = 1 };
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_dataset_open(ds, &list, &o, NULL, &err))
		fail_msg("%s", err.msg);
	list_release(&list);
}

static struct mlf_loader *open_train(const struct mlf_dataset *ds, const struct mlf_augment_hyp *h, int workers,
				     uint64_t seed, int batch)
{
	struct mlf_loader_options o;
	mlf_loader_options_defaults(&o, MLF_LOADER_TRAIN);
	o.imgsz = SYN_SZ;
	o.batch = batch;
	o.workers = workers;
	o.seed = seed;
	o.epochs = 3;
	o.close_mosaic = 1;
	if (h)
		o.hyp = *h;
	struct mlf_loader *l;
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_loader_open(&l, ds, &o, &err))
		fail_msg("%s", err.msg);
	return l;
}

/* Pixel (x, y) of image j of a CHW batch, as RGB. */
static void px_at(const struct mlf_batch *b, int j, int x, int y, unsigned char rgb[3])
{
	size_t plane = (size_t)b->h * b->w;
	const unsigned char *base = b->images + (size_t)j * 3 * plane + (size_t)y * b->w + x;
	rgb[0] = base[0];
	rgb[1] = base[plane];
	rgb[2] = base[2 * plane];
}

struct box {
	float x1, y1, x2, y2;
};

static struct box target_px(const struct mlf_batch *b, const struct mlf_target *t)
{
	return (struct box){ (t->cx - t->w / 2) * b->w, (t->cy - t->h / 2) * b->h, (t->cx + t->w / 2) * b->w,
			     (t->cy + t->h / 2) * b->h };
}

/* Tight box of the pixels of class c's colour inside r (expanded by m). */
static int colour_extent(const struct mlf_batch *b, int j, int c, struct box r, int m, struct box *out, long *count)
{
	int x0 = (int)floorf(r.x1) - m, x1 = (int)ceilf(r.x2) + m, y0 = (int)floorf(r.y1) - m, y1 = (int)ceilf(r.y2) + m;
	x0 = x0 < 0 ? 0 : x0;
	y0 = y0 < 0 ? 0 : y0;
	x1 = x1 > b->w ? b->w : x1;
	y1 = y1 > b->h ? b->h : y1;
	int found = 0;
	*count = 0;
	*out = (struct box){ 1e9f, 1e9f, -1e9f, -1e9f };
	for (int y = y0; y < y1; y++)
		for (int x = x0; x < x1; x++) {
			unsigned char p[3];
			px_at(b, j, x, y, p);
			if (syn_class_of(p) != c)
				continue;
			found = 1;
			(*count)++;
			out->x1 = fminf(out->x1, (float)x);
			out->y1 = fminf(out->y1, (float)y);
			out->x2 = fmaxf(out->x2, (float)x + 1);
			out->y2 = fmaxf(out->y2, (float)y + 1);
		}
	return found;
}

/* Connected pieces of class c not inside any of its targets must be ones
 * box_candidates drops: thin, or a small part of the object. */
static void check_uncovered(const struct mlf_batch *b, int j, int c, const struct box *tb, int nt, float scale)
{
	size_t np = (size_t)b->w * b->h;
	unsigned char *mark = calloc(np, 1);
	int *stack = malloc(np * sizeof(int));
	for (int y = 0; y < b->h; y++)
		for (int x = 0; x < b->w; x++) {
			unsigned char p[3];
			px_at(b, j, x, y, p);
			if (syn_class_of(p) != c)
				continue;
			int inside = 0;
			for (int k = 0; k < nt && !inside; k++)
				inside = x + 0.5f > tb[k].x1 - 1 && x + 0.5f < tb[k].x2 + 1 && y + 0.5f > tb[k].y1 - 1 &&
					 y + 0.5f < tb[k].y2 + 1;
			if (!inside)
				mark[(size_t)y * b->w + x] = 1;
		}
	const struct syn_obj *o = &syn_truth[c];
	float full = (float)(o->x2 - o->x1) * (float)(o->y2 - o->y1) * scale * scale;
	for (size_t s0 = 0; s0 < np; s0++) {
		if (mark[s0] != 1)
			continue;
		int sp = 0, x1 = b->w, y1 = b->h, x2 = -1, y2 = -1;
		stack[sp++] = (int)s0;
		mark[s0] = 2;
		while (sp) {
			int q = stack[--sp], x = q % b->w, y = q / b->w;
			x1 = x < x1 ? x : x1;
			x2 = x > x2 ? x : x2;
			y1 = y < y1 ? y : y1;
			y2 = y > y2 ? y : y2;
			const int dx[4] = { 1, -1, 0, 0 }, dy[4] = { 0, 0, 1, -1 };
			for (int k = 0; k < 4; k++) {
				int nx = x + dx[k], ny = y + dy[k];
				if (nx < 0 || ny < 0 || nx >= b->w || ny >= b->h)
					continue;
				size_t nq = (size_t)ny * b->w + nx;
				if (mark[nq] == 1) {
					mark[nq] = 2;
					stack[sp++] = (int)nq;
				}
			}
		}
		int fw = x2 - x1 + 1, fh = y2 - y1 + 1;
		if (!(fw <= 3 || fh <= 3 || (float)fw * fh <= 0.1f * full * 1.05f))
			fail_msg("image %d: object %d shows a %dx%d piece at (%d, %d) without a box", j, c, fw, fh, x1, y1);
	}
	free(mark);
	free(stack);
}

/* Every target covers its object's colour and nothing else; every sizeable
 * visible piece of an object has a target. */
static void check_batch_geometry(const struct mlf_batch *b, float tol, int exact, float scale)
{
	for (int j = 0; j < b->n; j++) {
		struct box tb[SYN_NC][16];
		int nt[SYN_NC] = { 0 };
		for (size_t t = 0; t < b->ntargets; t++) {
			const struct mlf_target *tg = &b->targets[t];
			if (tg->image != j)
				continue;
			assert_true(tg->cls >= 0 && tg->cls < SYN_NC);
			struct box r = target_px(b, tg);
			assert_true(r.x1 >= -1e-3f && r.y1 >= -1e-3f && r.x2 <= b->w + 1e-3f && r.y2 <= b->h + 1e-3f);
			assert_true(r.x2 - r.x1 > 2 && r.y2 - r.y1 > 2);
			struct box e;
			long count;
			if (!colour_extent(b, j, tg->cls, r, 2, &e, &count))
				fail_msg("image %d: target of class %d at (%.1f %.1f %.1f %.1f) covers none of its colour", j,
					 tg->cls, r.x1, r.y1, r.x2, r.y2);
			if (fabsf(e.x1 - r.x1) > tol || fabsf(e.y1 - r.y1) > tol || fabsf(e.x2 - r.x2) > tol ||
			    fabsf(e.y2 - r.y2) > tol)
				fail_msg("image %d class %d: box (%.2f %.2f %.2f %.2f), colour spans (%.0f %.0f %.0f %.0f)", j,
					 tg->cls, r.x1, r.y1, r.x2, r.y2, e.x1, e.y1, e.x2, e.y2);
			if (exact)
				assert_int_equal(count, (long)((r.x2 - r.x1) * (r.y2 - r.y1) + 0.5f));
			if (nt[tg->cls] < 16)
				tb[tg->cls][nt[tg->cls]++] = r;
		}
		for (int c = 0; c < SYN_NC; c++)
			check_uncovered(b, j, c, tb[c], nt[c], scale);
	}
}

static void test_mosaic_exact(void **state)
{
	(void)state;
	struct mlf_dataset ds;
	open_syn("mosaic", &ds);
	/* no scaling, no translation: the output is the mosaic's centre, pixel for pixel */
	struct mlf_augment_hyp h;
	mlf_augment_hyp_defaults(&h);
	h.scale = h.translate = 0;
	h.hsv_h = h.hsv_s = h.hsv_v = 0;
	h.fliplr = 0;
	struct mlf_loader *l = open_train(&ds, &h, 2, 7, 4);
	struct mlf_error err = MLF_ERROR_INIT;
	size_t targets = 0;
	for (int e = 0; e < 2; e++) {
		assert_true(mlf_loader_mosaic_on(l, e));
		assert_int_equal(mlf_loader_start_epoch(l, e, &err), 0);
		const struct mlf_batch *b;
		int rc;
		while ((rc = mlf_loader_next(l, &b, &err)) == 1) {
			assert_int_equal(b->w, SYN_SZ);
			assert_int_equal(b->h, SYN_SZ);
			check_batch_geometry(b, 1e-3f, 1, 1.0f);
			targets += b->ntargets;
		}
		assert_int_equal(rc, 0);
	}
	assert_true(targets > 20);
	mlf_loader_close(l);
	mlf_dataset_release(&ds);
}

static void test_mosaic_default(void **state)
{
	(void)state;
	struct mlf_dataset ds;
	open_syn("mosaicd", &ds);
	/* Ultralytics' defaults without the colour change: scale 0.5, translate 0.1, flips */
	struct mlf_augment_hyp h;
	mlf_augment_hyp_defaults(&h);
	h.hsv_h = h.hsv_s = h.hsv_v = 0;
	struct mlf_loader *l = open_train(&ds, &h, 3, 11, 4);
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_loader_start_epoch(l, 1, &err), 0);
	const struct mlf_batch *b;
	int rc;
	size_t targets = 0;
	while ((rc = mlf_loader_next(l, &b, &err)) == 1) {
		/* bilinear edges blend over a pixel and a half at the largest scale; the 0.1 area rule
		 * can drop pieces up to a tenth of the object at the largest scale */
		check_batch_geometry(b, 1.5f, 0, 1.5f);
		targets += b->ntargets;
	}
	assert_int_equal(rc, 0);
	assert_true(targets > 10);
	mlf_loader_close(l);
	mlf_dataset_release(&ds);
}

/* ---- determinism -------------------------------------------------------------------------------------- */

struct epoch_bytes {
	unsigned char *data;
	size_t len;
};

static void run_epochs(const struct mlf_dataset *ds, int workers, uint64_t seed, struct epoch_bytes *out)
{
	struct mlf_loader *l = open_train(ds, NULL, workers, seed, 5);
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_buf b = MLF_BUF_INIT;
	for (int e = 0; e < 3; e++) {   /* the last epoch without mosaic */
		assert_int_equal(mlf_loader_start_epoch(l, e, &err), 0);
		const struct mlf_batch *bt;
		int rc;
		while ((rc = mlf_loader_next(l, &bt, &err)) == 1) {
			mlf_buf_add(&b, bt->images, (size_t)bt->n * 3 * bt->h * bt->w);
			mlf_buf_add(&b, bt->targets, bt->ntargets * sizeof(*bt->targets));
			mlf_buf_add(&b, bt->dataset_index, (size_t)bt->n * sizeof(size_t));
		}
		assert_int_equal(rc, 0);
	}
	mlf_loader_close(l);
	out->len = b.len;
	out->data = (unsigned char *)mlf_buf_detach(&b);
}

static void test_determinism(void **state)
{
	(void)state;
	struct mlf_dataset ds;
	open_syn("determinism", &ds);
	struct epoch_bytes a, b, c, d, e;
	run_epochs(&ds, 1, 42, &a);
	run_epochs(&ds, 3, 42, &b);
	run_epochs(&ds, 0, 42, &c);
	run_epochs(&ds, 3, 43, &d);
	setenv("MLF_NO_SIMD", "1", 1);   /* the portable kernels make the same samples */
	run_epochs(&ds, 2, 42, &e);
	unsetenv("MLF_NO_SIMD");
	assert_int_equal(a.len, e.len);
	assert_memory_equal(a.data, e.data, a.len);
	assert_true(a.len > 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	assert_int_equal(a.len, c.len);
	assert_memory_equal(a.data, c.data, a.len);
	assert_true(a.len != d.len || memcmp(a.data, d.data, a.len));
	free(a.data);
	free(b.data);
	free(c.data);
	free(d.data);
	free(e.data);
	mlf_dataset_release(&ds);
}

/* ---- flips ------------------------------------------------------------------------------------------------ */

static void one_batch(const struct mlf_dataset *ds, const struct mlf_augment_hyp *h, int epoch,
		      struct epoch_bytes *img, struct mlf_target **t, size_t *nt, int *n)
{
	struct mlf_loader *l = open_train(ds, h, 2, 5, 4);
	struct mlf_error err = MLF_ERROR_INIT;
	const struct mlf_batch *b;
	assert_int_equal(mlf_loader_start_epoch(l, epoch, &err), 0);
	assert_int_equal(mlf_loader_next(l, &b, &err), 1);
	img->len = (size_t)b->n * 3 * b->h * b->w;
	img->data = malloc(img->len);
	memcpy(img->data, b->images, img->len);
	*t = malloc((b->ntargets ? b->ntargets : 1) * sizeof(**t));
	memcpy(*t, b->targets, b->ntargets * sizeof(**t));
	*nt = b->ntargets;
	*n = b->n;
	mlf_loader_close(l);
}

static void check_flip(int lr)
{
	struct mlf_dataset ds;
	open_syn(lr ? "fliplr" : "flipud", &ds);
	struct mlf_augment_hyp h;
	mlf_augment_hyp_defaults(&h);
	h.fliplr = h.flipud = 0;
	struct epoch_bytes a, b;
	struct mlf_target *ta, *tb;
	size_t na, nb;
	int n;
	one_batch(&ds, &h, 1, &a, &ta, &na, &n);
	if (lr)
		h.fliplr = 1;
	else
		h.flipud = 1;
	one_batch(&ds, &h, 1, &b, &tb, &nb, &n);
	assert_int_equal(na, nb);
	int s = SYN_SZ;
	for (int j = 0; j < n; j++)
		for (int c = 0; c < 3; c++)
			for (int y = 0; y < s; y++)
				for (int x = 0; x < s; x++) {
					size_t base = ((size_t)j * 3 + c) * s * s;
					unsigned char va = a.data[base + (size_t)y * s + x];
					unsigned char vb = lr ? b.data[base + (size_t)y * s + (s - 1 - x)]
							      : b.data[base + (size_t)(s - 1 - y) * s + x];
					if (va != vb)
						fail_msg("flip %s: image %d pixel (%d, %d) channel %d not mirrored", lr ? "lr" : "ud",
							 j, x, y, c);
				}
	for (size_t k = 0; k < na; k++) {
		assert_int_equal(ta[k].image, tb[k].image);
		assert_int_equal(ta[k].cls, tb[k].cls);
		assert_float_equal(lr ? 1 - ta[k].cx : ta[k].cx, tb[k].cx, 1e-6);
		assert_float_equal(lr ? ta[k].cy : 1 - ta[k].cy, tb[k].cy, 1e-6);
		assert_float_equal(ta[k].w, tb[k].w, 0);
		assert_float_equal(ta[k].h, tb[k].h, 0);
	}
	free(a.data);
	free(b.data);
	free(ta);
	free(tb);
	mlf_dataset_release(&ds);
}

/* The primitives: pixels mirrored, xywh centres moved, sizes kept. */
static void test_flip_primitives(void **state)
{
	(void)state;
	unsigned char px[2 * 3 * 3];
	for (int i = 0; i < 18; i++)
		px[i] = (unsigned char)i;
	struct mlf_rgb_image im = { px, 3, 2 };
	struct mlf_boxes b = { 0 };
	mlf_boxes_push(&b, 1, 0.5f, 0.25f, 2.0f, 1.0f);   /* xyxy */
	mlf_boxes_to_xywh(&b);
	assert_float_equal(b.box[0], 1.25, 0);
	assert_float_equal(b.box[2], 1.5, 0);
	mlf_flip_lr(&im, &b);
	const unsigned char lr[18] = { 6, 7, 8, 3, 4, 5, 0, 1, 2, 15, 16, 17, 12, 13, 14, 9, 10, 11 };
	assert_memory_equal(px, lr, 18);
	assert_float_equal(b.box[0], 3 - 1.25, 0);
	assert_float_equal(b.box[1], 0.625, 0);
	mlf_flip_ud(&im, &b);
	const unsigned char ud[18] = { 15, 16, 17, 12, 13, 14, 9, 10, 11, 6, 7, 8, 3, 4, 5, 0, 1, 2 };
	assert_memory_equal(px, ud, 18);
	assert_float_equal(b.box[1], 2 - 0.625, 0);
	assert_float_equal(b.box[2], 1.5, 0);
	assert_float_equal(b.box[3], 0.75, 0);
	assert_int_equal(b.cls[0], 1);
	mlf_boxes_release(&b);
}

static void test_flips(void **state)
{
	(void)state;
	check_flip(1);
	check_flip(0);
}

/* ---- close_mosaic --------------------------------------------------------------------------------------------- */

static void test_close_mosaic(void **state)
{
	(void)state;
	struct mlf_dataset ds;
	open_syn("close", &ds);
	struct mlf_augment_hyp h;
	mlf_augment_hyp_defaults(&h);
	h.scale = h.translate = 0;
	h.hsv_h = h.hsv_s = h.hsv_v = 0;
	h.fliplr = 0;
	struct mlf_loader *l = open_train(&ds, &h, 2, 3, 4);   /* epochs 3, close_mosaic 1 */
	assert_true(mlf_loader_mosaic_on(l, 1));
	assert_false(mlf_loader_mosaic_on(l, 2));
	struct mlf_error err = MLF_ERROR_INIT;
	unsigned char *lbox = malloc((size_t)SYN_SZ * SYN_SZ * 3);
	for (int e = 1; e <= 2; e++) {
		assert_int_equal(mlf_loader_start_epoch(l, e, &err), 0);
		const struct mlf_batch *b;
		size_t differ = 0, total = 0;
		while (mlf_loader_next(l, &b, &err) == 1) {
			for (int j = 0; j < b->n; j++, total++) {
				/* the image alone, centred on the canvas: LetterBox's pixels */
				struct mlf_rgb_image im;
				if (mlf_dataset_load_image(&ds, b->dataset_index[j], SYN_SZ, &im, &err))
					fail_msg("%s", err.msg);
				struct mlf_letterbox lb;
				assert_int_equal(mlf_letterbox_params(im.w, im.h, SYN_SZ, 32, 0, 1, &lb), 0);
				assert_int_equal(mlf_letterbox_image(im.px, &lb, lbox, &err), 0);
				int same = 1;
				for (int y = 0; y < SYN_SZ && same; y++)
					for (int x = 0; x < SYN_SZ && same; x++) {
						unsigned char p[3];
						px_at(b, j, x, y, p);
						same = !memcmp(p, lbox + ((size_t)y * SYN_SZ + x) * 3, 3);
					}
				differ += !same;
				if (e == 2) {
					if (!same)
						fail_msg("epoch 2 (mosaic closed): %s is not the letterboxed image",
							 b->paths[j]);
					/* and its two objects, moved by the padding */
					size_t nt = 0;
					for (size_t t = 0; t < b->ntargets; t++)
						nt += b->targets[t].image == j;
					assert_int_equal(nt, ds.images[b->dataset_index[j]].n);
				}
				mlf_rgb_image_release(&im);
			}
		}
		if (e == 1)
			assert_int_equal(differ, total);   /* every mosaic sample differs from its plain image */
	}
	free(lbox);
	mlf_loader_close(l);
	mlf_dataset_release(&ds);
}

/* ---- errors ------------------------------------------------------------------------------------------------------ */

static void test_corrupt_image(void **state)
{
	(void)state;
	struct mlf_image_list list = { NULL, 0 };
	write_syn_set("corrupt", &list);
	/* s05.png keeps its header but loses its tail: the scan keeps it, loading fails */
	const char *victim = list.paths[5];
	char *data = NULL;
	size_t len = 0;
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_read_file(victim, &data, &len, &err), 0);
	assert_int_equal(mlf_write_file_atomic(victim, data, len / 2, &err), 0);
	free(data);
	struct mlf_dataset ds;
	struct mlf_dataset_options dopt = { .nc = SYN_NC };
	assert_int_equal(mlf_dataset_open(&ds, &list, &dopt, NULL, &err), 0);
	assert_int_equal(ds.n, SYN_IMAGES);

	/* validation: exactly one batch fails, naming the file; the others come */
	struct mlf_loader_options o;
	mlf_loader_options_defaults(&o, MLF_LOADER_VAL);
	o.imgsz = SYN_SZ;
	o.batch = 4;
	o.workers = 2;
	struct mlf_loader *l;
	assert_int_equal(mlf_loader_open(&l, &ds, &o, &err), 0);
	assert_int_equal(mlf_loader_start_epoch(l, 0, &err), 0);
	const struct mlf_batch *b;
	int rc, failed = 0, ok = 0;
	while ((rc = mlf_loader_next(l, &b, &err)) != 0) {
		if (rc < 0) {
			failed++;
			assert_non_null(strstr(err.msg, "s05.png"));
			assert_int_equal(err.status, MLF_EX_DATAERR);
		} else {
			ok++;
		}
	}
	assert_int_equal(failed, 1);
	assert_int_equal(ok, 2);
	mlf_loader_close(l);

	/* training: the batch holding it, or a mosaic using it, fails the same way */
	struct mlf_loader *t = open_train(&ds, NULL, 3, 1, 4);
	assert_int_equal(mlf_loader_start_epoch(t, 0, &err), 0);
	failed = 0;
	while ((rc = mlf_loader_next(t, &b, &err)) != 0)
		if (rc < 0) {
			failed++;
			assert_non_null(strstr(err.msg, "s05.png"));
		}
	assert_true(failed >= 1);
	mlf_loader_close(t);   /* closing mid-way or after errors is clean */
	mlf_dataset_release(&ds);
	list_release(&list);
}

static void test_loader_usage(void **state)
{
	(void)state;
	struct mlf_dataset ds;
	open_syn("usage", &ds);
	struct mlf_loader_options o;
	mlf_loader_options_defaults(&o, MLF_LOADER_TRAIN);
	struct mlf_loader *l;
	struct mlf_error err = MLF_ERROR_INIT;
	o.hyp.mixup = 0.5;
	assert_int_equal(mlf_loader_open(&l, &ds, &o, &err), -1);
	assert_non_null(strstr(err.msg, "mixup"));
	mlf_loader_options_defaults(&o, MLF_LOADER_TRAIN);
	o.imgsz = SYN_SZ;
	o.batch = 100;   /* more than the dataset: one batch of all */
	assert_int_equal(mlf_loader_open(&l, &ds, &o, &err), 0);
	assert_int_equal(mlf_loader_batches(l), 1);
	const struct mlf_batch *b;
	assert_int_equal(mlf_loader_next(l, &b, &err), -1);   /* no epoch started */
	assert_int_equal(mlf_loader_start_epoch(l, 0, &err), 0);
	/* leave after one batch: start_epoch and close cope with work in flight */
	assert_int_equal(mlf_loader_next(l, &b, &err), 1);
	assert_int_equal(b->n, SYN_IMAGES);
	assert_int_equal(mlf_loader_start_epoch(l, 1, &err), 0);
	mlf_loader_close(l);
	mlf_dataset_release(&ds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels_fixture),
		cmocka_unit_test(test_labels_single_cls),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_resized_size),
		cmocka_unit_test(test_rect_fixture),
		cmocka_unit_test(test_val_fixture),
		cmocka_unit_test(test_warp_fixture),
		cmocka_unit_test(test_hsv_fixture),
		cmocka_unit_test(test_hsv_apply_all_colours),
		cmocka_unit_test(test_hsv_zero_gains),
		cmocka_unit_test(test_mosaic_exact),
		cmocka_unit_test(test_mosaic_default),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_flip_primitives),
		cmocka_unit_test(test_flips),
		cmocka_unit_test(test_close_mosaic),
		cmocka_unit_test(test_corrupt_image),
		cmocka_unit_test(test_loader_usage),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
