/*
 * deferred.h - backing calls that may wait on another user, run on
 * threads of their own.
 *
 * The session loop has a few worker threads for every user of the mount.
 * A backing call that waits on someone else (an open, create or truncate
 * that must first break another process's lease, which takes up to
 * /proc/sys/fs/lease-break-time) must not hold one of them: a user with a few leases could otherwise stop
 * the mount for everyone.  The handler hands such a call to this pool; a
 * pool thread makes it and replies to the request, which the low-level API
 * allows from any thread.
 *
 * The pool has at most max_threads threads; calls beyond them wait in its
 * queue, holding no worker of the session loop.  deferred_run() may be
 * called from any thread and never blocks.
 */
#ifndef MMAPFS_DEFERRED_H
#define MMAPFS_DEFERRED_H

struct deferred;

struct deferred *deferred_new(unsigned max_threads);

/* Waits for every queued call to be made, then frees the pool. */
void deferred_free(struct deferred *d);

/*
 * Makes fn(data) on a pool thread.  fn owns data (and the request it
 * answers) from then on.
 */
void deferred_run(struct deferred *d, void (*fn)(void *data), void *data);

#endif
