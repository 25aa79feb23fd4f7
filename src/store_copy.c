/* SPDX-License-Identifier: MIT */
/*
 * Which backend a `store` value names, and whole-store operations that
 * work across backends: creating or upgrading a store's schema
 * (`invitectl db init` / `db migrate`) and copying every record of one
 * store into another (`invitectl store copy`), Berkeley DB to PostgreSQL
 * and back.
 *
 * A copy moves the records in the encoding of record.h, kind by kind
 * (invites, reservations, pending work, roles, audit, API keys), in
 * batches of one transaction each, into a destination that must be
 * empty: nothing is merged or overwritten, audit sequence numbers are
 * kept, and a copy that fails part way leaves a destination to drop and
 * copy again.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "store.h"

#define COPY_BATCH 500

static int
has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

int
inv__store_is_pg(const char *store)
{
	return store != NULL && (has_prefix(store, "postgresql://") ||
	                         has_prefix(store, "postgres://"));
}

int
inv__store_pick(const char *store, const struct inv__store_ops **ops_r,
                const char **spec_r)
{
	*spec_r = store;
	if (inv__store_is_pg(store)) {
#ifdef HAVE_POSTGRESQL
		*ops_r = &inv__store_pg_ops;
		return 0;
#else
		inv__log(INVITES_LOG_ERR,
		         "invite store: a PostgreSQL store is configured, but this "
		         "program was built without PostgreSQL support");
		return INVITES_ECONFIG;
#endif
	}
	if (has_prefix(store, "bdb:"))
		*spec_r = store + 4;
	if (**spec_r == '\0') {
		inv__log(INVITES_LOG_ERR, "invite store: no path after 'bdb:'");
		return INVITES_ECONFIG;
	}
	*ops_r = &inv__store_bdb_ops;
	return 0;
}

/* A URI's password ("user:PASSWORD@" or "password=...") becomes "***". */
char *
inv__store_display(const char *store)
{
	struct inv__buf b;
	const char *p, *at, *colon, *slash, *q;

	if (store == NULL)
		return inv__strdup("(none)");
	if (!inv__store_is_pg(store))
		return inv__strdup(store);
	inv__buf_init(&b);
	p = strstr(store, "://") + 3;
	inv__buf_append(&b, store, (size_t)(p - store));
	slash = p + strcspn(p, "/?");
	at = memchr(p, '@', (size_t)(slash - p));
	if (at != NULL) {
		colon = memchr(p, ':', (size_t)(at - p));
		if (colon != NULL) {
			inv__buf_append(&b, p, (size_t)(colon - p));
			inv__buf_puts(&b, ":***");
			p = at;
		}
	}
	/* the rest, with password=VALUE masked in the query */
	while (*p != '\0') {
		q = strstr(p, "password=");
		if (q == NULL || (q != p && q[-1] != '?' && q[-1] != '&')) {
			if (q == NULL) {
				inv__buf_puts(&b, p);
				break;
			}
			inv__buf_append(&b, p, (size_t)(q - p) + 1);
			p = q + 1;
			continue;
		}
		inv__buf_append(&b, p, (size_t)(q - p) + 9);
		inv__buf_puts(&b, "***");
		p = q + 9 + strcspn(q + 9, "&");
	}
	return inv__buf_steal(&b);
}

/* ------------------------------------------------------------------ */
/* Schema                                                              */
/* ------------------------------------------------------------------ */

int
invites_store_init(const struct invites_config *cfg, int migrate,
                   unsigned *found_r, unsigned *current_r)
{
	const struct inv__store_ops *ops;
	struct invites_store *st = NULL;
	const char *store, *spec;
	unsigned found = 0, current = INV__STORE_FORMAT;
	int rc;

	if (found_r != NULL)
		*found_r = 0;
	if (current_r != NULL)
		*current_r = 0;
	if (cfg == NULL)
		return INVITES_EINVAL;
	store = invites_config_store(cfg);
	if (store == NULL || *store == '\0')
		return INVITES_ECONFIG;
	rc = inv__store_pick(store, &ops, &spec);
	if (rc != 0)
		return rc;
#ifdef HAVE_POSTGRESQL
	if (ops == &inv__store_pg_ops) {
		rc = inv__pg_schema(spec, migrate, &found, &current);
		goto out;
	}
#endif
	/* Berkeley DB has one format so far: open it, or create it */
	rc = invites_store_open(cfg, 0, &st);
	if (rc == 0) {
		found = INV__STORE_FORMAT;
	} else if (rc == INVITES_ENOSTORE && !migrate) {
		rc = invites_store_open(cfg, INVITES_OPEN_CREATE, &st);
		found = 0;
	}
	invites_store_close(&st);
#ifdef HAVE_POSTGRESQL
out:
#endif
	if (rc == 0 && found_r != NULL)
		*found_r = found;
	if (rc == 0 && current_r != NULL)
		*current_r = current;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Copy                                                                */
/* ------------------------------------------------------------------ */

struct copy_ctx {
	const struct inv__store_ops *ops;  /* destination */
	struct inv__backend *be;
	struct inv__raw recs[COPY_BATCH];
	void *mem[COPY_BATCH];
	size_t n;
	size_t count;
	int rc;
};

static void
copy_reset(struct copy_ctx *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		inv__cleanse(c->mem[i], c->recs[i].klen + c->recs[i].vlen);
		free(c->mem[i]);
	}
	c->n = 0;
}

static int
copy_flush(struct copy_ctx *c)
{
	int rc = 0;

	if (c->n > 0)
		rc = c->ops->raw_load(c->be, c->recs, c->n);
	copy_reset(c);
	return rc;
}

static int
copy_one(void *ctx, const struct inv__raw *r)
{
	struct copy_ctx *c = ctx;
	unsigned char *m;

	m = inv__malloc(r->klen + r->vlen + 1);
	if (m == NULL) {
		c->rc = INVITES_ENOMEM;
		return 1;
	}
	memcpy(m, r->key, r->klen);
	memcpy(m + r->klen, r->val, r->vlen);
	c->mem[c->n] = m;
	c->recs[c->n] = *r;
	c->recs[c->n].key = m;
	c->recs[c->n].val = m + r->klen;
	c->n++;
	c->count++;
	if (c->n == COPY_BATCH) {
		c->rc = copy_flush(c);
		if (c->rc != 0)
			return 1;
	}
	return 0;
}

static int
any_record(void *ctx, const struct inv__raw *r)
{
	(void)r;
	*(int *)ctx = 1;
	return 1;
}

static const char *
kind_name(int kind)
{
	static const char *const names[] = {
		"", "invites", "reservations", "pending actions", "roles",
		"audit records", "API keys"
	};

	return kind > 0 && kind <= INV__RAW_KINDS ? names[kind] : "?";
}

int
invites_store_copy(const struct invites_config *from,
                   const struct invites_config *to,
                   struct invites_copy_counts *counts_r)
{
	const struct inv__store_ops *sops, *dops;
	struct invites_store *src = NULL, *dst = NULL;
	struct inv__backend *sbe, *dbe;
	struct copy_ctx *c = NULL;
	size_t counts[INV__RAW_KINDS + 1];
	int kind, found = 0, rc;

	if (counts_r != NULL)
		memset(counts_r, 0, sizeof(*counts_r));
	if (from == NULL || to == NULL)
		return INVITES_EINVAL;
	memset(counts, 0, sizeof(counts));
	rc = invites_store_open(from, INVITES_OPEN_READONLY, &src);
	if (rc == 0)
		rc = invites_store_open(to, INVITES_OPEN_CREATE, &dst);
	if (rc != 0)
		goto out;
	inv__store_backend(src, &sops, &sbe);
	inv__store_backend(dst, &dops, &dbe);
	if (sops->raw_walk == NULL || dops->raw_load == NULL) {
		rc = INVITES_EINTERNAL;
		goto out;
	}
	for (kind = 1; rc == 0 && kind <= INV__RAW_KINDS && !found; kind++) {
		rc = dops->raw_walk(dbe, kind, any_record, &found);
		if (rc > 0)
			rc = 0;
	}
	if (rc == 0 && found) {
		inv__log(INVITES_LOG_ERR,
		         "store copy: the destination store is not empty; copy "
		         "into a new store only");
		rc = INVITES_EEXIST;
	}
	c = rc == 0 ? inv__calloc(1, sizeof(*c)) : NULL;
	if (rc == 0 && c == NULL)
		rc = INVITES_ENOMEM;
	for (kind = 1; rc == 0 && kind <= INV__RAW_KINDS; kind++) {
		c->ops = dops;
		c->be = dbe;
		c->count = 0;
		c->rc = 0;
		rc = sops->raw_walk(sbe, kind, copy_one, c);
		if (rc > 0)
			rc = c->rc != 0 ? c->rc : INVITES_EINTERNAL;
		if (rc == 0)
			rc = copy_flush(c);
		copy_reset(c);
		if (rc != 0)
			inv__log(INVITES_LOG_ERR, "store copy: %s: %s",
			         kind_name(kind), invites_strerror(rc));
		counts[kind] = c->count;
	}
out:
	free(c);
	invites_store_close(&src);
	invites_store_close(&dst);
	if (counts_r != NULL) {
		counts_r->invites = counts[INV__RAW_INVITE];
		counts_r->reservations = counts[INV__RAW_RESERVE];
		counts_r->pending = counts[INV__RAW_PENDING];
		counts_r->roles = counts[INV__RAW_ROLES];
		counts_r->audit = counts[INV__RAW_AUDIT];
		counts_r->aux = counts[INV__RAW_AUX];
	}
	return rc;
}
