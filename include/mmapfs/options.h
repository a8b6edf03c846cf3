/*
 * options.h - the mount options of mmapfs: what each means, its default and
 * its range, parsed and described from one table.
 *
 * This is the core's half of the command line: it knows mmapfs's own
 * options and nothing of libfuse.  src/cmdline.c (cmdline.h) drives it
 * from libfuse's option parser, hands FUSE's own options (-f, -d, -s,
 * -o allow_other, -o ro, ...) through to libfuse, and prints --help.
 *
 * Every row of the table gives an option's name, what its value looks like,
 * its default (one numeric constant below, shown in --help in the option's
 * own notation) and its range: the setter checks values against the range,
 * and --help and the error messages print the same range, so none of them
 * can drift from another.
 *
 * Called from main()'s thread only, before any other thread starts.
 * Strings in struct mmapfs_options are owned by it; mmapfs_options_clear()
 * frees them.
 */
#ifndef MMAPFS_OPTIONS_H
#define MMAPFS_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <glib.h>

/* Defaults (--help and the README show them). */
#define MMAPFS_DEFAULT_MAX_MAPS   4096
#define MMAPFS_DEFAULT_MAX_MAPPED (16ull << 30)
#define MMAPFS_DEFAULT_TIMEOUT    1.0      /* cache=timeout */
#define MMAPFS_DEFAULT_WATCHED_TIMEOUT 60.0  /* cache=watched */
#define MMAPFS_DEFAULT_PUSH       (1ull << 20)
#define MMAPFS_DEFAULT_PUSH_FILES (64ull << 10)
#define MMAPFS_DEFAULT_READAHEAD  (1ull << 20)

/* Bounds that reject nonsense before it reaches the kernel. */
#define MMAPFS_MAX_MAX_MAPS   (1u << 20)
#define MMAPFS_MAX_MAX_MAPPED (1ull << 46)   /* 64 TiB of address space */
#define MMAPFS_MAX_TIMEOUT    86400.0
#define MMAPFS_MAX_PUSH       (64ull << 20)
#define MMAPFS_MAX_PUSH_FILES (16ull << 20)
#define MMAPFS_MAX_READAHEAD  (64ull << 20)
#define MMAPFS_MAX_OPTION_VALUE 4095         /* bytes: PATH_MAX less its NUL */

/* What the kernel may cache, and for how long (see README, "Cache modes"). */
enum mmapfs_cache_mode {
	MMAPFS_CACHE_AUTO,      /* not given: watched where a watcher sees
				 * the source's changes, else timeout */
	MMAPFS_CACHE_WATCHED,   /* long lifetimes, invalidated on events */
	MMAPFS_CACHE_TIMEOUT,   /* names, attributes for `timeout` seconds */
	MMAPFS_CACHE_NONE,      /* nothing: every read and stat reaches us */
};

/* Which watcher cache=watched uses (-o watcher=; see watcher.h). */
enum mmapfs_watcher {
	MMAPFS_WATCHER_AUTO,    /* fanotify, else inotify */
	MMAPFS_WATCHER_FANOTIFY,
	MMAPFS_WATCHER_INOTIFY,
};

/* How directories are listed to the kernel (-o readdirplus=). */
enum mmapfs_readdirplus {
	MMAPFS_PLUS_AUTO,       /* always, unless the source is on a network
				 * or FUSE filesystem, or with cache=none:
				 * then adaptive */
	MMAPFS_PLUS_ALWAYS,     /* every listing carries attributes */
	MMAPFS_PLUS_ADAPTIVE,   /* the kernel's choice: the first batch, and
				 * after lookups in the directory */
	MMAPFS_PLUS_OFF,        /* names only */
};

/* Which opens the kernel hands to the backing file (-o passthrough=;
 * see passthrough.h). */
enum mmapfs_passthrough {
	MMAPFS_PT_AUTO,         /* files of MMAPFS_PT_AUTO_MIN_KIB and more,
				 * where it can work (policy_passthrough()) */
	MMAPFS_PT_OFF,          /* every open through the mapping path */
	MMAPFS_PT_RO,           /* opens for reading only */
	MMAPFS_PT_RW,           /* every open of a regular file */
};

/* passthrough=auto hands over the files at least this large when opened:
 * smaller ones read faster from the kernel's cache of the mapping path. */
#define MMAPFS_PT_AUTO_MIN_KIB 256

struct mmapfs_options {
	char *source;           /* backing directory, absolute, no trailing / */
	char *mountpoint;       /* absolute */
	unsigned max_maps;      /* live mappings at most */
	uint64_t max_mapped;    /* bytes mapped at most */
	double timeout;         /* entry and attribute timeout, seconds;
				 * < 0: not given (the mode's default) */
	enum mmapfs_cache_mode cache;
	enum mmapfs_watcher watcher;
	enum mmapfs_readdirplus readdirplus;
	enum mmapfs_passthrough passthrough;
	uint64_t push;          /* window pushed into the kernel's cache; 0: off */
	uint64_t push_files;    /* listed files pushed whole up to this; 0: off */
	uint64_t readahead;     /* the mount's readahead window; 0: the kernel's */
	int log_level;          /* enum mmapfs_log_level */
	char *log_file;         /* where messages go; "-": stderr; NULL:
				 * stderr, then syslog once detached */
	bool writeback;         /* -o writeback: the kernel caches writes */
	bool read_only;         /* -o ro */
	bool allow_other;       /* -o allow_other (implies default_permissions) */
};

/* Fills *opts with every default; nothing to free yet. */
void mmapfs_options_init(struct mmapfs_options *opts);

enum mmapfs_option_result {
	MMAPFS_OPTION_UNKNOWN,  /* not one of ours: libfuse's, or nobody's */
	MMAPFS_OPTION_SET,      /* ours, stored */
	MMAPFS_OPTION_NOTED,    /* a FUSE option we note (ro, allow_other):
				 * stored, and libfuse must see it too */
	MMAPFS_OPTION_INVALID,  /* ours, and its value is not: *error says why */
};

/* Applies one "-o" word, "name=value" or "name". */
enum mmapfs_option_result mmapfs_option_set(struct mmapfs_options *opts,
					    const char *word, GError **error);

/*
 * Resolves SOURCE (unless -o source= gave it) and MOUNTPOINT from the n
 * positional arguments: both must exist and be directories, and MOUNTPOINT
 * must not be SOURCE or inside it (symlinks resolved).  Returns FALSE
 * with *error set (one line quoting what was given) otherwise.
 */
gboolean mmapfs_options_finish(struct mmapfs_options *opts,
			       const char *const *positional, unsigned n,
			       GError **error);

void mmapfs_options_clear(struct mmapfs_options *opts);

/* Prints every option of the table, wrapped, with default and range. */
void mmapfs_options_print_help(FILE *out);

/* The names the options use ("watched", "fanotify"). */
const char *mmapfs_cache_mode_name(enum mmapfs_cache_mode mode);
const char *mmapfs_watcher_name(enum mmapfs_watcher kind);
const char *mmapfs_passthrough_name(enum mmapfs_passthrough mode);

/*
 * Parses a size: decimal digits with an optional K, M, G or T suffix
 * (powers of 1024).  Returns FALSE for anything else, including a sign,
 * an empty string and values that do not fit in 64 bits.
 */
gboolean mmapfs_parse_size(const char *text, uint64_t *out);

/* A size in the notation mmapfs_parse_size() reads, as short as exact. */
char *mmapfs_format_size(uint64_t n);

/*
 * Parses one budget setting, "max_maps=N" or "max_mapped=SIZE", with the
 * rules of the options of those names, into *max_maps or *max_mapped (the
 * other is left alone).  For mmapfs-ctl limits and the daemon's control.
 */
gboolean mmapfs_parse_limit(const char *setting, uint64_t *max_maps,
			    uint64_t *max_mapped, GError **error);

/* Parses a whole decimal number in [min, max]. */
gboolean mmapfs_parse_count(const char *text, uint64_t min, uint64_t max,
			    uint64_t *out);

#endif
