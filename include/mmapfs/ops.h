/*
 * ops.h - the FUSE low-level handlers and the state of one mount.
 *
 * The handlers live in src/ops_*.c, grouped by concern (see oplist.h);
 * src/ops.c wires them, each behind a wrapper that times it, into one
 * fuse_lowlevel_ops table.  src/mount.c builds and tears down struct
 * mmapfs.  Every handler turns its result into exactly one reply: helpers
 * return 0 or a negative errno, and the errno becomes a reply in one place,
 * mmapfs_reply_err().
 *
 * Handlers run on the session loop's threads, several at once.  The lock
 * rules, for every handler and every thread of the daemon:
 *   - locks are never nested: the inode table's two (its nodes', and its
 *     directory descriptors'), the mapping cache's, the watcher's, the
 *     pusher's, passthrough's and the handle registry's lock are each
 *     taken alone, and released before any other is taken;
 *   - no lock is held across a fuse_reply_*() or fuse_lowlevel_notify_*()
 *     call (a reply may drop the kernel's last reference and re-enter us;
 *     a notification waits for kernel locks a handler may hold);
 *   - a pinned mapping (mapcache.h) may be held across a reply, never
 *     across anything that waits for another request.
 */
#ifndef MMAPFS_OPS_H
#define MMAPFS_OPS_H

#include <pthread.h>
#include <stdbool.h>

#include <fuse_lowlevel.h>

#include "mmapfs/fdcache.h"
#include "mmapfs/filedata.h"
#include "mmapfs/initext.h"
#include "mmapfs/inode.h"
#include "mmapfs/mapcache.h"
#include "mmapfs/oplist.h"
#include "mmapfs/options.h"
#include "mmapfs/passthrough.h"
#include "mmapfs/pusher.h"
#include "mmapfs/reader.h"
#include "mmapfs/stats.h"
#include "mmapfs/watcher.h"

/* A node's FUSE id is its address (inode.h), and the root's is FUSE's. */
G_STATIC_ASSERT(sizeof(fuse_ino_t) >= sizeof(uintptr_t));
G_STATIC_ASSERT(INODE_ROOT_ID == FUSE_ROOT_ID);

/* The state of one mount, reached from a request by fuse_req_userdata(). */
struct mmapfs {
	/* Set by mount.c before the session loop starts; immutable after. */
	const struct mmapfs_options *opts;
	struct inode_table *inodes;
	struct mapcache *maps;
	struct reader reader;                /* the read engine, over both */
	enum mmapfs_cache_mode cache;        /* opts->cache, AUTO resolved */
	double timeout;                      /* entry and attribute timeout */
	enum mmapfs_readdirplus readdirplus; /* opts->readdirplus, AUTO resolved */
	struct pusher *pusher;               /* NULL when it does not run */
	struct watcher *watcher;             /* with cache=watched only */
	struct initext *initext;             /* INIT flags libfuse 3.14 does
					      * not know; NULL if its hooks
					      * could not be installed */
	struct passthrough *passthrough;     /* NULL with -o passthrough=off;
					      * its mode is set at INIT */
	struct fuse_session *se;             /* for notifications */
	struct deferred *deferred;           /* opens, creates and truncates
					      * that wait on a lease; set
					      * before the loop starts */
	struct stats stats;                  /* atomic counters */
	guint64 changes;                     /* atomic: mmapfs_changed() */
	/*
	 * Set by mmapfs_init() (before any other request) on a read-only
	 * mount: opens of files are answered ENOSYS, after which the kernel
	 * opens files by itself and sends reads (and seeks, syncs) with fh 0.
	 */
	bool no_open;
	/*
	 * Set by mmapfs_init() when the kernel took FUSE_HANDLE_KILLPRIV_V2:
	 * it then checks no file's capabilities before each write (one
	 * GETXATTR less per write), and leaves clearing set-ID bits to the
	 * backing filesystem, which does it for the caller's writes and
	 * truncations (creds.h); the daemon tells the kernel when the bits it
	 * caches went (ops_file.c).
	 */
	bool killpriv_v2;
	/*
	 * -o writeback in force (policy_choose()), set with the cache mode,
	 * before the session starts: mmapfs_init() asks for
	 * FUSE_CAP_WRITEBACK_CACHE (and clears this, before any other
	 * request, if the kernel does not offer it).  The kernel then
	 * gathers writes in its page cache, owns regular files' sizes,
	 * mtimes and ctimes, places O_APPEND writes itself, and reads pages
	 * of files opened write-only.
	 */
	bool writeback;
	/* fstype_blind() of SOURCE ("nfs", "fuse", ...), or NULL; set with
	 * the cache mode, before the session starts. */
	const char *blind;
	/* Kept descriptors for reopens (policy_reopen_window()), or NULL,
	 * and how many it may keep; set with the cache mode, before the
	 * session starts.  Given back when descriptors run out
	 * (mmapfs_shed_descriptors()). */
	struct fdcache *fds;
	unsigned fds_budget;

	/*
	 * Every open file and directory handle, so that those the kernel never
	 * released (a signal, an unmount with files open) are freed at the
	 * end.  handle -> its free function; protected by handles_lock.
	 */
	pthread_mutex_t handles_lock;
	GHashTable *handles;
};

extern const struct fuse_lowlevel_ops mmapfs_ops;

static inline struct mmapfs *mmapfs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline struct inode *mmapfs_inode(fuse_req_t req, fuse_ino_t ino)
{
	return inode_from_id(mmapfs_of(req)->inodes, ino);
}

/*
 * A request through the mount changed some file's attributes other than
 * through its data (mode, owner, times, links, names, xattrs): attributes
 * kept for reopens (fdcache.h) are not fresh until confirmed again.  (A
 * confirmation whose stat raced the change can pass for fresh, for the
 * window at most.)
 */
static inline void mmapfs_attrs_changed(struct mmapfs *fs)
{
	if (fs->fds)
		fdcache_attrs_changed(fs->fds);
}

/*
 * The file key lost its last name through the mount: its mapping goes
 * (filedata_gone()), and so does the descriptor kept for reopens, so that
 * its space comes back once no open holds it.
 */
static inline void mmapfs_file_gone(struct mmapfs *fs, const struct devino *key)
{
	filedata_gone(fs->maps, key);
	if (fs->fds)
		fdcache_drop(fs->fds, key, NULL);
}

/* An O_PATH descriptor of node, for this request; see inode_fd(). */
static inline int mmapfs_node_fd(fuse_req_t req, struct inode *node)
{
	return inode_fd(mmapfs_of(req)->inodes, node);
}

static inline void mmapfs_node_fd_put(fuse_req_t req, struct inode *node, int fd)
{
	inode_fd_put(mmapfs_of(req)->inodes, node, fd);
}

/* The handle registry (mount.c): records a handle given to the kernel
 * (fi->fh), with the function that frees it; forgets one it released. */
void mmapfs_handle_track(struct mmapfs *fs, void *handle, GDestroyNotify free_fn);
void mmapfs_handle_untrack(struct mmapfs *fs, void *handle);

/* Frees every handle still recorded.  Once no handler runs. */
void mmapfs_handles_free_all(struct mmapfs *fs);

/*
 * Replies to getxattr or listxattr: with size 0 the caller asks how large
 * the value (n bytes, or a negative errno) is, otherwise for the value.
 */
void mmapfs_reply_xattr(fuse_req_t req, size_t size, ssize_t n,
			const char *buf);

/* Gathers every counter of the mount (ops_ctl.c). */
void mmapfs_stats_snapshot(struct mmapfs *fs, struct stats_snapshot *out);

/*
 * The mount's control interface, reached as extended attributes of the
 * mount's root (ops_ctl.c): reading user.mmapfs.stats (text) or
 * user.mmapfs.stats.json, writing user.mmapfs.ctl ("drop", or "limits
 * max_maps=N max_mapped=SIZE").  Each returns true when name is one of
 * them, having replied to the request.
 */
bool mmapfs_ctl_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 size_t size);
bool mmapfs_ctl_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 const char *value, size_t size);

/*
 * Replies to a handler that failed with res, a negative errno; res == 0 is
 * the success reply of handlers that answer with an error code only.  An
 * EMFILE or ENFILE first gives back kept descriptors, if there are any
 * (the next request has them), and only when there are none left says
 * that descriptors ran out.
 */
void mmapfs_reply_err(fuse_req_t req, int res);

/* Gives back a quarter of the descriptors kept for reopens; false if
 * there were none. */
bool mmapfs_shed_descriptors(struct mmapfs *fs);

/*
 * Looks name up in parent and fills *e for a lookup-style reply; the node's
 * lookup count is raised.  Returns 0 or a negative errno.
 */
int mmapfs_do_lookup(fuse_req_t req, struct inode *parent, const char *name,
		     struct fuse_entry_param *e);

/* The same from a lookup made ahead (inode_probe(), whose contents it
 * takes): cannot fail. */
void mmapfs_entry_of_probe(fuse_req_t req, struct inode *parent, const char *name,
			   struct inode_probe *p, struct fuse_entry_param *e);

/*
 * Counts a change made through the mount (to any file's data, attributes
 * or names), once it is made: a lookup made ahead before it may be stale
 * (ops_dir.c).  The request wrapper (ops.c) counts every request of a
 * kind that changes something; a handler whose change completes later
 * (on the deferred pool) or is not of its kind (an open with O_TRUNC)
 * counts it itself.  mmapfs_changes() adds the watcher's count of
 * outside changes (watcher_changes(), raised before it invalidates): a
 * lookup made before either moved may hold what the kernel was since
 * told to forget.
 */
static inline void mmapfs_changed(struct mmapfs *fs)
{
	__atomic_add_fetch(&fs->changes, 1, __ATOMIC_RELEASE);
}

static inline guint64 mmapfs_changes(struct mmapfs *fs)
{
	return __atomic_load_n(&fs->changes, __ATOMIC_ACQUIRE) +
	       (fs->watcher ? watcher_changes(fs->watcher) : 0);
}

/*
 * The backing descriptor of a file the kernel opened (ops_file.c), or -1
 * for a file opened without us (fh 0, see no_open).
 */
int mmapfs_open_file_fd(struct fuse_file_info *fi);

/* Every handler of oplist.h: void mmapfs_op_<handler>(parameters). */
#define MMAPFS_OP_DECLARE(counter, name, handler, params, args) \
	void mmapfs_op_##handler params;
#define MMAPFS_OP_DECLARE_ALSO(counter, handler, params, args) \
	void mmapfs_op_##handler params;
MMAPFS_OPS(MMAPFS_OP_DECLARE, MMAPFS_OP_DECLARE_ALSO)
#undef MMAPFS_OP_DECLARE
#undef MMAPFS_OP_DECLARE_ALSO

#endif
