/*
 * ops_dir.c - directories: opendir, readdir, readdirplus, fsyncdir,
 * releasedir.
 *
 * A directory handle wraps a DIR stream of the backing directory.  FUSE
 * offsets are the backing filesystem's d_off cookies, so a reader that comes
 * back with an offset resumes with seekdir().
 *
 * A listing read with READDIRPLUS (each entry looked up) is read ahead:
 * after each such request (with readdirplus=always, where every request
 * is one; else from the second in a row), the daemon, having replied,
 * looks up as many entries again as it just sent, while the
 * kernel and the program work through the reply, so that a walk's lookups
 * and its program's work overlap (two CPUs instead of one taking turns).
 * The next request takes those lookups only if nothing was changed
 * since they were made, through the mount or outside it as the watcher
 * tells the kernel (mmapfs_changes()), and they are younger than
 * AHEAD_FRESH_US; else it looks the entries up again.  (An invalidation
 * the kernel gets after it sent the request makes it drop what the reply
 * says of that inode: its attribute version moved.)  With
 * readdirplus=adaptive, `ls`,
 * whose kernel asks for plain READDIR after the first request, never
 * pays for a lookup made ahead.
 * The kernel sends one readdir at a time on an open directory, but its
 * next may come while the read-ahead of the last one runs: the handle's
 * lock orders them.
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
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "mmapfs/ops.h"

/* Lookups made ahead are taken within this long (and no change since). */
#define AHEAD_FRESH_US (200 * 1000)

/* One entry read from the backing directory and not yet sent. */
struct dir_entry {
	off_t off;                  /* its d_off: where the next one starts */
	ino_t ino;
	unsigned char type;         /* d_type */
	bool probed;                /* looked up ahead: probe_err, probe */
	int probe_err;              /* 0, or what that lookup got */
	struct inode_probe probe;   /* held when probed and probe_err is 0 */
	const char *name;           /* short, or a longer one (a FUSE source
				     * may list names of up to 1024 bytes) */
	/* Of one size whatever the name's length: entries come and go
	 * between a walk's long-lived nodes, and chunks of mixed sizes left
	 * holes that grew a 1,000,000-entry walk's daemon by 7 MB. */
	char short_name[NAME_MAX + 1];
};

struct dir_handle {
	struct inode *node;      /* held by the kernel while it is open */
	pthread_mutex_t lock;    /* guards the rest (see the top of the file) */
	DIR *dp;                 /* NULL until first needed */
	off_t offset;            /* where the first of ahead starts, as a FUSE
				  * offset (where dp stands if ahead is empty) */
	GQueue ahead;            /* struct dir_entry: read from dp, not yet sent */
	unsigned plus_run;       /* READDIRPLUS requests in a row */
	guint64 probed_changes;  /* mmapfs_changes() before the lookups in
				  * ahead were made */
	gint64 probed_at;        /* and the monotonic time, in us */
};

/* Forgets ent's lookup made ahead, if any. */
static void dir_entry_unprobe(struct dir_entry *ent)
{
	if (ent->probed && !ent->probe_err)
		inode_probe_clear(&ent->probe);
	ent->probed = false;
}

static void dir_entry_free(struct dir_entry *ent)
{
	dir_entry_unprobe(ent);
	if (ent->name != ent->short_name)
		g_free((char *)ent->name);
	g_free(ent);
}

static void dir_ahead_clear(struct dir_handle *d)
{
	struct dir_entry *ent;

	while ((ent = g_queue_pop_head(&d->ahead)))
		dir_entry_free(ent);
}

static void dir_handle_free(struct dir_handle *d)
{
	dir_ahead_clear(d);
	if (d->dp)
		closedir(d->dp);
	pthread_mutex_destroy(&d->lock);
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
	pthread_mutex_init(&d->lock, NULL);
	g_queue_init(&d->ahead);
	/* Where the kernel may answer from its listing, the directory is
	 * opened when it asks for entries. */
	res = kept ? 0 : dir_open(req, d);
	if (res < 0) {
		dir_handle_free(d);
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
 * Reads one more entry from dp, and queues it at the end of d->ahead.
 * NULL at the end, with errno 0, or on an error, with errno set.
 */
static struct dir_entry *read_entry(struct dir_handle *d)
{
	struct dir_entry *ent;
	struct dirent *de;
	size_t len;

	errno = 0;
	de = readdir(d->dp);
	if (!de)
		return NULL;
	len = strlen(de->d_name);
	ent = g_new0(struct dir_entry, 1);
	ent->off = de->d_off;
	ent->ino = de->d_ino;
	ent->type = de->d_type;
	if (len < sizeof(ent->short_name)) {
		memcpy(ent->short_name, de->d_name, len + 1);
		ent->name = ent->short_name;
	} else {
		ent->name = g_strdup(de->d_name);
	}
	g_queue_push_tail(&d->ahead, ent);
	return ent;
}

/* The next entry of d's listing to send: the first of d->ahead, or one
 * read now.  NULL as read_entry(). */
static struct dir_entry *next_entry(struct dir_handle *d)
{
	struct dir_entry *ent = g_queue_peek_head(&d->ahead);

	return ent ? ent : read_entry(d);
}

/*
 * Adds ent to buf, at most rem bytes, taking its lookup made ahead if
 * fresh says it is still good.  Returns the bytes the entry takes (more
 * than rem when it does not fit, and then nothing is added and nothing
 * taken), or a negative errno.  With plus, a small regular file's push
 * job (see pusher.h) is added to pushes (room for one per entry).
 */
static ssize_t add_entry(fuse_req_t req, struct inode *dir, bool plus,
			 struct dir_entry *ent, bool fresh, char *buf, size_t rem,
			 struct push_list *pushes)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct fuse_entry_param e;
	size_t n;
	int res;

	if (!plus) {
		struct stat st = {
			.st_ino = ent->ino,
			.st_mode = (mode_t)ent->type << 12,
		};
		return fuse_add_direntry(req, buf, rem, ent->name, &st, ent->off);
	}
	/* Its size depends on its name only. */
	n = fuse_add_direntry_plus(req, NULL, 0, ent->name, NULL, 0);
	if (n > rem)
		return n;
	if (is_dot_or_dotdot(ent->name)) {
		/* ino 0: the kernel makes no dentry for these. */
		memset(&e, 0, sizeof(e));
		e.attr.st_ino = ent->ino;
		e.attr.st_mode = (mode_t)ent->type << 12;
		return fuse_add_direntry_plus(req, buf, rem, ent->name, &e,
					      ent->off);
	}
	/* A lookup made ahead that failed otherwise than for a name gone
	 * (descriptors short, say) is made again. */
	if (ent->probed && fresh &&
	    (ent->probe_err == 0 || ent->probe_err == -ENOENT)) {
		ent->probed = false;
		res = ent->probe_err;
		if (res == 0)
			mmapfs_entry_of_probe(req, dir, ent->name, &ent->probe, &e);
		stats_add(&fs->stats.lookups_ahead, 1);
	} else {
		dir_entry_unprobe(ent);
		res = mmapfs_do_lookup(req, dir, ent->name, &e);
	}
	if (res < 0)
		return res;
	n = fuse_add_direntry_plus(req, buf, rem, ent->name, &e, ent->off);
	if (fs->pusher && S_ISREG(e.attr.st_mode)) {
		struct push_job *job = pusher_prepare_file(
			fs->pusher, e.ino, mmapfs_inode(req, e.ino), &e.attr);

		if (job)
			pushes->jobs[pushes->n++] = job;
	}
	return n;
}

/* Looks up ahead the next count entries of d's listing (see the top of
 * the file).  After the reply: no request to use. */
static void read_ahead(struct mmapfs *fs, struct dir_handle *d, size_t count)
{
	d->probed_changes = mmapfs_changes(fs);
	d->probed_at = g_get_monotonic_time();
	for (GList *l = d->ahead.head; count > 0; count--) {
		struct dir_entry *ent;

		if (l) {
			ent = l->data;
			l = l->next;
		} else {
			ent = read_entry(d);
			if (!ent)
				return;
		}
		dir_entry_unprobe(ent);
		ent->probed = !is_dot_or_dotdot(ent->name);
		if (ent->probed)
			ent->probe_err = inode_probe(fs->inodes, d->node, ent->name,
						     false, &ent->probe);
	}
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
	size_t rem = size, sent = 0;
	bool fresh, end = false;
	int err;

	pthread_mutex_lock(&d->lock);
	err = dir_open(req, d);
	if (err < 0) {
		pthread_mutex_unlock(&d->lock);
		mmapfs_reply_err(req, err);
		g_free(pushes.jobs);
		return;
	}
	if (off != d->offset) {
		dir_ahead_clear(d);
		seekdir(d->dp, off);
		d->offset = off;
		d->plus_run = 0;
	}
	d->plus_run = plus ? d->plus_run + 1 : 0;
	fresh = d->probed_changes == mmapfs_changes(fs) &&
		g_get_monotonic_time() - d->probed_at < AHEAD_FRESH_US;
	for (;;) {
		struct dir_entry *ent = next_entry(d);
		ssize_t n;

		if (!ent) {
			err = -errno;
			end = true;
			break;
		}
		n = add_entry(req, dir, plus, ent, fresh, buf + (size - rem), rem,
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
		sent++;
		d->offset = ent->off;
		dir_entry_free(g_queue_pop_head(&d->ahead));
	}
	if (err && rem == size)
		mmapfs_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	/* After the reply: the kernel has made the inodes to store into. */
	for (size_t i = 0; i < pushes.n; i++)
		pusher_submit(fs->pusher, pushes.jobs[i]);
	g_free(pushes.jobs);
	/* With readdirplus=always every request is a READDIRPLUS; else the
	 * kernel's second in a row says it goes on so. */
	if (plus && (fs->readdirplus == MMAPFS_PLUS_ALWAYS || d->plus_run >= 2) &&
	    !err && !end)
		read_ahead(fs, d, sent);
	pthread_mutex_unlock(&d->lock);
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
	int res;

	pthread_mutex_lock(&d->lock);
	res = dir_open(req, d);
	if (res == 0 && (datasync ? fdatasync(dirfd(d->dp)) : fsync(dirfd(d->dp))) < 0)
		res = -errno;
	pthread_mutex_unlock(&d->lock);
	mmapfs_reply_err(req, res);
}

void mmapfs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct dir_handle *d = dir_handle_of(fi);

	/* Once a read-ahead still running is done. */
	pthread_mutex_lock(&d->lock);
	pthread_mutex_unlock(&d->lock);
	mmapfs_handle_untrack(mmapfs_of(req), d);
	dir_handle_free(d);
	fuse_reply_err(req, 0);
}
