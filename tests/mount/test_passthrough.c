/*
 * test_passthrough.c - kernel passthrough of opened files (-o passthrough=).
 *
 * In force, from the statistics: with -o passthrough=rw a file reads back
 * whole with no READ reaching the daemon, and with the control mount
 * (passthrough=off) the same reading takes READs; auto hands large files
 * over and leaves small ones to the mapping path.  Mixed opens of one inode
 * (read-only and read-write, a client's mmap, another open in flight, many
 * threads at once) never fail with EIO, whichever path each open takes,
 * and every backing id is given back once the last open goes.  Coherence:
 * writes through the mount and outside it, truncation, and a later open
 * that goes through the mapping path (the file shrank below auto's size)
 * all see the file's bytes.  Where passthrough cannot work the daemon says
 * why in one line and serves through the mapping path: run as an ordinary
 * user, over a source that is itself a passthrough mount (stacking), and
 * with cache=none.
 *
 * Each case skips, saying so, on a kernel that does not offer passthrough.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "harness.h"

#define BIG (1024 * 1024)

static void mount_with(struct mount *m, const char *o)
{
	const char *opts[] = { "-o", o, NULL };

	mount_start(m, opts);
}

static char *daemon_log(const struct mount *m)
{
	char *text = NULL;

	g_assert_true(g_file_get_contents(m->log, &text, NULL, NULL));
	return text;
}

/* Skips (true) where the kernel offers no passthrough: the daemon said. */
static bool kernel_lacks_passthrough(const struct mount *m)
{
	g_autofree char *log = daemon_log(m);

	if (!strstr(log, "the kernel does not offer it"))
		return false;
	g_test_skip("this kernel offers no FUSE passthrough");
	return true;
}

/* The "passthrough MODE" line of the statistics. */
static char *stats_mode(const struct mount *m)
{
	g_autofree char *text = mount_stats(m);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	for (int i = 0; lines[i]; i++)
		if (g_str_has_prefix(lines[i], "passthrough "))
			return g_strdup(lines[i] + strlen("passthrough "));
	return g_strdup("(none)");
}

static void assert_same_bytes(const char *a, const char *b)
{
	g_autoptr(GBytes) x = read_whole(a, 65536);
	g_autoptr(GBytes) y = read_whole(b, 65536);

	g_assert_true(g_bytes_equal(x, y));
}

/* Waits until every backing id has been given back (releases are
 * asynchronous), for at most 5 s. */
static guint64 backing_live_settled(const struct mount *m)
{
	guint64 live = 0;

	for (int i = 0; i < 500; i++) {
		live = mount_stat(m, "passthrough_backing");
		if (live == 0)
			break;
		g_usleep(10000);
	}
	return live;
}

/*
 * Mounts with o over a file of BIG bytes and reads it back whole, equal to
 * the backing file; the mode in force after it, or NULL (the case skipped)
 * on a kernel without passthrough.
 */
static char *read_big_through(struct mount *m, const char *o, guint32 seed)
{
	g_autofree char *src = src_path(m, "big");
	g_autofree char *mnt = mnt_path(m, "big");

	write_random_file(src, BIG, seed);
	mount_with(m, o);
	if (kernel_lacks_passthrough(m))
		return NULL;
	assert_same_bytes(src, mnt);
	return stats_mode(m);
}

static void test_in_force(struct mount *m, gconstpointer data)
{
	g_autofree char *mode = read_big_through(m, "passthrough=rw", 1);

	if (!mode)
		return;
	g_assert_cmpstr(mode, ==, "rw");
	g_assert_cmpuint(mount_stat(m, "passthrough_opens"), >=, 1);
	g_assert_cmpuint(mount_stat(m, "passthrough_fallbacks"), ==, 0);
	/* Read by the kernel from the backing file: no READ came here. */
	g_assert_cmpuint(mount_stat(m, "op.read.requests"), ==, 0);
	g_assert_cmpuint(mount_stat(m, "bytes_read"), ==, 0);
	g_assert_cmpuint(backing_live_settled(m), ==, 0);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* The control: the same reading with passthrough off takes READs. */
static void test_control_off(struct mount *m, gconstpointer data)
{
	g_autofree char *mode = read_big_through(m, "passthrough=off", 2);

	g_assert_nonnull(mode);     /* off is never skipped */
	g_assert_cmpstr(mode, ==, "off");
	g_assert_cmpuint(mount_stat(m, "passthrough_opens"), ==, 0);
	g_assert_cmpuint(mount_stat(m, "op.read.requests"), >, 0);
	g_assert_cmpuint(mount_stat(m, "bytes_read"), ==, BIG);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

static int open_ok(const char *path, int flags)
{
	int fd = open(path, flags);

	if (fd < 0)
		g_error("open('%s', %#x): %s", path, flags, g_strerror(errno));
	return fd;
}

/* auto: the large file is handed over, the small one only when opened
 * for writing. */
static void test_auto_by_size(struct mount *m, gconstpointer data)
{
	g_autofree char *small_src = src_path(m, "small");
	g_autofree char *small_mnt = mnt_path(m, "small");
	g_autofree char *big_src = src_path(m, "big");
	g_autofree char *big_mnt = mnt_path(m, "big");
	g_autofree char *mode = NULL;

	if (mount_passthrough_forced()) {
		g_test_skip("the suite forces a passthrough mode");
		return;
	}
	write_random_file(small_src, 4096, 3);
	write_random_file(big_src, BIG, 4);
	mount_start(m, NULL);
	if (kernel_lacks_passthrough(m))
		return;
	mode = stats_mode(m);
	g_assert_cmpstr(mode, ==, "auto");
	assert_same_bytes(small_src, small_mnt);
	g_assert_cmpuint(mount_stat(m, "passthrough_opens"), ==, 0);
	g_assert_cmpuint(mount_stat(m, "bytes_read"), ==, 4096);
	assert_same_bytes(big_src, big_mnt);
	g_assert_cmpuint(mount_stat(m, "passthrough_opens"), ==, 1);
	g_assert_cmpuint(mount_stat(m, "bytes_read"), ==, 4096);
	/* Opened for writing, the small one is handed over too. */
	close(open_ok(small_mnt, O_WRONLY));
	g_assert_cmpuint(mount_stat(m, "passthrough_opens"), ==, 2);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* Reads 8 bytes at off through fd and through a fresh mapping of fd. */
static void assert_reads(int fd, off_t off, const char *want)
{
	char buf[8];
	char *map;

	g_assert_cmpint(pread(fd, buf, 8, off), ==, 8);
	g_assert_cmpmem(buf, 8, want, 8);
	map = mmap(NULL, BIG, PROT_READ, MAP_SHARED, fd, 0);
	g_assert_true(map != MAP_FAILED);
	g_assert_cmpmem(map + off, 8, want, 8);
	munmap(map, BIG);
}

struct mixer {
	const char *path;
	int id;
	int failures;
};

/* Opens the file again and again, read-only or read-write, reading
 * through read(2) or a mapping. */
static void *mix(void *data)
{
	struct mixer *x = data;
	GRand *r = g_rand_new_with_seed((guint32)x->id);

	for (int i = 0; i < 300; i++) {
		int flags = g_rand_boolean(r) ? O_RDONLY : O_RDWR;
		int fd = open(x->path, flags);
		char buf[4096];

		if (fd < 0) {
			x->failures++;
			continue;
		}
		if (g_rand_boolean(r)) {
			char *map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);

			if (map == MAP_FAILED)
				x->failures++;
			else
				munmap(map, 4096);
		} else if (pread(fd, buf, sizeof(buf), g_rand_int_range(r, 0, BIG / 4096) * 4096) !=
			   sizeof(buf)) {
			x->failures++;
		}
		close(fd);
	}
	g_rand_free(r);
	return NULL;
}

/*
 * -o passthrough=ro: read-only opens are handed over, read-write ones are
 * not, unless the inode is handed over already; neither order gives EIO.
 */
static void test_mixed_opens(struct mount *m, gconstpointer data)
{
	g_autofree char *src = src_path(m, "f");
	g_autofree char *mnt = mnt_path(m, "f");
	struct mixer x[4];
	pthread_t t[4];
	int ro, rw;

	write_random_file(src, BIG, 5);
	mount_with(m, "passthrough=ro");
	if (kernel_lacks_passthrough(m))
		return;
	/* A passthrough open first: the read-write one must follow it. */
	ro = open_ok(mnt, O_RDONLY);
	rw = open_ok(mnt, O_RDWR);
	g_assert_cmpuint(mount_stat(m, "passthrough_opens"), ==, 2);
	g_assert_cmpint(pwrite(rw, "written1", 8, 4096), ==, 8);
	assert_reads(ro, 4096, "written1");
	assert_reads(rw, 4096, "written1");
	close(ro);
	close(rw);
	g_assert_cmpuint(backing_live_settled(m), ==, 0);
	/* A cached open first: the read-only one must follow it. */
	rw = open_ok(mnt, O_RDWR);
	ro = open_ok(mnt, O_RDONLY);
	g_assert_cmpuint(mount_stat(m, "passthrough_opens"), ==, 2);
	g_assert_cmpuint(mount_stat(m, "passthrough_fallbacks"), ==, 1);
	g_assert_cmpint(pwrite(rw, "written2", 8, 8192), ==, 8);
	assert_reads(ro, 8192, "written2");
	close(ro);
	close(rw);
	/* Many at once, in every order. */
	for (int i = 0; i < 4; i++) {
		x[i] = (struct mixer){ .path = mnt, .id = i };
		g_assert_cmpint(pthread_create(&t[i], NULL, mix, &x[i]), ==, 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		g_assert_cmpint(x[i].failures, ==, 0);
	}
	g_assert_cmpuint(backing_live_settled(m), ==, 0);
	g_assert_cmpuint(mount_stat(m, "errors_io"), ==, 0);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * Default mount (auto): a large file handed over, written through the
 * mount and outside it, mapped by a client, then truncated through the
 * mount below auto's size: the next open goes through the mapping path,
 * and must not be given the pages the kernel held before.
 */
static void test_coherence(struct mount *m, gconstpointer data)
{
	g_autofree char *src = src_path(m, "f");
	g_autofree char *mnt = mnt_path(m, "f");
	char buf[8];
	char *map;
	int fd, out;

	write_random_file(src, BIG, 6);
	mount_with(m, "passthrough=auto");
	if (kernel_lacks_passthrough(m))
		return;
	fd = open_ok(mnt, O_RDWR);
	map = mmap(NULL, BIG, PROT_READ, MAP_SHARED, fd, 0);
	g_assert_true(map != MAP_FAILED);
	/* Outside: seen by read(2) and by the client's mapping at once. */
	out = open_ok(src, O_WRONLY);
	g_assert_cmpint(pwrite(out, "outside1", 8, 100), ==, 8);
	close(out);
	g_assert_cmpint(pread(fd, buf, 8, 100), ==, 8);
	g_assert_cmpmem(buf, 8, "outside1", 8);
	g_assert_cmpmem(map + 100, 8, "outside1", 8);
	/* Through the mount: on the backing file at once. */
	g_assert_cmpint(pwrite(fd, "inside01", 8, 200), ==, 8);
	out = open_ok(src, O_RDONLY);
	g_assert_cmpint(pread(out, buf, 8, 200), ==, 8);
	g_assert_cmpmem(buf, 8, "inside01", 8);
	close(out);
	munmap(map, BIG);
	/* Shrunk below auto's size, and changed: the next open is cached. */
	g_assert_cmpint(ftruncate(fd, 100000), ==, 0);
	g_assert_cmpint(pwrite(fd, "shrunk01", 8, 300), ==, 8);
	close(fd);
	g_assert_cmpuint(mount_stat(m, "passthrough_opens"), ==, 1);
	assert_same_bytes(src, mnt);
	g_assert_cmpuint(mount_stat(m, "passthrough_opens"), ==, 1);
	g_assert_cmpuint(mount_stat(m, "bytes_read"), >, 0);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* Where it cannot work: one line saying why, and the mapping path. */
static void assert_refused(struct mount *m, const char *why)
{
	g_autofree char *src = src_path(m, "big");
	g_autofree char *mnt = mnt_path(m, "big");
	g_autofree char *log = NULL;
	g_autofree char *stats = NULL;
	g_auto(GStrv) lines = NULL;
	int said = 0;

	if (m->uid) {
		const char *cmp[] = { "cmp", src, mnt, NULL };
		const char *ctl[] = { g_getenv("MMAPFS_CTL"), "stats", m->mnt, NULL };

		g_assert_cmpint(mount_run_as_user(m, cmp, NULL), ==, 0);
		g_assert_cmpint(mount_run_as_user(m, ctl, &stats), ==, 0);
	} else {
		assert_same_bytes(src, mnt);
		stats = mount_stats(m);
	}
	g_assert_cmpuint(stats_value(stats, "passthrough_opens"), ==, 0);
	g_assert_cmpuint(stats_value(stats, "bytes_read"), >, 0);
	g_assert_nonnull(strstr(stats, "\npassthrough off\n"));
	log = daemon_log(m);
	lines = g_strsplit(log, "\n", -1);
	for (int i = 0; lines[i]; i++)
		if (strstr(lines[i], "passthrough:")) {
			said++;
			g_test_message("%s", lines[i]);
			g_assert_nonnull(strstr(lines[i], why));
		}
	g_assert_cmpint(said, ==, 1);
}

static void test_refused_unprivileged(struct mount *m, gconstpointer data)
{
	g_autofree char *src = src_path(m, "big");

	write_random_file(src, BIG, 7);
	g_assert_cmpint(chmod(src, 0644), ==, 0);
	m->uid = 65534;         /* nobody */
	m->gid = 65534;
	mount_with(m, "passthrough=rw");
	assert_refused(m, "does not run as root");
	g_assert_cmpint(mount_stop(m), ==, 0);
}

static void test_refused_cache_none(struct mount *m, gconstpointer data)
{
	g_autofree char *src = src_path(m, "big");

	write_random_file(src, BIG, 8);
	mount_with(m, "passthrough=rw,cache=none");
	assert_refused(m, "cache=none");
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * The source is itself a mount using passthrough (a stacked filesystem):
 * the kernel refuses its files as backing files (ELOOP), and the upper
 * mount serves them through the mapping path, saying so once.
 */
static void test_refused_stacked(struct mount *m, gconstpointer data)
{
	struct mount upper = { 0 };
	g_autofree char *src = src_path(m, "big");
	g_autofree char *log = NULL;
	g_autofree char *upper_mnt = NULL;

	if (backing_is_fuse()) {
		g_test_skip("the lower mount is over bindfs already");
		return;
	}
	write_random_file(src, BIG, 9);
	mount_with(m, "passthrough=rw");
	if (kernel_lacks_passthrough(m))
		return;
	mount_prepare(&upper, "passthrough-upper");
	/* The upper mount's source is the lower mount (not its own src/). */
	g_free(upper.src);
	upper.src = g_strdup(m->mnt);
	mount_with(&upper, "passthrough=rw");
	upper_mnt = mnt_path(&upper, "big");
	assert_same_bytes(src, upper_mnt);
	g_assert_cmpuint(mount_stat(&upper, "passthrough_opens"), ==, 0);
	g_assert_cmpuint(mount_stat(&upper, "passthrough_fallbacks"), >=, 1);
	g_assert_cmpuint(mount_stat(&upper, "bytes_read"), >, 0);
	log = daemon_log(&upper);
	g_assert_nonnull(strstr(log, "stacked filesystem"));
	g_assert_cmpint(mount_stop(&upper), ==, 0);
	/* mount_cleanup() removes upper's own directory, not its source. */
	g_free(upper.src);
	upper.src = g_build_filename(upper.root, "src", NULL);
	mount_cleanup(&upper);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * A source on a network or FUSE filesystem (bindfs here, standing for
 * sshfs): auto leaves its files to the mapping path, saying why once; the
 * control, -o passthrough=rw over the same source, hands them over (so
 * the kernel would have taken them: the refusal is auto's).
 */
static void test_auto_leaves_fuse_source(struct mount *m, gconstpointer data)
{
	g_autofree char *src = src_path(m, "big");
	g_autofree char *mnt = mnt_path(m, "big");

	write_random_file(src, BIG, 10);
	m->want_bindfs = true;
	mount_with(m, "passthrough=auto");
	if (kernel_lacks_passthrough(m))
		return;
	assert_refused(m, "network or FUSE");
	g_assert_cmpint(mount_stop(m), ==, 0);
	g_assert_true(g_file_set_contents(m->log, "", 0, NULL));
	mount_with(m, "passthrough=rw");
	assert_same_bytes(src, mnt);
	if (mount_stat(m, "passthrough_opens") < 1) {
		/* Seen once under ASan in a parallel run: say why next time. */
		g_autofree char *log = NULL;

		g_assert_cmpint(mount_stop(m), ==, 0);
		g_assert_true(g_file_get_contents(m->log, &log, NULL, NULL));
		g_test_message("no passthrough open; the daemon's log:\n%s", log);
		g_assert_not_reached();
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	MOUNT_TEST("/passthrough/in-force", test_in_force, NULL);
	MOUNT_TEST("/passthrough/control-off", test_control_off, NULL);
	MOUNT_TEST("/passthrough/auto-by-size", test_auto_by_size, NULL);
	MOUNT_TEST("/passthrough/mixed-opens", test_mixed_opens, NULL);
	MOUNT_TEST("/passthrough/coherence", test_coherence, NULL);
	MOUNT_TEST("/passthrough/refused-unprivileged", test_refused_unprivileged, NULL);
	MOUNT_TEST("/passthrough/refused-cache-none", test_refused_cache_none, NULL);
	MOUNT_TEST("/passthrough/refused-stacked", test_refused_stacked, NULL);
	MOUNT_TEST("/passthrough/auto-leaves-fuse-source", test_auto_leaves_fuse_source, NULL);
	return g_test_run();
}
