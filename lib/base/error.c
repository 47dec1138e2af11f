#include "mlf/base.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int vfail(struct mlf_error *e, int status, int kind, int errnum,
		 const char *fmt, va_list ap)
{
	if (!e)
		return -1;
	e->status = status;
	e->kind = kind;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	if (errnum) {
		size_t len = strlen(e->msg);
		snprintf(e->msg + len, sizeof(e->msg) - len, ": %s", strerror(errnum));
	}
	return -1;
}

int mlf_fail(struct mlf_error *e, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(e, status, MLF_ERR_GENERIC, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int mlf_fail_kind(struct mlf_error *e, int status, int kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(e, status, kind, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int mlf_fail_errno(struct mlf_error *e, int status, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	vfail(e, status, MLF_ERR_GENERIC, saved, fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

int mlf_error_prefix(struct mlf_error *e, const char *fmt, ...)
{
	char prefix[512], old[sizeof(e->msg)];
	va_list ap;

	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* Messages are bounded on purpose: a long tail is cut, never overflowed. */
	size_t cap = sizeof(e->msg) - 1, len = 0;
	const char *parts[3] = { prefix, ": ", old };
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(parts[i]);
		if (n > cap - len)
			n = cap - len;
		memcpy(e->msg + len, parts[i], n);
		len += n;
	}
	e->msg[len] = '\0';
	return -1;
}

void mlf_error_clear(struct mlf_error *e)
{
	if (e) {
		e->status = 0;
		e->kind = 0;
		e->msg[0] = '\0';
	}
}

/* The rank of a status in mlf_status_worse()'s rule (see mlf/base.h). */
static int status_rank(int status)
{
	return status == MLF_EX_UNAVAILABLE ? 3 : status == MLF_EX_CONFIG ? 2 : status != 0;
}

int mlf_status_worse(int held, int found)
{
	return status_rank(found) > status_rank(held) ? found : held;
}
