/*
 * watch_fanotify.c - the fanotify backend of the watcher (watch_backend.h).
 *
 * FAN_REPORT_DFID_NAME: each event names its directory by file handle and
 * carries the child's name, and the pid that caused it.  Needs a
 * filesystem that encodes file handles.
 *
 * As root (CAP_SYS_ADMIN) the queue is unbounded and a directory's
 * filesystem is marked whole (FAN_MARK_FILESYSTEM), once for all its
 * directories: events from directories the watcher does not know are told
 * apart by key and dropped by the watcher.  Why not a mark per directory
 * there: a directory marked with FAN_EVENT_ON_CHILD makes every access to
 * a file in it, a read included, take and drop a reference to the parent
 * dentry to ask whether the parent wants the event (__fsnotify_parent),
 * which cost random reads through passthrough 10 to 20 % (BENCHMARKS.md).
 * The price is paid elsewhere: every change anywhere on that filesystem,
 * outside SOURCE too, becomes an event for this queue, which its writer
 * pays for; the watcher moves to per-directory marks when such events
 * stream in (per_dir_begin ...).  Anyone else, and a filesystem that
 * refuses a whole mark (a btrfs subvolume: EXDEV), gets a mark per
 * directory (FAN_EVENT_ON_CHILD).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "mmapfs/inode.h"
#include "mmapfs/watch_backend.h"

#define FAN_MASK (FAN_MODIFY | FAN_ATTRIB | FAN_CLOSE_WRITE | FAN_CREATE | \
		  FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ONDIR | \
		  FAN_EVENT_ON_CHILD)
#define FAN_ENTRY_EVENTS (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO)

/* How a filesystem's directories are marked. */
enum { FS_WHOLE = 1, FS_PER_DIR = 2 };

/* A filesystem seen: how it is marked; for FS_WHOLE, an O_PATH
 * descriptor of a directory on it, to remove the mark by. */
struct fan_fs {
	int how;
	int fd;
};

/* A queue's marks (watch_backend.h: the caller serializes). */
struct fan_state {
	bool privileged;            /* whole filesystems may be marked */
	bool per_dir;               /* per_dir_begin() was called */
	GHashTable *filesystems;    /* fsid (GBytes) -> struct fan_fs */
};

static void fan_fs_free(struct fan_fs *fs)
{
	if (fs->fd >= 0)
		close(fs->fd);
	g_free(fs);
}

static int fan_open(void **state)
{
	unsigned flags = FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_REPORT_DFID_NAME;
	/* Unbounded queue and marks need CAP_SYS_ADMIN, as whole marks do. */
	int fd = fanotify_init(flags | FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS,
			       O_RDONLY);
	bool privileged = fd >= 0;
	struct fan_state *st;

	if (fd < 0 && errno == EPERM)
		fd = fanotify_init(flags, O_RDONLY);
	if (fd < 0)
		return -errno;
	st = g_new0(struct fan_state, 1);
	st->privileged = privileged;
	st->filesystems = g_hash_table_new_full(g_bytes_hash, g_bytes_equal,
						(GDestroyNotify)g_bytes_unref,
						(GDestroyNotify)fan_fs_free);
	*state = st;
	return fd;
}

static void fan_close(int queue, void *state)
{
	struct fan_state *st = state;

	close(queue);
	g_hash_table_destroy(st->filesystems);
	g_free(st);
}

GBytes *watch_fanotify_key(const void *fsid, int handle_type,
			   const void *handle, unsigned handle_bytes)
{
	GByteArray *key = g_byte_array_new();

	g_byte_array_append(key, fsid, sizeof(__kernel_fsid_t));
	g_byte_array_append(key, (const guint8 *)&handle_type, sizeof(handle_type));
	g_byte_array_append(key, handle, handle_bytes);
	return g_byte_array_free_to_bytes(key);
}

/* How key's filesystem is marked: FS_WHOLE, FS_PER_DIR, or 0 (not yet). */
static int fan_fs_marked(struct fan_state *st, GBytes *key)
{
	g_autoptr(GBytes) fsid = g_bytes_new_from_bytes(key, 0, sizeof(__kernel_fsid_t));
	const struct fan_fs *fs = g_hash_table_lookup(st->filesystems, fsid);

	return fs ? fs->how : 0;
}

/* Marks the filesystem dirfd's directory is on whole, if it may:
 * FS_WHOLE or FS_PER_DIR. */
static int fan_mark_fs(int queue, struct fan_state *st, GBytes *key,
		       int dirfd, const char *path)
{
	struct fan_fs *fs = g_new(struct fan_fs, 1);

	fs->how = FS_PER_DIR;
	fs->fd = -1;
	if (st->privileged && !st->per_dir) {
		fs->fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
		if (fs->fd >= 0 &&
		    fanotify_mark(queue, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
				  FAN_MASK, AT_FDCWD, path) == 0) {
			fs->how = FS_WHOLE;
		} else if (fs->fd >= 0) {
			close(fs->fd);
			fs->fd = -1;
		}
	}
	g_hash_table_insert(st->filesystems,
			    g_bytes_new_from_bytes(key, 0, sizeof(__kernel_fsid_t)), fs);
	return fs->how;
}

static bool fan_mark_one_dir(int queue, int dirfd)
{
	char path[PROC_FD_PATH_MAX];

	proc_fd_path(dirfd, path);
	return fanotify_mark(queue, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FAN_MASK,
			     AT_FDCWD, path) == 0;
}

static GBytes *fan_mark(int queue, void *state, int dirfd, int *res)
{
	struct fan_state *st = state;
	GBytes *key;
	int how;

	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;
	char path[PROC_FD_PATH_MAX];
	struct statfs sf;
	int mount_id;

	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(dirfd, "", &h.fh, &mount_id, AT_EMPTY_PATH) < 0 ||
	    fstatfs(dirfd, &sf) < 0) {
		*res = -errno;
		return NULL;
	}
	proc_fd_path(dirfd, path);
	key = watch_fanotify_key(&sf.f_fsid, h.fh.handle_type, h.fh.f_handle,
				 h.fh.handle_bytes);
	how = fan_fs_marked(st, key);
	if (!how)
		how = fan_mark_fs(queue, st, key, dirfd, path);
	if (how == FS_WHOLE && !st->per_dir)
		return key;
	if (!fan_mark_one_dir(queue, dirfd)) {
		*res = -errno;
		g_bytes_unref(key);
		return NULL;
	}
	return key;
}

static void fan_unmark(int queue, void *state, int dirfd, GBytes *key)
{
	struct fan_state *st = state;
	char path[PROC_FD_PATH_MAX];

	if (fan_fs_marked(st, key) == FS_WHOLE && !st->per_dir)
		return;         /* the filesystem's mark stays */
	/* A directory that is gone took its mark with it. */
	if (dirfd < 0)
		return;
	proc_fd_path(dirfd, path);
	fanotify_mark(queue, FAN_MARK_REMOVE | FAN_MARK_ONLYDIR, FAN_MASK,
		      AT_FDCWD, path);
}

/* Filesystems marked whole, and marked per directory. */
static void fan_count(const struct fan_state *st, unsigned *whole, unsigned *per_dir)
{
	GHashTableIter it;
	gpointer value;

	*whole = *per_dir = 0;
	g_hash_table_iter_init(&it, st->filesystems);
	while (g_hash_table_iter_next(&it, NULL, &value))
		((struct fan_fs *)value)->how == FS_WHOLE ? (*whole)++ : (*per_dir)++;
}

static const char *fan_marks(void *state)
{
	const struct fan_state *st = state;
	unsigned whole, per_dir;

	fan_count(st, &whole, &per_dir);
	if (!whole || st->per_dir)
		return "a mark per directory";
	if (per_dir)
		return "a mark per filesystem, and per directory where a filesystem refused one";
	return whole == 1 ? "one mark on the source's filesystem" : "a mark per filesystem";
}

static bool fan_per_dir_begin(int queue, void *state)
{
	struct fan_state *st = state;
	unsigned whole, per_dir;

	fan_count(st, &whole, &per_dir);
	if (st->per_dir || !whole)
		return false;
	st->per_dir = true;
	return true;
}

static void fan_mark_dir(int queue, void *state, int dirfd)
{
	fan_mark_one_dir(queue, dirfd);
}

static void fan_per_dir_end(int queue, void *state)
{
	struct fan_state *st = state;
	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, st->filesystems);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		struct fan_fs *fs = value;
		char path[PROC_FD_PATH_MAX];

		if (fs->how != FS_WHOLE)
			continue;
		proc_fd_path(fs->fd, path);
		fanotify_mark(queue, FAN_MARK_REMOVE | FAN_MARK_FILESYSTEM,
			      FAN_MASK, AT_FDCWD, path);
		close(fs->fd);
		fs->fd = -1;
		fs->how = FS_PER_DIR;
	}
}

/*
 * Records are 4-byte aligned only (FANOTIFY_EVENT_ALIGN): each header is
 * copied out before it is read.  A record is: the metadata, then info
 * records; the DFID_NAME one holds a header, the fsid, a struct
 * file_handle with the handle's bytes, and the name.
 */
static void fan_parse(const char *buf, size_t len, pid_t self,
		      const struct watch_sink *sink)
{
	for (size_t at = 0; len - at >= FAN_EVENT_METADATA_LEN;) {
		struct fanotify_event_metadata m;
		struct fanotify_event_info_header h;
		const char *fid = NULL, *end, *handle, *name;
		struct file_handle fh;

		memcpy(&m, buf + at, sizeof(m));
		if (m.event_len < FAN_EVENT_METADATA_LEN || m.event_len > len - at ||
		    m.metadata_len > m.event_len)
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
			sink->overflow(sink->data);
			continue;
		}
		if (m.pid == self) {
			sink->own(sink->data);
			continue;
		}
		if (!fid)
			continue;
		handle = fid + offsetof(struct fanotify_event_info_fid, handle);
		if (end - handle < (ssize_t)sizeof(fh))
			continue;
		memcpy(&fh, handle, sizeof(fh));
		name = handle + sizeof(fh) + fh.handle_bytes;
		if (fh.handle_bytes > MAX_HANDLE_SZ || name >= end ||
		    !memchr(name, '\0', end - name))
			continue;
		sink->event(sink->data,
			    watch_fanotify_key(fid + offsetof(struct fanotify_event_info_fid, fsid),
					       fh.handle_type, handle + sizeof(fh),
					       fh.handle_bytes),
			    strcmp(name, ".") ? name : NULL,
			    m.mask & FAN_ENTRY_EVENTS ? WATCH_EV_ENTRY : 0);
	}
}

const struct watch_backend watch_fanotify = {
	.kind = MMAPFS_WATCHER_FANOTIFY,
	.name = "fanotify",
	.knows_pid = true,
	.open = fan_open,
	.close = fan_close,
	.mark = fan_mark,
	.unmark = fan_unmark,
	.marks = fan_marks,
	.per_dir_begin = fan_per_dir_begin,
	.mark_dir = fan_mark_dir,
	.per_dir_end = fan_per_dir_end,
	.parse = fan_parse,
};
