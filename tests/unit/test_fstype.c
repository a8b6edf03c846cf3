/*
 * test_fstype.c - which filesystems changes reach unseen (fstype.h).
 */
#include <fcntl.h>
#include <linux/magic.h>
#include <unistd.h>

#include <glib.h>

#include "mmapfs/fstype.h"

static void test_names(void)
{
	g_assert_cmpstr(fstype_blind_name(NFS_SUPER_MAGIC), ==, "nfs");
	g_assert_cmpstr(fstype_blind_name(FUSE_SUPER_MAGIC), ==, "fuse");
	/* The top bit set: as statfs gives it in a signed word too. */
	g_assert_cmpstr(fstype_blind_name((long)CIFS_SUPER_MAGIC), ==, "cifs");
	g_assert_cmpstr(fstype_blind_name((long)(int)CIFS_SUPER_MAGIC), ==, "cifs");
	g_assert_null(fstype_blind_name(EXT4_SUPER_MAGIC));
	g_assert_null(fstype_blind_name(TMPFS_MAGIC));
	g_assert_null(fstype_blind_name(0));
}

static void test_local(void)
{
	int fd = open("/proc/self", O_PATH | O_DIRECTORY);

	g_assert_cmpint(fd, >=, 0);
	g_assert_null(fstype_blind(fd));
	g_assert_false(fstype_is_fuse(fd));
	close(fd);
	g_assert_null(fstype_blind(-1));
	g_assert_false(fstype_is_fuse(-1));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fstype/names", test_names);
	g_test_add_func("/fstype/local", test_local);
	return g_test_run();
}
