/*
 * inode.c - see include/mmapfs/inode.h.
 *
 * DESIGN: a GHashTable keyed by (dev, ino) finds the node of a backing inode
 * that the kernel already knows, so that a second name of a hard-linked file
 * (or a second lookup of the same name) returns the same node.  The table
 * holds every node with a lookup count above zero, and the root always.
 *
 * No node holds a descriptor, so a backing inode may be deleted behind our
 * back and its number given to a new file.  A handle carries the inode's
 * generation, so a lookup compares handles, and a node whose handle no
 * longer matches is moved from the table to the orphans (it lives on,
 * unreachable by name, until the kernel forgets it, or the table is freed).
 * A node reached by name checks (dev, ino) each time it is opened.
 *
 * A node reached by name holds its parent (inode_hold), so the chain of
 * names up to the root, or to a node reached by handle, always exists; a
 * name is never set to a parent below the node itself, so the chain has no
 * cycle even when renames outside the mount confuse it.
 *
 * The directory descriptor cache: an LRU of O_PATH descriptors keyed by
 * node, at most t->dir_budget of them.  A descriptor handed out by
 * inode_fd() counts a user, and is not closed before its inode_fd_put():
 * eviction passes over it.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mmapfs/fstype.h"
#include "mmapfs/inode.h"

/* The memory target: a million nodes in 64-byte malloc chunks. */
G_STATIC_ASSERT(sizeof(struct inode) <= 56);

/* Nodes reached by name in a chain with no descriptor cached: a deeper
 * chain answers ELOOP rather than use the stack without bound. */
#define NAME_CHAIN_MAX 256

/* A name that led elsewhere: how often the node is looked for again, and
 * how many entries of its directory are searched each time. */
#define NAME_RETRIES 3
#define SCAN_MAX 4096

struct inode_name {
	struct inode *parent;   /* held by this name */
	char name[];
};

struct dir_fd {
	struct inode *dir;
	int fd;                 /* O_PATH | O_NOFOLLOW */
	unsigned users;         /* handed out and not yet put back */
	GList link;             /* in inode_table.lru */
};

struct inode_table {
	pthread_mutex_t lock;
	GHashTable *nodes;      /* (dev, ino) -> node; protected by lock */
	GHashTable *orphans;    /* nodes taken out of nodes (their inode
				 * number was reused) that the kernel still
				 * knows; protected by lock */
	struct inode *root;     /* immutable */
	int root_fd;            /* immutable: the root's O_PATH descriptor */
	char *root_path;        /* immutable: where root_fd leads */
	bool use_handles;       /* immutable */
	int mount_id;           /* the root's mount, where handles are valid */
	int mount_fd;           /* the root, opened for open_by_handle_at(),
				 * which refuses O_PATH descriptors */
	struct inode_dir_watch watch;  /* set while no request runs */

	/* The directory descriptor cache.  fds_lock is never held together
	 * with lock. */
	pthread_mutex_t fds_lock;
	GHashTable *dir_fds;    /* node -> struct dir_fd; protected by fds_lock */
	GQueue lru;             /* of dir_fd.link, most recent first;
				 * protected by fds_lock */
	unsigned dir_budget;    /* immutable */
};

static int node_fd(struct inode_table *t, struct inode *node, unsigned depth);

/* ---- the directory descriptor cache ---- */

/*
 * Enters fd as dir's descriptor (or, if another thread entered one first,
 * closes fd) and returns the cached one, with a user counted if use.
 * Closes what falls out of the cache.
 */
static int dir_fd_add(struct inode_table *t, struct inode *dir, int fd,
		      bool use)
{
	/* (On the stack: glib 2.74's slice allocator, behind GArray, hands
	 * memory between threads in a way ThreadSanitizer cannot follow.)
	 * One entry in, one out, as a rule: a few more when descriptors in
	 * use were passed over; the rest go with the next additions. */
	int evicted[8];
	unsigned n_evicted = 0;
	struct dir_fd *d;
	int cached;

	pthread_mutex_lock(&t->fds_lock);
	d = g_hash_table_lookup(t->dir_fds, dir);
	if (!d) {
		d = g_new0(struct dir_fd, 1);
		d->dir = dir;
		d->fd = fd;
		d->link.data = d;
		g_hash_table_insert(t->dir_fds, dir, d);
		g_queue_push_head_link(&t->lru, &d->link);
		fd = -1;
		for (GList *l = t->lru.tail; l && t->lru.length > t->dir_budget &&
		     n_evicted < G_N_ELEMENTS(evicted);) {
			struct dir_fd *old = l->data;

			l = l->prev;
			if (old->users)
				continue;
			g_queue_unlink(&t->lru, &old->link);
			g_hash_table_remove(t->dir_fds, old->dir);
			evicted[n_evicted++] = old->fd;
			g_free(old);
		}
	}
	if (use)
		d->users++;
	cached = d->fd;
	pthread_mutex_unlock(&t->fds_lock);

	if (fd >= 0)
		close(fd);
	for (unsigned i = 0; i < n_evicted; i++)
		close(evicted[i]);
	return cached;
}

/* dir's cached descriptor, with a user counted; or -1. */
static int dir_fd_use(struct inode_table *t, struct inode *dir)
{
	struct dir_fd *d;
	int fd = -1;

	pthread_mutex_lock(&t->fds_lock);
	d = g_hash_table_lookup(t->dir_fds, dir);
	if (d) {
		d->users++;
		g_queue_unlink(&t->lru, &d->link);
		g_queue_push_head_link(&t->lru, &d->link);
		fd = d->fd;
	}
	pthread_mutex_unlock(&t->fds_lock);
	return fd;
}

/* Gives back a user of dir's cached fd; false if fd is not the cached one. */
static bool dir_fd_unuse(struct inode_table *t, struct inode *dir, int fd)
{
	struct dir_fd *d;
	bool found;

	pthread_mutex_lock(&t->fds_lock);
	d = g_hash_table_lookup(t->dir_fds, dir);
	found = d && d->fd == fd && d->users > 0;
	if (found)
		d->users--;
	pthread_mutex_unlock(&t->fds_lock);
	return found;
}

/* Closes dir's cached descriptor: dir is being freed. */
static void dir_fd_drop(struct inode_table *t, struct inode *dir)
{
	struct dir_fd *d;

	pthread_mutex_lock(&t->fds_lock);
	d = g_hash_table_lookup(t->dir_fds, dir);
	if (d) {
		g_queue_unlink(&t->lru, &d->link);
		g_hash_table_remove(t->dir_fds, dir);
	}
	pthread_mutex_unlock(&t->fds_lock);
	if (!d)
		return;
	/* A node is freed only once nothing uses it. */
	g_warn_if_fail(d->users == 0);
	if (d->users == 0)
		close(d->fd);
	g_free(d);
}

unsigned inode_table_dir_fds(struct inode_table *t, unsigned *budget)
{
	unsigned n;

	pthread_mutex_lock(&t->fds_lock);
	n = t->lru.length;
	pthread_mutex_unlock(&t->fds_lock);
	if (budget)
		*budget = t->dir_budget;
	return n;
}

/* ---- nodes ---- */

static struct inode_name *name_new(struct inode *parent, const char *name)
{
	size_t len = strlen(name) + 1;
	struct inode_name *n = g_malloc(sizeof(*n) + len);

	n->parent = parent;
	memcpy(n->name, name, len);
	return n;
}

/* Whether node is parent or one of its ancestors by name.  Under lock. */
static bool is_ancestor(const struct inode *node, const struct inode *parent)
{
	for (const struct inode *p = parent; p; ) {
		if (p == node)
			return true;
		p = p->by_name ? p->reach.name->parent : NULL;
	}
	return false;
}

/*
 * Makes node (reached by name) reached by name in parent from now on.
 * Under lock.  Returns the old parent, whose hold the caller gives back
 * with inode_unhold() once the lock is released; or NULL.
 */
static struct inode *rename_locked(struct inode *node, struct inode *parent,
				   const char *name)
{
	struct inode_name *old = node->reach.name;
	struct inode *old_parent = old->parent;

	if (old_parent == parent && !strcmp(old->name, name))
		return NULL;
	if (is_ancestor(node, parent))
		return NULL;    /* a stale chain: keep the old name */
	parent->holds++;
	node->reach.name = name_new(parent, name);
	g_free(old);
	return old_parent;
}

/* A node with one lookup reference; reached by handle, else by name. */
static struct inode *node_new(const struct stat *st, struct file_handle *handle,
			      struct inode *parent, const char *name)
{
	struct inode *n = g_new0(struct inode, 1);

	n->id = devino_of(st);
	n->type_bits = (uint8_t)((st->st_mode & S_IFMT) >> 12);
	n->nlookup = 1;
	if (handle) {
		n->reach.handle = handle;
	} else if (parent) {
		n->by_name = 1;
		n->reach.name = name_new(parent, name);
		parent->holds++;        /* under the table lock */
	}
	return n;
}

static void node_free_memory(struct inode *n)
{
	if (n->by_name)
		g_free(n->reach.name);
	else
		g_free(n->reach.handle);
	g_free(n);
}

/* Frees a node that nothing uses any more (neither lookups nor holds). */
static void node_free(struct inode_table *t, struct inode *n)
{
	struct inode *parent = n->by_name ? n->reach.name->parent : NULL;

	if (S_ISDIR(inode_type(n))) {
		if (t->watch.removed)
			t->watch.removed(t->watch.data, n);
		dir_fd_drop(t, n);
	}
	node_free_memory(n);
	if (parent)
		inode_unhold(t, parent);
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
	if (fstype_is_fuse(t->root_fd))
		return false;
	h = handle_of(t->root_fd, &t->mount_id);
	if (!h)
		return false;
	fd = open_by_handle_at(t->mount_fd, h, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return false;       /* EPERM without CAP_DAC_READ_SEARCH */
	close(fd);
	return true;
}

/* Where descriptor fd leads, as the kernel names it; or NULL. */
static char *fd_path(int fd)
{
	char proc[PROC_FD_PATH_MAX];

	proc_fd_path(fd, proc);
	return g_file_read_link(proc, NULL);
}

char *inode_path(struct inode_table *t, struct inode *node)
{
	int fd = inode_fd(t, node);
	char *path = fd < 0 ? NULL : fd_path(fd);
	size_t n = t->root_path ? strlen(t->root_path) : 0;

	inode_fd_put(t, node, fd);
	if (!path || !n || strncmp(path, t->root_path, n))
		return path;
	if (path[n] == '\0') {
		g_free(path);
		return g_strdup(".");
	}
	if (path[n] == '/' || !strcmp(t->root_path, "/")) {
		char *rel = g_strdup(path + n + (path[n] == '/'));

		g_free(path);
		return rel;
	}
	return path;
}

/* The default directory budget: an eighth of the descriptors we may open. */
static unsigned default_dir_budget(void)
{
	struct rlimit rl;
	rlim_t n = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		n = rl.rlim_cur;
	return CLAMP(n / 8, 16, 4096);
}

struct inode_table *inode_table_new(const char *source,
				    const struct inode_table_params *params,
				    GError **error)
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
	pthread_mutex_init(&t->fds_lock, NULL);
	t->nodes = g_hash_table_new(devino_hash, devino_equal);
	t->orphans = g_hash_table_new(NULL, NULL);
	t->dir_fds = g_hash_table_new(NULL, NULL);
	g_queue_init(&t->lru);
	t->dir_budget = params && params->dir_fds ? params->dir_fds
						  : default_dir_budget();
	t->root_fd = fd;
	t->root_path = fd_path(fd);
	t->root = node_new(&st, NULL, NULL, NULL);
	g_hash_table_insert(t->nodes, &t->root->id, t->root);
	t->mount_fd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	t->use_handles = !(params && params->no_handles) && t->mount_fd >= 0 &&
			 probe_handles(t);
	return t;
}

/* Adds n and, through its names, every node it holds to set. */
static void gather(GHashTable *set, struct inode *n)
{
	while (n && g_hash_table_add(set, n))
		n = n->by_name ? n->reach.name->parent : NULL;
}

void inode_table_free(struct inode_table *t)
{
	g_autoptr(GHashTable) all = NULL;
	GHashTableIter it;
	gpointer value;

	if (!t)
		return;
	/* Nodes the kernel forgot but a child's name still holds are in
	 * neither table: they are found through their children. */
	all = g_hash_table_new(NULL, NULL);
	g_hash_table_iter_init(&it, t->nodes);
	while (g_hash_table_iter_next(&it, NULL, &value))
		gather(all, value);
	g_hash_table_iter_init(&it, t->orphans);
	while (g_hash_table_iter_next(&it, &value, NULL))
		gather(all, value);
	g_hash_table_iter_init(&it, all);
	while (g_hash_table_iter_next(&it, &value, NULL)) {
		struct inode *n = value;

		if (S_ISDIR(inode_type(n)) && t->watch.removed)
			t->watch.removed(t->watch.data, n);
	}
	g_hash_table_iter_init(&it, all);
	while (g_hash_table_iter_next(&it, &value, NULL)) {
		dir_fd_drop(t, value);
		node_free_memory(value);
	}
	g_hash_table_unref(t->nodes);
	g_hash_table_unref(t->orphans);
	g_hash_table_unref(t->dir_fds);
	close(t->root_fd);
	g_free(t->root_path);
	if (t->mount_fd >= 0)
		close(t->mount_fd);
	pthread_mutex_destroy(&t->fds_lock);
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

bool inode_is_current(struct inode_table *t, const struct inode *node)
{
	bool current;

	if (node == t->root)
		return true;
	pthread_mutex_lock(&t->lock);
	current = g_hash_table_lookup(t->nodes, &node->id) == node;
	pthread_mutex_unlock(&t->lock);
	return current;
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

int inode_probe(struct inode_table *t, struct inode *parent, const char *name,
		bool keep_fd, struct inode_probe *p)
{
	int fd, pfd;

	*p = (struct inode_probe){ .fd = -1 };
	if (!name[0] || !strcmp(name, ".") || !strcmp(name, "..") ||
	    strchr(name, '/'))
		return -EINVAL;
	pfd = inode_fd(t, parent);
	if (pfd < 0)
		return pfd;
	fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	inode_fd_put(t, parent, pfd);
	if (fd < 0)
		return fd;
	/* The attributes and the handle of one file: both through fd. */
	if (fstat(fd, &p->st) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	/* Handles are opened through the root: only those of its mount. */
	if (t->use_handles) {
		int mount_id;

		p->handle = handle_of(fd, &mount_id);
		if (p->handle && mount_id != t->mount_id)
			g_clear_pointer(&p->handle, g_free);
	}
	if (keep_fd)
		p->fd = fd;
	else
		close(fd);
	return 0;
}

void inode_probe_clear(struct inode_probe *p)
{
	if (p->fd >= 0)
		close(p->fd);
	g_clear_pointer(&p->handle, g_free);
	p->fd = -1;
}

int inode_lookup(struct inode_table *t, struct inode *parent,
		 const char *name, struct stat *st, struct inode **out)
{
	struct inode_probe p;
	int res = inode_probe(t, parent, name, true, &p);

	if (res < 0)
		return res;
	*st = p.st;
	*out = inode_lookup_probed(t, parent, name, &p);
	return 0;
}

struct inode *inode_lookup_probed(struct inode_table *t, struct inode *parent,
				  const char *name, struct inode_probe *p)
{
	struct file_handle *handle = g_steal_pointer(&p->handle);
	const struct stat *st = &p->st;
	struct inode *n, *unhold = NULL;
	bool added = false;

	pthread_mutex_lock(&t->lock);
	n = g_hash_table_lookup(t->nodes, &(struct devino){ st->st_dev, st->st_ino });
	if (n && !n->by_name && n->reach.handle &&
	    (!handle || !same_handle(n->reach.handle, handle))) {
		/* That inode number now belongs to another file. */
		g_hash_table_remove(t->nodes, &n->id);
		g_hash_table_add(t->orphans, n);
		n = NULL;
	}
	if (n) {
		p->first = n->nlookup == 0;
		if (n->nlookup < UINT32_MAX)
			n->nlookup++;
		if (n->by_name)
			unhold = rename_locked(n, parent, name);
	} else {
		p->first = true;
		n = node_new(st, handle, parent, name);
		g_hash_table_insert(t->nodes, &n->id, n);
		added = S_ISDIR(st->st_mode);
		handle = NULL;
	}
	pthread_mutex_unlock(&t->lock);

	g_free(handle);
	if (unhold)
		inode_unhold(t, unhold);
	/* The next lookup in a directory is likely one in this one. */
	if (S_ISDIR(st->st_mode) && p->fd >= 0)
		dir_fd_add(t, n, p->fd, false);
	else if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	/* The caller's lookup reference keeps n alive meanwhile. */
	if (added && t->watch.added)
		t->watch.added(t->watch.data, n);
	return n;
}

void inode_renamed(struct inode_table *t, struct inode *dir, const char *name)
{
	struct inode *n, *unhold = NULL;
	struct stat st;
	int pfd = inode_fd(t, dir);
	int res = pfd < 0 ? pfd : fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW);

	inode_fd_put(t, dir, pfd);
	if (res < 0)
		return;
	pthread_mutex_lock(&t->lock);
	n = g_hash_table_lookup(t->nodes, &(struct devino){ st.st_dev, st.st_ino });
	if (n && n->by_name)
		unhold = rename_locked(n, dir, name);
	pthread_mutex_unlock(&t->lock);
	if (unhold)
		inode_unhold(t, unhold);
}

bool inode_forget(struct inode_table *t, struct inode *node, uint64_t n)
{
	bool gone = false, left;

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
	left = node->nlookup > 0;
	pthread_mutex_unlock(&t->lock);

	if (gone)
		node_free(t, node);
	return left;
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
	int fd = open_by_handle_at(t->mount_fd, node->reach.handle, flags | O_CLOEXEC);

	if (fd < 0 && errno == ENOMEM)
		fd = open_by_handle_at(t->mount_fd, node->reach.handle, flags | O_CLOEXEC);
	if (fd < 0)
		return errno == ESTALE || errno == ENOMEM ? -ENOENT : -errno;
	return fd;
}

/* openat(pfd, name), checked to be node's inode; or -errno (-ENOENT: the
 * name leads elsewhere now). */
static int open_checked(const struct inode *node, int pfd, const char *name,
			int flags)
{
	struct stat st;
	int fd = openat(pfd, name, flags | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 ||
	    !devino_equal(&node->id, &(struct devino){ st.st_dev, st.st_ino })) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/*
 * node's entry among the first SCAN_MAX entries of the directory pfd,
 * opened, with its name in *found; or -ENOENT.  For a name that led
 * elsewhere: renamed (or exchanged) in SOURCE, in the same directory.
 */
static int scan_for(const struct inode *node, int pfd, int flags, char **found)
{
	int dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	unsigned seen = 0;
	int fd = -ENOENT;
	DIR *dp;

	if (dfd < 0)
		return -ENOENT;
	dp = fdopendir(dfd);
	if (!dp) {
		close(dfd);
		return -ENOENT;
	}
	while (fd == -ENOENT && seen++ < SCAN_MAX && (de = readdir(dp))) {
		if (de->d_ino != node->id.ino)
			continue;
		fd = open_checked(node, pfd, de->d_name, flags);
		if (fd >= 0)
			*found = g_strdup(de->d_name);
	}
	closedir(dp);
	return fd;
}

/* Whether node is still reached by name in parent.  Under lock. */
static bool name_is_locked(const struct inode *node, const struct inode *parent,
			   const char *name)
{
	return node->reach.name->parent == parent &&
	       !strcmp(node->reach.name->name, name);
}

/*
 * Opens node (reached by name) with flags, which hold O_PATH: by its name
 * in its parent's descriptor, checked to be the same inode.  A name that
 * leads elsewhere is read again (a rename through the mount records the
 * new one just after it is made), and then looked for in the parent,
 * where the node is found under its new name; renames racing this get a
 * few tries.
 */
static int open_by_name(struct inode_table *t, struct inode *node, int flags,
			unsigned depth)
{
	for (unsigned tries = 0;; tries++) {
		g_autofree char *name = NULL, *found = NULL;
		struct inode *parent, *unhold = NULL;
		bool moved = false;
		int pfd, fd;

		pthread_mutex_lock(&t->lock);
		parent = node->reach.name->parent;
		name = g_strdup(node->reach.name->name);
		parent->holds++;
		pthread_mutex_unlock(&t->lock);

		pfd = depth < NAME_CHAIN_MAX ? node_fd(t, parent, depth + 1) : -ELOOP;
		fd = pfd < 0 ? pfd : open_checked(node, pfd, name, flags);
		if (fd == -ENOENT) {
			pthread_mutex_lock(&t->lock);
			moved = !name_is_locked(node, parent, name);
			pthread_mutex_unlock(&t->lock);
			if (!moved)
				fd = scan_for(node, pfd, flags, &found);
		}
		if (found) {
			pthread_mutex_lock(&t->lock);
			if (name_is_locked(node, parent, name))
				unhold = rename_locked(node, parent, found);
			pthread_mutex_unlock(&t->lock);
		}
		inode_fd_put(t, parent, pfd);
		inode_unhold(t, parent);
		if (unhold)
			inode_unhold(t, unhold);
		/* Renames racing us may hide it for a moment: try again. */
		if (fd != -ENOENT || tries >= NAME_RETRIES)
			return fd;
	}
}

static int node_fd(struct inode_table *t, struct inode *node, unsigned depth)
{
	int fd;

	if (node == t->root)
		return t->root_fd;
	if (S_ISDIR(inode_type(node)) && (fd = dir_fd_use(t, node)) >= 0)
		return fd;
	fd = node->by_name ? open_by_name(t, node, O_PATH, depth)
			   : open_handle(t, node, O_PATH);
	if (fd >= 0 && S_ISDIR(inode_type(node)))
		fd = dir_fd_add(t, node, fd, true);
	return fd;
}

int inode_fd(struct inode_table *t, struct inode *node)
{
	return node_fd(t, node, 0);
}

void inode_fd_put(struct inode_table *t, struct inode *node, int fd)
{
	if (fd < 0 || node == t->root)
		return;
	if (S_ISDIR(inode_type(node)) && dir_fd_unuse(t, node, fd))
		return;
	close(fd);
}

guint64 inode_data_stamp(const struct stat *st)
{
	guint64 h = (guint64)st->st_size * 0x9e3779b97f4a7c15ull;

	h ^= ((guint64)st->st_mtim.tv_sec << 30) + (guint64)st->st_mtim.tv_nsec;
	h *= 0xff51afd7ed558ccdull;
	return (h ^ (h >> 33)) | 1;
}

int inode_open(struct inode_table *t, struct inode *node, int flags)
{
	char path[PROC_FD_PATH_MAX];
	int pathfd, fd;

	if (node != t->root && !node->by_name)
		return open_handle(t, node, flags);
	/* Through an O_PATH descriptor checked to be node's: a stale name
	 * must not open (or truncate) another file. */
	pathfd = inode_fd(t, node);
	if (pathfd < 0)
		return pathfd;
	proc_fd_path(pathfd, path);
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	inode_fd_put(t, node, pathfd);
	return fd;
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
