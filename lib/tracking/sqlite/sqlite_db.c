/*
 * How the sqlite:/// backend talks to the database: errors that name the
 * store, statements with every value bound, and transactions.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "sqlite_internal.h"

/* ---- errors ------------------------------------------------------------ */

int mlf_sq_status(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return MLF_EX_TEMPFAIL;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return MLF_EX_NOPERM;
	case SQLITE_CANTOPEN:
		return MLF_EX_CANTCREAT;
	case SQLITE_IOERR:
	case SQLITE_FULL:
		return MLF_EX_IOERR;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return MLF_EX_CONFIG;
	default:
		return MLF_EX_SOFTWARE;
	}
}

int mlf_sq_fail(struct sqlite_store *s, const char *what, struct mlf_error *err)
{
	int rc = sqlite3_extended_errcode(s->db);
	const char *hint = "";
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		hint = " (another process kept the database locked; try again later)";
	else if ((rc & 0xff) == SQLITE_READONLY)
		hint = " (check the permissions of the database file and its folder)";
	return mlf_fail(err, mlf_sq_status(rc), "%s: %s: %s%s", s->uri, what,
			sqlite3_errmsg(s->db), hint);
}

int mlf_sq_not_found(struct mlf_error *err, const char *fmt, const char *a, const char *b)
{
	return mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND, fmt, a, b);
}

/* ---- statements -------------------------------------------------------- */

/* Bind one argument per character of `types`; stops at the first failure. */
static int bind_v(sqlite3_stmt *st, const char *types, va_list ap)
{
	int rc = SQLITE_OK;
	for (int i = 1; types[i - 1] && rc == SQLITE_OK; i++) {
		if (types[i - 1] == 's') {
			const char *v = va_arg(ap, const char *);
			rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT)
			       : sqlite3_bind_null(st, i);
		} else if (types[i - 1] == 'i') {
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
		} else {
			rc = sqlite3_bind_double(st, i, va_arg(ap, double));
		}
	}
	return rc;
}

static int prepare_v(struct sqlite_store *s, sqlite3_stmt **st, const char *what,
		     struct mlf_error *err, const char *sql, const char *types, va_list ap)
{
	*st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return mlf_sq_fail(s, what, err);
	if (bind_v(*st, types, ap) != SQLITE_OK) {
		mlf_sq_fail(s, what, err);
		sqlite3_finalize(*st);
		*st = NULL;
		return -1;
	}
	return 0;
}

int mlf_sq_prepare(struct sqlite_store *s, sqlite3_stmt **st, const char *what,
		   struct mlf_error *err, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	int rc = prepare_v(s, st, what, err, sql, types, ap);
	va_end(ap);
	return rc;
}

int mlf_sq_step(struct sqlite_store *s, sqlite3_stmt *st, const char *what,
		struct mlf_error *err)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return mlf_sq_fail(s, what, err);
}

int mlf_sq_exec(struct sqlite_store *s, const char *what, struct mlf_error *err,
		const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	va_start(ap, types);
	int rc = prepare_v(s, &st, what, err, sql, types, ap);
	va_end(ap);
	if (rc)
		return -1;
	while ((rc = mlf_sq_step(s, st, what, err)) == 1)
		;
	sqlite3_finalize(st);
	return rc;
}

int mlf_sq_exists(struct sqlite_store *s, const char *what, struct mlf_error *err,
		  const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	va_start(ap, types);
	int rc = prepare_v(s, &st, what, err, sql, types, ap);
	va_end(ap);
	if (rc)
		return -1;
	rc = mlf_sq_step(s, st, what, err);
	sqlite3_finalize(st);
	return rc;
}

int mlf_sq_rerun(struct sqlite_store *s, sqlite3_stmt *st, const char *what,
		 struct mlf_error *err, const char *types, ...)
{
	va_list ap;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	va_start(ap, types);
	int rc = bind_v(st, types, ap);
	va_end(ap);
	if (rc != SQLITE_OK)
		return mlf_sq_fail(s, what, err);
	return mlf_sq_step(s, st, what, err);
}

int mlf_sq_load_kvs(struct sqlite_store *s, const char *what, struct mlf_kvs *out,
		    struct mlf_error *err, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	va_start(ap, types);
	int rc = prepare_v(s, &st, what, err, sql, types, ap);
	va_end(ap);
	if (rc)
		return -1;
	while ((rc = mlf_sq_step(s, st, what, err)) == 1)
		mlf_kvs_add(out, (const char *)sqlite3_column_text(st, 0),
			    (const char *)sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	return rc;
}

char *mlf_sq_col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *v = sqlite3_column_text(st, i);
	return mlf_xstrdup(v ? (const char *)v : "");
}

/* ---- transactions ------------------------------------------------------ */

void mlf_sq_tx_rollback(struct sqlite_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int mlf_sq_tx_begin_write(struct sqlite_store *s, struct mlf_error *err)
{
	return mlf_sq_exec(s, "starting a write", err, "BEGIN IMMEDIATE", "");
}

int mlf_sq_tx_begin_read(struct sqlite_store *s, struct mlf_error *err)
{
	return mlf_sq_exec(s, "starting a read", err, "BEGIN", "");
}

int mlf_sq_tx_end(struct sqlite_store *s, int rc, struct mlf_error *err)
{
	if (rc == 0 && mlf_sq_exec(s, "committing", err, "COMMIT", "") == 0)
		return 0;
	mlf_sq_tx_rollback(s);
	return -1;
}

/* ---- values ------------------------------------------------------------ */

/*
 * SQL ids are integers.  Only the canonical decimal form is accepted, so
 * that "007" and "7" cannot name the same experiment in two spellings.
 */
int mlf_sq_parse_id(const char *text, int64_t *out)
{
	if (!text || !*text || strlen(text) > 19 || (text[0] == '0' && text[1]))
		return -1;
	int64_t v = 0;
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		int d = *p - '0';
		if (v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int mlf_sq_too_long(const char *what, const char *value, size_t max, struct mlf_error *err)
{
	size_t n = value ? strlen(value) : 0;
	if (n <= max)
		return 0;
	return mlf_fail_kind(err, MLF_EX_DATAERR, MLF_ERR_INVALID,
			     "%s '%.60s...' is %zu characters; MLflow allows at most %zu",
			     what, value, n, max);
}
