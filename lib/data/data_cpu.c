/*
 * Which vector instructions the data kernels may use (lib/data/data_warp.c,
 * lib/data/data_hsv.c): AVX2 with FMA, asked of the CPU once.  MLF_NO_SIMD=1 in
 * the environment turns them off (the portable code gives the same bytes;
 * the tests compare the two).
 */
#include <stdlib.h>

#include "data_internal.h"

int data_cpu_avx2_fma(void)
{
	const char *off = getenv("MLF_NO_SIMD");
	if (off && *off && *off != '0')
		return 0;
#if defined(__GNUC__) && defined(__x86_64__)
	static int known = -1;
	if (known < 0)
		known = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	return known;
#else
	return 0;
#endif
}
