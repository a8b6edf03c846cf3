/*
 * test_logs.c - what the daemon tells its operator: SIGUSR1 writes a
 * summary (with the daemon's pid) to the log; -o log_level filters it;
 * detached, it logs to syslog, or, with no syslog to reach, says so on
 * stderr before it detaches; -o log_file=PATH (lines with time and pid)
 * and log_file=- (stderr, kept across detaching); an error users suffer
 * (ENOSPC) logged once, and counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

static gboolean log_has(const struct mount *m, const char *what)
{
	g_autofree char *log = NULL;

	return g_file_get_contents(m->log, &log, NULL, NULL) && strstr(log, what);
}

/* SIGUSR1 writes a summary to the log. */
static void test_sigusr1(struct mount *m, gconstpointer data)
{
	g_autofree char *want = NULL;
	int i;

	mount_start(m, NULL);
	g_assert_true(log_has(m, "mounted '"));
	g_assert_cmpint(kill(m->pid, SIGUSR1), ==, 0);
	want = g_strdup_printf("mmapfs: stats (pid %d): ", (int)m->pid);
	for (i = 0; i < 500 && !log_has(m, want); i++)
		g_usleep(10000);
	g_assert_true(log_has(m, want));
	g_assert_true(mount_daemon_alive(m));
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* -o log_level=warn keeps the info lines, and the summary, out. */
static void test_log_level(struct mount *m, gconstpointer data)
{
	static const char *const quiet[] = { "-o", "log_level=warn", NULL };

	mount_start(m, quiet);
	g_assert_cmpint(kill(m->pid, SIGUSR1), ==, 0);
	g_usleep(200000);
	g_assert_cmpint(mount_stop(m), ==, 0);
	g_assert_false(log_has(m, "mounted '"));
	g_assert_false(log_has(m, "stats: "));
}

/*
 * Detached, the daemon logs to syslog: a socket of ours at /dev/log (where
 * no syslog daemon owns it) receives what it says.
 */
static void test_syslog_when_detached(struct mount *m, gconstpointer data)
{
	g_autofree char *mount_sh = harness_script("mmapfs-mount");
	g_autofree char *umount_sh = harness_script("mmapfs-umount");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	g_autoptr(GString) got = g_string_new(NULL);
	char buf[2048];
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
	{
		const char *argv[] = { mount_sh, m->src, m->mnt, NULL };

		g_assert_cmpint(harness_run(argv, NULL, NULL, NULL), ==, 0);
	}
	{
		const char *argv[] = { umount_sh, m->mnt, NULL };

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
}

/* Whether a syslog daemon of this machine listens at /dev/log. */
static bool syslog_here(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool yes = sock >= 0 && connect(sock, (struct sockaddr *)&addr, sizeof(addr)) == 0;

	if (sock >= 0)
		close(sock);
	return yes;
}

/* Runs sh -c cmd (with $M the mount, $S the source); its stderr. */
static char *sh_err(struct mount *m, const char *cmd, int want_status)
{
	g_autofree char *script = g_strdup_printf("S='%s'; M='%s'; %s", m->src, m->mnt, cmd);
	const char *argv[] = { "sh", "-c", script, NULL };
	char *err = NULL;

	g_assert_cmpint(harness_run(argv, NULL, NULL, &err), ==, want_status);
	return err;
}

/* The daemon serving m->mnt (detached), adopted for the clean-up. */
static void adopt(struct mount *m)
{
	pid_t pid = harness_find_daemon(m->mnt);

	g_assert_cmpint(pid, >, 0);
	mount_adopt(m, pid);
}

/* Detached with no syslog to reach: said once on stderr, first. */
static void test_no_syslog(struct mount *m, gconstpointer data)
{
	g_autofree char *err = NULL;

	if (syslog_here()) {
		g_test_skip("a syslog listens at /dev/log here");
		return;
	}
	unlink("/dev/log");     /* nobody listens there: a leftover */
	err = sh_err(m, "\"$MMAPFS\" \"$S\" \"$M\"", 0);
	adopt(m);
	g_test_message("stderr:\n%s", err);
	g_assert_nonnull(strstr(err, "no syslog listens at /dev/log: once detached, "
				"the daemon's messages are lost (use -o log_file=PATH, or -f)"));
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* log_file=PATH: every line, detached or not, with its time and pid. */
static void test_log_file(struct mount *m, gconstpointer data)
{
	g_autofree char *path = g_build_filename(m->root, "d.log", NULL);
	g_autofree char *opt = g_strdup_printf("\"$MMAPFS\" -o log_file='%s' \"$S\" \"$M\"",
					       path);
	g_autofree char *err = NULL, *log = NULL, *want = NULL;
	g_auto(GStrv) lines = NULL;
	int i;

	err = sh_err(m, opt, 0);
	adopt(m);
	g_assert_cmpstr(err, ==, "");   /* nothing on stderr: all in the file */
	g_assert_cmpint(kill(m->pid, SIGUSR1), ==, 0);
	want = g_strdup_printf("] mmapfs: stats (pid %d): ", (int)m->pid);
	for (i = 0; i < 500; i++) {
		g_clear_pointer(&log, g_free);
		if (g_file_get_contents(path, &log, NULL, NULL) && strstr(log, want))
			break;
		g_usleep(10000);
	}
	g_assert_nonnull(strstr(log, want));
	g_assert_cmpint(mount_stop(m), ==, 0);
	g_clear_pointer(&log, g_free);
	g_assert_true(g_file_get_contents(path, &log, NULL, NULL));
	g_test_message("log file:\n%s", log);
	lines = g_strsplit(log, "\n", -1);
	for (i = 0; lines[i] && lines[i][0]; i++) {
		/* 2026-12-02T01:15:49.426Z [31669] mmapfs: ... */
		g_assert_true(g_regex_match_simple("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d"
						   "\\.\\d{3}Z \\[\\d+\\] mmapfs: ", lines[i], 0, 0));
	}
	g_assert_cmpint(i, >=, 4);
	g_assert_nonnull(strstr(log, "unmounted '"));
}

/* log_file=-: stderr, even once detached. */
static void test_log_file_stderr(struct mount *m, gconstpointer data)
{
	g_autofree char *path = g_build_filename(m->root, "stderr.txt", NULL);
	g_autofree char *cmd = g_strdup_printf("\"$MMAPFS\" -o log_file=- \"$S\" \"$M\" 2>'%s'",
					       path);
	g_autofree char *err = NULL, *got = NULL;

	err = sh_err(m, cmd, 0);
	adopt(m);
	g_assert_cmpint(mount_stop(m), ==, 0);
	g_assert_true(g_file_get_contents(path, &got, NULL, NULL));
	g_test_message("stderr:\n%s", got);
	g_assert_nonnull(strstr(got, "mmapfs: mounted '"));
	g_assert_nonnull(strstr(got, "mmapfs: unmounted '"));   /* after detaching */
	g_assert_null(strstr(got, "no syslog"));
}

/* A full backing filesystem: ENOSPC logged once, every one counted. */
static void test_enospc_once(struct mount *m, gconstpointer data)
{
	g_autofree char *path = NULL, *log = NULL, *stats = NULL;
	const char *said;
	int fails = 0;

	mount_src_tmpfs(m, "1m");
	/* The daemon's writes: a write handed to the kernel's passthrough
	 * fails there, unseen by the daemon. */
	mount_start(m, (const char *const[]){ "-o", "passthrough=off", NULL });
	for (int i = 0; i < 8; i++) {
		g_autofree char *name = g_strdup_printf("fill%d", i);
		g_autofree char *p = mnt_path(m, name);
		char block[65536] = { 1 };
		int fd = open(p, O_WRONLY | O_CREAT, 0644);

		g_assert_cmpint(fd, >=, 0);
		for (int j = 0; j < 64; j++)
			if (write(fd, block, sizeof(block)) < 0 && errno == ENOSPC)
				fails++;
		if (fsync(fd) < 0 && errno == ENOSPC)
			fails++;
		close(fd);
	}
	g_assert_cmpint(fails, >, 1);
	stats = mount_stats(m);
	g_test_message("%d writes and syncs failed with ENOSPC; errors_nospace %"
		       G_GUINT64_FORMAT, fails, stats_value(stats, "errors_nospace"));
	g_assert_cmpuint(stats_value(stats, "errors_nospace"), >, 1);
	g_assert_cmpint(mount_stop(m), ==, 0);
	g_assert_true(g_file_get_contents(m->log, &log, NULL, NULL));
	said = strstr(log, "requests fail with ENOSPC (No space left on device)");
	g_assert_nonnull(said);
	g_assert_null(strstr(said + 1, "requests fail with ENOSPC"));
	g_assert_nonnull(strstr(log, " nospace) in "));        /* the summary's count */
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	MOUNT_TEST("/logs/sigusr1-summary", test_sigusr1, NULL);
	MOUNT_TEST("/logs/no-syslog-said", test_no_syslog, NULL);
	MOUNT_TEST("/logs/log-file", test_log_file, NULL);
	MOUNT_TEST("/logs/log-file-stderr", test_log_file_stderr, NULL);
	MOUNT_TEST("/logs/enospc-once", test_enospc_once, NULL);
	MOUNT_TEST("/logs/log-level", test_log_level, NULL);
	MOUNT_TEST("/logs/syslog-when-detached", test_syslog_when_detached, NULL);
	return g_test_run();
}
