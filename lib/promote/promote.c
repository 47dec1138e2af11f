/*
 * Promotion and rollback (see mlf/promote.h): the target is verified as
 * mlf-verify would, the alias moves in the registry, the move is tagged on
 * the model version and appended to models/promotions.jsonl, and
 * models/champion.pt follows the champion.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/promote.h"

void mlf_promotion_release(struct mlf_promotion *p)
{
	char **all[] = { &p->alias, &p->registered_model, &p->from, &p->to, &p->run_id, &p->sha256,
			 &p->at, &p->by, &p->reason, &p->champion_file };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		free(*all[i]);
		*all[i] = NULL;
	}
	if (p->verified)
		mlf_verification_release(&p->verification);
	p->verified = 0;
}

json_t *mlf_promotion_json(const struct mlf_promotion *p)
{
	char version[32];
	snprintf(version, sizeof(version), "v%ld", p->n);
	json_t *doc = json_pack("{s:s, s:i, s:s?, s:s?, s:o, s:s?, s:s, s:s?, s:s?, s:b, s:b, s:s?, s:s?,"
				" s:s?, s:s?}",
				"kind", "mlf.promotion", "schema_version", 1, "registered_model",
				p->registered_model, "alias", p->alias, "from",
				mlf_json_string_or_null(p->from), "to", p->to, "version", version,
				"run_id", p->run_id, "sha256", p->sha256, "moved", p->moved,
				"rollback", p->rollback, "at", p->at, "by", p->by, "reason", p->reason,
				"champion_file", p->champion_file);
	if (p->verified)
		json_object_set_new(doc, "verification", mlf_verification_json(&p->verification));
	return doc;
}

/* ---- the files in models/ ---------------------------------------------------- */

struct files {
	char *models, *lock, *history, *champion_pt, *champion_json;
};

static void files_init(struct files *f, const struct mlf_config *cfg)
{
	f->models = mlf_config_path(cfg, "paths.models");
	f->lock = mlf_path_join(f->models, ".promote.lock");
	f->history = mlf_path_join(f->models, MLF_PROMOTIONS_FILE);
	f->champion_pt = mlf_path_join(f->models, "champion.pt");
	f->champion_json = mlf_path_join(f->models, "champion.json");
}

static void files_release(struct files *f)
{
	free(f->models);
	free(f->lock);
	free(f->history);
	free(f->champion_pt);
	free(f->champion_json);
}

static int append_record(const struct files *f, const struct mlf_promotion *p, const char *tool,
			 struct mlf_error *err)
{
	char version[32];
	snprintf(version, sizeof(version), "retrained_v%ld", p->n);
	json_t *line = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s?, s:b, s:s, s:s?, s:s}",
				 "format", "mlf.promotion", "at", p->at, "registered_model",
				 p->registered_model, "alias", p->alias, "from",
				 mlf_json_string_or_null(p->from), "to", p->to, "model", version, "run_id",
				 p->run_id, "rollback", p->rollback, "by", p->by, "reason", p->reason,
				 "tool", tool);
	if (!line)
		return mlf_fail(err, MLF_EX_SOFTWARE, "could not encode the promotion record");
	char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(line);
	struct mlf_buf b = MLF_BUF_INIT;
	mlf_buf_adds(&b, text);
	mlf_buf_addc(&b, '\n');
	free(text);
	int rc = mlf_append_file(f->history, b.data, b.len, err);
	mlf_buf_release(&b);
	return rc ? mlf_error_prefix(err, "recording the move in %s", f->history) : 0;
}

/* champion.pt becomes retrained_vN.pt, proven by its digest; then champion.json says so. */
static int follow_champion(const struct files *f, const struct mlf_config *cfg, struct mlf_promotion *p,
			   struct mlf_error *err)
{
	struct mlf_version_paths vp;
	mlf_version_paths_init(&vp, cfg, p->n);
	json_t *meta = json_load_file(vp.metadata, 0, NULL);
	const char *want = mlf_json_str(meta, "sha256", NULL);
	char sha[65];
	int rc = 0;
	if (!want)
		rc = mlf_fail(err, MLF_EX_DATAERR, "%s names no sha256 to check champion.pt against; "
			      "restore it (model-locate %ld)", vp.metadata, p->n);
	else if (mlf_copy_file_atomic(vp.model_pt, f->champion_pt, sha, err))
		rc = mlf_error_prefix(err, "copying %s to %s", vp.model_pt, f->champion_pt);
	else if (strcmp(sha, want))
		rc = mlf_fail(err, MLF_EX_IOERR, "%s was copied to %s with sha256 %s, but its metadata "
			      "says %s; the file changed: check it with mlf-verify --version %ld",
			      vp.model_pt, f->champion_pt, sha, want, p->n);
	if (!rc) {
		char version[32], file[48];
		snprintf(version, sizeof(version), "v%ld", p->n);
		snprintf(file, sizeof(file), "retrained_v%ld.pt", p->n);
		json_t *doc = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:O?, s:s?, s:s, s:s, s:s?}",
					"format", "mlf.champion", "schema_version", 1, "alias", p->alias,
					"version", version, "file", file, "sha256", sha,
					"registered_model", p->registered_model, "size",
					json_object_get(meta, "size"), "run_id", p->run_id,
					"registry_version", p->to, "promoted_at", p->at, "promoted_by", p->by);
		char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		json_decref(doc);
		rc = mlf_write_file_atomic(f->champion_json, text, strlen(text), err);
		free(text);
		if (!rc)
			p->champion_file = mlf_xstrdup(f->champion_pt);
	}
	json_decref(meta);
	mlf_version_paths_release(&vp);
	return rc;
}

/* ---- the registry -------------------------------------------------------------- */

/* The workspace version (its run's `version` tag) of registry version `version`. */
static int workspace_version(struct mlf_tracking *t, const char *name, const char *version, long *n,
			     struct mlf_error *err)
{
	struct mlf_model_version mv = { 0 };
	struct mlf_run run = { 0 };
	int rc = mlf_tracking_get_model_version(t, name, version, &mv, err);
	if (!rc && !mv.run_id)
		rc = mlf_fail(err, 1, "version %s of %s has no run: it was not made by retrain-run",
			      version, name);
	if (!rc)
		rc = mlf_tracking_get_run(t, mv.run_id, &run, err);
	const char *tag = rc ? NULL : mlf_kvs_get(&run.tags, "version");
	struct mlf_error e2 = MLF_ERROR_INIT;
	if (!rc && (!tag || mlf_version_parse(tag, n, &e2)))
		rc = mlf_fail(err, 1, "the run of version %s of %s (%s) names no version of a workspace "
			      "(its tag 'version' is %s)", version, name, mv.run_id, tag ? tag : "missing");
	mlf_run_release(&run);
	mlf_model_version_release(&mv);
	return rc ? -1 : 0;
}

/* The first few problems of a failed verification, for the one-line error. */
static void say_problems(const struct mlf_verification *v, struct mlf_buf *b)
{
	size_t shown = 0;
	for (size_t i = 0; i < v->n && shown < 3; i++)
		if (!v->checks[i].ok) {
			mlf_buf_addf(b, "%s%s", shown++ ? "; " : "", v->checks[i].detail);
		}
	if (mlf_verification_failed(v) > shown)
		mlf_buf_addf(b, "; and %zu more", mlf_verification_failed(v) - shown);
}

/* The sha256 retrained_vN_metadata.json records (verified to match every copy); NULL if none. */
static char *metadata_sha256(const struct mlf_config *cfg, long n)
{
	struct mlf_version_paths vp;
	mlf_version_paths_init(&vp, cfg, n);
	json_t *meta = json_load_file(vp.metadata, 0, NULL);
	const char *sha = mlf_json_str(meta, "sha256", NULL);
	char *out = sha ? mlf_xstrdup(sha) : NULL;
	json_decref(meta);
	mlf_version_paths_release(&vp);
	return out;
}

static int open_store(const struct mlf_config *cfg, struct mlf_tracking **t, struct mlf_error *err)
{
	struct mlf_tracking_options opts;
	if (mlf_config_tracking_options(cfg, &opts, err) || mlf_tracking_open(t, &opts, err))
		return -1;
	return 0;
}

/* The tag on the model version: the newest move of `alias` to it, in one value. */
static int tag_version(struct mlf_tracking *t, const struct mlf_promotion *p, struct mlf_error *err)
{
	json_t *v = json_pack("{s:s, s:s, s:o, s:b, s:s?}", "at", p->at, "by", p->by, "from",
			      mlf_json_string_or_null(p->from), "rollback", p->rollback, "reason", p->reason);
	char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char *key = mlf_xasprintf("mlf.promotion.%s", p->alias);
	int rc = mlf_tracking_set_model_version_tag(t, p->registered_model, p->to, key, text, err);
	free(key);
	free(text);
	json_decref(v);
	return rc;
}

/* Move, tag, record, follow; the alias goes back when the record cannot be written. */
static int move(const struct files *f, const struct mlf_config *cfg, struct mlf_tracking *t,
		struct mlf_promotion *p, const char *tool, struct mlf_error *err)
{
	if (p->moved) {
		if (mlf_tracking_set_alias(t, p->registered_model, p->alias, p->to, err))
			return mlf_error_prefix(err, "moving alias '%s' of %s to version %s", p->alias,
						p->registered_model, p->to);
		if (tag_version(t, p, err) || append_record(f, p, tool, err)) {
			struct mlf_error e2 = MLF_ERROR_INIT;
			if (p->from ? mlf_tracking_set_alias(t, p->registered_model, p->alias, p->from, &e2)
				    : mlf_tracking_delete_alias(t, p->registered_model, p->alias, &e2))
				mlf_error_prefix(err, "and alias '%s' could not be put back (%s)", p->alias,
						 e2.msg);
			else
				p->moved = 0;
			return -1;
		}
	}
	if (!strcmp(p->alias, MLF_CHAMPION_ALIAS) && follow_champion(f, cfg, p, err))
		return mlf_error_prefix(err, "alias '%s' points to version %s, but the serving copy did "
					"not follow (run model-promote %ld again to repair it)", p->alias,
					p->to, p->n);
	return 0;
}

static void stamp(struct mlf_promotion *p, const char *reason)
{
	p->at = mlf_now_rfc3339();
	p->by = mlf_login_name();
	p->reason = reason ? mlf_xstrdup(reason) : NULL;
}

int mlf_promote(const struct mlf_promote_options *o, struct mlf_promotion *p, struct mlf_error *err)
{
	struct files f;
	struct mlf_tracking *t = NULL;
	struct mlf_run run = { 0 };
	int lock = -1, rc = -1;
	memset(p, 0, sizeof(*p));
	p->alias = mlf_xstrdup(o->alias ? o->alias : MLF_CHAMPION_ALIAS);
	p->rollback = o->rollback;
	files_init(&f, o->cfg);
	if (mlf_mkdir_p(f.models, 0777, err) || mlf_lock(f.lock, 1, &lock, err) ||
	    open_store(o->cfg, &t, err))
		goto out;

	/* which version: named, or the one a rollback returns to */
	p->n = o->version;
	if (o->rollback) {
		char *exp_name = NULL, *text = NULL;
		size_t len = 0;
		struct mlf_experiment exp = { 0 };
		if (mlf_tracking_get_experiment(t, mlf_config_get(o->cfg, "experiment_id"), &exp, err))
			goto out;
		exp_name = mlf_xstrdup(exp.name);
		mlf_experiment_release(&exp);
		p->registered_model = mlf_config_registered_model(o->cfg, exp_name);
		free(exp_name);
		char *current = NULL, *target = NULL;
		if (mlf_tracking_alias_version(t, p->registered_model, p->alias, &current, err))
			goto out;
		if (!mlf_is_file(f.history)) {
			rc = mlf_fail(err, 1, "there is no %s: no move of alias '%s' is recorded to roll "
				      "back; name the version: model-promote N", f.history, p->alias);
		} else if (mlf_read_file(f.history, &text, &len, err)) {
			rc = -1;
		} else if (mlf_promotion_history_target(text, len, p->registered_model, p->alias,
							current, &target, err)) {
			rc = -1;
			if (err->status == MLF_EX_DATAERR)
				mlf_error_prefix(err, "%s", f.history);
		} else {
			rc = workspace_version(t, p->registered_model, target, &p->n, err);
		}
		free(text);
		free(current);
		free(target);
		if (rc)
			goto out;
		rc = -1;
	}

	/* the target must verify as mlf-verify would: FINISHED, its files all agreeing */
	struct mlf_verify_options vo = { .cfg = o->cfg, .version = p->n };
	int status = mlf_verify(&vo, &p->verification, err);
	p->verified = 1;
	if (status < 0)
		goto out;
	if (status) {
		struct mlf_buf b = MLF_BUF_INIT;
		say_problems(&p->verification, &b);
		if (status == 1)
			mlf_fail(err, 1, "version v%ld does not verify, so alias '%s' stays where it is: %s",
				 p->n, p->alias, b.data ? b.data : "see the verification");
		else
			mlf_fail(err, status, "version v%ld could not be verified: %s", p->n,
				 b.data ? b.data : "the store could not be asked");
		mlf_buf_release(&b);
		goto out;
	}
	p->run_id = mlf_xstrdup(p->verification.run_id);
	if (mlf_tracking_get_run(t, p->run_id, &run, err))
		goto out;
	const char *name = mlf_kvs_get(&run.tags, "registered_model");
	const char *version = mlf_kvs_get(&run.tags, "registry_version");
	if (!name || !version) {
		rc = mlf_fail(err, 1, "version v%ld (run %s) was never registered (no registered_model / "
			      "registry_version tags), so no alias can point to it", p->n, p->run_id);
		goto out;
	}
	if (p->registered_model && strcmp(p->registered_model, name)) {
		rc = mlf_fail(err, 1, "the history of %s leads to v%ld, which is registered in %s",
			      p->registered_model, p->n, name);
		goto out;
	}
	free(p->registered_model);
	p->registered_model = mlf_xstrdup(name);
	p->to = mlf_xstrdup(version);
	p->sha256 = metadata_sha256(o->cfg, p->n);
	if (mlf_tracking_alias_version(t, name, p->alias, &p->from, err))
		goto out;
	p->moved = !p->from || strcmp(p->from, p->to);
	stamp(p, o->reason);
	rc = move(&f, o->cfg, t, p, o->tool ? o->tool : "model-promote", err);
out:
	mlf_run_release(&run);
	mlf_tracking_close(t);
	if (lock >= 0)
		mlf_unlock(lock);
	files_release(&f);
	if (rc && err->status == 1)
		return 1;
	return rc;
}

int mlf_promote_record(const struct mlf_config *cfg, const char *name, const char *alias,
		       const char *from, const char *to, long n, const char *run_id,
		       const char *reason, const char *tool, struct mlf_error *err)
{
	struct files f;
	struct mlf_promotion p = { 0 };
	int lock = -1;
	files_init(&f, cfg);
	p.alias = mlf_xstrdup(alias);
	p.registered_model = mlf_xstrdup(name);
	p.from = from ? mlf_xstrdup(from) : NULL;
	p.to = mlf_xstrdup(to);
	p.n = n;
	p.run_id = mlf_xstrdup(run_id);
	p.sha256 = metadata_sha256(cfg, n);
	stamp(&p, reason);
	int rc = mlf_mkdir_p(f.models, 0777, err) || mlf_lock(f.lock, 1, &lock, err);
	/* once only: a start after a crash may record the same move again */
	json_t *last = rc ? NULL : mlf_promotion_history_last(f.history, name, alias);
	int recorded = last && !strcmp(mlf_json_str(last, "to", ""), to) &&
		       !strcmp(mlf_json_str(last, "run_id", ""), run_id) &&
		       !json_is_true(json_object_get(last, "rollback"));
	json_decref(last);
	rc = rc || (!recorded && append_record(&f, &p, tool, err)) ||
		 (!strcmp(alias, MLF_CHAMPION_ALIAS) && follow_champion(&f, cfg, &p, err));
	if (lock >= 0)
		mlf_unlock(lock);
	mlf_promotion_release(&p);
	files_release(&f);
	return rc ? -1 : 0;
}
