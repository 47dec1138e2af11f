/*
 * Validation during and after a training, as 8.4.190's DetectionValidator
 * runs it: rectangular letterboxed batches, an eval forward, the loss on the
 * raw maps (training only), multi-label NMS at conf 0.001 / iou 0.7,
 * matching in the letterboxed frame, mlf/metrics.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mlf/torch/torch.h"
#include "train_internal.h"

double train_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

mlf_th *train_batch_input(const struct mlf_batch *b, int device)
{
	/* preprocess_batch: img.to(device).float() / 255 */
	int64_t shape[4] = { b->n, 3, b->h, b->w };
	size_t mark = mlf_th_scope_open();
	mlf_th *u8 = mlf_th_from_data(b->images, MLF_DTYPE_U8, 4, shape, device);
	mlf_th *x = mlf_th_binary_s(MLF_TH_DIV, mlf_th_to(u8, MLF_DTYPE_F32, device), 255.0);
	mlf_th_keep(x);
	mlf_th_scope_close(mark);
	return x;
}

struct mlf_yolo_target *train_batch_targets(const struct mlf_batch *b)
{
	struct mlf_yolo_target *t = mlf_xcalloc(b->ntargets ? b->ntargets : 1, sizeof(*t));
	for (size_t i = 0; i < b->ntargets; i++) {
		const struct mlf_target *s = &b->targets[i];
		t[i] = (struct mlf_yolo_target){ s->image, s->cls, s->cx, s->cy, s->w, s->h };
	}
	return t;
}

int train_val_open(struct train_val *v, const struct mlf_image_list *list, int nc,
		   const struct mlf_train_args *a, int batch, int stride, int threads,
		   struct mlf_error *err)
{
	memset(v, 0, sizeof(*v));
	struct mlf_dataset_options dopt = { .nc = nc, .single_cls = a->single_cls, .threads = threads };
	if (mlf_dataset_open(&v->ds, list, &dopt, NULL, err) < 0)
		return -1;
	struct mlf_loader_options lo;
	mlf_loader_options_defaults(&lo, MLF_LOADER_VAL);
	lo.batch = batch;
	lo.imgsz = a->imgsz;
	lo.stride = stride;
	lo.workers = threads;
	lo.cache_ram = a->cache;
	if (mlf_loader_open(&v->loader, &v->ds, &lo, err) < 0 || mlf_det_metrics_init(&v->acc, nc, err) < 0) {
		train_val_close(v);
		return -1;
	}
	mlf_nms_options_val(&v->nms);
	if (!isnan(a->conf))
		v->nms.conf = (float)a->conf;
	v->nms.iou = a->iou;
	v->nms.max_det = a->max_det;
	v->nms.agnostic = a->single_cls;
	return 0;
}

void train_val_close(struct train_val *v)
{
	mlf_loader_close(v->loader);
	mlf_dataset_release(&v->ds);
	mlf_det_metrics_release(&v->acc);
	if (v->have_last)
		mlf_det_metrics_result_release(&v->last);
	memset(v, 0, sizeof(*v));
}

/* The batch's ground truth of image i in letterboxed pixels, as
 * _prepare_batch computes it: xywh2xyxy on the normalised float32 box, then
 * times the input size. */
static size_t image_truth(const struct mlf_batch *b, int i, struct mlf_gt_box *gt)
{
	size_t n = 0;
	const float W = (float)b->w, H = (float)b->h;
	for (size_t k = 0; k < b->ntargets; k++) {
		const struct mlf_target *t = &b->targets[k];
		if (t->image != i)
			continue;
		float dw = t->w / 2.0f, dh = t->h / 2.0f;
		gt[n++] = (struct mlf_gt_box){ (t->cx - dw) * W, (t->cy - dh) * H, (t->cx + dw) * W,
					       (t->cy + dh) * H, t->cls };
	}
	return n;
}

static int run_batch(struct train_val *v, struct mlf_yolo_model *m, const struct mlf_yolo_loss *loss,
		     const struct mlf_batch *b, struct mlf_detections *dets, struct mlf_gt_box *gt,
		     double sums[3], struct mlf_error *err)
{
	int rc = 0;
	size_t mark = mlf_th_scope_open();
	struct mlf_yolo_output out;
	mlf_th *x = train_batch_input(b, m->device);
	unsigned what = MLF_YOLO_OUT_DECODED | (loss ? MLF_YOLO_OUT_LEVELS : 0u);
	if (!x)
		rc = mlf_th_fail(err, "validation batch");
	else
		rc = mlf_yolo_forward(m, x, what, &out, err);
	if (!rc && loss) {
		struct mlf_yolo_target *t = train_batch_targets(b);
		struct mlf_yolo_loss_value lv;
		rc = mlf_yolo_loss_compute(loss, &out, t, b->ntargets, &lv, NULL, err);
		free(t);
		if (!rc) {
			sums[0] += lv.box;
			sums[1] += lv.cls;
			sums[2] += lv.dfl;
		}
	}
	if (!rc)
		rc = mlf_yolo_nms_batch(out.decoded, &v->nms, dets, (size_t)b->n, err);
	mlf_th_scope_close(mark);
	for (int i = 0; i < b->n && !rc; i++) {
		size_t ngt = image_truth(b, i, gt);
		rc = mlf_det_metrics_add_image(&v->acc, dets[i].det, dets[i].n, gt, ngt, err);
	}
	return rc;
}

int train_val_run(struct train_val *v, struct mlf_yolo_model *m, const struct mlf_yolo_loss *loss,
		  struct mlf_val_summary *s, struct mlf_error *err)
{
	double t0 = train_now();
	int was_training = m->training, grad = mlf_th_grad_enabled(0);
	mlf_yolo_model_train(m, 0);
	mlf_det_metrics_reset(&v->acc);
	size_t cap = 0, nbatches = 0;
	for (size_t i = 0; i < v->ds.n; i++)
		cap = v->ds.images[i].n > cap ? v->ds.images[i].n : cap;
	struct mlf_gt_box *gt = mlf_xcalloc(cap ? cap : 1, sizeof(*gt));
	struct mlf_detections *dets = NULL;
	int ndets = 0;
	double sums[3] = { 0, 0, 0 };
	int rc = mlf_loader_start_epoch(v->loader, 0, err);
	while (!rc) {
		const struct mlf_batch *b;
		int got = mlf_loader_next(v->loader, &b, err);
		if (got <= 0) {
			rc = got;
			break;
		}
		if (b->n > ndets) {
			dets = mlf_xrealloc(dets, (size_t)b->n * sizeof(*dets));
			for (int i = ndets; i < b->n; i++)
				mlf_detections_init(&dets[i]);
			ndets = b->n;
		}
		rc = run_batch(v, m, loss, b, dets, gt, sums, err);
		nbatches++;
	}
	for (int i = 0; i < ndets; i++)
		mlf_detections_release(&dets[i]);
	free(dets);
	free(gt);
	mlf_yolo_model_train(m, was_training);
	mlf_th_grad_enabled(grad);
	if (rc)
		return -1;
	if (v->have_last)
		mlf_det_metrics_result_release(&v->last);
	v->have_last = 0;
	if (mlf_det_metrics_compute(&v->acc, &v->last, err) < 0)
		return -1;
	v->have_last = 1;
	const struct mlf_det_metrics_result *r = &v->last;
	double nb = nbatches ? (double)nbatches : 1.0;
	*s = (struct mlf_val_summary){
		.precision = r->mp, .recall = r->mr, .map50 = r->map50, .map50_95 = r->map,
		.fitness = r->fitness,
		.box_loss = loss ? sums[0] / nb : NAN, .cls_loss = loss ? sums[1] / nb : NAN,
		.dfl_loss = loss ? sums[2] / nb : NAN,
		.images = r->nimages, .instances = r->ninstances, .seconds = train_now() - t0,
	};
	return 0;
}

int mlf_train_evaluate(const char *model_pt, const char *data_yaml, const char *split,
		       const struct mlf_train_args *args, int device, struct mlf_val_summary *out,
		       struct mlf_error *err)
{
	struct mlf_data_yaml y;
	struct mlf_ckpt c;
	struct mlf_yolo_model m;
	struct train_val v;
	int use_train = split && strcmp(split, "train") == 0;
	if (split && !use_train && strcmp(split, "val") != 0)
		return mlf_fail(err, MLF_EX_USAGE, "split '%s': use 'val' or 'train'", split);
	if (mlf_data_yaml_load(data_yaml, &y, err) < 0)
		return -1;
	mlf_ckpt_init(&c);
	mlf_yolo_model_init(&m);
	device = mlf_train_resolve_device(device);
	int rc = mlf_ckpt_read_pt(model_pt, &c, err);
	if (!rc)
		rc = mlf_yolo_model_from_ckpt(&m, &c, device, err);
	mlf_ckpt_release(&c);
	if (!rc && m.arch.nc != (int)y.classes.n)
		rc = mlf_fail(err, MLF_EX_DATAERR, "%s has %d classes but %s has %zu", model_pt, m.arch.nc,
			      data_yaml, y.classes.n);
	if (!rc) {
		int stride = mlf_yolo_model_max_stride(&m);
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		int threads = args->workers < cpus ? args->workers : (int)cpus;
		rc = train_val_open(&v, use_train ? &y.train : &y.val, m.arch.nc, args, args->batch * 2,
				    stride > 32 ? stride : 32, threads, err);
		if (!rc) {
			mlf_yolo_model_set_fused(&m, 1);
			rc = train_val_run(&v, &m, NULL, out, err);
			train_val_close(&v);
		}
	}
	mlf_yolo_model_release(&m);
	mlf_data_yaml_release(&y);
	return rc;
}
