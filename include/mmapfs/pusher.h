/*
 * pusher.h - pushing file data into the kernel's page cache.
 *
 * A small read that reaches the daemon is a random miss in the kernel's
 * page cache.  The read path answers it, then asks the pusher to store the
 * window around it (window bytes, aligned) into the kernel's cache with
 * fuse_lowlevel_notify_store(), so that the reads that follow nearby are
 * answered by the kernel alone.
 *
 * A directory listing (readdirplus) tells the kernel of files it will often
 * read next, whole: the listing asks the pusher to store each small file
 * (at most file_max bytes) whole, so that reading it takes no READ round
 * trip.  Only data already in the backing's page cache is pushed (see
 * pagecache.h): pushing never makes the backing filesystem read, so
 * listing a directory of a network filesystem stays cheap.  A file pushed
 * whole is recorded as given to the kernel (filedata_pushed_whole()), so
 * that the next open keeps the pages.  Finding out means opening the file:
 * after 128 listed files in a row found not in memory, listings' files
 * are not checked for a second, then 2, 4, ... up to 64 s while the checks
 * keep finding nothing (a walk over a tree whose data is not cached would
 * otherwise open every file for nothing); a small file read from its
 * start that reaches the daemon (the push would have spared that) ends
 * the backoff.
 *
 * On a source that fstype_blind() names, listings push nothing (finding
 * out would mean opening every file listed, over the network); there an
 * open for reading, which has opened the file on the source anyway,
 * stores a file of at most open_max bytes whole into the kernel's cache
 * before its reply, if the kernel does not have it: the reads that follow
 * take no READ round trip, and the kernel, which marks a file's access
 * time stale whenever it reads pages from the daemon, sends no GETATTR
 * at the next stat either (measured in BENCHMARKS.md).
 *
 * The pushing happens on a thread of its own.  The kernel locks the pages
 * it stores into, and a page is also locked while a readahead request for
 * it waits for a reply: a handler thread that pushed could wait for a
 * request that no free handler thread is left to answer.  The pusher
 * thread can wait; the handlers never do, but for the store at an open,
 * which is made only while no other open of the file is in force, and
 * holds new ones off meanwhile (filedata_store_begin()): no read of it can
 * be waiting then.
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

/*
 * Starts the pusher thread; window is a power of two, at least a page, or 0
 * (no windows); file_max is the largest file pushed whole at its listing,
 * open_max at an open (0: none).
 */
struct pusher *pusher_new(struct fuse_session *se, struct inode_table *inodes,
			  struct mapcache *maps, size_t window, size_t file_max,
			  size_t open_max);

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

/*
 * Prepares the push of the whole of node's file, whose attributes the
 * kernel is being told (attr); the job holds node.  Returns NULL when the
 * file is not one to push (empty, larger than file_max, open for writing,
 * or unchanged since it was last pushed or opened: the kernel has its
 * pages, unless it let them go) or the queue is full.  Call it before
 * replying with the entry.
 */
struct push_job *pusher_prepare_file(struct pusher *p, fuse_ino_t ino,
				     struct inode *node,
				     const struct stat *attr);

/*
 * At an open for reading of node's file (ino), which has begun
 * (filedata_open_begin()), whose descriptor is fd and attributes st:
 * stores the file whole into the kernel's cache now, from the calling
 * handler, if it is one to store (regular, not empty, at most open_max
 * bytes, no writer, the only open, the kernel not given it since it last
 * changed).  Returns whether it did: the open then keeps the kernel's
 * cache (filedata_pushed_whole() has recorded st).
 */
bool pusher_store_at_open(struct pusher *p, fuse_ino_t ino, struct inode *node,
			  int fd, const struct stat *st);

/* Queues a prepared job (or drops it when the queue is full). */
void pusher_submit(struct pusher *p, struct push_job *job);

/* Drops a prepared job. */
void pusher_cancel(struct pusher *p, struct push_job *job);

/* Windows and whole files stored so far, those of either invalidated
 * again after storing, and the listed files not checked during a backoff. */
void pusher_counts(struct pusher *p, guint64 *windows, guint64 *files,
		   guint64 *invalidated, guint64 *unchecked);

#endif
