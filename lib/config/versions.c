/* Where model version N lives in a workspace (see mlf/config.h). */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "mlf/config.h"

static char *in(const char *dir, const char *fmt, long n)
{
	char *leaf = mlf_xasprintf(fmt, n);
	char *p = mlf_path_join(dir, leaf);
	free(leaf);
	return p;
}

void mlf_version_paths_init(struct mlf_version_paths *p, const struct mlf_config *cfg, long n)
{
	char *runs = mlf_config_path(cfg, "paths.runs");
	memset(p, 0, sizeof(*p));
	p->n = n;
	p->name = mlf_xasprintf("retrained_v%ld", n);
	p->models_dir = mlf_config_path(cfg, "paths.models");
	p->model_pt = in(p->models_dir, "retrained_v%ld.pt", n);
	p->metadata = in(p->models_dir, "retrained_v%ld_metadata.json", n);
	p->safetensors = in(p->models_dir, "retrained_v%ld.safetensors", n);
	p->train_root = mlf_path_join(runs, "train");
	p->quick_pt = in(p->train_root, "retrained_v%ld.pt", n);
	p->quick_metadata = in(p->train_root, "retrained_v%ld_metadata.json", n);
	p->train_dir = in(p->train_root, "retrain_v%ld", n);
	p->best_pt = mlf_path_join(p->train_dir, "weights/best.pt");
	p->last_pt = mlf_path_join(p->train_dir, "weights/last.pt");
	p->state = mlf_path_join(p->train_dir, "mlf_run.json");
	p->lock = mlf_path_join(p->train_root, ".retrain-run.lock");
	p->art_model = in(MLF_ART_MODELS, "retrained_v%ld.pt", n);
	p->art_metadata = in(MLF_ART_MODELS, "retrained_v%ld_metadata.json", n);
	p->art_safetensors = in(MLF_ART_MODELS, "retrained_v%ld.safetensors", n);
	free(runs);
}

void mlf_version_paths_release(struct mlf_version_paths *p)
{
	char **all[] = { &p->name, &p->models_dir, &p->model_pt, &p->metadata, &p->safetensors,
			 &p->train_root, &p->quick_pt, &p->quick_metadata, &p->train_dir, &p->best_pt,
			 &p->last_pt, &p->state, &p->lock, &p->art_model, &p->art_metadata,
			 &p->art_safetensors };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		free(*all[i]);
		*all[i] = NULL;
	}
}

/* Digits only, no sign, no overflow; 1 or more. */
static int parse_number(const char *s, long *n)
{
	if (!*s || strlen(s) > 9)
		return -1;
	for (const char *c = s; *c; c++)
		if (*c < '0' || *c > '9')
			return -1;
	*n = strtol(s, NULL, 10);
	return *n >= 1 ? 0 : -1;
}

int mlf_version_parse(const char *text, long *n, struct mlf_error *err)
{
	static const char *const prefixes[] = { "retrained_v", "retrain_v", "v", "" };
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t len = strlen(prefixes[i]);
		if (!strncmp(text, prefixes[i], len) && !parse_number(text + len, n))
			return 0;
	}
	return mlf_fail(err, MLF_EX_USAGE, "'%s' is not a model version: give N, vN or retrained_vN "
			"(N >= 1)", text);
}

long mlf_version_latest(const struct mlf_config *cfg)
{
	char *dir = mlf_config_path(cfg, "paths.models");
	DIR *d = opendir(dir);
	long best = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		long n;
		if (len < 4 || strcmp(e->d_name + len - 3, ".pt") || strncmp(e->d_name, "retrained_v", 11))
			continue;
		char *num = mlf_xstrndup(e->d_name + 11, len - 11 - 3);
		if (!parse_number(num, &n) && n > best)
			best = n;
		free(num);
	}
	if (d)
		closedir(d);
	free(dir);
	return best;
}

int mlf_version_resolve(const struct mlf_config *cfg, const char *text, long *n, struct mlf_error *err)
{
	if (strcmp(text, "latest"))
		return mlf_version_parse(text, n, NULL) ?
		       mlf_fail(err, MLF_EX_USAGE, "'%s' is not a model version: give N, vN, "
				"retrained_vN (N >= 1) or latest", text) : 0;
	*n = mlf_version_latest(cfg);
	if (*n > 0)
		return 0;
	char *models = mlf_config_path(cfg, "paths.models");
	mlf_fail_kind(err, MLF_EX_NOINPUT, MLF_ERR_NOT_FOUND,
		      "no retrained model in %s yet; run the pipeline first", models);
	free(models);
	return -1;
}
