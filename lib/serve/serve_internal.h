/*
 * What the files of lib/serve share.
 *
 *   serve_request.c  parsing what comes from outside (fuzzed)
 *   serve_jobs.c     job records on disk, the queue, the worker that runs the programs
 *   serve_intake.c   corrections intake and status (the prep library's checks)
 *   serve_http.c     the HTTP side (libmicrohttpd): routes, token, limits, answers
 *
 * Ownership: struct server owns everything in it; job records (JSON objects)
 * belong to server.jobs and are only touched with server.mu held.  A record
 * handed out by serve_job_copy is the caller's.
 */
#ifndef MLF_SERVE_INTERNAL_H
#define MLF_SERVE_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <sys/types.h>

struct MHD_Daemon;

#include "mlf/serve.h"

#define SERVE_JOBS_KEPT 200       /* records kept in memory (and listed); older stay on disk */
#define SERVE_LOG_TAIL 16384      /* bytes of the programs' stderr kept in a record */
#define SERVE_HEALTH_CACHE_S 10

struct server {
	const struct mlf_serve_options *o;
	char *workspace;
	char *jobs_dir;               /* runs/serve/jobs */
	int lock_fd;                  /* runs/serve/serve.lock, held while serving */
	pthread_mutex_t mu;
	pthread_cond_t changed;       /* a job changed state, or the service is stopping */
	json_t *jobs;                 /* records, oldest first */
	pid_t child;                  /* the program the running job is in; 0 when none */
	int cancel_running;           /* DELETE of the running job: stop it, run no next step */
	int stopping;
	pthread_t worker;
	struct MHD_Daemon *daemon;
	/* the last health report, for SERVE_HEALTH_CACHE_S */
	pthread_mutex_t health_mu;    /* one refresh at a time; the others wait for it */
	json_t *health;
	int health_status;
	double health_at;
};

/* serve_jobs.c */
int serve_jobs_open(struct server *s, struct mlf_error *err);
/* A new queued job for `call` (its request, as given); *id (new) names it.  429 when the
 * queue is full: -1 with err->status 75. */
int serve_job_submit(struct server *s, const struct mlf_serve_retrain *call, char **id,
		     struct mlf_error *err);
/* A copy of job `id`'s record, NULL when unknown; with `wait`, only once it has ended
 * (or the service stops). */
json_t *serve_job_copy(struct server *s, const char *id, int wait);
/* The records, newest first (a new array). */
json_t *serve_jobs_list(struct server *s);
/* Stop job `id`: a queued one ends killed at once, a running one gets SIGTERM (its run
 * ends KILLED, resumable).  0, or -1: unknown (66) or already ended (409, as status 1). */
int serve_job_cancel(struct server *s, const char *id, struct mlf_error *err);
int serve_worker_start(struct server *s, struct mlf_error *err);
/* Ask the running job to stop, and wait for the worker to finish. */
void serve_worker_stop(struct server *s);
/* Run one program (by name, from the bin folder) with the shared arguments and `extra`;
 * its stdout into *out (new, may be NULL), its exit status returned (-1: could not run).
 * `job`: it is the running job's program, which DELETE and SIGTERM stop. */
int serve_run_program(struct server *s, const char *name, const char *const *extra,
		      const char *stdin_text, char **out, struct mlf_buf *log, int job);
int serve_job_terminal(const char *state);

/* serve_intake.c: corrections; each returns the HTTP status, *answer the body (new) */
unsigned serve_intake(struct server *s, const char *name, const char *image, size_t image_len,
		      const char *correction, size_t correction_len, json_t **answer);
unsigned serve_intake_json(struct server *s, const char *body, size_t len, json_t **answer);
unsigned serve_corrections_status(struct server *s, json_t **answer);
/* Remove what an intake cut short left (hidden staging folders), at start. */
void serve_intake_clean(struct server *s);

/* serve_http.c */
int serve_http_start(struct server *s, struct mlf_error *err);
void serve_http_stop(struct server *s);

#endif
