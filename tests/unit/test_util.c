/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/util.c: allocators (and the allocation-failure hook),
 * string vectors, asprintf, the log hook, the clock override and the
 * growable buffer with percent-encoding.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "tap.h"

static int log_calls;
static int log_level_seen;
static char log_msg_seen[2048];
static void *log_ctx_seen;

static void
log_cb(void *ctx, int level, const char *msg)
{
	log_calls++;
	log_level_seen = level;
	log_ctx_seen = ctx;
	snprintf(log_msg_seen, sizeof(log_msg_seen), "%s", msg);
}

static void
test_alloc(void)
{
	char *p, *q;
	int *z;
	size_t i;

	p = inv__malloc(0);
	ok(p != NULL, "malloc(0) gives a pointer");
	free(p);
	z = inv__calloc(4, sizeof(*z));
	ok(z != NULL && z[0] == 0 && z[3] == 0, "calloc zeroes");
	free(z);
	ok(inv__calloc(SIZE_MAX / 2, 4) == NULL, "calloc overflow is NULL");
	z = inv__calloc(0, 8);
	ok(z != NULL, "calloc(0, n) gives a pointer");
	free(z);
	p = inv__realloc(NULL, 3);
	ok(p != NULL, "realloc(NULL) allocates");
	memcpy(p, "ab", 3);
	p = inv__realloc(p, 100);
	is_str(p, "ab", "realloc keeps contents");
	free(p);

	ok(inv__strdup(NULL) == NULL, "strdup(NULL) is NULL");
	p = inv__strdup("hello");
	is_str(p, "hello", "strdup");
	free(p);
	p = inv__strndup("hello", 3);
	is_str(p, "hel", "strndup cuts");
	free(p);
	p = inv__strndup("hi", 10);
	is_str(p, "hi", "strndup of a short string");
	free(p);
	ok(inv__strndup(NULL, 3) == NULL, "strndup(NULL) is NULL");
	p = inv__strdup("");
	is_str(p, "", "strdup of empty");
	free(p);

	/* the failure hook: exactly the numbered allocation fails, once */
	inv__alloc_fail_at = 0;
	p = inv__strdup("x");
	ok(p == NULL, "hook fails allocation 0");
	is_int(inv__alloc_fail_at, -1, "hook disarms itself");
	p = inv__strdup("x");
	ok(p != NULL, "next allocation succeeds");
	free(p);
	inv__alloc_fail_at = 1;
	p = inv__malloc(1);
	q = inv__malloc(1);
	ok(p != NULL && q == NULL, "hook counts allocations");
	free(p);
	free(q);
	inv__alloc_fail_at = 0;
	ok(inv__calloc(1, 1) == NULL, "hook reaches calloc");
	inv__alloc_fail_at = 0;
	ok(inv__realloc(NULL, 1) == NULL, "hook reaches realloc");

	/* cleanse */
	{
		char secret[16];

		memset(secret, 'k', sizeof(secret));
		inv__cleanse(secret, sizeof(secret));
		for (i = 0; i < sizeof(secret); i++) {
			if (secret[i] != 0)
				break;
		}
		ok(i == sizeof(secret), "cleanse wipes");
		inv__cleanse(NULL, 10);
		ok(1, "cleanse(NULL) is harmless");
	}
}

static void
test_strv(void)
{
	const char *src[] = { "a", "bb", NULL, "ccc" };
	char **v;
	long n;
	int failed = 0, leaks_ok = 1;

	v = inv__strv_dup(src, 4);
	ok(v != NULL, "strv_dup");
	is_str(v[0], "a", "strv_dup [0]");
	is_str(v[1], "bb", "strv_dup [1]");
	ok(v[2] == NULL, "strv_dup keeps NULL entries");
	is_str(v[3], "ccc", "strv_dup [3]");
	ok(v[4] == NULL, "strv_dup NULL-terminates");
	ok(v[0] != src[0], "strv_dup copies");
	invites_strv_free(v, 4);

	v = inv__strv_dup(NULL, 0);
	ok(v != NULL && v[0] == NULL, "strv_dup of nothing is an empty vector");
	invites_strv_free(v, 0);
	ok(inv__strv_dup(NULL, 2) == NULL, "strv_dup(NULL, 2) fails");
	invites_strv_free(NULL, 3);
	ok(1, "strv_free(NULL) is harmless");

	/* every allocation failure is reported and leaks nothing (ASan) */
	for (n = 0; n < 10; n++) {
		inv__alloc_fail_at = n;
		v = inv__strv_dup(src, 4);
		if (inv__alloc_fail_at >= 0) {
			/* fewer allocations than n: success, and done */
			inv__alloc_fail_at = -1;
			if (v == NULL)
				leaks_ok = 0;
			invites_strv_free(v, 4);
			break;
		}
		if (v == NULL)
			failed++;
		else
			leaks_ok = 0;
	}
	is_int(failed, 4, "strv_dup fails on each of its 4 allocations");
	ok(leaks_ok, "strv_dup succeeds once allocations suffice");
}

static void
test_asprintf(void)
{
	char *s;
	char big[3000];

	s = inv__asprintf("%s-%d", "x", 42);
	is_str(s, "x-42", "asprintf");
	free(s);
	s = inv__asprintf("%s", "");
	is_str(s, "", "asprintf of empty");
	free(s);
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	s = inv__asprintf("<%s>", big);
	ok(s != NULL && strlen(s) == sizeof(big) + 1, "asprintf long output");
	free(s);
	inv__alloc_fail_at = 0;
	s = inv__asprintf("%d", 1);
	ok(s == NULL, "asprintf reports allocation failure");
}

static void
test_log(void)
{
	int ctx;
	char big[1500];

	log_calls = 0;
	inv__log(INVITES_LOG_ERR, "nobody listens %d", 1);
	is_int(log_calls, 0, "no log handler: nothing happens");
	invites_set_log(log_cb, &ctx);
	inv__log(INVITES_LOG_WARNING, "store %s: %d", "x", 7);
	is_int(log_calls, 1, "handler called");
	is_int(log_level_seen, INVITES_LOG_WARNING, "level passed");
	is_str(log_msg_seen, "store x: 7", "message formatted");
	ok(log_ctx_seen == &ctx, "context passed");

	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	inv__alloc_fail_at = 0;
	inv__log(INVITES_LOG_INFO, "%s", big);
	is_int(log_calls, 2, "out of memory: still logged");
	ok(strlen(log_msg_seen) > 100 && strlen(log_msg_seen) < sizeof(big) - 1,
	   "out of memory: truncated line");
	invites_set_log(NULL, NULL);
	inv__log(INVITES_LOG_ERR, "gone");
	is_int(log_calls, 2, "handler removed");
}

/* Run inv__now() in a child with INVITES_FAKE_NOW = val (NULL: unset);
 * the child exits 0 when the result is in [lo, hi] (hi < 0: now). */
static int
now_in_child(const char *val, long long lo, long long hi)
{
	pid_t pid;
	int st;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		long long before, got, after;

		if (val)
			setenv("INVITES_FAKE_NOW", val, 1);
		else
			unsetenv("INVITES_FAKE_NOW");
		before = (long long)time(NULL);
		got = (long long)inv__now();
		after = (long long)time(NULL);
		if (hi < 0)
			_exit(got >= before && got <= after ? 0 : 1);
		_exit(got >= lo && got <= hi ? 0 : 1);
	}
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
test_now(void)
{
	is_int(now_in_child(NULL, 0, -1), 0, "now: real clock without override");
	is_int(now_in_child("1700000000", 1700000000LL, 1700000000LL), 0,
	       "now: INVITES_FAKE_NOW overrides");
	is_int(now_in_child("0", 0, 0), 0, "now: INVITES_FAKE_NOW=0");
	is_int(now_in_child("12abc", 0, -1), 0, "now: junk override ignored");
	is_int(now_in_child("-5", 0, -1), 0, "now: negative override ignored");
	is_int(now_in_child("", 0, -1), 0, "now: empty override ignored");
	is_int(now_in_child("99999999999999999999", 0, -1), 0,
	       "now: overflowing override ignored");

	setenv("INVITES_FAKE_NOW", "1234", 1);
	is_int(inv__now(), 1234, "now: override in this process");
	setenv("INVITES_FAKE_NOW", "5678", 1);
	is_int(inv__now(), 1234, "now: override read once");
}

static void
test_buf(void)
{
	struct inv__buf b;
	char *s;
	int i;

	inv__buf_init(&b);
	s = inv__buf_steal(&b);
	is_str(s, "", "steal of an empty buffer is an empty string");
	free(s);

	inv__buf_puts(&b, "abc");
	inv__buf_append(&b, "defXX", 3);
	inv__buf_printf(&b, "-%d-%s", 12, "z");
	inv__buf_puts(&b, NULL);
	is_int(b.len, 11, "length");
	s = inv__buf_steal(&b);
	is_str(s, "abcdef-12-z", "append, puts, printf");
	free(s);
	ok(b.p == NULL && b.len == 0 && b.cap == 0, "steal resets");

	for (i = 0; i < 1000; i++)
		inv__buf_printf(&b, "%04d", i);
	ok(b.len == 4000 && b.p[b.len] == '\0', "growth by printf");
	ok(memcmp(b.p + 3996, "0999", 4) == 0, "content after growth");
	inv__buf_free(&b);
	ok(b.p == NULL && b.len == 0, "free resets");

	inv__buf_init(&b);
	inv__alloc_fail_at = 0;
	inv__buf_puts(&b, "x");
	ok(b.oom, "allocation failure sets oom");
	inv__buf_puts(&b, "y");
	inv__buf_printf(&b, "%d", 3);
	ok(b.oom && b.len == 0, "appends ignored after oom");
	ok(inv__buf_steal(&b) == NULL, "steal after oom is NULL");
	ok(b.p == NULL && !b.oom, "steal after oom resets");

	inv__buf_init(&b);
	inv__buf_puts(&b, "ab");
	inv__alloc_fail_at = 0;
	inv__buf_printf(&b, "%0200d", 1);
	ok(b.oom, "printf growth failure sets oom");
	inv__buf_free(&b);

	inv__buf_init(&b);
	inv__buf_pct(&b, "aZ09-._~ +%/:?;=&#@!\xc3\x84", NULL);
	s = inv__buf_steal(&b);
	is_str(s, "aZ09-._~%20%2B%25%2F%3A%3F%3B%3D%26%23%40%21%C3%84",
	       "pct escapes all but unreserved");
	free(s);
	inv__buf_pct(&b, "a!b;c+d", "!;");
	s = inv__buf_steal(&b);
	is_str(s, "a!b;c%2Bd", "pct keeps extra");
	free(s);
	inv__buf_pct(&b, "\x01\x7f\xff", "");
	inv__buf_pct(&b, NULL, "");
	s = inv__buf_steal(&b);
	is_str(s, "%01%7F%FF", "pct of control and high bytes");
	free(s);
}

static void
test_strv_edit(void)
{
	char **v = NULL;
	size_t n = 0;

	is_int(inv__strv_edit(&v, &n, "admin", 1, 2), 1, "strv_edit: add to an empty set");
	is_int(inv__strv_edit(&v, &n, "admin", 1, 2), 0, "strv_edit: adding again changes nothing");
	is_int(inv__strv_edit(&v, &n, "ops", 1, 2), 1, "strv_edit: a second entry");
	is_int(inv__strv_edit(&v, &n, "more", 1, 2), INVITES_ELIMIT, "strv_edit: past max is ELIMIT");
	is_int((long long)n, 2, "strv_edit: the set is unchanged after ELIMIT");
	is_int(inv__strv_edit(&v, &n, "nobody", 0, 2), 0, "strv_edit: removing an absent entry changes nothing");
	is_int(inv__strv_edit(&v, &n, "admin", 0, 2), 1, "strv_edit: remove");
	ok(n == 1 && strcmp(v[0], "ops") == 0, "strv_edit: the other entry stays");
	inv__alloc_fail_at = 0; /* the next allocation fails */
	is_int(inv__strv_edit(&v, &n, "new", 1, 8), INVITES_ENOMEM, "strv_edit: ENOMEM");
	inv__alloc_fail_at = -1;
	ok(n == 1 && strcmp(v[0], "ops") == 0, "strv_edit: the set survives ENOMEM");
	invites_strv_free(v, n);
}

int
main(void)
{
	test_alloc();
	test_strv();
	test_strv_edit();
	test_asprintf();
	test_log();
	test_now();
	test_buf();
	invites_free(NULL);
	ok(1, "invites_free(NULL) is harmless");
	return done_testing();
}
