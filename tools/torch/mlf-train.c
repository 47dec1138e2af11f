/*
 * mlf-train: run the training engine (mlf/torch/train.h) from the command line,
 * as `yolo detect train` would: the developer's and the benchmark's way to
 * train without MLflow.  retrain-run is the product's way.  Options: --help.
 *
 * --args takes Ultralytics' training settings as a JSON object
 * ('{"epochs": 10, "imgsz": 320, "batch": 16, "seed": 0}'); every other
 * setting keeps Ultralytics' default.  SIGINT or SIGTERM stops after the
 * batch in progress, leaves last.pt of the last finished epoch (resumable)
 * and exits 130; a second signal ends it at once.  stdout: one JSON document (per-epoch figures, final
 * metrics of best.pt, paths).  --evaluate validates a checkpoint on the
 * validation split as training's final validation does and prints its
 * metrics.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/cli.h"
#include "mlf/base.h"
#include "mlf/plot.h"
#include "mlf/torch/torch.h"
#include "mlf/torch/train.h"

enum { OPT_DATA = MLF_OPT_LONG, OPT_MODEL, OPT_SAVE_DIR, OPT_ARGS, OPT_RESUME, OPT_EVALUATE,
       OPT_THREADS, OPT_DEVICE, OPT_PROGRESS };

static const struct mlf_option options[] = {
	{ OPT_DATA, "data", "DATA.yaml", NULL, "the dataset (Ultralytics' data.yaml)", NULL, 0 },
	{ OPT_MODEL, "model", "BASE.pt", NULL, "the checkpoint to start from", NULL, 0 },
	{ OPT_SAVE_DIR, "save-dir", "DIR", NULL,
	  "where results.csv, args.yaml and weights/{best,last}.pt go", NULL, 0 },
	{ OPT_ARGS, "args", "JSON", NULL, "Ultralytics' training settings, in a JSON object "
	  "('{\"epochs\": 10, \"imgsz\": 320}'); the others keep their defaults", NULL, 0 },
	{ OPT_RESUME, "resume", "LAST.pt", NULL,
	  "continue an interrupted training with the settings saved in its last.pt", NULL, 0 },
	{ OPT_EVALUATE, "evaluate", "MODEL.pt", NULL,
	  "validate a checkpoint on --data's validation split instead of training", NULL, 0 },
	{ OPT_THREADS, "threads", "N", NULL,
	  "CPU threads for the training and evaluation, 1 to 1024 (default: every core)", NULL, 0 },
	{ OPT_DEVICE, "device", "DEV", NULL, "where to train: auto (default), cpu or cuda:N", NULL, 0 },
	{ OPT_PROGRESS, "progress", "HOW", NULL, "progress on stderr: auto (default: a bar on a "
	  "terminal, else lines), bar, lines or none", NULL, 0 },
	MLF_OPT_HELP,
	MLF_OPT_VERSION,
	MLF_OPT_END,
};

static const struct mlf_exit_doc exits[] = {
	{ 0, "done: the JSON summary is on standard output" },
	MLF_EXIT_USAGE,
	{ 65, "bad data or model" },
	{ 66, "a missing input: DATA.yaml, its images or a checkpoint" },
	{ 70, "training failed (or an internal error: the message says where)" },
	{ 73, "DIR or a file in it cannot be created" },
	{ 74, "I/O error (a file, or standard output)" },
	{ 130, "stopped by a signal: last.pt of the last finished epoch is kept, and resumable" },
	MLF_EXIT_END,
};

static const struct mlf_program program = {
	.name = "mlf-train",
	.synopsis = "--data DATA.yaml --model BASE.pt --save-dir DIR [options]\n"
		    "--resume LAST.pt [--threads N] [--device DEV] [--progress HOW]\n"
		    "--evaluate MODEL.pt --data DATA.yaml [--args JSON] [options]",
	.about = "Train a YOLO detector as Ultralytics does, without MLflow: writes results.csv, "
		 "args.yaml, weights/best.pt and weights/last.pt in DIR and prints a JSON summary "
		 "(per-epoch figures, final metrics of best.pt, paths). SIGINT or SIGTERM stops "
		 "after the batch in progress; a second signal ends it at once.",
	.options = options,
	.exits = exits,
};

struct args {
	struct mlf_train_options *train;
	const char *evaluate, *json;
};

static int option(void *ctx, int id, const char *arg)
{
	struct args *a = ctx;
	struct mlf_train_options *o = a->train;
	char *end;
	long n;
	switch (id) {
	case OPT_DATA: o->data_yaml = arg; return 0;
	case OPT_MODEL: o->base_model = arg; return 0;
	case OPT_SAVE_DIR: o->save_dir = arg; return 0;
	case OPT_ARGS: a->json = arg; return 0;
	case OPT_RESUME: o->resume = arg; return 0;
	case OPT_EVALUATE: a->evaluate = arg; return 0;
	case OPT_THREADS:
		n = strtol(arg, &end, 10);
		if (*end || end == arg || n < 1 || n > 1024)
			return mlf_cli_usage_error("--threads is a count from 1 to 1024, not '%s'", arg);
		o->threads = (int)n;
		return 0;
	case OPT_DEVICE:
		if (mlf_train_parse_device(arg, &o->device) < 0)
			return mlf_cli_usage_error("--device is auto, cpu or cuda:N, not '%s'", arg);
		return 0;
	case OPT_PROGRESS:
		if (!strcmp(arg, "auto")) o->progress = MLF_PROGRESS_AUTO;
		else if (!strcmp(arg, "bar")) o->progress = MLF_PROGRESS_BAR;
		else if (!strcmp(arg, "lines")) o->progress = MLF_PROGRESS_LINES;
		else if (!strcmp(arg, "none")) o->progress = MLF_PROGRESS_NONE;
		else return mlf_cli_usage_error("--progress is auto, bar, lines or none");
		return 0;
	}
	return MLF_EX_SOFTWARE;
}

static json_t *val_json(const struct mlf_val_summary *v)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:o}",
			 "precision", mlf_json_double(v->precision), "recall", mlf_json_double(v->recall),
			 "mAP50", mlf_json_double(v->map50), "mAP50-95", mlf_json_double(v->map50_95),
			 "fitness", mlf_json_double(v->fitness), "box_loss", mlf_json_double(v->box_loss),
			 "cls_loss", mlf_json_double(v->cls_loss), "dfl_loss", mlf_json_double(v->dfl_loss),
			 "images", (json_int_t)v->images, "instances", (json_int_t)v->instances,
			 "seconds", mlf_json_double(v->seconds));
}

static int on_epoch(const struct mlf_train_epoch *e, void *ctx, struct mlf_error *err)
{
	(void)err;
	json_array_append_new((json_t *)ctx,
			      json_pack("{s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o}", "epoch", e->epoch,
					"seconds", mlf_json_double(e->seconds),
					"train_seconds", mlf_json_double(e->train_seconds),
					"images_per_s", mlf_json_double(e->images_per_s),
					"box_loss", mlf_json_double(e->box_loss),
					"cls_loss", mlf_json_double(e->cls_loss),
					"dfl_loss", mlf_json_double(e->dfl_loss), "best", e->is_best,
					"val", val_json(&e->val)));
	return 0;
}

int main(int argc, char **argv)
{
	struct mlf_cli cli;
	struct mlf_train_options o;
	struct mlf_error err = { 0 };
	mlf_cli_init(program.name);
	mlf_train_options_default(&o);
	o.prog = program.name;
	struct args a = { &o, NULL, NULL };
	int status = mlf_cli_parse(&program, argc, argv, &cli, option, &a);
	if (status >= 0)
		return status;
	const char *evaluate = a.evaluate, *args_json = a.json;
	if (evaluate && (!o.data_yaml || o.base_model || o.save_dir || o.resume))
		return mlf_cli_usage_error("--evaluate takes --data (and --args), nothing else");
	if (!evaluate && !o.resume && (!o.data_yaml || !o.base_model || !o.save_dir))
		return mlf_cli_usage_error("--data, --model and --save-dir are required (or --resume)");
	if (o.resume && (o.data_yaml || o.base_model || o.save_dir || args_json))
		return mlf_cli_usage_error("--resume takes its settings from last.pt; give nothing else");
	if (args_json) {
		json_error_t je;
		json_t *j = json_loads(args_json, 0, &je);
		if (!json_is_object(j)) {
			json_decref(j);
			return mlf_cli_usage_error("--args is not a JSON object: %s", je.text);
		}
		int rc = mlf_train_args_override(&o.args, j, &err);
		json_decref(j);
		if (rc < 0) {
			fprintf(stderr, "mlf-train: --args: %s\n", err.msg);
			return err.status;
		}
	}
	if (evaluate) {
		struct mlf_val_summary v;
		if (o.threads > 0)
			mlf_th_set_threads(o.threads);
		if (mlf_train_evaluate(evaluate, o.data_yaml, "val", &o.args, o.device, &v, &err) < 0) {
			fprintf(stderr, "mlf-train: %s\n", err.msg);
			return err.status ? err.status : MLF_EX_SOFTWARE;
		}
		json_t *doc = val_json(&v);
		int wrc = mlf_json_write_line(doc, stdout, &err);
		json_decref(doc);
		return wrc < 0 ? MLF_EX_IOERR : 0;
	}
	mlf_th_tune_malloc();
	/* a second signal ends it at once; last.pt of the last finished epoch
	 * is intact either way (it is written atomically) */
	o.stop = mlf_cli_catch_stop_signals();
	json_t *epochs = json_array();
	o.on_epoch = on_epoch;
	o.ctx = epochs;

	struct mlf_train_result r;
	int rc = mlf_train(&o, &r, &err);
	mlf_plot_cleanup();
	if (rc < 0) {
		json_decref(epochs);
		fprintf(stderr, "mlf-train: %s\n", err.msg);
		return err.status ? err.status : MLF_EX_SOFTWARE;
	}
	json_t *doc = json_pack("{s:b, s:i, s:i, s:o, s:b, s:s, s:s, s:o, s:o}",
				"stopped", rc == MLF_TRAIN_STOPPED, "epochs_done", r.epochs_done,
				"best_epoch", r.best_epoch, "best_fitness", mlf_json_double(r.best_fitness),
				"early_stopped", r.early_stopped, "best_pt", r.best_pt, "last_pt", r.last_pt,
				"seconds", mlf_json_double(r.seconds), "epochs", epochs);
	if (rc != MLF_TRAIN_STOPPED)
		json_object_set_new(doc, "final", val_json(&r.final));
	if (mlf_json_write_line(doc, stdout, &err) < 0) {
		fprintf(stderr, "mlf-train: %s\n", err.msg);
		rc = -1;
	}
	json_decref(doc);
	if (rc == MLF_TRAIN_STOPPED)
		return MLF_EX_INTERRUPTED;
	return rc < 0 ? MLF_EX_IOERR : 0;
}
