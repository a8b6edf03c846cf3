/*
 * test_read.c - a mounted mirror reads back exactly what the backing
 * directory holds: bytes, listings, attributes, inode numbers, symlinks,
 * xattrs; both through mappings and through the pread path.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "harness.h"

static const size_t sizes[] = { 0, 1, 4095, 4096, 4097, (1 << 20) + 1 };

static void assert_same_bytes(const char *a, const char *b, size_t chunk)
{
	g_autoptr(GBytes) x = read_whole(a, chunk);
	g_autoptr(GBytes) y = read_whole(b, chunk);

	g_test_message("compare %s and %s in chunks of %zu", a, b, chunk);
	g_assert_cmpmem(g_bytes_get_data(x, NULL), g_bytes_get_size(x),
			g_bytes_get_data(y, NULL), g_bytes_get_size(y));
}

/* Every size, read whole in several chunk sizes, and with pread at odd offsets. */
static void check_sizes(struct mount *m, const char *const *extra)
{
	for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
		g_autofree char *name = g_strdup_printf("f%zu", sizes[i]);
		g_autofree char *p = src_path(m, name);

		write_random_file(p, sizes[i], (guint32)i + 1);
	}
	mount_start(m, extra);
	for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
		g_autofree char *name = g_strdup_printf("f%zu", sizes[i]);
		g_autofree char *s = src_path(m, name);
		g_autofree char *t = mnt_path(m, name);
		static const size_t chunks[] = { 1 << 20, 4096, 4097, 100 };
		g_autofree char *want = g_malloc(9000), *got = g_malloc(9000);
		int fs = open(s, O_RDONLY), ft = open(t, O_RDONLY);

		for (size_t c = 0; c < G_N_ELEMENTS(chunks); c++)
			assert_same_bytes(s, t, chunks[c]);
		g_assert_cmpint(fs, >=, 0);
		g_assert_cmpint(ft, >=, 0);
		for (off_t off = 0; off <= (off_t)sizes[i] + 5000; off += 3001) {
			ssize_t a = pread(fs, want, 9000, off);
			ssize_t b = pread(ft, got, 9000, off);

			g_assert_cmpint(a, >=, 0);
			g_assert_cmpmem(want, a, got, b);
		}
		close(fs);
		close(ft);
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

static void test_sizes_mapped(struct mount *m, gconstpointer data)
{
	check_sizes(m, NULL);
}

static void test_sizes_pread(struct mount *m, gconstpointer data)
{
	/* max_mapped below every non-empty file: nothing can be mapped. */
	const char *extra[] = { "-o", "max_mapped=1", NULL };

	check_sizes(m, extra);
}

/* Read-only: with cache=watched, files are read without opens (fh 0). */
static void test_sizes_ro_mapped(struct mount *m, gconstpointer data)
{
	const char *extra[] = { "-o", "ro", NULL };

	check_sizes(m, extra);
}

static void test_sizes_ro_pread(struct mount *m, gconstpointer data)
{
	const char *extra[] = { "-o", "ro,max_mapped=1", NULL };

	check_sizes(m, extra);
}

/* A sparse file past 4 GiB, read around the 4 GiB boundary. */
static void check_sparse(struct mount *m, const char *const *extra)
{
	const off_t four_g = (off_t)4 << 30;
	static const off_t marks[] = { -8192, -4097, -4096, -1, 0, 1, 4095, 4096, 65536 };
	g_autofree char *s = NULL, *t = NULL;
	char want[12288], got[12288];
	int fd;

	s = src_path(m, "sparse");
	fd = open(s, O_RDWR | O_CREAT, 0644);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(ftruncate(fd, four_g + (1 << 20)), ==, 0);
	for (size_t i = 0; i < G_N_ELEMENTS(marks); i++) {
		char tag[64];
		int n = g_snprintf(tag, sizeof(tag), "<mark %zu at 4G%+ld>", i,
				   (long)marks[i]);

		g_assert_cmpint(pwrite(fd, tag, n, four_g + marks[i]), ==, n);
	}
	close(fd);
	mount_start(m, extra);
	t = mnt_path(m, "sparse");
	{
		int fs = open(s, O_RDONLY), ft = open(t, O_RDONLY);
		struct stat a, b;

		g_assert_cmpint(ft, >=, 0);
		g_assert_cmpint(fstat(fs, &a), ==, 0);
		g_assert_cmpint(fstat(ft, &b), ==, 0);
		g_assert_cmpint(a.st_size, ==, b.st_size);
		for (off_t off = four_g - 3 * 4096; off <= four_g + 3 * 4096; off += 1024 + 3) {
			ssize_t x = pread(fs, want, sizeof(want), off);
			ssize_t y = pread(ft, got, sizeof(got), off);

			g_assert_cmpint(x, ==, (ssize_t)sizeof(want));
			g_assert_cmpmem(want, x, got, y);
		}
		/* The last bytes and a read past the end. */
		g_assert_cmpint(pread(ft, got, sizeof(got), a.st_size - 100), ==, 100);
		g_assert_cmpint(pread(ft, got, sizeof(got), a.st_size + 5), ==, 0);
		close(fs);
		close(ft);
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

static void test_sparse_mapped(struct mount *m, gconstpointer data)
{
	check_sparse(m, NULL);
}

static void test_sparse_pread(struct mount *m, gconstpointer data)
{
	const char *extra[] = { "-o", "max_mapped=1G", NULL };

	check_sparse(m, extra);
}

/* Builds a small tree with every kind of entry. */
static void make_tree(struct mount *m)
{
	static const char *const dirs[] = { "d", "d/e", "d/e/f", "empty", "sp ace" };
	g_autofree char *p = NULL;

	for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
		g_autofree char *d = src_path(m, dirs[i]);

		g_assert_cmpint(g_mkdir(d, 0750), ==, 0);
	}
	for (int i = 0; i < 30; i++) {
		g_autofree char *name = g_strdup_printf("%s/file%02d",
							i % 3 ? "d/e" : "d", i);
		g_autofree char *f = src_path(m, name);

		write_random_file(f, (size_t)i * 777, 1000 + i);
	}
	{
		g_autofree char *a = src_path(m, "d/file00");
		g_autofree char *b = src_path(m, "hardlink");
		g_autofree char *c = src_path(m, "d/e/f/hardlink2");

		g_assert_cmpint(link(a, b), ==, 0);
		g_assert_cmpint(link(a, c), ==, 0);
	}
	p = src_path(m, "rel-link");
	g_assert_cmpint(symlink("d/e/file01", p), ==, 0);
	g_free(p);
	p = src_path(m, "abs-link");
	g_assert_cmpint(symlink("/etc/hostname", p), ==, 0);
	g_free(p);
	p = src_path(m, "dangling");
	g_assert_cmpint(symlink("no/such/target", p), ==, 0);
	g_free(p);
	p = src_path(m, "fifo");
	g_assert_cmpint(mkfifo(p, 0640), ==, 0);
	g_free(p);
	p = src_path(m, "sp ace/mode0600");
	write_random_file(p, 10, 5);
	g_assert_cmpint(chmod(p, 0600), ==, 0);
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static GPtrArray *sorted_listing(const char *dir)
{
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	DIR *dp = opendir(dir);
	struct dirent *de;

	g_assert_nonnull(dp);
	while ((de = readdir(dp)))
		g_ptr_array_add(names, g_strdup(de->d_name));
	closedir(dp);
	g_ptr_array_sort(names, cmp_str);
	return names;
}

static void assert_same_stat(const char *s, const char *t)
{
	struct stat a, b;

	g_test_message("stat %s", t);
	g_assert_cmpint(lstat(s, &a), ==, 0);
	g_assert_cmpint(lstat(t, &b), ==, 0);
	g_assert_cmpuint(a.st_mode, ==, b.st_mode);
	g_assert_cmpuint(a.st_ino, ==, b.st_ino);
	g_assert_cmpuint(a.st_nlink, ==, b.st_nlink);
	g_assert_cmpuint(a.st_uid, ==, b.st_uid);
	g_assert_cmpuint(a.st_gid, ==, b.st_gid);
	if (!S_ISDIR(a.st_mode))
		g_assert_cmpint(a.st_size, ==, b.st_size);
	g_assert_cmpint(a.st_mtim.tv_sec, ==, b.st_mtim.tv_sec);
	g_assert_cmpint(a.st_mtim.tv_nsec, ==, b.st_mtim.tv_nsec);
	g_assert_cmpint(a.st_blocks, ==, b.st_blocks);
}

/* Walks both trees together: listings, stat fields, links, bytes. */
static void compare_trees(const char *s, const char *t)
{
	g_autoptr(GPtrArray) ls = sorted_listing(s);
	g_autoptr(GPtrArray) lt = sorted_listing(t);

	g_assert_cmpuint(ls->len, ==, lt->len);
	for (guint i = 0; i < ls->len; i++) {
		const char *name = ls->pdata[i];
		g_autofree char *a = g_build_filename(s, name, NULL);
		g_autofree char *b = g_build_filename(t, name, NULL);
		struct stat st;

		g_assert_cmpstr(name, ==, lt->pdata[i]);
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		assert_same_stat(a, b);
		g_assert_cmpint(lstat(a, &st), ==, 0);
		if (S_ISDIR(st.st_mode)) {
			compare_trees(a, b);
		} else if (S_ISLNK(st.st_mode)) {
			g_autofree char *x = g_file_read_link(a, NULL);
			g_autofree char *y = g_file_read_link(b, NULL);

			g_assert_cmpstr(x, ==, y);
		} else if (S_ISREG(st.st_mode)) {
			assert_same_bytes(a, b, 65536);
		}
	}
}

static void test_tree(struct mount *m, gconstpointer data)
{
	const char *extra[] = { "-o", "timeout=0", NULL };
	g_autofree char *hl = NULL, *hl2 = NULL, *orig = NULL, *link = NULL;
	struct stat a, b, c;
	char buf[64];
	ssize_t n;

	make_tree(m);
	mount_start(m, extra);
	compare_trees(m->src, m->mnt);

	/* Hard links are one inode under every name. */
	orig = mnt_path(m, "d/file00");
	hl = mnt_path(m, "hardlink");
	hl2 = mnt_path(m, "d/e/f/hardlink2");
	g_assert_cmpint(stat(orig, &a), ==, 0);
	g_assert_cmpint(stat(hl, &b), ==, 0);
	g_assert_cmpint(stat(hl2, &c), ==, 0);
	g_assert_cmpuint(a.st_ino, ==, b.st_ino);
	g_assert_cmpuint(a.st_ino, ==, c.st_ino);
	g_assert_cmpuint(a.st_nlink, ==, 3);

	/* Inode numbers are stable after the kernel forgets everything. */
	sync();
	{
		int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

		g_assert_cmpint(fd, >=, 0);
		g_assert_cmpint(write(fd, "2", 1), ==, 1);
		close(fd);
	}
	g_assert_cmpint(stat(hl2, &c), ==, 0);
	g_assert_cmpuint(a.st_ino, ==, c.st_ino);
	compare_trees(m->src, m->mnt);

	/* Symlinks are read, and followed by the client, not the daemon. */
	link = mnt_path(m, "rel-link");
	n = readlink(link, buf, sizeof(buf));
	g_assert_cmpint(n, ==, strlen("d/e/file01"));
	{
		g_autofree char *target = mnt_path(m, "d/e/file01");

		assert_same_bytes(link, target, 4096);
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

static void test_errors_and_attrs(struct mount *m, gconstpointer data)
{
	g_autofree char *f = NULL, *t = NULL, *missing = NULL, *notdir = NULL;
	struct statvfs a, b;
	char val[64];
	ssize_t n;
	int fd;

	f = src_path(m, "file");
	write_random_file(f, 100, 9);
	g_assert_cmpint(setxattr(f, "user.colour", "blue", 4, 0), ==, 0);
	{
		/* A symlink's own xattrs, never its target's. */
		g_autofree char *l = src_path(m, "link");

		g_assert_cmpint(symlink("file", l), ==, 0);
		g_assert_cmpint(lsetxattr(l, "trusted.own", "link", 4, 0), ==, 0);
	}
	mount_start(m, NULL);
	t = mnt_path(m, "file");
	missing = mnt_path(m, "missing");
	notdir = mnt_path(m, "file/below");

	errno = 0;
	g_assert_cmpint(open(missing, O_RDONLY), ==, -1);
	g_assert_cmpint(errno, ==, ENOENT);
	g_assert_cmpint(open(notdir, O_RDONLY), ==, -1);
	g_assert_cmpint(errno, ==, ENOTDIR);

	n = getxattr(t, "user.colour", val, sizeof(val));
	g_assert_cmpmem(val, n, "blue", 4);
	g_assert_cmpint(getxattr(t, "user.colour", NULL, 0), ==, 4);
	g_assert_cmpint(getxattr(t, "user.none", val, sizeof(val)), ==, -1);
	g_assert_cmpint(errno, ==, ENODATA);
	g_assert_cmpint(getxattr(t, "user.colour", val, 2), ==, -1);
	g_assert_cmpint(errno, ==, ERANGE);
	n = listxattr(t, val, sizeof(val));
	g_assert_cmpmem(val, n, "user.colour", sizeof("user.colour"));
	{
		g_autofree char *l = mnt_path(m, "link");

		n = lgetxattr(l, "trusted.own", val, sizeof(val));
		g_assert_cmpmem(val, n, "link", 4);
		g_assert_cmpint(lgetxattr(l, "user.colour", val, sizeof(val)), ==, -1);
		n = llistxattr(l, val, sizeof(val));
		g_assert_cmpmem(val, n, "trusted.own", sizeof("trusted.own"));
	}

	g_assert_cmpint(access(t, R_OK), ==, 0);
	g_assert_cmpint(access(t, X_OK), ==, -1);

	g_assert_cmpint(statvfs(m->src, &a), ==, 0);
	g_assert_cmpint(statvfs(m->mnt, &b), ==, 0);
	g_assert_cmpuint(a.f_blocks, ==, b.f_blocks);
	g_assert_cmpuint(a.f_bsize, ==, b.f_bsize);
	g_assert_cmpuint(a.f_files, ==, b.f_files);

	/* A file that grows outside the mount is read to its new end. */
	fd = open(t, O_RDONLY);
	g_assert_cmpint(pread(fd, val, sizeof(val), 0), ==, sizeof(val));
	{
		int w = open(f, O_WRONLY | O_APPEND);

		g_assert_cmpint(write(w, "tail", 4), ==, 4);
		close(w);
	}
	close(fd);
	{
		struct stat st;

		/* The attribute timeout (1 s by default) may hide the new size. */
		for (int i = 0; i < 300; i++) {
			g_assert_cmpint(stat(t, &st), ==, 0);
			if (st.st_size == 104)
				break;
			g_usleep(10000);
		}
		g_assert_cmpint(st.st_size, ==, 104);
		assert_same_bytes(f, t, 4096);
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/* The kernel keeps a file's pages across opens only while it is unchanged. */
static void test_outside_change_between_opens(struct mount *m, gconstpointer data)
{
	g_autofree char *s = NULL, *t = NULL;

	s = src_path(m, "f");
	write_random_file(s, 200000, 1);
	mount_start(m, NULL);
	t = mnt_path(m, "f");
	for (guint32 round = 2; round < 12; round++) {
		g_autoptr(GBytes) a = NULL, b = NULL, c = NULL;
		struct timespec ts[2] = { { 0, UTIME_OMIT },
					  { 1000000 + round, 0 } };

		/* Twice through the mount: the second open keeps the cache. */
		g_bytes_unref(read_whole(t, 65536));
		g_bytes_unref(read_whole(t, 65536));
		/* Same size, new bytes, new mtime, written outside. */
		write_random_file(s, 200000, round);
		g_assert_cmpint(utimensat(AT_FDCWD, s, ts, 0), ==, 0);
		a = read_whole(s, 65536);
		b = read_whole(t, 65536);
		g_assert_true(g_bytes_equal(a, b));
		c = read_whole(t, 4096);
		g_assert_true(g_bytes_equal(a, c));
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * More files known at once than the daemon may open descriptors: files are
 * reached by handle, so a walk over all of them sees every one.
 */
static void test_walk_beyond_fd_limit(struct mount *m, gconstpointer data)
{
	if (backing_is_fuse()) {
		g_test_skip("bindfs backing: no file handles on FUSE, so every "
			    "known inode holds a descriptor and the limit applies");
		return;
	}
	const int nfiles = 3000;
	g_autofree char *d = NULL;
	GHashTable *inos = g_hash_table_new(g_int64_hash, g_int64_equal);
	gint64 *keys = g_new(gint64, nfiles);

	d = src_path(m, "d");
	g_assert_cmpint(g_mkdir(d, 0755), ==, 0);
	for (int i = 0; i < nfiles; i++) {
		g_autofree char *p = g_strdup_printf("%s/f%05d", d, i);

		write_random_file(p, i % 10, i);
	}
	m->nofile = 1000;
	mount_start(m, NULL);
	for (int i = 0; i < nfiles; i++) {
		g_autofree char *rel = g_strdup_printf("d/f%05d", i);
		g_autofree char *t = mnt_path(m, rel);
		g_autofree char *s = src_path(m, rel);
		struct stat a, b;

		g_assert_cmpint(lstat(t, &a), ==, 0);
		g_assert_cmpint(lstat(s, &b), ==, 0);
		g_assert_cmpuint(a.st_ino, ==, b.st_ino);
		g_assert_cmpint(a.st_size, ==, i % 10);
		keys[i] = (gint64)a.st_ino;
		g_hash_table_add(inos, &keys[i]);
	}
	g_assert_cmpuint(g_hash_table_size(inos), ==, nfiles);
	/* And every file can still be read, all of them known at once. */
	for (int i = 0; i < nfiles; i += 7) {
		g_autofree char *rel = g_strdup_printf("d/f%05d", i);
		g_autofree char *t = mnt_path(m, rel);
		g_autofree char *s = src_path(m, rel);
		g_autoptr(GBytes) a = read_whole(t, 4096);
		g_autoptr(GBytes) b = read_whole(s, 4096);

		g_assert_true(g_bytes_equal(a, b));
	}
	g_hash_table_unref(inos);
	g_free(keys);
	g_assert_cmpint(mount_stop(m), ==, 0);
}

/*
 * A file deleted outside while the kernel still knows it, and its inode
 * number given to a new file: the new name must not reach the old node.
 */
static void test_inode_number_reuse(struct mount *m, gconstpointer data)
{
	const char *extra[] = { "-o", "timeout=0", NULL };
	g_autofree char *a = NULL, *ta = NULL;
	struct stat st, nst;
	int tries;

	if (backing_is_fuse()) {
		g_test_skip("bindfs backing: it passes the backing inode numbers "
			    "through but holds no reference to the inodes, so a "
			    "reused number reaches the old node (ENOENT until the "
			    "kernel forgets it; see README, backing filesystems)");
		return;
	}
	a = src_path(m, "old");
	write_random_file(a, 100, 1);
	mount_start(m, extra);
	ta = mnt_path(m, "old");
	g_assert_cmpint(stat(ta, &st), ==, 0);     /* the kernel knows it now */
	g_assert_cmpint(unlink(a), ==, 0);
	for (tries = 0; tries < 200; tries++) {
		g_autofree char *n = g_strdup_printf("%s/new%d", m->src, tries);

		write_random_file(n, 5000, 2);
		g_assert_cmpint(stat(n, &nst), ==, 0);
		if (nst.st_ino == st.st_ino) {
			g_autofree char *rel = g_strdup_printf("new%d", tries);
			g_autofree char *tn = mnt_path(m, rel);
			g_autoptr(GBytes) x = read_whole(n, 4096);
			g_autoptr(GBytes) y = read_whole(tn, 4096);
			struct stat mst;

			g_assert_cmpint(stat(tn, &mst), ==, 0);
			g_assert_cmpint(mst.st_size, ==, 5000);
			g_assert_true(g_bytes_equal(x, y));
			break;
		}
	}
	g_assert_cmpint(mount_stop(m), ==, 0);
	if (tries == 200)
		g_test_skip("the backing filesystem did not reuse the inode number");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	MOUNT_TEST("/read/sizes-mapped", test_sizes_mapped, NULL);
	MOUNT_TEST("/read/sizes-pread", test_sizes_pread, NULL);
	MOUNT_TEST("/read/sizes-ro-mapped", test_sizes_ro_mapped, NULL);
	MOUNT_TEST("/read/sizes-ro-pread", test_sizes_ro_pread, NULL);
	MOUNT_TEST("/read/sparse-4g-mapped", test_sparse_mapped, NULL);
	MOUNT_TEST("/read/sparse-4g-pread", test_sparse_pread, NULL);
	MOUNT_TEST("/read/tree", test_tree, NULL);
	MOUNT_TEST("/read/errors-and-attrs", test_errors_and_attrs, NULL);
	MOUNT_TEST("/read/outside-change-between-opens", test_outside_change_between_opens, NULL);
	MOUNT_TEST("/read/walk-beyond-fd-limit", test_walk_beyond_fd_limit, NULL);
	MOUNT_TEST("/read/inode-number-reuse", test_inode_number_reuse, NULL);
	return g_test_run();
}
