/*
 * ops_ctl.c - the mount's statistics and control, as extended attributes
 * of its root directory (the interface of mmapfs-ctl):
 *
 *   getfattr -n user.mmapfs.stats MOUNTPOINT        statistics, as text
 *   getfattr -n user.mmapfs.stats.json MOUNTPOINT   the same, as JSON
 *   setfattr -n user.mmapfs.ctl -v drop MOUNTPOINT  drop every mapping
 *   setfattr -n user.mmapfs.ctl \
 *       -v "limits max_maps=N max_mapped=SIZE" MOUNTPOINT
 *
 * An extended attribute needs no extra socket or file, works wherever the
 * mount is reachable (containers, other mount namespaces), and is answered
 * by the daemon that serves that very mount.  Anyone who may read the
 * mount's root reads the statistics; only root and the user the daemon
 * runs as may control it.  These names shadow the root's backing xattrs
 * of the same names and are not listed.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mmapfs/log.h"
#include "mmapfs/ops.h"
#include "mmapfs/options.h"
#include "mmapfs/safecopy.h"

#define STATS_SLACK 4096

void mmapfs_stats_snapshot(struct mmapfs *fs, struct stats_snapshot *out)
{
	memset(out, 0, sizeof(*out));
	stats_read(&fs->stats, out);
	mapcache_get_stats(fs->maps, &out->maps);
	out->sigbus_recovered = safecopy_recoveries();
	out->inodes = inode_table_size(fs->inodes);
	out->dir_fds = inode_table_dir_fds(fs->inodes, NULL);
	out->cache_mode = mmapfs_cache_mode_name(fs->cache);
	if (fs->watcher) {
		out->watcher = watcher_name(fs->watcher);
		watcher_counts(fs->watcher, &out->watcher_events,
			       &out->watcher_own_events);
	}
	if (fs->pusher)
		pusher_counts(fs->pusher, &out->pushed_windows,
			      &out->pushed_files, &out->push_invalidated);
}

bool mmapfs_ctl_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 size_t size)
{
	struct stats_snapshot snap;
	g_autoptr(GString) text = NULL;
	bool json;

	if (ino != FUSE_ROOT_ID)
		return false;
	json = !strcmp(name, MMAPFS_XATTR_STATS_JSON);
	if (!json && strcmp(name, MMAPFS_XATTR_STATS))
		return false;
	mmapfs_stats_snapshot(mmapfs_of(req), &snap);
	text = g_string_new(NULL);
	if (json)
		stats_format_json(&snap, text);
	else
		stats_format_text(&snap, text);
	/* The counters move between the caller's two calls (the size, then
	 * the value, and the first call counts too): the size given leaves
	 * room for that, and the value itself may be shorter. */
	if (size == 0)
		fuse_reply_xattr(req, text->len + STATS_SLACK);
	else
		mmapfs_reply_xattr(req, size, text->len > size ? -ERANGE
							       : (ssize_t)text->len,
				   text->str);
	return true;
}

/* "limits max_maps=N max_mapped=SIZE" (either may be left out). */
static int set_limits(struct mmapfs *fs, const char *args)
{
	g_auto(GStrv) words = g_strsplit(args, " ", -1);
	struct mapcache_stats now;
	uint64_t maps, mapped;

	mapcache_get_stats(fs->maps, &now);
	maps = now.max_maps;
	mapped = now.max_mapped;
	for (int i = 0; words[i]; i++) {
		g_autoptr(GError) error = NULL;

		if (words[i][0] && !mmapfs_parse_limit(words[i], &maps, &mapped, &error))
			return -EINVAL;
	}
	if (!mapcache_set_limits(fs->maps, (unsigned)maps, mapped))
		log_info("limits: max_maps=%u, max_mapped=%" G_GUINT64_FORMAT
			 " (over them until pinned mappings are released)",
			 (unsigned)maps, mapped);
	else
		log_info("limits: max_maps=%u, max_mapped=%" G_GUINT64_FORMAT,
			 (unsigned)maps, mapped);
	return 0;
}

bool mmapfs_ctl_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 const char *value, size_t size)
{
	struct mmapfs *fs = mmapfs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	g_autofree char *cmd = NULL;
	int res = 0;

	if (ino != FUSE_ROOT_ID || strcmp(name, MMAPFS_XATTR_CTL))
		return false;
	if (ctx->uid != 0 && ctx->uid != getuid()) {
		mmapfs_reply_err(req, -EPERM);
		return true;
	}
	cmd = g_strstrip(g_strndup(value, size));
	if (!strcmp(cmd, "drop")) {
		struct mapcache_stats before, after;

		mapcache_get_stats(fs->maps, &before);
		mapcache_drop_all(fs->maps);
		mapcache_get_stats(fs->maps, &after);
		log_info("drop: %u mappings dropped, %u pinned ones left",
			 before.n_maps - after.n_maps, after.n_maps);
	} else if (g_str_has_prefix(cmd, "limits ")) {
		res = set_limits(fs, cmd + 7);
	} else {
		res = -EINVAL;
	}
	mmapfs_reply_err(req, res);
	return true;
}
