/*
 * track-driver: a thin command-line face of the tracking library, for the
 * end-to-end tests (tests/e2e/) that compare what it writes and reads with
 * the real MLflow client.  Not installed.
 *
 *   track-driver [--uri URI] [--workspace DIR] COMMAND ARGS...
 *
 * URI defaults to the configuration (mlf.yaml in the workspace, then
 * MLFLOW_TRACKING_URI and the other MLflow variables).  JSON goes to stdout,
 * one error line to stderr, and the exit status is the error's sysexits code.
 * Commands and their output: see usage() below.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/config.h"
#include "mlf/tracking.h"

static const char usage_text[] =
	"usage: track-driver [--uri URI] [--workspace DIR] COMMAND ARGS...\n"
	"  ping\n"
	"  get-experiment ID | get-experiment-by-name NAME\n"
	"  create-experiment NAME [ID|-] [ARTIFACT_LOCATION]\n"
	"  create-run EXP_ID RUN_NAME [KEY=VALUE...]\n"
	"  log-batch RUN_ID FILE|-        {\"metrics\":[...],\"params\":[...],\"tags\":[...]}\n"
	"  end-run RUN_ID FINISHED|FAILED|KILLED|RUNNING\n"
	"  get-run RUN_ID | metric-history RUN_ID KEY | delete-run RUN_ID\n"
	"  search-runs EXP_ID TAG_KEY [TAG_VALUE]\n"
	"  log-artifact RUN_ID LOCAL_PATH [ARTIFACT_DIR]\n"
	"  list-artifacts RUN_ID [PATH] | download-artifact RUN_ID PATH LOCAL_DST\n"
	"  log-dataset RUN_ID NAME DIGEST SOURCE_TYPE SOURCE CONTEXT\n"
	"  ensure-registered-model NAME | create-model-version NAME SOURCE RUN_ID\n"
	"  get-model-version NAME VERSION | set-alias NAME ALIAS VERSION | get-alias NAME ALIAS\n"
	"  delete-alias NAME ALIAS\n";

static json_t *kvs_object(const struct mlf_kvs *kvs)
{
	json_t *o = json_object();
	for (size_t i = 0; i < kvs->n; i++)
		json_object_set_new(o, kvs->items[i].key, json_string(kvs->items[i].value));
	return o;
}

static json_t *experiment_json(const struct mlf_experiment *e)
{
	return json_pack("{s:s?, s:s?, s:s?, s:s?, s:I, s:I, s:o}",
			 "experiment_id", e->experiment_id, "name", e->name,
			 "artifact_location", e->artifact_location,
			 "lifecycle_stage", e->lifecycle_stage,
			 "creation_time", (json_int_t)e->creation_time,
			 "last_update_time", (json_int_t)e->last_update_time,
			 "tags", kvs_object(&e->tags));
}

static json_t *run_json(const struct mlf_run *r)
{
	json_t *metrics = json_object();
	for (size_t i = 0; i < r->nmetrics; i++)
		json_object_set_new(metrics, r->metrics[i].key, mlf_json_double(r->metrics[i].value));
	return json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s, s:I, s:o, s:o, s:o, s:o}",
			 "run_id", r->run_id, "experiment_id", r->experiment_id,
			 "run_name", r->run_name, "user_id", r->user_id,
			 "artifact_uri", r->artifact_uri, "lifecycle_stage", r->lifecycle_stage,
			 "status", mlf_run_status_name(r->status),
			 "start_time", (json_int_t)r->start_time,
			 "end_time", r->end_time ? json_integer(r->end_time) : json_null(),
			 "params", kvs_object(&r->params), "tags", kvs_object(&r->tags),
			 "metrics", metrics);
}

static json_t *version_json(const struct mlf_model_version *v)
{
	json_t *aliases = json_array();
	for (size_t i = 0; i < v->aliases.n; i++)
		json_array_append_new(aliases, json_string(v->aliases.items[i].key));
	return json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:o}", "name", v->name,
			 "version", v->version, "source", v->source, "run_id", v->run_id,
			 "status", v->status, "aliases", aliases);
}

/* Parse the log-batch input file into the library's structures. */
static int read_batch(const char *file, struct mlf_metric **metrics, size_t *nmetrics,
		      struct mlf_kvs *params, struct mlf_kvs *tags, struct mlf_error *err)
{
	json_error_t jerr;
	json_t *doc = !strcmp(file, "-") ? json_loadf(stdin, 0, &jerr) : json_load_file(file, 0, &jerr);
	if (!doc)
		return mlf_fail(err, MLF_EX_DATAERR, "%s:%d: %s", file, jerr.line, jerr.text);
	json_t *m = json_object_get(doc, "metrics"), *item;
	size_t i;
	*nmetrics = json_array_size(m);
	*metrics = mlf_xcalloc(*nmetrics ? *nmetrics : 1, sizeof(**metrics));
	json_array_foreach(m, i, item) {
		struct mlf_metric *x = &(*metrics)[i];
		x->key = mlf_xstrdup(json_string_value(json_object_get(item, "key")));
		if (mlf_json_to_double(json_object_get(item, "value"), &x->value) ||
		    mlf_json_to_int64(json_object_get(item, "timestamp"), &x->timestamp)) {
			json_decref(doc);
			return mlf_fail(err, MLF_EX_DATAERR, "metric %zu needs a value and a timestamp", i);
		}
		if (json_object_get(item, "step"))
			mlf_json_to_int64(json_object_get(item, "step"), &x->step);
	}
	const char *kinds[2] = { "params", "tags" };
	struct mlf_kvs *into[2] = { params, tags };
	for (int k = 0; k < 2; k++)
		json_array_foreach(json_object_get(doc, kinds[k]), i, item)
			mlf_kvs_add(into[k], json_string_value(json_object_get(item, "key")),
				    json_string_value(json_object_get(item, "value")));
	json_decref(doc);
	return 0;
}

static int need_args(int argc, int n, struct mlf_error *err)
{
	return argc >= n ? 0 : mlf_fail(err, MLF_EX_USAGE, "missing arguments\n%s", usage_text);
}

static int with_run(struct mlf_tracking *t, const char *run_id, struct mlf_run *run,
		    struct mlf_error *err)
{
	return mlf_tracking_get_run(t, run_id, run, err);
}

static int command(struct mlf_tracking *t, int argc, char **argv, json_t **out,
		   struct mlf_error *err)
{
	const char *cmd = argv[0];
	struct mlf_experiment exp = { 0 };
	struct mlf_run run = { 0 };
	struct mlf_model_version ver = { 0 };
	int rc = -1;

	if (!strcmp(cmd, "ping")) {
		rc = mlf_tracking_ping(t, err);
		if (!rc)
			*out = json_pack("{s:s, s:s}", "backend", mlf_tracking_backend(t),
					 "uri", mlf_tracking_uri(t));
	} else if (!strcmp(cmd, "get-experiment") || !strcmp(cmd, "get-experiment-by-name")) {
		if (need_args(argc, 2, err))
			return -1;
		rc = !strcmp(cmd, "get-experiment") ? mlf_tracking_get_experiment(t, argv[1], &exp, err)
						    : mlf_tracking_get_experiment_by_name(t, argv[1], &exp, err);
		if (!rc)
			*out = experiment_json(&exp);
	} else if (!strcmp(cmd, "create-experiment")) {
		char *id = NULL;
		if (need_args(argc, 2, err))
			return -1;
		const char *want = argc > 2 && strcmp(argv[2], "-") ? argv[2] : NULL;
		rc = mlf_tracking_create_experiment(t, argv[1], want, argc > 3 ? argv[3] : NULL, &id, err);
		if (!rc)
			*out = json_pack("{s:s}", "experiment_id", id);
		free(id);
	} else if (!strcmp(cmd, "create-run")) {
		struct mlf_kvs tags = MLF_KVS_INIT;
		if (need_args(argc, 3, err))
			return -1;
		for (int i = 3; i < argc; i++) {
			char *eq = strchr(argv[i], '=');
			if (!eq)
				return mlf_fail(err, MLF_EX_USAGE, "tag '%s' is not KEY=VALUE", argv[i]);
			*eq = '\0';
			mlf_kvs_add(&tags, argv[i], eq + 1);
		}
		struct mlf_run_request req = { .experiment_id = argv[1], .run_name = argv[2],
					       .tags = &tags };
		rc = mlf_tracking_create_run(t, &req, &run, err);
		if (!rc)
			*out = run_json(&run);
		mlf_kvs_release(&tags);
	} else if (!strcmp(cmd, "log-batch")) {
		struct mlf_metric *metrics = NULL;
		size_t n = 0;
		struct mlf_kvs params = MLF_KVS_INIT, tags = MLF_KVS_INIT;
		if (need_args(argc, 3, err))
			return -1;
		rc = read_batch(argv[2], &metrics, &n, &params, &tags, err);
		if (!rc)
			rc = mlf_tracking_log_batch(t, argv[1], metrics, n, &params, &tags, err);
		if (!rc)
			*out = json_pack("{s:I, s:I, s:I}", "metrics", (json_int_t)n,
					 "params", (json_int_t)params.n, "tags", (json_int_t)tags.n);
		mlf_metrics_release(metrics, n);
		mlf_kvs_release(&params);
		mlf_kvs_release(&tags);
	} else if (!strcmp(cmd, "end-run")) {
		if (need_args(argc, 3, err))
			return -1;
		int status = mlf_run_status_parse(argv[2]);
		if (!status)
			return mlf_fail(err, MLF_EX_USAGE, "unknown status '%s'", argv[2]);
		rc = status == MLF_RUN_RUNNING ? mlf_tracking_reopen_run(t, argv[1], err)
					       : mlf_tracking_end_run(t, argv[1], status, 0, err);
		if (!rc)
			*out = json_object();
	} else if (!strcmp(cmd, "get-run")) {
		if (need_args(argc, 2, err))
			return -1;
		rc = mlf_tracking_get_run(t, argv[1], &run, err);
		if (!rc)
			*out = run_json(&run);
	} else if (!strcmp(cmd, "metric-history")) {
		struct mlf_metric *m = NULL;
		size_t n = 0;
		if (need_args(argc, 3, err))
			return -1;
		rc = mlf_tracking_get_metric_history(t, argv[1], argv[2], &m, &n, err);
		if (!rc) {
			*out = json_array();
			for (size_t i = 0; i < n; i++)
				json_array_append_new(*out, json_pack("{s:o, s:I, s:I}",
					"value", mlf_json_double(m[i].value),
					"timestamp", (json_int_t)m[i].timestamp, "step", (json_int_t)m[i].step));
		}
		mlf_metrics_release(m, n);
	} else if (!strcmp(cmd, "search-runs")) {
		struct mlf_run_list list = { 0 };
		if (need_args(argc, 3, err))
			return -1;
		rc = mlf_tracking_search_runs(t, argv[1], argv[2], argc > 3 ? argv[3] : NULL, &list, err);
		if (!rc) {
			*out = json_array();
			for (size_t i = 0; i < list.n; i++)
				json_array_append_new(*out, run_json(&list.runs[i]));
		}
		mlf_run_list_release(&list);
	} else if (!strcmp(cmd, "delete-run")) {
		if (need_args(argc, 2, err))
			return -1;
		rc = mlf_tracking_delete_run(t, argv[1], err);
		if (!rc)
			*out = json_object();
	} else if (!strcmp(cmd, "log-artifact") || !strcmp(cmd, "list-artifacts") ||
		   !strcmp(cmd, "download-artifact")) {
		if (need_args(argc, !strcmp(cmd, "list-artifacts") ? 2 : 3, err) ||
		    with_run(t, argv[1], &run, err))
			return -1;
		if (!strcmp(cmd, "log-artifact")) {
			rc = mlf_tracking_log_artifact(t, &run, argv[2], argc > 3 ? argv[3] : NULL, err);
			if (!rc)
				*out = json_object();
		} else if (!strcmp(cmd, "download-artifact")) {
			if (need_args(argc, 4, err))
				goto done;
			rc = mlf_tracking_download_artifact(t, &run, argv[2], argv[3], err);
			if (!rc)
				*out = json_object();
		} else {
			struct mlf_artifact_list list = { 0 };
			rc = mlf_tracking_list_artifacts(t, &run, argc > 2 ? argv[2] : NULL, &list, err);
			if (!rc) {
				*out = json_array();
				for (size_t i = 0; i < list.n; i++)
					json_array_append_new(*out, json_pack("{s:s, s:b, s:I}",
						"path", list.items[i].path, "is_dir", list.items[i].is_dir,
						"size", (json_int_t)list.items[i].size));
			}
			mlf_artifact_list_release(&list);
		}
	} else if (!strcmp(cmd, "log-dataset")) {
		if (need_args(argc, 7, err))
			return -1;
		rc = mlf_tracking_log_dataset_input(t, argv[1], argv[2], argv[3], argv[4], argv[5],
						    argv[6], err);
		if (!rc)
			*out = json_object();
	} else if (!strcmp(cmd, "ensure-registered-model")) {
		if (need_args(argc, 2, err))
			return -1;
		rc = mlf_tracking_ensure_registered_model(t, argv[1], err);
		if (!rc)
			*out = json_object();
	} else if (!strcmp(cmd, "create-model-version") || !strcmp(cmd, "get-model-version") ||
		   !strcmp(cmd, "get-alias")) {
		if (need_args(argc, !strcmp(cmd, "create-model-version") ? 4 : 3, err))
			return -1;
		if (!strcmp(cmd, "create-model-version"))
			rc = mlf_tracking_create_model_version(t, argv[1], argv[2], argv[3], NULL, &ver, err);
		else if (!strcmp(cmd, "get-model-version"))
			rc = mlf_tracking_get_model_version(t, argv[1], argv[2], &ver, err);
		else
			rc = mlf_tracking_get_alias(t, argv[1], argv[2], &ver, err);
		if (!rc)
			*out = version_json(&ver);
	} else if (!strcmp(cmd, "set-alias")) {
		if (need_args(argc, 4, err))
			return -1;
		rc = mlf_tracking_set_alias(t, argv[1], argv[2], argv[3], err);
		if (!rc)
			*out = json_object();
	} else if (!strcmp(cmd, "delete-alias")) {
		if (need_args(argc, 3, err))
			return -1;
		rc = mlf_tracking_delete_alias(t, argv[1], argv[2], err);
		if (!rc)
			*out = json_object();
	} else {
		return mlf_fail(err, MLF_EX_USAGE, "unknown command '%s'\n%s", cmd, usage_text);
	}
done:
	mlf_experiment_release(&exp);
	mlf_run_release(&run);
	mlf_model_version_release(&ver);
	return rc;
}

int main(int argc, char **argv)
{
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_config cfg;
	struct mlf_tracking_options opts;
	struct mlf_tracking *t = NULL;
	const char *uri = NULL, *workspace = NULL;
	json_t *out = NULL;
	int i = 1;

	for (; i + 1 < argc && argv[i][0] == '-' && argv[i][1] == '-'; i += 2) {
		if (!strcmp(argv[i], "--uri"))
			uri = argv[i + 1];
		else if (!strcmp(argv[i], "--workspace"))
			workspace = argv[i + 1];
		else
			break;
	}
	if (i >= argc) {
		fputs(usage_text, stderr);
		return MLF_EX_USAGE;
	}
	if (mlf_config_load(&cfg, workspace, NULL, &err) ||
	    (uri && mlf_config_set(&cfg, "tracking_uri", uri, "--uri", &err)) ||
	    mlf_config_tracking_options(&cfg, &opts, &err) ||
	    ((opts.create_store = 1), mlf_tracking_open(&t, &opts, &err)) ||
	    command(t, argc - i, argv + i, &out, &err) ||
	    mlf_json_write_line(out, stdout, &err)) {
		fprintf(stderr, "track-driver: %s\n", err.msg);
		json_decref(out);
		mlf_tracking_close(t);
		mlf_config_release(&cfg);
		return err.status ? err.status : 1;
	}
	json_decref(out);
	mlf_tracking_close(t);
	mlf_config_release(&cfg);
	return 0;
}
