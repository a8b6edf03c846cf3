/*
 * main.c - mmapfs: parses the command line and hands it to mount.c.
 */
#include <stdio.h>

#include "mmapfs/cmdline.h"
#include "mmapfs/mount.h"

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct mmapfs_cmdline cl;
	g_autoptr(GError) error = NULL;
	int ret = 1;

	switch (mmapfs_cmdline_parse(&args, &cl, &error)) {
	case MMAPFS_PARSE_EXIT:
		if (cl.fuse.show_help)
			mmapfs_cmdline_print_help(argv[0]);
		else
			mmapfs_cmdline_print_version();
		ret = 0;
		break;
	case MMAPFS_PARSE_ERROR:
		fprintf(stderr, "mmapfs: %s\n", error->message);
		break;
	case MMAPFS_PARSE_OK:
		ret = mmapfs_serve(&cl, &args);
		break;
	}
	mmapfs_cmdline_clear(&cl);
	fuse_opt_free_args(&args);
	return ret;
}
