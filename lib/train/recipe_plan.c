/*
 * What 8.4.190's _build_train_pipeline and build_optimizer decide before
 * training: optimizer and lr (the `auto` choice), accumulation, scaled
 * weight decay, warmup length, and the parameter groups.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mlf/torch/train.h"

int mlf_recipe_plan(const struct mlf_train_args *a, int64_t dataset_size, int nc, int64_t nb,
		    struct mlf_recipe_plan *p, struct mlf_error *err)
{
	memset(p, 0, sizeof(*p));
	if (a->batch < 1)
		return mlf_fail(err, 64, "batch=%d: AutoBatch (batch < 1) is not supported; "
				"set batch to a positive number of images", a->batch);
	if (a->epochs < 1 || nb < 1 || dataset_size < 1 || a->nbs < 1)
		return mlf_fail(err, 64, "epochs (%d), nbs (%d), the dataset size (%lld) and the "
				"batches per epoch (%lld) must be positive", a->epochs, a->nbs,
				(long long)dataset_size, (long long)nb);
	if (!isnan(a->time))
		return mlf_fail(err, 64, "time=%g: timed training is not supported; set epochs "
				"instead", a->time);
	p->epochs = a->epochs;
	p->nb = nb;
	p->lrf = a->lrf;
	p->cos_lr = a->cos_lr;
	p->nbs_over_batch = (double)a->nbs / a->batch;

	/* _build_train_pipeline: the decay is scaled with the nominal
	 * accumulation, before it is capped at the run's length */
	int acc = (int)mlf_py_round(p->nbs_over_batch);
	if (acc < 1)
		acc = 1;
	p->weight_decay = a->weight_decay * a->batch * acc / a->nbs;
	if ((int64_t)acc > nb * a->epochs)
		acc = (int)(nb * a->epochs);
	p->accumulate = acc;
	int64_t per = a->batch > a->nbs ? a->batch : a->nbs;
	p->iterations = (dataset_size + per - 1) / per * a->epochs;

	/* build_optimizer */
	static const char *const known[] = {
		"Adam", "Adamax", "AdamW", "NAdam", "RAdam", "RMSprop", "SGD", "MuSGD", "auto",
	};
	const char *name = NULL;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !name; i++)
		if (strcasecmp(a->optimizer, known[i]) == 0)
			name = known[i];
	if (!name)
		return mlf_fail(err, 64, "optimizer '%s' is not an Ultralytics optimizer (SGD, MuSGD, "
				"Adam, Adamax, AdamW, NAdam, RAdam, RMSprop or auto)", a->optimizer);
	double lr = a->lr0, momentum = a->momentum;
	p->warmup_bias_lr = a->warmup_bias_lr;
	if (strcmp(name, "auto") == 0) {
		double lr_fit = mlf_py_round6(0.002 * 5 / (4 + nc));
		if (p->iterations > 10000) {
			return mlf_fail(err, 64, "optimizer=auto: Ultralytics 8.4.190 picks MuSGD for "
					"%lld iterations (> 10000), which mlf does not support; "
					"set optimizer to SGD (lr0 0.01, momentum 0.9 is what auto "
					"would use) or AdamW", (long long)p->iterations);
		}
		name = "AdamW";
		lr = lr_fit;
		momentum = 0.9;
		p->warmup_bias_lr = 0.0;
	}
	if (strcmp(name, "SGD") == 0)
		p->kind = MLF_TH_SGD;
	else if (strcmp(name, "Adam") == 0)
		p->kind = MLF_TH_ADAM;
	else if (strcmp(name, "AdamW") == 0)
		p->kind = MLF_TH_ADAMW;
	else
		return mlf_fail(err, 64, "optimizer '%s' is not supported by mlf; use SGD, Adam, "
				"AdamW or auto", name);
	snprintf(p->optimizer, sizeof(p->optimizer), "%s", name);
	p->lr = lr;
	p->momentum = momentum;
	p->warmup_momentum = a->warmup_momentum;
	p->final_momentum = a->momentum;

	/* _get_warmup_iterations: leave at least the last epoch unwarmed */
	double we = a->warmup_epochs;
	double cap = a->epochs - 1 > 0 ? a->epochs - 1 : 0;
	if (we > cap)
		we = cap;
	p->nw = we > 0 ? (int64_t)mlf_py_round(we * (double)nb) : 0;
	return 0;
}

double mlf_recipe_lf(const struct mlf_recipe_plan *p, double x)
{
	double f;
	if (p->cos_lr) {
		f = (1 - cos(x * M_PI / p->epochs)) / 2;
		return (f > 0 ? f : 0) * (p->lrf - 1) + 1;
	}
	f = 1 - x / p->epochs;
	return (f > 0 ? f : 0) * (1.0 - p->lrf) + p->lrf;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int mlf_recipe_group_of(const struct mlf_yolo_arch *arch, size_t i)
{
	const struct mlf_yolo_param *prm = &arch->params[i];
	if (prm->is_buffer)
		return -1;
	if (strstr(prm->name, "bias"))
		return MLF_GROUP_BIAS;
	/* a BatchNorm's weight: its module also has running statistics */
	if (ends_with(prm->name, ".weight")) {
		size_t base = strlen(prm->name) - strlen("weight");
		char rm[512];
		if (base + strlen("running_mean") < sizeof(rm)) {
			memcpy(rm, prm->name, base);
			memcpy(rm + base, "running_mean", strlen("running_mean") + 1);
			if (mlf_yolo_arch_find(arch, rm))
				return MLF_GROUP_BN;
		}
	}
	return MLF_GROUP_WEIGHT;
}
