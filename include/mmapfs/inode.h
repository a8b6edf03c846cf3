/*
 * inode.h - the inode table: FUSE node ids to backing inodes.
 *
 * Each FUSE inode is one backing inode, identified by (st_dev, st_ino), so
 * every hard link of a file is the same node.  No node holds a descriptor
 * for as long as it is known (a user who makes a million directories must
 * not take the daemon's descriptors from everyone else); a node reaches its
 * backing inode again in one of two ways:
 *   - by file handle (name_to_handle_at), opened again with
 *     open_by_handle_at.  Handles need CAP_DAC_READ_SEARCH and a filesystem
 *     that exports them (ext4, xfs, btrfs, tmpfs, ...) on SOURCE's own
 *     mount; inode_table_new() finds out at start;
 *   - by name, where handles cannot be used (an ordinary user's daemon, a
 *     FUSE or network backing, a mount inside SOURCE): the node keeps its
 *     parent node and the name it was last looked up or renamed by, and is
 *     opened with openat() in its parent.  A name that no longer leads to
 *     the node's (dev, ino) answers ENOENT, as a path-based mirror would.
 * In front of both, a bounded cache keeps the descriptors of the directories
 * used last (every lookup's parent), so that a walk reopens nothing.
 * Every name is resolved with *at() calls relative to a directory's
 * descriptor, one component at a time and never through a symlink, so
 * nothing outside SOURCE is reachable.
 *
 * A node's FUSE id is its address, except for the root, which is
 * INODE_ROOT_ID (FUSE_ROOT_ID: ops.h checks both that and that an address
 * fits in a fuse_ino_t).  The kernel holds a lookup reference for every id
 * it knows, so the node behind an id in a request stays valid for that
 * request.  The table itself calls nothing of libfuse: it is part of the
 * core, and its unit tests and the read engine's link no FUSE.
 *
 * Thread-safe.  The table's locks are never held across a syscall that can
 * block on the backing filesystem except close(), and never across a FUSE
 * reply.
 */
#ifndef MMAPFS_INODE_H
#define MMAPFS_INODE_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include <glib.h>

#include "mmapfs/devino.h"

struct inode_name;

/*
 * A million of these may be known at once: the fields are ordered (and the
 * counts sized) so that a node takes 56 bytes, a 64-byte malloc chunk.
 */
struct inode {
	struct devino id;       /* immutable; first: the hash table's key */
	union {
		struct file_handle *handle;  /* immutable, when !by_name */
		struct inode_name *name;     /* when by_name; private to
					      * inode.c, protected by its
					      * table's lock */
	} reach;

	/*
	 * The file's data protocol (filedata.h), private to filedata.c: no
	 * other file reads or writes these.  All atomic.
	 *   data_stamp  inode_data_stamp() of the file when the kernel was
	 *               last given its pages (an open, or a whole push)
	 *   writers     opens for writing now
	 *   data_gen    bumped by every change the kernel's copy may miss;
	 *               its top bit is set once the file is to be read with
	 *               pread only (one word: the node's size is bounded)
	 *   kernel_size the size the kernel may hold for the file at most,
	 *               which with -o writeback it never takes from
	 *               attributes once it has the inode (UINT32_MAX: 4 GiB
	 *               or more, not known)
	 *   opens       opens through the mount now, up to OPENS_MAX (which
	 *               then stays: some), and OPENS_STORING while an open
	 *               stores the file into the kernel's cache
	 */
	guint64 data_stamp;

	gint writers;
	guint32 data_gen;
	guint32 kernel_size;

	/* Private to inode.c. */
	uint32_t nlookup;       /* protected by table->lock */
	uint32_t holds;         /* protected by table->lock; each child
				 * reached by name holds its parent */

	uint8_t type_bits;      /* immutable: st_mode & S_IFMT, >> 12 */
	uint8_t opens;          /* the file's data protocol, above */
	uint8_t by_name;        /* immutable: reached by reach.name */
	/* (atomic) Known to have no security.capability: set by getxattr
	 * (ops_xattr.c) where a watcher runs, cleared by any xattr change
	 * through the mount and by the watcher's events for the file.  The
	 * kernel asks before every write. */
	uint8_t no_caps;
};

#define INODE_ROOT_ID 1    /* the root's FUSE id */

/* node's file type, as st_mode & S_IFMT. */
static inline mode_t inode_type(const struct inode *node)
{
	return (mode_t)node->type_bits << 12;
}

struct inode_table;

/* How a table reaches its nodes; all zero is the default. */
struct inode_table_params {
	/* Directory descriptors kept open at most (the root's aside);
	 * 0: an eighth of RLIMIT_NOFILE, at least 16 and at most 4096. */
	unsigned dir_fds;
	/* Reach every node by name, as without CAP_DAC_READ_SEARCH. */
	bool no_handles;
};

/*
 * Opens SOURCE as the root; params may be NULL.  Returns NULL with *error
 * set on failure.
 */
struct inode_table *inode_table_new(const char *source,
				    const struct inode_table_params *params,
				    GError **error);

void inode_table_free(struct inode_table *t);

/* The node behind a FUSE id the kernel sent. */
struct inode *inode_from_id(struct inode_table *t, uint64_t id);

/* The FUSE id of a node. */
uint64_t inode_id(struct inode_table *t, const struct inode *node);

/*
 * Resolves one name in the directory parent without following a symlink.
 * On success returns 0, fills *st and *out with a node whose lookup count
 * has been raised by one (the caller owes the kernel, or inode_forget()).
 * A node reached by name is reached by this name from now on.  Returns a
 * negative errno otherwise: -EINVAL for "", ".", ".." and names holding
 * '/', which the kernel never sends.
 */
int inode_lookup(struct inode_table *t, struct inode *parent,
		 const char *name, struct stat *st, struct inode **out);

/*
 * inode_lookup() in two halves, for a lookup made ahead of the request
 * that needs it (a listing read ahead, ops_dir.c): what the source says of
 * one name, taken without touching the table, and its entry into the
 * table later.
 */
struct inode_probe {
	struct stat st;              /* the file's attributes */
	struct file_handle *handle;  /* its handle, or NULL (none, or not of
				      * the root's mount) */
	int fd;                      /* an O_PATH descriptor of it, or -1 */
	bool first;                  /* set by inode_lookup_probed(): the
				      * node had no lookup count before, so
				      * the kernel makes a new inode of it */
};

/*
 * Fills *p from parent's entry name, as inode_lookup() would see it; with
 * keep_fd, p keeps the file's O_PATH descriptor (a directory's is then
 * cached by inode_lookup_probed()).  Returns 0, or a negative errno with
 * nothing held.  Touches no node's lookup count: p may be dropped with
 * inode_probe_clear() and nothing is owed.
 */
int inode_probe(struct inode_table *t, struct inode *parent, const char *name,
		bool keep_fd, struct inode_probe *p);

/* Gives back what a successful inode_probe() holds. */
void inode_probe_clear(struct inode_probe *p);

/*
 * The second half: the node p found for name in parent, its lookup count
 * raised by one, as inode_lookup() returns it.  Takes what p holds (p->st
 * stays).  However old p is, the table stays consistent (an inode number
 * found with another handle is another file); whether its attributes are
 * still true is the caller's to judge.
 */
struct inode *inode_lookup_probed(struct inode_table *t, struct inode *parent,
				  const char *name, struct inode_probe *p);

/* Lowers a node's lookup count by n; frees it at zero (never the root).
 * Returns whether lookups are left: answered since the kernel let go of
 * the inode it forgets (it made a new one of them), or still in flight.
 * The node may be freed by then unless the caller holds it. */
bool inode_forget(struct inode_table *t, struct inode *node, uint64_t n);

/*
 * Keeps node allocated, even once the kernel forgets it, until the matching
 * inode_unhold(): for work queued beyond the request that named the node.
 */
void inode_hold(struct inode_table *t, struct inode *node);
void inode_unhold(struct inode_table *t, struct inode *node);

/* Nodes known now, the root included. */
unsigned inode_table_size(struct inode_table *t);

/*
 * An O_PATH descriptor of node, for the caller's use until it gives it back
 * with inode_fd_put() (a directory's stays cached; nothing closes it
 * meanwhile).  Call it with the daemon's own credentials: opening by handle
 * needs its capabilities.  Returns a negative errno on failure (-ENOENT when
 * the file is gone, or its name no longer leads to it).
 */
int inode_fd(struct inode_table *t, struct inode *node);
void inode_fd_put(struct inode_table *t, struct inode *node, int fd);

/*
 * After a rename through the mount: the node that name in dir now names (if
 * the kernel knows it, and it is reached by name) is reached by it.
 */
void inode_renamed(struct inode_table *t, struct inode *dir, const char *name);

/*
 * node's path as the daemon can name it now, relative to SOURCE ("." for
 * the root; absolute if it is outside, "(deleted)" at the end if it has no
 * name left); NULL if it cannot be reached.  For people: log lines and
 * listings.  g_free() it.
 */
char *inode_path(struct inode_table *t, struct inode *node);

/* Directory descriptors open now (the root's aside), and the most kept. */
unsigned inode_table_dir_fds(struct inode_table *t, unsigned *budget);

/*
 * The file's size and mtime, mixed into one word (never 0): what
 * inode.data_stamp holds.
 */
guint64 inode_data_stamp(const struct stat *st);

/* Opens node's file with flags (not O_PATH).  Returns a descriptor or -errno. */
int inode_open(struct inode_table *t, struct inode *node, int flags);

/*
 * The file a request is about: its node and the descriptor of the open
 * file the kernel named, or fd -1 for a file the kernel opened without us
 * (no-open, see ops.h).  inode_file_fd() then opens one, read-only, for
 * this request, and inode_file_done() closes it.
 */
struct inode_file {
	struct inode *node;
	int fd;
	bool own_fd;            /* fd was opened by inode_file_fd() */
};

/* f's descriptor, opened read-only if it has none yet; or -errno. */
int inode_file_fd(struct inode_table *t, struct inode_file *f);

/* Closes what inode_file_fd() opened. */
void inode_file_done(struct inode_file *f);

/*
 * Who is told when directory nodes come and go (the watcher, which keeps a
 * mark on every directory the kernel knows).  added() runs after a new
 * directory node entered the table, with no lock held; removed() runs just
 * before a directory node is freed, while inode_fd() can still reach it,
 * with no lock held.  Two nodes of the same directory may exist for a moment (one
 * leaving, one arriving), and the calls for them may come in either order.
 */
struct inode_dir_watch {
	void (*added)(void *data, struct inode *dir);
	void (*removed)(void *data, struct inode *dir);
	void *data;
};

/*
 * Installs (w) or removes (NULL) the directory watch.  The table copies *w.
 * Call it while no request is being handled (before the session loop
 * starts, after it stops).
 */
void inode_table_set_dir_watch(struct inode_table *t,
			       const struct inode_dir_watch *w);

/* The root node: a directory, known for as long as the table exists. */
struct inode *inode_table_root(struct inode_table *t);

/*
 * The node of a backing inode, held (inode_unhold() it), if the kernel
 * knows it now; else NULL.
 */
struct inode *inode_table_find(struct inode_table *t, const struct devino *id);

/* Every node known now, each held; for rare sweeps (a lost event queue). */
GPtrArray *inode_table_hold_all(struct inode_table *t);

/*
 * Whether node is the table's node for its (st_dev, st_ino): false for a
 * node whose inode number was found to belong to another file since (its
 * handle no longer matched; it lives on until the kernel forgets it).
 */
bool inode_is_current(struct inode_table *t, const struct inode *node);

/* Whether nodes are reached by file handle (else by name). */
bool inode_table_uses_handles(struct inode_table *t);

/*
 * Writes "/proc/self/fd/N" into buf: the path by which calls that have no
 * *at() form with AT_EMPTY_PATH (chmod, xattrs, ...) reach exactly the
 * inode an O_PATH descriptor holds (a symlink itself, not its target).
 */
#define PROC_FD_PATH_MAX 32
void proc_fd_path(int fd, char buf[PROC_FD_PATH_MAX]);

#endif
