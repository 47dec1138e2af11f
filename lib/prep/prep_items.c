/* Merging the checked corrections: duplicates, the split; the base dataset's images. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "prep_internal.h"

const char *const mlf_prep_split_names[2] = { "train", "val" };

void mlf_prep_items_release(struct prep_items *items)
{
	for (size_t i = 0; i < items->n; i++) {
		free(items->items[i].image);
		free(items->items[i].label);
		free(items->items[i].boxes);
		free(items->items[i].dest);
	}
	free(items->items);
	memset(items, 0, sizeof(*items));
}

static struct prep_item *add_item(struct prep_items *items)
{
	items->items = mlf_xrealloc(items->items, (items->n + 1) * sizeof(*items->items));
	struct prep_item *it = &items->items[items->n++];
	memset(it, 0, sizeof(*it));
	return it;
}

static int in_holdout(const char *holdout_text, const struct prep_item *it)
{
	if (!holdout_text)
		return 0;
	const char *base = strrchr(it->image, '/');
	base = base ? base + 1 : it->image;
	for (const char *line = holdout_text; *line; ) {
		size_t n = strcspn(line, "\r\n");
		if ((n == 64 && !strncmp(line, it->image_sha, 64)) ||
		    (n == strlen(base) && !strncmp(line, base, n)))
			return 1;
		line += n;
		line += strspn(line, "\r\n");
	}
	return 0;
}

/*
 * The split depends only on the image's bytes (and the seed), so an image
 * keeps its side across versions however the corrections folder changes.
 */
static int split_of(const struct prep_item *it, const struct mlf_prep_options *opts,
		    const char *holdout_text)
{
	if (in_holdout(holdout_text, it))
		return SPLIT_VAL;
	char *salted = mlf_xasprintf("mlf-split:%ld:%s", opts->seed, it->image_sha);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	EVP_Digest(salted, strlen(salted), md, &n, EVP_sha256(), NULL);
	free(salted);
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | md[i];
	double u = (double)(v >> 11) / 9007199254740992.0;  /* 53 bits -> [0,1) */
	return u < opts->val_fraction ? SPLIT_VAL : SPLIT_TRAIN;
}

/* Later wins: by corrected_at, then by position in the (sorted) set. */
static int newer(const struct mlf_correction *a, const struct mlf_correction *b)
{
	const char *ta = a->corrected_at ? a->corrected_at : "";
	const char *tb = b->corrected_at ? b->corrected_at : "";
	return strcmp(ta, tb) >= 0;
}

/* Problems of one correction onto the run's list, in the order found. */
static void take_problems(struct mlf_problems *to, struct mlf_problems *from)
{
	for (size_t i = 0; i < from->n; i++)
		mlf_problems_add(to, from->items[i].file, from->items[i].field, "%s",
				 from->items[i].message);
	mlf_problems_release(from);
}

int mlf_prep_check_corrections(const struct mlf_correction_set *set,
			       const struct mlf_prep_options *opts, struct prep_items *out,
			       struct mlf_problems *problems, struct mlf_error *err)
{
	struct mlf_progress progress;
	char *holdout = NULL;
	if (opts->holdout && mlf_read_file(opts->holdout, &holdout, NULL, err))
		return -1;
	struct check_slot *slots = mlf_xcalloc(set->n, sizeof(*slots));
	mlf_progress_start(&progress, opts->prog, "checking corrections", set->n, 200);
	mlf_prep_check_each(set, slots, &progress);
	mlf_progress_finish(&progress);

	/* In the set's order, so problems, duplicates and the output never depend on timing. */
	json_t *by_sha = json_object();  /* image sha256 -> index in out: a hash table */
	for (size_t i = 0; i < set->n; i++) {
		const struct mlf_correction *c = &set->items[i];
		take_problems(problems, &slots[i].problems);
		if (!slots[i].ok)
			continue;
		struct prep_item it = slots[i].item;
		/* The same picture corrected twice counts once: the newer correction wins. */
		json_t *seen = json_object_get(by_sha, it.image_sha);
		struct prep_item *twin = seen ? &out->items[json_integer_value(seen)] : NULL;
		if (twin) {
			out->duplicates++;
			if (!newer(c, twin->c)) {
				free(it.boxes);
				continue;
			}
			free(twin->image);
			free(twin->boxes);
			*twin = it;
		} else {
			*add_item(out) = it;
			twin = &out->items[out->n - 1];
			json_object_set_new(by_sha, it.image_sha, json_integer((json_int_t)(out->n - 1)));
		}
		twin->image = mlf_xstrdup(c->image);
		twin->split = split_of(twin, opts, holdout);
	}
	json_decref(by_sha);
	free(slots);
	free(holdout);
	return 0;
}

int mlf_prep_add_base(const struct mlf_data_yaml *base, const struct mlf_prep_options *opts,
		      struct prep_items *items, struct mlf_error *err)
{
	const struct mlf_image_list *lists[2] = { &base->train, &base->val };
	struct mlf_progress progress;
	json_t *corrected = json_object();  /* image sha256s of the corrections, as a set */
	for (size_t k = 0; k < items->n; k++)
		json_object_set_new(corrected, items->items[k].image_sha, json_true());
	mlf_progress_start(&progress, opts->prog, "checksumming base images",
			   base->train.n + base->val.n, 500);
	for (int split = 0; split < 2; split++) {
		for (size_t i = 0; i < lists[split]->n; i++) {
			const char *path = lists[split]->paths[i];
			char sha[65];
			mlf_progress_step(&progress);
			if (mlf_sha256_file(path, sha, NULL, err)) {
				json_decref(corrected);
				return mlf_error_prefix(err, "base dataset %s", base->file);
			}
			if (json_object_get(corrected, sha)) {
				items->superseded_base++;
				continue;
			}
			struct prep_item *it = add_item(items);
			it->image = mlf_xstrdup(path);
			memcpy(it->image_sha, sha, sizeof(sha));
			it->label = mlf_label_path_for(path);
			it->split = split;
			if (mlf_is_file(it->label) && mlf_sha256_file(it->label, it->label_sha, NULL, err)) {
				json_decref(corrected);
				return mlf_error_prefix(err, "base dataset %s", base->file);
			}
		}
	}
	mlf_progress_finish(&progress);
	json_decref(corrected);
	return 0;
}
