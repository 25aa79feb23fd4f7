/* SPDX-License-Identifier: MIT */
/*
 * A small streaming JSON writer for invitectl's --json output.  It tracks
 * nesting to place commas, escapes strings per RFC 8259 (quote, backslash,
 * control characters) and replaces invalid UTF-8 with U+FFFD, so its
 * output always parses whatever bytes the store holds.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void
cli_json_init(struct cli_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

/* Before any value: a comma when a sibling came first. */
static void
pre_value(struct cli_json *j)
{
	if (j->after_key) {
		j->after_key = 0;
		return;
	}
	if (j->depth > 0 && j->depth <= CLI_JSON_DEPTH) {
		if (j->need_comma[j->depth - 1])
			fputc(',', j->f);
		j->need_comma[j->depth - 1] = 1;
	}
}

static void
open_level(struct cli_json *j, char c)
{
	pre_value(j);
	fputc(c, j->f);
	if (j->depth < CLI_JSON_DEPTH)
		j->need_comma[j->depth] = 0;
	j->depth++;
}

static void
close_level(struct cli_json *j, char c)
{
	if (j->depth > 0)
		j->depth--;
	fputc(c, j->f);
	if (j->depth == 0)
		fputc('\n', j->f);
}

void
cli_json_begin_object(struct cli_json *j)
{
	open_level(j, '{');
}

void
cli_json_end_object(struct cli_json *j)
{
	close_level(j, '}');
}

void
cli_json_begin_array(struct cli_json *j)
{
	open_level(j, '[');
}

void
cli_json_end_array(struct cli_json *j)
{
	close_level(j, ']');
}

void
cli_json_newline(struct cli_json *j)
{
	fputc('\n', j->f);
}

void
cli_json_key(struct cli_json *j, const char *key)
{
	pre_value(j);
	cli_json_escape(j->f, key);
	fputc(':', j->f);
	j->after_key = 1;
}

/*
 * Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one
 * (overlong forms, surrogates and code points above U+10FFFF included).
 */
static size_t
utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0; /* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0; /* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0; /* overlong */
		if (c == 0xf4 && s[1] >= 0x90)
			return 0; /* above U+10FFFF */
		return 4;
	}
	return 0;
}

void
cli_json_escape(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', f);
	while (*s != '\0') {
		size_t n;

		switch (*s) {
		case '"':  fputs("\\\"", f); s++; continue;
		case '\\': fputs("\\\\", f); s++; continue;
		case '\b': fputs("\\b", f); s++; continue;
		case '\f': fputs("\\f", f); s++; continue;
		case '\n': fputs("\\n", f); s++; continue;
		case '\r': fputs("\\r", f); s++; continue;
		case '\t': fputs("\\t", f); s++; continue;
		default: break;
		}
		if (*s < 0x20 || *s == 0x7f) {
			fprintf(f, "\\u%04x", (unsigned)*s);
			s++;
			continue;
		}
		n = utf8_seq(s);
		if (n == 0) {
			fputs("\\ufffd", f);
			s++;
			continue;
		}
		fwrite(s, 1, n, f);
		s += n;
	}
	fputc('"', f);
}

void
cli_json_string(struct cli_json *j, const char *s)
{
	if (s == NULL) {
		cli_json_null(j);
		return;
	}
	pre_value(j);
	cli_json_escape(j->f, s);
}

void
cli_json_int(struct cli_json *j, int64_t v)
{
	pre_value(j);
	fprintf(j->f, "%" PRId64, v);
}

void
cli_json_uint(struct cli_json *j, uint64_t v)
{
	pre_value(j);
	fprintf(j->f, "%" PRIu64, v);
}

void
cli_json_bool(struct cli_json *j, int v)
{
	pre_value(j);
	fputs(v ? "true" : "false", j->f);
}

void
cli_json_null(struct cli_json *j)
{
	pre_value(j);
	fputs("null", j->f);
}
