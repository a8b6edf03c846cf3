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
#include <string.h>
#include <sys/xattr.h>

#include "mmapfs/ops.h"

enum xattr_call { GET, LIST, SET, REMOVE };

/* Runs one xattr call on node; returns its result or -errno. */
static ssize_t node_xattr(fuse_req_t req, fuse_ino_t ino, enum xattr_call call,
			  const char *name, void *buf, size_t size, int flags)
{
	struct inode *node = mmapfs_inode(req, ino);
	char path[PROC_FD_PATH_MAX];
	int fd = mmapfs_node_fd(req, node);
	ssize_t res;

	if (fd < 0)
		return fd;
	proc_fd_path(fd, path);
	switch (call) {
	case GET:
		res = getxattr(path, name, buf, size);
		break;
	case LIST:
		res = listxattr(path, buf, size);
		break;
	case SET:
		res = setxattr(path, name, buf, size, flags);
		break;
	default:
		res = removexattr(path, name);
		break;
	}
	if (res < 0)
		res = -errno;
	mmapfs_node_fd_put(req, node, fd);
	return res;
}

void mmapfs_reply_xattr(fuse_req_t req, size_t size, ssize_t n,
			const char *buf)
{
	if (n < 0)
		mmapfs_reply_err(req, (int)n);
	else if (size == 0)
		fuse_reply_xattr(req, n);
	else
		fuse_reply_buf(req, buf, n);
}

#define CAPS_XATTR "security.capability"

void mmapfs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct inode *node = mmapfs_inode(req, ino);
	bool caps = !strcmp(name, CAPS_XATTR);
	g_autofree char *buf = NULL;
	ssize_t n;

	if (mmapfs_ctl_getxattr(req, ino, name, size))
		return;
	/* The kernel asks this before every write (to know whether the
	 * write must drop a capability): once the file is known to have
	 * none, answered without reaching it again.  Only where a watcher
	 * tells when it is given one outside the mount. */
	if (caps && __atomic_load_n(&node->no_caps, __ATOMIC_RELAXED)) {
		mmapfs_reply_err(req, -ENODATA);
		return;
	}
	buf = size ? g_malloc(size) : NULL;
	n = node_xattr(req, ino, GET, name, buf, size, 0);
	if (caps && n == -ENODATA && mmapfs_of(req)->watcher)
		__atomic_store_n(&node->no_caps, 1, __ATOMIC_RELAXED);
	mmapfs_reply_xattr(req, size, n, buf);
}

void mmapfs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	g_autofree char *buf = size ? g_malloc(size) : NULL;

	mmapfs_reply_xattr(req, size, node_xattr(req, ino, LIST, NULL, buf, size, 0), buf);
}

void mmapfs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	int res;

	if (mmapfs_ctl_setxattr(req, ino, name, value, size))
		return;
	__atomic_store_n(&mmapfs_inode(req, ino)->no_caps, 0, __ATOMIC_RELAXED);
	res = (int)node_xattr(req, ino, SET, name, (void *)value, size, flags);
	mmapfs_attrs_changed(mmapfs_of(req));
	mmapfs_reply_err(req, res);
}

void mmapfs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	int res;

	__atomic_store_n(&mmapfs_inode(req, ino)->no_caps, 0, __ATOMIC_RELAXED);
	res = (int)node_xattr(req, ino, REMOVE, name, NULL, 0, 0);
	mmapfs_attrs_changed(mmapfs_of(req));
	mmapfs_reply_err(req, res);
}
