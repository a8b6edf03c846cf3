/*
 * test_filedata.c - the file-data protocol (filedata.h): writers and
 * generations as the pusher sees them, keep_cache stamps, when a file's
 * mapping goes, and when a kept descriptor may stand for an open.
 */
#include <fcntl.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "mmapfs/filedata.h"

struct fixture {
	char *dir, *path;
	struct inode_table *inodes;
	struct mapcache *maps;
	struct inode *node;
	struct stat st;
	int fd;
};

static void fixture_set_up(struct fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	static const char bytes[8192] = { 1 };

	f->dir = g_dir_make_tmp("filedata-XXXXXX", &error);
	g_assert_no_error(error);
	f->path = g_build_filename(f->dir, "f", NULL);
	g_assert_true(g_file_set_contents(f->path, bytes, sizeof(bytes), NULL));
	f->inodes = inode_table_new(f->dir, NULL, &error);
	g_assert_no_error(error);
	f->maps = mapcache_new(4, 1 << 20);
	g_assert_cmpint(inode_lookup(f->inodes, inode_table_root(f->inodes), "f",
				     &f->st, &f->node), ==, 0);
	f->fd = open(f->path, O_RDONLY);
	g_assert_cmpint(f->fd, >=, 0);
}

static void fixture_tear_down(struct fixture *f, gconstpointer data)
{
	close(f->fd);
	inode_forget(f->inodes, f->node, 1);
	mapcache_free(f->maps);
	inode_table_free(f->inodes);
	g_unlink(f->path);
	g_rmdir(f->dir);
	g_free(f->path);
	g_free(f->dir);
}

/* Whether the file has a live mapping. */
static bool mapped(struct fixture *f)
{
	struct mapcache_map *m = mapcache_lookup(f->maps, &f->node->id);

	if (m)
		mapcache_put(f->maps, m);
	return m != NULL;
}

static void map_it(struct fixture *f)
{
	struct mapcache_map *m;

	g_assert_cmpint(mapcache_get(f->maps, &f->node->id, f->fd, &f->st, &m), ==, 0);
	mapcache_put(f->maps, m);
	g_assert_true(mapped(f));
}

static void test_push_bracket(struct fixture *f, gconstpointer data)
{
	int gen;

	g_assert_true(filedata_push_begin(f->node, &gen));
	g_assert_true(filedata_push_still_good(f->node, gen));
	/* A change during the store: taken back. */
	filedata_changing(f->maps, f->node, false);
	g_assert_false(filedata_push_still_good(f->node, gen));
	/* A writer: nothing stored, and a store that raced it taken back. */
	g_assert_true(filedata_push_begin(f->node, &gen));
	filedata_writer_open(f->node);
	g_assert_true(filedata_has_writers(f->node));
	g_assert_false(filedata_push_still_good(f->node, gen));
	g_assert_false(filedata_push_begin(f->node, &gen));
	filedata_writer_close(f->node);
	g_assert_false(filedata_has_writers(f->node));
	/* A writer that came and went while storing moved the generation. */
	g_assert_true(filedata_push_begin(f->node, &gen));
	filedata_writer_open(f->node);
	filedata_writer_close(f->node);
	g_assert_false(filedata_push_still_good(f->node, gen));
}

static void test_keep_cache(struct fixture *f, gconstpointer data)
{
	struct stat changed = f->st;

	g_assert_false(filedata_kernel_has(f->node, &f->st));
	g_assert_false(filedata_opened(f->maps, f->node, &f->st));
	g_assert_true(filedata_opened(f->maps, f->node, &f->st));
	g_assert_true(filedata_kernel_has(f->node, &f->st));
	changed.st_size++;
	g_assert_false(filedata_opened(f->maps, f->node, &changed));
	changed.st_mtim.tv_nsec ^= 1;
	filedata_pushed_whole(f->node, &changed);
	g_assert_true(filedata_kernel_has(f->node, &changed));
	g_assert_true(filedata_opened(f->maps, f->node, &changed));
}

/* Only what shrinks the file, or removes it, takes its mapping. */
static void test_mapping_goes(struct fixture *f, gconstpointer data)
{
	struct stat now;

	map_it(f);
	filedata_changing(f->maps, f->node, false);
	g_assert_true(mapped(f));
	filedata_changing(f->maps, f->node, true);
	g_assert_false(mapped(f));
	map_it(f);
	filedata_gone(f->maps, &f->node->id);
	g_assert_false(mapped(f));
	/* An open that finds another size or mtime: the old mapping goes. */
	map_it(f);
	g_assert_false(filedata_opened(f->maps, f->node, &f->st));
	g_assert_true(mapped(f));
	now = f->st;
	now.st_mtim.tv_nsec ^= 1;
	filedata_opened(f->maps, f->node, &now);
	g_assert_false(mapped(f));
	/* Changed outside, same identity: kept; shrunk: dropped, pread. */
	map_it(f);
	filedata_changed_outside(f->maps, f->node, &f->st);
	g_assert_true(mapped(f));
	g_assert_false(filedata_reads_by_pread(f->node));
	g_assert_cmpint(truncate(f->path, 100), ==, 0);
	g_assert_cmpint(fstat(f->fd, &now), ==, 0);
	filedata_changed_outside(f->maps, f->node, &now);
	g_assert_false(mapped(f));
	g_assert_true(filedata_reads_by_pread(f->node));
}

static void test_use_pread(struct fixture *f, gconstpointer data)
{
	struct mapcache_map *m;

	g_assert_false(filedata_reads_by_pread(f->node));
	g_assert_cmpint(mapcache_get(f->maps, &f->node->id, f->fd, &f->st, &m), ==, 0);
	filedata_shrank_under(f->maps, f->node, m);
	mapcache_put(f->maps, m);
	g_assert_false(mapped(f));
	/* The same drop, when the kernel's copy out of a reply failed. */
	map_it(f);
	g_assert_cmpint(mapcache_get(f->maps, &f->node->id, f->fd, &f->st, &m), ==, 0);
	filedata_shrank_during_reply(f->maps, m);
	mapcache_put(f->maps, m);
	g_assert_false(mapped(f));
	g_assert_true(filedata_reads_by_pread(f->node));
	g_assert_false(filedata_use_pread(f->node));   /* once is enough */
	g_assert_true(filedata_reads_by_pread(f->node));
}

/* filedata_reopen(): what was kept, as long as it is still the file's. */
static void test_reopen(struct fixture *f, gconstpointer data)
{
	struct fdcache *fds = fdcache_new(4, 60 * G_USEC_PER_SEC);
	struct fdcache *stale = fdcache_new(4, 0);
	struct fdcache_fd *kfd;
	struct stat st;

	g_assert_null(filedata_reopen(fds, f->inodes, f->node, &st));
	fdcache_keep(fds, &f->node->id, f->fd, &f->st, filedata_generation(f->node));
	kfd = filedata_reopen(fds, f->inodes, f->node, &st);
	g_assert_nonnull(kfd);
	g_assert_cmpint(st.st_size, ==, 8192);
	g_assert_true(S_ISREG(st.st_mode));
	fdcache_fd_unref(kfd);
	/* Not while a writer has it open. */
	filedata_writer_open(f->node);
	g_assert_null(filedata_reopen(fds, f->inodes, f->node, &st));
	filedata_writer_close(f->node);
	/* The generation moved: a stat confirms the file is as kept. */
	kfd = filedata_reopen(fds, f->inodes, f->node, &st);
	g_assert_nonnull(kfd);
	fdcache_fd_unref(kfd);
	/* Changed (outside, unseen): fresh, it is still given within the
	 * window; once the window is over (a window of 0), the stat finds the
	 * change and the kept descriptor goes. */
	g_assert_cmpint(truncate(f->path, 100), ==, 0);
	kfd = filedata_reopen(fds, f->inodes, f->node, &st);
	g_assert_nonnull(kfd);
	fdcache_fd_unref(kfd);
	fdcache_keep(stale, &f->node->id, f->fd, &f->st, filedata_generation(f->node));
	g_assert_null(filedata_reopen(stale, f->inodes, f->node, &st));
	g_assert_cmpuint(fdcache_size(stale), ==, 0);
	/* Read with pread only: never. */
	filedata_use_pread(f->node);
	g_assert_null(filedata_reopen(fds, f->inodes, f->node, &st));
	fdcache_free(stale);
	fdcache_free(fds);
}

/* The generation and the pread flag share a word: neither disturbs the
 * other. */
static void test_generation_and_pread(struct fixture *f, gconstpointer data)
{
	int gen;

	g_assert_true(filedata_push_begin(f->node, &gen));
	g_assert_true(filedata_use_pread(f->node));
	g_assert_true(filedata_reads_by_pread(f->node));
	/* The flag set during a store counts as a change: taken back. */
	g_assert_false(filedata_push_still_good(f->node, gen));
	g_assert_true(filedata_push_begin(f->node, &gen));
	for (int i = 0; i < 1000; i++)
		filedata_changing(f->maps, f->node, false);
	g_assert_false(filedata_push_still_good(f->node, gen));
	g_assert_true(filedata_reads_by_pread(f->node));
	g_assert_cmpint(filedata_generation(f->node), !=, gen);
}

/* The size the kernel may hold, with -o writeback: a bound from the
 * entry reply that made its inode, truncations, writes and stores. */
static void test_kernel_size(struct fixture *f, gconstpointer data)
{
	filedata_kernel_sized(f->node, 8192);
	g_assert_false(filedata_kernel_lacks(f->node, 8192));
	g_assert_false(filedata_kernel_lacks(f->node, 100));   /* shrank outside */
	g_assert_true(filedata_kernel_lacks(f->node, 8193));   /* grew */
	filedata_kernel_grew(f->node, 4096);                   /* never lowers */
	g_assert_false(filedata_kernel_lacks(f->node, 8192));
	filedata_kernel_grew(f->node, 12000);
	g_assert_false(filedata_kernel_lacks(f->node, 12000));
	g_assert_true(filedata_kernel_lacks(f->node, 12001));
	filedata_kernel_sized(f->node, 0);                     /* O_TRUNC */
	g_assert_true(filedata_kernel_lacks(f->node, 1));
	g_assert_false(filedata_kernel_lacks(f->node, 0));
	/* From 4 GiB on nothing is known: always lacking. */
	filedata_kernel_sized(f->node, (off_t)5 << 30);
	g_assert_true(filedata_kernel_lacks(f->node, 1));
	filedata_kernel_sized(f->node, 100);
	filedata_kernel_grew(f->node, (off_t)5 << 30);
	g_assert_true(filedata_kernel_lacks(f->node, 200));
}

/* An open that begins on another thread, and says when it has. */
static gpointer open_begins(gpointer data)
{
	struct fixture *f = data;

	filedata_open_begin(f->node);
	return GINT_TO_POINTER(1);
}

/*
 * The opens count: a store only by the one open in force, which holds a
 * new open's begin off until it is done; past OPENS_MAX opens the count
 * stays there (some, for good).
 */
static void test_opens(struct fixture *f, gconstpointer data)
{
	GThread *t;

	g_assert_false(filedata_store_begin(f->node));    /* no open: not ours */
	filedata_open_begin(f->node);
	g_assert_true(filedata_store_begin(f->node));
	t = g_thread_new("opener", open_begins, f);
	g_usleep(50000);
	/* Held off: the count is still the storer's alone. */
	g_assert_cmpuint(f->node->opens & 0x7f, ==, 1);
	filedata_store_done(f->node);
	g_assert_cmpint(GPOINTER_TO_INT(g_thread_join(t)), ==, 1);
	g_assert_false(filedata_store_begin(f->node));    /* two opens */
	filedata_open_end(f->node);
	g_assert_true(filedata_store_begin(f->node));
	filedata_store_done(f->node);
	filedata_open_end(f->node);
	filedata_open_end(f->node);                        /* never below 0 */
	g_assert_cmpuint(f->node->opens, ==, 0);
	for (int i = 0; i < OPENS_MAX + 5; i++)
		filedata_open_begin(f->node);
	for (int i = 0; i < OPENS_MAX + 5; i++)
		filedata_open_end(f->node);
	g_assert_cmpuint(f->node->opens, ==, OPENS_MAX);
	filedata_open_begin(f->node);
	g_assert_false(filedata_store_begin(f->node));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, struct fixture, NULL, fixture_set_up, \
				 fn, fixture_tear_down)
	ADD("/filedata/push-bracket", test_push_bracket);
	ADD("/filedata/keep-cache", test_keep_cache);
	ADD("/filedata/mapping-goes", test_mapping_goes);
	ADD("/filedata/use-pread", test_use_pread);
	ADD("/filedata/reopen", test_reopen);
	ADD("/filedata/generation-and-pread", test_generation_and_pread);
	ADD("/filedata/kernel-size", test_kernel_size);
	ADD("/filedata/opens", test_opens);
#undef ADD
	return g_test_run();
}
