/*
 * mlf-serve's HTTP side, over libmicrohttpd: one thread per connection (a
 * POST ...?wait=true holds its connection for the whole retraining), the
 * bearer token checked before any body is read, bodies bounded, and every
 * answer JSON.  Errors share one shape:
 *
 *   {"success": false, "status": 409, "code": "experiment_mismatch", "error": "..."}
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/tracking.h"
#include "serve_internal.h"

#define BODY_MAX (64 * 1024)          /* the retrain request is a few fields */
#define INTAKE_MAX (48L * 1024 * 1024)  /* one picture (as base64, a third larger) and its boxes */

struct call {
	struct mlf_buf body;
	int too_large;
	size_t limit;
	struct MHD_PostProcessor *form;   /* multipart/form-data */
	struct mlf_buf image, correction;
	char *filename;
};

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, json_t *doc,
			      const char *location, const char *retry_after)
{
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	struct mlf_buf b = MLF_BUF_INIT;
	mlf_buf_adds(&b, text ? text : "{}");
	mlf_buf_addc(&b, '\n');
	free(text);
	struct MHD_Response *r = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_COPY);
	mlf_buf_release(&b);
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (location)
		MHD_add_response_header(r, "Location", location);
	if (retry_after)
		MHD_add_response_header(r, "Retry-After", retry_after);
	enum MHD_Result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static int is_intake(const char *url, const char *method)
{
	return !strcmp(url, "/api/corrections") && !strcmp(method, "POST");
}

/* A multipart part: "image" (a file) or "correction" (the native JSON). */
static enum MHD_Result form_part(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
				 const char *content_type, const char *transfer_encoding, const char *data,
				 uint64_t off, size_t size)
{
	(void)kind;
	(void)content_type;
	(void)transfer_encoding;
	(void)off;
	struct call *k = cls;
	struct mlf_buf *into = !strcmp(key, "image") ? &k->image : !strcmp(key, "correction") ? &k->correction
											 : NULL;
	if (!into)
		return MHD_YES;  /* unknown parts are ignored, not stored */
	if (into == &k->image && filename && !k->filename)
		k->filename = mlf_xstrdup(filename);
	if (k->image.len + k->correction.len + size > k->limit) {
		k->too_large = 1;
		return MHD_YES;
	}
	mlf_buf_add(into, data, size);
	return MHD_YES;
}

static enum MHD_Result intake(struct server *s, struct MHD_Connection *c, struct call *k)
{
	json_t *doc = NULL;
	unsigned status;
	if (k->form)
		status = serve_intake(s, k->filename ? k->filename : "", k->image.data ? k->image.data : "",
				      k->image.len, k->correction.data, k->correction.len, &doc);
	else
		status = serve_intake_json(s, k->body.data ? k->body.data : "", k->body.len, &doc);
	return answer(c, status, doc, NULL, NULL);
}


static enum MHD_Result fail(struct MHD_Connection *c, unsigned status, const char *code,
			    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum MHD_Result fail(struct MHD_Connection *c, unsigned status, const char *code,
			    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return answer(c, status, json_pack("{s:b, s:i, s:s, s:s}", "success", 0, "status", (int)status,
					   "code", code, "error", msg), NULL, status == 429 ? "30" : NULL);
}

/* ---- the Python system's answer ---------------------------------------------------- */

static json_t *seed_answer(struct server *s, const json_t *job, unsigned *status)
{
	const char *state = mlf_json_str(job, "state", "");
	const json_t *docs = json_object_get(job, "documents");
	const json_t *run = json_object_get(docs, "run");
	const json_t *metrics = json_object_get(run, "metrics");
	const char *version = mlf_json_str(run, "new_version", NULL);
	const json_t *reg = json_object_get(run, "registry");
	int ok = !strcmp(state, "succeeded");
	char *message;
	if (ok)
		message = mlf_xasprintf("run %s FINISHED in experiment %s at %s%s%s%s%s",
					mlf_json_str(run, "run_id", "?"), mlf_json_str(run, "experiment_id", "?"),
					mlf_json_str(run, "tracking_uri", "?"),
					mlf_json_str(reg, "name", NULL) ? "; registered as " : "",
					mlf_json_str(reg, "name", ""), mlf_json_str(reg, "name", NULL) ? " version " : "",
					mlf_json_str(reg, "version", ""));
	else
		message = mlf_xstrdup(mlf_json_str(job, "error", state));
	*status = ok ? 200 : !strcmp(state, "skipped") ? 422 : !strcmp(state, "killed") ? 409 : 500;
	json_t *doc = json_pack("{s:b, s:s?, s:s?, s:o, s:o, s:s, s:s, s:s}",
				"success", ok,
				"experiment_id", mlf_json_str(run, "experiment_id",
							      mlf_config_get(s->o->cfg, "experiment_id")),
				"mlflow_run_id", mlf_json_str(job, "run_id", NULL),
				"new_version", version && version[0] == 'v' ? json_integer(atol(version + 1))
									    : json_null(),
				"metrics", json_pack("{s:O?, s:O?}", "mAP50", json_object_get(metrics, "mAP50"),
						     "mAP50-95", json_object_get(metrics, "mAP50-95")),
				"mlflow_message", message, "job_id", mlf_json_str(job, "id", ""),
				"state", state);
	free(message);
	if (!ok)
		json_object_set_new(doc, "skipped", json_boolean(!strcmp(state, "skipped")));
	json_object_set(doc, "run", run ? (json_t *)run : json_null());
	json_object_set_new(doc, "job", json_deep_copy(job));
	return doc;
}

/* ---- routes ------------------------------------------------------------------------- */

static enum MHD_Result retrain(struct server *s, struct MHD_Connection *c, struct call *k)
{
	struct mlf_serve_retrain call;
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_serve_parse_retrain(k->body.data ? k->body.data : "", k->body.len, &call, &err))
		return fail(c, 400, "bad_request", "%s", err.msg);
	const char *want = mlf_config_get(s->o->cfg, "experiment_id");
	const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait");
	int wait = call.wait == 1 || (q && (!strcmp(q, "true") || !strcmp(q, "1")));
	enum MHD_Result rc;
	if (q && strcmp(q, "true") && strcmp(q, "1") && strcmp(q, "false") && strcmp(q, "0")) {
		rc = fail(c, 400, "bad_request", "wait takes true or false, not '%s'", q);
	} else if (!call.experiment_id && s->o->require_experiment) {
		rc = fail(c, 400, "experiment_required", "experiment_id is required: this service retrains "
			  "experiment %s", want ? want : "(none configured)");
	} else if (call.experiment_id && (!want || strcmp(call.experiment_id, want))) {
		rc = fail(c, 409, "experiment_mismatch", "experiment_id %s is not this workspace's: it "
			  "retrains experiment %s", call.experiment_id, want ? want : "(none configured)");
	} else {
		char *id = NULL;
		if (serve_job_submit(s, &call, &id, &err)) {
			rc = fail(c, 429, "queue_full", "%s", err.msg);
		} else if (!wait) {
			char *location = mlf_xasprintf("/api/jobs/%s", id);
			json_t *job = serve_job_copy(s, id, 0);
			rc = answer(c, 202, json_pack("{s:b, s:s, s:s, s:s, s:o}", "success", 1, "job_id", id,
						      "state", mlf_json_str(job, "state", "queued"), "location",
						      location, "job", job),
				    location, NULL);
			free(location);
		} else {
			json_t *job = serve_job_copy(s, id, 1);
			unsigned status;
			if (!serve_job_terminal(mlf_json_str(job, "state", ""))) {
				rc = fail(c, 503, "stopping", "the service is stopping; job %s did not end", id);
			} else {
				json_t *doc = seed_answer(s, job, &status);
				rc = answer(c, status, doc, NULL, NULL);
			}
			json_decref(job);
		}
		free(id);
	}
	mlf_serve_retrain_release(&call);
	return rc;
}

static enum MHD_Result job_route(struct server *s, struct MHD_Connection *c, const char *method,
				 const char *id)
{
	struct mlf_error err = MLF_ERROR_INIT;
	if (!strcmp(method, "GET")) {
		json_t *job = serve_job_copy(s, id, 0);
		if (!job)
			return fail(c, 404, "not_found", "no job %s", id);
		return answer(c, 200, job, NULL, NULL);
	}
	if (serve_job_cancel(s, id, &err))
		return err.kind == MLF_ERR_NOT_FOUND ? fail(c, 404, "not_found", "%s", err.msg)
						     : fail(c, 409, "job_ended", "%s", err.msg);
	json_t *job = serve_job_copy(s, id, 0);
	return answer(c, 202, json_pack("{s:b, s:s, s:o}", "success", 1, "message",
					"stopping: a running retraining ends KILLED and can be resumed "
					"(retrain-run --resume)", "job", job), NULL, NULL);
}

/* A version as model-locate takes it: latest, N, vN or retrained_vN. */
static int version_ok(const char *v)
{
	size_t n = strlen(v);
	if (!n || n > 32)
		return 0;
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return 1;
}

/* Run a program that prints one document; answer with it, its exit status mapped. */
static enum MHD_Result program_answer(struct server *s, struct MHD_Connection *c, const char *program,
				      const char *const *extra)
{
	char *out = NULL;
	int rc = serve_run_program(s, program, extra, NULL, &out, NULL, 0);
	json_t *doc = out && *out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	if (!doc)
		return fail(c, rc == MLF_EX_NOINPUT ? 404 : rc == MLF_EX_USAGE ? 400 : 500,
			    rc == MLF_EX_NOINPUT ? "not_found" : "program_failed",
			    "%s %s exited %d without a document", program, extra && extra[0] ? extra[0] : "", rc);
	unsigned status = rc == 0 || rc == MLF_EX_CHECK ? 200 : rc == MLF_EX_NOINPUT ? 404 :
			  rc == MLF_EX_UNAVAILABLE ? 503 : 500;
	json_object_set_new(doc, "exit_status", json_integer(rc));
	return answer(c, status, doc, NULL, NULL);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* mlf-validate's report, run at most every SERVE_HEALTH_CACHE_S seconds. */
static enum MHD_Result health(struct server *s, struct MHD_Connection *c)
{
	pthread_mutex_lock(&s->health_mu);
	pthread_mutex_lock(&s->mu);
	int fresh = s->health && now_s() - s->health_at < SERVE_HEALTH_CACHE_S;
	pthread_mutex_unlock(&s->mu);
	if (!fresh) {
		char *out = NULL;
		int rc = serve_run_program(s, "mlf-validate", NULL, NULL, &out, NULL, 0);
		json_t *report = out && *out ? json_loads(out, 0, NULL) : NULL;
		free(out);
		pthread_mutex_lock(&s->mu);
		json_decref(s->health);
		s->health = report ? report : json_pack("{s:s}", "error", "mlf-validate printed no report");
		s->health_status = rc;
		s->health_at = now_s();
		pthread_mutex_unlock(&s->mu);
	}
	pthread_mutex_unlock(&s->health_mu);
	pthread_mutex_lock(&s->mu);
	size_t queued = 0, i;
	const char *running = NULL;
	json_t *job;
	json_array_foreach(s->jobs, i, job) {
		queued += !strcmp(mlf_json_str(job, "state", ""), "queued");
		if (!strcmp(mlf_json_str(job, "state", ""), "running"))
			running = mlf_json_str(job, "id", NULL);
	}
	int ok = s->health_status == 0;
	json_t *doc = json_pack("{s:b, s:s, s:i, s:s?, s:I, s:O}", "ok", ok, "service", "mlf-serve " MLF_VERSION,
				"validate_exit_status", s->health_status, "running_job", running,
				"queued_jobs", (json_int_t)queued, "validation", s->health);
	pthread_mutex_unlock(&s->mu);
	return answer(c, ok ? 200 : 503, doc, NULL, NULL);
}

static enum MHD_Result route(struct server *s, struct MHD_Connection *c, const char *url,
			     const char *method, struct call *k)
{
	int get = !strcmp(method, "GET"), post = !strcmp(method, "POST"), del = !strcmp(method, "DELETE");
	if (!strcmp(url, "/api/model/retrain"))
		return post ? retrain(s, c, k) : fail(c, 405, "method_not_allowed", "use POST");
	if (!strcmp(url, "/api/jobs"))
		return get ? answer(c, 200, json_pack("{s:o}", "jobs", serve_jobs_list(s)), NULL, NULL)
			   : fail(c, 405, "method_not_allowed", "use GET");
	if (!strncmp(url, "/api/jobs/", 10)) {
		const char *id = url + 10;
		if (!version_ok(id))
			return fail(c, 404, "not_found", "no such job");
		return get || del ? job_route(s, c, method, id)
				  : fail(c, 405, "method_not_allowed", "use GET or DELETE");
	}
	if (!strcmp(url, "/api/corrections"))
		return post ? intake(s, c, k) : fail(c, 405, "method_not_allowed", "use POST");
	if (!strcmp(url, "/api/corrections/status")) {
		json_t *doc = NULL;
		if (!get)
			return fail(c, 405, "method_not_allowed", "use GET");
		unsigned status = serve_corrections_status(s, &doc);
		return answer(c, status, doc, NULL, NULL);
	}
	if (!strncmp(url, "/api/models/", 12)) {
		const char *v = url + 12;
		if (!get)
			return fail(c, 405, "method_not_allowed", "use GET");
		if (!version_ok(v))
			return fail(c, 400, "bad_request", "a model version is latest, N, vN or retrained_vN");
		const char *args[] = { v, NULL };
		return program_answer(s, c, "model-locate", args);
	}
	return fail(c, 404, "not_found", "no route %s %s; see mlf-serve(1)", method, url);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_size,
			      void **con_cls)
{
	(void)version;
	struct server *s = cls;
	struct call *k = *con_cls;
	if (!k) {
		/* first call, headers only: refuse what needs no body to refuse */
		k = calloc(1, sizeof(*k));
		if (!k)
			return MHD_NO;
		mlf_buf_init(&k->body);
		mlf_buf_init(&k->image);
		mlf_buf_init(&k->correction);
		k->limit = is_intake(url, method) ? INTAKE_MAX : BODY_MAX;
		*con_cls = k;
		if (!strcmp(url, "/api/health") && !strcmp(method, "GET"))
			return MHD_YES;
		const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		if (!mlf_serve_token_ok(auth, s->o->token))
			return fail(c, 401, "unauthorized", "%s: send Authorization: Bearer <the token of "
				    "mlf-serve --token-file or MLF_SERVE_TOKEN>",
				    auth ? "wrong token" : "no token");
		const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		if (len && strtoull(len, NULL, 10) > k->limit)
			return fail(c, 413, "too_large", "the body holds %s bytes; at most %zu", len, k->limit);
		const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
		if (is_intake(url, method) && type && !strncasecmp(type, "multipart/form-data", 19)) {
			k->form = MHD_create_post_processor(c, 64 * 1024, form_part, k);
			if (!k->form)
				return fail(c, 400, "bad_request", "a multipart body needs its boundary");
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (k->form) {
			if (MHD_post_process(k->form, upload_data, *upload_size) != MHD_YES)
				k->too_large = k->too_large ? 1 : 2;  /* 2: a malformed form */
		} else if (k->body.len + *upload_size > k->limit) {
			k->too_large = 1;
		} else {
			mlf_buf_add(&k->body, upload_data, *upload_size);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (k->too_large == 2)
		return fail(c, 400, "bad_request", "the multipart body could not be read");
	if (k->too_large)
		return fail(c, 413, "too_large", "the body is larger than %zu bytes", k->limit);
	if (!strcmp(url, "/api/health"))
		return !strcmp(method, "GET") ? health(s, c) : fail(c, 405, "method_not_allowed", "use GET");
	return route(s, c, url, method, k);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct call *k = *con_cls;
	if (k) {
		if (k->form)
			MHD_destroy_post_processor(k->form);
		mlf_buf_release(&k->body);
		mlf_buf_release(&k->image);
		mlf_buf_release(&k->correction);
		free(k->filename);
		free(k);
		*con_cls = NULL;
	}
}

static struct MHD_Daemon *daemon_of(struct server *s)
{
	return s->daemon;
}

int serve_http_start(struct server *s, struct mlf_error *err)
{
	char host[64];
	int port;
	if (mlf_serve_parse_listen(s->o->listen ? s->o->listen : "127.0.0.1:8080", host, &port, err))
		return -1;
	struct sockaddr_in addr = { 0 };
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
		return mlf_fail(err, MLF_EX_USAGE, "--listen: '%s' is not an IPv4 address", host);
	s->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
				     (uint16_t)port, NULL, NULL, handle, s,
				     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
				     MHD_OPTION_NOTIFY_COMPLETED, completed, s,
				     MHD_OPTION_END);
	if (!daemon_of(s))
		return mlf_fail(err, MLF_EX_UNAVAILABLE, "cannot listen on %s:%d (in use, or not an address "
				"of this machine)", host, port);
	return 0;
}

void serve_http_stop(struct server *s)
{
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	s->daemon = NULL;
}

/* ---- the service ---------------------------------------------------------------------- */

int mlf_serve_run(const struct mlf_serve_options *o, struct mlf_error *err)
{
	struct server s = { .o = o, .lock_fd = -1 };
	signal(SIGPIPE, SIG_IGN);  /* a client or program gone is an error to handle, not a death */
	pthread_mutex_init(&s.mu, NULL);
	pthread_mutex_init(&s.health_mu, NULL);
	pthread_cond_init(&s.changed, NULL);
	serve_intake_clean(&s);
	int rc = serve_jobs_open(&s, err) || serve_worker_start(&s, err) ? -1 : 0;
	int worker = !rc;
	if (!rc)
		rc = serve_http_start(&s, err);
	if (!rc && !o->quiet)
		fprintf(stderr, "mlf-serve: listening on http://%s for workspace %s (jobs in %s)\n",
			o->listen ? o->listen : "127.0.0.1:8080", o->cfg->workspace, s.jobs_dir);
	while (!rc && !*o->stop)
		pause();
	if (!rc && !o->quiet)
		fprintf(stderr, "mlf-serve: stopping: the running job (if any) ends KILLED\n");
	if (worker)
		serve_worker_stop(&s);  /* first: a held ?wait=true request is answered when it ends */
	serve_http_stop(&s);
	if (s.lock_fd >= 0)
		mlf_unlock(s.lock_fd);
	json_decref(s.jobs);
	json_decref(s.health);
	free(s.jobs_dir);
	pthread_cond_destroy(&s.changed);
	pthread_mutex_destroy(&s.health_mu);
	pthread_mutex_destroy(&s.mu);
	return rc;
}
