/*
 * main.c - mmapfs: argument parsing, the cache mode and its watcher,
 * session set-up, signals (SIGUSR1: a summary), the loop.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmapfs/creds.h"
#include "mmapfs/inode.h"
#include "mmapfs/log.h"
#include "mmapfs/mapcache.h"
#include "mmapfs/ops.h"
#include "mmapfs/options.h"
#include "mmapfs/readahead.h"
#include "mmapfs/safecopy.h"
#include "mmapfs/watcher.h"

/*
 * Directories (and, without file handles, every known inode) hold a
 * descriptor: take every descriptor we may, up to fs.nr_open where the
 * hard limit may be raised.
 */
static void raise_nofile_limit(void)
{
	g_autofree char *text = NULL;
	struct rlimit rl, want;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	want = rl;
	if (g_file_get_contents("/proc/sys/fs/nr_open", &text, NULL, NULL))
		want.rlim_max = MAX(rl.rlim_max, (rlim_t)g_ascii_strtoull(text, NULL, 10));
	want.rlim_cur = want.rlim_max;
	/* Raising the hard limit needs CAP_SYS_RESOURCE: else the soft one. */
	if (setrlimit(RLIMIT_NOFILE, &want) < 0) {
		want.rlim_cur = want.rlim_max = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &want) < 0)
			log_warn("cannot raise the open file limit: %s",
				 g_strerror(errno));
	}
}

static unsigned long nofile_limit(void)
{
	struct rlimit rl;

	return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (unsigned long)rl.rlim_cur : 0;
}

static void print_version(void)
{
	printf("mmapfs %s\nlibfuse %s\n", MMAPFS_VERSION, fuse_pkgversion());
	fflush(stdout);     /* before fusermount3 prints its own version */
	fuse_lowlevel_version();
}

static void log_cache_summary(struct mapcache *maps, struct inode_table *t)
{
	struct mapcache_stats s;

	mapcache_get_stats(maps, &s);
	log_info("mapping cache: %" G_GUINT64_FORMAT " hits, %" G_GUINT64_FORMAT
		 " misses, %" G_GUINT64_FORMAT " mapped, %" G_GUINT64_FORMAT
		 " evicted, %" G_GUINT64_FORMAT " remapped, %" G_GUINT64_FORMAT
		 " dropped, %" G_GUINT64_FORMAT " read with pread; %lu SIGBUS recovered; %u inodes known",
		 s.hits, s.misses, s.created, s.evicted, s.remapped,
		 s.invalidated, s.refused + s.map_failures,
		 safecopy_recoveries(), inode_table_size(t));
}

/*
 * Resolves cache=auto and readdirplus=auto, starts the watcher for
 * cache=watched, and sets the timeout.  Returns false with *error set when
 * cache=watched was asked for and no watcher can start.
 */
static bool choose_cache(struct mmapfs *fs, GError **error)
{
	const struct mmapfs_options *opts = fs->opts;
	g_autofree char *why = NULL;
	const char *blind;
	int fd;

	fd = inode_fd(fs->inodes, inode_table_root(fs->inodes));
	blind = watcher_blind_fs(fd);
	inode_fd_put(inode_table_root(fs->inodes), fd);
	fs->cache = opts->cache;
	if (fs->cache == MMAPFS_CACHE_AUTO || fs->cache == MMAPFS_CACHE_WATCHED) {
		if (blind && fs->cache == MMAPFS_CACHE_AUTO) {
			why = g_strdup_printf("the source is on %s, whose changes made "
					      "elsewhere no watcher sees", blind);
			fs->cache = MMAPFS_CACHE_TIMEOUT;
		} else {
			fs->watcher = watcher_new((enum watcher_kind)opts->watcher,
						  fs->inodes, fs->maps, error);
			if (!fs->watcher && fs->cache == MMAPFS_CACHE_WATCHED)
				return false;
			if (!fs->watcher) {
				why = g_strdup((*error)->message);
				g_clear_error(error);
				fs->cache = MMAPFS_CACHE_TIMEOUT;
			} else {
				fs->cache = MMAPFS_CACHE_WATCHED;
				if (blind)
					log_warn("the source is on %s: changes made to it "
						 "elsewhere are not seen", blind);
			}
		}
	}
	if (opts->timeout >= 0)
		fs->timeout = opts->timeout;
	else
		fs->timeout = fs->cache == MMAPFS_CACHE_WATCHED ?
			MMAPFS_DEFAULT_WATCHED_TIMEOUT : MMAPFS_DEFAULT_TIMEOUT;
	if (fs->cache == MMAPFS_CACHE_NONE)
		fs->timeout = 0;
	/* A listing with attributes stats every entry: cheap on a local
	 * source, a round trip each on a network one; and with cache=none
	 * the kernel would keep none of it. */
	fs->readdirplus = opts->readdirplus;
	if (fs->readdirplus == MMAPFS_PLUS_AUTO)
		fs->readdirplus = blind || fs->cache == MMAPFS_CACHE_NONE ?
			MMAPFS_PLUS_ADAPTIVE : MMAPFS_PLUS_ALWAYS;
	if (fs->watcher)
		log_info("cache=watched: %s invalidates on changes outside the mount; "
			 "names and attributes cached for %g s",
			 watcher_name(fs->watcher), fs->timeout);
	else if (fs->cache == MMAPFS_CACHE_TIMEOUT)
		log_info("cache=timeout: names and attributes cached for %g s%s%s",
			 fs->timeout, why ? ", because " : "", why ? why : "");
	else
		log_info("cache=none: the kernel caches nothing");
	return true;
}

/*
 * SIGUSR1 writes a one-line summary to the log.  The signal is blocked in
 * every thread but this one, which waits for it; stop_summaries() wakes it
 * with the same signal and a flag.
 */
struct summaries {
	struct mmapfs *fs;
	pthread_t thread;
	gint stop;
};

static void *summaries_main(void *data)
{
	struct summaries *s = data;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	while (sigwait(&set, &sig) == 0 && !g_atomic_int_get(&s->stop)) {
		struct stats_snapshot snap;
		g_autofree char *line = NULL;

		mmapfs_stats_snapshot(s->fs, &snap);
		line = stats_summary_line(&snap);
		log_info("%s", line);
	}
	return NULL;
}

/* Blocks SIGUSR1 here (and so in every thread started later). */
static void start_summaries(struct summaries *s, struct mmapfs *fs)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	s->fs = fs;
	if (pthread_create(&s->thread, NULL, summaries_main, s) != 0) {
		log_warn("cannot start the SIGUSR1 thread: no summaries on SIGUSR1");
		s->fs = NULL;
	}
}

static void stop_summaries(struct summaries *s)
{
	if (!s->fs)
		return;
	g_atomic_int_set(&s->stop, 1);
	pthread_kill(s->thread, SIGUSR1);
	pthread_join(s->thread, NULL);
	s->fs = NULL;
}

/* Stops the threads that outlive requests (each logs what it did). */
static void stop_threads(struct mmapfs *fs, struct summaries *summaries)
{
	stop_summaries(summaries);
	if (fs->watcher) {
		guint64 handled, own;

		watcher_counts(fs->watcher, &handled, &own);
		log_info("%s: %" G_GUINT64_FORMAT " events from outside acted upon, %"
			 G_GUINT64_FORMAT " of the daemon's own skipped",
			 watcher_name(fs->watcher), handled, own);
		g_clear_pointer(&fs->watcher, watcher_free);
	}
	g_clear_pointer(&fs->pusher, pusher_free);
}

static int run_session(struct fuse_session *se, const struct mmapfs_options *opts)
{
	struct fuse_loop_config *cfg;
	int ret;

	if (opts->fuse.singlethread)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(cfg, opts->fuse.clone_fd);
	/* UINT_MAX means "not given": keep libfuse's defaults. */
	if (opts->fuse.max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, opts->fuse.max_idle_threads);
	if (opts->fuse.max_threads != UINT_MAX)
		fuse_loop_cfg_set_max_threads(cfg, opts->fuse.max_threads);
	ret = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return ret;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct mmapfs_options opts;
	struct mmapfs fs = { .opts = &opts };
	struct summaries summaries = { 0 };
	struct fuse_session *se = NULL;
	g_autoptr(GError) error = NULL;
	int ret = 1, res;

	switch (mmapfs_options_parse(&args, &opts, &error)) {
	case MMAPFS_PARSE_EXIT:
		if (opts.fuse.show_help)
			mmapfs_options_print_help(argv[0]);
		else
			print_version();
		ret = 0;
		goto out_args;
	case MMAPFS_PARSE_ERROR:
		fprintf(stderr, "mmapfs: %s\n", error->message);
		goto out_args;
	case MMAPFS_PARSE_OK:
		break;
	}
	mmapfs_log_set_level(opts.fuse.debug ? MMAPFS_LOG_DEBUG
					     : (enum mmapfs_log_level)opts.log_level);

	res = safecopy_init();
	if (res < 0) {
		log_error("cannot install the SIGBUS handler: %s", g_strerror(-res));
		goto out_args;
	}
	raise_nofile_limit();
	creds_init();
	/* The kernel applied the caller's umask to every mode it sends. */
	umask(0);
	fs.inodes = inode_table_new(opts.source, &error);
	if (!fs.inodes) {
		log_error("%s", error->message);
		goto out_args;
	}
	fs.maps = mapcache_new(opts.max_maps, opts.max_mapped);
	fs.page_size = (size_t)sysconf(_SC_PAGESIZE);
	pthread_mutex_init(&fs.handles_lock, NULL);
	fs.handles = g_hash_table_new(NULL, NULL);

	/* Rejects the FUSE options libfuse does not know, before mounting. */
	se = fuse_session_new(&args, &mmapfs_ops, sizeof(mmapfs_ops), &fs);
	if (!se)
		goto out_fs;
	if (!choose_cache(&fs, &error)) {
		log_error("cache=watched: %s", error->message);
		goto out_session;
	}
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	log_info("mounted '%s' on '%s' (max_maps=%u, max_mapped=%" G_GUINT64_FORMAT ")",
		 opts.source, opts.mountpoint, opts.max_maps, opts.max_mapped);
	/* Before the loop answers INIT, which takes the smaller window. */
	if (opts.readahead) {
		res = readahead_set(opts.mountpoint, opts.readahead);
		if (res < 0)
			log_info("readahead stays at the kernel's default: %s",
				 g_strerror(-res));
	}
	if (!inode_table_uses_handles(fs.inodes))
		log_info("files are reached by descriptor (no file handles here): "
			 "at most about %lu inodes can be known at once",
			 nofile_limit());

	/* Returns in the parent only once the child is ready to serve. */
	if (fuse_daemonize(opts.fuse.foreground) != 0) {
		fuse_session_unmount(se);
		goto out_signals;
	}
	if (!opts.fuse.foreground)
		mmapfs_log_use_syslog();
	/* Threads start after the fork that daemonizing made. */
	fs.stats.started_us = g_get_monotonic_time();
	start_summaries(&summaries, &fs);
	if ((opts.push || opts.push_files) && fs.cache != MMAPFS_CACHE_NONE)
		fs.pusher = pusher_new(se, fs.inodes, fs.maps, opts.push,
				       opts.push_files);
	if (fs.watcher)
		watcher_start(fs.watcher, se);
	res = run_session(se, &opts);
	ret = res < 0 ? 1 : 0;
	/* Nothing may notify or store through the session once it starts to
	 * go: the watcher and the pusher stop first. */
	stop_threads(&fs, &summaries);
	fuse_session_unmount(se);
	log_info("unmounted '%s'", opts.mountpoint);
	log_cache_summary(fs.maps, fs.inodes);

out_signals:
	stop_threads(&fs, &summaries);
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_fs:
	g_clear_pointer(&fs.watcher, watcher_free);
	g_clear_pointer(&fs.handles, g_hash_table_unref);
	mapcache_free(fs.maps);
	inode_table_free(fs.inodes);
out_args:
	mmapfs_options_clear(&opts);
	fuse_opt_free_args(&args);
	return ret;
}
