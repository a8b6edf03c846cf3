/*
 * test_install.c - what an installation gives an operator:
 *   - meson install into a temporary directory: every file in place, the
 *     installed scripts find the installed daemon, and an fstab line
 *     "SOURCE MOUNTPOINT fuse.mmapfs defaults,max_maps=256,nofail,_netdev"
 *     mounts with mount(8) through mount.fuse3 (in a private mount
 *     namespace, where the temporary sbin/ is bound over /usr/local/sbin);
 *   - the manual page and the README name every option --help prints.
 */
#include <string.h>

#include "harness.h"

/*
 * "-o NAME=" of every option mmapfs --help prints is in the manual page,
 * and in the README's usage table.
 */
static void test_man_page(void)
{
	const char *help[] = { g_getenv("MMAPFS_BIN"), "--help", NULL };
	g_autofree char *out = NULL, *man = NULL, *readme = NULL;
	g_auto(GStrv) lines = NULL;
	unsigned found = 0;

	g_assert_cmpint(harness_run(help, NULL, &out, NULL), ==, 0);
	g_assert_true(g_file_get_contents(g_getenv("MMAPFS_MAN"), &man, NULL, NULL));
	g_assert_true(g_file_get_contents(g_getenv("MMAPFS_README"), &readme, NULL, NULL));
	lines = g_strsplit(out, "\n", -1);
	for (int i = 0; lines[i]; i++) {
		const char *o = strstr(lines[i], "    -o ");
		g_autofree char *name = NULL, *want = NULL;

		if (!o || !strchr(o, '='))
			continue;
		name = g_strndup(o + 7, strcspn(o + 7, "="));
		if (strchr(name, ' '))
			continue;
		want = g_strdup_printf("o %s=", name);
		g_test_message("option %s", name);
		g_assert_nonnull(strstr(man, want));
		g_assert_nonnull(strstr(readme, want));
		found++;
	}
	g_assert_cmpuint(found, >=, 8);
}

static void test_install_and_fstab(struct mount *m, gconstpointer data)
{
	g_autofree char *dest = NULL, *sbin = NULL, *bin = NULL, *prefix = NULL;
	g_autofree char *fstab = NULL, *line = NULL, *shell = NULL, *out = NULL;
	g_autofree char *f = NULL, *cmd = NULL;
	static const char *const files[] = {
		"sbin/mmapfs", "bin/mmapfs-ctl", "bin/mmapfs-mount", "bin/mmapfs-umount",
		"bin/with-mmapfs", "bin/mmapfs-lib.sh", "share/man/man8/mmapfs.8",
		"share/doc/mmapfs/examples/srv-data.mount",
	};

	dest = g_build_filename(m->root, "dest", NULL);
	{
		const char *argv[] = { "meson", "install", "-C", g_getenv("MMAPFS_BUILD"),
				       "--no-rebuild", "--quiet", "--destdir", dest, NULL };

		g_assert_cmpint(harness_run(argv, NULL, NULL, NULL), ==, 0);
	}
	{
		const char *argv[] = { "meson", "introspect", g_getenv("MMAPFS_BUILD"),
				       "--buildoptions", NULL };
		g_autofree char *json = NULL;
		const char *p;

		/* {"name": "prefix", "value": "/usr/local", ...} */
		g_assert_cmpint(harness_run(argv, NULL, &json, NULL), ==, 0);
		p = strstr(json, "\"name\": \"prefix\", \"value\": \"");
		g_assert_nonnull(p);
		p += strlen("\"name\": \"prefix\", \"value\": \"");
		g_autofree char *value = g_strndup(p, strcspn(p, "\""));

		prefix = g_strconcat(dest, "/", value, NULL);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autofree char *p = g_build_filename(prefix, files[i], NULL);

		g_test_message("installed: %s", p);
		g_assert_true(g_file_test(p, G_FILE_TEST_EXISTS));
	}
	sbin = g_build_filename(prefix, "sbin", NULL);
	bin = g_build_filename(prefix, "bin", NULL);
	f = src_path(m, "f");
	g_assert_true(g_file_set_contents(f, "through fstab\n", -1, NULL));

	/* The installed scripts find the installed daemon (MMAPFS unset). */
	cmd = g_strdup_printf("unset MMAPFS; '%s/mmapfs-mount' '%s' '%s' && cat '%s/f' && "
			      "'%s/mmapfs-umount' '%s'", bin, m->src, m->mnt, m->mnt, bin, m->mnt);
	{
		const char *argv[] = { "sh", "-c", cmd, NULL };

		g_assert_cmpint(harness_run(argv, NULL, &out, NULL), ==, 0);
		g_assert_cmpstr(out, ==, "through fstab\n");
		g_clear_pointer(&out, g_free);
		g_assert_false(path_is_mounted(m->mnt));
	}

	/* fstab, through mount(8) and mount.fuse3, which look for mmapfs in a
	 * fixed PATH: in a private mount namespace the installed sbin/ is
	 * bound over /usr/local/sbin, and everything is unmounted inside. */
	fstab = g_build_filename(m->root, "fstab", NULL);
	line = g_strdup_printf("%s %s fuse.mmapfs defaults,max_maps=256,nofail,_netdev 0 0\n",
			       m->src, m->mnt);
	g_assert_true(g_file_set_contents(fstab, line, -1, NULL));
	shell = g_strdup_printf(
		"set -e; mount --bind '%s' /usr/local/sbin; "
		"trap 'fusermount3 -u \"%s\" 2>/dev/null || true' EXIT; "
		"mount -T '%s' '%s'; cat '%s/f'; findmnt -n -o FSTYPE '%s'; "
		"'%s/mmapfs-ctl' stats '%s' | grep '^max_maps '",
		sbin, m->mnt, fstab, m->mnt, m->mnt, m->mnt, bin, m->mnt);
	{
		const char *argv[] = { "unshare", "-m", "--propagation", "private",
				       "sh", "-c", shell, NULL };

		g_assert_cmpint(harness_run(argv, NULL, &out, NULL), ==, 0);
		g_assert_cmpstr(out, ==, "through fstab\nfuse.mmapfs\nmax_maps 256\n");
	}
	g_assert_false(path_is_mounted(m->mnt));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	g_test_add_func("/install/man-page-and-readme", test_man_page);
	MOUNT_TEST("/install/install-and-fstab", test_install_and_fstab, NULL);
	return g_test_run();
}
