/*
 * model.predict() on one image: letterbox, forward, NMS, boxes back to the
 * image.  Kept apart from infer_batch.c because it is the only model code
 * that needs the pixel resize (lib/yolo/letterbox.c).
 */
#include <stdlib.h>

#include "model_internal.h"

int mlf_yolo_infer(struct mlf_yolo_model *m, const unsigned char *rgb, int w, int h,
		   const struct mlf_infer_options *o, struct mlf_detections *out,
		   struct mlf_error *err)
{
	struct mlf_letterbox lb;
	if (mlf_yolo_infer_geometry(m, w, h, o, &lb, err) < 0)
		return -1;
	unsigned char *pix = malloc((size_t)lb.out_w * (size_t)lb.out_h * 3);
	if (!pix)
		return mlf_fail(err, MLF_EX_SOFTWARE, "inference: out of memory for a %dx%d input",
				lb.out_w, lb.out_h);
	int rc = mlf_letterbox_image(rgb, &lb, pix, err);
	if (!rc)
		rc = mlf_yolo_infer_letterboxed(m, pix, &lb, &o->nms, out, err);
	free(pix);
	return rc;
}
