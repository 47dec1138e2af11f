/*
 * model-promote: move a registry alias (champion) to a verified model
 * version, or back; keep models/champion.pt the champion's copy.
 * Prints one promotion document on stdout; see model-promote(1).
 */
#include <stdio.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/check.h"
#include "mlf/cli.h"
#include "mlf/config.h"
#include "mlf/promote.h"

enum { OPT_ROLLBACK = MLF_OPT_LONG + 1, OPT_REASON };

static const struct mlf_option options[] = {
	MLF_OPTS_TRACKING,
	{ 'a', "alias", "NAME", NULL, "the alias to move (default: champion)",
	  "Only champion has a serving copy, models/champion.pt.", 0 },
	{ OPT_ROLLBACK, "rollback", NULL, NULL,
	  "move the alias back to the version that held it before the newest move",
	  "The history is models/promotions.jsonl; repeated, it goes further back.", 0 },
	{ OPT_REASON, "reason", "TEXT", NULL, "why, recorded with the move", NULL, 0 },
	MLF_OPT_FORMAT,
	MLF_OPT_QUIET,
	MLF_OPT_HELP,
	MLF_OPT_VERSION,
	MLF_OPT_END,
};

static const struct mlf_exit_doc exits[] = {
	{ 0, "the alias points to the version (moved, or already there) and, for champion, "
	     "models/champion.pt is its copy" },
	{ 1, "refused: the version does not verify (not FINISHED, a copy missing or different), "
	     "was never registered, or there is nothing to roll back to; the alias did not move" },
	MLF_EXIT_USAGE,
	{ 65, "models/promotions.jsonl is damaged (the line is named)" },
	{ 66, "no such version" },
	MLF_EXIT_UNAVAILABLE,
	MLF_EXIT_SOFTWARE,
	{ 73, "no temporary folder to download the MLflow artifact into (set TMPDIR)" },
	{ 74, "a file in models/ could not be written, or the document could not be written" },
	MLF_EXIT_CONFIG,
	MLF_EXIT_END,
};

static const struct mlf_program program = {
	.name = "model-promote",
	.synopsis = "[options] N|vN|retrained_vN|latest\n[options] --rollback",
	.about = "Point a registry alias (champion by default) at model version N after checking, "
		 "as mlf-verify does, that its run is FINISHED and every copy of it agrees; or, "
		 "with --rollback, move it back to the version that held it before. Each move is "
		 "tagged on the model version and appended to models/promotions.jsonl, and "
		 "models/champion.pt (+ champion.json) follows the champion atomically, so a "
		 "serving application has one stable path.",
	.max_operands = 1,
	.options = options,
	.exits = exits,
};

struct args {
	const char *alias;
	const char *reason;
	int rollback;
};

static int option(void *ctx, int id, const char *arg)
{
	struct args *a = ctx;
	switch (id) {
	case 'a': a->alias = arg; return 0;
	case OPT_REASON: a->reason = arg; return 0;
	case OPT_ROLLBACK: a->rollback = 1; return 0;
	}
	return MLF_EX_SOFTWARE;
}

static void summary(const struct mlf_promotion *p, FILE *out)
{
	if (!p->to)
		return;
	if (!p->moved)
		fprintf(out, "%s: alias '%s' of %s already points to version %s (retrained_v%ld)%s\n",
			program.name, p->alias, p->registered_model, p->to, p->n,
			p->champion_file ? "; models/champion.pt checked and rewritten" : "");
	else
		fprintf(out, "%s: %s alias '%s' of %s from %s%s to version %s (retrained_v%ld)%s%s\n",
			program.name, p->rollback ? "rolled back" : "moved", p->alias, p->registered_model,
			p->from ? "version " : "", p->from ? p->from : "nowhere", p->to, p->n,
			p->champion_file ? "; serving copy " : "", p->champion_file ? p->champion_file : "");
}

int main(int argc, char **argv)
{
	struct mlf_cli cli;
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_promotion p;
	struct args a = { 0 };
	long n = 0;

	mlf_cli_init(argv[0]);
	int status = mlf_cli_parse(&program, argc, argv, &cli, option, &a);
	if (status >= 0)
		return status;
	if (a.rollback && cli.nargs)
		return mlf_cli_usage_error("--rollback takes no version: it goes to the one before");
	if (!a.rollback && !cli.nargs)
		return mlf_cli_usage_error("which version? give N, vN or latest (or --rollback)");
	if (mlf_cli_load_config(&cli.config, &cfg, &err) ||
	    (!a.rollback && mlf_version_resolve(&cfg, cli.args[0], &n, &err))) {
		mlf_config_release(&cfg);
		return mlf_cli_report(&err);
	}
	struct mlf_promote_options o = { .cfg = &cfg, .version = n, .rollback = a.rollback,
					 .alias = a.alias, .reason = a.reason, .tool = program.name };
	status = mlf_promote(&o, &p, &err);
	if (status)
		status = mlf_cli_report(&err);
	if (status == 0 && cli.text) {
		summary(&p, stdout);
	} else if (status <= 1) {
		/* a refusal is a document too, with the verification that refused it */
		json_t *doc = mlf_promotion_json(&p);
		if (status)
			json_object_set_new(doc, "error", json_string(err.msg));
		struct mlf_error werr = MLF_ERROR_INIT;
		if (mlf_json_write_line(doc, stdout, &werr))
			status = mlf_cli_report(&werr);
		json_decref(doc);
		if (status == 0 && !cli.quiet)
			summary(&p, stderr);
	}
	mlf_promotion_release(&p);
	mlf_config_release(&cfg);
	return mlf_cli_exit(status);
}
