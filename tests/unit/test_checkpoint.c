/*
 * Checkpoint I/O: fixtures made by the real torch/Ultralytics
 * (scripts/make-parity-fixtures) must read back exactly as their manifests
 * say; safetensors must round-trip; damaged and hostile files must fail
 * cleanly with status 65 and never run anything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <zip.h>

#include "mlf/buf.h"
#include "mlf/checkpoint.h"
#include "mlf/fs.h"

#define FIX SOURCE_DIR "/tests/fixtures/ckpt/"

static char tmpdir[] = "/tmp/mlf-ckpt-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	return mlf_remove_tree(tmpdir, &err);
}

static char *tmp_path(const char *name)
{
	return mlf_xasprintf("%s/%s", tmpdir, name);
}

static void sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	assert_int_equal(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL), 1);
	mlf_hex_encode(md, 32, hex);
}

/* Every tensor of the manifest, by name, with dtype, shape and sha256 of its bytes. */
static void check_manifest(const struct mlf_ckpt *c, const json_t *man, int ordered)
{
	json_t *tensors = json_object_get(man, "tensors");
	assert_non_null(tensors);
	assert_int_equal(json_array_size(tensors), c->ntensors);
	size_t i;
	json_t *t;
	json_array_foreach(tensors, i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));
		const struct mlf_tensor *x = mlf_ckpt_find(c, name);
		if (!x)
			fail_msg("tensor '%s' missing", name);
		if (ordered)
			assert_string_equal(c->tensors[i].name, name);
		assert_string_equal(mlf_dtype_name(x->dtype), json_string_value(json_object_get(t, "dtype")));
		json_t *shape = json_object_get(t, "shape");
		assert_int_equal(json_array_size(shape), x->ndim);
		for (int d = 0; d < x->ndim; d++)
			assert_int_equal(json_integer_value(json_array_get(shape, (size_t)d)), x->shape[d]);
		assert_int_equal(x->nbytes, mlf_tensor_numel(x) * (int64_t)mlf_dtype_size(x->dtype));
		char hex[65];
		sha256_hex(x->data, x->nbytes, hex);
		if (strcmp(hex, json_string_value(json_object_get(t, "sha256"))))
			fail_msg("tensor '%s': bytes differ from the manifest", name);
	}
}

static json_t *load_manifest(const char *path)
{
	json_error_t je;
	json_t *m = json_load_file(path, 0, &je);
	if (!m)
		fail_msg("%s: %s", path, je.text);
	return m;
}

static void assert_json_same(const json_t *a, const json_t *b, const char *what)
{
	if (!json_equal((json_t *)a, (json_t *)b)) {
		char *x = json_dumps(a, JSON_COMPACT), *y = json_dumps(b, JSON_COMPACT);
		fail_msg("%s differs:\n got  %.600s\n want %.600s", what, x ? x : "(null)", y ? y : "(null)");
	}
}

static void check_pt_fixture(const char *pt, const char *manifest)
{
	struct mlf_ckpt c;
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_ckpt_read_pt(pt, &c, &err))
		fail_msg("%s", err.msg);
	json_t *man = load_manifest(manifest);
	check_manifest(&c, man, 1);
	const json_t *meta = c.meta;
	assert_string_equal(json_string_value(json_object_get(meta, "format")), "pt");
	assert_json_same(json_object_get(meta, "model_key"), json_object_get(man, "model_key"), "model_key");
	assert_json_same(json_object_get(meta, "model_class"), json_object_get(man, "model_class"), "model_class");
	assert_json_same(json_object_get(meta, "names"), json_object_get(man, "names"), "names");
	assert_json_same(json_object_get(meta, "yaml"), json_object_get(man, "yaml"), "yaml");
	assert_json_same(json_object_get(meta, "stride"), json_object_get(man, "stride"), "stride");
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(man, "checkpoint"), k, v)
		assert_json_same(json_object_get(json_object_get(meta, "checkpoint"), k), v, k);
	/* The module tree is described for a future .pt writer. */
	json_t *mods = json_object_get(meta, "modules");
	assert_string_equal(json_string_value(json_object_get(mods, "")),
			    "ultralytics.nn.tasks.DetectionModel");
	assert_string_equal(json_string_value(json_object_get(mods, "model.0")),
			    "ultralytics.nn.modules.conv.Conv");
	json_decref(man);
	mlf_ckpt_release(&c);
}

static void test_v8_training_checkpoint(void **state)
{
	(void)state;
	check_pt_fixture(FIX "yolov8-tiny-train.pt", FIX "yolov8-tiny-train.json");
	struct mlf_ckpt c;
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_ckpt_read_pt(FIX "yolov8-tiny-train.pt", &c, &err), 0);
	/* fp16 weights, int64 counters, and the model's args namespace as a dict. */
	assert_int_equal(mlf_ckpt_find(&c, "model.0.conv.weight")->dtype, MLF_DTYPE_F16);
	assert_int_equal(mlf_ckpt_find(&c, "model.0.bn.num_batches_tracked")->dtype, MLF_DTYPE_I64);
	assert_int_equal(mlf_ckpt_find(&c, "model.0.bn.num_batches_tracked")->ndim, 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(c.meta, "args"), "epochs")), 5);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(c.meta, "yaml"), "nc")), 3);
	json_t *ck = json_object_get(c.meta, "checkpoint");
	assert_string_equal(json_string_value(json_object_get(json_object_get(ck, "ema"), "__class__")),
			    "ultralytics.nn.tasks.DetectionModel");
	assert_true(json_is_null(json_object_get(ck, "model")));
	mlf_ckpt_release(&c);
}

static void test_11_final_checkpoint(void **state)
{
	(void)state;
	check_pt_fixture(FIX "yolo11-tiny-final.pt", FIX "yolo11-tiny-final.json");
}

static void test_safetensors_fixture(void **state)
{
	(void)state;
	struct mlf_ckpt c;
	struct mlf_error err = MLF_ERROR_INIT;
	if (mlf_ckpt_read_safetensors(FIX "yolov8-tiny.safetensors", &c, &err))
		fail_msg("%s", err.msg);
	json_t *man = load_manifest(FIX "yolov8-tiny.json");
	check_manifest(&c, man, 0);
	assert_json_same(json_object_get(c.meta, "metadata"), json_object_get(man, "metadata"), "metadata");
	json_decref(man);
	mlf_ckpt_release(&c);
}

static void assert_same_tensors(const struct mlf_ckpt *a, const struct mlf_ckpt *b)
{
	assert_int_equal(a->ntensors, b->ntensors);
	for (size_t i = 0; i < a->ntensors; i++) {
		const struct mlf_tensor *x = &a->tensors[i], *y = mlf_ckpt_find(b, x->name);
		assert_non_null(y);
		assert_int_equal(x->dtype, y->dtype);
		assert_int_equal(x->ndim, y->ndim);
		assert_memory_equal(x->shape, y->shape, sizeof(x->shape[0]) * (size_t)x->ndim);
		assert_int_equal(x->nbytes, y->nbytes);
		if (x->nbytes)
			assert_memory_equal(x->data, y->data, x->nbytes);
	}
}

static void test_safetensors_round_trip(void **state)
{
	(void)state;
	struct mlf_ckpt pt, st, st2;
	struct mlf_error err = MLF_ERROR_INIT;
	char *f1 = tmp_path("a.safetensors"), *f2 = tmp_path("b.safetensors");
	json_t *md = json_pack("{s:s,s:s}", "format", "pt", "source", "yolo11-tiny-final.pt");

	assert_int_equal(mlf_ckpt_read_pt(FIX "yolo11-tiny-final.pt", &pt, &err), 0);
	if (mlf_ckpt_write_safetensors(&pt, f1, md, &err))
		fail_msg("%s", err.msg);
	if (mlf_ckpt_read_safetensors(f1, &st, &err))
		fail_msg("%s", err.msg);
	assert_same_tensors(&pt, &st);
	assert_json_same(json_object_get(st.meta, "metadata"), md, "metadata");
	assert_int_equal(mlf_ckpt_write_safetensors(&st, f2, md, &err), 0);
	char *a, *b;
	size_t na, nb;
	assert_int_equal(mlf_read_file(f1, &a, &na, &err), 0);
	assert_int_equal(mlf_read_file(f2, &b, &nb, &err), 0);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);  /* sorted keys: the same bytes whatever the order read */
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | (unsigned char)a[i];
	assert_int_equal(hlen % 8, 0);
	free(a);
	free(b);

	/* The reference writer's file, read and written again, reads back the same. */
	assert_int_equal(mlf_ckpt_read_safetensors(FIX "yolov8-tiny.safetensors", &st2, &err), 0);
	assert_int_equal(mlf_ckpt_write_safetensors(&st2, f2, NULL, &err), 0);
	mlf_ckpt_release(&st);
	assert_int_equal(mlf_ckpt_read_safetensors(f2, &st, &err), 0);
	assert_same_tensors(&st2, &st);
	assert_true(json_is_null(json_object_get(st.meta, "metadata")));

	mlf_ckpt_release(&pt);
	mlf_ckpt_release(&st);
	mlf_ckpt_release(&st2);
	json_decref(md);
	free(f1);
	free(f2);
}

/* ---- hostile and damaged files ---- */

static void expect_bad(int (*reader)(const char *, struct mlf_ckpt *, struct mlf_error *),
		       const char *path, const char *needle)
{
	struct mlf_ckpt c;
	struct mlf_error err = MLF_ERROR_INIT;
	if (!reader(path, &c, &err))
		fail_msg("%s: read succeeded, expected '%s'", path, needle);
	assert_int_equal(err.status, MLF_EX_DATAERR);
	assert_non_null(strstr(err.msg, path));
	if (needle && !strstr(err.msg, needle))
		fail_msg("message '%s' lacks '%s'", err.msg, needle);
	assert_int_equal(c.ntensors, 0);
	assert_null(c.meta);
}

/* Read or fail with 65 and a message; never anything else. */
static void expect_ok_or_bad(int (*reader)(const char *, struct mlf_ckpt *, struct mlf_error *),
			     const char *path)
{
	struct mlf_ckpt c;
	struct mlf_error err = MLF_ERROR_INIT;
	if (reader(path, &c, &err) == 0) {
		mlf_ckpt_release(&c);
		return;
	}
	if (err.status != MLF_EX_DATAERR || !err.msg[0])
		fail_msg("%s: status %d '%s'", path, err.status, err.msg);
}

/* Plain writes: hundreds of damaged copies need no fsync. */
static void write_bytes(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void read_entry(const char *zpath, const char *name, char **data, size_t *len)
{
	zip_t *z = zip_open(zpath, ZIP_RDONLY, NULL);
	assert_non_null(z);
	zip_stat_t st;
	assert_int_equal(zip_stat(z, name, 0, &st), 0);
	zip_file_t *f = zip_fopen(z, name, 0);
	*data = mlf_xmalloc(st.size + 1);
	assert_int_equal(zip_fread(f, *data, st.size), (zip_int64_t)st.size);
	*len = st.size;
	zip_fclose(f);
	zip_discard(z);
}

/* Copy `src` to `dst` with entry `name` replaced by (or added as) `data`. */
static void patch_zip(const char *src, const char *dst, const char *name, const void *data, size_t len)
{
	struct mlf_error err = MLF_ERROR_INIT;
	unlink(dst);
	assert_int_equal(mlf_copy_file_new(src, dst, NULL, &err), 0);
	zip_t *z = zip_open(dst, 0, NULL);
	assert_non_null(z);
	zip_source_t *s = zip_source_buffer(z, data, len, 0);
	assert_non_null(s);
	assert_true(zip_file_add(z, name, s, ZIP_FL_OVERWRITE | ZIP_FL_ENC_RAW) >= 0);
	assert_int_equal(zip_close(z), 0);
}

#define V8 FIX "yolov8-tiny-train.pt"
#define PKL "yolov8-tiny-train/data.pkl"

static void test_not_a_checkpoint(void **state)
{
	(void)state;
	char *p = tmp_path("hello.pt");
	write_bytes(p, "hello, world\n", 13);
	expect_bad(mlf_ckpt_read_pt, p, "not a zip archive");
	write_bytes(p, "", 0);
	expect_bad(mlf_ckpt_read_pt, p, NULL);
	free(p);

	struct mlf_ckpt c;
	struct mlf_error err = MLF_ERROR_INIT;
	p = tmp_path("missing.pt");
	assert_int_equal(mlf_ckpt_read_pt(p, &c, &err), -1);
	assert_int_equal(err.status, MLF_EX_NOINPUT);
	assert_int_equal(mlf_ckpt_read_safetensors(p, &c, &err), -1);
	assert_int_equal(err.status, MLF_EX_NOINPUT);
	free(p);
}

static void test_truncated_and_flipped_file(void **state)
{
	(void)state;
	char *data, *p = tmp_path("cut.pt");
	size_t len;
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_read_file(V8, &data, &len, &err), 0);
	write_bytes(p, data, len / 2);
	expect_bad(mlf_ckpt_read_pt, p, NULL);
	for (size_t at = 7; at < len; at += len / 97) {
		data[at] ^= 0x5a;
		write_bytes(p, data, len);
		expect_ok_or_bad(mlf_ckpt_read_pt, p);
		data[at] ^= 0x5a;
	}
	free(data);
	free(p);
}

static void test_damaged_pickle(void **state)
{
	(void)state;
	char *pkl, *p = tmp_path("pkl.pt");
	size_t len;
	read_entry(V8, PKL, &pkl, &len);

	patch_zip(V8, p, PKL, pkl, len / 3);
	expect_bad(mlf_ckpt_read_pt, p, "truncated");

	char saved = pkl[2];
	pkl[2] = (char)0xff;  /* right after PROTO 2 */
	patch_zip(V8, p, PKL, pkl, len);
	expect_bad(mlf_ckpt_read_pt, p, "opcode 0xff at offset 2 is unknown");
	pkl[2] = saved;

	for (size_t at = 2; at < len; at += len / 151) {
		pkl[at] ^= 0x21;
		patch_zip(V8, p, PKL, pkl, len);
		expect_ok_or_bad(mlf_ckpt_read_pt, p);
		pkl[at] ^= 0x21;
	}
	free(pkl);
	free(p);
}

static void test_zip_slip_and_short_storage(void **state)
{
	(void)state;
	char *p = tmp_path("slip.pt");
	patch_zip(V8, p, "../x", "boom", 4);
	expect_bad(mlf_ckpt_read_pt, p, "unsafe zip entry name '../x'");
	patch_zip(V8, p, "yolov8-tiny-train/../../x", "boom", 4);
	expect_bad(mlf_ckpt_read_pt, p, "unsafe");
	patch_zip(V8, p, "/etc/x", "boom", 4);
	expect_bad(mlf_ckpt_read_pt, p, "unsafe");
	patch_zip(V8, p, "other/x", "boom", 4);
	expect_bad(mlf_ckpt_read_pt, p, "two folders");

	char *st;
	size_t len;
	read_entry(V8, "yolov8-tiny-train/data/0", &st, &len);
	patch_zip(V8, p, "yolov8-tiny-train/data/0", st, len - 2);
	expect_bad(mlf_ckpt_read_pt, p, "but the pickle needs");
	free(st);
	free(p);
}

/* A tiny pickle writer for hand-made hostile archives. */
static void op(struct mlf_buf *b, int c)
{
	mlf_buf_addc(b, (char)c);
}

static void pstr(struct mlf_buf *b, const char *s)
{
	uint32_t n = (uint32_t)strlen(s);
	op(b, 'X');
	for (int i = 0; i < 4; i++)
		op(b, (int)((n >> (8 * i)) & 0xff));
	mlf_buf_adds(b, s);
}

static void pint(struct mlf_buf *b, int64_t v)
{
	op(b, 0x8a);  /* LONG1 with 8 bytes */
	op(b, 8);
	for (int i = 0; i < 8; i++)
		op(b, (int)(((uint64_t)v >> (8 * i)) & 0xff));
}

static void pglobal(struct mlf_buf *b, const char *mod, const char *name)
{
	mlf_buf_addf(b, "c%s\n%s\n", mod, name);
}

static void ptensor(struct mlf_buf *b, int64_t numel, int64_t offset, int nd, const int64_t *shape,
		    const int64_t *stride)
{
	pglobal(b, "torch._utils", "_rebuild_tensor_v2");
	op(b, '(');
	op(b, '(');
	pstr(b, "storage");
	pglobal(b, "torch", "FloatStorage");
	pstr(b, "0");
	pstr(b, "cpu");
	pint(b, numel);
	op(b, 't');
	op(b, 'Q');
	pint(b, offset);
	op(b, '(');
	for (int i = 0; i < nd; i++)
		pint(b, shape[i]);
	op(b, 't');
	op(b, '(');
	for (int i = 0; i < nd; i++)
		pint(b, stride[i]);
	op(b, 't');
	op(b, 0x89);
	pglobal(b, "collections", "OrderedDict");
	op(b, ')');
	op(b, 'R');
	op(b, 't');
	op(b, 'R');
}

/* {"model": OrderedDict(w=<tensor>), "evil": os.system(cmd)} in a zip with storage "0". */
static void make_pt(const char *path, const struct mlf_buf *pkl, const void *storage, size_t slen)
{
	zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, NULL);
	assert_non_null(z);
	zip_source_t *s = zip_source_buffer(z, pkl->data, pkl->len, 0);
	assert_true(zip_file_add(z, "archive/data.pkl", s, 0) >= 0);
	s = zip_source_buffer(z, storage, slen, 0);
	assert_true(zip_file_add(z, "archive/data/0", s, 0) >= 0);
	s = zip_source_buffer(z, "little", 6, 0);
	assert_true(zip_file_add(z, "archive/byteorder", s, 0) >= 0);
	assert_int_equal(zip_close(z), 0);
}

static void model_pickle(struct mlf_buf *b, int64_t numel, int64_t offset, int nd,
			 const int64_t *shape, const int64_t *stride, const char *evil_cmd)
{
	mlf_buf_reset(b);
	op(b, 0x80);
	op(b, 2);
	op(b, '}');
	op(b, '(');
	pstr(b, "model");
	pglobal(b, "collections", "OrderedDict");
	op(b, ')');
	op(b, 'R');
	pstr(b, "w");
	ptensor(b, numel, offset, nd, shape, stride);
	op(b, 's');
	pstr(b, "evil");
	pglobal(b, "os", "system");
	pstr(b, evil_cmd);
	op(b, 0x85);
	op(b, 'R');
	op(b, 'u');
	op(b, '.');
}

static void test_hand_made_pickles(void **state)
{
	(void)state;
	struct mlf_buf b = MLF_BUF_INIT;
	float storage[12];
	for (int i = 0; i < 12; i++)
		storage[i] = (float)i;
	char *p = tmp_path("hand.pt"), *pwned = tmp_path("pwned");
	char *cmd = mlf_xasprintf("touch %s", pwned);
	struct mlf_ckpt c;
	struct mlf_error err = MLF_ERROR_INIT;

	/* A transposed 3x4 view: read contiguous; os.system stays an inert name. */
	int64_t shape[2] = { 4, 3 }, stride[2] = { 1, 4 };
	model_pickle(&b, 12, 0, 2, shape, stride, cmd);
	make_pt(p, &b, storage, sizeof(storage));
	if (mlf_ckpt_read_pt(p, &c, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(c.ntensors, 1);
	const float *w = (const float *)c.tensors[0].data;
	assert_true(w[0] == 0 && w[1] == 4 && w[2] == 8 && w[3] == 1 && w[11] == 11);
	json_t *evil = json_object_get(json_object_get(c.meta, "checkpoint"), "evil");
	assert_string_equal(json_string_value(json_object_get(evil, "__class__")), "os.system");
	assert_int_equal(access(pwned, F_OK), -1);
	mlf_ckpt_release(&c);

	/* Shapes whose product overflows, strides and offsets outside the storage. */
	int64_t huge[2] = { (int64_t)1 << 40, (int64_t)1 << 40 }, one[2] = { 1, 1 };
	model_pickle(&b, 12, 0, 2, huge, one, cmd);
	make_pt(p, &b, storage, sizeof(storage));
	expect_bad(mlf_ckpt_read_pt, p, "overflows");
	int64_t s34[2] = { 3, 4 }, far[2] = { 4, 100 };
	model_pickle(&b, 12, 0, 2, s34, far, cmd);
	make_pt(p, &b, storage, sizeof(storage));
	expect_bad(mlf_ckpt_read_pt, p, "which holds 12");
	int64_t cont[2] = { 4, 1 };
	model_pickle(&b, 12, 1, 2, s34, cont, cmd);
	make_pt(p, &b, storage, sizeof(storage));
	expect_bad(mlf_ckpt_read_pt, p, "which holds 12");
	/* The pickle claims more elements than the zip entry holds. */
	model_pickle(&b, (int64_t)1 << 30, 0, 2, s34, cont, cmd);
	make_pt(p, &b, storage, sizeof(storage));
	expect_bad(mlf_ckpt_read_pt, p, "but the pickle needs");
	model_pickle(&b, 12, 0, 2, s34, cont, cmd);
	make_pt(p, &b, storage, sizeof(storage));
	assert_int_equal(mlf_ckpt_read_pt(p, &c, &err), 0);
	mlf_ckpt_release(&c);

	/* Deep nesting. */
	mlf_buf_reset(&b);
	op(&b, 0x80);
	op(&b, 2);
	for (int i = 0; i < 100000; i++)
		op(&b, '(');
	make_pt(p, &b, storage, sizeof(storage));
	expect_bad(mlf_ckpt_read_pt, p, "nested");
	mlf_buf_reset(&b);
	for (int i = 0; i < 5000; i++)
		op(&b, ']');
	for (int i = 0; i < 4999; i++)
		op(&b, 'a');
	op(&b, '.');
	make_pt(p, &b, storage, sizeof(storage));
	expect_bad(mlf_ckpt_read_pt, p, "neither a module nor a state_dict");

	/* A list holding itself: cycles must not hang or leak. */
	mlf_buf_reset(&b);
	mlf_buf_add(&b, "]q\000h\000a}q\001X\001\000\000\000xh\000s.", 19);
	make_pt(p, &b, storage, sizeof(storage));
	expect_bad(mlf_ckpt_read_pt, p, "nested too deeply");

	/* Memo misuse, stack underflow, a dangerous global where a tensor should be. */
	mlf_buf_reset(&b);
	mlf_buf_add(&b, "\x80\x02h\x05.", 5);
	make_pt(p, &b, storage, sizeof(storage));
	expect_bad(mlf_ckpt_read_pt, p, "memo index 5 was never stored");
	mlf_buf_reset(&b);
	mlf_buf_add(&b, "\x80\x02s.", 4);
	make_pt(p, &b, storage, sizeof(storage));
	expect_bad(mlf_ckpt_read_pt, p, "underflow");
	mlf_buf_reset(&b);
	mlf_buf_add(&b, "\x80\x02}(X\x01\x00\x00\x00w", 10);
	pglobal(&b, "posix", "system");
	pstr(&b, cmd);
	op(&b, 0x85);
	op(&b, 'R');
	op(&b, 'u');
	op(&b, '.');
	make_pt(p, &b, storage, sizeof(storage));
	expect_bad(mlf_ckpt_read_pt, p, "no model");
	assert_int_equal(access(pwned, F_OK), -1);

	mlf_buf_release(&b);
	free(cmd);
	free(pwned);
	free(p);
}

static void st_file(const char *path, const char *header, size_t data_len)
{
	size_t hl = strlen(header);
	unsigned char *f = mlf_xcalloc(1, 8 + hl + data_len + 1);
	for (int i = 0; i < 8; i++)
		f[i] = (unsigned char)((uint64_t)hl >> (8 * i));
	memcpy(f + 8, header, hl);
	write_bytes(path, f, 8 + hl + data_len);
	free(f);
}

static void test_hostile_safetensors(void **state)
{
	(void)state;
	char *p = tmp_path("bad.safetensors");
	st_file(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
	struct mlf_ckpt c;
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_ckpt_read_safetensors(p, &c, &err), 0);
	mlf_ckpt_release(&c);

	write_bytes(p, "abc", 3);
	expect_bad(mlf_ckpt_read_safetensors, p, "too short");
	write_bytes(p, "\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10);
	expect_bad(mlf_ckpt_read_safetensors, p, "impossible");
	st_file(p, "{\"a\":", 0);
	expect_bad(mlf_ckpt_read_safetensors, p, "header");
	st_file(p, "[1,2]", 0);
	expect_bad(mlf_ckpt_read_safetensors, p, "not a JSON object");
	st_file(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4);
	expect_bad(mlf_ckpt_read_safetensors, p, "ends at byte 8 of 4");
	st_file(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
	expect_bad(mlf_ckpt_read_safetensors, p, "needs 12");
	st_file(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
	expect_bad(mlf_ckpt_read_safetensors, p, "overlaps");
	st_file(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
	expect_bad(mlf_ckpt_read_safetensors, p, "gap");
	st_file(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 16);
	expect_bad(mlf_ckpt_read_safetensors, p, "cover");
	st_file(p, "{\"a\":{\"dtype\":\"F8_E5M2\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2);
	expect_bad(mlf_ckpt_read_safetensors, p, "unsupported dtype");
	st_file(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
		   "\"data_offsets\":[0,8]}}", 8);
	expect_bad(mlf_ckpt_read_safetensors, p, "too large");
	st_file(p, "{\"__metadata__\":{\"a\":1}}", 0);
	expect_bad(mlf_ckpt_read_safetensors, p, "__metadata__");
	st_file(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		   "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
	expect_bad(mlf_ckpt_read_safetensors, p, "duplicate");

	/* Byte flips anywhere in a real file: read or refused, never a crash. */
	char *data;
	size_t len;
	assert_int_equal(mlf_read_file(FIX "yolov8-tiny.safetensors", &data, &len, &err), 0);
	for (size_t at = 0; at < 8 + 2000 && at < len; at += 37) {
		data[at] ^= 0x44;
		write_bytes(p, data, len);
		expect_ok_or_bad(mlf_ckpt_read_safetensors, p);
		data[at] ^= 0x44;
	}
	free(data);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v8_training_checkpoint),
		cmocka_unit_test(test_11_final_checkpoint),
		cmocka_unit_test(test_safetensors_fixture),
		cmocka_unit_test(test_safetensors_round_trip),
		cmocka_unit_test(test_not_a_checkpoint),
		cmocka_unit_test(test_truncated_and_flipped_file),
		cmocka_unit_test(test_damaged_pickle),
		cmocka_unit_test(test_zip_slip_and_short_storage),
		cmocka_unit_test(test_hand_made_pickles),
		cmocka_unit_test(test_hostile_safetensors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
