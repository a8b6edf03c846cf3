/*
 * policy.h - what the mount caches, decided from the options and from what
 * was found about the source: pure functions, no I/O, unit-tested case by
 * case (tests/unit/test_policy.c).
 *
 * The decision has two steps, because whether a watcher can start is only
 * known by starting one:
 *   1. policy_wants_watcher(): should mount.c try to start a watcher?
 *   2. policy_choose(): with the outcome of that try, the cache mode, the
 *      timeout and the listing mode, and the reason for a fallback.
 */
#ifndef MMAPFS_POLICY_H
#define MMAPFS_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "mmapfs/options.h"

struct mmapfs_policy {
	enum mmapfs_cache_mode cache;   /* WATCHED, TIMEOUT or NONE */
	double timeout;                 /* entry and attribute timeout, s */
	enum mmapfs_readdirplus readdirplus;  /* ALWAYS, ADAPTIVE or OFF */
	bool writeback;     /* the kernel caches writes (-o writeback) */
	char *reason;       /* why cache=auto fell back to timeout, or NULL */
	char *warning;      /* cache=watched over a filesystem no watcher
			     * fully sees, or NULL */
};

/*
 * Whether to try starting a watcher, for opts over a source on blind (the
 * fstype_blind() name of its filesystem, or NULL for a local one).
 */
bool policy_wants_watcher(const struct mmapfs_options *opts, const char *blind);

/*
 * Fills *out.  watcher_error is NULL when a watcher was started (or none
 * was tried), else why none could start.  Returns FALSE with *error set
 * when cache=watched was asked for and no watcher started, and when
 * -o writeback was asked for with what it cannot go with: a read-only
 * mount, cache=none, passthrough=ro or rw, or a cache mode that ends up
 * other than watched.  Free *out's strings with policy_clear().
 */
gboolean policy_choose(const struct mmapfs_options *opts, const char *blind,
		       bool watcher_started, const char *watcher_error,
		       struct mmapfs_policy *out, GError **error);

void policy_clear(struct mmapfs_policy *p);

/*
 * Whether a mount may let the kernel open files without asking us
 * (no-open): read-only; cache=watched (the watcher tells the kernel that a
 * cached page went stale), or cache=timeout with a timeout the user gave
 * (-o timeout=: the window accepted for data too, since without an open
 * only the kernel's next attribute check, once the window is over, drops
 * pages whose size or mtime moved); permissions checked by the kernel or a
 * daemon only root can reach; and a kernel that offers it.
 */
bool policy_no_open(const struct mmapfs_options *opts,
		    enum mmapfs_cache_mode cache, bool daemon_is_root,
		    bool kernel_offers);

/*
 * The passthrough mode in force (passthrough.h): MMAPFS_PT_OFF, _RO or
 * _RW, for opts with the cache mode chosen, a daemon running as root or
 * not, a kernel that offers passthrough or not, and a mount where
 * policy_no_open() holds or not.  Passthrough needs root, the kernel's
 * offer, and the kernel's page cache (not cache=none); it and no-open
 * exclude each other: -o passthrough=ro or rw wins, auto leaves no-open
 * be.  -o writeback leaves it off (the kernel refuses passthrough on a
 * connection that caches writes).  auto leaves a source that
 * fstype_blind() names (blind, or NULL) to the mapping path: over sshfs,
 * 256 KiB files read a second time went 4 x faster from the mount's own
 * cache than handed over (BENCHMARKS.md).
 * When the mode asked for (auto included) ends up off, *why says why (a
 * static string); otherwise *why is NULL.
 */
enum mmapfs_passthrough policy_passthrough(const struct mmapfs_options *opts,
					   enum mmapfs_cache_mode cache, const char *blind,
					   bool daemon_is_root, bool kernel_offers,
					   bool no_open, const char **why);

/*
 * How long a read-only open may reuse the descriptor a file's mapping
 * keeps without asking the source whether the file changed
 * (filedata_reopen()), in seconds; -1 when opens never reuse one.  Only
 * on a source that fstype_blind() names (blind, or NULL), where an open is
 * a network round trip and may drop the source's own cached pages, and
 * with cache=timeout: there the window is the timeout the user gave (the
 * staleness accepted for names and attributes, accepted for data too), or
 * 0 without one (every reuse is preceded by a stat, still no open).
 */
double policy_reopen_window(const struct mmapfs_options *opts,
			    enum mmapfs_cache_mode cache, const char *blind);

/*
 * The largest file pushed whole when its directory is listed (push_files),
 * or 0: none on a source that fstype_blind() names (blind, or NULL), where
 * finding out whether a file's data is in memory means opening it, a
 * network round trip for every file listed, and an open that may drop
 * that filesystem's cached pages (over sshfs it doubled the opens of a
 * first grep -r, BENCHMARKS.md).
 */
uint64_t policy_push_files(const struct mmapfs_options *opts, const char *blind);

/*
 * The largest file an open for reading stores whole into the kernel's
 * cache (push_files), or 0: only on a source that fstype_blind() names,
 * where listings push nothing and the open has opened the file there
 * anyway (pusher.h).
 */
uint64_t policy_push_at_open(const struct mmapfs_options *opts, const char *blind);

/* Whether the pusher runs (push, policy_push_files() or
 * policy_push_at_open(), and a cache to push into); never with -o
 * writeback, where a store into the kernel's cache would overwrite a page
 * a writer had not written back yet (the kernel stores into dirty pages
 * as into any other), and the next writeback would take the stale bytes
 * to SOURCE. */
bool policy_pushes(const struct mmapfs_options *opts,
		   enum mmapfs_cache_mode cache, const char *blind);

#endif
