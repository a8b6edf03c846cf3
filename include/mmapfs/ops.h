/*
 * ops.h - the FUSE low-level handlers and the state they share.
 *
 * The handlers live in src/ops_*.c, grouped by concern (metadata, names,
 * directories, file data, xattrs); src/ops.c wires them into one
 * fuse_lowlevel_ops table and holds what they share.  Every handler turns
 * its result into exactly one reply: helpers below return 0 or a negative
 * errno, and the errno becomes a reply in one place, mmapfs_reply_err().
 *
 * Handlers run on the session loop's threads, several at once.  They never
 * hold the inode-table or mapping-cache lock across a fuse_reply_*() call.
 */
#ifndef MMAPFS_OPS_H
#define MMAPFS_OPS_H

#include <pthread.h>
#include <stdbool.h>

#include <fuse_lowlevel.h>

#include "mmapfs/inode.h"
#include "mmapfs/mapcache.h"
#include "mmapfs/options.h"
#include "mmapfs/pusher.h"
#include "mmapfs/stats.h"
#include "mmapfs/watcher.h"

/* The state of one mount, reached from a request by fuse_req_userdata(). */
struct mmapfs {
	const struct mmapfs_options *opts;   /* immutable after mount */
	struct inode_table *inodes;
	struct mapcache *maps;
	enum mmapfs_cache_mode cache;        /* opts->cache, AUTO resolved */
	double timeout;                      /* entry and attribute timeout */
	enum mmapfs_readdirplus readdirplus; /* opts->readdirplus, AUTO resolved */
	size_t page_size;
	struct pusher *pusher;               /* NULL when push=0 */
	struct watcher *watcher;             /* with cache=watched only */
	struct stats stats;                  /* atomic counters */
	/*
	 * Set at init on a read-only mount: opens of files are answered
	 * ENOSYS, after which the kernel opens files by itself and sends
	 * reads (and seeks, syncs) with fh 0.  See mmapfs_init().
	 */
	bool no_open;

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

/* An O_PATH descriptor of node, for this request; see inode_fd(). */
static inline int mmapfs_node_fd(fuse_req_t req, const struct inode *node)
{
	return inode_fd(mmapfs_of(req)->inodes, node);
}

/* Records a handle given to the kernel (fi->fh); free_fn frees it. */
void mmapfs_handle_track(struct mmapfs *fs, void *handle, GDestroyNotify free_fn);

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

/* Forgets a handle the kernel released; the caller frees it. */
void mmapfs_handle_untrack(struct mmapfs *fs, void *handle);

/*
 * Replies to a handler that failed with res, a negative errno; res == 0 is
 * the success reply of handlers that answer with an error code only.
 */
void mmapfs_reply_err(fuse_req_t req, int res);

/*
 * Looks name up in parent and fills *e for a lookup-style reply; the node's
 * lookup count is raised.  Returns 0 or a negative errno.
 */
int mmapfs_do_lookup(fuse_req_t req, struct inode *parent, const char *name,
		     struct fuse_entry_param *e);

/*
 * The backing descriptor of a file the kernel opened (ops_file.c), or -1
 * for a file opened without us (fh 0, see no_open).
 */
int mmapfs_open_file_fd(struct fuse_file_info *fi);

/* ops_meta.c */
void mmapfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void mmapfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void mmapfs_op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets);
void mmapfs_op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi);
void mmapfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi);
void mmapfs_op_readlink(fuse_req_t req, fuse_ino_t ino);
void mmapfs_op_access(fuse_req_t req, fuse_ino_t ino, int mask);
void mmapfs_op_statfs(fuse_req_t req, fuse_ino_t ino);

/* ops_dir.c */
void mmapfs_op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi);
void mmapfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi);
void mmapfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi);
void mmapfs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi);
void mmapfs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi);

/* ops_names.c */
void mmapfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev);
void mmapfs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode);
void mmapfs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name);
void mmapfs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname);
void mmapfs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void mmapfs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void mmapfs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags);

/* ops_file.c */
void mmapfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void mmapfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi);
void mmapfs_op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi);
void mmapfs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void mmapfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi);
void mmapfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void mmapfs_op_write_buf(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_bufvec *in, off_t off,
			 struct fuse_file_info *fi);
void mmapfs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi);
void mmapfs_op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
			       off_t off_in, struct fuse_file_info *fi_in,
			       fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len,
			       int flags);
void mmapfs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi);

/* ops_xattr.c */
void mmapfs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size);
void mmapfs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void mmapfs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags);
void mmapfs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

#endif
