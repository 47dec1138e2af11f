/*
 * mlf/promote.h: moving a registry alias to a verified model version, and
 * back, with a record of every move and one stable file for serving.
 *
 * In the workspace's models/ folder (paths.models):
 *
 *   champion.pt         a byte copy of the champion's retrained_vN.pt: the one
 *                       path a serving application loads; replaced atomically
 *   champion.json       which version champion.pt is ("format": "mlf.champion")
 *   promotions.jsonl    one line per move of an alias (mlf/check.h reads it)
 *   .promote.lock       held while an alias and these files change
 *
 * The registry is the truth about where an alias points; the files follow
 * it.  A rollback goes where mlf_promotion_history_target() says.
 *
 * Ownership: struct mlf_promotion owns its strings and its verification;
 * mlf_promotion_release() frees them.  Options are borrowed for the call.
 */
#ifndef MLF_PROMOTE_H
#define MLF_PROMOTE_H

#include <jansson.h>
#include <stddef.h>

#include "mlf/base.h"
#include "mlf/check.h"
#include "mlf/config.h"
#include "mlf/tracking.h"

#define MLF_CHAMPION_ALIAS "champion"

struct mlf_promote_options {
	const struct mlf_config *cfg;
	long version;         /* retrained_vN to promote; 0 with rollback */
	int rollback;         /* move the alias back to the version that held it before */
	const char *alias;    /* default "champion" */
	const char *reason;   /* why, as the operator says it; NULL: a default sentence */
	const char *tool;     /* who writes the record: "model-promote" */
};

struct mlf_promotion {
	char *alias;
	char *registered_model;
	char *from;             /* registry version the alias left; NULL when it was unset */
	char *to;               /* registry version it points to now */
	long n;                 /* the workspace's retrained_vN of `to` */
	char *run_id;
	char *sha256;           /* of retrained_vN.pt */
	char *at, *by, *reason;
	int rollback;
	int moved;              /* 0 when the alias already pointed there */
	char *champion_file;    /* models/champion.pt when this alias is champion; NULL otherwise */
	struct mlf_verification verification;  /* the check the target passed (or failed) */
	int verified;           /* verification was filled */
};

/*
 * Promote (or roll back) as the options say.  Returns 0 with *p filled; 1
 * when the target does not verify or there is nothing to roll back to (the
 * error says why, *p holds what is known); -1 with err otherwise (64 bad
 * alias, 66 no such version, 69/78 the store, 74 the files, 75 the lock).
 * *p must be released either way.
 */
int mlf_promote(const struct mlf_promote_options *o, struct mlf_promotion *p,
		struct mlf_error *err);

/*
 * For retrain-run, which moves aliases itself when its run finishes: record
 * that `alias` of `name` moved from `from` (NULL: unset) to version `to`
 * (retrained_vN `n`, run `run_id`), and make champion.pt follow when the
 * alias is champion.  Takes the promotion lock.  A move the history already
 * ends with (same version, same run) is not recorded twice.
 */
int mlf_promote_record(const struct mlf_config *cfg, const char *name, const char *alias,
		       const char *from, const char *to, long n, const char *run_id,
		       const char *reason, const char *tool, struct mlf_error *err);

/* The "mlf.promotion" document (a new reference). */
json_t *mlf_promotion_json(const struct mlf_promotion *p);
void mlf_promotion_release(struct mlf_promotion *p);

#endif
