/*
 * ops.c - the fuse_lowlevel_ops table, session init, and what the handlers
 * share: turning an errno into a reply, and filling a lookup entry.
 */
#include <errno.h>
#include <string.h>

#include "mmapfs/log.h"
#include "mmapfs/ops.h"

void mmapfs_reply_err(fuse_req_t req, int res)
{
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

static void mmapfs_init(void *userdata, struct fuse_conn_info *conn)
{
	/* Readdirplus answers `ls -l` and `find` in one round trip per batch. */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
}

void mmapfs_handle_track(struct mmapfs *fs, void *handle, GDestroyNotify free_fn)
{
	g_mutex_lock(&fs->handles_lock);
	g_hash_table_insert(fs->handles, handle, free_fn);
	g_mutex_unlock(&fs->handles_lock);
}

void mmapfs_handle_untrack(struct mmapfs *fs, void *handle)
{
	g_mutex_lock(&fs->handles_lock);
	g_hash_table_remove(fs->handles, handle);
	g_mutex_unlock(&fs->handles_lock);
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

const struct fuse_lowlevel_ops mmapfs_ops = {
	.init = mmapfs_init,
	.destroy = mmapfs_destroy,
	.lookup = mmapfs_op_lookup,
	.forget = mmapfs_op_forget,
	.forget_multi = mmapfs_op_forget_multi,
	.getattr = mmapfs_op_getattr,
	.setattr = mmapfs_op_setattr,
	.readlink = mmapfs_op_readlink,
	.access = mmapfs_op_access,
	.statfs = mmapfs_op_statfs,
	.opendir = mmapfs_op_opendir,
	.readdir = mmapfs_op_readdir,
	.readdirplus = mmapfs_op_readdirplus,
	.fsyncdir = mmapfs_op_fsyncdir,
	.releasedir = mmapfs_op_releasedir,
	.mknod = mmapfs_op_mknod,
	.mkdir = mmapfs_op_mkdir,
	.symlink = mmapfs_op_symlink,
	.link = mmapfs_op_link,
	.unlink = mmapfs_op_unlink,
	.rmdir = mmapfs_op_rmdir,
	.rename = mmapfs_op_rename,
	.open = mmapfs_op_open,
	.create = mmapfs_op_create,
	.release = mmapfs_op_release,
	.flush = mmapfs_op_flush,
	.fsync = mmapfs_op_fsync,
	.read = mmapfs_op_read,
	.write_buf = mmapfs_op_write_buf,
	.fallocate = mmapfs_op_fallocate,
	.copy_file_range = mmapfs_op_copy_file_range,
	.lseek = mmapfs_op_lseek,
	.getxattr = mmapfs_op_getxattr,
	.listxattr = mmapfs_op_listxattr,
	.setxattr = mmapfs_op_setxattr,
	.removexattr = mmapfs_op_removexattr,
};
