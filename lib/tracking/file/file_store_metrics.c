/*
 * Params, tags and metrics of the file store: one file per key under a
 * run's params/, tags/ and metrics/ (an experiment's tags/ too), '/' in a
 * key making sub-folders.  A metric file holds one line per logged value,
 * in the text Python writes and reads (see file_store_internal.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mlf/base.h"
#include "file_store_internal.h"

/* ---- key files ------------------------------------------------------------ */

/* Our own temporary files ("<name>.tmp.<pid>.<n>") left by a crash are not data. */
static int is_temp_name(const char *name)
{
	const char *t = strstr(name, ".tmp.");
	while (t) {
		const char *p = t + 5;
		size_t a = strspn(p, "0123456789");
		if (a && p[a] == '.' && strspn(p + a + 1, "0123456789") == strlen(p + a + 1) && p[a + 1])
			return 1;
		t = strstr(t + 1, ".tmp.");
	}
	return 0;
}

static int by_kv_key(const void *a, const void *b)
{
	const struct mlf_kv *x = a, *y = b;
	return strcmp(x->key, y->key);
}

struct keys_ctx {
	int values;
	struct mlf_kvs *out;
};

/* mlf_walk_tree callback: the file at `rel` is the key `rel`, with its content when asked. */
static int add_key(const char *path, const char *rel, void *vctx, struct mlf_error *err)
{
	struct keys_ctx *ctx = vctx;
	const char *slash = strrchr(rel, '/');
	if (is_temp_name(slash ? slash + 1 : rel))
		return 0;
	if (!ctx->values) {
		mlf_kvs_add(ctx->out, rel, NULL);
		return 0;
	}
	char *value = NULL;
	int rc = mlf_read_file(path, &value, NULL, err);
	if (!rc)
		mlf_kvs_add(ctx->out, rel, value);
	free(value);
	return rc;
}

/*
 * Every file below `dir` is one key, its path below the top folder
 * ('/'-joined); with `values` each comes with the file's content, else with
 * a NULL value.  Sorted by key; no folder at all is no keys.
 */
static int walk_keys(const char *dir, int values, struct mlf_kvs *out, struct mlf_error *err)
{
	struct keys_ctx ctx = { values, out };
	struct mlf_walk w = { .on_file = add_key, .ctx = &ctx };
	struct stat st;
	if (stat(dir, &st) != 0 && errno == ENOENT)
		return 0;
	int rc = mlf_walk_tree(dir, &w, err);
	if (!rc && out->n > 1)
		qsort(out->items, out->n, sizeof(*out->items), by_kv_key);
	return rc;
}

int mlf_fst_read_kv_tree(const char *dir, struct mlf_kvs *out, struct mlf_error *err)
{
	return walk_keys(dir, 1, out, err);
}

/* The folders the file at `path` (a '/' key below its folder) needs. */
static int make_parent(char *path, struct mlf_error *err)
{
	char *slash = strrchr(path, '/');
	*slash = '\0';
	int rc = mlf_mkdir_p(path, 0777, err);
	*slash = '/';
	return rc;
}

int mlf_fst_write_value(const char *dir, const char *key, const char *value,
			struct mlf_error *err)
{
	char *path = mlf_path_join(dir, key);
	int rc = make_parent(path, err);
	if (!rc && mlf_is_dir(path))
		rc = mlf_fail(err, MLF_EX_DATAERR, "'%s' is a folder (another key uses '%s/' as a prefix)",
			      path, key);
	if (!rc)
		rc = mlf_write_file_atomic(path, value, strlen(value), err);
	free(path);
	return rc;
}

/* A param may be logged again only with the same value (MLflow's rule). */
static int check_params(const char *params_dir, const struct mlf_kv *params, size_t n,
			struct mlf_error *err)
{
	for (size_t i = 0; i < n; i++) {
		char *path = mlf_path_join(params_dir, params[i].key);
		char *old = NULL;
		int rc = 0;
		if (mlf_is_file(path) && (rc = mlf_read_file(path, &old, NULL, err)) == 0 &&
		    strcmp(old, params[i].value))
			rc = mlf_fail(err, MLF_EX_DATAERR,
				      "param '%s' is already logged with value '%.200s'; MLflow does "
				      "not allow changing it to '%.200s'", params[i].key, old,
				      params[i].value);
		free(old);
		free(path);
		if (rc)
			return -1;
	}
	return 0;
}

/* ---- numbers in metric files ---------------------------------------------- */

/*
 * The C locale for number text, whatever the program set: metric files are
 * read by Python's float(), which only knows '.'.
 */
struct c_numeric {
	locale_t c, old;
};

static void c_numeric_enter(struct c_numeric *s)
{
	s->c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	s->old = s->c ? uselocale(s->c) : (locale_t)0;
}

static void c_numeric_leave(struct c_numeric *s)
{
	if (s->c) {
		uselocale(s->old);
		freelocale(s->c);
	}
}

/* The text Python's str(float) prints (mlf_buf_add_py_float): float() reads it back bit for bit. */
static void format_double(char *out, size_t n, double v)
{
	struct mlf_buf b = MLF_BUF_INIT;
	mlf_buf_add_py_float(&b, v);
	snprintf(out, n, "%s", b.data);
	mlf_buf_release(&b);
}

/* Python's float() accepts more spellings; these are the ones Python and C write. */
static int parse_double(const char *s, double *v)
{
	char *end;
	if (!*s || (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
		return -1;
	*v = strtod(s, &end);
	return *end ? -1 : 0;
}

/* ---- metric files ---------------------------------------------------------- */

/* One metric line "<ts> <value> [<step> [<dataset> <digest>]]", MLflow's forms. */
static int parse_metric_line(char *line, struct mlf_metric *m)
{
	char *fields[6];
	int n = 0;
	/* MLflow strip()s the line, then splits on single spaces. */
	while (*line == ' ' || *line == '\t' || *line == '\r')
		line++;
	size_t len = strlen(line);
	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		line[--len] = '\0';
	for (char *p = line; n < 6; ) {
		fields[n++] = p;
		p = strchr(p, ' ');
		if (!p)
			break;
		*p++ = '\0';
	}
	if (n != 2 && n != 3 && n != 5)
		return -1;
	if (mlf_parse_int64(fields[0], &m->timestamp) || parse_double(fields[1], &m->value))
		return -1;
	m->step = 0;
	/* MLflow reads the step only from 3-field lines. */
	if (n == 3 && mlf_parse_int64(fields[2], &m->step))
		return -1;
	return 0;
}

static int read_metric_file(const char *path, const char *key, struct mlf_metric **out,
			    size_t *nout, struct mlf_error *err)
{
	char *data = NULL;
	size_t len = 0, n = 0, cap = 0, lineno = 0;
	struct mlf_metric *ms = NULL;
	struct c_numeric cn;

	*out = NULL;
	*nout = 0;
	if (mlf_read_file(path, &data, &len, err) != 0)
		return -1;
	c_numeric_enter(&cn);
	int rc = 0;
	for (char *line = data; *line && !rc; ) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ms = mlf_xrealloc(ms, cap * sizeof(*ms));
		}
		if (parse_metric_line(line, &ms[n]) != 0) {
			rc = mlf_fail(err, MLF_EX_DATAERR, "metric '%s' is malformed: line %zu of '%s'",
				      key, lineno, path);
		} else {
			ms[n].key = mlf_xstrdup(key);
			n++;
		}
		line = nl ? nl + 1 : line + strlen(line);
	}
	c_numeric_leave(&cn);
	free(data);
	if (rc) {
		mlf_metrics_release(ms, n);
		return -1;
	}
	*out = ms;
	*nout = n;
	return 0;
}

/* Python's (step, timestamp, value) tuple comparison `a > b`, NaN included. */
static int metric_after(const struct mlf_metric *a, const struct mlf_metric *b)
{
	if (a->step != b->step)
		return a->step > b->step;
	if (a->timestamp != b->timestamp)
		return a->timestamp > b->timestamp;
	if (a->value == b->value)
		return 0;
	return a->value > b->value;  /* false whenever a NaN is involved, as in Python */
}

int mlf_fst_latest_metrics(const char *run_dir, struct mlf_run *out, struct mlf_error *err)
{
	struct mlf_kvs keys = MLF_KVS_INIT;
	char *dir = mlf_path_join(run_dir, "metrics");
	int rc = walk_keys(dir, 0, &keys, err);

	if (!rc && keys.n)
		out->metrics = mlf_xcalloc(keys.n, sizeof(*out->metrics));
	for (size_t i = 0; i < keys.n && !rc; i++) {
		struct mlf_metric *hist;
		size_t n;
		char *path = mlf_path_join(dir, keys.items[i].key);
		rc = read_metric_file(path, keys.items[i].key, &hist, &n, err);
		free(path);
		if (rc || n == 0) {
			free(hist);
			continue;  /* an empty file has no latest value (MLflow fails on it) */
		}
		size_t best = 0;
		for (size_t j = 1; j < n; j++)
			if (metric_after(&hist[j], &hist[best]))
				best = j;
		out->metrics[out->nmetrics] = hist[best];
		hist[best].key = NULL;
		out->nmetrics++;
		mlf_metrics_release(hist, n);
	}
	free(dir);
	mlf_kvs_release(&keys);
	return rc;
}

/* Metric lines of one key, in batch order, for a single append. */
static void add_metric_line(struct mlf_buf *b, const struct mlf_metric *m)
{
	char num[64];
	format_double(num, sizeof(num), m->value);
	mlf_buf_addf(b, "%" PRId64 " %s %" PRId64 "\n", m->timestamp, num, m->step);
}

static int log_metrics(const char *run_dir, const struct mlf_metric *metrics, size_t n,
		       struct mlf_error *err)
{
	char *dir = mlf_path_join(run_dir, "metrics");
	char *done = mlf_xcalloc(n ? n : 1, 1);
	struct c_numeric cn;
	int rc = 0;

	c_numeric_enter(&cn);
	for (size_t i = 0; i < n && !rc; i++) {
		if (done[i])
			continue;
		struct mlf_buf lines = MLF_BUF_INIT;
		for (size_t j = i; j < n; j++) {
			if (!done[j] && !strcmp(metrics[j].key, metrics[i].key)) {
				add_metric_line(&lines, &metrics[j]);
				done[j] = 1;
			}
		}
		char *path = mlf_path_join(dir, metrics[i].key);
		rc = make_parent(path, err);
		if (!rc && mlf_is_dir(path))
			rc = mlf_fail(err, MLF_EX_DATAERR, "metric '%s' clashes with a folder of metrics "
				      "named '%s/...'", metrics[i].key, metrics[i].key);
		if (!rc)
			rc = mlf_append_file(path, lines.data, lines.len, err);
		free(path);
		mlf_buf_release(&lines);
	}
	c_numeric_leave(&cn);
	free(done);
	free(dir);
	return rc;
}

/* ---- ops ------------------------------------------------------------------- */

int mlf_fst_get_metric_history(void *impl, const char *run_id, const char *key,
			       struct mlf_metric **out, size_t *n, struct mlf_error *err)
{
	struct fst_run r;
	if (mlf_fst_check_key_path("metric", key, err) || mlf_fst_run_open(impl, run_id, &r, err))
		return -1;
	char *path = mlf_fst_join3(r.dir, "metrics", key);
	int rc = 0;
	if (mlf_is_file(path))
		rc = read_metric_file(path, key, out, n, err);
	free(path);
	mlf_fst_run_release(&r);
	return rc;
}

int mlf_fst_log_batch(void *impl, const char *run_id, const struct mlf_metric *metrics,
		      size_t nmetrics, const struct mlf_kv *params, size_t nparams,
		      const struct mlf_kv *tags, size_t ntags, struct mlf_error *err)
{
	struct fst_run r;
	const char *new_name = NULL;
	int rc = -1;

	for (size_t i = 0; i < nmetrics; i++)
		if (mlf_fst_check_key_path("metric", metrics[i].key, err))
			return -1;
	for (size_t i = 0; i < nparams; i++)
		if (mlf_fst_check_key_path("param", params[i].key, err))
			return -1;
	for (size_t i = 0; i < ntags; i++)
		if (mlf_fst_check_key_path("tag", tags[i].key, err))
			return -1;
	if (mlf_fst_run_open(impl, run_id, &r, err) != 0)
		return -1;
	char *params_dir = mlf_path_join(r.dir, "params");
	char *tags_dir = mlf_path_join(r.dir, "tags");
	if (mlf_fst_check_active(&r.meta, err)) {
		mlf_fst_run_release(&r);  /* the message names the run already */
		free(params_dir);
		free(tags_dir);
		return -1;
	}
	if (check_params(params_dir, params, nparams, err))
		goto out;
	for (size_t i = 0; i < nparams; i++)
		if (mlf_fst_write_value(params_dir, params[i].key, params[i].value, err))
			goto out;
	if (log_metrics(r.dir, metrics, nmetrics, err))
		goto out;
	for (size_t i = 0; i < ntags; i++) {
		if (mlf_fst_write_value(tags_dir, tags[i].key, tags[i].value, err))
			goto out;
		if (!strcmp(tags[i].key, "mlflow.runName"))
			new_name = tags[i].value;
	}
	/* meta.yaml's run_name follows the mlflow.runName tag, as MLflow's set_tag does. */
	if (new_name && strcmp(new_name, r.meta.run_name ? r.meta.run_name : "")) {
		free(r.meta.run_name);
		r.meta.run_name = mlf_xstrdup(new_name);
		if (mlf_fst_write_run_meta(r.dir, &r.meta, err))
			goto out;
	}
	rc = 0;
out:
	if (rc)
		mlf_error_prefix(err, "run '%s'", run_id);
	free(params_dir);
	free(tags_dir);
	mlf_fst_run_release(&r);
	return rc;
}
