/* log.c - see include/mmapfs/log.h. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "mmapfs/log.h"

static enum mmapfs_log_level max_level = MMAPFS_LOG_INFO;

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
	char line[1024];
	va_list ap;
	int n;

	if (level > max_level)
		return;
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
