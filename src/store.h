/* SPDX-License-Identifier: MIT */
/*
 * The invite store's internal backend interface.
 *
 * store.c implements the public store API (include/invites/invites.h): it
 * checks and normalises arguments, builds records and owns the policy.  A
 * backend (store_bdb.c today; PostgreSQL could sit beside it) implements
 * whole operations, each atomic in its own way, with the same semantics:
 * it reads and writes, and calls the shared rules below (inv__consume_check,
 * inv__consume_apply, ...) inside its transaction so every backend decides
 * the same way.
 *
 * Data model every backend keeps:
 *   invites       hash (32 bytes) -> invite record (record.h)
 *   by purge time  purge_at -> hashes: purge visits only what is due
 *   by inviter     inviter JID -> hashes (no entry when there is none)
 *   reservations   domain NUL username -> hash of the account invite
 *                  that reserves the name
 *   pending        invitee JID -> post-registration work
 *   roles          JID -> roles
 *   audit          seq (strictly increasing) -> audit record
 *   meta           magic and format version
 */
#ifndef INVITES_STORE_H
#define INVITES_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "record.h"

/* The on-disk format this code writes; newer ones are refused. */
#define INV__STORE_FORMAT 1
/* Deadlock victims retry this often before INVITES_EBUSY. */
#define INV__STORE_RETRIES 100
/* Purge deletes at most this many records per transaction. */
#define INV__PURGE_BATCH 1000

struct inv__backend;

struct inv__store_params {
	const char *path;        /* the store directory */
	unsigned flags;          /* INVITES_OPEN_* */
	uint64_t cache_bytes;    /* written to DB_CONFIG at creation */
};

/*
 * How an operation names an invite: by its hash, or by a prefix of its
 * public id (nibbles hex digits, packed into hash from the first byte; the
 * rest is zero).  Several matches: INVITES_EAMBIG.
 */
struct inv__ref {
	int by_hash;
	unsigned char hash[INVITES_HASH_LEN];
	size_t nibbles;
};

/* create: inv is complete and checked; the backend checks what needs the
 * store, atomically: the inviter's limit (limit > 0: refuse with
 * INVITES_ELIMIT when inv->inviter already has limit usable invites) and
 * the username reservation (when inv__reserves_name(inv)).  INVITES_EEXIST
 * when the hash exists (store.c draws another token). */
struct inv__create_req {
	const struct invites_invite *inv;
	struct inv__invite_extra extra;
	unsigned limit;
	int64_t now;
};

struct inv__consume_req {
	unsigned char hash[INVITES_HASH_LEN];
	const char *domain;             /* normalised */
	enum invites_purpose purpose;
	const char *username;           /* normalised or NULL */
	const char *invitee;            /* bare JID */
	int check_expiry;
	int64_t now;
	int64_t purge_grace;
};

/* What a consume writes besides the invite itself. */
struct inv__consume_plan {
	int release_reservation;          /* drop domain/username -> hash */
	struct invites_pending *pending;  /* store under pending->jid, or NULL */
	struct invites_audit audit;       /* append */
};

/* What an unconsume writes besides the invite itself. */
struct inv__unconsume_plan {
	int undo;                  /* 0: nothing to undo (idempotent) */
	int restore_reservation;   /* put domain/username -> hash back if free */
	struct invites_audit audit;
};

/* import: records from another server, written in one transaction.  Each
 * item stores inv (complete and checked, created with its own times; its
 * username reservation is taken as create does) when not NULL, then
 * appends its n_audit audit records in order.  On failure *failed is the
 * index of the item that failed (INVITES_EEXIST: its hash is stored,
 * INVITES_ERESERVED: its name is reserved) and nothing is written. */
struct inv__import_item {
	const struct invites_invite *inv;
	struct inv__invite_extra extra;
	const struct invites_audit *audit;
	size_t n_audit;
};

struct inv__import_req {
	struct inv__import_item *items;
	size_t n;
	int64_t now;
	size_t failed;          /* out */
};

struct inv__reissue_req {
	struct inv__ref old;
	unsigned char new_hash[INVITES_HASH_LEN];
	const char *actor;
	int64_t expires;        /* 0: now + invite_expiry / reset_expiry */
	int64_t invite_expiry;
	int64_t reset_expiry;
	int64_t now;
	int64_t purge_grace;
};

/*
 * Records of a whole store in the encoding of record.h, for copying one
 * store into another (store_copy.c), keyed as follows.
 */
enum inv__raw_kind {
	INV__RAW_INVITE = 1, /* hash -> invite record */
	INV__RAW_RESERVE,    /* domain NUL username -> reservation record */
	INV__RAW_PENDING,    /* JID -> pending record */
	INV__RAW_ROLES,      /* JID -> roles record */
	INV__RAW_AUDIT,      /* 8-byte big-endian seq -> audit record */
	INV__RAW_AUX         /* auxiliary key ("apikey:...") -> its value */
};
#define INV__RAW_KINDS 6

struct inv__raw {
	int kind;
	const void *key;
	size_t klen;
	const void *val;
	size_t vlen;
};

typedef int inv__raw_fn(void *ctx, const struct inv__raw *r);

/*
 * A backend.  Every function returns 0 or a negative INVITES_E* code, and
 * INVITES_ERECOVER on every call once the backend has seen its storage
 * fail in a way that needs a reopen (then failed() says 1).
 */
struct inv__store_ops {
	const char *name;
	int (*open)(const struct inv__store_params *p, struct inv__backend **be_r);
	void (*close)(struct inv__backend *be);
	int (*create)(struct inv__backend *be, const struct inv__create_req *req);
	int (*get)(struct inv__backend *be, const struct inv__ref *ref,
	           struct invites_invite **inv_r);
	int (*consume)(struct inv__backend *be, const struct inv__consume_req *req,
	               struct invites_invite **inv_r);
	/* Undo invitee's use of hash (see inv__unconsume_apply). */
	int (*unconsume)(struct inv__backend *be,
	                 const unsigned char hash[INVITES_HASH_LEN],
	                 const char *invitee, int64_t now, int64_t purge_grace);
	/* INVITES_EREVOKED when it already is. */
	int (*revoke)(struct inv__backend *be, const struct inv__ref *ref,
	              const char *actor, int64_t now, int64_t purge_grace,
	              struct invites_invite **inv_r);
	/* Returns the new invite. */
	int (*reissue)(struct inv__backend *be, const struct inv__reissue_req *req,
	               struct invites_invite **inv_r);
	/* f is normalised and f->now is set. */
	int (*list)(struct inv__backend *be, const struct invites_filter *f,
	            invites_list_fn *fn, void *ctx);
	/* Delete invites with purge_at <= now, in batches; audit records older
	 * than audit_before (0: none), always keeping the newest. */
	int (*purge)(struct inv__backend *be, int64_t now, int64_t audit_before,
	             size_t *purged_r);
	int (*stats)(struct inv__backend *be, int64_t now,
	             struct invites_stats *stats);
	int (*count_by_inviter)(struct inv__backend *be, const char *inviter,
	                        int64_t now, size_t *count_r);
	/* 1 reserved by another usable invite, 0 free. */
	int (*reserved)(struct inv__backend *be, const char *domain,
	                const char *username, const unsigned char *except_hash,
	                int64_t now);
	int (*pending)(struct inv__backend *be, const char *jid, int take,
	               struct invites_pending **p_r);
	int (*roles_get)(struct inv__backend *be, const char *jid,
	                 char ***roles_r, size_t *n_r);
	int (*roles_update)(struct inv__backend *be, const char *jid,
	                    const char *role, int add);
	int (*audit_walk)(struct inv__backend *be, uint64_t from,
	                  invites_audit_fn *fn, void *ctx);
	/* Flush to the data files (tests, daemons); force: even when idle. */
	int (*checkpoint)(struct inv__backend *be, int force);
	/* Tests only: rewrite the format version in the meta record. */
	int (*set_format)(struct inv__backend *be, uint32_t version);

	/* Auxiliary records (API keys, apikey.c): small values under text
	 * keys that start with a prefix of their own ("apikey:"), kept beside
	 * the data and never mixed with the keys above.  get: INVITES_ENOTFOUND
	 * when absent, *val_r to free; put: nooverwrite gives INVITES_EEXIST
	 * when the key exists; del: INVITES_ENOTFOUND when absent; walk:
	 * every record whose key starts with prefix, until fn returns
	 * non-zero (which walk returns). */
	int (*aux_get)(struct inv__backend *be, const char *key, char **val_r,
	               size_t *len_r);
	int (*aux_put)(struct inv__backend *be, const char *key, const void *val,
	               size_t len, int nooverwrite);
	int (*aux_del)(struct inv__backend *be, const char *key);
	int (*aux_walk)(struct inv__backend *be, const char *prefix,
	                int (*fn)(void *ctx, const char *key, const char *val,
	                          size_t len),
	                void *ctx);

	/* 1 once the backend needs a reopen: store.c then closes it and
	 * opens a new one before the next operation. */
	int (*failed)(struct inv__backend *be);
	/* A stand-in for a store whose reopen failed: failed() is 1, every
	 * operation returns INVITES_ERECOVER, close() ignores it. */
	struct inv__backend *(*placeholder)(void);

	/* Store imported records (invitectl import); see inv__import_req. */
	int (*import)(struct inv__backend *be, struct inv__import_req *req);
	/* Tests: completed failchk passes of the daemon watchdog. */
	uint64_t (*watchdog_ticks)(struct inv__backend *be);

	/* Copying a whole store (store_copy.c): walk every record of one
	 * kind in key order, in short read transactions with fn called
	 * outside them, until fn returns non-zero (which walk returns). */
	int (*raw_walk)(struct inv__backend *be, int kind, inv__raw_fn *fn,
	                void *ctx);
	/* Write n records (any kinds) in one transaction; INVITES_EEXIST
	 * when one of them exists already. */
	int (*raw_load)(struct inv__backend *be, const struct inv__raw *recs,
	                size_t n);
};

/* The backend of an open store, for modules beside store.c (apikey.c);
 * reopened first when it had failed (see ready() in store.c). */
void inv__store_backend(struct invites_store *st,
                        const struct inv__store_ops **ops_r,
                        struct inv__backend **be_r);

extern const struct inv__store_ops inv__store_bdb_ops;
#ifdef HAVE_POSTGRESQL
extern const struct inv__store_ops inv__store_pg_ops;
#endif

/* The backend a `store` value names: a libpq URI (postgresql:// or
 * postgres://) is PostgreSQL, "bdb:PATH" or any other path Berkeley DB;
 * *spec_r is what the backend opens (PATH without "bdb:").  ECONFIG when
 * the backend is not built in. */
int inv__store_pick(const char *store, const struct inv__store_ops **ops_r,
                    const char **spec_r);
/* 1 when store is a PostgreSQL URI. */
int inv__store_is_pg(const char *store);
/* store with a URI's password replaced by "***" (logs, messages). */
char *inv__store_display(const char *store);

/* PostgreSQL schema (store_pg.c): create (migrate 0) or upgrade it;
 * *found_r is the version found (0: none), *now_r the one in place. */
int inv__pg_schema(const char *uri, int migrate, unsigned *found_r,
                   unsigned *now_r);

/* ---- rules shared by the backends (store.c) ---- */

/* 1 when an invite in this state may be used at now. */
int inv__usable(unsigned flags, uint32_t uses, uint32_t max_uses,
                int64_t expires, int64_t now);
int inv__invite_usable(const struct invites_invite *inv, int64_t now);
/* 1 when inv, while usable, reserves its username (account, preset name). */
int inv__reserves_name(const struct invites_invite *inv);
/* The time purge may delete inv: its expiry, or earlier, purge_grace after
 * it was used up or revoked. */
int64_t inv__purge_at(const struct invites_invite *inv,
                      const struct inv__invite_extra *extra,
                      int64_t purge_grace);
/* The reservation key of domain/username into buf: returns its length,
 * or 0 when it does not fit. */
size_t inv__reserve_key(char *buf, size_t size, const char *domain,
                        const char *username);
/* 1 when hash is named by ref. */
int inv__ref_match(const struct inv__ref *ref,
                   const unsigned char hash[INVITES_HASH_LEN]);

/* Consume, step 1: may req use inv?  *check_reservation_r is set when the
 * username must also be free of other invites' reservations (the backend
 * then answers INVITES_ERESERVED when it is not). */
int inv__consume_check(const struct invites_invite *inv,
                       const struct inv__consume_req *req,
                       int *check_reservation_r);
/* Consume, step 2: count the use in inv/extra and say what else to write.
 * Free the plan with inv__consume_plan_free().  0 or INVITES_ENOMEM. */
int inv__consume_apply(struct invites_invite *inv,
                       struct inv__invite_extra *extra,
                       const struct inv__consume_req *req,
                       struct inv__consume_plan *plan);
void inv__consume_plan_free(struct inv__consume_plan *plan);

/* Unconsume: undo invitee's use when the pending work stored for invitee
 * belongs to inv (pending_matches) or invitee is its last user; clears
 * last_used_by so a second call is a no-op. */
void inv__unconsume_apply(struct invites_invite *inv,
                          struct inv__invite_extra *extra,
                          const char *invitee, int pending_matches,
                          int64_t now, int64_t purge_grace,
                          struct inv__unconsume_plan *plan);

/* Revoke inv at now. */
void inv__revoke_apply(struct invites_invite *inv,
                       struct inv__invite_extra *extra, int64_t now,
                       int64_t purge_grace);

/* Reissue: check old may be re-issued (not revoked, not used up) and build
 * its successor.  0, INVITES_EREVOKED, EUSED, EINVAL or ENOMEM. */
int inv__reissue_build(const struct invites_invite *old,
                       const struct inv__reissue_req *req,
                       struct invites_invite **new_r,
                       struct inv__invite_extra *extra);

/* 1 when the record p passes filter f (normalised, now set). */
int inv__filter_match(const struct inv__invite_peek *p,
                      const struct invites_filter *f);
/* Stats bucket of one record. */
void inv__stats_count(struct invites_stats *st,
                      const struct inv__invite_peek *p, int64_t now);

/* Fill an audit record about inv (strings borrowed). */
void inv__audit_fill(struct invites_audit *a, enum invites_event ev,
                     const struct invites_invite *inv, const char *actor,
                     const char *subject, int64_t time);

/* Write imported records through the backend (import.c); 0 or an error
 * with req->failed set. */
int inv__store_import(struct invites_store *st, struct inv__import_req *req);

/* Tests: see inv__store_ops.checkpoint / set_format. */
int inv__store_checkpoint(struct invites_store *st, int force);
int inv__store_set_format(struct invites_store *st, uint32_t version);
/* Tests: the watchdog's completed failchk passes in *ticks_r (they stop
 * when the backend fails); returns 1 when the backend has failed. */
int inv__store_watchdog(struct invites_store *st, uint64_t *ticks_r);
/* Tests: store inv as it is (its hash chosen by the caller), through the
 * backend's create (reservation checked, audit written, no limit). */
int inv__store_create_raw(struct invites_store *st,
                          const struct invites_invite *inv);

#endif /* INVITES_STORE_H */
