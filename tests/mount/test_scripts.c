/*
 * test_scripts.c - the mount scripts an operator and a test author use:
 *   - mmapfs-mount / mmapfs-umount: mount, refuse a second mount, repair a
 *     mount whose daemon was killed, refuse a busy unmount unless --lazy,
 *     wait for the daemon to exit;
 *   - a daemon started as mount.fuse3 and fstab order it (SOURCE MOUNTPOINT
 *     -o ro): mmapfs-mount sees it in the mount table and refuses, naming
 *     its pid; mmapfs-umount waits for that very daemon;
 *   - with-mmapfs: COMMAND's status and output, stdin, COMMAND run in the
 *     mount (or, with --keep-cwd, where the caller was), --quiet, a command
 *     killed by a signal, the script itself killed, bad input; nothing left
 *     mounted or created;
 *   - --help and bad usage of every script.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "harness.h"

static void wait_gone(pid_t pid)
{
	for (int i = 0; i < 1000 && kill(pid, 0) == 0; i++)
		g_usleep(10000);
	g_assert_cmpint(kill(pid, 0), ==, -1);
}

static void test_mount_scripts(struct mount *m, gconstpointer data)
{
	g_autofree char *mount_sh = harness_script("mmapfs-mount");
	g_autofree char *umount_sh = harness_script("mmapfs-umount");
	g_autofree char *f = NULL, *tf = NULL, *err = NULL;
	const char *do_mount[] = { mount_sh, NULL, NULL, "-o", "max_maps=64", NULL };
	const char *do_umount[] = { umount_sh, NULL, NULL };
	const char *do_lazy[] = { umount_sh, "--lazy", NULL, NULL };
	struct stat st;
	pid_t pid;
	int fd;

	do_mount[1] = m->src;
	do_mount[2] = m->mnt;
	do_umount[1] = m->mnt;
	do_lazy[2] = m->mnt;
	f = src_path(m, "f");
	write_random_file(f, 5000, 3);
	tf = mnt_path(m, "f");

	g_assert_cmpint(harness_run(do_mount, NULL, NULL, NULL), ==, 0);
	g_assert_cmpint(stat(tf, &st), ==, 0);
	g_assert_cmpint(st.st_size, ==, 5000);
	pid = harness_find_daemon(m->mnt);
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
		g_assert_cmpint(statvfs(m->mnt, &sv), ==, -1);
		g_assert_cmpint(errno, ==, ENOTCONN);
	}
	g_assert_cmpint(harness_run(do_mount, NULL, NULL, &err), ==, 0);
	g_assert_nonnull(strstr(err, "cleared a dead mount"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(stat(tf, &st), ==, 0);
	pid = harness_find_daemon(m->mnt);
	g_assert_cmpint(pid, >, 0);

	/* Busy: refused; free: unmounted, and the daemon has exited. */
	fd = open(tf, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(harness_run(do_umount, NULL, NULL, &err), ==, 1);
	g_assert_nonnull(strstr(err, "busy"));
	g_clear_pointer(&err, g_free);
	g_assert_true(path_is_mounted(m->mnt));
	close(fd);
	g_assert_cmpint(harness_run(do_umount, NULL, NULL, NULL), ==, 0);
	g_assert_false(path_is_mounted(m->mnt));
	g_assert_cmpint(kill(pid, 0), ==, -1);
	g_assert_cmpint(harness_run(do_umount, NULL, NULL, &err), ==, 1);
	g_assert_nonnull(strstr(err, "not mounted"));
	g_clear_pointer(&err, g_free);

	/* --lazy detaches a busy mount; the daemon goes with the last user. */
	g_assert_cmpint(harness_run(do_mount, NULL, NULL, NULL), ==, 0);
	pid = harness_find_daemon(m->mnt);
	fd = open(tf, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(harness_run(do_lazy, NULL, NULL, NULL), ==, 0);
	g_assert_false(path_is_mounted(m->mnt));
	g_assert_cmpint(kill(pid, 0), ==, 0);
	close(fd);
	wait_gone(pid);
}

/* The daemon's pid, asked of it with mmapfs-ctl. */
static pid_t ctl_pid(const char *mnt)
{
	const char *argv[] = { g_getenv("MMAPFS_CTL"), "pid", mnt, NULL };
	g_autofree char *out = NULL;

	g_assert_cmpint(harness_run(argv, NULL, &out, NULL), ==, 0);
	g_assert_true(g_str_has_prefix(out, "pid "));
	return (pid_t)atoi(out + 4);
}

static void test_mounted_any_order(struct mount *m, gconstpointer data)
{
	g_autofree char *mount_sh = harness_script("mmapfs-mount");
	g_autofree char *umount_sh = harness_script("mmapfs-umount");
	const char *daemon[] = { g_getenv("MMAPFS_BIN"), m->src, m->mnt, "-o", "ro", NULL };
	const char *again[] = { mount_sh, m->src, m->mnt, NULL };
	const char *down[] = { umount_sh, m->mnt, NULL };
	g_autofree char *err = NULL, *want = NULL;
	pid_t pid;

	g_assert_cmpint(harness_run(daemon, NULL, NULL, NULL), ==, 0);
	pid = ctl_pid(m->mnt);
	mount_adopt(m, pid);
	g_assert_cmpint(harness_run(again, NULL, NULL, &err), ==, 1);
	want = g_strdup_printf("is mounted already (daemon pid %d)", (int)pid);
	g_assert_nonnull(strstr(err, want));
	g_assert_cmpint(harness_run(down, NULL, NULL, NULL), ==, 0);
	/* It returned once that daemon had gone. */
	g_assert_cmpint(kill(pid, 0), ==, -1);
	g_assert_false(path_is_mounted(m->mnt));
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* Nothing left in dir: no mount, no directory. */
static void assert_empty_dir(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);

	g_assert_nonnull(d);
	g_assert_null(g_dir_read_name(d));
}

static void test_with_mmapfs(struct mount *m, gconstpointer data)
{
	g_autofree char *with = harness_script("with-mmapfs");
	g_autofree char *tmp = NULL, *f = NULL, *out = NULL, *err = NULL;
	g_autofree char *cmd = NULL;

	tmp = g_build_filename(m->root, "tmp", NULL);
	g_assert_cmpint(g_mkdir(tmp, 0755), ==, 0);
	f = src_path(m, "f");
	g_assert_true(g_file_set_contents(f, "backing bytes\n", -1, NULL));
	{
		/* Output, stdin, the status. */
		cmd = g_strdup_printf("echo from-stdin | '%s' '%s' -o max_maps=8 -- "
				      "sh -c 'cat \"$MMAPFS_MNT/f\"; cat; exit 7'", with, m->src);
		const char *argv[] = { "sh", "-c", cmd, NULL };

		g_assert_cmpint(harness_run(argv, tmp, &out, NULL), ==, 7);
		g_assert_cmpstr(out, ==, "backing bytes\nfrom-stdin\n");
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&cmd, g_free);
		assert_empty_dir(tmp);
	}
	{
		/* COMMAND runs in the mount; --cd (the default) is still taken. */
		const char *argv[] = { with, m->src, "--", "sh", "-c",
				       "test \"$(pwd)\" = \"$MMAPFS_MNT\" && cat f", NULL };
		const char *cd[] = { with, "--cd", m->src, "--", "sh", "-c",
				     "test \"$(pwd)\" = \"$MMAPFS_MNT\" && cat f", NULL };

		g_assert_cmpint(harness_run(argv, tmp, &out, NULL), ==, 0);
		g_assert_cmpstr(out, ==, "backing bytes\n");
		g_clear_pointer(&out, g_free);
		g_assert_cmpint(harness_run(cd, tmp, &out, NULL), ==, 0);
		g_assert_cmpstr(out, ==, "backing bytes\n");
		g_clear_pointer(&out, g_free);
		assert_empty_dir(tmp);
	}
	{
		/* --keep-cwd: where the caller was; --quiet: no info lines. */
		g_autofree char *script = g_strdup_printf("cd '%s' && '%s' --keep-cwd --quiet '%s' "
							  "-- pwd", m->root, with, m->src);
		const char *argv[] = { "sh", "-c", script, NULL };
		g_autofree char *want = g_strdup_printf("%s\n", m->root);

		g_assert_cmpint(harness_run(argv, tmp, &out, &err), ==, 0);
		g_assert_cmpstr(out, ==, want);
		g_assert_null(strstr(err, "mmapfs: cache="));
		g_assert_null(strstr(err, "mmapfs: mounted"));
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
		assert_empty_dir(tmp);
	}
	{
		/* COMMAND killed by a signal. */
		const char *argv[] = { with, m->src, "--", "sh", "-c", "kill -9 $$", NULL };

		g_assert_cmpint(harness_run(argv, tmp, NULL, NULL), ==, 128 + SIGKILL);
		assert_empty_dir(tmp);
	}
	{
		/* The script itself terminated while COMMAND runs. */
		const char *argv[] = { with, m->src, "--", "sleep", "60", NULL };
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
		const char *no_dashes[] = { with, m->src, "true", NULL };
		const char *bad_option[] = { with, m->src, "-o", "max_maps=0", "--", "true", NULL };

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
}

static void test_script_usage(void)
{
	static const char *const names[] = { "mmapfs-mount", "mmapfs-umount", "with-mmapfs" };

	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *path = harness_script(names[i]);
		g_autofree char *out = NULL, *err = NULL;
		const char *help[] = { path, "--help", NULL };
		const char *bare[] = { path, NULL };

		g_assert_cmpint(harness_run(help, NULL, &out, NULL), ==, 0);
		g_assert_true(g_str_has_prefix(out, "usage: "));
		g_assert_cmpint(harness_run(bare, NULL, NULL, &err), ==, 2);
		assert_one_line(err);
		g_assert_true(g_str_has_prefix(err, names[i]));
	}
	/* mmapfs-mount SOURCE alone: what is missing, named alone. */
	{
		g_autofree char *path = harness_script("mmapfs-mount");
		g_autofree char *err = NULL;
		const char *argv[] = { path, "/srv/src", NULL };

		g_assert_cmpint(harness_run(argv, NULL, NULL, &err), ==, 2);
		assert_one_line(err);
		g_assert_cmpstr(err, ==, "mmapfs-mount: missing MOUNTPOINT (see --help)\n");
	}
}

/* The scripts, and the main job's run.sh and bench.sh, wait for a mount
 * and recognise FUSE with mmapfs-lib.sh's one loop and one magic number. */
static void test_one_wait_loop(void)
{
	static const char *const users[] = { "mmapfs-mount", "run.sh", "bench.sh" };

	for (size_t i = 0; i < G_N_ELEMENTS(users); i++) {
		g_autofree char *path = harness_script(users[i]);
		g_autofree char *text = NULL;

		g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
		g_test_message("%s", users[i]);
		g_assert_nonnull(strstr(text, "mmapfs-lib.sh"));
		g_assert_nonnull(strstr(text, "wait_fuse_mount "));
		g_assert_null(strstr(text, "65735546"));
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	MOUNT_TEST("/scripts/mount-scripts", test_mount_scripts, NULL);
	MOUNT_TEST("/scripts/with-mmapfs", test_with_mmapfs, NULL);
	MOUNT_TEST("/scripts/mounted-already-any-order", test_mounted_any_order, NULL);
	g_test_add_func("/scripts/usage", test_script_usage);
	g_test_add_func("/scripts/one-wait-loop", test_one_wait_loop);
	return g_test_run();
}
