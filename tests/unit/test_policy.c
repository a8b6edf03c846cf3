/*
 * test_policy.c - the cache mode, timeout, listing mode and passthrough mode
 * chosen for each combination of options and source (policy.h), case by
 * case.
 */
#include <string.h>

#include <glib.h>

#include "mmapfs/policy.h"

struct choice {
	const char *opts;       /* -o words, comma-separated, or "" */
	const char *blind;      /* the source's filesystem, NULL: local */
	bool tries_watcher;     /* policy_wants_watcher() */
	bool watcher_starts;    /* the outcome of that try */
	bool ok;
	enum mmapfs_cache_mode cache;
	double timeout;
	enum mmapfs_readdirplus readdirplus;
	const char *reason;     /* a substring, or NULL: none */
};

static const struct choice cases[] = {
	/* The default on a local source: watched, 60 s, every listing plus. */
	{ "", NULL, true, true, true, MMAPFS_CACHE_WATCHED, 60,
	  MMAPFS_PLUS_ALWAYS, NULL },
	/* auto on a FUSE source: timeout, said why, listings adaptive. */
	{ "", "fuse", false, false, true, MMAPFS_CACHE_TIMEOUT, 1,
	  MMAPFS_PLUS_ADAPTIVE, "the source is on fuse" },
	{ "cache=auto", "nfs", false, false, true, MMAPFS_CACHE_TIMEOUT, 1,
	  MMAPFS_PLUS_ADAPTIVE, "nfs" },
	/* auto where no watcher starts: timeout, with the watcher's reason. */
	{ "", NULL, true, false, true, MMAPFS_CACHE_TIMEOUT, 1,
	  MMAPFS_PLUS_ALWAYS, "no watcher here" },
	/* watched asked for and impossible: an error, not a fallback. */
	{ "cache=watched", NULL, true, false, false, 0, 0, 0, NULL },
	/* watched asked for on a blind source: tried, kept, warned. */
	{ "cache=watched", "nfs", true, true, true, MMAPFS_CACHE_WATCHED, 60,
	  MMAPFS_PLUS_ADAPTIVE, NULL },
	{ "cache=timeout", NULL, false, false, true, MMAPFS_CACHE_TIMEOUT, 1,
	  MMAPFS_PLUS_ALWAYS, NULL },
	{ "cache=timeout,timeout=600", "fuse", false, false, true,
	  MMAPFS_CACHE_TIMEOUT, 600, MMAPFS_PLUS_ADAPTIVE, NULL },
	{ "timeout=5", NULL, true, true, true, MMAPFS_CACHE_WATCHED, 5,
	  MMAPFS_PLUS_ALWAYS, NULL },
	/* none: nothing cached, whatever timeout says; listings adaptive. */
	{ "cache=none,timeout=30", NULL, false, false, true, MMAPFS_CACHE_NONE, 0,
	  MMAPFS_PLUS_ADAPTIVE, NULL },
	{ "cache=none,readdirplus=always", NULL, false, false, true,
	  MMAPFS_CACHE_NONE, 0, MMAPFS_PLUS_ALWAYS, NULL },
	{ "readdirplus=off", NULL, true, true, true, MMAPFS_CACHE_WATCHED, 60,
	  MMAPFS_PLUS_OFF, NULL },
	{ "readdirplus=adaptive", NULL, true, true, true, MMAPFS_CACHE_WATCHED, 60,
	  MMAPFS_PLUS_ADAPTIVE, NULL },
};

static void parse_opts(const char *words, struct mmapfs_options *o)
{
	g_auto(GStrv) list = g_strsplit(words, ",", -1);

	mmapfs_options_init(o);
	for (int i = 0; list[i]; i++)
		if (list[i][0])
			g_assert_cmpint(mmapfs_option_set(o, list[i], NULL), !=,
					MMAPFS_OPTION_INVALID);
}

static void test_choose(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		const struct choice *c = &cases[i];
		struct mmapfs_options o;
		struct mmapfs_policy p;
		GError *error = NULL;
		gboolean ok;

		g_test_message("-o '%s' on %s", c->opts, c->blind ? c->blind : "local");
		parse_opts(c->opts, &o);
		g_assert_cmpint(policy_wants_watcher(&o, c->blind), ==, c->tries_watcher);
		ok = policy_choose(&o, c->blind, c->watcher_starts,
				   c->tries_watcher && !c->watcher_starts ?
				   "no watcher here" : NULL, &p, &error);
		g_assert_cmpint(ok, ==, c->ok);
		if (!ok) {
			g_assert_nonnull(error);
			g_assert_nonnull(strstr(error->message, "cache=watched"));
			g_assert_nonnull(strstr(error->message, "no watcher here"));
			g_clear_error(&error);
			continue;
		}
		g_assert_no_error(error);
		g_assert_cmpint(p.cache, ==, c->cache);
		g_assert_cmpfloat(p.timeout, ==, c->timeout);
		g_assert_cmpint(p.readdirplus, ==, c->readdirplus);
		if (c->reason)
			g_assert_nonnull(strstr(p.reason, c->reason));
		else
			g_assert_null(p.reason);
		/* Watched over a blind source is the one case warned about. */
		g_assert_cmpint(p.warning != NULL, ==,
				c->blind && p.cache == MMAPFS_CACHE_WATCHED);
		policy_clear(&p);
	}
}

/* -o writeback: kept with cache=watched, refused with what it cannot go
 * with, the error naming it. */
static void test_writeback(void)
{
	static const struct {
		const char *opts;
		const char *blind;
		bool watcher_starts;
		const char *error;      /* a substring, or NULL: accepted */
	} cases[] = {
		{ "writeback", NULL, true, NULL },
		{ "writeback,cache=watched", "nfs", true, NULL },
		{ "writeback,passthrough=off", NULL, true, NULL },
		{ "writeback,ro", NULL, true, "read-only" },
		{ "writeback,cache=none", NULL, false, "cache=none" },
		{ "writeback,passthrough=rw", NULL, true, "passthrough=rw" },
		{ "writeback,passthrough=ro", NULL, true, "passthrough=ro" },
		{ "writeback,cache=timeout", NULL, false, "cache mode is timeout" },
		/* auto falling back: refused, and why the fallback says. */
		{ "writeback", "fuse", false, "the source is on fuse" },
		{ "writeback", NULL, false, "no watcher here" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct mmapfs_options o;
		struct mmapfs_policy p;
		GError *error = NULL;
		gboolean ok;

		g_test_message("-o '%s' on %s", cases[i].opts,
			       cases[i].blind ? cases[i].blind : "local");
		parse_opts(cases[i].opts, &o);
		ok = policy_choose(&o, cases[i].blind, cases[i].watcher_starts,
				   policy_wants_watcher(&o, cases[i].blind) &&
				   !cases[i].watcher_starts ? "no watcher here" : NULL,
				   &p, &error);
		if (cases[i].error) {
			g_assert_false(ok);
			g_assert_nonnull(strstr(error->message, "-o writeback"));
			g_assert_nonnull(strstr(error->message, cases[i].error));
			g_clear_error(&error);
			continue;
		}
		g_assert_true(ok);
		g_assert_true(p.writeback);
		g_assert_cmpint(p.cache, ==, MMAPFS_CACHE_WATCHED);
		policy_clear(&p);
	}
}

static void test_no_open(void)
{
	struct mmapfs_options o;

	parse_opts("ro", &o);
	g_assert_true(policy_no_open(&o, MMAPFS_CACHE_WATCHED, true, true));
	/* Without root, only the kernel's permission checks make it safe. */
	g_assert_false(policy_no_open(&o, MMAPFS_CACHE_WATCHED, false, true));
	g_assert_false(policy_no_open(&o, MMAPFS_CACHE_WATCHED, true, false));
	/* cache=timeout: only where the user chose the window. */
	g_assert_false(policy_no_open(&o, MMAPFS_CACHE_TIMEOUT, true, true));
	g_assert_false(policy_no_open(&o, MMAPFS_CACHE_NONE, true, true));
	parse_opts("ro,timeout=600", &o);
	g_assert_true(policy_no_open(&o, MMAPFS_CACHE_TIMEOUT, true, true));
	g_assert_true(policy_no_open(&o, MMAPFS_CACHE_WATCHED, true, true));
	g_assert_false(policy_no_open(&o, MMAPFS_CACHE_NONE, true, true));
	g_assert_false(policy_no_open(&o, MMAPFS_CACHE_TIMEOUT, false, true));
	parse_opts("ro,allow_other", &o);
	g_assert_true(policy_no_open(&o, MMAPFS_CACHE_WATCHED, false, true));
	parse_opts("", &o);
	g_assert_false(policy_no_open(&o, MMAPFS_CACHE_WATCHED, true, true));
}

/* policy_reopen_window(): only on a blind source, with cache=timeout. */
static void test_reopen_window(void)
{
	struct mmapfs_options o;

	parse_opts("", &o);
	g_assert_cmpfloat(policy_reopen_window(&o, MMAPFS_CACHE_TIMEOUT, NULL), ==, -1);
	g_assert_cmpfloat(policy_reopen_window(&o, MMAPFS_CACHE_WATCHED, "fuse"), ==, -1);
	g_assert_cmpfloat(policy_reopen_window(&o, MMAPFS_CACHE_NONE, "nfs"), ==, -1);
	/* No window given: a stat before every reuse. */
	g_assert_cmpfloat(policy_reopen_window(&o, MMAPFS_CACHE_TIMEOUT, "fuse"), ==, 0);
	parse_opts("timeout=600", &o);
	g_assert_cmpfloat(policy_reopen_window(&o, MMAPFS_CACHE_TIMEOUT, "nfs"), ==, 600);
	g_assert_cmpfloat(policy_reopen_window(&o, MMAPFS_CACHE_TIMEOUT, NULL), ==, -1);
	parse_opts("ro,timeout=0.5", &o);
	g_assert_cmpfloat(policy_reopen_window(&o, MMAPFS_CACHE_TIMEOUT, "fuse"), ==, 0.5);
}

/* policy_passthrough(): the mode in force, and why not, case by case. */
static void test_passthrough(void)
{
	struct mmapfs_options o;
	const char *why;

	parse_opts("", &o);
	g_assert_cmpint(policy_passthrough(&o, MMAPFS_CACHE_WATCHED, NULL, true, true, false, &why),
			==, MMAPFS_PT_AUTO);
	g_assert_null(why);
	g_assert_cmpint(policy_passthrough(&o, MMAPFS_CACHE_WATCHED, NULL, false, true, false, &why),
			==, MMAPFS_PT_OFF);
	g_assert_nonnull(strstr(why, "root"));
	g_assert_cmpint(policy_passthrough(&o, MMAPFS_CACHE_WATCHED, NULL, true, false, false, &why),
			==, MMAPFS_PT_OFF);
	g_assert_nonnull(strstr(why, "does not offer"));
	g_assert_cmpint(policy_passthrough(&o, MMAPFS_CACHE_NONE, NULL, true, true, false, &why),
			==, MMAPFS_PT_OFF);
	g_assert_nonnull(strstr(why, "cache=none"));
	/* auto leaves a no-open mount be; an explicit mode does not. */
	g_assert_cmpint(policy_passthrough(&o, MMAPFS_CACHE_WATCHED, NULL, true, true, true, &why),
			==, MMAPFS_PT_OFF);
	g_assert_nonnull(strstr(why, "without opening"));
	/* auto leaves a network or FUSE source to the mappings; rw does not. */
	g_assert_cmpint(policy_passthrough(&o, MMAPFS_CACHE_TIMEOUT, "fuse", true, true, false, &why),
			==, MMAPFS_PT_OFF);
	g_assert_nonnull(strstr(why, "network or FUSE"));
	parse_opts("passthrough=ro", &o);
	g_assert_cmpint(policy_passthrough(&o, MMAPFS_CACHE_WATCHED, NULL, true, true, true, &why),
			==, MMAPFS_PT_RO);
	g_assert_null(why);
	parse_opts("passthrough=rw", &o);
	g_assert_cmpint(policy_passthrough(&o, MMAPFS_CACHE_TIMEOUT, NULL, true, true, false, &why),
			==, MMAPFS_PT_RW);
	g_assert_cmpint(policy_passthrough(&o, MMAPFS_CACHE_TIMEOUT, "nfs", true, true, false, &why),
			==, MMAPFS_PT_RW);
	g_assert_cmpint(policy_passthrough(&o, MMAPFS_CACHE_NONE, NULL, true, true, false, &why),
			==, MMAPFS_PT_OFF);
	/* -o writeback: auto turns it off, and says why. */
	parse_opts("writeback", &o);
	g_assert_cmpint(policy_passthrough(&o, MMAPFS_CACHE_WATCHED, NULL, true, true, false, &why),
			==, MMAPFS_PT_OFF);
	g_assert_nonnull(strstr(why, "writeback"));
	/* Off is off, with nothing to say. */
	parse_opts("passthrough=off", &o);
	g_assert_cmpint(policy_passthrough(&o, MMAPFS_CACHE_WATCHED, NULL, false, false, false, &why),
			==, MMAPFS_PT_OFF);
	g_assert_null(why);
}

static void test_pushes(void)
{
	struct mmapfs_options o;

	parse_opts("", &o);
	g_assert_true(policy_pushes(&o, MMAPFS_CACHE_WATCHED, NULL));
	g_assert_false(policy_pushes(&o, MMAPFS_CACHE_NONE, NULL));
	g_assert_cmpuint(policy_push_files(&o, NULL), ==, o.push_files);
	g_assert_cmpuint(o.push_files, >, 0);
	g_assert_cmpuint(policy_push_at_open(&o, NULL), ==, 0);
	/* A network or FUSE source: no file pushed at listings, but at
	 * opens; windows are. */
	g_assert_cmpuint(policy_push_files(&o, "fuse"), ==, 0);
	g_assert_cmpuint(policy_push_at_open(&o, "fuse"), ==, o.push_files);
	g_assert_true(policy_pushes(&o, MMAPFS_CACHE_TIMEOUT, "fuse"));
	parse_opts("push=0,push_files=0", &o);
	g_assert_false(policy_pushes(&o, MMAPFS_CACHE_WATCHED, NULL));
	g_assert_false(policy_pushes(&o, MMAPFS_CACHE_TIMEOUT, "nfs"));
	parse_opts("push=0", &o);
	g_assert_true(policy_pushes(&o, MMAPFS_CACHE_TIMEOUT, NULL));
	g_assert_true(policy_pushes(&o, MMAPFS_CACHE_TIMEOUT, "nfs"));
	/* -o writeback: a store could overwrite unwritten pages. */
	parse_opts("writeback", &o);
	g_assert_false(policy_pushes(&o, MMAPFS_CACHE_WATCHED, NULL));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/policy/choose", test_choose);
	g_test_add_func("/policy/writeback", test_writeback);
	g_test_add_func("/policy/no-open", test_no_open);
	g_test_add_func("/policy/reopen-window", test_reopen_window);
	g_test_add_func("/policy/pushes", test_pushes);
	g_test_add_func("/policy/passthrough", test_passthrough);
	return g_test_run();
}
