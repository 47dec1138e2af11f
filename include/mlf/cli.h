/*
 * What every mlf program does around main(): safe standard descriptors,
 * default SIGPIPE, version text, a checked flush of stdout at exit, and its
 * command line, declared once in a table (struct mlf_program) from which the
 * parser, --help and the man page's OPTIONS and EXIT STATUS sections all
 * follow, as git's parse-options does.
 */
#ifndef MLF_CLI_H
#define MLF_CLI_H

#include <signal.h>
#include <stdio.h>

#include "mlf/config.h"
#include "mlf/base.h"

/* Make sure fds 0-2 are open (so no file we open becomes "stdout"); set the program name. */
void mlf_cli_init(const char *progname);
const char *mlf_cli_progname(void);
/* Print "prog: message" on stderr and return err->status (or 70 when unset). */
int mlf_cli_report(const struct mlf_error *err);
/* Flush and check stdout; returns `status`, or 74 when output could not be written. */
int mlf_cli_exit(int status);
void mlf_cli_print_version(void);

/*
 * The configuration options every program takes: -C workspace, -c config,
 * and key overrides from flags (-s KEY=VALUE or a program's own flags),
 * applied after mlf.yaml and the environment.  Strings are borrowed from argv.
 */
#define MLF_CLI_MAX_OVERRIDES 64
struct mlf_cli_config {
	const char *workspace;
	const char *file;
	const char *overrides[MLF_CLI_MAX_OVERRIDES][2];  /* key (NULL: "key=value" pair), value */
	int n;
};

/* Record an override; returns 64 (usage) when there are too many, else 0. */
int mlf_cli_override(struct mlf_cli_config *c, const char *key, const char *value);
/* Load the configuration and apply the overrides in order. */
int mlf_cli_load_config(const struct mlf_cli_config *c, struct mlf_config *cfg,
			struct mlf_error *err);
/*
 * SIGINT and SIGTERM ask for a clean stop: the first one sets the returned
 * flag (to the signal's number) for the work to notice at a safe point; a
 * second one ends the process at once, as an impatient operator expects.
 */
volatile sig_atomic_t *mlf_cli_catch_stop_signals(void);

/* --format: "json" -> *text = 0, "text" -> 1; anything else is a usage error (64). */
int mlf_cli_parse_format(const char *arg, int *text);

/*
 * One option.  `id` is the short letter, or MLF_OPT_LONG + n for an option
 * with a long name only.  An option with a `key` overrides that configuration
 * key with its argument and needs no code in the program.  The help line is
 * shown by --help (with "(key)" appended) and, capitalised and followed by
 * `more`, in the man page.
 */
enum { MLF_OPT_LONG = 256 };
enum mlf_option_flags {
	MLF_OPT_OPTIONAL = 1,   /* the argument may be left out ("--version" or "--version N") */
	MLF_OPT_HIDDEN = 2,     /* parsed, but shown neither in --help nor in the man page */
};
struct mlf_option {
	int id;
	const char *name;       /* long name without "--" */
	const char *arg;        /* the argument's name ("DIR"), or NULL for a flag */
	const char *key;        /* configuration key set by the argument, or NULL */
	const char *help;       /* one line: what it does */
	const char *more;       /* man page only: further sentences, or NULL */
	unsigned flags;
};

/*
 * The options every program shares, one meaning each across the toolchain.
 * Their ids are handled by mlf_cli_parse itself.
 */
#define MLF_OPT_WORKSPACE { 'C', "workspace", "DIR", NULL, \
	"the workspace (default: $MLF_WORKSPACE or the current folder)", \
	"Relative paths in the configuration are relative to it.", 0 }
#define MLF_OPT_CONFIG { 'c', "config", "FILE", NULL, \
	"configuration file (default: $MLF_CONFIG, else <workspace>/mlf.yaml if it exists)", \
	"A relative path is taken from the workspace.", 0 }
#define MLF_OPT_SET { 's', "set", "KEY=VALUE", NULL, \
	"override any configuration key (repeatable)", \
	"The keys, their defaults and their environment variables are in examples/mlf.yaml.", 0 }
#define MLF_OPT_TRACKING_URI { 'u', "tracking-uri", "URI", "tracking_uri", \
	"the MLflow tracking store", NULL, 0 }
#define MLF_OPT_EXPERIMENT_ID { 'e', "experiment-id", "ID", "experiment_id", \
	"the exact MLflow experiment id", NULL, 0 }
#define MLF_OPT_FORMAT { 'f', "format", "FMT", NULL, \
	"output: json (default), or text: a summary for people on stdout instead of JSON", NULL, 0 }
#define MLF_OPT_QUIET { 'q', "quiet", NULL, NULL, \
	"no summary or step lines on stderr (errors and warnings still are)", NULL, 0 }
#define MLF_OPT_NO_WAIT { MLF_OPT_LONG + 100, "no-wait", NULL, NULL, \
	"exit 75 at once if another job holds the workspace lock", NULL, 0 }
#define MLF_OPT_HELP { 'h', "help", NULL, NULL, "show this help", NULL, 0 }
#define MLF_OPT_VERSION { 'V', "version", NULL, NULL, "show the version", NULL, 0 }
#define MLF_OPT_END { 0, NULL, NULL, NULL, NULL, NULL, 0 }
/* Where the configuration comes from: every program's first options. */
#define MLF_OPTS_CONFIG MLF_OPT_WORKSPACE, MLF_OPT_CONFIG, MLF_OPT_SET
/* The same, for programs that talk to the tracking store. */
#define MLF_OPTS_TRACKING MLF_OPT_WORKSPACE, MLF_OPT_CONFIG, MLF_OPT_TRACKING_URI, \
	MLF_OPT_EXPERIMENT_ID, MLF_OPT_SET

/* An exit status and what it means for this program; lists end with MLF_EXIT_END. */
struct mlf_exit_doc {
	int status;
	const char *text;
};
/* The statuses that mean the same in every program. */
#define MLF_EXIT_USAGE { MLF_EX_USAGE, "usage error" }
#define MLF_EXIT_SOFTWARE { MLF_EX_SOFTWARE, "internal error (a bug: the message says where)" }
#define MLF_EXIT_UNAVAILABLE { MLF_EX_UNAVAILABLE, "the tracking store is unavailable (unreachable " \
	"after the configured retries); the message names the URI" }
#define MLF_EXIT_CONFIG { MLF_EX_CONFIG, "configuration error: a malformed or unknown key, a " \
	"missing workspace or file, an incompatible SQLite database, or credentials the server " \
	"rejected (401/403)" }
#define MLF_EXIT_END { -1, NULL }

/* A program's whole command line. */
struct mlf_program {
	const char *name;
	const char *synopsis;   /* what follows "usage: NAME ", one form per line */
	const char *about;      /* a paragraph for --help (the man page has its own DESCRIPTION) */
	int max_operands;       /* words allowed after the options */
	const struct mlf_option *options;
	const struct mlf_exit_doc *exits;
};

/* What mlf_cli_parse collects from the shared options. */
struct mlf_cli {
	struct mlf_cli_config config;   /* -C, -c, -s and every option with a key */
	int quiet;                      /* -q */
	int text;                       /* -f text */
	int no_wait;                    /* --no-wait */
	int nargs;                      /* operands left after the options */
	char **args;
};

/*
 * A program's own options: called with the option's id and argument (NULL
 * for a flag); returns 0 to go on or an exit status (mlf_cli_usage_error()
 * for a bad argument).
 */
typedef int (*mlf_option_fn)(void *ctx, int id, const char *arg);

/*
 * Parse argv against p->options.  The shared options, and options with a
 * key, are handled here; the others go to `fn`.  -h prints the help and
 * --help=man the man page's generated sections (scripts/gen-man).  Returns
 * -1 to go on, or the status to exit with (0 after --help or --version, 64
 * on a usage error, already reported).
 */
int mlf_cli_parse(const struct mlf_program *p, int argc, char **argv, struct mlf_cli *c,
		  mlf_option_fn fn, void *ctx);
/* The help text (what -h prints) and the man page's SYNOPSIS, OPTIONS and EXIT STATUS. */
void mlf_cli_print_help(const struct mlf_program *p, FILE *out);
void mlf_cli_print_man(const struct mlf_program *p, FILE *out);

/* "prog: <message>\nTry 'prog --help'." on stderr; returns 64. */
int mlf_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
