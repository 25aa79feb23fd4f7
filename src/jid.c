/* SPDX-License-Identifier: MIT */
/*
 * JIDs: normalisation of usernames (Nodeprep), domains (Nameprep plus the
 * domain rules of RFC 6122/7622) and bare JIDs, with libidn's stringprep,
 * the library jabberd2 itself uses, so that a name normalised here matches
 * the name the server stores.  Callers pass normalised values to the store;
 * this is the one place where normalisation happens.
 *
 * Limits: each part is at most 1023 octets before and after preparation;
 * input must be well-formed UTF-8.  Unassigned code points are allowed
 * (stringprep flags 0), as jabberd2 allows them.
 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include <stringprep.h>

#include "internal.h"

#define PART_MAX 1023

/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, surrogates, or code
 * points above U+10FFFF), without NUL bytes. */
static int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len, k;
		uint32_t cp;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += len;
	}
	return 1;
}

/* Prepare in[0..n) with profile into buf (PART_MAX + 1 bytes). */
static int
prep_part(const char *in, size_t n, const Stringprep_profile *profile,
          char *buf)
{
	if (n == 0 || n > PART_MAX)
		return INVITES_EJID;
	if (!utf8_valid((const unsigned char *)in, n))
		return INVITES_EJID;
	memcpy(buf, in, n);
	buf[n] = '\0';
	/* Fails with STRINGPREP_TOO_SMALL_BUFFER when the result would
	 * exceed PART_MAX octets. */
	if (stringprep(buf, PART_MAX + 1, 0, profile) != STRINGPREP_OK)
		return INVITES_EJID;
	if (buf[0] == '\0') /* everything was mapped to nothing */
		return INVITES_EJID;
	return INVITES_OK;
}

static int
copy_out(const char *s, char *out, size_t outsz)
{
	size_t n = strlen(s);

	if (n + 1 > outsz)
		return INVITES_EINVAL;
	memcpy(out, s, n + 1);
	return INVITES_OK;
}

static int
nodeprep_part(const char *in, size_t n, char *buf)
{
	return prep_part(in, n, stringprep_xmpp_nodeprep, buf);
}

/* An IPv6 literal "[...]" in in[0..n): canonical form into buf. */
static int
ipv6_literal(const char *in, size_t n, char *buf)
{
	char addr[64];
	unsigned char bin[16];
	char text[INET6_ADDRSTRLEN];

	if (n < 3 || in[n - 1] != ']' || n - 2 >= sizeof(addr))
		return INVITES_EJID;
	memcpy(addr, in + 1, n - 2);
	addr[n - 2] = '\0';
	if (inet_pton(AF_INET6, addr, bin) != 1)
		return INVITES_EJID;
	if (inet_ntop(AF_INET6, bin, text, sizeof(text)) == NULL)
		return INVITES_EJID;
	buf[0] = '[';
	memcpy(buf + 1, text, strlen(text));
	buf[1 + strlen(text)] = ']';
	buf[2 + strlen(text)] = '\0';
	return INVITES_OK;
}

/* Nameprep and the domain rules for in[0..n), into buf. */
static int
nameprep_part(const char *in, size_t n, char *buf)
{
	size_t i, o, label;
	int rc;

	if (n > 0 && in[0] == '[')
		return ipv6_literal(in, n, buf);
	rc = prep_part(in, n, stringprep_nameprep, buf);
	if (rc != INVITES_OK)
		return rc;

	/* U+3002 IDEOGRAPHIC FULL STOP separates labels too (RFC 3490 3.1;
	 * Nameprep has already mapped U+FF0E to '.' and U+FF61 to U+3002). */
	for (i = 0, o = 0; buf[i] != '\0'; ) {
		if ((unsigned char)buf[i] == 0xe3 &&
		    (unsigned char)buf[i + 1] == 0x80 &&
		    (unsigned char)buf[i + 2] == 0x82) {
			buf[o++] = '.';
			i += 3;
		} else {
			buf[o++] = buf[i++];
		}
	}
	buf[o] = '\0';

	/* One final dot is stripped (RFC 7622 3.2). */
	if (o > 0 && buf[o - 1] == '.')
		buf[--o] = '\0';
	if (o == 0)
		return INVITES_EJID;

	/* No empty labels; ASCII limited to what a host name may hold (and
	 * '_', which service names use); all-ASCII labels <= 63 octets. */
	label = 0;
	{
		int ascii_label = 1;

		for (i = 0; i <= o; i++) {
			unsigned char c = (unsigned char)buf[i];

			if (c == '.' || c == '\0') {
				if (label == 0)
					return INVITES_EJID;
				if (ascii_label && label > 63)
					return INVITES_EJID;
				label = 0;
				ascii_label = 1;
				continue;
			}
			label++;
			if (c >= 0x80) {
				ascii_label = 0;
				continue;
			}
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			      c == '-' || c == '_'))
				return INVITES_EJID;
		}
	}
	return INVITES_OK;
}

int
invites_nodeprep(const char *in, char *out, size_t outsz)
{
	char buf[PART_MAX + 1];
	int rc;

	if (in == NULL || out == NULL || outsz == 0)
		return INVITES_EINVAL;
	rc = nodeprep_part(in, strnlen(in, PART_MAX + 1), buf);
	if (rc == INVITES_OK)
		rc = copy_out(buf, out, outsz);
	return rc;
}

int
invites_nameprep(const char *in, char *out, size_t outsz)
{
	char buf[PART_MAX + 1];
	int rc;

	if (in == NULL || out == NULL || outsz == 0)
		return INVITES_EINVAL;
	rc = nameprep_part(in, strnlen(in, PART_MAX + 1), buf);
	if (rc == INVITES_OK)
		rc = copy_out(buf, out, outsz);
	return rc;
}

int
invites_jid_bare(const char *in, char *out, size_t outsz)
{
	char local[PART_MAX + 1], domain[PART_MAX + 1], res[PART_MAX + 1];
	const char *slash, *at, *dom;
	size_t n, end, llen, dlen;
	int rc;

	if (in == NULL || out == NULL || outsz == 0)
		return INVITES_EINVAL;
	n = strnlen(in, 3 * PART_MAX + 3);
	if (n > 3 * PART_MAX + 2)
		return INVITES_EJID;

	slash = memchr(in, '/', n);
	end = slash ? (size_t)(slash - in) : n;
	at = memchr(in, '@', end);

	if (slash != NULL) {
		/* The resource is dropped, but only from a well-formed JID. */
		rc = prep_part(slash + 1, n - end - 1,
		               stringprep_xmpp_resourceprep, res);
		if (rc != INVITES_OK)
			return rc;
	}
	if (at != NULL) {
		llen = (size_t)(at - in);
		rc = nodeprep_part(in, llen, local);
		if (rc != INVITES_OK)
			return rc;
		dom = at + 1;
	} else {
		local[0] = '\0';
		dom = in;
	}
	rc = nameprep_part(dom, end - (size_t)(dom - in), domain);
	if (rc != INVITES_OK)
		return rc;

	llen = strlen(local);
	dlen = strlen(domain);
	if ((llen ? llen + 1 : 0) + dlen + 1 > outsz)
		return INVITES_EINVAL;
	if (llen) {
		memcpy(out, local, llen);
		out[llen] = '@';
		memcpy(out + llen + 1, domain, dlen + 1);
	} else {
		memcpy(out, domain, dlen + 1);
	}
	return INVITES_OK;
}
