/*
 * test_cmdline.c - the whole command line parser (cmdline.h) on argument
 * vectors, as main() runs it: mmapfs's options and libfuse's together
 * (no mounting).
 */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "mmapfs/cmdline.h"

/* Runs the whole parser over argv; returns the result, *message on error. */
static enum mmapfs_parse_result parse(const char *const *argv,
				      struct mmapfs_cmdline *cl,
				      char **message)
{
	int argc = (int)g_strv_length((char **)argv);
	g_auto(GStrv) copy = g_strdupv((char **)argv);
	struct fuse_args args = FUSE_ARGS_INIT(argc, copy);
	GError *error = NULL;
	enum mmapfs_parse_result r;

	r = mmapfs_cmdline_parse(&args, cl, &error);
	*message = error ? g_strdup(error->message) : NULL;
	g_clear_error(&error);
	fuse_opt_free_args(&args);
	return r;
}

static void test_parse_argv(void)
{
	g_autofree char *dir = g_dir_make_tmp("options-XXXXXX", NULL);
	g_autofree char *mnt = g_dir_make_tmp("options-mnt-XXXXXX", NULL);
	g_autofree char *inside = g_build_filename(dir, "sub", NULL);
	g_autofree char *file = g_build_filename(dir, "file", NULL);
	struct mmapfs_cmdline c;
	struct mmapfs_options *o = &c.opts;
	char *msg;

	g_assert_true(g_file_set_contents(file, "", 0, NULL));
	g_assert_cmpint(g_mkdir(inside, 0755), ==, 0);
	{
		const char *argv[] = { "mmapfs", "-o", "max_maps=7,max_mapped=1M,timeout=2.5",
				       dir, mnt, NULL };
		g_assert_cmpint(parse(argv, &c, &msg), ==, MMAPFS_PARSE_OK);
		g_assert_cmpuint(o->max_maps, ==, 7);
		g_assert_cmpuint(o->max_mapped, ==, 1 << 20);
		g_assert_cmpfloat(o->timeout, ==, 2.5);
		g_assert_cmpstr(o->source, ==, dir);
		g_assert_cmpstr(o->mountpoint, ==, mnt);
		mmapfs_cmdline_clear(&c);
	}
	{
		const char *argv[] = { "mmapfs", "-o", "source=.", dir, NULL };
		g_assert_cmpint(parse(argv, &c, &msg), ==, MMAPFS_PARSE_OK);
		g_assert_cmpuint(o->max_maps, ==, MMAPFS_DEFAULT_MAX_MAPS);
		g_assert_cmpuint(o->max_mapped, ==, MMAPFS_DEFAULT_MAX_MAPPED);
		g_assert_true(g_path_is_absolute(o->source));
		/* Not given: the cache mode and its timeout are chosen at mount. */
		g_assert_cmpint(o->cache, ==, MMAPFS_CACHE_AUTO);
		g_assert_cmpint(o->watcher, ==, MMAPFS_WATCHER_AUTO);
		g_assert_cmpint(o->readdirplus, ==, MMAPFS_PLUS_AUTO);
		g_assert_cmpuint(o->push_files, ==, MMAPFS_DEFAULT_PUSH_FILES);
		g_assert_cmpfloat(o->timeout, <, 0);
		mmapfs_cmdline_clear(&c);
	}
	{
		const char *argv[] = { "mmapfs", "-o", "readdirplus=off,push_files=1M",
				       dir, mnt, NULL };
		g_assert_cmpint(parse(argv, &c, &msg), ==, MMAPFS_PARSE_OK);
		g_assert_cmpint(o->readdirplus, ==, MMAPFS_PLUS_OFF);
		g_assert_cmpuint(o->push_files, ==, 1 << 20);
		mmapfs_cmdline_clear(&c);
	}
	{
		const char *argv[] = { "mmapfs", "-o", "cache=watched,watcher=inotify",
				       dir, mnt, NULL };
		g_assert_cmpint(parse(argv, &c, &msg), ==, MMAPFS_PARSE_OK);
		g_assert_cmpint(o->cache, ==, MMAPFS_CACHE_WATCHED);
		g_assert_cmpint(o->watcher, ==, MMAPFS_WATCHER_INOTIFY);
		mmapfs_cmdline_clear(&c);
	}
	{
		const char *bad[][6] = {
			{ "mmapfs", NULL },
			{ "mmapfs", dir, NULL },
			{ "mmapfs", dir, mnt, mnt, NULL },
			{ "mmapfs", file, dir, NULL },
			{ "mmapfs", dir, "/nonexistent/mmapfs", NULL },
			{ "mmapfs", "-o", "max_maps=0", dir, mnt, NULL },
			{ "mmapfs", "-o", "max_maps=abc", dir, mnt, NULL },
			{ "mmapfs", "-o", "max_mapped=-1", dir, mnt, NULL },
			{ "mmapfs", "-o", "max_mapped=", dir, mnt, NULL },
			{ "mmapfs", "-o", "timeout=soon", dir, mnt, NULL },
			{ "mmapfs", "-o", "cache=forever", dir, mnt, NULL },
			{ "mmapfs", "-o", "watcher=dnotify", dir, mnt, NULL },
			{ "mmapfs", "-o", "readdirplus=sometimes", dir, mnt, NULL },
			{ "mmapfs", "-o", "push_files=17M", dir, mnt, NULL },
			{ "mmapfs", "-o", "push_files=-1", dir, mnt, NULL },
			{ "mmapfs", dir, dir, NULL },           /* the mirror inside itself */
			{ "mmapfs", dir, inside, NULL },
		};
		for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
			g_test_message("bad argv %zu", i);
			g_assert_cmpint(parse(bad[i], &c, &msg), ==, MMAPFS_PARSE_ERROR);
			g_assert_nonnull(msg);
			g_assert_null(strchr(msg, '\n'));
			g_free(msg);
			mmapfs_cmdline_clear(&c);
		}
	}
	{
		/* Overlong values, and bytes that would break the line. */
		g_autofree char *long_value = g_strnfill(5000, '7');
		g_autofree char *long_opt = g_strconcat("max_maps=", long_value, NULL);
		g_autofree char *long_source = g_strconcat("source=/", long_value, NULL);
		const char *bad[][5] = {
			{ "mmapfs", "-o", long_opt, dir, mnt },
			{ "mmapfs", "-o", long_source, dir, NULL },
			{ "mmapfs", long_value, dir, NULL },
			{ "mmapfs", "-o", "max_maps=1\n2", dir, mnt },
		};
		for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
			const char *argv[6] = { 0 };

			memcpy(argv, bad[i], sizeof(bad[i]));
			g_assert_cmpint(parse(argv, &c, &msg), ==, MMAPFS_PARSE_ERROR);
			g_test_message("%.100s", msg);
			g_assert_cmpuint(strlen(msg), <, 200);
			g_assert_null(strchr(msg, '\n'));
			g_free(msg);
			mmapfs_cmdline_clear(&c);
		}
	}
	g_unlink(file);
	g_rmdir(inside);
	g_rmdir(dir);
	g_rmdir(mnt);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/cmdline/parse-argv", test_parse_argv);
	return g_test_run();
}
