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
		*reason = mlf_xasprintf("%s %.4f %s the champion's %.4f (version %s)", metric, mine,
					promote ? "beats" : "does not beat", best, champion.version);
	}
out:
	mlf_model_version_release(&champion);
	mlf_run_release(&ours);
	mlf_run_release(&theirs);
	return promote;
}

int retrain_register(struct retrain *r, struct mlf_error *err)
{
	const char *name = mlf_config_get(r->cfg, "registered_model");
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
	char *source = mlf_xasprintf("%s/model", r->run.artifact_uri);
	char *reason = NULL;
	int rc = mlf_tracking_create_model_version(r->t, name, source, r->run.run_id, &v, err) ||
		 mlf_tracking_set_alias(r->t, name, "challenger", v.version, err);
	int promote = rc ? -1 : decide(r, name, rule, &reason, err);
	if (promote > 0)
		rc = mlf_tracking_set_alias(r->t, name, "champion", v.version, err);
	if (!rc && promote >= 0) {
		const char *aliases = promote ? "challenger,champion" : "challenger";
		struct mlf_kvs tags = MLF_KVS_INIT;
		mlf_kvs_add(&tags, "registered_model", name);
		mlf_kvs_add(&tags, "registry_version", v.version);
		mlf_kvs_add(&tags, "registry_aliases", aliases);
		rc = mlf_tracking_log_batch(r->t, r->run.run_id, NULL, 0, NULL, &tags, err);
		mlf_kvs_release(&tags);
		json_decref(r->registry);
		r->registry = json_pack("{s:s, s:s, s:[s, s*], s:b, s:s}", "name", name, "version", v.version,
					"aliases", "challenger", promote ? "champion" : NULL,
					"promoted", promote, "reason", reason);
		retrain_say(r, "registered %s version %s (challenger%s): %s", name, v.version,
			    promote ? ", champion" : "", reason);
	}
	free(reason);
	free(source);
	mlf_model_version_release(&v);
	if (rc || promote < 0)
		return -1;
	return retrain_mark_done(r, "register", json_incref(r->registry), err);
}
