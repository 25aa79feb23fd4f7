/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the import (invites_import() and the readers of
 * src/import_*.c): every record kind and what it becomes, the checks and
 * the error naming the record, all or nothing (a bad record anywhere
 * leaves the store as it was), a dry run writes nothing, a token or a
 * name twice, imported tokens of other servers' formats work with the
 * normal API, the time parser, and ejabberd's tab-separated dumps.
 * Prosody's data (real files made by a real Prosody) are tested by
 * tests/ops/import_prosody.sh.
 */
#include "config.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "import_readers.h"
#include "internal.h"
#include "tap.h"

static char base[256];

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

#define NOW INT64_C(1795176000) /* 2026-11-20T12:00:00Z */
#define DAY INT64_C(86400)

/* Prosody's and ejabberd's token shapes */
#define T_PROSODY1 "ykqy4IemWUWJAdAA8WQ3c6s0"
#define T_PROSODY2 "O3BZh-zDO7b1BlnIwQ1buB7k"
#define T_PROSODY3 "oqESRXiIOZ1HHF8ooSAafeQV"
#define T_EJ1 "abcdefghijklmnopqrstu012"
#define T_EJ2 "zyxwvutsrqponmlkjihgf345"
#define T_EJ3 "aaaabbbbccccddddeeeeffff"

static struct invites_import_record
rec(const char *label, const char *token, enum invites_kind kind)
{
	struct invites_import_record r;

	memset(&r, 0, sizeof(r));
	r.label = label;
	r.token = token;
	r.kind = kind;
	r.domain = "example.com";
	r.created = NOW - DAY;
	r.expires = NOW + 6 * DAY;
	return r;
}

static size_t
count_invites(struct invites_store *st)
{
	struct invites_stats s;

	if (invites_stats_get(st, NOW, &s) != 0)
		return (size_t)-1;
	return s.total;
}

static int
count_audit_fn(void *ctx, const struct invites_audit *a)
{
	(void)a;
	(*(size_t *)ctx)++;
	return 0;
}

static size_t
count_audit(struct invites_store *st)
{
	size_t n = 0;

	invites_audit_walk(st, 0, count_audit_fn, &n);
	return n;
}

struct used_seen {
	char id[INVITES_ID_LEN + 1];
	char actor[128];
	char subject[128];
	char created_subject[128];
	int64_t used_time;
};

static int
find_used(void *ctx, const struct invites_audit *a)
{
	struct used_seen *u = ctx;

	if (strcmp(a->id, u->id) != 0)
		return 0;
	if (a->event == INVITES_EV_USED) {
		snprintf(u->actor, sizeof(u->actor), "%s", a->actor ? a->actor : "");
		snprintf(u->subject, sizeof(u->subject), "%s",
		         a->subject ? a->subject : "");
		u->used_time = a->time;
	} else if (a->event == INVITES_EV_CREATED) {
		snprintf(u->created_subject, sizeof(u->created_subject), "%s",
		         a->subject ? a->subject : "");
	}
	return 0;
}

static void
test_kinds(struct invites_store *st, const struct invites_config *cfg)
{
	struct invites_import_record r[6];
	enum invites_import_action act[6];
	const char *roles[] = { "admin", "admin", "moderator" };
	const char *groups[] = { "Friends" };
	struct invites_invite *inv = NULL;
	char *msg = NULL, id[INVITES_ID_LEN + 1];
	unsigned char h[INVITES_HASH_LEN];
	struct used_seen u;
	size_t failed = 99, before = count_invites(st), audits = count_audit(st);
	int rc;

	r[0] = rec("acct", T_PROSODY1, INVITES_KIND_ACCOUNT);
	r[0].roles = roles;
	r[0].n_roles = 3;
	r[0].groups = groups;
	r[0].n_groups = 1;
	r[0].created_by = "prosodyctl";
	r[0].note = "from the old server";
	r[1] = rec("named", T_PROSODY2, INVITES_KIND_ACCOUNT);
	r[1].username = "Juliet";
	r[1].inviter = "Romeo@Example.COM";
	r[2] = rec("reset", T_PROSODY3, INVITES_KIND_RESET);
	r[2].username = "alice";
	r[3] = rec("contact", T_EJ1, INVITES_KIND_CONTACT);
	r[3].flags = INVITES_F_REGISTER;
	r[3].inviter = "romeo@example.com";
	r[4] = rec("used", T_EJ2, INVITES_KIND_ACCOUNT);
	r[4].created_by = "admin@example.com";
	r[4].uses = 1;
	r[4].used_by = "mercutio@example.com";
	r[4].used_at = NOW - 3600;
	r[5] = rec("expired", T_EJ3, INVITES_KIND_CONTACT);
	r[5].inviter = "romeo@example.com";
	r[5].created = NOW - 10 * DAY;
	r[5].expires = NOW - 3 * DAY;

	rc = invites_import(st, cfg, r, 6, "test", NOW, 1, act, &failed, &msg);
	is_int(rc, 0, "dry run: every kind passes");
	is_int(count_invites(st), before, "dry run: nothing stored");
	is_int(count_audit(st), audits, "dry run: no audit record");
	invites_free(msg);
	msg = NULL;

	rc = invites_import(st, cfg, r, 6, "test", NOW, 0, act, &failed, &msg);
	is_int(rc, 0, "import of every kind");
	is_int(act[0], INVITES_IMPORT_PENDING, "account: pending");
	is_int(act[3], INVITES_IMPORT_PENDING, "contact: pending");
	is_int(act[4], INVITES_IMPORT_AUDIT, "used: audit records");
	is_int(act[5], INVITES_IMPORT_SKIP, "expired: left out");
	is_int(count_invites(st), before + 4, "four invites stored");
	/* created for 5 records (not the expired one), used for one */
	is_int(count_audit(st), audits + 6, "six audit records");
	invites_free(msg);

	/* the tokens work with the normal API */
	rc = invites_get_by_token(st, T_PROSODY1, &inv);
	is_int(rc, 0, "Prosody's token finds its invite");
	if (inv != NULL) {
		is_int(inv->kind, INVITES_KIND_ACCOUNT, "kind kept");
		is_int(inv->n_roles, 2, "roles kept without duplicates");
		ok(inv->flags & INVITES_F_ADMIN, "admin role sets the admin flag");
		is_int(inv->n_groups, 1, "groups kept");
		is_str(inv->note, "from the old server", "note kept");
		is_str(inv->created_by, "prosodyctl", "creator kept");
		is_int(inv->created, NOW - DAY, "creation time kept");
		is_int(inv->expires, NOW + 6 * DAY, "expiry kept");
		ok(invites_invite_validate(inv, "example.com",
		                           INVITES_FOR_PREAUTH, NULL, NOW, 1) == 0,
		   "the imported invite is usable");
	}
	invites_invite_free(&inv);
	rc = invites_get_by_token(st, T_PROSODY2, &inv);
	is_int(rc, 0, "a preset name");
	if (inv != NULL) {
		is_str(inv->username, "juliet", "name normalised");
		is_str(inv->inviter, "romeo@example.com", "inviter normalised");
	}
	invites_invite_free(&inv);
	is_int(invites_username_reserved(st, "example.com", "juliet", NULL, NOW),
	       1, "the imported name is reserved");
	rc = invites_get_by_token(st, T_EJ1, &inv);
	is_int(rc, 0, "ejabberd's a-z0-5 token finds its invite");
	if (inv != NULL)
		ok(inv->flags & INVITES_F_REGISTER, "contact may register");
	invites_invite_free(&inv);
	is_int(invites_get_by_token(st, T_EJ2, &inv), INVITES_ENOTFOUND,
	       "a used invite is not stored");
	invites_invite_free(&inv);
	invites_token_hash(T_EJ2, h);
	invites_hash_id(h, id);
	memset(&u, 0, sizeof(u));
	memcpy(u.id, id, sizeof(id));
	invites_audit_walk(st, 0, find_used, &u);
	is_str(u.subject, "mercutio@example.com", "used: audit names the invitee");
	is_str(u.actor, "admin@example.com", "used: audit names the inviter");
	is_int(u.used_time, NOW - 3600, "used: at its time");
	is_str(u.created_subject, "import:test", "created: marked as imported");
	is_int(invites_get_by_token(st, T_EJ3, &inv), INVITES_ENOTFOUND,
	       "an expired invite is left out");
	invites_invite_free(&inv);

	/* a consume works on the imported invite */
	rc = invites_consume(st, T_EJ1, "example.com", INVITES_FOR_PREAUTH,
	                     "tybalt", NULL, 1, NOW, NULL);
	is_int(rc, 0, "an imported contact invite registers");

	/* importing again: already stored, nothing written, record named */
	before = count_invites(st);
	audits = count_audit(st);
	rc = invites_import(st, cfg, r, 6, "test", NOW, 0, act, &failed, &msg);
	is_int(rc, INVITES_EEXIST, "importing again fails");
	ok(msg != NULL && strncmp(msg, "acct: ", 6) == 0 &&
	   strstr(msg, "already in the store") != NULL,
	   "... naming the record: %s", msg ? msg : "(none)");
	is_int(failed, 0, "... its index");
	is_int(count_invites(st), before, "... nothing stored");
	is_int(count_audit(st), audits, "... no audit record");
	invites_free(msg);
	msg = NULL;
	rc = invites_import(st, cfg, r, 6, "test", NOW, 1, act, &failed, &msg);
	is_int(rc, INVITES_EEXIST, "a dry run sees it too");
	invites_free(msg);
}

static void
bad_one(struct invites_store *st, const struct invites_config *cfg,
        struct invites_import_record *bad, int want_rc, const char *want,
        const char *name)
{
	struct invites_import_record r[3];
	char *msg = NULL;
	size_t failed = 99, before = count_invites(st),
	       audits = count_audit(st);
	int rc;

	/* two good records around the bad one: none of them is stored */
	r[0] = rec("good1", "goodgoodgoodgoodgood01", INVITES_KIND_ACCOUNT);
	r[1] = *bad;
	r[2] = rec("good2", "goodgoodgoodgoodgood02", INVITES_KIND_ACCOUNT);
	rc = invites_import(st, cfg, r, 3, "test", NOW, 0, NULL, &failed, &msg);
	is_int(rc, want_rc, name);
	ok(msg != NULL && strstr(msg, want) != NULL &&
	   strncmp(msg, bad->label, strlen(bad->label)) == 0,
	   "%s: the error names the record (%s)", name, msg ? msg : "(none)");
	ok(msg == NULL || strstr(msg, bad->token ? bad->token : "\1") == NULL,
	   "%s: the message holds no token", name);
	is_int(failed, 1, "... and its index");
	is_int(count_invites(st), before, "... nothing stored");
	is_int(count_audit(st), audits, "... no audit record");
	invites_free(msg);
}

static void
test_bad(struct invites_store *st, const struct invites_config *cfg)
{
	struct invites_import_record b;
	const char *empty_role[] = { "" };

	b = rec("row 7", "short", INVITES_KIND_ACCOUNT);
	bad_one(st, cfg, &b, INVITES_ETOKEN, "the token is not",
	        "a malformed token");
	b = rec("row 8", "has+plus+sign+in+it+xx", INVITES_KIND_ACCOUNT);
	bad_one(st, cfg, &b, INVITES_ETOKEN, "the token is not",
	        "a token outside base64url");
	b = rec("row 9", "okokokokokokokokokok09", INVITES_KIND_ACCOUNT);
	b.domain = "example.net";
	bad_one(st, cfg, &b, INVITES_EDOMAIN, "domain example.net is not",
	        "a domain not served");
	b = rec("row 10", "okokokokokokokokokok10", INVITES_KIND_CONTACT);
	bad_one(st, cfg, &b, INVITES_EINVAL, "needs an inviter",
	        "a contact invite without inviter");
	b = rec("row 11", "okokokokokokokokokok11", INVITES_KIND_CONTACT);
	b.inviter = "romeo@example.org";
	bad_one(st, cfg, &b, INVITES_EINVAL, "needs an inviter on example.com",
	        "a contact invite of another domain");
	b = rec("row 12", "okokokokokokokokokok12", INVITES_KIND_RESET);
	bad_one(st, cfg, &b, INVITES_EINVAL, "names its account",
	        "a reset without account");
	b = rec("row 13", "okokokokokokokokokok13", INVITES_KIND_ACCOUNT);
	b.username = "bad name@";
	bad_one(st, cfg, &b, INVITES_EJID, "username 'bad name@'",
	        "a malformed name");
	b = rec("row 14", "okokokokokokokokokok14", INVITES_KIND_ACCOUNT);
	b.expires = b.created;
	bad_one(st, cfg, &b, INVITES_EINVAL, "times are not plausible",
	        "expiry before creation");
	b = rec("row 15", "okokokokokokokokokok15", INVITES_KIND_ACCOUNT);
	b.roles = empty_role;
	b.n_roles = 1;
	bad_one(st, cfg, &b, INVITES_EINVAL, "roles",
	        "an empty role");
	b = rec("row 16", "okokokokokokokokokok16", INVITES_KIND_ACCOUNT);
	b.uses = 3;
	bad_one(st, cfg, &b, INVITES_EINVAL, "used 3 times of 1",
	        "more uses than allowed");
	b = rec("row 17", "okokokokokokokokokok17", INVITES_KIND_ACCOUNT);
	b.username = "juliet";  /* reserved by the import above */
	bad_one(st, cfg, &b, INVITES_ERESERVED, "reserved",
	        "a name reserved in the store");
	b = rec("row 18", "goodgoodgoodgoodgood01", INVITES_KIND_ACCOUNT);
	bad_one(st, cfg, &b, INVITES_EEXIST, "the same token as good1",
	        "the same token twice in one import");
}

static void
test_batch_names(struct invites_store *st, const struct invites_config *cfg)
{
	struct invites_import_record r[2];
	char *msg = NULL;
	size_t failed = 99;
	int rc;

	r[0] = rec("first", "namenamenamenamename01", INVITES_KIND_ACCOUNT);
	r[0].username = "benvolio";
	r[1] = rec("second", "namenamenamenamename02", INVITES_KIND_ACCOUNT);
	r[1].username = "benvolio";
	rc = invites_import(st, cfg, r, 2, "test", NOW, 0, NULL, &failed, &msg);
	is_int(rc, INVITES_ERESERVED, "one name reserved twice in one import");
	ok(msg != NULL && strncmp(msg, "second: ", 8) == 0,
	   "... names the second: %s", msg ? msg : "(none)");
	is_int(failed, 1, "... its index");
	invites_free(msg);
	is_int(invites_import(st, cfg, r, 0, "test", NOW, 0, NULL, NULL, NULL), 0,
	       "an empty import is fine");
	is_int(invites_import(NULL, cfg, r, 2, "test", NOW, 0, NULL, NULL, NULL),
	       INVITES_EINVAL, "no store: EINVAL");
	is_int(invites_import(st, cfg, r, 2, "bad\nsource", NOW, 0, NULL, NULL,
	                      NULL), INVITES_EINVAL, "a bad source name: EINVAL");
}

static void
test_times(void)
{
	int64_t t = 0;

	is_int(imp_parse_time("2026-11-20 12:00:00", &t), 0, "time: SQL form");
	is_int(t, NOW, "... its value");
	is_int(imp_parse_time("2026-11-20T12:00:00Z", &t), 0, "time: ISO form");
	is_int(t, NOW, "... its value");
	is_int(imp_parse_time("2026-11-20 12:00:00.123456+00", &t), 0,
	       "time: PostgreSQL form");
	is_int(t, NOW, "... its value");
	is_int(imp_parse_time("1795176000", &t), 0, "time: Unix seconds");
	is_int(t, NOW, "... its value");
	is_int(imp_parse_time("1795176000.5", &t), 0, "time: a Lua number");
	is_int(imp_parse_time("1970-01-01 00:00:01", &t), 0, "time: 1970");
	is_int(t, 1, "... is 1");
	is_int(imp_parse_time("2026-13-01 00:00:00", &t), -1, "time: month 13");
	is_int(imp_parse_time("2026-11-20 12:00:00+02:00", &t), -1,
	       "time: another zone is refused");
	is_int(imp_parse_time("yesterday", &t), -1, "time: words");
	is_int(imp_parse_time("", &t), -1, "time: empty");
}

static char *
write_file(const char *name, const char *text)
{
	char *p = inv__asprintf("%s/%s", base, name);
	FILE *f = p ? fopen(p, "w") : NULL;

	if (f == NULL) {
		diag("cannot write %s", name);
		exit(99);
	}
	fputs(text, f);
	fclose(f);
	return p;
}

static void
test_ejabberd_tsv(void)
{
	struct imp_batch b;
	char err[512], *p;
	int rc;

	p = write_file("ej.tsv",
	    "token\tusername\tserver_host\tinvitee\tcreated_at\texpires\ttype\taccount_name\n"
	    T_EJ1 "\tromeo\texample.com\t\t2026-11-19 12:00:00\t2026-11-24 12:00:00\tR\t\n"
	    T_EJ2 "\tadmin\texample.com\tjuliet@example.com\t2026-11-19 12:00:00\t2026-11-24 12:00:00\tS\tjuliet\n"
	    T_EJ3 "\t\texample.com\t\t2026-11-19 12:00:00\t1970-01-01 00:00:01\tA\t\n"
	    "abababababababababababab\t\texample.com\t\t2026-11-19 12:00:00\t2026-11-24 12:00:00\tT\talice\n"
	    "cdcdcdcdcdcdcdcdcdcdcdcd\tromeo\texample.com\t\\N\t2026-11-19 12:00:00\t2026-11-24 12:00:00\tR\ttybalt\n");
	imp_batch_init(&b);
	rc = imp_ejabberd_read(p, NULL, 1, &b, err, sizeof(err));
	is_int(rc, 0, "ejabberd TSV: read");
	if (rc != 0)
		diag("  %s", err);
	is_int(b.n, 5, "ejabberd TSV: five rows");
	if (b.n == 5) {
		is_int(b.recs[0].kind, INVITES_KIND_CONTACT, "R: contact");
		is_str(b.recs[0].inviter, "romeo@example.com", "R: inviter");
		ok(b.recs[0].flags & INVITES_F_REGISTER,
		   "R with --contact-register: may register");
		is_int(b.recs[0].created, NOW - DAY, "R: created");
		is_int(b.recs[1].kind, INVITES_KIND_ACCOUNT, "S: account");
		is_str(b.recs[1].inviter, "admin@example.com", "S: paired inviter");
		is_str(b.recs[1].username, "juliet", "S: preset name");
		is_str(b.recs[1].used_by, "juliet@example.com", "S: used by");
		is_int(b.recs[1].uses, 1, "S: used once");
		is_int(b.recs[2].kind, INVITES_KIND_ACCOUNT, "A: account");
		ok(b.recs[2].inviter == NULL, "A: no pairing");
		is_str(b.recs[2].created_by, "ejabberd", "A by an admin");
		ok(b.recs[2].expires <= b.recs[2].created + 1,
		   "revoked (expires 1970): over");
		is_int(b.recs[3].kind, INVITES_KIND_RESET, "T: reset");
		is_str(b.recs[3].username, "alice", "T: its account");
		is_str(b.recs[4].used_by, "tybalt@example.com",
		       "R registered with: used by that account");
	}
	imp_batch_free(&b);
	free(p);

	p = write_file("ej-old.tsv",
	    "token\tusername\tinvitee\tcreated_at\texpires\ttype\taccount_name\n"
	    T_EJ1 "\tromeo\t\t2026-11-19 12:00:00\t2026-11-24 12:00:00\tR\t\n");
	imp_batch_init(&b);
	rc = imp_ejabberd_read(p, NULL, 0, &b, err, sizeof(err));
	is_int(rc, -1, "old schema without --domain: refused");
	ok(strstr(err, "line 2") != NULL && strstr(err, "--domain") != NULL,
	   "... naming the line and the option: %s", err);
	imp_batch_free(&b);
	imp_batch_init(&b);
	rc = imp_ejabberd_read(p, "example.com", 0, &b, err, sizeof(err));
	is_int(rc, 0, "old schema with a domain");
	if (b.n == 1) {
		is_str(b.recs[0].domain, "example.com", "... its domain");
		ok(!(b.recs[0].flags & INVITES_F_REGISTER),
		   "R without --contact-register: contact only");
	}
	imp_batch_free(&b);
	free(p);

	p = write_file("ej-bad.tsv",
	    "token\tusername\tserver_host\tinvitee\tcreated_at\texpires\ttype\taccount_name\n"
	    T_EJ1 "\tromeo\texample.com\t\t2026-11-19 12:00:00\t2026-11-24 12:00:00\tR\t\n"
	    T_EJ2 "\tromeo\texample.com\t\tlast tuesday\t2026-11-24 12:00:00\tR\t\n");
	imp_batch_init(&b);
	rc = imp_ejabberd_read(p, NULL, 0, &b, err, sizeof(err));
	is_int(rc, -1, "a bad time: refused");
	ok(strstr(err, "line 3") != NULL && strstr(err, "created_at") != NULL,
	   "... naming the line and column: %s", err);
	imp_batch_free(&b);
	free(p);

	p = write_file("ej-x.tsv", "hello\tworld\n1\t2\n");
	imp_batch_init(&b);
	rc = imp_ejabberd_read(p, NULL, 0, &b, err, sizeof(err));
	is_int(rc, -1, "not a dump of invite_token: refused");
	ok(strstr(err, "line 1") != NULL, "... naming the header: %s", err);
	imp_batch_free(&b);
	free(p);

	p = write_file("ej-t.tsv",
	    "token\tusername\tserver_host\tinvitee\tcreated_at\texpires\ttype\taccount_name\n"
	    T_EJ1 "\tromeo\texample.com\t\t2026-11-19 12:00:00\t2026-11-24 12:00:00\tX\t\n");
	imp_batch_init(&b);
	rc = imp_ejabberd_read(p, NULL, 0, &b, err, sizeof(err));
	is_int(rc, -1, "an unknown type: refused");
	ok(strstr(err, "line 2") != NULL && strstr(err, "'X'") != NULL,
	   "... naming the line and the type: %s", err);
	imp_batch_free(&b);
	free(p);
}

static void
test_prosody_sandbox(void)
{
#ifdef HAVE_LUA
	struct imp_batch b;
	char err[512], *dir, *p;
	int rc;

	dir = inv__asprintf("%s/pd/example%%2ecom", base);
	p = inv__asprintf("%s/pd", base);
	if (dir == NULL || p == NULL || mkdir(p, 0700) != 0 ||
	    mkdir(dir, 0700) != 0) {
		diag("cannot make the Prosody directory");
		exit(99);
	}
	/* a data file that tries to reach the outside: no library exists */
	free(write_file("pd/example%2ecom/invite_token.dat",
	    "os.execute('touch " "/tmp/xi-import-pwned') return {}"));
	imp_batch_init(&b);
	rc = imp_prosody_read(p, NULL, NOW, &b, err, sizeof(err));
	is_int(rc, -1, "Lua sandbox: no os library");
	ok(strstr(err, "not a Prosody data file") != NULL, "... %s", err);
	imp_batch_free(&b);
	/* an endless loop is stopped */
	free(write_file("pd/example%2ecom/invite_token.dat",
	    "while true do end"));
	imp_batch_init(&b);
	rc = imp_prosody_read(p, NULL, NOW, &b, err, sizeof(err));
	is_int(rc, -1, "Lua sandbox: an endless loop is stopped");
	imp_batch_free(&b);
	/* bytecode is refused */
	free(write_file("pd/example%2ecom/invite_token.dat", "\x1bLua"));
	imp_batch_init(&b);
	rc = imp_prosody_read(p, NULL, NOW, &b, err, sizeof(err));
	is_int(rc, -1, "Lua sandbox: precompiled chunks are refused");
	imp_batch_free(&b);
	/* the host name is decoded; a good file */
	free(write_file("pd/example%2ecom/invite_token.dat",
	    "return { [\"" T_PROSODY1 "\"] = { type = \"register\"; "
	    "jid = \"example.com\"; created_at = 1795089600; "
	    "expires = 1795694400; additional_data = { roles = { "
	    "[\"prosody:admin\"] = true }; groups = { \"g1\", \"g2\" } } } };"));
	imp_batch_init(&b);
	rc = imp_prosody_read(p, NULL, NOW, &b, err, sizeof(err));
	is_int(rc, 0, "a Prosody data directory");
	if (rc != 0)
		diag("  %s", err);
	if (b.n == 1) {
		is_str(b.recs[0].domain, "example.com", "host from %2e-encoding");
		is_int(b.recs[0].n_roles, 1, "prosody:admin ...");
		if (b.recs[0].n_roles == 1)
			is_str(b.recs[0].roles[0], "admin", "... is admin");
		is_int(b.recs[0].n_groups, 2, "groups (an array)");
		is_str(b.recs[0].created_by, "prosodyctl", "made by prosodyctl");
	}
	imp_batch_free(&b);
	imp_batch_init(&b);
	rc = imp_prosody_read(p, "example.org", NOW, &b, err, sizeof(err));
	is_int(rc, -1, "--domain of a host that has no invites there");
	imp_batch_free(&b);
	free(dir);
	free(p);
#else
	ok(1, "# SKIP built without Lua");
#endif
}

int
main(void)
{
	struct invites_config *cfg = NULL;
	struct invites_store *st = NULL;
	const char *tmp = getenv("TMPDIR");
	char *store;

	setenv("INVITES_FAKE_NOW", "1795176000", 1);
	snprintf(base, sizeof(base), "%s/xi-import-XXXXXX",
	         tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(base) == NULL)
		skip_all("cannot make a temporary directory");
	store = inv__asprintf("%s/store", base);
	if (store == NULL || invites_config_new(store, &cfg) != 0 ||
	    invites_config_set(cfg, "domains", "example.com, example.org",
	                       NULL) != 0 ||
	    invites_store_open(cfg, INVITES_OPEN_CREATE, &st) != 0) {
		diag("cannot set up a store");
		return 99;
	}
	test_kinds(st, cfg);
	test_bad(st, cfg);
	test_batch_names(st, cfg);
	invites_store_close(&st);
	invites_config_free(&cfg);
	free(store);
	test_times();
	test_ejabberd_tsv();
	test_prosody_sandbox();
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}
