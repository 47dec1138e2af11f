/*
 * What every mlf program does around main(): safe standard descriptors,
 * default SIGPIPE, version text, and a checked flush of stdout at exit.
 */
#ifndef MLF_CLI_H
#define MLF_CLI_H

#include "mlf/error.h"

#define MLF_VERSION "0.1.0"

/* Make sure fds 0-2 are open (so no file we open becomes "stdout"); set the program name. */
void mlf_cli_init(const char *progname);
const char *mlf_cli_progname(void);
/* Print "prog: message" on stderr and return err->status (or 70 when unset). */
int mlf_cli_report(const struct mlf_error *err);
/* Flush and check stdout; returns `status`, or 74 when output could not be written. */
int mlf_cli_exit(int status);
void mlf_cli_print_version(void);

#endif
