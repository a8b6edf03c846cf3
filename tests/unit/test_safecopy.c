/*
 * test_safecopy.c - probing a mapping whose file shrank: the guard turns
 * SIGBUS into a short answer, on any thread, as often as it happens.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "mmapfs/safecopy.h"

static size_t page;

struct mapped {
	char *path;
	int fd;
	char *addr;
	size_t len;
};

static void map_file(struct mapped *m, size_t len)
{
	GError *error = NULL;
	g_autofree char *buf = g_malloc(len);

	m->fd = g_file_open_tmp("safecopy-XXXXXX", &m->path, &error);
	g_assert_no_error(error);
	memset(buf, 'x', len);
	g_assert_cmpint(write(m->fd, buf, len), ==, (ssize_t)len);
	m->len = len;
	m->addr = mmap(NULL, len, PROT_READ, MAP_SHARED, m->fd, 0);
	g_assert_true(m->addr != MAP_FAILED);
}

static void unmap_file(struct mapped *m)
{
	munmap(m->addr, m->len);
	close(m->fd);
	g_unlink(m->path);
	g_free(m->path);
}

static void test_whole_file(void)
{
	struct mapped m;

	map_file(&m, 4 * page);
	g_assert_cmpuint(safecopy_probe(m.addr, m.len), ==, m.len);
	g_assert_cmpuint(safecopy_probe(m.addr + 5, 3 * page), ==, 3 * page);
	g_assert_cmpuint(safecopy_probe(m.addr, 0), ==, 0);
	unmap_file(&m);
}

static void test_truncated(void)
{
	struct mapped m;
	unsigned long before = safecopy_recoveries();

	map_file(&m, 4 * page);
	/* One page and a bit survive: pages 0 and 1 can be touched. */
	g_assert_cmpint(ftruncate(m.fd, page + 10), ==, 0);
	g_assert_cmpuint(safecopy_probe(m.addr, m.len), ==, 2 * page);
	g_assert_cmpuint(safecopy_probe(m.addr + 100, m.len - 100), ==,
			 2 * page - 100);
	g_assert_cmpuint(safecopy_probe(m.addr + 3 * page, page), ==, 0);
	/* Again after a recovery: the guard must not be left disarmed. */
	g_assert_cmpint(ftruncate(m.fd, 0), ==, 0);
	g_assert_cmpuint(safecopy_probe(m.addr, m.len), ==, 0);
	g_assert_cmpuint(safecopy_recoveries(), ==, before + 4);
	unmap_file(&m);
}

static gpointer probe_in_thread(gpointer data)
{
	struct mapped *m = data;

	return GSIZE_TO_POINTER(safecopy_probe(m->addr, m->len));
}

static void test_other_thread(void)
{
	struct mapped m;
	GThread *t;

	map_file(&m, 3 * page);
	g_assert_cmpint(ftruncate(m.fd, 1), ==, 0);
	t = g_thread_new("probe", probe_in_thread, &m);
	g_assert_cmpuint(GPOINTER_TO_SIZE(g_thread_join(t)), ==, page);
	unmap_file(&m);
}

/* A SIGBUS outside the guard is a real bug: the process must die of it. */
static void test_unguarded_sigbus_kills(void)
{
	if (g_test_subprocess()) {
		struct mapped m;

		map_file(&m, 2 * page);
		g_assert_cmpint(ftruncate(m.fd, 0), ==, 0);
		(void)*(volatile char *)m.addr;
		return;
	}
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_failed();
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	page = (size_t)sysconf(_SC_PAGESIZE);
	g_assert_cmpint(safecopy_init(), ==, 0);
	g_test_add_func("/safecopy/whole-file", test_whole_file);
	g_test_add_func("/safecopy/truncated", test_truncated);
	g_test_add_func("/safecopy/other-thread", test_other_thread);
	g_test_add_func("/safecopy/unguarded-sigbus-kills", test_unguarded_sigbus_kills);
	return g_test_run();
}
