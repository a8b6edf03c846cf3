/*
 * test_fdcache.c - kept descriptors without FUSE: what a take returns, the
 * budget and who gives way to a newcomer, references that outlive the
 * cache's, shedding, and many threads at once.
 */
#include <fcntl.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "mmapfs/fdcache.h"

struct fixture {
	char *dir;
	int fds[8];
	struct stat st[8];
	struct devino keys[8];
};

static void setup(struct fixture *f, gconstpointer data)
{
	(void)data;
	f->dir = g_dir_make_tmp("fdcache-XXXXXX", NULL);
	g_assert_nonnull(f->dir);
	for (int i = 0; i < 8; i++) {
		g_autofree char *p = g_strdup_printf("%s/f%d", f->dir, i);

		f->fds[i] = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		g_assert_cmpint(f->fds[i], >=, 0);
		g_assert_cmpint(ftruncate(f->fds[i], 100 * (i + 1)), ==, 0);
		g_assert_cmpint(fstat(f->fds[i], &f->st[i]), ==, 0);
		f->keys[i] = (struct devino){ f->st[i].st_dev, f->st[i].st_ino };
	}
}

static void teardown(struct fixture *f, gconstpointer data)
{
	(void)data;
	for (int i = 0; i < 8; i++) {
		g_autofree char *p = g_strdup_printf("%s/f%d", f->dir, i);

		close(f->fds[i]);
		g_unlink(p);
	}
	g_rmdir(f->dir);
	g_free(f->dir);
}

/* The descriptor refers to the file it was kept for. */
static void assert_same_file(int fd, const struct stat *st)
{
	struct stat now;

	g_assert_cmpint(fstat(fd, &now), ==, 0);
	g_assert_cmpuint(now.st_ino, ==, st->st_ino);
	g_assert_cmpuint(now.st_dev, ==, st->st_dev);
}

static void test_keep_take(struct fixture *f, gconstpointer data)
{
	struct fdcache *fc = fdcache_new(4, G_USEC_PER_SEC * 60);
	struct fdcache_ident id;
	struct fdcache_fd *kfd;

	(void)data;
	g_assert_null(fdcache_take(fc, &f->keys[0], &id));
	fdcache_keep(fc, &f->keys[0], f->fds[0], &f->st[0], 7);
	g_assert_cmpuint(fdcache_size(fc), ==, 1);
	kfd = fdcache_take(fc, &f->keys[0], &id);
	g_assert_nonnull(kfd);
	/* A duplicate, not the caller's descriptor. */
	g_assert_cmpint(kfd->fd, !=, f->fds[0]);
	assert_same_file(kfd->fd, &f->st[0]);
	g_assert_cmpint(id.st.st_size, ==, 100);
	g_assert_cmpint(id.gen, ==, 7);
	g_assert_true(id.fresh);
	/* The taker's reference outlives the cache's. */
	fdcache_drop(fc, &f->keys[0], NULL);
	g_assert_cmpuint(fdcache_size(fc), ==, 0);
	g_assert_null(fdcache_take(fc, &f->keys[0], &id));
	assert_same_file(kfd->fd, &f->st[0]);
	fdcache_fd_unref(kfd);
	fdcache_free(fc);
}

/* Keeping a file again replaces what was kept; a drop or confirm naming
 * a reference that is not the one kept does nothing. */
static void test_replace(struct fixture *f, gconstpointer data)
{
	struct fdcache *fc = fdcache_new(4, G_USEC_PER_SEC * 60);
	struct fdcache_ident id;
	struct fdcache_fd *old, *now;

	(void)data;
	fdcache_keep(fc, &f->keys[1], f->fds[1], &f->st[1], 1);
	old = fdcache_take(fc, &f->keys[1], &id);
	fdcache_keep(fc, &f->keys[1], f->fds[1], &f->st[1], 2);
	g_assert_cmpuint(fdcache_size(fc), ==, 1);
	fdcache_confirm(fc, &f->keys[1], old, 3, &f->st[1]);
	fdcache_drop(fc, &f->keys[1], old);
	now = fdcache_take(fc, &f->keys[1], &id);
	g_assert_nonnull(now);
	g_assert_true(now != old);
	g_assert_cmpint(id.gen, ==, 2);
	fdcache_confirm(fc, &f->keys[1], now, 5, &f->st[1]);
	fdcache_fd_unref(fdcache_take(fc, &f->keys[1], &id));
	g_assert_cmpint(id.gen, ==, 5);
	fdcache_fd_unref(old);
	fdcache_fd_unref(now);
	fdcache_free(fc);
}

/* A window of 0: nothing is ever fresh, and the least recently used
 * gives way at once (a plain LRU). */
static void test_no_window(struct fixture *f, gconstpointer data)
{
	struct fdcache *fc = fdcache_new(2, 0);
	struct fdcache_ident id;

	(void)data;
	for (int i = 0; i < 3; i++)
		fdcache_keep(fc, &f->keys[i], f->fds[i], &f->st[i], 0);
	g_assert_cmpuint(fdcache_size(fc), ==, 2);
	g_assert_null(fdcache_take(fc, &f->keys[0], &id));
	fdcache_fd_unref(fdcache_take(fc, &f->keys[1], &id));
	g_assert_false(id.fresh);
	/* 1 was used last: 2 gives way to 3. */
	fdcache_keep(fc, &f->keys[3], f->fds[3], &f->st[3], 0);
	g_assert_null(fdcache_take(fc, &f->keys[2], &id));
	fdcache_fd_unref(fdcache_take(fc, &f->keys[1], &id));
	fdcache_fd_unref(fdcache_take(fc, &f->keys[3], &id));
	fdcache_free(fc);
}

/* With a window, what was used lately keeps its place against newcomers
 * until it has been idle for the window (FDCACHE_IDLE_US at most). */
static void test_idle_gives_way(struct fixture *f, gconstpointer data)
{
	struct fdcache *fc = fdcache_new(2, 200000);
	struct fdcache_ident id;

	(void)data;
	fdcache_keep(fc, &f->keys[0], f->fds[0], &f->st[0], 0);
	fdcache_keep(fc, &f->keys[1], f->fds[1], &f->st[1], 0);
	fdcache_keep(fc, &f->keys[2], f->fds[2], &f->st[2], 0);
	g_assert_null(fdcache_take(fc, &f->keys[2], &id));
	fdcache_fd_unref(fdcache_take(fc, &f->keys[0], &id));
	g_assert_true(id.fresh);
	g_usleep(300000);
	fdcache_fd_unref(fdcache_take(fc, &f->keys[0], &id));
	g_assert_false(id.fresh);
	/* 1 has been idle past the window: it gives way; 0 was just used. */
	fdcache_keep(fc, &f->keys[2], f->fds[2], &f->st[2], 0);
	g_assert_null(fdcache_take(fc, &f->keys[1], &id));
	fdcache_fd_unref(fdcache_take(fc, &f->keys[0], &id));
	fdcache_fd_unref(fdcache_take(fc, &f->keys[2], &id));
	fdcache_free(fc);
}

/* After fdcache_attrs_changed(), nothing is fresh until confirmed. */
static void test_attrs_changed(struct fixture *f, gconstpointer data)
{
	struct fdcache *fc = fdcache_new(4, G_USEC_PER_SEC * 60);
	struct fdcache_ident id;
	struct fdcache_fd *kfd;

	(void)data;
	fdcache_keep(fc, &f->keys[0], f->fds[0], &f->st[0], 0);
	fdcache_keep(fc, &f->keys[1], f->fds[1], &f->st[1], 0);
	fdcache_attrs_changed(fc);
	kfd = fdcache_take(fc, &f->keys[0], &id);
	g_assert_false(id.fresh);
	fdcache_confirm(fc, &f->keys[0], kfd, 0, &f->st[0]);
	fdcache_fd_unref(kfd);
	fdcache_fd_unref(fdcache_take(fc, &f->keys[0], &id));
	g_assert_true(id.fresh);
	fdcache_fd_unref(fdcache_take(fc, &f->keys[1], &id));
	g_assert_false(id.fresh);
	fdcache_free(fc);
}

static void test_shed(struct fixture *f, gconstpointer data)
{
	struct fdcache *fc = fdcache_new(8, G_USEC_PER_SEC * 60);
	struct fdcache_ident id;
	struct fdcache_fd *held;

	(void)data;
	for (int i = 0; i < 6; i++)
		fdcache_keep(fc, &f->keys[i], f->fds[i], &f->st[i], 0);
	held = fdcache_take(fc, &f->keys[0], &id);
	/* Least recently used first: 1 and 2 go, 0 was just taken. */
	g_assert_cmpuint(fdcache_shed(fc, 2), ==, 2);
	g_assert_cmpuint(fdcache_size(fc), ==, 4);
	g_assert_null(fdcache_take(fc, &f->keys[1], &id));
	g_assert_null(fdcache_take(fc, &f->keys[2], &id));
	g_assert_cmpuint(fdcache_shed(fc, 100), ==, 4);
	g_assert_cmpuint(fdcache_shed(fc, 1), ==, 0);
	assert_same_file(held->fd, &f->st[0]);
	fdcache_fd_unref(held);
	fdcache_free(fc);
}

struct race {
	struct fdcache *fc;
	struct fixture *f;
	gint stop;
};

static gpointer race_thread(gpointer data)
{
	struct race *r = data;
	GRand *rand = g_rand_new();

	while (!g_atomic_int_get(&r->stop)) {
		int i = g_rand_int_range(rand, 0, 8);
		struct fdcache_ident id;
		struct fdcache_fd *kfd;

		switch (g_rand_int_range(rand, 0, 4)) {
		case 0:
			fdcache_keep(r->fc, &r->f->keys[i], r->f->fds[i], &r->f->st[i], i);
			break;
		case 1:
			fdcache_drop(r->fc, &r->f->keys[i], NULL);
			break;
		case 2:
			fdcache_shed(r->fc, 1);
			break;
		default:
			kfd = fdcache_take(r->fc, &r->f->keys[i], &id);
			if (kfd) {
				assert_same_file(kfd->fd, &r->f->st[i]);
				fdcache_confirm(r->fc, &r->f->keys[i], kfd, i, &r->f->st[i]);
				fdcache_fd_unref(kfd);
			}
		}
	}
	g_rand_free(rand);
	return NULL;
}

/* Four threads keep, take, drop and shed at once: every descriptor taken
 * is its file's, and nothing leaks (ASan and TSan builds check). */
static void test_threads(struct fixture *f, gconstpointer data)
{
	struct race r = { .fc = fdcache_new(4, 1000), .f = f };
	GThread *t[4];

	(void)data;
	for (int i = 0; i < 4; i++)
		t[i] = g_thread_new("fdcache", race_thread, &r);
	g_usleep(300000);
	g_atomic_int_set(&r.stop, 1);
	for (int i = 0; i < 4; i++)
		g_thread_join(t[i]);
	g_assert_cmpuint(fdcache_size(r.fc), <=, 4);
	fdcache_free(r.fc);
}

#define ADD(path, fn) g_test_add(path, struct fixture, NULL, setup, fn, teardown)

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ADD("/fdcache/keep-take", test_keep_take);
	ADD("/fdcache/replace", test_replace);
	ADD("/fdcache/no-window", test_no_window);
	ADD("/fdcache/idle-gives-way", test_idle_gives_way);
	ADD("/fdcache/attrs-changed", test_attrs_changed);
	ADD("/fdcache/shed", test_shed);
	ADD("/fdcache/threads", test_threads);
	return g_test_run();
}
