/*
 * pusher.c - see include/mmapfs/pusher.h.
 *
 * DESIGN: a GAsyncQueue of jobs, each holding a pin on its mapping and a
 * hold on its node, drained by one thread.  Which windows were pushed is
 * remembered per mapping in a set of (mapping address, window index); the
 * set is emptied when it grows past a bound, which at worst pushes a window
 * twice.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include <glib.h>

#include "mmapfs/log.h"
#include "mmapfs/pusher.h"
#include "mmapfs/safecopy.h"

#define MAX_QUEUED 64
/* Reads this large come from the kernel's own readahead, which is
 * sequential reading: it needs no help, and pushing would copy twice. */
#define READAHEAD_SIZE (64 * 1024)
#define MAX_REMEMBERED 65536

struct push_job {
	fuse_ino_t ino;
	struct inode *node;        /* held */
	struct mapcache_map *map;  /* pinned */
	off_t start;
	size_t len;
};

struct pusher {
	struct fuse_session *se;
	struct inode_table *inodes;
	struct mapcache *maps;
	size_t window;
	size_t page_size;
	GAsyncQueue *queue;        /* of struct push_job *, or &stop */
	GThread *thread;
	pthread_mutex_t lock;
	GHashTable *pushed;        /* window keys; protected by lock */
	guint64 stores, invalidated;  /* (atomic) written by the pusher thread */
};

static struct push_job stop;        /* the queue's last item */

/*
 * GAsyncQueue synchronizes with glib's futexes, which ThreadSanitizer does
 * not see: handing a job over is declared to it as the release and acquire
 * it is.  (Our own locks are pthread mutexes for the same reason.)
 */
#ifdef __SANITIZE_THREAD__
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define HANDOFF_RELEASE(job) __tsan_release(job)
#define HANDOFF_ACQUIRE(job) __tsan_acquire(job)
#else
#define HANDOFF_RELEASE(job) ((void)(job))
#define HANDOFF_ACQUIRE(job) ((void)(job))
#endif

static void job_free(struct pusher *p, struct push_job *j)
{
	mapcache_put(p->maps, j->map);
	inode_unhold(p->inodes, j->node);
	g_free(j);
}

/* Stores one window into the kernel's cache, unless a writer appeared. */
static void push(struct pusher *p, struct push_job *j)
{
	struct inode *node = j->node;
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(j->len);
	int gen = g_atomic_int_get(&node->data_gen);

	if (g_atomic_int_get(&node->writers))
		return;
	/* The window's pages, and one byte after it: the file must still
	 * extend past the window, or the store would grow the kernel's size. */
	if (safecopy_probe(j->map->addr + j->start, j->len + 1) < j->len + 1)
		return;
	buf.buf[0].mem = (void *)(j->map->addr + j->start);
	if (fuse_lowlevel_notify_store(p->se, j->ino, j->start, &buf, 0) != 0)
		return;
	__atomic_fetch_add(&p->stores, 1, __ATOMIC_RELAXED);
	/* A writer opened, or the size changed, while we stored: what we
	 * stored may be older than what the kernel had. */
	if (g_atomic_int_get(&node->writers) ||
	    g_atomic_int_get(&node->data_gen) != gen) {
		fuse_lowlevel_notify_inval_inode(p->se, j->ino, j->start, j->len);
		__atomic_fetch_add(&p->invalidated, 1, __ATOMIC_RELAXED);
	}
}

static gpointer pusher_main(gpointer data)
{
	struct pusher *p = data;
	struct push_job *j;

	while ((j = g_async_queue_pop(p->queue)) != &stop) {
		HANDOFF_ACQUIRE(j);
		push(p, j);
		job_free(p, j);
	}
	return NULL;
}

struct pusher *pusher_new(struct fuse_session *se, struct inode_table *inodes,
			  struct mapcache *maps, size_t window)
{
	struct pusher *p = g_new0(struct pusher, 1);

	p->se = se;
	p->inodes = inodes;
	p->maps = maps;
	p->window = window;
	p->page_size = (size_t)sysconf(_SC_PAGESIZE);
	p->queue = g_async_queue_new();
	pthread_mutex_init(&p->lock, NULL);
	p->pushed = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	p->thread = g_thread_new("pusher", pusher_main, p);
	return p;
}

void pusher_free(struct pusher *p)
{
	struct push_job *j;

	if (!p)
		return;
	g_async_queue_push(p->queue, &stop);
	g_thread_join(p->thread);
	log_info("pushed %" G_GUINT64_FORMAT " windows of %zu bytes into the kernel's cache, "
		 "%" G_GUINT64_FORMAT " invalidated again", p->stores, p->window,
		 p->invalidated);
	while ((j = g_async_queue_try_pop(p->queue)))
		job_free(p, j);
	g_async_queue_unref(p->queue);
	g_hash_table_destroy(p->pushed);
	pthread_mutex_destroy(&p->lock);
	g_free(p);
}

/* Remembers (map, window); false if it was remembered already. */
static bool remember(struct pusher *p, const struct mapcache_map *m,
		     size_t index)
{
	gint64 key = (gint64)(((guintptr)m->addr >> 12) * 1000003u + index);
	bool fresh;

	pthread_mutex_lock(&p->lock);
	if (g_hash_table_size(p->pushed) >= MAX_REMEMBERED)
		g_hash_table_remove_all(p->pushed);
	fresh = !g_hash_table_contains(p->pushed, &key);
	if (fresh) {
		gint64 *k = g_new(gint64, 1);

		*k = key;
		g_hash_table_add(p->pushed, k);
	}
	pthread_mutex_unlock(&p->lock);
	return fresh;
}

struct push_job *pusher_prepare(struct pusher *p, fuse_ino_t ino,
				struct inode *node, struct mapcache_map *m,
				off_t off, size_t size)
{
	size_t index = (size_t)off / p->window;
	size_t start = index * p->window;
	size_t last_page = (m->len - 1) & ~(p->page_size - 1);
	size_t end = MIN(start + p->window, last_page);
	struct push_job *j;

	if (size >= READAHEAD_SIZE || end <= start ||
	    g_atomic_int_get(&node->writers) ||
	    g_async_queue_length(p->queue) >= MAX_QUEUED ||
	    !remember(p, m, index))
		return NULL;
	j = g_new(struct push_job, 1);
	*j = (struct push_job){ .ino = ino, .node = node, .map = m,
				.start = (off_t)start, .len = end - start };
	inode_hold(p->inodes, node);
	mapcache_pin(p->maps, m);
	return j;
}

void pusher_counts(struct pusher *p, guint64 *stores, guint64 *invalidated)
{
	*stores = __atomic_load_n(&p->stores, __ATOMIC_RELAXED);
	*invalidated = __atomic_load_n(&p->invalidated, __ATOMIC_RELAXED);
}

void pusher_submit(struct pusher *p, struct push_job *job)
{
	HANDOFF_RELEASE(job);
	g_async_queue_push(p->queue, job);
}

void pusher_cancel(struct pusher *p, struct push_job *job)
{
	job_free(p, job);
}
