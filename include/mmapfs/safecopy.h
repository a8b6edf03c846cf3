/*
 * safecopy.h - touching a file mapping without dying of SIGBUS.
 *
 * When a mapped file shrinks behind our back (another process truncates the
 * backing file), touching a page past its new end raises SIGBUS.  mmapfs
 * answers reads by handing the kernel a pointer into a mapping; the kernel's
 * own copy out of a vanished page fails the write to /dev/fuse with EFAULT
 * instead of signalling, and the kernel answers that one read with EIO.  To
 * answer with the bytes that still exist instead, the read path first probes
 * the pages it is about to hand over, here, under a per-thread guard: a
 * SIGBUS raised while the guard is armed jumps back into safecopy_probe(),
 * which reports how far the mapping could be read.  A SIGBUS anywhere else is
 * a real bug and kills the process as usual.
 *
 * safecopy_init() installs the handler once, before threads start.
 * safecopy_probe() is then safe to call from any thread.
 */
#ifndef MMAPFS_SAFECOPY_H
#define MMAPFS_SAFECOPY_H

#include <stddef.h>

/* Installs the SIGBUS handler.  Returns 0 or a negative errno. */
int safecopy_init(void);

/*
 * Reads one byte of every page of [addr, addr + len).  Returns len when
 * every page is there, or the number of bytes from addr to the start of the
 * first page that raised SIGBUS (so possibly 0).
 */
size_t safecopy_probe(const void *addr, size_t len);

/* How many SIGBUS the guard has caught since start (atomic). */
unsigned long safecopy_recoveries(void);

#endif
