/*
 * retrain-run: the retraining, recorded in MLflow.  Reads the dataset
 * document on stdin (or --dataset), prints the run document; see
 * retrain-run(1).
 */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlf/cli.h"
#include "mlf/base.h"
#include "mlf/config.h"
#include "mlf/plot.h"
#include "mlf/torch/retrain.h"

static const char usage_text[] =
	"usage: retrain-prep | retrain-run [options]\n"
	"       retrain-run --dataset data/retrain_vN [options]\n"
	"       retrain-run --resume N|vN|latest\n"
	"       retrain-run --sweep\n"
	"\n"
	"Retrain the base model on a dataset version and record everything in MLflow: the\n"
	"exact experiment, a tagged run, settings, dataset, metrics before, during and after,\n"
	"the model in every location, a registry version. Prints the run document on stdout;\n"
	"a skip document on stdin is passed on unchanged (exit 0).\n"
	"\n"
	"  -C, --workspace DIR     the workspace (default: $MLF_WORKSPACE or the current folder)\n"
	"  -c, --config FILE       configuration file (default: <workspace>/mlf.yaml)\n"
	"  -s, --set KEY=VALUE     override any configuration key (repeatable)\n"
	"  -d, --dataset DIR       train on this version folder instead of reading stdin\n"
	"  -e, --epochs N          training epochs (train.epochs)\n"
	"      --imgsz N           image size (train.imgsz)\n"
	"  -b, --batch N           batch size (train.batch)\n"
	"      --device DEV        auto, cpu or cuda:N (train.device)\n"
	"      --args JSON         other Ultralytics settings as a JSON object (train.args)\n"
	"      --threads N         CPU threads for the training (default: every core)\n"
	"      --promote MODE      move the champion alias: always, if-better, never (registry.promote)\n"
	"  -t, --tag KEY=VALUE     an extra tag on the run (repeatable; also run.tags)\n"
	"      --resume VERSION    continue the interrupted run of version N (or latest)\n"
	"      --restart           start version N over though its folder holds an unfinished run\n"
	"      --sweep             end FAILED this workspace's runs left RUNNING by a crash\n"
	"      --no-wait           exit 75 at once if another retrain-run holds the workspace\n"
	"  -q, --quiet             no step lines on stderr\n"
	"  -h, --help              show this help\n"
	"  -V, --version           show the version\n"
	"\n"
	"Exit status: 0 finished (or skip passed on), 64 usage, 65 bad input document or data,\n"
	"66 input missing, 69 tracking store unavailable, 70 training failed, 73 version taken\n"
	"or cannot write, 74 I/O error (artifacts), 75 workspace busy (--no-wait),\n"
	"78 configuration error, 130 interrupted (run KILLED, resumable).\n";

enum { OPT_IMGSZ = 256, OPT_DEVICE, OPT_ARGS, OPT_THREADS, OPT_PROMOTE, OPT_RESUME, OPT_RESTART,
       OPT_SWEEP, OPT_NO_WAIT };

static const struct option long_options[] = {
	{ "workspace", required_argument, NULL, 'C' },
	{ "config", required_argument, NULL, 'c' },
	{ "set", required_argument, NULL, 's' },
	{ "dataset", required_argument, NULL, 'd' },
	{ "epochs", required_argument, NULL, 'e' },
	{ "imgsz", required_argument, NULL, OPT_IMGSZ },
	{ "batch", required_argument, NULL, 'b' },
	{ "device", required_argument, NULL, OPT_DEVICE },
	{ "args", required_argument, NULL, OPT_ARGS },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "promote", required_argument, NULL, OPT_PROMOTE },
	{ "tag", required_argument, NULL, 't' },
	{ "resume", required_argument, NULL, OPT_RESUME },
	{ "restart", no_argument, NULL, OPT_RESTART },
	{ "sweep", no_argument, NULL, OPT_SWEEP },
	{ "no-wait", no_argument, NULL, OPT_NO_WAIT },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct args {
	struct mlf_cli_config config;
	const char *dataset, *resume;
	struct mlf_kvs tags;
	int threads, restart, sweep, no_wait, quiet;
};

static int add_tag(struct args *a, const char *pair)
{
	const char *eq = strchr(pair, '=');
	if (!eq || eq == pair)
		return mlf_cli_usage_error("--tag takes KEY=VALUE, not '%s'", pair);
	char *key = strndup(pair, (size_t)(eq - pair));
	mlf_kvs_set(&a->tags, key, eq + 1);
	free(key);
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	int c;
	while ((c = getopt_long(argc, argv, "C:c:s:d:e:b:t:qhV", long_options, NULL)) != -1) {
		const char *key = NULL;
		char *end;
		switch (c) {
		case 'C': a->config.workspace = optarg; continue;
		case 'c': a->config.file = optarg; continue;
		case 's': break;
		case 'd': a->dataset = optarg; continue;
		case 'e': key = "train.epochs"; break;
		case OPT_IMGSZ: key = "train.imgsz"; break;
		case 'b': key = "train.batch"; break;
		case OPT_DEVICE: key = "train.device"; break;
		case OPT_ARGS: key = "train.args"; break;
		case OPT_PROMOTE: key = "registry.promote"; break;
		case OPT_THREADS:
			a->threads = (int)strtol(optarg, &end, 10);
			if (*end || a->threads < 1 || a->threads > 1024)
				return mlf_cli_usage_error("--threads is a count from 1 to 1024, not '%s'", optarg);
			continue;
		case 't':
			if (add_tag(a, optarg))
				return MLF_EX_USAGE;
			continue;
		case OPT_RESUME: a->resume = optarg; continue;
		case OPT_RESTART: a->restart = 1; continue;
		case OPT_SWEEP: a->sweep = 1; continue;
		case OPT_NO_WAIT: a->no_wait = 1; continue;
		case 'q': a->quiet = 1; continue;
		case 'h': fputs(usage_text, stdout); return mlf_cli_exit(0);
		case 'V': mlf_cli_print_version(); return mlf_cli_exit(0);
		default: fputs("Try 'retrain-run --help'.\n", stderr); return MLF_EX_USAGE;
		}
		if (mlf_cli_override(&a->config, key, optarg))
			return MLF_EX_USAGE;
	}
	if (optind < argc)
		return mlf_cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!!a->dataset + !!a->resume + a->sweep > 1)
		return mlf_cli_usage_error("--dataset, --resume and --sweep exclude each other");
	for (int i = 0; a->resume && i < a->config.n; i++) {
		const char *key = a->config.overrides[i][0];
		if (key && !strncmp(key, "train.", 6))
			return mlf_cli_usage_error("--resume continues with the settings its run started with; "
						   "drop the training options (%s)", key);
	}
	return -1;
}

/* The document on stdin: dataset, skip, or an error (65). */
static json_t *read_input(struct mlf_error *err)
{
	if (isatty(STDIN_FILENO)) {
		mlf_fail(err, MLF_EX_USAGE, "no dataset document: pipe retrain-prep's output in, or give "
			 "--dataset data/retrain_vN (see --help)");
		return NULL;
	}
	json_error_t je;
	json_t *doc = json_loadf(stdin, JSON_DISABLE_EOF_CHECK, &je);
	if (!json_is_object(doc)) {
		mlf_fail(err, MLF_EX_DATAERR, "stdin holds no JSON document (%s); expected retrain-prep's "
			 "dataset document", je.text);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static int resume_version(const struct mlf_config *cfg, const char *text, long *n, struct mlf_error *err)
{
	if (strcmp(text, "latest"))
		return mlf_version_parse(text, n, err);
	*n = mlf_retrain_latest_unfinished(cfg);
	if (!*n)
		return mlf_fail(err, MLF_EX_NOINPUT, "no interrupted retraining to resume in this workspace");
	return 0;
}

/*
 * A skip document: pass it on (1), unless the version it names as the
 * previous one was never finished; then train or resume that one (0).
 */
static int skip_or_retry(const struct mlf_config *cfg, json_t **input, struct mlf_retrain_options *o,
			 int quiet, struct mlf_error *err)
{
	int resume;
	const char *why = NULL;
	long n = mlf_retrain_unfinished_previous(cfg, *input, &resume, &why);
	if (!n) {
		if (!quiet)
			fprintf(stderr, "retrain-run: nothing to do: %s\n",
				json_string_value(json_object_get(*input, "reason")));
		return 1;
	}
	fprintf(stderr, "retrain-run: no new dataset version, but v%ld was never finished (%s): %s it now\n",
		n, why, resume ? "resuming" : "training");
	json_decref(*input);
	*input = NULL;
	if (resume) {
		o->resume = n;
		return 0;
	}
	char *data = mlf_config_path(cfg, "paths.data");
	char *leaf = mlf_xasprintf("retrain_v%ld", n);
	char *dir = mlf_path_join(data, leaf);
	*input = mlf_retrain_dataset_document(dir, err);
	free(dir);
	free(leaf);
	free(data);
	return *input ? 0 : 1;
}

static int run(struct args *a, const struct mlf_config *cfg, json_t **doc, struct mlf_error *err)
{
	struct mlf_retrain_options o = { 0 };
	json_t *input = NULL;
	o.cfg = cfg;
	o.tags = &a->tags;
	o.threads = a->threads;
	o.restart = a->restart;
	o.no_wait = a->no_wait;
	o.quiet = a->quiet;
	o.prog = "retrain-run";
	o.stop = mlf_cli_catch_stop_signals();  /* run KILLED, last.pt kept */
	if (a->sweep)
		return mlf_retrain_sweep(cfg, a->no_wait, doc, err);
	if (a->resume && resume_version(cfg, a->resume, &o.resume, err))
		return -1;
	if (!a->resume) {
		input = a->dataset ? mlf_retrain_dataset_document(a->dataset, err) : read_input(err);
		if (!input)
			return -1;
		const char *kind = json_string_value(json_object_get(input, "kind"));
		if (kind && !strcmp(kind, "mlf.skip") && skip_or_retry(cfg, &input, &o, a->quiet, err)) {
			*doc = input;  /* nothing to do: pass it on */
			return input ? 0 : -1;
		}
	}
	o.dataset = input;
	int rc = mlf_retrain(&o, doc, err);
	json_decref(input);
	return rc;
}

int main(int argc, char **argv)
{
	struct args a = { .tags = MLF_KVS_INIT };
	struct mlf_config cfg;
	struct mlf_error err = MLF_ERROR_INIT;
	json_t *doc = NULL;

	mlf_cli_init(argv[0]);
	int status = parse_args(argc, argv, &a);
	if (status >= 0) {
		mlf_kvs_release(&a.tags);
		return status;
	}
	if (mlf_cli_load_config(&a.config, &cfg, &err)) {
		mlf_kvs_release(&a.tags);
		return mlf_cli_report(&err);
	}
	/* libtorch's CPU tensors come and go by the tens of MB each step; glibc
	 * would mmap and unmap each one (reference/libtorch.md 3) */
	mallopt(M_MMAP_THRESHOLD, 256 << 20);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	int rc = run(&a, &cfg, &doc, &err);
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
