/*
 * safecopy.c - see include/mmapfs/safecopy.h.
 *
 * DESIGN: each thread has a sigjmp_buf and an "armed" flag in thread-local
 * storage.  safecopy_probe() arms the guard, touch the memory, and disarm it.  The
 * SIGBUS handler checks the flag of the thread it runs on (a SIGBUS from a
 * memory access is delivered to the faulting thread) and siglongjmp()s back.
 * The handler is installed with SA_NODEFER and the jump buffer saved without
 * the signal mask, so no sigprocmask() call is made on the hot path and
 * SIGBUS is never left blocked after a jump.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "mmapfs/safecopy.h"

static __thread sigjmp_buf guard_jump;
static __thread volatile sig_atomic_t guard_armed;
/* The address whose access raised the SIGBUS caught last. */
static __thread volatile uintptr_t guard_fault_addr;
static gint recoveries; /* (atomic) */
static size_t page_size;

static void sigbus_handler(int sig, siginfo_t *info, void *ucontext)
{
	if (guard_armed) {
		guard_armed = 0;
		guard_fault_addr = (uintptr_t)info->si_addr;
		g_atomic_int_inc(&recoveries);
		siglongjmp(guard_jump, 1);
	}
	/* Not ours to recover: die of it as if no handler were installed. */
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

int safecopy_init(void)
{
	struct sigaction sa;

	page_size = (size_t)sysconf(_SC_PAGESIZE);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigbus_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) < 0)
		return -errno;
	return 0;
}

/* Bytes from base to the page holding the fault, clamped to [0, len]. */
static size_t good_prefix(const char *base, size_t len)
{
	uintptr_t fault = guard_fault_addr & ~(uintptr_t)(page_size - 1);

	if (fault <= (uintptr_t)base)
		return 0;
	return MIN(len, (size_t)(fault - (uintptr_t)base));
}

size_t safecopy_probe(const void *addr, size_t len)
{
	const volatile char *p = addr;
	size_t off;

	if (len == 0)
		return 0;
	if (sigsetjmp(guard_jump, 0))
		return good_prefix(addr, len);
	guard_armed = 1;
	/* First byte, then the first byte of every following page, then the last. */
	(void)p[0];
	for (off = page_size - ((uintptr_t)addr & (page_size - 1)); off < len;
	     off += page_size)
		(void)p[off];
	(void)p[len - 1];
	guard_armed = 0;
	return len;
}

unsigned long safecopy_recoveries(void)
{
	return (unsigned long)g_atomic_int_get(&recoveries);
}
