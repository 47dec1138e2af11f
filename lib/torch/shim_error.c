/*
 * A failed shim call as an mlf_error: the one place libtorch's message (kept
 * per thread by the shim) becomes the library's error, exit status 70.
 */
#include <stdarg.h>

#include "mlf/base.h"
#include "mlf/torch/torch.h"

int mlf_th_fail(struct mlf_error *err, const char *fmt, ...)
{
	struct mlf_buf b = MLF_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	mlf_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	const char *why = mlf_th_error();
	mlf_fail(err, MLF_EX_SOFTWARE, "%s: %s", b.data, why[0] ? why : "libtorch failed");
	mlf_th_clear_error();
	mlf_buf_release(&b);
	return -1;
}
