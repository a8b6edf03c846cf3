/* log.c - see include/mmapfs/log.h. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

#include "mmapfs/log.h"

static enum mmapfs_log_level max_level = MMAPFS_LOG_INFO;
static bool to_syslog;

void mmapfs_log_use_syslog(void)
{
	openlog("mmapfs", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	to_syslog = true;
}

void mmapfs_log_set_level(enum mmapfs_log_level level)
{
	max_level = level;
}

void mmapfs_log(enum mmapfs_log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = {
		[MMAPFS_LOG_ERROR] = "error: ",
		[MMAPFS_LOG_WARN] = "warning: ",
		[MMAPFS_LOG_INFO] = "",
		[MMAPFS_LOG_DEBUG] = "debug: ",
	};
	static const int priority[] = {
		[MMAPFS_LOG_ERROR] = LOG_ERR,
		[MMAPFS_LOG_WARN] = LOG_WARNING,
		[MMAPFS_LOG_INFO] = LOG_INFO,
		[MMAPFS_LOG_DEBUG] = LOG_DEBUG,
	};
	char line[1024];
	va_list ap;
	int n;

	if (level > max_level)
		return;
	if (to_syslog) {
		va_start(ap, fmt);
		vsyslog(priority[level], fmt, ap);
		va_end(ap);
		return;
	}
	n = snprintf(line, sizeof(line), "mmapfs: %s", prefix[level]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write, so that lines from different threads never interleave. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}
