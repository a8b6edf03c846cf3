/*
 * test_stats.c - the statistics: histogram buckets at their boundaries,
 * counting requests, the error kinds, and the text, JSON and summary
 * formats (with the pid and SOURCE).
 */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "mmapfs/stats.h"

static void test_buckets(void)
{
	g_assert_cmpuint(stats_bucket(0), ==, 0);
	g_assert_cmpuint(stats_bucket(999), ==, 0);            /* < 1 us */
	g_assert_cmpuint(stats_bucket(1000), ==, 1);           /* [1, 2) us */
	g_assert_cmpuint(stats_bucket(1999), ==, 1);
	g_assert_cmpuint(stats_bucket(2000), ==, 2);           /* [2, 4) us */
	g_assert_cmpuint(stats_bucket(3999), ==, 2);
	g_assert_cmpuint(stats_bucket(4000), ==, 3);
	g_assert_cmpuint(stats_bucket(1000000), ==, 10);       /* 1 ms: [512, 1024) us */
	g_assert_cmpuint(stats_bucket(G_MAXUINT64), ==, STATS_BUCKETS - 1);
}

static void test_counting_and_formats(void)
{
	struct stats s = { .started_us = g_get_monotonic_time() };
	struct stats_snapshot snap = { 0 };
	g_autoptr(GString) text = g_string_new(NULL), json = g_string_new(NULL);
	g_autofree char *line = NULL;
	guint64 start = stats_now_ns();

	for (int i = 0; i < 3; i++)
		stats_op_done(&s, STATS_READ, start);
	stats_op_done(&s, STATS_LOOKUP, start);
	stats_add(&s.bytes_from_maps, 3000);
	stats_add(&s.bytes_from_pread, 1000);
	stats_add(&s.errors, 1);
	stats_add(&s.errors_of[STATS_ERR_NOSPACE], 1);
	stats_read(&s, &snap);
	snap.pid = 4242;
	snap.source = "/srv/a \"b\"";
	snap.cache_mode = "watched";
	snap.watcher = "fanotify";
	snap.passthrough = "auto";
	snap.passthrough_opens = 7;
	snap.maps.max_maps = 7;
	g_assert_cmpuint(snap.requests, ==, 4);
	g_assert_cmpuint(snap.ops[STATS_READ].requests, ==, 3);

	stats_format_text(&snap, text);
	g_assert_nonnull(strstr(text->str, "\nrequests 4\n"));
	g_assert_nonnull(strstr(text->str, "\nbytes_read 4000\n"));
	g_assert_nonnull(strstr(text->str, "\nmax_maps 7\n"));
	g_assert_nonnull(strstr(text->str, "\nop.read.requests 3\n"));
	g_assert_nonnull(strstr(text->str, "\nop.lookup.requests 1\n"));
	g_assert_null(strstr(text->str, "op.write."));         /* none: not shown */
	g_assert_nonnull(strstr(text->str, "\npid 4242\n"));
	g_assert_nonnull(strstr(text->str, "\nsource /srv/a \"b\"\n"));
	g_assert_nonnull(strstr(text->str, "\nerrors_nospace 1\n"));
	g_assert_nonnull(strstr(text->str, "\npassthrough auto\n"));
	g_assert_nonnull(strstr(text->str, "\npassthrough_opens 7\n"));

	stats_format_json(&snap, json);
	g_assert_true(g_str_has_prefix(json->str, "{\"uptime_s\":"));
	g_assert_nonnull(strstr(json->str, "\"source\":\"/srv/a \\\"b\\\"\",\"cache\":\"watched\","
				"\"watcher\":\"fanotify\",\"passthrough\":\"auto\","));
	g_assert_nonnull(strstr(json->str, "\"passthrough_opens\":7,"));
	g_assert_nonnull(strstr(json->str, "\"pid\":4242,"));
	g_assert_nonnull(strstr(json->str, "\"read\":{\"requests\":3,"));
	g_assert_true(g_str_has_suffix(json->str, "}}\n"));

	line = stats_summary_line(&snap);
	g_assert_null(strchr(line, '\n'));
	g_assert_true(g_str_has_prefix(line, "stats (pid 4242): "));
	g_assert_nonnull(strstr(line, "4 requests (1 errors, 1 nospace)"));
	g_assert_nonnull(strstr(line, "75% from mappings"));
}

static void test_error_kinds(void)
{
	g_assert_cmpint(stats_error_kind(ENOSPC), ==, STATS_ERR_NOSPACE);
	g_assert_cmpint(stats_error_kind(EDQUOT), ==, STATS_ERR_NOSPACE);
	g_assert_cmpint(stats_error_kind(EMFILE), ==, STATS_ERR_NOFILE);
	g_assert_cmpint(stats_error_kind(ENFILE), ==, STATS_ERR_NOFILE);
	g_assert_cmpint(stats_error_kind(EIO), ==, STATS_ERR_IO);
	g_assert_cmpint(stats_error_kind(ENOMEM), ==, STATS_ERR_NOMEM);
	g_assert_cmpint(stats_error_kind(ENOENT), ==, -1);     /* not suffered */
	g_assert_cmpstr(stats_error_kind_name(STATS_ERR_NOSPACE), ==, "nospace");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/stats/buckets", test_buckets);
	g_test_add_func("/stats/counting-and-formats", test_counting_and_formats);
	g_test_add_func("/stats/error-kinds", test_error_kinds);
	return g_test_run();
}
