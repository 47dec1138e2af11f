/*
 * mlf-validate: is everything in place for a retraining to be recorded?
 * Prints one validation report (JSON) on stdout; see mlf-validate(1).
 */
#include <stdio.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/check.h"
#include "mlf/cli.h"
#include "mlf/config.h"

enum { OPT_INIT = MLF_OPT_LONG, OPT_PROBE, OPT_SKIP, OPT_SILENT };

static const struct mlf_option options[] = {
	MLF_OPTS_TRACKING,
	{ OPT_INIT, "init", NULL, NULL,
	  "create the experiment with the exact id and artifact location (sqlite and file "
	  "stores) and the workspace folders",
	  "An MLflow server assigns experiment ids itself: there --init creates the experiment by "
	  "name, reports the id the server chose, and exits 1 until that id is put in mlf.yaml.", 0 },
	{ OPT_PROBE, "probe", NULL, NULL,
	  "also create a run, log to it, read it back and remove it", NULL, 0 },
	{ OPT_SKIP, "skip", "CHECKS", NULL,
	  "comma-separated checks not to run (e.g. base_model,corrections)",
	  "They are reported as skipped.", 0 },
	MLF_OPT_FORMAT,
	MLF_OPT_QUIET,
	{ OPT_SILENT, "silent", NULL, NULL,
	  "print nothing, neither report nor summary: only the exit status tells",
	  "Before mlf 0.2 this was what -q did in mlf-validate; -q now means what it means in "
	  "every mlf program.", 0 },
	MLF_OPT_HELP,
	MLF_OPT_VERSION,
	MLF_OPT_END,
};

static const struct mlf_exit_doc exits[] = {
	{ 0, "every check passed" },
	{ 1, "a check failed (experiment missing or deleted, artifact location different, folder "
	     "not writable, too little disk, base model or corrections missing, probe failed); "
	     "when several fail, 69 wins over 78, and 78 over 1" },
	MLF_EXIT_USAGE,
	MLF_EXIT_UNAVAILABLE,
	MLF_EXIT_SOFTWARE,
	{ 74, "the report could not be written" },
	MLF_EXIT_CONFIG,
	MLF_EXIT_END,
};

static const struct mlf_program program = {
	.name = "mlf-validate",
	.synopsis = "[options]",
	.about = "Check that a retraining can be recorded: tracking store, exact experiment, "
		 "artifact location, write permission, disk space, base model, corrections. "
		 "Prints a JSON report on stdout and a summary on stderr.",
	.options = options,
	.exits = exits,
};

struct args {
	struct mlf_validate_options opts;
	int silent;
};

static int option(void *ctx, int id, const char *arg)
{
	struct args *a = ctx;
	struct mlf_error err = MLF_ERROR_INIT;
	switch (id) {
	case OPT_INIT: a->opts.init = 1; return 0;
	case OPT_PROBE: a->opts.probe = 1; return 0;
	case OPT_SKIP:
		a->opts.skip = arg;
		return mlf_validate_check_skip(arg, &err) ? mlf_cli_usage_error("%s", err.msg) : 0;
	case OPT_SILENT: a->silent = 1; return 0;
	}
	return MLF_EX_SOFTWARE;
}

int main(int argc, char **argv)
{
	struct mlf_cli cli;
	struct args a = { 0 };
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_report report;

	mlf_cli_init(argv[0]);
	int status = mlf_cli_parse(&program, argc, argv, &cli, option, &a);
	if (status >= 0)
		return status;

	if (mlf_cli_load_config(&cli.config, &cfg, &err)) {
		mlf_config_release(&cfg);
		return a.silent ? err.status : mlf_cli_report(&err);
	}
	a.opts.quiet = cli.quiet || a.silent;
	status = mlf_validate(&cfg, &a.opts, &report);
	if (!a.silent && cli.text) {
		mlf_report_print(&report, stdout, isatty(STDOUT_FILENO));
	} else if (!a.silent) {
		json_t *doc = mlf_report_json(&report, &cfg);
		if (mlf_json_write_line(doc, stdout, &err))
			status = mlf_cli_report(&err);
		json_decref(doc);
		if (!cli.quiet)
			mlf_report_print(&report, stderr, isatty(STDERR_FILENO));
		else  /* -q keeps warnings, as every program's -q does */
			for (size_t i = 0; i < report.n; i++)
				if (report.checks[i].warning)
					fprintf(stderr, "mlf-validate: warning: %s (%s)\n", report.checks[i].detail,
						report.checks[i].hint ? report.checks[i].hint : report.checks[i].name);
	}
	mlf_report_release(&report);
	mlf_config_release(&cfg);
	return mlf_cli_exit(status);
}
