/*
 * test_fastpath.c - the round trips mmapfs saves the kernel, counted in the
 * daemon's statistics, with the bytes still right:
 *   - a read-only mount (cache=watched, or cache=timeout with a timeout
 *     given) reads files without opens: one OPEN (answered ENOSYS) and one
 *     FLUSH at most, no RELEASE, however many files are opened; seeking
 *     for data and fsync work without an open file; a read-write mount,
 *     and read-only ones with cache=none or cache=timeout's default
 *     timeout, open every time (so the counts can fail);
 *   - listing a directory pushes its small files whole (push_files): reading
 *     them then takes no READ, on read-write and read-only mounts; a larger
 *     file is not pushed, nor one whose data the backing has not in memory;
 *     push_files=0 pushes nothing; pushing leaves the backing file's access
 *     time alone; a file changed outside after its push reads as changed;
 *     after a listing of files none of which is in memory the pusher
 *     stops checking for a while, until a small file's read misses;
 *   - readdirplus=always: a stat of each entry after a names-only listing
 *     needs no LOOKUP; readdirplus=off: one LOOKUP each;
 *   - a walk's listing is read ahead (lookups_ahead counts the entries sent
 *     from lookups made ahead; none with readdirplus=off), with every
 *     entry's attributes right; a change made through the mount, or in
 *     SOURCE, while a listing is read ahead is what the listing's later
 *     entries show;
 *   - readahead: the mount's window is 1 MiB (its bdi knob says so), and an
 *     8 MiB file read once comes in at most 16 READs; readahead=0 leaves
 *     the kernel's 128 KiB, and 64 READs or more.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "harness.h"
#include "mmapfs/pagecache.h"

#define N_FILES 30
#define SMALL_SIZE 10000
#define BIG_SIZE 100000     /* over push_files' default 64K */

static void assert_same_file(const struct mount *m, const char *rel)
{
	g_autofree char *s = src_path(m, rel), *t = mnt_path(m, rel);
	g_autoptr(GBytes) a = read_whole(s, 65536);
	g_autoptr(GBytes) b = read_whole(t, 65536);

	g_assert_true(g_bytes_equal(a, b));
}

/* Names in dir, listed with readdir only (no stat). */
static unsigned list_names(const char *dir)
{
	DIR *d = opendir(dir);
	unsigned n = 0;

	g_assert_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void make_small_files(const struct mount *m)
{
	for (int i = 0; i < N_FILES; i++) {
		g_autofree char *rel = g_strdup_printf("s%02d", i);
		g_autofree char *p = src_path(m, rel);

		write_random_file(p, SMALL_SIZE, (guint32)i + 1);
		/* Read once here: the backing has the data in memory. */
		g_bytes_unref(read_whole(p, 65536));
	}
}

struct open_case {
	const char *args;
	gboolean no_open;   /* opens expected to stop at the first */
};

static void test_opens(struct mount *m, gconstpointer data)
{
	const struct open_case *c = data;
	const char *args[] = { "-o", c->args, NULL };
	const off_t hole = 1 << 20;
	g_autofree char *sparse_src = NULL, *sparse_mnt = NULL;
	guint64 opens, releases;
	off_t want;
	int fd;

	make_small_files(m);
	sparse_src = src_path(m, "sparse");
	fd = open(sparse_src, O_WRONLY | O_CREAT, 0644);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(pwrite(fd, "data", 4, hole), ==, 4);
	close(fd);
	fd = open(sparse_src, O_RDONLY);
	want = lseek(fd, 0, SEEK_DATA);
	close(fd);
	mount_start(m, args);

	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < N_FILES; i++) {
			g_autofree char *rel = g_strdup_printf("s%02d", i);

			assert_same_file(m, rel);
		}
	sparse_mnt = mnt_path(m, "sparse");
	fd = open(sparse_mnt, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(lseek(fd, 0, SEEK_DATA), ==, want);
	g_assert_cmpint(fsync(fd), ==, 0);
	close(fd);
	assert_same_file(m, "sparse");

	opens = mount_stat_wait(m, "op.open.requests",
				c->no_open ? 0 : 2 * N_FILES + 2, 1000);
	releases = mount_stat(m, "op.release.requests");
	g_test_message("%s: %" G_GUINT64_FORMAT " OPEN, %" G_GUINT64_FORMAT
		       " RELEASE requests for %d opens", c->args, opens,
		       releases, 2 * N_FILES + 2);
	if (c->no_open) {
		g_assert_cmpuint(opens, <=, 1);
		g_assert_cmpuint(releases, ==, 0);
		g_assert_cmpuint(mount_stat(m, "op.flush.requests"), <=, 1);
	} else {
		g_assert_cmpuint(opens, ==, 2 * N_FILES + 2);
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

struct push_case {
	const char *args;
	gboolean pushes;
};

static void test_push_files(struct mount *m, gconstpointer data)
{
	const struct push_case *c = data;
	const char *args[] = { "-o", c->args, NULL };
	g_autofree char *big = NULL, *s0 = NULL, *t0 = NULL;
	guint64 before, pushed;

	make_small_files(m);
	big = src_path(m, "big");
	write_random_file(big, BIG_SIZE, 99);
	s0 = src_path(m, "s00");
	t0 = mnt_path(m, "s00");
	/* An access time before the mtime: a read would move it. */
	{
		struct timespec ts[2] = { { 12345, 0 }, { 0, UTIME_OMIT } };

		g_assert_cmpint(utimensat(AT_FDCWD, s0, ts, 0), ==, 0);
	}
	mount_start(m, args);

	g_assert_cmpuint(list_names(m->mnt), ==, N_FILES + 3);
	/* Given time to push, pushing nothing takes 300 ms to tell. */
	pushed = mount_stat_wait(m, "pushed_files", c->pushes ? N_FILES : 1,
				 c->pushes ? 10000 : 300);
	g_test_message("%s: %" G_GUINT64_FORMAT " files pushed", c->args, pushed);
	g_assert_cmpuint(pushed, ==, c->pushes ? N_FILES : 0);
	/* Pushing is not reading: the backing file's atime stays. */
	{
		struct stat st;

		g_assert_cmpint(stat(s0, &st), ==, 0);
		g_assert_cmpint(st.st_atim.tv_sec, ==, 12345);
	}

	before = mount_stat(m, "bytes_read");
	for (int i = 0; i < N_FILES; i++) {
		g_autofree char *rel = g_strdup_printf("s%02d", i);

		assert_same_file(m, rel);
	}
	g_assert_cmpuint(mount_stat(m, "bytes_read") - before, ==,
			 c->pushes ? 0 : N_FILES * SMALL_SIZE);
	/* Too large to be pushed: read from the daemon. */
	before = mount_stat(m, "bytes_read");
	assert_same_file(m, "big");
	g_assert_cmpuint(mount_stat(m, "bytes_read") - before, ==, BIG_SIZE);
	g_assert_cmpuint(mount_stat(m, "pushed_files"), ==, pushed);

	/* Changed outside after its push: the watcher makes the kernel drop
	 * what was pushed. */
	write_random_file(s0, SMALL_SIZE, 1000);
	{
		g_autoptr(GBytes) want = read_whole(s0, 65536);
		gint64 start = g_get_monotonic_time();
		gboolean seen = FALSE;

		while (!seen && g_get_monotonic_time() - start < G_USEC_PER_SEC) {
			g_autoptr(GBytes) got = read_whole(t0, 65536);

			seen = g_bytes_equal(want, got);
			if (!seen)
				g_usleep(200);
		}
		g_test_message("outside change seen after %.1f ms",
			       (double)(g_get_monotonic_time() - start) / 1000);
		g_assert_true(seen);
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * Writes a small file at path whose pages the backing then drops (written
 * back first): false if they stay (a filesystem that keeps them).
 */
static bool write_cold_file(const char *path, guint32 seed)
{
	int fd, cached;

	write_random_file(path, SMALL_SIZE, seed);
	fd = open(path, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(fdatasync(fd), ==, 0);
	g_assert_cmpint(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), ==, 0);
	cached = pagecache_all_cached(fd, SMALL_SIZE);
	close(fd);
	g_assert_cmpint(cached, >=, 0);
	return !cached;
}

/*
 * Data the backing filesystem would have to read is not pushed: of two
 * files listed, the one whose pages were dropped is not pushed until it
 * has been read outside and is listed again.
 */
static void test_push_only_cached(struct mount *m, gconstpointer data)
{
	/* (Not cache=watched, where the kernel keeps the listing: the second
	 * listing must reach the daemon.) */
	const char *args[] = { "-o", "cache=timeout", NULL };
	g_autofree char *p = NULL, *warm = NULL;
	guint64 before;

	p = src_path(m, "cold");
	warm = src_path(m, "warm");
	write_random_file(warm, SMALL_SIZE, 8);
	g_bytes_unref(read_whole(warm, 65536));
	if (!write_cold_file(p, 7)) {
		g_test_skip("the backing filesystem here keeps the file's pages "
			    "(POSIX_FADV_DONTNEED left them): cannot make it cold");
		return;
	}
	mount_start(m, args);
	g_assert_cmpuint(list_names(m->mnt), ==, 4);
	g_assert_cmpuint(mount_stat_wait(m, "pushed_files", 1, 10000), ==, 1);
	g_usleep(300000);
	g_assert_cmpuint(mount_stat(m, "pushed_files"), ==, 1);
	/* Read outside, then listed again: now it is pushed. */
	g_bytes_unref(read_whole(p, 65536));
	g_assert_cmpuint(list_names(m->mnt), ==, 4);
	g_assert_cmpuint(mount_stat_wait(m, "pushed_files", 2, 10000), ==, 2);
	before = mount_stat(m, "bytes_read");
	assert_same_file(m, "cold");
	assert_same_file(m, "warm");
	g_assert_cmpuint(mount_stat(m, "bytes_read"), ==, before);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * A listing of files none of which is in memory: the pusher stops opening
 * them to check (after 128 in a row) for a while, and says how many it
 * skipped; a small file read from its start ends the pause, and the next
 * listing's files are checked again (one cold file's check, then the
 * files read in between are pushed).
 */
#define COLD_FILES 600

static void test_push_backs_off(struct mount *m, gconstpointer data)
{
	const char *args[] = { "-o", "cache=timeout", NULL };
	g_autofree char *d = src_path(m, "d"), *e = src_path(m, "e");
	guint64 unchecked, pushed;

	g_assert_cmpint(g_mkdir(d, 0755), ==, 0);
	g_assert_cmpint(g_mkdir(e, 0755), ==, 0);
	for (int i = 0; i < COLD_FILES; i++) {
		g_autofree char *rel = g_strdup_printf("d/c%03d", i);
		g_autofree char *p = src_path(m, rel);

		if (!write_cold_file(p, (guint32)i + 100)) {
			g_test_skip("the backing filesystem here keeps the files' "
				    "pages (POSIX_FADV_DONTNEED left them)");
			return;
		}
	}
	for (int i = 0; i < 4; i++) {
		g_autofree char *rel = g_strdup_printf("e/w%d", i);
		g_autofree char *p = src_path(m, rel);

		write_random_file(p, SMALL_SIZE, (guint32)i + 1000);
		g_bytes_unref(read_whole(p, 65536));
	}
	mount_start(m, args);
	{
		g_autofree char *t = mnt_path(m, "d");

		g_assert_cmpuint(list_names(t), ==, COLD_FILES + 2);
	}
	unchecked = mount_stat_wait(m, "push_files_unchecked", 1, 10000);
	g_test_message("%" G_GUINT64_FORMAT " of %d cold files listed not checked",
		       unchecked, COLD_FILES);
	/* 128 checked in vain, a few more already on their way. */
	g_assert_cmpuint(unchecked, >=, COLD_FILES - 200);
	g_assert_cmpuint(mount_stat(m, "pushed_files"), ==, 0);
	/* Within the pause, warm files listed are not pushed either... */
	{
		g_autofree char *t = mnt_path(m, "e");

		g_assert_cmpuint(list_names(t), ==, 6);
	}
	g_usleep(200000);
	g_assert_cmpuint(mount_stat(m, "pushed_files"), ==, 0);
	/* ... until a small file's read from its start reaches the daemon. */
	{
		g_autofree char *t = mnt_path(m, "d/c000");

		g_bytes_unref(read_whole(t, 65536));
	}
	{
		g_autofree char *t = mnt_path(m, "e");

		g_assert_cmpuint(list_names(t), ==, 6);
	}
	pushed = mount_stat_wait(m, "pushed_files", 4, 10000);
	g_assert_cmpuint(pushed, ==, 4);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

struct plus_case {
	const char *args;
	gboolean lookups;   /* one LOOKUP per entry expected */
};

static void test_readdirplus(struct mount *m, gconstpointer data)
{
	const struct plus_case *c = data;
	const char *args[] = { "-o", c->args, NULL };
	const unsigned n = 300;
	guint64 before, lookups;

	for (unsigned i = 0; i < n; i++) {
		g_autofree char *rel = g_strdup_printf("e%03u", i);
		g_autofree char *p = src_path(m, rel);

		g_assert_true(g_file_set_contents(p, rel, -1, NULL));
	}
	mount_start(m, args);
	g_assert_cmpuint(list_names(m->mnt), ==, n + 2);
	before = mount_stat(m, "op.lookup.requests");
	for (unsigned i = 0; i < n; i++) {
		g_autofree char *rel = g_strdup_printf("e%03u", i);
		g_autofree char *p = mnt_path(m, rel);
		struct stat st;

		g_assert_cmpint(lstat(p, &st), ==, 0);
		g_assert_cmpint(st.st_size, ==, 4);
	}
	lookups = mount_stat_wait(m, "op.lookup.requests",
				  c->lookups ? before + n : 0, 1000) - before;
	g_test_message("%s: %" G_GUINT64_FORMAT " LOOKUP requests for %u stats "
		       "after a listing", c->args, lookups, n);
	if (c->lookups)
		g_assert_cmpuint(lookups, >=, n);
	else
		g_assert_cmpuint(lookups, ==, 0);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

#define N_LISTED 2000

/* Files of N_LISTED sizes (0 to N_LISTED - 1 bytes) in SOURCE/d. */
static void make_listed_files(const struct mount *m)
{
	g_autofree char *d = src_path(m, "d");

	g_assert_cmpint(mkdir(d, 0755), ==, 0);
	for (unsigned i = 0; i < N_LISTED; i++) {
		g_autofree char *p = g_strdup_printf("%s/f%04u", d, i);
		int fd = open(p, O_WRONLY | O_CREAT, 0644);

		g_assert_cmpint(fd, >=, 0);
		g_assert_cmpint(ftruncate(fd, i), ==, 0);
		close(fd);
	}
}

struct ahead_case {
	const char *args;
	gboolean ahead;     /* lookups made ahead expected */
};

/* A walk: each entry listed is stat-ed, as find does. */
static void test_listing_ahead(struct mount *m, gconstpointer data)
{
	const struct ahead_case *c = data;
	const char *args[] = { "-o", c->args, NULL };
	g_autofree char *d = NULL;
	struct dirent *de;
	unsigned seen = 0;
	guint64 ahead;
	DIR *dp;

	make_listed_files(m);
	mount_start(m, args);
	d = mnt_path(m, "d");
	dp = opendir(d);
	g_assert_nonnull(dp);
	while ((de = readdir(dp))) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		g_assert_cmpint(fstatat(dirfd(dp), de->d_name, &st,
					AT_SYMLINK_NOFOLLOW), ==, 0);
		g_assert_cmpint(st.st_size, ==, atoi(de->d_name + 1));
		seen++;
	}
	closedir(dp);
	g_assert_cmpuint(seen, ==, N_LISTED);
	ahead = mount_stat(m, "lookups_ahead");
	g_test_message("%s: %" G_GUINT64_FORMAT " of %u entries sent from "
		       "lookups made ahead, %" G_GUINT64_FORMAT " READDIRPLUS",
		       c->args, ahead, N_LISTED,
		       mount_stat(m, "op.readdirplus.requests"));
	if (c->ahead)
		g_assert_cmpuint(ahead, >=, N_LISTED / 2);
	else
		g_assert_cmpuint(ahead, ==, 0);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* One getdents64 call of 4 KiB: the kernel asks for as much. */
static long list_some(int fd, GHashTable *listed)
{
	char buf[4096];
	long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));

	g_assert_cmpint(n, >=, 0);
	for (long at = 0; at < n;) {
		struct dirent64 *de = (struct dirent64 *)(buf + at);

		g_hash_table_add(listed, g_strdup(de->d_name));
		at += de->d_reclen;
	}
	return n;
}

/* data: TRUE for changes made in SOURCE (the watcher's), FALSE for
 * changes made through the mount. */
static void test_listing_ahead_stale(struct mount *m, gconstpointer data)
{
	const gboolean outside = GPOINTER_TO_INT(data);
	g_autoptr(GHashTable) listed = g_hash_table_new_full(g_str_hash, g_str_equal,
							     g_free, NULL);
	g_autofree char *d = NULL;
	unsigned changed = 0, wrong = 0;
	int fd;

	make_listed_files(m);
	mount_start(m, NULL);
	d = mnt_path(m, "d");
	fd = open(d, O_RDONLY | O_DIRECTORY);
	g_assert_cmpint(fd, >=, 0);
	/* Two requests: after the second reply the daemon reads ahead. */
	g_assert_cmpint(list_some(fd, listed), >, 0);
	g_assert_cmpint(list_some(fd, listed), >, 0);
	/* Time for the read-ahead to be made before the changes (without
	 * which the changes could not be missed). */
	g_usleep(50 * 1000);
	for (unsigned i = 0; i < N_LISTED; i++) {
		g_autofree char *name = g_strdup_printf("f%04u", i);
		g_autofree char *p = g_strdup_printf("%s/%s", d, name);

		if (g_hash_table_contains(listed, name))
			continue;
		if (outside) {
			g_autofree char *rel = g_strdup_printf("d/%s", name);
			g_autofree char *b = src_path(m, rel);

			g_assert_cmpint(chmod(b, 0600), ==, 0);
		} else {
			g_assert_cmpint(chmod(p, 0600), ==, 0);
		}
		changed++;
	}
	/* Time for the watcher to hear of the changes made outside. */
	if (outside)
		g_usleep(50 * 1000);
	while (list_some(fd, listed) > 0)
		;
	close(fd);
	g_assert_cmpuint(g_hash_table_size(listed), ==, N_LISTED + 2);
	g_assert_cmpuint(changed, >, 0);
	/* Every file as it is now: the listing's later entries must not
	 * carry the modes seen ahead of the chmods. */
	for (unsigned i = 0; i < N_LISTED; i++) {
		g_autofree char *s = g_strdup_printf("%s/f%04u", d, i);
		g_autofree char *b = src_path(m, s + strlen(m->mnt) + 1);
		struct stat sm, sb;

		g_assert_cmpint(lstat(s, &sm), ==, 0);
		g_assert_cmpint(lstat(b, &sb), ==, 0);
		if (sm.st_mode != sb.st_mode)
			wrong++;
	}
	g_test_message("%u files changed %s while the listing was read ahead, "
		       "%u show a stale mode; %" G_GUINT64_FORMAT " lookups "
		       "made ahead sent", changed,
		       outside ? "in SOURCE" : "through the mount", wrong,
		       mount_stat(m, "lookups_ahead"));
	g_assert_cmpuint(wrong, ==, 0);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

struct ra_case {
	const char *args;
	unsigned kb;            /* the window expected */
};

/* The mount's readahead window in KiB, once it is want (or after 2 s). */
static unsigned mount_readahead_kb(const struct mount *m, unsigned want)
{
	gint64 deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
	g_autofree char *knob = NULL;
	unsigned kb = 0;
	struct stat st;

	g_assert_cmpint(stat(m->mnt, &st), ==, 0);
	knob = g_strdup_printf("/sys/class/bdi/%u:%u/read_ahead_kb",
			       major(st.st_dev), minor(st.st_dev));
	do {
		g_autofree char *text = NULL;

		g_assert_true(g_file_get_contents(knob, &text, NULL, NULL));
		kb = (unsigned)g_ascii_strtoull(text, NULL, 10);
		if (kb != want)
			g_usleep(1000);
	} while (kb != want && g_get_monotonic_time() < deadline);
	return kb;
}

static void test_readahead(struct mount *m, gconstpointer data)
{
	const struct ra_case *c = data;
	const char *args[] = { "-o", c->args, NULL };
	const size_t size = 8 << 20;
	g_autofree char *p = NULL;
	guint64 reads;

	p = src_path(m, "f");
	write_random_file(p, size, 3);
	mount_start(m, args);
	g_assert_cmpuint(mount_readahead_kb(m, c->kb), ==, c->kb);
	assert_same_file(m, "f");
	reads = mount_stat_wait(m, "op.read.requests", c->kb >= 1024 ? 0 : 64,
				1000);
	g_test_message("%s: window %u KiB, %" G_GUINT64_FORMAT " READs for 8 MiB",
		       c->args, c->kb, reads);
	if (c->kb >= 1024)
		g_assert_cmpuint(reads, <=, 16);
	else
		g_assert_cmpuint(reads, >=, 64);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

int main(int argc, char **argv)
{
	static const struct open_case opens[] = {
		{ "ro,cache=watched", TRUE },
		{ "ro,cache=timeout,timeout=60", TRUE },
		{ "cache=watched", FALSE },
		{ "ro,cache=timeout", FALSE },
		{ "ro,cache=none", FALSE },
	};
	static const struct push_case pushes[] = {
		{ "cache=watched", TRUE },
		{ "ro,cache=watched", TRUE },
		{ "cache=watched,push_files=0", FALSE },
	};
	static const struct ra_case ra[] = {
		/* The daemon's READs: files the kernel hands over take none. */
		{ "readahead=1M,passthrough=off", 1024 },
		{ "readahead=0,passthrough=off", 128 },
	};
	static const struct ahead_case aheads[] = {
		{ "cache=watched", TRUE },
		{ "readdirplus=off", FALSE },
	};
	static const struct plus_case plus[] = {
		{ "readdirplus=always", FALSE },
		{ "readdirplus=off", TRUE },
	};

	g_test_init(&argc, &argv, NULL);
	harness_init();
	for (size_t i = 0; i < G_N_ELEMENTS(opens); i++) {
		g_autofree char *path = g_strdup_printf("/fastpath/opens/%s", opens[i].args);

		MOUNT_TEST(path, test_opens, &opens[i]);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(pushes); i++) {
		g_autofree char *path = g_strdup_printf("/fastpath/push-files/%s", pushes[i].args);

		MOUNT_TEST(path, test_push_files, &pushes[i]);
	}
	MOUNT_TEST("/fastpath/push-only-cached", test_push_only_cached, NULL);
	MOUNT_TEST("/fastpath/push-backs-off", test_push_backs_off, NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(plus); i++) {
		g_autofree char *path = g_strdup_printf("/fastpath/%s", plus[i].args);

		MOUNT_TEST(path, test_readdirplus, &plus[i]);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(aheads); i++) {
		g_autofree char *path = g_strdup_printf("/fastpath/listing-ahead/%s",
							aheads[i].args);

		MOUNT_TEST(path, test_listing_ahead, &aheads[i]);
	}
	MOUNT_TEST("/fastpath/listing-ahead-stale", test_listing_ahead_stale,
		   GINT_TO_POINTER(FALSE));
	MOUNT_TEST("/fastpath/listing-ahead-stale-outside", test_listing_ahead_stale,
		   GINT_TO_POINTER(TRUE));
	for (size_t i = 0; i < G_N_ELEMENTS(ra); i++) {
		g_autofree char *path = g_strdup_printf("/fastpath/%s", ra[i].args);

		MOUNT_TEST(path, test_readahead, &ra[i]);
	}
	return g_test_run();
}
