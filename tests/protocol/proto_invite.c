/* SPDX-License-Identifier: MIT */
/*
 * Helper process of the protocol test host: creates, revokes and shows
 * invites in a case's store through the public API, in a process of its
 * own (one store handle per process), while the plugin under test holds
 * the store open in the host process.
 *
 *   proto_invite CONF create KIND [key=value...]  -> "TOKEN ID"
 *       keys: username inviter ibr=1 roles=a,b groups=a,b uses=N note=
 *             domain= expires=SECONDS (relative to now)
 *   proto_invite CONF revoke ID
 *   proto_invite CONF role JID ROLE
 *   proto_invite CONF dump          (every invite, one line each)
 *   proto_invite CONF pending JID   (work left for JID, not taken)
 *   proto_invite CONF roles JID
 *   proto_invite CONF audit
 * Exit 0 on success, else 1 with the error on stdout.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <invites/invites.h>

static void
split(char *s, const char **v, size_t *n, size_t max)
{
	char *tok, *save = NULL;

	*n = 0;
	for (tok = strtok_r(s, ",", &save); tok != NULL && *n < max;
	     tok = strtok_r(NULL, ",", &save))
		v[(*n)++] = tok;
}

static int
create(struct invites_store *st, struct invites_config *cfg, int argc,
       char **argv)
{
	struct invites_spec spec;
	struct invites_invite *inv = NULL;
	const char *roles[8], *groups[8];
	char token[INVITES_TOKEN_MAX + 1];
	int i, rc;

	memset(&spec, 0, sizeof(spec));
	if (argc < 1 || invites_kind_parse(argv[0], &spec.kind) < 0) {
		printf("bad kind\n");
		return 1;
	}
	spec.domain = invites_config_domain(cfg, 0);
	for (i = 1; i < argc; i++) {
		char *k = argv[i], *v = strchr(k, '=');

		if (v == NULL) {
			printf("bad argument %s\n", k);
			return 1;
		}
		*v++ = '\0';
		if (strcmp(k, "username") == 0)
			spec.username = v;
		else if (strcmp(k, "inviter") == 0)
			spec.inviter = v;
		else if (strcmp(k, "ibr") == 0)
			spec.flags |= INVITES_F_REGISTER;
		else if (strcmp(k, "roles") == 0)
			split(v, roles, &spec.n_roles, 8), spec.roles = roles;
		else if (strcmp(k, "groups") == 0)
			split(v, groups, &spec.n_groups, 8),
				spec.groups = groups;
		else if (strcmp(k, "uses") == 0)
			spec.max_uses = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(k, "note") == 0)
			spec.note = v;
		else if (strcmp(k, "domain") == 0)
			spec.domain = v;
		else if (strcmp(k, "created_by") == 0)
			spec.created_by = v;
		else if (strcmp(k, "expires") == 0) {
			char *end;
			long long s = strtoll(v, &end, 10);
			const char *now = getenv("INVITES_FAKE_NOW");

			spec.expires = (now ? strtoll(now, NULL, 10) : 0) + s;
		} else {
			printf("unknown key %s\n", k);
			return 1;
		}
	}
	rc = invites_create(st, cfg, &spec, token, sizeof(token), &inv);
	if (rc < 0) {
		printf("error %s\n", invites_err_name(rc));
		return 1;
	}
	printf("%s %s\n", token, inv->id);
	invites_invite_free(&inv);
	return 0;
}

static int
dump_one(void *ctx, const struct invites_invite *inv)
{
	size_t i;

	(void)ctx;
	printf("invite %s %s %s user=%s inviter=%s uses=%u/%u revoked=%s "
	       "last_used_by=%s roles=", inv->id, invites_kind_name(inv->kind),
	       inv->domain, inv->username ? inv->username : "-",
	       inv->inviter ? inv->inviter : "-", (unsigned)inv->uses,
	       (unsigned)inv->max_uses, inv->revoked ? "yes" : "no",
	       inv->last_used_by ? inv->last_used_by : "-");
	for (i = 0; i < inv->n_roles; i++)
		printf("%s%s", i ? "," : "", inv->roles[i]);
	printf("\n");
	return 0;
}

static int
audit_one(void *ctx, const struct invites_audit *a)
{
	(void)ctx;
	printf("audit %s %s actor=%s subject=%s\n", invites_event_name(a->event),
	       a->id, a->actor ? a->actor : "-",
	       a->subject ? a->subject : "-");
	return 0;
}

static void
log_line(void *ctx, int level, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "proto_invite: %d %s\n", level, msg);
}

int
main(int argc, char **argv)
{
	struct invites_config *cfg = NULL;
	struct invites_store *st = NULL;
	char *msg = NULL;
	int rc, ret = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: proto_invite CONF COMMAND ...\n");
		return 2;
	}
	invites_set_log(log_line, NULL);
	rc = invites_config_load(argv[1], &cfg, &msg);
	if (rc < 0) {
		printf("config: %s\n", msg ? msg : invites_strerror(rc));
		invites_free(msg);
		return 1;
	}
	rc = invites_store_open(cfg, 0, &st);
	if (rc < 0) {
		printf("store: %s\n", invites_strerror(rc));
		invites_config_free(&cfg);
		return 1;
	}
	if (strcmp(argv[2], "create") == 0) {
		ret = create(st, cfg, argc - 3, argv + 3);
	} else if (strcmp(argv[2], "revoke") == 0 && argc == 4) {
		rc = invites_revoke(st, argv[3], "test", NULL);
		ret = rc < 0;
		if (rc < 0)
			printf("error %s\n", invites_err_name(rc));
	} else if (strcmp(argv[2], "role") == 0 && argc == 5) {
		rc = invites_roles_add(st, argv[3], argv[4]);
		ret = rc < 0;
		if (rc < 0)
			printf("error %s\n", invites_err_name(rc));
	} else if (strcmp(argv[2], "dump") == 0) {
		struct invites_filter f;

		memset(&f, 0, sizeof(f));
		f.all = 1;
		rc = invites_list(st, &f, dump_one, NULL);
		ret = rc < 0;
	} else if (strcmp(argv[2], "pending") == 0 && argc == 4) {
		struct invites_pending *p = NULL;
		size_t i;

		rc = invites_pending_get(st, argv[3], &p);
		if (rc == INVITES_ENOTFOUND) {
			printf("pending %s none\n", argv[3]);
			ret = 0;
		} else if (rc == 0) {
			printf("pending %s invite=%s pair_with=%s roles=",
			       p->jid, p->invite_id ? p->invite_id : "-",
			       p->pair_with ? p->pair_with : "-");
			for (i = 0; i < p->n_roles; i++)
				printf("%s%s", i ? "," : "", p->roles[i]);
			printf(" groups=");
			for (i = 0; i < p->n_groups; i++)
				printf("%s%s", i ? "," : "", p->groups[i]);
			printf("\n");
			invites_pending_free(&p);
			ret = 0;
		} else {
			printf("error %s\n", invites_err_name(rc));
		}
	} else if (strcmp(argv[2], "roles") == 0 && argc == 4) {
		char **roles = NULL;
		size_t n = 0, i;

		rc = invites_roles_get(st, argv[3], &roles, &n);
		if (rc == 0 || rc == INVITES_ENOTFOUND) {
			printf("roles %s:", argv[3]);
			for (i = 0; i < n; i++)
				printf(" %s", roles[i]);
			printf("\n");
			invites_strv_free(roles, n);
			ret = 0;
		} else {
			printf("error %s\n", invites_err_name(rc));
		}
	} else if (strcmp(argv[2], "audit") == 0) {
		rc = invites_audit_walk(st, 0, audit_one, NULL);
		ret = rc < 0;
	} else {
		printf("unknown command %s\n", argv[2]);
	}
	invites_store_close(&st);
	invites_config_free(&cfg);
	return ret;
}
