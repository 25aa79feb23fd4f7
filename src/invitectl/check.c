/* SPDX-License-Identifier: MIT */
/*
 * invitectl check: inspect a deployment and say, line by line, what is
 * right and what is wrong, each wrong thing with its fix.  Exit 0 only
 * when every check holds.
 *
 *   configuration  invites.conf loads and validates; readable by the
 *                  server's user; require_tls on
 *   store          opens, every invite and audit record decodes, every
 *                  file of it is writable by the server's user
 *   jabberd2       c2s.xml and sm.xml (Debian's /etc/jabberd2 or
 *                  --jabberd2-config DIR): every domain of `domains` is
 *                  served by c2s with authreg-module='invites' and
 *                  register-enable (registration only through invites),
 *                  STARTTLS required, invites not the default authreg
 *                  module, no other host with open registration; the sm
 *                  serves it with mod_invites in pkt-sm (before disco),
 *                  pkt-user (before roster), user-create and, with
 *                  revoke_on_delete, user-delete; both modules installed
 *                  where the configs load modules from; both daemons read
 *                  this invites.conf
 *   invites-web    the landing URL's base answers HTTP, and a landing page
 *                  answers HEAD with Link: <xmpp:...>; rel="alternate"
 *                  (checked with a probe invite that lives two minutes and
 *                  is revoked at once; --no-probe leaves the store alone)
 *
 * The jabberd2 files are read with expat into a small tree; the web check
 * speaks HTTP/1.1 itself (https through OpenSSL when built with libssl).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <expat.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <dirent.h>
#include <unistd.h>

#ifdef HAVE_OPS_SSL
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

#include "cli.h"

enum {
	O_J2DIR = CLI_O_FIRST_CMD + 400,
	O_J2ROOT,
	O_USER,
	O_WEB_URL,
	O_NO_PROBE,
	O_NO_J2,
	O_INSECURE
};

const struct cli_optdef cli_check_opts[] = {
	{ "help", 'h', 0, CLI_O_HELP },
	{ "config", 'c', CLI_OPT_ARG, CLI_O_CONFIG },
	{ "verbose", 'v', 0, CLI_O_VERBOSE },
	{ "jabberd2-config", 0, CLI_OPT_ARG, O_J2DIR },
	{ "jabberd2-root", 0, CLI_OPT_ARG, O_J2ROOT },
	{ "no-jabberd2", 0, 0, O_NO_J2 },
	{ "user", 'u', CLI_OPT_ARG, O_USER },
	{ "web-url", 0, CLI_OPT_ARG, O_WEB_URL },
	{ "no-probe", 0, 0, O_NO_PROBE },
	{ "insecure", 'k', 0, O_INSECURE },
	{ NULL, 0, 0, 0 }
};

const char cli_check_usage[] =
"Usage: invitectl check [--jabberd2-config DIR] [--user USER]\n"
"                       [--web-url TEMPLATE] [--no-probe]\n"
"\n"
"Inspect this deployment and print one line per check: ok, FAIL (with\n"
"the fix on the next line) or skip.  Checked: the configuration file is\n"
"valid; the invite store opens, its records decode and every file of it\n"
"is writable by the server's user; jabberd2's c2s.xml and sm.xml load\n"
"both modules for every domain in `domains`, with registration closed\n"
"except through invites, STARTTLS required and invites not the default\n"
"authreg module; invites-web answers at the landing URL's base and a\n"
"landing page answers HEAD with a Link header (tried with a probe invite\n"
"that is revoked at once).\n"
"\n"
"Options:\n"
"  --jabberd2-config DIR  where c2s.xml and sm.xml are (default\n"
"                         /etc/jabberd2)\n"
"  --jabberd2-root DIR    what relative paths in them are relative to (the\n"
"                         daemons' working directory; default: DIR/.. when\n"
"                         DIR ends in /etc, else /)\n"
"  --no-jabberd2          skip the jabberd2 checks (another server)\n"
"  -u, --user USER        the user the server runs as (default: jabber,\n"
"                         when that user exists)\n"
"  --web-url TEMPLATE     check invites-web here instead of at landing_url\n"
"                         (a template with {token}, e.g. the daemon's own\n"
"                         http://127.0.0.1:5380/invite/{token})\n"
"  --no-probe             do not create the probe invite (the Link header\n"
"                         is then not checked)\n"
"  -k, --insecure         https: accept any certificate\n"
"  -c, --config FILE      the configuration file\n"
"  -v, --verbose          print the library's log lines on stderr\n"
"  -h, --help             show this help\n"
"\n"
"Exit status: 0 when every check holds; 1 when one fails; 64 usage.\n";

/* snprintf that truncates quietly (paths and messages are bounded). */
static void
bfmt(char *buf, size_t n, const char *fmt, ...) INVITES_PRINTF(3, 4);

static void
bfmt(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
}

struct check {
	struct cli *c;
	FILE *f;               /* stdout: the lines are the result, even on
	                          failure (the CLI prints c->out on success
	                          only) */
	int failed, passed, skipped;
	/* the server's user */
	const char *user;
	uid_t uid;
	gid_t gids[64];
	int n_gids;
	int have_user;
	int store_ok;
};

static void
line(struct check *k, const char *tag, const char *fix, const char *fmt,
     va_list ap)
{
	fprintf(k->f, "%-5s ", tag);
	vfprintf(k->f, fmt, ap);
	fputc('\n', k->f);
	if (fix != NULL)
		fprintf(k->f, "      fix: %s\n", fix);
	fflush(k->f);
}

static void
ok(struct check *k, const char *fmt, ...) INVITES_PRINTF(2, 3);
static void
bad(struct check *k, const char *fix, const char *fmt, ...)
	INVITES_PRINTF(3, 4);
static void
skip(struct check *k, const char *fmt, ...) INVITES_PRINTF(2, 3);

static void
ok(struct check *k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line(k, "ok", NULL, fmt, ap);
	va_end(ap);
	k->passed++;
}

static void
bad(struct check *k, const char *fix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line(k, "FAIL", fix, fmt, ap);
	va_end(ap);
	k->failed++;
}

static void
skip(struct check *k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line(k, "skip", NULL, fmt, ap);
	va_end(ap);
	k->skipped++;
}

/* ------------------------------------------------------------------ */
/* The server's user and file permissions                              */
/* ------------------------------------------------------------------ */

static void
find_user(struct check *k, const char *name)
{
	struct passwd *pw;
	int n = 64;

	if (name == NULL) {
		if (getpwnam("jabber") == NULL)
			return;
		name = "jabber";
	}
	pw = getpwnam(name);
	if (pw == NULL)
		return;
	k->user = name;
	k->uid = pw->pw_uid;
	if (getgrouplist(name, pw->pw_gid, k->gids, &n) < 0)
		n = 0;
	k->n_gids = n;
	k->have_user = 1;
}

/* May the server's user access st with bits (a mask of 4 read, 2 write,
 * 1 search/exec)? */
static int
user_may(const struct check *k, const struct stat *st, unsigned bits)
{
	unsigned mode = (unsigned)st->st_mode, have;
	int i;

	if (k->uid == 0)
		return 1;
	if (st->st_uid == k->uid) {
		have = (mode >> 6) & 7;
	} else {
		have = mode & 7;
		for (i = 0; i < k->n_gids; i++)
			if (k->gids[i] == st->st_gid)
				have = (mode >> 3) & 7;
	}
	return (have & bits) == bits;
}

static const char *
owner_name(uid_t uid, char *buf, size_t n)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		bfmt(buf, n, "%s", pw->pw_name);
	else
		bfmt(buf, n, "uid %lu", (unsigned long)uid);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Configuration and store                                             */
/* ------------------------------------------------------------------ */

static int
check_config(struct check *k)
{
	struct cli *c = k->c;
	char *msg = NULL, fix[512], who[64];
	struct stat st;
	int rc, v;

	rc = invites_config_load(c->config_path, &c->cfg, &msg);
	if (rc != 0) {
		bad(k, "correct the file at the line named; invites.conf(5) "
		    "lists every key",
		    "configuration: %s", msg ? msg : invites_strerror(rc));
		invites_free(msg);
		return -1;
	}
	invites_free(msg);
	ok(k, "configuration: %s is valid (%zu domain%s: %s%s)",
	   c->config_path, invites_config_domain_count(c->cfg),
	   invites_config_domain_count(c->cfg) == 1 ? "" : "s",
	   invites_config_domain(c->cfg, 0),
	   invites_config_domain_count(c->cfg) > 1 ? ", ..." : "");
	if (k->have_user && stat(c->config_path, &st) == 0) {
		if (user_may(k, &st, 4)) {
			ok(k, "configuration: readable by the server's user %s",
			   k->user);
		} else {
			bfmt(fix, sizeof(fix), "chgrp %s %s && chmod g+r %s",
			         k->user, c->config_path, c->config_path);
			bad(k, fix, "configuration: %s cannot read %s (owner %s, "
			    "mode %03o)", k->user, c->config_path,
			    owner_name(st.st_uid, who, sizeof(who)),
			    (unsigned)st.st_mode & 0777);
		}
	}
	if (invites_config_get_bool(c->cfg, "require_tls", &v) == 0 && v)
		ok(k, "configuration: require_tls = yes (no invite over a "
		   "plain-text stream)");
	else
		bad(k, "set require_tls = yes in the configuration",
		    "configuration: require_tls is off: invites and passwords "
		    "may cross unencrypted streams");
	return 0;
}

struct walk_ctx {
	size_t n;
};

static int
count_invite(void *ctx, const struct invites_invite *inv)
{
	(void)inv;
	((struct walk_ctx *)ctx)->n++;
	return 0;
}

static int
count_audit(void *ctx, const struct invites_audit *a)
{
	(void)a;
	((struct walk_ctx *)ctx)->n++;
	return 0;
}

/*
 * Free space where the store lives: every commit appends to the log, and
 * a new log file (1 MB) is made whole when the last one fills up.  Below
 * STORE_SPACE_MIN the next one may not fit: invites are then refused
 * (INVITES_ENOSPC) while reads go on working.
 */
#define STORE_SPACE_MIN (UINT64_C(4) << 20)

static void
check_store_space(struct check *k, const char *path)
{
	char fix[1024];
	struct statvfs vfs;
	uint64_t avail;

	if (statvfs(path, &vfs) != 0) {
		bad(k, "check that the store's file system is mounted",
		    "store: the file system of %s: %s", path, strerror(errno));
		return;
	}
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (vfs.f_flag & ST_RDONLY) {
		bad(k, "remount it read-write",
		    "store: the file system of %s is mounted read-only: no "
		    "invite can be made or used", path);
		return;
	}
	if (avail < STORE_SPACE_MIN) {
		bfmt(fix, sizeof(fix), "free space on the file system of %s",
		     path);
		bad(k, fix, "store: no space left: %" PRIu64 " KB free where "
		    "the store lives (at least %" PRIu64 " KB are needed for "
		    "its log); invites cannot be made or used", avail >> 10,
		    (uint64_t)(STORE_SPACE_MIN >> 10));
		return;
	}
	ok(k, "store: %" PRIu64 " MB free on its file system", avail >> 20);
}

static void
check_store_files(struct check *k, const char *path)
{
	char fix[1024], who[64], file[4096];
	struct dirent *de;
	struct stat st;
	size_t n = 0;
	DIR *d;

	if (strncmp(path, "postgresql://", 13) == 0 ||
	    strncmp(path, "postgres://", 11) == 0) {
		/* The server's files belong to PostgreSQL; that the store
		 * opened and decoded above is what this check can tell. */
		skip(k, "store: a PostgreSQL store has no files of ours to "
		     "check (its server owns them)");
		return;
	}
	if (strncmp(path, "bdb:", 4) == 0)
		path += 4;
	check_store_space(k, path);
	if (!k->have_user) {
		skip(k, "store: which user the server runs as is not known "
		     "(no 'jabber' user): give --user to check permissions");
		return;
	}
	bfmt(fix, sizeof(fix), "chown -R %s: %s", k->user, path);
	if (stat(path, &st) != 0 || !user_may(k, &st, 7)) {
		bad(k, fix, "store: the directory %s is not writable by %s",
		    path, k->user);
		return;
	}
	d = opendir(path);
	if (d == NULL) {
		bad(k, fix, "store: %s: %s", path, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		bfmt(file, sizeof(file), "%s/%s", path, de->d_name);
		if (lstat(file, &st) != 0 || S_ISLNK(st.st_mode))
			continue;
		n++;
		if (!user_may(k, &st, S_ISDIR(st.st_mode) ? 7 : 6)) {
			bad(k, fix, "store: %s is not writable by %s (owner "
			    "%s, mode %03o)", file, k->user,
			    owner_name(st.st_uid, who, sizeof(who)),
			    (unsigned)st.st_mode & 0777);
			closedir(d);
			return;
		}
	}
	closedir(d);
	ok(k, "store: %s and its %zu files are writable by %s", path, n,
	   k->user);
}

static void
check_store(struct check *k)
{
	struct cli *c = k->c;
	const char *path = invites_config_store(c->cfg);
	struct invites_filter f;
	struct walk_ctx wi, wa;
	char fix[1024];
	int rc;

	rc = invites_store_open(c->cfg, 0, &c->st);
	if (rc != 0) {
		c->st = NULL;
		if (rc == INVITES_ENOSTORE)
			bfmt(fix, sizeof(fix), "start the server once, or "
			         "run 'invitectl generate' as its user: either "
			         "creates the store at %s", path);
		else if (rc == INVITES_EACCES)
			bfmt(fix, sizeof(fix), "run this as the server's "
			         "user, or chown -R %s: %s",
			         k->user ? k->user : "USER", path);
		else
			bfmt(fix, sizeof(fix), "stop the server, back up "
			         "%s, run db5.3_recover -h %s, start it again",
			         path, path);
		bad(k, fix, "store: %s does not open: %s", path,
		    invites_strerror(rc));
		return;
	}
	c->store_open = 1;
	ok(k, "store: %s opens", path);
	memset(&f, 0, sizeof(f));
	f.all = 1;
	f.now = c->now;
	memset(&wi, 0, sizeof(wi));
	memset(&wa, 0, sizeof(wa));
	rc = invites_list(c->st, &f, count_invite, &wi);
	if (rc == 0)
		rc = invites_audit_walk(c->st, 0, count_audit, &wa);
	if (rc != 0) {
		bfmt(fix, sizeof(fix), "stop the server, back up %s, run "
		         "db5.3_verify and db5.3_recover -h %s there, or restore "
		         "the backup", path, path);
		bad(k, fix, "store: reading every record failed: %s",
		    invites_strerror(rc));
		return;
	}
	ok(k, "store: every record decodes (%zu invites, %zu audit "
	   "records)", wi.n, wa.n);
	k->store_ok = 1;
	check_store_files(k, path);
}

/* ------------------------------------------------------------------ */
/* jabberd2 configuration files                                        */
/* ------------------------------------------------------------------ */

struct xel {
	char *name;
	char **attrs;        /* name, value, ..., NULL */
	char *text;
	size_t text_len;
	struct xel **kids;
	size_t n_kids;
	struct xel *parent;
};

struct xparse {
	struct xel *root, *cur;
	int oom;
	size_t count;
};

static void
xel_free(struct xel *e)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < e->n_kids; i++)
		xel_free(e->kids[i]);
	free(e->kids);
	for (i = 0; e->attrs != NULL && e->attrs[i] != NULL; i++)
		free(e->attrs[i]);
	free(e->attrs);
	free(e->name);
	free(e->text);
	free(e);
}

static void XMLCALL
x_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct xparse *x = ud;
	struct xel *e, **kids;
	size_t n = 0, i;

	if (x->oom || ++x->count > 100000) {
		x->oom = 1;
		return;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		x->oom = 1;
		return;
	}
	e->name = strdup(name);
	while (atts[n] != NULL)
		n++;
	e->attrs = calloc(n + 1, sizeof(char *));
	if (e->name == NULL || e->attrs == NULL) {
		xel_free(e);
		x->oom = 1;
		return;
	}
	for (i = 0; i < n; i++)
		if ((e->attrs[i] = strdup(atts[i])) == NULL)
			x->oom = 1;
	e->parent = x->cur;
	if (x->cur == NULL) {
		x->root = e;
	} else {
		kids = realloc(x->cur->kids, (x->cur->n_kids + 1) * sizeof(*kids));
		if (kids == NULL) {
			xel_free(e);
			x->oom = 1;
			return;
		}
		x->cur->kids = kids;
		kids[x->cur->n_kids++] = e;
	}
	x->cur = e;
}

static void XMLCALL
x_end(void *ud, const XML_Char *name)
{
	struct xparse *x = ud;

	(void)name;
	if (!x->oom && x->cur != NULL)
		x->cur = x->cur->parent;
}

static void XMLCALL
x_text(void *ud, const XML_Char *s, int len)
{
	struct xparse *x = ud;
	char *t;

	if (x->oom || x->cur == NULL || len <= 0)
		return;
	t = realloc(x->cur->text, x->cur->text_len + (size_t)len + 1);
	if (t == NULL) {
		x->oom = 1;
		return;
	}
	memcpy(t + x->cur->text_len, s, (size_t)len);
	x->cur->text_len += (size_t)len;
	t[x->cur->text_len] = '\0';
	x->cur->text = t;
}

/* Parse file into a tree; NULL with why set. */
static struct xel *
xml_load(const char *file, char *why, size_t n)
{
	struct xparse x;
	XML_Parser p;
	char buf[8192];
	size_t got, total = 0;
	FILE *f;
	int fin = 0;

	f = fopen(file, "r");
	if (f == NULL) {
		bfmt(why, n, "%s", strerror(errno));
		return NULL;
	}
	memset(&x, 0, sizeof(x));
	p = XML_ParserCreate(NULL);
	if (p == NULL) {
		fclose(f);
		bfmt(why, n, "out of memory");
		return NULL;
	}
	XML_SetUserData(p, &x);
	XML_SetElementHandler(p, x_start, x_end);
	XML_SetCharacterDataHandler(p, x_text);
	while (!fin) {
		got = fread(buf, 1, sizeof(buf), f);
		total += got;
		fin = got < sizeof(buf);
		if (total > 4 * 1024 * 1024) {
			bfmt(why, n, "larger than 4 MiB");
			goto fail;
		}
		if (XML_Parse(p, buf, (int)got, fin) == XML_STATUS_ERROR) {
			bfmt(why, n, "not well-formed XML at line %lu: %s",
			         (unsigned long)XML_GetCurrentLineNumber(p),
			         XML_ErrorString(XML_GetErrorCode(p)));
			goto fail;
		}
		if (x.oom) {
			bfmt(why, n, "out of memory, or too many elements");
			goto fail;
		}
	}
	XML_ParserFree(p);
	fclose(f);
	return x.root;
fail:
	XML_ParserFree(p);
	fclose(f);
	xel_free(x.root);
	return NULL;
}

static const char *
xattr(const struct xel *e, const char *name)
{
	size_t i;

	for (i = 0; e->attrs[i] != NULL; i += 2)
		if (strcmp(e->attrs[i], name) == 0)
			return e->attrs[i + 1];
	return NULL;
}

/* The element text without surrounding white space, in buf. */
static const char *
xtext(const struct xel *e, char *buf, size_t n)
{
	const char *s = e->text ? e->text : "";
	size_t len;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
	                   s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	bfmt(buf, n, "%.*s", (int)len, s);
	return buf;
}

/* The first element at a dotted path below e ("authreg.invites.config"). */
static const struct xel *
xfind(const struct xel *e, const char *path)
{
	char part[128];
	const char *dot;
	size_t i, n;

	while (e != NULL && *path != '\0') {
		dot = strchr(path, '.');
		n = dot ? (size_t)(dot - path) : strlen(path);
		bfmt(part, sizeof(part), "%.*s", (int)n, path);
		for (i = 0; i < e->n_kids; i++)
			if (strcmp(e->kids[i]->name, part) == 0)
				break;
		e = i < e->n_kids ? e->kids[i] : NULL;
		path += n + (dot ? 1 : 0);
	}
	return e;
}

static const char *
xget(const struct xel *root, const char *path, char *buf, size_t n)
{
	const struct xel *e = xfind(root, path);

	return e ? xtext(e, buf, n) : NULL;
}

struct j2 {
	const char *dir;
	char root[4096];
};

/* A path from a jabberd2 config, resolved against its working dir. */
static void
j2_path(const struct j2 *j, const char *p, char *out, size_t n)
{
	if (p[0] == '/')
		bfmt(out, n, "%s", p);
	else
		bfmt(out, n, "%s/%s", j->root, p);
}

static int
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Does a jabberd2 <invites><config> (NULL: the built-in default) name
 * the file this check reads? */
static void
check_config_ref(struct check *k, const struct j2 *j, const char *file,
                 const char *elem, const char *val)
{
	char path[4096], fix[4600];
	const char *dflt = invites_config_default_path();

	if (val == NULL)
		bfmt(path, sizeof(path), "%s", dflt ? dflt : "");
	else
		j2_path(j, val, path, sizeof(path));
	bfmt(fix, sizeof(fix), "set <%s> in %s to %s", elem, file,
	         k->c->config_path);
	if (same_file(path, k->c->config_path))
		ok(k, "jabberd2: %s reads this configuration (%s)", file, path);
	else
		bad(k, fix, "jabberd2: %s reads %s, not %s", file, path,
		    k->c->config_path);
}

static void
check_module_file(struct check *k, const struct j2 *j, const char *file,
                  const char *dir_elem, const char *dir, const char *so)
{
	char path[4096], fix[4600];

	j2_path(j, dir != NULL ? dir : ".", path, sizeof(path));
	bfmt(fix, sizeof(fix), "install %s into %s (make install, or "
	         "copy it there), or point <%s> of %s at its directory", so,
	         path, dir_elem, file);
	strncat(path, "/", sizeof(path) - strlen(path) - 1);
	strncat(path, so, sizeof(path) - strlen(path) - 1);
	if (access(path, R_OK) == 0)
		ok(k, "jabberd2: %s is installed (%s)", so, path);
	else
		bad(k, fix, "jabberd2: %s is not at %s", so, path);
}

static void
check_c2s(struct check *k, struct j2 *j)
{
	const struct invites_config *cfg = k->c->cfg;
	char file[4096], why[256], buf[4096], fix[1024], name[1024];
	const struct xel *local, *id;
	const char *def, *v;
	struct xel *root;
	size_t d, i, open_reg = 0;
	int global_tls;

	bfmt(file, sizeof(file), "%s/c2s.xml", j->dir);
	root = xml_load(file, why, sizeof(why));
	if (root == NULL) {
		bad(k, "give the directory of jabberd2's configuration with "
		    "--jabberd2-config DIR", "jabberd2: %s: %s", file, why);
		return;
	}
	ok(k, "jabberd2: %s is well-formed", file);
	local = xfind(root, "local");
	global_tls = local != NULL && xfind(local, "require-starttls") != NULL;
	for (d = 0; d < invites_config_domain_count(cfg); d++) {
		const char *dom = invites_config_domain(cfg, d);

		id = NULL;
		for (i = 0; local != NULL && i < local->n_kids; i++) {
			if (strcmp(local->kids[i]->name, "id") == 0 &&
			    strcmp(xtext(local->kids[i], buf, sizeof(buf)),
			           dom) == 0) {
				id = local->kids[i];
				break;
			}
		}
		if (id == NULL) {
			bfmt(fix, sizeof(fix), "add <id register-enable='true' "
			         "require-starttls='true' authreg-module='invites'"
			         ">%s</id> to <local> in c2s.xml", dom);
			bad(k, fix, "jabberd2: c2s does not serve %s", dom);
			continue;
		}
		v = xattr(id, "authreg-module");
		bfmt(fix, sizeof(fix), "add authreg-module='invites' to "
		         "<id>%s</id> in c2s.xml", dom);
		if (v != NULL && strcmp(v, "invites") == 0)
			ok(k, "jabberd2: c2s loads authreg_invites for %s", dom);
		else
			bad(k, fix, "jabberd2: c2s does not load authreg_invites "
			    "for %s (authreg-module is %s)", dom,
			    v ? v : "not set");
		bfmt(fix, sizeof(fix), "add register-enable='true' to "
		         "<id>%s</id> in c2s.xml (authreg_invites lets only "
		         "invited registrations through)", dom);
		if (xattr(id, "register-enable") != NULL)
			ok(k, "jabberd2: c2s runs registration for %s (gated "
			   "by invites)", dom);
		else
			bad(k, fix, "jabberd2: c2s has no register-enable for %s: "
			    "invites cannot create accounts", dom);
		v = xattr(id, "require-starttls");
		bfmt(fix, sizeof(fix), "add require-starttls='true' (and a "
		         "pemfile) to <id>%s</id> in c2s.xml", dom);
		if ((v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0))
		    || global_tls)
			ok(k, "jabberd2: c2s requires STARTTLS for %s", dom);
		else
			bad(k, fix, "jabberd2: c2s does not require STARTTLS "
			    "for %s", dom);
		if (xattr(id, "pemfile") == NULL &&
		    (local == NULL || xfind(local, "pemfile") == NULL))
			bad(k, "set pemfile='/etc/jabberd2/server.pem' (certificate "
			    "and key) on the <id> or in <local>",
			    "jabberd2: c2s has no certificate for %s: no TLS", dom);
	}
	/* every other host that registers does so openly */
	for (i = 0; local != NULL && i < local->n_kids; i++) {
		id = local->kids[i];
		if (strcmp(id->name, "id") != 0 ||
		    xattr(id, "register-enable") == NULL)
			continue;
		v = xattr(id, "authreg-module");
		if (v != NULL && strcmp(v, "invites") == 0)
			continue;
		xtext(id, name, sizeof(name));
		bfmt(fix, sizeof(fix), "remove register-enable from <id>%s"
		         "</id>, or add authreg-module='invites' and the domain "
		         "to `domains`", name);
		bad(k, fix, "jabberd2: c2s has open registration for %s (not "
		    "through invites)", name);
		open_reg++;
	}
	if (open_reg == 0)
		ok(k, "jabberd2: no host of c2s registers accounts except "
		   "through invites");
	def = xget(root, "authreg.module", buf, sizeof(buf));
	if (def != NULL && strcmp(def, "invites") == 0)
		bad(k, "make the default <authreg><module> the real backend "
		    "(e.g. db) and load invites per host with "
		    "authreg-module='invites'",
		    "jabberd2: invites is the default authreg module of c2s "
		    "(it cannot work there)");
	else
		ok(k, "jabberd2: the default authreg module is %s, not invites",
		   def ? def : "(none)");
	v = xget(root, "authreg.invites.backend", buf, sizeof(buf));
	if (v == NULL || *v == '\0' || strcmp(v, "invites") == 0)
		bad(k, "set <authreg><invites><backend> to the module that "
		    "keeps the users (e.g. db)",
		    "jabberd2: authreg_invites has no backend module");
	else
		ok(k, "jabberd2: authreg_invites keeps users in authreg_%s", v);
	check_module_file(k, j, "c2s.xml", "authreg><path",
	                  xget(root, "authreg.path", buf, sizeof(buf)),
	                  "authreg_invites.so");
	check_config_ref(k, j, "c2s.xml", "authreg><invites><config",
	                 xget(root, "authreg.invites.config", buf, sizeof(buf)));
	xel_free(root);
}

/* Position of module name in chain id (-1 when absent), or -2 when
 * there is no such chain. */
static int
chain_pos(const struct xel *modules, const char *chain, const char *name)
{
	char buf[256];
	size_t i, j;
	int pos;

	for (i = 0; modules != NULL && i < modules->n_kids; i++) {
		const struct xel *ch = modules->kids[i];
		const char *id = xattr(ch, "id");

		if (strcmp(ch->name, "chain") != 0 || id == NULL ||
		    strcmp(id, chain) != 0)
			continue;
		for (j = 0, pos = 0; j < ch->n_kids; j++) {
			if (strcmp(ch->kids[j]->name, "module") != 0)
				continue;
			if (strcmp(xtext(ch->kids[j], buf, sizeof(buf)),
			           name) == 0)
				return pos;
			pos++;
		}
		return -1;
	}
	return -2;
}

static void
check_chain(struct check *k, const struct xel *modules, const char *chain,
            const char *before, const char *why)
{
	char fix[512];
	int p = chain_pos(modules, chain, "invites"), q;

	bfmt(fix, sizeof(fix), "add <module>invites</module> to <chain "
	         "id='%s'> in sm.xml%s%s%s", chain, before ? ", before <module>"
	         : "", before ? before : "", before ? "</module>" : "");
	if (p < 0) {
		bad(k, fix, "jabberd2: mod_invites is not in the sm's %s chain "
		    "(%s)", chain, why);
		return;
	}
	if (before != NULL) {
		q = chain_pos(modules, chain, before);
		if (q >= 0 && q < p) {
			bad(k, fix, "jabberd2: mod_invites comes after %s in the "
			    "sm's %s chain (%s)", before, chain, why);
			return;
		}
	}
	ok(k, "jabberd2: mod_invites is in the sm's %s chain%s%s", chain,
	   before ? " before " : "", before ? before : "");
}

static void
check_sm(struct check *k, struct j2 *j)
{
	const struct invites_config *cfg = k->c->cfg;
	char file[4096], why[256], buf[4096], fix[1024];
	const struct xel *local, *modules;
	struct xel *root;
	size_t d, i;
	int found, rod = 1;

	bfmt(file, sizeof(file), "%s/sm.xml", j->dir);
	root = xml_load(file, why, sizeof(why));
	if (root == NULL) {
		bad(k, "give the directory of jabberd2's configuration with "
		    "--jabberd2-config DIR", "jabberd2: %s: %s", file, why);
		return;
	}
	ok(k, "jabberd2: %s is well-formed", file);
	local = xfind(root, "local");
	for (d = 0; d < invites_config_domain_count(cfg); d++) {
		const char *dom = invites_config_domain(cfg, d);

		found = 0;
		for (i = 0; local != NULL && i < local->n_kids; i++)
			if (strcmp(local->kids[i]->name, "id") == 0 &&
			    strcmp(xtext(local->kids[i], buf, sizeof(buf)),
			           dom) == 0)
				found = 1;
		bfmt(fix, sizeof(fix), "add <id>%s</id> to <local> in "
		         "sm.xml", dom);
		if (found)
			ok(k, "jabberd2: the sm serves %s", dom);
		else
			bad(k, fix, "jabberd2: the sm does not serve %s", dom);
	}
	modules = xfind(root, "modules");
	check_chain(k, modules, "pkt-sm", "disco", "invite commands");
	check_chain(k, modules, "pkt-user", "roster",
	            "XEP-0379 pre-approved subscriptions");
	check_chain(k, modules, "user-create", NULL,
	            "roles, roster pairing and notifications after "
	            "registration");
	(void)invites_config_get_bool(cfg, "revoke_on_delete", &rod);
	if (rod)
		check_chain(k, modules, "user-delete", NULL,
		            "revoke_on_delete needs it");
	else
		skip(k, "jabberd2: user-delete chain not needed "
		     "(revoke_on_delete = no)");
	check_module_file(k, j, "sm.xml", "modules><path",
	                  xget(root, "modules.path", buf, sizeof(buf)),
	                  "mod_invites.so");
	check_config_ref(k, j, "sm.xml", "invites><config",
	                 xget(root, "invites.config", buf, sizeof(buf)));
	xel_free(root);
}

static void
check_jabberd2(struct check *k, const char *dir, const char *root)
{
	struct j2 j;
	size_t n;

	memset(&j, 0, sizeof(j));
	j.dir = dir != NULL ? dir : "/etc/jabberd2";
	if (root != NULL) {
		bfmt(j.root, sizeof(j.root), "%s", root);
	} else {
		n = strlen(j.dir);
		while (n > 1 && j.dir[n - 1] == '/')
			n--;
		if (n >= 4 && strncmp(j.dir + n - 4, "/etc", 4) == 0 &&
		    n - 4 > 0)
			bfmt(j.root, sizeof(j.root), "%.*s", (int)(n - 4),
			         j.dir);
		else
			bfmt(j.root, sizeof(j.root), "/");
	}
	check_c2s(k, &j);
	check_sm(k, &j);
}

/* ------------------------------------------------------------------ */
/* invites-web                                                         */
/* ------------------------------------------------------------------ */

struct url {
	int https;
	char host[256];
	char port[8];
	char path[2048];
};

static int
url_parse(const char *s, struct url *u)
{
	const char *p, *h, *slash;
	size_t n;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(s, "http://", 7) == 0) {
		p = s + 7;
		bfmt(u->port, sizeof(u->port), "80");
	} else if (strncasecmp(s, "https://", 8) == 0) {
		p = s + 8;
		u->https = 1;
		bfmt(u->port, sizeof(u->port), "443");
	} else {
		return -1;
	}
	slash = strchr(p, '/');
	n = slash ? (size_t)(slash - p) : strlen(p);
	if (n == 0 || n >= sizeof(u->host))
		return -1;
	if (p[0] == '[') {
		h = memchr(p, ']', n);
		if (h == NULL)
			return -1;
		bfmt(u->host, sizeof(u->host), "%.*s", (int)(h - p - 1),
		         p + 1);
		if ((size_t)(h + 1 - p) < n && h[1] == ':')
			bfmt(u->port, sizeof(u->port), "%.*s",
			         (int)(n - (size_t)(h + 2 - p)), h + 2);
	} else {
		h = memchr(p, ':', n);
		if (h != NULL) {
			bfmt(u->host, sizeof(u->host), "%.*s",
			         (int)(h - p), p);
			bfmt(u->port, sizeof(u->port), "%.*s",
			         (int)(n - (size_t)(h + 1 - p)), h + 1);
		} else {
			bfmt(u->host, sizeof(u->host), "%.*s", (int)n, p);
		}
	}
	bfmt(u->path, sizeof(u->path), "%s", slash ? slash : "/");
	return u->host[0] ? 0 : -1;
}

#define HTTP_TIMEOUT_MS 5000

static int
tcp_connect(const struct url *u, char *why, size_t n)
{
	struct addrinfo hints, *res, *ai;
	struct pollfd pfd;
	socklen_t len;
	int fd = -1, rc, err;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(u->host, u->port, &hints, &res);
	if (rc != 0) {
		bfmt(why, n, "%s: %s", u->host, gai_strerror(rc));
		return -1;
	}
	bfmt(why, n, "cannot connect to %s port %s", u->host, u->port);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0)
			continue;
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (rc != 0 && errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			err = 0;
			len = sizeof(err);
			if (poll(&pfd, 1, HTTP_TIMEOUT_MS) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0
			    && err == 0)
				rc = 0;
			else if (err != 0)
				bfmt(why, n, "cannot connect to %s port %s: "
				         "%s", u->host, u->port, strerror(err));
			else
				bfmt(why, n, "cannot connect to %s port %s: "
				         "timed out", u->host, u->port);
		} else if (rc != 0) {
			bfmt(why, n, "cannot connect to %s port %s: %s",
			         u->host, u->port, strerror(errno));
		}
		if (rc == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (fd >= 0) {
		struct timeval tv = { HTTP_TIMEOUT_MS / 1000, 0 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

struct http_reply {
	int status;
	char link[2048];  /* the Link header's value, "" when absent */
};

/* Find header name in the header block head (NUL-terminated). */
static void
header_value(const char *head, const char *name, char *out, size_t n)
{
	const char *p = head;
	size_t len = strlen(name), v;

	out[0] = '\0';
	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, len) == 0 && p[len] == ':') {
			p += len + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			v = strcspn(p, "\r\n");
			bfmt(out, n, "%.*s", (int)v, p);
			return;
		}
	}
}

/* HEAD url; 0 with the reply, or -1 with why. */
static int
http_head(const char *url, int insecure, struct http_reply *r, char *why,
          size_t n)
{
	char req[4096], resp[16384];
	size_t got = 0;
	ssize_t k;
	struct url u;
	int fd;
#ifdef HAVE_OPS_SSL
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
#endif

	memset(r, 0, sizeof(*r));
	if (url_parse(url, &u) != 0) {
		bfmt(why, n, "%s is not an http or https URL", url);
		return -1;
	}
#ifndef HAVE_OPS_SSL
	if (u.https) {
		bfmt(why, n, "this invitectl was built without libssl: "
		         "give --web-url with the http address of invites-web");
		return -1;
	}
#endif
	fd = tcp_connect(&u, why, n);
	if (fd < 0)
		return -1;
	bfmt(req, sizeof(req),
	         "HEAD %s HTTP/1.1\r\nHost: %s%s%s\r\nUser-Agent: invitectl-"
	         "check/%s\r\nAccept: */*\r\nConnection: close\r\n\r\n",
	         u.path, u.host,
	         strcmp(u.port, u.https ? "443" : "80") != 0 ? ":" : "",
	         strcmp(u.port, u.https ? "443" : "80") != 0 ? u.port : "",
	         PACKAGE_VERSION);
#ifdef HAVE_OPS_SSL
	if (u.https) {
		ctx = SSL_CTX_new(TLS_client_method());
		if (ctx == NULL || (ssl = SSL_new(ctx)) == NULL) {
			bfmt(why, n, "TLS: out of memory");
			goto fail;
		}
		if (!insecure) {
			SSL_CTX_set_default_verify_paths(ctx);
			SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
			SSL_set1_host(ssl, u.host);
		}
		SSL_set_tlsext_host_name(ssl, u.host);
		SSL_set_fd(ssl, fd);
		if (SSL_connect(ssl) != 1) {
			long v = SSL_get_verify_result(ssl);

			bfmt(why, n, "TLS with %s failed: %s", u.host,
			         v != X509_V_OK ? X509_verify_cert_error_string(v)
			                        : "handshake error");
			goto fail;
		}
		if (SSL_write(ssl, req, (int)strlen(req)) <= 0) {
			bfmt(why, n, "TLS write to %s failed", u.host);
			goto fail;
		}
		while (got + 1 < sizeof(resp) &&
		       (k = SSL_read(ssl, resp + got,
		                     (int)(sizeof(resp) - 1 - got))) > 0) {
			got += (size_t)k;
			resp[got] = '\0';
			if (strstr(resp, "\r\n\r\n") != NULL)
				break;
		}
		SSL_free(ssl);
		SSL_CTX_free(ctx);
		ssl = NULL;
		ctx = NULL;
	} else
#endif
	{
		(void)insecure;
		if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
			bfmt(why, n, "writing to %s failed: %s", u.host,
			         strerror(errno));
			close(fd);
			return -1;
		}
		while (got + 1 < sizeof(resp) &&
		       (k = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0) {
			got += (size_t)k;
			resp[got] = '\0';
			if (strstr(resp, "\r\n\r\n") != NULL)
				break;
		}
	}
	close(fd);
	resp[got] = '\0';
	if (strncmp(resp, "HTTP/1.", 7) != 0 || got < 12 ||
	    sscanf(resp + 9, "%3d", &r->status) != 1) {
		bfmt(why, n, "%s:%s did not answer HTTP", u.host, u.port);
		return -1;
	}
	header_value(resp, "Link", r->link, sizeof(r->link));
	return 0;
#ifdef HAVE_OPS_SSL
fail:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return -1;
#endif
}

/* The landing template's base: up to the '/' before its first '{'. */
static void
template_base(const char *tmpl, char *out, size_t n)
{
	const char *brace = strchr(tmpl, '{'), *slash = NULL;
	size_t len = brace ? (size_t)(brace - tmpl) : strlen(tmpl), i;

	for (i = 0; i < len; i++)
		if (tmpl[i] == '/')
			slash = tmpl + i;
	if (slash != NULL && (size_t)(slash - tmpl) >= 8)
		len = (size_t)(slash - tmpl) + 1;
	bfmt(out, n, "%.*s", (int)len, tmpl);
}

static void
check_web(struct check *k, const char *web_url, int probe, int insecure)
{
	struct cli *c = k->c;
	const char *tmpl = web_url ? web_url : invites_config_landing_url(c->cfg);
	char base[2048], why[512], fix[1024], token[INVITES_TOKEN_MAX + 1];
	char *url = NULL, *uri = NULL, expect[2300];
	struct invites_invite *inv = NULL;
	struct invites_spec spec;
	struct http_reply r;
	int rc;

	if (tmpl == NULL) {
		skip(k, "invites-web: no landing_url in the configuration "
		     "(links are xmpp: URIs only)");
		return;
	}
	if (strchr(tmpl, '#') != NULL || strstr(tmpl, "{token}") == NULL) {
		skip(k, "invites-web: landing_url %s is an external page "
		     "(not checked)", tmpl);
		return;
	}
	template_base(tmpl, base, sizeof(base));
	bfmt(fix, sizeof(fix), "start invites-web (systemctl start "
	         "invites-web) and make %s reach it (web_listen, the proxy)",
	         base);
	if (http_head(base, insecure, &r, why, sizeof(why)) != 0) {
		bad(k, fix, "invites-web: %s is not reachable: %s", base, why);
		return;
	}
	if (r.status >= 500) {
		bad(k, fix, "invites-web: %s answers %d", base, r.status);
		return;
	}
	ok(k, "invites-web: %s answers (HTTP %d)", base, r.status);
	if (!probe) {
		skip(k, "invites-web: Link header not checked (--no-probe)");
		return;
	}
	if (!k->store_ok) {
		skip(k, "invites-web: Link header not checked (the store is "
		     "not usable)");
		return;
	}
	memset(&spec, 0, sizeof(spec));
	spec.kind = INVITES_KIND_ACCOUNT;
	spec.domain = invites_config_domain(c->cfg, 0);
	spec.created_by = "invitectl:check";
	spec.note = "invitectl check: probe of the landing page";
	spec.expires = c->now + 120;
	rc = invites_create(c->st, c->cfg, &spec, token, sizeof(token), &inv);
	if (rc != 0) {
		bad(k, "see the store checks above", "invites-web: no probe "
		    "invite could be made: %s", invites_strerror(rc));
		return;
	}
	rc = invites_landing_url(tmpl, inv, token, &url);
	if (rc == 0)
		rc = invites_uri_build(inv, token, &uri);
	if (rc == 0 && http_head(url, insecure, &r, why, sizeof(why)) != 0) {
		bad(k, fix, "invites-web: the landing page of probe invite %s "
		    "is not reachable: %s", inv->id, why);
	} else if (rc == 0) {
		bfmt(expect, sizeof(expect), "<%s>", uri);
		bfmt(fix, sizeof(fix), "make the landing_url template "
		         "point at invites-web's /invite/{token} (and the proxy "
		         "pass the Link header on)");
		if (r.status != 200)
			bad(k, fix, "invites-web: HEAD of the landing page of "
			    "probe invite %s answers %d, not 200", inv->id,
			    r.status);
		else if (strncmp(r.link, expect, strlen(expect)) != 0 ||
		         strstr(r.link, "rel=\"alternate\"") == NULL)
			bad(k, fix, "invites-web: HEAD of the landing page of "
			    "probe invite %s has no Link: <xmpp:...>; "
			    "rel=\"alternate\" header for its invite%s", inv->id,
			    r.link[0] ? " (it has another one)" : "");
		else
			ok(k, "invites-web: HEAD of a landing page answers 200 "
			   "with Link: <xmpp:...>; rel=\"alternate\" (probe "
			   "invite %s)", inv->id);
	}
	invites_free(url);
	invites_free(uri);
	explicit_bzero(token, sizeof(token));
	rc = invites_revoke(c->st, inv->id, "invitectl:check", NULL);
	if (rc != 0)
		bad(k, "revoke it: invitectl revoke ID", "invites-web: probe "
		    "invite %s could not be revoked: %s", inv->id,
		    invites_strerror(rc));
	invites_invite_free(&inv);
}

/*
 * Run as root on a store that belongs to the server's user, the probe may
 * have made files (a new log file) that root owns: hand them back to the
 * directory's owner, or the server could not write them.
 */
static void
store_hand_back(struct cli *c)
{
	const char *path = invites_config_store(c->cfg);
	char file[4096];
	struct dirent *de;
	struct stat dir, st;
	DIR *d;

	if (geteuid() != 0 || path == NULL || stat(path, &dir) != 0 ||
	    dir.st_uid == 0 || (d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		bfmt(file, sizeof(file), "%s/%s", path, de->d_name);
		if (lstat(file, &st) == 0 && !S_ISLNK(st.st_mode) &&
		    (st.st_uid != dir.st_uid || st.st_gid != dir.st_gid) &&
		    lchown(file, dir.st_uid, dir.st_gid) != 0)
			fprintf(stderr, "invitectl: check: %s: %s\n", file,
			        strerror(errno));
	}
	closedir(d);
}

/* ------------------------------------------------------------------ */
/* The command                                                         */
/* ------------------------------------------------------------------ */

int
cli_cmd_check(struct cli *c, const struct cli_args *a)
{
	struct check k;
	const char *user = cli_opt_get(a, O_USER);

	if (a->n_pos > 0)
		return cli_usage(c, "unexpected argument '%.40s'", a->pos[0]);
	memset(&k, 0, sizeof(k));
	k.c = c;
	k.f = stdout;
	find_user(&k, user);
	if (user != NULL && !k.have_user)
		return cli_usage(c, "--user: no such user '%.40s'", user);
	fprintf(k.f, "invitectl check: %s\n", c->config_path);
	if (check_config(&k) == 0) {
		check_store(&k);
		if (cli_opt_has(a, O_NO_J2))
			skip(&k, "jabberd2: not checked (--no-jabberd2)");
		else
			check_jabberd2(&k, cli_opt_get(a, O_J2DIR),
			               cli_opt_get(a, O_J2ROOT));
		check_web(&k, cli_opt_get(a, O_WEB_URL),
		          !cli_opt_has(a, O_NO_PROBE),
		          cli_opt_has(a, O_INSECURE));
		cli_close_store(c);
		store_hand_back(c);
	}
	fprintf(k.f, "%d checks: %d ok, %d failed, %d skipped\n",
	        k.passed + k.failed + k.skipped, k.passed, k.failed,
	        k.skipped);
	return k.failed > 0 ? 1 : 0;
}
