/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/invite.c: kind names, freeing, roles and the validity
 * check (its order of checks and the kind/purpose table).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tap.h"

#define NOW 1700000000LL

/* A fresh heap invite, as the store would return it. */
static struct invites_invite *
mk(enum invites_kind kind, unsigned flags, const char *username)
{
	struct invites_invite *inv = calloc(1, sizeof(*inv));
	const char *roles[] = { "member", "admin" };

	if (inv == NULL)
		abort();
	inv->kind = kind;
	inv->flags = flags;
	inv->domain = strdup("example.com");
	inv->username = username ? strdup(username) : NULL;
	inv->inviter = strdup("romeo@example.com");
	inv->created_by = strdup("invitectl:root");
	inv->note = strdup("a note");
	inv->roles = inv__strv_dup(roles, 2);
	inv->n_roles = 2;
	inv->groups = inv__strv_dup(roles, 1);
	inv->n_groups = 1;
	inv->created = NOW - 100;
	inv->expires = NOW + 100;
	inv->max_uses = 1;
	inv->last_used_by = strdup("x@example.com");
	strcpy(inv->id, "0123456789ab");
	return inv;
}

static void
test_kinds(void)
{
	enum invites_kind k = 0;

	is_str(invites_kind_name(INVITES_KIND_ACCOUNT), "account", "name account");
	is_str(invites_kind_name(INVITES_KIND_CONTACT), "contact", "name contact");
	is_str(invites_kind_name(INVITES_KIND_RESET), "reset", "name reset");
	is_str(invites_kind_name((enum invites_kind)0), "unknown", "name of 0");
	is_str(invites_kind_name((enum invites_kind)99), "unknown", "name of 99");

	is_int(invites_kind_parse("account", &k), 0, "parse account");
	is_int(k, INVITES_KIND_ACCOUNT, "parse account value");
	is_int(invites_kind_parse("contact", &k), 0, "parse contact");
	is_int(k, INVITES_KIND_CONTACT, "parse contact value");
	is_int(invites_kind_parse("reset", &k), 0, "parse reset");
	is_int(k, INVITES_KIND_RESET, "parse reset value");
	k = 0;
	is_int(invites_kind_parse("Account", &k), INVITES_EINVAL, "parse is exact");
	is_int(invites_kind_parse("", &k), INVITES_EINVAL, "parse empty");
	is_int(invites_kind_parse("accounts", &k), INVITES_EINVAL, "parse longer");
	is_int(k, 0, "failed parse leaves the output alone");
	is_int(invites_kind_parse(NULL, &k), INVITES_EINVAL, "parse NULL");
	is_int(invites_kind_parse("reset", NULL), INVITES_EINVAL, "parse NULL out");
}

static void
test_free_roles(void)
{
	struct invites_invite *inv = mk(INVITES_KIND_ACCOUNT, 0, "juliet");

	ok(invites_invite_has_role(inv, "admin"), "has admin");
	ok(invites_invite_has_role(inv, "member"), "has member");
	ok(!invites_invite_has_role(inv, "owner"), "has not owner");
	ok(!invites_invite_has_role(inv, "Admin"), "roles are exact");
	ok(!invites_invite_has_role(inv, NULL), "NULL role");
	ok(!invites_invite_has_role(NULL, "admin"), "NULL invite");
	invites_strv_free(inv->roles, inv->n_roles);
	inv->roles = NULL;
	inv->n_roles = 0;
	ok(!invites_invite_has_role(inv, "admin"), "no roles");
	inv->flags |= INVITES_F_ADMIN;
	ok(invites_invite_has_role(inv, "admin"), "F_ADMIN means admin");
	ok(!invites_invite_has_role(inv, "member"), "F_ADMIN means only admin");

	invites_invite_free(&inv);
	ok(inv == NULL, "free sets NULL");
	invites_invite_free(&inv);
	invites_invite_free(NULL);
	ok(1, "free of NULL is harmless");

	/* a zeroed invite (every pointer NULL) frees cleanly */
	inv = calloc(1, sizeof(*inv));
	invites_invite_free(&inv);
	ok(inv == NULL, "free of an empty invite");
}

static int
v(const struct invites_invite *inv, enum invites_purpose p, const char *user)
{
	return invites_invite_validate(inv, "example.com", p, user, NOW, 1);
}

static void
test_purposes(void)
{
	struct invites_invite *acc = mk(INVITES_KIND_ACCOUNT, 0, NULL);
	struct invites_invite *con = mk(INVITES_KIND_CONTACT, 0, NULL);
	struct invites_invite *cib = mk(INVITES_KIND_CONTACT, INVITES_F_REGISTER, NULL);
	struct invites_invite *rst = mk(INVITES_KIND_RESET, 0, "juliet");
	struct invites_invite *bad = mk((enum invites_kind)9, 0, NULL);

	/* PREAUTH: account, contact+ibr, reset */
	is_int(v(acc, INVITES_FOR_PREAUTH, NULL), 0, "preauth account");
	is_int(v(con, INVITES_FOR_PREAUTH, NULL), INVITES_EKIND, "preauth contact");
	is_int(v(cib, INVITES_FOR_PREAUTH, NULL), 0, "preauth contact+ibr");
	is_int(v(rst, INVITES_FOR_PREAUTH, NULL), 0, "preauth reset");
	is_int(v(bad, INVITES_FOR_PREAUTH, NULL), INVITES_EKIND, "preauth bad kind");
	/* REGISTER: account, contact+ibr */
	is_int(v(acc, INVITES_FOR_REGISTER, "x"), 0, "register account");
	is_int(v(con, INVITES_FOR_REGISTER, "x"), INVITES_EKIND, "register contact");
	is_int(v(cib, INVITES_FOR_REGISTER, "x"), 0, "register contact+ibr");
	is_int(v(rst, INVITES_FOR_REGISTER, "juliet"), INVITES_EKIND,
	       "register with reset");
	is_int(v(bad, INVITES_FOR_REGISTER, "x"), INVITES_EKIND, "register bad kind");
	/* RESET: reset only */
	is_int(v(acc, INVITES_FOR_RESET, "x"), INVITES_EKIND, "reset with account");
	is_int(v(con, INVITES_FOR_RESET, "x"), INVITES_EKIND, "reset with contact");
	is_int(v(cib, INVITES_FOR_RESET, "x"), INVITES_EKIND, "reset with contact+ibr");
	is_int(v(rst, INVITES_FOR_RESET, "juliet"), 0, "reset");
	/* SUBSCRIBE: contact only */
	is_int(v(acc, INVITES_FOR_SUBSCRIBE, NULL), INVITES_EKIND, "subscribe account");
	is_int(v(con, INVITES_FOR_SUBSCRIBE, NULL), 0, "subscribe contact");
	is_int(v(cib, INVITES_FOR_SUBSCRIBE, NULL), 0, "subscribe contact+ibr");
	is_int(v(rst, INVITES_FOR_SUBSCRIBE, NULL), INVITES_EKIND, "subscribe reset");
	/* ANY: every kind */
	is_int(v(acc, INVITES_FOR_ANY, NULL), 0, "any account");
	is_int(v(con, INVITES_FOR_ANY, NULL), 0, "any contact");
	is_int(v(cib, INVITES_FOR_ANY, NULL), 0, "any contact+ibr");
	is_int(v(rst, INVITES_FOR_ANY, NULL), 0, "any reset");
	is_int(v(bad, INVITES_FOR_ANY, NULL), INVITES_EKIND, "any bad kind");
	/* unknown purpose, bad arguments */
	is_int(v(acc, (enum invites_purpose)0, NULL), INVITES_EINVAL, "purpose 0");
	is_int(v(acc, (enum invites_purpose)6, NULL), INVITES_EINVAL, "purpose 6");
	is_int(v(NULL, INVITES_FOR_ANY, NULL), INVITES_EINVAL, "NULL invite");
	is_int(invites_invite_validate(acc, NULL, INVITES_FOR_ANY, NULL, NOW, 1),
	       INVITES_EINVAL, "NULL domain");

	invites_invite_free(&acc);
	invites_invite_free(&con);
	invites_invite_free(&cib);
	invites_invite_free(&rst);
	invites_invite_free(&bad);
}

static void
test_usernames(void)
{
	struct invites_invite *acc = mk(INVITES_KIND_ACCOUNT, 0, NULL);
	struct invites_invite *pre = mk(INVITES_KIND_ACCOUNT, 0, "juliet");
	struct invites_invite *rst = mk(INVITES_KIND_RESET, 0, "juliet");
	struct invites_invite *rsn = mk(INVITES_KIND_RESET, 0, NULL);
	struct invites_invite *cib = mk(INVITES_KIND_CONTACT, INVITES_F_REGISTER, "odd");

	is_int(v(acc, INVITES_FOR_REGISTER, "anyone"), 0, "free name: any user");
	is_int(v(acc, INVITES_FOR_REGISTER, NULL), 0, "free name: unknown user");
	is_int(v(pre, INVITES_FOR_REGISTER, "juliet"), 0, "preset: same user");
	is_int(v(pre, INVITES_FOR_REGISTER, "romeo"), INVITES_EUSERNAME,
	       "preset: other user");
	is_int(v(pre, INVITES_FOR_REGISTER, "Juliet"), INVITES_EUSERNAME,
	       "preset: compared as normalised (exact)");
	is_int(v(pre, INVITES_FOR_REGISTER, NULL), 0, "preset: user not known yet");
	is_int(v(pre, INVITES_FOR_PREAUTH, NULL), 0, "preset: preauth, no user");
	is_int(v(pre, INVITES_FOR_PREAUTH, "romeo"), INVITES_EUSERNAME,
	       "preset: preauth, other user");
	is_int(v(pre, INVITES_FOR_ANY, "romeo"), INVITES_EUSERNAME,
	       "preset: any, other user");
	is_int(v(rst, INVITES_FOR_RESET, "juliet"), 0, "reset: its user");
	is_int(v(rst, INVITES_FOR_RESET, "romeo"), INVITES_EUSERNAME,
	       "reset: other user");
	is_int(v(rst, INVITES_FOR_RESET, NULL), INVITES_EUSERNAME,
	       "reset: user required");
	is_int(v(rsn, INVITES_FOR_RESET, "juliet"), INVITES_EUSERNAME,
	       "reset without a target refuses everyone");
	is_int(v(rst, INVITES_FOR_PREAUTH, NULL), 0, "reset: preauth, no user");
	is_int(v(rst, INVITES_FOR_PREAUTH, "romeo"), INVITES_EUSERNAME,
	       "reset: preauth, other user");
	is_int(v(cib, INVITES_FOR_REGISTER, "someone"), 0,
	       "contact: username field does not bind");

	invites_invite_free(&acc);
	invites_invite_free(&pre);
	invites_invite_free(&rst);
	invites_invite_free(&rsn);
	invites_invite_free(&cib);
}

static void
test_states(void)
{
	struct invites_invite *inv = mk(INVITES_KIND_ACCOUNT, 0, "juliet");

	/* domain */
	is_int(invites_invite_validate(inv, "example.org", INVITES_FOR_REGISTER,
	                               "juliet", NOW, 1),
	       INVITES_EDOMAIN, "other domain");
	is_int(invites_invite_validate(inv, "EXAMPLE.com", INVITES_FOR_REGISTER,
	                               "juliet", NOW, 1),
	       INVITES_EDOMAIN, "domains compared normalised (exact)");
	free(inv->domain);
	inv->domain = NULL;
	is_int(v(inv, INVITES_FOR_REGISTER, "juliet"), INVITES_EDOMAIN,
	       "invite without a domain");
	inv->domain = strdup("example.com");

	/* expiry: now >= expires is expired */
	inv->expires = NOW + 1;
	is_int(v(inv, INVITES_FOR_REGISTER, "juliet"), 0, "one second left");
	inv->expires = NOW;
	is_int(v(inv, INVITES_FOR_REGISTER, "juliet"), INVITES_EEXPIRED,
	       "expires == now is expired");
	inv->expires = NOW - 1000;
	is_int(v(inv, INVITES_FOR_REGISTER, "juliet"), INVITES_EEXPIRED, "expired");
	is_int(invites_invite_validate(inv, "example.com", INVITES_FOR_REGISTER,
	                               "juliet", NOW, 0),
	       0, "expiry not checked at commit");

	/* uses */
	inv->uses = 1;
	is_int(v(inv, INVITES_FOR_REGISTER, "juliet"), INVITES_EUSED, "used up");
	inv->max_uses = 3;
	inv->uses = 2;
	inv->expires = NOW + 10;
	is_int(v(inv, INVITES_FOR_REGISTER, "juliet"), 0, "multi-use, 2 of 3");
	inv->uses = 3;
	is_int(v(inv, INVITES_FOR_REGISTER, "juliet"), INVITES_EUSED,
	       "multi-use, 3 of 3");
	inv->uses = 7;
	is_int(v(inv, INVITES_FOR_REGISTER, "juliet"), INVITES_EUSED,
	       "multi-use, over");
	inv->max_uses = 0;
	inv->uses = 0;
	is_int(v(inv, INVITES_FOR_REGISTER, "juliet"), 0, "max_uses 0: single use");
	inv->uses = 1;
	is_int(v(inv, INVITES_FOR_REGISTER, "juliet"), INVITES_EUSED,
	       "max_uses 0: used once is used up");
	inv->uses = 0;
	inv->max_uses = 1;

	/* revoked, both ways of saying it */
	inv->flags |= INVITES_F_REVOKED;
	is_int(v(inv, INVITES_FOR_REGISTER, "juliet"), INVITES_EREVOKED,
	       "revoked flag");
	inv->flags &= ~INVITES_F_REVOKED;
	inv->revoked = NOW - 5;
	is_int(v(inv, INVITES_FOR_REGISTER, "juliet"), INVITES_EREVOKED,
	       "revoked time");
	inv->revoked = 0;

	/* order: domain > revoked > used > expired > kind > username */
	inv->flags |= INVITES_F_REVOKED;
	inv->uses = 1;
	inv->expires = NOW - 1;
	is_int(invites_invite_validate(inv, "example.org", INVITES_FOR_RESET, "x",
	                               NOW, 1),
	       INVITES_EDOMAIN, "order: domain first");
	is_int(v(inv, INVITES_FOR_RESET, "x"), INVITES_EREVOKED,
	       "order: revoked before used");
	inv->flags &= ~INVITES_F_REVOKED;
	is_int(v(inv, INVITES_FOR_RESET, "x"), INVITES_EUSED,
	       "order: used before expired");
	inv->uses = 0;
	is_int(v(inv, INVITES_FOR_RESET, "x"), INVITES_EEXPIRED,
	       "order: expired before kind");
	inv->expires = NOW + 1;
	is_int(v(inv, INVITES_FOR_RESET, "x"), INVITES_EKIND,
	       "order: kind before username");
	is_int(v(inv, INVITES_FOR_REGISTER, "x"), INVITES_EUSERNAME,
	       "order: username last");
	is_int(v(inv, INVITES_FOR_REGISTER, "juliet"), 0, "all good");

	invites_invite_free(&inv);
}

int
main(void)
{
	test_kinds();
	test_free_roles();
	test_purposes();
	test_usernames();
	test_states();
	return done_testing();
}
