/*
 * test_programs.c - real programs on the mount: git, tar, sqlite3, dd with
 * O_DIRECT.  Each runs a shell script in the mount and checks its result.
 */
#include <string.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

#include "harness.h"

/* Runs script with sh -e in dir, SRC and MNT in its environment; asserts
 * exit 0 and returns stdout. */
static char *run_script(struct mount *m, const char *dir, const char *script)
{
	const char *argv[] = { "sh", "-ec", script, NULL };
	g_auto(GStrv) env = g_get_environ();
	g_autofree char *out = NULL, *err = NULL;
	GError *error = NULL;
	int status;

	env = g_environ_setenv(env, "SRC", m->src, TRUE);
	env = g_environ_setenv(env, "MNT", m->mnt, TRUE);
	env = g_environ_setenv(env, "ROOT", m->root, TRUE);
	env = g_environ_setenv(env, "HOME", m->root, TRUE);
	env = g_environ_setenv(env, "LC_ALL", "C", TRUE);
	g_spawn_sync(dir, (char **)argv, env, G_SPAWN_SEARCH_PATH, NULL, NULL,
		     &out, &err, &status, &error);
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(status, NULL))
		g_error("script failed (status %d):\n%s\nstdout:\n%s\nstderr:\n%s",
			status, script, out, err);
	return g_steal_pointer(&out);
}

/*
 * Mounts the test's mirror, runs script in the mount (or in the test's private
 * directory, beside src/ and mnt/, when in_root), checks the daemon exits
 * cleanly, and returns the script's stdout.
 */
static char *script_on_mount(struct mount *m, bool in_root, const char *script)
{
	char *out;

	mount_start(m, NULL);
	out = run_script(m, in_root ? m->root : m->mnt, script);
	g_assert_cmpint(mount_stop(m), ==, 0);
	return out;
}

static void test_git(struct mount *m, gconstpointer data)
{
	g_autofree char *out = script_on_mount(m, false,
		"git init -q repo && cd repo\n"
		"git config user.name t && git config user.email t@example.invalid\n"
		"i=0; while [ $i -lt 200 ]; do mkdir -p d$((i % 7)); "
		"  seq $i 3 $((i * 50)) > d$((i % 7))/f$i; i=$((i + 1)); done\n"
		"head -c 3000000 /dev/urandom > blob\n"
		"git add -A && git commit -q -m one\n"
		"sed -i s/1/one/ d1/f1 && git mv d2 moved && rm d3/f3\n"
		"git commit -q -a -m two && git tag v2\n"
		"git gc -q --aggressive\n"
		"git fsck --full --strict\n"
		"git status --porcelain | wc -l\n"
		"git log --oneline | wc -l\n"
		"git checkout -q HEAD~1 && git checkout -q v2 && git diff --stat HEAD~1 | tail -1\n");

	g_test_message("%s", out);
	g_assert_true(g_str_has_prefix(out, "0\n2\n"));
}

static void test_tar(struct mount *m, gconstpointer data)
{
	g_autofree char *out = script_on_mount(m, true,
		/* A tree with files, holes, links, a fifo and odd names. */
		"mkdir -p $SRC/t/a/b $SRC/t/'sp ace' && cd $SRC/t\n"
		"i=0; while [ $i -lt 100 ]; do head -c $((i * 997)) /dev/urandom > a/f$i; i=$((i + 1)); done\n"
		"truncate -s 5M sparse && echo end >> sparse\n"
		"ln a/f7 hard && ln -s a/f8 soft && mkfifo fifo && touch 'sp ace/x'\n"
		"chmod 640 a/f9 && touch -d 2001-02-03 a/f10\n"
		"cd $ROOT\n"
		"TAR='tar --sort=name --numeric-owner --format=gnu --sparse'\n"
		/* Archive created from the mount = archive of the backing tree. */
		"$TAR -cf $MNT/through.tar -C $MNT t\n"
		"$TAR -cf native.tar -C $SRC t\n"
		"cmp $MNT/through.tar native.tar\n"
		/* Extracted into the mount: the same bytes and metadata. */
		"mkdir $MNT/out && tar -xpf $MNT/through.tar -C $MNT/out\n"
		"$TAR -cf again.tar -C $MNT/out t\n"
		"cmp again.tar native.tar\n"
		"diff -r --no-dereference -x fifo $SRC/t $SRC/out/t && echo same\n");

	g_assert_true(g_str_has_suffix(out, "same\n"));
}

static void test_sqlite(struct mount *m, gconstpointer data)
{
	g_autofree char *out = script_on_mount(m, false,
		"for mode in delete wal; do\n"
		"  sqlite3 db-$mode \"PRAGMA journal_mode=$mode;\" >/dev/null\n"
		"  sqlite3 db-$mode 'CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT);'\n"
		"  i=0; while [ $i -lt 20 ]; do\n"
		"    sqlite3 db-$mode \"BEGIN; WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<500)"
		"      INSERT INTO t(v) SELECT hex(randomblob(100)) FROM c; COMMIT;\"\n"
		"    i=$((i + 1)); done\n"
		"  sqlite3 db-$mode 'DELETE FROM t WHERE k % 3 = 0; VACUUM;'\n"
		"  sqlite3 db-$mode 'PRAGMA integrity_check; SELECT count(*) FROM t;'\n"
		"done\n");

	g_assert_cmpstr(out, ==, "ok\n6667\nok\n6667\n");
}

static void test_dd_direct(struct mount *m, gconstpointer data)
{
	g_autofree char *out = script_on_mount(m, true,
		"head -c 8M /dev/urandom > data\n"
		"dd if=data of=$MNT/direct bs=4k oflag=direct status=none\n"
		"dd if=$MNT/direct of=back bs=4k iflag=direct status=none\n"
		"cmp data back && cmp data $SRC/direct && echo same\n");

	g_assert_cmpstr(out, ==, "same\n");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	MOUNT_TEST("/programs/git", test_git, NULL);
	MOUNT_TEST("/programs/tar", test_tar, NULL);
	MOUNT_TEST("/programs/sqlite3", test_sqlite, NULL);
	MOUNT_TEST("/programs/dd-direct", test_dd_direct, NULL);
	return g_test_run();
}
