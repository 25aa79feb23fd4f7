/* SPDX-License-Identifier: MIT */
/*
 * Protocol engine, XEP-0077 in-band registration gated by invites
 * (protocol.md sections 3-5): the GET reply with both the legacy fields
 * and a data form, the SET with every check of section 4.2 in order, the
 * atomic use of the invite, password resets, and the same decision split
 * into check / commit / rollback for hosts that run XEP-0077 themselves.
 */
#include "config.h"

#include <string.h>

#include "internal.h"
#include "proto.h"
#include "xml.h"

#define TEXT_INVITE_ONLY "Registration on this server is by invitation only"
#define TEXT_TLS "Encryption is required"

int inv__proto_register_iq(struct inv__proto *p, struct inv__pstream *ps,
                           const struct inv__xml *iq,
                           const struct inv__xml *query,
                           const struct inv__facts *facts,
                           struct inv__out *o);

/* A refusal: type, condition, static text, and optional dynamic text. */
struct refusal {
	const char *type;
	const char *cond;
	const char *text;
	char *dyn;           /* overrides text in the reply stanza */
};

static void
refuse(struct refusal *r, const char *type, const char *cond,
       const char *text)
{
	r->type = type;
	r->cond = cond;
	r->text = text;
}

static void
refuse_code(struct refusal *r, int err)
{
	refuse(r, invites_err_type(err), invites_err_condition(err), NULL);
}

/* What a registration attempt is about, once validated. */
struct attempt {
	char user[INVITES_JID_MAX + 1];  /* nodeprep'd localpart */
	char jid[INVITES_JID_MAX + 1];   /* user@domain */
	struct invites_invite *inv;
	int reset;
};

static int
insecure(const struct inv__proto *p, const struct inv__pstream *ps)
{
	return (p->require_tls || (ps->flags & INV__PS_REQUIRE_TLS))
	       && !(ps->flags & INV__PS_SECURE);
}

/* The stream's invite, fresh from the store (checks 5). */
static int
stream_invite(struct inv__proto *p, struct inv__pstream *ps,
              struct invites_invite **inv_r, struct refusal *r)
{
	int rc;

	*inv_r = NULL;
	if (ps->token == NULL) {
		refuse(r, "cancel", "not-allowed", TEXT_INVITE_ONLY);
		return -1;
	}
	rc = invites_get_by_token(p->st, ps->token, inv_r);
	if (rc == INVITES_ENOTFOUND) {
		refuse(r, "cancel", "not-allowed", TEXT_INVITE_ONLY);
		return -1;
	}
	if (rc < 0) {
		refuse_code(r, rc);
		return -1;
	}
	return 0;
}

/*
 * Checks 4 to 9 of protocol.md 4.2 for username (and password, when not
 * NULL).  Fills a; on failure fills r and returns -1.
 */
static int
validate(struct inv__proto *p, struct inv__pstream *ps,
         const struct inv__facts *facts, const char *username,
         const char *password, struct attempt *a, struct refusal *r)
{
	int rc;

	memset(a, 0, sizeof(*a));
	if (username == NULL
	    || invites_nodeprep(username, a->user, sizeof(a->user)) < 0) {
		refuse(r, "modify", "jid-malformed",
		       "The username is not valid");
		return -1;
	}
	if (strlen(a->user) + 1 + strlen(ps->domain) > INVITES_JID_MAX) {
		refuse(r, "modify", "jid-malformed",
		       "The username is too long");
		return -1;
	}
	strcpy(a->jid, a->user);
	strcat(a->jid, "@");
	strcat(a->jid, ps->domain);
	if (stream_invite(p, ps, &a->inv, r) < 0)
		return -1;
	a->reset = a->inv->kind == INVITES_KIND_RESET;
	/* 6: a fixed username (preset account name or reset target). */
	if (a->inv->username != NULL
	    && (a->reset || a->inv->kind == INVITES_KIND_ACCOUNT)
	    && strcmp(a->inv->username, a->user) != 0) {
		refuse(r, "cancel", "not-allowed",
		       "This invitation is for another username");
		r->dyn = inv__asprintf("This invitation is for the username "
		                       "%s", a->inv->username);
		return -1;
	}
	/* 7: reserved by another pending invite. */
	if (!a->reset) {
		rc = invites_username_reserved(p->st, ps->domain, a->user,
		                               a->inv->hash, inv__now());
		if (rc < 0) {
			refuse_code(r, rc);
			return -1;
		}
		if (rc == 1) {
			refuse(r, "cancel", "conflict",
			       "The username is reserved by another "
			       "invitation");
			return -1;
		}
	}
	/* 8: the account must not exist, unless this is its reset. */
	rc = facts->user_exists(facts->ctx, a->jid);
	if (rc < 0) {
		refuse(r, "wait", "internal-server-error", NULL);
		return -1;
	}
	if (a->reset && rc == 0) {
		refuse(r, "cancel", "item-not-found",
		       "The account to reset does not exist");
		return -1;
	}
	if (!a->reset && rc == 1) {
		refuse(r, "cancel", "conflict",
		       "The requested username already exists");
		return -1;
	}
	/* 9: password policy (bounded, not blank). */
	if (password != NULL) {
		size_t n = strlen(password), i;

		for (i = 0; i < n && (password[i] == ' '
		                      || password[i] == '\t'
		                      || password[i] == '\n'
		                      || password[i] == '\r'); i++)
			;
		if (i == n) {
			refuse(r, "modify", "not-acceptable",
			       "The password must not be blank");
			return -1;
		}
		if (n > 1023) {
			refuse(r, "modify", "not-acceptable",
			       "The password is too long (1023 bytes at "
			       "most)");
			return -1;
		}
	}
	return 0;
}

static void
attempt_free(struct attempt *a)
{
	invites_invite_free(&a->inv);
}

/* Reply to iq with refusal r; frees r's dynamic text. */
static int
reject(struct inv__out *o, const struct inv__xml *iq,
       struct inv__pstream *ps, struct refusal *r)
{
	inv__out_iq_error(o, iq, ps->domain, NULL, r->type, r->cond,
	                  r->dyn != NULL ? r->dyn : r->text);
	o->err_text = r->text;
	invites_free(r->dyn);
	r->dyn = NULL;
	return INV__REJECT;
}

/* Map a failed invites_consume() to a refusal (check 11 and 12). */
static void
refuse_consume(struct refusal *r, int rc)
{
	switch (rc) {
	case INVITES_ENOTFOUND:
	case INVITES_EUSED:
	case INVITES_EREVOKED:
	case INVITES_EEXPIRED:
	case INVITES_EDOMAIN:
	case INVITES_EKIND:
		refuse(r, "cancel", "conflict",
		       "The invitation has been used or revoked");
		break;
	case INVITES_EUSERNAME:
		refuse(r, "cancel", "not-allowed",
		       "This invitation is for another username");
		break;
	case INVITES_ERESERVED:
		refuse(r, "cancel", "conflict",
		       "The username is reserved by another invitation");
		break;
	default:
		refuse(r, "wait", "internal-server-error", NULL);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* GET                                                                 */
/* ------------------------------------------------------------------ */

static int
reg_get(struct inv__proto *p, struct inv__pstream *ps,
        const struct inv__xml *iq, struct inv__out *o)
{
	struct invites_invite *inv = NULL;
	struct inv__xml *reply, *query, *x;
	struct refusal r = { 0 };
	const char *preset = NULL;
	int err = 0, reset;

	if (insecure(p, ps))
		return inv__out_iq_error(o, iq, ps->domain, NULL, "modify",
		                         "policy-violation", TEXT_TLS);
	if (stream_invite(p, ps, &inv, &r) < 0)
		return reject(o, iq, ps, &r);
	reset = inv->kind == INVITES_KIND_RESET;
	if (reset || inv->kind == INVITES_KIND_ACCOUNT)
		preset = inv->username;
	reply = inv__b_iq(iq, "result", ps->domain, NULL, &err);
	query = inv__b_el(reply, INV__NS_REGISTER, "query", &err);
	inv__b_text_el(query, NULL, "instructions",
	               reset ? "Choose a new password for your account."
	                     : "Choose a username and password for your "
	                       "new account.", &err);
	inv__b_text_el(query, NULL, "username", preset, &err);
	inv__b_el(query, NULL, "password", &err);
	x = inv__form_new(query, "form",
	                  reset ? "Reset your password"
	                        : "Create your account",
	                  INV__NS_REGISTER, &err);
	inv__form_field(x, "username", "text-single", "Username", preset, 1,
	                &err);
	inv__form_field(x, "password", "text-private", "Password", NULL, 1,
	                &err);
	invites_invite_free(&inv);
	if (err != 0) {
		inv__xml_free(&reply);
		return inv__out_iq_errcode(o, iq, ps->domain, NULL,
		                           INVITES_ENOMEM, NULL);
	}
	inv__out_reply(o, INV__ACCEPT, &reply);
	return o->result;
}

/* ------------------------------------------------------------------ */
/* SET                                                                 */
/* ------------------------------------------------------------------ */

static int
reg_set(struct inv__proto *p, struct inv__pstream *ps,
        const struct inv__xml *iq, const struct inv__xml *query,
        const struct inv__facts *facts, struct inv__out *o)
{
	const struct inv__xml *form;
	const char *username, *password, *ft;
	struct refusal r = { 0 };
	struct attempt a;
	struct invites_invite *used = NULL;
	struct inv__xml *reply;
	struct inv__act *act;
	int rc, err = 0;

	/* 1 */
	if (insecure(p, ps))
		return inv__out_iq_error(o, iq, ps->domain, NULL, "modify",
		                         "policy-violation", TEXT_TLS);
	/* 2 */
	if (inv__xml_child(query, INV__NS_REGISTER, "remove") != NULL)
		return inv__out_iq_error(o, iq, ps->domain, NULL, "auth",
		                         "registration-required", NULL);
	/* 3 */
	form = inv__form_find(query);
	if (form != NULL) {
		const char *type = inv__xml_attr(form, "type");

		ft = inv__form_value(form, "FORM_TYPE");
		if (type == NULL || strcmp(type, "submit") != 0
		    || (ft != NULL && strcmp(ft, INV__NS_REGISTER) != 0))
			return inv__out_iq_error(o, iq, ps->domain, NULL,
			                         "modify", "bad-request",
			                         "The registration form cannot "
			                         "be parsed");
		username = inv__form_value(form, "username");
		password = inv__form_value(form, "password");
	} else {
		username = inv__xml_child_text(query, INV__NS_REGISTER,
		                               "username");
		password = inv__xml_child_text(query, INV__NS_REGISTER,
		                               "password");
	}
	if (username == NULL || *username == '\0' || password == NULL
	    || *password == '\0')
		return inv__out_iq_error(o, iq, ps->domain, NULL, "modify",
		                         "not-acceptable",
		                         "A username and a password are "
		                         "required");
	/* 4 to 9 */
	if (validate(p, ps, facts, username, password, &a, &r) < 0) {
		attempt_free(&a);
		return reject(o, iq, ps, &r);
	}
	if ((ps->flags & INV__PS_HOST_REGISTERS) && !a.reset) {
		/* The host goes on and calls register_commit. */
		attempt_free(&a);
		return INV__PASS;
	}
	/* 11, 12: use the invite, atomically. */
	rc = invites_consume(p->st, ps->token, ps->domain,
	                     a.reset ? INVITES_FOR_RESET
	                             : INVITES_FOR_REGISTER,
	                     a.user, a.jid, 0, inv__now(), &used);
	if (rc < 0) {
		inv__out_log(o, INVITES_LOG_NOTICE,
		             "invites: %s: registration of %s with invite %s "
		             "refused at commit: %s", ps->domain, a.jid,
		             a.inv->id, invites_strerror(rc));
		refuse_consume(&r, rc);
		attempt_free(&a);
		return reject(o, iq, ps, &r);
	}
	invites_invite_free(&used);
	o->undo_token = inv__strdup(ps->token);
	o->undo_invitee = inv__strdup(a.jid);
	if (o->undo_token == NULL || o->undo_invitee == NULL
	    || inv__out_keep_iq(o, iq, ps->domain, NULL) < 0)
		goto oom;
	act = inv__out_act(o, a.reset ? INV__ACT_SET_PASSWORD
	                              : INV__ACT_CREATE_USER);
	if (act == NULL)
		goto oom;
	act->critical = 1;
	act->jid = inv__strdup(a.jid);
	act->secret = inv__strdup(password);
	if (act->jid == NULL || act->secret == NULL)
		goto oom;
	if (a.reset) {
		act = inv__out_act(o, INV__ACT_END_SESSIONS);
		if (act == NULL || (act->jid = inv__strdup(a.jid)) == NULL)
			goto oom;
		inv__out_log(o, INVITES_LOG_NOTICE,
		             "invites: %s: password of %s reset with invite %s",
		             ps->domain, a.jid, a.inv->id);
	} else {
		inv__out_log(o, INVITES_LOG_NOTICE,
		             "invites: %s: %s registered with invite %s",
		             ps->domain, a.jid, a.inv->id);
	}
	reply = inv__b_iq(iq, "result", ps->domain, NULL, &err);
	if (err != 0) {
		inv__xml_free(&reply);
		goto oom;
	}
	attempt_free(&a);
	inv__out_reply(o, INV__ACCEPT, &reply);
	if (o->result != INV__ACCEPT)
		inv__proto_undo(p, o, INVITES_ENOMEM);
	return o->result;
oom:
	attempt_free(&a);
	inv__proto_undo(p, o, INVITES_ENOMEM);
	if (o->reply == NULL)
		inv__out_iq_errcode(o, iq, ps->domain, NULL, INVITES_ENOMEM,
		                    NULL);
	return INV__REJECT;
}

int
inv__proto_register_iq(struct inv__proto *p, struct inv__pstream *ps,
                       const struct inv__xml *iq,
                       const struct inv__xml *query,
                       const struct inv__facts *facts, struct inv__out *o)
{
	const char *type = inv__xml_attr(iq, "type");

	/* After authentication XEP-0077 is the host's (password change,
	 * cancellation). */
	if (ps->flags & INV__PS_AUTHENTICATED || type == NULL)
		return INV__PASS;
	if (strcmp(type, "get") == 0)
		return reg_get(p, ps, iq, o);
	if (strcmp(type, "set") == 0)
		return reg_set(p, ps, iq, query, facts, o);
	return INV__PASS;
}

/* ------------------------------------------------------------------ */
/* Decision hooks for hosts that run XEP-0077 themselves               */
/* ------------------------------------------------------------------ */

static int
refuse_out(struct inv__out *o, struct refusal *r)
{
	o->result = INV__REJECT;
	o->err_type = r->type;
	o->err_cond = r->cond;
	o->err_text = r->text;
	invites_free(r->dyn);
	r->dyn = NULL;
	return INV__REJECT;
}

int
inv__proto_register_check(struct inv__proto *p, struct inv__pstream *ps,
                          const char *username,
                          const struct inv__facts *facts,
                          struct inv__out *o)
{
	struct refusal r = { 0 };
	struct attempt a;

	if (p == NULL || ps == NULL)
		return INV__PASS;
	if (insecure(p, ps)) {
		refuse(&r, "modify", "policy-violation", TEXT_TLS);
		return refuse_out(o, &r);
	}
	if (validate(p, ps, facts, username, NULL, &a, &r) < 0) {
		attempt_free(&a);
		return refuse_out(o, &r);
	}
	if (a.reset)
		o->flags |= INV__OUT_RESET;
	attempt_free(&a);
	o->result = INV__ACCEPT;
	return INV__ACCEPT;
}

int
inv__proto_register_commit(struct inv__proto *p, struct inv__pstream *ps,
                           const char *username, struct inv__out *o)
{
	struct refusal r = { 0 };
	struct invites_invite *inv = NULL, *used = NULL;
	char user[INVITES_JID_MAX + 1];
	char *jid = NULL, *tok = NULL;
	int rc;

	if (p == NULL || ps == NULL)
		return INV__PASS;
	if (stream_invite(p, ps, &inv, &r) < 0)
		return refuse_out(o, &r);
	if (username == NULL
	    || invites_nodeprep(username, user, sizeof(user)) < 0) {
		invites_invite_free(&inv);
		refuse(&r, "modify", "jid-malformed",
		       "The username is not valid");
		return refuse_out(o, &r);
	}
	jid = inv__asprintf("%s@%s", user, ps->domain);
	tok = inv__strdup(ps->token);
	if (jid == NULL || tok == NULL) {
		invites_invite_free(&inv);
		invites_free(jid);
		invites_free(tok);
		refuse_code(&r, INVITES_ENOMEM);
		return refuse_out(o, &r);
	}
	rc = invites_consume(p->st, tok, ps->domain,
	                     inv->kind == INVITES_KIND_RESET
	                     ? INVITES_FOR_RESET : INVITES_FOR_REGISTER,
	                     user, jid, 0, inv__now(), &used);
	if (rc < 0) {
		inv__out_log(o, INVITES_LOG_NOTICE,
		             "invites: %s: registration of %s with invite %s "
		             "refused at commit: %s", ps->domain, jid, inv->id,
		             invites_strerror(rc));
		invites_invite_free(&inv);
		inv__cleanse(tok, strlen(tok));
		invites_free(tok);
		invites_free(jid);
		refuse_consume(&r, rc);
		return refuse_out(o, &r);
	}
	inv__out_log(o, INVITES_LOG_NOTICE,
	             "invites: %s: %s registered with invite %s", ps->domain,
	             jid, inv->id);
	if (inv->kind == INVITES_KIND_RESET)
		o->flags |= INV__OUT_RESET;
	invites_invite_free(&inv);
	invites_invite_free(&used);
	if (ps->committed_token != NULL) {
		inv__cleanse(ps->committed_token,
		             strlen(ps->committed_token));
		invites_free(ps->committed_token);
	}
	invites_free(ps->committed_jid);
	ps->committed_token = tok;
	ps->committed_jid = jid;
	o->result = INV__ACCEPT;
	return INV__ACCEPT;
}

void
inv__proto_register_rollback(struct inv__proto *p, struct inv__pstream *ps,
                             const char *username)
{
	char user[INVITES_JID_MAX + 1];
	size_t n;

	if (p == NULL || ps == NULL || ps->committed_jid == NULL
	    || username == NULL
	    || invites_nodeprep(username, user, sizeof(user)) < 0)
		return;
	n = strlen(user);
	if (strncmp(ps->committed_jid, user, n) != 0
	    || ps->committed_jid[n] != '@')
		return;
	invites_unconsume(p->st, ps->committed_token, ps->committed_jid);
	inv__cleanse(ps->committed_token, strlen(ps->committed_token));
	invites_free(ps->committed_token);
	invites_free(ps->committed_jid);
	ps->committed_token = NULL;
	ps->committed_jid = NULL;
}
