/*
 * What the steps of a retraining share (lib/retrain/).  One struct retrain
 * lives for one mlf_retrain() call and owns everything in it; retrain.c
 * releases it.
 */
#ifndef MLF_RETRAIN_INTERNAL_H
#define MLF_RETRAIN_INTERNAL_H

#include <jansson.h>

#include "mlf/torch/retrain.h"
#include "mlf/tracking.h"
#include "mlf/torch/train.h"
#include "mlf/config.h"

struct retrain {
	const struct mlf_retrain_options *o;
	const struct mlf_config *cfg;
	struct mlf_version_paths p;
	char *experiment_id;
	json_t *dataset;           /* the dataset document (a reference) */
	json_t *state;             /* mlf_run.json as it is being kept */
	int lock_fd;
	int resuming;

	struct mlf_tracking *t;
	struct mlf_run run;        /* run_id, artifact_uri once started */
	int run_started;

	char *base_model;          /* absolute */
	char base_sha[65];
	char *model_type;          /* "yolov8n" */
	json_t *classes;           /* ["cat", ...] */
	char *data_yaml;
	char device_name[16];

	struct mlf_train_options train;
	struct mlf_train_result result;
	json_t *pre, *post;        /* {"precision":..,"recall":..,"mAP50":..,"mAP50-95":..,"fitness":..} */
	json_t *champion;          /* {"version", "run_id", "metrics": {as pre}} measured in step 5 on this
				      version's validation split; NULL when there is no champion to measure */
	json_t *pending;           /* metrics the store did not take yet: [{key,value,timestamp,step}] */
	struct retrain_logger *logger;  /* while training: the thread that logs epoch metrics */
	double store_away_s;       /* how long the store was away while training */
	size_t records_waited;     /* metric records that could not be sent at once */

	char model_sha[65];        /* retrained_vN.pt */
	uint64_t model_size;
	char st_sha[65];
	uint64_t st_size;
	char *st_path;             /* runs/train/retrained_vN.safetensors */
	char *metadata_text;       /* retrained_vN_metadata.json's bytes */
	char *registered_model;    /* mlf_config_registered_model, once the experiment is open */
	json_t *registry;          /* {"name", "version", "aliases", "promoted", "reason"} or {"skipped"} */
	json_t *artifact_location; /* the mlflow_artifact location entry */
	int published;             /* models/ files written */

	double t0, train_seconds, eval_seconds;
	json_t *step_seconds;      /* {"setup": s, "experiment": s, ...}: where the time went */
	const char *step;          /* the step in progress, for messages and mlf_run.json */
	json_t *reconciled;        /* runs a dead retrain-run left RUNNING, closed at the start */
};

/*
 * End FAILED this workspace's runs left RUNNING (on this host) by a
 * retrain-run that died; the caller holds the workspace lock, which proves
 * none of them has a live process.  Each is appended to `closed`, said on
 * stderr, and its reason says who closed it (`by`) and how to resume it.
 */
int retrain_sweep_runs(const struct mlf_config *cfg, struct mlf_tracking *t, json_t *closed,
		       json_t *removed, const char *by, struct mlf_error *err);
/*
 * The one recovery path, run by whoever holds the workspace lock (every
 * retrain-run start, the skip path, --sweep): retrain_sweep_runs, then every
 * mlf_run.json still saying RUNNING whose run has ended in the store takes
 * the store's status (appended to `closed` with "mlf_run_json").
 */
int retrain_reconcile(const struct mlf_config *cfg, struct mlf_tracking *t, json_t *closed,
		      json_t *removed, const char *by, struct mlf_error *err);
/* "removed PATH, left half-written ..." on stderr for each of `removed` (JSON strings). */
void retrain_say_removed(const char *prog, int quiet, const json_t *removed);
/* retrain_reconcile on a store opened here, then the temporary files of dead
 * writers under models/ and runs/train/ removed (appended to `removed`). */
int retrain_recover(const struct mlf_config *cfg, json_t *closed, json_t *removed, const char *by,
		    struct mlf_error *err);

/* retrain_setup.c */
int retrain_setup(struct retrain *r, struct mlf_error *err);
int retrain_open_experiment(struct retrain *r, struct mlf_error *err);
int retrain_train_options(struct retrain *r, struct mlf_error *err);

/* retrain_state.c: mlf_run.json */
json_t *retrain_state_read(const char *path, struct mlf_error *err);
int retrain_state_save(struct retrain *r, const char *status, const char *reason,
		       struct mlf_error *err);

/* retrain.c: enter a step (for messages, mlf_run.json and the failpoints) */
void retrain_step(struct retrain *r, const char *name);
/* retrain.c: record a finished step (and what resuming needs of it) in mlf_run.json */
int retrain_mark_done(struct retrain *r, const char *step, json_t *what, struct mlf_error *err);

/* retrain_log.c */
int retrain_start_run(struct retrain *r, struct mlf_error *err);
int retrain_log_params(struct retrain *r, struct mlf_error *err);
int retrain_log_dataset(struct retrain *r, struct mlf_error *err);
int retrain_evaluate_base(struct retrain *r, struct mlf_error *err);
int retrain_on_epoch(const struct mlf_train_epoch *e, void *ctx, struct mlf_error *err);
int retrain_log_final(struct retrain *r, struct mlf_error *err);
int retrain_flush_pending(struct retrain *r, struct mlf_error *err);
json_t *retrain_val_json(const struct mlf_val_summary *v);
int retrain_set_tag(struct retrain *r, const char *key, const char *value, struct mlf_error *err);

/* retrain_store.c */
int retrain_store(struct retrain *r, struct mlf_error *err);
int retrain_log_artifacts(struct retrain *r, struct mlf_error *err);
int retrain_check_artifacts(struct retrain *r, struct mlf_error *err);
int retrain_publish(struct retrain *r, struct mlf_error *err);
void retrain_unpublish(struct retrain *r);

/* retrain_registry.c: the version is made in step 10, its aliases move in step 12 */
/*
 * The champion's model file in this workspace (allocated), to measure it
 * (step 5) or start from it (train.start_from: champion); *version and
 * *run_id the champion's (allocated, NULL when there is no champion).  NULL
 * with *why set when there is none to use here; NULL with *why NULL and err
 * set when the store failed.
 */
char *retrain_champion_file(struct retrain *r, char **version, char **run_id, const char **why,
			    struct mlf_error *err);
int retrain_register(struct retrain *r, struct mlf_error *err);
/* retrain_logger.c: epoch metrics off the training path (see there) */
int retrain_logger_start(struct retrain *r, struct mlf_error *err);
void retrain_logger_add(struct retrain *r, const struct mlf_metric *m, size_t n);
/* Sends what it can, stops; what is left is r->pending.  Safe without a logger. */
void retrain_logger_stop(struct retrain *r);
/* What a logger killed during an outage left on disk (a new array), or NULL. */
json_t *retrain_logger_spill_read(struct retrain *r);
/* A metric as the queue, the spill file and mlf_run.json's "pending" keep it:
 * {"key", "value" (NaN and infinities as strings), "timestamp", "step"}. */
json_t *retrain_metric_json(const struct mlf_metric *m);
/* The first n of such a list into m[0..n) (keys are new strings). */
void retrain_metrics_from_json(const json_t *list, size_t n, struct mlf_metric *m);
/* Called once mlf_run.json holds r->pending: the spill is removed (not while training). */
void retrain_logger_spill_done(struct retrain *r);
/* retrain_mlmodel.c: the model as an MLflow 3 LoggedModel, READY and the run's output;
 * *m is filled (release it) and its id kept in mlf_run.json. */
int retrain_log_model(struct retrain *r, struct mlf_logged_model *m, struct mlf_error *err);
/* Point the aliases step 10 chose at our version, after saving in mlf_run.json
 * ("aliases_before") where they pointed, so that a failure can put them back. */
int retrain_move_aliases(struct retrain *r, struct mlf_error *err);
/* Once FINISHED: record each alias moved in models/promotions.jsonl and make
 * models/champion.pt follow the champion (mlf/promote.h); warns on failure. */
void retrain_record_moves(struct retrain *r);
/* The same for the mlf_run.json `state` of version n, at a later start (see
 * retrain_registry.c); 1 when `state` changed and should be saved. */
int retrain_record_moves_state(const struct mlf_config *cfg, struct mlf_tracking *t, json_t *state,
			       long n, const char *prog);
/* Put back the aliases `state` (an mlf_run.json) records as moved, each only if it
 * still names our version; marks the state "aliases_restored" (the caller saves it). */
int retrain_restore_aliases(struct mlf_tracking *t, json_t *state, struct mlf_error *err);

/* retrain_doc.c */
json_t *retrain_doc_success(struct retrain *r);
json_t *retrain_doc_failure(struct retrain *r, const char *status, const struct mlf_error *err);

/* Step lines on stderr ("retrain-run: [4/12] evaluating the base model"). */
void retrain_say(struct retrain *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
