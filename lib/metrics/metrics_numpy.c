/*
 * The NumPy algorithms whose order of operations shows in Ultralytics'
 * metrics: argsort (which of equally confident detections counts first
 * changes AP), pairwise summation and interp.  Written from NumPy's
 * behaviour (numpy/_core/src/npysort/quicksort.cpp, heapsort.cpp,
 * umath/loops_utils.h pairwise_sum, multiarray/compiled_base.c interp) and
 * checked against it by tests/unit/test_metrics.c.
 */
#include <math.h>

#include "metrics_internal.h"

/* NumPy's float order: NaN after everything. */
static int lt(double a, double b)
{
	return a < b || (b != b && a == a);
}

static void swap_idx(size_t *a, size_t *b)
{
	size_t t = *a;
	*a = *b;
	*b = t;
}

/* aheapsort over tosort[0..n-1], with NumPy's 1-based sift-down. */
static void heap_argsort(const double *v, size_t *tosort, size_t n)
{
	size_t *a = tosort - 1;
	size_t i, j, l, tmp;
	for (l = n >> 1; l > 0; --l) {
		tmp = a[l];
		for (i = l, j = l << 1; j <= n;) {
			if (j < n && lt(v[a[j]], v[a[j + 1]]))
				j += 1;
			if (lt(v[tmp], v[a[j]])) {
				a[i] = a[j];
				i = j;
				j += j;
			} else
				break;
		}
		a[i] = tmp;
	}
	for (; n > 1;) {
		tmp = a[n];
		a[n] = a[1];
		n -= 1;
		for (i = 1, j = 2; j <= n;) {
			if (j < n && lt(v[a[j]], v[a[j + 1]]))
				j++;
			if (lt(v[tmp], v[a[j]])) {
				a[i] = a[j];
				i = j;
				j += j;
			} else
				break;
		}
		a[i] = tmp;
	}
}

enum { SMALL_QUICKSORT = 15, QS_STACK = 128 };

void mlf_np_argsort(const double *v, size_t n, size_t *idx)
{
	for (size_t k = 0; k < n; k++)
		idx[k] = k;
	if (n < 2)
		return;
	size_t *pl = idx, *pr = idx + n - 1;
	size_t *stack[QS_STACK], **sptr = stack;
	int depth[QS_STACK], *psdepth = depth;
	int cdepth = 0;
	for (size_t m = n; m > 1; m >>= 1)
		cdepth++;
	cdepth *= 2;

	for (;;) {
		if (cdepth < 0) {
			heap_argsort(v, pl, (size_t)(pr - pl) + 1);
			goto pop;
		}
		while (pr - pl > SMALL_QUICKSORT) {
			size_t *pm = pl + ((pr - pl) >> 1);
			if (lt(v[*pm], v[*pl]))
				swap_idx(pm, pl);
			if (lt(v[*pr], v[*pm]))
				swap_idx(pr, pm);
			if (lt(v[*pm], v[*pl]))
				swap_idx(pm, pl);
			double vp = v[*pm];
			size_t *pi = pl, *pj = pr - 1;
			swap_idx(pm, pj);
			for (;;) {
				do
					++pi;
				while (lt(v[*pi], vp));
				do
					--pj;
				while (lt(vp, v[*pj]));
				if (pi >= pj)
					break;
				swap_idx(pi, pj);
			}
			swap_idx(pi, pr - 1);
			/* the larger part waits on the stack */
			if (pi - pl < pr - pi) {
				*sptr++ = pi + 1;
				*sptr++ = pr;
				pr = pi - 1;
			} else {
				*sptr++ = pl;
				*sptr++ = pi - 1;
				pl = pi + 1;
			}
			*psdepth++ = --cdepth;
		}
		for (size_t *pi = pl + 1; pi <= pr; ++pi) {
			size_t vi = *pi;
			double vp = v[vi];
			size_t *pj = pi, *pk = pi - 1;
			while (pj > pl && lt(vp, v[*pk]))
				*pj-- = *pk--;
			*pj = vi;
		}
pop:
		if (sptr == stack)
			break;
		pr = *(--sptr);
		pl = *(--sptr);
		cdepth = *(--psdepth);
	}
}

enum { PW_BLOCKSIZE = 128 };

double mlf_np_sum(const double *a, size_t n, size_t stride)
{
	if (n < 8) {
		double res = 0.0;
		for (size_t i = 0; i < n; i++)
			res += a[i * stride];
		return res;
	}
	if (n <= PW_BLOCKSIZE) {
		double r[8];
		size_t i;
		for (int k = 0; k < 8; k++)
			r[k] = a[(size_t)k * stride];
		for (i = 8; i < n - (n % 8); i += 8)
			for (size_t k = 0; k < 8; k++)
				r[k] += a[(i + k) * stride];
		double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
		for (; i < n; i++)
			res += a[i * stride];
		return res;
	}
	size_t n2 = n / 2;
	n2 -= n2 % 8;
	return mlf_np_sum(a, n2, stride) + mlf_np_sum(a + n2 * stride, n - n2, stride);
}

/* The last index j with xp[j] <= key, for xp[0] <= key <= xp[n-1]. */
static size_t last_le(const double *xp, size_t n, double key)
{
	size_t lo = 0, hi = n;  /* answer in [lo, hi) */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (key >= xp[mid])
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

void mlf_np_interp(const double *x, size_t nx, const double *xp, const double *fp, size_t nxp, double left,
		   double right, double *out)
{
	for (size_t i = 0; i < nx; i++) {
		double xv = x[i];
		if (isnan(xv)) {
			out[i] = xv;
			continue;
		}
		if (xv > xp[nxp - 1]) {
			out[i] = right;
			continue;
		}
		if (xv < xp[0]) {
			out[i] = left;
			continue;
		}
		size_t j = last_le(xp, nxp, xv);
		if (j == nxp - 1 || xp[j] == xv) {
			out[i] = fp[j];
			continue;
		}
		double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
		double y = slope * (xv - xp[j]) + fp[j];
		if (isnan(y)) {
			y = slope * (xv - xp[j + 1]) + fp[j + 1];
			if (isnan(y) && fp[j] == fp[j + 1])
				y = fp[j];
		}
		out[i] = y;
	}
}
