/* SPDX-License-Identifier: MIT */
/*
 * Protocol engine, rosters: XEP-0379 pre-authenticated subscription
 * requests (protocol.md section 6, with the "harmless repeat" of section
 * 7), and the post-registration work of a new account (roles, mutual
 * subscription with the inviter) taken from the store when the host says
 * the account was created.
 */
#include "config.h"

#include <string.h>

#include "internal.h"
#include "proto.h"
#include "xml.h"

static int
send_presence(struct inv__out *o, const char *type, const char *from,
              const char *to)
{
	struct inv__xml *pr;
	int err = 0, rc;

	pr = inv__b_new(INV_XML_NS_CLIENT, "presence", &err);
	inv__b_attr(pr, "type", type, &err);
	inv__b_attr(pr, "from", from, &err);
	inv__b_attr(pr, "to", to, &err);
	rc = err != 0 ? INVITES_ENOMEM : inv__out_send(o, pr);
	inv__xml_free(&pr);
	return rc;
}

/*
 * Decide whether the <preauth/> of a subscribe from `from` to `to` (both
 * bare, to local) approves it.  1: approve (and *consumed says whether
 * this request used the invite), 0: ignore the token.
 */
static int
approve(struct inv__proto *p, const char *token, const char *from,
        const char *to, const char *to_domain, struct inv__out *o,
        struct invites_invite **used_r)
{
	struct invites_invite *inv = NULL;
	int rc, ok = 0;

	*used_r = NULL;
	if (invites_get_by_token(p->st, token, &inv) < 0) {
		inv__out_log(o, INVITES_LOG_INFO,
		             "invites: XEP-0379 subscription from %s to %s "
		             "with an unknown token: normal handling", from,
		             to);
		return 0;
	}
	if (inv->kind != INVITES_KIND_CONTACT || inv->inviter == NULL
	    || strcmp(inv->inviter, to) != 0) {
		inv__out_log(o, INVITES_LOG_INFO,
		             "invites: XEP-0379 subscription from %s to %s: "
		             "invite %s is not a contact invite of %s", from,
		             to, inv->id, to);
		goto out;
	}
	rc = invites_invite_validate(inv, to_domain, INVITES_FOR_SUBSCRIBE,
	                             NULL, inv__now(), 1);
	if (rc == 0) {
		rc = invites_consume(p->st, token, to_domain,
		                     INVITES_FOR_SUBSCRIBE, NULL, from, 1,
		                     inv__now(), NULL);
		if (rc == 0) {
			inv__out_log(o, INVITES_LOG_NOTICE,
			             "invites: %s approved the subscription of "
			             "%s with invite %s", to, from, inv->id);
			*used_r = inv;  /* the inviter is told (operations) */
			inv = NULL;
			ok = 1;
			goto out;
		}
	} else if (rc == INVITES_EUSED && inv->last_used_by != NULL
	           && strcmp(inv->last_used_by, from) == 0) {
		/* protocol.md 7: the same invitee, e.g. after registering
		 * with it: approve again without using it again. */
		inv__out_log(o, INVITES_LOG_INFO,
		             "invites: %s approved the repeated subscription "
		             "of %s with its spent invite %s", to, from,
		             inv->id);
		ok = 1;
		goto out;
	}
	inv__out_log(o, INVITES_LOG_INFO,
	             "invites: XEP-0379 subscription from %s to %s with "
	             "invite %s: %s: normal handling", from, to, inv->id,
	             invites_strerror(rc));
out:
	invites_invite_free(&inv);
	return ok;
}

int
inv__proto_presence(struct inv__proto *p, const char *xml, size_t len,
                    const struct inv__facts *facts, struct inv__out *o)
{
	struct inv__xml *pr = NULL, *pa;
	struct invites_invite *used = NULL;
	char from[INVITES_JID_MAX + 1], to[INVITES_JID_MAX + 1];
	const char *type, *token;
	size_t dom;
	int rc, sub = INV__SUB_NONE, ask = 0, has_to, need_subscribe;

	if (p == NULL)
		return INV__PASS;
	rc = inv__proto_parse(xml, len, &pr);
	if (rc < 0) {
		/* Not something we can read: the host's normal handling. */
		inv__out_log(o, INVITES_LOG_INFO,
		             "invites: presence not examined: %s",
		             inv__xml_strerror(rc));
		return INV__PASS;
	}
	rc = INV__PASS;
	type = inv__xml_attr(pr, "type");
	if (!inv__proto_is_stanza(pr, "presence") || type == NULL
	    || strcmp(type, "subscribe") != 0)
		goto out;
	pa = inv__xml_child(pr, INV__NS_PARS, "preauth");
	if (pa == NULL)
		goto out;
	token = inv__xml_attr(pa, "token");
	if (token == NULL || !invites_token_plausible(token)
	    || inv__proto_bare(inv__xml_attr(pr, "from"), from, NULL) < 0
	    || inv__proto_bare(inv__xml_attr(pr, "to"), to, &dom) < 0
	    || dom == 0 || !invites_config_serves(p->cfg, to + dom)
	    || strcmp(from, to) == 0)
		goto out;
	if (!approve(p, token, from, to, to + dom, o, &used))
		goto out;
	if (facts->roster_get(facts->ctx, to, from, &sub, &ask) < 0) {
		sub = INV__SUB_NONE;
		ask = 0;
	}
	/* protocol.md 6.3 */
	has_to = sub == INV__SUB_TO || sub == INV__SUB_BOTH;
	need_subscribe = !has_to && !ask;
	if (inv__out_roster(o, to, from, has_to ? INV__SUB_BOTH : INV__SUB_FROM,
	                    ask || need_subscribe, NULL, 0) < 0
	    || send_presence(o, "subscribed", to, from) < 0
	    || (need_subscribe && send_presence(o, "subscribe", to, from) < 0))
		goto oom;
	{
		struct inv__act *a = inv__out_act(o, INV__ACT_SHARE_PRESENCE);

		if (a == NULL || (a->jid = inv__strdup(to)) == NULL
		    || (a->jid2 = inv__strdup(from)) == NULL)
			goto oom;
	}
	/* best effort, after the subscription (protocol.md 4.3) */
	if (used != NULL)
		(void)inv__proto_notify(p, used, from, 1, o);
	o->result = rc = INV__ACCEPT;
	goto out;
oom:
	/* The invite may be spent; the subscription then takes the normal
	 * way, which still works (the inviter is asked). */
	inv__out_drop_acts(o);
	o->result = rc = INV__PASS;
out:
	invites_invite_free(&used);
	inv__xml_free(&pr);
	return rc;
}

int
inv__proto_user_created(struct inv__proto *p, const char *jid,
                        struct inv__out *o)
{
	struct invites_pending *w = NULL;
	char bare[INVITES_JID_MAX + 1];
	size_t i;
	int rc;

	if (p == NULL || inv__proto_bare(jid, bare, NULL) < 0)
		return INV__PASS;
	rc = invites_pending_take(p->st, bare, &w);
	if (rc == INVITES_ENOTFOUND)
		return INV__PASS;
	if (rc < 0) {
		inv__out_log(o, INVITES_LOG_ERR,
		             "invites: the work left for %s cannot be read: %s",
		             bare, invites_strerror(rc));
		o->result = INV__REJECT;
		o->err_type = invites_err_type(rc);
		o->err_cond = invites_err_condition(rc);
		return INV__REJECT;
	}
	for (i = 0; i < w->n_roles; i++) {
		struct inv__act *a;

		rc = invites_roles_add(p->st, bare, w->roles[i]);
		if (rc < 0)
			inv__out_log(o, INVITES_LOG_ERR,
			             "invites: role %s for %s not stored: %s",
			             w->roles[i], bare, invites_strerror(rc));
		a = inv__out_act(o, INV__ACT_ROLE_ADD);
		if (a == NULL || (a->jid = inv__strdup(bare)) == NULL
		    || (a->text = inv__strdup(w->roles[i])) == NULL)
			goto oom;
	}
	if (w->pair_with != NULL && strcmp(w->pair_with, bare) != 0) {
		if (inv__out_roster(o, bare, w->pair_with, INV__SUB_BOTH, 0,
		                    w->groups, w->n_groups) < 0
		    || inv__out_roster(o, w->pair_with, bare, INV__SUB_BOTH, 0,
		                       NULL, 0) < 0)
			goto oom;
	}
	/* best effort: a notification lost to memory loses nothing else */
	(void)inv__proto_notify_by_id(p, w->invite_id, bare, o);
	inv__out_log(o, INVITES_LOG_NOTICE,
	             "invites: %s set up from invite %s: %zu role(s)%s%s",
	             bare, w->invite_id ? w->invite_id : "?", w->n_roles,
	             w->pair_with ? ", mutual subscription with " : "",
	             w->pair_with ? w->pair_with : "");
	invites_pending_free(&w);
	o->result = INV__ACCEPT;
	return INV__ACCEPT;
oom:
	/* The work is taken: log what is lost rather than half of it. */
	inv__out_drop_acts(o);
	inv__out_log(o, INVITES_LOG_ERR,
	             "invites: out of memory applying the invite work of %s",
	             bare);
	invites_pending_free(&w);
	o->result = INV__REJECT;
	o->err_type = "wait";
	o->err_cond = "resource-constraint";
	return INV__REJECT;
}
