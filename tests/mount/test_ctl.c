/*
 * test_ctl.c - mmapfs-ctl against a mount: stats as text, as JSON and
 * with --watch; limits; drop; bad usage; refused to nobody and on a
 * directory that is not an mmapfs mount.
 *
 * Every case mounts a fresh mirror with allow_other over three files of
 * 100,000 bytes, read once through the mount (three mappings live).
 */
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "harness.h"

static void mount_read_three(struct mount *m)
{
	static const char *const opts[] = { "-o", "allow_other", NULL };

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
	g_autofree char *out = NULL;
	g_autofree char *cmd = NULL;

	mount_read_three(m);
	cmd = g_strdup_printf(
		"'%s' stats '%s' --json | python3 -c 'import json, sys; "
		"d = json.load(sys.stdin); "
		"print(d[\"maps_live\"], d[\"ops\"][\"read\"][\"requests\"] > 0, "
		"sum(d[\"ops\"][\"read\"][\"histogram_us\"].values()) == "
		"d[\"ops\"][\"read\"][\"requests\"])'", g_getenv("MMAPFS_CTL"), m->mnt);
	{
		const char *argv[] = { "sh", "-c", cmd, NULL };

		g_assert_cmpint(harness_run(argv, NULL, &out, NULL), ==, 0);
	}
	g_assert_cmpstr(out, ==, "3 True True\n");
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
			{ "limits", m->mnt, NULL },
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
	g_autofree char *text = NULL;

	mount_read_three(m);
	g_assert_cmpint(ctl(args, NULL, NULL), ==, 0);
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

	mount_read_three(m);
	/* The kernel refuses first (no write permission on the root,
	 * default_permissions); with it, the daemon refuses. */
	g_assert_cmpint(harness_run(drop, NULL, NULL, &err), ==, 1);
	g_assert_nonnull(strstr(err, "only root"));
	g_assert_nonnull(strstr(err, "Permission denied"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(chmod(m->src, 0777), ==, 0);
	g_assert_cmpint(harness_run(drop, NULL, NULL, &err), ==, 1);
	g_assert_nonnull(strstr(err, "only root"));
	g_assert_nonnull(strstr(err, "Operation not permitted"));
	g_assert_cmpint(chmod(m->src, 0755), ==, 0);
	g_assert_cmpint(harness_run(look, NULL, NULL, NULL), ==, 0);
	g_assert_cmpint(mount_stop(m), ==, 0);
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

static void test_watch(struct mount *m, gconstpointer data)
{
	const char *args[] = { "stats", m->mnt, "--watch", "0.1", "--count", "2", NULL };
	g_autofree char *out = NULL;
	g_auto(GStrv) lines = NULL;

	mount_read_three(m);
	g_assert_cmpint(ctl(args, &out, NULL), ==, 0);
	lines = g_strsplit(out, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 4);  /* header, 2, "" */
	g_assert_nonnull(strstr(lines[0], "req/s"));
	g_assert_cmpint(mount_stop(m), ==, 0);
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
	return g_test_run();
}
