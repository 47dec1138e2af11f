/*
 * Letterboxed pixels must be the very bytes Ultralytics 8.4.190's LetterBox
 * makes with opencv-python 5.0.0 (cv2.resize INTER_LINEAR, border 114):
 * tests/fixtures/letterbox/cases.json (scripts/make-letterbox-fixtures)
 * records the geometry, the sha256 of LetterBox's output and a few pixels
 * for synthetic images that both sides generate from a seed; up- and
 * downscales, exact 2x/3x/4x reductions, stride-32 minimal padding, no
 * scale-up, thin images and rectangular targets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "mlf/yolo.h"

#define CASES SOURCE_DIR "/tests/fixtures/letterbox/cases.json"

/* The fixture script's images: splitmix64 of a counter, top byte or top bit. */
static unsigned char *make_image(int w, int h, uint64_t seed, int extreme)
{
	size_t n = (size_t)w * h * 3;
	unsigned char *p = malloc(n);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		uint64_t x = (seed << 32) + i + 0x9E3779B97F4A7C15u;
		x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
		x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
		x ^= x >> 31;
		p[i] = extreme ? (unsigned char)((x >> 63) * 255) : (unsigned char)(x >> 56);
	}
	return p;
}

static int geti(json_t *c, const char *k)
{
	json_t *v = json_object_get(c, k);
	if (!json_is_integer(v) && !json_is_boolean(v))
		fail_msg("cases.json: %s missing", k);
	return json_is_boolean(v) ? json_is_true(v) : (int)json_integer_value(v);
}

static void sha256_hex(const unsigned char *p, size_t n, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	assert_int_equal(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL), 1);
	assert_int_equal(len, 32);
	for (unsigned i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void test_fixtures(void **state)
{
	(void)state;
	json_error_t je;
	json_t *root = json_load_file(CASES, 0, &je);
	if (!root)
		fail_msg("%s: %s", CASES, je.text);
	json_t *cases = json_object_get(root, "cases");
	assert_true(json_array_size(cases) >= 100);
	size_t i, failed = 0;
	json_t *c;
	json_array_foreach(cases, i, c) {
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *kind = json_string_value(json_object_get(c, "kind"));
		const char *want = json_string_value(json_object_get(c, "sha256"));
		assert_non_null(name);
		assert_non_null(kind);
		assert_non_null(want);
		int w0 = geti(c, "w0"), h0 = geti(c, "h0");
		struct mlf_letterbox lb;
		assert_int_equal(mlf_letterbox_params_rect(w0, h0, geti(c, "target_w"), geti(c, "target_h"),
							   geti(c, "stride"), geti(c, "auto"), geti(c, "scaleup"), &lb),
				 0);
		if (lb.new_w != geti(c, "new_w") || lb.new_h != geti(c, "new_h") || lb.left != geti(c, "left") ||
		    lb.top != geti(c, "top") || lb.right != geti(c, "right") || lb.bottom != geti(c, "bottom") ||
		    lb.out_w != geti(c, "out_w") || lb.out_h != geti(c, "out_h"))
			fail_msg("%s: geometry %dx%d +%d+%d+%d+%d differs from LetterBox's", name, lb.new_w,
				 lb.new_h, lb.left, lb.top, lb.right, lb.bottom);

		unsigned char *img = make_image(w0, h0, (uint64_t)geti(c, "seed"), strcmp(kind, "extreme") == 0);
		size_t n = (size_t)lb.out_w * lb.out_h * 3;
		unsigned char *out = malloc(n);
		assert_non_null(out);
		memset(out, 0xA5, n);   /* every byte must be written */
		struct mlf_error err = MLF_ERROR_INIT;
		if (mlf_letterbox_image(img, &lb, out, &err) < 0)
			fail_msg("%s: %s", name, err.msg);
		char got[65];
		sha256_hex(out, n, got);
		if (strcmp(got, want) != 0) {
			failed++;
			print_error("%s: output differs from LetterBox's (sha256 %s, want %s)\n", name, got, want);
			size_t k;
			json_t *s;
			json_array_foreach(json_object_get(c, "samples"), k, s) {
				int x = (int)json_integer_value(json_array_get(s, 0));
				int y = (int)json_integer_value(json_array_get(s, 1));
				const unsigned char *p = out + ((size_t)y * lb.out_w + x) * 3;
				for (int ch = 0; ch < 3; ch++) {
					int v = (int)json_integer_value(json_array_get(s, 2 + ch));
					if (p[ch] != v)
						print_error("  pixel (%d, %d) channel %d: %d, want %d\n", x, y, ch, p[ch], v);
				}
			}
		}
		free(img);
		free(out);
	}
	size_t total = json_array_size(cases);
	json_decref(root);
	if (failed)
		fail_msg("%zu of %zu cases differ", failed, total);
}

/* An unchanged size is copied, not resampled; only the border is added. */
static void test_copy(void **state)
{
	(void)state;
	struct mlf_letterbox lb;
	assert_int_equal(mlf_letterbox_params(5, 3, 5, 32, 0, 1, &lb), 0);
	assert_int_equal(lb.new_w, 5);
	assert_int_equal(lb.top, 1);
	assert_int_equal(lb.bottom, 1);
	unsigned char *img = make_image(5, 3, 7, 0), out[5 * 5 * 3];
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_letterbox_image(img, &lb, out, &err), 0);
	for (int x = 0; x < 15; x++) {
		assert_int_equal(out[x], 114);
		assert_int_equal(out[4 * 15 + x], 114);
	}
	assert_memory_equal(out + 15, img, 45);
	free(img);
}

static void expect_usage(const unsigned char *img, const struct mlf_letterbox *lb, unsigned char *out,
			 const char *words)
{
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_letterbox_image(img, lb, out, &err), -1);
	assert_int_equal(err.status, 64);
	if (!strstr(err.msg, words))
		fail_msg("message \"%s\" does not say \"%s\"", err.msg, words);
}

static void test_invalid(void **state)
{
	(void)state;
	unsigned char img[4 * 2 * 3] = { 0 }, out[32 * 32 * 3];
	struct mlf_letterbox good, lb;
	assert_int_equal(mlf_letterbox_params(4, 2, 32, 32, 0, 1, &good), 0);
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_letterbox_image(img, &good, out, &err), 0);

	expect_usage(NULL, &good, out, "image is NULL");
	expect_usage(img, NULL, out, "geometry is NULL");
	expect_usage(img, &good, NULL, "output buffer is NULL");
	assert_int_equal(mlf_letterbox_image(NULL, NULL, NULL, NULL), -1);

	lb = good;
	lb.w0 = 0;
	expect_usage(img, &lb, out, "positive");
	lb = good;
	lb.new_h = 0;
	expect_usage(img, &lb, out, "positive");
	lb = good;
	lb.top = -1;
	expect_usage(img, &lb, out, "negative padding");
	lb = good;
	lb.out_w++;
	expect_usage(img, &lb, out, "not the resized");
	lb = good;
	lb.bottom++;
	expect_usage(img, &lb, out, "not the resized");
	lb = good;
	lb.w0 = lb.h0 = 1 << 16;
	expect_usage(img, &lb, out, "too large");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
