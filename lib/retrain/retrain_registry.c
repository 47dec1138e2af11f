/*
 * Registering the retrained model: a new version of the configured
 * registered model, alias "challenger" on it, and "champion" moved to it
 * by the promotion rule (registry.promote, compared on registry.metric).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/promote.h"
#include "retrain_internal.h"

int mlf_promote_parse(const char *text, enum mlf_promote *out)
{
	static const char *const names[] = { "if-better", "always", "never" };
	for (int i = 0; i < 3; i++)
		if (text && !strcmp(text, names[i])) {
			*out = (enum mlf_promote)i;
			return 0;
		}
	return -1;
}

static double run_metric(const struct mlf_run *run, const char *key)
{
	for (size_t i = 0; i < run->nmetrics; i++)
		if (!strcmp(run->metrics[i].key, key))
			return run->metrics[i].value;
	return NAN;
}

/* Should the champion alias move to our version?  *reason says why (allocated). */
static int decide(struct retrain *r, const char *name, enum mlf_promote rule, char **reason,
		  struct mlf_error *err)
{
	if (rule == MLF_PROMOTE_ALWAYS) {
		*reason = mlf_xstrdup("registry.promote is always");
		return 1;
	}
	if (rule == MLF_PROMOTE_NEVER) {
		*reason = mlf_xstrdup("registry.promote is never");
		return 0;
	}
	const char *metric = mlf_config_get(r->cfg, "registry.metric");
	/* Fair: both models measured on this version's validation split (step 5 measured the
	 * champion; the final validation, ours), the metric named without its val_ prefix. */
	const char *key = !strncmp(metric, "val_", 4) ? metric + 4 : metric;
	const json_t *theirs_now = json_object_get(r->champion, "metrics");
	double ours_now = NAN, champ_now = NAN;
	mlf_json_to_double(json_object_get(r->post, key), &ours_now);
	mlf_json_to_double(json_object_get(theirs_now, key), &champ_now);
	if (theirs_now && !isnan(ours_now) && !isnan(champ_now)) {
		int better = ours_now > champ_now;
		*reason = mlf_xasprintf("%s %.4f %s the champion's %.4f (version %s), both measured on "
					"this version's validation split", metric, ours_now,
					better ? "beats" : "does not beat", champ_now,
					mlf_json_str(r->champion, "version", "?"));
		return better;
	}
	struct mlf_model_version champion = { 0 };
	struct mlf_run ours = { 0 }, theirs = { 0 };
	int promote = -1;
	if (mlf_tracking_get_alias(r->t, name, "champion", &champion, err)) {
		if (err->kind != MLF_ERR_NOT_FOUND)
			return -1;
		mlf_error_clear(err);
		*reason = mlf_xstrdup("no champion yet");
		return 1;
	}
	if (mlf_tracking_get_run(r->t, r->run.run_id, &ours, err) ||
	    mlf_tracking_get_run(r->t, champion.run_id, &theirs, err)) {
		if (err->kind != MLF_ERR_NOT_FOUND)
			goto out;
		mlf_error_clear(err);
	}
	double mine = run_metric(&ours, metric), best = run_metric(&theirs, metric);
	if (isnan(mine)) {
		promote = mlf_fail(err, MLF_EX_CONFIG, "registry.metric '%s' is not a metric of run %s; "
				   "use one it logs, such as val_mAP50-95", metric, r->run.run_id);
		goto out;
	}
	if (isnan(best)) {
		*reason = mlf_xasprintf("the champion (version %s) has no %s", champion.version, metric);
		promote = 1;
	} else {
		promote = mine > best;
		*reason = mlf_xasprintf("%s %.4f %s the champion's %.4f (version %s), as its own run "
					"measured it on its own validation split: its model was not measured here",
					metric, mine, promote ? "beats" : "does not beat", best, champion.version);
	}
out:
	mlf_model_version_release(&champion);
	mlf_run_release(&ours);
	mlf_run_release(&theirs);
	return promote;
}

int retrain_register(struct retrain *r, struct mlf_error *err)
{
	const char *name = r->registered_model;
	enum mlf_promote rule;
	if (mlf_promote_parse(mlf_config_get(r->cfg, "registry.promote"), &rule))
		return mlf_fail(err, MLF_EX_CONFIG, "registry.promote is always, if-better or never, not '%s'",
				mlf_config_get(r->cfg, "registry.promote"));
	if (mlf_tracking_ensure_registered_model(r->t, name, err)) {
		if (err->kind != MLF_ERR_UNSUPPORTED)
			return -1;
		retrain_say(r, "not registered: %s", err->msg);
		json_decref(r->registry);
		r->registry = json_pack("{s:s}", "skipped", err->msg);
		mlf_error_clear(err);
		return retrain_mark_done(r, "register", json_incref(r->registry), err);
	}
	struct mlf_model_version v = { 0 };
	struct mlf_logged_model m = { 0 };
	if (retrain_log_model(r, &m, err))
		return mlf_error_prefix(err, "logging the MLflow Model");
	/* the version is of the logged model: its MLmodel is what MLflow's tools load */
	char *source = mlf_xasprintf("models:/%s", m.model_id);
	char *reason = NULL;
	int rc = mlf_tracking_create_model_version(r->t, name, source, r->run.run_id, m.model_id, &v, err);
	int promote = rc ? -1 : decide(r, name, rule, &reason, err);
	if (!rc && promote >= 0) {
		struct mlf_kvs tags = MLF_KVS_INIT;
		mlf_kvs_add(&tags, "registered_model", name);
		mlf_kvs_add(&tags, "registry_version", v.version);
		mlf_kvs_add(&tags, "mlf.promotion", reason);  /* the decision, and both numbers */
		rc = mlf_tracking_log_batch(r->t, r->run.run_id, NULL, 0, NULL, &tags, err);
		mlf_kvs_release(&tags);
		json_decref(r->registry);
		r->registry = json_pack("{s:s, s:s, s:[s, s*], s:b, s:s, s:O?, s:{s:s, s:s, s:s}}", "name",
					name, "version", v.version, "aliases", "challenger",
					promote ? "champion" : NULL, "promoted", promote, "reason", reason,
					"champion", r->champion, "logged_model", "model_id", m.model_id,
					"uri", source, "artifact_uri", m.artifact_uri);
		retrain_say(r, "registered %s version %s (to become challenger%s when the run finishes): %s",
			    name, v.version, promote ? " and champion" : "", reason);
	}
	free(reason);
	free(source);
	mlf_model_version_release(&v);
	mlf_logged_model_release(&m);
	if (rc || promote < 0)
		return -1;
	return retrain_mark_done(r, "register", json_incref(r->registry), err);
}

/*
 * See retrain_internal.h: the registry's champion version, its run's `version`
 * tag, and that version's models/ file in this workspace when its sha256 is
 * the one its metadata records.
 */
char *retrain_champion_file(struct retrain *r, char **version, char **run_id, const char **why,
			   struct mlf_error *err)
{
	struct mlf_model_version mv = { 0 };
	struct mlf_run run = { 0 };
	char *path = NULL;
	*version = *run_id = NULL;
	*why = NULL;
	if (mlf_tracking_get_alias(r->t, r->registered_model, "champion", &mv, err)) {
		if (err->kind != MLF_ERR_NOT_FOUND && err->kind != MLF_ERR_UNSUPPORTED)
			return NULL;
		mlf_error_clear(err);
		*why = "no champion yet";
		return NULL;
	}
	const char *tag = NULL;
	if (mv.run_id && !mlf_tracking_get_run(r->t, mv.run_id, &run, err))
		tag = mlf_kvs_get(&run.tags, "version");
	mlf_error_clear(err);
	long n;
	struct mlf_error e2 = MLF_ERROR_INIT;
	if (!tag || mlf_version_parse(tag, &n, &e2)) {
		*why = "the champion's run names no version of this workspace";
	} else {
		struct mlf_version_paths p;
		mlf_version_paths_init(&p, r->cfg, n);
		json_t *meta = json_load_file(p.metadata, 0, NULL);
		char sha[65];
		if (mlf_is_file(p.model_pt) && !mlf_sha256_file(p.model_pt, sha, NULL, &e2) &&
		    !strcmp(sha, mlf_json_str(meta, "sha256", "")))
			path = mlf_xstrdup(p.model_pt);
		else
			*why = "the champion's model file is not in this workspace's models/ (or differs "
			       "from its metadata)";
		json_decref(meta);
		mlf_version_paths_release(&p);
	}
	*version = mlf_xstrdup(mv.version);
	*run_id = mlf_xstrdup(mv.run_id);
	mlf_run_release(&run);
	mlf_model_version_release(&mv);
	return path;
}

/* ---- the aliases: moved just before FINISHED, put back if it fails ------- */

int retrain_move_aliases(struct retrain *r, struct mlf_error *err)
{
	const char *name = mlf_json_str(r->registry, "name", NULL);
	const json_t *aliases = json_object_get(r->registry, "aliases");
	const char *version = mlf_json_str(r->registry, "version", NULL);
	if (!name || !version || !json_array_size(aliases))
		return 0;  /* registry skipped (a store without one) */
	/* Where the aliases pointed before, saved before the first moves: a process
	 * killed in between leaves what the next start needs to put them back.  A
	 * resumed run keeps the record of its first attempt. */
	json_t *before = json_object_get(r->state, "aliases_before");
	if (!json_is_object(before) || json_is_true(json_object_get(r->state, "aliases_restored"))) {
		before = json_object();
		size_t i;
		json_t *a;
		json_array_foreach(aliases, i, a) {
			char *was;
			if (mlf_tracking_alias_version(r->t, name, json_string_value(a), &was, err)) {
				json_decref(before);
				return -1;
			}
			json_object_set_new(before, json_string_value(a), mlf_json_string_or_null(was));
			free(was);
		}
		json_object_set_new(r->state, "aliases_before", before);
		json_object_del(r->state, "aliases_restored");
		if (retrain_state_save(r, "RUNNING", NULL, err))
			return -1;
	}
	/* no run tag repeats them: the registry is the one truth about aliases, and a
	 * tag would go stale as soon as a later version took them */
	size_t i;
	json_t *a;
	json_array_foreach(aliases, i, a)
		if (mlf_tracking_set_alias(r->t, name, json_string_value(a), version, err))
			return -1;
	return 0;
}

int retrain_restore_aliases(struct mlf_tracking *t, json_t *state, struct mlf_error *err)
{
	const json_t *reg = json_object_get(json_object_get(state, "done"), "register");
	const char *name = mlf_json_str(reg, "name", NULL);
	const char *version = mlf_json_str(reg, "version", NULL);
	json_t *before = json_object_get(state, "aliases_before");
	if (!name || !version || !json_is_object(before) ||
	    json_is_true(json_object_get(state, "aliases_restored")))
		return 0;
	const char *alias;
	json_t *was;
	json_object_foreach(before, alias, was) {
		char *now;
		if (mlf_tracking_alias_version(t, name, alias, &now, err))
			return -1;
		int ours = now && !strcmp(now, version);
		free(now);
		if (!ours)  /* not moved yet, or moved on by someone else since: theirs to keep */
			continue;
		if (json_is_string(was) ? mlf_tracking_set_alias(t, name, alias, json_string_value(was), err)
					: mlf_tracking_delete_alias(t, name, alias, err))
			return mlf_error_prefix(err, "putting alias '%s' of %s back", alias, name);
	}
	json_object_set_new(state, "aliases_restored", json_true());
	return 0;
}

/*
 * Once FINISHED: each alias the run of `state` (its mlf_run.json) moved is
 * recorded in models/promotions.jsonl (what model-promote --rollback reads),
 * and models/champion.pt follows the champion.  Only aliases that still name
 * the run's version are recorded: one moved on since is history already
 * written by whoever moved it.  Idempotent (mlf_promote_record skips a move
 * already recorded), so a start after a crash can do it again; the state
 * says "moves_recorded" once done.  Returns 1 when the state changed.
 */
int retrain_record_moves_state(const struct mlf_config *cfg, struct mlf_tracking *t, json_t *state,
			       long n, const char *prog)
{
	const json_t *reg = json_object_get(json_object_get(state, "done"), "register");
	const char *name = mlf_json_str(reg, "name", NULL);
	const char *version = mlf_json_str(reg, "version", NULL);
	const char *run_id = mlf_json_str(state, "run_id", NULL);
	const json_t *before = json_object_get(state, "aliases_before");
	const char *status = mlf_json_str(state, "status", NULL);
	size_t i;
	json_t *a;
	if (!name || !version || !run_id || !json_is_object(before) || !status ||
	    strcmp(status, "FINISHED") || json_is_true(json_object_get(state, "moves_recorded")) ||
	    json_is_true(json_object_get(state, "aliases_restored")))
		return 0;
	int failed = 0;
	json_array_foreach(json_object_get(reg, "aliases"), i, a) {
		const char *alias = json_string_value(a);
		const char *was = mlf_json_str(before, alias, NULL);
		struct mlf_model_version mv = { 0 };
		struct mlf_error err = MLF_ERROR_INIT;
		if (!alias || (was && !strcmp(was, version)))
			continue;
		if (mlf_tracking_get_alias(t, name, alias, &mv, &err)) {
			failed |= err.kind != MLF_ERR_NOT_FOUND;
			continue;
		}
		int ours = mv.version && !strcmp(mv.version, version);
		mlf_model_version_release(&mv);
		if (!ours)
			continue;
		int champion = !strcmp(alias, MLF_CHAMPION_ALIAS);
		if (mlf_promote_record(cfg, name, alias, was, version, n, run_id,
				       champion ? mlf_json_str(reg, "reason", NULL) : "the newest retraining",
				       prog, &err)) {
			failed = 1;
			fprintf(stderr, "%s: warning: alias '%s' moved to version %s, but %s; repair with "
				"`model-promote %ld --alias %s`\n", prog, alias, version, err.msg, n, alias);
		}
	}
	if (failed)
		return 0;
	json_object_set_new(state, "moves_recorded", json_true());
	return 1;
}

void retrain_record_moves(struct retrain *r)
{
	struct mlf_error err = MLF_ERROR_INIT;
	if (retrain_record_moves_state(r->cfg, r->t, r->state, r->p.n, r->o->prog) &&
	    retrain_state_save(r, "FINISHED", NULL, &err))
		fprintf(stderr, "%s: %s\n", r->o->prog, err.msg);
}
