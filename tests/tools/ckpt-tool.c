/*
 * ckpt-tool: drive the .pt writer from scripts (scripts/check-pt-with-ultralytics-load).
 *
 *   ckpt-tool rewrite [--add X] [--updates JSON] [--record NAME=FILE]... TEMPLATE OUT
 *   ckpt-tool record PT NAME
 *
 * rewrite reads TEMPLATE's model weights, and writes OUT shaped like
 * TEMPLATE with them.  With --add, every floating tensor is first taken to
 * float32 and X added there, so the writer converts back to the template's
 * dtype (fp16 for an EMA) the way torch's .to() would.  --updates sets
 * top-level entries.  Each --record stores FILE's bytes as the extra record
 * NAME (mlf_ckpt_write_pt_records).
 * record writes the bytes of PT's record NAME on stdout.
 * Exit status as the library's error; the message on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/ckpt_internal.h"
#include "mlf/ckpt.h"
#include "mlf/base.h"

static int usage(void)
{
	fprintf(stderr, "usage: ckpt-tool rewrite [--add X] [--updates JSON] [--record NAME=FILE]... "
		"TEMPLATE OUT\n       ckpt-tool record PT NAME\n");
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

static int print_record(const char *pt, const char *name)
{
	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_buf b = MLF_BUF_INIT;
	if (mlf_ckpt_read_pt_record(pt, name, &b, &err)) {
		fprintf(stderr, "ckpt-tool: %s\n", err.msg);
		return err.status ? err.status : 1;
	}
	int bad = fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout);
	mlf_buf_release(&b);
	if (bad) {
		fprintf(stderr, "ckpt-tool: cannot write the record on stdout\n");
		return MLF_EX_IOERR;
	}
	return 0;
}

#define MAX_RECORDS 16

int main(int argc, char **argv)
{
	const char *updates_text = NULL, *record_args[MAX_RECORDS];
	float add = 0;
	int have_add = 0, i = 2;
	size_t nrec = 0;
	if (argc == 4 && !strcmp(argv[1], "record"))
		return print_record(argv[2], argv[3]);
	if (argc < 2 || strcmp(argv[1], "rewrite"))
		return usage();
	for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (!strcmp(argv[i], "--add")) {
			add = strtof(argv[i + 1], NULL);
			have_add = 1;
		} else if (!strcmp(argv[i], "--updates")) {
			updates_text = argv[i + 1];
		} else if (!strcmp(argv[i], "--record") && nrec < MAX_RECORDS &&
			   strchr(argv[i + 1], '=')) {
			record_args[nrec++] = argv[i + 1];
		} else {
			return usage();
		}
	}
	if (argc - i != 2)
		return usage();

	struct mlf_error err = MLF_ERROR_INIT;
	struct mlf_ckpt tmpl, weights;
	struct mlf_ckpt_record records[MAX_RECORDS];
	char *names[MAX_RECORDS] = { 0 }, *bytes[MAX_RECORDS] = { 0 };
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
	for (size_t k = 0; k < nrec && !rc; k++) {
		const char *eq = strchr(record_args[k], '=');
		names[k] = mlf_xstrndup(record_args[k], (size_t)(eq - record_args[k]));
		size_t len = 0;
		rc = mlf_read_file(eq + 1, &bytes[k], &len, &err);
		records[k] = (struct mlf_ckpt_record){ names[k], bytes[k], len };
	}
	if (rc) {
		/* err is filled */
	} else if (mlf_ckpt_read_pt(argv[i], &tmpl, &err)) {
		rc = -1;
	} else {
		if (have_add)
			rc = perturbed(&tmpl, add, &weights, &err);
		if (!rc)
			rc = mlf_ckpt_write_pt_records(argv[i], have_add ? &weights : &tmpl, updates,
						       records, nrec, argv[i + 1], &err);
		mlf_ckpt_release(&tmpl);
	}
	for (size_t k = 0; k < nrec; k++) {
		free(names[k]);
		free(bytes[k]);
	}
	mlf_ckpt_release(&weights);
	json_decref(updates);
	if (rc) {
		fprintf(stderr, "ckpt-tool: %s\n", err.msg);
		return err.status ? err.status : 1;
	}
	return 0;
}
