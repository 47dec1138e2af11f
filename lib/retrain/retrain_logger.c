/*
 * Epoch metrics leave the training loop through a queue that a logger thread
 * drains with its own tracking handle, in batches: the training loop never
 * waits on the network.  While the store is away the queue keeps everything,
 * in order, with the original timestamps and steps, and retries every few
 * seconds.  The thread also keeps the waiting records on disk, in the
 * training folder's metrics_pending.json (at most every SAVE_EVERY_S, so a
 * kill loses at most those seconds of them; results.csv has every epoch), which
 * --resume sends; writing it there, not from the training loop, keeps even a
 * slow disk off the training path.  When training
 * ends, the thread sends what it can and stops; what it could not send is
 * r->pending, and the end-of-training rules apply as before (the final step
 * tries once more, then the run is recorded FAILED locally, exit 69).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mlf/base.h"
#include "retrain_internal.h"

#define RETRY_S 2
#define SAVE_EVERY_S 10
#define SPILL_NAME "metrics_pending.json"

struct retrain_logger {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct mlf_tracking *t;   /* the thread's own: a handle serves one thread */
	char *run_id;
	json_t *queue;            /* {"key","value","timestamp","step"(,"waited")}, oldest first */
	int stop;
	int away;
	double away_since, away_s;
	size_t waited;            /* records that could not be sent at once */
	int said;                 /* the outage was announced on stderr */
	double saved_at;          /* when the waiting records were last spilled */
	char *spill_path;         /* <training folder>/metrics_pending.json */
	const char *prog;
	char error[1024];
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What waits, on disk for a resume: metrics_pending.json in the training folder. */
static void spill(struct retrain_logger *l, json_t *keep)
{
	size_t i;
	json_t *p;
	json_array_foreach(keep, i, p)
		json_object_del(p, "waited");
	char *text = json_dumps(keep, JSON_COMPACT);
	struct mlf_error err = MLF_ERROR_INIT;
	if (!text || mlf_write_file_atomic(l->spill_path, text, strlen(text), &err))
		fprintf(stderr, "%s: cannot keep the waiting metrics in %s: %s\n", l->prog, l->spill_path,
			err.msg);
	free(text);
	json_decref(keep);
}

void retrain_logger_spill_done(struct retrain *r)
{
	if (r->logger)
		return;  /* still training: the spill is the newer record */
	char *path = mlf_path_join(r->p.train_dir, SPILL_NAME);
	unlink(path);
	free(path);
}

json_t *retrain_logger_spill_read(struct retrain *r)
{
	char *path = mlf_path_join(r->p.train_dir, SPILL_NAME);
	json_t *spilled = mlf_is_file(path) ? json_load_file(path, 0, NULL) : NULL;
	free(path);
	if (!json_array_size(spilled)) {
		json_decref(spilled);
		return NULL;
	}
	return spilled;
}

json_t *retrain_metric_json(const struct mlf_metric *m)
{
	return json_pack("{s:s, s:o, s:I, s:I}", "key", m->key, "value", mlf_json_double(m->value),
			 "timestamp", (json_int_t)m->timestamp, "step", (json_int_t)m->step);
}

void retrain_metrics_from_json(const json_t *list, size_t n, struct mlf_metric *m)
{
	for (size_t i = 0; i < n; i++) {
		const json_t *p = json_array_get(list, i);
		m[i].key = mlf_xstrdup(mlf_json_str(p, "key", ""));
		mlf_json_to_double(json_object_get(p, "value"), &m[i].value);
		mlf_json_to_int64(json_object_get(p, "timestamp"), &m[i].timestamp);
		mlf_json_to_int64(json_object_get(p, "step"), &m[i].step);
	}
}

static void *run(void *arg)
{
	struct retrain_logger *l = arg;
	mlf_failpoint_step("metrics");  /* this thread's writes are counted apart */
	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!json_array_size(l->queue) && !l->stop)
			pthread_cond_wait(&l->cv, &l->mu);
		size_t n = json_array_size(l->queue);
		if (!n)
			break;
		if (n > MLF_BATCH_MAX_METRICS)
			n = MLF_BATCH_MAX_METRICS;
		struct mlf_metric *m = mlf_xcalloc(n, sizeof(*m));
		retrain_metrics_from_json(l->queue, n, m);
		pthread_mutex_unlock(&l->mu);
		struct mlf_error err = MLF_ERROR_INIT;
		int rc = mlf_tracking_log_batch(l->t, l->run_id, m, n, NULL, NULL, &err);
		for (size_t i = 0; i < n; i++)
			free(m[i].key);
		free(m);
		pthread_mutex_lock(&l->mu);
		if (!rc) {
			for (size_t i = 0; i < n; i++)
				json_array_remove(l->queue, 0);
			if (l->away) {
				l->away = 0;
				l->said = 0;
				l->away_s += now_s() - l->away_since;
				fprintf(stderr, "%s: the tracking store is back after %.0f s; the waiting metrics "
					"are sent\n", l->prog, now_s() - l->away_since);
			}
			continue;
		}
		if (!l->away) {
			l->away = 1;
			l->away_since = now_s();
		}
		snprintf(l->error, sizeof(l->error), "%s", err.msg);
		size_t i;
		json_t *p;
		json_array_foreach(l->queue, i, p)
			if (!json_object_get(p, "waited")) {
				json_object_set_new(p, "waited", json_true());
				l->waited++;
			}
		if (l->stop)
			break;  /* training is over: what is left goes back to the run */
		if (now_s() - l->saved_at >= SAVE_EVERY_S) {
			json_t *keep = json_deep_copy(l->queue);
			l->saved_at = now_s();
			pthread_mutex_unlock(&l->mu);
			spill(l, keep);
			pthread_mutex_lock(&l->mu);
		}
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += RETRY_S;
		while (!l->stop && pthread_cond_timedwait(&l->cv, &l->mu, &until) != ETIMEDOUT)
			;
	}
	if (l->away) {
		l->away_s += now_s() - l->away_since;
		l->away_since = now_s();
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int retrain_logger_start(struct retrain *r, struct mlf_error *err)
{
	struct mlf_tracking_options to;
	struct retrain_logger *l = mlf_xcalloc(1, sizeof(*l));
	if (mlf_config_tracking_options(r->cfg, &to, err)) {
		free(l);
		return -1;
	}
	/* the thread is its own retry loop (every RETRY_S while training lasts): its calls give
	 * up fast, so an outage is seen, counted and reported as it happens */
	to.max_retries = 1;
	to.backoff_factor = 0.5;
	to.backoff_max = RETRY_S;
	to.backoff_jitter = 0;
	if (mlf_tracking_open(&l->t, &to, err)) {
		free(l);
		return -1;
	}
	l->run_id = mlf_xstrdup(r->run.run_id);
	l->prog = r->o->prog;
	l->spill_path = mlf_path_join(r->p.train_dir, SPILL_NAME);
	/* what an earlier attempt could not send goes first, so the order holds */
	l->queue = r->pending ? json_deep_copy(r->pending) : json_array();
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	if (pthread_create(&l->thread, NULL, run, l)) {
		mlf_tracking_close(l->t);
		json_decref(l->queue);
		free(l->run_id);
		free(l->spill_path);
		free(l);
		return mlf_fail(err, MLF_EX_SOFTWARE, "cannot start the metrics logger thread");
	}
	r->logger = l;
	return 0;
}

void retrain_logger_add(struct retrain *r, const struct mlf_metric *m, size_t n)
{
	struct retrain_logger *l = r->logger;
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(l->queue, retrain_metric_json(&m[i]));
	pthread_cond_signal(&l->cv);
	int away = l->away, said = l->said;
	char error[1024];
	memcpy(error, l->error, sizeof(error));
	l->said |= away;
	size_t waiting = json_array_size(l->queue);
	pthread_mutex_unlock(&l->mu);
	if (away && !said)
		fprintf(stderr, "%s: the tracking store is away (%s); the metrics wait (kept in %s), "
			"training goes on\n", r->o->prog, error, l->spill_path);
	else if (away && waiting % 100 < n)
		fprintf(stderr, "%s: %zu metric records wait for the tracking store\n", r->o->prog, waiting);
}

void retrain_logger_stop(struct retrain *r)
{
	struct retrain_logger *l = r->logger;
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = 1;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	json_decref(r->pending);
	r->pending = NULL;
	if (json_array_size(l->queue)) {
		size_t i;
		json_t *p;
		json_array_foreach(l->queue, i, p)
			json_object_del(p, "waited");
		r->pending = json_incref(l->queue);
	}
	free(l->spill_path);  /* the spill stays until mlf_run.json holds r->pending (state save) */
	r->store_away_s += l->away_s;
	r->records_waited += l->waited;
	mlf_tracking_close(l->t);
	json_decref(l->queue);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l->run_id);
	free(l);
	r->logger = NULL;
}
