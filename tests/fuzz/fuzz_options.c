/*
 * fuzz_options.c - libFuzzer target: the command line parser.
 *
 * The input is split at NUL bytes into arguments after "mmapfs" and given
 * to mmapfs_cmdline_parse(), as main() does; each argument is also given
 * to the size and count parsers.  Whatever the input, the parser must
 * return one of its three results without a sanitizer report or a leak.
 * Built with clang by `meson setup -Dfuzz=true` (see scripts/test.sh).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "mmapfs/cmdline.h"

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *copy = g_malloc(size + 1);
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	struct fuse_args args;
	struct mmapfs_cmdline cl;
	GError *error = NULL;
	enum mmapfs_parse_result r;

	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[argc++] = (char *)"mmapfs";
	for (char *p = copy; p <= copy + size && argc <= MAX_ARGS; p += strlen(p) + 1) {
		uint64_t v;

		argv[argc++] = p;
		mmapfs_parse_size(p, &v);
		mmapfs_parse_count(p, 1, 1000, &v);
	}
	argv[argc] = NULL;

	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	r = mmapfs_cmdline_parse(&args, &cl, &error);
	g_assert(r == MMAPFS_PARSE_OK || r == MMAPFS_PARSE_EXIT ||
		 r == MMAPFS_PARSE_ERROR);
	g_assert((r == MMAPFS_PARSE_ERROR) == (error != NULL));
	g_assert(!error || !strchr(error->message, '\n'));
	g_clear_error(&error);
	mmapfs_cmdline_clear(&cl);
	fuse_opt_free_args(&args);
	return 0;
}
