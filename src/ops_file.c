/*
 * ops_file.c - file data: open, create, release, flush, fsync, read, write,
 * fallocate, copy_file_range, lseek.
 *
 * Writes go to the backing descriptor with pwrite (or splice); the mapping
 * is MAP_SHARED over the same page cache, so the next read sees them.
 *
 * DESIGN: read() asks the read engine (reader.h) for a plan and turns it
 * into one reply.  The fast path is one mapcache_lookup() (a hash lookup
 * and a pin), a probe of the pages under the SIGBUS guard, and
 * fuse_reply_buf() pointing straight into the mapping: the kernel copies
 * the bytes from our mapping into the reader's buffer, and we copy
 * nothing.  Nothing of the open file is touched after the reply: the
 * reader may have closed it by then.  How a file's data changes (writers,
 * truncation, keep_cache) is told to the file-data protocol (filedata.h).
 *
 * On a read-only mount with cache=watched the kernel opens files without
 * us (no_open, see ops.h): reads then come with fh 0, and file_of() gives
 * them a stand-in open file whose descriptor, when the mapping cache cannot
 * answer, is opened by handle for that request only.
 *
 * With cache=none every read is answered with pread (see reader.h for
 * why a mapping read racing a truncation could not keep that mode's
 * promise).
 *
 * An open may instead be handed to the kernel's passthrough
 * (passthrough.h decides, and builds the reply): its reads and writes then
 * never come here, only its FLUSH, FSYNC, SETATTR and RELEASE.
 *
 * On a network or FUSE source with cache=timeout (fs->fds), a read-only
 * open's descriptor is kept after it (fdcache.h), and a later read-only
 * open of the same file takes it when filedata_reopen() allows: no open,
 * close or stat reaches the source for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <linux/falloc.h>
#include <unistd.h>

#include "mmapfs/creds.h"
#include "mmapfs/deferred.h"
#include "mmapfs/filedata.h"
#include "mmapfs/log.h"
#include "mmapfs/ops.h"

struct open_file {
	int fd;                     /* the backing file, opened for this open,
				     * or shared's */
	struct fdcache_fd *shared;  /* a kept descriptor (fdcache.h), or NULL */
	struct inode *node;         /* held by the kernel while the file is open */
	bool writable;              /* a writer (filedata.h) */
	struct passthrough *pt;     /* the open was counted there, or NULL */
	int backing_id;             /* > 0: a passthrough open (passthrough.h) */
};

static struct open_file *open_file_of(struct fuse_file_info *fi)
{
	return (struct open_file *)(uintptr_t)fi->fh;
}

int mmapfs_open_file_fd(struct fuse_file_info *fi)
{
	return fi->fh ? open_file_of(fi)->fd : -1;
}

/*
 * The file a request is about: the one our open() gave the kernel, or, for
 * a file the kernel opened without us (fh 0, see no_open in ops.h), its
 * node and no descriptor yet: inode_file_fd() opens one when it is needed,
 * and inode_file_done() closes it.
 */
static struct inode_file file_of(fuse_req_t req, fuse_ino_t ino,
				 struct fuse_file_info *fi)
{
	struct open_file *fh = open_file_of(fi);

	if (fh)
		return (struct inode_file){ .node = fh->node, .fd = fh->fd };
	return (struct inode_file){ .node = mmapfs_inode(req, ino), .fd = -1 };
}

static int file_fd(fuse_req_t req, struct inode_file *f)
{
	return inode_file_fd(mmapfs_of(req)->inodes, f);
}

/*
 * The flags to open the backing file with.  O_DIRECT is stripped: reads are
 * answered from mappings and writes come through our own buffers, whose
 * alignment O_DIRECT would refuse.  A write-only open is made read-write
 * when it can be, so that the file can be mapped from it (and, with
 * -o writeback, so that the kernel can read the rest of a page it writes
 * part of).  With -o writeback O_APPEND is stripped: the kernel places
 * appended bytes itself, at the end of the file as it knows it, and its
 * WRITEs carry offsets that an O_APPEND descriptor would ignore.
 */
static int backing_flags(const struct mmapfs *fs, int flags)
{
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_DIRECT | O_NOFOLLOW);
	if (fs->writeback)
		flags &= ~O_APPEND;
	if ((flags & O_ACCMODE) == O_WRONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	return flags | O_CLOEXEC;
}

/*
 * Creates (or opens) name in dirfd with backing_flags(fs, flags) plus create
 * (O_CREAT, O_EXCL, O_NOFOLLOW), or write-only if read-write is denied.
 * Returns a descriptor or -errno.
 */
static int create_backing(const struct mmapfs *fs, int dirfd, const char *name,
			  int flags, int create, mode_t mode)
{
	int bflags = backing_flags(fs, flags) | create;
	int fd = openat(dirfd, name, bflags, mode);

	if (fd < 0 && errno == EACCES && (flags & O_ACCMODE) == O_WRONLY)
		fd = openat(dirfd, name, (bflags & ~O_ACCMODE) | O_WRONLY, mode);
	return fd < 0 ? -errno : fd;
}

/* Opens node's file with backing_flags(fs, flags), as create_backing() does. */
static int open_backing(struct mmapfs *fs, struct inode *node, int flags)
{
	int fd = inode_open(fs->inodes, node, backing_flags(fs, flags));

	/* Out of descriptors: those kept for reopens make room first. */
	if ((fd == -EMFILE || fd == -ENFILE) && mmapfs_shed_descriptors(fs))
		fd = inode_open(fs->inodes, node, backing_flags(fs, flags));
	if (fd == -EACCES && (flags & O_ACCMODE) == O_WRONLY)
		fd = inode_open(fs->inodes, node,
				(backing_flags(fs, flags) & ~O_ACCMODE) | O_WRONLY);
	return fd;
}

/*
 * Wraps a backing descriptor of node, whose file is st, in an open_file:
 * fd, or shared's if shared is not NULL.  Takes fd, or the reference.
 */
static void open_file_wrap(struct mmapfs *fs, struct inode *node, int fd,
			   struct fdcache_fd *shared, const struct stat *stp,
			   struct fuse_file_info *fi)
{
	struct stat st = *stp;
	struct open_file *fh;

	fh = g_new0(struct open_file, 1);
	fh->fd = shared ? shared->fd : fd;
	fh->shared = shared;
	fh->node = node;
	fh->writable = (fi->flags & O_ACCMODE) != O_RDONLY;
	filedata_open_begin(node);
	if (fh->writable)
		filedata_writer_open(node);
	if (fs->passthrough && S_ISREG(st.st_mode) &&
	    passthrough_mode(fs->passthrough) != MMAPFS_PT_OFF) {
		fh->pt = fs->passthrough;
		fh->backing_id = passthrough_open(fh->pt, node, fd, fh->writable, &st);
	}
	fi->fh = (uintptr_t)fh;
	fi->direct_io = fs->opts->cache == MMAPFS_CACHE_NONE;
	/* A file opened read-only has nothing to flush at close (POSIX locks
	 * are the kernel's: the daemon implements none), and neither has one
	 * on the local filesystem SOURCE is on, whose close() reports no
	 * write error (network and FUSE filesystems defer theirs to close,
	 * fstype.h; a file on another filesystem mounted inside SOURCE is
	 * flushed): one round trip less per close.  (With -o writeback the
	 * kernel flushes anyway, to write its pages back first.) */
	fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY ||
		      (!fs->blind && node->id.dev == inode_table_root(fs->inodes)->id.dev);
	/* On a network source, a small file the kernel lacks is given to it
	 * whole now (pusher.h). */
	if (fs->pusher && !fh->writable && !fh->backing_id && !(fi->flags & O_TRUNC))
		pusher_store_at_open(fs->pusher, inode_id(fs->inodes, node), node, fh->fd, &st);
	/* Unchanged since the kernel was last given its pages: they are
	 * still the file's.  A passthrough open may not keep them: the
	 * kernel drops them. */
	fi->keep_cache = filedata_opened(fs->maps, node, &st) && !fh->backing_id;
	if (fh->backing_id)
		filedata_kernel_dropped(node);
}

/*
 * Wraps a backing descriptor of node in an open_file.  Takes fd.  Where
 * reopens take kept descriptors (fs->fds), a read-only open's is kept.
 */
static int open_file_new(struct mmapfs *fs, struct inode *node, int fd,
			 struct fuse_file_info *fi)
{
	int gen = filedata_generation(node);
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	if (fs->fds && S_ISREG(st.st_mode) && (fi->flags & O_ACCMODE) == O_RDONLY)
		fdcache_keep(fs->fds, &node->id, fd, &st, gen);
	open_file_wrap(fs, node, fd, NULL, &st, fi);
	return 0;
}

static void open_file_free(struct open_file *fh)
{
	if (fh->pt)
		passthrough_release(fh->pt, fh->node, fh->backing_id > 0);
	if (fh->writable)
		filedata_writer_close(fh->node);
	filedata_open_end(fh->node);
	if (fh->shared)
		fdcache_fd_unref(fh->shared);
	else
		close(fh->fd);
	g_free(fh);
}

/* Replies to an open: fi->fh goes to the kernel, or is freed if it is not
 * taken (the opener was interrupted and nobody will release it). */
static void reply_open(fuse_req_t req, struct fuse_file_info *fi,
		       const struct fuse_entry_param *e)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct open_file *fh = open_file_of(fi);
	int res;

	mmapfs_handle_track(fs, fh, (GDestroyNotify)open_file_free);
	if (fh->backing_id)
		res = passthrough_reply_open(req, fi, fh->backing_id, e);
	else
		res = e ? fuse_reply_create(req, e, fi) : fuse_reply_open(req, fi);
	if (res < 0) {
		mmapfs_handle_untrack(fs, fh);
		open_file_free(fh);
		if (e)
			inode_forget(fs->inodes, mmapfs_inode(req, e->ino), 1);
	}
}

/*
 * An open with O_TRUNC, made as the daemon, truncated the file the way
 * root does: keeping its set-ID bits.  A caller without CAP_FSETID (every
 * caller but root, as creds.h has it) loses them, as natively: set-user-ID
 * always, set-group-ID where the group may execute.
 */
static void truncated_by_caller(fuse_req_t req, int fd)
{
	struct stat st;
	mode_t kill;

	if (fuse_req_ctx(req)->uid == 0 || fstat(fd, &st) < 0)
		return;
	kill = st.st_mode & S_ISUID;
	if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		kill |= S_ISGID;
	if (kill && fchmod(fd, st.st_mode & 07777 & ~kill) < 0)
		log_warn("cannot clear the set-ID bits of a file truncated by "
			 "uid %u: %s", (unsigned)fuse_req_ctx(req)->uid, g_strerror(errno));
}

/* Wraps fd (or the error it is) in an open file, and replies. */
static void finish_open(fuse_req_t req, struct inode *node, int fd,
			struct fuse_file_info *fi)
{
	struct mmapfs *fs = mmapfs_of(req);
	int res;

	if (fd >= 0 && (fi->flags & O_TRUNC) && S_ISREG(inode_type(node)))
		truncated_by_caller(req, fd);
	res = fd < 0 ? fd : open_file_new(fs, node, fd, fi);

	if (res < 0)
		mmapfs_reply_err(req, res);
	else
		reply_open(req, fi, NULL);
	/* An OPEN changes nothing, but for this. */
	if (fi->flags & O_TRUNC)
		mmapfs_changed(fs);
}

/* An open that waits for another process's lease to break (deferred.h). */
struct waiting_open {
	fuse_req_t req;
	struct inode *node;     /* the kernel holds it while it waits for us */
	struct fuse_file_info fi;
};

static void open_waiting(void *data)
{
	struct waiting_open *w = data;

	finish_open(w->req, w->node,
		    open_backing(mmapfs_of(w->req), w->node, w->fi.flags), &w->fi);
	g_free(w);
}

/*
 * A read-only open on a source where opening costs a network round trip
 * (policy_reopen_window()): from the file's kept descriptor, when
 * filedata_reopen() allows.  (A lease another process holds on the file
 * is not broken by such an open: the backing file is not opened.)  True
 * when fi is set up.
 */
static bool reopen_kept(struct mmapfs *fs, struct inode *node,
			struct fuse_file_info *fi)
{
	struct fdcache_fd *kfd;
	struct stat st;

	if (!fs->fds || !S_ISREG(inode_type(node)) || (fi->flags & O_ACCMODE) != O_RDONLY)
		return false;
	kfd = filedata_reopen(fs->fds, fs->inodes, node, &st);
	if (!kfd)
		return false;
	open_file_wrap(fs, node, -1, kfd, &st, fi);
	stats_add(&fs->stats.reopens_kept, 1);
	return true;
}

void mmapfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct inode *node = mmapfs_inode(req, ino);
	int nonblock, fd;

	if (fs->no_open) {
		/* From now on the kernel opens files without asking. */
		mmapfs_reply_err(req, -ENOSYS);
		return;
	}
	if (S_ISLNK(inode_type(node))) {
		mmapfs_reply_err(req, -ELOOP);
		return;
	}
	/* The file shrinks inside open(): no mapping may outlive that. */
	if (fi->flags & O_TRUNC) {
		filedata_changing(fs->maps, node, true);
		filedata_kernel_sized(node, 0);
	} else if (reopen_kept(fs, node, fi)) {
		reply_open(req, fi, NULL);
		return;
	}
	/* A regular file is opened without waiting: where another process
	 * holds a lease on it, the open answers EWOULDBLOCK at once (and
	 * starts the lease's break), and is made again, waiting, on a thread
	 * of the deferred pool, not of the session loop.  (O_NONBLOCK does
	 * nothing else to a regular file.)  A caller's own O_NONBLOCK gets
	 * EWOULDBLOCK, as natively. */
	nonblock = S_ISREG(inode_type(node)) && !(fi->flags & O_NONBLOCK) && fs->deferred ?
		O_NONBLOCK : 0;
	fd = open_backing(fs, node, fi->flags | nonblock);
	if (fd == -EWOULDBLOCK && nonblock) {
		struct waiting_open *w = g_new(struct waiting_open, 1);

		*w = (struct waiting_open){ .req = req, .node = node, .fi = *fi };
		deferred_run(fs->deferred, open_waiting, w);
		return;
	}
	finish_open(req, node, fd, fi);
}

/* A create, made at once or, waiting for a lease, on the deferred pool. */
struct creating {
	fuse_req_t req;
	struct inode *dir;      /* the kernel holds it while it waits for us */
	const char *name;       /* owned once deferred */
	mode_t mode;
	struct fuse_file_info fi;
	int nonblock;           /* O_NONBLOCK, or 0: may wait */
};

/* Makes c's file as the caller, and replies; or, if it would wait for a
 * lease and c->nonblock is set, returns false having done nothing. */
static bool create_now(struct creating *c)
{
	fuse_req_t req = c->req;
	struct mmapfs *fs = mmapfs_of(req);
	struct fuse_entry_param e;
	struct creds_saved saved;
	/* Before becoming the caller: opening by handle is the daemon's. */
	int dfd = mmapfs_node_fd(req, c->dir);
	int fd = dfd < 0 ? dfd : creds_become(req, CREDS_CREATE, &saved);
	int res;

	if (fd == 0) {
		fd = create_backing(fs, dfd, c->name, c->fi.flags | c->nonblock,
				    O_CREAT | O_NOFOLLOW | (c->fi.flags & O_EXCL),
				    c->mode);
		creds_restore(&saved);
	}
	mmapfs_node_fd_put(req, c->dir, dfd);
	if (fd == -EWOULDBLOCK && c->nonblock)
		return false;
	res = fd < 0 ? fd : mmapfs_do_lookup(req, c->dir, c->name, &e);
	if (res == 0) {
		/* A file made now has no capability: the kernel's question
		 * before its first write (and after each chown) is answered
		 * from memory where a watcher runs (ops_xattr.c). */
		if (fs->watcher && (c->fi.flags & O_EXCL))
			__atomic_store_n(&mmapfs_inode(req, e.ino)->no_caps, 1,
					 __ATOMIC_RELAXED);
		res = open_file_new(fs, mmapfs_inode(req, e.ino), fd, &c->fi);
		fd = -1;        /* taken */
		if (res < 0)
			inode_forget(fs->inodes, mmapfs_inode(req, e.ino), 1);
	}
	if (fd >= 0)
		close(fd);
	if (res < 0)
		mmapfs_reply_err(req, res);
	else
		reply_open(req, &c->fi, &e);
	return true;
}

static void create_waiting(void *data)
{
	struct creating *c = data;
	struct mmapfs *fs = mmapfs_of(c->req);

	c->nonblock = 0;
	create_now(c);
	mmapfs_changed(fs);     /* after the request's own wrapper */
	g_free((char *)c->name);
	g_free(c);
}

void mmapfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct creating c = {
		.req = req, .dir = mmapfs_inode(req, parent), .name = name,
		.mode = mode, .fi = *fi,
		/* An existing file another process holds a lease on: as in
		 * mmapfs_op_open(). */
		.nonblock = !(fi->flags & (O_NONBLOCK | O_EXCL)) && fs->deferred ?
			    O_NONBLOCK : 0,
	};

	if (create_now(&c))
		return;
	c.name = g_strdup(name);
	deferred_run(fs->deferred, create_waiting, g_memdup2(&c, sizeof(c)));
}

void mmapfs_op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct open_file *fh = open_file_of(fi);
	struct stat st;

	if (!fh) {              /* opened without us */
		fuse_reply_err(req, 0);
		return;
	}
	/* The last name went while the file was open: now nobody has it.
	 * (Not asked of a file whose descriptor is kept for reopens: that
	 * one holds it on after this open anyway, and the stat would be a
	 * network round trip at every close; an unlink through the mount
	 * drops it, mmapfs_file_gone().) */
	if (!(fs->fds && fdcache_keeps(fs->fds, &fh->node->id)) &&
	    fstat(fh->fd, &st) == 0 && st.st_nlink == 0)
		filedata_gone(fs->maps, &fh->node->id);
	mmapfs_handle_untrack(fs, fh);
	open_file_free(fh);
	fuse_reply_err(req, 0);
}

void mmapfs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* What close() would do: network filesystems flush and report
	 * their deferred write errors here.  A file opened without us is
	 * on a read-only mount: ENOSYS tells the kernel to stop flushing. */
	int fd;

	if (!fi->fh) {
		mmapfs_reply_err(req, -ENOSYS);
		return;
	}
	fd = dup(open_file_of(fi)->fd);

	mmapfs_reply_err(req, fd < 0 || close(fd) < 0 ? -errno : 0);
}

void mmapfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct inode_file f = file_of(req, ino, fi);
	int fd = file_fd(req, &f);
	int res = fd < 0 ? fd : (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;

	inode_file_done(&f);
	mmapfs_reply_err(req, res);
}

/*
 * With FUSE_HANDLE_KILLPRIV_V2 (ops.h) the kernel leaves clearing set-ID
 * bits on a change of a file's data to us, and goes on caching the mode it
 * knew (a stat refreshes it after a write, an exec's permission check does
 * not).  The change is made as the caller, and the backing filesystem
 * clears them as it would natively; on a file that had them, the kernel
 * is then told that its attributes are stale, before the reply.
 * Attributes only: no page lock is taken, so a WRITE's own handler may
 * send it.
 */
static bool may_clear_setid(const struct mmapfs *fs, int fd)
{
	struct stat st;

	return fs->killpriv_v2 && fd >= 0 && fstat(fd, &st) == 0 &&
	       (st.st_mode & (S_ISUID | S_ISGID));
}

static void setid_maybe_cleared(fuse_req_t req, fuse_ino_t ino)
{
	fuse_lowlevel_notify_inval_inode(mmapfs_of(req)->se, ino, -1, 0);
}

void mmapfs_op_write_buf(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_bufvec *in, off_t off,
			 struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	struct inode_file f = file_of(req, ino, fi);
	struct creds_saved saved;
	bool setid;
	ssize_t res;

	/* (Without an open, on a read-only mount: the kernel refuses
	 * writes first; a read-only descriptor would refuse them too.) */
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = file_fd(req, &f);
	out.buf[0].pos = off;
	setid = may_clear_setid(mmapfs_of(req), out.buf[0].fd);
	res = out.buf[0].fd < 0 ? out.buf[0].fd : creds_become(req, CREDS_MODIFY, &saved);
	if (res == 0) {
		res = fuse_buf_copy(&out, in, 0);
		creds_restore(&saved);
	}
	if (res > 0)
		filedata_kernel_grew(f.node, off + res);
	inode_file_done(&f);
	if (setid)
		setid_maybe_cleared(req, ino);
	if (res < 0) {
		mmapfs_reply_err(req, (int)res);
		return;
	}
	stats_add(&mmapfs_of(req)->stats.bytes_written, (guint64)res);
	fuse_reply_write(req, (size_t)res);
}

void mmapfs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi)
{
	struct inode_file f = file_of(req, ino, fi);
	int fd = file_fd(req, &f);
	bool setid = may_clear_setid(mmapfs_of(req), fd);
	struct creds_saved saved;
	int res;

	/* Collapsing a range shrinks the file under its mapping. */
	filedata_changing(mmapfs_of(req)->maps, f.node,
			  mode & FALLOC_FL_COLLAPSE_RANGE);
	res = fd < 0 ? fd : creds_become(req, CREDS_MODIFY, &saved);
	if (res == 0) {
		res = fallocate(fd, mode, offset, length) < 0 ? -errno : 0;
		creds_restore(&saved);
	}
	if (res == 0 && !(mode & FALLOC_FL_KEEP_SIZE))
		filedata_kernel_grew(f.node, offset + length);
	inode_file_done(&f);
	if (setid)
		setid_maybe_cleared(req, ino);
	mmapfs_reply_err(req, res);
}

void mmapfs_op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
			       off_t off_in, struct fuse_file_info *fi_in,
			       fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len,
			       int flags)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct inode_file in = file_of(req, ino_in, fi_in);
	struct inode_file out = file_of(req, ino_out, fi_out);
	int fd_in = file_fd(req, &in), fd_out = file_fd(req, &out);
	struct creds_saved saved;
	ssize_t n;

	bool setid = may_clear_setid(fs, fd_out);

	filedata_changing(fs->maps, out.node, false);
	if (fd_in < 0 || fd_out < 0)
		n = fd_in < 0 ? fd_in : fd_out;
	else if ((n = creds_become(req, CREDS_MODIFY, &saved)) == 0) {
		n = copy_file_range(fd_in, &off_in, fd_out, &off_out, len,
				    (unsigned)flags);
		if (n < 0)
			n = -errno;
		creds_restore(&saved);
	}
	if (n > 0)
		filedata_kernel_grew(out.node, off_out);
	inode_file_done(&in);
	inode_file_done(&out);
	if (setid)
		setid_maybe_cleared(req, ino_out);
	if (n < 0)
		mmapfs_reply_err(req, (int)n);
	else
		fuse_reply_write(req, (size_t)n);
}

void mmapfs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct inode_file f;
	off_t res;
	int fd;

	f = file_of(req, ino, fi);
	/* With -o writeback the kernel may hold written pages SOURCE has not
	 * seen yet, where SOURCE has a hole, for as long as the file is open
	 * for writing through the mount (it writes them all back before the
	 * last such open is released).  Then EINVAL, as a filesystem that
	 * cannot seek for data says: programs read the file whole instead.
	 * (ENOSYS would have the kernel answer for every file from then on,
	 * without holes, and its i_size is not ours to know.) */
	if (mmapfs_of(req)->writeback && filedata_has_writers(f.node)) {
		mmapfs_reply_err(req, -EINVAL);
		return;
	}
	fd = file_fd(req, &f);
	res = fd;
	if (fd >= 0 && (res = lseek(fd, off, whence)) < 0)
		res = -errno;
	inode_file_done(&f);
	if (res < 0)
		mmapfs_reply_err(req, (int)res);
	else
		fuse_reply_lseek(req, res);
}

/* Answers a read with pread (reader_pread()). */
static void reply_pread(fuse_req_t req, struct inode_file *f, size_t size,
			off_t off)
{
	struct mmapfs *fs = mmapfs_of(req);
	const char *data;
	ssize_t n = reader_pread(&fs->reader, f, size, off, &data);

	if (n < 0) {
		mmapfs_reply_err(req, (int)n);
		return;
	}
	stats_add(&fs->stats.bytes_from_pread, (guint64)n);
	fuse_reply_buf(req, data, n);
}

void mmapfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct inode_file f = file_of(req, ino, fi);
	struct reader_plan plan;
	struct push_job *job = NULL;

	reader_plan(&fs->reader, &f, size, off, &plan);
	if (plan.how == READER_PREAD) {
		reply_pread(req, &f, size, off);
		inode_file_done(&f);
		return;
	}
	stats_add(&fs->stats.bytes_from_maps, plan.len);
	/* A random miss in the kernel's cache: let it have the window. */
	if (fs->pusher && plan.len)
		job = pusher_prepare(fs->pusher, ino, f.node, plan.map, off, plan.len);
	if (fuse_reply_buf(req, plan.data, plan.len) == -EFAULT) {
		/* Shrank between probe and reply; the kernel answered EIO. */
		reader_reply_failed(&fs->reader, &plan);
		if (job)
			pusher_cancel(fs->pusher, job);
	} else if (job) {
		pusher_submit(fs->pusher, job);
	}
	/* From here on the reader may have closed the file: its node may be
	 * gone.  Only the plan's pin, the job (held) and a descriptor of
	 * ours (f.own_fd) are ours. */
	reader_done(&fs->reader, &plan);
	inode_file_done(&f);
}
