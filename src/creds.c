/*
 * creds.c - see include/mmapfs/creds.h.
 */
#include <errno.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib.h>

#include "mmapfs/creds.h"
#include "mmapfs/log.h"

#define MAX_GROUPS 256

/* The daemon's own identity; written once by creds_init(). */
static gid_t own_groups[MAX_GROUPS];
static int n_own_groups;
static uid_t own_fsuid;
static gid_t own_fsgid;
static bool can_switch;
static bool umask_per_thread;

/* Whether this thread has a filesystem context (umask) of its own. */
static __thread bool thread_fs_unshared;

static bool unshare_thread_fs(void)
{
	if (!thread_fs_unshared && unshare(CLONE_FS) == 0)
		thread_fs_unshared = true;
	return thread_fs_unshared;
}

static gpointer probe_unshare(gpointer data)
{
	return GINT_TO_POINTER(unshare_thread_fs());
}

void creds_init(void)
{
	n_own_groups = getgroups(MAX_GROUPS, own_groups);
	if (n_own_groups < 0)
		n_own_groups = 0;
	own_fsuid = geteuid();
	own_fsgid = getegid();
	can_switch = own_fsuid == 0;
	/* On a thread of its own: the process's umask stays shared. */
	umask_per_thread = GPOINTER_TO_INT(g_thread_join(
		g_thread_new("creds-probe", probe_unshare, NULL)));
	if (!umask_per_thread)
		log_info("threads cannot have a umask of their own (unshare: %s): "
			 "the kernel applies the umask, also under default ACLs",
			 g_strerror(errno));
}

bool creds_can_set_umask(void)
{
	return umask_per_thread;
}

/* The raw calls act on this thread only. */
static int thread_setgroups(int n, const gid_t *groups)
{
	return syscall(SYS_setgroups, (size_t)n, groups) < 0 ? -errno : 0;
}

int creds_become(fuse_req_t req, enum creds_for why, struct creds_saved *saved)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[MAX_GROUPS];
	int n, res;

	saved->switched = false;
	/* The caller's umask, which the backing filesystem applies unless
	 * the parent directory has a default ACL (where it must not). */
	if (why == CREDS_CREATE && umask_per_thread && unshare_thread_fs())
		umask(ctx->umask);
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
	 * a caller with CAP_SETUID/CAP_SETGID, which root has.  A filesystem
	 * uid other than 0 takes CAP_FSETID (and the other filesystem
	 * capabilities) out of the thread's effective set until restored. */
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
