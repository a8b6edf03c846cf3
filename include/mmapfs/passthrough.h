/*
 * passthrough.h - kernel passthrough of opened files, from libfuse 3.14's
 * public API.
 *
 * A kernel with FUSE passthrough (6.9 and later, CONFIG_FUSE_PASSTHROUGH)
 * can hand an opened file of the mount to a backing file: its reads,
 * writes and client mmaps then go there, with no request to the daemon and
 * no second copy in the mount's page cache.  libfuse gained an API for it
 * in 3.17; with 3.14 this module does what that API would:
 *
 *   - the INIT reply asks for it (initext.h does the asking); right after
 *     that reply, passthrough_replied() asks the kernel whether it took it
 *     (a registration the kernel refuses with EPERM when it did not), and
 *     logs the outcome;
 *   - it registers backing files with the kernel (FUSE_DEV_IOC_BACKING_OPEN,
 *     which needs CAP_SYS_ADMIN) and gives them back (..._BACKING_CLOSE);
 *   - it decides, open by open, whether an open is passthrough or goes
 *     through the mapping path (a "cached" open), keeping the kernel's
 *     rule, whose breach makes the user's open() fail with EIO: all the
 *     open files of one inode use the same backing file, or none of them
 *     is passthrough.  So an inode with a passthrough open gets only
 *     passthrough opens (with the one backing id it has, registered at its
 *     first such open and given back at the last release, never sooner),
 *     and an inode with a cached open gets only cached ones.  The kernel
 *     drops an open's claim on its inode before it sends the RELEASE, so
 *     the counts here are never behind the kernel's;
 *   - it answers OPEN and CREATE for passthrough opens, with the fields
 *     libfuse 3.14 does not know.
 *
 * A passthrough open may carry no keep_cache; the kernel drops the mount's
 * cached pages of the file when it opens it.  GETATTR, FLUSH, FSYNC and
 * SETATTR still come to the daemon.
 *
 * Threads: passthrough_set_device() is called before the loop starts;
 * passthrough_replied() runs on the loop thread that wrote INIT's reply,
 * and the kernel may send opens to other loop threads before it has
 * returned: those register their backing files with the device already
 * (a kernel that refused passthrough refuses them with EPERM, and they are
 * served cached).  passthrough_open() and _release() run on the handlers'.
 * pt->lock guards the per-inode table and is taken alone (the lock rules
 * of ops.h); no reply is sent under it.
 */
#ifndef MMAPFS_PASSTHROUGH_H
#define MMAPFS_PASSTHROUGH_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <fuse_lowlevel.h>
#include <glib.h>

#include "mmapfs/inode.h"
#include "mmapfs/options.h"

/* The stacking depth we declare: a source may not itself be a stacked
 * filesystem (overlayfs, a FUSE mount using passthrough). */
#define PASSTHROUGH_STACK_DEPTH 1

/* With -o passthrough=auto: files at least this large when opened (and
 * every open for writing). */
#define PASSTHROUGH_AUTO_MIN ((off_t)MMAPFS_PT_AUTO_MIN_KIB * 1024)

struct passthrough;

/* The module for a mount asked for mode (not MMAPFS_PT_OFF). */
struct passthrough *passthrough_new(enum mmapfs_passthrough mode);
void passthrough_free(struct passthrough *pt);

/*
 * From the session's init callback, before libfuse replies: the mode in
 * force (MMAPFS_PT_OFF, _RO, _RW or _AUTO; what policy_passthrough()
 * decided).  When it is not off, the caller asks for INITEXT_PASSTHROUGH
 * with PASSTHROUGH_STACK_DEPTH and passthrough_replied() (initext.h).
 */
void passthrough_negotiate(struct passthrough *pt, enum mmapfs_passthrough mode);

/* The session's device (fuse_session_fd()), for the ioctls: once, before
 * the loop reads INIT.  Without it no open is handed over. */
void passthrough_set_device(struct passthrough *pt, int dev_fd);

/* initext_ask()'s function: data is the struct passthrough. */
void passthrough_replied(void *data, int dev_fd);

/*
 * The mode in force: what was negotiated, or MMAPFS_PT_OFF if the kernel
 * refused it at INIT.  Set before the first open; turned off at most once,
 * by passthrough_replied(), possibly while the first opens are handled.
 */
enum mmapfs_passthrough passthrough_mode(const struct passthrough *pt);

/*
 * An open of node (a regular file) is about to be answered; fd is its
 * backing descriptor, writable whether the open may write, st the file
 * now.  -o passthrough=auto hands over opens for writing and files of at
 * least PASSTHROUGH_AUTO_MIN; no mode hands over a file with set-ID bits
 * a write would clear (the kernel's writes to a backing file keep them).
 * Returns the backing id to answer it with (the open is passthrough: it must be
 * released with passthrough_release(pt, node, true)), or 0: a cached open
 * (released with ..., false).  An open the mode would leave cached is made
 * passthrough when node has passthrough opens already, and the reverse.
 * A registration the kernel refuses makes the open cached, logged once by
 * reason.  With the mode off, nothing is counted and 0 is returned (the
 * mode only ever turns off, and passthrough_release() of a node never
 * counted does nothing).
 */
int passthrough_open(struct passthrough *pt, struct inode *node, int fd,
		     bool writable, const struct stat *st);

/* An open answered through passthrough_open() was released (or its reply
 * failed); at the last passthrough release its backing id goes. */
void passthrough_release(struct passthrough *pt, struct inode *node,
			 bool passthrough);

/*
 * Replies to an OPEN (e NULL) or a CREATE (e the entry) with a passthrough
 * open of backing_id: what fuse_reply_open() and fuse_reply_create() do,
 * with the fields libfuse 3.14 does not know.  fi gives fh and noflush;
 * nothing else may be asked (the kernel refuses keep_cache, and
 * direct_io is never asked here).  Returns what fuse_reply_iov() does.
 */
int passthrough_reply_open(fuse_req_t req, const struct fuse_file_info *fi,
			   int backing_id, const struct fuse_entry_param *e);

/* Opens made passthrough, backing ids registered now, and opens the mode
 * wanted passthrough that were served cached. */
void passthrough_counts(struct passthrough *pt, guint64 *opens,
			guint64 *backing_live, guint64 *fallbacks);

#endif
