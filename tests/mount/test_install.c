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

/* The manual page's entry for -o name (from its .BI line to the next
 * .TP or .SH), with the roff escapes and fonts taken out. */
static char *man_entry(const char *man, const char *name)
{
	g_autofree char *bi = g_strdup_printf("\n.BI \"\\-o %s=", name);
	g_autofree char *b = g_strdup_printf("\n.B \\-o %s\n", name);
	const char *at = strstr(man, bi), *end;
	g_autofree char *raw = NULL;
	g_autoptr(GRegex) fonts = g_regex_new("\\\\f[BIR]|\\\\", 0, 0, NULL);

	if (!at)
		at = strstr(man, b);
	if (!at)
		return NULL;
	end = strstr(at + 1, "\n.TP");
	if (!end)
		end = strstr(at + 1, "\n.SH");
	raw = g_strndup(at, end ? (size_t)(end - at) : strlen(at));
	return g_regex_replace_literal(fonts, raw, -1, 0, "", 0, NULL);
}

/* The README usage table's row for -o name. */
static char *readme_row(const char *readme, const char *name)
{
	g_autofree char *head = g_strdup_printf("| `-o %s", name);
	const char *at = strstr(readme, head);

	return at ? g_strndup(at, strcspn(at, "\n")) : NULL;
}

/* Notes in wrong that where lacks what (for one report of all). */
static void expect(GString *wrong, const void *found, const char *where,
		   const char *name, const char *what)
{
	if (!found)
		g_string_append_printf(wrong, "%s: -o %s lacks '%s'\n", where, name, what);
}

/*
 * Every -o option mmapfs --help prints (its own and the FUSE mount options
 * it describes) appears once there, and is in the manual page and the
 * README's usage table, with the same default and the same range: one
 * source of truth, the option table.
 */
static void test_man_page(void)
{
	const char *help[] = { g_getenv("MMAPFS_BIN"), "--help", NULL };
	g_autofree char *out = NULL, *man = NULL, *readme = NULL;
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal,
							   g_free, NULL);
	g_autoptr(GRegex) entry = NULL, range = NULL, def = NULL;
	g_autoptr(GMatchInfo) mi = NULL;
	g_autoptr(GString) wrong = g_string_new(NULL);
	unsigned found = 0;

	g_assert_cmpint(harness_run(help, NULL, &out, NULL), ==, 0);
	g_assert_true(g_file_get_contents(g_getenv("MMAPFS_MAN"), &man, NULL, NULL));
	g_assert_true(g_file_get_contents(g_getenv("MMAPFS_README"), &readme, NULL, NULL));
	/* "    -o name[=VALUE]   text...", up to the next entry. */
	entry = g_regex_new("^    -o ([a-z_]+)(=[A-Z]+)?\\s+(.*?)(?=^    -|^\\n|\\z)",
			    G_REGEX_MULTILINE | G_REGEX_DOTALL, 0, NULL);
	range = g_regex_new("from (\\S+) to ([^)\\s]+)\\)", 0, 0, NULL);
	def = g_regex_new("\\[([^]]+)\\]\\s*$", 0, 0, NULL);
	g_regex_match(entry, out, 0, &mi);
	for (; g_match_info_matches(mi); g_match_info_next(mi, NULL)) {
		g_autofree char *name = g_match_info_fetch(mi, 1);
		g_autofree char *text = g_match_info_fetch(mi, 3);
		g_autofree char *m_entry = NULL, *r_row = NULL;
		g_autoptr(GMatchInfo) rm = NULL, dm = NULL;
		g_autoptr(GRegex) spaces = g_regex_new("\\s+", 0, 0, NULL);
		g_autofree char *flat = g_regex_replace_literal(spaces, text, -1, 0, " ", 0, NULL);

		if (!strcmp(name, "debug") || !strcmp(name, "clone_fd") ||
		    (g_str_has_prefix(name, "max_") && strstr(flat, "worker threads")))
			continue;       /* libfuse's loop options: the README's one row */
		g_test_message("option %s: %s", name, flat);
		g_assert_false(g_hash_table_contains(seen, name));
		g_hash_table_add(seen, g_strdup(name));
		m_entry = man_entry(man, name);
		r_row = readme_row(readme, name);
		expect(wrong, m_entry, "manual page", name, "an entry");
		expect(wrong, r_row, "README", name, "a row");
		if (!m_entry || !r_row)
			continue;
		if (g_regex_match(range, flat, 0, &rm)) {
			for (int k = 1; k <= 2; k++) {
				g_autofree char *bound = g_match_info_fetch(rm, k);

				g_test_message("  range bound %s", bound);
				expect(wrong, strstr(m_entry, bound), "manual page", name, bound);
				expect(wrong, strstr(r_row, bound), "README", name, bound);
			}
		}
		if (g_regex_match(def, flat, 0, &dm)) {
			g_autofree char *d = g_match_info_fetch(dm, 1);
			g_autofree char *cell = g_strdup_printf("| %s |", d);

			g_test_message("  default %s", d);
			expect(wrong, strstr(m_entry, d), "manual page", name, d);
			expect(wrong, strstr(r_row, cell), "README", name, cell);
		}
		found++;
	}
	g_test_message("disagreements:\n%s", wrong->str);
	g_assert_cmpstr(wrong->str, ==, "");
	g_assert_cmpuint(found, >=, 14);
	g_assert_true(g_hash_table_contains(seen, "allow_root"));
	g_assert_true(g_hash_table_contains(seen, "auto_unmount"));
	g_assert_true(g_hash_table_contains(seen, "log_file"));
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
