/*
 * The batch loader (include/mlf/data.h): a pool of threads making the
 * samples of the next batches, one sample at a time in epoch order, into
 * a ring of batch slots; the consumer takes the batches in order.
 *
 * Work items are the samples of the epoch, numbered 0 .. n-1 in epoch order
 * (batch b holds items b*batch ..).  A thread may start an item when its
 * batch lies within the slots the consumer is not reading: at most
 * `prefetch` batches past the one the consumer holds.  The first item of a
 * batch prepares its slot, under the lock, before any other item of it can
 * be handed out.  Starting an epoch stops handing out items, waits for the
 * ones in flight, then resets.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data_internal.h"
#include "mlf/base.h"
#include "mlf/data.h"

#define NONE SIZE_MAX

struct slot {
	struct mlf_batch b;
	size_t batch;               /* the batch it holds, or NONE */
	size_t image_cap;           /* bytes allocated for b.images */
	size_t cap;                 /* samples the arrays hold */
	struct mlf_boxes *boxes;    /* per sample: class, normalised xywh */
	size_t target_cap;
	int done, ready, failed;
	struct mlf_error err;
};

struct mlf_loader {
	const struct mlf_dataset *ds;
	struct mlf_loader_options o;
	size_t n, nb;
	struct data_cache *cache;
	size_t window;              /* mosaic buffer: the last `window` samples' images */
	size_t *rect_order;         /* validation */
	int (*shapes)[2];
	int epoch;
	double mosaic;
	size_t *perm, *prev_perm;   /* training: this epoch's order and the previous one's */
	int nslots;
	struct slot *slots;
	pthread_mutex_t mu;
	pthread_cond_t work, ready, idle;
	int started;                /* an epoch is under way */
	size_t next_item, consumer, held;
	int inflight, stop;
	pthread_t *threads;
	int nthreads;
	struct data_scratch own;    /* the consumer's, when there are no workers */
};

void mlf_loader_options_defaults(struct mlf_loader_options *o, enum mlf_loader_mode mode)
{
	memset(o, 0, sizeof(*o));
	o->mode = mode;
	o->batch = mode == MLF_LOADER_VAL ? 32 : 16;
	o->imgsz = 640;
	o->stride = 32;
	o->pad = mode == MLF_LOADER_VAL ? 0.5 : 0.0;
	o->workers = 8;
	o->prefetch = 2;
	o->shuffle = mode == MLF_LOADER_TRAIN;
	o->epochs = 100;
	o->close_mosaic = 10;
	mlf_augment_hyp_defaults(&o->hyp);
}

size_t mlf_loader_batches(const struct mlf_loader *l)
{
	return l->nb;
}

int mlf_loader_mosaic_on(const struct mlf_loader *l, int epoch)
{
	if (l->o.mode != MLF_LOADER_TRAIN || l->o.hyp.mosaic <= 0)
		return 0;
	return !(l->o.close_mosaic > 0 && epoch >= l->o.epochs - l->o.close_mosaic);
}

/* The epoch's order: a Fisher-Yates shuffle from its own stream, or the list. */
static void make_order(const struct mlf_loader *l, int epoch, size_t *perm)
{
	for (size_t i = 0; i < l->n; i++)
		perm[i] = i;
	if (!l->o.shuffle || epoch < 0)
		return;
	struct mlf_rng r;
	mlf_rng_seed(&r, l->o.seed ^ 0x7065726d75746521ull, (uint64_t)epoch, 0);
	for (size_t i = l->n; i > 1; i--) {
		size_t j = (size_t)mlf_rng_below(&r, i);
		size_t t = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = t;
	}
}

struct seq {
	const struct mlf_loader *l;
	size_t k;                   /* the sample's position in its epoch */
};

/* Candidate j of sample k: the image of the sample j places before it. */
static size_t seq_image(const void *ctx, size_t j)
{
	const struct seq *s = ctx;
	if (j <= s->k)
		return s->l->perm[s->k - j];
	return s->l->prev_perm[s->l->n - (j - s->k)];
}

static size_t items_in(const struct mlf_loader *l, size_t b)
{
	size_t lo = b * (size_t)l->o.batch;
	return l->n - lo < (size_t)l->o.batch ? l->n - lo : (size_t)l->o.batch;
}

/* Prepare slot for batch b (lock held). */
static void slot_prepare(struct mlf_loader *l, struct slot *s, size_t b)
{
	int n = (int)items_in(l, b);
	int h = l->o.imgsz, w = l->o.imgsz;
	if (l->o.mode == MLF_LOADER_VAL) {
		h = l->shapes[b][0];
		w = l->shapes[b][1];
	}
	size_t bytes = (size_t)n * 3 * (size_t)h * (size_t)w;
	if (bytes > s->image_cap) {
		free(s->b.images);
		s->b.images = mlf_xmalloc(bytes);
		s->image_cap = bytes;
	}
	s->batch = b;
	s->done = s->ready = s->failed = 0;
	mlf_error_clear(&s->err);
	s->b.index = b;
	s->b.n = n;
	s->b.h = h;
	s->b.w = w;
	s->b.ntargets = 0;
}

static int run_item(struct mlf_loader *l, size_t i, struct data_scratch *sc, struct mlf_error *err)
{
	size_t b = i / (size_t)l->o.batch, j = i % (size_t)l->o.batch;
	struct slot *s = &l->slots[b % (size_t)l->nslots];
	size_t plane = 3 * (size_t)s->b.h * (size_t)s->b.w;
	unsigned char *chw = s->b.images + j * plane;
	struct data_sample_info info;
	memset(&info, 0, sizeof(info));
	size_t index;
	int rc;
	if (l->o.mode == MLF_LOADER_VAL) {
		index = l->rect_order[i];
		rc = data_val_sample(l->ds, l->cache, index, s->b.w, s->b.h, sc, chw, &info, err);
	} else {
		index = l->perm[i];
		struct seq q = { l, i };
		size_t avail = l->epoch > 0 ? l->window : (i + 1 < l->window ? i + 1 : l->window);
		struct data_partners p = { l->o.cache_ram, avail, seq_image, &q };
		rc = data_train_sample(l->ds, l->cache, &l->o.hyp, l->o.imgsz, l->mosaic, l->o.seed, l->epoch, i,
				       index, &p, sc, chw, &info, err);
	}
	s->b.dataset_index[j] = index;
	s->b.paths[j] = l->ds->images[index].path;
	memcpy(s->b.ori_shape[j], info.ori, sizeof(info.ori));
	memcpy(s->b.resized_shape[j], info.resized, sizeof(info.resized));
	memcpy(s->b.ratio_pad[j], info.ratio_pad, sizeof(info.ratio_pad));
	struct mlf_boxes *o = &s->boxes[j];
	mlf_boxes_clear(o);
	for (size_t k = 0; !rc && k < sc->boxes.n; k++) {
		const float *v = sc->boxes.box + 4 * k;
		mlf_boxes_push(o, sc->boxes.cls[k], v[0], v[1], v[2], v[3]);
	}
	return rc;
}

/* Record a finished item (lock held). */
static void item_done(struct mlf_loader *l, size_t i, int rc, const struct mlf_error *err)
{
	struct slot *s = &l->slots[(i / (size_t)l->o.batch) % (size_t)l->nslots];
	if (rc && !s->failed) {
		s->failed = 1;
		s->err = *err;
	}
	if (++s->done == s->b.n) {
		s->ready = 1;
		pthread_cond_broadcast(&l->ready);
	}
}

/* Whether an item may be handed out now (lock held). */
static int item_available(const struct mlf_loader *l)
{
	if (!l->started || l->next_item >= l->n)
		return 0;
	size_t base = l->held != NONE ? l->held : l->consumer;
	return l->next_item / (size_t)l->o.batch < base + (size_t)l->nslots;
}

static void *worker(void *arg)
{
	struct mlf_loader *l = arg;
	struct data_scratch sc;
	memset(&sc, 0, sizeof(sc));
	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		if (!item_available(l)) {
			pthread_cond_wait(&l->work, &l->mu);
			continue;
		}
		size_t i = l->next_item++;
		if (i % (size_t)l->o.batch == 0)
			slot_prepare(l, &l->slots[(i / (size_t)l->o.batch) % (size_t)l->nslots], i / (size_t)l->o.batch);
		l->inflight++;
		pthread_mutex_unlock(&l->mu);
		struct mlf_error err = MLF_ERROR_INIT;
		int rc = run_item(l, i, &sc, &err);
		pthread_mutex_lock(&l->mu);
		item_done(l, i, rc, &err);
		if (--l->inflight == 0)
			pthread_cond_broadcast(&l->idle);
	}
	pthread_mutex_unlock(&l->mu);
	data_scratch_release(&sc);
	return NULL;
}

static void slots_alloc(struct mlf_loader *l)
{
	size_t B = (size_t)l->o.batch;
	l->slots = mlf_xcalloc((size_t)l->nslots, sizeof(*l->slots));
	for (int k = 0; k < l->nslots; k++) {
		struct slot *s = &l->slots[k];
		s->batch = NONE;
		s->cap = B;
		s->boxes = mlf_xcalloc(B, sizeof(*s->boxes));
		s->b.dataset_index = mlf_xcalloc(B, sizeof(*s->b.dataset_index));
		s->b.paths = mlf_xcalloc(B, sizeof(*s->b.paths));
		s->b.ori_shape = mlf_xcalloc(B, sizeof(*s->b.ori_shape));
		s->b.resized_shape = mlf_xcalloc(B, sizeof(*s->b.resized_shape));
		s->b.ratio_pad = mlf_xcalloc(B, sizeof(*s->b.ratio_pad));
	}
}

static void slots_free(struct mlf_loader *l)
{
	for (int k = 0; l->slots && k < l->nslots; k++) {
		struct slot *s = &l->slots[k];
		for (size_t j = 0; j < s->cap; j++)
			mlf_boxes_release(&s->boxes[j]);
		free(s->boxes);
		free(s->b.images);
		free(s->b.targets);
		free(s->b.dataset_index);
		free(s->b.paths);
		free(s->b.ori_shape);
		free(s->b.resized_shape);
		free(s->b.ratio_pad);
	}
	free(l->slots);
}

int mlf_loader_open(struct mlf_loader **out, const struct mlf_dataset *ds, const struct mlf_loader_options *o,
		    struct mlf_error *err)
{
	*out = NULL;
	if (!ds || !ds->n || !o)
		return mlf_fail(err, MLF_EX_USAGE, "loader: %s", !o ? "no options" : "no dataset, or an empty one");
	if (o->batch < 1 || o->imgsz < 32 || o->imgsz > 8192 || o->stride < 1 || o->workers < 0 || o->prefetch < 1 ||
	    !(o->pad >= 0 && o->pad < 64))
		return mlf_fail(err, MLF_EX_USAGE, "loader: batch %d, imgsz %d, stride %d, workers %d, prefetch %d, "
				"pad %g: batch, stride and prefetch must be >= 1, imgsz 32..8192, workers >= 0",
				o->batch, o->imgsz, o->stride, o->workers, o->prefetch, o->pad);
	if (o->mode == MLF_LOADER_TRAIN && mlf_augment_hyp_check(&o->hyp, err))
		return -1;

	struct mlf_loader *l = mlf_xcalloc(1, sizeof(*l));
	l->ds = ds;
	l->o = *o;
	l->n = ds->n;
	/* build_dataloader: batch = min(batch, len(dataset)) */
	if ((size_t)l->o.batch > l->n)
		l->o.batch = (int)l->n;
	l->nb = (l->n + (size_t)l->o.batch - 1) / (size_t)l->o.batch;
	l->nslots = l->o.prefetch + 1;
	l->held = NONE;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->work, NULL);
	pthread_cond_init(&l->ready, NULL);
	pthread_cond_init(&l->idle, NULL);

	/* BaseDataset.max_buffer_length; the buffer keeps one fewer (it pops at that length) */
	size_t L = l->n < 8 * (size_t)o->batch ? l->n : 8 * (size_t)o->batch;
	L = L < 1000 ? L : 1000;
	l->window = L > 1 ? L - 1 : 1;

	if (o->mode == MLF_LOADER_VAL) {
		int *w = mlf_xmalloc(l->n * sizeof(int)), *h = mlf_xmalloc(l->n * sizeof(int));
		for (size_t i = 0; i < l->n; i++) {
			w[i] = ds->images[i].w;
			h[i] = ds->images[i].h;
		}
		l->rect_order = mlf_xmalloc(l->n * sizeof(*l->rect_order));
		l->shapes = mlf_xmalloc(l->nb * sizeof(*l->shapes));
		/* set_rectangle uses the dataset's batch size, the one asked for */
		mlf_rect_shapes(w, h, l->n, o->batch, o->imgsz, o->stride, o->pad, l->rect_order, l->shapes);
		free(w);
		free(h);
	} else {
		l->perm = mlf_xmalloc(l->n * sizeof(*l->perm));
		l->prev_perm = mlf_xmalloc(l->n * sizeof(*l->prev_perm));
	}
	slots_alloc(l);

	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int nw = o->workers;
	if (cpus > 0 && nw > cpus)
		nw = (int)cpus;
	size_t cap = l->window + (size_t)l->nslots * (size_t)l->o.batch + 4 * (size_t)(nw + 1) + 8;
	if (data_cache_open(&l->cache, ds, o->imgsz, o->mode == MLF_LOADER_VAL ? (size_t)(2 * nw + 4) : cap,
			    o->cache_ram, nw > 0 ? nw : 1, err)) {
		mlf_loader_close(l);
		return -1;
	}
	l->threads = mlf_xcalloc(nw > 0 ? (size_t)nw : 1, sizeof(*l->threads));
	for (int t = 0; t < nw; t++) {
		if (pthread_create(&l->threads[t], NULL, worker, l))
			break;
		l->nthreads++;
	}
	*out = l;
	return 0;
}

/* Stop handing out items and wait for those in flight (lock held). */
static void quiesce(struct mlf_loader *l)
{
	l->started = 0;
	while (l->inflight)
		pthread_cond_wait(&l->idle, &l->mu);
}

int mlf_loader_start_epoch(struct mlf_loader *l, int epoch, struct mlf_error *err)
{
	if (epoch < 0)
		return mlf_fail(err, MLF_EX_USAGE, "loader: epoch %d: epochs count from 0", epoch);
	pthread_mutex_lock(&l->mu);
	quiesce(l);
	for (int k = 0; k < l->nslots; k++) {
		l->slots[k].batch = NONE;
		l->slots[k].ready = 0;
	}
	if (l->o.mode == MLF_LOADER_TRAIN) {
		make_order(l, epoch, l->perm);
		make_order(l, epoch - 1, l->prev_perm);
	}
	l->epoch = epoch;
	l->mosaic = mlf_loader_mosaic_on(l, epoch) ? l->o.hyp.mosaic : 0.0;
	l->next_item = 0;
	l->consumer = 0;
	l->held = NONE;
	l->started = 1;
	pthread_cond_broadcast(&l->work);
	pthread_mutex_unlock(&l->mu);
	return 0;
}

/* Make batch b on the calling thread (no workers). */
static void make_here(struct mlf_loader *l, size_t b)
{
	struct slot *s = &l->slots[b % (size_t)l->nslots];
	slot_prepare(l, s, b);
	size_t first = b * (size_t)l->o.batch;
	for (size_t i = first; i < first + (size_t)s->b.n; i++) {
		struct mlf_error e = MLF_ERROR_INIT;
		int rc = run_item(l, i, &l->own, &e);
		item_done(l, i, rc, &e);
	}
	l->next_item = first + (size_t)s->b.n;
}

static void gather_targets(struct slot *s)
{
	size_t total = 0;
	for (int j = 0; j < s->b.n; j++)
		total += s->boxes[j].n;
	if (total > s->target_cap) {
		free(s->b.targets);
		s->b.targets = mlf_xmalloc(total * sizeof(*s->b.targets));
		s->target_cap = total;
	}
	size_t t = 0;
	for (int j = 0; j < s->b.n; j++)
		for (size_t k = 0; k < s->boxes[j].n; k++) {
			const float *v = s->boxes[j].box + 4 * k;
			s->b.targets[t++] = (struct mlf_target){ j, s->boxes[j].cls[k], v[0], v[1], v[2], v[3] };
		}
	s->b.ntargets = t;
}

int mlf_loader_next(struct mlf_loader *l, const struct mlf_batch **out, struct mlf_error *err)
{
	*out = NULL;
	pthread_mutex_lock(&l->mu);
	if (!l->started && l->consumer == 0 && l->next_item == 0) {
		pthread_mutex_unlock(&l->mu);
		return mlf_fail(err, MLF_EX_USAGE, "loader: no epoch started; call mlf_loader_start_epoch first");
	}
	if (l->held != NONE) {
		l->held = NONE;
		pthread_cond_broadcast(&l->work);
	}
	if (l->consumer >= l->nb) {
		l->started = 0;
		pthread_mutex_unlock(&l->mu);
		return 0;
	}
	size_t b = l->consumer;
	struct slot *s = &l->slots[b % (size_t)l->nslots];
	if (!l->nthreads) {
		make_here(l, b);
	} else {
		while (!(s->batch == b && s->ready))
			pthread_cond_wait(&l->ready, &l->mu);
	}
	l->held = b;
	l->consumer++;
	pthread_mutex_unlock(&l->mu);
	if (s->failed) {
		if (err)
			*err = s->err;
		return -1;
	}
	gather_targets(s);
	*out = &s->b;
	return 1;
}

void mlf_loader_close(struct mlf_loader *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	quiesce(l);
	l->stop = 1;
	pthread_cond_broadcast(&l->work);
	pthread_mutex_unlock(&l->mu);
	for (int t = 0; t < l->nthreads; t++)
		pthread_join(l->threads[t], NULL);
	free(l->threads);
	data_cache_close(l->cache);
	data_scratch_release(&l->own);
	slots_free(l);
	free(l->rect_order);
	free(l->shapes);
	free(l->perm);
	free(l->prev_perm);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->work);
	pthread_cond_destroy(&l->ready);
	pthread_cond_destroy(&l->idle);
	free(l);
}
