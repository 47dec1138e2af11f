/*
 * HTTP client for an MLflow server (libcurl + jansson), with MLflow's retry
 * rules: connection errors, 408/429/500/502/503/504 are retried with
 * exponential backoff (factor * 2^(n-1), capped, plus jitter), honouring
 * Retry-After, a bounded number of times.  See retry.h for the decision.
 *
 * Ownership: mlf_http_open() copies the options; JSON bodies are borrowed;
 * a returned response is a new reference the caller json_decref()s.
 * Credentials are never put in messages.
 */
#ifndef MLF_HTTP_H
#define MLF_HTTP_H

#include <jansson.h>
#include <stdint.h>

#include "mlf/error.h"
#include "mlf/retry.h"

struct mlf_http_options {
	const char *base_url;      /* tracking URI, trailing '/' ignored */
	const char *token;
	const char *username;
	const char *password;
	const char *ca_path;
	int insecure_tls;
	double timeout_s;
	struct mlf_retry_policy retry;
};

struct mlf_http;

int mlf_http_open(struct mlf_http **out, const struct mlf_http_options *opts,
		  struct mlf_error *err);
void mlf_http_close(struct mlf_http *h);
const char *mlf_http_base_url(const struct mlf_http *h);

/*
 * Call an MLflow endpoint: `path` is relative to the base URL (e.g.
 * "/api/2.0/mlflow/runs/get?run_id=..."), `body` is sent as JSON for
 * POST/PATCH/DELETE.  `idempotent` 0 marks a call that must not be repeated
 * blindly after the request may have reached the server (see retry.h).
 * On success *response holds the parsed JSON object ({} for an empty body).
 * MLflow errors map to err->kind (404 -> NOT_FOUND, RESOURCE_ALREADY_EXISTS
 * -> EXISTS, 401/403 -> AUTH, retries exhausted -> UNREACHABLE).
 */
int mlf_http_call(struct mlf_http *h, const char *method, const char *path,
		  json_t *body, int idempotent, json_t **response, struct mlf_error *err);

/* Stream a local file as the body of PUT to `url` (memory flat in file size). */
int mlf_http_put_file(struct mlf_http *h, const char *url, const char *local_path,
		      struct mlf_error *err);
/* GET `url` into a local file, written atomically. */
int mlf_http_get_file(struct mlf_http *h, const char *url, const char *local_path,
		      struct mlf_error *err);

#endif
