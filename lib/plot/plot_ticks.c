/* Nice axis ticks and their labels (include/mlf/plot.h, lib/plot/plot_internal.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot_internal.h"

/* Digits after the point that `x` (> 0) needs, up to 12. */
static int decimals_of(double x)
{
	for (int d = 0; d < 12; d++) {
		double s = x * pow(10, d);
		if (fabs(s - round(s)) <= 1e-6 * s)
			return d;
	}
	return 12;
}

static int ticks_core(double lo, double hi, int target, double minstep, struct mlf_plot_ticks *t)
{
	memset(t, 0, sizeof(*t));
	if (!isfinite(lo) || !isfinite(hi) || target < 2)
		return -1;
	if (lo > hi) {
		double s = lo;
		lo = hi;
		hi = s;
	}
	if (hi - lo <= 1e-12 * fmax(fabs(lo), fabs(hi)) || hi - lo < 1e-300) {
		double d = lo == 0 ? 0.5 : fabs(lo) * 0.1;
		if (minstep > 0 && d < minstep)
			d = minstep;
		lo -= d;
		hi += d;
	}
	/* a range too wide for doubles: tick its halves, then double the ticks */
	double span = hi - lo;
	if (!isfinite(span)) {
		if (ticks_core(lo / 2, hi / 2, target, minstep, t) < 0)
			return -1;
		t->lo = lo;
		t->hi = hi;
		t->step *= 2;
		for (int i = 0; i < t->n; i++)
			t->v[i] *= 2;
		return 0;
	}
	double raw = span / target;
	double mag = pow(10, floor(log10(raw)));
	static const double mult[] = { 1, 2, 2.5, 5, 10 };
	double step = 10 * mag;
	for (size_t i = 0; i < sizeof(mult) / sizeof(mult[0]); i++)
		if (mult[i] * mag >= raw * (1 - 1e-9)) {
			step = mult[i] * mag;
			break;
		}
	if (minstep > 0 && step < minstep)
		step = minstep;
	/* too many ticks can only come from rounding; widen the step until they fit */
	double k0, k1;
	for (;;) {
		k0 = ceil(lo / step - 1e-9);
		k1 = floor(hi / step + 1e-9);
		if (k1 - k0 + 1 <= MLF_PLOT_MAX_TICKS)
			break;
		step *= 2;
	}
	t->lo = lo;
	t->hi = hi;
	t->step = step;
	for (double k = k0; k <= k1; k++) {
		double v = k * step;
		if (fabs(v) < step * 1e-9)
			v = 0; /* no "-0" */
		t->v[t->n++] = v;
	}
	double amax = fmax(fabs(lo), fabs(hi));
	if (amax >= 1e6 || step < 1e-3) {
		t->decimals = -1;
	} else {
		t->decimals = decimals_of(step);
	}
	return 0;
}

int mlf_plot_nice_ticks(double lo, double hi, int target, struct mlf_plot_ticks *t)
{
	return ticks_core(lo, hi, target, 0, t);
}

int plot_int_ticks(double lo, double hi, int target, struct mlf_plot_ticks *t)
{
	return ticks_core(lo, hi, target, 1, t);
}

void mlf_plot_tick_label(const struct mlf_plot_ticks *t, double v, char *buf, size_t size)
{
	if (!size)
		return;
	if (!isfinite(v)) {
		snprintf(buf, size, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
		return;
	}
	if (t->decimals >= 0) {
		snprintf(buf, size, "%.*f", t->decimals, v);
		if (!strcmp(buf, "-0") || strspn(buf, "-0.") == strlen(buf))
			snprintf(buf, size, "%.*f", t->decimals, 0.0);
		return;
	}
	if (v == 0) {
		snprintf(buf, size, "0");
		return;
	}
	/* each label its own shortest mantissa: 2e5, 1.5e-4, 2.5e-5 */
	int e = (int)floor(log10(fabs(v)));
	double m = v / pow(10, e);
	if (fabs(m) >= 10 - 1e-9) { /* 9.9999... rounded up */
		m /= 10;
		e++;
	}
	int d = decimals_of(fabs(m));
	if (d > 6)
		d = 6;
	snprintf(buf, size, "%.*fe%d", d, m, e);
}
