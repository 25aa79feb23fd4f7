/* SPDX-License-Identifier: MIT */
/*
 * Tests of the store's binary records (src/record.c): every record type
 * round-trips; the purge-time key sorts like time; truncated, extended,
 * bit-flipped and random input is refused (ECORRUPT) and never read past
 * its end; a newer record version is reported as EVERSION.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "tap.h"

/* writable copies: the structs hold char *, and -Wwrite-strings is on */
static char r_admin[] = "admin", r_mod[] = "moderator", g_friends[] = "Friends";
static char s_com[] = "example.com", s_org[] = "example.org";
static char s_juliet[] = "juliet", s_romeo[] = "romeo@example.com";
static char s_root[] = "invitectl:root", s_nurse[] = "nurse@example.com";
static char s_jjid[] = "juliet@example.com";
static char *roles[] = { r_admin, r_mod };
static char *groups[] = { g_friends };

static void
sample_invite(struct invites_invite *inv)
{
	size_t i;

	memset(inv, 0, sizeof(*inv));
	for (i = 0; i < INVITES_HASH_LEN; i++)
		inv->hash[i] = (unsigned char)(i * 7 + 1);
	invites_hash_id(inv->hash, inv->id);
	inv->kind = INVITES_KIND_ACCOUNT;
	inv->flags = INVITES_F_ADMIN;
	inv->domain = s_com;
	inv->username = s_juliet;
	inv->inviter = s_romeo;
	inv->created_by = s_root;
	inv->note = NULL;
	inv->roles = roles;
	inv->n_roles = 2;
	inv->groups = groups;
	inv->n_groups = 1;
	inv->created = 1700000000;
	inv->expires = 1700604800;
	inv->revoked = 0;
	inv->uses = 1;
	inv->max_uses = 3;
	inv->last_used_by = s_nurse;
}

/* Every prefix and every longer form of a record is refused. */
static void
check_truncations(const char *what, const struct inv__buf *b,
                  int (*dec)(const void *, size_t))
{
	unsigned char *copy;
	size_t n;
	int bad = 0;

	for (n = 0; n < b->len; n++)
		if (dec(b->p, n) == 0)
			bad++;
	ok(bad == 0, "%s: every truncation is refused", what);
	copy = malloc(b->len + 1);
	memcpy(copy, b->p, b->len);
	copy[b->len] = 0;
	ok(dec(copy, b->len + 1) != 0, "%s: a trailing byte is refused", what);
	free(copy);
}

static int
dec_invite(const void *p, size_t n)
{
	unsigned char hash[INVITES_HASH_LEN] = { 1 };
	struct invites_invite *inv = NULL;
	int rc = inv__record_invite_decode(hash, p, n, &inv, NULL);

	invites_invite_free(&inv);
	return rc;
}

static int
dec_pending(const void *p, size_t n)
{
	struct invites_pending *pd = NULL;
	int rc = inv__record_pending_decode("a@b", 3, p, n, &pd, NULL);

	invites_pending_free(&pd);
	return rc;
}

static int
dec_roles(const void *p, size_t n)
{
	char **r = NULL;
	size_t nr = 0;
	int rc = inv__record_roles_decode(p, n, &r, &nr);

	invites_strv_free(r, nr);
	return rc;
}

static int
dec_audit(const void *p, size_t n)
{
	struct invites_audit a;
	char *s = NULL;
	int rc = inv__record_audit_decode(1, p, n, &a, &s);

	free(s);
	return rc;
}

static int
dec_reserve(const void *p, size_t n)
{
	unsigned char h[INVITES_HASH_LEN];

	return inv__record_reserve_decode(p, n, h);
}

static void
test_invite(void)
{
	struct invites_invite in, *out = NULL;
	struct inv__invite_extra ex = { 1700000100, 1700003700 }, ex2;
	struct inv__invite_peek pk;
	struct inv__buf b;
	unsigned char *flip;
	size_t i;
	int rc, bad;

	sample_invite(&in);
	inv__buf_init(&b);
	is_int(inv__record_invite_encode(&b, &in, &ex), 0, "invite: encode");
	rc = inv__record_invite_decode(in.hash, b.p, b.len, &out, &ex2);
	is_int(rc, 0, "invite: decode");
	if (out == NULL)
		return;
	is_str(out->id, in.id, "invite: id from the key");
	is_int(out->kind, INVITES_KIND_ACCOUNT, "invite: kind");
	is_int(out->flags, INVITES_F_ADMIN, "invite: flags");
	is_str(out->domain, "example.com", "invite: domain");
	is_str(out->username, "juliet", "invite: username");
	is_str(out->inviter, "romeo@example.com", "invite: inviter");
	is_str(out->created_by, "invitectl:root", "invite: created_by");
	ok(out->note == NULL, "invite: NULL note stays NULL");
	is_int(out->n_roles, 2, "invite: two roles");
	is_str(out->n_roles == 2 ? out->roles[1] : NULL, "moderator",
	       "invite: roles in order");
	is_int(out->n_groups, 1, "invite: one group");
	is_int(out->created, 1700000000, "invite: created");
	is_int(out->expires, 1700604800, "invite: expires");
	is_int(out->uses, 1, "invite: uses");
	is_int(out->max_uses, 3, "invite: max_uses");
	is_str(out->last_used_by, "nurse@example.com", "invite: last_used_by");
	is_int(ex2.used_at, ex.used_at, "invite: used_at");
	is_int(ex2.purge_at, ex.purge_at, "invite: purge_at");
	invites_invite_free(&out);

	is_int(inv__record_invite_peek(b.p, b.len, &pk), 0, "peek");
	ok(pk.inviter_len == 17 && memcmp(pk.inviter, "romeo@example.com", 17) == 0,
	   "peek: inviter in place");
	is_int(pk.purge_at, ex.purge_at, "peek: purge_at");
	is_int(inv__time_from_key((const unsigned char *)b.p +
	                          INV__REC_INVITE_PURGE_OFF),
	       ex.purge_at, "the purge key is at its fixed offset");

	check_truncations("invite", &b, dec_invite);

	/* a newer version is not guessed at */
	b.p[1] = INV__REC_VERSION + 1;
	is_int(dec_invite(b.p, b.len), INVITES_EVERSION, "invite: newer version");
	b.p[1] = 0;
	is_int(dec_invite(b.p, b.len), INVITES_ECORRUPT, "invite: version 0");
	b.p[1] = INV__REC_VERSION;
	b.p[0] = 'X';
	is_int(dec_invite(b.p, b.len), INVITES_ECORRUPT, "invite: wrong type");
	b.p[0] = INV__REC_INVITE;
	b.p[2] = 9;
	is_int(dec_invite(b.p, b.len), INVITES_ECORRUPT, "invite: unknown kind");
	b.p[2] = INVITES_KIND_ACCOUNT;
	is_int(dec_invite(b.p, b.len), 0, "invite: restored record decodes");

	/* a NUL inside a string, a huge length, a zero max_uses */
	flip = malloc(b.len);
	memcpy(flip, b.p, b.len);
	flip[INV__REC_INVITE_FIXED + 4 + 3] = '\0'; /* inside "example.com" */
	is_int(dec_invite(flip, b.len), INVITES_ECORRUPT, "invite: NUL in a string");
	memcpy(flip, b.p, b.len);
	inv__put_u32(flip + INV__REC_INVITE_FIXED, 0x7fffffff);
	is_int(dec_invite(flip, b.len), INVITES_ECORRUPT, "invite: overlong string");
	memcpy(flip, b.p, b.len);
	inv__put_u32(flip + 52, 0);
	is_int(dec_invite(flip, b.len), INVITES_ECORRUPT, "invite: max_uses 0");
	memcpy(flip, b.p, b.len);
	inv__put_u32(flip + INV__REC_INVITE_FIXED, 0xffffffffu);
	is_int(dec_invite(flip, b.len), INVITES_ECORRUPT, "invite: no domain");

	/* every single bit flipped: either refused or decoded, never a crash
	 * (the sanitizer build checks the "never") */
	bad = 0;
	for (i = 0; i < b.len * 8; i++) {
		memcpy(flip, b.p, b.len);
		flip[i / 8] ^= (unsigned char)(1u << (i % 8));
		rc = dec_invite(flip, b.len);
		if (rc != 0 && rc != INVITES_ECORRUPT && rc != INVITES_EVERSION)
			bad++;
	}
	is_int(bad, 0, "invite: bit flips give 0, ECORRUPT or EVERSION");
	free(flip);
	inv__buf_free(&b);

	/* NULL strings everywhere and no roles */
	memset(&in, 0, sizeof(in));
	in.kind = INVITES_KIND_CONTACT;
	in.domain = s_org;
	in.max_uses = 1;
	inv__buf_init(&b);
	inv__record_invite_encode(&b, &in, &ex);
	rc = inv__record_invite_decode(in.hash, b.p, b.len, &out, NULL);
	is_int(rc, 0, "minimal invite decodes");
	ok(out != NULL && out->username == NULL && out->inviter == NULL &&
	   out->n_roles == 0 && out->roles == NULL, "minimal invite: NULLs");
	is_int(inv__record_invite_peek(b.p, b.len, &pk), 0, "minimal peek");
	ok(pk.inviter == NULL, "minimal peek: no inviter");
	invites_invite_free(&out);
	inv__buf_free(&b);
}

static void
test_pending(void)
{
	unsigned char h[INVITES_HASH_LEN], h2[INVITES_HASH_LEN];
	struct invites_pending in, *out = NULL;
	struct inv__buf b;
	char id[INVITES_ID_LEN + 1];

	memset(h, 0xab, sizeof(h));
	memset(&in, 0, sizeof(in));
	in.jid = s_jjid;
	in.pair_with = s_romeo;
	in.roles = roles;
	in.n_roles = 1;
	in.groups = groups;
	in.n_groups = 1;
	in.created = 42;
	inv__buf_init(&b);
	is_int(inv__record_pending_encode(&b, &in, h), 0, "pending: encode");
	is_int(inv__record_pending_decode(in.jid, strlen(in.jid), b.p, b.len,
	                                  &out, h2), 0, "pending: decode");
	if (out != NULL) {
		invites_hash_id(h, id);
		is_str(out->jid, "juliet@example.com", "pending: jid from key");
		is_str(out->invite_id, id, "pending: invite id from the hash");
		ok(memcmp(h, h2, sizeof(h)) == 0, "pending: invite hash");
		is_str(out->pair_with, "romeo@example.com", "pending: pair_with");
		is_int(out->n_roles, 1, "pending: roles");
		is_str(out->n_groups ? out->groups[0] : NULL, "Friends",
		       "pending: groups");
		is_int(out->created, 42, "pending: created");
	}
	invites_pending_free(&out);
	ok(out == NULL, "invites_pending_free sets NULL");
	invites_pending_free(NULL);
	check_truncations("pending", &b, dec_pending);
	ok(inv__record_pending_decode("a\0b", 3, b.p, b.len, &out, NULL) ==
	   INVITES_ECORRUPT, "pending: NUL in the key");
	inv__buf_free(&b);
}

static void
test_roles_audit_reserve(void)
{
	unsigned char h[INVITES_HASH_LEN], h2[INVITES_HASH_LEN];
	struct invites_audit a, a2;
	struct inv__buf b;
	char **r = NULL, *strings = NULL;
	size_t n = 0;

	inv__buf_init(&b);
	is_int(inv__record_roles_encode(&b, roles, 2), 0, "roles: encode");
	is_int(inv__record_roles_decode(b.p, b.len, &r, &n), 0, "roles: decode");
	ok(n == 2 && strcmp(r[0], "admin") == 0, "roles: content");
	invites_strv_free(r, n);
	check_truncations("roles", &b, dec_roles);
	inv__buf_free(&b);

	memset(&a, 0, sizeof(a));
	a.time = 1234;
	a.event = INVITES_EV_USED;
	memcpy(a.id, "0123456789ab", 13);
	a.kind = INVITES_KIND_CONTACT;
	a.domain = "example.com";
	a.actor = NULL;
	a.subject = "juliet@example.com";
	inv__buf_init(&b);
	is_int(inv__record_audit_encode(&b, &a), 0, "audit: encode");
	is_int(inv__record_audit_decode(77, b.p, b.len, &a2, &strings), 0,
	       "audit: decode");
	is_int(a2.seq, 77, "audit: seq from the key");
	is_int(a2.event, INVITES_EV_USED, "audit: event");
	is_str(a2.id, "0123456789ab", "audit: id");
	is_str(a2.domain, "example.com", "audit: domain");
	ok(a2.actor == NULL, "audit: NULL actor");
	is_str(a2.subject, "juliet@example.com", "audit: subject");
	free(strings);
	check_truncations("audit", &b, dec_audit);
	b.p[2] = 99;
	is_int(dec_audit(b.p, b.len), INVITES_ECORRUPT, "audit: unknown event");
	inv__buf_free(&b);

	memset(h, 0x5a, sizeof(h));
	inv__buf_init(&b);
	is_int(inv__record_reserve_encode(&b, h), 0, "reserve: encode");
	is_int(inv__record_reserve_decode(b.p, b.len, h2), 0, "reserve: decode");
	ok(memcmp(h, h2, sizeof(h)) == 0, "reserve: hash");
	check_truncations("reserve", &b, dec_reserve);
	inv__buf_free(&b);
}

static void
test_keys_and_noise(void)
{
	unsigned char k1[8], k2[8], k3[8], noise[512];
	int64_t t[] = { INT64_MIN, -1, 0, 1, 1700000000, INT64_MAX };
	size_t i, j;
	int bad = 0, order = 1;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		inv__time_key(k1, t[i]);
		if (inv__time_from_key(k1) != t[i])
			bad++;
		if (i > 0) {
			inv__time_key(k2, t[i - 1]);
			if (memcmp(k2, k1, 8) >= 0)
				order = 0;
		}
	}
	is_int(bad, 0, "time keys round-trip");
	ok(order, "time keys sort like times, negative ones too");
	inv__put_u64(k3, UINT64_C(0x0102030405060708));
	ok(k3[0] == 1 && k3[7] == 8 && inv__get_u64(k3) == UINT64_C(0x0102030405060708),
	   "u64 is big-endian");

	/* random bytes: refused, never a crash (pseudo-random, reproducible) */
	srand(7);
	bad = 0;
	for (i = 0; i < 2000; i++) {
		size_t n = (size_t)rand() % sizeof(noise);

		for (j = 0; j < n; j++)
			noise[j] = (unsigned char)rand();
		if (n > 0)
			noise[0] = (unsigned char)"IPRAS"[i % 5];
		if (n > 1)
			noise[1] = 1;
		if (dec_invite(noise, n) == 0 || dec_pending(noise, n) == 0 ||
		    dec_roles(noise, n) == 0 || dec_audit(noise, n) == 0)
			bad++;
	}
	ok(bad < 5, "random records are refused (%d accepted)", bad);
}

int
main(void)
{
	test_invite();
	test_pending();
	test_roles_audit_reserve();
	test_keys_and_noise();
	return done_testing();
}
