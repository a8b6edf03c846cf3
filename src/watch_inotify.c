/*
 * watch_inotify.c - the inotify backend of the watcher (watch_backend.h).
 *
 * A watch per directory; an event names its directory by watch descriptor.
 * Events carry no pid: the daemon's own changes come as any other.
 */
#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "mmapfs/inode.h"
#include "mmapfs/watch_backend.h"

#define IN_MASK (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | \
		 IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)
#define IN_ENTRY_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)

static GBytes *wd_key(int wd)
{
	return g_bytes_new(&wd, sizeof(wd));
}

static int in_open(void **state)
{
	int fd = inotify_init1(IN_CLOEXEC);

	*state = NULL;
	return fd < 0 ? -errno : fd;
}

static void in_close(int queue, void *state)
{
	close(queue);
}

static GBytes *in_mark(int queue, void *state, int dirfd, int *res)
{
	char path[PROC_FD_PATH_MAX];
	int wd;

	proc_fd_path(dirfd, path);
	wd = inotify_add_watch(queue, path, IN_MASK);
	if (wd < 0) {
		*res = -errno;
		return NULL;
	}
	return wd_key(wd);
}

static void in_unmark(int queue, void *state, int dirfd, GBytes *key)
{
	int wd;

	memcpy(&wd, g_bytes_get_data(key, NULL), sizeof(wd));
	inotify_rm_watch(queue, wd);
}

static const char *in_marks(void *state)
{
	return "a watch per directory";
}

static void in_parse(const char *buf, size_t len, pid_t self,
		     const struct watch_sink *sink)
{
	struct inotify_event ev;

	for (size_t at = 0; len - at >= sizeof(ev); at += sizeof(ev) + ev.len) {
		memcpy(&ev, buf + at, sizeof(ev));
		if (ev.len > len - at - sizeof(ev))
			break;
		if (ev.mask & IN_Q_OVERFLOW) {
			sink->overflow(sink->data);
			continue;
		}
		sink->event(sink->data, wd_key(ev.wd),
			    ev.len ? buf + at + sizeof(ev) : NULL,
			    ev.mask & IN_ENTRY_EVENTS ? WATCH_EV_ENTRY : 0);
	}
}

const struct watch_backend watch_inotify = {
	.kind = MMAPFS_WATCHER_INOTIFY,
	.name = "inotify",
	.knows_pid = false,
	.open = in_open,
	.close = in_close,
	.mark = in_mark,
	.unmark = in_unmark,
	.marks = in_marks,
	.parse = in_parse,
};
