/*
 * mountinfo.h - what this process's mount table says of a mount point.
 *
 * Read from /proc/self/mountinfo, never by a stat() of the mount point: a
 * stat of our own FUSE mount would be a request to ourselves, which nobody
 * answers before the session loop runs.  Safe from any thread.
 */
#ifndef MMAPFS_MOUNTINFO_H
#define MMAPFS_MOUNTINFO_H

#include <stdbool.h>

struct mountinfo_entry {
	char dev[32];           /* "MAJOR:MINOR" */
	char fstype[64];        /* "fuse.mmapfs", "tmpfs", ... */
};

/*
 * The last (topmost) mount at mountpoint (absolute, canonical) whose type
 * starts with type_prefix (NULL: any type), into *out.  False when there
 * is none, or the table cannot be read.
 */
bool mountinfo_find(const char *mountpoint, const char *type_prefix,
		    struct mountinfo_entry *out);

#endif
