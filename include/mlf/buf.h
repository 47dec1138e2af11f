/*
 * A growable, always NUL-terminated byte buffer (git's strbuf, smaller).
 *
 * `struct mlf_buf b = MLF_BUF_INIT;` needs no allocation; the buffer owns
 * `b.data` once anything is appended, and mlf_buf_release() frees it.
 * mlf_buf_detach() hands the string to the caller (who frees it) and
 * leaves the buffer empty.  Allocation failure aborts the process with a
 * message: every caller would do the same, and it keeps call sites clean.
 */
#ifndef MLF_BUF_H
#define MLF_BUF_H

#include <stdarg.h>
#include <stddef.h>

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

/* Lowercase hex of `n` bytes into `hex`, which holds 2n+1 characters. */
void mlf_hex_encode(const unsigned char *bytes, size_t n, char *hex);

/* Checked allocation helpers; they abort on out-of-memory like mlf_buf. */
void *mlf_xmalloc(size_t n);
void *mlf_xcalloc(size_t n, size_t size);
void *mlf_xrealloc(void *p, size_t n);
char *mlf_xstrdup(const char *s);           /* NULL in, NULL out */
char *mlf_xstrndup(const char *s, size_t n);
char *mlf_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
