/*
 * cmdline.c - see include/mmapfs/cmdline.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmapfs/cmdline.h"
#include "mmapfs/watcher.h"

static GQuark cmdline_error_quark(void)
{
	return g_quark_from_static_string("mmapfs-cmdline-error");
}

/* Parser state while fuse_opt_parse() runs. */
struct parse_state {
	struct mmapfs_options *opts;
	GPtrArray *positional;  /* SOURCE and MOUNTPOINT as given */
	GError *error;          /* the first error only */
};

/* fuse_opt callback: 0 consumes the argument, 1 keeps it for libfuse. */
static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct parse_state *st = data;
	GError *error = NULL;

	if (key == FUSE_OPT_KEY_NONOPT) {
		g_ptr_array_add(st->positional, g_strdup(arg));
		return 0;
	}
	if (key != FUSE_OPT_KEY_OPT || arg[0] == '-')
		return 1;
	switch (mmapfs_option_set(st->opts, arg, &error)) {
	case MMAPFS_OPTION_UNKNOWN:
	case MMAPFS_OPTION_NOTED:
		return 1;
	case MMAPFS_OPTION_INVALID:
		if (!st->error)
			st->error = error;
		else
			g_clear_error(&error);
		return 0;
	default:
		return 0;
	}
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
				      struct mmapfs_cmdline *cl,
				      GError **error)
{
	struct parse_state st = { .opts = &cl->opts };
	g_autoptr(GPtrArray) positional = g_ptr_array_new_with_free_func(g_free);

	memset(cl, 0, sizeof(*cl));
	mmapfs_options_init(&cl->opts);
	st.positional = positional;
	if (fuse_opt_parse(args, &st, NULL, opt_proc) < 0 ||
	    fuse_parse_cmdline(args, &cl->fuse) < 0) {
		g_clear_error(&st.error);
		g_set_error(error, cmdline_error_quark(), 0,
			    "cannot parse the command line");
		return MMAPFS_PARSE_ERROR;
	}
	if (cl->fuse.show_help || cl->fuse.show_version) {
		g_clear_error(&st.error);
		return MMAPFS_PARSE_EXIT;
	}
	if (st.error) {
		g_propagate_error(error, st.error);
		return MMAPFS_PARSE_ERROR;
	}
	if (!mmapfs_options_finish(&cl->opts, (const char *const *)positional->pdata,
				   positional->len, error))
		return MMAPFS_PARSE_ERROR;
	add_mount_options(args, &cl->opts);
	return MMAPFS_PARSE_OK;
}

enum mmapfs_parse_result mmapfs_cmdline_parse(struct fuse_args *args,
					      struct mmapfs_cmdline *cl,
					      GError **error)
{
	enum mmapfs_parse_result r = parse(args, cl, error);

	/* The message quotes what was given: one printable line, whatever
	 * bytes that held. */
	if (r == MMAPFS_PARSE_ERROR && error && *error) {
		for (char *p = (*error)->message; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return r;
}

void mmapfs_cmdline_clear(struct mmapfs_cmdline *cl)
{
	mmapfs_options_clear(&cl->opts);
	g_clear_pointer(&cl->fuse.mountpoint, free);
}

void mmapfs_cmdline_print_help(const char *progname)
{
	const char *available = watcher_available();

	printf("usage: %s [options] SOURCE MOUNTPOINT\n"
	       "       %s [options] -o source=SOURCE MOUNTPOINT\n\n"
	       "Mirrors the directory SOURCE at MOUNTPOINT, answering reads from\n"
	       "memory mappings of the backing files.\n\n"
	       "mmapfs options (default in brackets):\n", progname, progname);
	mmapfs_options_print_help(stdout);
	printf("\nWatcher this user can start here: %s.\n",
	       available ? available : "none (cache=auto means timeout)");
	printf("\nFUSE options:\n");
	fflush(stdout);     /* libfuse prints with its own stdio calls */
	fuse_cmdline_help();
	/* libfuse's fuse_lowlevel_help() would list allow_other a second
	 * time: its two other mount options, said here. */
	printf("    -o allow_root          let root in besides the mounting user (not\n"
	       "                           with allow_other; needs user_allow_other in\n"
	       "                           /etc/fuse.conf for a daemon not run by root)\n"
	       "    -o auto_unmount        unmount when the daemon ends, however it ends\n"
	       "                           (fusermount3 stays behind to do it)\n");
}

void mmapfs_cmdline_print_version(void)
{
	printf("mmapfs %s\nlibfuse %s\n", MMAPFS_VERSION, fuse_pkgversion());
	fflush(stdout);     /* before fusermount3 prints its own version */
	fuse_lowlevel_version();
}
