/* SPDX-License-Identifier: MIT */
/*
 * invitectl tree and invitectl stats --by-inviter: who invited whom.
 *
 * Both are built from the audit trail, not from the invites: a "used"
 * record names the invite, its inviter (the actor) and the invitee (the
 * subject), and it stays when the invite is purged or the invitee's
 * account is deleted, for as long as the audit keeps it
 * (audit_retention).  A "unused" record takes a use back (the server
 * failed to create the account).  Password resets are not invitations.
 * A user's place in the tree is the first invite they used; later ones
 * (a contact invite accepted after joining) are counted but do not move
 * them.  Each user also shows the pending invites they created, which is
 * what max_invites_per_user counts.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	O_DEPTH = CLI_O_FIRST_CMD + 300
};

#define MAX_DEPTH 200

struct node {
	char *name;            /* a bare JID, or an actor like invitectl:root */
	long parent_edge;      /* index into edges, -1 for none */
	size_t *kids;          /* edge indexes, in audit order */
	size_t n_kids, cap_kids;
	size_t invited;        /* uses of this node's invites (all kinds) */
	size_t created;        /* "created" records naming it */
	int64_t last;          /* time of the last use of its invites */
	size_t pending;        /* its usable invites now */
	int pending_known;
	int seen;              /* printed */
};

struct edge {
	size_t parent, child;
	char id[INVITES_ID_LEN + 1];
	enum invites_kind kind;
	int64_t time;
	int removed;
};

struct graph {
	struct node *nodes;
	size_t n, cap;
	size_t *slots;          /* open addressing: node index + 1, 0 free */
	size_t n_slots;
	struct edge *edges;
	size_t n_edges, cap_edges;
	int oom;
};

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int
rehash(struct graph *g)
{
	size_t n = g->n_slots ? g->n_slots * 2 : 256, i, j;
	size_t *s = calloc(n, sizeof(*s));

	if (s == NULL)
		return -1;
	for (i = 0; i < g->n; i++) {
		j = hash_str(g->nodes[i].name) & (n - 1);
		while (s[j] != 0)
			j = (j + 1) & (n - 1);
		s[j] = i + 1;
	}
	free(g->slots);
	g->slots = s;
	g->n_slots = n;
	return 0;
}

/* The node named name (created when missing); -1 when out of memory. */
static long
node_get(struct graph *g, const char *name, int create)
{
	size_t j;
	struct node *nd;

	if (g->n_slots > 0) {
		j = hash_str(name) & (g->n_slots - 1);
		while (g->slots[j] != 0) {
			if (strcmp(g->nodes[g->slots[j] - 1].name, name) == 0)
				return (long)(g->slots[j] - 1);
			j = (j + 1) & (g->n_slots - 1);
		}
	}
	if (!create)
		return -1;
	if ((g->n + 1) * 2 > g->n_slots && rehash(g) != 0)
		goto oom;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 64;

		nd = realloc(g->nodes, cap * sizeof(*nd));
		if (nd == NULL)
			goto oom;
		g->nodes = nd;
		g->cap = cap;
	}
	nd = &g->nodes[g->n];
	memset(nd, 0, sizeof(*nd));
	nd->parent_edge = -1;
	nd->name = strdup(name);
	if (nd->name == NULL)
		goto oom;
	j = hash_str(name) & (g->n_slots - 1);
	while (g->slots[j] != 0)
		j = (j + 1) & (g->n_slots - 1);
	g->slots[j] = ++g->n;
	return (long)(g->n - 1);
oom:
	g->oom = 1;
	return -1;
}

static void
graph_free(struct graph *g)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		free(g->nodes[i].name);
		free(g->nodes[i].kids);
	}
	free(g->nodes);
	free(g->slots);
	free(g->edges);
	memset(g, 0, sizeof(*g));
}

static int
audit_visit(void *ctx, const struct invites_audit *a)
{
	struct graph *g = ctx;
	struct edge *e;
	long p, ch;
	size_t i;

	if (g->oom)
		return 1;
	if (a->event == INVITES_EV_CREATED && a->actor != NULL) {
		p = node_get(g, a->actor, 1);
		if (p >= 0)
			g->nodes[p].created++;
		return g->oom;
	}
	if (a->event == INVITES_EV_UNUSED && a->subject != NULL) {
		for (i = g->n_edges; i-- > 0;) {
			e = &g->edges[i];
			if (!e->removed && strcmp(e->id, a->id) == 0 &&
			    strcmp(g->nodes[e->child].name, a->subject) == 0) {
				e->removed = 1;
				break;
			}
		}
		return 0;
	}
	if (a->event != INVITES_EV_USED || a->subject == NULL ||
	    a->kind == INVITES_KIND_RESET)
		return 0;
	p = node_get(g, a->actor != NULL ? a->actor : "(unknown)", 1);
	ch = p >= 0 ? node_get(g, a->subject, 1) : -1;
	if (ch < 0)
		return 1;
	if (g->n_edges == g->cap_edges) {
		size_t cap = g->cap_edges ? g->cap_edges * 2 : 64;

		e = realloc(g->edges, cap * sizeof(*e));
		if (e == NULL) {
			g->oom = 1;
			return 1;
		}
		g->edges = e;
		g->cap_edges = cap;
	}
	e = &g->edges[g->n_edges++];
	memset(e, 0, sizeof(*e));
	e->parent = (size_t)p;
	e->child = (size_t)ch;
	memcpy(e->id, a->id, sizeof(e->id));
	e->kind = a->kind;
	e->time = a->time;
	return 0;
}

/* Link the surviving edges: a child's first edge is its place. */
static int
link(struct graph *g)
{
	size_t i;

	for (i = 0; i < g->n_edges; i++) {
		struct edge *e = &g->edges[i];
		struct node *pa = &g->nodes[e->parent];
		struct node *ch = &g->nodes[e->child];

		if (e->removed)
			continue;
		pa->invited++;
		if (e->time > pa->last)
			pa->last = e->time;
		if (ch->parent_edge >= 0 || e->parent == e->child)
			continue;
		ch->parent_edge = (long)i;
		if (pa->n_kids == pa->cap_kids) {
			size_t cap = pa->cap_kids ? pa->cap_kids * 2 : 4;
			size_t *k = realloc(pa->kids, cap * sizeof(*k));

			if (k == NULL)
				return -1;
			pa->kids = k;
			pa->cap_kids = cap;
		}
		pa->kids[pa->n_kids++] = i;
	}
	return 0;
}

/* Users of a served domain get their pending count (what the limit
 * counts); pending invites of users who never invited anyone add them. */
static int
list_visit(void *ctx, const struct invites_invite *inv)
{
	struct graph *g = ctx;

	if (inv->inviter != NULL && node_get(g, inv->inviter, 1) < 0)
		return 1;
	return 0;
}

static int
is_local_user(struct cli *c, const char *name)
{
	const char *at = strchr(name, '@');

	return at != NULL && at != name && strchr(name, ':') == NULL &&
	       invites_config_serves(c->cfg, at + 1);
}

static int
count_pending(struct cli *c, struct graph *g)
{
	struct invites_filter f;
	size_t i;
	int rc;

	memset(&f, 0, sizeof(f));
	f.now = c->now;
	rc = invites_list(c->st, &f, list_visit, g);
	if (g->oom)
		return INVITES_ENOMEM;
	if (rc < 0)
		return rc;
	for (i = 0; i < g->n; i++) {
		if (!is_local_user(c, g->nodes[i].name))
			continue;
		rc = invites_count_by_inviter(c->st, g->nodes[i].name, c->now,
		                              &g->nodes[i].pending);
		if (rc < 0)
			return rc;
		g->nodes[i].pending_known = 1;
	}
	return 0;
}

static int
build(struct cli *c, struct graph *g)
{
	int rc;

	memset(g, 0, sizeof(*g));
	rc = invites_audit_walk(c->st, 0, audit_visit, g);
	if (g->oom)
		return INVITES_ENOMEM;
	if (rc < 0)
		return rc;
	if (link(g) != 0)
		return INVITES_ENOMEM;
	return count_pending(c, g);
}

/* ---- text ---- */

static void
print_node(struct cli *c, struct graph *g, size_t i, const char *prefix,
           int last, int depth, int top)
{
	struct node *nd = &g->nodes[i];
	unsigned limit = invites_config_max_invites_per_user(c->cfg);
	char t[32], pre[4 * MAX_DEPTH + 8];
	size_t k;

	nd->seen = 1;
	if (top)
		fprintf(c->out, "%s%s", prefix, nd->name);
	else
		fprintf(c->out, "%s%s%s", prefix, last ? "`-- " : "|-- ",
		        nd->name);
	if (nd->parent_edge >= 0) {
		struct edge *e = &g->edges[nd->parent_edge];

		fprintf(c->out, "  %s %s %s", cli_fmt_time(e->time, t, sizeof(t)),
		        invites_kind_name(e->kind), e->id);
	}
	if (nd->pending_known) {
		if (limit > 0)
			fprintf(c->out, "  [pending %zu/%u]", nd->pending, limit);
		else
			fprintf(c->out, "  [pending %zu]", nd->pending);
	}
	fputc('\n', c->out);
	if (depth >= MAX_DEPTH) {
		if (nd->n_kids > 0)
			fprintf(c->out, "%s    ... (deeper levels not shown)\n",
			        prefix);
		return;
	}
	snprintf(pre, sizeof(pre), "%s%s", prefix,
	         top ? "" : (last ? "    " : "|   "));
	for (k = 0; k < nd->n_kids; k++) {
		size_t ch = g->edges[nd->kids[k]].child;

		if (g->nodes[ch].seen)
			continue;
		print_node(c, g, ch, pre, k + 1 == nd->n_kids, depth + 1, 0);
	}
}

/* ---- JSON ---- */

static void
json_node(struct cli *c, struct graph *g, struct cli_json *j, size_t i,
          int depth)
{
	struct node *nd = &g->nodes[i];
	unsigned limit = invites_config_max_invites_per_user(c->cfg);
	size_t k;

	nd->seen = 1;
	cli_json_begin_object(j);
	cli_json_key(j, "jid");
	cli_json_string(j, nd->name);
	if (nd->parent_edge >= 0) {
		struct edge *e = &g->edges[nd->parent_edge];

		cli_json_key(j, "invited_by");
		cli_json_string(j, g->nodes[e->parent].name);
		cli_json_key(j, "invite");
		cli_json_string(j, e->id);
		cli_json_key(j, "kind");
		cli_json_string(j, invites_kind_name(e->kind));
		cli_json_time(j, "time", e->time);
	} else {
		cli_json_key(j, "invited_by");
		cli_json_null(j);
	}
	cli_json_key(j, "invited");
	cli_json_uint(j, nd->invited);
	cli_json_key(j, "pending");
	if (nd->pending_known)
		cli_json_uint(j, nd->pending);
	else
		cli_json_null(j);
	cli_json_key(j, "limit");
	if (nd->pending_known && limit > 0)
		cli_json_uint(j, limit);
	else
		cli_json_null(j);
	cli_json_key(j, "children");
	cli_json_begin_array(j);
	if (depth < MAX_DEPTH) {
		for (k = 0; k < nd->n_kids; k++) {
			size_t ch = g->edges[nd->kids[k]].child;

			if (g->nodes[ch].seen)
				continue;
			json_node(c, g, j, ch, depth + 1);
		}
	}
	cli_json_end_array(j);
	cli_json_end_object(j);
}

/* ---- the command ---- */

const struct cli_optdef cli_tree_opts[] = {
	{ "help", 'h', 0, CLI_O_HELP },
	{ "config", 'c', CLI_OPT_ARG, CLI_O_CONFIG },
	{ "verbose", 'v', 0, CLI_O_VERBOSE },
	{ "json", 0, 0, CLI_O_JSON },
	{ NULL, 0, 0, 0 }
};

const char cli_tree_usage[] =
"Usage: invitectl tree [USER] [--json]\n"
"\n"
"Print the invitation tree: who invited whom, when, and through which\n"
"invite (kind and public id), from the audit trail.  Entries stay after\n"
"an invite is purged or an account is deleted, as long as the audit keeps\n"
"them (audit_retention).  The top of each tree is whoever created the\n"
"first invites: an admin's JID, or invitectl:LOGIN for invites made with\n"
"invitectl.  A user's place is the first invite they used; password\n"
"resets are not shown.  [pending N/LIMIT] is the number of usable invites\n"
"the user created now, which max_invites_per_user limits.\n"
"\n"
"With USER (a bare JID), print who invited USER, up to the top, and the\n"
"tree below USER.\n"
"\n"
"Options:\n"
"  --json                a JSON object {\"roots\": [...]}, or for USER\n"
"                        {\"path\": [...], \"tree\": {...}}\n"
"  -c, --config FILE     the configuration file\n"
"  -v, --verbose         print the library's log lines on stderr\n"
"  -h, --help            show this help\n"
"\n"
"Exit status: 0 success; 1 USER is not in the tree; 65 malformed USER;\n"
"66 no store; 74 store error.\n";

int
cli_cmd_tree(struct cli *c, const struct cli_args *a)
{
	char user[INVITES_JID_MAX + 1];
	struct graph g;
	struct cli_json j;
	int json = cli_opt_has(a, CLI_O_JSON), rc;
	size_t i, n_roots = 0;
	long u = -1;

	if (a->n_pos > 1)
		return cli_usage(c, "unexpected argument '%.40s'", a->pos[1]);
	if (a->n_pos == 1 && invites_jid_bare(a->pos[0], user, sizeof(user)) != 0)
		return cli_fail(c, a->pos[0], INVITES_EJID);
	if ((rc = cli_load_config(c)) != 0 ||
	    (rc = cli_open_store(c, INVITES_OPEN_READONLY)) != 0)
		return rc;
	rc = build(c, &g);
	if (rc != 0) {
		graph_free(&g);
		return cli_fail(c, "", rc);
	}
	if (a->n_pos == 1) {
		long path[MAX_DEPTH + 1];
		size_t np = 0, k;
		long x;

		u = node_get(&g, user, 0);
		if (u < 0) {
			cli_error(c, "%s: not in the invitation tree", user);
			graph_free(&g);
			return 1;
		}
		/* the way up, stopping at a loop */
		for (x = g.nodes[u].parent_edge >= 0
		         ? (long)g.edges[g.nodes[u].parent_edge].parent : -1;
		     x >= 0 && x != u && np < MAX_DEPTH;
		     x = g.nodes[x].parent_edge >= 0
		         ? (long)g.edges[g.nodes[x].parent_edge].parent : -1) {
			for (k = 0; k < np && path[k] != x; k++)
				;
			if (k < np)
				break;
			path[np++] = x;
		}
		if (json) {
			cli_json_init(&j, c->out);
			cli_json_begin_object(&j);
			cli_json_key(&j, "path");
			cli_json_begin_array(&j);
			for (k = np; k-- > 0;)
				cli_json_string(&j, g.nodes[path[k]].name);
			cli_json_end_array(&j);
			cli_json_key(&j, "tree");
			json_node(c, &g, &j, (size_t)u, 0);
			cli_json_end_object(&j);
			fputc('\n', c->out);
		} else {
			char ind[2 * MAX_DEPTH + 1];

			for (k = np; k-- > 0;)
				fprintf(c->out, "%*s%s\n", (int)(2 * (np - 1 - k)),
				        "", g.nodes[path[k]].name);
			memset(ind, ' ', 2 * np);
			ind[2 * np] = '\0';
			print_node(c, &g, (size_t)u, ind, 1, 0, 1);
		}
		graph_free(&g);
		return 0;
	}
	if (json) {
		cli_json_init(&j, c->out);
		cli_json_begin_object(&j);
		cli_json_key(&j, "roots");
		cli_json_begin_array(&j);
	}
	/* roots first, then what only a loop reaches */
	for (i = 0; i < g.n; i++) {
		if (g.nodes[i].parent_edge >= 0 || g.nodes[i].seen ||
		    (g.nodes[i].n_kids == 0 && g.nodes[i].pending == 0))
			continue;
		if (json) {
			cli_json_newline(&j);
			json_node(c, &g, &j, i, 0);
		} else {
			print_node(c, &g, i, "", 1, 0, 1);
		}
		n_roots++;
	}
	for (i = 0; i < g.n; i++) {
		if (g.nodes[i].seen || g.nodes[i].parent_edge < 0)
			continue;
		if (json) {
			cli_json_newline(&j);
			json_node(c, &g, &j, i, 0);
		} else {
			print_node(c, &g, i, "", 1, 0, 1);
		}
	}
	if (json) {
		cli_json_end_array(&j);
		cli_json_end_object(&j);
		fputc('\n', c->out);
	} else if (n_roots == 0) {
		fprintf(c->out, "(no invite has been used yet)\n");
	}
	graph_free(&g);
	return 0;
}

/* ---- stats --by-inviter ---- */

static int
cmp_invited(const void *x, const void *y, void *ctx)
{
	const struct graph *g = ctx;
	const struct node *a = &g->nodes[*(const size_t *)x];
	const struct node *b = &g->nodes[*(const size_t *)y];

	if (a->invited != b->invited)
		return a->invited < b->invited ? 1 : -1;
	return strcmp(a->name, b->name);
}

int
cli_stats_by_inviter(struct cli *c, const struct cli_args *a)
{
	unsigned limit;
	struct graph g;
	size_t *order = NULL, n = 0, i;
	char last[32], pend[32], lim[32], inv[32], cre[32];
	int rc;

	if ((rc = cli_load_config(c)) != 0 ||
	    (rc = cli_open_store(c, INVITES_OPEN_READONLY)) != 0)
		return rc;
	limit = invites_config_max_invites_per_user(c->cfg);
	rc = build(c, &g);
	if (rc == 0 && g.n > 0 && (order = calloc(g.n, sizeof(*order))) == NULL)
		rc = INVITES_ENOMEM;
	if (rc != 0) {
		graph_free(&g);
		return cli_fail(c, "", rc);
	}
	for (i = 0; i < g.n; i++)
		if (g.nodes[i].invited > 0 || g.nodes[i].created > 0 ||
		    (g.nodes[i].pending_known && g.nodes[i].pending > 0))
			order[n++] = i;
	qsort_r(order, n, sizeof(*order), cmp_invited, &g);
	if (cli_opt_has(a, CLI_O_JSON)) {
		struct cli_json j;

		cli_json_init(&j, c->out);
		cli_json_begin_array(&j);
		for (i = 0; i < n; i++) {
			struct node *nd = &g.nodes[order[i]];

			cli_json_newline(&j);
			cli_json_begin_object(&j);
			cli_json_key(&j, "inviter");
			cli_json_string(&j, nd->name);
			cli_json_key(&j, "invited");
			cli_json_uint(&j, nd->invited);
			cli_json_key(&j, "created");
			cli_json_uint(&j, nd->created);
			cli_json_key(&j, "pending");
			if (nd->pending_known)
				cli_json_uint(&j, nd->pending);
			else
				cli_json_null(&j);
			cli_json_key(&j, "limit");
			if (nd->pending_known && limit > 0)
				cli_json_uint(&j, limit);
			else
				cli_json_null(&j);
			cli_json_time(&j, "last_used", nd->last);
			cli_json_end_object(&j);
		}
		cli_json_end_array(&j);
		fputc('\n', c->out);
	} else {
		static const char *const head[] = {
			"INVITER", "INVITED", "CREATED", "PENDING", "LIMIT",
			"LAST USED"
		};
		struct cli_table t;

		cli_table_init(&t, c->out, 6, head);
		for (i = 0; i < n; i++) {
			struct node *nd = &g.nodes[order[i]];
			const char *cells[6];

			snprintf(inv, sizeof(inv), "%zu", nd->invited);
			snprintf(cre, sizeof(cre), "%zu", nd->created);
			snprintf(pend, sizeof(pend), "%zu", nd->pending);
			snprintf(lim, sizeof(lim), "%u", limit);
			cells[0] = nd->name;
			cells[1] = inv;
			cells[2] = cre;
			cells[3] = nd->pending_known ? pend : NULL;
			cells[4] = nd->pending_known && limit > 0 ? lim : NULL;
			cells[5] = cli_fmt_time(nd->last, last, sizeof(last));
			if (cli_table_row(&t, cells) != 0)
				rc = INVITES_ENOMEM;
		}
		cli_table_finish(&t);
	}
	free(order);
	graph_free(&g);
	return rc != 0 ? cli_fail(c, "", rc) : 0;
}
