/*
 * test_fsx.c - a seeded random exerciser in the spirit of fsx.
 *
 * Reads, writes, truncates, fallocate (extending, keeping the size, punching
 * holes), mmap reads and writes, copy_file_range and reopens, on a few files
 * through the mount; every read is checked against an in-memory shadow copy
 * of each file.  On a mismatch it prints the seed and the last operations.
 * MMAPFS_FSX_SEED and MMAPFS_FSX_OPS override the seed and the count.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "harness.h"

#define NFILES 3
#define MAX_SIZE (1 << 20)
#define MAX_IO (64 * 1024)
#define HISTORY 32

struct fsx {
	struct mount *m;
	GRand *rand;
	guint32 seed;
	long op;
	int fd[NFILES];
	GByteArray *shadow[NFILES];
	char history[HISTORY][128];
	guint8 *buf;
};

static void remember(struct fsx *x, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void remember(struct fsx *x, const char *fmt, ...)
{
	va_list ap;
	char *slot = x->history[x->op % HISTORY];
	int n = g_snprintf(slot, 128, "%ld: ", x->op);

	va_start(ap, fmt);
	g_vsnprintf(slot + n, 128 - n, fmt, ap);
	va_end(ap);
}

static void fail(struct fsx *x, const char *what)
{
	g_printerr("fsx: %s at operation %ld; seed %u (MMAPFS_FSX_SEED=%u reproduces)\n",
		   what, x->op, x->seed, x->seed);
	for (long i = MAX(0, x->op - HISTORY + 1); i <= x->op; i++)
		g_printerr("  %s\n", x->history[i % HISTORY]);
	g_error("fsx: %s (seed %u, operation %ld)", what, x->seed, x->op);
}

static int rnd(struct fsx *x, int below)
{
	return below <= 0 ? 0 : g_rand_int_range(x->rand, 0, below);
}

static void fill_random(struct fsx *x, guint8 *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (guint8)g_rand_int(x->rand);
}

static void shadow_resize(GByteArray *s, size_t size)
{
	size_t old = s->len;

	g_byte_array_set_size(s, size);
	if (size > old)
		memset(s->data + old, 0, size - old);
}

static void shadow_write(GByteArray *s, size_t off, const guint8 *p, size_t len)
{
	if (len == 0)
		return;         /* writing nothing extends nothing */
	if (off + len > s->len)
		shadow_resize(s, off + len);
	memcpy(s->data + off, p, len);
}

static void check_bytes(struct fsx *x, int f, size_t off, const guint8 *got,
			size_t n, size_t asked)
{
	GByteArray *s = x->shadow[f];
	size_t want = off >= s->len ? 0 : MIN(asked, s->len - off);

	if (n != want) {
		g_printerr("fsx: file %d: %zu bytes at %zu, expected %zu (shadow size %u)\n",
			   f, n, off, want, s->len);
		fail(x, "short or long read");
	}
	if (memcmp(got, s->data + off, n)) {
		for (size_t i = 0; i < n; i++)
			if (got[i] != s->data[off + i]) {
				g_printerr("fsx: file %d byte %zu is %u, expected %u\n",
					   f, off + i, got[i], s->data[off + i]);
				break;
			}
		fail(x, "data mismatch");
	}
}

static void op_read(struct fsx *x, int f)
{
	size_t off = rnd(x, x->shadow[f]->len + 4096);
	size_t len = 1 + rnd(x, MAX_IO);
	ssize_t n;

	remember(x, "read f%d %zu+%zu", f, off, len);
	n = pread(x->fd[f], x->buf, len, off);
	if (n < 0)
		fail(x, "read failed");
	check_bytes(x, f, off, x->buf, n, len);
}

static void op_write(struct fsx *x, int f)
{
	size_t off = rnd(x, MIN(x->shadow[f]->len + MAX_IO, MAX_SIZE - MAX_IO));
	size_t len = 1 + rnd(x, MAX_IO);

	remember(x, "write f%d %zu+%zu", f, off, len);
	fill_random(x, x->buf, len);
	if (pwrite(x->fd[f], x->buf, len, off) != (ssize_t)len)
		fail(x, "write failed");
	shadow_write(x->shadow[f], off, x->buf, len);
}

static void op_truncate(struct fsx *x, int f)
{
	size_t size = rnd(x, MAX_SIZE);

	remember(x, "truncate f%d %zu", f, size);
	if (ftruncate(x->fd[f], size) < 0)
		fail(x, "truncate failed");
	shadow_resize(x->shadow[f], size);
}

static void op_fallocate(struct fsx *x, int f)
{
	GByteArray *s = x->shadow[f];
	int kind = rnd(x, 3);
	size_t off = rnd(x, MIN(s->len + MAX_IO, MAX_SIZE - MAX_IO));
	size_t len = 1 + rnd(x, MAX_IO);
	int mode = kind == 0 ? 0 : kind == 1 ? FALLOC_FL_KEEP_SIZE
			       : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

	remember(x, "fallocate f%d mode %d %zu+%zu", f, mode, off, len);
	if (fallocate(x->fd[f], mode, off, len) < 0)
		fail(x, "fallocate failed");
	if (kind == 0 && off + len > s->len)
		shadow_resize(s, off + len);
	if (kind == 2 && off < s->len)
		memset(s->data + off, 0, MIN(len, s->len - off));
}

static void op_mmap(struct fsx *x, int f, bool write)
{
	size_t size = x->shadow[f]->len;
	size_t off, len;
	guint8 *p;

	if (size == 0) {
		remember(x, "mmap f%d: empty, skipped", f);
		return;
	}
	off = rnd(x, size);
	len = 1 + rnd(x, MIN(MAX_IO, size - off));
	remember(x, "mmap %s f%d %zu+%zu (size %zu)", write ? "write" : "read",
		 f, off, len, size);
	p = mmap(NULL, size, PROT_READ | (write ? PROT_WRITE : 0), MAP_SHARED,
		 x->fd[f], 0);
	if (p == MAP_FAILED)
		fail(x, "mmap failed");
	if (write) {
		fill_random(x, x->buf, len);
		memcpy(p + off, x->buf, len);
		if (msync(p, size, MS_SYNC) < 0)
			fail(x, "msync failed");
		shadow_write(x->shadow[f], off, x->buf, len);
	} else {
		check_bytes(x, f, off, p + off, len, len);
	}
	munmap(p, size);
}

static void op_copy(struct fsx *x, int from, int to)
{
	GByteArray *src = x->shadow[from];
	loff_t in = rnd(x, src->len + 1);
	loff_t out = rnd(x, MIN(x->shadow[to]->len + MAX_IO, MAX_SIZE - MAX_IO));
	size_t len = 1 + rnd(x, MAX_IO);
	size_t expect = in >= (loff_t)src->len ? 0 : MIN(len, src->len - in);
	g_autofree guint8 *copy = g_memdup2(src->data + MIN((size_t)in, src->len), expect);
	ssize_t n;

	remember(x, "copy_file_range f%d %ld -> f%d %ld, %zu", from, (long)in,
		 to, (long)out, len);
	n = copy_file_range(x->fd[from], &in, x->fd[to], &out, len, 0);
	if (n < 0)
		fail(x, "copy_file_range failed");
	/* A short copy is allowed; what was copied must be right. */
	if ((size_t)n > expect)
		fail(x, "copy_file_range copied past the end");
	shadow_write(x->shadow[to], out - n, copy, n);
}

static void op_reopen(struct fsx *x, int f)
{
	g_autofree char *name = g_strdup_printf("fsx%d", f);
	g_autofree char *path = mnt_path(x->m, name);
	struct stat st;

	remember(x, "reopen f%d", f);
	close(x->fd[f]);
	x->fd[f] = open(path, O_RDWR);
	if (x->fd[f] < 0 || fstat(x->fd[f], &st) < 0)
		fail(x, "reopen failed");
	if ((size_t)st.st_size != x->shadow[f]->len)
		fail(x, "size after reopen differs");
}

static void run_fsx(struct mount *m, const char *const *extra)
{
	struct fsx x = { .m = m };
	const char *env_seed = g_getenv("MMAPFS_FSX_SEED");
	const char *env_ops = g_getenv("MMAPFS_FSX_OPS");
	long nops = env_ops ? atol(env_ops) : 100000;

	x.seed = env_seed ? (guint32)strtoul(env_seed, NULL, 10) : g_test_rand_int();
	g_test_message("fsx seed %u, %ld operations", x.seed, nops);
	x.rand = g_rand_new_with_seed(x.seed);
	x.buf = g_malloc(MAX_IO);
	mount_start(m, extra);
	for (int f = 0; f < NFILES; f++) {
		g_autofree char *name = g_strdup_printf("fsx%d", f);
		g_autofree char *path = mnt_path(m, name);

		x.fd[f] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		g_assert_cmpint(x.fd[f], >=, 0);
		x.shadow[f] = g_byte_array_new();
	}
	for (x.op = 0; x.op < nops; x.op++) {
		int f = rnd(&x, NFILES);

		switch (rnd(&x, 20)) {
		case 0 ... 5:   op_read(&x, f); break;
		case 6 ... 9:   op_write(&x, f); break;
		case 10:        op_truncate(&x, f); break;
		case 11 ... 12: op_fallocate(&x, f); break;
		case 13 ... 14: op_mmap(&x, f, false); break;
		case 15 ... 16: op_mmap(&x, f, true); break;
		case 17:        op_copy(&x, f, (f + 1 + rnd(&x, NFILES - 1)) % NFILES); break;
		case 18:        op_reopen(&x, f); break;
		case 19: {
			struct stat st;

			remember(&x, "fstat f%d", f);
			if (fstat(x.fd[f], &st) < 0 || (size_t)st.st_size != x.shadow[f]->len)
				fail(&x, "size differs");
			break;
		}
		}
	}
	/* The backing files hold exactly the shadow. */
	for (int f = 0; f < NFILES; f++) {
		g_autofree char *name = g_strdup_printf("fsx%d", f);
		g_autofree char *path = src_path(m, name);
		g_autoptr(GBytes) b = NULL;

		g_assert_cmpint(close(x.fd[f]), ==, 0);
		b = read_whole(path, 65536);
		g_assert_cmpmem(g_bytes_get_data(b, NULL), g_bytes_get_size(b),
				x.shadow[f]->data, x.shadow[f]->len);
		g_byte_array_unref(x.shadow[f]);
	}
	g_assert_true(mount_daemon_alive(m));
	g_assert_cmpint(mount_stop(m), ==, 0);
	g_rand_free(x.rand);
	g_free(x.buf);
}

static void test_default(struct mount *m, gconstpointer data)
{
	run_fsx(m, NULL);
}

static void test_one_map(struct mount *m, gconstpointer data)
{
	const char *extra[] = { "-o", "max_maps=1", NULL };

	run_fsx(m, extra);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	harness_init();
	MOUNT_TEST("/fsx/default", test_default, NULL);
	MOUNT_TEST("/fsx/max-maps-1", test_one_map, NULL);
	return g_test_run();
}
