/* SPDX-License-Identifier: MIT */
/*
 * Tokens: drawing them from OpenSSL's CSPRNG, checking their shape,
 * hashing them (the store keeps only SHA-256 of a token) and naming an
 * invite by a public id derived from that hash.  This is the only module
 * that calls libcrypto for secrets.  Stack copies of tokens and of the
 * random bytes behind them are wiped before returning.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "internal.h"
#include "token.h"

#define TOKEN_BYTES 16

static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding of n bytes into out (4 * n / 3 rounded up
 * characters and a NUL). */
static void
b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		out[o++] = b64url[in[i] >> 2];
		out[o++] = b64url[((in[i] & 0x03) << 4) | (in[i + 1] >> 4)];
		out[o++] = b64url[((in[i + 1] & 0x0f) << 2) | (in[i + 2] >> 6)];
		out[o++] = b64url[in[i + 2] & 0x3f];
	}
	if (n - i == 1) {
		out[o++] = b64url[in[i] >> 2];
		out[o++] = b64url[(in[i] & 0x03) << 4];
	} else if (n - i == 2) {
		out[o++] = b64url[in[i] >> 2];
		out[o++] = b64url[((in[i] & 0x03) << 4) | (in[i + 1] >> 4)];
		out[o++] = b64url[(in[i + 1] & 0x0f) << 2];
	}
	out[o] = '\0';
}

int
invites_token_new(char *out, size_t outsz)
{
	unsigned char raw[TOKEN_BYTES];

	if (out == NULL || outsz < INVITES_TOKEN_LEN + 1)
		return INVITES_EINVAL;
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		inv__cleanse(raw, sizeof(raw));
		out[0] = '\0';
		inv__log(INVITES_LOG_ERR, "the OpenSSL random generator failed");
		return INVITES_EINTERNAL;
	}
	b64url_encode(raw, sizeof(raw), out);
	inv__cleanse(raw, sizeof(raw));
	return INVITES_OK;
}

int
invites_token_plausible(const char *s)
{
	size_t n, i;

	if (s == NULL)
		return 0;
	n = strnlen(s, INVITES_TOKEN_MAX + 1);
	if (n < INVITES_TOKEN_MIN || n > INVITES_TOKEN_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

int
inv__token_hash(const char *token, unsigned char *hash)
{
	if (hash == NULL)
		return INVITES_EINVAL;
	if (token == NULL) {
		memset(hash, 0, INVITES_HASH_LEN);
		return INVITES_EINVAL;
	}
	/* SHA256() goes through EVP and can fail only on allocation. */
	if (SHA256((const unsigned char *)token, strlen(token), hash) == NULL) {
		memset(hash, 0, INVITES_HASH_LEN);
		inv__log(INVITES_LOG_ERR, "SHA-256 failed in libcrypto");
		return INVITES_ENOMEM;
	}
	return INVITES_OK;
}

void
invites_token_hash(const char *token, unsigned char hash[INVITES_HASH_LEN])
{
	(void)inv__token_hash(token, hash);
}

void
invites_hash_id(const unsigned char hash[INVITES_HASH_LEN],
                char id[INVITES_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	if (id == NULL)
		return;
	if (hash == NULL) {
		id[0] = '\0';
		return;
	}
	for (i = 0; i < INVITES_ID_LEN / 2; i++) {
		id[2 * i] = hex[hash[i] >> 4];
		id[2 * i + 1] = hex[hash[i] & 0xf];
	}
	id[INVITES_ID_LEN] = '\0';
}

int
inv__ct_equal(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return 1;
	if (a == NULL || b == NULL)
		return 0;
	return CRYPTO_memcmp(a, b, n) == 0;
}
