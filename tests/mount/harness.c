/*
 * harness.c - see harness.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "harness.h"
#include "mmapfs/ctl.h"
#include "mmapfs/fstype.h"
#include "mmapfs/mountinfo.h"
#include "mmapfs/stats.h"

#define MAX_MOUNTS 32

/*
 * The mounts a test has prepared and not yet cleaned up, which the
 * emergency clean-up must undo: registered by mount_prepare(), removed by
 * mount_cleanup().  Written by the test's main thread only; read from a
 * signal handler, which reads each mount's own fields (paths, pids) as
 * they stand, so that no copy of them can go stale.
 */
static struct mount *volatile live[MAX_MOUNTS];

static int rm_rf(const char *path);
static void sshd_atexit(void);

/* The sshd of MMAPFS_TEST_BACKING=sshfs, started at the first mount that
 * needs it (start_sshd()); 0 until then.  Its directory (keys, config,
 * pid file) is removed with it. */
static volatile GPid sshd_pid;
static int sshd_port;
static char *sshd_dir;

static void stop_sshd(void)
{
	if (sshd_pid > 0) {
		kill(sshd_pid, SIGKILL);
		waitpid(sshd_pid, NULL, 0);
		sshd_pid = 0;
	}
}

static void emergency_cleanup(void)
{
	for (int i = 0; i < MAX_MOUNTS; i++) {
		struct mount *m = live[i];

		if (!m)
			continue;
		umount2(m->mnt, MNT_DETACH);
		if (m->pid > 0) {
			kill(m->pid, SIGKILL);
			waitpid(m->pid, NULL, 0);
		}
		if (m->backing)
			umount2(m->backing, MNT_DETACH);
		if (m->backing_pid > 0) {
			kill(m->backing_pid, SIGKILL);
			waitpid(m->backing_pid, NULL, 0);
		}
		if (m->src_is_tmpfs)
			umount2(m->src, MNT_DETACH);
		if (m->mnt_over_tmpfs)
			umount2(m->mnt, MNT_DETACH);
		live[i] = NULL;
	}
	stop_sshd();
}

static void on_fatal_signal(int sig)
{
	emergency_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

void harness_init(void)
{
	static const int sigs[] = { SIGABRT, SIGTERM, SIGINT, SIGSEGV, SIGBUS,
				    SIGHUP, SIGQUIT, SIGTRAP, SIGPIPE };

	for (size_t i = 0; i < G_N_ELEMENTS(sigs); i++)
		signal(sigs[i], on_fatal_signal);
	atexit(sshd_atexit);
	atexit(emergency_cleanup);
	if (!g_getenv("MMAPFS_BIN"))
		g_error("MMAPFS_BIN is not set: run the tests with meson test");
}

void harness_private_mounts(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		g_error("unshare(CLONE_NEWNS): %s", g_strerror(errno));
	/* Slave: mounts made outside propagate in, none of ours out. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		g_error("making / a slave mount: %s", g_strerror(errno));
}

static void live_add(struct mount *m)
{
	for (int i = 0; i < MAX_MOUNTS; i++) {
		if (!live[i]) {
			live[i] = m;
			return;
		}
	}
	g_error("too many mounts at once in one test");
}

static void live_remove(const struct mount *m)
{
	for (int i = 0; i < MAX_MOUNTS; i++)
		if (live[i] == m)
			live[i] = NULL;
}

void mount_prepare(struct mount *m, const char *name)
{
	GError *error = NULL;
	g_autofree char *tmpl = g_strdup_printf("mmapfs-%s-XXXXXX", name);

	memset(m, 0, sizeof(*m));
	m->root = g_dir_make_tmp(tmpl, &error);
	g_assert_no_error(error);
	m->src = g_build_filename(m->root, "src", NULL);
	m->mnt = g_build_filename(m->root, "mnt", NULL);
	m->log = g_build_filename(m->root, "daemon.log", NULL);
	g_assert_cmpint(g_mkdir(m->src, 0755), ==, 0);
	g_assert_cmpint(g_mkdir(m->mnt, 0755), ==, 0);
	live_add(m);
}

void mount_fixture_setup(struct mount *m, gconstpointer data)
{
	g_autofree char *name = g_strdup(g_test_get_path() + 1);

	g_strcanon(name, "abcdefghijklmnopqrstuvwxyz0123456789-", '-');
	mount_prepare(m, name);
}

void mount_fixture_teardown(struct mount *m, gconstpointer data)
{
	mount_cleanup(m);
}

bool path_is_mounted(const char *path)
{
	g_autofree char *info = NULL;
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents("/proc/self/mountinfo", &info, NULL, NULL))
		return false;
	lines = g_strsplit(info, "\n", -1);
	for (int i = 0; lines[i]; i++) {
		g_auto(GStrv) f = g_strsplit(lines[i], " ", 6);

		if (g_strv_length(f) >= 5 && !strcmp(f[4], path))
			return true;
	}
	return false;
}

bool mount_daemon_alive(struct mount *m)
{
	return m->pid > 0 && waitpid(m->pid, NULL, WNOHANG) == 0;
}

char *mount_daemon_state(struct mount *m)
{
	int status;

	if (m->pid <= 0)
		return g_strdup("not running");
	if (waitpid(m->pid, &status, WNOHANG) != m->pid)
		return g_strdup("running");
	m->pid = 0;
	if (WIFSIGNALED(status))
		return g_strdup_printf("killed by signal %d (%s)", WTERMSIG(status),
				       strsignal(WTERMSIG(status)));
	return g_strdup_printf("exited with status %d", WEXITSTATUS(status));
}

static void fail_with_log(struct mount *m, const char *what)
{
	g_autofree char *log = NULL;

	g_file_get_contents(m->log, &log, NULL, NULL);
	g_printerr("daemon log:\n%s\n", log ? log : "(none)");
	g_error("%s", what);
}

void mount_adopt(struct mount *m, pid_t pid)
{
	m->pid = pid;
}

/* Runs in the daemon's process before exec: its limits, and its user. */
static void set_limits(gpointer data)
{
	const struct mount *m = data;

	if (m->nofile)
		setrlimit(RLIMIT_NOFILE, &(struct rlimit){ m->nofile, m->nofile });
	if (m->max_as)
		setrlimit(RLIMIT_AS, &(struct rlimit){ m->max_as, m->max_as });
	if (m->uid && (setgroups(0, NULL) < 0 || setgid(m->gid) < 0 ||
		       setuid(m->uid) < 0))
		_exit(126);
}

/* Hands root/, src/, mnt/ and the log to m->uid. */
static void give_to_user(struct mount *m)
{
	const char *paths[] = { m->root, m->src, m->mnt, m->log };

	for (size_t i = 0; i < G_N_ELEMENTS(paths); i++)
		g_assert_cmpint(chown(paths[i], m->uid, m->gid), ==, 0);
}

static bool under_valgrind(void)
{
	return !g_strcmp0(g_getenv("MMAPFS_VALGRIND"), "1");
}

/* Waits until path answers from a FUSE filesystem served by *pid. */
static void wait_fuse(struct mount *m, const char *path, GPid *pid,
		      const char *what)
{
	int secs = under_valgrind() ? 120 : 20;
	gint64 deadline = g_get_monotonic_time() + secs * G_USEC_PER_SEC;
	g_autofree char *msg = NULL;

	for (;;) {
		struct statfs sfs;

		if (statfs(path, &sfs) == 0 && fstype_is_fuse_type((long)sfs.f_type))
			return;
		if (waitpid(*pid, NULL, WNOHANG) != 0) {
			*pid = 0;
			msg = g_strdup_printf("%s exited before its mount was ready", what);
			fail_with_log(m, msg);
		}
		if (g_get_monotonic_time() > deadline) {
			msg = g_strdup_printf("%s's mount was not ready within %d s",
					      what, secs);
			fail_with_log(m, msg);
		}
		g_usleep(5000);
	}
}

static bool backing_is_sshfs(void)
{
	return !g_strcmp0(g_getenv("MMAPFS_TEST_BACKING"), "sshfs");
}

bool backing_is_fuse(void)
{
	return !g_strcmp0(g_getenv("MMAPFS_TEST_BACKING"), "bindfs") ||
	       backing_is_sshfs();
}

/* In the child, before exec: it dies with the test, whatever kills it. */
static void die_with_parent(gpointer data)
{
	(void)data;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void run_or_fail(const char *const *argv)
{
	GError *error = NULL;
	int status;

	g_spawn_sync(NULL, (char **)argv, NULL,
		     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
		     NULL, NULL, &status, &error);
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
}

/* A port on 127.0.0.1 nobody listens on now. */
static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&a, &len), ==, 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* Whether something accepts connections on 127.0.0.1:port. */
static bool port_answers(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	close(fd);
	return ok;
}

/*
 * An sshd of the test's own on 127.0.0.1: its own port, host and client
 * keys, and pid file, in a directory of its own; root logs in with the
 * client key only.  Once per test program; stopped at its end.
 */
static void start_sshd(void)
{
	g_autofree char *host = NULL, *client = NULL, *config = NULL, *text = NULL;
	g_autofree char *pub = NULL, *keys = NULL, *pubkey = NULL;
	GError *error = NULL;
	GPid pid;

	if (sshd_pid > 0)
		return;
	sshd_dir = g_dir_make_tmp("mmapfs-sshd-XXXXXX", &error);
	g_assert_no_error(error);
	host = g_build_filename(sshd_dir, "host", NULL);
	client = g_build_filename(sshd_dir, "client", NULL);
	pub = g_strconcat(client, ".pub", NULL);
	keys = g_build_filename(sshd_dir, "authorized_keys", NULL);
	config = g_build_filename(sshd_dir, "sshd_config", NULL);
	run_or_fail((const char *const[]){ "ssh-keygen", "-q", "-t", "ed25519",
					   "-N", "", "-f", host, NULL });
	run_or_fail((const char *const[]){ "ssh-keygen", "-q", "-t", "ed25519",
					   "-N", "", "-f", client, NULL });
	g_assert_true(g_file_get_contents(pub, &pubkey, NULL, NULL));
	g_assert_true(g_file_set_contents(keys, pubkey, -1, NULL));
	g_mkdir_with_parents("/run/sshd", 0755);
	sshd_port = free_port();
	text = g_strdup_printf(
		"ListenAddress 127.0.0.1\nPort %d\nHostKey %s\nPidFile %s/sshd.pid\n"
		"AuthorizedKeysFile %s\nPermitRootLogin prohibit-password\n"
		"PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
		"UsePAM no\nStrictModes no\nSubsystem sftp internal-sftp\n",
		sshd_port, host, sshd_dir, keys);
	g_assert_true(g_file_set_contents(config, text, -1, NULL));
	/* In the foreground (-D): its pid is ours to stop. */
	g_spawn_async(NULL, (char **)(const char *[]){ "/usr/sbin/sshd", "-D", "-f", config, NULL },
		      NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
		      die_with_parent, NULL, &pid, &error);
	g_assert_no_error(error);
	sshd_pid = pid;
	for (int i = 0; !port_answers(sshd_port); i++) {
		g_assert_cmpint(waitpid(pid, NULL, WNOHANG), ==, 0);
		g_assert_cmpint(i, <, 2000);
		g_usleep(10000);
	}
}

/* At the end of the program: the sshd, and its directory. */
static void sshd_atexit(void)
{
	stop_sshd();
	if (sshd_dir) {
		rm_rf(sshd_dir);
		g_clear_pointer(&sshd_dir, g_free);
	}
}

/* sshfs of src/ at backing/, over start_sshd()'s sshd, in the foreground
 * with its debug output (every SFTP request) in root/sshfs.log. */
static void start_sshfs(struct mount *m)
{
	g_autofree char *id = g_build_filename(sshd_dir, "client", NULL);
	g_autofree char *opts = g_strdup_printf(
		"IdentityFile=%s,Port=%d,StrictHostKeyChecking=no,"
		"UserKnownHostsFile=/dev/null,BatchMode=yes,LogLevel=ERROR,"
		/* sshfs's own caches of names and attributes off, as bindfs's
		 * are: every stat mmapfs makes is a request on the network. */
		"dir_cache=no,attr_timeout=0,entry_timeout=0,negative_timeout=0",
		id, sshd_port);
	g_autofree char *remote = g_strdup_printf("root@127.0.0.1:%s", m->src);
	g_autofree char *log = g_build_filename(m->root, "sshfs.log", NULL);
	const char *argv[] = { "sshfs", "-f", "-d", "-o", opts, remote, m->backing, NULL };
	GError *error = NULL;
	int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	g_assert_cmpint(logfd, >=, 0);
	g_spawn_async_with_fds(NULL, (char **)argv, NULL,
			       G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
			       die_with_parent, NULL, &m->backing_pid, -1, logfd, logfd,
			       &error);
	close(logfd);
	g_assert_no_error(error);
	wait_fuse(m, m->backing, &m->backing_pid, "sshfs");
}

unsigned mount_sshfs_calls(const struct mount *m, const char *op)
{
	g_autofree char *log = g_build_filename(m->root, "sshfs.log", NULL);
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	unsigned n = 0;

	if (!g_file_get_contents(log, &text, NULL, NULL))
		return 0;
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		const char *end = (*l)[0] == '[' ? strstr(*l, "] ") : NULL;

		/* "[00042] OPEN": a request sent (its reply is indented). */
		if (end && (!op || !strcmp(end + 2, op)))
			n++;
	}
	return n;
}

/* MMAPFS_TEST_PASSTHROUGH=MODE: "passthrough=MODE", or NULL. */
static const char *test_passthrough(void)
{
	static char opt[64];
	const char *mode = g_getenv("MMAPFS_TEST_PASSTHROUGH");

	if (!mode || !*mode)
		return NULL;
	g_snprintf(opt, sizeof(opt), "passthrough=%s", mode);
	return opt;
}

bool mount_passthrough_forced(void)
{
	return test_passthrough() != NULL;
}

bool mount_writeback_forced(void)
{
	return !g_strcmp0(g_getenv("MMAPFS_TEST_WRITEBACK"), "1");
}

/*
 * MMAPFS_TEST_WRITEBACK=1: -o writeback, on every mount it can go with
 * (not one of a test's own mounts with -o ro, cache=none, cache=timeout,
 * passthrough=ro or passthrough=rw: those test what they say; nor one over
 * a FUSE backing, where cache=auto means timeout).
 */
static bool test_writeback(const struct mount *m, const char *const *extra)
{
	static const char *const excluded[] = {
		"ro", "cache=none", "cache=timeout", "passthrough=ro",
		"passthrough=rw",
	};

	if (!mount_writeback_forced() || m->backing)
		return false;
	for (int i = 0; extra && extra[i]; i++) {
		g_auto(GStrv) words = NULL;

		if (strcmp(extra[i], "-o") || !extra[i + 1])
			continue;
		words = g_strsplit(extra[++i], ",", -1);
		for (int w = 0; words[w]; w++)
			for (size_t e = 0; e < G_N_ELEMENTS(excluded); e++)
				if (!strcmp(words[w], excluded[e]))
					return false;
	}
	return true;
}

/* MMAPFS_TEST_BACKING=bindfs: backing/ mirrors src/ through bindfs. */
static void start_backing(struct mount *m)
{
	/* bindfs's own kernel caching off: what mmapfs reads from it is the
	 * backing directory's state now, as from a network filesystem. */
	const char *argv[] = { "bindfs", "-f", "-o",
			       "attr_timeout=0,entry_timeout=0,negative_timeout=0",
			       m->src, NULL, NULL };
	GError *error = NULL;

	if (m->backing || !(backing_is_fuse() || m->want_bindfs || m->want_sshfs))
		return;
	m->backing = g_build_filename(m->root, "backing", NULL);
	g_assert_cmpint(g_mkdir(m->backing, 0755), ==, 0);
	if (m->want_sshfs || (backing_is_sshfs() && !m->want_bindfs)) {
		start_sshd();
		start_sshfs(m);
		return;
	}
	argv[5] = m->backing;
	g_spawn_async(NULL, (char **)argv, NULL,
		      G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
		      &m->backing_pid, &error);
	g_assert_no_error(error);
	wait_fuse(m, m->backing, &m->backing_pid, "bindfs");
}

/* Unmounts backing/ and reaps its bindfs. */
static void stop_backing(struct mount *m)
{
	const char *argv[] = { "fusermount3", "-u", m->backing, NULL };

	if (!m->backing)
		return;
	g_spawn_sync(NULL, (char **)argv, NULL,
		     G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
		     NULL, NULL, NULL, NULL, NULL, NULL);
	if (path_is_mounted(m->backing))
		umount2(m->backing, MNT_DETACH);
	if (m->backing_pid > 0) {
		kill(m->backing_pid, SIGTERM);
		waitpid(m->backing_pid, NULL, 0);
	}
	g_clear_pointer(&m->backing, g_free);
	m->backing_pid = 0;
}

void mount_start(struct mount *m, const char *const *extra)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	GError *error = NULL;
	struct stat fuse_dev;
	int logfd, devfuse_lock = -1;

	start_backing(m);
	if (under_valgrind()) {
		static const char *const vg[] = {
			"valgrind", "--tool=memcheck", "--error-exitcode=99",
			"--leak-check=full", "--errors-for-leak-kinds=definite",
			"--show-leak-kinds=definite", "--track-fds=no", "-q",
		};
		for (size_t i = 0; i < G_N_ELEMENTS(vg); i++)
			g_ptr_array_add(argv, (char *)vg[i]);
	}
	g_ptr_array_add(argv, (char *)g_getenv("MMAPFS_BIN"));
	g_ptr_array_add(argv, (char *)"-f");
	/* First, so that a test's own -o passthrough= wins (the last does). */
	if (test_passthrough()) {
		g_ptr_array_add(argv, (char *)"-o");
		g_ptr_array_add(argv, (char *)test_passthrough());
	}
	if (test_writeback(m, extra)) {
		g_ptr_array_add(argv, (char *)"-o");
		g_ptr_array_add(argv, (char *)"writeback");
	}
	for (int i = 0; extra && extra[i]; i++)
		g_ptr_array_add(argv, (char *)extra[i]);
	g_ptr_array_add(argv, m->backing ? m->backing : m->src);
	g_ptr_array_add(argv, m->mnt);
	g_ptr_array_add(argv, NULL);

	logfd = open(m->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	g_assert_cmpint(logfd, >=, 0);
	if (m->uid) {
		give_to_user(m);
		/* One test at a time opens /dev/fuse to everyone and puts its
		 * mode back: another's restore must not close it under this
		 * daemon while it starts (seen in a parallel suite). */
		devfuse_lock = open("/tmp/mmapfs-test-dev-fuse.lock",
				    O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		g_assert_cmpint(devfuse_lock, >=, 0);
		g_assert_cmpint(flock(devfuse_lock, LOCK_EX), ==, 0);
		g_assert_cmpint(stat("/dev/fuse", &fuse_dev), ==, 0);
		g_assert_cmpint(chmod("/dev/fuse", 0666), ==, 0);
	}
	g_spawn_async_with_fds(NULL, (char **)argv->pdata, NULL,
			       G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
			       set_limits, m, &m->pid, -1, logfd, logfd, &error);
	close(logfd);
	g_assert_no_error(error);
	wait_fuse(m, m->mnt, &m->pid, "the daemon");
	/* Mounted: /dev/fuse is open.  (A failure above leaves it 0666, as
	 * most distributions have it.) */
	if (m->uid) {
		g_assert_cmpint(chmod("/dev/fuse", fuse_dev.st_mode & 07777), ==, 0);
		close(devfuse_lock);
	}
}

/* A FUSE mount is the topmost at path (a test's lower mounts are not). */
static bool fuse_mounted(const char *path)
{
	struct mountinfo_entry e;

	return mountinfo_find(path, NULL, &e) && g_str_has_prefix(e.fstype, "fuse");
}

int mount_stop(struct mount *m)
{
	gint64 deadline;
	int status = -1;

	for (int tries = 0; fuse_mounted(m->mnt) && tries < 100; tries++) {
		const char *argv[] = { "fusermount3", "-u", m->mnt, NULL };
		int wait_status;

		g_spawn_sync(NULL, (char **)argv, NULL,
			     G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
			     NULL, NULL, NULL, NULL, &wait_status, NULL);
		if (!fuse_mounted(m->mnt))
			break;
		g_usleep(100000);    /* busy: a reader still closing */
	}
	if (m->pid > 0) {
		deadline = g_get_monotonic_time() +
			   (under_valgrind() ? 120 : 10) * G_USEC_PER_SEC;
		for (;;) {
			pid_t r = waitpid(m->pid, &status, WNOHANG);

			if (r == m->pid)
				break;
			if (r < 0 && errno == ECHILD && kill(m->pid, 0) < 0) {
				status = 0;     /* adopted daemon: gone */
				break;
			}
			if (g_get_monotonic_time() > deadline) {
				kill(m->pid, SIGKILL);
				waitpid(m->pid, NULL, 0);
				g_printerr("daemon %d did not exit after unmount: killed\n",
					   (int)m->pid);
				status = -1;
				break;
			}
			g_usleep(5000);
		}
	}
	if (fuse_mounted(m->mnt))
		umount2(m->mnt, MNT_DETACH);
	if (m->pid > 0 && status != 0) {
		/* The reason is in the log (a sanitizer's report, say): the
		 * caller's assertion alone would not say it. */
		g_autofree char *log = NULL;

		g_file_get_contents(m->log, &log, NULL, NULL);
		g_printerr("daemon %d ended with status %#x; its log:\n%s\n",
			   (int)m->pid, status, log ? log : "(none)");
	}
	m->pid = 0;
	return status;
}

static int rm_rf(const char *path)
{
	const char *argv[] = { "rm", "-rf", "--one-file-system", path, NULL };

	return g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH,
			    NULL, NULL, NULL, NULL, NULL, NULL) ? 0 : -1;
}

void mount_cleanup(struct mount *m)
{
	if (!m->root)
		return;
	if (m->pid > 0 || fuse_mounted(m->mnt))
		mount_stop(m);
	stop_backing(m);
	if (m->src_is_tmpfs)
		umount2(m->src, MNT_DETACH);
	if (m->mnt_over_tmpfs && path_is_mounted(m->mnt))
		umount2(m->mnt, MNT_DETACH);
	m->src_is_tmpfs = m->mnt_over_tmpfs = false;
	live_remove(m);
	rm_rf(m->root);
	g_free(m->root);
	g_free(m->src);
	g_free(m->mnt);
	g_free(m->log);
	memset(m, 0, sizeof(*m));
}

void mount_src_tmpfs(struct mount *m, const char *size)
{
	g_autofree char *opts = g_strdup_printf("size=%s,mode=0755", size);

	g_assert_cmpint(mount("tmpfs", m->src, "tmpfs", 0, opts), ==, 0);
	m->src_is_tmpfs = true;
}

void mount_mnt_tmpfs(struct mount *m)
{
	g_assert_cmpint(mount("tmpfs", m->mnt, "tmpfs", 0, "size=1m"), ==, 0);
	m->mnt_over_tmpfs = true;
}

char **harness_env(const char *tmpdir)
{
	char **env = g_get_environ();

	env = g_environ_setenv(env, "MMAPFS", g_getenv("MMAPFS_BIN"), TRUE);
	if (tmpdir)
		env = g_environ_setenv(env, "TMPDIR", tmpdir, TRUE);
	return env;
}

int harness_exit_code(int status)
{
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

int harness_run(const char *const *argv, const char *tmpdir, char **out,
		char **err)
{
	g_auto(GStrv) env = harness_env(tmpdir);
	g_autofree char *o = NULL, *e = NULL;
	GError *error = NULL;
	int status;

	g_spawn_sync(NULL, (char **)argv, env, G_SPAWN_SEARCH_PATH, NULL, NULL,
		     &o, &e, &status, &error);
	g_assert_no_error(error);
	g_test_message("$ %s%s%s -> %d%s%s", argv[0], argv[1] ? " " : "",
		       argv[1] ? argv[1] : "", harness_exit_code(status),
		       e && *e ? ": " : "", e && *e ? e : "");
	if (out)
		*out = g_steal_pointer(&o);
	if (err)
		*err = g_steal_pointer(&e);
	return harness_exit_code(status);
}

int mount_run_as_user(const struct mount *m, const char *const *cmd, char **out)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autofree char *uid = g_strdup_printf("%u", (unsigned)m->uid);
	g_autofree char *gid = g_strdup_printf("%u", (unsigned)m->gid);
	const char *prefix[] = { "setpriv", "--reuid", uid, "--regid", gid,
				 "--clear-groups", "--" };

	for (size_t i = 0; i < G_N_ELEMENTS(prefix); i++)
		g_ptr_array_add(argv, (char *)prefix[i]);
	for (int i = 0; cmd[i]; i++)
		g_ptr_array_add(argv, (char *)cmd[i]);
	g_ptr_array_add(argv, NULL);
	return harness_run((const char *const *)argv->pdata, NULL, out, NULL);
}

char *harness_script(const char *name)
{
	return g_build_filename(g_getenv("MMAPFS_SCRIPTS"), name, NULL);
}

pid_t harness_find_daemon(const char *mnt)
{
	g_autoptr(GDir) proc = g_dir_open("/proc", 0, NULL);
	const char *name;

	while ((name = g_dir_read_name(proc))) {
		g_autofree char *comm_path = g_strdup_printf("/proc/%s/comm", name);
		g_autofree char *cmd_path = g_strdup_printf("/proc/%s/cmdline", name);
		g_autofree char *comm = NULL, *cmd = NULL;
		gsize len;
		const char *last;

		if (!g_ascii_isdigit(name[0]) ||
		    !g_file_get_contents(comm_path, &comm, NULL, NULL) ||
		    strcmp(comm, "mmapfs\n") ||
		    !g_file_get_contents(cmd_path, &cmd, &len, NULL) || len < 2)
			continue;
		last = cmd + len - 1;
		while (last > cmd && last[-1])
			last--;
		if (!strcmp(last, mnt))
			return (pid_t)atoi(name);
	}
	return 0;
}

bool harness_sanitized(void)
{
	const char *s = g_getenv("MMAPFS_SANITIZE");

	return s && *s && strcmp(s, "none");
}

char *src_path(const struct mount *m, const char *rel)
{
	return g_build_filename(m->src, rel, NULL);
}

char *mnt_path(const struct mount *m, const char *rel)
{
	return g_build_filename(m->mnt, rel, NULL);
}

void write_random_file(const char *path, size_t len, guint32 seed)
{
	GRand *rand = g_rand_new_with_seed(seed);
	g_autofree guint32 *buf = g_malloc(len / 4 * 4 + 4);
	int fd;

	for (size_t i = 0; i < len / 4 + 1; i++)
		buf[i] = g_rand_int(rand);
	g_rand_free(rand);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, buf, len), ==, (ssize_t)len);
	g_assert_cmpint(close(fd), ==, 0);
}

GBytes *read_whole(const char *path, size_t chunk)
{
	GByteArray *out = g_byte_array_new();
	g_autofree guint8 *buf = g_malloc(chunk);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	g_assert_cmpint(fd, >=, 0);
	while ((n = read(fd, buf, chunk)) > 0)
		g_byte_array_append(out, buf, n);
	g_assert_cmpint(n, ==, 0);
	close(fd);
	return g_byte_array_free_to_bytes(out);
}

void assert_one_line(const char *err)
{
	g_assert_nonnull(err);
	g_assert_cmpuint(strlen(err), >, 1);
	g_assert_true(strchr(err, '\n') == err + strlen(err) - 1);
}

guint64 stats_value(const char *text, const char *name)
{
	g_autofree char *key = g_strdup_printf("\n%s ", name);
	g_autofree char *padded = g_strconcat("\n", text, NULL);
	const char *p = strstr(padded, key);

	return p ? g_ascii_strtoull(p + strlen(key), NULL, 10) : 0;
}

char *mount_stats(const struct mount *m)
{
	ssize_t n = getxattr(m->mnt, MMAPFS_XATTR_STATS, NULL, 0);
	char *text;

	g_assert_cmpint(n, >, 0);
	text = g_malloc0((size_t)n + 1);
	n = getxattr(m->mnt, MMAPFS_XATTR_STATS, text, (size_t)n);
	g_assert_cmpint(n, >, 0);
	text[n] = '\0';
	return text;
}

guint64 mount_stat(const struct mount *m, const char *name)
{
	g_autofree char *text = mount_stats(m);

	return stats_value(text, name);
}

guint64 mount_stat_wait(const struct mount *m, const char *name,
			guint64 want, unsigned ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;
	guint64 n;

	while ((n = mount_stat(m, name)) < want &&
	       g_get_monotonic_time() < deadline)
		g_usleep(1000);
	return n;
}
