/*
 * Shared by the files of lib/check: what mlf-validate, mlf-verify and model-locate
 * have in common.
 */
#ifndef MLF_CHECK_INTERNAL_H
#define MLF_CHECK_INTERNAL_H

#include "mlf/base.h"

/*
 * The exit status a tracking failure met while checking implies: 69 when the
 * store could not be reached, 78 when the configuration or the credentials
 * are wrong, else 1 (the check failed).  Combine it with the status already
 * held through mlf_status_worse().
 */
static inline int check_tracking_status(const struct mlf_error *err)
{
	if (err->status == MLF_EX_UNAVAILABLE || err->kind == MLF_ERR_UNREACHABLE)
		return MLF_EX_UNAVAILABLE;
	if (err->status == MLF_EX_CONFIG || err->kind == MLF_ERR_AUTH)
		return MLF_EX_CONFIG;
	return MLF_EX_CHECK;
}

#endif
