/* SPDX-License-Identifier: MIT */
/*
 * The PostgreSQL backend of the invite store: the only file that includes
 * <libpq-fe.h>.
 *
 * Chosen when the `store` key is a libpq URI (postgresql://...), so that
 * c2s processes on several machines share one store.  Every operation of
 * store.h is one transaction on this process's connection, deciding by
 * the rules store.c shares with Berkeley DB:
 *  - an invite is read with SELECT ... FOR UPDATE (PostgreSQL's DB_RMW):
 *    racing consumers of one token queue on its row, and each sees the
 *    state the previous one committed; the UPDATE that counts a use is
 *    guarded by the old use count as well, so a use is never counted on
 *    a stale read;
 *  - a username's reservation and an inviter's count are serialised by
 *    transaction-scoped advisory locks (absent rows cannot be locked);
 *  - audit sequence numbers come from one counter row updated as the last
 *    statement of each writing transaction, so they are contiguous and in
 *    commit order, as in Berkeley DB;
 *  - purge deletes through an index on the purge time, 1000 per
 *    transaction; only SHA-256 hashes of tokens are ever sent.
 * Statements are prepared once per connection.  A connection that breaks
 * is re-established: a transaction that broke before COMMIT is run again;
 * one that broke during COMMIT is resolved with txid_status() after
 * reconnecting (committed: success; else run again), and reported as
 * INVITES_ERECOVER only when that cannot be known.  While the server
 * cannot be reached, operations fail with INVITES_EBUSY.
 *
 * The schema (version 1) lives in the database's current schema, or in
 * the one the URI names with `schema=NAME` (a parameter of ours, removed
 * before libpq sees the URI): tables invites_meta (magic, version, audit
 * counter), invites, invites_reservations, invites_pending, invites_roles,
 * invites_audit, invites_aux.  `invitectl db init` creates it,
 * INVITES_OPEN_CREATE does too, and a newer version is refused with
 * INVITES_EVERSION.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

/*
 * libpq is loaded when the first PostgreSQL store is opened, not linked:
 * linked, every program using libinvites (invitectl above all, whose
 * whole-process time is a target) loaded libpq and its Kerberos, LDAP and
 * GSSAPI libraries on every run, for a backend most sites never use.
 * Each libpq function this file calls is listed once here; the names keep
 * their meaning below through one macro per function.
 */
#define INV_PQ_FUNCS(X)                                                       \
	X(PQclear) X(PQcmdStatus) X(PQcmdTuples) X(PQconnectdbParams)         \
	X(PQerrorMessage) X(PQexec) X(PQexecPrepared) X(PQfinish)             \
	X(PQgetisnull) X(PQgetvalue) X(PQntuples) X(PQprepare)                \
	X(PQresultErrorField) X(PQresultErrorMessage) X(PQresultStatus)       \
	X(PQsetNoticeProcessor) X(PQstatus)
#define INV_PQ_PTR(f) static __typeof__(f) *inv_pq_##f;
INV_PQ_FUNCS(INV_PQ_PTR)
#undef INV_PQ_PTR

static pthread_once_t inv_pq_once = PTHREAD_ONCE_INIT;
static int inv_pq_status = INVITES_ESTORE;

static void
inv_pq_load_once(void)
{
	void *h = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);

	if (h == NULL) {
		inv__log(INVITES_LOG_ERR, "PostgreSQL store: cannot load libpq "
		         "(install Debian's libpq5): %s", dlerror());
		return;
	}
#define INV_PQ_SYM(f)                                                         \
	*(void **)&inv_pq_##f = dlsym(h, #f);                                 \
	if (inv_pq_##f == NULL) {                                             \
		inv__log(INVITES_LOG_ERR, "PostgreSQL store: libpq lacks %s", #f); \
		return;                                                       \
	}
	INV_PQ_FUNCS(INV_PQ_SYM)
#undef INV_PQ_SYM
	inv_pq_status = 0;
}

/* 0 once libpq is loaded, INVITES_ESTORE (logged) when it cannot be. */
static int
inv_pq_load(void)
{
	if (pthread_once(&inv_pq_once, inv_pq_load_once) != 0)
		return INVITES_ESTORE;
	return inv_pq_status;
}

#define PQclear (*inv_pq_PQclear)
#define PQcmdStatus (*inv_pq_PQcmdStatus)
#define PQcmdTuples (*inv_pq_PQcmdTuples)
#define PQconnectdbParams (*inv_pq_PQconnectdbParams)
#define PQerrorMessage (*inv_pq_PQerrorMessage)
#define PQexec (*inv_pq_PQexec)
#define PQexecPrepared (*inv_pq_PQexecPrepared)
#define PQfinish (*inv_pq_PQfinish)
#define PQgetisnull (*inv_pq_PQgetisnull)
#define PQgetvalue (*inv_pq_PQgetvalue)
#define PQntuples (*inv_pq_PQntuples)
#define PQprepare (*inv_pq_PQprepare)
#define PQresultErrorField (*inv_pq_PQresultErrorField)
#define PQresultErrorMessage (*inv_pq_PQresultErrorMessage)
#define PQresultStatus (*inv_pq_PQresultStatus)
#define PQsetNoticeProcessor (*inv_pq_PQsetNoticeProcessor)
#define PQstatus (*inv_pq_PQstatus)

#define PG_SCHEMA_VERSION 1
#define PG_MAGIC "xmpp-invites"
#define SCAN_BATCH 256
#define CONN_TRIES 5          /* connection attempts within one operation */
#define CONN_BACKOFF_MS 100   /* doubled after each */
#define CONN_QUIET_MS 500     /* fail fast this long after a failed attempt */
/* advisory lock classes (first key): "xi" and a number */
#define LOCK_SCHEMA  0x78690001
#define LOCK_NAME    0x78690002
#define LOCK_INVITER 0x78690003

/* Internal answers besides INVITES_E*: run the transaction again. */
#define R_RETRY 1   /* serialisation failure, deadlock, lost race */
#define R_CONN  2   /* the connection broke before COMMIT */

struct inv__backend {
	PGconn *conn;
	char *uri;          /* for libpq: without our own parameters */
	char *schema;       /* schema=NAME, or NULL */
	char *name;         /* for logs: no password */
	unsigned flags;
	int placeholder;    /* the stand-in after a failed reopen */
	int broken;         /* reconnect before the next statement */
	uint64_t prepared;  /* bit i: statement i is prepared on conn */
	int64_t last_fail_ms;
	char *xid;          /* of the open writing transaction */
};

/* ------------------------------------------------------------------ */
/* Statements                                                          */
/* ------------------------------------------------------------------ */

#define INV_COLS                                                            \
	"hash, kind, flags, domain, username, inviter, created_by, note, "  \
	"array_to_string(roles, E'\\n'), cardinality(roles), "             \
	"array_to_string(contact_groups, E'\\n'), "                        \
	"cardinality(contact_groups), created, expires, revoked, used_at, " \
	"purge_at, uses, max_uses, last_used_by"
#define INV_NCOLS 20
#define PEND_COLS                                                       \
	"jid, hash, created, pair_with, array_to_string(roles, E'\\n'), " \
	"cardinality(roles), array_to_string(contact_groups, E'\\n'), "   \
	"cardinality(contact_groups)"
#define AUDIT_COLS "seq, ts, event, id, kind, domain, actor, subject"

enum stmt {
	S_GET,
	S_GET_LOCK,
	S_GET_LOCK_NAME,
	S_FIND_PREFIX,
	S_INSERT,
	S_UPDATE,
	S_AUDIT,
	S_ADV_LOCK,
	S_RES_GET,
	S_RES_GET_LOCK,
	S_RES_PUT,
	S_RES_DEL,
	S_COUNT_INVITER,
	S_PEND_PUT,
	S_PEND_GET,
	S_PEND_GET_LOCK,
	S_PEND_TAKE,
	S_PEND_DEL,
	S_ROLES_GET,
	S_ROLES_GET_LOCK,
	S_ROLES_INS,
	S_ROLES_UPD,
	S_ROLES_DEL,
	S_LIST,
	S_LIST_INVITER,
	S_PURGE,
	S_TRIM,
	S_STATS_GROUPS,
	S_STATS_OTHER,
	S_AUDIT_WALK,
	S_AUX_GET,
	S_AUX_INS,
	S_AUX_PUT,
	S_AUX_DEL,
	S_AUX_WALK,
	S_SET_FORMAT,
	S_XID_STATUS,
	S_RAW_AUDIT,
	S_RAW_SEQ,
	N_STMTS
};

static const char *const stmt_sql[N_STMTS] = {
	[S_GET] = "SELECT " INV_COLS " FROM invites WHERE hash = $1",
	[S_GET_LOCK] = "SELECT " INV_COLS " FROM invites WHERE hash = $1 "
	               "FOR UPDATE",
	[S_GET_LOCK_NAME] = "SELECT " INV_COLS ", pg_advisory_xact_lock($2, $3) "
	                    "FROM invites WHERE hash = $1 FOR UPDATE",
	[S_FIND_PREFIX] = "SELECT hash FROM invites WHERE hash >= $1 "
	                  "ORDER BY hash LIMIT 2",
	[S_INSERT] =
	    "INSERT INTO invites (hash, kind, flags, domain, username, inviter, "
	    "created_by, note, roles, contact_groups, created, expires, revoked, "
	    "used_at, purge_at, uses, max_uses, last_used_by) VALUES ($1, $2, $3, "
	    "$4, $5, $6, $7, $8, COALESCE(string_to_array($9, E'\\n'), '{}'), "
	    "COALESCE(string_to_array($10, E'\\n'), '{}'), $11, $12, $13, $14, "
	    "$15, $16, $17, $18)",
	[S_UPDATE] = "UPDATE invites SET flags = $2, revoked = $3, used_at = $4, "
	             "purge_at = $5, uses = $6, last_used_by = $7 "
	             "WHERE hash = $1 AND uses = $8 AND flags = $9",
	[S_AUDIT] = "WITH s AS (UPDATE invites_meta SET audit_seq = audit_seq + 1 "
	            "WHERE id = 1 RETURNING audit_seq) "
	            "INSERT INTO invites_audit (seq, ts, event, id, kind, domain, "
	            "actor, subject) SELECT audit_seq, $1, $2, $3, $4, $5, $6, $7 "
	            "FROM s",
	[S_ADV_LOCK] = "SELECT pg_advisory_xact_lock($1, $2)",
	[S_RES_GET] = "SELECT r.hash, i.flags, i.uses, i.max_uses, i.expires "
	              "FROM invites_reservations r LEFT JOIN invites i "
	              "ON i.hash = r.hash WHERE r.domain = $1 AND r.username = $2",
	[S_RES_GET_LOCK] = "SELECT r.hash, i.flags, i.uses, i.max_uses, "
	                   "i.expires FROM invites_reservations r LEFT JOIN "
	                   "invites i ON i.hash = r.hash WHERE r.domain = $1 "
	                   "AND r.username = $2 FOR UPDATE OF r",
	[S_RES_PUT] = "INSERT INTO invites_reservations (domain, username, hash) "
	              "VALUES ($1, $2, $3) ON CONFLICT (domain, username) "
	              "DO UPDATE SET hash = EXCLUDED.hash",
	[S_RES_DEL] = "DELETE FROM invites_reservations WHERE domain = $1 "
	              "AND username = $2 AND hash = $3",
	[S_COUNT_INVITER] = "SELECT flags, uses, max_uses, expires FROM invites "
	                    "WHERE inviter = $1",
	[S_PEND_PUT] =
	    "INSERT INTO invites_pending (jid, hash, created, pair_with, roles, "
	    "contact_groups) VALUES ($1, $2, $3, $4, "
	    "COALESCE(string_to_array($5, E'\\n'), '{}'), "
	    "COALESCE(string_to_array($6, E'\\n'), '{}')) ON CONFLICT (jid) DO "
	    "UPDATE SET hash = EXCLUDED.hash, created = EXCLUDED.created, "
	    "pair_with = EXCLUDED.pair_with, roles = EXCLUDED.roles, "
	    "contact_groups = EXCLUDED.contact_groups",
	[S_PEND_GET] = "SELECT " PEND_COLS " FROM invites_pending WHERE jid = $1",
	[S_PEND_GET_LOCK] = "SELECT " PEND_COLS " FROM invites_pending "
	                    "WHERE jid = $1 FOR UPDATE",
	[S_PEND_TAKE] = "DELETE FROM invites_pending WHERE jid = $1 "
	                "RETURNING " PEND_COLS,
	[S_PEND_DEL] = "DELETE FROM invites_pending WHERE jid = $1",
	[S_ROLES_GET] = "SELECT array_to_string(roles, E'\\n'), "
	                "cardinality(roles) FROM invites_roles WHERE jid = $1",
	[S_ROLES_GET_LOCK] = "SELECT array_to_string(roles, E'\\n'), "
	                     "cardinality(roles) FROM invites_roles "
	                     "WHERE jid = $1 FOR UPDATE",
	[S_ROLES_INS] = "INSERT INTO invites_roles (jid, roles) VALUES ($1, "
	                "string_to_array($2, E'\\n'))",
	[S_ROLES_UPD] = "UPDATE invites_roles SET roles = "
	                "string_to_array($2, E'\\n') WHERE jid = $1",
	[S_ROLES_DEL] = "DELETE FROM invites_roles WHERE jid = $1",
	[S_LIST] = "SELECT " INV_COLS " FROM invites WHERE hash > $1 "
	           "AND ($2::text IS NULL OR domain = $2::text) "
	           "AND ($3::int = 0 OR kind = $3::int) ORDER BY hash LIMIT 256",
	[S_LIST_INVITER] = "SELECT " INV_COLS " FROM invites WHERE inviter = $4 "
	                   "AND hash > $1 AND ($2::text IS NULL OR "
	                   "domain = $2::text) AND ($3::int = 0 OR kind = $3::int) "
	                   "ORDER BY hash LIMIT 256",
	[S_PURGE] =
	    "WITH due AS (SELECT hash FROM invites WHERE purge_at <= $1 "
	    "ORDER BY purge_at LIMIT 1000 FOR UPDATE), "
	    "del AS (DELETE FROM invites i USING due WHERE i.hash = due.hash "
	    "RETURNING i.hash, i.kind, i.domain, i.purge_at), "
	    "res AS (DELETE FROM invites_reservations r USING del "
	    "WHERE r.hash = del.hash) "
	    "SELECT hash, kind, domain FROM del ORDER BY purge_at, hash",
	[S_TRIM] =
	    "DELETE FROM invites_audit WHERE seq IN (SELECT seq FROM "
	    "invites_audit WHERE seq < (SELECT max(seq) FROM invites_audit) "
	    "AND seq < COALESCE((SELECT seq FROM invites_audit WHERE ts >= $1 "
	    "ORDER BY seq LIMIT 1), 9223372036854775807) ORDER BY seq LIMIT 1000)",
	[S_STATS_GROUPS] = "SELECT kind, (flags & 2) <> 0, uses >= max_uses, "
	                   "expires <= $1, count(*), min(expires) FROM invites "
	                   "GROUP BY 1, 2, 3, 4",
	[S_STATS_OTHER] =
	    "SELECT (SELECT count(*) FROM invites_pending), "
	    "(SELECT COALESCE(max(seq) - min(seq) + 1, 0) FROM invites_audit), "
	    "pg_total_relation_size('invites') + "
	    "pg_total_relation_size('invites_reservations') + "
	    "pg_total_relation_size('invites_pending') + "
	    "pg_total_relation_size('invites_roles') + "
	    "pg_total_relation_size('invites_audit') + "
	    "pg_total_relation_size('invites_aux') + "
	    "pg_total_relation_size('invites_meta')",
	[S_AUDIT_WALK] = "SELECT " AUDIT_COLS " FROM invites_audit "
	                 "WHERE seq >= $1 ORDER BY seq LIMIT 256",
	[S_AUX_GET] = "SELECT aval FROM invites_aux WHERE akey = $1",
	[S_AUX_INS] = "INSERT INTO invites_aux (akey, aval) VALUES ($1, $2)",
	[S_AUX_PUT] = "INSERT INTO invites_aux (akey, aval) VALUES ($1, $2) "
	              "ON CONFLICT (akey) DO UPDATE SET aval = EXCLUDED.aval",
	[S_AUX_DEL] = "DELETE FROM invites_aux WHERE akey = $1",
	[S_AUX_WALK] = "SELECT akey, aval FROM invites_aux WHERE akey > $1 "
	               "AND starts_with(akey, $2) ORDER BY akey LIMIT 256",
	[S_SET_FORMAT] = "UPDATE invites_meta SET version = $1 WHERE id = 1",
	[S_XID_STATUS] = "SELECT txid_status($1)",
	[S_RAW_AUDIT] = "INSERT INTO invites_audit (seq, ts, event, id, kind, "
	                "domain, actor, subject) VALUES ($1, $2, $3, $4, $5, $6, "
	                "$7, $8)",
	[S_RAW_SEQ] = "UPDATE invites_meta SET audit_seq = GREATEST(audit_seq, "
	              "(SELECT COALESCE(max(seq), 0) FROM invites_audit)) "
	              "WHERE id = 1",
};

static const char *const schema_v1[] = {
	"CREATE TABLE invites_meta ("
	" id smallint PRIMARY KEY CHECK (id = 1),"
	" magic text NOT NULL,"
	" version integer NOT NULL,"
	" created bigint NOT NULL,"
	" audit_seq bigint NOT NULL DEFAULT 0)",
	"CREATE TABLE invites ("
	" hash bytea PRIMARY KEY CHECK (octet_length(hash) = 32),"
	" kind smallint NOT NULL,"
	" flags bigint NOT NULL,"
	" domain text NOT NULL,"
	" username text,"
	" inviter text,"
	" created_by text,"
	" note text,"
	" roles text[] NOT NULL DEFAULT '{}',"
	" contact_groups text[] NOT NULL DEFAULT '{}',"
	" created bigint NOT NULL,"
	" expires bigint NOT NULL,"
	" revoked bigint NOT NULL DEFAULT 0,"
	" used_at bigint NOT NULL DEFAULT 0,"
	" purge_at bigint NOT NULL,"
	" uses bigint NOT NULL,"
	" max_uses bigint NOT NULL,"
	" last_used_by text)",
	"CREATE INDEX invites_purge_at_idx ON invites (purge_at)",
	"CREATE INDEX invites_inviter_idx ON invites (inviter) "
	"WHERE inviter IS NOT NULL",
	"CREATE TABLE invites_reservations ("
	" domain text NOT NULL,"
	" username text NOT NULL,"
	" hash bytea NOT NULL,"
	" PRIMARY KEY (domain, username))",
	"CREATE INDEX invites_reservations_hash_idx ON invites_reservations (hash)",
	"CREATE TABLE invites_pending ("
	" jid text PRIMARY KEY,"
	" hash bytea NOT NULL,"
	" created bigint NOT NULL,"
	" pair_with text,"
	" roles text[] NOT NULL DEFAULT '{}',"
	" contact_groups text[] NOT NULL DEFAULT '{}')",
	"CREATE TABLE invites_roles ("
	" jid text PRIMARY KEY,"
	" roles text[] NOT NULL)",
	"CREATE TABLE invites_audit ("
	" seq bigint PRIMARY KEY,"
	" ts bigint NOT NULL,"
	" event smallint NOT NULL,"
	" id text NOT NULL,"
	" kind smallint NOT NULL,"
	" domain text,"
	" actor text,"
	" subject text)",
	"CREATE TABLE invites_aux ("
	" akey text PRIMARY KEY,"
	" aval bytea NOT NULL)",
};

/* Tables a foreign schema must not hold when ours is created. */
static const char *const our_tables[] = {
	"invites_meta", "invites", "invites_reservations", "invites_pending",
	"invites_roles", "invites_audit", "invites_aux"
};

/* ------------------------------------------------------------------ */
/* Parameters                                                          */
/* ------------------------------------------------------------------ */

#define MAXP 20

struct prm {
	const char *v[MAXP];
	int len[MAXP];
	int fmt[MAXP];
	char num[MAXP][24];
	int n;
};

static void
p_init(struct prm *p)
{
	p->n = 0;
}

static void
p_text(struct prm *p, const char *s)
{
	p->v[p->n] = s;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

static void
p_i64(struct prm *p, int64_t x)
{
	snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", (long long)x);
	p_text(p, p->num[p->n]);
}

static void
p_bytes(struct prm *p, const void *b, size_t n)
{
	p->v[p->n] = b;
	p->len[p->n] = (int)n;
	p->fmt[p->n] = 1;
	p->n++;
}

/* A string list as one parameter: NULL for none, else joined by '\n'
 * (roles and groups hold no control characters: store.c checks). */
static int
join_strv(struct inv__buf *b, char *const *v, size_t n, const char **out)
{
	size_t i;

	*out = NULL;
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (v[i] == NULL || v[i][0] == '\0' || strchr(v[i], '\n') != NULL)
			return INVITES_EINVAL;
		if (i > 0)
			inv__buf_append(b, "\n", 1);
		inv__buf_puts(b, v[i]);
	}
	inv__buf_append(b, "", 1);
	if (b->oom)
		return INVITES_ENOMEM;
	*out = (const char *)b->p;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A bytea in text form ("\x..."), decoded into out (size max): length or
 * -1 when malformed or too long. */
static long
bytea_get(const PGresult *r, int row, int col, unsigned char *out, size_t max)
{
	const char *s = PQgetvalue(r, row, col);
	size_t n, i;
	int hi, lo;

	if (PQgetisnull(r, row, col) || s[0] != '\\' || s[1] != 'x')
		return -1;
	s += 2;
	n = strlen(s);
	if (n % 2 != 0 || n / 2 > max)
		return -1;
	for (i = 0; i < n / 2; i++) {
		hi = hexval((unsigned char)s[2 * i]);
		lo = hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

/* A bytea of any length into a fresh buffer. */
static int
bytea_dup(const PGresult *r, int row, int col, unsigned char **out,
          size_t *len)
{
	size_t max = strlen(PQgetvalue(r, row, col)) / 2 + 1;
	long n;

	*out = inv__malloc(max);
	if (*out == NULL)
		return INVITES_ENOMEM;
	n = bytea_get(r, row, col, *out, max);
	if (n < 0) {
		free(*out);
		*out = NULL;
		return INVITES_ECORRUPT;
	}
	*len = (size_t)n;
	return 0;
}

static int64_t
i64_get(const PGresult *r, int row, int col)
{
	return (int64_t)strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int
bool_get(const PGresult *r, int row, int col)
{
	return PQgetvalue(r, row, col)[0] == 't';
}

/* A text column copied (NULL stays NULL). */
static int
str_get(const PGresult *r, int row, int col, char **out)
{
	*out = NULL;
	if (PQgetisnull(r, row, col))
		return 0;
	*out = inv__strdup(PQgetvalue(r, row, col));
	return *out ? 0 : INVITES_ENOMEM;
}

/* A text[] read as array_to_string(x, '\n') and cardinality(x). */
static int
strv_get(const PGresult *r, int row, int col, char ***v_r, size_t *n_r)
{
	const char *s = PQgetvalue(r, row, col), *e;
	int64_t n = i64_get(r, row, col + 1);
	char **v;
	size_t i;

	*v_r = NULL;
	*n_r = 0;
	if (n == 0)
		return 0;
	if (n < 0 || n > 1024)
		return INVITES_ECORRUPT;
	v = inv__calloc((size_t)n, sizeof(*v));
	if (v == NULL)
		return INVITES_ENOMEM;
	for (i = 0; i < (size_t)n; i++) {
		e = strchr(s, '\n');
		if ((e == NULL) != (i + 1 == (size_t)n)) {
			invites_strv_free(v, (size_t)n);
			return INVITES_ECORRUPT;
		}
		v[i] = e ? inv__strndup(s, (size_t)(e - s)) : inv__strdup(s);
		if (v[i] == NULL) {
			invites_strv_free(v, (size_t)n);
			return INVITES_ENOMEM;
		}
		s = e ? e + 1 : s;
	}
	*v_r = v;
	*n_r = (size_t)n;
	return 0;
}

static int
valid_kind(int64_t k)
{
	return k == INVITES_KIND_ACCOUNT || k == INVITES_KIND_CONTACT ||
	       k == INVITES_KIND_RESET;
}

/* An invite from the INV_COLS columns starting at col 0 of row. */
static int
row_invite(struct inv__backend *be, const PGresult *r, int row,
           struct invites_invite **inv_r, struct inv__invite_extra *extra)
{
	struct invites_invite *inv;
	int64_t kind, uses, max_uses, flags;
	int rc = 0;

	*inv_r = NULL;
	inv = inv__calloc(1, sizeof(*inv));
	if (inv == NULL)
		return INVITES_ENOMEM;
	if (bytea_get(r, row, 0, inv->hash, INVITES_HASH_LEN) != INVITES_HASH_LEN) {
		free(inv);
		inv__log(INVITES_LOG_ERR, "invite store %s: an invite's hash is "
		         "malformed", be->name);
		return INVITES_ECORRUPT;
	}
	invites_hash_id(inv->hash, inv->id);
	kind = i64_get(r, row, 1);
	flags = i64_get(r, row, 2);
	inv->kind = (enum invites_kind)kind;
	inv->flags = (unsigned)flags;
	rc = str_get(r, row, 3, &inv->domain);
	if (rc == 0)
		rc = str_get(r, row, 4, &inv->username);
	if (rc == 0)
		rc = str_get(r, row, 5, &inv->inviter);
	if (rc == 0)
		rc = str_get(r, row, 6, &inv->created_by);
	if (rc == 0)
		rc = str_get(r, row, 7, &inv->note);
	if (rc == 0)
		rc = strv_get(r, row, 8, &inv->roles, &inv->n_roles);
	if (rc == 0)
		rc = strv_get(r, row, 10, &inv->groups, &inv->n_groups);
	inv->created = i64_get(r, row, 12);
	inv->expires = i64_get(r, row, 13);
	inv->revoked = i64_get(r, row, 14);
	if (extra != NULL) {
		extra->used_at = i64_get(r, row, 15);
		extra->purge_at = i64_get(r, row, 16);
	}
	uses = i64_get(r, row, 17);
	max_uses = i64_get(r, row, 18);
	inv->uses = (uint32_t)uses;
	inv->max_uses = (uint32_t)max_uses;
	if (rc == 0)
		rc = str_get(r, row, 19, &inv->last_used_by);
	if (rc == 0 && (!valid_kind(kind) || inv->domain == NULL ||
	                flags < 0 || flags > UINT32_MAX || uses < 0 ||
	                uses > UINT32_MAX || max_uses < 1 ||
	                max_uses > UINT32_MAX))
		rc = INVITES_ECORRUPT;
	if (rc != 0) {
		if (rc == INVITES_ECORRUPT)
			inv__log(INVITES_LOG_ERR, "invite store %s: invite %s: %s",
			         be->name, inv->id, invites_strerror(rc));
		invites_invite_free(&inv);
		return rc;
	}
	*inv_r = inv;
	return 0;
}

/* Pending work from the PEND_COLS columns; *hash the invite's. */
static int
row_pending(const PGresult *r, int row, struct invites_pending **p_r,
            unsigned char hash[INVITES_HASH_LEN])
{
	struct invites_pending *p;
	int rc;

	*p_r = NULL;
	p = inv__calloc(1, sizeof(*p));
	if (p == NULL)
		return INVITES_ENOMEM;
	rc = str_get(r, row, 0, &p->jid);
	if (rc == 0 &&
	    bytea_get(r, row, 1, hash, INVITES_HASH_LEN) != INVITES_HASH_LEN)
		rc = INVITES_ECORRUPT;
	if (rc == 0) {
		p->invite_id = inv__malloc(INVITES_ID_LEN + 1);
		if (p->invite_id == NULL)
			rc = INVITES_ENOMEM;
		else
			invites_hash_id(hash, p->invite_id);
	}
	p->created = i64_get(r, row, 2);
	if (rc == 0)
		rc = str_get(r, row, 3, &p->pair_with);
	if (rc == 0)
		rc = strv_get(r, row, 4, &p->roles, &p->n_roles);
	if (rc == 0)
		rc = strv_get(r, row, 6, &p->groups, &p->n_groups);
	if (rc == 0 && p->jid == NULL)
		rc = INVITES_ECORRUPT;
	if (rc != 0) {
		invites_pending_free(&p);
		return rc;
	}
	*p_r = p;
	return 0;
}

/* ------------------------------------------------------------------ */
/* URI, connection                                                     */
/* ------------------------------------------------------------------ */

static void
sleep_ms(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
valid_ident(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 63 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_'))
			return 0;
	return 1;
}

/* Take our own "schema=NAME" out of the URI's query. */
static int
split_uri(struct inv__backend *be, const char *spec)
{
	const char *q = strchr(spec, '?'), *p, *e;
	struct inv__buf b;
	int first = 1;

	inv__buf_init(&b);
	if (q == NULL) {
		be->uri = inv__strdup(spec);
		return be->uri ? 0 : INVITES_ENOMEM;
	}
	inv__buf_append(&b, spec, (size_t)(q - spec));
	for (p = q + 1; *p != '\0'; p = *e ? e + 1 : e) {
		e = p + strcspn(p, "&");
		if (e - p > 7 && strncmp(p, "schema=", 7) == 0) {
			if (!valid_ident(p + 7, (size_t)(e - p - 7))) {
				inv__buf_free(&b);
				inv__log(INVITES_LOG_ERR,
				         "invite store %s: schema= takes a name of "
				         "a-z, 0-9 and _ (at most 63)", be->name);
				return INVITES_ECONFIG;
			}
			free(be->schema);
			be->schema = inv__strndup(p + 7, (size_t)(e - p - 7));
			if (be->schema == NULL) {
				inv__buf_free(&b);
				return INVITES_ENOMEM;
			}
			continue;
		}
		if (e == p)
			continue;
		inv__buf_append(&b, first ? "?" : "&", 1);
		inv__buf_append(&b, p, (size_t)(e - p));
		first = 0;
	}
	be->uri = inv__buf_steal(&b);
	return be->uri ? 0 : INVITES_ENOMEM;
}

static void
conn_drop(struct inv__backend *be)
{
	if (be->conn != NULL)
		PQfinish(be->conn);
	be->conn = NULL;
	be->prepared = 0;
	be->broken = 1;
}

static void
notice_fn(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* NOTICEs of our own statements (IF NOT EXISTS ...) */
}

/* The last error of the connection, on one line. */
static const char *
conn_msg(struct inv__backend *be, char *buf, size_t n)
{
	const char *m = be->conn ? PQerrorMessage(be->conn) : "no connection";
	size_t i;

	snprintf(buf, n, "%s", m);
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] == '\n')
			buf[i] = buf[i + 1] != '\0' ? ' ' : '\0';
	return buf;
}

/*
 * Connect and set the session up.  On failure: INVITES_ENOSTORE (no such
 * database), INVITES_EACCES (refused), or R_CONN (try again later).
 */
static int
conn_open(struct inv__backend *be)
{
	const char *kw[] = {
		"connect_timeout", "keepalives_idle", "keepalives_interval",
		"keepalives_count", "fallback_application_name", "dbname",
		"client_encoding", NULL
	};
	const char *val[] = {
		"10", "30", "10", "3", "xmpp-invites", be->uri, "UTF8", NULL
	};
	struct inv__buf b;
	char msg[512];
	PGresult *r;
	int rc;

	rc = inv_pq_load();
	if (rc != 0)
		return rc;
	conn_drop(be);
	be->conn = PQconnectdbParams(kw, val, 1);
	if (be->conn == NULL)
		return INVITES_ENOMEM;
	if (PQstatus(be->conn) != CONNECTION_OK) {
		conn_msg(be, msg, sizeof(msg));
		if (strstr(msg, "does not exist") != NULL)
			rc = INVITES_ENOSTORE;
		else if (strstr(msg, "authentication failed") != NULL ||
		         strstr(msg, "pg_hba.conf") != NULL ||
		         strstr(msg, "permission denied") != NULL)
			rc = INVITES_EACCES;
		else
			rc = R_CONN;
		inv__log(rc == R_CONN ? INVITES_LOG_WARNING : INVITES_LOG_ERR,
		         "invite store %s: cannot connect: %s", be->name, msg);
		conn_drop(be);
		be->last_fail_ms = inv__monotonic_ms();
		return rc;
	}
	PQsetNoticeProcessor(be->conn, notice_fn, NULL);
	/* a process frozen inside a transaction must not hold rows forever,
	 * nor may a lock wait block a server's registration path for long */
	inv__buf_init(&b);
	inv__buf_puts(&b, "SET lock_timeout = '10s'; "
	                  "SET idle_in_transaction_session_timeout = '60s'; "
	                  "SET statement_timeout = '60s'");
	if (be->schema != NULL)
		inv__buf_printf(&b, "; SET search_path TO \"%s\"", be->schema);
	if (be->flags & INVITES_OPEN_READONLY)
		inv__buf_puts(&b, "; SET default_transaction_read_only = on");
	inv__buf_append(&b, "", 1);
	if (b.oom) {
		inv__buf_free(&b);
		conn_drop(be);
		return INVITES_ENOMEM;
	}
	r = PQexec(be->conn, (const char *)b.p);
	inv__buf_free(&b);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		inv__log(INVITES_LOG_ERR, "invite store %s: session setup: %s",
		         be->name, conn_msg(be, msg, sizeof(msg)));
		PQclear(r);
		conn_drop(be);
		be->last_fail_ms = inv__monotonic_ms();
		return R_CONN;
	}
	PQclear(r);
	be->broken = 0;
	return 0;
}

/* Reconnect when needed.  first: the first attempt of an operation,
 * which fails fast for a while after a failed attempt. */
static int
conn_ready(struct inv__backend *be, int first)
{
	int rc;

	if (be->conn != NULL && !be->broken &&
	    PQstatus(be->conn) == CONNECTION_OK)
		return 0;
	if (first && be->last_fail_ms != 0 &&
	    inv__monotonic_ms() - be->last_fail_ms < CONN_QUIET_MS)
		return INVITES_EBUSY;
	rc = conn_open(be);
	if (rc == 0)
		inv__log(INVITES_LOG_NOTICE, "invite store %s: reconnected",
		         be->name);
	return rc == INVITES_ENOSTORE || rc == INVITES_EACCES ? INVITES_ESTORE
	                                                       : rc;
}

/* ------------------------------------------------------------------ */
/* Errors and statements                                               */
/* ------------------------------------------------------------------ */

static int
map_error(struct inv__backend *be, PGresult *r, const char *what)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char msg[512];

	if (be->conn == NULL || PQstatus(be->conn) != CONNECTION_OK ||
	    state == NULL || strncmp(state, "08", 2) == 0 ||
	    strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
	    strcmp(state, "57P03") == 0 || strcmp(state, "25P03") == 0) {
		inv__log(INVITES_LOG_WARNING,
		         "invite store %s: %s: connection lost: %s", be->name,
		         what, conn_msg(be, msg, sizeof(msg)));
		conn_drop(be);
		return R_CONN;
	}
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		return R_RETRY;
	if (strcmp(state, "23505") == 0)
		return INVITES_EEXIST;
	snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
	msg[strcspn(msg, "\n")] = '\0';
	inv__log(INVITES_LOG_ERR, "invite store %s: %s: %s (%s)", be->name, what,
	         msg, state);
	if (strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0)
		return INVITES_EBUSY;
	if (strcmp(state, "22021") == 0 || strcmp(state, "22P05") == 0)
		return INVITES_EINVAL; /* text that is not valid UTF-8 */
	if (strcmp(state, "42501") == 0)
		return INVITES_EACCES;
	if (strcmp(state, "53100") == 0)
		return INVITES_ENOSPC;
	if (strcmp(state, "25006") == 0)
		return INVITES_EINVAL; /* a write on a read-only handle */
	return INVITES_ESTORE;
}

/* Run statement id; the result (tuples or not) in *res_r when not NULL. */
static int
xq(struct inv__backend *be, enum stmt id, const struct prm *p,
   PGresult **res_r, const char *what)
{
	char name[16];
	PGresult *r;
	ExecStatusType st;
	int rc;

	if (res_r != NULL)
		*res_r = NULL;
	if (be->conn == NULL)
		return R_CONN;
	snprintf(name, sizeof(name), "xi%d", (int)id);
	if (!(be->prepared & (UINT64_C(1) << id))) {
		r = PQprepare(be->conn, name, stmt_sql[id], 0, NULL);
		if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
			rc = map_error(be, r, what);
			PQclear(r);
			return rc;
		}
		PQclear(r);
		be->prepared |= UINT64_C(1) << id;
	}
	r = PQexecPrepared(be->conn, name, p ? p->n : 0, p ? p->v : NULL,
	                   p ? p->len : NULL, p ? p->fmt : NULL, 0);
	st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		rc = map_error(be, r, what);
		PQclear(r);
		return rc;
	}
	if (res_r != NULL)
		*res_r = r;
	else
		PQclear(r);
	return 0;
}

/* A statement whose rows are not wanted; *n_r: rows affected. */
static int
xc(struct inv__backend *be, enum stmt id, const struct prm *p, long *n_r,
   const char *what)
{
	PGresult *r;
	int rc = xq(be, id, p, &r, what);

	if (n_r != NULL)
		*n_r = rc == 0 ? strtol(PQcmdTuples(r), NULL, 10) : 0;
	PQclear(r);
	return rc;
}

/* A simple command outside the prepared set (BEGIN, COMMIT ...). */
static int
xs(struct inv__backend *be, const char *sql, PGresult **res_r,
   const char *what)
{
	PGresult *r;
	ExecStatusType st;
	int rc;

	if (res_r != NULL)
		*res_r = NULL;
	if (be->conn == NULL)
		return R_CONN;
	r = PQexec(be->conn, sql);
	st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		rc = map_error(be, r, what);
		PQclear(r);
		return rc;
	}
	if (res_r != NULL)
		*res_r = r;
	else
		PQclear(r);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Transactions                                                        */
/* ------------------------------------------------------------------ */

typedef int pg_fn(struct inv__backend *be, void *arg);

enum { TX_NONE, TX_READ, TX_WRITE };

/* After a COMMIT whose answer was lost: did it commit?  0 yes, R_RETRY
 * no, INVITES_ERECOVER unknown. */
static int
commit_outcome(struct inv__backend *be, const char *what)
{
	PGresult *r = NULL;
	struct prm p;
	int i, rc = R_CONN;

	for (i = 0; i < CONN_TRIES && rc == R_CONN; i++) {
		if (i > 0)
			sleep_ms(CONN_BACKOFF_MS << (i - 1));
		rc = conn_ready(be, 0);
		if (rc != 0) {
			rc = R_CONN;
			continue;
		}
		p_init(&p);
		p_text(&p, be->xid);
		rc = xq(be, S_XID_STATUS, &p, &r, what);
	}
	if (rc == 0) {
		const char *s = PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "";

		rc = strcmp(s, "committed") == 0 ? 0
		     : strcmp(s, "aborted") == 0 ? R_RETRY
		                                 : INVITES_ERECOVER;
	} else {
		rc = INVITES_ERECOVER;
	}
	PQclear(r);
	if (rc == INVITES_ERECOVER)
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: %s: the connection broke during COMMIT "
		         "and its outcome cannot be known", be->name, what);
	else
		inv__log(INVITES_LOG_NOTICE,
		         "invite store %s: %s: the connection broke during COMMIT; "
		         "it had %s", be->name, what,
		         rc == 0 ? "committed" : "not committed: running it again");
	return rc;
}

static int
tx_begin(struct inv__backend *be, int mode, const char *what)
{
	PGresult *r;
	int rc;

	free(be->xid);
	be->xid = NULL;
	if (mode == TX_READ)
		return xs(be, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
		          NULL, what);
	rc = xs(be, "BEGIN; SELECT txid_current()", &r, what);
	if (rc != 0)
		return rc;
	if (PQntuples(r) == 1)
		be->xid = inv__strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (be->xid == NULL) {
		(void)xs(be, "ROLLBACK", NULL, what);
		return INVITES_ENOMEM;
	}
	return 0;
}

static int
tx_commit(struct inv__backend *be, const char *what)
{
	PGresult *r;
	int rc = xs(be, "COMMIT", &r, what);

	if (rc == 0) {
		if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
			rc = R_RETRY; /* rolled back after all */
		PQclear(r);
		return rc;
	}
	if (rc == R_CONN && be->xid != NULL)
		return commit_outcome(be, what);
	return rc;
}

/*
 * Run fn as one transaction (or, TX_NONE, as it is: fn runs one
 * statement).  fn returns 0, INVITES_E* or R_RETRY/R_CONN, and must be
 * safe to run again from scratch.
 */
static int
run(struct inv__backend *be, int mode, pg_fn *fn, void *arg, const char *what)
{
	int i, conn_tries = 0, rc;

	if (be->placeholder)
		return INVITES_ERECOVER;
	for (i = 0; i < INV__STORE_RETRIES; i++) {
		rc = conn_ready(be, conn_tries == 0);
		if (rc == 0 && mode != TX_NONE)
			rc = tx_begin(be, mode, what);
		if (rc == 0) {
			rc = fn(be, arg);
			if (mode != TX_NONE) {
				if (rc == 0)
					rc = tx_commit(be, what);
				else if (be->conn != NULL && !be->broken)
					(void)xs(be, "ROLLBACK", NULL, what);
			}
		}
		if (rc == R_CONN) {
			if (++conn_tries >= CONN_TRIES)
				return INVITES_EBUSY;
			sleep_ms(CONN_BACKOFF_MS << (conn_tries - 1));
			continue;
		}
		if (rc == INVITES_EBUSY && conn_tries == 0 && be->conn == NULL)
			return rc; /* failing fast while the server is away */
		if (rc != R_RETRY)
			return rc;
		sleep_ms((long)(rand() % 3));
	}
	inv__log(INVITES_LOG_WARNING, "invite store %s: %s: gave up after %d "
	         "conflicts", be->name, what, INV__STORE_RETRIES);
	return INVITES_EBUSY;
}

static int
check_writable(struct inv__backend *be)
{
	if (be->placeholder)
		return INVITES_ERECOVER;
	if (be->flags & INVITES_OPEN_READONLY)
		return INVITES_EINVAL;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Records in a transaction                                            */
/* ------------------------------------------------------------------ */

static uint32_t
fnv32(const char *a, const char *b)
{
	uint32_t h = 2166136261u;
	const char *s;

	for (s = a; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	h = (h ^ 0u) * 16777619u;
	for (s = b; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* A transaction-scoped lock on a name (class, then two strings). */
static int
adv_lock(struct inv__backend *be, int32_t cls, const char *a, const char *b)
{
	struct prm p;

	p_init(&p);
	p_i64(&p, cls);
	p_i64(&p, (int32_t)fnv32(a, b));
	return xc(be, S_ADV_LOCK, &p, NULL, "lock");
}

static int
put_invite(struct inv__backend *be, const struct invites_invite *inv,
           const struct inv__invite_extra *extra)
{
	struct inv__buf rb, gb;
	const char *roles, *groups;
	struct prm p;
	int rc;

	inv__buf_init(&rb);
	inv__buf_init(&gb);
	rc = join_strv(&rb, inv->roles, inv->n_roles, &roles);
	if (rc == 0)
		rc = join_strv(&gb, inv->groups, inv->n_groups, &groups);
	if (rc == 0) {
		p_init(&p);
		p_bytes(&p, inv->hash, INVITES_HASH_LEN);
		p_i64(&p, inv->kind);
		p_i64(&p, inv->flags);
		p_text(&p, inv->domain);
		p_text(&p, inv->username);
		p_text(&p, inv->inviter);
		p_text(&p, inv->created_by);
		p_text(&p, inv->note);
		p_text(&p, roles);
		p_text(&p, groups);
		p_i64(&p, inv->created);
		p_i64(&p, inv->expires);
		p_i64(&p, inv->revoked);
		p_i64(&p, extra->used_at);
		p_i64(&p, extra->purge_at);
		p_i64(&p, inv->uses);
		p_i64(&p, inv->max_uses);
		p_text(&p, inv->last_used_by);
		rc = xc(be, S_INSERT, &p, NULL, "store an invite");
	}
	inv__buf_free(&rb);
	inv__buf_free(&gb);
	return rc;
}

/* Write the changed state of inv, which had old_uses/old_flags. */
static int
update_invite(struct inv__backend *be, const struct invites_invite *inv,
              const struct inv__invite_extra *extra, uint32_t old_uses,
              unsigned old_flags)
{
	struct prm p;
	long n;
	int rc;

	p_init(&p);
	p_bytes(&p, inv->hash, INVITES_HASH_LEN);
	p_i64(&p, inv->flags);
	p_i64(&p, inv->revoked);
	p_i64(&p, extra->used_at);
	p_i64(&p, extra->purge_at);
	p_i64(&p, inv->uses);
	p_text(&p, inv->last_used_by);
	p_i64(&p, old_uses);
	p_i64(&p, old_flags);
	rc = xc(be, S_UPDATE, &p, &n, "update an invite");
	if (rc == 0 && n != 1)
		rc = R_RETRY; /* changed under us: read it again */
	return rc;
}

static int
audit_append(struct inv__backend *be, const struct invites_audit *a)
{
	struct prm p;

	p_init(&p);
	p_i64(&p, a->time);
	p_i64(&p, a->event);
	p_text(&p, a->id);
	p_i64(&p, a->kind);
	p_text(&p, a->domain);
	p_text(&p, a->actor);
	p_text(&p, a->subject);
	return xc(be, S_AUDIT, &p, NULL, "audit");
}

/* Read the invite a hash names (locked when lock), or ENOTFOUND.  With
 * name_user, the name's advisory lock is taken by the same statement. */
static int
get_by_hash(struct inv__backend *be, const unsigned char *hash, int lock,
            const char *name_domain, const char *name_user,
            struct invites_invite **inv_r, struct inv__invite_extra *extra)
{
	PGresult *r;
	struct prm p;
	int rc;

	*inv_r = NULL;
	p_init(&p);
	p_bytes(&p, hash, INVITES_HASH_LEN);
	if (name_user != NULL) {
		p_i64(&p, LOCK_NAME);
		p_i64(&p, (int32_t)fnv32(name_domain, name_user));
	}
	rc = xq(be, name_user ? S_GET_LOCK_NAME : lock ? S_GET_LOCK : S_GET, &p,
	        &r, "read an invite");
	if (rc != 0)
		return rc;
	rc = PQntuples(r) == 0 ? INVITES_ENOTFOUND
	                       : row_invite(be, r, 0, inv_r, extra);
	PQclear(r);
	return rc;
}

/* Read the invite ref names: by hash, or by a unique id prefix. */
static int
find_invite(struct inv__backend *be, const struct inv__ref *ref, int lock,
            struct invites_invite **inv_r, struct inv__invite_extra *extra)
{
	unsigned char h[2][INVITES_HASH_LEN];
	PGresult *r;
	struct prm p;
	int rc, n, i, matches = 0;

	*inv_r = NULL;
	if (ref->by_hash)
		return get_by_hash(be, ref->hash, lock, NULL, NULL, inv_r, extra);
	p_init(&p);
	p_bytes(&p, ref->hash, (ref->nibbles + 1) / 2);
	rc = xq(be, S_FIND_PREFIX, &p, &r, "find an invite");
	if (rc != 0)
		return rc;
	n = PQntuples(r);
	for (i = 0; i < n && i < 2; i++) {
		if (bytea_get(r, i, 0, h[i], INVITES_HASH_LEN) != INVITES_HASH_LEN) {
			PQclear(r);
			return INVITES_ECORRUPT;
		}
		if (inv__ref_match(ref, h[i]))
			matches++;
	}
	PQclear(r);
	if (matches == 0)
		return INVITES_ENOTFOUND;
	if (matches > 1)
		return INVITES_EAMBIG;
	rc = get_by_hash(be, h[0], lock, NULL, NULL, inv_r, extra);
	return rc == INVITES_ENOTFOUND && lock ? R_RETRY : rc;
}

/* The holder of domain/username and whether it is usable at now. */
static int
res_read(struct inv__backend *be, const char *domain, const char *username,
         int lock, int64_t now, int *found, unsigned char holder[32],
         int *usable)
{
	PGresult *r;
	struct prm p;
	int rc;

	*found = 0;
	*usable = 0;
	p_init(&p);
	p_text(&p, domain);
	p_text(&p, username);
	rc = xq(be, lock ? S_RES_GET_LOCK : S_RES_GET, &p, &r, "reservation");
	if (rc != 0)
		return rc;
	if (PQntuples(r) == 1 &&
	    bytea_get(r, 0, 0, holder, INVITES_HASH_LEN) == INVITES_HASH_LEN) {
		*found = 1;
		/* (a holder that is gone reserves nothing) */
		if (!PQgetisnull(r, 0, 1))
			*usable = inv__usable((unsigned)i64_get(r, 0, 1),
			                      (uint32_t)i64_get(r, 0, 2),
			                      (uint32_t)i64_get(r, 0, 3),
			                      i64_get(r, 0, 4), now);
	}
	PQclear(r);
	return 0;
}

/* 1 in *blocked when the name is held by a usable invite other than mine. */
static int
res_blocked(struct inv__backend *be, const char *domain, const char *username,
            const unsigned char *mine, int64_t now, int lock, int *blocked)
{
	unsigned char holder[INVITES_HASH_LEN];
	int found, usable, rc;

	*blocked = 0;
	rc = res_read(be, domain, username, lock, now, &found, holder, &usable);
	if (rc != 0 || !found)
		return rc;
	if (mine != NULL && memcmp(holder, mine, INVITES_HASH_LEN) == 0)
		return 0;
	*blocked = usable;
	return 0;
}

static int
res_put(struct inv__backend *be, const char *domain, const char *username,
        const unsigned char hash[INVITES_HASH_LEN])
{
	struct prm p;

	p_init(&p);
	p_text(&p, domain);
	p_text(&p, username);
	p_bytes(&p, hash, INVITES_HASH_LEN);
	return xc(be, S_RES_PUT, &p, NULL, "reserve a name");
}

/* Drop the reservation of inv's name if inv holds it. */
static int
res_release(struct inv__backend *be, const struct invites_invite *inv)
{
	struct prm p;

	if (!inv__reserves_name(inv))
		return 0;
	p_init(&p);
	p_text(&p, inv->domain);
	p_text(&p, inv->username);
	p_bytes(&p, inv->hash, INVITES_HASH_LEN);
	return xc(be, S_RES_DEL, &p, NULL, "release a name");
}

/* Take a name for inv (create, import): ERESERVED when a usable invite
 * holds it; serialised with consumers of the name by its lock. */
static int
res_take(struct inv__backend *be, const struct invites_invite *inv,
         int64_t now)
{
	int blocked, rc;

	rc = adv_lock(be, LOCK_NAME, inv->domain, inv->username);
	if (rc == 0)
		rc = res_blocked(be, inv->domain, inv->username, NULL, now, 1,
		                 &blocked);
	if (rc == 0 && blocked)
		rc = INVITES_ERESERVED;
	if (rc == 0)
		rc = res_put(be, inv->domain, inv->username, inv->hash);
	return rc;
}

static int
count_inviter(struct inv__backend *be, const char *inviter, int64_t now,
              size_t *count)
{
	PGresult *r;
	struct prm p;
	int i, n, rc;

	*count = 0;
	p_init(&p);
	p_text(&p, inviter);
	rc = xq(be, S_COUNT_INVITER, &p, &r, "count");
	if (rc != 0)
		return rc;
	n = PQntuples(r);
	for (i = 0; i < n; i++)
		if (inv__usable((unsigned)i64_get(r, i, 0), (uint32_t)i64_get(r, i, 1),
		                (uint32_t)i64_get(r, i, 2), i64_get(r, i, 3), now))
			(*count)++;
	PQclear(r);
	return 0;
}

static int
put_pending(struct inv__backend *be, const struct invites_pending *pd,
            const unsigned char hash[INVITES_HASH_LEN])
{
	struct inv__buf rb, gb;
	const char *roles, *groups;
	struct prm p;
	int rc;

	inv__buf_init(&rb);
	inv__buf_init(&gb);
	rc = join_strv(&rb, pd->roles, pd->n_roles, &roles);
	if (rc == 0)
		rc = join_strv(&gb, pd->groups, pd->n_groups, &groups);
	if (rc == 0) {
		p_init(&p);
		p_text(&p, pd->jid);
		p_bytes(&p, hash, INVITES_HASH_LEN);
		p_i64(&p, pd->created);
		p_text(&p, pd->pair_with);
		p_text(&p, roles);
		p_text(&p, groups);
		rc = xc(be, S_PEND_PUT, &p, NULL, "store pending work");
	}
	inv__buf_free(&rb);
	inv__buf_free(&gb);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Schema, open, close                                                 */
/* ------------------------------------------------------------------ */

/* The version of the schema in place: 0 when there is none, or an error
 * (ECORRUPT: tables of ours without our marker). */
static int
schema_read(struct inv__backend *be, unsigned *version)
{
	PGresult *r;
	struct inv__buf b;
	size_t i;
	int rc;

	*version = 0;
	rc = xs(be, "SELECT to_regclass('invites_meta') IS NOT NULL, "
	            "current_schema() IS NOT NULL", &r, "schema");
	if (rc != 0)
		return rc;
	if (!bool_get(r, 0, 0)) {
		PQclear(r);
		/* none of our names may be taken by something else */
		inv__buf_init(&b);
		inv__buf_puts(&b, "SELECT ");
		for (i = 0; i < sizeof(our_tables) / sizeof(our_tables[0]); i++)
			inv__buf_printf(&b, "%sto_regclass('%s') IS NOT NULL",
			                i ? " OR " : "", our_tables[i]);
		inv__buf_append(&b, "", 1);
		if (b.oom) {
			inv__buf_free(&b);
			return INVITES_ENOMEM;
		}
		rc = xs(be, (const char *)b.p, &r, "schema");
		inv__buf_free(&b);
		if (rc != 0)
			return rc;
		if (bool_get(r, 0, 0)) {
			inv__log(INVITES_LOG_ERR,
			         "invite store %s: the schema holds tables named like "
			         "ours (invites...) but no invites_meta: not an invite "
			         "store; refusing to use it", be->name);
			rc = INVITES_ECORRUPT;
		}
		PQclear(r);
		return rc;
	}
	PQclear(r);
	rc = xs(be, "SELECT magic, version FROM invites_meta WHERE id = 1", &r,
	        "schema");
	if (rc != 0)
		return rc;
	if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), PG_MAGIC) != 0) {
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: invites_meta is not an invite store's; "
		         "refusing to use it", be->name);
		PQclear(r);
		return INVITES_ECORRUPT;
	}
	*version = (unsigned)strtoul(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	if (*version < 1) {
		inv__log(INVITES_LOG_ERR, "invite store %s: bad schema version",
		         be->name);
		return INVITES_ECORRUPT;
	}
	return 0;
}

/* Create the schema (or migrate an older one) in one transaction,
 * serialised with other processes doing the same. */
static int
schema_setup(struct inv__backend *be, int create, int migrate,
             unsigned *found_r)
{
	char sql[160];
	struct prm p;
	size_t i;
	unsigned v = 0;
	int rc;

	*found_r = 0;
	rc = xs(be, "BEGIN", NULL, "schema");
	if (rc != 0)
		return rc;
	p_init(&p);
	p_i64(&p, LOCK_SCHEMA);
	p_i64(&p, 0);
	rc = xc(be, S_ADV_LOCK, &p, NULL, "schema lock");
	if (rc == 0 && be->schema != NULL && create) {
		snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS \"%s\"; "
		         "SET LOCAL search_path TO \"%s\"", be->schema, be->schema);
		rc = xs(be, sql, NULL, "create schema");
	}
	if (rc == 0)
		rc = schema_read(be, &v);
	if (rc == 0 && v == 0 && !create) {
		inv__log(INVITES_LOG_ERR, "invite store %s: no invite store in this "
		         "database yet (invitectl db init creates it)", be->name);
		rc = INVITES_ENOSTORE;
	}
	if (rc == 0 && v == 0) {
		for (i = 0; rc == 0 && i < sizeof(schema_v1) / sizeof(*schema_v1);
		     i++)
			rc = xs(be, schema_v1[i], NULL, "create tables");
		if (rc == 0) {
			snprintf(sql, sizeof(sql), "INSERT INTO invites_meta (id, magic, "
			         "version, created) VALUES (1, '%s', %d, %lld)",
			         PG_MAGIC, PG_SCHEMA_VERSION, (long long)inv__now());
			rc = xs(be, sql, NULL, "create tables");
		}
		if (rc == 0)
			inv__log(INVITES_LOG_NOTICE, "invite store %s: schema version "
			         "%d created", be->name, PG_SCHEMA_VERSION);
	} else if (rc == 0 && v > PG_SCHEMA_VERSION) {
		inv__log(INVITES_LOG_ERR, "invite store %s: schema version %u is "
		         "newer than this program's (%d); upgrade it", be->name, v,
		         PG_SCHEMA_VERSION);
		rc = INVITES_EVERSION;
	} else if (rc == 0 && v < PG_SCHEMA_VERSION) {
		/* (version 1 is the first: the steps from older ones go here) */
		if (!migrate) {
			inv__log(INVITES_LOG_ERR, "invite store %s: schema version %u "
			         "is older than this program's (%d): run invitectl db "
			         "migrate", be->name, v, PG_SCHEMA_VERSION);
			rc = INVITES_ESTORE;
		}
	}
	if (rc == 0)
		rc = xs(be, "COMMIT", NULL, "schema");
	else if (be->conn != NULL && !be->broken)
		(void)xs(be, "ROLLBACK", NULL, "schema");
	if (rc == 0)
		*found_r = v;
	return rc;
}

static void
be_free(struct inv__backend *be)
{
	if (be == NULL || be->placeholder)
		return;
	conn_drop(be);
	free(be->uri);
	free(be->schema);
	free(be->name);
	free(be->xid);
	free(be);
}

static int
be_connect(const char *spec, unsigned flags, struct inv__backend **be_r)
{
	struct inv__backend *be;
	int rc;

	*be_r = NULL;
	be = inv__calloc(1, sizeof(*be));
	if (be == NULL)
		return INVITES_ENOMEM;
	be->flags = flags;
	be->name = inv__store_display(spec);
	rc = be->name ? split_uri(be, spec) : INVITES_ENOMEM;
	if (rc == 0)
		rc = conn_open(be);
	if (rc == R_CONN)
		rc = INVITES_EBUSY;
	if (rc != 0) {
		be_free(be);
		return rc;
	}
	*be_r = be;
	return 0;
}

static int
pg_open(const struct inv__store_params *prm, struct inv__backend **be_r)
{
	struct inv__backend *be;
	unsigned v;
	int rc;

	rc = be_connect(prm->path, prm->flags, &be);
	if (rc != 0)
		return rc;
	rc = schema_read(be, &v);
	if (rc == 0 && v != PG_SCHEMA_VERSION) {
		if (prm->flags & INVITES_OPEN_READONLY) {
			if (v == 0) {
				inv__log(INVITES_LOG_ERR, "invite store %s: no invite "
				         "store in this database", be->name);
				rc = INVITES_ENOSTORE;
			} else {
				rc = schema_setup(be, 0, 0, &v);
			}
		} else {
			rc = schema_setup(be, (prm->flags & INVITES_OPEN_CREATE) != 0,
			                  0, &v);
		}
	}
	if (rc == R_CONN || rc == R_RETRY)
		rc = INVITES_EBUSY;
	if (rc != 0) {
		be_free(be);
		return rc;
	}
	*be_r = be;
	return 0;
}

int
inv__pg_schema(const char *uri, int migrate, unsigned *found_r,
               unsigned *now_r)
{
	struct inv__backend *be;
	int rc;

	*found_r = 0;
	*now_r = 0;
	rc = be_connect(uri, 0, &be);
	if (rc != 0)
		return rc;
	rc = schema_setup(be, !migrate, migrate, found_r);
	if (rc == R_CONN || rc == R_RETRY)
		rc = INVITES_EBUSY;
	if (rc == 0)
		*now_r = PG_SCHEMA_VERSION;
	be_free(be);
	return rc;
}

static void
pg_close(struct inv__backend *be)
{
	be_free(be);
}

/* ------------------------------------------------------------------ */
/* Create, get                                                         */
/* ------------------------------------------------------------------ */

static int
create_fn(struct inv__backend *be, void *arg)
{
	const struct inv__create_req *req = arg;
	const struct invites_invite *inv = req->inv;
	struct invites_audit a;
	size_t count;
	int rc;

	if (req->limit > 0 && inv->inviter != NULL) {
		rc = adv_lock(be, LOCK_INVITER, inv->inviter, "");
		if (rc == 0)
			rc = count_inviter(be, inv->inviter, req->now, &count);
		if (rc != 0)
			return rc;
		if (count >= req->limit)
			return INVITES_ELIMIT;
	}
	if (inv__reserves_name(inv)) {
		rc = res_take(be, inv, req->now);
		if (rc != 0)
			return rc;
	}
	rc = put_invite(be, inv, &req->extra);
	if (rc != 0)
		return rc;
	inv__audit_fill(&a, INVITES_EV_CREATED, inv, inv->created_by, NULL,
	                req->now);
	return audit_append(be, &a);
}

static int
pg_create(struct inv__backend *be, const struct inv__create_req *req)
{
	int rc = check_writable(be);

	if (rc != 0)
		return rc;
	return run(be, TX_WRITE, create_fn, (void *)(uintptr_t)req, "create");
}

struct get_arg {
	const struct inv__ref *ref;
	struct invites_invite *inv;
};

static int
get_fn(struct inv__backend *be, void *arg)
{
	struct get_arg *g = arg;

	invites_invite_free(&g->inv);
	return find_invite(be, g->ref, 0, &g->inv, NULL);
}

static int
pg_get(struct inv__backend *be, const struct inv__ref *ref,
       struct invites_invite **inv_r)
{
	struct get_arg g = { ref, NULL };
	int rc;

	rc = run(be, ref->by_hash ? TX_NONE : TX_READ, get_fn, &g, "get");
	if (rc != 0)
		invites_invite_free(&g.inv);
	*inv_r = g.inv;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Consume, unconsume                                                  */
/* ------------------------------------------------------------------ */

struct consume_arg {
	const struct inv__consume_req *req;
	struct invites_invite *inv;
};

static int
consume_fn(struct inv__backend *be, void *arg)
{
	struct consume_arg *ca = arg;
	const struct inv__consume_req *req = ca->req;
	struct inv__consume_plan plan;
	struct inv__invite_extra extra;
	struct invites_invite *inv = NULL;
	uint32_t old_uses;
	unsigned old_flags;
	int check_res, blocked, rc;

	invites_invite_free(&ca->inv);
	/* the row lock queues racing consumers; the name's lock orders this
	 * use after any create that reserves the name, and before */
	rc = get_by_hash(be, req->hash, 1, req->domain, req->username, &inv,
	                 &extra);
	if (rc != 0)
		return rc;
	rc = inv__consume_check(inv, req, &check_res);
	if (rc == 0 && check_res) {
		rc = res_blocked(be, req->domain, req->username, inv->hash, req->now,
		                 0, &blocked);
		if (rc == 0 && blocked)
			rc = INVITES_ERESERVED;
	}
	if (rc != 0) {
		invites_invite_free(&inv);
		return rc;
	}
	old_uses = inv->uses;
	old_flags = inv->flags;
	rc = inv__consume_apply(inv, &extra, req, &plan);
	if (rc == 0)
		rc = update_invite(be, inv, &extra, old_uses, old_flags);
	if (rc == 0 && plan.release_reservation)
		rc = res_release(be, inv);
	if (rc == 0 && plan.pending != NULL)
		rc = put_pending(be, plan.pending, inv->hash);
	if (rc == 0)
		rc = audit_append(be, &plan.audit);
	inv__consume_plan_free(&plan);
	if (rc != 0) {
		invites_invite_free(&inv);
		return rc;
	}
	ca->inv = inv;
	return 0;
}

static int
pg_consume(struct inv__backend *be, const struct inv__consume_req *req,
           struct invites_invite **inv_r)
{
	struct consume_arg ca = { req, NULL };
	int rc = check_writable(be);

	if (rc == 0)
		rc = run(be, TX_WRITE, consume_fn, &ca, "consume");
	if (rc == 0 && inv_r != NULL)
		*inv_r = ca.inv;
	else
		invites_invite_free(&ca.inv);
	return rc;
}

struct unconsume_arg {
	const unsigned char *hash;
	const char *invitee;
	int64_t now;
	int64_t grace;
};

static int
unconsume_fn(struct inv__backend *be, void *arg)
{
	struct unconsume_arg *ua = arg;
	unsigned char phash[INVITES_HASH_LEN], holder[INVITES_HASH_LEN];
	struct inv__unconsume_plan plan;
	struct invites_pending *pd = NULL;
	struct inv__invite_extra extra;
	struct invites_invite *inv = NULL;
	uint32_t old_uses;
	unsigned old_flags;
	PGresult *r;
	struct prm p;
	int matches = 0, found, usable, rc;

	memset(&plan, 0, sizeof(plan));
	rc = get_by_hash(be, ua->hash, 1, NULL, NULL, &inv, &extra);
	if (rc != 0)
		return rc;
	p_init(&p);
	p_text(&p, ua->invitee);
	rc = xq(be, S_PEND_GET_LOCK, &p, &r, "pending work");
	if (rc == 0) {
		if (PQntuples(r) == 1 && row_pending(r, 0, &pd, phash) == 0 &&
		    memcmp(phash, ua->hash, INVITES_HASH_LEN) == 0)
			matches = 1;
		invites_pending_free(&pd);
		PQclear(r);
	}
	old_uses = inv->uses;
	old_flags = inv->flags;
	if (rc == 0)
		inv__unconsume_apply(inv, &extra, ua->invitee, matches, ua->now,
		                     ua->grace, &plan);
	if (rc == 0 && plan.undo) {
		rc = update_invite(be, inv, &extra, old_uses, old_flags);
		if (rc == 0 && matches)
			rc = xc(be, S_PEND_DEL, &p, NULL, "pending work");
		if (rc == 0 && plan.restore_reservation) {
			rc = res_read(be, inv->domain, inv->username, 1, ua->now,
			              &found, holder, &usable);
			if (rc == 0 && found &&
			    memcmp(holder, inv->hash, INVITES_HASH_LEN) == 0)
				usable = 0;
			if (rc == 0 && !usable)
				rc = res_put(be, inv->domain, inv->username, inv->hash);
		}
		if (rc == 0)
			rc = audit_append(be, &plan.audit);
	}
	invites_invite_free(&inv);
	return rc;
}

static int
pg_unconsume(struct inv__backend *be,
             const unsigned char hash[INVITES_HASH_LEN], const char *invitee,
             int64_t now, int64_t purge_grace)
{
	struct unconsume_arg ua = { hash, invitee, now, purge_grace };
	int rc = check_writable(be);

	if (rc != 0)
		return rc;
	return run(be, TX_WRITE, unconsume_fn, &ua, "unconsume");
}

/* ------------------------------------------------------------------ */
/* Revoke, reissue                                                     */
/* ------------------------------------------------------------------ */

struct revoke_arg {
	const struct inv__ref *ref;
	const char *actor;
	int64_t now;
	int64_t grace;
	struct invites_invite *inv;
};

static int
revoke_fn(struct inv__backend *be, void *arg)
{
	struct revoke_arg *ra = arg;
	struct inv__invite_extra extra;
	struct invites_invite *inv = NULL;
	struct invites_audit a;
	uint32_t old_uses;
	unsigned old_flags;
	int rc;

	invites_invite_free(&ra->inv);
	rc = find_invite(be, ra->ref, 1, &inv, &extra);
	if (rc != 0)
		return rc;
	if (inv->flags & INVITES_F_REVOKED) {
		invites_invite_free(&inv);
		return INVITES_EREVOKED;
	}
	old_uses = inv->uses;
	old_flags = inv->flags;
	inv__revoke_apply(inv, &extra, ra->now, ra->grace);
	rc = update_invite(be, inv, &extra, old_uses, old_flags);
	if (rc == 0)
		rc = res_release(be, inv);
	if (rc == 0) {
		inv__audit_fill(&a, INVITES_EV_REVOKED, inv, ra->actor, NULL,
		                ra->now);
		rc = audit_append(be, &a);
	}
	if (rc != 0) {
		invites_invite_free(&inv);
		return rc;
	}
	ra->inv = inv;
	return 0;
}

static int
pg_revoke(struct inv__backend *be, const struct inv__ref *ref,
          const char *actor, int64_t now, int64_t purge_grace,
          struct invites_invite **inv_r)
{
	struct revoke_arg ra = { ref, actor, now, purge_grace, NULL };
	int rc = check_writable(be);

	if (rc == 0)
		rc = run(be, TX_WRITE, revoke_fn, &ra, "revoke");
	if (rc == 0 && inv_r != NULL)
		*inv_r = ra.inv;
	else
		invites_invite_free(&ra.inv);
	return rc;
}

struct reissue_arg {
	const struct inv__reissue_req *req;
	struct invites_invite *inv;
};

static int
reissue_fn(struct inv__backend *be, void *arg)
{
	struct reissue_arg *ra = arg;
	const struct inv__reissue_req *req = ra->req;
	struct inv__invite_extra old_extra, new_extra;
	struct invites_invite *old = NULL, *n = NULL;
	struct invites_audit a;
	uint32_t old_uses;
	unsigned old_flags;
	int rc;

	invites_invite_free(&ra->inv);
	rc = find_invite(be, &req->old, 1, &old, &old_extra);
	if (rc != 0)
		return rc;
	rc = inv__reissue_build(old, req, &n, &new_extra);
	if (rc == 0) {
		old_uses = old->uses;
		old_flags = old->flags;
		inv__revoke_apply(old, &old_extra, req->now, req->purge_grace);
		rc = update_invite(be, old, &old_extra, old_uses, old_flags);
	}
	if (rc == 0)
		rc = put_invite(be, n, &new_extra);
	if (rc == 0 && inv__reserves_name(n))
		rc = res_put(be, n->domain, n->username, n->hash);
	if (rc == 0) {
		inv__audit_fill(&a, INVITES_EV_REISSUED, old, req->actor, n->id,
		                req->now);
		rc = audit_append(be, &a);
	}
	if (rc == 0) {
		inv__audit_fill(&a, INVITES_EV_CREATED, n, req->actor, old->id,
		                req->now);
		rc = audit_append(be, &a);
	}
	invites_invite_free(&old);
	if (rc != 0) {
		invites_invite_free(&n);
		return rc;
	}
	ra->inv = n;
	return 0;
}

static int
pg_reissue(struct inv__backend *be, const struct inv__reissue_req *req,
           struct invites_invite **inv_r)
{
	struct reissue_arg ra = { req, NULL };
	int rc = check_writable(be);

	if (rc == 0)
		rc = run(be, TX_WRITE, reissue_fn, &ra, "reissue");
	if (rc == 0)
		*inv_r = ra.inv;
	else
		invites_invite_free(&ra.inv);
	return rc;
}

/* ------------------------------------------------------------------ */
/* List, stats, audit: batches by key, callbacks outside transactions  */
/* ------------------------------------------------------------------ */

struct list_arg {
	const struct invites_filter *f;
	unsigned char after[INVITES_HASH_LEN];
	size_t after_len;
	struct invites_invite *items[SCAN_BATCH];
	size_t n;
	int rows;
};

static void
list_reset(struct list_arg *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		invites_invite_free(&l->items[i]);
	l->n = 0;
}

static int
list_fn(struct inv__backend *be, void *arg)
{
	struct list_arg *l = arg;
	struct inv__invite_peek pk;
	struct invites_invite *inv;
	struct inv__invite_extra ex;
	PGresult *r;
	struct prm p;
	int i, rc;

	list_reset(l);
	p_init(&p);
	p_bytes(&p, l->after, l->after_len);
	p_text(&p, l->f->domain);
	p_i64(&p, l->f->kind);
	if (l->f->inviter != NULL)
		p_text(&p, l->f->inviter);
	rc = xq(be, l->f->inviter ? S_LIST_INVITER : S_LIST, &p, &r, "list");
	if (rc != 0)
		return rc;
	l->rows = PQntuples(r);
	for (i = 0; i < l->rows; i++) {
		if (bytea_get(r, i, 0, l->after, INVITES_HASH_LEN) ==
		    INVITES_HASH_LEN)
			l->after_len = INVITES_HASH_LEN;
		rc = row_invite(be, r, i, &inv, &ex);
		if (rc == INVITES_ECORRUPT)
			continue; /* damaged records are reported by show */
		if (rc != 0)
			break;
		memset(&pk, 0, sizeof(pk));
		pk.kind = inv->kind;
		pk.flags = inv->flags;
		pk.expires = inv->expires;
		pk.uses = inv->uses;
		pk.max_uses = inv->max_uses;
		pk.domain = inv->domain;
		pk.domain_len = strlen(inv->domain);
		pk.inviter = inv->inviter;
		pk.inviter_len = inv->inviter ? strlen(inv->inviter) : 0;
		if (inv__filter_match(&pk, l->f))
			l->items[l->n++] = inv;
		else
			invites_invite_free(&inv);
	}
	PQclear(r);
	if (rc != 0)
		list_reset(l);
	return rc;
}

static int
pg_list(struct inv__backend *be, const struct invites_filter *f,
        invites_list_fn *fn, void *ctx)
{
	struct list_arg *l;
	size_t i;
	int rc = 0, stop = 0;

	l = inv__calloc(1, sizeof(*l));
	if (l == NULL)
		return INVITES_ENOMEM;
	l->f = f;
	do {
		rc = run(be, TX_NONE, list_fn, l, "list");
		for (i = 0; rc == 0 && stop == 0 && i < l->n; i++)
			stop = fn(ctx, l->items[i]);
		list_reset(l);
	} while (rc == 0 && stop == 0 && l->rows == SCAN_BATCH);
	free(l);
	return rc != 0 ? rc : stop;
}

struct stats_arg {
	int64_t now;
	struct invites_stats *st;
};

static int
stats_fn(struct inv__backend *be, void *arg)
{
	struct stats_arg *sa = arg;
	struct inv__invite_peek pk;
	PGresult *r;
	struct prm p;
	int64_t count, j;
	int i, n, rc;

	memset(sa->st, 0, sizeof(*sa->st));
	p_init(&p);
	p_i64(&p, sa->now);
	rc = xq(be, S_STATS_GROUPS, &p, &r, "stats");
	if (rc != 0)
		return rc;
	/* the rows of a group share kind and state: count them by the
	 * shared rule, with the group's earliest expiry */
	n = PQntuples(r);
	for (i = 0; i < n; i++) {
		memset(&pk, 0, sizeof(pk));
		pk.kind = (int)i64_get(r, i, 0);
		pk.flags = bool_get(r, i, 1) ? INVITES_F_REVOKED : 0;
		pk.max_uses = 1;
		pk.uses = bool_get(r, i, 2) ? 1 : 0;
		pk.expires = i64_get(r, i, 5);
		count = i64_get(r, i, 4);
		for (j = 0; j < count; j++)
			inv__stats_count(sa->st, &pk, sa->now);
	}
	PQclear(r);
	rc = xq(be, S_STATS_OTHER, NULL, &r, "stats");
	if (rc != 0)
		return rc;
	sa->st->pending_actions = (size_t)i64_get(r, 0, 0);
	sa->st->audit_records = (size_t)i64_get(r, 0, 1);
	sa->st->data_bytes = (uint64_t)i64_get(r, 0, 2);
	sa->st->log_bytes = 0; /* the server's WAL is not the store's */
	PQclear(r);
	return 0;
}

static int
pg_stats(struct inv__backend *be, int64_t now, struct invites_stats *st)
{
	struct stats_arg sa = { now, st };

	return run(be, TX_READ, stats_fn, &sa, "stats");
}

struct audit_item {
	struct invites_audit rec;
	char *domain, *actor, *subject;
};

struct audit_arg {
	uint64_t from;
	struct audit_item items[SCAN_BATCH];
	size_t n;
};

static void
audit_reset(struct audit_arg *aa)
{
	size_t i;

	for (i = 0; i < aa->n; i++) {
		free(aa->items[i].domain);
		free(aa->items[i].actor);
		free(aa->items[i].subject);
	}
	aa->n = 0;
}

/* An audit record from AUDIT_COLS. */
static int
row_audit(const PGresult *r, int row, struct audit_item *it)
{
	const char *id = PQgetvalue(r, row, 3);
	int rc;

	memset(it, 0, sizeof(*it));
	it->rec.seq = (uint64_t)i64_get(r, row, 0);
	it->rec.time = i64_get(r, row, 1);
	it->rec.event = (enum invites_event)i64_get(r, row, 2);
	snprintf(it->rec.id, sizeof(it->rec.id), "%s", id);
	it->rec.kind = (enum invites_kind)i64_get(r, row, 4);
	rc = str_get(r, row, 5, &it->domain);
	if (rc == 0)
		rc = str_get(r, row, 6, &it->actor);
	if (rc == 0)
		rc = str_get(r, row, 7, &it->subject);
	it->rec.domain = it->domain;
	it->rec.actor = it->actor;
	it->rec.subject = it->subject;
	return rc;
}

static int
audit_fn(struct inv__backend *be, void *arg)
{
	struct audit_arg *aa = arg;
	PGresult *r;
	struct prm p;
	int i, n, rc;

	audit_reset(aa);
	p_init(&p);
	p_i64(&p, (int64_t)aa->from);
	rc = xq(be, S_AUDIT_WALK, &p, &r, "audit");
	if (rc != 0)
		return rc;
	n = PQntuples(r);
	for (i = 0; rc == 0 && i < n; i++) {
		rc = row_audit(r, i, &aa->items[aa->n]);
		aa->n++;
	}
	PQclear(r);
	if (rc != 0)
		audit_reset(aa);
	return rc;
}

static int
pg_audit_walk(struct inv__backend *be, uint64_t from, invites_audit_fn *fn,
              void *ctx)
{
	struct audit_arg *aa;
	size_t i, got;
	int rc = 0, stop = 0;

	aa = inv__calloc(1, sizeof(*aa));
	if (aa == NULL)
		return INVITES_ENOMEM;
	aa->from = from > 1 ? from : 1;
	if (aa->from > INT64_MAX)
		aa->from = INT64_MAX;
	do {
		rc = run(be, TX_NONE, audit_fn, aa, "audit");
		got = aa->n;
		for (i = 0; rc == 0 && stop == 0 && i < aa->n; i++)
			stop = fn(ctx, &aa->items[i].rec);
		if (got > 0)
			aa->from = aa->items[got - 1].rec.seq + 1;
		audit_reset(aa);
	} while (rc == 0 && stop == 0 && got == SCAN_BATCH);
	free(aa);
	return rc != 0 ? rc : stop;
}

/* ------------------------------------------------------------------ */
/* Purge                                                               */
/* ------------------------------------------------------------------ */

struct purge_arg {
	int64_t now;
	int64_t before;
	size_t n;
};

static int
purge_fn(struct inv__backend *be, void *arg)
{
	struct purge_arg *pa = arg;
	struct invites_invite stub;
	struct invites_audit a;
	PGresult *r;
	struct prm p;
	int i, n, rc;
	char *domain;

	pa->n = 0;
	p_init(&p);
	p_i64(&p, pa->now);
	rc = xq(be, S_PURGE, &p, &r, "purge");
	if (rc != 0)
		return rc;
	n = PQntuples(r);
	for (i = 0; rc == 0 && i < n; i++) {
		memset(&stub, 0, sizeof(stub));
		if (bytea_get(r, i, 0, stub.hash, INVITES_HASH_LEN) !=
		    INVITES_HASH_LEN) {
			rc = INVITES_ECORRUPT;
			break;
		}
		invites_hash_id(stub.hash, stub.id);
		stub.kind = (enum invites_kind)i64_get(r, i, 1);
		domain = PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2);
		stub.domain = domain;
		inv__audit_fill(&a, INVITES_EV_PURGED, &stub, NULL, NULL, pa->now);
		rc = audit_append(be, &a);
	}
	PQclear(r);
	if (rc == 0)
		pa->n = (size_t)n;
	return rc;
}

static int
trim_fn(struct inv__backend *be, void *arg)
{
	struct purge_arg *pa = arg;
	struct prm p;
	long n;
	int rc;

	p_init(&p);
	p_i64(&p, pa->before);
	rc = xc(be, S_TRIM, &p, &n, "purge audit");
	pa->n = rc == 0 ? (size_t)n : 0;
	return rc;
}

static int
pg_purge(struct inv__backend *be, int64_t now, int64_t audit_before,
         size_t *purged_r)
{
	struct purge_arg pa;
	int rc = check_writable(be);

	*purged_r = 0;
	memset(&pa, 0, sizeof(pa));
	pa.now = now;
	pa.before = audit_before;
	while (rc == 0) {
		rc = run(be, TX_WRITE, purge_fn, &pa, "purge");
		if (rc != 0 || pa.n == 0)
			break;
		*purged_r += pa.n;
	}
	while (rc == 0 && audit_before != 0) {
		rc = run(be, TX_WRITE, trim_fn, &pa, "purge audit");
		if (pa.n == 0)
			break;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Counts, reservations, pending work, roles                           */
/* ------------------------------------------------------------------ */

struct inviter_arg {
	const char *inviter;
	int64_t now;
	size_t count;
};

static int
inviter_fn(struct inv__backend *be, void *arg)
{
	struct inviter_arg *ia = arg;

	return count_inviter(be, ia->inviter, ia->now, &ia->count);
}

static int
pg_count_by_inviter(struct inv__backend *be, const char *inviter, int64_t now,
                    size_t *count_r)
{
	struct inviter_arg ia = { inviter, now, 0 };
	int rc;

	rc = run(be, TX_NONE, inviter_fn, &ia, "count");
	*count_r = rc == 0 ? ia.count : 0;
	return rc;
}

struct reserved_arg {
	const char *domain, *username;
	const unsigned char *except;
	int64_t now;
	int blocked;
};

static int
reserved_fn(struct inv__backend *be, void *arg)
{
	struct reserved_arg *ra = arg;

	return res_blocked(be, ra->domain, ra->username, ra->except, ra->now, 0,
	                   &ra->blocked);
}

static int
pg_reserved(struct inv__backend *be, const char *domain, const char *username,
            const unsigned char *except_hash, int64_t now)
{
	struct reserved_arg ra = { domain, username, except_hash, now, 0 };
	int rc;

	rc = run(be, TX_NONE, reserved_fn, &ra, "reserved");
	return rc != 0 ? rc : ra.blocked;
}

struct pending_arg {
	const char *jid;
	int take;
	struct invites_pending *p;
};

static int
pending_fn(struct inv__backend *be, void *arg)
{
	struct pending_arg *pa = arg;
	unsigned char h[INVITES_HASH_LEN];
	PGresult *r;
	struct prm p;
	int rc;

	invites_pending_free(&pa->p);
	p_init(&p);
	p_text(&p, pa->jid);
	rc = xq(be, pa->take ? S_PEND_TAKE : S_PEND_GET, &p, &r, "pending work");
	if (rc != 0)
		return rc;
	if (PQntuples(r) == 0)
		rc = INVITES_ENOTFOUND;
	else
		rc = row_pending(r, 0, &pa->p, h);
	PQclear(r);
	if (rc == INVITES_ECORRUPT)
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: pending work of %s: %s", be->name,
		         pa->jid, invites_strerror(rc));
	return rc;
}

static int
pg_pending(struct inv__backend *be, const char *jid, int take,
           struct invites_pending **p_r)
{
	struct pending_arg pa = { jid, take, NULL };
	int rc = take ? check_writable(be) : 0;

	/* take is one DELETE ... RETURNING: atomic on its own */
	if (rc == 0)
		rc = run(be, TX_NONE, pending_fn, &pa, "pending");
	if (rc == 0)
		*p_r = pa.p;
	else
		invites_pending_free(&pa.p);
	return rc;
}

struct roles_arg {
	const char *jid;
	const char *role;
	int add;
	char **roles;
	size_t n;
};

static int
roles_read(struct inv__backend *be, const char *jid, int lock,
           char ***roles_r, size_t *n_r, int *found)
{
	PGresult *r;
	struct prm p;
	int rc;

	*roles_r = NULL;
	*n_r = 0;
	*found = 0;
	p_init(&p);
	p_text(&p, jid);
	rc = xq(be, lock ? S_ROLES_GET_LOCK : S_ROLES_GET, &p, &r, "roles");
	if (rc != 0)
		return rc;
	if (PQntuples(r) == 1) {
		*found = 1;
		rc = strv_get(r, 0, 0, roles_r, n_r);
	}
	PQclear(r);
	if (rc == INVITES_ECORRUPT)
		inv__log(INVITES_LOG_ERR, "invite store %s: roles of %s: %s",
		         be->name, jid, invites_strerror(rc));
	return rc;
}

static int
roles_get_fn(struct inv__backend *be, void *arg)
{
	struct roles_arg *ra = arg;
	int found;

	invites_strv_free(ra->roles, ra->n);
	ra->roles = NULL;
	ra->n = 0;
	return roles_read(be, ra->jid, 0, &ra->roles, &ra->n, &found);
}

static int
pg_roles_get(struct inv__backend *be, const char *jid, char ***roles_r,
             size_t *n_r)
{
	struct roles_arg ra = { jid, NULL, 0, NULL, 0 };
	int rc;

	rc = run(be, TX_NONE, roles_get_fn, &ra, "roles");
	if (rc != 0) {
		invites_strv_free(ra.roles, ra.n);
		ra.roles = NULL;
		ra.n = 0;
	}
	*roles_r = ra.roles;
	*n_r = ra.n;
	return rc;
}

static int
roles_update_fn(struct inv__backend *be, void *arg)
{
	struct roles_arg *ra = arg;
	struct inv__buf b;
	char **roles;
	const char *joined;
	size_t n;
	struct prm p;
	int found, rc;

	rc = roles_read(be, ra->jid, 1, &roles, &n, &found);
	if (rc != 0)
		return rc;
	rc = inv__strv_edit(&roles, &n, ra->role, ra->add, INV__MAX_ROLES);
	if (rc <= 0) { /* nothing changes, or an error */
		invites_strv_free(roles, n);
		return rc;
	}
	p_init(&p);
	p_text(&p, ra->jid);
	if (n == 0) {
		rc = xc(be, S_ROLES_DEL, &p, NULL, "roles");
	} else {
		inv__buf_init(&b);
		rc = join_strv(&b, roles, n, &joined);
		if (rc == 0) {
			p_text(&p, joined);
			rc = xc(be, found ? S_ROLES_UPD : S_ROLES_INS, &p, NULL,
			        "roles");
			/* a concurrent first role: read it and try again */
			if (rc == INVITES_EEXIST)
				rc = R_RETRY;
		}
		inv__buf_free(&b);
	}
	invites_strv_free(roles, n);
	return rc;
}

static int
pg_roles_update(struct inv__backend *be, const char *jid, const char *role,
                int add)
{
	struct roles_arg ra = { jid, role, add, NULL, 0 };
	int rc = check_writable(be);

	if (rc != 0)
		return rc;
	return run(be, TX_WRITE, roles_update_fn, &ra, "roles");
}

/* ------------------------------------------------------------------ */
/* Maintenance                                                         */
/* ------------------------------------------------------------------ */

static int
pg_checkpoint(struct inv__backend *be, int force)
{
	(void)force; /* the server checkpoints; a commit is durable */
	return be->placeholder ? INVITES_ERECOVER : 0;
}

struct format_arg {
	uint32_t version;
};

static int
format_fn(struct inv__backend *be, void *arg)
{
	struct format_arg *fa = arg;
	struct prm p;

	p_init(&p);
	p_i64(&p, fa->version);
	return xc(be, S_SET_FORMAT, &p, NULL, "write the schema version");
}

static int
pg_set_format(struct inv__backend *be, uint32_t version)
{
	struct format_arg fa = { version };
	int rc = check_writable(be);

	if (rc != 0)
		return rc;
	return run(be, TX_NONE, format_fn, &fa, "set format");
}

/* ------------------------------------------------------------------ */
/* Auxiliary records (API keys)                                        */
/* ------------------------------------------------------------------ */

static int
aux_key_ok(const char *key)
{
	return key != NULL && strchr(key, ':') != NULL && strlen(key) < 256;
}

struct aux_arg {
	const char *key;
	const void *val;
	size_t len;
	int nooverwrite;
	int del;
	char *out;
	size_t outlen;
	/* walk */
	char after[256];
	char *keys[SCAN_BATCH];
	unsigned char *vals[SCAN_BATCH];
	size_t lens[SCAN_BATCH];
	size_t n;
};

static void
aux_reset(struct aux_arg *aa)
{
	size_t i;

	for (i = 0; i < aa->n; i++) {
		free(aa->keys[i]);
		inv__cleanse(aa->vals[i], aa->lens[i]);
		free(aa->vals[i]);
	}
	aa->n = 0;
}

static int
aux_get_fn(struct inv__backend *be, void *arg)
{
	struct aux_arg *aa = arg;
	unsigned char *v = NULL;
	PGresult *r;
	struct prm p;
	size_t len = 0;
	int rc;

	free(aa->out);
	aa->out = NULL;
	p_init(&p);
	p_text(&p, aa->key);
	rc = xq(be, S_AUX_GET, &p, &r, "aux read");
	if (rc != 0)
		return rc;
	if (PQntuples(r) == 0)
		rc = INVITES_ENOTFOUND;
	else
		rc = bytea_dup(r, 0, 0, &v, &len);
	PQclear(r);
	if (rc != 0)
		return rc;
	aa->out = inv__strndup((const char *)v, len);
	aa->outlen = len;
	inv__cleanse(v, len);
	free(v);
	return aa->out ? 0 : INVITES_ENOMEM;
}

static int
pg_aux_get(struct inv__backend *be, const char *key, char **val_r,
           size_t *len_r)
{
	struct aux_arg *aa;
	int rc;

	*val_r = NULL;
	if (!aux_key_ok(key))
		return INVITES_EINVAL;
	aa = inv__calloc(1, sizeof(*aa));
	if (aa == NULL)
		return INVITES_ENOMEM;
	aa->key = key;
	rc = run(be, TX_NONE, aux_get_fn, aa, "aux read");
	if (rc == 0) {
		*val_r = aa->out;
		if (len_r != NULL)
			*len_r = aa->outlen;
	} else {
		free(aa->out);
	}
	free(aa);
	return rc;
}

static int
aux_put_fn(struct inv__backend *be, void *arg)
{
	struct aux_arg *aa = arg;
	struct prm p;
	long n;
	int rc;

	p_init(&p);
	p_text(&p, aa->key);
	if (aa->del) {
		rc = xc(be, S_AUX_DEL, &p, &n, "aux delete");
		return rc == 0 && n == 0 ? INVITES_ENOTFOUND : rc;
	}
	p_bytes(&p, aa->val, aa->len);
	return xc(be, aa->nooverwrite ? S_AUX_INS : S_AUX_PUT, &p, NULL,
	          "aux write");
}

static int
pg_aux_put(struct inv__backend *be, const char *key, const void *val,
           size_t len, int nooverwrite)
{
	struct aux_arg *aa;
	int rc = check_writable(be);

	if (rc != 0)
		return rc;
	if (!aux_key_ok(key) || val == NULL)
		return INVITES_EINVAL;
	aa = inv__calloc(1, sizeof(*aa));
	if (aa == NULL)
		return INVITES_ENOMEM;
	aa->key = key;
	aa->val = val;
	aa->len = len;
	aa->nooverwrite = nooverwrite;
	rc = run(be, TX_NONE, aux_put_fn, aa, "aux write");
	free(aa);
	return rc;
}

static int
pg_aux_del(struct inv__backend *be, const char *key)
{
	struct aux_arg *aa;
	int rc = check_writable(be);

	if (rc != 0)
		return rc;
	if (!aux_key_ok(key))
		return INVITES_EINVAL;
	aa = inv__calloc(1, sizeof(*aa));
	if (aa == NULL)
		return INVITES_ENOMEM;
	aa->key = key;
	aa->del = 1;
	rc = run(be, TX_NONE, aux_put_fn, aa, "aux delete");
	free(aa);
	return rc;
}

static int
aux_walk_fn(struct inv__backend *be, void *arg)
{
	struct aux_arg *aa = arg;
	PGresult *r;
	struct prm p;
	int i, n, rc;

	aux_reset(aa);
	p_init(&p);
	p_text(&p, aa->after);
	p_text(&p, aa->key);
	rc = xq(be, S_AUX_WALK, &p, &r, "aux walk");
	if (rc != 0)
		return rc;
	n = PQntuples(r);
	for (i = 0; rc == 0 && i < n; i++) {
		aa->keys[i] = inv__strdup(PQgetvalue(r, i, 0));
		if (aa->keys[i] == NULL) {
			rc = INVITES_ENOMEM;
			break;
		}
		rc = bytea_dup(r, i, 1, &aa->vals[i], &aa->lens[i]);
		if (rc != 0) {
			free(aa->keys[i]);
			break;
		}
		aa->n++;
	}
	PQclear(r);
	if (rc != 0)
		aux_reset(aa);
	return rc;
}

static int
pg_aux_walk(struct inv__backend *be, const char *prefix,
            int (*fn)(void *ctx, const char *key, const char *val,
                      size_t len),
            void *ctx)
{
	struct aux_arg *aa;
	size_t i, got;
	char *val;
	int rc = 0, stop = 0;

	if (prefix == NULL || strchr(prefix, ':') == NULL || strlen(prefix) > 255)
		return INVITES_EINVAL;
	aa = inv__calloc(1, sizeof(*aa));
	if (aa == NULL)
		return INVITES_ENOMEM;
	aa->key = prefix;
	do {
		rc = run(be, TX_NONE, aux_walk_fn, aa, "aux walk");
		got = aa->n;
		for (i = 0; rc == 0 && stop == 0 && i < aa->n; i++) {
			val = inv__strndup((const char *)aa->vals[i], aa->lens[i]);
			if (val == NULL) {
				rc = INVITES_ENOMEM;
				break;
			}
			stop = fn(ctx, aa->keys[i], val, aa->lens[i]);
			inv__cleanse(val, aa->lens[i]);
			free(val);
		}
		if (got > 0)
			snprintf(aa->after, sizeof(aa->after), "%s",
			         aa->keys[got - 1]);
		aux_reset(aa);
	} while (rc == 0 && stop == 0 && got == SCAN_BATCH);
	free(aa);
	return rc != 0 ? rc : stop;
}

/* ------------------------------------------------------------------ */
/* Failure state, import                                               */
/* ------------------------------------------------------------------ */

static int
pg_failed(struct inv__backend *be)
{
	/* a lost connection is re-established underneath, not by a reopen */
	return be->placeholder;
}

static struct inv__backend pg_stand_in = { .placeholder = 1 };

static struct inv__backend *
pg_placeholder(void)
{
	return &pg_stand_in;
}

static int
import_fn(struct inv__backend *be, void *arg)
{
	struct inv__import_req *req = arg;
	const struct inv__import_item *it;
	size_t i, j;
	int rc = 0;

	for (i = 0; rc == 0 && i < req->n; i++) {
		req->failed = i;
		it = &req->items[i];
		if (it->inv != NULL && inv__reserves_name(it->inv))
			rc = res_take(be, it->inv, req->now);
		if (rc == 0 && it->inv != NULL)
			rc = put_invite(be, it->inv, &it->extra);
		for (j = 0; rc == 0 && j < it->n_audit; j++)
			rc = audit_append(be, &it->audit[j]);
	}
	return rc;
}

static int
pg_import(struct inv__backend *be, struct inv__import_req *req)
{
	int rc = check_writable(be);

	if (rc != 0)
		return rc;
	return run(be, TX_WRITE, import_fn, req, "import");
}

static uint64_t
pg_watchdog_ticks(struct inv__backend *be)
{
	(void)be;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Whole-store copies: records in record.h's encoding                  */
/* ------------------------------------------------------------------ */

static const char *const raw_select[INV__RAW_KINDS + 1] = {
	NULL,
	"SELECT " INV_COLS " FROM invites ORDER BY hash",
	"SELECT domain, username, hash FROM invites_reservations "
	"ORDER BY domain, username",
	"SELECT " PEND_COLS " FROM invites_pending ORDER BY jid",
	"SELECT jid, array_to_string(roles, E'\\n'), cardinality(roles) "
	"FROM invites_roles ORDER BY jid",
	"SELECT " AUDIT_COLS " FROM invites_audit ORDER BY seq",
	"SELECT akey, aval FROM invites_aux ORDER BY akey",
};

struct raw_walk_arg {
	int kind;
	inv__raw_fn *fn;
	void *ctx;
	int stop;
};

/* Encode row i of a raw_select result and hand it to fn. */
static int
raw_row(struct inv__backend *be, struct raw_walk_arg *wa, const PGresult *r,
        int i)
{
	struct invites_invite *inv = NULL;
	struct invites_pending *pd = NULL;
	struct inv__invite_extra ex;
	struct audit_item it;
	unsigned char h[INVITES_HASH_LEN], key[8], *v = NULL;
	char **roles = NULL, rk[2 * INVITES_JID_MAX + 2];
	size_t n = 0, klen;
	struct inv__raw raw;
	struct inv__buf b;
	int rc = 0;

	memset(&raw, 0, sizeof(raw));
	raw.kind = wa->kind;
	inv__buf_init(&b);
	switch (wa->kind) {
	case INV__RAW_INVITE:
		rc = row_invite(be, r, i, &inv, &ex);
		if (rc == 0)
			rc = inv__record_invite_encode(&b, inv, &ex);
		raw.key = inv ? inv->hash : NULL;
		raw.klen = INVITES_HASH_LEN;
		break;
	case INV__RAW_RESERVE:
		klen = inv__reserve_key(rk, sizeof(rk), PQgetvalue(r, i, 0),
		                        PQgetvalue(r, i, 1));
		if (klen == 0 ||
		    bytea_get(r, i, 2, h, INVITES_HASH_LEN) != INVITES_HASH_LEN)
			rc = INVITES_ECORRUPT;
		if (rc == 0)
			rc = inv__record_reserve_encode(&b, h);
		raw.key = rk;
		raw.klen = klen;
		break;
	case INV__RAW_PENDING:
		rc = row_pending(r, i, &pd, h);
		if (rc == 0)
			rc = inv__record_pending_encode(&b, pd, h);
		raw.key = pd ? pd->jid : NULL;
		raw.klen = pd ? strlen(pd->jid) : 0;
		break;
	case INV__RAW_ROLES:
		rc = strv_get(r, i, 1, &roles, &n);
		if (rc == 0)
			rc = inv__record_roles_encode(&b, roles, n);
		raw.key = PQgetvalue(r, i, 0);
		raw.klen = strlen(raw.key);
		break;
	case INV__RAW_AUDIT:
		rc = row_audit(r, i, &it);
		if (rc == 0)
			rc = inv__record_audit_encode(&b, &it.rec);
		inv__put_u64(key, it.rec.seq);
		raw.key = key;
		raw.klen = 8;
		free(it.domain);
		free(it.actor);
		free(it.subject);
		break;
	case INV__RAW_AUX:
		rc = bytea_dup(r, i, 1, &v, &n);
		if (rc == 0)
			inv__buf_append(&b, v, n);
		raw.key = PQgetvalue(r, i, 0);
		raw.klen = strlen(raw.key);
		break;
	default:
		rc = INVITES_EINVAL;
	}
	if (rc == 0 && b.oom)
		rc = INVITES_ENOMEM;
	if (rc == 0) {
		raw.val = b.p;
		raw.vlen = b.len;
		wa->stop = wa->fn(wa->ctx, &raw);
	}
	if (v != NULL) {
		inv__cleanse(v, n);
		free(v);
	}
	inv__cleanse(b.p, b.len);
	inv__buf_free(&b);
	invites_invite_free(&inv);
	invites_pending_free(&pd);
	if (wa->kind == INV__RAW_ROLES)
		invites_strv_free(roles, n);
	return rc;
}

static int
raw_walk_fn(struct inv__backend *be, void *arg)
{
	struct raw_walk_arg *wa = arg;
	char sql[512];
	PGresult *r = NULL;
	int i, n, rc;

	/* one snapshot through a cursor; fn runs inside the read-only
	 * transaction, which holds no row locks */
	snprintf(sql, sizeof(sql), "DECLARE xi_raw NO SCROLL CURSOR FOR %s",
	         raw_select[wa->kind]);
	rc = xs(be, sql, NULL, "copy");
	while (rc == 0 && wa->stop == 0) {
		rc = xs(be, "FETCH 500 FROM xi_raw", &r, "copy");
		if (rc != 0)
			break;
		n = PQntuples(r);
		for (i = 0; rc == 0 && wa->stop == 0 && i < n; i++)
			rc = raw_row(be, wa, r, i);
		PQclear(r);
		if (n < 500)
			break;
	}
	return rc;
}

static int
pg_raw_walk(struct inv__backend *be, int kind, inv__raw_fn *fn, void *ctx)
{
	struct raw_walk_arg wa = { kind, fn, ctx, 0 };
	int rc;

	if (kind < 1 || kind > INV__RAW_KINDS)
		return INVITES_EINVAL;
	rc = run(be, TX_READ, raw_walk_fn, &wa, "copy");
	return rc != 0 ? rc : wa.stop;
}

struct raw_load_arg {
	const struct inv__raw *recs;
	size_t n;
};

static int
raw_load_one(struct inv__backend *be, const struct inv__raw *rec, int *audit)
{
	struct invites_invite *inv = NULL;
	struct invites_pending *pd = NULL;
	struct inv__invite_extra ex;
	struct invites_audit a;
	unsigned char h[INVITES_HASH_LEN];
	char **roles = NULL, *strings = NULL, *key = NULL, *user;
	const char *joined;
	size_t n = 0;
	struct inv__buf b;
	struct prm p;
	int rc;

	inv__buf_init(&b);
	p_init(&p);
	switch (rec->kind) {
	case INV__RAW_INVITE:
		if (rec->klen != INVITES_HASH_LEN)
			return INVITES_ECORRUPT;
		rc = inv__record_invite_decode(rec->key, rec->val, rec->vlen, &inv,
		                               &ex);
		if (rc == 0)
			rc = put_invite(be, inv, &ex);
		invites_invite_free(&inv);
		return rc;
	case INV__RAW_RESERVE:
		key = inv__malloc(rec->klen + 1);
		if (key == NULL)
			return INVITES_ENOMEM;
		memcpy(key, rec->key, rec->klen);
		key[rec->klen] = '\0';
		user = strlen(key) < rec->klen ? key + strlen(key) + 1 : NULL;
		rc = user == NULL ? INVITES_ECORRUPT
		                  : inv__record_reserve_decode(rec->val, rec->vlen, h);
		if (rc == 0)
			rc = res_put(be, key, user, h);
		free(key);
		return rc;
	case INV__RAW_PENDING:
		rc = inv__record_pending_decode(rec->key, rec->klen, rec->val,
		                                rec->vlen, &pd, h);
		if (rc == 0)
			rc = put_pending(be, pd, h);
		invites_pending_free(&pd);
		return rc;
	case INV__RAW_ROLES:
		key = inv__strndup(rec->key, rec->klen);
		rc = key ? inv__record_roles_decode(rec->val, rec->vlen, &roles, &n)
		         : INVITES_ENOMEM;
		if (rc == 0 && n > 0)
			rc = join_strv(&b, roles, n, &joined);
		if (rc == 0 && n > 0) {
			p_text(&p, key);
			p_text(&p, joined);
			rc = xc(be, S_ROLES_INS, &p, NULL, "copy roles");
		}
		invites_strv_free(roles, n);
		inv__buf_free(&b);
		free(key);
		return rc;
	case INV__RAW_AUDIT:
		if (rec->klen != 8)
			return INVITES_ECORRUPT;
		rc = inv__record_audit_decode(inv__get_u64(rec->key), rec->val,
		                              rec->vlen, &a, &strings);
		if (rc == 0) {
			p_i64(&p, (int64_t)a.seq);
			p_i64(&p, a.time);
			p_i64(&p, a.event);
			p_text(&p, a.id);
			p_i64(&p, a.kind);
			p_text(&p, a.domain);
			p_text(&p, a.actor);
			p_text(&p, a.subject);
			rc = xc(be, S_RAW_AUDIT, &p, NULL, "copy audit");
			*audit = 1;
		}
		free(strings);
		return rc;
	case INV__RAW_AUX:
		key = inv__strndup(rec->key, rec->klen);
		if (key == NULL)
			return INVITES_ENOMEM;
		p_text(&p, key);
		p_bytes(&p, rec->val, rec->vlen);
		rc = xc(be, S_AUX_INS, &p, NULL, "copy aux");
		free(key);
		return rc;
	}
	return INVITES_EINVAL;
}

static int
raw_load_fn(struct inv__backend *be, void *arg)
{
	struct raw_load_arg *la = arg;
	size_t i;
	int audit = 0, rc = 0;

	for (i = 0; rc == 0 && i < la->n; i++)
		rc = raw_load_one(be, &la->recs[i], &audit);
	/* the next audit record follows the highest copied one */
	if (rc == 0 && audit)
		rc = xc(be, S_RAW_SEQ, NULL, NULL, "copy audit");
	return rc;
}

static int
pg_raw_load(struct inv__backend *be, const struct inv__raw *recs, size_t n)
{
	struct raw_load_arg la = { recs, n };
	int rc = check_writable(be);

	if (rc != 0)
		return rc;
	return run(be, TX_WRITE, raw_load_fn, &la, "copy");
}

const struct inv__store_ops inv__store_pg_ops = {
	"postgresql",
	pg_open,
	pg_close,
	pg_create,
	pg_get,
	pg_consume,
	pg_unconsume,
	pg_revoke,
	pg_reissue,
	pg_list,
	pg_purge,
	pg_stats,
	pg_count_by_inviter,
	pg_reserved,
	pg_pending,
	pg_roles_get,
	pg_roles_update,
	pg_audit_walk,
	pg_checkpoint,
	pg_set_format,
	pg_aux_get,
	pg_aux_put,
	pg_aux_del,
	pg_aux_walk,
	pg_failed,
	pg_placeholder,
	pg_import,
	pg_watchdog_ticks,
	pg_raw_walk,
	pg_raw_load,
};
