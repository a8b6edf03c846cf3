/*
 * watcher.c - see include/mmapfs/watcher.h.
 *
 * DESIGN: a watch is one marked directory, found by its backing inode
 * (by_dir, for the node hooks) and by the key its events carry (by_key;
 * the backend chooses the key: watch_backend.h).  A watch counts the nodes
 * of its directory that exist (refs): the mark goes with the last.  An
 * event names a key; the watch gives the directory's (dev, ino); the inode
 * table gives the node, held while the event is handled, or nothing when
 * the kernel forgot the directory meanwhile.  What a file's change means
 * for its mapping and for the pusher is the file-data protocol's
 * (filedata.h); what it means for the kernel's caches is decided here.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmapfs/filedata.h"
#include "mmapfs/log.h"
#include "mmapfs/watch_backend.h"
#include "mmapfs/watcher.h"

struct watch {
	struct devino dir;
	unsigned refs;      /* nodes of this directory that exist */
	GBytes *key;        /* what its events carry, or NULL: not marked */
};

struct watcher {
	const struct watch_backend *backend;  /* immutable */
	int fd;                     /* the backend's queue; immutable */
	void *state;                /* the queue's marks; protected by lock */
	int stop_fd;                /* eventfd: the thread's stop signal */
	struct inode_table *inodes;
	struct mapcache *maps;
	struct fuse_session *se;    /* set by watcher_start() */
	bool kernel_sizes;          /* set by watcher_start(): -o writeback */
	GThread *thread;
	/* The watcher thread's, with kernel_sizes: regular files changed
	 * outside, to be handled once more at replay_at (see replay()). */
	GArray *replays;            /* of struct replay */
	gint64 replay_at;           /* monotonic, us */
	bool replaying;

	pthread_mutex_t lock;
	GHashTable *by_dir;         /* devino -> watch; protected by lock */
	GHashTable *by_key;         /* key -> watch; protected by lock */
	gint warned;                /* (atomic) a mark failed once */

	guint64 handled, own;       /* (atomic) events acted upon, skipped */
	guint64 changes;            /* (atomic) raised before an event's, or
				     * an overflow's, invalidations are sent:
				     * watcher_changes() */
	bool sweep;                 /* the watcher thread's: a name went */
	/* The watcher thread's, for the batch read last: events about
	 * changes from outside, about the daemon's own (told by pid, or,
	 * without pids, a file open for writing through the mount), and
	 * about directories the kernel does not know (with a mark on a
	 * whole filesystem: most of them outside SOURCE). */
	unsigned batch_outside, batch_own, batch_other;
	/* The watcher thread's: events about unknown directories in the
	 * second that began at other_since; whether the marks were moved to
	 * each directory (watch_each_dir()). */
	unsigned other;
	gint64 other_since;
	bool each_dir;
};

/*
 * Events a second about directories the kernel does not know past which
 * a watcher with whole filesystems marked marks each directory instead:
 * those events come from elsewhere on the filesystem, and each was paid
 * for by its writer (4 KiB writes outside SOURCE took 1.4 to 1.6 x as
 * long).  A quiet filesystem sends a few a second; one writer, merged by
 * the kernel while a batch waits, up to 1000 / WATCH_BATCH_MS.
 */
#define WATCH_OTHER_PER_S 100

const char *watcher_available(void)
{
	static const struct watch_backend *const order[] = {
		&watch_fanotify, &watch_inotify,
	};

	for (size_t i = 0; i < G_N_ELEMENTS(order); i++) {
		void *state;
		int fd = order[i]->open(&state);

		if (fd >= 0) {
			order[i]->close(fd, state);
			return order[i]->name;
		}
	}
	return NULL;
}

const char *watcher_name(const struct watcher *w)
{
	return w->backend->name;
}

const char *watcher_marks(struct watcher *w)
{
	const char *marks;

	pthread_mutex_lock(&w->lock);
	marks = w->backend->marks(w->state);
	pthread_mutex_unlock(&w->lock);
	return marks;
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
	int fd = inode_fd(w->inodes, dir);
	int res = fd < 0 ? fd : 0;

	pthread_mutex_lock(&w->lock);
	wa = g_hash_table_lookup(w->by_dir, &dir->id);
	if (wa) {
		wa->refs++;
	} else {
		wa = g_new0(struct watch, 1);
		wa->dir = dir->id;
		wa->refs = 1;
		g_hash_table_insert(w->by_dir, &wa->dir, wa);
		if (fd >= 0)
			wa->key = w->backend->mark(w->fd, w->state, fd, &res);
		if (wa->key)
			g_hash_table_insert(w->by_key, wa->key, wa);
	}
	pthread_mutex_unlock(&w->lock);
	inode_fd_put(w->inodes, dir, fd);
	return res;
}

static void dir_added(void *data, struct inode *dir)
{
	struct watcher *w = data;
	int res = watch_add(w, dir);

	/* Once: a filesystem that refuses one mark refuses them all. */
	if (res < 0 && !g_atomic_int_exchange(&w->warned, 1)) {
		g_autofree char *path = inode_path(w->inodes, dir);

		log_warn("cannot watch directory '%s' (%s): changes made in it "
			 "outside the mount show only after the timeout",
			 path ? path : "?", g_strerror(-res));
	}
}

static void dir_removed(void *data, struct inode *dir)
{
	struct watcher *w = data;
	struct watch *wa;
	/* A directory that is gone took its fanotify mark with it (and
	 * inotify's unmark needs no descriptor): fd may be an error. */
	int fd = inode_fd(w->inodes, dir);

	pthread_mutex_lock(&w->lock);
	wa = g_hash_table_lookup(w->by_dir, &dir->id);
	if (wa && --wa->refs == 0) {
		if (wa->key) {
			g_hash_table_remove(w->by_key, wa->key);
			w->backend->unmark(w->fd, w->state, fd, wa->key);
		}
		g_hash_table_remove(w->by_dir, &wa->dir);
		watch_free(wa);
	}
	pthread_mutex_unlock(&w->lock);
	inode_fd_put(w->inodes, dir, fd);
}

/* The directory an event's key stands for; false if it is gone. */
static bool watch_dir(struct watcher *w, GBytes *key, struct devino *out)
{
	struct watch *wa;

	pthread_mutex_lock(&w->lock);
	wa = g_hash_table_lookup(w->by_key, key);
	if (wa)
		*out = wa->dir;
	pthread_mutex_unlock(&w->lock);
	return wa != NULL;
}

static void inval_inode(struct watcher *w, struct inode *node)
{
	fuse_lowlevel_notify_inval_inode(w->se, inode_id(w->inodes, node), 0, 0);
}

/* node's data or attributes changed behind the kernel's back (st: now).
 * Returns false when the change is taken for our own (nothing done). */
static bool file_changed(struct watcher *w, struct inode *node,
			 const struct stat *st, unsigned what)
{
	/* An attribute change may be a capability given (setcap). */
	__atomic_store_n(&node->no_caps, 0, __ATOMIC_RELAXED);
	/* Without pids our own writes come too: the kernel's copy of a file
	 * open for writing through the mount is the newest. */
	if (!w->backend->knows_pid && !(what & WATCH_EV_ENTRY) &&
	    filedata_has_writers(node)) {
		w->batch_own++;
		w->batch_outside--;
		return false;
	}
	if (filedata_changed_outside(w->maps, node, st)) {
		g_autofree char *path = inode_path(w->inodes, node);

		log_info("'%s' shrank under its mapping: reading it with pread "
			 "from now on", path ? path : "(a file with no name left)");
	}
	inval_inode(w, node);
	return true;
}

/*
 * With -o writeback the kernel keeps a regular file's size and mtime
 * itself, whatever the attributes we answer.  A file grown outside grows
 * in the kernel too (node's inode there, fd the file open for reading, st
 * the file now): its last byte, read from SOURCE, is stored into the
 * kernel's cache (a store grows the size to its end, and only a store of
 * some bytes).  Only when the file is larger than the size the kernel may
 * hold (filedata_kernel_lacks()): a store writes into the page as the
 * kernel holds it, and into one a reader filled while the file was empty
 * (zeros) the byte would leave a content the file never had, until the
 * next change (test_faults' churn under -o writeback, a file rewritten at
 * its own size, read such pages in 42 runs of 300 when every change
 * stored; none in 800 since).  The page is dropped just before and just
 * after the store, so that what is left of that (a grown file's page a
 * reader fills between the two) lasts only until the second drop.  (A
 * writer through the mount writing that very byte at that moment may see
 * it stored over: two writers of one byte, unordered.)
 */
static void grow_in_kernel(struct watcher *w, struct inode *node, int fd,
			   const struct stat *st)
{
	fuse_ino_t ino = inode_id(w->inodes, node);
	off_t at = st->st_size - 1;
	struct fuse_bufvec one = FUSE_BUFVEC_INIT(1);
	char last;

	if (st->st_size <= 0 || !filedata_kernel_lacks(node, st->st_size) ||
	    pread(fd, &last, 1, at) != 1)
		return;
	one.buf[0].mem = &last;
	fuse_lowlevel_notify_inval_inode(w->se, ino, at, 1);
	if (fuse_lowlevel_notify_store(w->se, ino, at, &one, 0) == 0) {
		filedata_kernel_grew(node, st->st_size);
		fuse_lowlevel_notify_inval_inode(w->se, ino, at, 1);
	}
}

/*
 * A regular file changed outside, with -o writeback (file_changed() true):
 * the kernel must forget it to learn its size and mtime again.  Grown in
 * the kernel if it grew, then its name in dir is invalidated, so that,
 * with no process holding it open, the kernel lets go of its inode and
 * looks it up afresh.  Nothing shrinks the size of a file held open: not
 * a store, nor, with a write-back cache, a read that came back short.
 */
static void kernel_sizes_stale(struct watcher *w, struct inode *node,
			       struct inode *dir, int dirfd, const char *name,
			       const struct stat *st)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0) {
		grow_in_kernel(w, node, fd, st);
		close(fd);
	}
	fuse_lowlevel_notify_inval_entry(w->se, inode_id(w->inodes, dir),
					 name, strlen(name));
}

void watcher_kernel_inode_unsized(struct watcher *w, struct inode *node)
{
	struct stat st;
	int fd;

	filedata_kernel_sized(node, 0);
	if (!w->kernel_sizes || !S_ISREG(inode_type(node)))
		return;
	fd = inode_open(w->inodes, node, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0)
		grow_in_kernel(w, node, fd, &st);
	close(fd);
}

/*
 * With -o writeback the kernel never corrects a regular file's size from
 * attributes, so a lookup that stat'ed the file before a change and whose
 * reply reached the kernel after the event was handled (the kernel had no
 * inode yet to invalidate or grow) would leave the old size, or a page the
 * kernel filled from the short file, for as long as it keeps the file.
 * Each such file is handled once more WATCH_REPLAY_MS later, when the
 * lookups in flight then have been answered.  (test_watch's 10,000
 * outside changes under -o writeback: without it 1 run in 65 left a change
 * unseen; with it none in 50.)
 */
#define WATCH_REPLAY_MS 10

struct replay {
	struct devino dir;
	char *name;
	unsigned what;
};

static void handle_event(struct watcher *w, const struct devino *dir_id,
			 const char *name, unsigned what);

static void replay_later(struct watcher *w, struct inode *dir, const char *name,
			 unsigned what)
{
	struct replay r = { .dir = dir->id, .what = what };

	if (w->replaying)
		return;
	r.name = g_strdup(name);
	if (!w->replays->len)
		w->replay_at = g_get_monotonic_time() + WATCH_REPLAY_MS * 1000;
	g_array_append_val(w->replays, r);
}

static void replay(struct watcher *w)
{
	GArray *due = w->replays;

	w->replays = g_array_new(FALSE, FALSE, sizeof(struct replay));
	w->replaying = true;
	for (guint i = 0; i < due->len; i++) {
		struct replay *r = &g_array_index(due, struct replay, i);

		handle_event(w, &r->dir, r->name, r->what);
		g_free(r->name);
	}
	w->replaying = false;
	g_array_free(due, TRUE);
}

/* Milliseconds until the replays are due (0: now), or -1: none waits. */
static int replay_wait_ms(const struct watcher *w)
{
	gint64 left;

	if (!w->replays->len)
		return -1;
	left = w->replay_at - g_get_monotonic_time();
	return left <= 0 ? 0 : (int)((left + 999) / 1000);
}

/* One event: name changed in the watched directory dir_id (NULL name: the
 * directory itself). */
static void handle_event(struct watcher *w, const struct devino *dir_id,
			 const char *name, unsigned what)
{
	struct inode *dir = inode_table_find(w->inodes, dir_id);
	struct inode *child;
	struct stat st;
	int dirfd, res;

	if (!dir)
		return;         /* the kernel forgot it: it caches nothing */
	__atomic_fetch_add(&w->changes, 1, __ATOMIC_RELEASE);
	if (!w->replaying)
		__atomic_fetch_add(&w->handled, 1, __ATOMIC_RELAXED);
	w->batch_outside++;
	if (!name) {
		inval_inode(w, dir);
		goto out;
	}
	if (what & WATCH_EV_ENTRY) {
		fuse_lowlevel_notify_inval_entry(w->se, inode_id(w->inodes, dir),
						 name, strlen(name));
		inval_inode(w, dir);
	}
	/* The inode behind the name now: changed, or one more link of it;
	 * or nothing, and the file it named may have lost its last name. */
	dirfd = inode_fd(w->inodes, dir);
	res = dirfd < 0 ? dirfd : fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (res < 0) {
		if (res == -ENOENT && (what & WATCH_EV_ENTRY))
			w->sweep = true;
	} else {
		struct devino id = devino_of(&st);

		child = inode_table_find(w->inodes, &id);
		if (child) {
			if (file_changed(w, child, &st, what) && w->kernel_sizes &&
			    S_ISREG(st.st_mode)) {
				kernel_sizes_stale(w, child, dir, dirfd, name, &st);
				replay_later(w, dir, name, what);
			}
			inode_unhold(w->inodes, child);
		}
	}
	inode_fd_put(w->inodes, dir, dirfd);
out:
	inode_unhold(w->inodes, dir);
}

static void on_event(void *data, GBytes *key, const char *name, unsigned what)
{
	struct watcher *w = data;
	struct devino dir;
	bool known = watch_dir(w, key, &dir);

	g_bytes_unref(key);
	if (known)
		handle_event(w, &dir, name, what);
	else
		w->batch_other++;
}

/* Events were lost: everything the kernel knows may be stale. */
static void on_overflow(void *data)
{
	struct watcher *w = data;
	GPtrArray *all = inode_table_hold_all(w->inodes);

	log_warn("%s: events were lost: invalidating all %u known inodes",
		 watcher_name(w), all->len);
	__atomic_fetch_add(&w->changes, 1, __ATOMIC_RELEASE);
	mapcache_drop_all(w->maps);
	for (guint i = 0; i < all->len; i++) {
		struct inode *node = all->pdata[i];

		filedata_changing(w->maps, node, false);
		inval_inode(w, node);
		inode_unhold(w->inodes, node);
	}
	g_ptr_array_free(all, TRUE);
}

static void on_own(void *data)
{
	struct watcher *w = data;

	__atomic_fetch_add(&w->own, 1, __ATOMIC_RELAXED);
	w->batch_own++;
}

/* How long events may wait in the queue before they are read, after a
 * batch of the daemon's own only. */
#define WATCH_BATCH_MS 5

/* From whole filesystems' marks to a mark on each directory the kernel
 * knows: first new marks are directories', then every known directory is
 * marked, then the filesystems' marks go (events meanwhile come once). */
static void watch_each_dir(struct watcher *w)
{
	g_autoptr(GArray) dirs = g_array_new(FALSE, FALSE, sizeof(struct devino));
	GHashTableIter it;
	gpointer value;
	bool moving;

	pthread_mutex_lock(&w->lock);
	moving = w->backend->per_dir_begin &&
		 w->backend->per_dir_begin(w->fd, w->state);
	g_hash_table_iter_init(&it, w->by_dir);
	while (moving && g_hash_table_iter_next(&it, NULL, &value))
		if (((struct watch *)value)->key)
			g_array_append_val(dirs, ((struct watch *)value)->dir);
	pthread_mutex_unlock(&w->lock);
	if (!moving)
		return;
	/* The table is called outside our lock, as watch_add() calls it. */
	for (guint i = 0; i < dirs->len; i++) {
		struct devino *id = &g_array_index(dirs, struct devino, i);
		struct inode *dir = inode_table_find(w->inodes, id);
		int fd;

		if (!dir)
			continue;
		fd = inode_fd(w->inodes, dir);
		pthread_mutex_lock(&w->lock);
		if (fd >= 0 && g_hash_table_lookup(w->by_dir, id))
			w->backend->mark_dir(w->fd, w->state, fd);
		pthread_mutex_unlock(&w->lock);
		inode_fd_put(w->inodes, dir, fd);
		inode_unhold(w->inodes, dir);
	}
	pthread_mutex_lock(&w->lock);
	w->backend->per_dir_end(w->fd, w->state);
	pthread_mutex_unlock(&w->lock);
	log_info("%s: %u events in a second from directories the mount does not "
		 "know (elsewhere on the source's filesystem): %u directories "
		 "marked each instead, so that writers there pay for no event",
		 watcher_name(w), w->other, dirs->len);
}

/* After a batch: whether events from elsewhere stream in. */
static void watch_count_other(struct watcher *w)
{
	gint64 now;

	if (w->each_dir || !w->batch_other)
		return;
	now = g_get_monotonic_time();
	if (now - w->other_since >= G_USEC_PER_SEC) {
		w->other_since = now;
		w->other = 0;
	}
	w->other += w->batch_other;
	if (w->other >= WATCH_OTHER_PER_S) {
		w->each_dir = true;
		watch_each_dir(w);
	}
}

static gpointer watcher_main(gpointer data)
{
	struct watcher *w = data;
	const struct watch_sink sink = {
		.event = on_event, .overflow = on_overflow, .own = on_own,
		.data = w,
	};
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
		int ready = poll(p, 2, replay_wait_ms(w));

		if (ready < 0) {
			if (errno == EINTR)
				continue;
			log_error("%s: poll failed: %s", watcher_name(w),
				  g_strerror(errno));
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		if (replay_wait_ms(w) == 0)
			replay(w);
		if (!ready)
			continue;
		/* While the daemon's own changes stream in (writes through
		 * the mount), let them gather: the kernel merges a process's
		 * repeated events on one file while they wait in the queue,
		 * so they cost one event a batch, not one a write (and so do
		 * writes elsewhere on a filesystem marked whole).  After a
		 * batch with a change from outside, read at once: outside
		 * changes wait at most this much, and only during such a
		 * stream. */
		if ((w->batch_own || w->batch_other) && !w->batch_outside &&
		    poll(&p[1], 1, WATCH_BATCH_MS) > 0)
			return NULL;
		w->batch_own = w->batch_outside = w->batch_other = 0;
		n = read(w->fd, buf.bytes, sizeof(buf.bytes));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_error("%s: cannot read events: %s", watcher_name(w),
				  g_strerror(errno));
			return NULL;
		}
		w->backend->parse(buf.bytes, (size_t)n, getpid(), &sink);
		watch_count_other(w);
		/* Once per batch: a rm -r outside costs one sweep per read. */
		if (w->sweep) {
			w->sweep = false;
			filedata_sweep_gone(w->maps, w->inodes);
		}
	}
}

/* Opens backend's queue and marks the root; NULL with *res set on failure. */
static struct watcher *watcher_open(const struct watch_backend *backend,
				    struct inode_table *inodes,
				    struct mapcache *maps, int *res)
{
	struct watcher *w;
	void *state;
	int fd = backend->open(&state);

	if (fd < 0) {
		*res = fd;
		return NULL;
	}
	w = g_new0(struct watcher, 1);
	w->replays = g_array_new(FALSE, FALSE, sizeof(struct replay));
	w->backend = backend;
	w->fd = fd;
	w->state = state;
	w->stop_fd = eventfd(0, EFD_CLOEXEC);
	w->inodes = inodes;
	w->maps = maps;
	pthread_mutex_init(&w->lock, NULL);
	w->by_dir = g_hash_table_new(devino_hash, devino_equal);
	w->by_key = g_hash_table_new(g_bytes_hash, g_bytes_equal);
	/* Without the root's mark nothing is watched. */
	*res = w->stop_fd < 0 ? -errno : watch_add(w, inode_table_root(inodes));
	if (*res < 0) {
		watcher_free(w);
		return NULL;
	}
	return w;
}

struct watcher *watcher_new(enum mmapfs_watcher kind, struct inode_table *inodes,
			    struct mapcache *maps, GError **error)
{
	struct watcher *w = NULL;
	int res = 0, fan_res = 0;

	if (kind != MMAPFS_WATCHER_INOTIFY) {
		w = watcher_open(&watch_fanotify, inodes, maps, &fan_res);
		res = fan_res;
	}
	if (!w && kind != MMAPFS_WATCHER_FANOTIFY)
		w = watcher_open(&watch_inotify, inodes, maps, &res);
	if (!w) {
		if (kind == MMAPFS_WATCHER_AUTO)
			g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(-res),
				    "neither fanotify (%s) nor inotify (%s) can watch the source",
				    g_strerror(-fan_res), g_strerror(-res));
		else
			g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(-res),
				    "%s cannot watch the source: %s",
				    mmapfs_watcher_name(kind), g_strerror(-res));
		return NULL;
	}
	inode_table_set_dir_watch(inodes, &(struct inode_dir_watch){
		.added = dir_added, .removed = dir_removed, .data = w });
	return w;
}

void watcher_start(struct watcher *w, struct fuse_session *se,
		   bool kernel_owns_sizes)
{
	w->se = se;
	w->kernel_sizes = kernel_owns_sizes;
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
	g_hash_table_destroy(w->by_key);
	for (guint i = 0; i < w->replays->len; i++)
		g_free(g_array_index(w->replays, struct replay, i).name);
	g_array_free(w->replays, TRUE);
	pthread_mutex_destroy(&w->lock);
	w->backend->close(w->fd, w->state);        /* removes every mark */
	g_free(w);
}

guint64 watcher_changes(struct watcher *w)
{
	return __atomic_load_n(&w->changes, __ATOMIC_ACQUIRE);
}

void watcher_counts(struct watcher *w, guint64 *handled, guint64 *own)
{
	*handled = __atomic_load_n(&w->handled, __ATOMIC_RELAXED);
	*own = __atomic_load_n(&w->own, __ATOMIC_RELAXED);
}
