/* mlf-serve's request parsing: the retrain body, --listen, the Authorization header,
 * an intake's base64 image. */
#include "fuzz.h"
#include "mlf/serve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_serve_retrain r;
	if (mlf_serve_parse_retrain((const char *)data, size, &r, &err) == 0) {
		if (r.epochs < 0 || r.batch_size < 0 || r.wait < -1 || r.wait > 1)
			abort();  /* what parses is in range */
		mlf_serve_retrain_release(&r);
	}
	char *text = mlf_xstrndup((const char *)data, size);
	char host[64];
	int port = 0;
	if (mlf_serve_parse_listen(text, host, &port, &err) == 0 && (port < 1 || port > 65535))
		abort();
	mlf_serve_token_ok(text, "0123456789abcdef0123");
	unsigned char *bytes = malloc(size / 4 * 3 + 4);
	if (!bytes)
		abort();
	int n = mlf_serve_base64_decode(text, strlen(text), bytes);
	if (n > (int)(size / 4 * 3 + 3))
		abort();  /* never more than the buffer the contract sizes */
	free(bytes);
	free(text);
	return 0;
}
