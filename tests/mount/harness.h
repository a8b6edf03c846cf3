/*
 * harness.h - mounting mmapfs for real in a test, and always cleaning up.
 *
 * Each mount gets a private directory with src/, mnt/ and daemon.log.  The
 * daemon runs in the foreground as a child of the test; mount_start()
 * returns once statfs() on mnt/ answers from FUSE (the INIT handshake is
 * done), never after a blind sleep.  mount_stop() unmounts with
 * fusermount3 -u, reaps the daemon and returns its exit status.
 *
 * Whatever happens - a failed assertion (SIGABRT), a meson timeout
 * (SIGTERM), a crash - the harness detaches every mount it made and kills
 * every daemon it started, from a signal handler and from atexit().
 *
 * The daemon binary is $MMAPFS_BIN (set by tests/meson.build).  With
 * MMAPFS_VALGRIND=1 it runs under valgrind's memcheck, and exits non-zero
 * (failing mount_stop()'s caller) on any error or definite leak.
 *
 * With MMAPFS_TEST_BACKING=bindfs in the environment, mount_start() first
 * mirrors src/ with bindfs at backing/ and gives mmapfs that as SOURCE: the
 * same tests then run with a backing directory that is itself a FUSE
 * filesystem, changed underneath by the test (through src/) where no
 * watcher sees.  bindfs is unmounted and reaped by mount_cleanup().
 * MMAPFS_TEST_BACKING=sshfs (or want_sshfs) does the same with sshfs over
 * an sshd of the test program's own on 127.0.0.1 (its own port, keys and
 * pid file; started at the first such mount, stopped at the program's
 * end or with it, whatever ends it), logging every SFTP request it sends
 * (mount_sshfs_calls()).
 *
 * With MMAPFS_TEST_PASSTHROUGH=MODE, every daemon gets -o passthrough=MODE
 * first (a test's own -o passthrough= comes later, and wins): the same
 * tests then run with opened files handed to the kernel's passthrough.
 */
#ifndef MMAPFS_TEST_HARNESS_H
#define MMAPFS_TEST_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include <glib.h>

struct mount {
	char *root;     /* private directory, removed by mount_cleanup() */
	char *src;      /* root/src: the backing directory */
	char *mnt;      /* root/mnt: the mount point */
	char *log;      /* root/daemon.log: the daemon's stderr */
	GPid pid;       /* the daemon, or 0 */
	bool src_is_tmpfs;
	bool mnt_over_tmpfs;  /* mnt/ is a tmpfs of the test's, under the mount */
	char *backing;  /* root/backing: bindfs of src/, or NULL */
	bool want_bindfs;  /* set before mount_start(): as MMAPFS_TEST_BACKING */
	bool want_sshfs;   /* likewise, sshfs (see above) */
	GPid backing_pid;
	unsigned nofile;  /* if set before mount_start(): the daemon's RLIMIT_NOFILE */
	unsigned long long max_as;  /* likewise, its RLIMIT_AS (bytes) */
	/*
	 * If set before mount_start(): the daemon runs as this ordinary user
	 * (its group, no supplementary groups), mounting with fusermount3;
	 * root/, src/ and mnt/ become the user's, and /dev/fuse is opened
	 * to everyone while the daemon starts.
	 */
	uid_t uid;
	gid_t gid;
};

/* Installs the emergency clean-up.  Call once from main(). */
void harness_init(void);

/*
 * Gives the test program a mount namespace of its own, before its first
 * mount and before any thread starts: its mounts (and those of the
 * daemons and sshfs it starts) are seen by it and its children alone, so
 * that a test counting the requests its own work sends counts no other
 * process's stat of a mount point (another test's, an indexer's).  Mounts
 * made outside still appear inside.  Once the program and its children
 * are gone, so is the namespace, with every mount left in it; a daemon
 * that outlives a test killed outright keeps its mount there, out of sight
 * of `mount` outside (scripts/test.sh looks in every process's
 * mountinfo).
 */
void harness_private_mounts(void);

/*
 * Creates root, src and mnt (nothing mounted yet), and registers m for the
 * emergency clean-up until mount_cleanup().
 */
void mount_prepare(struct mount *m, const char *name);

/*
 * A GTest fixture: mount_prepare() with a name made from the test's path,
 * and mount_cleanup() after the test, whatever it left mounted or running.
 * MOUNT_TEST() adds a test that takes the mount and data.
 */
void mount_fixture_setup(struct mount *m, gconstpointer data);
void mount_fixture_teardown(struct mount *m, gconstpointer data);
#define MOUNT_TEST(path, fn, data) \
	g_test_add(path, struct mount, data, mount_fixture_setup, fn, \
		   mount_fixture_teardown)

/*
 * Makes src/ a tmpfs of the given size ("64m"), before mount_start(): a
 * small backing filesystem whose free space a test can watch.  It is
 * unmounted by mount_cleanup(), or in an emergency.
 */
void mount_src_tmpfs(struct mount *m, const char *size);

/*
 * Makes mnt/ itself a small tmpfs before mount_start(), for a test that
 * mounts over an existing mount; unmounted by mount_cleanup(), or in an
 * emergency.
 */
void mount_mnt_tmpfs(struct mount *m);

/*
 * Starts the daemon with "-f" and extra (NULL-terminated, may be NULL)
 * before SOURCE and MOUNTPOINT; waits until the mount answers.  Fails the
 * test, with the daemon's log, if it does not within 20 s.
 */
void mount_start(struct mount *m, const char *const *extra);

/*
 * Takes charge of a daemon that mmapfs started detached (no -f): it is
 * killed in an emergency, and mount_stop() waits for it to go.  (A mount
 * at m->mnt that a script made is detached in an emergency already.)
 */
void mount_adopt(struct mount *m, pid_t pid);

/* Unmounts and reaps the daemon; returns its wait status (0: clean exit). */
int mount_stop(struct mount *m);

/* mount_stop() when mounted, then removes the private directory. */
void mount_cleanup(struct mount *m);

/*
 * True when the tests run over a bindfs backing (MMAPFS_TEST_BACKING).  A
 * test that needs what bindfs lacks skips itself, saying what.
 */
bool backing_is_fuse(void);

/*
 * The SFTP requests named op ("OPEN", "LSTAT", ...; NULL: all) that m's
 * sshfs backing has sent since it started: how often mmapfs asked the
 * network.
 */
unsigned mount_sshfs_calls(const struct mount *m, const char *op);

/* True when MMAPFS_TEST_PASSTHROUGH gives every mount a passthrough mode. */
bool mount_passthrough_forced(void);

/* Whether MMAPFS_TEST_WRITEBACK=1 mounts with -o writeback where it can go
 * (the 'writeback' suite). */
bool mount_writeback_forced(void);

/* True when path is a mount point (per /proc/self/mountinfo). */
bool path_is_mounted(const char *path);

/* True when the daemon process still runs. */
bool mount_daemon_alive(struct mount *m);

/*
 * "running", "exited with status N" or "killed by signal N (NAME)": for
 * failure messages.  Reaps the daemon if it has ended (m->pid becomes 0).
 */
char *mount_daemon_state(struct mount *m);

/*
 * Runs argv (searched in PATH) to its end, with $MMAPFS set to the daemon
 * (for the scripts) and $TMPDIR to tmpdir when given.  Returns its exit
 * code (128+N when killed by signal N); its output in *out and *err when
 * not NULL.
 */
int harness_run(const char *const *argv, const char *tmpdir, char **out,
		char **err);

/*
 * harness_run() of cmd as m's daemon's user (m->uid and m->gid, no
 * supplementary groups): the only one a mount without allow_other lets in.
 */
int mount_run_as_user(const struct mount *m, const char *const *cmd, char **out);

/* The environment harness_run() gives. */
char **harness_env(const char *tmpdir);

/* Exit code of a wait status: 128+N when killed by signal N. */
int harness_exit_code(int status);

/* scripts/NAME in the source tree. */
char *harness_script(const char *name);

/* The mmapfs daemon serving mnt (whose last argument it is), or 0. */
pid_t harness_find_daemon(const char *mnt);

/* True when the daemon was built with a sanitizer (MMAPFS_SANITIZE). */
bool harness_sanitized(void);

/* Paths inside src/ and mnt/ (g_free them). */
char *src_path(const struct mount *m, const char *rel);
char *mnt_path(const struct mount *m, const char *rel);

/*
 * The value of "name value" in mmapfs's text statistics; 0 when the name
 * is absent (an operation never requested is not listed).
 */
guint64 stats_value(const char *text, const char *name);
/* The mount's text statistics (the user.mmapfs.stats xattr of its root). */
char *mount_stats(const struct mount *m);
/* stats_value() of the mount's statistics now. */
guint64 mount_stat(const struct mount *m, const char *name);
/*
 * mount_stat() once it is at least want, or after ms milliseconds.  A
 * request is counted once its handler returns, after the reply: the
 * caller may already be on its next call.
 */
guint64 mount_stat_wait(const struct mount *m, const char *name,
			guint64 want, unsigned ms);
/* Asserts that err is one line of text, with its newline, and no more. */
void assert_one_line(const char *err);

/* Writes len bytes of seeded pseudo-random data to path. */
void write_random_file(const char *path, size_t len, guint32 seed);

/* The whole content of a file, read with read(2) in chunks of chunk bytes. */
GBytes *read_whole(const char *path, size_t chunk);

#endif
