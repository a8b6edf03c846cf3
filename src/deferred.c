/*
 * deferred.c - see include/mmapfs/deferred.h.
 *
 * DESIGN: a GThreadPool of calls, each a function and its data; the pool
 * starts threads as calls come (up to max_threads) and lets idle ones go.
 */
#include <glib.h>

#include "mmapfs/deferred.h"
#include "mmapfs/tsan.h"

struct call {
	void (*fn)(void *data);
	void *data;
};

struct deferred {
	GThreadPool *pool;
};

static void run_call(gpointer item, gpointer user_data)
{
	struct call *c = item;

	HANDOFF_ACQUIRE(c);
	c->fn(c->data);
	g_free(c);
}

struct deferred *deferred_new(unsigned max_threads)
{
	struct deferred *d = g_new0(struct deferred, 1);

	d->pool = g_thread_pool_new(run_call, d, (gint)max_threads, FALSE, NULL);
	return d;
}

void deferred_free(struct deferred *d)
{
	if (!d)
		return;
	g_thread_pool_free(d->pool, FALSE, TRUE);
	g_free(d);
}

void deferred_run(struct deferred *d, void (*fn)(void *data), void *data)
{
	struct call *c = g_new(struct call, 1);

	c->fn = fn;
	c->data = data;
	HANDOFF_RELEASE(c);
	g_thread_pool_push(d->pool, c, NULL);
}
