/*
 * readahead.c - see include/mmapfs/readahead.h.
 */
#include <errno.h>
#include <linux/magic.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <glib.h>

#include "mmapfs/log.h"
#include "mmapfs/readahead.h"


struct readahead {
	char *mountpoint;
	unsigned kb;
	GThread *thread;
};

/* Writes text to path; returns 0 or -errno. */
static int write_knob(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int e;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	e = errno;
	close(fd);
	return n < 0 ? -e : 0;
}

static gpointer readahead_main(gpointer data)
{
	struct readahead *r = data;
	char path[64], text[16];
	struct statfs sfs;
	struct stat st;
	int res;

	/* Answered once INIT is done, or failing once the mount went. */
	if (statfs(r->mountpoint, &sfs) < 0 || sfs.f_type != FUSE_SUPER_MAGIC ||
	    stat(r->mountpoint, &st) < 0)
		return NULL;
	g_snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
		   major(st.st_dev), minor(st.st_dev));
	g_snprintf(text, sizeof(text), "%u\n", r->kb);
	res = write_knob(path, text);
	if (res < 0)
		log_info("readahead stays at the kernel's default: cannot write %s: %s",
			 path, g_strerror(-res));
	else
		log_debug("readahead set to %u KiB (%s)", r->kb, path);
	return NULL;
}

struct readahead *readahead_start(const char *mountpoint, uint64_t bytes)
{
	struct readahead *r;

	if (bytes < 1024)
		return NULL;
	r = g_new0(struct readahead, 1);
	r->mountpoint = g_strdup(mountpoint);
	r->kb = (unsigned)(bytes / 1024);
	r->thread = g_thread_new("readahead", readahead_main, r);
	return r;
}

void readahead_join(struct readahead *r)
{
	if (!r)
		return;
	g_thread_join(r->thread);
	g_free(r->mountpoint);
	g_free(r);
}
