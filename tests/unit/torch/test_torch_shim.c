/*
 * Unit tests for the libtorch shim (include/mlf/torch/torch.h, lib/torch/).
 * Every expected value is computed by hand or from a closed form written out
 * here, never by libtorch itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mlf/torch/torch.h"
#include "tensor_values.h"

#define SHAPE(...) ((const int64_t[]){ __VA_ARGS__ })
#define VALS(...) ((const double[]){ __VA_ARGS__ })
#define NVALS(...) (sizeof((const double[]){ __VA_ARGS__ }) / sizeof(double))
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers --------------------------------------------------------------- */

/* A tensor of dtype `dt` holding `v` (given as doubles). */
static mlf_th *make(enum mlf_dtype dt, const double *v, int ndim, const int64_t *shape)
{
	mlf_th *d = mlf_th_from_data(v, MLF_DTYPE_F64, ndim, shape, MLF_TH_CPU);
	assert_non_null(d);
	if (dt == MLF_DTYPE_F64)
		return d;
	mlf_th *t = mlf_th_to(d, dt, MLF_TH_CPU);
	mlf_th_free(d);
	assert_non_null(t);
	return t;
}

static mlf_th *f32(const double *v, int ndim, const int64_t *shape)
{
	return make(MLF_DTYPE_F32, v, ndim, shape);
}

static mlf_th *i64(const double *v, int ndim, const int64_t *shape)
{
	return make(MLF_DTYPE_I64, v, ndim, shape);
}

static mlf_th *vec(const double *v, int64_t n)
{
	return f32(v, 1, &n);
}

/* Asserts t holds `want` (n values, row-major) within tol * (1 + |want|). */
static void check_close(const mlf_th *t, const double *want, size_t n, double tol)
{
	assert_non_null(t);
	assert_int_equal(mlf_th_numel(t), (int64_t)n);
	double got[256];
	assert_true(n <= COUNT(got));
	assert_int_equal(mlf_th_copy_out(t, MLF_DTYPE_F64, got, n * sizeof(double)), 0);
	for (size_t i = 0; i < n; i++) {
		int same_nan = isnan(want[i]) && isnan(got[i]);
		int same_inf = isinf(want[i]) && got[i] == want[i];
		if (same_nan || same_inf)
			continue;
		if (!(fabs(got[i] - want[i]) <= tol * (1.0 + fabs(want[i]))))
			fail_msg("element %zu of %s: got %.9g, want %.9g", i, mlf_th_describe(t),
				 got[i], want[i]);
	}
}

#define CHECK(t, tol, ...) check_close((t), VALS(__VA_ARGS__), NVALS(__VA_ARGS__), (tol))

static void check_shape(const mlf_th *t, int ndim, const int64_t *want)
{
	int64_t got[MLF_TH_MAX_DIMS];
	assert_non_null(t);
	assert_int_equal(mlf_th_shape(t, got, MLF_TH_MAX_DIMS), ndim);
	for (int i = 0; i < ndim; i++)
		if (got[i] != want[i])
			fail_msg("dim %d of %s: want %lld", i, mlf_th_describe(t), (long long)want[i]);
}

static void assert_contains(const char *s, const char *part)
{
	if (!strstr(s, part))
		fail_msg("\"%s\" does not contain \"%s\"", s, part);
}

/* Every test but the scope tests runs inside a scope and must leave no handle
 * alive and no error behind it. */
static int open_scope(void **state)
{
	static size_t mark;
	mlf_th_clear_error();
	mark = mlf_th_scope_open();
	*state = &mark;
	return 0;
}

static int close_scope(void **state)
{
	mlf_th_scope_close(*(size_t *)*state);
	mlf_th_grad_enabled(1);
	if (mlf_th_live_handles() != 0) {
		fprintf(stderr, "leak: %zu handles alive after the test\n", mlf_th_live_handles());
		return -1;
	}
	return 0;
}

static int check_no_leak(void **state)
{
	(void)state;
	mlf_th_clear_error();
	return mlf_th_live_handles() == 0 ? 0 : -1;
}

/* ---- runtime ------------------------------------------------------------------ */

static void test_runtime(void **state)
{
	(void)state;
	const char *v = mlf_th_version();
	assert_non_null(v);
	assert_true(v[0] >= '1' && v[0] <= '9' && strchr(v, '.'));
	assert_true(mlf_th_cuda_device_count() >= 0);
	assert_int_equal(mlf_th_synchronize(MLF_TH_CPU), 0);

	int before = mlf_th_threads();
	assert_true(before >= 1);
	assert_int_equal(mlf_th_set_threads(1), 0);
	assert_int_equal(mlf_th_threads(), 1);
	assert_int_equal(mlf_th_set_threads(0), -1);
	assert_contains(mlf_th_error(), "mlf_th_set_threads");
	mlf_th_clear_error();
	assert_int_equal(mlf_th_set_threads(before), 0);
	assert_int_equal(mlf_th_threads(), before);
	/* inter-op threads: once at most, before parallel work */
	if (mlf_th_set_interop_threads(1) != 0)
		mlf_th_clear_error();
	assert_int_equal(mlf_th_set_interop_threads(2), -1);
	assert_contains(mlf_th_error(), "mlf_th_set_interop_threads: ");
	assert_contains(mlf_th_error(), "interop");
	mlf_th_clear_error();

	/* Same seed, same numbers. */
	double a[8], b[8];
	mlf_th_manual_seed(1234);
	mlf_th *r = mlf_th_rand(1, SHAPE(8), 0, 1, MLF_DTYPE_F32, MLF_TH_CPU);
	assert_int_equal(mlf_th_copy_out(r, MLF_DTYPE_F64, a, sizeof a), 0);
	mlf_th_manual_seed(1234);
	r = mlf_th_rand(1, SHAPE(8), 0, 1, MLF_DTYPE_F32, MLF_TH_CPU);
	assert_int_equal(mlf_th_copy_out(r, MLF_DTYPE_F64, b, sizeof b), 0);
	assert_memory_equal(a, b, sizeof a);
	assert_true(a[0] != a[1]);
	assert_string_equal(mlf_th_error(), "");
}

/* ---- errors ------------------------------------------------------------------- */

static void test_error_path(void **state)
{
	(void)state;
	mlf_th *x = mlf_th_full(4, SHAPE(1, 3, 5, 5), 1.0, MLF_DTYPE_F32, MLF_TH_CPU);
	mlf_th *w_bad = mlf_th_full(4, SHAPE(4, 2, 3, 3), 1.0, MLF_DTYPE_F32, MLF_TH_CPU);
	mlf_th *w = mlf_th_full(4, SHAPE(4, 3, 3, 3), 1.0, MLF_DTYPE_F32, MLF_TH_CPU);
	size_t live = mlf_th_live_handles();
	assert_string_equal(mlf_th_error(), "");

	assert_null(mlf_th_conv2d(x, w_bad, NULL, 1, 1, 1, 1));
	assert_int_equal(mlf_th_live_handles(), live);
	const char *e = mlf_th_error();
	assert_contains(e, "mlf_th_conv2d: ");
	assert_contains(e, "[4, 2, 3, 3]");
	assert_contains(e, "[1, 3, 5, 5]");
	assert_contains(e, "channels");
	assert_null(strchr(e, '\n'));

	/* The program goes on: the right weight works, and a success leaves
	 * the message alone. */
	mlf_th *y = mlf_th_conv2d(x, w, NULL, 1, 1, 1, 1);
	check_shape(y, 4, SHAPE(1, 4, 5, 5));
	assert_float_equal(mlf_th_item(mlf_th_select(mlf_th_flatten(y, 0, -1), 0, 12)), 27.0, 0);
	assert_contains(mlf_th_error(), "mlf_th_conv2d");

	/* A chain reports its first failure: the later calls got NULL. */
	mlf_th_clear_error();
	mlf_th *z = mlf_th_reduce(MLF_TH_SUM, mlf_th_unary(MLF_TH_SILU,
				  mlf_th_conv2d(x, w_bad, NULL, 1, 1, 1, 1)), MLF_TH_ALL_DIMS, 0);
	assert_null(z);
	assert_contains(mlf_th_error(), "mlf_th_conv2d: ");
	assert_true(isnan(mlf_th_item(z)));
	assert_int_equal(mlf_th_backward(z), -1);
	assert_contains(mlf_th_error(), "[4, 2, 3, 3]");

	/* The next failure replaces the message. */
	assert_null(mlf_th_reshape(x, 2, SHAPE(7, -1)));
	assert_contains(mlf_th_error(), "mlf_th_reshape: ");
	assert_contains(mlf_th_error(), "75");

	mlf_th_clear_error();
	assert_string_equal(mlf_th_error(), "");

	/* Failures of other kinds. */
	assert_int_equal(mlf_th_size(x, 4), -1);
	assert_contains(mlf_th_error(), "mlf_th_size");
	mlf_th_clear_error();
	assert_null(mlf_th_unary((enum mlf_th_unary)99, x));
	assert_contains(mlf_th_error(), "unknown unary operation 99");
	mlf_th_clear_error();
	assert_null(mlf_th_binary((enum mlf_th_binary)-1, x, x));
	assert_contains(mlf_th_error(), "unknown binary operation -1");
	mlf_th_clear_error();
	assert_null(mlf_th_scalar(1, (enum mlf_dtype)42, MLF_TH_CPU));
	assert_contains(mlf_th_error(), "invalid dtype 42");
	mlf_th_clear_error();
	assert_null(mlf_th_optim_new((enum mlf_th_optim_kind)7));
	assert_contains(mlf_th_error(), "unknown optimizer kind 7");
	mlf_th_clear_error();
	assert_null(mlf_th_empty(9, SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1), MLF_DTYPE_F32, MLF_TH_CPU));
	assert_contains(mlf_th_error(), "ndim 9");
	mlf_th_clear_error();
	if (mlf_th_cuda_device_count() == 0) {
		assert_null(mlf_th_full(1, SHAPE(2), 0, MLF_DTYPE_F32, 0));
		assert_contains(mlf_th_error(), "CUDA device 0 is not available");
		mlf_th_clear_error();
	}
	assert_int_equal(mlf_th_live_handles(), live + 3);     /* y, flatten, select */
}

static void test_null_inputs(void **state)
{
	(void)state;
	mlf_th *x = mlf_th_full(1, SHAPE(3), 1.0, MLF_DTYPE_F32, MLF_TH_CPU);
	mlf_th *v = x, *i = x, *out[2] = { x, x };
	double d;
	size_t live = mlf_th_live_handles();

	assert_null(mlf_th_unary(MLF_TH_EXP, NULL));
	assert_null(mlf_th_binary(MLF_TH_ADD, x, NULL));
	assert_null(mlf_th_binary_s(MLF_TH_ADD, NULL, 1));
	assert_null(mlf_th_conv2d(NULL, x, NULL, 1, 0, 1, 1));
	assert_null(mlf_th_cat(2, (mlf_th *const[]){ x, NULL }, 0));
	assert_null(mlf_th_to(NULL, MLF_DTYPE_F32, MLF_TH_CPU));
	assert_null(mlf_th_ref(NULL));
	assert_null(mlf_th_keep(NULL));
	assert_null(mlf_th_grad(NULL));
	mlf_th_free(NULL);
	assert_int_equal(mlf_th_topk(NULL, 1, 0, 1, 1, &v, &i), -1);
	assert_null(v);
	assert_null(i);
	assert_int_equal(mlf_th_split(NULL, 2, SHAPE(1, 2), 0, out), -1);
	assert_null(out[0]);
	assert_null(out[1]);
	assert_int_equal(mlf_th_copy_out(NULL, MLF_DTYPE_F64, &d, sizeof d), -1);
	assert_int_equal(mlf_th_copy_(x, NULL), -1);
	assert_int_equal(mlf_th_fill_(NULL, 1), -1);
	assert_int_equal(mlf_th_backward(NULL), -1);
	assert_true(mlf_th_clip_grad_norm(2, (mlf_th *const[]){ x, NULL }, 1.0) == -1.0);
	assert_true(isnan(mlf_th_item(NULL)));
	assert_int_equal(mlf_th_ndim(NULL), -1);
	assert_int_equal(mlf_th_numel(NULL), -1);
	assert_int_equal(mlf_th_size(NULL, 0), -1);
	assert_int_equal(mlf_th_shape(NULL, NULL, 0), -1);
	assert_int_equal(mlf_th_dtype(NULL), MLF_DTYPE_COUNT);
	assert_int_equal(mlf_th_device(NULL), MLF_TH_NO_DEVICE);
	assert_int_equal(mlf_th_requires_grad(NULL), -1);
	assert_string_equal(mlf_th_describe(NULL), "(null)");

	assert_string_equal(mlf_th_error(), "");
	assert_int_equal(mlf_th_live_handles(), live);
}

/* ---- scopes ------------------------------------------------------------------- */

static mlf_th *one(double v)
{
	return mlf_th_scalar(v, MLF_DTYPE_F32, MLF_TH_CPU);
}

static void test_scope_nesting_and_keep(void **state)
{
	(void)state;
	size_t base = mlf_th_live_handles();
	size_t m0 = mlf_th_scope_open();
	mlf_th *a = one(1), *b = one(2);
	assert_int_equal(mlf_th_live_handles(), base + 2);

	size_t m1 = mlf_th_scope_open();
	assert_int_equal(m1, m0 + 1);
	mlf_th *c = one(3), *d = one(4);
	(void)c;
	assert_int_equal(mlf_th_live_handles(), base + 4);
	assert_ptr_equal(mlf_th_keep(d), d);            /* d goes to the m0 scope */
	mlf_th_scope_close(m1);
	assert_int_equal(mlf_th_live_handles(), base + 3);
	assert_float_equal(mlf_th_item(d), 4.0, 0);

	/* keep in the outermost scope: the caller's now */
	mlf_th_keep(a);
	mlf_th_scope_close(m0);
	assert_int_equal(mlf_th_live_handles(), base + 1);
	assert_float_equal(mlf_th_item(a), 1.0, 0);
	(void)b;

	/* a caller-owned handle stays the caller's, kept or not */
	size_t m2 = mlf_th_scope_open();
	assert_ptr_equal(mlf_th_keep(a), a);
	mlf_th_scope_close(m2);
	assert_float_equal(mlf_th_item(a), 1.0, 0);
	mlf_th_free(a);
	assert_int_equal(mlf_th_live_handles(), base);
	/* closing again is a no-op */
	mlf_th_scope_close(m0);
	assert_int_equal(mlf_th_live_handles(), base);
	assert_string_equal(mlf_th_error(), "");
}

static void test_scope_free_and_outer_close(void **state)
{
	(void)state;
	size_t base = mlf_th_live_handles();

	/* free of a scoped handle: it leaves its scope, which then closes cleanly */
	size_t m = mlf_th_scope_open();
	mlf_th *x = one(1), *y = one(2), *z = one(3);
	mlf_th_free(y);                  /* middle of the scope's list */
	mlf_th_free(z);                  /* its head */
	assert_int_equal(mlf_th_live_handles(), base + 1);
	assert_float_equal(mlf_th_item(x), 1.0, 0);
	mlf_th_scope_close(m);
	assert_int_equal(mlf_th_live_handles(), base);

	/* closing an outer mark closes the scopes inside it */
	size_t m0 = mlf_th_scope_open();
	one(1);
	size_t m1 = mlf_th_scope_open();
	one(2);
	mlf_th *kept = mlf_th_keep(one(3));     /* kept into m0, still inside it */
	size_t m2 = mlf_th_scope_open();
	one(4);
	one(5);
	assert_int_equal(m2, m1 + 1);
	assert_int_equal(mlf_th_live_handles(), base + 5);
	assert_float_equal(mlf_th_item(kept), 3.0, 0);
	mlf_th_scope_close(m0);
	assert_int_equal(mlf_th_live_handles(), base);

	/* handles made with no scope open are the caller's */
	mlf_th *own = one(7);
	size_t m3 = mlf_th_scope_open();
	mlf_th *r = mlf_th_ref(own);         /* a second handle, scoped */
	mlf_th_scope_close(m3);
	assert_float_equal(mlf_th_item(own), 7.0, 0);
	(void)r;

	/* freeing a handle never invalidates another one to the same tensor */
	mlf_th *r2 = mlf_th_ref(own);
	mlf_th_free(own);
	assert_float_equal(mlf_th_item(r2), 7.0, 0);
	mlf_th_free(r2);
	assert_int_equal(mlf_th_live_handles(), base);
	assert_string_equal(mlf_th_error(), "");
}

static void test_scope_failures_leave_no_handles(void **state)
{
	(void)state;
	size_t base = mlf_th_live_handles();
	size_t m = mlf_th_scope_open();
	mlf_th *x = one(1);
	mlf_th *v = NULL, *i = NULL;
	assert_int_equal(mlf_th_topk(x, 5, 0, 1, 1, &v, &i), -1);
	assert_null(v);
	assert_null(i);
	mlf_th *parts[2];
	mlf_th *row = mlf_th_full(1, SHAPE(3), 0, MLF_DTYPE_F32, MLF_TH_CPU);
	assert_int_equal(mlf_th_split(row, 2, SHAPE(1, 1), 0, parts), -1);
	assert_null(parts[0]);
	assert_null(parts[1]);
	assert_int_equal(mlf_th_live_handles(), base + 2);
	mlf_th_scope_close(m);
	assert_int_equal(mlf_th_live_handles(), base);
	mlf_th_clear_error();
}

/* ---- making, inspecting, converting ------------------------------------------ */

static void test_round_trip(void **state)
{
	(void)state;
	/* f32 */
	const float f[6] = { 1.5f, -2.0f, 0.1f, 3e38f, -0.0f, 7.25f };
	float fo[6];
	mlf_th *t = mlf_th_from_data(f, MLF_DTYPE_F32, 2, SHAPE(2, 3), MLF_TH_CPU);
	assert_int_equal(mlf_th_ndim(t), 2);
	assert_int_equal(mlf_th_size(t, 0), 2);
	assert_int_equal(mlf_th_size(t, -1), 3);
	assert_int_equal(mlf_th_numel(t), 6);
	assert_int_equal(mlf_th_dtype(t), MLF_DTYPE_F32);
	assert_int_equal(mlf_th_device(t), MLF_TH_CPU);
	assert_int_equal(mlf_th_copy_out(t, MLF_DTYPE_F32, fo, sizeof fo), 0);
	assert_memory_equal(f, fo, sizeof f);
	assert_string_equal(mlf_th_describe(t), "[2, 3] float32 cpu");

	/* f16 and bf16 bit patterns of 1.5, -2, 0.25, 65504 (f16 max) / 1.5, -2, 0.25, 2^100 */
	const uint16_t h[4] = { 0x3E00, 0xC000, 0x3400, 0x7BFF };
	uint16_t ho[4];
	t = mlf_th_from_data(h, MLF_DTYPE_F16, 1, SHAPE(4), MLF_TH_CPU);
	assert_int_equal(mlf_th_dtype(t), MLF_DTYPE_F16);
	CHECK(t, 0, 1.5, -2, 0.25, 65504);
	assert_int_equal(mlf_th_copy_out(t, MLF_DTYPE_F16, ho, sizeof ho), 0);
	assert_memory_equal(h, ho, sizeof h);
	const uint16_t bf[4] = { 0x3FC0, 0xC000, 0x3E80, 0x7180 };
	t = mlf_th_from_data(bf, MLF_DTYPE_BF16, 1, SHAPE(4), MLF_TH_CPU);
	CHECK(t, 0, 1.5, -2, 0.25, 1267650600228229401496703205376.0);
	assert_string_equal(mlf_th_describe(t), "[4] bfloat16 cpu");

	/* i64 beyond 2^53 survives exactly */
	const int64_t l[3] = { (int64_t)1 << 60, -3, INT64_MIN };
	int64_t lo[3];
	t = mlf_th_from_data(l, MLF_DTYPE_I64, 1, SHAPE(3), MLF_TH_CPU);
	assert_int_equal(mlf_th_copy_out(t, MLF_DTYPE_I64, lo, sizeof lo), 0);
	assert_memory_equal(l, lo, sizeof l);
	assert_int_equal(mlf_th_dtype(t), MLF_DTYPE_I64);

	/* u8 and bool */
	const uint8_t u[3] = { 0, 255, 7 };
	uint8_t uo[3];
	t = mlf_th_from_data(u, MLF_DTYPE_U8, 1, SHAPE(3), MLF_TH_CPU);
	assert_int_equal(mlf_th_copy_out(t, MLF_DTYPE_U8, uo, sizeof uo), 0);
	assert_memory_equal(u, uo, sizeof u);
	CHECK(t, 0, 0, 255, 7);
	const uint8_t bl[4] = { 1, 0, 0, 1 };
	uint8_t blo[4];
	t = mlf_th_from_data(bl, MLF_DTYPE_BOOL, 2, SHAPE(2, 2), MLF_TH_CPU);
	assert_int_equal(mlf_th_dtype(t), MLF_DTYPE_BOOL);
	assert_int_equal(mlf_th_copy_out(t, MLF_DTYPE_BOOL, blo, sizeof blo), 0);
	assert_memory_equal(bl, blo, sizeof bl);
	CHECK(mlf_th_to(t, MLF_DTYPE_F32, MLF_TH_CPU), 0, 1, 0, 0, 1);

	/* 0-d, and no elements */
	double one_value = 2.5;
	t = mlf_th_from_data(&one_value, MLF_DTYPE_F64, 0, NULL, MLF_TH_CPU);
	assert_int_equal(mlf_th_ndim(t), 0);
	assert_float_equal(mlf_th_item(t), 2.5, 0);
	assert_string_equal(mlf_th_describe(t), "[] float64 cpu");
	t = mlf_th_from_data(NULL, MLF_DTYPE_F32, 2, SHAPE(0, 4), MLF_TH_CPU);
	assert_int_equal(mlf_th_numel(t), 0);
	assert_int_equal(mlf_th_copy_out(t, MLF_DTYPE_F32, NULL, 0), 0);

	/* wrong buffer size */
	t = mlf_th_from_data(f, MLF_DTYPE_F32, 2, SHAPE(2, 3), MLF_TH_CPU);
	assert_int_equal(mlf_th_copy_out(t, MLF_DTYPE_F32, fo, sizeof fo - 1), -1);
	assert_contains(mlf_th_error(), "23 bytes");
	assert_contains(mlf_th_error(), "24");
	mlf_th_clear_error();
	assert_null(mlf_th_from_data(NULL, MLF_DTYPE_F32, 1, SHAPE(2), MLF_TH_CPU));
	assert_contains(mlf_th_error(), "data is NULL");
	mlf_th_clear_error();

	/* item of a many-element tensor */
	assert_true(isnan(mlf_th_item(t)));
	assert_contains(mlf_th_error(), "6 elements");
	mlf_th_clear_error();
}

static void test_conversions(void **state)
{
	(void)state;
	mlf_th *x = vec(VALS(1.7, -1.7, 2.5, 300), 4);
	mlf_th *l = mlf_th_to(x, MLF_DTYPE_I64, MLF_TH_CPU);
	assert_int_equal(mlf_th_dtype(l), MLF_DTYPE_I64);
	CHECK(l, 0, 1, -1, 2, 300);     /* truncation toward zero */
	CHECK(mlf_th_to(vec(VALS(1.7, 200.9, 0, 3), 4), MLF_DTYPE_U8, MLF_TH_CPU), 0, 1, 200, 0, 3);
	CHECK(mlf_th_to(x, MLF_DTYPE_BOOL, MLF_TH_CPU), 0, 1, 1, 1, 1);
	CHECK(mlf_th_to(x, MLF_DTYPE_BF16, MLF_TH_CPU), 0, 1.703125, -1.703125, 2.5, 300);
	/* copy_out converts as well */
	int32_t iv[4];
	assert_int_equal(mlf_th_copy_out(x, MLF_DTYPE_I32, iv, sizeof iv), 0);
	assert_int_equal(iv[1], -1);
	assert_int_equal(iv[3], 300);

	/* clone is a copy, detach and a same-dtype to() share storage */
	mlf_th *c = mlf_th_clone(x), *d = mlf_th_detach(x), *s = mlf_th_to(x, MLF_DTYPE_F32, MLF_TH_CPU);
	assert_int_equal(mlf_th_fill_(x, 9), 0);
	CHECK(c, 1e-6, 1.7, -1.7, 2.5, 300);
	CHECK(d, 0, 9, 9, 9, 9);
	CHECK(s, 0, 9, 9, 9, 9);

	/* contiguous and channels_last keep the values */
	mlf_th *a = mlf_th_reshape(mlf_th_arange(0, 8, 1, MLF_DTYPE_F32, MLF_TH_CPU), 4,
				   SHAPE(1, 2, 2, 2));
	mlf_th *cl = mlf_th_channels_last(a);
	check_shape(cl, 4, SHAPE(1, 2, 2, 2));
	CHECK(cl, 0, 0, 1, 2, 3, 4, 5, 6, 7);
	mlf_th *tr = mlf_th_transpose(mlf_th_reshape(a, 2, SHAPE(2, 4)), 0, 1);
	CHECK(mlf_th_contiguous(tr), 0, 0, 4, 1, 5, 2, 6, 3, 7);
	assert_null(mlf_th_channels_last(x));
	assert_contains(mlf_th_error(), "4-d");
	mlf_th_clear_error();
}

static void test_making(void **state)
{
	(void)state;
	CHECK(mlf_th_full(2, SHAPE(2, 2), 3.5, MLF_DTYPE_F32, MLF_TH_CPU), 0, 3.5, 3.5, 3.5, 3.5);
	mlf_th *e = mlf_th_empty(3, SHAPE(2, 0, 5), MLF_DTYPE_I64, MLF_TH_CPU);
	check_shape(e, 3, SHAPE(2, 0, 5));
	assert_int_equal(mlf_th_dtype(e), MLF_DTYPE_I64);
	mlf_th *i = mlf_th_arange(0, 5, 1, MLF_DTYPE_I64, MLF_TH_CPU);
	assert_int_equal(mlf_th_dtype(i), MLF_DTYPE_I64);
	CHECK(i, 0, 0, 1, 2, 3, 4);
	CHECK(mlf_th_arange(0, 1, 0.25, MLF_DTYPE_F32, MLF_TH_CPU), 0, 0, 0.25, 0.5, 0.75);
	CHECK(mlf_th_zeros_like(i), 0, 0, 0, 0, 0, 0);
	mlf_th *fl = mlf_th_full_like(i, 7);
	assert_int_equal(mlf_th_dtype(fl), MLF_DTYPE_I64);
	CHECK(fl, 0, 7, 7, 7, 7, 7);
	mlf_th *s = mlf_th_scalar(-4, MLF_DTYPE_F64, MLF_TH_CPU);
	assert_int_equal(mlf_th_ndim(s), 0);
	assert_float_equal(mlf_th_item(s), -4, 0);

	/* rand: within [lo, hi); randn: sample moments near the asked ones */
	mlf_th_manual_seed(7);
	enum { N = 20000 };
	mlf_th *r = mlf_th_rand(1, SHAPE(N), 2, 3, MLF_DTYPE_F32, MLF_TH_CPU);
	assert_true(mlf_th_reduce(MLF_TH_AMIN, r, MLF_TH_ALL_DIMS, 0) != NULL);
	assert_true(mlf_th_item(mlf_th_reduce(MLF_TH_AMIN, r, MLF_TH_ALL_DIMS, 0)) >= 2.0);
	assert_true(mlf_th_item(mlf_th_reduce(MLF_TH_AMAX, r, MLF_TH_ALL_DIMS, 0)) < 3.0);
	assert_float_equal(mlf_th_item(mlf_th_reduce(MLF_TH_MEAN, r, MLF_TH_ALL_DIMS, 0)), 2.5, 0.01);
	mlf_th *n = mlf_th_randn(1, SHAPE(N), 1, 2, MLF_DTYPE_F32, MLF_TH_CPU);
	double mean = mlf_th_item(mlf_th_reduce(MLF_TH_MEAN, n, MLF_TH_ALL_DIMS, 0));
	mlf_th *dev = mlf_th_binary_s(MLF_TH_SUB, n, mean);
	double var = mlf_th_item(mlf_th_reduce(MLF_TH_MEAN, mlf_th_unary(MLF_TH_SQUARE, dev),
					       MLF_TH_ALL_DIMS, 0));
	assert_float_equal(mean, 1.0, 0.05);
	assert_float_equal(sqrt(var), 2.0, 0.05);
	assert_int_equal(mlf_th_uniform_(n, -1, -0.5), 0);
	assert_true(mlf_th_item(mlf_th_reduce(MLF_TH_AMAX, n, MLF_TH_ALL_DIMS, 0)) < -0.5);
	assert_string_equal(mlf_th_error(), "");
}

/* ---- in place ------------------------------------------------------------------- */

static void test_in_place(void **state)
{
	(void)state;
	mlf_th *d = mlf_th_full(2, SHAPE(2, 3), 0, MLF_DTYPE_F32, MLF_TH_CPU);
	mlf_th *row = i64(VALS(1, 2, 3), 1, SHAPE(3));
	assert_int_equal(mlf_th_copy_(d, row), 0);               /* broadcasts, converts */
	CHECK(d, 0, 1, 2, 3, 1, 2, 3);
	assert_int_equal(mlf_th_mul_s_(d, 0.5), 0);
	CHECK(d, 0, 0.5, 1, 1.5, 0.5, 1, 1.5);
	mlf_th *o = mlf_th_full(2, SHAPE(2, 3), 2, MLF_DTYPE_F32, MLF_TH_CPU);
	assert_int_equal(mlf_th_add_(d, o, -0.25), 0);           /* d += -0.25 * o */
	CHECK(d, 0, 0, 0.5, 1, 0, 0.5, 1);
	assert_int_equal(mlf_th_fill_(d, -3), 0);
	CHECK(d, 0, -3, -3, -3, -3, -3, -3);
	assert_int_equal(mlf_th_copy_(d, mlf_th_full(1, SHAPE(4), 0, MLF_DTYPE_F32, MLF_TH_CPU)), -1);
	assert_contains(mlf_th_error(), "mlf_th_copy_");
	mlf_th_clear_error();

	/* an integer tensor keeps integer arithmetic */
	assert_int_equal(mlf_th_mul_s_(row, 3), 0);
	assert_int_equal(mlf_th_dtype(row), MLF_DTYPE_I64);
	CHECK(row, 0, 3, 6, 9);

	/* set_data: same handle (and tensor identity), new values and shape */
	mlf_th *p = mlf_th_full(1, SHAPE(2), 1, MLF_DTYPE_F32, MLF_TH_CPU);
	mlf_th *alias = mlf_th_ref(p);
	assert_int_equal(mlf_th_set_data(p, mlf_th_arange(0, 3, 1, MLF_DTYPE_F32, MLF_TH_CPU)), 0);
	CHECK(alias, 0, 0, 1, 2);
	assert_string_equal(mlf_th_error(), "");
}

/* ---- elementwise ----------------------------------------------------------------- */

static void test_unary(void **state)
{
	(void)state;
	const double e = exp(1.0), inf = INFINITY, nan = NAN;
	struct {
		enum mlf_th_unary op;
		double in[4], want[4];
	} cases[] = {
		{ MLF_TH_NEG, { 1, -2, 0.5, 0 }, { -1, 2, -0.5, 0 } },
		{ MLF_TH_ABS, { 1, -2, -0.5, 0 }, { 1, 2, 0.5, 0 } },
		{ MLF_TH_EXP, { 0, 1, -1, 2 }, { 1, e, 1 / e, e * e } },
		{ MLF_TH_LOG, { 1, e, e * e, 0 }, { 0, 1, 2, -inf } },
		{ MLF_TH_SQRT, { 4, 9, 0.25, 2 }, { 2, 3, 0.5, M_SQRT2 } },
		{ MLF_TH_RSQRT, { 4, 0.25, 1, 2 }, { 0.5, 2, 1, M_SQRT1_2 } },
		{ MLF_TH_SIGMOID, { 0, 1, -1, 2 }, { 0.5, 1 / (1 + 1 / e), 1 / (1 + e), 1 / (1 + exp(-2)) } },
		{ MLF_TH_SILU, { 0, 1, -1, 2 }, { 0, 1 / (1 + 1 / e), -1 / (1 + e), 2 / (1 + exp(-2)) } },
		{ MLF_TH_RELU, { -1, 0, 2, -0.5 }, { 0, 0, 2, 0 } },
		{ MLF_TH_TANH, { 0, 1, -1, 20 }, { 0, (e - 1 / e) / (e + 1 / e), -(e - 1 / e) / (e + 1 / e), 1 } },
		{ MLF_TH_ATAN, { 0, 1, -1, 1e30 }, { 0, M_PI / 4, -M_PI / 4, M_PI / 2 } },
		{ MLF_TH_FLOOR, { 1.5, -1.5, 2, -0.2 }, { 1, -2, 2, -1 } },
		{ MLF_TH_CEIL, { 1.5, -1.5, 2, -0.2 }, { 2, -1, 2, 0 } },
		{ MLF_TH_ROUND, { 2.5, 1.5, -0.5, 0.6 }, { 2, 2, 0, 1 } },    /* half to even */
		{ MLF_TH_RECIPROCAL, { 4, -0.5, 1, 0 }, { 0.25, -2, 1, inf } },
		{ MLF_TH_SQUARE, { -3, 0.5, 0, 2 }, { 9, 0.25, 0, 4 } },
		{ MLF_TH_LOGICAL_NOT, { 0, 1, -2, 0.5 }, { 1, 0, 0, 0 } },
		{ MLF_TH_ISNAN, { nan, 1, inf, 0 }, { 1, 0, 0, 0 } },
		{ MLF_TH_ISFINITE, { nan, 1, -inf, 0 }, { 0, 1, 0, 1 } },
	};
	for (size_t k = 0; k < COUNT(cases); k++) {
		mlf_th *x = vec(cases[k].in, 4);
		mlf_th *y = mlf_th_unary(cases[k].op, x);
		if (!y)
			fail_msg("unary op %d: %s", (int)cases[k].op, mlf_th_error());
		check_close(y, cases[k].want, 4, 1e-6);
		if (cases[k].op >= MLF_TH_LOGICAL_NOT)
			assert_int_equal(mlf_th_dtype(y), MLF_DTYPE_BOOL);
		else
			assert_int_equal(mlf_th_dtype(y), MLF_DTYPE_F32);
	}
	assert_string_equal(mlf_th_error(), "");
}

static void test_binary(void **state)
{
	(void)state;
	mlf_th *a = vec(VALS(1, 2, 3, -7), 4), *b = vec(VALS(2, 2, -2, 3), 4);
	struct {
		enum mlf_th_binary op;
		double want[4];
	} cases[] = {
		{ MLF_TH_ADD, { 3, 4, 1, -4 } },
		{ MLF_TH_SUB, { -1, 0, 5, -10 } },
		{ MLF_TH_MUL, { 2, 4, -6, -21 } },
		{ MLF_TH_DIV, { 0.5, 1, -1.5, -7.0 / 3 } },
		{ MLF_TH_POW, { 1, 4, 1.0 / 9, -343 } },
		{ MLF_TH_MAXIMUM, { 2, 2, 3, 3 } },
		{ MLF_TH_MINIMUM, { 1, 2, -2, -7 } },
		{ MLF_TH_ATAN2, { atan2(1, 2), M_PI / 4, atan2(3, -2), atan2(-7, 3) } },
		{ MLF_TH_FMOD, { 1, 0, 1, -1 } },       /* sign of the dividend */
		{ MLF_TH_EQ, { 0, 1, 0, 0 } },
		{ MLF_TH_NE, { 1, 0, 1, 1 } },
		{ MLF_TH_LT, { 1, 0, 0, 1 } },
		{ MLF_TH_LE, { 1, 1, 0, 1 } },
		{ MLF_TH_GT, { 0, 0, 1, 0 } },
		{ MLF_TH_GE, { 0, 1, 1, 0 } },
	};
	for (size_t k = 0; k < COUNT(cases); k++) {
		mlf_th *y = mlf_th_binary(cases[k].op, a, b);
		if (!y)
			fail_msg("binary op %d: %s", (int)cases[k].op, mlf_th_error());
		check_close(y, cases[k].want, 4, 1e-6);
		assert_int_equal(mlf_th_dtype(y), cases[k].op >= MLF_TH_EQ ? MLF_DTYPE_BOOL : MLF_DTYPE_F32);
	}
	mlf_th *p = vec(VALS(1, 0, 1, 0), 4), *q = vec(VALS(1, 1, 0, 0), 4);
	CHECK(mlf_th_binary(MLF_TH_AND, p, q), 0, 1, 0, 0, 0);
	CHECK(mlf_th_binary(MLF_TH_OR, p, q), 0, 1, 1, 1, 0);
	assert_int_equal(mlf_th_dtype(mlf_th_binary(MLF_TH_OR, p, q)), MLF_DTYPE_BOOL);

	/* broadcasting [2, 1] with [3] */
	mlf_th *col = f32(VALS(10, 20), 2, SHAPE(2, 1));
	mlf_th *s = mlf_th_binary(MLF_TH_ADD, col, vec(VALS(1, 2, 3), 3));
	check_shape(s, 2, SHAPE(2, 3));
	CHECK(s, 0, 11, 12, 13, 21, 22, 23);
	assert_null(mlf_th_binary(MLF_TH_ADD, a, vec(VALS(1, 2, 3), 3)));
	assert_contains(mlf_th_error(), "mlf_th_binary");
	mlf_th_clear_error();

	/* with scalars */
	mlf_th *n = i64(VALS(1, 2, 3), 1, SHAPE(3));
	mlf_th *n1 = mlf_th_binary_s(MLF_TH_ADD, n, 1);
	assert_int_equal(mlf_th_dtype(n1), MLF_DTYPE_I64);
	CHECK(n1, 0, 2, 3, 4);
	mlf_th *nh = mlf_th_binary_s(MLF_TH_ADD, n, 0.5);
	assert_int_equal(mlf_th_dtype(nh), MLF_DTYPE_F32);
	CHECK(nh, 0, 1.5, 2.5, 3.5);
	mlf_th *x = vec(VALS(1, 2, 3), 3);
	CHECK(mlf_th_binary_s(MLF_TH_POW, x, 2), 0, 1, 4, 9);
	CHECK(mlf_th_binary_s(MLF_TH_DIV, x, 4), 0, 0.25, 0.5, 0.75);
	CHECK(mlf_th_binary_s(MLF_TH_SUB, x, 1), 0, 0, 1, 2);
	CHECK(mlf_th_binary_s(MLF_TH_MAXIMUM, x, 2), 0, 2, 2, 3);
	CHECK(mlf_th_binary_s(MLF_TH_MINIMUM, x, 2), 0, 1, 2, 2);
	CHECK(mlf_th_binary_s(MLF_TH_LT, x, 2), 0, 1, 0, 0);
	CHECK(mlf_th_binary_s(MLF_TH_FMOD, x, 2), 0, 1, 0, 1);
	CHECK(mlf_th_binary_s(MLF_TH_AND, x, 0), 0, 0, 0, 0);
	CHECK(mlf_th_s_binary(MLF_TH_SUB, 10, x), 0, 9, 8, 7);
	CHECK(mlf_th_s_binary(MLF_TH_DIV, 1, x), 1e-7, 1, 0.5, 1.0 / 3);
	CHECK(mlf_th_s_binary(MLF_TH_POW, 2, x), 0, 2, 4, 8);
	CHECK(mlf_th_s_binary(MLF_TH_LT, 2, x), 0, 0, 0, 1);
	CHECK(mlf_th_s_binary(MLF_TH_GE, 2, x), 0, 1, 1, 0);
	CHECK(mlf_th_s_binary(MLF_TH_GT, 2, x), 0, 1, 0, 0);
	CHECK(mlf_th_s_binary(MLF_TH_LE, 2, x), 0, 0, 1, 1);
	CHECK(mlf_th_s_binary(MLF_TH_FMOD, 7, x), 0, 0, 1, 1);
	CHECK(mlf_th_s_binary(MLF_TH_ATAN2, 1, x), 1e-6, M_PI / 4, atan2(1, 2), atan2(1, 3));
	CHECK(mlf_th_s_binary(MLF_TH_MAXIMUM, 2, x), 0, 2, 2, 3);
	mlf_th *ns = mlf_th_s_binary(MLF_TH_SUB, 10, n);
	assert_int_equal(mlf_th_dtype(ns), MLF_DTYPE_I64);
	CHECK(ns, 0, 9, 8, 7);
	assert_int_equal(mlf_th_dtype(mlf_th_binary_s(MLF_TH_MUL, x, 2)), MLF_DTYPE_F32);

	/* clamp, where, masked_fill */
	mlf_th *c = vec(VALS(-2, 0.5, 3), 3);
	CHECK(mlf_th_clamp(c, 0, 1), 0, 0, 0.5, 1);
	CHECK(mlf_th_clamp(c, NAN, 1), 0, -2, 0.5, 1);
	CHECK(mlf_th_clamp(c, 0, NAN), 0, 0, 0.5, 3);
	mlf_th *cc = mlf_th_clamp(c, NAN, NAN);
	CHECK(cc, 0, -2, 0.5, 3);
	assert_int_equal(mlf_th_fill_(cc, 0), 0);       /* a copy: c is untouched */
	CHECK(c, 0, -2, 0.5, 3);
	mlf_th *ci = mlf_th_clamp(n, 2, NAN);
	assert_int_equal(mlf_th_dtype(ci), MLF_DTYPE_I64);
	CHECK(ci, 0, 2, 2, 3);
	mlf_th *cond = mlf_th_binary_s(MLF_TH_GT, c, 0);
	CHECK(mlf_th_where(cond, c, vec(VALS(7, 8, 9), 3)), 0, 7, 0.5, 3);
	CHECK(mlf_th_masked_fill(c, cond, -1), 0, -2, -1, -1);
	assert_string_equal(mlf_th_error(), "");
}

/* ---- reductions and ordering ---------------------------------------------------- */

static void test_reductions(void **state)
{
	(void)state;
	mlf_th *x = f32(VALS(1, 5, 3, 4, 2, 6), 2, SHAPE(2, 3));
	assert_float_equal(mlf_th_item(mlf_th_reduce(MLF_TH_SUM, x, MLF_TH_ALL_DIMS, 0)), 21, 0);
	CHECK(mlf_th_reduce(MLF_TH_SUM, x, 0, 0), 0, 5, 7, 9);
	mlf_th *k = mlf_th_reduce(MLF_TH_SUM, x, 1, 1);
	check_shape(k, 2, SHAPE(2, 1));
	CHECK(k, 0, 9, 12);
	CHECK(mlf_th_reduce(MLF_TH_MEAN, x, -1, 0), 0, 3, 4);
	assert_float_equal(mlf_th_item(mlf_th_reduce(MLF_TH_MEAN, x, MLF_TH_ALL_DIMS, 1)), 3.5, 0);
	assert_float_equal(mlf_th_item(mlf_th_reduce(MLF_TH_AMAX, x, MLF_TH_ALL_DIMS, 0)), 6, 0);
	CHECK(mlf_th_reduce(MLF_TH_AMAX, x, 1, 0), 0, 5, 6);
	CHECK(mlf_th_reduce(MLF_TH_AMIN, x, 0, 0), 0, 1, 2, 3);
	assert_float_equal(mlf_th_item(mlf_th_reduce(MLF_TH_AMIN, x, MLF_TH_ALL_DIMS, 0)), 1, 0);
	assert_float_equal(mlf_th_item(mlf_th_reduce(MLF_TH_PROD, x, MLF_TH_ALL_DIMS, 0)), 720, 0);
	CHECK(mlf_th_reduce(MLF_TH_PROD, x, 1, 0), 0, 15, 48);
	mlf_th *am = mlf_th_reduce(MLF_TH_ARGMAX, x, MLF_TH_ALL_DIMS, 0);
	assert_int_equal(mlf_th_dtype(am), MLF_DTYPE_I64);
	assert_float_equal(mlf_th_item(am), 5, 0);              /* flat index */
	CHECK(mlf_th_reduce(MLF_TH_ARGMAX, x, 1, 0), 0, 1, 2);
	CHECK(mlf_th_reduce(MLF_TH_ARGMIN, x, 1, 0), 0, 0, 1);
	assert_float_equal(mlf_th_item(mlf_th_reduce(MLF_TH_ARGMIN, x, MLF_TH_ALL_DIMS, 0)), 0, 0);
	mlf_th *big = mlf_th_binary_s(MLF_TH_GT, x, 3.5);       /* [[0,1,0],[1,0,1]] */
	CHECK(mlf_th_reduce(MLF_TH_ANY, big, 0, 0), 0, 1, 1, 1);
	CHECK(mlf_th_reduce(MLF_TH_ALL, big, 0, 0), 0, 0, 0, 0);
	assert_float_equal(mlf_th_item(mlf_th_reduce(MLF_TH_ANY, big, MLF_TH_ALL_DIMS, 0)), 1, 0);
	assert_float_equal(mlf_th_item(mlf_th_reduce(MLF_TH_ALL, big, MLF_TH_ALL_DIMS, 0)), 0, 0);
	mlf_th *bs = mlf_th_reduce(MLF_TH_SUM, big, MLF_TH_ALL_DIMS, 0);
	assert_int_equal(mlf_th_dtype(bs), MLF_DTYPE_I64);
	assert_float_equal(mlf_th_item(bs), 3, 0);
	CHECK(mlf_th_cumsum(x, 1), 0, 1, 6, 9, 4, 6, 12);
	CHECK(mlf_th_cumsum(x, 0), 0, 1, 5, 3, 5, 7, 9);
	assert_null(mlf_th_reduce(MLF_TH_SUM, x, 2, 0));
	assert_contains(mlf_th_error(), "mlf_th_reduce");
	mlf_th_clear_error();
}

static void test_topk_sort(void **state)
{
	(void)state;
	mlf_th *x = f32(VALS(1, 5, 3, 4, 2, 6), 2, SHAPE(2, 3));
	mlf_th *v, *i;
	assert_int_equal(mlf_th_topk(x, 2, 1, 1, 1, &v, &i), 0);
	CHECK(v, 0, 5, 3, 6, 4);
	CHECK(i, 0, 1, 2, 2, 0);
	assert_int_equal(mlf_th_dtype(i), MLF_DTYPE_I64);
	assert_int_equal(mlf_th_topk(x, 2, -1, 0, 1, &v, &i), 0);
	CHECK(v, 0, 1, 3, 2, 4);
	CHECK(i, 0, 0, 2, 1, 0);
	assert_int_equal(mlf_th_topk(x, 1, 0, 1, 1, NULL, &i), 0);     /* values not wanted */
	CHECK(i, 0, 1, 0, 1);

	mlf_th *y = vec(VALS(3, 1, 3, 2), 4);
	assert_int_equal(mlf_th_sort(y, 0, 1, 1, &v, &i), 0);
	CHECK(v, 0, 3, 3, 2, 1);
	CHECK(i, 0, 0, 2, 3, 1);                /* stable: equal keys keep their order */
	assert_int_equal(mlf_th_sort(y, 0, 0, 1, &v, &i), 0);
	CHECK(v, 0, 1, 2, 3, 3);
	CHECK(i, 0, 1, 3, 0, 2);
	assert_int_equal(mlf_th_sort(y, 1, 0, 1, &v, &i), -1);
	assert_null(v);
	assert_contains(mlf_th_error(), "mlf_th_sort");
	mlf_th_clear_error();
}

/* ---- shapes --------------------------------------------------------------------- */

static void test_shapes(void **state)
{
	(void)state;
	mlf_th *x = mlf_th_reshape(mlf_th_arange(0, 24, 1, MLF_DTYPE_F32, MLF_TH_CPU), 3,
				   SHAPE(2, 3, 4));
	check_shape(x, 3, SHAPE(2, 3, 4));
	check_shape(mlf_th_reshape(x, 2, SHAPE(4, -1)), 2, SHAPE(4, 6));

	/* permute (2, 0, 1): y[k][i][j] = x[i][j][k] = 12 i + 4 j + k */
	mlf_th *y = mlf_th_permute(x, 3, (const int[]){ 2, 0, 1 });
	check_shape(y, 3, SHAPE(4, 2, 3));
	double want[24];
	for (int k = 0; k < 4; k++)
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 3; j++)
				want[k * 6 + i * 3 + j] = 12 * i + 4 * j + k;
	check_close(y, want, 24, 0);
	check_shape(mlf_th_transpose(x, 0, 2), 3, SHAPE(4, 3, 2));

	mlf_th *u = mlf_th_unsqueeze(x, 1);
	check_shape(u, 4, SHAPE(2, 1, 3, 4));
	check_shape(mlf_th_squeeze(u, 1), 3, SHAPE(2, 3, 4));
	check_shape(mlf_th_squeeze(u, 0), 4, SHAPE(2, 1, 3, 4));       /* size 2: stays */
	check_shape(mlf_th_flatten(x, 1, 2), 2, SHAPE(2, 12));
	check_shape(mlf_th_flatten(x, 0, -1), 1, SHAPE(24));

	mlf_th *r = f32(VALS(1, 2, 3), 2, SHAPE(1, 3));
	mlf_th *e = mlf_th_expand(r, 2, SHAPE(2, -1));
	check_shape(e, 2, SHAPE(2, 3));
	CHECK(e, 0, 1, 2, 3, 1, 2, 3);
	mlf_th *rep = mlf_th_repeat(r, 2, SHAPE(2, 2));
	check_shape(rep, 2, SHAPE(2, 6));
	CHECK(rep, 0, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3);

	/* x[:, :, 1::2] and x[:, -1, :] and x[0, 1:2, -2:] */
	mlf_th *s = mlf_th_slice(x, 2, 1, INT64_MAX, 2);
	check_shape(s, 3, SHAPE(2, 3, 2));
	CHECK(s, 0, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23);
	mlf_th *sel = mlf_th_select(x, 1, -1);
	check_shape(sel, 2, SHAPE(2, 4));
	CHECK(sel, 0, 8, 9, 10, 11, 20, 21, 22, 23);
	CHECK(mlf_th_slice(mlf_th_slice(mlf_th_select(x, 0, 0), 0, 1, 2, 1), 1, -2, 100, 1), 0, 6, 7);

	/* a view: writing through the selection changes x, and only there */
	assert_int_equal(mlf_th_fill_(mlf_th_select(x, 0, 1), -1), 0);
	CHECK(mlf_th_select(mlf_th_select(x, 0, 1), 0, 0), 0, -1, -1, -1, -1);
	CHECK(mlf_th_select(mlf_th_select(x, 0, 0), 0, 2), 0, 8, 9, 10, 11);

	/* cat, stack, split */
	mlf_th *a = f32(VALS(1, 2, 3, 4), 2, SHAPE(2, 2)), *b = f32(VALS(5, 6), 2, SHAPE(2, 1));
	mlf_th *c1 = mlf_th_cat(2, (mlf_th *const[]){ a, b }, 1);
	check_shape(c1, 2, SHAPE(2, 3));
	CHECK(c1, 0, 1, 2, 5, 3, 4, 6);
	mlf_th *c0 = mlf_th_cat(2, (mlf_th *const[]){ a, a }, 0);
	check_shape(c0, 2, SHAPE(4, 2));
	assert_null(mlf_th_cat(2, (mlf_th *const[]){ a, b }, 0));
	assert_contains(mlf_th_error(), "mlf_th_cat");
	mlf_th_clear_error();
	assert_null(mlf_th_cat(0, NULL, 0));
	assert_contains(mlf_th_error(), "no tensors");
	mlf_th_clear_error();
	mlf_th *st = mlf_th_stack(3, (mlf_th *const[]){ a, a, a }, 1);
	check_shape(st, 3, SHAPE(2, 3, 2));
	CHECK(st, 0, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4);
	mlf_th *parts[2];
	assert_int_equal(mlf_th_split(c1, 2, SHAPE(1, 2), 1, parts), 0);
	check_shape(parts[0], 2, SHAPE(2, 1));
	check_shape(parts[1], 2, SHAPE(2, 2));
	CHECK(parts[0], 0, 1, 3);
	CHECK(parts[1], 0, 2, 5, 4, 6);
	assert_string_equal(mlf_th_error(), "");
}

/* ---- indexing ------------------------------------------------------------------- */

static void test_indexing(void **state)
{
	(void)state;
	mlf_th *x = f32(VALS(1, 2, 3, 4, 5, 6), 2, SHAPE(3, 2));
	mlf_th *idx = i64(VALS(2, 0), 1, SHAPE(2));
	CHECK(mlf_th_index_select(x, 0, idx), 0, 5, 6, 1, 2);

	mlf_th *g = f32(VALS(1, 2, 3, 4), 2, SHAPE(2, 2));
	CHECK(mlf_th_gather(g, 1, i64(VALS(0, 0, 1, 0), 2, SHAPE(2, 2))), 0, 1, 1, 4, 3);

	mlf_th *z = mlf_th_full(2, SHAPE(2, 3), 0, MLF_DTYPE_F32, MLF_TH_CPU);
	mlf_th *si = i64(VALS(0, 2, 1, 0), 2, SHAPE(2, 2));
	CHECK(mlf_th_scatter(z, 1, si, g), 0, 1, 0, 2, 4, 3, 0);
	CHECK(mlf_th_scatter_s(z, 1, si, 7), 0, 7, 0, 7, 7, 7, 0);
	CHECK(z, 0, 0, 0, 0, 0, 0, 0);                 /* out of place */

	/* mask over the leading dim keeps rows; a full-shape mask picks elements */
	const uint8_t m1[3] = { 1, 0, 1 };
	mlf_th *rows = mlf_th_mask_select(x, mlf_th_from_data(m1, MLF_DTYPE_BOOL, 1, SHAPE(3),
							     MLF_TH_CPU));
	check_shape(rows, 2, SHAPE(2, 2));
	CHECK(rows, 0, 1, 2, 5, 6);
	mlf_th *el = mlf_th_mask_select(x, mlf_th_binary_s(MLF_TH_GT, x, 3.5));
	check_shape(el, 1, SHAPE(3));
	CHECK(el, 0, 4, 5, 6);
	assert_null(mlf_th_mask_select(x, idx));
	assert_contains(mlf_th_error(), "bool");
	mlf_th_clear_error();

	mlf_th *nz = mlf_th_nonzero(f32(VALS(0, 1, 2, 0), 2, SHAPE(2, 2)));
	check_shape(nz, 2, SHAPE(2, 2));
	assert_int_equal(mlf_th_dtype(nz), MLF_DTYPE_I64);
	CHECK(nz, 0, 0, 1, 1, 0);

	mlf_th *oh = mlf_th_one_hot(i64(VALS(0, 2, 1), 1, SHAPE(3)), 4);
	check_shape(oh, 2, SHAPE(3, 4));
	assert_int_equal(mlf_th_dtype(oh), MLF_DTYPE_I64);
	CHECK(oh, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0);
	check_shape(mlf_th_one_hot(i64(VALS(0, 2, 1), 1, SHAPE(3)), -1), 2, SHAPE(3, 3));
	assert_string_equal(mlf_th_error(), "");
}

/* ---- network operations ----------------------------------------------------------- */

static void test_conv2d(void **state)
{
	(void)state;
	mlf_th *x = f32(VALS(1, 2, 3, 4, 5, 6, 7, 8, 9), 4, SHAPE(1, 1, 3, 3));
	mlf_th *w = f32(VALS(1, 2, 3, 4), 4, SHAPE(1, 1, 2, 2));
	mlf_th *bias = f32(VALS(1), 1, SHAPE(1));
	/* out[i][j] = sum w[a][b] x[i+a][j+b] */
	mlf_th *y = mlf_th_conv2d(x, w, NULL, 1, 0, 1, 1);
	check_shape(y, 4, SHAPE(1, 1, 2, 2));
	CHECK(y, 0, 37, 47, 67, 77);
	CHECK(mlf_th_conv2d(x, w, bias, 1, 0, 1, 1), 0, 38, 48, 68, 78);
	/* stride 2, padding 1: windows at rows/cols {-1,0} and {1,2} */
	CHECK(mlf_th_conv2d(x, w, NULL, 2, 1, 1, 1), 0, 4, 18, 36, 77);
	/* dilation 2: the corners 1, 3, 7, 9 */
	CHECK(mlf_th_conv2d(x, w, NULL, 1, 0, 2, 1), 0, 64);
	/* groups 2: each channel with its own 1x1 weight */
	mlf_th *x2 = f32(VALS(1, 1, 1, 1, 2, 2, 2, 2), 4, SHAPE(1, 2, 2, 2));
	mlf_th *w2 = f32(VALS(3, 5), 4, SHAPE(2, 1, 1, 1));
	CHECK(mlf_th_conv2d(x2, w2, NULL, 1, 0, 1, 2), 0, 3, 3, 3, 3, 10, 10, 10, 10);
	/* groups 1 with the same data: both channels summed */
	mlf_th *w3 = f32(VALS(3, 5), 4, SHAPE(1, 2, 1, 1));
	CHECK(mlf_th_conv2d(x2, w3, NULL, 1, 0, 1, 1), 0, 13, 13, 13, 13);
	assert_string_equal(mlf_th_error(), "");
}

static void test_batch_norm(void **state)
{
	(void)state;
	/* N=2, C=2, H=1, W=2; channel 0 sees 1,2,3,4, channel 1 sees 2,2,2,6 */
	mlf_th *x = f32(VALS(1, 2, 2, 2, 3, 4, 2, 6), 4, SHAPE(2, 2, 1, 2));
	mlf_th *w = vec(VALS(2, 1), 2), *b = vec(VALS(0, 1), 2);
	mlf_th *rm = vec(VALS(0, 0), 2), *rv = vec(VALS(1, 1), 2);
	const double m = 0.03, eps = 1e-3;
	const double mean[2] = { 2.5, 3.0 };
	const double var_b[2] = { 1.25, 3.0 };          /* biased: normalises the batch */
	const double var_u[2] = { 5.0 / 3, 4.0 };       /* unbiased: goes to running_var */
	const double xs[8] = { 1, 2, 2, 2, 3, 4, 2, 6 };
	const double wv[2] = { 2, 1 }, bv[2] = { 0, 1 };

	mlf_th *y = mlf_th_batch_norm(x, w, b, rm, rv, 1, m, eps);
	double want[8];
	for (int i = 0; i < 8; i++) {
		int c = (i / 2) % 2;
		want[i] = (xs[i] - mean[c]) / sqrt(var_b[c] + eps) * wv[c] + bv[c];
	}
	check_close(y, want, 8, 1e-5);
	double rm1[2], rv1[2];
	for (int c = 0; c < 2; c++) {
		rm1[c] = (1 - m) * 0 + m * mean[c];
		rv1[c] = (1 - m) * 1 + m * var_u[c];
	}
	check_close(rm, rm1, 2, 1e-6);
	check_close(rv, rv1, 2, 1e-6);

	/* a second training step compounds; no grad mode does not stop it */
	int prev = mlf_th_grad_enabled(0);
	assert_non_null(mlf_th_batch_norm(x, w, b, rm, rv, 1, m, eps));
	mlf_th_grad_enabled(prev);
	double rm2[2], rv2[2];
	for (int c = 0; c < 2; c++) {
		rm2[c] = (1 - m) * rm1[c] + m * mean[c];
		rv2[c] = (1 - m) * rv1[c] + m * var_u[c];
	}
	check_close(rm, rm2, 2, 1e-6);
	check_close(rv, rv2, 2, 1e-6);

	/* eval mode normalises with the running stats and leaves them alone */
	y = mlf_th_batch_norm(x, w, b, rm, rv, 0, m, eps);
	for (int i = 0; i < 8; i++) {
		int c = (i / 2) % 2;
		want[i] = (xs[i] - rm2[c]) / sqrt(rv2[c] + eps) * wv[c] + bv[c];
	}
	check_close(y, want, 8, 1e-5);
	check_close(rm, rm2, 2, 1e-6);

	/* no affine, no running stats */
	y = mlf_th_batch_norm(x, NULL, NULL, NULL, NULL, 1, m, eps);
	for (int i = 0; i < 8; i++) {
		int c = (i / 2) % 2;
		want[i] = (xs[i] - mean[c]) / sqrt(var_b[c] + eps);
	}
	check_close(y, want, 8, 1e-5);
	assert_null(mlf_th_batch_norm(x, w, b, NULL, NULL, 0, m, eps));
	assert_contains(mlf_th_error(), "mlf_th_batch_norm");
	mlf_th_clear_error();
}

static void test_pool_upsample(void **state)
{
	(void)state;
	mlf_th *x = mlf_th_reshape(mlf_th_arange(0, 16, 1, MLF_DTYPE_F32, MLF_TH_CPU), 4,
				   SHAPE(1, 1, 4, 4));
	mlf_th *p = mlf_th_max_pool2d(x, 2, 2, 0);
	check_shape(p, 4, SHAPE(1, 1, 2, 2));
	CHECK(p, 0, 5, 7, 13, 15);
	CHECK(mlf_th_max_pool2d(x, 2, 0, 0), 0, 5, 7, 13, 15);          /* stride 0: = kernel */
	/* 3x3, stride 1, padding 1 (SPPF-like): max over the clipped window */
	double want[16];
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++) {
			int r = i + 1 < 3 ? i + 1 : 3, c = j + 1 < 3 ? j + 1 : 3;
			want[i * 4 + j] = r * 4 + c;
		}
	mlf_th *q = mlf_th_max_pool2d(x, 3, 1, 1);
	check_shape(q, 4, SHAPE(1, 1, 4, 4));
	check_close(q, want, 16, 0);

	mlf_th *s = f32(VALS(1, 2, 3, 4), 4, SHAPE(1, 1, 2, 2));
	mlf_th *u = mlf_th_upsample_nearest(s, 2);
	check_shape(u, 4, SHAPE(1, 1, 4, 4));
	CHECK(u, 0, 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4);
	check_shape(mlf_th_upsample_nearest(s, 3), 4, SHAPE(1, 1, 6, 6));
	assert_null(mlf_th_upsample_nearest(vec(VALS(1), 1), 2));
	assert_contains(mlf_th_error(), "4-d");
	mlf_th_clear_error();
}

static void test_softmax_matmul(void **state)
{
	(void)state;
	const double e1 = exp(1), e2 = exp(2), e3 = exp(3), z = e1 + e2 + e3;
	mlf_th *x = f32(VALS(1, 2, 3, 0, 0, 0), 2, SHAPE(2, 3));
	CHECK(mlf_th_softmax(x, 1), 1e-6, e1 / z, e2 / z, e3 / z, 1.0 / 3, 1.0 / 3, 1.0 / 3);
	CHECK(mlf_th_log_softmax(x, -1), 1e-6, 1 - log(z), 2 - log(z), 3 - log(z), -log(3), -log(3),
	      -log(3));
	/* down the columns: softmax of (v, v - 1) is (1 / (1 + e^-1), 1 / (1 + e)) */
	mlf_th *x2 = f32(VALS(1, 2, 3, 0, 1, 2), 2, SHAPE(2, 3));
	const double a = 1 / (1 + exp(1)), b = 1 / (1 + exp(-1));
	CHECK(mlf_th_softmax(x2, 0), 1e-6, b, b, b, a, a, a);

	mlf_th *m = f32(VALS(1, 2, 3, 4, 5, 6), 2, SHAPE(2, 3));
	mlf_th *n = f32(VALS(1, 0, 0, 1, 2, -1), 2, SHAPE(3, 2));
	mlf_th *p = mlf_th_matmul(m, n);
	check_shape(p, 2, SHAPE(2, 2));
	CHECK(p, 0, 7, -1, 16, -1);
	/* batched with broadcasting: [2, 1, 3] @ [3, 2] */
	mlf_th *bm = mlf_th_matmul(mlf_th_reshape(m, 3, SHAPE(2, 1, 3)), n);
	check_shape(bm, 3, SHAPE(2, 1, 2));
	CHECK(bm, 0, 7, -1, 16, -1);
	/* vector . vector */
	CHECK(mlf_th_matmul(vec(VALS(1, 2, 3), 3), vec(VALS(4, 5, 6), 3)), 0, 32);
	assert_null(mlf_th_matmul(m, m));
	mlf_th_clear_error();
}

static double bce(double x, double y)
{
	double s = 1 / (1 + exp(-x));
	return -(y * log(s) + (1 - y) * log(1 - s));
}

static void test_losses(void **state)
{
	(void)state;
	mlf_th *lg = vec(VALS(0, 2, -1), 3), *tg = vec(VALS(1, 0, 0.5), 3), *w = vec(VALS(1, 2, 3), 3);
	const double l0 = bce(0, 1), l1 = bce(2, 0), l2 = bce(-1, 0.5);
	CHECK(mlf_th_bce_with_logits(lg, tg, NULL, MLF_TH_REDUCE_NONE), 1e-6, l0, l1, l2);
	CHECK(mlf_th_bce_with_logits(lg, tg, NULL, MLF_TH_REDUCE_MEAN), 1e-6, (l0 + l1 + l2) / 3);
	CHECK(mlf_th_bce_with_logits(lg, tg, NULL, MLF_TH_REDUCE_SUM), 1e-6, l0 + l1 + l2);
	CHECK(mlf_th_bce_with_logits(lg, tg, w, MLF_TH_REDUCE_SUM), 1e-6, l0 + 2 * l1 + 3 * l2);
	assert_float_equal(l0, log(2), 1e-12);

	/* cross entropy: -log softmax(row)[target] */
	mlf_th *logits = f32(VALS(1, 2, 3, 1, 1, 1), 2, SHAPE(2, 3));
	const double r0 = -(3 - log(exp(1) + exp(2) + exp(3))), r1 = log(3);
	CHECK(mlf_th_cross_entropy(logits, i64(VALS(2, 0), 1, SHAPE(2)), MLF_TH_REDUCE_NONE), 1e-6, r0,
	      r1);
	CHECK(mlf_th_cross_entropy(logits, i64(VALS(2, 0), 1, SHAPE(2)), MLF_TH_REDUCE_MEAN), 1e-6,
	      (r0 + r1) / 2);
	CHECK(mlf_th_cross_entropy(logits, i64(VALS(2, 0), 1, SHAPE(2)), MLF_TH_REDUCE_SUM), 1e-6,
	      r0 + r1);
	CHECK(mlf_th_cross_entropy(logits, i64(VALS(2, -100), 1, SHAPE(2)), MLF_TH_REDUCE_MEAN), 1e-6,
	      r0);
	assert_string_equal(mlf_th_error(), "");
}

/* ---- autograd -------------------------------------------------------------------- */

static void test_autograd(void **state)
{
	(void)state;
	mlf_th *x = vec(VALS(1, 2, 3), 3), *w = vec(VALS(2, -1, 0.5), 3);
	assert_int_equal(mlf_th_requires_grad(x), 0);
	assert_int_equal(mlf_th_set_requires_grad(x, 1), 0);
	assert_int_equal(mlf_th_requires_grad(x), 1);
	assert_null(mlf_th_grad(x));                    /* none yet */

	/* d/dx sum(x^2 w) = 2 x w */
	mlf_th *sq = mlf_th_unary(MLF_TH_SQUARE, x);
	mlf_th *loss = mlf_th_reduce(MLF_TH_SUM, mlf_th_binary(MLF_TH_MUL, sq, w), MLF_TH_ALL_DIMS, 0);
	assert_int_equal(mlf_th_requires_grad(loss), 1);
	assert_int_equal(mlf_th_backward(loss), 0);
	mlf_th *g = mlf_th_grad(x);
	CHECK(g, 0, 4, -4, 3);
	assert_null(mlf_th_grad(w));                    /* does not require grad */
	assert_null(mlf_th_grad(sq));                   /* not a leaf */
	assert_string_equal(mlf_th_error(), "");

	/* gradients accumulate: + d/dx sum(sigmoid(x)) = s (1 - s) */
	loss = mlf_th_reduce(MLF_TH_SUM, mlf_th_unary(MLF_TH_SIGMOID, x), MLF_TH_ALL_DIMS, 0);
	assert_int_equal(mlf_th_backward(loss), 0);
	double want[3];
	const double xs[3] = { 1, 2, 3 }, g1[3] = { 4, -4, 3 };
	for (int i = 0; i < 3; i++) {
		double s = 1 / (1 + exp(-xs[i]));
		want[i] = g1[i] + s * (1 - s);
	}
	check_close(mlf_th_grad(x), want, 3, 1e-6);

	/* both operands: d/dw sum(x^2 w) = x^2; through mean, pow and div */
	mlf_th *v = vec(VALS(2, -1, 0.5), 3);
	mlf_th_set_requires_grad(v, 1);
	loss = mlf_th_reduce(MLF_TH_MEAN,
			     mlf_th_binary(MLF_TH_DIV, mlf_th_binary_s(MLF_TH_POW, v, 3), mlf_th_detach(x)),
			     MLF_TH_ALL_DIMS, 0);
	assert_int_equal(mlf_th_backward(loss), 0);
	CHECK(mlf_th_grad(v), 1e-6, 3 * 4 / 1.0 / 3, 3 * 1 / 2.0 / 3, 3 * 0.25 / 3.0 / 3);

	/* grad mode off: results do not require grad */
	assert_int_equal(mlf_th_grad_enabled(0), 1);
	mlf_th *ng = mlf_th_binary_s(MLF_TH_MUL, x, 2);
	assert_int_equal(mlf_th_requires_grad(ng), 0);
	/* in place on a weight is allowed only now */
	mlf_th *wt = mlf_th_clone(x);
	mlf_th_set_requires_grad(wt, 1);
	assert_int_equal(mlf_th_mul_s_(wt, 2), 0);
	assert_int_equal(mlf_th_grad_enabled(1), 0);
	assert_int_equal(mlf_th_requires_grad(mlf_th_binary_s(MLF_TH_MUL, x, 2)), 1);
	assert_int_equal(mlf_th_mul_s_(wt, 2), -1);
	assert_contains(mlf_th_error(), "leaf");
	mlf_th_clear_error();

	/* backward errors */
	assert_int_equal(mlf_th_backward(mlf_th_binary_s(MLF_TH_MUL, x, 2)), -1);
	assert_contains(mlf_th_error(), "scalar");
	mlf_th_clear_error();
	assert_int_equal(mlf_th_backward(mlf_th_reduce(MLF_TH_SUM, w, MLF_TH_ALL_DIMS, 0)), -1);
	assert_contains(mlf_th_error(), "mlf_th_backward");
	mlf_th_clear_error();

	/* requires_grad: only floats; a non-leaf becomes a leaf of its own */
	assert_int_equal(mlf_th_set_requires_grad(i64(VALS(1), 1, SHAPE(1)), 1), -1);
	assert_contains(mlf_th_error(), "floating point");
	mlf_th_clear_error();
	mlf_th *nl = mlf_th_binary_s(MLF_TH_MUL, x, 3);
	assert_int_equal(mlf_th_set_requires_grad(nl, 1), 0);
	loss = mlf_th_reduce(MLF_TH_SUM, nl, MLF_TH_ALL_DIMS, 0);
	assert_int_equal(mlf_th_backward(loss), 0);
	CHECK(mlf_th_grad(nl), 0, 1, 1, 1);
	assert_string_equal(mlf_th_error(), "");
}

static void test_clip_grad_norm(void **state)
{
	(void)state;
	mlf_th *a = vec(VALS(1, 1), 2), *b = vec(VALS(1, 1), 2), *c = vec(VALS(1), 1);
	mlf_th_set_requires_grad(a, 1);
	mlf_th_set_requires_grad(b, 1);
	mlf_th_set_requires_grad(c, 1);
	mlf_th *const ps[3] = { a, b, c };
	assert_true(mlf_th_clip_grad_norm(3, ps, 1.0) == 0.0);          /* no gradients yet */

	/* loss = 3 a0 + 4 b1: grads (3, 0) and (0, 4), total norm 5; c has none */
	mlf_th *loss = mlf_th_binary(MLF_TH_ADD, mlf_th_binary_s(MLF_TH_MUL, mlf_th_select(a, 0, 0), 3),
				     mlf_th_binary_s(MLF_TH_MUL, mlf_th_select(b, 0, 1), 4));
	assert_int_equal(mlf_th_backward(loss), 0);
	double n = mlf_th_clip_grad_norm(3, ps, 10.0);
	assert_float_equal(n, 5.0, 1e-6);
	CHECK(mlf_th_grad(a), 0, 3, 0);                 /* factor clamped to 1 */
	n = mlf_th_clip_grad_norm(3, ps, 1.0);
	assert_float_equal(n, 5.0, 1e-6);
	const double f = 1.0 / (5.0 + 1e-6);
	CHECK(mlf_th_grad(a), 1e-6, 3 * f, 0);
	CHECK(mlf_th_grad(b), 1e-6, 0, 4 * f);
	assert_null(mlf_th_grad(c));
	assert_float_equal(mlf_th_clip_grad_norm(2, ps, 1.0), 1.0, 1e-5);
	assert_string_equal(mlf_th_error(), "");
}

static void test_autocast(void **state)
{
	(void)state;
	mlf_th_manual_seed(3);
	mlf_th *x = mlf_th_randn(4, SHAPE(1, 2, 5, 5), 0, 1, MLF_DTYPE_F32, MLF_TH_CPU);
	mlf_th *w = mlf_th_randn(4, SHAPE(3, 2, 3, 3), 0, 1, MLF_DTYPE_F32, MLF_TH_CPU);
	mlf_th_set_requires_grad(w, 1);

	assert_int_equal(mlf_th_autocast_begin(MLF_TH_CPU, MLF_DTYPE_BF16), 0);
	mlf_th *y = mlf_th_conv2d(x, w, NULL, 1, 1, 1, 1);
	assert_int_equal(mlf_th_dtype(y), MLF_DTYPE_BF16);
	assert_int_equal(mlf_th_dtype(mlf_th_matmul(mlf_th_reshape(x, 2, SHAPE(10, 5)),
						    mlf_th_reshape(x, 2, SHAPE(5, 10)))),
			 MLF_DTYPE_BF16);
	/* nested: still bf16 after the inner end */
	assert_int_equal(mlf_th_autocast_begin(MLF_TH_CPU, MLF_DTYPE_BF16), 0);
	mlf_th_autocast_end(MLF_TH_CPU);
	assert_int_equal(mlf_th_dtype(mlf_th_conv2d(x, w, NULL, 1, 1, 1, 1)), MLF_DTYPE_BF16);
	mlf_th *loss = mlf_th_reduce(MLF_TH_SUM, mlf_th_to(y, MLF_DTYPE_F32, MLF_TH_CPU),
				     MLF_TH_ALL_DIMS, 0);
	mlf_th_autocast_end(MLF_TH_CPU);

	assert_int_equal(mlf_th_dtype(mlf_th_conv2d(x, w, NULL, 1, 1, 1, 1)), MLF_DTYPE_F32);
	/* the weight's gradient comes back in its own dtype */
	assert_int_equal(mlf_th_backward(loss), 0);
	assert_int_equal(mlf_th_dtype(mlf_th_grad(w)), MLF_DTYPE_F32);
	mlf_th_autocast_end(MLF_TH_CPU);                /* without a begin: no-op */
	assert_int_equal(mlf_th_dtype(mlf_th_conv2d(x, w, NULL, 1, 1, 1, 1)), MLF_DTYPE_F32);
	assert_string_equal(mlf_th_error(), "");

	assert_int_equal(mlf_th_autocast_begin(MLF_TH_CPU, MLF_DTYPE_F32), -1);
	assert_contains(mlf_th_error(), "float32");
	mlf_th_clear_error();
	if (mlf_th_cuda_device_count() == 0) {
		assert_int_equal(mlf_th_autocast_begin(0, MLF_DTYPE_F16), -1);
		assert_contains(mlf_th_error(), "CUDA");
		mlf_th_clear_error();
	}
	assert_int_equal(mlf_th_dtype(mlf_th_conv2d(x, w, NULL, 1, 1, 1, 1)), MLF_DTYPE_F32);
}

/* ---- optimizers ------------------------------------------------------------------- */

/* Sets the gradient of each parameter p[i] to c[i] (a constant: loss = sum(p * c)). */
static void set_grads(mlf_th_optim *o, size_t n, mlf_th *const *p, mlf_th *const *c)
{
	assert_int_equal(mlf_th_optim_zero_grad(o), 0);
	size_t m = mlf_th_scope_open();
	for (size_t i = 0; i < n; i++) {
		mlf_th *l = mlf_th_reduce(MLF_TH_SUM, mlf_th_binary(MLF_TH_MUL, p[i], c[i]),
					  MLF_TH_ALL_DIMS, 0);
		assert_int_equal(mlf_th_backward(l), 0);
	}
	mlf_th_scope_close(m);
}

/* max |a - b| / max(1, |b|) over two float tensors of the same shape */
static double max_rel(const mlf_th *a, const mlf_th *b)
{
	int64_t n = mlf_th_numel(b);
	assert_int_equal(mlf_th_numel(a), n);
	float *x = malloc((size_t)n * sizeof(*x)), *y = malloc((size_t)n * sizeof(*y));
	assert_true(x && y);
	assert_int_equal(mlf_th_copy_out(a, MLF_DTYPE_F32, x, (size_t)n * sizeof(*x)), 0);
	assert_int_equal(mlf_th_copy_out(b, MLF_DTYPE_F32, y, (size_t)n * sizeof(*y)), 0);
	double m = 0;
	for (int64_t i = 0; i < n; i++)
		m = fmax(m, fabs((double)x[i] - y[i]) / fmax(1.0, fabs((double)y[i])));
	free(x);
	free(y);
	return m;
}

/* The fused batch norm + SiLU (a channels-last float32 input in training)
 * against batch_norm then silu on the same values in NCHW: the output, the
 * running statistics, and the gradients of input, weight and bias; channel
 * counts that are and are not multiples of a vector, a map of one pixel
 * (channels-last in both layouts, so both take the fused path). */
static void test_batch_norm_silu(void **state)
{
	(void)state;
	static const int64_t shapes[][4] = { { 4, 16, 10, 12 }, { 2, 17, 5, 3 }, { 3, 3, 7, 9 },
					     { 8, 64, 1, 1 } };
	mlf_th_batch_norm_silu_enable(1);
	for (size_t k = 0; k < sizeof(shapes) / sizeof(*shapes); k++) {
		const int64_t *sh = shapes[k], C = sh[1];
		const int one = sh[2] * sh[3] == 1;
		size_t mark = mlf_th_scope_open();
		mlf_th_manual_seed(11 + k);
		mlf_th *x0 = mlf_th_binary_s(MLF_TH_MUL, mlf_th_rand(4, sh, -2, 3, MLF_DTYPE_F32, MLF_TH_CPU), 1.5);
		mlf_th *g = mlf_th_rand(4, sh, -1, 1, MLF_DTYPE_F32, MLF_TH_CPU);
		mlf_th *w0 = mlf_th_rand(1, &C, 0.5, 1.5, MLF_DTYPE_F32, MLF_TH_CPU);
		mlf_th *b0 = mlf_th_rand(1, &C, -0.5, 0.5, MLF_DTYPE_F32, MLF_TH_CPU);
		mlf_th *out[2], *dx[2], *dw[2], *db[2], *rm[2], *rv[2];
		for (int f = 0; f < 2; f++) {
			/* f = 1: channels-last, the fused path; f = 0: NCHW, libtorch's two ops */
			mlf_th *x = f ? mlf_th_channels_last(x0) : mlf_th_contiguous(x0);
			mlf_th *w = mlf_th_clone(w0), *b = mlf_th_clone(b0);
			rm[f] = mlf_th_full(1, &C, 0.1, MLF_DTYPE_F32, MLF_TH_CPU);
			rv[f] = mlf_th_full(1, &C, 2.0, MLF_DTYPE_F32, MLF_TH_CPU);
			for (mlf_th **t = (mlf_th *[]){ x, w, b, NULL }; *t; t++)
				assert_int_equal(mlf_th_set_requires_grad(*t, 1), 0);
			uint64_t before = mlf_th_batch_norm_silu_fused_calls();
			out[f] = mlf_th_batch_norm_silu(x, w, b, rm[f], rv[f], 1, 0.03, 1e-3);
			if (!out[f])
				fail_msg("%s", mlf_th_error());
			/* a map of one pixel is channels-last in either layout */
			assert_int_equal(mlf_th_batch_norm_silu_fused_calls() - before, (uint64_t)(f || one));
			mlf_th *loss = mlf_th_reduce(MLF_TH_SUM, mlf_th_binary(MLF_TH_MUL, out[f], g),
						     MLF_TH_ALL_DIMS, 0);
			assert_int_equal(mlf_th_backward(loss), 0);
			dx[f] = mlf_th_grad(x), dw[f] = mlf_th_grad(w), db[f] = mlf_th_grad(b);
			assert_true(dx[f] && dw[f] && db[f]);
		}
		/* The gradient arriving as a channel slice (through a concatenation,
		 * as in C2f) is read in place: the same gradients, bit for bit. */
		{
			mlf_th *x = mlf_th_channels_last(x0), *w = mlf_th_clone(w0), *b = mlf_th_clone(b0);
			mlf_th *m = mlf_th_full(1, &C, 0.1, MLF_DTYPE_F32, MLF_TH_CPU);
			mlf_th *v = mlf_th_full(1, &C, 2.0, MLF_DTYPE_F32, MLF_TH_CPU);
			for (mlf_th **t = (mlf_th *[]){ x, w, b, NULL }; *t; t++)
				assert_int_equal(mlf_th_set_requires_grad(*t, 1), 0);
			mlf_th *y = mlf_th_batch_norm_silu(x, w, b, m, v, 1, 0.03, 1e-3);
			assert_non_null(y);
			mlf_th *other = mlf_th_channels_last(mlf_th_rand(4, sh, 0, 1, MLF_DTYPE_F32, MLF_TH_CPU));
			mlf_th *gg = mlf_th_channels_last(mlf_th_cat(2, (mlf_th *[]){ g, other }, 1));
			mlf_th *loss = mlf_th_reduce(MLF_TH_SUM,
						     mlf_th_binary(MLF_TH_MUL, mlf_th_cat(2, (mlf_th *[]){ y, other }, 1), gg),
						     MLF_TH_ALL_DIMS, 0);
			assert_int_equal(mlf_th_backward(loss), 0);
			const mlf_th *got[3] = { mlf_th_grad(x), mlf_th_grad(w), mlf_th_grad(b) };
			const mlf_th *want[3] = { dx[1], dw[1], db[1] };
			for (int i = 0; i < 3; i++) {
				float *p = tensor_values(got[i]), *q = tensor_values(want[i]);
				assert_memory_equal(p, q, (size_t)mlf_th_numel(want[i]) * sizeof(*p));
				free(p);
				free(q);
			}
		}
		/* the plain path is batch_norm then silu, written out */
		mlf_th *rm2 = mlf_th_full(1, &C, 0.1, MLF_DTYPE_F32, MLF_TH_CPU);
		mlf_th *rv2 = mlf_th_full(1, &C, 2.0, MLF_DTYPE_F32, MLF_TH_CPU);
		mlf_th *ref = mlf_th_unary(MLF_TH_SILU, mlf_th_batch_norm(x0, w0, b0, rm2, rv2, 1, 0.03, 1e-3));
		const double tol0 = one ? 1e-4 : 1e-6;
		assert_true(max_rel(out[0], ref) < tol0);
		assert_true(max_rel(rm[0], rm2) < tol0 && max_rel(rv[0], rv2) < tol0);
		double e[6] = { max_rel(out[1], out[0]), max_rel(rm[1], rm[0]), max_rel(rv[1], rv[0]),
				max_rel(dx[1], dx[0]), max_rel(dw[1], dw[0]), max_rel(db[1], db[0]) };
		print_message("batch_norm_silu [%lld,%lld,%lld,%lld]: fused vs plain: out %.2g, running mean "
			      "%.2g var %.2g, grad x %.2g w %.2g b %.2g\n", (long long)sh[0], (long long)sh[1],
			      (long long)sh[2], (long long)sh[3], e[0], e[1], e[2], e[3], e[4], e[5]);
		for (int i = 0; i < 6; i++)
			assert_true(e[i] < 1e-4);
		mlf_th_scope_close(mark);
	}
	assert_string_equal(mlf_th_error(), "");
	/* a weight of the wrong size is refused, not read past its end */
	size_t mark = mlf_th_scope_open();
	const int64_t sh[4] = { 2, 8, 3, 3 }, c8 = 8, c3 = 3;
	mlf_th *x = mlf_th_channels_last(mlf_th_rand(4, sh, 0, 1, MLF_DTYPE_F32, MLF_TH_CPU));
	mlf_th *w = mlf_th_full(1, &c3, 1.0, MLF_DTYPE_F32, MLF_TH_CPU);
	mlf_th *b = mlf_th_full(1, &c8, 0.0, MLF_DTYPE_F32, MLF_TH_CPU);
	mlf_th *rm = mlf_th_full(1, &c8, 0.0, MLF_DTYPE_F32, MLF_TH_CPU);
	mlf_th *rv = mlf_th_full(1, &c8, 1.0, MLF_DTYPE_F32, MLF_TH_CPU);
	assert_int_equal(mlf_th_set_requires_grad(x, 1), 0);
	uint64_t before = mlf_th_batch_norm_silu_fused_calls();
	assert_null(mlf_th_batch_norm_silu(x, w, b, rm, rv, 1, 0.03, 1e-3));
	assert_non_null(strstr(mlf_th_error(), "mlf_th_batch_norm_silu"));
	assert_int_equal(mlf_th_batch_norm_silu_fused_calls(), before);
	mlf_th_scope_close(mark);
	/* off: never fused */
	mlf_th_batch_norm_silu_enable(0);
	mark = mlf_th_scope_open();
	x = mlf_th_channels_last(mlf_th_rand(4, sh, 0, 1, MLF_DTYPE_F32, MLF_TH_CPU));
	w = mlf_th_full(1, &c8, 1.0, MLF_DTYPE_F32, MLF_TH_CPU);
	b = mlf_th_full(1, &c8, 0.0, MLF_DTYPE_F32, MLF_TH_CPU);
	rm = mlf_th_full(1, &c8, 0.0, MLF_DTYPE_F32, MLF_TH_CPU);
	rv = mlf_th_full(1, &c8, 1.0, MLF_DTYPE_F32, MLF_TH_CPU);
	assert_int_equal(mlf_th_set_requires_grad(x, 1), 0);
	assert_non_null(mlf_th_batch_norm_silu(x, w, b, rm, rv, 1, 0.03, 1e-3));
	assert_int_equal(mlf_th_batch_norm_silu_fused_calls(), before);
	mlf_th_scope_close(mark);
	mlf_th_batch_norm_silu_enable(1);       /* back to the default */
}

/* The values of t (float32) placed `off` floats into a fresh buffer: a view
 * of the same shape and strides whose data start off * 4 bytes later.  1-D
 * or channels-last 4-D. */
static mlf_th *placed(const mlf_th *t, int64_t off)
{
	int64_t s[4];
	const int four = mlf_th_shape(t, s, 4) == 4;
	/* the values in memory order, in a fresh (aligned) tensor */
	mlf_th *flat = mlf_th_flatten(four ? mlf_th_contiguous(mlf_th_permute(t, 4, (int[]){ 0, 2, 3, 1 }))
					   : mlf_th_clone(t), 0, -1);
	if (off > 0) {
		const int64_t n = mlf_th_numel(t);
		mlf_th *parts[2] = { mlf_th_full(1, &off, 0.0, MLF_DTYPE_F32, MLF_TH_CPU), flat };
		flat = mlf_th_slice(mlf_th_cat(2, parts, 0), 0, off, off + n, 1);
	}
	if (!four)
		return flat;
	mlf_th *v = mlf_th_reshape(flat, 4, (int64_t[]){ s[0], s[2], s[3], s[1] });
	return mlf_th_permute(v, 4, (int[]){ 0, 3, 1, 2 });
}

/* The fused kernels' results do not depend on where the data lie: wherever
 * input, weight, bias and incoming gradient start, the output and every
 * gradient are the same bits.  (Left to the compiler, multiply-adds were
 * fused in a loop's vector body and not in the iterations it runs one at a
 * time, whose number depends on the buffers' addresses: training with the
 * fused kernels changed from run to run.) */
static void test_batch_norm_silu_placement(void **state)
{
	(void)state;
	static const int64_t shapes[][4] = { { 4, 8, 6, 6 }, { 4, 8, 3, 3 }, { 2, 17, 5, 3 } };
	mlf_th_batch_norm_silu_enable(1);
	for (size_t k = 0; k < sizeof(shapes) / sizeof(*shapes); k++) {
		const int64_t *sh = shapes[k], C = sh[1], n = sh[0] * sh[1] * sh[2] * sh[3];
		size_t mark = mlf_th_scope_open();
		mlf_th_manual_seed(5 + k);
		mlf_th *x0 = mlf_th_channels_last(mlf_th_rand(4, sh, -3, 3, MLF_DTYPE_F32, MLF_TH_CPU));
		mlf_th *g0 = mlf_th_channels_last(mlf_th_rand(4, sh, -1, 1, MLF_DTYPE_F32, MLF_TH_CPU));
		mlf_th *w0 = mlf_th_rand(1, &C, 0.5, 1.5, MLF_DTYPE_F32, MLF_TH_CPU);
		mlf_th *b0 = mlf_th_rand(1, &C, -0.5, 0.5, MLF_DTYPE_F32, MLF_TH_CPU);
		float *ref[4] = { NULL };
		int differ = 0;
		for (int64_t xo = 0; xo < 16; xo++)
			for (int64_t wo = 0; wo < 16; wo++) {
				size_t m2 = mlf_th_scope_open();
				mlf_th *x = placed(x0, xo), *w = placed(w0, wo), *b = placed(b0, (wo + 5) % 16);
				mlf_th *rm = mlf_th_full(1, &C, 0.0, MLF_DTYPE_F32, MLF_TH_CPU);
				mlf_th *rv = mlf_th_full(1, &C, 1.0, MLF_DTYPE_F32, MLF_TH_CPU);
				for (mlf_th **t = (mlf_th *[]){ x, w, b, NULL }; *t; t++)
					assert_int_equal(mlf_th_set_requires_grad(*t, 1), 0);
				uint64_t before = mlf_th_batch_norm_silu_fused_calls();
				mlf_th *y = mlf_th_batch_norm_silu(x, w, b, rm, rv, 1, 0.03, 1e-3);
				if (!y)
					fail_msg("%s", mlf_th_error());
				assert_int_equal(mlf_th_batch_norm_silu_fused_calls() - before, 1);
				mlf_th *loss = mlf_th_reduce(MLF_TH_SUM,
							     mlf_th_binary(MLF_TH_MUL, y, placed(g0, (xo * 7) % 16)),
							     MLF_TH_ALL_DIMS, 0);
				assert_int_equal(mlf_th_backward(loss), 0);
				const mlf_th *got[4] = { y, mlf_th_grad(x), mlf_th_grad(w), mlf_th_grad(b) };
				const int64_t len[4] = { n, n, C, C };
				for (int i = 0; i < 4; i++) {
					float *v = tensor_values(got[i]);
					if (!ref[i])
						ref[i] = v;
					else {
						differ += memcmp(v, ref[i], (size_t)len[i] * sizeof(*v)) != 0;
						free(v);
					}
				}
				mlf_th_scope_close(m2);
			}
		print_message("batch_norm_silu [%lld,%lld,%lld,%lld] at 256 placements: %d results differ\n",
			      (long long)sh[0], (long long)sh[1], (long long)sh[2], (long long)sh[3], differ);
		assert_int_equal(differ, 0);
		for (int i = 0; i < 4; i++)
			free(ref[i]);
		mlf_th_scope_close(mark);
	}
	assert_string_equal(mlf_th_error(), "");
}

/* 1: the optimizer tests run the multi-tensor (foreach) form, which CUDA
 * parameters take, on the CPU; the expected values are the same. */
static int optim_foreach;

static void test_sgd(void **state)
{
	(void)state;
	double p[2] = { 1.0, -2.0 }, q[2] = { 0.5, 4.0 };
	const double cp[2] = { 0.5, 3.0 }, cq[2] = { -1.0, 2.0 };
	mlf_th *tp = vec(p, 2), *tq = vec(q, 2);
	mlf_th_set_requires_grad(tp, 1);
	mlf_th_set_requires_grad(tq, 1);
	mlf_th *const params[2] = { tp, tq }, *const consts[2] = { vec(cp, 2), vec(cq, 2) };

	mlf_th_optim *o = mlf_th_optim_new(MLF_TH_SGD);
	mlf_th_optim_set_foreach(o, optim_foreach);
	struct mlf_th_group_opts g0 = { .lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = 1 };
	struct mlf_th_group_opts g1 = { .lr = 0.01, .momentum = 0.8 };
	assert_int_equal(mlf_th_optim_add_group(o, 1, &tp, &g0), 0);
	assert_int_equal(mlf_th_optim_add_group(o, 1, &tq, &g1), 1);
	assert_int_equal(mlf_th_optim_ngroups(o), 2);
	assert_float_equal(mlf_th_optim_lr(o, 1), 0.01, 0);

	/* torch.optim.SGD written out: g = grad + wd p; b = g, then m b + g;
	 * nesterov: g + m b, else b; p -= lr g */
	double bp[2], bq[2];
	set_grads(o, 2, params, consts);
	assert_int_equal(mlf_th_optim_step(o), 0);
	for (int i = 0; i < 2; i++) {
		double g = cp[i] + 0.01 * p[i];
		bp[i] = g;
		p[i] -= 0.1 * (g + 0.9 * bp[i]);
		bq[i] = cq[i];
		q[i] -= 0.01 * bq[i];
	}
	check_close(tp, p, 2, 1e-6);
	check_close(tq, q, 2, 1e-6);

	/* the setters take effect at the next step */
	assert_int_equal(mlf_th_optim_set_momentum(o, 0, 0.5), 0);
	assert_int_equal(mlf_th_optim_set_lr(o, 1, 0.5), 0);
	assert_float_equal(mlf_th_optim_lr(o, 1), 0.5, 0);
	set_grads(o, 2, params, consts);
	assert_int_equal(mlf_th_optim_step(o), 0);
	for (int i = 0; i < 2; i++) {
		double g = cp[i] + 0.01 * p[i];
		bp[i] = 0.5 * bp[i] + g;
		p[i] -= 0.1 * (g + 0.5 * bp[i]);
		bq[i] = 0.8 * bq[i] + cq[i];
		q[i] -= 0.5 * bq[i];
	}
	check_close(tp, p, 2, 1e-6);
	check_close(tq, q, 2, 1e-6);

	/* zero_grad drops the gradients; a step without them changes nothing */
	assert_non_null(mlf_th_grad(tp));
	assert_int_equal(mlf_th_optim_zero_grad(o), 0);
	assert_null(mlf_th_grad(tp));
	assert_int_equal(mlf_th_optim_step(o), 0);
	check_close(tp, p, 2, 1e-6);
	assert_string_equal(mlf_th_error(), "");

	/* set_data keeps the optimizer's hold on the parameter */
	int prev = mlf_th_grad_enabled(0);
	assert_int_equal(mlf_th_set_data(tq, vec(VALS(10, 20), 2)), 0);
	mlf_th_grad_enabled(prev);
	set_grads(o, 2, params, consts);
	assert_int_equal(mlf_th_optim_step(o), 0);
	CHECK(tq, 1e-6, 10 - 0.5 * (0.8 * bq[0] + cq[0]), 20 - 0.5 * (0.8 * bq[1] + cq[1]));

	/* torch.optim's checks */
	assert_int_equal(mlf_th_optim_set_lr(o, 2, 0.1), -1);
	assert_contains(mlf_th_error(), "no parameter group 2");
	mlf_th_clear_error();
	assert_true(isnan(mlf_th_optim_lr(o, 5)));
	mlf_th_clear_error();
	assert_int_equal(mlf_th_optim_set_lr(o, 0, -1), -1);
	mlf_th_clear_error();
	mlf_th *other = vec(VALS(1), 1);
	mlf_th_set_requires_grad(other, 1);
	struct mlf_th_group_opts bad = { .lr = 0.1, .nesterov = 1 };
	assert_int_equal(mlf_th_optim_add_group(o, 1, &other, &bad), -1);
	assert_contains(mlf_th_error(), "nesterov");
	mlf_th_clear_error();
	assert_int_equal(mlf_th_optim_add_group(o, 1, &tp, &g1), -1);
	assert_contains(mlf_th_error(), "more than once");
	mlf_th_clear_error();
	mlf_th *nonleaf = mlf_th_binary_s(MLF_TH_MUL, tp, 2);
	assert_int_equal(mlf_th_optim_add_group(o, 1, &nonleaf, &g1), -1);
	assert_contains(mlf_th_error(), "leaf");
	mlf_th_clear_error();
	assert_int_equal(mlf_th_optim_ngroups(o), 2);
	mlf_th_optim_free(o);
	mlf_th_optim_free(NULL);
}

/* torch.optim.Adam(W) for one scalar parameter, written out. */
struct adam_ref {
	double p, m, v;
	int t;
};

static void adam_ref_step(struct adam_ref *s, double grad, double lr, double b1, double b2,
			  double eps, double wd, int decoupled)
{
	s->t++;
	if (decoupled)
		s->p *= 1 - lr * wd;
	else
		grad += wd * s->p;
	s->m = b1 * s->m + (1 - b1) * grad;
	s->v = b2 * s->v + (1 - b2) * grad * grad;
	double bc1 = 1 - pow(b1, s->t), bc2 = 1 - pow(b2, s->t);
	s->p -= lr / bc1 * s->m / (sqrt(s->v) / sqrt(bc2) + eps);
}

static void run_adam(enum mlf_th_optim_kind kind)
{
	const int decoupled = kind == MLF_TH_ADAMW;
	const double p0[3] = { 1.0, -0.5, 2.0 }, c[3] = { 0.3, -2.0, 1e-3 };
	const double q0[1] = { 4.0 }, cq[1] = { 5.0 };
	mlf_th *tp = vec(p0, 3), *tq = vec(q0, 1);
	mlf_th_set_requires_grad(tp, 1);
	mlf_th_set_requires_grad(tq, 1);
	mlf_th *const params[2] = { tp, tq }, *const consts[2] = { vec(c, 3), vec(cq, 1) };

	mlf_th_optim *o = mlf_th_optim_new(kind);
	mlf_th_optim_set_foreach(o, optim_foreach);
	struct mlf_th_group_opts g0 = { .lr = 0.01, .momentum = 0.9, .beta2 = 0.999, .weight_decay = 0.05 };
	struct mlf_th_group_opts g1 = { .lr = 0.1, .momentum = 0.8, .beta2 = 0.99, .eps = 1e-3 };
	assert_int_equal(mlf_th_optim_add_group(o, 1, &tp, &g0), 0);
	assert_int_equal(mlf_th_optim_add_group(o, 1, &tq, &g1), 1);

	struct adam_ref rp[3], rq = { q0[0], 0, 0, 0 };
	for (int i = 0; i < 3; i++)
		rp[i] = (struct adam_ref){ p0[i], 0, 0, 0 };
	double want[3];

	set_grads(o, 2, params, consts);
	assert_int_equal(mlf_th_optim_step(o), 0);
	for (int i = 0; i < 3; i++) {
		adam_ref_step(&rp[i], c[i], 0.01, 0.9, 0.999, 1e-8, 0.05, decoupled);
		want[i] = rp[i].p;
	}
	adam_ref_step(&rq, cq[0], 0.1, 0.8, 0.99, 1e-3, 0, decoupled);
	check_close(tp, want, 3, 1e-6);
	check_close(tq, &rq.p, 1, 1e-6);

	/* beta1 and lr moved between steps (warmup does this) */
	assert_int_equal(mlf_th_optim_set_momentum(o, 0, 0.7), 0);
	assert_int_equal(mlf_th_optim_set_lr(o, 0, 0.02), 0);
	set_grads(o, 2, params, consts);
	assert_int_equal(mlf_th_optim_step(o), 0);
	for (int i = 0; i < 3; i++) {
		adam_ref_step(&rp[i], c[i], 0.02, 0.7, 0.999, 1e-8, 0.05, decoupled);
		want[i] = rp[i].p;
	}
	adam_ref_step(&rq, cq[0], 0.1, 0.8, 0.99, 1e-3, 0, decoupled);
	check_close(tp, want, 3, 1e-6);
	check_close(tq, &rq.p, 1, 1e-6);

	/* a parameter without a gradient does not advance its step count */
	set_grads(o, 1, params, consts);
	assert_int_equal(mlf_th_optim_step(o), 0);
	for (int i = 0; i < 3; i++) {
		adam_ref_step(&rp[i], c[i], 0.02, 0.7, 0.999, 1e-8, 0.05, decoupled);
		want[i] = rp[i].p;
	}
	check_close(tp, want, 3, 1e-6);
	check_close(tq, &rq.p, 1, 1e-6);
	set_grads(o, 2, params, consts);
	assert_int_equal(mlf_th_optim_step(o), 0);
	adam_ref_step(&rq, cq[0], 0.1, 0.8, 0.99, 1e-3, 0, decoupled);  /* its 3rd step */
	check_close(tq, &rq.p, 1, 1e-6);

	struct mlf_th_group_opts bad = { .lr = 0.1, .momentum = 0.9, .beta2 = 1.0 };
	mlf_th *other = vec(VALS(1), 1);
	mlf_th_set_requires_grad(other, 1);
	assert_int_equal(mlf_th_optim_add_group(o, 1, &other, &bad), -1);
	assert_contains(mlf_th_error(), "beta");
	mlf_th_clear_error();
	assert_int_equal(mlf_th_optim_set_momentum(o, 0, 1.0), -1);
	mlf_th_clear_error();
	mlf_th_optim_free(o);
	assert_string_equal(mlf_th_error(), "");
}

static void test_adam(void **state)
{
	(void)state;
	run_adam(MLF_TH_ADAM);
}

static void test_adamw(void **state)
{
	(void)state;
	run_adam(MLF_TH_ADAMW);
}

static void test_optim_foreach(void **state)
{
	optim_foreach = 1;
	test_sgd(state);
	run_adam(MLF_TH_ADAM);
	run_adam(MLF_TH_ADAMW);
	optim_foreach = 0;
}

/* Adam and AdamW differ exactly by where the weight decay goes. */
static void test_adam_vs_adamw(void **state)
{
	(void)state;
	mlf_th *a = vec(VALS(2), 1), *b = vec(VALS(2), 1), *c = vec(VALS(0), 1);
	mlf_th_set_requires_grad(a, 1);
	mlf_th_set_requires_grad(b, 1);
	mlf_th_optim *oa = mlf_th_optim_new(MLF_TH_ADAM), *ow = mlf_th_optim_new(MLF_TH_ADAMW);
	struct mlf_th_group_opts g = { .lr = 0.1, .momentum = 0.9, .beta2 = 0.999, .weight_decay = 0.5 };
	mlf_th_optim_add_group(oa, 1, &a, &g);
	mlf_th_optim_add_group(ow, 1, &b, &g);
	set_grads(oa, 1, &a, &c);       /* zero gradient: only the decay moves p */
	set_grads(ow, 1, &b, &c);
	mlf_th_optim_step(oa);
	mlf_th_optim_step(ow);
	/* Adam: g = 1, a full normalised step of lr; AdamW: p (1 - lr wd) */
	CHECK(a, 1e-6, 2 - 0.1 * 1 / (1 + 1e-8));
	CHECK(b, 1e-6, 2 * (1 - 0.1 * 0.5));
	mlf_th_optim_free(oa);
	mlf_th_optim_free(ow);
	assert_string_equal(mlf_th_error(), "");
}

/* Saving and restoring the state: an optimizer given another's state (what
 * resuming from a checkpoint does) continues exactly as the original. */
static void transplant(enum mlf_th_optim_kind kind, const char *const *names, size_t nnames)
{
	const double p0[3] = { 1.0, -0.5, 2.0 }, c[3] = { 0.3, -2.0, 1.5 };
	mlf_th *a = vec(p0, 3), *b = vec(p0, 3), *ca = vec(c, 3);
	mlf_th_set_requires_grad(a, 1);
	mlf_th_set_requires_grad(b, 1);
	mlf_th_optim *oa = mlf_th_optim_new(kind), *ob = mlf_th_optim_new(kind);
	struct mlf_th_group_opts g = { .lr = 0.05, .momentum = 0.9, .beta2 = 0.999, .weight_decay = 0.01 };
	assert_int_equal(mlf_th_optim_add_group(oa, 1, &a, &g), 0);
	assert_int_equal(mlf_th_optim_add_group(ob, 1, &b, &g), 0);
	assert_int_equal(mlf_th_optim_group_size(oa, 0), 1);
	assert_int_equal(mlf_th_optim_group_size(oa, 3), 0);

	/* before the first step there is no state, and that is not an error */
	assert_null(mlf_th_optim_state(oa, 0, 0, names[0]));
	assert_string_equal(mlf_th_error(), "");
	for (int i = 0; i < 2; i++) {
		set_grads(oa, 1, &a, &ca);
		assert_int_equal(mlf_th_optim_step(oa), 0);
	}
	assert_int_equal(mlf_th_optim_step_count(oa, 0, 0), 2);

	/* b gets a's weights, state and step count */
	int was = mlf_th_grad_enabled(0);
	assert_int_equal(mlf_th_copy_(b, a), 0);
	mlf_th_grad_enabled(was);
	for (size_t k = 0; k < nnames; k++) {
		mlf_th *st = mlf_th_optim_state(oa, 0, 0, names[k]);
		assert_non_null(st);
		assert_int_equal(mlf_th_optim_set_state(ob, 0, 0, names[k], st), 0);
	}
	assert_int_equal(mlf_th_optim_set_step_count(ob, 0, 0, 2), 0);
	for (int i = 0; i < 3; i++) {
		set_grads(oa, 1, &a, &ca);
		set_grads(ob, 1, &b, &ca);
		assert_int_equal(mlf_th_optim_step(oa), 0);
		assert_int_equal(mlf_th_optim_step(ob), 0);
	}
	double want[3];
	assert_int_equal(mlf_th_copy_out(a, MLF_DTYPE_F64, want, sizeof(want)), 0);
	check_close(b, want, 3, 0);

	/* the copy is the optimizer's own: changing the source changes nothing */
	mlf_th *st = mlf_th_optim_state(oa, 0, 0, names[0]);
	mlf_th *before = mlf_th_clone(mlf_th_optim_state(ob, 0, 0, names[0]));
	assert_int_equal(mlf_th_fill_(st, 7.0), 0);
	double keep[3];
	assert_int_equal(mlf_th_copy_out(before, MLF_DTYPE_F64, keep, sizeof(keep)), 0);
	check_close(mlf_th_optim_state(ob, 0, 0, names[0]), keep, 3, 0);

	/* errors name the problem */
	assert_null(mlf_th_optim_state(oa, 0, 0, "no_such_state"));
	assert_contains(mlf_th_error(), "no_such_state");
	mlf_th_clear_error();
	assert_null(mlf_th_optim_state(oa, 0, 5, names[0]));
	assert_contains(mlf_th_error(), "no parameter 5");
	mlf_th_clear_error();
	mlf_th *wrong = vec(p0, 2);
	assert_int_equal(mlf_th_optim_set_state(ob, 0, 0, names[0], wrong), -1);
	assert_contains(mlf_th_error(), "does not fit");
	mlf_th_clear_error();
	assert_int_equal(mlf_th_optim_set_step_count(ob, 0, 0, -1), -1);
	mlf_th_clear_error();
	/* removing the state makes the next step start it afresh */
	assert_int_equal(mlf_th_optim_set_state(ob, 0, 0, names[0], NULL), 0);
	assert_null(mlf_th_optim_state(ob, 0, 0, names[0]));
	mlf_th_optim_free(oa);
	mlf_th_optim_free(ob);
	assert_string_equal(mlf_th_error(), "");
}

static void test_optim_state(void **state)
{
	(void)state;
	const char *sgd[] = { "momentum_buffer" }, *adam[] = { "exp_avg", "exp_avg_sq" };
	transplant(MLF_TH_SGD, sgd, 1);
	transplant(MLF_TH_ADAM, adam, 2);
	transplant(MLF_TH_ADAMW, adam, 2);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, open_scope, close_scope)
#define S(f) cmocka_unit_test_setup_teardown(f, check_no_leak, check_no_leak)
	const struct CMUnitTest tests[] = {
		T(test_runtime),
		T(test_error_path),
		T(test_null_inputs),
		S(test_scope_nesting_and_keep),
		S(test_scope_free_and_outer_close),
		S(test_scope_failures_leave_no_handles),
		T(test_round_trip),
		T(test_conversions),
		T(test_making),
		T(test_in_place),
		T(test_unary),
		T(test_binary),
		T(test_reductions),
		T(test_topk_sort),
		T(test_shapes),
		T(test_indexing),
		T(test_conv2d),
		T(test_batch_norm),
		T(test_pool_upsample),
		T(test_softmax_matmul),
		T(test_losses),
		T(test_autograd),
		T(test_clip_grad_norm),
		T(test_autocast),
		T(test_sgd),
		T(test_adam),
		T(test_adamw),
		T(test_optim_foreach),
		T(test_batch_norm_silu),
		T(test_batch_norm_silu_placement),
		T(test_adam_vs_adamw),
		T(test_optim_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
