/*
 * fdcache.h - descriptors of backing files kept open after their opens
 * end, so that a file opened again through the mount is not opened again
 * on the source.
 *
 * Where opening a backing file costs a round trip on the network (sshfs,
 * NFS) and may drop that filesystem's own cached pages, the descriptor of
 * a read-only open is kept (a duplicate) when the open is made, keyed by
 * backing inode (st_dev, st_ino), with what was known of the file then:
 * its size and mtime, a generation word of the caller's (filedata.h's),
 * and when that was confirmed.  A later open takes a reference to the
 * descriptor instead of opening the file; filedata_reopen() decides when
 * it may.
 *
 * Descriptors are shared by reference (struct fdcache_fd): the cache holds
 * one, each open that took one holds one, and the last reference closes
 * the descriptor.  At most max are kept.  A new one takes the place of the
 * least recently used only if that one has not been used for
 * FDCACHE_IDLE_US (or the window, if shorter): a scan over more files
 * than the budget, repeated within that time, reuses the same part of
 * them on each pass, where a plain LRU would reuse none of them; and the
 * files of a workload that ended give their places to the next one.
 *
 * Thread-safe: one mutex guards the table and the LRU; no function calls
 * back into the caller, and none blocks but on close().
 */
#ifndef MMAPFS_FDCACHE_H
#define MMAPFS_FDCACHE_H

#include <stdbool.h>
#include <sys/stat.h>

#include <glib.h>

#include "mmapfs/devino.h"

/* A kept descriptor, shared by reference. */
struct fdcache_fd {
	int fd;                   /* immutable */
	gint refs;                /* atomic */
};

/* What was known of a kept file, as fdcache_take() found it. */
struct fdcache_ident {
	struct stat st;           /* its attributes when last confirmed */
	int gen;                  /* the caller's generation word then */
	bool fresh;               /* confirmed less than the window ago, and
				   * no fdcache_attrs_changed() since */
};

struct fdcache;

/* How long a kept descriptor unused keeps its place against newcomers. */
#define FDCACHE_IDLE_US (30 * G_USEC_PER_SEC)

/* Keeps at most max descriptors (at least 1), fresh for window_us. */
struct fdcache *fdcache_new(unsigned max, gint64 window_us);

/* Closes the cache's references.  Opens that hold one keep theirs. */
void fdcache_free(struct fdcache *fc);

/*
 * Keeps a duplicate of fd, a descriptor of the file key whose attributes
 * are st, as confirmed now at the caller's generation gen.  Replaces what
 * key had; does nothing if the budget is full of ones used lately.
 */
void fdcache_keep(struct fdcache *fc, const struct devino *key, int fd,
		  const struct stat *st, int gen);

/* A reference to key's kept descriptor, made most recent, with *out what
 * was known of the file; or NULL. */
struct fdcache_fd *fdcache_take(struct fdcache *fc, const struct devino *key,
				struct fdcache_ident *out);

/* The file behind kfd (taken from key) is st now: confirmed now, at the
 * caller's generation gen.  Nothing if key now keeps another. */
void fdcache_confirm(struct fdcache *fc, const struct devino *key,
		     const struct fdcache_fd *kfd, int gen, const struct stat *st);

/*
 * Attributes of some files may have changed (a chmod, a link, a rename, an
 * unlink through the mount): nothing kept is fresh until confirmed again.
 * O(1): a count that every entry's confirmation records.
 */
void fdcache_attrs_changed(struct fdcache *fc);

/* Forgets key's descriptor if it is kfd (or any, with kfd NULL). */
void fdcache_drop(struct fdcache *fc, const struct devino *key,
		  const struct fdcache_fd *kfd);

/*
 * The process ran out of descriptors: the cache gives back up to n of
 * those it keeps, least recently used first (idle or not).  Returns how
 * many it gave back.
 */
unsigned fdcache_shed(struct fdcache *fc, unsigned n);

/* Gives a reference back; the last one closes the descriptor. */
void fdcache_fd_unref(struct fdcache_fd *kfd);

/* Whether a descriptor of key is kept now. */
bool fdcache_keeps(struct fdcache *fc, const struct devino *key);

/* Descriptors kept now (not counting those only opens still hold). */
unsigned fdcache_size(struct fdcache *fc);

#endif
