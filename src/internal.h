/* SPDX-License-Identifier: MIT */
/*
 * Internal helpers shared by the modules of libinvites (not installed).
 * Internal functions use the prefix inv__ and never the public invites_.
 * Every allocator here returns NULL on failure: the library never aborts
 * and never exits (it lives inside someone else's server).
 */
#ifndef INVITES_INTERNAL_H
#define INVITES_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <invites/invites.h>

#if defined(__GNUC__)
#define INV_UNUSED __attribute__((unused))
#else
#define INV_UNUSED
#endif

/* Allocation (NULL on failure). */
void *inv__malloc(size_t n);
void *inv__calloc(size_t n, size_t size);
void *inv__realloc(void *p, size_t n);
char *inv__strdup(const char *s);             /* NULL in, NULL out */
char *inv__strndup(const char *s, size_t n);
/* Duplicate n strings; NULL on failure (nothing leaked). */
char **inv__strv_dup(const char *const *v, size_t n);
/*
 * Add s to the set *v of *n strings (add != 0), or remove it.  Returns 1
 * when the set changed, 0 when it already was as asked, INVITES_ELIMIT
 * when adding would make more than max entries, INVITES_ENOMEM.  On every
 * return *v and *n stay a valid set for the caller to free.
 */
int inv__strv_edit(char ***v, size_t *n, const char *s, int add, size_t max);
/* Wipe memory that held a secret (OPENSSL_cleanse). */
void inv__cleanse(void *p, size_t n);
/* Test hook (util.c): when >= 0, the allocation with that number, counted
 * from 0 across the inv__ allocators above, fails once; then it is -1 again.
 * Lets tests walk every ENOMEM path.  Never set outside tests. */
extern long inv__alloc_fail_at;

/* printf into a new string (NULL on failure). */
char *inv__asprintf(const char *fmt, ...) INVITES_PRINTF(1, 2);
char *inv__vasprintf(const char *fmt, va_list ap) INVITES_PRINTF(1, 0);

/* Log through the handler set with invites_set_log(); no-op without one. */
void inv__log(int level, const char *fmt, ...) INVITES_PRINTF(2, 3);

/* Current time in Unix seconds; INVITES_FAKE_NOW in the environment
 * overrides it (tests of expiry), read once per process. */
int64_t inv__now(void);

/* Milliseconds of CLOCK_MONOTONIC (not INVITES_FAKE_NOW), never 0, so
 * that 0 can stand for "not started" in the timestamps kept with it. */
int64_t inv__monotonic_ms(void);

/* A growable byte buffer.  On allocation failure `oom` is set and further
 * appends are ignored, so callers check once at the end. */
struct inv__buf {
	char *p;
	size_t len;
	size_t cap;
	int oom;
};
void inv__buf_init(struct inv__buf *b);
void inv__buf_append(struct inv__buf *b, const void *data, size_t n);
void inv__buf_puts(struct inv__buf *b, const char *s);
void inv__buf_printf(struct inv__buf *b, const char *fmt, ...) INVITES_PRINTF(2, 3);
/* Hand the NUL-terminated contents over (NULL after oom); resets b. */
char *inv__buf_steal(struct inv__buf *b);
void inv__buf_free(struct inv__buf *b);

/* Append s to b with %XX escapes for every byte outside RFC 3986
 * unreserved (A-Z a-z 0-9 - . _ ~) and outside `extra`. */
void inv__buf_pct(struct inv__buf *b, const char *s, const char *extra);

#endif /* INVITES_INTERNAL_H */
