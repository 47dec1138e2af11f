/*
 * The promotion history, models/promotions.jsonl (see mlf/check.h): read by
 * model-promote --rollback and by mlf-verify; written by mlf/promote.h.
 */
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/check.h"

/* Line `lineno` as a promotion record, or NULL with err (65) saying why. */
static json_t *record(const char *line, size_t n, int lineno, struct mlf_error *err)
{
	json_error_t je;
	json_t *e = json_loadb(line, n, 0, &je);
	const char *fmt = mlf_json_str(e, "format", NULL);
	json_t *from = json_object_get(e, "from");
	if (json_is_object(e) && fmt && !strcmp(fmt, "mlf.promotion") && mlf_json_str(e, "to", NULL) &&
	    (json_is_null(from) || json_is_string(from)) &&
	    json_is_boolean(json_object_get(e, "rollback")) &&
	    mlf_json_str(e, "registered_model", NULL) && mlf_json_str(e, "alias", NULL))
		return e;
	mlf_fail(err, MLF_EX_DATAERR, "line %d is not a promotion record (\"format\": \"mlf.promotion\" "
		 "with registered_model, alias, from, to and rollback)%s%s", lineno, e ? "" : ": ",
		 e ? "" : je.text);
	json_decref(e);
	return NULL;
}

/*
 * Call `fn` with each record of alias `alias` of `name`, oldest first; stops
 * at a damaged line (-1 with err) or when fn returns non-zero.
 */
static int each(const char *text, size_t len, const char *name, const char *alias,
		int (*fn)(void *ctx, const json_t *e), void *ctx, struct mlf_error *err)
{
	size_t at = 0;
	for (int lineno = 1; at < len; lineno++) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
		const char *line = text + at;
		at += n + (nl ? 1 : 0);
		if (!n)
			continue;
		json_t *e = record(line, n, lineno, err);
		if (!e)
			return -1;
		int stop = !strcmp(mlf_json_str(e, "registered_model", ""), name) &&
			   !strcmp(mlf_json_str(e, "alias", ""), alias) && fn(ctx, e);
		json_decref(e);
		if (stop)
			break;
	}
	return 0;
}

struct replay {
	json_t *stack;   /* versions a rollback can return to, newest last */
	char *last_to;
	int lines;
};

/*
 * The history of one alias as a stack: a forward move pushes the version it
 * left, a rollback pops.  The top is where a rollback goes; the version the
 * newest line moved to must be where the alias points now.
 */
static int replay_one(void *ctx, const json_t *e)
{
	struct replay *r = ctx;
	json_t *from = json_object_get(e, "from");
	r->lines++;
	if (json_is_true(json_object_get(e, "rollback"))) {
		size_t k = json_array_size(r->stack);
		if (k)
			json_array_remove(r->stack, k - 1);
	} else if (json_is_string(from)) {
		json_array_append(r->stack, from);
	}
	free(r->last_to);
	r->last_to = mlf_xstrdup(mlf_json_str(e, "to", ""));
	return 0;
}

int mlf_promotion_history_target(const char *text, size_t len, const char *name, const char *alias,
				 const char *current, char **target, struct mlf_error *err)
{
	struct replay r = { json_array(), NULL, 0 };
	int rc = each(text, len, name, alias, replay_one, &r, err);
	*target = NULL;
	if (!rc && !r.lines)
		rc = mlf_fail(err, 1, "no move of alias '%s' of %s is recorded; roll back by naming the "
			      "version: model-promote N --alias %s", alias, name, alias);
	else if (!rc && (!current || strcmp(current, r.last_to)))
		rc = mlf_fail(err, 1, "alias '%s' of %s points to %s%s in the registry, but the last "
			      "recorded move was to version %s: it was moved outside mlf; name the "
			      "version to go to: model-promote N --alias %s", alias, name,
			      current ? "version " : "", current ? current : "nothing", r.last_to, alias);
	else if (!rc && !json_array_size(r.stack))
		rc = mlf_fail(err, 1, "alias '%s' of %s has no earlier version to return to (version "
			      "%s is the first recorded, or every earlier move was rolled back already)",
			      alias, name, r.last_to);
	else if (!rc)
		*target = mlf_xstrdup(json_string_value(json_array_get(r.stack, json_array_size(r.stack) - 1)));
	free(r.last_to);
	json_decref(r.stack);
	return rc ? -1 : 0;
}

struct newest {
	const char *from;  /* only rollbacks from this version; NULL: every record */
	json_t *found;
};

static int newest_one(void *ctx, const json_t *e)
{
	struct newest *u = ctx;
	const char *from = mlf_json_str(e, "from", NULL);
	if (!u->from || (json_is_true(json_object_get(e, "rollback")) && from && !strcmp(from, u->from))) {
		json_decref(u->found);
		u->found = json_incref((json_t *)e);
	}
	return 0;
}

static json_t *newest(const char *path, const char *name, const char *alias, const char *from)
{
	char *text = NULL;
	size_t len = 0;
	struct mlf_error err = MLF_ERROR_INIT;
	struct newest u = { from, NULL };
	if (mlf_is_file(path) && !mlf_read_file(path, &text, &len, &err) &&
	    each(text, len, name, alias, newest_one, &u, &err)) {
		json_decref(u.found);
		u.found = NULL;
	}
	free(text);
	return u.found;
}

json_t *mlf_promotion_history_rollback_from(const char *path, const char *name, const char *alias,
					    const char *version)
{
	return newest(path, name, alias, version);
}

json_t *mlf_promotion_history_last(const char *path, const char *name, const char *alias)
{
	return newest(path, name, alias, NULL);
}
