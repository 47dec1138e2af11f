/*
 * Failpoints: the write paths of the library (file commits, tracking-store
 * writes) each pass one, and a test can arm the Nth one of a step to kill
 * the process or make that write fail as a full disk would.  The idea is
 * SQLite's fault injection and fail-rs's: the code under test is the code
 * that ships, with its faults chosen from outside.
 *
 * Unarmed, a failpoint costs one pointer test: the environment is read once,
 * on the first point passed (pthread_once).  The step and its count belong to
 * the thread: retrain-run's metrics logger thread counts its own step
 * ("metrics"), so the main thread's points keep their numbers whatever the
 * logger's timing.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlf/base.h"

enum fp_action { FP_NONE, FP_KILL, FP_ENOSPC };

static struct {
	int active;            /* armed or tracing */
	char armed_step[64];
	long armed_n;
	enum fp_action action;
	const char *trace;     /* MLF_FAILPOINT_TRACE */
} fp;

static pthread_once_t fp_once = PTHREAD_ONCE_INIT;

static _Thread_local struct {
	char step[64];         /* the step being run; "main" until one is named */
	long count;            /* points passed in this step */
} here = { .step = "main" };

static void load(void)
{
	fp.trace = getenv("MLF_FAILPOINT_TRACE");
	const char *spec = getenv("MLF_FAILPOINT");
	if (spec && *spec) {
		char step[64], action[16];
		long n;
		char extra;
		/* STEP:N:ACTION, e.g. "publish:2:kill" */
		if (sscanf(spec, "%63[^:]:%ld:%15[a-z]%c", step, &n, action, &extra) != 3 || n < 1 ||
		    (strcmp(action, "kill") && strcmp(action, "enospc"))) {
			fprintf(stderr, "mlf: MLF_FAILPOINT='%s' is not STEP:N:kill or STEP:N:enospc; ignored\n",
				spec);
		} else {
			snprintf(fp.armed_step, sizeof(fp.armed_step), "%s", step);
			fp.armed_n = n;
			fp.action = strcmp(action, "kill") ? FP_ENOSPC : FP_KILL;
		}
	}
	fp.active = fp.trace || fp.action != FP_NONE;
}

void mlf_failpoint_step(const char *step)
{
	pthread_once(&fp_once, load);
	if (!fp.active || !strcmp(step, here.step))
		return;
	snprintf(here.step, sizeof(here.step), "%s", step);
	here.count = 0;
}

int mlf_failpoint(const char *what, struct mlf_error *err)
{
	pthread_once(&fp_once, load);
	if (!fp.active)
		return 0;
	here.count++;
	if (fp.trace) {
		/* one line per point, appended in one write so that it survives the kill below */
		char *line = mlf_xasprintf("%s %ld %s\n", here.step, here.count, what);
		int fd = open(fp.trace, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, line, strlen(line)) < 0)
			fprintf(stderr, "mlf: cannot append to MLF_FAILPOINT_TRACE '%s': %s\n", fp.trace,
				strerror(errno));
		if (fd >= 0)
			close(fd);
		free(line);
	}
	if (fp.action == FP_NONE || here.count != fp.armed_n || strcmp(here.step, fp.armed_step))
		return 0;
	if (fp.action == FP_KILL) {
		raise(SIGKILL);  /* as kill -9: no handler, no exit path, no flush */
		_exit(137);
	}
	errno = ENOSPC;
	return mlf_fail_errno(err, MLF_EX_IOERR, "%s (failpoint %s:%ld)", what, here.step, here.count);
}
