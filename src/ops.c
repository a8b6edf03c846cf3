/*
 * ops.c - the fuse_lowlevel_ops table, session init, and what the handlers
 * share: turning an errno into a reply, and filling a lookup entry.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mmapfs/log.h"
#include "mmapfs/ops.h"

void mmapfs_reply_err(fuse_req_t req, int res)
{
	if (res < 0)
		stats_add(&mmapfs_of(req)->stats.errors, 1);
	fuse_reply_err(req, res < 0 ? -res : 0);
}

int mmapfs_do_lookup(fuse_req_t req, struct inode *parent, const char *name,
		     struct fuse_entry_param *e)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct inode *node;
	int res;

	memset(e, 0, sizeof(*e));
	res = inode_lookup(fs->inodes, parent, name, &e->attr, &node);
	if (res < 0)
		return res;
	e->ino = inode_id(fs->inodes, node);
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;
	return 0;
}

/*
 * No-open: reading a file takes no OPEN, FLUSH or RELEASE round trip, only
 * its READs.  Only on a read-only mount: writes would arrive without the
 * open file whose flags (O_APPEND, O_SYNC) and descriptor they need.  Our
 * open checks nothing the kernel does not check already when it checks
 * permissions itself (default_permissions, turned on by allow_other) or
 * when the daemon runs as root (then only root reaches the mount).  And
 * only with cache=watched: the kernel then keeps a file's cached pages
 * from one open to the next, and only the watcher tells it when they are
 * stale (with opens, each open compares the file's size and mtime).
 */
static bool want_no_open(const struct mmapfs *fs,
			 const struct fuse_conn_info *conn)
{
	return fs->opts->read_only && fs->cache == MMAPFS_CACHE_WATCHED &&
	       (fs->opts->allow_other || geteuid() == 0) &&
	       (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT);
}

static void mmapfs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct mmapfs *fs = userdata;

	/* Readdirplus answers `ls -l` and `find` in one round trip per
	 * batch, and opening a file listed needs no lookup. */
	conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
	if (fs->readdirplus != MMAPFS_PLUS_OFF &&
	    (conn->capable & FUSE_CAP_READDIRPLUS))
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (fs->readdirplus == MMAPFS_PLUS_ADAPTIVE)
		conn->want |= conn->capable & FUSE_CAP_READDIRPLUS_AUTO;
	/* The kernel takes the smaller of this and the window set through
	 * the mount's bdi knob before now (readahead.h). */
	if (fs->opts->readahead)
		conn->max_readahead = (unsigned)fs->opts->readahead;
	fs->no_open = want_no_open(fs, conn);
	if (fs->no_open)
		log_info("read-only mount: files are read without opening them in the daemon");
}

void mmapfs_handle_track(struct mmapfs *fs, void *handle, GDestroyNotify free_fn)
{
	pthread_mutex_lock(&fs->handles_lock);
	g_hash_table_insert(fs->handles, handle, free_fn);
	pthread_mutex_unlock(&fs->handles_lock);
}

void mmapfs_handle_untrack(struct mmapfs *fs, void *handle)
{
	pthread_mutex_lock(&fs->handles_lock);
	g_hash_table_remove(fs->handles, handle);
	pthread_mutex_unlock(&fs->handles_lock);
}

/* Runs once the loop has stopped: no handler runs any more. */
static void mmapfs_destroy(void *userdata)
{
	struct mmapfs *fs = userdata;
	GHashTableIter it;
	gpointer handle, free_fn;

	g_hash_table_iter_init(&it, fs->handles);
	while (g_hash_table_iter_next(&it, &handle, &free_fn)) {
		((GDestroyNotify)free_fn)(handle);
		g_hash_table_iter_remove(&it);
	}
	mapcache_drop_all(fs->maps);
}

/*
 * Every handler is entered through a wrapper that counts the request and
 * the time its handler took (see stats.h).  The mount's state is taken
 * before the call: after the reply the request is gone.
 */
#define TIMED(op, fn, params, args)                                     \
	static void timed_##fn params                                   \
	{                                                               \
		struct mmapfs *fs = fuse_req_userdata(req);             \
		guint64 start = stats_now_ns();                         \
									\
		mmapfs_op_##fn args;                                    \
		stats_op_done(&fs->stats, op, start);                   \
	}

TIMED(STATS_LOOKUP, lookup, (fuse_req_t req, fuse_ino_t parent, const char *name),
      (req, parent, name))
TIMED(STATS_FORGET, forget, (fuse_req_t req, fuse_ino_t ino, uint64_t nlookup),
      (req, ino, nlookup))
TIMED(STATS_FORGET, forget_multi,
      (fuse_req_t req, size_t count, struct fuse_forget_data *forgets),
      (req, count, forgets))
TIMED(STATS_GETATTR, getattr, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
      (req, ino, fi))
TIMED(STATS_SETATTR, setattr,
      (fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
       struct fuse_file_info *fi), (req, ino, attr, to_set, fi))
TIMED(STATS_READLINK, readlink, (fuse_req_t req, fuse_ino_t ino), (req, ino))
TIMED(STATS_ACCESS, access, (fuse_req_t req, fuse_ino_t ino, int mask), (req, ino, mask))
TIMED(STATS_STATFS, statfs, (fuse_req_t req, fuse_ino_t ino), (req, ino))
TIMED(STATS_OPENDIR, opendir, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
      (req, ino, fi))
TIMED(STATS_READDIR, readdir,
      (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi),
      (req, ino, size, off, fi))
TIMED(STATS_READDIRPLUS, readdirplus,
      (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi),
      (req, ino, size, off, fi))
TIMED(STATS_FSYNCDIR, fsyncdir,
      (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi),
      (req, ino, datasync, fi))
TIMED(STATS_RELEASEDIR, releasedir,
      (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), (req, ino, fi))
TIMED(STATS_MKNOD, mknod,
      (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev),
      (req, parent, name, mode, rdev))
TIMED(STATS_MKDIR, mkdir, (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode),
      (req, parent, name, mode))
TIMED(STATS_SYMLINK, symlink,
      (fuse_req_t req, const char *link, fuse_ino_t parent, const char *name),
      (req, link, parent, name))
TIMED(STATS_LINK, link,
      (fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname),
      (req, ino, newparent, newname))
TIMED(STATS_UNLINK, unlink, (fuse_req_t req, fuse_ino_t parent, const char *name),
      (req, parent, name))
TIMED(STATS_RMDIR, rmdir, (fuse_req_t req, fuse_ino_t parent, const char *name),
      (req, parent, name))
TIMED(STATS_RENAME, rename,
      (fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
       const char *newname, unsigned int flags),
      (req, parent, name, newparent, newname, flags))
TIMED(STATS_OPEN, open, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
      (req, ino, fi))
TIMED(STATS_CREATE, create,
      (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
       struct fuse_file_info *fi), (req, parent, name, mode, fi))
TIMED(STATS_RELEASE, release, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
      (req, ino, fi))
TIMED(STATS_FLUSH, flush, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
      (req, ino, fi))
TIMED(STATS_FSYNC, fsync,
      (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi),
      (req, ino, datasync, fi))
TIMED(STATS_READ, read,
      (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi),
      (req, ino, size, off, fi))
TIMED(STATS_WRITE, write_buf,
      (fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
       struct fuse_file_info *fi), (req, ino, in, off, fi))
TIMED(STATS_FALLOCATE, fallocate,
      (fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
       struct fuse_file_info *fi), (req, ino, mode, offset, length, fi))
TIMED(STATS_COPY_FILE_RANGE, copy_file_range,
      (fuse_req_t req, fuse_ino_t ino_in, off_t off_in, struct fuse_file_info *fi_in,
       fuse_ino_t ino_out, off_t off_out, struct fuse_file_info *fi_out, size_t len,
       int flags), (req, ino_in, off_in, fi_in, ino_out, off_out, fi_out, len, flags))
TIMED(STATS_LSEEK, lseek,
      (fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi),
      (req, ino, off, whence, fi))
TIMED(STATS_GETXATTR, getxattr,
      (fuse_req_t req, fuse_ino_t ino, const char *name, size_t size),
      (req, ino, name, size))
TIMED(STATS_LISTXATTR, listxattr, (fuse_req_t req, fuse_ino_t ino, size_t size),
      (req, ino, size))
TIMED(STATS_SETXATTR, setxattr,
      (fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
       size_t size, int flags), (req, ino, name, value, size, flags))
TIMED(STATS_REMOVEXATTR, removexattr,
      (fuse_req_t req, fuse_ino_t ino, const char *name), (req, ino, name))

const struct fuse_lowlevel_ops mmapfs_ops = {
	.init = mmapfs_init,
	.destroy = mmapfs_destroy,
	.lookup = timed_lookup,
	.forget = timed_forget,
	.forget_multi = timed_forget_multi,
	.getattr = timed_getattr,
	.setattr = timed_setattr,
	.readlink = timed_readlink,
	.access = timed_access,
	.statfs = timed_statfs,
	.opendir = timed_opendir,
	.readdir = timed_readdir,
	.readdirplus = timed_readdirplus,
	.fsyncdir = timed_fsyncdir,
	.releasedir = timed_releasedir,
	.mknod = timed_mknod,
	.mkdir = timed_mkdir,
	.symlink = timed_symlink,
	.link = timed_link,
	.unlink = timed_unlink,
	.rmdir = timed_rmdir,
	.rename = timed_rename,
	.open = timed_open,
	.create = timed_create,
	.release = timed_release,
	.flush = timed_flush,
	.fsync = timed_fsync,
	.read = timed_read,
	.write_buf = timed_write_buf,
	.fallocate = timed_fallocate,
	.copy_file_range = timed_copy_file_range,
	.lseek = timed_lseek,
	.getxattr = timed_getxattr,
	.listxattr = timed_listxattr,
	.setxattr = timed_setxattr,
	.removexattr = timed_removexattr,
};
