/*
 * retrain-prep: corrections + base data -> an immutable dataset version.
 * Prints the dataset document (or a skip document) on stdout; see retrain-prep(1).
 */
#include <stdio.h>

#include "mlf/base.h"
#include "mlf/cli.h"
#include "mlf/config.h"
#include "mlf/prep.h"

enum { OPT_VAL = MLF_OPT_LONG, OPT_HOLDOUT, OPT_SEED, OPT_BASE_MODE, OPT_SKIP_BAD };

static const struct mlf_option options[] = {
	MLF_OPTS_CONFIG,
	{ 'i', "corrections", "DIR", "paths.corrections", "the corrections folder",
	  "Default: data/corrections.", 0 },
	{ 'b', "base-data", "FILE", "prep.base_data", "the base dataset's data.yaml",
	  "Default: data/base/data.yaml.", 0 },
	{ 'o', "data-dir", "DIR", "paths.data", "where versions are created",
	  "Default: data.", 0 },
	{ 'm', "min-corrections", "N", "checks.min_corrections", "new corrections needed", NULL, 0 },
	{ OPT_VAL, "val-fraction", "F", "prep.val_fraction",
	  "share of corrected images in val", "Default: 0.2.", 0 },
	{ OPT_HOLDOUT, "holdout", "FILE", NULL,
	  "image sha256s or file names always put in val", NULL, 0 },
	{ OPT_SEED, "seed", "N", "prep.seed", "salt of the content hash that splits",
	  "Default: 0.", 0 },
	{ OPT_BASE_MODE, "base-mode", "MODE", "prep.base_mode",
	  "how base images enter the version: reference, link or copy", NULL, 0 },
	{ OPT_SKIP_BAD, "skip-bad", NULL, NULL,
	  "leave bad corrections out (recorded) instead of stopping", NULL, 0 },
	MLF_OPT_NO_WAIT,
	MLF_OPT_FORMAT,
	MLF_OPT_QUIET,
	MLF_OPT_HELP,
	MLF_OPT_VERSION,
	MLF_OPT_END,
};

static const struct mlf_exit_doc exits[] = {
	{ 0, "a version was created, or there was nothing to do (skip document)" },
	MLF_EXIT_USAGE,
	{ 65, "bad corrections or base data: every problem is listed on standard error and "
	      "nothing was written" },
	{ 66, "the corrections folder or the base dataset is missing" },
	MLF_EXIT_SOFTWARE,
	{ 73, "the version could not be created" },
	{ 74, "the document could not be written, or a file could not be read or written" },
	{ 75, "another retrain-prep holds the lock (--no-wait)" },
	MLF_EXIT_CONFIG,
	MLF_EXIT_END,
};

static const struct mlf_program program = {
	.name = "retrain-prep",
	.synopsis = "[options]",
	.about = "Turn the corrections folder and the base dataset into an immutable dataset "
		 "version data/retrain_vN/. Prints a dataset document on stdout, or a skip "
		 "document (exit 0) when there are fewer new corrections than the threshold.",
	.options = options,
	.exits = exits,
};

struct args {
	const char *holdout;
	int skip_bad;
};

static int option(void *ctx, int id, const char *arg)
{
	struct args *a = ctx;
	switch (id) {
	case OPT_HOLDOUT: a->holdout = arg; return 0;
	case OPT_SKIP_BAD: a->skip_bad = 1; return 0;
	}
	return MLF_EX_SOFTWARE;
}

int main(int argc, char **argv)
{
	struct mlf_cli cli;
	struct args a = { 0 };
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_problems problems = MLF_PROBLEMS_INIT;
	struct mlf_prep_options opts;
	json_t *doc = NULL;

	mlf_cli_init(argv[0]);
	int status = mlf_cli_parse(&program, argc, argv, &cli, option, &a);
	if (status >= 0)
		return status;
	if (mlf_cli_load_config(&cli.config, &cfg, &err) ||
	    mlf_prep_options_from_config(&opts, &cfg, &err)) {
		mlf_config_release(&cfg);
		return mlf_cli_report(&err);
	}
	opts.holdout = a.holdout;
	opts.skip_bad = a.skip_bad;
	opts.no_wait = cli.no_wait;
	opts.prog = program.name;

	if (mlf_prep_run(&opts, &doc, &problems, &err)) {
		if (problems.n && err.status == MLF_EX_DATAERR) {
			mlf_cli_report(&err);
			mlf_problems_print(&problems, stderr, 200);
			status = err.status;
		} else {
			status = mlf_cli_report(&err);
		}
	} else {
		status = 0;
		if (problems.n && !cli.quiet) {
			fprintf(stderr, "retrain-prep: left out %zu bad correction%s (--skip-bad), recorded "
				"in corrections_applied.json:\n", problems.n, problems.n == 1 ? "" : "s");
			mlf_problems_print(&problems, stderr, 50);
		}
		if (cli.text) {
			mlf_prep_summary(doc, stdout);
		} else {
			if (!cli.quiet)
				mlf_prep_summary(doc, stderr);
			if (mlf_json_write_line(doc, stdout, &err))
				status = mlf_cli_report(&err);
		}
	}
	json_decref(doc);
	mlf_problems_release(&problems);
	mlf_prep_options_release(&opts);
	mlf_config_release(&cfg);
	return mlf_cli_exit(status);
}
