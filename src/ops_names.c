/*
 * ops_names.c - changing the namespace: mknod, mkdir, symlink, link,
 * unlink, rmdir, rename.
 *
 * New entries are made while acting as the caller (creds.h), so that they
 * belong to the caller under the backing filesystem's own rules.  When the
 * last name of a regular file goes, its mapping is dropped: a mapping must
 * not keep deleted data alive once nobody has the file open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmapfs/creds.h"
#include "mmapfs/filedata.h"
#include "mmapfs/ops.h"

/* Replies to a creating call that returned res: the new entry, or res. */
static void reply_created(fuse_req_t req, struct inode *parent,
			  const char *name, int res)
{
	struct fuse_entry_param e;

	if (res == 0)
		res = mmapfs_do_lookup(req, parent, name, &e);
	if (res < 0)
		mmapfs_reply_err(req, res);
	else
		fuse_reply_entry(req, &e);
}

void mmapfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct inode *dir = mmapfs_inode(req, parent);
	struct creds_saved saved;
	int res = creds_become(req, CREDS_CREATE, &saved);

	if (res == 0) {
		res = mknodat(dir->fd, name, mode, rdev) < 0 ? -errno : 0;
		creds_restore(&saved);
	}
	reply_created(req, dir, name, res);
}

void mmapfs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct inode *dir = mmapfs_inode(req, parent);
	struct creds_saved saved;
	int res = creds_become(req, CREDS_CREATE, &saved);

	if (res == 0) {
		res = mkdirat(dir->fd, name, mode) < 0 ? -errno : 0;
		creds_restore(&saved);
	}
	reply_created(req, dir, name, res);
}

void mmapfs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct inode *dir = mmapfs_inode(req, parent);
	struct creds_saved saved;
	int res = creds_become(req, CREDS_CREATE, &saved);

	if (res == 0) {
		res = symlinkat(link, dir->fd, name) < 0 ? -errno : 0;
		creds_restore(&saved);
	}
	reply_created(req, dir, name, res);
}

void mmapfs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct inode *node = mmapfs_inode(req, ino);
	struct inode *dir = mmapfs_inode(req, newparent);
	int fd = mmapfs_node_fd(req, node);
	int res = fd;

	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc/self/fd does not,
	 * but cannot name a symlink without following it. */
	if (fd >= 0) {
		res = linkat(fd, "", dir->fd, newname, AT_EMPTY_PATH) < 0 ? -errno : 0;
		if (res == -ENOENT && !S_ISLNK(node->type)) {
			char path[PROC_FD_PATH_MAX];

			proc_fd_path(fd, path);
			res = linkat(AT_FDCWD, path, dir->fd, newname,
				     AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
		}
	}
	inode_fd_put(node, fd);
	reply_created(req, dir, newname, res);
}

/*
 * If name in dir is a regular file with one name left, returns its key in
 * *key: once that name goes, so must the file's mapping.
 */
static bool last_name_of_file(struct inode *dir, const char *name,
			      struct devino *key)
{
	struct stat st;

	if (fstatat(dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_nlink != 1)
		return false;
	*key = devino_of(&st);
	return true;
}

void mmapfs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct inode *dir = mmapfs_inode(req, parent);
	struct devino key;
	bool last = last_name_of_file(dir, name, &key);

	if (unlinkat(dir->fd, name, 0) < 0) {
		mmapfs_reply_err(req, -errno);
		return;
	}
	if (last)
		filedata_gone(fs->maps, &key);
	mmapfs_reply_err(req, 0);
}

void mmapfs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct inode *dir = mmapfs_inode(req, parent);

	mmapfs_reply_err(req, unlinkat(dir->fd, name, AT_REMOVEDIR) < 0 ? -errno : 0);
}

void mmapfs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct inode *dir = mmapfs_inode(req, parent);
	struct inode *newdir = mmapfs_inode(req, newparent);
	struct devino key;
	bool replaced = !(flags & RENAME_EXCHANGE) &&
			last_name_of_file(newdir, newname, &key);

	if (renameat2(dir->fd, name, newdir->fd, newname, flags) < 0) {
		mmapfs_reply_err(req, -errno);
		return;
	}
	if (replaced)
		filedata_gone(fs->maps, &key);
	mmapfs_reply_err(req, 0);
}
