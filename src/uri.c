/* SPDX-License-Identifier: MIT */
/*
 * xmpp: invite URIs (XEP-0401, XEP-0379, RFC 5122 with XEP-0147 query
 * parameters) and landing-page URLs built from a template.
 *
 * Escaping rules (protocol.md 9.2): a localpart keeps RFC 3986 unreserved
 * characters and ! $ ( ) * , ; = ; everything else is percent-encoded as
 * UTF-8 octets.  '+' is always escaped, because Conversations decodes
 * values with Java's URLDecoder, which reads '+' as a space.  Query values
 * keep only unreserved characters.
 *
 * The parser takes arbitrary bytes (a fuzz target drives it): it reads at
 * most URI_MAX bytes, checks every escape, and refuses NUL after
 * unescaping.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define URI_MAX 4096
#define LOCAL_KEEP "!$()*,;="

/* ------------------------------------------------------------------ */
/* Building                                                            */
/* ------------------------------------------------------------------ */

static void
put_domain(struct inv__buf *b, const char *d)
{
	/* an IPv6 literal keeps its brackets and colons */
	inv__buf_pct(b, d, d[0] == '[' ? "[]:" : "");
}

/* A bare JID: the localpart with its escapes, '@', the domain. */
static void
put_jid(struct inv__buf *b, const char *jid)
{
	const char *at = strchr(jid, '@');
	char *local;

	if (at == NULL) {
		put_domain(b, jid);
		return;
	}
	local = inv__strndup(jid, (size_t)(at - jid));
	if (local == NULL) {
		b->oom = 1;
		return;
	}
	inv__buf_pct(b, local, LOCAL_KEEP);
	free(local);
	inv__buf_puts(b, "@");
	put_domain(b, at + 1);
}

int
invites_uri_build(const struct invites_invite *inv, const char *token,
                  char **uri_r)
{
	struct inv__buf b;

	if (uri_r == NULL)
		return INVITES_EINVAL;
	*uri_r = NULL;
	if (inv == NULL || token == NULL || *token == '\0')
		return INVITES_EINVAL;

	switch (inv->kind) {
	case INVITES_KIND_ACCOUNT:
		if (inv->domain == NULL || *inv->domain == '\0')
			return INVITES_EINVAL;
		break;
	case INVITES_KIND_RESET:
		if (inv->domain == NULL || *inv->domain == '\0' ||
		    inv->username == NULL || *inv->username == '\0')
			return INVITES_EINVAL;
		break;
	case INVITES_KIND_CONTACT:
		if (inv->inviter == NULL || *inv->inviter == '\0')
			return INVITES_EINVAL;
		break;
	default:
		return INVITES_EINVAL;
	}

	inv__buf_init(&b);
	inv__buf_puts(&b, "xmpp:");
	if (inv->kind == INVITES_KIND_CONTACT) {
		put_jid(&b, inv->inviter);
		inv__buf_puts(&b, "?roster;preauth=");
		inv__buf_pct(&b, token, "");
		if (inv->flags & INVITES_F_REGISTER)
			inv__buf_puts(&b, ";ibr=y");
	} else {
		if (inv->username != NULL && *inv->username != '\0') {
			inv__buf_pct(&b, inv->username, LOCAL_KEEP);
			inv__buf_puts(&b, "@");
		}
		put_domain(&b, inv->domain);
		inv__buf_puts(&b, "?register;preauth=");
		inv__buf_pct(&b, token, "");
	}
	*uri_r = inv__buf_steal(&b);
	return *uri_r ? INVITES_OK : INVITES_ENOMEM;
}

/* Release a string that holds a token. */
static void
free_secret(char *s)
{
	if (s != NULL) {
		inv__cleanse(s, strlen(s));
		free(s);
	}
}

int
invites_landing_url(const char *tmpl, const struct invites_invite *inv,
                    const char *token, char **url_r)
{
	struct inv__buf b;
	const char *p, *open, *close = NULL;
	char *uri = NULL;
	size_t n;
	int rc = INVITES_OK;

	if (url_r == NULL)
		return INVITES_EINVAL;
	*url_r = NULL;
	if (tmpl == NULL || inv == NULL || token == NULL || *token == '\0' ||
	    inv->domain == NULL)
		return INVITES_EINVAL;

	inv__buf_init(&b);
	for (p = tmpl; *p != '\0'; p = close + 1) {
		open = strchr(p, '{');
		if (open == NULL) {
			inv__buf_puts(&b, p);
			break;
		}
		inv__buf_append(&b, p, (size_t)(open - p));
		close = strchr(open + 1, '}');
		n = close ? (size_t)(close - open - 1) : 0;
		if (close == NULL || memchr(open + 1, '{', n) != NULL) {
			rc = INVITES_EINVAL;
			break;
		}
#define IS(name) (n == sizeof(name) - 1 && memcmp(open + 1, name, n) == 0)
		if (IS("host")) {
			put_domain(&b, inv->domain);
		} else if (IS("token")) {
			inv__buf_pct(&b, token, "");
		} else if (IS("uri") || IS("uri-noscheme")) {
			if (uri == NULL) {
				rc = invites_uri_build(inv, token, &uri);
				if (rc != INVITES_OK)
					break;
			}
			/* escaped for use anywhere in a URL */
			inv__buf_pct(&b, IS("uri") ? uri : uri + 5, "");
		} else {
			rc = INVITES_EINVAL;
			break;
		}
#undef IS
	}
	free_secret(uri);
	if (rc != INVITES_OK) {
		if (b.p != NULL)
			inv__cleanse(b.p, b.len);
		inv__buf_free(&b);
		return rc;
	}
	*url_r = inv__buf_steal(&b);
	return *url_r ? INVITES_OK : INVITES_ENOMEM;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Characters allowed unescaped in the path (a JID): unreserved,
 * sub-delims, ':' '@' '/' (a resource), '[' ']' (IPv6), and non-ASCII
 * octets (IRI form). */
static int
path_char(unsigned char c)
{
	return is_unreserved(c) || strchr("!$&'()*+,;=:@/[]", c) != NULL ||
	       c >= 0x80;
}

/*
 * Unescape s[0..n) into a new string in *out_r.  allowed() decides which
 * raw characters may appear; '%' must start a valid escape; the result
 * may not hold NUL.  Returns 0, EINVAL or ENOMEM.
 */
static int
unescape(const char *s, size_t n, int (*allowed)(unsigned char), char **out_r)
{
	char *out;
	size_t i, o = 0;

	*out_r = NULL;
	out = inv__malloc(n + 1);
	if (out == NULL)
		return INVITES_ENOMEM;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (n - i < 3)
				goto bad;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto bad;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (c != '\0' && allowed(c)) {
			out[o++] = (char)c;
		} else {
			goto bad;
		}
	}
	out[o] = '\0';
	*out_r = out;
	return INVITES_OK;
bad:
	inv__cleanse(out, n + 1);
	free(out);
	return INVITES_EINVAL;
}

void
invites_uri_free(struct invites_uri **u)
{
	if (u == NULL || *u == NULL)
		return;
	free((*u)->jid);
	free((*u)->action);
	free_secret((*u)->preauth);
	free((*u)->name);
	free(*u);
	*u = NULL;
}

int
invites_uri_parse(const char *uri, struct invites_uri **u_r)
{
	struct invites_uri *u;
	const char *p, *end, *q, *seg, *segend, *eq;
	size_t n;
	int rc, seen_ibr = 0;

	if (u_r == NULL)
		return INVITES_EINVAL;
	*u_r = NULL;
	if (uri == NULL)
		return INVITES_EINVAL;
	n = strnlen(uri, URI_MAX + 1);
	if (n > URI_MAX || n < 5 || strncasecmp(uri, "xmpp:", 5) != 0)
		return INVITES_EINVAL;
	p = uri + 5;
	end = uri + n;
	if (end - p >= 2 && p[0] == '/' && p[1] == '/')
		return INVITES_EINVAL; /* the authority form is not for invites */
	q = memchr(p, '#', (size_t)(end - p));
	if (q != NULL)
		end = q; /* a fragment is not part of the URI's meaning */
	q = memchr(p, '?', (size_t)(end - p));
	if (q == NULL || q == p)
		return INVITES_EINVAL; /* no action, or no JID */

	u = inv__calloc(1, sizeof(*u));
	if (u == NULL)
		return INVITES_ENOMEM;
	rc = unescape(p, (size_t)(q - p), path_char, &u->jid);
	if (rc != INVITES_OK)
		goto out;

	/* the action: the first segment of the query */
	seg = q + 1;
	segend = memchr(seg, ';', (size_t)(end - seg));
	if (segend == NULL)
		segend = end;
	n = (size_t)(segend - seg);
	if (n == 8 && memcmp(seg, "register", 8) == 0) {
		u->action = inv__strdup("register");
	} else if (n == 6 && memcmp(seg, "roster", 6) == 0) {
		u->action = inv__strdup("roster");
	} else {
		rc = INVITES_EINVAL;
		goto out;
	}
	if (u->action == NULL) {
		rc = INVITES_ENOMEM;
		goto out;
	}

	/* ;key=value parameters */
	while (segend < end) {
		char *val = NULL;

		seg = segend + 1;
		segend = memchr(seg, ';', (size_t)(end - seg));
		if (segend == NULL)
			segend = end;
		eq = memchr(seg, '=', (size_t)(segend - seg));
		if (eq == NULL || eq == seg) {
			rc = INVITES_EINVAL;
			goto out;
		}
		for (p = seg; p < eq; p++) {
			if (!is_unreserved((unsigned char)*p)) {
				rc = INVITES_EINVAL;
				goto out;
			}
		}
		rc = unescape(eq + 1, (size_t)(segend - eq - 1), is_unreserved, &val);
		if (rc != INVITES_OK)
			goto out;
		n = (size_t)(eq - seg);
		if (n == 7 && memcmp(seg, "preauth", 7) == 0) {
			if (u->preauth != NULL || *val == '\0') {
				free_secret(val);
				rc = INVITES_EINVAL;
				goto out;
			}
			u->preauth = val;
		} else if (n == 3 && memcmp(seg, "ibr", 3) == 0) {
			if (seen_ibr || (strcmp(val, "y") != 0 && strcmp(val, "n") != 0)) {
				free(val);
				rc = INVITES_EINVAL;
				goto out;
			}
			seen_ibr = 1;
			u->ibr = val[0] == 'y';
			free(val);
		} else if (n == 4 && memcmp(seg, "name", 4) == 0) {
			if (u->name != NULL) {
				free(val);
				rc = INVITES_EINVAL;
				goto out;
			}
			u->name = val;
		} else {
			free(val); /* unknown keys are ignored (RFC 5122) */
		}
	}
	if (u->preauth == NULL) {
		rc = INVITES_EINVAL;
		goto out;
	}
	*u_r = u;
	return INVITES_OK;
out:
	invites_uri_free(&u);
	return rc;
}
