/*
 * test_options.c - the core's half of the command line: the value
 * parsers, the option table's defaults and ranges, and --help's text.
 */
#include <stdio.h>
#include <stdlib.h>
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

	g_autofree char *max_mapped = mmapfs_format_size(MMAPFS_DEFAULT_MAX_MAPPED);
	g_autofree char *push = mmapfs_format_size(MMAPFS_DEFAULT_PUSH);
	uint64_t def;

	/* --help prints the default as text: it reads back as the number. */
	g_assert_true(mmapfs_parse_size(max_mapped, &def));
	g_assert_cmpuint(def, ==, MMAPFS_DEFAULT_MAX_MAPPED);
	g_assert_true(mmapfs_parse_size(push, &def));
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

/* Every option's default, stored from the table alone. */
static void test_defaults(void)
{
	struct mmapfs_options o;

	mmapfs_options_init(&o);
	g_assert_cmpuint(o.max_maps, ==, MMAPFS_DEFAULT_MAX_MAPS);
	g_assert_cmpuint(o.max_mapped, ==, MMAPFS_DEFAULT_MAX_MAPPED);
	g_assert_cmpuint(o.push, ==, MMAPFS_DEFAULT_PUSH);
	g_assert_cmpuint(o.push_files, ==, MMAPFS_DEFAULT_PUSH_FILES);
	g_assert_cmpuint(o.readahead, ==, MMAPFS_DEFAULT_READAHEAD);
	g_assert_cmpint(o.cache, ==, MMAPFS_CACHE_AUTO);
	g_assert_cmpint(o.watcher, ==, MMAPFS_WATCHER_AUTO);
	g_assert_cmpint(o.readdirplus, ==, MMAPFS_PLUS_AUTO);
	g_assert_cmpfloat(o.timeout, <, 0);
	g_assert_false(o.read_only);
	g_assert_null(o.source);
}

/* One word at a time: the range enforced is the range the error states. */
static void test_set(void)
{
	static const struct {
		const char *word;
		enum mmapfs_option_result res;
		const char *says;       /* in the message, for INVALID */
	} cases[] = {
		{ "max_maps=1", MMAPFS_OPTION_SET, NULL },
		{ "max_maps=1048576", MMAPFS_OPTION_SET, NULL },
		{ "max_maps=1048577", MMAPFS_OPTION_INVALID, "from 1 to 1048576" },
		{ "max_maps=0", MMAPFS_OPTION_INVALID, "from 1 to 1048576" },
		{ "max_mapped=64T", MMAPFS_OPTION_SET, NULL },
		{ "max_mapped=65T", MMAPFS_OPTION_INVALID, "a size from 1 to 64T" },
		{ "push=0", MMAPFS_OPTION_SET, NULL },
		{ "push=64K", MMAPFS_OPTION_SET, NULL },
		{ "push=12K", MMAPFS_OPTION_INVALID, "0, or a power of two from 4K to 64M" },
		{ "push=2K", MMAPFS_OPTION_INVALID, "power of two" },
		{ "readahead=64M", MMAPFS_OPTION_SET, NULL },
		{ "readahead=65M", MMAPFS_OPTION_INVALID, "0, or a size from 4K to 64M" },
		{ "readahead=1K", MMAPFS_OPTION_INVALID, "4K" },
		{ "push_files=16M", MMAPFS_OPTION_SET, NULL },
		{ "push_files=17M", MMAPFS_OPTION_INVALID, "a size from 0 to 16M" },
		{ "timeout=86400", MMAPFS_OPTION_SET, NULL },
		{ "timeout=86401", MMAPFS_OPTION_INVALID, "seconds from 0 to 86400" },
		{ "timeout=nan", MMAPFS_OPTION_INVALID, "seconds" },
		{ "cache=none", MMAPFS_OPTION_SET, NULL },
		{ "cache=never", MMAPFS_OPTION_INVALID, "auto, watched, timeout, none" },
		{ "log_level=debug", MMAPFS_OPTION_SET, NULL },
		{ "max_maps", MMAPFS_OPTION_INVALID, "needs a value" },
		{ "max_maps=", MMAPFS_OPTION_INVALID, "needs a value" },
		{ "ro", MMAPFS_OPTION_NOTED, NULL },
		{ "allow_other", MMAPFS_OPTION_NOTED, NULL },
		{ "ro=1", MMAPFS_OPTION_UNKNOWN, NULL },
		/* Ours alone: stored, not passed on; no value. */
		{ "writeback", MMAPFS_OPTION_SET, NULL },
		{ "writeback=1", MMAPFS_OPTION_INVALID, "takes no value" },
		{ "default_permissions", MMAPFS_OPTION_UNKNOWN, NULL },
		{ "max", MMAPFS_OPTION_UNKNOWN, NULL },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct mmapfs_options o;
		GError *error = NULL;

		mmapfs_options_init(&o);
		g_test_message("%s", cases[i].word);
		g_assert_cmpint(mmapfs_option_set(&o, cases[i].word, &error), ==,
				cases[i].res);
		if (cases[i].says) {
			g_assert_nonnull(error);
			g_assert_nonnull(strstr(error->message, cases[i].says));
		} else {
			g_assert_no_error(error);
		}
		g_clear_error(&error);
		mmapfs_options_clear(&o);
	}
}

/* --help shows each option's default and range in its own notation. */
static void test_help(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	g_autoptr(GRegex) space = g_regex_new("\\s+", 0, 0, NULL);
	g_autofree char *wrapped = NULL;

	mmapfs_options_print_help(f);
	fclose(f);
	g_test_message("%s", text);
	/* Lines are wrapped: compare with each run of white space as one. */
	wrapped = text;
	text = g_regex_replace_literal(space, wrapped, -1, 0, " ", 0, NULL);
	g_assert_nonnull(strstr(text, "[16G]"));
	g_assert_nonnull(strstr(text, "[4096]"));
	g_assert_nonnull(strstr(text, "[64K]"));
	g_assert_nonnull(strstr(text, "1 with cache=timeout, 60 with cache=watched"));
	g_assert_nonnull(strstr(text, "0, or a size from 4K to 64M"));
	g_assert_nonnull(strstr(text, "-o allow_other"));
	g_assert_nonnull(strstr(text, "-o writeback"));
	g_assert_null(strstr(text, "1M at most"));
	free(g_steal_pointer(&wrapped));
	g_free(text);
}

static void test_format_size(void)
{
	static const struct { guint64 n; const char *text; } cases[] = {
		{ 0, "0" }, { 1, "1" }, { 1000, "1000" }, { 4096, "4K" },
		{ 1536, "1536" }, { 64ull << 20, "64M" }, { 16ull << 30, "16G" },
		{ 1ull << 46, "64T" }, { 1ull << 52, "4096T" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *t = mmapfs_format_size(cases[i].n);
		uint64_t back;

		g_assert_cmpstr(t, ==, cases[i].text);
		g_assert_true(mmapfs_parse_size(t, &back));
		g_assert_cmpuint(back, ==, cases[i].n);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/options/parse-size", test_parse_size);
	g_test_add_func("/options/parse-count", test_parse_count);
	g_test_add_func("/options/parse-limit", test_parse_limit);
	g_test_add_func("/options/defaults", test_defaults);
	g_test_add_func("/options/set", test_set);
	g_test_add_func("/options/help", test_help);
	g_test_add_func("/options/format-size", test_format_size);
	return g_test_run();
}
