/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the multi-process store tests (race.c, kill.c):
 * a temporary base directory, a configuration for a store in it, a
 * recursive remove, and a small reproducible random generator.
 * Header-only; include it once per program, after tap.h.
 */
#ifndef INVITES_TESTS_STORE_HELPERS_H
#define INVITES_TESTS_STORE_HELPERS_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <invites/invites.h>

#if defined(__GNUC__)
#define HELPER __attribute__((unused)) static
#else
#define HELPER static
#endif

/* mkdtemp under $TMPDIR (or /tmp) into buf; skips the test on failure. */
HELPER void
helper_base(char *buf, size_t size, const char *tag)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(buf, size, "%s/xi-%s-XXXXXX",
	         tmp != NULL && *tmp != '\0' ? tmp : "/tmp", tag);
	if (mkdtemp(buf) == NULL)
		skip_all("cannot make a temporary directory");
}

HELPER struct invites_config *
helper_cfg(const char *store)
{
	struct invites_config *cfg = NULL;

	if (invites_config_new(store, &cfg) != 0 ||
	    invites_config_set(cfg, "domains", "example.com", NULL) != 0)
		bail_out("cannot build a configuration");
	return cfg;
}

static int
helper_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

HELPER void
helper_rm_rf(const char *p)
{
	nftw(p, helper_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* xorshift64*: reproducible from the seed the test prints. */
HELPER uint32_t
helper_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (uint32_t)((x * UINT64_C(2685821657736338717)) >> 32);
}

HELPER void
helper_shuffle(unsigned *v, size_t n, uint64_t *state)
{
	size_t i, j;
	unsigned t;

	for (i = n; i > 1; i--) {
		j = helper_rand(state) % i;
		t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

#endif /* INVITES_TESTS_STORE_HELPERS_H */
