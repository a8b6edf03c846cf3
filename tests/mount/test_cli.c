/*
 * test_cli.c - the command line: bad input gets one line and a non-zero
 * exit with nothing mounted; --help and --version; SIGTERM and SIGINT
 * unmount cleanly; without -f the daemon detaches once the mount is ready.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "harness.h"

/* Runs mmapfs with argv (after argv[0]); returns the wait status. */
static int run_mmapfs(const char *const *args, char **out, char **err)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	GError *error = NULL;
	int status;

	g_ptr_array_add(argv, (char *)g_getenv("MMAPFS_BIN"));
	for (int i = 0; args[i]; i++)
		g_ptr_array_add(argv, (char *)args[i]);
	g_ptr_array_add(argv, NULL);
	g_spawn_sync(NULL, (char **)argv->pdata, NULL, 0, NULL, NULL, out, err,
		     &status, &error);
	g_assert_no_error(error);
	return status;
}

static void test_bad_input(struct mount *m, gconstpointer data)
{
	g_autofree char *file = NULL, *missing = NULL, *inside = NULL, *deep = NULL;

	file = src_path(m, "a-file");
	missing = src_path(m, "missing");
	inside = src_path(m, "sub");
	deep = src_path(m, "sub/deeper");
	write_random_file(file, 10, 1);
	g_assert_cmpint(g_mkdir(inside, 0755), ==, 0);
	g_assert_cmpint(g_mkdir(deep, 0755), ==, 0);
	{
		const char *const cases[][8] = {
			{ NULL },                                        /* nothing */
			{ m->src, NULL },                                 /* no MOUNTPOINT */
			{ missing, m->mnt, NULL },                        /* SOURCE missing */
			{ file, m->mnt, NULL },                           /* SOURCE a file */
			{ m->src, missing, NULL },                        /* MOUNTPOINT missing */
			{ m->src, m->mnt, m->mnt, NULL },                   /* one too many */
			{ "-o", "no_such_option", m->src, m->mnt, NULL },  /* unknown -o */
			{ "--no-such-flag", m->src, m->mnt, NULL },        /* unknown flag */
			{ "-o", "max_maps=0", m->src, m->mnt, NULL },
			{ "-o", "max_maps=abc", m->src, m->mnt, NULL },
			{ "-o", "max_maps=99999999999", m->src, m->mnt, NULL },
			{ "-o", "max_mapped=-1", m->src, m->mnt, NULL },
			{ "-o", "max_mapped=12Q", m->src, m->mnt, NULL },
			{ "-o", "max_mapped", m->src, m->mnt, NULL },
			{ "-o", "timeout=-3", m->src, m->mnt, NULL },
			{ m->src, m->src, NULL },                 /* MOUNTPOINT is SOURCE */
			{ m->src, inside, NULL },                 /* ... inside SOURCE */
			{ "-s", m->src, deep, NULL },
			{ "-o", "source=/", m->mnt, NULL },
			/* -o writeback with what it cannot go with */
			{ "-o", "writeback,ro", m->src, m->mnt, NULL },
			{ "-o", "writeback,passthrough=rw", m->src, m->mnt, NULL },
			{ "-o", "writeback,cache=timeout", m->src, m->mnt, NULL },
			{ "-o", "writeback,cache=none", m->src, m->mnt, NULL },
			{ "-o", "writeback=1", m->src, m->mnt, NULL },
		};
		for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
			g_autofree char *out = NULL, *err = NULL;
			g_autofree char *joined = g_strjoinv(" ", (char **)cases[i]);
			int status = run_mmapfs(cases[i], &out, &err);
			const char *nl;

			g_test_message("case %zu: mmapfs %s -> %s", i, joined, err);
			g_assert_true(WIFEXITED(status));
			g_assert_cmpint(WEXITSTATUS(status), !=, 0);
			/* Exactly one line, and it names the program. */
			g_assert_cmpuint(strlen(err), >, 0);
			nl = strchr(err, '\n');
			g_assert_nonnull(nl);
			g_assert_cmpstr(nl + 1, ==, "");
			g_assert_true(g_str_has_prefix(err, "mmapfs: ") ||
				      g_str_has_prefix(err, "fuse: "));
			g_assert_false(path_is_mounted(m->mnt));
		}
	}
}

/*
 * A mount point inside SOURCE: refused in one line that says so, and
 * nothing mounted (the daemon would have looked itself up and hung).
 */
static void test_mount_point_inside_source(struct mount *m, gconstpointer data)
{
	g_autofree char *inside = src_path(m, "sub");
	const char *args[] = { "-f", m->src, inside, NULL };
	g_autofree char *err = NULL;
	int status;

	g_assert_cmpint(g_mkdir(inside, 0755), ==, 0);
	status = run_mmapfs(args, NULL, &err);
	g_test_message("%s", err);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 1);
	g_assert_nonnull(strstr(err, "is inside source"));
	g_assert_false(path_is_mounted(inside));
}

/* A dead mount at MOUNTPOINT (its daemon killed): said so, with the repair. */
static void test_dead_mount_point(struct mount *m, gconstpointer data)
{
	const char *again[] = { g_getenv("MMAPFS_BIN"), m->src, m->mnt, NULL };
	g_autofree char *err = NULL;

	mount_start(m, NULL);
	g_assert_cmpint(kill(m->pid, SIGKILL), ==, 0);
	g_assert_cmpint(waitpid(m->pid, NULL, 0), ==, m->pid);
	m->pid = 0;
	g_assert_cmpint(harness_run(again, NULL, NULL, &err), ==, 1);
	assert_one_line(err);
	g_assert_nonnull(strstr(err, "the mount there is dead (its daemon is gone): "
				"'mmapfs-mount SOURCE "));
	mount_stop(m);
}

/* Mounting over a mount point that is a mount already: allowed, logged. */
static void test_mount_over_mount(struct mount *m, gconstpointer data)
{
	g_autofree char *log = NULL;

	mount_mnt_tmpfs(m);
	mount_start(m, NULL);
	g_assert_true(g_file_get_contents(m->log, &log, NULL, NULL));
	g_assert_nonnull(strstr(log, "is a tmpfs mount already"));
	g_assert_cmpint(mount_stop(m), ==, 0);
	/* Under it, the tmpfs is still there (mount_cleanup() takes it). */
	g_assert_true(path_is_mounted(m->mnt));
}

static void test_help_and_version(void)
{
	static const char *const help[] = { "--help", NULL };
	static const char *const version[] = { "--version", NULL };
	static const char *const names[] = { "source=DIR", "max_maps=N",
		"max_mapped=SIZE", "timeout=SECONDS", "-o ro", "allow_other" };
	g_autofree char *out = NULL, *err = NULL;
	g_autofree char *vout = NULL, *verr = NULL;

	g_assert_cmpint(run_mmapfs(help, &out, &err), ==, 0);
	g_assert_true(g_str_has_prefix(out, "usage: "));
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
		g_assert_nonnull(strstr(out, names[i]));
	g_assert_nonnull(strstr(out, "[4096]"));
	g_assert_nonnull(strstr(out, "[16G]"));
	g_assert_cmpint(run_mmapfs(version, &vout, &verr), ==, 0);
	g_assert_true(g_str_has_prefix(vout, "mmapfs 0.") ||
		      strstr(vout, "\nmmapfs 0."));
}

/* Sends sig to the daemon, which must exit with status 0. */
static void signal_and_reap(struct mount *m, int sig)
{
	GPid pid = m->pid;
	int status;

	g_assert_cmpint(kill(pid, sig), ==, 0);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	m->pid = 0;
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

static void check_signal_unmounts(struct mount *m, int sig)
{
	g_autofree char *f = NULL, *t = NULL;

	f = src_path(m, "f");
	write_random_file(f, 5000, 3);
	mount_start(m, NULL);
	t = mnt_path(m, "f");
	g_bytes_unref(read_whole(t, 4096));
	signal_and_reap(m, sig);
	g_assert_false(path_is_mounted(m->mnt));
}

static void test_sigterm(struct mount *m, gconstpointer data)
{
	check_signal_unmounts(m, SIGTERM);
}

static void test_sigint(struct mount *m, gconstpointer data)
{
	check_signal_unmounts(m, SIGINT);
}

/*
 * Pages of a shared mapping written through the mount and never synced
 * are in the kernel's cache only: SIGTERM has them written back before the
 * daemon stops (data: the signal), so nothing is lost.
 */
static void test_signal_flushes(struct mount *m, gconstpointer data)
{
	int sig = GPOINTER_TO_INT(data);
	g_autofree char *f = src_path(m, "f"), *t = NULL, *got = NULL;
	gsize len;
	char *map;
	int fd;

	write_random_file(f, 1 << 20, 4);
	mount_start(m, NULL);
	t = mnt_path(m, "f");
	fd = open(t, O_RDWR);
	g_assert_cmpint(fd, >=, 0);
	map = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	g_assert_true(map != MAP_FAILED);
	memcpy(map, "first", 5);
	memcpy(map + 700000, "later", 5);
	signal_and_reap(m, sig);
	munmap(map, 1 << 20);
	close(fd);
	g_assert_true(g_file_get_contents(f, &got, &len, NULL));
	g_assert_cmpuint(len, ==, 1 << 20);
	g_assert_cmpmem(got, 5, "first", 5);
	g_assert_cmpmem(got + 700000, 5, "later", 5);
}

/* The pid of the process whose command line holds needle, or 0. */
static pid_t find_process(const char *needle)
{
	GDir *proc = g_dir_open("/proc", 0, NULL);
	const char *name;
	pid_t found = 0;

	while (proc && (name = g_dir_read_name(proc)) && !found) {
		g_autofree char *path = g_strdup_printf("/proc/%s/cmdline", name);
		g_autofree char *cmd = NULL;
		gsize len;

		if (!g_ascii_isdigit(name[0]) ||
		    !g_file_get_contents(path, &cmd, &len, NULL))
			continue;
		for (gsize i = 0; i + 1 < len; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		if (strstr(cmd, needle) && strstr(cmd, "mmapfs"))
			found = (pid_t)atoi(name);
	}
	if (proc)
		g_dir_close(proc);
	return found;
}

static void test_daemonize_and_source_option(struct mount *m, gconstpointer data)
{
	g_autofree char *f = NULL, *t = NULL, *opt = NULL;
	g_autoptr(GBytes) a = NULL, b = NULL;
	pid_t daemon;

	f = src_path(m, "f");
	write_random_file(f, 70000, 4);
	opt = g_strdup_printf("source=%s", m->src);
	{
		const char *args[] = { "-o", opt, m->mnt, NULL };
		g_autofree char *out = NULL, *err = NULL;

		/* Returns once the mount is ready: no waiting needed after. */
		g_assert_cmpint(run_mmapfs(args, &out, &err), ==, 0);
	}
	daemon = find_process(m->mnt);
	g_assert_cmpint(daemon, >, 0);
	mount_adopt(m, daemon);
	g_assert_true(path_is_mounted(m->mnt));
	t = mnt_path(m, "f");
	a = read_whole(f, 65536);
	b = read_whole(t, 65536);
	g_assert_true(g_bytes_equal(a, b));
	g_assert_cmpint(mount_stop(m), ==, 0);
	g_assert_cmpint(kill(daemon, 0), ==, -1);
	g_assert_false(path_is_mounted(m->mnt));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	MOUNT_TEST("/cli/bad-input", test_bad_input, NULL);
	g_test_add_func("/cli/help-and-version", test_help_and_version);
	MOUNT_TEST("/cli/mount-point-inside-source", test_mount_point_inside_source, NULL);
	MOUNT_TEST("/cli/mount-over-a-mount", test_mount_over_mount, NULL);
	MOUNT_TEST("/cli/dead-mount-point", test_dead_mount_point, NULL);
	MOUNT_TEST("/cli/sigterm-unmounts", test_sigterm, NULL);
	MOUNT_TEST("/cli/sigint-unmounts", test_sigint, NULL);
	MOUNT_TEST("/cli/sigterm-flushes-mapped-writes", test_signal_flushes,
		   GINT_TO_POINTER(SIGTERM));
	MOUNT_TEST("/cli/sighup-flushes-mapped-writes", test_signal_flushes,
		   GINT_TO_POINTER(SIGHUP));
	MOUNT_TEST("/cli/daemonize-and-source-option", test_daemonize_and_source_option, NULL);
	return g_test_run();
}
