/*
 * mlf_retrain: the twelve steps in order, and what happens when one fails
 * or a signal arrives (see mlf/torch/retrain.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlf/base.h"
#include "retrain_internal.h"

#define NSTEPS 12

void retrain_say(struct retrain *r, const char *fmt, ...)
{
	if (r->o->quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", r->o->prog ? r->o->prog : "retrain-run");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int stopped(const struct retrain *r)
{
	return r->o->stop && *r->o->stop;
}

static int stop_error(struct retrain *r, struct mlf_error *err)
{
	int sig = r->o->stop ? (int)*r->o->stop : 0;
	return mlf_fail(err, MLF_EX_INTERRUPTED, "stopped by %s during step '%s'; last.pt is kept: "
			"continue with `retrain-run --resume v%ld`",
			sig == 2 ? "SIGINT" : sig == 15 ? "SIGTERM" : "a signal", r->step, r->p.n);
}

void retrain_step(struct retrain *r, const char *name)
{
	r->step = name;
	mlf_failpoint_step(name);
}

static int done(const struct retrain *r, const char *step)
{
	return json_object_get(json_object_get(r->state, "done"), step) != NULL;
}

/* Mark a step finished in mlf_run.json, with what resuming needs from it. */
int retrain_mark_done(struct retrain *r, const char *step, json_t *what, struct mlf_error *err)
{
	json_t *d = json_object_get(r->state, "done");
	if (!d) {
		d = json_object();
		json_object_set_new(r->state, "done", d);
	}
	json_object_set_new(d, step, what ? what : json_true());
	return retrain_state_save(r, "RUNNING", NULL, err);
}

static int train(struct retrain *r, struct mlf_error *err)
{
	json_t *saved = json_object_get(json_object_get(r->state, "done"), "train");
	if (saved) {  /* a resumed run whose training had finished */
		r->result.epochs_done = (int)json_integer_value(json_object_get(saved, "epochs_done"));
		r->result.best_epoch = (int)json_integer_value(json_object_get(saved, "best_epoch"));
		mlf_json_to_double(json_object_get(saved, "seconds"), &r->train_seconds);
		r->post = json_incref(json_object_get(saved, "metrics"));
		return 0;
	}
	if (r->resuming && mlf_is_file(r->p.last_pt)) {
		r->train.resume = r->p.last_pt;
		r->train.resume_done = 1;  /* killed after the last epoch: finish it */
	}
	if (retrain_logger_start(r, err))
		return mlf_error_prefix(err, "starting the metrics logger");
	int rc = mlf_train(&r->train, &r->result, err);
	retrain_logger_stop(r);  /* what the store did not take is r->pending now */
	r->train_seconds += r->result.seconds;
	if (rc == MLF_TRAIN_STOPPED)
		return stop_error(r, err);
	if (rc < 0)
		return -1;
	r->post = retrain_val_json(&r->result.final);
	return retrain_mark_done(r, "train", json_pack("{s:i, s:i, s:f, s:O}", "epochs_done", r->result.epochs_done,
					      "best_epoch", r->result.best_epoch, "seconds", r->train_seconds,
					      "metrics", r->post), err);
}

static int steps(struct retrain *r, struct mlf_error *err)
{
	struct step {
		const char *name, *say;
		int (*run)(struct retrain *, struct mlf_error *);
		int once;  /* skipped when resuming a run that finished it */
	} const all[NSTEPS] = {
		{ "experiment", "opening experiment", retrain_open_experiment, 0 },
		{ "run", "starting the run", retrain_start_run, 0 },
		{ "params", "logging the training settings", retrain_log_params, 1 },
		{ "dataset", "logging the dataset", retrain_log_dataset, 1 },
		{ "pre_eval", "evaluating the base model and the champion on the new validation split", retrain_evaluate_base, 1 },
		{ "train", "training", train, 0 },
		{ "final", "logging the final validation", retrain_log_final, 0 },
		{ "store", "storing the model", retrain_store, 0 },
		{ "artifacts", "logging the model, plots and settings", retrain_log_artifacts, 0 },
		{ "register", "registering the model version", retrain_register, 1 },
		{ "check", "checking the uploaded artifacts", retrain_check_artifacts, 0 },
		{ "publish", "publishing the model and ending the run", retrain_publish, 0 },
	};
	for (int i = 0; i < NSTEPS; i++) {
		retrain_step(r, all[i].name);
		if (stopped(r))
			return stop_error(r, err);
		if (all[i].once && done(r, all[i].name))
			continue;
		if (i == 0)
			retrain_say(r, "[1/%d] %s %s", NSTEPS, all[i].say, r->experiment_id);
		else
			retrain_say(r, "[%d/%d] %s", i + 1, NSTEPS, all[i].say);
		/* mlf_run.json names the step begun, for whoever finds it after a crash */
		if (r->run_started && retrain_state_save(r, "RUNNING", NULL, err))
			return -1;
		double began = now_s();
		if (all[i].run(r, err))
			return -1;
		json_object_set_new(r->step_seconds, all[i].name, json_real(now_s() - began));
		if (all[i].once && !done(r, all[i].name) && retrain_mark_done(r, all[i].name, NULL, err))
			return -1;
	}
	return 0;
}

/* Best effort: the run is already failing; say what could not be recorded. */
static void end_failed(struct retrain *r, const char *status, const struct mlf_error *cause)
{
	struct mlf_error e2 = MLF_ERROR_INIT;
	retrain_unpublish(r);
	if (r->run_started && retrain_restore_aliases(r->t, r->state, &e2)) {
		/* kept in mlf_run.json: --sweep or the next start tries again */
		fprintf(stderr, "%s: %s\n", r->o->prog, e2.msg);
		mlf_error_clear(&e2);
	}
	if (r->run_started) {
		char reason[MLF_MAX_TAG_VALUE];
		snprintf(reason, sizeof(reason), "%s in step '%s': %s",
			 !strcmp(status, "KILLED") ? "stopped" : "failed", r->step, cause->msg);
		if (retrain_set_tag(r, "mlf.failure_reason", reason, &e2) ||
		    mlf_tracking_end_run(r->t, r->run.run_id, mlf_run_status_parse(status), 0, &e2)) {
			fprintf(stderr, "%s: could not mark run %s %s in the tracking store: %s; "
				"recorded in %s (close it later with `retrain-run --resume v%ld` or --sweep)\n",
				r->o->prog, r->run.run_id, status, e2.msg, r->p.state, r->p.n);
			json_object_set_new(r->state, "tracking_not_updated", json_string(e2.msg));
		}
	}
	if (retrain_state_save(r, status, cause->msg, &e2))
		fprintf(stderr, "%s: %s\n", r->o->prog, e2.msg);
}

static void release(struct retrain *r)
{
	retrain_logger_stop(r);
	if (r->t)
		mlf_tracking_close(r->t);
	if (r->lock_fd >= 0)
		mlf_unlock(r->lock_fd);
	mlf_run_release(&r->run);
	mlf_version_paths_release(&r->p);
	free(r->experiment_id);
	free(r->base_model);
	free(r->model_type);
	free(r->data_yaml);
	free(r->st_path);
	free(r->registered_model);
	free(r->metadata_text);
	json_decref(r->dataset);
	json_decref(r->state);
	json_decref(r->classes);
	json_decref(r->pre);
	json_decref(r->champion);
	json_decref(r->post);
	json_decref(r->pending);
	json_decref(r->registry);
	json_decref(r->reconciled);
	json_decref(r->artifact_location);
	json_decref(r->step_seconds);
}

int mlf_retrain(const struct mlf_retrain_options *o, json_t **doc, struct mlf_error *err)
{
	struct retrain r;
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.cfg = o->cfg;
	r.lock_fd = o->lock_fd > 0 ? o->lock_fd : -1;  /* a lock handed over is released here */
	r.t0 = now_s();
	retrain_step(&r, "setup");
	r.step_seconds = json_object();
	*doc = NULL;
	int rc = retrain_setup(&r, err);
	json_object_set_new(r.step_seconds, "setup", json_real(now_s() - r.t0));
	if (!rc)
		rc = steps(&r, err);
	if (rc) {
		const char *status = err->status == MLF_EX_INTERRUPTED ? "KILLED" : "FAILED";
		if (r.run_started)  /* before that, nothing was written that needs closing */
			end_failed(&r, status, err);
		if (r.p.name)  /* the options were understood: say so in a document too */
			*doc = retrain_doc_failure(&r, r.run_started ? status : NULL, err);
	} else {
		*doc = retrain_doc_success(&r);
		double total = now_s() - r.t0;
		/* overhead: everything but the training itself (the base model's
		 * evaluation is shown apart, as it is model compute too) */
		json_object_set_new(*doc, "timings", json_pack("{s:f, s:f, s:f, s:f, s:O}", "total_s", total,
							       "training_s", r.train_seconds,
							       "base_evaluation_s", r.eval_seconds,
							       "overhead_s", total - r.train_seconds,
							       "steps_s", r.step_seconds));
	}
	release(&r);
	return rc ? -1 : 0;
}
