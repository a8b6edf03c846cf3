/*
 * test_watch.c - changes made to the backing directory outside the mount,
 * seen through it:
 *   - cache=watched (fanotify, and inotify, and a read-only mount, where
 *     files are read without opens): write, append, truncate, rename over,
 *     unlink, mkdir, rmdir, chmod and touch each visible within 100 ms
 *     (with -o writeback, a truncation once the file is no longer held
 *     open: the kernel keeps the size of a file it holds),
 *     with names and attributes cached for 60 s; the latency of each is
 *     printed;
 *   - cache=timeout: within the timeout (read-write, and read-only, where
 *     files are read without opens once a timeout is given: a file written
 *     in place and opened again too); cache=none: at the first look;
 *   - the control: with cache=timeout and a 60 s timeout the same changes
 *     are still invisible after 300 ms (so the checks above can fail), and
 *     on the read-only mount the file opened again as well;
 *   - 10,000 outside changes while readers loop through the mount: no read
 *     returns bytes older than a change already seen through the mount
 *     (read-write, and read-only without opens);
 *   - changes made through the mount are the daemon's own: fanotify acts on
 *     none of them;
 *   - fanotify's marks as the kernel lists them: one on the filesystem for
 *     a daemon run by root, one per directory for an ordinary user's, and
 *     for root's once files are made elsewhere on that filesystem.
 * Timing bounds are retried: a change late three times running fails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "harness.h"

#define FILE_SIZE 4096

struct op_ctx {
	struct mount *m;
	char *src;          /* the operation's path in src/ */
	char *mnt;          /* and in mnt/ */
	int fd;             /* open through the mount across the change, or -1 */
};

struct op {
	const char *name;
	void (*setup)(struct op_ctx *c);     /* in src/, before priming */
	void (*prime)(struct op_ctx *c);     /* through the mount: cache it */
	void (*change)(struct op_ctx *c);    /* in src/: the outside change */
	gboolean (*visible)(struct op_ctx *c);
	gboolean cached;    /* stays invisible while the kernel's cache lives */
	gboolean until_open; /* ... but a mount that opens files sees it at the
			      * next open */
};

static void fill_file(const char *path, char byte, size_t len, int flags)
{
	char buf[FILE_SIZE];
	int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);

	g_assert_cmpint(fd, >=, 0);
	memset(buf, byte, sizeof(buf));
	for (size_t done = 0; done < len; done += sizeof(buf))
		g_assert_cmpint(write(fd, buf, MIN(sizeof(buf), len - done)), >, 0);
	g_assert_cmpint(close(fd), ==, 0);
}

static gboolean all_bytes(const char *buf, ssize_t n, char byte, ssize_t want)
{
	if (n != want)
		return FALSE;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] != byte)
			return FALSE;
	return TRUE;
}

/* Reads the whole file through the held descriptor. */
static gboolean held_holds(struct op_ctx *c, char byte, ssize_t want)
{
	char buf[3 * FILE_SIZE];
	ssize_t n = pread(c->fd, buf, sizeof(buf), 0);

	return all_bytes(buf, n, byte, want);
}

static void setup_a(struct op_ctx *c) { fill_file(c->src, 'A', FILE_SIZE, O_TRUNC); }
static void setup_a2(struct op_ctx *c) { fill_file(c->src, 'A', 2 * FILE_SIZE, O_TRUNC); }

static void prime_open(struct op_ctx *c)
{
	char buf[3 * FILE_SIZE];
	struct stat st;

	c->fd = open(c->mnt, O_RDONLY);
	g_assert_cmpint(c->fd, >=, 0);
	g_assert_cmpint(pread(c->fd, buf, sizeof(buf), 0), >, 0);
	/* A read that reached the daemon leaves the atime stale, and the
	 * next stat asks again: have that done before the change. */
	g_assert_cmpint(fstat(c->fd, &st), ==, 0);
}

static void prime_read(struct op_ctx *c)
{
	g_autoptr(GBytes) b = read_whole(c->mnt, 65536);

	g_assert_cmpuint(g_bytes_get_size(b), >, 0);
}

static void prime_stat(struct op_ctx *c)
{
	struct stat st;

	g_assert_cmpint(lstat(c->mnt, &st), ==, 0);
}

static void prime_absent(struct op_ctx *c)
{
	struct stat st;

	g_assert_cmpint(lstat(c->mnt, &st), ==, -1);
}

static void change_write(struct op_ctx *c) { fill_file(c->src, 'B', FILE_SIZE, 0); }
static gboolean visible_write(struct op_ctx *c) { return held_holds(c, 'B', FILE_SIZE); }

/* Whether a new open through the mount reads FILE_SIZE bytes of byte. */
static gboolean opened_holds(struct op_ctx *c, char byte)
{
	char buf[2 * FILE_SIZE];
	int fd = open(c->mnt, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return FALSE;
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	return all_bytes(buf, n, byte, FILE_SIZE);
}

/* Written in place, same size: seen by a new open and read. */
static gboolean visible_reopen(struct op_ctx *c) { return opened_holds(c, 'B'); }

static void change_append(struct op_ctx *c) { fill_file(c->src, 'A', FILE_SIZE, O_APPEND); }
static gboolean visible_append(struct op_ctx *c)
{
	struct stat st;

	return fstat(c->fd, &st) == 0 && st.st_size == 2 * FILE_SIZE &&
	       held_holds(c, 'A', 2 * FILE_SIZE);
}

static void change_truncate(struct op_ctx *c) { g_assert_cmpint(truncate(c->src, 100), ==, 0); }
static gboolean visible_truncate(struct op_ctx *c)
{
	struct stat st;

	/* With -o writeback the kernel keeps the size of a file held open
	 * (README): the truncation shows once nobody holds it. */
	if (mount_writeback_forced() && c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->fd < 0) {
		char buf[2 * FILE_SIZE];
		int fd = open(c->mnt, O_RDONLY);
		ssize_t n;

		if (fd < 0)
			return FALSE;
		n = fstat(fd, &st) == 0 && st.st_size == 100 ?
			pread(fd, buf, sizeof(buf), 0) : -1;
		close(fd);
		return n == 100 && all_bytes(buf, n, 'A', 100);
	}
	return fstat(c->fd, &st) == 0 && st.st_size == 100 && held_holds(c, 'A', 100);
}

static void change_rename(struct op_ctx *c)
{
	g_autofree char *tmp = g_strconcat(c->src, ".tmp", NULL);

	fill_file(tmp, 'R', FILE_SIZE, O_TRUNC);
	g_assert_cmpint(rename(tmp, c->src), ==, 0);
}
static gboolean visible_rename(struct op_ctx *c) { return opened_holds(c, 'R'); }

static void change_unlink(struct op_ctx *c) { g_assert_cmpint(unlink(c->src), ==, 0); }
static gboolean visible_gone(struct op_ctx *c)
{
	struct stat st;

	return lstat(c->mnt, &st) == -1 && errno == ENOENT;
}

static void change_mkdir(struct op_ctx *c) { g_assert_cmpint(mkdir(c->src, 0755), ==, 0); }
static gboolean visible_mkdir(struct op_ctx *c)
{
	g_autofree char *parent = g_path_get_dirname(c->mnt);
	g_autofree char *base = g_path_get_basename(c->mnt);
	gboolean listed = FALSE;
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (lstat(c->mnt, &st) < 0 || !S_ISDIR(st.st_mode))
		return FALSE;
	d = opendir(parent);
	g_assert_nonnull(d);
	while ((de = readdir(d)))
		listed |= !strcmp(de->d_name, base);
	closedir(d);
	return listed;
}

static void setup_dir(struct op_ctx *c) { g_assert_cmpint(mkdir(c->src, 0755), ==, 0); }
static void change_rmdir(struct op_ctx *c) { g_assert_cmpint(rmdir(c->src), ==, 0); }

static void change_chmod(struct op_ctx *c) { g_assert_cmpint(chmod(c->src, 0600), ==, 0); }
static gboolean visible_chmod(struct op_ctx *c)
{
	struct stat st;

	return lstat(c->mnt, &st) == 0 && (st.st_mode & 07777) == 0600;
}

static void setup_old(struct op_ctx *c)
{
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

	setup_a(c);
	g_assert_cmpint(utimensat(AT_FDCWD, c->src, ts, 0), ==, 0);
}
static void change_touch(struct op_ctx *c)
{
	g_assert_cmpint(utimensat(AT_FDCWD, c->src, NULL, 0), ==, 0);
}
static gboolean visible_touch(struct op_ctx *c)
{
	struct stat st;

	return lstat(c->mnt, &st) == 0 && st.st_mtim.tv_sec != 1000000000;
}

static const struct op ops[] = {
	{ "write", setup_a, prime_open, change_write, visible_write, TRUE },
	{ "reopen", setup_a, prime_read, change_write, visible_reopen, TRUE, TRUE },
	{ "append", setup_a, prime_open, change_append, visible_append, TRUE },
	{ "truncate", setup_a2, prime_open, change_truncate, visible_truncate, TRUE },
	{ "rename-over", setup_a, prime_read, change_rename, visible_rename, TRUE },
	{ "unlink", setup_a, prime_stat, change_unlink, visible_gone, TRUE },
	{ "mkdir", NULL, prime_absent, change_mkdir, visible_mkdir, FALSE },
	{ "rmdir", setup_dir, prime_stat, change_rmdir, visible_gone, TRUE },
	{ "chmod", setup_a, prime_stat, change_chmod, visible_chmod, TRUE },
	{ "touch", setup_old, prime_stat, change_touch, visible_touch, TRUE },
};

/*
 * Runs op once on a fresh name: returns the seconds from the change until
 * the mount shows it, polling every 200 us, or a negative value when it
 * did not within give_up seconds.  first_look: whether the very first look
 * saw it.
 */
static double run_op(struct mount *m, const struct op *op, unsigned round,
		     double give_up, gboolean *first_look)
{
	g_autofree char *rel = g_strdup_printf("d/%s-%u", op->name, round);
	struct op_ctx c = { m, src_path(m, rel), mnt_path(m, rel), -1 };
	gint64 start, deadline;
	double took = -1;

	if (op->setup)
		op->setup(&c);
	op->prime(&c);
	op->change(&c);
	start = g_get_monotonic_time();
	deadline = start + (gint64)(give_up * G_USEC_PER_SEC);
	*first_look = op->visible(&c);
	for (gboolean seen = *first_look;; seen = op->visible(&c)) {
		gint64 now = g_get_monotonic_time();

		if (seen) {
			took = (double)(now - start) / G_USEC_PER_SEC;
			break;
		}
		if (now > deadline)
			break;
		g_usleep(200);
	}
	if (c.fd >= 0)
		close(c.fd);
	g_free(c.src);
	g_free(c.mnt);
	return took;
}

struct mode {
	const char *name;
	const char *const *args;
	double bound;       /* seconds; 0: at the first look */
};

/* Mounts with args over a source holding the directory d/ the ops use. */
static void mount_with_dir(struct mount *m, const char *const *args)
{
	g_autofree char *d = NULL;

	d = src_path(m, "d");
	g_assert_cmpint(g_mkdir(d, 0755), ==, 0);
	mount_start(m, args);
}

/* Each operation visible within the mode's bound (three tries). */
static void test_mode(struct mount *m, gconstpointer data)
{
	const struct mode *mode = data;

	mount_with_dir(m, mode->args);
	for (size_t i = 0; i < G_N_ELEMENTS(ops); i++) {
		double took = -1;
		gboolean first = FALSE, ok = FALSE;

		for (unsigned round = 0; round < 3 && !ok; round++) {
			took = run_op(m, &ops[i], round, mode->bound + 5, &first);
			ok = mode->bound == 0 ? first : took >= 0 && took <= mode->bound;
		}
		g_test_message("%s: %s visible after %.1f ms (bound %.0f ms)",
			       mode->name, ops[i].name, took * 1000, mode->bound * 1000);
		if (!ok) {
			g_autofree char *state = mount_daemon_state(m);

			g_test_message("daemon: %s", state);
		}
		g_assert_true(ok);
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * Without a watcher and with a long timeout, the changes stay unseen; on a
 * read-only mount, which reads files without opens, a file's data too
 * when it is opened again.
 */
static void test_control(struct mount *m, gconstpointer data)
{
	const char *const *args = data;
	gboolean no_open = g_str_has_prefix(args[1], "ro,");

	mount_with_dir(m, args);
	for (size_t i = 0; i < G_N_ELEMENTS(ops); i++) {
		gboolean first;
		double took;

		if (!ops[i].cached || (ops[i].until_open && !no_open))
			continue;
		took = run_op(m, &ops[i], 0, 0.3, &first);
		g_test_message("control %s: %s %s after 300 ms", args[1], ops[i].name,
			       took < 0 ? "still unseen" : "seen");
		g_assert_cmpfloat(took, <, 0);
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * Changes made through the mount by the daemon: fanotify skips them all as
 * its own (the kernel merges a burst of them while the watcher lets them
 * gather, so fewer arrive than were made).  With passthrough off: writes
 * handed over are the writer's own, made by the kernel on the backing
 * file, and fanotify sees them as changes from outside.
 */
static void test_own_changes(struct mount *m, gconstpointer data)
{
	static const char *const args[] = {
		"-o", "cache=watched,watcher=fanotify,passthrough=off", NULL
	};
	g_autofree char *log = NULL, *f = NULL, *g = NULL, *sub = NULL;
	g_autofree char *counts = NULL;
	guint64 handled = G_MAXUINT64, own = 0;
	const char *line;

	mount_start(m, args);
	f = mnt_path(m, "f");
	g = mnt_path(m, "g");
	sub = mnt_path(m, "sub");
	for (int i = 0; i < 20; i++) {
		fill_file(f, 'a' + i, FILE_SIZE, O_TRUNC);
		g_assert_cmpint(chmod(f, 0600 + i % 2), ==, 0);
		g_assert_cmpint(rename(f, g), ==, 0);
		g_assert_cmpint(unlink(g), ==, 0);
		g_assert_cmpint(mkdir(sub, 0755), ==, 0);
		g_assert_cmpint(rmdir(sub), ==, 0);
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
	g_assert_true(g_file_get_contents(m->log, &log, NULL, NULL));
	/* The counts at exit (other "fanotify: " lines may come first: the
	 * move to directory marks when other tests write elsewhere on the
	 * source's filesystem). */
	line = strstr(log, " events from outside acted upon");
	g_assert_nonnull(line);
	while (line > log && line[-1] != '\n')
		line--;
	counts = g_strndup(line, strcspn(line, "\n"));
	g_test_message("%s", counts);
	line = strstr(counts, "fanotify: ");
	g_assert_nonnull(line);
	g_assert_cmpint(sscanf(line, "fanotify: %" G_GUINT64_FORMAT
			       " events from outside acted upon, %" G_GUINT64_FORMAT,
			       &handled, &own), ==, 2);
	g_assert_cmpuint(handled, ==, 0);
	g_assert_cmpuint(own, >=, 1);
}

/* ---- listings kept by the kernel ---- */

/* How many entries listing dir shows, and whether name is one. */
static unsigned list_dir(const char *dir, const char *name, gboolean *has)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	g_assert_nonnull(d);
	*has = FALSE;
	while ((de = readdir(d))) {
		n++;
		*has |= !strcmp(de->d_name, name);
	}
	closedir(d);
	return n;
}

static guint64 listing_requests(struct mount *m)
{
	return mount_stat(m, "op.readdir.requests") + mount_stat(m, "op.readdirplus.requests");
}

/* listing_requests() once it has settled: a request is counted after its
 * reply, so the last of a listing may still be on its way into the count. */
static guint64 settled_listing_requests(struct mount *m)
{
	guint64 now = listing_requests(m), then;

	do {
		then = now;
		g_usleep(50000);
		now = listing_requests(m);
	} while (now != then);
	return now;
}

/*
 * cache=watched: a directory listed again is answered by the kernel (no
 * READDIR reaches the daemon); a name made outside appears in the listing
 * as soon as the watcher says so, one made through the mount at once.
 * cache=timeout lists from the daemon every time.
 */
static void test_listing_cached(struct mount *m, gconstpointer data)
{
	gboolean watched = data == NULL;
	const char *args[] = { "-o", watched ? "cache=watched" : "cache=timeout", NULL };
	g_autofree char *dir = NULL, *out = NULL, *through = NULL;
	guint64 before, after;
	gint64 start;
	gboolean has;
	unsigned n;

	for (int i = 0; i < 500; i++) {
		g_autofree char *rel = g_strdup_printf("ls/f%03d", i);
		g_autofree char *p = NULL;

		if (i == 0) {
			g_autofree char *d = src_path(m, "ls");

			g_assert_cmpint(g_mkdir(d, 0755), ==, 0);
		}
		p = src_path(m, rel);
		g_assert_true(g_file_set_contents(p, "", 0, NULL));
	}
	mount_start(m, args);
	dir = mnt_path(m, "ls");
	g_assert_cmpuint(list_dir(dir, "x", &has), ==, 502);
	before = settled_listing_requests(m);
	g_assert_cmpuint(list_dir(dir, "x", &has), ==, 502);
	after = settled_listing_requests(m);
	g_test_message("second listing: %" G_GUINT64_FORMAT " listing requests",
		       after - before);
	if (watched)
		g_assert_cmpuint(after, ==, before);
	else
		g_assert_cmpuint(after, >, before);
	/* A name made outside the mount. */
	out = src_path(m, "ls/outside");
	g_assert_true(g_file_set_contents(out, "", 0, NULL));
	start = g_get_monotonic_time();
	while ((n = list_dir(dir, "outside", &has)) && !has &&
	       g_get_monotonic_time() - start < 2 * G_USEC_PER_SEC)
		g_usleep(1000);
	g_test_message("a name made outside listed after %.1f ms",
		       (g_get_monotonic_time() - start) / 1000.0);
	g_assert_true(has);
	g_assert_cmpuint(n, ==, 503);
	if (watched)
		g_assert_cmpint(g_get_monotonic_time() - start, <, G_USEC_PER_SEC / 10);
	/* And one made, then one removed, through it: at once. */
	through = mnt_path(m, "ls/through");
	g_assert_true(g_file_set_contents(through, "", 0, NULL));
	g_assert_cmpuint(list_dir(dir, "through", &has), ==, 504);
	g_assert_true(has);
	g_assert_cmpint(unlink(through), ==, 0);
	g_assert_cmpuint(list_dir(dir, "through", &has), ==, 503);
	g_assert_false(has);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* ---- many changes while readers loop ---- */

#define N_FILES 8           /* 0..3 changed in place, read through held
			     * descriptors; 4..7 also renamed over, opened
			     * for every read */
#define RECORDS (FILE_SIZE / sizeof(guint64))
/* A version as stored: never zero, so that zero-filled bytes stand out. */
#define STORED(v) ((guint64)(v) | (0xa5ull << 56))
#define VERSION(r) ((r) & ~(0xffull << 56))

struct many {
	struct mount *m;
	gint reported[N_FILES];   /* (atomic) newest version seen through mnt */
	gint stop;
	gint reads, empty, zeros;
	gint failed;
	char failure[256];        /* the first failure */
};

static void write_version(const char *path, const char *tmp, guint64 v,
			  unsigned kind)
{
	guint64 rec[RECORDS];
	int fd;

	for (size_t i = 0; i < RECORDS; i++)
		rec[i] = STORED(v);
	fd = open(kind == 2 ? tmp : path,
		  O_WRONLY | O_CREAT | (kind == 0 ? 0 : O_TRUNC), 0644);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(pwrite(fd, rec, sizeof(rec), 0), ==, sizeof(rec));
	g_assert_cmpint(close(fd), ==, 0);
	if (kind == 2)
		g_assert_cmpint(rename(tmp, path), ==, 0);
}

/*
 * Reads file i through the mount (fd >= 0: through that descriptor).
 * Returns the number of whole records read; *lo and *hi get the lowest
 * and highest version among them (*hi is G_MAXUINT64 when a record is no
 * version's), *zeros the number of zero records.
 */
static size_t read_versions(const char *path, int fd, guint64 *lo, guint64 *hi,
			    size_t *zeros)
{
	guint64 rec[RECORDS + 1];
	int own = fd < 0 ? open(path, O_RDONLY) : -1;
	ssize_t n = pread(fd < 0 ? own : fd, rec, sizeof(rec), 0);
	size_t whole;

	if (own >= 0)
		close(own);
	whole = n > 0 ? (size_t)n / sizeof(guint64) : 0;
	*lo = G_MAXUINT64;
	*hi = 0;
	*zeros = 0;
	for (size_t i = 0; i < whole; i++) {
		if (rec[i] == 0) {
			(*zeros)++;
			continue;
		}
		if (rec[i] != STORED(VERSION(rec[i]))) {
			*hi = G_MAXUINT64;      /* no version wrote this */
			continue;
		}
		*lo = MIN(*lo, VERSION(rec[i]));
		*hi = MAX(*hi, VERSION(rec[i]));
	}
	return whole;
}

static gpointer many_reader(gpointer data)
{
	struct many *s = data;
	int fds[N_FILES / 2];
	char *paths[N_FILES];
	GRand *rand = g_rand_new();

	for (int i = 0; i < N_FILES; i++) {
		g_autofree char *rel = g_strdup_printf("f%d", i);

		paths[i] = mnt_path(s->m, rel);
		if (i < N_FILES / 2)
			fds[i] = open(paths[i], O_RDONLY);
	}
	while (!g_atomic_int_get(&s->stop)) {
		int i = g_rand_int_range(rand, 0, N_FILES);
		guint64 seen = (guint64)g_atomic_int_get(&s->reported[i]);
		guint64 lo, hi;
		size_t zeros;
		size_t whole = read_versions(paths[i], i < N_FILES / 2 ? fds[i] : -1,
					     &lo, &hi, &zeros);

		g_atomic_int_inc(&s->reads);
		if (whole == 0) {
			g_atomic_int_inc(&s->empty);   /* between O_TRUNC and write */
			continue;
		}
		/* Also between O_TRUNC and write: the kernel zero-fills a read
		 * that came back short while it still believed the old size
		 * (when the size changed again during the read, it keeps
		 * that belief).  Zeros are no version's bytes: counted, not
		 * compared. */
		if (zeros)
			g_atomic_int_inc(&s->zeros);
		if (zeros == whole)
			continue;
		if ((lo < seen || hi == G_MAXUINT64) &&
		    g_atomic_int_compare_and_exchange(&s->failed, 0, 1))
			g_snprintf(s->failure, sizeof(s->failure),
				   "f%d: read versions %" G_GUINT64_FORMAT " to %"
				   G_GUINT64_FORMAT " after version %" G_GUINT64_FORMAT
				   " was seen (%" G_GUINT64_FORMAT ": garbage)",
				   i, lo, hi, seen, G_MAXUINT64);
	}
	for (int i = 0; i < N_FILES; i++) {
		if (i < N_FILES / 2)
			close(fds[i]);
		g_free(paths[i]);
	}
	g_rand_free(rand);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void test_many_changes(struct mount *m, gconstpointer data)
{
	const char *const *args = data;
	const char *env = g_getenv("MMAPFS_WATCH_CHANGES");
	unsigned changes = env ? (unsigned)atoi(env) : 10000;
	g_autofree double *lat = g_new(double, changes);
	struct many s = { 0 };
	int held[N_FILES / 2];
	GThread *readers[2];

	s.m = m;
	for (int i = 0; i < N_FILES; i++) {
		g_autofree char *rel = g_strdup_printf("f%d", i);
		g_autofree char *p = src_path(m, rel);

		write_version(p, NULL, 0, 1);
	}
	mount_start(m, args);
	for (int i = 0; i < N_FILES / 2; i++) {
		g_autofree char *rel = g_strdup_printf("f%d", i);
		g_autofree char *p = mnt_path(m, rel);

		held[i] = open(p, O_RDONLY);
		g_assert_cmpint(held[i], >=, 0);
	}
	for (int i = 0; i < 2; i++)
		readers[i] = g_thread_new("reader", many_reader, &s);

	for (unsigned v = 1; v <= changes && !g_atomic_int_get(&s.failed); v++) {
		int i = (int)(v % N_FILES);
		unsigned kind = i < N_FILES / 2 ? v / N_FILES % 2 : v / N_FILES % 3;
		g_autofree char *rel = g_strdup_printf("f%d", i);
		g_autofree char *tmp_rel = g_strdup_printf("f%d.tmp", i);
		g_autofree char *sp = src_path(m, rel);
		g_autofree char *tp = src_path(m, tmp_rel);
		g_autofree char *mp = mnt_path(m, rel);
		gint64 start, deadline;

		write_version(sp, tp, v, kind);
		start = g_get_monotonic_time();
		deadline = start + 10 * G_USEC_PER_SEC;
		for (;;) {
			guint64 lo, hi;
			size_t zeros;
			size_t whole = read_versions(mp, i < N_FILES / 2 ? held[i] : -1,
						     &lo, &hi, &zeros);

			if (whole == RECORDS && !zeros && lo == v)
				break;
			if (g_get_monotonic_time() > deadline) {
				g_autofree char *state = mount_daemon_state(m);

				struct stat ms = { 0 }, ss = { 0 };

				lstat(mp, &ms);
				lstat(sp, &ss);
				g_test_message("daemon: %s", state);
				g_test_message("f%d through the mount: %jd bytes, %zu whole "
					       "records (%zu zero), versions %" G_GUINT64_FORMAT
					       " to %" G_GUINT64_FORMAT "; in the source: "
					       "%jd bytes", i, (intmax_t)ms.st_size, whole,
					       zeros, lo, hi, (intmax_t)ss.st_size);
				g_error("change %u to f%d (kind %u) not visible after 10 s",
					v, i, kind);
			}
			g_usleep(100);
		}
		lat[v - 1] = (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
		g_atomic_int_set(&s.reported[i], (gint)v);
	}
	g_atomic_int_set(&s.stop, 1);
	for (int i = 0; i < 2; i++)
		g_thread_join(readers[i]);
	for (int i = 0; i < N_FILES / 2; i++)
		close(held[i]);
	if (s.failed)
		g_error("%s", s.failure);

	qsort(lat, changes, sizeof(*lat), cmp_double);
	g_test_message("%u outside changes; %d reads through the mount meanwhile "
		       "(%d empty and %d zero-filled: between truncate and write); "
		       "visible after: median %.2f ms, 99th percentile %.2f ms, "
		       "max %.2f ms", changes, s.reads, s.empty, s.zeros,
		       lat[changes / 2] * 1000, lat[changes * 99 / 100] * 1000,
		       lat[changes - 1] * 1000);
	g_assert_cmpint(s.reads, >, 0);
	g_assert_cmpfloat(lat[changes / 2], <=, 0.1);
	g_assert_true(mount_daemon_alive(m));
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * A FUSE backing directory (bindfs here) can change beneath its daemon,
 * where no watcher sees: cache=auto chooses timeout and says why, and an
 * explicit cache=watched runs but warns.
 */
static void test_fuse_backing(struct mount *m, gconstpointer data)
{
	static const char *const watched[] = { "-o", "cache=watched", NULL };
	g_autofree char *log = NULL;

	m->want_bindfs = true;
	mount_start(m, NULL);
	g_assert_cmpint(mount_stop(m), ==, 0);
	g_assert_true(g_file_get_contents(m->log, &log, NULL, NULL));
	g_test_message("%.*s", (int)strcspn(log, "\n"), log);
	g_assert_nonnull(strstr(log, "cache=timeout: names and attributes cached for 1 s, "
				"because the source is on fuse"));
	g_clear_pointer(&log, g_free);
	g_assert_true(g_file_set_contents(m->log, "", 0, NULL));
	mount_start(m, watched);
	g_assert_cmpint(mount_stop(m), ==, 0);
	g_assert_true(g_file_get_contents(m->log, &log, NULL, NULL));
	g_test_message("%s", log);
	g_assert_nonnull(strstr(log, "the source is on fuse: changes made to it elsewhere are not seen"));
}

/* The fanotify marks of daemon pid, as the kernel lists them in fdinfo:
 * marks on inodes, and on whole filesystems. */
static void fanotify_marks(pid_t pid, unsigned *inodes, unsigned *filesystems)
{
	g_autofree char *fds = g_strdup_printf("/proc/%d/fd", (int)pid);
	GDir *dir = g_dir_open(fds, 0, NULL);
	const char *fd;
	unsigned queues = 0;

	g_assert_nonnull(dir);
	*inodes = *filesystems = 0;
	while ((fd = g_dir_read_name(dir))) {
		g_autofree char *link = g_build_filename(fds, fd, NULL);
		g_autofree char *target = g_file_read_link(link, NULL);
		g_autofree char *info_path = NULL, *info = NULL;
		g_auto(GStrv) lines = NULL;

		if (!target || strcmp(target, "anon_inode:[fanotify]"))
			continue;
		queues++;
		info_path = g_strdup_printf("/proc/%d/fdinfo/%s", (int)pid, fd);
		g_assert_true(g_file_get_contents(info_path, &info, NULL, NULL));
		lines = g_strsplit(info, "\n", -1);
		for (char **l = lines; *l; l++) {
			if (g_str_has_prefix(*l, "fanotify ino:"))
				(*inodes)++;
			else if (g_str_has_prefix(*l, "fanotify sdev:"))
				(*filesystems)++;
		}
	}
	g_dir_close(dir);
	g_assert_cmpuint(queues, ==, 1);
}

struct marks_case {
	const char *user;   /* the daemon's, or NULL: root */
	bool busy;          /* files are made elsewhere on the filesystem */
};

/* Makes n files in dir, a directory the mount does not know. */
static void make_files_elsewhere(const char *dir, unsigned n)
{
	g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
	for (unsigned i = 0; i < n; i++) {
		g_autofree char *name = g_strdup_printf("%s/%u", dir, i);

		g_assert_true(g_file_set_contents(name, "x", 1, NULL));
	}
}

/*
 * How fanotify marks the source, read from the kernel: run by root, one
 * mark on the source's filesystem and none on its directories (so that a
 * read does not walk to its parent dentry); once files are made in a
 * directory the mount does not know (as elsewhere on that filesystem: each
 * an event its maker pays for), a mark per directory the kernel knows
 * instead, as for a daemon run by an ordinary user.  The source is a
 * tmpfs of its own: files other tests make elsewhere make no events.  Either way a file written in place outside, three directories
 * down, is seen through the mount well before its 60 s timeout (it is
 * cached in the kernel: see control-stale).
 */
static void test_marks(struct mount *m, gconstpointer data)
{
	static const char *const args[] = { "-o", "cache=watched,watcher=fanotify", NULL };
	const struct marks_case *c = data;
	const char *as_user = c->user;
	bool per_dir = as_user || c->busy;
	g_autofree char *deep = src_path(m, "a/b/c");
	g_autofree char *file = src_path(m, "a/b/c/f");
	g_autofree char *seen = mnt_path(m, "a/b/c/f");
	const char *cat[] = { "cat", seen, NULL };
	g_autofree char *out = NULL, *log = NULL;
	unsigned inodes, filesystems, tries = 0;
	gint64 t0;
	int fd;

	if (as_user) {
		m->uid = 65534;         /* nobody */
		m->gid = 65534;
	}
	mount_src_tmpfs(m, "8m");
	g_assert_cmpint(g_mkdir_with_parents(deep, 0755), ==, 0);
	g_assert_true(g_file_set_contents(file, "one", -1, NULL));
	g_assert_cmpint(chmod(file, 0644), ==, 0);
	mount_start(m, args);
	g_assert_cmpint(mount_run_as_user(m, cat, &out), ==, 0);
	g_assert_cmpstr(out, ==, "one");
	fanotify_marks(harness_find_daemon(m->mnt), &inodes, &filesystems);
	g_test_message("%s: %u inode marks, %u filesystem marks", as_user ? as_user : "root",
		       inodes, filesystems);
	if (c->busy) {
		g_autofree char *elsewhere = src_path(m, "elsewhere");

		g_assert_cmpuint(filesystems, ==, 1);
		make_files_elsewhere(elsewhere, 1000);
		t0 = g_get_monotonic_time();
		while (filesystems && g_get_monotonic_time() - t0 < 5 * G_USEC_PER_SEC) {
			g_usleep(20 * 1000);
			fanotify_marks(harness_find_daemon(m->mnt), &inodes, &filesystems);
		}
		g_test_message("1000 files made in a directory unknown to the mount: "
			       "%u inode marks, %u filesystem marks",
			       inodes, filesystems);
	}
	if (per_dir) {
		g_assert_cmpuint(filesystems, ==, 0);
		g_assert_cmpuint(inodes, >=, 4);        /* the root, a, b, c */
	} else {
		g_assert_cmpuint(filesystems, ==, 1);
		g_assert_cmpuint(inodes, ==, 0);
	}

	fd = open(file, O_WRONLY);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(pwrite(fd, "two", 3, 0), ==, 3);
	g_assert_cmpint(close(fd), ==, 0);
	t0 = g_get_monotonic_time();
	do {
		g_clear_pointer(&out, g_free);
		if (tries++)
			g_usleep(20 * 1000);
		g_assert_cmpint(mount_run_as_user(m, cat, &out), ==, 0);
	} while (strcmp(out, "two") && g_get_monotonic_time() - t0 < 5 * G_USEC_PER_SEC);
	g_test_message("written outside: seen after %.1f ms", (g_get_monotonic_time() - t0) / 1000.0);
	g_assert_cmpstr(out, ==, "two");

	g_assert_cmpint(mount_stop(m), ==, 0);
	g_assert_true(g_file_get_contents(m->log, &log, NULL, NULL));
	g_assert_nonnull(strstr(log, as_user ? "fanotify (a mark per directory)"
				: "fanotify (one mark on the source's filesystem)"));
	g_assert_true(!c->busy || strstr(log, "elsewhere on the source's filesystem"));
}

int main(int argc, char **argv)
{
	static const char *const fan[] = { "-o", "cache=watched,watcher=fanotify", NULL };
	static const char *const ino[] = { "-o", "cache=watched,watcher=inotify", NULL };
	static const char *const tmo[] = { "-o", "cache=timeout,timeout=0.5", NULL };
	static const char *const tmo_ro[] = { "-o", "ro,cache=timeout,timeout=0.5", NULL };
	static const char *const control[] = { "-o", "cache=timeout,timeout=60", NULL };
	static const char *const control_ro[] = { "-o", "ro,cache=timeout,timeout=60", NULL };
	static const char *const none[] = { "-o", "cache=none", NULL };
	static const char *const ro[] = { "-o", "ro,cache=watched", NULL };
	static const char *const rw_watched[] = { "-o", "cache=watched", NULL };
	static const struct marks_case marks[] = {
		{ NULL, false }, { NULL, true }, { "nobody", false },
	};
	static const struct mode modes[] = {
		{ "watched-fanotify", fan, 0.1 },
		{ "watched-inotify", ino, 0.1 },
		{ "watched-ro", ro, 0.1 },
		{ "timeout", tmo, 0.5 + 0.1 },
		{ "timeout-ro", tmo_ro, 0.5 + 0.1 },
		{ "none", none, 0 },
	};

	g_test_init(&argc, &argv, NULL);
	harness_init();
	for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
		g_autofree char *path = g_strdup_printf("/watch/%s", modes[i].name);

		MOUNT_TEST(path, test_mode, &modes[i]);
	}
	MOUNT_TEST("/watch/control-stale", test_control, control);
	MOUNT_TEST("/watch/control-stale-ro", test_control, control_ro);
	MOUNT_TEST("/watch/listing-cached", test_listing_cached, NULL);
	MOUNT_TEST("/watch/listing-not-cached-timeout", test_listing_cached, "timeout");
	MOUNT_TEST("/watch/own-changes", test_own_changes, NULL);
	MOUNT_TEST("/watch/marks-root", test_marks, &marks[0]);
	MOUNT_TEST("/watch/marks-busy-filesystem", test_marks, &marks[1]);
	MOUNT_TEST("/watch/marks-unprivileged", test_marks, &marks[2]);
	MOUNT_TEST("/watch/fuse-backing", test_fuse_backing, NULL);
	MOUNT_TEST("/watch/many-changes", test_many_changes, rw_watched);
	MOUNT_TEST("/watch/many-changes-ro", test_many_changes, ro);
	return g_test_run();
}
