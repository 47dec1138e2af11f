/* Command lines from one option table: parsing, --help and the man page's sections (lib/cli). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mlf/base.h"
#include "mlf/cli.h"

enum { OPT_EPOCHS = MLF_OPT_LONG, OPT_INIT, OPT_SECRET };

static const struct mlf_option options[] = {
	MLF_OPTS_TRACKING,
	{ OPT_EPOCHS, "epochs", "N", "train.epochs", "training epochs", "Default: 50.", 0 },
	{ OPT_INIT, "init", NULL, NULL, "create what is missing (comma-separated list, --init)", NULL, 0 },
	{ 'r', "run-id", "ID", NULL, "this run", NULL, 0 },
	{ OPT_SECRET, "secret", NULL, NULL, "not shown", NULL, MLF_OPT_HIDDEN },
	{ 'V', "version", "N", NULL, "model version N; alone, the program's version", NULL,
	  MLF_OPT_OPTIONAL },
	MLF_OPT_NO_WAIT,
	MLF_OPT_FORMAT,
	MLF_OPT_QUIET,
	MLF_OPT_HELP,
	MLF_OPT_END,
};

static const struct mlf_exit_doc exits[] = {
	{ 0, "done" },
	MLF_EXIT_USAGE,
	{ 74, "output error" },
	MLF_EXIT_END,
};

static const struct mlf_program program = {
	.name = "mlf-test",
	.synopsis = "[options] N\n--run-id ID [options]",
	.about = "A program for the tests.",
	.max_operands = 1,
	.options = options,
	.exits = exits,
};

/* A program that gives -s and -q other meanings, under other names. */
static const struct mlf_option other_options[] = {
	{ 's', "size", "WxH", NULL, "image size", NULL, 0 },
	{ 'q', "queue", "N", NULL, "queue length", NULL, 0 },
	MLF_OPT_HELP,
	MLF_OPT_END,
};
static const struct mlf_program other = {
	.name = "mlf-other", .synopsis = "[options]", .about = "Another.",
	.options = other_options, .exits = exits,
};

/* What the program's own options saw. */
struct seen {
	int init, secret, calls;
	const char *run_id, *version;
	int fail_with;
};

static int own(void *ctx, int id, const char *arg)
{
	struct seen *s = ctx;
	s->calls++;
	switch (id) {
	case OPT_INIT: s->init = 1; break;
	case OPT_SECRET: s->secret = 1; break;
	case 'r': s->run_id = arg; break;
	case 'V': s->version = arg; break;
	default: fail_msg("unexpected option id %d", id);
	}
	return s->fail_with;
}

/* Parse a NULL-terminated list of words after the program name. */
static int parse(struct mlf_cli *c, struct seen *s, ...)
{
	static char *argv[32];
	va_list ap;
	int argc = 0;
	argv[argc++] = (char *)"mlf-test";
	va_start(ap, s);
	for (char *w; (w = va_arg(ap, char *));)
		argv[argc++] = w;
	va_end(ap);
	argv[argc] = NULL;
	return mlf_cli_parse(&program, argc, argv, c, own, s);
}

static void test_shared_options(void **state)
{
	(void)state;
	struct mlf_cli c;
	struct seen s = { 0 };
	assert_int_equal(parse(&c, &s, "-C", "/ws", "-c", "my.yaml", "-u", "http://h", "-e", "7",
			       "-s", "a.b=1", "-q", "-f", "text", "--no-wait", NULL), -1);
	assert_string_equal(c.config.workspace, "/ws");
	assert_string_equal(c.config.file, "my.yaml");
	assert_int_equal(c.quiet, 1);
	assert_int_equal(c.text, 1);
	assert_int_equal(c.no_wait, 1);
	assert_int_equal(s.calls, 0);  /* none of them reaches the program */
	/* overrides in command-line order: keyed options by key, -s as a pair */
	assert_int_equal(c.config.n, 3);
	assert_string_equal(c.config.overrides[0][0], "tracking_uri");
	assert_string_equal(c.config.overrides[0][1], "http://h");
	assert_string_equal(c.config.overrides[1][0], "experiment_id");
	assert_string_equal(c.config.overrides[1][1], "7");
	assert_null(c.config.overrides[2][0]);
	assert_string_equal(c.config.overrides[2][1], "a.b=1");
	assert_int_equal(c.nargs, 0);
}

static void test_keyed_and_own_options(void **state)
{
	(void)state;
	struct mlf_cli c;
	struct seen s = { 0 };
	assert_int_equal(parse(&c, &s, "--epochs=5", "--init", "-r", "abc", "--secret", "12", NULL), -1);
	assert_int_equal(c.config.n, 1);
	assert_string_equal(c.config.overrides[0][0], "train.epochs");
	assert_string_equal(c.config.overrides[0][1], "5");
	assert_int_equal(s.init, 1);
	assert_int_equal(s.secret, 1);  /* hidden, but parsed */
	assert_string_equal(s.run_id, "abc");
	assert_int_equal(c.nargs, 1);
	assert_string_equal(c.args[0], "12");

	/* operands may come before options (GNU order), as in "model-locate latest -f text" */
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse(&c, &s, "latest", "-q", NULL), -1);
	assert_int_equal(c.quiet, 1);
	assert_int_equal(c.nargs, 1);
	assert_string_equal(c.args[0], "latest");

	/* a program's option that refuses its argument stops the parse with its status */
	memset(&s, 0, sizeof(s));
	s.fail_with = MLF_EX_USAGE;
	assert_int_equal(parse(&c, &s, "--init", "-q", NULL), MLF_EX_USAGE);
	assert_int_equal(s.calls, 1);
	assert_int_equal(c.quiet, 0);  /* nothing after it was taken */
}

static void test_optional_argument(void **state)
{
	(void)state;
	struct mlf_cli c;
	struct seen s = { 0 };
	/* "--version N" as two words, and "--version=N", are the program's */
	assert_int_equal(parse(&c, &s, "--version", "3", NULL), -1);
	assert_string_equal(s.version, "3");
	assert_int_equal(c.nargs, 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse(&c, &s, "--version=v4", NULL), -1);
	assert_string_equal(s.version, "v4");
	/* the next word is not taken when it is an option */
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse(&c, &s, "--version", "-q", NULL), 0);  /* printed the version */
	assert_int_equal(s.calls, 0);
	/* -V alone is always the program's version, and never takes the next word */
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse(&c, &s, "-V", "3", NULL), 0);
	assert_int_equal(s.calls, 0);
}

static void test_usage_errors(void **state)
{
	(void)state;
	struct mlf_cli c;
	struct seen s = { 0 };
	assert_int_equal(parse(&c, &s, "--bogus", NULL), MLF_EX_USAGE);
	assert_int_equal(parse(&c, &s, "-x", NULL), MLF_EX_USAGE);
	assert_int_equal(parse(&c, &s, "-C", NULL), MLF_EX_USAGE);          /* missing argument */
	assert_int_equal(parse(&c, &s, "--run-id", NULL), MLF_EX_USAGE);
	assert_int_equal(parse(&c, &s, "1", "2", NULL), MLF_EX_USAGE);      /* one operand at most */
	assert_int_equal(parse(&c, &s, "-f", "xml", NULL), MLF_EX_USAGE);
	assert_int_equal(parse(&c, &s, "--help=pdf", NULL), MLF_EX_USAGE);
	assert_int_equal(parse(&c, &s, "--init=yes", NULL), MLF_EX_USAGE);  /* a flag takes none */
	assert_int_equal(s.calls, 0);
}

static int other_seen;
static int other_own(void *ctx, int id, const char *arg)
{
	(void)ctx;
	other_seen += (id == 's' && !strcmp(arg, "64x48")) + (id == 'q' && !strcmp(arg, "9"));
	return 0;
}

static void test_letters_with_other_names(void **state)
{
	(void)state;
	struct mlf_cli c;
	char *argv[] = { (char *)"mlf-other", (char *)"-s", (char *)"64x48", (char *)"--queue=9", NULL };
	other_seen = 0;
	/* not the shared -s/-q: the program's own, with their arguments */
	assert_int_equal(mlf_cli_parse(&other, 4, argv, &c, other_own, NULL), -1);
	assert_int_equal(other_seen, 2);
	assert_int_equal(c.config.n, 0);
	assert_int_equal(c.quiet, 0);
}

static char *capture(void (*print)(const struct mlf_program *, FILE *))
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	print(&program, f);
	fclose(f);
	return text;
}

static void test_help(void **state)
{
	(void)state;
	char *h = capture(mlf_cli_print_help);
	assert_non_null(strstr(h, "usage: mlf-test [options] N\n       mlf-test --run-id ID [options]\n"));
	assert_non_null(strstr(h, "\nA program for the tests.\n"));
	/* the column, the key after the help, a long-only option indented past "-X, " */
	assert_non_null(strstr(h, "\n  -C, --workspace DIR       the workspace (default: "));
	assert_non_null(strstr(h, "\n      --epochs N            training epochs (train.epochs)\n"));
	assert_non_null(strstr(h, "\n  -V, --version [N]         model version N;"));
	assert_null(strstr(h, "secret"));
	assert_null(strstr(h, "Default: 50"));  /* the man page's extra text stays there */
	assert_non_null(strstr(h, "\nExit status:\n  0    done\n  64   usage error\n  74   output error\n"));
	/* wrapped at 80 columns */
	for (const char *line = h; *line;) {
		size_t n = strcspn(line, "\n");
		assert_true(n <= 80);
		line += n + (line[n] == '\n');
	}
	free(h);
}

static void test_man_sections(void **state)
{
	(void)state;
	char *m = capture(mlf_cli_print_man);
	assert_non_null(strstr(m, ".SH SYNOPSIS\n.B mlf-test\n[options] N\n.br\n.B mlf-test\n\\-\\-run-id ID [options]\n"));
	assert_non_null(strstr(m, ".SH OPTIONS\n.TP\n\\fB\\-C\\fR, \\fB\\-\\-workspace\\fR \\fIDIR\\fR\n"));
	/* capitalised, the key in bold, the man-only text after it */
	assert_non_null(strstr(m, "\\fB\\-\\-epochs\\fR \\fIN\\fR\nTraining epochs (\\fBtrain.epochs\\fR).\nDefault: 50.\n"));
	/* an option's dashes are escaped, a hyphen inside a word is not */
	assert_non_null(strstr(m, "Create what is missing (comma-separated list, \\-\\-init).\n"));
	assert_non_null(strstr(m, "\\fB\\-V\\fR, \\fB\\-\\-version\\fR [\\fIN\\fR]\n"));
	assert_null(strstr(m, "secret"));
	assert_non_null(strstr(m, ".SH EXIT STATUS\n.TP\n.B 0\nDone.\n.TP\n.B 64\nUsage error.\n"));
	/* each section between the lines scripts/gen-man looks for */
	const char *marks[] = { "SYNOPSIS", "OPTIONS", "EXIT STATUS" };
	for (size_t i = 0; i < 3; i++) {
		char begin[64], end[64];
		snprintf(begin, sizeof(begin), ".\\\" BEGIN %s: ", marks[i]);
		snprintf(end, sizeof(end), ".\\\" END %s\n", marks[i]);
		const char *b = strstr(m, begin), *e = strstr(m, end);
		assert_non_null(b);
		assert_non_null(e);
		assert_true(b < e);
	}
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_options),
		cmocka_unit_test(test_keyed_and_own_options),
		cmocka_unit_test(test_optional_argument),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_letters_with_other_names),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_man_sections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
