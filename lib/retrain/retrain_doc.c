/* The run document retrain-run prints (retrain-run(1), "RUN DOCUMENT"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "retrain_internal.h"

static json_t *location(const char *kind, const char *path, const char *sha, uint64_t size)
{
	return json_pack("{s:s, s:s, s:I, s:s}", "kind", kind, "path", path, "size", (json_int_t)size,
			 "sha256", sha);
}

static json_t *header(struct retrain *r, int success, const char *status)
{
	char version[32];
	snprintf(version, sizeof(version), "v%ld", r->p.n);
	json_t *doc = json_pack("{s:s, s:i, s:s, s:b, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s}",
			 "kind", "mlf.run", "schema_version", 1, "producer", "retrain-run",
			 "success", success, "status", status,
			 "tracking_uri", r->t ? mlf_tracking_uri(r->t) : NULL,
			 "experiment_id", r->experiment_id, "run_id", r->run.run_id,
			 "run_name", r->run.run_id ? r->p.name : NULL, "artifact_uri", r->run.artifact_uri,
			 "new_version", version);
	if (json_array_size(r->reconciled))  /* closed at the start: see retrain_open_experiment */
		json_object_set(doc, "reconciled", r->reconciled);
	return doc;
}

json_t *retrain_doc_success(struct retrain *r)
{
	json_t *doc = header(r, 1, "FINISHED");
	json_t *locations = json_array();
	json_array_append_new(locations, location("models", r->p.model_pt, r->model_sha, r->model_size));
	json_array_append_new(locations, location("quick_access", r->p.quick_pt, r->model_sha, r->model_size));
	json_array_append_new(locations, location("training", r->p.best_pt, r->model_sha, r->model_size));
	if (r->artifact_location)
		json_array_append(locations, r->artifact_location);
	json_object_set_new(doc, "dataset", json_pack("{s:O, s:O, s:O}", "name",
						      json_object_get(r->dataset, "name"), "digest",
						      json_object_get(r->dataset, "digest"), "path",
						      json_object_get(r->dataset, "path")));
	json_object_set_new(doc, "base_model", json_pack("{s:s, s:s}", "path", r->base_model,
							 "sha256", r->base_sha));
	json_object_set(doc, "metrics", r->post);
	json_object_set_new(doc, "pre_metrics", r->pre ? json_incref(r->pre) : json_null());
	json_object_set_new(doc, "model", json_pack("{s:s, s:I, s:s, s:s, s:s}", "path", r->p.model_pt,
						    "size", (json_int_t)r->model_size, "sha256", r->model_sha,
						    "metadata", r->p.metadata, "safetensors", r->p.safetensors));
	json_object_set_new(doc, "locations", locations);
	json_object_set_new(doc, "registry", r->registry ? json_incref(r->registry) : json_null());
	json_object_set_new(doc, "training", json_pack("{s:i, s:i, s:i, s:s, s:s}",
						       "epochs", r->train.args.epochs,
						       "epochs_done", r->result.epochs_done,
						       "best_epoch", r->result.best_epoch,
						       "device", r->device_name, "folder", r->p.train_dir));
	json_object_set_new(doc, "tracking_store", json_pack("{s:f, s:I}", "away_s", r->store_away_s,
							     "records_waited", (json_int_t)r->records_waited));
	if (r->records_waited)
		json_object_set_new(doc, "warnings", json_pack("[s]", "some epochs' metrics were logged late: "
							      "the tracking store was unavailable for a while"));
	return doc;
}

json_t *retrain_doc_failure(struct retrain *r, const char *status, const struct mlf_error *err)
{
	json_t *doc = header(r, 0, status);
	char *resume = NULL;
	if (mlf_is_file(r->p.state) && r->run.run_id)
		resume = mlf_xasprintf("retrain-run --resume v%ld", r->p.n);
	json_object_set_new(doc, "step", json_string(r->step));
	json_object_set_new(doc, "error", json_string(err->msg));
	json_object_set_new(doc, "exit_status", json_integer(err->status ? err->status : MLF_EX_SOFTWARE));
	json_object_set_new(doc, "resume", mlf_json_string_or_null(resume));
	json_object_set_new(doc, "state", mlf_json_string_or_null(mlf_is_file(r->p.state) ? r->p.state : NULL));
	free(resume);
	return doc;
}
