/*
 * ops_ctl.c - the mount's statistics and control, reached through its root
 * directory (the interfaces of mmapfs-ctl):
 *
 *   getfattr -n user.mmapfs.stats MOUNTPOINT        statistics, as text
 *   getfattr -n user.mmapfs.stats.json MOUNTPOINT   the same, as JSON
 *   ioctl(MMAPFS_IOC_CTL) on the root               control (ctl.h)
 *   setfattr -n user.mmapfs.ctl -v COMMAND MOUNTPOINT
 *                     the same commands, output to the log only, refused
 *                     with EROFS by the kernel on a read-only mount
 *
 * Neither needs an extra socket or file; both work wherever the mount is
 * reachable (containers, other mount namespaces), and are answered by the
 * daemon that serves that very mount.  Anyone who may read the mount's
 * root reads the statistics; ctl.h says who may do what.  The xattr names
 * shadow the root's backing xattrs of the same names and are not listed.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mmapfs/ctl.h"
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
	out->pid = getpid();
	out->source = fs->opts->source;
	out->inodes = inode_table_size(fs->inodes);
	out->dir_fds = inode_table_dir_fds(fs->inodes, NULL);
	out->kept_fds = fs->fds ? fdcache_size(fs->fds) : 0;
	out->cache_mode = mmapfs_cache_mode_name(fs->cache);
	if (fs->watcher) {
		out->watcher = watcher_name(fs->watcher);
		watcher_counts(fs->watcher, &out->watcher_events,
			       &out->watcher_own_events);
	}
	if (fs->pusher)
		pusher_counts(fs->pusher, &out->pushed_windows,
			      &out->pushed_files, &out->push_invalidated,
			      &out->push_files_unchecked);
	out->passthrough = mmapfs_passthrough_name(
		fs->passthrough ? passthrough_mode(fs->passthrough) : MMAPFS_PT_OFF);
	if (fs->passthrough)
		passthrough_counts(fs->passthrough, &out->passthrough_opens,
				   &out->passthrough_backing,
				   &out->passthrough_fallbacks);
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

/* Whether the caller may change the mount: root or the daemon's user. */
static bool may_control(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	return ctx->uid == 0 || ctx->uid == getuid();
}

static void print_limits(struct mmapfs *fs, GString *out)
{
	struct mapcache_stats now;

	mapcache_get_stats(fs->maps, &now);
	g_string_append_printf(out, "max_maps=%u max_mapped=%" G_GUINT64_FORMAT
			       " (now %u mappings, %" G_GUINT64_FORMAT " bytes)\n",
			       now.max_maps, now.max_mapped, now.n_maps,
			       now.mapped_bytes);
}

/* "limits [max_maps=N] [max_mapped=SIZE]": sets what is given. */
static int cmd_limits(struct mmapfs *fs, fuse_req_t req, char **words,
		      GString *out)
{
	struct mapcache_stats now;
	uint64_t maps, mapped;

	mapcache_get_stats(fs->maps, &now);
	maps = now.max_maps;
	mapped = now.max_mapped;
	if (words[0] && !may_control(req)) {
		g_string_assign(out, "only root or the daemon's user may change the limits");
		return -EPERM;
	}
	for (int i = 0; words[i]; i++) {
		g_autoptr(GError) error = NULL;

		if (!mmapfs_parse_limit(words[i], &maps, &mapped, &error)) {
			g_string_assign(out, error->message);
			return -EINVAL;
		}
	}
	if (words[0]) {
		bool fits = mapcache_set_limits(fs->maps, (unsigned)maps, mapped);

		log_info("limits: max_maps=%u, max_mapped=%" G_GUINT64_FORMAT "%s",
			 (unsigned)maps, mapped,
			 fits ? "" : " (over them until pinned mappings are released)");
	}
	print_limits(fs, out);
	return 0;
}

static int cmd_drop(struct mmapfs *fs, fuse_req_t req, GString *out)
{
	struct mapcache_stats before, after;

	if (!may_control(req)) {
		g_string_assign(out, "only root or the daemon's user may drop mappings");
		return -EPERM;
	}
	mapcache_get_stats(fs->maps, &before);
	mapcache_drop_all(fs->maps);
	mapcache_get_stats(fs->maps, &after);
	log_info("drop: %u mappings dropped, %u pinned ones left",
		 before.n_maps - MIN(after.n_maps, before.n_maps), after.n_maps);
	g_string_append_printf(out, "dropped %u mappings, %u pinned ones left\n",
			       before.n_maps - MIN(after.n_maps, before.n_maps),
			       after.n_maps);
	return 0;
}

/* A mapping's file, as the daemon can name it now. */
static char *map_path(struct mmapfs *fs, const struct devino *key)
{
	struct inode *node = inode_table_find(fs->inodes, key);
	char *path = node ? inode_path(fs->inodes, node) : NULL;

	if (node)
		inode_unhold(fs->inodes, node);
	return path ? path : g_strdup_printf("(inode %lu, not known to the kernel)",
					     (unsigned long)key->ino);
}

/* "maps [FROM]": as many lines as fit in a reply, from the FROM'th. */
static int cmd_maps(struct mmapfs *fs, fuse_req_t req, char **words,
		    GString *out, size_t room)
{
	g_autoptr(GArray) all = NULL;
	gint64 now = g_get_monotonic_time();
	uint64_t from = 0;
	guint i;

	if (!may_control(req)) {
		g_string_assign(out, "only root or the daemon's user may list the mappings "
				"(their paths)");
		return -EPERM;
	}
	if (words[0] && (!mmapfs_parse_count(words[0], 0, G_MAXUINT, &from) || words[1])) {
		g_string_assign(out, "maps takes one number: the first mapping to list");
		return -EINVAL;
	}
	all = mapcache_list(fs->maps);
	for (i = (guint)MIN(from, (uint64_t)all->len); i < all->len; i++) {
		const struct mapcache_entry *e = &g_array_index(all, struct mapcache_entry, i);
		g_autofree char *path = map_path(fs, &e->key);
		g_autofree char *line = g_strdup_printf("%s %zu %u %.1f\n", path, e->len,
							e->pins, (now - e->mapped_at) / 1e6);

		/* Room for this line and for "more N". */
		if (out->len + strlen(line) + 32 > room) {
			g_string_append_printf(out, "more %u\n", i);
			break;
		}
		g_string_append(out, line);
	}
	return 0;
}

/*
 * Runs one control command line (ctl.h) for req's caller: 0 with the
 * output in out, or a negative errno with the reason in out.  room is how
 * much of a reply the caller can take.
 */
static int ctl_run(fuse_req_t req, const char *line, GString *out, size_t room)
{
	struct mmapfs *fs = mmapfs_of(req);
	g_auto(GStrv) words = g_strsplit_set(line, " \t\n", -1);
	g_autoptr(GPtrArray) args = g_ptr_array_new();
	const char *cmd;

	for (int i = 0; words[i]; i++)
		if (words[i][0])
			g_ptr_array_add(args, words[i]);
	g_ptr_array_add(args, NULL);
	cmd = args->pdata[0];
	if (!cmd) {
		g_string_assign(out, "no command given");
		return -EINVAL;
	}
	if (!strcmp(cmd, "pid") && !args->pdata[1]) {
		g_string_printf(out, "pid %d\nsource %s\n", (int)getpid(), fs->opts->source);
		return 0;
	}
	if (!strcmp(cmd, "summary") && !args->pdata[1]) {
		struct stats_snapshot snap;
		g_autofree char *summary = NULL;

		mmapfs_stats_snapshot(fs, &snap);
		summary = stats_summary_line(&snap);
		g_string_printf(out, "%s\n", summary);
		return 0;
	}
	if (!strcmp(cmd, "limits"))
		return cmd_limits(fs, req, (char **)args->pdata + 1, out);
	if (!strcmp(cmd, "drop") && !args->pdata[1])
		return cmd_drop(fs, req, out);
	if (!strcmp(cmd, "maps"))
		return cmd_maps(fs, req, (char **)args->pdata + 1, out, room);
	g_string_printf(out, "unknown command or arguments '%s' (pid, summary, limits, "
			"drop, maps)", line);
	return -EINVAL;
}

/* A refused command is logged, with who asked and why. */
static int ctl_logged(fuse_req_t req, const char *line, GString *out, size_t room)
{
	int res = ctl_run(req, line, out, room);

	if (res < 0)
		log_info("control: refused '%s' from uid %u: %s", line,
			 (unsigned)fuse_req_ctx(req)->uid, out->str);
	return res;
}

bool mmapfs_ctl_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 const char *value, size_t size)
{
	g_autofree char *line = NULL;
	g_autoptr(GString) out = g_string_new(NULL);

	if (ino != FUSE_ROOT_ID || strcmp(name, MMAPFS_XATTR_CTL))
		return false;
	/* The older interface: its output goes nowhere but the log. */
	line = g_strstrip(g_strndup(value, size));
	mmapfs_reply_err(req, ctl_logged(req, line, out, MMAPFS_CTL_SIZE));
	return true;
}

void mmapfs_op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		     struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		     size_t in_bufsz, size_t out_bufsz)
{
	g_autoptr(GString) out = g_string_new(NULL);
	g_autofree char *line = NULL;
	g_autofree char *reply = NULL;
	int res;

	/* Any other ioctl, anywhere: what a filesystem without it answers. */
	if (ino != FUSE_ROOT_ID || cmd != MMAPFS_IOC_CTL ||
	    in_bufsz < MMAPFS_CTL_SIZE || out_bufsz < MMAPFS_CTL_SIZE) {
		mmapfs_reply_err(req, -ENOTTY);
		return;
	}
	line = g_strstrip(g_strndup(in_buf, MMAPFS_CTL_SIZE));
	res = ctl_logged(req, line, out, MMAPFS_CTL_SIZE - 64);
	reply = g_malloc0(MMAPFS_CTL_SIZE);
	if (res < 0)
		g_snprintf(reply, MMAPFS_CTL_SIZE, "error %s: %s\n",
			   strerrorname_np(-res), out->str);
	else
		g_snprintf(reply, MMAPFS_CTL_SIZE, "ok\n%s", out->str);
	fuse_reply_ioctl(req, 0, reply, MMAPFS_CTL_SIZE);
}
