/* SPDX-License-Identifier: MIT */
/*
 * API keys for invites-web: the presented key is checked against the
 * hashes kept in the invite store (invitectl api-key create/list/revoke),
 * under the store lock like every other store call of the daemon.
 */
#include "config.h"

#include <stdlib.h>

#include "http.h"

int
web__key_check(struct web *w, const char *key, char **name_r,
               char ***scopes_r, size_t *n_scopes_r)
{
	struct invites_apikey *k = NULL;
	int r;

	*name_r = NULL;
	*scopes_r = NULL;
	*n_scopes_r = 0;
	web__store_lock(w);
	r = invites_apikey_check(w->st, key, 0, &k);
	web__store_unlock(w);
	if (r == INVITES_EEXPIRED || r == INVITES_EINVAL)
		r = INVITES_ENOTFOUND;
	if (r != 0)
		return r;
	*name_r = k->name;
	*scopes_r = k->scopes;
	*n_scopes_r = k->n_scopes;
	k->name = NULL;
	k->scopes = NULL;
	k->n_scopes = 0;
	invites_apikey_free(&k);
	return 0;
}
