/* Text on a figure through cairo's toy font API (lib/plot/plot_internal.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "plot_internal.h"

/* The box plot_text aligns: from the cap line to just under the baseline
 * (descenders hang out), so digits and capitals centre where they look centred. */
#define CAP 0.74
#define BOX 0.76

/* Length of the valid UTF-8 sequence at s, or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, min = 0x10000;
	else
		return 0;
	unsigned cp = c & (0x3f >> (n - 1));
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

char *plot_utf8_clean(const char *s)
{
	struct mlf_buf b = MLF_BUF_INIT;
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (*p) {
		size_t n = utf8_len(p);
		if (!n || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
			mlf_buf_addc(&b, '?');
			p++;
			continue;
		}
		mlf_buf_add(&b, p, n);
		p += n;
	}
	return mlf_buf_detach(&b);
}

static void set_font(struct plot_fig *f, const struct plot_font *font)
{
	cairo_select_font_face(f->cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
			       font->bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(f->cr, font->size);
}

/* Width of a string already known to be clean. */
static double clean_width(struct plot_fig *f, const struct plot_font *font, const char *s)
{
	cairo_text_extents_t e;
	set_font(f, font);
	cairo_text_extents(f->cr, s, &e);
	return e.x_advance;
}

double plot_text_width(struct plot_fig *f, const struct plot_font *font, const char *s)
{
	char *c = plot_utf8_clean(s);
	double w = clean_width(f, font, c);
	free(c);
	return w;
}

double plot_text_height(const struct plot_font *font)
{
	return font->size * BOX;
}

char *plot_text_fit(struct plot_fig *f, const struct plot_font *font, const char *s, double maxw)
{
	char *c = plot_utf8_clean(s);
	if (clean_width(f, font, c) <= maxw)
		return c;
	/* keep the longest prefix (whole characters) that fits with "..." after it */
	size_t len = strlen(c), keep = 0;
	char *out = mlf_xmalloc(len + 4);
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len((const unsigned char *)c + i);
		memcpy(out, c, i + n);
		memcpy(out + i + n, "...", 4);
		if (clean_width(f, font, out) > maxw)
			break;
		i += n;
		keep = i;
	}
	memcpy(out, c, keep);
	memcpy(out + keep, "...", 4);
	free(c);
	return out;
}

void plot_text(struct plot_fig *f, const struct plot_font *font, double x, double y, double ax, double ay,
	       double angle, const char *s)
{
	char *c = plot_utf8_clean(s);
	double w = clean_width(f, font, c);
	cairo_t *cr = f->cr;
	cairo_save(cr);
	cairo_translate(cr, x, y);
	cairo_rotate(cr, -angle * M_PI / 180);
	cairo_move_to(cr, -ax * w, -ay * font->size * BOX + font->size * CAP);
	cairo_set_source_rgb(cr, font->color.r, font->color.g, font->color.b);
	cairo_show_text(cr, c);
	cairo_new_path(cr);
	cairo_restore(cr);
	free(c);
}

void plot_textf(struct plot_fig *f, const struct plot_font *font, double x, double y, double ax, double ay,
		double angle, const char *fmt, ...)
{
	struct mlf_buf b = MLF_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	mlf_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	plot_text(f, font, x, y, ax, ay, angle, b.data);
	mlf_buf_release(&b);
}
