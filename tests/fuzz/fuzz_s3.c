/*
 * What mlf reads when it talks to S3 (lib/tracking/s3_parse.c): a
 * ListObjectsV2 page, an <Error>, a new multipart upload's id, and the AWS
 * shared credentials and config files.  The first byte picks the reader,
 * the rest is the input.
 */
#include "fuzz.h"
#include "mlf/tracking.h"
#include "tracking/tracking_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	struct mlf_error err = MLF_ERROR_INIT;
	switch (data[0] % 4) {
	case 0: {
		struct mlf_s3_listing l = { 0 };
		/* twice: a second page appends to the first */
		if (!mlf_s3_parse_listing(in, n, 1, &l, &err))
			mlf_s3_parse_listing(in, n, 0, &l, &err);
		for (size_t i = 0; i < l.n; i++)
			if (!l.items[i].key || l.items[i].size < 0)
				abort();
		mlf_s3_listing_release(&l);
		break;
	}
	case 1: {
		char *code, *msg;
		mlf_s3_parse_error(in, n, &code, &msg);
		free(code);
		free(msg);
		break;
	}
	case 2:
		free(mlf_s3_parse_upload_id(in, n));
		break;
	default: {
		static const char *const sections[] = { "default", "profile mlops", "mlops" };
		static const char *const keys[] = { "aws_access_key_id", "aws_secret_access_key", "region" };
		for (int s = 0; s < 3; s++)
			for (int k = 0; k < 3; k++) {
				char *v = NULL;
				if (mlf_aws_ini_get(in, n, sections[s], keys[k], &v) == 1 && !v)
					abort();
				free(v);
			}
		break;
	}
	}
	return 0;
}
