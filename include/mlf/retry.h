/*
 * Whether and when to retry an HTTP request to a tracking server: a pure
 * function, so the rules can be unit-tested without a network.
 *
 * Retried: transport failures (could not connect, connection reset, timeout)
 * and statuses 408, 429, 500, 502, 503, 504.  A request that is not
 * idempotent (creating a run) is retried only when it certainly never
 * reached the server (connection refused, DNS failure) or the server said
 * so (429, 503 answer before any work is done); otherwise the caller must
 * first find out whether the first attempt took effect.
 */
#ifndef MLF_RETRY_H
#define MLF_RETRY_H

struct mlf_retry_policy {
	int max_retries;        /* retries after the first attempt, 0..10 */
	double backoff_factor;  /* seconds */
	double backoff_max;     /* cap on one delay, seconds */
	double backoff_jitter;  /* uniform extra seconds, 0..jitter */
	int respect_retry_after;
};

#define MLF_RETRY_POLICY_DEFAULT { 7, 2.0, 120.0, 1.0, 1 }

enum mlf_transport {
	MLF_TRANSPORT_OK = 0,        /* a response arrived: look at the status */
	MLF_TRANSPORT_NOT_SENT,      /* connect/resolve failed: the server saw nothing */
	MLF_TRANSPORT_LOST,          /* reset or timeout after sending: outcome unknown */
	MLF_TRANSPORT_FATAL,         /* TLS verification, bad URL, ...: retrying cannot help */
};

enum mlf_retry_verdict {
	MLF_RETRY_NO = 0,        /* final: success or a non-retryable failure */
	MLF_RETRY_YES,           /* sleep *delay_s, then send again */
	MLF_RETRY_CHECK_FIRST,   /* non-idempotent and maybe applied: reconcile before resending */
};

/*
 * `attempt` counts retries already made (0 after the first try).
 * `retry_after` is the header's value or NULL; `jitter_u` a uniform sample
 * in [0,1) (passed in so tests are deterministic).
 */
enum mlf_retry_verdict mlf_retry_decide(const struct mlf_retry_policy *p, int attempt,
					enum mlf_transport transport, long http_status,
					int idempotent, const char *retry_after,
					double jitter_u, double *delay_s);

/* Seconds from a Retry-After value (delta-seconds or HTTP-date); -1 if unparsable. */
double mlf_retry_after_seconds(const char *value, long now_epoch_s);

#endif
