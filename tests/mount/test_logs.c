/*
 * test_logs.c - what the daemon tells its operator: SIGUSR1 writes a
 * summary to the log; -o log_level filters it; detached, it logs to syslog.
 */
#include <signal.h>
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
	int i;

	mount_start(m, NULL);
	g_assert_true(log_has(m, "mounted '"));
	g_assert_cmpint(kill(m->pid, SIGUSR1), ==, 0);
	for (i = 0; i < 500 && !log_has(m, "mmapfs: stats: "); i++)
		g_usleep(10000);
	g_assert_true(log_has(m, "mmapfs: stats: "));
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

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	MOUNT_TEST("/logs/sigusr1-summary", test_sigusr1, NULL);
	MOUNT_TEST("/logs/log-level", test_log_level, NULL);
	MOUNT_TEST("/logs/syslog-when-detached", test_syslog_when_detached, NULL);
	return g_test_run();
}
