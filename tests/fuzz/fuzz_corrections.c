/*
 * The four correction formats, as the corrections folder holds them: the
 * first byte says whether the rest is a JSON file (native, COCO or Label
 * Studio, told apart by content) or a YOLO label file beside an image.
 */
#include "fuzz.h"
#include "mlf/corrections.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *names[] = { "cat", "dog", "person" };
	static const struct mlf_class_names classes = { names, 3 };
	static int have_image;
	struct mlf_error err = MLF_ERROR_INIT;
	if (!size)
		return 0;
	if (!have_image) {
		char *png;
		size_t len;
		if (mlf_read_file(SOURCE_DIR "/tests/fixtures/data/exif8.png", &png, &len, &err))
			abort();
		fuzz_file("corr/x.png", (const uint8_t *)png, len);
		free(png);
		have_image = 1;
	}
	const char *path = fuzz_file(data[0] & 1 ? "corr/x.txt" : "corr/x.json", data + 1, size - 1);
	char *dir = mlf_xstrndup(path, strrchr(path, '/') - path);
	struct mlf_correction_set set = { 0 };
	struct mlf_problems problems = MLF_PROBLEMS_INIT;
	mlf_corrections_load(dir, &classes, &set, &problems, &err);
	mlf_correction_set_release(&set);
	mlf_problems_release(&problems);
	unlink(path);
	free(dir);
	return 0;
}
