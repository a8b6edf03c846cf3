/*
 * mmapfs-ctl.c - statistics and control of a running mmapfs mount.
 *
 * Reads the statistics from extended attributes of the mount's root
 * (user.mmapfs.stats[.json]) and controls the daemon with the ioctl of
 * ctl.h on it, which works on read-only mounts too (see src/ops_ctl.c).
 * Needs nothing but the mount point.  Each command has its own options
 * (GOptionContext), which may come anywhere on the line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <glib.h>

#include "mmapfs/ctl.h"
#include "mmapfs/options.h"

static const char usage[] =
	"usage: mmapfs-ctl COMMAND MOUNTPOINT [ARGS] [OPTIONS]\n"
	"\n"
	"  stats    print the mount's statistics (--json; --watch SECONDS for\n"
	"           a line of rates, like vmstat)\n"
	"  summary  print the one-line summary (what SIGUSR1 logs)\n"
	"  pid      print the pid and SOURCE of the daemon serving the mount\n"
	"  limits   print the mapping budget; with max_maps=N and/or\n"
	"           max_mapped=SIZE, change it without remounting\n"
	"  drop     drop every mapping the daemon holds now; says how many\n"
	"  maps     list the live mappings, most recently used first\n"
	"\n"
	"'mmapfs-ctl COMMAND --help' tells more of each.  Changing limits,\n"
	"drop and maps need root or the user the daemon runs as; they work on\n"
	"read-only mounts too.\n"
	"\n"
	"  -h, --help     this text\n"
	"  -V, --version  the version\n";

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
	if (e == ENODATA || e == ENOTSUP || e == EOPNOTSUPP || e == ENOTTY)
		die(1, "'%s' is not an mmapfs mount point", mnt);
	if (e == EPERM || e == EACCES)
		die(1, "'%s': only root or the daemon's user may control it (%s)",
		    mnt, g_strerror(e));
	if (e == ENOTCONN)
		die(1, "'%s': the mount is dead (its daemon is gone): 'mmapfs-mount "
		    "SOURCE %s' repairs it, 'fusermount3 -u %s' removes it", mnt, mnt, mnt);
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

/* Runs one control command (ctl.h); its output, or it exits. */
static char *control(const char *mnt, const char *line)
{
	g_autofree struct mmapfs_ctl_msg *msg = g_new0(struct mmapfs_ctl_msg, 1);
	int fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const char *nl;

	if (fd < 0)
		die_errno(mnt, errno);
	g_strlcpy(msg->text, line, sizeof(msg->text));
	if (ioctl(fd, MMAPFS_IOC_CTL, msg) < 0)
		die_errno(mnt, errno);
	close(fd);
	msg->text[sizeof(msg->text) - 1] = '\0';
	if (g_str_has_prefix(msg->text, "ok\n"))
		return g_strdup(msg->text + 3);
	nl = strchr(msg->text, '\n');
	die(1, "'%s': the daemon refused '%s': %.*s", mnt, line,
	    nl ? (int)(nl - msg->text) : (int)strlen(msg->text), msg->text);
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
		double dt, read, maps, hits, looks, reqs;

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
		/* Not our own polling: getxattr aside altogether (a request is
		 * counted once its reply is sent, so ours of a moment ago may
		 * or may not be in a snapshot yet). */
		reqs = num(now, "requests") - num(prev, "requests") -
		       (num(now, "op.getxattr.requests") - num(prev, "op.getxattr.requests"));
		printf("%9.0f %7.0f %10.1f %6.0f %6.0f %7.0f %10.1f %8.0f\n",
		       MAX(reqs, 0) / dt,
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

/* ---- the commands ---- */

static gboolean opt_json;
static double opt_watch;
static int opt_count;

static const GOptionEntry stats_entries[] = {
	{ "json", 0, 0, G_OPTION_ARG_NONE, &opt_json, "print JSON", NULL },
	{ "watch", 0, 0, G_OPTION_ARG_DOUBLE, &opt_watch,
	  "a line of rates every SECONDS", "SECONDS" },
	{ "count", 0, 0, G_OPTION_ARG_INT, &opt_count,
	  "with --watch: N lines, then stop", "N" },
	{ NULL },
};

static void cmd_stats(const char *mnt, char **args)
{
	if (args[0])
		die(2, "stats: unexpected '%s' (see 'mmapfs-ctl stats --help')", args[0]);
	if (opt_watch != 0 && !(opt_watch > 0 && opt_watch <= 86400))
		die(2, "invalid --watch '%g': expected seconds, more than 0", opt_watch);
	if (opt_count < 0 || opt_count > 1000000)
		die(2, "invalid --count '%d': expected a whole number from 1", opt_count);
	if (opt_watch > 0 && opt_json)
		die(2, "stats: --watch prints rates, not JSON");
	if (opt_count && !(opt_watch > 0))
		die(2, "stats: --count goes with --watch");
	if (opt_watch > 0) {
		watch(mnt, opt_watch, opt_count);
	} else {
		g_autofree char *text = get_value(mnt, opt_json ? MMAPFS_XATTR_STATS_JSON
								: MMAPFS_XATTR_STATS);

		fputs(text, stdout);
	}
}

/* Sends the command word with args (checked by check, if given). */
static void run_control(const char *mnt, const char *word, char **args,
			bool (*check)(const char *arg, GError **error))
{
	g_autoptr(GString) line = g_string_new(word);
	g_autofree char *out = NULL;

	for (int i = 0; args[i]; i++) {
		g_autoptr(GError) error = NULL;

		if (!check)
			die(2, "%s: unexpected '%s' (see 'mmapfs-ctl %s --help')",
			    word, args[i], word);
		if (!check(args[i], &error))
			die(2, "%s", error->message);
		g_string_append_printf(line, " %s", args[i]);
	}
	out = control(mnt, line->str);
	fputs(out, stdout);
}

static bool check_limit(const char *arg, GError **error)
{
	uint64_t maps, mapped;

	return mmapfs_parse_limit(arg, &maps, &mapped, error);
}

/* Every mapping: the daemon answers a reply's worth at a time. */
static void cmd_maps(const char *mnt, char **args)
{
	uint64_t from = 0;
	bool first = true;

	if (args[0] && (args[1] || !mmapfs_parse_count(args[0], 0, G_MAXUINT, &from)))
		die(2, "maps: takes at most one number, the first mapping to list");
	for (;;) {
		g_autofree char *line = g_strdup_printf("maps %" G_GUINT64_FORMAT, from);
		g_autofree char *out = control(mnt, line);
		char *more = strstr(out, "more ");

		if (first)
			printf("%-50s %12s %5s %9s\n", "path", "bytes", "pins", "age_s");
		first = false;
		if (more && (more == out || more[-1] == '\n'))
			*more = '\0';
		for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
			/* path bytes pins age: the path may hold spaces. */
			char *age = strrchr(l, ' ');
			char *pins = age ? g_strrstr_len(l, age - l, " ") : NULL;
			char *bytes = pins ? g_strrstr_len(l, pins - l, " ") : NULL;

			if (!bytes) {
				puts(l);
				continue;
			}
			*age++ = *pins++ = *bytes++ = '\0';
			printf("%-50s %12s %5s %9s\n", l, bytes, pins, age);
		}
		if (!more)
			break;
		from = g_ascii_strtoull(more + 5, NULL, 10);
	}
}

static void cmd_pid(const char *mnt, char **args) { run_control(mnt, "pid", args, NULL); }
static void cmd_summary(const char *mnt, char **args) { run_control(mnt, "summary", args, NULL); }
static void cmd_drop(const char *mnt, char **args) { run_control(mnt, "drop", args, NULL); }
static void cmd_limits(const char *mnt, char **args) { run_control(mnt, "limits", args, check_limit); }

static const struct command {
	const char *name, *params, *summary;
	const GOptionEntry *entries;
	void (*run)(const char *mnt, char **args);
} commands[] = {
	{ "stats", "MOUNTPOINT",
	  "Prints the mount's statistics: counters as \"name value\" lines, and\n"
	  "per operation its requests, mean, p50 and p99 handler time (the upper\n"
	  "bound of the log2 bucket the percentile falls in: one 20.7 us request\n"
	  "shows p50_us 32) and histogram.\n\n"
	  "With --watch, a line every SECONDS: req/s (requests answered, getxattr\n"
	  "aside, which is how this command polls), err/s, readMiB/s (bytes the daemon\n"
	  "answered reads with; reads the kernel serves from its page cache never\n"
	  "reach it), maps% (of those bytes, the share from mappings rather than\n"
	  "pread), hit% (lookups of the mapping cache that found a live mapping),\n"
	  "live (mappings now), mappedMiB (bytes they cover), events/s (the\n"
	  "watcher's events from outside the mount).",
	  stats_entries, cmd_stats },
	{ "summary", "MOUNTPOINT", "Prints the one-line summary SIGUSR1 logs, with the daemon's pid.",
	  NULL, cmd_summary },
	{ "pid", "MOUNTPOINT", "Prints the pid and SOURCE of the daemon that serves MOUNTPOINT\n"
	  "(for kill -USR1, or to tell daemons apart).", NULL, cmd_pid },
	{ "limits", "MOUNTPOINT [max_maps=N] [max_mapped=SIZE]",
	  "Prints the mapping budget in force, or changes it without remounting\n"
	  "(K/M/G/T suffixes for SIZE) and prints it.  Changing needs root or the\n"
	  "daemon's user.", NULL, cmd_limits },
	{ "drop", "MOUNTPOINT", "Drops every mapping the daemon holds now (pinned ones stay until\n"
	  "their readers are done), and says how many.  Needs root or the\n"
	  "daemon's user.", NULL, cmd_drop },
	{ "maps", "MOUNTPOINT [FROM]",
	  "Lists the live mappings, most recently used first: path (as the\n"
	  "daemon can name it, relative to SOURCE), bytes, pins (readers using it\n"
	  "now) and age in seconds; from the FROM'th.  Needs root or the daemon's\n"
	  "user.", NULL, cmd_maps },
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *params = NULL;
	const struct command *cmd = NULL;
	int at;

	/* The command is the first word that is not an option. */
	for (at = 1; at < argc && argv[at][0] == '-'; at++)
		;
	if (at == argc) {
		for (int i = 1; i < argc; i++) {
			if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
				fputs(usage, stdout);
				return 0;
			}
			if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
				printf("mmapfs-ctl %s\n", MMAPFS_VERSION);
				return 0;
			}
		}
		die(2, argc > 1 ? "unexpected '%s' (see --help)"
				: "missing command and MOUNTPOINT (see --help)%s",
		    argc > 1 ? argv[1] : "");
	}
	cmd = find_command(argv[at]);
	if (!cmd)
		die(2, "unknown command '%s' (stats, summary, pid, limits, drop, maps; "
		    "see --help)", argv[at]);
	params = g_strdup_printf("%s %s", cmd->name, cmd->params);
	ctx = g_option_context_new(params);
	g_option_context_set_summary(ctx, cmd->summary);
	if (cmd->entries)
		g_option_context_add_main_entries(ctx, cmd->entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error))
		die(2, "%s: %s (see 'mmapfs-ctl %s --help')", cmd->name, error->message,
		    cmd->name);
	/* argv is now the program, the command word, then the arguments. */
	for (at = 1; at < argc && strcmp(argv[at], cmd->name); at++)
		;
	if (at + 1 >= argc)
		die(2, "%s: missing MOUNTPOINT (see 'mmapfs-ctl %s --help')",
		    cmd->name, cmd->name);
	cmd->run(argv[at + 1], argv + at + 2);
	return 0;
}
