/* SPDX-License-Identifier: MIT */
/*
 * Small utilities every module of libinvites uses: allocation that reports
 * failure instead of aborting, string vectors, wiping of secrets, printf
 * into fresh strings, the process-wide log hook, the clock (with the
 * INVITES_FAKE_NOW override used by tests of expiry) and a growable byte
 * buffer with percent-encoding.  Every allocator in the library goes
 * through here, so the test hook inv__alloc_fail_at reaches every
 * out-of-memory path.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "internal.h"

long inv__alloc_fail_at = -1;

/* 1 when the test hook says this allocation must fail. */
static int
alloc_should_fail(void)
{
	if (inv__alloc_fail_at < 0)
		return 0;
	return inv__alloc_fail_at-- == 0;
}

void *
inv__malloc(size_t n)
{
	if (alloc_should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *
inv__calloc(size_t n, size_t size)
{
	if (alloc_should_fail())
		return NULL;
	if (n == 0 || size == 0)
		return calloc(1, 1);
	if (n > SIZE_MAX / size)
		return NULL;
	return calloc(n, size);
}

void *
inv__realloc(void *p, size_t n)
{
	if (alloc_should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

char *
inv__strdup(const char *s)
{
	if (s == NULL)
		return NULL;
	return inv__strndup(s, strlen(s));
}

char *
inv__strndup(const char *s, size_t n)
{
	char *d;
	size_t len;

	if (s == NULL)
		return NULL;
	len = strnlen(s, n);
	d = inv__malloc(len + 1);
	if (d == NULL)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

/*
 * The copy has n + 1 slots, the last NULL, so that it is also usable as a
 * NULL-terminated vector; a NULL entry is copied as NULL.
 */
char **
inv__strv_dup(const char *const *v, size_t n)
{
	char **d;
	size_t i;

	if (n == SIZE_MAX || (n > 0 && v == NULL))
		return NULL;
	d = inv__calloc(n + 1, sizeof(*d));
	if (d == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (v[i] == NULL)
			continue;
		d[i] = inv__strdup(v[i]);
		if (d[i] == NULL) {
			invites_strv_free(d, i);
			return NULL;
		}
	}
	return d;
}

int
inv__strv_edit(char ***v, size_t *n, const char *s, int add, size_t max)
{
	char **grown;
	size_t i, at = SIZE_MAX;

	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			at = i;
	if ((add != 0) == (at != SIZE_MAX))
		return 0;
	if (!add) {
		free((*v)[at]);
		memmove(*v + at, *v + at + 1, (*n - at - 1) * sizeof(**v));
		(*n)--;
		return 1;
	}
	if (*n >= max)
		return INVITES_ELIMIT;
	grown = inv__realloc(*v, (*n + 1) * sizeof(**v));
	if (grown == NULL)
		return INVITES_ENOMEM;
	*v = grown;
	grown[*n] = inv__strdup(s);
	if (grown[*n] == NULL)
		return INVITES_ENOMEM;
	(*n)++;
	return 1;
}

void
inv__cleanse(void *p, size_t n)
{
	if (p != NULL && n > 0)
		OPENSSL_cleanse(p, n);
}

char *
inv__vasprintf(const char *fmt, va_list ap)
{
	va_list ap2;
	char *s;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	s = inv__malloc((size_t)n + 1);
	if (s == NULL)
		return NULL;
	if (vsnprintf(s, (size_t)n + 1, fmt, ap) != n) {
		free(s);
		return NULL;
	}
	return s;
}

char *
inv__asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = inv__vasprintf(fmt, ap);
	va_end(ap);
	return s;
}

/* ---- logging ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static invites_log_fn *log_fn;
static void *log_ctx;

void
invites_set_log(invites_log_fn *fn, void *ctx)
{
	pthread_mutex_lock(&log_lock);
	log_fn = fn;
	log_ctx = ctx;
	pthread_mutex_unlock(&log_lock);
}

void
inv__log(int level, const char *fmt, ...)
{
	invites_log_fn *fn;
	void *ctx;
	char small[512];
	char *msg;
	va_list ap;

	pthread_mutex_lock(&log_lock);
	fn = log_fn;
	ctx = log_ctx;
	pthread_mutex_unlock(&log_lock);
	if (fn == NULL)
		return;

	va_start(ap, fmt);
	msg = inv__vasprintf(fmt, ap);
	va_end(ap);
	if (msg == NULL) {
		/* Out of memory: a truncated line is better than none. */
		va_start(ap, fmt);
		vsnprintf(small, sizeof(small), fmt, ap);
		va_end(ap);
		fn(ctx, level, small);
		return;
	}
	fn(ctx, level, msg);
	free(msg);
}

/* ---- clock ---- */

static pthread_once_t now_once = PTHREAD_ONCE_INIT;
static int64_t fake_now = -1;

static void
now_init(void)
{
	const char *s = getenv("INVITES_FAKE_NOW");
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		return;
	fake_now = (int64_t)v;
}

int64_t
inv__now(void)
{
	pthread_once(&now_once, now_init);
	if (fake_now >= 0)
		return fake_now;
	return (int64_t)time(NULL);
}

int64_t
inv__monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

/* ---- buffers ---- */

void
inv__buf_init(struct inv__buf *b)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->oom = 0;
}

/* Make room for n more bytes and a NUL. */
static int
buf_reserve(struct inv__buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (b->oom)
		return -1;
	if (n > SIZE_MAX - 1 - b->len) {
		b->oom = 1;
		return -1;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	p = inv__realloc(b->p, cap);
	if (p == NULL) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void
inv__buf_append(struct inv__buf *b, const void *data, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return;
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
inv__buf_puts(struct inv__buf *b, const char *s)
{
	if (s != NULL)
		inv__buf_append(b, s, strlen(s));
}

void
inv__buf_printf(struct inv__buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	if (b->oom)
		return;
	room = b->cap > b->len ? b->cap - b->len : 0;
	va_start(ap, fmt);
	n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if ((size_t)n < room) {
		b->len += (size_t)n;
		return;
	}
	if (buf_reserve(b, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *
inv__buf_steal(struct inv__buf *b)
{
	char *p;

	if (b->oom) {
		inv__buf_free(b);
		return NULL;
	}
	if (b->p == NULL) {
		p = inv__strdup("");
	} else {
		p = b->p;
	}
	inv__buf_init(b);
	return p;
}

void
inv__buf_free(struct inv__buf *b)
{
	free(b->p);
	inv__buf_init(b);
}

void
inv__buf_pct(struct inv__buf *b, const char *s, const char *extra)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u;
	char esc[3];

	if (s == NULL)
		return;
	for (u = (const unsigned char *)s; *u != '\0'; u++) {
		int keep = (*u >= 'A' && *u <= 'Z') || (*u >= 'a' && *u <= 'z') ||
		           (*u >= '0' && *u <= '9') || *u == '-' || *u == '.' ||
		           *u == '_' || *u == '~' ||
		           (extra != NULL && strchr(extra, *u) != NULL);
		if (keep) {
			inv__buf_append(b, u, 1);
		} else {
			esc[0] = '%';
			esc[1] = hex[*u >> 4];
			esc[2] = hex[*u & 0xf];
			inv__buf_append(b, esc, 3);
		}
	}
}

/* ---- public frees ---- */

void
invites_free(void *p)
{
	free(p);
}

void
invites_strv_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
