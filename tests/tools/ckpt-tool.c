/*
 * ckpt-tool: drive the .pt writer from scripts (scripts/check-pt-with-ultralytics-load).
 *
 *   ckpt-tool rewrite [--add X] [--updates JSON] TEMPLATE OUT
 *
 * Reads TEMPLATE's model weights, and writes OUT shaped like TEMPLATE with
 * them.  With --add, every floating tensor is first taken to float32 and X
 * added there, so the writer converts back to the template's dtype (fp16
 * for an EMA) the way torch's .to() would.  --updates sets top-level
 * entries.  Exit status as the library's error; the message on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_internal.h"
#include "mlf/checkpoint.h"
#include "mlf/error.h"

static int usage(void)
{
	fprintf(stderr, "usage: ckpt-tool rewrite [--add X] [--updates JSON] TEMPLATE OUT\n");
	return MLF_EX_USAGE;
}

static int is_float(enum mlf_dtype t)
{
	return t == MLF_DTYPE_F32 || t == MLF_DTYPE_F16 || t == MLF_DTYPE_BF16 || t == MLF_DTYPE_F64;
}

/* The template's tensors, floating ones as float32 plus `add`. */
static int perturbed(const struct mlf_ckpt *in, float add, struct mlf_ckpt *out,
		     struct mlf_error *err)
{
	mlf_ckpt_init(out);
	for (size_t i = 0; i < in->ntensors; i++) {
		const struct mlf_tensor *t = &in->tensors[i];
		enum mlf_dtype dt = is_float(t->dtype) ? MLF_DTYPE_F32 : t->dtype;
		struct mlf_tensor *o = mlf_ckpt_add(out, t->name, dt, t->ndim, t->shape, err);
		if (!o)
			return -1;
		size_t n = (size_t)mlf_tensor_numel(t);
		if (ckpt_convert(dt, o->data, t->dtype, t->data, n))
			return mlf_fail(err, MLF_EX_SOFTWARE, "cannot convert '%s'", t->name);
		if (dt == MLF_DTYPE_F32)
			for (size_t k = 0; k < n; k++)
				((float *)o->data)[k] += add;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *updates_text = NULL;
	float add = 0;
	int have_add = 0, i = 2;
	if (argc < 2 || strcmp(argv[1], "rewrite"))
		return usage();
	for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (!strcmp(argv[i], "--add")) {
			add = strtof(argv[i + 1], NULL);
			have_add = 1;
		} else if (!strcmp(argv[i], "--updates")) {
			updates_text = argv[i + 1];
		} else {
			return usage();
		}
	}
	if (argc - i != 2)
		return usage();

	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_ckpt tmpl, weights;
	json_t *updates = NULL;
	int rc = 0;
	mlf_ckpt_init(&weights);
	if (updates_text) {
		json_error_t je;
		updates = json_loads(updates_text, JSON_DECODE_ANY, &je);
		if (!updates) {
			fprintf(stderr, "ckpt-tool: --updates: %s\n", je.text);
			return MLF_EX_USAGE;
		}
	}
	if (mlf_ckpt_read_pt(argv[i], &tmpl, &err)) {
		rc = -1;
	} else {
		if (have_add)
			rc = perturbed(&tmpl, add, &weights, &err);
		if (!rc)
			rc = mlf_ckpt_write_pt(argv[i], have_add ? &weights : &tmpl, updates,
					       argv[i + 1], &err);
		mlf_ckpt_release(&tmpl);
	}
	mlf_ckpt_release(&weights);
	json_decref(updates);
	if (rc) {
		fprintf(stderr, "ckpt-tool: %s\n", err.msg);
		return err.status ? err.status : 1;
	}
	return 0;
}
