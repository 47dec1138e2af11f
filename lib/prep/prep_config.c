/*
 * retrain-prep's options as the configuration gives them, and the summary of
 * its document for people: the parts of the program that are not parsing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/config.h"
#include "mlf/prep.h"

static int base_mode(const char *text, enum mlf_base_mode *mode, struct mlf_error *err)
{
	static const char *const names[] = { "reference", "link", "copy" };
	for (int i = 0; i < 3; i++)
		if (!strcmp(text, names[i])) {
			*mode = (enum mlf_base_mode)i;
			return 0;
		}
	return mlf_fail(err, MLF_EX_CONFIG, "prep.base_mode is reference, link or copy, not '%s'", text);
}

int mlf_prep_options_from_config(struct mlf_prep_options *o, const struct mlf_config *cfg,
				 struct mlf_error *err)
{
	memset(o, 0, sizeof(*o));
	if (base_mode(mlf_config_get(cfg, "prep.base_mode"), &o->base_mode, err))
		return -1;
	o->corrections_dir = mlf_config_path(cfg, "paths.corrections");
	o->base_data = mlf_config_path(cfg, "prep.base_data");
	o->data_dir = mlf_config_path(cfg, "paths.data");
	o->min_corrections = mlf_config_int(cfg, "checks.min_corrections");
	o->val_fraction = mlf_config_float(cfg, "prep.val_fraction");
	o->seed = mlf_config_int(cfg, "prep.seed");
	return 0;
}

void mlf_prep_options_release(struct mlf_prep_options *o)
{
	/* the three paths mlf_prep_options_from_config allocated */
	free((char *)o->corrections_dir);
	free((char *)o->base_data);
	free((char *)o->data_dir);
	o->corrections_dir = o->base_data = o->data_dir = NULL;
}

void mlf_prep_summary(json_t *doc, FILE *out)
{
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	if (kind && !strcmp(kind, "mlf.skip")) {
		fprintf(out, "retrain-prep: nothing to do: %s\n",
			json_string_value(json_object_get(doc, "reason")));
		return;
	}
	json_t *counts = json_object_get(doc, "counts");
	json_t *tr = json_object_get(counts, "train"), *va = json_object_get(counts, "val");
	fprintf(out, "retrain-prep: %s: %lld corrections (%lld new), %lld+%lld corrected and "
		"%lld+%lld base images in train+val, digest %.19s...\n  %s\n",
		json_string_value(json_object_get(doc, "name")),
		json_integer_value(json_object_get(counts, "corrections")),
		json_integer_value(json_object_get(counts, "new_corrections")),
		json_integer_value(json_object_get(tr, "corrected_images")),
		json_integer_value(json_object_get(va, "corrected_images")),
		json_integer_value(json_object_get(tr, "base_images")),
		json_integer_value(json_object_get(va, "base_images")),
		json_string_value(json_object_get(doc, "digest")),
		json_string_value(json_object_get(doc, "data_yaml")));
}
