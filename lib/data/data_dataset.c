/*
 * Scanning a split as YOLODataset.get_labels / cache_labels does: each image
 * checked (header, size >= 10 px) and its label file read and checked on a
 * pool of threads; the results are put together in the list's order, so the
 * dataset and its problem list do not depend on the thread count.  The
 * label cache (labels/<split>.cache, a pickled numpy dict) is not written: a scan
 * reads only headers and small text files.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/data.h"

struct scan_result {
	int ok;                 /* usable image */
	int w, h, orientation;  /* upright size */
	int label;              /* 0 missing, 1 found */
	struct mlf_object *objs;
	size_t n, duplicates;
	char *message;          /* problem text, or NULL */
};

struct scan {
	const struct mlf_image_list *list;
	const struct mlf_dataset_options *o;
	struct scan_result *res;
	atomic_size_t next;
};

static void scan_one(const struct scan *s, size_t i)
{
	const char *path = s->list->paths[i];
	struct scan_result *r = &s->res[i];
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_image_header_size(path, &r->w, &r->h, &r->orientation, &err)) {
		r->message = mlf_xasprintf("ignoring corrupt image/label: %s", err.msg);
		return;
	}
	if (r->orientation >= 5) {  /* exif_size */
		int t = r->w;
		r->w = r->h;
		r->h = t;
	}
	if (r->w < 10 || r->h < 10) {
		r->message = mlf_xasprintf("ignoring corrupt image/label: image size (%d, %d) <10 pixels",
					   r->h, r->w);
		return;
	}
	char *lp = mlf_label_path_for(path);
	if (mlf_is_file(lp)) {
		char *text = NULL, why[256] = "";
		size_t len = 0;
		r->label = 1;
		if (mlf_read_file(lp, &text, &len, &err))
			r->message = mlf_xasprintf("ignoring corrupt image/label: %s", err.msg);
		else if (mlf_labels_parse(text, len, s->o->nc, s->o->single_cls, &r->objs, &r->n, &r->duplicates,
					  why, sizeof(why)))
			r->message = mlf_xasprintf("ignoring corrupt image/label: %s: %s", lp, why);
		else
			r->ok = 1;
		free(text);
		if (r->ok && r->duplicates)
			r->message = mlf_xasprintf("%zu duplicate labels removed", r->duplicates);
	} else {
		r->ok = 1;
	}
	free(lp);
}

static void *scan_worker(void *arg)
{
	struct scan *s = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&s->next, 1);
		if (i >= s->list->n)
			break;
		scan_one(s, i);
	}
	return NULL;
}

static int thread_count(int asked, size_t n)
{
	long t = asked > 0 ? asked : sysconf(_SC_NPROCESSORS_ONLN);
	if (t < 1)
		t = 1;
	if (t > 64)
		t = 64;
	if ((size_t)t > n / 8 + 1)
		t = (long)(n / 8 + 1);
	return (int)t;
}

void mlf_dataset_release(struct mlf_dataset *ds)
{
	if (!ds)
		return;
	for (size_t i = 0; i < ds->n; i++)
		free(ds->images[i].path);
	free(ds->images);
	free(ds->objects);
	memset(ds, 0, sizeof(*ds));
}

static int assemble(struct mlf_dataset *ds, const struct mlf_image_list *list, struct scan_result *res,
		    struct mlf_problems *problems)
{
	size_t nobj = 0, nimg = 0;
	for (size_t i = 0; i < list->n; i++)
		if (res[i].ok) {
			nobj += res[i].n;
			nimg++;
		}
	ds->images = mlf_xcalloc(nimg ? nimg : 1, sizeof(*ds->images));
	ds->objects = mlf_xmalloc((nobj ? nobj : 1) * sizeof(*ds->objects));
	for (size_t i = 0; i < list->n; i++) {
		struct scan_result *r = &res[i];
		if (r->message && problems)
			mlf_problems_add(problems, list->paths[i], NULL, "%s", r->message);
		if (!r->ok) {
			ds->corrupt++;
			continue;
		}
		struct mlf_dataset_image *im = &ds->images[ds->n++];
		im->path = mlf_xstrdup(list->paths[i]);
		im->w = r->w;
		im->h = r->h;
		im->orientation = r->orientation;
		im->first = ds->nobjects;
		im->n = r->n;
		if (r->n)
			memcpy(ds->objects + ds->nobjects, r->objs, r->n * sizeof(*r->objs));
		ds->nobjects += r->n;
		ds->labels_found += r->label;
		ds->labels_missing += !r->label;
		ds->labels_empty += r->label && !r->n;
		ds->duplicates += r->duplicates;
	}
	return 0;
}

int mlf_dataset_open(struct mlf_dataset *ds, const struct mlf_image_list *list,
		     const struct mlf_dataset_options *o, struct mlf_problems *problems,
		     struct mlf_error *err)
{
	memset(ds, 0, sizeof(*ds));
	if (!list || !o || o->nc < 1)
		return mlf_fail(err, MLF_EX_USAGE, "dataset: %s", !list || !o ? "no image list or options" :
				"the number of classes must be at least 1");
	ds->nc = o->nc;
	if (!list->n)
		return mlf_fail(err, MLF_EX_NOINPUT, "dataset: the split lists no images");

	struct scan s = { list, o, mlf_xcalloc(list->n, sizeof(struct scan_result)), 0 };
	int nt = thread_count(o->threads, list->n);
	pthread_t *th = mlf_xcalloc((size_t)nt, sizeof(*th));
	int started = 0;
	for (int t = 1; t < nt; t++)
		if (!pthread_create(&th[t], NULL, scan_worker, &s))
			started = t;
		else
			break;
	scan_worker(&s);
	for (int t = 1; t <= started; t++)
		pthread_join(th[t], NULL);
	free(th);

	assemble(ds, list, s.res, problems);
	char first[512] = "";
	for (size_t i = 0; i < list->n; i++) {
		if (!first[0] && s.res[i].message && !s.res[i].ok)
			snprintf(first, sizeof(first), "; first: %s", s.res[i].message);
		free(s.res[i].objs);
		free(s.res[i].message);
	}
	free(s.res);

	if (!ds->n) {
		mlf_dataset_release(ds);
		return mlf_fail(err, MLF_EX_DATAERR, "dataset: none of the %zu images listed is usable (e.g. %s)%s",
				list->n, list->paths[0], first);
	}
	if (o->require_labels && !ds->labels_found) {
		char *lp = mlf_label_path_for(ds->images[0].path);
		mlf_fail(err, MLF_EX_DATAERR, "dataset: no label file found for any of the %zu images (the first "
			 "would be %s); training needs labels", ds->n, lp);
		free(lp);
		mlf_dataset_release(ds);
		return -1;
	}
	return 0;
}
