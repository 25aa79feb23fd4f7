/* SPDX-License-Identifier: MIT */
/*
 * Token internals (token.c) for the modules that handle secrets: the
 * constant-time comparison and a hash function that reports failure.
 */
#ifndef INVITES_TOKEN_H
#define INVITES_TOKEN_H

#include <stddef.h>

/*
 * 1 when the n bytes at a and b are equal, else 0, in time that depends
 * only on n (CRYPTO_memcmp).  Use it for anything derived from a token.
 */
int inv__ct_equal(const void *a, const void *b, size_t n);

/*
 * SHA-256 of token's bytes into hash.  Returns 0, INVITES_EINVAL for a
 * NULL token, or INVITES_ENOMEM when libcrypto fails (hash then zeroed).
 * invites_token_hash() is the void public form of this.
 */
int inv__token_hash(const char *token, unsigned char *hash);

#endif /* INVITES_TOKEN_H */
