/*
 * retrain-prep: corrections + base data -> an immutable dataset version.
 * Prints the dataset document (or a skip document) on stdout; see retrain-prep(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/cli.h"
#include "mlf/config.h"
#include "mlf/base.h"
#include "mlf/prep.h"

static const char usage_text[] =
	"usage: retrain-prep [options]\n"
	"\n"
	"Turn the corrections folder and the base dataset into an immutable dataset\n"
	"version data/retrain_vN/. Prints a dataset document on stdout, or a skip\n"
	"document (exit 0) when there are fewer new corrections than the threshold.\n"
	"\n"
	"  -C, --workspace DIR       the workspace (default: $MLF_WORKSPACE or the current folder)\n"
	"  -c, --config FILE         configuration file (default: <workspace>/mlf.yaml)\n"
	"  -s, --set KEY=VALUE       override any configuration key (repeatable)\n"
	"  -i, --corrections DIR     corrections folder (paths.corrections)\n"
	"  -b, --base-data FILE      base dataset data.yaml (prep.base_data)\n"
	"  -o, --data-dir DIR        where versions are created (paths.data)\n"
	"  -m, --min-corrections N   new corrections needed (checks.min_corrections)\n"
	"      --val-fraction F      share of corrected images in val (prep.val_fraction)\n"
	"      --holdout FILE        image sha256s or file names always put in val\n"
	"      --seed N              salt of the content hash that splits (prep.seed)\n"
	"      --base-mode MODE      reference, link or copy base images (prep.base_mode)\n"
	"      --skip-bad            leave bad corrections out (recorded) instead of stopping\n"
	"      --no-wait             exit 75 at once if another retrain-prep holds the lock\n"
	"  -f, --format FMT          json (default) or text: a summary on stdout instead\n"
	"  -q, --quiet               no summary on stderr\n"
	"  -h, --help                show this help\n"
	"  -V, --version             show the version\n"
	"\n"
	"Exit status: 0 version created or skipped, 64 usage, 65 bad corrections (every\n"
	"problem listed, nothing written), 66 input missing, 73 cannot create output,\n"
	"75 lock held (--no-wait), 78 configuration error.\n";

enum { OPT_VAL = 256, OPT_HOLDOUT, OPT_SEED, OPT_BASE_MODE, OPT_SKIP_BAD, OPT_NO_WAIT };

static const struct option long_options[] = {
	{ "workspace", required_argument, NULL, 'C' },
	{ "config", required_argument, NULL, 'c' },
	{ "set", required_argument, NULL, 's' },
	{ "corrections", required_argument, NULL, 'i' },
	{ "base-data", required_argument, NULL, 'b' },
	{ "data-dir", required_argument, NULL, 'o' },
	{ "min-corrections", required_argument, NULL, 'm' },
	{ "val-fraction", required_argument, NULL, OPT_VAL },
	{ "holdout", required_argument, NULL, OPT_HOLDOUT },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "base-mode", required_argument, NULL, OPT_BASE_MODE },
	{ "skip-bad", no_argument, NULL, OPT_SKIP_BAD },
	{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
	{ "format", required_argument, NULL, 'f' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct args {
	struct mlf_cli_config config;
	const char *holdout;
	int skip_bad, no_wait, quiet, text;
};

static int parse_args(int argc, char **argv, struct args *a)
{
	int c;
	while ((c = getopt_long(argc, argv, "C:c:s:i:b:o:m:f:qhV", long_options, NULL)) != -1) {
		const char *key = NULL;
		switch (c) {
		case 'C': a->config.workspace = optarg; continue;
		case 'c': a->config.file = optarg; continue;
		case 's': break;
		case 'i': key = "paths.corrections"; break;
		case 'b': key = "prep.base_data"; break;
		case 'o': key = "paths.data"; break;
		case 'm': key = "checks.min_corrections"; break;
		case OPT_VAL: key = "prep.val_fraction"; break;
		case OPT_SEED: key = "prep.seed"; break;
		case OPT_BASE_MODE: key = "prep.base_mode"; break;
		case OPT_HOLDOUT: a->holdout = optarg; continue;
		case OPT_SKIP_BAD: a->skip_bad = 1; continue;
		case OPT_NO_WAIT: a->no_wait = 1; continue;
		case 'f':
			if (mlf_cli_parse_format(optarg, &a->text))
				return MLF_EX_USAGE;
			continue;
		case 'q': a->quiet = 1; continue;
		case 'h': fputs(usage_text, stdout); return mlf_cli_exit(0);
		case 'V': mlf_cli_print_version(); return mlf_cli_exit(0);
		default: fputs("Try 'retrain-prep --help'.\n", stderr); return MLF_EX_USAGE;
		}
		if (mlf_cli_override(&a->config, key, optarg))
			return MLF_EX_USAGE;
	}
	if (optind < argc)
		return mlf_cli_usage_error("unexpected argument '%s'", argv[optind]);
	return -1;
}

static int base_mode(const char *text, enum mlf_base_mode *mode, struct mlf_error *err)
{
	static const char *const names[] = { "reference", "link", "copy" };
	for (int i = 0; i < 3; i++)
		if (!strcmp(text, names[i])) {
			*mode = (enum mlf_base_mode)i;
			return 0;
		}
	return mlf_fail(err, MLF_EX_CONFIG, "prep.base_mode is reference, link or copy, not '%s'", text);
}

static void print_summary(json_t *doc, FILE *out)
{
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	if (kind && !strcmp(kind, "mlf.skip")) {
		fprintf(out, "retrain-prep: nothing to do: %s\n",
			json_string_value(json_object_get(doc, "reason")));
		return;
	}
	json_t *counts = json_object_get(doc, "counts");
	json_t *tr = json_object_get(counts, "train"), *va = json_object_get(counts, "val");
	fprintf(out, "retrain-prep: %s: %lld corrections (%lld new), %lld+%lld corrected and "
		"%lld+%lld base images in train+val, digest %.19s...\n  %s\n",
		json_string_value(json_object_get(doc, "name")),
		json_integer_value(json_object_get(counts, "corrections")),
		json_integer_value(json_object_get(counts, "new_corrections")),
		json_integer_value(json_object_get(tr, "corrected_images")),
		json_integer_value(json_object_get(va, "corrected_images")),
		json_integer_value(json_object_get(tr, "base_images")),
		json_integer_value(json_object_get(va, "base_images")),
		json_string_value(json_object_get(doc, "digest")),
		json_string_value(json_object_get(doc, "data_yaml")));
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_problems problems = MLF_PROBLEMS_INIT;
	struct mlf_prep_options opts = { 0 };
	char *corrections = NULL, *base = NULL, *data = NULL;
	json_t *doc = NULL;
	int status;

	mlf_cli_init(argv[0]);
	status = parse_args(argc, argv, &a);
	if (status >= 0)
		return status;
	if (mlf_cli_load_config(&a.config, &cfg, &err) ||
	    base_mode(mlf_config_get(&cfg, "prep.base_mode"), &opts.base_mode, &err)) {
		mlf_config_release(&cfg);
		return mlf_cli_report(&err);
	}
	corrections = mlf_config_path(&cfg, "paths.corrections");
	base = mlf_config_path(&cfg, "prep.base_data");
	data = mlf_config_path(&cfg, "paths.data");
	opts.corrections_dir = corrections;
	opts.base_data = base;
	opts.data_dir = data;
	opts.min_corrections = mlf_config_int(&cfg, "checks.min_corrections");
	opts.val_fraction = mlf_config_float(&cfg, "prep.val_fraction");
	opts.seed = mlf_config_int(&cfg, "prep.seed");
	opts.holdout = a.holdout;
	opts.skip_bad = a.skip_bad;
	opts.no_wait = a.no_wait;
	opts.prog = "retrain-prep";

	if (mlf_prep_run(&opts, &doc, &problems, &err)) {
		if (problems.n && err.status == MLF_EX_DATAERR) {
			fprintf(stderr, "retrain-prep: %s\n", err.msg);
			mlf_problems_print(&problems, stderr, 200);
			status = err.status;
		} else {
			status = mlf_cli_report(&err);
		}
	} else {
		if (problems.n && !a.quiet) {
			fprintf(stderr, "retrain-prep: left out %zu bad correction%s (--skip-bad), recorded "
				"in corrections_applied.json:\n", problems.n, problems.n == 1 ? "" : "s");
			mlf_problems_print(&problems, stderr, 50);
		}
		if (a.text) {
			print_summary(doc, stdout);
		} else {
			if (!a.quiet)
				print_summary(doc, stderr);
			if (mlf_json_write_line(doc, stdout, &err))
				status = mlf_cli_report(&err);
		}
		if (status < 0)
			status = 0;
	}
	json_decref(doc);
	mlf_problems_release(&problems);
	free(corrections);
	free(base);
	free(data);
	mlf_config_release(&cfg);
	return mlf_cli_exit(status);
}
