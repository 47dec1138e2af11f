/*
 * LetterBox's pixels, byte for byte as Ultralytics 8.4.190 makes them with
 * opencv-python: cv2.resize(img, new_unpad, interpolation=INTER_LINEAR) when
 * the size changes, then cv2.copyMakeBorder(..., BORDER_CONSTANT, 114).
 *
 * OpenCV's 8-bit INTER_LINEAR is fixed point, not textbook bilinear, and
 * the model parity tests compare detections on our input with Ultralytics'
 * own, so we redo its arithmetic exactly (OpenCV 5.0 imgproc resize.cpp,
 * the generic path; its IPP backend declines 8-bit linear resizes unless
 * inexact IPP is enabled, and its SIMD kernels compute the same integers):
 *
 *  - a destination column dx samples fx = (float)((dx + 0.5) * sw/dw - 0.5)
 *    with sw/dw computed as 1 / (dw / sw) in double; sx = floor(fx), the
 *    fraction becomes two weights round((1 - f) * 2048) and round(f * 2048)
 *    (float, round half to even);
 *  - columns left of the image take pixel 0 with weights (2048, 0); from
 *    the first column whose right neighbour falls off the image on, the
 *    pixel is taken alone, times 2048;
 *  - rows use the same weights but are not adjusted at the borders: the row
 *    indices are clamped and the weights kept;
 *  - the horizontal pass keeps int sums (<= 255 * 2049); the vertical pass
 *    is ((b0 * (S0 >> 4)) >> 16) + ((b1 * (S1 >> 4)) >> 16), rounded by
 *    (+2) >> 2;
 *  - a resize to exactly half in both directions is INTER_AREA instead:
 *    the 2x2 mean, (sum + 2) >> 2;
 *  - an unchanged size is a copy (LetterBox does not even call resize).
 *
 * Resizing works per channel, so the order (RGB here, BGR in Ultralytics'
 * predictor, which flips to RGB after the letterbox) does not matter, nor
 * does the border, 114 in all three channels.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/yolo.h"

#define COEF_BITS 11
#define COEF_ONE (1 << COEF_BITS)
#define PAD 114

/* OpenCV's saturate_cast<short>(float): round half to even, then clamp. */
static int16_t coef(float v)
{
	long r = lrintf(v);
	return (int16_t)(r < INT16_MIN ? INT16_MIN : r > INT16_MAX ? INT16_MAX : r);
}

/* The sample position of destination index d and its two weights. */
static int sample(int d, double scale, int16_t w[2], float *frac)
{
	float f = (float)((d + 0.5) * scale - 0.5);
	int s = (int)floorf(f);
	f -= (float)s;
	*frac = f;
	w[0] = coef((1.0f - f) * COEF_ONE);
	w[1] = coef(f * COEF_ONE);
	return s;
}

static int clip_row(int y, int h)
{
	return y < 0 ? 0 : y >= h ? h - 1 : y;
}

struct hcoefs {
	int *xofs;      /* first source byte of each destination pixel */
	int16_t *alpha; /* two weights per destination pixel */
	int xmax;       /* from here on a pixel is copied, times COEF_ONE */
};

static void hpass(const unsigned char *s, int32_t *d, const struct hcoefs *h, int dw)
{
	int x = 0;
	for (; x < h->xmax; x++) {
		const unsigned char *p = s + h->xofs[x];
		int32_t a0 = h->alpha[2 * x], a1 = h->alpha[2 * x + 1];
		d[3 * x] = p[0] * a0 + p[3] * a1;
		d[3 * x + 1] = p[1] * a0 + p[4] * a1;
		d[3 * x + 2] = p[2] * a0 + p[5] * a1;
	}
	for (; x < dw; x++) {
		const unsigned char *p = s + h->xofs[x];
		d[3 * x] = p[0] * COEF_ONE;
		d[3 * x + 1] = p[1] * COEF_ONE;
		d[3 * x + 2] = p[2] * COEF_ONE;
	}
}

static void vpass(const int32_t *s0, const int32_t *s1, int32_t b0, int32_t b1, unsigned char *d, int n)
{
	for (int x = 0; x < n; x++) {
		int32_t v = (((b0 * (s0[x] >> 4)) >> 16) + ((b1 * (s1[x] >> 4)) >> 16) + 2) >> 2;
		d[x] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
	}
}

static int resize_linear(const unsigned char *src, int sw, int sh, unsigned char *dst, size_t dstep, int dw,
			 int dh, double scale_x, double scale_y, struct mlf_error *err)
{
	size_t sstep = (size_t)sw * 3, row = (size_t)dw * 3;
	struct hcoefs h = { malloc((size_t)dw * sizeof(int)), malloc((size_t)dw * 2 * sizeof(int16_t)), dw };
	int32_t *buf = malloc(2 * row * sizeof(int32_t));
	if (!h.xofs || !h.alpha || !buf) {
		free(h.xofs);
		free(h.alpha);
		free(buf);
		return mlf_fail(err, MLF_EX_SOFTWARE, "letterbox: out of memory resizing %dx%d to %dx%d", sw, sh,
				dw, dh);
	}
	for (int dx = 0; dx < dw; dx++) {
		int16_t w[2];
		float f;
		int sx = sample(dx, scale_x, w, &f);
		if (sx < 0) {
			sx = 0;
			w[0] = COEF_ONE;
			w[1] = 0;
		}
		if (sx + 1 >= sw) {
			if (dx < h.xmax)
				h.xmax = dx;
			if (sx >= sw - 1)
				sx = sw - 1;
		}
		h.xofs[dx] = sx * 3;
		h.alpha[2 * dx] = w[0];
		h.alpha[2 * dx + 1] = w[1];
	}

	int32_t *rows[2] = { buf, buf + row };
	int have[2] = { -1, -1 };
	for (int dy = 0; dy < dh; dy++) {
		int16_t b[2];
		float f;
		int sy = sample(dy, scale_y, b, &f);
		int want[2] = { clip_row(sy, sh), clip_row(sy + 1, sh) };
		/* consecutive destination rows mostly share source rows */
		if (have[0] != want[0] && have[1] == want[0]) {
			int32_t *t = rows[0];
			rows[0] = rows[1];
			rows[1] = t;
			have[1] = have[0];
			have[0] = want[0];
		}
		for (int k = 0; k < 2; k++) {
			if (have[k] != want[k]) {
				hpass(src + (size_t)want[k] * sstep, rows[k], &h, dw);
				have[k] = want[k];
			}
		}
		vpass(rows[0], rows[1], b[0], b[1], dst + (size_t)dy * dstep, (int)row);
	}
	free(h.xofs);
	free(h.alpha);
	free(buf);
	return 0;
}

/* INTER_AREA's fast path for an exact 2x reduction, with the rounding of
 * its SIMD kernel and scalar tail alike. */
static void resize_half(const unsigned char *src, int sw, unsigned char *dst, size_t dstep, int dw, int dh)
{
	size_t sstep = (size_t)sw * 3;
	for (int dy = 0; dy < dh; dy++) {
		const unsigned char *s0 = src + (size_t)(2 * dy) * sstep, *s1 = s0 + sstep;
		unsigned char *d = dst + (size_t)dy * dstep;
		for (int dx = 0; dx < dw; dx++) {
			const unsigned char *p = s0 + 6 * dx, *q = s1 + 6 * dx;
			for (int c = 0; c < 3; c++)
				d[3 * dx + c] = (unsigned char)((p[c] + p[c + 3] + q[c] + q[c + 3] + 2) >> 2);
		}
	}
}

static int resize(const unsigned char *src, int sw, int sh, unsigned char *dst, size_t dstep, int dw, int dh,
		  struct mlf_error *err)
{
	if (sw == dw && sh == dh) {
		for (int y = 0; y < sh; y++)
			memcpy(dst + (size_t)y * dstep, src + (size_t)y * sw * 3, (size_t)sw * 3);
		return 0;
	}
	/* cv::resize's scales: the inverse of the inverse, as it computes them */
	double scale_x = 1.0 / ((double)dw / sw), scale_y = 1.0 / ((double)dh / sh);
	double ix = rint(scale_x), iy = rint(scale_y);
	if (ix == 2 && iy == 2 && fabs(scale_x - ix) < DBL_EPSILON && fabs(scale_y - iy) < DBL_EPSILON) {
		resize_half(src, sw, dst, dstep, dw, dh);
		return 0;
	}
	return resize_linear(src, sw, sh, dst, dstep, dw, dh, scale_x, scale_y, err);
}

/* Each dimension and the whole output must fit in an int count of bytes,
 * as OpenCV's indices do. */
static int too_big(int w, int h)
{
	return (int64_t)w * h * 3 > INT32_MAX;
}

int mlf_letterbox_image(const unsigned char *rgb, const struct mlf_letterbox *lb, unsigned char *out,
			struct mlf_error *err)
{
	if (!rgb || !lb || !out)
		return mlf_fail(err, MLF_EX_USAGE, "letterbox: %s is NULL", !rgb ? "the image" : !lb ? "the geometry" :
				"the output buffer");
	if (lb->w0 < 1 || lb->h0 < 1 || lb->new_w < 1 || lb->new_h < 1)
		return mlf_fail(err, MLF_EX_USAGE, "letterbox: image %dx%d resized to %dx%d: sizes must be positive",
				lb->w0, lb->h0, lb->new_w, lb->new_h);
	if (lb->left < 0 || lb->top < 0 || lb->right < 0 || lb->bottom < 0)
		return mlf_fail(err, MLF_EX_USAGE, "letterbox: negative padding (left %d, top %d, right %d, bottom %d)",
				lb->left, lb->top, lb->right, lb->bottom);
	if ((int64_t)lb->new_w + lb->left + lb->right != lb->out_w ||
	    (int64_t)lb->new_h + lb->top + lb->bottom != lb->out_h)
		return mlf_fail(err, MLF_EX_USAGE,
				"letterbox: output %dx%d is not the resized %dx%d plus padding %d+%d, %d+%d; "
				"fill the geometry with mlf_letterbox_params", lb->out_w, lb->out_h, lb->new_w,
				lb->new_h, lb->left, lb->right, lb->top, lb->bottom);
	if (too_big(lb->w0, lb->h0) || too_big(lb->out_w, lb->out_h))
		return mlf_fail(err, MLF_EX_USAGE, "letterbox: image %dx%d or output %dx%d is too large",
				lb->w0, lb->h0, lb->out_w, lb->out_h);

	size_t ostep = (size_t)lb->out_w * 3;
	for (int y = 0; y < lb->out_h; y++) {
		unsigned char *r = out + (size_t)y * ostep;
		if (y < lb->top || y >= lb->top + lb->new_h) {
			memset(r, PAD, ostep);
		} else {
			memset(r, PAD, (size_t)lb->left * 3);
			memset(r + (size_t)(lb->left + lb->new_w) * 3, PAD, (size_t)lb->right * 3);
		}
	}
	return resize(rgb, lb->w0, lb->h0, out + (size_t)lb->top * ostep + (size_t)lb->left * 3, ostep, lb->new_w,
		      lb->new_h, err);
}
