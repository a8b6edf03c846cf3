/*
 * test_conformance.c - the differential conformance suite.
 *
 * Each scenario is a list of system calls on relative paths.  It runs once
 * in a native directory and once on the mount (whose backing directory is
 * another directory of the same filesystem), each run writing a transcript
 * of every call with its return value and errno, and of what it observed:
 * bytes read, stat fields (mode, size, nlink, uid, gid, and whether two
 * names share an inode), link targets, xattrs.  The transcripts must be
 * equal line for line.  Scenarios marked "as nobody" run in a child that
 * dropped to uid/gid 65534 with supplementary group 4242; the mount then
 * has allow_other, and so default_permissions.  The ACL scenario (access
 * and default ACLs, user and group entries, masks, files and directories)
 * sets them in the kernel's xattr form, so it needs no libacl.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "harness.h"

static GString *T;   /* the transcript being written */

static void note(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_string_append_vprintf(T, fmt, ap);
	va_end(ap);
	g_string_append_c(T, '\n');
}

/* Runs a call, records "text = result" or "text = -1 ENAME". */
#define DO(call) ({                                                      \
	errno = 0;                                                       \
	long _r = (long)(call);                                          \
	int _e = errno;                                                  \
	if (_r < 0)                                                      \
		note("%s = %ld %s", #call, _r, strerrorname_np(_e));     \
	else                                                             \
		note("%s = ok", #call);                                  \
	errno = _e;                                                      \
	_r; })

/* Like DO, for calls whose non-negative result matters (counts, offsets). */
#define DOV(call) ({                                                     \
	errno = 0;                                                       \
	long _r = (long)(call);                                          \
	int _e = errno;                                                  \
	note("%s = %ld%s%s", #call, _r, _r < 0 ? " " : "",               \
	     _r < 0 ? strerrorname_np(_e) : "");                         \
	_r; })

static void note_stat(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		note("lstat(%s) = -1 %s", path, strerrorname_np(errno));
		return;
	}
	note("lstat(%s): mode=%o nlink=%lu uid=%u gid=%u size=%ld", path,
	     st.st_mode, (unsigned long)st.st_nlink, st.st_uid, st.st_gid,
	     S_ISDIR(st.st_mode) ? 0L : (long)st.st_size);
}

static void note_mtime(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		note("mtime(%s) = %ld.%09ld", path, (long)st.st_mtim.tv_sec,
		     st.st_mtim.tv_nsec);
}

static void note_same_inode(const char *a, const char *b)
{
	struct stat x, y;

	if (lstat(a, &x) == 0 && lstat(b, &y) == 0)
		note("same inode(%s, %s) = %d", a, b,
		     x.st_ino == y.st_ino && x.st_dev == y.st_dev);
}

static void note_contents(const char *path)
{
	g_autofree char *data = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &data, &len, NULL)) {
		note("contents(%s) unreadable", path);
		return;
	}
	g_autofree char *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
							   (guchar *)data, len);
	note("contents(%s) = %zu bytes %.16s", path, (size_t)len, sum);
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void note_listing(const char *dir)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	DIR *dp = opendir(dir);
	struct dirent *de;

	if (!dp) {
		note("opendir(%s) = -1 %s", dir, strerrorname_np(errno));
		return;
	}
	while ((de = readdir(dp)))
		g_ptr_array_add(names, g_strdup(de->d_name));
	closedir(dp);
	{
		g_autoptr(GString) all = g_string_new(NULL);

		g_ptr_array_sort(names, cmp_str);
		for (guint i = 0; i < names->len; i++)
			g_string_append_printf(all, " %s", (char *)names->pdata[i]);
		note("listing(%s):%s", dir, all->str);
	}
}

/* --- scenarios --------------------------------------------------------- */

static void sc_files(void)
{
	char buf[64];
	int fd;

	fd = DO(open("f", O_CREAT | O_EXCL | O_RDWR, 0644));
	DO(open("f", O_CREAT | O_EXCL | O_RDWR, 0644));
	DOV(write(fd, "hello world", 11));
	DOV(pwrite(fd, "HELLO", 5, 0));
	DOV(pwrite(fd, "tail", 4, 20));
	DOV(pread(fd, buf, sizeof(buf), 0));
	DOV(pread(fd, buf, sizeof(buf), 100));
	note_contents("f");
	DO(close(fd));
	fd = DO(open("f", O_WRONLY | O_APPEND));
	DOV(write(fd, "+appended", 9));
	DOV(lseek(fd, 0, SEEK_CUR));
	DO(close(fd));
	note_contents("f");
	note_stat("f");
	fd = DO(open("f", O_WRONLY | O_TRUNC));
	DO(close(fd));
	note_stat("f");
	DO(open("missing", O_RDONLY));
	DO(open("f/below", O_RDONLY));
	DO(mkdir("d", 0755));
	DO(open("d", O_WRONLY));
	DO(open("d", O_RDONLY | O_CREAT, 0644));
	DO(truncate("f", 10000));
	note_stat("f");
	DO(truncate("f", 3));
	note_stat("f");
	DO(truncate("d", 3));
	DO(truncate("missing", 3));
	fd = DO(open("f", O_RDWR));
	DO(ftruncate(fd, 7777));
	DO(fsync(fd));
	DO(fdatasync(fd));
	DO(close(fd));
	note_stat("f");
	note_contents("f");
}

static void sc_dirs(void)
{
	DO(mkdir("d", 0750));
	DO(mkdir("d", 0750));
	DO(mkdir("d/e", 0700));
	DO(mkdir("missing/e", 0700));
	DO(close(open("d/e/f", O_CREAT | O_WRONLY, 0600)));
	DO(rmdir("d"));
	DO(rmdir("d/e/f"));
	DO(unlink("d/e"));
	DO(unlink("d/e/f"));
	DO(rmdir("d/e"));
	DO(rmdir("missing"));
	note_listing("d");
	note_stat("d");
	{
		int fd = DO(open("d", O_RDONLY | O_DIRECTORY));

		DO(fsync(fd));
		DO(close(fd));
	}
	DO(rmdir("d"));
	note_listing(".");
}

static void sc_links(void)
{
	char buf[PATH_MAX];

	DO(close(open("f", O_CREAT | O_WRONLY, 0640)));
	DO(link("f", "g"));
	DO(link("f", "g"));
	DO(link("missing", "h"));
	DO(mkdir("d", 0755));
	DO(link("d", "d2"));
	DO(link("f", "d/h"));
	note_stat("f");
	note_stat("g");
	note_stat("d/h");
	note_same_inode("f", "d/h");
	DO(unlink("g"));
	note_stat("f");
	DO(symlink("f", "s"));
	DO(symlink("nowhere", "dangling"));
	DO(symlink("f", "s"));
	DOV(readlink("s", buf, sizeof(buf)));
	note("target(s) = %.*s", (int)MAX(0, readlink("s", buf, sizeof(buf))), buf);
	DOV(readlink("f", buf, sizeof(buf)));
	note_stat("s");
	DO(symlink("loop2", "loop1"));
	DO(symlink("loop1", "loop2"));
	DO(open("loop1", O_RDONLY));
	DO(open("s", O_RDONLY | O_NOFOLLOW));
	DO(open("dangling", O_RDONLY));
	DO(link("s", "s-hard"));
	note_same_inode("s", "s-hard");
	note_stat("s-hard");
	note_contents("s");
}

static void sc_rename(void)
{
	DO(close(open("a", O_CREAT | O_WRONLY, 0644)));
	DO(close(open("b", O_CREAT | O_WRONLY, 0600)));
	DO(link("a", "a2"));
	DO(mkdir("d", 0755));
	DO(mkdir("full", 0755));
	DO(close(open("full/x", O_CREAT | O_WRONLY, 0644)));
	DO(mkdir("empty", 0755));
	DO(rename("a", "c"));
	note_stat("c");
	note_stat("a2");
	note_same_inode("c", "a2");
	DO(rename("missing", "z"));
	DO(renameat2(AT_FDCWD, "c", AT_FDCWD, "b", RENAME_NOREPLACE));
	DO(renameat2(AT_FDCWD, "c", AT_FDCWD, "b", RENAME_EXCHANGE));
	note_stat("b");
	note_stat("c");
	DO(renameat2(AT_FDCWD, "c", AT_FDCWD, "nothere", RENAME_EXCHANGE));
	DO(rename("b", "c"));
	note_stat("c");
	note_stat("a2");
	DO(rename("d", "full"));
	DO(rename("d", "empty"));
	DO(rename("c", "full"));
	DO(rename("full", "a2"));
	DO(rename("full", "full/sub"));
	DO(rename("full/x", "full/x"));
	/* Leaving the filesystem: EXDEV on both sides. */
	DO(rename("a2", "/dev/shm/mmapfs-conformance-exdev"));
	/* Exchanges of plain files and of directories. */
	DO(close(open("e1", O_CREAT | O_WRONLY, 0640)));
	DO(close(open("e2", O_CREAT | O_WRONLY, 0604)));
	DO(renameat2(AT_FDCWD, "e1", AT_FDCWD, "e2", RENAME_EXCHANGE));
	note_stat("e1");
	note_stat("e2");
	DO(renameat2(AT_FDCWD, "empty", AT_FDCWD, "full", RENAME_EXCHANGE));
	note_listing("empty");
	note_listing("full");
	DO(renameat2(AT_FDCWD, "e1", AT_FDCWD, "full", RENAME_EXCHANGE));
	note_stat("full");
	note_listing(".");
}

static void sc_attrs(void)
{
	struct timespec ts[2] = { { 1000000000, 123456789 }, { 1200000000, 987654321 } };
	struct timespec omit[2] = { { 0, UTIME_OMIT }, { 1300000000, 5 } };
	struct timespec now[2] = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } };

	DO(close(open("f", O_CREAT | O_WRONLY, 0644)));
	DO(chmod("f", 04751));
	note_stat("f");
	DO(chmod("f", 0600));
	DO(chown("f", 1234, 5678));
	note_stat("f");
	DO(chown("f", -1, 42));
	note_stat("f");
	DO(lchown("f", 7, -1));
	note_stat("f");
	DO(chmod("missing", 0600));
	DO(utimensat(AT_FDCWD, "f", ts, 0));
	note_mtime("f");
	DO(utimensat(AT_FDCWD, "f", omit, 0));
	note_mtime("f");
	DO(utimensat(AT_FDCWD, "f", now, 0));
	note_mtime("f");
	DO(symlink("f", "s"));
	DO(utimensat(AT_FDCWD, "s", ts, AT_SYMLINK_NOFOLLOW));
	note_mtime("s");
	note_mtime("f");
	DO(lchown("s", 99, 98));
	note_stat("s");
	note_stat("f");
}

static void sc_xattrs(void)
{
	char buf[256];

	DO(close(open("f", O_CREAT | O_WRONLY, 0644)));
	DO(setxattr("f", "user.a", "1", 1, 0));
	DO(setxattr("f", "user.a", "2", 1, XATTR_CREATE));
	DO(setxattr("f", "user.b", "22", 2, XATTR_REPLACE));
	DO(setxattr("f", "user.b", "22", 2, 0));
	DOV(getxattr("f", "user.b", buf, sizeof(buf)));
	DOV(getxattr("f", "user.b", NULL, 0));
	DOV(getxattr("f", "user.b", buf, 1));
	DOV(getxattr("f", "user.none", buf, sizeof(buf)));
	DOV(listxattr("f", buf, sizeof(buf)));
	DO(removexattr("f", "user.a"));
	DO(removexattr("f", "user.a"));
	DOV(listxattr("f", buf, sizeof(buf)));
	note("list = %s", buf);
	DO(setxattr("missing", "user.a", "1", 1, 0));
}

static void sc_special(void)
{
	DO(mknod("fifo", S_IFIFO | 0640, 0));
	note_stat("fifo");
	DO(mknod("null", S_IFCHR | 0666, makedev(1, 3)));
	note_stat("null");
	{
		struct stat st;

		if (lstat("null", &st) == 0)
			note("rdev = %u:%u", major(st.st_rdev), minor(st.st_rdev));
	}
	DO(mknod("fifo", S_IFIFO | 0640, 0));
	DO(mkfifo("missing/fifo", 0600));
}

static void sc_sparse(void)
{
	char buf[4096];
	int fd = DO(open("sparse", O_CREAT | O_RDWR, 0644));

	memset(buf, 'x', sizeof(buf));
	DOV(pwrite(fd, buf, sizeof(buf), 1 << 20));
	DOV(pwrite(fd, buf, sizeof(buf), 4 << 20));
	/* (With -o writeback these answer EINVAL while the file is open for
	 * writing: test_writeback checks that.) */
	if (!mount_writeback_forced()) {
		DOV(lseek(fd, 0, SEEK_DATA));
		DOV(lseek(fd, 0, SEEK_HOLE));
		DOV(lseek(fd, (1 << 20) + 10, SEEK_HOLE));
		DOV(lseek(fd, (2 << 20), SEEK_DATA));
		DOV(lseek(fd, (8 << 20), SEEK_DATA));
	}
	DO(fallocate(fd, 0, 0, 8192));
	note_stat("sparse");
	DO(fallocate(fd, FALLOC_FL_KEEP_SIZE, 5 << 20, 8192));
	note_stat("sparse");
	DO(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (1 << 20) + 100, 1000));
	DOV(pread(fd, buf, sizeof(buf), 1 << 20));
	note("bytes 100..1099 zero = %d, 1100 = %c",
	     buf[100] == 0 && buf[1099] == 0, buf[1100]);
	DO(fallocate(fd, 0, 6 << 20, 4096));
	note_stat("sparse");
	note_contents("sparse");
	{
		int out = DO(open("copy", O_CREAT | O_RDWR, 0644));
		loff_t in_off = 1 << 20, out_off = 10;

		DOV(copy_file_range(fd, &in_off, out, &out_off, 5000, 0));
		note("offsets after copy = %ld %ld", (long)in_off, (long)out_off);
		DO(close(out));
		note_contents("copy");
	}
	DO(close(fd));
}

static void sc_names(void)
{
	char name[NAME_MAX + 2];
	g_autoptr(GString) path = g_string_new(NULL);

	memset(name, 'n', NAME_MAX);
	name[NAME_MAX] = '\0';
	DO(close(open(name, O_CREAT | O_WRONLY, 0644)));
	note_stat(name);
	DO(unlink(name));
	name[NAME_MAX] = 'n';
	name[NAME_MAX + 1] = '\0';
	DO(open(name, O_CREAT | O_WRONLY, 0644));
	DO(mkdir(name, 0755));
	DO(stat(name, &(struct stat){ 0 }));
	while (path->len <= PATH_MAX)
		g_string_append(path, "d/");
	DO(open(path->str, O_RDONLY));
	DO(mkdir(path->str, 0755));
	DO(mkdir("sp ace\nnewline\xff\xfe", 0755));
	DO(close(open("sp ace\nnewline\xff\xfe/f", O_CREAT | O_WRONLY, 0644)));
	note_listing(".");
}

static void sc_locks(void)
{
	int a = DO(open("lock", O_CREAT | O_RDWR, 0644));
	int b = DO(open("lock", O_RDWR));
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10 };

	DO(flock(a, LOCK_EX | LOCK_NB));
	DO(flock(b, LOCK_EX | LOCK_NB));
	DO(flock(a, LOCK_UN));
	DO(flock(b, LOCK_SH | LOCK_NB));
	DO(fcntl(a, F_OFD_SETLK, &fl));
	DO(fcntl(b, F_OFD_SETLK, &fl));
	fl.l_start = 10;
	DO(fcntl(b, F_OFD_SETLK, &fl));
	fl.l_start = 5;
	DO(fcntl(b, F_OFD_GETLK, &fl));
	note("getlk type=%d start=%ld len=%ld", fl.l_type, (long)fl.l_start, (long)fl.l_len);
	/* POSIX record locks belong to processes: a child must conflict. */
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 10 };
	DO(fcntl(a, F_SETLK, &fl));
	{
		pid_t pid = fork();

		if (pid == 0) {
			struct flock c = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
					   .l_start = 105, .l_len = 1 };
			int r = fcntl(b, F_SETLK, &c);

			_exit(r < 0 ? (errno == EAGAIN || errno == EACCES ? 10 : 11) : 12);
		}
		int status = 0;

		waitpid(pid, &status, 0);
		note("child F_SETLK on a locked range: %d", WEXITSTATUS(status));
	}
	fl.l_type = F_UNLCK;
	DO(fcntl(a, F_SETLK, &fl));
	DO(close(a));
	DO(close(b));
}

static void sc_direct(void)
{
	void *buf = NULL;
	int fd;

	g_assert_cmpint(posix_memalign(&buf, 4096, 16384), ==, 0);
	memset(buf, 'd', 16384);
	fd = DO(open("direct", O_CREAT | O_RDWR | O_DIRECT, 0644));
	DOV(pwrite(fd, buf, 16384, 0));
	DOV(pwrite(fd, buf, 4096, 8192));
	memset(buf, 0, 16384);
	DOV(pread(fd, buf, 16384, 0));
	note("direct read ok = %d", ((char *)buf)[16383] == 'd');
	DO(close(fd));
	note_contents("direct");
	free(buf);
}

static void sc_mmap(void)
{
	int fd = DO(open("m", O_CREAT | O_RDWR, 0644));
	char *p;

	DO(ftruncate(fd, 8192));
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	note("mmap ok = %d", p != MAP_FAILED);
	if (p != MAP_FAILED) {
		char buf[8];

		memcpy(p + 4000, "mapped!", 7);
		DO(msync(p, 8192, MS_SYNC));
		DOV(pread(fd, buf, 7, 4000));
		note("read after mmap write = %.7s", buf);
		DOV(pwrite(fd, "written", 7, 100));
		note("mmap after write = %.7s", p + 100);
		munmap(p, 8192);
	}
	DO(close(fd));
	note_contents("m");
}

/* As nobody (uid/gid 65534, supplementary group 4242). */
static void sc_nobody_setup(void)
{
	DO(mkdir("open", 0777));
	DO(chmod("open", 0777));      /* past the umask */
	DO(mkdir("closed", 0700));
	DO(close(open("closed/secret", O_CREAT | O_WRONLY, 0600)));
	DO(close(open("private", O_CREAT | O_WRONLY, 0600)));
	DO(close(open("suid", O_CREAT | O_WRONLY, 0755)));
	DO(chmod("suid", 06777));
	DO(close(open("suid-trunc", O_CREAT | O_WRONLY, 0755)));
	DO(chmod("suid-trunc", 06777));
	DO(close(open("suid-ftrunc", O_CREAT | O_WRONLY, 0755)));
	DO(chmod("suid-ftrunc", 06777));
	DO(close(open("suid-big", O_CREAT | O_WRONLY, 0755)));
	DO(truncate("suid-big", 1 << 20));
	DO(chmod("suid-big", 06777));
	DO(mkdir("grp", 0775));
	DO(chmod("grp", 0775));
	DO(chown("grp", 0, 4242));
	DO(mkdir("sgid", 0777));
	DO(chown("sgid", 0, 4243));
	DO(chmod("sgid", 02777));
	DO(mkdir("sticky", 01777));
	DO(chmod("sticky", 01777));
	DO(close(open("sticky/roots", O_CREAT | O_WRONLY, 0666)));
}

static void sc_nobody(void)
{
	char buf[8];
	int fd;

	DO(open("private", O_RDONLY));
	DO(open("closed/secret", O_RDONLY));
	DO(opendir("closed") ? 0 : -1);
	DO(stat("closed/secret", &(struct stat){ 0 }));
	DO(mkdir("noperm", 0755));
	DO(unlink("private"));
	DO(chmod("private", 0777));
	DO(chown("private", 65534, 65534));
	/* What nobody creates is nobody's, with the umask applied. */
	umask(027);
	DO(close(open("open/mine", O_CREAT | O_WRONLY, 0666)));
	note_stat("open/mine");
	DO(mkdir("open/mydir", 0777));
	note_stat("open/mydir");
	DO(symlink("x", "open/mylink"));
	note_stat("open/mylink");
	DO(mknod("open/myfifo", S_IFIFO | 0666, 0));
	note_stat("open/myfifo");
	DO(mknod("open/mydev", S_IFCHR | 0666, makedev(1, 3)));
	/* Group ownership: a supplementary group, a set-group-ID directory. */
	DO(chown("open/mine", -1, 4242));
	note_stat("open/mine");
	DO(chown("open/mine", -1, 4243));
	DO(close(open("grp/ingroup", O_CREAT | O_WRONLY, 0666)));
	note_stat("grp/ingroup");
	DO(close(open("sgid/inherits", O_CREAT | O_WRONLY, 0666)));
	note_stat("sgid/inherits");
	DO(mkdir("sgid/subdir", 0777));
	note_stat("sgid/subdir");
	/* A write by a non-owner clears set-user-ID and set-group-ID. */
	fd = DO(open("suid", O_WRONLY));
	DOV(write(fd, "x", 1));
	note_stat("suid");      /* while it is open: nothing stale */
	DO(close(fd));
	note_stat("suid");
	/* ... and so does truncating, by open and by ftruncate; and a write
	 * to a file large enough to be handed to the kernel's passthrough. */
	DO(close(open("suid-trunc", O_WRONLY | O_TRUNC)));
	note_stat("suid-trunc");
	fd = DO(open("suid-ftrunc", O_WRONLY));
	DO(ftruncate(fd, 10));
	note_stat("suid-ftrunc");
	DO(close(fd));
	fd = DO(open("suid-big", O_WRONLY));
	DOV(pwrite(fd, "x", 1, 4096));
	note_stat("suid-big");
	DO(close(fd));
	DO(unlink("sticky/roots"));
	DO(rename("sticky/roots", "sticky/mine"));
	DO(chmod("open/mine", 04777));
	note_stat("open/mine");
	/* Set-group-ID: kept on a file of one's own group, dropped on one
	 * whose group one is not in (it inherited 4243 from sgid/). */
	DO(chmod("open/mine", 06777));
	note_stat("open/mine");
	DO(close(open("sgid/notmine", O_CREAT | O_WRONLY, 0666)));
	DO(chmod("sgid/notmine", 02777));
	note_stat("sgid/notmine");
	/* A symlink to what nobody may not read gives nothing more. */
	DO(symlink("/etc/shadow", "open/shadow"));
	DO(open("open/shadow", O_RDONLY));
	DO(open("open/../../../../../../../../etc/shadow", O_RDONLY));
	DO(utimensat(AT_FDCWD, "private", NULL, 0));
	DO(truncate("private", 0));
	DO(link("private", "open/stolen"));
	DOV(readlink("open/mylink", buf, sizeof(buf)));
	umask(022);
}

/* POSIX ACLs, as nobody: set by root in the kernel's xattr form (no libacl). */

enum { ACL_UO = 1, ACL_U = 2, ACL_GO = 4, ACL_G = 8, ACL_M = 0x10, ACL_O = 0x20 };

struct acl_entry {
	guint16 tag, perm;
	guint32 id;
};

/* Sets an ACL ("system.posix_acl_access" or "..._default") from entries in
 * the kernel's order (by tag, then id). */
static void set_acl(const char *path, const char *which,
		    const struct acl_entry *e, size_t n)
{
	guint32 buf[1 + 2 * 16];
	g_autofree char *name = g_strdup_printf("system.posix_acl_%s", which);
	g_autofree char *call = g_strdup_printf("setxattr(%s, %s)", path, name);

	g_assert_cmpuint(n, <=, 16);
	buf[0] = 2;             /* POSIX_ACL_XATTR_VERSION */
	for (size_t i = 0; i < n; i++) {
		buf[1 + 2 * i] = (guint32)e[i].tag | (guint32)e[i].perm << 16;
		buf[2 + 2 * i] = e[i].id;
	}
	errno = 0;
	note("%s = %s", call, setxattr(path, name, buf, 4 * (1 + 2 * n), 0) == 0
	     ? "ok" : strerrorname_np(errno));
}

#define ID_NONE 0xffffffffu

/* Records an ACL as "tag:id:perm" words, or its absence. */
static void note_acl(const char *path, const char *which)
{
	g_autofree char *name = g_strdup_printf("system.posix_acl_%s", which);
	guint32 buf[1 + 2 * 32];
	ssize_t n = getxattr(path, name, buf, sizeof(buf));
	GString *s = g_string_new(NULL);

	if (n < 0)
		g_string_append(s, strerrorname_np(errno));
	for (ssize_t i = 0; n > 0 && i < (n / 4 - 1) / 2; i++)
		g_string_append_printf(s, " %x:%d:%o", buf[1 + 2 * i] & 0xffff,
				       buf[2 + 2 * i] == ID_NONE ? -1 : (int)buf[2 + 2 * i],
				       buf[1 + 2 * i] >> 16);
	note("%s of %s:%s", name, path, s->str);
	g_string_free(s, TRUE);
}

static void sc_acl_setup(void)
{
	const guint32 N = 65534, G = 4242;

	DO(close(open("deny", O_CREAT | O_WRONLY, 0644)));
	set_acl("deny", "access", (struct acl_entry[]){
		{ ACL_UO, 6, ID_NONE }, { ACL_U, 0, N }, { ACL_GO, 4, ID_NONE },
		{ ACL_M, 4, ID_NONE }, { ACL_O, 4, ID_NONE } }, 5);
	DO(close(open("grant", O_CREAT | O_WRONLY, 0600)));
	set_acl("grant", "access", (struct acl_entry[]){
		{ ACL_UO, 6, ID_NONE }, { ACL_U, 4, N }, { ACL_GO, 0, ID_NONE },
		{ ACL_M, 4, ID_NONE }, { ACL_O, 0, ID_NONE } }, 5);
	DO(close(open("grpdeny", O_CREAT | O_WRONLY, 0644)));
	set_acl("grpdeny", "access", (struct acl_entry[]){
		{ ACL_UO, 6, ID_NONE }, { ACL_GO, 4, ID_NONE }, { ACL_G, 0, G },
		{ ACL_M, 4, ID_NONE }, { ACL_O, 4, ID_NONE } }, 5);
	/* The mask takes write away from a user's rw- entry. */
	DO(close(open("masked", O_CREAT | O_WRONLY, 0600)));
	set_acl("masked", "access", (struct acl_entry[]){
		{ ACL_UO, 6, ID_NONE }, { ACL_U, 6, N }, { ACL_GO, 0, ID_NONE },
		{ ACL_M, 4, ID_NONE }, { ACL_O, 0, ID_NONE } }, 5);
	DO(mkdir("dir", 0755));
	DO(close(open("dir/in", O_CREAT | O_WRONLY, 0644)));
	set_acl("dir", "access", (struct acl_entry[]){
		{ ACL_UO, 7, ID_NONE }, { ACL_U, 0, N }, { ACL_GO, 5, ID_NONE },
		{ ACL_M, 5, ID_NONE }, { ACL_O, 5, ID_NONE } }, 5);
	/* Inherited by what is made inside: nobody gets r-x, others nothing. */
	DO(mkdir("inherit", 0777));
	DO(chmod("inherit", 0777));
	set_acl("inherit", "default", (struct acl_entry[]){
		{ ACL_UO, 7, ID_NONE }, { ACL_U, 5, G }, { ACL_GO, 5, ID_NONE },
		{ ACL_M, 7, ID_NONE }, { ACL_O, 0, ID_NONE } }, 5);
	note_acl("inherit", "default");
}

static void sc_acl(void)
{
	DO(open("deny", O_RDONLY));
	DO(open("grant", O_RDONLY));
	DO(open("grant", O_WRONLY));
	DO(open("grpdeny", O_RDONLY));
	DO(open("masked", O_RDONLY));
	DO(open("masked", O_WRONLY));
	DO(opendir("dir") ? 0 : -1);
	DO(stat("dir/in", &(struct stat){ 0 }));
	DO(open("dir/in", O_RDONLY));
	note_acl("deny", "access");
	/* The creator's umask is ignored under a default ACL; the mode's
	 * group bits become the mask. */
	umask(077);
	DO(close(open("inherit/file", O_CREAT | O_WRONLY, 0666)));
	note_stat("inherit/file");
	note_acl("inherit/file", "access");
	DO(mkdir("inherit/sub", 0777));
	note_stat("inherit/sub");
	note_acl("inherit/sub", "access");
	note_acl("inherit/sub", "default");
	DO(close(open("inherit/sub/deeper", O_CREAT | O_WRONLY, 0640)));
	note_stat("inherit/sub/deeper");
	note_acl("inherit/sub/deeper", "access");
	/* Nobody sets an ACL on a file of its own, and not on root's. */
	set_acl("inherit/file", "access", (struct acl_entry[]){
		{ ACL_UO, 6, ID_NONE }, { ACL_GO, 4, ID_NONE }, { ACL_G, 6, 4242 },
		{ ACL_M, 6, ID_NONE }, { ACL_O, 0, ID_NONE } }, 5);
	note_acl("inherit/file", "access");
	note_stat("inherit/file");
	set_acl("deny", "access", (struct acl_entry[]){
		{ ACL_UO, 6, ID_NONE }, { ACL_GO, 4, ID_NONE }, { ACL_O, 6, ID_NONE } }, 3);
	umask(022);
}

/* --- running ----------------------------------------------------------- */

typedef void (*scenario_fn)(void);

/* Runs fn in dir, as the test (root) or in a child as nobody. */
static char *run_in(const char *dir, scenario_fn fn, bool as_nobody)
{
	int pipefd[2];
	pid_t pid;
	GString *out;
	char buf[4096];
	ssize_t n;
	int status;

	g_assert_cmpint(pipe(pipefd), ==, 0);
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (pid == 0) {
		gid_t groups[] = { 4242 };

		close(pipefd[0]);
		if (chdir(dir) < 0)
			_exit(2);
		umask(022);
		if (as_nobody &&
		    (setgroups(1, groups) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		     setresuid(65534, 65534, 65534) < 0))
			_exit(3);
		T = g_string_new(NULL);
		fn();
		if (write(pipefd[1], T->str, T->len) != (ssize_t)T->len)
			_exit(4);
		_exit(0);
	}
	close(pipefd[1]);
	out = g_string_new(NULL);
	while ((n = read(pipefd[0], buf, sizeof(buf))) > 0)
		g_string_append_len(out, buf, n);
	close(pipefd[0]);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	return g_string_free(out, FALSE);
}

struct scenario {
	const char *name;
	scenario_fn setup;      /* as root, before fn (may be NULL) */
	scenario_fn fn;
	bool as_nobody;
	/* What a bindfs backing lacks that the scenario needs, or NULL. */
	const char *not_on_bindfs;
};

static const char *const mount_opts[] = { "-o", "allow_other", NULL };

static void run_scenario(struct mount *m, gconstpointer data)
{
	const struct scenario *sc = data;
	g_autofree char *native = NULL;
	g_autofree char *a = NULL, *b = NULL;
	g_autofree char *sa = NULL, *sb = NULL, *shown = NULL;

	if (backing_is_fuse() && sc->not_on_bindfs) {
		g_autofree char *why = g_strdup_printf("bindfs backing lacks %s",
						       sc->not_on_bindfs);

		g_test_skip(why);
		return;
	}
	native = g_build_filename(m->root, "native", NULL);
	g_assert_cmpint(g_mkdir(native, 0755), ==, 0);
	g_assert_cmpint(chmod(m->root, 0755), ==, 0);
	mount_start(m, mount_opts);
	if (sc->setup) {
		sa = run_in(native, sc->setup, false);
		sb = run_in(m->mnt, sc->setup, false);
		g_assert_cmpstr(sb, ==, sa);
	}
	a = run_in(native, sc->fn, sc->as_nobody);
	b = run_in(m->mnt, sc->fn, sc->as_nobody);
	/* Odd names are not UTF-8, which the TAP reader refuses. */
	shown = g_utf8_make_valid(a, -1);
	g_test_message("native transcript:\n%s", shown);
	g_assert_cmpstr(b, ==, a);
	g_assert_true(mount_daemon_alive(m));
	g_assert_cmpint(mount_stop(m), ==, 0);
}

static const struct scenario scenarios[] = {
	{ "files", NULL, sc_files, false },
	{ "dirs", NULL, sc_dirs, false },
	{ "links", NULL, sc_links, false },
	{ "rename", NULL, sc_rename, false,
	  "RENAME_EXCHANGE (bindfs answers EINVAL), and a hard link surviving "
	  "the rename over its first name (bindfs gives each link a node of "
	  "its own)" },
	{ "attrs", NULL, sc_attrs, false,
	  "UTIME_OMIT (bindfs ignores the mtime given with an omitted atime)" },
	{ "xattrs", NULL, sc_xattrs, false },
	{ "special-files", NULL, sc_special, false },
	{ "sparse-fallocate-copy", NULL, sc_sparse, false,
	  "fallocate and SEEK_DATA/SEEK_HOLE (bindfs answers EOPNOTSUPP and "
	  "sees no holes)" },
	{ "long-and-odd-names", NULL, sc_names, false },
	{ "locks", NULL, sc_locks, false },
	{ "o-direct", NULL, sc_direct, false },
	{ "mmap-shared", NULL, sc_mmap, false },
	{ "as-nobody", sc_nobody_setup, sc_nobody, true },
	{ "acls-as-nobody", sc_acl_setup, sc_acl, true,
	  "default ACLs overriding the creator's umask (bindfs applies the "
	  "umask, so the modes and masks of what is created differ)" },
};

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	for (size_t i = 0; i < G_N_ELEMENTS(scenarios); i++) {
		g_autofree char *path = g_strdup_printf("/conformance/%s", scenarios[i].name);

		MOUNT_TEST(path, run_scenario, &scenarios[i]);
	}
	return g_test_run();
}
