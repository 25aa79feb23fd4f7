/* SPDX-License-Identifier: MIT */
/*
 * j2common.h: helpers shared by the two jabberd2 adapters (compiled into
 * each module; nothing here is exported).
 */
#ifndef INVITES_J2COMMON_H
#define INVITES_J2COMMON_H

#include <stddef.h>

#include "j2abi.h"

/* Overwrite a buffer that held a secret (not optimised away). */
void j2_wipe(void *p, size_t n);

/*
 * Append the sibling elements of the XML fragment `xml` (e.g. stream
 * features) to nad, the top ones at depth `depth`, with their attributes
 * and namespaces.  Returns 0, or -1 when the fragment cannot be parsed.
 */
int j2_nad_append_fragment(struct j2_nad *nad, const char *xml, int depth);

/*
 * Parse a stanza the engine produced (no xmlns on its top element) into a
 * nad routed by the sm: <route/> in jabberd2's component namespace around the
 * stanza in jabber:client.  NULL when it cannot be parsed or no memory.
 */
struct j2_nad *j2_route_nad(const char *stanza);

#endif /* INVITES_J2COMMON_H */
