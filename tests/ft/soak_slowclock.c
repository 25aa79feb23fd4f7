/* SPDX-License-Identifier: MIT */
/*
 * soak_slowclock: an LD_PRELOAD shim for the valgrind run of the soak
 * (tests/ft/soak.py), not part of any installed program.  Under valgrind
 * every call is 20 to 50 times slower, and the store's hang monitor, which
 * measures with CLOCK_MONOTONIC, takes a slow call for one blocked behind
 * a dead process: the daemon leaves, and a daemon under valgrind cannot
 * even open the store in time.  For calls made by our code only (the
 * modules, invites-web, libinvites, invitectl, the soak's ftworker) this
 * shim makes CLOCK_MONOTONIC run SLOWDOWN times slower (our code
 * measures intervals with it, never absolute deadlines) and stretches the
 * time left before the deadline of a pthread_cond_timedwait() SLOWDOWN
 * times (the watchdog's ticks, the open watch), so that the monitor's
 * limits scale with valgrind's slowdown; jabberd2, the libraries and the
 * wall clock are untouched.  Built by `make soak` with $(CC) -shared;
 * loaded into the daemons through xmpp-local's XMPP_PRELOAD, and into
 * the soak's invitectl and ftworker runs.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#define SLOWDOWN 20

typedef int clock_fn(clockid_t, struct timespec *);
typedef int wait_fn(pthread_cond_t *, pthread_mutex_t *,
                    const struct timespec *);

static clock_fn *real_clock;
static wait_fn *real_wait;
static struct timespec base;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
init(void)
{
	real_clock = (clock_fn *)dlsym(RTLD_NEXT, "clock_gettime");
	real_wait = (wait_fn *)dlsym(RTLD_NEXT, "pthread_cond_timedwait");
	if (real_clock != NULL)
		real_clock(CLOCK_MONOTONIC, &base);
}

/* 1 when the code at addr belongs to one of our objects. */
static int
ours(const void *addr)
{
	Dl_info di;
	const char *base;

	if (dladdr(addr, &di) == 0 || di.dli_fname == NULL)
		return 0;
	base = strrchr(di.dli_fname, '/');
	base = base ? base + 1 : di.dli_fname;
	return strncmp(base, "authreg_invites", 15) == 0 ||
	       strncmp(base, "mod_invites", 11) == 0 ||
	       strncmp(base, "invites-web", 11) == 0 ||
	       strncmp(base, "libinvites", 10) == 0 ||
	       strcmp(base, "invitectl") == 0 ||
	       strcmp(base, "ftworker") == 0;
}

int
clock_gettime(clockid_t id, struct timespec *ts)
{
	long long ns;
	int r;

	pthread_once(&once, init);
	if (real_clock == NULL)
		return -1;
	r = real_clock(id, ts);
	if (r != 0 || id != CLOCK_MONOTONIC ||
	    !ours(__builtin_return_address(0)))
		return r;
	ns = ((long long)(ts->tv_sec - base.tv_sec) * 1000000000LL +
	      (ts->tv_nsec - base.tv_nsec)) / SLOWDOWN;
	ts->tv_sec = base.tv_sec + ns / 1000000000LL;
	ts->tv_nsec = base.tv_nsec + ns % 1000000000LL;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
	return 0;
}

/* Our waits are on condition variables with the default clock
 * (CLOCK_REALTIME): the time left is stretched, from now. */
int
pthread_cond_timedwait(pthread_cond_t *cond, pthread_mutex_t *mutex,
                       const struct timespec *abstime)
{
	struct timespec now, until;
	long long left;

	pthread_once(&once, init);
	if (real_wait == NULL || real_clock == NULL)
		return EINVAL;
	if (!ours(__builtin_return_address(0)) ||
	    real_clock(CLOCK_REALTIME, &now) != 0)
		return real_wait(cond, mutex, abstime);
	left = (long long)(abstime->tv_sec - now.tv_sec) * 1000000000LL +
	       (abstime->tv_nsec - now.tv_nsec);
	if (left <= 0)
		return real_wait(cond, mutex, abstime);
	left *= SLOWDOWN;
	until.tv_sec = now.tv_sec + left / 1000000000LL;
	until.tv_nsec = now.tv_nsec + left % 1000000000LL;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return real_wait(cond, mutex, &until);
}
