/*
 * fstype.h - what the filesystem under a directory is, as far as mmapfs
 * cares: whether its files change where no watcher on this machine sees
 * (network and cluster filesystems, FUSE), and whether it is FUSE itself
 * (whose file handles name FUSE nodes, not inodes: see inode.h).
 *
 * Pure functions of fstatfs(2)'s f_type; safe from any thread.
 */
#ifndef MMAPFS_FSTYPE_H
#define MMAPFS_FSTYPE_H

#include <stdbool.h>

/*
 * The name of a filesystem type ("nfs", "fuse", ...) whose files other
 * machines (or another daemon) change behind the kernel's back, or NULL
 * for one whose changes all happen on this machine.
 */
const char *fstype_blind_name(long f_type);

/* fstype_blind_name() of the filesystem fd is on; NULL when unknown. */
const char *fstype_blind(int fd);

/* Whether fd is on a FUSE filesystem; whether f_type is FUSE's. */
bool fstype_is_fuse(int fd);
bool fstype_is_fuse_type(long f_type);

#endif
