/* JPEG and PNG decoding (the format from the magic bytes), and the header-only size probe. */
#include "fuzz.h"
#include "mlf/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mlf_error err = MLF_ERROR_INIT;
	const char *path = fuzz_file("in.img", data, size);
	unsigned char *rgb = NULL;
	int w, h, orientation;
	struct mlf_image_info info;
	mlf_image_probe(path, &info, &err);
	mlf_image_header_size(path, &w, &h, &orientation, &err);
	if (mlf_image_load_rgb(path, &rgb, &w, &h, &err) == 0)
		free(rgb);
	return 0;
}
