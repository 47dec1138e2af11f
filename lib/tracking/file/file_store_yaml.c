/* YAML reading and writing for the file store (see file_store_yaml.h). */
#include "file_store_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- writing ------------------------------------------------------------ */

static int to_buf(void *data, unsigned char *bytes, size_t size)
{
	mlf_buf_add(data, bytes, size);
	return 1;
}

static int by_key(const void *a, const void *b)
{
	const struct mlf_fsyaml_item *x = a, *y = b;
	return strcmp(x->key, y->key);
}

static int by_kv_key(const void *a, const void *b)
{
	const struct mlf_kv *const *x = a, *const *y = b;
	return strcmp((*x)->key, (*y)->key);
}

static int emit_event(yaml_emitter_t *em, yaml_event_t *ev, int made)
{
	if (!made)
		return -1;
	return yaml_emitter_emit(em, ev) ? 0 : -1;
}

static int emit_scalar(yaml_emitter_t *em, const char *text, int quoted)
{
	yaml_event_t ev;
	int made = yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text,
						(int)strlen(text), !quoted, quoted,
						quoted ? YAML_SINGLE_QUOTED_SCALAR_STYLE
						       : YAML_PLAIN_SCALAR_STYLE);
	return emit_event(em, &ev, made);
}

static int emit_map(yaml_emitter_t *em, const struct mlf_kvs *map)
{
	yaml_event_t ev;
	size_t n = map ? map->n : 0;
	int rc = 0;

	if (emit_event(em, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
			n ? YAML_BLOCK_MAPPING_STYLE : YAML_FLOW_MAPPING_STYLE)))
		return -1;
	/* Sorted like PyYAML's sort_keys, through pointers so the caller's order stays. */
	const struct mlf_kv **sorted = mlf_xcalloc(n ? n : 1, sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = &map->items[i];
	qsort(sorted, n, sizeof(*sorted), by_kv_key);
	for (size_t i = 0; i < n && !rc; i++)
		rc = emit_scalar(em, sorted[i]->key, 1) || emit_scalar(em, sorted[i]->value, 1) ? -1 : 0;
	free(sorted);
	if (rc)
		return -1;
	return emit_event(em, &ev, yaml_mapping_end_event_initialize(&ev));
}

static int emit_value(yaml_emitter_t *em, const struct mlf_fsyaml_item *it)
{
	yaml_event_t ev;
	char num[32];

	switch (it->type) {
	case MLF_FSYAML_STR:
		return it->str ? emit_scalar(em, it->str, 1) : emit_scalar(em, "null", 0);
	case MLF_FSYAML_INT:
		snprintf(num, sizeof(num), "%" PRId64, it->num);
		return emit_scalar(em, num, 0);
	case MLF_FSYAML_NULL:
		return emit_scalar(em, "null", 0);
	case MLF_FSYAML_EMPTY_SEQ:
		if (emit_event(em, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
				YAML_FLOW_SEQUENCE_STYLE)))
			return -1;
		return emit_event(em, &ev, yaml_sequence_end_event_initialize(&ev));
	case MLF_FSYAML_MAP:
		return emit_map(em, it->map);
	}
	return -1;
}

int mlf_fsyaml_emit(struct mlf_fsyaml_item *items, size_t n, struct mlf_buf *out,
		    struct mlf_error *err)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	int rc = -1;

	qsort(items, n, sizeof(*items), by_key);
	if (!yaml_emitter_initialize(&em))
		return mlf_fail(err, MLF_EX_SOFTWARE, "cannot initialise the YAML writer");
	yaml_emitter_set_output(&em, to_buf, out);
	yaml_emitter_set_unicode(&em, 1);
	/* Never fold long values (6000-character params, long paths) over lines. */
	yaml_emitter_set_width(&em, -1);
	if (emit_event(&em, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING)) ||
	    emit_event(&em, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1)) ||
	    emit_event(&em, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
								     YAML_BLOCK_MAPPING_STYLE)))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (emit_scalar(&em, items[i].key, 0) || emit_value(&em, &items[i]))
			goto out;
	if (emit_event(&em, &ev, yaml_mapping_end_event_initialize(&ev)) ||
	    emit_event(&em, &ev, yaml_document_end_event_initialize(&ev, 1)) ||
	    emit_event(&em, &ev, yaml_stream_end_event_initialize(&ev)) ||
	    !yaml_emitter_flush(&em))
		goto out;
	rc = 0;
out:
	if (rc)
		mlf_fail(err, MLF_EX_DATAERR, "cannot write YAML: %s",
			 em.problem ? em.problem : "invalid value (not UTF-8?)");
	yaml_emitter_delete(&em);
	return rc;
}

/* ---- reading ------------------------------------------------------------ */

int mlf_fsyaml_load(const char *path, const char *data, size_t len,
		    struct mlf_fsyaml_doc *d, struct mlf_error *err)
{
	yaml_parser_t parser;

	memset(d, 0, sizeof(*d));
	if (!yaml_parser_initialize(&parser))
		return mlf_fail(err, MLF_EX_SOFTWARE, "cannot initialise the YAML parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	if (!yaml_parser_load(&parser, &d->doc)) {
		mlf_fail(err, MLF_EX_DATAERR, "'%s' is not valid YAML (line %zu: %s); "
			 "the file is damaged or was cut short", path,
			 parser.problem_mark.line + 1, parser.problem ? parser.problem : "parse error");
		yaml_parser_delete(&parser);
		return -1;
	}
	yaml_parser_delete(&parser);
	d->loaded = 1;
	yaml_node_t *root = yaml_document_get_root_node(&d->doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		mlf_fsyaml_free(d);
		return mlf_fail(err, MLF_EX_DATAERR, "'%s' %s; the file is damaged or was cut short",
				path, root ? "does not hold a YAML mapping" : "is empty");
	}
	return 0;
}

void mlf_fsyaml_free(struct mlf_fsyaml_doc *d)
{
	if (d->loaded)
		yaml_document_delete(&d->doc);
	d->loaded = 0;
}

static yaml_node_t *lookup(struct mlf_fsyaml_doc *d, const char *key)
{
	yaml_node_t *root = yaml_document_get_root_node(&d->doc);
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE &&
		    k->data.scalar.length == strlen(key) &&
		    !memcmp(k->data.scalar.value, key, k->data.scalar.length))
			return yaml_document_get_node(&d->doc, p->value);
	}
	return NULL;
}

/* A plain scalar YAML 1.1 reads as null. */
static int plain_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (n->data.scalar.length == strlen(nulls[i]) &&
		    !memcmp(n->data.scalar.value, nulls[i], n->data.scalar.length))
			return 1;
	return 0;
}

int mlf_fsyaml_get_str(struct mlf_fsyaml_doc *d, const char *path, const char *key,
		       char **out, struct mlf_error *err)
{
	yaml_node_t *n = lookup(d, key);
	*out = NULL;
	if (!n)
		return 0;
	if (n->type != YAML_SCALAR_NODE)
		return mlf_fail(err, MLF_EX_DATAERR, "'%s': '%s' is not a single value", path, key);
	if (plain_null(n))
		return 0;
	if (memchr(n->data.scalar.value, '\0', n->data.scalar.length))
		return mlf_fail(err, MLF_EX_DATAERR, "'%s': '%s' holds a NUL character", path, key);
	*out = mlf_xstrndup((const char *)n->data.scalar.value, n->data.scalar.length);
	return 1;
}

int mlf_fsyaml_get_int(struct mlf_fsyaml_doc *d, const char *path, const char *key,
		       int64_t *out, struct mlf_error *err)
{
	char *s = NULL;
	int rc = mlf_fsyaml_get_str(d, path, key, &s, err);
	if (rc <= 0)
		return rc;
	if (mlf_parse_int64(s, out)) {
		mlf_fail(err, MLF_EX_DATAERR, "'%s': '%s' is '%s', not an integer", path, key, s);
		free(s);
		return -1;
	}
	free(s);
	return 1;
}
