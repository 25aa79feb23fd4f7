/* SPDX-License-Identifier: MIT */
/*
 * invitectl api-key: create, list and revoke the API keys of invites-web's
 * HTTP API.  The store keeps only a hash of each key, so `create` prints
 * the key once; later it is named by its name or public id.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	O_SCOPE = CLI_O_FIRST_CMD + 100,
	O_KEY_EXPIRES
};

const struct cli_optdef cli_apikey_opts[] = {
	{ "help", 'h', 0, CLI_O_HELP },
	{ "config", 'c', CLI_OPT_ARG, CLI_O_CONFIG },
	{ "verbose", 'v', 0, CLI_O_VERBOSE },
	{ "json", 0, 0, CLI_O_JSON },
	{ "scope", 0, CLI_OPT_ARG | CLI_OPT_REPEAT, O_SCOPE },
	{ "expires", 0, CLI_OPT_ARG, O_KEY_EXPIRES },
	{ NULL, 0, 0, 0 }
};

const char cli_apikey_usage[] =
"Usage: invitectl api-key create NAME --scope SCOPE... [--expires DURATION]\n"
"       invitectl api-key list [--json]\n"
"       invitectl api-key revoke NAME|ID\n"
"\n"
"Keys for the HTTP API of invites-web (Authorization: Bearer KEY).  The\n"
"store keeps only a hash of each key: `create` prints the key once, on\n"
"one line; keep it, or revoke the key and create another.\n"
"\n"
"Scopes (repeat --scope, or give them comma-separated):\n"
"  invites:create          POST /api/v1/invites\n"
"  invites:read            GET /api/v1/invites, GET /api/v1/invites/ID\n"
"  invites:revoke          DELETE /api/v1/invites/ID\n"
"  invites:*               all of them\n"
"\n"
"Options:\n"
"  --scope SCOPE           a scope of the new key (at least one)\n"
"  --expires DURATION      the key stops working after DURATION (seconds,\n"
"                          or with s, m, h, d or w); default: never\n"
"  --json                  list: a JSON array\n"
"  -c, --config FILE       the configuration file\n"
"  -v, --verbose           print the library's log lines on stderr\n"
"  -h, --help              show this help\n"
"\n"
"Exit status: 0 success; 1 no such key, or the name is taken; 64 usage;\n"
"66 no store; 74 store error.\n";

static int
do_create(struct cli *c, const struct cli_args *a)
{
	const char *scopes[16];
	char *copies[16];
	size_t n = 0, ncopies = 0, i;
	char key[INVITES_APIKEY_LEN + 1];
	const char *exp_s = cli_opt_get(a, O_KEY_EXPIRES);
	int64_t expires = 0, d = 0;
	struct invites_apikey *k = NULL;
	int rc = 0;

	if (a->n_pos != 2)
		return cli_usage(c, "api-key create takes one NAME");
	for (i = 0; i < a->n_opts && rc == 0; i++) {
		char *save = NULL, *tok;

		if (a->opts[i].id != O_SCOPE)
			continue;
		if (ncopies == 16 || !(copies[ncopies] = strdup(a->opts[i].value))) {
			rc = cli_usage(c, "too many scopes");
			break;
		}
		for (tok = strtok_r(copies[ncopies], ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save)) {
			if (!invites_apikey_scope_valid(tok)) {
				rc = cli_usage(c, "unknown scope '%.40s' (invites:create, "
				               "invites:read, invites:revoke, invites:*)",
				               tok);
				break;
			}
			if (n < 8)
				scopes[n++] = tok;
		}
		ncopies++;
	}
	if (rc == 0 && n == 0)
		rc = cli_usage(c, "give the key at least one --scope");
	if (rc == 0)
		rc = cli_parse_expires(c, exp_s, &d);
	if (rc == 0 && ((rc = cli_load_config(c)) != 0 ||
	                (rc = cli_open_store(c, 0)) != 0))
		goto out;
	if (rc == 0 && d != 0)
		expires = c->now + d; /* from the open (see cli_open_store) */
	if (rc == 0) {
		rc = invites_apikey_create(c->st, a->pos[1], scopes, n, expires,
		                           key, sizeof(key), &k);
		if (rc == INVITES_EINVAL)
			rc = cli_usage(c, "bad key name '%.64s' (A-Z a-z 0-9 . _ -, "
			               "at most 64)", a->pos[1]);
		else if (rc == INVITES_EEXIST) {
			cli_error(c, "a key named '%.64s' exists", a->pos[1]);
			rc = 1;
		} else if (rc != 0)
			rc = cli_fail(c, "", rc);
		else {
			fprintf(c->out, "%s\n", key);
			memset(key, 0, sizeof(key));
		}
	}
out:
	for (i = 0; i < ncopies; i++)
		free(copies[i]);
	invites_apikey_free(&k);
	return rc;
}

struct list_ctx {
	struct cli *c;
	int json;
	struct cli_json j;
	size_t count;
};

static int
list_one(void *ctx, const struct invites_apikey *k)
{
	struct list_ctx *x = ctx;
	char t1[64], t2[64];
	size_t i;

	if (x->json) {
		if (x->count)
			cli_json_newline(&x->j);
		cli_json_begin_object(&x->j);
		cli_json_key(&x->j, "id");
		cli_json_string(&x->j, k->id);
		cli_json_key(&x->j, "name");
		cli_json_string(&x->j, k->name);
		cli_json_key(&x->j, "scopes");
		cli_json_begin_array(&x->j);
		for (i = 0; i < k->n_scopes; i++)
			cli_json_string(&x->j, k->scopes[i]);
		cli_json_end_array(&x->j);
		cli_json_time(&x->j, "created", k->created);
		cli_json_time(&x->j, "expires", k->expires);
		cli_json_end_object(&x->j);
	} else {
		fprintf(x->c->out, "%-12s  %-20s  %-20s  %-20s  ", k->id, k->name,
		        cli_fmt_time(k->created, t1, sizeof(t1)),
		        k->expires ? cli_fmt_time(k->expires, t2, sizeof(t2))
		                   : "never");
		for (i = 0; i < k->n_scopes; i++)
			fprintf(x->c->out, "%s%s", i ? "," : "", k->scopes[i]);
		fputc('\n', x->c->out);
	}
	x->count++;
	return ferror(x->c->out) ? 1 : 0;
}

static int
do_list(struct cli *c, const struct cli_args *a)
{
	struct list_ctx x;
	int rc;

	if (a->n_pos != 1)
		return cli_usage(c, "api-key list takes no argument");
	if ((rc = cli_load_config(c)) != 0 ||
	    (rc = cli_open_store(c, INVITES_OPEN_READONLY)) != 0)
		return rc;
	memset(&x, 0, sizeof(x));
	x.c = c;
	x.json = cli_opt_has(a, CLI_O_JSON);
	if (x.json) {
		cli_json_init(&x.j, c->out);
		cli_json_begin_array(&x.j);
	} else {
		fprintf(c->out, "%-12s  %-20s  %-20s  %-20s  %s\n", "ID", "NAME",
		        "CREATED", "EXPIRES", "SCOPES");
	}
	rc = invites_apikey_list(c->st, list_one, &x);
	if (x.json)
		cli_json_end_array(&x.j);
	if (rc < 0)
		return cli_fail(c, "", rc);
	return 0;
}

static int
do_revoke(struct cli *c, const struct cli_args *a)
{
	struct invites_apikey *k = NULL;
	int rc;

	if (a->n_pos != 2)
		return cli_usage(c, "api-key revoke takes one NAME or ID");
	if ((rc = cli_load_config(c)) != 0 ||
	    (rc = cli_open_store(c, 0)) != 0)
		return rc;
	rc = invites_apikey_revoke(c->st, a->pos[1], &k);
	if (rc == INVITES_ENOTFOUND) {
		cli_error(c, "no API key named '%.64s'", a->pos[1]);
		return 1;
	}
	if (rc != 0)
		return cli_fail(c, "", rc);
	fprintf(c->out, "revoked API key %s (%s)\n", k->name, k->id);
	invites_apikey_free(&k);
	return 0;
}

int
cli_cmd_apikey(struct cli *c, const struct cli_args *a)
{
	const char *sub = a->n_pos ? a->pos[0] : "";

	if (strcmp(sub, "create") == 0)
		return do_create(c, a);
	if (strcmp(sub, "list") == 0)
		return do_list(c, a);
	if (strcmp(sub, "revoke") == 0)
		return do_revoke(c, a);
	return cli_usage(c, "api-key: create, list or revoke");
}
