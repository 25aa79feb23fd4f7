/* SPDX-License-Identifier: MIT */
/*
 * The public invite store API and the rules every backend shares.
 *
 * Callers of invites_create(), invites_consume() and friends reach this
 * file first: it checks arguments, normalises domains, usernames and JIDs
 * (stringprep, through jid.c), builds complete invite records, hashes
 * tokens, and then hands one whole operation to the backend (store.h),
 * which makes it atomic.  The policy a backend needs inside its
 * transaction (may this invite be used, what does a use write, when may
 * purge delete it) lives here too, as inv__* functions, so that a second
 * backend decides exactly as the first.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

struct invites_store {
	const struct inv__store_ops *ops;
	struct inv__backend *be;    /* ops->placeholder() after a failed reopen */
	unsigned flags;
	int64_t purge_grace;
	int64_t audit_retention;
	struct inv__store_params params; /* to reopen with */
	char *path;
	int64_t last_reopen;        /* monotonic ms of the last try */
	int last_rc;                /* the last failed reopen's code, logged */
	int64_t last_logged;        /* monotonic ms of that log line */
};

#define DEFAULT_PURGE_GRACE (30 * INT64_C(86400))
#define DEFAULT_AUDIT_RETENTION (365 * INT64_C(86400))
#define DEFAULT_CACHE_BYTES (UINT64_C(64) << 20)
/* At most one reopen attempt per this many seconds after a failure. */
#define REOPEN_INTERVAL_MS 250
/* Tries to draw a token whose hash is not stored yet. */
#define TOKEN_TRIES 4

/* ------------------------------------------------------------------ */
/* Shared rules                                                        */
/* ------------------------------------------------------------------ */

int
inv__usable(unsigned flags, uint32_t uses, uint32_t max_uses, int64_t expires,
            int64_t now)
{
	return !(flags & INVITES_F_REVOKED) && uses < max_uses && now < expires;
}

int
inv__invite_usable(const struct invites_invite *inv, int64_t now)
{
	return inv__usable(inv->flags, inv->uses, inv->max_uses, inv->expires,
	                   now);
}

int
inv__reserves_name(const struct invites_invite *inv)
{
	return inv->kind == INVITES_KIND_ACCOUNT && inv->username != NULL;
}

static int64_t
add_sat(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

int64_t
inv__purge_at(const struct invites_invite *inv,
              const struct inv__invite_extra *extra, int64_t purge_grace)
{
	int64_t done = 0, t;
	int finished = 0;

	if (inv->flags & INVITES_F_REVOKED) {
		done = inv->revoked;
		finished = 1;
	}
	if (inv->uses >= inv->max_uses &&
	    (!finished || extra->used_at < done)) {
		done = extra->used_at;
		finished = 1;
	}
	if (!finished)
		return inv->expires;
	t = add_sat(done, purge_grace);
	return t < inv->expires ? t : inv->expires;
}

size_t
inv__reserve_key(char *buf, size_t size, const char *domain,
                 const char *username)
{
	size_t d = strlen(domain), u = strlen(username);

	if (d + 1 + u > size)
		return 0;
	memcpy(buf, domain, d);
	buf[d] = '\0';
	memcpy(buf + d + 1, username, u);
	return d + 1 + u;
}

int
inv__ref_match(const struct inv__ref *ref,
               const unsigned char hash[INVITES_HASH_LEN])
{
	size_t full, i;

	if (ref->by_hash)
		return memcmp(ref->hash, hash, INVITES_HASH_LEN) == 0;
	full = ref->nibbles / 2;
	for (i = 0; i < full; i++)
		if (ref->hash[i] != hash[i])
			return 0;
	if (ref->nibbles % 2 && (ref->hash[full] & 0xf0) != (hash[full] & 0xf0))
		return 0;
	return 1;
}

/* Does this use create an account (rather than reset or subscribe)? */
static int
registers(const struct invites_invite *inv, enum invites_purpose purpose)
{
	if (purpose == INVITES_FOR_REGISTER)
		return 1;
	return purpose == INVITES_FOR_PREAUTH && inv->kind != INVITES_KIND_RESET;
}

int
inv__consume_check(const struct invites_invite *inv,
                   const struct inv__consume_req *req, int *check_reservation_r)
{
	int rc;

	*check_reservation_r = 0;
	rc = invites_invite_validate(inv, req->domain, req->purpose,
	                             req->username, req->now, req->check_expiry);
	if (rc != 0)
		return rc;
	/* A new account may not take a name another invite reserves; an
	 * account invite's own preset name is its own reservation. */
	if (req->username != NULL && registers(inv, req->purpose) &&
	    !inv__reserves_name(inv))
		*check_reservation_r = 1;
	return 0;
}

static int
dup_strv(char ***dst, size_t *dst_n, char *const *src, size_t n)
{
	*dst = NULL;
	*dst_n = 0;
	if (n == 0)
		return 0;
	*dst = inv__strv_dup((const char *const *)src, n);
	if (*dst == NULL)
		return INVITES_ENOMEM;
	*dst_n = n;
	return 0;
}

void
inv__audit_fill(struct invites_audit *a, enum invites_event ev,
                const struct invites_invite *inv, const char *actor,
                const char *subject, int64_t time)
{
	memset(a, 0, sizeof(*a));
	a->time = time;
	a->event = ev;
	memcpy(a->id, inv->id, sizeof(a->id));
	a->kind = inv->kind;
	a->domain = inv->domain;
	a->actor = actor;
	a->subject = subject;
}

/* Who is credited with an invite's uses in the audit. */
static const char *
inviter_of(const struct invites_invite *inv)
{
	return inv->inviter != NULL ? inv->inviter : inv->created_by;
}

int
inv__consume_apply(struct invites_invite *inv, struct inv__invite_extra *extra,
                   const struct inv__consume_req *req,
                   struct inv__consume_plan *plan)
{
	struct invites_pending *p;
	char *who;
	int reg = registers(inv, req->purpose), rc = 0;

	memset(plan, 0, sizeof(*plan));
	who = inv__strdup(req->invitee);
	if (who == NULL)
		return INVITES_ENOMEM;
	free(inv->last_used_by);
	inv->last_used_by = who;
	inv->uses++;
	extra->used_at = req->now;
	extra->purge_at = inv__purge_at(inv, extra, req->purge_grace);
	if (inv->uses >= inv->max_uses && inv__reserves_name(inv))
		plan->release_reservation = 1;

	/* Work for the session side: always for a new account (the host takes
	 * it when the user is created), otherwise only when there are roles or
	 * groups to apply; a subscription approval is handled inline. */
	if (req->purpose != INVITES_FOR_SUBSCRIBE &&
	    (reg || inv->n_roles > 0 || inv->n_groups > 0)) {
		p = inv__calloc(1, sizeof(*p));
		if (p == NULL)
			return INVITES_ENOMEM;
		plan->pending = p;
		p->created = req->now;
		p->jid = inv__strdup(req->invitee);
		p->invite_id = inv__strdup(inv->id);
		if (p->jid == NULL || p->invite_id == NULL)
			rc = INVITES_ENOMEM;
		if (rc == 0 && reg && inv->inviter != NULL &&
		    ((inv->kind == INVITES_KIND_CONTACT &&
		      (inv->flags & INVITES_F_REGISTER)) ||
		     inv->kind == INVITES_KIND_ACCOUNT)) {
			p->pair_with = inv__strdup(inv->inviter);
			if (p->pair_with == NULL)
				rc = INVITES_ENOMEM;
		}
		if (rc == 0)
			rc = dup_strv(&p->roles, &p->n_roles, inv->roles,
			              inv->n_roles);
		if (rc == 0)
			rc = dup_strv(&p->groups, &p->n_groups, inv->groups,
			              inv->n_groups);
		if (rc != 0) {
			inv__consume_plan_free(plan);
			return rc;
		}
	}
	inv__audit_fill(&plan->audit, INVITES_EV_USED, inv, inviter_of(inv),
	                inv->last_used_by, req->now);
	return 0;
}

void
inv__consume_plan_free(struct inv__consume_plan *plan)
{
	invites_pending_free(&plan->pending);
}

void
inv__unconsume_apply(struct invites_invite *inv,
                     struct inv__invite_extra *extra, const char *invitee,
                     int pending_matches, int64_t now, int64_t purge_grace,
                     struct inv__unconsume_plan *plan)
{
	int last = inv->last_used_by != NULL &&
	           strcmp(inv->last_used_by, invitee) == 0;

	memset(plan, 0, sizeof(*plan));
	if ((!pending_matches && !last) || inv->uses == 0)
		return;
	plan->undo = 1;
	inv->uses--;
	if (last) {
		free(inv->last_used_by);
		inv->last_used_by = NULL;
	}
	extra->purge_at = inv__purge_at(inv, extra, purge_grace);
	if (inv__reserves_name(inv) && inv__invite_usable(inv, now))
		plan->restore_reservation = 1;
	inv__audit_fill(&plan->audit, INVITES_EV_UNUSED, inv, inviter_of(inv),
	                invitee, now);
}

void
inv__revoke_apply(struct invites_invite *inv, struct inv__invite_extra *extra,
                  int64_t now, int64_t purge_grace)
{
	inv->flags |= INVITES_F_REVOKED;
	inv->revoked = now;
	extra->purge_at = inv__purge_at(inv, extra, purge_grace);
}

int
inv__reissue_build(const struct invites_invite *old,
                   const struct inv__reissue_req *req,
                   struct invites_invite **new_r,
                   struct inv__invite_extra *extra)
{
	struct invites_invite *n;
	int64_t expires = req->expires;
	int rc = 0;

	*new_r = NULL;
	if (old->flags & INVITES_F_REVOKED)
		return INVITES_EREVOKED;
	if (old->uses >= old->max_uses)
		return INVITES_EUSED;
	if (expires == 0)
		expires = add_sat(req->now, old->kind == INVITES_KIND_RESET
		                                ? req->reset_expiry
		                                : req->invite_expiry);
	if (expires <= req->now)
		return INVITES_EINVAL;
	n = inv__calloc(1, sizeof(*n));
	if (n == NULL)
		return INVITES_ENOMEM;
	memcpy(n->hash, req->new_hash, INVITES_HASH_LEN);
	invites_hash_id(n->hash, n->id);
	n->kind = old->kind;
	n->flags = old->flags & ~INVITES_F_REVOKED;
	n->created = req->now;
	n->expires = expires;
	n->max_uses = old->max_uses - old->uses;
#define DUP(f)                                                   \
	do {                                                     \
		if (rc == 0 && old->f != NULL &&                 \
		    (n->f = inv__strdup(old->f)) == NULL)        \
			rc = INVITES_ENOMEM;                     \
	} while (0)
	DUP(domain);
	DUP(username);
	DUP(inviter);
	DUP(created_by);
	DUP(note);
#undef DUP
	if (rc == 0)
		rc = dup_strv(&n->roles, &n->n_roles, old->roles, old->n_roles);
	if (rc == 0)
		rc = dup_strv(&n->groups, &n->n_groups, old->groups,
		              old->n_groups);
	if (rc != 0) {
		invites_invite_free(&n);
		return rc;
	}
	extra->used_at = 0;
	extra->purge_at = n->expires;
	*new_r = n;
	return 0;
}

static int
same(const char *a, size_t alen, const char *b)
{
	return a != NULL && alen == strlen(b) && memcmp(a, b, alen) == 0;
}

int
inv__filter_match(const struct inv__invite_peek *p,
                  const struct invites_filter *f)
{
	if (f->domain != NULL && !same(p->domain, p->domain_len, f->domain))
		return 0;
	if (f->inviter != NULL && !same(p->inviter, p->inviter_len, f->inviter))
		return 0;
	if (f->kind != 0 && p->kind != (int)f->kind)
		return 0;
	if (!f->all &&
	    !inv__usable(p->flags, p->uses, p->max_uses, p->expires, f->now))
		return 0;
	return 1;
}

void
inv__stats_count(struct invites_stats *st, const struct inv__invite_peek *p,
                 int64_t now)
{
	st->total++;
	if (p->kind > 0 && p->kind < 4)
		st->by_kind[p->kind]++;
	if (p->flags & INVITES_F_REVOKED)
		st->revoked++;
	else if (p->uses >= p->max_uses)
		st->used_up++;
	else if (now >= p->expires)
		st->expired++;
	else
		st->pending++;
	if (st->oldest_expiry == 0 || p->expires < st->oldest_expiry)
		st->oldest_expiry = p->expires;
}

/* ------------------------------------------------------------------ */
/* Argument checks and normalisation                                   */
/* ------------------------------------------------------------------ */

#define NORM_MAX (INVITES_JID_MAX + 1)

static int
norm_domain(const char *in, char out[NORM_MAX])
{
	if (in == NULL || *in == '\0')
		return INVITES_EINVAL;
	return invites_nameprep(in, out, NORM_MAX);
}

static int
norm_user(const char *in, char out[NORM_MAX])
{
	if (in == NULL || *in == '\0')
		return INVITES_EJID;
	return invites_nodeprep(in, out, NORM_MAX);
}

static int
norm_jid(const char *in, char out[NORM_MAX])
{
	if (in == NULL || *in == '\0')
		return INVITES_EJID;
	return invites_jid_bare(in, out, NORM_MAX);
}

/* Free text (roles, groups, actors): non-empty, bounded, no controls. */
static int
check_text(const char *s, size_t max)
{
	size_t n;

	if (s == NULL || *s == '\0')
		return INVITES_EINVAL;
	n = strlen(s);
	if (n > max)
		return INVITES_EINVAL;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return INVITES_EINVAL;
	return 0;
}

/*
 * Make sure the backend is usable before an operation.  Once it has
 * reported a failure that needs recovery (another process recovered the
 * environment, a process died inside Berkeley DB), the operation that met
 * it returned INVITES_ERECOVER, since its outcome is unknown; the next one
 * lands here, closes the failed backend and opens a fresh one (running
 * recovery if needed), so a long-lived host keeps its handle.  A reopen
 * that fails is retried at most once per REOPEN_INTERVAL_MS (a second
 * would be most of a survivor's allowance after a kill); in between,
 * calls fail fast with INVITES_ERECOVER.
 */
static int
ready(struct invites_store *st)
{
	struct inv__backend *be = NULL;
	int64_t now;
	int rc;

	if (!st->ops->failed(st->be))
		return 0;
	now = inv__monotonic_ms();
	if (st->be == st->ops->placeholder() &&
	    now - st->last_reopen < REOPEN_INTERVAL_MS)
		return INVITES_ERECOVER;
	st->last_reopen = now;
	st->ops->close(st->be);
	st->be = st->ops->placeholder();
	rc = st->ops->open(&st->params, &be);
	if (rc != 0) {
		/* one line per cause, and a reminder each minute */
		if (rc != st->last_rc || now - st->last_logged >= 60000) {
			inv__log(INVITES_LOG_ERR,
			         "invite store %s: cannot be opened: %s; trying "
			         "again every %d ms", st->path, invites_strerror(rc),
			         REOPEN_INTERVAL_MS);
			st->last_rc = rc;
			st->last_logged = now;
		}
		return rc == INVITES_ENOMEM ? rc : INVITES_ERECOVER;
	}
	inv__log(INVITES_LOG_NOTICE, "invite store %s: open again%s", st->path,
	         st->last_rc != 0 ? " after a failure" : "");
	st->last_rc = 0;
	st->params.flags &= ~INVITES_OPEN_CREATE;
	st->be = be;
	return 0;
}

static int
readable(struct invites_store *st)
{
	return st == NULL ? INVITES_EINVAL : ready(st);
}

static int
writable(struct invites_store *st)
{
	if (st == NULL)
		return INVITES_EINVAL;
	if (st->flags & INVITES_OPEN_READONLY) {
		inv__log(INVITES_LOG_ERR,
		         "invite store: write refused: opened read-only");
		return INVITES_EINVAL;
	}
	return ready(st);
}

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

/* An id prefix (4..INVITES_ID_LEN hex digits) into ref. */
static int
parse_id(const char *s, struct inv__ref *ref)
{
	size_t n, i;
	int v;

	memset(ref, 0, sizeof(*ref));
	if (s == NULL)
		return INVITES_EINVAL;
	n = strlen(s);
	if (n < 4 || n > INVITES_ID_LEN)
		return INVITES_EINVAL;
	for (i = 0; i < n; i++) {
		v = hexval((unsigned char)s[i]);
		if (v < 0)
			return INVITES_EINVAL;
		ref->hash[i / 2] |= (unsigned char)(i % 2 ? v : v << 4);
	}
	ref->nibbles = n;
	return 0;
}

/* An id prefix, or else a token. */
static int
parse_id_or_token(const char *s, struct inv__ref *ref)
{
	if (parse_id(s, ref) == 0)
		return 0;
	if (s == NULL || !invites_token_plausible(s))
		return INVITES_EINVAL;
	memset(ref, 0, sizeof(*ref));
	ref->by_hash = 1;
	invites_token_hash(s, ref->hash);
	return 0;
}

static int
token_ref(const char *token, struct inv__ref *ref)
{
	memset(ref, 0, sizeof(*ref));
	if (token == NULL || !invites_token_plausible(token))
		return INVITES_ETOKEN;
	ref->by_hash = 1;
	invites_token_hash(token, ref->hash);
	return 0;
}

static int64_t
cfg_duration(const struct invites_config *cfg, const char *key, int64_t dflt)
{
	const char *v = invites_config_get(cfg, key);
	int64_t d;

	if (v == NULL || invites_parse_duration(v, &d) != 0)
		return dflt;
	return d;
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */
/* ------------------------------------------------------------------ */

/* 1 when a failed open may succeed later without a change of
 * configuration or program (INVITES_OPEN_RETRY). */
static int
retry_later(int rc)
{
	switch (rc) {
	case INVITES_EINVAL:
	case INVITES_ECONFIG:
	case INVITES_ENOMEM:
	case INVITES_EVERSION:
		return 0;
	default:
		return 1;
	}
}

int
invites_store_open(const struct invites_config *cfg, unsigned flags,
                   struct invites_store **store_r)
{
	struct inv__store_params p;
	struct invites_store *st;
	const char *path;
	int rc;

	if (store_r == NULL)
		return INVITES_EINVAL;
	*store_r = NULL;
	if (cfg == NULL ||
	    (flags & ~(INVITES_OPEN_CREATE | INVITES_OPEN_DAEMON |
	               INVITES_OPEN_READONLY | INVITES_OPEN_RETRY)) != 0 ||
	    ((flags & INVITES_OPEN_CREATE) && (flags & INVITES_OPEN_READONLY)))
		return INVITES_EINVAL;
	path = invites_config_store(cfg);
	if (path == NULL || *path == '\0') {
		inv__log(INVITES_LOG_ERR, "invite store: no 'store' path configured");
		return INVITES_ECONFIG;
	}
	st = inv__calloc(1, sizeof(*st));
	if (st == NULL)
		return INVITES_ENOMEM;
	st->ops = &inv__store_bdb_ops;
	rc = inv__store_pick(path, &st->ops, &path);
	if (rc != 0) {
		free(st);
		return rc;
	}
	st->flags = flags;
	st->purge_grace = cfg_duration(cfg, "purge_grace", DEFAULT_PURGE_GRACE);
	st->audit_retention = cfg_duration(cfg, "audit_retention",
	                                   DEFAULT_AUDIT_RETENTION);
	st->path = inv__strdup(path);
	if (st->path == NULL) {
		free(st);
		return INVITES_ENOMEM;
	}
	memset(&p, 0, sizeof(p));
	p.path = st->path;
	p.flags = flags;
	p.cache_bytes = DEFAULT_CACHE_BYTES;
	rc = st->ops->open(&p, &st->be);
	if (rc != 0 && (flags & INVITES_OPEN_RETRY) && retry_later(rc)) {
		/* the placeholder fails every call until ready() opens it;
		 * that open may create the store, as this one would have */
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: cannot be opened: %s; every request "
		         "that needs it fails until it can (trying again every "
		         "%d ms)", st->path, invites_strerror(rc),
		         REOPEN_INTERVAL_MS);
		st->be = st->ops->placeholder();
		st->params = p;
		st->last_reopen = inv__monotonic_ms();
		st->last_rc = rc;
		st->last_logged = st->last_reopen;
		*store_r = st;
		return 0;
	}
	if (rc != 0) {
		free(st->path);
		free(st);
		return rc;
	}
	/* a reopen never creates: the store exists by then */
	st->params = p;
	st->params.flags &= ~INVITES_OPEN_CREATE;
	*store_r = st;
	return 0;
}

void
invites_store_close(struct invites_store **store)
{
	struct invites_store *st;

	if (store == NULL || *store == NULL)
		return;
	st = *store;
	*store = NULL;
	st->ops->close(st->be);
	free(st->path);
	free(st);
}

int
inv__store_checkpoint(struct invites_store *st, int force)
{
	int rc = readable(st);

	return rc != 0 ? rc : st->ops->checkpoint(st->be, force);
}

int
inv__store_watchdog(struct invites_store *st, uint64_t *ticks_r)
{
	*ticks_r = st->ops->watchdog_ticks(st->be);
	return st->ops->failed(st->be);
}

int
inv__store_set_format(struct invites_store *st, uint32_t version)
{
	int rc = writable(st);

	return rc != 0 ? rc : st->ops->set_format(st->be, version);
}

int
inv__store_create_raw(struct invites_store *st,
                      const struct invites_invite *inv)
{
	struct inv__create_req req;
	int rc = writable(st);

	if (rc != 0)
		return rc;
	if (inv == NULL || inv->domain == NULL || inv->max_uses == 0)
		return INVITES_EINVAL;
	memset(&req, 0, sizeof(req));
	req.inv = inv;
	req.now = inv__now();
	req.extra.purge_at = inv->expires;
	return st->ops->create(st->be, &req);
}

int
inv__store_import(struct invites_store *st, struct inv__import_req *req)
{
	size_t i;
	int rc = writable(st);

	if (rc != 0)
		return rc;
	if (req == NULL || (req->n > 0 && req->items == NULL))
		return INVITES_EINVAL;
	if (st->ops->import == NULL) {
		inv__log(INVITES_LOG_ERR, "invite store %s: the %s backend "
		         "cannot import", st->path, st->ops->name);
		return INVITES_EINTERNAL;
	}
	req->failed = 0;
	for (i = 0; i < req->n; i++)
		if (req->items[i].inv != NULL)
			req->items[i].extra.purge_at =
				inv__purge_at(req->items[i].inv,
				              &req->items[i].extra,
				              st->purge_grace);
	return st->ops->import(st->be, req);
}

/* ------------------------------------------------------------------ */
/* Create                                                              */
/* ------------------------------------------------------------------ */

static int
set_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	*dst = inv__strdup(src);
	return *dst ? 0 : INVITES_ENOMEM;
}

/* Copy roles into inv, checked and without duplicates; "admin" added for
 * INVITES_F_ADMIN, and the flag set when "admin" is among them. */
static int
set_roles(struct invites_invite *inv, const char *const *roles, size_t n,
          int admin)
{
	size_t i, j, total = n + (admin ? 1 : 0);
	const char *r;
	int dup;

	if ((n > 0 && roles == NULL) || n > INV__MAX_ROLES)
		return INVITES_EINVAL;
	if (total == 0)
		return 0;
	inv->roles = inv__calloc(total, sizeof(char *));
	if (inv->roles == NULL)
		return INVITES_ENOMEM;
	for (i = 0; i < total; i++) {
		r = i < n ? roles[i] : "admin";
		if (check_text(r, INV__MAX_ROLE_LEN) != 0)
			return INVITES_EINVAL;
		dup = 0;
		for (j = 0; j < inv->n_roles; j++)
			if (strcmp(inv->roles[j], r) == 0)
				dup = 1;
		if (dup)
			continue;
		if (inv->n_roles >= INV__MAX_ROLES)
			return INVITES_EINVAL;
		inv->roles[inv->n_roles] = inv__strdup(r);
		if (inv->roles[inv->n_roles] == NULL)
			return INVITES_ENOMEM;
		inv->n_roles++;
	}
	if (invites_invite_has_role(inv, "admin"))
		inv->flags |= INVITES_F_ADMIN;
	return 0;
}

static int
set_groups(struct invites_invite *inv, const char *const *groups, size_t n)
{
	size_t i;

	if ((n > 0 && groups == NULL) || n > INV__MAX_GROUPS)
		return INVITES_EINVAL;
	for (i = 0; i < n; i++)
		if (check_text(groups[i], INV__MAX_GROUP_LEN) != 0)
			return INVITES_EINVAL;
	if (n == 0)
		return 0;
	inv->groups = inv__strv_dup(groups, n);
	if (inv->groups == NULL)
		return INVITES_ENOMEM;
	inv->n_groups = n;
	return 0;
}

/* The domain part of a normalised bare JID ("" for none). */
static const char *
jid_domain(const char *jid, int *has_local)
{
	const char *at = strchr(jid, '@');

	*has_local = at != NULL;
	return at ? at + 1 : jid;
}

/* Build the invite spec describes (everything but hash and id). */
static int
build_invite(const struct invites_config *cfg, const struct invites_spec *spec,
             int64_t now, struct invites_invite **inv_r, int *limited_r)
{
	char domain[NORM_MAX], user[NORM_MAX], inviter[NORM_MAX];
	struct invites_invite *inv;
	const char *created_by;
	int has_local, rc;

	*inv_r = NULL;
	*limited_r = 0;
	if (spec->kind != INVITES_KIND_ACCOUNT &&
	    spec->kind != INVITES_KIND_CONTACT && spec->kind != INVITES_KIND_RESET)
		return INVITES_EINVAL;
	if ((spec->flags & ~(INVITES_F_REGISTER | INVITES_F_ADMIN)) != 0)
		return INVITES_EINVAL;
	if ((spec->flags & INVITES_F_REGISTER) &&
	    spec->kind != INVITES_KIND_CONTACT)
		return INVITES_EINVAL;
	if (spec->domain == NULL || *spec->domain == '\0')
		return INVITES_EINVAL;
	rc = norm_domain(spec->domain, domain);
	if (rc != 0)
		return rc;
	if (!invites_config_serves(cfg, domain)) {
		inv__log(INVITES_LOG_NOTICE,
		         "invite store: domain '%s' is not served", domain);
		return INVITES_EDOMAIN;
	}

	/* username: preset name (account), required target (reset), none
	 * for contact invites (they name the inviter instead). */
	if (spec->username != NULL) {
		if (spec->kind == INVITES_KIND_CONTACT)
			return INVITES_EINVAL;
		rc = norm_user(spec->username, user);
		if (rc != 0)
			return rc;
	} else if (spec->kind == INVITES_KIND_RESET) {
		return INVITES_EINVAL;
	}
	if (spec->inviter != NULL) {
		rc = norm_jid(spec->inviter, inviter);
		if (rc != 0)
			return rc;
	} else if (spec->kind == INVITES_KIND_CONTACT) {
		return INVITES_EINVAL;
	}
	if (spec->kind == INVITES_KIND_CONTACT) {
		/* the invitee registers on, and subscribes to, the inviter's
		 * server: xmpp:INVITER?roster */
		const char *d = jid_domain(inviter, &has_local);

		if (!has_local || strcmp(d, domain) != 0)
			return INVITES_EINVAL;
	}
	created_by = spec->created_by != NULL ? spec->created_by : spec->inviter;
	if (spec->created_by != NULL &&
	    check_text(spec->created_by, INV__MAX_ACTOR_LEN) != 0)
		return INVITES_EINVAL;
	if (spec->note != NULL && strlen(spec->note) > INV__MAX_NOTE_LEN)
		return INVITES_EINVAL;
	if (spec->max_uses > 1 && (spec->kind == INVITES_KIND_RESET ||
	                           spec->username != NULL))
		return INVITES_EINVAL; /* a name is registered or reset once */
	if (spec->expires != 0 && spec->expires <= now)
		return INVITES_EINVAL;

	inv = inv__calloc(1, sizeof(*inv));
	if (inv == NULL)
		return INVITES_ENOMEM;
	inv->kind = spec->kind;
	inv->flags = spec->flags & INVITES_F_REGISTER;
	inv->created = now;
	inv->expires = spec->expires != 0
	                   ? spec->expires
	                   : add_sat(now, spec->kind == INVITES_KIND_RESET
	                                      ? invites_config_reset_expiry(cfg)
	                                      : invites_config_expiry(cfg));
	inv->max_uses = spec->max_uses > 1 ? spec->max_uses : 1;
	rc = set_str(&inv->domain, domain);
	if (rc == 0 && spec->username != NULL)
		rc = set_str(&inv->username, user);
	if (rc == 0 && spec->inviter != NULL)
		rc = set_str(&inv->inviter, inviter);
	if (rc == 0)
		rc = set_str(&inv->created_by,
		             spec->created_by != NULL ? spec->created_by
		             : spec->inviter != NULL ? inviter : NULL);
	if (rc == 0)
		rc = set_str(&inv->note, spec->note);
	if (rc == 0)
		rc = set_roles(inv, spec->roles, spec->n_roles,
		               (spec->flags & INVITES_F_ADMIN) != 0);
	if (rc == 0)
		rc = set_groups(inv, spec->groups, spec->n_groups);
	if (rc == 0 && inv->expires <= now)
		rc = INVITES_EINVAL;
	if (rc != 0) {
		invites_invite_free(&inv);
		return rc;
	}
	/* The per-user limit is for users creating their own invites, not
	 * for an admin acting for them (created_by names someone else). */
	*limited_r = spec->inviter != NULL &&
	             (created_by == spec->inviter ||
	              strcmp(spec->created_by, spec->inviter) == 0 ||
	              strcmp(spec->created_by, inviter) == 0);
	*inv_r = inv;
	return 0;
}

int
invites_create(struct invites_store *st, const struct invites_config *cfg,
               const struct invites_spec *spec, char *token_r,
               size_t token_size, struct invites_invite **inv_r)
{
	struct invites_invite *inv = NULL;
	struct inv__create_req req;
	char token[INVITES_TOKEN_MAX + 1];
	int64_t now;
	int limited, tries, rc;

	if (inv_r != NULL)
		*inv_r = NULL;
	if (token_r != NULL && token_size > 0)
		token_r[0] = '\0';
	rc = writable(st);
	if (rc != 0)
		return rc;
	if (cfg == NULL || spec == NULL || token_r == NULL ||
	    token_size < INVITES_TOKEN_LEN + 1)
		return INVITES_EINVAL;
	now = inv__now();
	rc = build_invite(cfg, spec, now, &inv, &limited);
	if (rc != 0)
		return rc;
	memset(&req, 0, sizeof(req));
	req.inv = inv;
	req.now = now;
	req.extra.purge_at = inv->expires;
	req.limit = limited ? invites_config_max_invites_per_user(cfg) : 0;
	rc = INVITES_EEXIST;
	for (tries = 0; tries < TOKEN_TRIES && rc == INVITES_EEXIST; tries++) {
		rc = invites_token_new(token, sizeof(token));
		if (rc != 0)
			break;
		invites_token_hash(token, inv->hash);
		invites_hash_id(inv->hash, inv->id);
		rc = st->ops->create(st->be, &req);
	}
	if (rc == 0) {
		if (strlen(token) + 1 > token_size)
			rc = INVITES_EINVAL; /* cannot happen: checked above */
		else
			memcpy(token_r, token, strlen(token) + 1);
	}
	inv__cleanse(token, sizeof(token));
	if (rc == 0 && inv_r != NULL)
		*inv_r = inv;
	else
		invites_invite_free(&inv);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Look-up                                                             */
/* ------------------------------------------------------------------ */

int
invites_get_by_token(struct invites_store *st, const char *token,
                     struct invites_invite **inv_r)
{
	struct inv__ref ref;
	int rc;

	if (inv_r == NULL)
		return INVITES_EINVAL;
	*inv_r = NULL;
	if (st == NULL)
		return INVITES_EINVAL;
	rc = token_ref(token, &ref);
	if (rc == 0)
		rc = ready(st);
	if (rc != 0)
		return rc;
	return st->ops->get(st->be, &ref, inv_r);
}

int
invites_get_by_id(struct invites_store *st, const char *id,
                  struct invites_invite **inv_r)
{
	struct inv__ref ref;
	int rc;

	if (inv_r == NULL)
		return INVITES_EINVAL;
	*inv_r = NULL;
	if (st == NULL)
		return INVITES_EINVAL;
	rc = parse_id(id, &ref);
	if (rc == 0)
		rc = ready(st);
	if (rc != 0)
		return rc;
	return st->ops->get(st->be, &ref, inv_r);
}

/* ------------------------------------------------------------------ */
/* Consume, unconsume, revoke, reissue                                 */
/* ------------------------------------------------------------------ */

int
invites_consume(struct invites_store *st, const char *token,
                const char *domain, enum invites_purpose purpose,
                const char *username, const char *invitee, int check_expiry,
                int64_t now, struct invites_invite **inv_r)
{
	char d[NORM_MAX], u[NORM_MAX], who[NORM_MAX];
	struct inv__consume_req req;
	struct inv__ref ref;
	int rc;

	if (inv_r != NULL)
		*inv_r = NULL;
	rc = writable(st);
	if (rc != 0)
		return rc;
	if (purpose != INVITES_FOR_REGISTER && purpose != INVITES_FOR_SUBSCRIBE &&
	    purpose != INVITES_FOR_RESET && purpose != INVITES_FOR_PREAUTH)
		return INVITES_EINVAL;
	rc = token_ref(token, &ref);
	if (rc != 0)
		return rc;
	rc = norm_domain(domain, d);
	if (rc != 0)
		return rc;
	if (username != NULL) {
		rc = norm_user(username, u);
		if (rc != 0)
			return rc;
	}
	if (invitee != NULL) {
		rc = norm_jid(invitee, who);
	} else if (username != NULL && purpose != INVITES_FOR_SUBSCRIBE) {
		if (strlen(u) + 1 + strlen(d) + 1 > sizeof(who))
			return INVITES_EJID;
		memcpy(who, u, strlen(u));
		who[strlen(u)] = '@';
		memcpy(who + strlen(u) + 1, d, strlen(d) + 1);
	} else {
		rc = INVITES_EINVAL;
	}
	if (rc != 0)
		return rc;
	memset(&req, 0, sizeof(req));
	memcpy(req.hash, ref.hash, INVITES_HASH_LEN);
	req.domain = d;
	req.purpose = purpose;
	req.username = username != NULL ? u : NULL;
	req.invitee = who;
	req.check_expiry = check_expiry;
	req.now = now != 0 ? now : inv__now();
	req.purge_grace = st->purge_grace;
	return st->ops->consume(st->be, &req, inv_r);
}

int
invites_unconsume(struct invites_store *st, const char *token,
                  const char *invitee)
{
	char who[NORM_MAX];
	struct inv__ref ref;
	int rc;

	rc = writable(st);
	if (rc != 0)
		return rc;
	rc = token_ref(token, &ref);
	if (rc != 0)
		return rc;
	rc = norm_jid(invitee, who);
	if (rc != 0)
		return rc;
	return st->ops->unconsume(st->be, ref.hash, who, inv__now(),
	                          st->purge_grace);
}

int
invites_revoke(struct invites_store *st, const char *id_or_token,
               const char *actor, struct invites_invite **inv_r)
{
	struct inv__ref ref;
	int rc;

	if (inv_r != NULL)
		*inv_r = NULL;
	rc = writable(st);
	if (rc != 0)
		return rc;
	rc = parse_id_or_token(id_or_token, &ref);
	if (rc != 0)
		return rc;
	if (actor != NULL && check_text(actor, INV__MAX_ACTOR_LEN) != 0)
		return INVITES_EINVAL;
	return st->ops->revoke(st->be, &ref, actor, inv__now(), st->purge_grace,
	                       inv_r);
}

int
invites_reissue(struct invites_store *st, const struct invites_config *cfg,
                const char *id, const char *actor, int64_t expires,
                char *token_r, size_t token_size,
                struct invites_invite **inv_r)
{
	struct invites_invite *inv = NULL;
	struct inv__reissue_req req;
	char token[INVITES_TOKEN_MAX + 1];
	int tries, rc;

	if (inv_r != NULL)
		*inv_r = NULL;
	if (token_r != NULL && token_size > 0)
		token_r[0] = '\0';
	rc = writable(st);
	if (rc != 0)
		return rc;
	if (cfg == NULL || token_r == NULL || token_size < INVITES_TOKEN_LEN + 1)
		return INVITES_EINVAL;
	if (actor != NULL && check_text(actor, INV__MAX_ACTOR_LEN) != 0)
		return INVITES_EINVAL;
	memset(&req, 0, sizeof(req));
	rc = parse_id_or_token(id, &req.old);
	if (rc != 0)
		return rc;
	req.actor = actor;
	req.now = inv__now();
	req.expires = expires;
	req.invite_expiry = invites_config_expiry(cfg);
	req.reset_expiry = invites_config_reset_expiry(cfg);
	req.purge_grace = st->purge_grace;
	if (expires != 0 && expires <= req.now)
		return INVITES_EINVAL;
	rc = INVITES_EEXIST;
	for (tries = 0; tries < TOKEN_TRIES && rc == INVITES_EEXIST; tries++) {
		rc = invites_token_new(token, sizeof(token));
		if (rc != 0)
			break;
		invites_token_hash(token, req.new_hash);
		rc = st->ops->reissue(st->be, &req, &inv);
	}
	if (rc == 0)
		memcpy(token_r, token, strlen(token) + 1);
	inv__cleanse(token, sizeof(token));
	if (rc == 0 && inv_r != NULL)
		*inv_r = inv;
	else
		invites_invite_free(&inv);
	return rc;
}

/* ------------------------------------------------------------------ */
/* List, purge, stats, counts, reservations                            */
/* ------------------------------------------------------------------ */

int
invites_list(struct invites_store *st, const struct invites_filter *filter,
             invites_list_fn *fn, void *ctx)
{
	char d[NORM_MAX], who[NORM_MAX];
	struct invites_filter f;
	int rc;

	if (st == NULL || fn == NULL)
		return INVITES_EINVAL;
	memset(&f, 0, sizeof(f));
	if (filter != NULL)
		f = *filter;
	if (f.kind != 0 && f.kind != INVITES_KIND_ACCOUNT &&
	    f.kind != INVITES_KIND_CONTACT && f.kind != INVITES_KIND_RESET)
		return INVITES_EINVAL;
	if (f.domain != NULL) {
		rc = norm_domain(f.domain, d);
		if (rc != 0)
			return rc;
		f.domain = d;
	}
	if (f.inviter != NULL) {
		rc = norm_jid(f.inviter, who);
		if (rc != 0)
			return rc;
		f.inviter = who;
	}
	if (f.now == 0)
		f.now = inv__now();
	rc = ready(st);
	if (rc != 0)
		return rc;
	return st->ops->list(st->be, &f, fn, ctx);
}

int
invites_purge(struct invites_store *st, int64_t now, size_t *purged_r)
{
	size_t dummy;
	int64_t before = 0;
	int rc;

	if (purged_r == NULL)
		purged_r = &dummy;
	*purged_r = 0;
	rc = writable(st);
	if (rc != 0)
		return rc;
	if (now == 0)
		now = inv__now();
	if (st->audit_retention > 0)
		before = add_sat(now, -st->audit_retention);
	return st->ops->purge(st->be, now, before, purged_r);
}

int
invites_stats_get(struct invites_store *st, int64_t now,
                  struct invites_stats *stats)
{
	int rc;

	if (st == NULL || stats == NULL)
		return INVITES_EINVAL;
	memset(stats, 0, sizeof(*stats));
	rc = ready(st);
	if (rc != 0)
		return rc;
	return st->ops->stats(st->be, now != 0 ? now : inv__now(), stats);
}

int
invites_count_by_inviter(struct invites_store *st, const char *inviter,
                         int64_t now, size_t *count_r)
{
	char who[NORM_MAX];
	int rc;

	if (count_r == NULL)
		return INVITES_EINVAL;
	*count_r = 0;
	if (st == NULL)
		return INVITES_EINVAL;
	rc = norm_jid(inviter, who);
	if (rc == 0)
		rc = ready(st);
	if (rc != 0)
		return rc;
	return st->ops->count_by_inviter(st->be, who, now != 0 ? now : inv__now(),
	                                 count_r);
}

int
invites_username_reserved(struct invites_store *st, const char *domain,
                          const char *username,
                          const unsigned char *except_hash, int64_t now)
{
	char d[NORM_MAX], u[NORM_MAX];
	int rc;

	if (st == NULL)
		return INVITES_EINVAL;
	rc = norm_domain(domain, d);
	if (rc == 0)
		rc = norm_user(username, u);
	if (rc == 0)
		rc = ready(st);
	if (rc != 0)
		return rc;
	return st->ops->reserved(st->be, d, u, except_hash,
	                         now != 0 ? now : inv__now());
}

/* ------------------------------------------------------------------ */
/* Pending work and roles                                              */
/* ------------------------------------------------------------------ */

void
invites_pending_free(struct invites_pending **pp)
{
	struct invites_pending *p;

	if (pp == NULL || *pp == NULL)
		return;
	p = *pp;
	*pp = NULL;
	free(p->jid);
	free(p->invite_id);
	free(p->pair_with);
	invites_strv_free(p->roles, p->n_roles);
	invites_strv_free(p->groups, p->n_groups);
	free(p);
}

static int
pending_op(struct invites_store *st, const char *jid, int take,
           struct invites_pending **p_r)
{
	char who[NORM_MAX];
	int rc;

	if (p_r == NULL)
		return INVITES_EINVAL;
	*p_r = NULL;
	rc = take ? writable(st) : readable(st);
	if (rc != 0)
		return rc;
	rc = norm_jid(jid, who);
	if (rc != 0)
		return rc;
	return st->ops->pending(st->be, who, take, p_r);
}

int
invites_pending_take(struct invites_store *st, const char *jid,
                     struct invites_pending **p_r)
{
	return pending_op(st, jid, 1, p_r);
}

int
invites_pending_get(struct invites_store *st, const char *jid,
                    struct invites_pending **p_r)
{
	return pending_op(st, jid, 0, p_r);
}

int
invites_roles_get(struct invites_store *st, const char *jid, char ***roles_r,
                  size_t *n_r)
{
	char who[NORM_MAX];
	int rc;

	if (roles_r == NULL || n_r == NULL)
		return INVITES_EINVAL;
	*roles_r = NULL;
	*n_r = 0;
	if (st == NULL)
		return INVITES_EINVAL;
	rc = norm_jid(jid, who);
	if (rc == 0)
		rc = ready(st);
	if (rc != 0)
		return rc;
	return st->ops->roles_get(st->be, who, roles_r, n_r);
}

static int
roles_update(struct invites_store *st, const char *jid, const char *role,
             int add)
{
	char who[NORM_MAX];
	int rc;

	rc = writable(st);
	if (rc != 0)
		return rc;
	rc = norm_jid(jid, who);
	if (rc != 0)
		return rc;
	if (check_text(role, INV__MAX_ROLE_LEN) != 0)
		return INVITES_EINVAL;
	return st->ops->roles_update(st->be, who, role, add);
}

int
invites_roles_add(struct invites_store *st, const char *jid, const char *role)
{
	return roles_update(st, jid, role, 1);
}

int
invites_roles_remove(struct invites_store *st, const char *jid,
                     const char *role)
{
	return roles_update(st, jid, role, 0);
}

int
invites_has_role(struct invites_store *st, const char *jid, const char *role)
{
	char **roles;
	size_t n, i;
	int rc, found = 0;

	if (role == NULL)
		return INVITES_EINVAL;
	rc = invites_roles_get(st, jid, &roles, &n);
	if (rc != 0)
		return rc;
	for (i = 0; i < n; i++)
		if (strcmp(roles[i], role) == 0)
			found = 1;
	invites_strv_free(roles, n);
	return found;
}

/* ------------------------------------------------------------------ */
/* Audit                                                               */
/* ------------------------------------------------------------------ */

const char *
invites_event_name(enum invites_event ev)
{
	switch (ev) {
	case INVITES_EV_CREATED:
		return "created";
	case INVITES_EV_USED:
		return "used";
	case INVITES_EV_REVOKED:
		return "revoked";
	case INVITES_EV_PURGED:
		return "purged";
	case INVITES_EV_UNUSED:
		return "unused";
	case INVITES_EV_REISSUED:
		return "reissued";
	}
	return "unknown";
}

int
invites_audit_walk(struct invites_store *st, uint64_t from,
                   invites_audit_fn *fn, void *ctx)
{
	int rc;

	if (st == NULL || fn == NULL)
		return INVITES_EINVAL;
	rc = ready(st);
	if (rc != 0)
		return rc;
	return st->ops->audit_walk(st->be, from, fn, ctx);
}

/* For apikey.c: the backend behind a store handle. */
void
inv__store_backend(struct invites_store *st, const struct inv__store_ops **ops_r,
                   struct inv__backend **be_r)
{
	(void)ready(st); /* on failure st->be answers INVITES_ERECOVER */
	*ops_r = st->ops;
	*be_r = st->be;
}
