/*
 * A dataset version's digest: written once by retrain-prep, recomputed from
 * the files by whoever must trust it (retrain-run, before a run exists).
 *
 * The digest is the sha256 of "mlf.dataset.v1\n", a "names\t<class>..." line,
 * then one "<path>\t<sha256>" line per file, sorted: each corrected image and
 * its label by their path inside the version (images/<split>/..., labels/...),
 * each base image and label by the path retrain-prep read it from (as listed
 * in base_images.sha256, whatever the base mode).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/data.h"
#include "prep_internal.h"

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void mlf_prep_digest_lines(char **lines, size_t n, const struct mlf_class_names *classes,
			   char out[65])
{
	struct mlf_buf b = MLF_BUF_INIT;
	if (n > 1)
		qsort(lines, n, sizeof(char *), by_string);
	mlf_buf_adds(&b, "mlf.dataset.v1\nnames");
	for (size_t i = 0; i < classes->n; i++)
		mlf_buf_addf(&b, "\t%s", classes->names[i]);
	mlf_buf_addc(&b, '\n');
	for (size_t i = 0; i < n; i++) {
		mlf_buf_adds(&b, lines[i]);
		mlf_buf_addc(&b, '\n');
	}
	mlf_sha256_hex(b.data, b.len, out);
	mlf_buf_release(&b);
}

struct lines {
	char **v;
	size_t n;
};

static int add_file(struct lines *l, const char *shown, const char *path, struct mlf_error *err)
{
	char sha[65];
	if (mlf_sha256_file(path, sha, NULL, err))
		return -1;
	l->v = mlf_xrealloc(l->v, (l->n + 1) * sizeof(char *));
	l->v[l->n++] = mlf_xasprintf("%s\t%s", shown, sha);
	return 0;
}

/* images/<split>/<name>.<ext> -> labels/<split>/<name>.txt */
static char *label_of(const char *image)
{
	const char *dot = strrchr(image, '.'), *slash = strrchr(image, '/');
	size_t stem = dot && dot > slash ? (size_t)(dot - image) : strlen(image);
	return mlf_xasprintf("labels/%.*s.txt", (int)(stem - strlen("images/")), image + strlen("images/"));
}

/* The corrected images listed in <dir>/<list> ("./images/<split>/<sha12>_<name>"). */
static int add_corrected(struct lines *l, const char *dir, const char *list, struct mlf_error *err)
{
	char *path = mlf_path_join(dir, list), *text = NULL;
	size_t len;
	int rc = mlf_read_file(path, &text, &len, err);
	for (char *line = text, *next; !rc && line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		const char *rel = !strncmp(line, "./", 2) ? line + 2 : NULL;
		const char *leaf = rel ? strrchr(rel, '/') : NULL;
		/* base images copied or linked in are "base_..." and counted by the manifest */
		if (!rel || strncmp(rel, "images/", 7) || !leaf || !strncmp(leaf + 1, "base_", 5))
			continue;
		char *image = mlf_path_join(dir, rel), *label = label_of(rel);
		char *label_path = mlf_path_join(dir, label);
		rc = add_file(l, rel, image, err) || add_file(l, label, label_path, err) ? -1 : 0;
		free(image);
		free(label);
		free(label_path);
	}
	free(text);
	free(path);
	return rc;
}

/* The base files listed in <dir>/base_images.sha256 ("<sha256>  <path>"), hashed again. */
static int add_base(struct lines *l, const char *dir, struct mlf_error *err)
{
	char *path = mlf_path_join(dir, "base_images.sha256"), *text = NULL;
	size_t len;
	int rc = 0;
	if (!mlf_is_file(path)) {
		free(path);
		return 0;  /* a version without base data */
	}
	rc = mlf_read_file(path, &text, &len, err);
	for (char *line = text, *next; !rc && line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strlen(line) < 67 || line[64] != ' ' || line[65] != ' ')
			rc = mlf_fail(err, MLF_EX_DATAERR, "%s: a line is not '<sha256>  <path>'", path);
		else
			rc = add_file(l, line + 66, line + 66, err);
	}
	free(text);
	free(path);
	return rc;
}

int mlf_prep_digest(const char *dir, char out[65], struct mlf_error *err)
{
	struct lines l = { NULL, 0 };
	struct mlf_data_yaml d;
	char *yaml = mlf_path_join(dir, "data.yaml");
	int rc = mlf_data_yaml_load(yaml, &d, err);
	if (!rc)
		rc = add_corrected(&l, dir, "train.txt", err) || add_corrected(&l, dir, "val.txt", err) ||
		     add_base(&l, dir, err) ? -1 : 0;
	if (!rc)
		mlf_prep_digest_lines(l.v, l.n, &d.classes, out);
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	mlf_data_yaml_release(&d);
	free(yaml);
	return rc;
}
