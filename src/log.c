/* log.c - see include/mmapfs/log.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "mmapfs/log.h"

static enum mmapfs_log_level max_level = MMAPFS_LOG_INFO;
static bool to_syslog;
static int log_fd = STDERR_FILENO;
static bool stamped;            /* each line starts with its time and pid */

void mmapfs_log_use_syslog(void)
{
	openlog("mmapfs", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	to_syslog = true;
}

int mmapfs_log_use_file(const char *path)
{
	int fd;

	if (!strcmp(path, "-")) {
		/* Detaching points stderr at /dev/null: keep our own. */
		fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return -errno;
		log_fd = fd;
		return 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0)
		return -errno;
	log_fd = fd;
	stamped = true;
	return 0;
}

bool mmapfs_log_has_destination(void)
{
	return log_fd != STDERR_FILENO;
}

bool mmapfs_log_syslog_reachable(void)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };

	for (size_t i = 0; i < G_N_ELEMENTS(types); i++) {
		int s = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
		bool ok = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		if (s >= 0)
			close(s);
		if (ok)
			return true;
	}
	return false;
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
	int n = 0;

	if (level > max_level)
		return;
	if (to_syslog && !mmapfs_log_has_destination()) {
		va_start(ap, fmt);
		vsyslog(priority[level], fmt, ap);
		va_end(ap);
		return;
	}
	if (stamped) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n += snprintf(line + n, sizeof(line) - n, ".%03ldZ [%d] ",
			      ts.tv_nsec / 1000000, (int)getpid());
	}
	n += snprintf(line + n, sizeof(line) - n, "mmapfs: %s", prefix[level]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write, so that lines from different threads never interleave. */
	if (write(log_fd, line, n) < 0)
		return;
}
