/*
 * The checks mlf-validate runs, as a library so other programs can run them
 * before starting work.  Each check is one entry of a report: a name, ok or
 * not, a detail saying what was found, and a hint saying what to do.
 *
 * Ownership: the report owns its checks and their strings;
 * mlf_report_release() frees them.  The configuration is borrowed.
 */
#ifndef MLF_VALIDATE_H
#define MLF_VALIDATE_H

#include <jansson.h>
#include <stdio.h>

#include "mlf/config.h"

struct mlf_check {
	char *name;
	int ok;
	int skipped;
	int status;     /* exit status this failure implies (1, 69, 78) */
	char *detail;
	char *hint;     /* NULL when there is nothing to do */
};

struct mlf_report {
	struct mlf_check *checks;
	size_t n;
};

struct mlf_validate_options {
	int init;           /* create the experiment (exact id) and workspace folders */
	int probe;          /* create, read back and remove a probe run */
	const char *skip;   /* comma-separated check names not to run */
};

/* Names of every check, in the order they run; NULL-terminated. */
extern const char *const mlf_check_names[];

/* Run the checks; returns the exit status: 0, 1, 69 or 78 (see mlf-validate(1)). */
int mlf_validate(const struct mlf_config *cfg, const struct mlf_validate_options *opts,
		 struct mlf_report *report);
int mlf_report_status(const struct mlf_report *report);
json_t *mlf_report_json(const struct mlf_report *report, const struct mlf_config *cfg);
void mlf_report_print(const struct mlf_report *report, FILE *out, int color);
void mlf_report_release(struct mlf_report *report);

#endif
