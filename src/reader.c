/*
 * reader.c - see include/mmapfs/reader.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmapfs/filedata.h"
#include "mmapfs/log.h"
#include "mmapfs/reader.h"
#include "mmapfs/safecopy.h"

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

ssize_t reader_pread(struct reader *r, struct inode_file *f, size_t size,
		     off_t off, const char **data)
{
	char *buf = read_buffer(size);
	int fd = inode_file_fd(r->inodes, f);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = pread(fd, buf, size, off);
	if (n < 0)
		return -errno;
	*data = buf;
	return n;
}

/* node's path for a log line (g_free it). */
static char *path_of(struct reader *r, struct inode *node)
{
	char *path = inode_path(r->inodes, node);

	return path ? path : g_strdup_printf("inode %lu", (unsigned long)node->id.ino);
}

/* Logs, once per daemon, that mmap() was refused (not once per read). */
static void map_refused(struct reader *r, struct inode *node, int res)
{
	static gint warned;

	if (!g_atomic_int_exchange(&warned, 1)) {
		g_autofree char *path = path_of(r, node);

		log_warn("cannot map '%s': %s: reading with pread meanwhile "
			 "(said once; see map_failures in the stats)", path,
			 g_strerror(-res));
	}
}

/*
 * A descriptor of f's file and its attributes (*st), or -errno.  Where
 * descriptors are kept, the attributes are what was kept, if still good
 * (filedata_kept_attrs()); and a read without an open of ours takes the
 * kept descriptor, *kept then a reference to it (the caller gives it
 * back), or else opens the file and keeps it (see reader.h).
 */
static int file_fd_and_size(struct reader *r, struct inode_file *f, struct stat *st,
			    struct fdcache_fd **kept)
{
	bool ours = f->fd < 0 && r->fds;
	int gen = filedata_generation(f->node);
	int fd;

	*kept = NULL;
	if (r->fds && f->fd >= 0 && filedata_kept_attrs(r->fds, r->inodes, f->node, st))
		return f->fd;
	if (ours && (*kept = filedata_reopen(r->fds, r->inodes, f->node, st)))
		return (*kept)->fd;
	fd = inode_file_fd(r->inodes, f);
	if (fd < 0)
		return fd;
	if (fstat(fd, st) < 0)
		return -errno;
	if (ours && f->own_fd && S_ISREG(st->st_mode))
		fdcache_keep(r->fds, &f->node->id, fd, st, gen);
	return fd;
}

/*
 * A pinned mapping to read [off, off + size) from, or NULL when the read
 * must go to pread.  When the read touches the mapping's last page, the
 * mapping returned has the file's current size: m, the mapping found, if
 * it still has; fd is a descriptor of the file, st its attributes.
 */
static struct mapcache_map *map_current(struct reader *r, struct inode_file *f,
					struct mapcache_map *m, int fd,
					const struct stat *st)
{
	int res;

	/* Deleted (outside, or while open): no mapping keeps its space. */
	if (filedata_seen(r->maps, f->node, st)) {
		if (m)
			mapcache_put(r->maps, m);
		return NULL;
	}
	if (m && (off_t)m->len == st->st_size)
		return m;
	if (m)
		mapcache_put(r->maps, m);
	res = mapcache_get(r->maps, &f->node->id, fd, st, &m);
	if (res == 0)
		return m;
	if (res == -ENODEV && filedata_use_pread(f->node)) {
		g_autofree char *path = path_of(r, f->node);

		log_debug("cannot map '%s': reading it with pread", path);
	} else if (res != -ENODEV && res != -EFBIG && res != -ENOSPC) {
		map_refused(r, f->node, res);
	}
	return NULL;
}

/* The mapping to read [off, off + size) from (see map_current()). */
static struct mapcache_map *map_for_read(struct reader *r, struct inode_file *f,
					 size_t size, off_t off)
{
	struct mapcache_map *m = mapcache_lookup(r->maps, &f->node->id);
	struct fdcache_fd *kept;
	struct stat st;
	int fd;

	if (m && (uint64_t)off + size <= mapcache_last_page_start(r->maps, m))
		return m;
	fd = file_fd_and_size(r, f, &st, &kept);
	if (fd < 0) {
		if (m)
			mapcache_put(r->maps, m);
		return NULL;
	}
	m = map_current(r, f, m, fd, &st);
	if (kept)
		fdcache_fd_unref(kept);
	return m;
}

void reader_plan(struct reader *r, struct inode_file *f, size_t size,
		 off_t off, struct reader_plan *out)
{
	size_t page = r->page_size;
	struct mapcache_map *m = NULL;
	size_t n, end, probe;

	*out = (struct reader_plan){ .how = READER_PREAD };
	if (!r->pread_only && !filedata_reads_by_pread(f->node))
		m = map_for_read(r, f, size, off);
	if (!m)
		return;
	if ((uint64_t)off >= m->len) {
		*out = (struct reader_plan){ .how = READER_MAP, .map = m,
					     .data = m->addr };
		return;
	}
	n = MIN(size, m->len - (size_t)off);
	/* The read's pages, and the first byte of the next page if mapped. */
	end = ((size_t)off + n + page - 1) & ~(page - 1);
	probe = MIN(m->len - (size_t)off, end + 1 - (size_t)off);
	if (safecopy_probe(m->addr + off, probe) < probe) {
		/* The file shrank under the mapping: answer with what the
		 * file holds now. */
		if (filedata_shrank_under(r->maps, f->node, m)) {
			g_autofree char *path = path_of(r, f->node);

			log_info("'%s' shrank under its mapping: reading it with "
				 "pread from now on", path);
		}
		mapcache_put(r->maps, m);
		return;
	}
	*out = (struct reader_plan){ .how = READER_MAP, .map = m,
				     .data = m->addr + off, .len = n };
}

void reader_reply_failed(struct reader *r, struct reader_plan *p)
{
	log_info("inode %lu (dev %lu) shrank during a reply: mapping dropped",
		 (unsigned long)p->map->key.ino, (unsigned long)p->map->key.dev);
	filedata_shrank_during_reply(r->maps, p->map);
}

void reader_done(struct reader *r, struct reader_plan *p)
{
	if (p->map)
		mapcache_put(r->maps, p->map);
	p->map = NULL;
}
