/*
 * test_ctl.c - mmapfs-ctl against a mount: stats as text, as JSON and
 * with --watch (an idle mount shows no requests: not the tool's own);
 * options anywhere and --help per command; limits printed and set; drop
 * saying how many; maps, hottest first, by path; pid and summary naming
 * the daemon; control on a read-only mount; bad usage; refused to nobody
 * by the daemon, with its reason and a log line; a directory that is not
 * an mmapfs mount; a dead mount, with the repair suggested.
 *
 * Every case mounts a fresh mirror with allow_other over three files of
 * 100,000 bytes, read once through the mount (three mappings live).
 */
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

#include "harness.h"

static void mount_read_three_with(struct mount *m, const char *o)
{
	const char *opts[] = { "-o", o, NULL };

	g_assert_cmpint(chmod(m->root, 0755), ==, 0);
	for (int i = 0; i < 3; i++) {
		g_autofree char *rel = g_strdup_printf("f%d", i);
		g_autofree char *p = src_path(m, rel);

		write_random_file(p, 100000, i);
	}
	mount_start(m, opts);
	for (int i = 0; i < 3; i++) {
		g_autofree char *rel = g_strdup_printf("f%d", i);
		g_autofree char *p = mnt_path(m, rel);
		g_autoptr(GBytes) b = read_whole(p, 65536);

		g_assert_cmpuint(g_bytes_get_size(b), ==, 100000);
	}
}

static void mount_read_three(struct mount *m)
{
	mount_read_three_with(m, "allow_other");
}

/* The kernel sends a file's RELEASE after close() returns, in the
 * background: a busy machine can deliver the three inside a watch. */
static void wait_three_releases(struct mount *m)
{
	g_assert_cmpuint(mount_stat_wait(m, "op.release.requests", 3, 5000), >=, 3);
}

/* Runs mmapfs-ctl with args; its exit code, its stdout and stderr. */
static int ctl(const char *const *args, char **out, char **err)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();

	g_ptr_array_add(argv, (char *)g_getenv("MMAPFS_CTL"));
	for (int i = 0; args[i]; i++)
		g_ptr_array_add(argv, (char *)args[i]);
	g_ptr_array_add(argv, NULL);
	return harness_run((const char *const *)argv->pdata, NULL, out, err);
}

static char *ctl_stats(const char *mnt)
{
	const char *args[] = { "stats", mnt, NULL };
	char *out = NULL;

	g_assert_cmpint(ctl(args, &out, NULL), ==, 0);
	return out;
}

static void test_stats_text(struct mount *m, gconstpointer data)
{
	g_autofree char *text = NULL;

	mount_read_three(m);
	text = ctl_stats(m->mnt);
	g_assert_cmpuint(stats_value(text, "bytes_from_maps"), >=, 300000);
	g_assert_cmpuint(stats_value(text, "op.read.requests"), >, 0);
	g_assert_cmpuint(stats_value(text, "op.lookup.requests"), >=, 3);
	g_assert_cmpuint(stats_value(text, "maps_live"), ==, 3);
	g_assert_cmpuint(stats_value(text, "max_maps"), ==, 4096);
	g_assert_nonnull(strstr(text, "\ncache watched\n"));
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* JSON that a JSON parser takes, with the same figures. */
static void test_stats_json(struct mount *m, gconstpointer data)
{
	g_autofree char *out = NULL, *want = NULL;
	g_autofree char *cmd = NULL;

	mount_read_three(m);
	cmd = g_strdup_printf(
		"'%s' stats '%s' --json | python3 -c 'import json, sys; "
		"d = json.load(sys.stdin); "
		"print(d[\"maps_live\"], d[\"ops\"][\"read\"][\"requests\"] > 0, "
		"sum(d[\"ops\"][\"read\"][\"histogram_us\"].values()) == "
		"d[\"ops\"][\"read\"][\"requests\"], d[\"pid\"], d[\"source\"])'",
		g_getenv("MMAPFS_CTL"), m->mnt);
	{
		const char *argv[] = { "sh", "-c", cmd, NULL };

		g_assert_cmpint(harness_run(argv, NULL, &out, NULL), ==, 0);
	}
	want = g_strdup_printf("3 True True %d %s\n", (int)m->pid, m->src);
	g_assert_cmpstr(out, ==, want);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

static void test_limits(struct mount *m, gconstpointer data)
{
	g_autofree char *out = NULL, *text = NULL;

	mount_read_three(m);
	{
		const char *args[] = { "limits", m->mnt, "max_maps=1", "max_mapped=1G", NULL };

		g_assert_cmpint(ctl(args, &out, NULL), ==, 0);
	}
	g_assert_nonnull(strstr(out, "max_maps=1 max_mapped=1073741824"));
	text = ctl_stats(m->mnt);
	g_assert_cmpuint(stats_value(text, "max_maps"), ==, 1);
	g_assert_cmpuint(stats_value(text, "maps_live"), <=, 1);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* Bad usage: exit code 2, one line on stderr. */
static void test_bad_usage(struct mount *m, gconstpointer data)
{
	mount_read_three(m);
	{
		const char *bad[][5] = {
			{ "limits", m->mnt, "max_maps=0", NULL },
			{ "limits", m->mnt, "max_mapped=lots", NULL },
			{ "drop", m->mnt, "now", NULL },
			{ "stats", m->mnt, "--frob", NULL },
			{ "stats", m->mnt, "--watch", "never", NULL },
			{ "frobnicate", m->mnt, NULL },
			{ "stats", NULL },
		};

		for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
			g_autofree char *err = NULL;

			g_assert_cmpint(ctl(bad[i], NULL, &err), ==, 2);
			assert_one_line(err);
		}
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

static void test_drop(struct mount *m, gconstpointer data)
{
	const char *args[] = { "drop", m->mnt, NULL };
	g_autofree char *text = NULL, *out = NULL;

	mount_read_three(m);
	g_assert_cmpint(ctl(args, &out, NULL), ==, 0);
	g_assert_cmpstr(out, ==, "dropped 3 mappings, 0 pinned ones left\n");
	text = ctl_stats(m->mnt);
	g_assert_cmpuint(stats_value(text, "maps_live"), ==, 0);
	g_assert_cmpuint(stats_value(text, "maps_dropped"), >=, 1);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* Others may look, not control. */
static void test_others_look_only(struct mount *m, gconstpointer data)
{
	const char *ctl_bin = g_getenv("MMAPFS_CTL");
	const char *drop[] = { "setpriv", "--reuid=65534", "--regid=65534",
			       "--clear-groups", ctl_bin, "drop", m->mnt, NULL };
	const char *look[] = { "setpriv", "--reuid=65534", "--regid=65534",
			       "--clear-groups", ctl_bin, "stats", m->mnt, NULL };
	g_autofree char *err = NULL;

	g_autofree char *log = NULL;

	mount_read_three(m);
	/* The daemon refuses, says why, and logs it. */
	g_assert_cmpint(harness_run(drop, NULL, NULL, &err), ==, 1);
	assert_one_line(err);
	g_assert_nonnull(strstr(err, "the daemon refused 'drop': error EPERM: only root"));
	g_assert_cmpint(harness_run(look, NULL, NULL, NULL), ==, 0);
	g_assert_cmpint(mount_stop(m), ==, 0);
	g_assert_true(g_file_get_contents(m->log, &log, NULL, NULL));
	g_assert_nonnull(strstr(log, "control: refused 'drop' from uid 65534: only root"));
}

static void test_not_a_mount(struct mount *m, gconstpointer data)
{
	const char *args[] = { "stats", m->root, NULL };
	g_autofree char *err = NULL;

	mount_read_three(m);
	g_assert_cmpint(ctl(args, NULL, &err), ==, 1);
	g_assert_nonnull(strstr(err, "not an mmapfs mount point"));
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * An idle mount: the tool's own polling is not counted in req/s.  Polling
 * counted would show in every line; one request of the kernel's own (seen
 * once in a parallel suite: 10 req/s in one line of 0.1 s) may show in
 * one.
 */
static void test_watch(struct mount *m, gconstpointer data)
{
	const char *args[] = { "stats", m->mnt, "--watch", "0.1", "--count", "5", NULL };
	g_autofree char *out = NULL;
	g_auto(GStrv) lines = NULL;
	int busy = 0;

	mount_read_three(m);
	wait_three_releases(m);
	g_assert_cmpint(ctl(args, &out, NULL), ==, 0);
	g_test_message("%s", out);
	lines = g_strsplit(out, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 7);  /* header, 5, "" */
	g_assert_nonnull(strstr(lines[0], "req/s"));
	for (int i = 1; i <= 5; i++) {
		g_assert_cmpint(atoi(lines[i]), <=, 10);
		busy += atoi(lines[i]) != 0;
	}
	g_assert_cmpint(busy, <=, 1);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* Options before or after the mount point; --help per command. */
static void test_options_anywhere(struct mount *m, gconstpointer data)
{
	const char *before[] = { "stats", "--json", m->mnt, NULL };
	const char *after[] = { "stats", m->mnt, "--json", NULL };
	const char *help[] = { "limits", "--help", NULL };
	g_autofree char *a = NULL, *b = NULL, *h = NULL;

	mount_read_three(m);
	g_assert_cmpint(ctl(before, &a, NULL), ==, 0);
	g_assert_cmpint(ctl(after, &b, NULL), ==, 0);
	g_assert_true(g_str_has_prefix(a, "{\"uptime_s\":"));
	g_assert_true(g_str_has_prefix(b, "{\"uptime_s\":"));
	g_assert_cmpint(ctl(help, &h, NULL), ==, 0);
	g_assert_nonnull(strstr(h, "limits MOUNTPOINT [max_maps=N] [max_mapped=SIZE]"));
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* limits alone prints the limits in force. */
static void test_limits_print(struct mount *m, gconstpointer data)
{
	const char *args[] = { "limits", m->mnt, NULL };
	g_autofree char *out = NULL;

	mount_read_three(m);
	g_assert_cmpint(ctl(args, &out, NULL), ==, 0);
	g_assert_true(g_str_has_prefix(out, "max_maps=4096 max_mapped=17179869184 (now 3 mappings, "));
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* The live mappings by path, the one read last first. */
static void test_maps(struct mount *m, gconstpointer data)
{
	const char *args[] = { "maps", m->mnt, NULL };
	g_autofree char *out = NULL, *p = NULL;
	g_autoptr(GBytes) again = NULL;
	g_auto(GStrv) lines = NULL;

	mount_read_three(m);
	wait_three_releases(m);
	g_assert_cmpint(ctl(args, &out, NULL), ==, 0);
	lines = g_strsplit(out, "\n", -1);
	g_test_message("%s", out);
	g_assert_cmpuint(g_strv_length(lines), ==, 5);  /* header, 3, "" */
	g_assert_true(g_str_has_prefix(lines[0], "path"));
	g_assert_true(g_str_has_prefix(lines[1], "f2 "));
	g_assert_nonnull(strstr(lines[1], " 100000 "));
	g_assert_true(g_str_has_prefix(lines[3], "f0 "));
	/* Read again, past the kernel's cache: the hottest now. */
	p = mnt_path(m, "f0");
	{
		int fd = open(p, O_RDONLY);

		g_assert_cmpint(fd, >=, 0);
		g_assert_cmpint(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), ==, 0);
		close(fd);
	}
	again = read_whole(p, 65536);
	g_clear_pointer(&out, g_free);
	g_strfreev(lines);
	g_assert_cmpint(ctl(args, &out, NULL), ==, 0);
	lines = g_strsplit(out, "\n", -1);
	g_assert_true(g_str_has_prefix(lines[1], "f0 "));
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* Which daemon serves the mount: its pid, in pid, summary and stats. */
static void test_pid_and_summary(struct mount *m, gconstpointer data)
{
	const char *pid_args[] = { "pid", m->mnt, NULL };
	const char *sum_args[] = { "summary", m->mnt, NULL };
	g_autofree char *pid = NULL, *sum = NULL, *want = NULL, *text = NULL;
	g_autofree char *want_sum = NULL;

	mount_read_three(m);
	g_assert_cmpint(ctl(pid_args, &pid, NULL), ==, 0);
	want = g_strdup_printf("pid %d\nsource %s\n", (int)m->pid, m->src);
	g_assert_cmpstr(pid, ==, want);
	g_assert_cmpint(ctl(sum_args, &sum, NULL), ==, 0);
	want_sum = g_strdup_printf("stats (pid %d): ", (int)m->pid);
	g_assert_true(g_str_has_prefix(sum, want_sum));
	text = ctl_stats(m->mnt);
	g_assert_cmpuint(stats_value(text, "pid"), ==, (guint64)m->pid);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* Control works where setxattr would answer EROFS. */
static void test_read_only(struct mount *m, gconstpointer data)
{
	const char *drop[] = { "drop", m->mnt, NULL };
	const char *limits[] = { "limits", m->mnt, "max_maps=2", NULL };
	g_autofree char *out = NULL, *text = NULL;

	mount_read_three_with(m, "ro,allow_other");
	g_assert_cmpint(ctl(limits, &out, NULL), ==, 0);
	g_assert_true(g_str_has_prefix(out, "max_maps=2 "));
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(ctl(drop, &out, NULL), ==, 0);
	g_assert_true(g_str_has_prefix(out, "dropped "));
	text = ctl_stats(m->mnt);
	g_assert_cmpuint(stats_value(text, "maps_live"), ==, 0);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* A mount whose daemon was killed: the repair is suggested. */
static void test_dead_mount(struct mount *m, gconstpointer data)
{
	const char *args[] = { "stats", m->mnt, NULL };
	g_autofree char *err = NULL;

	mount_read_three(m);
	g_assert_cmpint(kill(m->pid, SIGKILL), ==, 0);
	g_assert_cmpint(waitpid(m->pid, NULL, 0), ==, m->pid);
	m->pid = 0;
	g_assert_cmpint(ctl(args, NULL, &err), ==, 1);
	assert_one_line(err);
	g_assert_nonnull(strstr(err, "the mount is dead"));
	g_assert_nonnull(strstr(err, "mmapfs-mount"));
	mount_stop(m);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	MOUNT_TEST("/ctl/stats-text", test_stats_text, NULL);
	MOUNT_TEST("/ctl/stats-json", test_stats_json, NULL);
	MOUNT_TEST("/ctl/limits", test_limits, NULL);
	MOUNT_TEST("/ctl/bad-usage", test_bad_usage, NULL);
	MOUNT_TEST("/ctl/drop", test_drop, NULL);
	MOUNT_TEST("/ctl/others-look-only", test_others_look_only, NULL);
	MOUNT_TEST("/ctl/not-a-mount", test_not_a_mount, NULL);
	MOUNT_TEST("/ctl/stats-watch", test_watch, NULL);
	MOUNT_TEST("/ctl/options-anywhere", test_options_anywhere, NULL);
	MOUNT_TEST("/ctl/limits-print", test_limits_print, NULL);
	MOUNT_TEST("/ctl/maps", test_maps, NULL);
	MOUNT_TEST("/ctl/pid-and-summary", test_pid_and_summary, NULL);
	MOUNT_TEST("/ctl/read-only", test_read_only, NULL);
	MOUNT_TEST("/ctl/dead-mount", test_dead_mount, NULL);
	return g_test_run();
}
