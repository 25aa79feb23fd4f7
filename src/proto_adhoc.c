/* SPDX-License-Identifier: MIT */
/*
 * Protocol engine, XEP-0050 commands on the server JID (protocol.md
 * section 8): discovery of the commands a requester may run, disco#info on
 * our nodes, urn:xmpp:invite#invite (contact invites for any local user),
 * urn:xmpp:invite#create-account (admins; an XEP-0004 form with our
 * extensions), a password-reset command under our node and Prosody's, and
 * list / revoke for admins.  Multi-step commands keep a small table of
 * sessions in the engine.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "proto.h"
#include "xml.h"

#define SESSION_TTL 600     /* seconds a multi-step command may take */
#define LIST_MAX 100        /* invites shown by the list command */

enum cmd {
	CMD_NONE = 0,
	CMD_INVITE,
	CMD_ACCOUNT,
	CMD_RESET,
	CMD_LIST,
	CMD_REVOKE
};

static const struct {
	const char *node;
	enum cmd cmd;
	const char *name;
	int listed;
} commands[] = {
	{ INV__NODE_INVITE, CMD_INVITE, "Invite a contact", 1 },
	{ INV__NODE_ACCOUNT, CMD_ACCOUNT, "Create account invitation", 1 },
	{ INV__NODE_RESET, CMD_RESET, "Password reset invitation", 1 },
	{ INV__NODE_RESET_PROSODY, CMD_RESET, "Password reset invitation", 0 },
	{ INV__NODE_LIST, CMD_LIST, "List pending invitations", 1 },
	{ INV__NODE_REVOKE, CMD_REVOKE, "Revoke an invitation", 1 },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* One request to the server JID. */
struct req {
	struct inv__proto *p;
	const struct inv__facts *facts;
	const struct inv__xml *iq;
	char from[INVITES_JID_MAX + 1];   /* requester, bare */
	const char *from_full;            /* as sent, for the reply's `to` */
	const char *to;                   /* the server JID (a domain) */
	char domain[INVITES_JID_MAX + 1]; /* normalised server JID */
	int local;                        /* requester is a user of domain */
	int admin;
	char sid[INVITES_TOKEN_LEN + 1];  /* session id for the reply */
};

static enum cmd
find_node(const char *node, size_t *i_r)
{
	size_t i;

	if (node == NULL)
		return CMD_NONE;
	for (i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].node, node) == 0) {
			if (i_r != NULL)
				*i_r = i;
			return commands[i].cmd;
		}
	return CMD_NONE;
}

static int
may_run(const struct req *r, enum cmd c)
{
	if (!r->local)
		return 0;
	if (c == CMD_INVITE)
		return r->p->user_invites || r->admin;
	return r->admin;
}

static int
error(struct inv__out *o, const struct req *r, const char *type,
      const char *cond, const char *text)
{
	return inv__out_iq_error(o, r->iq, r->to, r->from_full, type, cond,
	                         text);
}

static int
forbidden(struct inv__out *o, const struct req *r)
{
	return error(o, r, "auth", "forbidden",
	             "You are not allowed to run this command");
}

static int
oom(struct inv__out *o, const struct req *r)
{
	return inv__out_iq_errcode(o, r->iq, r->to, r->from_full,
	                           INVITES_ENOMEM, NULL);
}

static int
reply(struct inv__out *o, const struct req *r, struct inv__xml **iq,
      int err)
{
	if (err != 0) {
		inv__xml_free(iq);
		return oom(o, r);
	}
	inv__out_reply(o, INV__ACCEPT, iq);
	return o->result;
}

/* ------------------------------------------------------------------ */
/* Discovery                                                           */
/* ------------------------------------------------------------------ */

static int
disco_items(struct inv__out *o, const struct req *r)
{
	struct inv__xml *iq, *q, *item;
	size_t i;
	int err = 0;

	iq = inv__b_iq(r->iq, "result", r->to, r->from_full, &err);
	q = inv__b_el(iq, INV__NS_DISCO_ITEMS, "query", &err);
	inv__b_attr(q, "node", INV__NS_COMMANDS, &err);
	for (i = 0; i < N_COMMANDS; i++) {
		if (!commands[i].listed || !may_run(r, commands[i].cmd))
			continue;
		item = inv__b_el(q, NULL, "item", &err);
		inv__b_attr(item, "jid", r->to, &err);
		inv__b_attr(item, "node", commands[i].node, &err);
		inv__b_attr(item, "name", commands[i].name, &err);
	}
	return reply(o, r, &iq, err);
}

static int
disco_info(struct inv__out *o, const struct req *r, size_t i)
{
	struct inv__xml *iq, *q, *id, *f;
	int err = 0;

	if (!may_run(r, commands[i].cmd))
		return forbidden(o, r);
	iq = inv__b_iq(r->iq, "result", r->to, r->from_full, &err);
	q = inv__b_el(iq, INV__NS_DISCO_INFO, "query", &err);
	inv__b_attr(q, "node", commands[i].node, &err);
	id = inv__b_el(q, NULL, "identity", &err);
	inv__b_attr(id, "category", "automation", &err);
	inv__b_attr(id, "type", "command-node", &err);
	inv__b_attr(id, "name", commands[i].name, &err);
	f = inv__b_el(q, NULL, "feature", &err);
	inv__b_attr(f, "var", INV__NS_COMMANDS, &err);
	f = inv__b_el(q, NULL, "feature", &err);
	inv__b_attr(f, "var", INV__NS_XDATA, &err);
	return reply(o, r, &iq, err);
}

/* ------------------------------------------------------------------ */
/* Sessions                                                            */
/* ------------------------------------------------------------------ */

static struct inv__adhoc_session *
session_find(struct inv__proto *p, const char *id, const char *node,
             const char *owner)
{
	int64_t now = inv__now();
	size_t i;

	if (id == NULL)
		return NULL;
	for (i = 0; i < INV__ADHOC_SESSIONS; i++) {
		struct inv__adhoc_session *s = &p->sessions[i];

		if (s->id[0] == '\0')
			continue;
		if (now - s->started > SESSION_TTL) {
			s->id[0] = '\0';
			continue;
		}
		if (strcmp(s->id, id) == 0 && strcmp(s->node, node) == 0
		    && strcmp(s->owner, owner) == 0)
			return s;
	}
	return NULL;
}

static struct inv__adhoc_session *
session_new(struct inv__proto *p, const char *node, const char *owner)
{
	struct inv__adhoc_session *s = NULL;
	size_t i;

	if (strlen(node) >= sizeof(s->node))
		return NULL;
	for (i = 0; i < INV__ADHOC_SESSIONS; i++) {
		struct inv__adhoc_session *c = &p->sessions[i];

		if (c->id[0] == '\0') {
			s = c;
			break;
		}
		if (s == NULL || c->started < s->started)
			s = c;  /* the oldest makes room */
	}
	if (invites_token_new(s->id, sizeof(s->id)) < 0) {
		s->id[0] = '\0';
		return NULL;
	}
	strcpy(s->node, node);
	strcpy(s->owner, owner);
	s->started = inv__now();
	return s;
}

/* <iq type=result><command node sessionid status/></iq>; *cmd_r the
 * command element. */
static struct inv__xml *
command_reply(const struct req *r, const char *node, const char *sid,
              const char *status, struct inv__xml **cmd_r, int *err)
{
	struct inv__xml *iq, *c;

	iq = inv__b_iq(r->iq, "result", r->to, r->from_full, err);
	c = inv__b_el(iq, INV__NS_COMMANDS, "command", err);
	inv__b_attr(c, "node", node, err);
	inv__b_attr(c, "sessionid", sid, err);
	inv__b_attr(c, "status", status, err);
	*cmd_r = c;
	return iq;
}

static int
bad_session(struct inv__out *o, const struct req *r)
{
	struct inv__xml *iq, *e;
	int err = 0;

	o->result = INV__REJECT;
	o->err_type = "modify";
	o->err_cond = "bad-request";
	o->err_text = NULL;
	iq = inv__b_iq(r->iq, "error", r->to, r->from_full, &err);
	e = inv__b_el(iq, INV_XML_NS_CLIENT, "error", &err);
	inv__b_attr(e, "type", "modify", &err);
	inv__b_el(e, INV__NS_STANZAS, "bad-request", &err);
	inv__b_el(e, INV__NS_COMMANDS, "bad-sessionid", &err);
	if (err != 0) {
		inv__xml_free(&iq);
		return INV__REJECT;
	}
	inv__out_reply(o, INV__REJECT, &iq);
	return INV__REJECT;
}

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

static void
format_duration(int64_t s, char out[32])
{
	if (s > 0 && s % 86400 == 0)
		snprintf(out, 32, "%lldd", (long long)(s / 86400));
	else if (s > 0 && s % 3600 == 0)
		snprintf(out, 32, "%lldh", (long long)(s / 3600));
	else
		snprintf(out, 32, "%llds", (long long)s);
}

/* The completed command with the invitation form of protocol.md 8.2. */
static int
invitation_result(struct inv__out *o, const struct req *r, const char *node,
                  const struct invites_invite *inv, const char *token)
{
	struct inv__xml *iq, *c, *x;
	char *uri = NULL, *url = NULL, when[32];
	const char *tmpl = invites_config_landing_url(r->p->cfg);
	int err = 0;

	if (invites_uri_build(inv, token, &uri) < 0
	    || (tmpl != NULL
	        && invites_landing_url(tmpl, inv, token, &url) < 0)) {
		invites_free(uri);
		invites_free(url);
		return oom(o, r);
	}
	inv__proto_time(inv->expires, when);
	iq = command_reply(r, node, r->sid, "completed", &c, &err);
	x = inv__form_new(c, "result", "Invitation created",
	                  INV__FORM_INVITATION, &err);
	inv__form_field(x, "uri", "text-single", "Invitation URI", uri, 0,
	                &err);
	if (url != NULL)
		inv__form_field(x, "landing-url", "text-single",
		                "Invitation link", url, 0, &err);
	inv__form_field(x, "expire", "text-single", "Valid until", when, 0,
	                &err);
	invites_free(uri);
	invites_free(url);
	return reply(o, r, &iq, err);
}

/* An invites_create() failure as the reply of protocol.md 8.3. */
static int
create_failed(struct inv__out *o, const struct req *r, int rc)
{
	switch (rc) {
	case INVITES_ERESERVED:
	case INVITES_EEXIST:
		return error(o, r, "cancel", "conflict",
		             "The username exists or is reserved");
	case INVITES_ELIMIT:
		return error(o, r, "wait", "resource-constraint",
		             "Maximum number of invites reached");
	case INVITES_EJID:
	case INVITES_EINVAL:
		return error(o, r, "modify", "bad-request",
		             "The invitation cannot be created with these "
		             "values");
	default:
		inv__out_log(o, INVITES_LOG_ERR,
		             "invites: creating an invite for %s failed: %s",
		             r->from, invites_strerror(rc));
		return inv__out_iq_errcode(o, r->iq, r->to, r->from_full, rc,
		                           NULL);
	}
}

static int
created(struct inv__out *o, const struct req *r, const char *node,
        const struct invites_invite *inv, const char *token)
{
	inv__out_log(o, INVITES_LOG_NOTICE,
	             "invites: %s created %s invite %s", r->from,
	             invites_kind_name(inv->kind), inv->id);
	return invitation_result(o, r, node, inv, token);
}

/* ------------------------------------------------------------------ */
/* urn:xmpp:invite#invite                                              */
/* ------------------------------------------------------------------ */

static int
cmd_invite(struct inv__out *o, const struct req *r, const char *node)
{
	struct invites_spec spec;
	struct invites_invite *inv = NULL;
	char token[INVITES_TOKEN_MAX + 1];
	int rc;

	memset(&spec, 0, sizeof(spec));
	spec.kind = INVITES_KIND_CONTACT;
	spec.flags = r->p->user_invites_register || r->admin
	             ? INVITES_F_REGISTER : 0;
	spec.domain = r->domain;
	spec.inviter = r->from;
	spec.created_by = r->from;
	rc = invites_create(r->p->st, r->p->cfg, &spec, token, sizeof(token),
	                    &inv);
	if (rc < 0)
		return create_failed(o, r, rc);
	rc = created(o, r, node, inv, token);
	inv__cleanse(token, sizeof(token));
	invites_invite_free(&inv);
	return rc;
}

/* ------------------------------------------------------------------ */
/* urn:xmpp:invite#create-account                                      */
/* ------------------------------------------------------------------ */

static int
account_form(struct inv__out *o, const struct req *r, const char *node,
             const char *sid)
{
	static const char *const ttl[] = { "1h", "1d", "7d", "30d" };
	struct inv__xml *iq, *c, *x, *f, *acts;
	char dflt[32];
	size_t i;
	int err = 0, listed = 0;

	format_duration(invites_config_expiry(r->p->cfg), dflt);
	iq = command_reply(r, node, sid, "executing", &c, &err);
	acts = inv__b_el(c, NULL, "actions", &err);
	inv__b_attr(acts, "execute", "complete", &err);
	inv__b_el(acts, NULL, "complete", &err);
	x = inv__form_new(c, "form", "Create an account invitation", NULL,
	                  &err);
	inv__b_text_el(x, NULL, "instructions",
	               "Every field is optional.", &err);
	inv__form_field(x, "username", "text-single",
	                "Username (leave empty to let the invitee choose)",
	                NULL, 0, &err);
	inv__form_field(x, "roster-subscription", "boolean",
	                "Add the new account to my contacts", "0", 0, &err);
	f = inv__form_field(x, "role", "list-single", "Role", "", 0, &err);
	inv__form_option(f, "None", "", &err);
	inv__form_option(f, "Administrator", "admin", &err);
	inv__form_field(x, "groups", "text-multi", "Contact groups", NULL, 0,
	                &err);
	inv__form_field(x, "note", "text-single", "Note", NULL, 0, &err);
	inv__form_field(x, "max-uses", "text-single", "Number of uses", "1",
	                0, &err);
	f = inv__form_field(x, "expire", "list-single", "Valid for", dflt, 0,
	                    &err);
	for (i = 0; i < sizeof(ttl) / sizeof(ttl[0]); i++) {
		inv__form_option(f, ttl[i], ttl[i], &err);
		listed |= strcmp(ttl[i], dflt) == 0;
	}
	if (!listed)
		inv__form_option(f, dflt, dflt, &err);
	return reply(o, r, &iq, err);
}

static int
role_ok(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')
		      || *s == '-' || *s == '_' || *s == '.' || *s == ':'))
			return 0;
	return n > 0 && n <= 64;
}

#define MAX_GROUPS 16

/* Values of a text-multi field: up to MAX_GROUPS non-empty ones. */
static int
form_values(const struct inv__xml *form, const char *var,
            const char **v, size_t *n_r)
{
	struct inv__xml *f, *val;

	*n_r = 0;
	if (form == NULL)
		return 0;
	for (f = inv__xml_child(form, INV__NS_XDATA, "field"); f != NULL;
	     f = inv__xml_next_named(f, INV__NS_XDATA, "field")) {
		const char *name = inv__xml_attr(f, "var");

		if (name == NULL || strcmp(name, var) != 0)
			continue;
		for (val = inv__xml_child(f, INV__NS_XDATA, "value");
		     val != NULL;
		     val = inv__xml_next_named(val, INV__NS_XDATA, "value")) {
			const char *t = inv__xml_text(val);

			if (*t == '\0')
				continue;
			if (*n_r == MAX_GROUPS || strlen(t) > 256)
				return -1;
			v[(*n_r)++] = t;
		}
		break;
	}
	return 0;
}

static int
account_submit(struct inv__out *o, const struct req *r, const char *node,
               const struct inv__xml *form)
{
	struct invites_spec spec;
	struct invites_invite *inv = NULL;
	char user[INVITES_JID_MAX + 1], jid[2 * INVITES_JID_MAX + 2];
	char token[INVITES_TOKEN_MAX + 1];
	const char *v, *groups[MAX_GROUPS], *role;
	size_t n_groups;
	int64_t ttl;
	int rc;

	memset(&spec, 0, sizeof(spec));
	spec.kind = INVITES_KIND_ACCOUNT;
	spec.domain = r->domain;
	spec.created_by = r->from;
	v = inv__form_value(form, "username");
	if (v != NULL && *v != '\0') {
		if (invites_nodeprep(v, user, sizeof(user)) < 0
		    || strlen(user) + 1 + strlen(r->domain) > INVITES_JID_MAX)
			return error(o, r, "modify", "bad-request",
			             "The username is not valid");
		snprintf(jid, sizeof(jid), "%s@%s", user, r->domain);
		rc = r->facts->user_exists(r->facts->ctx, jid);
		if (rc < 0)
			return error(o, r, "wait", "internal-server-error",
			             NULL);
		if (rc == 1)
			return error(o, r, "cancel", "conflict",
			             "The username already exists");
		spec.username = user;
	}
	v = inv__form_value(form, "roster-subscription");
	if (v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0))
		spec.inviter = r->from;
	role = inv__form_value(form, "role");
	if (role != NULL && *role != '\0') {
		if (!role_ok(role))
			return error(o, r, "modify", "bad-request",
			             "The role is not valid");
		spec.roles = &role;
		spec.n_roles = 1;
	}
	if (form_values(form, "groups", groups, &n_groups) < 0)
		return error(o, r, "modify", "bad-request",
		             "Too many or too long groups");
	spec.groups = groups;
	spec.n_groups = n_groups;
	v = inv__form_value(form, "note");
	if (v != NULL && *v != '\0') {
		if (strlen(v) > 1024)
			return error(o, r, "modify", "bad-request",
			             "The note is too long");
		spec.note = v;
	}
	v = inv__form_value(form, "max-uses");
	spec.max_uses = 1;
	if (v != NULL && *v != '\0') {
		char *end;
		unsigned long n = strtoul(v, &end, 10);

		if (*end != '\0' || n < 1 || n > 10000 || *v == '-'
		    || *v == '+')
			return error(o, r, "modify", "bad-request",
			             "max-uses must be a number from 1 to "
			             "10000");
		spec.max_uses = (uint32_t)n;
	}
	v = inv__form_value(form, "expire");
	ttl = invites_config_expiry(r->p->cfg);
	if (v != NULL && *v != '\0'
	    && (invites_parse_duration(v, &ttl) < 0 || ttl <= 0
	        || ttl > 366 * 86400))
		return error(o, r, "modify", "bad-request",
		             "expire must be a duration such as 1h or 7d, "
		             "a year at most");
	spec.expires = inv__now() + ttl;
	rc = invites_create(r->p->st, r->p->cfg, &spec, token, sizeof(token),
	                    &inv);
	if (rc < 0)
		return create_failed(o, r, rc);
	rc = created(o, r, node, inv, token);
	inv__cleanse(token, sizeof(token));
	invites_invite_free(&inv);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Password reset                                                      */
/* ------------------------------------------------------------------ */

static int
reset_form(struct inv__out *o, const struct req *r, const char *node,
           const char *sid)
{
	struct inv__xml *iq, *c, *x, *acts;
	int err = 0;

	iq = command_reply(r, node, sid, "executing", &c, &err);
	acts = inv__b_el(c, NULL, "actions", &err);
	inv__b_attr(acts, "execute", "complete", &err);
	inv__b_el(acts, NULL, "complete", &err);
	x = inv__form_new(c, "form", "Password reset invitation", NULL,
	                  &err);
	inv__b_text_el(x, NULL, "instructions",
	               "The invitation lets the account's owner set a new "
	               "password for that existing account.", &err);
	inv__form_field(x, "accountjid", "jid-single", "Account", NULL, 1,
	                &err);
	return reply(o, r, &iq, err);
}

static int
reset_submit(struct inv__out *o, const struct req *r, const char *node,
             const struct inv__xml *form)
{
	struct invites_spec spec;
	struct invites_invite *inv = NULL;
	char jid[INVITES_JID_MAX + 1], token[INVITES_TOKEN_MAX + 1];
	size_t dom;
	int rc;

	if (inv__proto_bare(inv__form_value(form, "accountjid"), jid,
	                    &dom) < 0 || dom == 0)
		return error(o, r, "modify", "bad-request",
		             "accountjid must be the JID of an account");
	if (strcmp(jid + dom, r->domain) != 0)
		return error(o, r, "modify", "bad-request",
		             "The account is not on this server");
	rc = r->facts->user_exists(r->facts->ctx, jid);
	if (rc < 0)
		return error(o, r, "wait", "internal-server-error", NULL);
	if (rc == 0)
		return error(o, r, "cancel", "item-not-found",
		             "No such account");
	jid[dom - 1] = '\0';
	memset(&spec, 0, sizeof(spec));
	spec.kind = INVITES_KIND_RESET;
	spec.domain = r->domain;
	spec.username = jid;
	spec.created_by = r->from;
	spec.expires = inv__now() + invites_config_reset_expiry(r->p->cfg);
	rc = invites_create(r->p->st, r->p->cfg, &spec, token, sizeof(token),
	                    &inv);
	if (rc < 0)
		return create_failed(o, r, rc);
	rc = created(o, r, node, inv, token);
	inv__cleanse(token, sizeof(token));
	invites_invite_free(&inv);
	return rc;
}

/* ------------------------------------------------------------------ */
/* List and revoke                                                     */
/* ------------------------------------------------------------------ */

/* One pending invite as the list command shows it. */
struct list_row {
	char id[INVITES_ID_LEN + 1];
	const char *kind;
	char *username;
	char *inviter;
	int64_t expires;
	uint32_t uses, max_uses;
};

struct list_ctx {
	struct list_row *rows;
	size_t n;
	size_t total;
	int err;
};

#define LIST_SCAN 1000      /* invites examined by the list command */

static int
list_one(void *ctx, const struct invites_invite *inv)
{
	struct list_ctx *l = ctx;
	struct list_row *row;
	const char *by = inv->inviter ? inv->inviter : inv->created_by;

	l->total++;
	if (l->n == LIST_SCAN)
		return 0;
	row = &l->rows[l->n];
	memset(row, 0, sizeof(*row));
	memcpy(row->id, inv->id, sizeof(row->id));
	row->kind = invites_kind_name(inv->kind);
	row->username = inv__strdup(inv->username ? inv->username : "");
	row->inviter = inv__strdup(by ? by : "");
	row->expires = inv->expires;
	row->uses = inv->uses;
	row->max_uses = inv->max_uses;
	l->n++;
	if (row->username == NULL || row->inviter == NULL) {
		l->err = INVITES_ENOMEM;
		return 1;
	}
	return 0;
}

/* Soonest expiry first; ties in a stable, readable order. */
static int
list_cmp(const void *a, const void *b)
{
	const struct list_row *x = a, *y = b;
	int c;

	if (x->expires != y->expires)
		return x->expires < y->expires ? -1 : 1;
	if ((c = strcmp(x->kind, y->kind)) != 0)
		return c;
	if ((c = strcmp(x->username, y->username)) != 0)
		return c;
	return strcmp(x->id, y->id);
}

static void
item_field(struct inv__xml *item, const char *var, const char *value,
           int *err)
{
	struct inv__xml *f = inv__b_el(item, INV__NS_XDATA, "field", err);

	inv__b_attr(f, "var", var, err);
	inv__b_text_el(f, INV__NS_XDATA, "value", value ? value : "", err);
}

static int
cmd_list(struct inv__out *o, const struct req *r, const char *node)
{
	static const char *const cols[][2] = {
		{ "id", "Id" }, { "kind", "Kind" }, { "username", "Username" },
		{ "inviter", "Created by" }, { "expire", "Valid until" },
		{ "uses", "Uses" },
	};
	struct invites_filter flt;
	struct list_ctx l = { 0 };
	struct inv__xml *iq, *c, *x, *rep, *item;
	char when[32], uses[32], *more;
	size_t i;
	int rc, err = 0;

	l.rows = inv__calloc(LIST_SCAN, sizeof(*l.rows));
	if (l.rows == NULL)
		return oom(o, r);
	memset(&flt, 0, sizeof(flt));
	flt.domain = r->domain;
	flt.now = inv__now();
	rc = invites_list(r->p->st, &flt, list_one, &l);
	if (rc >= 0 && l.err != 0)
		rc = l.err;
	if (rc < 0) {
		for (i = 0; i < l.n; i++) {
			invites_free(l.rows[i].username);
			invites_free(l.rows[i].inviter);
		}
		invites_free(l.rows);
		return inv__out_iq_errcode(o, r->iq, r->to, r->from_full, rc,
		                           NULL);
	}
	qsort(l.rows, l.n, sizeof(*l.rows), list_cmp);
	iq = command_reply(r, node, r->sid, "completed", &c, &err);
	x = inv__form_new(c, "result", "Pending invitations", NULL, &err);
	rep = inv__b_el(x, NULL, "reported", &err);
	for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		inv__form_field(rep, cols[i][0], "text-single", cols[i][1],
		                NULL, 0, &err);
	for (i = 0; i < l.n && i < LIST_MAX; i++) {
		const struct list_row *row = &l.rows[i];

		inv__proto_time(row->expires, when);
		snprintf(uses, sizeof(uses), "%u/%u", (unsigned)row->uses,
		         (unsigned)row->max_uses);
		item = inv__b_el(x, INV__NS_XDATA, "item", &err);
		item_field(item, "id", row->id, &err);
		item_field(item, "kind", row->kind, &err);
		item_field(item, "username", row->username, &err);
		item_field(item, "inviter", row->inviter, &err);
		item_field(item, "expire", when, &err);
		item_field(item, "uses", uses, &err);
	}
	if (l.total > LIST_MAX) {
		struct inv__xml *note = inv__b_el(c, NULL, "note", &err);

		more = inv__asprintf("%zu pending invitations; the %d that "
		                     "expire first are shown.", l.total,
		                     LIST_MAX);
		inv__b_attr(note, "type", "info", &err);
		if (more == NULL && err == 0)
			err = INVITES_ENOMEM;
		inv__b_text(note, more, &err);
		invites_free(more);
	}
	for (i = 0; i < l.n; i++) {
		invites_free(l.rows[i].username);
		invites_free(l.rows[i].inviter);
	}
	invites_free(l.rows);
	return reply(o, r, &iq, err);
}

static int
revoke_form(struct inv__out *o, const struct req *r, const char *node,
            const char *sid)
{
	struct inv__xml *iq, *c, *x, *acts;
	int err = 0;

	iq = command_reply(r, node, sid, "executing", &c, &err);
	acts = inv__b_el(c, NULL, "actions", &err);
	inv__b_attr(acts, "execute", "complete", &err);
	inv__b_el(acts, NULL, "complete", &err);
	x = inv__form_new(c, "form", "Revoke an invitation", NULL, &err);
	inv__form_field(x, "id", "text-single", "Invitation id", NULL, 1,
	                &err);
	return reply(o, r, &iq, err);
}

static int
revoke_submit(struct inv__out *o, const struct req *r, const char *node,
              const struct inv__xml *form)
{
	struct invites_invite *inv = NULL;
	struct inv__xml *iq, *c, *note;
	char text[64];
	const char *id = inv__form_value(form, "id");
	int rc, err = 0;

	if (id == NULL || *id == '\0')
		return error(o, r, "modify", "bad-request",
		             "The invitation id is required");
	rc = invites_get_by_id(r->p->st, id, &inv);
	if (rc == 0 && strcmp(inv->domain, r->domain) != 0)
		rc = INVITES_ENOTFOUND;
	if (rc == INVITES_ENOTFOUND) {
		invites_invite_free(&inv);
		return error(o, r, "cancel", "item-not-found",
		             "No such invitation");
	}
	if (rc == INVITES_EAMBIG || rc == INVITES_EINVAL) {
		invites_invite_free(&inv);
		return error(o, r, "modify", "bad-request",
		             rc == INVITES_EAMBIG
		             ? "The id matches several invitations"
		             : "The id is not valid");
	}
	if (rc == 0)
		rc = invites_revoke(r->p->st, inv->id, r->from, NULL);
	if (rc < 0) {
		invites_invite_free(&inv);
		return inv__out_iq_errcode(o, r->iq, r->to, r->from_full, rc,
		                           NULL);
	}
	inv__out_log(o, INVITES_LOG_NOTICE, "invites: %s revoked invite %s",
	             r->from, inv->id);
	snprintf(text, sizeof(text), "Invitation %s revoked", inv->id);
	invites_invite_free(&inv);
	iq = command_reply(r, node, r->sid, "completed", &c, &err);
	note = inv__b_el(c, NULL, "note", &err);
	inv__b_attr(note, "type", "info", &err);
	inv__b_text(note, text, &err);
	return reply(o, r, &iq, err);
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */
/* ------------------------------------------------------------------ */

static int
command(struct inv__out *o, struct req *r, const struct inv__xml *cmd)
{
	const char *node = inv__xml_attr(cmd, "node");
	const char *action = inv__xml_attr(cmd, "action");
	const char *sid = inv__xml_attr(cmd, "sessionid");
	const struct inv__xml *form = inv__form_find(cmd);
	struct inv__adhoc_session *s = NULL;
	enum cmd c = find_node(node, NULL);
	const char *type = inv__xml_attr(r->iq, "type");
	struct inv__xml *iq, *ce;
	int err = 0, rc;

	if (c == CMD_NONE) {
		/* A node in our namespaces that we do not know: ours to
		 * refuse; any other node is the host's. */
		if (node != NULL
		    && (strncmp(node, "urn:xmpp:invite#", 16) == 0
		        || strncmp(node, "xmpp-invites#", 13) == 0))
			return error(o, r, "cancel", "item-not-found",
			             "No such command");
		return INV__PASS;
	}
	if (type == NULL || strcmp(type, "set") != 0)
		return error(o, r, "modify", "bad-request", NULL);
	if (!may_run(r, c))
		return forbidden(o, r);
	if (action == NULL)
		action = "execute";
	if (sid != NULL) {
		s = session_find(r->p, sid, node, r->from);
		if (s == NULL)
			return bad_session(o, r);
		strcpy(r->sid, s->id);
	} else if (invites_token_new(r->sid, sizeof(r->sid)) < 0) {
		return oom(o, r);
	}
	if (strcmp(action, "cancel") == 0) {
		if (s == NULL)
			return bad_session(o, r);
		s->id[0] = '\0';
		iq = command_reply(r, node, sid, "canceled", &ce, &err);
		return reply(o, r, &iq, err);
	}
	if (strcmp(action, "execute") != 0 && strcmp(action, "complete") != 0)
		return error(o, r, "modify", "bad-request",
		             "This command has a single stage");
	if (form != NULL) {
		const char *ft = inv__xml_attr(form, "type");

		if (ft == NULL || strcmp(ft, "submit") != 0)
			return error(o, r, "modify", "bad-request",
			             "A submitted form is expected");
	}
	switch (c) {
	case CMD_INVITE:
		rc = cmd_invite(o, r, node);
		break;
	case CMD_LIST:
		rc = cmd_list(o, r, node);
		break;
	case CMD_ACCOUNT:
	case CMD_RESET:
	case CMD_REVOKE:
		if (s == NULL && form == NULL) {
			/* First stage: the form. */
			s = session_new(r->p, node, r->from);
			if (s == NULL)
				return oom(o, r);
			if (c == CMD_ACCOUNT)
				return account_form(o, r, node, s->id);
			if (c == CMD_RESET)
				return reset_form(o, r, node, s->id);
			return revoke_form(o, r, node, s->id);
		}
		if (s != NULL)
			s->id[0] = '\0';   /* one submission per session */
		if (c == CMD_ACCOUNT)
			rc = account_submit(o, r, node, form);
		else if (c == CMD_RESET)
			rc = reset_submit(o, r, node, form);
		else
			rc = revoke_submit(o, r, node, form);
		break;
	default:
		return INV__PASS;
	}
	return rc;
}

int
inv__proto_server_iq(struct inv__proto *p, const char *xml, size_t len,
                     const struct inv__facts *facts, struct inv__out *o)
{
	struct inv__xml *iq = NULL, *child;
	struct req r;
	const char *type, *node;
	size_t dom, i;
	int rc;

	if (p == NULL)
		return INV__PASS;
	rc = inv__proto_parse(xml, len, &iq);
	if (rc < 0) {
		inv__out_log(o, INVITES_LOG_INFO,
		             "invites: refused an IQ to the server: %s",
		             inv__xml_strerror(rc));
		o->result = INV__REJECT;
		o->err_type = inv__xml_err_type(rc);
		o->err_cond = inv__xml_err_condition(rc);
		return o->result;
	}
	rc = INV__PASS;
	memset(&r, 0, sizeof(r));
	r.p = p;
	r.facts = facts;
	r.iq = iq;
	r.to = inv__xml_attr(iq, "to");
	r.from_full = inv__xml_attr(iq, "from");
	type = inv__xml_attr(iq, "type");
	if (!inv__proto_is_stanza(iq, "iq") || r.to == NULL || type == NULL
	    || inv__proto_bare(r.to, r.domain, &dom) < 0 || dom != 0
	    || strchr(r.to, '/') != NULL
	    || !invites_config_serves(p->cfg, r.domain)
	    || inv__proto_bare(r.from_full, r.from, &dom) < 0)
		goto out;
	r.local = dom != 0 && strcmp(r.from + dom, r.domain) == 0;
	r.admin = r.local && inv__proto_is_admin(p, r.from);
	child = inv__xml_first(iq);
	if (child == NULL)
		goto out;
	node = inv__xml_attr(child, "node");
	if (inv__xml_is(child, INV__NS_DISCO_ITEMS, "query")
	    && strcmp(type, "get") == 0 && node != NULL
	    && strcmp(node, INV__NS_COMMANDS) == 0)
		rc = disco_items(o, &r);
	else if (inv__xml_is(child, INV__NS_DISCO_INFO, "query")
	         && strcmp(type, "get") == 0
	         && find_node(node, &i) != CMD_NONE)
		rc = disco_info(o, &r, i);
	else if (inv__xml_is(child, INV__NS_COMMANDS, "command"))
		rc = command(o, &r, child);
out:
	inv__xml_free(&iq);
	return rc;
}
