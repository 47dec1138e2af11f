#include "mlf/data.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "mlf/base.h"

int mlf_is_image_name(const char *name)
{
	static const char *const exts[] = { "bmp", "dng", "jpeg", "jpg", "mpo", "png",
					    "tif", "tiff", "webp", "pfm", "heic" };
	const char *dot = strrchr(name, '.');
	if (!dot)
		return 0;
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (!strcasecmp(dot + 1, exts[i]))
			return 1;
	return 0;
}

char *mlf_label_path_for(const char *image)
{
	struct mlf_buf b = MLF_BUF_INIT;
	const char *last = NULL;
	for (const char *p = strstr(image, "/images/"); p; p = strstr(p + 1, "/images/"))
		last = p;
	const char *dot = strrchr(image, '.');
	const char *slash = strrchr(image, '/');
	size_t stem_end = dot && (!slash || dot > slash) ? (size_t)(dot - image) : strlen(image);
	if (last) {
		mlf_buf_add(&b, image, (size_t)(last - image));
		mlf_buf_adds(&b, "/labels/");
		const char *rest = last + strlen("/images/");
		mlf_buf_add(&b, rest, stem_end - (size_t)(rest - image));
	} else {
		mlf_buf_add(&b, image, stem_end);
	}
	mlf_buf_adds(&b, ".txt");
	return mlf_buf_detach(&b);
}

static void list_add(struct mlf_image_list *l, char *moved)
{
	l->paths = mlf_xrealloc(l->paths, (l->n + 1) * sizeof(*l->paths));
	l->paths[l->n++] = moved;
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* mlf_walk_tree callback: an image file of a train/val folder. */
static int add_image(const char *path, const char *rel, void *l, struct mlf_error *err)
{
	(void)err;
	const char *slash = strrchr(rel, '/');
	if (mlf_is_image_name(slash ? slash + 1 : rel))
		list_add(l, mlf_xstrdup(path));
	return 0;
}

static int read_list_file(const char *txt, struct mlf_image_list *l, struct mlf_error *err)
{
	char *data = NULL, *save = NULL;
	if (mlf_read_file(txt, &data, NULL, err))
		return -1;
	char *base = mlf_xstrdup(txt);
	char *slash = strrchr(base, '/');
	if (slash)
		*slash = '\0';
	for (char *line = strtok_r(data, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#')
			continue;
		list_add(l, mlf_path_absolute(base, line));
	}
	free(base);
	free(data);
	return 0;
}

/* One train/val entry: a folder or a .txt list, relative to the root. */
static int add_source(const char *root, const char *value, struct mlf_image_list *l,
		      const char *yaml, const char *key, struct mlf_error *err)
{
	char *p = mlf_path_absolute(root, value);
	/* Hidden names skipped; linked folders descended (an image folder may be made of links). */
	struct mlf_walk images = { .flags = MLF_WALK_NO_HIDDEN | MLF_WALK_FOLLOW_DIRS,
				   .on_file = add_image, .ctx = l };
	int rc;
	if (mlf_is_dir(p))
		rc = mlf_walk_tree(p, &images, err);
	else if (mlf_is_file(p) && strlen(p) > 4 && !strcmp(p + strlen(p) - 4, ".txt"))
		rc = read_list_file(p, l, err);
	else
		rc = mlf_fail(err, MLF_EX_NOINPUT, "%s: %s '%s' is neither an image folder nor a "
			      ".txt list (looked at %s)", yaml, key, value, p);
	free(p);
	return rc;
}

static int load_split(yaml_document_t *doc, yaml_node_t *node, const char *root,
		      const char *yaml, const char *key, struct mlf_image_list *l,
		      struct mlf_error *err)
{
	if (!node)
		return mlf_fail(err, MLF_EX_DATAERR, "%s: no '%s' key", yaml, key);
	if (node->type == YAML_SCALAR_NODE) {
		if (add_source(root, (char *)node->data.scalar.value, l, yaml, key, err))
			return -1;
	} else if (node->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = node->data.sequence.items.start;
		     i < node->data.sequence.items.top; i++) {
			yaml_node_t *item = yaml_document_get_node(doc, *i);
			if (item->type != YAML_SCALAR_NODE)
				return mlf_fail(err, MLF_EX_DATAERR, "%s:%zu: %s entries must be paths", yaml,
						item->start_mark.line + 1, key);
			if (add_source(root, (char *)item->data.scalar.value, l, yaml, key, err))
				return -1;
		}
	} else {
		return mlf_fail(err, MLF_EX_DATAERR, "%s:%zu: %s must be a path or a list of paths",
				yaml, node->start_mark.line + 1, key);
	}
	if (l->n)
		qsort(l->paths, l->n, sizeof(*l->paths), by_string);
	return 0;
}

static int load_names(yaml_document_t *doc, yaml_node_t *node, const char *yaml,
		      struct mlf_class_names *c, struct mlf_error *err)
{
	if (!node)
		return mlf_fail(err, MLF_EX_DATAERR, "%s: no 'names' key; the class names are needed", yaml);
	if (node->type == YAML_SEQUENCE_NODE) {
		size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
		c->names = mlf_xcalloc(n ? n : 1, sizeof(char *));
		for (size_t i = 0; i < n; i++) {
			yaml_node_t *item = yaml_document_get_node(doc, node->data.sequence.items.start[i]);
			if (item->type != YAML_SCALAR_NODE)
				return mlf_fail(err, MLF_EX_DATAERR, "%s:%zu: class names must be strings",
						yaml, item->start_mark.line + 1);
			c->names[c->n++] = mlf_xstrdup((char *)item->data.scalar.value);
		}
		return 0;
	}
	if (node->type != YAML_MAPPING_NODE)
		return mlf_fail(err, MLF_EX_DATAERR, "%s:%zu: names must be a list or a mapping id: name",
				yaml, node->start_mark.line + 1);
	size_t n = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
	c->names = mlf_xcalloc(n ? n : 1, sizeof(char *));
	c->n = n;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		yaml_node_t *v = yaml_document_get_node(doc, p->value);
		char *end = NULL;
		long id = k->type == YAML_SCALAR_NODE ? strtol((char *)k->data.scalar.value, &end, 10) : -1;
		if (!end || *end || id < 0 || (size_t)id >= n || c->names[id] || v->type != YAML_SCALAR_NODE)
			return mlf_fail(err, MLF_EX_DATAERR, "%s:%zu: names must map the ids 0..%zu, each "
					"once, to a name", yaml, k->start_mark.line + 1, n - 1);
		c->names[id] = mlf_xstrdup((char *)v->data.scalar.value);
	}
	return 0;
}

static yaml_node_t *get_key(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		if (k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

int mlf_data_yaml_load(const char *path, struct mlf_data_yaml *out, struct mlf_error *err)
{
	memset(out, 0, sizeof(*out));
	out->file = mlf_path_absolute(NULL, path);
	FILE *f = fopen(out->file, "rb");
	if (!f) {
		mlf_fail_errno(err, MLF_EX_NOINPUT, "cannot read dataset description '%s'", out->file);
		mlf_data_yaml_release(out);
		return -1;
	}
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	int loaded = yaml_parser_load(&parser, &doc);
	int rc = 0;
	if (!loaded) {
		rc = mlf_fail(err, MLF_EX_DATAERR, "%s:%zu: malformed YAML: %s", out->file,
			      parser.problem_mark.line + 1, parser.problem ? parser.problem : "parse error");
	} else {
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (!root || root->type != YAML_MAPPING_NODE) {
			rc = mlf_fail(err, MLF_EX_DATAERR, "%s: not a mapping of keys to values", out->file);
		} else {
			char *dir = mlf_xstrdup(out->file);
			*strrchr(dir, '/') = '\0';
			yaml_node_t *p = get_key(&doc, root, "path");
			out->root = p && p->type == YAML_SCALAR_NODE && *p->data.scalar.value
				? mlf_path_absolute(dir, (char *)p->data.scalar.value) : mlf_xstrdup(dir);
			free(dir);
			yaml_node_t *val = get_key(&doc, root, "val");
			if (!val)
				val = get_key(&doc, root, "validation");
			rc = load_names(&doc, get_key(&doc, root, "names"), out->file, &out->classes, err);
			if (!rc)
				rc = load_split(&doc, get_key(&doc, root, "train"), out->root, out->file,
						"train", &out->train, err);
			if (!rc)
				rc = load_split(&doc, val, out->root, out->file, "val", &out->val, err);
			yaml_node_t *nc = get_key(&doc, root, "nc");
			if (!rc && nc && nc->type == YAML_SCALAR_NODE &&
			    strtol((char *)nc->data.scalar.value, NULL, 10) != (long)out->classes.n)
				rc = mlf_fail(err, MLF_EX_DATAERR, "%s: nc is %s but names lists %zu classes",
					      out->file, (char *)nc->data.scalar.value, out->classes.n);
		}
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	if (rc)
		mlf_data_yaml_release(out);  /* a failure leaves nothing to free */
	return rc;
}

void mlf_data_yaml_release(struct mlf_data_yaml *d)
{
	struct mlf_image_list *lists[2] = { &d->train, &d->val };
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < lists[k]->n; i++)
			free(lists[k]->paths[i]);
		free(lists[k]->paths);
	}
	mlf_class_names_release(&d->classes);
	free(d->file);
	free(d->root);
	memset(d, 0, sizeof(*d));
}
