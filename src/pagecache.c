/*
 * pagecache.c - see include/mmapfs/pagecache.h.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib.h>

#include "mmapfs/pagecache.h"

/* cachestat(2), which glibc 2.36 and Debian 12's headers do not know. */
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif
struct cachestat_range {
	uint64_t off, len;
};
struct cachestat {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted,
		 nr_recently_evicted;
};

static size_t pages_of(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (len + page - 1) / page;
}

int pagecache_all_cached_mincore(int fd, size_t len)
{
	size_t pages = pages_of(len);
	unsigned char small[64];
	unsigned char *vec = pages <= sizeof(small) ? small : g_malloc(pages);
	void *addr = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	int res = 1;

	if (addr == MAP_FAILED) {
		res = -errno;
	} else {
		if (mincore(addr, len, vec) < 0)
			res = -errno;
		for (size_t i = 0; res == 1 && i < pages; i++)
			if (!(vec[i] & 1))
				res = 0;
		munmap(addr, len);
	}
	if (vec != small)
		g_free(vec);
	return res;
}

int pagecache_all_cached(int fd, size_t len)
{
	static gint no_cachestat;
	struct cachestat_range range = { 0, len };
	struct cachestat cs;

	if (!g_atomic_int_get(&no_cachestat)) {
		if (syscall(__NR_cachestat, fd, &range, &cs, 0) == 0)
			return cs.nr_cache >= pages_of(len);
		if (errno != ENOSYS)
			return -errno;
		g_atomic_int_set(&no_cachestat, 1);
	}
	return pagecache_all_cached_mincore(fd, len);
}
