/*
 * ops_file.c - file data: open, create, release, flush, fsync, read, write,
 * fallocate, copy_file_range, lseek.
 *
 * Writes go to the backing descriptor with pwrite (or splice); the mapping
 * is MAP_SHARED over the same page cache, so the next read sees them.
 *
 * DESIGN: read() answers from the mapping cache.  The fast path is one
 * mapcache_lookup() (a hash lookup and a pin), a probe of the pages under the
 * SIGBUS guard, and fuse_reply_buf() pointing straight into the mapping: the
 * kernel copies the bytes from our mapping into the reader's buffer, and we
 * copy nothing.  Everything the cache cannot serve goes to read_fd(), which
 * reads from the backing descriptor: empty files, files larger than
 * max_mapped, files whose filesystem cannot mmap, and any read while the
 * budget is full of pinned mappings.
 *
 * A mapping knows the file's size when it was mapped; the file may have
 * changed size since, behind our back.  Two checks keep a read from ever
 * returning bytes past the file's current end (the zero-filled tail of the
 * last page, or a page that is gone):
 *   - a read that touches the mapping's last page calls fstat(): a file that
 *     grew or shrank is mapped again at its new size;
 *   - any other read probes one byte beyond its last page as well: if that
 *     page is still there, the file still extends past the read.  When the
 *     probe hits a missing page (SIGBUS, caught), the file shrank: the
 *     mapping is dropped and the read is answered from the descriptor.
 * If the file shrinks in the instant between the probe and the reply, the
 * kernel's copy out of the mapping fails, the kernel answers that read with
 * EIO, and the mapping is dropped too.  A shrink seen by the probe marks the
 * inode read_by_fd: a file that others truncate while we read it is read
 * with pread from then on, which races with truncation as natively as can
 * be.  Nothing of the open file is touched after the reply: the reader may
 * have closed it by then.
 *
 * On a read-only mount with cache=watched the kernel opens files without
 * us (no_open, see ops.h): reads then come with fh 0, and file_of() gives
 * them a stand-in open file whose descriptor, when the mapping cache cannot
 * answer, is opened by handle for that request only.
 *
 * With cache=none every read is answered with pread.  That mode promises
 * each read the file as it is at that instant, and only the kernel's own
 * read checks the size and copies under the same page lock: a mapping
 * read racing a truncation could copy the zeroed tail of the page the new
 * end falls in (measured: 1,000 truncations under readers), or fail with
 * EIO.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <linux/falloc.h>
#include <unistd.h>

#include "mmapfs/creds.h"
#include "mmapfs/log.h"
#include "mmapfs/ops.h"
#include "mmapfs/safecopy.h"

#define ROUND_UP(x, align) (((x) + (align) - 1) & ~((align) - 1))

struct open_file {
	int fd;                     /* the backing file, opened for this open */
	struct inode *node;         /* held by the kernel while the file is open */
	bool writable;              /* counted in node->writers */
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
 * The open file a request is about: the one our open() gave the kernel,
 * or, for a file the kernel opened without us (fh 0, see no_open in ops.h),
 * tmp, filled in with the node and no descriptor yet.  file_fd() opens one
 * when it is needed, and file_done() closes it.
 */
static struct open_file *file_of(fuse_req_t req, fuse_ino_t ino,
				 struct fuse_file_info *fi,
				 struct open_file *tmp)
{
	if (fi->fh)
		return open_file_of(fi);
	*tmp = (struct open_file){ .fd = -1, .node = mmapfs_inode(req, ino) };
	return tmp;
}

/* fh's backing descriptor, opened read-only if fh has none yet; or -errno. */
static int file_fd(struct mmapfs *fs, struct open_file *fh)
{
	if (fh->fd < 0)
		fh->fd = inode_open(fs->inodes, fh->node, O_RDONLY | O_CLOEXEC);
	return fh->fd;
}

static void file_done(struct open_file *fh, struct open_file *tmp)
{
	if (fh == tmp && tmp->fd >= 0)
		close(tmp->fd);
}

/*
 * The flags to open the backing file with.  O_DIRECT is stripped: reads are
 * answered from mappings and writes come through our own buffers, whose
 * alignment O_DIRECT would refuse.  A write-only open is made read-write
 * when it can be, so that the file can be mapped from it.
 */
static int backing_flags(int flags)
{
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_DIRECT | O_NOFOLLOW);
	if ((flags & O_ACCMODE) == O_WRONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	return flags | O_CLOEXEC;
}

/*
 * Creates (or opens) name in dirfd with backing_flags(flags) plus create
 * (O_CREAT, O_EXCL, O_NOFOLLOW), or write-only if read-write is denied.
 * Returns a descriptor or -errno.
 */
static int create_backing(int dirfd, const char *name, int flags, int create,
			  mode_t mode)
{
	int bflags = backing_flags(flags) | create;
	int fd = openat(dirfd, name, bflags, mode);

	if (fd < 0 && errno == EACCES && (flags & O_ACCMODE) == O_WRONLY)
		fd = openat(dirfd, name, (bflags & ~O_ACCMODE) | O_WRONLY, mode);
	return fd < 0 ? -errno : fd;
}

/* Opens node's file with backing_flags(flags), as create_backing() does. */
static int open_backing(struct mmapfs *fs, struct inode *node, int flags)
{
	int fd = inode_open(fs->inodes, node, backing_flags(flags));

	if (fd == -EACCES && (flags & O_ACCMODE) == O_WRONLY)
		fd = inode_open(fs->inodes, node,
				(backing_flags(flags) & ~O_ACCMODE) | O_WRONLY);
	return fd;
}

/* Wraps a backing descriptor of node in an open_file.  Takes fd. */
static int open_file_new(struct mmapfs *fs, struct inode *node, int fd,
			 struct fuse_file_info *fi)
{
	struct open_file *fh;
	struct stat st;
	guint64 stamp;

	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	fh = g_new0(struct open_file, 1);
	fh->fd = fd;
	fh->node = node;
	fh->writable = (fi->flags & O_ACCMODE) != O_RDONLY;
	if (fh->writable) {
		g_atomic_int_inc(&node->writers);
		g_atomic_int_inc(&node->data_gen);
	}
	if (!S_ISREG(st.st_mode))
		g_atomic_int_set(&node->read_by_fd, 1);
	else
		mapcache_revalidate(fs->maps, &node->id, &st);
	fi->fh = (uintptr_t)fh;
	fi->direct_io = fs->opts->cache == MMAPFS_CACHE_NONE;
	/* A file opened read-only has nothing to flush at close (POSIX locks
	 * are released by the kernel either way): one round trip less. */
	fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY;
	/* Unchanged since the last open: the kernel's cached pages are still
	 * the file's.  (A change inside the same mtime tick that keeps the
	 * size is not seen; the attribute timeout bounds how long.) */
	stamp = inode_data_stamp(&st);
	fi->keep_cache = __atomic_exchange_n(&node->data_stamp, stamp,
					     __ATOMIC_RELAXED) == stamp;
	return 0;
}

static void open_file_free(struct open_file *fh)
{
	if (fh->writable) {
		g_atomic_int_inc(&fh->node->data_gen);
		g_atomic_int_add(&fh->node->writers, -1);
	}
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

	mmapfs_handle_track(fs, fh, (GDestroyNotify)open_file_free);
	if ((e ? fuse_reply_create(req, e, fi) : fuse_reply_open(req, fi)) < 0) {
		mmapfs_handle_untrack(fs, fh);
		open_file_free(fh);
		if (e)
			inode_forget(fs->inodes, mmapfs_inode(req, e->ino), 1);
	}
}

void mmapfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct inode *node = mmapfs_inode(req, ino);
	int fd, res;

	if (fs->no_open) {
		/* From now on the kernel opens files without asking. */
		mmapfs_reply_err(req, -ENOSYS);
		return;
	}
	if (S_ISLNK(node->type)) {
		mmapfs_reply_err(req, -ELOOP);
		return;
	}
	/* The file shrinks inside open(): no mapping may outlive that. */
	if (fi->flags & O_TRUNC)
		mapcache_invalidate(fs->maps, &node->id);
	fd = open_backing(fs, node, fi->flags);
	res = fd < 0 ? fd : open_file_new(fs, node, fd, fi);
	if (res < 0)
		mmapfs_reply_err(req, res);
	else
		reply_open(req, fi, NULL);
}

void mmapfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct inode *dir = mmapfs_inode(req, parent);
	struct fuse_entry_param e;
	struct creds_saved saved;
	int fd, res;

	res = creds_become(req, &saved);
	if (res < 0) {
		mmapfs_reply_err(req, res);
		return;
	}
	fd = create_backing(dir->fd, name, fi->flags,
			    O_CREAT | O_NOFOLLOW | (fi->flags & O_EXCL), mode);
	res = fd < 0 ? fd : 0;
	creds_restore(&saved);
	if (res == 0)
		res = mmapfs_do_lookup(req, dir, name, &e);
	if (res < 0) {
		if (fd >= 0)
			close(fd);
		mmapfs_reply_err(req, res);
		return;
	}
	res = open_file_new(fs, mmapfs_inode(req, e.ino), fd, fi);
	if (res < 0) {
		inode_forget(fs->inodes, mmapfs_inode(req, e.ino), 1);
		mmapfs_reply_err(req, res);
		return;
	}
	reply_open(req, fi, &e);
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
	/* The last name went while the file was open: now nobody has it. */
	if (fstat(fh->fd, &st) == 0 && st.st_nlink == 0)
		mapcache_invalidate(fs->maps, &fh->node->id);
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
	struct open_file tmp, *fh = file_of(req, ino, fi, &tmp);
	int fd = file_fd(mmapfs_of(req), fh);
	int res = fd < 0 ? fd : (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? -errno : 0;

	file_done(fh, &tmp);
	mmapfs_reply_err(req, res);
}

void mmapfs_op_write_buf(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_bufvec *in, off_t off,
			 struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	struct open_file tmp, *fh = file_of(req, ino, fi, &tmp);
	ssize_t res;

	/* (Without an open, on a read-only mount: the kernel refuses
	 * writes first; a read-only descriptor would refuse them too.) */
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = file_fd(mmapfs_of(req), fh);
	out.buf[0].pos = off;
	res = out.buf[0].fd < 0 ? out.buf[0].fd : fuse_buf_copy(&out, in, 0);
	file_done(fh, &tmp);
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
	struct open_file tmp, *fh = file_of(req, ino, fi, &tmp);
	int fd = file_fd(mmapfs_of(req), fh);
	int res;

	g_atomic_int_inc(&fh->node->data_gen);
	/* Collapsing a range shrinks the file under its mapping. */
	if (mode & FALLOC_FL_COLLAPSE_RANGE)
		mapcache_invalidate(mmapfs_of(req)->maps, &fh->node->id);
	res = fd < 0 ? fd : fallocate(fd, mode, offset, length) < 0 ? -errno : 0;
	file_done(fh, &tmp);
	mmapfs_reply_err(req, res);
}

void mmapfs_op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
			       off_t off_in, struct fuse_file_info *fi_in,
			       fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len,
			       int flags)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct open_file tmp_in, *in = file_of(req, ino_in, fi_in, &tmp_in);
	struct open_file tmp_out, *out = file_of(req, ino_out, fi_out, &tmp_out);
	int fd_in = file_fd(fs, in), fd_out = file_fd(fs, out);
	ssize_t n;

	g_atomic_int_inc(&out->node->data_gen);
	if (fd_in < 0 || fd_out < 0)
		n = fd_in < 0 ? fd_in : fd_out;
	else if ((n = copy_file_range(fd_in, &off_in, fd_out, &off_out, len,
				      (unsigned)flags)) < 0)
		n = -errno;
	file_done(in, &tmp_in);
	file_done(out, &tmp_out);
	if (n < 0)
		mmapfs_reply_err(req, (int)n);
	else
		fuse_reply_write(req, (size_t)n);
}

void mmapfs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct open_file tmp, *fh = file_of(req, ino, fi, &tmp);
	int fd = file_fd(mmapfs_of(req), fh);
	off_t res = fd;

	if (fd >= 0 && (res = lseek(fd, off, whence)) < 0)
		res = -errno;
	file_done(fh, &tmp);
	if (res < 0)
		mmapfs_reply_err(req, (int)res);
	else
		fuse_reply_lseek(req, res);
}

/* Frees a thread's read buffer when the thread exits. */
static GPrivate read_buffer_key = G_PRIVATE_INIT(g_free);

struct read_buffer {
	size_t size;
	char data[];
};

/* This thread's buffer for reads from a descriptor, at least size bytes. */
static char *read_buffer(size_t size)
{
	struct read_buffer *b = g_private_get(&read_buffer_key);

	if (!b || b->size < size) {
		b = g_malloc(sizeof(*b) + size);
		b->size = size;
		g_private_replace(&read_buffer_key, b);
	}
	return b->data;
}

/*
 * Answers a read from the backing descriptor.  We pread() into a buffer of
 * our own rather than hand libfuse the descriptor (fuse_reply_data): with
 * libfuse 3.14 that path answered whole pages of zeros, now and then, to
 * reads racing a truncation of the backing file, which pread() never does.
 */
static void read_fd(fuse_req_t req, struct open_file *fh, size_t size,
		    off_t off)
{
	char *buf = read_buffer(size);
	int fd = file_fd(mmapfs_of(req), fh);
	ssize_t n = fd < 0 ? fd : pread(fd, buf, size, off);

	if (n < 0) {
		mmapfs_reply_err(req, fd < 0 ? fd : -errno);
		return;
	}
	stats_add(&mmapfs_of(req)->stats.bytes_from_pread, (guint64)n);
	fuse_reply_buf(req, buf, n);
}

/* Offset of the first byte of the mapping's last page. */
static uint64_t last_page_start(const struct mmapfs *fs,
				const struct mapcache_map *m)
{
	return (m->len - 1) & ~(uint64_t)(fs->page_size - 1);
}

/*
 * Returns a pinned mapping to read [off, off + size) from, or NULL when the
 * read must go to the descriptor.  When the read touches the mapping's last
 * page, the mapping returned has the file's current size.
 */
static struct mapcache_map *map_for_read(struct mmapfs *fs,
					 struct open_file *fh, size_t size,
					 off_t off)
{
	struct mapcache_map *m = mapcache_lookup(fs->maps, &fh->node->id);
	struct stat st;
	int fd, res;

	if (m && (uint64_t)off + size <= last_page_start(fs, m))
		return m;
	fd = file_fd(fs, fh);
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (m)
			mapcache_put(fs->maps, m);
		return NULL;
	}
	if (m && (off_t)m->len == st.st_size)
		return m;
	if (m)
		mapcache_put(fs->maps, m);
	res = mapcache_get(fs->maps, &fh->node->id, fd, &st, &m);
	if (res == 0)
		return m;
	if (res == -ENODEV) {
		/* This filesystem cannot map files: stop trying. */
		g_atomic_int_set(&fh->node->read_by_fd, 1);
		log_debug("cannot map inode %lu: %s", (unsigned long)st.st_ino,
			  g_strerror(-res));
	} else if (res != -EFBIG && res != -ENOSPC) {
		/* mmap() refused (vm.max_map_count, address space): pread
		 * serves the read; said once, not once per read. */
		static gint warned;

		if (!g_atomic_int_exchange(&warned, 1))
			log_warn("cannot map inode %lu: %s: reading with pread "
				 "meanwhile (said once; see map_failures in the stats)",
				 (unsigned long)st.st_ino, g_strerror(-res));
	}
	return NULL;
}

/* A file shrank under its mapping m (pinned by the caller). */
static void file_shrank(struct mmapfs *fs, struct open_file *fh,
			struct mapcache_map *m)
{
	mapcache_invalidate_map(fs->maps, m);
	inode_read_by_fd(fh->node);
}

static void read_file(fuse_req_t req, fuse_ino_t ino, struct open_file *fh,
		      size_t size, off_t off)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct mapcache_map *m = NULL;
	struct push_job *job;
	size_t n, probe;
	int res;

	if (fs->cache != MMAPFS_CACHE_NONE &&
	    !g_atomic_int_get(&fh->node->read_by_fd))
		m = map_for_read(fs, fh, size, off);
	if (!m) {
		read_fd(req, fh, size, off);
		return;
	}
	if ((uint64_t)off >= m->len) {
		mapcache_put(fs->maps, m);
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	n = MIN(size, m->len - (size_t)off);
	/* The read's pages, and the first byte of the next page if mapped. */
	probe = MIN(m->len - (size_t)off,
		    ROUND_UP((size_t)off + n, fs->page_size) + 1 - (size_t)off);
	if (safecopy_probe(m->addr + off, probe) < probe) {
		/* The file shrank under the mapping: answer with what the
		 * file holds now, and read it from the descriptor from now on. */
		file_shrank(fs, fh, m);
		mapcache_put(fs->maps, m);
		read_fd(req, fh, size, off);
		return;
	}
	stats_add(&fs->stats.bytes_from_maps, n);
	/* A random miss in the kernel's cache: let it have the window. */
	job = fs->pusher ? pusher_prepare(fs->pusher, ino, fh->node, m, off, n) : NULL;
	res = fuse_reply_buf(req, m->addr + off, n);
	/* From here on the reader may have closed the file: fh (unless it
	 * is the caller's tmp) and its node may be gone.  Only m (pinned),
	 * the job (held) and a tmp of the caller's are ours. */
	if (res == -EFAULT) {
		/* Shrank between probe and reply; the kernel answered EIO.
		 * The next read maps the file again, and its probe marks
		 * the inode read_by_fd. */
		mapcache_invalidate_map(fs->maps, m);
		log_info("backing file of inode %lu shrank during a reply: mapping dropped",
			 (unsigned long)m->key.ino);
		if (job)
			pusher_cancel(fs->pusher, job);
	} else if (job) {
		pusher_submit(fs->pusher, job);
	}
	mapcache_put(fs->maps, m);
}

void mmapfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct open_file tmp, *fh = file_of(req, ino, fi, &tmp);

	read_file(req, ino, fh, size, off);
	file_done(fh, &tmp);
}
