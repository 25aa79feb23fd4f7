/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the in-process benchmark programs: timing, latency
 * percentiles (nearest rank over every sample, no histogram), a seeded
 * permutation and the callgrind client requests that cut a run into
 * phases.  The phase timer starts at bench_lat_reset(), so a phase's ops/s
 * include the work between samples (key generation, loop overhead).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif

double
bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int
bench_lat_init(struct bench_lat *l, size_t cap)
{
	memset(l, 0, sizeof(*l));
	l->v = malloc((cap ? cap : 1) * sizeof(*l->v));
	if (l->v == NULL)
		return -1;
	l->cap = cap;
	l->t0 = bench_now_us();
	return 0;
}

void
bench_lat_reset(struct bench_lat *l)
{
	l->n = 0;
	l->t0 = bench_now_us();
}

void
bench_lat_add(struct bench_lat *l, double us)
{
	if (l->n < l->cap)
		l->v[l->n++] = us;
}

void
bench_lat_free(struct bench_lat *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
rank(const struct bench_lat *l, double q)
{
	size_t i;

	if (l->n == 0)
		return 0;
	i = (size_t)(q * (double)l->n + 0.999999);
	if (i < 1)
		i = 1;
	if (i > l->n)
		i = l->n;
	return l->v[i - 1];
}

void
bench_lat_print(const char *name, struct bench_lat *l)
{
	double secs = (bench_now_us() - l->t0) / 1e6;

	qsort(l->v, l->n, sizeof(*l->v), cmp_double);
	printf("phase %s ops %zu secs %.6f ops_per_s %.1f p50_us %.3f "
	       "p99_us %.3f\n",
	       name, l->n, secs, secs > 0 ? (double)l->n / secs : 0.0,
	       rank(l, 0.50), rank(l, 0.99));
	fflush(stdout);
}

uint64_t
bench_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

uint64_t *
bench_perm(uint64_t n, uint64_t *state)
{
	uint64_t *p = malloc((n ? n : 1) * sizeof(*p));

	if (p == NULL)
		return NULL;
	for (uint64_t i = 0; i < n; i++)
		p[i] = i;
	for (uint64_t i = n; i > 1; i--) {
		uint64_t j = bench_rand(state) % i, t = p[i - 1];

		p[i - 1] = p[j];
		p[j] = t;
	}
	return p;
}

void
bench_phase_begin(void)
{
#ifdef HAVE_CALLGRIND
	CALLGRIND_ZERO_STATS;
	CALLGRIND_START_INSTRUMENTATION;
#endif
}

void
bench_phase_end(const char *name)
{
#ifdef HAVE_CALLGRIND
	CALLGRIND_STOP_INSTRUMENTATION;
	CALLGRIND_DUMP_STATS_AT(name);
#else
	(void)name;
#endif
}
