/*
 * test_stress.c - concurrent readers against a tiny mapping budget, and
 * readers racing a backing file that is truncated and refilled outside the
 * mount (the SIGBUS case).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "harness.h"

#define NFILES 100
#define NREADERS 8

struct reader {
	struct mount *m;
	int id;
	char **checksums;        /* expected SHA-256 of every file */
	int rounds;
	int mismatches;
};

static gpointer checksum_reader(gpointer data)
{
	struct reader *r = data;
	GRand *rand = g_rand_new_with_seed(r->id);

	for (int round = 0; round < r->rounds; round++) {
		int i = g_rand_int_range(rand, 0, NFILES);
		g_autofree char *name = g_strdup_printf("f%03d", i);
		g_autofree char *p = mnt_path(r->m, name);
		/* Odd chunk sizes make reads straddle pages. */
		g_autoptr(GBytes) b = read_whole(p, 1000 + 4096 * (round % 4));
		g_autofree char *sum = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, b);

		if (strcmp(sum, r->checksums[i]))
			g_atomic_int_inc(&r->mismatches);
	}
	g_rand_free(rand);
	return NULL;
}

static void test_max_maps_one(struct mount *m, gconstpointer data)
{
	const char *extra[] = { "-o", "max_maps=1", NULL };
	char *sums[NFILES];
	struct reader r[NREADERS];
	GThread *t[NREADERS];
	int mismatches = 0;

	for (int i = 0; i < NFILES; i++) {
		g_autofree char *name = g_strdup_printf("f%03d", i);
		g_autofree char *p = src_path(m, name);
		g_autoptr(GBytes) b = NULL;

		write_random_file(p, 1 + (size_t)i * 1531 % 70000, 500 + i);
		b = read_whole(p, 65536);
		sums[i] = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, b);
	}
	mount_start(m, extra);
	for (int i = 0; i < NREADERS; i++) {
		r[i] = (struct reader){ .m = m, .id = i + 1, .checksums = sums,
					.rounds = 400 };
		t[i] = g_thread_new("reader", checksum_reader, &r[i]);
	}
	for (int i = 0; i < NREADERS; i++) {
		g_thread_join(t[i]);
		mismatches += r[i].mismatches;
	}
	g_assert_true(mount_daemon_alive(m));
	g_assert_cmpint(mismatches, ==, 0);
	g_assert_cmpint(mount_stop(m), ==, 0);
	for (int i = 0; i < NFILES; i++)
		g_free(sums[i]);
}

/*
 * Version v of the racing file is FILE_LEN(v) bytes, every one equal to
 * v % 255 + 1.  The writer truncates to 0 and then writes a version in one
 * pwrite, so the file never mixes two versions within a page and never holds
 * a zero byte.  A read(2) racing the writer may, natively too, return pages
 * of different versions, but every page it returns must be uniform and
 * non-zero: anything else is bytes the file never held.
 *
 * With -o cache=none every read(2) reaches the daemon and returns exactly
 * what it answered, so that check is strict.  Through the kernel's page
 * cache, the FUSE client itself zero-fills the rest of a page after a short
 * read and, when another reader refreshed the attributes meanwhile, keeps
 * the old size (libfuse's passthrough_ll shows the same): there a page may
 * also be some non-zero bytes followed by zeros.
 */
#define FILE_LEN(v) (4096 * (1 + (v) % 48) + (v) % 1000)
#define RACE_BUF (128 * 1024)

struct race {
	struct mount *m;
	bool strict;            /* cache=none: pages exactly as answered */
	volatile gint stop;
	gint reads, bad, eio;
};

static gpointer race_writer(gpointer data)
{
	struct race *r = data;
	g_autofree char *p = src_path(r->m, "racy");
	g_autofree guint8 *buf = g_malloc(FILE_LEN(47) + 1000);
	int fd = open(p, O_WRONLY);

	g_assert_cmpint(fd, >=, 0);
	for (int v = 1; !g_atomic_int_get(&r->stop); v++) {
		size_t len = FILE_LEN(v);

		memset(buf, v % 255 + 1, len);
		g_assert_cmpint(ftruncate(fd, 0), ==, 0);
		g_assert_cmpint(pwrite(fd, buf, len, 0), ==, (ssize_t)len);
	}
	close(fd);
	return NULL;
}

/*
 * Whether one page of a read holds bytes the file held at some point: one
 * non-zero value throughout; or, through the page cache, that value for a
 * prefix (possibly empty) and zeros after it.
 */
static bool page_ok(const guint8 *page, size_t len, bool strict)
{
	size_t k = 0;

	while (k < len && page[k] != 0 && page[k] == page[0])
		k++;
	if (strict)
		return len > 0 && k == len;
	while (k < len && page[k] == 0)
		k++;
	return k == len;
}

static gpointer race_reader(gpointer data)
{
	struct race *r = data;
	g_autofree char *p = mnt_path(r->m, "racy");
	g_autofree guint8 *buf = g_malloc(RACE_BUF);

	while (!g_atomic_int_get(&r->stop)) {
		int fd = open(p, O_RDONLY);
		off_t off = 0;
		ssize_t n;

		if (fd < 0) {
			int e = errno;
			g_autofree char *state = mount_daemon_state(r->m);

			g_error("open: %s; the daemon is %s", g_strerror(e), state);
		}
		while ((n = read(fd, buf, RACE_BUF)) > 0) {
			g_atomic_int_inc(&r->reads);
			/* Check each piece of a file page the read returned. */
			for (ssize_t k = 0, len; k < n; k += len) {
				len = MIN(n - k, 4096 - (off + k) % 4096);
				if (page_ok(buf + k, len, r->strict))
					continue;
				if (g_atomic_int_add(&r->bad, 1) < 5)
					g_test_message("read of %zd at %ld: bad page at +%zd starting %d, ending %d",
						       n, (long)off, k, buf[k],
						       buf[MIN(k + 4095, (size_t)n - 1)]);
				break;
			}
			off += n;
		}
		if (n < 0 && errno != EIO) {
			int e = errno;
			g_autofree char *state = mount_daemon_state(r->m);

			g_error("read: %s; the daemon is %s", g_strerror(e), state);
		}
		if (n < 0)
			g_atomic_int_inc(&r->eio);
		close(fd);
	}
	return NULL;
}

/*
 * strict: no kernel page cache (cache=none), so not even the kernel's
 * zero-filled tails are allowed; mapped: reads come from mappings, so the
 * race must have reached one as it shrank (the log says so).
 */
static void check_truncate_race(struct mount *m, const char *const *extra, bool strict, bool mapped)
{
	struct race r = { .m = m, .strict = strict };
	GThread *w, *readers[4];
	g_autofree char *p = NULL;

	p = src_path(m, "racy");
	write_random_file(p, 0, 1);
	mount_start(m, extra);
	w = g_thread_new("writer", race_writer, &r);
	for (int i = 0; i < 4; i++)
		readers[i] = g_thread_new("reader", race_reader, &r);
	g_usleep(4 * G_USEC_PER_SEC);
	g_atomic_int_set(&r.stop, 1);
	g_thread_join(w);
	for (int i = 0; i < 4; i++)
		g_thread_join(readers[i]);

	g_test_message("%d reads, %d with foreign bytes, %d EIO", r.reads, r.bad, r.eio);
	g_assert_true(mount_daemon_alive(m));
	g_assert_cmpint(r.bad, ==, 0);
	g_assert_cmpint(r.reads, >, 100);
	/* EIO only for replies in flight when the first shrink is seen: the
	 * file is read with pread from then on. */
	g_assert_cmpint(r.eio, <=, 4);
	g_assert_cmpint(mount_stop(m), ==, 0);
	if (mapped) {
		/* The race did reach the mapping as it shrank. */
		g_autofree char *log = NULL;

		g_assert_true(g_file_get_contents(m->log, &log, NULL, NULL));
		g_assert_nonnull(strstr(log, "shrank under its mapping"));
	} else {
		g_assert_cmpint(r.eio, ==, 0);
	}
}

static void test_truncate_race_no_cache(struct mount *m, gconstpointer data)
{
	const char *extra[] = { "-o", "cache=none", NULL };

	/* cache=none reads with pread: exact, and never EIO. */
	check_truncate_race(m, extra, true, false);
}

static void test_truncate_race_one_map(struct mount *m, gconstpointer data)
{
	/* Mapped, with every mapping but one evicted as readers race. */
	const char *extra[] = { "-o", "timeout=0,max_maps=1", NULL };

	check_truncate_race(m, extra, false, true);
}

static void test_truncate_race_page_cache(struct mount *m, gconstpointer data)
{
	/* timeout=0: every open sees the new size, so reads reach the
	 * mapping's end and past it, where the SIGBUS is. */
	const char *extra[] = { "-o", "timeout=0", NULL };

	check_truncate_race(m, extra, false, true);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	MOUNT_TEST("/stress/max-maps-1-eight-readers", test_max_maps_one, NULL);
	MOUNT_TEST("/stress/truncate-refill-race-cache-none", test_truncate_race_no_cache, NULL);
	MOUNT_TEST("/stress/truncate-refill-race-page-cache-max-maps-1", test_truncate_race_one_map, NULL);
	MOUNT_TEST("/stress/truncate-refill-race-page-cache", test_truncate_race_page_cache, NULL);
	return g_test_run();
}
