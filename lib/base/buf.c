#include "mlf/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die_oom(size_t n)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *mlf_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die_oom(n);
	return p;
}

void *mlf_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die_oom(n * size);
	return p;
}

void *mlf_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die_oom(n);
	return q;
}

char *mlf_xstrdup(const char *s)
{
	return s ? mlf_xstrndup(s, strlen(s)) : NULL;
}

char *mlf_xstrndup(const char *s, size_t n)
{
	char *p = mlf_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *mlf_xasprintf(const char *fmt, ...)
{
	struct mlf_buf b = MLF_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	mlf_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return mlf_buf_detach(&b);
}

void mlf_buf_init(struct mlf_buf *b)
{
	b->data = (char *)"";
	b->len = 0;
	b->cap = 0;
}

void mlf_buf_release(struct mlf_buf *b)
{
	if (b->cap)
		free(b->data);
	mlf_buf_init(b);
}

void mlf_buf_reset(struct mlf_buf *b)
{
	b->len = 0;
	if (b->cap)
		b->data[0] = '\0';
}

void mlf_buf_grow(struct mlf_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	if (b->cap) {
		b->data = mlf_xrealloc(b->data, cap);
	} else {
		char *p = mlf_xmalloc(cap);
		memcpy(p, b->data, b->len + 1);
		b->data = p;
	}
	b->cap = cap;
}

void mlf_buf_add(struct mlf_buf *b, const void *data, size_t len)
{
	mlf_buf_grow(b, len);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void mlf_buf_adds(struct mlf_buf *b, const char *s)
{
	mlf_buf_add(b, s, strlen(s));
}

void mlf_buf_addc(struct mlf_buf *b, char c)
{
	mlf_buf_add(b, &c, 1);
}

void mlf_buf_vaddf(struct mlf_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	mlf_buf_grow(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void mlf_buf_addf(struct mlf_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mlf_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

char *mlf_buf_detach(struct mlf_buf *b)
{
	char *s = b->cap ? b->data : mlf_xstrdup("");
	mlf_buf_init(b);
	return s;
}

void mlf_hex_encode(const unsigned char *bytes, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[bytes[i] >> 4];
		hex[2 * i + 1] = digits[bytes[i] & 15];
	}
	hex[2 * n] = '\0';
}

int mlf_is_sha256_hex(const char *s)
{
	return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}
