/*
 * model-locate: every location of a model version, and whether its copies agree.
 * Prints one locations document on stdout; see model-locate(1).
 */
#include <stdio.h>

#include "mlf/base.h"
#include "mlf/check.h"
#include "mlf/cli.h"
#include "mlf/config.h"

static const struct mlf_option options[] = {
	MLF_OPTS_TRACKING,
	MLF_OPT_FORMAT,
	MLF_OPT_QUIET,
	MLF_OPT_HELP,
	MLF_OPT_VERSION,
	MLF_OPT_END,
};

static const struct mlf_exit_doc exits[] = {
	{ 0, "deployable: every .pt copy matches the sha256 in the version's metadata, and "
	     "the version's run is FINISHED" },
	{ 1, "not deployable: a copy is missing or differs, or the run is not FINISHED "
	     "(\"deployable\": false says so, with the run's status)" },
	MLF_EXIT_USAGE,
	{ 66, "no such version" },
	{ 69, "the tracking store is unavailable (the local locations are still listed)" },
	MLF_EXIT_SOFTWARE,
	{ 73, "no temporary folder to download the MLflow artifact into (set TMPDIR)" },
	{ 74, "the document could not be written" },
	MLF_EXIT_CONFIG,
	MLF_EXIT_END,
};

static const struct mlf_program program = {
	.name = "model-locate",
	.synopsis = "[options] N|vN|retrained_vN|latest",
	.about = "List every location of model version N (or the newest): models/, the "
		 "quick-access copy, the training folder's best.pt, the safetensors file and the "
		 "MLflow artifact, each with size, sha256 and modification time; the MLflow run "
		 "and registry version it belongs to; and whether the .pt copies agree.",
	.max_operands = 1,
	.options = options,
	.exits = exits,
};

int main(int argc, char **argv)
{
	struct mlf_cli cli;
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_locations l;
	long n;

	mlf_cli_init(argv[0]);
	int status = mlf_cli_parse(&program, argc, argv, &cli, NULL, NULL);
	if (status >= 0)
		return status;
	if (!cli.nargs)
		return mlf_cli_usage_error("which version? give N, vN or latest");
	if (mlf_cli_load_config(&cli.config, &cfg, &err) ||
	    mlf_version_resolve(&cfg, cli.args[0], &n, &err)) {
		mlf_config_release(&cfg);
		return mlf_cli_report(&err);
	}
	status = mlf_locate(&cfg, n, &l, &err);
	if (status < 0) {
		status = mlf_cli_report(&err);
	} else if (cli.text) {
		mlf_locations_print(&l, stdout);
	} else {
		json_t *doc = mlf_locations_json(&l);
		if (mlf_json_write_line(doc, stdout, &err))
			status = mlf_cli_report(&err);
		json_decref(doc);
		if (!cli.quiet)
			mlf_locations_summary(&l, program.name, stderr);
	}
	mlf_locations_release(&l);
	mlf_config_release(&cfg);
	return mlf_cli_exit(status);
}
