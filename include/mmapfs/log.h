/*
 * log.h - the daemon's messages for people.
 *
 * One line per event that matters (mount, unmount, a mapping failure, a
 * SIGBUS recovered), never one per request.  Messages follow git's style:
 * what failed first, the subject quoted, lower case, no full stop.
 *
 * Messages go to stderr (the daemon in the foreground), or to syslog (the
 * journal) once mmapfs_log_use_syslog() was called (the daemon detached),
 * unless mmapfs_log_use_file() gave them a destination of their own
 * (-o log_file): a file, each line with its time (UTC) and pid, or the
 * daemon's first stderr, kept across detaching.
 *
 * Thread-safe: each message is written with one write(2) call, or one
 * syslog(3) call.
 */
#ifndef MMAPFS_LOG_H
#define MMAPFS_LOG_H

#include <stdbool.h>

#include <glib.h>

enum mmapfs_log_level {
	MMAPFS_LOG_ERROR,
	MMAPFS_LOG_WARN,
	MMAPFS_LOG_INFO,
	MMAPFS_LOG_DEBUG,
};

/* Messages above this level are dropped.  Set once, before threads start. */
void mmapfs_log_set_level(enum mmapfs_log_level level);

/* From now on, messages go to syslog, unless they have a destination of
 * their own.  Call before threads start. */
void mmapfs_log_use_syslog(void);

/*
 * From now on, messages are appended to path (created 0640), or with "-"
 * written to the stderr we have now, even after detaching.  Returns 0 or
 * a negative errno.  Call before threads start.
 */
int mmapfs_log_use_file(const char *path);

/* Whether mmapfs_log_use_file() gave messages a destination. */
bool mmapfs_log_has_destination(void);

/* Whether a syslog daemon listens at /dev/log. */
bool mmapfs_log_syslog_reachable(void);

void mmapfs_log(enum mmapfs_log_level level, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);

#define log_error(...) mmapfs_log(MMAPFS_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  mmapfs_log(MMAPFS_LOG_WARN, __VA_ARGS__)
#define log_info(...)  mmapfs_log(MMAPFS_LOG_INFO, __VA_ARGS__)
#define log_debug(...) mmapfs_log(MMAPFS_LOG_DEBUG, __VA_ARGS__)

#endif
