/*
 * mount.c - see include/mmapfs/mount.h.
 *
 * Also the handle registry of struct mmapfs (ops.h): every open file and
 * directory handle given to the kernel, freed at the end if the kernel
 * never released it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mmapfs/creds.h"
#include "mmapfs/deferred.h"
#include "mmapfs/fstype.h"
#include "mmapfs/log.h"
#include "mmapfs/mount.h"
#include "mmapfs/mountinfo.h"
#include "mmapfs/ops.h"
#include "mmapfs/policy.h"
#include "mmapfs/readahead.h"
#include "mmapfs/safecopy.h"

/* Opens that may wait for a lease's break at once, beyond the loop's. */
#define DEFERRED_THREADS 64

void mmapfs_handle_track(struct mmapfs *fs, void *handle, GDestroyNotify free_fn)
{
	pthread_mutex_lock(&fs->handles_lock);
	g_hash_table_insert(fs->handles, handle, free_fn);
	pthread_mutex_unlock(&fs->handles_lock);
}

void mmapfs_handle_untrack(struct mmapfs *fs, void *handle)
{
	pthread_mutex_lock(&fs->handles_lock);
	g_hash_table_remove(fs->handles, handle);
	pthread_mutex_unlock(&fs->handles_lock);
}

void mmapfs_handles_free_all(struct mmapfs *fs)
{
	GHashTableIter it;
	gpointer handle, free_fn;

	g_hash_table_iter_init(&it, fs->handles);
	while (g_hash_table_iter_next(&it, &handle, &free_fn)) {
		((GDestroyNotify)free_fn)(handle);
		g_hash_table_iter_remove(&it);
	}
}

/*
 * Open files hold a descriptor each, and the directory cache an eighth of
 * the limit (inode.h): take every descriptor we may, up to fs.nr_open
 * where the hard limit may be raised.
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

/* What the whole process needs before a mount: false if it cannot go on. */
static bool prepare_process(const struct mmapfs_cmdline *cl)
{
	int res;

	mmapfs_log_set_level(cl->fuse.debug ? MMAPFS_LOG_DEBUG
					    : (enum mmapfs_log_level)cl->opts.log_level);
	if (cl->opts.log_file && (res = mmapfs_log_use_file(cl->opts.log_file)) < 0) {
		log_error("cannot open log file '%s': %s", cl->opts.log_file,
			  g_strerror(-res));
		return false;
	}
	res = safecopy_init();
	if (res < 0) {
		log_error("cannot install the SIGBUS handler: %s", g_strerror(-res));
		return false;
	}
	raise_nofile_limit();
	creds_init();
	/* The kernel applied the caller's umask to every mode it sends. */
	umask(0);
	return true;
}

/* Builds fs's tables over opts->source; false (logged) on failure. */
static bool fs_open(struct mmapfs *fs, const struct mmapfs_options *opts)
{
	g_autoptr(GError) error = NULL;

	*fs = (struct mmapfs){ .opts = opts };
	fs->inodes = inode_table_new(opts->source, NULL, &error);
	if (!fs->inodes) {
		log_error("%s", error->message);
		return false;
	}
	fs->maps = mapcache_new(opts->max_maps, opts->max_mapped);
	fs->initext = initext_new();
	if (opts->passthrough != MMAPFS_PT_OFF)
		fs->passthrough = passthrough_new(opts->passthrough);
	pthread_mutex_init(&fs->handles_lock, NULL);
	fs->handles = g_hash_table_new(NULL, NULL);
	return true;
}

/* Frees what fs_open() built.  No request runs, no thread is left. */
static void fs_close(struct mmapfs *fs)
{
	if (!fs->inodes)
		return;
	g_clear_pointer(&fs->watcher, watcher_free);
	g_clear_pointer(&fs->handles, g_hash_table_unref);
	pthread_mutex_destroy(&fs->handles_lock);
	mapcache_free(fs->maps);
	g_clear_pointer(&fs->fds, fdcache_free);
	g_clear_pointer(&fs->passthrough, passthrough_free);
	g_clear_pointer(&fs->initext, initext_free);
	inode_table_free(fs->inodes);
	fs->inodes = NULL;
}

/*
 * Where reopens may take kept descriptors (policy.h), makes the cache of
 * them: at most half the descriptors the process may hold (an eighth goes
 * to the directory cache, inode.h; the rest to open files, of which a
 * reopen from a kept descriptor takes none; and when they run out, kept
 * ones are given back, ops.h), and 16384.
 */
static void keep_descriptors(struct mmapfs *fs)
{
	double window = policy_reopen_window(fs->opts, fs->cache, fs->blind);
	unsigned long budget = MIN(nofile_limit() / 2, 16384);

	if (window < 0 || budget == 0)
		return;
	fs->fds_budget = (unsigned)budget;
	fs->fds = fdcache_new(fs->fds_budget, (gint64)(window * G_USEC_PER_SEC));
	log_info("reopens of up to %lu files take the descriptor kept from their "
		 "last open (as is for %g s, then after a stat)", budget, window);
}

/*
 * Chooses the cache mode (policy.h), starting the watcher it wants, and
 * sets up the read engine to match.  False (logged) when cache=watched was
 * asked for and no watcher can start.
 */
static bool choose_cache(struct mmapfs *fs)
{
	const struct mmapfs_options *opts = fs->opts;
	struct inode *root = inode_table_root(fs->inodes);
	g_autoptr(GError) watcher_error = NULL, error = NULL;
	struct mmapfs_policy pol;
	const char *blind;
	int fd;

	fd = inode_fd(fs->inodes, root);
	blind = fs->blind = fstype_blind(fd);
	inode_fd_put(fs->inodes, root, fd);
	if (policy_wants_watcher(opts, blind))
		fs->watcher = watcher_new(opts->watcher, fs->inodes, fs->maps,
					  &watcher_error);
	if (!policy_choose(opts, blind, fs->watcher != NULL,
			   watcher_error ? watcher_error->message : NULL, &pol, &error)) {
		log_error("%s", error->message);
		return false;
	}
	fs->cache = pol.cache;
	fs->timeout = pol.timeout;
	fs->readdirplus = pol.readdirplus;
	fs->writeback = pol.writeback;
	keep_descriptors(fs);
	fs->reader = (struct reader){
		.inodes = fs->inodes, .maps = fs->maps, .fds = fs->fds,
		.page_size = (size_t)sysconf(_SC_PAGESIZE),
		.pread_only = fs->cache == MMAPFS_CACHE_NONE,
	};
	if (pol.warning)
		log_warn("%s", pol.warning);
	if (fs->watcher)
		log_info("cache=watched: %s (%s) invalidates on changes outside "
			 "the mount; names and attributes cached for %g s",
			 watcher_name(fs->watcher), watcher_marks(fs->watcher),
			 fs->timeout);
	else if (fs->cache == MMAPFS_CACHE_TIMEOUT)
		log_info("cache=timeout: names and attributes cached for %g s%s%s",
			 fs->timeout, pol.reason ? ", because " : "",
			 pol.reason ? pol.reason : "");
	else
		log_info("cache=none: the kernel caches nothing");
	policy_clear(&pol);
	return true;
}

/*
 * Every message to and from the device, for initext.h: libfuse's own
 * reading and writing, seen first.  The splice hooks are there because
 * libfuse 3.14 gives up splicing on a session with custom I/O that has
 * none.
 *
 * A read that took a request just as the connection went down (an unmount,
 * or an abort through fusectl, racing a request in flight) fails with
 * ECONNABORTED rather than ENODEV (fuse_dev_do_read(): the request was
 * taken before its queue was shut); either way the connection is gone, and
 * libfuse ends the loop cleanly only on ENODEV (with ECONNABORTED it said
 * "reading device" and the daemon exited 1 after a clean unmount: seen
 * under ASan, test_network's kept-given-back, 1 run in 3).  The read and
 * splice hooks report it as ENODEV.
 */
static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = initext_io_read(((struct mmapfs *)userdata)->initext, fd, buf, len);

	if (n < 0 && errno == ECONNABORTED)
		errno = ENODEV;
	return n;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	return initext_io_writev(((struct mmapfs *)userdata)->initext, fd, iov, count);
}

static ssize_t io_splice(int fdin, off_t *offin, int fdout, off_t *offout,
			 size_t len, unsigned int flags, void *userdata)
{
	ssize_t n = splice(fdin, offin, fdout, offout, len, flags);

	(void)userdata;
	if (n < 0 && errno == ECONNABORTED)     /* as in io_read() */
		errno = ENODEV;
	return n;
}

static const struct fuse_custom_io initext_io = {
	.read = io_read,
	.writev = io_writev,
	.splice_receive = io_splice,
	.splice_send = io_splice,
};

/* Mounts se at opts->mountpoint and raises its readahead window. */
static bool mount_session(struct fuse_session *se, struct mmapfs *fs)
{
	const struct mmapfs_options *opts = fs->opts;
	struct mountinfo_entry below;
	int res;

	/* Allowed (FUSE mounts stack), but whatever was there is hidden. */
	if (mountinfo_find(opts->mountpoint, NULL, &below))
		log_warn("mount point '%s' is a %s mount already: mounting over it "
			 "hides it until this mount goes", opts->mountpoint, below.fstype);
	if (fuse_session_mount(se, opts->mountpoint) != 0)
		return false;
	/* Before the loop reads INIT: the same device, read through us.
	 * Without it, what libfuse 3.14 negotiates is all there is. */
	if ((res = fuse_session_custom_io(se, &initext_io, fuse_session_fd(se))) < 0) {
		log_warn("cannot see the session's messages (%s): no passthrough, and "
			 "set-ID bits checked by the kernel before every write",
			 g_strerror(-res));
		g_clear_pointer(&fs->passthrough, passthrough_free);
		g_clear_pointer(&fs->initext, initext_free);
	} else if (fs->passthrough) {
		passthrough_set_device(fs->passthrough, fuse_session_fd(se));
	}
	log_info("mounted '%s' on '%s' (max_maps=%u, max_mapped=%" G_GUINT64_FORMAT ")",
		 opts->source, opts->mountpoint, opts->max_maps, opts->max_mapped);
	/* Before the loop answers INIT, which takes the smaller window. */
	if (opts->readahead) {
		res = readahead_set(opts->mountpoint, opts->readahead);
		if (res < 0)
			log_info("readahead stays at the kernel's default: %s",
				 g_strerror(-res));
	}
	{
		unsigned budget;

		inode_table_dir_fds(fs->inodes, &budget);
		log_info("inodes are reached by %s; at most %u directory "
			 "descriptors are kept open (limit %lu)",
			 inode_table_uses_handles(fs->inodes) ? "file handle"
			 : "name (no file handles here: renames outside the mount "
			   "are seen once the new name is looked up)",
			 budget, nofile_limit());
	}
	return true;
}

/*
 * The signals the daemon acts on, all taken by one thread with sigwait()
 * (blocked in every other): SIGUSR1 writes a one-line summary to the log;
 * SIGTERM, SIGINT and SIGHUP first have the kernel write back what it
 * still caches for the mount (pages of a shared mapping written and not
 * yet synced: syncfs() on the mount, served by the loop's workers as
 * usual), for at most FLUSH_SECONDS, and only then end the loop, waking
 * the thread that runs it with SIGUSR2.  stop_signals() wakes this thread
 * with SIGUSR1 and a flag.
 */
#define FLUSH_SECONDS 10

struct signals {
	struct mmapfs *fs;      /* NULL: not running */
	struct fuse_session *se;
	pthread_t thread;
	pthread_t loop;         /* the thread that runs the session loop */
	gint stop;              /* (atomic) */
};

/* The statistics' one-line summary (stats.h), to the log. */
static void log_summary(struct mmapfs *fs)
{
	struct stats_snapshot snap;
	g_autofree char *line = NULL;

	mmapfs_stats_snapshot(fs, &snap);
	line = stats_summary_line(&snap);
	log_info("%s", line);
}

/* A flush that may outlast its waiter: whoever finishes last frees it. */
struct flush {
	pthread_mutex_t lock;
	pthread_cond_t done_cond;
	bool done;              /* protected by lock */
	int refs;               /* protected by lock */
	int res;                /* protected by lock */
	char *mountpoint;       /* immutable */
};

static void flush_unref(struct flush *f)
{
	bool last;

	pthread_mutex_lock(&f->lock);
	last = --f->refs == 0;
	pthread_mutex_unlock(&f->lock);
	if (!last)
		return;
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->done_cond);
	g_free(f->mountpoint);
	g_free(f);
}

static void *flush_main(void *data)
{
	struct flush *f = data;
	int fd = open(f->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int res = fd < 0 || syncfs(fd) < 0 ? -errno : 0;

	if (fd >= 0)
		close(fd);
	pthread_mutex_lock(&f->lock);
	f->res = res;
	f->done = true;
	pthread_cond_signal(&f->done_cond);
	pthread_mutex_unlock(&f->lock);
	flush_unref(f);
	return NULL;
}

/*
 * syncfs() returns with the last pages' WRITEs possibly still on their
 * way: the kernel waits for those only on a daemon that answers
 * FUSE_SYNCFS, which libfuse 3.14 cannot.  So: until no WRITE has been
 * answered for SETTLE_MS (at most FLUSH_SECONDS).
 */
#define SETTLE_MS 100

static void wait_writes_settle(struct mmapfs *fs)
{
	guint64 *writes = &fs->stats.ops[STATS_WRITE].requests;
	gint64 end = g_get_monotonic_time() + FLUSH_SECONDS * G_USEC_PER_SEC;
	gint64 quiet_since = g_get_monotonic_time();
	guint64 seen = __atomic_load_n(writes, __ATOMIC_RELAXED);

	while (g_get_monotonic_time() < end &&
	       g_get_monotonic_time() - quiet_since < SETTLE_MS * 1000) {
		guint64 now;

		g_usleep(10000);
		now = __atomic_load_n(writes, __ATOMIC_RELAXED);
		if (now != seen) {
			seen = now;
			quiet_since = g_get_monotonic_time();
		}
	}
}

/* Has the kernel write back the mount's cached writes; false (logged) if
 * that failed or took longer than FLUSH_SECONDS. */
static bool flush_mount(struct mmapfs *fs)
{
	struct flush *f = g_new0(struct flush, 1);
	struct timespec deadline;
	pthread_t t;
	bool done;
	int res;

	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->done_cond, NULL);
	f->refs = 2;
	f->mountpoint = g_strdup(fs->opts->mountpoint);
	if (pthread_create(&t, NULL, flush_main, f) != 0) {
		flush_unref(f);
		flush_unref(f);
		log_warn("cannot start the flush before exit: cached writes may be lost");
		return false;
	}
	pthread_detach(t);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += FLUSH_SECONDS;
	pthread_mutex_lock(&f->lock);
	while (!f->done &&
	       pthread_cond_timedwait(&f->done_cond, &f->lock, &deadline) == 0)
		;
	done = f->done;
	res = f->res;
	pthread_mutex_unlock(&f->lock);
	flush_unref(f);
	if (!done)
		log_warn("the kernel's cached writes did not reach SOURCE within %d s: "
			 "stopping without them", FLUSH_SECONDS);
	else if (res < 0)
		log_warn("cannot flush the kernel's cached writes before stopping: %s",
			 g_strerror(-res));
	else
		wait_writes_settle(fs);
	return done && res == 0;
}

static void *signals_main(void *data)
{
	struct signals *s = data;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	while (sigwait(&set, &sig) == 0 && !g_atomic_int_get(&s->stop)) {
		if (sig == SIGUSR1) {
			log_summary(s->fs);
			continue;
		}
		flush_mount(s->fs);
		fuse_session_exit(s->se);
		pthread_kill(s->loop, SIGUSR2);
		break;
	}
	return NULL;
}

/* SIGUSR2 only interrupts the loop's wait, which then sees it must end. */
static void wake_loop(int sig)
{
	(void)sig;
}

/* Blocks the signals here (and so in every thread started later), and
 * starts the thread that takes them; the caller runs the loop. */
static void start_signals(struct signals *s, struct mmapfs *fs,
			  struct fuse_session *se)
{
	struct sigaction wake = { .sa_handler = wake_loop };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaction(SIGUSR2, &wake, NULL);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	s->fs = fs;
	s->se = se;
	s->loop = pthread_self();
	if (pthread_create(&s->thread, NULL, signals_main, s) != 0) {
		/* Back to libfuse's handlers: no summaries, no flush. */
		log_warn("cannot start the signal thread: no summaries on SIGUSR1, "
			 "and no flush before exit");
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		s->fs = NULL;
	}
}

static void stop_signals(struct signals *s)
{
	if (!s->fs)
		return;
	g_atomic_int_set(&s->stop, 1);
	pthread_kill(s->thread, SIGUSR1);
	pthread_join(s->thread, NULL);
	s->fs = NULL;
}

/* Starts the threads that outlive requests, in the process that serves. */
static void start_threads(struct mmapfs *fs, struct fuse_session *se,
			  struct signals *signals)
{
	const struct mmapfs_options *opts = fs->opts;

	fs->stats.started_us = g_get_monotonic_time();
	start_signals(signals, fs, se);
	fs->deferred = deferred_new(DEFERRED_THREADS);
	if (policy_pushes(opts, fs->cache, fs->blind))
		fs->pusher = pusher_new(se, fs->inodes, fs->maps, opts->push,
					policy_push_files(opts, fs->blind),
					policy_push_at_open(opts, fs->blind));
	else if (opts->writeback)
		log_info("-o writeback: nothing is pushed into the kernel's cache "
			 "(a store would overwrite pages not yet written back)");
	if (fs->watcher)
		watcher_start(fs->watcher, se, fs->writeback);
}

/*
 * Stops them (each logs what it did).  Nothing may notify or store through
 * the session once it starts to go: this runs before the unmount.
 */
static void stop_threads(struct mmapfs *fs, struct signals *signals)
{
	stop_signals(signals);
	if (fs->watcher) {
		guint64 handled, own;

		watcher_counts(fs->watcher, &handled, &own);
		log_info("%s: %" G_GUINT64_FORMAT " events from outside acted upon, %"
			 G_GUINT64_FORMAT " of the daemon's own skipped",
			 watcher_name(fs->watcher), handled, own);
		g_clear_pointer(&fs->watcher, watcher_free);
	}
	g_clear_pointer(&fs->pusher, pusher_free);
	/* Each waits at most for a lease's break. */
	g_clear_pointer(&fs->deferred, deferred_free);
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

static int run_loop(struct fuse_session *se, const struct fuse_cmdline_opts *o)
{
	struct fuse_loop_config *cfg;
	int ret;

	if (o->singlethread)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(cfg, o->clone_fd);
	/* UINT_MAX means "not given": keep libfuse's defaults. */
	if (o->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, o->max_idle_threads);
	if (o->max_threads != UINT_MAX)
		fuse_loop_cfg_set_max_threads(cfg, o->max_threads);
	ret = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return ret;
}

/* Detaches, serves until the mount goes, and unmounts; the exit status. */
static int serve_mounted(struct mmapfs *fs, struct fuse_session *se,
			 const struct fuse_cmdline_opts *fuse)
{
	struct signals signals = { 0 };
	int res;

	/* Said while stderr still reaches someone. */
	if (!fuse->foreground && !mmapfs_log_has_destination() &&
	    !mmapfs_log_syslog_reachable())
		log_warn("no syslog listens at /dev/log: once detached, the daemon's "
			 "messages are lost (use -o log_file=PATH, or -f)");
	/* Returns in the parent only once the child is ready to serve. */
	if (fuse_daemonize(fuse->foreground) != 0) {
		fuse_session_unmount(se);
		return 1;
	}
	if (!fuse->foreground) {
		mmapfs_log_use_syslog();
		log_info("detached: pid %d serves '%s'", (int)getpid(),
			 fs->opts->mountpoint);
	}
	/* Threads start after the fork that daemonizing made. */
	start_threads(fs, se, &signals);
	res = run_loop(se, fuse);
	stop_threads(fs, &signals);
	fuse_session_unmount(se);
	log_info("unmounted '%s'", fs->opts->mountpoint);
	log_cache_summary(fs->maps, fs->inodes);
	log_summary(fs);
	return res < 0 ? 1 : 0;
}

int mmapfs_serve(const struct mmapfs_cmdline *cl, struct fuse_args *args)
{
	struct mmapfs fs = { 0 };
	struct fuse_session *se = NULL;
	int ret = 1;

	if (!prepare_process(cl) || !fs_open(&fs, &cl->opts))
		goto out;
	/* Rejects the FUSE options libfuse does not know, before mounting. */
	se = fuse_session_new(args, &mmapfs_ops, sizeof(mmapfs_ops), &fs);
	if (!se)
		goto out;
	fs.se = se;
	if (!choose_cache(&fs) || fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (mount_session(se, &fs))
		ret = serve_mounted(&fs, se, &cl->fuse);
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out:
	fs_close(&fs);
	return ret;
}
