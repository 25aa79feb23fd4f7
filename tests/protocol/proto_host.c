/* SPDX-License-Identifier: MIT */
/*
 * The protocol test host.  It dlopens the BUILT invites.so
 * ($top_builddir/.libs/invites.so), hands it a fake host table that
 * records every callback, and replays each case of tests/protocol/cases/
 * (NAME.case) against its golden transcript (NAME.expected).  The case
 * language is described in tests/protocol/README.md.
 *
 * Transcripts are exact but stable: the clock is fixed (INVITES_FAKE_NOW),
 * invites are created by a helper process (proto_invite) in the case's
 * store, and every token, public id and ad-hoc session id is replaced by
 * a placeholder ({T1}, {T1.id}, {N1}, {S1}) before comparing.  A log line
 * that holds a whole token fails the case.
 *
 *   proto_host [--bless] [CASE.case ...]
 * Without cases, runs every case.  --bless (or PROTO_BLESS=1) writes the
 * transcripts as the new golden files.  TAP on stdout.
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <invites/invites.h>
#include "invites_plugin.h"
#include "tap.h"

#define FAKE_NOW "1795176000" /* 2026-11-20T12:00:00Z */
#define MAXV 64
#define MAXU 64
#define MAXR 64
#define MAXS 8

static const char *top_srcdir = ".";
static const char *top_builddir = ".";
static const struct invites_plugin *plugin;

/* ------------------------------------------------------------------ */
/* A growable string                                                   */
/* ------------------------------------------------------------------ */

struct str {
	char *p;
	size_t len, cap;
};

static void
str_add(struct str *s, const char *d, size_t n)
{
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 256;

		while (cap < s->len + n + 1)
			cap *= 2;
		s->p = realloc(s->p, cap);
		if (s->p == NULL) {
			perror("realloc");
			exit(99);
		}
		s->cap = cap;
	}
	memcpy(s->p + s->len, d, n);
	s->len += n;
	s->p[s->len] = '\0';
}

static void
str_puts(struct str *s, const char *t)
{
	str_add(s, t, strlen(t));
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
str_printf(struct str *s, const char *fmt, ...)
{
	char buf[4096], *big = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(buf)) {
		str_add(s, buf, (size_t)n);
		return;
	}
	big = malloc((size_t)n + 1);
	if (big == NULL)
		exit(99);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	str_add(s, big, (size_t)n);
	free(big);
}

static void
str_free(struct str *s)
{
	free(s->p);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------------ */
/* The case's world                                                    */
/* ------------------------------------------------------------------ */

struct var {
	char name[32];     /* T1, T1.id, N1, S1 */
	char *value;
};

struct ritem {
	char *owner, *contact, *groups;
	int sub, ask;
};

struct fail {
	char name[32];
	int err;
};

struct world {
	char dir[256];
	char conf[300];
	struct str conf_text;
	int opened;
	struct invites_instance *inst;
	struct invites_stream *streams[MAXS];
	char stream_names[MAXS][16];
	struct var vars[MAXV];
	size_t n_vars;
	size_t n_new, n_sid;
	char *users[MAXU];
	size_t n_users;
	struct ritem roster[MAXR];
	size_t n_roster;
	struct fail fails[8];
	size_t n_fails;
	struct str out;        /* the transcript */
	struct str chunk;      /* output of the current step */
	int token_logged;
};

static struct world W;

static const char *
var_get(const char *name)
{
	size_t i;

	for (i = 0; i < W.n_vars; i++)
		if (strcmp(W.vars[i].name, name) == 0)
			return W.vars[i].value;
	return NULL;
}

static void
var_set(const char *name, const char *value)
{
	struct var *v;

	if (W.n_vars == MAXV) {
		fprintf(stderr, "too many variables\n");
		exit(99);
	}
	v = &W.vars[W.n_vars++];
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->value = strdup(value);
}

/* Record a token (and its public id) under name. */
static void
token_set(const char *name, const char *token)
{
	unsigned char hash[INVITES_HASH_LEN];
	char id[INVITES_ID_LEN + 1], idname[40];

	var_set(name, token);
	invites_token_hash(token, hash);
	invites_hash_id(hash, id);
	snprintf(idname, sizeof(idname), "%s.id", name);
	var_set(idname, id);
}

static int
is_tokch(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
	       || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Name every unknown token that follows `marker` in s. */
static void
discover(const char *s, const char *marker, int session)
{
	const char *p = s, *q;
	char tok[128], name[32];
	size_t n, i;
	int known;

	while ((p = strstr(p, marker)) != NULL) {
		p += strlen(marker);
		for (q = p; is_tokch(*q); q++)
			;
		n = (size_t)(q - p);
		if (n < INVITES_TOKEN_MIN || n >= sizeof(tok))
			continue;
		memcpy(tok, p, n);
		tok[n] = '\0';
		known = 0;
		for (i = 0; i < W.n_vars; i++)
			if (strcmp(W.vars[i].value, tok) == 0)
				known = 1;
		if (known)
			continue;
		if (session) {
			snprintf(name, sizeof(name), "S%zu", ++W.n_sid);
			var_set(name, tok);
		} else {
			snprintf(name, sizeof(name), "N%zu", ++W.n_new);
			token_set(name, tok);
		}
	}
}

/* Replace every variable's value in s by {name}; longest values first. */
static char *
substitute_out(const char *s)
{
	struct str r = { 0 };
	const char *p = s;
	size_t i, best, bestlen;

	discover(s, "preauth=", 0);
	discover(s, "/invite/", 0);
	discover(s, "sessionid='", 1);
	while (*p != '\0') {
		best = MAXV;
		bestlen = 0;
		for (i = 0; i < W.n_vars; i++) {
			size_t n = strlen(W.vars[i].value);

			if (n > bestlen && n >= 8
			    && strncmp(p, W.vars[i].value, n) == 0) {
				best = i;
				bestlen = n;
			}
		}
		if (best != MAXV) {
			str_printf(&r, "{%s}", W.vars[best].name);
			p += bestlen;
		} else {
			str_add(&r, p, 1);
			p++;
		}
	}
	if (r.p == NULL)
		str_puts(&r, "");
	return r.p;
}

/* Expand {name} and {REPEAT:n:text} in a command's input. */
static char *
substitute_in(const char *s)
{
	struct str r = { 0 };
	const char *p = s, *e;
	char name[64];

	while (*p != '\0') {
		if (*p == '{' && (e = strchr(p, '}')) != NULL
		    && (size_t)(e - p) < sizeof(name)) {
			const char *v;

			memcpy(name, p + 1, (size_t)(e - p - 1));
			name[e - p - 1] = '\0';
			if (strncmp(name, "REPEAT:", 7) == 0) {
				char *colon;
				long n = strtol(name + 7, &colon, 10);

				if (*colon == ':') {
					while (n-- > 0)
						str_puts(&r, colon + 1);
					p = e + 1;
					continue;
				}
			}
			v = var_get(name);
			if (v != NULL) {
				str_puts(&r, v);
				p = e + 1;
				continue;
			}
		}
		str_add(&r, p, 1);
		p++;
	}
	if (r.p == NULL)
		str_puts(&r, "");
	return r.p;
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void
rec(const char *fmt, ...)
{
	char buf[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	str_puts(&W.chunk, "  ");
	str_puts(&W.chunk, buf);
	str_puts(&W.chunk, "\n");
}

static void
flush_chunk(void)
{
	char *s;

	if (W.chunk.p == NULL)
		return;
	s = substitute_out(W.chunk.p);
	str_puts(&W.out, s);
	free(s);
	W.chunk.len = 0;
	W.chunk.p[0] = '\0';
}

/* ------------------------------------------------------------------ */
/* The fake host                                                       */
/* ------------------------------------------------------------------ */

static int
take_fail(const char *name)
{
	size_t i;
	int err;

	for (i = 0; i < W.n_fails; i++)
		if (strcmp(W.fails[i].name, name) == 0) {
			err = W.fails[i].err;
			W.fails[i] = W.fails[--W.n_fails];
			return err;
		}
	return 0;
}

static const char *subs[] = { "none", "to", "from", "both" };

static void
h_log(void *ctx, int level, const char *msg)
{
	size_t i;

	(void)ctx;
	for (i = 0; i < W.n_vars; i++)
		if (strchr(W.vars[i].name, '.') == NULL
		    && W.vars[i].name[0] != 'S'
		    && strstr(msg, W.vars[i].value) != NULL)
			W.token_logged = 1;
	rec("log %d %s", level, msg);
}

static int
h_user_exists(void *ctx, const char *jid)
{
	size_t i;
	int rc = take_fail("user_exists");

	(void)ctx;
	if (rc == 0) {
		for (i = 0; i < W.n_users; i++)
			if (strcmp(W.users[i], jid) == 0)
				rc = 1;
	}
	rec("user_exists %s -> %d", jid, rc);
	return rc;
}

static int
h_create_user(void *ctx, const char *jid, const char *password)
{
	int rc = take_fail("create_user");
	size_t i;

	(void)ctx;
	for (i = 0; rc == 0 && i < W.n_users; i++)
		if (strcmp(W.users[i], jid) == 0)
			rc = INVITES_EEXIST;
	if (rc == 0 && W.n_users < MAXU)
		W.users[W.n_users++] = strdup(jid);
	rec("create_user %s password=%s -> %d", jid, password, rc);
	return rc;
}

static int
h_set_password(void *ctx, const char *jid, const char *password)
{
	int rc = take_fail("set_password");

	(void)ctx;
	rec("set_password %s password=%s -> %d", jid, password, rc);
	return rc;
}

static int
h_end_sessions(void *ctx, const char *jid)
{
	(void)ctx;
	rec("end_sessions %s", jid);
	return 0;
}

static struct ritem *
roster_find(const char *owner, const char *contact)
{
	size_t i;

	for (i = 0; i < W.n_roster; i++)
		if (strcmp(W.roster[i].owner, owner) == 0
		    && strcmp(W.roster[i].contact, contact) == 0)
			return &W.roster[i];
	return NULL;
}

static int
h_roster_get(void *ctx, const char *owner, const char *contact,
             struct invites_roster_item *item)
{
	struct ritem *r = roster_find(owner, contact);

	(void)ctx;
	if (r == NULL) {
		rec("roster_get %s %s -> none", owner, contact);
		return INVITES_ENOTFOUND;
	}
	item->owner = r->owner;
	item->contact = r->contact;
	item->subscription = r->sub;
	item->ask = r->ask;
	rec("roster_get %s %s -> %s%s", owner, contact, subs[r->sub],
	    r->ask ? " ask" : "");
	return 0;
}

static int
h_roster_set(void *ctx, const struct invites_roster_item *item)
{
	struct ritem *r = roster_find(item->owner, item->contact);
	struct str g = { 0 };
	size_t i;
	int rc = take_fail("roster_set");

	(void)ctx;
	for (i = 0; i < item->n_groups; i++) {
		if (i)
			str_puts(&g, ",");
		str_puts(&g, item->groups[i]);
	}
	rec("roster_set %s %s sub=%s ask=%d name=%s groups=%s -> %d",
	    item->owner, item->contact, subs[item->subscription & 3],
	    item->ask, item->name ? item->name : "-", g.p ? g.p : "-", rc);
	if (rc == 0) {
		if (r == NULL && W.n_roster < MAXR) {
			r = &W.roster[W.n_roster++];
			r->owner = strdup(item->owner);
			r->contact = strdup(item->contact);
			r->groups = NULL;
		}
		if (r != NULL) {
			r->sub = item->subscription;
			r->ask = item->ask;
		}
	}
	str_free(&g);
	return rc;
}

static int
h_send(void *ctx, const char *xml)
{
	(void)ctx;
	rec("send %s", xml);
	return take_fail("send");
}

static int
h_share_presence(void *ctx, const char *owner, const char *to)
{
	(void)ctx;
	rec("share_presence %s -> %s", owner, to);
	return 0;
}

static int
h_role_add(void *ctx, const char *jid, const char *role)
{
	(void)ctx;
	rec("role_add %s %s", jid, role);
	return 0;
}

static const struct invites_host host_table = {
	.abi = INVITES_PLUGIN_ABI,
	.size = sizeof(struct invites_host),
	.log = h_log,
	.user_exists = h_user_exists,
	.create_user = h_create_user,
	.set_password = h_set_password,
	.end_sessions = h_end_sessions,
	.roster_get = h_roster_get,
	.roster_set = h_roster_set,
	.send = h_send,
	.share_presence = h_share_presence,
	.role_add = h_role_add,
};

/* ------------------------------------------------------------------ */
/* The helper process                                                  */
/* ------------------------------------------------------------------ */

/* Run proto_invite CONF args...; its stdout into *out (caller frees). */
static int
helper(const char *const *args, const char *now, char **out)
{
	char path[1024];
	char *argv[32];
	struct str r = { 0 };
	int fd[2], status;
	size_t i, n = 0;
	pid_t pid;
	char buf[4096];
	ssize_t got;

	snprintf(path, sizeof(path), "%s/tests/protocol/proto_invite",
	         top_builddir);
	argv[n++] = path;
	argv[n++] = W.conf;
	for (i = 0; args[i] != NULL && n < 31; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	if (pipe(fd) < 0)
		exit(99);
	pid = fork();
	if (pid < 0)
		exit(99);
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		if (now != NULL)
			setenv("INVITES_FAKE_NOW", now, 1);
		execv(path, argv);
		printf("exec %s: %s\n", path, strerror(errno));
		_exit(1);
	}
	close(fd[1]);
	while ((got = read(fd[0], buf, sizeof(buf))) > 0)
		str_add(&r, buf, (size_t)got);
	close(fd[0]);
	if (waitpid(pid, &status, 0) < 0)
		exit(99);
	if (r.p == NULL)
		str_puts(&r, "");
	*out = r.p;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

/* ------------------------------------------------------------------ */
/* Commands                                                            */
/* ------------------------------------------------------------------ */

static int
split_words(char *s, char **w, int max)
{
	int n = 0;
	char *save = NULL, *t;

	for (t = strtok_r(s, " \t", &save); t != NULL && n < max;
	     t = strtok_r(NULL, " \t", &save))
		w[n++] = t;
	return n;
}

static void
open_world(void)
{
	FILE *f;
	char *msg = NULL;
	int rc;

	if (W.opened)
		return;
	W.opened = 1;
	f = fopen(W.conf, "w");
	if (f == NULL)
		exit(99);
	fprintf(f, "store = %s/store\n", W.dir);
	if (W.conf_text.p == NULL || strstr(W.conf_text.p, "domains =") == NULL)
		fprintf(f, "domains = example.com\n");
	if (W.conf_text.p != NULL)
		fputs(W.conf_text.p, f);
	fclose(f);
	rc = plugin->open(&host_table, NULL, W.conf, &W.inst, &msg);
	if (rc < 0) {
		rec("open failed: %s: %s", invites_err_name(rc),
		    msg ? msg : "-");
		plugin->free(msg);
	}
}

static struct invites_stream **
stream_slot(const char *name, int create)
{
	size_t i;

	for (i = 0; i < MAXS; i++)
		if (W.streams[i] != NULL
		    && strcmp(W.stream_names[i], name) == 0)
			return &W.streams[i];
	if (!create)
		return NULL;
	for (i = 0; i < MAXS; i++)
		if (W.streams[i] == NULL) {
			snprintf(W.stream_names[i], sizeof(W.stream_names[i]),
			         "%s", name);
			return &W.streams[i];
		}
	return NULL;
}

static unsigned
stream_flags(char **w, int n)
{
	unsigned flags = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (strcmp(w[i], "secure") == 0)
			flags |= INVITES_STREAM_SECURE;
		else if (strcmp(w[i], "auth") == 0)
			flags |= INVITES_STREAM_AUTHENTICATED;
		else if (strcmp(w[i], "requiretls") == 0)
			flags |= INVITES_STREAM_REQUIRE_TLS;
		else if (strcmp(w[i], "hostreg") == 0)
			flags |= INVITES_STREAM_HOST_REGISTERS;
	}
	return flags;
}

static void
outcome(int rc, struct invites_outcome *out)
{
	static const char *names[] = { "PASS", "ACCEPT", "REJECT" };

	rec("= %s", rc >= 0 && rc <= 2 ? names[rc] : "?");
	if (rc != out->result)
		rec("!! outcome result %d differs from return %d",
		    out->result, rc);
	if (out->reply != NULL)
		rec("reply %s", out->reply);
	if (out->error_condition != NULL)
		rec("error %s/%s%s%s%s", out->error_type, out->error_condition,
		    out->error_text ? " \"" : "",
		    out->error_text ? out->error_text : "",
		    out->error_text ? "\"" : "");
	if (out->flags & INVITES_OUTCOME_CLOSE)
		rec("close stream: %s", out->stream_error);
	if (out->flags & INVITES_OUTCOME_RESET)
		rec("flag reset");
	plugin->free(out->reply);
}

static void
init_out(struct invites_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
}

static void
show_helper(const char *const *args, const char *now, int sort)
{
	char *res = NULL, *line, *save = NULL;
	char *lines[512];
	size_t n = 0, i;
	int rc = helper(args, now, &res);

	for (line = strtok_r(res, "\n", &save); line != NULL && n < 512;
	     line = strtok_r(NULL, "\n", &save))
		lines[n++] = substitute_out(line);
	if (sort) {
		/* Store order follows random hashes: sort after naming. */
		size_t j;

		for (i = 1; i < n; i++)
			for (j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0;
			     j--) {
				char *t = lines[j];

				lines[j] = lines[j - 1];
				lines[j - 1] = t;
			}
	}
	for (i = 0; i < n; i++) {
		rec("%s", lines[i]);
		free(lines[i]);
	}
	if (rc != 0)
		rec("helper exit %d", rc);
	free(res);
}

static void
run_step(const char *line, const char *payload)
{
	char *copy = substitute_in(line), *w[32];
	char *in = payload != NULL ? substitute_in(payload) : NULL;
	struct invites_outcome out;
	struct invites_stream **sp;
	int n, rc;

	n = split_words(copy, w, 32);
	if (n == 0)
		goto out;
	if (strcmp(w[0], "config") == 0 && n >= 3) {
		const char *rest = line + (w[2] - copy);

		str_printf(&W.conf_text, "%s = %s\n", w[1], rest);
		goto out;
	}
	open_world();
	if (W.inst == NULL)
		goto out;
	if (strcmp(w[0], "invite") == 0 && n >= 3) {
		const char *args[24];
		char *res = NULL, tok[128], id[64];
		const char *now = NULL;
		char nowbuf[32];
		int i, k = 0;

		args[k++] = "create";
		for (i = 2; i < n && k < 22; i++) {
			if (strncmp(w[i], "at=", 3) == 0) {
				snprintf(nowbuf, sizeof(nowbuf), "%lld",
				         strtoll(FAKE_NOW, NULL, 10)
				         + strtoll(w[i] + 3, NULL, 10));
				now = nowbuf;
				continue;
			}
			args[k++] = w[i];
		}
		args[k] = NULL;
		rc = helper(args, now, &res);
		if (rc == 0 && sscanf(res, "%127s %63s", tok, id) == 2)
			token_set(w[1], tok);
		else
			rec("invite failed: %s", res);
		free(res);
	} else if (strcmp(w[0], "revoke") == 0 && n == 2) {
		const char *args[3];
		char id[64], *res = NULL;

		snprintf(id, sizeof(id), "%s.id", w[1]);
		args[0] = "revoke";
		args[1] = var_get(id) ? var_get(id) : "000000000000";
		args[2] = NULL;
		if (helper(args, NULL, &res) != 0)
			rec("revoke failed: %s", res);
		free(res);
	} else if (strcmp(w[0], "role") == 0 && n == 3) {
		const char *args[] = { "role", w[1], w[2], NULL };
		char *res = NULL;

		if (helper(args, NULL, &res) != 0)
			rec("role failed: %s", res);
		free(res);
	} else if (strcmp(w[0], "user") == 0 && n == 2) {
		if (W.n_users < MAXU)
			W.users[W.n_users++] = strdup(w[1]);
	} else if (strcmp(w[0], "roster") == 0 && n >= 4) {
		struct ritem *r = roster_find(w[1], w[2]);
		int s;

		if (r == NULL && W.n_roster < MAXR) {
			r = &W.roster[W.n_roster++];
			r->owner = strdup(w[1]);
			r->contact = strdup(w[2]);
		}
		for (s = 0; s < 4; s++)
			if (strcmp(w[3], subs[s]) == 0)
				r->sub = s;
		r->ask = n >= 5 && strcmp(w[4], "ask") == 0;
	} else if (strcmp(w[0], "fail") == 0 && n == 3 && W.n_fails < 8) {
		struct fail *f = &W.fails[W.n_fails++];

		snprintf(f->name, sizeof(f->name), "%s", w[1]);
		f->err = strcmp(w[2], "EEXIST") == 0 ? INVITES_EEXIST
		         : INVITES_ESTORE;
	} else if (strcmp(w[0], "stream") == 0 && n >= 3) {
		struct invites_stream_info info;

		sp = stream_slot(w[1], 1);
		memset(&info, 0, sizeof(info));
		info.size = sizeof(info);
		info.domain = w[2];
		info.flags = stream_flags(w + 3, n - 3);
		rc = plugin->stream_new(W.inst, &info, sp);
		if (rc < 0)
			rec("stream_new -> %s", invites_err_name(rc));
	} else if (strcmp(w[0], "update") == 0 && n >= 2
	           && (sp = stream_slot(w[1], 0)) != NULL) {
		plugin->stream_update(*sp, stream_flags(w + 2, n - 2));
	} else if (strcmp(w[0], "free") == 0 && n == 2
	           && (sp = stream_slot(w[1], 0)) != NULL) {
		plugin->stream_free(sp);
	} else if (strcmp(w[0], "features") == 0 && n >= 2
	           && (sp = stream_slot(w[1], 0)) != NULL) {
		char *xml = NULL;

		rc = plugin->features(*sp, n >= 3 && strcmp(w[2], "iq") == 0,
		                      &xml);
		rec("= %s", rc == INVITES_HOOK_ACCEPT ? "ACCEPT"
		            : rc == INVITES_HOOK_PASS ? "PASS" : "?");
		if (xml != NULL)
			rec("features %s", xml);
		plugin->free(xml);
	} else if (strcmp(w[0], "iq") == 0 && n == 2 && in != NULL
	           && (sp = stream_slot(w[1], 0)) != NULL) {
		init_out(&out);
		rc = plugin->stream_iq(*sp, in, strlen(in), &out);
		outcome(rc, &out);
	} else if ((strcmp(w[0], "check") == 0 || strcmp(w[0], "commit") == 0)
	           && n == 3 && (sp = stream_slot(w[1], 0)) != NULL) {
		init_out(&out);
		if (w[0][1] == 'h')
			rc = plugin->register_check(*sp, w[2], &out);
		else
			rc = plugin->register_commit(*sp, w[2], &out);
		outcome(rc, &out);
	} else if (strcmp(w[0], "rollback") == 0 && n == 3
	           && (sp = stream_slot(w[1], 0)) != NULL) {
		plugin->register_rollback(*sp, w[2]);
	} else if (strcmp(w[0], "presence") == 0 && in != NULL) {
		init_out(&out);
		rc = plugin->presence(W.inst, in, strlen(in), &out);
		outcome(rc, &out);
	} else if (strcmp(w[0], "server") == 0 && in != NULL) {
		init_out(&out);
		rc = plugin->server_iq(W.inst, in, strlen(in), &out);
		outcome(rc, &out);
	} else if (strcmp(w[0], "created") == 0 && n == 2) {
		init_out(&out);
		rc = plugin->user_created(W.inst, w[1], &out);
		outcome(rc, &out);
	} else if (strcmp(w[0], "deleted") == 0 && n == 2) {
		init_out(&out);
		rc = plugin->user_deleted(W.inst, w[1], &out);
		outcome(rc, &out);
	} else if (strcmp(w[0], "dump") == 0) {
		const char *args[] = { "dump", NULL };

		show_helper(args, NULL, 1);
	} else if (strcmp(w[0], "audit") == 0) {
		const char *args[] = { "audit", NULL };

		show_helper(args, NULL, 0);
	} else if ((strcmp(w[0], "pending") == 0 || strcmp(w[0], "roles") == 0)
	           && n == 2) {
		const char *args[] = { w[0], w[1], NULL };

		show_helper(args, NULL, 0);
	} else {
		rec("!! unknown or malformed step");
	}
out:
	free(copy);
	free(in);
}

/* Run one case file; returns the transcript (caller frees). */
static char *
run_case(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[65536];
	struct str cmd = { 0 }, payload = { 0 };
	int have = 0;
	size_t i;
	char *res;

	memset(&W, 0, sizeof(W));
	if (f == NULL)
		return strdup("cannot open case\n");
	snprintf(W.dir, sizeof(W.dir), "%s/proto-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(W.dir) == NULL) {
		fclose(f);
		return strdup("mkdtemp failed\n");
	}
	snprintf(W.conf, sizeof(W.conf), "%s/invites.conf", W.dir);
	for (;;) {
		char *got = fgets(line, sizeof(line), f);
		size_t n = got ? strlen(line) : 0;

		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (got != NULL && (line[0] == ' ' || line[0] == '\t')) {
			/* continuation: payload of the current step */
			char *s = line;

			while (*s == ' ' || *s == '\t')
				s++;
			str_puts(&payload, s);
			str_puts(&W.out, "  | ");
			str_puts(&W.out, s);
			str_puts(&W.out, "\n");
			continue;
		}
		if (have) {
			run_step(cmd.p, payload.p);
			flush_chunk();
			have = 0;
		}
		if (got == NULL)
			break;
		cmd.len = 0;
		payload.len = 0;
		if (payload.p != NULL)
			payload.p[0] = '\0';
		if (line[0] == '#' || line[0] == '\0') {
			str_puts(&W.out, line);
			str_puts(&W.out, "\n");
			continue;
		}
		str_puts(&cmd, "");
		cmd.len = 0;
		str_puts(&cmd, line);
		str_puts(&W.out, "> ");
		str_puts(&W.out, line);
		str_puts(&W.out, "\n");
		have = 1;
	}
	fclose(f);
	if (W.token_logged)
		str_puts(&W.out, "!! a whole token was logged\n");
	for (i = 0; i < MAXS; i++)
		if (W.streams[i] != NULL)
			plugin->stream_free(&W.streams[i]);
	plugin->close(&W.inst);
	/* clean up */
	{
		char rm[600];

		snprintf(rm, sizeof(rm), "rm -rf '%s'", W.dir);
		if (system(rm) != 0)
			diag("cannot remove %s", W.dir);
	}
	for (i = 0; i < W.n_vars; i++)
		free(W.vars[i].value);
	for (i = 0; i < W.n_users; i++)
		free(W.users[i]);
	for (i = 0; i < W.n_roster; i++) {
		free(W.roster[i].owner);
		free(W.roster[i].contact);
		free(W.roster[i].groups);
	}
	str_free(&cmd);
	str_free(&payload);
	str_free(&W.conf_text);
	str_free(&W.chunk);
	res = W.out.p ? W.out.p : strdup("");
	return res;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	struct str s = { 0 };
	char buf[4096];
	size_t n;

	if (f == NULL)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		str_add(&s, buf, n);
	fclose(f);
	if (s.p == NULL)
		str_puts(&s, "");
	return s.p;
}

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void
check_case(const char *path, int bless)
{
	char expected[1024], got_path[1100], cmdline[2400];
	const char *base = strrchr(path, '/');
	char *got = run_case(path), *want;
	size_t n = strlen(path);

	base = base ? base + 1 : path;
	snprintf(expected, sizeof(expected), "%.*s.expected",
	         (int)(n > 5 ? n - 5 : n), path);
	if (bless) {
		ok(write_file(expected, got) == 0, "%s: blessed", base);
		free(got);
		return;
	}
	want = slurp(expected);
	if (ok(want != NULL && strcmp(got, want) == 0, "%s", base)) {
		free(got);
		free(want);
		return;
	}
	if (want == NULL) {
		diag("no golden file %s", expected);
	} else {
		snprintf(got_path, sizeof(got_path), "%s/proto-got-%d",
		         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
		         (int)getpid());
		if (write_file(got_path, got) == 0) {
			FILE *p;
			char buf[1024];

			snprintf(cmdline, sizeof(cmdline),
			         "diff -u '%s' '%s' 2>&1 | head -80", expected,
			         got_path);
			p = popen(cmdline, "r");
			while (p != NULL && fgets(buf, sizeof(buf), p) != NULL) {
				buf[strcspn(buf, "\n")] = '\0';
				diag("%s", buf);
			}
			if (p != NULL)
				pclose(p);
			unlink(got_path);
		}
	}
	free(got);
	free(want);
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
	invites_plugin_entry_fn *entry;
	const struct invites_plugin *other = NULL;
	char so[1024], dirpath[1024];
	void *h;
	int i, bless = getenv("PROTO_BLESS") != NULL, first = 1;

	if (getenv("top_srcdir") != NULL)
		top_srcdir = getenv("top_srcdir");
	if (getenv("top_builddir") != NULL)
		top_builddir = getenv("top_builddir");
	setenv("INVITES_FAKE_NOW", FAKE_NOW, 1);
	if (argc > 1 && strcmp(argv[1], "--bless") == 0) {
		bless = 1;
		first = 2;
	}
	snprintf(so, sizeof(so), "%s/.libs/invites.so", top_builddir);
	h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (!ok(h != NULL, "dlopen the built invites.so")) {
		diag("%s", dlerror());
		return done_testing();
	}
	*(void **)&entry = dlsym(h, INVITES_PLUGIN_ENTRY_NAME);
	if (!ok(entry != NULL, "the entry point is exported"))
		return done_testing();
	is_int(entry(INVITES_PLUGIN_ABI + 1, &other), INVITES_EVERSION,
	       "another ABI version is refused");
	ok(other == NULL, "no table for another ABI");
	is_int(entry(INVITES_PLUGIN_ABI, &plugin), 0, "our ABI is served");
	if (!ok(plugin != NULL && plugin->abi == INVITES_PLUGIN_ABI
	        && plugin->size >= sizeof(struct invites_plugin),
	        "the hook table has our ABI and size"))
		return done_testing();
	{
		struct invites_instance *inst = NULL;
		char *msg = NULL;
		int rc = plugin->open(&host_table, NULL,
		                      "/nonexistent/invites.conf", &inst, &msg);

		ok(rc < 0 && inst == NULL && msg != NULL,
		   "open with a missing configuration fails with a message");
		plugin->free(msg);
		plugin->close(&inst);
	}

	if (argc > first) {
		for (i = first; i < argc; i++)
			check_case(argv[i], bless);
	} else {
		DIR *d;
		struct dirent *de;
		char *names[512];
		size_t n = 0, k;

		snprintf(dirpath, sizeof(dirpath), "%s/tests/protocol/cases",
		         top_srcdir);
		d = opendir(dirpath);
		if (!ok(d != NULL, "open %s", dirpath))
			return done_testing();
		while ((de = readdir(d)) != NULL && n < 512) {
			size_t l = strlen(de->d_name);

			if (l > 5 && strcmp(de->d_name + l - 5, ".case") == 0) {
				char p[2048];

				snprintf(p, sizeof(p), "%s/%s", dirpath,
				         de->d_name);
				names[n++] = strdup(p);
			}
		}
		closedir(d);
		qsort(names, n, sizeof(names[0]), cmp_names);
		for (k = 0; k < n; k++) {
			check_case(names[k], bless);
			free(names[k]);
		}
	}
	dlclose(h);
	return done_testing();
}
