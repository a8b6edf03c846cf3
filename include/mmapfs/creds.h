/*
 * creds.h - acting as the caller of a request.
 *
 * Two kinds of request are carried out with the caller's identity, so that
 * the backing filesystem applies its own rules to the caller, not to the
 * daemon:
 *   CREDS_CREATE  making a file, directory, node or symlink: it belongs to
 *                 the caller (set-group-ID directories included), mknod of
 *                 a device needs the caller's CAP_MKNOD, and the caller's
 *                 umask applies unless the parent has a default ACL (the
 *                 thread's own umask: see creds_can_set_umask());
 *   CREDS_MODIFY  changing a file's data or size (write, truncate,
 *                 fallocate, copy_file_range): the backing filesystem
 *                 clears set-user-ID, and set-group-ID where the kernel
 *                 would, unless the caller has CAP_FSETID.  A daemon
 *                 running as root has it; a thread whose filesystem uid is
 *                 the caller's does not, as the caller does not (unless
 *                 root).
 * While it acts, the handling thread takes on the caller's filesystem uid,
 * gid and supplementary groups, with the thread-local system calls (never
 * glibc's process-wide setgroups()).  A request of the daemon's own user
 * switches nothing.
 *
 * Only a daemon running as root switches identities; otherwise only the
 * umask is the caller's (only the daemon's own user, or with allow_other
 * the users the kernel lets in, reach the mount then).  Each
 * creds_become() must be paired with creds_restore() on the same thread
 * before the handler replies.
 */
#ifndef MMAPFS_CREDS_H
#define MMAPFS_CREDS_H

#include <stdbool.h>

#include <fuse_lowlevel.h>

enum creds_for {
	CREDS_CREATE,
	CREDS_MODIFY,
};

struct creds_saved {
	bool switched;
};

/* Records the daemon's own groups.  Call once, before threads start. */
void creds_init(void);

/*
 * Whether each thread can have a umask of its own (unshare(CLONE_FS)),
 * which the kernel's FUSE_CAP_DONT_MASK needs: then the kernel leaves the
 * umask to us, and default ACLs are inherited as natively.
 */
bool creds_can_set_umask(void);

/* Makes this thread act as the caller of req.  Returns 0 or -errno. */
int creds_become(fuse_req_t req, enum creds_for why, struct creds_saved *saved);

/* Makes this thread the daemon again. */
void creds_restore(struct creds_saved *saved);

#endif
