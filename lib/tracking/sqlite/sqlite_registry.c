/*
 * The model registry in the sqlite:/// backend: registered models, their
 * numbered versions, and aliases that point at a version.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mlf/base.h"
#include "sqlite_internal.h"

#define MAX_MODEL_VERSION_SOURCE 500
#define MAX_ALIAS 255

static int check_model_name(const char *name, struct mlf_error *err)
{
	if (!name || !*name)
		return mlf_fail(err, MLF_EX_USAGE, "registered model name is empty");
	if (strpbrk(name, "/:"))
		return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
				     "registered model name '%s' has '/' or ':', which MLflow refuses", name);
	return 0;
}

static int check_model(struct sqlite_store *s, const char *name, struct mlf_error *err)
{
	int rc = mlf_sq_exists(s, "reading registered models", err,
			       "SELECT 1 FROM registered_models WHERE name = ?", "s", name);
	if (rc == 0)
		return mlf_sq_not_found(err, "registered model '%s' not found in %s", name, s->uri);
	return rc < 0 ? -1 : 0;
}

int mlf_sq_ensure_registered_model(void *impl, const char *name, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	int64_t now = mlf_now_ms();
	if (check_model_name(name, err) || mlf_sq_tx_begin_write(s, err))
		return -1;
	int rc = mlf_sq_exec(s, "creating the registered model", err,
			     "INSERT OR IGNORE INTO registered_models "
			     "(name, creation_time, last_updated_time) VALUES (?, ?, ?)",
			     "sii", name, now, now);
	return mlf_sq_tx_end(s, rc, err);
}

/* Fill `out` with version `version` of `name` (deleted versions are invisible, as in MLflow). */
static int load_version(struct sqlite_store *s, const char *name, int64_t version,
			struct mlf_model_version *out, struct mlf_error *err)
{
	sqlite3_stmt *st;
	memset(out, 0, sizeof(*out));
	if (mlf_sq_prepare(s, &st, "reading a model version", err,
			   "SELECT source, run_id, status FROM model_versions WHERE name = ? AND version = ? "
			   "AND (current_stage IS NULL OR current_stage != 'Deleted_Internal')",
			   "si", name, version))
		return -1;
	int rc = mlf_sq_step(s, st, "reading a model version", err);
	if (rc == 1) {
		out->name = mlf_xstrdup(name);
		out->version = mlf_xasprintf("%" PRId64, version);
		out->source = mlf_sq_col_str(st, 0);
		out->run_id = mlf_sq_col_str(st, 1);
		out->status = mlf_sq_col_str(st, 2);
	}
	sqlite3_finalize(st);
	if (rc == 0) {
		char v[24];
		snprintf(v, sizeof(v), "%" PRId64, version);
		mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
			      "version %s of registered model '%s' not found in %s", v, name, s->uri);
	}
	if (rc != 1)
		return -1;
	/* Aliases are a list of names: the values stay empty. */
	if (mlf_sq_load_kvs(s, "reading model aliases", &out->aliases, err,
			    "SELECT alias, '' FROM registered_model_aliases WHERE name = ? AND version = ? "
			    "ORDER BY alias", "si", name, version) == 0)
		return 0;
	mlf_model_version_release(out);
	return -1;
}

static int insert_version(struct sqlite_store *s, const char *name, const char *source,
			  const char *run_id, const char *model_id, int64_t *version,
			  struct mlf_error *err)
{
	sqlite3_stmt *st;
	int64_t now = mlf_now_ms();
	if (check_model(s, name, err))
		return -1;
	/* The write lock is held since BEGIN IMMEDIATE, so max+1 cannot race. */
	if (mlf_sq_prepare(s, &st, "numbering the model version", err,
			   "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = ?",
			   "s", name))
		return -1;
	int rc = mlf_sq_step(s, st, "numbering the model version", err);
	if (rc == 1)
		*version = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc == 0)  /* an aggregate always yields a row; none means the database is damaged */
		return mlf_fail(err, MLF_EX_DATAERR, "no next version number for registered model '%s'",
				name);
	if (rc != 1)
		return -1;
	/* As MLflow outside Databricks: no run_link; stage "None"; storage_location the
	 * logged model's files when it is one's, else the source. */
	char *location = NULL;
	if (model_id && mlf_sq_model_version_of_model(s, model_id, name, *version, &location, err))
		return -1;
	rc = mlf_sq_exec(s, "creating the model version", err,
			     "INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
			     "description, user_id, current_stage, source, run_id, status, status_message, "
			     "run_link, storage_location) VALUES "
			     "(?1, ?2, ?3, ?3, NULL, NULL, 'None', ?4, ?5, 'READY', NULL, NULL, ?6)",
			     "siisss", name, *version, now, source, run_id && *run_id ? run_id : NULL,
			     location ? location : source);
	free(location);
	if (rc)
		return -1;
	return mlf_sq_exec(s, "updating the registered model", err,
			   "UPDATE registered_models SET last_updated_time = ? WHERE name = ?",
			   "is", now, name);
}

int mlf_sq_create_model_version(void *impl, const char *name, const char *source,
				const char *run_id, const char *model_id, struct mlf_model_version *out,
				struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	int64_t version = 0;

	memset(out, 0, sizeof(*out));
	if (check_model_name(name, err))
		return -1;
	if (!source || !*source)
		return mlf_fail(err, MLF_EX_USAGE, "a model version needs a source");
	if (mlf_sq_too_long("model version source", source, MAX_MODEL_VERSION_SOURCE, err) ||
	    mlf_sq_tx_begin_write(s, err))
		return -1;
	int rc = insert_version(s, name, source, run_id, model_id, &version, err);
	if (rc == 0)
		rc = load_version(s, name, version, out, err);
	if (mlf_sq_tx_end(s, rc, err)) {
		if (rc == 0)
			mlf_model_version_release(out);
		return -1;
	}
	return 0;
}

static int parse_version(const char *name, const char *version, int64_t *out, struct mlf_error *err)
{
	if (mlf_sq_parse_id(version, out) == 0 && *out > 0)
		return 0;
	return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
			     "model version '%s' of '%s' is not a positive integer", version ? version : "",
			     name);
}

int mlf_sq_get_model_version(void *impl, const char *name, const char *version,
			     struct mlf_model_version *out, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	int64_t v;
	memset(out, 0, sizeof(*out));
	if (check_model_name(name, err) || parse_version(name, version, &v, err) ||
	    mlf_sq_tx_begin_read(s, err))
		return -1;
	int rc = load_version(s, name, v, out, err);
	mlf_sq_tx_rollback(s);
	return rc;
}

static int check_alias(const char *alias, struct mlf_error *err)
{
	if (!alias || !*alias)
		return mlf_fail(err, MLF_EX_USAGE, "model alias is empty");
	if (mlf_sq_too_long("model alias", alias, MAX_ALIAS, err))
		return -1;
	for (const unsigned char *p = (const unsigned char *)alias; *p; p++)
		if (!(*p >= 0x80 || *p == '_' || *p == '-' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
					     "model alias '%s' may hold only letters, digits, '_' and '-'",
					     alias);
	return 0;
}

/* "latest" and v<digits> mean something else to MLflow, so they cannot be set. */
static int reserved_alias(const char *alias)
{
	if (!strcasecmp(alias, "latest"))
		return 1;
	if ((alias[0] != 'v' && alias[0] != 'V') || !alias[1])
		return 0;
	return strspn(alias + 1, "0123456789") == strlen(alias + 1);
}

/* In a transaction: 0 when version v of model `name` exists, else -1 naming what is not. */
static int version_exists(struct sqlite_store *s, const char *name, int64_t v, struct mlf_error *err)
{
	struct mlf_model_version mv;
	if (check_model(s, name, err) || load_version(s, name, v, &mv, err))
		return -1;
	mlf_model_version_release(&mv);
	return 0;
}

int mlf_sq_set_alias(void *impl, const char *name, const char *alias, const char *version,
		     struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	int64_t v;

	if (check_model_name(name, err) || check_alias(alias, err) ||
	    parse_version(name, version, &v, err))
		return -1;
	if (reserved_alias(alias))
		return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
				     "model alias '%s' is reserved by MLflow; choose another", alias);
	if (mlf_sq_tx_begin_write(s, err))
		return -1;
	int rc = version_exists(s, name, v, err);
	if (rc == 0)
		rc = mlf_sq_exec(s, "setting the alias", err,
				 "INSERT OR REPLACE INTO registered_model_aliases (alias, version, name) "
				 "VALUES (?, ?, ?)", "sis", alias, v, name);
	return mlf_sq_tx_end(s, rc, err);
}

int mlf_sq_set_model_version_tag(void *impl, const char *name, const char *version, const char *key,
				 const char *value, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	int64_t v;

	if (check_model_name(name, err) || parse_version(name, version, &v, err))
		return -1;
	if (mlf_sq_tx_begin_write(s, err))
		return -1;
	int rc = version_exists(s, name, v, err);
	if (rc == 0)
		rc = mlf_sq_exec(s, "tagging the model version", err,
				 "INSERT OR REPLACE INTO model_version_tags (\"key\", value, name, version) "
				 "VALUES (?, ?, ?, ?)", "sssi", key, value, name, v);
	return mlf_sq_tx_end(s, rc, err);
}

int mlf_sq_list_model_versions(void *impl, const char *name, struct mlf_kvs *out,
			       struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	if (check_model_name(name, err) || mlf_sq_tx_begin_read(s, err))
		return -1;
	int rc = mlf_sq_load_kvs(s, "listing model versions", out, err,
				 "SELECT CAST(version AS TEXT), COALESCE(run_id, '') FROM model_versions "
				 "WHERE name = ? AND (current_stage IS NULL OR current_stage != 'Deleted_Internal') "
				 "ORDER BY version", "s", name);
	mlf_sq_tx_rollback(s);
	return rc;
}

int mlf_sq_delete_alias(void *impl, const char *name, const char *alias, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	if (check_model_name(name, err) || check_alias(alias, err) || mlf_sq_tx_begin_write(s, err))
		return -1;
	int rc = check_model(s, name, err);
	if (rc == 0)
		rc = mlf_sq_exec(s, "removing the alias", err,
				 "DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?", "ss",
				 name, alias);
	return mlf_sq_tx_end(s, rc, err);
}

static int find_alias(struct sqlite_store *s, const char *name, const char *alias,
		      struct mlf_model_version *out, struct mlf_error *err)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	int rc;

	if (check_model(s, name, err))
		return -1;
	if (!strcasecmp(alias, "latest"))
		/* MLflow's meaning: the highest live version. */
		rc = mlf_sq_prepare(s, &st, "reading model aliases", err,
				    "SELECT MAX(version) FROM model_versions WHERE name = ? AND "
				    "(current_stage IS NULL OR current_stage != 'Deleted_Internal') "
				    "HAVING MAX(version) IS NOT NULL", "s", name);
	else
		rc = mlf_sq_prepare(s, &st, "reading model aliases", err,
				    "SELECT version FROM registered_model_aliases "
				    "WHERE name = ? AND alias = ?",
				    "ss", name, alias);
	if (rc)
		return -1;
	rc = mlf_sq_step(s, st, "reading model aliases", err);
	if (rc == 1)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc == 0)
		return mlf_sq_not_found(err, "registered model '%s' has no alias '%s'", name, alias);
	if (rc < 0)
		return -1;
	return load_version(s, name, v, out, err);
}

int mlf_sq_get_alias(void *impl, const char *name, const char *alias,
		     struct mlf_model_version *out, struct mlf_error *err)
{
	struct sqlite_store *s = impl;
	memset(out, 0, sizeof(*out));
	if (check_model_name(name, err) || check_alias(alias, err) || mlf_sq_tx_begin_read(s, err))
		return -1;
	int rc = find_alias(s, name, alias, out, err);
	mlf_sq_tx_rollback(s);
	return rc;
}
