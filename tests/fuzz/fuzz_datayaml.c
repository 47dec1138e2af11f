/* data.yaml, as Ultralytics describes a dataset. */
#include "fuzz.h"
#include "mlf/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mlf_data_yaml d;
	struct mlf_error err = MLF_ERROR_INIT;
	memset(&d, 0, sizeof(d));
	if (mlf_data_yaml_load(fuzz_file("data.yaml", data, size), &d, &err) == 0)
		mlf_data_yaml_release(&d);
	return 0;
}
