/*
 * options.c - parsing and describing mmapfs's options.
 *
 * DESIGN: every mmapfs option is one row of option_table: its name, what its
 * value looks like, its default and its help line, and the function that
 * checks and stores a value.  The fuse_opt callback looks options up in that
 * table, and --help prints the same table, so an option cannot be parsed
 * without being documented.  Options the table does not know are handed to
 * libfuse; fuse_session_new() rejects the ones libfuse does not know either.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mmapfs/log.h"
#include "mmapfs/options.h"
#include "mmapfs/watcher.h"

static GQuark opt_error_quark(void)
{
	return g_quark_from_static_string("mmapfs-options-error");
}
#define OPT_ERROR opt_error_quark()

struct option_row {
	const char *name;
	const char *metavar;
	const char *defval;
	const char *help;
	gboolean (*set)(struct mmapfs_options *opts, const char *value,
			GError **error);
};

static gboolean set_source(struct mmapfs_options *opts, const char *value,
			   GError **error)
{
	g_free(opts->source);
	opts->source = g_strdup(value);
	return TRUE;
}

static gboolean check_max_maps(const char *value, uint64_t *out, GError **error)
{
	if (!mmapfs_parse_count(value, 1, MMAPFS_MAX_MAX_MAPS, out)) {
		g_set_error(error, OPT_ERROR, 0,
			    "invalid max_maps '%s': expected a whole number from 1 to %u",
			    value, MMAPFS_MAX_MAX_MAPS);
		return FALSE;
	}
	return TRUE;
}

static gboolean check_max_mapped(const char *value, uint64_t *out, GError **error)
{
	if (!mmapfs_parse_size(value, out) || *out == 0 ||
	    *out > MMAPFS_MAX_MAX_MAPPED) {
		g_set_error(error, OPT_ERROR, 0,
			    "invalid max_mapped '%s': expected a size from 1 to 64T, such as 512M or 16G",
			    value);
		return FALSE;
	}
	return TRUE;
}

static gboolean set_max_maps(struct mmapfs_options *opts, const char *value,
			     GError **error)
{
	uint64_t n;

	if (!check_max_maps(value, &n, error))
		return FALSE;
	opts->max_maps = n;
	return TRUE;
}

static gboolean set_max_mapped(struct mmapfs_options *opts, const char *value,
			       GError **error)
{
	return check_max_mapped(value, &opts->max_mapped, error);
}

gboolean mmapfs_parse_limit(const char *setting, uint64_t *max_maps,
			    uint64_t *max_mapped, GError **error)
{
	if (g_str_has_prefix(setting, "max_maps="))
		return check_max_maps(setting + 9, max_maps, error);
	if (g_str_has_prefix(setting, "max_mapped="))
		return check_max_mapped(setting + 11, max_mapped, error);
	g_set_error(error, OPT_ERROR, 0,
		    "unknown limit '%s': expected max_maps=N or max_mapped=SIZE", setting);
	return FALSE;
}

static gboolean set_timeout(struct mmapfs_options *opts, const char *value,
			    GError **error)
{
	char *end;
	double t;

	errno = 0;
	t = g_ascii_strtod(value, &end);
	if (errno || end == value || *end || !(t >= 0) ||
	    t > MMAPFS_MAX_TIMEOUT) {
		g_set_error(error, OPT_ERROR, 0,
			    "invalid timeout '%s': expected seconds from 0 to %.0f",
			    value, MMAPFS_MAX_TIMEOUT);
		return FALSE;
	}
	opts->timeout = t;
	return TRUE;
}

/*
 * Stores in *out the index of value among the NULL-terminated names, or
 * sets an error that lists them.
 */
static gboolean set_choice(const char *option, const char *const *names,
			   const char *value, int *out, GError **error)
{
	g_autofree char *choices = NULL;

	for (int i = 0; names[i]; i++) {
		if (!strcmp(names[i], value)) {
			*out = i;
			return TRUE;
		}
	}
	choices = g_strjoinv(", ", (char **)names);
	g_set_error(error, OPT_ERROR, 0, "invalid %s '%s': expected %s",
		    option, value, choices);
	return FALSE;
}

static gboolean set_cache(struct mmapfs_options *opts, const char *value,
			  GError **error)
{
	static const char *const names[] = {
		[MMAPFS_CACHE_AUTO] = "auto",
		[MMAPFS_CACHE_WATCHED] = "watched",
		[MMAPFS_CACHE_TIMEOUT] = "timeout",
		[MMAPFS_CACHE_NONE] = "none",
		NULL,
	};
	int i;

	if (!set_choice("cache", names, value, &i, error))
		return FALSE;
	opts->cache = i;
	return TRUE;
}

static gboolean set_watcher(struct mmapfs_options *opts, const char *value,
			    GError **error)
{
	static const char *const names[] = {
		[MMAPFS_WATCHER_AUTO] = "auto",
		[MMAPFS_WATCHER_FANOTIFY] = "fanotify",
		[MMAPFS_WATCHER_INOTIFY] = "inotify",
		NULL,
	};
	int i;

	if (!set_choice("watcher", names, value, &i, error))
		return FALSE;
	opts->watcher = i;
	return TRUE;
}

static gboolean set_readdirplus(struct mmapfs_options *opts,
				const char *value, GError **error)
{
	static const char *const names[] = {
		[MMAPFS_PLUS_AUTO] = "auto",
		[MMAPFS_PLUS_ALWAYS] = "always",
		[MMAPFS_PLUS_ADAPTIVE] = "adaptive",
		[MMAPFS_PLUS_OFF] = "off",
		NULL,
	};
	int i;

	if (!set_choice("readdirplus", names, value, &i, error))
		return FALSE;
	opts->readdirplus = i;
	return TRUE;
}

static gboolean set_log_level(struct mmapfs_options *opts, const char *value,
			      GError **error)
{
	static const char *const names[] = {
		[MMAPFS_LOG_ERROR] = "error",
		[MMAPFS_LOG_WARN] = "warn",
		[MMAPFS_LOG_INFO] = "info",
		[MMAPFS_LOG_DEBUG] = "debug",
		NULL,
	};

	return set_choice("log_level", names, value, &opts->log_level, error);
}

static gboolean set_push(struct mmapfs_options *opts, const char *value,
			 GError **error)
{
	uint64_t n;

	if (!mmapfs_parse_size(value, &n) || n > MMAPFS_MAX_PUSH ||
	    (n && (n < 4096 || (n & (n - 1))))) {
		g_set_error(error, OPT_ERROR, 0,
			    "invalid push '%s': expected 0, or a power of two from 4K to 64M",
			    value);
		return FALSE;
	}
	opts->push = n;
	return TRUE;
}

static gboolean set_push_files(struct mmapfs_options *opts, const char *value,
			       GError **error)
{
	uint64_t n;

	if (!mmapfs_parse_size(value, &n) || n > MMAPFS_MAX_PUSH_FILES) {
		g_set_error(error, OPT_ERROR, 0,
			    "invalid push_files '%s': expected a size from 0 to 16M",
			    value);
		return FALSE;
	}
	opts->push_files = n;
	return TRUE;
}

static gboolean set_readahead(struct mmapfs_options *opts, const char *value,
			      GError **error)
{
	uint64_t n;

	if (!mmapfs_parse_size(value, &n) || n > MMAPFS_MAX_READAHEAD ||
	    (n && n < 4096)) {
		g_set_error(error, OPT_ERROR, 0,
			    "invalid readahead '%s': expected 0, or a size from 4K to 64M",
			    value);
		return FALSE;
	}
	opts->readahead = n;
	return TRUE;
}

#define STR(x) #x
#define XSTR(x) STR(x)

static const struct option_row option_table[] = {
	{ "source", "DIR", "(the first argument)",
	  "the backing directory to mirror", set_source },
	{ "max_maps", "N", XSTR(MMAPFS_DEFAULT_MAX_MAPS),
	  "live mappings at most (1 to 1048576)", set_max_maps },
	{ "max_mapped", "SIZE", MMAPFS_DEFAULT_MAX_MAPPED_TEXT,
	  "bytes mapped at most, with K/M/G/T suffixes; larger files are read with pread",
	  set_max_mapped },
	{ "cache", "MODE", "auto",
	  "watched: the kernel caches names and attributes for `timeout` "
	  "seconds, and a watcher invalidates them, and cached file data, as "
	  "soon as the source changes outside the mount; "
	  "timeout: the kernel caches names and attributes for `timeout` seconds; "
	  "none: the kernel caches nothing, not even file data (direct I/O: "
	  "no shared mmap of files on the mount); "
	  "auto: watched, unless the source is on a network or FUSE filesystem "
	  "(changed from elsewhere, where no watcher sees) or no watcher can "
	  "start: then timeout", set_cache },
	{ "watcher", "KIND", "auto",
	  "what watches for cache=watched: fanotify (sees which process made a "
	  "change, so the daemon's own are skipped), inotify, or auto "
	  "(fanotify, else inotify)", set_watcher },
	{ "push", "SIZE", MMAPFS_DEFAULT_PUSH_TEXT,
	  "after a small (random) read the kernel's cache missed, store the "
	  "aligned window of this size around it into that cache (0: off; "
	  "not with cache=none)",
	  set_push },
	{ "push_files", "SIZE", MMAPFS_DEFAULT_PUSH_FILES_TEXT,
	  "when a directory is listed, store each file of at most this size "
	  "whole into the kernel's cache, if the backing has its data in "
	  "memory (0: off; not with cache=none)",
	  set_push_files },
	{ "readahead", "SIZE", MMAPFS_DEFAULT_READAHEAD_TEXT,
	  "the mount's readahead window: sequential reading reaches the "
	  "daemon in requests of up to this size, 1M at most (set through "
	  "/sys/class/bdi, by root only; 0: the kernel's default, 128K)",
	  set_readahead },
	{ "readdirplus", "MODE", "auto",
	  "always: every directory listing carries each entry's attributes, "
	  "so that `ls -l`, `find` and opening the files listed need no "
	  "lookup each (the daemon stats every entry listed); "
	  "adaptive: the kernel's choice (the first batch, and after lookups "
	  "in the directory); off: names only; "
	  "auto: always, unless the source is on a network or FUSE filesystem "
	  "(where a stat costs a round trip) or cache=none: then adaptive",
	  set_readdirplus },
	{ "timeout", "SECONDS", "1 with cache=timeout, 60 with cache=watched",
	  "how long the kernel may cache names and attributes", set_timeout },
	{ "log_level", "LEVEL", "info",
	  "error, warn, info or debug: which messages to log (to stderr in the "
	  "foreground, to syslog once detached)", set_log_level },
};

/* Parser state while fuse_opt_parse() runs. */
struct parse_state {
	struct mmapfs_options *opts;
	GPtrArray *positional;  /* SOURCE and MOUNTPOINT as given */
	GError *error;          /* the first error only */
};

static const struct option_row *find_row(const char *name, size_t len)
{
	for (size_t i = 0; i < G_N_ELEMENTS(option_table); i++)
		if (strlen(option_table[i].name) == len &&
		    !strncmp(option_table[i].name, name, len))
			return &option_table[i];
	return NULL;
}

/* fuse_opt callback: 0 consumes the argument, 1 keeps it for libfuse. */
static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct parse_state *st = data;
	const struct option_row *row;
	const char *eq;

	if (key == FUSE_OPT_KEY_NONOPT) {
		g_ptr_array_add(st->positional, g_strdup(arg));
		return 0;
	}
	if (key != FUSE_OPT_KEY_OPT || arg[0] == '-')
		return 1;

	eq = strchr(arg, '=');
	row = find_row(arg, eq ? (size_t)(eq - arg) : strlen(arg));
	if (row) {
		if (eq && strlen(eq + 1) > MMAPFS_MAX_OPTION_VALUE) {
			if (!st->error)
				g_set_error(&st->error, OPT_ERROR, 0,
					    "value of option '%s' is too long (%zu bytes, at most %d)",
					    row->name, strlen(eq + 1), MMAPFS_MAX_OPTION_VALUE);
		} else if (!eq || !eq[1]) {
			if (!st->error)
				g_set_error(&st->error, OPT_ERROR, 0,
					    "option '%s' needs a value: -o %s=%s",
					    row->name, row->name, row->metavar);
		} else if (!st->error) {
			row->set(st->opts, eq + 1, &st->error);
		}
		return 0;
	}
	if (!strcmp(arg, "ro"))
		st->opts->read_only = true;
	else if (!strcmp(arg, "allow_other"))
		st->opts->allow_other = true;
	return 1;
}

gboolean mmapfs_parse_count(const char *text, uint64_t min, uint64_t max,
			    uint64_t *out)
{
	guint64 n;

	if (!text || !g_ascii_isdigit(text[0]))
		return FALSE;
	if (!g_ascii_string_to_unsigned(text, 10, min, max, &n, NULL))
		return FALSE;
	*out = n;
	return TRUE;
}

gboolean mmapfs_parse_size(const char *text, uint64_t *out)
{
	static const char suffixes[] = "KMGT";
	const char *p;
	guint64 n;
	unsigned shift = 0;
	g_autofree char *digits = NULL;

	if (!text || !g_ascii_isdigit(text[0]))
		return FALSE;
	for (p = text; g_ascii_isdigit(*p); p++)
		;
	if (*p) {
		const char *s = strchr(suffixes, g_ascii_toupper(*p));

		if (!s || p[1])
			return FALSE;
		shift = 10 * (unsigned)(s - suffixes + 1);
	}
	digits = g_strndup(text, p - text);
	if (!g_ascii_string_to_unsigned(digits, 10, 0, G_MAXUINT64, &n, NULL))
		return FALSE;
	if (shift && n > (G_MAXUINT64 >> shift))
		return FALSE;
	*out = n << shift;
	return TRUE;
}

/* Resolves a directory argument to an absolute path, or says why not. */
static char *resolve_dir(const char *what, const char *path, GError **error)
{
	char *real;
	struct stat st;

	if (strlen(path) > MMAPFS_MAX_OPTION_VALUE) {
		g_set_error(error, OPT_ERROR, 0, "%s is too long (%zu bytes, at most %d)",
			    what, strlen(path), MMAPFS_MAX_OPTION_VALUE);
		return NULL;
	}
	real = realpath(path, NULL);
	if (!real) {
		g_set_error(error, OPT_ERROR, 0, "%s '%s': %s", what, path,
			    g_strerror(errno));
		return NULL;
	}
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		g_set_error(error, OPT_ERROR, 0, "%s '%s': %s", what, path,
			    g_strerror(ENOTDIR));
		free(real);
		return NULL;
	}
	return real;
}

static void add_mount_options(struct fuse_args *args,
			      const struct mmapfs_options *opts)
{
	g_autofree char *fsname = g_strconcat("fsname=", opts->source, NULL);
	char *o = NULL;

	fuse_opt_add_opt_escaped(&o, fsname);
	if (opts->allow_other)
		fuse_opt_add_opt(&o, "default_permissions");
	fuse_opt_add_arg(args, "-o");
	fuse_opt_add_arg(args, o);
	free(o);
}

static enum mmapfs_parse_result parse(struct fuse_args *args,
				      struct mmapfs_options *opts,
				      GError **error);

enum mmapfs_parse_result mmapfs_options_parse(struct fuse_args *args,
					      struct mmapfs_options *opts,
					      GError **error)
{
	enum mmapfs_parse_result r = parse(args, opts, error);

	/* The message quotes what was given: one printable line, whatever
	 * bytes that held. */
	if (r == MMAPFS_PARSE_ERROR && error && *error) {
		for (char *p = (*error)->message; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return r;
}

static enum mmapfs_parse_result parse(struct fuse_args *args,
				      struct mmapfs_options *opts,
				      GError **error)
{
	struct parse_state st = { .opts = opts };
	g_autoptr(GPtrArray) positional = g_ptr_array_new_with_free_func(g_free);
	const char *source_arg, *mount_arg;
	char *path;
	guint want;

	memset(opts, 0, sizeof(*opts));
	opts->max_maps = MMAPFS_DEFAULT_MAX_MAPS;
	opts->max_mapped = MMAPFS_DEFAULT_MAX_MAPPED;
	opts->timeout = -1;
	opts->log_level = MMAPFS_LOG_INFO;
	opts->push = MMAPFS_DEFAULT_PUSH;
	opts->push_files = MMAPFS_DEFAULT_PUSH_FILES;
	opts->readahead = MMAPFS_DEFAULT_READAHEAD;
	st.positional = positional;

	if (fuse_opt_parse(args, &st, NULL, opt_proc) < 0) {
		g_clear_error(&st.error);
		g_set_error(error, OPT_ERROR, 0, "cannot parse the command line");
		return MMAPFS_PARSE_ERROR;
	}
	if (fuse_parse_cmdline(args, &opts->fuse) < 0) {
		g_clear_error(&st.error);
		g_set_error(error, OPT_ERROR, 0, "cannot parse the command line");
		return MMAPFS_PARSE_ERROR;
	}
	if (opts->fuse.show_help || opts->fuse.show_version) {
		g_clear_error(&st.error);
		return MMAPFS_PARSE_EXIT;
	}
	if (st.error) {
		g_propagate_error(error, st.error);
		return MMAPFS_PARSE_ERROR;
	}

	want = opts->source ? 1 : 2;
	if (positional->len < want) {
		g_set_error(error, OPT_ERROR, 0, "missing %s (see --help)",
			    positional->len == 0 && want == 2 ? "SOURCE and MOUNTPOINT"
							       : "MOUNTPOINT");
		return MMAPFS_PARSE_ERROR;
	}
	if (positional->len > want) {
		g_set_error(error, OPT_ERROR, 0, "unexpected argument '%s' (see --help)",
			    (char *)positional->pdata[want]);
		return MMAPFS_PARSE_ERROR;
	}
	source_arg = opts->source ? opts->source : positional->pdata[0];
	mount_arg = positional->pdata[want - 1];

	path = resolve_dir("source", source_arg, error);
	if (!path)
		return MMAPFS_PARSE_ERROR;
	g_free(opts->source);
	opts->source = g_strdup(path);
	free(path);

	path = resolve_dir("mount point", mount_arg, error);
	if (!path)
		return MMAPFS_PARSE_ERROR;
	opts->mountpoint = g_strdup(path);
	free(path);

	add_mount_options(args, opts);
	return MMAPFS_PARSE_OK;
}

void mmapfs_options_clear(struct mmapfs_options *opts)
{
	g_clear_pointer(&opts->source, g_free);
	g_clear_pointer(&opts->mountpoint, g_free);
	g_clear_pointer(&opts->fuse.mountpoint, free);
}

/* Prints "    LHS  TEXT", TEXT wrapped to 79 columns under itself. */
static void print_option(const char *lhs, const char *text)
{
	enum { INDENT = 31, WIDTH = 79 };
	g_auto(GStrv) words = g_strsplit(text, " ", -1);
	int col = printf("    %-26s", lhs);

	for (int i = 0; words[i]; i++) {
		int len = (int)strlen(words[i]);

		if (col > INDENT && col + 1 + len > WIDTH)
			col = printf("\n%*s", INDENT - 1, "") - 1;
		col += printf(" %s", words[i]);
	}
	printf("\n");
}

void mmapfs_options_print_help(const char *progname)
{
	const char *available;

	printf("usage: %s [options] SOURCE MOUNTPOINT\n"
	       "       %s [options] -o source=SOURCE MOUNTPOINT\n\n"
	       "Mirrors the directory SOURCE at MOUNTPOINT, answering reads from\n"
	       "memory mappings of the backing files.\n\n"
	       "mmapfs options (default in brackets):\n", progname, progname);
	for (size_t i = 0; i < G_N_ELEMENTS(option_table); i++) {
		const struct option_row *r = &option_table[i];
		g_autofree char *lhs = g_strdup_printf("-o %s=%s", r->name, r->metavar);
		g_autofree char *text = g_strdup_printf("%s [%s]", r->help, r->defval);

		print_option(lhs, text);
	}
	print_option("-o ro", "read-only mount: every change answers EROFS; "
		     "with cache=watched, files are read without opening "
		     "them in the daemon (only with allow_other or a daemon "
		     "running as root)");
	print_option("-o allow_other",
		     "let other users in; turns on default_permissions");
	available = watcher_available();
	printf("\nWatcher this user can start here: %s.\n",
	       available ? available : "none (cache=auto means timeout)");
	printf("\nFUSE options:\n");
	fuse_cmdline_help();
	fuse_lowlevel_help();
}
