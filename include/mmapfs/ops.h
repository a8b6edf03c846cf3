/*
 * ops.h - the FUSE low-level handlers and the state they share.
 *
 * The handlers live in src/ops_*.c, grouped by concern (metadata,
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

#include <fuse_lowlevel.h>

#include "mmapfs/inode.h"
#include "mmapfs/mapcache.h"
#include "mmapfs/options.h"

/* The state of one mount, reached from a request by fuse_req_userdata(). */
struct mmapfs {
	const struct mmapfs_options *opts;   /* immutable after mount */
	struct inode_table *inodes;
	struct mapcache *maps;
	double timeout;                      /* entry and attribute timeout */
	size_t page_size;
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

/* ops_meta.c */
void mmapfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void mmapfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void mmapfs_op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets);
void mmapfs_op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi);
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
void mmapfs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi);

/* ops_file.c */
void mmapfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void mmapfs_op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi);
void mmapfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);

/* ops_xattr.c */
void mmapfs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size);
void mmapfs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);

#endif
