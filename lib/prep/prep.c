/*
 * retrain-prep's orchestration: read the inputs, stop early when there is
 * nothing (new) to do, then build the next version under a lock, in a
 * temporary folder that is renamed into place only when complete.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlf/base.h"
#include "prep_internal.h"

#define LOCK_NAME ".retrain-prep.lock"

/* N of "retrain_vN", or -1 for any other name. */
static long version_number(const char *name)
{
	if (strncmp(name, "retrain_v", 9) || !name[9])
		return -1;
	char *end;
	long n = strtol(name + 9, &end, 10);
	return *end || n <= 0 || name[9] == '0' ? -1 : n;
}

/* Highest existing version; also removes temporary folders left by a crash. */
static long scan_versions(const char *data_dir)
{
	long max = 0;
	DIR *d = opendir(data_dir);
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		long n = version_number(de->d_name);
		if (n > max)
			max = n;
		if (!strncmp(de->d_name, ".retrain_v", 10) && strstr(de->d_name, ".tmp.")) {
			char *stale = mlf_path_join(data_dir, de->d_name);
			fprintf(stderr, "retrain-prep: removing unfinished %s from an earlier run\n", stale);
			mlf_remove_tree(stale, NULL);
			free(stale);
		}
	}
	closedir(d);
	return max;
}

/* Correction ids recorded by version `n`, as a JSON object used as a set. */
static int previous_ids(const char *data_dir, long n, json_t **ids, struct mlf_error *err)
{
	*ids = json_object();
	if (n <= 0)
		return 0;
	char *path = mlf_xasprintf("%s/retrain_v%ld/corrections_applied.json", data_dir, n);
	json_error_t jerr;
	json_t *doc = json_load_file(path, 0, &jerr);
	if (!doc) {
		mlf_fail(err, MLF_EX_DATAERR, "%s: %s; the previous version is damaged", path, jerr.text);
		free(path);
		return -1;
	}
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(doc, "corrections"), i, c) {
		const char *id = json_string_value(json_object_get(c, "correction_id"));
		if (id)
			json_object_set_new(*ids, id, json_true());
	}
	json_decref(doc);
	free(path);
	return 0;
}

static json_t *skip_document(const char *reason, size_t new_count, long min, long previous)
{
	json_t *doc = json_pack("{s:s, s:i, s:s, s:s, s:I, s:I}", "kind", "mlf.skip",
				"schema_version", 1, "producer", "retrain-prep", "reason", reason,
				"new_corrections", (json_int_t)new_count, "min_corrections", (json_int_t)min);
	if (previous > 0)
		json_object_set_new(doc, "previous_version", json_sprintf("v%ld", previous));
	return doc;
}

static int build(const struct mlf_prep_options *opts, const struct mlf_class_names *classes,
		 const struct mlf_data_yaml *base, struct prep_items *items,
		 const struct mlf_problems *skipped, long *version, json_t **doc,
		 struct mlf_error *err)
{
	long previous = scan_versions(opts->data_dir);
	json_t *ids = NULL;
	size_t new_count = 0;
	if (previous_ids(opts->data_dir, previous, &ids, err))
		return -1;
	for (size_t i = 0; i < items->n; i++)
		if (items->items[i].c) {
			items->items[i].is_new = !json_object_get(ids, items->items[i].correction_id);
			new_count += items->items[i].is_new;
		}
	json_decref(ids);
	if ((long)new_count < opts->min_corrections) {
		char *reason = mlf_xasprintf("%zu new correction%s since %s, %ld needed", new_count,
					     new_count == 1 ? "" : "s",
					     previous > 0 ? "the previous version" : "the start",
					     opts->min_corrections);
		*doc = skip_document(reason, new_count, opts->min_corrections, previous);
		free(reason);
		*version = 0;
		return 0;
	}
	if (base && mlf_prep_add_base(base, opts, items, err))
		return -1;

	*version = previous + 1;
	char *name = mlf_xasprintf("retrain_v%ld", *version);
	char *final_dir = mlf_path_join(opts->data_dir, name);
	char *tmp = mlf_xasprintf("%s/.%s.tmp.%ld", opts->data_dir, name, (long)getpid());
	int rc = mlf_remove_tree(tmp, err) || mlf_mkdir_p(tmp, 0777, err) ||
		 mlf_prep_write_version(tmp, final_dir, name, items, classes, base, opts, skipped,
					doc, err);
	/* One flush for the whole folder, then rename(2), which fails if the target
	 * exists: a version is never overwritten and never seen half-written. */
	if (!rc && (mlf_sync_fs(tmp, err) || mlf_failpoint(final_dir, err)))
		rc = -1;
	if (!rc && rename(tmp, final_dir) != 0) {
		rc = mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot move the finished dataset to %s",
				    final_dir);
		json_decref(*doc);
		*doc = NULL;
	}
	if (rc)
		mlf_remove_tree(tmp, NULL);
	free(tmp);
	free(final_dir);
	free(name);
	return rc ? -1 : 0;
}

int mlf_prep_run(const struct mlf_prep_options *opts, json_t **doc,
		 struct mlf_problems *problems, struct mlf_error *err)
{
	struct mlf_data_yaml base = { 0 };
	struct mlf_correction_set set = { 0 };
	struct prep_items items = { 0 };
	int lock_fd = -1, rc = -1;
	long version = 0;

	*doc = NULL;
	mlf_failpoint_step("prep");  /* scripts/torture's name for retrain-prep's writes */
	if (opts->val_fraction < 0 || opts->val_fraction >= 1)
		return mlf_fail(err, MLF_EX_USAGE, "--val-fraction must be at least 0 and below 1");
	if (!opts->base_data)
		return mlf_fail(err, MLF_EX_USAGE, "a base dataset is needed for the class names and "
				"so the model does not forget: give --base-data data.yaml");
	if (mlf_data_yaml_load(opts->base_data, &base, err)) {
		mlf_data_yaml_release(&base);  /* a failed load may hold its resolved path */
		return -1;
	}
	if (mlf_corrections_load(opts->corrections_dir, &base.classes, &set, problems, err))
		goto out;
	if (mlf_prep_check_corrections(&set, opts, &items, problems, err))
		goto out;
	if (problems->n && !opts->skip_bad) {
		mlf_fail(err, MLF_EX_DATAERR, "%zu problem%s in the corrections; nothing was written "
			 "(fix them, or use --skip-bad to leave them out)", problems->n,
			 problems->n == 1 ? "" : "s");
		goto out;
	}
	if (mlf_mkdir_p(opts->data_dir, 0777, err))
		goto out;
	char *lock = mlf_path_join(opts->data_dir, LOCK_NAME);
	rc = mlf_lock(lock, !opts->no_wait, &lock_fd, err);
	free(lock);
	if (rc)
		goto out;
	rc = build(opts, &base.classes, &base, &items, problems, &version, doc, err);
out:
	mlf_unlock(lock_fd);
	mlf_prep_items_release(&items);
	mlf_correction_set_release(&set);
	mlf_data_yaml_release(&base);
	return rc;
}

/* ---- without writing: for mlf-serve's intake and status ------------------------------ */

/* The base's classes, the corrections under `dir` read and each checked as a version
 * would check it; the caller releases all three. */
static int load_checked(const struct mlf_prep_options *opts, const char *dir, struct mlf_data_yaml *base,
			struct mlf_correction_set *set, struct prep_items *items,
			struct mlf_problems *problems, struct mlf_error *err)
{
	if (!opts->base_data)
		return mlf_fail(err, MLF_EX_CONFIG, "no base dataset configured (prep.base_data): the "
				"class names come from it");
	if (mlf_data_yaml_load(opts->base_data, base, err) ||
	    mlf_corrections_load(dir, &base->classes, set, problems, err) ||
	    mlf_prep_check_corrections(set, opts, items, problems, err))
		return -1;
	return 0;
}

int mlf_prep_check_dir(const struct mlf_prep_options *opts, const char *dir, size_t *count,
		       struct mlf_problems *problems, struct mlf_error *err)
{
	struct mlf_data_yaml base = { 0 };
	struct mlf_correction_set set = { 0 };
	struct prep_items items = { 0 };
	int rc = load_checked(opts, dir, &base, &set, &items, problems, err);
	*count = rc ? 0 : items.n;
	mlf_prep_items_release(&items);
	mlf_correction_set_release(&set);
	mlf_data_yaml_release(&base);
	return rc;
}

int mlf_prep_status(const struct mlf_prep_options *opts, json_t **doc, struct mlf_error *err)
{
	struct mlf_data_yaml base = { 0 };
	struct mlf_correction_set set = { 0 };
	struct prep_items items = { 0 };
	struct mlf_problems problems = { 0 };
	json_t *ids = NULL;
	long previous = scan_versions(opts->data_dir);
	size_t fresh = 0;
	*doc = NULL;
	int rc = load_checked(opts, opts->corrections_dir, &base, &set, &items, &problems, err) ||
		 previous_ids(opts->data_dir, previous, &ids, err) ? -1 : 0;
	for (size_t i = 0; !rc && i < items.n; i++)
		fresh += items.items[i].c && !json_object_get(ids, items.items[i].correction_id);
	if (!rc)
		*doc = json_pack("{s:s, s:i, s:s, s:I, s:I, s:I, s:b, s:I, s:o}", "kind",
				 "mlf.corrections_status", "schema_version", 1, "corrections_dir",
				 opts->corrections_dir, "corrections", (json_int_t)items.n,
				 "new_corrections", (json_int_t)fresh, "min_corrections",
				 (json_int_t)opts->min_corrections, "ready", (long)fresh >= opts->min_corrections,
				 "previous_version", (json_int_t)previous, "problems",
				 mlf_problems_json(&problems));
	json_decref(ids);
	mlf_problems_release(&problems);
	mlf_prep_items_release(&items);
	mlf_correction_set_release(&set);
	mlf_data_yaml_release(&base);
	return rc;
}
