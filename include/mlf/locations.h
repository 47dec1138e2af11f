/*
 * Where one model version lives, and whether its copies agree: what
 * model-locate prints, and the local-copies part of mlf-verify.
 *
 * The locations of retrained_vN (mlf/versions.h), in this order:
 *
 *   models            models/retrained_vN.pt
 *   quick_access      runs/train/retrained_vN.pt
 *   training          runs/train/retrain_vN/weights/best.pt
 *   safetensors       models/retrained_vN.safetensors   (listed, never compared:
 *                                                        other bytes by design)
 *   mlflow_artifact   <run artifact_uri>/model/retrained_vN.pt
 *
 * The four .pt copies must be byte-identical and carry the sha256 written in
 * models/retrained_vN_metadata.json.  The MLflow run is the metadata's
 * run.run_id (or, without metadata, the one in runs/train/retrain_vN/
 * mlf_run.json); its registry version comes from the run's tags
 * registered_model / registry_version / registry_aliases, confirmed with
 * the registry where the store has one.
 *
 * Ownership: struct mlf_location and struct mlf_locations own every string,
 * list and JSON value in them; the *_release() functions free them and
 * leave the struct safe to fill again.  Configurations, tracking handles
 * and runs passed in are borrowed for the call.
 */
#ifndef MLF_LOCATIONS_H
#define MLF_LOCATIONS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "mlf/config.h"
#include "mlf/error.h"
#include "mlf/tracking.h"
#include "mlf/versions.h"

enum mlf_location_kind {
	MLF_LOC_MODELS,
	MLF_LOC_QUICK,
	MLF_LOC_TRAINING,
	MLF_LOC_SAFETENSORS,
	MLF_LOC_ARTIFACT,
	MLF_LOC_COUNT
};

/* "models", "quick_access", "training", "safetensors", "mlflow_artifact". */
const char *mlf_location_kind_name(enum mlf_location_kind kind);
/* Whether a kind is one of the .pt copies that must agree. */
int mlf_location_compared(enum mlf_location_kind kind);

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

/* "challenger, champion" -> keys of *out in order, trimmed, without empties
 * or repeats (values ""). */
void mlf_alias_list_parse(const char *text, struct mlf_kvs *out);

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

	/* Its registry version, from the run's tags; reg_name NULL when none. */
	char *reg_name;
	char *reg_version;
	struct mlf_kvs aliases;       /* aliases on this version now */
	struct mlf_kvs moved;         /* alias -> the version it points to now (not ours) */
	char *reg_error;              /* the registry contradicts the tags, or cannot be read */
	char *reg_note;               /* e.g. unconfirmed: the store keeps no registry */

	int agree;                    /* every .pt copy present, and all equal to metadata_sha256 */
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
