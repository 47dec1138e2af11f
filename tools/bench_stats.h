/*
 * What the benchmark tools share: a monotonic clock, the summary of a set
 * of timings, checked integer options and the options they have in common,
 * declared once.  Header-only: each tool is one file, built alone.  Include
 * after <stdio.h>, <stdlib.h>, <time.h> and "mlf/cli.h".
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

/*
 * The options the benchmark tools have in common.  A tool lists the entries
 * it takes in its option table (BENCH_OPT_BATCH("16") shows that default in
 * --help; the tool sets the value itself), keeps the values in a struct
 * bench_common, and passes its callback's ids to bench_option first.  The
 * ids lie above any tool's own (MLF_OPT_LONG, MLF_OPT_LONG + 1, ...).
 */
enum {
	BENCH_ID_IMGSZ = MLF_OPT_LONG + 200, BENCH_ID_BATCH, BENCH_ID_THREADS, BENCH_ID_ITERS,
	BENCH_ID_WARMUP, BENCH_ID_NO_MALLOPT,
};
#define BENCH_OPT_IMGSZ(def) { BENCH_ID_IMGSZ, "imgsz", "N", NULL, \
	"image side in pixels, 32 to 8192 (default: " def ")", NULL, 0 }
#define BENCH_OPT_BATCH(def) { BENCH_ID_BATCH, "batch", "N", NULL, \
	"images per batch, 1 to 1024 (default: " def ")", NULL, 0 }
#define BENCH_OPT_THREADS { BENCH_ID_THREADS, "threads", "N", NULL, \
	"libtorch's intra-op threads, 1 to 1024 (default: libtorch's, every core)", NULL, 0 }
#define BENCH_OPT_ITERS(def) { BENCH_ID_ITERS, "iters", "K", NULL, \
	"timed iterations, 1 to 100000 (default: " def ")", NULL, 0 }
#define BENCH_OPT_WARMUP(def) { BENCH_ID_WARMUP, "warmup", "N", NULL, \
	"untimed iterations first, 0 to 100000 (default: " def ")", NULL, 0 }
#define BENCH_OPT_NO_MALLOPT { BENCH_ID_NO_MALLOPT, "no-mallopt", NULL, NULL, \
	"leave glibc's mmap/trim thresholds as they are (the programs raise them)", NULL, 0 }

/* The exit statuses of the benchmarks that print one JSON object from libtorch's work. */
#define BENCH_EXIT_DONE { 0, "done: the JSON object is on standard output" }
#define BENCH_EXIT_TORCH { 70, "libtorch failed, or out of memory" }

struct bench_common {
	int imgsz, batch, threads, iters, warmup, mallopt;
};

/* A shared option into b: 0, a usage error (64, reported), or -1 when `id` is not one. */
static inline int bench_option(struct bench_common *b, int id, const char *arg)
{
	switch (id) {
	case BENCH_ID_IMGSZ: return bench_parse_int(arg, 32, 8192, "--imgsz", &b->imgsz);
	case BENCH_ID_BATCH: return bench_parse_int(arg, 1, 1024, "--batch", &b->batch);
	case BENCH_ID_THREADS: return bench_parse_int(arg, 1, 1024, "--threads", &b->threads);
	case BENCH_ID_ITERS: return bench_parse_int(arg, 1, 100000, "--iters", &b->iters);
	case BENCH_ID_WARMUP: return bench_parse_int(arg, 0, 100000, "--warmup", &b->warmup);
	case BENCH_ID_NO_MALLOPT: b->mallopt = 0; return 0;
	}
	return -1;
}

#endif
