/*
 * log.h - the daemon's messages for people.
 *
 * One line per event that matters (mount, unmount, a mapping failure, a
 * SIGBUS recovered), never one per request.  Messages follow git's style:
 * what failed first, the subject quoted, lower case, no full stop.
 *
 * Messages go to stderr (the daemon in the foreground), or to syslog (the
 * journal) once mmapfs_log_use_syslog() was called (the daemon detached).
 *
 * Thread-safe: each message is written with one write(2) call to stderr,
 * or one syslog(3) call.
 */
#ifndef MMAPFS_LOG_H
#define MMAPFS_LOG_H

#include <glib.h>

enum mmapfs_log_level {
	MMAPFS_LOG_ERROR,
	MMAPFS_LOG_WARN,
	MMAPFS_LOG_INFO,
	MMAPFS_LOG_DEBUG,
};

/* Messages above this level are dropped.  Set once, before threads start. */
void mmapfs_log_set_level(enum mmapfs_log_level level);

/* From now on, messages go to syslog.  Call before threads start. */
void mmapfs_log_use_syslog(void);

void mmapfs_log(enum mmapfs_log_level level, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);

#define log_error(...) mmapfs_log(MMAPFS_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  mmapfs_log(MMAPFS_LOG_WARN, __VA_ARGS__)
#define log_info(...)  mmapfs_log(MMAPFS_LOG_INFO, __VA_ARGS__)
#define log_debug(...) mmapfs_log(MMAPFS_LOG_DEBUG, __VA_ARGS__)

#endif
