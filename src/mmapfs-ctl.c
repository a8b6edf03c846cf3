/*
 * mmapfs-ctl.c - statistics and control of a running mmapfs mount.
 *
 * Talks to the daemon through extended attributes of the mount's root
 * (see src/ops_ctl.c): reads user.mmapfs.stats[.json], writes
 * user.mmapfs.ctl.  Needs nothing but the mount point.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <glib.h>

#include "mmapfs/options.h"
#include "mmapfs/stats.h"


static const char usage[] =
	"usage: mmapfs-ctl stats MOUNTPOINT [--json] [--watch SECONDS [--count N]]\n"
	"       mmapfs-ctl drop MOUNTPOINT\n"
	"       mmapfs-ctl limits MOUNTPOINT [max_maps=N] [max_mapped=SIZE]\n"
	"       mmapfs-ctl --help | --version\n"
	"\n"
	"  stats    print the mount's statistics (text, or JSON with --json);\n"
	"           with --watch, a line of rates every SECONDS, like vmstat,\n"
	"           N lines (--count) or until interrupted\n"
	"  drop     drop every mapping the daemon holds now\n"
	"  limits   change the mapping budget without remounting (K/M/G/T\n"
	"           suffixes for SIZE); prints the limits in force\n"
	"\n"
	"drop and limits need root or the user the daemon runs as, and a\n"
	"writable mount.\n";

static G_GNUC_NORETURN G_GNUC_PRINTF(2, 3) void die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("mmapfs-ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* Why a call on mnt failed, in words. */
static G_GNUC_NORETURN void die_errno(const char *mnt, int e)
{
	if (e == ENODATA || e == ENOTSUP || e == EOPNOTSUPP)
		die(1, "'%s' is not an mmapfs mount point", mnt);
	if (e == EPERM || e == EACCES)
		die(1, "'%s': only root or the daemon's user may control it (%s)",
		    mnt, g_strerror(e));
	if (e == EINVAL)
		die(1, "'%s': the daemon refused the command", mnt);
	die(1, "'%s': %s", mnt, g_strerror(e));
}

/* The value of the xattr name of mnt. */
static char *get_value(const char *mnt, const char *name)
{
	for (;;) {
		ssize_t size = getxattr(mnt, name, NULL, 0), n;
		char *buf;

		if (size < 0)
			die_errno(mnt, errno);
		buf = g_malloc(size + 1);
		n = getxattr(mnt, name, buf, size);
		if (n >= 0) {
			buf[n] = '\0';
			return buf;
		}
		g_free(buf);
		if (errno != ERANGE)    /* else it grew meanwhile: again */
			die_errno(mnt, errno);
	}
}

/* "name value" lines -> table (the strings point into text). */
static GHashTable *parse_stats(char *text)
{
	GHashTable *t = g_hash_table_new(g_str_hash, g_str_equal);

	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *sp = strchr(line, ' ');

		if (sp) {
			*sp = '\0';
			g_hash_table_insert(t, line, sp + 1);
		}
	}
	return t;
}

static double num(GHashTable *t, const char *name)
{
	const char *v = g_hash_table_lookup(t, name);

	return v ? g_ascii_strtod(v, NULL) : 0;
}

/* A line of rates every `every` seconds: count lines, or forever (0). */
static void watch(const char *mnt, double every, long count)
{
	char *prev_text = get_value(mnt, MMAPFS_XATTR_STATS);
	GHashTable *prev = parse_stats(prev_text);

	for (long line = 0; count == 0 || line < count; line++) {
		char *text;
		GHashTable *now;
		double dt, read, maps, hits, looks;

		if (line % 20 == 0)
			printf("%9s %7s %10s %6s %6s %7s %10s %8s\n", "req/s", "err/s",
			       "readMiB/s", "maps%", "hit%", "live", "mappedMiB", "events/s");
		g_usleep((gulong)(every * G_USEC_PER_SEC));
		text = get_value(mnt, MMAPFS_XATTR_STATS);
		now = parse_stats(text);
		dt = num(now, "uptime_s") - num(prev, "uptime_s");
		if (dt <= 0)
			dt = every;
		read = num(now, "bytes_read") - num(prev, "bytes_read");
		maps = num(now, "bytes_from_maps") - num(prev, "bytes_from_maps");
		hits = num(now, "map_hits") - num(prev, "map_hits");
		looks = hits + num(now, "map_misses") - num(prev, "map_misses");
		printf("%9.0f %7.0f %10.1f %6.0f %6.0f %7.0f %10.1f %8.0f\n",
		       (num(now, "requests") - num(prev, "requests")) / dt,
		       (num(now, "errors") - num(prev, "errors")) / dt,
		       read / dt / 1048576, read ? 100 * maps / read : 0,
		       looks ? 100 * hits / looks : 0, num(now, "maps_live"),
		       num(now, "mapped_bytes") / 1048576,
		       (num(now, "watcher_events") - num(prev, "watcher_events")) / dt);
		fflush(stdout);
		g_hash_table_unref(prev);
		g_free(prev_text);
		prev = now;
		prev_text = text;
	}
	g_hash_table_unref(prev);
	g_free(prev_text);
}

static void set_ctl(const char *mnt, const char *cmd)
{
	if (setxattr(mnt, MMAPFS_XATTR_CTL, cmd, strlen(cmd), 0) < 0)
		die_errno(mnt, errno);
}

static void print_limits(const char *mnt)
{
	g_autofree char *text = get_value(mnt, MMAPFS_XATTR_STATS);
	g_autoptr(GHashTable) t = parse_stats(text);

	printf("max_maps=%s max_mapped=%s (now %s mappings, %s bytes)\n",
	       (char *)g_hash_table_lookup(t, "max_maps"),
	       (char *)g_hash_table_lookup(t, "max_mapped"),
	       (char *)g_hash_table_lookup(t, "maps_live"),
	       (char *)g_hash_table_lookup(t, "mapped_bytes"));
}

static void cmd_limits(const char *mnt, int argc, char **argv)
{
	g_autoptr(GString) cmd = g_string_new("limits");

	if (argc == 0)
		die(2, "limits: give max_maps=N, max_mapped=SIZE or both");
	for (int i = 0; i < argc; i++) {
		g_autoptr(GError) error = NULL;
		uint64_t maps, mapped;

		if (!mmapfs_parse_limit(argv[i], &maps, &mapped, &error))
			die(2, "%s", error->message);
		g_string_append_printf(cmd, " %s", argv[i]);
	}
	set_ctl(mnt, cmd->str);
	print_limits(mnt);
}

static void cmd_stats(const char *mnt, int argc, char **argv)
{
	bool json = false;
	double every = 0;
	long count = 0;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--watch") && i + 1 < argc) {
			char *end;

			every = g_ascii_strtod(argv[++i], &end);
			if (*end || !(every > 0) || every > 86400)
				die(2, "invalid --watch '%s': expected seconds, more than 0",
				    argv[i]);
		} else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			uint64_t n;

			if (!mmapfs_parse_count(argv[++i], 1, 1000000, &n))
				die(2, "invalid --count '%s': expected a whole number from 1",
				    argv[i]);
			count = (long)n;
		} else {
			die(2, "stats: unexpected '%s' (see --help)", argv[i]);
		}
	}
	if (every > 0 && json)
		die(2, "stats: --watch prints rates, not JSON");
	if (count && !(every > 0))
		die(2, "stats: --count goes with --watch");
	if (every > 0) {
		watch(mnt, every, count);
	} else {
		g_autofree char *text = get_value(mnt, json ? MMAPFS_XATTR_STATS_JSON
							    : MMAPFS_XATTR_STATS);

		fputs(text, stdout);
	}
}

int main(int argc, char **argv)
{
	const char *cmd, *mnt;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
		printf("mmapfs-ctl %s\n", MMAPFS_VERSION);
		return 0;
	}
	if (argc < 3)
		die(2, "%s (see --help)", argc < 2 ? "missing command and MOUNTPOINT"
						  : "missing MOUNTPOINT");
	cmd = argv[1];
	mnt = argv[2];
	if (!strcmp(cmd, "stats")) {
		cmd_stats(mnt, argc - 3, argv + 3);
	} else if (!strcmp(cmd, "drop")) {
		if (argc > 3)
			die(2, "drop: unexpected '%s'", argv[3]);
		set_ctl(mnt, "drop");
		print_limits(mnt);
	} else if (!strcmp(cmd, "limits")) {
		cmd_limits(mnt, argc - 3, argv + 3);
	} else {
		die(2, "unknown command '%s' (stats, drop, limits; see --help)", cmd);
	}
	return 0;
}
