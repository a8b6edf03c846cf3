/*
 * tsan.h - declaring to ThreadSanitizer the hand-offs it cannot see.
 *
 * GAsyncQueue and GThreadPool synchronize with glib's futexes, which
 * ThreadSanitizer does not see: a thread that queues an object for
 * another declares the release, and the thread that takes it the acquire,
 * so that what the first wrote into the object is seen as written before.
 * (Our own locks are pthread mutexes for the same reason.)  Nothing at all
 * outside a -Db_sanitize=thread build.
 */
#ifndef MMAPFS_TSAN_H
#define MMAPFS_TSAN_H

#ifdef __SANITIZE_THREAD__
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define HANDOFF_RELEASE(obj) __tsan_release(obj)
#define HANDOFF_ACQUIRE(obj) __tsan_acquire(obj)
#else
#define HANDOFF_RELEASE(obj) ((void)(obj))
#define HANDOFF_ACQUIRE(obj) ((void)(obj))
#endif

#endif
