/*
 * Facts about the machine and the checkout that runs are tagged with.
 * Returned strings are allocated; the caller frees them.
 */
#ifndef MLF_SYSINFO_H
#define MLF_SYSINFO_H

#include <time.h>

/* The login name (USER/LOGNAME, then the password database); "unknown" if none. */
char *mlf_login_name(void);

/*
 * The commit checked out in the git working tree containing `dir`
 * (40 hex), read from .git without running git; NULL when `dir` is not in
 * a checkout or HEAD cannot be resolved.
 */
char *mlf_git_head_commit(const char *dir);

/* `t` as RFC 3339 in UTC, "2026-11-24T13:50:39Z" (empty if it cannot be shown). */
void mlf_time_rfc3339(time_t t, char out[32]);
/* The current time so, allocated. */
char *mlf_now_rfc3339(void);

#endif
