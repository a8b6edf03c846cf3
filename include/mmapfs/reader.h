/*
 * reader.h - the read engine: how one read request is answered.
 *
 * reader_plan() decides, for a read of size bytes at off in a file, whether
 * it is answered straight from the file's mapping (a pinned range of the
 * mapping cache, handed to the kernel without a copy of ours) or with
 * pread, and keeps the promise that no answer holds a byte past the file's
 * current end:
 *   - a read that touches the mapping's last page checks the file's size
 *     (fstat): a file that grew or shrank is mapped again at its new size.
 *     Where reopens take kept descriptors (fds: a network or FUSE source),
 *     the size is the one kept with the file's descriptor while that is
 *     good (filedata_kept_attrs(): within the window, no call to the
 *     source at all); a read that comes without an open of ours (a
 *     read-only mount's) takes the kept descriptor as an open would, and
 *     keeps the one it had to open itself: a page the kernel let go and
 *     asks for again costs the network no open and no stat;
 *   - any other read probes its pages, and one byte of the page after them,
 *     under the SIGBUS guard (safecopy.h): a page gone means the file
 *     shrank, so the mapping is dropped, the file is read with pread from
 *     then on (filedata.h), and this read too.
 * The probe cannot close the last window, between the probe and the
 * kernel's copy out of the mapping: a file that shrinks in that instant
 * makes the kernel's copy fail, the kernel answers that read with EIO, and
 * the caller reports it with reader_reply_failed().
 *
 * Everything the mapping cache cannot serve goes to pread: empty files,
 * files larger than max_mapped, files whose filesystem cannot map, reads
 * while the budget is all pinned, cache=none, and files marked to be read
 * with pread.  cache=none promises each read the file as it is at that
 * instant, and only the kernel's own read checks the size and copies under
 * the same page lock: a mapping read racing a truncation could copy the
 * zeroed tail of the page the new end falls in (measured: 1,000
 * truncations under readers), or fail with EIO.
 *
 * The engine knows nothing of FUSE: the handler (ops_file.c) turns a plan
 * into a reply.  Thread-safe; a plan is the calling thread's until
 * reader_done().
 */
#ifndef MMAPFS_READER_H
#define MMAPFS_READER_H

#include <stdbool.h>
#include <sys/types.h>

#include "mmapfs/fdcache.h"
#include "mmapfs/inode.h"
#include "mmapfs/mapcache.h"

struct reader {
	struct inode_table *inodes;
	struct mapcache *maps;
	struct fdcache *fds;    /* kept descriptors, or NULL (see above) */
	size_t page_size;
	bool pread_only;        /* cache=none: every read with pread */
};

enum reader_how {
	READER_MAP,     /* answer len bytes at data, from map */
	READER_PREAD,   /* answer with reader_pread() */
};

struct reader_plan {
	enum reader_how how;
	struct mapcache_map *map;   /* READER_MAP: pinned until reader_done() */
	const char *data;           /* READER_MAP: map->addr + off */
	size_t len;                 /* READER_MAP: 0 at or past the end */
};

/* Plans the read of size bytes at off in f (see above). */
void reader_plan(struct reader *r, struct inode_file *f, size_t size,
		 off_t off, struct reader_plan *out);

/*
 * Reads with pread into this thread's buffer (valid until its next call);
 * *data points at the bytes.  Returns their count or -errno.
 */
ssize_t reader_pread(struct reader *r, struct inode_file *f, size_t size,
		     off_t off, const char **data);

/*
 * The kernel could not copy a READER_MAP plan out of the mapping (the file
 * shrank after the probe): the mapping is dropped; the next read maps the
 * file again and its probe marks it for pread.  Only the plan is used: the
 * reply was sent, and the file's node may be gone since (the reader saw
 * EIO, closed the file, and the kernel forgot it).
 */
void reader_reply_failed(struct reader *r, struct reader_plan *p);

/* Puts back what a plan pinned. */
void reader_done(struct reader *r, struct reader_plan *p);

#endif
