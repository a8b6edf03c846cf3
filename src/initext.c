/*
 * initext.c - see include/mmapfs/initext.h.
 *
 * The layouts are those of <linux/fuse.h> (Debian 12's is 7.38); what 7.40
 * added is placed as the kernel reads it.
 */
#include <linux/fuse.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "mmapfs/initext.h"

/* 7.40 names fuse_init_out's first unused word max_stack_depth. */
#define INIT_OUT_STACK_DEPTH offsetof(struct fuse_init_out, unused)
G_STATIC_ASSERT(sizeof(struct fuse_init_out) == 64);

struct initext {
	uint64_t offered;       /* set when INIT is read */
	guint64 init_unique;    /* INIT's request id; 0: none pending (atomic) */
	uint64_t ask;           /* set by initext_ask(), before the reply */
	uint32_t stack_depth;
	void (*replied)(void *data, int dev_fd);
	void *replied_data;
};

struct initext *initext_new(void)
{
	return g_new0(struct initext, 1);
}

void initext_free(struct initext *x)
{
	g_free(x);
}

ssize_t initext_io_read(struct initext *x, int fd, void *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *in = buf;
	const struct fuse_init_in *init = (const void *)(in + 1);

	/* INIT comes first, alone: the kernel sends nothing else before its
	 * reply.  (flags2 is there from protocol 7.36 on.) */
	if (n < (ssize_t)(sizeof(*in) + offsetof(struct fuse_init_in, unused)) ||
	    in->opcode != FUSE_INIT || init->major != 7)
		return n;
	x->offered = init->flags;
	if (init->minor >= 36 && (init->flags & FUSE_INIT_EXT))
		x->offered |= (uint64_t)init->flags2 << 32;
	__atomic_store_n(&x->init_unique, in->unique, __ATOMIC_RELEASE);
	return n;
}

/* Writes libfuse's INIT reply with x->ask added. */
static ssize_t write_init_reply(struct initext *x, int fd, struct iovec *iov,
				int count)
{
	struct fuse_init_out out = { 0 };
	struct iovec mine[2];
	ssize_t n;

	if (!x->ask || count != 2 || iov[1].iov_len > sizeof(out) ||
	    iov[1].iov_len < INIT_OUT_STACK_DEPTH + sizeof(x->stack_depth))
		return writev(fd, iov, count);
	memcpy(&out, iov[1].iov_base, iov[1].iov_len);
	out.flags |= (uint32_t)x->ask;
	if (x->ask >> 32) {
		out.flags |= FUSE_INIT_EXT;
		out.flags2 |= (uint32_t)(x->ask >> 32);
	}
	if (x->ask & INITEXT_PASSTHROUGH)
		memcpy((char *)&out + INIT_OUT_STACK_DEPTH, &x->stack_depth,
		       sizeof(x->stack_depth));
	mine[0] = iov[0];
	mine[1] = (struct iovec){ &out, iov[1].iov_len };
	n = writev(fd, mine, 2);
	if (n >= 0 && x->replied)
		x->replied(x->replied_data, fd);
	return n;
}

ssize_t initext_io_writev(struct initext *x, int fd, struct iovec *iov, int count)
{
	guint64 unique = __atomic_load_n(&x->init_unique, __ATOMIC_ACQUIRE);
	const struct fuse_out_header *out = iov[0].iov_base;

	if (G_LIKELY(!unique) || iov[0].iov_len < sizeof(*out) ||
	    out->unique != unique || out->error)
		return writev(fd, iov, count);
	__atomic_store_n(&x->init_unique, 0, __ATOMIC_RELEASE);
	return write_init_reply(x, fd, iov, count);
}

uint64_t initext_offered(const struct initext *x)
{
	return x->offered;
}

void initext_ask(struct initext *x, uint64_t flags, uint32_t stack_depth,
		 void (*replied)(void *data, int dev_fd), void *data)
{
	x->ask = flags & x->offered;
	x->stack_depth = stack_depth;
	x->replied = replied;
	x->replied_data = data;
}
