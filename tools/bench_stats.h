/*
 * What the benchmark tools share: a monotonic clock, the summary of a set
 * of timings, and a checked integer option.  Header-only: each tool is one
 * file, built alone.  Include after <stdio.h>, <stdlib.h>, <time.h> and
 * "mlf/cli.h".
 */
#ifndef MLF_TOOLS_BENCH_STATS_H
#define MLF_TOOLS_BENCH_STATS_H

static inline double bench_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

struct bench_stats {
	double median, mean, min;
};

/* Sorts t (n > 0 timings) and summarises them. */
static inline struct bench_stats bench_summarise(double *t, int n)
{
	struct bench_stats s = { 0, 0, 0 };
	qsort(t, (size_t)n, sizeof(*t), bench_cmp_double);
	for (int i = 0; i < n; i++)
		s.mean += t[i] / n;
	s.median = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
	s.min = t[0];
	return s;
}

/* A whole number in [lo, hi] for option `what`, or a usage error (64). */
static inline int bench_parse_int(const char *s, int lo, int hi, const char *what, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < lo || v > hi)
		return mlf_cli_usage_error("%s must be a whole number from %d to %d, not '%s'", what, lo, hi, s);
	*out = (int)v;
	return 0;
}

#endif
