#include "mlf/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *progname = "mlf";

void mlf_cli_init(const char *name)
{
	const char *slash = name ? strrchr(name, '/') : NULL;
	progname = slash ? slash + 1 : name ? name : "mlf";
	/* A closed fd 1 would make the next open() our stdout: fill 0-2 first. */
	for (;;) {
		int fd = open("/dev/null", O_RDWR);
		if (fd < 0 || fd > 2) {
			if (fd > 2)
				close(fd);
			break;
		}
	}
	signal(SIGPIPE, SIG_DFL);
}

const char *mlf_cli_progname(void)
{
	return progname;
}

int mlf_cli_report(const struct mlf_error *err)
{
	fprintf(stderr, "%s: %s\n", progname, err->msg[0] ? err->msg : "unknown error");
	return err->status ? err->status : MLF_EX_SOFTWARE;
}

int mlf_cli_exit(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write to standard output: %s\n", progname, strerror(errno));
		return MLF_EX_IOERR;
	}
	return status;
}

void mlf_cli_print_version(void)
{
	printf("%s (mlf) %s\n", progname, MLF_VERSION);
}
