/*
 * The augmentation settings of ultralytics/cfg/default.yaml (8.4.190) and
 * what this implementation accepts of them.  copy_paste is accepted at any
 * probability because CopyPaste only acts on polygon labels, which the
 * dataset reduces to boxes: for box labels it is a no-op in Ultralytics too.
 */
#include <math.h>

#include "mlf/data.h"

void mlf_augment_hyp_defaults(struct mlf_augment_hyp *h)
{
	*h = (struct mlf_augment_hyp){
		.hsv_h = 0.015, .hsv_s = 0.7, .hsv_v = 0.4,
		.degrees = 0.0, .translate = 0.1, .scale = 0.5, .shear = 0.0, .perspective = 0.0,
		.flipud = 0.0, .fliplr = 0.5,
		.mosaic = 1.0, .mixup = 0.0, .cutmix = 0.0, .copy_paste = 0.0,
	};
}

static int prob(double p)
{
	return isfinite(p) && p >= 0 && p <= 1;
}

int mlf_augment_hyp_check(const struct mlf_augment_hyp *h, struct mlf_error *err)
{
	const struct { const char *name; double v; int is_prob; } keys[] = {
		{ "hsv_h", h->hsv_h, 0 }, { "hsv_s", h->hsv_s, 0 }, { "hsv_v", h->hsv_v, 0 },
		{ "degrees", h->degrees, 0 }, { "translate", h->translate, 0 }, { "scale", h->scale, 0 },
		{ "shear", h->shear, 0 }, { "flipud", h->flipud, 1 }, { "fliplr", h->fliplr, 1 },
		{ "mosaic", h->mosaic, 1 }, { "copy_paste", h->copy_paste, 1 },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].is_prob ? !prob(keys[i].v) : !(isfinite(keys[i].v) && keys[i].v >= 0))
			return mlf_fail(err, MLF_EX_USAGE, "augmentation: %s = %g is out of range (%s)", keys[i].name,
					keys[i].v, keys[i].is_prob ? "a probability, 0..1" : "0 or more");
	}
	if (h->translate > 0.5)
		return mlf_fail(err, MLF_EX_USAGE, "augmentation: translate = %g is out of range (0..0.5)",
				h->translate);
	if (h->perspective != 0)
		return mlf_fail(err, MLF_EX_USAGE, "augmentation: perspective = %g is not supported (only the "
				"affine warp is implemented); set it to 0", h->perspective);
	const struct { const char *name; double v; } off[] = {
		{ "mixup", h->mixup }, { "cutmix", h->cutmix },
	};
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		if (off[i].v != 0)
			return mlf_fail(err, MLF_EX_USAGE, "augmentation: %s = %g is not supported yet; set it to 0 "
					"(Ultralytics' default)", off[i].name, off[i].v);
	return 0;
}
