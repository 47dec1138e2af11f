/*
 * mlf-serve: the retraining trigger an application calls over HTTP.
 * Runs the pipeline by executing the other programs; see mlf-serve(1).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/cli.h"
#include "mlf/config.h"
#include "mlf/serve.h"

enum { OPT_LISTEN = MLF_OPT_LONG + 1, OPT_TOKEN_FILE, OPT_QUEUE, OPT_REQUIRE_EXP };

static const struct mlf_option options[] = {
	MLF_OPTS_CONFIG,
	{ OPT_LISTEN, "listen", "HOST:PORT", NULL, "where to listen (default: 127.0.0.1:8080)",
	  "Loopback unless told otherwise; for TLS, put a reverse proxy in front.", 0 },
	{ OPT_TOKEN_FILE, "token-file", "FILE", NULL,
	  "the bearer token every request but GET /api/health must carry (default: $MLF_SERVE_TOKEN)",
	  "Its first line; at least 16 characters.", 0 },
	{ OPT_QUEUE, "queue", "N", NULL, "jobs that may wait behind the running one (default: 4)",
	  "One more answers 429 with Retry-After.", 0 },
	{ OPT_REQUIRE_EXP, "require-experiment-id", NULL, NULL,
	  "refuse a retrain request that does not name the experiment", NULL, 0 },
	MLF_OPT_QUIET,
	MLF_OPT_HELP,
	MLF_OPT_VERSION,
	MLF_OPT_END,
};

static const struct mlf_exit_doc exits[] = {
	{ 0, "stopped by SIGTERM or SIGINT (the running job, if any, ended KILLED)" },
	MLF_EXIT_USAGE,
	{ 69, "cannot listen on the address" },
	MLF_EXIT_SOFTWARE,
	{ 73, "cannot create the job records' folder runs/serve/jobs" },
	{ 74, "an I/O error reading the job records" },
	{ 75, "another mlf-serve already serves this workspace" },
	MLF_EXIT_CONFIG,
	MLF_EXIT_END,
};

static const struct mlf_program program = {
	.name = "mlf-serve",
	.synopsis = "[options]",
	.about = "Serve the workspace's retraining over HTTP: POST /api/model/retrain (the Python "
		 "system's contract: 202 and a job, or with ?wait=true its answer), GET/DELETE "
		 "/api/jobs/ID, GET /api/jobs, GET /api/models/latest|N, GET /api/health. A job runs "
		 "mlf-validate, retrain-prep, retrain-run and mlf-verify, as the cron line does; one at "
		 "a time. Logs go to stderr.",
	.options = options,
	.exits = exits,
};

struct args {
	const char *listen;
	const char *token_file;
	int queue;
	int require_experiment;
	char *pass[2 * MLF_CLI_MAX_OVERRIDES + 8];
	int npass;
};

static int option(void *ctx, int id, const char *arg)
{
	struct args *a = ctx;
	char *end;
	switch (id) {
	case OPT_LISTEN: a->listen = arg; return 0;
	case OPT_TOKEN_FILE: a->token_file = arg; return 0;
	case OPT_REQUIRE_EXP: a->require_experiment = 1; return 0;
	case OPT_QUEUE:
		a->queue = (int)strtol(arg, &end, 10);
		if (*end || a->queue < 0 || a->queue > 1000)
			return mlf_cli_usage_error("--queue takes a number from 0 to 1000");
		return 0;
	}
	return MLF_EX_SOFTWARE;
}

/* The token: the file's first line, else $MLF_SERVE_TOKEN; never printed. */
static char *read_token(const char *file, struct mlf_error *err)
{
	char *text = NULL;
	size_t len = 0;
	if (file) {
		if (mlf_read_file(file, &text, &len, err))
			return NULL;
		text[strcspn(text, "\r\n")] = '\0';
	} else if (getenv("MLF_SERVE_TOKEN")) {
		text = mlf_xstrdup(getenv("MLF_SERVE_TOKEN"));
	} else {
		mlf_fail(err, MLF_EX_CONFIG, "no token: give --token-file FILE or set MLF_SERVE_TOKEN "
			 "(for example: head -c 24 /dev/urandom | base64 > token)");
		return NULL;
	}
	if (strlen(text) < 16) {
		free(text);
		mlf_fail(err, MLF_EX_CONFIG, "the token %s is shorter than 16 characters",
			 file ? "in --token-file" : "in MLF_SERVE_TOKEN");
		return NULL;
	}
	return text;
}

/* The programs sit beside mlf-serve (installed together, or in build/bin). */
static char *own_folder(const char *argv0)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n > 0) {
		path[n] = '\0';
		char *slash = strrchr(path, '/');
		*slash = '\0';
		return mlf_xstrdup(path);
	}
	const char *slash = strrchr(argv0, '/');
	return slash ? mlf_xstrndup(argv0, (size_t)(slash - argv0)) : mlf_xstrdup(".");
}

int main(int argc, char **argv)
{
	struct mlf_cli cli;
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	struct args a = { .queue = 4 };

	mlf_cli_init(argv[0]);
	int status = mlf_cli_parse(&program, argc, argv, &cli, option, &a);
	if (status >= 0)
		return status;
	volatile sig_atomic_t *stop = mlf_cli_catch_stop_signals();
	if (mlf_cli_load_config(&cli.config, &cfg, &err))
		return mlf_cli_report(&err);
	char *token = read_token(a.token_file, &err);
	if (!token) {
		mlf_config_release(&cfg);
		return mlf_cli_report(&err);
	}
	/* every program runs on this workspace with this configuration */
	a.pass[a.npass++] = "-C";
	a.pass[a.npass++] = cfg.workspace;
	if (cli.config.file) {
		a.pass[a.npass++] = "-c";
		a.pass[a.npass++] = (char *)cli.config.file;
	}
	for (int i = 0; i < cli.config.n; i++) {
		a.pass[a.npass++] = "-s";
		a.pass[a.npass++] = cli.config.overrides[i][0]
			? mlf_xasprintf("%s=%s", cli.config.overrides[i][0], cli.config.overrides[i][1])
			: (char *)cli.config.overrides[i][1];
	}
	char *bin = own_folder(argv[0]);
	struct mlf_serve_options o = {
		.cfg = &cfg, .listen = a.listen, .token = token, .bin_dir = bin, .pass_args = a.pass,
		.npass_args = a.npass, .queue_max = a.queue, .require_experiment = a.require_experiment,
		.quiet = cli.quiet, .stop = stop,
	};
	status = mlf_serve_run(&o, &err) ? mlf_cli_report(&err) : 0;
	free(bin);
	free(token);
	mlf_config_release(&cfg);
	return status;
}
