/*
 * mlf-verify: prove what a retraining run left behind.
 * Reads the run document on stdin (or --run-id / --version) and prints one
 * verification report on stdout; see mlf-verify(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/cli.h"
#include "mlf/config.h"
#include "mlf/check.h"

static const char usage_text[] =
	"usage: mlf-verify [options] < run-document\n"
	"       mlf-verify [options] --run-id ID\n"
	"       mlf-verify [options] --version N|vN|latest\n"
	"\n"
	"Check what a retraining left behind: the local model files and their sha256,\n"
	"the MLflow run (exact experiment, FINISHED, tags, params, metrics, artifacts)\n"
	"and its registry version. Reads retrain-run's run document on stdin unless\n"
	"--run-id or --version is given; a skip document is passed on unchanged.\n"
	"Prints a JSON report on stdout and a summary on stderr.\n"
	"\n"
	"  -C, --workspace DIR      the workspace (default: $MLF_WORKSPACE or the current folder)\n"
	"  -c, --config FILE        configuration file (default: <workspace>/mlf.yaml)\n"
	"  -u, --tracking-uri URI   override tracking_uri\n"
	"  -e, --experiment-id ID   override experiment_id\n"
	"  -s, --set KEY=VALUE      override any configuration key (repeatable)\n"
	"  -r, --run-id ID          verify this MLflow run (its version tag names the files)\n"
	"      --version N          verify model version N, vN, retrained_vN or latest\n"
	"  -f, --format FMT         json (default) or text: a table on stdout instead of JSON\n"
	"  -q, --quiet              no summary on stderr\n"
	"  -h, --help               show this help\n"
	"  -V, --version            show the program's version (--version without N)\n"
	"\n"
	"Exit status: 0 every check passed (or a skip document), 1 a check failed,\n"
	"64 usage, 65 the input is not a run document, 66 version or run not found,\n"
	"69 tracking store unreachable, 74 output error, 78 configuration error.\n";

enum { OPT_VERSION = 256 };

/*
 * --version is both "show the program's version" (as in every mlf program)
 * and "verify model version N" (the spec): with an argument it is the latter.
 */
static const struct option long_options[] = {
	{ "workspace", required_argument, NULL, 'C' },
	{ "config", required_argument, NULL, 'c' },
	{ "tracking-uri", required_argument, NULL, 'u' },
	{ "experiment-id", required_argument, NULL, 'e' },
	{ "set", required_argument, NULL, 's' },
	{ "run-id", required_argument, NULL, 'r' },
	{ "version", optional_argument, NULL, OPT_VERSION },
	{ "format", required_argument, NULL, 'f' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct args {
	struct mlf_cli_config config;
	const char *run_id;
	const char *version;
	int quiet, text;
};

/* `--version N` as two words: the next word, when it is not an option, is N. */
static const char *version_operand(int argc, char **argv)
{
	if (optarg)
		return optarg;
	if (optind < argc && argv[optind][0] != '-')
		return argv[optind++];
	return NULL;
}

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct args *a)
{
	int c;
	while ((c = getopt_long(argc, argv, "C:c:u:e:s:r:f:qhV", long_options, NULL)) != -1) {
		const char *key = NULL;
		switch (c) {
		case 'C': a->config.workspace = optarg; continue;
		case 'c': a->config.file = optarg; continue;
		case 'u': key = "tracking_uri"; break;
		case 'e': key = "experiment_id"; break;
		case 's': break;
		case 'r': a->run_id = optarg; continue;
		case OPT_VERSION:
			a->version = version_operand(argc, argv);
			if (a->version)
				continue;
			mlf_cli_print_version();
			return mlf_cli_exit(0);
		case 'V': mlf_cli_print_version(); return mlf_cli_exit(0);
		case 'f':
			if (mlf_cli_parse_format(optarg, &a->text))
				return MLF_EX_USAGE;
			continue;
		case 'q': a->quiet = 1; continue;
		case 'h': fputs(usage_text, stdout); return mlf_cli_exit(0);
		default: fputs("Try 'mlf-verify --help'.\n", stderr); return MLF_EX_USAGE;
		}
		if (mlf_cli_override(&a->config, key, optarg))
			return MLF_EX_USAGE;
	}
	if (optind < argc)
		return mlf_cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (a->run_id && a->version)
		return mlf_cli_usage_error("give --run-id or --version, not both");
	if (!a->run_id && !a->version && isatty(STDIN_FILENO))
		return mlf_cli_usage_error("no run document on standard input: pipe retrain-run's "
					   "output in, or give --run-id ID or --version N");
	return -1;
}

/* All of stdin; a run document is one line, but accept it pretty-printed too. */
static int read_stdin(struct mlf_buf *b, struct mlf_error *err)
{
	char chunk[65536];
	size_t got;
	while ((got = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		mlf_buf_add(b, chunk, got);
	if (ferror(stdin))
		return mlf_fail_errno(err, MLF_EX_IOERR, "cannot read the run document from standard "
				      "input");
	return 0;
}

/* Parse the piped document: 1 skip, 0 run document, -1 with err (65). */
static int read_document(const struct mlf_buf *text, json_t **doc, struct mlf_error *err)
{
	json_error_t je;
	if (text->len == strspn(text->data, " \t\r\n"))
		return mlf_fail(err, MLF_EX_DATAERR, "standard input is empty: expected the run "
				"document retrain-run prints (did retrain-run fail before printing one?)");
	*doc = json_loadb(text->data, text->len, 0, &je);
	if (!*doc)
		return mlf_fail(err, MLF_EX_DATAERR, "standard input is not one JSON document "
				"(line %d: %s); expected the run document retrain-run prints",
				je.line, je.text);
	return mlf_verify_document_kind(*doc, err);
}

/* Pass a skip document on byte for byte, so later tools see what retrain-prep wrote. */
static int pass_skip(const struct mlf_buf *text, const json_t *doc, int quiet)
{
	if (!quiet) {
		const char *reason = json_string_value(json_object_get(doc, "reason"));
		fprintf(stderr, "mlf-verify: nothing to verify: %s\n",
			reason ? reason : "the pipeline skipped this retraining");
	}
	fwrite(text->data, 1, text->len, stdout);
	if (text->len && text->data[text->len - 1] != '\n')
		putchar('\n');
	return mlf_cli_exit(0);
}

static int report(const struct args *a, struct mlf_verification *v, int status)
{
	struct mlf_error err = MLF_ERROR_INIT;
	if (a->text) {
		mlf_verification_print(v, stdout, isatty(STDOUT_FILENO));
		return status;
	}
	json_t *doc = mlf_verification_json(v);
	if (mlf_json_write_line(doc, stdout, &err))
		status = mlf_cli_report(&err);
	json_decref(doc);
	if (!a->quiet)
		mlf_verification_summary(v, "mlf-verify", stderr);
	return status;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_verification v = { 0 };
	struct mlf_verify_options opts = { 0 };
	struct mlf_buf text = MLF_BUF_INIT;
	json_t *doc = NULL;
	int status, kind = 0;

	mlf_cli_init(argv[0]);
	status = parse_args(argc, argv, &a);
	if (status >= 0)
		return status;
	/* The document first: a skip passes on even where the configuration is broken. */
	if (!a.run_id && !a.version) {
		if (read_stdin(&text, &err) || (kind = read_document(&text, &doc, &err)) < 0) {
			status = mlf_cli_report(&err);
			goto out_text;
		}
		if (kind == 1) {
			status = pass_skip(&text, doc, a.quiet);
			goto out_text;
		}
	}
	if (mlf_cli_load_config(&a.config, &cfg, &err)) {
		status = mlf_cli_report(&err);
		goto out_config;
	}
	opts.cfg = &cfg;
	opts.doc = doc;
	opts.run_id = a.run_id;
	if (a.version && mlf_version_resolve(&cfg, a.version, &opts.version, &err)) {
		status = mlf_cli_report(&err);
		goto out_config;
	}
	status = mlf_verify(&opts, &v, &err);
	if (status < 0)
		status = mlf_cli_report(&err);
	else
		status = report(&a, &v, status);
	mlf_verification_release(&v);
out_config:
	mlf_config_release(&cfg);
out_text:
	json_decref(doc);
	mlf_buf_release(&text);
	return mlf_cli_exit(status);
}
