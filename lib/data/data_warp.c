/*
 * cv2.warpAffine(img, M, dsize, borderValue=114) with INTER_LINEAR on 8-bit
 * 3-channel images, redoing the arithmetic of opencv-python 5.0.0 (the one
 * Ultralytics 8.4.190 installs), whose warp kernels (imgproc
 * warp_kernels.simd.hpp) are float32 throughout, no longer the fixed-point
 * tables of OpenCV 4.10 and older:
 *
 *  - M is inverted in double (WARP_INVERSE_MAP not set), then each of the
 *    six coefficients becomes a float;
 *  - per destination row y: bx = y*M1 + M2 and by = y*M4 + M5 in float;
 *    per column x (in vector lanes of 16 on AVX2): sx = fma(M0, x, bx),
 *    sy = fma(M3, x, by);
 *  - ix = floor(sx), a = sx - ix (likewise iy, b); the four neighbours,
 *    a neighbour outside the image taking the border value;
 *    t = fma(a, p01 - p00, p00), u = fma(a, p11 - p10, p10),
 *    v = fma(b, u - t, t), rounded half to even, saturated;
 *  - a pixel whose four neighbours all lie outside is the border value;
 *  - the columns after the last full vector of 16 are done by scalar code,
 *    sx = x*M0 + y*M1 + M2 and t = p00 + a*(p01 - p00) etc., which the
 *    compiler of that AVX2 build contracts: sx = fma(x, M0, y*M1) + M2 and
 *    the same fused interpolation (rarely met: Ultralytics' outputs are
 *    imgsz wide, a multiple of the stride).
 *
 * A float fma is computed as a double product and sum rounded once to
 * float, exact (so equal to fma) whenever the sum fits 53 bits, which the
 * coordinate and first interpolation steps always do; for the last step a
 * double rounding can in principle differ by one float ulp.  Where the CPU
 * has AVX2 and FMA, the inside of a warp without rotation or shear (the
 * default augmentation) runs 8 pixels at a time on the hardware fma, which
 * is OpenCV's own arithmetic.  Against cv2.warpAffine the output is
 * identical byte for byte on the fixture cases (tests/fixtures/data/
 * warp.json), with and without the vector kernel, and on 400 random ones
 * (sizes 8..700, rotations up to 90 degrees, shear) tried while writing it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "mlf/data.h"

#define LANES 16

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86_DISPATCH 1
#else
#define HAVE_X86_DISPATCH 0
#endif

static inline float fma_f(float a, float b, float c)
{
	return (float)((double)a * (double)b + (double)c);
}

/* Round half to even for 0 <= v < 2^22 (the default rounding mode does it);
 * interpolating bytes never leaves 0..255, so no saturation is needed. */
static inline unsigned char round_u8(float v)
{
	return (unsigned char)(int)((v + 0x1.8p23f) - 0x1.8p23f);
}

static inline int floor_i(float v)
{
	if (v < -1e9f)
		return -1000000000;
	if (v > 1e9f)
		return 1000000000;
	int i = (int)v;
	return (float)i > v ? i - 1 : i;
}

struct src {
	const unsigned char *px;
	int w, h;
	size_t step;
	unsigned char border;
};

/* One destination pixel from source position (sx, sy). */
static inline void sample(const struct src *s, float sx, float sy, unsigned char *d)
{
	int ix = floor_i(sx), iy = floor_i(sy);
	float a = sx - (float)ix, b = sy - (float)iy;
	const unsigned char *p0, *p1, *q0, *q1;
	unsigned char bv[3] = { s->border, s->border, s->border };
	if ((unsigned)ix < (unsigned)(s->w - 1) && (unsigned)iy < (unsigned)(s->h - 1)) {
		p0 = s->px + (size_t)iy * s->step + (size_t)ix * 3;
		p1 = p0 + 3;
		q0 = p0 + s->step;
		q1 = q0 + 3;
	} else {
		if (ix < -1 || ix >= s->w || iy < -1 || iy >= s->h) {
			d[0] = d[1] = d[2] = s->border;
			return;
		}
		int x0in = ix >= 0, x1in = ix + 1 < s->w, y0in = iy >= 0, y1in = iy + 1 < s->h;
		const unsigned char *r0 = s->px + (size_t)(y0in ? iy : 0) * s->step;
		const unsigned char *r1 = s->px + (size_t)(y1in ? iy + 1 : 0) * s->step;
		p0 = x0in && y0in ? r0 + (size_t)ix * 3 : bv;
		p1 = x1in && y0in ? r0 + (size_t)(ix + 1) * 3 : bv;
		q0 = x0in && y1in ? r1 + (size_t)ix * 3 : bv;
		q1 = x1in && y1in ? r1 + (size_t)(ix + 1) * 3 : bv;
	}
	for (int c = 0; c < 3; c++) {
		float f00 = p0[c], f01 = p1[c], f10 = q0[c], f11 = q1[c];
		float t = fma_f(a, f01 - f00, f00);
		float u = fma_f(a, f11 - f10, f10);
		d[c] = round_u8(fma_f(b, u - t, t));
	}
}

#if HAVE_X86_DISPATCH
/*
 * Eight destination pixels at a time with the machine's own fused
 * multiply-add, as OpenCV's AVX2 kernel computes them: pixels x .. x1-1 of
 * a row whose source columns ix[x] all lie in 0 .. w-2 and whose rows r0,
 * r1 are both inside the image.  Two 4-byte gathers per source row fetch
 * a pixel and its right neighbour: at 3*ix (p0 r g b, p1 r) and at 3*ix+2
 * (p0 b, p1 r g b), never past the row's last byte.  Returns where it
 * stopped (the remaining < 8 pixels are the caller's).
 */
__attribute__((target("avx2,fma"))) static int row_avx2(const unsigned char *r0, const unsigned char *r1,
							  const int *ix, const float *ax, float b, unsigned char *d,
							  int x, int x1)
{
	const __m256i three = _mm256_set1_epi32(3), m8 = _mm256_set1_epi32(255);
	const __m256 vb = _mm256_set1_ps(b);
	for (; x + 8 <= x1; x += 8) {
		__m256i off = _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)(ix + x)), three);
		__m256 a = _mm256_loadu_ps(ax + x);
		__m256i A0 = _mm256_i32gather_epi32((const int *)r0, off, 1);
		__m256i B0 = _mm256_i32gather_epi32((const int *)(r0 + 2), off, 1);
		__m256i A1 = _mm256_i32gather_epi32((const int *)r1, off, 1);
		__m256i B1 = _mm256_i32gather_epi32((const int *)(r1 + 2), off, 1);
		int32_t out[3][8];
		for (int c = 0; c < 3; c++) {
			__m256i p00, p01, p10, p11;
			if (c == 0) {
				p00 = _mm256_and_si256(A0, m8);
				p01 = _mm256_srli_epi32(A0, 24);
				p10 = _mm256_and_si256(A1, m8);
				p11 = _mm256_srli_epi32(A1, 24);
			} else if (c == 1) {
				p00 = _mm256_and_si256(_mm256_srli_epi32(A0, 8), m8);
				p01 = _mm256_and_si256(_mm256_srli_epi32(B0, 16), m8);
				p10 = _mm256_and_si256(_mm256_srli_epi32(A1, 8), m8);
				p11 = _mm256_and_si256(_mm256_srli_epi32(B1, 16), m8);
			} else {
				p00 = _mm256_and_si256(_mm256_srli_epi32(A0, 16), m8);
				p01 = _mm256_srli_epi32(B0, 24);
				p10 = _mm256_and_si256(_mm256_srli_epi32(A1, 16), m8);
				p11 = _mm256_srli_epi32(B1, 24);
			}
			__m256 f00 = _mm256_cvtepi32_ps(p00), f01 = _mm256_cvtepi32_ps(p01);
			__m256 f10 = _mm256_cvtepi32_ps(p10), f11 = _mm256_cvtepi32_ps(p11);
			__m256 t = _mm256_fmadd_ps(a, _mm256_sub_ps(f01, f00), f00);
			__m256 u = _mm256_fmadd_ps(a, _mm256_sub_ps(f11, f10), f10);
			__m256 v = _mm256_fmadd_ps(vb, _mm256_sub_ps(u, t), t);
			_mm256_storeu_si256((__m256i *)out[c], _mm256_cvtps_epi32(v));
		}
		unsigned char *o = d + 3 * x;
		for (int k = 0; k < 8; k++) {
			o[3 * k] = (unsigned char)out[0][k];
			o[3 * k + 1] = (unsigned char)out[1][k];
			o[3 * k + 2] = (unsigned char)out[2][k];
		}
	}
	return x;
}
#endif

/*
 * Without rotation or shear (Ultralytics' defaults) the source column of a
 * destination column is the same on every row and the source row the same
 * along a row: the same numbers as sample(), computed once per column and
 * once per row.  (With M1 = M3 = 0, bx = y*M1 + M2 = M2 and sy = by on the
 * vector and scalar paths alike.)  Returns 0 when the tables cannot be
 * allocated, for the general path to do the work.
 */
static int axis_aligned(const struct src *s, const float f[6], struct mlf_rgb_image *dst)
{
	int W = dst->w, vec_end = W / LANES * LANES;
	int *ix = malloc((size_t)W * sizeof(int));
	float *ax = malloc((size_t)W * sizeof(float));
	if (!ix || !ax) {
		free(ix);
		free(ax);
		return 0;
	}
	for (int x = 0; x < W; x++) {
		float fx = (float)x;
		float sx = x < vec_end ? fma_f(f[0], fx, f[2]) : fma_f(fx, f[0], 0.0f) + f[2];
		ix[x] = floor_i(sx);
		ax[x] = sx - (float)ix[x];
	}
	/* the columns [lo, hi) read inside the image (ix is monotonic in x) */
	int lo = 0, hi = 0;
	while (lo < W && (unsigned)ix[lo] >= (unsigned)(s->w - 1))
		lo++;
	hi = lo;
	while (hi < W && (unsigned)ix[hi] < (unsigned)(s->w - 1))
		hi++;
#if HAVE_X86_DISPATCH
	int simd = data_cpu_avx2_fma();
#endif
	for (int y = 0; y < dst->h; y++) {
		unsigned char *d = dst->px + (size_t)y * W * 3;
		float fy = (float)y, sy = fy * f[4] + f[5];
		int iy = floor_i(sy);
		float b = sy - (float)iy;
		if ((unsigned)iy >= (unsigned)(s->h - 1)) {
			for (int x = 0; x < W; x++)
				sample(s, (float)ix[x] + ax[x], sy, d + 3 * x);
			continue;
		}
		const unsigned char *r0 = s->px + (size_t)iy * s->step, *r1 = r0 + s->step;
		for (int x = 0; x < W; x++) {
#if HAVE_X86_DISPATCH
			if (simd && x >= lo && x < hi) {
				x = row_avx2(r0, r1, ix, ax, b, d, x, hi);
				if (x >= hi) {
					x--;
					continue;
				}
			}
#endif
			if ((unsigned)ix[x] >= (unsigned)(s->w - 1)) {
				sample(s, (float)ix[x] + ax[x], sy, d + 3 * x);
				continue;
			}
			const unsigned char *p = r0 + (size_t)ix[x] * 3, *q = r1 + (size_t)ix[x] * 3;
			double a = ax[x];
			for (int c = 0; c < 3; c++) {
				float t = (float)(a * (double)(p[c + 3] - p[c]) + (double)p[c]);
				float u = (float)(a * (double)(q[c + 3] - q[c]) + (double)q[c]);
				d[3 * x + c] = round_u8((float)((double)b * (double)(u - t) + (double)t));
			}
		}
	}
	free(ix);
	free(ax);
	return 1;
}

void mlf_warp_affine(const struct mlf_rgb_image *src, const float M[6], unsigned char border,
		     struct mlf_rgb_image *dst)
{
	/* warpAffine inverts the forward map in double */
	double m[6] = { M[0], M[1], M[2], M[3], M[4], M[5] };
	double D = m[0] * m[4] - m[1] * m[3];
	D = D != 0 ? 1. / D : 0;
	double A11 = m[4] * D, A22 = m[0] * D;
	m[0] = A11;
	m[1] *= -D;
	m[3] *= -D;
	m[4] = A22;
	double b1 = -m[0] * m[2] - m[1] * m[5];
	double b2 = -m[3] * m[2] - m[4] * m[5];
	m[2] = b1;
	m[5] = b2;
	float f[6];
	for (int i = 0; i < 6; i++)
		f[i] = (float)m[i];

	struct src s = { src->px, src->w, src->h, (size_t)src->w * 3, border };
	if (f[1] == 0 && f[3] == 0 && axis_aligned(&s, f, dst))
		return;
	int vec_end = dst->w / LANES * LANES;
	for (int y = 0; y < dst->h; y++) {
		unsigned char *d = dst->px + (size_t)y * dst->w * 3;
		float fy = (float)y;
		float bx = fy * f[1] + f[2], by = fy * f[4] + f[5];
		int x = 0;
		for (; x < vec_end; x++) {
			float fx = (float)x;
			sample(&s, fma_f(f[0], fx, bx), fma_f(f[3], fx, by), d + 3 * x);
		}
		for (; x < dst->w; x++) {
			float fx = (float)x;
			sample(&s, fma_f(fx, f[0], fy * f[1]) + f[2], fma_f(fx, f[3], fy * f[4]) + f[5], d + 3 * x);
		}
	}
}
