/*
 * pagecache.h - asking whether a file's data is in the page cache, without
 * reading it (reading would wait for the disk or the network, and start
 * readahead).
 *
 * cachestat(2) (Linux 6.5) answers in one call; where the kernel lacks it,
 * mincore(2) over a mapping of the file that is never touched does (three
 * calls: mmap, mincore, munmap).  Both are safe from any thread.
 */
#ifndef MMAPFS_PAGECACHE_H
#define MMAPFS_PAGECACHE_H

#include <stddef.h>

/*
 * 1 if every page of the first len bytes of fd's file is in the page
 * cache, 0 if one is not, or a negative errno.  len > 0.
 */
int pagecache_all_cached(int fd, size_t len);

/* The same, asked with mincore(2) only (what kernels before 6.5 use). */
int pagecache_all_cached_mincore(int fd, size_t len);

#endif
