/*
 * cmdline.h - the daemon's command line: mmapfs's options (options.h)
 * and libfuse's, parsed together.
 *
 * libfuse's fuse_opt_parse() splits the -o lists; each word that is one of
 * mmapfs's options goes to mmapfs_option_set(), everything else is left
 * for fuse_session_new(), which rejects what libfuse does not know either.
 * fuse_parse_cmdline() then takes -f, -d, -s, --help, --version and
 * libfuse's loop options.
 *
 * Called from main() only, before any thread starts.
 */
#ifndef MMAPFS_CMDLINE_H
#define MMAPFS_CMDLINE_H

#include <fuse_lowlevel.h>
#include <glib.h>

#include "mmapfs/options.h"

struct mmapfs_cmdline {
	struct mmapfs_options opts;
	/* FUSE's own command-line options, as fuse_parse_cmdline() left them. */
	struct fuse_cmdline_opts fuse;
};

enum mmapfs_parse_result {
	MMAPFS_PARSE_OK,        /* mount with the options parsed */
	MMAPFS_PARSE_EXIT,      /* --help or --version was asked for: print
				 * it (mmapfs_cmdline_print_*), exit 0 */
	MMAPFS_PARSE_ERROR,     /* *error says why, in one printable line:
				 * print it, exit non-zero */
};

/*
 * Parses *args (FUSE_ARGS_INIT(argc, argv) on entry) into *cl, and leaves
 * in *args what libfuse's fuse_session_new() must see: the FUSE options,
 * plus fsname, and default_permissions when allow_other is given.  Checks
 * that SOURCE is a directory and MOUNTPOINT exists; mounts nothing.
 * Whatever it returns, mmapfs_cmdline_clear() frees *cl.
 */
enum mmapfs_parse_result mmapfs_cmdline_parse(struct fuse_args *args,
					      struct mmapfs_cmdline *cl,
					      GError **error);

void mmapfs_cmdline_clear(struct mmapfs_cmdline *cl);

/* Prints the usage, mmapfs's options and libfuse's, to stdout. */
void mmapfs_cmdline_print_help(const char *progname);

/* Prints mmapfs's version and libfuse's, to stdout. */
void mmapfs_cmdline_print_version(void);

#endif
