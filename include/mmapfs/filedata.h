/*
 * filedata.h - the file-data protocol: who is writing a file, which
 * generation its data is at, whether the kernel may keep its cached pages,
 * whether it is read through its mapping or with pread, and when its
 * mapping must go.
 *
 * Several parts of the daemon must agree on a file's data: the handlers
 * that open, write, truncate and remove it, the read engine (reader.h),
 * the watcher that sees it changed outside, and the pusher that stores its
 * pages into the kernel's cache from a thread of its own (pusher.h).  They
 * agree through the functions below, which alone touch the atomics of
 * struct inode (data_stamp, writers, data_gen, kernel_size) and which alone
 * drop a file's mapping because its data changed.
 *
 * The rules:
 *   - a mapping never outlives the bytes it maps: whatever makes a file
 *     shorter (O_TRUNC, truncate, collapse range) first calls
 *     filedata_changing(..., true), a file that loses its last name while
 *     nobody has it open calls filedata_gone(), and an open, a read or the
 *     watcher that finds the file changed drops a mapping of its old
 *     identity (the only other drops are of every mapping at once: the
 *     operator's drop, a lost event queue, the end of the mount);
 *   - the pusher stores nothing while a writer has the file open, and takes
 *     back what it stored if the generation moved meanwhile: it brackets a
 *     store with filedata_push_begin() and filedata_push_still_good();
 *   - an open may keep the kernel's cached pages (keep_cache) only if the
 *     file's size and mtime are those it had when the kernel was last
 *     given its pages;
 *   - a read-only open may take a kept descriptor (fdcache.h) instead of
 *     opening the file only while what was kept is confirmed: within the
 *     window and at the file's generation, or by a stat now.
 *
 * Every function may be called from any thread; none blocks but on the
 * mapping cache's lock.
 */
#ifndef MMAPFS_FILEDATA_H
#define MMAPFS_FILEDATA_H

#include <stdbool.h>
#include <sys/stat.h>

#include "mmapfs/fdcache.h"
#include "mmapfs/inode.h"
#include "mmapfs/mapcache.h"

/* An open for writing began, or ended. */
void filedata_writer_open(struct inode *node);
void filedata_writer_close(struct inode *node);

/* Whether some open for writing is in force now. */
bool filedata_has_writers(const struct inode *node);

/*
 * An open of node's file through the mount began (before its reply), or
 * ended (at its release, or when its reply failed).  While none is in
 * force, no read of the file can be waiting for the daemon with the
 * kernel's pages locked: the kernel reads only for an open file, and
 * releases it after its last read.  A begin waits while an open stores
 * the file (below).  Past OPENS_MAX opens at once the count stays at
 * OPENS_MAX for good, which counts as open from then on.
 */
#define OPENS_MAX 127
void filedata_open_begin(struct inode *node);
void filedata_open_end(struct inode *node);

/*
 * An open that has begun may store the file into the kernel's cache from
 * its handler, where waiting on a locked page would wait for a READ that
 * no free handler might be left to answer, only while it is the only
 * open: filedata_store_begin() is true if it is (and then holds off every
 * other open's begin until filedata_store_done()).
 */
bool filedata_store_begin(struct inode *node);
void filedata_store_done(struct inode *node);

/*
 * The file's data is about to change in a way the kernel's cached copy may
 * miss (its size, a range written by copy or fallocate).  With shrinks, the
 * mapping is dropped first.
 */
void filedata_changing(struct mapcache *maps, struct inode *node, bool shrinks);

/*
 * The file identified by id lost its last name and nobody has it open (or
 * its last open went): its mapping goes, so that its space comes back.
 */
void filedata_gone(struct mapcache *maps, const struct devino *id);

/*
 * Some file may have lost its last name outside the mount (the watcher saw
 * a name go): every live mapping whose file has no name left is dropped,
 * so that its space comes back and it stops counting against the budget,
 * and so is every mapping of a file the kernel no longer knows (nothing
 * reads it but through a new lookup, which maps it again).  A stat of
 * each known file; for the watcher's thread, once per batch of events.
 */
void filedata_sweep_gone(struct mapcache *maps, struct inode_table *inodes);

/*
 * The file changed outside the mount; st is what it is now.  Its mapping
 * goes if its identity changed, and a file that shrank under its mapping
 * is read with pread from now on.  Returns true when that began now (for
 * the caller's log line, which can name the file's path).
 */
bool filedata_changed_outside(struct mapcache *maps, struct inode *node,
			      const struct stat *st);

/*
 * A read found the file shorter than its mapping m (pinned by the
 * caller): m is dropped and the file is read with pread from now on.
 * Returns true when that began now.
 */
bool filedata_shrank_under(struct mapcache *maps, struct inode *node,
			   struct mapcache_map *m);

/*
 * The kernel could not copy a reply out of mapping m (pinned by the
 * caller): the file shrank after the read's probe.  m is dropped; the next
 * read maps the file again, and its probe marks it for pread.
 */
void filedata_shrank_during_reply(struct mapcache *maps, struct mapcache_map *m);

/*
 * The file is read with pread from now on: it is not regular, its
 * filesystem cannot map files, or it shrank under its mapping.  Returns
 * true the first time.  (This module logs nothing: its callers know the
 * inode table, and name the file.)
 */
bool filedata_use_pread(struct inode *node);

/* Whether the file is read with pread only. */
bool filedata_reads_by_pread(const struct inode *node);

/*
 * The daemon looked at the file and found st: a file with no name left
 * (deleted outside the mount, or unlinked while open) loses its mapping;
 * returns whether it did.
 */
bool filedata_seen(struct mapcache *maps, struct inode *node,
		   const struct stat *st);

/*
 * The file was opened, and is now st: a mapping of an older identity goes,
 * a file that is not regular is read with pread.  Returns whether the
 * kernel may keep the pages it cached (the file is as it was when the
 * kernel was last given its pages), and records st as what it is given now.
 */
bool filedata_opened(struct mapcache *maps, struct inode *node,
		     const struct stat *st);

/*
 * The file's generation now, for a caller that records it with what it
 * sees of the file (fdcache_keep()): read it before looking.
 */
int filedata_generation(const struct inode *node);

/*
 * A read-only open of node's file that does not open it on the backing
 * filesystem: a reference to its kept descriptor (fds), if what was kept
 * is still the file's: fresh and at the file's generation (nothing
 * changed through the mount or was seen changing outside since), or else
 * confirmed now by a stat of the node (one call to the backing
 * filesystem, where an open is one more, a close another, and, over sshfs
 * and FUSE sources, the loss of that filesystem's cached pages).  Not for
 * a file being written, one read with pread, or a node no longer the
 * table's own for its inode number (inode_is_current()).  Returns the
 * reference (give it back with fdcache_fd_unref()) with *st the file's
 * attributes as last confirmed, or NULL: the caller opens the file
 * itself.
 */
struct fdcache_fd *filedata_reopen(struct fdcache *fds,
				   struct inode_table *inodes,
				   struct inode *node, struct stat *st);

/*
 * The attributes of node's file from what fds keeps, if they are fresh
 * and at the file's generation (as filedata_reopen() would give them
 * without a stat): the answer to the kernel's GETATTR, which it sends for
 * a file it read through us once more, to learn the access time it
 * marked stale.  False: the caller stats the file.
 */
bool filedata_kept_attrs(struct fdcache *fds, struct inode_table *inodes,
			 struct inode *node, struct stat *st);

/* The kernel holds none of the file's pages now (a passthrough open,
 * passthrough.h, made it drop them): the next open keeps none. */
void filedata_kernel_dropped(struct inode *node);

/* Whether the kernel was last given the file's pages as st has it. */
bool filedata_kernel_has(const struct inode *node, const struct stat *st);

/* The kernel was given the file's pages whole, as st has it (a push). */
void filedata_pushed_whole(struct inode *node, const struct stat *st);

/*
 * The file's size as the kernel may hold it, which with -o writeback it
 * takes from attributes only when it makes the inode, and otherwise
 * changes only itself (writes, truncation and allocation through the
 * mount) or by a store (the watcher's, for a file grown outside).  Kept as
 * a bound: filedata_kernel_sized() when the kernel's size is size now (an
 * entry reply making its inode, a truncation or O_TRUNC through the
 * mount), filedata_kernel_grew() when it may be up to end (a write or
 * allocation through the mount, a store); filedata_kernel_lacks() whether
 * it may be below size.  (A lookup handled before the FORGET of the
 * kernel's old inode makes a new one whose size is not known here: the
 * FORGET's handler drops the bound then, watcher_kernel_inode_unsized().)
 */
void filedata_kernel_sized(struct inode *node, off_t size);
void filedata_kernel_grew(struct inode *node, off_t end);
bool filedata_kernel_lacks(const struct inode *node, off_t size);

/*
 * Before storing the file's pages into the kernel's cache: false when a
 * writer has it open (nothing may be stored), else true with *gen set.
 */
bool filedata_push_begin(const struct inode *node, int *gen);

/* After storing: whether what was stored is still the file's data. */
bool filedata_push_still_good(const struct inode *node, int gen);

#endif
