/*
 * What every mlf program does around main(): safe standard descriptors,
 * default SIGPIPE, version text, and a checked flush of stdout at exit.
 */
#ifndef MLF_CLI_H
#define MLF_CLI_H

#include <signal.h>

#include "mlf/config.h"
#include "mlf/base.h"

#define MLF_VERSION "0.1.0"

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

/* "prog: <message>\nTry 'prog --help'." on stderr; returns 64. */
int mlf_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
