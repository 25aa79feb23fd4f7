/* SPDX-License-Identifier: MIT */
/*
 * Protocol engine, client streams before authentication: per-stream
 * state, the stream features (protocol.md section 1), the dispatch of
 * client IQs, and the XEP-0445 pre-auth IQ with its brute-force guard
 * (section 2).
 */
#include "config.h"

#include <string.h>

#include "internal.h"
#include "proto.h"
#include "xml.h"

/* Defined in proto_register.c. */
int inv__proto_register_iq(struct inv__proto *p, struct inv__pstream *ps,
                           const struct inv__xml *iq,
                           const struct inv__xml *query,
                           const struct inv__facts *facts,
                           struct inv__out *o);

int
inv__pstream_new(struct inv__proto *p, const char *domain, unsigned flags,
                 struct inv__pstream **ps_r)
{
	struct inv__pstream *ps;

	*ps_r = NULL;
	if (p == NULL || domain == NULL)
		return INVITES_EINVAL;
	ps = inv__calloc(1, sizeof(*ps));
	if (ps == NULL)
		return INVITES_ENOMEM;
	if (invites_nameprep(domain, ps->domain, sizeof(ps->domain)) < 0) {
		invites_free(ps);
		return INVITES_EINVAL;
	}
	ps->p = p;
	ps->flags = flags;
	/* A stream for a domain we do not serve gets no invite features;
	 * registration on it stays gated all the same. */
	ps->served = invites_config_serves(p->cfg, ps->domain);
	*ps_r = ps;
	return 0;
}

void
inv__pstream_set_flags(struct inv__pstream *ps, unsigned flags)
{
	if (ps != NULL)
		ps->flags = flags;
}

static void
wipe(char **s)
{
	if (*s != NULL) {
		inv__cleanse(*s, strlen(*s));
		invites_free(*s);
		*s = NULL;
	}
}

void
inv__pstream_free(struct inv__pstream **ps)
{
	if (ps == NULL || *ps == NULL)
		return;
	wipe(&(*ps)->token);
	wipe(&(*ps)->committed_token);
	invites_free((*ps)->committed_jid);
	invites_free(*ps);
	*ps = NULL;
}

/* Plain-text stream where encryption is required? */
static int
insecure(const struct inv__proto *p, const struct inv__pstream *ps)
{
	return (p->require_tls || (ps->flags & INV__PS_REQUIRE_TLS))
	       && !(ps->flags & INV__PS_SECURE);
}

int
inv__proto_features(struct inv__proto *p, struct inv__pstream *ps,
                    int with_iq_register, char **xml_r)
{
	static const char reg[] =
		"<register xmlns='" INV__NS_FEAT_REG "'/>";
	static const char ours[] =
		"<register xmlns='" INV__NS_IBR_TOKEN "'/>"
		"<register xmlns='" INV__NS_INVITE "'/>";

	*xml_r = NULL;
	if (p == NULL || ps == NULL || !ps->served
	    || (ps->flags & INV__PS_AUTHENTICATED) || insecure(p, ps))
		return INV__PASS;
	*xml_r = inv__asprintf("%s%s", with_iq_register ? reg : "", ours);
	if (*xml_r == NULL)
		return INV__PASS;
	return INV__ACCEPT;
}

static int
preauth(struct inv__proto *p, struct inv__pstream *ps,
        const struct inv__xml *iq, const struct inv__xml *el,
        struct inv__out *o)
{
	const char *type = inv__xml_attr(iq, "type");
	const char *token = inv__xml_attr(el, "token");
	struct invites_invite *inv = NULL;
	struct inv__xml *reply;
	char *copy;
	int rc, err = 0;

	if (type == NULL || strcmp(type, "get") == 0)
		return inv__out_iq_error(o, iq, ps->domain, NULL, "cancel",
		                         "bad-request", NULL);
	if (strcmp(type, "set") != 0)
		return INV__PASS;
	if (ps->flags & INV__PS_AUTHENTICATED)
		return inv__out_iq_error(o, iq, ps->domain, NULL, "cancel",
		                         "not-allowed", NULL);
	if (insecure(p, ps))
		return inv__out_iq_error(o, iq, ps->domain, NULL, "modify",
		                         "policy-violation",
		                         "Encryption is required");
	if (p->max_failures > 0 && ps->failures >= p->max_failures) {
		inv__out_log(o, INVITES_LOG_NOTICE,
		             "invites: %s: %u failed pre-auth attempts on one "
		             "stream; closing it", ps->domain, ps->failures);
		inv__out_iq_error(o, iq, ps->domain, NULL, "wait",
		                  "policy-violation",
		                  "Too many failed attempts");
		o->flags |= INV__OUT_CLOSE;
		o->stream_error = "policy-violation";
		return INV__REJECT;
	}
	if (token == NULL || !invites_token_plausible(token)) {
		ps->failures++;
		return inv__out_iq_error(o, iq, ps->domain, NULL, "modify",
		                         "bad-request",
		                         token == NULL || *token == '\0'
		                         ? "The token is missing"
		                         : "The token is malformed");
	}
	rc = invites_get_by_token(p->st, token, &inv);
	if (rc == 0)
		rc = invites_invite_validate(inv, ps->domain,
		                             INVITES_FOR_PREAUTH, NULL,
		                             inv__now(), 1);
	if (rc == INVITES_ENOTFOUND || (rc < 0 && inv != NULL)) {
		ps->failures++;
		if (inv != NULL)
			inv__out_log(o, INVITES_LOG_INFO,
			             "invites: %s: pre-auth refused for invite "
			             "%s: %s", ps->domain, inv->id,
			             invites_strerror(rc));
		else
			inv__out_log(o, INVITES_LOG_INFO,
			             "invites: %s: pre-auth with an unknown "
			             "token", ps->domain);
		invites_invite_free(&inv);
		return inv__out_iq_error(o, iq, ps->domain, NULL, "cancel",
		                         "item-not-found",
		                         "The invitation is invalid or has "
		                         "expired");
	}
	if (rc < 0) {
		inv__out_log(o, INVITES_LOG_ERR,
		             "invites: %s: pre-auth: %s", ps->domain,
		             invites_strerror(rc));
		return inv__out_iq_errcode(o, iq, ps->domain, NULL, rc, NULL);
	}
	copy = inv__strdup(token);
	if (copy == NULL) {
		invites_invite_free(&inv);
		return inv__out_iq_errcode(o, iq, ps->domain, NULL,
		                           INVITES_ENOMEM, NULL);
	}
	wipe(&ps->token);
	ps->token = copy;
	inv__out_log(o, INVITES_LOG_INFO,
	             "invites: %s: pre-auth accepted invite %s (%s)",
	             ps->domain, inv->id, invites_kind_name(inv->kind));
	invites_invite_free(&inv);
	reply = inv__b_iq(iq, "result", ps->domain, NULL, &err);
	if (err != 0) {
		inv__xml_free(&reply);
		return inv__out_iq_errcode(o, iq, ps->domain, NULL,
		                           INVITES_ENOMEM, NULL);
	}
	inv__out_reply(o, INV__ACCEPT, &reply);
	return o->result;
}

int
inv__proto_stream_iq(struct inv__proto *p, struct inv__pstream *ps,
                     const char *xml, size_t len,
                     const struct inv__facts *facts, struct inv__out *o)
{
	struct inv__xml *iq = NULL, *child;
	char to[INVITES_JID_MAX + 1];
	const char *to_attr;
	int rc;

	if (p == NULL || ps == NULL)
		return INV__PASS;
	rc = inv__proto_parse(xml, len, &iq);
	if (rc < 0) {
		/* No id to answer: the host builds the error (see ABI). */
		inv__out_log(o, INVITES_LOG_INFO,
		             "invites: %s: refused a client IQ: %s",
		             ps->domain, inv__xml_strerror(rc));
		o->result = INV__REJECT;
		o->err_type = inv__xml_err_type(rc);
		o->err_cond = inv__xml_err_condition(rc);
		return o->result;
	}
	rc = INV__PASS;
	if (!inv__proto_is_stanza(iq, "iq"))
		goto out;
	to_attr = inv__xml_attr(iq, "to");
	if (to_attr != NULL
	    && (inv__proto_bare(to_attr, to, NULL) < 0
	        || strcmp(to, ps->domain) != 0))
		goto out;
	child = inv__xml_first(iq);
	if (inv__xml_is(child, INV__NS_PARS, "preauth"))
		rc = preauth(p, ps, iq, child, o);
	else if (inv__xml_is(child, INV__NS_REGISTER, "query"))
		rc = inv__proto_register_iq(p, ps, iq, child, facts, o);
out:
	inv__xml_free(&iq);
	return rc;
}
