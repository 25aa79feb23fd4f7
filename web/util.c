/* SPDX-License-Identifier: MIT */
/*
 * Small helpers of invites-web: HTML and XML escaping, constant-time
 * comparison, UTF-8 checks, time formatting and the public id of a token
 * (what the logs show instead of the token).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "web.h"

void
web__html_escape(struct inv__buf *b, const char *s)
{
	const char *run = s;

	if (!s)
		return;
	for (; *s; s++) {
		const char *rep;

		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		case '`': rep = "&#96;"; break;
		default: continue;
		}
		inv__buf_append(b, run, (size_t)(s - run));
		inv__buf_puts(b, rep);
		run = s + 1;
	}
	inv__buf_append(b, run, (size_t)(s - run));
}

void
web__xml_escape(struct inv__buf *b, const char *s)
{
	const char *run = s;

	if (!s)
		return;
	for (; *s; s++) {
		const char *rep;

		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		default: continue;
		}
		inv__buf_append(b, run, (size_t)(s - run));
		inv__buf_puts(b, rep);
		run = s + 1;
	}
	inv__buf_append(b, run, (size_t)(s - run));
}

int
web__ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= (unsigned char)(x[i] ^ y[i]);
	return d == 0;
}

int
web__utf8_check(const char *str, size_t *chars_r)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t chars = 0;

	while (*s) {
		unsigned c = *s;
		unsigned cp;
		int n, i;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return 0;
			s++;
			chars++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		for (i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		if (cp >= 0x80 && cp <= 0x9f) /* C1 controls */
			return 0;
		s += n + 1;
		chars++;
	}
	if (chars_r)
		*chars_r = chars;
	return 1;
}

void
web__fmt_time(int64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, outsz, "%Y-%m-%d %H:%M UTC", &tm))
		snprintf(out, outsz, "%lld", (long long)t);
}

void
web__fmt_iso(int64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, outsz, "%lld", (long long)t);
}

void
web__token_id(const char *token, char id[INVITES_ID_LEN + 1])
{
	unsigned char hash[INVITES_HASH_LEN];

	if (!token || !invites_token_plausible(token)) {
		strcpy(id, "-");
		return;
	}
	invites_token_hash(token, hash);
	invites_hash_id(hash, id);
}
