/*
 * readahead.h - raising the mount's readahead window, so that sequential
 * reading comes in requests of up to 1 MiB instead of 128 KiB.
 *
 * The kernel gives a FUSE mount the smaller of its default readahead (128
 * KiB) and what the daemon's INIT reply asks for, and the reply may not ask
 * for more than the kernel offered: the only way up is the mount's
 * backing-device knob, /sys/class/bdi/MAJOR:MINOR/read_ahead_kb, written
 * once INIT is done (INIT would lower it again).  A thread waits for that
 * with statfs() on the mount, which the kernel answers only after INIT,
 * and then writes the knob.  Only root may write it; anyone else keeps the
 * kernel's default, and the log says so.
 *
 * Called from main() only.
 */
#ifndef MMAPFS_READAHEAD_H
#define MMAPFS_READAHEAD_H

#include <stdint.h>

struct readahead;

/*
 * Starts the thread that sets mountpoint's readahead to bytes (rounded
 * down to KiB), once the mount answers.  Call it after mounting, before
 * the loop runs; bytes == 0 starts nothing and returns NULL.
 */
struct readahead *readahead_start(const char *mountpoint, uint64_t bytes);

/*
 * Waits for the thread and frees r (NULL is fine).  Call it after the
 * unmount: a thread still waiting for the mount then gets an error back.
 */
void readahead_join(struct readahead *r);

#endif
