/* SPDX-License-Identifier: MIT */
/*
 * libinvites: invite-based account registration for XMPP servers.
 *
 * This header is the whole public API of libinvites.  It covers the
 * configuration file shared by every process of a site, the invite store
 * (a transactional Berkeley DB environment shared by several processes),
 * tokens, JIDs, xmpp: URIs and the audit trail.
 *
 * Topic: errors.  Every function that can fail returns an int: 0
 * (INVITES_OK) on success or a negative INVITES_E* code.  The same code
 * maps to an XMPP stanza error (invites_err_condition()), a CLI exit code
 * (invites_err_exit_code()) and a message (invites_strerror()), so that the
 * protocol engine, invitectl and the logs agree.
 *
 * Topic: ownership.  Functions named *_new, *_open, *_dup and *_load
 * return memory the caller releases with the matching *_free / *_close,
 * which accept NULL and set the pointer to NULL.  Strings returned through
 * `const char *` are borrowed from the object they came from and live as
 * long as it.
 *
 * Topic: tokens.  A token is a secret.  The store keeps only SHA-256 of it;
 * an invite is named in lists and logs by its public id (the first
 * INVITES_ID_LEN hex digits of that hash).  libinvites never logs a token.
 *
 * Topic: processes and threads.  One struct invites_store per process (a
 * Berkeley DB rule: DB_REGISTER allows one environment handle per process).
 * Any number of processes may open the same store at once.  A handle may be
 * used by one thread at a time; the store's own watchdog thread (daemons)
 * is internal.
 */
#ifndef INVITES_INVITES_H
#define INVITES_INVITES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define INVITES_API __attribute__((visibility("default")))
#define INVITES_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define INVITES_API
#define INVITES_PRINTF(f, a)
#endif

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/*
 * X(NAME, value, message, stanza error type, stanza condition, exit code)
 * Exit codes follow sysexits(3): 64 usage, 65 data, 66 no input,
 * 69 unavailable, 70 software, 73 cannot create, 74 I/O, 75 temporary,
 * 77 permission, 78 configuration.  1 means "the invite is not usable".
 */
#define INVITES_ERROR_TABLE(X)                                                  \
	X(OK,        0,   "success",                                  "",       "",                        0)  \
	X(EINVAL,   -1,   "invalid argument",                         "modify", "bad-request",             64) \
	X(ENOMEM,   -2,   "out of memory",                            "wait",   "resource-constraint",     70) \
	X(ENOTFOUND,-3,   "no such invite",                           "cancel", "item-not-found",          1)  \
	X(EEXPIRED, -4,   "the invite has expired",                   "cancel", "item-not-found",          1)  \
	X(EUSED,    -5,   "the invite has been used",                 "cancel", "item-not-found",          1)  \
	X(EREVOKED, -6,   "the invite has been revoked",              "cancel", "item-not-found",          1)  \
	X(EDOMAIN,  -7,   "the invite is for another domain",         "cancel", "item-not-found",          1)  \
	X(EKIND,    -8,   "the invite is not valid for this purpose", "cancel", "item-not-found",          1)  \
	X(EUSERNAME,-9,   "the invite is for another username",       "cancel", "not-allowed",             1)  \
	X(ERESERVED,-10,  "the username is reserved by an invite",    "cancel", "conflict",                1)  \
	X(EJID,     -11,  "malformed JID or username",                "modify", "jid-malformed",           65) \
	X(ETOKEN,   -12,  "malformed token",                          "modify", "bad-request",             65) \
	X(EAMBIG,   -13,  "the id matches several invites",           "modify", "bad-request",             65) \
	X(ELIMIT,   -14,  "invite limit reached",                     "wait",   "resource-constraint",     1)  \
	X(EEXIST,   -15,  "already exists",                           "cancel", "conflict",                1)  \
	X(ECONFIG,  -16,  "configuration error",                      "wait",   "internal-server-error",   78) \
	X(ESTORE,   -17,  "invite store error",                       "wait",   "internal-server-error",   74) \
	X(ECORRUPT, -18,  "the invite store is damaged or not an invite store", "wait", "internal-server-error", 74) \
	X(EVERSION, -19,  "the invite store has a newer format than this program", "wait", "internal-server-error", 78) \
	X(EACCES,   -20,  "permission denied",                        "wait",   "internal-server-error",   77) \
	X(ENOSPC,   -21,  "no space left for the invite store",       "wait",   "internal-server-error",   74) \
	X(EBUSY,    -22,  "the invite store is busy; try again",      "wait",   "internal-server-error",   75) \
	X(ERECOVER, -23,  "the invite store needs recovery; reopen it", "wait", "internal-server-error",   75) \
	X(ENOSTORE, -24,  "no invite store at that path",             "wait",   "internal-server-error",   66) \
	X(EFORBIDDEN,-25, "not permitted",                            "auth",   "forbidden",               77) \
	X(ECANCELED,-26,  "operation canceled",                       "cancel", "not-allowed",             75) \
	X(EINTERNAL,-27,  "internal error",                           "wait",   "internal-server-error",   70)

enum invites_err {
#define INVITES_X_ENUM(name, val, msg, type, cond, ex) INVITES_##name = (val),
	INVITES_ERROR_TABLE(INVITES_X_ENUM)
#undef INVITES_X_ENUM
};

/* A static, human-readable message for err (never NULL). */
INVITES_API const char *invites_strerror(int err);
/* The symbolic name ("ENOTFOUND"), for logs and JSON (never NULL). */
INVITES_API const char *invites_err_name(int err);
/* The XMPP stanza error condition (RFC 6120 8.3.3) and type for err. */
INVITES_API const char *invites_err_condition(int err);
INVITES_API const char *invites_err_type(int err);
/* The CLI exit status for err (sysexits-style; 0 for INVITES_OK). */
INVITES_API int invites_err_exit_code(int err);

/* Library version string, e.g. "0.1.0". */
INVITES_API const char *invites_version(void);

/* ------------------------------------------------------------------ */
/* Logging                                                             */
/* ------------------------------------------------------------------ */

/* syslog(3) priorities */
enum invites_log_level {
	INVITES_LOG_ERR = 3,
	INVITES_LOG_WARNING = 4,
	INVITES_LOG_NOTICE = 5,
	INVITES_LOG_INFO = 6,
	INVITES_LOG_DEBUG = 7
};

typedef void invites_log_fn(void *ctx, int level, const char *msg);

/*
 * Route the library's log lines (store warnings, recovery notices) to fn.
 * Process-wide; default: none are printed.  Messages never hold a token.
 */
INVITES_API void invites_set_log(invites_log_fn *fn, void *ctx);

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

/*
 * The configuration file: `key = value` lines, `#` comments, blank lines.
 * Keys: store, domains, invite_expiry, reset_expiry, landing_url,
 * max_invites_per_user, and those documented in invites.conf(5).  Unknown
 * keys and bad values are errors naming file and line.
 */
struct invites_config;

/* The default path: $INVITES_CONFIG if set, else SYSCONFDIR/invites.conf. */
INVITES_API const char *invites_config_default_path(void);

/*
 * Load and validate path.  On failure returns INVITES_ECONFIG (or
 * INVITES_ENOMEM) and, when errmsg_r is not NULL, a message that names the
 * file and line, to be freed with invites_free().
 */
INVITES_API int invites_config_load(const char *path,
                                    struct invites_config **cfg_r,
                                    char **errmsg_r);
/* A configuration with every default and the given store path (tests). */
INVITES_API int invites_config_new(const char *store_path,
                                   struct invites_config **cfg_r);
INVITES_API void invites_config_free(struct invites_config **cfg);

/* Set one key as if read from a file (line 0); same validation. */
INVITES_API int invites_config_set(struct invites_config *cfg, const char *key,
                                   const char *value, char **errmsg_r);

INVITES_API const char *invites_config_store(const struct invites_config *cfg);
/* Number of served domains and each (normalised with nameprep). */
INVITES_API size_t invites_config_domain_count(const struct invites_config *cfg);
INVITES_API const char *invites_config_domain(const struct invites_config *cfg,
                                              size_t i);
/* 1 when domain (already normalised) is served, else 0. */
INVITES_API int invites_config_serves(const struct invites_config *cfg,
                                      const char *domain);
INVITES_API int64_t invites_config_expiry(const struct invites_config *cfg);
INVITES_API int64_t invites_config_reset_expiry(const struct invites_config *cfg);
/* NULL when unset. */
INVITES_API const char *invites_config_landing_url(const struct invites_config *cfg);
/* 0 means unlimited. */
INVITES_API unsigned invites_config_max_invites_per_user(const struct invites_config *cfg);
/* Any key's raw value, or NULL when unset (for host-specific keys). */
INVITES_API const char *invites_config_get(const struct invites_config *cfg,
                                           const char *key);
/*
 * Typed values of known keys, defaults applied (invites.conf(5) gives each
 * key's type): booleans as 0 or 1, durations in seconds, unsigned numbers
 * (and log_level as its syslog priority), lists (domains, admins) as
 * normalised entries borrowed from cfg (an empty list when unset).
 * INVITES_EINVAL when key is unknown or of another type,
 * INVITES_ENOTFOUND when it is unset and has no default.
 */
INVITES_API int invites_config_get_bool(const struct invites_config *cfg,
                                        const char *key, int *value_r);
INVITES_API int invites_config_get_duration(const struct invites_config *cfg,
                                            const char *key, int64_t *value_r);
INVITES_API int invites_config_get_unsigned(const struct invites_config *cfg,
                                            const char *key, unsigned *value_r);
INVITES_API int invites_config_get_list(const struct invites_config *cfg,
                                        const char *key,
                                        const char *const **list_r,
                                        size_t *n_r);

/*
 * Parse a duration: a number of seconds, or a number with one of the
 * suffixes s, m, h, d, w ("7d", "36h").  Returns 0 or INVITES_EINVAL.
 */
INVITES_API int invites_parse_duration(const char *s, int64_t *seconds_r);

/* ------------------------------------------------------------------ */
/* JIDs                                                                */
/* ------------------------------------------------------------------ */

/*
 * Normalise a username (localpart) with the Nodeprep profile of stringprep
 * into out (size outsz).  INVITES_EJID when it is empty, too long (1023
 * octets), or not allowed; INVITES_EINVAL when out is too small.
 */
INVITES_API int invites_nodeprep(const char *in, char *out, size_t outsz);
/* Normalise a domain with Nameprep (lower case, IDNA-ready) into out. */
INVITES_API int invites_nameprep(const char *in, char *out, size_t outsz);
/*
 * Normalise a bare JID (`local@domain` or `domain`; a resource is
 * dropped) into out.  INVITES_EJID when malformed.
 */
INVITES_API int invites_jid_bare(const char *in, char *out, size_t outsz);

#define INVITES_JID_MAX 3071 /* RFC 6122: 3 * 1023 + separators fits */

/* ------------------------------------------------------------------ */
/* Tokens                                                              */
/* ------------------------------------------------------------------ */

/* 16 random bytes in base64url without padding: 22 characters. */
#define INVITES_TOKEN_LEN 22
/* Accepted token lengths (imported tokens from other servers included). */
#define INVITES_TOKEN_MIN 16
#define INVITES_TOKEN_MAX 64
/* A public id is the first INVITES_ID_LEN hex digits of SHA-256(token). */
#define INVITES_ID_LEN 12
#define INVITES_HASH_LEN 32

/*
 * Draw a new token from OpenSSL's CSPRNG into out (INVITES_TOKEN_LEN + 1
 * bytes at least).  INVITES_EINTERNAL when the CSPRNG fails.
 */
INVITES_API int invites_token_new(char *out, size_t outsz);
/*
 * 1 when s has the shape of a token (length INVITES_TOKEN_MIN..MAX, only
 * base64url characters A-Z a-z 0-9 - _), else 0.  Cheap: call it before
 * any store access.
 */
INVITES_API int invites_token_plausible(const char *s);
/* SHA-256 of the token's bytes. */
INVITES_API void invites_token_hash(const char *token,
                                    unsigned char hash[INVITES_HASH_LEN]);
/* Public id of a hash: INVITES_ID_LEN lowercase hex digits and a NUL. */
INVITES_API void invites_hash_id(const unsigned char hash[INVITES_HASH_LEN],
                                 char id[INVITES_ID_LEN + 1]);

/* ------------------------------------------------------------------ */
/* Invites                                                             */
/* ------------------------------------------------------------------ */

enum invites_kind {
	INVITES_KIND_ACCOUNT = 1, /* register a new account (any or preset name) */
	INVITES_KIND_CONTACT = 2, /* subscribe to the inviter (XEP-0379); with
	                             INVITES_F_REGISTER also register (ibr=y) */
	INVITES_KIND_RESET = 3    /* set a new password for one existing user */
};

/* Invite flags. */
#define INVITES_F_REGISTER 0x1u /* contact invite may register an account */
#define INVITES_F_REVOKED  0x2u
#define INVITES_F_ADMIN    0x4u /* shorthand: roles contain "admin" */

/* What an invite is being used for (validate / consume). */
enum invites_purpose {
	INVITES_FOR_REGISTER = 1,  /* pre-auth and XEP-0077 account creation */
	INVITES_FOR_SUBSCRIBE = 2, /* XEP-0379 subscription approval */
	INVITES_FOR_RESET = 3,     /* XEP-0077 password change of an account */
	INVITES_FOR_ANY = 4,       /* look-up only: any kind (landing page) */
	INVITES_FOR_PREAUTH = 5    /* XEP-0445 pre-auth: account, contact with
	                              INVITES_F_REGISTER, or reset */
};

/* Names: "account", "contact", "reset". */
INVITES_API const char *invites_kind_name(enum invites_kind kind);
INVITES_API int invites_kind_parse(const char *s, enum invites_kind *kind_r);

/*
 * An invite as stored.  Every string is owned by the struct; free the
 * struct with invites_invite_free().
 */
struct invites_invite {
	unsigned char hash[INVITES_HASH_LEN]; /* SHA-256(token): the key */
	char id[INVITES_ID_LEN + 1];          /* public id */
	enum invites_kind kind;
	unsigned flags;        /* INVITES_F_* */
	char *domain;          /* served domain, normalised */
	char *username;        /* preset name, or the reset target; may be NULL */
	char *inviter;         /* bare JID of the creator; may be NULL (CLI) */
	char *created_by;      /* who made it: a JID, or "invitectl:USER" */
	char *note;            /* may be NULL */
	char **roles;          /* n_roles strings */
	size_t n_roles;
	char **groups;         /* n_groups strings */
	size_t n_groups;
	int64_t created;       /* Unix seconds */
	int64_t expires;       /* Unix seconds */
	int64_t revoked;       /* Unix seconds; 0 when not revoked */
	uint32_t uses;         /* times used */
	uint32_t max_uses;     /* 1 for single use */
	char *last_used_by;    /* bare JID of the last invitee, or NULL */
};

INVITES_API void invites_invite_free(struct invites_invite **inv);
/* 1 when roles contain role. */
INVITES_API int invites_invite_has_role(const struct invites_invite *inv,
                                        const char *role);

/*
 * Check whether inv may be used for purpose on domain by username (the
 * normalised localpart the client asks for; NULL when not known yet) at
 * time now.  Returns 0, or INVITES_EDOMAIN, EKIND, EREVOKED, EUSED,
 * EEXPIRED, EUSERNAME.  Pure: no store access.  Expiry is checked only
 * when check_expiry is non-zero (XEP-0445: expiry is checked at pre-auth,
 * not at commit).
 */
INVITES_API int invites_invite_validate(const struct invites_invite *inv,
                                        const char *domain,
                                        enum invites_purpose purpose,
                                        const char *username, int64_t now,
                                        int check_expiry);

/* What to create. */
struct invites_spec {
	enum invites_kind kind;
	unsigned flags;          /* INVITES_F_REGISTER for contact + ibr=y */
	const char *domain;      /* required */
	const char *username;    /* preset name (account) or target (reset) */
	const char *inviter;     /* bare JID; required for contact invites */
	const char *created_by;  /* free text actor; defaults to inviter */
	const char *note;
	const char *const *roles;
	size_t n_roles;
	const char *const *groups;
	size_t n_groups;
	int64_t expires;         /* absolute; 0: now + configured expiry */
	uint32_t max_uses;       /* 0 or 1: single use */
};

/* ------------------------------------------------------------------ */
/* Store                                                               */
/* ------------------------------------------------------------------ */

struct invites_store;

/* invites_store_open() flags */
#define INVITES_OPEN_CREATE   0x1u /* create the store when the directory is empty */
#define INVITES_OPEN_DAEMON   0x2u /* long-lived: watchdog thread, checkpoints */
#define INVITES_OPEN_READONLY 0x4u /* no writes will be made (list, show) */
#define INVITES_OPEN_RETRY    0x8u /* servers: a store that cannot be opened
                                      now is retried, see below */

/*
 * Open the store named by cfg's `store` key.  Several processes may open
 * one store at once; each process opens it once.  Returns INVITES_ENOSTORE
 * when there is no store and INVITES_OPEN_CREATE is not given,
 * INVITES_ECORRUPT when the directory holds something that is not an
 * invite store (it is never overwritten), INVITES_EACCES, INVITES_EBUSY
 * when it cannot be opened in bounded time, INVITES_EVERSION.
 *
 * With INVITES_OPEN_RETRY, a store that cannot be opened for a cause that
 * may go away (missing, permissions, a full disk, damaged, busy) still
 * yields a handle: the failure is logged, every call on the handle fails
 * with INVITES_ERECOVER, and the open is tried again (at most every
 * 250 ms) until it succeeds.  A server then refuses what needs the store instead
 * of exiting or running without it.  A bad configuration, an unsupported
 * format (INVITES_EVERSION) and INVITES_ENOMEM are still returned.
 */
INVITES_API int invites_store_open(const struct invites_config *cfg,
                                   unsigned flags,
                                   struct invites_store **store_r);
INVITES_API void invites_store_close(struct invites_store **store);

/*
 * Create the store cfg names with its schema (migrate 0: `invitectl db
 * init`), or bring an older schema up to this program's (migrate 1:
 * `invitectl db migrate`).  The `store` key is a directory (or bdb:PATH)
 * for Berkeley DB, or a PostgreSQL URI (postgresql://...).  *found_r: the
 * format found, 0 when the store was created now; *current_r: the one in
 * place after the call (both may be NULL).  INVITES_EVERSION when the
 * store is newer than this program.
 */
INVITES_API int invites_store_init(const struct invites_config *cfg,
                                   int migrate, unsigned *found_r,
                                   unsigned *current_r);

/* What invites_store_copy() copied. */
struct invites_copy_counts {
	size_t invites, reservations, pending, roles, audit, aux;
};

/*
 * Copy every record of the store `from` names (invites, username
 * reservations, pending actions, roles, audit records with their sequence
 * numbers, API keys) into the store `to` names, created when missing,
 * between any two backends.  INVITES_EEXIST when `to` is not empty.
 * Stop the writers of `from` first: records written during the copy may
 * be missed.
 */
INVITES_API int invites_store_copy(const struct invites_config *from,
                                   const struct invites_config *to,
                                   struct invites_copy_counts *counts_r);

/*
 * Create an invite.  Returns its token (a secret: show it once) in
 * token_r (INVITES_TOKEN_MAX + 1 bytes) and, when inv_r is not NULL, the
 * stored invite.  Checks: domain served, usernames valid (and, for an
 * account invite, not reserved by another pending invite), kind/field
 * combinations, the inviter's limit (max_invites_per_user counts pending
 * invites created by the same inviter).
 */
INVITES_API int invites_create(struct invites_store *st,
                               const struct invites_config *cfg,
                               const struct invites_spec *spec,
                               char *token_r, size_t token_size,
                               struct invites_invite **inv_r);

/* Look up by token (hashes it).  INVITES_ENOTFOUND when absent. */
INVITES_API int invites_get_by_token(struct invites_store *st,
                                     const char *token,
                                     struct invites_invite **inv_r);
/*
 * Look up by public id or any unambiguous prefix of it of at least 4 hex
 * digits.  INVITES_EAMBIG when the prefix matches several invites.
 */
INVITES_API int invites_get_by_id(struct invites_store *st, const char *id,
                                  struct invites_invite **inv_r);

/*
 * Use an invite, atomically across processes: in one transaction re-read
 * the invite, check it (domain, purpose, username, revoked, uses; expiry
 * only when check_expiry), count the use, record invitee as its last user,
 * release its username reservation when it is used up, store the
 * post-registration work for invitee (roles, groups, roster pairing with
 * the inviter) and append an audit record.  Exactly one of several racing
 * consumers of a single-use token succeeds.  Returns the invite as it was
 * after the use through inv_r (may be NULL).
 */
INVITES_API int invites_consume(struct invites_store *st, const char *token,
                                const char *domain,
                                enum invites_purpose purpose,
                                const char *username, const char *invitee,
                                int check_expiry, int64_t now,
                                struct invites_invite **inv_r);

/*
 * Undo one use of a consume whose follow-up failed (the host could not
 * create the account): uses - 1, reservation restored, pending work for
 * invitee dropped, audit "unused".  Idempotent per invitee.
 */
INVITES_API int invites_unconsume(struct invites_store *st, const char *token,
                                  const char *invitee);

/* Revoke by id (or prefix) or by token.  actor is recorded in the audit. */
INVITES_API int invites_revoke(struct invites_store *st, const char *id_or_token,
                               const char *actor,
                               struct invites_invite **inv_r);

/*
 * Re-issue: a new token with the same settings (and a fresh expiry when
 * expires is 0); the old invite is revoked in the same transaction.
 */
INVITES_API int invites_reissue(struct invites_store *st,
                                const struct invites_config *cfg,
                                const char *id, const char *actor,
                                int64_t expires, char *token_r,
                                size_t token_size,
                                struct invites_invite **inv_r);

/* Filter for invites_list(); zeroed means "everything pending". */
struct invites_filter {
	const char *domain;   /* NULL: any */
	const char *inviter;  /* NULL: any */
	enum invites_kind kind; /* 0: any */
	int all;              /* 0: pending only (usable now); 1: everything */
	int64_t now;          /* 0: time(NULL) */
};

/* Called per invite; return non-zero to stop (returned by invites_list). */
typedef int invites_list_fn(void *ctx, const struct invites_invite *inv);

INVITES_API int invites_list(struct invites_store *st,
                             const struct invites_filter *filter,
                             invites_list_fn *fn, void *ctx);

/*
 * Delete every invite that expired before now (and used-up or revoked
 * invites older than `purge_grace`), through the expiry index: the cost
 * is what expires, not what is stored.  Audit "purged" per invite.
 */
INVITES_API int invites_purge(struct invites_store *st, int64_t now,
                              size_t *purged_r);

struct invites_stats {
	size_t total;      /* invites stored */
	size_t pending;    /* usable now */
	size_t expired;
	size_t used_up;
	size_t revoked;
	size_t by_kind[4]; /* index by enum invites_kind */
	size_t audit_records;
	size_t pending_actions;
	uint64_t data_bytes;  /* size of the database files */
	uint64_t log_bytes;   /* size of the transaction logs */
	int64_t oldest_expiry; /* 0 when empty */
};

INVITES_API int invites_stats_get(struct invites_store *st, int64_t now,
                                  struct invites_stats *stats);

/* Count pending invites created by inviter (bare JID). */
INVITES_API int invites_count_by_inviter(struct invites_store *st,
                                         const char *inviter, int64_t now,
                                         size_t *count_r);

/*
 * Username reservations: a pending account invite with a preset name
 * reserves it until it expires.  Returns 1 when domain/username is reserved
 * by a usable invite other than except_hash (may be NULL), 0 when free, or a
 * negative error.
 */
INVITES_API int invites_username_reserved(struct invites_store *st,
                                          const char *domain,
                                          const char *username,
                                          const unsigned char *except_hash,
                                          int64_t now);

/* ------------------------------------------------------------------ */
/* Post-registration work and roles                                    */
/* ------------------------------------------------------------------ */

/*
 * The work the session side (sm) does for a user created through an
 * invite: roles and groups to assign, a contact to pair with mutually.
 */
struct invites_pending {
	char *jid;          /* the new user's bare JID */
	char *invite_id;    /* public id of the invite used */
	char *pair_with;    /* inviter's bare JID for a mutual subscription, or NULL */
	char **roles;
	size_t n_roles;
	char **groups;
	size_t n_groups;
	int64_t created;
};

INVITES_API void invites_pending_free(struct invites_pending **p);
/*
 * Take (read and delete, atomically) the pending work for jid.
 * INVITES_ENOTFOUND when there is none.
 */
INVITES_API int invites_pending_take(struct invites_store *st, const char *jid,
                                     struct invites_pending **p_r);
/* Read without deleting. */
INVITES_API int invites_pending_get(struct invites_store *st, const char *jid,
                                    struct invites_pending **p_r);

/* Roles granted to users through invites (and by admins). */
INVITES_API int invites_roles_get(struct invites_store *st, const char *jid,
                                  char ***roles_r, size_t *n_r);
INVITES_API int invites_roles_add(struct invites_store *st, const char *jid,
                                  const char *role);
INVITES_API int invites_roles_remove(struct invites_store *st, const char *jid,
                                     const char *role);
/* 1 when jid has role, 0 when not, negative on error. */
INVITES_API int invites_has_role(struct invites_store *st, const char *jid,
                                 const char *role);

/* ------------------------------------------------------------------ */
/* Audit                                                               */
/* ------------------------------------------------------------------ */

enum invites_event {
	INVITES_EV_CREATED = 1,
	INVITES_EV_USED = 2,
	INVITES_EV_REVOKED = 3,
	INVITES_EV_PURGED = 4,
	INVITES_EV_UNUSED = 5,   /* a use undone (host failed after consume) */
	INVITES_EV_REISSUED = 6  /* a new invite replaced this one */
};

struct invites_audit {
	uint64_t seq;        /* strictly increasing */
	int64_t time;
	enum invites_event event;
	char id[INVITES_ID_LEN + 1]; /* invite's public id */
	enum invites_kind kind;
	const char *domain;
	const char *actor;   /* who did it (creator, revoker); may be NULL */
	const char *subject; /* invitee JID for "used"; new id for "reissued" */
};

INVITES_API const char *invites_event_name(enum invites_event ev);
typedef int invites_audit_fn(void *ctx, const struct invites_audit *rec);
/* Walk the audit log from record seq `from` (0: the beginning). */
INVITES_API int invites_audit_walk(struct invites_store *st, uint64_t from,
                                   invites_audit_fn *fn, void *ctx);

/* ------------------------------------------------------------------ */
/* Import from another server (invitectl import)                       */
/* ------------------------------------------------------------------ */

/*
 * One invite read from another server's storage.  The token keeps its own
 * format (any invites_token_plausible() token) and is stored hashed.  A
 * record whose uses reached max_uses (used_by set) becomes audit records
 * only ("created", then "used" by used_by) unless it was used longer ago
 * than audit_retention; an unused record that expired by `now` is skipped
 * too; any other becomes a pending invite with these
 * times, and the audit gets its "created" record (subject "import:" plus
 * source).  Strings are borrowed.
 */
struct invites_import_record {
	const char *label;       /* names the record in errors (no token) */
	const char *token;
	enum invites_kind kind;
	unsigned flags;          /* INVITES_F_REGISTER (contact + ibr=y) */
	const char *domain;
	const char *username;    /* preset name (account) or target (reset) */
	const char *inviter;     /* bare JID (pairs and is notified) or NULL */
	const char *created_by;  /* actor; NULL: the inviter */
	const char *note;
	const char *const *roles;
	size_t n_roles;
	const char *const *groups;
	size_t n_groups;
	int64_t created;
	int64_t expires;
	uint32_t max_uses;       /* 0 or 1: single use */
	uint32_t uses;
	const char *used_by;     /* bare JID of the (last) invitee, or NULL */
	int64_t used_at;
};

enum invites_import_action {
	INVITES_IMPORT_PENDING = 1, /* stored as a usable invite */
	INVITES_IMPORT_AUDIT = 2,   /* used: audit records only */
	INVITES_IMPORT_SKIP = 3     /* expired, or used before the audit
	                               retention: nothing */
};

/*
 * Import n records in one transaction: all or nothing.  Every record is
 * checked first (token shape, domain served, names, kind and field
 * combinations, times; a token already stored, a name reserved twice);
 * on the first bad one returns its error, *failed_r = its index and,
 * when errmsg_r is not NULL, a message naming rec->label (free with
 * invites_free()); nothing is written.  dry_run: check only (st may then
 * be NULL: a site with no store yet has nothing to clash with).  actions_r
 * (n entries, may be NULL) receives what each record became.
 */
INVITES_API int invites_import(struct invites_store *st,
                               const struct invites_config *cfg,
                               const struct invites_import_record *recs,
                               size_t n, const char *source, int64_t now,
                               int dry_run,
                               enum invites_import_action *actions_r,
                               size_t *failed_r, char **errmsg_r);

/* ------------------------------------------------------------------ */
/* URIs and links                                                      */
/* ------------------------------------------------------------------ */

/*
 * The xmpp: URI of an invite (XEP-0401 / XEP-0379 / RFC 5122), escaped:
 *   account:            xmpp:DOMAIN?register;preauth=T
 *   account with name,
 *   reset:              xmpp:USER@DOMAIN?register;preauth=T
 *   contact:            xmpp:INVITER?roster;preauth=T
 *   contact + register: xmpp:INVITER?roster;preauth=T;ibr=y
 * Returns a string to free with invites_free().
 */
INVITES_API int invites_uri_build(const struct invites_invite *inv,
                                  const char *token, char **uri_r);
/*
 * The landing URL from template tmpl: {host}, {token}, {uri} (escaped for a
 * URL) and {uri-noscheme} are replaced.  Returns a string to free with
 * invites_free().  INVITES_EINVAL for an unknown placeholder.
 */
INVITES_API int invites_landing_url(const char *tmpl,
                                    const struct invites_invite *inv,
                                    const char *token, char **url_r);

/* A parsed invite URI. */
struct invites_uri {
	char *jid;        /* the path: a domain or a bare JID, unescaped */
	char *action;     /* "register" or "roster" */
	char *preauth;    /* the token */
	int ibr;          /* ;ibr=y present */
	char *name;       /* ;name= on roster URIs, or NULL */
};
/* Parse an xmpp: invite URI.  INVITES_EINVAL when malformed. */
INVITES_API int invites_uri_parse(const char *uri, struct invites_uri **u_r);
INVITES_API void invites_uri_free(struct invites_uri **u);

/* ------------------------------------------------------------------ */
/* API keys (the HTTP API of invites-web)                              */
/* ------------------------------------------------------------------ */

/*
 * An API key is "inv_" plus a token: INVITES_APIKEY_LEN characters.  The
 * store keeps only SHA-256 of it, with a unique name, scopes
 * ("invites:create", "invites:read", "invites:revoke", "invites:*") and
 * an optional expiry; the key itself is shown once, at creation.
 */
#define INVITES_APIKEY_LEN (4 + INVITES_TOKEN_LEN)

struct invites_apikey {
	char id[INVITES_ID_LEN + 1]; /* public id: hex prefix of the hash */
	char *name;
	char **scopes;
	size_t n_scopes;
	int64_t created;             /* Unix seconds */
	int64_t expires;             /* Unix seconds; 0: never */
};

INVITES_API void invites_apikey_free(struct invites_apikey **k);
/* 1 when scope is one of the known scopes. */
INVITES_API int invites_apikey_scope_valid(const char *scope);
/*
 * Create a key named name (A-Z a-z 0-9 . _ -, at most 64) with n_scopes
 * scopes and an absolute expiry (0: never).  The key goes to key_r
 * (INVITES_APIKEY_LEN + 1 bytes at least).  INVITES_EEXIST when the name
 * is taken, INVITES_EINVAL for a bad name or scope.
 */
INVITES_API int invites_apikey_create(struct invites_store *st,
                                      const char *name,
                                      const char *const *scopes,
                                      size_t n_scopes, int64_t expires,
                                      char *key_r, size_t key_size,
                                      struct invites_apikey **k_r);
/*
 * Check a presented key at time now (0: the current time): 0 and the key's
 * record (k_r may be NULL), INVITES_ENOTFOUND for an unknown or malformed
 * key, INVITES_EEXPIRED after its expiry.  Cheap for malformed keys.
 */
INVITES_API int invites_apikey_check(struct invites_store *st, const char *key,
                                     int64_t now, struct invites_apikey **k_r);
typedef int invites_apikey_list_fn(void *ctx, const struct invites_apikey *k);
/* Call fn per key (in hash order); non-zero from fn stops and is returned. */
INVITES_API int invites_apikey_list(struct invites_store *st,
                                    invites_apikey_list_fn *fn, void *ctx);
/* Delete the key named name_or_id (its name, or a prefix of at least 4
 * hex digits of its id); INVITES_ENOTFOUND, INVITES_EAMBIG. */
INVITES_API int invites_apikey_revoke(struct invites_store *st,
                                      const char *name_or_id,
                                      struct invites_apikey **k_r);

/* ------------------------------------------------------------------ */
/* Fault tolerance: hung calls, backup, verification                   */
/* ------------------------------------------------------------------ */

/*
 * A thread blocked inside the store behind a process that died there
 * (holding one of Berkeley DB's mutexes) can never be woken: only a new
 * process can go on.  The store's watchdog thread (INVITES_OPEN_DAEMON,
 * or any store opened after a handler is set) notices it about half a
 * second after it has found the dead process, logs one line and calls fn
 * once, from the watchdog thread, with that line.  The library itself
 * never exits: a host that has a supervisor installs a handler that logs
 * msg and calls _exit(INVITES_EXIT_HANG), and is restarted.  Process-wide;
 * NULL (the default) only logs.  Set it before opening the store.
 */
typedef void invites_hang_fn(void *ctx, const char *msg);
INVITES_API void invites_set_hang_handler(invites_hang_fn *fn, void *ctx);
/* The exit status suggested for such a handler (no sysexits(3) code). */
#define INVITES_EXIT_HANG 86

/* One checked database file: err is 0 or INVITES_ECORRUPT (detail then
 * holds Berkeley DB's first complaint, else NULL). */
typedef void invites_verify_fn(void *ctx, const char *file, int err,
                               const char *detail);

/*
 * Hot backup into dir (new, or an empty directory) while other processes
 * use the store: a checkpoint, a page-consistent copy of every database
 * file, then the logs; then the copy alone is recovered (catastrophic
 * recovery) and every database file in it verified (fn, when not NULL,
 * hears about each).  The result is a complete store directory: restore
 * it by putting it in the store's place while no process has the store
 * open.  INVITES_EEXIST when dir is not empty, INVITES_ECORRUPT when the
 * copy fails verification, INVITES_EBUSY when the logs moved on during
 * the copy (try again).
 */
INVITES_API int invites_store_backup(struct invites_store *st, const char *dir,
                                     invites_verify_fn *fn, void *ctx);
/*
 * Verify the store (or a backup) in dir without changing it or joining
 * its environment: its database files and logs are copied into a new
 * directory under tmpdir (NULL: $TMPDIR, else /tmp), recovered there and
 * verified, and the copy is removed.  Use it on a backup, or on a store
 * that no process has open; for a running store take a backup instead.
 * 0 when every file passes, INVITES_ECORRUPT when one does not,
 * INVITES_ENOSTORE when dir holds no store.
 */
INVITES_API int invites_store_verify(const char *dir, const char *tmpdir,
                                     invites_verify_fn *fn, void *ctx);

/* Free memory returned by libinvites (strings, messages). */
INVITES_API void invites_free(void *p);
/* Free an array of n strings and the array; accepts NULL. */
INVITES_API void invites_strv_free(char **v, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* INVITES_INVITES_H */
