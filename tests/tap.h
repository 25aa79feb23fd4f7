/* SPDX-License-Identifier: MIT */
/*
 * A minimal TAP producer for the C test programs (automake's tap-driver.sh
 * reads it).  Header-only: include it from exactly one file per program.
 *
 *   plan_lazy();                 -- plan printed at done_testing()
 *   ok(cond, "fmt", ...);        -- one test point
 *   is_int(got, want, "name");   -- with a diagnostic on failure
 *   is_str(got, want, "name");   -- NULL-safe
 *   skip_all("reason");          -- "1..0 # SKIP reason", exit 0 (the TAP
 *                                   driver counts it as skipped)
 *   bail_out("fmt", ...);        -- "Bail out! ...", exit 99 (a hard error:
 *                                   the test cannot go on)
 *   return done_testing();
 */
#ifndef INVITES_TESTS_TAP_H
#define INVITES_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n;
static int tap_failed;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3), unused))
#endif
static int
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2), unused))
#endif
static void
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

#define is_int(got, want, name)                                              \
	do {                                                                 \
		long long tap_g_ = (long long)(got), tap_w_ = (long long)(want); \
		if (!ok(tap_g_ == tap_w_, "%s", (name)))                     \
			diag("  %s:%d: got %lld, want %lld", __FILE__,       \
			     __LINE__, tap_g_, tap_w_);                      \
	} while (0)

#define is_str(got, want, name)                                              \
	do {                                                                 \
		const char *tap_g_ = (got), *tap_w_ = (want);                \
		int tap_eq_ = (tap_g_ == NULL || tap_w_ == NULL)             \
			? tap_g_ == tap_w_ : strcmp(tap_g_, tap_w_) == 0;    \
		if (!ok(tap_eq_, "%s", (name)))                              \
			diag("  %s:%d: got '%s', want '%s'", __FILE__,       \
			     __LINE__, tap_g_ ? tap_g_ : "(null)",           \
			     tap_w_ ? tap_w_ : "(null)");                    \
	} while (0)

#if defined(__GNUC__)
__attribute__((unused, noreturn))
#endif
static void
skip_all(const char *reason)
{
	printf("1..0 # SKIP %s\n", reason);
	fflush(stdout);
	exit(0);
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2), unused, noreturn))
#endif
static void
bail_out(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(99);
}

#if defined(__GNUC__)
__attribute__((unused))
#endif
static int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	if (tap_failed)
		diag("%d of %d tests failed", tap_failed, tap_n);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

#endif /* INVITES_TESTS_TAP_H */
