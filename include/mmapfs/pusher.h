/*
 * pusher.h - pushing windows of mapped files into the kernel's page cache.
 *
 * A small read that reaches the daemon is a random miss in the kernel's
 * page cache.  The read path answers it, then asks the pusher to store the
 * window around it (window bytes, aligned) into the kernel's cache with
 * fuse_lowlevel_notify_store(), so that the reads that follow nearby are
 * answered by the kernel alone.
 *
 * The pushing happens on a thread of its own.  The kernel locks the pages
 * it stores into, and a page is also locked while a readahead request for
 * it waits for a reply: a handler thread that pushed could wait for a
 * request that no free handler thread is left to answer.  The pusher
 * thread can wait; the handlers never do.
 *
 * Never pushed: a window while the file is open for writing anywhere (the
 * kernel's copy could be newer than ours), the mapping's last page (the
 * file may have shrunk; a store past the kernel's idea of the size would
 * grow it), a window pushed already for the same mapping.  A window whose
 * file was opened for writing or changed size while it was being pushed
 * is invalidated again.
 *
 * pusher_prepare(), pusher_submit() and pusher_cancel() may be called from
 * any thread and never block; the queue is bounded and a job that does not
 * fit is dropped.
 */
#ifndef MMAPFS_PUSHER_H
#define MMAPFS_PUSHER_H

#include <fuse_lowlevel.h>

#include "mmapfs/inode.h"
#include "mmapfs/mapcache.h"

struct pusher;

/* Starts the pusher thread; window is a power of two, at least a page. */
struct pusher *pusher_new(struct fuse_session *se, struct inode_table *inodes,
			  struct mapcache *maps, size_t window);

/* Stops the thread and drops what is still queued. */
void pusher_free(struct pusher *p);

struct push_job;

/*
 * Prepares the push of the window around a read of size bytes at off in
 * node's file, mapped as m (which the caller has pinned): the job takes its
 * own pin on m and its own hold on node, so it may outlive the request.
 * Returns NULL when there is nothing to push, which includes reads of the
 * kernel's readahead size (sequential reading pushes nothing).  Call it before replying to the request: after
 * the reply, the file may be closed and its node forgotten.
 */
struct push_job *pusher_prepare(struct pusher *p, fuse_ino_t ino,
				struct inode *node, struct mapcache_map *m,
				off_t off, size_t size);

/* Queues a prepared job (or drops it when the queue is full). */
void pusher_submit(struct pusher *p, struct push_job *job);

/* Drops a prepared job. */
void pusher_cancel(struct pusher *p, struct push_job *job);

/* Windows stored so far, and windows invalidated again after storing. */
void pusher_counts(struct pusher *p, guint64 *stores, guint64 *invalidated);

#endif
