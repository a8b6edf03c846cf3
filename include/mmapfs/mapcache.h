/*
 * mapcache.h - the LRU of live memory mappings of backing files.
 *
 * A mapping covers a whole backing file, mapped read-only and MAP_SHARED,
 * so it shows every change made to the file's existing bytes at once.  The
 * cache is a GHashTable keyed by backing inode (st_dev, st_ino) plus an LRU
 * list, under a budget: at every moment at most max_maps mappings exist and
 * at most max_mapped bytes (page-rounded) are mapped, counting mappings that
 * are being created and mappings that were replaced but are still pinned
 * (limits lowered by mapcache_set_limits() below what pinned mappings hold
 * are the one exception, until those are put back).
 *
 * PIN RULE: a mapping returned by mapcache_lookup() or mapcache_get() is
 * pinned; it stays mapped, at the same address and length, until the caller
 * hands it back with mapcache_put().  Eviction takes only unpinned mappings.
 * A mapping replaced (the file grew or changed) or invalidated while pinned
 * leaves the table at once and is unmapped by the last mapcache_put().
 *
 * A mapping's identity is the file's size and mtime when it was mapped.
 * mapcache_get() returns the cached mapping only when the identity it is
 * given matches, and maps the file again otherwise.
 *
 * Thread-safe: every function may be called from any thread.  None calls
 * back into the caller.  Callers must not hold a pin across anything that
 * waits for another request (the FUSE reply itself is fine).
 */
#ifndef MMAPFS_MAPCACHE_H
#define MMAPFS_MAPCACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include <glib.h>

#include "mmapfs/devino.h"

struct mapcache_map {
	/* Immutable while the mapping exists. */
	const char *addr;         /* start of the mapping */
	size_t len;               /* file size when mapped; > 0 */
	struct devino key;
	struct timespec mtime;    /* file mtime when mapped */
	gint64 mapped_at;         /* g_get_monotonic_time() when mapped */

	/* Private to mapcache.c, protected by the cache's lock. */
	unsigned pins;
	bool live;                /* in the table and the LRU */
	GList lru_link;
};

struct mapcache_stats {
	uint64_t hits;            /* lookups and gets answered by a live mapping */
	uint64_t misses;          /* gets that had to map the file */
	uint64_t created;         /* mappings made */
	uint64_t evicted;         /* mappings dropped to stay within budget */
	uint64_t remapped;        /* mappings replaced because the file changed */
	uint64_t invalidated;     /* mappings dropped by mapcache_invalidate*() */
	uint64_t refused;         /* gets refused: too large, or budget all pinned */
	uint64_t map_failures;    /* mmap() calls that failed */
	unsigned n_maps;          /* mappings that exist now */
	uint64_t mapped_bytes;    /* bytes they cover, page-rounded */
	unsigned pinned;          /* live mappings pinned now */
	unsigned max_maps;
	uint64_t max_mapped;
};

struct mapcache;

/* Creates an empty cache.  Both limits must be at least 1. */
struct mapcache *mapcache_new(unsigned max_maps, uint64_t max_mapped);

/* Unmaps everything.  No mapping may still be pinned. */
void mapcache_free(struct mapcache *mc);

/* Returns the live mapping of key, pinned and made most recent, or NULL. */
struct mapcache_map *mapcache_lookup(struct mapcache *mc,
				     const struct devino *key);

/*
 * Returns in *out a pinned mapping of the file open as fd, whose identity is
 * st's (st_size, st_mtim): the cached one if it matches, or a new one made
 * from fd, which replaces it.  Evicts the least recently used unpinned
 * mappings to make room.  Returns 0, or a negative errno with *out unset:
 *   -EFBIG   st_size is 0 or larger than max_mapped: read the file instead
 *   -ENOSPC  no room, every mapping in the way is pinned
 *   other    mmap() failed (ENODEV when the filesystem cannot map, ENOMEM)
 */
int mapcache_get(struct mapcache *mc, const struct devino *key, int fd,
		 const struct stat *st, struct mapcache_map **out);

/* Pins a mapping the caller has pinned already, once more. */
void mapcache_pin(struct mapcache *mc, struct mapcache_map *map);

/* Unpins a mapping from mapcache_lookup(), mapcache_get() or mapcache_pin(). */
void mapcache_put(struct mapcache *mc, struct mapcache_map *map);

/* Drops the live mapping of key, if any. */
void mapcache_invalidate(struct mapcache *mc, const struct devino *key);

/* Drops map, which the caller has pinned, if it is still the live one. */
void mapcache_invalidate_map(struct mapcache *mc, struct mapcache_map *map);

/*
 * Drops the live mapping of key if its identity is not st's.  Returns true
 * when the mapping it dropped was longer than the file now is.
 */
bool mapcache_revalidate(struct mapcache *mc, const struct devino *key,
			 const struct stat *st);

/* What mapcache_list() tells of one live mapping. */
struct mapcache_entry {
	struct devino key;
	size_t len;
	unsigned pins;
	gint64 mapped_at;
};

/* The live mappings now, most recently used first: a GArray of struct
 * mapcache_entry (g_array_unref it). */
GArray *mapcache_list(struct mapcache *mc);

/* Drops every unpinned mapping. */
void mapcache_drop_all(struct mapcache *mc);

/*
 * Changes the limits (both at least 1), evicting unpinned mappings until
 * what exists fits.  Returns false when pinned mappings keep it over: then
 * it fits once they are put back and the next mapping is made.
 */
bool mapcache_set_limits(struct mapcache *mc, unsigned max_maps,
			 uint64_t max_mapped);

void mapcache_get_stats(struct mapcache *mc, struct mapcache_stats *out);

/*
 * The offset of the first byte of map's last page: the page that a file
 * grown or shrunk since the mapping was made may have changed.
 */
uint64_t mapcache_last_page_start(const struct mapcache *mc,
				  const struct mapcache_map *map);

#endif
