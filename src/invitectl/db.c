/* SPDX-License-Identifier: MIT */
/*
 * invitectl db init | db migrate, and invitectl store copy FROM TO
 * (issue 9).
 *
 * db init creates the store the configuration names, with its schema: a
 * directory for Berkeley DB, or the tables in a PostgreSQL database (or
 * in the schema its URI names); run it once, as a database user that may
 * create tables.  db migrate brings an older schema up to this
 * program's.  Both refuse a store newer than this program.
 *
 * store copy FROM TO copies every invite, reservation, pending action,
 * role, audit record and API key from one store into a new (or empty)
 * one, between any two backends, so that a site moves from Berkeley DB to
 * PostgreSQL (or back) with a short stop.  FROM and TO are configuration
 * files, or store values as the `store` key takes them (a directory,
 * bdb:PATH, or postgresql://...).  Signals are held while it runs.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

const struct cli_optdef cli_db_opts[] = {
	{ "help", 'h', 0, CLI_O_HELP },
	{ "config", 'c', CLI_OPT_ARG, CLI_O_CONFIG },
	{ "verbose", 'v', 0, CLI_O_VERBOSE },
	{ "json", 0, 0, CLI_O_JSON },
	{ NULL, 0, 0, 0 }
};

const struct cli_optdef cli_storecmd_opts[] = {
	{ "help", 'h', 0, CLI_O_HELP },
	{ "config", 'c', CLI_OPT_ARG, CLI_O_CONFIG },
	{ "verbose", 'v', 0, CLI_O_VERBOSE },
	{ "json", 0, 0, CLI_O_JSON },
	{ NULL, 0, 0, 0 }
};

const char cli_db_usage[] =
"Usage: invitectl db init [--json]\n"
"       invitectl db migrate [--json]\n"
"\n"
"init creates the invite store that the configuration's `store` key\n"
"names, with its schema: a Berkeley DB directory, or the tables of a\n"
"PostgreSQL store (store = postgresql://USER@HOST/DB, optionally with\n"
"?schema=NAME).  Run it once, as a database user that may create tables\n"
"there; a store that exists already is left as it is.\n"
"migrate brings a store with an older schema up to this program's.\n"
"Both refuse a store that a newer program wrote.\n"
"\n"
"Options:\n"
"  -c, --config FILE   the configuration file\n"
"      --json          print {\"store\", \"found\", \"version\"}\n"
"\n"
"Exit status: 0 done; 64 usage; 66 no store (migrate) or no such\n"
"database; 74 store error; 75 the server cannot be reached; 77 permission\n"
"denied; 78 configuration error or a newer schema.\n";

const char cli_storecmd_usage[] =
"Usage: invitectl store copy FROM TO [--json]\n"
"\n"
"Copy every invite, username reservation, pending action, role, audit\n"
"record (with its number) and API key from the store FROM into the store\n"
"TO, which is created when missing and must be empty.  FROM and TO are\n"
"configuration files, or store values as the `store` key takes them: a\n"
"directory or bdb:PATH (Berkeley DB), postgresql://... (PostgreSQL).\n"
"Stop the servers that write FROM first, copy, point `store` at TO, and\n"
"start them again.  Tokens stay valid: only their hashes are copied.\n"
"\n"
"Options:\n"
"      --json          print the counts as JSON\n"
"\n"
"Exit status: 0 copied; 1 TO is not empty; 64 usage; 66 FROM does not\n"
"exist; 74 store error; 75 a server cannot be reached; 78 configuration\n"
"error or a newer store.\n";

/* A store value for messages: a URI's password as "***". */
static char *
display(const char *store)
{
	const char *p = strstr(store, "://"), *at, *colon, *end;
	char *out = NULL;
	size_t n;

	if (p != NULL) {
		p += 3;
		end = p + strcspn(p, "/?");
		at = memchr(p, '@', (size_t)(end - p));
		colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
		if (colon != NULL) {
			n = (size_t)(colon - store);
			out = malloc(n + 4 + strlen(at) + 1);
			if (out != NULL)
				sprintf(out, "%.*s:***%s", (int)n, store, at);
		}
	}
	if (out == NULL)
		out = strdup(store);
	if (out != NULL && (p = strstr(out, "password=")) != NULL)
		memset((char *)p + 9, '*', strcspn(p + 9, "&"));
	return out;
}

/* ---- db ---- */

int
cli_cmd_db(struct cli *c, const struct cli_args *a)
{
	struct cli_json j;
	const char *store;
	unsigned found = 0, version = 0;
	char *shown;
	int migrate, rc;

	if (a->n_pos != 1)
		return cli_usage(c, "db takes init or migrate");
	if (strcmp(a->pos[0], "init") == 0)
		migrate = 0;
	else if (strcmp(a->pos[0], "migrate") == 0)
		migrate = 1;
	else
		return cli_usage(c, "unknown db action '%.40s' (init or migrate)",
		                 a->pos[0]);
	if ((rc = cli_load_config(c)) != 0)
		return rc;
	store = invites_config_store(c->cfg);
	shown = display(store != NULL ? store : "");
	if (shown == NULL)
		return cli_fail(c, "", INVITES_ENOMEM);
	rc = invites_store_init(c->cfg, migrate, &found, &version);
	if (rc != 0) {
		rc = cli_fail(c, shown, rc);
		free(shown);
		return rc;
	}
	if (cli_opt_has(a, CLI_O_JSON)) {
		cli_json_init(&j, c->out);
		cli_json_begin_object(&j);
		cli_json_key(&j, "store");
		cli_json_string(&j, shown);
		cli_json_key(&j, "found");
		cli_json_uint(&j, found);
		cli_json_key(&j, "version");
		cli_json_uint(&j, version);
		cli_json_end_object(&j);
		fputc('\n', c->out);
	} else if (found == 0) {
		fprintf(c->out, "created the invite store %s (schema version %u)\n",
		        shown, version);
	} else if (found == version) {
		fprintf(c->out, "the invite store %s is at schema version %u; "
		        "nothing to do\n", shown, version);
	} else {
		fprintf(c->out, "migrated the invite store %s from schema version "
		        "%u to %u\n", shown, found, version);
	}
	free(shown);
	return 0;
}

/* ---- store copy ---- */

/* FROM or TO: a configuration file when it names a regular file, else a
 * store value. */
static int
endpoint(struct cli *c, const char *arg, struct invites_config **cfg_r)
{
	struct stat sb;
	char *msg = NULL;
	int rc;

	*cfg_r = NULL;
	if (strncmp(arg, "postgres", 8) != 0 && strncmp(arg, "bdb:", 4) != 0 &&
	    stat(arg, &sb) == 0 && S_ISREG(sb.st_mode)) {
		rc = invites_config_load(arg, cfg_r, &msg);
		if (rc != 0) {
			cli_error(c, "%s", msg != NULL ? msg : invites_strerror(rc));
			invites_free(msg);
			return invites_err_exit_code(rc);
		}
		invites_free(msg);
		return 0;
	}
	rc = invites_config_new(arg, cfg_r);
	if (rc != 0) {
		cli_error(c, "%s: %s", arg, invites_strerror(rc));
		return invites_err_exit_code(rc);
	}
	return 0;
}

int
cli_cmd_store(struct cli *c, const struct cli_args *a)
{
	struct invites_config *from = NULL, *to = NULL;
	struct invites_copy_counts n;
	struct cli_json j;
	sigset_t block, old;
	char *sfrom = NULL, *sto = NULL;
	int rc;

	if (a->n_pos < 1 || strcmp(a->pos[0], "copy") != 0)
		return cli_usage(c, "store takes copy FROM TO");
	if (a->n_pos != 3)
		return cli_usage(c, "store copy takes FROM and TO");
	if ((rc = endpoint(c, a->pos[1], &from)) != 0)
		return rc;
	if ((rc = endpoint(c, a->pos[2], &to)) != 0) {
		invites_config_free(&from);
		return rc;
	}
	sfrom = display(invites_config_store(from));
	sto = display(invites_config_store(to));
	if (sfrom == NULL || sto == NULL) {
		rc = cli_fail(c, "", INVITES_ENOMEM);
		goto out;
	}
	if (strcmp(invites_config_store(from), invites_config_store(to)) == 0) {
		rc = cli_usage(c, "FROM and TO are the same store");
		goto out;
	}
	/* a copy cut short by a signal would leave a half-written TO */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigprocmask(SIG_BLOCK, &block, &old);
	rc = invites_store_copy(from, to, &n);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (rc == INVITES_EEXIST) {
		cli_error(c, "%s: not empty; copy into a new store only", sto);
		rc = invites_err_exit_code(rc);
		goto out;
	}
	if (rc != 0) {
		rc = cli_fail(c, "copy", rc);
		goto out;
	}
	if (cli_opt_has(a, CLI_O_JSON)) {
		cli_json_init(&j, c->out);
		cli_json_begin_object(&j);
		cli_json_key(&j, "from");
		cli_json_string(&j, sfrom);
		cli_json_key(&j, "to");
		cli_json_string(&j, sto);
		cli_json_key(&j, "invites");
		cli_json_uint(&j, n.invites);
		cli_json_key(&j, "reservations");
		cli_json_uint(&j, n.reservations);
		cli_json_key(&j, "pending");
		cli_json_uint(&j, n.pending);
		cli_json_key(&j, "roles");
		cli_json_uint(&j, n.roles);
		cli_json_key(&j, "audit");
		cli_json_uint(&j, n.audit);
		cli_json_key(&j, "api_keys");
		cli_json_uint(&j, n.aux);
		cli_json_end_object(&j);
		fputc('\n', c->out);
	} else {
		fprintf(c->out, "copied %s to %s: %zu invites, %zu reservations, "
		        "%zu pending actions, %zu users' roles, %zu audit records, "
		        "%zu API keys\n", sfrom, sto, n.invites, n.reservations,
		        n.pending, n.roles, n.audit, n.aux);
	}
	rc = 0;
out:
	free(sfrom);
	free(sto);
	invites_config_free(&from);
	invites_config_free(&to);
	return rc;
}
