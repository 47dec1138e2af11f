/*
 * mlf/base.h: what every other part of the library stands on, and nothing
 * here depends on another part.  Sections, in order: errors and exit
 * statuses; growable buffers and checked allocation; the file system
 * (crash-safe writes, locks, the directory walker); JSON helpers; problem
 * lists; progress lines; facts about the machine and the time.
 *
 * The conventions the whole library follows are stated here once: a
 * fallible function returns 0 or -1 with a struct mlf_error filled; a
 * returned char * or struct is the caller's (freed with free() or the
 * struct's _release()); a pointer argument is borrowed for the call.
 */
/*
 * Error reporting shared by the whole library.
 *
 * Every fallible function takes a `struct mlf_error *` owned by the caller,
 * returns 0 on success and -1 on failure, and on failure fills the error with
 * one human-readable line and the sysexits(3) status the program should exit
 * with.  Programs print `err.msg` on stderr and exit with `err.status`.
 */
#ifndef MLF_BASE_H
#define MLF_BASE_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

/* The toolchain's version: --version, and the "tool" of every document it writes. */
#define MLF_VERSION "0.2.0"

/* sysexits.h statuses, plus two the toolchain adds: 1, a check that ran and
 * failed (not an error of the program), and 130, stopped by SIGINT/SIGTERM
 * (what a shell reports for Ctrl-C).  See docs/exit-status.md. */
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

/*
 * Which exit status wins when one run meets several failures (mlf-validate,
 * mlf-verify and model-locate report every problem, then exit once).  The
 * rule: 69 (the tracking store could not be reached) over 78 (configuration
 * or credentials wrong) over any other failure (1, a check that failed; 65,
 * 66, ...) over 0; of two that rank alike, the one met first stays.
 *
 * Why: 1 says "the answer is no", 69 and 78 say "the answer is incomplete":
 * some checks could not be made, so a caller told only 1 would believe it
 * had seen every problem.  69 comes before 78 because nothing about the
 * store, its credentials included, can be judged until it answers.
 *
 * mlf_status_worse() returns whichever of `held` and `found` wins.
 */
int mlf_status_worse(int held, int found);

/*
 * A growable, always NUL-terminated byte buffer (git's strbuf, smaller).
 *
 * `struct mlf_buf b = MLF_BUF_INIT;` needs no allocation; the buffer owns
 * `b.data` once anything is appended, and mlf_buf_release() frees it.
 * mlf_buf_detach() hands the string to the caller (who frees it) and
 * leaves the buffer empty.  Allocation failure aborts the process with a
 * message: every caller would do the same, and it keeps call sites clean.
 */

struct mlf_buf {
	char *data;  /* "" (static) until the first append */
	size_t len;
	size_t cap;
};

#define MLF_BUF_INIT { (char *)"", 0, 0 }

void mlf_buf_init(struct mlf_buf *b);
void mlf_buf_release(struct mlf_buf *b);
void mlf_buf_reset(struct mlf_buf *b);
void mlf_buf_grow(struct mlf_buf *b, size_t extra);
void mlf_buf_add(struct mlf_buf *b, const void *data, size_t len);
void mlf_buf_adds(struct mlf_buf *b, const char *s);
void mlf_buf_addc(struct mlf_buf *b, char c);
void mlf_buf_addf(struct mlf_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void mlf_buf_vaddf(struct mlf_buf *b, const char *fmt, va_list ap);
char *mlf_buf_detach(struct mlf_buf *b);

/* Is s[0..len) valid UTF-8 (shortest forms, no surrogates, no NUL)? */
int mlf_is_utf8(const char *s, size_t len);
/*
 * `s` as it is shown and recorded when it is not valid UTF-8 (a file name,
 * say; JSON cannot hold it): each byte outside a valid sequence as \xNN, and
 * backslashes doubled so the escape is unambiguous.  A valid `s` comes back
 * unchanged.  Allocated.
 */
char *mlf_utf8_escape(const char *s);
/* Lowercase hex of `n` bytes into `hex`, which holds 2n+1 characters. */
void mlf_hex_encode(const unsigned char *bytes, size_t n, char *hex);
/* Is `s` a SHA-256 digest as this library writes it: 64 lowercase hex digits?  0 for NULL. */
int mlf_is_sha256_hex(const char *s);

/*
 * Checked allocation helpers; they abort with a message on out-of-memory,
 * like mlf_buf.
 *
 * The library's allocation policy: memory is taken through these (or
 * mlf_buf), never with a bare malloc/calloc/realloc/strdup/strndup/
 * asprintf whose NULL would go unchecked.  No caller could do better than
 * stop, and call sites stay free of dead error paths.  The one exception:
 * a block whose size comes from the input (an image's pixels, a tensor's
 * bytes, a checkpoint record, boxes or detections to sort) may use malloc
 * and friends directly when its NULL is handled on the spot, by an error
 * naming that input (status 70) or a fallback (a slower path, a detail
 * left out), so that an absurd size in a file is reported, not fatal.
 */
void *mlf_xmalloc(size_t n);
void *mlf_xcalloc(size_t n, size_t size);
void *mlf_xrealloc(void *p, size_t n);
char *mlf_xstrdup(const char *s);           /* NULL in, NULL out */
char *mlf_xstrndup(const char *s, size_t n);
char *mlf_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * File-system helpers: crash-safe writes, recursive mkdir, streamed copies,
 * folder walks, advisory locks.
 *
 * Strings returned by these functions are allocated and owned by the caller.
 * Atomic writes go to "<path>.tmp.<pid>.<n>" in the same folder, are fsync'ed,
 * then renamed over <path>; on any failure the temporary file is removed, so
 * a reader sees the old content or the new one, never a torn file.
 */

/* "a" + "b" -> "a/b" (no doubled slash); an absolute `b` wins. */
char *mlf_path_join(const char *a, const char *b);
/* Make `path` absolute against `base` (or the CWD when base is NULL); lexical only. */
char *mlf_path_absolute(const char *base, const char *path);
/* Remove "." and "x/.." components and repeated slashes, lexically. */
char *mlf_path_normalize(const char *path);

int mlf_mkdir_p(const char *path, mode_t mode, struct mlf_error *err);
int mlf_is_dir(const char *path);
int mlf_is_file(const char *path);

/*
 * Crash-safe writing by hand (for encoders that want a FILE*):
 * mlf_atomic_fopen opens a fresh temporary file beside `path` (name in *tmp);
 * mlf_atomic_fclose flushes, fsyncs and closes it and renames it over `path`,
 * or, when `failed` is set or anything fails, removes it.  It frees *tmp.
 */
FILE *mlf_atomic_fopen(const char *path, char **tmp, struct mlf_error *err);
/*
 * Remove what a writer killed before its rename left: the temporary files
 * "<name>.tmp.<pid>.<n>" of mlf_atomic_fopen in `dir` and below, each only
 * when no process <pid> is alive on this machine (a live writer's file stays).
 * A missing `dir` has none.  Their paths are appended to `removed` (a JSON
 * array) when it is not NULL.  Returns how many, or -1 with err.
 */
int mlf_remove_stale_temps(const char *dir, json_t *removed, struct mlf_error *err);
int mlf_atomic_fclose(FILE *f, char *tmp, const char *path, int failed, struct mlf_error *err);

int mlf_read_file(const char *path, char **data, size_t *len, struct mlf_error *err);
int mlf_write_file_atomic(const char *path, const void *data, size_t len,
			  struct mlf_error *err);
/* Create `path` holding `data`; fails with MLF_ERR_EXISTS if it is already there. */
int mlf_write_file_excl(const char *path, const void *data, size_t len,
			struct mlf_error *err);
/* Append in one write(2) with O_APPEND, so concurrent appenders never interleave. */
int mlf_append_file(const char *path, const void *data, size_t len, struct mlf_error *err);

/*
 * Copy `src` to `dst` through a temporary file and rename, in fixed-size
 * chunks (memory stays flat whatever the file size).  When `sha256_hex` is
 * not NULL it receives the 64-hex digest of the bytes copied.
 */
int mlf_copy_file_atomic(const char *src, const char *dst, char sha256_hex[65],
			 struct mlf_error *err);
/*
 * Copy into a new file (fails if `dst` exists) without syncing: for files in
 * a folder published as a whole, after one mlf_sync_fs(), by renaming it.
 */
int mlf_copy_file_new(const char *src, const char *dst, char sha256_hex[65],
		      struct mlf_error *err);
/* Flush everything written to the file system holding `path` (syncfs(2)). */
int mlf_sync_fs(const char *path, struct mlf_error *err);
int mlf_sha256_file(const char *path, char hex[65], uint64_t *size, struct mlf_error *err);
/* The 64-hex SHA-256 of `len` bytes in memory. */
void mlf_sha256_hex(const void *data, size_t len, char hex[65]);

/*
 * Failpoints (lib/base/failpoint.c).  Every commit of a file (the rename of
 * an atomic write, a new file's close) and every write to the tracking store
 * passes mlf_failpoint() first, so a test can crash or starve any one of
 * them, from outside, in the code that ships:
 *
 *   MLF_FAILPOINT=STEP:N:kill     the Nth point of STEP raises SIGKILL (kill -9)
 *   MLF_FAILPOINT=STEP:N:enospc   the Nth point of STEP fails with ENOSPC
 *   MLF_FAILPOINT_TRACE=FILE      append "STEP N WHAT" to FILE for every point
 *
 * STEP is the name last given to mlf_failpoint_step() (retrain-run names its
 * twelve steps; "main" before any); N counts from 1 within it.  With neither
 * variable set a failpoint does nothing.  scripts/torture walks them all.
 */
void mlf_failpoint_step(const char *step);
/* 0; or -1 with err (ENOSPC, status 74) when armed here; or no return (kill). */
int mlf_failpoint(const char *what, struct mlf_error *err);

/*
 * The one folder walker: every walk of a tree in the library goes through
 * it, so there is one answer to links, depth, order and errors.
 *
 * mlf_walk_tree() walks `dir` depth-first, each folder's entries in strcmp
 * order of their names (the same order on every file system and every run).
 * The callbacks of `w`, each of which may be NULL, get `path`, `dir` joined
 * with `rel`, and `rel`, the entry's '/'-separated path below `dir` ("" for
 * `dir` itself):
 *   on_dir      each folder, `dir` first, before its entries;
 *   on_file     each file;
 *   on_dir_end  each folder after its entries (to remove it, say);
 *   on_dir_link each symbolic link to a folder the walk does not descend
 *               (so that a caller can say why, rather than skip it unsaid);
 *   on_error    each failure, when the walk may go on past it (below).
 * A callback's nonzero return stops the walk and is returned.
 *
 * The rule:
 * - A symbolic link to a file is followed: on_file sees it as the file
 *   (lstat(path) tells the two apart).
 * - A symbolic link to a folder is not descended, so a walk neither loops
 *   nor leaves `dir` (`dir` itself may be a link).  MLF_WALK_FOLLOW_DIRS
 *   descends it too; a loop then fails (too many links, or too deep).
 * - Sockets, FIFOs, devices and links to nothing are passed over.
 * - MLF_WALK_NO_HIDDEN passes over names starting with '.', folders with
 *   all they hold.
 * - MLF_WALK_PHYSICAL follows no link: every entry that is not itself a
 *   folder (a link of any kind, a socket, ...) goes to on_file as it is.
 *   Such a walk cannot loop, so it has no depth limit.  For removing a tree.
 * - A folder more than MLF_WALK_MAX_DEPTH levels below `dir` fails with
 *   status 65 (a loop, or a tree no program of ours makes).  A folder that
 *   cannot be listed, or an entry that cannot be inspected or a link
 *   followed, fails as mlf_read_file does: 66 when it is gone, else 74.
 *
 * Errors: without on_error the first failure stops the walk: -1, err
 * filled.  With it, on_error sees each failure (err filled, errno as the
 * failing call left it; `path` the folder or entry) and returns 0 to pass
 * over that folder or entry and go on, nonzero to stop the walk.
 */
#define MLF_WALK_MAX_DEPTH 64
#define MLF_WALK_FOLLOW_DIRS 1u
#define MLF_WALK_NO_HIDDEN 2u
#define MLF_WALK_PHYSICAL 4u
typedef int (*mlf_walk_fn)(const char *path, const char *rel, void *ctx,
			   struct mlf_error *err);
struct mlf_walk {
	unsigned flags;           /* MLF_WALK_* */
	mlf_walk_fn on_dir, on_file, on_dir_end, on_dir_link, on_error;
	void *ctx;                /* handed to each callback */
};
int mlf_walk_tree(const char *dir, const struct mlf_walk *w, struct mlf_error *err);

/*
 * Remove a file or a whole tree; a missing path is not an error.  Links are
 * removed, never followed (the walker's MLF_WALK_PHYSICAL).
 */
int mlf_remove_tree(const char *path, struct mlf_error *err);

/* Bytes available to an unprivileged user on the file system holding `path`. */
int mlf_free_bytes(const char *path, uint64_t *bytes, struct mlf_error *err);
/* Can this process create files in `dir`?  Tries for real (create + remove). */
int mlf_probe_writable(const char *dir, struct mlf_error *err);

/*
 * Exclusive advisory lock on `path` (created if missing), held until
 * mlf_unlock().  With `wait` 0 a held lock fails at once with status 75.
 */
int mlf_lock(const char *path, int wait, int *fd, struct mlf_error *err);
void mlf_unlock(int fd);

/*
 * JSON helpers on top of jansson, for the documents the programs pipe to each
 * other and for MLflow payloads.
 *
 * jansson cannot hold NaN or infinities as numbers; MLflow transports them as
 * the strings "NaN", "Infinity" and "-Infinity", and so do we.
 * Functions returning json_t * return a new reference.
 */

/* A double as a JSON number, or as "NaN" / "Infinity" / "-Infinity". */
json_t *mlf_json_double(double v);
/* Read a number or one of those strings (also numeric strings); -1 if neither. */
int mlf_json_to_double(const json_t *j, double *out);
/* Read an integer given as a number or a decimal string (MLflow's int64s); -1 if neither. */
int mlf_json_to_int64(const json_t *j, int64_t *out);
/*
 * A whole decimal integer (strtoll's syntax, nothing after it, in range)
 * from text; -1 if `s` is not one.  The one reading of an int64 from text:
 * MLflow's int64 strings, file-store metric lines and YAML, mlf.yaml.
 */
int mlf_parse_int64(const char *s, int64_t *out);
/* A string, or json null for NULL. */
json_t *mlf_json_string_or_null(const char *s);
/*
 * The text Python's str() gives the value json.loads would make of `v`:
 * None/True/False, ints, floats as repr() writes them (the shortest digits
 * that read back the same: 0.7, not 0.69999999999999996; 1e-05), a string as
 * it is, lists and dicts with repr()'d items ("['a', 1]").  MLflow's Python
 * client stores a param as str(value), so a param logged this way is the one
 * Ultralytics' callback logs, and `params.iou = '0.7'` finds it.
 */
char *mlf_json_py_str(const json_t *v);
/* Append repr(x) as Python 3 writes it ("nan", "inf" included): the one copy of that rule. */
void mlf_buf_add_py_float(struct mlf_buf *b, double x);
/*
 * The member `key` of `obj` when it is a string, else `fallback` (NULL, "",
 * a default): `obj` may be NULL or not an object.  For a member of a member,
 * mlf_json_str(json_object_get(doc, "run"), "run_id", NULL).  The string
 * belongs to `obj`.
 */
const char *mlf_json_str(const json_t *obj, const char *key, const char *fallback);

/*
 * `obj` (an object) as a block-style YAML document, keys in their order,
 * strings double-quoted with JSON's escapes (which YAML reads the same), so
 * no value is ever retyped by YAML 1.1's implicit rules.  For files other
 * tools read as YAML, such as MLflow's MLmodel.
 */
void mlf_json_to_yaml(const json_t *obj, struct mlf_buf *out);

/*
 * Write `doc` as one line to `out` and flush; fails with status 74 when the
 * stream cannot be written (a closed pipe, a full disk).
 */
int mlf_json_write_line(json_t *doc, FILE *out, struct mlf_error *err);

/*
 * A list of problems found in input data, collected rather than stopping at
 * the first, so one run tells the operator everything to fix.  Each names the
 * file, optionally the field, and what is wrong.
 *
 * The list owns its strings; mlf_problems_release() frees them.
 */

struct mlf_problem {
	char *file;     /* path as the user knows it (relative to the input folder) */
	char *field;    /* "boxes[2].xyxy", or NULL */
	char *message;
};

struct mlf_problems {
	struct mlf_problem *items;
	size_t n, cap;
};

#define MLF_PROBLEMS_INIT { NULL, 0, 0 }

void mlf_problems_add(struct mlf_problems *p, const char *file, const char *field,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void mlf_problems_release(struct mlf_problems *p);
/* [{"file","field","message"}, ...] */
json_t *mlf_problems_json(const struct mlf_problems *p);
/* "file: field: message" lines, at most `max` of them (0 = all), then a count of the rest. */
void mlf_problems_print(const struct mlf_problems *p, FILE *out, size_t max);

/*
 * Progress of long work on stderr: a live bar when stderr is a terminal,
 * otherwise a plain line every 10% (cron- and CI-friendly).  Silent for
 * small jobs (under `quiet_below` items).  No allocation; nothing to free.
 */

struct mlf_progress {
	const char *prog;   /* program name for the line prefix */
	const char *what;   /* "checking images" */
	size_t total, done;
	int tty, active, last_decile;
};

void mlf_progress_start(struct mlf_progress *p, const char *prog, const char *what,
			size_t total, size_t quiet_below);
void mlf_progress_step(struct mlf_progress *p);
void mlf_progress_finish(struct mlf_progress *p);

/*
 * Facts about the machine and the checkout that runs are tagged with.
 * Returned strings are allocated; the caller frees them.
 */

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
