/*
 * A tensor's values as float32 (any dtype, any device), for the unit tests
 * over libtorch; include after <cmocka.h>.  The caller frees the array.
 */
#ifndef MLF_TEST_TENSOR_VALUES_H
#define MLF_TEST_TENSOR_VALUES_H

#include <stdlib.h>

#include "mlf/torch/torch.h"

static inline float *tensor_values(const mlf_th *t)
{
	int64_t n = mlf_th_numel(t);
	float *v = malloc((size_t)(n ? n : 1) * sizeof(*v));
	assert_non_null(v);
	assert_int_equal(mlf_th_copy_out(t, MLF_DTYPE_F32, v, (size_t)n * sizeof(*v)), 0);
	return v;
}

#endif
