/*
 * ctl.h - the control protocol between mmapfs-ctl and the daemon.
 *
 * The statistics are read as extended attributes of the mount's root.
 * To control the daemon, mmapfs-ctl opens the root read-only and makes one
 * ioctl, MMAPFS_IOC_CTL, whose buffer carries a command line in and the
 * reply out, both NUL-terminated text.  An ioctl needs no write access, so
 * control works on read-only mounts (a setxattr is refused there with
 * EROFS before it reaches the daemon), and it is answered by the daemon
 * that serves that very mount.
 *
 * The reply's first line is "ok", or "error NAME: reason" with NAME an
 * errno name (EPERM, EINVAL, ...); the lines after it are the command's
 * output.  Commands:
 *   pid                    the daemon's pid and SOURCE
 *   summary                the line SIGUSR1 logs
 *   limits [max_maps=N] [max_mapped=SIZE]
 *                          sets (either may be left out) and prints the
 *                          mapping budget
 *   drop                   drops every unpinned mapping; says how many
 *   maps [FROM]            the live mappings, most recently used first,
 *                          from the FROM'th (0): "path size pins age_s"
 *                          lines, and "more N" last when the N'th is next
 * limits with a setting, drop and maps need root or the daemon's user;
 * pid, summary and limits alone are anyone's who may open the root.
 */
#ifndef MMAPFS_CTL_H
#define MMAPFS_CTL_H

#include <sys/ioctl.h>

/*
 * The extended attributes of the root: the statistics (read), and the
 * older way of sending a command (setxattr; output to the log only).
 */
#define MMAPFS_XATTR_STATS      "user.mmapfs.stats"
#define MMAPFS_XATTR_STATS_JSON "user.mmapfs.stats.json"
#define MMAPFS_XATTR_CTL        "user.mmapfs.ctl"

#define MMAPFS_CTL_SIZE 8192

struct mmapfs_ctl_msg {
	char text[MMAPFS_CTL_SIZE];
};

#define MMAPFS_IOC_CTL _IOWR('M', 0x6d, struct mmapfs_ctl_msg)

#endif
