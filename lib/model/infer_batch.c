/*
 * Inference pieces that work on prepared pixels or batches: the input
 * tensor, the eval forward and NMS per image, boxes back to the image.
 * The validator builds its own batches from these.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "model_internal.h"

void mlf_infer_options_default(struct mlf_infer_options *o)
{
	memset(o, 0, sizeof(*o));
	o->imgsz = 640;
	o->rect = 1;
	mlf_nms_options_predict(&o->nms);
}

int mlf_yolo_infer_geometry(const struct mlf_yolo_model *m, int w, int h,
			    const struct mlf_infer_options *o, struct mlf_letterbox *lb,
			    struct mlf_error *err)
{
	/* AutoBackend: stride = max(int(model.stride.max()), 32); check_imgsz
	 * rounds imgsz up to a multiple of it (at least one stride). */
	int stride = mlf_yolo_model_max_stride(m);
	if (stride < 32)
		stride = 32;
	if (o->imgsz < 1 || o->imgsz > MLF_NMS_MAX_WH)
		return mlf_fail(err, MLF_EX_USAGE, "inference: image size %d out of range (1 to %d)", o->imgsz,
				MLF_NMS_MAX_WH);
	int imgsz = (o->imgsz + stride - 1) / stride * stride;
	if (w < 1 || h < 1 || mlf_letterbox_params(w, h, imgsz, stride, o->rect, 1, lb) < 0)
		return mlf_fail(err, MLF_EX_USAGE, "inference: bad image size %dx%d", w, h);
	return 0;
}

void mlf_yolo_hwc_to_chw(const unsigned char *hwc, int w, int h, float *chw)
{
	size_t plane = (size_t)w * (size_t)h;
	for (size_t i = 0; i < plane; i++)
		for (size_t c = 0; c < 3; c++)
			chw[c * plane + i] = (float)hwc[3 * i + c] / 255.0f; /* im.float() / 255 */
}

mlf_th *mlf_yolo_batch_tensor(const unsigned char *hwc, int batch, int w, int h, int device)
{
	size_t per = (size_t)w * (size_t)h * 3;
	float *buf = mlf_xmalloc(per * (size_t)batch * sizeof(*buf));
	for (int b = 0; b < batch; b++)
		mlf_yolo_hwc_to_chw(hwc + per * (size_t)b, w, h, buf + per * (size_t)b);
	int64_t shape[4] = { batch, 3, h, w };
	mlf_th *t = mlf_th_from_data(buf, MLF_DTYPE_F32, 4, shape, device);
	free(buf);
	return t;
}

int mlf_yolo_nms_batch(const mlf_th *decoded, const struct mlf_nms_options *o,
		       struct mlf_detections *out, size_t nout, struct mlf_error *err)
{
	int64_t s[3];
	if (mlf_th_shape(decoded, s, 3) != 3 || s[1] < 5 || (size_t)s[0] > nout)
		return mlf_fail(err, MLF_EX_USAGE, "NMS: prediction %s is not [B <= %zu, 4 + nc, anchors]",
				mlf_th_describe(decoded), nout);
	if (s[2] > INT32_MAX / 2 || s[1] > INT32_MAX / 2)
		return mlf_fail(err, MLF_EX_DATAERR, "NMS: prediction %s too large", mlf_th_describe(decoded));
	size_t per = (size_t)s[1] * (size_t)s[2];
	float *buf = malloc(per * (size_t)s[0] * sizeof(*buf));
	if (!buf)
		return mlf_fail(err, MLF_EX_SOFTWARE, "NMS: out of memory for %s", mlf_th_describe(decoded));
	int rc = 0;
	if (mlf_th_copy_out(decoded, MLF_DTYPE_F32, buf, per * (size_t)s[0] * sizeof(*buf)) < 0)
		rc = mlf_th_fail(err, "NMS: reading the prediction");
	for (int64_t b = 0; b < s[0] && !rc; b++)
		rc = mlf_yolo_nms(buf + per * (size_t)b, (int)s[1] - 4, (int)s[2], o, &out[b], err);
	free(buf);
	return rc;
}

void mlf_yolo_detections_to_image(const struct mlf_letterbox *lb, struct mlf_detections *d)
{
	/* scale_boxes(img1_shape, boxes, img0_shape) without ratio_pad, as predict
	 * calls it: gain and padding recomputed from the two shapes. */
	struct mlf_letterbox g = *lb;
	double gain = fmin((double)lb->out_h / lb->h0, (double)lb->out_w / lb->w0);
	double nh = fmax(rint(lb->h0 * gain), 1), nw = fmax(rint(lb->w0 * gain), 1);
	g.gain_y = nh / lb->h0;
	g.gain_x = nw / lb->w0;
	g.left = (int)rint((lb->out_w - nw) / 2 - 0.1);
	g.top = (int)rint((lb->out_h - nh) / 2 - 0.1);
	for (size_t i = 0; i < d->n; i++) {
		struct mlf_detection *x = &d->det[i];
		float b[4] = { x->x1, x->y1, x->x2, x->y2 };
		mlf_scale_boxes_back(&g, b, 1);
		x->x1 = b[0], x->y1 = b[1], x->x2 = b[2], x->y2 = b[3];
	}
}

int mlf_yolo_infer_letterboxed(struct mlf_yolo_model *m, const unsigned char *lb_rgb,
			       const struct mlf_letterbox *lb, const struct mlf_nms_options *nms,
			       struct mlf_detections *out, struct mlf_error *err)
{
	int training = m->training, grad = mlf_th_grad_enabled(0);
	size_t mark = mlf_th_scope_open();
	struct mlf_yolo_output o;
	int rc = 0;
	mlf_th *x = mlf_yolo_batch_tensor(lb_rgb, 1, lb->out_w, lb->out_h, m->device);
	memset(&o, 0, sizeof(o));
	m->training = 0;
	if (!x)
		rc = mlf_th_fail(err, "inference: making the input tensor");
	if (!rc)
		rc = mlf_yolo_forward(m, x, MLF_YOLO_OUT_DECODED, &o, err);
	if (!rc)
		rc = mlf_yolo_nms_batch(o.decoded, nms, out, 1, err);
	if (!rc)
		mlf_yolo_detections_to_image(lb, out);
	m->training = training;
	mlf_yolo_output_release(&o);
	mlf_th_scope_close(mark);
	mlf_th_grad_enabled(grad);
	return rc;
}
