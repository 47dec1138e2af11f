/*
 * mlf-validate: is everything in place for a retraining to be recorded?
 * Prints one validation report (JSON) on stdout; see mlf-validate(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlf/cli.h"
#include "mlf/config.h"
#include "mlf/base.h"
#include "mlf/check.h"

static const char usage_text[] =
	"usage: mlf-validate [options]\n"
	"\n"
	"Check that a retraining can be recorded: tracking store, exact experiment,\n"
	"artifact location, write permission, disk space, base model, corrections.\n"
	"Prints a JSON report on stdout and a summary on stderr.\n"
	"\n"
	"  -C, --workspace DIR     the workspace (default: $MLF_WORKSPACE or the current folder)\n"
	"  -c, --config FILE       configuration file (default: <workspace>/mlf.yaml)\n"
	"  -u, --tracking-uri URI  override tracking_uri\n"
	"  -e, --experiment-id ID  override experiment_id\n"
	"  -s, --set KEY=VALUE     override any configuration key (repeatable)\n"
	"      --init              create the experiment with the exact id and artifact\n"
	"                          location (sqlite and file stores) and the workspace folders\n"
	"      --probe             also create a run, log to it, read it back and remove it\n"
	"      --skip CHECKS       comma-separated checks not to run (e.g. base_model,corrections)\n"
	"  -f, --format FMT        json (default) or text: a table on stdout instead of JSON\n"
	"  -q, --quiet             print nothing; only the exit status tells\n"
	"  -h, --help              show this help\n"
	"  -V, --version           show the version\n"
	"\n"
	"Exit status: 0 all checks passed, 1 a check failed, 64 usage error,\n"
	"69 tracking store unreachable, 78 configuration error (incl. rejected credentials).\n";

enum { OPT_INIT = 256, OPT_PROBE, OPT_SKIP };

static const struct option long_options[] = {
	{ "workspace", required_argument, NULL, 'C' },
	{ "config", required_argument, NULL, 'c' },
	{ "tracking-uri", required_argument, NULL, 'u' },
	{ "experiment-id", required_argument, NULL, 'e' },
	{ "set", required_argument, NULL, 's' },
	{ "init", no_argument, NULL, OPT_INIT },
	{ "probe", no_argument, NULL, OPT_PROBE },
	{ "skip", required_argument, NULL, OPT_SKIP },
	{ "format", required_argument, NULL, 'f' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct args {
	struct mlf_cli_config config;
	struct mlf_validate_options opts;
	int quiet, text;
};

static int check_skip_list(const char *list)
{
	char *copy = strdup(list), *save = NULL;
	int rc = 0;
	for (char *name = strtok_r(copy, ",", &save); name && !rc; name = strtok_r(NULL, ",", &save)) {
		int known = 0;
		for (int i = 0; mlf_check_names[i]; i++)
			known |= !strcmp(mlf_check_names[i], name);
		if (!known)
			rc = mlf_cli_usage_error("unknown check '%s' in --skip", name);
	}
	free(copy);
	return rc;
}

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct args *a)
{
	int c;
	while ((c = getopt_long(argc, argv, "C:c:u:e:s:f:qhV", long_options, NULL)) != -1) {
		switch (c) {
		case 'C': a->config.workspace = optarg; break;
		case 'c': a->config.file = optarg; break;
		case 'u': if (mlf_cli_override(&a->config, "tracking_uri", optarg)) return MLF_EX_USAGE; break;
		case 'e': if (mlf_cli_override(&a->config, "experiment_id", optarg)) return MLF_EX_USAGE; break;
		case 's': if (mlf_cli_override(&a->config, NULL, optarg)) return MLF_EX_USAGE; break;
		case OPT_INIT: a->opts.init = 1; break;
		case OPT_PROBE: a->opts.probe = 1; break;
		case OPT_SKIP:
			if (check_skip_list(optarg))
				return MLF_EX_USAGE;
			a->opts.skip = optarg;
			break;
		case 'f':
			if (mlf_cli_parse_format(optarg, &a->text))
				return MLF_EX_USAGE;
			break;
		case 'q': a->quiet = 1; break;
		case 'h': fputs(usage_text, stdout); return mlf_cli_exit(0);
		case 'V': mlf_cli_print_version(); return mlf_cli_exit(0);
		default: fputs("Try 'mlf-validate --help'.\n", stderr); return MLF_EX_USAGE;
		}
	}
	if (optind < argc)
		return mlf_cli_usage_error("unexpected argument '%s'", argv[optind]);
	return -1;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_report report;

	mlf_cli_init(argv[0]);
	int status = parse_args(argc, argv, &a);
	if (status >= 0)
		return status;

	if (mlf_cli_load_config(&a.config, &cfg, &err))
		goto config_error;

	status = mlf_validate(&cfg, &a.opts, &report);
	if (!a.quiet) {
		if (a.text) {
			mlf_report_print(&report, stdout, isatty(STDOUT_FILENO));
		} else {
			json_t *doc = mlf_report_json(&report, &cfg);
			if (mlf_json_write_line(doc, stdout, &err))
				status = mlf_cli_report(&err);
			json_decref(doc);
			mlf_report_print(&report, stderr, isatty(STDERR_FILENO));
		}
	}
	mlf_report_release(&report);
	mlf_config_release(&cfg);
	return mlf_cli_exit(status);

config_error:
	mlf_config_release(&cfg);
	if (a.quiet)
		return err.status;
	return mlf_cli_report(&err);
}
