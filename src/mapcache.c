/*
 * mapcache.c - see include/mmapfs/mapcache.h.
 *
 * DESIGN: one mutex guards the table, the LRU queue, the budget counters and
 * every mapping's pins and live flag.  The fast path (mapcache_lookup) is a
 * hash lookup, a pin and an O(1) move to the head of the queue.  The LRU
 * queue holds live mappings only, most recent at the head; eviction walks
 * from the tail and skips pinned mappings.
 *
 * The budget is exact at every moment: a mapping being created is counted
 * (reserved) before mmap() runs outside the lock, and a mapping leaves the
 * count only when munmap() has returned.  munmap() therefore runs under the
 * lock; it is reached on eviction and replacement only, never on a hit.
 *
 * The lock is a pthread mutex rather than a GMutex: glib's futex-based
 * GMutex is invisible to ThreadSanitizer, which checks this module.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmapfs/mapcache.h"

struct mapcache {
	pthread_mutex_t lock;
	GHashTable *table;        /* key -> live map; protected by lock */
	GQueue lru;               /* live maps, most recent first; protected by lock */
	unsigned max_maps;        /* protected by lock */
	uint64_t max_mapped;      /* protected by lock */
	unsigned n_maps;          /* existing + reserved; protected by lock */
	uint64_t mapped_bytes;    /* existing + reserved; protected by lock */
	struct mapcache_stats st; /* counters; protected by lock */
	size_t page_size;
};

static uint64_t rounded(const struct mapcache *mc, uint64_t len)
{
	return (len + mc->page_size - 1) & ~(uint64_t)(mc->page_size - 1);
}

static bool same_identity(const struct mapcache_map *m, const struct stat *st)
{
	return (off_t)m->len == st->st_size &&
	       m->mtime.tv_sec == st->st_mtim.tv_sec &&
	       m->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

struct mapcache *mapcache_new(unsigned max_maps, uint64_t max_mapped)
{
	struct mapcache *mc = g_new0(struct mapcache, 1);

	pthread_mutex_init(&mc->lock, NULL);
	mc->table = g_hash_table_new(devino_hash, devino_equal);
	g_queue_init(&mc->lru);
	mc->max_maps = MAX(max_maps, 1u);
	mc->max_mapped = MAX(max_mapped, 1u);
	mc->page_size = (size_t)sysconf(_SC_PAGESIZE);
	return mc;
}

/* Unmaps an unpinned map that is no longer live.  Called with the lock held. */
static void destroy_locked(struct mapcache *mc, struct mapcache_map *m)
{
	munmap((void *)m->addr, m->len);
	mc->n_maps--;
	mc->mapped_bytes -= rounded(mc, m->len);
	g_free(m);
}

/* Takes a live map out of the table and the LRU; unmaps it unless pinned. */
static void detach_locked(struct mapcache *mc, struct mapcache_map *m)
{
	g_hash_table_remove(mc->table, &m->key);
	g_queue_unlink(&mc->lru, &m->lru_link);
	m->live = false;
	if (m->pins == 0)
		destroy_locked(mc, m);
}

/* Evicts cold unpinned maps until n more maps of len bytes in all fit. */
static bool make_room_locked(struct mapcache *mc, unsigned n, uint64_t len)
{
	GList *l = mc->lru.tail;

	while (mc->n_maps + n > mc->max_maps ||
	       mc->mapped_bytes + len > mc->max_mapped) {
		struct mapcache_map *m;

		while (l && ((struct mapcache_map *)l->data)->pins)
			l = l->prev;
		if (!l)
			return false;
		m = l->data;
		l = l->prev;
		detach_locked(mc, m);
		mc->st.evicted++;
	}
	return true;
}

static void pin_locked(struct mapcache *mc, struct mapcache_map *m)
{
	m->pins++;
	g_queue_unlink(&mc->lru, &m->lru_link);
	g_queue_push_head_link(&mc->lru, &m->lru_link);
}

struct mapcache_map *mapcache_lookup(struct mapcache *mc,
				     const struct devino *key)
{
	struct mapcache_map *m;

	pthread_mutex_lock(&mc->lock);
	m = g_hash_table_lookup(mc->table, key);
	if (m) {
		pin_locked(mc, m);
		mc->st.hits++;
	}
	pthread_mutex_unlock(&mc->lock);
	return m;
}

int mapcache_get(struct mapcache *mc, const struct devino *key, int fd,
		 const struct stat *st, struct mapcache_map **out)
{
	struct mapcache_map *m;
	uint64_t len = (uint64_t)st->st_size;
	uint64_t need = rounded(mc, len);
	void *addr;
	int err;

	pthread_mutex_lock(&mc->lock);
	m = g_hash_table_lookup(mc->table, key);
	if (m && same_identity(m, st)) {
		pin_locked(mc, m);
		mc->st.hits++;
		pthread_mutex_unlock(&mc->lock);
		*out = m;
		return 0;
	}
	if (st->st_size <= 0 || need > mc->max_mapped) {
		mc->st.refused++;
		pthread_mutex_unlock(&mc->lock);
		return -EFBIG;
	}
	mc->st.misses++;
	if (m) {
		detach_locked(mc, m);
		mc->st.remapped++;
	}
	if (!make_room_locked(mc, 1, need)) {
		mc->st.refused++;
		pthread_mutex_unlock(&mc->lock);
		return -ENOSPC;
	}
	mc->n_maps++;              /* reserve before mapping */
	mc->mapped_bytes += need;
	pthread_mutex_unlock(&mc->lock);

	addr = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	err = addr == MAP_FAILED ? -errno : 0;

	pthread_mutex_lock(&mc->lock);
	mc->n_maps--;              /* the reservation ends here either way */
	mc->mapped_bytes -= need;
	if (err) {
		mc->st.map_failures++;
		pthread_mutex_unlock(&mc->lock);
		return err;
	}
	m = g_hash_table_lookup(mc->table, key);
	if (m && same_identity(m, st)) {
		/* Another thread mapped the same file meanwhile: use its map. */
		pin_locked(mc, m);
		munmap(addr, len);
		pthread_mutex_unlock(&mc->lock);
		*out = m;
		return 0;
	}
	if (m) {
		detach_locked(mc, m);
		mc->st.remapped++;
	}
	m = g_new0(struct mapcache_map, 1);
	m->addr = addr;
	m->len = len;
	m->key = *key;
	m->mtime = st->st_mtim;
	m->mapped_at = g_get_monotonic_time();
	m->pins = 1;
	m->live = true;
	m->lru_link.data = m;
	g_hash_table_insert(mc->table, &m->key, m);
	g_queue_push_head_link(&mc->lru, &m->lru_link);
	mc->n_maps++;
	mc->mapped_bytes += need;
	mc->st.created++;
	pthread_mutex_unlock(&mc->lock);
	*out = m;
	return 0;
}

void mapcache_pin(struct mapcache *mc, struct mapcache_map *m)
{
	pthread_mutex_lock(&mc->lock);
	g_assert(m->pins > 0);
	m->pins++;
	pthread_mutex_unlock(&mc->lock);
}

void mapcache_put(struct mapcache *mc, struct mapcache_map *m)
{
	pthread_mutex_lock(&mc->lock);
	g_assert(m->pins > 0);
	if (--m->pins == 0 && !m->live)
		destroy_locked(mc, m);
	pthread_mutex_unlock(&mc->lock);
}

void mapcache_invalidate(struct mapcache *mc, const struct devino *key)
{
	struct mapcache_map *m;

	pthread_mutex_lock(&mc->lock);
	m = g_hash_table_lookup(mc->table, key);
	if (m) {
		detach_locked(mc, m);
		mc->st.invalidated++;
	}
	pthread_mutex_unlock(&mc->lock);
}

void mapcache_invalidate_map(struct mapcache *mc, struct mapcache_map *map)
{
	pthread_mutex_lock(&mc->lock);
	g_assert(map->pins > 0);
	if (map->live) {
		detach_locked(mc, map);
		mc->st.invalidated++;
	}
	pthread_mutex_unlock(&mc->lock);
}

bool mapcache_revalidate(struct mapcache *mc, const struct devino *key,
			 const struct stat *st)
{
	struct mapcache_map *m;
	bool shrank = false;

	pthread_mutex_lock(&mc->lock);
	m = g_hash_table_lookup(mc->table, key);
	if (m && !same_identity(m, st)) {
		shrank = st->st_size < (off_t)m->len;
		detach_locked(mc, m);
		mc->st.remapped++;
	}
	pthread_mutex_unlock(&mc->lock);
	return shrank;
}

void mapcache_drop_all(struct mapcache *mc)
{
	GList *l, *prev;

	pthread_mutex_lock(&mc->lock);
	for (l = mc->lru.tail; l; l = prev) {
		struct mapcache_map *m = l->data;

		prev = l->prev;
		if (!m->pins) {
			detach_locked(mc, m);
			mc->st.invalidated++;
		}
	}
	pthread_mutex_unlock(&mc->lock);
}

GArray *mapcache_list(struct mapcache *mc)
{
	GArray *all;

	pthread_mutex_lock(&mc->lock);
	all = g_array_sized_new(FALSE, FALSE, sizeof(struct mapcache_entry),
				g_hash_table_size(mc->table));
	for (GList *l = mc->lru.head; l; l = l->next) {
		const struct mapcache_map *m = l->data;
		struct mapcache_entry e = {
			.key = m->key, .len = m->len, .pins = m->pins,
			.mapped_at = m->mapped_at,
		};

		g_array_append_val(all, e);
	}
	pthread_mutex_unlock(&mc->lock);
	return all;
}

bool mapcache_set_limits(struct mapcache *mc, unsigned max_maps,
			 uint64_t max_mapped)
{
	bool fits;

	pthread_mutex_lock(&mc->lock);
	mc->max_maps = MAX(max_maps, 1u);
	mc->max_mapped = MAX(max_mapped, 1u);
	fits = make_room_locked(mc, 0, 0);
	pthread_mutex_unlock(&mc->lock);
	return fits;
}

void mapcache_get_stats(struct mapcache *mc, struct mapcache_stats *out)
{
	unsigned pinned = 0;

	pthread_mutex_lock(&mc->lock);
	*out = mc->st;
	for (GList *l = mc->lru.head; l; l = l->next)
		pinned += ((struct mapcache_map *)l->data)->pins > 0;
	out->pinned = pinned;
	out->n_maps = mc->n_maps;
	out->mapped_bytes = mc->mapped_bytes;
	out->max_maps = mc->max_maps;
	out->max_mapped = mc->max_mapped;
	pthread_mutex_unlock(&mc->lock);
}

void mapcache_free(struct mapcache *mc)
{
	if (!mc)
		return;
	mapcache_drop_all(mc);
	g_assert(mc->n_maps == 0);
	g_hash_table_unref(mc->table);
	pthread_mutex_destroy(&mc->lock);
	g_free(mc);
}

uint64_t mapcache_last_page_start(const struct mapcache *mc,
				  const struct mapcache_map *map)
{
	return (map->len - 1) & ~(uint64_t)(mc->page_size - 1);
}
