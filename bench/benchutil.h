/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the in-process benchmark programs (bdb_bare,
 * store_bench): a microsecond clock, latency samples with percentiles,
 * a seeded random permutation, and callgrind phase markers.
 */
#ifndef BENCH_BENCHUTIL_H
#define BENCH_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>

struct bench_lat {
	double *v;     /* samples, microseconds */
	size_t n;
	size_t cap;
	double t0;     /* start of the phase, microseconds */
};

/* CLOCK_MONOTONIC in microseconds. */
double bench_now_us(void);

int bench_lat_init(struct bench_lat *l, size_t cap);
void bench_lat_reset(struct bench_lat *l);
void bench_lat_add(struct bench_lat *l, double us);
void bench_lat_free(struct bench_lat *l);
/* Print "phase NAME ops N secs S ops_per_s R p50_us A p99_us B". */
void bench_lat_print(const char *name, struct bench_lat *l);

/* xorshift64*: deterministic per seed. */
uint64_t bench_rand(uint64_t *state);
/* A random permutation of 0..n-1 (free()), or NULL. */
uint64_t *bench_perm(uint64_t n, uint64_t *state);

/* Around a timed phase: under callgrind, count only inside and dump the
 * counts under the phase's name; otherwise nothing. */
void bench_phase_begin(void);
void bench_phase_end(const char *name);

#endif /* BENCH_BENCHUTIL_H */
