/*
 * NMS and letterbox geometry as Ultralytics 8.4.190 does them
 * (utils/nms.py non_max_suppression, data/augment.py LetterBox).  Arithmetic
 * is float32 where PyTorch's and torchvision's is, and comparisons are done
 * in the precision they use, so that boxes sitting exactly on a threshold go
 * the same way.
 *
 * The suppression is torchvision.ops.nms (CPU kernel), not Ultralytics'
 * TorchNMS: YOLO.predict (AutoBackend.warmup) and the validator import
 * torchvision before their first NMS, and non_max_suppression uses it
 * whenever it is imported.  The two differ in tie order (stable sort vs
 * torch.argsort), in the IoU threshold's precision (double vs float) and in
 * a NaN IoU (kept vs suppressed).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/yolo.h"

void mlf_nms_options_predict(struct mlf_nms_options *o)
{
	o->conf = 0.25f;
	o->iou = 0.7;
	o->max_det = 300;
	o->max_nms = 30000;
	o->agnostic = 0;
	o->multi_label = 0;
}

void mlf_nms_options_val(struct mlf_nms_options *o)
{
	mlf_nms_options_predict(o);
	o->conf = 0.001f;
	o->multi_label = 1;
}

void mlf_detections_init(struct mlf_detections *d)
{
	memset(d, 0, sizeof(*d));
}

void mlf_detections_release(struct mlf_detections *d)
{
	free(d->det);
	memset(d, 0, sizeof(*d));
}

/*
 * PyTorch's CPU sort with stable=False is libstdc++'s std::sort (introsort)
 * over (value, index) pairs with NaN ranked first; equal scores come out in
 * the order that algorithm leaves them, not by index.  Ultralytics sorts
 * that way to cut more than max_nms candidates, so it is reproduced step for
 * step: which of equally scored boxes enter NMS, and in what order, depends
 * on it.
 */
struct kv {
	float v;
	int i;
};

static int desc(const struct kv *a, const struct kv *b)
{
	return (isnan(a->v) && !isnan(b->v)) || a->v > b->v;
}

static void kv_swap(struct kv *a, struct kv *b)
{
	struct kv t = *a;
	*a = *b;
	*b = t;
}

static void push_heap(struct kv *f, ptrdiff_t hole, ptrdiff_t top, struct kv val)
{
	ptrdiff_t parent = (hole - 1) / 2;
	while (hole > top && desc(&f[parent], &val)) {
		f[hole] = f[parent];
		hole = parent;
		parent = (hole - 1) / 2;
	}
	f[hole] = val;
}

static void adjust_heap(struct kv *f, ptrdiff_t hole, ptrdiff_t len, struct kv val)
{
	ptrdiff_t top = hole, child = hole;
	while (child < (len - 1) / 2) {
		child = 2 * (child + 1);
		if (desc(&f[child], &f[child - 1]))
			child--;
		f[hole] = f[child];
		hole = child;
	}
	if ((len & 1) == 0 && child == (len - 2) / 2) {
		child = 2 * (child + 1);
		f[hole] = f[child - 1];
		hole = child - 1;
	}
	push_heap(f, hole, top, val);
}

static void heap_sort(struct kv *f, struct kv *l)
{
	ptrdiff_t len = l - f;
	if (len >= 2)
		for (ptrdiff_t parent = (len - 2) / 2;; parent--) {
			adjust_heap(f, parent, len, f[parent]);
			if (parent == 0)
				break;
		}
	while (l - f > 1) {
		--l;
		struct kv val = *l;
		*l = *f;
		adjust_heap(f, 0, l - f, val);
	}
}

static void move_median_to_first(struct kv *r, struct kv *a, struct kv *b, struct kv *c)
{
	if (desc(a, b)) {
		if (desc(b, c))
			kv_swap(r, b);
		else if (desc(a, c))
			kv_swap(r, c);
		else
			kv_swap(r, a);
	} else if (desc(a, c))
		kv_swap(r, a);
	else if (desc(b, c))
		kv_swap(r, c);
	else
		kv_swap(r, b);
}

static struct kv *partition_pivot(struct kv *f, struct kv *l)
{
	struct kv *mid = f + (l - f) / 2, *pivot = f;
	move_median_to_first(f, f + 1, mid, l - 1);
	f++;
	for (;;) {
		while (desc(f, pivot))
			f++;
		l--;
		while (desc(pivot, l))
			l--;
		if (!(f < l))
			return f;
		kv_swap(f, l);
		f++;
	}
}

enum { SORT_THRESHOLD = 16 };

static void introsort_loop(struct kv *f, struct kv *l, int depth)
{
	while (l - f > SORT_THRESHOLD) {
		if (depth == 0) {
			heap_sort(f, l);
			return;
		}
		depth--;
		struct kv *cut = partition_pivot(f, l);
		introsort_loop(cut, l, depth);
		l = cut;
	}
}

static void linear_insert(struct kv *l)
{
	struct kv val = *l, *next = l - 1;
	while (desc(&val, next)) {
		*l = *next;
		l = next;
		next--;
	}
	*l = val;
}

static void insertion_sort(struct kv *f, struct kv *l)
{
	if (f == l)
		return;
	for (struct kv *i = f + 1; i != l; i++) {
		if (desc(i, f)) {
			struct kv val = *i;
			memmove(f + 1, f, (size_t)(i - f) * sizeof(*f));
			*f = val;
		} else
			linear_insert(i);
	}
}

static void torch_argsort_desc(struct kv *f, size_t n)
{
	if (n == 0)
		return;
	int lg = 0;
	for (size_t m = n; m > 1; m >>= 1)
		lg++;
	struct kv *l = f + n;
	introsort_loop(f, l, 2 * lg);
	if (l - f > SORT_THRESHOLD) {
		insertion_sort(f, f + SORT_THRESHOLD);
		for (struct kv *i = f + SORT_THRESHOLD; i != l; i++)
			linear_insert(i);
	} else
		insertion_sort(f, l);
}

/* One (box, class) row entering NMS. */
struct row {
	float score;
	int anchor, cls;
};

static void xyxy(const float *pred, int nanchors, int a, float b[4])
{
	float cx = pred[a], cy = pred[nanchors + a];
	float hw = pred[2 * (size_t)nanchors + a] / 2, hh = pred[3 * (size_t)nanchors + a] / 2;
	b[0] = cx - hw;
	b[1] = cy - hh;
	b[2] = cx + hw;
	b[3] = cy + hh;
}

static int grow(void **p, size_t n, size_t size, struct mlf_error *err)
{
	if (n && size > SIZE_MAX / n)
		return mlf_fail(err, MLF_EX_DATAERR, "NMS: %zu boxes are too many", n);
	void *q = realloc(*p, n ? n * size : 1);
	if (!q)
		return mlf_fail(err, MLF_EX_SOFTWARE, "NMS: out of memory for %zu boxes", n);
	*p = q;
	return 0;
}

/*
 * torchvision's CPU kernel orders by scores.sort(stable=true, descending):
 * equal scores keep their row order.  A total order (score, then row) is
 * that stable order, whatever algorithm qsort uses.
 */
static int by_score_then_row(const void *pa, const void *pb)
{
	const struct kv *a = pa, *b = pb;
	if (desc(a, b))
		return -1;
	if (desc(b, a))
		return 1;
	return (a->i > b->i) - (a->i < b->i);
}

/* std::max / std::min as torchvision's kernel calls them (NaN propagates
 * only as the first argument).  A box with a NaN coordinate has a NaN area,
 * so its IoU is NaN either way: it neither suppresses nor is suppressed. */
static float cxx_max(float a, float b)
{
	return a < b ? b : a;
}

static float cxx_min(float a, float b)
{
	return b < a ? b : a;
}

/*
 * Greedy suppression as torchvision's nms_kernel_impl (CPU), over boxes
 * already in score order: keep the first box not yet suppressed, suppress
 * every later one whose IoU with it is > thr.  The IoU is float, compared
 * with the threshold in double as the kernel does (its threshold is the
 * double Python passed), so a NaN IoU (0/0) never suppresses.  Stops once
 * max_keep boxes are kept: Ultralytics only keeps the first max_det.
 */
static size_t greedy(const float (*box)[4], const float *area, size_t n, double thr,
		     unsigned char *suppressed, size_t max_keep, int *keep)
{
	size_t nkeep = 0;
	memset(suppressed, 0, n);
	for (size_t i = 0; i < n; i++) {
		if (suppressed[i])
			continue;
		keep[nkeep++] = (int)i;
		if (nkeep == max_keep)
			break;
		const float *bi = box[i];
		for (size_t j = i + 1; j < n; j++) {
			if (suppressed[j])
				continue;
			const float *bj = box[j];
			float xx1 = cxx_max(bi[0], bj[0]), yy1 = cxx_max(bi[1], bj[1]);
			float xx2 = cxx_min(bi[2], bj[2]), yy2 = cxx_min(bi[3], bj[3]);
			float w = cxx_max(0.0f, xx2 - xx1), h = cxx_max(0.0f, yy2 - yy1);
			float inter = w * h;
			float ovr = inter / (area[i] + area[j] - inter);
			if ((double)ovr > thr)
				suppressed[j] = 1;
		}
	}
	return nkeep;
}

int mlf_yolo_nms(const float *pred, int nc, int nanchors, const struct mlf_nms_options *o,
		 struct mlf_detections *out, struct mlf_error *err)
{
	if (!pred || !o || !out)
		return mlf_fail(err, MLF_EX_USAGE, "NMS: missing prediction, options or output");
	if (nc < 1 || nanchors < 0)
		return mlf_fail(err, MLF_EX_USAGE, "NMS: bad shape: %d classes, %d anchors", nc, nanchors);
	if (!(o->conf >= 0 && o->conf <= 1))
		return mlf_fail(err, MLF_EX_USAGE, "NMS: confidence threshold %g is not in [0, 1]",
				(double)o->conf);
	if (!(o->iou >= 0 && o->iou <= 1))
		return mlf_fail(err, MLF_EX_USAGE, "NMS: IoU threshold %g is not in [0, 1]", o->iou);
	if (o->max_det < 0 || o->max_nms < 0)
		return mlf_fail(err, MLF_EX_USAGE, "NMS: max_det %d and max_nms %d must not be negative",
				o->max_det, o->max_nms);
	out->n = 0;
	int multi = o->multi_label && nc > 1;
	const float *cls = pred + 4 * (size_t)nanchors;

	/* Candidates: the best class score beats conf (a NaN score excludes the box). */
	struct row *rows = NULL;
	size_t nrows = 0, cap = 0;
	int rc = -1;
	struct kv *kv = NULL;
	struct row *sorted = NULL;
	float (*box)[4] = NULL, *area = NULL;
	unsigned char *suppressed = NULL;
	int *keep = NULL;
	for (int a = 0; a < nanchors; a++) {
		float best = cls[a];
		int j = 0, nan = isnan(best);
		for (int c = 1; c < nc && !nan; c++) {
			float s = cls[(size_t)c * nanchors + a];
			if (isnan(s))
				nan = 1;
			else if (s > best) {
				best = s;
				j = c;
			}
		}
		if (nan || !(best > o->conf))
			continue;
		int want = multi ? nc : 1;
		if (nrows + (size_t)want > cap) {
			cap = cap ? 2 * cap : 1024;
			if (cap < nrows + (size_t)want)
				cap = nrows + (size_t)want;
			if (grow((void **)&rows, cap, sizeof(*rows), err) < 0)
				goto out;
		}
		if (!multi) {
			rows[nrows++] = (struct row){ best, a, j };
			continue;
		}
		for (int c = 0; c < nc; c++) {
			float s = cls[(size_t)c * nanchors + a];
			if (s > o->conf)
				rows[nrows++] = (struct row){ s, a, c };
		}
	}
	if (nrows == 0 || o->max_det == 0) {
		rc = 0;
		goto out;
	}

	/*
	 * More than max_nms: Ultralytics keeps the best with torch's unstable
	 * argsort and reorders the rows by it, so ties there (and at the cut)
	 * go as the introsort leaves them; the stable sort below keeps that.
	 */
	if (grow((void **)&kv, nrows, sizeof(*kv), err) < 0)
		goto out;
	if (nrows > (size_t)o->max_nms) {
		for (size_t k = 0; k < nrows; k++)
			kv[k] = (struct kv){ rows[k].score, (int)k };
		torch_argsort_desc(kv, nrows);
		size_t m = (size_t)o->max_nms;
		struct row *kept = NULL;
		if (grow((void **)&kept, m, sizeof(*kept), err) < 0)
			goto out;
		for (size_t k = 0; k < m; k++)
			kept[k] = rows[kv[k].i];
		free(rows);
		rows = kept;
		nrows = m;
		if (nrows == 0) {
			rc = 0;
			goto out;
		}
	}

	/* torchvision's order: by score, equal scores in row order. */
	for (size_t k = 0; k < nrows; k++)
		kv[k] = (struct kv){ rows[k].score, (int)k };
	qsort(kv, nrows, sizeof(*kv), by_score_then_row);
	if (grow((void **)&box, nrows, sizeof(*box), err) < 0 ||
	    grow((void **)&area, nrows, sizeof(*area), err) < 0 ||
	    grow((void **)&suppressed, nrows, 1, err) < 0 ||
	    grow((void **)&sorted, nrows, sizeof(*sorted), err) < 0)
		goto out;
	for (size_t k = 0; k < nrows; k++) {
		const struct row *r = &rows[kv[k].i];
		float off = o->agnostic ? 0.0f : (float)r->cls * (float)MLF_NMS_MAX_WH;
		sorted[k] = *r;
		xyxy(pred, nanchors, r->anchor, box[k]);
		for (int d = 0; d < 4; d++)
			box[k][d] += off;
		area[k] = (box[k][2] - box[k][0]) * (box[k][3] - box[k][1]);
	}
	size_t max_keep = nrows < (size_t)o->max_det ? nrows : (size_t)o->max_det;
	if (grow((void **)&keep, max_keep, sizeof(*keep), err) < 0)
		goto out;
	size_t nkeep = greedy((const float (*)[4])box, area, nrows, o->iou, suppressed, max_keep, keep);

	if (out->cap < nkeep) {
		if (grow((void **)&out->det, nkeep, sizeof(*out->det), err) < 0)
			goto out;
		out->cap = nkeep;
	}
	for (size_t k = 0; k < nkeep; k++) {
		const struct row *r = &sorted[keep[k]];
		struct mlf_detection *d = &out->det[k];
		float b[4];
		xyxy(pred, nanchors, r->anchor, b);
		*d = (struct mlf_detection){ b[0], b[1], b[2], b[3], r->score, r->cls, r->anchor };
	}
	out->n = nkeep;
	rc = 0;
out:
	free(rows);
	free(kv);
	free(sorted);
	free(box);
	free(area);
	free(suppressed);
	free(keep);
	return rc;
}

int mlf_letterbox_params_rect(int w0, int h0, int target_w, int target_h, int stride, int auto_pad,
			      int scaleup, struct mlf_letterbox *lb)
{
	if (!lb || w0 < 1 || h0 < 1 || target_w < 1 || target_h < 1 || (auto_pad && stride < 1))
		return -1;
	double r = fmin((double)target_h / h0, (double)target_w / w0);
	if (!scaleup && r > 1.0)
		r = 1.0;
	/* Python's round() is round-half-even, as rint() in the default mode. */
	int nw = (int)fmax(rint(w0 * r), 1), nh = (int)fmax(rint(h0 * r), 1);
	int dw = target_w - nw, dh = target_h - nh;
	if (auto_pad) {
		dw = ((dw % stride) + stride) % stride;
		dh = ((dh % stride) + stride) % stride;
	}
	double hw = dw / 2.0, hh = dh / 2.0;
	memset(lb, 0, sizeof(*lb));
	lb->w0 = w0;
	lb->h0 = h0;
	lb->ratio = r;
	lb->new_w = nw;
	lb->new_h = nh;
	lb->left = (int)rint(hw - 0.1);
	lb->right = (int)rint(hw + 0.1);
	lb->top = (int)rint(hh - 0.1);
	lb->bottom = (int)rint(hh + 0.1);
	lb->out_w = nw + lb->left + lb->right;
	lb->out_h = nh + lb->top + lb->bottom;
	lb->gain_x = (double)nw / w0;
	lb->gain_y = (double)nh / h0;
	return 0;
}

int mlf_letterbox_params(int w0, int h0, int target, int stride, int auto_pad, int scaleup,
			 struct mlf_letterbox *lb)
{
	return mlf_letterbox_params_rect(w0, h0, target, target, stride, auto_pad, scaleup, lb);
}

static float clampf(float v, float hi)
{
	/* torch.clamp_: NaN stays NaN */
	return v < 0 ? 0 : v > hi ? hi : v;
}

void mlf_scale_boxes_back(const struct mlf_letterbox *lb, float *boxes, size_t n)
{
	/* PyTorch divides a float32 tensor by a Python float in float32. */
	float px = (float)lb->left, py = (float)lb->top;
	float gx = (float)lb->gain_x, gy = (float)lb->gain_y;
	float w = (float)lb->w0, h = (float)lb->h0;
	for (size_t k = 0; k < n; k++) {
		float *b = boxes + 4 * k;
		b[0] = clampf((b[0] - px) / gx, w);
		b[1] = clampf((b[1] - py) / gy, h);
		b[2] = clampf((b[2] - px) / gx, w);
		b[3] = clampf((b[3] - py) / gy, h);
	}
}
