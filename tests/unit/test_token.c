/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/token.c: token shape and uniqueness, plausibility,
 * SHA-256 (known vectors), public ids and the constant-time comparison.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tap.h"
#include "token.h"

#define N_DRAWS 2000

static int
b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static int
cmp_tok(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void
test_new(void)
{
	static char toks[N_DRAWS][INVITES_TOKEN_LEN + 1];
	char buf[INVITES_TOKEN_MAX + 1];
	int i, j, shape_ok = 1, tail_ok = 1, dups = 0;
	int seen_first[128] = { 0 }, distinct_first = 0;

	is_int(invites_token_new(buf, sizeof(buf)), 0, "new token");
	is_int((int)strlen(buf), INVITES_TOKEN_LEN, "22 characters");
	ok(invites_token_plausible(buf), "a new token is plausible");
	is_int(invites_token_new(buf, INVITES_TOKEN_LEN + 1), 0, "exact room");
	is_int(invites_token_new(buf, INVITES_TOKEN_LEN), INVITES_EINVAL,
	       "one byte short");
	is_int(invites_token_new(NULL, 100), INVITES_EINVAL, "NULL out");

	for (i = 0; i < N_DRAWS; i++) {
		if (invites_token_new(toks[i], sizeof(toks[i])) != 0)
			shape_ok = 0;
		if (strlen(toks[i]) != INVITES_TOKEN_LEN)
			shape_ok = 0;
		for (j = 0; j < INVITES_TOKEN_LEN; j++) {
			if (!b64url_char(toks[i][j]))
				shape_ok = 0;
		}
		/* 16 bytes = 128 bits in 22 sextets: the last one holds 2
		 * bits, so its 4 low bits are zero: one of A Q g w. */
		if (strchr("AQgw", toks[i][INVITES_TOKEN_LEN - 1]) == NULL)
			tail_ok = 0;
		if (!seen_first[(unsigned char)toks[i][0] & 127]++)
			distinct_first++;
	}
	ok(shape_ok, "%d tokens: 22 base64url characters each", N_DRAWS);
	ok(tail_ok, "the last character carries 2 bits (no padding)");
	ok(distinct_first > 40, "first characters spread (%d of 64)",
	   distinct_first);
	qsort(toks, N_DRAWS, sizeof(toks[0]), cmp_tok);
	for (i = 1; i < N_DRAWS; i++) {
		if (strcmp(toks[i - 1], toks[i]) == 0)
			dups++;
	}
	is_int(dups, 0, "no duplicates");
}

static void
test_plausible(void)
{
	char s[INVITES_TOKEN_MAX + 2];

	ok(!invites_token_plausible(NULL), "NULL");
	ok(!invites_token_plausible(""), "empty");
	ok(invites_token_plausible("abcdefghijklmnop"), "16 characters");
	ok(!invites_token_plausible("abcdefghijklmno"), "15 characters");
	ok(invites_token_plausible("ABCxyz019-_ABCxyz019-_"), "all classes");
	ok(!invites_token_plausible("abcdefghijklmno+"), "+ refused");
	ok(!invites_token_plausible("abcdefghijklmno/"), "/ refused");
	ok(!invites_token_plausible("abcdefghijklmno="), "padding refused");
	ok(!invites_token_plausible("abcdefgh ijklmnop"), "space refused");
	ok(!invites_token_plausible("abcdefghijklmnop\n"), "newline refused");
	ok(!invites_token_plausible("abcdefghijklmno\xc3\xa4"), "non-ASCII refused");
	ok(!invites_token_plausible("abcdefgh%20jklmnop"), "escape refused");
	memset(s, 'a', INVITES_TOKEN_MAX);
	s[INVITES_TOKEN_MAX] = '\0';
	ok(invites_token_plausible(s), "64 characters");
	s[INVITES_TOKEN_MAX] = 'a';
	s[INVITES_TOKEN_MAX + 1] = '\0';
	ok(!invites_token_plausible(s), "65 characters");
}

static void
test_hash(void)
{
	unsigned char h[INVITES_HASH_LEN], h2[INVITES_HASH_LEN];
	char id[INVITES_ID_LEN + 1];
	static const unsigned char abc[INVITES_HASH_LEN] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
		0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
		0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad
	};
	static const unsigned char empty[4] = { 0xe3, 0xb0, 0xc4, 0x42 };

	invites_token_hash("abc", h);
	ok(memcmp(h, abc, sizeof(abc)) == 0, "SHA-256(\"abc\")");
	invites_hash_id(h, id);
	is_str(id, "ba7816bf8f01", "id of abc: 12 lowercase hex digits");
	invites_token_hash("", h);
	ok(memcmp(h, empty, sizeof(empty)) == 0, "SHA-256 of empty");
	invites_hash_id(h, id);
	is_str(id, "e3b0c44298fc", "id of empty");

	is_int(inv__token_hash("abc", h2), 0, "inv__token_hash");
	invites_token_hash("abc", h);
	ok(memcmp(h, h2, sizeof(h)) == 0, "both forms agree");
	invites_token_hash("abd", h2);
	ok(memcmp(h, h2, sizeof(h)) != 0, "different tokens, different hashes");

	memset(h, 0xaa, sizeof(h));
	is_int(inv__token_hash(NULL, h), INVITES_EINVAL, "NULL token");
	ok(h[0] == 0 && h[31] == 0, "NULL token: hash zeroed");
	is_int(inv__token_hash("abc", NULL), INVITES_EINVAL, "NULL hash");
	invites_token_hash(NULL, h);
	ok(1, "public form accepts NULL");

	memset(h, 0xff, sizeof(h));
	invites_hash_id(h, id);
	is_str(id, "ffffffffffff", "id of ff..");
	invites_hash_id(NULL, id);
	is_str(id, "", "id of NULL hash is empty");
	invites_hash_id(h, NULL);
	ok(1, "NULL id buffer is harmless");
}

static void
test_ct_equal(void)
{
	unsigned char a[32], b[32];

	memset(a, 7, sizeof(a));
	memset(b, 7, sizeof(b));
	ok(inv__ct_equal(a, b, sizeof(a)), "equal");
	b[31] = 8;
	ok(!inv__ct_equal(a, b, sizeof(a)), "last byte differs");
	ok(inv__ct_equal(a, b, 31), "prefix equal");
	b[0] = 0;
	ok(!inv__ct_equal(a, b, 31), "first byte differs");
	ok(inv__ct_equal(a, b, 0), "zero length is equal");
	ok(!inv__ct_equal(NULL, b, 4), "NULL a");
	ok(!inv__ct_equal(a, NULL, 4), "NULL b");
}

int
main(void)
{
	test_new();
	test_plausible();
	test_hash();
	test_ct_equal();
	return done_testing();
}
