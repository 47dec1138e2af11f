/*
 * mlf/check.h: the checks the programs report on.  Sections: mlf-validate's
 * checks before a retraining; mlf-verify's proof of what a retraining left
 * behind; model-locate's list of every copy of a model version.  Their
 * reports share one rule for which exit status wins (mlf_status_worse in
 * mlf/base.h).
 */
/*
 * The checks mlf-validate runs, as a library so other programs can run them
 * before starting work.  Each check is one entry of a report: a name, ok or
 * not, a detail saying what was found, and a hint saying what to do.
 *
 * Ownership: the report owns its checks and their strings;
 * mlf_report_release() frees them.  The configuration is borrowed.
 */
#ifndef MLF_CHECK_H
#define MLF_CHECK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mlf/base.h"
#include "mlf/config.h"
#include "mlf/tracking.h"

struct mlf_check {
	char *name;
	int ok;
	int skipped;
	int warning;    /* ok, but something the operator should look at (the hint says what) */
	int status;     /* exit status this failure implies (1, 69, 78) */
	char *detail;
	char *hint;     /* NULL when there is nothing to do */
};

struct mlf_report {
	struct mlf_check *checks;
	size_t n;
};

struct mlf_validate_options {
	int init;           /* create the experiment (exact id) and workspace folders */
	int probe;          /* create, read back and remove a probe run */
	const char *skip;   /* comma-separated check names not to run */
	int quiet;          /* no notes on stderr ("created experiment ...") */
};

/* Names of every check, in the order they run; NULL-terminated. */
extern const char *const mlf_check_names[];
/* A --skip list: 0 when every name in it is a check, else -1 with err (64). */
int mlf_validate_check_skip(const char *list, struct mlf_error *err);

/* Run the checks; returns the exit status: 0, 1, 69 or 78 (see mlf-validate(1)). */
int mlf_validate(const struct mlf_config *cfg, const struct mlf_validate_options *opts,
		 struct mlf_report *report);
int mlf_report_status(const struct mlf_report *report);
json_t *mlf_report_json(const struct mlf_report *report, const struct mlf_config *cfg);
void mlf_report_print(const struct mlf_report *report, FILE *out, int color);
void mlf_report_release(struct mlf_report *report);

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
 * Read all of `in` into `text` and parse it: 1 a skip document, 0 a run
 * document (*doc a new reference either way), -1 with err: 74 unreadable, 65
 * empty, not JSON, or not a document mlf-verify takes.
 */
int mlf_verify_read_input(FILE *in, struct mlf_buf *text, json_t **doc, struct mlf_error *err);

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

/*
 * Where one model version lives, and whether its copies agree: what
 * model-locate prints, and the local-copies part of mlf-verify.
 *
 * The locations of retrained_vN (mlf/config.h), in this order:
 *
 *   models            models/retrained_vN.pt
 *   quick_access      runs/train/retrained_vN.pt
 *   training          runs/train/retrain_vN/weights/best.pt
 *   safetensors       models/retrained_vN.safetensors   (listed, never compared:
 *                                                        other bytes by design)
 *   mlflow_artifact   <run artifact_uri>/models/retrained_vN.pt
 *   mlflow_model      <logged model artifact_uri>/data/retrained_vN.pt: the weights
 *                     of the MLflow Model its registry version is of (only when
 *                     the version is of a logged model)
 *
 * The .pt copies must be byte-identical and carry the sha256 written in
 * models/retrained_vN_metadata.json.  The MLflow run is the metadata's
 * run.run_id (or, without metadata, the one in runs/train/retrain_vN/
 * mlf_run.json); its registry version comes from the run's tags
 * registered_model / registry_version, confirmed with the registry, which
 * alone says where the aliases point.
 *
 * Ownership: struct mlf_location and struct mlf_locations own every string,
 * list and JSON value in them; the *_release() functions free them and
 * leave the struct safe to fill again.  Configurations, tracking handles
 * and runs passed in are borrowed for the call.
 */

enum mlf_location_kind {
	MLF_LOC_MODELS,
	MLF_LOC_QUICK,
	MLF_LOC_TRAINING,
	MLF_LOC_SAFETENSORS,
	MLF_LOC_ARTIFACT,
	MLF_LOC_MLFLOW_MODEL,
	MLF_LOC_COUNT
};

/* "models", "quick_access", "training", "safetensors", "mlflow_artifact", "mlflow_model". */
const char *mlf_location_kind_name(enum mlf_location_kind kind);
/* Whether a kind is one of the .pt copies that must agree. */
int mlf_location_compared(enum mlf_location_kind kind);
/* Whether a kind lives in the tracking store (where is a URI, not a path). */
int mlf_location_remote(enum mlf_location_kind kind);

struct mlf_location {
	enum mlf_location_kind kind;
	char *where;       /* local path, or the artifact's URI; NULL when unknown (no run) */
	int exists;        /* 1 yes, 0 no, -1 could not tell (see error) */
	uint64_t size;
	char sha256[65];   /* "" until read */
	char mtime[32];    /* RFC 3339 UTC; "" for the artifact, whose store keeps none */
	char *error;       /* why it could not be read or looked for; NULL */
};

/* Look at a local file: exists, size, sha256 and mtime, or an error naming it. */
void mlf_location_probe_file(struct mlf_location *loc, enum mlf_location_kind kind,
			     const char *path);
/*
 * Look at a run's artifact: download it into a fresh folder under $TMPDIR
 * (or /tmp), hash it and remove the folder.  A missing artifact is
 * exists = 0 and returns 0; any other failure sets exists = -1 and
 * loc->error, and returns -1 with err filled (err->status 69 when the
 * store is unreachable).
 */
int mlf_location_probe_artifact(struct mlf_location *loc, struct mlf_tracking *t,
				const struct mlf_run *run, const char *artifact_path,
				struct mlf_error *err);
/*
 * Look at the weights of the MLflow Model registry version `version` of
 * `name` is of: 0 with loc->where NULL when the version is not of a logged
 * model (made before mlf logged them); otherwise as mlf_location_probe_artifact.
 */
int mlf_location_probe_mlflow_model(struct mlf_location *loc, struct mlf_tracking *t,
				    const char *name, const char *version, const char *model_name,
				    struct mlf_error *err);
void mlf_location_release(struct mlf_location *loc);

/* ---- registry helpers (shared with mlf-verify) -------------------------- */

/* Compare two registry versions ("3" < "12") numerically into *cmp (-1, 0, 1);
 * -1 when either is not a decimal number. */
int mlf_registry_version_cmp(const char *a, const char *b, int *cmp);

enum mlf_alias_verdict {
	MLF_ALIAS_HERE,      /* points to our version */
	MLF_ALIAS_MOVED_ON,  /* points to a newer version: a later retraining took it */
	MLF_ALIAS_OLDER,     /* points to an older version: moved back, or never set */
	MLF_ALIAS_NOWHERE,   /* not set at all */
	MLF_ALIAS_INVALID,   /* a version that is not a number */
};

/* Where an alias set for version `ours` points now (`now` NULL = not set). */
enum mlf_alias_verdict mlf_alias_judge(const char *ours, const char *now);

/*
 * The promotion history, models/promotions.jsonl: one JSON object a line,
 * oldest first, appended by model-promote and retrain-run each time they
 * move an alias (mlf/promote.h writes it):
 *
 *   {"format": "mlf.promotion", "at", "registered_model", "alias",
 *    "from" (the registry version it left, null when unset), "to",
 *    "model" (retrained_vN), "run_id", "rollback" (bool), "by", "reason", "tool"}
 *
 * A rollback undoes the newest forward move of the alias not undone yet: the
 * history replays as a stack (a forward move pushes the version it left, a
 * rollback pops), and its top is where a rollback goes.
 */
#define MLF_PROMOTIONS_FILE "promotions.jsonl"

/*
 * Which registry version a rollback of `alias` of `name` returns to, from the
 * text of the history and the version the alias points to now (NULL: unset).
 * *target is a new string.  -1 with err: 65 naming a damaged line; 1 when
 * nothing is recorded, nothing is earlier, or the registry disagrees with the
 * history's last move (the alias was moved outside mlf).
 */
int mlf_promotion_history_target(const char *text, size_t len, const char *name, const char *alias,
				 const char *current, char **target, struct mlf_error *err);
/* The newest record at `path` that rolled `alias` of `name` back from `version`
 * (a new reference), or NULL: none, no file, or a damaged one. */
json_t *mlf_promotion_history_rollback_from(const char *path, const char *name, const char *alias,
					    const char *version);
/* The newest record at `path` of `alias` of `name` (a new reference), or NULL as above. */
json_t *mlf_promotion_history_last(const char *path, const char *name, const char *alias);


/* ---- everything about one version (model-locate) ------------------------ */

struct mlf_locations {
	long n;
	char version[24];             /* "vN" */
	struct mlf_version_paths paths;
	json_t *metadata;             /* retrained_vN_metadata.json, or NULL */
	char *metadata_error;         /* why there is no usable metadata; NULL */
	const char *metadata_sha256;  /* borrowed from `metadata`; NULL when absent */
	struct mlf_location loc[MLF_LOC_COUNT];

	/* The MLflow run: all NULL when no run is known. */
	char *run_id;
	char *experiment_id;
	char *run_status;             /* "FINISHED", ... ; NULL when the run could not be read */
	char *tracking_uri;           /* redacted */
	char *run_error;

	/* Its registry version, from the run's tags (immutable facts); its aliases from
	 * the registry, the one truth about them.  reg_name NULL when none. */
	char *reg_name;
	char *reg_version;
	struct mlf_kvs aliases;       /* aliases on this version now */
	char *reg_error;              /* the registry contradicts the tags, or cannot be read */
	char *reg_note;               /* e.g. unconfirmed: the store keeps no registry */

	int agree;                    /* every .pt copy present, and all equal to metadata_sha256 */
	int deployable;               /* agree, and its run is known and FINISHED */
	int status;                   /* the exit status: 0, 1, 69 or 78 */
};

/*
 * Look up every location of version n.  Returns the exit status (0, 1,
 * 69, 78; see model-locate(1)) with *out filled, or -1 with err filled
 * (status 66) when the workspace holds no trace of the version at all.
 * *out must be released either way.
 */
int mlf_locate(const struct mlf_config *cfg, long n, struct mlf_locations *out,
	       struct mlf_error *err);
/* The "mlf.locations" document (a new reference). */
json_t *mlf_locations_json(const struct mlf_locations *l);
/* An aligned table for people. */
void mlf_locations_print(const struct mlf_locations *l, FILE *out);
/* One line (more when something is wrong) saying whether the copies agree. */
void mlf_locations_summary(const struct mlf_locations *l, const char *prog, FILE *out);
void mlf_locations_release(struct mlf_locations *l);

#endif
