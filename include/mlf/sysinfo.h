/*
 * Facts about the machine and the checkout that runs are tagged with.
 * Returned strings are allocated; the caller frees them.
 */
#ifndef MLF_SYSINFO_H
#define MLF_SYSINFO_H

/* The login name (USER/LOGNAME, then the password database); "unknown" if none. */
char *mlf_login_name(void);

/*
 * The commit checked out in the git working tree containing `dir`
 * (40 hex), read from .git without running git; NULL when `dir` is not in
 * a checkout or HEAD cannot be resolved.
 */
char *mlf_git_head_commit(const char *dir);

#endif
