/*
 * Resized images shared by the loader's threads.  A mosaic needs four
 * images, three of them recent ones; keeping the recent ones decoded is
 * what Ultralytics' per-worker buffer (self.ims) does, and it means each
 * image is decoded about once an epoch.  With cache=ram every image is
 * loaded up front and kept, as BaseDataset.cache_images does.
 *
 * Locking: one mutex over the table; decoding runs outside it, the image
 * marked as being loaded so that a second thread wanting it waits instead
 * of decoding it again.  A failed load leaves nothing behind: whoever asks
 * next tries again (and fails with the same file named).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "mlf/base.h"

enum { EMPTY = 0, LOADING, READY };

struct entry {
	struct mlf_rgb_image im;
	int state;
	int refs;
	struct entry *prev, *next;      /* least recently used list of READY entries */
};

struct data_cache {
	const struct mlf_dataset *ds;
	int imgsz;
	size_t capacity, ready;
	int keep_all;
	struct entry *e;                /* one per dataset image */
	struct entry *head, *tail;      /* head: most recently used */
	pthread_mutex_t mu;
	pthread_cond_t loaded;
};

static void lru_unlink(struct data_cache *c, struct entry *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else if (c->head == x)
		c->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	else if (c->tail == x)
		c->tail = x->prev;
	x->prev = x->next = NULL;
}

static void lru_front(struct data_cache *c, struct entry *x)
{
	x->prev = NULL;
	x->next = c->head;
	if (c->head)
		c->head->prev = x;
	c->head = x;
	if (!c->tail)
		c->tail = x;
}

/* Drop unused images, oldest first, until at most `capacity` remain. */
static void evict(struct data_cache *c)
{
	struct entry *x = c->tail;
	while (c->ready > c->capacity && x) {
		struct entry *prev = x->prev;
		if (!x->refs) {
			lru_unlink(c, x);
			mlf_rgb_image_release(&x->im);
			x->state = EMPTY;
			c->ready--;
		}
		x = prev;
	}
}

int data_cache_get(struct data_cache *c, size_t index, const struct mlf_rgb_image **im, struct mlf_error *err)
{
	struct entry *x = &c->e[index];
	pthread_mutex_lock(&c->mu);
	while (x->state == LOADING)
		pthread_cond_wait(&c->loaded, &c->mu);
	if (x->state == READY) {
		x->refs++;
		if (!c->keep_all) {
			lru_unlink(c, x);
			lru_front(c, x);
		}
		pthread_mutex_unlock(&c->mu);
		*im = &x->im;
		return 0;
	}
	x->state = LOADING;
	pthread_mutex_unlock(&c->mu);

	struct mlf_rgb_image loaded;
	int rc = mlf_dataset_load_image(c->ds, index, c->imgsz, &loaded, err);

	pthread_mutex_lock(&c->mu);
	if (rc) {
		x->state = EMPTY;
	} else {
		x->im = loaded;
		x->state = READY;
		x->refs = 1;
		c->ready++;
		if (!c->keep_all) {
			lru_front(c, x);
			evict(c);
		}
	}
	pthread_cond_broadcast(&c->loaded);
	pthread_mutex_unlock(&c->mu);
	if (!rc)
		*im = &x->im;
	return rc;
}

void data_cache_put(struct data_cache *c, size_t index)
{
	pthread_mutex_lock(&c->mu);
	struct entry *x = &c->e[index];
	if (x->refs > 0 && --x->refs == 0 && !c->keep_all)
		evict(c);
	pthread_mutex_unlock(&c->mu);
}

struct preload {
	struct data_cache *c;
	atomic_size_t next;
	atomic_int failed;
	pthread_mutex_t mu;
	struct mlf_error err;
};

static void *preload_worker(void *arg)
{
	struct preload *p = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&p->next, 1);
		if (i >= p->c->ds->n || atomic_load(&p->failed))
			break;
		const struct mlf_rgb_image *im;
		struct mlf_error e = MLF_ERROR_INIT;
		if (data_cache_get(p->c, i, &im, &e)) {
			pthread_mutex_lock(&p->mu);
			if (!atomic_exchange(&p->failed, 1))
				p->err = e;
			pthread_mutex_unlock(&p->mu);
			break;
		}
		data_cache_put(p->c, i);
	}
	return NULL;
}

int data_cache_open(struct data_cache **out, const struct mlf_dataset *ds, int imgsz, size_t capacity,
		    int keep_all, int threads, struct mlf_error *err)
{
	struct data_cache *c = mlf_xcalloc(1, sizeof(*c));
	c->ds = ds;
	c->imgsz = imgsz;
	c->capacity = capacity ? capacity : 1;
	c->keep_all = keep_all;
	c->e = mlf_xcalloc(ds->n ? ds->n : 1, sizeof(*c->e));
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->loaded, NULL);
	*out = c;
	if (!keep_all)
		return 0;

	struct preload p = { .c = c };
	pthread_mutex_init(&p.mu, NULL);
	int nt = threads > 0 ? threads : 1;
	pthread_t *th = mlf_xcalloc((size_t)nt, sizeof(*th));
	int started = 0;
	for (int t = 1; t < nt; t++) {
		if (pthread_create(&th[t], NULL, preload_worker, &p))
			break;
		started = t;
	}
	preload_worker(&p);
	for (int t = 1; t <= started; t++)
		pthread_join(th[t], NULL);
	free(th);
	pthread_mutex_destroy(&p.mu);
	if (atomic_load(&p.failed)) {
		if (err)
			*err = p.err;
		mlf_error_prefix(err, "caching images in RAM");
		data_cache_close(c);
		*out = NULL;
		return -1;
	}
	return 0;
}

void data_cache_close(struct data_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ds->n; i++)
		mlf_rgb_image_release(&c->e[i].im);
	free(c->e);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->loaded);
	free(c);
}
