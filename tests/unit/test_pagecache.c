/*
 * test_pagecache.c - whether a file's pages are all in the page cache,
 * asked both ways (cachestat, and mincore as kernels before 6.5 do): yes
 * once written or read, no once the pages were dropped.
 */
#include <fcntl.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "mmapfs/pagecache.h"

typedef int (*ask_fn)(int fd, size_t len);

static void check(ask_fn ask)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = 3 * page + 100;
	g_autofree char *buf = g_malloc0(len + 1);
	g_autofree char *path = NULL;
	GError *error = NULL;
	int fd = g_file_open_tmp("pagecache-XXXXXX", &path, &error);

	g_assert_no_error(error);
	g_assert_cmpint(write(fd, buf, len), ==, (ssize_t)len);
	g_assert_cmpint(fsync(fd), ==, 0);
	g_assert_cmpint(ask(fd, len), ==, 1);

	/* Dropped (the whole file: a large folio only goes whole). */
	g_assert_cmpint(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), ==, 0);
	if (pagecache_all_cached_mincore(fd, page) == 1) {
		close(fd);
		g_unlink(path);
		g_test_skip("the temporary directory's filesystem keeps pages "
			    "that POSIX_FADV_DONTNEED drops elsewhere (tmpfs?)");
		return;
	}
	g_assert_cmpint(ask(fd, len), ==, 0);
	g_assert_cmpint(ask(fd, page), ==, 0);

	/* Read back: all cached again. */
	g_assert_cmpint(pread(fd, buf, len + 1, 0), ==, (ssize_t)len);
	g_assert_cmpint(ask(fd, len), ==, 1);
	close(fd);
	g_unlink(path);
}

static void test_default(void)
{
	check(pagecache_all_cached);
}

static void test_mincore(void)
{
	check(pagecache_all_cached_mincore);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/pagecache/default", test_default);
	g_test_add_func("/pagecache/mincore", test_mincore);
	return g_test_run();
}
