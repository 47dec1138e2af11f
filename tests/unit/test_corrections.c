/* Reading corrections: every format's happy path, and a corpus of bad inputs each named by file and field. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mlf/corrections.h"
#include "mlf/base.h"

static char base[256];   /* holds root/ and things outside it */
static char root[300];

static char *class_list[] = { "car", "person", "truck" };
static const struct mlf_class_names classes = { class_list, 3 };

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/mlf-test-corrections.XXXXXX");
	if (!mkdtemp(base))
		return -1;
	snprintf(root, sizeof(root), "%s/root", base);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mlf_remove_tree(base, NULL);
	return 0;
}

/* A file below `dir`; text NULL makes an empty one (images are never decoded here). */
static void put_in(const char *dir, const char *rel, const char *text)
{
	char *path = mlf_path_join(dir, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	assert_int_equal(mlf_mkdir_p(path, 0755, NULL), 0);
	*slash = '/';
	if (text && !strncmp(text, "@link:", 6)) {
		assert_int_equal(symlink(text + 6, path), 0);
	} else {
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		if (text)
			assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
		assert_int_equal(fclose(f), 0);
	}
	free(path);
}

static void put(const char *rel, const char *text)
{
	put_in(root, rel, text);
}

static void fresh_root(void)
{
	assert_int_equal(mlf_remove_tree(base, NULL), 0);
	assert_int_equal(mlf_mkdir_p(root, 0755, NULL), 0);
	put_in(base, "outside.jpg", NULL);
	put_in(base, "outdir/x.jpg", NULL);
}

static void load(struct mlf_correction_set *set, struct mlf_problems *p)
{
	struct mlf_error err = MLF_ERROR_INIT;
	int rc = mlf_corrections_load(root, &classes, set, p, &err);
	if (rc)
		fprintf(stderr, "load failed: %s\n", err.msg);
	assert_int_equal(rc, 0);
}

static void print_problems(const struct mlf_problems *p)
{
	fprintf(stderr, "problems (%zu):\n", p->n);
	mlf_problems_print(p, stderr, 0);
}

static int has_problem(const struct mlf_problems *p, const char *file, const char *field,
		       const char *message)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct mlf_problem *x = &p->items[i];
		if (strcmp(x->file, file))
			continue;
		if ((field == NULL) != (x->field == NULL) || (field && strcmp(field, x->field)))
			continue;
		if (strstr(x->message, message))
			return 1;
	}
	return 0;
}

static const struct mlf_correction *find(const struct mlf_correction_set *s, const char *source,
					 long index)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->items[i].source, source) && s->items[i].source_index == index)
			return &s->items[i];
	return NULL;
}

static void assert_box(const struct mlf_box *b, int cls, double x1, double y1, double x2,
		       double y2)
{
	assert_int_equal(b->class_id, cls);
	assert_true(fabs(b->x1 - x1) < 1e-9);
	assert_true(fabs(b->y1 - y1) < 1e-9);
	assert_true(fabs(b->x2 - x2) < 1e-9);
	assert_true(fabs(b->y2 - y2) < 1e-9);
}

static void assert_sha_of(const struct mlf_correction *c)
{
	char hex[65], *path = mlf_path_join(root, c->source);
	assert_int_equal(mlf_sha256_file(path, hex, NULL, NULL), 0);
	assert_string_equal(c->source_sha256, hex);
	free(path);
}

static void assert_image(const struct mlf_correction *c, const char *rel)
{
	char *want = mlf_path_join(root, rel);
	assert_true(c->image[0] == '/');
	assert_string_equal(c->image, want);
	free(want);
}

static void assert_no_problems(const struct mlf_problems *p)
{
	if (p->n)
		print_problems(p);
	assert_int_equal(p->n, 0);
}

/* ---- happy paths ---- */

static void test_native(void **state)
{
	(void)state;
	fresh_root();
	put("imgs/a.jpg", NULL);
	put("sub/a.json",
	    "{\"format\": \"mlf.correction\", \"version\": 1, \"image\": \"../imgs/a.jpg\",\n"
	    " \"width\": 640, \"height\": 480,\n"
	    " \"boxes\": [{\"class\": \"truck\", \"xyxy\": [12.5, 40, 200, 180]},\n"
	    "            {\"class_id\": 1, \"xyxy\": [-1, 10, 360, 95.25]}],\n"
	    " \"corrected_by\": \"alice\", \"corrected_at\": \"2026-11-20T09:15:00.123+02:00\",\n"
	    " \"prediction\": {\"boxes\": [{\"class\": \"car\", \"confidence\": 0.61}]}}\n");
	put("empty.jpg", NULL);
	put("empty.json", "{\"format\": \"mlf.correction\", \"version\": 1, \"image\": \"empty.jpg\", "
	    "\"width\": 10, \"height\": 20, \"boxes\": [], \"corrected_at\": \"2026-01-02T03:04:05Z\"}");
	put(".hidden.json", "not json at all");
	put(".git/config.json", "{");

	struct mlf_correction_set set;
	struct mlf_problems p = MLF_PROBLEMS_INIT;
	load(&set, &p);
	assert_no_problems(&p);
	assert_int_equal(set.n, 2);
	const struct mlf_correction *c = &set.items[1];  /* sorted: empty.json, sub/a.json */
	assert_string_equal(set.items[0].source, "empty.json");
	assert_string_equal(c->source, "sub/a.json");
	assert_int_equal(c->source_index, -1);
	assert_string_equal(c->format, "mlf");
	assert_image(c, "imgs/a.jpg");
	assert_sha_of(c);
	assert_int_equal(c->declared_width, 640);
	assert_int_equal(c->declared_height, 480);
	assert_int_equal(c->normalized, 0);
	assert_int_equal(c->nboxes, 2);
	assert_box(&c->boxes[0], 2, 12.5, 40, 200, 180);
	assert_box(&c->boxes[1], 1, -1, 10, 360, 95.25);  /* small overshoot: the builder clips */
	assert_string_equal(c->corrected_by, "alice");
	assert_string_equal(c->corrected_at, "2026-11-20T09:15:00.123+02:00");
	json_t *want = json_pack("{s:[{s:s, s:f}]}", "boxes", "class", "car", "confidence", 0.61);
	assert_true(json_equal(c->prediction, want));
	json_decref(want);

	const struct mlf_correction *e = &set.items[0];
	assert_int_equal(e->nboxes, 0);
	assert_null(e->corrected_by);
	assert_null(e->prediction);
	assert_string_equal(e->corrected_at, "2026-01-02T03:04:05Z");
	mlf_correction_set_release(&set);
	mlf_problems_release(&p);
}

static void test_yolo(void **state)
{
	(void)state;
	fresh_root();
	put("cam/x.jpg", NULL);
	put("cam/x.txt", "0 0.5 0.5 0.25 0.5\r\n\n   \n2 0.25 0.75 0.5 0.25\n");
	put("set/images/train/y.PNG", NULL);
	put("set/labels/train/y.txt", "1 0.5 0.5 1 1");
	put("images/z.jpeg", NULL);
	put("labels/z.txt", "");                 /* an image with no objects */
	put("labels/classes.txt", "car\nperson\ntruck\n");
	put("stray.jpg", NULL);                  /* no label, no reference: ignored */

	struct mlf_correction_set set;
	struct mlf_problems p = MLF_PROBLEMS_INIT;
	load(&set, &p);
	assert_no_problems(&p);
	assert_int_equal(set.n, 3);
	const struct mlf_correction *x = find(&set, "cam/x.txt", -1);
	const struct mlf_correction *y = find(&set, "set/labels/train/y.txt", -1);
	const struct mlf_correction *z = find(&set, "labels/z.txt", -1);
	assert_non_null(x);
	assert_non_null(y);
	assert_non_null(z);
	assert_string_equal(set.items[0].source, "cam/x.txt");
	assert_string_equal(set.items[1].source, "labels/z.txt");
	assert_string_equal(x->format, "yolo");
	assert_int_equal(x->normalized, 1);
	assert_int_equal(x->declared_width, 0);
	assert_image(x, "cam/x.jpg");
	assert_sha_of(x);
	assert_int_equal(x->nboxes, 2);
	assert_box(&x->boxes[0], 0, 0.375, 0.25, 0.625, 0.75);
	assert_box(&x->boxes[1], 2, 0, 0.625, 0.5, 0.875);
	assert_image(y, "set/images/train/y.PNG");
	assert_int_equal(y->nboxes, 1);
	assert_box(&y->boxes[0], 1, 0, 0, 1, 1);
	assert_image(z, "images/z.jpeg");
	assert_int_equal(z->nboxes, 0);
	assert_null(x->corrected_by);
	assert_null(x->corrected_at);
	mlf_correction_set_release(&set);
	mlf_problems_release(&p);
}

static void test_coco(void **state)
{
	(void)state;
	fresh_root();
	put("export/a.jpg", NULL);
	put("export/images/b.jpg", NULL);   /* found through the images/ fallback */
	put("export/c.png", NULL);
	put("export/coco.json",
	    "{\"info\": {}, \"licenses\": [],\n"
	    " \"images\": [{\"id\": 10, \"file_name\": \"a.jpg\", \"width\": 64, \"height\": 48},\n"
	    "            {\"id\": 3, \"file_name\": \"b.jpg\", \"width\": 32, \"height\": 16},\n"
	    "            {\"id\": 7, \"file_name\": \"c.png\", \"width\": 8, \"height\": 8}],\n"
	    " \"annotations\": [\n"
	    "   {\"id\": 1, \"image_id\": 10, \"category_id\": 5, \"bbox\": [1, 2, 10, 20], \"iscrowd\": 0},\n"
	    "   {\"id\": 2, \"image_id\": 3, \"category_id\": 9, \"bbox\": [0.5, 0, 4, 4]},\n"
	    "   {\"id\": 3, \"image_id\": 10, \"category_id\": 9, \"bbox\": [5, 5, 1, 1]},\n"
	    "   {\"id\": 4, \"image_id\": 10, \"category_id\": 5, \"bbox\": [0, 0, 64, 48], \"iscrowd\": 1}],\n"
	    " \"categories\": [{\"id\": 5, \"name\": \"person\"}, {\"id\": 9, \"name\": \"car\"}]}\n");

	struct mlf_correction_set set;
	struct mlf_problems p = MLF_PROBLEMS_INIT;
	load(&set, &p);
	assert_no_problems(&p);
	assert_int_equal(set.n, 3);
	for (long i = 0; i < 3; i++) {
		assert_string_equal(set.items[i].source, "export/coco.json");
		assert_int_equal(set.items[i].source_index, i);
		assert_string_equal(set.items[i].format, "coco");
		assert_int_equal(set.items[i].normalized, 0);
		assert_sha_of(&set.items[i]);
	}
	const struct mlf_correction *a = &set.items[0], *b = &set.items[1], *c = &set.items[2];
	assert_image(a, "export/a.jpg");
	assert_int_equal(a->declared_width, 64);
	assert_int_equal(a->declared_height, 48);
	assert_int_equal(a->nboxes, 2);  /* the crowd region is skipped */
	assert_box(&a->boxes[0], 1, 1, 2, 11, 22);
	assert_box(&a->boxes[1], 0, 5, 5, 6, 6);
	assert_image(b, "export/images/b.jpg");
	assert_int_equal(b->nboxes, 1);
	assert_box(&b->boxes[0], 0, 0.5, 0, 4.5, 4);
	assert_image(c, "export/c.png");
	assert_int_equal(c->nboxes, 0);
	mlf_correction_set_release(&set);
	mlf_problems_release(&p);
}

static void test_labelstudio(void **state)
{
	(void)state;
	fresh_root();
	put("ls/frame1.jpg", NULL);
	put("ls/images/front cam.png", NULL);
	put("ls/export.json",
	    "[{\"id\": 1, \"data\": {\"image\": \"/data/upload/3/1f2e3d4c-frame1.jpg\"},\n"
	    "  \"annotations\": [\n"
	    "   {\"id\": 11, \"completed_by\": 7, \"updated_at\": \"2026-01-01T10:00:00Z\", \"result\": [\n"
	    "     {\"type\": \"rectanglelabels\", \"value\": {\"x\": 0, \"y\": 0, \"width\": 1, \"height\": 1,\n"
	    "      \"rectanglelabels\": [\"car\"]}}]},\n"
	    "   {\"id\": 12, \"completed_by\": 8, \"updated_at\": \"2026-01-03T10:00:00Z\",\n"
	    "    \"was_cancelled\": true, \"result\": []},\n"
	    "   {\"id\": 13, \"completed_by\": 9, \"updated_at\": \"2026-01-02T10:00:00Z\", \"result\": [\n"
	    "     {\"type\": \"rectanglelabels\", \"original_width\": 640, \"original_height\": 480,\n"
	    "      \"value\": {\"x\": 10, \"y\": 20, \"width\": 30, \"height\": 40, \"rotation\": 0,\n"
	    "      \"rectanglelabels\": [\"person\"]}},\n"
	    "     {\"type\": \"choices\", \"value\": {\"choices\": [\"day\"]}},\n"
	    "     {\"type\": \"rectanglelabels\", \"original_width\": 640, \"original_height\": 480,\n"
	    "      \"value\": {\"x\": 50, \"y\": 50, \"width\": 50, \"height\": 25,\n"
	    "      \"rectanglelabels\": [\"truck\"]}}]}]},\n"
	    " {\"id\": 2, \"data\": {\"image\": \"/data/local-files/?d=cams%2Ffront%20cam.png\"},\n"
	    "  \"annotations\": [{\"completed_by\": \"bob\", \"updated_at\": \"2026-02-01T00:00:00Z\",\n"
	    "   \"result\": []}]},\n"
	    " {\"id\": 3, \"data\": {\"image\": \"/data/upload/3/unlabelled.jpg\"}, \"annotations\": []}]\n");

	struct mlf_correction_set set;
	struct mlf_problems p = MLF_PROBLEMS_INIT;
	load(&set, &p);
	assert_no_problems(&p);
	assert_int_equal(set.n, 2);  /* task 3 has no annotation: no correction */
	const struct mlf_correction *a = &set.items[0], *b = &set.items[1];
	assert_string_equal(a->source, "ls/export.json");
	assert_int_equal(a->source_index, 0);
	assert_int_equal(b->source_index, 1);
	assert_string_equal(a->format, "labelstudio");
	assert_sha_of(a);
	assert_image(a, "ls/frame1.jpg");
	assert_int_equal(a->normalized, 1);
	assert_int_equal(a->declared_width, 640);
	assert_int_equal(a->declared_height, 480);
	assert_string_equal(a->corrected_by, "9");  /* the newest not cancelled */
	assert_string_equal(a->corrected_at, "2026-01-02T10:00:00Z");
	assert_int_equal(a->nboxes, 2);
	assert_box(&a->boxes[0], 1, 0.1, 0.2, 0.4, 0.6);
	assert_box(&a->boxes[1], 2, 0.5, 0.5, 1.0, 0.75);
	assert_image(b, "ls/images/front cam.png");
	assert_int_equal(b->nboxes, 0);
	assert_int_equal(b->declared_width, 0);
	assert_string_equal(b->corrected_by, "bob");
	mlf_correction_set_release(&set);
	mlf_problems_release(&p);
}

static void test_mixed_order(void **state)
{
	(void)state;
	fresh_root();
	put("b/x.jpg", NULL);
	put("b/x.txt", "0 0.5 0.5 0.1 0.1\n");
	put("a.jpg", NULL);
	put("c.json", "[{\"data\": {\"image\": \"a.jpg\"}, \"annotations\": [{\"result\": []}]},"
	    " {\"data\": {\"image\": \"a.jpg\"}, \"annotations\": [{\"result\": []}]}]");
	put("a.json", "{\"format\": \"mlf.correction\", \"version\": 1, \"image\": \"a.jpg\", "
	    "\"width\": 1, \"height\": 1, \"boxes\": []}");
	struct mlf_correction_set set;
	struct mlf_problems p = MLF_PROBLEMS_INIT;
	load(&set, &p);
	assert_no_problems(&p);
	assert_int_equal(set.n, 4);
	assert_string_equal(set.items[0].source, "a.json");
	assert_string_equal(set.items[1].source, "b/x.txt");
	assert_string_equal(set.items[2].source, "c.json");
	assert_int_equal(set.items[2].source_index, 0);
	assert_int_equal(set.items[3].source_index, 1);
	mlf_correction_set_release(&set);
	mlf_problems_release(&p);
}

static void test_missing_root(void **state)
{
	(void)state;
	fresh_root();
	struct mlf_correction_set set;
	struct mlf_problems p = MLF_PROBLEMS_INIT;
	struct mlf_error err = MLF_ERROR_INIT;
	char *nope = mlf_path_join(base, "nope");
	assert_int_equal(mlf_corrections_load(nope, &classes, &set, &p, &err), -1);
	assert_int_equal(err.status, MLF_EX_NOINPUT);
	assert_non_null(strstr(err.msg, nope));
	assert_int_equal(set.n, 0);
	free(nope);

	char *file = mlf_path_join(base, "outside.jpg");
	mlf_error_clear(&err);
	assert_int_equal(mlf_corrections_load(file, &classes, &set, &p, &err), -1);
	assert_int_equal(err.status, MLF_EX_NOINPUT);
	assert_non_null(strstr(err.msg, "not a folder"));
	free(file);
	mlf_problems_release(&p);
}

static void test_class_names(void **state)
{
	(void)state;
	assert_int_equal(mlf_class_names_find(&classes, "truck"), 2);
	assert_int_equal(mlf_class_names_find(&classes, "Truck"), -1);
	assert_int_equal(mlf_class_names_find(NULL, "car"), -1);
	struct mlf_class_names c = { NULL, 0 };
	c.names = malloc(2 * sizeof(*c.names));
	assert_non_null(c.names);
	c.names[0] = strdup("a");
	c.names[1] = strdup("b");
	c.n = 2;
	assert_int_equal(mlf_class_names_find(&c, "b"), 1);
	mlf_class_names_release(&c);
	assert_null(c.names);
	assert_int_equal(c.n, 0);
	mlf_class_names_release(&c);
}

/* ---- the bad-input corpus ---- */

#define HEAD "{\"format\": \"mlf.correction\", \"version\": 1, "
#define IMG "\"image\": \"img.jpg\", \"width\": 64, \"height\": 48, "
#define BOXES(b) "\"boxes\": [" b "]"
#define BOX "{\"class\": \"car\", \"xyxy\": [1, 2, 30, 40]}"
#define NATIVE(rest) HEAD rest "}"

#define COCO_IMAGES "\"images\": [{\"id\": 1, \"file_name\": \"c1.jpg\", \"width\": 64, \"height\": 48}," \
	" {\"id\": 2, \"file_name\": \"c2.jpg\", \"width\": 64, \"height\": 48}]"
#define COCO_CATS "\"categories\": [{\"id\": 1, \"name\": \"car\"}, {\"id\": 2, \"name\": \"person\"}]"
#define COCO_ANN(img, cat, bbox) "{\"image_id\": " #img ", \"category_id\": " #cat ", \"bbox\": " bbox "}"

#define LS_TASK(image, value) "[{\"data\": {\"image\": \"" image "\"}, \"annotations\": [{\"result\": " \
	"[{\"type\": \"rectanglelabels\", \"original_width\": 64, \"original_height\": 48, " \
	"\"value\": " value "}]}]}]"
#define LS_VALUE(extra, labels) "{\"x\": 10, \"y\": 20, \"width\": 30, \"height\": 40, " extra \
	"\"rectanglelabels\": " labels "}"

struct bad_case {
	const char *name;
	struct { const char *rel, *text; } files[4];
	const char *file, *field, *message;  /* the problem expected */
	const char *left_out;                /* the correction not in the set */
	long left_out_index;
	size_t kept;                         /* good corrections besides good.json */
};

static const struct bad_case bad_cases[] = {
	{ "malformed JSON", { { "bad.json", HEAD "\n  \"image\": \"img.jpg\",,\n}" } },
	  "bad.json", NULL, "line 2, column", "bad.json", -1, 0 },
	{ "duplicate key", { { "bad.json", NATIVE(IMG BOXES(BOX) ", \"width\": 64") } },
	  "bad.json", NULL, "duplicate object key", "bad.json", -1, 0 },
	{ "wrong version", { { "bad.json", "{\"format\": \"mlf.correction\", \"version\": 2, "
			       IMG BOXES(BOX) "}" } },
	  "bad.json", "version", "unsupported version 2", "bad.json", -1, 0 },
	{ "version as a string", { { "bad.json", "{\"format\": \"mlf.correction\", \"version\": \"1\", "
				     IMG BOXES(BOX) "}" } },
	  "bad.json", "version", "unsupported version \"1\"", "bad.json", -1, 0 },
	{ "missing version", { { "bad.json", "{\"format\": \"mlf.correction\", " IMG BOXES(BOX) "}" } },
	  "bad.json", "version", "missing", "bad.json", -1, 0 },
	{ "missing image key", { { "bad.json", NATIVE("\"width\": 64, \"height\": 48, " BOXES(BOX)) } },
	  "bad.json", "image", "missing", "bad.json", -1, 0 },
	{ "image escaping with ..", { { "bad.json", NATIVE("\"image\": \"../outside.jpg\", \"width\": 64, "
							 "\"height\": 48, " BOXES(BOX)) } },
	  "bad.json", "image", "leads outside the corrections folder", "bad.json", -1, 0 },
	{ "image escaping from a subfolder", { { "sub/bad.json", NATIVE("\"image\": \"../../outdir/x.jpg\", "
									"\"width\": 64, \"height\": 48, " BOXES(BOX)) } },
	  "sub/bad.json", "image", "leads outside", "sub/bad.json", -1, 0 },
	{ "absolute image path", { { "bad.json", NATIVE("\"image\": \"/etc/hostname\", \"width\": 64, "
						      "\"height\": 48, " BOXES(BOX)) } },
	  "bad.json", "image", "absolute image path", "bad.json", -1, 0 },
	{ "symlink escaping root", { { "dirlink", "@link:../outdir" },
				     { "bad.json", NATIVE("\"image\": \"dirlink/x.jpg\", \"width\": 64, "
							  "\"height\": 48, " BOXES(BOX)) } },
	  "bad.json", "image", "through a symbolic link", "bad.json", -1, 0 },
	{ "image missing", { { "bad.json", NATIVE("\"image\": \"gone.jpg\", \"width\": 64, "
						  "\"height\": 48, " BOXES(BOX)) } },
	  "bad.json", "image", "not found", "bad.json", -1, 0 },
	{ "width not a number", { { "bad.json", NATIVE("\"image\": \"img.jpg\", \"width\": \"64\", "
						       "\"height\": 48, " BOXES(BOX)) } },
	  "bad.json", "width", "positive integer", "bad.json", -1, 0 },
	{ "negative height", { { "bad.json", NATIVE("\"image\": \"img.jpg\", \"width\": 64, "
						    "\"height\": -48, " BOXES(BOX)) } },
	  "bad.json", "height", "positive integer", "bad.json", -1, 0 },
	{ "boxes not an array", { { "bad.json", NATIVE(IMG "\"boxes\": " BOX) } },
	  "bad.json", "boxes", "must be an array", "bad.json", -1, 0 },
	{ "boxes missing", { { "bad.json", NATIVE("\"image\": \"img.jpg\", \"width\": 64, \"height\": 48") } },
	  "bad.json", "boxes", "missing", "bad.json", -1, 0 },
	{ "box without class", { { "bad.json", NATIVE(IMG BOXES("{\"xyxy\": [1, 2, 3, 4]}")) } },
	  "bad.json", "boxes[0]", "no \"class\"", "bad.json", -1, 0 },
	{ "both class and class_id", { { "bad.json", NATIVE(IMG BOXES("{\"class\": \"car\", \"class_id\": 0, "
								       "\"xyxy\": [1, 2, 3, 4]}")) } },
	  "bad.json", "boxes[0]", "not both", "bad.json", -1, 0 },
	{ "unknown class name", { { "bad.json", NATIVE(IMG BOXES(BOX ", {\"class\": \"unicorn\", "
								 "\"xyxy\": [1, 2, 3, 4]}")) } },
	  "bad.json", "boxes[1].class", "unknown class 'unicorn'", "bad.json", -1, 0 },
	{ "class_id out of range", { { "bad.json", NATIVE(IMG BOXES("{\"class_id\": 3, \"xyxy\": [1, 2, 3, 4]}")) } },
	  "bad.json", "boxes[0].class_id", "class id 3 is out of range", "bad.json", -1, 0 },
	{ "xyxy with 3 numbers", { { "bad.json", NATIVE(IMG BOXES("{\"class\": \"car\", \"xyxy\": [1, 2, 3]}")) } },
	  "bad.json", "boxes[0].xyxy", "4 numbers", "bad.json", -1, 0 },
	{ "xyxy with a string", { { "bad.json", NATIVE(IMG BOXES("{\"class\": \"car\", \"xyxy\": [1, \"2\", 3, 4]}")) } },
	  "bad.json", "boxes[0].xyxy", "element 1 is not a finite number", "bad.json", -1, 0 },
	{ "NaN as a string", { { "bad.json", NATIVE(IMG BOXES("{\"class\": \"car\", \"xyxy\": [1, 2, \"NaN\", 4]}")) } },
	  "bad.json", "boxes[0].xyxy", "element 2 is not a finite number", "bad.json", -1, 0 },
	{ "x2 < x1", { { "bad.json", NATIVE(IMG BOXES("{\"class\": \"car\", \"xyxy\": [30, 2, 10, 40]}")) } },
	  "bad.json", "boxes[0].xyxy", "degenerate or negative box", "bad.json", -1, 0 },
	{ "unknown top-level key", { { "bad.json", NATIVE(IMG "\"boxs\": [], " BOXES(BOX)) } },
	  "bad.json", "boxs", "unknown key", "bad.json", -1, 0 },
	{ "unknown box key", { { "bad.json", NATIVE(IMG BOXES("{\"class\": \"car\", \"confidence\": 0.5, "
							      "\"xyxy\": [1, 2, 3, 4]}")) } },
	  "bad.json", "boxes[0].confidence", "unknown key", "bad.json", -1, 0 },
	{ "bad corrected_at", { { "bad.json", NATIVE(IMG BOXES(BOX) ", \"corrected_at\": \"2026-11-20 9:15\"") } },
	  "bad.json", "corrected_at", "RFC 3339", "bad.json", -1, 0 },
	{ "corrected_by not a string", { { "bad.json", NATIVE(IMG BOXES(BOX) ", \"corrected_by\": 7") } },
	  "bad.json", "corrected_by", "must be a string", "bad.json", -1, 0 },
	{ "prediction not an object", { { "bad.json", NATIVE(IMG BOXES(BOX) ", \"prediction\": [1]") } },
	  "bad.json", "prediction", "must be an object", "bad.json", -1, 0 },
	{ "non-UTF-8 JSON", { { "bad.json", NATIVE(IMG BOXES(BOX) ", \"corrected_by\": \"\xff\xfe\"") } },
	  "bad.json", NULL, "not valid UTF-8", "bad.json", -1, 0 },
	{ "unrecognised JSON shape", { { "bad.json", "{\"hello\": \"world\"}" } },
	  "bad.json", NULL, "not a recognised correction format", "bad.json", -1, 0 },
	{ "another format value", { { "bad.json", "{\"format\": \"via\", \"version\": 1}" } },
	  "bad.json", "format", "not a recognised correction format", "bad.json", -1, 0 },
	{ "a JSON array of numbers", { { "bad.json", "[1, 2, 3]" } },
	  "bad.json", NULL, "not a recognised correction format", "bad.json", -1, 0 },
	/* YOLO */
	{ "YOLO line with 4 fields", { { "y.jpg", NULL }, { "y.txt", "0 0.5 0.5 0.1 0.1\n1 0.5 0.5 0.1\n" } },
	  "y.txt", "line 2", "expected 5 fields", "y.txt", -1, 0 },
	{ "YOLO class out of range", { { "y.jpg", NULL }, { "y.txt", "3 0.5 0.5 0.1 0.1\n" } },
	  "y.txt", "line 1", "class id 3 is out of range", "y.txt", -1, 0 },
	{ "YOLO class not an integer", { { "y.jpg", NULL }, { "y.txt", "1.0 0.5 0.5 0.1 0.1\n" } },
	  "y.txt", "line 1", "not an integer", "y.txt", -1, 0 },
	{ "YOLO negative width", { { "y.jpg", NULL }, { "y.txt", "\n\n0 0.5 0.5 -0.1 0.1\n" } },
	  "y.txt", "line 3", "must be positive", "y.txt", -1, 0 },
	{ "YOLO nan", { { "y.jpg", NULL }, { "y.txt", "0 nan 0.5 0.1 0.1\n" } },
	  "y.txt", "line 1", "cx 'nan' is not a finite number", "y.txt", -1, 0 },
	{ "YOLO segment line", { { "images/y.png", NULL },
				 { "labels/y.txt", "0 0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.2\n" } },
	  "labels/y.txt", "line 1", "segment", "labels/y.txt", -1, 0 },
	{ "YOLO label without image", { { "orphan.txt", "0 0.5 0.5 0.1 0.1\n" } },
	  "orphan.txt", NULL, "label without image", "orphan.txt", -1, 0 },
	{ "YOLO non-UTF-8 label", { { "y.jpg", NULL }, { "y.txt", "0 0.5 0.5 0.1 0.1 \xc3\x28\n" } },
	  "y.txt", NULL, "not valid UTF-8", "y.txt", -1, 0 },
	{ "YOLO two label files", { { "images/y.jpg", NULL }, { "images/y.txt", "0 0.5 0.5 0.1 0.1\n" },
				    { "labels/y.txt", "0 0.5 0.5 0.1 0.1\n" } },
	  "images/y.jpg", NULL, "two label files", "images/y.txt", -1, 0 },
	{ "YOLO label for two images", { { "y.jpg", NULL }, { "y.png", NULL }, { "y.txt", "0 0.5 0.5 0.1 0.1\n" } },
	  "y.txt", NULL, "labels two images", "y.txt", -1, 0 },
	/* COCO */
	{ "COCO unknown category", { { "c1.jpg", NULL }, { "c2.jpg", NULL },
				     { "coco.json", "{" COCO_IMAGES ", \"annotations\": ["
				       COCO_ANN(1, 3, "[1, 2, 3, 4]") ", " COCO_ANN(2, 1, "[1, 2, 3, 4]")
				       "], \"categories\": [{\"id\": 1, \"name\": \"car\"}, "
				       "{\"id\": 3, \"name\": \"unicorn\"}]}" } },
	  "coco.json", "categories[1].name", "unknown class 'unicorn'", "coco.json", 0, 1 },
	{ "COCO bbox with w=0", { { "c1.jpg", NULL }, { "c2.jpg", NULL },
				  { "coco.json", "{" COCO_IMAGES ", \"annotations\": ["
				    COCO_ANN(1, 1, "[1, 2, 0, 4]") "], " COCO_CATS "}" } },
	  "coco.json", "annotations[0].bbox", "degenerate or negative box", "coco.json", 0, 1 },
	{ "COCO bbox not numbers", { { "c1.jpg", NULL }, { "c2.jpg", NULL },
				     { "coco.json", "{" COCO_IMAGES ", \"annotations\": ["
				       COCO_ANN(2, 1, "[1, 2, 3]") "], " COCO_CATS "}" } },
	  "coco.json", "annotations[0].bbox", "4 numbers", "coco.json", 1, 1 },
	{ "COCO annotation for an unknown image id", { { "c1.jpg", NULL }, { "c2.jpg", NULL },
				     { "coco.json", "{" COCO_IMAGES ", \"annotations\": ["
				       COCO_ANN(1, 1, "[1, 2, 3, 4]") ", " COCO_ANN(99, 1, "[1, 2, 3, 4]")
				       "], " COCO_CATS "}" } },
	  "coco.json", "annotations[1].image_id", "no image with id 99", NULL, -1, 2 },
	{ "COCO annotation for an unknown category id", { { "c1.jpg", NULL }, { "c2.jpg", NULL },
				     { "coco.json", "{" COCO_IMAGES ", \"annotations\": ["
				       COCO_ANN(2, 42, "[1, 2, 3, 4]") "], " COCO_CATS "}" } },
	  "coco.json", "annotations[0].category_id", "no category with id 42", "coco.json", 1, 1 },
	{ "COCO duplicate image id", { { "c1.jpg", NULL }, { "c2.jpg", NULL },
				       { "coco.json", "{\"images\": [{\"id\": 1, \"file_name\": \"c1.jpg\", "
					 "\"width\": 64, \"height\": 48}, {\"id\": 1, \"file_name\": "
					 "\"c2.jpg\", \"width\": 64, \"height\": 48}], \"annotations\": [], "
					 COCO_CATS "}" } },
	  "coco.json", "images[1].id", "duplicate image id 1", "coco.json", 0, 0 },
	{ "COCO missing file", { { "c2.jpg", NULL },
				 { "coco.json", "{" COCO_IMAGES ", \"annotations\": [], " COCO_CATS "}" } },
	  "coco.json", "images[0].file_name", "not found", "coco.json", 0, 1 },
	{ "COCO image without width", { { "c1.jpg", NULL },
					{ "coco.json", "{\"images\": [{\"id\": 1, \"file_name\": \"c1.jpg\", "
					  "\"height\": 48}], \"annotations\": [], " COCO_CATS "}" } },
	  "coco.json", "images[0].width", "missing", "coco.json", 0, 0 },
	{ "COCO file_name escaping", { { "c1.jpg", NULL },
				       { "sub/coco.json", "{\"images\": [{\"id\": 1, \"file_name\": "
					 "\"../../outside.jpg\", \"width\": 64, \"height\": 48}], "
					 "\"annotations\": [], " COCO_CATS "}" } },
	  "sub/coco.json", "images[0].file_name", "leads outside", "sub/coco.json", 0, 0 },
	{ "COCO without categories", { { "coco.json", "{" COCO_IMAGES ", \"annotations\": []}" } },
	  "coco.json", "categories", "missing", "coco.json", 0, 0 },
	/* Label Studio */
	{ "Label Studio rotation", { { "ls.jpg", NULL },
				     { "ls.json", LS_TASK("/data/upload/1/ls.jpg",
							  LS_VALUE("\"rotation\": 15, ", "[\"car\"]")) } },
	  "ls.json", "[0].annotations[0].result[0].value.rotation", "rotated boxes are not supported",
	  "ls.json", 0, 0 },
	{ "Label Studio unknown label", { { "ls.jpg", NULL },
					  { "ls.json", LS_TASK("/data/upload/1/ls.jpg",
							       LS_VALUE("", "[\"unicorn\"]")) } },
	  "ls.json", "[0].annotations[0].result[0].value.rectanglelabels", "unknown class 'unicorn'",
	  "ls.json", 0, 0 },
	{ "Label Studio two labels on one box", { { "ls.jpg", NULL },
						  { "ls.json", LS_TASK("/data/upload/1/ls.jpg",
								       LS_VALUE("", "[\"car\", \"truck\"]")) } },
	  "ls.json", "[0].annotations[0].result[0].value.rectanglelabels", "exactly one label",
	  "ls.json", 0, 0 },
	{ "Label Studio missing image", { { "ls.json", LS_TASK("/data/upload/1/ls-gone.jpg",
							       LS_VALUE("", "[\"car\"]")) } },
	  "ls.json", "[0].data.image", "not found", "ls.json", 0, 0 },
	{ "Label Studio zero width", { { "ls.jpg", NULL },
				       { "ls.json", "[{\"data\": {\"image\": \"ls.jpg\"}, \"annotations\": "
					 "[{\"result\": [{\"type\": \"rectanglelabels\", \"value\": {\"x\": 1, "
					 "\"y\": 1, \"width\": 0, \"height\": 3, \"rectanglelabels\": "
					 "[\"car\"]}}]}]}]" } },
	  "ls.json", "[0].annotations[0].result[0].value", "degenerate or negative box", "ls.json", 0, 0 },
	{ "Label Studio polygon", { { "ls.jpg", NULL },
				    { "ls.json", "[{\"data\": {\"image\": \"ls.jpg\"}, \"annotations\": "
				      "[{\"result\": [{\"type\": \"polygonlabels\", \"value\": {\"points\": "
				      "[[1, 2], [3, 4], [5, 1]], \"polygonlabels\": [\"car\"]}}]}]}]" } },
	  "ls.json", "[0].annotations[0].result[0].type", "only rectanglelabels", "ls.json", 0, 0 },
	{ "Label Studio task without annotations key", { { "ls.jpg", NULL },
				    { "ls.json", "[{\"data\": {\"image\": \"ls.jpg\"}}]" } },
	  "ls.json", "[0].annotations", "missing", "ls.json", 0, 0 },
};

static void test_bad_inputs(void **state)
{
	(void)state;
	size_t failures = 0;
	for (size_t k = 0; k < sizeof(bad_cases) / sizeof(bad_cases[0]); k++) {
		const struct bad_case *bc = &bad_cases[k];
		fresh_root();
		put("img.jpg", NULL);
		put("good.jpg", NULL);
		put("good.json", NATIVE("\"image\": \"good.jpg\", \"width\": 64, \"height\": 48, " BOXES(BOX)));
		for (size_t f = 0; f < 4 && bc->files[f].rel; f++)
			put(bc->files[f].rel, bc->files[f].text);

		struct mlf_correction_set set;
		struct mlf_problems p = MLF_PROBLEMS_INIT;
		load(&set, &p);
		int ok = has_problem(&p, bc->file, bc->field, bc->message) &&
			 set.n == 1 + bc->kept && find(&set, "good.json", -1) &&
			 (!bc->left_out || !find(&set, bc->left_out, bc->left_out_index));
		for (size_t i = 0; i < p.n; i++)
			if (!strcmp(p.items[i].file, "good.json"))
				ok = 0;
		if (!ok) {
			fprintf(stderr, "case '%s': expected %s: %s: ...%s... and %zu corrections; got %zu\n",
				bc->name, bc->file, bc->field ? bc->field : "(no field)", bc->message,
				1 + bc->kept, set.n);
			print_problems(&p);
			failures++;
		}
		mlf_correction_set_release(&set);
		mlf_problems_release(&p);
	}
	assert_true(sizeof(bad_cases) / sizeof(bad_cases[0]) >= 30);
	assert_int_equal(failures, 0);
}

static void test_many_bad_lines_are_capped(void **state)
{
	(void)state;
	fresh_root();
	put("seg.jpg", NULL);
	char text[4096] = "";
	for (int i = 0; i < 40; i++)
		strcat(text, "0 0.1 0.1 0.2 0.1 0.2 0.2\n");
	put("seg.txt", text);
	struct mlf_correction_set set;
	struct mlf_problems p = MLF_PROBLEMS_INIT;
	load(&set, &p);
	assert_int_equal(set.n, 0);
	assert_int_equal(p.n, 11);
	assert_true(has_problem(&p, "seg.txt", "line 10", "segment"));
	assert_true(has_problem(&p, "seg.txt", NULL, "and 30 more bad lines"));
	mlf_correction_set_release(&set);
	mlf_problems_release(&p);
}

/* Empty folders (the root, or sub-folders beside nothing) hold no correction and no
 * problem; sorting their empty listings must not hand qsort a NULL array (UBSan). */
static void test_empty_folders(void **state)
{
	(void)state;
	for (int round = 0; round < 2; round++) {
		fresh_root();
		if (round == 1) {
			char *a = mlf_path_join(root, "a"), *bc = mlf_path_join(root, "b/c");
			assert_int_equal(mlf_mkdir_p(a, 0755, NULL), 0);
			assert_int_equal(mlf_mkdir_p(bc, 0755, NULL), 0);
			free(a);
			free(bc);
		}
		struct mlf_correction_set set;
		struct mlf_problems p = MLF_PROBLEMS_INIT;
		load(&set, &p);
		assert_int_equal(set.n, 0);
		assert_int_equal(p.n, 0);
		mlf_correction_set_release(&set);
		mlf_problems_release(&p);
	}
}

/* A correction file over the limit is a problem and is never parsed (memory stays bounded). */
static void test_size_limit(void **state)
{
	(void)state;
	fresh_root();
	put("big.json", "{}");
	put("labels/big.txt", "0 0.5 0.5 0.1 0.1\n");
	put("images/big.jpg", "not read");
	const char *names[] = { "big.json", "labels/big.txt" };
	for (int i = 0; i < 2; i++) {
		char *path = mlf_path_join(root, names[i]);
		assert_int_equal(truncate(path, MLF_CORRECTION_MAX_BYTES + 1), 0);  /* sparse */
		free(path);
	}
	put("ok.json", "{\"format\": \"mlf.correction\"}");
	struct mlf_correction_set set;
	struct mlf_problems p = MLF_PROBLEMS_INIT;
	load(&set, &p);
	size_t big = 0;
	for (size_t i = 0; i < p.n; i++)
		if (strstr(p.items[i].message, "a correction file may be at most 16 MiB")) {
			big++;
			assert_true(!strcmp(p.items[i].file, "big.json") ||
				    !strcmp(p.items[i].file, "labels/big.txt"));
		}
	assert_int_equal(big, 2);
	mlf_correction_set_release(&set);
	mlf_problems_release(&p);
}

/* A name that is not UTF-8 is refused, and recorded escaped (JSON holds only UTF-8). */
static void test_name_not_utf8(void **state)
{
	(void)state;
	fresh_root();
	put("bad\xff.json", "{\"format\": \"mlf.correction\"}");
	put("d\xe9j\xe0/x.jpg", "an image in a Latin-1 named folder");
	put("caf\xc3\xa9.txt", "");  /* valid UTF-8: not this problem */
	struct mlf_correction_set set;
	struct mlf_problems p = MLF_PROBLEMS_INIT;
	load(&set, &p);
	const char *want[] = { "bad\\xff.json", "d\\xe9j\\xe0/x.jpg" };
	size_t found = 0;
	for (size_t i = 0; i < p.n; i++) {
		if (!strstr(p.items[i].message, "not valid UTF-8"))
			continue;
		assert_string_equal(p.items[i].file, want[found]);
		found++;
	}
	assert_int_equal(found, 2);
	json_t *doc = mlf_problems_json(&p);  /* every name fits in JSON */
	assert_int_equal(json_array_size(doc), p.n);
	json_decref(doc);
	for (size_t i = 0; i < set.n; i++)
		assert_null(strstr(set.items[i].source, "bad"));
	mlf_correction_set_release(&set);
	mlf_problems_release(&p);
}

/* The walk: linked folders are not read, linked files only inside, too deep a folder is a problem. */
static void test_walk_rules(void **state)
{
	(void)state;
	fresh_root();
	put("esc.jpg", "@link:../outside.jpg");
	put("linkdir", "@link:../outdir");
	put("notes.md", "@link:nowhere");
	struct mlf_buf deep = MLF_BUF_INIT;
	mlf_buf_adds(&deep, "d");
	for (int i = 0; i < MLF_WALK_MAX_DEPTH; i++)
		mlf_buf_adds(&deep, "/d");
	char *deep_dir = mlf_xstrdup(deep.data);
	mlf_buf_adds(&deep, "/bad.json");
	put(deep.data, "{");

	struct mlf_correction_set set;
	struct mlf_problems p = MLF_PROBLEMS_INIT;
	load(&set, &p);
	assert_int_equal(set.n, 0);
	if (p.n != 3)
		print_problems(&p);
	assert_int_equal(p.n, 3);
	assert_true(has_problem(&p, deep_dir, NULL, "folder nested more than 64 levels deep; not read"));
	assert_true(has_problem(&p, "esc.jpg", NULL, "symbolic link leads outside the corrections folder"));
	/* a linked folder outside is said, never skipped unsaid */
	assert_true(has_problem(&p, "linkdir", NULL, "symbolic link to a folder outside the corrections folder"));
	mlf_correction_set_release(&set);
	mlf_problems_release(&p);
	mlf_buf_release(&deep);
	free(deep_dir);
}

/* Links that stay inside are followed, and what they lead to is read once. */
static void test_links_inside(void **state)
{
	(void)state;
	fresh_root();
	put("team/img.jpg", NULL);
	put("team/a.json", NATIVE(IMG BOXES(BOX)));
	put("alias", "@link:team");                    /* a folder inside: read at team/ */
	put("b.json", "@link:team/a.json");            /* a file inside: read at team/a.json */
	put(".stash/img.jpg", NULL);
	put(".stash/c.json", NATIVE(IMG BOXES(BOX)));
	put("img.jpg", NULL);
	put("c.json", "@link:.stash/c.json");          /* a file in a hidden folder: read here */
	put("hidden", "@link:.stash");                 /* a hidden folder: said */
	put("loop", "@link:.");                        /* the root itself: read once, no loop */

	struct mlf_correction_set set;
	struct mlf_problems p = MLF_PROBLEMS_INIT;
	load(&set, &p);
	if (p.n != 1)
		print_problems(&p);
	assert_int_equal(p.n, 1);
	assert_int_equal(set.n, 2);
	assert_string_equal(set.items[0].source, "c.json");
	assert_string_equal(set.items[1].source, "team/a.json");
	assert_true(has_problem(&p, "hidden", NULL, "symbolic link to the hidden folder '.stash'"));
	mlf_correction_set_release(&set);
	mlf_problems_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_native),
		cmocka_unit_test(test_links_inside),
		cmocka_unit_test(test_yolo),
		cmocka_unit_test(test_coco),
		cmocka_unit_test(test_labelstudio),
		cmocka_unit_test(test_mixed_order),
		cmocka_unit_test(test_missing_root),
		cmocka_unit_test(test_class_names),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_many_bad_lines_are_capped),
		cmocka_unit_test(test_empty_folders),
		cmocka_unit_test(test_walk_rules),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_name_not_utf8),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
