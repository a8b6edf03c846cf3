/*
 * watch_backend.h - the two ways the watcher (watcher.h) can watch
 * directories, behind one struct of functions: fanotify and inotify.
 *
 * A backend opens a queue, marks a directory (given as an O_PATH
 * descriptor) and says by which key that directory's events will name it,
 * and parses a buffer read from the queue into events for a sink.  Keys
 * are opaque bytes: for fanotify the filesystem id, handle type and handle
 * of the directory, for inotify its watch descriptor.  A backend knows
 * nothing of the inode table, the mapping cache or FUSE; the watcher's
 * registry turns keys into directories and events into invalidations.
 *
 * Thread-safe as far as the system calls are; a parse runs on the calling
 * thread and calls the sink there.
 */
#ifndef MMAPFS_WATCH_BACKEND_H
#define MMAPFS_WATCH_BACKEND_H

#include <stdbool.h>
#include <sys/types.h>

#include <glib.h>

#include "mmapfs/options.h"

/* What an event means, whichever backend reported it. */
enum {
	WATCH_EV_ENTRY = 1,     /* a name in the directory came, went or moved */
};

struct watch_sink {
	/* An event in the directory key names: about name in it, or (name
	 * NULL) about the directory itself.  key is the sink's to keep. */
	void (*event)(void *data, GBytes *key, const char *name, unsigned what);
	/* The queue overflowed: events were lost. */
	void (*overflow)(void *data);
	/* An event caused by this process itself, skipped. */
	void (*own)(void *data);
	void *data;
};

struct watch_backend {
	enum mmapfs_watcher kind;
	const char *name;
	/* Whether events say which process caused them (own() is called
	 * for this process's; otherwise they come as any other). */
	bool knows_pid;
	/* Opens a queue: a descriptor, or -errno. */
	int (*open)(void);
	/* Marks the directory dirfd holds; its key, or NULL with *res set
	 * to -errno. */
	GBytes *(*mark)(int queue, int dirfd, int *res);
	/* Removes the mark that key stands for; dirfd holds the directory,
	 * or is -errno where it could not be opened again (gone). */
	void (*unmark)(int queue, int dirfd, GBytes *key);
	/* Calls sink for each whole record of buf (len bytes read from the
	 * queue); self is this process's pid. */
	void (*parse)(const char *buf, size_t len, pid_t self,
		      const struct watch_sink *sink);
};

extern const struct watch_backend watch_fanotify;
extern const struct watch_backend watch_inotify;

/* The key a fanotify event gives a directory: fsid, handle type, handle. */
GBytes *watch_fanotify_key(const void *fsid, int handle_type,
			   const void *handle, unsigned handle_bytes);

#endif
