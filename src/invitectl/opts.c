/* SPDX-License-Identifier: MIT */
/*
 * invitectl's command-line option parser.  Table-driven and strict:
 * long options (--name, --name=value, --name value), a few short ones
 * (-h), "--" ends the options, no abbreviations, a non-repeatable option
 * given twice is an error; an argument shaped like a token is positional
 * even when it starts with '-'.  Options and positional arguments may be
 * mixed.  It never allocates, so every input is safe to feed it.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct cli_optdef *
find_long(const struct cli_optdef *defs, const char *name, size_t len)
{
	for (; defs->name != NULL; defs++) {
		if (strlen(defs->name) == len &&
		    memcmp(defs->name, name, len) == 0)
			return defs;
	}
	return NULL;
}

static const struct cli_optdef *
find_short(const struct cli_optdef *defs, char c)
{
	for (; defs->name != NULL; defs++) {
		if (defs->short_name != 0 && defs->short_name == c)
			return defs;
	}
	return NULL;
}

/*
 * A token (16 or more base64url characters) may begin with '-' or "--":
 * such an argument is positional when it is no known option, so that
 * `invitectl revoke -Xy...` works without "--".
 */
static int
looks_like_token(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                     "0123456789-_");

	return s[n] == '\0' && n >= 16;
}

/* Quote at most 40 bytes of arbitrary user input for an error message. */
static void
quote_arg(char *dst, size_t n, const char *s)
{
	size_t i, o = 0;

	for (i = 0; s[i] != '\0' && o + 5 < n && i < 40; i++) {
		unsigned char ch = (unsigned char)s[i];

		dst[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	if (s[i] != '\0' && o + 4 < n) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

static int
add_opt(struct cli_args *a, const struct cli_optdef *d, const char *value,
        char *err, size_t errsz)
{
	size_t i;

	if (!(d->flags & CLI_OPT_REPEAT)) {
		for (i = 0; i < a->n_opts; i++) {
			if (a->opts[i].id == d->id) {
				snprintf(err, errsz, "option '--%s' given twice",
				         d->name);
				return -1;
			}
		}
	}
	if (a->n_opts >= CLI_MAX_ARGS) {
		snprintf(err, errsz, "too many options");
		return -1;
	}
	a->opts[a->n_opts].id = d->id;
	a->opts[a->n_opts].value = value;
	a->n_opts++;
	return 0;
}

int
cli_opts_parse(int argc, char **argv, const struct cli_optdef *defs,
               int stop_at_pos, struct cli_args *a, int *next_r,
               char *err, size_t errsz)
{
	char q[64];
	int i, only_pos = 0;

	for (i = 0; i < argc; i++) {
		const char *s = argv[i];
		const struct cli_optdef *d;
		const char *value = NULL;

		if (only_pos || s[0] != '-' || s[1] == '\0' ||
		    (looks_like_token(s) &&
		     (s[1] != '-' || find_long(defs, s + 2, strlen(s + 2)) == NULL))) {
			if (stop_at_pos)
				break;
			if (a->n_pos >= CLI_MAX_ARGS) {
				snprintf(err, errsz, "too many arguments");
				return -1;
			}
			a->pos[a->n_pos++] = s;
			continue;
		}
		if (strcmp(s, "--") == 0) {
			if (stop_at_pos) {
				i++;
				break;
			}
			only_pos = 1;
			continue;
		}
		if (s[1] == '-') {
			const char *name = s + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);

			d = find_long(defs, name, len);
			if (d == NULL) {
				quote_arg(q, sizeof(q), s);
				snprintf(err, errsz, "unknown option '%s'", q);
				return -1;
			}
			if (eq != NULL) {
				if (!(d->flags & CLI_OPT_ARG)) {
					snprintf(err, errsz,
					         "option '--%s' takes no value",
					         d->name);
					return -1;
				}
				value = eq + 1;
			}
		} else {
			d = s[2] == '\0' ? find_short(defs, s[1]) : NULL;
			if (d == NULL) {
				quote_arg(q, sizeof(q), s);
				snprintf(err, errsz, "unknown option '%s'", q);
				return -1;
			}
		}
		if ((d->flags & CLI_OPT_ARG) && value == NULL) {
			if (i + 1 >= argc) {
				snprintf(err, errsz, "option '--%s' needs a value",
				         d->name);
				return -1;
			}
			value = argv[++i];
		}
		if (add_opt(a, d, value, err, errsz) < 0)
			return -1;
	}
	if (next_r != NULL)
		*next_r = i;
	return 0;
}

const char *
cli_opt_get(const struct cli_args *a, int id)
{
	const char *v = NULL;
	size_t i;

	for (i = 0; i < a->n_opts; i++) {
		if (a->opts[i].id == id)
			v = a->opts[i].value;
	}
	return v;
}

int
cli_opt_has(const struct cli_args *a, int id)
{
	size_t i;

	for (i = 0; i < a->n_opts; i++) {
		if (a->opts[i].id == id)
			return 1;
	}
	return 0;
}
