#include "mlf/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "mlf/base.h"
#include "mlf/tracking.h"

static int key_index(const char *name)
{
	for (unsigned i = 0; i < mlf_config_nkeys; i++)
		if (!strcmp(mlf_config_keys[i].name, name))
			return (int)i;
	return -1;
}

int mlf_parse_bool(const char *s)
{
	if (!s)
		return -1;
	if (!strcasecmp(s, "true") || !strcmp(s, "1"))
		return 1;
	if (!strcasecmp(s, "false") || !strcmp(s, "0"))
		return 0;
	return -1;
}

/* YAML's own spellings of booleans are accepted in mlf.yaml on top of MLflow's. */
static int parse_yaml_bool(const char *s)
{
	int b = mlf_parse_bool(s);
	if (b >= 0)
		return b;
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "on"))
		return 1;
	if (!strcasecmp(s, "no") || !strcasecmp(s, "off"))
		return 0;
	return -1;
}

/* Check `text` against the key's type; `where` names the source in messages. */
static int check_value(const struct mlf_config_key *k, const char *text, const char *where,
		       struct mlf_error *err)
{
	char *end;
	switch (k->type) {
	case MLF_CFG_INT: {
		int64_t v;
		if (mlf_parse_int64(text, &v))
			return mlf_fail(err, MLF_EX_CONFIG, "%s: %s must be a whole number, not '%s'",
					where, k->name, text);
		if (k->min != k->max && (v < k->min || v > k->max))
			return mlf_fail(err, MLF_EX_CONFIG, "%s: %s must be between %g and %g, not %lld",
					where, k->name, k->min, k->max, (long long)v);
		return 0;
	}
	case MLF_CFG_FLOAT: {
		errno = 0;
		double v = strtod(text, &end);
		if (errno || end == text || *end || !isfinite(v))
			return mlf_fail(err, MLF_EX_CONFIG, "%s: %s must be a number, not '%s'",
					where, k->name, text);
		if (k->min != k->max && (v < k->min || v > k->max))
			return mlf_fail(err, MLF_EX_CONFIG, "%s: %s must be between %g and %g, not %s",
					where, k->name, k->min, k->max, text);
		return 0;
	}
	case MLF_CFG_BOOL:
		if (parse_yaml_bool(text) < 0)
			return mlf_fail(err, MLF_EX_CONFIG, "%s: %s must be true or false, not '%s'",
					where, k->name, text);
		return 0;
	default:
		if (!*text)
			return mlf_fail(err, MLF_EX_CONFIG, "%s: %s is empty", where, k->name);
		return 0;
	}
}

static void store(struct mlf_config *cfg, int i, const char *value, const char *origin)
{
	free(cfg->values[i]);
	free(cfg->origins[i]);
	cfg->values[i] = mlf_xstrdup(value);
	cfg->origins[i] = mlf_xstrdup(origin);
}

int mlf_config_set(struct mlf_config *cfg, const char *name, const char *value,
		   const char *origin, struct mlf_error *err)
{
	int i = key_index(name);
	if (i < 0)
		return mlf_fail(err, MLF_EX_CONFIG, "%s: unknown configuration key '%s' "
				"(see examples/mlf.yaml for the keys)", origin, name);
	if (check_value(&mlf_config_keys[i], value, origin, err))
		return -1;
	store(cfg, i, value, origin);
	return 0;
}

int mlf_config_set_pair(struct mlf_config *cfg, const char *pair, struct mlf_error *err)
{
	const char *eq = strchr(pair, '=');
	if (!eq || eq == pair)
		return mlf_fail(err, MLF_EX_USAGE, "--set wants KEY=VALUE, not '%s'", pair);
	char *name = mlf_xstrndup(pair, (size_t)(eq - pair));
	int rc = mlf_config_set(cfg, name, eq + 1, "--set", err);
	free(name);
	return rc;
}

/* ---- mlf.yaml ---------------------------------------------------------- */

struct yaml_walk {
	struct mlf_config *cfg;
	const char *file;
	yaml_document_t *doc;
	struct mlf_error *err;
};

static int walk_mapping(struct yaml_walk *w, yaml_node_t *map, const char *prefix);

static int is_yaml_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static int walk_pair(struct yaml_walk *w, yaml_node_t *knode, yaml_node_t *vnode, const char *prefix)
{
	unsigned line = (unsigned)knode->start_mark.line + 1;
	char where[512];
	if (knode->type != YAML_SCALAR_NODE)
		return mlf_fail(w->err, MLF_EX_CONFIG, "%s:%u: keys must be plain words", w->file, line);
	char *name = prefix ? mlf_xasprintf("%s.%s", prefix, (char *)knode->data.scalar.value)
			    : mlf_xstrdup((char *)knode->data.scalar.value);
	snprintf(where, sizeof(where), "%s:%u", w->file, line);
	int rc = 0;
	int i = key_index(name);
	/* A section: some key must start with "name." */
	size_t n = strlen(name);
	int is_section = 0;
	for (unsigned k = 0; k < mlf_config_nkeys && !is_section; k++)
		is_section = !strncmp(mlf_config_keys[k].name, name, n) &&
			     mlf_config_keys[k].name[n] == '.';
	if (is_section && vnode->type == YAML_SCALAR_NODE && is_yaml_null(vnode)) {
		rc = 0;  /* an empty section, all of it commented out */
	} else if (vnode->type == YAML_MAPPING_NODE) {
		if (!is_section)
			rc = mlf_fail(w->err, MLF_EX_CONFIG, i >= 0 ?
				      "%s: %s must be a single value, not a mapping" :
				      "%s: unknown configuration section or key '%s'", where, name);
		else
			rc = walk_mapping(w, vnode, name);
	} else if (i < 0) {
		rc = mlf_fail(w->err, MLF_EX_CONFIG, "%s: unknown configuration key '%s' "
			      "(see examples/mlf.yaml for the keys)", where, name);
	} else if (vnode->type != YAML_SCALAR_NODE) {
		rc = mlf_fail(w->err, MLF_EX_CONFIG, "%s: %s must be a single value, not a list",
			      where, name);
	} else if (!is_yaml_null(vnode)) {
		const char *value = (const char *)vnode->data.scalar.value;
		rc = check_value(&mlf_config_keys[i], value, where, w->err);
		if (!rc)
			store(w->cfg, i, value, where);
	}
	free(name);
	return rc;
}

static int walk_mapping(struct yaml_walk *w, yaml_node_t *map, const char *prefix)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
		/* Duplicate keys are a mistake YAML parsers let through silently. */
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *qk = yaml_document_get_node(w->doc, q->key);
			if (k->type == YAML_SCALAR_NODE && qk->type == YAML_SCALAR_NODE &&
			    !strcmp((char *)k->data.scalar.value, (char *)qk->data.scalar.value))
				return mlf_fail(w->err, MLF_EX_CONFIG, "%s:%u: key '%s' appears twice",
						w->file, (unsigned)k->start_mark.line + 1,
						(char *)k->data.scalar.value);
		}
		if (walk_pair(w, k, v, prefix))
			return -1;
	}
	return 0;
}

static int load_file(struct mlf_config *cfg, const char *path, struct mlf_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return mlf_fail_errno(err, MLF_EX_CONFIG, "cannot read configuration '%s'", path);
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc = 0;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = mlf_fail(err, MLF_EX_CONFIG, "%s:%zu:%zu: malformed YAML: %s", path,
			      parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			      parser.problem ? parser.problem : "parse error");
		yaml_parser_delete(&parser);
		fclose(f);
		return rc;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root && root->type == YAML_MAPPING_NODE) {
		struct yaml_walk w = { cfg, path, &doc, err };
		rc = walk_mapping(&w, root, NULL);
	} else if (root && !(root->type == YAML_SCALAR_NODE && is_yaml_null(root))) {
		rc = mlf_fail(err, MLF_EX_CONFIG, "%s:%zu: the configuration must be a mapping of "
			      "keys to values", path, root->start_mark.line + 1);
	}
	yaml_document_delete(&doc);
	/* A second document in the file would be ignored silently: refuse it. */
	if (!rc && yaml_parser_load(&parser, &doc)) {
		if (yaml_document_get_root_node(&doc))
			rc = mlf_fail(err, MLF_EX_CONFIG, "%s: holds more than one YAML document", path);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}

/* ---- environment ------------------------------------------------------- */

static char *env_name(const struct mlf_config_key *k)
{
	if (k->env)
		return mlf_xstrdup(k->env);
	char *name = mlf_xasprintf("MLF_%s", k->name);
	for (char *p = name; *p; p++)
		*p = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
	return name;
}

static int load_env(struct mlf_config *cfg, struct mlf_error *err)
{
	for (unsigned i = 0; i < mlf_config_nkeys; i++) {
		char *name = env_name(&mlf_config_keys[i]);
		const char *v = getenv(name);
		int rc = 0;
		if (v && *v) {  /* an empty variable counts as unset, as in MLflow */
			char *where = mlf_xasprintf("environment variable %s", name);
			rc = check_value(&mlf_config_keys[i], v, where, err);
			if (!rc)
				store(cfg, (int)i, v, where);
			free(where);
		}
		free(name);
		if (rc)
			return -1;
	}
	return 0;
}

int mlf_config_load(struct mlf_config *cfg, const char *workspace, const char *file,
		    struct mlf_error *err)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->values = mlf_xcalloc(mlf_config_nkeys, sizeof(char *));
	cfg->origins = mlf_xcalloc(mlf_config_nkeys, sizeof(char *));
	if (!workspace)
		workspace = getenv("MLF_WORKSPACE");
	cfg->workspace = mlf_path_absolute(NULL, workspace && *workspace ? workspace : ".");
	if (!mlf_is_dir(cfg->workspace))
		return mlf_fail(err, MLF_EX_CONFIG, "workspace '%s' is not a folder", cfg->workspace);

	for (unsigned i = 0; i < mlf_config_nkeys; i++)
		if (mlf_config_keys[i].def)
			store(cfg, (int)i, mlf_config_keys[i].def, "default");

	int explicit_file = 1;
	if (!file) {
		file = getenv("MLF_CONFIG");
		explicit_file = file && *file;
	}
	char *path = explicit_file ? mlf_path_absolute(cfg->workspace, file)
				   : mlf_path_join(cfg->workspace, "mlf.yaml");
	if (explicit_file || mlf_is_file(path)) {
		if (!mlf_is_file(path)) {
			mlf_fail(err, MLF_EX_CONFIG, "configuration file '%s' does not exist", path);
			free(path);
			return -1;
		}
		cfg->file = path;
		if (load_file(cfg, path, err))
			return -1;
	} else {
		free(path);
	}
	if (load_env(cfg, err))
		return -1;
	return 0;
}

void mlf_config_release(struct mlf_config *cfg)
{
	if (cfg->values)
		for (unsigned i = 0; i < mlf_config_nkeys; i++) {
			free(cfg->values[i]);
			free(cfg->origins[i]);
		}
	free(cfg->values);
	free(cfg->origins);
	free(cfg->workspace);
	free(cfg->file);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- getters ----------------------------------------------------------- */

const char *mlf_config_get(const struct mlf_config *cfg, const char *name)
{
	int i = key_index(name);
	return i < 0 ? NULL : cfg->values[i];
}

const char *mlf_config_origin(const struct mlf_config *cfg, const char *name)
{
	int i = key_index(name);
	return i < 0 || !cfg->origins[i] ? "unset" : cfg->origins[i];
}

long mlf_config_int(const struct mlf_config *cfg, const char *name)
{
	const char *v = mlf_config_get(cfg, name);
	return v ? strtol(v, NULL, 10) : 0;
}

double mlf_config_float(const struct mlf_config *cfg, const char *name)
{
	const char *v = mlf_config_get(cfg, name);
	return v ? strtod(v, NULL) : 0.0;
}

int mlf_config_bool(const struct mlf_config *cfg, const char *name)
{
	const char *v = mlf_config_get(cfg, name);
	return v ? parse_yaml_bool(v) == 1 : 0;
}

char *mlf_config_path(const struct mlf_config *cfg, const char *name)
{
	const char *v = mlf_config_get(cfg, name);
	return v ? mlf_path_absolute(cfg->workspace, v) : NULL;
}

int mlf_config_tracking_options(const struct mlf_config *cfg, struct mlf_tracking_options *o,
				struct mlf_error *err)
{
	mlf_tracking_options_init(o);
	o->uri = mlf_config_get(cfg, "tracking_uri");
	o->workspace = cfg->workspace;
	o->token = mlf_config_get(cfg, "auth.token");
	o->username = mlf_config_get(cfg, "auth.username");
	o->password = mlf_config_get(cfg, "auth.password");
	o->ca_path = mlf_config_get(cfg, "tls.ca_cert");
	o->insecure_tls = mlf_config_bool(cfg, "tls.insecure");
	if (o->insecure_tls && o->ca_path)
		return mlf_fail(err, MLF_EX_CONFIG,
				"tls.insecure (%s) and tls.ca_cert (%s) contradict each other; set one",
				mlf_config_origin(cfg, "tls.insecure"), mlf_config_origin(cfg, "tls.ca_cert"));
	o->timeout_s = mlf_config_float(cfg, "http.timeout");
	o->max_retries = (int)mlf_config_int(cfg, "http.max_retries");
	o->backoff_factor = mlf_config_float(cfg, "http.backoff_factor");
	o->backoff_jitter = mlf_config_float(cfg, "http.backoff_jitter");
	o->backoff_max = mlf_config_float(cfg, "http.backoff_max");
	o->ignore_retry_after = !mlf_config_bool(cfg, "http.respect_retry_after");
	o->s3_endpoint_url = mlf_config_get(cfg, "s3.endpoint_url");
	o->s3_region = mlf_config_get(cfg, "s3.region");
	o->s3_profile = mlf_config_get(cfg, "s3.profile");
	o->s3_ca_bundle = mlf_config_get(cfg, "s3.ca_bundle");
	o->s3_ignore_tls = mlf_config_bool(cfg, "s3.ignore_tls");
	if (o->s3_ignore_tls && o->s3_ca_bundle)
		return mlf_fail(err, MLF_EX_CONFIG,
				"s3.ignore_tls (%s) and s3.ca_bundle (%s) contradict each other; set one",
				mlf_config_origin(cfg, "s3.ignore_tls"), mlf_config_origin(cfg, "s3.ca_bundle"));
	return 0;
}

char *mlf_config_registered_model(const struct mlf_config *cfg, const char *experiment_name)
{
	const char *set = mlf_config_get(cfg, "registered_model");
	if (set && *set)
		return mlf_xstrdup(set);
	char *name = mlf_xstrdup(experiment_name && *experiment_name ? experiment_name : "mlf-detector");
	for (char *p = name; *p; p++)
		if (*p == '/' || *p == ':' || *p == '\\' || (p == name && *p == '.'))
			*p = '-';
	return name;
}

char *mlf_config_expected_artifact_location(const struct mlf_config *cfg)
{
	const char *explicit_loc = mlf_config_get(cfg, "artifact_location");
	const char *id = mlf_config_get(cfg, "experiment_id");
	if (explicit_loc)
		return mlf_xstrdup(explicit_loc);
	if (!id || mlf_uri_kind(mlf_config_get(cfg, "tracking_uri")) == MLF_URI_HTTP)
		return NULL;
	char *root = mlf_config_path(cfg, "artifact_root");
	char *dir = mlf_path_join(root, id);
	char *uri = mlf_uri_from_path(dir);
	free(root);
	free(dir);
	return uri;
}
