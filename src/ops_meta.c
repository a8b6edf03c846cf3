/*
 * ops_meta.c - names and attributes: lookup, forget, getattr, setattr,
 * readlink, access, statfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <limits.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "mmapfs/creds.h"
#include "mmapfs/deferred.h"
#include "mmapfs/filedata.h"
#include "mmapfs/ops.h"

void mmapfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct fuse_entry_param e;
	int res;

	res = mmapfs_do_lookup(req, mmapfs_inode(req, parent), name, &e);
	if (res == -ENOENT && fs->watcher) {
		/* A name that is not there is cached too (a compiler's search
		 * of include paths asks again and again): the watcher
		 * invalidates it when the name appears outside the mount. */
		e.ino = 0;
		e.entry_timeout = fs->timeout;
		fuse_reply_entry(req, &e);
	} else if (res < 0) {
		mmapfs_reply_err(req, res);
	} else {
		fuse_reply_entry(req, &e);
	}
}

/*
 * The kernel let go of node's inode.  With -o writeback, lookups left
 * then were answered after it did, and gave it a new inode whose size,
 * taken from one of those replies, the watcher is told it cannot know.
 */
static void forget(struct mmapfs *fs, struct inode *node, uint64_t n)
{
	if (!fs->writeback || !fs->watcher) {
		inode_forget(fs->inodes, node, n);
		return;
	}
	inode_hold(fs->inodes, node);
	if (inode_forget(fs->inodes, node, n))
		watcher_kernel_inode_unsized(fs->watcher, node);
	inode_unhold(fs->inodes, node);
}

void mmapfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget(mmapfs_of(req), mmapfs_inode(req, ino), nlookup);
	fuse_reply_none(req);
}

void mmapfs_op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct mmapfs *fs = mmapfs_of(req);

	for (size_t i = 0; i < count; i++)
		forget(fs, inode_from_id(fs->inodes, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

void mmapfs_op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct inode *node = mmapfs_inode(req, ino);
	struct stat st;
	int ofd, fd, res;

	/* On a network source, within the window: what was kept. */
	if (fs->fds && S_ISREG(inode_type(node)) &&
	    filedata_kept_attrs(fs->fds, fs->inodes, node, &st)) {
		fuse_reply_attr(req, &st, fs->timeout);
		return;
	}
	/* fstat() of an open file: its descriptor, which still reaches it
	 * once its last name is gone. */
	ofd = fi ? mmapfs_open_file_fd(fi) : -1;
	fd = ofd >= 0 ? ofd : mmapfs_node_fd(req, node);
	res = fd < 0 ? fd : fstat(fd, &st) < 0 ? -errno : 0;

	if (fd != ofd)
		mmapfs_node_fd_put(req, node, fd);
	if (res == 0)
		filedata_seen(mmapfs_of(req)->maps, node, &st);
	if (res < 0)
		mmapfs_reply_err(req, res);
	else
		fuse_reply_attr(req, &st, mmapfs_of(req)->timeout);
}

/* The timestamp to give utimensat() for one of setattr's two times. */
static struct timespec time_to_set(int to_set, int set_bit, int now_bit,
				   struct timespec value)
{
	if (to_set & now_bit)
		return (struct timespec){ .tv_nsec = UTIME_NOW };
	if (to_set & set_bit)
		return value;
	return (struct timespec){ .tv_nsec = UTIME_OMIT };
}

/*
 * truncate(2) of the regular file at path.  With nonblock (O_NONBLOCK),
 * through an open for writing, which answers -EWOULDBLOCK (and starts the
 * break) where another process holds a lease, rather than wait for it.
 */
static int truncate_file(const char *path, off_t size, int nonblock)
{
	int fd, res;

	if (!nonblock)
		return truncate(path, size) < 0 ? -errno : 0;
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	res = ftruncate(fd, size) < 0 ? -errno : 0;
	close(fd);
	return res;
}

/*
 * Applies one setattr request to node, whose O_PATH descriptor is fd;
 * returns 0 or a negative errno (-EWOULDBLOCK, with nonblock, where a
 * truncate would wait for a lease).
 */
static int do_setattr(fuse_req_t req, struct mmapfs *fs, struct inode *node, int fd,
		      const struct stat *attr, int to_set,
		      struct fuse_file_info *fi, int nonblock)
{
	char path[PROC_FD_PATH_MAX];

	proc_fd_path(fd, path);
	if (to_set & FUSE_SET_ATTR_MODE) {
		if (fchmodat(AT_FDCWD, path, attr->st_mode, 0) < 0)
			return -errno;
	}
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1;
		gid_t gid = to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1;

		if (fchownat(fd, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		struct creds_saved saved;
		struct stat st;
		int ofd = fi ? mmapfs_open_file_fd(fi) : -1;
		int res;

		/* A file must not shrink under its mapping. */
		filedata_changing(fs->maps, node,
				  fstat(fd, &st) == 0 && attr->st_size < st.st_size);
		/* As the caller: the backing filesystem clears set-ID bits
		 * for a caller without CAP_FSETID (creds.h). */
		res = creds_become(req, CREDS_MODIFY, &saved);
		if (res < 0)
			return res;
		if (ofd >= 0)
			res = ftruncate(ofd, attr->st_size) < 0 ? -errno : 0;
		else if (S_ISREG(inode_type(node)))
			res = truncate_file(path, attr->st_size, nonblock);
		else
			res = truncate(path, attr->st_size) < 0 ? -errno : 0;
		creds_restore(&saved);
		if (res < 0)
			return res;
		filedata_kernel_sized(node, attr->st_size);
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
		      FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) {
		struct timespec ts[2] = {
			time_to_set(to_set, FUSE_SET_ATTR_ATIME,
				    FUSE_SET_ATTR_ATIME_NOW, attr->st_atim),
			time_to_set(to_set, FUSE_SET_ATTR_MTIME,
				    FUSE_SET_ATTR_MTIME_NOW, attr->st_mtim),
		};
		int res;

		/* A symlink's own times: utimensat() with AT_EMPTY_PATH. */
		if (S_ISLNK(inode_type(node)))
			res = utimensat(fd, "", ts, AT_EMPTY_PATH);
		else
			res = utimensat(AT_FDCWD, path, ts, 0);
		if (res < 0)
			return -errno;
	}
	return 0;
}

/* A setattr, made at once or, waiting for a lease, on the deferred pool. */
struct setting {
	fuse_req_t req;
	fuse_ino_t ino;         /* the kernel holds it while it waits for us */
	struct stat attr;
	int to_set;
	struct fuse_file_info fi;
	bool has_fi;
	int nonblock;           /* O_NONBLOCK, or 0: may wait */
};

/*
 * With -o writeback the kernel keeps a regular file's ctime and mtime
 * itself and writes them back with a SETATTR of both (never a caller's:
 * utimensat() cannot set a ctime), also right after the file lost its last
 * name (an unlink changes its ctime).  A file no process keeps is by then
 * gone from SOURCE, and no handle reaches it: its times have nowhere to go,
 * and an error would fail the next syncfs() on the mount for nothing.
 */
static bool times_of_gone_file(const struct mmapfs *fs, int to_set)
{
	return fs->writeback && (to_set & FUSE_SET_ATTR_CTIME) &&
	       !(to_set & ~(FUSE_SET_ATTR_CTIME | FUSE_SET_ATTR_MTIME |
			    FUSE_SET_ATTR_ATIME));
}

/*
 * What to answer for such a file: its type, inode number and the times
 * written back, no link.  (The rest is unknown: the handler replies with
 * no attribute timeout, and the kernel is told they are stale; a later
 * stat of a descriptor still open fails as it does without -o writeback.)
 */
static void gone_file_attrs(const struct inode *node, const struct stat *times,
			    struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = node->id.ino;
	st->st_mode = inode_type(node);
	st->st_mtim = times->st_mtim;
	st->st_ctim = times->st_ctim;
	st->st_atim = times->st_atim;
}

/* Applies s and replies; or, if a truncate would wait for a lease and
 * s->nonblock is set, returns false (what came before it is made again). */
static bool setattr_now(struct setting *s)
{
	fuse_req_t req = s->req;
	struct mmapfs *fs = mmapfs_of(req);
	struct inode *node = mmapfs_inode(req, s->ino);
	struct stat st;
	int fd = mmapfs_node_fd(req, node);
	int res = fd < 0 ? fd : do_setattr(req, fs, node, fd, &s->attr, s->to_set,
					   s->has_fi ? &s->fi : NULL, s->nonblock);

	if (res == 0 && fstat(fd, &st) < 0)
		res = -errno;
	mmapfs_node_fd_put(req, node, fd);
	mmapfs_attrs_changed(fs);
	if (res == -EWOULDBLOCK && s->nonblock)
		return false;
	if ((res == -ENOENT || res == -ESTALE) && times_of_gone_file(fs, s->to_set)) {
		gone_file_attrs(node, &s->attr, &st);
		fuse_reply_attr(req, &st, 0);
		fuse_lowlevel_notify_inval_inode(fs->se, s->ino, -1, 0);
		return true;
	}
	if (res < 0)
		mmapfs_reply_err(req, res);
	else
		fuse_reply_attr(req, &st, fs->timeout);
	return true;
}

static void setattr_waiting(void *data)
{
	struct setting *s = data;
	struct mmapfs *fs = mmapfs_of(s->req);

	s->nonblock = 0;
	setattr_now(s);
	mmapfs_changed(fs);     /* after the request's own wrapper */
	g_free(s);
}

void mmapfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct setting s = {
		.req = req, .ino = ino, .attr = *attr, .to_set = to_set,
		.fi = fi ? *fi : (struct fuse_file_info){ 0 }, .has_fi = fi != NULL,
		/* A truncate of a file another process holds a lease on: as
		 * in mmapfs_op_open(). */
		.nonblock = fs->deferred ? O_NONBLOCK : 0,
	};

	if (!setattr_now(&s))
		deferred_run(fs->deferred, setattr_waiting, g_memdup2(&s, sizeof(s)));
}

void mmapfs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct inode *node = mmapfs_inode(req, ino);
	char buf[PATH_MAX + 1];
	int fd = mmapfs_node_fd(req, node);
	ssize_t n;

	n = fd;
	if (fd >= 0 && (n = readlinkat(fd, "", buf, sizeof(buf))) < 0)
		n = -errno;
	mmapfs_node_fd_put(req, node, fd);
	if (n < 0) {
		mmapfs_reply_err(req, (int)n);
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
	struct inode *node = mmapfs_inode(req, ino);
	char path[PROC_FD_PATH_MAX];
	int fd = mmapfs_node_fd(req, node);
	int res = fd;

	if (fd >= 0) {
		proc_fd_path(fd, path);
		res = faccessat(AT_FDCWD, path, mask, 0) < 0 ? -errno : 0;
	}
	mmapfs_node_fd_put(req, node, fd);
	mmapfs_reply_err(req, res);
}

void mmapfs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct inode *node = mmapfs_inode(req, ino);
	struct statvfs sv;
	int fd = mmapfs_node_fd(req, node);
	int res = fd < 0 ? fd : fstatvfs(fd, &sv) < 0 ? -errno : 0;

	mmapfs_node_fd_put(req, node, fd);
	if (res < 0)
		mmapfs_reply_err(req, res);
	else
		fuse_reply_statfs(req, &sv);
}
