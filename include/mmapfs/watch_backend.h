/*
 * watch_backend.h - the two ways the watcher (watcher.h) can watch
 * directories, behind one struct of functions: fanotify and inotify.
 *
 * A backend opens a queue, marks a directory (given as an O_PATH
 * descriptor) and says by which key that directory's events will name it,
 * and parses a buffer read from the queue into events for a sink.  How a
 * directory is marked is the backend's: fanotify, where it may, marks the
 * whole filesystem the directory is on once (then a read of a file never
 * walks to its parent dentry to ask whether the parent watches it) and
 * tells that filesystem's directories apart by key alone.  Keys
 * are opaque bytes: for fanotify the filesystem id, handle type and handle
 * of the directory, for inotify its watch descriptor.  A backend knows
 * nothing of the inode table, the mapping cache or FUSE; the watcher's
 * registry turns keys into directories and events into invalidations.
 *
 * A queue's state (what open() gives back) is not locked: the caller
 * serializes mark(), unmark() and marks() on one queue.  A parse needs no
 * state, runs on the calling thread and calls the sink there.
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
	/* Opens a queue: a descriptor, or -errno; *state (NULL or the
	 * backend's) goes with it to every call below and to close(). */
	int (*open)(void **state);
	/* Closes the queue, which removes every mark, and frees state. */
	void (*close)(int queue, void *state);
	/* Watches the directory dirfd holds; its key, or NULL with *res set
	 * to -errno. */
	GBytes *(*mark)(int queue, void *state, int dirfd, int *res);
	/* Stops watching the directory key stands for; dirfd holds it, or
	 * is -errno where it could not be opened again (gone). */
	void (*unmark)(int queue, void *state, int dirfd, GBytes *key);
	/* How the directories are marked now, for the log: "a mark per
	 * directory", "a mark on the source's filesystem", ... */
	const char *(*marks)(void *state);
	/* Moving from whole filesystems to a mark per directory (NULL where
	 * every mark is a directory's).  begin: from now on mark() marks
	 * each directory itself; false if no filesystem is marked whole.
	 * mark_dir: marks a directory that mark() had covered by its
	 * filesystem's mark.  end: once every such directory has its own,
	 * removes the filesystems' marks. */
	bool (*per_dir_begin)(int queue, void *state);
	void (*mark_dir)(int queue, void *state, int dirfd);
	void (*per_dir_end)(int queue, void *state);
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
