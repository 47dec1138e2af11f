/*
 * File-system helpers: crash-safe writes, recursive mkdir, streamed copies,
 * folder walks, advisory locks.
 *
 * Strings returned by these functions are allocated and owned by the caller.
 * Atomic writes go to "<path>.tmp.<pid>.<n>" in the same folder, are fsync'ed,
 * then renamed over <path>; on any failure the temporary file is removed, so
 * a reader sees the old content or the new one, never a torn file.
 */
#ifndef MLF_FS_H
#define MLF_FS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "mlf/error.h"

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

/*
 * Walk the folder `dir` depth-first, in readdir order.  `on_dir` (may be
 * NULL) sees `dir` itself (rel "") and then each folder below it before
 * its contents; `on_file` sees each regular file.  `path` is `dir` joined
 * with `rel`, the entry's '/'-separated path below `dir`.  Symlinks are
 * followed; sockets, fifos and devices are skipped.  A folder more than
 * MLF_WALK_MAX_DEPTH levels down fails with status 65 (a symlink loop?);
 * a folder or entry that cannot be read fails with status 66.  A callback's
 * nonzero return stops the walk and is returned.
 */
#define MLF_WALK_MAX_DEPTH 64
typedef int (*mlf_walk_fn)(const char *path, const char *rel, void *ctx,
			   struct mlf_error *err);
int mlf_walk_tree(const char *dir, mlf_walk_fn on_dir, mlf_walk_fn on_file, void *ctx,
		  struct mlf_error *err);

/* Remove a file or a whole tree; a missing path is not an error. */
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

#endif
