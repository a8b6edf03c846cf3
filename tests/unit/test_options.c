/*
 * test_options.c - the value parsers behind the mount options, and the
 * whole option parser on argument vectors (no mounting).
 */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "mmapfs/options.h"

static void test_parse_size(void)
{
	static const struct { const char *text; gboolean ok; guint64 value; } cases[] = {
		{ "0", TRUE, 0 },
		{ "4096", TRUE, 4096 },
		{ "1K", TRUE, 1024 },
		{ "1k", TRUE, 1024 },
		{ "512M", TRUE, 512ull << 20 },
		{ "16G", TRUE, 16ull << 30 },
		{ "2T", TRUE, 2ull << 40 },
		{ "18446744073709551615", TRUE, G_MAXUINT64 },
		{ "18446744073709551616", FALSE, 0 },
		{ "16777216T", FALSE, 0 },
		{ "-1", FALSE, 0 },
		{ "+1", FALSE, 0 },
		{ "", FALSE, 0 },
		{ "abc", FALSE, 0 },
		{ "1X", FALSE, 0 },
		{ "1KB", FALSE, 0 },
		{ " 1", FALSE, 0 },
		{ "1 ", FALSE, 0 },
	};

	uint64_t def;

	/* --help prints the text; the parser starts from the number. */
	g_assert_true(mmapfs_parse_size(MMAPFS_DEFAULT_MAX_MAPPED_TEXT, &def));
	g_assert_cmpuint(def, ==, MMAPFS_DEFAULT_MAX_MAPPED);
	g_assert_true(mmapfs_parse_size(MMAPFS_DEFAULT_PUSH_TEXT, &def));
	g_assert_cmpuint(def, ==, MMAPFS_DEFAULT_PUSH);
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		uint64_t v = 12345;
		gboolean ok = mmapfs_parse_size(cases[i].text, &v);

		g_test_message("size '%s'", cases[i].text);
		g_assert_cmpint(ok, ==, cases[i].ok);
		if (ok)
			g_assert_cmpuint(v, ==, cases[i].value);
	}
}

static void test_parse_limit(void)
{
	uint64_t maps = 1, mapped = 2;
	GError *error = NULL;

	g_assert_true(mmapfs_parse_limit("max_maps=256", &maps, &mapped, NULL));
	g_assert_cmpuint(maps, ==, 256);
	g_assert_cmpuint(mapped, ==, 2);
	g_assert_true(mmapfs_parse_limit("max_mapped=4G", &maps, &mapped, NULL));
	g_assert_cmpuint(mapped, ==, 4ull << 30);
	g_assert_false(mmapfs_parse_limit("max_maps=0", &maps, &mapped, &error));
	g_assert_nonnull(strstr(error->message, "max_maps"));
	g_clear_error(&error);
	g_assert_false(mmapfs_parse_limit("max_mapped=0", &maps, &mapped, NULL));
	g_assert_false(mmapfs_parse_limit("timeout=1", &maps, &mapped, NULL));
	g_assert_cmpuint(maps, ==, 256);
}

static void test_parse_count(void)
{
	uint64_t v;

	g_assert_true(mmapfs_parse_count("1", 1, 10, &v));
	g_assert_cmpuint(v, ==, 1);
	g_assert_true(mmapfs_parse_count("10", 1, 10, &v));
	g_assert_false(mmapfs_parse_count("0", 1, 10, &v));
	g_assert_false(mmapfs_parse_count("11", 1, 10, &v));
	g_assert_false(mmapfs_parse_count("abc", 1, 10, &v));
	g_assert_false(mmapfs_parse_count("-1", 0, 10, &v));
	g_assert_false(mmapfs_parse_count("", 0, 10, &v));
	g_assert_false(mmapfs_parse_count("3x", 0, 10, &v));
}

/* Runs the whole parser over argv; returns the result, *message on error. */
static enum mmapfs_parse_result parse(const char *const *argv,
				      struct mmapfs_options *opts,
				      char **message)
{
	int argc = (int)g_strv_length((char **)argv);
	g_auto(GStrv) copy = g_strdupv((char **)argv);
	struct fuse_args args = FUSE_ARGS_INIT(argc, copy);
	GError *error = NULL;
	enum mmapfs_parse_result r;

	r = mmapfs_options_parse(&args, opts, &error);
	*message = error ? g_strdup(error->message) : NULL;
	g_clear_error(&error);
	fuse_opt_free_args(&args);
	return r;
}

static void test_parse_argv(void)
{
	g_autofree char *dir = g_dir_make_tmp("options-XXXXXX", NULL);
	g_autofree char *file = g_build_filename(dir, "file", NULL);
	struct mmapfs_options o;
	char *msg;

	g_assert_true(g_file_set_contents(file, "", 0, NULL));
	{
		const char *argv[] = { "mmapfs", "-o", "max_maps=7,max_mapped=1M,timeout=2.5",
				       dir, dir, NULL };
		g_assert_cmpint(parse(argv, &o, &msg), ==, MMAPFS_PARSE_OK);
		g_assert_cmpuint(o.max_maps, ==, 7);
		g_assert_cmpuint(o.max_mapped, ==, 1 << 20);
		g_assert_cmpfloat(o.timeout, ==, 2.5);
		g_assert_cmpstr(o.source, ==, dir);
		g_assert_cmpstr(o.mountpoint, ==, dir);
		mmapfs_options_clear(&o);
	}
	{
		const char *argv[] = { "mmapfs", "-o", "source=.", dir, NULL };
		g_assert_cmpint(parse(argv, &o, &msg), ==, MMAPFS_PARSE_OK);
		g_assert_cmpuint(o.max_maps, ==, MMAPFS_DEFAULT_MAX_MAPS);
		g_assert_cmpuint(o.max_mapped, ==, MMAPFS_DEFAULT_MAX_MAPPED);
		g_assert_true(g_path_is_absolute(o.source));
		/* Not given: the cache mode and its timeout are chosen at mount. */
		g_assert_cmpint(o.cache, ==, MMAPFS_CACHE_AUTO);
		g_assert_cmpint(o.watcher, ==, MMAPFS_WATCHER_AUTO);
		g_assert_cmpint(o.readdirplus, ==, MMAPFS_PLUS_AUTO);
		g_assert_cmpuint(o.push_files, ==, MMAPFS_DEFAULT_PUSH_FILES);
		g_assert_cmpfloat(o.timeout, <, 0);
		mmapfs_options_clear(&o);
	}
	{
		const char *argv[] = { "mmapfs", "-o", "readdirplus=off,push_files=1M",
				       dir, dir, NULL };
		g_assert_cmpint(parse(argv, &o, &msg), ==, MMAPFS_PARSE_OK);
		g_assert_cmpint(o.readdirplus, ==, MMAPFS_PLUS_OFF);
		g_assert_cmpuint(o.push_files, ==, 1 << 20);
		mmapfs_options_clear(&o);
	}
	{
		const char *argv[] = { "mmapfs", "-o", "cache=watched,watcher=inotify",
				       dir, dir, NULL };
		g_assert_cmpint(parse(argv, &o, &msg), ==, MMAPFS_PARSE_OK);
		g_assert_cmpint(o.cache, ==, MMAPFS_CACHE_WATCHED);
		g_assert_cmpint(o.watcher, ==, MMAPFS_WATCHER_INOTIFY);
		mmapfs_options_clear(&o);
	}
	{
		const char *bad[][6] = {
			{ "mmapfs", NULL },
			{ "mmapfs", dir, NULL },
			{ "mmapfs", dir, dir, dir, NULL },
			{ "mmapfs", file, dir, NULL },
			{ "mmapfs", dir, "/nonexistent/mmapfs", NULL },
			{ "mmapfs", "-o", "max_maps=0", dir, dir, NULL },
			{ "mmapfs", "-o", "max_maps=abc", dir, dir, NULL },
			{ "mmapfs", "-o", "max_mapped=-1", dir, dir, NULL },
			{ "mmapfs", "-o", "max_mapped=", dir, dir, NULL },
			{ "mmapfs", "-o", "timeout=soon", dir, dir, NULL },
			{ "mmapfs", "-o", "cache=forever", dir, dir, NULL },
			{ "mmapfs", "-o", "watcher=dnotify", dir, dir, NULL },
			{ "mmapfs", "-o", "readdirplus=sometimes", dir, dir, NULL },
			{ "mmapfs", "-o", "push_files=17M", dir, dir, NULL },
			{ "mmapfs", "-o", "push_files=-1", dir, dir, NULL },
		};
		for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
			g_test_message("bad argv %zu", i);
			g_assert_cmpint(parse(bad[i], &o, &msg), ==, MMAPFS_PARSE_ERROR);
			g_assert_nonnull(msg);
			g_assert_null(strchr(msg, '\n'));
			g_free(msg);
			mmapfs_options_clear(&o);
		}
	}
	{
		/* Overlong values, and bytes that would break the line. */
		g_autofree char *long_value = g_strnfill(5000, '7');
		g_autofree char *long_opt = g_strconcat("max_maps=", long_value, NULL);
		g_autofree char *long_source = g_strconcat("source=/", long_value, NULL);
		const char *bad[][5] = {
			{ "mmapfs", "-o", long_opt, dir, dir },
			{ "mmapfs", "-o", long_source, dir, NULL },
			{ "mmapfs", long_value, dir, NULL },
			{ "mmapfs", "-o", "max_maps=1\n2", dir, dir },
		};
		for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
			const char *argv[6] = { 0 };

			memcpy(argv, bad[i], sizeof(bad[i]));
			g_assert_cmpint(parse(argv, &o, &msg), ==, MMAPFS_PARSE_ERROR);
			g_test_message("%.100s", msg);
			g_assert_cmpuint(strlen(msg), <, 200);
			g_assert_null(strchr(msg, '\n'));
			g_free(msg);
			mmapfs_options_clear(&o);
		}
	}
	g_unlink(file);
	g_rmdir(dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/options/parse-size", test_parse_size);
	g_test_add_func("/options/parse-count", test_parse_count);
	g_test_add_func("/options/parse-limit", test_parse_limit);
	g_test_add_func("/options/parse-argv", test_parse_argv);
	return g_test_run();
}
