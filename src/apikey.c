/* SPDX-License-Identifier: MIT */
/*
 * API keys for the HTTP API of invites-web, kept in the invite store as
 * auxiliary records: "apikey:" + hex SHA-256 of the key -> name, scopes,
 * creation and expiry.  The store never holds a usable key (only its
 * hash), so a key is shown once, at creation; it is named everywhere else
 * by its name or its public id (the first INVITES_ID_LEN hex digits of the
 * hash).  Revoking deletes the record.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store.h"

#define KEY_PREFIX  "inv_"
#define AUX_PREFIX  "apikey:"
#define NAME_MAX_LEN 64
#define MAX_SCOPES  8

static const char *const known_scopes[] = {
	"invites:create", "invites:read", "invites:revoke", "invites:*"
};

void
invites_apikey_free(struct invites_apikey **k)
{
	if (k == NULL || *k == NULL)
		return;
	free((*k)->name);
	invites_strv_free((*k)->scopes, (*k)->n_scopes);
	free(*k);
	*k = NULL;
}

int
invites_apikey_scope_valid(const char *scope)
{
	size_t i;

	if (scope == NULL)
		return 0;
	for (i = 0; i < sizeof(known_scopes) / sizeof(known_scopes[0]); i++)
		if (strcmp(scope, known_scopes[i]) == 0)
			return 1;
	return 0;
}

static int
name_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++, n++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
		      *s == '-'))
			return 0;
	return n <= NAME_MAX_LEN;
}

static void
hex_of(const unsigned char *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* "apikey:<64 hex>" of a key */
static void
aux_key_of(const char *key, char out[sizeof(AUX_PREFIX) + 2 * INVITES_HASH_LEN])
{
	unsigned char hash[INVITES_HASH_LEN];

	invites_token_hash(key, hash);
	memcpy(out, AUX_PREFIX, sizeof(AUX_PREFIX) - 1);
	hex_of(hash, sizeof(hash), out + sizeof(AUX_PREFIX) - 1);
	inv__cleanse(hash, sizeof(hash));
}

/* Record: "name\nscope,scope\ncreated\nexpires\n". */
static int
decode(const char *auxkey, const char *val, struct invites_apikey **k_r)
{
	struct invites_apikey *k;
	const char *p = val, *nl;
	char *scopes = NULL, *save = NULL, *tok;
	char *end;
	int rc = INVITES_ECORRUPT;

	*k_r = NULL;
	k = inv__calloc(1, sizeof(*k));
	if (k == NULL)
		return INVITES_ENOMEM;
	if (strlen(auxkey) < sizeof(AUX_PREFIX) - 1 + INVITES_ID_LEN)
		goto fail;
	memcpy(k->id, auxkey + sizeof(AUX_PREFIX) - 1, INVITES_ID_LEN);
	k->id[INVITES_ID_LEN] = '\0';
	if ((nl = strchr(p, '\n')) == NULL)
		goto fail;
	k->name = inv__strndup(p, (size_t)(nl - p));
	p = nl + 1;
	if ((nl = strchr(p, '\n')) == NULL)
		goto fail;
	scopes = inv__strndup(p, (size_t)(nl - p));
	p = nl + 1;
	if (k->name == NULL || scopes == NULL) {
		rc = INVITES_ENOMEM;
		goto fail;
	}
	k->scopes = inv__calloc(MAX_SCOPES, sizeof(*k->scopes));
	if (k->scopes == NULL) {
		rc = INVITES_ENOMEM;
		goto fail;
	}
	for (tok = strtok_r(scopes, ",", &save); tok && k->n_scopes < MAX_SCOPES;
	     tok = strtok_r(NULL, ",", &save)) {
		k->scopes[k->n_scopes] = inv__strdup(tok);
		if (k->scopes[k->n_scopes] == NULL) {
			rc = INVITES_ENOMEM;
			goto fail;
		}
		k->n_scopes++;
	}
	errno = 0;
	k->created = strtoll(p, &end, 10);
	if (errno || *end != '\n')
		goto fail;
	p = end + 1;
	k->expires = strtoll(p, &end, 10);
	if (errno || *end != '\n')
		goto fail;
	free(scopes);
	*k_r = k;
	return 0;
fail:
	free(scopes);
	invites_apikey_free(&k);
	return rc;
}

struct walk_ctx {
	invites_apikey_list_fn *fn;
	void *ctx;
	const char *match;       /* name or id prefix to find */
	int name_only;           /* match names only */
	char found_key[sizeof(AUX_PREFIX) + 2 * INVITES_HASH_LEN];
	int nfound;
	int rc;
};

static int
walk_one(void *ctx, const char *key, const char *val, size_t len)
{
	struct walk_ctx *w = ctx;
	struct invites_apikey *k = NULL;
	int r;

	(void)len;
	r = decode(key, val, &k);
	if (r != 0) {
		if (r == INVITES_ENOMEM) {
			w->rc = r;
			return 1;
		}
		inv__log(INVITES_LOG_WARNING, "API key record %.20s: damaged, "
		         "skipped", key);
		return 0;
	}
	if (w->match) {
		size_t ml = strlen(w->match);

		if (strcmp(k->name, w->match) == 0 ||
		    (!w->name_only && ml >= 4 && ml <= INVITES_ID_LEN &&
		     strncmp(k->id, w->match, ml) == 0)) {
			snprintf(w->found_key, sizeof(w->found_key), "%s", key);
			w->nfound++;
		}
		invites_apikey_free(&k);
		return 0;
	}
	r = w->fn(w->ctx, k);
	invites_apikey_free(&k);
	return r;
}

int
invites_apikey_list(struct invites_store *st, invites_apikey_list_fn *fn,
                    void *ctx)
{
	const struct inv__store_ops *ops;
	struct inv__backend *be;
	struct walk_ctx w;
	int r;

	if (st == NULL || fn == NULL)
		return INVITES_EINVAL;
	inv__store_backend(st, &ops, &be);
	memset(&w, 0, sizeof(w));
	w.fn = fn;
	w.ctx = ctx;
	r = ops->aux_walk(be, AUX_PREFIX, walk_one, &w);
	return w.rc ? w.rc : r;
}

/* The record key of the key named by name or id prefix. */
static int
find(struct invites_store *st, const char *name_or_id, int name_only,
     char out[sizeof(AUX_PREFIX) + 2 * INVITES_HASH_LEN])
{
	const struct inv__store_ops *ops;
	struct inv__backend *be;
	struct walk_ctx w;
	int r;

	inv__store_backend(st, &ops, &be);
	memset(&w, 0, sizeof(w));
	w.match = name_or_id;
	w.name_only = name_only;
	r = ops->aux_walk(be, AUX_PREFIX, walk_one, &w);
	if (w.rc)
		return w.rc;
	if (r < 0)
		return r;
	if (w.nfound == 0)
		return INVITES_ENOTFOUND;
	if (w.nfound > 1)
		return INVITES_EAMBIG;
	memcpy(out, w.found_key, sizeof(w.found_key));
	return 0;
}

int
invites_apikey_create(struct invites_store *st, const char *name,
                      const char *const *scopes, size_t n_scopes,
                      int64_t expires, char *key_r, size_t key_size,
                      struct invites_apikey **k_r)
{
	const struct inv__store_ops *ops;
	struct inv__backend *be;
	char token[INVITES_TOKEN_LEN + 1];
	char aux[sizeof(AUX_PREFIX) + 2 * INVITES_HASH_LEN];
	char found[sizeof(AUX_PREFIX) + 2 * INVITES_HASH_LEN];
	struct inv__buf b;
	size_t i;
	int r;

	if (k_r)
		*k_r = NULL;
	if (st == NULL || key_r == NULL || key_size < INVITES_APIKEY_LEN + 1 ||
	    !name_ok(name) || scopes == NULL || n_scopes == 0 ||
	    n_scopes > MAX_SCOPES || expires < 0)
		return INVITES_EINVAL;
	for (i = 0; i < n_scopes; i++)
		if (!invites_apikey_scope_valid(scopes[i]))
			return INVITES_EINVAL;
	r = find(st, name, 1, found);
	if (r == 0 || r == INVITES_EAMBIG)
		return INVITES_EEXIST;
	if (r != INVITES_ENOTFOUND)
		return r;
	r = invites_token_new(token, sizeof(token));
	if (r != 0)
		return r;
	snprintf(key_r, key_size, KEY_PREFIX "%s", token);
	inv__cleanse(token, sizeof(token));
	aux_key_of(key_r, aux);

	inv__buf_init(&b);
	inv__buf_printf(&b, "%s\n", name);
	for (i = 0; i < n_scopes; i++)
		inv__buf_printf(&b, "%s%s", i ? "," : "", scopes[i]);
	inv__buf_printf(&b, "\n%" PRId64 "\n%" PRId64 "\n", inv__now(), expires);
	if (b.oom) {
		inv__buf_free(&b);
		inv__cleanse(key_r, key_size);
		return INVITES_ENOMEM;
	}
	inv__store_backend(st, &ops, &be);
	r = ops->aux_put(be, aux, b.p, b.len, 1);
	if (r == 0 && k_r)
		r = decode(aux, b.p, k_r);
	inv__buf_free(&b);
	if (r != 0)
		inv__cleanse(key_r, key_size);
	return r;
}

int
invites_apikey_check(struct invites_store *st, const char *key, int64_t now,
                     struct invites_apikey **k_r)
{
	const struct inv__store_ops *ops;
	struct inv__backend *be;
	char aux[sizeof(AUX_PREFIX) + 2 * INVITES_HASH_LEN];
	struct invites_apikey *k = NULL;
	char *val = NULL;
	int r;

	if (k_r)
		*k_r = NULL;
	if (st == NULL || key == NULL)
		return INVITES_EINVAL;
	/* cheap shape check before any store access */
	if (strncmp(key, KEY_PREFIX, sizeof(KEY_PREFIX) - 1) != 0 ||
	    !invites_token_plausible(key + sizeof(KEY_PREFIX) - 1))
		return INVITES_ENOTFOUND;
	aux_key_of(key, aux);
	inv__store_backend(st, &ops, &be);
	r = ops->aux_get(be, aux, &val, NULL);
	if (r != 0)
		return r;
	r = decode(aux, val, &k);
	free(val);
	if (r != 0)
		return r;
	if (k->expires && k->expires <= (now ? now : inv__now())) {
		invites_apikey_free(&k);
		return INVITES_EEXPIRED;
	}
	if (k_r)
		*k_r = k;
	else
		invites_apikey_free(&k);
	return 0;
}

int
invites_apikey_revoke(struct invites_store *st, const char *name_or_id,
                      struct invites_apikey **k_r)
{
	const struct inv__store_ops *ops;
	struct inv__backend *be;
	char aux[sizeof(AUX_PREFIX) + 2 * INVITES_HASH_LEN];
	char *val = NULL;
	int r;

	if (k_r)
		*k_r = NULL;
	if (st == NULL || name_or_id == NULL || *name_or_id == '\0')
		return INVITES_EINVAL;
	r = find(st, name_or_id, 0, aux);
	if (r != 0)
		return r;
	inv__store_backend(st, &ops, &be);
	if (k_r) {
		r = ops->aux_get(be, aux, &val, NULL);
		if (r == 0)
			r = decode(aux, val, k_r);
		free(val);
		if (r != 0)
			return r;
	}
	r = ops->aux_del(be, aux);
	if (r != 0 && k_r)
		invites_apikey_free(k_r);
	return r;
}
