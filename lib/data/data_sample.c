/*
 * One sample as YOLODataset.__getitem__ makes it in Ultralytics 8.4.190.
 *
 * Training (v8_transforms): Mosaic(p) -> RandomPerspective(size imgsz) ->
 * [MixUp, CutMix at p 0; Albumentations only when that package is
 * installed, it is not in Ultralytics' requirements] -> RandomHSV ->
 * RandomFlip(vertical) -> RandomFlip(horizontal) -> Format.  The random
 * draws, in order, from the sample's own stream: mosaic u, its 3 partners,
 * yc then xc; the affine's 8 (see mlf_affine_draw); 3 HSV gains; flip-ud
 * u; flip-lr u.  Every draw is made whatever the probabilities, so the
 * stream stays aligned when a setting changes.  Without mosaic (p 0 after
 * close_mosaic) the loaded image goes straight into RandomPerspective,
 * whose C moves its centre to the origin and T to about the centre of the
 * imgsz square (8.4.190 has no LetterBox before it any more; for an odd
 * padding that is half a pixel from where LetterBox put the image).
 *
 * Mosaic partners: Ultralytics draws them (random.choices, with
 * replacement) from a buffer of the images its worker process loaded last,
 * at most min(n, 8 * batch, 1000) - 1 of them, the sample's own image
 * included; with cache=ram from the whole dataset.  A buffer per worker
 * process depends on the worker count, so here the buffer is the images of
 * the samples just before this one in epoch order (the previous epoch's
 * tail at the start of an epoch), which is what one worker sees.
 *
 * Validation: load_image, LetterBox(new_shape = the batch's shape,
 * scaleup=False, centred, 114), Format.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "mlf/yolo.h"

void data_scratch_release(struct data_scratch *sc)
{
	mlf_rgb_image_release(&sc->canvas);
	mlf_rgb_image_release(&sc->out);
	mlf_boxes_release(&sc->boxes);
}

static int ensure(struct mlf_rgb_image *im, int w, int h, struct mlf_error *err)
{
	if (im->px && (size_t)im->w * im->h >= (size_t)w * h) {
		im->w = w;
		im->h = h;
		return 0;
	}
	free(im->px);
	im->px = malloc((size_t)w * h * 3);
	if (!im->px) {
		im->w = im->h = 0;
		return mlf_fail(err, MLF_EX_SOFTWARE, "out of memory for a %dx%d sample", w, h);
	}
	im->w = w;
	im->h = h;
	return 0;
}

/* Format: HWC RGB to CHW (Ultralytics flips BGR to RGB here; ours is RGB
 * already), mirrored on the way when the flips fired, and the boxes xywh
 * in pixels to normalised. */
static void format(const struct mlf_rgb_image *im, int flip_lr, int flip_ud, struct mlf_boxes *xywh,
		   unsigned char *chw)
{
	size_t plane = (size_t)im->w * im->h;
	unsigned char *r = chw, *g = chw + plane, *b = chw + 2 * plane;
	for (int y = 0; y < im->h; y++) {
		const unsigned char *row = im->px + (size_t)(flip_ud ? im->h - 1 - y : y) * im->w * 3;
		size_t o = (size_t)y * im->w;
		if (flip_lr) {
			const unsigned char *p = row + (size_t)(im->w - 1) * 3;
			for (int x = 0; x < im->w; x++, p -= 3) {
				r[o + x] = p[0];
				g[o + x] = p[1];
				b[o + x] = p[2];
			}
		} else {
			const unsigned char *p = row;
			for (int x = 0; x < im->w; x++, p += 3) {
				r[o + x] = p[0];
				g[o + x] = p[1];
				b[o + x] = p[2];
			}
		}
	}
	float w = (float)im->w, h = (float)im->h;
	for (size_t i = 0; i < xywh->n; i++) {
		float *v = xywh->box + 4 * i;
		/* RandomFlip on xywh pixels (vertical first), then Format's normalisation */
		if (flip_ud)
			v[1] = h - v[1];
		if (flip_lr)
			v[0] = w - v[0];
		v[0] /= w;
		v[2] /= w;
		v[1] /= h;
		v[3] /= h;
	}
}

static void fill_info(const struct mlf_dataset_image *di, const struct mlf_rgb_image *im,
		      struct data_sample_info *info)
{
	info->ori[0] = di->h;
	info->ori[1] = di->w;
	info->resized[0] = im->h;
	info->resized[1] = im->w;
	info->ratio_pad[0] = (double)im->h / di->h;
	info->ratio_pad[1] = (double)im->w / di->w;
	info->ratio_pad[2] = info->ratio_pad[3] = 0;
}

int data_train_sample(const struct mlf_dataset *ds, struct data_cache *cache, const struct mlf_augment_hyp *h,
		      int imgsz, double mosaic, uint64_t seed, int epoch, size_t k, size_t index,
		      const struct data_partners *partners, struct data_scratch *sc, unsigned char *chw,
		      struct data_sample_info *info, struct mlf_error *err)
{
	struct mlf_rng rng;
	mlf_rng_seed(&rng, seed, (uint64_t)epoch, k);
	const struct mlf_rgb_image *im[4] = { NULL, NULL, NULL, NULL };
	size_t idx[4] = { index, index, index, index };
	int held = 0, rc = 0;

	if (data_cache_get(cache, index, &im[0], err))
		return -1;
	held = 1;
	fill_info(&ds->images[index], im[0], info);

	/* Mosaic.__call__: skipped when uniform(0, 1) > p */
	int do_mosaic = !(mlf_rng_uniform(&rng, 0, 1) > mosaic);
	for (int i = 1; i < 4; i++) {
		size_t pick = partners->uniform ? (size_t)mlf_rng_below(&rng, ds->n)
						: partners->image(partners->ctx,
								  (size_t)mlf_rng_below(&rng, partners->n));
		idx[i] = pick;
	}
	int border = -imgsz / 2 - (imgsz % 2);   /* Python's -imgsz // 2 */
	int yc = (int)mlf_rng_uniform(&rng, -border, 2.0 * imgsz + border);
	int xc = (int)mlf_rng_uniform(&rng, -border, 2.0 * imgsz + border);

	const struct mlf_rgb_image *in = im[0];
	if (do_mosaic) {
		for (int i = 1; i < 4 && !rc; i++) {
			rc = data_cache_get(cache, idx[i], &im[i], err);
			if (!rc)
				held = i + 1;
		}
		if (!rc)
			rc = ensure(&sc->canvas, 2 * imgsz, 2 * imgsz, err);
		if (!rc) {
			const struct mlf_object *objs[4];
			size_t nobj[4];
			for (int i = 0; i < 4; i++) {
				objs[i] = ds->objects + ds->images[idx[i]].first;
				nobj[i] = ds->images[idx[i]].n;
			}
			mlf_mosaic4(im, objs, nobj, imgsz, xc, yc, &sc->canvas, &sc->boxes);
			in = &sc->canvas;
		}
	} else {
		const struct mlf_dataset_image *di = &ds->images[index];
		mlf_boxes_clear(&sc->boxes);
		mlf_boxes_add_objects(&sc->boxes, ds->objects + di->first, di->n, im[0]->w, im[0]->h, 0, 0);
	}

	struct mlf_affine a;
	if (!rc) {
		mlf_affine_draw(&rng, h, in->w, in->h, imgsz, imgsz, &a);
		rc = ensure(&sc->out, imgsz, imgsz, err);
	}
	if (!rc) {
		mlf_warp_affine(in, a.M, 114, &sc->out);
		mlf_affine_boxes(&a, &sc->boxes);
	}
	for (int i = 0; i < held; i++)
		data_cache_put(cache, idx[i]);
	if (rc)
		return -1;

	double g[3] = { mlf_rng_uniform(&rng, -1, 1) * h->hsv_h, mlf_rng_uniform(&rng, -1, 1) * h->hsv_s,
			mlf_rng_uniform(&rng, -1, 1) * h->hsv_v };
	mlf_hsv_apply(&sc->out, g);
	mlf_boxes_to_xywh(&sc->boxes);
	int ud = mlf_rng_uniform(&rng, 0, 1) < h->flipud;
	int lr = mlf_rng_uniform(&rng, 0, 1) < h->fliplr;
	format(&sc->out, lr, ud, &sc->boxes, chw);
	return 0;
}

int data_val_sample(const struct mlf_dataset *ds, struct data_cache *cache, size_t index, int w, int h,
		    struct data_scratch *sc, unsigned char *chw, struct data_sample_info *info, struct mlf_error *err)
{
	const struct mlf_rgb_image *im;
	if (data_cache_get(cache, index, &im, err))
		return -1;
	const struct mlf_dataset_image *di = &ds->images[index];
	fill_info(di, im, info);
	struct mlf_letterbox lb;
	int rc = 0;
	if (mlf_letterbox_params_rect(im->w, im->h, w, h, 32, 0, 0, &lb) || lb.out_w != w || lb.out_h != h)
		rc = mlf_fail(err, MLF_EX_SOFTWARE, "'%s': letterbox of %dx%d into %dx%d does not fit", di->path,
			      im->w, im->h, w, h);
	if (!rc)
		rc = ensure(&sc->out, w, h, err);
	if (!rc)
		rc = mlf_letterbox_image(im->px, &lb, sc->out.px, err);
	if (!rc) {
		/* LetterBox._update_labels: xyxy, denormalize, scale by r, add the padding */
		float r = (float)lb.ratio, fw = (float)im->w, fh = (float)im->h;
		float left = (float)lb.left, top = (float)lb.top;
		const struct mlf_object *o = ds->objects + di->first;
		mlf_boxes_clear(&sc->boxes);
		for (size_t i = 0; i < di->n; i++) {
			float hw = o[i].w / 2, hh = o[i].h / 2;
			mlf_boxes_push(&sc->boxes, o[i].cls, (o[i].cx - hw) * fw * r + left,
				       (o[i].cy - hh) * fh * r + top, (o[i].cx + hw) * fw * r + left,
				       (o[i].cy + hh) * fh * r + top);
		}
		info->ratio_pad[0] *= lb.ratio;
		info->ratio_pad[1] *= lb.ratio;
		info->ratio_pad[2] = lb.left;
		info->ratio_pad[3] = lb.top;
		mlf_boxes_to_xywh(&sc->boxes);
		format(&sc->out, 0, 0, &sc->boxes, chw);
	}
	data_cache_put(cache, index);
	return rc;
}
