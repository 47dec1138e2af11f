/*
 * YOLO label files, checked as Ultralytics 8.4.190's verify_image_label
 * checks them (ultralytics/data/utils.py); see mlf_labels_parse in
 * include/mlf/data.h for the rules.  Values are parsed to double and
 * kept as float32, as np.array(..., dtype=np.float32) keeps them, and the
 * limits are compared in float32 (numpy compares a float32 array with a
 * Python float in float32).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/data.h"

struct row {
	float v[5];     /* class, cx, cy, w, h */
};

struct rows {
	struct row *r;
	size_t n, cap;
};

static int why_set(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int why_set(char *why, size_t len, const char *fmt, ...)
{
	if (why && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

/* One line's tokens as numbers; -1 when one is not a number. */
static int parse_tokens(const char *p, const char *end, double **vals, size_t *n, size_t *cap, char *bad,
			size_t bad_len)
{
	*n = 0;
	while (p < end) {
		while (p < end && is_space(*p))
			p++;
		if (p >= end)
			break;
		const char *t = p;
		while (p < end && !is_space(*p))
			p++;
		char tok[64];
		size_t tl = (size_t)(p - t);
		char *stop = NULL;
		double v = 0;
		if (tl < sizeof(tok)) {
			memcpy(tok, t, tl);
			tok[tl] = '\0';
			v = strtod(tok, &stop);
		}
		/* Python's float() takes no hexadecimal, strtod does */
		if (tl >= sizeof(tok) || stop != tok + tl || strpbrk(tok, "xX")) {
			snprintf(bad, bad_len, "%.*s", (int)(tl > 40 ? 40 : tl), t);
			return -1;
		}
		if (*n == *cap) {
			*cap = *cap ? 2 * *cap : 16;
			*vals = mlf_xrealloc(*vals, *cap * sizeof(**vals));
		}
		(*vals)[(*n)++] = v;
	}
	return 0;
}

static void rows_push(struct rows *rs, const float v[5])
{
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? 2 * rs->cap : 8;
		rs->r = mlf_xrealloc(rs->r, rs->cap * sizeof(*rs->r));
	}
	memcpy(rs->r[rs->n++].v, v, sizeof(rs->r[0].v));
}

/* A polygon row "class x1 y1 ...": its class and the xywh of its extent
 * (segments2boxes: min/max, then xyxy2xywh in float32). */
static int polygon_row(const double *t, size_t n, float out[5], char *why, size_t why_len)
{
	if (n < 3 || (n - 1) % 2)
		return why_set(why, why_len, "a polygon row needs pairs of coordinates, %zu values given", n - 1);
	float x1 = (float)t[1], y1 = (float)t[2], x2 = x1, y2 = y1;
	for (size_t i = 1; i + 1 < n; i += 2) {
		float x = (float)t[i], y = (float)t[i + 1];
		/* numpy's min/max propagate NaN; the value checks then reject it */
		if (isnan(x) || isnan(y)) {
			x1 = x2 = y1 = y2 = NAN;
			break;
		}
		x1 = x < x1 ? x : x1;
		x2 = x > x2 ? x : x2;
		y1 = y < y1 ? y : y1;
		y2 = y > y2 ? y : y2;
	}
	out[0] = (float)t[0];
	out[1] = (x1 + x2) / 2;
	out[2] = (y1 + y2) / 2;
	out[3] = x2 - x1;
	out[4] = y2 - y1;
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	for (int k = 0; k < 5; k++)
		if (x->v[k] != y->v[k])
			return x->v[k] < y->v[k] ? -1 : 1;
	return 0;
}

struct indexed {
	struct row r;
	size_t i;
};

static int indexed_cmp(const void *a, const void *b)
{
	const struct indexed *x = a, *y = b;
	int c = row_cmp(&x->r, &y->r);
	return c ? c : (x->i < y->i ? -1 : x->i > y->i);
}

/* np.unique(lb, axis=0, return_index=True) and lb[i] when rows repeat:
 * the first of each distinct row, in sorted order.  Returns the count removed. */
static size_t drop_duplicates(struct rows *rs)
{
	struct indexed *ix = mlf_xmalloc(rs->n * sizeof(*ix));
	for (size_t i = 0; i < rs->n; i++) {
		ix[i].r = rs->r[i];
		ix[i].i = i;
	}
	qsort(ix, rs->n, sizeof(*ix), indexed_cmp);
	size_t kept = 0;
	for (size_t i = 0; i < rs->n; i++)
		if (i == 0 || row_cmp(&ix[i].r, &ix[i - 1].r))
			ix[kept++] = ix[i];
	size_t removed = rs->n - kept;
	if (removed) {  /* otherwise the file's order stays, as in Ultralytics */
		for (size_t i = 0; i < kept; i++)
			rs->r[i] = ix[i].r;
		rs->n = kept;
	}
	free(ix);
	return removed;
}

static int check_rows(const struct rows *rs, int nc, int single_cls, char *why, size_t why_len)
{
	float pmax = -INFINITY, lmin = INFINITY, whmin = INFINITY, cmax = -INFINITY;
	for (size_t i = 0; i < rs->n; i++) {
		const float *v = rs->r[i].v;
		for (int k = 0; k < 5; k++) {
			if (isnan(v[k]))
				return why_set(why, why_len, "a label value is not a number (row %zu)", i + 1);
			if (k && v[k] > pmax)
				pmax = v[k];
			if (v[k] < lmin)
				lmin = v[k];
		}
		whmin = fminf(whmin, fminf(v[3], v[4]));
		cmax = v[0] > cmax ? v[0] : cmax;
	}
	if (!(pmax <= 1.01f))
		return why_set(why, why_len, "non-normalized or out of bounds coordinates (largest %g)", pmax);
	if (!(lmin >= 0 || (lmin >= -0.01f && whmin >= 0)))
		return why_set(why, why_len, "negative label values (smallest %g)", lmin);
	for (size_t i = 0; i < rs->n; i++) {
		float c = rs->r[i].v[0];
		if (!isfinite(c) || fmodf(c, 1.0f) != 0)
			return why_set(why, why_len, "non-integer class label %g (row %zu)", c, i + 1);
	}
	if (!single_cls && !(cmax < (float)nc))
		return why_set(why, why_len, "Label class %d exceeds dataset class count %d. Possible class labels "
			       "are 0-%d", (int)cmax, nc, nc - 1);
	return 0;
}

int mlf_labels_parse(const char *text, size_t len, int nc, int single_cls, struct mlf_object **objs, size_t *n,
		     size_t *duplicates, char *why, size_t why_len)
{
	*objs = NULL;
	*n = 0;
	if (duplicates)
		*duplicates = 0;
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
		text += 3;
		len -= 3;
	}

	/* the lines' tokens, kept until we know whether any row is a polygon */
	struct line {
		double *v;
		size_t n;
	} *lines = NULL;
	size_t nlines = 0, lcap = 0, longest = 0;
	int five = 0, rc = 0;
	const char *p = text, *end = text + len;
	while (p < end && !rc) {
		const char *e = p;
		while (e < end && *e != '\n' && *e != '\r')
			e++;
		double *v = NULL;
		size_t nv = 0, cap = 0;
		char bad[48];
		if (parse_tokens(p, e, &v, &nv, &cap, bad, sizeof(bad))) {
			rc = why_set(why, why_len, "could not convert string to float: '%s'", bad);
		} else if (nv) {
			if (nlines == lcap) {
				lcap = lcap ? 2 * lcap : 16;
				lines = mlf_xrealloc(lines, lcap * sizeof(*lines));
			}
			lines[nlines].v = v;
			lines[nlines++].n = nv;
			v = NULL;
			longest = nv > longest ? nv : longest;
			five |= nv == 5;
		}
		free(v);
		p = e + 1;
	}

	struct rows rs = { NULL, 0, 0 };
	if (!rc && longest > 6) {   /* polygons */
		if (five)
			rc = why_set(why, why_len, "labels mix segment and detection rows");
		for (size_t i = 0; i < nlines && !rc; i++) {
			float row[5];
			rc = polygon_row(lines[i].v, lines[i].n, row, why, why_len);
			if (!rc)
				rows_push(&rs, row);
		}
	} else if (!rc) {
		for (size_t i = 0; i < nlines && !rc; i++) {
			if (lines[i].n != lines[0].n)
				rc = why_set(why, why_len, "rows have different numbers of columns (%zu and %zu)",
					     lines[0].n, lines[i].n);
			else if (lines[i].n != 5)
				rc = why_set(why, why_len, "labels require 5 columns, %zu columns detected",
					     lines[i].n);
			else {
				float row[5];
				for (int k = 0; k < 5; k++)
					row[k] = (float)lines[i].v[k];
				rows_push(&rs, row);
			}
		}
	}
	for (size_t i = 0; i < nlines; i++)
		free(lines[i].v);
	free(lines);

	if (!rc && rs.n) {
		rc = check_rows(&rs, nc, single_cls, why, why_len);
		if (!rc) {
			size_t d = drop_duplicates(&rs);
			if (duplicates)
				*duplicates = d;
		}
	}
	if (!rc && rs.n) {
		*objs = mlf_xmalloc(rs.n * sizeof(**objs));
		for (size_t i = 0; i < rs.n; i++) {
			const float *v = rs.r[i].v;
			(*objs)[i] = (struct mlf_object){ single_cls ? 0 : (int)v[0], v[1], v[2], v[3], v[4] };
		}
		*n = rs.n;
	}
	free(rs.r);
	return rc;
}
