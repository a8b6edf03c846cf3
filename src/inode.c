/*
 * inode.c - see include/mmapfs/inode.h.
 *
 * DESIGN: a GHashTable keyed by (dev, ino) finds the node of a backing inode
 * that the kernel already knows, so that a second name of a hard-linked file
 * (or a second lookup of the same name) returns the same node.  The table
 * holds every node with a lookup count above zero, and the root always.
 *
 * A node that holds a descriptor keeps its backing inode alive, so the inode
 * number cannot be reused while the node exists.  A node that holds a file
 * handle does not: the file may be deleted behind our back and its number
 * given to a new file.  The handle carries the inode's generation, so a
 * lookup compares handles, and a node whose handle no longer matches is
 * moved from the table to the orphans (it lives on, unreachable by name,
 * until the kernel forgets it, or the table is freed).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mmapfs/fstype.h"
#include "mmapfs/inode.h"

/* The memory target: a million nodes in 64-byte malloc chunks. */
G_STATIC_ASSERT(sizeof(struct inode) <= 56);

struct inode_table {
	pthread_mutex_t lock;
	GHashTable *nodes;      /* (dev, ino) -> node; protected by lock */
	GHashTable *orphans;    /* nodes taken out of nodes (their inode
				 * number was reused) that the kernel still
				 * knows; protected by lock */
	struct inode *root;     /* immutable */
	bool use_handles;       /* immutable */
	int mount_id;           /* the root's mount, where handles are valid */
	int mount_fd;           /* the root, opened for open_by_handle_at(),
				 * which refuses O_PATH descriptors */
	struct inode_dir_watch watch;  /* set while no request runs */
};

static struct inode *node_new(int fd, const struct stat *st,
			      struct file_handle *handle)
{
	struct inode *n = g_new0(struct inode, 1);

	n->id = devino_of(st);
	n->fd = fd;
	n->handle = handle;
	n->type = st->st_mode & S_IFMT;
	n->nlookup = 1;
	return n;
}

static void node_free(struct inode_table *t, struct inode *n)
{
	if (n->type == S_IFDIR && t->watch.removed)
		t->watch.removed(t->watch.data, n);
	if (n->fd >= 0)
		close(n->fd);
	g_free(n->handle);
	g_free(n);
}

/* The handle of what fd holds (g_free it) and its mount, or NULL. */
static struct file_handle *handle_of(int fd, int *mount_id)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;

	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", &h.fh, mount_id, AT_EMPTY_PATH) < 0)
		return NULL;
	return g_memdup2(&h, sizeof(h.fh) + h.fh.handle_bytes);
}

static bool same_handle(const struct file_handle *a, const struct file_handle *b)
{
	return a->handle_type == b->handle_type &&
	       a->handle_bytes == b->handle_bytes &&
	       !memcmp(a->f_handle, b->f_handle, a->handle_bytes);
}

/* Whether the root's filesystem gives handles we may open again. */
static bool probe_handles(struct inode_table *t)
{
	g_autofree struct file_handle *h = NULL;
	int fd;

	/* A FUSE filesystem's handle names its node, and a high-level FUSE
	 * daemon (bindfs, sshfs) gives each hard link a node of its own: two
	 * handles for one inode would look like an inode number reused. */
	if (fstype_is_fuse(t->root->fd))
		return false;
	h = handle_of(t->root->fd, &t->mount_id);
	if (!h)
		return false;
	fd = open_by_handle_at(t->mount_fd, h, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return false;       /* EPERM without CAP_DAC_READ_SEARCH */
	close(fd);
	return true;
}

struct inode_table *inode_table_new(const char *source, GError **error)
{
	struct inode_table *t;
	struct stat st;
	int fd;

	fd = open(source, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
			    "cannot open source '%s': %s", source, g_strerror(e));
		return NULL;
	}
	t = g_new0(struct inode_table, 1);
	pthread_mutex_init(&t->lock, NULL);
	t->nodes = g_hash_table_new(devino_hash, devino_equal);
	t->orphans = g_hash_table_new(NULL, NULL);
	t->root = node_new(fd, &st, NULL);
	g_hash_table_insert(t->nodes, &t->root->id, t->root);
	t->mount_fd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	t->use_handles = t->mount_fd >= 0 && probe_handles(t);
	return t;
}

void inode_table_free(struct inode_table *t)
{
	GHashTableIter it;
	gpointer value;

	if (!t)
		return;
	g_hash_table_iter_init(&it, t->nodes);
	while (g_hash_table_iter_next(&it, NULL, &value))
		node_free(t, value);
	g_hash_table_iter_init(&it, t->orphans);
	while (g_hash_table_iter_next(&it, &value, NULL))
		node_free(t, value);
	g_hash_table_unref(t->nodes);
	g_hash_table_unref(t->orphans);
	if (t->mount_fd >= 0)
		close(t->mount_fd);
	pthread_mutex_destroy(&t->lock);
	g_free(t);
}

void inode_table_set_dir_watch(struct inode_table *t,
			       const struct inode_dir_watch *w)
{
	t->watch = w ? *w : (struct inode_dir_watch){ 0 };
}

struct inode *inode_table_root(struct inode_table *t)
{
	return t->root;
}

struct inode *inode_table_find(struct inode_table *t, const struct devino *id)
{
	struct inode *n;

	pthread_mutex_lock(&t->lock);
	n = g_hash_table_lookup(t->nodes, id);
	if (n)
		n->holds++;
	pthread_mutex_unlock(&t->lock);
	return n;
}

GPtrArray *inode_table_hold_all(struct inode_table *t)
{
	GPtrArray *all;
	GHashTableIter it;
	gpointer value;

	pthread_mutex_lock(&t->lock);
	all = g_ptr_array_sized_new(g_hash_table_size(t->nodes));
	g_hash_table_iter_init(&it, t->nodes);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		((struct inode *)value)->holds++;
		g_ptr_array_add(all, value);
	}
	pthread_mutex_unlock(&t->lock);
	return all;
}

bool inode_table_uses_handles(struct inode_table *t)
{
	return t->use_handles;
}

struct inode *inode_from_id(struct inode_table *t, uint64_t id)
{
	return id == INODE_ROOT_ID ? t->root : (struct inode *)(uintptr_t)id;
}

uint64_t inode_id(struct inode_table *t, const struct inode *node)
{
	return node == t->root ? INODE_ROOT_ID : (uint64_t)(uintptr_t)node;
}

int inode_lookup(struct inode_table *t, struct inode *parent,
		 const char *name, struct stat *st, struct inode **out)
{
	struct file_handle *handle = NULL;
	struct inode *n;
	bool added = false;
	int fd;

	if (!name[0] || !strcmp(name, ".") || !strcmp(name, "..") ||
	    strchr(name, '/'))
		return -EINVAL;
	fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	/* Directories keep their descriptor: they are every lookup's parent.
	 * Handles are opened through the root: only those of its mount. */
	if (t->use_handles && !S_ISDIR(st->st_mode)) {
		int mount_id;

		handle = handle_of(fd, &mount_id);
		if (handle && mount_id != t->mount_id)
			g_clear_pointer(&handle, g_free);
	}

	pthread_mutex_lock(&t->lock);
	n = g_hash_table_lookup(t->nodes, &(struct devino){ st->st_dev, st->st_ino });
	if (n && n->handle && (!handle || !same_handle(n->handle, handle))) {
		/* That inode number now belongs to another file. */
		g_hash_table_remove(t->nodes, &n->id);
		g_hash_table_add(t->orphans, n);
		n = NULL;
	}
	if (n) {
		if (n->nlookup < UINT32_MAX)
			n->nlookup++;
	} else {
		n = node_new(handle ? -1 : fd, st, handle);
		g_hash_table_insert(t->nodes, &n->id, n);
		added = S_ISDIR(st->st_mode);
		if (!handle)
			fd = -1;
		handle = NULL;
	}
	pthread_mutex_unlock(&t->lock);

	if (fd >= 0)
		close(fd);
	g_free(handle);
	/* The caller's lookup reference keeps n alive meanwhile. */
	if (added && t->watch.added)
		t->watch.added(t->watch.data, n);
	*out = n;
	return 0;
}

void inode_forget(struct inode_table *t, struct inode *node, uint64_t n)
{
	bool gone = false;

	pthread_mutex_lock(&t->lock);
	if (n > node->nlookup)   /* a confused kernel must not wrap the count */
		n = node->nlookup;
	node->nlookup -= n;
	if (node->nlookup == 0 && node != t->root) {
		/* Unless a newer node took its place (see inode_lookup). */
		if (g_hash_table_lookup(t->nodes, &node->id) == node)
			g_hash_table_remove(t->nodes, &node->id);
		else
			g_hash_table_remove(t->orphans, node);
		gone = node->holds == 0;    /* else the last inode_unhold() */
	}
	pthread_mutex_unlock(&t->lock);

	if (gone)
		node_free(t, node);
}

void inode_hold(struct inode_table *t, struct inode *node)
{
	pthread_mutex_lock(&t->lock);
	node->holds++;
	pthread_mutex_unlock(&t->lock);
}

void inode_unhold(struct inode_table *t, struct inode *node)
{
	bool gone;

	pthread_mutex_lock(&t->lock);
	gone = --node->holds == 0 && node->nlookup == 0 && node != t->root;
	pthread_mutex_unlock(&t->lock);
	if (gone)
		node_free(t, node);
}

unsigned inode_table_size(struct inode_table *t)
{
	unsigned n;

	pthread_mutex_lock(&t->lock);
	n = g_hash_table_size(t->nodes);
	pthread_mutex_unlock(&t->lock);
	return n;
}

/*
 * open_by_handle_at() for node.  A file that is gone answers ESTALE, or,
 * on ext4 while its inode is being freed, ENOMEM (measured: a file deleted
 * and recreated behind a reader); both become ENOENT, what an open of the
 * name would say now.  ENOMEM is tried once more first, in case memory
 * really was short.
 */
static int open_handle(struct inode_table *t, const struct inode *node,
		       int flags)
{
	int fd = open_by_handle_at(t->mount_fd, node->handle, flags | O_CLOEXEC);

	if (fd < 0 && errno == ENOMEM)
		fd = open_by_handle_at(t->mount_fd, node->handle, flags | O_CLOEXEC);
	if (fd < 0)
		return errno == ESTALE || errno == ENOMEM ? -ENOENT : -errno;
	return fd;
}

int inode_fd(struct inode_table *t, const struct inode *node)
{
	if (node->fd >= 0)
		return node->fd;
	return open_handle(t, node, O_PATH);
}

void inode_fd_put(const struct inode *node, int fd)
{
	if (fd >= 0 && fd != node->fd)
		close(fd);
}

guint64 inode_data_stamp(const struct stat *st)
{
	guint64 h = (guint64)st->st_size * 0x9e3779b97f4a7c15ull;

	h ^= ((guint64)st->st_mtim.tv_sec << 30) + (guint64)st->st_mtim.tv_nsec;
	h *= 0xff51afd7ed558ccdull;
	return (h ^ (h >> 33)) | 1;
}

int inode_open(struct inode_table *t, const struct inode *node, int flags)
{
	char path[PROC_FD_PATH_MAX];
	int fd;

	if (node->fd < 0)
		return open_handle(t, node, flags);
	proc_fd_path(node->fd, path);
	fd = open(path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int inode_file_fd(struct inode_table *t, struct inode_file *f)
{
	if (f->fd < 0) {
		f->fd = inode_open(t, f->node, O_RDONLY);
		f->own_fd = f->fd >= 0;
	}
	return f->fd;
}

void inode_file_done(struct inode_file *f)
{
	if (f->own_fd)
		close(f->fd);
	f->own_fd = false;
	f->fd = -1;
}

void proc_fd_path(int fd, char buf[PROC_FD_PATH_MAX])
{
	snprintf(buf, PROC_FD_PATH_MAX, "/proc/self/fd/%d", fd);
}
