/*
 * load_image (ultralytics/data/base.py, 8.4.190): decode, then resize so the
 * long side is imgsz with cv2.resize(INTER_LINEAR) in training and
 * validation alike (older releases used INTER_AREA to shrink for
 * validation), and set_rectangle's batch shapes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/data.h"
#include "mlf/yolo.h"

void mlf_rgb_image_release(struct mlf_rgb_image *im)
{
	if (!im)
		return;
	free(im->px);
	memset(im, 0, sizeof(*im));
}

void mlf_resized_size(int w0, int h0, int imgsz, int *w, int *h)
{
	double r = (double)imgsz / (w0 > h0 ? w0 : h0);
	if (r == 1) {
		*w = w0;
		*h = h0;
		return;
	}
	double cw = ceil(w0 * r), ch = ceil(h0 * r);
	*w = cw < imgsz ? (int)cw : imgsz;
	*h = ch < imgsz ? (int)ch : imgsz;
}

/*
 * cv::imdecode's ExifTransform: 2 flip left-right, 3 both, 4 up-down,
 * 5 transpose, 6 transpose then flip left-right (90 degrees clockwise),
 * 7 transpose then both, 8 transpose then up-down.  out(x, y) = in(sx, sy).
 */
static unsigned char *orient(const unsigned char *in, int w, int h, int o, int *ow, int *oh)
{
	int t = o >= 5;
	*ow = t ? h : w;
	*oh = t ? w : h;
	unsigned char *out = malloc((size_t)w * h * 3);
	if (!out)
		return NULL;
	for (int y = 0; y < *oh; y++)
		for (int x = 0; x < *ow; x++) {
			int sx, sy;
			switch (o) {
			case 2: sx = w - 1 - x, sy = y; break;
			case 3: sx = w - 1 - x, sy = h - 1 - y; break;
			case 4: sx = x, sy = h - 1 - y; break;
			case 5: sx = y, sy = x; break;
			case 6: sx = y, sy = h - 1 - x; break;
			case 7: sx = w - 1 - y, sy = h - 1 - x; break;
			case 8: sx = w - 1 - y, sy = x; break;
			default: sx = x, sy = y; break;
			}
			memcpy(out + ((size_t)y * *ow + x) * 3, in + ((size_t)sy * w + sx) * 3, 3);
		}
	return out;
}

int mlf_dataset_load_image(const struct mlf_dataset *ds, size_t i, int imgsz, struct mlf_rgb_image *out,
			   struct mlf_error *err)
{
	memset(out, 0, sizeof(*out));
	if (i >= ds->n)
		return mlf_fail(err, MLF_EX_SOFTWARE, "dataset: image %zu of %zu asked for", i, ds->n);
	const struct mlf_dataset_image *di = &ds->images[i];
	unsigned char *px = NULL;
	int w0, h0;
	if (mlf_image_load_rgb(di->path, &px, &w0, &h0, err))
		return -1;
	int sw = di->orientation >= 5 ? di->h : di->w, sh = di->orientation >= 5 ? di->w : di->h;
	if (w0 != sw || h0 != sh) {
		free(px);
		return mlf_fail(err, MLF_EX_DATAERR, "'%s' decodes to %dx%d but its header said %dx%d when the "
				"dataset was scanned; was the file replaced?", di->path, w0, h0, sw, sh);
	}
	if (di->orientation > 1) {
		unsigned char *up = orient(px, w0, h0, di->orientation, &w0, &h0);
		free(px);
		if (!up)
			return mlf_fail(err, MLF_EX_SOFTWARE, "out of memory turning '%s' upright", di->path);
		px = up;
	}
	int w, h;
	mlf_resized_size(w0, h0, imgsz, &w, &h);
	if (w == w0 && h == h0) {
		*out = (struct mlf_rgb_image){ px, w, h };
		return 0;
	}
	unsigned char *rs = malloc((size_t)w * h * 3);
	if (!rs) {
		free(px);
		return mlf_fail(err, MLF_EX_SOFTWARE, "out of memory resizing '%s' to %dx%d", di->path, w, h);
	}
	/* a letterbox without padding is cv2.resize alone */
	struct mlf_letterbox lb = { .w0 = w0, .h0 = h0, .new_w = w, .new_h = h, .out_w = w, .out_h = h };
	int rc = mlf_letterbox_image(px, &lb, rs, err);
	free(px);
	if (rc) {
		free(rs);
		return mlf_error_prefix(err, "%s", di->path);
	}
	*out = (struct mlf_rgb_image){ rs, w, h };
	return 0;
}

struct ar {
	double r;
	size_t i;
};

static int ar_cmp(const void *a, const void *b)
{
	const struct ar *x = a, *y = b;
	if (x->r != y->r)
		return x->r < y->r ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

void mlf_rect_shapes(const int *w, const int *h, size_t n, int batch, int imgsz, int stride, double pad,
		     size_t *order, int (*shapes)[2])
{
	struct ar *a = mlf_xmalloc(n * sizeof(*a));
	for (size_t i = 0; i < n; i++)
		a[i] = (struct ar){ (double)h[i] / w[i], i };
	qsort(a, n, sizeof(*a), ar_cmp);
	for (size_t i = 0; i < n; i++)
		order[i] = a[i].i;
	size_t nb = (n + (size_t)batch - 1) / (size_t)batch;
	for (size_t b = 0; b < nb; b++) {
		size_t lo = b * (size_t)batch, hi = lo + (size_t)batch < n ? lo + (size_t)batch : n;
		double mini = a[lo].r, maxi = a[hi - 1].r;
		double sh = 1, sw = 1;
		if (maxi < 1)
			sh = maxi;
		else if (mini > 1)
			sw = 1 / mini;
		/* np.ceil(np.array(shapes) * imgsz / stride + pad).astype(int) * stride */
		shapes[b][0] = (int)ceil(sh * imgsz / stride + pad) * stride;
		shapes[b][1] = (int)ceil(sw * imgsz / stride + pad) * stride;
	}
	free(a);
}
