#include "mlf/cli.h"

#include <errno.h>
#include <stdarg.h>
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

int mlf_cli_override(struct mlf_cli_config *c, const char *key, const char *value)
{
	if (c->n == MLF_CLI_MAX_OVERRIDES)
		return mlf_cli_usage_error("too many configuration overrides");
	c->overrides[c->n][0] = key;
	c->overrides[c->n][1] = value;
	c->n++;
	return 0;
}

int mlf_cli_load_config(const struct mlf_cli_config *c, struct mlf_config *cfg,
			struct mlf_error *err)
{
	if (mlf_config_load(cfg, c->workspace, c->file, err))
		return -1;
	for (int i = 0; i < c->n; i++) {
		const char *key = c->overrides[i][0], *value = c->overrides[i][1];
		if (key ? mlf_config_set(cfg, key, value, "command line", err)
			: mlf_config_set_pair(cfg, value, err))
			return -1;
	}
	return 0;
}

int mlf_cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", progname);
	return MLF_EX_USAGE;
}

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	if (stop_signal) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
	stop_signal = sig;
}

volatile sig_atomic_t *mlf_cli_catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return &stop_signal;
}

int mlf_cli_parse_format(const char *arg, int *text)
{
	if (strcmp(arg, "json") && strcmp(arg, "text"))
		return mlf_cli_usage_error("--format is json or text, not '%s'", arg);
	*text = !strcmp(arg, "text");
	return 0;
}
