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

int mlf_is_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		unsigned c = *p++;
		size_t more;
		unsigned min;
		if (c == 0)
			return 0;
		if (c < 0x80)
			continue;
		if ((c & 0xe0) == 0xc0) {
			more = 1;
			min = 0x80;
			c &= 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			more = 2;
			min = 0x800;
			c &= 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			more = 3;
			min = 0x10000;
			c &= 0x07;
		} else {
			return 0;
		}
		if ((size_t)(end - p) < more)
			return 0;
		for (size_t i = 0; i < more; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return 0;
			c = (c << 6) | (*p & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
	}
	return 1;
}

char *mlf_utf8_escape(const char *s)
{
	size_t len = strlen(s);
	if (mlf_is_utf8(s, len))
		return mlf_xstrdup(s);
	struct mlf_buf out = MLF_BUF_INIT;
	const char *p = s, *end = s + len;
	while (p < end) {
		/* the longest valid UTF-8 sequence here (1-4 bytes), else one bad byte */
		size_t n = 0;
		for (size_t k = 1; k <= 4 && p + k <= end && !n; k++)
			if (mlf_is_utf8(p, k))
				n = k;
		if (n == 1 && *p == '\\')
			mlf_buf_adds(&out, "\\\\");
		else if (n)
			mlf_buf_add(&out, p, n);
		else
			mlf_buf_addf(&out, "\\x%02x", (unsigned char)*p);
		p += n ? n : 1;
	}
	return mlf_buf_detach(&out);
}
