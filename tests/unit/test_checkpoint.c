/*
 * Checkpoint I/O: fixtures made by the real torch/Ultralytics
 * (scripts/make-parity-fixtures) must read back exactly as their manifests
 * say; safetensors must round-trip; damaged and hostile files must fail
 * cleanly with status 65 and never run anything.  The .pt writer must give
 * back torch's own data.pkl byte for byte when nothing changes, and the
 * weights, updates and layout asked for when something does.
 */
#include <dirent.h>
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

#include "ckpt/ckpt_internal.h"
#include "mlf/base.h"
#include "mlf/ckpt.h"

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
	/* The module tree is described, as a check on the walk. */
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
	if (evil_cmd) {  /* a call of os.system, as a malicious checkpoint would hold */
		pstr(b, "evil");
		pglobal(b, "os", "system");
		pstr(b, evil_cmd);
		op(b, 0x85);
		op(b, 'R');
	}
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

	/* A pickle naming os.system is refused, naming it, and nothing runs: torch.load
	 * would run it, so mlf neither trains from it nor publishes a copy of it. */
	int64_t shape[2] = { 4, 3 }, stride[2] = { 1, 4 };
	model_pickle(&b, 12, 0, 2, shape, stride, cmd);
	make_pt(p, &b, storage, sizeof(storage));
	assert_int_equal(mlf_ckpt_read_pt(p, &c, &err), -1);
	assert_int_equal(err.status, MLF_EX_DATAERR);
	assert_non_null(strstr(err.msg, "names the global os.system, which no genuine"));
	assert_int_equal(access(pwned, F_OK), -1);
	mlf_ckpt_release(&c);
	mlf_error_clear(&err);

	/* Shapes whose product overflows, strides and offsets outside the storage. */
	int64_t huge[2] = { (int64_t)1 << 40, (int64_t)1 << 40 }, one[2] = { 1, 1 };
	model_pickle(&b, 12, 0, 2, huge, one, NULL);
	make_pt(p, &b, storage, sizeof(storage));
	expect_bad(mlf_ckpt_read_pt, p, "overflows");
	int64_t s34[2] = { 3, 4 }, far[2] = { 4, 100 };
	model_pickle(&b, 12, 0, 2, s34, far, NULL);
	make_pt(p, &b, storage, sizeof(storage));
	expect_bad(mlf_ckpt_read_pt, p, "which holds 12");
	int64_t cont[2] = { 4, 1 };
	model_pickle(&b, 12, 1, 2, s34, cont, NULL);
	make_pt(p, &b, storage, sizeof(storage));
	expect_bad(mlf_ckpt_read_pt, p, "which holds 12");
	/* The pickle claims more elements than the zip entry holds. */
	model_pickle(&b, (int64_t)1 << 30, 0, 2, s34, cont, NULL);
	make_pt(p, &b, storage, sizeof(storage));
	expect_bad(mlf_ckpt_read_pt, p, "but the pickle needs");
	model_pickle(&b, 12, 0, 2, s34, cont, NULL);
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
	/* refused at the global itself, before anything could call it */
	expect_bad(mlf_ckpt_read_pt, p, "names the global posix.system");
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

/* ---- the .pt writer ---- */

#define V11 FIX "yolo11-tiny-final.pt"

/* A fresh, empty folder under tmpdir for one test's output. */
static char *out_dir(const char *name)
{
	char *d = tmp_path(name);
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_remove_tree(d, &err), 0);
	assert_int_equal(mlf_mkdir_p(d, 0755, &err), 0);
	return d;
}

static size_t dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static uint32_t le_u(const unsigned char *p, int n)
{
	uint32_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/*
 * Walk the local headers from the start of the file: the entries torch.save
 * 2.11 writes, in its order, stored, each one's data 64-byte aligned, no
 * data descriptors, with the `nextra` records `extra` (names below the
 * archive folder) between the storages and "version".  Returns the number
 * of storages.
 */
static size_t check_layout_records(const char *path, const char *prefix, const char *const *extra,
				   size_t nextra)
{
	static const char *const head[] = { "data.pkl", ".format_version", ".storage_alignment", "byteorder" };
	char *f, *storages = mlf_xasprintf("%s/data/", prefix);
	size_t len, off = 0, i = 0, nstorage = 0, nseen = 0;
	struct mlf_error err = MLF_ERROR_INIT;
	assert_int_equal(mlf_read_file(path, &f, &len, &err), 0);
	const unsigned char *p = (const unsigned char *)f;
	int tail = 0;
	while (off + 30 <= len && le_u(p + off, 4) == 0x04034b50) {
		uint32_t csize = le_u(p + off + 18, 4), usize = le_u(p + off + 22, 4);
		uint32_t nlen = le_u(p + off + 26, 2), elen = le_u(p + off + 28, 2);
		assert_int_equal(le_u(p + off + 8, 2), 0);  /* stored */
		assert_int_equal(le_u(p + off + 6, 2) & 8, 0);
		assert_int_equal(csize, usize);
		char *name = mlf_xstrndup(f + off + 30, nlen), *want;
		size_t data = off + 30 + nlen + elen;
		if (data % 64)
			fail_msg("'%s' data at offset %zu is not 64-byte aligned", name, data);
		if (i < 4) {
			want = mlf_xasprintf("%s/%s", prefix, head[i]);
		} else if (!tail && !nseen && !strncmp(name, storages, strlen(storages))) {
			want = mlf_xasprintf("%s/data/%zu", prefix, nstorage++);
		} else if (nseen < nextra) {
			want = mlf_xasprintf("%s/%s", prefix, extra[nseen++]);
		} else {
			want = mlf_xasprintf("%s/%s", prefix, tail ? ".data/serialization_id" : "version");
			tail++;
		}
		assert_string_equal(name, want);
		free(name);
		free(want);
		off = data + csize;
		i++;
	}
	assert_int_equal(tail, 2);
	assert_int_equal(nseen, nextra);
	assert_int_equal(le_u(p + off, 4), 0x02014b50);  /* then the central directory */
	free(f);
	free(storages);
	return nstorage;
}

static size_t check_layout(const char *path, const char *prefix)
{
	return check_layout_records(path, prefix, NULL, 0);
}

static void assert_meta_same(const json_t *a, const json_t *b)
{
	static const char *const keys[] = { "model_key", "model_class", "yaml", "names", "modules",
					     "nc", "task", "args", "stride" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *x = json_object_get(a, keys[i]), *y = json_object_get(b, keys[i]);
		if (i < 5)
			assert_non_null(y);  /* what an Ultralytics model always has */
		if (x || y)
			assert_json_same(x, y, keys[i]);
	}
}

static void unchanged_round_trip(const char *tmpl, const char *folder, const char *stem)
{
	struct mlf_ckpt c, back;
	struct mlf_error err = MLF_ERROR_INIT;
	char *dir = out_dir(folder), *out = mlf_xasprintf("%s/%s.pt", dir, stem);
	assert_int_equal(mlf_ckpt_read_pt(tmpl, &c, &err), 0);
	if (mlf_ckpt_write_pt(tmpl, &c, NULL, out, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(dir_entries(dir), 1);

	/* torch's own pickle, byte for byte. */
	const char *tprefix = json_string_value(json_object_get(c.meta, "archive"));
	char *tname = mlf_xasprintf("%s/data.pkl", tprefix), *oname = mlf_xasprintf("%s/data.pkl", stem);
	char *a, *b;
	size_t na, nb;
	read_entry(tmpl, tname, &a, &na);
	read_entry(out, oname, &b, &nb);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	free(a);
	free(b);
	free(tname);
	free(oname);

	/* Every storage, the model's (rewritten) and the others (copied), as torch wrote it. */
	size_t n = check_layout(out, stem);
	for (size_t i = 0; i < n; i++) {
		tname = mlf_xasprintf("%s/data/%zu", tprefix, i);
		oname = mlf_xasprintf("%s/data/%zu", stem, i);
		read_entry(tmpl, tname, &a, &na);
		read_entry(out, oname, &b, &nb);
		assert_int_equal(na, nb);
		if (na)
			assert_memory_equal(a, b, na);
		free(a);
		free(b);
		free(tname);
		free(oname);
	}

	if (mlf_ckpt_read_pt(out, &back, &err))
		fail_msg("%s", err.msg);
	assert_same_tensors(&c, &back);
	for (size_t i = 0; i < c.ntensors; i++)
		assert_string_equal(c.tensors[i].name, back.tensors[i].name);
	assert_meta_same(back.meta, c.meta);
	assert_json_same(json_object_get(back.meta, "checkpoint"), json_object_get(c.meta, "checkpoint"),
			 "checkpoint");
	assert_string_equal(json_string_value(json_object_get(back.meta, "archive")), stem);

	/* The same content gives the same file. */
	char h1[65], h2[65];
	assert_int_equal(mlf_sha256_file(out, h1, NULL, &err), 0);
	assert_int_equal(mlf_ckpt_write_pt(tmpl, &back, NULL, out, &err), 0);
	assert_int_equal(mlf_sha256_file(out, h2, NULL, &err), 0);
	assert_string_equal(h1, h2);

	mlf_ckpt_release(&c);
	mlf_ckpt_release(&back);
	free(out);
	free(dir);
}

static void test_write_pt_unchanged(void **state)
{
	(void)state;
	unchanged_round_trip(V8, "w-same-v8", "same");
	unchanged_round_trip(V11, "w-same-11", "retrained_v1");
}

/* An independent f32 -> f16, from the compiler, where it has one. */
static uint16_t ref_f16(float f)
{
#ifdef __FLT16_MAX__
	_Float16 h = (_Float16)f;
	uint16_t u;
	memcpy(&u, &h, 2);
	return u;
#else
	return ckpt_f32_to_f16(f);
#endif
}

static float ref_f32(uint16_t u)
{
#ifdef __FLT16_MAX__
	_Float16 h;
	memcpy(&h, &u, 2);
	return (float)h;
#else
	return ckpt_f16_to_f32(u);
#endif
}

/* The template's tensors with every floating value + 0.5, as float32 (what a trainer holds). */
static void plus_half(const struct mlf_ckpt *in, struct mlf_ckpt *out)
{
	struct mlf_error err = MLF_ERROR_INIT;
	mlf_ckpt_init(out);
	for (size_t i = 0; i < in->ntensors; i++) {
		const struct mlf_tensor *t = &in->tensors[i];
		int fl = t->dtype == MLF_DTYPE_F16 || t->dtype == MLF_DTYPE_F32;
		struct mlf_tensor *o = mlf_ckpt_add(out, t->name, fl ? MLF_DTYPE_F32 : t->dtype, t->ndim,
						    t->shape, &err);
		assert_non_null(o);
		size_t n = (size_t)mlf_tensor_numel(t);
		for (size_t k = 0; k < n && fl; k++) {
			uint16_t h;
			float v;
			if (t->dtype == MLF_DTYPE_F16) {
				memcpy(&h, t->data + 2 * k, 2);
				v = ref_f32(h);
			} else {
				memcpy(&v, t->data + 4 * k, 4);
			}
			v += 0.5f;
			memcpy(o->data + 4 * k, &v, 4);
		}
		if (!fl && t->nbytes)
			memcpy(o->data, t->data, t->nbytes);
	}
}

static void check_plus_half(const struct mlf_ckpt *tmpl, const struct mlf_ckpt *back)
{
	assert_int_equal(back->ntensors, tmpl->ntensors);
	for (size_t i = 0; i < tmpl->ntensors; i++) {
		const struct mlf_tensor *t = &tmpl->tensors[i], *b = &back->tensors[i];
		assert_string_equal(b->name, t->name);
		assert_int_equal(b->dtype, t->dtype);
		assert_int_equal(b->ndim, t->ndim);
		assert_memory_equal(b->shape, t->shape, sizeof(t->shape[0]) * (size_t)t->ndim);
		assert_int_equal(b->nbytes, t->nbytes);
		assert_int_equal(b->requires_grad, t->requires_grad);
		size_t n = (size_t)mlf_tensor_numel(t);
		for (size_t k = 0; k < n; k++) {
			if (t->dtype == MLF_DTYPE_F16) {
				uint16_t h, got;
				memcpy(&h, t->data + 2 * k, 2);
				memcpy(&got, b->data + 2 * k, 2);
				if (got != ref_f16(ref_f32(h) + 0.5f))
					fail_msg("%s[%zu]: 0x%04x, want 0x%04x", t->name, k, got,
						 ref_f16(ref_f32(h) + 0.5f));
			} else if (t->dtype == MLF_DTYPE_F32) {
				float v, got;
				memcpy(&v, t->data + 4 * k, 4);
				memcpy(&got, b->data + 4 * k, 4);
				assert_true(got == v + 0.5f);
			}
		}
		if (t->dtype != MLF_DTYPE_F16 && t->dtype != MLF_DTYPE_F32 && t->nbytes)
			assert_memory_equal(b->data, t->data, t->nbytes);
	}
}

static void modified_round_trip(const char *tmpl, const char *folder)
{
	struct mlf_ckpt c, w, back;
	struct mlf_error err = MLF_ERROR_INIT;
	char *dir = out_dir(folder), *out = mlf_xasprintf("%s/retrained_v2.pt", dir);
	json_t *up = json_pack("{s:i,s:s,s:f,s:n,s:{s:[i,f,b,s,n]}}", "epoch", 7, "date",
			       "2025-06-07T08:09:10.111213+00:00", "best_fitness", 0.25, "optimizer",
			       "mlf", "run", 3, 0.5, 1, "x");
	assert_int_equal(mlf_ckpt_read_pt(tmpl, &c, &err), 0);
	plus_half(&c, &w);
	if (mlf_ckpt_write_pt(tmpl, &w, up, out, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(dir_entries(dir), 1);
	check_layout(out, "retrained_v2");
	if (mlf_ckpt_read_pt(out, &back, &err))
		fail_msg("%s", err.msg);
	check_plus_half(&c, &back);
	assert_meta_same(back.meta, c.meta);

	/* The updates, and every other top-level entry as it was. */
	json_t *ck = json_object_get(back.meta, "checkpoint"), *tck = json_object_get(c.meta, "checkpoint");
	const char *k;
	json_t *v;
	json_object_foreach(up, k, v)
		assert_json_same(json_object_get(ck, k), v, k);
	json_object_foreach(tck, k, v)
		if (!json_object_get(up, k))
			assert_json_same(json_object_get(ck, k), v, k);
	assert_int_equal(json_object_size(ck), json_object_size(tck) + 1);  /* + "mlf" */

	mlf_ckpt_release(&c);
	mlf_ckpt_release(&w);
	mlf_ckpt_release(&back);
	json_decref(up);
	free(out);
	free(dir);
}

static void test_write_pt_modified(void **state)
{
	(void)state;
	modified_round_trip(V8, "w-mod-v8");
	modified_round_trip(V11, "w-mod-11");
}

/* Fails with `status` and a message holding `needle`, leaving the folder empty. */
static void expect_write_fails(const char *tmpl, const struct mlf_ckpt *w, const json_t *up,
			       const char *dir, const char *out, int status, const char *needle)
{
	struct mlf_error err = MLF_ERROR_INIT;
	if (!mlf_ckpt_write_pt(tmpl, w, up, out, &err))
		fail_msg("writing %s succeeded, expected '%s'", out, needle);
	assert_int_equal(err.status, status);
	if (!strstr(err.msg, needle))
		fail_msg("message '%s' lacks '%s'", err.msg, needle);
	assert_int_equal(access(out, F_OK), -1);
	assert_int_equal(dir_entries(dir), 0);
}

/* A copy of `c` where tensor `name` is dropped, or reshaped to `ndim`/`shape`. */
static void copy_except(const struct mlf_ckpt *c, const char *name, int ndim, const int64_t *shape,
			enum mlf_dtype dtype, struct mlf_ckpt *out)
{
	struct mlf_error err = MLF_ERROR_INIT;
	mlf_ckpt_init(out);
	for (size_t i = 0; i < c->ntensors; i++) {
		const struct mlf_tensor *t = &c->tensors[i];
		if (strcmp(t->name, name)) {
			struct mlf_tensor *o = mlf_ckpt_add(out, t->name, t->dtype, t->ndim, t->shape, &err);
			if (t->nbytes)
				memcpy(o->data, t->data, t->nbytes);
		} else if (ndim >= 0) {
			assert_non_null(mlf_ckpt_add(out, t->name, dtype, ndim, shape, &err));
		}
	}
}

static void test_write_pt_errors(void **state)
{
	(void)state;
	struct mlf_ckpt c, w;
	struct mlf_error err = MLF_ERROR_INIT;
	char *dir = out_dir("w-err"), *out = mlf_xasprintf("%s/bad.pt", dir);
	assert_int_equal(mlf_ckpt_read_pt(V8, &c, &err), 0);

	int64_t shape[4] = { 8, 3, 3, 2 };
	copy_except(&c, "model.0.conv.weight", 4, shape, MLF_DTYPE_F32, &w);
	expect_write_fails(V8, &w, NULL, dir, out, MLF_EX_DATAERR,
			   "tensor 'model.0.conv.weight' has shape [8,3,3,2] in the weights but [8,3,3,3]");
	mlf_ckpt_release(&w);

	copy_except(&c, "model.22.dfl.conv.weight", -1, NULL, MLF_DTYPE_F32, &w);
	expect_write_fails(V8, &w, NULL, dir, out, MLF_EX_DATAERR,
			   "the weights have no tensor 'model.22.dfl.conv.weight'");
	int64_t one = 1;
	assert_non_null(mlf_ckpt_add(&w, "model.22.dfl.conv.weight", MLF_DTYPE_F16, 4,
				     mlf_ckpt_find(&c, "model.22.dfl.conv.weight")->shape, &err));
	assert_non_null(mlf_ckpt_add(&w, "model.99.extra", MLF_DTYPE_F32, 1, &one, &err));
	expect_write_fails(V8, &w, NULL, dir, out, MLF_EX_DATAERR,
			   "the template's model has no tensor 'model.99.extra'");
	mlf_ckpt_release(&w);

	/* An int64 counter given as floats: no silent conversion. */
	copy_except(&c, "model.0.bn.num_batches_tracked", 0, NULL, MLF_DTYPE_F32, &w);
	expect_write_fails(V8, &w, NULL, dir, out, MLF_EX_DATAERR,
			   "'model.0.bn.num_batches_tracked' is float32 in the weights and int64");
	mlf_ckpt_release(&w);

	char *missing = tmp_path("no-such-template.pt"), *junk = tmp_path("junk.pt");
	expect_write_fails(missing, &c, NULL, dir, out, MLF_EX_NOINPUT, "no such file");
	write_bytes(junk, "hello, world\n", 13);
	expect_write_fails(junk, &c, NULL, dir, out, MLF_EX_DATAERR, "not a zip archive");

	/* A folder that does not exist: nothing can be created. */
	char *nowhere = mlf_xasprintf("%s/missing/x.pt", dir);
	assert_int_equal(mlf_ckpt_write_pt(V8, &c, NULL, nowhere, &err), -1);
	assert_int_equal(err.status, MLF_EX_CANTCREAT);
	assert_int_equal(dir_entries(dir), 0);

	/* An existing file is replaced whole, or left alone on failure. */
	write_bytes(out, "old", 3);
	copy_except(&c, "model.0.conv.weight", 4, shape, MLF_DTYPE_F32, &w);
	assert_int_equal(mlf_ckpt_write_pt(V8, &w, NULL, out, &err), -1);
	char *data;
	size_t len;
	assert_int_equal(mlf_read_file(out, &data, &len, &err), 0);
	assert_int_equal(len, 3);
	free(data);
	assert_int_equal(dir_entries(dir), 1);
	assert_int_equal(mlf_ckpt_write_pt(V8, &c, NULL, out, &err), 0);
	assert_int_equal(dir_entries(dir), 1);
	mlf_ckpt_release(&w);

	mlf_ckpt_release(&c);
	free(nowhere);
	free(missing);
	free(junk);
	free(out);
	free(dir);
}

/* ---- the pickle writer against CPython's pickler ---- */

static unsigned char *unhex(const char *hex, size_t *n)
{
	*n = strlen(hex) / 2;
	unsigned char *b = mlf_xmalloc(*n + 1);
	for (size_t i = 0; i < *n; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		b[i] = (unsigned char)v;
	}
	return b;
}

/* Unpickle `in`, pickle it back: the same bytes. */
static void assert_repickles(const unsigned char *in, size_t n)
{
	struct pv_vm vm;
	struct pv *root;
	struct mlf_buf out = MLF_BUF_INIT;
	struct mlf_error err = MLF_ERROR_INIT;
	pv_vm_init(&vm);
	if (pv_run(&vm, in, n, &root, &err))
		fail_msg("%s", err.msg);
	if (pv_pickle(&vm, root, NULL, NULL, &out, &err))
		fail_msg("%s", err.msg);
	size_t at = 0;
	while (at < n && at < out.len && in[at] == (unsigned char)out.data[at])
		at++;
	if (at != n || out.len != n)
		fail_msg("pickles differ at byte %zu (lengths %zu and %zu)", at, n, out.len);
	mlf_buf_release(&out);
	pv_vm_release(&vm);
}

/*
 * CPython 3.11's pickle.dumps(x, protocol=2) of
 *   x = [1]; c = []; c.append(c)
 *   {"ints": [0, 255, 256, 65535, 65536, -1, -128, -129, 2**31-1, 2**31, -2**31, -2**31-1,
 *             2**40, -2**63, 2**63-1],
 *    "floats": [1.5, -0.0, 1e300], "consts": [True, False, None], "bytes": [b"", b"\0\xffA"],
 *    "text": "h\xe9llo", "set": set(), "set2": {1}, "fs": frozenset({2}), "t": (), "t1": (1,),
 *    "t3": (1, 2, 3), "t4": (1, 2, 3, 4), "od": OrderedDict([("a", 1)]), "x1": x, "x2": x,
 *    "cyc": c, "ns": types.SimpleNamespace(a=1), "cls": OrderedDict, "od2": od2}
 * with od2 = OrderedDict([("b", 2)]); od2.x = 1 (a BUILD on a dict).
 */
static const char small_pickle[] =
	"80027d7100285804000000696e747371015d7102284b004bff4d00014dffff4a000001004affffffff4a80ffffff4a"
	"7fffffff4affffff7f8a0500000080004a000000808a05ffffff7fff8a060000000000018a0800000000000000808a"
	"08ffffffffffffff7f655806000000666c6f61747371035d710428473ff8000000000000478000000000000000477e"
	"37e43c8800759c655806000000636f6e73747371055d71062888894e655805000000627974657371075d710828635f"
	"5f6275696c74696e5f5f0a62797465730a71092952710a635f636f646563730a656e636f64650a710b580400000000"
	"c3bf41710c58060000006c6174696e31710d86710e52710f655804000000746578747110580600000068c3a96c6c6f"
	"711158030000007365747112635f5f6275696c74696e5f5f0a7365740a71135d711485711552711658040000007365"
	"7432711768135d71184b016185711952711a58020000006673711b635f5f6275696c74696e5f5f0a66726f7a656e73"
	"65740a711c5d711d4b026185711e52711f5801000000747120295802000000743171214b0185712258020000007433"
	"71234b014b024b03877124580200000074347125284b014b024b034b0474712658020000006f64712763636f6c6c65"
	"6374696f6e730a4f726465726564446963740a712829527129580100000061712a4b017358020000007831712b5d71"
	"2c4b016158020000007832712d682c5803000000637963712e5d712f682f6158020000006e7371306374797065730a"
	"53696d706c654e616d6573706163650a7131295271327d7133682a4b0173625803000000636c737134682858030000"
	"006f6432713568282952713658010000006271374b02737d713858010000007871394b017362752e";

struct gen {
	struct mlf_buf b;
	unsigned memo;
};

static void g_op(struct gen *g, int c)
{
	mlf_buf_addc(&g->b, (char)c);
}

static void g_put(struct gen *g)
{
	assert_true(g->memo < 256);
	g_op(g, 'q');
	g_op(g, (int)g->memo++);
}

static void g_int(struct gen *g, int v)
{
	if (v < 256) {
		g_op(g, 'K');
		g_op(g, v);
	} else {
		g_op(g, 'M');
		g_op(g, v & 0xff);
		g_op(g, v >> 8);
	}
}

static void g_key(struct gen *g, const char *s)
{
	pstr(&g->b, s);
	g_put(g);
}

/* n items from 0, in the batches CPython writes for a dict, list or OrderedDict's items. */
static void g_items(struct gen *g, int n, int pairs, int exact)
{
	if (n == 1) {
		g_int(g, 0);
		if (pairs)
			g_int(g, 0);
		g_op(g, pairs ? 's' : 'a');
		return;
	}
	int i = 0;
	for (;;) {
		int batch = n - i < 1000 ? n - i : 1000;
		if (!exact && batch <= 1) {
			if (batch) {
				g_int(g, i);
				if (pairs)
					g_int(g, i);
				g_op(g, pairs ? 's' : 'a');
			}
			return;
		}
		g_op(g, '(');
		for (int k = 0; k < batch; k++, i++) {
			g_int(g, i);
			if (pairs)
				g_int(g, i);
		}
		g_op(g, pairs ? 'u' : 'e');
		if (batch < 1000 || (!pairs && i == n))
			return;
	}
}

/*
 * The same as CPython 3.11's pickle.dumps(x, protocol=2) (sha256 checked) of
 *   {"d1000": {i: i for i in range(1000)}, "d1001": ..., "d2": {1: 2, 3: 4}, "d1": {5: 6},
 *    "l1000": list(range(1000)), "l1001": ..., "l1": [7],
 *    "o1000": OrderedDict((i, i) for i in range(1000)), "o1001": ..., "o2001": ...}
 * where each batching rule shows: a full dict ends with an empty batch, a
 * full list does not, a reduced dict's lone last item is a SETITEM.
 */
static void big_pickle(struct mlf_buf *out)
{
	struct gen g = { MLF_BUF_INIT, 0 };
	g_op(&g, 0x80);
	g_op(&g, 2);
	g_op(&g, '}');
	g_put(&g);
	g_op(&g, '(');
	const int dn[] = { 1000, 1001 };
	for (int i = 0; i < 2; i++) {
		g_key(&g, i ? "d1001" : "d1000");
		g_op(&g, '}');
		g_put(&g);
		g_items(&g, dn[i], 1, 1);
	}
	g_key(&g, "d2");
	g_op(&g, '}');
	g_put(&g);
	mlf_buf_add(&g.b, "(K\001K\002K\003K\004u", 10);
	g_key(&g, "d1");
	g_op(&g, '}');
	g_put(&g);
	mlf_buf_add(&g.b, "K\005K\006s", 5);
	for (int i = 0; i < 2; i++) {
		g_key(&g, i ? "l1001" : "l1000");
		g_op(&g, ']');
		g_put(&g);
		g_items(&g, dn[i], 0, 1);
	}
	g_key(&g, "l1");
	g_op(&g, ']');
	g_put(&g);
	mlf_buf_add(&g.b, "K\007a", 3);
	const int on[] = { 1000, 1001, 2001 };
	unsigned od = 0;
	for (int i = 0; i < 3; i++) {
		g_key(&g, i == 0 ? "o1000" : i == 1 ? "o1001" : "o2001");
		if (!i) {
			pglobal(&g.b, "collections", "OrderedDict");
			od = g.memo;
			g_put(&g);
		} else {
			g_op(&g, 'h');
			g_op(&g, (int)od);
		}
		g_op(&g, ')');
		g_op(&g, 'R');
		g_put(&g);
		g_items(&g, on[i], 1, 0);
	}
	g_op(&g, 'u');
	g_op(&g, '.');
	*out = g.b;
}

static void test_pickle_writer_matches_cpython(void **state)
{
	(void)state;
	size_t n;
	unsigned char *small = unhex(small_pickle, &n);
	assert_repickles(small, n);
	free(small);

	struct mlf_buf big;
	char hex[65];
	big_pickle(&big);
	sha256_hex(big.data, big.len, hex);
	assert_string_equal(hex, "3ea603dd4f37990774b0608939a05e2a3ac9d936fb12213daa391a6649657eb7");
	assert_repickles((const unsigned char *)big.data, big.len);
	mlf_buf_release(&big);

	/* 5000 lists each in the next, built through the stack: refused, not a stack overflow. */
	struct mlf_buf b = MLF_BUF_INIT;
	for (int i = 0; i < 5000; i++)
		op(&b, ']');
	for (int i = 0; i < 4999; i++)
		op(&b, 'a');
	op(&b, '.');
	struct pv_vm vm;
	struct pv *root;
	struct mlf_buf out = MLF_BUF_INIT;
	struct mlf_error err = MLF_ERROR_INIT;
	pv_vm_init(&vm);
	assert_int_equal(pv_run(&vm, (const unsigned char *)b.data, b.len, &root, &err), 0);
	assert_int_equal(pv_pickle(&vm, root, NULL, NULL, &out, &err), -1);
	assert_int_equal(err.status, MLF_EX_DATAERR);
	assert_non_null(strstr(err.msg, "nested more than"));
	mlf_buf_release(&out);
	mlf_buf_release(&b);
	pv_vm_release(&vm);
}

static void test_half_conversion(void **state)
{
	(void)state;
	/* Every half to float and back; then float bit patterns across the whole range. */
	for (uint32_t u = 0; u < 0x10000; u++) {
		float f = ckpt_f16_to_f32((uint16_t)u);
		if (f != f)
			continue;  /* NaN: compared below by class only */
		if (ref_f16(f) != u || f != ref_f32((uint16_t)u))
			fail_msg("half 0x%04x", u);
		assert_int_equal(ckpt_f32_to_f16(f), u);
	}
	for (uint64_t x = 0; x <= 0xffffffffu; x += 65521) {
		float f;
		uint32_t u = (uint32_t)x;
		memcpy(&f, &u, 4);
		uint16_t got = ckpt_f32_to_f16(f), want = ref_f16(f);
		if (f != f)
			assert_true((got & 0x7c00) == 0x7c00 && (got & 0x3ff));
		else if (got != want)
			fail_msg("float 0x%08x: 0x%04x, want 0x%04x", u, got, want);
	}
	/* Ties to even at the edges: subnormals, the largest half, overflow. */
	const float edge[] = { 0x1p-25f, 0x1.8p-25f, 0x1p-24f, 0x1.8p-24f, 0x1.ffcp-15f, 65504.0f,
			       65519.99f, 65520.0f, -65520.0f, 2049.0f, 2051.0f, 1e-10f, -0.0f };
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		assert_int_equal(ckpt_f32_to_f16(edge[i]), ref_f16(edge[i]));
	/* bfloat16: round to nearest even on the top half. */
	assert_int_equal(ckpt_f32_to_bf16(1.0f), 0x3f80);
	assert_int_equal(ckpt_f32_to_bf16(0x1.01p0f), 0x3f80);  /* a tie, to even */
	assert_int_equal(ckpt_f32_to_bf16(0x1.03p0f), 0x3f82);  /* a tie, to even (up) */
	assert_true(ckpt_bf16_to_f32(0x3f82) == 0x1.04p0f);
	float in[3] = { 1.5f, -2.0f, 0.1f };
	uint16_t h[3];
	assert_int_equal(ckpt_convert(MLF_DTYPE_F16, h, MLF_DTYPE_F32, in, 3), 0);
	assert_int_equal(h[2], 0x2e66);
	int64_t i64 = 3;
	assert_int_equal(ckpt_convert(MLF_DTYPE_F32, in, MLF_DTYPE_I64, &i64, 1), -1);
}

/* ---- extra records in a .pt ---- */

#define RESUME "mlf/resume.safetensors"
#define STATE "mlf/state.json"

/* A small checkpoint of every kind the resume state holds: f32, a 0-d int64, an empty f16, bools. */
static void small_ckpt(struct mlf_ckpt *c, float base)
{
	struct mlf_error err = MLF_ERROR_INIT;
	int64_t s23[2] = { 2, 3 }, s0 = 0, s5 = 5;
	mlf_ckpt_init(c);
	struct mlf_tensor *t = mlf_ckpt_add(c, "opt.exp_avg.model.0.conv.weight", MLF_DTYPE_F32, 2, s23, &err);
	assert_non_null(t);
	for (int i = 0; i < 6; i++)
		((float *)t->data)[i] = base + (float)i * 0.25f;
	t = mlf_ckpt_add(c, "opt.step", MLF_DTYPE_I64, 0, NULL, &err);
	assert_non_null(t);
	int64_t step = 0x0102030405060708;
	memcpy(t->data, &step, 8);
	assert_non_null(mlf_ckpt_add(c, "empty", MLF_DTYPE_F16, 1, &s0, &err));
	t = mlf_ckpt_add(c, "mask", MLF_DTYPE_BOOL, 1, &s5, &err);
	assert_non_null(t);
	t->data[1] = t->data[4] = 1;
}

/* Record `name` of `pt` is exactly `data`; `b` had something in it before. */
static void expect_record(const char *pt, const char *name, const void *data, size_t len)
{
	struct mlf_buf b = MLF_BUF_INIT;
	struct mlf_error err = MLF_ERROR_INIT;
	mlf_buf_adds(&b, "stale content that must go");
	if (mlf_ckpt_read_pt_record(pt, name, &b, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(b.len, len);
	if (len)
		assert_memory_equal(b.data, data, len);
	assert_int_equal(b.data[b.len], 0);
	mlf_buf_release(&b);
}

static void expect_record_fails(const char *pt, const char *name, int status, const char *needle)
{
	struct mlf_buf b = MLF_BUF_INIT;
	struct mlf_error err = MLF_ERROR_INIT;
	mlf_buf_adds(&b, "kept");
	if (!mlf_ckpt_read_pt_record(pt, name, &b, &err))
		fail_msg("reading record '%s' of %s succeeded", name, pt);
	assert_int_equal(err.status, status);
	if (needle && !strstr(err.msg, needle))
		fail_msg("message '%s' lacks '%s'", err.msg, needle);
	if (status != MLF_EX_USAGE && !strstr(err.msg, pt))
		fail_msg("message '%s' does not name %s", err.msg, pt);
	assert_string_equal(b.data, "kept");
	mlf_buf_release(&b);
}

static char *serialization_id_of(const char *pt, const char *prefix)
{
	char *name = mlf_xasprintf("%s/.data/serialization_id", prefix), *id;
	size_t n;
	read_entry(pt, name, &id, &n);
	assert_int_equal(n, 40);
	id[n] = 0;
	free(name);
	return id;
}

static void records_round_trip(const char *tmpl, const char *folder)
{
	struct mlf_ckpt c, w, back, plain, resume;
	struct mlf_buf st = MLF_BUF_INIT;
	struct mlf_error err = MLF_ERROR_INIT;
	char *dir = out_dir(folder), *out = mlf_xasprintf("%s/last.pt", dir),
	     *ref = mlf_xasprintf("%s/ref.pt", dir);
	const char state[] = "{\"epoch\": 3, \"updates\": 1234, \"rng\": \"\\u0000x\"}";
	json_t *up = json_pack("{s:i}", "epoch", 3);
	json_t *md = json_pack("{s:s}", "mlf.resume", "1");

	assert_int_equal(mlf_ckpt_read_pt(tmpl, &c, &err), 0);
	plus_half(&c, &w);
	small_ckpt(&resume, 1.5f);
	assert_int_equal(mlf_ckpt_safetensors_encode(&resume, md, &st, &err), 0);
	assert_true(memchr(st.data, 0, st.len) != NULL);  /* binary, NULs and all */
	const struct mlf_ckpt_record recs[] = {
		{ RESUME, st.data, st.len },
		{ STATE, state, sizeof(state) - 1 },
	};
	if (mlf_ckpt_write_pt_records(tmpl, &w, up, recs, 2, out, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(mlf_ckpt_write_pt(tmpl, &w, up, ref, &err), 0);
	assert_int_equal(dir_entries(dir), 2);
	const char *const names[] = { RESUME, STATE };
	size_t nst = check_layout_records(out, "last", names, 2);
	assert_int_equal(check_layout(ref, "ref"), nst);

	/* The records, byte for byte, and what the resume state decodes to. */
	expect_record(out, RESUME, st.data, st.len);
	expect_record(out, STATE, state, sizeof(state) - 1);
	struct mlf_buf got = MLF_BUF_INIT;
	assert_int_equal(mlf_ckpt_read_pt_record(out, RESUME, &got, &err), 0);
	struct mlf_ckpt dec;
	if (mlf_ckpt_safetensors_decode(got.data, got.len, RESUME, &dec, &err))
		fail_msg("%s", err.msg);
	assert_same_tensors(&resume, &dec);
	assert_json_same(json_object_get(dec.meta, "metadata"), md, "metadata");
	mlf_ckpt_release(&dec);
	mlf_buf_release(&got);

	/* torch's records are what they are without ours: the same pickle and storages. */
	char *a, *b, *an, *bn;
	size_t na, nb;
	for (size_t i = 0; i <= nst; i++) {
		an = i < nst ? mlf_xasprintf("last/data/%zu", i) : mlf_xstrdup("last/data.pkl");
		bn = i < nst ? mlf_xasprintf("ref/data/%zu", i) : mlf_xstrdup("ref/data.pkl");
		read_entry(out, an, &a, &na);
		read_entry(ref, bn, &b, &nb);
		assert_int_equal(na, nb);
		if (na)
			assert_memory_equal(a, b, na);
		free(a);
		free(b);
		free(an);
		free(bn);
	}

	/* The tensors and description read back as from the file without records. */
	if (mlf_ckpt_read_pt(out, &back, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(mlf_ckpt_read_pt(ref, &plain, &err), 0);
	check_plus_half(&c, &back);
	assert_same_tensors(&plain, &back);
	assert_meta_same(back.meta, plain.meta);
	assert_json_same(json_object_get(back.meta, "checkpoint"), json_object_get(plain.meta, "checkpoint"),
			 "checkpoint");

	/* The serialization id covers the records: same content, same file; other records, other id. */
	char h1[65], h2[65], *id1 = serialization_id_of(out, "last"), *id2;
	assert_int_equal(mlf_sha256_file(out, h1, NULL, &err), 0);
	assert_int_equal(mlf_ckpt_write_pt_records(tmpl, &w, up, recs, 2, out, &err), 0);
	assert_int_equal(mlf_sha256_file(out, h2, NULL, &err), 0);
	assert_string_equal(h1, h2);
	const struct mlf_ckpt_record other[] = { recs[0], { STATE, state, sizeof(state) - 2 } };
	assert_int_equal(mlf_ckpt_write_pt_records(tmpl, &w, up, other, 2, out, &err), 0);
	id2 = serialization_id_of(out, "last");
	assert_string_not_equal(id1, id2);
	free(id2);
	char *id_ref = serialization_id_of(ref, "ref");
	assert_string_not_equal(id1, id_ref);
	free(id_ref);
	free(id1);
	expect_record(out, STATE, state, sizeof(state) - 2);

	/* Any archive folder name: the file renamed keeps "last" inside. */
	char *moved = mlf_xasprintf("%s/renamed.pt", dir);
	assert_int_equal(rename(out, moved), 0);
	expect_record(moved, RESUME, st.data, st.len);
	expect_record_fails(moved, "mlf/other.bin", MLF_EX_DATAERR, "no record 'mlf/other.bin'");
	expect_record_fails(moved, "mlf", MLF_EX_DATAERR, "'mlf'");
	expect_record_fails(ref, RESUME, MLF_EX_DATAERR, "no record '" RESUME "'");
	expect_record_fails(tmpl, STATE, MLF_EX_DATAERR, "no record '" STATE "'");

	/* An empty record is a record. */
	const struct mlf_ckpt_record empty = { "mlf/empty", NULL, 0 };
	assert_int_equal(mlf_ckpt_write_pt_records(tmpl, &w, NULL, &empty, 1, out, &err), 0);
	expect_record(out, "mlf/empty", "", 0);

	mlf_ckpt_release(&c);
	mlf_ckpt_release(&w);
	mlf_ckpt_release(&back);
	mlf_ckpt_release(&plain);
	mlf_ckpt_release(&resume);
	mlf_buf_release(&st);
	json_decref(up);
	json_decref(md);
	free(moved);
	free(out);
	free(ref);
	free(dir);
}

static void test_write_pt_records(void **state)
{
	(void)state;
	records_round_trip(V8, "w-rec-v8");
	records_round_trip(V11, "w-rec-11");
}

static void test_pt_record_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "/abs", "..", "../x", "a/../b", "a/./b", "./a", "a//b", "a/", "a\\b", "tab\tname",
		"caf\xc3\xa9", "data.pkl", "data", "data/0", "data/extra", ".data", ".data/serialization_id",
		"version", "byteorder", ".format_version", ".storage_alignment", "constants.pkl", "code/x",
	};
	struct mlf_ckpt c;
	struct mlf_error err = MLF_ERROR_INIT;
	char *dir = out_dir("w-rec-err"), *out = mlf_xasprintf("%s/last.pt", dir);
	assert_int_equal(mlf_ckpt_read_pt(V8, &c, &err), 0);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct mlf_ckpt_record r[] = { { "mlf/ok", "x", 1 }, { bad[i], "y", 1 } };
		char *needle = mlf_xasprintf("'%s'", bad[i]);
		if (!mlf_ckpt_write_pt_records(V8, &c, NULL, r, 2, out, &err))
			fail_msg("record name '%s' was accepted", bad[i]);
		assert_int_equal(err.status, MLF_EX_USAGE);
		if (!strstr(err.msg, needle))
			fail_msg("message '%s' lacks %s", err.msg, needle);
		assert_int_equal(dir_entries(dir), 0);
		expect_record_fails(V8, bad[i], MLF_EX_USAGE, needle);
		free(needle);
	}
	char *long_name = mlf_xmalloc(MLF_CKPT_MAX_RECORD_NAME + 2);
	memset(long_name, 'a', MLF_CKPT_MAX_RECORD_NAME + 1);
	long_name[MLF_CKPT_MAX_RECORD_NAME + 1] = 0;
	const struct mlf_ckpt_record lr = { long_name, "x", 1 };
	assert_int_equal(mlf_ckpt_write_pt_records(V8, &c, NULL, &lr, 1, out, &err), -1);
	assert_int_equal(err.status, MLF_EX_USAGE);
	const struct mlf_ckpt_record nul = { NULL, "x", 1 };
	assert_int_equal(mlf_ckpt_write_pt_records(V8, &c, NULL, &nul, 1, out, &err), -1);
	assert_int_equal(err.status, MLF_EX_USAGE);
	const struct mlf_ckpt_record twice[] = { { "mlf/a", "x", 1 }, { "mlf/a", "y", 1 } };
	assert_int_equal(mlf_ckpt_write_pt_records(V8, &c, NULL, twice, 2, out, &err), -1);
	assert_int_equal(err.status, MLF_EX_USAGE);
	assert_non_null(strstr(err.msg, "'mlf/a' is given twice"));
	assert_int_equal(dir_entries(dir), 0);

	/* Names close to torch's own are ours to use. */
	const struct mlf_ckpt_record fine[] = { { "versions", "1", 1 }, { "data.pkl.bak", "2", 1 },
						{ "mlf/data/0", "3", 1 }, { ".hidden", "4", 1 } };
	if (mlf_ckpt_write_pt_records(V8, &c, NULL, fine, 4, out, &err))
		fail_msg("%s", err.msg);
	for (size_t i = 0; i < 4; i++)
		expect_record(out, fine[i].name, fine[i].data, 1);
	struct mlf_ckpt back;
	assert_int_equal(mlf_ckpt_read_pt(out, &back, &err), 0);
	assert_same_tensors(&c, &back);
	mlf_ckpt_release(&back);

	/* Missing, not a zip, a zip that torch.save did not write. */
	char *missing = tmp_path("no-such.pt"), *junk = tmp_path("junk-rec.pt"), *zip = tmp_path("plain.zip");
	expect_record_fails(missing, RESUME, MLF_EX_NOINPUT, NULL);
	write_bytes(junk, "hello, world\n", 13);
	expect_record_fails(junk, RESUME, MLF_EX_DATAERR, "not a zip archive");
	zip_t *z = zip_open(zip, ZIP_CREATE | ZIP_TRUNCATE, NULL);
	assert_non_null(z);
	assert_true(zip_file_add(z, "plain/" RESUME, zip_source_buffer(z, "x", 1, 0), 0) >= 0);
	assert_int_equal(zip_close(z), 0);
	expect_record_fails(zip, RESUME, MLF_EX_DATAERR, "no data.pkl");

	mlf_ckpt_release(&c);
	free(long_name);
	free(missing);
	free(junk);
	free(zip);
	free(out);
	free(dir);
}

/* ---- safetensors in memory ---- */

static void test_safetensors_memory(void **state)
{
	(void)state;
	struct mlf_ckpt c, back, pt;
	struct mlf_buf b = MLF_BUF_INIT, b2 = MLF_BUF_INIT;
	struct mlf_error err = MLF_ERROR_INIT;
	json_t *md = json_pack("{s:s,s:s}", "epoch", "3", "what", "resume");
	small_ckpt(&c, -2.0f);

	mlf_buf_adds(&b, "replaced");
	assert_int_equal(mlf_ckpt_safetensors_encode(&c, md, &b, &err), 0);
	uint32_t hlen = le_u((const unsigned char *)b.data, 4);
	assert_int_equal(le_u((const unsigned char *)b.data + 4, 4), 0);
	assert_int_equal(hlen % 8, 0);  /* the header padded: data 8-byte aligned */
	assert_int_equal(b.len, 8 + hlen + 24 + 8 + 0 + 5);
	if (mlf_ckpt_safetensors_decode(b.data, b.len, "mem", &back, &err))
		fail_msg("%s", err.msg);
	assert_same_tensors(&c, &back);
	const struct mlf_tensor *step = mlf_ckpt_find(&back, "opt.step");
	assert_int_equal(step->ndim, 0);
	assert_int_equal(step->nbytes, 8);
	assert_json_same(json_object_get(back.meta, "metadata"), md, "metadata");
	assert_string_equal(json_string_value(json_object_get(back.meta, "format")), "safetensors");

	/* The very bytes the file writer writes, and the file reader reads the same. */
	char *f = tmp_path("mem.safetensors"), *data;
	size_t len;
	assert_int_equal(mlf_ckpt_write_safetensors(&c, f, md, &err), 0);
	assert_int_equal(mlf_read_file(f, &data, &len, &err), 0);
	assert_int_equal(len, b.len);
	assert_memory_equal(data, b.data, len);
	free(data);
	mlf_ckpt_release(&back);
	assert_int_equal(mlf_ckpt_read_safetensors(f, &back, &err), 0);
	assert_same_tensors(&c, &back);
	mlf_ckpt_release(&back);

	/* A real model, no metadata. */
	assert_int_equal(mlf_ckpt_read_pt(V11, &pt, &err), 0);
	assert_int_equal(mlf_ckpt_safetensors_encode(&pt, NULL, &b2, &err), 0);
	assert_int_equal(mlf_ckpt_safetensors_decode(b2.data, b2.len, "mem", &back, &err), 0);
	assert_same_tensors(&pt, &back);
	assert_true(json_is_null(json_object_get(back.meta, "metadata")));
	mlf_ckpt_release(&back);

	/* Every truncation is refused with 65, naming the source; nothing is left in `back`. */
	for (size_t cut = 0; cut < b.len; cut += cut < 64 ? 1 : 7) {
		err = (struct mlf_error)MLF_ERROR_INIT;
		if (!mlf_ckpt_safetensors_decode(b.data, cut, "resume record", &back, &err))
			fail_msg("%zu of %zu bytes decoded", cut, b.len);
		assert_int_equal(err.status, MLF_EX_DATAERR);
		assert_non_null(strstr(err.msg, "resume record"));
		assert_int_equal(back.ntensors, 0);
		assert_null(back.meta);
	}
	assert_int_equal(mlf_ckpt_safetensors_decode(b2.data, b2.len - 1, "cut", &back, &err), -1);
	assert_int_equal(err.status, MLF_EX_DATAERR);

	/* What cannot be encoded leaves `out` alone. */
	json_t *badmd = json_pack("{s:i}", "epoch", 3);
	size_t before = b.len;
	assert_int_equal(mlf_ckpt_safetensors_encode(&c, badmd, &b, &err), -1);
	assert_int_equal(err.status, MLF_EX_SOFTWARE);
	assert_int_equal(b.len, before);
	int64_t one = 1;
	assert_non_null(mlf_ckpt_add(&c, "__metadata__", MLF_DTYPE_F32, 1, &one, &err));
	assert_int_equal(mlf_ckpt_safetensors_encode(&c, NULL, &b, &err), -1);
	assert_int_equal(err.status, MLF_EX_DATAERR);
	assert_int_equal(b.len, before);

	json_decref(badmd);
	json_decref(md);
	mlf_ckpt_release(&c);
	mlf_ckpt_release(&pt);
	mlf_buf_release(&b);
	mlf_buf_release(&b2);
	free(f);
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
		cmocka_unit_test(test_write_pt_unchanged),
		cmocka_unit_test(test_write_pt_modified),
		cmocka_unit_test(test_write_pt_errors),
		cmocka_unit_test(test_write_pt_records),
		cmocka_unit_test(test_pt_record_errors),
		cmocka_unit_test(test_safetensors_memory),
		cmocka_unit_test(test_pickle_writer_matches_cpython),
		cmocka_unit_test(test_half_conversion),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
