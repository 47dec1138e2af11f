/*
 * What a retraining left behind, checked: the local files and their
 * checksums, the MLflow run (experiment, status, tags, params, metrics,
 * artifacts) and its registry version.  mlf-verify is a thin program over
 * this; see mlf-verify(1) for the checks and the report.
 *
 * Every check is one entry (name, ok, detail) and every failure is listed:
 * verification never stops at the first problem.  A failing check's detail
 * names the thing and says what to do, and is the report's problem text.
 *
 * Ownership: struct mlf_verification owns its strings and checks;
 * mlf_verification_release() frees them.  Options and everything they
 * point to are borrowed for the call.
 */
#ifndef MLF_VERIFY_H
#define MLF_VERIFY_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "mlf/config.h"
#include "mlf/error.h"

struct mlf_verify_check {
	char *name;     /* "file:models/retrained_v1.pt", "tag:type", "registry", ... */
	int ok;
	char *detail;
};

struct mlf_verification {
	char *version;          /* "vN"; NULL when it could not be told */
	char *run_id;           /* NULL when no run is known */
	char *experiment_id;    /* the run's, else the document's, else the configured one */
	struct mlf_verify_check *checks;
	size_t n, cap;
	int status;             /* 0 all passed, 1 a check failed, 69/78 the store could not be asked */
};

struct mlf_verify_options {
	const struct mlf_config *cfg;  /* experiment_id, tracking, paths */
	const json_t *doc;             /* a run document (kind "mlf.run"), or NULL */
	const char *run_id;            /* verify this run (--run-id), or NULL */
	long version;                  /* verify version N (--version), or 0 */
};

/*
 * What a piped-in document is: 1 a skip document (pass it on), 0 a run
 * document; -1 with err (status 65) naming what is wrong otherwise.
 */
int mlf_verify_document_kind(const json_t *doc, struct mlf_error *err);

/*
 * Verify one retraining, given by exactly one of doc, run_id and version.
 * Returns the exit status (0, 1, 69 or 78) with *v filled, or -1 with err
 * filled when there is nothing to verify: no experiment_id configured
 * (78), a run document without a version (65), a run or version not
 * found (66), a store that cannot be asked to find the run (69, 78).
 * *v must be released either way.
 */
int mlf_verify(const struct mlf_verify_options *o, struct mlf_verification *v,
	       struct mlf_error *err);

size_t mlf_verification_failed(const struct mlf_verification *v);
/* The "mlf.verification" report (a new reference). */
json_t *mlf_verification_json(const struct mlf_verification *v);
/* A table of every check for people; `color` adds ANSI colours. */
void mlf_verification_print(const struct mlf_verification *v, FILE *out, int color);
/* "prog: retrained_v1 (run ...): 38 checks passed", or the problems, one a line. */
void mlf_verification_summary(const struct mlf_verification *v, const char *prog, FILE *out);
void mlf_verification_release(struct mlf_verification *v);

#endif
