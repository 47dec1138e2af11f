/*
 * Jobs: a record each under runs/serve/jobs/<id>.json, rewritten atomically
 * at every change of state; a queue served by one worker thread, which runs
 * the nightly pipeline program by program, as the cron line does:
 *
 *   mlf-validate -q && retrain-prep | retrain-run | mlf-verify
 *
 * A job's record: {"kind": "mlf.job", "id", "state" (queued, running,
 * succeeded, skipped, failed, killed, lost), "step" (the program running or
 * last run), "request", "created_at", "started_at", "ended_at", "exits"
 * {program: status}, "documents" {validation, dataset, run, verification},
 * "run_id", "error", "log" (the tail of the programs' stderr)}.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "serve_internal.h"

int serve_job_terminal(const char *state)
{
	return state && strcmp(state, "queued") && strcmp(state, "running");
}

static const char *state_of(const json_t *job)
{
	return mlf_json_str(job, "state", "");
}

/* With s->mu held: the record on disk follows the one in memory. */
static void save(struct server *s, json_t *job)
{
	char *leaf = mlf_xasprintf("%s.json", mlf_json_str(job, "id", "unknown"));
	char *path = mlf_path_join(s->jobs_dir, leaf);
	char *text = json_dumps(job, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	struct mlf_error err = MLF_ERROR_INIT;
	if (!text || mlf_write_file_atomic(path, text, strlen(text), &err))
		fprintf(stderr, "mlf-serve: cannot record job %s: %s\n", mlf_json_str(job, "id", "?"),
			err.msg[0] ? err.msg : "cannot encode it");
	free(text);
	free(path);
	free(leaf);
}

static json_t *find(struct server *s, const char *id)
{
	size_t i;
	json_t *job;
	json_array_foreach(s->jobs, i, job)
		if (!strcmp(mlf_json_str(job, "id", ""), id))
			return job;
	return NULL;
}

static void set_state(struct server *s, json_t *job, const char *state, const char *error)
{
	json_object_set_new(job, "state", json_string(state));
	if (serve_job_terminal(state)) {
		char *now = mlf_now_rfc3339();
		json_object_set_new(job, "ended_at", json_string(now));
		free(now);
	}
	if (error)
		json_object_set_new(job, "error", json_string(error));
	save(s, job);
	pthread_cond_broadcast(&s->changed);
}

/* Records older than the newest SERVE_JOBS_KEPT leave memory (they stay on disk). */
static void trim(struct server *s)
{
	while (json_array_size(s->jobs) > SERVE_JOBS_KEPT &&
	       serve_job_terminal(state_of(json_array_get(s->jobs, 0))))
		json_array_remove(s->jobs, 0);
}

static int by_created(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t p = json_integer_value(json_object_get(x, "created_ms"));
	json_int_t q = json_integer_value(json_object_get(y, "created_ms"));
	return p < q ? -1 : p > q;
}

struct loaded {
	json_t **items;
	size_t n, cap;
};

static int load_one(const char *path, const char *rel, void *ctx, struct mlf_error *err)
{
	(void)rel;
	(void)err;
	struct loaded *l = ctx;
	size_t n = strlen(path);
	if (n < 5 || strcmp(path + n - 5, ".json"))
		return 0;
	json_t *job = json_load_file(path, 0, NULL);
	if (!json_is_object(job) || !mlf_json_str(job, "id", NULL)) {
		fprintf(stderr, "mlf-serve: ignoring %s: not a job record\n", path);
		json_decref(job);
		return 0;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->items = mlf_xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	l->items[l->n++] = job;
	return 0;
}

int serve_jobs_open(struct server *s, struct mlf_error *err)
{
	char *runs = mlf_config_path(s->o->cfg, "paths.runs");
	s->jobs_dir = mlf_path_join(runs, "serve/jobs");
	free(runs);
	s->jobs = json_array();
	struct loaded l = { 0 };
	struct mlf_walk w = { .on_file = load_one, .ctx = &l };
	/* one service per workspace: a second would call the first one's running jobs lost */
	char *lock = mlf_path_join(s->jobs_dir, "../serve.lock");
	int rc = mlf_mkdir_p(s->jobs_dir, 0777, err) || mlf_lock(lock, 0, &s->lock_fd, err);
	free(lock);
	if (rc)
		return mlf_error_prefix(err, "another mlf-serve serves this workspace");
	if (mlf_remove_stale_temps(s->jobs_dir, NULL, err) < 0 || mlf_walk_tree(s->jobs_dir, &w, err))
		return -1;
	qsort(l.items, l.n, sizeof(*l.items), by_created);
	for (size_t i = 0; i < l.n; i++) {
		/* a job this service had not finished when it stopped: it is lost, not running */
		if (!serve_job_terminal(state_of(l.items[i])))
			set_state(s, l.items[i], "lost", "the service stopped before the job ended; a run "
				  "it left is closed by the next retrain-run (resumable: retrain-run --resume)");
		json_array_append_new(s->jobs, l.items[i]);
	}
	free(l.items);
	trim(s);
	return 0;
}

int serve_job_submit(struct server *s, const struct mlf_serve_retrain *call, char **id,
		     struct mlf_error *err)
{
	char hex[33];
	mlf_random_hex32(hex);
	hex[16] = '\0';
	pthread_mutex_lock(&s->mu);
	size_t queued = 0, i;
	json_t *job;
	json_array_foreach(s->jobs, i, job)
		queued += !strcmp(state_of(job), "queued");
	if ((int)queued >= s->o->queue_max || s->stopping) {
		pthread_mutex_unlock(&s->mu);
		return mlf_fail(err, MLF_EX_TEMPFAIL, s->stopping ? "the service is stopping" :
				"%zu jobs are already waiting (the queue holds %d); try again later", queued,
				s->o->queue_max);
	}
	char *now = mlf_now_rfc3339();
	json_t *req = json_pack("{s:o, s:o, s:o, s:b}",
				"epochs", call->epochs ? json_integer(call->epochs) : json_null(),
				"batch_size", call->batch_size ? json_integer(call->batch_size) : json_null(),
				"experiment_id", mlf_json_string_or_null(call->experiment_id),
				"wait", call->wait == 1);
	job = json_pack("{s:s, s:i, s:s, s:s, s:s, s:o, s:s, s:I, s:n, s:n, s:{}, s:{}, s:n, s:n, s:s}",
			"kind", "mlf.job", "schema_version", 1, "id", hex, "state", "queued", "step", "",
			"request", req, "created_at", now, "created_ms", (json_int_t)mlf_now_ms(),
			"started_at", "ended_at", "exits", "documents", "run_id", "error", "log", "");
	free(now);
	json_array_append_new(s->jobs, job);
	save(s, job);
	trim(s);
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->mu);
	*id = mlf_xstrdup(hex);
	return 0;
}

json_t *serve_job_copy(struct server *s, const char *id, int wait)
{
	pthread_mutex_lock(&s->mu);
	json_t *job = find(s, id);
	while (wait && job && !s->stopping && !serve_job_terminal(state_of(job))) {
		pthread_cond_wait(&s->changed, &s->mu);
		job = find(s, id);
	}
	json_t *copy = job ? json_deep_copy(job) : NULL;
	pthread_mutex_unlock(&s->mu);
	return copy;
}

json_t *serve_jobs_list(struct server *s)
{
	json_t *list = json_array();
	pthread_mutex_lock(&s->mu);
	for (size_t i = json_array_size(s->jobs); i-- > 0;) {
		json_t *j = json_deep_copy(json_array_get(s->jobs, i));
		json_object_del(j, "log");  /* a list is for overview: GET /api/jobs/ID has the rest */
		json_object_del(j, "documents");
		json_array_append_new(list, j);
	}
	pthread_mutex_unlock(&s->mu);
	return list;
}

int serve_job_cancel(struct server *s, const char *id, struct mlf_error *err)
{
	pthread_mutex_lock(&s->mu);
	json_t *job = find(s, id);
	int rc = 0;
	if (!job) {
		rc = mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND, "no job %s", id);
	} else if (serve_job_terminal(state_of(job))) {
		rc = mlf_fail(err, 1, "job %s has already ended (%s)", id, state_of(job));
	} else if (!strcmp(state_of(job), "queued")) {
		set_state(s, job, "killed", "stopped before it started (DELETE)");
	} else {
		/* between two programs there is no child: the flag stops the next one starting */
		s->cancel_running = 1;
		if (s->child > 0)
			kill(s->child, SIGTERM);  /* retrain-run ends its run KILLED, resumable */
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- running the programs ------------------------------------------------------ */

static void keep_tail(struct mlf_buf *log, const char *data, size_t n)
{
	mlf_buf_add(log, data, n);
	if (log->len > 2 * SERVE_LOG_TAIL) {
		size_t cut = log->len - SERVE_LOG_TAIL;
		memmove(log->data, log->data + cut, SERVE_LOG_TAIL);
		log->len = SERVE_LOG_TAIL;
		log->data[log->len] = '\0';
	}
}

int serve_run_program(struct server *s, const char *name, const char *const *extra,
		      const char *stdin_text, char **out, struct mlf_buf *log, int job)
{
	const char *argv[64];
	int n = 0;
	char *path = mlf_path_join(s->o->bin_dir, name);
	argv[n++] = path;
	argv[n++] = "-q";
	for (int i = 0; i < s->o->npass_args && n < 48; i++)
		argv[n++] = s->o->pass_args[i];
	for (int i = 0; extra && extra[i] && n < 62; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if (out)
		*out = NULL;

	int in[2], o[2], e[2];
	if (pipe2(in, O_CLOEXEC) || pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC)) {
		free(path);
		return -1;
	}
	/* made before fork: the child of a threaded process may only call async-signal-safe
	 * functions until it execs */
	char *cannot = mlf_xasprintf("mlf-serve: cannot run %s (is it installed beside mlf-serve?)\n",
				     argv[0]);
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);  /* a terminal's ^C reaches the service, which stops the job itself */
		dup2(in[0], 0);
		dup2(o[1], 1);
		dup2(e[1], 2);
		execv(argv[0], (char *const *)argv);
		ssize_t said = write(2, cannot, strlen(cannot));
		(void)said;
		_exit(127);
	}
	free(cannot);
	close(in[0]);
	close(o[1]);
	close(e[1]);
	free(path);
	if (pid < 0) {
		close(in[1]);
		close(o[0]);
		close(e[0]);
		return -1;
	}
	if (job) {  /* the one a DELETE or SIGTERM stops */
		pthread_mutex_lock(&s->mu);
		s->child = pid;
		if (s->cancel_running || s->stopping)  /* asked for while it was being started */
			kill(pid, SIGTERM);
		pthread_mutex_unlock(&s->mu);
	}

	/* the documents are small: write the input whole, then read both outputs to EOF
	 * (SIGPIPE is ignored by the service, so a program that stops reading is an error) */
	if (stdin_text) {
		size_t left = strlen(stdin_text);
		const char *p = stdin_text;
		while (left) {
			ssize_t w = write(in[1], p, left);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			p += w;
			left -= (size_t)w;
		}
	}
	close(in[1]);
	struct mlf_buf stdout_buf = MLF_BUF_INIT;
	struct pollfd fds[2] = { { o[0], POLLIN, 0 }, { e[0], POLLIN, 0 } };
	int open_fds = 2;
	char chunk[4096];
	while (open_fds) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int k = 0; k < 2; k++) {
			if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t r = read(fds[k].fd, chunk, sizeof(chunk));
			if (r <= 0) {
				close(fds[k].fd);
				fds[k].fd = -1;
				open_fds--;
			} else if (k == 0) {
				mlf_buf_add(&stdout_buf, chunk, (size_t)r);
			} else if (log) {
				pthread_mutex_lock(&s->mu);
				keep_tail(log, chunk, (size_t)r);
				pthread_mutex_unlock(&s->mu);
			}
		}
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (job) {
		pthread_mutex_lock(&s->mu);
		s->child = 0;
		pthread_mutex_unlock(&s->mu);
	}
	if (out)
		*out = mlf_buf_detach(&stdout_buf);
	else
		mlf_buf_release(&stdout_buf);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* ---- the worker ------------------------------------------------------------------ */

struct step {
	const char *program, *document;
};

/* One program of the job; its document kept under `document`. 0 on success. */
static int step(struct server *s, json_t *job, const struct step *st, const char *const *extra,
		const char *input, json_t **doc, struct mlf_buf *log)
{
	char *out = NULL;
	*doc = NULL;
	pthread_mutex_lock(&s->mu);
	int stop = s->cancel_running || s->stopping;
	if (!stop) {
		json_object_set_new(job, "step", json_string(st->program));
		save(s, job);
	}
	pthread_mutex_unlock(&s->mu);
	if (stop)
		return MLF_EX_INTERRUPTED;  /* stopped between two programs: the next never starts */
	int rc = serve_run_program(s, st->program, extra, input, &out, log, 1);
	*doc = out && *out ? json_loads(out, 0, NULL) : NULL;
	pthread_mutex_lock(&s->mu);
	json_object_set_new(json_object_get(job, "exits"), st->program, json_integer(rc));
	if (*doc)
		json_object_set(json_object_get(job, "documents"), st->document, *doc);
	json_object_set_new(job, "log", json_string(log->data ? log->data : ""));
	save(s, job);
	pthread_mutex_unlock(&s->mu);
	free(out);
	return rc;
}

static char *doc_text(const json_t *doc)
{
	return json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

/* Was the running job asked to stop (DELETE), or the service (SIGTERM)? */
static int stopped(struct server *s)
{
	pthread_mutex_lock(&s->mu);
	int stop = s->cancel_running || s->stopping;
	pthread_mutex_unlock(&s->mu);
	return stop;
}

static void run_job(struct server *s, json_t *job)
{
	static const struct step validate = { "mlf-validate", "validation" };
	static const struct step prep = { "retrain-prep", "dataset" };
	static const struct step run = { "retrain-run", "run" };
	static const struct step verify = { "mlf-verify", "verification" };
	struct mlf_buf log = MLF_BUF_INIT;
	json_t *vdoc = NULL, *ddoc = NULL, *rdoc = NULL, *fdoc = NULL;
	const char *state = "failed";
	char *error = NULL, *text = NULL;
	const json_t *req = json_object_get(job, "request");
	char epochs[32] = "", batch[48] = "";
	const char *run_extra[8] = { NULL };
	int k = 0;
	if (json_is_integer(json_object_get(req, "epochs"))) {
		snprintf(epochs, sizeof(epochs), "%lld", (long long)json_integer_value(json_object_get(req, "epochs")));
		run_extra[k++] = "--epochs";
		run_extra[k++] = epochs;
	}
	if (json_is_integer(json_object_get(req, "batch_size"))) {
		snprintf(batch, sizeof(batch), "train.batch=%lld",
			 (long long)json_integer_value(json_object_get(req, "batch_size")));
		run_extra[k++] = "-s";
		run_extra[k++] = batch;
	}

	int rc = step(s, job, &validate, NULL, NULL, &vdoc, &log);
	if (rc && stopped(s)) {
		state = "killed";
		error = mlf_xstrdup("stopped before the retraining started");
		goto out;
	}
	if (rc) {
		error = mlf_xasprintf("mlf-validate found problems (exit %d): see documents.validation", rc);
		goto out;
	}
	rc = step(s, job, &prep, NULL, NULL, &ddoc, &log);
	if (rc && stopped(s)) {
		state = "killed";
		error = mlf_xstrdup("stopped before the retraining started");
		goto out;
	}
	if (rc) {
		error = mlf_xasprintf("retrain-prep failed (exit %d): see the log", rc);
		goto out;
	}
	if (!strcmp(mlf_json_str(ddoc, "kind", ""), "mlf.skip")) {
		state = "skipped";  /* too few new corrections: not an error */
		error = mlf_xstrdup(mlf_json_str(ddoc, "reason", "nothing to retrain"));
		goto out;
	}
	text = doc_text(ddoc);
	rc = step(s, job, &run, run_extra, text, &rdoc, &log);
	free(text);
	text = NULL;
	pthread_mutex_lock(&s->mu);
	if (mlf_json_str(rdoc, "run_id", NULL))
		json_object_set_new(job, "run_id", json_string(mlf_json_str(rdoc, "run_id", NULL)));
	pthread_mutex_unlock(&s->mu);
	int cancelled = stopped(s);
	if (rc) {
		state = rc == MLF_EX_INTERRUPTED || cancelled ? "killed" : "failed";
		error = mlf_xasprintf("retrain-run %s (exit %d)%s", cancelled ? "was stopped" : "failed", rc,
				      mlf_json_str(rdoc, "run_id", NULL) ? "; its run can be finished with "
				      "retrain-run --resume" : "");
		goto out;
	}
	text = doc_text(rdoc);
	rc = step(s, job, &verify, NULL, text, &fdoc, &log);
	if (rc && stopped(s)) {
		state = "killed";
		error = mlf_xasprintf("stopped while verifying; run %s FINISHED: check it with mlf-verify "
				      "--run-id", mlf_json_str(rdoc, "run_id", "?"));
		goto out;
	}
	if (rc) {
		error = mlf_xasprintf("mlf-verify found problems (exit %d): see documents.verification", rc);
		goto out;
	}
	state = "succeeded";
out:
	pthread_mutex_lock(&s->mu);
	set_state(s, job, state, error);
	pthread_mutex_unlock(&s->mu);
	free(text);
	free(error);
	json_decref(vdoc);
	json_decref(ddoc);
	json_decref(rdoc);
	json_decref(fdoc);
	mlf_buf_release(&log);
}

static void *worker(void *arg)
{
	struct server *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		json_t *next = NULL;
		size_t i;
		json_t *job;
		json_array_foreach(s->jobs, i, job)
			if (!next && !strcmp(state_of(job), "queued"))
				next = job;
		if (s->stopping)
			break;
		if (!next) {
			pthread_cond_wait(&s->changed, &s->mu);
			continue;
		}
		char *now = mlf_now_rfc3339();
		json_object_set_new(next, "started_at", json_string(now));
		free(now);
		json_incref(next);
		s->cancel_running = 0;
		set_state(s, next, "running", NULL);
		pthread_mutex_unlock(&s->mu);
		run_job(s, next);
		json_decref(next);
		pthread_mutex_lock(&s->mu);
	}
	/* the service is stopping: what still waits will not run */
	size_t i;
	json_t *job;
	json_array_foreach(s->jobs, i, job)
		if (!strcmp(state_of(job), "queued"))
			set_state(s, job, "killed", "the service stopped before the job started");
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int serve_worker_start(struct server *s, struct mlf_error *err)
{
	if (pthread_create(&s->worker, NULL, worker, s))
		return mlf_fail(err, MLF_EX_SOFTWARE, "cannot start the worker thread");
	return 0;
}

void serve_worker_stop(struct server *s)
{
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	if (s->child > 0)
		kill(s->child, SIGTERM);
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->worker, NULL);
}
