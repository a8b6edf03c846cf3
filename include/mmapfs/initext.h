/*
 * initext.h - negotiating what libfuse 3.14 does not know: the INIT
 * flags of newer protocol versions.
 *
 * libfuse 3.14 (protocol 7.38) neither asks for kernel passthrough (7.40)
 * nor for FUSE_HANDLE_KILLPRIV_V2, whose bit it does not know.  This
 * module sees every message libfuse reads from and writes to the device
 * (fuse_session_custom_io(), installed by mount.c once mounted, with
 * splice hooks so that libfuse keeps splicing): it keeps the flags the
 * kernel's INIT offered, and rewrites libfuse's INIT reply to add the
 * flags initext_ask() was given (FUSE_INIT_EXT with them, and with
 * FUSE_PASSTHROUGH the stacking depth, in the reply's first unused word,
 * which 7.40 names max_stack_depth).  Right after the reply is written
 * (the kernel has acted on it once the write returns) it calls the
 * function initext_ask() was given, with the device's descriptor.
 *
 * Every other message passes unchanged, at the cost of one comparison.
 *
 * Threads: the hooks run on the session loop's threads and on whoever
 * sends a notification; initext_offered() and initext_ask() from the
 * session's init callback, which runs after INIT was read and before its
 * reply is written.  No lock: INIT is the kernel's first message, alone.
 */
#ifndef MMAPFS_INITEXT_H
#define MMAPFS_INITEXT_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* The 64-bit INIT flags (flags2 above bit 31), as the kernel has them. */
#define INITEXT_HANDLE_KILLPRIV_V2 (1ULL << 28)        /* 7.33 */
#define INITEXT_PASSTHROUGH (1ULL << 37)               /* 7.40 */

struct initext;

struct initext *initext_new(void);
void initext_free(struct initext *x);

/* The message hooks, for a struct fuse_custom_io (see mount.c). */
ssize_t initext_io_read(struct initext *x, int fd, void *buf, size_t len);
ssize_t initext_io_writev(struct initext *x, int fd, struct iovec *iov, int count);

/* The flags the kernel's INIT offered (0 before INIT). */
uint64_t initext_offered(const struct initext *x);

/*
 * Adds flags (offered ones) to libfuse's INIT reply, with stack_depth
 * as max_stack_depth when they hold INITEXT_PASSTHROUGH; then, once the
 * reply is written, calls replied(data, device descriptor), if not NULL.
 */
void initext_ask(struct initext *x, uint64_t flags, uint32_t stack_depth,
		 void (*replied)(void *data, int dev_fd), void *data);

#endif
