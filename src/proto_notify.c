/* SPDX-License-Identifier: MIT */
/*
 * Protocol engine, operations: the inviter's notification when an invite
 * is used, and the revocation of a deleted user's pending invites.
 *
 * Notification (docs/operations.md).  When an account is created with an
 * invite, or a contact invite approves a subscription, the engine emits a
 * chat message from the server's domain to the invite's creator, as an
 * ordinary send action: the host routes it like any stanza to a local
 * user, so a server with offline storage keeps it for an inviter who is
 * not online.  Who gets it:
 *   - the creator is the invite's inviter, else its created_by when that
 *     is a bare JID of a served domain (an admin's ad-hoc invite, or one
 *     imported from ejabberd);
 *   - an account invite whose creator is an admin is governed by
 *     notify_admins; every other invite of a local creator by
 *     notify_inviter;
 *   - an account invite with no JID creator (made with invitectl, or
 *     imported from prosodyctl) goes, with notify_admins, to every JID in
 *     `admins`;
 *   - password resets notify nobody.
 * The text comes from notify_joined / notify_accepted (text, or an
 * absolute path to a file holding it) with {invitee}, {inviter},
 * {invite}, {kind}, {domain} and {note} replaced.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "proto.h"
#include "xml.h"

#define DEFAULT_JOINED   "{invitee} joined with your invite"
#define DEFAULT_ACCEPTED "{invitee} accepted your contact invite"
#define TEMPLATE_MAX 4096

static int
config_bool(struct inv__proto *p, const char *key, int dflt)
{
	int v;

	if (invites_config_get_bool(p->cfg, key, &v) != 0)
		return dflt;
	return v;
}

/* The template text: the key's value, or the file it names. */
static char *
template_text(struct inv__proto *p, const char *key, const char *dflt,
              struct inv__out *o)
{
	const char *v = invites_config_get(p->cfg, key);
	char buf[TEMPLATE_MAX + 1];
	size_t n;
	FILE *f;

	if (v == NULL || *v == '\0')
		return inv__strdup(dflt);
	if (v[0] != '/')
		return inv__strdup(v);
	f = fopen(v, "r");
	if (f == NULL) {
		inv__out_log(o, INVITES_LOG_WARNING,
		             "invites: %s: cannot read %s; the default text "
		             "is used", key, v);
		return inv__strdup(dflt);
	}
	n = fread(buf, 1, TEMPLATE_MAX, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n == 0)
		return inv__strdup(dflt);
	return inv__strdup(buf);
}

/* tmpl with its placeholders replaced (unknown ones are kept). */
static char *
expand(const char *tmpl, const struct invites_invite *inv,
       const char *invitee, const char *creator)
{
	static const char *const names[] = {
		"invitee", "inviter", "invite", "kind", "domain", "note"
	};
	const char *vals[6];
	struct inv__buf b;
	const char *s, *e;
	size_t i, n;

	vals[0] = invitee;
	vals[1] = creator ? creator : "";
	vals[2] = inv->id;
	vals[3] = invites_kind_name(inv->kind);
	vals[4] = inv->domain ? inv->domain : "";
	vals[5] = inv->note ? inv->note : "";
	inv__buf_init(&b);
	for (s = tmpl; *s != '\0'; s++) {
		if (*s == '{' && (e = strchr(s, '}')) != NULL) {
			n = (size_t)(e - s - 1);
			for (i = 0; i < 6; i++)
				if (strlen(names[i]) == n &&
				    strncmp(s + 1, names[i], n) == 0)
					break;
			if (i < 6) {
				inv__buf_puts(&b, vals[i]);
				s = e;
				continue;
			}
		}
		inv__buf_append(&b, s, 1);
	}
	return inv__buf_steal(&b);
}

static int
send_message(struct inv__proto *p, struct inv__out *o, const char *to,
             const char *from, const char *text)
{
	struct inv__xml *m;
	int err = 0, rc;

	(void)p;
	m = inv__b_new(INV_XML_NS_CLIENT, "message", &err);
	inv__b_attr(m, "type", "chat", &err);
	inv__b_attr(m, "from", from, &err);
	inv__b_attr(m, "to", to, &err);
	inv__b_attr(m, "id", "invites-notify", &err);
	inv__b_text_el(m, INV_XML_NS_CLIENT, "body", text, &err);
	rc = err != 0 ? INVITES_ENOMEM : inv__out_send(o, m);
	inv__xml_free(&m);
	return rc;
}

/* The creator as a local bare JID, or NULL. */
static const char *
creator_of(struct inv__proto *p, const struct invites_invite *inv,
           char buf[INVITES_JID_MAX + 1])
{
	const char *c = inv->inviter != NULL ? inv->inviter : inv->created_by;
	size_t dom;

	if (c == NULL || strchr(c, '@') == NULL || strchr(c, '/') != NULL ||
	    inv__proto_bare(c, buf, &dom) < 0 || dom == 0 ||
	    !invites_config_serves(p->cfg, buf + dom))
		return NULL;
	return buf;
}

int
inv__proto_notify(struct inv__proto *p, const struct invites_invite *inv,
                  const char *invitee, int accepted, struct inv__out *o)
{
	char cbuf[INVITES_JID_MAX + 1];
	const char *creator, *const *admins = NULL;
	char *tmpl = NULL, *text = NULL;
	size_t n_admins = 0, i, sent = 0;
	int rc = 0, admin_kind;

	if (p == NULL || inv == NULL || invitee == NULL ||
	    inv->kind == INVITES_KIND_RESET || inv->domain == NULL)
		return 0;
	creator = creator_of(p, inv, cbuf);
	admin_kind = inv->kind == INVITES_KIND_ACCOUNT &&
	             (creator == NULL || inv__proto_is_admin(p, creator) == 1);
	if (!config_bool(p, admin_kind ? "notify_admins" : "notify_inviter",
	                 !admin_kind))
		return 0;
	if (creator == NULL) {
		if (!admin_kind ||
		    invites_config_get_list(p->cfg, "admins", &admins,
		                            &n_admins) != 0 || n_admins == 0)
			return 0;
	}
	tmpl = template_text(p, accepted ? "notify_accepted" : "notify_joined",
	                     accepted ? DEFAULT_ACCEPTED : DEFAULT_JOINED, o);
	if (tmpl != NULL)
		text = expand(tmpl, inv, invitee,
		              creator ? creator : inv->created_by);
	if (text == NULL) {
		rc = INVITES_ENOMEM;
		goto out;
	}
	if (creator != NULL) {
		if (strcmp(creator, invitee) != 0 &&
		    (rc = send_message(p, o, creator, inv->domain, text)) == 0)
			sent++;
	} else {
		for (i = 0; i < n_admins && rc == 0; i++) {
			if (strcmp(admins[i], invitee) == 0)
				continue;
			rc = send_message(p, o, admins[i], inv->domain, text);
			if (rc == 0)
				sent++;
		}
	}
	if (rc == 0 && sent > 0)
		rc = inv__out_log(o, INVITES_LOG_INFO,
		                  "invites: told %s that %s used invite %s",
		                  creator ? creator : "the admins", invitee,
		                  inv->id);
out:
	free(tmpl);
	invites_free(text);
	return rc;
}

int
inv__proto_notify_by_id(struct inv__proto *p, const char *invite_id,
                        const char *invitee, struct inv__out *o)
{
	struct invites_invite *inv = NULL;
	int rc;

	if (p == NULL || invite_id == NULL)
		return 0;
	rc = invites_get_by_id(p->st, invite_id, &inv);
	if (rc != 0) {
		/* purged or revoked meanwhile: nobody to tell */
		return rc == INVITES_ENOMEM ? rc : 0;
	}
	rc = inv__proto_notify(p, inv, invitee, 0, o);
	invites_invite_free(&inv);
	return rc;
}

/* ------------------------------------------------------------------ */
/* revoke_on_delete                                                    */
/* ------------------------------------------------------------------ */

struct doomed {
	const char *jid;
	char (*ids)[INVITES_ID_LEN + 1];
	size_t n, cap;
	int oom;
};

static int
collect(void *ctx, const struct invites_invite *inv)
{
	struct doomed *d = ctx;
	char (*v)[INVITES_ID_LEN + 1];

	if ((inv->inviter == NULL || strcmp(inv->inviter, d->jid) != 0) &&
	    (inv->created_by == NULL || strcmp(inv->created_by, d->jid) != 0))
		return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;

		v = inv__realloc(d->ids, cap * sizeof(*v));
		if (v == NULL) {
			d->oom = 1;
			return 1;
		}
		d->ids = v;
		d->cap = cap;
	}
	memcpy(d->ids[d->n++], inv->id, INVITES_ID_LEN + 1);
	return 0;
}

int
inv__proto_user_deleted(struct inv__proto *p, const char *jid,
                        struct inv__out *o)
{
	char bare[INVITES_JID_MAX + 1];
	struct invites_filter f;
	struct doomed d;
	size_t dom, i, revoked = 0;
	int rc;

	if (p == NULL || inv__proto_bare(jid, bare, &dom) < 0 || dom == 0 ||
	    !invites_config_serves(p->cfg, bare + dom) ||
	    !config_bool(p, "revoke_on_delete", 1))
		return INV__PASS;
	memset(&d, 0, sizeof(d));
	d.jid = bare;
	memset(&f, 0, sizeof(f));
	f.domain = bare + dom;
	rc = invites_list(p->st, &f, collect, &d);
	if (d.oom)
		rc = INVITES_ENOMEM;
	for (i = 0; rc >= 0 && i < d.n; i++) {
		rc = invites_revoke(p->st, d.ids[i], "server:account-deleted",
		                    NULL);
		if (rc == INVITES_EREVOKED || rc == INVITES_ENOTFOUND)
			rc = 0;
		else if (rc == 0)
			revoked++;
	}
	free(d.ids);
	if (rc < 0) {
		inv__out_log(o, INVITES_LOG_ERR,
		             "invites: the pending invites of deleted account "
		             "%s were not all revoked: %s", bare,
		             invites_strerror(rc));
		o->result = INV__REJECT;
		o->err_type = invites_err_type(rc);
		o->err_cond = invites_err_condition(rc);
		return INV__REJECT;
	}
	if (revoked == 0)
		return INV__PASS;
	inv__out_log(o, INVITES_LOG_NOTICE,
	             "invites: account %s deleted: %zu pending invite%s "
	             "revoked", bare, revoked, revoked == 1 ? "" : "s");
	o->result = INV__ACCEPT;
	return INV__ACCEPT;
}
