/*
 * readahead.h - raising the mount's readahead window, so that sequential
 * reading comes in requests of up to 1 MiB instead of 128 KiB.
 *
 * The kernel gives a FUSE mount the smaller of two windows: its
 * backing-device's (/sys/class/bdi/MAJOR:MINOR/read_ahead_kb, 128 KiB by
 * default) as it stands when the INIT reply arrives, and the one the reply
 * asks for (conn->max_readahead, see mmapfs_init() in ops.c).  So the knob is
 * raised after mounting and before the loop answers INIT.  The mount's
 * MAJOR:MINOR comes from /proc/self/mountinfo: a stat() of the mount point
 * would be a request to ourselves, which nobody would answer yet.  Only
 * root may write the knob; anyone else keeps the kernel's default.
 *
 * Called from mount.c only, on main()'s thread before the loop starts.
 */
#ifndef MMAPFS_READAHEAD_H
#define MMAPFS_READAHEAD_H

#include <stdint.h>

/*
 * Sets the readahead window of the FUSE mount at mountpoint (absolute,
 * canonical) to bytes, rounded down to KiB.  Returns 0 or a negative errno
 * (-ENOENT: no such mount in this process's mount table).
 */
int readahead_set(const char *mountpoint, uint64_t bytes);

#endif
