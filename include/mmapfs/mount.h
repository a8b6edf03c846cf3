/*
 * mount.h - building one mount, serving it, and tearing it down.
 *
 * mmapfs_serve() is everything main() does once the command line is
 * parsed: it prepares the process (the SIGBUS guard, the descriptor limit,
 * the credentials, the umask), builds struct mmapfs (ops.h) from the
 * options, chooses the cache mode (policy.h) and starts the watcher,
 * mounts, raises the readahead window, detaches unless -f, starts the
 * threads that outlive requests (the SIGUSR1 summaries, the pusher, the
 * watcher), runs the session loop until the mount goes or a signal comes,
 * and stops and frees everything in the reverse order.  Each step that
 * fails logs one line and undoes what came before.
 *
 * Called once, from main()'s thread.
 */
#ifndef MMAPFS_MOUNT_H
#define MMAPFS_MOUNT_H

#include <fuse_lowlevel.h>

#include "mmapfs/cmdline.h"

/* Returns the process's exit status: 0 after a clean unmount, else 1. */
int mmapfs_serve(const struct mmapfs_cmdline *cl, struct fuse_args *args);

#endif
