/*
 * ops_file.c - file data: open, release, read.
 *
 * DESIGN: read() answers from the mapping cache.  The fast path is one
 * mapcache_lookup() (a hash lookup and a pin), a probe of the pages under the
 * SIGBUS guard, and fuse_reply_buf() pointing straight into the mapping: the
 * kernel copies the bytes from our mapping into the reader's buffer, and we
 * copy nothing.  fstat() is called only when the read reaches past the end
 * of the mapping, to notice a file that grew (it is mapped again) or shrank.
 * Everything the cache cannot serve goes to read_fd(), which lets libfuse
 * read (or splice) from the backing descriptor: empty files, files larger
 * than max_mapped, files whose filesystem cannot mmap, and any read while
 * the budget is full of pinned mappings.
 *
 * A file that shrinks behind our back is caught by the probe, which says
 * how much of the range still exists: the mapping is dropped and the read is
 * answered from the descriptor, so the reader sees what the file holds now.
 * If the file shrinks in the instant between the probe and the reply, the
 * kernel's copy fails, the kernel answers that read with EIO, and the
 * mapping is dropped too.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "mmapfs/log.h"
#include "mmapfs/ops.h"
#include "mmapfs/safecopy.h"

struct open_file {
	int fd;                     /* the backing file, opened for this open */
	struct mapcache_key key;
	gint mappable;              /* (atomic) 0 once mmap was refused */
};

static struct open_file *open_file_of(struct fuse_file_info *fi)
{
	return (struct open_file *)(uintptr_t)fi->fh;
}

void mmapfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct inode *node = mmapfs_inode(req, ino);
	char path[INODE_PROC_PATH_MAX];
	struct open_file *fh;
	struct stat st;
	int fd, flags;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		mmapfs_reply_err(req, -EROFS);
		return;
	}
	if (S_ISLNK(node->type)) {
		mmapfs_reply_err(req, -ELOOP);
		return;
	}
	/* Reads come from the mapping or through libfuse's buffer, so
	 * O_DIRECT's alignment rules must not reach the backing file. */
	flags = fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_DIRECT);
	inode_proc_path(node, path);
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0) {
		mmapfs_reply_err(req, -errno);
		return;
	}
	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		mmapfs_reply_err(req, -e);
		return;
	}
	fh = g_new0(struct open_file, 1);
	fh->fd = fd;
	fh->key = (struct mapcache_key){ .dev = st.st_dev, .ino = st.st_ino };
	fh->mappable = S_ISREG(st.st_mode);
	if (fh->mappable)
		mapcache_revalidate(fs->maps, &fh->key, &st);

	fi->fh = (uintptr_t)fh;
	if (fuse_reply_open(req, fi) < 0) {
		close(fh->fd);
		g_free(fh);
	}
}

void mmapfs_op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct open_file *fh = open_file_of(fi);

	close(fh->fd);
	g_free(fh);
	fuse_reply_err(req, 0);
}

/* Answers a read from the backing descriptor, through libfuse's buffer. */
static void read_fd(fuse_req_t req, struct open_file *fh, size_t size,
		    off_t off)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fh->fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

/*
 * Returns a pinned mapping that reflects the file's current size whenever
 * [off, off + size) reaches past the cached mapping, or NULL when the read
 * must go to the descriptor.
 */
static struct mapcache_map *map_for_read(struct mmapfs *fs,
					 struct open_file *fh, size_t size,
					 off_t off)
{
	struct mapcache_map *m = mapcache_lookup(fs->maps, &fh->key);
	struct stat st;
	int res;

	if (m && (uint64_t)off + size <= m->len)
		return m;
	if (fstat(fh->fd, &st) < 0) {
		if (m)
			mapcache_put(fs->maps, m);
		return NULL;
	}
	if (m && (off_t)m->len == st.st_size)
		return m;       /* a read that reaches the end of the file */
	if (m)
		mapcache_put(fs->maps, m);
	res = mapcache_get(fs->maps, &fh->key, fh->fd, &st, &m);
	if (res == 0)
		return m;
	if (res != -EFBIG && res != -ENOSPC) {
		/* This filesystem (or this file) cannot be mapped: stop trying. */
		g_atomic_int_set(&fh->mappable, 0);
		log_debug("cannot map inode %lu: %s", (unsigned long)st.st_ino,
			  g_strerror(-res));
	}
	return NULL;
}

void mmapfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct open_file *fh = open_file_of(fi);
	struct mapcache_map *m = NULL;
	size_t n;

	if (g_atomic_int_get(&fh->mappable))
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
	if (safecopy_probe(m->addr + off, n) < n) {
		/* The file shrank under the mapping: forget the mapping and
		 * answer with what the file holds now. */
		mapcache_invalidate_map(fs->maps, m);
		mapcache_put(fs->maps, m);
		log_info("backing file shrank under its mapping (inode %lu): mapping dropped",
			 (unsigned long)fh->key.ino);
		read_fd(req, fh, size, off);
		return;
	}
	if (fuse_reply_buf(req, m->addr + off, n) == -EFAULT) {
		/* Shrank between probe and reply; the kernel answered EIO. */
		mapcache_invalidate_map(fs->maps, m);
		log_info("backing file shrank during a read (inode %lu): mapping dropped",
			 (unsigned long)fh->key.ino);
	}
	mapcache_put(fs->maps, m);
}
