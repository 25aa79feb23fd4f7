/* SPDX-License-Identifier: MIT */
/*
 * API keys for invites-web: the presented key is checked against the
 * hashes kept in the invite store (invitectl api-key create/list/revoke).
 * Until the store offers API keys, no key is accepted.
 */
#include "config.h"

#include "http.h"

int
web__key_check(struct web *w, const char *key, char **name_r,
               char ***scopes_r, size_t *n_scopes_r)
{
	(void)w;
	(void)key;
	*name_r = NULL;
	*scopes_r = NULL;
	*n_scopes_r = 0;
	return INVITES_ENOTFOUND;
}
