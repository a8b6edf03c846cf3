/*
 * options.c - parsing and describing mmapfs's options.
 *
 * DESIGN: every option is one row of option_table: its name, what its value
 * looks like, where it is stored, its default and its range.  One setter per
 * kind of value (a count, a size, seconds, one of some names) checks a value
 * against the row's range and stores it; mmapfs_options_init() stores every
 * row's default; --help and the error messages print the default and the
 * range from the same row.  An option cannot be parsed without being
 * documented, and its documented range is the one enforced.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mmapfs/log.h"
#include "mmapfs/options.h"

static GQuark opt_error_quark(void)
{
	return g_quark_from_static_string("mmapfs-options-error");
}
#define OPT_ERROR opt_error_quark()

enum opt_kind {
	OPT_PATH,       /* a path (char *), made absolute by
			 * mmapfs_options_finish() */
	OPT_COUNT,      /* unsigned, in [min, max] */
	OPT_SIZE,       /* uint64_t with a K/M/G/T suffix, in [min, max] */
	OPT_SECONDS,    /* double, in [0, max] */
	OPT_CHOICE,     /* int: the index of one of choices */
	OPT_FLAG,       /* bool, no value: a FUSE option that we note */
	OPT_SWITCH,     /* bool, no value: ours alone */
};

struct option_row {
	const char *name;
	const char *metavar;
	enum opt_kind kind;
	size_t offset;          /* of the field in struct mmapfs_options */
	uint64_t def;           /* the default: value, or index in choices */
	uint64_t min, max;      /* COUNT, SIZE; SECONDS: max */
	bool zero_ok;           /* SIZE: 0 (off) as well as [min, max] */
	bool pow2;              /* SIZE: powers of two only */
	const char *const *choices;  /* CHOICE: NULL-terminated */
	const char *help;
	const char *def_text;   /* the default, where it is no plain value */
};

static const char *const cache_names[] = {
	[MMAPFS_CACHE_AUTO] = "auto",
	[MMAPFS_CACHE_WATCHED] = "watched",
	[MMAPFS_CACHE_TIMEOUT] = "timeout",
	[MMAPFS_CACHE_NONE] = "none",
	NULL,
};

static const char *const watcher_names[] = {
	[MMAPFS_WATCHER_AUTO] = "auto",
	[MMAPFS_WATCHER_FANOTIFY] = "fanotify",
	[MMAPFS_WATCHER_INOTIFY] = "inotify",
	NULL,
};

static const char *const readdirplus_names[] = {
	[MMAPFS_PLUS_AUTO] = "auto",
	[MMAPFS_PLUS_ALWAYS] = "always",
	[MMAPFS_PLUS_ADAPTIVE] = "adaptive",
	[MMAPFS_PLUS_OFF] = "off",
	NULL,
};

static const char *const passthrough_names[] = {
	[MMAPFS_PT_AUTO] = "auto",
	[MMAPFS_PT_OFF] = "off",
	[MMAPFS_PT_RO] = "ro",
	[MMAPFS_PT_RW] = "rw",
	NULL,
};

static const char *const log_level_names[] = {
	[MMAPFS_LOG_ERROR] = "error",
	[MMAPFS_LOG_WARN] = "warn",
	[MMAPFS_LOG_INFO] = "info",
	[MMAPFS_LOG_DEBUG] = "debug",
	NULL,
};

#define AT(f) offsetof(struct mmapfs_options, f)

static const struct option_row option_table[] = {
	{ "source", "DIR", OPT_PATH, AT(source),
	  .help = "the backing directory to mirror",
	  .def_text = "the first argument" },
	{ "max_maps", "N", OPT_COUNT, AT(max_maps),
	  .def = MMAPFS_DEFAULT_MAX_MAPS, .min = 1, .max = MMAPFS_MAX_MAX_MAPS,
	  .help = "live mappings at most" },
	{ "max_mapped", "SIZE", OPT_SIZE, AT(max_mapped),
	  .def = MMAPFS_DEFAULT_MAX_MAPPED, .min = 1, .max = MMAPFS_MAX_MAX_MAPPED,
	  .help = "bytes mapped at most, with K/M/G/T suffixes; larger files "
		  "are read with pread" },
	{ "cache", "MODE", OPT_CHOICE, AT(cache), .choices = cache_names,
	  .def = MMAPFS_CACHE_AUTO,
	  .help = "watched: the kernel caches names and attributes for `timeout` "
		  "seconds, and a watcher invalidates them, and cached file data, as "
		  "soon as the source changes outside the mount; "
		  "timeout: the kernel caches names and attributes for `timeout` seconds; "
		  "none: the kernel caches nothing, not even file data (direct I/O: "
		  "no shared mmap of files on the mount); "
		  "auto: watched, unless the source is on a network or FUSE filesystem "
		  "(changed from elsewhere, where no watcher sees) or no watcher can "
		  "start: then timeout" },
	{ "watcher", "KIND", OPT_CHOICE, AT(watcher), .choices = watcher_names,
	  .def = MMAPFS_WATCHER_AUTO,
	  .help = "what watches for cache=watched: fanotify (sees which process "
		  "made a change, so the daemon's own are skipped), inotify, or "
		  "auto (fanotify, else inotify)" },
	{ "push", "SIZE", OPT_SIZE, AT(push),
	  .def = MMAPFS_DEFAULT_PUSH, .min = 4096, .max = MMAPFS_MAX_PUSH,
	  .zero_ok = true, .pow2 = true,
	  .help = "after a small (random) read the kernel's cache missed, store "
		  "the aligned window of this size around it into that cache "
		  "(0: off; not with cache=none or -o writeback)" },
	{ "push_files", "SIZE", OPT_SIZE, AT(push_files),
	  .def = MMAPFS_DEFAULT_PUSH_FILES, .min = 0, .max = MMAPFS_MAX_PUSH_FILES,
	  .help = "when a directory is listed, store each file of at most this "
		  "size whole into the kernel's cache, if the backing has its "
		  "data in memory; on a network or FUSE source, at its open for "
		  "reading instead (0: off; not with cache=none or -o "
		  "writeback)" },
	{ "readahead", "SIZE", OPT_SIZE, AT(readahead),
	  .def = MMAPFS_DEFAULT_READAHEAD, .min = 4096, .max = MMAPFS_MAX_READAHEAD,
	  .zero_ok = true,
	  .help = "the mount's readahead window: sequential reading reaches the "
		  "daemon in requests of up to this size (set through "
		  "/sys/class/bdi, by root only; 0: the kernel's default, 128K)" },
	{ "readdirplus", "MODE", OPT_CHOICE, AT(readdirplus),
	  .choices = readdirplus_names, .def = MMAPFS_PLUS_AUTO,
	  .help = "always: every directory listing carries each entry's "
		  "attributes, so that `ls -l`, `find` and opening the files "
		  "listed need no lookup each (the daemon stats every entry "
		  "listed); adaptive: the kernel's choice (the first batch, and "
		  "after lookups in the directory); off: names only; "
		  "auto: always, unless the source is on a network or FUSE "
		  "filesystem (where a stat costs a round trip) or cache=none: "
		  "then adaptive" },
	{ "passthrough", "MODE", OPT_CHOICE, AT(passthrough),
	  .choices = passthrough_names, .def = MMAPFS_PT_AUTO,
	  .help = "which opened files the kernel hands to their backing file, "
		  "so that their reads, writes and mmaps reach neither the daemon "
		  "nor its mappings (a daemon run by root, and Linux 6.9 or later "
		  "with FUSE passthrough): ro: files opened for reading; rw: every "
		  "open of a regular file; off: none; auto: files opened for "
		  "writing, and files of at least " G_STRINGIFY(MMAPFS_PT_AUTO_MIN_KIB)
		  "K when opened (smaller ones read faster from the kernel's "
		  "cache).  Never a file with set-ID bits; not with "
		  "cache=none; auto leaves it off on a read-only mount whose "
		  "files are read without opening them, and on a network or "
		  "FUSE source.  Where it cannot work, "
		  "files are read through the mapping path, and one log line "
		  "says why" },
	{ "timeout", "SECONDS", OPT_SECONDS, AT(timeout),
	  .max = (uint64_t)MMAPFS_MAX_TIMEOUT,
	  .help = "how long the kernel may cache names and attributes" },
	{ "log_level", "LEVEL", OPT_CHOICE, AT(log_level),
	  .choices = log_level_names, .def = MMAPFS_LOG_INFO,
	  .help = "error, warn, info or debug: which messages to log (to stderr in the foreground, to "
		  "syslog once detached, or to log_file)" },
	{ "log_file", "PATH", OPT_PATH, AT(log_file),
	  .help = "append messages to this file (each line with its time), "
		  "detached or not; '-': to stderr, even once detached",
	  .def_text = "stderr, then syslog once detached" },
	{ "writeback", NULL, OPT_SWITCH, AT(writeback),
	  .help = "the kernel gathers writes in its page cache and sends them "
		  "in large requests: at the latest when the file is closed or "
		  "synced, when its pages are needed elsewhere, and at unmount "
		  "or SIGTERM.  It then keeps a regular file's size, mtime and "
		  "ctime itself: a file truncated outside the mount shows its "
		  "new size once no process holds it open through the mount.  "
		  "Needs cache=watched (explicit, or auto finding a watcher); "
		  "not with -o ro, nor with passthrough=ro or rw (the kernel "
		  "hands no file over on a connection that caches writes: auto "
		  "turns passthrough off)",
	  .def_text = "off" },
	{ "ro", NULL, OPT_FLAG, AT(read_only),
	  .help = "read-only mount: every change answers EROFS; with "
		  "cache=watched, or cache=timeout and a timeout given, files "
		  "are read without opening them in the daemon (only with "
		  "allow_other or a daemon running as root)" },
	{ "allow_other", NULL, OPT_FLAG, AT(allow_other),
	  .help = "let other users in; turns on default_permissions: the "
		  "kernel checks modes and POSIX ACLs for every user" },
};

static void *field(struct mmapfs_options *opts, const struct option_row *r)
{
	return (char *)opts + r->offset;
}

const char *mmapfs_cache_mode_name(enum mmapfs_cache_mode mode)
{
	return mode < G_N_ELEMENTS(cache_names) - 1 ? cache_names[mode] : "?";
}

const char *mmapfs_watcher_name(enum mmapfs_watcher kind)
{
	return kind < G_N_ELEMENTS(watcher_names) - 1 ? watcher_names[kind] : "?";
}

const char *mmapfs_passthrough_name(enum mmapfs_passthrough mode)
{
	return mode < G_N_ELEMENTS(passthrough_names) - 1 ? passthrough_names[mode] : "?";
}

char *mmapfs_format_size(uint64_t n)
{
	static const char suffixes[] = "KMGT";
	int s = -1;

	while (n && s < 3 && !(n & 1023)) {
		n >>= 10;
		s++;
	}
	return s < 0 ? g_strdup_printf("%" G_GUINT64_FORMAT, n)
		     : g_strdup_printf("%" G_GUINT64_FORMAT "%c", n, suffixes[s]);
}

/* What a row accepts, as --help and the errors say it: "1 to 1048576". */
static char *range_text(const struct option_row *r)
{
	g_autofree char *lo = NULL, *hi = NULL;

	switch (r->kind) {
	case OPT_COUNT:
		return g_strdup_printf("a whole number from %" G_GUINT64_FORMAT
				       " to %" G_GUINT64_FORMAT, r->min, r->max);
	case OPT_SIZE:
		lo = mmapfs_format_size(r->min);
		hi = mmapfs_format_size(r->max);
		return g_strdup_printf("%s%s from %s to %s", r->zero_ok ? "0, or " : "",
				       r->pow2 ? "a power of two" : "a size", lo, hi);
	case OPT_SECONDS:
		return g_strdup_printf("seconds from 0 to %" G_GUINT64_FORMAT, r->max);
	case OPT_CHOICE:
		return g_strjoinv(", ", (char **)r->choices);
	default:
		return NULL;
	}
}

static gboolean invalid(const struct option_row *r, const char *value,
			GError **error)
{
	g_autofree char *range = range_text(r);

	g_set_error(error, OPT_ERROR, 0, "invalid %s '%s': expected %s",
		    r->name, value, range);
	return FALSE;
}

/* Checks value against row r and stores it in *opts. */
static gboolean set_value(struct mmapfs_options *opts,
			  const struct option_row *r, const char *value,
			  GError **error)
{
	uint64_t n;
	char *end;
	double t;

	switch (r->kind) {
	case OPT_PATH:
		g_free(*(char **)field(opts, r));
		*(char **)field(opts, r) = g_strdup(value);
		return TRUE;
	case OPT_COUNT:
		if (!mmapfs_parse_count(value, r->min, r->max, &n))
			return invalid(r, value, error);
		*(unsigned *)field(opts, r) = (unsigned)n;
		return TRUE;
	case OPT_SIZE:
		if (!mmapfs_parse_size(value, &n) ||
		    (!(r->zero_ok && n == 0) &&
		     (n < r->min || n > r->max || (r->pow2 && (n & (n - 1))))))
			return invalid(r, value, error);
		*(uint64_t *)field(opts, r) = n;
		return TRUE;
	case OPT_SECONDS:
		errno = 0;
		t = g_ascii_strtod(value, &end);
		if (errno || end == value || *end || !(t >= 0) || t > (double)r->max)
			return invalid(r, value, error);
		*(double *)field(opts, r) = t;
		return TRUE;
	case OPT_CHOICE:
		for (int i = 0; r->choices[i]; i++) {
			if (!strcmp(r->choices[i], value)) {
				*(int *)field(opts, r) = i;
				return TRUE;
			}
		}
		return invalid(r, value, error);
	case OPT_FLAG:
	case OPT_SWITCH:
		*(bool *)field(opts, r) = true;
		return TRUE;
	}
	return FALSE;
}

void mmapfs_options_init(struct mmapfs_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->timeout = -1;     /* not given: the cache mode's (policy.h) */
	for (size_t i = 0; i < G_N_ELEMENTS(option_table); i++) {
		const struct option_row *r = &option_table[i];

		switch (r->kind) {
		case OPT_COUNT:
			*(unsigned *)field(opts, r) = (unsigned)r->def;
			break;
		case OPT_SIZE:
			*(uint64_t *)field(opts, r) = r->def;
			break;
		case OPT_CHOICE:
			*(int *)field(opts, r) = (int)r->def;
			break;
		default:
			break;
		}
	}
}

static const struct option_row *find_row(const char *name, size_t len)
{
	for (size_t i = 0; i < G_N_ELEMENTS(option_table); i++)
		if (strlen(option_table[i].name) == len &&
		    !strncmp(option_table[i].name, name, len))
			return &option_table[i];
	return NULL;
}

enum mmapfs_option_result mmapfs_option_set(struct mmapfs_options *opts,
					    const char *word, GError **error)
{
	const char *eq = strchr(word, '=');
	const struct option_row *r = find_row(word, eq ? (size_t)(eq - word)
						       : strlen(word));

	if (!r)
		return MMAPFS_OPTION_UNKNOWN;
	if (r->kind == OPT_FLAG) {
		if (eq)         /* "ro=1": libfuse's to refuse */
			return MMAPFS_OPTION_UNKNOWN;
		set_value(opts, r, NULL, error);
		return MMAPFS_OPTION_NOTED;
	}
	if (r->kind == OPT_SWITCH) {
		if (eq) {
			g_set_error(error, OPT_ERROR, 0,
				    "option '%s' takes no value: -o %s", r->name, r->name);
			return MMAPFS_OPTION_INVALID;
		}
		set_value(opts, r, NULL, error);
		return MMAPFS_OPTION_SET;
	}
	if (eq && strlen(eq + 1) > MMAPFS_MAX_OPTION_VALUE) {
		g_set_error(error, OPT_ERROR, 0,
			    "value of option '%s' is too long (%zu bytes, at most %d)",
			    r->name, strlen(eq + 1), MMAPFS_MAX_OPTION_VALUE);
		return MMAPFS_OPTION_INVALID;
	}
	if (!eq || !eq[1]) {
		g_set_error(error, OPT_ERROR, 0, "option '%s' needs a value: -o %s=%s",
			    r->name, r->name, r->metavar);
		return MMAPFS_OPTION_INVALID;
	}
	return set_value(opts, r, eq + 1, error) ? MMAPFS_OPTION_SET
						 : MMAPFS_OPTION_INVALID;
}

gboolean mmapfs_parse_limit(const char *setting, uint64_t *max_maps,
			    uint64_t *max_mapped, GError **error)
{
	struct mmapfs_options o;
	enum mmapfs_option_result res;

	if (!g_str_has_prefix(setting, "max_maps=") &&
	    !g_str_has_prefix(setting, "max_mapped=")) {
		g_set_error(error, OPT_ERROR, 0,
			    "unknown limit '%s': expected max_maps=N or max_mapped=SIZE",
			    setting);
		return FALSE;
	}
	o.max_maps = (unsigned)*max_maps;
	o.max_mapped = *max_mapped;
	res = mmapfs_option_set(&o, setting, error);
	*max_maps = o.max_maps;
	*max_mapped = o.max_mapped;
	return res == MMAPFS_OPTION_SET;
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
	char *real, *out;
	struct stat st;

	if (strlen(path) > MMAPFS_MAX_OPTION_VALUE) {
		g_set_error(error, OPT_ERROR, 0, "%s is too long (%zu bytes, at most %d)",
			    what, strlen(path), MMAPFS_MAX_OPTION_VALUE);
		return NULL;
	}
	real = realpath(path, NULL);
	if (!real || stat(real, &st) < 0) {
		int e = errno;

		/* A FUSE mount whose daemon is gone. */
		if (e == ENOTCONN)
			g_set_error(error, OPT_ERROR, 0, "%s '%s': the mount there is dead "
				    "(its daemon is gone): 'mmapfs-mount SOURCE %s' repairs it, "
				    "'fusermount3 -u %s' removes it", what, path, path, path);
		else
			g_set_error(error, OPT_ERROR, 0, "%s '%s': %s", what, path,
				    g_strerror(e));
		free(real);
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		g_set_error(error, OPT_ERROR, 0, "%s '%s': %s", what, path,
			    g_strerror(ENOTDIR));
		free(real);
		return NULL;
	}
	out = g_strdup(real);
	free(real);
	return out;
}

/* Whether path is dir or below it (both absolute and canonical). */
static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1)             /* "/" */
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

gboolean mmapfs_options_finish(struct mmapfs_options *opts,
			       const char *const *positional, unsigned n,
			       GError **error)
{
	unsigned want = opts->source ? 1 : 2;
	char *path;

	if (n < want) {
		g_set_error(error, OPT_ERROR, 0, "missing %s (see --help)",
			    n == 0 && want == 2 ? "SOURCE and MOUNTPOINT" : "MOUNTPOINT");
		return FALSE;
	}
	if (n > want) {
		g_set_error(error, OPT_ERROR, 0, "unexpected argument '%s' (see --help)",
			    positional[want]);
		return FALSE;
	}
	path = resolve_dir("source", opts->source ? opts->source : positional[0], error);
	if (!path)
		return FALSE;
	g_free(opts->source);
	opts->source = path;
	opts->mountpoint = resolve_dir("mount point", positional[want - 1], error);
	if (!opts->mountpoint)
		return FALSE;
	/* The mirror would contain itself: the daemon's own lookups would
	 * come back to it through the mount, and wait for themselves. */
	if (path_within(opts->mountpoint, opts->source)) {
		g_set_error(error, OPT_ERROR, 0,
			    "mount point '%s' is inside source '%s': the mirror "
			    "would contain itself", opts->mountpoint, opts->source);
		return FALSE;
	}
	/* The daemon leaves its working directory when it detaches. */
	if (opts->log_file && strcmp(opts->log_file, "-") &&
	    !g_path_is_absolute(opts->log_file)) {
		g_autofree char *cwd = g_get_current_dir();
		char *abs = g_build_filename(cwd, opts->log_file, NULL);

		g_free(opts->log_file);
		opts->log_file = abs;
	}
	return TRUE;
}

void mmapfs_options_clear(struct mmapfs_options *opts)
{
	g_clear_pointer(&opts->source, g_free);
	g_clear_pointer(&opts->mountpoint, g_free);
	g_clear_pointer(&opts->log_file, g_free);
}

/* Prints one help entry, "    LHS  TEXT", TEXT wrapped under itself. */
static void help_entry(FILE *out, const char *lhs, const char *text)
{
	enum { INDENT = 31, WIDTH = 79 };
	g_auto(GStrv) words = g_strsplit(text, " ", -1);
	int col = fprintf(out, "    %-26s", lhs);

	for (int i = 0; words[i]; i++) {
		int len = (int)strlen(words[i]);

		if (col > INDENT && col + 1 + len > WIDTH)
			col = fprintf(out, "\n%*s", INDENT - 1, "") - 1;
		col += fprintf(out, " %s", words[i]);
	}
	fprintf(out, "\n");
}

/* A row's default as --help shows it ("16G", "auto"), or NULL. */
static char *default_text(const struct option_row *r)
{
	switch (r->kind) {
	case OPT_COUNT:
		return g_strdup_printf("%" G_GUINT64_FORMAT, r->def);
	case OPT_SIZE:
		return mmapfs_format_size(r->def);
	case OPT_CHOICE:
		return g_strdup(r->choices[r->def]);
	case OPT_SECONDS:
		return g_strdup_printf("%g with cache=timeout, %g with cache=watched",
				       MMAPFS_DEFAULT_TIMEOUT,
				       MMAPFS_DEFAULT_WATCHED_TIMEOUT);
	default:
		return g_strdup(r->def_text);
	}
}

void mmapfs_options_print_help(FILE *out)
{
	for (size_t i = 0; i < G_N_ELEMENTS(option_table); i++) {
		const struct option_row *r = &option_table[i];
		g_autofree char *lhs = r->metavar
			? g_strdup_printf("-o %s=%s", r->name, r->metavar)
			: g_strdup_printf("-o %s", r->name);
		g_autofree char *range = r->kind == OPT_CHOICE ? NULL : range_text(r);
		g_autofree char *def = default_text(r);
		g_autoptr(GString) text = g_string_new(r->help);

		if (range)
			g_string_append_printf(text, " (%s)", range);
		if (def)
			g_string_append_printf(text, " [%s]", def);
		help_entry(out, lhs, text->str);
	}
}
