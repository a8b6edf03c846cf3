/*
 * filedata.c - see include/mmapfs/filedata.h.
 *
 * The atomics are relaxed where a stale answer only costs a push that is
 * taken back or skipped, and the generation is read before and after a
 * store, so that a change that raced the store is always seen by one of
 * the two reads.
 */
#include <errno.h>
#include <sched.h>
#include <unistd.h>

#include "mmapfs/filedata.h"

/* data_gen's top bit: the file is read with pread only. */
#define READ_BY_FD 0x80000000u

/* Bumps the generation, in the low 31 bits of data_gen, keeping the flag. */
static void bump_gen(struct inode *node)
{
	guint32 was = __atomic_load_n(&node->data_gen, __ATOMIC_RELAXED);

	while (!__atomic_compare_exchange_n(&node->data_gen, &was,
					    (was & READ_BY_FD) | ((was + 1) & ~READ_BY_FD),
					    true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		;
}

void filedata_writer_open(struct inode *node)
{
	g_atomic_int_inc(&node->writers);
	bump_gen(node);
}

void filedata_writer_close(struct inode *node)
{
	bump_gen(node);
	g_atomic_int_add(&node->writers, -1);
}

bool filedata_has_writers(const struct inode *node)
{
	return g_atomic_int_get(&node->writers) != 0;
}

/* The store-in-progress bit of node->opens, above its count. */
#define OPENS_STORING 0x80u
G_STATIC_ASSERT(OPENS_MAX < OPENS_STORING);

void filedata_open_begin(struct inode *node)
{
	guint8 was = __atomic_load_n(&node->opens, __ATOMIC_ACQUIRE);

	for (;;) {
		if (was & OPENS_STORING) {
			/* A copy of at most push_files bytes in memory. */
			sched_yield();
			was = __atomic_load_n(&node->opens, __ATOMIC_ACQUIRE);
			continue;
		}
		if (was == OPENS_MAX ||
		    __atomic_compare_exchange_n(&node->opens, &was, (guint8)(was + 1),
						true, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return;
	}
}

void filedata_open_end(struct inode *node)
{
	guint8 was = __atomic_load_n(&node->opens, __ATOMIC_RELAXED);

	while ((was & ~OPENS_STORING) != OPENS_MAX && (was & ~OPENS_STORING) != 0 &&
	       !__atomic_compare_exchange_n(&node->opens, &was, (guint8)(was - 1), true,
					    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		;
}

bool filedata_store_begin(struct inode *node)
{
	guint8 one = 1;

	return __atomic_compare_exchange_n(&node->opens, &one, (guint8)(1 | OPENS_STORING),
					   false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

void filedata_store_done(struct inode *node)
{
	__atomic_fetch_and(&node->opens, (guint8)~OPENS_STORING, __ATOMIC_RELEASE);
}

void filedata_changing(struct mapcache *maps, struct inode *node, bool shrinks)
{
	bump_gen(node);
	if (shrinks)
		mapcache_invalidate(maps, &node->id);
}

void filedata_gone(struct mapcache *maps, const struct devino *id)
{
	mapcache_invalidate(maps, id);
}

bool filedata_seen(struct mapcache *maps, struct inode *node,
		   const struct stat *st)
{
	if (st->st_nlink > 0 || !S_ISREG(st->st_mode))
		return false;
	filedata_gone(maps, &node->id);
	return true;
}

void filedata_sweep_gone(struct mapcache *maps, struct inode_table *inodes)
{
	GArray *keys = mapcache_list(maps);

	for (guint i = 0; i < keys->len; i++) {
		const struct devino *key = &g_array_index(keys, struct mapcache_entry, i).key;
		struct inode *node = inode_table_find(inodes, key);
		struct stat st;
		int fd;

		/* Not known to the kernel: no open file reads it, only a new
		 * lookup could (and would map it again): it goes, as it may
		 * be the file whose name went. */
		if (!node) {
			filedata_gone(maps, key);
			continue;
		}
		fd = inode_fd(inodes, node);
		/* A handle that no longer opens is a file that is gone. */
		if (fd == -ENOENT || (fd >= 0 && fstat(fd, &st) == 0 && st.st_nlink == 0))
			filedata_gone(maps, key);
		inode_fd_put(inodes, node, fd);
		inode_unhold(inodes, node);
	}
	g_array_unref(keys);
}

bool filedata_changed_outside(struct mapcache *maps, struct inode *node,
			      const struct stat *st)
{
	bump_gen(node);
	/* Shrunk behind a mapping: from now on this file is read with pread,
	 * which races with truncation as natively as can be (a read from the
	 * mapping could meet a page gone, and the kernel would answer EIO). */
	return S_ISREG(inode_type(node)) && mapcache_revalidate(maps, &node->id, st) &&
	       filedata_use_pread(node);
}

bool filedata_shrank_under(struct mapcache *maps, struct inode *node,
			   struct mapcache_map *m)
{
	mapcache_invalidate_map(maps, m);
	return filedata_use_pread(node);
}

void filedata_shrank_during_reply(struct mapcache *maps, struct mapcache_map *m)
{
	mapcache_invalidate_map(maps, m);
}

bool filedata_use_pread(struct inode *node)
{
	return !(__atomic_fetch_or(&node->data_gen, READ_BY_FD, __ATOMIC_SEQ_CST) &
		 READ_BY_FD);
}

bool filedata_reads_by_pread(const struct inode *node)
{
	return (__atomic_load_n(&node->data_gen, __ATOMIC_SEQ_CST) & READ_BY_FD) != 0;
}

bool filedata_opened(struct mapcache *maps, struct inode *node,
		     const struct stat *st)
{
	guint64 stamp = inode_data_stamp(st);

	if (!S_ISREG(st->st_mode))
		filedata_use_pread(node);
	else if (!filedata_seen(maps, node, st))
		mapcache_revalidate(maps, &node->id, st);

	/* (A change inside the same mtime tick that keeps the size is not
	 * seen; the attribute timeout bounds how long.) */
	return __atomic_exchange_n(&node->data_stamp, stamp,
				   __ATOMIC_RELAXED) == stamp;
}

int filedata_generation(const struct inode *node)
{
	return (int)__atomic_load_n(&node->data_gen, __ATOMIC_SEQ_CST);
}

/* Whether node's file, as the table reaches it now (*now), is as kept. */
static bool still_as_kept(struct inode_table *inodes, struct inode *node,
			  const struct fdcache_ident *id, struct stat *now)
{
	int fd = inode_fd(inodes, node);
	bool same = fd >= 0 && fstat(fd, now) == 0 && now->st_nlink > 0 &&
		    now->st_dev == node->id.dev && now->st_ino == node->id.ino &&
		    now->st_size == id->st.st_size &&
		    now->st_mtim.tv_sec == id->st.st_mtim.tv_sec &&
		    now->st_mtim.tv_nsec == id->st.st_mtim.tv_nsec;

	inode_fd_put(inodes, node, fd);
	return same;
}

/*
 * node's kept descriptor, referenced, with *id what was kept and *gen the
 * file's generation read before; NULL where nothing kept may stand for
 * the file (see filedata.h).
 */
static struct fdcache_fd *take_kept(struct fdcache *fds, struct inode_table *inodes,
				    struct inode *node, struct fdcache_ident *id,
				    int *gen)
{
	*gen = filedata_generation(node);
	if (filedata_has_writers(node) || filedata_reads_by_pread(node) ||
	    !inode_is_current(inodes, node))
		return NULL;
	return fdcache_take(fds, &node->id, id);
}

struct fdcache_fd *filedata_reopen(struct fdcache *fds,
				   struct inode_table *inodes,
				   struct inode *node, struct stat *st)
{
	struct fdcache_ident id;
	struct fdcache_fd *kfd;
	int gen;

	kfd = take_kept(fds, inodes, node, &id, &gen);
	if (!kfd)
		return NULL;
	if (!id.fresh || id.gen != gen) {
		struct stat now;

		if (!still_as_kept(inodes, node, &id, &now)) {
			fdcache_drop(fds, &node->id, kfd);
			fdcache_fd_unref(kfd);
			return NULL;
		}
		fdcache_confirm(fds, &node->id, kfd, gen, &now);
		id.st = now;
	}
	/* A change that began meanwhile was not seen by the checks above. */
	if (filedata_has_writers(node) || filedata_generation(node) != gen) {
		fdcache_fd_unref(kfd);
		return NULL;
	}
	*st = id.st;
	return kfd;
}

bool filedata_kept_attrs(struct fdcache *fds, struct inode_table *inodes,
			 struct inode *node, struct stat *st)
{
	struct fdcache_ident id;
	struct fdcache_fd *kfd;
	int gen;

	kfd = take_kept(fds, inodes, node, &id, &gen);
	if (!kfd)
		return false;
	fdcache_fd_unref(kfd);
	if (!id.fresh || id.gen != gen || filedata_has_writers(node))
		return false;
	*st = id.st;
	return true;
}

void filedata_kernel_dropped(struct inode *node)
{
	__atomic_store_n(&node->data_stamp, 0, __ATOMIC_RELAXED);
}

bool filedata_kernel_has(const struct inode *node, const struct stat *st)
{
	return __atomic_load_n(&node->data_stamp, __ATOMIC_RELAXED) ==
	       inode_data_stamp(st);
}

void filedata_pushed_whole(struct inode *node, const struct stat *st)
{
	__atomic_store_n(&node->data_stamp, inode_data_stamp(st), __ATOMIC_RELAXED);
}

/* A size as kernel_size keeps it: UINT32_MAX for 4 GiB and more. */
static guint32 size_word(off_t size)
{
	return size <= 0 ? 0 : size >= UINT32_MAX ? UINT32_MAX : (guint32)size;
}

void filedata_kernel_sized(struct inode *node, off_t size)
{
	__atomic_store_n(&node->kernel_size, size_word(size), __ATOMIC_RELAXED);
}

void filedata_kernel_grew(struct inode *node, off_t end)
{
	guint32 want = size_word(end);
	guint32 was = __atomic_load_n(&node->kernel_size, __ATOMIC_RELAXED);

	while (want > was &&
	       !__atomic_compare_exchange_n(&node->kernel_size, &was, want, true,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

bool filedata_kernel_lacks(const struct inode *node, off_t size)
{
	guint32 k = __atomic_load_n(&node->kernel_size, __ATOMIC_RELAXED);

	/* Past 4 GiB nothing is known: the caller stores, as it always may. */
	return k == UINT32_MAX || size_word(size) > k;
}

bool filedata_push_begin(const struct inode *node, int *gen)
{
	*gen = filedata_generation(node);
	return !filedata_has_writers(node);
}

bool filedata_push_still_good(const struct inode *node, int gen)
{
	return !filedata_has_writers(node) &&
	       filedata_generation(node) == gen;
}
