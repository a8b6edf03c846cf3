/*
 * test_mapcache.c - the mapping cache without FUSE: LRU order, the budget
 * after every operation, pinning, remapping, and many threads at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "mmapfs/mapcache.h"

#define PAGE 4096

struct fixture {
	char *dir;
	int nfiles;
	int *fds;
	struct devino *keys;
};

/* Creates file i of the given size, every byte equal to fill_byte(i). */
static guint8 fill_byte(int i)
{
	return (guint8)(i % 251 + 1);
}

static void write_file(int fd, int i, size_t size)
{
	g_autofree guint8 *buf = g_malloc(size ? size : 1);

	memset(buf, fill_byte(i), size);
	g_assert_cmpint(ftruncate(fd, 0), ==, 0);
	g_assert_cmpint(pwrite(fd, buf, size, 0), ==, (ssize_t)size);
}

static void fixture_files(struct fixture *f, int n, size_t size)
{
	GError *error = NULL;

	f->dir = g_dir_make_tmp("mapcache-XXXXXX", &error);
	g_assert_no_error(error);
	f->nfiles = n;
	f->fds = g_new(int, n);
	f->keys = g_new(struct devino, n);
	for (int i = 0; i < n; i++) {
		g_autofree char *path = g_strdup_printf("%s/f%d", f->dir, i);
		struct stat st;

		f->fds[i] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		g_assert_cmpint(f->fds[i], >=, 0);
		write_file(f->fds[i], i, size);
		g_assert_cmpint(fstat(f->fds[i], &st), ==, 0);
		f->keys[i] = devino_of(&st);
	}
}

static void fixture_done(struct fixture *f)
{
	for (int i = 0; i < f->nfiles; i++) {
		g_autofree char *path = g_strdup_printf("%s/f%d", f->dir, i);

		close(f->fds[i]);
		g_unlink(path);
	}
	g_rmdir(f->dir);
	g_free(f->dir);
	g_free(f->fds);
	g_free(f->keys);
}

static int get(struct mapcache *mc, struct fixture *f, int i,
	       struct mapcache_map **out)
{
	struct stat st;

	g_assert_cmpint(fstat(f->fds[i], &st), ==, 0);
	return mapcache_get(mc, &f->keys[i], f->fds[i], &st, out);
}

static void assert_within_budget(struct mapcache *mc)
{
	struct mapcache_stats s;

	mapcache_get_stats(mc, &s);
	g_assert_cmpuint(s.n_maps, <=, s.max_maps);
	g_assert_cmpuint(s.mapped_bytes, <=, s.max_mapped);
}

static bool cached(struct mapcache *mc, struct fixture *f, int i)
{
	struct mapcache_map *m = mapcache_lookup(mc, &f->keys[i]);

	if (m)
		mapcache_put(mc, m);
	return m != NULL;
}

static void test_lru_order(void)
{
	struct fixture f;
	struct mapcache *mc = mapcache_new(3, 1 << 30);
	struct mapcache_map *m;

	fixture_files(&f, 5, 100);
	for (int i = 0; i < 3; i++) {
		g_assert_cmpint(get(mc, &f, i, &m), ==, 0);
		g_assert_cmpuint(m->addr[50], ==, fill_byte(i));
		mapcache_put(mc, m);
	}
	/* Touch 0, so that 1 is now the coldest. */
	g_assert_true(cached(mc, &f, 0));
	g_assert_cmpint(get(mc, &f, 3, &m), ==, 0);
	mapcache_put(mc, m);
	g_assert_false(cached(mc, &f, 1));
	g_assert_true(cached(mc, &f, 0));
	g_assert_true(cached(mc, &f, 2));
	g_assert_true(cached(mc, &f, 3));
	/* The lookups above touched 0, 2, 3 in that order: 0 is the coldest. */
	g_assert_cmpint(get(mc, &f, 4, &m), ==, 0);
	mapcache_put(mc, m);
	g_assert_false(cached(mc, &f, 0));
	g_assert_true(cached(mc, &f, 2));
	mapcache_free(mc);
	fixture_done(&f);
}

static void test_budget_every_operation(void)
{
	struct fixture f;
	/* Room for at most 4 maps and 6 pages: both limits bite. */
	struct mapcache *mc = mapcache_new(4, 6 * PAGE);
	GRand *rand = g_rand_new_with_seed(7);
	GPtrArray *held = g_ptr_array_new();
	struct mapcache_stats s;

	fixture_files(&f, 12, 1);
	for (int i = 0; i < f.nfiles; i++)
		write_file(f.fds[i], i, (size_t)(i % 3 + 1) * PAGE - 7);
	for (int op = 0; op < 5000; op++) {
		int i = g_rand_int_range(rand, 0, f.nfiles);
		struct mapcache_map *m;

		switch (g_rand_int_range(rand, 0, 5)) {
		case 0:
		case 1:
			if (get(mc, &f, i, &m) == 0) {
				g_assert_cmpuint(m->addr[0], ==, fill_byte(i));
				g_ptr_array_add(held, m);
			}
			break;
		case 2:
			if (held->len) {
				guint k = g_rand_int_range(rand, 0, held->len);

				mapcache_put(mc, g_ptr_array_steal_index(held, k));
			}
			break;
		case 3:
			m = mapcache_lookup(mc, &f.keys[i]);
			if (m)
				g_ptr_array_add(held, m);
			break;
		case 4:
			mapcache_invalidate(mc, &f.keys[i]);
			break;
		}
		assert_within_budget(mc);
	}
	while (held->len)
		mapcache_put(mc, g_ptr_array_steal_index(held, 0));
	mapcache_get_stats(mc, &s);
	g_assert_cmpuint(s.pinned, ==, 0);
	g_assert_cmpuint(s.evicted, >, 0);
	g_assert_cmpuint(s.refused, >, 0);
	g_ptr_array_unref(held);
	g_rand_free(rand);
	mapcache_free(mc);
	fixture_done(&f);
}

static void test_pinned_never_evicted(void)
{
	struct fixture f;
	struct mapcache *mc = mapcache_new(1, 1 << 30);
	struct mapcache_map *a, *b;

	fixture_files(&f, 2, 10);
	g_assert_cmpint(get(mc, &f, 0, &a), ==, 0);
	g_assert_cmpint(get(mc, &f, 1, &b), ==, -ENOSPC);
	g_assert_true(cached(mc, &f, 0));
	g_assert_cmpuint(a->addr[9], ==, fill_byte(0));
	mapcache_put(mc, a);
	g_assert_cmpint(get(mc, &f, 1, &b), ==, 0);
	g_assert_false(cached(mc, &f, 0));
	mapcache_put(mc, b);
	mapcache_free(mc);
	fixture_done(&f);
}

static void test_remap_on_growth(void)
{
	struct fixture f;
	struct mapcache *mc = mapcache_new(4, 1 << 30);
	struct mapcache_map *old, *m;
	struct mapcache_stats s;

	fixture_files(&f, 1, 100);
	g_assert_cmpint(get(mc, &f, 0, &old), ==, 0);
	g_assert_cmpuint(old->len, ==, 100);
	write_file(f.fds[0], 0, 3 * PAGE + 5);
	g_assert_cmpint(get(mc, &f, 0, &m), ==, 0);
	g_assert_true(m != old);
	g_assert_cmpuint(m->len, ==, 3 * PAGE + 5);
	g_assert_cmpuint(m->addr[3 * PAGE + 4], ==, fill_byte(0));
	/* The replaced mapping stays readable while pinned, and counts. */
	g_assert_cmpuint(old->addr[99], ==, fill_byte(0));
	mapcache_get_stats(mc, &s);
	g_assert_cmpuint(s.n_maps, ==, 2);
	g_assert_cmpuint(s.remapped, ==, 1);
	mapcache_put(mc, old);
	mapcache_get_stats(mc, &s);
	g_assert_cmpuint(s.n_maps, ==, 1);
	g_assert_cmpuint(s.mapped_bytes, ==, 4 * PAGE);
	/* Same identity: the same mapping again. */
	mapcache_put(mc, m);
	g_assert_cmpint(get(mc, &f, 0, &old), ==, 0);
	g_assert_true(old == m);
	mapcache_put(mc, old);
	{
		/* Revalidation says whether the file shrank under the mapping
		 * it drops: not for the same identity, nor for growth. */
		struct stat st;

		g_assert_cmpint(fstat(f.fds[0], &st), ==, 0);
		g_assert_false(mapcache_revalidate(mc, &f.keys[0], &st));
		g_assert_true(cached(mc, &f, 0));
		st.st_size += 10;
		g_assert_false(mapcache_revalidate(mc, &f.keys[0], &st));
		g_assert_false(cached(mc, &f, 0));
		g_assert_cmpint(get(mc, &f, 0, &m), ==, 0);
		mapcache_put(mc, m);
		st.st_size -= 20;
		g_assert_true(mapcache_revalidate(mc, &f.keys[0], &st));
		g_assert_false(cached(mc, &f, 0));
	}
	mapcache_free(mc);
	fixture_done(&f);
}

static void test_invalidate_pinned(void)
{
	struct fixture f;
	struct mapcache *mc = mapcache_new(4, 1 << 30);
	struct mapcache_map *m;
	struct mapcache_stats s;

	fixture_files(&f, 1, 5000);
	g_assert_cmpint(get(mc, &f, 0, &m), ==, 0);
	mapcache_invalidate(mc, &f.keys[0]);
	g_assert_false(cached(mc, &f, 0));
	g_assert_cmpuint(m->addr[4999], ==, fill_byte(0));
	mapcache_get_stats(mc, &s);
	g_assert_cmpuint(s.n_maps, ==, 1);
	mapcache_put(mc, m);
	mapcache_get_stats(mc, &s);
	g_assert_cmpuint(s.n_maps, ==, 0);
	g_assert_cmpuint(s.mapped_bytes, ==, 0);
	mapcache_free(mc);
	fixture_done(&f);
}

static void test_refuses_empty_and_too_large(void)
{
	struct fixture f;
	struct mapcache *mc = mapcache_new(4, 2 * PAGE);
	struct mapcache_map *m;

	fixture_files(&f, 2, 0);
	g_assert_cmpint(get(mc, &f, 0, &m), ==, -EFBIG);
	write_file(f.fds[1], 1, 2 * PAGE + 1);
	g_assert_cmpint(get(mc, &f, 1, &m), ==, -EFBIG);
	write_file(f.fds[1], 1, 2 * PAGE);
	g_assert_cmpint(get(mc, &f, 1, &m), ==, 0);
	mapcache_put(mc, m);
	mapcache_free(mc);
	fixture_done(&f);
}

/* Many threads pinning, reading, invalidating and evicting at once. */
struct worker {
	struct mapcache *mc;
	struct fixture *f;
	guint32 seed;
	guint64 checked;
};

static gpointer worker_main(gpointer data)
{
	struct worker *w = data;
	GRand *rand = g_rand_new_with_seed(w->seed);

	for (int op = 0; op < 20000; op++) {
		int i = g_rand_int_range(rand, 0, w->f->nfiles);
		struct mapcache_map *m = mapcache_lookup(w->mc, &w->f->keys[i]);
		int r = g_rand_int_range(rand, 0, 100);

		if (!m && get(w->mc, w->f, i, &m) != 0)
			m = NULL;
		if (m) {
			size_t off = g_rand_int_range(rand, 0, (gint32)m->len);

			g_assert_cmpuint((guint8)m->addr[off], ==, fill_byte(i));
			w->checked++;
			if (r < 3)
				mapcache_invalidate_map(w->mc, m);
			mapcache_put(w->mc, m);
		}
		if (r == 3)
			mapcache_drop_all(w->mc);
		else if (r == 4)
			mapcache_invalidate(w->mc, &w->f->keys[i]);
		else if (r == 5)
			assert_within_budget(w->mc);
	}
	g_rand_free(rand);
	return NULL;
}

static void test_threads(void)
{
	enum { NTHREADS = 8 };
	struct fixture f;
	struct mapcache *mc = mapcache_new(6, 40 * PAGE);
	struct worker w[NTHREADS];
	GThread *t[NTHREADS];
	struct mapcache_stats s;
	guint64 checked = 0;

	fixture_files(&f, 40, 1);
	for (int i = 0; i < f.nfiles; i++)
		write_file(f.fds[i], i, (size_t)(i % 5 + 1) * PAGE + 3);
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .mc = mc, .f = &f, .seed = 100 + i };
		t[i] = g_thread_new("worker", worker_main, &w[i]);
	}
	for (int i = 0; i < NTHREADS; i++) {
		g_thread_join(t[i]);
		checked += w[i].checked;
	}
	mapcache_get_stats(mc, &s);
	g_assert_cmpuint(s.pinned, ==, 0);
	g_assert_cmpuint(s.n_maps, <=, 6);
	g_assert_cmpuint(s.mapped_bytes, <=, 40 * PAGE);
	/* Many operations found or made a mapping (the rest met a full,
	 * pinned budget): the threads did contend on real mappings. */
	g_assert_cmpuint(checked, >, NTHREADS * 2000);
	g_assert_cmpuint(s.evicted, >, 0);
	mapcache_free(mc);
	fixture_done(&f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/mapcache/lru-order", test_lru_order);
	g_test_add_func("/mapcache/budget-every-operation", test_budget_every_operation);
	g_test_add_func("/mapcache/pinned-never-evicted", test_pinned_never_evicted);
	g_test_add_func("/mapcache/remap-on-growth", test_remap_on_growth);
	g_test_add_func("/mapcache/invalidate-pinned", test_invalidate_pinned);
	g_test_add_func("/mapcache/refuses-empty-and-too-large", test_refuses_empty_and_too_large);
	g_test_add_func("/mapcache/threads", test_threads);
	return g_test_run();
}
