/* Shared between lib/yolo_arch*.c; not part of the library's interface. */
#ifndef MLF_YOLO_ARCH_INTERNAL_H
#define MLF_YOLO_ARCH_INTERNAL_H

#include "mlf/yolo.h"

/* Whether parse_model passes the repeats to the module (C2f, C3k2, C2PSA)
 * instead of wrapping n copies in nn.Sequential. */
int yolo_module_takes_repeats(enum mlf_yolo_module m);
/* Append a Conv (conv + bn) at `path`. */
int yolo_conv(struct mlf_yolo_arch *a, const char *path, int c1, int c2, int k, int g,
	      struct mlf_error *err);
/* Append every parameter and buffer of the resolved layer `l`. */
int yolo_layer_params(struct mlf_yolo_arch *a, struct mlf_yolo_layer *l, struct mlf_error *err);

#endif
