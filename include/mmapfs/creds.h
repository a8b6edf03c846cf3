/*
 * creds.h - acting as the caller while creating files.
 *
 * Files, directories, nodes and symlinks created through the mount must
 * belong to the caller, with the backing filesystem's own rules for group
 * ownership (set-group-ID directories), permission checks and capability
 * checks (mknod of a device).  While it creates one, the handling thread
 * takes on the caller's filesystem uid, gid and supplementary groups, with
 * the thread-local system calls (never glibc's process-wide setgroups()).
 *
 * Only a daemon running as root switches; otherwise the calls do nothing
 * (only the daemon's own user can reach the mount then).  Each
 * creds_become() must be paired with creds_restore() on the same thread
 * before the handler replies.
 */
#ifndef MMAPFS_CREDS_H
#define MMAPFS_CREDS_H

#include <stdbool.h>

#include <fuse_lowlevel.h>

struct creds_saved {
	bool switched;
};

/* Records the daemon's own groups.  Call once, before threads start. */
void creds_init(void);

/* Makes this thread act as the caller of req.  Returns 0 or -errno. */
int creds_become(fuse_req_t req, struct creds_saved *saved);

/* Makes this thread the daemon again. */
void creds_restore(struct creds_saved *saved);

#endif
