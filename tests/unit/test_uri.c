/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/uri.c: the four invite URI forms and their escaping,
 * landing URLs from templates, and the parser (good forms, round trips,
 * every kind of malformed input, arbitrary bytes).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tap.h"

#define TOK "AbCd-_0123456789xyzQ"

static struct invites_invite *
mk(enum invites_kind kind, unsigned flags, const char *domain,
   const char *username, const char *inviter)
{
	struct invites_invite *inv = calloc(1, sizeof(*inv));

	if (inv == NULL)
		abort();
	inv->kind = kind;
	inv->flags = flags;
	inv->domain = domain ? strdup(domain) : NULL;
	inv->username = username ? strdup(username) : NULL;
	inv->inviter = inviter ? strdup(inviter) : NULL;
	inv->max_uses = 1;
	return inv;
}

static void
build_is(const struct invites_invite *inv, const char *token, const char *want,
         const char *name)
{
	char *uri = NULL;
	int rc = invites_uri_build(inv, token, &uri);

	if (!ok(rc == 0 && uri && strcmp(uri, want) == 0, "%s", name))
		diag("  rc %d, got '%s', want '%s'", rc, uri ? uri : "(null)", want);
	invites_free(uri);
}

static void
test_build(void)
{
	struct invites_invite *inv;
	char *uri = (char *)"junk";

	inv = mk(INVITES_KIND_ACCOUNT, 0, "example.com", NULL, NULL);
	build_is(inv, TOK, "xmpp:example.com?register;preauth=" TOK, "account");
	build_is(inv, "a+b c%d", "xmpp:example.com?register;preauth=a%2Bb%20c%25d",
	         "token escaped as a query value");
	free(inv->username);
	inv->username = strdup("juliet");
	build_is(inv, TOK, "xmpp:juliet@example.com?register;preauth=" TOK,
	         "account with a preset name");
	free(inv->username);
	inv->username = strdup("");
	build_is(inv, TOK, "xmpp:example.com?register;preauth=" TOK,
	         "empty preset name is no name");
	free(inv->username);
	inv->username = strdup("a+b!$()*,;=&'/:<>\"x y.~_-");
	build_is(inv, TOK,
	         "xmpp:a%2Bb!$()*,;=%26%27%2F%3A%3C%3E%22x%20y.~_-@example.com"
	         "?register;preauth=" TOK, "localpart escaping, never '+'");
	free(inv->username);
	inv->username = strdup("\xc3\xa4");
	free(inv->domain);
	inv->domain = strdup("\xc3\xa4.example");
	build_is(inv, TOK, "xmpp:%C3%A4@%C3%A4.example?register;preauth=" TOK,
	         "non-ASCII as UTF-8 escapes");
	free(inv->username);
	inv->username = NULL;
	free(inv->domain);
	inv->domain = strdup("[::1]");
	build_is(inv, TOK, "xmpp:[::1]?register;preauth=" TOK, "IPv6 literal");
	invites_invite_free(&inv);

	inv = mk(INVITES_KIND_RESET, 0, "example.com", "juliet", NULL);
	build_is(inv, TOK, "xmpp:juliet@example.com?register;preauth=" TOK, "reset");
	free(inv->username);
	inv->username = NULL;
	is_int(invites_uri_build(inv, TOK, &uri), INVITES_EINVAL,
	       "reset without a user");
	ok(uri == NULL, "failed build sets NULL");
	invites_invite_free(&inv);

	inv = mk(INVITES_KIND_CONTACT, 0, "example.com", NULL, "romeo@example.com");
	build_is(inv, TOK, "xmpp:romeo@example.com?roster;preauth=" TOK, "contact");
	inv->flags |= INVITES_F_REGISTER;
	build_is(inv, TOK, "xmpp:romeo@example.com?roster;preauth=" TOK ";ibr=y",
	         "contact + register");
	free(inv->inviter);
	inv->inviter = strdup("r+o@\xc3\xa4.example");
	build_is(inv, TOK, "xmpp:r%2Bo@%C3%A4.example?roster;preauth=" TOK ";ibr=y",
	         "inviter escaped");
	free(inv->inviter);
	inv->inviter = strdup("component.example");
	build_is(inv, TOK, "xmpp:component.example?roster;preauth=" TOK ";ibr=y",
	         "inviter without a localpart");
	free(inv->inviter);
	inv->inviter = NULL;
	is_int(invites_uri_build(inv, TOK, &uri), INVITES_EINVAL,
	       "contact without an inviter");
	invites_invite_free(&inv);

	inv = mk(INVITES_KIND_ACCOUNT, 0, NULL, NULL, NULL);
	is_int(invites_uri_build(inv, TOK, &uri), INVITES_EINVAL, "no domain");
	inv->domain = strdup("example.com");
	is_int(invites_uri_build(inv, NULL, &uri), INVITES_EINVAL, "NULL token");
	is_int(invites_uri_build(inv, "", &uri), INVITES_EINVAL, "empty token");
	is_int(invites_uri_build(inv, TOK, NULL), INVITES_EINVAL, "NULL out");
	is_int(invites_uri_build(NULL, TOK, &uri), INVITES_EINVAL, "NULL invite");
	inv->kind = (enum invites_kind)7;
	is_int(invites_uri_build(inv, TOK, &uri), INVITES_EINVAL, "unknown kind");
	inv->kind = INVITES_KIND_ACCOUNT;

	{
		long n;
		int nomem = 0, wrong = 0, done = 0, rc;

		free(inv->domain);
		inv->domain = strdup("example.com");
		inv->username = strdup("juliet");
		for (n = 0; n < 100 && !done; n++) {
			uri = NULL;
			inv__alloc_fail_at = n;
			rc = invites_uri_build(inv, TOK, &uri);
			if (inv__alloc_fail_at >= 0)
				done = rc == 0;
			else if (rc == INVITES_ENOMEM && uri == NULL)
				nomem++;
			else
				wrong++;
			inv__alloc_fail_at = -1;
			invites_free(uri);
		}
		ok(done && nomem > 0 && wrong == 0,
		   "build: %d allocation failures, each ENOMEM", nomem);
	}
	invites_invite_free(&inv);
}

static void
landing_is(const char *tmpl, const struct invites_invite *inv, const char *want,
           const char *name)
{
	char *url = NULL;
	int rc = invites_landing_url(tmpl, inv, TOK, &url);

	if (!ok(rc == 0 && url && strcmp(url, want) == 0, "%s", name))
		diag("  rc %d, got '%s', want '%s'", rc, url ? url : "(null)", want);
	invites_free(url);
}

static void
test_landing(void)
{
	struct invites_invite *acc, *con;
	char *url = (char *)"junk";

	acc = mk(INVITES_KIND_ACCOUNT, 0, "example.com", NULL, NULL);
	con = mk(INVITES_KIND_CONTACT, INVITES_F_REGISTER, "example.com", NULL,
	         "romeo@example.com");

	landing_is("https://{host}/invite/{token}", acc,
	           "https://example.com/invite/" TOK, "host and token");
	landing_is("https://example.com/invite?{token}", acc,
	           "https://example.com/invite?" TOK, "token in the query");
	landing_is("https://x.org/i?u={uri}", acc,
	           "https://x.org/i?u=xmpp%3Aexample.com%3Fregister%3Bpreauth%3D" TOK,
	           "{uri} escaped for a URL");
	landing_is("https://invite.joinjabber.org/#{uri-noscheme}", con,
	           "https://invite.joinjabber.org/#romeo%40example.com%3Froster"
	           "%3Bpreauth%3D" TOK "%3Bibr%3Dy", "{uri-noscheme}");
	landing_is("https://{host}/{uri}/{uri-noscheme}/{token}/{host}", acc,
	           "https://example.com/xmpp%3Aexample.com%3Fregister%3Bpreauth%3D"
	           TOK "/example.com%3Fregister%3Bpreauth%3D" TOK "/" TOK
	           "/example.com", "every placeholder, repeated");
	landing_is("https://a/}x", acc, "https://a/}x", "a lone } is literal");
	landing_is("plain", acc, "plain", "no placeholders");
	landing_is("", acc, "", "empty template");
	free(acc->username);
	acc->username = strdup("a+b");
	landing_is("https://h/{uri}", acc,
	           "https://h/xmpp%3Aa%252Bb%40example.com%3Fregister%3Bpreauth%3D"
	           TOK, "escapes inside {uri} escaped again");
	free(acc->domain);
	acc->domain = strdup("[::1]");
	landing_is("https://{host}/{token}", acc, "https://[::1]/" TOK,
	           "IPv6 host keeps brackets");

	is_int(invites_landing_url("https://x/{nope}", acc, TOK, &url),
	       INVITES_EINVAL, "unknown placeholder");
	ok(url == NULL, "failure sets NULL");
	is_int(invites_landing_url("https://x/{token", acc, TOK, &url),
	       INVITES_EINVAL, "unclosed placeholder");
	is_int(invites_landing_url("https://x/{{token}", acc, TOK, &url),
	       INVITES_EINVAL, "nested {");
	is_int(invites_landing_url("https://x/{}", acc, TOK, &url),
	       INVITES_EINVAL, "empty placeholder");
	is_int(invites_landing_url("https://x/{TOKEN}", acc, TOK, &url),
	       INVITES_EINVAL, "placeholders are exact");
	is_int(invites_landing_url(NULL, acc, TOK, &url), INVITES_EINVAL,
	       "NULL template");
	is_int(invites_landing_url("x", NULL, TOK, &url), INVITES_EINVAL,
	       "NULL invite");
	is_int(invites_landing_url("x", acc, NULL, &url), INVITES_EINVAL,
	       "NULL token");
	is_int(invites_landing_url("x", acc, TOK, NULL), INVITES_EINVAL,
	       "NULL out");
	free(con->inviter);
	con->inviter = NULL;
	is_int(invites_landing_url("https://x/{uri}", con, TOK, &url),
	       INVITES_EINVAL, "{uri} of an invite that has none");

	{
		long n;
		int nomem = 0, wrong = 0, done = 0, rc;

		for (n = 0; n < 200 && !done; n++) {
			url = NULL;
			inv__alloc_fail_at = n;
			rc = invites_landing_url("https://{host}/{uri}#{token}", acc,
			                         TOK, &url);
			if (inv__alloc_fail_at >= 0)
				done = rc == 0;
			else if (rc == INVITES_ENOMEM && url == NULL)
				nomem++;
			else
				wrong++;
			inv__alloc_fail_at = -1;
			invites_free(url);
		}
		ok(done && nomem > 0 && wrong == 0,
		   "landing: %d allocation failures, each ENOMEM", nomem);
	}
	invites_invite_free(&acc);
	invites_invite_free(&con);
}

static void
parse_good(const char *uri, const char *jid, const char *action,
           const char *preauth, int ibr, const char *name, const char *what)
{
	struct invites_uri *u = NULL;
	int rc = invites_uri_parse(uri, &u);

	if (!ok(rc == 0 && u != NULL, "parse %s", what)) {
		diag("  rc %d for '%s'", rc, uri);
		return;
	}
	is_str(u->jid, jid, "  jid");
	is_str(u->action, action, "  action");
	is_str(u->preauth, preauth, "  preauth");
	is_int(u->ibr, ibr, "  ibr");
	is_str(u->name, name, "  name");
	invites_uri_free(&u);
	ok(u == NULL, "  free sets NULL");
}

static void
parse_bad(const char *uri, const char *what)
{
	struct invites_uri *u = (struct invites_uri *)&u;
	int rc = invites_uri_parse(uri, &u);

	if (!ok(rc == INVITES_EINVAL && u == NULL, "refuse %s", what))
		diag("  rc %d for '%s'", rc, uri ? uri : "(null)");
	invites_uri_free(&u);
}

static void
test_parse(void)
{
	char *big;

	parse_good("xmpp:example.com?register;preauth=" TOK, "example.com",
	           "register", TOK, 0, NULL, "account");
	parse_good("xmpp:juliet@example.com?register;preauth=" TOK,
	           "juliet@example.com", "register", TOK, 0, NULL, "preset name");
	parse_good("xmpp:romeo@example.com?roster;preauth=" TOK,
	           "romeo@example.com", "roster", TOK, 0, NULL, "contact");
	parse_good("xmpp:romeo@example.com?roster;preauth=" TOK ";ibr=y",
	           "romeo@example.com", "roster", TOK, 1, NULL, "contact ibr=y");
	parse_good("xmpp:romeo@example.com?roster;ibr=n;preauth=" TOK,
	           "romeo@example.com", "roster", TOK, 0, NULL, "ibr=n first");
	parse_good("xmpp:romeo@example.com?roster;preauth=" TOK
	           ";name=Romeo%20Montague;ibr=y", "romeo@example.com", "roster",
	           TOK, 1, "Romeo Montague", "name");
	parse_good("XMPP:a%2Bb@%C3%A4.example?register;preauth=a%2Bb",
	           "a+b@\xc3\xa4.example", "register", "a+b", 0, NULL,
	           "escapes and an upper-case scheme");
	parse_good("xmpp:a+b@example.com?register;preauth=x",
	           "a+b@example.com", "register", "x", 0, NULL,
	           "a raw + in the path is a +");
	parse_good("xmpp:\xc3\xa4@example.com?register;preauth=x",
	           "\xc3\xa4@example.com", "register", "x", 0, NULL, "IRI path");
	parse_good("xmpp:[::1]?register;preauth=x", "[::1]", "register", "x", 0,
	           NULL, "IPv6");
	parse_good("xmpp:example.com?register;preauth=x;foo=bar;x-y=%41",
	           "example.com", "register", "x", 0, NULL, "unknown keys ignored");
	parse_good("xmpp:example.com?register;preauth=x#frag;ment?",
	           "example.com", "register", "x", 0, NULL, "fragment ignored");
	parse_good("xmpp:juliet@example.com/res?register;preauth=x",
	           "juliet@example.com/res", "register", "x", 0, NULL,
	           "resource kept for the caller to normalise");

	parse_bad(NULL, "NULL");
	parse_bad("", "empty");
	parse_bad("xmpp", "scheme only, no colon");
	parse_bad("xmpp:", "nothing after the scheme");
	parse_bad("http://example.com?register;preauth=x", "wrong scheme");
	parse_bad("xmp:example.com?register;preauth=x", "short scheme");
	parse_bad("xmpp://example.com?register;preauth=x", "authority form");
	parse_bad("xmpp:example.com", "no query");
	parse_bad("xmpp:example.com?", "empty query");
	parse_bad("xmpp:?register;preauth=x", "no JID");
	parse_bad("xmpp:example.com?;preauth=x", "no action");
	parse_bad("xmpp:example.com?join;preauth=x", "unknown action");
	parse_bad("xmpp:example.com?Register;preauth=x", "actions are exact");
	parse_bad("xmpp:example.com?register", "missing preauth");
	parse_bad("xmpp:example.com?register;ibr=y", "missing preauth, ibr");
	parse_bad("xmpp:example.com?register;preauth=", "empty preauth");
	parse_bad("xmpp:example.com?register;preauth=a;preauth=b", "two preauth");
	parse_bad("xmpp:example.com?roster;preauth=a;ibr=y;ibr=y", "two ibr");
	parse_bad("xmpp:example.com?roster;preauth=a;ibr=yes", "ibr=yes");
	parse_bad("xmpp:example.com?roster;preauth=a;ibr", "key without =");
	parse_bad("xmpp:example.com?roster;preauth=a;=b", "empty key");
	parse_bad("xmpp:example.com?roster;preauth=a;;ibr=y", "empty parameter");
	parse_bad("xmpp:example.com?roster;preauth=a;", "trailing ;");
	parse_bad("xmpp:example.com?roster;preauth=a;name=x;name=y", "two names");
	parse_bad("xmpp:example.com?register;preauth=a%", "truncated escape");
	parse_bad("xmpp:example.com?register;preauth=a%4", "short escape");
	parse_bad("xmpp:example.com?register;preauth=a%zz", "bad escape");
	parse_bad("xmpp:example.com?register;preauth=a%00b", "NUL escape");
	parse_bad("xmpp:a%00b@example.com?register;preauth=a", "NUL in path");
	parse_bad("xmpp:a%4@example.com?register;preauth=a", "bad escape in path");
	parse_bad("xmpp:example.com?register;preauth=a+b", "raw + in a value");
	parse_bad("xmpp:example.com?register;preauth=a b", "space in a value");
	parse_bad("xmpp:example.com?register;preauth=a=b", "= in a value");
	parse_bad("xmpp:example.com?register;pre%61uth=a", "escape in a key");
	parse_bad("xmpp:exa mple.com?register;preauth=a", "space in the path");
	parse_bad("xmpp:a<b@example.com?register;preauth=a", "< in the path");
	parse_bad("xmpp:a\x01@example.com?register;preauth=a", "control in the path");
	parse_bad("xmpp:example.com?register;preauth=\xc3\xa4", "non-ASCII value");
	parse_bad("xmpp:example.com?register?x;preauth=a", "? in the action");

	big = malloc(5000);
	strcpy(big, "xmpp:example.com?register;preauth=");
	memset(big + strlen(big), 'a', 4096 - strlen(big));
	big[4096] = '\0';
	parse_good(big, "example.com", "register", big + 34, 0, NULL,
	           "4096 octets");
	big[4096] = 'a';
	big[4097] = '\0';
	parse_bad(big, "4097 octets");
	free(big);

	is_int(invites_uri_parse("xmpp:a?register;preauth=x", NULL), INVITES_EINVAL,
	       "NULL out");
	invites_uri_free(NULL);
	ok(1, "free(NULL) is harmless");
}

static void
test_roundtrip(void)
{
	static const char *const users[] = {
		"juliet", "a+b", "o'neil", "x y", "\xc3\xa4\xc3\xb6", "a%b", "!$()*,;=",
	};
	struct invites_invite *inv;
	struct invites_uri *u;
	char *uri, tok[INVITES_TOKEN_LEN + 1];
	size_t i;
	int good = 0;

	inv = mk(INVITES_KIND_ACCOUNT, 0, "example.com", NULL, NULL);
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		char want[64];

		free(inv->username);
		inv->username = strdup(users[i]);
		invites_token_new(tok, sizeof(tok));
		uri = NULL;
		u = NULL;
		if (invites_uri_build(inv, tok, &uri) == 0 &&
		    invites_uri_parse(uri, &u) == 0) {
			snprintf(want, sizeof(want), "%s@example.com", users[i]);
			if (strcmp(u->jid, want) == 0 &&
			    strcmp(u->preauth, tok) == 0 &&
			    strcmp(u->action, "register") == 0 &&
			    strchr(uri, '+') == NULL)
				good++;
			else
				diag("  round trip of '%s' via %s", users[i], uri);
		}
		invites_free(uri);
		invites_uri_free(&u);
	}
	is_int(good, (int)(sizeof(users) / sizeof(users[0])),
	       "build -> parse round trips, no '+' emitted");
	invites_invite_free(&inv);

	inv = mk(INVITES_KIND_CONTACT, INVITES_F_REGISTER, "example.com", NULL,
	         "r+o@example.com");
	invites_uri_build(inv, TOK, &uri);
	invites_uri_parse(uri, &u);
	ok(u && strcmp(u->jid, "r+o@example.com") == 0 && u->ibr == 1 &&
	   strcmp(u->action, "roster") == 0, "contact round trip");
	invites_free(uri);
	invites_uri_free(&u);
	invites_invite_free(&inv);
}

/* Arbitrary bytes: never a crash (sanitizers watch), only 0 or EINVAL.
 * Random mutations of good URIs, so that some still parse. */
static void
test_noise(void)
{
	static const char *const seeds[] = {
		"xmpp:romeo@example.com?roster;preauth=" TOK ";ibr=y;name=R%20M",
		"xmpp:a%2Bb@example.com?register;preauth=" TOK,
	};
	static const char alphabet[] = "xmpp:?;=%@/#[]+ aA0F\xc3\xff\x01";
	char buf[128];
	unsigned seed = 12345;
	int i, j, odd = 0, parsed = 0;

	for (i = 0; i < 20000; i++) {
		struct invites_uri *u = NULL;
		int rc, edits;
		size_t len;

		strcpy(buf, seeds[i % 2]);
		len = strlen(buf);
		seed = seed * 1103515245u + 12345u;
		edits = 1 + (int)((seed >> 16) % 3);
		for (j = 0; j < edits; j++) {
			size_t at;

			seed = seed * 1103515245u + 12345u;
			at = (seed >> 16) % len;
			seed = seed * 1103515245u + 12345u;
			if ((seed >> 16) % 5 == 0) {
				buf[at] = '\0'; /* truncate */
				len = at ? at : 1;
				if (at == 0)
					buf[0] = 'x', buf[1] = '\0';
			} else {
				buf[at] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
			}
		}
		rc = invites_uri_parse(buf, &u);
		if (rc == 0 && u != NULL && u->jid && u->action && u->preauth)
			parsed++;
		else if (rc != INVITES_EINVAL || u != NULL)
			odd++;
		invites_uri_free(&u);
	}
	ok(odd == 0, "20000 mutated inputs: 0 or EINVAL only (%d parsed)",
	   parsed);
	ok(parsed > 100 && parsed < 19000, "the mutations reach both outcomes");
}

int
main(void)
{
	test_build();
	test_landing();
	test_parse();
	test_roundtrip();
	test_noise();
	return done_testing();
}
