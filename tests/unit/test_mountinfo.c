/*
 * test_mountinfo.c - finding a mount point in this process's mount table
 * (mountinfo.h).
 */
#include <string.h>

#include <glib.h>

#include "mmapfs/mountinfo.h"

static void test_find(void)
{
	struct mountinfo_entry e;

	g_assert_true(mountinfo_find("/proc", NULL, &e));
	g_assert_cmpstr(e.fstype, ==, "proc");
	g_assert_nonnull(strchr(e.dev, ':'));
	g_assert_true(mountinfo_find("/proc", "pro", &e));
	g_assert_false(mountinfo_find("/proc", "fuse", &e));
	g_assert_false(mountinfo_find("/proc/self", NULL, &e));
	g_assert_false(mountinfo_find("/no/such/mount/point", NULL, &e));
	g_assert_true(mountinfo_find("/", NULL, &e));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/mountinfo/find", test_find);
	return g_test_run();
}
