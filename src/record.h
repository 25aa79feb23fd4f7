/* SPDX-License-Identifier: MIT */
/*
 * Versioned binary records of the invite store, shared by every backend.
 *
 * Each value starts with a type byte and a version byte; integers are
 * big-endian; a string is a u32 length (0xffffffff for NULL) followed by
 * its bytes (no NUL, none inside).  A decoder refuses a newer version with
 * INVITES_EVERSION and anything malformed with INVITES_ECORRUPT, never
 * reading outside the buffer.
 *
 * Invite record, version 1 (the key is the 32-byte SHA-256 of the token):
 *   0  u8  'I'           1  u8  version        2  u8  kind    3  u8  0
 *   4  u32 flags
 *   8  t64 purge_at      the expiry index key: when purge may delete it,
 *                        as inv__time_key() bytes (sort order = time order)
 *   16 i64 expires       24 i64 created        32 i64 revoked
 *   40 i64 used_at       48 u32 uses           52 u32 max_uses
 *   56 strings domain, username, inviter, created_by, note, last_used_by
 *      u32 n_roles + strings, u32 n_groups + strings
 */
#ifndef INVITES_RECORD_H
#define INVITES_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define INV__REC_VERSION 1

#define INV__REC_INVITE  'I'
#define INV__REC_PENDING 'P'
#define INV__REC_ROLES   'R'
#define INV__REC_AUDIT   'A'
#define INV__REC_RESERVE 'S'

/* Offset and size of the expiry index key in an invite record. */
#define INV__REC_INVITE_PURGE_OFF 8
#define INV__REC_INVITE_FIXED 56

/* Bounds enforced on what is stored (create refuses more: INVITES_EINVAL). */
#define INV__MAX_ROLES 32
#define INV__MAX_GROUPS 32
#define INV__MAX_ROLE_LEN 255
#define INV__MAX_GROUP_LEN 1023
#define INV__MAX_NOTE_LEN 4096
#define INV__MAX_ACTOR_LEN 3071
/* A decoder refuses records larger than this. */
#define INV__MAX_RECORD (1024 * 1024)

/* Store-internal fields of an invite that the public struct does not carry. */
struct inv__invite_extra {
	int64_t used_at;  /* time of the last use, 0 when never used */
	int64_t purge_at; /* when purge may delete it (see store.c) */
};

/* A cheap view of an invite record for filters and counts (no copies). */
struct inv__invite_peek {
	int kind;
	unsigned flags;
	int64_t purge_at;
	int64_t expires;
	int64_t created;
	int64_t revoked;
	int64_t used_at;
	uint32_t uses;
	uint32_t max_uses;
	const char *domain;   /* not NUL-terminated; NULL when absent */
	size_t domain_len;
	const char *username;
	size_t username_len;
	const char *inviter;
	size_t inviter_len;
};

/* Big-endian helpers (also used by the backends for keys). */
void inv__put_u32(unsigned char *p, uint32_t v);
void inv__put_u64(unsigned char *p, uint64_t v);
uint32_t inv__get_u32(const unsigned char *p);
uint64_t inv__get_u64(const unsigned char *p);
/* An 8-byte key that sorts like the signed value t. */
void inv__time_key(unsigned char key[8], int64_t t);
int64_t inv__time_from_key(const unsigned char key[8]);

/* Invites.  encode: 0 or INVITES_ENOMEM (b holds the record). */
int inv__record_invite_encode(struct inv__buf *b,
                              const struct invites_invite *inv,
                              const struct inv__invite_extra *extra);
/* hash is the record's key.  extra may be NULL. */
int inv__record_invite_decode(const unsigned char hash[INVITES_HASH_LEN],
                              const void *data, size_t len,
                              struct invites_invite **inv_r,
                              struct inv__invite_extra *extra);
int inv__record_invite_peek(const void *data, size_t len,
                            struct inv__invite_peek *p);

/* Pending post-registration work; the key is the JID.  inv_hash names the
 * invite that created it (for unconsume). */
int inv__record_pending_encode(struct inv__buf *b,
                               const struct invites_pending *p,
                               const unsigned char inv_hash[INVITES_HASH_LEN]);
int inv__record_pending_decode(const char *jid, size_t jid_len,
                               const void *data, size_t len,
                               struct invites_pending **p_r,
                               unsigned char inv_hash[INVITES_HASH_LEN]);

/* Roles of a user; the key is the JID. */
int inv__record_roles_encode(struct inv__buf *b, char *const *roles,
                             size_t n);
int inv__record_roles_decode(const void *data, size_t len, char ***roles_r,
                             size_t *n_r);

/* Audit; the key is the 8-byte big-endian sequence number.  The strings of
 * the decoded record point into *strings_r (free it with free()). */
int inv__record_audit_encode(struct inv__buf *b,
                             const struct invites_audit *rec);
int inv__record_audit_decode(uint64_t seq, const void *data, size_t len,
                             struct invites_audit *rec, char **strings_r);

/* Username reservation: domain NUL username -> invite hash. */
int inv__record_reserve_encode(struct inv__buf *b,
                               const unsigned char hash[INVITES_HASH_LEN]);
int inv__record_reserve_decode(const void *data, size_t len,
                               unsigned char hash[INVITES_HASH_LEN]);

#endif /* INVITES_RECORD_H */
