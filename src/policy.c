/*
 * policy.c - see include/mmapfs/policy.h.
 */
#include "mmapfs/policy.h"

static GQuark policy_error_quark(void)
{
	return g_quark_from_static_string("mmapfs-policy-error");
}

bool policy_wants_watcher(const struct mmapfs_options *opts, const char *blind)
{
	return opts->cache == MMAPFS_CACHE_WATCHED ||
	       (opts->cache == MMAPFS_CACHE_AUTO && !blind);
}

gboolean policy_choose(const struct mmapfs_options *opts, const char *blind,
		       bool watcher_started, const char *watcher_error,
		       struct mmapfs_policy *out, GError **error)
{
	*out = (struct mmapfs_policy){ .cache = opts->cache };
	if (opts->writeback) {
		const char *against = opts->read_only ? "a read-only mount" :
			opts->cache == MMAPFS_CACHE_NONE ? "cache=none (nothing cached)" :
			opts->passthrough == MMAPFS_PT_RO ? "passthrough=ro" :
			opts->passthrough == MMAPFS_PT_RW ? "passthrough=rw" : NULL;

		if (against) {
			g_set_error(error, policy_error_quark(), 0,
				    "-o writeback cannot go with %s", against);
			return FALSE;
		}
		out->writeback = true;
	}
	if (opts->cache == MMAPFS_CACHE_AUTO && blind) {
		out->reason = g_strdup_printf("the source is on %s, whose changes "
					      "made elsewhere no watcher sees", blind);
		out->cache = MMAPFS_CACHE_TIMEOUT;
	} else if (opts->cache == MMAPFS_CACHE_AUTO ||
		   opts->cache == MMAPFS_CACHE_WATCHED) {
		if (!watcher_started && opts->cache == MMAPFS_CACHE_WATCHED) {
			g_set_error(error, policy_error_quark(), 0, "cache=watched: %s",
				    watcher_error ? watcher_error : "no watcher started");
			return FALSE;
		}
		if (!watcher_started) {
			out->reason = g_strdup(watcher_error ? watcher_error
							     : "no watcher started");
			out->cache = MMAPFS_CACHE_TIMEOUT;
		} else {
			out->cache = MMAPFS_CACHE_WATCHED;
			if (blind)
				out->warning = g_strdup_printf(
					"the source is on %s: changes made to it "
					"elsewhere are not seen", blind);
		}
	}
	/* The kernel keeps a file's size and data for as long as it holds
	 * it, whatever the attributes say: only the watcher makes it let go
	 * of a file changed outside (watcher.h). */
	if (out->writeback && out->cache != MMAPFS_CACHE_WATCHED) {
		g_set_error(error, policy_error_quark(), 0,
			    "-o writeback needs cache=watched (a watcher makes the "
			    "kernel forget files changed outside), and the cache "
			    "mode is timeout%s%s", out->reason ? ": " : "",
			    out->reason ? out->reason : "");
		policy_clear(out);
		return FALSE;
	}
	if (out->cache == MMAPFS_CACHE_NONE)
		out->timeout = 0;
	else if (opts->timeout >= 0)
		out->timeout = opts->timeout;
	else
		out->timeout = out->cache == MMAPFS_CACHE_WATCHED ?
			MMAPFS_DEFAULT_WATCHED_TIMEOUT : MMAPFS_DEFAULT_TIMEOUT;
	/* A listing with attributes stats every entry: cheap on a local
	 * source, a round trip each on a network one; and with cache=none
	 * the kernel would keep none of it. */
	out->readdirplus = opts->readdirplus;
	if (out->readdirplus == MMAPFS_PLUS_AUTO)
		out->readdirplus = blind || out->cache == MMAPFS_CACHE_NONE ?
			MMAPFS_PLUS_ADAPTIVE : MMAPFS_PLUS_ALWAYS;
	return TRUE;
}

void policy_clear(struct mmapfs_policy *p)
{
	g_clear_pointer(&p->reason, g_free);
	g_clear_pointer(&p->warning, g_free);
}

bool policy_no_open(const struct mmapfs_options *opts,
		    enum mmapfs_cache_mode cache, bool daemon_is_root,
		    bool kernel_offers)
{
	bool window = cache == MMAPFS_CACHE_WATCHED ||
		      (cache == MMAPFS_CACHE_TIMEOUT && opts->timeout >= 0);

	return opts->read_only && window &&
	       (opts->allow_other || daemon_is_root) && kernel_offers;
}

double policy_reopen_window(const struct mmapfs_options *opts,
			    enum mmapfs_cache_mode cache, const char *blind)
{
	if (!blind || cache != MMAPFS_CACHE_TIMEOUT)
		return -1;
	return opts->timeout >= 0 ? opts->timeout : 0;
}

uint64_t policy_push_files(const struct mmapfs_options *opts, const char *blind)
{
	return blind ? 0 : opts->push_files;
}

uint64_t policy_push_at_open(const struct mmapfs_options *opts, const char *blind)
{
	return blind ? opts->push_files : 0;
}

bool policy_pushes(const struct mmapfs_options *opts,
		   enum mmapfs_cache_mode cache, const char *blind)
{
	return (opts->push || policy_push_files(opts, blind) ||
		policy_push_at_open(opts, blind)) &&
	       cache != MMAPFS_CACHE_NONE && !opts->writeback;
}

enum mmapfs_passthrough policy_passthrough(const struct mmapfs_options *opts,
					   enum mmapfs_cache_mode cache, const char *blind,
					   bool daemon_is_root, bool kernel_offers,
					   bool no_open, const char **why)
{
	enum mmapfs_passthrough asked = opts->passthrough;

	*why = NULL;
	if (asked == MMAPFS_PT_OFF)
		return MMAPFS_PT_OFF;
	if (opts->writeback)
		*why = "-o writeback: the kernel hands no file over on a "
		       "connection that caches writes";
	else if (!daemon_is_root)
		*why = "the daemon does not run as root (registering a backing "
		       "file needs CAP_SYS_ADMIN)";
	else if (!kernel_offers)
		*why = "the kernel does not offer it (Linux 6.9 or later, with "
		       "CONFIG_FUSE_PASSTHROUGH)";
	else if (cache == MMAPFS_CACHE_NONE)
		*why = "cache=none reads every file with direct I/O";
	else if (asked == MMAPFS_PT_AUTO && no_open)
		*why = "this read-only mount reads files without opening them";
	else if (asked == MMAPFS_PT_AUTO && blind)
		*why = "the source is on a network or FUSE filesystem, whose "
		       "cached pages a new open may drop (files handed over read "
		       "from it again each time; the mount's own cache keeps them)";
	if (*why)
		return MMAPFS_PT_OFF;
	return asked;
}
