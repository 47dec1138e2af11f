/* A run as an MLflow server's REST answer describes it (runs/get, runs/search). */
#include "fuzz.h"
#include "mlf/tracking.h"
#include "tracking/rest/rest_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *doc = json_loadb((const char *)data, size, 0, &je);
	if (!doc)
		return 0;
	struct mlf_run run;
	struct mlf_error err = MLF_ERROR_INIT;
	const json_t *r = json_object_get(doc, "run");
	mlf_rest_read_run(r ? r : doc, &run, &err);
	mlf_run_release(&run);
	json_decref(doc);
	return 0;
}
