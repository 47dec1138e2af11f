/*
 * Mosaic's 4-image layout (ultralytics/data/augment.py Mosaic.get_params,
 * apply_image, _cat_labels; 8.4.190): image 0 ends at the centre (xc, yc)
 * from the top left, 1 starts there to the top right, 2 to the bottom
 * left, 3 to the bottom right, each cut where it leaves the 2s x 2s
 * canvas; boxes shifted by each placement, clipped to the canvas, empty
 * ones dropped.
 */
#include <string.h>

#include "mlf/data.h"

static int imax(int a, int b)
{
	return a > b ? a : b;
}

static int imin(int a, int b)
{
	return a < b ? a : b;
}

void mlf_mosaic4(const struct mlf_rgb_image *const im[4], const struct mlf_object *const objs[4],
		 const size_t nobj[4], int s, int xc, int yc, struct mlf_rgb_image *canvas,
		 struct mlf_boxes *out)
{
	int S = 2 * s;
	size_t cstep = (size_t)canvas->w * 3;
	memset(canvas->px, 114, cstep * (size_t)canvas->h);
	mlf_boxes_clear(out);
	for (int i = 0; i < 4; i++) {
		int w = im[i]->w, h = im[i]->h;
		int x1a, y1a, x2a, y2a, x1b, y1b, x2b, y2b;
		if (i == 0) {
			x1a = imax(xc - w, 0), y1a = imax(yc - h, 0), x2a = xc, y2a = yc;
			x1b = w - (x2a - x1a), y1b = h - (y2a - y1a), x2b = w, y2b = h;
		} else if (i == 1) {
			x1a = xc, y1a = imax(yc - h, 0), x2a = imin(xc + w, S), y2a = yc;
			x1b = 0, y1b = h - (y2a - y1a), x2b = imin(w, x2a - x1a), y2b = h;
		} else if (i == 2) {
			x1a = imax(xc - w, 0), y1a = yc, x2a = xc, y2a = imin(S, yc + h);
			x1b = w - (x2a - x1a), y1b = 0, x2b = w, y2b = imin(y2a - y1a, h);
		} else {
			x1a = xc, y1a = yc, x2a = imin(xc + w, S), y2a = imin(S, yc + h);
			x1b = 0, y1b = 0, x2b = imin(w, x2a - x1a), y2b = imin(y2a - y1a, h);
		}
		/* numpy slices: an empty or reversed range copies nothing */
		int cw = imin(x2a - x1a, x2b - x1b), ch = imin(y2a - y1a, y2b - y1b);
		for (int y = 0; y < ch && cw > 0; y++)
			memcpy(canvas->px + (size_t)(y1a + y) * cstep + (size_t)x1a * 3,
			       im[i]->px + ((size_t)(y1b + y) * w + (size_t)x1b) * 3, (size_t)cw * 3);
		mlf_boxes_add_objects(out, objs[i], nobj[i], w, h, (float)(x1a - x1b), (float)(y1a - y1b));
	}
	/* Instances.clip(2s, 2s) and remove_zero_area_boxes */
	size_t kept = 0;
	float fS = (float)S;
	for (size_t i = 0; i < out->n; i++) {
		float *v = out->box + 4 * i;
		for (int k = 0; k < 4; k++)
			v[k] = v[k] < 0 ? 0 : v[k] > fS ? fS : v[k];
		if ((v[2] - v[0]) * (v[3] - v[1]) > 0) {
			memmove(out->box + 4 * kept, v, 4 * sizeof(float));
			out->cls[kept++] = out->cls[i];
		}
	}
	out->n = kept;
}
