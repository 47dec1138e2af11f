/*
 * What mlf reads from outside when it talks to S3: the XML of S3's answers
 * (a listing, a new multipart upload, an error) and the AWS shared
 * credentials and config files.  Both are read only as far as mlf needs
 * them, and both take hostile input (tests/fuzz/fuzz_s3.c).
 *
 * S3's answers are flat, attribute-free XML documents whose elements of
 * interest never nest inside an element of the same name, so an element is
 * found by its start tag and the next matching end tag; text is decoded
 * from XML's five named entities and numeric character references.  Keys
 * are asked for with encoding-type=url, so a key arrives percent-encoded
 * ('+' for a space, as S3 writes it) and any byte survives the XML.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "tracking_internal.h"

/* ---- XML ----------------------------------------------------------------- */

/*
 * The first element <tag>...</tag> (or <tag .../>, or with attributes) in
 * [p, end): its content in [*in, *in + *n), and *after just past its end.
 * 0 when found, -1 when not.
 */
static int xml_find(const char *p, const char *end, const char *tag, const char **in, size_t *n,
		    const char **after)
{
	size_t tl = strlen(tag);
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p));
		if (!lt || (size_t)(end - lt) < tl + 2)
			return -1;
		p = lt + 1;
		if (memcmp(p, tag, tl))
			continue;
		char c = p[tl];
		if (c != '>' && c != '/' && c != ' ' && c != '\t' && c != '\r' && c != '\n')
			continue;
		const char *gt = memchr(p + tl, '>', (size_t)(end - p - (ptrdiff_t)tl));
		if (!gt)
			return -1;
		if (gt[-1] == '/') {  /* <tag/>: empty */
			*in = gt + 1;
			*n = 0;
			*after = gt + 1;
			return 0;
		}
		const char *q = gt + 1;
		while (q < end) {
			const char *close = memchr(q, '<', (size_t)(end - q));
			if (!close || (size_t)(end - close) < tl + 3)
				return -1;
			if (close[1] == '/' && !memcmp(close + 2, tag, tl) && close[2 + tl] == '>') {
				*in = gt + 1;
				*n = (size_t)(close - (gt + 1));
				*after = close + 3 + tl;
				return 0;
			}
			q = close + 1;
		}
		return -1;
	}
	return -1;
}

static void add_utf8(struct mlf_buf *b, unsigned long cp)
{
	if (cp < 0x80) {
		mlf_buf_addc(b, (char)cp);
	} else if (cp < 0x800) {
		mlf_buf_addc(b, (char)(0xC0 | (cp >> 6)));
		mlf_buf_addc(b, (char)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		mlf_buf_addc(b, (char)(0xE0 | (cp >> 12)));
		mlf_buf_addc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
		mlf_buf_addc(b, (char)(0x80 | (cp & 0x3F)));
	} else {
		mlf_buf_addc(b, (char)(0xF0 | (cp >> 18)));
		mlf_buf_addc(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
		mlf_buf_addc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
		mlf_buf_addc(b, (char)(0x80 | (cp & 0x3F)));
	}
}

/* XML text to a new string; NULL when it holds a NUL or a broken reference. */
static char *xml_text(const char *s, size_t n)
{
	static const struct { const char *name; char c; } named[] = {
		{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' },
	};
	struct mlf_buf b = MLF_BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (!s[i])
			goto bad;
		if (s[i] != '&') {
			mlf_buf_addc(&b, s[i]);
			continue;
		}
		size_t rest = n - i - 1;
		const char *r = s + i + 1;
		size_t k;
		for (k = 0; k < sizeof(named) / sizeof(named[0]); k++) {
			size_t l = strlen(named[k].name);
			if (rest >= l && !memcmp(r, named[k].name, l)) {
				mlf_buf_addc(&b, named[k].c);
				i += l;
				break;
			}
		}
		if (k < sizeof(named) / sizeof(named[0]))
			continue;
		if (rest < 3 || r[0] != '#')
			goto bad;
		int hex = r[1] == 'x';
		unsigned long cp = 0;
		size_t j = hex ? 2 : 1, digits = 0;
		for (; j < rest && r[j] != ';' && digits < 8; j++, digits++) {
			int d = isdigit((unsigned char)r[j]) ? r[j] - '0'
				: hex && isxdigit((unsigned char)r[j]) ? (tolower((unsigned char)r[j]) - 'a' + 10)
				: -1;
			if (d < 0)
				goto bad;
			cp = cp * (hex ? 16 : 10) + (unsigned long)d;
		}
		if (j >= rest || r[j] != ';' || !digits || cp == 0 || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			goto bad;
		add_utf8(&b, cp);
		i += j + 1;
	}
	return mlf_buf_detach(&b);
bad:
	mlf_buf_release(&b);
	return NULL;
}

/* The decoded text of the first <tag> in [p, end), or NULL. */
static char *xml_get(const char *p, const char *end, const char *tag)
{
	const char *in, *after;
	size_t n;
	return xml_find(p, end, tag, &in, &n, &after) ? NULL : xml_text(in, n);
}

static int hexval(char c)
{
	return isdigit((unsigned char)c) ? c - '0'
	       : isxdigit((unsigned char)c) ? tolower((unsigned char)c) - 'a' + 10 : -1;
}

/* encoding-type=url: percent-decoded, '+' a space; NULL when broken or holding a NUL. */
static char *url_decode(const char *s)
{
	struct mlf_buf b = MLF_BUF_INIT;
	for (const char *p = s; *p; p++) {
		if (*p == '+') {
			mlf_buf_addc(&b, ' ');
		} else if (*p == '%') {
			int hi = p[1] ? hexval(p[1]) : -1, lo = hi >= 0 && p[2] ? hexval(p[2]) : -1;
			if (lo < 0 || (hi == 0 && lo == 0)) {
				mlf_buf_release(&b);
				return NULL;
			}
			mlf_buf_addc(&b, (char)(hi * 16 + lo));
			p += 2;
		} else {
			mlf_buf_addc(&b, *p);
		}
	}
	return mlf_buf_detach(&b);
}

void mlf_s3_listing_release(struct mlf_s3_listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i].key);
	free(l->items);
	free(l->next_token);
	memset(l, 0, sizeof(*l));
}

int mlf_s3_parse_listing(const char *xml, size_t len, int url_encoded, struct mlf_s3_listing *out,
			 struct mlf_error *err)
{
	const char *end = xml + len, *in, *after;
	size_t n;

	free(out->next_token);
	out->next_token = NULL;
	out->truncated = 0;
	if (xml_find(xml, end, "ListBucketResult", &in, &n, &after))
		return mlf_fail(err, MLF_EX_UNAVAILABLE, "S3 answered a listing without <ListBucketResult>");
	const char *lend = in + n;
	char *trunc = xml_get(in, lend, "IsTruncated");
	out->truncated = trunc && !strcmp(trunc, "true");
	free(trunc);
	if (out->truncated) {
		out->next_token = xml_get(in, lend, "NextContinuationToken");
		if (!out->next_token || !*out->next_token)
			return mlf_fail(err, MLF_EX_UNAVAILABLE,
					"S3 said the listing goes on but gave no continuation token");
	}
	for (const char *p = in; p < lend;) {
		const char *cin;
		size_t cn;
		if (xml_find(p, lend, "Contents", &cin, &cn, &after))
			break;
		p = after;
		char *raw = xml_get(cin, cin + cn, "Key"), *size = xml_get(cin, cin + cn, "Size");
		char *key = raw && url_encoded ? url_decode(raw) : raw ? mlf_xstrdup(raw) : NULL;
		char *e = NULL;
		long long sz = size ? strtoll(size, &e, 10) : -1;
		int ok = key && *key && size && *size && e && !*e && sz >= 0;
		free(raw);
		free(size);
		if (!ok) {
			free(key);
			return mlf_fail(err, MLF_EX_UNAVAILABLE,
					"S3 listed an object without a readable key and size");
		}
		if (out->n == out->cap) {
			out->cap = out->cap ? out->cap * 2 : 16;
			out->items = mlf_xrealloc(out->items, out->cap * sizeof(*out->items));
		}
		out->items[out->n].key = key;
		out->items[out->n].size = (int64_t)sz;
		out->n++;
	}
	return 0;
}

int mlf_s3_parse_error(const char *xml, size_t len, char **code, char **message)
{
	const char *in, *after;
	size_t n;
	*code = *message = NULL;
	if (xml_find(xml, xml + len, "Error", &in, &n, &after))
		return 0;
	*code = xml_get(in, in + n, "Code");
	*message = xml_get(in, in + n, "Message");
	return 1;
}

char *mlf_s3_parse_upload_id(const char *xml, size_t len)
{
	const char *in, *after;
	size_t n;
	if (xml_find(xml, xml + len, "InitiateMultipartUploadResult", &in, &n, &after))
		return NULL;
	char *id = xml_get(in, in + n, "UploadId");
	if (id && !*id) {
		free(id);
		id = NULL;
	}
	return id;
}

/* ---- AWS shared files ------------------------------------------------------ */

static const char *trim(const char *s, const char *end, const char **tend)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*tend = end;
	return s;
}

int mlf_aws_ini_get(const char *text, size_t len, const char *section, const char *key,
		    char **value)
{
	const char *p = text, *end = text + len;
	int in_section = 0;
	*value = NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *lend = nl ? nl : end, *tend;
		int indented = *p == ' ' || *p == '\t';
		const char *s = trim(p, lend, &tend);
		p = nl ? nl + 1 : end;
		if (s == tend || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			in_section = 0;
			if (tend[-1] != ']' || tend - s < 2)
				continue;
			const char *nend;
			const char *name = trim(s + 1, tend - 1, &nend);
			in_section = (size_t)(nend - name) == strlen(section) &&
				     !memcmp(name, section, (size_t)(nend - name));
			continue;
		}
		/* An indented line belongs to a nested block ("s3 =" then its settings): not ours. */
		const char *eq = memchr(s, '=', (size_t)(tend - s));
		if (!in_section || indented || !eq)
			continue;
		const char *kend;
		const char *k = trim(s, eq, &kend);
		if ((size_t)(kend - k) != strlen(key) || memcmp(k, key, (size_t)(kend - k)))
			continue;
		const char *vend;
		const char *v = trim(eq + 1, tend, &vend);
		if (memchr(v, '\0', (size_t)(vend - v)))
			return -1;
		*value = mlf_xstrndup(v, (size_t)(vend - v));
		return 1;  /* the first one counts */
	}
	return 0;
}
