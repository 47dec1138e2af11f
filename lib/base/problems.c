#include "mlf/base.h"

#include <stdarg.h>
#include <stdlib.h>


void mlf_problems_add(struct mlf_problems *p, const char *file, const char *field,
		      const char *fmt, ...)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->items = mlf_xrealloc(p->items, p->cap * sizeof(*p->items));
	}
	struct mlf_buf msg = MLF_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	mlf_buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	/* names from the file system need not be UTF-8; the record (JSON) must be */
	p->items[p->n].file = mlf_utf8_escape(file ? file : "");
	p->items[p->n].field = field ? mlf_utf8_escape(field) : NULL;
	p->items[p->n].message = mlf_utf8_escape(msg.data);
	mlf_buf_release(&msg);
	p->n++;
}

void mlf_problems_release(struct mlf_problems *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->items[i].file);
		free(p->items[i].field);
		free(p->items[i].message);
	}
	free(p->items);
	p->items = NULL;
	p->n = p->cap = 0;
}

json_t *mlf_problems_json(const struct mlf_problems *p)
{
	json_t *a = json_array();
	for (size_t i = 0; i < p->n; i++)
		json_array_append_new(a, json_pack("{s:s, s:o, s:s}", "file", p->items[i].file,
						   "field", mlf_json_string_or_null(p->items[i].field),
						   "message", p->items[i].message));
	return a;
}

void mlf_problems_print(const struct mlf_problems *p, FILE *out, size_t max)
{
	size_t shown = max && max < p->n ? max : p->n;
	for (size_t i = 0; i < shown; i++) {
		const struct mlf_problem *x = &p->items[i];
		if (x->field)
			fprintf(out, "  %s: %s: %s\n", x->file, x->field, x->message);
		else
			fprintf(out, "  %s: %s\n", x->file, x->message);
	}
	if (shown < p->n)
		fprintf(out, "  ... and %zu more\n", p->n - shown);
}
