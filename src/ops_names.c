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

/* What make_entry() makes. */
struct new_entry {
	enum { NEW_NODE, NEW_DIR, NEW_SYMLINK } kind;
	mode_t mode;
	dev_t rdev;
	const char *link;
};

/* Makes name in parent as the caller, and replies. */
static void make_entry(fuse_req_t req, fuse_ino_t parent, const char *name,
		       const struct new_entry *what)
{
	struct inode *dir = mmapfs_inode(req, parent);
	struct creds_saved saved;
	/* Before becoming the caller: opening by handle is the daemon's. */
	int dfd = mmapfs_node_fd(req, dir);
	int res = dfd < 0 ? dfd : creds_become(req, CREDS_CREATE, &saved);

	if (res == 0) {
		switch (what->kind) {
		case NEW_NODE:
			res = mknodat(dfd, name, what->mode, what->rdev);
			break;
		case NEW_DIR:
			res = mkdirat(dfd, name, what->mode);
			break;
		case NEW_SYMLINK:
			res = symlinkat(what->link, dfd, name);
			break;
		}
		res = res < 0 ? -errno : 0;
		creds_restore(&saved);
	}
	mmapfs_node_fd_put(req, dir, dfd);
	reply_created(req, dir, name, res);
}

void mmapfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	make_entry(req, parent, name,
		   &(struct new_entry){ NEW_NODE, mode, rdev, NULL });
}

void mmapfs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	make_entry(req, parent, name,
		   &(struct new_entry){ NEW_DIR, mode, 0, NULL });
}

void mmapfs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	make_entry(req, parent, name,
		   &(struct new_entry){ NEW_SYMLINK, 0, 0, link });
}

void mmapfs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct inode *node = mmapfs_inode(req, ino);
	struct inode *dir = mmapfs_inode(req, newparent);
	int fd = mmapfs_node_fd(req, node);
	int dfd = fd < 0 ? fd : mmapfs_node_fd(req, dir);
	int res = dfd;

	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc/self/fd does not,
	 * but cannot name a symlink without following it. */
	if (dfd >= 0) {
		res = linkat(fd, "", dfd, newname, AT_EMPTY_PATH) < 0 ? -errno : 0;
		if (res == -ENOENT && !S_ISLNK(inode_type(node))) {
			char path[PROC_FD_PATH_MAX];

			proc_fd_path(fd, path);
			res = linkat(AT_FDCWD, path, dfd, newname,
				     AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
		}
	}
	mmapfs_node_fd_put(req, dir, dfd);
	mmapfs_node_fd_put(req, node, fd);
	mmapfs_attrs_changed(mmapfs_of(req));
	reply_created(req, dir, newname, res);
}

/*
 * If name in the directory dfd is a regular file with one name left,
 * returns its key in *key: once that name goes, so must the file's mapping.
 */
static bool last_name_of_file(int dfd, const char *name, struct devino *key)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_nlink != 1)
		return false;
	*key = devino_of(&st);
	return true;
}

/* Removes name from parent (flags: 0 or AT_REMOVEDIR), and replies. */
static void remove_entry(fuse_req_t req, fuse_ino_t parent, const char *name,
			 int flags)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct inode *dir = mmapfs_inode(req, parent);
	int dfd = mmapfs_node_fd(req, dir);
	struct devino key;
	bool last = dfd >= 0 && !flags && last_name_of_file(dfd, name, &key);
	int res = dfd < 0 ? dfd : unlinkat(dfd, name, flags) < 0 ? -errno : 0;

	mmapfs_node_fd_put(req, dir, dfd);
	mmapfs_attrs_changed(fs);
	if (res == 0 && last)
		mmapfs_file_gone(fs, &key);
	mmapfs_reply_err(req, res);
}

void mmapfs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, 0);
}

void mmapfs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, AT_REMOVEDIR);
}

void mmapfs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct inode *dir = mmapfs_inode(req, parent);
	struct inode *newdir = mmapfs_inode(req, newparent);
	int dfd = mmapfs_node_fd(req, dir);
	int newdfd = dfd < 0 ? dfd : mmapfs_node_fd(req, newdir);
	struct devino key;
	bool replaced = newdfd >= 0 && !(flags & RENAME_EXCHANGE) &&
			last_name_of_file(newdfd, newname, &key);
	int res = newdfd < 0 ? newdfd :
		  renameat2(dfd, name, newdfd, newname, flags) < 0 ? -errno : 0;

	mmapfs_node_fd_put(req, newdir, newdfd);
	mmapfs_node_fd_put(req, dir, dfd);
	mmapfs_attrs_changed(fs);
	if (res == 0) {
		/* Nodes reached by name follow their new names. */
		inode_renamed(fs->inodes, newdir, newname);
		if (flags & RENAME_EXCHANGE)
			inode_renamed(fs->inodes, dir, name);
	}
	if (res == 0 && replaced)
		mmapfs_file_gone(fs, &key);
	mmapfs_reply_err(req, res);
}
