/*
 * stats.h - what the daemon counts, and how the counts are shown.
 *
 * Counters are 64-bit and updated with relaxed atomic adds: no lock on the
 * request path, and a reader sees each counter whole (not all of them at
 * one instant).  Every request is counted by its operation, with the time
 * its handler took in a log2 histogram of microseconds.
 *
 * A snapshot gathers the counters with what other modules count (the
 * mapping cache, the SIGBUS guard, the watcher, the pusher) and is shown
 * as text (one "name value" pair per line, for people and for mmapfs-ctl)
 * or as JSON.
 */
#ifndef MMAPFS_STATS_H
#define MMAPFS_STATS_H

#include <stdint.h>

#include <glib.h>

#include "mmapfs/mapcache.h"
#include "mmapfs/oplist.h"

/* One counter per operation of oplist.h. */
#define STATS_OP_ENUM(counter, name, handler, params, args) STATS_##counter,
#define STATS_OP_SKIP(counter, handler, params, args)
enum stats_op {
	MMAPFS_OPS(STATS_OP_ENUM, STATS_OP_SKIP)
	STATS_N_OPS
};
#undef STATS_OP_ENUM
#undef STATS_OP_SKIP

/* Bucket i counts requests that took less than 2^i microseconds (and at
 * least 2^(i-1)); the last bucket counts everything slower. */
#define STATS_BUCKETS 24

struct stats_op_counts {
	guint64 requests;
	guint64 total_ns;
	guint64 buckets[STATS_BUCKETS];
};

/* Errors users suffer, counted (and logged once) by kind. */
enum stats_error_kind {
	STATS_ERR_NOSPACE,          /* ENOSPC, EDQUOT */
	STATS_ERR_NOFILE,           /* EMFILE, ENFILE */
	STATS_ERR_IO,               /* EIO */
	STATS_ERR_NOMEM,            /* ENOMEM */
	STATS_N_ERROR_KINDS
};

/* The kind of errno e (positive), or -1 for the others. */
int stats_error_kind(int e);

/* "nospace", ...: errors_<name> in the statistics. */
const char *stats_error_kind_name(enum stats_error_kind k);

/* The daemon's own counters (all atomic). */
struct stats {
	struct stats_op_counts ops[STATS_N_OPS];
	guint64 errors;             /* replies with an error */
	guint64 errors_of[STATS_N_ERROR_KINDS];
	guint64 bytes_from_maps;    /* read bytes answered from mappings */
	guint64 bytes_from_pread;   /* ... and with pread */
	guint64 bytes_written;
	guint64 reopens_kept;       /* opens given a mapping's kept descriptor */
	guint64 lookups_ahead;      /* listed entries sent with a lookup made
				     * ahead (ops_dir.c) */
	gint64 started_us;          /* g_get_monotonic_time() at mount */
};

/* The name of an operation ("read"). */
const char *stats_op_name(enum stats_op op);

/* Monotonic nanoseconds, for stats_op_done(). */
guint64 stats_now_ns(void);

/* Counts one request of op that started at start_ns. */
void stats_op_done(struct stats *s, enum stats_op op, guint64 start_ns);

static inline void stats_add(guint64 *counter, guint64 n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* The histogram bucket of a duration. */
unsigned stats_bucket(guint64 ns);

/* Everything, gathered at one moment (counter by counter). */
struct stats_snapshot {
	double uptime_s;
	struct stats_op_counts ops[STATS_N_OPS];
	guint64 requests, errors;
	guint64 errors_of[STATS_N_ERROR_KINDS];
	int pid;                    /* the daemon's */
	const char *source;         /* its SOURCE */
	guint64 bytes_from_maps, bytes_from_pread, bytes_written;
	guint64 reopens_kept, lookups_ahead;
	unsigned kept_fds;          /* descriptors the fdcache keeps now */
	struct mapcache_stats maps;
	guint64 sigbus_recovered;
	unsigned inodes;
	unsigned dir_fds;           /* directory descriptors cached */
	const char *cache_mode;     /* "watched", "timeout", "none" */
	const char *watcher;        /* "fanotify", "inotify" or NULL */
	guint64 watcher_events, watcher_own_events;
	guint64 pushed_windows, pushed_files, push_invalidated;
	guint64 push_files_unchecked;   /* listed, not checked (pusher.h) */
	const char *passthrough;    /* in force: "off", "ro", "rw" */
	guint64 passthrough_opens, passthrough_backing, passthrough_fallbacks;
};

/* Copies the daemon's own counters into *out (the rest is the caller's). */
void stats_read(struct stats *s, struct stats_snapshot *out);

/* Appends the snapshot as "name value" lines, or as one JSON object. */
void stats_format_text(const struct stats_snapshot *snap, GString *out);
void stats_format_json(const struct stats_snapshot *snap, GString *out);

/* The one-line summary SIGUSR1 logs. */
char *stats_summary_line(const struct stats_snapshot *snap);

#endif
