/*
 * passthrough.c - see include/mmapfs/passthrough.h.
 *
 * The kernel ABI used here is newer than the headers of Debian 12 (linux
 * 6.1's <linux/fuse.h>, protocol 7.38): what 7.40 added for opens and
 * backing files is defined below, with the layout the kernel reads.
 */
#include <errno.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mmapfs/log.h"
#include "mmapfs/passthrough.h"
#include "mmapfs/stats.h"

/* FUSE_DEV_IOC_BACKING_OPEN's argument (7.40). */
struct pt_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

#define PT_IOC_MAGIC 229
#define PT_IOC_BACKING_OPEN _IOW(PT_IOC_MAGIC, 1, struct pt_backing_map)
#define PT_IOC_BACKING_CLOSE _IOW(PT_IOC_MAGIC, 2, uint32_t)

#ifndef FOPEN_PASSTHROUGH
#define FOPEN_PASSTHROUGH (1 << 7)              /* open flags, 7.40 */
#endif

/* FUSE_OPEN's reply as 7.40 has it: the padding became the backing id. */
struct pt_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};
G_STATIC_ASSERT(sizeof(struct pt_open_out) == sizeof(struct fuse_open_out));

/* The passthrough state of one inode, while it has opens of ours. */
struct pt_node {
	int backing_id;         /* > 0 while passthrough opens exist */
	unsigned passthrough;   /* its passthrough opens */
	unsigned cached;        /* its cached opens */
};

/* Why registrations failed, each said once. */
#define PT_REASONS 8

struct passthrough {
	enum mmapfs_passthrough asked;          /* immutable */
	gint mode;              /* enum mmapfs_passthrough in force (atomic) */
	int dev_fd;             /* the device, for the ioctls; set before
				 * the loop starts (passthrough_set_device) */

	pthread_mutex_t lock;
	GHashTable *nodes;      /* struct inode * -> struct pt_node; protected
				 * by lock */
	int said[PT_REASONS];   /* errnos said already; protected by lock */

	guint64 opens, live, fallbacks;    /* (atomic) */
};

struct passthrough *passthrough_new(enum mmapfs_passthrough mode)
{
	struct passthrough *pt = g_new0(struct passthrough, 1);

	pt->asked = mode;
	pt->mode = MMAPFS_PT_OFF;
	pt->dev_fd = -1;
	pthread_mutex_init(&pt->lock, NULL);
	pt->nodes = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	return pt;
}

void passthrough_free(struct passthrough *pt)
{
	if (!pt)
		return;
	/* The session (and with it every backing id) is gone by now. */
	g_hash_table_unref(pt->nodes);
	pthread_mutex_destroy(&pt->lock);
	g_free(pt);
}

/* Asks the kernel whether passthrough is on: it checks that before the
 * descriptor, so an invalid one tells (EBADF: on; EPERM: off). */
static int probe(int dev_fd)
{
	struct pt_backing_map map = { .fd = -1 };

	return ioctl(dev_fd, PT_IOC_BACKING_OPEN, &map) < 0 ? -errno : 0;
}

static const char *mode_name(enum mmapfs_passthrough m)
{
	return m == MMAPFS_PT_RO ? "every file opened for reading"
	       : m == MMAPFS_PT_RW ? "every open file"
	       : "every file opened for writing, or of at least "
		 G_STRINGIFY(MMAPFS_PT_AUTO_MIN_KIB) " KiB when opened,";
}

void passthrough_set_device(struct passthrough *pt, int dev_fd)
{
	pt->dev_fd = dev_fd;
}

void passthrough_replied(void *data, int dev_fd)
{
	struct passthrough *pt = data;
	enum mmapfs_passthrough mode = g_atomic_int_get(&pt->mode);
	int res;

	if (mode == MMAPFS_PT_OFF)
		return;
	res = probe(dev_fd);
	if (res == -EBADF) {
		log_info("passthrough: %s is handed to its backing file by the "
			 "kernel (reads, writes and mmap reach neither the daemon "
			 "nor its mappings)", mode_name(mode));
		return;
	}
	g_atomic_int_set(&pt->mode, MMAPFS_PT_OFF);
	mmapfs_log(pt->asked == MMAPFS_PT_AUTO ? MMAPFS_LOG_INFO : MMAPFS_LOG_WARN,
		   "passthrough: off, every file is read through the mapping "
		   "path: the kernel refused it (%s)", g_strerror(-res));
}

void passthrough_negotiate(struct passthrough *pt, enum mmapfs_passthrough mode)
{
	g_atomic_int_set(&pt->mode, mode);
}

enum mmapfs_passthrough passthrough_mode(const struct passthrough *pt)
{
	return g_atomic_int_get(&pt->mode);
}

/*
 * Whether the mode would make this open passthrough.  Never a file with
 * set-ID bits that a write may clear: the kernel writes to a backing file
 * with the daemon's credentials, which keep them, and with
 * FUSE_HANDLE_KILLPRIV_V2 leaves clearing them to the daemon's writes.
 */
static bool mode_wants(enum mmapfs_passthrough mode, bool writable,
		       const struct stat *st)
{
	if ((st->st_mode & S_ISUID) ||
	    (st->st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		return false;
	return mode == MMAPFS_PT_RW || (mode == MMAPFS_PT_RO && !writable) ||
	       (mode == MMAPFS_PT_AUTO && (writable || st->st_size >= PASSTHROUGH_AUTO_MIN));
}

/* A registration failed with e: said once per errno (under pt->lock). */
static void refused(struct passthrough *pt, int e)
{
	for (int i = 0; i < PT_REASONS; i++) {
		if (pt->said[i] == e)
			return;
		if (pt->said[i] == 0) {
			pt->said[i] = e;
			log_info("passthrough: a file is served through the mapping "
				 "path instead: the kernel refused its backing file "
				 "(%s%s; said once)", g_strerror(e),
				 e == ELOOP ? ": the source is a stacked filesystem" : "");
			return;
		}
	}
}

int passthrough_open(struct passthrough *pt, struct inode *node, int fd,
		     bool writable, const struct stat *st)
{
	enum mmapfs_passthrough mode = g_atomic_int_get(&pt->mode);
	struct pt_backing_map map = { .fd = fd };
	struct pt_node *n;
	int id = 0;

	if (mode == MMAPFS_PT_OFF)
		return 0;
	pthread_mutex_lock(&pt->lock);
	n = g_hash_table_lookup(pt->nodes, node);
	if (!n) {
		n = g_new0(struct pt_node, 1);
		g_hash_table_insert(pt->nodes, node, n);
	}
	if (n->passthrough) {
		id = n->backing_id;
	} else if (mode_wants(mode, writable, st)) {
		if (n->cached) {
			stats_add(&pt->fallbacks, 1);
		} else if ((id = ioctl(pt->dev_fd, PT_IOC_BACKING_OPEN, &map)) > 0) {
			n->backing_id = id;
			stats_add(&pt->live, 1);
		} else {
			int e = id < 0 ? errno : EPROTO;

			id = 0;
			stats_add(&pt->fallbacks, 1);
			refused(pt, e);
		}
	}
	if (id) {
		n->passthrough++;
		stats_add(&pt->opens, 1);
	} else {
		n->cached++;
	}
	pthread_mutex_unlock(&pt->lock);
	return id;
}

void passthrough_release(struct passthrough *pt, struct inode *node,
			 bool passthrough)
{
	struct pt_node *n;
	uint32_t close_id = 0;

	pthread_mutex_lock(&pt->lock);
	n = g_hash_table_lookup(pt->nodes, node);
	if (n && passthrough && n->passthrough && --n->passthrough == 0) {
		close_id = (uint32_t)n->backing_id;
		n->backing_id = 0;
	} else if (n && !passthrough && n->cached) {
		n->cached--;
	}
	if (n && !n->passthrough && !n->cached)
		g_hash_table_remove(pt->nodes, node);
	pthread_mutex_unlock(&pt->lock);
	if (close_id) {
		if (ioctl(pt->dev_fd, PT_IOC_BACKING_CLOSE, &close_id) < 0)
			log_debug("passthrough: cannot give back backing id %u: %s",
				  close_id, g_strerror(errno));
		__atomic_fetch_sub(&pt->live, 1, __ATOMIC_RELAXED);
	}
}

void passthrough_counts(struct passthrough *pt, guint64 *opens,
			guint64 *backing_live, guint64 *fallbacks)
{
	*opens = __atomic_load_n(&pt->opens, __ATOMIC_RELAXED);
	*backing_live = __atomic_load_n(&pt->live, __ATOMIC_RELAXED);
	*fallbacks = __atomic_load_n(&pt->fallbacks, __ATOMIC_RELAXED);
}

/* A timeout in seconds as the kernel takes it (libfuse clamps alike). */
static void split_timeout(double t, uint64_t *sec, uint32_t *nsec)
{
	if (t <= 0) {
		*sec = 0;
		*nsec = 0;
		return;
	}
	if (t >= (double)UINT64_MAX) {
		*sec = UINT64_MAX;
		*nsec = 0;
		return;
	}
	*sec = (uint64_t)t;
	*nsec = (uint32_t)((t - (double)*sec) * 1e9);
	if (*nsec >= 1000000000u)
		*nsec = 999999999u;
}

static void fill_attr(struct fuse_attr *a, const struct stat *st)
{
	*a = (struct fuse_attr){
		.ino = st->st_ino, .mode = st->st_mode, .nlink = (uint32_t)st->st_nlink,
		.uid = st->st_uid, .gid = st->st_gid, .rdev = (uint32_t)st->st_rdev,
		.size = (uint64_t)st->st_size, .blksize = (uint32_t)st->st_blksize,
		.blocks = (uint64_t)st->st_blocks,
		.atime = (uint64_t)st->st_atim.tv_sec, .atimensec = (uint32_t)st->st_atim.tv_nsec,
		.mtime = (uint64_t)st->st_mtim.tv_sec, .mtimensec = (uint32_t)st->st_mtim.tv_nsec,
		.ctime = (uint64_t)st->st_ctim.tv_sec, .ctimensec = (uint32_t)st->st_ctim.tv_nsec,
	};
}

int passthrough_reply_open(fuse_req_t req, const struct fuse_file_info *fi,
			   int backing_id, const struct fuse_entry_param *e)
{
	struct pt_open_out open = {
		.fh = fi->fh,
		.open_flags = FOPEN_PASSTHROUGH | (fi->noflush ? FOPEN_NOFLUSH : 0),
		.backing_id = backing_id,
	};
	struct fuse_entry_out entry;
	struct iovec iov[2];
	int n = 0;

	if (e) {
		entry = (struct fuse_entry_out){ .nodeid = e->ino, .generation = e->generation };
		split_timeout(e->entry_timeout, &entry.entry_valid, &entry.entry_valid_nsec);
		split_timeout(e->attr_timeout, &entry.attr_valid, &entry.attr_valid_nsec);
		fill_attr(&entry.attr, &e->attr);
		iov[n++] = (struct iovec){ &entry, sizeof(entry) };
	}
	iov[n++] = (struct iovec){ &open, sizeof(open) };
	return fuse_reply_iov(req, iov, n);
}
