/* Tracking and artifact URIs: two strings (split at the first NUL or newline). */
#include "fuzz.h"
#include "mlf/tracking.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *a = mlf_xstrndup((const char *)data, size), *b = "";
	size_t cut = strcspn(a, "\n");
	if (a[cut]) {
		a[cut] = 0;
		b = a + cut + 1;
	}
	struct mlf_error err = MLF_ERROR_INIT;
	char *out = NULL;
	mlf_uri_kind(a);
	if (mlf_uri_local_path(a, "/base", &out, &err) == 0)
		free(out);
	out = NULL;
	if (mlf_uri_sqlite_path(a, "/base", &out, &err) == 0)
		free(out);
	out = NULL;
	if (mlf_uri_decode(a, &out, &err) == 0)
		free(out);
	out = NULL;
	if (mlf_uri_artifact_proxy_url(a, b, &out, &err) == 0)
		free(out);
	free(mlf_uri_append(a, b));
	free(mlf_uri_encode(a, "/"));
	mlf_uri_same_location(a, b, "/base");
	free(a);
	return 0;
}
