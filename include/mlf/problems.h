/*
 * A list of problems found in input data, collected rather than stopping at
 * the first, so one run tells the operator everything to fix.  Each names the
 * file, optionally the field, and what is wrong.
 *
 * The list owns its strings; mlf_problems_release() frees them.
 */
#ifndef MLF_PROBLEMS_H
#define MLF_PROBLEMS_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

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

#endif
