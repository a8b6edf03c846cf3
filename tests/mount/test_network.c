/*
 * test_network.c - mmapfs over a network filesystem: sshfs to an sshd of
 * the test's own on 127.0.0.1 (harness.h, want_sshfs), with sshfs's own
 * caches of names and attributes off, so that every stat, open and read
 * mmapfs makes is an SFTP request, counted from sshfs's debug log.
 *
 *   - within the window (-o timeout=), a second pass over files and
 *     listings read once sends one stat per directory listed (the
 *     kernel's recheck of access times it marked stale), and a third
 *     none at all, on the default and on the read-only mount, reading
 *     the same bytes;
 *   - within the window, pages the kernel let go are read through the
 *     daemon again with no open and no stat sent;
 *   - a small file is stored into the kernel's cache at its open: its
 *     reads and the stat after them reach no further than the kernel;
 *   - a first pass sends no more opens than the same pass over sshfs
 *     itself (its other requests are logged: with sshfs's caches off,
 *     mmapfs's stats of a file each reach the network, BENCHMARKS.md);
 *   - a change made on the server is not seen before the window ends,
 *     and is seen once it has (the test can fail both ways);
 *   - after the window, a file unchanged is confirmed with a stat, not
 *     opened again;
 *   - descriptors kept for reopens are given back when the daemon runs
 *     out (RLIMIT_NOFILE 128), and no open through the mount fails.
 *
 * The mounts are made in a mount namespace of the program's own: another
 * process's stat of the mount point (a `find /` running meanwhile does it)
 * would be counted with the passes' requests.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "harness.h"

#define DIRS 4
#define FILES_PER_DIR 25
#define FILES (DIRS * FILES_PER_DIR)

static void make_tree(struct mount *m)
{
	for (int d = 0; d < DIRS; d++) {
		g_autofree char *dir = g_strdup_printf("d%d", d);
		g_autofree char *p = src_path(m, dir);

		g_assert_cmpint(g_mkdir(p, 0755), ==, 0);
		for (int f = 0; f < FILES_PER_DIR; f++) {
			g_autofree char *rel = g_strdup_printf("d%d/f%d", d, f);
			g_autofree char *fp = src_path(m, rel);

			/* 1 to 100 KiB: one read, or several. */
			write_random_file(fp, (size_t)(1 + (d * FILES_PER_DIR + f) % 100) << 10,
					  (guint32)(d * 1000 + f + 1));
		}
	}
}

/* Lists every directory, stats and reads every file under root (the
 * mount, or sshfs itself), comparing each with the server's copy. */
static void read_tree_at(struct mount *m, const char *root)
{
	for (int d = 0; d < DIRS; d++) {
		g_autofree char *dir = g_strdup_printf("d%d", d);
		g_autofree char *dp = g_build_filename(root, dir, NULL);
		DIR *dh = opendir(dp);
		struct dirent *de;
		int n = 0;

		g_assert_nonnull(dh);
		while ((de = readdir(dh)))
			n += de->d_name[0] != '.';
		closedir(dh);
		g_assert_cmpint(n, ==, FILES_PER_DIR);
		for (int f = 0; f < FILES_PER_DIR; f++) {
			g_autofree char *rel = g_strdup_printf("d%d/f%d", d, f);
			g_autofree char *s = src_path(m, rel);
			g_autofree char *t = g_build_filename(root, rel, NULL);
			g_autoptr(GBytes) want = read_whole(s, 1 << 20);
			g_autoptr(GBytes) got = read_whole(t, 1 << 20);
			struct stat st;

			g_assert_cmpint(stat(t, &st), ==, 0);
			g_assert_cmpint(st.st_size, ==, g_bytes_get_size(want));
			g_assert_cmpmem(g_bytes_get_data(got, NULL), g_bytes_get_size(got),
					g_bytes_get_data(want, NULL), g_bytes_get_size(want));
		}
	}
}


/*
 * What the kernel keeps of a tree read through the mount, held where its
 * memory reclaim cannot take it: each file mapped and locked (its pages,
 * its dentry and inode), each directory open.  The virtual machines these
 * tests run on reclaim page cache with most of their memory free (fincore
 * shows a file read once losing pages within seconds while other work
 * runs); a page taken so is read through the daemon once more, which a
 * pass's count would blame on the daemon.  An invalidation still drops locked
 * pages: a daemon that makes the kernel drop its cache is still seen.
 */
struct pinned_tree {
	int dir_fds[DIRS];
	void *maps[FILES];
	size_t lens[FILES];
};

static void pin_tree(struct mount *m, struct pinned_tree *pt)
{
	for (int d = 0; d < DIRS; d++) {
		g_autofree char *dir = g_strdup_printf("d%d", d);
		g_autofree char *dp = mnt_path(m, dir);

		pt->dir_fds[d] = open(dp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		g_assert_cmpint(pt->dir_fds[d], >=, 0);
		for (int f = 0; f < FILES_PER_DIR; f++) {
			g_autofree char *rel = g_strdup_printf("d%d/f%d", d, f);
			g_autofree char *t = mnt_path(m, rel);
			int i = d * FILES_PER_DIR + f, fd = open(t, O_RDONLY | O_CLOEXEC);
			struct stat st;

			g_assert_cmpint(fd, >=, 0);
			g_assert_cmpint(fstat(fd, &st), ==, 0);
			pt->lens[i] = (size_t)st.st_size;
			pt->maps[i] = mmap(NULL, pt->lens[i], PROT_READ, MAP_SHARED, fd, 0);
			close(fd);
			g_assert_true(pt->maps[i] != MAP_FAILED);
			g_assert_cmpint(mlock(pt->maps[i], pt->lens[i]), ==, 0);
		}
	}
}

static void unpin_tree(struct pinned_tree *pt)
{
	for (int i = 0; i < FILES; i++)
		munmap(pt->maps[i], pt->lens[i]);
	for (int d = 0; d < DIRS; d++)
		close(pt->dir_fds[d]);
}

static void read_tree(struct mount *m)
{
	read_tree_at(m, m->mnt);
}

static void log_calls(struct mount *m, const char *when)
{
	g_test_message("%s: %u SFTP requests (%u OPEN, %u LSTAT, %u STAT, %u FSTAT, "
		       "%u READ, %u OPENDIR)", when, mount_sshfs_calls(m, NULL),
		       mount_sshfs_calls(m, "OPEN"), mount_sshfs_calls(m, "LSTAT"),
		       mount_sshfs_calls(m, "STAT"), mount_sshfs_calls(m, "FSTAT"),
		       mount_sshfs_calls(m, "READ"), mount_sshfs_calls(m, "OPENDIR"));
	g_test_message("  mmapfs: %" G_GUINT64_FORMAT " lookups, %" G_GUINT64_FORMAT
		       " getattrs, %" G_GUINT64_FORMAT " opens, %" G_GUINT64_FORMAT
		       " of them from kept descriptors",
		       mount_stat(m, "op.lookup.requests"), mount_stat(m, "op.getattr.requests"),
		       mount_stat(m, "op.open.requests"), mount_stat(m, "reopens_kept"));
	g_test_message("  %" G_GUINT64_FORMAT " reads, %" G_GUINT64_FORMAT " map misses, %"
		       G_GUINT64_FORMAT " maps evicted, %" G_GUINT64_FORMAT " dropped, %"
		       G_GUINT64_FORMAT " windows pushed, %" G_GUINT64_FORMAT " invalidated",
		       mount_stat(m, "op.read.requests"), mount_stat(m, "map_misses"),
		       mount_stat(m, "maps_evicted"), mount_stat(m, "maps_dropped"),
		       mount_stat(m, "pushed_windows"), mount_stat(m, "push_invalidated"));
}

/* data: the mount's options after -o. */
static void test_warm_pass_asks_nothing(struct mount *m, gconstpointer data)
{
	const char *const opts[] = { "-o", data, NULL };
	unsigned direct, direct_opens, before, opens, stats, after_first, after_second;
	struct pinned_tree pinned;

	m->want_sshfs = true;
	make_tree(m);
	mount_start(m, opts);
	/* The same pass over sshfs itself first: what it costs there. */
	before = mount_sshfs_calls(m, NULL);
	opens = mount_sshfs_calls(m, "OPEN");
	read_tree_at(m, m->backing);
	direct = mount_sshfs_calls(m, NULL) - before;
	direct_opens = mount_sshfs_calls(m, "OPEN") - opens;
	log_calls(m, "a pass over sshfs itself");
	before = mount_sshfs_calls(m, NULL);
	opens = mount_sshfs_calls(m, "OPEN");
	read_tree(m);
	log_calls(m, "first pass through mmapfs");
	g_test_message("first pass: %u requests through mmapfs, %u over sshfs itself",
		       mount_sshfs_calls(m, NULL) - before, direct);
	/* No more opens than reading sshfs directly (one a file). */
	g_assert_cmpuint(mount_sshfs_calls(m, "OPEN") - opens, <=, direct_opens);
	/* Pages the kernel let go meanwhile are read again here, before
	 * the count begins. */
	pin_tree(m, &pinned);
	after_first = mount_sshfs_calls(m, NULL);
	stats = mount_sshfs_calls(m, "LSTAT");
	read_tree(m);
	log_calls(m, "second pass");
	/* The kernel marks the access time of what it read through us stale,
	 * and asks for the attributes once more at its next stat: a file's
	 * are answered from what was kept, a directory's cost one stat. */
	g_assert_cmpuint(mount_sshfs_calls(m, NULL) - after_first, ==,
			 mount_sshfs_calls(m, "LSTAT") - stats);
	g_assert_cmpuint(mount_sshfs_calls(m, "LSTAT") - stats, <=, DIRS);
	after_second = mount_sshfs_calls(m, NULL);
	read_tree(m);
	log_calls(m, "third pass");
	g_assert_cmpuint(mount_sshfs_calls(m, NULL), ==, after_second);
	unpin_tree(&pinned);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* Reads the whole file behind fd with pread: len bytes, compared with want. */
static void pread_whole(int fd, GBytes *want)
{
	size_t len = g_bytes_get_size(want);
	g_autofree char *buf = g_malloc(len + 1);
	size_t got = 0;
	ssize_t n;

	while ((n = pread(fd, buf + got, len + 1 - got, (off_t)got)) > 0)
		got += (size_t)n;
	g_assert_cmpint(n, ==, 0);
	g_assert_cmpmem(buf, got, g_bytes_get_data(want, NULL), len);
}

/*
 * data: the mount's options after -o.  Within the window, pages the
 * kernel let go (dropped here with POSIX_FADV_DONTNEED, as its reclaim
 * would) are read through the daemon again, last page and all, with no
 * open and no stat sent to the network: the size is the one kept.
 * (Their data may be read again: sshfs's own cache may have let it go.)
 */
static void test_dropped_pages(struct mount *m, gconstpointer data)
{
	const char *const opts[] = { "-o", data, NULL };
	g_autofree char *s = NULL, *t = NULL;
	g_autoptr(GBytes) want = NULL;
	unsigned calls, opens, stats;
	guint64 reads;
	int fd;

	m->want_sshfs = true;
	s = src_path(m, "f");
	t = mnt_path(m, "f");
	write_random_file(s, 100000, 11);
	want = read_whole(s, 1 << 20);
	mount_start(m, opts);
	fd = open(t, O_RDONLY | O_CLOEXEC);
	g_assert_cmpint(fd, >=, 0);
	for (int round = 0; round < 3; round++) {
		calls = mount_sshfs_calls(m, NULL);
		opens = mount_sshfs_calls(m, "OPEN");
		stats = mount_sshfs_calls(m, "LSTAT") + mount_sshfs_calls(m, "FSTAT");
		reads = mount_stat(m, "op.read.requests");
		pread_whole(fd, want);
		log_calls(m, round ? "read again, its pages dropped" : "read once");
		if (round) {
			/* Else the drop did not happen, and nothing was tested. */
			g_assert_cmpuint(mount_stat(m, "op.read.requests"), >, reads);
			g_assert_cmpuint(mount_sshfs_calls(m, "OPEN"), ==, opens);
			g_assert_cmpuint(mount_sshfs_calls(m, "LSTAT") +
					 mount_sshfs_calls(m, "FSTAT"), ==, stats);
			g_test_message("%u SFTP requests to read it again",
				       mount_sshfs_calls(m, NULL) - calls);
		}
		g_assert_cmpint(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), ==, 0);
	}
	close(fd);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * An open for reading of a small file stores it whole into the kernel's
 * cache: reading it sends the daemon no READ, and, its access time not
 * marked stale, a stat after the read sends no GETATTR; a file larger
 * than push_files (64 KiB) is read as before.  Each file is mapped and
 * locked at its open (a page the store put there that reclaim took would
 * be read through the daemon), and read through the descriptor.
 */
static void test_stored_at_open(struct mount *m, gconstpointer data)
{
	const char *const opts[] = { "-o", "timeout=600", NULL };
	enum { SMALL = 10 };
	guint64 reads, getattrs;
	void *maps[SMALL];
	size_t lens[SMALL];

	m->want_sshfs = true;
	for (int i = 0; i <= SMALL; i++) {
		g_autofree char *rel = g_strdup_printf("f%d", i);
		g_autofree char *p = src_path(m, rel);

		/* 1 to 60 KiB, and one of 100 KiB. */
		write_random_file(p, i < SMALL ? (size_t)(1 + i * 6) << 10 : 100 << 10,
				  (guint32)i + 1);
	}
	mount_start(m, opts);
	reads = mount_stat(m, "op.read.requests");
	for (int i = 0; i < SMALL; i++) {
		g_autofree char *rel = g_strdup_printf("f%d", i);
		g_autofree char *s = src_path(m, rel);
		g_autofree char *t = mnt_path(m, rel);
		g_autoptr(GBytes) want = read_whole(s, 1 << 20);
		int fd = open(t, O_RDONLY | O_CLOEXEC);
		struct stat st;

		g_assert_cmpint(fd, >=, 0);
		lens[i] = g_bytes_get_size(want);
		maps[i] = mmap(NULL, lens[i], PROT_READ, MAP_SHARED, fd, 0);
		g_assert_true(maps[i] != MAP_FAILED);
		g_assert_cmpint(mlock(maps[i], lens[i]), ==, 0);
		pread_whole(fd, want);
		getattrs = mount_stat(m, "op.getattr.requests");
		g_assert_cmpint(fstat(fd, &st), ==, 0);
		g_assert_cmpuint(mount_stat(m, "op.getattr.requests"), ==, getattrs);
		close(fd);
	}
	log_calls(m, "small files read");
	g_assert_cmpuint(mount_stat(m, "op.read.requests"), ==, reads);
	g_assert_cmpuint(mount_stat(m, "pushed_files"), ==, SMALL);
	{
		g_autofree char *s = src_path(m, "f10");
		g_autofree char *t = mnt_path(m, "f10");
		g_autoptr(GBytes) want = read_whole(s, 1 << 20);
		g_autoptr(GBytes) got = read_whole(t, 1 << 20);

		g_assert_cmpmem(g_bytes_get_data(got, NULL), g_bytes_get_size(got),
				g_bytes_get_data(want, NULL), g_bytes_get_size(want));
		g_assert_cmpuint(mount_stat(m, "op.read.requests"), >, reads);
		g_assert_cmpuint(mount_stat(m, "pushed_files"), ==, SMALL);
	}
	for (int i = 0; i < SMALL; i++)
		munmap(maps[i], lens[i]);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* Reads path whole into a string. */
static char *slurp(const char *path)
{
	char *text = NULL;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	return text;
}

/* data: the mount's options after -o, with a window of 1 s. */
static void test_window(struct mount *m, gconstpointer data)
{
	const char *const opts[] = { "-o", data, NULL };
	g_autofree char *s = NULL, *t = NULL, *first = NULL, *during = NULL;
	gint64 seen_at, changed_at, visible_at;

	m->want_sshfs = true;
	s = src_path(m, "f");
	t = mnt_path(m, "f");
	g_assert_true(g_file_set_contents(s, "old", -1, NULL));
	mount_start(m, opts);
	first = slurp(t);
	seen_at = g_get_monotonic_time();
	g_assert_cmpstr(first, ==, "old");
	/* Changed on the server, size and all. */
	g_assert_true(g_file_set_contents(s, "new, longer", -1, NULL));
	changed_at = g_get_monotonic_time();
	during = slurp(t);
	/* Only meaningful if this read was inside the window. */
	g_assert_cmpint(g_get_monotonic_time() - seen_at, <, G_USEC_PER_SEC / 2);
	g_assert_cmpstr(during, ==, "old");
	for (;;) {
		g_autofree char *now = slurp(t);

		if (!strcmp(now, "new, longer"))
			break;
		g_assert_cmpstr(now, ==, "old");
		/* The window (1 s) from when mmapfs last looked, and slack
		 * for a slow machine. */
		g_assert_cmpint(g_get_monotonic_time() - changed_at, <, 10 * G_USEC_PER_SEC);
		g_usleep(20000);
	}
	visible_at = g_get_monotonic_time();
	g_test_message("visible %.2f s after the change", (visible_at - changed_at) / 1e6);
	/* Not before the window ended: it began when mmapfs first saw the
	 * file, before the change. */
	g_assert_cmpint(visible_at - seen_at, >=, G_USEC_PER_SEC * 9 / 10);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* After the window, an unchanged file costs a stat, not an open. */
static void test_confirmed_by_stat(struct mount *m, gconstpointer data)
{
	const char *const opts[] = { "-o", "timeout=0.3", NULL };
	g_autofree char *s = NULL, *t = NULL;
	unsigned opens;

	(void)data;
	m->want_sshfs = true;
	s = src_path(m, "f");
	t = mnt_path(m, "f");
	write_random_file(s, 100000, 7);
	mount_start(m, opts);
	for (int round = 0; round < 3; round++) {
		g_autoptr(GBytes) want = read_whole(s, 1 << 20);
		g_autoptr(GBytes) got = read_whole(t, 1 << 20);

		g_assert_cmpmem(g_bytes_get_data(got, NULL), g_bytes_get_size(got),
				g_bytes_get_data(want, NULL), g_bytes_get_size(want));
		if (round == 0)
			opens = mount_sshfs_calls(m, "OPEN");
		g_usleep(400000);
	}
	log_calls(m, "three reads, a window apart");
	g_assert_cmpuint(mount_sshfs_calls(m, "OPEN"), ==, opens);
	g_assert_cmpuint(mount_stat(m, "reopens_kept"), ==, 2);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * Descriptors kept for reopens are given back when the daemon runs out:
 * with RLIMIT_NOFILE 128 it keeps at most 64; after a pass over 200
 * files (the last 64 kept), 100 others held open at once need more than
 * the limit leaves beside the kept ones, and every open succeeds, the
 * kept ones shed (said once in the log).  Without the shedding the opens
 * past the limit would fail with EMFILE.
 */
#define SHED_FILES 200
#define SHED_HELD 100

static void test_kept_given_back(struct mount *m, gconstpointer data)
{
	const char *const opts[] = { "-o", "cache=timeout", NULL };
	int held[SHED_HELD];
	guint64 kept, after;
	g_autofree char *log = NULL;

	m->want_sshfs = true;
	m->nofile = 128;
	for (int i = 0; i < SHED_FILES; i++) {
		g_autofree char *rel = g_strdup_printf("f%d", i);
		g_autofree char *p = src_path(m, rel);

		write_random_file(p, 100, (guint32)i + 1);
	}
	mount_start(m, opts);
	for (int i = 0; i < SHED_FILES; i++) {
		g_autofree char *rel = g_strdup_printf("f%d", i);
		g_autofree char *t = mnt_path(m, rel);
		g_autoptr(GBytes) b = read_whole(t, 4096);

		g_assert_cmpuint(g_bytes_get_size(b), ==, 100);
	}
	kept = mount_stat(m, "kept_fds");
	g_assert_cmpuint(kept, >, 0);
	g_assert_cmpuint(kept, <=, 64);
	for (int i = 0; i < SHED_HELD; i++) {
		g_autofree char *rel = g_strdup_printf("f%d", i);
		g_autofree char *t = mnt_path(m, rel);

		held[i] = open(t, O_RDONLY);
		if (held[i] < 0)
			g_error("open %d of %d held: %s", i + 1, SHED_HELD, g_strerror(errno));
	}
	after = mount_stat(m, "kept_fds");
	g_test_message("%" G_GUINT64_FORMAT " descriptors kept after the pass, %"
		       G_GUINT64_FORMAT " with %d files held open", kept, after, SHED_HELD);
	g_assert_cmpuint(after, <, kept);
	for (int i = 0; i < SHED_HELD; i++) {
		char c;

		g_assert_cmpint(pread(held[i], &c, 1, 0), ==, 1);
		close(held[i]);
	}
	g_assert_true(mount_daemon_alive(m));
	g_assert_cmpint(mount_stop(m), ==, 0);
	g_assert_true(g_file_get_contents(m->log, &log, NULL, NULL));
	g_assert_nonnull(strstr(log, "kept for reopens given back"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	/* What the tests count is what their own passes send. */
	harness_private_mounts();
	MOUNT_TEST("/network/warm-pass-asks-nothing", test_warm_pass_asks_nothing,
		   "timeout=600");
	MOUNT_TEST("/network/warm-pass-asks-nothing-ro", test_warm_pass_asks_nothing,
		   "ro,timeout=600");
	MOUNT_TEST("/network/dropped-pages", test_dropped_pages, "timeout=600");
	MOUNT_TEST("/network/dropped-pages-ro", test_dropped_pages, "ro,timeout=600");
	MOUNT_TEST("/network/stored-at-open", test_stored_at_open, NULL);
	MOUNT_TEST("/network/window", test_window, "timeout=1");
	MOUNT_TEST("/network/window-ro", test_window, "ro,timeout=1");
	MOUNT_TEST("/network/confirmed-by-stat", test_confirmed_by_stat, NULL);
	MOUNT_TEST("/network/kept-given-back", test_kept_given_back, NULL);
	return g_test_run();
}
