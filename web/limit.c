/* SPDX-License-Identifier: MIT */
/*
 * Failure counting per client address: a bad token, a bad API key or a
 * refused form counts one failure; an address that reaches the limit in
 * the current window gets 429 on the token pages and the API until the
 * window ends.  A fixed-size table (no growth under attack): when a probe
 * run is full, the oldest window in it is reused.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "web.h"

#define LIM_SLOTS 4096 /* power of two */
#define LIM_PROBE 16
#define LIM_ADDR  64

struct lim_slot {
	char addr[LIM_ADDR];
	int64_t start;    /* window start; 0: free */
	unsigned count;
};

struct web_limiter {
	pthread_mutex_t lock;
	unsigned max;
	int64_t window;
	struct lim_slot slot[LIM_SLOTS];
};

int
web__limiter_new(unsigned max_failures, int64_t window,
                 struct web_limiter **l_r)
{
	struct web_limiter *l = inv__calloc(1, sizeof(*l));

	*l_r = NULL;
	if (!l)
		return INVITES_ENOMEM;
	if (pthread_mutex_init(&l->lock, NULL) != 0) {
		free(l);
		return INVITES_EINTERNAL;
	}
	l->max = max_failures;
	l->window = window > 0 ? window : 600;
	*l_r = l;
	return 0;
}

void
web__limiter_free(struct web_limiter **l)
{
	if (!l || !*l)
		return;
	pthread_mutex_destroy(&(*l)->lock);
	free(*l);
	*l = NULL;
}

static uint32_t
hash_addr(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* The slot for addr (existing, else a free or stale or oldest one). */
static struct lim_slot *
find(struct web_limiter *l, const char *addr, int64_t now, int create)
{
	uint32_t h = hash_addr(addr);
	struct lim_slot *victim = NULL;
	int i;

	for (i = 0; i < LIM_PROBE; i++) {
		struct lim_slot *s = &l->slot[(h + (uint32_t)i) & (LIM_SLOTS - 1)];

		if (s->start && strcmp(s->addr, addr) == 0) {
			if (now - s->start >= l->window) {
				s->start = now;
				s->count = 0;
			}
			return s;
		}
		/* reuse order: free or stale slots first, then the oldest */
		if (!s->start || now - s->start >= l->window) {
			if (!victim || (victim->start &&
			                now - victim->start < l->window))
				victim = s;
		} else if (!victim || (victim->start &&
		                       now - victim->start < l->window &&
		                       s->start < victim->start)) {
			victim = s;
		}
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	strncpy(victim->addr, addr, LIM_ADDR - 1);
	victim->start = now;
	return victim;
}

int
web__limiter_blocked(struct web_limiter *l, const char *addr, int64_t now)
{
	struct lim_slot *s;
	int blocked;

	if (!l || !l->max)
		return 0;
	pthread_mutex_lock(&l->lock);
	s = find(l, addr, now, 0);
	blocked = s && s->count >= l->max;
	pthread_mutex_unlock(&l->lock);
	return blocked;
}

void
web__limiter_fail(struct web_limiter *l, const char *addr, int64_t now)
{
	struct lim_slot *s;

	if (!l || !l->max)
		return;
	pthread_mutex_lock(&l->lock);
	s = find(l, addr, now, 1);
	if (s && s->count < l->max)
		s->count++;
	pthread_mutex_unlock(&l->lock);
}
