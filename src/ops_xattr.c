/*
 * ops_xattr.c - extended attributes: getxattr, listxattr, setxattr,
 * removexattr.
 *
 * An O_PATH descriptor cannot be given to fgetxattr(), so the calls go
 * through /proc/self/fd/N, which names exactly the inode the descriptor
 * holds (for a symlink, the link itself: the magic link is not followed
 * any further).
 */
#include <errno.h>
#include <sys/xattr.h>

#include "mmapfs/ops.h"

/*
 * Shared tail of getxattr and listxattr: with size 0 the caller asks how
 * large the value is, otherwise for the value itself.
 */
static void reply_xattr(fuse_req_t req, size_t size, ssize_t n,
			const char *buf)
{
	if (n < 0)
		mmapfs_reply_err(req, -errno);
	else if (size == 0)
		fuse_reply_xattr(req, n);
	else
		fuse_reply_buf(req, buf, n);
}

void mmapfs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	char path[INODE_PROC_PATH_MAX];
	g_autofree char *buf = size ? g_malloc(size) : NULL;

	inode_proc_path(mmapfs_inode(req, ino), path);
	reply_xattr(req, size, getxattr(path, name, buf, size), buf);
}

void mmapfs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char path[INODE_PROC_PATH_MAX];
	g_autofree char *buf = size ? g_malloc(size) : NULL;

	inode_proc_path(mmapfs_inode(req, ino), path);
	reply_xattr(req, size, listxattr(path, buf, size), buf);
}

void mmapfs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	char path[INODE_PROC_PATH_MAX];

	inode_proc_path(mmapfs_inode(req, ino), path);
	mmapfs_reply_err(req, setxattr(path, name, value, size, flags) < 0 ? -errno : 0);
}

void mmapfs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	char path[INODE_PROC_PATH_MAX];

	inode_proc_path(mmapfs_inode(req, ino), path);
	mmapfs_reply_err(req, removexattr(path, name) < 0 ? -errno : 0);
}
