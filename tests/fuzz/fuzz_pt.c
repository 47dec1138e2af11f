/* The .pt reader: a zip holding a pickle (the subset torch.save writes) and tensor records. */
#include "fuzz.h"
#include "mlf/ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mlf_ckpt c;
	struct mlf_error err = MLF_ERROR_INIT;
	mlf_ckpt_init(&c);
	mlf_ckpt_read_pt(fuzz_file("in.pt", data, size), &c, &err);
	mlf_ckpt_release(&c);
	return 0;
}
