/*
 * stats.c - see include/mmapfs/stats.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <time.h>

#include "mmapfs/stats.h"

#define OP_NAME(counter, name, handler, params, args) [STATS_##counter] = name,
#define OP_SKIP(counter, handler, params, args)
static const char *const op_names[STATS_N_OPS] = {
	MMAPFS_OPS(OP_NAME, OP_SKIP)
};
#undef OP_NAME
#undef OP_SKIP

const char *stats_op_name(enum stats_op op)
{
	return op < STATS_N_OPS ? op_names[op] : "?";
}

int stats_error_kind(int e)
{
	switch (e) {
	case ENOSPC: case EDQUOT: return STATS_ERR_NOSPACE;
	case EMFILE: case ENFILE: return STATS_ERR_NOFILE;
	case EIO: return STATS_ERR_IO;
	case ENOMEM: return STATS_ERR_NOMEM;
	default: return -1;
	}
}

const char *stats_error_kind_name(enum stats_error_kind k)
{
	static const char *const names[] = {
		[STATS_ERR_NOSPACE] = "nospace", [STATS_ERR_NOFILE] = "nofile",
		[STATS_ERR_IO] = "io", [STATS_ERR_NOMEM] = "nomem",
	};

	return k < STATS_N_ERROR_KINDS ? names[k] : "?";
}

guint64 stats_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (guint64)ts.tv_sec * 1000000000u + (guint64)ts.tv_nsec;
}

unsigned stats_bucket(guint64 ns)
{
	guint64 us = ns / 1000;
	/* The bit length of us: us < 2^b. */
	unsigned b = us ? 64 - (unsigned)__builtin_clzll(us) : 0;

	return MIN(b, STATS_BUCKETS - 1);
}

void stats_op_done(struct stats *s, enum stats_op op, guint64 start_ns)
{
	struct stats_op_counts *c = &s->ops[op];
	guint64 ns = stats_now_ns() - start_ns;

	stats_add(&c->requests, 1);
	stats_add(&c->total_ns, ns);
	stats_add(&c->buckets[stats_bucket(ns)], 1);
}

static guint64 load(const guint64 *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void stats_read(struct stats *s, struct stats_snapshot *out)
{
	out->uptime_s = (double)(g_get_monotonic_time() - s->started_us) / G_USEC_PER_SEC;
	out->requests = 0;
	for (int i = 0; i < STATS_N_OPS; i++) {
		out->ops[i].requests = load(&s->ops[i].requests);
		out->ops[i].total_ns = load(&s->ops[i].total_ns);
		for (int b = 0; b < STATS_BUCKETS; b++)
			out->ops[i].buckets[b] = load(&s->ops[i].buckets[b]);
		out->requests += out->ops[i].requests;
	}
	out->errors = load(&s->errors);
	for (int k = 0; k < STATS_N_ERROR_KINDS; k++)
		out->errors_of[k] = load(&s->errors_of[k]);
	out->bytes_from_maps = load(&s->bytes_from_maps);
	out->bytes_from_pread = load(&s->bytes_from_pread);
	out->bytes_written = load(&s->bytes_written);
	out->reopens_kept = load(&s->reopens_kept);
	out->lookups_ahead = load(&s->lookups_ahead);
}

/* The upper bound, in microseconds, of the bucket holding quantile q. */
static guint64 quantile_us(const struct stats_op_counts *c, double q)
{
	guint64 total = 0, seen = 0;

	for (int b = 0; b < STATS_BUCKETS; b++)
		total += c->buckets[b];
	if (!total)
		return 0;
	for (int b = 0; b < STATS_BUCKETS; b++) {
		seen += c->buckets[b];
		if ((double)seen >= q * (double)total)
			return (guint64)1 << b;
	}
	return (guint64)1 << (STATS_BUCKETS - 1);
}

static double mean_us(const struct stats_op_counts *c)
{
	return c->requests ? (double)c->total_ns / (double)c->requests / 1000 : 0;
}

/* Name and value of every scalar, in order: one table for both formats. */
struct scalar {
	const char *name;
	guint64 value;
};

static unsigned scalars(const struct stats_snapshot *s, struct scalar *out)
{
	const struct mapcache_stats *m = &s->maps;
	unsigned n = 0;

#define ADD(name_, value_) (out[n++] = (struct scalar){ name_, (guint64)(value_) })
	ADD("pid", s->pid);
	ADD("requests", s->requests);
	ADD("errors", s->errors);
	ADD("errors_nospace", s->errors_of[STATS_ERR_NOSPACE]);
	ADD("errors_nofile", s->errors_of[STATS_ERR_NOFILE]);
	ADD("errors_io", s->errors_of[STATS_ERR_IO]);
	ADD("errors_nomem", s->errors_of[STATS_ERR_NOMEM]);
	ADD("bytes_read", s->bytes_from_maps + s->bytes_from_pread);
	ADD("bytes_from_maps", s->bytes_from_maps);
	ADD("bytes_from_pread", s->bytes_from_pread);
	ADD("bytes_written", s->bytes_written);
	ADD("map_hits", m->hits);
	ADD("map_misses", m->misses);
	ADD("maps_created", m->created);
	ADD("maps_evicted", m->evicted);
	ADD("maps_remapped", m->remapped);
	ADD("maps_dropped", m->invalidated);
	ADD("map_refused", m->refused);
	ADD("map_failures", m->map_failures);
	ADD("maps_live", m->n_maps);
	ADD("mapped_bytes", m->mapped_bytes);
	ADD("maps_pinned", m->pinned);
	ADD("max_maps", m->max_maps);
	ADD("max_mapped", m->max_mapped);
	ADD("kept_fds", s->kept_fds);
	ADD("reopens_kept", s->reopens_kept);
	ADD("lookups_ahead", s->lookups_ahead);
	ADD("sigbus_recovered", s->sigbus_recovered);
	ADD("inodes", s->inodes);
	ADD("dir_fds", s->dir_fds);
	ADD("watcher_events", s->watcher_events);
	ADD("watcher_own_events", s->watcher_own_events);
	ADD("pushed_windows", s->pushed_windows);
	ADD("pushed_files", s->pushed_files);
	ADD("push_invalidated", s->push_invalidated);
	ADD("push_files_unchecked", s->push_files_unchecked);
	ADD("passthrough_opens", s->passthrough_opens);
	ADD("passthrough_backing", s->passthrough_backing);
	ADD("passthrough_fallbacks", s->passthrough_fallbacks);
#undef ADD
	return n;
}

#define MAX_SCALARS 48

void stats_format_text(const struct stats_snapshot *s, GString *out)
{
	struct scalar sc[MAX_SCALARS];
	unsigned n = scalars(s, sc);

	g_string_append_printf(out, "uptime_s %.1f\n", s->uptime_s);
	g_string_append_printf(out, "source %s\n", s->source ? s->source : "");
	g_string_append_printf(out, "cache %s\n", s->cache_mode);
	g_string_append_printf(out, "watcher %s\n", s->watcher ? s->watcher : "none");
	g_string_append_printf(out, "passthrough %s\n", s->passthrough ? s->passthrough : "off");
	for (unsigned i = 0; i < n; i++)
		g_string_append_printf(out, "%s %" G_GUINT64_FORMAT "\n",
				       sc[i].name, sc[i].value);
	for (int op = 0; op < STATS_N_OPS; op++) {
		const struct stats_op_counts *c = &s->ops[op];

		if (!c->requests)
			continue;
		g_string_append_printf(out, "op.%s.requests %" G_GUINT64_FORMAT "\n",
				       stats_op_name(op), c->requests);
		g_string_append_printf(out, "op.%s.mean_us %.1f\n", stats_op_name(op), mean_us(c));
		g_string_append_printf(out, "op.%s.p50_us %" G_GUINT64_FORMAT "\n",
				       stats_op_name(op), quantile_us(c, 0.5));
		g_string_append_printf(out, "op.%s.p99_us %" G_GUINT64_FORMAT "\n",
				       stats_op_name(op), quantile_us(c, 0.99));
		g_string_append_printf(out, "op.%s.histogram_us", stats_op_name(op));
		for (int b = 0; b < STATS_BUCKETS; b++)
			if (c->buckets[b])
				g_string_append_printf(out, " <%" G_GUINT64_FORMAT ":%"
						       G_GUINT64_FORMAT,
						       (guint64)1 << b, c->buckets[b]);
		g_string_append_c(out, '\n');
	}
}

/* s as a JSON string: quotes, backslashes and control bytes escaped (the
 * rest, a path's bytes, as they are). */
static void json_string(GString *out, const char *s)
{
	g_string_append_c(out, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			g_string_append_printf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			g_string_append_printf(out, "\\u%04x", (unsigned char)*s);
		else
			g_string_append_c(out, *s);
	}
	g_string_append_c(out, '"');
}

void stats_format_json(const struct stats_snapshot *s, GString *out)
{
	struct scalar sc[MAX_SCALARS];
	unsigned n = scalars(s, sc);
	bool first = true;

	g_string_append_printf(out, "{\"uptime_s\":%.1f,\"source\":", s->uptime_s);
	json_string(out, s->source ? s->source : "");
	g_string_append_printf(out, ",\"cache\":\"%s\",\"watcher\":", s->cache_mode);
	if (s->watcher)
		g_string_append_printf(out, "\"%s\"", s->watcher);
	else
		g_string_append(out, "null");
	g_string_append_printf(out, ",\"passthrough\":\"%s\"",
			       s->passthrough ? s->passthrough : "off");
	for (unsigned i = 0; i < n; i++)
		g_string_append_printf(out, ",\"%s\":%" G_GUINT64_FORMAT,
				       sc[i].name, sc[i].value);
	g_string_append(out, ",\"ops\":{");
	for (int op = 0; op < STATS_N_OPS; op++) {
		const struct stats_op_counts *c = &s->ops[op];
		bool first_bucket = true;

		if (!c->requests)
			continue;
		g_string_append_printf(out, "%s\"%s\":{\"requests\":%" G_GUINT64_FORMAT
				       ",\"mean_us\":%.1f,\"p50_us\":%" G_GUINT64_FORMAT
				       ",\"p99_us\":%" G_GUINT64_FORMAT ",\"histogram_us\":{",
				       first ? "" : ",", stats_op_name(op), c->requests,
				       mean_us(c), quantile_us(c, 0.5), quantile_us(c, 0.99));
		first = false;
		for (int b = 0; b < STATS_BUCKETS; b++) {
			if (!c->buckets[b])
				continue;
			g_string_append_printf(out, "%s\"%" G_GUINT64_FORMAT "\":%"
					       G_GUINT64_FORMAT, first_bucket ? "" : ",",
					       (guint64)1 << b, c->buckets[b]);
			first_bucket = false;
		}
		g_string_append(out, "}}");
	}
	g_string_append(out, "}}\n");
}

char *stats_summary_line(const struct stats_snapshot *s)
{
	guint64 read = s->bytes_from_maps + s->bytes_from_pread;
	guint64 lookups = s->maps.hits + s->maps.misses;

	g_autoptr(GString) kinds = g_string_new(NULL);

	for (int k = 0; k < STATS_N_ERROR_KINDS; k++)
		if (s->errors_of[k])
			g_string_append_printf(kinds, ", %" G_GUINT64_FORMAT " %s",
					       s->errors_of[k], stats_error_kind_name(k));
	return g_strdup_printf(
		"stats (pid %d): %" G_GUINT64_FORMAT " requests (%" G_GUINT64_FORMAT
		" errors%s) in %.0f s; "
		"%.1f MiB read, %.0f%% from mappings; %.1f MiB written; "
		"%u/%u mappings live, %.1f MiB mapped, %.0f%% hits; "
		"%" G_GUINT64_FORMAT " SIGBUS recovered; %" G_GUINT64_FORMAT
		" watcher events; %u inodes; %" G_GUINT64_FORMAT " passthrough opens",
		s->pid, s->requests, s->errors, kinds->str, s->uptime_s, read / 1048576.0,
		read ? 100.0 * s->bytes_from_maps / read : 0.0,
		s->bytes_written / 1048576.0, s->maps.n_maps, s->maps.max_maps,
		s->maps.mapped_bytes / 1048576.0,
		lookups ? 100.0 * s->maps.hits / lookups : 0.0,
		s->sigbus_recovered, s->watcher_events, s->inodes, s->passthrough_opens);
}
