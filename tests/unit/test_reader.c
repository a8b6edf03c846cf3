/*
 * test_reader.c - the read engine (reader.h) driven against real files,
 * some truncated or grown between two plans, without mounting anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "mmapfs/fdcache.h"
#include "mmapfs/filedata.h"
#include "mmapfs/inode.h"
#include "mmapfs/mapcache.h"
#include "mmapfs/reader.h"
#include "mmapfs/safecopy.h"

#define PAGE 4096

struct fixture {
	char *dir;
	struct inode_table *inodes;
	struct mapcache *maps;
	struct reader r;
};

static void fixture_set_up(struct fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	f->dir = g_dir_make_tmp("reader-XXXXXX", &error);
	g_assert_no_error(error);
	f->inodes = inode_table_new(f->dir, NULL, &error);
	g_assert_no_error(error);
	f->maps = mapcache_new(16, 1ull << 30);
	f->r = (struct reader){ .inodes = f->inodes, .maps = f->maps,
				.page_size = (size_t)sysconf(_SC_PAGESIZE) };
	g_assert_cmpuint(f->r.page_size, ==, PAGE);
}

static void fixture_tear_down(struct fixture *f, gconstpointer data)
{
	g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
	const char *name;

	mapcache_free(f->maps);
	inode_table_free(f->inodes);
	while ((name = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(f->dir, name, NULL);

		g_unlink(p);
	}
	g_rmdir(f->dir);
	g_free(f->dir);
}

/*
 * Writes len bytes of a pattern (byte i is i % 251) at the start of name,
 * creating it, or in place (the same inode) when it exists.
 */
static void make_file(struct fixture *f, const char *name, size_t len)
{
	g_autofree char *p = g_build_filename(f->dir, name, NULL);
	g_autofree char *buf = g_malloc(len + 1);
	int fd = open(p, O_WRONLY | O_CREAT, 0644);

	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(i % 251);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(pwrite(fd, buf, len, 0), ==, (ssize_t)len);
	close(fd);
}

static void resize(struct fixture *f, const char *name, off_t len)
{
	g_autofree char *p = g_build_filename(f->dir, name, NULL);

	g_assert_cmpint(truncate(p, len), ==, 0);
}

/* The node of name, and an open file of it as an open() would give. */
static struct inode_file open_file(struct fixture *f, const char *name)
{
	struct inode *node;
	struct stat st;

	g_assert_cmpint(inode_lookup(f->inodes, inode_table_root(f->inodes), name,
				     &st, &node), ==, 0);
	return (struct inode_file){ .node = node,
				    .fd = inode_open(f->inodes, node, O_RDONLY) };
}

static void close_file(struct fixture *f, struct inode_file *file)
{
	close(file->fd);
	inode_forget(f->inodes, file->node, 1);
}

static void assert_pattern(const char *data, size_t len, off_t off)
{
	for (size_t i = 0; i < len; i++)
		if (data[i] != (char)((off + i) % 251))
			g_error("byte %zu of a read at %ld differs", i, (long)off);
}

/* A read inside the file: its bytes, straight from the mapping. */
static void test_mapped(struct fixture *f, gconstpointer data)
{
	struct inode_file file;
	struct reader_plan p;

	make_file(f, "a", 10 * PAGE);
	file = open_file(f, "a");
	reader_plan(&f->r, &file, PAGE, 3 * PAGE + 7, &p);
	g_assert_cmpint(p.how, ==, READER_MAP);
	g_assert_cmpuint(p.len, ==, PAGE);
	g_assert_true(p.data == p.map->addr + 3 * PAGE + 7);
	assert_pattern(p.data, p.len, 3 * PAGE + 7);
	reader_done(&f->r, &p);
	/* The last page, and past the end: clipped, then empty. */
	reader_plan(&f->r, &file, 2 * PAGE, 9 * PAGE, &p);
	g_assert_cmpint(p.how, ==, READER_MAP);
	g_assert_cmpuint(p.len, ==, PAGE);
	reader_done(&f->r, &p);
	reader_plan(&f->r, &file, PAGE, 10 * PAGE, &p);
	g_assert_cmpint(p.how, ==, READER_MAP);
	g_assert_cmpuint(p.len, ==, 0);
	reader_done(&f->r, &p);
	close_file(f, &file);
}

/* A file truncated between two reads: the second probe sees it. */
static void test_truncated_between(struct fixture *f, gconstpointer data)
{
	struct inode_file file;
	struct reader_plan p;
	const char *bytes;
	ssize_t n;

	make_file(f, "t", 16 * PAGE);
	file = open_file(f, "t");
	reader_plan(&f->r, &file, PAGE, 2 * PAGE, &p);
	g_assert_cmpint(p.how, ==, READER_MAP);
	reader_done(&f->r, &p);
	resize(f, "t", 4 * PAGE + 100);
	/* Inside the old size, past the new end: pread, the mapping dropped,
	 * the file read with pread from now on. */
	reader_plan(&f->r, &file, PAGE, 8 * PAGE, &p);
	g_assert_cmpint(p.how, ==, READER_PREAD);
	g_assert_null(p.map);
	g_assert_true(filedata_reads_by_pread(file.node));
	g_assert_null(mapcache_lookup(f->maps, &file.node->id));
	n = reader_pread(&f->r, &file, PAGE, 8 * PAGE, &bytes);
	g_assert_cmpint(n, ==, 0);
	n = reader_pread(&f->r, &file, PAGE, 4 * PAGE, &bytes);
	g_assert_cmpint(n, ==, 100);
	assert_pattern(bytes, (size_t)n, 4 * PAGE);
	/* And so is a read that the old mapping would still have served. */
	reader_plan(&f->r, &file, PAGE, 0, &p);
	g_assert_cmpint(p.how, ==, READER_PREAD);
	close_file(f, &file);
}

/* A file shrunk to inside a read's next page: the probe's extra byte. */
static void test_truncated_next_page(struct fixture *f, gconstpointer data)
{
	struct inode_file file;
	struct reader_plan p;

	make_file(f, "n", 16 * PAGE);
	file = open_file(f, "n");
	reader_plan(&f->r, &file, 100, 0, &p);
	reader_done(&f->r, &p);
	resize(f, "n", 2 * PAGE);
	/* Page 1 is there, page 2 (the probe's) is not. */
	reader_plan(&f->r, &file, PAGE, PAGE, &p);
	g_assert_cmpint(p.how, ==, READER_PREAD);
	g_assert_true(filedata_reads_by_pread(file.node));
	close_file(f, &file);
}

/* A file that grew: a read of the mapping's last page maps it again. */
static void test_grown(struct fixture *f, gconstpointer data)
{
	struct inode_file file;
	struct reader_plan p;

	make_file(f, "g", 2 * PAGE + 10);
	file = open_file(f, "g");
	reader_plan(&f->r, &file, PAGE, 2 * PAGE, &p);
	g_assert_cmpint(p.how, ==, READER_MAP);
	g_assert_cmpuint(p.len, ==, 10);
	reader_done(&f->r, &p);
	make_file(f, "g", 5 * PAGE);      /* grown in place */
	reader_plan(&f->r, &file, PAGE, 2 * PAGE, &p);
	g_assert_cmpint(p.how, ==, READER_MAP);
	g_assert_cmpuint(p.len, ==, PAGE);
	g_assert_cmpuint(p.map->len, ==, 5 * PAGE);
	assert_pattern(p.data, p.len, 2 * PAGE);
	reader_done(&f->r, &p);
	close_file(f, &file);
}

/* What the mapping cache cannot serve goes to pread. */
static void test_pread_cases(struct fixture *f, gconstpointer data)
{
	struct inode_file file;
	struct reader_plan p;
	const char *bytes;

	make_file(f, "empty", 0);
	file = open_file(f, "empty");
	reader_plan(&f->r, &file, PAGE, 0, &p);
	g_assert_cmpint(p.how, ==, READER_PREAD);
	g_assert_cmpint(reader_pread(&f->r, &file, PAGE, 0, &bytes), ==, 0);
	/* Empty files stay mappable once they grow. */
	g_assert_false(filedata_reads_by_pread(file.node));
	close_file(f, &file);

	make_file(f, "big", 4 * PAGE);
	mapcache_set_limits(f->maps, 16, 1);
	file = open_file(f, "big");
	reader_plan(&f->r, &file, PAGE, 0, &p);
	g_assert_cmpint(p.how, ==, READER_PREAD);
	g_assert_cmpint(reader_pread(&f->r, &file, PAGE, PAGE, &bytes), ==, PAGE);
	assert_pattern(bytes, PAGE, PAGE);
	mapcache_set_limits(f->maps, 16, 1ull << 30);
	/* cache=none: never a mapping. */
	f->r.pread_only = true;
	reader_plan(&f->r, &file, PAGE, 0, &p);
	g_assert_cmpint(p.how, ==, READER_PREAD);
	f->r.pread_only = false;
	reader_plan(&f->r, &file, PAGE, 0, &p);
	g_assert_cmpint(p.how, ==, READER_MAP);
	reader_done(&f->r, &p);
	close_file(f, &file);
}

/* A file opened without us (fh 0): a descriptor for this request only. */
static void test_no_open(struct fixture *f, gconstpointer data)
{
	struct inode_file file;
	struct reader_plan p;
	const char *bytes;

	make_file(f, "o", 3 * PAGE);
	file = open_file(f, "o");
	close(file.fd);
	file.fd = -1;
	reader_plan(&f->r, &file, PAGE, 2 * PAGE, &p);   /* the last page: fstat */
	g_assert_cmpint(p.how, ==, READER_MAP);
	g_assert_true(file.own_fd);
	reader_done(&f->r, &p);
	g_assert_cmpint(reader_pread(&f->r, &file, 10, 5, &bytes), ==, 10);
	assert_pattern(bytes, 10, 5);
	inode_file_done(&file);
	g_assert_false(file.own_fd);
	g_assert_cmpint(file.fd, ==, -1);
	inode_forget(f->inodes, file.node, 1);
}

/*
 * Where descriptors are kept (a network source): a read of the last page
 * takes the size kept, within the window, with an open of ours or
 * without; a read without one keeps the descriptor it opened; once what
 * was kept is stale, a stat sees the file grown.
 */
static void test_kept_descriptors(struct fixture *f, gconstpointer data)
{
	struct fdcache *fds = fdcache_new(8, 600 * G_USEC_PER_SEC);
	struct inode_file file, opened;
	struct reader_plan p;

	f->r.fds = fds;
	make_file(f, "k", 2 * PAGE + 10);
	file = open_file(f, "k");
	close(file.fd);
	file.fd = -1;
	reader_plan(&f->r, &file, PAGE, 2 * PAGE, &p);
	g_assert_cmpint(p.how, ==, READER_MAP);
	g_assert_cmpuint(p.len, ==, 10);
	g_assert_true(file.own_fd);
	g_assert_true(fdcache_keeps(fds, &file.node->id));
	reader_done(&f->r, &p);
	inode_file_done(&file);
	make_file(f, "k", 5 * PAGE);      /* grown in place, within the window */
	reader_plan(&f->r, &file, PAGE, 2 * PAGE, &p);
	g_assert_cmpint(p.how, ==, READER_MAP);
	g_assert_cmpuint(p.map->len, ==, 2 * PAGE + 10);
	g_assert_false(file.own_fd);
	g_assert_cmpint(file.fd, ==, -1);
	reader_done(&f->r, &p);
	opened = (struct inode_file){ .node = file.node,
				      .fd = inode_open(f->inodes, file.node, O_RDONLY) };
	reader_plan(&f->r, &opened, PAGE, 2 * PAGE, &p);
	g_assert_cmpuint(p.map->len, ==, 2 * PAGE + 10);
	reader_done(&f->r, &p);
	/* Stale now: confirmed by a stat, which finds it grown. */
	fdcache_attrs_changed(fds);
	reader_plan(&f->r, &file, PAGE, 2 * PAGE, &p);
	g_assert_cmpint(p.how, ==, READER_MAP);
	g_assert_cmpuint(p.map->len, ==, 5 * PAGE);
	g_assert_cmpuint(p.len, ==, PAGE);
	reader_done(&f->r, &p);
	inode_file_done(&file);
	close_file(f, &opened);
	f->r.fds = NULL;
	fdcache_free(fds);
}

/* The kernel could not copy a plan out: the mapping goes. */
static void test_reply_failed(struct fixture *f, gconstpointer data)
{
	struct inode_file file;
	struct reader_plan p;

	make_file(f, "r", 4 * PAGE);
	file = open_file(f, "r");
	reader_plan(&f->r, &file, PAGE, 0, &p);
	g_assert_cmpint(p.how, ==, READER_MAP);
	reader_reply_failed(&f->r, &p);
	reader_done(&f->r, &p);
	g_assert_null(mapcache_lookup(f->maps, &file.node->id));
	close_file(f, &file);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_assert_cmpint(safecopy_init(), ==, 0);
#define ADD(path, fn) g_test_add(path, struct fixture, NULL, fixture_set_up, \
				 fn, fixture_tear_down)
	ADD("/reader/mapped", test_mapped);
	ADD("/reader/truncated-between", test_truncated_between);
	ADD("/reader/truncated-next-page", test_truncated_next_page);
	ADD("/reader/grown", test_grown);
	ADD("/reader/pread-cases", test_pread_cases);
	ADD("/reader/no-open", test_no_open);
	ADD("/reader/kept-descriptors", test_kept_descriptors);
	ADD("/reader/reply-failed", test_reply_failed);
#undef ADD
	return g_test_run();
}
