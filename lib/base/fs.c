#include "mlf/base.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>


#define COPY_CHUNK (1u << 20)

char *mlf_path_join(const char *a, const char *b)
{
	if (!a || !*a || (b && b[0] == '/'))
		return mlf_xstrdup(b ? b : "");
	if (!b || !*b)
		return mlf_xstrdup(a);
	size_t la = strlen(a);
	return mlf_xasprintf("%s%s%s", a, a[la - 1] == '/' ? "" : "/", b);
}

char *mlf_path_normalize(const char *path)
{
	int absolute = path[0] == '/';
	size_t n = strlen(path);
	char **parts = mlf_xcalloc(n / 2 + 2, sizeof(*parts));
	size_t np = 0;
	char *copy = mlf_xstrdup(path), *save = NULL;

	for (char *tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			if (np && strcmp(parts[np - 1], ".."))
				np--;
			else if (!absolute)
				parts[np++] = tok;
			continue;
		}
		parts[np++] = tok;
	}
	struct mlf_buf b = MLF_BUF_INIT;
	if (absolute)
		mlf_buf_addc(&b, '/');
	for (size_t i = 0; i < np; i++) {
		if (i)
			mlf_buf_addc(&b, '/');
		mlf_buf_adds(&b, parts[i]);
	}
	if (!b.len)
		mlf_buf_addc(&b, '.');
	free(parts);
	free(copy);
	return mlf_buf_detach(&b);
}

char *mlf_path_absolute(const char *base, const char *path)
{
	char cwd[4096];
	if (path[0] == '/')
		return mlf_path_normalize(path);
	if (!base) {
		if (!getcwd(cwd, sizeof(cwd)))
			return mlf_path_normalize(path);
		base = cwd;
	}
	char *joined = mlf_path_join(base, path);
	char *norm = mlf_path_normalize(joined);
	free(joined);
	if (norm[0] != '/') { /* relative base: anchor it to the CWD too */
		char *abs = mlf_path_absolute(NULL, norm);
		free(norm);
		return abs;
	}
	return norm;
}

int mlf_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int mlf_is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int mlf_mkdir_p(const char *path, mode_t mode, struct mlf_error *err)
{
	char *p = mlf_xstrdup(path);
	int rc = 0;
	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST) {
			rc = mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot create folder '%s'", p);
			break;
		}
		*s = saved;
		if (saved == '\0')
			break;
	}
	if (!rc && !mlf_is_dir(path))
		rc = mlf_fail(err, MLF_EX_CANTCREAT, "'%s' exists and is not a folder", path);
	free(p);
	return rc;
}

int mlf_read_file(const char *path, char **data, size_t *len, struct mlf_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mlf_fail_errno(err, errno == ENOENT ? MLF_EX_NOINPUT : MLF_EX_IOERR,
				      "cannot open '%s'", path);
	struct mlf_buf b = MLF_BUF_INIT;
	for (;;) {
		mlf_buf_grow(&b, 65536);
		ssize_t n = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			mlf_fail_errno(err, MLF_EX_IOERR, "cannot read '%s'", path);
			close(fd);
			mlf_buf_release(&b);
			return -1;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
		b.data[b.len] = '\0';
	}
	close(fd);
	if (len)
		*len = b.len;
	*data = mlf_buf_detach(&b);
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The pid in "<name>.tmp.<pid>.<n>", or 0 when `name` is not such a file. */
static long temp_writer(const char *name)
{
	const char *t = strstr(name, ".tmp."), *next;
	for (; t; t = next) {
		next = strstr(t + 1, ".tmp.");
		char *end;
		long pid = strtol(t + 5, &end, 10);
		if (pid > 0 && *end == '.' && end[1] && strspn(end + 1, "0123456789") == strlen(end + 1))
			return pid;
	}
	return 0;
}

struct stale {
	json_t *removed;
	int n;
};

static int remove_if_stale(const char *path, const char *rel, void *ctx, struct mlf_error *err)
{
	struct stale *st = ctx;
	const char *slash = strrchr(rel, '/');
	long pid = temp_writer(slash ? slash + 1 : rel);
	/* kill(pid, 0) fails with ESRCH only when no such process exists */
	if (!pid || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
		return 0;
	if (unlink(path) != 0 && errno != ENOENT)
		return mlf_fail_errno(err, MLF_EX_IOERR, "cannot remove '%s', left by a writer that died",
				      path);
	if (st->removed)
		json_array_append_new(st->removed, json_string(path));
	st->n++;
	return 0;
}

int mlf_remove_stale_temps(const char *dir, json_t *removed, struct mlf_error *err)
{
	struct stale st = { removed, 0 };
	struct mlf_walk w = { .on_file = remove_if_stale, .ctx = &st };
	if (!mlf_is_dir(dir))
		return 0;
	return mlf_walk_tree(dir, &w, err) ? -1 : st.n;
}

FILE *mlf_atomic_fopen(const char *path, char **tmp, struct mlf_error *err)
{
	static unsigned counter;
	for (int tries = 0; tries < 100; tries++) {
		*tmp = mlf_xasprintf("%s.tmp.%ld.%u", path, (long)getpid(), counter++);
		int fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0) {
			FILE *f = fdopen(fd, "wb");
			if (f)
				return f;
			mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot open '%s'", *tmp);
			close(fd);
			unlink(*tmp);
			free(*tmp);
			*tmp = NULL;
			return NULL;
		}
		int e = errno;
		free(*tmp);
		*tmp = NULL;
		if (e != EEXIST) {
			errno = e;
			mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot create a file beside '%s'", path);
			return NULL;
		}
	}
	mlf_fail(err, MLF_EX_CANTCREAT, "cannot find a free temporary name beside '%s'", path);
	return NULL;
}

int mlf_atomic_fclose(FILE *f, char *tmp, const char *path, int failed, struct mlf_error *err)
{
	int rc = failed ? -1 : 0;
	if (!rc && (fflush(f) != 0 || ferror(f)))
		rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot write '%s'", tmp);
	if (!rc && fsync(fileno(f)) != 0)
		rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot flush '%s'", tmp);
	if (fclose(f) != 0 && !rc)
		rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot close '%s'", tmp);
	/* the point where a crash leaves a complete temporary file and no new `path` */
	if (!rc && mlf_failpoint(path, err))
		rc = -1;
	if (!rc && rename(tmp, path) != 0)
		rc = mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot rename '%s' to '%s'", tmp, path);
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

int mlf_write_file_atomic(const char *path, const void *data, size_t len,
			  struct mlf_error *err)
{
	char *tmp;
	FILE *f = mlf_atomic_fopen(path, &tmp, err);
	if (!f)
		return -1;
	int failed = len && fwrite(data, 1, len, f) != len;
	if (failed)
		mlf_fail_errno(err, MLF_EX_IOERR, "cannot write '%s'", tmp);
	return mlf_atomic_fclose(f, tmp, path, failed, err);
}

int mlf_write_file_excl(const char *path, const void *data, size_t len,
			struct mlf_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			return mlf_fail_kind(err, MLF_EX_CANTCREAT, MLF_ERR_EXISTS, "'%s' already exists", path);
		return mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot create '%s'", path);
	}
	int rc = 0;
	if (write_all(fd, data, len) != 0)
		rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot write '%s'", path);
	if (!rc && mlf_failpoint(path, err))
		rc = -1;
	if (close(fd) != 0 && !rc)
		rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot close '%s'", path);
	if (rc)
		unlink(path);
	return rc;
}

int mlf_append_file(const char *path, const void *data, size_t len, struct mlf_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot open '%s' for appending", path);
	int rc = mlf_failpoint(path, err);
	if (!rc && write_all(fd, data, len) != 0)
		rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot append to '%s'", path);
	if (close(fd) != 0 && !rc)
		rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot close '%s'", path);
	return rc;
}

/* Stream `src` through SHA-256, writing each chunk to `out_fd` when it is >= 0. */
static int stream_file(const char *src, int out_fd, const char *out_name, char hex[65],
		       uint64_t *size, struct mlf_error *err)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return mlf_fail_errno(err, errno == ENOENT ? MLF_EX_NOINPUT : MLF_EX_IOERR,
				      "cannot open '%s'", src);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *chunk = mlf_xmalloc(COPY_CHUNK);
	uint64_t total = 0;
	int rc = 0;
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		rc = mlf_fail(err, MLF_EX_SOFTWARE, "cannot initialise SHA-256");
	while (!rc) {
		ssize_t n = read(in, chunk, COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot read '%s'", src);
			break;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		EVP_DigestUpdate(md, chunk, (size_t)n);
		if (out_fd >= 0 && write_all(out_fd, chunk, (size_t)n) != 0)
			rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot write '%s'", out_name);
	}
	if (!rc && hex) {
		unsigned char digest[EVP_MAX_MD_SIZE];
		unsigned dlen = 0;
		EVP_DigestFinal_ex(md, digest, &dlen);
		mlf_hex_encode(digest, dlen, hex);
	}
	if (size)
		*size = total;
	EVP_MD_CTX_free(md);
	free(chunk);
	close(in);
	return rc;
}

int mlf_sha256_file(const char *path, char hex[65], uint64_t *size, struct mlf_error *err)
{
	return stream_file(path, -1, NULL, hex, size, err);
}

void mlf_sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	mlf_hex_encode(md, n, hex);
}

int mlf_copy_file_atomic(const char *src, const char *dst, char sha256_hex[65],
			 struct mlf_error *err)
{
	char *tmp;
	char hex[65];
	FILE *f = mlf_atomic_fopen(dst, &tmp, err);
	if (!f)
		return -1;
	/* Raw writes on the descriptor: nothing goes through the FILE's buffer. */
	int failed = stream_file(src, fileno(f), tmp, hex, NULL, err) != 0;
	if (mlf_atomic_fclose(f, tmp, dst, failed, err) != 0)
		return -1;
	if (sha256_hex)
		memcpy(sha256_hex, hex, 65);
	return 0;
}

/* A failure at `path`: stop, or let on_error pass over it (errno kept for it). */
static int walk_failed(const struct mlf_walk *w, const char *path, const char *rel,
		       struct mlf_error *err)
{
	if (!w->on_error)
		return -1;
	int rc = w->on_error(path, rel, w->ctx, err);
	if (!rc)
		mlf_error_clear(err);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in folder `path` that the walk visits, sorted; -1 with errno set. */
static int list_names(const char *path, unsigned flags, char ***names, size_t *n)
{
	size_t cap = 0;
	*names = NULL;
	*n = 0;
	DIR *d = opendir(path);
	if (!d)
		return -1;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, "..") ||
		    (name[0] == '.' && (flags & MLF_WALK_NO_HIDDEN)))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			*names = mlf_xrealloc(*names, cap * sizeof(**names));
		}
		(*names)[(*n)++] = mlf_xstrdup(name);
	}
	closedir(d);
	if (*n > 1)  /* an empty folder leaves *names NULL, which qsort must not get */
		qsort(*names, *n, sizeof(**names), by_name);
	return 0;
}

static int walk_dir(const struct mlf_walk *w, const char *path, const char *rel, int depth,
		    struct mlf_error *err);

static int walk_entry(const struct mlf_walk *w, const char *dir, const char *rel,
		      const char *name, int depth, struct mlf_error *err)
{
	char *path = mlf_path_join(dir, name);
	char *child_rel = *rel ? mlf_xasprintf("%s/%s", rel, name) : mlf_xstrdup(name);
	int physical = (w->flags & MLF_WALK_PHYSICAL) != 0, rc = 0;
	struct stat st;
	if (lstat(path, &st) != 0) {
		mlf_fail_errno(err, errno == ENOENT ? MLF_EX_NOINPUT : MLF_EX_IOERR,
			       "cannot read '%s'", path);
		rc = walk_failed(w, path, child_rel, err);
	} else if (S_ISDIR(st.st_mode)) {
		rc = walk_dir(w, path, child_rel, depth + 1, err);
	} else if (physical) {
		rc = w->on_file ? w->on_file(path, child_rel, w->ctx, err) : 0;
	} else if (S_ISLNK(st.st_mode) && stat(path, &st) != 0) {
		if (errno != ENOENT) {  /* ENOENT: a link that leads nowhere, passed over */
			mlf_fail_errno(err, MLF_EX_IOERR, "cannot follow '%s'", path);
			rc = walk_failed(w, path, child_rel, err);
		}
	} else if (S_ISREG(st.st_mode)) {
		rc = w->on_file ? w->on_file(path, child_rel, w->ctx, err) : 0;
	} else if (S_ISDIR(st.st_mode) && (w->flags & MLF_WALK_FOLLOW_DIRS)) {
		rc = walk_dir(w, path, child_rel, depth + 1, err);
	} else if (S_ISDIR(st.st_mode) && w->on_dir_link) {
		rc = w->on_dir_link(path, child_rel, w->ctx, err);
	}
	free(path);
	free(child_rel);
	return rc;
}

static int walk_dir(const struct mlf_walk *w, const char *path, const char *rel, int depth,
		    struct mlf_error *err)
{
	if (depth > MLF_WALK_MAX_DEPTH && !(w->flags & MLF_WALK_PHYSICAL)) {
		mlf_fail(err, MLF_EX_DATAERR, "'%s' is nested more than %d folders deep (a symlink "
			 "loop?)", path, MLF_WALK_MAX_DEPTH);
		return walk_failed(w, path, rel, err);
	}
	char **names;
	size_t n;
	if (list_names(path, w->flags, &names, &n) != 0) {
		mlf_fail_errno(err, errno == ENOENT ? MLF_EX_NOINPUT : MLF_EX_IOERR,
			       "cannot open folder '%s'", path);
		return walk_failed(w, path, rel, err);
	}
	int rc = w->on_dir ? w->on_dir(path, rel, w->ctx, err) : 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = walk_entry(w, path, rel, names[i], depth, err);
	if (!rc && w->on_dir_end)
		rc = w->on_dir_end(path, rel, w->ctx, err);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int mlf_walk_tree(const char *dir, const struct mlf_walk *w, struct mlf_error *err)
{
	struct mlf_error own = MLF_ERROR_INIT;  /* on_error reads failures even when err is NULL */
	return walk_dir(w, dir, "", 0, err ? err : &own);
}

int mlf_copy_file_new(const char *src, const char *dst, char sha256_hex[65],
		      struct mlf_error *err)
{
	int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot create '%s'", dst);
	int rc = stream_file(src, fd, dst, sha256_hex, NULL, err);
	if (!rc && mlf_failpoint(dst, err))
		rc = -1;
	if (close(fd) != 0 && !rc)
		rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot close '%s'", dst);
	if (rc)
		unlink(dst);
	return rc;
}

int mlf_sync_fs(const char *path, struct mlf_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mlf_fail_errno(err, MLF_EX_IOERR, "cannot open '%s' to flush it", path);
	int rc = syncfs(fd) == 0 ? 0 : mlf_fail_errno(err, MLF_EX_IOERR, "cannot flush '%s'", path);
	close(fd);
	return rc;
}

static int remove_entry(const char *path, const char *rel, void *ctx, struct mlf_error *err)
{
	(void)rel;
	(void)ctx;
	if (unlink(path) != 0 && errno != ENOENT)
		return mlf_fail_errno(err, MLF_EX_IOERR, "cannot remove '%s'", path);
	return 0;
}

static int remove_dir(const char *path, const char *rel, void *ctx, struct mlf_error *err)
{
	(void)rel;
	(void)ctx;
	if (rmdir(path) != 0)
		return mlf_fail_errno(err, MLF_EX_IOERR, "cannot remove folder '%s'", path);
	return 0;
}

int mlf_remove_tree(const char *path, struct mlf_error *err)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : mlf_fail_errno(err, MLF_EX_IOERR, "cannot inspect '%s'", path);
	if (!S_ISDIR(st.st_mode))
		return remove_entry(path, "", NULL, err);
	/* Links are removed, never followed: nothing outside `path` is touched. */
	struct mlf_walk w = { .flags = MLF_WALK_PHYSICAL, .on_file = remove_entry,
			      .on_dir_end = remove_dir };
	return mlf_walk_tree(path, &w, err);
}

int mlf_free_bytes(const char *path, uint64_t *bytes, struct mlf_error *err)
{
	struct statvfs sv;
	if (statvfs(path, &sv) != 0)
		return mlf_fail_errno(err, MLF_EX_IOERR, "cannot read free space of '%s'", path);
	*bytes = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	return 0;
}

int mlf_probe_writable(const char *dir, struct mlf_error *err)
{
	char *probe = mlf_xasprintf("%s/.mlf-write-probe.%ld", dir, (long)getpid());
	int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot create files in '%s'", dir);
		free(probe);
		return -1;
	}
	int rc = 0;
	if (write_all(fd, "probe", 5) != 0)
		rc = mlf_fail_errno(err, MLF_EX_IOERR, "cannot write in '%s'", dir);
	close(fd);
	unlink(probe);
	free(probe);
	return rc;
}

int mlf_lock(const char *path, int wait, int *fd_out, struct mlf_error *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return mlf_fail_errno(err, MLF_EX_CANTCREAT, "cannot open lock file '%s'", path);
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(fd);
		errno = e;
		if (e == EWOULDBLOCK)
			return mlf_fail(err, MLF_EX_TEMPFAIL,
					"'%s' is locked by another process; retry later", path);
		return mlf_fail_errno(err, MLF_EX_IOERR, "cannot lock '%s'", path);
	}
	*fd_out = fd;
	return 0;
}

void mlf_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
