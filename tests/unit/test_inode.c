/*
 * test_inode.c - the inode table (inode.h): one node per backing inode,
 * nodes reached by handle or by name, and the bounded cache of directory
 * descriptors.  Each test runs twice, by handle (where this process may open
 * handles: root, on a filesystem that exports them; else skipped) and by
 * name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "mmapfs/inode.h"

#define BUDGET 8

struct fixture {
	char *dir;
	struct inode_table *t;
	bool by_name;
};

static void fixture_set_up(struct fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	struct inode_table_params p = { .dir_fds = BUDGET, .no_handles = data != NULL };

	f->dir = g_dir_make_tmp("inode-XXXXXX", &error);
	g_assert_no_error(error);
	f->t = inode_table_new(f->dir, &p, &error);
	g_assert_no_error(error);
	f->by_name = !inode_table_uses_handles(f->t);
	g_assert_cmpint(f->by_name, ==, data != NULL);
}

static void fixture_tear_down(struct fixture *f, gconstpointer data)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

	inode_table_free(f->t);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(f->dir);
}

static char *at(struct fixture *f, const char *rel)
{
	return g_build_filename(f->dir, rel, NULL);
}

static void make_dir(struct fixture *f, const char *rel)
{
	g_autofree char *p = at(f, rel);

	g_assert_cmpint(g_mkdir(p, 0755), ==, 0);
}

static void make_file(struct fixture *f, const char *rel, const char *text)
{
	g_autofree char *p = at(f, rel);

	g_assert_true(g_file_set_contents(p, text, -1, NULL));
}

static void do_rename(struct fixture *f, const char *from, const char *to)
{
	g_autofree char *a = at(f, from), *b = at(f, to);

	g_assert_cmpint(rename(a, b), ==, 0);
}

static struct inode *look(struct fixture *f, struct inode *dir, const char *name)
{
	struct inode *n = NULL;
	struct stat st;

	g_assert_cmpint(inode_lookup(f->t, dir ? dir : inode_table_root(f->t),
				     name, &st, &n), ==, 0);
	return n;
}

/* The first bytes of node's file, or "" when it cannot be opened. */
static char *contents(struct fixture *f, struct inode *node)
{
	char buf[64] = "";
	int fd = inode_open(f->t, node, O_RDONLY);

	if (fd < 0)
		return g_strdup("");
	g_assert_cmpint(read(fd, buf, sizeof(buf) - 1), >=, 0);
	close(fd);
	return g_strdup(buf);
}

static unsigned open_fds(void)
{
	g_autoptr(GDir) d = g_dir_open("/proc/self/fd", 0, NULL);
	unsigned n = 0;

	while (g_dir_read_name(d))
		n++;
	return n;
}

static void test_same_node(struct fixture *f, gconstpointer data)
{
	g_autofree char *a = at(f, "a"), *b = at(f, "b");
	struct inode *n1, *n2, *n3;

	make_file(f, "a", "x");
	g_assert_cmpint(link(a, b), ==, 0);
	n1 = look(f, NULL, "a");
	n2 = look(f, NULL, "b");
	n3 = look(f, NULL, "a");
	g_assert_true(n1 == n2 && n2 == n3);
	g_assert_cmpint(n1->by_name, ==, f->by_name);
	g_assert_cmpuint(inode_table_size(f->t), ==, 2);
	inode_forget(f->t, n1, 3);
	g_assert_cmpuint(inode_table_size(f->t), ==, 1);
}

/* Whether a lookup is the first since the kernel held no count on the
 * node (it makes a new inode of it then, from this lookup's attributes). */
static bool looked_up_first(struct fixture *f, const char *name, struct inode **n)
{
	struct inode_probe p;

	g_assert_cmpint(inode_probe(f->t, inode_table_root(f->t), name, true, &p), ==, 0);
	*n = inode_lookup_probed(f->t, inode_table_root(f->t), name, &p);
	return p.first;
}

static void test_first_lookup(struct fixture *f, gconstpointer data)
{
	struct inode *n1, *n2;

	make_file(f, "a", "x");
	g_assert_true(looked_up_first(f, "a", &n1));
	g_assert_false(looked_up_first(f, "a", &n2));
	g_assert_true(n1 == n2);
	inode_forget(f->t, n1, 1);
	g_assert_false(looked_up_first(f, "a", &n2));   /* one count left */
	inode_forget(f->t, n2, 2);
	g_assert_true(looked_up_first(f, "a", &n1));     /* forgotten: anew */
	inode_forget(f->t, n1, 1);
}

/* A thousand directories known: BUDGET descriptors, and each reachable. */
static void test_dir_fds_bounded(struct fixture *f, gconstpointer data)
{
	struct inode *dirs[1000];
	unsigned before = open_fds(), cached, budget;

	for (unsigned i = 0; i < G_N_ELEMENTS(dirs); i++) {
		char name[16];

		snprintf(name, sizeof(name), "d%u", i);
		make_dir(f, name);
		snprintf(name, sizeof(name), "d%u/f", i);
		make_file(f, name, "in d");
		snprintf(name, sizeof(name), "d%u", i);
		dirs[i] = look(f, NULL, name);
	}
	cached = inode_table_dir_fds(f->t, &budget);
	g_test_message("%zu directories known: %u descriptors cached (budget %u), "
		       "%u more open", G_N_ELEMENTS(dirs), cached, budget,
		       open_fds() - before);
	g_assert_cmpuint(budget, ==, BUDGET);
	g_assert_cmpuint(cached, ==, BUDGET);
	g_assert_cmpuint(open_fds(), <=, before + BUDGET);
	/* The first ones fell out of the cache: opened again when needed. */
	for (unsigned i = 0; i < G_N_ELEMENTS(dirs); i += 97) {
		struct inode *file = look(f, dirs[i], "f");
		g_autofree char *text = contents(f, file);

		g_assert_cmpstr(text, ==, "in d");
		inode_forget(f->t, file, 1);
	}
	g_assert_cmpuint(open_fds(), <=, before + BUDGET);
	for (unsigned i = 0; i < G_N_ELEMENTS(dirs); i++)
		inode_forget(f->t, dirs[i], 1);
	g_assert_cmpuint(inode_table_dir_fds(f->t, NULL), ==, 0);
	g_assert_cmpuint(open_fds(), ==, before);
}

/* Directories known that push every other one out of the cache. */
static GPtrArray *crowd_out(struct fixture *f, const char *prefix)
{
	GPtrArray *known = g_ptr_array_new();

	for (unsigned i = 0; i < 2 * BUDGET; i++) {
		g_autofree char *name = g_strdup_printf("%s%u", prefix, i);

		make_dir(f, name);
		g_ptr_array_add(known, look(f, NULL, name));
	}
	return known;
}

static void forget_all(struct fixture *f, GPtrArray *nodes)
{
	for (guint i = 0; i < nodes->len; i++)
		inode_forget(f->t, nodes->pdata[i], 1);
	g_ptr_array_unref(nodes);
}

/* A descriptor handed out is not closed by eviction before it is put. */
static void test_dir_fd_in_use(struct fixture *f, gconstpointer data)
{
	struct inode *first;
	GPtrArray *crowd;
	struct stat st;
	int fd, again;

	make_dir(f, "first");
	first = look(f, NULL, "first");
	fd = inode_fd(f->t, first);
	g_assert_cmpint(fd, >=, 0);
	crowd = crowd_out(f, "o");
	/* The oldest, but in use: passed over, still cached and open. */
	g_assert_cmpuint(inode_table_dir_fds(f->t, NULL), ==, BUDGET);
	again = inode_fd(f->t, first);
	g_assert_cmpint(again, ==, fd);
	g_assert_cmpint(fstat(fd, &st), ==, 0);
	g_assert_true(S_ISDIR(st.st_mode));
	inode_fd_put(f->t, first, again);
	inode_fd_put(f->t, first, fd);
	forget_all(f, crowd);
	inode_forget(f->t, first, 1);
}

/*
 * Renames through the mount (inode_renamed) are followed; by handle, so are
 * those outside it.  A file looked up in a directory that fell out of the
 * cache is still reached.
 */
static void test_renames(struct fixture *f, gconstpointer data)
{
	struct inode *a, *file;
	g_autofree char *text = NULL, *after = NULL;
	GPtrArray *crowd;

	make_dir(f, "a");
	make_file(f, "a/f", "kept");
	a = look(f, NULL, "a");
	file = look(f, a, "f");
	do_rename(f, "a", "b");
	inode_renamed(f->t, inode_table_root(f->t), "b");
	crowd = crowd_out(f, "o");     /* a falls out of the cache */
	text = contents(f, file);
	forget_all(f, crowd);
	g_assert_cmpstr(text, ==, "kept");
	/* Outside the mount, and nobody tells the table: in the same
	 * directory, a node reached by name is found again under its new
	 * name. */
	do_rename(f, "b", "c");
	crowd = crowd_out(f, "p");
	after = contents(f, file);
	g_assert_cmpstr(after, ==, "kept");
	/* Into another directory: not until the new name is looked up. */
	do_rename(f, "c", "p0/c");
	forget_all(f, crowd_out(f, "q"));   /* a falls out again */
	g_clear_pointer(&after, g_free);
	after = contents(f, file);
	g_assert_cmpstr(after, ==, f->by_name ? "" : "kept");
	g_assert_true(look(f, crowd->pdata[0], "c") == a);
	g_clear_pointer(&after, g_free);
	after = contents(f, file);
	g_assert_cmpstr(after, ==, "kept");
	forget_all(f, crowd);
	inode_forget(f->t, file, 1);
	inode_forget(f->t, a, 2);
}

/*
 * A name that leads to another file now does not open it: the node is
 * found again under its new name in the same directory (an exchange), or
 * not at all (moved elsewhere).
 */
static void test_stale_name(struct fixture *f, gconstpointer data)
{
	struct inode *x, *y;
	g_autofree char *text = NULL, *swapped = NULL;
	int fd;

	make_file(f, "x", "old");
	make_file(f, "y", "other");
	make_dir(f, "sub");
	x = look(f, NULL, "x");
	y = look(f, NULL, "y");
	{
		g_autofree char *px = at(f, "x"), *py = at(f, "y");

		g_assert_cmpint(renameat2(AT_FDCWD, px, AT_FDCWD, py, RENAME_EXCHANGE), ==, 0);
	}
	text = contents(f, x);
	swapped = contents(f, y);
	g_assert_cmpstr(text, ==, "old");
	g_assert_cmpstr(swapped, ==, "other");
	inode_forget(f->t, y, 1);
	g_clear_pointer(&text, g_free);
	do_rename(f, "y", "sub/x");         /* x's file, now elsewhere */
	make_file(f, "y", "new");
	text = contents(f, x);
	/* By handle it is the same file, under its new name. */
	g_assert_cmpstr(text, ==, f->by_name ? "" : "old");
	fd = inode_fd(f->t, x);
	if (f->by_name)
		g_assert_cmpint(fd, ==, -ENOENT);
	else
		g_assert_cmpint(fd, >=, 0);
	inode_fd_put(f->t, x, fd);
	inode_forget(f->t, x, 1);
}

/*
 * Renames outside that would make a node its own ancestor by name: the
 * chain stays acyclic (resolving and freeing end).
 */
static void test_no_cycle(struct fixture *f, gconstpointer data)
{
	struct inode *a, *b, *a2;

	make_dir(f, "a");
	make_dir(f, "a/b");
	a = look(f, NULL, "a");
	b = look(f, a, "b");
	do_rename(f, "a/b", "bx");
	do_rename(f, "a", "bx/a");
	a2 = look(f, b, "a");
	g_assert_true(a2 == a);
	inode_forget(f->t, b, 1);
	inode_forget(f->t, a, 2);
	g_assert_cmpuint(inode_table_size(f->t), ==, 1);
}

/*
 * Four threads looking up, using and forgetting 64 directories with a
 * budget of 8: every descriptor handed out is the directory's while in use
 * (eviction never closes it under a user, nor gives its number to
 * another); at the end nothing is left open.
 */
#define THREAD_DIRS 64

struct threads {
	struct fixture *f;
	ino_t inos[THREAD_DIRS];
	gint bad;
};

static gpointer thread_main(gpointer data)
{
	struct threads *th = data;
	GRand *r = g_rand_new_with_seed((guint32)(uintptr_t)g_thread_self());

	for (int i = 0; i < 3000; i++) {
		unsigned k = g_rand_int_range(r, 0, THREAD_DIRS);
		g_autofree char *name = g_strdup_printf("t%u", k);
		struct inode *n = look(th->f, NULL, name);
		struct stat st;
		int fd = inode_fd(th->f->t, n);

		if (fd < 0 || fstat(fd, &st) < 0 || st.st_ino != th->inos[k])
			g_atomic_int_inc(&th->bad);
		inode_fd_put(th->f->t, n, fd);
		inode_forget(th->f->t, n, 1);
	}
	g_rand_free(r);
	return NULL;
}

static void test_threads(struct fixture *f, gconstpointer data)
{
	struct threads th = { .f = f };
	GThread *threads[4];
	unsigned before = open_fds();

	for (unsigned k = 0; k < THREAD_DIRS; k++) {
		g_autofree char *name = g_strdup_printf("t%u", k);
		g_autofree char *p = at(f, name);
		struct stat st;

		make_dir(f, name);
		g_assert_cmpint(stat(p, &st), ==, 0);
		th.inos[k] = st.st_ino;
	}
	for (unsigned i = 0; i < G_N_ELEMENTS(threads); i++)
		threads[i] = g_thread_new("inode", thread_main, &th);
	for (unsigned i = 0; i < G_N_ELEMENTS(threads); i++)
		g_thread_join(threads[i]);
	g_assert_cmpint(th.bad, ==, 0);
	g_assert_cmpuint(inode_table_size(f->t), ==, 1);
	g_assert_cmpuint(open_fds(), ==, before);
}

/* Whether handles can be used here (a table over a scratch directory). */
static bool handles_here(void)
{
	g_autofree char *dir = g_dir_make_tmp("inode-XXXXXX", NULL);
	struct inode_table *t = dir ? inode_table_new(dir, NULL, NULL) : NULL;
	bool yes = t && inode_table_uses_handles(t);

	inode_table_free(t);
	if (dir)
		g_rmdir(dir);
	return yes;
}

static void skip_no_handles(void)
{
	g_test_skip("no file handles here (not root, or not exported)");
}

int main(int argc, char **argv)
{
	bool handles;

	static const struct {
		const char *path;
		void (*fn)(struct fixture *, gconstpointer);
	} tests[] = {
		{ "same-node", test_same_node },
		{ "first-lookup", test_first_lookup },
		{ "dir-fds-bounded", test_dir_fds_bounded },
		{ "dir-fd-in-use", test_dir_fd_in_use },
		{ "renames", test_renames },
		{ "stale-name", test_stale_name },
		{ "no-cycle", test_no_cycle },
		{ "threads", test_threads },
	};

	g_test_init(&argc, &argv, NULL);
	handles = handles_here();
	for (size_t i = 0; i < G_N_ELEMENTS(tests); i++) {
		for (int by_name = 0; by_name < 2; by_name++) {
			g_autofree char *path = g_strdup_printf("/inode/%s/%s",
				by_name ? "by-name" : "by-handle", tests[i].path);

			if (!by_name && !handles)
				g_test_add_func(path, skip_no_handles);
			else
				g_test_add(path, struct fixture, by_name ? "" : NULL,
					   fixture_set_up, tests[i].fn,
					   fixture_tear_down);
		}
	}
	return g_test_run();
}
