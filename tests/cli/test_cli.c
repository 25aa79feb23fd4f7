/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of invitectl's own parsers and writers: the option parser
 * (every form, every error, and a deterministic random-argv loop that must
 * never crash or overrun), the JSON writer (commas, nesting, escapes,
 * invalid UTF-8, and a random-bytes loop whose every output must be
 * valid), and the output helpers (times, states, kind labels, tables).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tap.h"

enum { T_A = CLI_O_FIRST_CMD, T_B, T_R };

static const struct cli_optdef defs[] = {
	{ "help", 'h', 0, CLI_O_HELP },
	{ "config", 'c', CLI_OPT_ARG, CLI_O_CONFIG },
	{ "json", 0, 0, CLI_O_JSON },
	{ "alpha", 'a', 0, T_A },
	{ "beta", 0, CLI_OPT_ARG, T_B },
	{ "role", 0, CLI_OPT_ARG | CLI_OPT_REPEAT, T_R },
	{ NULL, 0, 0, 0 }
};

static int
parse(int argc, const char **argv, struct cli_args *a, int stop, int *next,
      char *err, size_t errsz)
{
	memset(a, 0, sizeof(*a));
	err[0] = '\0';
	return cli_opts_parse(argc, (char **)argv, defs, stop, a, next, err,
	                      errsz);
}

static void
test_opts(void)
{
	struct cli_args a;
	char err[256];
	int next = -1;

	{
		const char *v[] = { "x", "--beta", "1", "--alpha", "y",
		                    "--role=r0", "-h", "--role", "r1",
		                    "--role=r2", "--", "--json", "-" };

		is_int(parse(13, v, &a, 0, NULL, err, sizeof(err)), 0,
		       "mixed options and arguments parse");
		is_int(a.n_pos, 4, "four positional arguments");
		is_str(a.pos[0], "x", "first positional");
		is_str(a.pos[1], "y", "second positional");
		is_str(a.pos[2], "--json", "after --, options are arguments");
		is_str(a.pos[3], "-", "a lone - is an argument");
		ok(!cli_opt_has(&a, CLI_O_JSON), "--json after -- is no option");
		ok(cli_opt_has(&a, T_A) && cli_opt_has(&a, CLI_O_HELP),
		   "flags, long and short");
		is_str(cli_opt_get(&a, T_R), "r2", "the last value of a repeat");
		is_str(cli_opt_get(&a, CLI_O_CONFIG), NULL, "absent option");
	}
	{
		const char *v[] = { "--beta", "1", "--beta", "2" };

		is_int(parse(4, v, &a, 0, NULL, err, sizeof(err)), -1,
		       "a non-repeatable option twice is an error");
		is_str(err, "option '--beta' given twice", "... with a message");
	}
	{
		const char *v[] = { "--beta" };

		is_int(parse(1, v, &a, 0, NULL, err, sizeof(err)), -1,
		       "a missing value is an error");
		is_str(err, "option '--beta' needs a value", "... with a message");
	}
	{
		const char *v[] = { "--beta", "--alpha" };

		is_int(parse(2, v, &a, 0, NULL, err, sizeof(err)), 0,
		       "a value may start with --");
		is_str(cli_opt_get(&a, T_B), "--alpha", "... and is taken as is");
	}
	{
		const char *v[] = { "--alpha=1" };

		is_int(parse(1, v, &a, 0, NULL, err, sizeof(err)), -1,
		       "a flag with =value is an error");
		is_str(err, "option '--alpha' takes no value", "... with a message");
	}
	{
		const char *v[] = { "--alp" };

		is_int(parse(1, v, &a, 0, NULL, err, sizeof(err)), -1,
		       "no abbreviations");
		is_str(err, "unknown option '--alp'", "... unknown option");
	}
	{
		const char *v[] = { "-Ab3_xYz-0123456789", "--Ab3_xYz-0123456",
		                    "--alpha" };

		is_int(parse(3, v, &a, 0, NULL, err, sizeof(err)), 0,
		       "token-shaped arguments that start with - or --");
		ok(a.n_pos == 2 && strcmp(a.pos[0], v[0]) == 0 &&
		   strcmp(a.pos[1], v[1]) == 0 && cli_opt_has(&a, T_A),
		   "... are positional");
	}
	{
		const char *v[] = { "--alpha-beta-gamma" };

		is_int(parse(1, v, &a, 0, NULL, err, sizeof(err)), 0,
		       "a long unknown option of token characters");
		is_int(a.n_pos, 1, "... is positional (the command rejects it)");
	}
	{
		const char *v[] = { "-ah" };

		is_int(parse(1, v, &a, 0, NULL, err, sizeof(err)), -1,
		       "no bundled short options");
	}
	{
		const char *v[] = { "--\001\002xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" };

		is_int(parse(1, v, &a, 0, NULL, err, sizeof(err)), -1,
		       "junk option");
		ok(strchr(err, '\001') == NULL && strlen(err) < 80,
		   "the message is short and has no control characters");
	}
	{
		const char *v[] = { "-c", "f", "list", "--json" };

		is_int(parse(4, v, &a, 1, &next, err, sizeof(err)), 0,
		       "global options stop at the command");
		is_int(next, 2, "... which is argv[2]");
		is_str(cli_opt_get(&a, CLI_O_CONFIG), "f", "... -c FILE");
		is_int(a.n_pos, 0, "... no positional collected");
	}
	{
		const char *v[] = { "--", "list" };

		is_int(parse(2, v, &a, 1, &next, err, sizeof(err)), 0,
		       "-- before the command");
		is_int(next, 1, "... the command follows");
	}
	{
		const char *v[CLI_MAX_ARGS + 1];
		size_t i;

		for (i = 0; i < CLI_MAX_ARGS + 1; i++)
			v[i] = "--alpha";
		ok(parse(CLI_MAX_ARGS + 1, v, &a, 0, NULL, err, sizeof(err)) == -1,
		   "too many options are refused, not overrun");
		for (i = 0; i < CLI_MAX_ARGS + 1; i++)
			v[i] = "p";
		ok(parse(CLI_MAX_ARGS + 1, v, &a, 0, NULL, err, sizeof(err)) == -1,
		   "too many arguments are refused, not overrun");
	}
}

/* A deterministic PRNG (xorshift), so failures reproduce. */
static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
test_opts_random(void)
{
	static const char *const words[] = {
		"--", "-", "-h", "-c", "--config", "--config=", "--beta",
		"--beta=", "--beta=x", "--role", "--alpha", "--alpha=", "-a",
		"-x", "--", "x", "", "--json", "--=", "-=", "---", "--role=r",
	};
	struct cli_args a;
	char err[64];
	const char *v[80];
	int i, n, k, next, bad = 0;

	for (i = 0; i < 200000; i++) {
		n = (int)(next_rand() % 80);
		for (k = 0; k < n; k++)
			v[k] = words[next_rand() % (sizeof(words) / sizeof(words[0]))];
		if (parse(n, v, &a, (int)(next_rand() & 1), &next, err,
		          sizeof(err)) == 0) {
			if (a.n_opts > CLI_MAX_ARGS || a.n_pos > CLI_MAX_ARGS)
				bad++;
		} else if (err[0] == '\0') {
			bad++;
		}
	}
	is_int(bad, 0, "200000 random argument vectors: no overrun, every "
	       "error has a message");
}

static char *
json_of(void (*fn)(struct cli_json *, const void *), const void *arg)
{
	struct cli_json j;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	cli_json_init(&j, f);
	fn(&j, arg);
	fclose(f);
	return buf;
}

static void
doc_nested(struct cli_json *j, const void *arg)
{
	(void)arg;
	cli_json_begin_object(j);
	cli_json_key(j, "a");
	cli_json_int(j, -5);
	cli_json_key(j, "b");
	cli_json_begin_array(j);
	cli_json_uint(j, UINT64_MAX);
	cli_json_bool(j, 1);
	cli_json_bool(j, 0);
	cli_json_null(j);
	cli_json_begin_object(j);
	cli_json_end_object(j);
	cli_json_begin_array(j);
	cli_json_end_array(j);
	cli_json_string(j, NULL);
	cli_json_end_array(j);
	cli_json_key(j, "c");
	cli_json_string(j, "x");
	cli_json_end_object(j);
}

static void
doc_string(struct cli_json *j, const void *arg)
{
	cli_json_string(j, arg);
}

static void
test_json(void)
{
	static const struct { const char *in, *want, *name; } cases[] = {
		{ "plain", "\"plain\"", "plain text" },
		{ "", "\"\"", "empty string" },
		{ "q\"b\\s/", "\"q\\\"b\\\\s/\"", "quote and backslash" },
		{ "\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"", "short escapes" },
		{ "\001\037\177", "\"\\u0001\\u001f\\u007f\"", "other controls" },
		{ "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
		  "valid 2-, 3- and 4-byte UTF-8 kept" },
		{ "a\xff" "b", "\"a\\ufffdb\"", "invalid byte" },
		{ "\xc0\xaf", "\"\\ufffd\\ufffd\"", "overlong 2-byte form" },
		{ "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"", "overlong 3-byte form" },
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"", "UTF-16 surrogate" },
		{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"", "above U+10FFFF" },
		{ "\xe2\x82", "\"\\ufffd\\ufffd\"", "truncated sequence at the end" },
		{ "\xf0\x9f\x98", "\"\\ufffd\\ufffd\\ufffd\"", "truncated 4-byte sequence" },
	};
	size_t i;
	char *s;

	s = json_of(doc_nested, NULL);
	is_str(s, "{\"a\":-5,\"b\":[18446744073709551615,true,false,null,{},[],null],\"c\":\"x\"}\n",
	       "nesting, commas and every value type");
	free(s);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = json_of(doc_string, cases[i].in);
		is_str(s, cases[i].want, cases[i].name);
		free(s);
	}
}

/* Check that s is one valid JSON string literal of printable ASCII and
 * valid UTF-8 (what a parser needs). */
static int
valid_literal(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	if (n < 2 || p[0] != '"' || p[n - 1] != '"')
		return 0;
	for (p++; p < (const unsigned char *)s + n - 1; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		if (*p == '"')
			return 0;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				if (strspn((const char *)p + 1, "0123456789abcdef") < 4)
					return 0;
				p += 4;
			} else if (strchr("\"\\/bfnrt", *p) == NULL) {
				return 0;
			}
		}
	}
	return 1;
}

static void
test_json_random(void)
{
	char in[64], *s;
	int i, k, bad = 0;

	for (i = 0; i < 50000; i++) {
		int n = (int)(next_rand() % 63);

		for (k = 0; k < n; k++) {
			in[k] = (char)(next_rand() & 0xff);
			if (in[k] == '\0')
				in[k] = 'z';
		}
		in[n] = '\0';
		s = json_of(doc_string, in);
		if (s == NULL || !valid_literal(s))
			bad++;
		free(s);
	}
	is_int(bad, 0, "50000 random byte strings give valid JSON literals");
}

static void
test_output(void)
{
	struct invites_invite inv;
	char buf[64], *out = NULL;
	size_t len = 0;
	struct cli_table t;
	FILE *f;
	static const char *const head[3] = { "A", "BB", "C" };
	const char *row1[3] = { "xxxx", NULL, "z" };
	const char *row2[3] = { "\xc3\xa9", "y\tz", "w" };

	is_str(cli_fmt_time(0, buf, sizeof(buf)), "-", "time 0 is -");
	is_str(cli_fmt_time(1700000000, buf, sizeof(buf)),
	       "2023-11-14T22:13:20Z", "ISO 8601 UTC");

	memset(&inv, 0, sizeof(inv));
	inv.kind = INVITES_KIND_CONTACT;
	inv.max_uses = 2;
	inv.expires = 100;
	is_str(cli_invite_state(&inv, 99), "pending", "state: pending");
	is_str(cli_invite_state(&inv, 100), "expired", "state: expired at expiry");
	inv.uses = 2;
	is_str(cli_invite_state(&inv, 99), "used", "state: used up");
	inv.revoked = 50;
	is_str(cli_invite_state(&inv, 99), "revoked", "state: revoked first");
	is_str(cli_invite_kind_label(&inv), "contact", "kind label: contact");
	inv.flags = INVITES_F_REGISTER;
	is_str(cli_invite_kind_label(&inv), "contact+register",
	       "kind label: contact+register");

	f = open_memstream(&out, &len);
	if (f == NULL)
		skip_all("open_memstream failed");
	cli_table_init(&t, f, 3, head);
	is_int(cli_table_row(&t, row1), 0, "table row");
	is_int(cli_table_row(&t, row2), 0, "table row with UTF-8 and a tab");
	cli_table_finish(&t);
	fclose(f);
	is_str(out, "A     BB   C\nxxxx  -    z\n\xc3\xa9     y?z  w\n",
	       "columns fit the widest cell (UTF-8 counted once), - for NULL, "
	       "controls replaced");
	free(out);
}

int
main(void)
{
	test_opts();
	test_opts_random();
	test_json();
	test_json_random();
	test_output();
	return done_testing();
}
