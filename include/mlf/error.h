/*
 * Error reporting shared by the whole library.
 *
 * Every fallible function takes a `struct mlf_error *` owned by the caller,
 * returns 0 on success and -1 on failure, and on failure fills the error with
 * one human-readable line and the sysexits(3) status the program should exit
 * with.  Programs print `err.msg` on stderr and exit with `err.status`.
 */
#ifndef MLF_ERROR_H
#define MLF_ERROR_H

#include <stdarg.h>

/* sysexits.h statuses, plus the two the toolchain adds (see DESIGN.md). */
enum mlf_status {
	MLF_OK = 0,
	MLF_EX_CHECK = 1,        /* a check failed (validate/verify found problems) */
	MLF_EX_USAGE = 64,
	MLF_EX_DATAERR = 65,
	MLF_EX_NOINPUT = 66,
	MLF_EX_UNAVAILABLE = 69, /* tracking service unavailable */
	MLF_EX_SOFTWARE = 70,
	MLF_EX_CANTCREAT = 73,
	MLF_EX_IOERR = 74,
	MLF_EX_TEMPFAIL = 75,
	MLF_EX_NOPERM = 77,
	MLF_EX_CONFIG = 78,
	MLF_EX_INTERRUPTED = 130,
};

/* Finer kind of failure, for callers that react differently (e.g. "not found"). */
enum mlf_errkind {
	MLF_ERR_GENERIC = 0,
	MLF_ERR_NOT_FOUND,      /* the thing asked for does not exist */
	MLF_ERR_EXISTS,         /* creating something that already exists */
	MLF_ERR_AUTH,           /* 401/403 from a server */
	MLF_ERR_UNREACHABLE,    /* could not talk to the tracking store at all */
	MLF_ERR_INVALID,        /* the store rejected the request as invalid */
};

struct mlf_error {
	int status;             /* enum mlf_status */
	int kind;               /* enum mlf_errkind */
	char msg[1024];
};

#define MLF_ERROR_INIT { 0, 0, { 0 } }

/* Fill `e` (which may be NULL) and return -1, so callers can `return mlf_fail(...)`. */
int mlf_fail(struct mlf_error *e, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int mlf_fail_kind(struct mlf_error *e, int status, int kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Same with errno's text appended as ": <strerror>". */
int mlf_fail_errno(struct mlf_error *e, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Put `fmt` before the existing message: "context: old message". */
int mlf_error_prefix(struct mlf_error *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void mlf_error_clear(struct mlf_error *e);

#endif
