/*
 * Progress of long work on stderr: a live bar when stderr is a terminal,
 * otherwise a plain line every 10% (cron- and CI-friendly).  Silent for
 * small jobs (under `quiet_below` items).  No allocation; nothing to free.
 */
#ifndef MLF_PROGRESS_H
#define MLF_PROGRESS_H

#include <stddef.h>

struct mlf_progress {
	const char *prog;   /* program name for the line prefix */
	const char *what;   /* "checking images" */
	size_t total, done;
	int tty, active, last_decile;
};

void mlf_progress_start(struct mlf_progress *p, const char *prog, const char *what,
			size_t total, size_t quiet_below);
void mlf_progress_step(struct mlf_progress *p);
void mlf_progress_finish(struct mlf_progress *p);

#endif
