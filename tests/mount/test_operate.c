/*
 * test_operate.c - what an operator and a test author use:
 *   - mmapfs-ctl: stats (text, JSON, --watch), limits, drop; refused to
 *     nobody and on a directory that is not an mmapfs mount;
 *   - SIGUSR1 writes a summary to the log; -o log_level filters it;
 *   - mmapfs-mount / mmapfs-umount: mount, refuse a second mount, repair a
 *     mount whose daemon was killed, refuse a busy unmount unless --lazy,
 *     wait for the daemon to exit;
 *   - with-mmapfs: COMMAND's status and output, stdin, --cd, a command
 *     killed by a signal, the script itself killed, bad input; nothing left
 *     mounted or created;
 *   - --help and bad usage of every script;
 *   - meson install into a temporary directory: every file in place, the
 *     installed scripts find the installed daemon, and an fstab line
 *     "SOURCE MOUNTPOINT fuse.mmapfs defaults,max_maps=256,nofail,_netdev"
 *     mounts with mount(8) through mount.fuse3 (in a private mount
 *     namespace, where the temporary sbin/ is bound over /usr/local/sbin);
 *   - the manual page names every option --help prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "harness.h"

static int run(const char *const *argv, char **out)
{
	return harness_run(argv, NULL, out, NULL);
}

static char *ctl_stats(const char *mnt)
{
	const char *argv[] = { g_getenv("MMAPFS_CTL"), "stats", mnt, NULL };
	char *out = NULL;

	g_assert_cmpint(run(argv, &out), ==, 0);
	return out;
}

/* One line on stderr, no more. */
static void assert_one_line(const char *err)
{
	g_assert_nonnull(err);
	g_assert_cmpuint(strlen(err), >, 1);
	g_assert_true(strchr(err, '\n') == err + strlen(err) - 1);
}

static void test_ctl(void)
{
	static const char *const opts[] = { "-o", "allow_other", NULL };
	const char *ctl = g_getenv("MMAPFS_CTL");
	g_autofree char *text = NULL, *out = NULL, *err = NULL;
	struct mount m;

	mount_prepare(&m, "ctl");
	g_assert_cmpint(chmod(m.root, 0755), ==, 0);
	for (int i = 0; i < 3; i++) {
		g_autofree char *rel = g_strdup_printf("f%d", i);
		g_autofree char *p = src_path(&m, rel);

		write_random_file(p, 100000, i);
	}
	mount_start(&m, opts);
	for (int i = 0; i < 3; i++) {
		g_autofree char *rel = g_strdup_printf("f%d", i);
		g_autofree char *p = mnt_path(&m, rel);
		g_autoptr(GBytes) b = read_whole(p, 65536);

		g_assert_cmpuint(g_bytes_get_size(b), ==, 100000);
	}

	text = ctl_stats(m.mnt);
	g_assert_cmpuint(stats_value(text, "bytes_from_maps"), >=, 300000);
	g_assert_cmpuint(stats_value(text, "op.read.requests"), >, 0);
	g_assert_cmpuint(stats_value(text, "op.lookup.requests"), >=, 3);
	g_assert_cmpuint(stats_value(text, "maps_live"), ==, 3);
	g_assert_cmpuint(stats_value(text, "max_maps"), ==, 4096);
	g_assert_nonnull(strstr(text, "\ncache watched\n"));
	g_clear_pointer(&text, g_free);
	{
		/* JSON that a JSON parser takes, with the same figures. */
		g_autofree char *cmd = g_strdup_printf(
			"'%s' stats '%s' --json | python3 -c 'import json, sys; "
			"d = json.load(sys.stdin); "
			"print(d[\"maps_live\"], d[\"ops\"][\"read\"][\"requests\"] > 0, "
			"sum(d[\"ops\"][\"read\"][\"histogram_us\"].values()) == "
			"d[\"ops\"][\"read\"][\"requests\"])'", ctl, m.mnt);
		const char *argv[] = { "sh", "-c", cmd, NULL };

		g_assert_cmpint(run(argv, &out), ==, 0);
		g_assert_cmpstr(out, ==, "3 True True\n");
		g_clear_pointer(&out, g_free);
	}
	{
		const char *argv[] = { ctl, "limits", m.mnt, "max_maps=1", "max_mapped=1G", NULL };

		g_assert_cmpint(run(argv, &out), ==, 0);
		g_assert_nonnull(strstr(out, "max_maps=1 max_mapped=1073741824"));
		g_clear_pointer(&out, g_free);
		text = ctl_stats(m.mnt);
		g_assert_cmpuint(stats_value(text, "max_maps"), ==, 1);
		g_assert_cmpuint(stats_value(text, "maps_live"), <=, 1);
		g_clear_pointer(&text, g_free);
	}
	{
		const char *bad[][5] = {
			{ ctl, "limits", m.mnt, "max_maps=0", NULL },
			{ ctl, "limits", m.mnt, "max_mapped=lots", NULL },
			{ ctl, "limits", m.mnt, NULL },
			{ ctl, "stats", m.mnt, "--watch", "never" },
			{ ctl, "frobnicate", m.mnt, NULL },
			{ ctl, "stats", NULL },
		};
		for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
			g_assert_cmpint(harness_run(bad[i], NULL, NULL, &err), ==, 2);
			assert_one_line(err);
			g_clear_pointer(&err, g_free);
		}
	}
	{
		const char *argv[] = { ctl, "drop", m.mnt, NULL };

		g_assert_cmpint(run(argv, NULL), ==, 0);
		text = ctl_stats(m.mnt);
		g_assert_cmpuint(stats_value(text, "maps_live"), ==, 0);
		g_assert_cmpuint(stats_value(text, "maps_dropped"), >=, 1);
		g_clear_pointer(&text, g_free);
	}
	{
		/* Others may look, not control. */
		const char *drop[] = { "setpriv", "--reuid=65534", "--regid=65534",
				       "--clear-groups", ctl, "drop", m.mnt, NULL };
		const char *look[] = { "setpriv", "--reuid=65534", "--regid=65534",
				       "--clear-groups", ctl, "stats", m.mnt, NULL };

		/* The kernel refuses first (no write permission on the root,
		 * default_permissions); with it, the daemon refuses. */
		g_assert_cmpint(harness_run(drop, NULL, NULL, &err), ==, 1);
		g_assert_nonnull(strstr(err, "only root"));
		g_assert_nonnull(strstr(err, "Permission denied"));
		g_clear_pointer(&err, g_free);
		g_assert_cmpint(chmod(m.src, 0777), ==, 0);
		g_assert_cmpint(harness_run(drop, NULL, NULL, &err), ==, 1);
		g_assert_nonnull(strstr(err, "only root"));
		g_assert_nonnull(strstr(err, "Operation not permitted"));
		g_clear_pointer(&err, g_free);
		g_assert_cmpint(chmod(m.src, 0755), ==, 0);
		g_assert_cmpint(run(look, NULL), ==, 0);
	}
	{
		const char *argv[] = { ctl, "stats", m.root, NULL };

		g_assert_cmpint(harness_run(argv, NULL, NULL, &err), ==, 1);
		g_assert_nonnull(strstr(err, "not an mmapfs mount point"));
		g_clear_pointer(&err, g_free);
	}
	{
		const char *argv[] = { ctl, "stats", m.mnt, "--watch", "0.1", "--count", "2", NULL };
		g_auto(GStrv) lines = NULL;

		g_assert_cmpint(run(argv, &out), ==, 0);
		lines = g_strsplit(out, "\n", -1);
		g_assert_cmpuint(g_strv_length(lines), ==, 4);  /* header, 2, "" */
		g_assert_nonnull(strstr(lines[0], "req/s"));
		g_clear_pointer(&out, g_free);
	}
	g_assert_cmpint(mount_stop(&m), ==, 0);
	mount_cleanup(&m);
}

static gboolean log_has(const struct mount *m, const char *what)
{
	g_autofree char *log = NULL;

	return g_file_get_contents(m->log, &log, NULL, NULL) && strstr(log, what);
}

static void test_sigusr1_and_log_level(void)
{
	static const char *const quiet[] = { "-o", "log_level=warn", NULL };
	struct mount m;
	int i;

	mount_prepare(&m, "usr1");
	mount_start(&m, NULL);
	g_assert_true(log_has(&m, "mounted '"));
	g_assert_cmpint(kill(m.pid, SIGUSR1), ==, 0);
	for (i = 0; i < 500 && !log_has(&m, "mmapfs: stats: "); i++)
		g_usleep(10000);
	g_assert_true(log_has(&m, "mmapfs: stats: "));
	g_assert_true(mount_daemon_alive(&m));
	g_assert_cmpint(mount_stop(&m), ==, 0);
	mount_cleanup(&m);

	mount_prepare(&m, "quiet");
	mount_start(&m, quiet);
	g_assert_cmpint(kill(m.pid, SIGUSR1), ==, 0);
	g_usleep(200000);
	g_assert_cmpint(mount_stop(&m), ==, 0);
	g_assert_false(log_has(&m, "mounted '"));
	g_assert_false(log_has(&m, "stats: "));
	mount_cleanup(&m);
}

/*
 * Detached, the daemon logs to syslog: a socket of ours at /dev/log (where
 * no syslog daemon owns it) receives what it says.
 */
static void test_syslog_when_detached(void)
{
	g_autofree char *mount_sh = harness_script("mmapfs-mount");
	g_autofree char *umount_sh = harness_script("mmapfs-umount");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	g_autoptr(GString) got = g_string_new(NULL);
	char buf[2048];
	struct mount m;
	ssize_t n;
	int sock;

	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(sock, >=, 0);
	g_strlcpy(addr.sun_path, "/dev/log", sizeof(addr.sun_path));
	if (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		close(sock);
		g_test_skip("/dev/log belongs to this machine's syslog");
		return;
	}
	close(sock);
	unlink("/dev/log");     /* nobody listens there: a leftover */
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(sock, >=, 0);
	g_assert_cmpint(bind(sock, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	mount_prepare(&m, "syslog");
	{
		const char *argv[] = { mount_sh, m.src, m.mnt, NULL };

		g_assert_cmpint(harness_run(argv, NULL, NULL, NULL), ==, 0);
		mount_track(&m);
	}
	{
		const char *argv[] = { umount_sh, m.mnt, NULL };

		g_assert_cmpint(harness_run(argv, NULL, NULL, NULL), ==, 0);
	}
	unlink("/dev/log");
	while ((n = recv(sock, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		buf[n] = '\0';
		g_string_append_printf(got, "%s\n", buf);
	}
	close(sock);
	g_test_message("syslog got:\n%s", got->str);
	g_assert_nonnull(strstr(got->str, "mmapfs["));
	g_assert_nonnull(strstr(got->str, "unmounted '"));
	mount_cleanup(&m);
}

static void wait_gone(pid_t pid)
{
	for (int i = 0; i < 1000 && kill(pid, 0) == 0; i++)
		g_usleep(10000);
	g_assert_cmpint(kill(pid, 0), ==, -1);
}

static void test_mount_scripts(void)
{
	g_autofree char *mount_sh = harness_script("mmapfs-mount");
	g_autofree char *umount_sh = harness_script("mmapfs-umount");
	g_autofree char *f = NULL, *tf = NULL, *err = NULL;
	const char *do_mount[] = { mount_sh, NULL, NULL, "-o", "max_maps=64", NULL };
	const char *do_umount[] = { umount_sh, NULL, NULL };
	const char *do_lazy[] = { umount_sh, "--lazy", NULL, NULL };
	struct mount m;
	struct stat st;
	pid_t pid;
	int fd;

	mount_prepare(&m, "scripts");
	do_mount[1] = m.src;
	do_mount[2] = m.mnt;
	do_umount[1] = m.mnt;
	do_lazy[2] = m.mnt;
	f = src_path(&m, "f");
	write_random_file(f, 5000, 3);
	tf = mnt_path(&m, "f");

	g_assert_cmpint(run(do_mount, NULL), ==, 0);
	mount_track(&m);
	g_assert_cmpint(stat(tf, &st), ==, 0);
	g_assert_cmpint(st.st_size, ==, 5000);
	pid = harness_find_daemon(m.mnt);
	g_assert_cmpint(pid, >, 0);
	g_assert_cmpint(harness_run(do_mount, NULL, NULL, &err), ==, 1);
	g_assert_nonnull(strstr(err, "mounted already"));
	g_clear_pointer(&err, g_free);

	/* A killed daemon leaves a dead mount; mounting again repairs it. */
	g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
	wait_gone(pid);
	{
		struct statvfs sv;

		/* statfs always reaches the daemon (a stat may be cached). */
		g_assert_cmpint(statvfs(m.mnt, &sv), ==, -1);
		g_assert_cmpint(errno, ==, ENOTCONN);
	}
	g_assert_cmpint(harness_run(do_mount, NULL, NULL, &err), ==, 0);
	g_assert_nonnull(strstr(err, "cleared a dead mount"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(stat(tf, &st), ==, 0);
	pid = harness_find_daemon(m.mnt);
	g_assert_cmpint(pid, >, 0);

	/* Busy: refused; free: unmounted, and the daemon has exited. */
	fd = open(tf, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(harness_run(do_umount, NULL, NULL, &err), ==, 1);
	g_assert_nonnull(strstr(err, "busy"));
	g_clear_pointer(&err, g_free);
	g_assert_true(path_is_mounted(m.mnt));
	close(fd);
	g_assert_cmpint(run(do_umount, NULL), ==, 0);
	g_assert_false(path_is_mounted(m.mnt));
	g_assert_cmpint(kill(pid, 0), ==, -1);
	g_assert_cmpint(harness_run(do_umount, NULL, NULL, &err), ==, 1);
	g_assert_nonnull(strstr(err, "not mounted"));
	g_clear_pointer(&err, g_free);

	/* --lazy detaches a busy mount; the daemon goes with the last user. */
	g_assert_cmpint(run(do_mount, NULL), ==, 0);
	pid = harness_find_daemon(m.mnt);
	fd = open(tf, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(run(do_lazy, NULL), ==, 0);
	g_assert_false(path_is_mounted(m.mnt));
	g_assert_cmpint(kill(pid, 0), ==, 0);
	close(fd);
	wait_gone(pid);
	mount_cleanup(&m);
}

/* Nothing left in dir: no mount, no directory. */
static void assert_empty_dir(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);

	g_assert_nonnull(d);
	g_assert_null(g_dir_read_name(d));
}

static void test_with_mmapfs(void)
{
	g_autofree char *with = harness_script("with-mmapfs");
	g_autofree char *tmp = NULL, *f = NULL, *out = NULL, *err = NULL;
	g_autofree char *cmd = NULL;
	struct mount m;

	mount_prepare(&m, "with");
	tmp = g_build_filename(m.root, "tmp", NULL);
	g_assert_cmpint(g_mkdir(tmp, 0755), ==, 0);
	f = src_path(&m, "f");
	g_assert_true(g_file_set_contents(f, "backing bytes\n", -1, NULL));
	{
		/* Output, stdin, the status. */
		cmd = g_strdup_printf("echo from-stdin | '%s' '%s' -o max_maps=8 -- "
				      "sh -c 'cat \"$MMAPFS_MNT/f\"; cat; exit 7'", with, m.src);
		const char *argv[] = { "sh", "-c", cmd, NULL };

		g_assert_cmpint(harness_run(argv, tmp, &out, NULL), ==, 7);
		g_assert_cmpstr(out, ==, "backing bytes\nfrom-stdin\n");
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&cmd, g_free);
		assert_empty_dir(tmp);
	}
	{
		const char *argv[] = { with, "--cd", m.src, "--", "sh", "-c",
				       "test \"$(pwd)\" = \"$MMAPFS_MNT\" && cat f", NULL };

		g_assert_cmpint(harness_run(argv, tmp, &out, NULL), ==, 0);
		g_assert_cmpstr(out, ==, "backing bytes\n");
		g_clear_pointer(&out, g_free);
		assert_empty_dir(tmp);
	}
	{
		/* COMMAND killed by a signal. */
		const char *argv[] = { with, m.src, "--", "sh", "-c", "kill -9 $$", NULL };

		g_assert_cmpint(harness_run(argv, tmp, NULL, NULL), ==, 128 + SIGKILL);
		assert_empty_dir(tmp);
	}
	{
		/* The script itself terminated while COMMAND runs. */
		const char *argv[] = { with, m.src, "--", "sleep", "60", NULL };
		g_auto(GStrv) env = harness_env(tmp);
		GError *error = NULL;
		GPid pid;
		int status, i;
		gboolean mounted = FALSE;

		g_spawn_async(NULL, (char **)argv, env, G_SPAWN_DO_NOT_REAP_CHILD,
			      NULL, NULL, &pid, &error);
		g_assert_no_error(error);
		for (i = 0; i < 1000 && !mounted; i++) {
			g_autoptr(GDir) d = g_dir_open(tmp, 0, NULL);
			const char *name = d ? g_dir_read_name(d) : NULL;
			g_autofree char *p = name ? g_build_filename(tmp, name, NULL) : NULL;

			mounted = p && path_is_mounted(p) && harness_find_daemon(p);
			if (!mounted)
				g_usleep(10000);
		}
		g_assert_true(mounted);
		kill(pid, SIGTERM);
		g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
		g_assert_cmpint(harness_exit_code(status), ==, 143);
		assert_empty_dir(tmp);
	}
	{
		const char *no_source[] = { with, "/nonexistent", "--", "true", NULL };
		const char *no_dashes[] = { with, m.src, "true", NULL };
		const char *bad_option[] = { with, m.src, "-o", "max_maps=0", "--", "true", NULL };

		g_assert_cmpint(harness_run(no_source, tmp, NULL, &err), ==, 1);
		assert_one_line(err);
		g_clear_pointer(&err, g_free);
		g_assert_cmpint(harness_run(no_dashes, tmp, NULL, &err), ==, 2);
		assert_one_line(err);
		g_clear_pointer(&err, g_free);
		g_assert_cmpint(harness_run(bad_option, tmp, NULL, &err), ==, 1);
		g_assert_nonnull(strstr(err, "max_maps"));
		g_clear_pointer(&err, g_free);
		assert_empty_dir(tmp);
	}
	mount_cleanup(&m);
}

static void test_script_usage(void)
{
	static const char *const names[] = { "mmapfs-mount", "mmapfs-umount", "with-mmapfs" };

	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *path = harness_script(names[i]);
		g_autofree char *out = NULL, *err = NULL;
		const char *help[] = { path, "--help", NULL };
		const char *bare[] = { path, NULL };

		g_assert_cmpint(run(help, &out), ==, 0);
		g_assert_true(g_str_has_prefix(out, "usage: "));
		g_assert_cmpint(harness_run(bare, NULL, NULL, &err), ==, 2);
		assert_one_line(err);
		g_assert_true(g_str_has_prefix(err, names[i]));
	}
}

/*
 * "-o NAME=" of every option mmapfs --help prints is in the manual page,
 * and in the README's usage table.
 */
static void test_man_page(void)
{
	const char *help[] = { g_getenv("MMAPFS_BIN"), "--help", NULL };
	g_autofree char *out = NULL, *man = NULL, *readme = NULL;
	g_auto(GStrv) lines = NULL;
	unsigned found = 0;

	g_assert_cmpint(run(help, &out), ==, 0);
	g_assert_true(g_file_get_contents(g_getenv("MMAPFS_MAN"), &man, NULL, NULL));
	g_assert_true(g_file_get_contents(g_getenv("MMAPFS_README"), &readme, NULL, NULL));
	lines = g_strsplit(out, "\n", -1);
	for (int i = 0; lines[i]; i++) {
		const char *o = strstr(lines[i], "    -o ");
		g_autofree char *name = NULL, *want = NULL;

		if (!o || !strchr(o, '='))
			continue;
		name = g_strndup(o + 7, strcspn(o + 7, "="));
		if (strchr(name, ' '))
			continue;
		want = g_strdup_printf("o %s=", name);
		g_test_message("option %s", name);
		g_assert_nonnull(strstr(man, want));
		g_assert_nonnull(strstr(readme, want));
		found++;
	}
	g_assert_cmpuint(found, >=, 8);
}

static void test_install_and_fstab(void)
{
	g_autofree char *dest = NULL, *sbin = NULL, *bin = NULL, *prefix = NULL;
	g_autofree char *fstab = NULL, *line = NULL, *shell = NULL, *out = NULL;
	g_autofree char *f = NULL, *cmd = NULL;
	static const char *const files[] = {
		"sbin/mmapfs", "bin/mmapfs-ctl", "bin/mmapfs-mount", "bin/mmapfs-umount",
		"bin/with-mmapfs", "bin/mmapfs-lib.sh", "share/man/man8/mmapfs.8",
		"share/doc/mmapfs/examples/srv-data.mount",
	};
	struct mount m;

	mount_prepare(&m, "install");
	dest = g_build_filename(m.root, "dest", NULL);
	{
		const char *argv[] = { "meson", "install", "-C", g_getenv("MMAPFS_BUILD"),
				       "--no-rebuild", "--quiet", "--destdir", dest, NULL };

		g_assert_cmpint(run(argv, NULL), ==, 0);
	}
	{
		const char *argv[] = { "meson", "introspect", g_getenv("MMAPFS_BUILD"),
				       "--buildoptions", NULL };
		g_autofree char *json = NULL;
		const char *p;

		/* {"name": "prefix", "value": "/usr/local", ...} */
		g_assert_cmpint(run(argv, &json), ==, 0);
		p = strstr(json, "\"name\": \"prefix\", \"value\": \"");
		g_assert_nonnull(p);
		p += strlen("\"name\": \"prefix\", \"value\": \"");
		g_autofree char *value = g_strndup(p, strcspn(p, "\""));

		prefix = g_strconcat(dest, "/", value, NULL);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autofree char *p = g_build_filename(prefix, files[i], NULL);

		g_test_message("installed: %s", p);
		g_assert_true(g_file_test(p, G_FILE_TEST_EXISTS));
	}
	sbin = g_build_filename(prefix, "sbin", NULL);
	bin = g_build_filename(prefix, "bin", NULL);
	f = src_path(&m, "f");
	g_assert_true(g_file_set_contents(f, "through fstab\n", -1, NULL));

	/* The installed scripts find the installed daemon (MMAPFS unset). */
	cmd = g_strdup_printf("unset MMAPFS; '%s/mmapfs-mount' '%s' '%s' && cat '%s/f' && "
			      "'%s/mmapfs-umount' '%s'", bin, m.src, m.mnt, m.mnt, bin, m.mnt);
	{
		const char *argv[] = { "sh", "-c", cmd, NULL };

		g_assert_cmpint(run(argv, &out), ==, 0);
		g_assert_cmpstr(out, ==, "through fstab\n");
		g_clear_pointer(&out, g_free);
		g_assert_false(path_is_mounted(m.mnt));
	}

	/* fstab, through mount(8) and mount.fuse3, which look for mmapfs in a
	 * fixed PATH: in a private mount namespace the installed sbin/ is
	 * bound over /usr/local/sbin, and everything is unmounted inside. */
	fstab = g_build_filename(m.root, "fstab", NULL);
	line = g_strdup_printf("%s %s fuse.mmapfs defaults,max_maps=256,nofail,_netdev 0 0\n",
			       m.src, m.mnt);
	g_assert_true(g_file_set_contents(fstab, line, -1, NULL));
	shell = g_strdup_printf(
		"set -e; mount --bind '%s' /usr/local/sbin; "
		"trap 'fusermount3 -u \"%s\" 2>/dev/null || true' EXIT; "
		"mount -T '%s' '%s'; cat '%s/f'; findmnt -n -o FSTYPE '%s'; "
		"'%s/mmapfs-ctl' stats '%s' | grep '^max_maps '",
		sbin, m.mnt, fstab, m.mnt, m.mnt, m.mnt, bin, m.mnt);
	{
		const char *argv[] = { "unshare", "-m", "--propagation", "private",
				       "sh", "-c", shell, NULL };

		g_assert_cmpint(run(argv, &out), ==, 0);
		g_assert_cmpstr(out, ==, "through fstab\nfuse.mmapfs\nmax_maps 256\n");
	}
	g_assert_false(path_is_mounted(m.mnt));
	mount_cleanup(&m);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	g_test_add_func("/operate/ctl", test_ctl);
	g_test_add_func("/operate/sigusr1-and-log-level", test_sigusr1_and_log_level);
	g_test_add_func("/operate/syslog-when-detached", test_syslog_when_detached);
	g_test_add_func("/operate/mount-scripts", test_mount_scripts);
	g_test_add_func("/operate/with-mmapfs", test_with_mmapfs);
	g_test_add_func("/operate/script-usage", test_script_usage);
	g_test_add_func("/operate/man-page-and-readme", test_man_page);
	g_test_add_func("/operate/install-and-fstab", test_install_and_fstab);
	return g_test_run();
}
