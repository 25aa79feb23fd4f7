/* SPDX-License-Identifier: MIT */
/*
 * Tests of the invite store API (src/store.c and a backend): every
 * operation and its error paths, in throwaway stores.  By default the
 * stores are Berkeley DB directories; with TEST_STORE_PG set to a libpq
 * URI (tests/pg/store.sh starts a server) the same tests run against
 * PostgreSQL, each store in a schema of its own, and the few tests of
 * one backend's own ways are replaced by their counterparts.
 * Creation of each kind, validation and consumption for each purpose,
 * multi-use counting, revoke, reissue, list filters, purge through the
 * expiry index at an explicit time, stats, pending work, roles, the audit
 * trail, public id prefixes (ambiguity too), username reservations, the
 * per-inviter limit, reopening, newer formats, read-only handles, garbage
 * where a store should be (refused, left as it was), and a store another
 * process recovered under us (INVITES_ERECOVER until reopened).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "tap.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR "."
#endif

#define DAY INT64_C(86400)

static char base[512];
static char last_log[2048];
/* TEST_STORE_PG: the PostgreSQL server to test against, or NULL */
static const char *pg_base;

static void
log_fn(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	snprintf(last_log, sizeof(last_log), "%s", msg);
	if (getenv("TEST_STORE_VERBOSE") != NULL)
		fprintf(stderr, "log: %s\n", msg);
}

/* A store named name: a directory in base, or a schema of pg_base. */
static char *
path_in(const char *name)
{
	char schema[64];
	size_t i;

	if (pg_base == NULL)
		return inv__asprintf("%s/%s", base, name);
	for (i = 0; name[i] != '\0' && i < sizeof(schema) - 3; i++)
		schema[i] = (name[i] >= 'a' && name[i] <= 'z') ||
		            (name[i] >= '0' && name[i] <= '9') ? name[i] : '_';
	schema[i] = '\0';
	return inv__asprintf("%s%cschema=t_%s", pg_base,
	                     strchr(pg_base, '?') ? '&' : '?', schema);
}

/* Run SQL on the test server as its superuser (PostgreSQL tests). */
static int
psql(const char *sql)
{
	const char *bin = getenv("PSQL");
	char *cmd;
	int rc;

	if (bin == NULL)
		return -1;
	cmd = inv__asprintf("'%s' -X -q -At -v ON_ERROR_STOP=1 -d '%s' -c \"%s\" "
	                    ">/dev/null 2>&1", bin, pg_base, sql);
	rc = cmd ? system(cmd) : -1;
	free(cmd);
	return rc;
}

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
rm_rf(const char *p)
{
	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct invites_config *
make_cfg(const char *store)
{
	struct invites_config *cfg = NULL;

	if (invites_config_new(store, &cfg) != 0 ||
	    invites_config_set(cfg, "domains", "example.com, example.org",
	                       NULL) != 0) {
		diag("cannot build a configuration");
		exit(99);
	}
	return cfg;
}

static struct invites_store *
open_ok(const struct invites_config *cfg, unsigned flags, const char *name)
{
	struct invites_store *st = NULL;
	int rc = invites_store_open(cfg, flags, &st);

	if (!ok(rc == 0 && st != NULL, "%s", name))
		diag("  open: %s (%s)", invites_err_name(rc), last_log);
	return st;
}

static struct invites_spec
spec_of(enum invites_kind kind, const char *domain)
{
	struct invites_spec s;

	memset(&s, 0, sizeof(s));
	s.kind = kind;
	s.domain = domain;
	return s;
}

/* Create; returns the invite (caller frees) and the token in tok. */
static struct invites_invite *
mk(struct invites_store *st, const struct invites_config *cfg,
   const struct invites_spec *s, char *tok, int *rc_r)
{
	struct invites_invite *inv = NULL;
	char t[INVITES_TOKEN_MAX + 1];
	int rc;

	rc = invites_create(st, cfg, s, tok != NULL ? tok : t,
	                    INVITES_TOKEN_MAX + 1, &inv);
	if (rc_r != NULL)
		*rc_r = rc;
	return inv;
}

/* Create, and forget the invite (the token is in tok when not NULL). */
static void
mk0(struct invites_store *st, const struct invites_config *cfg,
    const struct invites_spec *s, char *tok, int *rc_r)
{
	struct invites_invite *inv = mk(st, cfg, s, tok, rc_r);

	invites_invite_free(&inv);
}

/* A listing of a directory (names, sizes, mtimes) to prove it unchanged. */
static char *
snapshot(const char *dir)
{
	struct inv__buf b;
	struct dirent **names;
	struct stat sb;
	char *p;
	int n, i;

	inv__buf_init(&b);
	n = scandir(dir, &names, NULL, alphasort);
	for (i = 0; i < n; i++) {
		p = inv__asprintf("%s/%s", dir, names[i]->d_name);
		if (p != NULL && lstat(p, &sb) == 0)
			inv__buf_printf(&b, "%s %lld %lld.%09ld %o\n",
			                names[i]->d_name, (long long)sb.st_size,
			                (long long)sb.st_mtim.tv_sec,
			                sb.st_mtim.tv_nsec, (unsigned)sb.st_mode);
		free(p);
		free(names[i]);
	}
	free(names);
	return inv__buf_steal(&b);
}

static int
copy_file(const char *from, const char *to)
{
	char buf[8192];
	ssize_t n;
	int in, out, rc = 0;

	in = open(from, O_RDONLY);
	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			rc = -1;
	close(in);
	close(out);
	return rc;
}

/* DB_CONFIG carries the measured settings, and never NOSYNC. */
static void
check_db_config(const char *dir)
{
	char *p = inv__asprintf("%s/DB_CONFIG", dir), buf[2048];
	struct stat sb;
	ssize_t n = 0;
	int fd;

	fd = open(p, O_RDONLY);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	ok(strstr(buf, "\nset_lg_max 1048576\n") != NULL &&
	   strstr(buf, "\nset_cachesize 0 67108864 1\n") != NULL &&
	   strstr(buf, "\nset_lk_detect DB_LOCK_DEFAULT\n") != NULL,
	   "DB_CONFIG: 1 MB logs, 64 MB cache, deadlock detection");
	ok(strstr(buf, "\nset_flags") == NULL, "DB_CONFIG: no NOSYNC flags");
	free(p);
	p = inv__asprintf("%s/log.0000000001", dir);
	ok(stat(p, &sb) == 0 && sb.st_size <= 1048576,
	   "log files are at most 1 MB");
	free(p);
}

/* ------------------------------------------------------------------ */

static void
test_open_errors(void)
{
	struct invites_config *cfg;
	struct invites_store *st = NULL, *st2 = NULL;
	struct stat sb;
	char *dir = path_in("opening"), *deep = path_in("no/such/parent");
	int rc;

	cfg = make_cfg(dir);
	rc = invites_store_open(cfg, 0, &st);
	is_int(rc, INVITES_ENOSTORE, "missing store without CREATE: ENOSTORE");
	ok(stat(dir, &sb) != 0, "... and nothing was created");
	is_int(invites_store_open(cfg, INVITES_OPEN_CREATE | INVITES_OPEN_READONLY,
	                          &st), INVITES_EINVAL, "CREATE|READONLY: EINVAL");
	is_int(invites_store_open(cfg, 0x80, &st), INVITES_EINVAL,
	       "unknown flag: EINVAL");
	is_int(invites_store_open(NULL, 0, &st), INVITES_EINVAL, "no config");
	is_int(invites_store_open(cfg, 0, NULL), INVITES_EINVAL, "no result");

	st = open_ok(cfg, INVITES_OPEN_CREATE, "CREATE makes the store");
	ok(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700,
	   "the directory is created with mode 0700");
	check_db_config(dir);
	rc = invites_store_open(cfg, 0, &st2);
	is_int(rc, INVITES_EBUSY, "a second handle in one process: EBUSY");
	invites_store_close(&st);
	ok(st == NULL, "close sets the handle to NULL");
	invites_store_close(&st);
	invites_store_close(NULL);
	st = open_ok(cfg, 0, "an existing store opens without CREATE");
	invites_store_close(&st);
	invites_config_free(&cfg);

	cfg = make_cfg(deep);
	is_int(invites_store_open(cfg, INVITES_OPEN_CREATE, &st),
	       INVITES_ENOSTORE, "CREATE under a missing parent: ENOSTORE");
	invites_config_free(&cfg);

	/* an existing empty directory is fine */
	free(dir);
	dir = path_in("empty-dir");
	mkdir(dir, 0755);
	cfg = make_cfg(dir);
	is_int(invites_store_open(cfg, 0, &st), INVITES_ENOSTORE,
	       "an empty directory without CREATE: ENOSTORE");
	st = open_ok(cfg, INVITES_OPEN_CREATE, "an empty directory with CREATE");
	invites_store_close(&st);
	invites_config_free(&cfg);
	free(dir);
	free(deep);
}

static void
test_garbage(void)
{
	struct invites_config *cfg;
	struct invites_store *st = NULL;
	char *dir, *p, *before, *after, *fixture;
	int fd, rc;

	fixture = inv__asprintf("%s/tests/data/store/garbage.db", TOP_SRCDIR);

	/* a directory of someone else's files */
	dir = path_in("foreign");
	mkdir(dir, 0700);
	p = inv__asprintf("%s/notes.txt", dir);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	if (write(fd, "keep me\n", 8) != 8)
		diag("write failed");
	close(fd);
	free(p);
	before = snapshot(dir);
	cfg = make_cfg(dir);
	last_log[0] = '\0';
	rc = invites_store_open(cfg, INVITES_OPEN_CREATE, &st);
	is_int(rc, INVITES_ECORRUPT, "a foreign non-empty directory: ECORRUPT");
	ok(strstr(last_log, dir) != NULL, "the message names the path");
	after = snapshot(dir);
	is_str(after, before, "... and the directory is left as it was");
	free(before);
	free(after);
	invites_config_free(&cfg);
	free(dir);

	/* garbage named like our marker */
	dir = path_in("garbage-meta");
	mkdir(dir, 0700);
	p = inv__asprintf("%s/meta.db", dir);
	ok(copy_file(fixture, p) == 0, "garbage fixture copied as meta.db");
	free(p);
	before = snapshot(dir);
	cfg = make_cfg(dir);
	last_log[0] = '\0';
	is_int(invites_store_open(cfg, INVITES_OPEN_CREATE, &st),
	       INVITES_ECORRUPT, "garbage meta.db: ECORRUPT");
	ok(strstr(last_log, "meta.db") != NULL, "the message names the file");
	is_int(invites_store_open(cfg, INVITES_OPEN_READONLY, &st),
	       INVITES_ECORRUPT, "garbage meta.db, read-only: ECORRUPT");
	after = snapshot(dir);
	is_str(after, before, "... left untouched (no region or log files)");
	free(before);
	free(after);
	invites_config_free(&cfg);

	/* an empty file named meta.db */
	p = inv__asprintf("%s/meta.db", dir);
	fd = open(p, O_WRONLY | O_TRUNC);
	close(fd);
	free(p);
	cfg = make_cfg(dir);
	is_int(invites_store_open(cfg, INVITES_OPEN_CREATE, &st),
	       INVITES_ECORRUPT, "empty meta.db: ECORRUPT");
	invites_config_free(&cfg);
	free(dir);

	/* a regular file where the directory should be */
	dir = path_in("plain-file");
	fd = open(dir, O_WRONLY | O_CREAT, 0600);
	close(fd);
	cfg = make_cfg(dir);
	is_int(invites_store_open(cfg, INVITES_OPEN_CREATE, &st),
	       INVITES_ECORRUPT, "a plain file: ECORRUPT");
	invites_config_free(&cfg);
	free(dir);

	/* a valid store whose invites.db was replaced by garbage */
	dir = path_in("garbage-invites");
	cfg = make_cfg(dir);
	st = open_ok(cfg, INVITES_OPEN_CREATE, "store for the garbage test");
	invites_store_close(&st);
	p = inv__asprintf("%s/invites.db", dir);
	ok(copy_file(fixture, p) == 0, "garbage copied over invites.db");
	free(p);
	before = snapshot(dir);
	last_log[0] = '\0';
	is_int(invites_store_open(cfg, 0, &st), INVITES_ECORRUPT,
	       "garbage invites.db: ECORRUPT");
	ok(strstr(last_log, "invites.db") != NULL, "the message names the file");
	after = snapshot(dir);
	is_str(after, before, "... and nothing was rewritten");
	free(before);
	free(after);
	invites_config_free(&cfg);
	free(dir);

	/* someone else's Berkeley DB file as meta.db: refused, not adopted */
	dir = path_in("foreign-btree");
	cfg = make_cfg(dir);
	st = open_ok(cfg, INVITES_OPEN_CREATE, "store for the foreign-btree test");
	ok(invites_roles_add(st, "a@example.com", "x") == 0, "a roles record");
	inv__store_checkpoint(st, 1);
	invites_store_close(&st);
	invites_config_free(&cfg);
	free(dir);
	dir = path_in("foreign-btree2");
	mkdir(dir, 0700);
	p = inv__asprintf("%s/meta.db", dir);
	before = path_in("foreign-btree/roles.db");
	ok(copy_file(before, p) == 0, "a foreign B-tree copied as meta.db");
	free(before);
	free(p);
	cfg = make_cfg(dir);
	is_int(invites_store_open(cfg, INVITES_OPEN_CREATE, &st),
	       INVITES_ECORRUPT, "a B-tree that is not ours: ECORRUPT");
	invites_config_free(&cfg);
	free(dir);
	free(fixture);
}

static void
test_create_and_get(struct invites_store *st, struct invites_config *cfg)
{
	char tok[INVITES_TOKEN_MAX + 1], small[8], prefix[5];
	struct invites_invite *inv, *got = NULL;
	struct invites_spec s;
	const char *roles[] = { "moderator", "moderator" };
	const char *groups[] = { "Friends" };
	const char *bad_roles[] = { "a\nb" };
	int64_t now = inv__now();
	int rc;

	s = spec_of(INVITES_KIND_ACCOUNT, "EXAMPLE.com");
	s.roles = roles;
	s.n_roles = 2;
	s.groups = groups;
	s.n_groups = 1;
	s.flags = INVITES_F_ADMIN;
	s.note = "for the nurse";
	inv = mk(st, cfg, &s, tok, &rc);
	is_int(rc, 0, "create an account invite");
	if (inv == NULL)
		return;
	is_int(strlen(tok), INVITES_TOKEN_LEN, "the token has the standard length");
	ok(invites_token_plausible(tok), "the token is plausible");
	is_str(inv->domain, "example.com", "the domain is normalised");
	is_int(inv->kind, INVITES_KIND_ACCOUNT, "kind");
	is_int(inv->max_uses, 1, "single use by default");
	ok(inv->expires >= now + 7 * DAY - 5 && inv->expires <= now + 7 * DAY + 5,
	   "default expiry: invite_expiry (7 days)");
	is_int(inv->n_roles, 2, "roles deduplicated, admin added for F_ADMIN");
	ok(invites_invite_has_role(inv, "admin") && (inv->flags & INVITES_F_ADMIN),
	   "admin role and flag agree");
	is_int(strlen(inv->id), INVITES_ID_LEN, "public id length");

	rc = invites_get_by_token(st, tok, &got);
	is_int(rc, 0, "get by token");
	is_str(got ? got->id : NULL, inv->id, "... the same invite");
	is_str(got ? got->note : NULL, "for the nurse", "... with its note");
	invites_invite_free(&got);
	rc = invites_get_by_id(st, inv->id, &got);
	is_int(rc, 0, "get by full id");
	invites_invite_free(&got);
	memcpy(prefix, inv->id, 4);
	prefix[4] = '\0';
	prefix[0] = (char)(prefix[0] >= 'a' ? prefix[0] - 32 : prefix[0]);
	rc = invites_get_by_id(st, prefix, &got);
	ok(rc == 0 || rc == INVITES_EAMBIG, "get by a 4-digit prefix (any case)");
	invites_invite_free(&got);
	is_int(invites_get_by_id(st, "abc", &got), INVITES_EINVAL,
	       "a 3-digit prefix: EINVAL");
	is_int(invites_get_by_id(st, "zzzz", &got), INVITES_EINVAL,
	       "a non-hex id: EINVAL");
	is_int(invites_get_by_id(st, "0123456789abc", &got), INVITES_EINVAL,
	       "an id that is too long: EINVAL");
	is_int(invites_get_by_token(st, "short", &got), INVITES_ETOKEN,
	       "an implausible token: ETOKEN");
	is_int(invites_get_by_token(st, "AAAAAAAAAAAAAAAAAAAAAA", &got),
	       INVITES_ENOTFOUND, "an unknown token: ENOTFOUND");
	ok(got == NULL, "no invite on failure");
	invites_invite_free(&inv);

	/* errors */
	s = spec_of(INVITES_KIND_ACCOUNT, "example.net");
	mk0(st, cfg, &s, NULL, &rc);
	is_int(rc, INVITES_EDOMAIN, "a domain not served: EDOMAIN");
	s = spec_of(INVITES_KIND_ACCOUNT, NULL);
	mk0(st, cfg, &s, NULL, &rc);
	is_int(rc, INVITES_EINVAL, "no domain: EINVAL");
	s = spec_of((enum invites_kind)9, "example.com");
	mk0(st, cfg, &s, NULL, &rc);
	is_int(rc, INVITES_EINVAL, "unknown kind: EINVAL");
	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	s.username = "bad user";
	mk0(st, cfg, &s, NULL, &rc);
	is_int(rc, INVITES_EJID, "a username nodeprep refuses: EJID");
	s = spec_of(INVITES_KIND_RESET, "example.com");
	mk0(st, cfg, &s, NULL, &rc);
	is_int(rc, INVITES_EINVAL, "reset without a username: EINVAL");
	s = spec_of(INVITES_KIND_CONTACT, "example.com");
	mk0(st, cfg, &s, NULL, &rc);
	is_int(rc, INVITES_EINVAL, "contact without an inviter: EINVAL");
	s.inviter = "romeo@example.org";
	mk0(st, cfg, &s, NULL, &rc);
	is_int(rc, INVITES_EINVAL, "contact from another domain's user: EINVAL");
	s.inviter = "not a jid@@";
	mk0(st, cfg, &s, NULL, &rc);
	is_int(rc, INVITES_EJID, "contact with a malformed inviter: EJID");
	s = spec_of(INVITES_KIND_CONTACT, "example.com");
	s.inviter = "romeo@example.com";
	s.username = "juliet";
	mk0(st, cfg, &s, NULL, &rc);
	is_int(rc, INVITES_EINVAL, "contact with a username: EINVAL");
	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	s.flags = INVITES_F_REGISTER;
	mk0(st, cfg, &s, NULL, &rc);
	is_int(rc, INVITES_EINVAL, "F_REGISTER on an account invite: EINVAL");
	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	s.flags = INVITES_F_REVOKED;
	mk0(st, cfg, &s, NULL, &rc);
	is_int(rc, INVITES_EINVAL, "F_REVOKED in a spec: EINVAL");
	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	s.expires = now - 10;
	mk0(st, cfg, &s, NULL, &rc);
	is_int(rc, INVITES_EINVAL, "expiry in the past: EINVAL");
	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	s.username = "solo";
	s.max_uses = 5;
	mk0(st, cfg, &s, NULL, &rc);
	is_int(rc, INVITES_EINVAL, "multi-use with a preset name: EINVAL");
	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	s.roles = bad_roles;
	s.n_roles = 1;
	mk0(st, cfg, &s, NULL, &rc);
	is_int(rc, INVITES_EINVAL, "a role with a control character: EINVAL");
	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	s.n_roles = 1;
	mk0(st, cfg, &s, NULL, &rc);
	is_int(rc, INVITES_EINVAL, "n_roles without roles: EINVAL");
	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	rc = invites_create(st, cfg, &s, small, sizeof(small), NULL);
	is_int(rc, INVITES_EINVAL, "a token buffer too small: EINVAL");
	rc = invites_create(st, cfg, NULL, tok, sizeof(tok), NULL);
	is_int(rc, INVITES_EINVAL, "no spec: EINVAL");
	rc = invites_create(NULL, cfg, &s, tok, sizeof(tok), NULL);
	is_int(rc, INVITES_EINVAL, "no store: EINVAL");

	/* reset invites default to reset_expiry; explicit expiry is kept */
	s = spec_of(INVITES_KIND_RESET, "example.com");
	s.username = "Juliet";
	inv = mk(st, cfg, &s, NULL, &rc);
	ok(rc == 0 && inv->expires <= now + DAY + 5 &&
	   strcmp(inv->username, "juliet") == 0,
	   "reset: 1-day default, username normalised");
	invites_invite_free(&inv);
	s = spec_of(INVITES_KIND_ACCOUNT, "example.org");
	s.expires = now + 3600;
	inv = mk(st, cfg, &s, NULL, &rc);
	ok(rc == 0 && inv->expires == now + 3600, "explicit expiry kept");
	invites_invite_free(&inv);
}

static void
test_consume(struct invites_store *st, struct invites_config *cfg)
{
	char acc[65], con[65], conr[65], rst[65], multi[65];
	struct invites_invite *inv = NULL;
	struct invites_pending *p = NULL;
	struct invites_spec s;
	const char *roles[] = { "support" };
	const char *groups[] = { "Team", "Family" };
	int64_t now = inv__now();
	int rc;

	/* account invite made by a user, with roles and groups */
	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	s.inviter = "Admin@example.com";
	s.created_by = "admin@example.com";
	s.roles = roles;
	s.n_roles = 1;
	s.groups = groups;
	s.n_groups = 2;
	inv = mk(st, cfg, &s, acc, &rc);
	is_str(inv ? inv->inviter : NULL, "admin@example.com", "inviter normalised");
	invites_invite_free(&inv);
	is_int(invites_consume(st, acc, "example.com", INVITES_FOR_SUBSCRIBE,
	                       NULL, "x@example.net", 1, 0, NULL),
	       INVITES_EKIND, "account invite for a subscription: EKIND");
	is_int(invites_consume(st, acc, "example.com", INVITES_FOR_RESET,
	                       "alice", NULL, 1, 0, NULL),
	       INVITES_EKIND, "account invite for a reset: EKIND");
	is_int(invites_consume(st, acc, "example.org", INVITES_FOR_REGISTER,
	                       "alice", NULL, 1, 0, NULL),
	       INVITES_EDOMAIN, "the wrong domain: EDOMAIN");
	is_int(invites_consume(st, acc, "example.com", INVITES_FOR_ANY,
	                       "alice", NULL, 1, 0, NULL),
	       INVITES_EINVAL, "FOR_ANY cannot consume: EINVAL");
	is_int(invites_consume(st, acc, "example.com", INVITES_FOR_REGISTER,
	                       NULL, NULL, 1, 0, NULL),
	       INVITES_EINVAL, "no invitee and no username: EINVAL");
	is_int(invites_consume(st, "bad", "example.com", INVITES_FOR_REGISTER,
	                       "alice", NULL, 1, 0, NULL),
	       INVITES_ETOKEN, "a malformed token: ETOKEN");
	is_int(invites_consume(st, acc, "example.com", INVITES_FOR_REGISTER,
	                       "alice", NULL, 1, now + 8 * DAY, NULL),
	       INVITES_EEXPIRED, "after expiry with check_expiry: EEXPIRED");
	rc = invites_consume(st, acc, "example.com", INVITES_FOR_REGISTER,
	                     "Alice", NULL, 0, now + 8 * DAY, &inv);
	is_int(rc, 0, "after expiry without check_expiry (XEP-0445 commit)");
	ok(inv != NULL && inv->uses == 1 &&
	   strcmp(inv->last_used_by, "alice@example.com") == 0,
	   "uses counted, invitee recorded as username@domain");
	invites_invite_free(&inv);
	is_int(invites_consume(st, acc, "example.com", INVITES_FOR_REGISTER,
	                       "bob", NULL, 0, 0, NULL),
	       INVITES_EUSED, "a second use of a single-use invite: EUSED");
	rc = invites_pending_get(st, "alice@example.com", &p);
	is_int(rc, 0, "pending work stored for the new account");
	if (p != NULL) {
		is_str(p->pair_with, "admin@example.com",
		       "... pairing with the user who made the account invite");
		ok(p->n_roles == 1 && strcmp(p->roles[0], "support") == 0,
		   "... with the roles");
		ok(p->n_groups == 2 && strcmp(p->groups[1], "Family") == 0,
		   "... and the groups");
		is_int(strlen(p->invite_id), INVITES_ID_LEN, "... and the invite id");
	}
	invites_pending_free(&p);
	rc = invites_pending_take(st, "Alice@EXAMPLE.com/phone", &p);
	is_int(rc, 0, "pending take (JID normalised, resource dropped)");
	invites_pending_free(&p);
	is_int(invites_pending_take(st, "alice@example.com", &p),
	       INVITES_ENOTFOUND, "taken once only");
	is_int(invites_pending_get(st, "alice@example.com", &p),
	       INVITES_ENOTFOUND, "nothing left");

	/* contact invite without registration */
	s = spec_of(INVITES_KIND_CONTACT, "example.com");
	s.inviter = "romeo@example.com";
	inv = mk(st, cfg, &s, con, &rc);
	is_int(rc, 0, "create a contact invite");
	ok(inv != NULL && inv->created_by != NULL &&
	   strcmp(inv->created_by, "romeo@example.com") == 0,
	   "created_by defaults to the inviter");
	invites_invite_free(&inv);
	is_int(invites_consume(st, con, "example.com", INVITES_FOR_REGISTER,
	                       "eve", NULL, 1, 0, NULL),
	       INVITES_EKIND, "contact without ibr cannot register: EKIND");
	is_int(invites_consume(st, con, "example.com", INVITES_FOR_PREAUTH,
	                       NULL, "eve@example.com", 1, 0, NULL),
	       INVITES_EKIND, "... nor pass pre-auth: EKIND");
	is_int(invites_consume(st, con, "example.com", INVITES_FOR_SUBSCRIBE,
	                       NULL, NULL, 1, 0, NULL),
	       INVITES_EINVAL, "subscribe needs the subscriber's JID");
	rc = invites_consume(st, con, "example.com", INVITES_FOR_SUBSCRIBE, NULL,
	                     "juliet@capulet.example/balcony", 1, 0, &inv);
	is_int(rc, 0, "contact invite approves a subscription");
	is_str(inv ? inv->last_used_by : NULL, "juliet@capulet.example",
	       "... from a remote JID, bare");
	invites_invite_free(&inv);
	is_int(invites_pending_get(st, "juliet@capulet.example", &p),
	       INVITES_ENOTFOUND, "no pending work for a subscription");

	/* contact invite with registration */
	s.flags = INVITES_F_REGISTER;
	mk0(st, cfg, &s, conr, &rc);
	is_int(rc, 0, "create a contact+register invite");
	is_int(invites_consume(st, conr, "example.com", INVITES_FOR_REGISTER,
	                       "mercutio", NULL, 1, 0, NULL),
	       0, "contact+register registers");
	rc = invites_pending_get(st, "mercutio@example.com", &p);
	is_str(rc == 0 ? p->pair_with : NULL, "romeo@example.com",
	       "pending pairing with the inviter");
	invites_pending_free(&p);

	/* reset */
	s = spec_of(INVITES_KIND_RESET, "example.com");
	s.username = "tybalt";
	mk0(st, cfg, &s, rst, &rc);
	is_int(rc, 0, "create a reset invite");
	is_int(invites_consume(st, rst, "example.com", INVITES_FOR_REGISTER,
	                       "tybalt", NULL, 1, 0, NULL),
	       INVITES_EKIND, "a reset cannot register: EKIND");
	is_int(invites_consume(st, rst, "example.com", INVITES_FOR_RESET,
	                       "benvolio", NULL, 1, 0, NULL),
	       INVITES_EUSERNAME, "a reset for another user: EUSERNAME");
	is_int(invites_consume(st, rst, "example.com", INVITES_FOR_RESET,
	                       "Tybalt", NULL, 1, 0, NULL),
	       0, "the reset for its user");
	is_int(invites_pending_get(st, "tybalt@example.com", &p),
	       INVITES_ENOTFOUND, "no pending work for a plain reset");

	/* multi-use */
	s = spec_of(INVITES_KIND_ACCOUNT, "example.org");
	s.max_uses = 3;
	mk0(st, cfg, &s, multi, &rc);
	is_int(rc, 0, "create a 3-use invite");
	is_int(invites_consume(st, multi, "example.org", INVITES_FOR_PREAUTH,
	                       "u1", NULL, 1, 0, NULL), 0, "use 1 (pre-auth)");
	is_int(invites_consume(st, multi, "example.org", INVITES_FOR_REGISTER,
	                       "u2", NULL, 1, 0, NULL), 0, "use 2");
	rc = invites_consume(st, multi, "example.org", INVITES_FOR_REGISTER,
	                     "u3", NULL, 1, 0, &inv);
	ok(rc == 0 && inv->uses == 3, "use 3 counted");
	invites_invite_free(&inv);
	is_int(invites_consume(st, multi, "example.org", INVITES_FOR_REGISTER,
	                       "u4", NULL, 1, 0, NULL),
	       INVITES_EUSED, "use 4: EUSED");
}

static void
test_reservations(struct invites_store *st, struct invites_config *cfg)
{
	char named[65], other[65], generic[65];
	struct invites_invite *inv = NULL;
	struct invites_spec s;
	unsigned char h[INVITES_HASH_LEN];
	int rc;

	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	s.username = "Romeo";
	inv = mk(st, cfg, &s, named, &rc);
	is_int(rc, 0, "an account invite with a preset name");
	memcpy(h, inv ? inv->hash : h, sizeof(h));
	invites_invite_free(&inv);
	is_int(invites_username_reserved(st, "example.com", "romeo", NULL, 0), 1,
	       "the name is reserved");
	is_int(invites_username_reserved(st, "example.com", "ROMEO", NULL, 0), 1,
	       "... whatever its case");
	is_int(invites_username_reserved(st, "example.com", "romeo", h, 0), 0,
	       "... but not against the invite that holds it");
	is_int(invites_username_reserved(st, "example.org", "romeo", NULL, 0), 0,
	       "... only on its domain");
	is_int(invites_username_reserved(st, "example.com", "mercutio", NULL, 0),
	       0, "another name is free");
	is_int(invites_username_reserved(st, "example.com", "bad name", NULL, 0),
	       INVITES_EJID, "a malformed name: EJID");
	mk0(st, cfg, &s, other, &rc);
	is_int(rc, INVITES_ERESERVED, "a second invite for the name: ERESERVED");
	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	mk0(st, cfg, &s, generic, &rc);
	is_int(invites_consume(st, generic, "example.com", INVITES_FOR_REGISTER,
	                       "romeo", NULL, 1, 0, NULL),
	       INVITES_ERESERVED, "a generic invite cannot take a reserved name");
	is_int(invites_consume(st, named, "example.com", INVITES_FOR_REGISTER,
	                       "benvolio", NULL, 1, 0, NULL),
	       INVITES_EUSERNAME, "the named invite for another name: EUSERNAME");
	is_int(invites_consume(st, named, "example.com", INVITES_FOR_REGISTER,
	                       "romeo", NULL, 1, 0, NULL),
	       0, "the named invite takes its own name");
	is_int(invites_username_reserved(st, "example.com", "romeo", NULL, 0), 0,
	       "used up: the reservation is released");
	ok(invites_unconsume(st, named, "romeo@example.com") == 0 &&
	   invites_username_reserved(st, "example.com", "romeo", NULL, 0) == 1,
	   "unconsume restores the reservation");
	ok(invites_revoke(st, named, "admin", NULL) == 0 &&
	   invites_username_reserved(st, "example.com", "romeo", NULL, 0) == 0,
	   "revoke releases it");
	s.username = "romeo";
	mk0(st, cfg, &s, other, &rc);
	is_int(rc, 0, "the name can be reserved again");
	is_int(invites_username_reserved(st, "example.com", "romeo", NULL,
	                                 inv__now() + 30 * DAY),
	       0, "an expired invite reserves nothing");
}

static void
test_unconsume(struct invites_store *st, struct invites_config *cfg)
{
	struct invites_invite *inv = NULL;
	struct invites_pending *p = NULL;
	struct invites_spec s;
	char tok[65], multi[65];
	int rc;

	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	mk0(st, cfg, &s, tok, &rc);
	is_int(invites_consume(st, tok, "example.com", INVITES_FOR_REGISTER,
	                       "paris", NULL, 1, 0, NULL), 0, "consume");
	is_int(invites_unconsume(st, tok, "paris@example.com"), 0,
	       "unconsume (the host failed to create the account)");
	ok(invites_get_by_token(st, tok, &inv) == 0 && inv->uses == 0 &&
	   inv->last_used_by == NULL, "the use is undone");
	invites_invite_free(&inv);
	is_int(invites_pending_get(st, "paris@example.com", &p),
	       INVITES_ENOTFOUND, "its pending work is dropped");
	is_int(invites_unconsume(st, tok, "paris@example.com"), 0,
	       "a second unconsume is a no-op");
	ok(invites_get_by_token(st, tok, &inv) == 0 && inv->uses == 0,
	   "... uses stay at 0");
	invites_invite_free(&inv);
	is_int(invites_consume(st, tok, "example.com", INVITES_FOR_REGISTER,
	                       "paris2", NULL, 1, 0, NULL), 0,
	       "the invite is usable again");
	is_int(invites_unconsume(st, tok, "someone@example.com"), 0,
	       "unconsume for someone who did not use it: no-op");
	ok(invites_get_by_token(st, tok, &inv) == 0 && inv->uses == 1,
	   "... the real use stays");
	invites_invite_free(&inv);
	is_int(invites_unconsume(st, "AAAAAAAAAAAAAAAAAAAAAA", "a@example.com"),
	       INVITES_ENOTFOUND, "unconsume an unknown token: ENOTFOUND");
	is_int(invites_unconsume(st, tok, NULL), INVITES_EJID,
	       "unconsume without an invitee: EJID");

	/* multi-use: undo one of several users, by pending work */
	s.max_uses = 5;
	mk0(st, cfg, &s, multi, &rc);
	invites_consume(st, multi, "example.com", INVITES_FOR_REGISTER, "m1",
	                NULL, 1, 0, NULL);
	invites_consume(st, multi, "example.com", INVITES_FOR_REGISTER, "m2",
	                NULL, 1, 0, NULL);
	is_int(invites_unconsume(st, multi, "m1@example.com"), 0,
	       "undo the first of two users");
	ok(invites_get_by_token(st, multi, &inv) == 0 && inv->uses == 1 &&
	   strcmp(inv->last_used_by, "m2@example.com") == 0,
	   "one use left, the last user kept");
	invites_invite_free(&inv);
	invites_unconsume(st, multi, "m1@example.com");
	ok(invites_get_by_token(st, multi, &inv) == 0 && inv->uses == 1,
	   "undoing m1 twice counts once");
	invites_invite_free(&inv);
}

static void
test_revoke_reissue(struct invites_store *st, struct invites_config *cfg)
{
	struct invites_invite *inv = NULL, *old = NULL, *n = NULL;
	char tok[65], tok2[65], newtok[65], small[4];
	struct invites_spec s;
	const char *roles[] = { "helper" };
	int64_t now = inv__now();
	int rc;

	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	inv = mk(st, cfg, &s, tok, &rc);
	rc = invites_revoke(st, inv->id, "invitectl:root", &old);
	is_int(rc, 0, "revoke by id");
	ok(old != NULL && (old->flags & INVITES_F_REVOKED) && old->revoked > 0,
	   "... it is marked revoked with a time");
	invites_invite_free(&old);
	is_int(invites_consume(st, tok, "example.com", INVITES_FOR_REGISTER,
	                       "x1", NULL, 1, 0, NULL),
	       INVITES_EREVOKED, "a revoked invite cannot be used");
	is_int(invites_revoke(st, inv->id, NULL, NULL), INVITES_EREVOKED,
	       "revoking twice: EREVOKED");
	invites_invite_free(&inv);
	inv = mk(st, cfg, &s, tok2, &rc);
	is_int(invites_revoke(st, tok2, NULL, NULL), 0, "revoke by token");
	invites_invite_free(&inv);
	is_int(invites_revoke(st, "ffffffffffff", NULL, NULL), INVITES_ENOTFOUND,
	       "revoke an unknown id: ENOTFOUND");
	is_int(invites_revoke(st, "!!", NULL, NULL), INVITES_EINVAL,
	       "revoke neither id nor token: EINVAL");

	/* reissue */
	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	s.username = "lawrence";
	s.roles = roles;
	s.n_roles = 1;
	s.note = "friar";
	inv = mk(st, cfg, &s, tok, &rc);
	rc = invites_reissue(st, cfg, inv->id, "invitectl:root", 0, newtok,
	                     sizeof(newtok), &n);
	is_int(rc, 0, "reissue");
	if (n != NULL) {
		ok(strcmp(newtok, tok) != 0 && strcmp(n->id, inv->id) != 0,
		   "a new token and id");
		is_str(n->username, "lawrence", "same username");
		is_str(n->note, "friar", "same note");
		ok(n->n_roles == 1 && strcmp(n->roles[0], "helper") == 0,
		   "same roles");
		ok(n->expires >= now + 7 * DAY - 5, "a fresh expiry");
	}
	is_int(invites_consume(st, tok, "example.com", INVITES_FOR_REGISTER,
	                       "lawrence", NULL, 1, 0, NULL),
	       INVITES_EREVOKED, "the old token is revoked");
	is_int(invites_username_reserved(st, "example.com", "lawrence",
	                                 n ? n->hash : NULL, 0),
	       0, "the reservation moved to the new invite");
	is_int(invites_username_reserved(st, "example.com", "lawrence", NULL, 0),
	       1, "... and is still held");
	is_int(invites_reissue(st, cfg, inv->id, NULL, 0, tok2, sizeof(tok2),
	                       NULL), INVITES_EREVOKED,
	       "reissuing a revoked invite: EREVOKED");
	is_int(invites_consume(st, newtok, "example.com", INVITES_FOR_REGISTER,
	                       "lawrence", NULL, 1, 0, NULL), 0,
	       "the new token works");
	is_int(invites_reissue(st, cfg, n ? n->id : "0000", NULL, 0, newtok,
	                       sizeof(newtok), NULL), INVITES_EUSED,
	       "reissuing a used-up invite: EUSED");
	invites_invite_free(&n);
	invites_invite_free(&inv);

	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	s.max_uses = 4;
	inv = mk(st, cfg, &s, tok, &rc);
	invites_consume(st, tok, "example.com", INVITES_FOR_REGISTER, "q1", NULL,
	                1, 0, NULL);
	rc = invites_reissue(st, cfg, tok, NULL, now + 3600, newtok,
	                     sizeof(newtok), &n);
	ok(rc == 0 && n->max_uses == 3 && n->uses == 0 && n->expires == now + 3600,
	   "reissue by token keeps the remaining uses and an explicit expiry");
	invites_invite_free(&n);
	invites_invite_free(&inv);
	is_int(invites_reissue(st, cfg, newtok, NULL, now - 1, newtok,
	                       sizeof(newtok), NULL), INVITES_EINVAL,
	       "reissue with an expiry in the past: EINVAL");
	is_int(invites_reissue(st, cfg, newtok, NULL, 0, small, sizeof(small),
	                       NULL), INVITES_EINVAL,
	       "reissue with a small buffer: EINVAL");
}

struct collect {
	int n;
	int stop_at;
	char kinds[64];
};

static int
collect_fn(void *ctx, const struct invites_invite *inv)
{
	struct collect *c = ctx;

	if ((size_t)c->n < sizeof(c->kinds) - 1)
		c->kinds[c->n] = (char)('0' + inv->kind);
	c->n++;
	return c->stop_at != 0 && c->n >= c->stop_at ? 42 : 0;
}

static int
count_list(struct invites_store *st, const struct invites_filter *f)
{
	struct collect c;
	int rc;

	memset(&c, 0, sizeof(c));
	rc = invites_list(st, f, collect_fn, &c);
	return rc != 0 ? rc : c.n;
}

static void
test_list_limit(const char *dir)
{
	struct invites_config *cfg = make_cfg(dir);
	struct invites_store *st;
	struct invites_filter f;
	struct invites_spec s;
	struct collect c;
	char tok[65], t1[65];
	size_t count;
	int i, rc;

	invites_config_set(cfg, "max_invites_per_user", "3", NULL);
	st = open_ok(cfg, INVITES_OPEN_CREATE, "open a store for list tests");
	if (st == NULL)
		return;
	for (i = 0; i < 5; i++) {
		s = spec_of(INVITES_KIND_ACCOUNT, i < 3 ? "example.com" : "example.org");
		mk0(st, cfg, &s, i == 0 ? t1 : tok, &rc);
	}
	s = spec_of(INVITES_KIND_CONTACT, "example.com");
	s.inviter = "romeo@example.com";
	for (i = 0; i < 3; i++) {
		mk0(st, cfg, &s, tok, &rc);
		if (rc != 0)
			diag("contact %d: %s", i, invites_err_name(rc));
	}
	mk0(st, cfg, &s, tok, &rc);
	is_int(rc, INVITES_ELIMIT, "the inviter's 4th pending invite: ELIMIT");
	is_int(invites_count_by_inviter(st, "Romeo@example.com", 0, &count), 0,
	       "count by inviter");
	is_int(count, 3, "... 3 pending");
	s.created_by = "invitectl:root";
	mk0(st, cfg, &s, tok, &rc);
	is_int(rc, 0, "an admin may create one for the user beyond the limit");
	s.created_by = NULL;
	invites_revoke(st, tok, NULL, NULL);
	s = spec_of(INVITES_KIND_RESET, "example.org");
	s.username = "nurse";
	mk0(st, cfg, &s, tok, &rc);
	invites_consume(st, t1, "example.com", INVITES_FOR_REGISTER, "used", NULL,
	                1, 0, NULL);

	memset(&f, 0, sizeof(f));
	/* pending: 4 account (one used), 3 contact, 1 reset; one revoked */
	is_int(count_list(st, NULL), 8, "list: pending by default");
	f.all = 1;
	is_int(count_list(st, &f), 10, "list --all: used and revoked too");
	memset(&f, 0, sizeof(f));
	f.domain = "EXAMPLE.ORG";
	is_int(count_list(st, &f), 3, "list by domain (normalised)");
	memset(&f, 0, sizeof(f));
	f.kind = INVITES_KIND_CONTACT;
	is_int(count_list(st, &f), 3, "list by kind");
	memset(&f, 0, sizeof(f));
	f.inviter = "romeo@example.com";
	is_int(count_list(st, &f), 3, "list by inviter (index)");
	f.all = 1;
	is_int(count_list(st, &f), 4, "list by inviter, all");
	f.kind = INVITES_KIND_ACCOUNT;
	is_int(count_list(st, &f), 0, "list by inviter and kind");
	memset(&f, 0, sizeof(f));
	f.now = inv__now() + 30 * DAY;
	is_int(count_list(st, &f), 0, "nothing is pending in 30 days");
	memset(&f, 0, sizeof(f));
	f.kind = (enum invites_kind)7;
	is_int(count_list(st, &f), INVITES_EINVAL, "a bad kind: EINVAL");
	memset(&f, 0, sizeof(f));
	f.inviter = "@@";
	is_int(count_list(st, &f), INVITES_EJID, "a bad inviter: EJID");
	memset(&c, 0, sizeof(c));
	c.stop_at = 2;
	is_int(invites_list(st, NULL, collect_fn, &c), 42,
	       "the callback's non-zero answer stops the list");
	is_int(c.n, 2, "... after 2");
	is_int(invites_list(st, NULL, NULL, NULL), INVITES_EINVAL, "no callback");
	invites_store_close(&st);
	invites_config_free(&cfg);
}

static void
test_many_and_prefix(const char *dir)
{
	struct invites_config *cfg = make_cfg(dir);
	struct invites_invite inv, *got = NULL;
	struct invites_store *st;
	struct invites_filter f;
	struct invites_stats stats;
	char domain[] = "example.com";
	size_t purged;
	int i, rc;

	st = open_ok(cfg, INVITES_OPEN_CREATE, "open a store for id prefixes");
	if (st == NULL)
		return;
	/* invites with chosen hashes: ab12 3... and ab12 4... share 4 digits */
	memset(&inv, 0, sizeof(inv));
	inv.kind = INVITES_KIND_ACCOUNT;
	inv.domain = domain;
	inv.created = inv__now();
	inv.expires = inv.created + DAY;
	inv.max_uses = 1;
	inv.hash[0] = 0xab;
	inv.hash[1] = 0x12;
	inv.hash[2] = 0x30;
	invites_hash_id(inv.hash, inv.id);
	is_int(inv__store_create_raw(st, &inv), 0, "raw invite ab1230...");
	inv.hash[2] = 0x40;
	invites_hash_id(inv.hash, inv.id);
	is_int(inv__store_create_raw(st, &inv), 0, "raw invite ab1240...");
	is_int(inv__store_create_raw(st, &inv), INVITES_EEXIST,
	       "the same hash twice: EEXIST");
	is_int(invites_get_by_id(st, "ab12", &got), INVITES_EAMBIG,
	       "a prefix of two invites: EAMBIG");
	ok(got == NULL, "... and no invite");
	is_int(invites_get_by_id(st, "ab123", &got), 0,
	       "an odd-length prefix that is unique");
	is_str(got ? got->id : NULL, "ab1230000000", "... finds the right one");
	invites_invite_free(&got);
	is_int(invites_get_by_id(st, "AB124", &got), 0, "upper case works");
	invites_invite_free(&got);
	is_int(invites_revoke(st, "ab12", NULL, NULL), INVITES_EAMBIG,
	       "revoke with an ambiguous prefix: EAMBIG");
	is_int(invites_get_by_id(st, "ab11", &got), INVITES_ENOTFOUND,
	       "a prefix just below: ENOTFOUND");
	is_int(invites_get_by_id(st, "ab13", &got), INVITES_ENOTFOUND,
	       "a prefix just above: ENOTFOUND");

	/* 600 invites expiring over time: batches of list and purge */
	for (i = 0; i < 600; i++) {
		memset(inv.hash, 0, sizeof(inv.hash));
		inv.hash[0] = (unsigned char)(i >> 8);
		inv.hash[1] = (unsigned char)i;
		inv.hash[5] = 0x77;
		invites_hash_id(inv.hash, inv.id);
		inv.expires = inv.created + 100 + i;
		rc = inv__store_create_raw(st, &inv);
		if (rc != 0) {
			diag("raw %d: %s", i, invites_err_name(rc));
			break;
		}
	}
	memset(&f, 0, sizeof(f));
	f.all = 1;
	is_int(count_list(st, &f), 602, "list walks several batches");
	rc = invites_purge(st, inv.created + 100 + 299, &purged);
	is_int(rc, 0, "purge at a chosen time");
	is_int(purged, 300, "... deletes exactly what expired by then");
	is_int(count_list(st, &f), 302, "... and nothing else");
	rc = invites_purge(st, inv.created + 100 + 299, &purged);
	is_int(purged, 0, "a second purge finds nothing");
	invites_stats_get(st, inv.created, &stats);
	is_int(stats.total, 302, "stats: total");
	is_int(stats.oldest_expiry, inv.created + 400, "stats: oldest expiry");
	is_int(stats.audit_records, 602 + 300, "stats: audit records");
	invites_store_close(&st);
	invites_config_free(&cfg);
}

static void
test_purge_stats(const char *dir)
{
	struct invites_config *cfg = make_cfg(dir);
	struct invites_store *st;
	struct invites_stats stats;
	struct invites_spec s;
	struct invites_invite *inv = NULL;
	char used[65], revoked[65], live[65], shortlived[65];
	int64_t now = inv__now();
	size_t purged;

	invites_config_set(cfg, "purge_grace", "2d", NULL);
	st = open_ok(cfg, INVITES_OPEN_CREATE, "open a store for purge tests");
	if (st == NULL)
		return;
	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	mk0(st, cfg, &s, used, NULL);
	mk0(st, cfg, &s, revoked, NULL);
	mk0(st, cfg, &s, live, NULL);
	s.expires = now + 3600;
	mk0(st, cfg, &s, shortlived, NULL);
	s = spec_of(INVITES_KIND_CONTACT, "example.com");
	s.inviter = "romeo@example.com";
	mk0(st, cfg, &s, NULL, NULL);
	invites_consume(st, used, "example.com", INVITES_FOR_REGISTER, "gone",
	                NULL, 1, 0, NULL);
	invites_revoke(st, revoked, NULL, NULL);

	is_int(invites_stats_get(st, now, &stats), 0, "stats");
	is_int(stats.total, 5, "stats: total");
	is_int(stats.pending, 3, "stats: pending");
	is_int(stats.used_up, 1, "stats: used up");
	is_int(stats.revoked, 1, "stats: revoked");
	is_int(stats.expired, 0, "stats: expired");
	is_int(stats.by_kind[INVITES_KIND_ACCOUNT], 4, "stats: account invites");
	is_int(stats.by_kind[INVITES_KIND_CONTACT], 1, "stats: contact invites");
	is_int(stats.pending_actions, 1, "stats: pending work");
	is_int(stats.audit_records, 7, "stats: audit records");
	ok(stats.data_bytes > 0 && (pg_base != NULL || stats.log_bytes > 0),
	   "stats: sizes on disk");
	is_int(stats.oldest_expiry, now + 3600, "stats: oldest expiry");
	invites_stats_get(st, now + 2 * 3600, &stats);
	is_int(stats.expired, 1, "stats later: one expired");

	is_int(invites_purge(st, now, &purged), 0, "purge now");
	is_int(purged, 0, "... nothing is due");
	invites_purge(st, now + 7200, &purged);
	is_int(purged, 1, "after an hour: the expired one");
	invites_purge(st, now + DAY, &purged);
	is_int(purged, 0, "after a day: used/revoked are kept (2-day grace)");
	invites_purge(st, now + 2 * DAY + 10, &purged);
	is_int(purged, 2, "after the grace: used-up and revoked go");
	ok(invites_get_by_token(st, used, &inv) == INVITES_ENOTFOUND,
	   "the used invite is gone");
	ok(invites_get_by_token(st, live, &inv) == 0, "the live one stays");
	invites_invite_free(&inv);
	invites_purge(st, now + 8 * DAY, &purged);
	is_int(purged, 2, "after their expiry: the rest");
	invites_stats_get(st, now, &stats);
	is_int(stats.total, 0, "empty");
	is_int(stats.oldest_expiry, 0, "oldest expiry 0 when empty");
	invites_store_close(&st);
	invites_config_free(&cfg);
}

static void
test_roles(struct invites_store *st)
{
	char **roles = NULL;
	size_t n = 0;

	is_int(invites_has_role(st, "juliet@example.com", "admin"), 0,
	       "no roles yet");
	is_int(invites_roles_add(st, "Juliet@example.com", "admin"), 0, "add admin");
	is_int(invites_roles_add(st, "juliet@example.com", "admin"), 0,
	       "adding twice is harmless");
	is_int(invites_roles_add(st, "juliet@example.com", "editor"), 0,
	       "add editor");
	is_int(invites_roles_get(st, "juliet@example.com", &roles, &n), 0, "get");
	ok(n == 2 && strcmp(roles[0], "admin") == 0 &&
	   strcmp(roles[1], "editor") == 0, "two roles in order");
	invites_strv_free(roles, n);
	is_int(invites_has_role(st, "juliet@example.com/home", "admin"), 1,
	       "has_role (resource dropped)");
	is_int(invites_roles_remove(st, "juliet@example.com", "admin"), 0,
	       "remove admin");
	is_int(invites_has_role(st, "juliet@example.com", "admin"), 0, "gone");
	is_int(invites_roles_remove(st, "juliet@example.com", "nope"), 0,
	       "removing a missing role is harmless");
	invites_roles_remove(st, "juliet@example.com", "editor");
	is_int(invites_roles_get(st, "juliet@example.com", &roles, &n), 0,
	       "get after removing all");
	is_int(n, 0, "... none");
	is_int(invites_roles_add(st, "juliet@example.com", ""), INVITES_EINVAL,
	       "an empty role: EINVAL");
	is_int(invites_roles_add(st, "@", "x"), INVITES_EJID, "a bad JID: EJID");
	is_int(invites_has_role(st, "juliet@example.com", NULL), INVITES_EINVAL,
	       "has_role without a role: EINVAL");
}

struct audit_seen {
	int n;
	uint64_t last;
	int increasing;
	int events[8];
	char used_subject[64];
	int stop_at;
};

static int
audit_fn(void *ctx, const struct invites_audit *a)
{
	struct audit_seen *s = ctx;

	if (s->n > 0 && a->seq <= s->last)
		s->increasing = 0;
	s->last = a->seq;
	s->n++;
	if (a->event >= 1 && a->event <= 6)
		s->events[a->event]++;
	if (a->event == INVITES_EV_USED && a->subject != NULL)
		snprintf(s->used_subject, sizeof(s->used_subject), "%s", a->subject);
	return s->stop_at != 0 && s->n >= s->stop_at ? 7 : 0;
}

static void
test_audit(struct invites_store *st)
{
	struct audit_seen all, part;

	memset(&all, 0, sizeof(all));
	all.increasing = 1;
	is_int(invites_audit_walk(st, 0, audit_fn, &all), 0, "audit walk");
	ok(all.n > 20, "audit has the history (%d records)", all.n);
	ok(all.increasing, "sequence numbers strictly increase");
	ok(all.events[INVITES_EV_CREATED] > 0 && all.events[INVITES_EV_USED] > 0 &&
	   all.events[INVITES_EV_REVOKED] > 0 && all.events[INVITES_EV_UNUSED] > 0 &&
	   all.events[INVITES_EV_REISSUED] > 0, "every kind of event is there");
	ok(all.used_subject[0] != '\0', "a use names the invitee");
	memset(&part, 0, sizeof(part));
	part.increasing = 1;
	invites_audit_walk(st, all.last - 2, audit_fn, &part);
	is_int(part.n, 3, "walk from a sequence number");
	memset(&part, 0, sizeof(part));
	part.stop_at = 4;
	is_int(invites_audit_walk(st, 0, audit_fn, &part), 7,
	       "the callback stops the walk");
	is_int(part.n, 4, "... after 4");
	is_str(invites_event_name(INVITES_EV_PURGED), "purged", "event names");
	is_str(invites_event_name((enum invites_event)99), "unknown",
	       "unknown event name");
}

static int
first_seq_fn(void *ctx, const struct invites_audit *a)
{
	uint64_t *seqs = ctx;

	if (seqs[0] == 0)
		seqs[0] = a->seq;
	seqs[1] = a->seq;
	return 0;
}

/* purge also drops audit records older than audit_retention, keeping the
 * newest so that sequence numbers never start again */
static void
test_audit_retention(const char *dir)
{
	struct invites_config *cfg = make_cfg(dir);
	struct invites_store *st;
	struct invites_stats stats;
	struct invites_spec s;
	uint64_t seqs[2] = { 0, 0 };
	int64_t now = inv__now();
	size_t purged;
	int i;

	invites_config_set(cfg, "audit_retention", "1d", NULL);
	st = open_ok(cfg, INVITES_OPEN_CREATE, "open a store for audit retention");
	if (st == NULL)
		return;
	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	for (i = 0; i < 3; i++)
		mk0(st, cfg, &s, NULL, NULL);
	invites_purge(st, now + 3600, &purged);
	invites_stats_get(st, now, &stats);
	is_int(stats.audit_records, 3, "young audit records are kept");
	is_int(invites_purge(st, now + 2 * DAY, &purged), 0,
	       "purge two days later");
	is_int(purged, 0, "... no invite is due");
	invites_stats_get(st, now, &stats);
	is_int(stats.audit_records, 1, "... old audit records go, the newest stays");
	mk0(st, cfg, &s, NULL, NULL);
	invites_audit_walk(st, 0, first_seq_fn, seqs);
	ok(seqs[0] == 3 && seqs[1] == 4,
	   "sequence numbers go on after a trim (%llu..%llu)",
	   (unsigned long long)seqs[0], (unsigned long long)seqs[1]);
	invites_store_close(&st);
	invites_config_free(&cfg);
}

static void
test_readonly_reopen_format(const char *dir)
{
	struct invites_config *cfg = make_cfg(dir);
	struct invites_store *st;
	struct invites_invite *inv = NULL;
	struct invites_spec s;
	char tok[65];
	size_t purged;
	int rc;

	st = open_ok(cfg, INVITES_OPEN_CREATE | INVITES_OPEN_DAEMON,
	             "open a daemon handle (watchdog)");
	if (st == NULL)
		return;
	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	mk0(st, cfg, &s, tok, &rc);
	invites_roles_add(st, "a@example.com", "admin");
	invites_store_close(&st);

	st = open_ok(cfg, INVITES_OPEN_READONLY, "reopen read-only");
	is_int(invites_get_by_token(st, tok, &inv), 0,
	       "reopen keeps the invite");
	invites_invite_free(&inv);
	is_int(invites_has_role(st, "a@example.com", "admin"), 1,
	       "reopen keeps roles");
	is_int(invites_consume(st, tok, "example.com", INVITES_FOR_REGISTER, "z",
	                       NULL, 1, 0, NULL), INVITES_EINVAL,
	       "read-only: consume refused");
	mk0(st, cfg, &s, NULL, &rc);
	is_int(rc, INVITES_EINVAL, "read-only: create refused");
	is_int(invites_purge(st, 0, &purged), INVITES_EINVAL,
	       "read-only: purge refused");
	invites_store_close(&st);

	st = open_ok(cfg, 0, "reopen read-write");
	is_int(inv__store_set_format(st, INV__STORE_FORMAT + 1), 0,
	       "pretend a newer program wrote the store");
	invites_store_close(&st);
	last_log[0] = '\0';
	is_int(invites_store_open(cfg, 0, &st), INVITES_EVERSION,
	       "a newer format is refused: EVERSION");
	ok(strstr(last_log, "newer") != NULL, "... saying so");
	invites_config_free(&cfg);
}

/*
 * Another process dies holding the store and a third recovers it: our live
 * handle's environment is then dead.  The call that meets that fails with
 * ERECOVER (its outcome could be unknown); the next one reopens the store
 * underneath and works, so a server keeps its handle.  A reopen that fails
 * leaves calls failing fast with ERECOVER until one works again.
 * Berkeley DB does not free a panicked environment's handles on close
 * (about 40 KB, once per recovery), so this runs in a child that leaves
 * with _exit() and reports its checks through a pipe: the leak checker of
 * the sanitizer build would otherwise (rightly) count that memory.
 */
enum {
	R_OPEN = 1, R_PANIC = 2, R_ERECOVER = 4, R_AUTO = 8, R_WORKS = 16,
	R_PANIC2 = 32, R_FAILREOPEN = 64, R_FAST = 128, R_BACK = 256,
	R_REOPEN = 512, R_FOUND = 1024
};

/* A process opens the store and is killed; another one recovers it. */
static int
panic_by_others(const struct invites_config *cfg)
{
	struct invites_store *st2 = NULL;
	int pfd[2], status, rc, good = 1;
	pid_t pid;
	char c;

	if (pipe(pfd) != 0)
		return 0;
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		if (invites_store_open(cfg, 0, &st2) != 0)
			_exit(1);
		if (write(pfd[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1)
		good = 0;
	close(pfd[0]);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	pid = fork();
	if (pid == 0) {
		/* this open finds the dead process and runs recovery */
		rc = invites_store_open(cfg, 0, &st2);
		invites_store_close(&st2);
		_exit(rc == 0 ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	return good && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static unsigned
recover_child(const char *dir)
{
	struct invites_config *cfg = make_cfg(dir);
	struct invites_store *st = NULL;
	struct invites_invite *inv = NULL;
	struct invites_spec s;
	unsigned r = 0;
	char tok[65], tok2[65], *moved;
	int rc;

	if (invites_store_open(cfg, INVITES_OPEN_CREATE, &st) != 0)
		return r;
	r |= R_OPEN;
	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	mk0(st, cfg, &s, tok, &rc);
	mk0(st, cfg, &s, tok2, &rc);
	if (panic_by_others(cfg))
		r |= R_PANIC;
	rc = invites_get_by_token(st, tok, &inv);
	invites_invite_free(&inv);
	if (rc == INVITES_ERECOVER)
		r |= R_ERECOVER;
	if (invites_get_by_token(st, tok, &inv) == 0)
		r |= R_AUTO;
	invites_invite_free(&inv);
	if (invites_consume(st, tok, "example.com", INVITES_FOR_REGISTER, "w",
	                    NULL, 1, 0, NULL) == 0)
		r |= R_WORKS;

	/* again, and this time the reopen cannot work for a while */
	if (panic_by_others(cfg))
		r |= R_PANIC2;
	moved = inv__asprintf("%s.moved", dir);
	if (rename(dir, moved) != 0)
		return r;
	(void)invites_get_by_token(st, tok2, &inv); /* meets the panic */
	invites_invite_free(&inv);
	if (invites_get_by_token(st, tok2, &inv) == INVITES_ERECOVER)
		r |= R_FAILREOPEN;
	if (invites_consume(st, tok2, "example.com", INVITES_FOR_REGISTER, "v",
	                    NULL, 1, 0, NULL) == INVITES_ERECOVER &&
	    invites_roles_add(st, "a@example.com", "x") == INVITES_ERECOVER)
		r |= R_FAST;
	if (rename(moved, dir) != 0)
		return r;
	free(moved);
	usleep(1100 * 1000); /* past the one-second pause between reopens */
	if (invites_get_by_token(st, tok2, &inv) == 0 && inv->uses == 0)
		r |= R_BACK;
	invites_invite_free(&inv);
	invites_store_close(&st);
	if (invites_store_open(cfg, 0, &st) == 0)
		r |= R_REOPEN;
	if (st != NULL && invites_get_by_token(st, tok, &inv) == 0 &&
	    inv->uses == 1)
		r |= R_FOUND;
	invites_invite_free(&inv);
	invites_store_close(&st);
	invites_config_free(&cfg);
	return r;
}

static void
test_recover(const char *dir)
{
	unsigned r = 0;
	int pfd[2], status;
	pid_t pid;

	if (pipe(pfd) != 0)
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		r = recover_child(dir);
		if (write(pfd[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &r, sizeof(r)) != (ssize_t)sizeof(r))
		r = 0;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "the recovery scenario ran to its end");
	ok(r & R_OPEN, "open for the recovery test");
	ok(r & R_PANIC, "another process died holding the store; a third "
	   "recovered it");
	ok(r & R_ERECOVER, "our handle's next call: ERECOVER");
	ok(r & R_AUTO, "the call after reopens the store underneath and works");
	ok(r & R_WORKS, "... writes too");
	ok(r & R_PANIC2, "a second recovery by others");
	ok(r & R_FAILREOPEN, "a reopen that cannot work: ERECOVER");
	ok(r & R_FAST, "... and calls keep failing fast with ERECOVER");
	ok(r & R_BACK, "once the store is back, the handle works again");
	ok(r & R_REOPEN, "close and open work as well");
	ok(r & R_FOUND, "... and every committed change is there");
}


/* ---- PostgreSQL counterparts of the Berkeley DB specific tests ---- */

static void
test_open_errors_pg(void)
{
	struct invites_config *cfg;
	struct invites_store *st = NULL, *st2 = NULL;
	char *uri = path_in("opening"), *nodb;
	int rc;

	cfg = make_cfg(uri);
	rc = invites_store_open(cfg, 0, &st);
	is_int(rc, INVITES_ENOSTORE, "no store in the schema without CREATE: "
	       "ENOSTORE");
	is_int(invites_store_open(cfg, INVITES_OPEN_READONLY, &st),
	       INVITES_ENOSTORE, "... read-only too");
	is_int(invites_store_open(cfg, INVITES_OPEN_CREATE | INVITES_OPEN_READONLY,
	                          &st), INVITES_EINVAL, "CREATE|READONLY: EINVAL");
	is_int(invites_store_open(cfg, 0x80, &st), INVITES_EINVAL,
	       "unknown flag: EINVAL");
	is_int(invites_store_open(NULL, 0, &st), INVITES_EINVAL, "no config");
	is_int(invites_store_open(cfg, 0, NULL), INVITES_EINVAL, "no result");
	st = open_ok(cfg, INVITES_OPEN_CREATE, "CREATE makes the schema");
	rc = invites_store_open(cfg, 0, &st2);
	is_int(rc, 0, "a second handle in one process is fine (no DB_REGISTER)");
	invites_store_close(&st2);
	invites_store_close(&st);
	ok(st == NULL, "close sets the handle to NULL");
	invites_store_close(&st);
	invites_store_close(NULL);
	st = open_ok(cfg, 0, "an existing store opens without CREATE");
	invites_store_close(&st);
	invites_config_free(&cfg);

	nodb = inv__asprintf("%s", pg_base);
	if (nodb != NULL && strstr(nodb, "/postgres?") != NULL) {
		memcpy(strstr(nodb, "/postgres?"), "/nosuchdb?", 10);
		cfg = make_cfg(nodb);
		last_log[0] = '\0';
		is_int(invites_store_open(cfg, INVITES_OPEN_CREATE, &st),
		       INVITES_ENOSTORE, "a database that does not exist: ENOSTORE");
		ok(strstr(last_log, "nosuchdb") != NULL, "... the message names it");
		invites_config_free(&cfg);
	} else {
		ok(1, "# SKIP the test URI names no database");
		ok(1, "# SKIP the test URI names no database");
	}
	free(nodb);
	cfg = make_cfg("postgresql:///postgres?host=/nonexistent/dir&"
	               "connect_timeout=2");
	is_int(invites_store_open(cfg, INVITES_OPEN_CREATE, &st), INVITES_EBUSY,
	       "a server that cannot be reached: EBUSY");
	invites_config_free(&cfg);
	cfg = make_cfg("postgresql://u:secret@localhost:1/db?password=secret2");
	last_log[0] = '\0';
	invites_store_open(cfg, 0, &st);
	ok(last_log[0] != '\0' && strstr(last_log, "secret") == NULL,
	   "no password in the log: %s", last_log);
	invites_config_free(&cfg);
	cfg = make_cfg("postgresql:///postgres?schema=Bad-Name");
	is_int(invites_store_open(cfg, INVITES_OPEN_CREATE, &st), INVITES_ECONFIG,
	       "a bad schema name: ECONFIG");
	invites_config_free(&cfg);
	cfg = make_cfg("bdb:");
	is_int(invites_store_open(cfg, INVITES_OPEN_CREATE, &st), INVITES_ECONFIG,
	       "bdb: without a path: ECONFIG");
	invites_config_free(&cfg);
	free(uri);
}

static void
test_garbage_pg(void)
{
	struct invites_config *cfg;
	struct invites_store *st = NULL;
	char *uri;

	/* someone else's table named like one of ours */
	ok(psql("DROP SCHEMA IF EXISTS t_foreign CASCADE; "
	        "CREATE SCHEMA t_foreign; CREATE TABLE t_foreign.invites "
	        "(x int); INSERT INTO t_foreign.invites VALUES (7)") == 0,
	   "a schema with someone else's table 'invites'");
	uri = path_in("foreign");
	cfg = make_cfg(uri);
	last_log[0] = '\0';
	is_int(invites_store_open(cfg, INVITES_OPEN_CREATE, &st),
	       INVITES_ECORRUPT, "tables named like ours, no invites_meta: "
	       "ECORRUPT");
	ok(strstr(last_log, "refusing") != NULL, "... saying so");
	ok(psql("SELECT 1/(x - 6) FROM t_foreign.invites") == 0 &&
	   psql("SELECT 1/(CASE count(*) WHEN 1 THEN 1 ELSE 0 END) FROM "
	        "pg_tables WHERE schemaname = 't_foreign'") == 0,
	   "... and the schema is left as it was");
	invites_config_free(&cfg);
	free(uri);

	/* invites_meta of someone else */
	ok(psql("DROP SCHEMA IF EXISTS t_othermeta CASCADE; CREATE SCHEMA "
	        "t_othermeta; CREATE TABLE t_othermeta.invites_meta "
	        "(id smallint, magic text, version int); INSERT INTO "
	        "t_othermeta.invites_meta VALUES (1, 'something else', 1)") == 0,
	   "a schema with someone else's invites_meta");
	uri = path_in("othermeta");
	cfg = make_cfg(uri);
	is_int(invites_store_open(cfg, INVITES_OPEN_CREATE, &st),
	       INVITES_ECORRUPT, "a foreign invites_meta: ECORRUPT");
	is_int(invites_store_open(cfg, INVITES_OPEN_READONLY, &st),
	       INVITES_ECORRUPT, "... read-only too");
	invites_config_free(&cfg);
	free(uri);

	/* a damaged row is reported, not trusted */
	uri = path_in("damaged");
	cfg = make_cfg(uri);
	st = open_ok(cfg, INVITES_OPEN_CREATE, "store for the damaged-row test");
	if (st != NULL) {
		struct invites_invite *inv = NULL;
		struct invites_spec sp;
		char tok[65];

		memset(&sp, 0, sizeof(sp));
		sp.kind = INVITES_KIND_ACCOUNT;
		sp.domain = "example.com";
		invites_create(st, cfg, &sp, tok, sizeof(tok), NULL);
		ok(psql("UPDATE t_damaged.invites SET kind = 9") == 0,
		   "an invite's kind damaged behind our back");
		is_int(invites_get_by_token(st, tok, &inv), INVITES_ECORRUPT,
		       "reading it: ECORRUPT");
		is_int(invites_consume(st, tok, "example.com", INVITES_FOR_REGISTER,
		                       "x", NULL, 1, 0, NULL), INVITES_ECORRUPT,
		       "consuming it: ECORRUPT");
		invites_store_close(&st);
	}
	invites_config_free(&cfg);
	free(uri);
}

/*
 * The server cuts our connection (an admin's pg_terminate_backend, a
 * failover): the next call reconnects underneath and works, reads and
 * writes, and nothing committed is lost.
 */
static void
test_recover_pg(const char *uri)
{
	struct invites_config *cfg = make_cfg(uri);
	struct invites_store *st = NULL;
	struct invites_invite *inv = NULL;
	struct invites_spec s;
	const char *cut = "SELECT pg_terminate_backend(pid) FROM "
	                  "pg_stat_activity WHERE application_name = "
	                  "'xmpp-invites' AND pid <> pg_backend_pid()";
	char tok[65], tok2[65];
	int rc;

	st = open_ok(cfg, INVITES_OPEN_CREATE | INVITES_OPEN_DAEMON,
	             "open for the reconnect test");
	if (st == NULL)
		return;
	s = spec_of(INVITES_KIND_ACCOUNT, "example.com");
	mk0(st, cfg, &s, tok, &rc);
	mk0(st, cfg, &s, tok2, &rc);
	ok(psql(cut) == 0, "the server ends our connection");
	rc = invites_get_by_token(st, tok, &inv);
	is_int(rc, 0, "the next read reconnects and works");
	invites_invite_free(&inv);
	ok(psql(cut) == 0, "... and again");
	is_int(invites_consume(st, tok, "example.com", INVITES_FOR_REGISTER, "w",
	                       NULL, 1, 0, NULL), 0,
	       "a consume after a cut reconnects and commits");
	is_int(invites_consume(st, tok, "example.com", INVITES_FOR_REGISTER, "v",
	                       NULL, 1, 0, NULL), INVITES_EUSED,
	       "... once");
	ok(psql(cut) == 0, "cut once more");
	is_int(invites_roles_add(st, "a@example.com", "x"), 0, "roles too");
	invites_store_close(&st);
	st = open_ok(cfg, 0, "close and open");
	if (st != NULL && invites_get_by_token(st, tok, &inv) == 0)
		is_int(inv->uses, 1, "... the consume is there");
	else
		ok(0, "... the consume is there");
	invites_invite_free(&inv);
	is_int(invites_has_role(st, "a@example.com", "x"), 1, "... the role too");
	invites_store_close(&st);
	invites_config_free(&cfg);
}

int
main(void)
{
	struct invites_config *cfg;
	struct invites_store *st;
	const char *tmp = getenv("TMPDIR");
	char *dir;

	invites_set_log(log_fn, NULL);
	pg_base = getenv("TEST_STORE_PG");
	if (pg_base != NULL && *pg_base == '\0')
		pg_base = NULL;
	snprintf(base, sizeof(base), "%s/xi-store-XXXXXX",
	         tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(base) == NULL) {
		printf("1..0 # SKIP cannot make a temporary directory\n");
		return 77;
	}
	diag("backend: %s", pg_base ? "PostgreSQL" : "Berkeley DB");

	if (pg_base != NULL) {
		test_open_errors_pg();
		test_garbage_pg();
	} else {
		test_open_errors();
		test_garbage();
	}

	dir = path_in("main");
	cfg = make_cfg(dir);
	st = open_ok(cfg, INVITES_OPEN_CREATE, "open the main store");
	if (st != NULL) {
		test_create_and_get(st, cfg);
		test_consume(st, cfg);
		test_reservations(st, cfg);
		test_unconsume(st, cfg);
		test_revoke_reissue(st, cfg);
		test_roles(st);
		test_audit(st);
		invites_store_close(&st);
	}
	invites_config_free(&cfg);
	free(dir);

	dir = path_in("lists");
	test_list_limit(dir);
	free(dir);
	dir = path_in("prefix");
	test_many_and_prefix(dir);
	free(dir);
	dir = path_in("purge");
	test_purge_stats(dir);
	free(dir);
	dir = path_in("retention");
	test_audit_retention(dir);
	free(dir);
	dir = path_in("reopen");
	test_readonly_reopen_format(dir);
	free(dir);
	dir = path_in("recover");
	if (pg_base != NULL)
		test_recover_pg(dir);
	else
		test_recover(dir);
	free(dir);

	if (getenv("TEST_STORE_KEEP") == NULL)
		rm_rf(base);
	else
		diag("kept %s", base);
	return done_testing();
}
