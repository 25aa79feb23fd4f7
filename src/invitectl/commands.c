/* SPDX-License-Identifier: MIT */
/*
 * invitectl's subcommands: generate, list, show, revoke, reissue, purge,
 * stats and audit, with their option tables and --help texts.  Each one
 * checks its arguments completely before it loads the configuration, and
 * loads the configuration before it opens the store, so mistakes are
 * reported before any store access; each opens the store once.  Only
 * generate and reissue ever print a token (inside the link they just
 * made); everything else names invites by their public id.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	O_ADMIN = CLI_O_FIRST_CMD,
	O_ROLE,
	O_RESET,
	O_USERNAME,
	O_CONTACT,
	O_ALLOW_REGISTER,
	O_USES,
	O_EXPIRES,
	O_GROUP,
	O_NOTE,
	O_DOMAIN,
	O_INVITER,
	O_KIND,
	O_ALL,
	O_SINCE
};

#define COMMON_OPTS \
	{ "help", 'h', 0, CLI_O_HELP }, \
	{ "config", 'c', CLI_OPT_ARG, CLI_O_CONFIG }, \
	{ "verbose", 'v', 0, CLI_O_VERBOSE }

#define JSON_OPT { "json", 0, 0, CLI_O_JSON }
#define END_OPTS { NULL, 0, 0, 0 }

#define EXIT_HELP \
"\nExit status: 0 success; 1 no such invite or not usable; 64 usage error;\n" \
"65 malformed JID, token or ambiguous id; 66 no store; 70 internal error;\n" \
"74 store I/O error or damaged store; 75 store busy or timed out;\n" \
"77 permission denied; 78 configuration error.  See invitectl(8).\n"

#define COMMON_HELP \
"  -c, --config FILE       the configuration file\n" \
"  -v, --verbose           print the library's log lines on stderr\n" \
"  -h, --help              show this help\n"

/* ------------------------------------------------------------------ */
/* Argument checks                                                     */
/* ------------------------------------------------------------------ */

/* The store's limits on roles and groups. */
#define MAX_ROLES 32
#define MAX_ROLE_LEN 255
#define MAX_GROUPS 32
#define MAX_GROUP_LEN 1023
#define MAX_NOTE_LEN 4096

/* A role or group name: 1..maxlen bytes, no control characters. */
static int
check_name(struct cli *c, const char *opt, const char *s, size_t maxlen)
{
	const unsigned char *p;

	if (s[0] == '\0')
		return cli_usage(c, "%s needs a non-empty value", opt);
	if (strlen(s) > maxlen)
		return cli_usage(c, "the value of %s is too long (at most %zu "
		                 "bytes)", opt, maxlen);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return cli_usage(c, "the value of %s contains control "
			                 "characters", opt);
	}
	return 0;
}

/* A positive decimal number up to max. */
static int
parse_uint(const char *s, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;

	if (s[0] == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*v_r = v;
	return 0;
}

int
cli_parse_expires(const struct cli *c, const char *s, int64_t *secs_r)
{
	int64_t d;

	*secs_r = 0;
	if (s == NULL)
		return 0;
	if (invites_parse_duration(s, &d) != INVITES_OK || d <= 0 ||
	    d > INT64_MAX / 2 - c->now)
		return cli_usage(c, "bad duration '%.40s' for --expires "
		                 "(e.g. 3600, 30m, 36h, 7d, 2w)", s);
	*secs_r = d;
	return 0;
}

/*
 * What names an invite on the command line: a public id or a prefix of
 * it (4 to 12 hex digits, case-insensitive), or, when allowed, a token or
 * an xmpp: invite URI holding one.
 */
struct invite_ref {
	char id[INVITES_ID_LEN + 1];
	char token[INVITES_TOKEN_MAX + 1];
	int is_token;
	const char *label;   /* for messages: the id, or "that token" */
};

static int
parse_ref(struct cli *c, const char *s, int allow_token,
          struct invite_ref *r)
{
	size_t n = strlen(s), i;

	memset(r, 0, sizeof(*r));
	if (n >= 4 && n <= INVITES_ID_LEN) {
		for (i = 0; i < n; i++) {
			if (!isxdigit((unsigned char)s[i]))
				break;
			r->id[i] = (char)tolower((unsigned char)s[i]);
		}
		if (i == n) {
			r->label = r->id;
			return 0;
		}
	}
	if (allow_token) {
		struct invites_uri *u = NULL;
		const char *tok = s;

		if (strncmp(s, "xmpp:", 5) == 0) {
			if (invites_uri_parse(s, &u) != INVITES_OK ||
			    u->preauth == NULL) {
				invites_uri_free(&u);
				return cli_usage(c, "the argument is an xmpp: URI "
				                 "without an invite token");
			}
			tok = u->preauth;
		}
		if (invites_token_plausible(tok) && strlen(tok) < sizeof(r->token)) {
			memcpy(r->token, tok, strlen(tok) + 1);
			r->is_token = 1;
			r->label = "that token";
			invites_uri_free(&u);
			return 0;
		}
		invites_uri_free(&u);
		if (n > INVITES_ID_LEN)
			return cli_usage(c, "the argument is neither an invite "
			                 "id (4 to 12 hex digits) nor a token");
	}
	return cli_usage(c, "'%.20s' is not an invite id (4 to 12 hex digits)",
	                 s);
}

static void
ref_wipe(struct invite_ref *r)
{
	explicit_bzero(r->token, sizeof(r->token));
}

/* Look an invite up by its reference. */
static int
ref_get(struct cli *c, const struct invite_ref *r,
        struct invites_invite **inv_r)
{
	if (r->is_token)
		return invites_get_by_token(c->st, r->token, inv_r);
	return invites_get_by_id(c->st, r->id, inv_r);
}

/* ------------------------------------------------------------------ */
/* Links                                                               */
/* ------------------------------------------------------------------ */

/*
 * Print the link of a new invite (generate, reissue): the landing URL
 * when one is configured, else the xmpp: URI; with --json, the object.
 */
static int
print_new_invite(struct cli *c, const struct invites_invite *inv,
                 const char *token, int json, const char *replaces)
{
	const char *tmpl = invites_config_landing_url(c->cfg);
	char *uri = NULL, *landing = NULL;
	int rc;

	rc = invites_uri_build(inv, token, &uri);
	if (rc == INVITES_OK && tmpl != NULL)
		rc = invites_landing_url(tmpl, inv, token, &landing);
	if (rc != INVITES_OK) {
		char what[96];

		snprintf(what, sizeof(what), "invite %s was stored, but its "
		         "link could not be built", inv->id);
		invites_free(uri);
		return cli_fail(c, what, rc);
	}
	if (json) {
		struct cli_json j;

		cli_json_init(&j, c->out);
		cli_json_begin_object(&j);
		cli_json_key(&j, "id");
		cli_json_string(&j, inv->id);
		cli_json_key(&j, "token");
		cli_json_string(&j, token);
		cli_json_key(&j, "link");
		cli_json_string(&j, landing != NULL ? landing : uri);
		cli_json_key(&j, "uri");
		cli_json_string(&j, uri);
		if (landing != NULL) {
			cli_json_key(&j, "landing_url");
			cli_json_string(&j, landing);
		}
		if (replaces != NULL) {
			cli_json_key(&j, "replaces");
			cli_json_string(&j, replaces);
		}
		cli_json_invite_fields(&j, inv, c->now, 0);
		cli_json_end_object(&j);
	} else {
		fprintf(c->out, "%s\n", landing != NULL ? landing : uri);
	}
	if (uri != NULL)
		explicit_bzero(uri, strlen(uri));
	if (landing != NULL)
		explicit_bzero(landing, strlen(landing));
	invites_free(uri);
	invites_free(landing);
	return 0;
}

/* ------------------------------------------------------------------ */
/* generate                                                            */
/* ------------------------------------------------------------------ */

static const struct cli_optdef generate_opts[] = {
	COMMON_OPTS, JSON_OPT,
	{ "admin", 0, 0, O_ADMIN },
	{ "role", 0, CLI_OPT_ARG | CLI_OPT_REPEAT, O_ROLE },
	{ "reset", 0, CLI_OPT_ARG, O_RESET },
	{ "username", 0, CLI_OPT_ARG, O_USERNAME },
	{ "contact", 0, CLI_OPT_ARG, O_CONTACT },
	{ "allow-register", 0, 0, O_ALLOW_REGISTER },
	{ "uses", 0, CLI_OPT_ARG, O_USES },
	{ "expires", 0, CLI_OPT_ARG, O_EXPIRES },
	{ "group", 0, CLI_OPT_ARG | CLI_OPT_REPEAT, O_GROUP },
	{ "note", 0, CLI_OPT_ARG, O_NOTE },
	END_OPTS
};

static const char generate_usage[] =
"Usage: invitectl generate DOMAIN [OPTIONS]\n"
"\n"
"Create an invite for DOMAIN and print its link on one line: the landing\n"
"URL when `landing_url` is configured, else the xmpp: URI.  The link holds\n"
"the token and is shown only now; a lost link is re-issued (reissue).\n"
"\n"
"Kinds (default: an account invite, xmpp:DOMAIN?register;preauth=TOKEN):\n"
"  --username USER         an account invite for this username only\n"
"                          (xmpp:USER@DOMAIN?register;preauth=TOKEN)\n"
"  --reset USER            a password reset for the existing account USER\n"
"                          (expires after `reset_expiry`)\n"
"  --contact JID           a contact invite from JID, a user of DOMAIN\n"
"                          (xmpp:JID?roster;preauth=TOKEN)\n"
"  --allow-register        with --contact: the invitee may also register an\n"
"                          account here (adds ;ibr=y)\n"
"\n"
"Options:\n"
"  --admin                 grant the role \"admin\" to the new account\n"
"  --role ROLE             grant ROLE to the new account (repeatable)\n"
"  --group GROUP           put the new contact in roster GROUP (repeatable)\n"
"  --uses N                allow N uses (default 1; not with --reset or\n"
"                          --username)\n"
"  --expires DURATION      valid for DURATION: seconds or a number with\n"
"                          s, m, h, d or w (default `invite_expiry`, 7d)\n"
"  --note TEXT             a note for admins (list, show)\n"
"  --json                  print every field as one JSON object, the token\n"
"                          and links included\n"
COMMON_HELP
"\n"
"--reset cannot be combined with --contact, --username, --uses, --role,\n"
"--admin or --group; --username not with --contact or --uses; roles on a\n"
"contact invite need --allow-register.  At most 32 roles and 32 groups.\n"
"\n"
"Prosody equivalent: prosodyctl mod_invites generate example.com --admin\n"
"(or --role ROLE, --reset USER).\n"
EXIT_HELP;

/* Collect the values of a repeatable option, checked, without duplicates. */
static int
collect(struct cli *c, const struct cli_args *a, int id, const char *opt,
        size_t maxlen, const char **v, size_t *n, size_t max)
{
	size_t i, k;
	int rc;

	for (i = 0; i < a->n_opts; i++) {
		const char *s = a->opts[i].value;

		if (a->opts[i].id != id)
			continue;
		if ((rc = check_name(c, opt, s, maxlen)) != 0)
			return rc;
		for (k = 0; k < *n; k++) {
			if (strcmp(v[k], s) == 0)
				break;
		}
		if (k < *n)
			continue;
		if (*n >= max)
			return cli_usage(c, "too many %s options (at most %zu)",
			                 opt, max);
		v[(*n)++] = s;
	}
	return 0;
}

static int
cmd_generate(struct cli *c, const struct cli_args *a)
{
	const char *roles[CLI_MAX_ARGS + 1], *groups[CLI_MAX_ARGS];
	size_t n_roles = 0, n_groups = 0, i;
	const char *reset = cli_opt_get(a, O_RESET);
	const char *username = cli_opt_get(a, O_USERNAME);
	const char *contact = cli_opt_get(a, O_CONTACT);
	const char *uses_s = cli_opt_get(a, O_USES);
	const char *note = cli_opt_get(a, O_NOTE);
	int allow_register = cli_opt_has(a, O_ALLOW_REGISTER);
	int json = cli_opt_has(a, CLI_O_JSON);
	char domain[1024], user[1024], inviter[INVITES_JID_MAX + 1];
	char token[INVITES_TOKEN_MAX + 1];
	struct invites_spec spec;
	struct invites_invite *inv = NULL;
	uint64_t uses = 1;
	int64_t valid_for;
	int rc;

	if (a->n_pos == 0)
		return cli_usage(c, "missing DOMAIN");
	if (a->n_pos > 1)
		return cli_usage(c, "unexpected argument '%.40s'", a->pos[1]);

	/* Combinations. */
	if (reset != NULL && contact != NULL)
		return cli_usage(c, "--reset and --contact cannot be combined");
	if (reset != NULL && username != NULL)
		return cli_usage(c, "--reset names the user already; "
		                 "drop --username");
	if (username != NULL && contact != NULL)
		return cli_usage(c, "--username and --contact cannot be "
		                 "combined");
	if (allow_register && contact == NULL)
		return cli_usage(c, "--allow-register needs --contact");
	if (uses_s != NULL) {
		if (parse_uint(uses_s, UINT32_MAX, &uses) != 0)
			return cli_usage(c, "bad number '%.40s' for --uses",
			                 uses_s);
		if (uses == 0)
			return cli_usage(c, "--uses must be at least 1");
		if (reset != NULL && uses != 1)
			return cli_usage(c, "a reset invite has a single use; "
			                 "drop --uses");
		if (username != NULL && uses != 1)
			return cli_usage(c, "a username is registered once: "
			                 "--username cannot have --uses %s",
			                 uses_s);
	}
	if (cli_opt_has(a, O_ADMIN))
		roles[n_roles++] = "admin";
	if ((rc = collect(c, a, O_ROLE, "--role", MAX_ROLE_LEN, roles,
	                  &n_roles, MAX_ROLES)) != 0)
		return rc;
	if ((rc = collect(c, a, O_GROUP, "--group", MAX_GROUP_LEN, groups,
	                  &n_groups, MAX_GROUPS)) != 0)
		return rc;
	if (reset != NULL && (n_roles > 0 || n_groups > 0))
		return cli_usage(c, "a reset invite cannot grant roles or "
		                 "groups");
	if (contact != NULL && !allow_register && n_roles > 0)
		return cli_usage(c, "roles need an account: add "
		                 "--allow-register");
	if (note != NULL && strlen(note) > MAX_NOTE_LEN)
		return cli_usage(c, "the note is too long (at most %d bytes)",
		                 MAX_NOTE_LEN);
	rc = cli_parse_expires(c, cli_opt_get(a, O_EXPIRES), &valid_for);
	if (rc != 0)
		return rc;

	/* Names, normalised. */
	rc = invites_nameprep(a->pos[0], domain, sizeof(domain));
	if (rc != INVITES_OK) {
		cli_error(c, "'%.80s' is not a valid domain: %s", a->pos[0],
		          invites_strerror(rc));
		return invites_err_exit_code(rc == INVITES_EINVAL ?
		                             INVITES_EJID : rc);
	}
	if (reset != NULL || username != NULL) {
		const char *u = reset != NULL ? reset : username;

		rc = invites_nodeprep(u, user, sizeof(user));
		if (rc != INVITES_OK) {
			cli_error(c, "'%.80s' is not a valid username: %s", u,
			          invites_strerror(rc));
			return invites_err_exit_code(rc == INVITES_EINVAL ?
			                             INVITES_EJID : rc);
		}
	}
	if (contact != NULL) {
		const char *at;

		rc = invites_jid_bare(contact, inviter, sizeof(inviter));
		if (rc != INVITES_OK) {
			cli_error(c, "'%.80s' is not a valid JID: %s", contact,
			          invites_strerror(rc));
			return invites_err_exit_code(rc == INVITES_EINVAL ?
			                             INVITES_EJID : rc);
		}
		at = strchr(inviter, '@');
		if (at == NULL || strcmp(at + 1, domain) != 0)
			return cli_usage(c, "--contact needs the JID of a user "
			                 "of %s (user@%s)", domain, domain);
	}

	if ((rc = cli_load_config(c)) != 0)
		return rc;
	if (!invites_config_serves(c->cfg, domain)) {
		cli_error(c, "%s is not served here (see 'domains' in %s)",
		          domain, c->config_path);
		return invites_err_exit_code(INVITES_EDOMAIN);
	}

	memset(&spec, 0, sizeof(spec));
	spec.kind = reset != NULL ? INVITES_KIND_RESET :
	            contact != NULL ? INVITES_KIND_CONTACT :
	            INVITES_KIND_ACCOUNT;
	spec.flags = allow_register ? INVITES_F_REGISTER : 0;
	for (i = 0; i < n_roles; i++) {
		if (strcmp(roles[i], "admin") == 0)
			spec.flags |= INVITES_F_ADMIN;
	}
	spec.domain = domain;
	spec.username = (reset != NULL || username != NULL) ? user : NULL;
	spec.inviter = contact != NULL ? inviter : NULL;
	spec.created_by = cli_actor();
	spec.note = note;
	spec.roles = roles;
	spec.n_roles = n_roles;
	spec.groups = groups;
	spec.n_groups = n_groups;
	spec.max_uses = (uint32_t)uses;

	if ((rc = cli_open_store(c, INVITES_OPEN_CREATE)) != 0)
		return rc;
	if (valid_for == 0)
		valid_for = reset != NULL ? invites_config_reset_expiry(c->cfg) :
		                            invites_config_expiry(c->cfg);
	spec.expires = c->now + valid_for;
	rc = invites_create(c->st, c->cfg, &spec, token, sizeof(token), &inv);
	if (rc != INVITES_OK)
		return cli_fail(c, "", rc);
	rc = print_new_invite(c, inv, token, json, NULL);
	explicit_bzero(token, sizeof(token));
	invites_invite_free(&inv);
	return rc;
}

/* ------------------------------------------------------------------ */
/* list                                                                */
/* ------------------------------------------------------------------ */

static const struct cli_optdef list_opts[] = {
	COMMON_OPTS, JSON_OPT,
	{ "domain", 0, CLI_OPT_ARG, O_DOMAIN },
	{ "inviter", 0, CLI_OPT_ARG, O_INVITER },
	{ "kind", 0, CLI_OPT_ARG, O_KIND },
	{ "all", 'a', 0, O_ALL },
	END_OPTS
};

static const char list_usage[] =
"Usage: invitectl list [--domain D] [--inviter JID] [--kind K] [--all]\n"
"                      [--json]\n"
"\n"
"List the pending invites (usable now) as a table: id, kind, domain,\n"
"username, inviter (or creator), uses/max, expiry and state.  Tokens are\n"
"never shown.\n"
"\n"
"Options:\n"
"  --domain D              only invites for domain D\n"
"  --inviter JID           only contact invites from, or invites made by, JID\n"
"  --kind K                only invites of kind K: account, contact, reset\n"
"  -a, --all               also expired, used-up and revoked invites\n"
"  --json                  print a JSON array of invite objects\n"
COMMON_HELP
EXIT_HELP;

struct list_ctx {
	struct cli *c;
	int json;
	struct cli_json j;
	struct cli_table t;
	size_t count;
};

static int
list_one(void *ctx, const struct invites_invite *inv)
{
	struct list_ctx *l = ctx;

	if (l->json) {
		if (l->count > 0)
			cli_json_newline(&l->j);
		cli_json_begin_object(&l->j);
		cli_json_invite_fields(&l->j, inv, l->c->now, 1);
		cli_json_end_object(&l->j);
	} else {
		char uses[48], exp[64];
		const char *cells[8];

		snprintf(uses, sizeof(uses), "%" PRIu32 "/%" PRIu32,
		         inv->uses, inv->max_uses);
		cells[0] = inv->id;
		cells[1] = cli_invite_kind_label(inv);
		cells[2] = inv->domain;
		cells[3] = inv->username;
		cells[4] = inv->inviter != NULL ? inv->inviter :
		           inv->created_by;
		cells[5] = uses;
		cells[6] = cli_fmt_time(inv->expires, exp, sizeof(exp));
		cells[7] = cli_invite_state(inv, l->c->now);
		if (cli_table_row(&l->t, cells) != 0)
			return 1;
	}
	l->count++;
	return ferror(l->c->out) ? 1 : 0;
}

static int
cmd_list(struct cli *c, const struct cli_args *a)
{
	static const char *const head[8] = {
		"ID", "KIND", "DOMAIN", "USERNAME", "INVITER", "USES",
		"EXPIRES", "STATE"
	};
	const char *dom = cli_opt_get(a, O_DOMAIN);
	const char *invr = cli_opt_get(a, O_INVITER);
	const char *kind = cli_opt_get(a, O_KIND);
	char domain[1024], inviter[INVITES_JID_MAX + 1];
	struct invites_filter f;
	struct list_ctx l;
	enum invites_kind k;
	int rc;

	if (a->n_pos > 0)
		return cli_usage(c, "unexpected argument '%.40s'", a->pos[0]);
	memset(&f, 0, sizeof(f));
	if (kind != NULL) {
		if (invites_kind_parse(kind, &k) != INVITES_OK)
			return cli_usage(c, "unknown kind '%.40s' (account, "
			                 "contact, reset)", kind);
		f.kind = k;
	}
	if (dom != NULL) {
		if (invites_nameprep(dom, domain, sizeof(domain)) != INVITES_OK) {
			cli_error(c, "'%.80s' is not a valid domain", dom);
			return invites_err_exit_code(INVITES_EJID);
		}
		f.domain = domain;
	}
	if (invr != NULL) {
		if (invites_jid_bare(invr, inviter, sizeof(inviter)) !=
		    INVITES_OK) {
			cli_error(c, "'%.80s' is not a valid JID", invr);
			return invites_err_exit_code(INVITES_EJID);
		}
		f.inviter = inviter;
	}
	f.all = cli_opt_has(a, O_ALL);
	f.now = c->now;

	if ((rc = cli_load_config(c)) != 0)
		return rc;
	if ((rc = cli_open_store(c, INVITES_OPEN_READONLY)) != 0)
		return rc;

	memset(&l, 0, sizeof(l));
	l.c = c;
	l.json = cli_opt_has(a, CLI_O_JSON);
	if (l.json) {
		cli_json_init(&l.j, c->out);
		cli_json_begin_array(&l.j);
		cli_json_newline(&l.j);
	} else {
		cli_table_init(&l.t, c->out, 8, head);
	}
	rc = invites_list(c->st, &f, list_one, &l);
	if (l.json) {
		if (l.count > 0)
			cli_json_newline(&l.j);
		cli_json_end_array(&l.j);
	} else {
		if (l.t.oom && rc > 0)
			rc = INVITES_ENOMEM;
		cli_table_finish(&l.t);
	}
	if (rc > 0)
		rc = ferror(c->out) ? INVITES_ENOMEM : INVITES_OK;
	if (rc != INVITES_OK)
		return cli_fail(c, "", rc);
	return 0;
}

/* ------------------------------------------------------------------ */
/* show                                                                */
/* ------------------------------------------------------------------ */

static const struct cli_optdef show_opts[] = {
	COMMON_OPTS, JSON_OPT, END_OPTS
};

static const char show_usage[] =
"Usage: invitectl show ID [--json]\n"
"\n"
"Show every field of one invite.  ID is its public id or an unambiguous\n"
"prefix of at least 4 hex digits (a token or an xmpp: invite URI also\n"
"names it).  The token itself is never shown.\n"
"\n"
"Options:\n"
"  --json                  print a JSON object\n"
COMMON_HELP
EXIT_HELP;

static int
cmd_show(struct cli *c, const struct cli_args *a)
{
	struct invites_invite *inv = NULL;
	struct invite_ref r;
	int rc;

	if (a->n_pos == 0)
		return cli_usage(c, "missing ID");
	if (a->n_pos > 1)
		return cli_usage(c, "unexpected argument '%.40s'", a->pos[1]);
	if ((rc = parse_ref(c, a->pos[0], 1, &r)) != 0)
		return rc;
	if ((rc = cli_load_config(c)) != 0 ||
	    (rc = cli_open_store(c, INVITES_OPEN_READONLY)) != 0) {
		ref_wipe(&r);
		return rc;
	}
	rc = ref_get(c, &r, &inv);
	ref_wipe(&r);
	if (rc != INVITES_OK)
		return cli_fail(c, r.label, rc);
	if (cli_opt_has(a, CLI_O_JSON)) {
		struct cli_json j;

		cli_json_init(&j, c->out);
		cli_json_begin_object(&j);
		cli_json_invite_fields(&j, inv, c->now, 1);
		cli_json_end_object(&j);
	} else {
		cli_print_invite(c->out, inv, c->now);
	}
	invites_invite_free(&inv);
	return 0;
}

/* ------------------------------------------------------------------ */
/* revoke                                                              */
/* ------------------------------------------------------------------ */

static const struct cli_optdef revoke_opts[] = {
	COMMON_OPTS, END_OPTS
};

static const char revoke_usage[] =
"Usage: invitectl revoke ID|TOKEN|URI\n"
"\n"
"Revoke an invite so that it can no longer be used.  It is named by its\n"
"public id (or an unambiguous prefix of at least 4 hex digits), by its\n"
"token, or by its xmpp: URI.  Prints \"revoked ID\".\n"
"\n"
"Options:\n"
COMMON_HELP
EXIT_HELP;

static int
cmd_revoke(struct cli *c, const struct cli_args *a)
{
	struct invites_invite *inv = NULL;
	struct invite_ref r;
	int rc;

	if (a->n_pos == 0)
		return cli_usage(c, "missing ID or TOKEN");
	if (a->n_pos > 1)
		return cli_usage(c, "unexpected argument");
	if ((rc = parse_ref(c, a->pos[0], 1, &r)) != 0)
		return rc;
	if ((rc = cli_load_config(c)) != 0 ||
	    (rc = cli_open_store(c, 0)) != 0) {
		ref_wipe(&r);
		return rc;
	}
	rc = invites_revoke(c->st, r.is_token ? r.token : r.id, cli_actor(),
	                    &inv);
	ref_wipe(&r);
	if (rc != INVITES_OK)
		return cli_fail(c, r.label, rc);
	fprintf(c->out, "revoked %s\n", inv != NULL ? inv->id : r.id);
	invites_invite_free(&inv);
	return 0;
}

/* ------------------------------------------------------------------ */
/* reissue                                                             */
/* ------------------------------------------------------------------ */

static const struct cli_optdef reissue_opts[] = {
	COMMON_OPTS, JSON_OPT,
	{ "expires", 0, CLI_OPT_ARG, O_EXPIRES },
	END_OPTS
};

static const char reissue_usage[] =
"Usage: invitectl reissue ID [--expires DURATION] [--json]\n"
"\n"
"Replace an invite whose link was lost: a new token with the same\n"
"settings, and the old invite revoked, in one transaction.  Prints the new\n"
"link like generate.  ID is a public id or a prefix of at least 4 hex\n"
"digits.\n"
"\n"
"Options:\n"
"  --expires DURATION      valid for DURATION from now (default: the\n"
"                          configured expiry for its kind)\n"
"  --json                  print every field as one JSON object, with the\n"
"                          token, the links and \"replaces\" (the old id)\n"
COMMON_HELP
EXIT_HELP;

static int
cmd_reissue(struct cli *c, const struct cli_args *a)
{
	struct invites_invite *old = NULL, *inv = NULL;
	char token[INVITES_TOKEN_MAX + 1];
	char old_id[INVITES_ID_LEN + 1];
	struct invite_ref r;
	int64_t valid_for;
	int rc;

	if (a->n_pos == 0)
		return cli_usage(c, "missing ID");
	if (a->n_pos > 1)
		return cli_usage(c, "unexpected argument '%.40s'", a->pos[1]);
	if ((rc = parse_ref(c, a->pos[0], 0, &r)) != 0)
		return rc;
	rc = cli_parse_expires(c, cli_opt_get(a, O_EXPIRES), &valid_for);
	if (rc != 0)
		return rc;
	if ((rc = cli_load_config(c)) != 0 ||
	    (rc = cli_open_store(c, 0)) != 0)
		return rc;
	rc = invites_get_by_id(c->st, r.id, &old);
	if (rc != INVITES_OK)
		return cli_fail(c, r.label, rc);
	memcpy(old_id, old->id, sizeof(old_id));
	if (valid_for == 0)
		valid_for = old->kind == INVITES_KIND_RESET ?
		            invites_config_reset_expiry(c->cfg) :
		            invites_config_expiry(c->cfg);
	invites_invite_free(&old);
	rc = invites_reissue(c->st, c->cfg, old_id, cli_actor(),
	                     c->now + valid_for,
	                     token, sizeof(token), &inv);
	if (rc != INVITES_OK)
		return cli_fail(c, old_id, rc);
	rc = print_new_invite(c, inv, token, cli_opt_has(a, CLI_O_JSON),
	                      old_id);
	explicit_bzero(token, sizeof(token));
	invites_invite_free(&inv);
	return rc;
}

/* ------------------------------------------------------------------ */
/* purge                                                               */
/* ------------------------------------------------------------------ */

static const struct cli_optdef purge_opts[] = {
	COMMON_OPTS, JSON_OPT, END_OPTS
};

static const char purge_usage[] =
"Usage: invitectl purge [--json]\n"
"\n"
"Delete the invites that have expired, and used-up or revoked invites\n"
"older than `purge_grace`.  Prints \"purged N\" (N invites deleted).  Each\n"
"deletion is recorded in the audit trail.\n"
"\n"
"Options:\n"
"  --json                  print {\"purged\": N}\n"
COMMON_HELP
EXIT_HELP;

static int
cmd_purge(struct cli *c, const struct cli_args *a)
{
	size_t n = 0;
	int rc;

	if (a->n_pos > 0)
		return cli_usage(c, "unexpected argument '%.40s'", a->pos[0]);
	if ((rc = cli_load_config(c)) != 0 ||
	    (rc = cli_open_store(c, 0)) != 0)
		return rc;
	rc = invites_purge(c->st, c->now, &n);
	if (rc != INVITES_OK)
		return cli_fail(c, "", rc);
	if (cli_opt_has(a, CLI_O_JSON))
		fprintf(c->out, "{\"purged\":%zu}\n", n);
	else
		fprintf(c->out, "purged %zu\n", n);
	return 0;
}

/* ------------------------------------------------------------------ */
/* stats                                                               */
/* ------------------------------------------------------------------ */

static const struct cli_optdef stats_opts[] = {
	COMMON_OPTS, JSON_OPT,
	{ "by-inviter", 0, 0, CLI_O_BY_INVITER },
	END_OPTS
};

static const char stats_usage[] =
"Usage: invitectl stats [--by-inviter] [--json]\n"
"\n"
"Print counts of the stored invites (pending, expired, used up, revoked,\n"
"by kind), of audit records and pending post-registration work, and the\n"
"size on disk of the store's database files and transaction logs.\n"
"\n"
"--by-inviter lists each inviter instead: how many they invited, the\n"
"invites they created, their pending ones (what max_invites_per_user\n"
"counts) and their invites' last use (see `invitectl tree`).\n"
"\n"
"Options:\n"
"  --by-inviter            counts per inviter (tree.c)\n"
"  --json                  print a JSON object (--by-inviter: an array)\n"
COMMON_HELP
EXIT_HELP;

static void
human_size(uint64_t b, char *buf, size_t n)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int u = -1;

	while (v >= 1024.0 && u < 3) {
		v /= 1024.0;
		u++;
	}
	if (u < 0)
		snprintf(buf, n, "%" PRIu64 " bytes", b);
	else
		snprintf(buf, n, "%" PRIu64 " bytes (%.1f %s)", b, v, unit[u]);
}

static int
cmd_stats(struct cli *c, const struct cli_args *a)
{
	struct invites_stats s;
	char t[64], sz[64];
	int rc;

	if (a->n_pos > 0)
		return cli_usage(c, "unexpected argument '%.40s'", a->pos[0]);
	if (cli_opt_has(a, CLI_O_BY_INVITER))
		return cli_stats_by_inviter(c, a); /* tree.c */
	if ((rc = cli_load_config(c)) != 0 ||
	    (rc = cli_open_store(c, INVITES_OPEN_READONLY)) != 0)
		return rc;
	memset(&s, 0, sizeof(s));
	rc = invites_stats_get(c->st, c->now, &s);
	if (rc != INVITES_OK)
		return cli_fail(c, "", rc);
	if (cli_opt_has(a, CLI_O_JSON)) {
		struct cli_json j;

		cli_json_init(&j, c->out);
		cli_json_begin_object(&j);
		cli_json_key(&j, "total");
		cli_json_uint(&j, s.total);
		cli_json_key(&j, "pending");
		cli_json_uint(&j, s.pending);
		cli_json_key(&j, "expired");
		cli_json_uint(&j, s.expired);
		cli_json_key(&j, "used_up");
		cli_json_uint(&j, s.used_up);
		cli_json_key(&j, "revoked");
		cli_json_uint(&j, s.revoked);
		cli_json_key(&j, "by_kind");
		cli_json_begin_object(&j);
		cli_json_key(&j, "account");
		cli_json_uint(&j, s.by_kind[INVITES_KIND_ACCOUNT]);
		cli_json_key(&j, "contact");
		cli_json_uint(&j, s.by_kind[INVITES_KIND_CONTACT]);
		cli_json_key(&j, "reset");
		cli_json_uint(&j, s.by_kind[INVITES_KIND_RESET]);
		cli_json_end_object(&j);
		cli_json_key(&j, "audit_records");
		cli_json_uint(&j, s.audit_records);
		cli_json_key(&j, "pending_actions");
		cli_json_uint(&j, s.pending_actions);
		cli_json_key(&j, "data_bytes");
		cli_json_uint(&j, s.data_bytes);
		cli_json_key(&j, "log_bytes");
		cli_json_uint(&j, s.log_bytes);
		cli_json_time(&j, "oldest_expiry", s.oldest_expiry);
		cli_json_key(&j, "store");
		cli_json_string(&j, invites_config_store(c->cfg));
		cli_json_end_object(&j);
		return 0;
	}
	fprintf(c->out, "store:            %s\n", invites_config_store(c->cfg));
	fprintf(c->out, "invites:          %zu\n", s.total);
	fprintf(c->out, "  pending:        %zu\n", s.pending);
	fprintf(c->out, "  expired:        %zu\n", s.expired);
	fprintf(c->out, "  used up:        %zu\n", s.used_up);
	fprintf(c->out, "  revoked:        %zu\n", s.revoked);
	fprintf(c->out, "by kind:          account %zu, contact %zu, reset %zu\n",
	        s.by_kind[INVITES_KIND_ACCOUNT], s.by_kind[INVITES_KIND_CONTACT],
	        s.by_kind[INVITES_KIND_RESET]);
	fprintf(c->out, "oldest expiry:    %s\n",
	        cli_fmt_time(s.oldest_expiry, t, sizeof(t)));
	fprintf(c->out, "audit records:    %zu\n", s.audit_records);
	fprintf(c->out, "pending actions:  %zu\n", s.pending_actions);
	human_size(s.data_bytes, sz, sizeof(sz));
	fprintf(c->out, "data size:        %s\n", sz);
	human_size(s.log_bytes, sz, sizeof(sz));
	fprintf(c->out, "log size:         %s\n", sz);
	return 0;
}

/* ------------------------------------------------------------------ */
/* audit                                                               */
/* ------------------------------------------------------------------ */

static const struct cli_optdef audit_opts[] = {
	COMMON_OPTS, JSON_OPT,
	{ "since", 0, CLI_OPT_ARG, O_SINCE },
	END_OPTS
};

static const char audit_usage[] =
"Usage: invitectl audit [--since SEQ] [--json]\n"
"\n"
"Print the audit trail, oldest first: who created, used (and so who\n"
"invited whom), revoked, re-issued and purged which invite.  Columns: SEQ\n"
"(a strictly increasing number), TIME, EVENT, ID, KIND, DOMAIN, ACTOR (who\n"
"did it) and SUBJECT (the invitee's JID for \"used\", the new id for\n"
"\"reissued\").\n"
"\n"
"Options:\n"
"  --since SEQ             only records after record number SEQ\n"
"  --json                  print a JSON array of records\n"
COMMON_HELP
EXIT_HELP;

struct audit_ctx {
	struct cli *c;
	int json;
	uint64_t since;
	struct cli_json j;
	struct cli_table t;
	size_t count;
};

static int
audit_one(void *ctx, const struct invites_audit *rec)
{
	struct audit_ctx *x = ctx;
	const char *kind = invites_kind_name(rec->kind);
	char tbuf[64];

	if (rec->seq <= x->since)
		return 0;
	if (x->json) {
		if (x->count > 0)
			cli_json_newline(&x->j);
		cli_json_begin_object(&x->j);
		cli_json_key(&x->j, "seq");
		cli_json_uint(&x->j, rec->seq);
		cli_json_time(&x->j, "time", rec->time);
		cli_json_key(&x->j, "event");
		cli_json_string(&x->j, invites_event_name(rec->event));
		cli_json_key(&x->j, "id");
		cli_json_string(&x->j, rec->id);
		cli_json_key(&x->j, "kind");
		cli_json_string(&x->j, kind);
		cli_json_key(&x->j, "domain");
		cli_json_string(&x->j, rec->domain);
		cli_json_key(&x->j, "actor");
		cli_json_string(&x->j, rec->actor);
		cli_json_key(&x->j, "subject");
		cli_json_string(&x->j, rec->subject);
		cli_json_end_object(&x->j);
	} else {
		char seq[32];
		const char *cells[8];

		snprintf(seq, sizeof(seq), "%" PRIu64, rec->seq);
		cells[0] = seq;
		cells[1] = cli_fmt_time(rec->time, tbuf, sizeof(tbuf));
		cells[2] = invites_event_name(rec->event);
		cells[3] = rec->id;
		cells[4] = kind;
		cells[5] = rec->domain;
		cells[6] = rec->actor;
		cells[7] = rec->subject;
		if (cli_table_row(&x->t, cells) != 0)
			return 1;
	}
	x->count++;
	return ferror(x->c->out) ? 1 : 0;
}

static int
cmd_audit(struct cli *c, const struct cli_args *a)
{
	static const char *const head[8] = {
		"SEQ", "TIME", "EVENT", "ID", "KIND", "DOMAIN", "ACTOR",
		"SUBJECT"
	};
	const char *since_s = cli_opt_get(a, O_SINCE);
	struct audit_ctx x;
	int rc;

	memset(&x, 0, sizeof(x));
	if (a->n_pos > 0)
		return cli_usage(c, "unexpected argument '%.40s'", a->pos[0]);
	if (since_s != NULL &&
	    parse_uint(since_s, UINT64_MAX - 1, &x.since) != 0)
		return cli_usage(c, "bad record number '%.40s' for --since",
		                 since_s);
	if ((rc = cli_load_config(c)) != 0 ||
	    (rc = cli_open_store(c, INVITES_OPEN_READONLY)) != 0)
		return rc;
	x.c = c;
	x.json = cli_opt_has(a, CLI_O_JSON);
	if (x.json) {
		cli_json_init(&x.j, c->out);
		cli_json_begin_array(&x.j);
		cli_json_newline(&x.j);
	} else {
		cli_table_init(&x.t, c->out, 8, head);
	}
	rc = invites_audit_walk(c->st, x.since + 1, audit_one, &x);
	if (x.json) {
		if (x.count > 0)
			cli_json_newline(&x.j);
		cli_json_end_array(&x.j);
	} else {
		if (x.t.oom && rc > 0)
			rc = INVITES_ENOMEM;
		cli_table_finish(&x.t);
	}
	if (rc > 0)
		rc = ferror(c->out) ? INVITES_ENOMEM : INVITES_OK;
	if (rc != INVITES_OK)
		return cli_fail(c, "", rc);
	return 0;
}

/* ------------------------------------------------------------------ */

const struct cli_command cli_commands[] = {
	{ "generate", "create an invite and print its link",
	  generate_usage, generate_opts, cmd_generate },
	{ "list", "list invites (pending, or --all)",
	  list_usage, list_opts, cmd_list },
	{ "show", "show one invite",
	  show_usage, show_opts, cmd_show },
	{ "revoke", "revoke an invite",
	  revoke_usage, revoke_opts, cmd_revoke },
	{ "reissue", "replace an invite with a new link, same settings",
	  reissue_usage, reissue_opts, cmd_reissue },
	{ "purge", "delete expired (and old used or revoked) invites",
	  purge_usage, purge_opts, cmd_purge },
	{ "stats", "counts and store size",
	  stats_usage, stats_opts, cmd_stats },
	{ "audit", "the audit trail: who invited whom",
	  audit_usage, audit_opts, cmd_audit },
	{ "api-key", "keys for the HTTP API of invites-web (apikey.c)",
	  cli_apikey_usage, cli_apikey_opts, cli_cmd_apikey },
	{ "import", "import invites from Prosody or ejabberd (import.c)",
	  cli_import_usage, cli_import_opts, cli_cmd_import },
	{ "tree", "the invitation tree: who invited whom (tree.c)",
	  cli_tree_usage, cli_tree_opts, cli_cmd_tree },
	{ "check", "check this deployment, line by line (check.c)",
	  cli_check_usage, cli_check_opts, cli_cmd_check },
	{ "backup", "hot copy of the store into a directory (backup.c)",
	  cli_backup_usage, cli_backup_opts, cli_cmd_backup },
	{ "verify", "check every database file of the store (backup.c)",
	  cli_verify_usage, cli_verify_opts, cli_cmd_verify },
	{ "db", "create (init) or upgrade (migrate) the store (db.c)",
	  cli_db_usage, cli_db_opts, cli_cmd_db },
	{ "store", "copy a whole store into another (db.c)",
	  cli_storecmd_usage, cli_storecmd_opts, cli_cmd_store },
	{ NULL, NULL, NULL, NULL, NULL }
};

const struct cli_command *
cli_command_find(const char *name)
{
	const struct cli_command *cmd;

	for (cmd = cli_commands; cmd->name != NULL; cmd++) {
		if (strcmp(cmd->name, name) == 0)
			return cmd;
	}
	return NULL;
}
