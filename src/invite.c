/* SPDX-License-Identifier: MIT */
/*
 * Invite policy: kind names, freeing, roles and the pure validity check
 * that decides whether an invite may be used for a purpose (pre-auth,
 * registration, password reset, subscription approval).  No store access
 * here: the store calls invites_invite_validate inside its transactions and
 * the protocol engine calls it on invites it has looked up.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const struct {
	enum invites_kind kind;
	const char *name;
} kind_names[] = {
	{ INVITES_KIND_ACCOUNT, "account" },
	{ INVITES_KIND_CONTACT, "contact" },
	{ INVITES_KIND_RESET, "reset" },
};

#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))

const char *
invites_kind_name(enum invites_kind kind)
{
	size_t i;

	for (i = 0; i < N_KINDS; i++) {
		if (kind_names[i].kind == kind)
			return kind_names[i].name;
	}
	return "unknown";
}

int
invites_kind_parse(const char *s, enum invites_kind *kind_r)
{
	size_t i;

	if (s == NULL || kind_r == NULL)
		return INVITES_EINVAL;
	for (i = 0; i < N_KINDS; i++) {
		if (strcmp(kind_names[i].name, s) == 0) {
			*kind_r = kind_names[i].kind;
			return INVITES_OK;
		}
	}
	return INVITES_EINVAL;
}

void
invites_invite_free(struct invites_invite **inv)
{
	struct invites_invite *p;

	if (inv == NULL || *inv == NULL)
		return;
	p = *inv;
	free(p->domain);
	free(p->username);
	free(p->inviter);
	free(p->created_by);
	free(p->note);
	invites_strv_free(p->roles, p->n_roles);
	invites_strv_free(p->groups, p->n_groups);
	free(p->last_used_by);
	/* The hash is not the token, but there is no reason to leave it. */
	inv__cleanse(p, sizeof(*p));
	free(p);
	*inv = NULL;
}

int
invites_invite_has_role(const struct invites_invite *inv, const char *role)
{
	size_t i;

	if (inv == NULL || role == NULL)
		return 0;
	if (strcmp(role, "admin") == 0 && (inv->flags & INVITES_F_ADMIN))
		return 1;
	if (inv->roles == NULL)
		return 0;
	for (i = 0; i < inv->n_roles; i++) {
		if (inv->roles[i] != NULL && strcmp(inv->roles[i], role) == 0)
			return 1;
	}
	return 0;
}

/* May an invite of this kind (and flags) serve this purpose? */
static int
kind_serves(const struct invites_invite *inv, enum invites_purpose purpose)
{
	int contact_ibr = inv->kind == INVITES_KIND_CONTACT &&
	                  (inv->flags & INVITES_F_REGISTER);

	switch (purpose) {
	case INVITES_FOR_PREAUTH:
		return inv->kind == INVITES_KIND_ACCOUNT || contact_ibr ||
		       inv->kind == INVITES_KIND_RESET;
	case INVITES_FOR_REGISTER:
		return inv->kind == INVITES_KIND_ACCOUNT || contact_ibr;
	case INVITES_FOR_RESET:
		return inv->kind == INVITES_KIND_RESET;
	case INVITES_FOR_SUBSCRIBE:
		return inv->kind == INVITES_KIND_CONTACT;
	case INVITES_FOR_ANY:
		return inv->kind == INVITES_KIND_ACCOUNT ||
		       inv->kind == INVITES_KIND_CONTACT ||
		       inv->kind == INVITES_KIND_RESET;
	}
	return 0;
}

static int
same(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

int
invites_invite_validate(const struct invites_invite *inv, const char *domain,
                        enum invites_purpose purpose, const char *username,
                        int64_t now, int check_expiry)
{
	uint32_t max_uses;

	if (inv == NULL || domain == NULL)
		return INVITES_EINVAL;
	if (purpose != INVITES_FOR_REGISTER && purpose != INVITES_FOR_SUBSCRIBE &&
	    purpose != INVITES_FOR_RESET && purpose != INVITES_FOR_ANY &&
	    purpose != INVITES_FOR_PREAUTH)
		return INVITES_EINVAL;

	if (!same(inv->domain, domain))
		return INVITES_EDOMAIN;
	if ((inv->flags & INVITES_F_REVOKED) || inv->revoked != 0)
		return INVITES_EREVOKED;
	/* 0 is how a spec says "single use"; treat a stored 0 the same. */
	max_uses = inv->max_uses ? inv->max_uses : 1;
	if (inv->uses >= max_uses)
		return INVITES_EUSED;
	if (check_expiry && now >= inv->expires)
		return INVITES_EEXPIRED;
	if (!kind_serves(inv, purpose))
		return INVITES_EKIND;

	if (purpose == INVITES_FOR_RESET) {
		/* A reset is for exactly one existing user, always named. */
		if (!same(inv->username, username))
			return INVITES_EUSERNAME;
	} else if (inv->username != NULL && username != NULL &&
	           (inv->kind == INVITES_KIND_ACCOUNT ||
	            inv->kind == INVITES_KIND_RESET) &&
	           strcmp(inv->username, username) != 0) {
		/* A preset name binds; NULL means "not known yet". */
		return INVITES_EUSERNAME;
	}
	return INVITES_OK;
}
