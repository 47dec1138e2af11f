/* Writing a dataset version: files, lists, data.yaml, metadata and the digest. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mlf/base.h"
#include "prep_internal.h"

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static char *stem_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot ? mlf_xstrndup(name, (size_t)(dot - name)) : mlf_xstrdup(name);
}

/* A name unique per content: two pictures called frame_1.jpg never collide. */
static char *dest_name(const struct prep_item *it, const char *prefix)
{
	return mlf_xasprintf("images/%s/%s%.12s_%s", mlf_prep_split_names[it->split], prefix,
			     it->image_sha, base_name(it->image));
}

static char *label_for_dest(const char *dest)
{
	char *stem = stem_of(dest + strlen("images/"));
	char *label = mlf_xasprintf("labels/%s.txt", stem);
	free(stem);
	return label;
}

/* Ultralytics label lines: class cx cy w h, normalised. */
static char *label_text(const struct prep_item *it)
{
	struct mlf_buf b = MLF_BUF_INIT;
	for (size_t i = 0; i < it->nboxes; i++) {
		const struct mlf_box *x = &it->boxes[i];
		mlf_buf_addf(&b, "%d %.10f %.10f %.10f %.10f\n", x->class_id,
			     (x->x1 + x->x2) / 2 / it->width, (x->y1 + x->y2) / 2 / it->height,
			     (x->x2 - x->x1) / it->width, (x->y2 - x->y1) / it->height);
	}
	return mlf_buf_detach(&b);
}

/* Hard link, falling back to a copy (other file system, no permission). */
static int link_or_copy(const char *src, const char *dst, int try_link, struct mlf_error *err)
{
	if (try_link && link(src, dst) == 0)
		return 0;
	return mlf_copy_file_new(src, dst, NULL, err);
}

static int write_text(const char *dir, const char *rel, const char *text, struct mlf_error *err)
{
	char *path = mlf_path_join(dir, rel);
	/* The version folder is synced once and renamed as a whole (prep.c), not per file. */
	int rc = mlf_write_file_excl(path, text, strlen(text), err);
	free(path);
	return rc;
}

static int write_json(const char *dir, const char *rel, json_t *doc, struct mlf_error *err)
{
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
	if (!text)
		return mlf_fail(err, MLF_EX_SOFTWARE, "cannot encode %s", rel);
	struct mlf_buf b = MLF_BUF_INIT;
	mlf_buf_adds(&b, text);
	mlf_buf_addc(&b, '\n');
	free(text);
	int rc = write_text(dir, rel, b.data, err);
	mlf_buf_release(&b);
	return rc;
}

/* YAML double-quoted scalar: class names stay strings whatever they look like. */
static void yaml_quoted(struct mlf_buf *b, const char *s)
{
	mlf_buf_addc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			mlf_buf_addc(b, '\\');
		if ((unsigned char)*s < 0x20)
			mlf_buf_addf(b, "\\x%02x", (unsigned char)*s);
		else
			mlf_buf_addc(b, *s);
	}
	mlf_buf_addc(b, '"');
}

static char *data_yaml_text(const char *final_dir, const struct mlf_class_names *classes)
{
	struct mlf_buf b = MLF_BUF_INIT;
	mlf_buf_adds(&b, "# Written by retrain-prep; do not edit (the dataset is immutable).\npath: ");
	yaml_quoted(&b, final_dir);
	mlf_buf_adds(&b, "\ntrain: train.txt\nval: val.txt\n");
	mlf_buf_addf(&b, "nc: %zu\nnames:\n", classes->n);
	for (size_t i = 0; i < classes->n; i++) {
		mlf_buf_addf(&b, "  %zu: ", i);
		yaml_quoted(&b, classes->names[i]);
		mlf_buf_addc(&b, '\n');
	}
	return mlf_buf_detach(&b);
}

struct writer {
	const char *dir;
	const struct mlf_prep_options *opts;
	char **digest_lines;       /* "<path>\t<sha256>" of every image and label */
	size_t ndigest;
	struct mlf_buf lists[2];   /* train.txt, val.txt */
	struct mlf_buf manifest;   /* base_images.sha256 */
	json_t *applied;           /* corrections_applied entries */
	size_t images[2], boxes[2], base_images[2], new_corrections;
	size_t *per_class[2];
};

static void digest_add(struct writer *w, const char *path, const char *sha)
{
	w->digest_lines = mlf_xrealloc(w->digest_lines, (w->ndigest + 1) * sizeof(char *));
	w->digest_lines[w->ndigest++] = mlf_xasprintf("%s\t%s", path, sha);
}

static int write_correction(struct writer *w, const struct prep_item *it, struct mlf_error *err)
{
	char *dest = dest_name(it, "");
	char *label = label_for_dest(dest);
	char *abs = mlf_path_join(w->dir, dest);
	char sha[65];
	int rc = mlf_copy_file_new(it->image, abs, sha, err);
	if (!rc && strcmp(sha, it->image_sha))
		rc = mlf_fail(err, MLF_EX_DATAERR, "%s changed while retrain-prep was reading it; "
			      "run again", it->image);
	char *text = label_text(it);
	if (!rc)
		rc = write_text(w->dir, label, text, err);
	if (!rc) {
		char label_sha[65];
		mlf_sha256_hex(text, strlen(text), label_sha);
		digest_add(w, dest, it->image_sha);
		digest_add(w, label, label_sha);
		mlf_buf_addf(&w->lists[it->split], "./%s\n", dest);
		w->images[it->split]++;
		w->boxes[it->split] += it->nboxes;
		for (size_t i = 0; i < it->nboxes; i++)
			w->per_class[it->split][it->boxes[i].class_id]++;
		w->new_corrections += it->is_new;
		const struct mlf_correction *c = it->c;
		json_array_append_new(w->applied, json_pack(
			"{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:b}",
			"correction_id", it->correction_id, "source", c->source,
			"source_sha256", c->source_sha256, "source_index", (json_int_t)c->source_index,
			"format", c->format, "image_sha256", it->image_sha, "image", dest,
			"split", mlf_prep_split_names[it->split], "boxes", (json_int_t)it->nboxes,
			"corrected_by", mlf_json_string_or_null(c->corrected_by),
			"corrected_at", mlf_json_string_or_null(c->corrected_at), "new", it->is_new));
	}
	free(text);
	free(abs);
	free(label);
	free(dest);
	return rc;
}

static int write_base(struct writer *w, const struct prep_item *it, struct mlf_error *err)
{
	const char *listed = it->image;
	char *dest = NULL;
	int rc = 0;
	if (w->opts->base_mode != MLF_BASE_REFERENCE) {
		dest = dest_name(it, "base_");
		char *label = label_for_dest(dest);
		char *abs = mlf_path_join(w->dir, dest);
		char *abs_label = mlf_path_join(w->dir, label);
		int try_link = w->opts->base_mode == MLF_BASE_LINK;
		rc = link_or_copy(it->image, abs, try_link, err);
		if (!rc && it->label_sha[0])
			rc = link_or_copy(it->label, abs_label, try_link, err);
		free(abs);
		free(abs_label);
		free(label);
		listed = dest;
	}
	if (!rc) {
		if (dest)
			mlf_buf_addf(&w->lists[it->split], "./%s\n", dest);
		else
			mlf_buf_addf(&w->lists[it->split], "%s\n", listed);
		digest_add(w, it->image, it->image_sha);
		if (it->label_sha[0])
			digest_add(w, it->label, it->label_sha);
		/* sha256sum -c base_images.sha256 tells later whether the base drifted. */
		mlf_buf_addf(&w->manifest, "%s  %s\n", it->image_sha, it->image);
		if (it->label_sha[0])
			mlf_buf_addf(&w->manifest, "%s  %s\n", it->label_sha, it->label);
		w->base_images[it->split]++;
	}
	free(dest);
	return rc;
}

static void dataset_digest(struct writer *w, const struct mlf_class_names *classes, char out[65])
{
	mlf_prep_digest_lines(w->digest_lines, w->ndigest, classes, out);
}

static json_t *split_counts(const struct writer *w, int split, const struct mlf_class_names *classes)
{
	json_t *per_class = json_object();
	for (size_t i = 0; i < classes->n; i++)
		json_object_set_new(per_class, classes->names[i], json_integer((json_int_t)w->per_class[split][i]));
	return json_pack("{s:I, s:I, s:I, s:o}", "corrected_images", (json_int_t)w->images[split],
			 "base_images", (json_int_t)w->base_images[split],
			 "corrected_boxes", (json_int_t)w->boxes[split], "corrected_boxes_per_class", per_class);
}

int mlf_prep_write_version(const char *dir, const char *final_dir, const char *name,
			   const struct prep_items *items, const struct mlf_class_names *classes,
			   const struct mlf_data_yaml *base, const struct mlf_prep_options *opts,
			   const struct mlf_problems *skipped, json_t **doc, struct mlf_error *err)
{
	struct writer w = { .dir = dir, .opts = opts };
	struct mlf_progress progress;
	int rc = 0;
	char digest[65], base_sha[65] = "";
	static const char *const folders[] = { "images/train", "images/val", "labels/train", "labels/val" };

	w.applied = json_array();
	mlf_buf_init(&w.lists[0]);
	mlf_buf_init(&w.lists[1]);
	mlf_buf_init(&w.manifest);
	w.per_class[0] = mlf_xcalloc(classes->n + 1, sizeof(size_t));
	w.per_class[1] = mlf_xcalloc(classes->n + 1, sizeof(size_t));
	for (size_t i = 0; i < 4 && !rc; i++) {
		char *p = mlf_path_join(dir, folders[i]);
		rc = mlf_mkdir_p(p, 0777, err);
		free(p);
	}
	mlf_progress_start(&progress, opts->prog, "writing the dataset", items->n, 200);
	for (size_t i = 0; i < items->n && !rc; i++) {
		mlf_progress_step(&progress);
		rc = items->items[i].c ? write_correction(&w, &items->items[i], err)
				       : write_base(&w, &items->items[i], err);
	}
	mlf_progress_finish(&progress);
	if (!rc && base)
		rc = mlf_sha256_file(base->file, base_sha, NULL, err);

	char *yaml = data_yaml_text(final_dir, classes);
	char *created = mlf_now_rfc3339();
	if (!rc)
		rc = write_text(dir, "train.txt", w.lists[0].data, err) ||
		     write_text(dir, "val.txt", w.lists[1].data, err) ||
		     write_text(dir, "data.yaml", yaml, err) ||
		     write_text(dir, "base_images.sha256", w.manifest.data, err);
	dataset_digest(&w, classes, digest);
	char *digest_s = mlf_xasprintf("sha256:%s", digest);
	json_t *counts = json_pack("{s:o, s:o, s:I, s:I, s:I, s:I, s:I}",
				   "train", split_counts(&w, SPLIT_TRAIN, classes),
				   "val", split_counts(&w, SPLIT_VAL, classes),
				   "corrections", (json_int_t)(w.images[0] + w.images[1]),
				   "new_corrections", (json_int_t)w.new_corrections,
				   "duplicates", (json_int_t)items->duplicates,
				   "superseded_base_images", (json_int_t)items->superseded_base,
				   "skipped", (json_int_t)skipped->n);
	if (!rc) {
		json_t *applied = json_pack("{s:s, s:i, s:s, s:O, s:o}", "format", "mlf.corrections_applied",
					    "version", 1, "dataset", name, "corrections", w.applied,
					    "skipped", mlf_problems_json(skipped));
		rc = write_json(dir, "corrections_applied.json", applied, err);
		json_decref(applied);
	}
	if (!rc) {
		static const char *const modes[] = { "reference", "link", "copy" };
		json_t *meta = json_pack(
			"{s:s, s:i, s:s, s:s, s:s, s:s, s:I, s:{s:s, s:f, s:s?}, s:O, s:{s:s?, s:s?, s:s, s:s}, s:o}",
			"format", "mlf.dataset", "version", 1, "name", name, "created_at", created,
			"tool", "retrain-prep " MLF_VERSION, "digest", digest_s, "seed", (json_int_t)opts->seed,
			"split_rule", "method", "sha256 of the image bytes salted with the seed; val when "
			"the first 53 bits, as a fraction, are below val_fraction; base images keep their split",
			"val_fraction", opts->val_fraction, "holdout", opts->holdout,
			"counts", counts,
			"base", "data_yaml", base ? base->file : NULL, "data_yaml_sha256", base ? base_sha : NULL,
			"mode", modes[opts->base_mode], "manifest", "base_images.sha256",
			"classes", json_pack("[]"));
		json_t *names = json_object_get(meta, "classes");
		for (size_t i = 0; i < classes->n; i++)
			json_array_append_new(names, json_string(classes->names[i]));
		rc = write_json(dir, "retraining_dataset_metadata.json", meta, err);
		json_decref(meta);
	}
	if (!rc) {
		char *data_yaml = mlf_path_join(final_dir, "data.yaml");
		char *applied = mlf_path_join(final_dir, "corrections_applied.json");
		char *meta = mlf_path_join(final_dir, "retraining_dataset_metadata.json");
		*doc = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:s?}",
				 "kind", "mlf.dataset", "schema_version", 1, "version", name + strlen("retrain_"),
				 "name", name, "path", final_dir, "data_yaml", data_yaml, "digest", digest_s,
				 "corrections_applied", applied, "counts", counts,
				 "base_data", base ? base->file : NULL);
		json_object_set_new(*doc, "metadata", json_string(meta));
		free(data_yaml);
		free(applied);
		free(meta);
	}
	json_decref(counts);
	free(digest_s);
	free(created);
	free(yaml);
	for (size_t i = 0; i < w.ndigest; i++)
		free(w.digest_lines[i]);
	free(w.digest_lines);
	free(w.per_class[0]);
	free(w.per_class[1]);
	mlf_buf_release(&w.lists[0]);
	mlf_buf_release(&w.lists[1]);
	mlf_buf_release(&w.manifest);
	json_decref(w.applied);
	return rc ? -1 : 0;
}
