/*
 * Checking each correction against its decoded image, on worker threads.
 *
 * Decoding and hashing dominate retrain-prep, and each correction is
 * independent of the others, so workers take corrections by a shared atomic
 * index and write only to that correction's slot.  Nothing here decides
 * between corrections: the caller merges the slots in order afterwards, so the
 * result is the same whatever the number of threads and their timing.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlf/base.h"
#include "mlf/data.h"
#include "prep_internal.h"

/* Past this, more threads mostly wait on the disk. */
#define MAX_WORKERS 16

/*
 * A box overshooting the image by a little is a slip of the mouse: clip it.
 * More than this many pixels (or 1% of the side, if larger) is a real error.
 */
static double overshoot_allowed(int side)
{
	double pct = side * 0.01;
	return pct > 2.0 ? pct : 2.0;
}

static int clip_axis(double *lo, double *hi, int side)
{
	double slack = overshoot_allowed(side);
	if (*lo < -slack || *hi > side + slack)
		return -1;
	if (*lo < 0)
		*lo = 0;
	if (*hi > side)
		*hi = side;
	return 0;
}

/* Pixel boxes of one correction, checked against the decoded size. */
static int convert_boxes(const struct mlf_correction *c, int w, int h, struct prep_item *it,
			 struct mlf_problems *problems)
{
	int bad = 0;
	it->boxes = mlf_xcalloc(c->nboxes ? c->nboxes : 1, sizeof(*it->boxes));
	for (size_t i = 0; i < c->nboxes; i++) {
		struct mlf_box b = c->boxes[i];
		char field[48];
		snprintf(field, sizeof(field), "boxes[%zu]", i);
		if (c->normalized) {
			b.x1 *= w;
			b.x2 *= w;
			b.y1 *= h;
			b.y2 *= h;
		}
		if (!isfinite(b.x1) || !isfinite(b.y1) || !isfinite(b.x2) || !isfinite(b.y2) ||
		    b.x2 <= b.x1 || b.y2 <= b.y1) {
			mlf_problems_add(problems, c->source, field, "degenerate or negative box "
					 "[%g, %g, %g, %g]", b.x1, b.y1, b.x2, b.y2);
			bad = 1;
			continue;
		}
		if (clip_axis(&b.x1, &b.x2, w) || clip_axis(&b.y1, &b.y2, h)) {
			mlf_problems_add(problems, c->source, field, "box [%.1f, %.1f, %.1f, %.1f] lies "
					 "outside the %dx%d image", b.x1, b.y1, b.x2, b.y2, w, h);
			bad = 1;
			continue;
		}
		if (b.x2 - b.x1 < 1.0 || b.y2 - b.y1 < 1.0) {
			mlf_problems_add(problems, c->source, field, "box is less than one pixel wide or "
					 "high after clipping to the image");
			bad = 1;
			continue;
		}
		it->boxes[it->nboxes++] = b;
	}
	return bad ? -1 : 0;
}

static int by_box(const void *a, const void *b)
{
	const struct mlf_box *x = a, *y = b;
	if (x->class_id != y->class_id)
		return x->class_id - y->class_id;
	double d[4] = { x->x1 - y->x1, x->y1 - y->y1, x->x2 - y->x2, x->y2 - y->y2 };
	for (int i = 0; i < 4; i++)
		if (d[i] != 0)
			return d[i] < 0 ? -1 : 1;
	return 0;
}

/* What was corrected, whatever format it came in: image content plus boxes. */
static void correction_id(struct prep_item *it)
{
	struct mlf_buf b = MLF_BUF_INIT;
	if (it->nboxes > 1)  /* an image without boxes may have none allocated */
		qsort(it->boxes, it->nboxes, sizeof(*it->boxes), by_box);
	mlf_buf_addf(&b, "mlf.correction.v1\n%s\n", it->image_sha);
	for (size_t i = 0; i < it->nboxes; i++)
		mlf_buf_addf(&b, "%d %.3f %.3f %.3f %.3f\n", it->boxes[i].class_id, it->boxes[i].x1,
			     it->boxes[i].y1, it->boxes[i].x2, it->boxes[i].y2);
	mlf_sha256_hex(b.data, b.len, it->correction_id);
	mlf_buf_release(&b);
}

/* Everything about one correction that needs no other correction. */
static void check_one(const struct mlf_correction *c, struct check_slot *slot)
{
	struct mlf_image_info info;
	struct mlf_error ierr = MLF_ERROR_INIT;
	if (mlf_image_probe(c->image, &info, &ierr)) {
		mlf_problems_add(&slot->problems, c->source, "image", "%s", ierr.msg);
		return;
	}
	if ((c->declared_width && c->declared_width != info.width) ||
	    (c->declared_height && c->declared_height != info.height)) {
		mlf_problems_add(&slot->problems, c->source, "width/height", "declares %dx%d but the "
				 "image is %dx%d", c->declared_width, c->declared_height, info.width,
				 info.height);
		return;
	}
	struct prep_item it = { .c = c, .width = info.width, .height = info.height,
				.split = SPLIT_TRAIN };
	if (convert_boxes(c, info.width, info.height, &it, &slot->problems)) {
		free(it.boxes);
		return;
	}
	if (mlf_sha256_file(c->image, it.image_sha, NULL, &ierr)) {
		mlf_problems_add(&slot->problems, c->source, "image", "%s", ierr.msg);
		free(it.boxes);
		return;
	}
	correction_id(&it);
	slot->item = it;
	slot->ok = 1;
}

/* Shared by the workers of one mlf_prep_check_each() call. */
struct check_job {
	const struct mlf_correction_set *set;
	struct check_slot *slots;
	atomic_size_t next;          /* the next correction to take */
	pthread_mutex_t lock;        /* guards done */
	pthread_cond_t progressed;   /* done went up */
	size_t done;
};

static void *check_worker(void *arg)
{
	struct check_job *job = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&job->next, 1);
		if (i >= job->set->n)
			return NULL;
		check_one(&job->set->items[i], &job->slots[i]);
		pthread_mutex_lock(&job->lock);
		job->done++;
		pthread_cond_signal(&job->progressed);
		pthread_mutex_unlock(&job->lock);
	}
}

static size_t worker_count(size_t n)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t k = cpus > 0 ? (size_t)cpus : 1;
	if (k > MAX_WORKERS)
		k = MAX_WORKERS;
	return k < n ? k : n;
}

void mlf_prep_check_each(const struct mlf_correction_set *set, struct check_slot *slots,
			 struct mlf_progress *progress)
{
	struct check_job job = { .set = set, .slots = slots, .next = 0,
				 .lock = PTHREAD_MUTEX_INITIALIZER,
				 .progressed = PTHREAD_COND_INITIALIZER, .done = 0 };
	pthread_t threads[MAX_WORKERS];
	size_t want = worker_count(set->n), started = 0;
	while (started < want && !pthread_create(&threads[started], NULL, check_worker, &job))
		started++;
	if (!started)
		check_worker(&job);  /* no thread to be had: do it all here */

	/* Progress is not thread-safe: only this thread steps it. */
	size_t shown = 0;
	pthread_mutex_lock(&job.lock);
	while (shown < set->n) {
		while (job.done == shown)
			pthread_cond_wait(&job.progressed, &job.lock);
		size_t done = job.done;
		pthread_mutex_unlock(&job.lock);
		for (; shown < done; shown++)
			mlf_progress_step(progress);
		pthread_mutex_lock(&job.lock);
	}
	pthread_mutex_unlock(&job.lock);

	for (size_t k = 0; k < started; k++)
		pthread_join(threads[k], NULL);
	pthread_cond_destroy(&job.progressed);
	pthread_mutex_destroy(&job.lock);
}
