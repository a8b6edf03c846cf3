/*
 * fdcache.c - see include/mmapfs/fdcache.h.
 *
 * DESIGN: a GHashTable from key to entry plus an LRU queue of the entries,
 * most recently kept or taken first, both under one mutex.  close() of a
 * descriptor whose last reference goes runs outside the lock.
 */
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "mmapfs/fdcache.h"

struct entry {
	struct devino key;        /* immutable; first: the table's key */
	struct fdcache_fd *kfd;   /* immutable: the cache's reference */
	struct stat st;           /* these protected by the cache's lock */
	int gen;
	unsigned epoch;           /* fc->epoch when confirmed */
	gint64 confirmed_at;      /* g_get_monotonic_time() */
	gint64 used_at;           /* ... when last kept or taken */
	GList lru_link;
};

struct fdcache {
	pthread_mutex_t lock;
	GHashTable *table;        /* key -> entry; protected by lock */
	GQueue lru;               /* entries, most recent first; protected by lock */
	unsigned max;             /* immutable */
	gint64 window_us;         /* immutable */
	gint64 idle_us;           /* immutable: FDCACHE_IDLE_US, or the window */
	guint epoch;              /* atomic: fdcache_attrs_changed() calls */
};

struct fdcache *fdcache_new(unsigned max, gint64 window_us)
{
	struct fdcache *fc = g_new0(struct fdcache, 1);

	pthread_mutex_init(&fc->lock, NULL);
	fc->table = g_hash_table_new(devino_hash, devino_equal);
	g_queue_init(&fc->lru);
	fc->max = MAX(max, 1u);
	fc->window_us = window_us;
	fc->idle_us = MIN(window_us, FDCACHE_IDLE_US);
	return fc;
}

void fdcache_fd_unref(struct fdcache_fd *kfd)
{
	if (!g_atomic_int_dec_and_test(&kfd->refs))
		return;
	close(kfd->fd);
	g_free(kfd);
}

/* Takes e out of the table and the LRU; returns the reference it held,
 * for the caller to give back once the lock is released. */
static struct fdcache_fd *remove_locked(struct fdcache *fc, struct entry *e)
{
	struct fdcache_fd *kfd = e->kfd;

	g_hash_table_remove(fc->table, &e->key);
	g_queue_unlink(&fc->lru, &e->lru_link);
	g_free(e);
	return kfd;
}

static bool fresh_locked(const struct fdcache *fc, const struct entry *e,
			 gint64 now)
{
	return now - e->confirmed_at < fc->window_us &&
	       e->epoch == (unsigned)g_atomic_int_get(&fc->epoch);
}

void fdcache_keep(struct fdcache *fc, const struct devino *key, int fd,
		  const struct stat *st, int gen)
{
	struct fdcache_fd *old = NULL, *lru = NULL;
	gint64 now = g_get_monotonic_time();
	struct entry *e;
	int dup;

	pthread_mutex_lock(&fc->lock);
	e = g_hash_table_lookup(fc->table, key);
	if (e) {
		old = remove_locked(fc, e);
	} else if (g_hash_table_size(fc->table) >= fc->max) {
		struct entry *tail = fc->lru.tail ? fc->lru.tail->data : NULL;

		if (!tail || now - tail->used_at < fc->idle_us) {
			pthread_mutex_unlock(&fc->lock);
			return;
		}
		lru = remove_locked(fc, tail);
	}
	dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup >= 0) {
		e = g_new0(struct entry, 1);
		e->key = *key;
		e->kfd = g_new(struct fdcache_fd, 1);
		*e->kfd = (struct fdcache_fd){ .fd = dup, .refs = 1 };
		e->st = *st;
		e->gen = gen;
		e->epoch = (unsigned)g_atomic_int_get(&fc->epoch);
		e->confirmed_at = e->used_at = now;
		e->lru_link.data = e;
		g_hash_table_insert(fc->table, &e->key, e);
		g_queue_push_head_link(&fc->lru, &e->lru_link);
	}
	pthread_mutex_unlock(&fc->lock);
	if (old)
		fdcache_fd_unref(old);
	if (lru)
		fdcache_fd_unref(lru);
}

struct fdcache_fd *fdcache_take(struct fdcache *fc, const struct devino *key,
				struct fdcache_ident *out)
{
	struct fdcache_fd *kfd = NULL;
	struct entry *e;

	pthread_mutex_lock(&fc->lock);
	e = g_hash_table_lookup(fc->table, key);
	if (e) {
		g_atomic_int_inc(&e->kfd->refs);
		kfd = e->kfd;
		gint64 now = g_get_monotonic_time();

		*out = (struct fdcache_ident){
			.st = e->st, .gen = e->gen,
			.fresh = fresh_locked(fc, e, now),
		};
		e->used_at = now;
		g_queue_unlink(&fc->lru, &e->lru_link);
		g_queue_push_head_link(&fc->lru, &e->lru_link);
	}
	pthread_mutex_unlock(&fc->lock);
	return kfd;
}

void fdcache_confirm(struct fdcache *fc, const struct devino *key,
		     const struct fdcache_fd *kfd, int gen, const struct stat *st)
{
	unsigned epoch = (unsigned)g_atomic_int_get(&fc->epoch);
	struct entry *e;

	pthread_mutex_lock(&fc->lock);
	e = g_hash_table_lookup(fc->table, key);
	if (e && e->kfd == kfd) {
		e->confirmed_at = g_get_monotonic_time();
		e->gen = gen;
		e->epoch = epoch;
		e->st = *st;
	}
	pthread_mutex_unlock(&fc->lock);
}

void fdcache_attrs_changed(struct fdcache *fc)
{
	g_atomic_int_inc(&fc->epoch);
}

void fdcache_drop(struct fdcache *fc, const struct devino *key,
		  const struct fdcache_fd *kfd)
{
	struct fdcache_fd *old = NULL;
	struct entry *e;

	pthread_mutex_lock(&fc->lock);
	e = g_hash_table_lookup(fc->table, key);
	if (e && (!kfd || e->kfd == kfd))
		old = remove_locked(fc, e);
	pthread_mutex_unlock(&fc->lock);
	if (old)
		fdcache_fd_unref(old);
}

unsigned fdcache_shed(struct fdcache *fc, unsigned n)
{
	GPtrArray *gone = g_ptr_array_new_with_free_func((GDestroyNotify)fdcache_fd_unref);
	unsigned shed;

	pthread_mutex_lock(&fc->lock);
	while (gone->len < n && fc->lru.tail)
		g_ptr_array_add(gone, remove_locked(fc, fc->lru.tail->data));
	pthread_mutex_unlock(&fc->lock);
	shed = gone->len;
	g_ptr_array_unref(gone);
	return shed;
}

bool fdcache_keeps(struct fdcache *fc, const struct devino *key)
{
	bool kept;

	pthread_mutex_lock(&fc->lock);
	kept = g_hash_table_contains(fc->table, key);
	pthread_mutex_unlock(&fc->lock);
	return kept;
}

unsigned fdcache_size(struct fdcache *fc)
{
	unsigned n;

	pthread_mutex_lock(&fc->lock);
	n = g_hash_table_size(fc->table);
	pthread_mutex_unlock(&fc->lock);
	return n;
}

void fdcache_free(struct fdcache *fc)
{
	if (!fc)
		return;
	while (fc->lru.head)
		fdcache_fd_unref(remove_locked(fc, fc->lru.head->data));
	g_hash_table_unref(fc->table);
	pthread_mutex_destroy(&fc->lock);
	g_free(fc);
}
