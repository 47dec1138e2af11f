/* What mlf-serve reads from the outside: request bodies, --listen, the token. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mlf/base.h"
#include "mlf/serve.h"

void mlf_serve_retrain_release(struct mlf_serve_retrain *r)
{
	free(r->experiment_id);
	memset(r, 0, sizeof(*r));
}

/* A whole, positive count no bigger than `max`. */
static int count(json_t *v, const char *key, long max, long *out, struct mlf_error *err)
{
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max)
		return mlf_fail(err, MLF_EX_DATAERR, "\"%s\" must be a whole number from 1 to %ld", key, max);
	*out = (long)json_integer_value(v);
	return 0;
}

int mlf_serve_parse_retrain(const char *body, size_t len, struct mlf_serve_retrain *out,
			    struct mlf_error *err)
{
	json_error_t je;
	memset(out, 0, sizeof(*out));
	out->wait = -1;
	size_t blank = 0;
	while (blank < len && isspace((unsigned char)body[blank]))
		blank++;
	if (blank == len)
		return 0;  /* no body: every setting as configured */
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!doc)
		return mlf_fail(err, MLF_EX_DATAERR, "the body is not JSON (line %d: %s)", je.line, je.text);
	const char *key;
	json_t *v;
	int rc = json_is_object(doc) ? 0 : mlf_fail(err, MLF_EX_DATAERR, "the body must be a JSON object");
	json_object_foreach(rc ? NULL : doc, key, v) {
		if (!strcmp(key, "epochs"))
			rc = count(v, key, 100000, &out->epochs, err);
		else if (!strcmp(key, "batch_size"))
			rc = count(v, key, 65536, &out->batch_size, err);
		else if (!strcmp(key, "experiment_id")) {
			/* the Python system sent it as a string; a number is the same id */
			if (json_is_string(v) && json_string_length(v) && json_string_length(v) < 64)
				out->experiment_id = mlf_xstrdup(json_string_value(v));
			else if (json_is_integer(v) && json_integer_value(v) >= 0)
				out->experiment_id = mlf_xasprintf("%lld", (long long)json_integer_value(v));
			else
				rc = mlf_fail(err, MLF_EX_DATAERR, "\"experiment_id\" must be an experiment id");
		} else if (!strcmp(key, "wait")) {
			if (json_is_boolean(v))
				out->wait = json_is_true(v);
			else
				rc = mlf_fail(err, MLF_EX_DATAERR, "\"wait\" must be true or false");
		} else {
			rc = mlf_fail(err, MLF_EX_DATAERR, "unknown field \"%s\" (known: epochs, batch_size, "
				      "experiment_id, wait)", key);
		}
		if (rc)
			break;
	}
	json_decref(doc);
	if (rc)
		mlf_serve_retrain_release(out);
	return rc;
}

int mlf_serve_parse_listen(const char *text, char host[64], int *port, struct mlf_error *err)
{
	const char *colon = text ? strrchr(text, ':') : NULL;
	char *end = NULL;
	if (!colon || colon == text || (size_t)(colon - text) >= 64)
		goto bad;
	long p = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || p < 1 || p > 65535)
		goto bad;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	int dots = 0;
	for (const char *c = host; *c; c++) {
		if (*c == '.')
			dots++;
		else if (!isdigit((unsigned char)*c))
			goto bad;
	}
	if (dots != 3)
		goto bad;
	*port = (int)p;
	return 0;
bad:
	return mlf_fail(err, MLF_EX_USAGE, "--listen takes HOST:PORT with an IPv4 address (or "
			"localhost) and a port from 1 to 65535, not '%s'", text ? text : "");
}

int mlf_serve_token_ok(const char *header, const char *token)
{
	static const char prefix[] = "Bearer ";
	if (!header || !token || strncmp(header, prefix, sizeof(prefix) - 1))
		return 0;
	const char *given = header + sizeof(prefix) - 1;
	size_t n = strlen(token);
	/* the lengths may differ in time; the bytes of a same-length guess may not */
	return strlen(given) == n && CRYPTO_memcmp(given, token, n) == 0;
}

int mlf_serve_base64_decode(const char *in, size_t n, unsigned char *out)
{
	if (n > (size_t)1 << 30)
		return -1;
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	int len = 0, tail = 0;
	if (!ctx)
		return -1;
	EVP_DecodeInit(ctx);
	int rc = EVP_DecodeUpdate(ctx, out, &len, (const unsigned char *)in, (int)n) < 0 ||
		 EVP_DecodeFinal(ctx, out + len, &tail) < 0 ? -1 : len + tail;
	EVP_ENCODE_CTX_free(ctx);
	return rc;
}
