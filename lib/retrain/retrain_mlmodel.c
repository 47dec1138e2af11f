/*
 * The retrained model as an MLflow Model (MLflow 3): a LoggedModel of the
 * experiment, linked to the run as its output, whose folder holds
 *
 *   MLmodel              python_function flavor: loader_module mlf_yolo in code/,
 *                        data data/retrained_vN.pt, the environment files below
 *   code/mlf_yolo.py     lib/retrain/pyfunc_loader.py, compiled into retrain-run
 *   data/retrained_vN.pt the weights (Ultralytics' format)
 *   requirements.txt, python_env.yaml, conda.yaml   the pinned Python packages
 *
 * so that mlflow.pyfunc.load_model("models:/NAME@champion") and `mlflow
 * models serve` load it wherever Ultralytics is installed.  Registering
 * then points the version at "models:/<model_id>".  The model id is kept in
 * mlf_run.json as soon as it exists, so a resumed run finishes that model
 * instead of making another.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlf/base.h"
#include "retrain_internal.h"

extern const char mlf_pyfunc_loader[];  /* lib/retrain/pyfunc_loader.py, made by the Makefile */

/* What the model's environment pins: the MLflow the record follows, and the
 * Ultralytics whose checkpoint format the weights are in (both tested here). */
#define PYFUNC_PYTHON "3.11.7"
#define PYFUNC_MLFLOW "mlflow==3.17.2"
#define PYFUNC_ULTRALYTICS "ultralytics==8.4.190"
#define PYFUNC_MODULE "mlf_yolo"

/* "2026-12-07 05:50:00.123456", as MLflow writes utc_time_created (naive UTC). */
static char *utc_now(void)
{
	struct timespec ts;
	struct tm tm;
	char date[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
	return mlf_xasprintf("%s.%06ld", date, ts.tv_nsec / 1000);
}

static int write_text(const char *dir, const char *leaf, const char *text, struct mlf_error *err)
{
	char *path = mlf_path_join(dir, leaf);
	int rc = mlf_write_file_atomic(path, text, strlen(text), err);
	free(path);
	return rc;
}

static int write_yaml(const char *dir, const char *leaf, json_t *doc, struct mlf_error *err)
{
	struct mlf_buf b = MLF_BUF_INIT;
	mlf_json_to_yaml(doc, &b);
	json_decref(doc);
	int rc = write_text(dir, leaf, b.data, err);
	mlf_buf_release(&b);
	return rc;
}

/* The model's folder, written fresh under the training folder. */
static int write_folder(struct retrain *r, const struct mlf_logged_model *m, const char *dir,
			struct mlf_error *err)
{
	char *data_rel = mlf_xasprintf("data/%s.pt", r->p.name);
	char *code = mlf_path_join(dir, "code"), *data = mlf_path_join(dir, "data");
	char *weights = mlf_path_join(dir, data_rel), *created = utc_now(), sha[65];
	char version[32];
	snprintf(version, sizeof(version), "v%ld", r->p.n);
	json_t *mlmodel = json_pack(
		"{s:s, s:{s:{s:s, s:s, s:{s:s, s:s}, s:s, s:s}}, s:{s:{s:s, s:s, s:s, s:O, s:s}},"
		" s:s, s:s, s:I, s:s, s:s, s:s}",
		"artifact_path", m->artifact_uri,
		"flavors", "python_function", "code", "code", "data", data_rel, "env", "conda", "conda.yaml",
		"virtualenv", "python_env.yaml", "loader_module", PYFUNC_MODULE, "python_version", PYFUNC_PYTHON,
		"metadata", "mlf", "version", version, "sha256", r->model_sha, "model_type", r->model_type,
		"classes", r->classes ? r->classes : json_null(), "tool", "retrain-run " MLF_VERSION,
		"mlflow_version", PYFUNC_MLFLOW + strlen("mlflow=="), "model_id", m->model_id,
		"model_size_bytes", (json_int_t)r->model_size, "model_uuid", m->model_id,
		"run_id", r->run.run_id, "utc_time_created", created);
	json_t *venv = json_pack("{s:s, s:[s, s, s], s:[s]}", "python", PYFUNC_PYTHON, "build_dependencies",
				 "pip", "setuptools", "wheel", "dependencies", "-r requirements.txt");
	json_t *conda = json_pack("{s:[s], s:[s, s, {s:[s, s]}], s:s}", "channels", "conda-forge",
				  "dependencies", "python=" PYFUNC_PYTHON, "pip", "pip", PYFUNC_MLFLOW,
				  PYFUNC_ULTRALYTICS, "name", "mlflow-env");
	int rc = !mlmodel || !venv || !conda
		 ? mlf_fail(err, MLF_EX_SOFTWARE, "could not build the MLmodel of %s", r->p.name)
		 : mlf_remove_tree(dir, err) || mlf_mkdir_p(code, 0777, err) || mlf_mkdir_p(data, 0777, err) ||
			   mlf_copy_file_atomic(r->p.quick_pt, weights, sha, err) ||
			   write_text(code, PYFUNC_MODULE ".py", mlf_pyfunc_loader, err) ||
			   write_text(dir, "requirements.txt", PYFUNC_MLFLOW "\n" PYFUNC_ULTRALYTICS, err) ||
			   write_yaml(dir, "python_env.yaml", json_incref(venv), err) ||
			   write_yaml(dir, "conda.yaml", json_incref(conda), err) ||
			   write_yaml(dir, "MLmodel", json_incref(mlmodel), err) ? -1 : 0;
	if (!rc && strcmp(sha, r->model_sha))
		rc = mlf_fail(err, MLF_EX_IOERR, "copying %s into the MLflow Model: sha256 %s, not %s; "
			      "check the disk", r->p.quick_pt, sha, r->model_sha);
	json_decref(mlmodel);
	json_decref(venv);
	json_decref(conda);
	free(created);
	free(weights);
	free(data);
	free(code);
	free(data_rel);
	return rc;
}

/* A new logged model (params copied from the run, as MLflow's log_model does), or
 * the one an earlier attempt of this run made. */
static int open_model(struct retrain *r, struct mlf_logged_model *m, struct mlf_error *err)
{
	const char *id = mlf_json_str(json_object_get(r->state, "logged_model"), "model_id", NULL);
	if (id)
		return mlf_tracking_get_logged_model(r->t, id, m, err);
	struct mlf_run run = { 0 };
	struct mlf_kvs tags = MLF_KVS_INIT;
	if (mlf_tracking_get_run(r->t, r->run.run_id, &run, err))
		return -1;
	static const char *const copied[] = { "mlflow.user", "mlflow.source.name", "mlflow.source.type",
					      "mlflow.source.git.commit" };
	for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++)
		if (mlf_kvs_get(&run.tags, copied[i]))
			mlf_kvs_add(&tags, copied[i], mlf_kvs_get(&run.tags, copied[i]));
	struct mlf_logged_model_request req = {
		.experiment_id = r->experiment_id, .name = r->p.name, .model_type = r->model_type,
		.source_run_id = r->run.run_id, .params = &run.params, .tags = &tags,
	};
	int rc = mlf_tracking_create_logged_model(r->t, &req, m, err);
	mlf_kvs_release(&tags);
	mlf_run_release(&run);
	if (rc)
		return -1;
	json_object_set_new(r->state, "logged_model", json_pack("{s:s, s:s}", "model_id", m->model_id,
								"artifact_uri", m->artifact_uri));
	return retrain_state_save(r, "RUNNING", NULL, err);
}

static int upload(struct retrain *r, const struct mlf_logged_model *m, const char *dir,
		  struct mlf_error *err)
{
	static const char *const entries[] = { "MLmodel", "code", "data", "requirements.txt",
					       "python_env.yaml", "conda.yaml" };
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		char *path = mlf_path_join(dir, entries[i]);
		int rc = mlf_tracking_log_model_artifact(r->t, m, path, NULL, err);
		free(path);
		if (rc)
			return mlf_error_prefix(err, "uploading the MLflow Model %s", m->model_id);
	}
	return 0;
}

/* The upload listed back: MLmodel there, and the weights at their size. */
static int check_upload(struct retrain *r, const struct mlf_logged_model *m, struct mlf_error *err)
{
	struct mlf_artifact_list list = { 0 };
	char *weights = mlf_xasprintf("data/%s.pt", r->p.name);
	int mlmodel = 0, rc = mlf_tracking_list_model_artifacts(r->t, m, &list, err);
	int64_t size = -2;
	for (size_t i = 0; !rc && i < list.n; i++) {
		if (!strcmp(list.items[i].path, "MLmodel"))
			mlmodel = 1;
		if (!strcmp(list.items[i].path, weights))
			size = list.items[i].size;
	}
	if (!rc && (!mlmodel || (size != -1 && size != (int64_t)r->model_size)))
		rc = mlf_fail(err, MLF_EX_IOERR, "the MLflow Model %s at %s lacks %s after upload",
			      m->model_id, m->artifact_uri, !mlmodel ? "MLmodel" : weights);
	mlf_artifact_list_release(&list);
	free(weights);
	return rc;
}

int retrain_log_model(struct retrain *r, struct mlf_logged_model *m, struct mlf_error *err)
{
	char *dir = mlf_path_join(r->p.train_dir, "mlflow_model");
	int rc = open_model(r, m, err);
	if (!rc)
		rc = write_folder(r, m, dir, err) || upload(r, m, dir, err) || check_upload(r, m, err) ||
		     mlf_tracking_finalize_logged_model(r->t, m->model_id, MLF_LOGGED_MODEL_READY, err) ||
		     mlf_tracking_log_model_output(r->t, r->run.run_id, m->model_id, 0, err) ? -1 : 0;
	/* the store has its copy now; the training folder keeps best.pt */
	struct mlf_error e2 = MLF_ERROR_INIT;
	mlf_remove_tree(dir, &e2);
	free(dir);
	return rc;
}
