/* Constructors and destructors of the plain tracking values (mlf/tracking.h). */
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "tracking_internal.h"

void mlf_tracking_options_init(struct mlf_tracking_options *o)
{
	memset(o, 0, sizeof(*o));
	o->max_retries = -1;
	o->backoff_factor = -1;
	o->backoff_jitter = -1;
}

struct mlf_retry_policy mlf_tracking_retry_policy(const struct mlf_tracking_options *o)
{
	struct mlf_retry_policy p = MLF_RETRY_POLICY_DEFAULT;
	if (o->max_retries >= 0)
		p.max_retries = o->max_retries;
	if (o->backoff_factor >= 0)
		p.backoff_factor = o->backoff_factor;
	if (o->backoff_max > 0)
		p.backoff_max = o->backoff_max;
	if (o->backoff_jitter >= 0)
		p.backoff_jitter = o->backoff_jitter;
	p.respect_retry_after = !o->ignore_retry_after;
	return p;
}

void mlf_kvs_add(struct mlf_kvs *kvs, const char *key, const char *value)
{
	if (kvs->n == kvs->cap) {
		kvs->cap = kvs->cap ? kvs->cap * 2 : 8;
		kvs->items = mlf_xrealloc(kvs->items, kvs->cap * sizeof(*kvs->items));
	}
	kvs->items[kvs->n].key = mlf_xstrdup(key);
	kvs->items[kvs->n].value = mlf_xstrdup(value ? value : "");
	kvs->n++;
}

void mlf_kvs_set(struct mlf_kvs *kvs, const char *key, const char *value)
{
	for (size_t i = 0; i < kvs->n; i++) {
		if (!strcmp(kvs->items[i].key, key)) {
			free(kvs->items[i].value);
			kvs->items[i].value = mlf_xstrdup(value ? value : "");
			return;
		}
	}
	mlf_kvs_add(kvs, key, value);
}

const char *mlf_kvs_get(const struct mlf_kvs *kvs, const char *key)
{
	for (size_t i = 0; i < kvs->n; i++)
		if (!strcmp(kvs->items[i].key, key))
			return kvs->items[i].value;
	return NULL;
}

void mlf_kvs_release(struct mlf_kvs *kvs)
{
	for (size_t i = 0; i < kvs->n; i++) {
		free(kvs->items[i].key);
		free(kvs->items[i].value);
	}
	free(kvs->items);
	kvs->items = NULL;
	kvs->n = kvs->cap = 0;
}

void mlf_metrics_release(struct mlf_metric *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].key);
	free(m);
}

static const char *const status_names[] = {
	[MLF_RUN_RUNNING] = "RUNNING",
	[MLF_RUN_SCHEDULED] = "SCHEDULED",
	[MLF_RUN_FINISHED] = "FINISHED",
	[MLF_RUN_FAILED] = "FAILED",
	[MLF_RUN_KILLED] = "KILLED",
};

const char *mlf_run_status_name(int status)
{
	if (status >= MLF_RUN_RUNNING && status <= MLF_RUN_KILLED)
		return status_names[status];
	return "UNKNOWN";
}

int mlf_run_status_parse(const char *name)
{
	for (int s = MLF_RUN_RUNNING; s <= MLF_RUN_KILLED; s++)
		if (name && !strcmp(name, status_names[s]))
			return s;
	return 0;
}

void mlf_experiment_release(struct mlf_experiment *e)
{
	free(e->experiment_id);
	free(e->name);
	free(e->artifact_location);
	free(e->lifecycle_stage);
	mlf_kvs_release(&e->tags);
	memset(e, 0, sizeof(*e));
}

void mlf_run_release(struct mlf_run *r)
{
	free(r->run_id);
	free(r->experiment_id);
	free(r->run_name);
	free(r->user_id);
	free(r->artifact_uri);
	free(r->lifecycle_stage);
	mlf_kvs_release(&r->params);
	mlf_kvs_release(&r->tags);
	mlf_metrics_release(r->metrics, r->nmetrics);
	memset(r, 0, sizeof(*r));
}

void mlf_run_list_add(struct mlf_run_list *l, struct mlf_run *moved)
{
	l->runs = mlf_xrealloc(l->runs, (l->n + 1) * sizeof(*l->runs));
	l->runs[l->n++] = *moved;
	memset(moved, 0, sizeof(*moved));
}

void mlf_run_list_release(struct mlf_run_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		mlf_run_release(&l->runs[i]);
	free(l->runs);
	l->runs = NULL;
	l->n = 0;
}

void mlf_artifact_list_add(struct mlf_artifact_list *l, const char *path, int is_dir,
			   int64_t size)
{
	l->items = mlf_xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
	l->items[l->n].path = mlf_xstrdup(path);
	l->items[l->n].is_dir = is_dir;
	l->items[l->n].size = is_dir ? -1 : size;
	l->n++;
}

static int by_path(const void *a, const void *b)
{
	const struct mlf_artifact_entry *x = a, *y = b;
	return strcmp(x->path, y->path);
}

void mlf_artifact_list_sort(struct mlf_artifact_list *l)
{
	if (l->n)
		qsort(l->items, l->n, sizeof(*l->items), by_path);
}

void mlf_artifact_list_release(struct mlf_artifact_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i].path);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

void mlf_model_version_release(struct mlf_model_version *v)
{
	free(v->name);
	free(v->version);
	free(v->source);
	free(v->run_id);
	free(v->status);
	mlf_kvs_release(&v->aliases);
	memset(v, 0, sizeof(*v));
}

char *mlf_model_versions_tag_add(const char *current, const char *name, int64_t version)
{
	json_t *list = json_loads(current ? current : "[]", 0, NULL);
	if (!json_is_array(list)) {
		json_decref(list);
		list = json_array();
	}
	json_array_append_new(list, json_pack("{s:s, s:I}", "name", name, "version", (json_int_t)version));
	char *text = json_dumps(list, JSON_PRESERVE_ORDER);  /* ", " and ": ", as Python's json.dumps */
	json_decref(list);
	return text;
}
