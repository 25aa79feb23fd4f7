/* SPDX-License-Identifier: MIT */
/*
 * The protocol engine under allocation failure: every handler is driven
 * with a representative stanza while the XML layer's allocations fail
 * after 0, 1, 2, ... successes, until the handler gets through.  Each
 * run must give a result in range, a REJECT must name a condition, and
 * nothing may leak (ASan checks that in the sanitizer build).  A use of
 * an invite whose reply could not be built must be given back.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "proto.h"
#include "tap.h"
#include "xml.h"

static int
f_user_exists(void *ctx, const char *jid)
{
	(void)ctx;
	return strncmp(jid, "romeo@", 6) == 0;
}

static int
f_roster_get(void *ctx, const char *owner, const char *contact, int *sub_r,
             int *ask_r)
{
	(void)ctx;
	(void)owner;
	(void)contact;
	*sub_r = INV__SUB_NONE;
	*ask_r = 0;
	return 0;
}

static const struct inv__facts facts = { NULL, f_user_exists, f_roster_get };

/* tmpl with its one "%s" replaced by tok. */
static void
fill(char *out, size_t size, const char *tmpl, const char *tok)
{
	const char *at = strstr(tmpl, "%s");

	if (at == NULL)
		snprintf(out, size, "%s", tmpl);
	else
		snprintf(out, size, "%.*s%s%s", (int)(at - tmpl), tmpl, tok,
		         at + 2);
}

static uint32_t
uses(struct invites_store *st, const char *token)
{
	struct invites_invite *inv = NULL;
	uint32_t n = UINT32_MAX;

	if (invites_get_by_token(st, token, &inv) == 0)
		n = inv->uses;
	invites_invite_free(&inv);
	return n;
}

enum hook { H_STREAM, H_PRESENCE, H_SERVER };

static const struct {
	enum hook hook;
	const char *name;
	const char *xml;   /* %s: the account token, or the contact token */
	int contact;
} cases[] = {
	{ H_STREAM, "pre-auth",
	  "<iq type='set' id='p'><preauth xmlns='urn:xmpp:pars:0' "
	  "token='%s'/></iq>", 0 },
	{ H_STREAM, "register get",
	  "<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>",
	  0 },
	{ H_STREAM, "register set",
	  "<iq type='set' id='s'><query xmlns='jabber:iq:register'>"
	  "<username>juliet</username><password>pw</password></query></iq>",
	  0 },
	{ H_PRESENCE, "XEP-0379",
	  "<presence from='nurse@capulet.example' to='romeo@example.com' "
	  "type='subscribe'><preauth xmlns='urn:xmpp:pars:0' token='%s'/>"
	  "</presence>", 1 },
	{ H_SERVER, "disco items",
	  "<iq type='get' id='d' from='admin@example.com/x' to='example.com'>"
	  "<query xmlns='http://jabber.org/protocol/disco#items' "
	  "node='http://jabber.org/protocol/commands'/></iq>", 0 },
	{ H_SERVER, "list",
	  "<iq type='set' id='c' from='admin@example.com' to='example.com'>"
	  "<command xmlns='http://jabber.org/protocol/commands' "
	  "node='xmpp-invites#list'/></iq>", 0 },
	{ H_SERVER, "invite command",
	  "<iq type='set' id='c' from='romeo@example.com/x' to='example.com'>"
	  "<command xmlns='http://jabber.org/protocol/commands' "
	  "node='urn:xmpp:invite#invite'/></iq>", 0 },
	{ H_SERVER, "create-account form",
	  "<iq type='set' id='c' from='admin@example.com' to='example.com'>"
	  "<command xmlns='http://jabber.org/protocol/commands' "
	  "node='urn:xmpp:invite#create-account'/></iq>", 0 },
	{ H_SERVER, "create-account submit",
	  "<iq type='set' id='c' from='admin@example.com' to='example.com'>"
	  "<command xmlns='http://jabber.org/protocol/commands' "
	  "node='urn:xmpp:invite#create-account' action='complete'>"
	  "<x xmlns='jabber:x:data' type='submit'><field var='groups'>"
	  "<value>A</value><value>B</value></field></x></command></iq>", 0 },
};

int
main(void)
{
	struct invites_config *cfg = NULL;
	struct invites_store *st = NULL;
	struct inv__proto *p = NULL;
	struct invites_spec spec;
	char dir[256], path[300], cmd[300];
	char tok_a[INVITES_TOKEN_MAX + 1], tok_c[INVITES_TOKEN_MAX + 1];
	char xml[2048];
	size_t i;

	setenv("INVITES_FAKE_NOW", "1795176000", 1);
	snprintf(dir, sizeof(dir), "%s/test-engine-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		skip_all("no temporary directory");
	snprintf(path, sizeof(path), "%s/store", dir);
	if (!ok(invites_config_new(path, &cfg) == 0
	        && invites_config_set(cfg, "domains", "example.com", NULL) == 0
	        && invites_config_set(cfg, "admins", "admin@example.com",
	                              NULL) == 0
	        && invites_config_set(cfg, "landing_url",
	                              "https://example.com/i/{token}",
	                              NULL) == 0
	        && invites_store_open(cfg, INVITES_OPEN_CREATE, &st) == 0
	        && inv__proto_new(cfg, st, &p) == 0, "a store and an engine"))
		return done_testing();
	memset(&spec, 0, sizeof(spec));
	spec.kind = INVITES_KIND_ACCOUNT;
	spec.domain = "example.com";
	spec.max_uses = 1000;
	ok(invites_create(st, cfg, &spec, tok_a, sizeof(tok_a), NULL) == 0,
	   "an account invite");
	spec.kind = INVITES_KIND_CONTACT;
	spec.inviter = "romeo@example.com";
	ok(invites_create(st, cfg, &spec, tok_c, sizeof(tok_c), NULL) == 0,
	   "a contact invite");

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long n, done = 0;
		int bad = 0;
		uint32_t uses_before;

		fill(xml, sizeof(xml), cases[i].xml,
		     cases[i].contact ? tok_c : tok_a);
		for (n = 0; n < 2000 && !done; n++) {
			struct inv__pstream *ps = NULL;
			struct inv__out o;
			char pre[256];
			int rc;

			inv__out_init(&o);
			if (cases[i].hook == H_STREAM) {
				/* a stream that already holds the token */
				if (inv__pstream_new(p, "example.com",
				                     INV__PS_SECURE, &ps) < 0) {
					bad = 1;
					break;
				}
				fill(pre, sizeof(pre), cases[0].xml, tok_a);
				rc = inv__proto_stream_iq(p, ps, pre,
				                          strlen(pre), &facts,
				                          &o);
				inv__out_clear(&o);
				if (rc != INV__ACCEPT) {
					bad = 1;
					inv__pstream_free(&ps);
					break;
				}
			}
			uses_before = uses(st, tok_a);
			inv__xml_test_fail_after(n);
			switch (cases[i].hook) {
			case H_STREAM:
				rc = inv__proto_stream_iq(p, ps, xml,
				                          strlen(xml), &facts,
				                          &o);
				break;
			case H_PRESENCE:
				rc = inv__proto_presence(p, xml, strlen(xml),
				                         &facts, &o);
				break;
			default:
				rc = inv__proto_server_iq(p, xml, strlen(xml),
				                          &facts, &o);
				break;
			}
			inv__xml_test_fail_after(-1);
			if (rc != INV__PASS && rc != INV__ACCEPT
			    && rc != INV__REJECT)
				bad = 1;
			if (rc == INV__REJECT && o.err_cond == NULL)
				bad = 1;
			if (rc == INV__ACCEPT && o.reply != NULL)
				done = 1;
			if (rc == INV__ACCEPT && cases[i].hook == H_PRESENCE)
				done = 1;
			/* A registration that could not answer gave the
			 * invite's use back. */
			if (cases[i].hook == H_STREAM && rc == INV__REJECT
			    && uses(st, tok_a) != uses_before)
				bad = 1;
			inv__out_clear(&o);
			inv__pstream_free(&ps);
		}
		ok(!bad && done, "%s: every allocation failure handled "
		   "(succeeded after %ld)", cases[i].name, n - 1);
	}

	inv__proto_free(&p);
	invites_store_close(&st);
	invites_config_free(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("cannot remove %s", dir);
	return done_testing();
}
