/*
 * RandomHSV (ultralytics/data/augment.py, 8.4.190) with OpenCV's own 8-bit
 * colour conversions, as opencv-python 5.0.0 computes them
 * (imgproc/src/color_hsv.simd.hpp):
 *
 *  - BGR->HSV is integer arithmetic with 12-bit reciprocal tables
 *    (sdiv = round(255*4096 / v), hdiv = round(180*4096 / (6*diff))), the
 *    same in its vector and scalar code;
 *  - HSV->BGR converts to float (s, v / 255), builds the four products
 *    v, v(1-s), v(1-s h), v(1-s(1-h)) (the last two with fused
 *    multiply-subtracts) and picks by sector; its vector code (blocks of 32
 *    pixels with AVX2) truncates x*255 to an integer, its scalar code (the
 *    rest of a row) rounds half to even, and that is kept: a row's first
 *    32*floor(n/32) pixels truncate, the others round.
 *
 * The lookup tables are numpy's: float64 hue (x + g0*180) % 180 (Python
 * modulo, result in [0, 180]) and clip(x * (1 + g), 0, 255), both truncated
 * to uint8, saturation 0 forced to stay 0 (8.3.79+).
 *
 * Every output of both conversions is checked against cv2 over all 2^24
 * inputs (tests/fixtures/data/hsv.json).  With AVX2 the vector path runs 8
 * pixels at a time on the same integers and float products.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "data_internal.h"
#include "mlf/data.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define HAVE_X86_DISPATCH 1
#else
#define HAVE_X86_DISPATCH 0
#endif

#define SHIFT 12
#define BLOCK 32

static int sdiv[256], hdiv[256];
/* [H][S][k]: the factor v is multiplied by for output channel k (r, g, b)
 * on the vector path: 1, 1-s, 1-s h or 1-s(1-h) by H's sector */
static float fac[256][256][3];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static const float hscale_c = 6.0f / 180;

/*
 * 1 - a*b rounded once: opencv-python's AVX2 build lets the compiler fuse
 * the multiply and subtract of 1 - s*h and 1 - s*(1 - h) (GCC contracts
 * vector intrinsics too).  The product is exact in double (48 bits); the
 * difference may round in double before its rounding to float, which for
 * these operands changes no result: every (H, S) pair is in the exhaustive
 * test against cv2.
 */
static inline float fnmadd(float a, float b)
{
	return (float)(1.0 - (double)a * (double)b);
}

static void make_tables(void)
{
	sdiv[0] = hdiv[0] = 0;
	for (int i = 1; i < 256; i++) {
		sdiv[i] = (int)rint((255 << SHIFT) / (1. * i));
		hdiv[i] = (int)rint((180 << SHIFT) / (6. * i));
	}
	/* HSV2RGB_simd: sector = pre - trunc(pre / 6) * 6 with pre = trunc(H * 6/180) */
	for (int H = 0; H < 256; H++) {
		float h = (float)H * hscale_c;
		float pre = truncf(h);
		h -= pre;
		float sec = pre - truncf(pre * (1.0f / 6.0f)) * 6.0f;
		int pick[3] = {
			sec < 1 ? 0 : sec == 1 ? 2 : sec == 2 || sec == 3 ? 1 : sec == 4 ? 3 : 0,
			sec < 1 ? 3 : sec == 1 || sec == 2 ? 0 : sec == 3 ? 2 : 1,
			sec < 2 ? 1 : sec == 2 ? 3 : sec == 3 || sec == 4 ? 0 : 2,
		};
		for (int S = 0; S < 256; S++) {
			float s = (float)S * (1.0f / 255.0f);
			float f[4] = { 1.0f, 1.0f - s, fnmadd(s, h), fnmadd(s, 1.0f - h) };
			for (int k = 0; k < 3; k++)
				fac[H][S][k] = f[pick[k]];
		}
	}
}

static inline void to_hsv(int r, int g, int b, unsigned char *out)
{
	int v = b > g ? b : g, vmin = b < g ? b : g;
	v = v > r ? v : r;
	vmin = vmin < r ? vmin : r;
	int diff = v - vmin;
	int vr = v == r ? -1 : 0, vg = v == g ? -1 : 0;
	int s = (diff * sdiv[v] + (1 << (SHIFT - 1))) >> SHIFT;
	int h = (vr & (g - b)) + (~vr & ((vg & (b - r + 2 * diff)) + (~vg & (r - g + 4 * diff))));
	h = (h * hdiv[diff] + (1 << (SHIFT - 1))) >> SHIFT;
	h += h < 0 ? 180 : 0;
	out[0] = (unsigned char)(h < 0 ? 0 : h > 255 ? 255 : h);
	out[1] = (unsigned char)s;
	out[2] = (unsigned char)v;
}

void mlf_rgb_to_hsv_row(const unsigned char *rgb, unsigned char *hsv, int n)
{
	pthread_once(&tables_once, make_tables);
	for (int i = 0; i < n; i++, rgb += 3, hsv += 3)
		to_hsv(rgb[0], rgb[1], rgb[2], hsv);
}

/* HSV2RGB_simd, then x*255 truncated (the vector path): v times the factor
 * (tab0 is v itself, and v * 1 is v), times 255. */
static inline void to_rgb_vector(int H, int S, int V, unsigned char *out)
{
	float v = (float)V * (1.0f / 255.0f);
	const float *f = fac[H][S];
	for (int k = 0; k < 3; k++)
		out[k] = (unsigned char)(int)((v * f[k]) * 255.0f);
}

/* HSV2RGB_native, then saturate_cast (round half to even) of x*255. */
static inline void to_rgb_scalar(int H, int S, int V, unsigned char *out)
{
	float h = (float)H, s = (float)S * (1.0f / 255.0f), v = (float)V * (1.0f / 255.0f);
	float b, g, r;
	if (s == 0) {
		b = g = r = v;
	} else {
		static const int sector_data[6][3] = { { 1, 3, 0 }, { 1, 0, 2 }, { 3, 0, 1 },
						       { 0, 2, 1 }, { 0, 1, 3 }, { 2, 1, 0 } };
		h *= hscale_c;
		h = fmodf(h, 6.f);
		int sector = (int)floorf(h);
		h -= (float)sector;
		if ((unsigned)sector >= 6u) {
			sector = 0;
			h = 0.f;
		}
		float tab[4] = { v, v * (1.f - s), v * fnmadd(s, h), v * fnmadd(s, 1.f - h) };
		b = tab[sector_data[sector][0]];
		g = tab[sector_data[sector][1]];
		r = tab[sector_data[sector][2]];
	}
	float c[3] = { r * 255.0f, g * 255.0f, b * 255.0f };
	for (int k = 0; k < 3; k++) {
		float t = rintf(c[k]);
		out[k] = (unsigned char)(t < 0 ? 0 : t > 255 ? 255 : (int)t);
	}
}

void mlf_hsv_to_rgb_row(const unsigned char *hsv, unsigned char *rgb, int n)
{
	pthread_once(&tables_once, make_tables);
	int vec = n / BLOCK * BLOCK, i = 0;
	for (; i < vec; i++, hsv += 3, rgb += 3)
		to_rgb_vector(hsv[0], hsv[1], hsv[2], rgb);
	for (; i < n; i++, hsv += 3, rgb += 3)
		to_rgb_scalar(hsv[0], hsv[1], hsv[2], rgb);
}

#if HAVE_X86_DISPATCH
/*
 * Pixels x .. x1-1 of one row (all on OpenCV's vector path), 8 at a time:
 * the same integer BGR->HSV, the lookup tables, and the tabulated factor,
 * with gathers for every table.  Each group reads 4 bytes past its 24 (two
 * 16-byte loads), so the caller keeps the image's last pixels for the
 * scalar loop.  Returns where it stopped.
 */
__attribute__((target("avx2,fma"))) static int hsv_row_avx2(unsigned char *p, int x, int x1, const int lut[3][256])
{
	const __m128i sel[3] = {
		_mm_setr_epi8(0, -1, -1, -1, 3, -1, -1, -1, 6, -1, -1, -1, 9, -1, -1, -1),
		_mm_setr_epi8(1, -1, -1, -1, 4, -1, -1, -1, 7, -1, -1, -1, 10, -1, -1, -1),
		_mm_setr_epi8(2, -1, -1, -1, 5, -1, -1, -1, 8, -1, -1, -1, 11, -1, -1, -1),
	};
	const __m256i half = _mm256_set1_epi32(1 << (SHIFT - 1)), h180 = _mm256_set1_epi32(180);
	const __m256i zero = _mm256_setzero_si256(), s256 = _mm256_set1_epi32(256), three = _mm256_set1_epi32(3);
	const __m256 inv255 = _mm256_set1_ps(1.0f / 255.0f), k255 = _mm256_set1_ps(255.0f);
	for (; x + 8 <= x1; x += 8) {
		unsigned char *q = p + 3 * x;
		__m128i lo = _mm_loadu_si128((const __m128i *)q), hi = _mm_loadu_si128((const __m128i *)(q + 12));
		__m256i r = _mm256_set_m128i(_mm_shuffle_epi8(hi, sel[0]), _mm_shuffle_epi8(lo, sel[0]));
		__m256i g = _mm256_set_m128i(_mm_shuffle_epi8(hi, sel[1]), _mm_shuffle_epi8(lo, sel[1]));
		__m256i b = _mm256_set_m128i(_mm_shuffle_epi8(hi, sel[2]), _mm_shuffle_epi8(lo, sel[2]));
		__m256i v = _mm256_max_epi32(_mm256_max_epi32(b, g), r);
		__m256i vmin = _mm256_min_epi32(_mm256_min_epi32(b, g), r);
		__m256i diff = _mm256_sub_epi32(v, vmin);
		__m256i vr = _mm256_cmpeq_epi32(v, r), vg = _mm256_cmpeq_epi32(v, g);
		__m256i s = _mm256_srai_epi32(
			_mm256_add_epi32(_mm256_mullo_epi32(diff, _mm256_i32gather_epi32(sdiv, v, 4)), half), SHIFT);
		__m256i gb = _mm256_sub_epi32(g, b);
		__m256i br = _mm256_add_epi32(_mm256_sub_epi32(b, r), _mm256_slli_epi32(diff, 1));
		__m256i rg = _mm256_add_epi32(_mm256_sub_epi32(r, g), _mm256_slli_epi32(diff, 2));
		__m256i h = _mm256_add_epi32(_mm256_and_si256(vr, gb),
					     _mm256_andnot_si256(vr, _mm256_add_epi32(_mm256_and_si256(vg, br),
										      _mm256_andnot_si256(vg, rg))));
		h = _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(h, _mm256_i32gather_epi32(hdiv, diff, 4)),
						       half), SHIFT);
		h = _mm256_add_epi32(h, _mm256_and_si256(_mm256_cmpgt_epi32(zero, h), h180));
		__m256i H = _mm256_i32gather_epi32(lut[0], h, 4);
		__m256i S = _mm256_i32gather_epi32(lut[1], s, 4);
		__m256i V = _mm256_i32gather_epi32(lut[2], v, 4);
		__m256 vf = _mm256_mul_ps(_mm256_cvtepi32_ps(V), inv255);
		__m256i base = _mm256_mullo_epi32(_mm256_add_epi32(_mm256_mullo_epi32(H, s256), S), three);
		int32_t out[3][8];
		for (int k = 0; k < 3; k++) {
			__m256 f = _mm256_i32gather_ps(&fac[0][0][k], base, 4);
			__m256i t = _mm256_cvttps_epi32(_mm256_mul_ps(_mm256_mul_ps(vf, f), k255));
			_mm256_storeu_si256((__m256i *)out[k], t);
		}
		for (int k = 0; k < 8; k++) {
			q[3 * k] = (unsigned char)out[0][k];
			q[3 * k + 1] = (unsigned char)out[1][k];
			q[3 * k + 2] = (unsigned char)out[2][k];
		}
	}
	return x;
}
#endif

void mlf_hsv_apply(struct mlf_rgb_image *im, const double g[3])
{
	if (g[0] == 0 && g[1] == 0 && g[2] == 0)
		return;
	pthread_once(&tables_once, make_tables);
	int lut[3][256];
	for (int x = 0; x < 256; x++) {
		double hue = fmod(x + g[0] * 180, 180);
		if (hue != 0 && hue < 0)
			hue += 180;
		double sat = x * (g[1] + 1), val = x * (g[2] + 1);
		lut[0][x] = (unsigned char)hue;
		lut[1][x] = (unsigned char)(sat < 0 ? 0 : sat > 255 ? 255 : sat);
		lut[2][x] = (unsigned char)(val < 0 ? 0 : val > 255 ? 255 : val);
	}
	lut[1][0] = 0;
	int vec = im->w / BLOCK * BLOCK;
#if HAVE_X86_DISPATCH
	int simd = data_cpu_avx2_fma();
#endif
	for (int y = 0; y < im->h; y++) {
		unsigned char *p = im->px + (size_t)y * im->w * 3;
		int x = 0, end = vec;
#if HAVE_X86_DISPATCH
		if (simd) {
			/* the image's last 8 pixels stay scalar: the loads read 4 bytes ahead */
			if (y == im->h - 1 && end > im->w - 8)
				end = im->w - 8 > 0 ? im->w - 8 : 0;
			x = hsv_row_avx2(p, 0, end, (const int(*)[256])lut);
			end = vec;
		}
#endif
		for (; x < im->w; x++) {
			unsigned char *q = p + 3 * x, hsv[3];
			to_hsv(q[0], q[1], q[2], hsv);
			int H = lut[0][hsv[0]], S = lut[1][hsv[1]], V = lut[2][hsv[2]];
			if (x < end)
				to_rgb_vector(H, S, V, q);
			else
				to_rgb_scalar(H, S, V, q);
		}
	}
}
