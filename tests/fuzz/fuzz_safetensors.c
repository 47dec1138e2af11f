/* safetensors: the JSON header and the tensors it places in the buffer. */
#include "fuzz.h"
#include "mlf/ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mlf_ckpt c;
	struct mlf_error err = MLF_ERROR_INIT;
	mlf_ckpt_init(&c);
	mlf_ckpt_safetensors_decode(data, size, "fuzz input", &c, &err);
	mlf_ckpt_release(&c);
	return 0;
}
