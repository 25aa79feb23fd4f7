/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the xmpp: invite URI parser (invites_uri_parse() in
 * src/uri.c), which reads links users paste and QR codes they scan.
 *
 * For each input (made a C string; bytes after a NUL are ignored as the
 * API would): parse it; demand a documented result and, on success, sane
 * fields (a non-empty JID and token, a known action, ibr 0 or 1).  Then
 * build the URI of an invite with those fields (an account invite for
 * ?register, a contact invite for ?roster), parse that back and demand
 * the same JID, action, token and ibr; and build a landing URL from it.
 * Any difference aborts.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <invites/invites.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, what)                                                    \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_uri: %s\n", (what));           \
			abort();                                             \
		}                                                            \
	} while (0)

/* Build the URI of an invite made from u, reparse, compare. */
static void
round_trip(const struct invites_uri *u)
{
	struct invites_invite inv;
	struct invites_uri *back = NULL;
	char *uri = NULL, *url = NULL, *local = NULL;
	char *at;
	int rc;

	memset(&inv, 0, sizeof(inv));
	if (strcmp(u->action, "roster") == 0) {
		inv.kind = INVITES_KIND_CONTACT;
		inv.inviter = u->jid;
		inv.flags = u->ibr ? INVITES_F_REGISTER : 0;
		at = strchr(u->jid, '@');
		inv.domain = at != NULL ? at + 1 : u->jid;
	} else {
		inv.kind = INVITES_KIND_ACCOUNT;
		at = strchr(u->jid, '@');
		if (at != NULL) {
			/* an empty localpart cannot be built: nothing to do */
			if (at == u->jid || at[1] == '\0')
				return;
			local = malloc((size_t)(at - u->jid) + 1);
			if (local == NULL)
				return;
			memcpy(local, u->jid, (size_t)(at - u->jid));
			local[at - u->jid] = '\0';
			inv.username = local;
			inv.domain = at + 1;
		} else {
			inv.domain = u->jid;
		}
	}
	rc = invites_uri_build(&inv, u->preauth, &uri);
	if (rc == INVITES_OK) {
		rc = invites_uri_parse(uri, &back);
		if (rc != INVITES_OK) {
			/* a URI longer than the parser takes is refused */
			CHECK(rc == INVITES_EINVAL && strlen(uri) > 4096,
			      "built URI does not parse");
		} else {
			if (strcmp(back->jid, u->jid) != 0 ||
			    strcmp(back->action, u->action) != 0 ||
			    strcmp(back->preauth, u->preauth) != 0 ||
			    (inv.kind == INVITES_KIND_CONTACT &&
			     back->ibr != u->ibr)) {
				fprintf(stderr, "fuzz_uri: no round trip via %s\n",
				        uri);
				abort();
			}
		}
		invites_uri_free(&back);
		invites_free(uri);
	} else {
		CHECK(rc == INVITES_EINVAL || rc == INVITES_ENOMEM,
		      "unexpected build error");
	}
	rc = invites_landing_url("https://example.com/i/{token}?h={host}"
	                         "#{uri-noscheme}&{uri}", &inv, u->preauth,
	                         &url);
	CHECK(rc == INVITES_OK || rc == INVITES_EINVAL || rc == INVITES_ENOMEM,
	      "unexpected landing URL error");
	CHECK((rc == INVITES_OK) == (url != NULL), "landing URL iff success");
	invites_free(url);
	free(local);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct invites_uri *u = NULL;
	char *s;
	int rc;

	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	rc = invites_uri_parse(s, &u);
	CHECK(rc == INVITES_OK || rc == INVITES_EINVAL || rc == INVITES_ENOMEM,
	      "unexpected error code");
	CHECK((rc == INVITES_OK) == (u != NULL), "result iff success");
	if (u != NULL) {
		CHECK(u->jid != NULL && u->jid[0] != '\0', "empty JID");
		CHECK(u->action != NULL && (strcmp(u->action, "register") == 0 ||
		                            strcmp(u->action, "roster") == 0),
		      "unknown action");
		CHECK(u->preauth != NULL && u->preauth[0] != '\0',
		      "empty token");
		CHECK(u->ibr == 0 || u->ibr == 1, "ibr not a boolean");
		CHECK(strlen(u->jid) <= size && strlen(u->preauth) <= size,
		      "a field longer than the input");
		round_trip(u);
		invites_uri_free(&u);
		CHECK(u == NULL, "free sets NULL");
	}
	free(s);
	return 0;
}
