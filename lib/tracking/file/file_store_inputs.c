/*
 * Dataset inputs of the file store (MLflow 2.4+): the dataset once per
 * experiment under datasets/<md5>/, the run's use of it under
 * <run>/inputs/<md5>/ (see file_store_internal.h).
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "mlf/base.h"
#include "file_store_internal.h"

static void md5_hex(const char *a, const char *b, char hex[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, a, strlen(a)) != 1 || EVP_DigestUpdate(ctx, b, strlen(b)) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 16)
		abort();  /* MD5 missing from libcrypto: nothing sensible to carry on with */
	EVP_MD_CTX_free(ctx);
	mlf_hex_encode(md, 16, hex);
}

static int write_meta_once(const char *dir, struct mlf_fsyaml_item *items, size_t n,
			   struct mlf_error *err)
{
	char *path = mlf_path_join(dir, MLF_FST_META);
	int exists = mlf_is_file(path);
	free(path);
	if (exists)
		return 0;
	if (mlf_mkdir_p(dir, 0777, err))
		return -1;
	return mlf_fst_write_meta(dir, items, n, err);
}

int mlf_fst_log_dataset_input(void *impl, const char *run_id, const char *name,
			      const char *digest, const char *source_type, const char *source,
			      const char *context, struct mlf_error *err)
{
	struct file_store *fs = impl;
	struct fst_run r;
	char dataset_id[33], input_id[33];
	int rc = -1;

	if (mlf_fst_run_open(fs, run_id, &r, err) != 0)
		return -1;
	char *exp_dir = mlf_path_join(fs->root, r.exp_id);
	char *ds_dir = NULL, *in_dir = NULL;
	struct mlf_kvs input_tags = MLF_KVS_INIT;
	if (mlf_fst_check_active(&r.meta, err))
		goto out;
	md5_hex(name, digest, dataset_id);
	md5_hex(dataset_id, run_id, input_id);
	ds_dir = mlf_fst_join3(exp_dir, "datasets", dataset_id);
	in_dir = mlf_fst_join3(r.dir, "inputs", input_id);
	struct mlf_fsyaml_item ds[] = {
		{ "digest", MLF_FSYAML_STR, digest, 0, NULL },
		{ "name", MLF_FSYAML_STR, name, 0, NULL },
		{ "profile", MLF_FSYAML_NULL, NULL, 0, NULL },
		{ "schema", MLF_FSYAML_NULL, NULL, 0, NULL },
		{ "source", MLF_FSYAML_STR, source, 0, NULL },
		{ "source_type", MLF_FSYAML_STR, source_type, 0, NULL },
	};
	if (context)
		mlf_kvs_add(&input_tags, "mlflow.data.context", context);
	/* destination_id repeats the dataset id: that is what MLflow writes; readers use source_id. */
	struct mlf_fsyaml_item in[] = {
		{ "destination_id", MLF_FSYAML_STR, dataset_id, 0, NULL },
		{ "destination_type", MLF_FSYAML_STR, "RUN", 0, NULL },
		{ "source_id", MLF_FSYAML_STR, dataset_id, 0, NULL },
		{ "source_type", MLF_FSYAML_STR, "DATASET", 0, NULL },
		{ "tags", MLF_FSYAML_MAP, NULL, 0, &input_tags },
	};
	if (write_meta_once(ds_dir, ds, sizeof(ds) / sizeof(ds[0]), err) ||
	    write_meta_once(in_dir, in, sizeof(in) / sizeof(in[0]), err))
		goto out;
	rc = 0;
out:
	mlf_kvs_release(&input_tags);
	free(in_dir);
	free(ds_dir);
	free(exp_dir);
	mlf_fst_run_release(&r);
	return rc;
}
