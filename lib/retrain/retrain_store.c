/*
 * The retrained model's copies: the quick-access copy, safetensors and
 * metadata beside the training folder, the run's artifacts, and last the
 * published copy under models/.  Every file is written to a temporary
 * name and renamed, and every copy's sha256 is compared with best.pt's.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mlf/ckpt.h"
#include "mlf/base.h"
#include "retrain_internal.h"

/* Copy and prove the copy: its digest must be the original's. */
static int copy_checked(const char *src, const char *dst, const char *want_sha, struct mlf_error *err)
{
	char sha[65];
	if (mlf_copy_file_atomic(src, dst, sha, err))
		return -1;
	if (strcmp(sha, want_sha)) {
		unlink(dst);
		return mlf_fail(err, MLF_EX_IOERR, "copying %s to %s: the copy's sha256 %s differs from %s; "
				"check the disk", src, dst, sha, want_sha);
	}
	return 0;
}

static json_t *metadata(struct retrain *r, const char *created)
{
	char file[64], st_file[80], version[32];
	snprintf(file, sizeof(file), "%s.pt", r->p.name);
	snprintf(st_file, sizeof(st_file), "%s.safetensors", r->p.name);
	snprintf(version, sizeof(version), "v%ld", r->p.n);
	json_t *args = mlf_train_args_json(&r->train.args);
	return json_pack("{s:s, s:i, s:s, s:s, s:s, s:I, s:s, s:{s:s, s:I, s:s}, s:s, s:s, s:s, s:O,"
			 " s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:{s:O, s:O, s:O}, s:{s:s, s:s},"
			 " s:{s:i, s:i, s:i, s:f, s:s, s:o}, s:O, s:O*}",
			 "format", "mlf.model", "schema_version", 1, "name", r->p.name, "version", version,
			 "file", file, "size", (json_int_t)r->model_size, "sha256", r->model_sha,
			 "safetensors", "file", st_file, "size", (json_int_t)r->st_size, "sha256", r->st_sha,
			 "created_at", created, "tool", "retrain-run " MLF_VERSION, "model_type", r->model_type,
			 "classes", r->classes,
			 "run", "tracking_uri", mlf_tracking_uri(r->t), "experiment_id", r->experiment_id,
			 "run_id", r->run.run_id, "artifact_uri", r->run.artifact_uri, "artifact_path", r->p.art_model,
			 "registered_model", r->registered_model,
			 "dataset", "name", json_object_get(r->dataset, "name"),
			 "digest", json_object_get(r->dataset, "digest"), "path", json_object_get(r->dataset, "path"),
			 "base_model", "path", r->base_model, "sha256", r->base_sha,
			 "training", "epochs", r->train.args.epochs, "epochs_done", r->result.epochs_done,
			 "best_epoch", r->result.best_epoch, "seconds", r->train_seconds, "device", r->device_name,
			 "args", args,
			 "metrics", r->post, "pre_metrics", r->pre);
}

static int write_safetensors(struct retrain *r, struct mlf_error *err)
{
	struct mlf_ckpt c;
	mlf_ckpt_init(&c);
	json_t *meta = json_pack("{s:s, s:s, s:s}", "format", "pt", "source", r->p.name,
				 "source_sha256", r->model_sha);
	int rc = mlf_ckpt_read_pt(r->p.quick_pt, &c, err) ||
		 mlf_ckpt_write_safetensors(&c, r->st_path, meta, err) ||
		 mlf_sha256_file(r->st_path, r->st_sha, &r->st_size, err);
	json_decref(meta);
	mlf_ckpt_release(&c);
	return rc ? -1 : 0;
}

int retrain_store(struct retrain *r, struct mlf_error *err)
{
	if (!mlf_is_file(r->p.best_pt))
		return mlf_fail(err, MLF_EX_SOFTWARE, "the training left no %s", r->p.best_pt);
	if (mlf_sha256_file(r->p.best_pt, r->model_sha, &r->model_size, err) ||
	    copy_checked(r->p.best_pt, r->p.quick_pt, r->model_sha, err))
		return -1;
	free(r->st_path);
	char *leaf = mlf_xasprintf("%s.safetensors", r->p.name);
	r->st_path = mlf_path_join(r->p.train_root, leaf);
	free(leaf);
	if (write_safetensors(r, err))
		return -1;
	char *created = mlf_now_rfc3339();
	json_t *meta = metadata(r, created);
	free(created);
	free(r->metadata_text);
	r->metadata_text = json_dumps(meta, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(meta);
	if (!r->metadata_text)
		return mlf_fail(err, MLF_EX_SOFTWARE, "could not encode the model's metadata");
	return mlf_write_file_atomic(r->p.quick_metadata, r->metadata_text, strlen(r->metadata_text), err);
}

/* ---- artifacts -------------------------------------------------------------- */

static int log_in(struct retrain *r, const char *dir, const char *leaf, const char *artifact_dir,
		  struct mlf_error *err)
{
	char *path = mlf_path_join(dir, leaf);
	int rc = mlf_tracking_log_artifact(r->t, &r->run, path, artifact_dir, err);
	free(path);
	return rc;
}

static int is_png(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && !strcmp(name + n - 4, ".png");
}

int retrain_log_artifacts(struct retrain *r, struct mlf_error *err)
{
	if (mlf_tracking_log_artifact(r->t, &r->run, r->p.quick_pt, MLF_ART_MODELS, err) ||
	    mlf_tracking_log_artifact(r->t, &r->run, r->p.quick_metadata, MLF_ART_MODELS, err) ||
	    mlf_tracking_log_artifact(r->t, &r->run, r->st_path, MLF_ART_MODELS, err) ||
	    log_in(r, r->p.train_dir, "args.yaml", MLF_ART_CONFIG, err) ||
	    log_in(r, r->p.train_dir, "results.csv", MLF_ART_PLOTS, err))
		return -1;
	DIR *d = opendir(r->p.train_dir);
	if (!d)
		return mlf_fail_errno(err, MLF_EX_IOERR, "%s", r->p.train_dir);
	struct dirent *e;
	int rc = 0;
	while (!rc && (e = readdir(d)))
		if (is_png(e->d_name))
			rc = log_in(r, r->p.train_dir, e->d_name, MLF_ART_PLOTS, err);
	closedir(d);
	return rc;
}

struct expected {
	const char *artifact;
	char *local;
};

/* Every artifact this run logged, listed back from the store, with the size
 * of its local original; the model is downloaded again and its digest compared. */
int retrain_check_artifacts(struct retrain *r, struct mlf_error *err)
{
	struct mlf_artifact_list list = { 0 };
	if (mlf_tracking_list_artifacts(r->t, &r->run, NULL, &list, err))
		return mlf_error_prefix(err, "listing the run's artifacts");
	const char *model = r->p.art_model;
	struct expected want[] = {
		{ model, mlf_xstrdup(r->p.quick_pt) },
		{ r->p.art_metadata, mlf_xstrdup(r->p.quick_metadata) },
		{ r->p.art_safetensors, mlf_xstrdup(r->st_path) },
		{ MLF_ART_ARGS, mlf_path_join(r->p.train_dir, "args.yaml") },
		{ MLF_ART_RESULTS, mlf_path_join(r->p.train_dir, "results.csv") },
		{ MLF_ART_RESULTS_PNG, mlf_path_join(r->p.train_dir, "results.png") },
		{ MLF_ART_DATASET "/data.yaml", mlf_xstrdup(mlf_json_str(r->dataset, "data_yaml", NULL)) },
		{ MLF_ART_DATASET "/corrections_applied.json",
		  mlf_xstrdup(mlf_json_str(r->dataset, "corrections_applied", NULL)) },
		{ MLF_ART_DATASET "/retraining_dataset_metadata.json",
		  mlf_xstrdup(mlf_json_str(r->dataset, "metadata", NULL)) },
	};
	size_t nwant = sizeof(want) / sizeof(want[0]);
	int rc = 0;
	for (size_t i = 0; i < nwant && !rc; i++) {
		struct stat st_local;
		const struct mlf_artifact_entry *found = NULL;
		for (size_t k = 0; k < list.n && !found; k++)
			if (!list.items[k].is_dir && !strcmp(list.items[k].path, want[i].artifact))
				found = &list.items[k];
		if (stat(want[i].local, &st_local))
			rc = mlf_fail_errno(err, MLF_EX_IOERR, "%s", want[i].local);
		else if (!found)
			rc = mlf_fail(err, MLF_EX_IOERR, "artifact %s is missing from the run after upload",
				      want[i].artifact);
		else if (found->size >= 0 && found->size != (int64_t)st_local.st_size)
			rc = mlf_fail(err, MLF_EX_IOERR, "artifact %s holds %lld bytes, but %s has %lld",
				      want[i].artifact, (long long)found->size, want[i].local,
				      (long long)st_local.st_size);
	}
	for (size_t i = 0; i < nwant; i++)
		free(want[i].local);
	mlf_artifact_list_release(&list);
	if (rc)
		return -1;

	char *dir = mlf_path_join(r->p.train_dir, ".artifact-check");
	char *copy = mlf_path_join(dir, "model.pt");
	char sha[65];
	uint64_t size = 0;
	rc = mlf_remove_tree(dir, err) || mlf_mkdir_p(dir, 0777, err) ||
	     mlf_tracking_download_artifact(r->t, &r->run, model, copy, err) ||
	     mlf_sha256_file(copy, sha, &size, err);
	if (!rc && strcmp(sha, r->model_sha))
		rc = mlf_fail(err, MLF_EX_IOERR, "artifact %s downloaded again has sha256 %s, not %s",
			      model, sha, r->model_sha);
	struct mlf_error e2 = MLF_ERROR_INIT;
	mlf_remove_tree(dir, &e2);
	free(copy);
	free(dir);
	if (rc)
		return -1;
	char *uri = mlf_xasprintf("%s/%s", r->run.artifact_uri, model);
	json_decref(r->artifact_location);
	r->artifact_location = json_pack("{s:s, s:s, s:s, s:I, s:s}", "kind", "mlflow_artifact",
					 "uri", uri, "path", model, "size", (json_int_t)size, "sha256", sha);
	free(uri);
	return 0;
}

/* ---- models/ ---------------------------------------------------------------- */

void retrain_unpublish(struct retrain *r)
{
	if (!r->published)
		return;
	unlink(r->p.model_pt);
	unlink(r->p.safetensors);
	unlink(r->p.metadata);
	r->published = 0;
}

int retrain_publish(struct retrain *r, struct mlf_error *err)
{
	if (mlf_mkdir_p(r->p.models_dir, 0777, err))
		return -1;
	r->published = 1;  /* from here a failure removes what was written */
	/* the .pt last: its presence is what says "version N exists" */
	if (mlf_write_file_atomic(r->p.metadata, r->metadata_text, strlen(r->metadata_text), err) ||
	    copy_checked(r->st_path, r->p.safetensors, r->st_sha, err) ||
	    copy_checked(r->p.quick_pt, r->p.model_pt, r->model_sha, err))
		return -1;
	if (r->o->stop && *r->o->stop)
		return mlf_fail(err, MLF_EX_INTERRUPTED, "stopped by a signal while publishing; "
				"continue with `retrain-run --resume v%ld`", r->p.n);
	/* the aliases move last, so that they never name a version whose run could still fail
	 * for long; if ending the run fails, end_failed puts them back */
	if (retrain_move_aliases(r, err))
		return mlf_error_prefix(err, "moving the registry's aliases");
	if (mlf_tracking_end_run(r->t, r->run.run_id, MLF_RUN_FINISHED, 0, err))
		return mlf_error_prefix(err, "ending run %s FINISHED", r->run.run_id);
	retrain_step(r, "finished");
	struct mlf_error e2 = MLF_ERROR_INIT;
	if (retrain_state_save(r, "FINISHED", NULL, &e2))
		fprintf(stderr, "%s: %s\n", r->o->prog, e2.msg);
	retrain_record_moves(r);
	retrain_say(r, "run %s FINISHED: %s (%llu bytes, sha256 %.16s...)", r->run.run_id, r->p.model_pt,
		    (unsigned long long)r->model_size, r->model_sha);
	return 0;
}
