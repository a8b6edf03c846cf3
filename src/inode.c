/*
 * inode.c - see include/mmapfs/inode.h.
 *
 * DESIGN: a GHashTable keyed by (dev, ino) finds the node of a backing inode
 * that the kernel already knows, so that a second name of a hard-linked file
 * (or a second lookup of the same name) returns the same node.  The table
 * holds every node with a lookup count above zero, and the root always.
 * Because a node keeps its O_PATH descriptor open, the backing inode cannot
 * be freed and its number reused while the node exists.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mmapfs/inode.h"

struct inode_table {
	pthread_mutex_t lock;
	GHashTable *nodes;      /* (dev, ino) -> node; protected by lock */
	struct inode *root;     /* immutable */
};

static struct inode *node_new(int fd, const struct stat *st)
{
	struct inode *n = g_new0(struct inode, 1);

	n->id = devino_of(st);
	n->fd = fd;
	n->type = st->st_mode & S_IFMT;
	n->nlookup = 1;
	return n;
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
	t->root = node_new(fd, &st);
	g_hash_table_insert(t->nodes, &t->root->id, t->root);
	return t;
}

void inode_table_free(struct inode_table *t)
{
	GHashTableIter it;
	gpointer value;

	if (!t)
		return;
	g_hash_table_iter_init(&it, t->nodes);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		struct inode *n = value;

		close(n->fd);
		g_free(n);
	}
	g_hash_table_unref(t->nodes);
	pthread_mutex_destroy(&t->lock);
	g_free(t);
}

struct inode *inode_table_root(struct inode_table *t)
{
	return t->root;
}

struct inode *inode_from_id(struct inode_table *t, fuse_ino_t id)
{
	return id == FUSE_ROOT_ID ? t->root : (struct inode *)(uintptr_t)id;
}

fuse_ino_t inode_id(struct inode_table *t, const struct inode *node)
{
	return node == t->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)node;
}

int inode_lookup(struct inode_table *t, struct inode *parent,
		 const char *name, struct stat *st, struct inode **out)
{
	struct inode *n;
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

	pthread_mutex_lock(&t->lock);
	n = g_hash_table_lookup(t->nodes, &(struct devino){ st->st_dev, st->st_ino });
	if (n) {
		n->nlookup++;
	} else {
		n = node_new(fd, st);
		g_hash_table_insert(t->nodes, &n->id, n);
		fd = -1;
	}
	pthread_mutex_unlock(&t->lock);

	if (fd >= 0)
		close(fd);
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
		g_hash_table_remove(t->nodes, &node->id);
		gone = true;
	}
	pthread_mutex_unlock(&t->lock);

	if (gone) {
		close(node->fd);
		g_free(node);
	}
}

unsigned inode_table_size(struct inode_table *t)
{
	unsigned n;

	pthread_mutex_lock(&t->lock);
	n = g_hash_table_size(t->nodes);
	pthread_mutex_unlock(&t->lock);
	return n;
}

void inode_proc_path(const struct inode *node, char buf[INODE_PROC_PATH_MAX])
{
	snprintf(buf, INODE_PROC_PATH_MAX, "/proc/self/fd/%d", node->fd);
}
