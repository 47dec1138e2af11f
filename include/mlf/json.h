/*
 * JSON helpers on top of jansson, for the documents the programs pipe to each
 * other and for MLflow payloads.
 *
 * jansson cannot hold NaN or infinities as numbers; MLflow transports them as
 * the strings "NaN", "Infinity" and "-Infinity", and so do we.
 * Functions returning json_t * return a new reference.
 */
#ifndef MLF_JSON_H
#define MLF_JSON_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "mlf/error.h"

/* A double as a JSON number, or as "NaN" / "Infinity" / "-Infinity". */
json_t *mlf_json_double(double v);
/* Read a number or one of those strings (also numeric strings); -1 if neither. */
int mlf_json_to_double(const json_t *j, double *out);
/* Read an integer given as a number or a decimal string (MLflow's int64s); -1 if neither. */
int mlf_json_to_int64(const json_t *j, int64_t *out);
/* A string, or json null for NULL. */
json_t *mlf_json_string_or_null(const char *s);

/*
 * Write `doc` as one line to `out` and flush; fails with status 74 when the
 * stream cannot be written (a closed pipe, a full disk).
 */
int mlf_json_write_line(json_t *doc, FILE *out, struct mlf_error *err);

#endif
