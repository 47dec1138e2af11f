/*
 * The `file:` / plain-path tracking backend: MLflow's file store layout
 * (reference/mlflow.md section 1), written so the real MLflow 3.x reads it
 * and reading what MLflow wrote.
 *
 *   <root>/<exp_id>/meta.yaml, tags/<key>
 *   <root>/<exp_id>/<run_id>/meta.yaml, metrics/ params/ tags/ artifacts/ inputs/
 *   <root>/<exp_id>/datasets/<md5>/meta.yaml
 *   <root>/.trash/<exp_id>/...   deleted experiments
 *
 * meta.yaml files are written whole to a temporary file and renamed, so a
 * reader never sees a torn one; metric lines are appended with one write(2).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mlf/buf.h"
#include "mlf/fs.h"
#include "mlf/uri.h"
#include "tracking/backend.h"
#include "tracking/file_store_yaml.h"

#define META "meta.yaml"
#define TRASH ".trash"

struct file_store {
	char *root;              /* absolute folder */
	char *trash;
	char *artifact_root;     /* file:// URI of the root: default experiment artifact roots */
	char *workspace;         /* base for relative artifact locations; NULL = CWD */
	/* The last run looked up: logging loops hit the same run thousands of times. */
	char *cached_run_id;
	char *cached_run_dir;
	char *cached_exp_id;
};

/* Everything MLflow keeps in a run's meta.yaml that we carry over rewrites. */
struct run_meta {
	char *artifact_uri;
	char *experiment_id;
	char *lifecycle_stage;
	char *run_id;
	char *run_name;
	char *user_id;
	int status;
	int64_t start_time;      /* -1 = null */
	int64_t end_time;        /* -1 = null */
	int64_t deleted_time;    /* -1 = null */
};

static void run_meta_release(struct run_meta *m)
{
	free(m->artifact_uri);
	free(m->experiment_id);
	free(m->lifecycle_stage);
	free(m->run_id);
	free(m->run_name);
	free(m->user_id);
	memset(m, 0, sizeof(*m));
}

/* ---- names and paths ---------------------------------------------------- */

static int word_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* MLflow's ^[a-zA-Z0-9][\w\-]{0,max-1}$ (ASCII only: these become folder names). */
static int id_ok(const char *id, size_t max)
{
	size_t n = strlen(id);
	if (n == 0 || n > max || id[0] == '_' || id[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!word_char((unsigned char)id[i]))
			return 0;
	return 1;
}

static int check_experiment_id(const char *id, struct mlf_error *err)
{
	if (!id_ok(id, 64))
		return mlf_fail(err, MLF_EX_DATAERR,
				"invalid experiment id '%s': MLflow wants a letter or digit, then up to "
				"63 letters, digits, '_' or '-'", id);
	return 0;
}

static int check_run_id(const char *id, struct mlf_error *err)
{
	if (!id_ok(id, 256))
		return mlf_fail(err, MLF_EX_DATAERR, "invalid run id '%s'", id);
	return 0;
}

/*
 * Keys become paths under metrics/, params/, tags/.  The dispatcher applies
 * MLflow's rules; this guard keeps a key from ever leaving its folder.
 */
static int check_key_path(const char *what, const char *key, struct mlf_error *err)
{
	const char *p = key;
	if (!*key || *key == '/')
		goto bad;
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			goto bad;
		p += n;
		if (*p == '/' && !*++p)
			goto bad;
	}
	return 0;
bad:
	return mlf_fail(err, MLF_EX_DATAERR, "%s key '%s' is not a clean relative path", what, key);
}

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

/* Folders at the root that are not experiments. */
static int reserved_root_entry(const char *name)
{
	return name[0] == '.' || !strcmp(name, "models");
}

static char *join3(const char *a, const char *b, const char *c)
{
	return mlf_xasprintf("%s/%s/%s", a, b, c);
}

/* ---- small file helpers --------------------------------------------------- */

static void md5_hex(const char *a, const char *b, char hex[33])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, a, strlen(a)) != 1 || EVP_DigestUpdate(ctx, b, strlen(b)) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 16)
		abort();  /* MD5 missing from libcrypto: nothing sensible to carry on with */
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < 16; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[32] = '\0';
}

/*
 * Read a meta.yaml.  MLflow retries a momentarily empty file; we write
 * atomically, but another writer (MLflow rewrites run meta in place) may not.
 */
static int load_meta(const char *dir, struct mlf_fsyaml_doc *doc, char **path_out,
		     struct mlf_error *err)
{
	char *path = mlf_path_join(dir, META);
	char *data = NULL;
	size_t len = 0;
	int rc = -1;

	for (int attempt = 0; attempt < 3; attempt++) {
		free(data);
		data = NULL;
		if (mlf_read_file(path, &data, &len, err) != 0) {
			if (errno == ENOENT)
				mlf_fail(err, MLF_EX_DATAERR,
					 "'%s' is missing: the folder is incomplete or damaged", path);
			goto out;
		}
		if (len)
			break;
		struct timespec ts = { 0, 100000000L * (attempt + 1) };
		nanosleep(&ts, NULL);
	}
	rc = mlf_fsyaml_load(path, data, len, doc, err);
out:
	free(data);
	if (rc == 0 && path_out)
		*path_out = path;
	else
		free(path);
	return rc;
}

static int write_meta(const char *dir, struct mlf_fsyaml_item *items, size_t n,
		      struct mlf_error *err)
{
	struct mlf_buf b = MLF_BUF_INIT;
	char *path = mlf_path_join(dir, META);
	int rc = mlf_fsyaml_emit(items, n, &b, err);
	if (!rc)
		rc = mlf_write_file_atomic(path, b.data, b.len, err);
	free(path);
	mlf_buf_release(&b);
	return rc;
}

static int by_kv_key(const void *a, const void *b)
{
	const struct mlf_kv *x = a, *y = b;
	return strcmp(x->key, y->key);
}

/* params/ or tags/: every file below `dir` is one key ('/'-joined path) and its value. */
static int read_kv_tree(const char *dir, const char *prefix, struct mlf_kvs *out, int depth,
			struct mlf_error *err)
{
	DIR *d = opendir(dir);
	int rc = 0;
	if (!d)
		return errno == ENOENT ? 0 : mlf_fail_errno(err, MLF_EX_IOERR, "cannot open folder '%s'", dir);
	struct dirent *de;
	while (!rc && (de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		if (is_temp_name(de->d_name))
			continue;
		char *path = mlf_path_join(dir, de->d_name);
		char *key = *prefix ? mlf_xasprintf("%s/%s", prefix, de->d_name) : mlf_xstrdup(de->d_name);
		if (mlf_is_dir(path)) {
			if (depth > 64)
				rc = mlf_fail(err, MLF_EX_DATAERR, "'%s' is nested too deep", path);
			else
				rc = read_kv_tree(path, key, out, depth + 1, err);
		} else {
			char *value = NULL;
			rc = mlf_read_file(path, &value, NULL, err);
			if (!rc)
				mlf_kvs_add(out, key, value);
			free(value);
		}
		free(path);
		free(key);
	}
	closedir(d);
	if (!rc && depth == 0 && out->n > 1)
		qsort(out->items, out->n, sizeof(*out->items), by_kv_key);
	return rc;
}

/* Every key (file) below a metrics/ folder. */
static int list_keys(const char *dir, const char *prefix, struct mlf_kvs *keys, int depth,
		     struct mlf_error *err)
{
	DIR *d = opendir(dir);
	int rc = 0;
	if (!d)
		return errno == ENOENT ? 0 : mlf_fail_errno(err, MLF_EX_IOERR, "cannot open folder '%s'", dir);
	struct dirent *de;
	while (!rc && (de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		if (is_temp_name(de->d_name))
			continue;
		char *path = mlf_path_join(dir, de->d_name);
		char *key = *prefix ? mlf_xasprintf("%s/%s", prefix, de->d_name) : mlf_xstrdup(de->d_name);
		if (!mlf_is_dir(path))
			mlf_kvs_add(keys, key, NULL);
		else if (depth > 64)
			rc = mlf_fail(err, MLF_EX_DATAERR, "'%s' is nested too deep", path);
		else
			rc = list_keys(path, key, keys, depth + 1, err);
		free(path);
		free(key);
	}
	closedir(d);
	if (!rc && depth == 0 && keys->n > 1)
		qsort(keys->items, keys->n, sizeof(*keys->items), by_kv_key);
	return rc;
}

/* Write a param/tag value file, creating the folders a '/' key needs. */
static int write_value(const char *dir, const char *key, const char *value,
		       struct mlf_error *err)
{
	char *path = mlf_path_join(dir, key);
	int rc = 0;
	char *slash = strrchr(path, '/');
	*slash = '\0';
	rc = mlf_mkdir_p(path, 0777, err);
	*slash = '/';
	if (!rc && mlf_is_dir(path))
		rc = mlf_fail(err, MLF_EX_DATAERR, "'%s' is a folder (another key uses '%s/' as a prefix)",
			      path, key);
	if (!rc)
		rc = mlf_write_file_atomic(path, value, strlen(value), err);
	free(path);
	return rc;
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

/*
 * The text Python's str(float) prints: the fewest significant digits that
 * read back as exactly `v`, fixed notation for exponents -4..15 ("100.0",
 * "0.1"), else "1e-05" / "1e+16".  float() reads it back bit for bit.
 */
static void format_double(char *out, size_t n, double v)
{
	if (isnan(v)) {
		snprintf(out, n, "nan");
		return;
	}
	if (isinf(v)) {
		snprintf(out, n, v > 0 ? "inf" : "-inf");
		return;
	}
	int prec = 1;
	for (; prec < 17; prec++) {
		snprintf(out, n, "%.*e", prec - 1, v);
		if (strtod(out, NULL) == v)
			break;
	}
	snprintf(out, n, "%.*e", prec - 1, v);
	int exp = atoi(strchr(out, 'e') + 1);
	if (exp >= -4 && exp < 16) {
		int decimals = prec - 1 - exp > 0 ? prec - 1 - exp : 0;
		snprintf(out, n, "%.*f", decimals, v);
		if (!strchr(out, '.')) {
			size_t len = strlen(out);
			snprintf(out + len, n - len, ".0");
		}
	}
}

static int parse_i64(const char *s, int64_t *v)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*v = x;
	return 0;
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
	if (parse_i64(fields[0], &m->timestamp) || parse_double(fields[1], &m->value))
		return -1;
	m->step = 0;
	/* MLflow reads the step only from 3-field lines. */
	if (n == 3 && parse_i64(fields[2], &m->step))
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

/* ---- experiments ---------------------------------------------------------- */

/* Folder of experiment `id`: active under the root, deleted under .trash. */
static char *experiment_dir(struct file_store *fs, const char *id, int *deleted)
{
	char *dir = mlf_path_join(fs->root, id);
	if (mlf_is_dir(dir)) {
		if (deleted)
			*deleted = 0;
		return dir;
	}
	free(dir);
	dir = mlf_path_join(fs->trash, id);
	if (mlf_is_dir(dir)) {
		if (deleted)
			*deleted = 1;
		return dir;
	}
	free(dir);
	return NULL;
}

static int read_experiment(const char *dir, const char *id, struct mlf_experiment *out,
			   struct mlf_error *err)
{
	struct mlf_fsyaml_doc doc;
	char *path = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (load_meta(dir, &doc, &path, err) != 0)
		return -1;
	if (mlf_fsyaml_get_str(&doc, path, "experiment_id", &out->experiment_id, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "name", &out->name, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "artifact_location", &out->artifact_location, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "lifecycle_stage", &out->lifecycle_stage, err) < 0 ||
	    mlf_fsyaml_get_int(&doc, path, "creation_time", &out->creation_time, err) < 0 ||
	    mlf_fsyaml_get_int(&doc, path, "last_update_time", &out->last_update_time, err) < 0)
		goto out;
	if (!out->experiment_id || strcmp(out->experiment_id, id)) {
		mlf_fail(err, MLF_EX_DATAERR, "'%s' says experiment '%s', but its folder is '%s'",
			 path, out->experiment_id ? out->experiment_id : "(none)", id);
		goto out;
	}
	if (!out->name)
		out->name = mlf_xstrdup("");
	if (!out->artifact_location)
		out->artifact_location = mlf_xstrdup("");
	if (!out->lifecycle_stage)
		out->lifecycle_stage = mlf_xstrdup("active");
	char *tags = mlf_path_join(dir, "tags");
	rc = read_kv_tree(tags, "", &out->tags, 0, err);
	free(tags);
out:
	mlf_fsyaml_free(&doc);
	free(path);
	if (rc)
		mlf_experiment_release(out);
	return rc;
}

static int fs_get_experiment(void *impl, const char *id, struct mlf_experiment *out,
			     struct mlf_error *err)
{
	struct file_store *fs = impl;
	int deleted = 0;
	if (check_experiment_id(id, err))
		return -1;
	char *dir = experiment_dir(fs, id, &deleted);
	if (!dir)
		return mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
				     "experiment '%s' does not exist in %s", id, fs->root);
	int rc = read_experiment(dir, id, out, err);
	free(dir);
	return rc;
}

/*
 * Look through every experiment folder in `parent` for `name`.  Folders
 * that are not readable experiments are skipped, as MLflow skips them.
 * Returns 1 and fills *out when found.
 */
static int find_experiment_in(const char *parent, const char *name, struct mlf_experiment *out,
			      struct mlf_error *err)
{
	DIR *d = opendir(parent);
	if (!d)
		return errno == ENOENT ? 0 : mlf_fail_errno(err, MLF_EX_IOERR, "cannot open folder '%s'", parent);
	struct dirent *de;
	int found = 0;
	while (!found && (de = readdir(d))) {
		if (reserved_root_entry(de->d_name) || !id_ok(de->d_name, 64))
			continue;
		char *dir = mlf_path_join(parent, de->d_name);
		struct mlf_experiment e;
		if (mlf_is_dir(dir) && read_experiment(dir, de->d_name, &e, NULL) == 0) {
			if (!strcmp(e.name, name)) {
				*out = e;
				found = 1;
			} else {
				mlf_experiment_release(&e);
			}
		}
		free(dir);
	}
	closedir(d);
	return found;
}

static int fs_get_experiment_by_name(void *impl, const char *name, struct mlf_experiment *out,
				     struct mlf_error *err)
{
	struct file_store *fs = impl;
	int found = find_experiment_in(fs->root, name, out, err);
	if (found == 0)
		found = find_experiment_in(fs->trash, name, out, err);
	if (found < 0)
		return -1;
	if (!found)
		return mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
				     "no experiment named '%s' in %s", name, fs->root);
	return 0;
}

/* 18 decimal digits, first one non-zero, as MLflow's _generate_unique_integer_id. */
static char *random_experiment_id(void)
{
	uint64_t r;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		abort();
	return mlf_xasprintf("%" PRIu64, UINT64_C(100000000000000000) +
			     r % UINT64_C(900000000000000000));
}

/* MLflow makes a relative local artifact location absolute; other URIs stay as given. */
static char *resolve_artifact_location(struct file_store *fs, const char *loc)
{
	if (mlf_uri_kind(loc) == MLF_URI_FILE && strncmp(loc, "file:", 5) != 0 && loc[0] != '/')
		return mlf_path_absolute(fs->workspace, loc);
	if (!strncmp(loc, "file:", 5) && loc[5] != '/') {
		char *path = NULL;
		if (mlf_uri_local_path(loc, fs->workspace, &path, NULL) == 0) {
			char *uri = mlf_uri_from_path(path);
			free(path);
			return uri;
		}
	}
	return mlf_xstrdup(loc);
}

static int write_experiment_meta(const char *dir, const char *id, const char *name,
				 const char *artifact_location, int64_t now,
				 struct mlf_error *err)
{
	struct mlf_fsyaml_item items[] = {
		{ "artifact_location", MLF_FSYAML_STR, artifact_location, 0, NULL },
		{ "creation_time", MLF_FSYAML_INT, NULL, now, NULL },
		{ "effective_trace_archival_retention", MLF_FSYAML_NULL, NULL, 0, NULL },
		{ "experiment_id", MLF_FSYAML_STR, id, 0, NULL },
		{ "last_update_time", MLF_FSYAML_INT, NULL, now, NULL },
		{ "lifecycle_stage", MLF_FSYAML_STR, "active", 0, NULL },
		{ "name", MLF_FSYAML_STR, name, 0, NULL },
		{ "trace_location", MLF_FSYAML_NULL, NULL, 0, NULL },
		{ "workspace", MLF_FSYAML_STR, "default", 0, NULL },
	};
	return write_meta(dir, items, sizeof(items) / sizeof(items[0]), err);
}

/* mkdir the experiment folder (fails if taken) and write its meta.yaml. */
static int make_experiment(struct file_store *fs, const char *id, const char *name,
			   const char *artifact_location, struct mlf_error *err)
{
	char *dir = mlf_path_join(fs->root, id);
	char *loc = artifact_location ? resolve_artifact_location(fs, artifact_location)
				      : mlf_uri_append(fs->artifact_root, id);
	int rc = 0;
	if (mkdir(dir, 0777) != 0) {
		if (errno == EEXIST)
			rc = mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_EXISTS,
					   "experiment id '%s' is already taken in %s", id, fs->root);
		else
			rc = mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot create folder '%s'", dir);
	} else if (write_experiment_meta(dir, id, name, loc, mlf_now_ms(), err) != 0) {
		rmdir(dir);
		rc = -1;
	}
	free(dir);
	free(loc);
	return rc;
}

static int fs_create_experiment(void *impl, const char *name, const char *id,
				const char *artifact_location, char **id_out,
				struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct mlf_experiment e;
	char *chosen = NULL;

	if (!*name)
		return mlf_fail(err, MLF_EX_DATAERR, "experiment name is empty");
	if (artifact_location && !strncmp(artifact_location, "runs:", 5))
		return mlf_fail(err, MLF_EX_DATAERR, "artifact location cannot be a runs: URI");
	if (id && check_experiment_id(id, err))
		return -1;
	struct mlf_error lookup = MLF_ERROR_INIT;
	if (fs_get_experiment_by_name(fs, name, &e, &lookup) == 0) {
		int deleted = !strcmp(e.lifecycle_stage, "deleted");
		mlf_experiment_release(&e);
		return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_EXISTS,
				     "experiment '%s' already exists%s", name,
				     deleted ? " in deleted state (MLflow keeps the name reserved)" : "");
	}
	if (lookup.kind != MLF_ERR_NOT_FOUND) {
		if (err)
			*err = lookup;
		return -1;
	}
	if (id) {
		char *taken = experiment_dir(fs, id, NULL);
		if (taken) {
			free(taken);
			return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_EXISTS,
					     "experiment id '%s' is already taken in %s", id, fs->root);
		}
		chosen = mlf_xstrdup(id);
	} else {
		for (;;) {
			chosen = random_experiment_id();
			char *taken = experiment_dir(fs, chosen, NULL);
			if (!taken)
				break;
			free(taken);
			free(chosen);
		}
	}
	if (make_experiment(fs, chosen, name, artifact_location, err) != 0) {
		free(chosen);
		return -1;
	}
	*id_out = chosen;
	return 0;
}

/* ---- finding runs --------------------------------------------------------- */

static int find_run_in(const char *parent, const char *run_id, char **exp_id, char **run_dir)
{
	DIR *d = opendir(parent);
	if (!d)
		return 0;
	struct dirent *de;
	int found = 0;
	while (!found && (de = readdir(d))) {
		if (reserved_root_entry(de->d_name))
			continue;
		char *dir = join3(parent, de->d_name, run_id);
		if (mlf_is_dir(dir)) {
			*exp_id = mlf_xstrdup(de->d_name);
			*run_dir = dir;
			found = 1;
		} else {
			free(dir);
		}
	}
	closedir(d);
	return found;
}

/* Folder of run `run_id` in any experiment, deleted experiments included. */
static int find_run(struct file_store *fs, const char *run_id, char **exp_id, char **run_dir,
		    struct mlf_error *err)
{
	if (check_run_id(run_id, err))
		return -1;
	if (fs->cached_run_id && !strcmp(fs->cached_run_id, run_id) && mlf_is_dir(fs->cached_run_dir)) {
		*exp_id = mlf_xstrdup(fs->cached_exp_id);
		*run_dir = mlf_xstrdup(fs->cached_run_dir);
		return 0;
	}
	if (!find_run_in(fs->root, run_id, exp_id, run_dir) &&
	    !find_run_in(fs->trash, run_id, exp_id, run_dir))
		return mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
				     "run '%s' does not exist in %s", run_id, fs->root);
	free(fs->cached_run_id);
	free(fs->cached_run_dir);
	free(fs->cached_exp_id);
	fs->cached_run_id = mlf_xstrdup(run_id);
	fs->cached_run_dir = mlf_xstrdup(*run_dir);
	fs->cached_exp_id = mlf_xstrdup(*exp_id);
	return 0;
}

static int read_run_meta(const char *run_dir, const char *exp_id, const char *run_id,
			 struct run_meta *m, struct mlf_error *err)
{
	struct mlf_fsyaml_doc doc;
	char *path = NULL;
	int64_t status = MLF_RUN_RUNNING;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	m->start_time = m->end_time = m->deleted_time = -1;
	if (load_meta(run_dir, &doc, &path, err) != 0)
		return -1;
	if (mlf_fsyaml_get_str(&doc, path, "artifact_uri", &m->artifact_uri, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "experiment_id", &m->experiment_id, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "lifecycle_stage", &m->lifecycle_stage, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "run_id", &m->run_id, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "run_name", &m->run_name, err) < 0 ||
	    mlf_fsyaml_get_str(&doc, path, "user_id", &m->user_id, err) < 0 ||
	    mlf_fsyaml_get_int(&doc, path, "status", &status, err) < 0 ||
	    mlf_fsyaml_get_int(&doc, path, "start_time", &m->start_time, err) < 0 ||
	    mlf_fsyaml_get_int(&doc, path, "end_time", &m->end_time, err) < 0 ||
	    mlf_fsyaml_get_int(&doc, path, "deleted_time", &m->deleted_time, err) < 0)
		goto out;
	/* 2.x wrote run_uuid alongside or instead of run_id. */
	if (!m->run_id && mlf_fsyaml_get_str(&doc, path, "run_uuid", &m->run_id, err) < 0)
		goto out;
	if (!m->run_id || strcmp(m->run_id, run_id)) {
		mlf_fail(err, MLF_EX_DATAERR, "'%s' says run '%s', but its folder is '%s'",
			 path, m->run_id ? m->run_id : "(none)", run_id);
		goto out;
	}
	if (!m->experiment_id || strcmp(m->experiment_id, exp_id)) {
		mlf_fail(err, MLF_EX_DATAERR, "'%s' says experiment '%s', but the run is in experiment "
			 "folder '%s'", path, m->experiment_id ? m->experiment_id : "(none)", exp_id);
		goto out;
	}
	if (status < MLF_RUN_RUNNING || status > MLF_RUN_KILLED) {
		mlf_fail(err, MLF_EX_DATAERR, "'%s' has unknown run status %" PRId64, path, status);
		goto out;
	}
	m->status = (int)status;
	if (!m->lifecycle_stage)
		m->lifecycle_stage = mlf_xstrdup("active");
	rc = 0;
out:
	mlf_fsyaml_free(&doc);
	free(path);
	if (rc)
		run_meta_release(m);
	return rc;
}

static int write_run_meta(const char *run_dir, const struct run_meta *m, struct mlf_error *err)
{
#define TIME_ITEM(k, v) { k, (v) < 0 ? MLF_FSYAML_NULL : MLF_FSYAML_INT, NULL, (v), NULL }
	struct mlf_fsyaml_item items[] = {
		{ "artifact_uri", MLF_FSYAML_STR, m->artifact_uri, 0, NULL },
		TIME_ITEM("deleted_time", m->deleted_time),
		TIME_ITEM("end_time", m->end_time),
		{ "entry_point_name", MLF_FSYAML_STR, "", 0, NULL },
		{ "experiment_id", MLF_FSYAML_STR, m->experiment_id, 0, NULL },
		{ "lifecycle_stage", MLF_FSYAML_STR, m->lifecycle_stage, 0, NULL },
		{ "run_id", MLF_FSYAML_STR, m->run_id, 0, NULL },
		{ "run_name", MLF_FSYAML_STR, m->run_name ? m->run_name : "", 0, NULL },
		/* MLflow < 2.22.1 cannot read a run without run_uuid. */
		{ "run_uuid", MLF_FSYAML_STR, m->run_id, 0, NULL },
		{ "source_name", MLF_FSYAML_STR, "", 0, NULL },
		{ "source_type", MLF_FSYAML_INT, NULL, 4, NULL },  /* LOCAL, always (legacy field) */
		{ "source_version", MLF_FSYAML_STR, "", 0, NULL },
		TIME_ITEM("start_time", m->start_time),
		{ "status", MLF_FSYAML_INT, NULL, m->status, NULL },
		{ "tags", MLF_FSYAML_EMPTY_SEQ, NULL, 0, NULL },
		{ "user_id", MLF_FSYAML_STR, m->user_id, 0, NULL },
	};
#undef TIME_ITEM
	return write_meta(run_dir, items, sizeof(items) / sizeof(items[0]), err);
}

/* Find a run and read its meta.yaml. */
static int open_run(struct file_store *fs, const char *run_id, char **exp_id, char **run_dir,
		    struct run_meta *m, struct mlf_error *err)
{
	if (find_run(fs, run_id, exp_id, run_dir, err) != 0)
		return -1;
	if (read_run_meta(*run_dir, *exp_id, run_id, m, err) != 0) {
		mlf_error_prefix(err, "run '%s'", run_id);
		free(*exp_id);
		free(*run_dir);
		*exp_id = *run_dir = NULL;
		return -1;
	}
	return 0;
}

static int check_active(const struct run_meta *m, struct mlf_error *err)
{
	if (strcmp(m->lifecycle_stage, "active"))
		return mlf_fail(err, MLF_EX_DATAERR, "run '%s' is %s; MLflow only logs to active runs",
				m->run_id, m->lifecycle_stage);
	return 0;
}

/* ---- reading runs --------------------------------------------------------- */

static int latest_metrics(const char *run_dir, struct mlf_run *out, struct mlf_error *err)
{
	struct mlf_kvs keys = MLF_KVS_INIT;
	char *dir = mlf_path_join(run_dir, "metrics");
	int rc = list_keys(dir, "", &keys, 0, err);

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

static int load_run(const char *run_dir, struct run_meta *m, struct mlf_run *out,
		    struct mlf_error *err)
{
	memset(out, 0, sizeof(*out));
	char *params = mlf_path_join(run_dir, "params");
	char *tags = mlf_path_join(run_dir, "tags");
	int rc = read_kv_tree(params, "", &out->params, 0, err);
	if (!rc)
		rc = read_kv_tree(tags, "", &out->tags, 0, err);
	if (!rc)
		rc = latest_metrics(run_dir, out, err);
	free(params);
	free(tags);
	if (rc) {
		mlf_run_release(out);
		return -1;
	}
	out->run_id = m->run_id;
	out->experiment_id = m->experiment_id;
	out->artifact_uri = m->artifact_uri ? m->artifact_uri : mlf_xstrdup("");
	out->lifecycle_stage = m->lifecycle_stage;
	out->user_id = m->user_id ? m->user_id : mlf_xstrdup("");
	/* An empty run_name falls back to the mlflow.runName tag, as MLflow reads it. */
	if (m->run_name && *m->run_name) {
		out->run_name = m->run_name;
	} else {
		const char *tag = mlf_kvs_get(&out->tags, "mlflow.runName");
		out->run_name = mlf_xstrdup(tag ? tag : "");
		free(m->run_name);
	}
	out->status = m->status;
	out->start_time = m->start_time < 0 ? 0 : m->start_time;
	out->end_time = m->end_time < 0 ? 0 : m->end_time;
	memset(m, 0, sizeof(*m));  /* its strings now belong to *out */
	return 0;
}

static int fs_get_run(void *impl, const char *run_id, struct mlf_run *out, struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct run_meta m;
	char *exp_id, *run_dir;
	if (open_run(fs, run_id, &exp_id, &run_dir, &m, err) != 0)
		return -1;
	int rc = load_run(run_dir, &m, out, err);
	run_meta_release(&m);
	free(exp_id);
	free(run_dir);
	return rc;
}

static int fs_get_metric_history(void *impl, const char *run_id, const char *key,
				 struct mlf_metric **out, size_t *n, struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct run_meta m;
	char *exp_id, *run_dir;
	if (check_key_path("metric", key, err) || open_run(fs, run_id, &exp_id, &run_dir, &m, err))
		return -1;
	char *path = join3(run_dir, "metrics", key);
	int rc = 0;
	if (mlf_is_file(path))
		rc = read_metric_file(path, key, out, n, err);
	free(path);
	run_meta_release(&m);
	free(exp_id);
	free(run_dir);
	return rc;
}

static int newest_first(const void *a, const void *b)
{
	const struct mlf_run *x = a, *y = b;
	if (x->start_time != y->start_time)
		return x->start_time > y->start_time ? -1 : 1;
	return strcmp(x->run_id, y->run_id);
}

static int fs_search_runs(void *impl, const char *experiment_id, const char *tag_key,
			  const char *tag_value, struct mlf_run_list *out, struct mlf_error *err)
{
	struct file_store *fs = impl;
	if (check_experiment_id(experiment_id, err) || check_key_path("tag", tag_key, err))
		return -1;
	char *exp_dir = mlf_path_join(fs->root, experiment_id);
	DIR *d = opendir(exp_dir);
	if (!d) {
		int rc = mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
				       "no active experiment '%s' in %s", experiment_id, fs->root);
		free(exp_dir);
		return rc;
	}
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(d))) {
		if (!id_ok(de->d_name, 256) || !strcmp(de->d_name, "tags") ||
		    !strcmp(de->d_name, "datasets") || !strcmp(de->d_name, "traces") ||
		    !strcmp(de->d_name, "models"))
			continue;
		char *run_dir = mlf_path_join(exp_dir, de->d_name);
		char *tag = join3(run_dir, "tags", tag_key);
		char *value = NULL;
		struct run_meta m;
		struct mlf_run run;
		/* Like MLflow's search, folders that are not readable runs are skipped. */
		if (mlf_is_file(tag) && mlf_read_file(tag, &value, NULL, NULL) == 0 &&
		    (!tag_value || !strcmp(value, tag_value)) &&
		    read_run_meta(run_dir, experiment_id, de->d_name, &m, NULL) == 0) {
			if (!strcmp(m.lifecycle_stage, "active")) {
				rc = load_run(run_dir, &m, &run, err);
				if (!rc)
					mlf_run_list_add(out, &run);
			}
			run_meta_release(&m);
		}
		free(value);
		free(tag);
		free(run_dir);
	}
	closedir(d);
	free(exp_dir);
	if (rc) {
		mlf_run_list_release(out);
		return -1;
	}
	if (out->n > 1)
		qsort(out->runs, out->n, sizeof(*out->runs), newest_first);
	return 0;
}

/* ---- writing runs --------------------------------------------------------- */

static int make_run_dirs(const char *run_dir, struct mlf_error *err)
{
	static const char *const subdirs[] = { "metrics", "params", "tags", "artifacts" };
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		char *p = mlf_path_join(run_dir, subdirs[i]);
		int rc = mlf_mkdir_p(p, 0777, err);
		free(p);
		if (rc)
			return -1;
	}
	return 0;
}

static int fs_create_run(void *impl, const char *experiment_id, const char *run_name,
			 const char *user_id, int64_t start_time, const struct mlf_kvs *tags,
			 struct mlf_run *out, struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct mlf_experiment e;
	char run_id[33];
	int rc = -1;

	if (fs_get_experiment(fs, experiment_id, &e, err) != 0)
		return -1;
	if (strcmp(e.lifecycle_stage, "active")) {
		mlf_experiment_release(&e);
		return mlf_fail(err, MLF_EX_DATAERR,
				"experiment '%s' is deleted; MLflow creates runs only in active experiments",
				experiment_id);
	}
	for (size_t i = 0; tags && i < tags->n; i++)
		if (check_key_path("tag", tags->items[i].key, err)) {
			mlf_experiment_release(&e);
			return -1;
		}
	mlf_random_hex32(run_id);
	char *exp_dir = mlf_path_join(fs->root, experiment_id);
	char *run_dir = mlf_path_join(exp_dir, run_id);
	char *tags_dir = mlf_path_join(run_dir, "tags");
	char *rel = mlf_xasprintf("%s/artifacts", run_id);
	const char *name_tag = tags ? mlf_kvs_get(tags, "mlflow.runName") : NULL;
	struct run_meta m = {
		.artifact_uri = mlf_uri_append(e.artifact_location, rel),
		.experiment_id = (char *)experiment_id,
		.lifecycle_stage = (char *)"active",
		.run_id = run_id,
		.run_name = (char *)(run_name ? run_name : name_tag ? name_tag : ""),
		.user_id = (char *)user_id,
		.status = MLF_RUN_RUNNING,
		.start_time = start_time,
		.end_time = -1,
		.deleted_time = -1,
	};

	if (mkdir(run_dir, 0777) != 0) {
		mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot create run folder '%s'", run_dir);
		goto out;
	}
	/* meta.yaml last: until it exists, readers skip the folder as not a run yet. */
	int written = make_run_dirs(run_dir, err) == 0;
	for (size_t i = 0; written && tags && i < tags->n; i++)
		written = write_value(tags_dir, tags->items[i].key, tags->items[i].value, err) == 0;
	if (!written || write_run_meta(run_dir, &m, err)) {
		mlf_remove_tree(run_dir, NULL);
		goto out;
	}
	rc = fs_get_run(fs, run_id, out, err);
out:
	free(m.artifact_uri);
	free(rel);
	free(tags_dir);
	free(run_dir);
	free(exp_dir);
	mlf_experiment_release(&e);
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
		char *slash = strrchr(path, '/');
		*slash = '\0';
		rc = mlf_mkdir_p(path, 0777, err);
		*slash = '/';
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

static int fs_log_batch(void *impl, const char *run_id, const struct mlf_metric *metrics,
			size_t nmetrics, const struct mlf_kv *params, size_t nparams,
			const struct mlf_kv *tags, size_t ntags, struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct run_meta m;
	char *exp_id, *run_dir;
	const char *new_name = NULL;
	int rc = -1;

	for (size_t i = 0; i < nmetrics; i++)
		if (check_key_path("metric", metrics[i].key, err))
			return -1;
	for (size_t i = 0; i < nparams; i++)
		if (check_key_path("param", params[i].key, err))
			return -1;
	for (size_t i = 0; i < ntags; i++)
		if (check_key_path("tag", tags[i].key, err))
			return -1;
	if (open_run(fs, run_id, &exp_id, &run_dir, &m, err) != 0)
		return -1;
	char *params_dir = mlf_path_join(run_dir, "params");
	char *tags_dir = mlf_path_join(run_dir, "tags");
	if (check_active(&m, err) || check_params(params_dir, params, nparams, err))
		goto out;
	for (size_t i = 0; i < nparams; i++)
		if (write_value(params_dir, params[i].key, params[i].value, err))
			goto out;
	if (log_metrics(run_dir, metrics, nmetrics, err))
		goto out;
	for (size_t i = 0; i < ntags; i++) {
		if (write_value(tags_dir, tags[i].key, tags[i].value, err))
			goto out;
		if (!strcmp(tags[i].key, "mlflow.runName"))
			new_name = tags[i].value;
	}
	/* meta.yaml's run_name follows the mlflow.runName tag, as MLflow's set_tag does. */
	if (new_name && strcmp(new_name, m.run_name ? m.run_name : "")) {
		free(m.run_name);
		m.run_name = mlf_xstrdup(new_name);
		if (write_run_meta(run_dir, &m, err))
			goto out;
	}
	rc = 0;
out:
	if (rc)
		mlf_error_prefix(err, "run '%s'", run_id);
	free(params_dir);
	free(tags_dir);
	run_meta_release(&m);
	free(exp_id);
	free(run_dir);
	return rc;
}

static int fs_update_run(void *impl, const char *run_id, int status, int64_t end_time,
			 struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct run_meta m;
	char *exp_id, *run_dir;
	if (open_run(fs, run_id, &exp_id, &run_dir, &m, err) != 0)
		return -1;
	int rc = check_active(&m, err);
	if (!rc) {
		m.status = status;
		m.end_time = status == MLF_RUN_RUNNING && end_time == 0 ? -1 : end_time;
		rc = write_run_meta(run_dir, &m, err);
	}
	run_meta_release(&m);
	free(exp_id);
	free(run_dir);
	return rc;
}

static int fs_delete_run(void *impl, const char *run_id, struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct run_meta m;
	char *exp_id, *run_dir;
	if (open_run(fs, run_id, &exp_id, &run_dir, &m, err) != 0)
		return -1;
	free(m.lifecycle_stage);
	m.lifecycle_stage = mlf_xstrdup("deleted");
	m.deleted_time = mlf_now_ms();
	int rc = write_run_meta(run_dir, &m, err);
	run_meta_release(&m);
	free(exp_id);
	free(run_dir);
	return rc;
}

/* ---- dataset inputs (MLflow 2.4+) ------------------------------------------ */

static int write_meta_once(const char *dir, struct mlf_fsyaml_item *items, size_t n,
			   struct mlf_error *err)
{
	char *path = mlf_path_join(dir, META);
	int exists = mlf_is_file(path);
	free(path);
	if (exists)
		return 0;
	if (mlf_mkdir_p(dir, 0777, err))
		return -1;
	return write_meta(dir, items, n, err);
}

static int fs_log_dataset_input(void *impl, const char *run_id, const char *name,
				const char *digest, const char *source_type, const char *source,
				const char *context, struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct run_meta m;
	char *exp_id, *run_dir;
	char dataset_id[33], input_id[33];
	int rc = -1;

	if (open_run(fs, run_id, &exp_id, &run_dir, &m, err) != 0)
		return -1;
	char *exp_dir = mlf_path_join(fs->root, exp_id);
	char *ds_dir = NULL, *in_dir = NULL;
	struct mlf_kvs input_tags = MLF_KVS_INIT;
	if (check_active(&m, err))
		goto out;
	md5_hex(name, digest, dataset_id);
	md5_hex(dataset_id, run_id, input_id);
	ds_dir = join3(exp_dir, "datasets", dataset_id);
	in_dir = join3(run_dir, "inputs", input_id);
	struct mlf_fsyaml_item ds[] = {
		{ "digest", MLF_FSYAML_STR, digest, 0, NULL },
		{ "name", MLF_FSYAML_STR, name, 0, NULL },
		{ "profile", MLF_FSYAML_NULL, NULL, 0, NULL },
		{ "schema", MLF_FSYAML_NULL, NULL, 0, NULL },
		{ "source", MLF_FSYAML_STR, source, 0, NULL },
		{ "source_type", MLF_FSYAML_STR, source_type, 0, NULL },
	};
	if (context)
		mlf_kvs_add(&input_tags, "mlflow.data.context", context);
	/* destination_id repeats the dataset id: that is what MLflow writes; readers use source_id. */
	struct mlf_fsyaml_item in[] = {
		{ "destination_id", MLF_FSYAML_STR, dataset_id, 0, NULL },
		{ "destination_type", MLF_FSYAML_STR, "RUN", 0, NULL },
		{ "source_id", MLF_FSYAML_STR, dataset_id, 0, NULL },
		{ "source_type", MLF_FSYAML_STR, "DATASET", 0, NULL },
		{ "tags", MLF_FSYAML_MAP, NULL, 0, &input_tags },
	};
	if (write_meta_once(ds_dir, ds, sizeof(ds) / sizeof(ds[0]), err) ||
	    write_meta_once(in_dir, in, sizeof(in) / sizeof(in[0]), err))
		goto out;
	rc = 0;
out:
	mlf_kvs_release(&input_tags);
	free(in_dir);
	free(ds_dir);
	free(exp_dir);
	run_meta_release(&m);
	free(exp_id);
	free(run_dir);
	return rc;
}

/* ---- the store itself ----------------------------------------------------- */

static int fs_ping(void *impl, struct mlf_error *err)
{
	struct file_store *fs = impl;
	DIR *d = opendir(fs->root);
	if (!d)
		return mlf_fail_kind(err, MLF_EX_UNAVAILABLE, MLF_ERR_UNREACHABLE,
				     "cannot read the tracking folder '%s': %s", fs->root, strerror(errno));
	closedir(d);
	return 0;
}

static void fs_close(void *impl)
{
	struct file_store *fs = impl;
	if (!fs)
		return;
	free(fs->root);
	free(fs->trash);
	free(fs->artifact_root);
	free(fs->workspace);
	free(fs->cached_run_id);
	free(fs->cached_run_dir);
	free(fs->cached_exp_id);
	free(fs);
}

/* A missing root is created with experiment 0 (Default), as MLflow does. */
static int create_root(struct file_store *fs, struct mlf_error *err)
{
	if (mlf_mkdir_p(fs->root, 0777, err) != 0)
		return -1;
	return make_experiment(fs, "0", "Default", NULL, err);
}

int mlf_file_store_open(const struct mlf_tracking_options *opts, void **impl,
			struct mlf_error *err)
{
	struct file_store *fs = mlf_xcalloc(1, sizeof(*fs));
	struct stat st;

	*impl = NULL;
	if (mlf_uri_local_path(opts->uri, opts->workspace, &fs->root, err) != 0)
		goto fail;
	fs->workspace = mlf_xstrdup(opts->workspace);
	fs->trash = mlf_path_join(fs->root, TRASH);
	fs->artifact_root = mlf_uri_from_path(fs->root);
	if (stat(fs->root, &st) != 0) {
		if (errno != ENOENT) {
			mlf_fail_errno(err, MLF_EX_IOERR, "cannot inspect tracking folder '%s'", fs->root);
			goto fail;
		}
		if (create_root(fs, err) != 0)
			goto fail;
	} else if (!S_ISDIR(st.st_mode)) {
		mlf_fail(err, MLF_EX_CONFIG, "tracking path '%s' exists and is not a folder", fs->root);
		goto fail;
	}
	/* MLflow always adds .trash; a read-only store stays readable without it. */
	if (!mlf_is_dir(fs->trash))
		mkdir(fs->trash, 0777);
	*impl = fs;
	return 0;
fail:
	mlf_error_prefix(err, "file tracking store");
	fs_close(fs);
	return -1;
}

const struct mlf_tracking_ops mlf_file_store_ops = {
	.name = "file",
	.close = fs_close,
	.ping = fs_ping,
	.get_experiment = fs_get_experiment,
	.get_experiment_by_name = fs_get_experiment_by_name,
	.create_experiment = fs_create_experiment,
	.create_run = fs_create_run,
	.log_batch = fs_log_batch,
	.update_run = fs_update_run,
	.get_run = fs_get_run,
	.get_metric_history = fs_get_metric_history,
	.search_runs = fs_search_runs,
	.delete_run = fs_delete_run,
	.log_dataset_input = fs_log_dataset_input,
};
