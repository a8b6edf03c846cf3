/*
 * creds.c - see include/mmapfs/creds.h.
 */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib.h>

#include "mmapfs/creds.h"

#define MAX_GROUPS 256

/* The daemon's own identity; written once by creds_init(). */
static gid_t own_groups[MAX_GROUPS];
static int n_own_groups;
static uid_t own_fsuid;
static gid_t own_fsgid;
static bool can_switch;

void creds_init(void)
{
	n_own_groups = getgroups(MAX_GROUPS, own_groups);
	if (n_own_groups < 0)
		n_own_groups = 0;
	own_fsuid = geteuid();
	own_fsgid = getegid();
	can_switch = own_fsuid == 0;
}

/* The raw calls act on this thread only. */
static int thread_setgroups(int n, const gid_t *groups)
{
	return syscall(SYS_setgroups, (size_t)n, groups) < 0 ? -errno : 0;
}

int creds_become(fuse_req_t req, struct creds_saved *saved)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[MAX_GROUPS];
	int n, res;

	saved->switched = false;
	if (!can_switch || (ctx->uid == own_fsuid && ctx->gid == own_fsgid))
		return 0;
	n = fuse_req_getgroups(req, MAX_GROUPS, groups);
	if (n < 0 || n > MAX_GROUPS)
		n = 0;          /* unknown: the primary group alone */
	res = thread_setgroups(n, groups);
	if (res < 0)
		return res;
	saved->switched = true;
	/* setfsuid/setfsgid return the previous value and cannot fail for
	 * a caller with CAP_SETUID/CAP_SETGID, which root has. */
	syscall(SYS_setfsgid, ctx->gid);
	syscall(SYS_setfsuid, ctx->uid);
	return 0;
}

void creds_restore(struct creds_saved *saved)
{
	if (!saved->switched)
		return;
	syscall(SYS_setfsuid, own_fsuid);
	syscall(SYS_setfsgid, own_fsgid);
	thread_setgroups(n_own_groups, own_groups);
	saved->switched = false;
}
