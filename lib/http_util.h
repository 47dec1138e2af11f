/*
 * The part of the HTTP client that only the REST backend needs (internal to
 * lib/): a call for requests that must not be applied twice.
 */
#ifndef MLF_HTTP_UTIL_H
#define MLF_HTTP_UTIL_H

#include <jansson.h>
#include <stdint.h>

#include "mlf/error.h"
#include "mlf/http.h"

/*
 * Asked when a non-idempotent request may or may not have taken effect
 * (the connection broke after sending, or a 5xx other than 503): return 1
 * with *response filled when the first attempt did take effect, 0 when it
 * did not (the request is then sent again), -1 with err filled on failure.
 */
typedef int (*mlf_http_reconcile_fn)(void *ctx, json_t **response, struct mlf_error *err);

/*
 * mlf_http_call() for a non-idempotent POST, with `reconcile` deciding
 * whether to resend after an unclear failure.  All attempts, resends and
 * reconcile's own calls aside, count against the retry policy.
 */
int mlf_http_call_reconciled(struct mlf_http *h, const char *method, const char *path,
			     json_t *body, mlf_http_reconcile_fn reconcile, void *ctx,
			     json_t **response, struct mlf_error *err);

#endif
