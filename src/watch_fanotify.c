/*
 * watch_fanotify.c - the fanotify backend of the watcher (watch_backend.h).
 *
 * FAN_REPORT_DFID_NAME: each event names its directory by file handle and
 * carries the child's name, and the pid that caused it.  A mark per
 * directory (FAN_EVENT_ON_CHILD).  As root the queue and the marks are
 * unbounded.  Needs a filesystem that encodes file handles.
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

static int fan_open(void)
{
	unsigned flags = FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_REPORT_DFID_NAME;
	/* Unbounded queue and marks need CAP_SYS_ADMIN. */
	int fd = fanotify_init(flags | FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS,
			       O_RDONLY);

	if (fd < 0 && errno == EPERM)
		fd = fanotify_init(flags, O_RDONLY);
	return fd < 0 ? -errno : fd;
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

static GBytes *fan_mark(int queue, int dirfd, int *res)
{
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
	if (fanotify_mark(queue, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FAN_MASK,
			  AT_FDCWD, path) < 0) {
		*res = -errno;
		return NULL;
	}
	return watch_fanotify_key(&sf.f_fsid, h.fh.handle_type, h.fh.f_handle,
				  h.fh.handle_bytes);
}

static void fan_unmark(int queue, int dirfd, GBytes *key)
{
	char path[PROC_FD_PATH_MAX];

	proc_fd_path(dirfd, path);
	fanotify_mark(queue, FAN_MARK_REMOVE | FAN_MARK_ONLYDIR, FAN_MASK,
		      AT_FDCWD, path);
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
	.mark = fan_mark,
	.unmark = fan_unmark,
	.parse = fan_parse,
};
