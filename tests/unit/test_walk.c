/* The one folder walker (lib/base/fs.c): order, links, hidden names, depth, errors;
 * mlf_remove_tree on top of it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "mlf/base.h"

static char base[64];

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/mlf-test-walk.XXXXXX");
	return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	chmod(base, 0755);
	return mlf_remove_tree(base, NULL);
}

/* A file (or, with "@link:TARGET", a symbolic link) at `rel` below the test folder. */
static void put(const char *rel, const char *text)
{
	char *path = mlf_path_join(base, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	assert_int_equal(mlf_mkdir_p(path, 0755, NULL), 0);
	*slash = '/';
	if (!strncmp(text, "@link:", 6)) {
		assert_int_equal(symlink(text + 6, path), 0);
	} else {
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		fputs(text, f);
		assert_int_equal(fclose(f), 0);
	}
	free(path);
}

/* What a walk saw, one "D rel" / "F rel" / "E rel" / "X rel" line each, in order. */
static int seen_dir(const char *path, const char *rel, void *ctx, struct mlf_error *err)
{
	(void)path;
	(void)err;
	mlf_buf_addf(ctx, "D %s\n", rel);
	return 0;
}

static int seen_file(const char *path, const char *rel, void *ctx, struct mlf_error *err)
{
	(void)path;
	(void)err;
	mlf_buf_addf(ctx, "F %s\n", rel);
	return 0;
}

static int seen_end(const char *path, const char *rel, void *ctx, struct mlf_error *err)
{
	(void)path;
	(void)err;
	mlf_buf_addf(ctx, "X %s\n", rel);
	return 0;
}

static int seen_error(const char *path, const char *rel, void *ctx, struct mlf_error *err)
{
	(void)path;
	mlf_buf_addf(ctx, "E %s %d\n", rel, err->status);
	return 0;
}

static int walk(unsigned flags, struct mlf_buf *out, struct mlf_error *err)
{
	struct mlf_walk w = { .flags = flags, .on_dir = seen_dir, .on_file = seen_file, .ctx = out };
	mlf_buf_reset(out);
	return mlf_walk_tree(base, &w, err);
}

static void test_order_links_hidden(void **state)
{
	(void)state;
	struct mlf_buf out = MLF_BUF_INIT;
	struct mlf_error err = MLF_ERROR_INIT;
	put("b.txt", "b");
	put("a/z.txt", "z");
	put("a/c.txt", "c");
	put("a-c.txt", "ac");
	put(".hidden/x.txt", "x");
	put(".h.txt", "h");
	put("file-link", "@link:b.txt");
	put("dir-link", "@link:a");
	put("nowhere", "@link:missing");

	/* strcmp order in each folder; a linked file seen, a linked folder and a dead link not */
	assert_int_equal(walk(0, &out, &err), 0);
	assert_string_equal(out.data, "D \n"
			    "F .h.txt\n"
			    "D .hidden\nF .hidden/x.txt\n"
			    "D a\nF a/c.txt\nF a/z.txt\n"
			    "F a-c.txt\nF b.txt\nF file-link\n");

	assert_int_equal(walk(MLF_WALK_NO_HIDDEN | MLF_WALK_FOLLOW_DIRS, &out, &err), 0);
	assert_string_equal(out.data, "D \n"
			    "D a\nF a/c.txt\nF a/z.txt\n"
			    "F a-c.txt\nF b.txt\n"
			    "D dir-link\nF dir-link/c.txt\nF dir-link/z.txt\n"
			    "F file-link\n");
	mlf_buf_release(&out);
}

static void test_depth_and_errors(void **state)
{
	(void)state;
	struct mlf_buf out = MLF_BUF_INIT;
	struct mlf_error err = MLF_ERROR_INIT;

	/* a link loop, followed, fails (the system's limit on links in a path) */
	put("loop/self", "@link:.");
	assert_int_equal(walk(MLF_WALK_FOLLOW_DIRS, &out, &err), -1);
	assert_int_equal(err.status, MLF_EX_IOERR);
	assert_non_null(strstr(err.msg, "cannot follow"));
	/* not followed, it is passed over */
	mlf_error_clear(&err);
	assert_int_equal(walk(0, &out, &err), 0);
	assert_string_equal(out.data, "D \nD loop\n");

	/* a tree deeper than the limit fails; on_error sees it and the walk goes on past it */
	struct mlf_buf deep = MLF_BUF_INIT;
	mlf_buf_adds(&deep, "deep");
	for (int i = 0; i < MLF_WALK_MAX_DEPTH; i++)
		mlf_buf_adds(&deep, "/d");
	mlf_buf_adds(&deep, "/x.txt");
	put(deep.data, "x");
	put("deep/d/y.txt", "y");
	put("z.txt", "z");
	struct mlf_walk w = { .on_file = seen_file, .on_error = seen_error, .ctx = &out };
	mlf_buf_reset(&out);
	assert_int_equal(mlf_walk_tree(base, &w, &err), 0);
	assert_non_null(strstr(out.data, "E deep/d/d/"));
	assert_non_null(strstr(out.data, " 65\nF deep/d/y.txt\n"));
	assert_non_null(strstr(out.data, "F z.txt\n"));
	assert_null(strstr(out.data, "x.txt"));
	assert_int_equal(err.status, 0);
	w.on_error = NULL;
	assert_int_equal(mlf_walk_tree(base, &w, &err), -1);
	assert_int_equal(err.status, MLF_EX_DATAERR);
	assert_non_null(strstr(err.msg, "nested more than 64 folders deep"));
	mlf_buf_release(&deep);

	/* a folder that is not there */
	char *gone = mlf_path_join(base, "gone");
	assert_int_equal(mlf_walk_tree(gone, &w, &err), -1);
	assert_int_equal(err.status, MLF_EX_NOINPUT);
	free(gone);

	/* a folder that cannot be listed (not as root, who reads everything) */
	if (geteuid() != 0) {
		put("locked/x.txt", "x");
		char *locked = mlf_path_join(base, "locked");
		assert_int_equal(chmod(locked, 0), 0);
		assert_int_equal(walk(0, &out, &err), -1);
		assert_int_equal(err.status, MLF_EX_IOERR);
		assert_non_null(strstr(err.msg, "locked"));
		assert_int_equal(chmod(locked, 0755), 0);
		free(locked);
	}
	mlf_buf_release(&out);
}

static void test_dir_end_and_stop(void **state)
{
	(void)state;
	struct mlf_buf out = MLF_BUF_INIT;
	struct mlf_error err = MLF_ERROR_INIT;
	put("a/b/c.txt", "c");
	put("d.txt", "d");
	struct mlf_walk w = { .on_file = seen_file, .on_dir_end = seen_end, .ctx = &out };
	assert_int_equal(mlf_walk_tree(base, &w, &err), 0);
	assert_string_equal(out.data, "F a/b/c.txt\nX a/b\nX a\nF d.txt\nX \n");
	mlf_buf_release(&out);
}

static int stop_at_b(const char *path, const char *rel, void *ctx, struct mlf_error *err)
{
	(void)path;
	(void)ctx;
	return strcmp(rel, "b.txt") ? 0 : mlf_fail(err, MLF_EX_CANTCREAT, "stopped at %s", rel);
}

static void test_callback_stops(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	put("a.txt", "a");
	put("b.txt", "b");
	struct mlf_walk w = { .on_file = stop_at_b };
	assert_int_equal(mlf_walk_tree(base, &w, &err), -1);
	assert_int_equal(err.status, MLF_EX_CANTCREAT);
	assert_string_equal(err.msg, "stopped at b.txt");
}

/* Removing a tree removes links, not what they lead to. */
static void test_remove_tree_keeps_link_targets(void **state)
{
	(void)state;
	struct mlf_error err = MLF_ERROR_INIT;
	put("keep/k.txt", "k");
	char *keep = mlf_path_join(base, "keep");
	char *link_to = mlf_xasprintf("@link:%s", keep);
	put("doomed/sub/dir-link", link_to);
	put("doomed/file-link", "@link:../keep/k.txt");
	put("doomed/nowhere", "@link:missing");
	put("doomed/.hidden", "h");
	char *doomed = mlf_path_join(base, "doomed");
	assert_int_equal(mlf_remove_tree(doomed, &err), 0);
	struct stat st;
	assert_int_equal(lstat(doomed, &st), -1);
	assert_int_equal(errno, ENOENT);
	char *kept = mlf_path_join(keep, "k.txt");
	assert_true(mlf_is_file(kept));
	/* gone already, and a single file */
	assert_int_equal(mlf_remove_tree(doomed, &err), 0);
	assert_int_equal(mlf_remove_tree(kept, &err), 0);
	assert_false(mlf_is_file(kept));
	free(kept);
	free(doomed);
	free(link_to);
	free(keep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_links_hidden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_depth_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_end_and_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_tree_keeps_link_targets, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
