/* SPDX-License-Identifier: MIT */
/*
 * Import of invites read from another server (Prosody, ejabberd): the
 * library half of `invitectl import`.
 *
 * The readers (src/import_prosody.c, src/import_ejabberd.c, built into
 * invitectl) turn the other server's storage into plain records; this file
 * checks every record the way invites_create() checks a new invite
 * (normalised names, a served domain, sane kind and field combinations),
 * decides what each becomes (a pending invite that keeps its token, audit
 * records for a used one, nothing for an expired one) and hands the whole
 * batch to the store as one transaction, so a bad record leaves the store
 * as it was.  Errors name the record by the reader's label and the
 * invite's public id, never by its token.
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "record.h"
#include "store.h"

#define NORM_MAX (INVITES_JID_MAX + 1)

struct prepared {
	struct invites_invite *inv;      /* the invite as it would be stored */
	enum invites_import_action action;
	struct invites_audit audit[2];
	size_t n_audit;
	char *subject;                   /* "import:SOURCE" */
};

static int
fail(char **errmsg_r, int rc, const struct invites_import_record *r,
     size_t i, const char *fmt, ...) INVITES_PRINTF(5, 6);

static int
fail(char **errmsg_r, int rc, const struct invites_import_record *r,
     size_t i, const char *fmt, ...)
{
	char *why, *msg;
	va_list ap;

	if (errmsg_r == NULL)
		return rc;
	va_start(ap, fmt);
	why = inv__vasprintf(fmt, ap);
	va_end(ap);
	if (r != NULL && r->label != NULL)
		msg = inv__asprintf("%s: %s", r->label,
		                    why != NULL ? why : invites_strerror(rc));
	else
		msg = inv__asprintf("record %zu: %s", i + 1,
		                    why != NULL ? why : invites_strerror(rc));
	free(why);
	free(*errmsg_r);
	*errmsg_r = msg;
	return rc;
}

/* Text stored in the invite (actor, note): no control characters. */
static int
text_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return n > 0 && n <= max;
}

static int
dup_to(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	*dst = inv__strdup(src);
	return *dst != NULL ? 0 : INVITES_ENOMEM;
}

static void
prepared_free(struct prepared *p)
{
	invites_invite_free(&p->inv);
	free(p->subject);
	p->subject = NULL;
}

static void
audit_set(struct invites_audit *a, enum invites_event ev, int64_t t,
          const struct invites_invite *inv, const char *actor,
          const char *subject)
{
	memset(a, 0, sizeof(*a));
	a->event = ev;
	a->time = t;
	memcpy(a->id, inv->id, sizeof(a->id));
	a->kind = inv->kind;
	a->domain = inv->domain;
	a->actor = actor;
	a->subject = subject;
}

/* Roles: checked, without duplicates; INVITES_F_ADMIN when "admin". */
static int
set_roles(struct invites_invite *inv, const struct invites_import_record *r)
{
	size_t i, j;
	int dup;

	if (r->n_roles == 0)
		return 0;
	if (r->roles == NULL || r->n_roles > INV__MAX_ROLES)
		return INVITES_EINVAL;
	inv->roles = inv__calloc(r->n_roles, sizeof(char *));
	if (inv->roles == NULL)
		return INVITES_ENOMEM;
	for (i = 0; i < r->n_roles; i++) {
		if (r->roles[i] == NULL || !text_ok(r->roles[i], INV__MAX_ROLE_LEN))
			return INVITES_EINVAL;
		dup = 0;
		for (j = 0; j < inv->n_roles; j++)
			if (strcmp(inv->roles[j], r->roles[i]) == 0)
				dup = 1;
		if (dup)
			continue;
		inv->roles[inv->n_roles] = inv__strdup(r->roles[i]);
		if (inv->roles[inv->n_roles] == NULL)
			return INVITES_ENOMEM;
		inv->n_roles++;
	}
	if (invites_invite_has_role(inv, "admin"))
		inv->flags |= INVITES_F_ADMIN;
	return 0;
}

static int
set_groups(struct invites_invite *inv, const struct invites_import_record *r)
{
	size_t i;

	if (r->n_groups == 0)
		return 0;
	if (r->groups == NULL || r->n_groups > INV__MAX_GROUPS)
		return INVITES_EINVAL;
	for (i = 0; i < r->n_groups; i++)
		if (r->groups[i] == NULL ||
		    !text_ok(r->groups[i], INV__MAX_GROUP_LEN))
			return INVITES_EINVAL;
	inv->groups = inv__strv_dup(r->groups, r->n_groups);
	if (inv->groups == NULL)
		return INVITES_ENOMEM;
	inv->n_groups = r->n_groups;
	return 0;
}

/* Was a used record used so long ago that purge would drop its audit
 * records at once (audit_retention)?  Appended after newer records, they
 * would otherwise outlive it: the audit is trimmed oldest-first. */
static int
used_before(const struct invites_config *cfg,
            const struct invites_import_record *r, int64_t now)
{
	int64_t keep, t = r->used_at > 0 ? r->used_at : r->created;

	if (invites_config_get_duration(cfg, "audit_retention", &keep) != 0 ||
	    keep <= 0 || now - keep < 0)
		return 0;
	return t < now - keep;
}

/* Check record r and build what it becomes into p. */
static int
prepare(const struct invites_config *cfg, const struct invites_import_record *r,
        size_t i, const char *source, int64_t now, struct prepared *p,
        char **errmsg_r)
{
	char domain[NORM_MAX], user[NORM_MAX], jid[NORM_MAX];
	struct invites_invite *inv;
	const char *at, *actor;
	int rc;

	memset(p, 0, sizeof(*p));
	if (r->token == NULL || !invites_token_plausible(r->token))
		return fail(errmsg_r, INVITES_ETOKEN, r, i,
		            "the token is not %d to %d characters of "
		            "A-Z a-z 0-9 - _", INVITES_TOKEN_MIN,
		            INVITES_TOKEN_MAX);
	p->inv = inv = inv__calloc(1, sizeof(*inv));
	if (inv == NULL)
		return INVITES_ENOMEM;
	invites_token_hash(r->token, inv->hash);
	invites_hash_id(inv->hash, inv->id);
	if (r->kind != INVITES_KIND_ACCOUNT && r->kind != INVITES_KIND_CONTACT &&
	    r->kind != INVITES_KIND_RESET)
		return fail(errmsg_r, INVITES_EINVAL, r, i,
		            "invite %s: unknown kind %d", inv->id, (int)r->kind);
	if ((r->flags & ~INVITES_F_REGISTER) != 0 ||
	    ((r->flags & INVITES_F_REGISTER) && r->kind != INVITES_KIND_CONTACT))
		return fail(errmsg_r, INVITES_EINVAL, r, i,
		            "invite %s: only contact invites may also register",
		            inv->id);
	inv->kind = r->kind;
	inv->flags = r->flags;
	if (r->domain == NULL ||
	    invites_nameprep(r->domain, domain, sizeof(domain)) != 0)
		return fail(errmsg_r, INVITES_EJID, r, i,
		            "invite %s: the domain is missing or malformed",
		            inv->id);
	if (!invites_config_serves(cfg, domain))
		return fail(errmsg_r, INVITES_EDOMAIN, r, i,
		            "invite %s: domain %s is not in `domains` of the "
		            "configuration", inv->id, domain);
	if ((rc = dup_to(&inv->domain, domain)) != 0)
		return rc;

	if (r->username != NULL) {
		if (r->kind == INVITES_KIND_CONTACT)
			return fail(errmsg_r, INVITES_EINVAL, r, i,
			            "invite %s: a contact invite has no username",
			            inv->id);
		if (invites_nodeprep(r->username, user, sizeof(user)) != 0)
			return fail(errmsg_r, INVITES_EJID, r, i,
			            "invite %s: username '%s' is not valid",
			            inv->id, r->username);
		if ((rc = dup_to(&inv->username, user)) != 0)
			return rc;
	} else if (r->kind == INVITES_KIND_RESET) {
		return fail(errmsg_r, INVITES_EINVAL, r, i,
		            "invite %s: a password reset names its account",
		            inv->id);
	}
	if (r->inviter != NULL) {
		if (invites_jid_bare(r->inviter, jid, sizeof(jid)) != 0 ||
		    strchr(jid, '@') == NULL)
			return fail(errmsg_r, INVITES_EJID, r, i,
			            "invite %s: inviter '%s' is not a user JID",
			            inv->id, r->inviter);
		if ((rc = dup_to(&inv->inviter, jid)) != 0)
			return rc;
	}
	if (r->kind == INVITES_KIND_CONTACT) {
		at = inv->inviter != NULL ? strchr(inv->inviter, '@') : NULL;
		if (at == NULL || strcmp(at + 1, domain) != 0)
			return fail(errmsg_r, INVITES_EINVAL, r, i,
			            "invite %s: a contact invite needs an inviter "
			            "on %s", inv->id, domain);
	}
	actor = r->created_by != NULL ? r->created_by : inv->inviter;
	if (actor != NULL && !text_ok(actor, INV__MAX_ACTOR_LEN))
		return fail(errmsg_r, INVITES_EINVAL, r, i,
		            "invite %s: the creator is empty, too long or "
		            "holds control characters", inv->id);
	if ((rc = dup_to(&inv->created_by, actor)) != 0)
		return rc;
	if (r->note != NULL && (strlen(r->note) > INV__MAX_NOTE_LEN ||
	                        r->note[0] == '\0'))
		return fail(errmsg_r, INVITES_EINVAL, r, i,
		            "invite %s: the note is empty or longer than %d "
		            "bytes", inv->id, INV__MAX_NOTE_LEN);
	if ((rc = dup_to(&inv->note, r->note)) != 0)
		return rc;
	rc = set_roles(inv, r);
	if (rc == INVITES_EINVAL)
		return fail(errmsg_r, rc, r, i,
		            "invite %s: more than %d roles, or an empty or "
		            "malformed one", inv->id, INV__MAX_ROLES);
	if (rc == 0)
		rc = set_groups(inv, r);
	if (rc == INVITES_EINVAL)
		return fail(errmsg_r, rc, r, i,
		            "invite %s: more than %d groups, or an empty or "
		            "malformed one", inv->id, INV__MAX_GROUPS);
	if (rc != 0)
		return rc;

	if (r->created <= 0 || r->expires <= r->created)
		return fail(errmsg_r, INVITES_EINVAL, r, i,
		            "invite %s: its times are not plausible (created "
		            "%lld, expires %lld)", inv->id, (long long)r->created,
		            (long long)r->expires);
	inv->created = r->created;
	inv->expires = r->expires;
	inv->max_uses = r->max_uses > 1 ? r->max_uses : 1;
	if (inv->max_uses > 1 && (r->kind == INVITES_KIND_RESET ||
	                          inv->username != NULL))
		return fail(errmsg_r, INVITES_EINVAL, r, i,
		            "invite %s: an invite for one name is used once",
		            inv->id);
	if (r->uses > inv->max_uses)
		return fail(errmsg_r, INVITES_EINVAL, r, i,
		            "invite %s: used %u times of %u", inv->id,
		            (unsigned)r->uses, (unsigned)inv->max_uses);
	inv->uses = r->uses;
	if (r->used_by != NULL) {
		if (invites_jid_bare(r->used_by, jid, sizeof(jid)) != 0)
			return fail(errmsg_r, INVITES_EJID, r, i,
			            "invite %s: invitee '%s' is not a JID",
			            inv->id, r->used_by);
		if ((rc = dup_to(&inv->last_used_by, jid)) != 0)
			return rc;
	}

	p->subject = inv__asprintf("import:%s", source);
	if (p->subject == NULL)
		return INVITES_ENOMEM;
	if (inv->uses >= inv->max_uses)
		p->action = used_before(cfg, r, now) ? INVITES_IMPORT_SKIP
		                                     : INVITES_IMPORT_AUDIT;
	else if (inv->expires <= now)
		p->action = INVITES_IMPORT_SKIP;
	else
		p->action = INVITES_IMPORT_PENDING;
	if (p->action == INVITES_IMPORT_SKIP)
		return 0;
	audit_set(&p->audit[p->n_audit++], INVITES_EV_CREATED, inv->created,
	          inv, inv->created_by, p->subject);
	if (inv->uses > 0)
		audit_set(&p->audit[p->n_audit++], INVITES_EV_USED,
		          r->used_at > 0 ? r->used_at : inv->created, inv,
		          inv->inviter != NULL ? inv->inviter : inv->created_by,
		          inv->last_used_by);
	return 0;
}

/* The same token, or the same reserved name, twice in one batch. */
static int
check_batch(const struct prepared *p, size_t n,
            const struct invites_import_record *recs, size_t *failed_r,
            char **errmsg_r)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (p[i].action == INVITES_IMPORT_SKIP)
			continue;
		*failed_r = i;
		for (j = 0; j < i; j++) {
			if (p[j].action == INVITES_IMPORT_SKIP)
				continue;
			if (memcmp(p[i].inv->hash, p[j].inv->hash,
			           INVITES_HASH_LEN) == 0)
				return fail(errmsg_r, INVITES_EEXIST, &recs[i],
				            i, "invite %s: the same token as %s",
				            p[i].inv->id,
				            recs[j].label ? recs[j].label : "another");
			if (p[i].action == INVITES_IMPORT_PENDING &&
			    p[j].action == INVITES_IMPORT_PENDING &&
			    inv__reserves_name(p[i].inv) &&
			    inv__reserves_name(p[j].inv) &&
			    strcmp(p[i].inv->domain, p[j].inv->domain) == 0 &&
			    strcmp(p[i].inv->username, p[j].inv->username) == 0)
				return fail(errmsg_r, INVITES_ERESERVED,
				            &recs[i], i,
				            "invite %s: username %s is reserved by "
				            "%s too", p[i].inv->id,
				            p[i].inv->username,
				            recs[j].label ? recs[j].label : "another");
		}
	}
	return 0;
}

/* Dry run: what the transaction would find in the store. */
static int
check_store(struct invites_store *st, const struct prepared *p, size_t n,
            const struct invites_import_record *recs, int64_t now,
            size_t *failed_r, char **errmsg_r)
{
	struct invites_invite *old = NULL;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		if (p[i].action != INVITES_IMPORT_PENDING)
			continue;
		*failed_r = i;
		rc = invites_get_by_token(st, recs[i].token, &old);
		invites_invite_free(&old);
		if (rc == 0)
			return fail(errmsg_r, INVITES_EEXIST, &recs[i], i,
			            "invite %s is already in the store (imported "
			            "before?)", p[i].inv->id);
		if (rc != INVITES_ENOTFOUND)
			return rc;
		if (inv__reserves_name(p[i].inv)) {
			rc = invites_username_reserved(st, p[i].inv->domain,
			                               p[i].inv->username, NULL,
			                               now);
			if (rc < 0)
				return rc;
			if (rc == 1)
				return fail(errmsg_r, INVITES_ERESERVED,
				            &recs[i], i,
				            "invite %s: username %s is reserved by "
				            "a pending invite in the store",
				            p[i].inv->id, p[i].inv->username);
		}
	}
	return 0;
}

int
invites_import(struct invites_store *st, const struct invites_config *cfg,
               const struct invites_import_record *recs, size_t n,
               const char *source, int64_t now, int dry_run,
               enum invites_import_action *actions_r, size_t *failed_r,
               char **errmsg_r)
{
	struct inv__import_item *items = NULL;
	struct inv__import_req req;
	struct prepared *p;
	size_t dummy, i;
	int rc = 0;

	if (failed_r == NULL)
		failed_r = &dummy;
	*failed_r = 0;
	if (errmsg_r != NULL)
		*errmsg_r = NULL;
	if ((st == NULL && !dry_run) || cfg == NULL || (n > 0 && recs == NULL) ||
	    source == NULL || !text_ok(source, 64))
		return INVITES_EINVAL;
	if (now == 0)
		now = inv__now();
	if (n == 0)
		return 0;
	p = inv__calloc(n, sizeof(*p));
	if (p == NULL)
		return INVITES_ENOMEM;
	for (i = 0; i < n && rc == 0; i++) {
		*failed_r = i;
		rc = prepare(cfg, &recs[i], i, source, now, &p[i], errmsg_r);
	}
	if (rc == 0)
		rc = check_batch(p, n, recs, failed_r, errmsg_r);
	if (rc == 0 && dry_run && st != NULL)
		rc = check_store(st, p, n, recs, now, failed_r, errmsg_r);
	if (rc == 0 && !dry_run) {
		items = inv__calloc(n, sizeof(*items));
		if (items == NULL)
			rc = INVITES_ENOMEM;
	}
	if (rc == 0 && !dry_run) {
		for (i = 0; i < n; i++) {
			if (p[i].action == INVITES_IMPORT_PENDING)
				items[i].inv = p[i].inv;
			items[i].audit = p[i].audit;
			items[i].n_audit = p[i].n_audit;
		}
		memset(&req, 0, sizeof(req));
		req.items = items;
		req.n = n;
		req.now = now;
		rc = inv__store_import(st, &req);
		if (rc == INVITES_EEXIST || rc == INVITES_ERESERVED) {
			*failed_r = req.failed;
			fail(errmsg_r, rc, &recs[req.failed], req.failed,
			     rc == INVITES_EEXIST
			     ? "invite %s is already in the store (imported "
			       "before?)"
			     : "invite %s: its username is reserved by a "
			       "pending invite in the store",
			     p[req.failed].inv->id);
		} else if (rc != 0) {
			*failed_r = req.failed;
		}
	}
	if (rc == 0 && actions_r != NULL)
		for (i = 0; i < n; i++)
			actions_r[i] = p[i].action;
	for (i = 0; i < n; i++)
		prepared_free(&p[i]);
	free(p);
	free(items);
	return rc;
}
