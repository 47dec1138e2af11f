/*
 * mlf-verify: prove what a retraining run left behind.
 * Reads the run document on stdin (or --run-id / --version) and prints one
 * verification report on stdout; see mlf-verify(1).
 */
#include <stdio.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/check.h"
#include "mlf/cli.h"
#include "mlf/config.h"

static const struct mlf_option options[] = {
	MLF_OPTS_TRACKING,
	{ 'r', "run-id", "ID", NULL,
	  "verify this MLflow run (its version tag names the files) instead of reading a document",
	  NULL, 0 },
	/* --version is both "show the program's version", as in every mlf program, and
	 * "verify model version N": with an argument it is the latter. */
	{ 'V', "version", "N", NULL,
	  "verify model version N, vN, retrained_vN or latest; without N (and as -V), show "
	  "the program's version", "latest is the highest N in models/.", MLF_OPT_OPTIONAL },
	MLF_OPT_FORMAT,
	MLF_OPT_QUIET,
	MLF_OPT_HELP,
	MLF_OPT_END,
};

static const struct mlf_exit_doc exits[] = {
	{ 0, "every check passed, or a skip document was passed on" },
	{ 1, "a check failed: every problem is in the report" },
	MLF_EXIT_USAGE,
	{ 65, "the input is not a run document" },
	{ 66, "the version or the run was not found" },
	MLF_EXIT_UNAVAILABLE,
	MLF_EXIT_SOFTWARE,
	{ 73, "no temporary folder to download the MLflow artifact into (set TMPDIR)" },
	{ 74, "the report could not be written, or standard input could not be read" },
	MLF_EXIT_CONFIG,
	MLF_EXIT_END,
};

static const struct mlf_program program = {
	.name = "mlf-verify",
	.synopsis = "[options] < run-document\n[options] --run-id ID\n[options] --version N|vN|latest",
	.about = "Check what a retraining left behind: the local model files and their sha256, "
		 "the MLflow run (exact experiment, FINISHED, tags, params, metrics, artifacts) "
		 "and its registry version. Reads retrain-run's run document on stdin unless "
		 "--run-id or --version is given; a skip document is passed on unchanged. "
		 "Prints a JSON report on stdout and a summary on stderr.",
	.options = options,
	.exits = exits,
};

struct args {
	const char *run_id;
	const char *version;
};

static int option(void *ctx, int id, const char *arg)
{
	struct args *a = ctx;
	switch (id) {
	case 'r': a->run_id = arg; return 0;
	case 'V': a->version = arg; return 0;
	}
	return MLF_EX_SOFTWARE;
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
	return 0;
}

static int report(const struct mlf_cli *cli, struct mlf_verification *v, int status)
{
	struct mlf_error err = MLF_ERROR_INIT;
	if (cli->text) {
		mlf_verification_print(v, stdout, isatty(STDOUT_FILENO));
		return status;
	}
	json_t *doc = mlf_verification_json(v);
	if (mlf_json_write_line(doc, stdout, &err))
		status = mlf_cli_report(&err);
	json_decref(doc);
	if (!cli->quiet)
		mlf_verification_summary(v, program.name, stderr);
	return status;
}

int main(int argc, char **argv)
{
	struct mlf_cli cli;
	struct args a = { 0 };
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_verification v = { 0 };
	struct mlf_verify_options opts = { 0 };
	struct mlf_buf text = MLF_BUF_INIT;
	json_t *doc = NULL;

	mlf_cli_init(argv[0]);
	int status = mlf_cli_parse(&program, argc, argv, &cli, option, &a);
	if (status >= 0)
		return status;
	if (a.run_id && a.version)
		return mlf_cli_usage_error("give --run-id or --version, not both");
	if (!a.run_id && !a.version && isatty(STDIN_FILENO))
		return mlf_cli_usage_error("no run document on standard input: pipe retrain-run's "
					   "output in, or give --run-id ID or --version N");
	/* The document first: a skip passes on even where the configuration is broken. */
	if (!a.run_id && !a.version) {
		int kind = mlf_verify_read_input(stdin, &text, &doc, &err);
		if (kind) {
			status = kind < 0 ? mlf_cli_report(&err) : pass_skip(&text, doc, cli.quiet);
			goto out_text;
		}
	}
	if (mlf_cli_load_config(&cli.config, &cfg, &err)) {
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
	status = status < 0 ? mlf_cli_report(&err) : report(&cli, &v, status);
	mlf_verification_release(&v);
out_config:
	mlf_config_release(&cfg);
out_text:
	json_decref(doc);
	mlf_buf_release(&text);
	return mlf_cli_exit(status);
}
