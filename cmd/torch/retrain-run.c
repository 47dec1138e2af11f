/*
 * retrain-run: the retraining, recorded in MLflow.  Reads the dataset
 * document on stdin (or --dataset), prints the run document; see
 * retrain-run(1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/cli.h"
#include "mlf/config.h"
#include "mlf/plot.h"
#include "mlf/torch/retrain.h"
#include "mlf/torch/torch.h"

enum { OPT_EPOCHS = MLF_OPT_LONG, OPT_IMGSZ, OPT_BATCH, OPT_DEVICE, OPT_ARGS, OPT_THREADS,
       OPT_PROMOTE, OPT_RESUME, OPT_RESTART, OPT_SWEEP };

static const struct mlf_option options[] = {
	MLF_OPTS_TRACKING,
	{ 'd', "dataset", "DIR", NULL, "train on this version folder instead of reading stdin",
	  "The dataset document is rebuilt from the files in data/retrain_vN. --dataset, "
	  "--resume and --sweep exclude each other.", 0 },
	{ OPT_EPOCHS, "epochs", "N", "train.epochs", "training epochs",
	  "Default: 50. Before mlf 0.2 this was also -e, which is now --experiment-id in every "
	  "program.", 0 },
	{ OPT_IMGSZ, "imgsz", "N", "train.imgsz", "image size in pixels, for training and validation",
	  "Default: 640.", 0 },
	{ OPT_BATCH, "batch", "N", "train.batch", "images per batch",
	  "Default: 16. Before mlf 0.2 this was also -b, which is --base-data in retrain-prep.", 0 },
	{ OPT_DEVICE, "device", "DEV", "train.device", "where to train: auto, cpu or cuda:N",
	  "auto is CUDA when libtorch has it and a GPU is present, else the CPU.", 0 },
	{ OPT_ARGS, "args", "JSON", "train.args",
	  "any other Ultralytics training setting, in a JSON object",
	  "For example '{\"lr0\": 0.001, \"patience\": 20}'.", 0 },
	{ OPT_THREADS, "threads", "N", NULL,
	  "CPU threads for the training and evaluation, 1 to 1024 (default: every core)", NULL, 0 },
	{ OPT_PROMOTE, "promote", "MODE", "registry.promote",
	  "when the champion alias moves to the new version: always, if-better or never",
	  "Default: if-better.", 0 },
	{ 't', "tag", "KEY=VALUE", NULL, "an extra tag on the run (repeatable; also run.tags)",
	  "Added after those of run.tags; the tags retrain-run sets itself cannot be overridden.", 0 },
	{ OPT_RESUME, "resume", "VERSION", NULL,
	  "continue the interrupted run of version N, vN or latest",
	  "latest is the highest N whose run did not finish; no document is read. The training "
	  "continues with the settings it started with (they are in last.pt), so training "
	  "options given with it are refused (64). See FAILURES AND SIGNALS.", 0 },
	{ OPT_RESTART, "restart", NULL, NULL,
	  "start version N over though its folder holds an unfinished run",
	  "runs/train/retrain_vN/ is removed and a new run is created (the old run stays in MLflow "
	  "as it ended). Refused while the old run is still marked RUNNING: close it with --sweep "
	  "first.", 0 },
	{ OPT_SWEEP, "sweep", NULL, NULL,
	  "end FAILED this workspace's runs left RUNNING by a crash",
	  "Prints a sweep document instead of a run document. See FAILURES AND SIGNALS.", 0 },
	MLF_OPT_NO_WAIT,
	MLF_OPT_QUIET,
	MLF_OPT_HELP,
	MLF_OPT_VERSION,
	MLF_OPT_END,
};

static const struct mlf_exit_doc exits[] = {
	{ 0, "the run finished, or a skip document was passed on" },
	MLF_EXIT_USAGE,
	{ 65, "bad input document or data" },
	{ 66, "input missing" },
	MLF_EXIT_UNAVAILABLE,
	{ 70, "training failed (or an internal error: the message says where)" },
	{ 73, "the version is taken, or its files cannot be written" },
	{ 74, "I/O error (artifacts, the run document)" },
	{ 75, "the workspace is busy (--no-wait)" },
	{ 77, "permission denied by the tracking store or the artifact location" },
	MLF_EXIT_CONFIG,
	{ 130, "interrupted: the run is KILLED and resumable" },
	MLF_EXIT_END,
};

static const struct mlf_program program = {
	.name = "retrain-run",
	.synopsis = "[options] < dataset-document\n--dataset data/retrain_vN [options]\n"
		    "--resume N|vN|latest [options]\n--sweep [options]",
	.about = "Retrain the base model on a dataset version and record everything in MLflow: "
		 "the exact experiment, a tagged run, settings, dataset, metrics before, during "
		 "and after, the model in every location, a registry version. Prints the run "
		 "document on stdout; a skip document on stdin is passed on unchanged (exit 0).",
	.options = options,
	.exits = exits,
};

struct args {
	struct mlf_retrain_request request;
	struct mlf_kvs tags;
	int threads, restart;
};

static int option(void *ctx, int id, const char *arg)
{
	struct args *a = ctx;
	char *end;
	switch (id) {
	case 'd': a->request.dataset = arg; return 0;
	case OPT_RESUME: a->request.resume = arg; return 0;
	case OPT_SWEEP: a->request.sweep = 1; return 0;
	case OPT_RESTART: a->restart = 1; return 0;
	case OPT_THREADS:
		a->threads = (int)strtol(arg, &end, 10);
		if (*end || a->threads < 1 || a->threads > 1024)
			return mlf_cli_usage_error("--threads is a count from 1 to 1024, not '%s'", arg);
		return 0;
	case 't': {
		const char *eq = strchr(arg, '=');
		if (!eq || eq == arg)
			return mlf_cli_usage_error("--tag takes KEY=VALUE, not '%s'", arg);
		char *key = mlf_xstrndup(arg, (size_t)(eq - arg));
		mlf_kvs_set(&a->tags, key, eq + 1);
		free(key);
		return 0;
	}
	}
	return MLF_EX_SOFTWARE;
}

/* Which options go together; -1 to go on, else 64 (reported). */
static int check_args(const struct args *a, const struct mlf_cli *cli)
{
	const struct mlf_retrain_request *r = &a->request;
	if (!!r->dataset + !!r->resume + r->sweep > 1)
		return mlf_cli_usage_error("--dataset, --resume and --sweep exclude each other");
	for (int i = 0; r->resume && i < cli->config.n; i++) {
		const char *key = cli->config.overrides[i][0];
		if (key && !strncmp(key, "train.", 6))
			return mlf_cli_usage_error("--resume continues with the settings its run started with; "
						   "drop the training options (%s)", key);
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct mlf_cli cli;
	struct args a = { .tags = MLF_KVS_INIT, .request.in = stdin };
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	json_t *doc = NULL;

	mlf_cli_init(argv[0]);
	int status = mlf_cli_parse(&program, argc, argv, &cli, option, &a);
	if (status < 0)
		status = check_args(&a, &cli);
	if (status < 0 && mlf_cli_load_config(&cli.config, &cfg, &err)) {
		status = mlf_cli_report(&err);
		mlf_config_release(&cfg);
	}
	if (status >= 0) {
		mlf_kvs_release(&a.tags);
		return status;
	}

	mlf_th_tune_malloc();
	struct mlf_retrain_options o = {
		.cfg = &cfg, .tags = &a.tags, .threads = a.threads, .restart = a.restart,
		.no_wait = cli.no_wait, .quiet = cli.quiet, .prog = program.name,
		.stop = mlf_cli_catch_stop_signals(),  /* run KILLED, last.pt kept */
	};
	int rc = mlf_retrain_request(&a.request, &o, &doc, &err);
	mlf_plot_cleanup();
	status = rc ? mlf_cli_report(&err) : 0;
	struct mlf_error out_err = MLF_ERROR_INIT;
	if (doc && mlf_json_write_line(doc, stdout, &out_err) && !status)
		status = mlf_cli_report(&out_err);
	json_decref(doc);
	mlf_kvs_release(&a.tags);
	mlf_config_release(&cfg);
	return mlf_cli_exit(status);
}
