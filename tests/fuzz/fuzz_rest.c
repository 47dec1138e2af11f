/*
 * What an MLflow server's REST answers hold, as the REST backend reads them:
 * a run (runs/get, runs/search), an experiment (experiments/get and
 * get-by-name), a model version (model-versions/get, create, get-by-alias),
 * a metric history (metrics/get-history).  The answer's top-level key picks
 * the reader, as the endpoint does.
 */
#include "fuzz.h"
#include "mlf/tracking.h"
#include "tracking/rest/rest_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *doc = json_loadb((const char *)data, size, 0, &je);
	if (!doc)
		return 0;
	struct mlf_error err = MLF_ERROR_INIT;
	const json_t *r = json_object_get(doc, "run");
	if (r || !json_object_size(doc)) {
		struct mlf_run run;
		mlf_rest_read_run(r ? r : doc, &run, &err);
		mlf_run_release(&run);
	}
	const json_t *e = json_object_get(doc, "experiment");
	if (e) {
		struct mlf_experiment exp;
		mlf_rest_read_experiment(e, &exp);
		mlf_experiment_release(&exp);
	}
	if (json_object_get(doc, "model_version")) {
		struct mlf_model_version mv;
		mlf_rest_read_model_version(doc, &mv, &err);
		mlf_model_version_release(&mv);
	}
	const json_t *m = json_object_get(doc, "metrics");
	if (m) {
		struct mlf_metric *metrics = NULL;
		size_t n = 0;
		if (!mlf_rest_read_metrics(m, &metrics, &n, "r1", &err))
			mlf_metrics_release(metrics, n);
	}
	json_decref(doc);
	return 0;
}
