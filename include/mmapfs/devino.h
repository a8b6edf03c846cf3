/*
 * devino.h - the identity of a backing inode: (st_dev, st_ino).
 *
 * The inode table and the mapping cache both key their GHashTables by it;
 * devino_hash() and devino_equal() are their GHashFunc and GEqualFunc.
 */
#ifndef MMAPFS_DEVINO_H
#define MMAPFS_DEVINO_H

#include <sys/stat.h>

#include <glib.h>

struct devino {
	dev_t dev;
	ino_t ino;
};

static inline struct devino devino_of(const struct stat *st)
{
	return (struct devino){ .dev = st->st_dev, .ino = st->st_ino };
}

static inline guint devino_hash(gconstpointer p)
{
	const struct devino *k = p;

	return (guint)(k->ino ^ (k->ino >> 32) ^ ((guint64)k->dev * 0x9e3779b1u));
}

static inline gboolean devino_equal(gconstpointer a, gconstpointer b)
{
	const struct devino *x = a, *y = b;

	return x->ino == y->ino && x->dev == y->dev;
}

#endif
