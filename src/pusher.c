/*
 * pusher.c - see include/mmapfs/pusher.h.
 *
 * DESIGN: a GAsyncQueue of jobs, each holding a hold on its node and, for
 * a window, a pin on its mapping, drained by one thread.  A whole file is
 * read with pread into the thread's buffer (once pagecache.h says it is all
 * in memory) rather than mapped: a listing may name thousands of files,
 * and mapping each would churn the mapping cache for files that may never
 * be read.  Which windows were pushed is remembered per mapping in a set of (mapping address, window index); the
 * set is emptied when it grows past a bound, which at worst pushes a window
 * twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "mmapfs/filedata.h"
#include "mmapfs/log.h"
#include "mmapfs/pagecache.h"
#include "mmapfs/pusher.h"
#include "mmapfs/safecopy.h"
#include "mmapfs/tsan.h"

#define MAX_QUEUED_WINDOWS 64
/* A listing queues a file per entry: a directory of small files read in
 * a loop wants them all before the reader reaches them. */
#define MAX_QUEUED 4096
/* Reads this large come from the kernel's own readahead, which is
 * sequential reading: it needs no help, and pushing would copy twice. */
#define READAHEAD_SIZE (64 * 1024)
#define MAX_REMEMBERED 65536
/* A listed file's store is tried this many times at most, the n-th retry
 * no sooner than RETRY_US << n after the one before (0.5 ms to 32 ms,
 * 64 ms in all): the kernel makes a listing's inodes when the reader it
 * woke takes the reply in, which a busy machine may delay. */
#define MAX_TRIES 8
#define RETRY_US 250
/* Listed files found not cached this many times running stop the checks
 * for a while, from BACKOFF_MIN_US, doubled each time up to
 * BACKOFF_MAX_US (see pusher.h). */
#define FUTILE_CHECKS 128
#define BACKOFF_MIN_US (1 * G_USEC_PER_SEC)
#define BACKOFF_MAX_US (64 * G_USEC_PER_SEC)

struct push_job {
	fuse_ino_t ino;
	struct inode *node;        /* held */
	struct mapcache_map *map;  /* pinned; NULL for a whole file */
	off_t start;
	size_t len;
	unsigned tries;            /* stores the kernel refused: see push_file() */
	gint64 retry_at;           /* not tried again before (monotonic, us) */
};

struct pusher {
	struct fuse_session *se;
	struct inode_table *inodes;
	struct mapcache *maps;
	size_t window;
	size_t file_max;
	size_t open_max;
	char *file_buf;            /* file_max + 1 bytes, the thread's */
	GAsyncQueue *queue;        /* of struct push_job *, or &stop */
	GThread *thread;
	pthread_mutex_t lock;
	GHashTable *pushed;        /* window keys; protected by lock */
	/* (atomic) written by the pusher thread */
	guint64 stores, file_stores, invalidated;
	/* The backoff of listed files' checks: no check before skip_until
	 * (monotonic us; 0: none), the next backoff's length; both (atomic),
	 * set by the pusher thread, reset by a small file's read miss
	 * (pusher_prepare(), any thread).  futile: checks that found the
	 * file not cached, in a row (the pusher thread's).  unchecked:
	 * (atomic) files a listing named during a backoff. */
	gint64 skip_until, backoff_us;
	unsigned futile;
	guint64 unchecked;
};

static struct push_job stop;        /* the queue's last item */

static void job_free(struct pusher *p, struct push_job *j)
{
	if (j->map)
		mapcache_put(p->maps, j->map);
	inode_unhold(p->inodes, j->node);
	g_free(j);
}

/* Stores one window into the kernel's cache, unless a writer appeared. */
static void push(struct pusher *p, struct push_job *j)
{
	struct inode *node = j->node;
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(j->len);
	int gen;

	if (!filedata_push_begin(node, &gen))
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
	if (!filedata_push_still_good(node, gen)) {
		fuse_lowlevel_notify_inval_inode(p->se, j->ino, j->start, j->len);
		__atomic_fetch_add(&p->invalidated, 1, __ATOMIC_RELAXED);
	}
}

/*
 * Reads the whole file (len bytes, and one more to see that it did not
 * grow) into buf if its pages are all in the backing's page cache; returns
 * the bytes read, or -1.
 */
static ssize_t read_if_cached(int fd, char *buf, size_t len)
{
	if (pagecache_all_cached(fd, len) != 1)
		return -1;
	return pread(fd, buf, len + 1, 0);
}

/*
 * A listed file was opened and found not (all) cached: after FUTILE_CHECKS
 * of those in a row, the listings' files are not checked for a backoff,
 * each one twice as long as the one before (a walk over a tree whose data
 * is not in memory opens every file for nothing, on the machine's cores
 * the walk needs).
 */
static void checked_in_vain(struct pusher *p)
{
	gint64 backoff;

	if (++p->futile < FUTILE_CHECKS)
		return;
	p->futile = 0;
	backoff = __atomic_load_n(&p->backoff_us, __ATOMIC_RELAXED);
	__atomic_store_n(&p->skip_until, g_get_monotonic_time() + backoff,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&p->backoff_us, MIN(backoff * 2, BACKOFF_MAX_US),
			 __ATOMIC_RELAXED);
}

/* Whether listed files go unchecked now (a backoff); counts one if so. */
static bool checks_paused(struct pusher *p)
{
	gint64 skip_until = __atomic_load_n(&p->skip_until, __ATOMIC_RELAXED);

	if (!skip_until || g_get_monotonic_time() >= skip_until)
		return false;
	__atomic_fetch_add(&p->unchecked, 1, __ATOMIC_RELAXED);
	return true;
}

/*
 * Stores a whole file of j->len bytes into the kernel's cache, if its data
 * is in the backing's page cache and its size is still j->len.  The kernel
 * may then keep those pages at the next open: the node gets the stamp of
 * what was stored.  Returns false when the kernel does not know the inode
 * yet: it makes the inodes of a listing when the reader it woke takes the
 * reply in, which can be after our store, so the job is worth another try.
 */
static bool push_file(struct pusher *p, struct push_job *j)
{
	struct inode *node = j->node;
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(j->len);
	struct stat st;
	ssize_t n = -1;
	int fd, res, gen;

	if (checks_paused(p))
		return true;
	if (!filedata_push_begin(node, &gen))
		return true;
	/* Nobody read the file: its access time stays as it was (a daemon
	 * that may not keep it, on files not its own, pushes nothing). */
	fd = inode_open(p->inodes, node, O_RDONLY | O_NOATIME | O_CLOEXEC);
	if (fd < 0)
		return true;
	/* A file that grew or shrank since the listing is not pushed (the
	 * kernel's size would be wrong for it). */
	if (fstat(fd, &st) == 0 && (size_t)st.st_size == j->len)
		n = read_if_cached(fd, p->file_buf, j->len);
	close(fd);
	if (n != (ssize_t)j->len) {
		checked_in_vain(p);
		return true;
	}
	p->futile = 0;
	__atomic_store_n(&p->backoff_us, BACKOFF_MIN_US, __ATOMIC_RELAXED);
	buf.buf[0].mem = p->file_buf;
	res = fuse_lowlevel_notify_store(p->se, j->ino, 0, &buf, 0);
	if (res != 0)
		return res != -ENOENT;
	__atomic_fetch_add(&p->file_stores, 1, __ATOMIC_RELAXED);
	if (!filedata_push_still_good(node, gen)) {
		fuse_lowlevel_notify_inval_inode(p->se, j->ino, 0, 0);
		__atomic_fetch_add(&p->invalidated, 1, __ATOMIC_RELAXED);
		return true;
	}
	filedata_pushed_whole(node, &st);
	return true;
}

bool pusher_store_at_open(struct pusher *p, fuse_ino_t ino, struct inode *node,
			  int fd, const struct stat *st)
{
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT((size_t)st->st_size);
	struct mapcache_map *m;
	bool stored = false;
	int gen;

	if (!p->open_max || !S_ISREG(st->st_mode) || st->st_size <= 0 ||
	    (size_t)st->st_size > p->open_max || filedata_kernel_has(node, st) ||
	    filedata_reads_by_pread(node) || !filedata_push_begin(node, &gen))
		return false;
	/* From the file's mapping (a read() on a FUSE source would have it
	 * asked for the file's size once more), its pages faulted in first,
	 * before other opens are held off: that is the network's part.  A
	 * file that shrank since makes the probe, or the store, fail, with
	 * nothing wrong stored. */
	if (mapcache_get(p->maps, &node->id, fd, st, &m) != 0)
		return false;
	if (m->len == (size_t)st->st_size &&
	    safecopy_probe(m->addr, m->len) == m->len && filedata_store_begin(node)) {
		bv.buf[0].mem = (void *)m->addr;
		if (fuse_lowlevel_notify_store(p->se, ino, 0, &bv, 0) == 0) {
			__atomic_fetch_add(&p->file_stores, 1, __ATOMIC_RELAXED);
			stored = filedata_push_still_good(node, gen);
			if (!stored) {
				fuse_lowlevel_notify_inval_inode(p->se, ino, 0, 0);
				__atomic_fetch_add(&p->invalidated, 1, __ATOMIC_RELAXED);
			}
		}
		filedata_store_done(node);
	}
	mapcache_put(p->maps, m);
	if (stored)
		filedata_pushed_whole(node, st);
	return stored;
}

static gpointer pusher_main(gpointer data)
{
	struct pusher *p = data;
	struct push_job *j;

	while ((j = g_async_queue_pop(p->queue)) != &stop) {
		gint64 wait;

		HANDOFF_ACQUIRE(j);
		/* A retry waits for its time (a job behind it, at most as
		 * long: 32 ms). */
		wait = j->retry_at - g_get_monotonic_time();
		if (j->retry_at && wait > 0)
			g_usleep((gulong)wait);
		if (j->map) {
			push(p, j);
		} else if (!push_file(p, j) && ++j->tries < MAX_TRIES) {
			/* Behind the rest of the queue, for the reader to take
			 * the listing in meanwhile. */
			j->retry_at = g_get_monotonic_time() + ((gint64)RETRY_US << j->tries);
			HANDOFF_RELEASE(j);
			g_async_queue_push(p->queue, j);
			continue;
		}
		job_free(p, j);
	}
	return NULL;
}

struct pusher *pusher_new(struct fuse_session *se, struct inode_table *inodes,
			  struct mapcache *maps, size_t window, size_t file_max,
			  size_t open_max)
{
	struct pusher *p = g_new0(struct pusher, 1);

	p->se = se;
	p->inodes = inodes;
	p->maps = maps;
	p->window = window;
	p->file_max = file_max;
	p->open_max = open_max;
	p->file_buf = file_max ? g_malloc(file_max + 1) : NULL;
	p->backoff_us = BACKOFF_MIN_US;
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
	log_info("pushed %" G_GUINT64_FORMAT " windows of %zu bytes and %"
		 G_GUINT64_FORMAT " whole files of up to %zu into the kernel's "
		 "cache, %" G_GUINT64_FORMAT " invalidated again; %" G_GUINT64_FORMAT
		 " listed files not checked (none of the files checked before them "
		 "was in memory)", p->stores, p->window, p->file_stores,
		 MAX(p->file_max, p->open_max),
		 p->invalidated, p->unchecked);
	while ((j = g_async_queue_try_pop(p->queue)))
		job_free(p, j);
	g_async_queue_unref(p->queue);
	g_hash_table_destroy(p->pushed);
	pthread_mutex_destroy(&p->lock);
	g_free(p->file_buf);
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
	size_t index, start, last_page, end;
	struct push_job *j;

	last_page = mapcache_last_page_start(p->maps, m);
	/* A small file read from its start reached us: the kernel did not
	 * have it, and a push at its listing would have spared the round
	 * trip; the checks resume. */
	if (off == 0 && last_page < p->file_max &&
	    __atomic_load_n(&p->skip_until, __ATOMIC_RELAXED)) {
		__atomic_store_n(&p->skip_until, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&p->backoff_us, BACKOFF_MIN_US, __ATOMIC_RELAXED);
	}
	if (!p->window)
		return NULL;
	index = (size_t)off / p->window;
	start = index * p->window;
	end = MIN(start + p->window, last_page);
	if (size >= READAHEAD_SIZE || end <= start ||
	    filedata_has_writers(node) ||
	    g_async_queue_length(p->queue) >= MAX_QUEUED_WINDOWS ||
	    !remember(p, m, index))
		return NULL;
	j = g_new(struct push_job, 1);
	*j = (struct push_job){ .ino = ino, .node = node, .map = m,
				.start = (off_t)start, .len = end - start };
	inode_hold(p->inodes, node);
	mapcache_pin(p->maps, m);
	return j;
}

struct push_job *pusher_prepare_file(struct pusher *p, fuse_ino_t ino,
				     struct inode *node,
				     const struct stat *attr)
{
	struct push_job *j;

	if (attr->st_size <= 0 || (uint64_t)attr->st_size > p->file_max ||
	    filedata_has_writers(node) || filedata_kernel_has(node, attr) ||
	    g_async_queue_length(p->queue) >= MAX_QUEUED || checks_paused(p))
		return NULL;
	j = g_new(struct push_job, 1);
	*j = (struct push_job){ .ino = ino, .node = node,
				.len = (size_t)attr->st_size };
	inode_hold(p->inodes, node);
	return j;
}

void pusher_counts(struct pusher *p, guint64 *windows, guint64 *files,
		   guint64 *invalidated, guint64 *unchecked)
{
	*windows = __atomic_load_n(&p->stores, __ATOMIC_RELAXED);
	*files = __atomic_load_n(&p->file_stores, __ATOMIC_RELAXED);
	*invalidated = __atomic_load_n(&p->invalidated, __ATOMIC_RELAXED);
	*unchecked = __atomic_load_n(&p->unchecked, __ATOMIC_RELAXED);
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
