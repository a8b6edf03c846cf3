/*
 * test_rw.c - writing through the mount while reads come from mappings:
 * the next read returns the new bytes at once; files grow and shrink
 * without SIGBUS; unlinking the last name frees the space on the backing
 * filesystem; shared mmap by a client agrees with read, write and the
 * backing file; a read-only mount answers EROFS to every change.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "harness.h"

static void test_write_then_read(struct mount *m, gconstpointer data)
{
	g_autofree char *s = NULL, *t = NULL;
	char buf[16];
	int r, w;

	s = src_path(m, "f");
	write_random_file(s, 1 << 20, 1);
	mount_start(m, NULL);
	t = mnt_path(m, "f");
	r = open(t, O_RDONLY);
	w = open(t, O_WRONLY);
	g_assert_cmpint(r, >=, 0);
	g_assert_cmpint(w, >=, 0);
	/* Map it (a read), then overwrite bytes in the middle and at the end. */
	g_assert_cmpint(pread(r, buf, sizeof(buf), 500000), ==, sizeof(buf));
	for (int i = 0; i < 50; i++) {
		char want[16];
		off_t off = (off_t)i * 20011;

		g_snprintf(want, sizeof(want), "round %08d", i);
		g_assert_cmpint(pwrite(w, want, 14, off), ==, 14);
		g_assert_cmpint(pread(r, buf, 14, off), ==, 14);
		g_assert_cmpmem(buf, 14, want, 14);
	}
	/* Grow through the mount: read to the new end at once. */
	g_assert_cmpint(pwrite(w, "beyond", 6, (1 << 20) + 4096), ==, 6);
	g_assert_cmpint(pread(r, buf, sizeof(buf), (1 << 20) + 4096), ==, 6);
	g_assert_cmpmem(buf, 6, "beyond", 6);
	g_assert_cmpint(pread(r, buf, 4, (1 << 20) + 10), ==, 4);
	g_assert_cmpmem(buf, 4, "\0\0\0\0", 4);
	/* Shrink through the mount, then read past the new end. */
	g_assert_cmpint(ftruncate(w, 1000), ==, 0);
	g_assert_cmpint(pread(r, buf, sizeof(buf), 990), ==, 10);
	g_assert_cmpint(pread(r, buf, sizeof(buf), 500000), ==, 0);
	close(r);
	close(w);
	g_assert_true(mount_daemon_alive(m));
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* Readers loop while the file is truncated and refilled through the mount. */
struct shrink {
	struct mount *m;
	volatile gint stop;
	gint reads;
};

static gpointer shrink_reader(gpointer data)
{
	struct shrink *sh = data;
	g_autofree char *t = mnt_path(sh->m, "f");
	g_autofree char *buf = g_malloc(1 << 17);

	while (!g_atomic_int_get(&sh->stop)) {
		int fd = open(t, O_RDONLY);
		ssize_t n;

		g_assert_cmpint(fd, >=, 0);
		while ((n = read(fd, buf, 1 << 17)) > 0)
			g_atomic_int_inc(&sh->reads);
		g_assert_cmpint(n, ==, 0);
		close(fd);
	}
	return NULL;
}

static void test_shrink_while_reading(struct mount *m, gconstpointer data)
{
	struct shrink sh = { .m = m };
	g_autofree char *s = NULL, *t = NULL;
	g_autofree char *bytes = g_malloc(1 << 20);
	GThread *readers[2];
	int w;

	s = src_path(m, "f");
	write_random_file(s, 1 << 20, 2);
	mount_start(m, NULL);
	t = mnt_path(m, "f");
	memset(bytes, 'x', 1 << 20);
	w = open(t, O_WRONLY);
	g_assert_cmpint(w, >=, 0);
	for (int i = 0; i < 2; i++)
		readers[i] = g_thread_new("reader", shrink_reader, &sh);
	for (int i = 0; i < 300; i++) {
		size_t len = (size_t)(i * 7919) % (1 << 20);

		g_assert_cmpint(ftruncate(w, len / 3), ==, 0);
		g_assert_cmpint(pwrite(w, bytes, len, 0), ==, (ssize_t)len);
	}
	g_atomic_int_set(&sh.stop, 1);
	for (int i = 0; i < 2; i++)
		g_thread_join(readers[i]);
	close(w);
	g_test_message("%d reads", sh.reads);
	g_assert_true(mount_daemon_alive(m));
	g_assert_cmpint(mount_stop(m), ==, 0);
}

static guint64 free_bytes(const char *path)
{
	struct statvfs sv;

	g_assert_cmpint(statvfs(path, &sv), ==, 0);
	return (guint64)sv.f_bavail * sv.f_frsize;
}

/* Waits up to 5 s for the backing filesystem to have at least want free. */
static bool wait_free(const char *path, guint64 want)
{
	for (int i = 0; i < 500; i++) {
		if (free_bytes(path) >= want)
			return true;
		g_usleep(10000);
	}
	return false;
}

static void test_unlink_frees_space(struct mount *m, gconstpointer data)
{
	const size_t size = 40 << 20;
	g_autofree char *t = NULL;
	g_autoptr(GBytes) b = NULL;
	guint64 empty;
	int fd;

	mount_src_tmpfs(m, "64m");
	empty = free_bytes(m->src);
	mount_start(m, NULL);
	t = mnt_path(m, "big");

	/* Written and read (so mapped) through the mount, then unlinked. */
	write_random_file(t, size, 3);
	b = read_whole(t, 1 << 20);
	g_assert_cmpuint(g_bytes_get_size(b), ==, size);
	g_assert_cmpuint(free_bytes(m->src), <=, empty - size);
	g_assert_cmpint(unlink(t), ==, 0);
	g_assert_true(wait_free(m->src, empty - (1 << 20)));

	/* Held open across the unlink: freed once closed. */
	write_random_file(t, size, 4);
	fd = open(t, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(pread(fd, (char[16]){ 0 }, 16, size - 16), ==, 16);
	g_assert_cmpint(unlink(t), ==, 0);
	g_usleep(200000);
	g_assert_cmpuint(free_bytes(m->src), <=, empty - size);
	g_assert_cmpint(pread(fd, (char[16]){ 0 }, 16, 1000), ==, 16);
	close(fd);
	g_assert_true(wait_free(m->src, empty - (1 << 20)));

	/* Replaced by a rename over it. */
	write_random_file(t, size, 5);
	g_bytes_unref(read_whole(t, 1 << 20));
	{
		g_autofree char *small = mnt_path(m, "small");

		write_random_file(small, 10, 6);
		g_assert_cmpint(rename(small, t), ==, 0);
	}
	g_assert_true(wait_free(m->src, empty - (1 << 20)));
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * A file read (so mapped) through the mount, then deleted in SOURCE: its
 * mapping goes and its space comes back by itself (the watcher's event),
 * and it no longer counts in the budget.  Held open through the mount, it
 * stays readable until closed, as natively.
 */
static void test_deleted_outside_frees_space(struct mount *m, gconstpointer data)
{
	const size_t size = 40 << 20;
	g_autofree char *s = NULL, *t = NULL;
	guint64 empty;
	int fd;

	if (backing_is_fuse()) {
		g_test_skip("bindfs backing: no watcher sees a deletion in it, and the "
			    "kernel may keep the file's node without asking the daemon");
		return;
	}
	mount_src_tmpfs(m, "64m");
	empty = free_bytes(m->src);
	s = src_path(m, "big");
	write_random_file(s, size, 7);
	/* Its mapping is what holds the space: read by the daemon. */
	mount_start(m, (const char *const[]){ "-o", "passthrough=off", NULL });
	t = mnt_path(m, "big");
	g_bytes_unref(read_whole(t, 1 << 20));
	g_assert_cmpuint(mount_stat(m, "maps_live"), ==, 1);
	g_assert_cmpint(unlink(s), ==, 0);
	g_assert_true(wait_free(m->src, empty - (1 << 20)));
	g_assert_cmpuint(mount_stat(m, "maps_live"), ==, 0);

	/* Open through the mount while deleted outside: readable, then freed. */
	write_random_file(s, size, 8);
	fd = open(t, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(pread(fd, (char[16]){ 0 }, 16, size - 16), ==, 16);
	g_assert_cmpint(unlink(s), ==, 0);
	g_usleep(200000);
	g_assert_cmpuint(free_bytes(m->src), <=, empty - size);
	g_assert_cmpint(pread(fd, (char[16]){ 0 }, 16, 1000), ==, 16);
	g_assert_cmpint(pread(fd, (char[16]){ 0 }, 16, size - 16), ==, 16);
	close(fd);
	g_assert_true(wait_free(m->src, empty - (1 << 20)));
	g_assert_cmpuint(mount_stat(m, "maps_live"), ==, 0);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

static void test_client_mmap(struct mount *m, gconstpointer data)
{
	g_autofree char *s = NULL, *t = NULL;
	char buf[16];
	char *p;
	int fd;

	s = src_path(m, "f");
	write_random_file(s, 3 * 4096, 7);
	mount_start(m, NULL);
	t = mnt_path(m, "f");
	fd = open(t, O_RDWR);
	g_assert_cmpint(fd, >=, 0);
	p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	g_assert_true(p != MAP_FAILED);
	/* mmap write -> read(2) through the mount and the backing file. */
	memcpy(p + 5000, "via mmap", 8);
	g_assert_cmpint(msync(p, 3 * 4096, MS_SYNC), ==, 0);
	g_assert_cmpint(pread(fd, buf, 8, 5000), ==, 8);
	g_assert_cmpmem(buf, 8, "via mmap", 8);
	{
		int b = open(s, O_RDONLY);

		g_assert_cmpint(pread(b, buf, 8, 5000), ==, 8);
		g_assert_cmpmem(buf, 8, "via mmap", 8);
		close(b);
	}
	/* write(2) through the mount -> the client's mapping. */
	g_assert_cmpint(pwrite(fd, "via write", 9, 9000), ==, 9);
	g_assert_cmpmem(p + 9000, 9, "via write", 9);
	munmap(p, 3 * 4096);
	close(fd);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

static void assert_same_attrs(const struct mount *m, const char *rel)
{
	g_autofree char *s = src_path(m, rel), *t = mnt_path(m, rel);
	struct stat a, b;

	g_assert_cmpint(lstat(s, &a), ==, 0);
	g_assert_cmpint(lstat(t, &b), ==, 0);
	g_assert_cmpuint(a.st_ino, ==, b.st_ino);
	g_assert_cmpuint(a.st_nlink, ==, b.st_nlink);
	if (mount_writeback_forced()) {
		/* The kernel keeps a file's ctime, from its own clock at the
		 * change: within the 20 ms between the test's steps. */
		gint64 ns = (gint64)(a.st_ctim.tv_sec - b.st_ctim.tv_sec) * 1000000000 +
			    (a.st_ctim.tv_nsec - b.st_ctim.tv_nsec);

		g_assert_cmpint(ABS(ns), <, 10 * 1000000);
		return;
	}
	g_assert_cmpint(a.st_ctim.tv_sec, ==, b.st_ctim.tv_sec);
	g_assert_cmpint(a.st_ctim.tv_nsec, ==, b.st_ctim.tv_nsec);
}

/* After link and rename, every name shows the new nlink and ctime at once
 * (the default 1 s attribute timeout must not hide them). */
static void test_link_rename_attrs(struct mount *m, gconstpointer data)
{
	static const char *const names[] = { "a", "d/b", "c" };
	g_autofree char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

	if (backing_is_fuse()) {
		g_test_skip("bindfs backing: each hard link is a node of its own, "
			    "and the file goes stale with the name it was first "
			    "reached by (see README, backing filesystems)");
		return;
	}
	a = src_path(m, "a");
	write_random_file(a, 100, 9);
	d = src_path(m, "d");
	g_assert_cmpint(g_mkdir(d, 0755), ==, 0);
	mount_start(m, NULL);
	g_free(a);
	a = mnt_path(m, "a");
	b = mnt_path(m, "d/b");
	c = mnt_path(m, "c");
	e = mnt_path(m, "e");
	g_assert_cmpint(access(a, R_OK), ==, 0);    /* attributes now cached */
	g_usleep(20000);
	g_assert_cmpint(link(a, b), ==, 0);
	assert_same_attrs(m, "a");
	assert_same_attrs(m, "d/b");
	g_usleep(20000);
	g_assert_cmpint(link(b, c), ==, 0);
	for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
		assert_same_attrs(m, names[i]);
	g_usleep(20000);
	g_assert_cmpint(rename(c, e), ==, 0);
	assert_same_attrs(m, "a");
	assert_same_attrs(m, "e");
	g_usleep(20000);
	g_assert_cmpint(unlink(a), ==, 0);
	assert_same_attrs(m, "d/b");
	assert_same_attrs(m, "e");
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * Random small reads make the daemon push windows into the kernel's cache;
 * what the kernel then answers by itself must be the file's bytes, also
 * after writes through the mount and outside changes between opens.
 */
static void test_random_reads_pushed(struct mount *m, gconstpointer data)
{
	const size_t size = 8 << 20;
	g_autofree char *s = NULL, *t = NULL, *log = NULL;
	g_autofree char *want = NULL, *got = NULL;
	GRand *rand;
	int r, w, b;

	if (mount_writeback_forced()) {
		g_test_skip("-o writeback pushes nothing into the kernel's cache");
		return;
	}
	want = g_malloc(4096);
	got = g_malloc(4096);
	rand = g_rand_new_with_seed(11);
	s = src_path(m, "f");
	write_random_file(s, size, 10);
	/* Read by the daemon, which pushes (not handed over to the kernel). */
	mount_start(m, (const char *const[]){ "-o", "passthrough=off", NULL });
	t = mnt_path(m, "f");
	r = open(t, O_RDONLY);
	b = open(s, O_RDONLY);
	g_assert_cmpint(r, >=, 0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 3000; i++) {
			off_t off = (off_t)g_rand_int_range(rand, 0, size / 4096) * 4096 +
				    g_rand_int_range(rand, 0, 100);

			g_assert_cmpint(pread(b, want, 4096, off), ==, pread(r, got, 4096, off));
			g_assert_cmpmem(got, 4096, want, 4096);
		}
		if (round == 0) {
			/* Through the mount: the kernel's cache takes the writes. */
			w = open(t, O_WRONLY);
			for (int i = 0; i < 200; i++) {
				off_t off = (off_t)g_rand_int_range(rand, 0, size - 16);

				g_assert_cmpint(pwrite(w, "written through!", 16, off), ==, 16);
			}
			close(w);
		} else if (round == 1) {
			/* Outside, with a new mtime: the next open drops the cache. */
			struct timespec ts[2] = { { 0, UTIME_OMIT }, { 2000000, 0 } };

			w = open(s, O_WRONLY);
			for (int i = 0; i < 200; i++)
				g_assert_cmpint(pwrite(w, "written outside!", 16,
						       (off_t)g_rand_int_range(rand, 0, size - 16)), ==, 16);
			close(w);
			g_assert_cmpint(utimensat(AT_FDCWD, s, ts, 0), ==, 0);
			close(r);
			r = open(t, O_RDONLY);
		}
	}
	close(r);
	close(b);
	g_rand_free(rand);
	g_assert_cmpint(mount_stop(m), ==, 0);
	/* The test did go through the pusher. */
	g_assert_true(g_file_get_contents(m->log, &log, NULL, NULL));
	g_assert_null(strstr(log, "pushed 0 windows"));
	g_assert_nonnull(strstr(log, " windows of "));
}

/*
 * 1,000 writes of 4 KiB, through the daemon (passthrough off) and through
 * the kernel's passthrough: the kernel asks about the file's capabilities
 * (a GETXATTR of security.capability) once, not before every write, since
 * FUSE_HANDLE_KILLPRIV_V2 marks the mount SB_NOSEC; every byte arrives;
 * the close sends no FLUSH on a local source.
 */
static void test_writes_ask_once(struct mount *m, gconstpointer data)
{
	const char *mode = data;
	g_autofree char *o = g_strdup_printf("passthrough=%s", mode);
	const char *args[] = { "-o", o, NULL };
	g_autofree char *t = NULL, *s = NULL;
	char block[4096];
	guint64 xattrs;
	int fd;

	mount_start(m, args);
	t = mnt_path(m, "w");
	s = src_path(m, "w");
	fd = open(t, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	g_assert_cmpint(fd, >=, 0);
	for (int i = 0; i < 1000; i++) {
		memset(block, 'a' + i % 26, sizeof(block));
		g_assert_cmpint(write(fd, block, sizeof(block)), ==, sizeof(block));
	}
	g_assert_cmpint(close(fd), ==, 0);
	/* (Reading the statistics is a GETXATTR too: a handful, not 1,000.) */
	xattrs = mount_stat(m, "op.getxattr.requests");
	g_test_message("passthrough=%s: %" G_GUINT64_FORMAT " GETXATTR and %"
		       G_GUINT64_FORMAT " WRITE requests for 1,000 writes", mode,
		       xattrs, mount_stat(m, "op.write.requests"));
	g_assert_cmpuint(xattrs, <=, 3);
	/* No FLUSH at close on a local source, whose close() reports no
	 * write error; one over a FUSE backing (the 'bindfs' suite: the
	 * control), and with -o writeback (the kernel flushes anyway). */
	{
		guint64 flushes = backing_is_fuse() || mount_writeback_forced() ? 1 : 0;

		g_assert_cmpuint(mount_stat_wait(m, "op.flush.requests", flushes, 2000),
				 ==, flushes);
	}
	if (!strcmp(mode, "off") && mount_writeback_forced())
		/* Gathered by the kernel into requests of up to 1 MiB. */
		g_assert_cmpuint(mount_stat(m, "op.write.requests"), <=, 100);
	else if (!strcmp(mode, "off"))
		g_assert_cmpuint(mount_stat(m, "op.write.requests"), ==, 1000);
	else if (mount_stat(m, "passthrough_opens"))
		g_assert_cmpuint(mount_stat(m, "op.write.requests"), ==, 0);
	{
		g_autoptr(GBytes) b = read_whole(s, 65536);
		const char *d = g_bytes_get_data(b, NULL);

		g_assert_cmpuint(g_bytes_get_size(b), ==, 1000 * 4096);
		for (int i = 0; i < 1000; i++)
			g_assert_cmpint(d[i * 4096 + 17], ==, 'a' + i % 26);
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

static void test_read_only(struct mount *m, gconstpointer data)
{
	const char *extra[] = { "-o", "ro", NULL };
	g_autofree char *s = NULL, *t = NULL, *n = NULL, *d = NULL;
	g_autoptr(GBytes) a = NULL, b = NULL;

	s = src_path(m, "f");
	write_random_file(s, 5000, 8);
	mount_start(m, extra);
	t = mnt_path(m, "f");
	n = mnt_path(m, "new");
	d = mnt_path(m, "dir");
	a = read_whole(s, 4096);
	b = read_whole(t, 4096);
	g_assert_true(g_bytes_equal(a, b));
#define EXPECT_EROFS(call) do { errno = 0; g_assert_cmpint((call), ==, -1); \
	g_assert_cmpint(errno, ==, EROFS); } while (0)
	EXPECT_EROFS(open(t, O_WRONLY));
	EXPECT_EROFS(open(n, O_CREAT | O_WRONLY, 0644));
	EXPECT_EROFS(mkdir(d, 0755));
	EXPECT_EROFS(unlink(t));
	EXPECT_EROFS(rename(t, n));
	EXPECT_EROFS(chmod(t, 0600));
	EXPECT_EROFS(truncate(t, 0));
	EXPECT_EROFS(setxattr(t, "user.x", "1", 1, 0));
	EXPECT_EROFS(symlink("f", n));
	EXPECT_EROFS(link(t, n));
#undef EXPECT_EROFS
	g_assert_cmpint(mount_stop(m), ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	MOUNT_TEST("/rw/write-then-read-mapped", test_write_then_read, NULL);
	MOUNT_TEST("/rw/shrink-while-reading", test_shrink_while_reading, NULL);
	MOUNT_TEST("/rw/unlink-frees-space", test_unlink_frees_space, NULL);
	MOUNT_TEST("/rw/deleted-outside-frees-space", test_deleted_outside_frees_space, NULL);
	MOUNT_TEST("/rw/client-mmap-shared", test_client_mmap, NULL);
	MOUNT_TEST("/rw/link-rename-attrs-at-once", test_link_rename_attrs, NULL);
	MOUNT_TEST("/rw/random-reads-pushed", test_random_reads_pushed, NULL);
	MOUNT_TEST("/rw/read-only-mount", test_read_only, NULL);
	MOUNT_TEST("/rw/writes-ask-once-mapped", test_writes_ask_once, "off");
	MOUNT_TEST("/rw/writes-ask-once-passthrough", test_writes_ask_once, "auto");
	return g_test_run();
}
