/* SPDX-License-Identifier: MIT */
/*
 * The PostgreSQL store against bare libpq, in one run (issue 9).
 *
 *   pg_bench URI N
 *
 * Phases, each over N invites, product then bare, on the same server:
 * create (invites_create / the same INSERT and audit statements in a
 * transaction), validate (invites_get_by_token + invites_invite_validate
 * / the same SELECT), consume (invites_consume / the same locked SELECT,
 * UPDATE, pending INSERT and audit statements in a transaction).  The
 * bare side runs the backend's statements as prepared statements on one
 * connection, with none of the product's work around them (argument
 * checks, normalisation, record decoding, the shared rules), so the ratio
 * is the cost of the product over the statements themselves.  Prints one
 * "phase NAME ops N secs S ops_per_s R p50_us A p99_us B" line per phase
 * (benchutil.c) and a ratio line per operation.  The product and bare
 * tables live in two schemas of URI's database, created fresh.
 */
#include "config.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <invites/invites.h>

#include "benchutil.h"

#define COLS                                                                \
	"hash, kind, flags, domain, username, inviter, created_by, note, "  \
	"array_to_string(roles, E'\\n'), cardinality(roles), "             \
	"array_to_string(contact_groups, E'\\n'), "                        \
	"cardinality(contact_groups), created, expires, revoked, used_at, " \
	"purge_at, uses, max_uses, last_used_by"

static const char *const bare_sql[] = {
	/* 0 create */
	"INSERT INTO invites (hash, kind, flags, domain, username, inviter, "
	"created_by, note, roles, contact_groups, created, expires, revoked, "
	"used_at, purge_at, uses, max_uses, last_used_by) VALUES ($1, $2, $3, "
	"$4, $5, $6, $7, $8, COALESCE(string_to_array($9, E'\\n'), '{}'), "
	"COALESCE(string_to_array($10, E'\\n'), '{}'), $11, $12, $13, $14, "
	"$15, $16, $17, $18)",
	/* 1 audit */
	"WITH s AS (UPDATE invites_meta SET audit_seq = audit_seq + 1 "
	"WHERE id = 1 RETURNING audit_seq) INSERT INTO invites_audit (seq, ts, "
	"event, id, kind, domain, actor, subject) SELECT audit_seq, $1, $2, $3, "
	"$4, $5, $6, $7 FROM s",
	/* 2 get */
	"SELECT " COLS " FROM invites WHERE hash = $1",
	/* 3 get locked, with the name's lock */
	"SELECT " COLS ", pg_advisory_xact_lock($2, $3) FROM invites "
	"WHERE hash = $1 FOR UPDATE",
	/* 4 reservation check */
	"SELECT r.hash, i.flags, i.uses, i.max_uses, i.expires FROM "
	"invites_reservations r LEFT JOIN invites i ON i.hash = r.hash "
	"WHERE r.domain = $1 AND r.username = $2",
	/* 5 update */
	"UPDATE invites SET flags = $2, revoked = $3, used_at = $4, "
	"purge_at = $5, uses = $6, last_used_by = $7 WHERE hash = $1 AND "
	"uses = $8 AND flags = $9",
	/* 6 pending */
	"INSERT INTO invites_pending (jid, hash, created, pair_with, roles, "
	"contact_groups) VALUES ($1, $2, $3, $4, COALESCE(string_to_array($5, "
	"E'\\n'), '{}'), COALESCE(string_to_array($6, E'\\n'), '{}')) ON "
	"CONFLICT (jid) DO UPDATE SET hash = EXCLUDED.hash, created = "
	"EXCLUDED.created, pair_with = EXCLUDED.pair_with, roles = "
	"EXCLUDED.roles, contact_groups = EXCLUDED.contact_groups",
};

static PGconn *bare;

static void
quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static void
die(const char *what)
{
	fprintf(stderr, "pg_bench: %s: %s\n", what,
	        bare ? PQerrorMessage(bare) : "");
	exit(1);
}

static void
ex(const char *sql)
{
	PGresult *r = PQexec(bare, sql);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		die(sql);
	PQclear(r);
}

static PGresult *
xp(int i, int n, const char *const *v, const int *len, const int *fmt)
{
	char name[8];
	PGresult *r;
	ExecStatusType st;

	snprintf(name, sizeof(name), "b%d", i);
	r = PQexecPrepared(bare, name, n, v, len, fmt, 0);
	st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		die(bare_sql[i]);
	return r;
}

/* The bare side's parameters: text, with bytea in binary. */
struct bp {
	const char *v[20];
	int len[20];
	int fmt[20];
	char num[20][24];
	int n;
};

static void
b_text(struct bp *p, const char *s)
{
	p->v[p->n] = s;
	p->len[p->n] = 0;
	p->fmt[p->n++] = 0;
}

static void
b_num(struct bp *p, long long x)
{
	snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", x);
	b_text(p, p->num[p->n]);
}

static void
b_bytes(struct bp *p, const void *b, int n)
{
	p->v[p->n] = b;
	p->len[p->n] = n;
	p->fmt[p->n++] = 1;
}

static char *
uri_schema(const char *uri, const char *schema)
{
	size_t n = strlen(uri) + strlen(schema) + 16;
	char *s = malloc(n);

	if (s == NULL)
		die("out of memory");
	snprintf(s, n, "%s%cschema=%s", uri, strchr(uri, '?') ? '&' : '?',
	         schema);
	return s;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Phases interleave product and bare, so ops/s is over the time spent in
 * the operations themselves (the sum of the samples). */
static void
print_phase(const char *name, struct bench_lat *l)
{
	double sum = 0, p50, p99;
	size_t i;

	if (l->n == 0)
		return;
	for (i = 0; i < l->n; i++)
		sum += l->v[i];
	qsort(l->v, l->n, sizeof(double), cmp_double);
	p50 = l->v[l->n / 2];
	p99 = l->v[(l->n * 99) / 100 < l->n ? (l->n * 99) / 100 : l->n - 1];
	printf("phase %s ops %zu secs %.6f ops_per_s %.1f p50_us %.3f "
	       "p99_us %.3f\n", name, l->n, sum / 1e6, l->n * 1e6 / sum, p50,
	       p99);
}

static void
report(const char *op, struct bench_lat *prod, struct bench_lat *b)
{
	char name[64];

	print_phase(op, prod);
	snprintf(name, sizeof(name), "%s_bare", op);
	print_phase(name, b);
	fflush(stdout);
}

static struct bench_lat *lat_bare;

static void
bare_create(unsigned char hash[INVITES_HASH_LEN])
{
	char tok[INVITES_TOKEN_MAX + 1], id[INVITES_ID_LEN + 1];
	long long now = (long long)time(NULL);
	struct bp p;
	double t;

	memset(&p, 0, sizeof(p));
	invites_token_new(tok, sizeof(tok));
	t = bench_now_us();
	/* the bare side hashes a fresh token too */
	invites_token_hash(tok, hash);
	invites_hash_id(hash, id);
	ex("BEGIN; SELECT txid_current()");
	b_bytes(&p, hash, INVITES_HASH_LEN);
	b_num(&p, 1);
	b_num(&p, 0);
	b_text(&p, "example.com");
	b_text(&p, NULL);
	b_text(&p, NULL);
	b_text(&p, "bench");
	b_text(&p, NULL);
	b_text(&p, NULL);
	b_text(&p, NULL);
	b_num(&p, now);
	b_num(&p, now + 604800);
	b_num(&p, 0);
	b_num(&p, 0);
	b_num(&p, now + 604800);
	b_num(&p, 0);
	b_num(&p, 1);
	b_text(&p, NULL);
	PQclear(xp(0, p.n, p.v, p.len, p.fmt));
	p.n = 0;
	b_num(&p, now);
	b_num(&p, 1);
	b_text(&p, id);
	b_num(&p, 1);
	b_text(&p, "example.com");
	b_text(&p, "bench");
	b_text(&p, NULL);
	PQclear(xp(1, p.n, p.v, p.len, p.fmt));
	ex("COMMIT");
	bench_lat_add(lat_bare, bench_now_us() - t);
}

static void
bare_validate(const unsigned char hash[INVITES_HASH_LEN])
{
	struct bp p;
	double t;

	memset(&p, 0, sizeof(p));
	t = bench_now_us();
	b_bytes(&p, hash, INVITES_HASH_LEN);
	PQclear(xp(2, p.n, p.v, p.len, p.fmt));
	bench_lat_add(lat_bare, bench_now_us() - t);
}

static void
bare_consume(const unsigned char hash[INVITES_HASH_LEN], long i)
{
	char user[64], jid[96], id[INVITES_ID_LEN + 1];
	long long now = (long long)time(NULL);
	struct bp p;
	double t;

	memset(&p, 0, sizeof(p));
	snprintf(user, sizeof(user), "u%ld", i);
	snprintf(jid, sizeof(jid), "u%ld@example.com", i);
	t = bench_now_us();
	invites_hash_id(hash, id);
	ex("BEGIN; SELECT txid_current()");
	b_bytes(&p, hash, INVITES_HASH_LEN);
	b_num(&p, 0x78690002);
	b_num(&p, (long long)(int)((unsigned)i * 2654435761u));
	PQclear(xp(3, p.n, p.v, p.len, p.fmt));
	p.n = 0;
	b_text(&p, "example.com");
	b_text(&p, user);
	PQclear(xp(4, p.n, p.v, p.len, p.fmt));
	p.n = 0;
	b_bytes(&p, hash, INVITES_HASH_LEN);
	b_num(&p, 0);
	b_num(&p, 0);
	b_num(&p, now);
	b_num(&p, now + 2592000);
	b_num(&p, 1);
	b_text(&p, jid);
	b_num(&p, 0);
	b_num(&p, 0);
	PQclear(xp(5, p.n, p.v, p.len, p.fmt));
	p.n = 0;
	b_text(&p, jid);
	b_bytes(&p, hash, INVITES_HASH_LEN);
	b_num(&p, now);
	b_text(&p, NULL);
	b_text(&p, NULL);
	b_text(&p, NULL);
	PQclear(xp(6, p.n, p.v, p.len, p.fmt));
	p.n = 0;
	b_num(&p, now);
	b_num(&p, 2);
	b_text(&p, id);
	b_num(&p, 1);
	b_text(&p, "example.com");
	b_text(&p, "bench");
	b_text(&p, jid);
	PQclear(xp(1, p.n, p.v, p.len, p.fmt));
	ex("COMMIT");
	bench_lat_add(lat_bare, bench_now_us() - t);
}

int
main(int argc, char **argv)
{
	struct invites_config *cfg = NULL;
	struct invites_store *st = NULL;
	struct invites_invite *inv = NULL;
	struct invites_spec s;
	struct bench_lat lp, lb;
	unsigned char (*hashes)[INVITES_HASH_LEN];
	char (*toks)[INVITES_TOKEN_MAX + 1];
	char *puri, user[64];
	const char *uri;
	long n, i;
	double t;
	int rc;

	if (argc != 3 || (n = strtol(argv[2], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: pg_bench URI N\n");
		return 64;
	}
	uri = argv[1];
	toks = calloc((size_t)n, sizeof(*toks));
	hashes = calloc((size_t)n, sizeof(*hashes));
	if (toks == NULL || hashes == NULL || bench_lat_init(&lp, (size_t)n) ||
	    bench_lat_init(&lb, (size_t)n))
		die("out of memory");

	/* fresh schemas: the product's store and the bare tables */
	puri = uri_schema(uri, "bench_product");
	if (invites_config_new(puri, &cfg) != 0 ||
	    invites_config_set(cfg, "domains", "example.com", NULL) != 0)
		die("config");
	bare = PQconnectdb(uri);
	if (PQstatus(bare) != CONNECTION_OK)
		die("connect");
	PQsetNoticeProcessor(bare, quiet, NULL);
	ex("DROP SCHEMA IF EXISTS bench_product CASCADE");
	ex("DROP SCHEMA IF EXISTS bench_bare CASCADE");
	rc = invites_store_open(cfg, INVITES_OPEN_CREATE | INVITES_OPEN_DAEMON,
	                        &st);
	if (rc != 0)
		die(invites_strerror(rc));
	/* the same tables for the bare side: a copy of the product's */
	ex("CREATE SCHEMA bench_bare");
	ex("SET search_path TO bench_bare");
	ex("CREATE TABLE invites (LIKE bench_product.invites INCLUDING ALL)");
	ex("CREATE TABLE invites_meta (LIKE bench_product.invites_meta "
	   "INCLUDING ALL)");
	ex("INSERT INTO invites_meta SELECT 1, magic, version, created, 0 FROM "
	   "bench_product.invites_meta");
	ex("CREATE TABLE invites_audit (LIKE bench_product.invites_audit "
	   "INCLUDING ALL)");
	ex("CREATE TABLE invites_pending (LIKE bench_product.invites_pending "
	   "INCLUDING ALL)");
	ex("CREATE TABLE invites_reservations (LIKE "
	   "bench_product.invites_reservations INCLUDING ALL)");
	for (i = 0; i < (long)(sizeof(bare_sql) / sizeof(bare_sql[0])); i++) {
		char name[8];
		PGresult *r;

		snprintf(name, sizeof(name), "b%ld", i);
		r = PQprepare(bare, name, bare_sql[i], 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			die(bare_sql[i]);
		PQclear(r);
	}
	memset(&s, 0, sizeof(s));
	s.kind = INVITES_KIND_ACCOUNT;
	s.domain = "example.com";
	lat_bare = &lb;

	/* Each phase alternates product and bare, one operation each, so
	 * that both meet the same disk and server (fsync times vary). */
	bench_lat_reset(&lp);
	bench_lat_reset(&lb);
	for (i = 0; i < n; i++) {
		t = bench_now_us();
		rc = invites_create(st, cfg, &s, toks[i], sizeof(toks[0]), &inv);
		bench_lat_add(&lp, bench_now_us() - t);
		if (rc != 0)
			die(invites_strerror(rc));
		invites_invite_free(&inv);
		bare_create(hashes[i]);
	}
	report("create", &lp, &lb);
	bench_lat_reset(&lp);
	bench_lat_reset(&lb);
	for (i = 0; i < n; i++) {
		t = bench_now_us();
		rc = invites_get_by_token(st, toks[i], &inv);
		if (rc == 0)
			rc = invites_invite_validate(inv, "example.com",
			                             INVITES_FOR_PREAUTH, NULL,
			                             (int64_t)time(NULL), 1);
		bench_lat_add(&lp, bench_now_us() - t);
		if (rc != 0)
			die(invites_strerror(rc));
		invites_invite_free(&inv);
		bare_validate(hashes[i]);
	}
	report("validate", &lp, &lb);
	bench_lat_reset(&lp);
	bench_lat_reset(&lb);
	for (i = 0; i < n; i++) {
		snprintf(user, sizeof(user), "u%ld", i);
		t = bench_now_us();
		rc = invites_consume(st, toks[i], "example.com",
		                     INVITES_FOR_REGISTER, user, NULL, 1, 0, NULL);
		bench_lat_add(&lp, bench_now_us() - t);
		if (rc != 0)
			die(invites_strerror(rc));
		bare_consume(hashes[i], i);
	}
	report("consume", &lp, &lb);

	invites_store_close(&st);
	invites_config_free(&cfg);
	ex("RESET search_path");
	ex("DROP SCHEMA bench_product CASCADE");
	ex("DROP SCHEMA bench_bare CASCADE");
	PQfinish(bare);
	bench_lat_free(&lp);
	bench_lat_free(&lb);
	free(toks);
	free(hashes);
	free(puri);
	return 0;
}
