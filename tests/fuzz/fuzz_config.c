/* mlf.yaml: every key, its type and its value. */
#include "fuzz.h"
#include "mlf/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	const char *path = fuzz_file("mlf.yaml", data, size);
	mlf_config_load(&cfg, fuzz_dir(), path, &err);
	mlf_config_release(&cfg);
	return 0;
}
