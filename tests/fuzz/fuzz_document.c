/* The JSON documents the programs pipe to each other, as mlf-verify reads one from stdin. */
#include "fuzz.h"
#include "mlf/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mlf_buf text = MLF_BUF_INIT;
	struct mlf_error err = MLF_ERROR_INIT;
	json_t *doc = NULL;
	FILE *in = fmemopen((void *)data, size ? size : 1, "rb");
	if (!in)
		return 0;
	if (!size)
		fgetc(in);  /* an empty stream */
	mlf_verify_read_input(in, &text, &doc, &err);
	fclose(in);
	json_decref(doc);
	mlf_buf_release(&text);
	return 0;
}
