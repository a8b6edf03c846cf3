/*
 * test_users.c - hostile local users on an allow_other mount, each check
 * differential: the same command, as the same unprivileged user, on the
 * backing directory and through the mount, must end the same way.
 *   - POSIX ACLs: a user's deny entry denies, a grant entry grants, group
 *     entries and masks apply, a directory's entries apply to listing and
 *     to what is inside, default ACLs are inherited by files and
 *     directories created through the mount (with the creator's umask
 *     ignored, as natively), and setfacl/getfacl round-trip;
 *   - set-ID bits: a write by a user without CAP_FSETID clears set-user-ID
 *     (and set-group-ID on a group-executable file), through the page
 *     cache, with cache=none, O_DIRECT, O_APPEND and truncate; root's
 *     write keeps them.
 *   - leases: while a user holds write leases and ignores their break,
 *     opens and truncates of her files through the mount wait (as natively,
 *     until the leases go or lease-break-time passes), and everyone else's
 *     requests are answered at once: a worker of the daemon never waits
 *     on her;
 *   - descriptors: a user who makes 21,000 directories and lists them
 *     leaves others able to open files, and a walk of 100,000 directories
 *     (by a root daemon, reaching them by handle, and by an ordinary
 *     user's, reaching them by name) leaves the daemon holding a bounded
 *     number of descriptors while the kernel still knows every one.
 * The users and groups are the test's own (mmapfs-eve in mmapfs-devs,
 * made with useradd and groupadd when missing); commands run as them with
 * runuser.
 */
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "harness.h"

#define EVE "mmapfs-eve"
#define DEVS "mmapfs-devs"

/* Makes the test's user and group once (they stay, as system users do). */
static void ensure_users(void)
{
	const char *grp[] = { "groupadd", "-f", DEVS, NULL };
	const char *usr[] = { "useradd", "-M", "-N", "-s", "/bin/sh", "-G", DEVS,
			      EVE, NULL };

	g_assert_cmpint(harness_run(grp, NULL, NULL, NULL), ==, 0);
	if (!getpwnam(EVE))
		g_assert_cmpint(harness_run(usr, NULL, NULL, NULL), ==, 0);
	g_assert_nonnull(getpwnam(EVE));
}

/* Runs the shell command cmd as user (NULL: root) with $D set to dir. */
static int run_as(const char *user, const char *dir, const char *cmd, char **out)
{
	g_autofree char *script = g_strdup_printf("D='%s'; %s", dir, cmd);
	const char *as_user[] = { "runuser", "-u", user ? user : "root", "--",
				  "sh", "-c", script, NULL };

	return harness_run(as_user, NULL, out, NULL);
}

/*
 * Runs setup (as root) on the backing directory, then cmd as EVE with $D
 * the backing directory and then the mount: the exit codes and outputs
 * must be the same, and the code must be want (0 or not 0).
 */
static void same_both_ways(struct mount *m, const char *cmd, bool want_ok)
{
	g_autofree char *native_out = NULL, *mount_out = NULL;
	int native = run_as(EVE, m->src, cmd, &native_out);
	int through = run_as(EVE, m->mnt, cmd, &mount_out);

	g_test_message("as %s: %s\n  natively: %d '%s'\n  through the mount: %d '%s'",
		       EVE, cmd, native, native_out, through, mount_out);
	g_assert_cmpint(native == 0, ==, want_ok);
	g_assert_cmpint(through, ==, native);
	g_assert_cmpstr(mount_out, ==, native_out);
}

static void setup_as_root(struct mount *m, const char *cmd)
{
	g_autofree char *out = NULL;

	g_assert_cmpint(run_as(NULL, m->src, cmd, &out), ==, 0);
}

static void mount_for_users(struct mount *m, const char *opts)
{
	g_autofree char *o = g_strdup_printf("allow_other%s%s", opts ? "," : "",
					     opts ? opts : "");
	const char *args[] = { "-o", o, NULL };

	ensure_users();
	g_assert_cmpint(chmod(m->root, 0755), ==, 0);
	g_assert_cmpint(chmod(m->src, 0777), ==, 0);
	mount_start(m, args);
}

/* setfacl works on the backing filesystem here, or the test is skipped. */
static bool acls_here(struct mount *m)
{
	g_autofree char *out = NULL;

	if (run_as(NULL, m->src, "touch \"$D/.probe\" && setfacl -m u:" EVE ":r "
		   "\"$D/.probe\" 2>&1; rm -f \"$D/.probe\"", &out) != 0) {
		g_test_skip("the backing filesystem here takes no POSIX ACL");
		return false;
	}
	return true;
}

static void test_acl_files(struct mount *m, gconstpointer data)
{
	mount_for_users(m, NULL);
	if (!acls_here(m))
		return;
	setup_as_root(m,
		"echo open > \"$D/a\" && chmod 644 \"$D/a\" && setfacl -m u:" EVE ":--- \"$D/a\"\n"
		"echo mine > \"$D/b\" && chmod 600 \"$D/b\" && setfacl -m u:" EVE ":r-- \"$D/b\"\n"
		"echo grp > \"$D/g\" && chmod 644 \"$D/g\" && setfacl -m g:" DEVS ":--- \"$D/g\"\n"
		"echo masked > \"$D/k\" && chmod 600 \"$D/k\" && "
		"setfacl -m u:" EVE ":rw-,m::--- \"$D/k\"\n");
	/* A deny entry denies; a grant grants; a group entry; a mask. */
	same_both_ways(m, "cat \"$D/a\"", false);
	same_both_ways(m, "cat \"$D/b\"", true);
	same_both_ways(m, "cat \"$D/g\"", false);
	same_both_ways(m, "cat \"$D/k\"", false);
	same_both_ways(m, "echo x >> \"$D/b\"", false);
	/* An ACL changed outside the mount: seen at once (watched). */
	setup_as_root(m, "setfacl -m u:" EVE ":r-- \"$D/a\"");
	same_both_ways(m, "cat \"$D/a\"", true);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

static void test_acl_directories(struct mount *m, gconstpointer data)
{
	mount_for_users(m, NULL);
	if (!acls_here(m))
		return;
	setup_as_root(m,
		"mkdir \"$D/d\" && echo in > \"$D/d/f\" && chmod 755 \"$D/d\" && "
		"chmod 644 \"$D/d/f\" && setfacl -m u:" EVE ":--- \"$D/d\"\n"
		"mkdir \"$D/e\" && echo in > \"$D/e/f\" && chmod 700 \"$D/e\" && "
		"chmod 644 \"$D/e/f\" && setfacl -m u:" EVE ":r-x \"$D/e\"\n");
	same_both_ways(m, "ls \"$D/d\"", false);
	same_both_ways(m, "cat \"$D/d/f\"", false);
	same_both_ways(m, "ls \"$D/e\"", true);
	same_both_ways(m, "cat \"$D/e/f\"", true);
	same_both_ways(m, "touch \"$D/e/new\"", false);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * Default ACLs: what eve creates through the mount, with her umask 077,
 * gets the same mode and ACL as what she creates natively.
 */
static void test_acl_default(struct mount *m, gconstpointer data)
{
	mount_for_users(m, NULL);
	if (!acls_here(m))
		return;
	setup_as_root(m,
		"mkdir \"$D/shared\" && chmod 777 \"$D/shared\" && "
		"setfacl -d -m u::rwx,g::r-x,o::---,u:" EVE ":rwx,g:" DEVS ":rw-,m::rwx \"$D/shared\"\n"
		"mkdir \"$D/plain\" && chmod 777 \"$D/plain\"\n");
	same_both_ways(m,
		"cd \"$D\" && umask 077 && for d in shared plain; do "
		"mkdir $d/dir-$$ && touch $d/file-$$ && mkdir -m 750 $d/m-$$ && "
		"stat -c '%a' $d/dir-$$ $d/file-$$ $d/m-$$ && "
		"getfacl -cp $d/dir-$$ $d/file-$$ | sed 's/-[0-9]*$//' && "
		"rm -r $d/dir-$$ $d/file-$$ $d/m-$$; done", true);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* setfacl through the mount: on the backing file, and read back. */
static void test_acl_roundtrip(struct mount *m, gconstpointer data)
{
	g_autofree char *out = NULL, *native = NULL;

	mount_for_users(m, NULL);
	if (!acls_here(m))
		return;
	setup_as_root(m, "echo f > \"$D/f\" && chmod 640 \"$D/f\"");
	g_assert_cmpint(run_as(NULL, m->mnt, "setfacl -m u:" EVE ":rw,g:" DEVS ":r \"$D/f\" "
			       "&& getfacl -cp \"$D/f\" && stat -c %a \"$D/f\"", &out), ==, 0);
	g_assert_cmpint(run_as(NULL, m->src, "getfacl -cp \"$D/f\" && stat -c %a \"$D/f\"",
			       &native), ==, 0);
	g_test_message("through the mount:\n%s\nnatively:\n%s", out, native);
	g_assert_cmpstr(out, ==, native);
	g_assert_nonnull(strstr(out, "user:" EVE ":rw-"));
	same_both_ways(m, "echo w >> \"$D/f\"", true);
	g_assert_cmpint(run_as(NULL, m->mnt, "setfacl -b \"$D/f\"", NULL), ==, 0);
	same_both_ways(m, "cat \"$D/f\"", false);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * A root-owned 4775 (and 2775) program of group DEVS, which eve (in the
 * group) may write: each way of writing clears the bit natively and
 * through the mount; root's write keeps it.
 */
static void check_set_id(struct mount *m, const char *opts)
{
	static const char *const writes[] = {
		"printf x | dd of=\"$D/p\" bs=1 seek=3 conv=notrunc status=none",
		"dd if=/dev/zero of=\"$D/p\" bs=4096 count=1 oflag=direct conv=notrunc status=none",
		"printf x >> \"$D/p\"",
		"truncate -s 100 \"$D/p\"",
	};
	static const char *const modes[] = { "4775", "2775" };

	mount_for_users(m, opts);
	for (size_t w = 0; w < G_N_ELEMENTS(writes); w++) {
		for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
			g_autofree char *setup = g_strdup_printf(
				"head -c 8192 /dev/zero > \"$D/p\" && chgrp " DEVS
				" \"$D/p\" && chmod %s \"$D/p\"", modes[i]);
			g_autofree char *cmd = g_strdup_printf("%s; stat -c %%a \"$D/p\"",
							       writes[w]);
			g_autofree char *native = NULL, *through = NULL;

			setup_as_root(m, setup);
			run_as(EVE, m->src, cmd, &native);
			setup_as_root(m, setup);
			run_as(EVE, m->mnt, cmd, &through);
			g_test_message("%s on a %s file: natively %s, through the mount %s",
				       writes[w], modes[i], native, through);
			g_assert_cmpstr(through, ==, native);
			g_assert_true(g_str_has_suffix(native, "775\n"));
			/* Root keeps it. */
			setup_as_root(m, setup);
			g_free(through);
			through = NULL;
			run_as(NULL, m->mnt, cmd, &through);
			g_assert_true(g_str_has_prefix(through, modes[i]));
		}
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * A file capability given outside the mount after the daemon learnt that
 * the file had none (it answers the kernel's question before each write
 * from memory then): eve's next write through the mount drops it, as
 * natively (the write is made with her credentials, so the backing
 * filesystem drops it whatever the kernel above believes).
 */
static void test_capability_dropped(struct mount *m, gconstpointer data)
{
	/* CAP_NET_RAW permitted and effective, in the xattr's v2 form. */
	static const char setcap[] =
		"python3 -c 'import os, struct, sys; os.setxattr(sys.argv[1], "
		"\"security.capability\", struct.pack(\"<5I\", 0x02000001, 1 << 13, 0, 0, 0))' ";
	static const char getcap[] =
		"python3 -c 'import os, sys\ntry: os.getxattr(sys.argv[1], \"security.capability\"); "
		"print(\"has\")\nexcept OSError: print(\"none\")' ";
	const char *write = "printf x | dd of=\"$D/c\" bs=1 seek=1 conv=notrunc status=none";
	const char *dirs[] = { NULL, NULL };

	mount_for_users(m, NULL);
	dirs[0] = m->src;
	dirs[1] = m->mnt;
	for (int i = 0; i < 2; i++) {
		g_autofree char *cmd = NULL, *out = NULL, *q = NULL;

		setup_as_root(m, "printf abc > \"$D/c\" && chmod 666 \"$D/c\"");
		g_assert_cmpint(run_as(EVE, dirs[i], write, NULL), ==, 0);
		cmd = g_strdup_printf("%s\"$D/c\"", setcap);
		setup_as_root(m, cmd);          /* in SOURCE, outside the mount */
		g_usleep(200000);               /* the watcher's event */
		g_assert_cmpint(run_as(EVE, dirs[i], write, NULL), ==, 0);
		q = g_strdup_printf("%s\"$D/c\"", getcap);
		g_assert_cmpint(run_as(NULL, m->src, q, &out), ==, 0);
		g_test_message("%s: after eve's write the capability is %s",
			       i ? "through the mount" : "natively", out);
		g_assert_cmpstr(out, ==, "none\n");
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

static void test_set_id(struct mount *m, gconstpointer data)
{
	check_set_id(m, data);
}

#define LEASED 40
#define HOLD_SECONDS 60     /* the holder's life at most */

/* Holds a write lease on each file named, ignoring the break signal. */
static const char lease_holder[] =
	"import fcntl, os, signal, sys, time\n"
	"signal.signal(signal.SIGIO, signal.SIG_IGN)\n"
	"fds = []\n"
	"for p in sys.argv[2:]:\n"
	"    fd = os.open(p, os.O_RDWR)\n"
	"    fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)\n"
	"    fds.append(fd)\n"
	"print('held', flush=True)\n"
	"time.sleep(float(sys.argv[1]))\n";

/* Writes text into path in place (a /proc knob takes no rename). */
static void write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, text, strlen(text)), ==, (ssize_t)strlen(text));
	g_assert_cmpint(close(fd), ==, 0);
}

static void test_leases_stall_nobody(struct mount *m, gconstpointer data)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autofree char *line = NULL, *other = NULL;
	g_autofree char *opens = NULL;
	GPid holder, openers;
	GError *error = NULL;
	int out_fd, status;
	gint64 t0, worst = 0;
	FILE *out;

	mount_for_users(m, NULL);
	for (int i = 0; i < LEASED; i++) {
		g_autofree char *name = g_strdup_printf("leased%d", i);
		g_autofree char *p = src_path(m, name);

		write_text(p, "hers\n");
		g_assert_cmpint(chown(p, getpwnam(EVE)->pw_uid, (gid_t)-1), ==, 0);
	}
	other = src_path(m, "other");
	write_text(other, "anyone's\n");

	/* The holder ends by itself, so it never outlives the test long. */
	g_ptr_array_add(argv, g_strdup("runuser"));
	g_ptr_array_add(argv, g_strdup("-u"));
	g_ptr_array_add(argv, g_strdup(EVE));
	g_ptr_array_add(argv, g_strdup("--"));
	g_ptr_array_add(argv, g_strdup("python3"));
	g_ptr_array_add(argv, g_strdup("-c"));
	g_ptr_array_add(argv, g_strdup(lease_holder));
	g_ptr_array_add(argv, g_strdup_printf("%d", HOLD_SECONDS));
	for (int i = 0; i < LEASED; i++)
		g_ptr_array_add(argv, g_strdup_printf("%s/leased%d", m->src, i));
	g_ptr_array_add(argv, NULL);
	g_spawn_async_with_pipes(NULL, (char **)argv->pdata, NULL,
				 G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
				 NULL, NULL, &holder, NULL, &out_fd, NULL, &error);
	g_assert_no_error(error);
	out = fdopen(out_fd, "r");
	line = g_malloc0(64);
	g_assert_nonnull(fgets(line, 64, out));
	g_assert_cmpstr(line, ==, "held\n");

	/* Root opens every leased file through the mount (a third of them
	 * with O_CREAT | O_APPEND) or truncates it by name (truncate(2), a
	 * SETATTR): each waits.  (The kernel
	 * looks a name up before it creates: an O_CREAT open of an existing
	 * file is an OPEN; a CREATE meets an existing file only when the
	 * file appeared between the two, which no test can time.) */
	opens = g_strdup_printf("cd '%s' && for i in $(seq 0 %d); do case $((i %% 3)) in "
				"0) cat leased$i > /dev/null & ;; "
				"1) echo more >> leased$i & ;; "
				"2) python3 -c 'import os, sys; os.truncate(sys.argv[1], 5)' "
				"leased$i & ;; esac; done; wait",
				m->mnt, LEASED - 1);
	{
		const char *sh[] = { "sh", "-c", opens, NULL };

		g_spawn_async(NULL, (char **)sh, NULL,
			      G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
			      NULL, NULL, &openers, &error);
		g_assert_no_error(error);
	}
	g_usleep(2 * G_USEC_PER_SEC);   /* every opener has reached the mount */
	/* Meanwhile others are answered at once: stat, open, read, list. */
	t0 = g_get_monotonic_time();
	for (int i = 0; i < 20; i++) {
		g_autofree char *t = mnt_path(m, "other");
		g_autofree char *name = g_strdup_printf("new%d", i);
		g_autofree char *n = mnt_path(m, name);
		g_autoptr(GBytes) b = NULL;
		gint64 start = g_get_monotonic_time();
		struct stat st;

		g_assert_cmpint(stat(t, &st), ==, 0);
		b = read_whole(t, 4096);
		g_assert_cmpuint(g_bytes_get_size(b), ==, 9);
		write_text(n, "new\n");
		worst = MAX(worst, g_get_monotonic_time() - start);
	}
	g_test_message("others' stat+read+create while %d opens wait on leases: "
		       "worst %.1f ms, all 20 in %.1f ms", LEASED, worst / 1000.0,
		       (g_get_monotonic_time() - t0) / 1000.0);
	/* A worker held by a lease would wait for its break
	 * (lease-break-time, 45 s by default) or the holder's end. */
	g_assert_cmpint(worst, <, 3 * G_USEC_PER_SEC);
	/* The holder goes, its leases with it: every waiting open ends. */
	kill(holder, SIGTERM);
	waitpid(holder, NULL, 0);
	fclose(out);
	g_assert_cmpint(waitpid(openers, &status, 0), ==, openers);
	g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* ---- descriptors ---- */

#define DESCRIPTOR_SLACK 64     /* the daemon's own: /dev/fuse, watcher,
				 * log, open files of the moment */

/* How many descriptors process pid holds now. */
static unsigned fds_of(pid_t pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/fd", (int)pid);
	g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
	unsigned n = 0;

	g_assert_nonnull(d);
	while (g_dir_read_name(d))
		n++;
	return n;
}

/* The mount's statistics, read as user (the mount may be only hers). */
static char *stats_as(struct mount *m, const char *user)
{
	g_autofree char *cmd = g_strdup_printf("'%s' stats \"$D\"",
					       g_getenv("MMAPFS_CTL"));
	char *out = NULL;

	g_assert_cmpint(run_as(user, m->mnt, cmd, &out), ==, 0);
	return out;
}

/*
 * The descriptors the daemon pid may keep: the directory cache's default
 * budget (inode.h) for the RLIMIT_NOFILE in force, plus its own.
 */
static unsigned descriptor_bound(pid_t pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/limits", (int)pid);
	g_autofree char *text = NULL;
	const char *at;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	at = strstr(text, "Max open files");
	g_assert_nonnull(at);
	at += strlen("Max open files");
	return CLAMP(g_ascii_strtoull(at, NULL, 10) / 8, 16, 4096) + DESCRIPTOR_SLACK;
}

/* No "out of file descriptors" in the daemon's log. */
static void assert_never_out_of_fds(struct mount *m)
{
	g_autofree char *log = NULL;

	g_assert_true(g_file_get_contents(m->log, &log, NULL, NULL));
	g_assert_null(strstr(log, "out of file descriptors"));
}

static void test_many_directories(struct mount *m, gconstpointer data)
{
	g_autofree char *pub = src_path(m, "pub"), *hello = src_path(m, "hello");
	g_autofree char *out = NULL, *stats = NULL;
	unsigned held;

	g_assert_cmpint(g_mkdir(pub, 0777), ==, 0);
	g_assert_cmpint(chmod(pub, 01777), ==, 0);
	write_text(hello, "hello\n");
	mount_for_users(m, NULL);
	/* Eve's 21,000 directories, made and listed through the mount. */
	g_assert_cmpint(run_as(EVE, m->mnt, "cd \"$D/pub\" && seq 21000 | xargs mkdir && "
			       "find . -type d | wc -l", &out), ==, 0);
	g_assert_cmpstr(out, ==, "21001\n");
	held = fds_of(m->pid);
	stats = stats_as(m, NULL);
	g_test_message("after %s listed 21,000 directories: the daemon holds %u "
		       "descriptors (%" G_GUINT64_FORMAT " inodes known, %" G_GUINT64_FORMAT
		       " directory descriptors cached)", EVE, held,
		       stats_value(stats, "inodes"), stats_value(stats, "dir_fds"));
	g_assert_cmpuint(stats_value(stats, "inodes"), >, 21000);
	g_assert_cmpuint(held, <=, descriptor_bound(m->pid));
	/* Everyone still opens files, root and eve alike. */
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(run_as(NULL, m->mnt, "cat \"$D/hello\"", &out), ==, 0);
	g_assert_cmpstr(out, ==, "hello\n");
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(run_as(EVE, m->mnt, "cat \"$D/hello\"", &out), ==, 0);
	g_assert_cmpstr(out, ==, "hello\n");
	assert_never_out_of_fds(m);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* 100 directories of 1,000 in src/tree, made natively. */
static void make_tree(struct mount *m)
{
	g_autofree char *tree = src_path(m, "tree");

	g_assert_cmpint(g_mkdir(tree, 0755), ==, 0);
	for (int i = 0; i < 100; i++) {
		g_autofree char *top = g_strdup_printf("%s/%d", tree, i);

		g_assert_cmpint(g_mkdir(top, 0755), ==, 0);
		for (int j = 0; j < 999; j++) {
			g_autofree char *sub = g_strdup_printf("%s/%d", top, j);

			g_assert_cmpint(g_mkdir(sub, 0755), ==, 0);
		}
	}
}

/* data: NULL for a root daemon, else it runs as EVE. */
static void test_walk_descriptors(struct mount *m, gconstpointer data)
{
	const char *user = data ? EVE : NULL;
	g_autofree char *out = NULL, *stats = NULL;
	unsigned held;

	ensure_users();
	make_tree(m);
	/* The limit an ordinary user gets here (a hard limit of 20,000),
	 * which a root daemon raises where it may. */
	m->nofile = 20000;
	if (user) {
		m->uid = getpwnam(EVE)->pw_uid;
		m->gid = getpwnam(EVE)->pw_gid;
	}
	mount_start(m, NULL);
	g_assert_cmpint(run_as(user, m->mnt, "find \"$D/tree\" -type d | wc -l",
			       &out), ==, 0);
	g_assert_cmpstr(out, ==, "100001\n");
	held = fds_of(m->pid);
	stats = stats_as(m, user);
	g_test_message("walk of 100,000 directories by a daemon of %s's: it holds %u "
		       "descriptors, %" G_GUINT64_FORMAT " inodes known, %" G_GUINT64_FORMAT
		       " directory descriptors cached", user ? user : "root", held,
		       stats_value(stats, "inodes"), stats_value(stats, "dir_fds"));
	/* The kernel still knows (nearly) all of them: nothing was forgotten
	 * to make room. */
	g_assert_cmpuint(stats_value(stats, "inodes"), >, 90000);
	g_assert_cmpuint(held, <=, descriptor_bound(m->pid));
	/* And they are still reached: a second walk, reading every one. */
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(run_as(user, m->mnt, "ls -R \"$D/tree\" | grep -c :$",
			       &out), ==, 0);
	g_assert_cmpstr(out, ==, "100001\n");
	g_assert_cmpuint(fds_of(m->pid), <=, descriptor_bound(m->pid));
	assert_never_out_of_fds(m);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* ---- renames racing reads ---- */

/*
 * argv: SWAPDIR READDIR SECONDS.  In SWAPDIR, A (a directory holding f)
 * and L (a symlink to B, another directory holding the same f) are
 * exchanged with RENAME_EXCHANGE for SECONDS, while two readers in READDIR
 * list ., A and L, stat A and L and read A/f, L/f and B/f whole: paths that
 * exist, with the same bytes, in every state.  Prints what went wrong.
 */
static const char exchanger[] =
	"import ctypes, os, sys, time, multiprocessing as mp\n"
	"libc = ctypes.CDLL(None, use_errno=True)\n"
	"swapdir, readdir, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])\n"
	"want = open(os.path.join(swapdir, 'B', 'f'), 'rb').read()\n"
	"def reader(q):\n"
	"    end, bad, n = time.time() + secs, {}, 0\n"
	"    def note(k): bad[k] = bad.get(k, 0) + 1\n"
	"    while time.time() < end:\n"
	"        for p in ('', 'A', 'L'):\n"
	"            try:\n"
	"                for e in os.scandir(os.path.join(readdir, p)): e.stat(follow_symlinks=False)\n"
	"            except OSError as e: note('list %s: %s' % (p, e.strerror))\n"
	"        for p in ('A/f', 'L/f', 'B/f', 'A', 'L'):\n"
	"            try:\n"
	"                if p.endswith('f'):\n"
	"                    with open(os.path.join(readdir, p), 'rb') as fh: data = fh.read()\n"
	"                    if data != want: note('%s: %d bytes' % (p, len(data)))\n"
	"                else: os.stat(os.path.join(readdir, p))\n"
	"            except OSError as e: note('%s: %s' % (p, e.strerror))\n"
	"            n += 1\n"
	"    q.put((n, bad))\n"
	"q = mp.Queue()\n"
	"rs = [mp.Process(target=reader, args=(q,)) for _ in range(2)]\n"
	"for r in rs: r.start()\n"
	"a, l = (os.path.join(swapdir, x).encode() for x in ('A', 'L'))\n"
	"end, swaps = time.time() + secs, 0\n"
	"while time.time() < end:\n"
	"    if libc.renameat2(-100, a, -100, l, 2) != 0: sys.exit('renameat2: %d' % ctypes.get_errno())\n"
	"    swaps += 1\n"
	"got = [q.get() for r in rs]\n"
	"for r in rs: r.join()\n"
	"bad = {}\n"
	"for n, b in got:\n"
	"    for k, v in b.items(): bad[k] = bad.get(k, 0) + v\n"
	"print('%d swaps, %d reads, %d failed %s' % (swaps, sum(n for n, b in got), sum(bad.values()), bad))\n";

/* Runs the exchanger as user (NULL: root); its one-line report. */
static char *exchange_race(const char *user, const char *swapdir,
			   const char *readdir, double secs)
{
	g_autofree char *s = g_strdup_printf("%.1f", secs);
	const char *argv[] = { "runuser", "-u", user ? user : "root", "--",
			       "python3", "-c", exchanger, swapdir, readdir, s, NULL };
	char *out = NULL;

	g_assert_cmpint(harness_run(argv, NULL, &out, NULL), ==, 0);
	g_strchomp(out);
	return out;
}

/* data: NULL for a root daemon on an allow_other mount, else it runs as
 * EVE (reaching nodes by name). */
static void test_exchange_races(struct mount *m, gconstpointer data)
{
	struct {
		const char *what, *swapdir, *readdir;
	} runs[] = {
		{ "natively", m->src, m->src },
		{ "swaps through the mount", m->mnt, m->mnt },
		{ "swaps in SOURCE", m->src, m->mnt },
	};
	const char *user = data ? EVE : NULL;

	ensure_users();
	setup_as_root(m, "mkdir \"$D/A\" \"$D/B\" && head -c 10000 /dev/urandom > \"$D/B/f\" && "
		      "cp \"$D/B/f\" \"$D/A/f\" && ln -s B \"$D/L\" && "
		      "chown -R " EVE " \"$D\"");
	if (user) {
		m->uid = getpwnam(EVE)->pw_uid;
		m->gid = getpwnam(EVE)->pw_gid;
		mount_start(m, NULL);
	} else {
		mount_for_users(m, NULL);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(runs); i++) {
		/* Eve swaps; the readers are eve's (her own mount) or root's. */
		g_autofree char *report = exchange_race(EVE, runs[i].swapdir,
							runs[i].readdir, i ? 3 : 1);

		g_test_message("%s (daemon of %s's): %s", runs[i].what,
			       user ? user : "root", report);
		g_assert_nonnull(strstr(report, " 0 failed "));
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	MOUNT_TEST("/users/acl-files", test_acl_files, NULL);
	MOUNT_TEST("/users/acl-directories", test_acl_directories, NULL);
	MOUNT_TEST("/users/acl-default", test_acl_default, NULL);
	MOUNT_TEST("/users/acl-roundtrip", test_acl_roundtrip, NULL);
	MOUNT_TEST("/users/set-id-cleared", test_set_id, NULL);
	MOUNT_TEST("/users/capability-dropped", test_capability_dropped, NULL);
	MOUNT_TEST("/users/set-id-cleared-cache-none", test_set_id, "cache=none");
	MOUNT_TEST("/users/leases-stall-nobody", test_leases_stall_nobody, NULL);
	MOUNT_TEST("/users/many-directories", test_many_directories, NULL);
	MOUNT_TEST("/users/walk-100000-directories-root", test_walk_descriptors, NULL);
	MOUNT_TEST("/users/walk-100000-directories-user", test_walk_descriptors, "user");
	MOUNT_TEST("/users/exchange-races-root", test_exchange_races, NULL);
	MOUNT_TEST("/users/exchange-races-user", test_exchange_races, "user");
	return g_test_run();
}
