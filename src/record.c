/* SPDX-License-Identifier: MIT */
/*
 * Binary encoding of the store's records (record.h): invites, pending
 * post-registration work, roles, audit entries and username reservations.
 * Backends store these bytes as they are, so a later backend reads what an
 * earlier one wrote.  Decoders are written for hostile input: every length
 * is checked against what remains, strings may not hold NUL bytes, and a
 * newer record version is reported rather than guessed at.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "record.h"

#define STR_NULL 0xffffffffu

void
inv__put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

void
inv__put_u64(unsigned char *p, uint64_t v)
{
	inv__put_u32(p, (uint32_t)(v >> 32));
	inv__put_u32(p + 4, (uint32_t)v);
}

uint32_t
inv__get_u32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

uint64_t
inv__get_u64(const unsigned char *p)
{
	return ((uint64_t)inv__get_u32(p) << 32) | inv__get_u32(p + 4);
}

void
inv__time_key(unsigned char key[8], int64_t t)
{
	inv__put_u64(key, (uint64_t)t ^ UINT64_C(0x8000000000000000));
}

int64_t
inv__time_from_key(const unsigned char key[8])
{
	uint64_t u = inv__get_u64(key) ^ UINT64_C(0x8000000000000000);

	return (int64_t)u;
}

/* ---- writing ---- */

static void
put_u8(struct inv__buf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;

	inv__buf_append(b, &c, 1);
}

static void
put_u32(struct inv__buf *b, uint32_t v)
{
	unsigned char p[4];

	inv__put_u32(p, v);
	inv__buf_append(b, p, 4);
}

static void
put_i64(struct inv__buf *b, int64_t v)
{
	unsigned char p[8];

	inv__put_u64(p, (uint64_t)v);
	inv__buf_append(b, p, 8);
}

/* A time that sorts as bytes (the purge index key is these 8 bytes). */
static void
put_time_key(struct inv__buf *b, int64_t t)
{
	unsigned char p[8];

	inv__time_key(p, t);
	inv__buf_append(b, p, 8);
}

static void
put_str(struct inv__buf *b, const char *s)
{
	size_t n;

	if (s == NULL) {
		put_u32(b, STR_NULL);
		return;
	}
	n = strlen(s);
	if (n >= STR_NULL) {
		b->oom = 1;
		return;
	}
	put_u32(b, (uint32_t)n);
	inv__buf_append(b, s, n);
}

static void
put_strv(struct inv__buf *b, char *const *v, size_t n)
{
	size_t i;

	put_u32(b, (uint32_t)n);
	for (i = 0; i < n; i++)
		put_str(b, v[i]);
}

static void
put_header(struct inv__buf *b, int type, unsigned a, unsigned c)
{
	put_u8(b, (unsigned)type);
	put_u8(b, INV__REC_VERSION);
	put_u8(b, a);
	put_u8(b, c);
}

static int
finish(struct inv__buf *b)
{
	return b->oom ? INVITES_ENOMEM : 0;
}

/* ---- reading ---- */

struct rd {
	const unsigned char *p;
	size_t left;
	int bad;
};

static void
rd_init(struct rd *r, const void *data, size_t len)
{
	r->p = data;
	r->left = len;
	r->bad = 0;
}

static const unsigned char *
rd_take(struct rd *r, size_t n)
{
	const unsigned char *p;

	if (r->bad || r->left < n) {
		r->bad = 1;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static unsigned
rd_u8(struct rd *r)
{
	const unsigned char *p = rd_take(r, 1);

	return p ? p[0] : 0;
}

static uint32_t
rd_u32(struct rd *r)
{
	const unsigned char *p = rd_take(r, 4);

	return p ? inv__get_u32(p) : 0;
}

static int64_t
rd_i64(struct rd *r)
{
	const unsigned char *p = rd_take(r, 8);

	return p ? (int64_t)inv__get_u64(p) : 0;
}

static int64_t
rd_time_key(struct rd *r)
{
	const unsigned char *p = rd_take(r, 8);

	return p ? inv__time_from_key(p) : 0;
}

/* A string in place: *s NULL for an absent string. */
static void
rd_strref(struct rd *r, const char **s, size_t *n)
{
	uint32_t len = rd_u32(r);
	const unsigned char *p;

	*s = NULL;
	*n = 0;
	if (r->bad || len == STR_NULL)
		return;
	p = rd_take(r, len);
	if (p == NULL)
		return;
	if (memchr(p, '\0', len) != NULL) {
		r->bad = 1;
		return;
	}
	*s = (const char *)p;
	*n = len;
}

/* A string copied; returns INVITES_ENOMEM or 0 (r->bad on malformed). */
static int
rd_str(struct rd *r, char **out)
{
	const char *s;
	size_t n;

	*out = NULL;
	rd_strref(r, &s, &n);
	if (r->bad || s == NULL)
		return 0;
	*out = inv__strndup(s, n);
	return *out ? 0 : INVITES_ENOMEM;
}

static int
rd_strv(struct rd *r, size_t max, char ***v_r, size_t *n_r)
{
	uint32_t n = rd_u32(r);
	char **v;
	size_t i;
	int rc;

	*v_r = NULL;
	*n_r = 0;
	if (r->bad)
		return 0;
	if (n > max) {
		r->bad = 1;
		return 0;
	}
	if (n == 0)
		return 0;
	v = inv__calloc(n, sizeof(*v));
	if (v == NULL)
		return INVITES_ENOMEM;
	for (i = 0; i < n; i++) {
		rc = rd_str(r, &v[i]);
		if (rc != 0 || r->bad || v[i] == NULL) {
			if (rc == 0 && v[i] == NULL)
				r->bad = 1;
			invites_strv_free(v, n);
			return rc;
		}
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

/* Check type and version of a record header. */
static int
rd_header(struct rd *r, int type, unsigned *a, unsigned *c)
{
	unsigned t = rd_u8(r), v = rd_u8(r);

	*a = rd_u8(r);
	*c = rd_u8(r);
	if (r->bad || t != (unsigned)type)
		return INVITES_ECORRUPT;
	if (v > INV__REC_VERSION)
		return INVITES_EVERSION;
	if (v < 1)
		return INVITES_ECORRUPT;
	return 0;
}

static int
rd_end(struct rd *r)
{
	return (r->bad || r->left != 0) ? INVITES_ECORRUPT : 0;
}

/* ---- invites ---- */

int
inv__record_invite_encode(struct inv__buf *b, const struct invites_invite *inv,
                          const struct inv__invite_extra *extra)
{
	put_header(b, INV__REC_INVITE, (unsigned)inv->kind, 0);
	put_u32(b, inv->flags);
	put_time_key(b, extra->purge_at);
	put_i64(b, inv->expires);
	put_i64(b, inv->created);
	put_i64(b, inv->revoked);
	put_i64(b, extra->used_at);
	put_u32(b, inv->uses);
	put_u32(b, inv->max_uses);
	put_str(b, inv->domain);
	put_str(b, inv->username);
	put_str(b, inv->inviter);
	put_str(b, inv->created_by);
	put_str(b, inv->note);
	put_str(b, inv->last_used_by);
	put_strv(b, inv->roles, inv->n_roles);
	put_strv(b, inv->groups, inv->n_groups);
	return finish(b);
}

static int
valid_kind(unsigned k)
{
	return k == INVITES_KIND_ACCOUNT || k == INVITES_KIND_CONTACT ||
	       k == INVITES_KIND_RESET;
}

int
inv__record_invite_peek(const void *data, size_t len, struct inv__invite_peek *p)
{
	struct rd r;
	unsigned kind, zero;
	const char *s;
	size_t n;
	int rc;

	if (len > INV__MAX_RECORD)
		return INVITES_ECORRUPT;
	rd_init(&r, data, len);
	rc = rd_header(&r, INV__REC_INVITE, &kind, &zero);
	if (rc != 0)
		return rc;
	p->kind = (int)kind;
	p->flags = rd_u32(&r);
	p->purge_at = rd_time_key(&r);
	p->expires = rd_i64(&r);
	p->created = rd_i64(&r);
	p->revoked = rd_i64(&r);
	p->used_at = rd_i64(&r);
	p->uses = rd_u32(&r);
	p->max_uses = rd_u32(&r);
	rd_strref(&r, &p->domain, &p->domain_len);
	rd_strref(&r, &p->username, &p->username_len);
	rd_strref(&r, &p->inviter, &p->inviter_len);
	rd_strref(&r, &s, &n); /* created_by */
	if (r.bad || !valid_kind(kind) || p->domain == NULL)
		return INVITES_ECORRUPT;
	return 0;
}

int
inv__record_invite_decode(const unsigned char hash[INVITES_HASH_LEN],
                          const void *data, size_t len,
                          struct invites_invite **inv_r,
                          struct inv__invite_extra *extra)
{
	struct invites_invite *inv;
	struct inv__invite_extra ex;
	struct rd r;
	unsigned kind, zero;
	int rc = 0;

	*inv_r = NULL;
	if (len > INV__MAX_RECORD)
		return INVITES_ECORRUPT;
	rd_init(&r, data, len);
	rc = rd_header(&r, INV__REC_INVITE, &kind, &zero);
	if (rc != 0)
		return rc;
	inv = inv__calloc(1, sizeof(*inv));
	if (inv == NULL)
		return INVITES_ENOMEM;
	memcpy(inv->hash, hash, INVITES_HASH_LEN);
	invites_hash_id(hash, inv->id);
	inv->kind = (enum invites_kind)kind;
	inv->flags = rd_u32(&r);
	ex.purge_at = rd_time_key(&r);
	inv->expires = rd_i64(&r);
	inv->created = rd_i64(&r);
	inv->revoked = rd_i64(&r);
	ex.used_at = rd_i64(&r);
	inv->uses = rd_u32(&r);
	inv->max_uses = rd_u32(&r);
	if (rc == 0)
		rc = rd_str(&r, &inv->domain);
	if (rc == 0)
		rc = rd_str(&r, &inv->username);
	if (rc == 0)
		rc = rd_str(&r, &inv->inviter);
	if (rc == 0)
		rc = rd_str(&r, &inv->created_by);
	if (rc == 0)
		rc = rd_str(&r, &inv->note);
	if (rc == 0)
		rc = rd_str(&r, &inv->last_used_by);
	if (rc == 0)
		rc = rd_strv(&r, INV__MAX_ROLES, &inv->roles, &inv->n_roles);
	if (rc == 0)
		rc = rd_strv(&r, INV__MAX_GROUPS, &inv->groups, &inv->n_groups);
	if (rc == 0 && (rd_end(&r) != 0 || !valid_kind(kind) ||
	                inv->domain == NULL || inv->max_uses == 0))
		rc = INVITES_ECORRUPT;
	if (rc != 0) {
		invites_invite_free(&inv);
		return rc;
	}
	if (extra != NULL)
		*extra = ex;
	*inv_r = inv;
	return 0;
}

/* ---- pending work ---- */

int
inv__record_pending_encode(struct inv__buf *b, const struct invites_pending *p,
                           const unsigned char inv_hash[INVITES_HASH_LEN])
{
	put_header(b, INV__REC_PENDING, 0, 0);
	put_i64(b, p->created);
	inv__buf_append(b, inv_hash, INVITES_HASH_LEN);
	put_str(b, p->pair_with);
	put_strv(b, p->roles, p->n_roles);
	put_strv(b, p->groups, p->n_groups);
	return finish(b);
}

int
inv__record_pending_decode(const char *jid, size_t jid_len, const void *data,
                           size_t len, struct invites_pending **p_r,
                           unsigned char inv_hash[INVITES_HASH_LEN])
{
	struct invites_pending *p;
	const unsigned char *h;
	struct rd r;
	unsigned a, c;
	int rc;

	*p_r = NULL;
	if (len > INV__MAX_RECORD || memchr(jid, '\0', jid_len) != NULL)
		return INVITES_ECORRUPT;
	rd_init(&r, data, len);
	rc = rd_header(&r, INV__REC_PENDING, &a, &c);
	if (rc != 0)
		return rc;
	p = inv__calloc(1, sizeof(*p));
	if (p == NULL)
		return INVITES_ENOMEM;
	p->created = rd_i64(&r);
	h = rd_take(&r, INVITES_HASH_LEN);
	p->jid = inv__strndup(jid, jid_len);
	p->invite_id = inv__malloc(INVITES_ID_LEN + 1);
	if (p->jid == NULL || p->invite_id == NULL)
		rc = INVITES_ENOMEM;
	if (rc == 0 && h != NULL) {
		invites_hash_id(h, p->invite_id);
		if (inv_hash != NULL)
			memcpy(inv_hash, h, INVITES_HASH_LEN);
	}
	if (rc == 0)
		rc = rd_str(&r, &p->pair_with);
	if (rc == 0)
		rc = rd_strv(&r, INV__MAX_ROLES, &p->roles, &p->n_roles);
	if (rc == 0)
		rc = rd_strv(&r, INV__MAX_GROUPS, &p->groups, &p->n_groups);
	if (rc == 0 && rd_end(&r) != 0)
		rc = INVITES_ECORRUPT;
	if (rc != 0) {
		invites_pending_free(&p);
		return rc;
	}
	*p_r = p;
	return 0;
}

/* ---- roles ---- */

int
inv__record_roles_encode(struct inv__buf *b, char *const *roles, size_t n)
{
	put_header(b, INV__REC_ROLES, 0, 0);
	put_strv(b, roles, n);
	return finish(b);
}

int
inv__record_roles_decode(const void *data, size_t len, char ***roles_r,
                         size_t *n_r)
{
	struct rd r;
	unsigned a, c;
	int rc;

	*roles_r = NULL;
	*n_r = 0;
	if (len > INV__MAX_RECORD)
		return INVITES_ECORRUPT;
	rd_init(&r, data, len);
	rc = rd_header(&r, INV__REC_ROLES, &a, &c);
	if (rc != 0)
		return rc;
	rc = rd_strv(&r, 1024, roles_r, n_r);
	if (rc == 0 && rd_end(&r) != 0)
		rc = INVITES_ECORRUPT;
	if (rc != 0) {
		invites_strv_free(*roles_r, *n_r);
		*roles_r = NULL;
		*n_r = 0;
	}
	return rc;
}

/* ---- audit ---- */

int
inv__record_audit_encode(struct inv__buf *b, const struct invites_audit *rec)
{
	char id[INVITES_ID_LEN];
	size_t n = strlen(rec->id);

	memset(id, 0, sizeof(id));
	memcpy(id, rec->id, n < sizeof(id) ? n : sizeof(id));
	put_header(b, INV__REC_AUDIT, (unsigned)rec->event, (unsigned)rec->kind);
	put_i64(b, rec->time);
	inv__buf_append(b, id, sizeof(id));
	put_str(b, rec->domain);
	put_str(b, rec->actor);
	put_str(b, rec->subject);
	return finish(b);
}

static int
valid_event(unsigned ev)
{
	return ev >= INVITES_EV_CREATED && ev <= INVITES_EV_REISSUED;
}

int
inv__record_audit_decode(uint64_t seq, const void *data, size_t len,
                         struct invites_audit *rec, char **strings_r)
{
	const char *s[3];
	size_t n[3], total = 0, i, j;
	const unsigned char *id;
	struct rd r;
	unsigned ev, kind;
	char *block, *q;
	int rc;

	*strings_r = NULL;
	memset(rec, 0, sizeof(*rec));
	if (len > INV__MAX_RECORD)
		return INVITES_ECORRUPT;
	rd_init(&r, data, len);
	rc = rd_header(&r, INV__REC_AUDIT, &ev, &kind);
	if (rc != 0)
		return rc;
	rec->seq = seq;
	rec->time = rd_i64(&r);
	id = rd_take(&r, INVITES_ID_LEN);
	for (i = 0; i < 3; i++) {
		rd_strref(&r, &s[i], &n[i]);
		total += n[i] + 1;
	}
	if (rd_end(&r) != 0 || !valid_event(ev) || (kind != 0 && !valid_kind(kind)))
		return INVITES_ECORRUPT;
	for (i = 0; i < INVITES_ID_LEN && id[i] != '\0'; i++)
		;
	for (j = i; j < INVITES_ID_LEN; j++)
		if (id[j] != '\0')
			return INVITES_ECORRUPT;
	block = inv__malloc(total);
	if (block == NULL)
		return INVITES_ENOMEM;
	memcpy(rec->id, id, i);
	rec->id[i] = '\0';
	rec->event = (enum invites_event)ev;
	rec->kind = (enum invites_kind)kind;
	q = block;
	for (i = 0; i < 3; i++) {
		const char *v = NULL;

		if (s[i] != NULL) {
			memcpy(q, s[i], n[i]);
			q[n[i]] = '\0';
			v = q;
			q += n[i] + 1;
		}
		if (i == 0)
			rec->domain = v;
		else if (i == 1)
			rec->actor = v;
		else
			rec->subject = v;
	}
	*strings_r = block;
	return 0;
}

/* ---- reservations ---- */

int
inv__record_reserve_encode(struct inv__buf *b,
                           const unsigned char hash[INVITES_HASH_LEN])
{
	put_header(b, INV__REC_RESERVE, 0, 0);
	inv__buf_append(b, hash, INVITES_HASH_LEN);
	return finish(b);
}

int
inv__record_reserve_decode(const void *data, size_t len,
                           unsigned char hash[INVITES_HASH_LEN])
{
	const unsigned char *h;
	struct rd r;
	unsigned a, c;
	int rc;

	rd_init(&r, data, len);
	rc = rd_header(&r, INV__REC_RESERVE, &a, &c);
	if (rc != 0)
		return rc;
	h = rd_take(&r, INVITES_HASH_LEN);
	if (rd_end(&r) != 0 || h == NULL)
		return INVITES_ECORRUPT;
	memcpy(hash, h, INVITES_HASH_LEN);
	return 0;
}
