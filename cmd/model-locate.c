/*
 * model-locate: every location of a model version, and whether its copies agree.
 * Prints one locations document on stdout; see model-locate(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/cli.h"
#include "mlf/config.h"
#include "mlf/base.h"
#include "mlf/check.h"

static const char usage_text[] =
	"usage: model-locate [options] N|vN|retrained_vN|latest\n"
	"\n"
	"List every location of model version N (or the newest): models/, the\n"
	"quick-access copy, the training folder's best.pt, the safetensors file and\n"
	"the MLflow artifact, each with size, sha256 and modification time; the MLflow\n"
	"run and registry version it belongs to; and whether the .pt copies agree.\n"
	"\n"
	"  -C, --workspace DIR      the workspace (default: $MLF_WORKSPACE or the current folder)\n"
	"  -c, --config FILE        configuration file (default: <workspace>/mlf.yaml)\n"
	"  -u, --tracking-uri URI   override tracking_uri\n"
	"  -s, --set KEY=VALUE      override any configuration key (repeatable)\n"
	"  -f, --format FMT         json (default) or text: a table on stdout instead of JSON\n"
	"  -q, --quiet              no summary on stderr\n"
	"  -h, --help               show this help\n"
	"  -V, --version            show the version\n"
	"\n"
	"Exit status: 0 found and every .pt copy matches the metadata's sha256, 1 a copy\n"
	"is missing or differs, 64 usage, 66 no such version, 69 tracking store\n"
	"unreachable (local locations still listed), 74 output error, 78 configuration error.\n";

static const struct option long_options[] = {
	{ "workspace", required_argument, NULL, 'C' },
	{ "config", required_argument, NULL, 'c' },
	{ "tracking-uri", required_argument, NULL, 'u' },
	{ "set", required_argument, NULL, 's' },
	{ "format", required_argument, NULL, 'f' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct args {
	struct mlf_cli_config config;
	const char *which;
	int quiet, text;
};

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct args *a)
{
	int c;
	while ((c = getopt_long(argc, argv, "C:c:u:s:f:qhV", long_options, NULL)) != -1) {
		const char *key = NULL;
		switch (c) {
		case 'C': a->config.workspace = optarg; continue;
		case 'c': a->config.file = optarg; continue;
		case 'u': key = "tracking_uri"; break;
		case 's': break;
		case 'f':
			if (mlf_cli_parse_format(optarg, &a->text))
				return MLF_EX_USAGE;
			continue;
		case 'q': a->quiet = 1; continue;
		case 'h': fputs(usage_text, stdout); return mlf_cli_exit(0);
		case 'V': mlf_cli_print_version(); return mlf_cli_exit(0);
		default: fputs("Try 'model-locate --help'.\n", stderr); return MLF_EX_USAGE;
		}
		if (mlf_cli_override(&a->config, key, optarg))
			return MLF_EX_USAGE;
	}
	if (optind == argc)
		return mlf_cli_usage_error("which version? give N, vN or latest");
	if (argc - optind > 1)
		return mlf_cli_usage_error("unexpected argument '%s'", argv[optind + 1]);
	a->which = argv[optind];
	return -1;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_locations l;
	long n;

	mlf_cli_init(argv[0]);
	int status = parse_args(argc, argv, &a);
	if (status >= 0)
		return status;
	if (mlf_cli_load_config(&a.config, &cfg, &err) || mlf_version_resolve(&cfg, a.which, &n, &err)) {
		mlf_config_release(&cfg);
		return mlf_cli_report(&err);
	}
	status = mlf_locate(&cfg, n, &l, &err);
	if (status < 0) {
		status = mlf_cli_report(&err);
	} else if (a.text) {
		mlf_locations_print(&l, stdout);
	} else {
		json_t *doc = mlf_locations_json(&l);
		if (mlf_json_write_line(doc, stdout, &err))
			status = mlf_cli_report(&err);
		json_decref(doc);
		if (!a.quiet)
			mlf_locations_summary(&l, "model-locate", stderr);
	}
	mlf_locations_release(&l);
	mlf_config_release(&cfg);
	return mlf_cli_exit(status);
}
