/*
 * ops_meta.c - names and attributes: lookup, forget, getattr, readlink,
 * access, statfs.
 */
#include <errno.h>
#include <limits.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "mmapfs/ops.h"

void mmapfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int res;

	res = mmapfs_do_lookup(req, mmapfs_inode(req, parent), name, &e);
	if (res < 0)
		mmapfs_reply_err(req, res);
	else
		fuse_reply_entry(req, &e);
}

void mmapfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_forget(mmapfs_of(req)->inodes, mmapfs_inode(req, ino), nlookup);
	fuse_reply_none(req);
}

void mmapfs_op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct inode_table *t = mmapfs_of(req)->inodes;

	for (size_t i = 0; i < count; i++)
		inode_forget(t, inode_from_id(t, forgets[i].ino),
			     forgets[i].nlookup);
	fuse_reply_none(req);
}

void mmapfs_op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct inode *node = mmapfs_inode(req, ino);
	struct stat st;

	if (fstat(node->fd, &st) < 0)
		mmapfs_reply_err(req, -errno);
	else
		fuse_reply_attr(req, &st, mmapfs_of(req)->timeout);
}

void mmapfs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct inode *node = mmapfs_inode(req, ino);
	char buf[PATH_MAX + 1];
	ssize_t n;

	n = readlinkat(node->fd, "", buf, sizeof(buf));
	if (n < 0) {
		mmapfs_reply_err(req, -errno);
		return;
	}
	if ((size_t)n == sizeof(buf)) {
		mmapfs_reply_err(req, -ENAMETOOLONG);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}

/*
 * Only reached without default_permissions, that is when nobody but the
 * mounting user (the daemon's own user) can use the mount: the daemon's
 * own view of the permissions is then the right answer.
 */
void mmapfs_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	char path[INODE_PROC_PATH_MAX];

	inode_proc_path(mmapfs_inode(req, ino), path);
	mmapfs_reply_err(req, faccessat(AT_FDCWD, path, mask, 0) < 0 ? -errno : 0);
}

void mmapfs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (fstatvfs(mmapfs_inode(req, ino)->fd, &sv) < 0)
		mmapfs_reply_err(req, -errno);
	else
		fuse_reply_statfs(req, &sv);
}
