/*
 * watcher.c - see include/mmapfs/watcher.h.
 *
 * DESIGN: a watch is one marked directory, found by its backing inode
 * (by_dir, for the node hooks) and by what its events carry (by_event: the
 * fanotify file handle, or the inotify watch descriptor).  A watch counts
 * the nodes of its directory that exist (refs): the mark goes with the last.
 * An event names a watch; the watch gives the directory's (dev, ino); the
 * inode table gives the node, held while the event is handled, or nothing
 * when the kernel forgot the directory meanwhile.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "mmapfs/log.h"
#include "mmapfs/watcher.h"

#define FAN_MASK (FAN_MODIFY | FAN_ATTRIB | FAN_CLOSE_WRITE | FAN_CREATE | \
		  FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ONDIR | \
		  FAN_EVENT_ON_CHILD)
#define FAN_ENTRY_EVENTS (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO)
#define IN_MASK (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | \
		 IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)
#define IN_ENTRY_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)

/* What an event means to us, whichever backend reported it. */
enum {
	EV_ENTRY = 1,       /* a name in the directory came, went or moved */
};

struct watch {
	struct devino dir;
	unsigned refs;      /* nodes of this directory that exist */
	int wd;             /* inotify watch, or -1 */
	GBytes *key;        /* fanotify: fsid + handle type + handle, or NULL */
};

struct watcher {
	enum watcher_kind kind;     /* immutable: FANOTIFY or INOTIFY */
	int fd;                     /* the backend's queue; immutable */
	int stop_fd;                /* eventfd: the thread's stop signal */
	struct inode_table *inodes;
	struct mapcache *maps;
	struct fuse_session *se;    /* set by watcher_start() */
	GThread *thread;

	pthread_mutex_t lock;
	GHashTable *by_dir;         /* devino -> watch; protected by lock */
	GHashTable *by_event;       /* key or wd -> watch; protected by lock */
	gint warned;                /* (atomic) a mark failed once */

	guint64 handled, own;       /* (atomic) events acted upon, skipped */
};

struct fs_name {
	long magic;
	const char *name;
};

/* Filesystems whose files other machines (or another daemon) change. */
static const struct fs_name blind_filesystems[] = {
	{ 0x6969, "nfs" },
	{ 0x517b, "smb" },
	{ 0xfe534d42, "smb2" },
	{ 0xff534d42, "cifs" },
	{ 0x65735546, "fuse" },
	{ 0x00c36400, "ceph" },
	{ 0x01021997, "9p" },
	{ 0x5346414f, "afs" },
	{ 0x6b414653, "afs" },
	{ 0x73757245, "coda" },
	{ 0x01161970, "gfs2" },
	{ 0x7461636f, "ocfs2" },
	{ 0x0bd00bd0, "lustre" },
	{ 0x47504653, "gpfs" },
	{ 0x19830326, "orangefs" },
	{ 0x786f4256, "vboxsf" },
};

const char *watcher_blind_fs(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return NULL;
	for (size_t i = 0; i < G_N_ELEMENTS(blind_filesystems); i++)
		if ((unsigned long)sf.f_type == (unsigned long)blind_filesystems[i].magic)
			return blind_filesystems[i].name;
	return NULL;
}

static int fanotify_open(void)
{
	unsigned flags = FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_REPORT_DFID_NAME;
	/* Unbounded queue and marks need CAP_SYS_ADMIN. */
	int fd = fanotify_init(flags | FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS,
			       O_RDONLY);

	if (fd < 0 && errno == EPERM)
		fd = fanotify_init(flags, O_RDONLY);
	return fd;
}

const char *watcher_available(void)
{
	int fd = fanotify_open();

	if (fd >= 0) {
		close(fd);
		return "fanotify";
	}
	fd = inotify_init1(IN_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return "inotify";
	}
	return NULL;
}

const char *watcher_name(const struct watcher *w)
{
	return w->kind == WATCHER_FANOTIFY ? "fanotify" : "inotify";
}

/* The bytes a fanotify event identifies directory dirfd by. */
static GBytes *fanotify_key(int dirfd)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;
	struct statfs sf;
	GByteArray *key;
	int mount_id;

	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(dirfd, "", &h.fh, &mount_id, AT_EMPTY_PATH) < 0 ||
	    fstatfs(dirfd, &sf) < 0)
		return NULL;
	key = g_byte_array_new();
	g_byte_array_append(key, (const guint8 *)&sf.f_fsid, sizeof(sf.f_fsid));
	g_byte_array_append(key, (const guint8 *)&h.fh.handle_type,
			    sizeof(h.fh.handle_type));
	g_byte_array_append(key, h.fh.f_handle, h.fh.handle_bytes);
	return g_byte_array_free_to_bytes(key);
}

/* Marks dir; 0 or a negative errno.  Called with w->lock held. */
static int mark_add(struct watcher *w, struct watch *wa, const struct inode *dir)
{
	char path[PROC_FD_PATH_MAX];

	proc_fd_path(dir->fd, path);
	if (w->kind == WATCHER_INOTIFY) {
		wa->wd = inotify_add_watch(w->fd, path, IN_MASK);
		if (wa->wd < 0)
			return -errno;
		g_hash_table_insert(w->by_event, GINT_TO_POINTER(wa->wd), wa);
		return 0;
	}
	wa->key = fanotify_key(dir->fd);
	if (!wa->key)
		return -errno;
	if (fanotify_mark(w->fd, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FAN_MASK,
			  AT_FDCWD, path) < 0) {
		int e = errno;

		g_clear_pointer(&wa->key, g_bytes_unref);
		return -e;
	}
	g_hash_table_insert(w->by_event, wa->key, wa);
	return 0;
}

/* Removes dir's mark.  Called with w->lock held. */
static void mark_remove(struct watcher *w, struct watch *wa,
			const struct inode *dir)
{
	char path[PROC_FD_PATH_MAX];

	if (wa->wd >= 0) {
		g_hash_table_remove(w->by_event, GINT_TO_POINTER(wa->wd));
		inotify_rm_watch(w->fd, wa->wd);
	}
	if (wa->key) {
		g_hash_table_remove(w->by_event, wa->key);
		proc_fd_path(dir->fd, path);
		fanotify_mark(w->fd, FAN_MARK_REMOVE | FAN_MARK_ONLYDIR, FAN_MASK,
			      AT_FDCWD, path);
	}
}

static void watch_free(struct watch *wa)
{
	if (wa->key)
		g_bytes_unref(wa->key);
	g_free(wa);
}

/* Counts one more node of dir, marking it if it is the first. */
static int watch_add(struct watcher *w, struct inode *dir)
{
	struct watch *wa;
	int res = 0;

	pthread_mutex_lock(&w->lock);
	wa = g_hash_table_lookup(w->by_dir, &dir->id);
	if (wa) {
		wa->refs++;
	} else {
		wa = g_new0(struct watch, 1);
		wa->dir = dir->id;
		wa->refs = 1;
		wa->wd = -1;
		g_hash_table_insert(w->by_dir, &wa->dir, wa);
		res = mark_add(w, wa, dir);
	}
	pthread_mutex_unlock(&w->lock);
	return res;
}

static void dir_added(void *data, struct inode *dir)
{
	struct watcher *w = data;
	int res = watch_add(w, dir);

	/* Once: a filesystem that refuses one mark refuses them all. */
	if (res < 0 && !g_atomic_int_exchange(&w->warned, 1))
		log_warn("cannot watch directory inode %lu (%s): changes made in it "
			 "outside the mount show only after the timeout",
			 (unsigned long)dir->id.ino, g_strerror(-res));
}

static void dir_removed(void *data, struct inode *dir)
{
	struct watcher *w = data;
	struct watch *wa;

	pthread_mutex_lock(&w->lock);
	wa = g_hash_table_lookup(w->by_dir, &dir->id);
	if (wa && --wa->refs == 0) {
		mark_remove(w, wa, dir);
		g_hash_table_remove(w->by_dir, &wa->dir);
		watch_free(wa);
	}
	pthread_mutex_unlock(&w->lock);
}

/* The directory an event's watch stands for; false if it is gone. */
static bool watch_dir(struct watcher *w, gconstpointer event_key,
		      struct devino *out)
{
	struct watch *wa;

	pthread_mutex_lock(&w->lock);
	wa = g_hash_table_lookup(w->by_event, event_key);
	if (wa)
		*out = wa->dir;
	pthread_mutex_unlock(&w->lock);
	return wa != NULL;
}

static void inval_inode(struct watcher *w, struct inode *node)
{
	fuse_lowlevel_notify_inval_inode(w->se, inode_id(w->inodes, node), 0, 0);
}

/* node's data or attributes changed behind the kernel's back (st: now). */
static void file_changed(struct watcher *w, struct inode *node,
			 const struct stat *st, unsigned what)
{
	/* inotify cannot tell our own writes from others': the kernel's copy
	 * of a file open for writing through the mount is the newest. */
	if (w->kind == WATCHER_INOTIFY && !(what & EV_ENTRY) &&
	    g_atomic_int_get(&node->writers))
		return;
	g_atomic_int_inc(&node->data_gen);
	/* Shrunk behind a mapping: from now on this file is read with pread,
	 * which races with truncation as natively as can be (a read from the
	 * mapping could meet a page gone, and the kernel would answer EIO). */
	if (S_ISREG(node->type) && mapcache_revalidate(w->maps, &node->id, st))
		inode_read_by_fd(node);
	inval_inode(w, node);
}

/* One event: name changed in the watched directory dir_id (NULL name: the
 * directory itself). */
static void handle_event(struct watcher *w, const struct devino *dir_id,
			 const char *name, unsigned what)
{
	struct inode *dir = inode_table_find(w->inodes, dir_id);
	struct inode *child;
	struct stat st;

	if (!dir)
		return;         /* the kernel forgot it: it caches nothing */
	__atomic_fetch_add(&w->handled, 1, __ATOMIC_RELAXED);
	if (!name) {
		inval_inode(w, dir);
		goto out;
	}
	if (what & EV_ENTRY) {
		fuse_lowlevel_notify_inval_entry(w->se, inode_id(w->inodes, dir),
						 name, strlen(name));
		inval_inode(w, dir);
	}
	/* The inode behind the name now: changed, or one more link of it. */
	if (fstatat(dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		struct devino id = devino_of(&st);

		child = inode_table_find(w->inodes, &id);
		if (child) {
			file_changed(w, child, &st, what);
			inode_unhold(w->inodes, child);
		}
	}
out:
	inode_unhold(w->inodes, dir);
}

/* Events were lost: everything the kernel knows may be stale. */
static void overflowed(struct watcher *w)
{
	GPtrArray *all = inode_table_hold_all(w->inodes);

	log_warn("%s: events were lost: invalidating all %u known inodes",
		 watcher_name(w), all->len);
	mapcache_drop_all(w->maps);
	for (guint i = 0; i < all->len; i++) {
		struct inode *node = all->pdata[i];

		g_atomic_int_inc(&node->data_gen);
		inval_inode(w, node);
		inode_unhold(w->inodes, node);
	}
	g_ptr_array_free(all, TRUE);
}

/*
 * Records in a fanotify buffer are 4-byte aligned only (FANOTIFY_EVENT_ALIGN):
 * each header is copied out before it is read.
 */
static void read_fanotify(struct watcher *w, const char *buf, ssize_t len)
{
	pid_t self = getpid();

	for (ssize_t at = 0; len - at >= (ssize_t)FAN_EVENT_METADATA_LEN;) {
		struct fanotify_event_metadata m;
		struct fanotify_event_info_header h;
		const char *fid = NULL, *end, *fsid, *handle, *name;
		struct file_handle fh;
		struct devino dir;
		GByteArray *k;
		GBytes *key;
		bool known;

		memcpy(&m, buf + at, sizeof(m));
		if (m.event_len < FAN_EVENT_METADATA_LEN || m.event_len > len - at)
			break;
		end = buf + at + m.event_len;
		for (const char *p = buf + at + m.metadata_len;
		     end - p >= (ssize_t)sizeof(h); p += h.len) {
			memcpy(&h, p, sizeof(h));
			if (h.len < sizeof(h) || h.len > end - p)
				break;
			if (h.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME)
				fid = p;
		}
		at += m.event_len;
		if (m.mask & FAN_Q_OVERFLOW) {
			overflowed(w);
			continue;
		}
		if (m.pid == self) {
			__atomic_fetch_add(&w->own, 1, __ATOMIC_RELAXED);
			continue;
		}
		/* The record: header, fsid, struct file_handle, the handle's
		 * bytes, the name. */
		if (!fid)
			continue;
		fsid = fid + offsetof(struct fanotify_event_info_fid, fsid);
		handle = fid + offsetof(struct fanotify_event_info_fid, handle);
		memcpy(&fh, handle, sizeof(fh));
		name = handle + sizeof(fh) + fh.handle_bytes;
		if (name >= end)
			continue;
		k = g_byte_array_new();
		g_byte_array_append(k, (const guint8 *)fsid, sizeof(__kernel_fsid_t));
		g_byte_array_append(k, (const guint8 *)&fh.handle_type,
				    sizeof(fh.handle_type));
		g_byte_array_append(k, (const guint8 *)handle + sizeof(fh),
				    fh.handle_bytes);
		key = g_byte_array_free_to_bytes(k);
		known = watch_dir(w, key, &dir);
		g_bytes_unref(key);
		if (known)
			handle_event(w, &dir, strcmp(name, ".") ? name : NULL,
				     m.mask & FAN_ENTRY_EVENTS ? EV_ENTRY : 0);
	}
}

static void read_inotify(struct watcher *w, const char *buf, ssize_t len)
{
	const struct inotify_event *ev;

	for (const char *p = buf; p < buf + len; p += sizeof(*ev) + ev->len) {
		struct devino dir;

		ev = (const void *)p;
		if (ev->mask & IN_Q_OVERFLOW) {
			overflowed(w);
			continue;
		}
		if (!watch_dir(w, GINT_TO_POINTER(ev->wd), &dir))
			continue;
		handle_event(w, &dir, ev->len ? ev->name : NULL,
			     ev->mask & IN_ENTRY_EVENTS ? EV_ENTRY : 0);
	}
}

static gpointer watcher_main(gpointer data)
{
	struct watcher *w = data;
	/* Aligned for both backends' event structures. */
	static _Thread_local union {
		struct fanotify_event_metadata m;
		struct inotify_event i;
		char bytes[64 * 1024];
	} buf;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = w->fd, .events = POLLIN },
			{ .fd = w->stop_fd, .events = POLLIN },
		};
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("%s: poll failed: %s", watcher_name(w),
				  g_strerror(errno));
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		n = read(w->fd, buf.bytes, sizeof(buf.bytes));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_error("%s: cannot read events: %s", watcher_name(w),
				  g_strerror(errno));
			return NULL;
		}
		if (w->kind == WATCHER_FANOTIFY)
			read_fanotify(w, buf.bytes, n);
		else
			read_inotify(w, buf.bytes, n);
	}
}

static guint watch_key_hash(gconstpointer k)
{
	return g_bytes_hash(k);
}

/* Opens kind's queue and marks the root; NULL with *res set on failure. */
static struct watcher *watcher_open(enum watcher_kind kind,
				    struct inode_table *inodes,
				    struct mapcache *maps, int *res)
{
	struct watcher *w;
	int fd = kind == WATCHER_FANOTIFY ? fanotify_open()
					  : inotify_init1(IN_CLOEXEC);

	if (fd < 0) {
		*res = -errno;
		return NULL;
	}
	w = g_new0(struct watcher, 1);
	w->kind = kind;
	w->fd = fd;
	w->stop_fd = eventfd(0, EFD_CLOEXEC);
	w->inodes = inodes;
	w->maps = maps;
	pthread_mutex_init(&w->lock, NULL);
	w->by_dir = g_hash_table_new(devino_hash, devino_equal);
	if (kind == WATCHER_FANOTIFY)
		w->by_event = g_hash_table_new(watch_key_hash, g_bytes_equal);
	else
		w->by_event = g_hash_table_new(NULL, NULL);
	/* Without the root's mark nothing is watched. */
	*res = w->stop_fd < 0 ? -errno : watch_add(w, inode_table_root(inodes));
	if (*res < 0) {
		watcher_free(w);
		return NULL;
	}
	return w;
}

struct watcher *watcher_new(enum watcher_kind kind, struct inode_table *inodes,
			    struct mapcache *maps, GError **error)
{
	struct watcher *w = NULL;
	int res = 0, fan_res = 0;

	if (kind != WATCHER_INOTIFY) {
		w = watcher_open(WATCHER_FANOTIFY, inodes, maps, &fan_res);
		res = fan_res;
	}
	if (!w && kind != WATCHER_FANOTIFY)
		w = watcher_open(WATCHER_INOTIFY, inodes, maps, &res);
	if (!w) {
		if (kind == WATCHER_AUTO)
			g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(-res),
				    "neither fanotify (%s) nor inotify (%s) can watch the source",
				    g_strerror(-fan_res), g_strerror(-res));
		else
			g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(-res),
				    "%s cannot watch the source: %s",
				    kind == WATCHER_FANOTIFY ? "fanotify" : "inotify",
				    g_strerror(-res));
		return NULL;
	}
	inode_table_set_dir_watch(inodes, &(struct inode_dir_watch){
		.added = dir_added, .removed = dir_removed, .data = w });
	return w;
}

void watcher_start(struct watcher *w, struct fuse_session *se)
{
	w->se = se;
	w->thread = g_thread_new("watcher", watcher_main, w);
}

void watcher_free(struct watcher *w)
{
	GHashTableIter it;
	gpointer value;

	if (!w)
		return;
	if (w->thread) {
		eventfd_write(w->stop_fd, 1);
		g_thread_join(w->thread);
	}
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	inode_table_set_dir_watch(w->inodes, NULL);
	g_hash_table_iter_init(&it, w->by_dir);
	while (g_hash_table_iter_next(&it, NULL, &value))
		watch_free(value);
	g_hash_table_destroy(w->by_dir);
	g_hash_table_destroy(w->by_event);
	pthread_mutex_destroy(&w->lock);
	close(w->fd);       /* removes every mark */
	g_free(w);
}

void watcher_counts(struct watcher *w, guint64 *handled, guint64 *own)
{
	*handled = __atomic_load_n(&w->handled, __ATOMIC_RELAXED);
	*own = __atomic_load_n(&w->own, __ATOMIC_RELAXED);
}
