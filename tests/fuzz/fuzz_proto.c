/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the protocol engine's handlers (src/proto_*.c): the
 * bytes are a stanza (after "{A}" and "{C}" are replaced by the tokens of
 * a many-use account invite and a many-use contact + registration invite
 * of a throwaway store, so seeds reach the success paths) and go through
 * every handler: stream features, the client-stream IQ before and after a
 * successful pre-auth, the registration decision hooks (the bytes as a
 * username), XEP-0379 presence, the server IQ (disco and commands, as a
 * local admin), and user_created (the bytes as a JID).  A critical action
 * is undone for odd-sized inputs so the rollback path runs too.
 *
 * Checked: every result is PASS, ACCEPT or REJECT; a REJECT names a
 * condition; a reply parses as a stanza; and when the input is not a
 * well-formed stanza, nothing stored changes (invites_stats_get() before
 * and after agree).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "proto.h"
#include "xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, what)                                                    \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "fuzz_proto: %s\n", (what));         \
			abort();                                             \
		}                                                            \
	} while (0)

static struct invites_config *cfg;
static struct invites_store *st;
static struct inv__proto *proto;
static char dir[256];
static char tok_a[INVITES_TOKEN_MAX + 1], tok_c[INVITES_TOKEN_MAX + 1];

static void
teardown(void)
{
	char cmd[300];

	inv__proto_free(&proto);
	invites_store_close(&st);
	invites_config_free(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (dir[0] != '\0' && system(cmd) != 0)
		fprintf(stderr, "fuzz_proto: cannot remove %s\n", dir);
}

static void
setup(void)
{
	struct invites_spec spec;
	char path[300];

	snprintf(dir, sizeof(dir), "%s/fuzz-proto-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(path, sizeof(path), "%s/store", dir);
	CHECK(invites_config_new(path, &cfg) == 0, "config");
	CHECK(invites_config_set(cfg, "domains", "example.com", NULL) == 0,
	      "domains");
	CHECK(invites_config_set(cfg, "admins", "admin@example.com", NULL)
	      == 0, "admins");
	CHECK(invites_config_set(cfg, "landing_url",
	                         "https://example.com/i/{token}", NULL) == 0,
	      "landing_url");
	CHECK(invites_store_open(cfg, INVITES_OPEN_CREATE, &st) == 0,
	      "store");
	memset(&spec, 0, sizeof(spec));
	spec.kind = INVITES_KIND_ACCOUNT;
	spec.domain = "example.com";
	spec.max_uses = 1000000;
	CHECK(invites_create(st, cfg, &spec, tok_a, sizeof(tok_a), NULL) == 0,
	      "account invite");
	spec.kind = INVITES_KIND_CONTACT;
	spec.flags = INVITES_F_REGISTER;
	spec.inviter = "romeo@example.com";
	CHECK(invites_create(st, cfg, &spec, tok_c, sizeof(tok_c), NULL) == 0,
	      "contact invite");
	CHECK(inv__proto_new(cfg, st, &proto) == 0, "engine");
	atexit(teardown);
}

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
	if (contact[0] == 'b') {
		*sub_r = INV__SUB_TO;
		*ask_r = 0;
		return 0;
	}
	return INVITES_ENOTFOUND;
}

static const struct inv__facts facts = {
	.ctx = NULL,
	.user_exists = f_user_exists,
	.roster_get = f_roster_get,
};

/* "{A}" and "{C}" become the tokens. */
static char *
expand(const uint8_t *data, size_t size, size_t *len_r)
{
	struct inv__buf b;
	size_t i;

	inv__buf_init(&b);
	for (i = 0; i < size; i++) {
		if (i + 2 < size && data[i] == '{' && data[i + 2] == '}'
		    && (data[i + 1] == 'A' || data[i + 1] == 'C')) {
			inv__buf_puts(&b, data[i + 1] == 'A' ? tok_a : tok_c);
			i += 2;
			continue;
		}
		inv__buf_append(&b, &data[i], 1);
	}
	*len_r = b.len;
	if (b.len == 0)
		inv__buf_append(&b, "", 0);
	return inv__buf_steal(&b);
}

static void
check_out(struct inv__out *o, int rc, size_t size)
{
	size_t i;
	int critical = 0;

	CHECK(rc == INV__PASS || rc == INV__ACCEPT || rc == INV__REJECT,
	      "result out of range");
	CHECK(rc == o->result, "returned result differs from the outcome");
	if (rc == INV__REJECT)
		CHECK(o->err_cond != NULL && o->err_type != NULL,
		      "a REJECT without a condition");
	if (o->reply != NULL) {
		/* Replies may be larger than the bounds for input (a list
		 * of invites): parse them with generous limits. */
		struct inv__xml_limits lim = {
			.max_input = 4u << 20, .max_elements = 1u << 20,
			.max_memory = 64u << 20,
		};
		struct inv__xml *r = NULL;

		CHECK(inv__xml_parse(o->reply, strlen(o->reply),
		                     INV_XML_NS_CLIENT, &lim, &r) == 0,
		      "the reply does not parse");
		CHECK(inv__proto_is_stanza(r, "iq"), "the reply is not an IQ");
		inv__xml_free(&r);
	}
	for (i = 0; i < o->n_acts; i++) {
		CHECK(o->acts[i].type >= INV__ACT_CREATE_USER
		      && o->acts[i].type <= INV__ACT_LOG, "bad action");
		if (o->acts[i].critical)
			critical = 1;
		if (o->acts[i].type == INV__ACT_LOG)
			CHECK(strstr(o->acts[i].text, tok_a) == NULL
			      && strstr(o->acts[i].text, tok_c) == NULL,
			      "a token in a log line");
	}
	if (critical && (size & 1))
		inv__proto_undo(proto, o, (size & 2) ? INVITES_EEXIST
		                                     : INVITES_ESTORE);
	inv__out_clear(o);
}

static void
snapshot(struct invites_stats *s)
{
	memset(s, 0, sizeof(*s));
	CHECK(invites_stats_get(st, 1795176000, s) == 0, "stats");
	s->data_bytes = 0;
	s->log_bytes = 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char pre[] = "<iq type='set' id='p'><preauth "
	                          "xmlns='urn:xmpp:pars:0' token='%s'/></iq>";
	struct invites_stats before, after;
	struct inv__pstream *ps = NULL;
	struct inv__xml *parsed = NULL;
	struct inv__out o;
	char *in, *xml = NULL, *str;
	size_t len;
	int rc, wellformed;

	if (proto == NULL)
		setup();
	in = expand(data, size, &len);
	CHECK(in != NULL, "out of memory");
	wellformed = inv__xml_parse(in, len, INV_XML_NS_CLIENT, NULL,
	                            &parsed) == 0;
	inv__xml_free(&parsed);
	snapshot(&before);

	/* A NUL-terminated copy for the string hooks. */
	str = inv__strndup(in, len);
	CHECK(str != NULL, "out of memory");

	CHECK(inv__pstream_new(proto, "example.com", INV__PS_SECURE, &ps) == 0,
	      "stream");
	rc = inv__proto_features(proto, ps, (int)(size & 1), &xml);
	CHECK((rc == INV__ACCEPT) == (xml != NULL), "features");
	invites_free(xml);

	/* The stanza handlers. */
	inv__out_init(&o);
	rc = inv__proto_stream_iq(proto, ps, in, len, &facts, &o);
	check_out(&o, rc, size);
	xml = inv__asprintf(pre, tok_a);
	CHECK(xml != NULL, "out of memory");
	inv__out_init(&o);
	rc = inv__proto_stream_iq(proto, ps, xml, strlen(xml), &facts, &o);
	CHECK(rc == INV__ACCEPT, "pre-auth with the account token");
	inv__out_clear(&o);
	invites_free(xml);
	inv__out_init(&o);
	rc = inv__proto_stream_iq(proto, ps, in, len, &facts, &o);
	check_out(&o, rc, size);
	inv__out_init(&o);
	rc = inv__proto_presence(proto, in, len, &facts, &o);
	check_out(&o, rc, size);
	inv__out_init(&o);
	rc = inv__proto_server_iq(proto, in, len, &facts, &o);
	check_out(&o, rc, size);
	snapshot(&after);
	if (!wellformed)
		CHECK(before.total == after.total
		      && before.pending == after.pending
		      && before.used_up == after.used_up
		      && before.revoked == after.revoked
		      && before.pending_actions == after.pending_actions
		      && before.audit_records == after.audit_records,
		      "a malformed stanza changed the store");

	/* The hooks that take the bytes as a username or a JID. */
	inv__out_init(&o);
	rc = inv__proto_register_check(proto, ps, str, &facts, &o);
	check_out(&o, rc, size);
	inv__out_init(&o);
	rc = inv__proto_register_commit(proto, ps, str, &o);
	check_out(&o, rc, size);
	inv__proto_register_rollback(proto, ps, str);
	inv__pstream_free(&ps);
	inv__out_init(&o);
	rc = inv__proto_user_created(proto, str, &o);
	check_out(&o, rc, size);
	invites_free(str);
	invites_free(in);
	return 0;
}
