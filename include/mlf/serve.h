/*
 * mlf/serve.h: mlf-serve, the HTTP trigger an application calls (mlf-serve(1)).
 *
 * A retraining is a job: the nightly pipeline run by executing the programs
 * (mlf-validate, retrain-prep, retrain-run, mlf-verify) one after the other,
 * each one's JSON document handed to the next, exactly as the cron line does.
 * One job runs at a time; others wait in a bounded queue.  Each job is a JSON
 * record under runs/serve/jobs/ (written atomically at every change), so a
 * restarted service keeps the history and marks the jobs it lost.
 *
 * Routes: POST /api/model/retrain (the Python system's contract), GET
 * /api/jobs, GET and DELETE /api/jobs/ID, GET /api/models/latest|N
 * (model-locate's document), GET /api/health (mlf-validate's report).  Every
 * route but GET /api/health needs the bearer token.
 *
 * Ownership: options and everything they point to are borrowed for the
 * call; parsed requests own their strings (mlf_serve_retrain_release).
 */
#ifndef MLF_SERVE_H
#define MLF_SERVE_H

#include <signal.h>
#include <stddef.h>

#include "mlf/base.h"
#include "mlf/config.h"

struct mlf_serve_options {
	const struct mlf_config *cfg;
	const char *listen;          /* "HOST:PORT"; default 127.0.0.1:8080 */
	const char *token;           /* the bearer token every route but health needs */
	const char *bin_dir;         /* where the programs are: mlf-serve's own folder */
	char *const *pass_args;      /* -C, -c, -s arguments handed to every program */
	int npass_args;
	int queue_max;               /* jobs waiting behind the running one; then 429 */
	int require_experiment;      /* POST /api/model/retrain must name the experiment */
	int quiet;
	volatile sig_atomic_t *stop; /* set by SIGTERM/SIGINT: stop the job (KILLED), exit */
};

/* Serve until *stop; returns 0, or -1 with err (78 bad --listen, 69/71 cannot bind). */
int mlf_serve_run(const struct mlf_serve_options *o, struct mlf_error *err);

/* ---- request parsing (outside input: fuzzed) ----------------------------- */

/*
 * POST /api/model/retrain's body: {"epochs": N, "batch_size": N,
 * "experiment_id": "ID", "wait": bool}, every field optional, unknown fields
 * refused; an empty body is {}.  epochs and batch_size 0 mean "as configured".
 */
struct mlf_serve_retrain {
	long epochs;
	long batch_size;
	char *experiment_id;   /* NULL when not given */
	int wait;              /* -1 not given, else 0/1 */
};

/* 0, or -1 with err (status 65, the message naming the field). */
int mlf_serve_parse_retrain(const char *body, size_t len, struct mlf_serve_retrain *out,
			    struct mlf_error *err);
void mlf_serve_retrain_release(struct mlf_serve_retrain *r);

/* "HOST:PORT" (an IPv4 address or "localhost"; PORT 1-65535) into host and port. */
int mlf_serve_parse_listen(const char *text, char host[64], int *port, struct mlf_error *err);

/* Base64 (line breaks allowed) into `out`, which holds n / 4 * 3 + 3 bytes: the length,
 * or -1 when it is not base64. */
int mlf_serve_base64_decode(const char *in, size_t n, unsigned char *out);

/* Constant-time: does the Authorization header carry "Bearer <token>"? */
int mlf_serve_token_ok(const char *header, const char *token);

#endif
