/*
 * watcher.h - changes made to the backing directory from outside the mount.
 *
 * With cache=watched the kernel keeps names, attributes and file data for a
 * long time, and the watcher tells it when they went stale.  It keeps a mark
 * on every directory the kernel knows (added when the directory's node is
 * created, removed when the node is freed: see struct inode_dir_watch;
 * fanotify run by root marks the directory's whole filesystem instead), and
 * one thread turns each event into invalidations:
 *   - a name created, deleted or moved in directory D:
 *     fuse_lowlevel_notify_inval_entry(D, name), and D's attributes and
 *     cached listing (fuse_lowlevel_notify_inval_inode(D));
 *   - the data or attributes of a known file changed, or a known inode got
 *     a new name: notify_inval_inode(file) (attributes and every cached
 *     page), and the file-data protocol told (filedata_changed_outside():
 *     its mapping dropped when its size or mtime changed, a file that
 *     shrank under its mapping read with pread from then on, a window the
 *     pusher is storing taken back);
 *   - with -o writeback, a regular file changed: its name too, so that
 *     the kernel forgets it and learns its size again (see
 *     watcher_start());
 *   - the event queue overflowed: every known inode is invalidated and
 *     every mapping dropped (names stay cached until their timeout).
 *
 * Backends (watch_backend.h): fanotify, whose events say which process
 * made a change, so that the daemon's own changes (made for requests
 * through the mount, which the kernel already accounted for) are skipped;
 * or inotify, whose events do not: the daemon's own changes invalidate as
 * well (harmless, a little slower), except data changes of files open for
 * writing through the mount, which are not invalidated (the kernel's copy
 * is the newest there).  Neither sees changes made on another machine to a
 * network or FUSE filesystem: fstype_blind() names those, and policy.h
 * falls back to timeouts.  Invalidating never changes the backing
 * directory, so events cannot loop.
 *
 * Not seen (the attribute timeout bounds both): a change to a file made
 * through a hard link in a directory the kernel does not know, and stores
 * into a shared mapping of the file made outside (no event before the
 * writer closes it).
 *
 * Thread-safe.  The invalidations run on the watcher's own thread, never
 * on a request handler's, so a kernel lock they wait for is always released
 * by a handler that can still run.
 */
#ifndef MMAPFS_WATCHER_H
#define MMAPFS_WATCHER_H

#include <fuse_lowlevel.h>
#include <glib.h>

#include "mmapfs/inode.h"
#include "mmapfs/mapcache.h"
#include "mmapfs/options.h"

struct watcher;

/*
 * The backend this process could use now, "fanotify" or "inotify", or NULL
 * (for --help).
 */
const char *watcher_available(void);

/*
 * Creates a watcher of kind over the table's directories, marks the root,
 * and installs itself as the table's directory watch.  No thread runs yet.
 * Returns NULL with *error set when the backend cannot watch SOURCE.
 */
struct watcher *watcher_new(enum mmapfs_watcher kind, struct inode_table *inodes,
			    struct mapcache *maps, GError **error);

/* "fanotify" or "inotify". */
const char *watcher_name(const struct watcher *w);

/* How its directories are marked now (watch_backend.h), for the log. */
const char *watcher_marks(struct watcher *w);

/*
 * Starts the thread that invalidates through se.  Call it in the process
 * that serves the mount (after fuse_daemonize()).  kernel_owns_sizes
 * (-o writeback): the kernel keeps regular files' sizes whatever their
 * attributes say, so a file changed outside is also made forgotten (its
 * name invalidated: an inode no process holds open is looked up again)
 * and, if it grew, grown in the kernel.
 */
void watcher_start(struct watcher *w, struct fuse_session *se,
		   bool kernel_owns_sizes);

/*
 * Stops the thread, removes the table's directory watch and closes the
 * backend.  Call it once no request handler runs, before the session and
 * the table go.
 */
void watcher_free(struct watcher *w);

/*
 * A count raised before each outside change is told to the kernel (the
 * invalidations of one event, or of an overflow): what the daemon learnt
 * of the source before a moment may be stale if it moved since.
 */
guint64 watcher_changes(struct watcher *w);

/*
 * With -o writeback: the kernel made a new inode of node from an entry
 * reply whose size is not known here (the reply was handled before the
 * FORGET of its old inode was): nothing is assumed of its size any more,
 * and a file that is not empty is grown in the kernel now (an outside
 * change handled meanwhile may have found the old bound and stored
 * nothing).  Any thread; the caller holds node.
 */
void watcher_kernel_inode_unsized(struct watcher *w, struct inode *node);

/* Events acted upon, and events skipped as the daemon's own, so far. */
void watcher_counts(struct watcher *w, guint64 *handled, guint64 *own);

#endif
