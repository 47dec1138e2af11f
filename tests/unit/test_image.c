/* Unit tests for JPEG/PNG decoding, checking and atomic saving (lib/data/image.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jpeglib.h>
#include <png.h>

#include "mlf/base.h"
#include "mlf/data.h"

static char dir[] = "/tmp/mlf-test-image.XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return mlf_remove_tree(dir, NULL);
}

static char *path_of(const char *name)
{
	return mlf_path_join(dir, name);
}

/* A picture with smooth gradients and a block, so JPEG stays close to it. */
static unsigned char *pattern(int w, int h)
{
	unsigned char *p = mlf_xmalloc((size_t)w * h * 3);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			unsigned char *q = p + ((size_t)y * w + x) * 3;
			q[0] = (unsigned char)(x * 255 / (w - 1));
			q[1] = (unsigned char)(y * 255 / (h - 1));
			q[2] = (x > w / 4 && x < w / 2 && y > h / 4 && y < h / 2) ? 200 : 60;
		}
	return p;
}

static int files_beside(const char *name)
{
	/* no temporary file left next to the target */
	char *cmd = mlf_xasprintf("ls -a '%s' | grep -q '%s.tmp'", dir, name);
	int found = system(cmd) == 0;
	free(cmd);
	return found;
}

static void test_png_roundtrip_exact(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	int w = 37, h = 23;
	unsigned char *px = pattern(w, h), *back = NULL;
	char *p = path_of("a.png");
	assert_int_equal(mlf_image_save_png(p, px, w, h, &err), 0);
	assert_false(files_beside("a.png"));
	assert_int_equal(mlf_image_sniff(p), MLF_IMAGE_PNG);
	struct mlf_image_info info;
	assert_int_equal(mlf_image_probe(p, &info, &err), 0);
	assert_int_equal(info.format, MLF_IMAGE_PNG);
	assert_int_equal(info.width, w);
	assert_int_equal(info.height, h);
	assert_int_equal(info.channels, 3);
	int bw, bh;
	assert_int_equal(mlf_image_load_rgb(p, &back, &bw, &bh, &err), 0);
	assert_int_equal(bw, w);
	assert_int_equal(bh, h);
	assert_memory_equal(back, px, (size_t)w * h * 3);
	free(back);
	free(px);
	free(p);
}

static void test_jpeg_roundtrip_close(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	int w = 64, h = 48;
	unsigned char *px = pattern(w, h), *back = NULL;
	char *p = path_of("a.jpg");
	assert_int_equal(mlf_image_save_jpeg(p, px, w, h, 95, &err), 0);
	assert_false(files_beside("a.jpg"));
	assert_int_equal(mlf_image_sniff(p), MLF_IMAGE_JPEG);
	assert_string_equal(mlf_image_format_name(MLF_IMAGE_JPEG), "jpeg");
	struct mlf_image_info info;
	assert_int_equal(mlf_image_probe(p, &info, &err), 0);
	assert_int_equal(info.format, MLF_IMAGE_JPEG);
	assert_int_equal(info.width, w);
	assert_int_equal(info.height, h);
	assert_int_equal(info.channels, 3);
	int bw, bh;
	assert_int_equal(mlf_image_load_rgb(p, &back, &bw, &bh, &err), 0);
	assert_int_equal(bw, w);
	assert_int_equal(bh, h);
	double sum = 0;
	for (size_t i = 0; i < (size_t)w * h * 3; i++)
		sum += abs((int)back[i] - (int)px[i]);
	assert_true(sum / ((double)w * h * 3) < 4.0);
	free(back);
	free(px);
	free(p);
}

/* Write a PNG of any color type with libpng directly. */
static void write_png_raw(const char *path, int w, int h, int color_type, int depth,
			  const unsigned char *rows, size_t stride)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (int y = 0; y < h; y++)
		png_write_row(png, rows + (size_t)y * stride);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	fclose(f);
}

static void test_grey_and_rgba_png(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	unsigned char grey[4 * 3], rgba[4 * 3 * 4], *px = NULL;
	for (int i = 0; i < 12; i++) {
		grey[i] = (unsigned char)(i * 20);
		rgba[i * 4] = (unsigned char)i;
		rgba[i * 4 + 1] = (unsigned char)(i + 100);
		rgba[i * 4 + 2] = (unsigned char)(i + 200);
		rgba[i * 4 + 3] = (unsigned char)(i * 7);
	}
	char *g = path_of("grey.png"), *a = path_of("rgba.png");
	write_png_raw(g, 4, 3, PNG_COLOR_TYPE_GRAY, 8, grey, 4);
	write_png_raw(a, 4, 3, PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba, 16);

	struct mlf_image_info info;
	int w, h;
	assert_int_equal(mlf_image_probe(g, &info, &err), 0);
	assert_int_equal(info.channels, 1);
	assert_int_equal(mlf_image_load_rgb(g, &px, &w, &h, &err), 0);
	assert_int_equal(w, 4);
	assert_int_equal(h, 3);
	for (int i = 0; i < 12; i++) {
		assert_int_equal(px[i * 3], grey[i]);
		assert_int_equal(px[i * 3 + 1], grey[i]);
		assert_int_equal(px[i * 3 + 2], grey[i]);
	}
	free(px);

	assert_int_equal(mlf_image_probe(a, &info, &err), 0);
	assert_int_equal(info.channels, 4);
	assert_int_equal(mlf_image_load_rgb(a, &px, &w, &h, &err), 0);
	for (int i = 0; i < 12; i++)
		assert_memory_equal(px + i * 3, rgba + i * 4, 3);
	free(px);
	free(g);
	free(a);
}

/* A JPEG of 1 (grey) or 4 (CMYK, Adobe-inverted as Photoshop writes) components. */
static void write_jpeg_raw(const char *path, int w, int h, int comps, const unsigned char *px)
{
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr jerr;
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	ci.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&ci);
	jpeg_stdio_dest(&ci, f);
	ci.image_width = (JDIMENSION)w;
	ci.image_height = (JDIMENSION)h;
	ci.input_components = comps;
	ci.in_color_space = comps == 1 ? JCS_GRAYSCALE : JCS_CMYK;
	jpeg_set_defaults(&ci);
	jpeg_set_quality(&ci, 100, TRUE);
	jpeg_start_compress(&ci, TRUE);
	while (ci.next_scanline < ci.image_height) {
		JSAMPROW r = (JSAMPROW)(px + (size_t)ci.next_scanline * w * comps);
		jpeg_write_scanlines(&ci, &r, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	fclose(f);
}

static void test_grey_and_cmyk_jpeg(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	unsigned char grey[16 * 16], cmyk[16 * 16 * 4], *px = NULL;
	memset(grey, 150, sizeof(grey));
	for (int i = 0; i < 16 * 16; i++) {  /* inverted: no cyan, full magenta, no yellow, no black */
		cmyk[i * 4] = 255;
		cmyk[i * 4 + 1] = 0;
		cmyk[i * 4 + 2] = 255;
		cmyk[i * 4 + 3] = 255;
	}
	char *g = path_of("grey.jpg"), *c = path_of("cmyk.jpg");
	write_jpeg_raw(g, 16, 16, 1, grey);
	write_jpeg_raw(c, 16, 16, 4, cmyk);
	struct mlf_image_info info;
	int w, h;
	assert_int_equal(mlf_image_probe(g, &info, &err), 0);
	assert_int_equal(info.channels, 1);
	assert_int_equal(mlf_image_load_rgb(g, &px, &w, &h, &err), 0);
	for (int i = 0; i < 16 * 16 * 3; i++)
		assert_true(abs(px[i] - 150) <= 2);
	free(px);
	assert_int_equal(mlf_image_probe(c, &info, &err), 0);
	assert_int_equal(info.channels, 4);
	assert_int_equal(mlf_image_load_rgb(c, &px, &w, &h, &err), 0);
	assert_true(px[0] >= 250 && px[1] <= 5 && px[2] >= 250);  /* magenta */
	free(px);
	free(g);
	free(c);
}

static void truncate_copy(const char *src, const char *dst, double keep)
{
	char *data;
	size_t len;
	assert_int_equal(mlf_read_file(src, &data, &len, NULL), 0);
	assert_int_equal(mlf_write_file_atomic(dst, data, (size_t)(len * keep), NULL), 0);
	free(data);
}

static void expect_error(const char *path, int status, const char *needle)
{
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_image_info info;
	unsigned char *px = NULL;
	int w, h;
	assert_int_equal(mlf_image_probe(path, &info, &err), -1);
	assert_int_equal(err.status, status);
	assert_non_null(strstr(err.msg, path));
	if (needle && !strstr(err.msg, needle))
		fail_msg("'%s' not in: %s", needle, err.msg);
	mlf_error_clear(&err);
	assert_int_equal(mlf_image_load_rgb(path, &px, &w, &h, &err), -1);
	assert_int_equal(err.status, status);
	assert_null(px);
}

static void test_truncated_files_are_errors(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	int w = 128, h = 96;
	unsigned char *px = pattern(w, h);
	char *j = path_of("full.jpg"), *p = path_of("full.png");
	char *tj = path_of("cut.jpg"), *tp = path_of("cut.png");
	assert_int_equal(mlf_image_save_jpeg(j, px, w, h, 90, &err), 0);
	assert_int_equal(mlf_image_save_png(p, px, w, h, &err), 0);
	truncate_copy(j, tj, 0.6);
	truncate_copy(p, tp, 0.6);
	expect_error(tj, MLF_EX_DATAERR, "JPEG");
	expect_error(tp, MLF_EX_DATAERR, "PNG");
	/* just the header */
	truncate_copy(j, tj, 0.05);
	expect_error(tj, MLF_EX_DATAERR, NULL);
	/* a PNG cut after its image data (no IEND) */
	char *data;
	size_t len;
	assert_int_equal(mlf_read_file(p, &data, &len, NULL), 0);
	assert_int_equal(mlf_write_file_atomic(tp, data, len - 12, NULL), 0);
	free(data);
	expect_error(tp, MLF_EX_DATAERR, NULL);
	/* damaged in the middle, full length: bad entropy-coded data */
	assert_int_equal(mlf_read_file(j, &data, &len, NULL), 0);
	for (size_t i = len / 3; i < len / 3 + 64; i++)
		data[i] = (char)0xff;
	assert_int_equal(mlf_write_file_atomic(tj, data, len, NULL), 0);
	free(data);
	expect_error(tj, MLF_EX_DATAERR, "JPEG");
	free(px);
	free(j);
	free(p);
	free(tj);
	free(tp);
}

static void test_not_an_image_and_missing(void **state)
{
	(void)state;
	char *t = path_of("notes.jpg"), *e = path_of("empty.png"), *m = path_of("missing.jpg");
	const char *text = "this is not a picture\n";
	assert_int_equal(mlf_write_file_atomic(t, text, strlen(text), NULL), 0);
	assert_int_equal(mlf_write_file_atomic(e, "", 0, NULL), 0);
	assert_int_equal(mlf_image_sniff(t), MLF_IMAGE_UNKNOWN);
	expect_error(t, MLF_EX_DATAERR, "not a JPEG or PNG");
	expect_error(e, MLF_EX_DATAERR, NULL);
	expect_error(m, MLF_EX_NOINPUT, NULL);
	assert_int_equal(mlf_image_sniff(m), MLF_IMAGE_UNKNOWN);
	free(t);
	free(e);
	free(m);
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* PNG's chunk CRC (zlib's crc32, which the Makefile does not link directly). */
static uint32_t crc32_png(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return c ^ 0xffffffffu;
}

/* A valid-looking PNG whose IHDR claims 40000x40000 (with a real CRC). */
static void test_oversize_header_refused_quickly(void **state)
{
	(void)state;
	unsigned char b[8 + 25 + 12];
	memcpy(b, "\x89PNG\r\n\x1a\n", 8);
	put32(b + 8, 13);
	memcpy(b + 12, "IHDR", 4);
	put32(b + 16, 40000);
	put32(b + 20, 40000);
	b[24] = 8;      /* depth */
	b[25] = 2;      /* RGB */
	b[26] = b[27] = b[28] = 0;
	put32(b + 29, crc32_png(b + 12, 17));
	put32(b + 33, 0);
	memcpy(b + 37, "IEND", 4);
	put32(b + 41, crc32_png(b + 37, 4));
	char *p = path_of("huge.png");
	assert_int_equal(mlf_write_file_atomic(p, b, sizeof(b), NULL), 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_error(p, MLF_EX_DATAERR, "40000x40000");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 2);
	free(p);
}

static void test_save_into_missing_folder_fails(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	unsigned char px[3 * 4] = { 0 };
	char *p = path_of("no/such/dir/x.png");
	assert_int_equal(mlf_image_save_png(p, px, 2, 2, &err), -1);
	assert_int_equal(err.status, MLF_EX_CANTCREAT);
	mlf_error_clear(&err);
	assert_int_equal(mlf_image_save_jpeg(p, px, 2, 2, 90, &err), -1);
	assert_int_equal(err.status, MLF_EX_CANTCREAT);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_png_roundtrip_exact),
		cmocka_unit_test(test_jpeg_roundtrip_close),
		cmocka_unit_test(test_grey_and_rgba_png),
		cmocka_unit_test(test_grey_and_cmyk_jpeg),
		cmocka_unit_test(test_truncated_files_are_errors),
		cmocka_unit_test(test_not_an_image_and_missing),
		cmocka_unit_test(test_oversize_header_refused_quickly),
		cmocka_unit_test(test_save_into_missing_folder_fails),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
