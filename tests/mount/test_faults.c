/*
 * test_faults.c - the daemon under faults and odd input:
 *   - kill -9 of the daemon while four readers are busy: every reader gets
 *     an error (no hang), mmapfs-mount repairs the mount point, and a new
 *     daemon serves the same bytes;
 *   - backing files truncated, replaced by rename and deleted, 1,000 times,
 *     while readers read them through the mount: the daemon stays up and no
 *     read returns a record no version of the file held.  Zero-filled
 *     records are counted apart: the backing filesystem returns them
 *     itself in this race (ext4, read natively: 3 reads in 2.4 million over
 *     20,000 changes), and with the kernel's cache its FUSE client adds
 *     zero-filled page tails after a shrink (README, "Cache modes").  With
 *     cache=none (pread) no read fails; with mappings, a read that meets a
 *     page as it goes gets EIO, counted;
 *   - RLIMIT_NOFILE of 64: opens beyond it fail with EMFILE, nothing else,
 *     and succeed again once descriptors are free;
 *   - mmap refused (RLIMIT_AS below a 2 GiB file): reads go to pread and
 *     return the file's bytes;
 *   - a full backing filesystem: writes answer ENOSPC, what was written
 *     before stays intact, and writing works again once space is freed;
 *   - a directory of 100,000 entries, a path of 4,095 bytes, a file with
 *     no permissions at all.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "harness.h"
#include "mmapfs/mountinfo.h"

/* ---- kill -9 while readers are busy ---- */

#define N_READERS 4

struct busy {
	struct mount *m;
	gint done;
	gint errors[N_READERS];     /* the errno each reader ended with */
	gint reads;
};

struct busy_reader {
	struct busy *b;
	int index;
};

static gpointer busy_reader(gpointer data)
{
	struct busy_reader *r = data;
	g_autofree char *path = NULL;
	char buf[65536];

	path = mnt_path(r->b->m, r->index % 2 ? "big" : "small");
	for (;;) {
		int fd = open(path, O_RDONLY);
		ssize_t n = 0;
		off_t off = 0;

		if (fd < 0) {
			g_atomic_int_set(&r->b->errors[r->index], errno);
			break;
		}
		while ((n = pread(fd, buf, sizeof(buf), off)) > 0)
			off += n;
		close(fd);
		if (n < 0) {
			g_atomic_int_set(&r->b->errors[r->index], errno);
			break;
		}
		g_atomic_int_inc(&r->b->reads);
	}
	g_atomic_int_inc(&r->b->done);
	return NULL;
}

/* Aborts the FUSE connection of the mount at mnt (fusectl). */
static void abort_connection(const char *mnt)
{
	struct mountinfo_entry e;
	g_autofree char *abort_path = NULL;
	const char *colon;
	int fd;

	g_assert_true(mountinfo_find(mnt, "fuse", &e));
	colon = strchr(e.dev, ':');
	g_assert_nonnull(colon);
	if (access("/sys/fs/fuse/connections", F_OK) == 0 &&
	    !path_is_mounted("/sys/fs/fuse/connections"))
		g_assert_cmpint(mount("fusectl", "/sys/fs/fuse/connections", "fusectl",
				      0, NULL), ==, 0);
	abort_path = g_strdup_printf("/sys/fs/fuse/connections/%s/abort", colon + 1);
	fd = open(abort_path, O_WRONLY);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, "1", 1), ==, 1);
	close(fd);
}

static void test_kill9_readers(struct mount *m, gconstpointer data)
{
	g_autofree char *mount_sh = harness_script("mmapfs-mount");
	g_autofree char *umount_sh = harness_script("mmapfs-umount");
	g_autofree char *small = NULL, *big = NULL, *err = NULL;
	struct busy b = { 0 };
	struct busy_reader r[N_READERS];
	GThread *threads[N_READERS];
	int i;

	small = src_path(m, "small");
	big = src_path(m, "big");
	write_random_file(small, 10000, 1);
	write_random_file(big, 8 << 20, 2);
	mount_start(m, NULL);
	b.m = m;
	for (i = 0; i < N_READERS; i++) {
		r[i] = (struct busy_reader){ &b, i };
		threads[i] = g_thread_new("reader", busy_reader, &r[i]);
	}
	while (g_atomic_int_get(&b.reads) < 20)
		g_usleep(1000);
	g_assert_cmpint(kill(m->pid, SIGKILL), ==, 0);
	g_free(mount_daemon_state(m));     /* reaps it */
	for (i = 0; i < 300 && g_atomic_int_get(&b.done) < N_READERS; i++)
		g_usleep(10000);
	/* A daemon killed while its pusher stored pages into the kernel's
	 * cache (fuse_lowlevel_notify_store) can leave that thread waiting,
	 * unkillably, for a page a reader holds locked while it waits for
	 * the daemon: the connection never ends by itself (seen once in
	 * about six runs).  The kernel's own repair is to abort it. */
	if (g_atomic_int_get(&b.done) < N_READERS) {
		g_test_message("%d readers still blocked 3 s after the kill: aborting "
			       "the connection", N_READERS - g_atomic_int_get(&b.done));
		abort_connection(m->mnt);
	}
	for (i = 0; i < 1000 && g_atomic_int_get(&b.done) < N_READERS; i++)
		g_usleep(10000);
	if (g_atomic_int_get(&b.done) < N_READERS)
		g_error("%d readers still blocked 10 s after the daemon was killed",
			N_READERS - g_atomic_int_get(&b.done));
	for (i = 0; i < N_READERS; i++) {
		int e = b.errors[i];

		g_thread_join(threads[i]);
		g_test_message("reader %d ended with %s", i, g_strerror(e));
		g_assert_true(e == ENOTCONN || e == ECONNABORTED);
	}

	/* The script clears the dead mount; a new daemon serves the bytes. */
	{
		const char *argv[] = { mount_sh, m->src, m->mnt, NULL };

		g_assert_cmpint(harness_run(argv, NULL, NULL, &err), ==, 0);
		g_assert_nonnull(strstr(err, "cleared a dead mount"));
	}
	{
		g_autofree char *ms = mnt_path(m, "small"), *mb = mnt_path(m, "big");
		g_autoptr(GBytes) a = read_whole(small, 4096), c = read_whole(big, 1 << 20);
		g_autoptr(GBytes) a2 = read_whole(ms, 4096), c2 = read_whole(mb, 1 << 20);

		g_assert_true(g_bytes_equal(a, a2));
		g_assert_true(g_bytes_equal(c, c2));
	}
	{
		const char *argv[] = { umount_sh, m->mnt, NULL };

		g_assert_cmpint(harness_run(argv, NULL, NULL, NULL), ==, 0);
	}
}

/* ---- files truncated, renamed over and deleted under readers ---- */

#define CHURN_FILES 4
#define CHURN_CHANGES 1000
#define STORED(v) ((guint64)(v) | (0x5aull << 56))

struct churn {
	struct mount *m;
	gboolean strict;            /* cache=none: no read may fail */
	gint max_version;           /* (atomic) highest version begun */
	gint stop;
	gint reads, zero_reads, eio, failed;
	char failure[256];
};

/* Writes version v of a file: (v % 4 + 1) pages of STORED(v). */
static void write_churn(const char *path, guint64 v)
{
	size_t n = (v % 4 + 1) * 512;
	g_autofree guint64 *rec = g_new(guint64, n);
	int fd;

	for (size_t i = 0; i < n; i++)
		rec[i] = STORED(v);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, rec, n * 8), ==, (ssize_t)(n * 8));
	g_assert_cmpint(close(fd), ==, 0);
}

static void churn_check(struct churn *c, const guint64 *rec, size_t n, int file)
{
	guint64 max = (guint64)g_atomic_int_get(&c->max_version);
	size_t zeros = 0;

	for (size_t i = 0; i < n; i++) {
		guint64 v = rec[i] & ~(0xffull << 56);

		if (rec[i] == 0) {
			zeros++;
			continue;
		}
		if (rec[i] != STORED(v) || v > max || v % CHURN_FILES != (guint64)file) {
			if (g_atomic_int_compare_and_exchange(&c->failed, 0, 1))
				g_snprintf(c->failure, sizeof(c->failure),
					   "f%d: record %zu is %016" G_GINT64_MODIFIER
					   "x, which no version held", file, i, rec[i]);
			return;
		}
	}
	if (zeros)
		g_atomic_int_inc(&c->zero_reads);
}

static gpointer churn_reader(gpointer data)
{
	struct churn *c = data;
	g_autofree guint64 *rec = g_new(guint64, 4 * 512 + 1);
	GRand *rand = g_rand_new();

	while (!g_atomic_int_get(&c->stop)) {
		int file = g_rand_int_range(rand, 0, CHURN_FILES);
		g_autofree char *rel = g_strdup_printf("f%d", file);
		g_autofree char *path = mnt_path(c->m, rel);
		int fd = open(path, O_RDONLY);
		ssize_t n;

		if (fd < 0) {
			if (errno != ENOENT && g_atomic_int_compare_and_exchange(&c->failed, 0, 1))
				g_snprintf(c->failure, sizeof(c->failure), "open f%d: %s",
					   file, g_strerror(errno));
			continue;       /* between unlink and create */
		}
		/* Hold it a moment: the name may go meanwhile. */
		n = pread(fd, rec, (4 * 512 + 1) * 8, 0);
		close(fd);
		if (n < 0 && errno == EIO) {
			/* The file shrank between the daemon's probe of the
			 * mapping and the kernel's copy out of it: the kernel
			 * answers EIO (README, "How it works"); never bytes. */
			g_atomic_int_inc(&c->eio);
			continue;
		}
		if (n < 0) {
			if (g_atomic_int_compare_and_exchange(&c->failed, 0, 1))
				g_snprintf(c->failure, sizeof(c->failure), "read f%d: %s",
					   file, g_strerror(errno));
			continue;
		}
		g_atomic_int_inc(&c->reads);
		churn_check(c, rec, (size_t)n / 8, file);
	}
	g_rand_free(rand);
	return NULL;
}

static void test_churn(struct mount *m, gconstpointer data)
{
	const gboolean strict = GPOINTER_TO_INT(data);
	static const char *const none[] = { "-o", "cache=none", NULL };
	struct churn c = { 0 };
	GThread *threads[2];

	c.m = m;
	c.strict = strict;
	for (int f = 0; f < CHURN_FILES; f++) {
		g_autofree char *rel = g_strdup_printf("f%d", f);
		g_autofree char *p = src_path(m, rel);

		write_churn(p, (guint64)f);
	}
	g_atomic_int_set(&c.max_version, CHURN_FILES - 1);
	mount_start(m, strict ? none : NULL);
	for (int i = 0; i < 2; i++)
		threads[i] = g_thread_new("reader", churn_reader, &c);
	for (int v = CHURN_FILES; v < CHURN_FILES + CHURN_CHANGES; v++) {
		int f = v % CHURN_FILES;
		g_autofree char *rel = g_strdup_printf("f%d", f);
		g_autofree char *tmp_rel = g_strdup_printf("f%d.new", f);
		g_autofree char *p = src_path(m, rel);
		g_autofree char *tmp = src_path(m, tmp_rel);

		g_atomic_int_set(&c.max_version, v);
		switch (v / CHURN_FILES % 3) {
		case 0: {       /* shrunk, then written again */
			struct stat st;

			g_assert_cmpint(stat(p, &st), ==, 0);
			g_assert_cmpint(truncate(p, st.st_size / 16 * 8), ==, 0);
			write_churn(p, (guint64)v);
			break;
		}
		case 1:         /* replaced by rename */
			write_churn(tmp, (guint64)v);
			g_assert_cmpint(rename(tmp, p), ==, 0);
			break;
		default:        /* deleted, then created again */
			g_assert_cmpint(unlink(p), ==, 0);
			g_usleep(200);
			write_churn(p, (guint64)v);
			break;
		}
		if (g_atomic_int_get(&c.failed))
			break;
	}
	g_atomic_int_set(&c.stop, 1);
	for (int i = 0; i < 2; i++)
		g_thread_join(threads[i]);
	g_test_message("%d changes, %d reads through the mount, %d with zero-filled "
		       "records (the backing filesystem's, or the kernel's after a "
		       "shrink), %d answered EIO",
		       CHURN_CHANGES, c.reads, c.zero_reads, c.eio);
	if (c.failed) {
		g_autofree char *state = mount_daemon_state(m);

		g_error("%s (daemon %s)", c.failure, state);
	}
	g_assert_cmpint(c.reads, >, 0);
	if (strict)
		g_assert_cmpint(c.eio, ==, 0);    /* pread: never EIO */
	g_assert_true(mount_daemon_alive(m));
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* ---- descriptors run out ---- */

static void test_nofile(struct mount *m, gconstpointer data)
{
	enum { FILES = 200 };
	int fds[FILES], opened = 0, refused = 0;

	for (int i = 0; i < FILES; i++) {
		g_autofree char *rel = g_strdup_printf("f%03d", i);
		g_autofree char *p = src_path(m, rel);

		g_assert_true(g_file_set_contents(p, rel, -1, NULL));
	}
	m->nofile = 64;
	mount_start(m, NULL);
	for (int i = 0; i < FILES; i++) {
		g_autofree char *rel = g_strdup_printf("f%03d", i);
		g_autofree char *p = mnt_path(m, rel);

		fds[i] = open(p, O_RDONLY);
		if (fds[i] >= 0) {
			opened++;
		} else {
			g_assert_true(errno == EMFILE || errno == ENFILE);
			refused++;
		}
	}
	g_test_message("with 64 descriptors: %d files held open, %d refused", opened, refused);
	g_assert_cmpint(refused, >, 0);
	g_assert_cmpint(opened, >, 0);
	/* Said in the log, once, with the limit. */
	{
		g_autofree char *log = NULL;
		const char *said;

		g_assert_true(g_file_get_contents(m->log, &log, NULL, NULL));
		said = strstr(log, "out of file descriptors (limit 64,");
		g_assert_nonnull(said);
		g_assert_null(strstr(said + 1, "out of file descriptors"));
	}
	for (int i = 0; i < FILES; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* Descriptors are free again: every file opens and reads. */
	for (int i = 0; i < FILES; i++) {
		g_autofree char *rel = g_strdup_printf("f%03d", i);
		g_autofree char *p = mnt_path(m, rel);
		g_autoptr(GBytes) b = NULL;
		int fd = -1;

		/* The kernel releases asynchronously: the daemon may still be
		 * closing the last batch for a moment. */
		for (int tries = 0; tries < 100 && fd < 0; tries++) {
			fd = open(p, O_RDONLY);
			if (fd < 0)
				g_usleep(10000);
		}
		g_assert_cmpint(fd, >=, 0);
		close(fd);
		b = read_whole(p, 4096);
		g_assert_cmpmem(g_bytes_get_data(b, NULL), g_bytes_get_size(b), rel, strlen(rel));
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* ---- mmap refused ---- */

static void test_mmap_refused(struct mount *m, gconstpointer data)
{
	const off_t size = 2ll << 30;
	const off_t offsets[] = { 0, 1 << 20, (1ll << 30) + 12345, size - 4096 };
	g_autofree char *big = NULL, *tbig = NULL, *log = NULL;
	int fd;

	if (harness_sanitized()) {
		g_test_skip("a sanitizer's shadow memory needs more address space "
			    "than the limit this test sets");
		return;
	}
	big = src_path(m, "big");
	fd = open(big, O_WRONLY | O_CREAT, 0644);
	g_assert_cmpint(fd, >=, 0);
	for (size_t i = 0; i < G_N_ELEMENTS(offsets); i++) {
		char rec[64];

		g_snprintf(rec, sizeof(rec), "record at %lld", (long long)offsets[i]);
		g_assert_cmpint(pwrite(fd, rec, strlen(rec), offsets[i]), ==, (ssize_t)strlen(rec));
	}
	g_assert_cmpint(ftruncate(fd, size), ==, 0);
	close(fd);
	/* Room for the daemon and its threads, not for a 2 GiB mapping; and
	 * the file read by the daemon (not handed over to the kernel). */
	m->max_as = 1ull << 30;
	mount_start(m, (const char *const[]){ "-o", "passthrough=off", NULL });
	tbig = mnt_path(m, "big");
	fd = open(tbig, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	for (size_t i = 0; i < G_N_ELEMENTS(offsets); i++) {
		char want[64], got[64];
		size_t len;

		len = (size_t)g_snprintf(want, sizeof(want), "record at %lld",
					 (long long)offsets[i]);
		g_assert_cmpint(pread(fd, got, len, offsets[i]), ==, (ssize_t)len);
		g_assert_cmpmem(got, len, want, len);
	}
	{
		char zero[4096], buf[4096];

		memset(zero, 0, sizeof(zero));
		g_assert_cmpint(pread(fd, buf, sizeof(buf), 3 << 20), ==, sizeof(buf));
		g_assert_cmpmem(buf, sizeof(buf), zero, sizeof(zero));
	}
	close(fd);
	g_assert_cmpint(mount_stop(m), ==, 0);
	g_assert_true(g_file_get_contents(m->log, &log, NULL, NULL));
	g_assert_nonnull(strstr(log, "cannot map 'big': "));   /* by path */
}

/* ---- the backing filesystem fills up ---- */

static void test_enospc(struct mount *m, gconstpointer data)
{
	g_autofree char *a = NULL, *b = NULL, *c = NULL, *sa = NULL;
	g_autofree char *buf = g_malloc(1 << 20);
	gboolean full = FALSE;
	int fd;

	mount_src_tmpfs(m, "4m");
	mount_start(m, NULL);
	a = mnt_path(m, "a");
	b = mnt_path(m, "b");
	c = mnt_path(m, "c");
	sa = src_path(m, "a");
	write_random_file(a, 1 << 20, 7);

	fd = open(b, O_WRONLY | O_CREAT, 0644);
	g_assert_cmpint(fd, >=, 0);
	memset(buf, 'b', 1 << 20);
	for (int i = 0; i < 8 && !full; i++) {
		ssize_t n = write(fd, buf, 1 << 20);

		if (n < 0) {
			g_assert_cmpint(errno, ==, ENOSPC);
			full = TRUE;
		}
	}
	if (!full) {
		g_assert_cmpint(fsync(fd), ==, -1);
		g_assert_cmpint(errno, ==, ENOSPC);
		full = TRUE;
	}
	close(fd);
	{
		/* What was written before is intact, through the mount and in
		 * the backing directory. */
		g_autoptr(GBytes) x = read_whole(a, 65536), y = read_whole(sa, 65536);

		g_assert_cmpuint(g_bytes_get_size(x), ==, 1 << 20);
		g_assert_true(g_bytes_equal(x, y));
	}
	g_assert_true(mount_daemon_alive(m));
	g_assert_cmpint(unlink(b), ==, 0);
	write_random_file(c, 1 << 20, 8);
	{
		g_autoptr(GBytes) z = read_whole(c, 65536);

		g_assert_cmpuint(g_bytes_get_size(z), ==, 1 << 20);
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* ---- a huge directory, a long path, no permissions ---- */

static void test_odd_tree(struct mount *m, gconstpointer data)
{
	enum { ENTRIES = 100000 };
	g_autofree char *big = NULL, *tbig = NULL;
	g_autoptr(GString) rel = g_string_new(NULL);
	unsigned seen = 0;
	struct dirent *de;
	DIR *d;
	int dfd, fd, mfd;

	big = src_path(m, "big");
	g_assert_cmpint(g_mkdir(big, 0755), ==, 0);
	dfd = open(big, O_RDONLY | O_DIRECTORY);
	for (int i = 0; i < ENTRIES; i++) {
		char name[32];

		g_snprintf(name, sizeof(name), "entry-%06d", i);
		fd = openat(dfd, name, O_WRONLY | O_CREAT, 0644);
		g_assert_cmpint(fd, >=, 0);
		close(fd);
	}
	close(dfd);

	/* A relative path of 4,095 bytes (PATH_MAX with its NUL). */
	dfd = open(m->src, O_RDONLY | O_DIRECTORY);
	while (rel->len + 201 + 20 < 4095) {
		char comp[201];

		memset(comp, 'p', 200);
		comp[200] = '\0';
		g_assert_cmpint(mkdirat(dfd, comp, 0755), ==, 0);
		fd = openat(dfd, comp, O_RDONLY | O_DIRECTORY);
		close(dfd);
		dfd = fd;
		g_string_append_printf(rel, "%s/", comp);
	}
	{
		size_t last = 4095 - rel->len;
		g_autofree char *name = g_malloc(last + 1);

		memset(name, 'f', last);
		name[last] = '\0';
		g_assert_cmpuint(last, <=, 255);
		fd = openat(dfd, name, O_WRONLY | O_CREAT, 0644);
		g_assert_cmpint(write(fd, "deep", 4), ==, 4);
		close(fd);
		g_string_append(rel, name);
		g_assert_cmpuint(rel->len, ==, 4095);
	}
	close(dfd);
	g_free(big);
	big = src_path(m, "none");
	fd = open(big, O_WRONLY | O_CREAT, 0);
	g_assert_cmpint(write(fd, "root reads this", 15), ==, 15);
	close(fd);

	mount_start(m, NULL);
	tbig = mnt_path(m, "big");
	d = opendir(tbig);
	g_assert_nonnull(d);
	while ((de = readdir(d)))
		seen += g_str_has_prefix(de->d_name, "entry-");
	closedir(d);
	g_test_message("listed %u of %d entries", seen, ENTRIES);
	g_assert_cmpuint(seen, ==, ENTRIES);
	{
		g_autofree char *one = mnt_path(m, "big/entry-099999");
		struct stat st;

		g_assert_cmpint(lstat(one, &st), ==, 0);
	}

	mfd = open(m->mnt, O_RDONLY | O_DIRECTORY);
	g_assert_cmpint(mfd, >=, 0);
	fd = openat(mfd, rel->str, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	{
		char buf[8];

		g_assert_cmpint(read(fd, buf, sizeof(buf)), ==, 4);
		g_assert_cmpmem(buf, 4, "deep", 4);
	}
	close(fd);
	g_string_append_c(rel, 'x');        /* 4,096 bytes: too long */
	g_assert_cmpint(openat(mfd, rel->str, O_RDONLY), ==, -1);
	g_assert_cmpint(errno, ==, ENAMETOOLONG);
	close(mfd);

	{
		/* Mode 000: root reads it through the mount, as natively. */
		g_autofree char *t = mnt_path(m, "none");
		g_autoptr(GBytes) b = read_whole(t, 4096);

		g_assert_cmpuint(g_bytes_get_size(b), ==, 15);
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	MOUNT_TEST("/faults/kill-9-readers", test_kill9_readers, NULL);
	MOUNT_TEST("/faults/churn-cache-none", test_churn, GINT_TO_POINTER(TRUE));
	MOUNT_TEST("/faults/churn-watched", test_churn, GINT_TO_POINTER(FALSE));
	MOUNT_TEST("/faults/nofile", test_nofile, NULL);
	MOUNT_TEST("/faults/mmap-refused", test_mmap_refused, NULL);
	MOUNT_TEST("/faults/enospc", test_enospc, NULL);
	MOUNT_TEST("/faults/odd-tree", test_odd_tree, NULL);
	return g_test_run();
}
