/*
 * mlf-train: run the training engine (mlf/torch/train.h) from the command line,
 * as `yolo detect train` would: the developer's and the benchmark's way to
 * train without MLflow.  retrain-run is the product's way.
 *
 *   mlf-train --data DATA.yaml --model BASE.pt --save-dir DIR [--args JSON]
 *             [--threads N] [--device auto|cpu|cuda:N] [--progress auto|bar|lines|none]
 *   mlf-train --resume DIR/weights/last.pt
 *   mlf-train --evaluate MODEL.pt --data DATA.yaml [--args JSON]
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
#include <getopt.h>
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

static void usage(FILE *f)
{
	fputs("usage: mlf-train --data DATA.yaml --model BASE.pt --save-dir DIR [--args JSON]\n"
	      "                 [--threads N] [--device auto|cpu|cuda:N] [--progress auto|bar|lines|none]\n"
	      "       mlf-train --resume DIR/weights/last.pt [--threads N] [--device ...]\n"
	      "       mlf-train --evaluate MODEL.pt --data DATA.yaml [--args JSON]\n"
	      "Trains a YOLO detector as Ultralytics does; writes results.csv, args.yaml,\n"
	      "weights/best.pt and weights/last.pt in DIR; prints a JSON summary.\n"
	      "Exit status: 0 done, 64 usage, 65 bad data or model, 66 missing input,\n"
	      "70 training failed, 73/74 cannot write, 130 stopped by a signal (resumable).\n", f);
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
	static const struct option longs[] = {
		{ "data", required_argument, NULL, 'd' }, { "model", required_argument, NULL, 'm' },
		{ "save-dir", required_argument, NULL, 's' }, { "args", required_argument, NULL, 'a' },
		{ "resume", required_argument, NULL, 'r' }, { "threads", required_argument, NULL, 't' },
		{ "device", required_argument, NULL, 'D' }, { "progress", required_argument, NULL, 'p' },
		{ "evaluate", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *evaluate = NULL;
	struct mlf_train_options o;
	struct mlf_error err = { 0 };
	mlf_cli_init("mlf-train");
	mlf_train_options_default(&o);
	o.prog = "mlf-train";
	const char *args_json = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 'd': o.data_yaml = optarg; break;
		case 'm': o.base_model = optarg; break;
		case 's': o.save_dir = optarg; break;
		case 'a': args_json = optarg; break;
		case 'r': o.resume = optarg; break;
		case 'e': evaluate = optarg; break;
		case 't': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 1 || n > 1024)
				return mlf_cli_usage_error("--threads is a count from 1 to 1024, not '%s'", optarg);
			o.threads = (int)n;
			break;
		}
		case 'D':
			if (mlf_train_parse_device(optarg, &o.device) < 0)
				return mlf_cli_usage_error("--device is auto, cpu or cuda:N, not '%s'", optarg);
			break;
		case 'p':
			if (!strcmp(optarg, "auto")) o.progress = MLF_PROGRESS_AUTO;
			else if (!strcmp(optarg, "bar")) o.progress = MLF_PROGRESS_BAR;
			else if (!strcmp(optarg, "lines")) o.progress = MLF_PROGRESS_LINES;
			else if (!strcmp(optarg, "none")) o.progress = MLF_PROGRESS_NONE;
			else return mlf_cli_usage_error("--progress is auto, bar, lines or none");
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return MLF_EX_USAGE;
		}
	}
	if (optind != argc)
		return mlf_cli_usage_error("unexpected argument '%s'", argv[optind]);
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
