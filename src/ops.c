/*
 * ops.c - the fuse_lowlevel_ops table (made from oplist.h), session init,
 * and what the handlers share: turning an errno into a reply, and filling
 * a lookup entry.
 */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mmapfs/creds.h"
#include "mmapfs/log.h"
#include "mmapfs/ops.h"
#include "mmapfs/policy.h"

/* Descriptors ran out: said once, with the limit in force. */
static void out_of_descriptors(struct mmapfs *fs)
{
	static gint said;
	struct rlimit rl = { 0 };

	if (g_atomic_int_exchange(&said, 1))
		return;
	getrlimit(RLIMIT_NOFILE, &rl);
	log_warn("out of file descriptors (limit %lu, %u inodes known, %u "
		 "directory descriptors cached): requests fail with EMFILE "
		 "until open files are closed (said once)",
		 (unsigned long)rl.rlim_cur, inode_table_size(fs->inodes),
		 inode_table_dir_fds(fs->inodes, NULL));
}

/* The first error of a kind users suffer: said once, then only counted. */
static void first_of_kind(struct mmapfs *fs, int kind, int e)
{
	static gint said[STATS_N_ERROR_KINDS];

	if (kind == STATS_ERR_NOFILE)
		out_of_descriptors(fs);
	else if (!g_atomic_int_exchange(&said[kind], 1))
		log_warn("requests fail with %s (%s) from the backing filesystem: "
			 "said once, counted as errors_%s in the statistics",
			 strerrorname_np(e), g_strerror(e), stats_error_kind_name(kind));
}

bool mmapfs_shed_descriptors(struct mmapfs *fs)
{
	static gint said;
	unsigned shed;

	if (!fs->fds)
		return false;
	/* A quarter of the budget: what the daemon had kept for reopens
	 * goes to what its users open now. */
	shed = fdcache_shed(fs->fds, MAX(fs->fds_budget / 4, 1u));
	if (shed && !g_atomic_int_exchange(&said, 1))
		log_warn("out of file descriptors: %u kept for reopens given back "
			 "(said once)", shed);
	return shed > 0;
}

void mmapfs_reply_err(fuse_req_t req, int res)
{
	if (res < 0) {
		struct mmapfs *fs = mmapfs_of(req);
		int kind = stats_error_kind(-res);

		stats_add(&fs->stats.errors, 1);
		if (kind >= 0) {
			stats_add(&fs->stats.errors_of[kind], 1);
			if (kind != STATS_ERR_NOFILE || !mmapfs_shed_descriptors(fs))
				first_of_kind(fs, kind, -res);
		}
	}
	fuse_reply_err(req, res < 0 ? -res : 0);
}

int mmapfs_do_lookup(fuse_req_t req, struct inode *parent, const char *name,
		     struct fuse_entry_param *e)
{
	struct inode_probe p;
	int res = inode_probe(mmapfs_of(req)->inodes, parent, name, true, &p);

	memset(e, 0, sizeof(*e));
	if (res < 0)
		return res;
	mmapfs_entry_of_probe(req, parent, name, &p, e);
	return 0;
}

void mmapfs_entry_of_probe(fuse_req_t req, struct inode *parent, const char *name,
			   struct inode_probe *p, struct fuse_entry_param *e)
{
	struct mmapfs *fs = mmapfs_of(req);
	struct inode *node = inode_lookup_probed(fs->inodes, parent, name, p);

	if (p->first)
		filedata_kernel_sized(node, p->st.st_size);
	memset(e, 0, sizeof(*e));
	e->attr = p->st;
	e->ino = inode_id(fs->inodes, node);
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;
}

/*
 * What libfuse 3.14 cannot ask for (initext.h).  FUSE_HANDLE_KILLPRIV_V2:
 * the kernel then leaves clearing set-ID bits and capabilities on write
 * and truncation to us, which the backing filesystem does as it would
 * natively, for the caller (creds.h), and sets SB_NOSEC, so that a file
 * found with neither is not asked about again before every write.
 * Passthrough: policy_passthrough() decides.
 */
static void negotiate_beyond_libfuse(struct mmapfs *fs, struct fuse_conn_info *conn)
{
	uint64_t offered = initext_offered(fs->initext), ask = 0;
	enum mmapfs_passthrough mode = MMAPFS_PT_OFF;
	const char *why;

	if (offered & INITEXT_HANDLE_KILLPRIV_V2) {
		ask |= INITEXT_HANDLE_KILLPRIV_V2;
		fs->killpriv_v2 = true;
	}
	if (fs->passthrough) {
		mode = policy_passthrough(fs->opts, fs->cache, fs->blind, geteuid() == 0,
					  offered & INITEXT_PASSTHROUGH, fs->no_open, &why);
		passthrough_negotiate(fs->passthrough, mode);
		if (mode == MMAPFS_PT_OFF)
			mmapfs_log(fs->opts->passthrough == MMAPFS_PT_AUTO ?
				   MMAPFS_LOG_INFO : MMAPFS_LOG_WARN,
				   "passthrough: off, every file is read through the "
				   "mapping path: %s", why);
	}
	if (mode != MMAPFS_PT_OFF) {
		ask |= INITEXT_PASSTHROUGH;
		fs->no_open = false;
		/* The kernel drops passthrough where the page cache is
		 * written back (policy_passthrough() said off then). */
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	}
	initext_ask(fs->initext, ask, PASSTHROUGH_STACK_DEPTH,
		    mode != MMAPFS_PT_OFF ? passthrough_replied : NULL, fs->passthrough);
}

/*
 * Negotiates with the kernel.  No-open (policy_no_open()): reading a file
 * then takes no OPEN, FLUSH or RELEASE round trip, only its READs.  Only
 * on a read-only mount: writes would arrive without the open file whose
 * flags (O_APPEND, O_SYNC) and descriptor they need.  Our open checks
 * nothing the kernel does not check already when it checks permissions
 * itself (default_permissions, turned on by allow_other) or when the
 * daemon runs as root (then only root reaches the mount).  The kernel then
 * keeps a file's cached pages from one open to the next (with opens, each
 * open compares the file's size and mtime), so only with cache=watched,
 * whose watcher tells it when they are stale, or with cache=timeout and a
 * timeout the user chose: the kernel checks the attributes again once they
 * time out (at a read, too) and drops the pages when the size or mtime
 * moved (FUSE_CAP_AUTO_INVAL_DATA, libfuse's default).
 */
static void mmapfs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct mmapfs *fs = userdata;

	/* Readdirplus answers `ls -l` and `find` in one round trip per
	 * batch, and opening a file listed needs no lookup. */
	conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
	if (fs->readdirplus != MMAPFS_PLUS_OFF &&
	    (conn->capable & FUSE_CAP_READDIRPLUS))
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (fs->readdirplus == MMAPFS_PLUS_ADAPTIVE)
		conn->want |= conn->capable & FUSE_CAP_READDIRPLUS_AUTO;
	/* The kernel takes the smaller of this and the window set through
	 * the mount's bdi knob before now (readahead.h). */
	if (fs->opts->readahead)
		conn->max_readahead = (unsigned)fs->opts->readahead;
	/* Not FUSE_HANDLE_KILLPRIV (v1): the kernel would then send writes
	 * with a flag libfuse 3.14 does not pass on.  Without v1 or v2 the
	 * kernel clears set-ID bits itself before a write, truncate or chown
	 * (as the writer's capabilities say), with a SETATTR that keeps its
	 * cached mode true; with v2 (negotiate_beyond_libfuse()) the backing
	 * filesystem clears them for the caller, and the write path tells the
	 * kernel (ops_file.c). */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	/* The umask is the caller's, applied by the backing filesystem in
	 * the creating thread (creds.h), so that a parent's default ACL is
	 * inherited as natively (the kernel's own umask would apply first). */
	if (creds_can_set_umask())
		conn->want |= conn->capable & FUSE_CAP_DONT_MASK;
	/* With other users in, the kernel enforces POSIX ACLs (access and
	 * default), which it reads through getxattr and caches per inode;
	 * the backing filesystem keeps the mode in step when one is set. */
	if (fs->opts->allow_other && (conn->capable & FUSE_CAP_POSIX_ACL))
		conn->want |= FUSE_CAP_POSIX_ACL;
	/* The control protocol (ctl.h) is an ioctl on the root directory. */
	conn->want |= conn->capable & FUSE_CAP_IOCTL_DIR;
	/* -o writeback (ops.h); passthrough is then off (policy.h). */
	if (fs->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else if (fs->writeback) {
		log_warn("-o writeback: the kernel does not offer a write-back "
			 "cache; every write goes to SOURCE as it is made");
		fs->writeback = false;
	}
	fs->no_open = policy_no_open(fs->opts, fs->cache, geteuid() == 0,
				     conn->capable & FUSE_CAP_NO_OPEN_SUPPORT);
	if (fs->initext)
		negotiate_beyond_libfuse(fs, conn);
	if (fs->no_open)
		log_info("read-only mount: files are read without opening them in the daemon");
}

/* Runs once the loop has stopped: no handler runs any more. */
static void mmapfs_destroy(void *userdata)
{
	struct mmapfs *fs = userdata;

	mmapfs_handles_free_all(fs);
	mapcache_drop_all(fs->maps);
}

/* Whether requests of a kind change a file's data, attributes or names
 * (mmapfs_changed()). */
static bool changes_files(int counter)
{
	switch (counter) {
	case STATS_SETATTR: case STATS_MKNOD: case STATS_MKDIR:
	case STATS_SYMLINK: case STATS_LINK: case STATS_UNLINK:
	case STATS_RMDIR: case STATS_RENAME: case STATS_CREATE:
	case STATS_WRITE: case STATS_FALLOCATE: case STATS_COPY_FILE_RANGE:
	case STATS_SETXATTR: case STATS_REMOVEXATTR:
		return true;
	default:
		return false;
	}
}

/*
 * Every handler is entered through a wrapper that counts the request and
 * the time its handler took (see stats.h), and, once it has run, the
 * change it made (mmapfs_changed()).  The mount's state is taken before
 * the call: after the reply the request is gone.
 */
#define TIMED(counter, handler, params, args)                           \
	static void timed_##handler params                              \
	{                                                               \
		struct mmapfs *fs = fuse_req_userdata(req);             \
		guint64 start = stats_now_ns();                         \
									\
		mmapfs_op_##handler args;                               \
		if (changes_files(STATS_##counter))                     \
			mmapfs_changed(fs);                             \
		stats_op_done(&fs->stats, STATS_##counter, start);      \
	}
#define TIMED_OP(counter, name, handler, params, args) \
	TIMED(counter, handler, params, args)
MMAPFS_OPS(TIMED_OP, TIMED)

#define ENTRY(counter, handler, params, args) .handler = timed_##handler,
#define ENTRY_OP(counter, name, handler, params, args) \
	ENTRY(counter, handler, params, args)

const struct fuse_lowlevel_ops mmapfs_ops = {
	.init = mmapfs_init,
	.destroy = mmapfs_destroy,
	MMAPFS_OPS(ENTRY_OP, ENTRY)
};
