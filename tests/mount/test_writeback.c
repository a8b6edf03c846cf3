/*
 * test_writeback.c - the write-back cache (-o writeback), and what it
 * promises:
 *   - small writes are gathered: 1,000 writes of 4 KiB reach the daemon in
 *     a few large WRITEs (the control, the same mount without it, sends
 *     1,000), and every byte is in SOURCE after close;
 *   - fsync: the bytes are in SOURCE when it returns, the file still open;
 *   - a full SOURCE: the error reaches the writer, from write(), fsync()
 *     or close(), never silence;
 *   - SIGTERM while a file open through the mount has cached writes: the
 *     daemon has the kernel write them back before it exits;
 *   - O_APPEND through the mount after an append made outside, the file
 *     held open: the kernel grows its size first, no byte is overwritten;
 *   - a truncation made outside shows once the file is no longer held open;
 *   - SEEK_DATA and SEEK_HOLE: exact when no open for writing could hold
 *     unwritten pages, EINVAL until the last one is released;
 *   - passthrough and the pusher off, and the log says why.
 * The rest of the suite runs again with -o writeback (the 'writeback'
 * suite of tests/meson.build).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static const char *const writeback[] = { "-o", "writeback", NULL };

/* Writes n blocks of 4 KiB to path (created), block i all 'a' + i % 26. */
static int write_blocks(const char *path, int n)
{
	char block[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	g_assert_cmpint(fd, >=, 0);
	for (int i = 0; i < n; i++) {
		memset(block, 'a' + i % 26, sizeof(block));
		g_assert_cmpint(write(fd, block, sizeof(block)), ==, sizeof(block));
	}
	return fd;
}

static void assert_blocks(const char *path, int n)
{
	g_autoptr(GBytes) b = read_whole(path, 65536);
	const char *d = g_bytes_get_data(b, NULL);

	g_assert_cmpuint(g_bytes_get_size(b), ==, (gsize)n * 4096);
	for (int i = 0; i < n; i++) {
		g_assert_cmpint(d[i * 4096], ==, 'a' + i % 26);
		g_assert_cmpint(d[i * 4096 + 4095], ==, 'a' + i % 26);
	}
}

/* 1,000 writes of 4 KiB, with -o writeback and without (the control). */
static void test_gathered(struct mount *m, gconstpointer data)
{
	const char *const control[] = { "-o", "passthrough=off", NULL };
	g_autofree char *t = NULL, *s = src_path(m, "w");
	guint64 gathered, each;

	mount_start(m, writeback);
	t = mnt_path(m, "w");
	g_assert_cmpint(close(write_blocks(t, 1000)), ==, 0);
	gathered = mount_stat(m, "op.write.requests");
	assert_blocks(s, 1000);
	g_assert_cmpint(mount_stop(m), ==, 0);

	mount_start(m, control);
	g_assert_cmpint(close(write_blocks(t, 1000)), ==, 0);
	/* The last WRITE is counted after its reply (harness.h). */
	each = mount_stat_wait(m, "op.write.requests", 1000, 1000);
	assert_blocks(s, 1000);
	g_assert_cmpint(mount_stop(m), ==, 0);
	g_test_message("1,000 writes of 4 KiB: %" G_GUINT64_FORMAT " WRITE requests "
		       "with -o writeback, %" G_GUINT64_FORMAT " without",
		       gathered, each);
	g_assert_cmpuint(each, ==, 1000);
	g_assert_cmpuint(gathered, >, 0);
	g_assert_cmpuint(gathered, <=, 100);
}

/* After fsync the bytes are in SOURCE, the file still open. */
static void test_fsync(struct mount *m, gconstpointer data)
{
	g_autofree char *t = NULL, *s = src_path(m, "f");
	int fd;

	mount_start(m, writeback);
	t = mnt_path(m, "f");
	fd = write_blocks(t, 64);
	g_assert_cmpint(fsync(fd), ==, 0);
	assert_blocks(s, 64);
	g_assert_cmpint(close(fd), ==, 0);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* A full SOURCE: write(), fsync() or close() says ENOSPC. */
static void test_enospc(struct mount *m, gconstpointer data)
{
	g_autofree char *t = NULL, *s = NULL, *buf = g_malloc(65536);
	const char *where = NULL;
	struct stat st;
	int fd;

	mount_src_tmpfs(m, "1m");
	mount_start(m, writeback);
	t = mnt_path(m, "big");
	fd = open(t, O_WRONLY | O_CREAT, 0644);
	g_assert_cmpint(fd, >=, 0);
	memset(buf, 'x', 65536);
	for (int i = 0; i < 32 && !where; i++) {
		if (write(fd, buf, 65536) < 0) {
			g_assert_cmpint(errno, ==, ENOSPC);
			where = "write";
		}
	}
	if (!where) {
		/* 2 MiB taken into the kernel's cache: SOURCE holds 1 MiB. */
		g_assert_cmpint(close(fd), ==, -1);
		g_assert_cmpint(errno, ==, ENOSPC);
		where = "close";
	} else {
		close(fd);
	}
	/* (Which megabyte made it depends on the order the kernel wrote the
	 * two back in.) */
	s = src_path(m, "big");
	g_assert_cmpint(stat(s, &st), ==, 0);
	g_test_message("2 MiB onto a 1 MiB SOURCE: ENOSPC from %s; SOURCE's "
		       "file %jd bytes, %jd allocated", where, (intmax_t)st.st_size,
		       (intmax_t)st.st_blocks * 512);
	g_assert_true(mount_daemon_alive(m));
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* SIGTERM with writes cached for a file still open: none lost. */
static void test_sigterm(struct mount *m, gconstpointer data)
{
	g_autofree char *t = NULL, *s = src_path(m, "open");
	GPid pid;
	guint64 before;
	int fd, status;

	mount_start(m, writeback);
	t = mnt_path(m, "open");
	fd = write_blocks(t, 256);
	before = mount_stat(m, "op.write.requests");
	g_test_message("WRITE requests before SIGTERM: %" G_GUINT64_FORMAT
		       " (1 MiB written, none synced)", before);
	pid = m->pid;
	g_assert_cmpint(kill(pid, SIGTERM), ==, 0);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	m->pid = 0;
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	close(fd);      /* (the mount is gone: its error does not matter) */
	assert_blocks(s, 256);
}

/* Whether fd's size reaches want within a second. */
static gboolean size_becomes(int fd, off_t want)
{
	gint64 end = g_get_monotonic_time() + G_USEC_PER_SEC;
	struct stat st;

	do {
		if (fstat(fd, &st) == 0 && st.st_size == want)
			return TRUE;
		g_usleep(1000);
	} while (g_get_monotonic_time() < end);
	return FALSE;
}

/* Appends through the mount after one outside, the file held open. */
static void test_append_outside(struct mount *m, gconstpointer data)
{
	g_autofree char *t = NULL, *s = src_path(m, "log"), *got = NULL;
	int fd, out;

	mount_start(m, writeback);
	t = mnt_path(m, "log");
	g_assert_true(g_file_set_contents(t, "one\n", -1, NULL));
	fd = open(t, O_WRONLY | O_APPEND);
	g_assert_cmpint(fd, >=, 0);
	out = open(s, O_WRONLY | O_APPEND);
	g_assert_cmpint(out, >=, 0);
	g_assert_cmpint(write(out, "outside\n", 8), ==, 8);
	close(out);
	g_assert_true(size_becomes(fd, 12));
	g_assert_cmpint(write(fd, "inside\n", 7), ==, 7);
	g_assert_cmpint(close(fd), ==, 0);
	g_assert_true(g_file_get_contents(s, &got, NULL, NULL));
	g_assert_cmpstr(got, ==, "one\noutside\ninside\n");
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* A truncation outside: seen once the file is no longer held open. */
static void test_truncate_outside(struct mount *m, gconstpointer data)
{
	g_autofree char *t = NULL, *s = src_path(m, "t");
	struct stat st;
	gint64 end;
	int fd;

	write_random_file(s, 100000, 5);
	mount_start(m, writeback);
	t = mnt_path(m, "t");
	fd = open(t, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(truncate(s, 1000), ==, 0);
	g_usleep(100000);
	g_assert_cmpint(fstat(fd, &st), ==, 0);
	g_test_message("held open, 100 ms after the truncation: %jd bytes",
		       (intmax_t)st.st_size);
	close(fd);
	end = g_get_monotonic_time() + G_USEC_PER_SEC;
	while (stat(t, &st) == 0 && st.st_size != 1000 && g_get_monotonic_time() < end)
		g_usleep(1000);
	g_assert_cmpint(st.st_size, ==, 1000);
	{
		g_autoptr(GBytes) b = read_whole(t, 65536);

		g_assert_cmpuint(g_bytes_get_size(b), ==, 1000);
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* SEEK_DATA and SEEK_HOLE: exact, except while open for writing. */
static void test_seek_holes(struct mount *m, gconstpointer data)
{
	g_autofree char *t = NULL, *s = src_path(m, "sparse");
	int fd, rd, wr;

	fd = open(s, O_WRONLY | O_CREAT, 0644);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(pwrite(fd, "data", 4, 1 << 20), ==, 4);
	g_assert_cmpint(ftruncate(fd, 4 << 20), ==, 0);
	close(fd);
	mount_start(m, writeback);
	t = mnt_path(m, "sparse");
	rd = open(t, O_RDONLY);
	g_assert_cmpint(rd, >=, 0);
	g_assert_cmpint(lseek(rd, 0, SEEK_DATA), ==, 1 << 20);
	g_assert_cmpint(lseek(rd, 1 << 20, SEEK_HOLE), ==, (1 << 20) + 4096);
	wr = open(t, O_RDWR);
	g_assert_cmpint(wr, >=, 0);
	g_assert_cmpint(pwrite(wr, "more", 4, 3 << 20), ==, 4);
	g_assert_cmpint(lseek(rd, 0, SEEK_DATA), ==, -1);
	g_assert_cmpint(errno, ==, EINVAL);
	g_assert_cmpint(close(wr), ==, 0);
	/* The last writer released (the kernel sends that after close()
	 * returns), its pages written back: exact again. */
	for (gint64 end = g_get_monotonic_time() + G_USEC_PER_SEC;
	     lseek(rd, 0, SEEK_DATA) < 0 && errno == EINVAL &&
	     g_get_monotonic_time() < end;)
		g_usleep(1000);
	g_assert_cmpint(lseek(rd, (1 << 20) + 4096, SEEK_DATA), ==, 3 << 20);
	close(rd);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* Passthrough and the pusher are off, and the log says why; a large file
 * reads back. */
static void test_no_passthrough(struct mount *m, gconstpointer data)
{
	g_autofree char *t = NULL, *s = src_path(m, "big"), *log = NULL;

	write_random_file(s, 1 << 20, 6);
	mount_start(m, writeback);
	t = mnt_path(m, "big");
	{
		g_autoptr(GBytes) a = read_whole(t, 65536), b = read_whole(s, 65536);

		g_assert_true(g_bytes_equal(a, b));
	}
	g_assert_cmpuint(mount_stat(m, "passthrough_opens"), ==, 0);
	g_assert_cmpint(mount_stop(m), ==, 0);
	g_assert_true(g_file_get_contents(m->log, &log, NULL, NULL));
	g_assert_nonnull(strstr(log, "passthrough: off"));
	g_assert_nonnull(strstr(log, "-o writeback: the kernel hands no file over"));
	g_assert_nonnull(strstr(log, "-o writeback: nothing is pushed"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	MOUNT_TEST("/writeback/gathered", test_gathered, NULL);
	MOUNT_TEST("/writeback/fsync", test_fsync, NULL);
	MOUNT_TEST("/writeback/enospc", test_enospc, NULL);
	MOUNT_TEST("/writeback/sigterm-flushes-open-file", test_sigterm, NULL);
	MOUNT_TEST("/writeback/append-after-outside", test_append_outside, NULL);
	MOUNT_TEST("/writeback/truncate-outside", test_truncate_outside, NULL);
	MOUNT_TEST("/writeback/seek-holes", test_seek_holes, NULL);
	MOUNT_TEST("/writeback/passthrough-off", test_no_passthrough, NULL);
	return g_test_run();
}
