/*
 * readahead.c - see include/mmapfs/readahead.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "mmapfs/readahead.h"

/* Undoes mountinfo's octal escapes (\040 for a space, ...) in place. */
static void unescape(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/*
 * The "MAJOR:MINOR" of the last FUSE mount at mountpoint in
 * /proc/self/mountinfo, into dev; false when there is none.
 */
static bool find_mount(const char *mountpoint, char *dev, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
		/* id parent MAJ:MIN root mountpoint options ... - type ... */
		char *fields[5], *save = NULL, *p = line;
		const char *sep = strstr(line, " - ");
		int n = 0;

		while (n < 5 && (fields[n] = strtok_r(p, " ", &save)))
			p = NULL, n++;
		if (n < 5 || !sep || strncmp(sep + 3, "fuse", 4) != 0)
			continue;
		unescape(fields[4]);
		if (strcmp(fields[4], mountpoint) == 0) {
			g_strlcpy(dev, fields[2], size);
			found = true;
		}
	}
	free(line);
	fclose(f);
	return found;
}

int readahead_set(const char *mountpoint, uint64_t bytes)
{
	char dev[32], path[64], text[24];
	ssize_t n;
	int fd, e;

	if (!find_mount(mountpoint, dev, sizeof(dev)))
		return -ENOENT;
	g_snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	g_snprintf(text, sizeof(text), "%" G_GUINT64_FORMAT "\n", bytes / 1024);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	e = errno;
	close(fd);
	return n < 0 ? -e : 0;
}
