/* The corrections folder: the walk, format detection, the set and the checks all formats share. */
#include "mlf/corrections.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "corrections_internal.h"
#include "mlf/base.h"

#define MAX_LISTED_CLASSES 12

void mlf_class_names_release(struct mlf_class_names *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->names[i]);
	free(c->names);
	c->names = NULL;
	c->n = 0;
}

int mlf_class_names_find(const struct mlf_class_names *c, const char *name)
{
	if (!c || !name)
		return -1;
	for (size_t i = 0; i < c->n && i <= INT_MAX; i++)
		if (c->names[i] && !strcmp(c->names[i], name))
			return (int)i;
	return -1;
}

void corr_free(struct mlf_correction *c)
{
	free(c->source);
	free(c->source_sha256);
	free(c->format);
	free(c->image);
	free(c->boxes);
	free(c->corrected_by);
	free(c->corrected_at);
	json_decref(c->prediction);
	memset(c, 0, sizeof(*c));
}

void mlf_correction_set_release(struct mlf_correction_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		corr_free(&s->items[i]);
	free(s->items);
	s->items = NULL;
	s->n = 0;
}

void corr_push(struct corr_ctx *ctx, struct mlf_correction *c)
{
	if (ctx->out->n == ctx->cap) {
		ctx->cap = ctx->cap ? ctx->cap * 2 : 32;
		ctx->out->items = mlf_xrealloc(ctx->out->items, ctx->cap * sizeof(*ctx->out->items));
	}
	ctx->out->items[ctx->out->n++] = *c;
	memset(c, 0, sizeof(*c));
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

long corr_find_file(const struct corr_ctx *ctx, const char *rel)
{
	char *const *hit = bsearch(&rel, ctx->files, ctx->nfiles, sizeof(*ctx->files), by_string);
	return hit ? (long)(hit - ctx->files) : -1;
}

int corr_is_image_name(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
		       !strcasecmp(dot, ".png"));
}

char *corr_dirname(const char *rel)
{
	const char *slash = strrchr(rel, '/');
	return slash ? mlf_xstrndup(rel, (size_t)(slash - rel)) : mlf_xstrdup("");
}

static int is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

int corr_resolve(struct corr_ctx *ctx, const char *file_rel, const char *field,
		 const char *name, char **abs, int *exists)
{
	*abs = NULL;
	*exists = 0;
	if (!*name) {
		mlf_problems_add(ctx->problems, file_rel, field, "image path is empty");
		return -1;
	}
	if (name[0] == '/') {
		mlf_problems_add(ctx->problems, file_rel, field, "absolute image path '%s'; give it "
				 "relative to the folder of this file, inside the corrections folder",
				 name);
		return -1;
	}
	char *dir = corr_dirname(file_rel);
	char *dir_abs = mlf_path_join(ctx->root_abs, dir);
	char *joined = mlf_path_join(dir_abs, name);
	char *path = mlf_path_normalize(joined);
	free(dir);
	free(dir_abs);
	free(joined);
	if (!is_under(path, ctx->root_abs)) {
		mlf_problems_add(ctx->problems, file_rel, field, "image path '%s' leads outside the "
				 "corrections folder", name);
		free(path);
		return -1;
	}
	char *real = realpath(path, NULL);
	if (real) {
		int inside = is_under(real, ctx->root_real);
		struct stat st;
		int regular = stat(real, &st) == 0 && S_ISREG(st.st_mode);
		if (!inside)
			mlf_problems_add(ctx->problems, file_rel, field, "image path '%s' leads outside "
					 "the corrections folder through a symbolic link (to '%s')",
					 name, real);
		free(real);
		if (!inside) {
			free(path);
			return -1;
		}
		*exists = regular;
	}
	*abs = path;
	return 0;
}

int corr_find_in_export(struct corr_ctx *ctx, const char *rel, const char *field,
			const char *name, char **abs)
{
	int exists;
	if (corr_resolve(ctx, rel, field, name, abs, &exists))
		return -1;
	if (exists)
		return 1;
	free(*abs);
	char *sub = mlf_xasprintf("images/%s", name);
	int rc = corr_resolve(ctx, rel, field, sub, abs, &exists);
	free(sub);
	if (rc)
		return -1;
	if (exists)
		return 1;
	free(*abs);
	*abs = NULL;
	return 0;
}

void corr_unknown_class(struct corr_ctx *ctx, const char *file, const char *field,
			const char *name)
{
	struct mlf_buf known = MLF_BUF_INIT;
	size_t n = ctx->classes ? ctx->classes->n : 0;
	for (size_t i = 0; i < n && i < MAX_LISTED_CLASSES; i++)
		mlf_buf_addf(&known, "%s%s", i ? ", " : "", ctx->classes->names[i]);
	if (n > MAX_LISTED_CLASSES)
		mlf_buf_addf(&known, ", ... (%zu in all)", n);
	mlf_problems_add(ctx->problems, file, field, "unknown class '%s' (the classes are: %s)",
			 name, n ? known.data : "none");
	mlf_buf_release(&known);
}

int corr_class_id(struct corr_ctx *ctx, const char *file, const char *field, const json_t *v)
{
	size_t n = ctx->classes ? ctx->classes->n : 0;
	if (!json_is_integer(v)) {
		mlf_problems_add(ctx->problems, file, field, "class id must be an integer");
		return -1;
	}
	json_int_t id = json_integer_value(v);
	if (id < 0 || (size_t)id >= n || id > INT_MAX) {
		mlf_problems_add(ctx->problems, file, field, "class id %" JSON_INTEGER_FORMAT
				 " is out of range (0..%zu for %zu classes)", id, n ? n - 1 : 0, n);
		return -1;
	}
	return (int)id;
}

int corr_number(const json_t *v, double *out)
{
	if (!json_is_number(v))
		return -1;
	double d = json_number_value(v);
	if (!isfinite(d))
		return -1;
	*out = d;
	return 0;
}

int corr_positive_int(const json_t *v, int *out)
{
	if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > INT_MAX)
		return -1;
	*out = (int)json_integer_value(v);
	return 0;
}

static int digits(const char *s, int n, int lo, int hi)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	return v >= lo && v <= hi;
}

int corr_is_rfc3339(const char *s)
{
	/* RFC 3339 section 5.6; 't', 'z' and a space for 'T' are allowed there too. */
	if (strlen(s) < 20 || !digits(s, 4, 0, 9999) || s[4] != '-' || !digits(s + 5, 2, 1, 12) ||
	    s[7] != '-' || !digits(s + 8, 2, 1, 31) || !strchr("Tt ", s[10]) || s[10] == '\0' ||
	    !digits(s + 11, 2, 0, 23) || s[13] != ':' || !digits(s + 14, 2, 0, 59) ||
	    s[16] != ':' || !digits(s + 17, 2, 0, 60))
		return 0;
	const char *p = s + 19;
	if (*p == '.') {
		const char *f = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == f)
			return 0;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		return 1;
	return (*p == '+' || *p == '-') && digits(p + 1, 2, 0, 23) && p[3] == ':' &&
	       digits(p + 4, 2, 0, 59) && p[6] == '\0';
}

static int is_interesting(const char *name)
{
	const char *dot = strrchr(name, '.');
	return corr_is_image_name(name) ||
	       (dot && (!strcasecmp(dot, ".json") || !strcasecmp(dot, ".txt")));
}

/*
 * Collecting every file below the root, with mlf_walk_tree: entries in name
 * order, so that problems come out in the same order on every run; hidden
 * names skipped.  A name that is not UTF-8 is a problem, shown escaped.
 * What cannot be read is a problem, and the walk goes on.
 *
 * Symbolic links, one rule for files and folders: a link whose target is
 * inside the corrections folder is followed, and what it leads to is read
 * once, under the target's own name (the walk reaches it there: reading it
 * through the link too would count each correction twice), or under the
 * link's name when the target is a file in a hidden folder.  A link that
 * leads outside, or to a hidden folder, is a problem naming the target:
 * never read, never skipped unsaid.  Links to folders are never descended,
 * so a loop cannot be walked.
 */

struct collect {
	struct corr_ctx *ctx;
	size_t cap;
};

/* Where a link leads, relative to the root: NULL (and *real set) when outside. */
static const char *inside_rel(struct corr_ctx *ctx, const char *real)
{
	if (!real || !is_under(real, ctx->root_real))
		return NULL;
	const char *rel = real + strlen(ctx->root_real);
	return *rel == '/' ? rel + 1 : rel;
}

/* Does any component of `rel` start with '.' (a part the walk does not read)? */
static int hidden_rel(const char *rel)
{
	for (const char *p = rel; *p; p++)
		if (*p == '.' && (p == rel || p[-1] == '/'))
			return 1;
	return 0;
}

static int collect_dir_link(const char *path, const char *rel, void *vc, struct mlf_error *err)
{
	struct collect *c = vc;
	(void)err;
	char *real = realpath(path, NULL);
	const char *target = inside_rel(c->ctx, real);
	if (!target)
		mlf_problems_add(c->ctx->problems, rel, NULL, "symbolic link to a folder outside the "
				 "corrections folder (to '%s'); not read: copy the corrections in instead",
				 real ? real : "?");
	else if (hidden_rel(target))
		mlf_problems_add(c->ctx->problems, rel, NULL, "symbolic link to the hidden folder '%s'; "
				 "hidden folders are not read", target);
	/* else its files are read where they are */
	free(real);
	return 0;
}
static int collect_file(const char *path, const char *rel, void *vc, struct mlf_error *err)
{
	struct collect *c = vc;
	struct corr_ctx *ctx = c->ctx;
	struct stat st;
	(void)err;
	/* One rule for names: a file whose name (or folder's) is not UTF-8 is refused, shown
	 * escaped; it could be neither recorded in corrections_applied.json nor told apart
	 * from the next night's "new" corrections. */
	if (!mlf_is_utf8(rel, strlen(rel))) {
		const char *slash = strrchr(rel, '/');
		if (is_interesting(slash ? slash + 1 : rel))
			mlf_problems_add(ctx->problems, rel, NULL, "the file name is not valid UTF-8; "
					 "rename it (names are recorded in JSON, which holds only UTF-8)");
		return 0;
	}
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		const char *slash = strrchr(rel, '/');
		if (!is_interesting(slash ? slash + 1 : rel))
			return 0;
		char *real = realpath(path, NULL);
		const char *target = inside_rel(ctx, real);
		if (!target)
			mlf_problems_add(ctx->problems, rel, NULL, "symbolic link leads outside the "
					 "corrections folder (to '%s'); not read", real ? real : "?");
		int read_here = target && hidden_rel(target);  /* else the walk reads it at its own name */
		free(real);
		if (!read_here)
			return 0;
	}
	if (ctx->nfiles == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		ctx->files = mlf_xrealloc(ctx->files, c->cap * sizeof(*ctx->files));
	}
	ctx->files[ctx->nfiles++] = mlf_xstrdup(rel);
	return 0;
}

static int collect_failed(const char *path, const char *rel, void *vc, struct mlf_error *err)
{
	struct collect *c = vc;
	int e = errno;
	if (err->status == MLF_EX_DATAERR)
		mlf_problems_add(c->ctx->problems, rel, NULL, "folder nested more than %d levels "
				 "deep; not read", MLF_WALK_MAX_DEPTH);
	else if (mlf_is_dir(path))
		mlf_problems_add(c->ctx->problems, *rel ? rel : ".", NULL, "cannot read folder: %s",
				 strerror(e));
	else
		mlf_problems_add(c->ctx->problems, rel, NULL, "cannot read: %s", strerror(e));
	return 0;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcasecmp(s + n - m, suffix);
}

static const char *base_name(const char *rel)
{
	const char *slash = strrchr(rel, '/');
	return slash ? slash + 1 : rel;
}

int corr_too_big(struct corr_ctx *ctx, const char *path, const char *rel)
{
	struct stat st;
	if (stat(path, &st) != 0 || st.st_size <= MLF_CORRECTION_MAX_BYTES)
		return 0;
	mlf_problems_add(ctx->problems, rel, NULL, "%.1f MiB: a correction file may be at most %ld MiB; "
			 "split the export into smaller files", (double)st.st_size / (1 << 20),
			 MLF_CORRECTION_MAX_BYTES >> 20);
	return 1;
}

static void read_json(struct corr_ctx *ctx, const char *rel)
{
	char *path = mlf_path_join(ctx->root, rel);
	json_error_t jerr;
	if (corr_too_big(ctx, path, rel)) {
		free(path);
		return;
	}
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		enum json_error_code code = json_error_code(&jerr);
		if (code == json_error_cannot_open_file)
			mlf_problems_add(ctx->problems, rel, NULL, "cannot read: %s", jerr.text);
		else if (code == json_error_invalid_utf8)
			mlf_problems_add(ctx->problems, rel, NULL, "not valid UTF-8 (line %d, column %d)",
					 jerr.line, jerr.column);
		else
			mlf_problems_add(ctx->problems, rel, NULL, "invalid JSON at line %d, column %d: "
					 "%s", jerr.line, jerr.column, jerr.text);
		free(path);
		return;
	}
	char sha[65];
	struct mlf_error serr = MLF_ERROR_INIT;
	if (mlf_sha256_file(path, sha, NULL, &serr)) {
		mlf_problems_add(ctx->problems, rel, NULL, "%s", serr.msg);
	} else if (json_is_object(doc) && json_object_get(doc, "format")) {
		const char *fmt = json_string_value(json_object_get(doc, "format"));
		if (fmt && !strcmp(fmt, "mlf.correction"))
			corr_read_native(ctx, rel, doc, sha);
		else
			mlf_problems_add(ctx->problems, rel, "format", "not a recognised correction "
					 "format (expected \"mlf.correction\")");
	} else if (json_is_object(doc) && json_object_get(doc, "images") &&
		   (json_object_get(doc, "annotations") || json_object_get(doc, "categories"))) {
		corr_read_coco(ctx, rel, doc, sha);
	} else if (json_is_array(doc) && (json_array_size(doc) == 0 ||
					  json_object_get(json_array_get(doc, 0), "data"))) {
		corr_read_labelstudio(ctx, rel, doc, sha);
	} else if (json_is_object(doc) && !strcmp(base_name(rel), "notes.json") &&
		   json_object_get(doc, "categories") && !json_object_get(doc, "images")) {
		/* The notes.json a Label Studio YOLO export puts beside classes.txt: no boxes. */
	} else {
		mlf_problems_add(ctx->problems, rel, NULL, "not a recognised correction format "
				 "(expected mlf.correction, COCO or Label Studio export)");
	}
	json_decref(doc);
	free(path);
}

static int by_source(const void *a, const void *b)
{
	const struct mlf_correction *x = a, *y = b;
	int c = strcmp(x->source, y->source);
	if (c)
		return c;
	return (x->source_index > y->source_index) - (x->source_index < y->source_index);
}

int mlf_corrections_load(const char *root, const struct mlf_class_names *classes,
			 struct mlf_correction_set *out, struct mlf_problems *problems,
			 struct mlf_error *err)
{
	memset(out, 0, sizeof(*out));
	struct stat st;
	if (stat(root, &st) != 0)
		return mlf_fail_errno(err, MLF_EX_NOINPUT, "cannot read the corrections folder '%s'",
				      root);
	if (!S_ISDIR(st.st_mode))
		return mlf_fail(err, MLF_EX_NOINPUT, "the corrections folder '%s' is not a folder",
				root);
	struct corr_ctx ctx = { .root = root, .classes = classes, .problems = problems, .out = out };
	ctx.root_real = realpath(root, NULL);
	if (!ctx.root_real)
		return mlf_fail_errno(err, MLF_EX_NOINPUT, "cannot resolve the corrections folder "
				      "'%s'", root);
	ctx.root_abs = mlf_path_absolute(NULL, root);

	struct collect c = { &ctx, 0 };
	struct mlf_walk w = { .flags = MLF_WALK_NO_HIDDEN, .on_file = collect_file,
			      .on_dir_link = collect_dir_link, .on_error = collect_failed, .ctx = &c };
	mlf_walk_tree(root, &w, NULL);
	if (ctx.nfiles > 1)  /* no file at all leaves ctx.files NULL */
		qsort(ctx.files, ctx.nfiles, sizeof(*ctx.files), by_string);
	for (size_t i = 0; i < ctx.nfiles; i++)
		if (has_suffix(ctx.files[i], ".json"))
			read_json(&ctx, ctx.files[i]);
	corr_read_yolo(&ctx);
	if (out->n)
		qsort(out->items, out->n, sizeof(*out->items), by_source);

	for (size_t i = 0; i < ctx.nfiles; i++)
		free(ctx.files[i]);
	free(ctx.files);
	free(ctx.root_abs);
	free(ctx.root_real);
	return 0;
}
