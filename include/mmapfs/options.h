/*
 * options.h - the command line and mount options of mmapfs.
 *
 * One table describes every mmapfs option: the parser reads it, and --help
 * prints it, defaults included, so the two cannot drift apart.  FUSE's own
 * options (-f, -d, -s, -o allow_other, -o ro, ...) pass through untouched to
 * libfuse, which rejects the ones it does not know.
 *
 * Called from main() only, before any thread starts.  Strings in
 * struct mmapfs_options are owned by it; mmapfs_options_clear() frees them.
 */
#ifndef MMAPFS_OPTIONS_H
#define MMAPFS_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <fuse_lowlevel.h>
#include <glib.h>

/* Defaults, documented in --help and the README. */
#define MMAPFS_DEFAULT_MAX_MAPS   4096
#define MMAPFS_DEFAULT_MAX_MAPPED (16ull << 30)
#define MMAPFS_DEFAULT_MAX_MAPPED_TEXT "16G"
#define MMAPFS_DEFAULT_TIMEOUT    1.0      /* cache=timeout */
#define MMAPFS_DEFAULT_WATCHED_TIMEOUT 60.0  /* cache=watched */
#define MMAPFS_DEFAULT_PUSH       (1ull << 20)
#define MMAPFS_DEFAULT_PUSH_TEXT  "1M"
#define MMAPFS_MAX_PUSH           (64ull << 20)
#define MMAPFS_DEFAULT_PUSH_FILES (64ull << 10)
#define MMAPFS_DEFAULT_PUSH_FILES_TEXT "64K"
#define MMAPFS_MAX_PUSH_FILES     (16ull << 20)
#define MMAPFS_DEFAULT_READAHEAD  (1ull << 20)
#define MMAPFS_DEFAULT_READAHEAD_TEXT "1M"
#define MMAPFS_MAX_READAHEAD      (64ull << 20)

/* Bounds that reject nonsense before it reaches the kernel. */
#define MMAPFS_MAX_MAX_MAPS   (1u << 20)
#define MMAPFS_MAX_MAX_MAPPED (1ull << 46)   /* 64 TiB of address space */
#define MMAPFS_MAX_TIMEOUT    86400.0
#define MMAPFS_MAX_OPTION_VALUE 4095         /* bytes: PATH_MAX less its NUL */

/* What the kernel may cache, and for how long (see README, "Cache modes"). */
enum mmapfs_cache_mode {
	MMAPFS_CACHE_AUTO,      /* not given: watched where a watcher sees
				 * the source's changes, else timeout */
	MMAPFS_CACHE_WATCHED,   /* long lifetimes, invalidated on events */
	MMAPFS_CACHE_TIMEOUT,   /* names, attributes for `timeout` seconds */
	MMAPFS_CACHE_NONE,      /* nothing: every read and stat reaches us */
};

/* Which watcher cache=watched uses (the values of enum watcher_kind). */
enum mmapfs_watcher {
	MMAPFS_WATCHER_AUTO,
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
	uint64_t push;          /* window pushed into the kernel's cache; 0: off */
	uint64_t push_files;    /* listed files pushed whole up to this; 0: off */
	uint64_t readahead;     /* the mount's readahead window; 0: the kernel's */
	int log_level;          /* enum mmapfs_log_level */
	bool read_only;         /* -o ro */
	bool allow_other;       /* -o allow_other (implies default_permissions) */

	/* FUSE's own command-line options, as fuse_parse_cmdline() left them. */
	struct fuse_cmdline_opts fuse;
};

enum mmapfs_parse_result {
	MMAPFS_PARSE_OK,        /* mount with the options parsed */
	MMAPFS_PARSE_EXIT,      /* --help or --version was printed: exit 0 */
	MMAPFS_PARSE_ERROR,     /* *error says why: print it, exit non-zero */
};

/*
 * Parses *args (FUSE_ARGS_INIT(argc, argv) on entry) into *opts, and leaves
 * in *args what libfuse's fuse_session_new() must see: the FUSE options,
 * plus fsname, and default_permissions when allow_other is given.  Checks
 * that SOURCE is a directory and MOUNTPOINT exists; mounts nothing.
 */
enum mmapfs_parse_result mmapfs_options_parse(struct fuse_args *args,
					      struct mmapfs_options *opts,
					      GError **error);

void mmapfs_options_clear(struct mmapfs_options *opts);

/* Prints the usage line and the option table, with defaults, to stdout. */
void mmapfs_options_print_help(const char *progname);

/*
 * Parses a size: decimal digits with an optional K, M, G or T suffix
 * (powers of 1024).  Returns FALSE for anything else, including a sign,
 * an empty string and values that do not fit in 64 bits.
 */
gboolean mmapfs_parse_size(const char *text, uint64_t *out);

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
