/* The smoothed line of results.png (lib/plot/plot_internal.h). */
#include <math.h>

#include "plot_internal.h"

/* Index i of the mirror-extended sequence (... 1 0 | 0 1 ... n-1 | n-1 n-2 ...). */
static size_t reflect(long i, size_t n)
{
	long period = 2 * (long)n;
	long k = i % period;
	if (k < 0)
		k += period;
	return (size_t)(k < (long)n ? k : period - 1 - k);
}

void plot_gaussian_smooth(const double *y, size_t n, double sigma, double *out)
{
	long radius = (long)(4 * sigma + 0.5);
	for (size_t i = 0; i < n; i++) {
		double sum = 0, wsum = 0;
		for (long k = -radius; k <= radius; k++) {
			double v = y[reflect((long)i + k, n)];
			if (!isfinite(v))
				continue;
			double w = exp(-0.5 * (k / sigma) * (k / sigma));
			sum += w * v;
			wsum += w;
		}
		out[i] = wsum > 0 ? sum / wsum : NAN;
	}
}
