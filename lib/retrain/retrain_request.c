/*
 * What retrain-run's command line asks for, done: a sweep, a resume, or a
 * retraining on a dataset document (from --dataset or standard input), where
 * a skip document is passed on unless the version before it never finished.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/config.h"
#include "mlf/torch/retrain.h"
#include "retrain_internal.h"

/* The one document on `in`: dataset, skip, or an error (65). */
static json_t *read_input(FILE *in, struct mlf_error *err)
{
	if (isatty(fileno(in))) {
		mlf_fail(err, MLF_EX_USAGE, "no dataset document: pipe retrain-prep's output in, or give "
			 "--dataset data/retrain_vN (see --help)");
		return NULL;
	}
	json_error_t je;
	/* exactly one document: anything after it (a second one, garbage) is refused */
	json_t *doc = json_loadf(in, 0, &je);
	if (!json_is_object(doc)) {
		mlf_fail(err, MLF_EX_DATAERR, "stdin is not one JSON document (line %d: %s); expected "
			 "retrain-prep's dataset document", je.line, je.text);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static int resume_version(const struct mlf_config *cfg, const char *text, long *n, struct mlf_error *err)
{
	if (strcmp(text, "latest"))
		return mlf_version_parse(text, n, err);
	*n = mlf_retrain_latest_unfinished(cfg);
	if (!*n)
		return mlf_fail(err, MLF_EX_NOINPUT, "no interrupted retraining to resume in this workspace");
	return 0;
}

/*
 * A skip document: pass it on (1), unless the version it names as the
 * previous one was never finished; then train or resume that one (0).
 * -1 with err when that version's dataset cannot be read back.
 */
static int skip_or_retry(const struct mlf_config *cfg, json_t **input, struct mlf_retrain_options *o,
			 struct mlf_error *err)
{
	int resume;
	const char *why = NULL;
	long n = mlf_retrain_unfinished_previous(cfg, *input, &resume, &why);
	if (!n) {
		if (!o->quiet)
			fprintf(stderr, "%s: nothing to do: %s\n", o->prog,
				json_string_value(json_object_get(*input, "reason")));
		return 1;
	}
	fprintf(stderr, "%s: no new dataset version, but v%ld was never finished (%s): %s it now\n",
		o->prog, n, why, resume ? "resuming" : "training");
	json_decref(*input);
	*input = NULL;
	if (resume) {
		o->resume = n;
		return 0;
	}
	char *data = mlf_config_path(cfg, "paths.data");
	char *leaf = mlf_xasprintf("retrain_v%ld", n);
	char *dir = mlf_path_join(data, leaf);
	*input = mlf_retrain_dataset_document(dir, err);
	free(dir);
	free(leaf);
	free(data);
	return *input ? 0 : -1;
}

/* The workspace lock into o->lock_fd: waiting for it, or 75 with no_wait. */
static int lock_workspace(struct mlf_retrain_options *o, struct mlf_error *err)
{
	struct mlf_version_paths p;
	int fd = -1, rc;
	mlf_version_paths_init(&p, o->cfg, 1);
	rc = mlf_mkdir_p(p.train_root, 0777, err) ? -1 : mlf_lock(p.lock, !o->no_wait, &fd, err);
	if (rc && err->status == MLF_EX_TEMPFAIL)
		mlf_error_prefix(err, "another retrain-run is working in this workspace");
	mlf_version_paths_release(&p);
	o->lock_fd = rc ? 0 : fd;
	return rc ? -1 : 0;
}

/*
 * A night with nothing new still holds the lock, so it recovers what a dead
 * retrain-run left (retrain_recover) before deciding.  Best effort: a store
 * that does not answer is said, and the skip still passes; the next start
 * recovers.
 */
static void recover(const struct mlf_retrain_options *o)
{
	struct mlf_error e = MLF_ERROR_INIT;
	json_t *closed = json_array(), *removed = json_array();
	if (retrain_recover(o->cfg, closed, removed, "the next retrain-run", &e))
		fprintf(stderr, "%s: warning: could not check for runs a dead retrain-run left: %s\n",
			o->prog, e.msg);
	retrain_say_removed(o->prog, o->quiet, removed);
	json_decref(closed);
	json_decref(removed);
}

int mlf_retrain_request(const struct mlf_retrain_request *r, struct mlf_retrain_options *o,
			json_t **doc, struct mlf_error *err)
{
	json_t *input = NULL;
	if (r->sweep)
		return mlf_retrain_sweep(o->cfg, o->no_wait, doc, err);
	if (r->resume)
		return resume_version(o->cfg, r->resume, &o->resume, err) ? -1 : mlf_retrain(o, doc, err);
	input = r->dataset ? mlf_retrain_dataset_document(r->dataset, err) : read_input(r->in, err);
	if (!input)
		return -1;
	const char *kind = json_string_value(json_object_get(input, "kind"));
	if (kind && !strcmp(kind, "mlf.skip")) {
		/* Which version never finished is decided under the workspace lock, so that it
		 * cannot be one another pipeline is about to train; the lock goes on to
		 * mlf_retrain when there is one to finish. */
		int rc = lock_workspace(o, err);
		if (!rc)
			recover(o);
		if (!rc)
			rc = skip_or_retry(o->cfg, &input, o, err);
		if (rc) {
			if (o->lock_fd > 0)
				mlf_unlock(o->lock_fd);
			o->lock_fd = 0;
			*doc = rc > 0 ? input : NULL;  /* nothing to do: pass the skip on */
			if (rc < 0)
				json_decref(input);
			return rc > 0 ? 0 : -1;
		}
	}
	o->dataset = input;
	int rc = mlf_retrain(o, doc, err);
	o->dataset = NULL;
	json_decref(input);
	return rc;
}
