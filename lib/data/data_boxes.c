/*
 * Boxes of one sample in pixels, and the flips (RandomFlip), in float32 as
 * Ultralytics' Instances computes them.
 */
#include <stdlib.h>
#include <string.h>

#include "mlf/data.h"
#include "mlf/base.h"

void mlf_boxes_release(struct mlf_boxes *b)
{
	free(b->box);
	free(b->cls);
	memset(b, 0, sizeof(*b));
}

void mlf_boxes_clear(struct mlf_boxes *b)
{
	b->n = 0;
}

void mlf_boxes_push(struct mlf_boxes *b, int cls, float x1, float y1, float x2, float y2)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 32;
		b->box = mlf_xrealloc(b->box, b->cap * 4 * sizeof(float));
		b->cls = mlf_xrealloc(b->cls, b->cap * sizeof(int));
	}
	float *v = b->box + 4 * b->n;
	v[0] = x1;
	v[1] = y1;
	v[2] = x2;
	v[3] = y2;
	b->cls[b->n++] = cls;
}

void mlf_boxes_add_objects(struct mlf_boxes *b, const struct mlf_object *o, size_t n, int w, int h,
			   float padw, float padh)
{
	float fw = (float)w, fh = (float)h;
	for (size_t i = 0; i < n; i++) {
		/* xywh2xyxy, then Instances.denormalize, then add_padding */
		float hw = o[i].w / 2, hh = o[i].h / 2;
		float x1 = o[i].cx - hw, y1 = o[i].cy - hh, x2 = o[i].cx + hw, y2 = o[i].cy + hh;
		mlf_boxes_push(b, o[i].cls, x1 * fw + padw, y1 * fh + padh, x2 * fw + padw, y2 * fh + padh);
	}
}

void mlf_boxes_to_xywh(struct mlf_boxes *b)
{
	for (size_t i = 0; i < b->n; i++) {
		float *v = b->box + 4 * i;
		float x1 = v[0], y1 = v[1], x2 = v[2], y2 = v[3];
		v[0] = (x1 + x2) / 2;
		v[1] = (y1 + y2) / 2;
		v[2] = x2 - x1;
		v[3] = y2 - y1;
	}
}

void mlf_flip_lr(struct mlf_rgb_image *im, struct mlf_boxes *xywh)
{
	for (int y = 0; y < im->h; y++) {
		unsigned char *a = im->px + (size_t)y * im->w * 3, *z = a + (size_t)(im->w - 1) * 3;
		for (; a < z; a += 3, z -= 3) {
			unsigned char t[3];
			memcpy(t, a, 3);
			memcpy(a, z, 3);
			memcpy(z, t, 3);
		}
	}
	for (size_t i = 0; xywh && i < xywh->n; i++)
		xywh->box[4 * i] = (float)im->w - xywh->box[4 * i];
}

void mlf_flip_ud(struct mlf_rgb_image *im, struct mlf_boxes *xywh)
{
	size_t row = (size_t)im->w * 3;
	unsigned char *t = mlf_xmalloc(row ? row : 1);
	for (int y = 0; y < im->h / 2; y++) {
		unsigned char *a = im->px + (size_t)y * row, *z = im->px + (size_t)(im->h - 1 - y) * row;
		memcpy(t, a, row);
		memcpy(a, z, row);
		memcpy(z, t, row);
	}
	free(t);
	for (size_t i = 0; xywh && i < xywh->n; i++)
		xywh->box[4 * i + 1] = (float)im->h - xywh->box[4 * i + 1];
}
