/*
 * readahead.c - see include/mmapfs/readahead.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "mmapfs/mountinfo.h"
#include "mmapfs/readahead.h"

int readahead_set(const char *mountpoint, uint64_t bytes)
{
	struct mountinfo_entry mount;
	char path[64], text[24];
	ssize_t n;
	int fd, e;

	if (!mountinfo_find(mountpoint, "fuse", &mount))
		return -ENOENT;
	g_snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", mount.dev);
	g_snprintf(text, sizeof(text), "%" G_GUINT64_FORMAT "\n", bytes / 1024);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	e = errno;
	close(fd);
	return n < 0 ? -e : 0;
}
