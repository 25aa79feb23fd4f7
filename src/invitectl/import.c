/* SPDX-License-Identifier: MIT */
/*
 * invitectl import: move the pending invites of a Prosody or ejabberd
 * site into the invite store, so that links already given out keep
 * working on the new server.  The readers (src/import_prosody.c,
 * src/import_ejabberd.c) turn the other server's storage into records;
 * invites_import() checks them all and stores them in one transaction
 * (nothing is half-imported); this file prints what happened, or with
 * --dry-run what would.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "import_readers.h"

enum {
	O_DRY_RUN = CLI_O_FIRST_CMD + 200,
	O_DOMAIN,
	O_CONTACT_REGISTER
};

const struct cli_optdef cli_import_opts[] = {
	{ "help", 'h', 0, CLI_O_HELP },
	{ "config", 'c', CLI_OPT_ARG, CLI_O_CONFIG },
	{ "verbose", 'v', 0, CLI_O_VERBOSE },
	{ "json", 0, 0, CLI_O_JSON },
	{ "dry-run", 'n', 0, O_DRY_RUN },
	{ "domain", 'd', CLI_OPT_ARG, O_DOMAIN },
	{ "contact-register", 0, 0, O_CONTACT_REGISTER },
	{ NULL, 0, 0, 0 }
};

const char cli_import_usage[] =
"Usage: invitectl import prosody PATH [--domain DOMAIN] [--dry-run] [--json]\n"
"       invitectl import ejabberd PATH [--domain DOMAIN] [--contact-register]\n"
"                                 [--dry-run] [--json]\n"
"\n"
"Import the invites of the server you move from, so that the links\n"
"already given out keep working here: pending invites keep their token\n"
"(stored hashed), kind, preset name, roles, groups, inviter, note and\n"
"expiry; used invites become audit records (who invited whom), unless\n"
"used before audit_retention; expired ones are left out.  Everything\n"
"is imported in one transaction: on a bad record nothing is, and the\n"
"error names the record.\n"
"\n"
"prosody PATH   Prosody's mod_invites data:\n"
"                 - internal storage: the data directory (/var/lib/prosody,\n"
"                   every host in it), one host's directory, or its\n"
"                   invite_token.dat (contact invites from invite_token/)\n"
"                 - SQL storage: an SQLite database (or sqlite:PATH); for\n"
"                   PostgreSQL or MySQL, export with prosody-migrator first\n"
"ejabberd PATH  ejabberd's invite_token table (mod_invites, SQL storage):\n"
"                 - an SQLite database, or\n"
"                 - a tab-separated dump with a header line (mysql -B,\n"
"                   psql -A -F TAB, sqlite3 -header -separator TAB)\n"
"               Mnesia is not read: export it to SQL first.\n"
"\n"
"Options:\n"
"  -n, --dry-run         check everything and print what would be imported;\n"
"                        change nothing\n"
"  -d, --domain DOMAIN   only this host (Prosody); the host of rows without\n"
"                        server_host (ejabberd's single-host schema; default:\n"
"                        the one domain of the configuration)\n"
"  --contact-register    ejabberd: its roster invites may also register an\n"
"                        account (;ibr=y), as ejabberd's access rules allowed\n"
"  --json                the result as one JSON object\n"
"  -c, --config FILE     the configuration file\n"
"  -v, --verbose         print the library's log lines on stderr\n"
"  -h, --help            show this help\n"
"\n"
"Exit status: 0 imported (or would be); 64 usage; 65 a malformed record;\n"
"1 a record already stored or a name reserved twice; 66 no store;\n"
"78 configuration; 74 store error.\n";

static const char *
action_name(enum invites_import_action a)
{
	switch (a) {
	case INVITES_IMPORT_PENDING:
		return "pending";
	case INVITES_IMPORT_AUDIT:
		return "audit";
	case INVITES_IMPORT_SKIP:
		return "skipped";
	}
	return "?";
}

static const char *
kind_label(const struct invites_import_record *r)
{
	if (r->kind == INVITES_KIND_CONTACT && (r->flags & INVITES_F_REGISTER))
		return "contact+register";
	return invites_kind_name(r->kind);
}

static void
record_id(const struct invites_import_record *r, char id[INVITES_ID_LEN + 1])
{
	unsigned char h[INVITES_HASH_LEN];

	if (r->token == NULL || !invites_token_plausible(r->token)) {
		strcpy(id, "-");
		return;
	}
	invites_token_hash(r->token, h);
	invites_hash_id(h, id);
}

static void
print_text(struct cli *c, const struct imp_batch *b,
           const enum invites_import_action *act, int dry_run,
           const size_t count[4])
{
	char id[INVITES_ID_LEN + 1], t[32];
	size_t i;

	for (i = 0; i < b->n; i++) {
		const struct invites_import_record *r = &b->recs[i];

		record_id(r, id);
		fprintf(c->out, "%-8s %-16s %s %s", action_name(act[i]),
		        kind_label(r), id, r->domain ? r->domain : "-");
		if (r->username != NULL)
			fprintf(c->out, " user=%s", r->username);
		if (r->inviter != NULL)
			fprintf(c->out, " inviter=%s", r->inviter);
		else if (r->created_by != NULL)
			fprintf(c->out, " by=%s", r->created_by);
		if (r->n_roles > 0)
			fprintf(c->out, " roles=%zu", r->n_roles);
		if (r->n_groups > 0)
			fprintf(c->out, " groups=%zu", r->n_groups);
		if (r->uses > 0 && r->used_by != NULL)
			fprintf(c->out, " used-by=%s", r->used_by);
		else
			fprintf(c->out, " expires=%s",
			        cli_fmt_time(r->expires, t, sizeof(t)));
		fprintf(c->out, "  (%s)\n", r->label ? r->label : "-");
	}
	fprintf(c->out, "%s %zu pending invite%s, %zu used invite%s as audit "
	        "records; %zu expired (or used before audit_retention) left "
	        "out\n",
	        dry_run ? "dry run: would import" : "imported",
	        count[INVITES_IMPORT_PENDING],
	        count[INVITES_IMPORT_PENDING] == 1 ? "" : "s",
	        count[INVITES_IMPORT_AUDIT],
	        count[INVITES_IMPORT_AUDIT] == 1 ? "" : "s",
	        count[INVITES_IMPORT_SKIP]);
}

static void
print_json(struct cli *c, const char *source, const struct imp_batch *b,
           const enum invites_import_action *act, int dry_run,
           const size_t count[4])
{
	char id[INVITES_ID_LEN + 1];
	struct cli_json j;
	size_t i, k;

	cli_json_init(&j, c->out);
	cli_json_begin_object(&j);
	cli_json_key(&j, "source");
	cli_json_string(&j, source);
	cli_json_key(&j, "dry_run");
	cli_json_bool(&j, dry_run);
	cli_json_key(&j, "pending");
	cli_json_uint(&j, count[INVITES_IMPORT_PENDING]);
	cli_json_key(&j, "audit");
	cli_json_uint(&j, count[INVITES_IMPORT_AUDIT]);
	cli_json_key(&j, "skipped");
	cli_json_uint(&j, count[INVITES_IMPORT_SKIP]);
	cli_json_key(&j, "records");
	cli_json_begin_array(&j);
	for (i = 0; i < b->n; i++) {
		const struct invites_import_record *r = &b->recs[i];

		record_id(r, id);
		cli_json_newline(&j);
		cli_json_begin_object(&j);
		cli_json_key(&j, "id");
		cli_json_string(&j, id);
		cli_json_key(&j, "action");
		cli_json_string(&j, action_name(act[i]));
		cli_json_key(&j, "kind");
		cli_json_string(&j, kind_label(r));
		cli_json_key(&j, "domain");
		cli_json_string(&j, r->domain);
		cli_json_key(&j, "username");
		cli_json_string(&j, r->username);
		cli_json_key(&j, "inviter");
		cli_json_string(&j, r->inviter);
		cli_json_key(&j, "created_by");
		cli_json_string(&j, r->created_by);
		cli_json_key(&j, "note");
		cli_json_string(&j, r->note);
		cli_json_key(&j, "roles");
		cli_json_begin_array(&j);
		for (k = 0; k < r->n_roles; k++)
			cli_json_string(&j, r->roles[k]);
		cli_json_end_array(&j);
		cli_json_key(&j, "groups");
		cli_json_begin_array(&j);
		for (k = 0; k < r->n_groups; k++)
			cli_json_string(&j, r->groups[k]);
		cli_json_end_array(&j);
		cli_json_time(&j, "created", r->created);
		cli_json_time(&j, "expires", r->expires);
		cli_json_key(&j, "max_uses");
		cli_json_uint(&j, r->max_uses > 1 ? r->max_uses : 1);
		cli_json_key(&j, "used_by");
		cli_json_string(&j, r->used_by);
		cli_json_key(&j, "label");
		cli_json_string(&j, r->label);
		cli_json_end_object(&j);
	}
	cli_json_end_array(&j);
	cli_json_end_object(&j);
	fputc('\n', c->out);
}

/* Is there a store yet (its meta.db marks it)? */
static int
store_exists(const struct cli *c)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/meta.db", invites_config_store(c->cfg));
	return access(path, F_OK) == 0;
}

int
cli_cmd_import(struct cli *c, const struct cli_args *a)
{
	enum invites_import_action *act = NULL;
	const char *source, *path, *domain;
	char err[1024], *msg = NULL, dom[INVITES_JID_MAX + 1];
	int dry_run = cli_opt_has(a, O_DRY_RUN), rc;
	size_t count[4] = { 0, 0, 0, 0 }, failed = 0, i;
	struct imp_batch b;

	if (a->n_pos != 2)
		return cli_usage(c, "give the server (prosody or ejabberd) and "
		                 "a PATH");
	source = a->pos[0];
	path = a->pos[1];
	if (strcmp(source, "prosody") != 0 && strcmp(source, "ejabberd") != 0)
		return cli_usage(c, "unknown server '%.40s' (prosody or "
		                 "ejabberd)", source);
	if (cli_opt_has(a, O_CONTACT_REGISTER) && strcmp(source, "ejabberd") != 0)
		return cli_usage(c, "--contact-register is for ejabberd");
	rc = cli_load_config(c);
	if (rc != 0)
		return rc;
	domain = cli_opt_get(a, O_DOMAIN);
	if (domain != NULL) {
		if (invites_nameprep(domain, dom, sizeof(dom)) != 0)
			return cli_usage(c, "--domain: '%.60s' is not a domain",
			                 domain);
		domain = dom;
	} else if (strcmp(source, "ejabberd") == 0 &&
	           invites_config_domain_count(c->cfg) == 1) {
		domain = invites_config_domain(c->cfg, 0);
	}

	imp_batch_init(&b);
	err[0] = '\0';
	if (strcmp(source, "prosody") == 0)
		rc = imp_prosody_read(path, domain, c->now, &b, err, sizeof(err));
	else
		rc = imp_ejabberd_read(path, domain,
		                       cli_opt_has(a, O_CONTACT_REGISTER), &b,
		                       err, sizeof(err));
	if (rc != 0) {
		cli_error(c, "%s", err);
		imp_batch_free(&b);
		return 65; /* EX_DATAERR: the input is not what we read */
	}
	if (b.n > 0) {
		act = calloc(b.n, sizeof(*act));
		if (act == NULL) {
			imp_batch_free(&b);
			return cli_fail(c, "", INVITES_ENOMEM);
		}
	}
	/* A new site may import before its server made the store: a real
	 * import creates it, a dry run has nothing to clash with. */
	if (!dry_run || store_exists(c)) {
		rc = cli_open_store(c, dry_run ? INVITES_OPEN_READONLY
		                               : INVITES_OPEN_CREATE);
		if (rc != 0) {
			free(act);
			imp_batch_free(&b);
			return rc;
		}
	}
	rc = invites_import(c->st, c->cfg, b.recs, b.n, source, c->now,
	                    dry_run, act, &failed, &msg);
	if (rc != 0) {
		if (msg != NULL) {
			cli_error(c, "%s%s", msg, dry_run ? "" :
			          " (nothing was imported)");
			rc = invites_err_exit_code(rc);
		} else {
			rc = cli_fail(c, b.n > failed && b.recs[failed].label
			              ? b.recs[failed].label : "import", rc);
		}
		invites_free(msg);
		free(act);
		imp_batch_free(&b);
		return rc;
	}
	for (i = 0; i < b.n; i++)
		if (act[i] >= 1 && act[i] <= 3)
			count[act[i]]++;
	if (cli_opt_has(a, CLI_O_JSON))
		print_json(c, source, &b, act, dry_run, count);
	else
		print_text(c, &b, act, dry_run, count);
	if (b.notes != NULL && !cli_opt_has(a, CLI_O_JSON))
		fputs(b.notes, stderr);
	free(act);
	imp_batch_free(&b);
	return 0;
}
