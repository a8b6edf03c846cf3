/*
 * ops_dir.c - directories: opendir, readdir, readdirplus, fsyncdir,
 * releasedir.
 *
 * A directory handle wraps a DIR stream of the backing directory.  FUSE
 * offsets are the backing filesystem's d_off cookies, so a reader that comes
 * back with an offset resumes with seekdir().  The kernel serialises
 * readdir calls on one open directory, so a handle needs no lock.
 *
 * With cache=watched, and with cache=timeout given a timeout, the kernel
 * keeps listings from one open to the next (cache_readdir, keep_cache), and
 * the backing directory is opened only when the kernel asks for entries:
 * an open answered from the kernel's listing costs the source nothing (a
 * network round trip on a network source).  The kernel drops a listing
 * when the directory changes through the mount (its version moves), when
 * the watcher invalidates the directory, and, once its attributes are
 * older than the timeout, when a new stat finds its mtime moved.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "mmapfs/ops.h"

struct dir_handle {
	struct inode *node;      /* held by the kernel while it is open */
	DIR *dp;                 /* NULL until first needed */
	off_t offset;            /* where dp stands, as a FUSE offset */
	struct dirent *entry;    /* read from dp but not yet sent, or NULL */
};

static void dir_handle_free(struct dir_handle *d)
{
	if (d->dp)
		closedir(d->dp);
	g_free(d);
}

/* Whether the kernel keeps listings (see the top of this file). */
static bool listings_kept(const struct mmapfs *fs)
{
	return fs->cache == MMAPFS_CACHE_WATCHED ||
	       (fs->cache == MMAPFS_CACHE_TIMEOUT && fs->opts->timeout >= 0);
}

/* Opens d's backing directory if it is not yet: 0 or -errno. */
static int dir_open(fuse_req_t req, struct dir_handle *d)
{
	int pathfd, fd;

	if (d->dp)
		return 0;
	pathfd = mmapfs_node_fd(req, d->node);
	fd = pathfd < 0 ? pathfd : openat(pathfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && pathfd >= 0)
		fd = -errno;
	mmapfs_node_fd_put(req, d->node, pathfd);
	if (fd < 0)
		return fd;
	d->dp = fdopendir(fd);
	if (!d->dp) {
		int e = errno;

		close(fd);
		return -e;
	}
	return 0;
}

static struct dir_handle *dir_handle_of(struct fuse_file_info *fi)
{
	return (struct dir_handle *)(uintptr_t)fi->fh;
}

void mmapfs_op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct dir_handle *d = g_new0(struct dir_handle, 1);
	bool kept = listings_kept(mmapfs_of(req));
	int res;

	d->node = mmapfs_inode(req, ino);
	/* Where the kernel may answer from its listing, the directory is
	 * opened when it asks for entries. */
	res = kept ? 0 : dir_open(req, d);
	if (res < 0) {
		g_free(d);
		mmapfs_reply_err(req, res);
		return;
	}
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = kept;
	fi->keep_cache = kept;
	mmapfs_handle_track(mmapfs_of(req), d, (GDestroyNotify)dir_handle_free);
	if (fuse_reply_open(req, fi) < 0) {
		/* The opener was interrupted: nobody will release this. */
		mmapfs_handle_untrack(mmapfs_of(req), d);
		dir_handle_free(d);
	}
}

/* The push jobs of one listing, submitted after its reply. */
struct push_list {
	struct push_job **jobs;
	size_t n;
};

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/*
 * Adds one entry to buf, at most rem bytes.  Returns the bytes the entry
 * takes (more than rem when it does not fit, and then nothing is owed to the
 * kernel), or a negative errno.  With plus, a small regular file's push job
 * (see pusher.h) is added to pushes (room for one per entry).
 */
static ssize_t add_entry(fuse_req_t req, struct inode *dir, bool plus,
			 const struct dirent *de, char *buf, size_t rem,
			 struct push_list *pushes)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct fuse_entry_param e;
	size_t n;
	int res;

	if (!plus) {
		struct stat st = {
			.st_ino = de->d_ino,
			.st_mode = (mode_t)de->d_type << 12,
		};
		return fuse_add_direntry(req, buf, rem, de->d_name, &st, de->d_off);
	}
	if (is_dot_or_dotdot(de->d_name)) {
		/* ino 0: the kernel makes no dentry for these. */
		memset(&e, 0, sizeof(e));
		e.attr.st_ino = de->d_ino;
		e.attr.st_mode = (mode_t)de->d_type << 12;
		return fuse_add_direntry_plus(req, buf, rem, de->d_name, &e,
					      de->d_off);
	}
	res = mmapfs_do_lookup(req, dir, de->d_name, &e);
	if (res < 0)
		return res;
	n = fuse_add_direntry_plus(req, buf, rem, de->d_name, &e, de->d_off);
	if (n > rem) {
		inode_forget(fs->inodes, mmapfs_inode(req, e.ino), 1);
	} else if (fs->pusher && S_ISREG(e.attr.st_mode)) {
		struct push_job *job = pusher_prepare_file(
			fs->pusher, e.ino, mmapfs_inode(req, e.ino), &e.attr);

		if (job)
			pushes->jobs[pushes->n++] = job;
	}
	return n;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct dir_handle *d = dir_handle_of(fi);
	struct inode *dir = mmapfs_inode(req, ino);
	g_autofree char *buf = g_malloc(size);
	/* Every entry takes 24 bytes at least.  (Not a GPtrArray: see
	 * dir_fd_add() in inode.c.) */
	struct push_list pushes = { g_new(struct push_job *, size / 24 + 1), 0 };
	size_t rem = size;
	int err = dir_open(req, d);

	if (err < 0) {
		mmapfs_reply_err(req, err);
		g_free(pushes.jobs);
		return;
	}
	if (off != d->offset) {
		seekdir(d->dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	for (;;) {
		ssize_t n;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = -errno;
				break;
			}
		}
		n = add_entry(req, dir, plus, d->entry, buf + (size - rem), rem,
			      &pushes);
		if (n == -ENOENT) {
			/* Removed since readdir saw it: skip it, as a
			 * readdir(3) racing the removal could have. */
			n = 0;
		} else if (n < 0) {
			err = n;
			break;
		} else if ((size_t)n > rem) {
			break;
		}
		rem -= n;
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
	if (err && rem == size)
		mmapfs_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	/* After the reply: the kernel has made the inodes to store into. */
	for (size_t i = 0; i < pushes.n; i++)
		pusher_submit(fs->pusher, pushes.jobs[i]);
	g_free(pushes.jobs);
}

void mmapfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void mmapfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void mmapfs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	struct dir_handle *d = dir_handle_of(fi);
	int res = dir_open(req, d);

	if (res == 0 && (datasync ? fdatasync(dirfd(d->dp)) : fsync(dirfd(d->dp))) < 0)
		res = -errno;
	mmapfs_reply_err(req, res);
}

void mmapfs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct dir_handle *d = dir_handle_of(fi);

	mmapfs_handle_untrack(mmapfs_of(req), d);
	dir_handle_free(d);
	fuse_reply_err(req, 0);
}
