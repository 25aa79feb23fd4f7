/* SPDX-License-Identifier: MIT */
/*
 * Reader of Prosody's invites (mod_invites, as in Debian's
 * prosody-modules for Prosody 0.12) for `invitectl import prosody`.
 *
 * Prosody keeps its map store "invite_token" in two places per host: the
 * host's own record (user nil) maps each token that allows registration to
 * a table {type = "register"|"roster", jid, allow_registration, reusable,
 * created_at, expires, additional_data = {roles, groups, allow_reset,
 * source, note}}, and each inviting user's record maps the tokens of their
 * contact invites to an expiry.  With internal storage these are the Lua
 * data files DATA/HOST/invite_token.dat and DATA/HOST/invite_token/USER.dat
 * (HOST and USER with every non-alphanumeric byte as %xx); they are
 * evaluated by Lua 5.4 itself, in a state with no libraries and an empty
 * environment, text chunks only, with bounded memory and instructions,
 * never by a parser of our own.  With SQL storage the same data are rows
 * of the table "prosody" (host, user, store, key, type, value), the tables
 * JSON-encoded; they are read from an SQLite file with SQLite, whose JSON
 * functions take the values apart.
 *
 * Prosody deletes an invite when it is used, so everything found is
 * pending or expired; a contact invite found in both records is read once.
 * Mapping (docs/operations.md): "register" with allow_reset -> reset,
 * "register" -> account (preset name when the JID has a node, group
 * invites reusable until they expire), "roster" in the host record ->
 * contact that may register, only in a user's record -> contact only;
 * the role prosody:admin (or prosody:operator) -> admin.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef HAVE_LUA
#include <lauxlib.h>
#include <lua.h>
#endif
#ifdef HAVE_SQLITE
#include <sqlite3.h>
#endif

#include "import_readers.h"

#define MAX_FILE (64u * 1024 * 1024)
#define LUA_MEM_MAX (256u * 1024 * 1024)
#define LUA_STEPS_MAX 200000000L
#define MAX_LIST 64

#ifdef HAVE_LUA
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
#endif

/* One invite as Prosody stores it (strings owned by the batch). */
struct pinv {
	const char *where;      /* file or table, for labels */
	const char *host;       /* the host it was stored under */
	const char *user;       /* a user's record: the inviter's name */
	const char *token;
	const char *type;
	const char *jid;
	int allow_registration;
	int reusable;
	int64_t created;
	int64_t expires;
	const char *allow_reset;
	const char *source;
	const char *note;
	const char *roles[MAX_LIST];
	size_t n_roles;
	const char *groups[MAX_LIST];
	size_t n_groups;
};

struct reader {
	struct imp_batch *b;
	int64_t now;
	char *err;
	size_t errsz;
	size_t count;           /* records seen, for labels */
};

static int
rfail(struct reader *r, const char *fmt, ...) INVITES_PRINTF(2, 3);

static int
rfail(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, r->errsz, fmt, ap);
	va_end(ap);
	return -1;
}

#if defined(HAVE_LUA) || defined(HAVE_SQLITE)

/* Prosody's role names for what we call admin. */
static const char *
map_role(const char *role)
{
	if (strcmp(role, "prosody:admin") == 0 ||
	    strcmp(role, "prosody:operator") == 0)
		return "admin";
	if (strcmp(role, "prosody:user") == 0 ||
	    strcmp(role, "prosody:registered") == 0 ||
	    strcmp(role, "prosody:guest") == 0)
		return NULL; /* every account has these */
	return role;
}

/* A bare JID from Prosody's "source" (a full JID). */
static const char *
bare_of(struct reader *r, const char *jid)
{
	const char *slash = strchr(jid, '/');

	return slash ? imp_batch_strn(r->b, jid, (size_t)(slash - jid)) : jid;
}

/* Turn one Prosody invite into an import record. */
static int
add_invite(struct reader *r, const struct pinv *p)
{
	struct invites_import_record *rec;
	const char *at, *node = NULL, **v;
	size_t i, n;

	r->count++;
	rec = imp_batch_add(r->b);
	if (rec == NULL)
		return rfail(r, "out of memory");
	rec->label = p->created > 0
	             ? imp_batch_printf(r->b, "%s: the invite created %s",
	                                p->where, imp_time_str(p->created))
	             : imp_batch_printf(r->b, "%s: the invite expiring %s",
	                                p->where, imp_time_str(p->expires));
	rec->token = p->token;
	rec->domain = p->host;
	rec->created = p->created;
	rec->expires = p->expires;
	rec->note = p->note;
	if (p->source != NULL)
		rec->created_by = bare_of(r, p->source);
	if (p->jid != NULL && (at = strchr(p->jid, '@')) != NULL) {
		node = imp_batch_strn(r->b, p->jid, (size_t)(at - p->jid));
		rec->domain = imp_batch_str(r->b, at + 1);
	} else if (p->jid != NULL) {
		rec->domain = p->jid;
	}
	if (p->user != NULL) {
		/* a user's record: contact only */
		rec->kind = INVITES_KIND_CONTACT;
		rec->inviter = imp_batch_printf(r->b, "%s@%s", p->user, p->host);
		if (rec->created == 0)
			rec->created = r->now < p->expires ? r->now
			                                   : p->expires - 1;
	} else if (p->type != NULL && strcmp(p->type, "roster") == 0) {
		rec->kind = INVITES_KIND_CONTACT;
		if (p->allow_registration)
			rec->flags = INVITES_F_REGISTER;
		rec->inviter = p->jid;
	} else if (p->type != NULL && strcmp(p->type, "register") == 0) {
		if (p->allow_reset != NULL) {
			rec->kind = INVITES_KIND_RESET;
			rec->username = p->allow_reset;
		} else {
			rec->kind = INVITES_KIND_ACCOUNT;
			rec->username = node;
		}
		if (p->reusable)
			rec->max_uses = UINT32_MAX;
	} else {
		return rfail(r, "%s: invite %zu: unknown invite type '%s'",
		             p->where, r->count, p->type ? p->type : "(none)");
	}
	if (rec->created_by == NULL && rec->inviter == NULL)
		rec->created_by = "prosodyctl";
	if (p->n_roles > 0) {
		v = imp_batch_strv(r->b, p->n_roles);
		if (v == NULL)
			return rfail(r, "out of memory");
		for (i = n = 0; i < p->n_roles; i++) {
			const char *m = map_role(p->roles[i]);

			if (m != NULL)
				v[n++] = m;
		}
		rec->roles = v;
		rec->n_roles = n;
	}
	if (p->n_groups > 0) {
		v = imp_batch_strv(r->b, p->n_groups);
		if (v == NULL)
			return rfail(r, "out of memory");
		for (i = 0; i < p->n_groups; i++)
			v[i] = p->groups[i];
		rec->groups = v;
		rec->n_groups = p->n_groups;
	}
	if (rec->token == NULL || rec->domain == NULL ||
	    (p->user == NULL && rec->created == 0) || rec->expires == 0)
		return rfail(r, "%s: invite %zu: token, host, creation or "
		             "expiry time missing", p->where, r->count);
	return 0;
}

/* Has the batch a record with this token already (a contact invite is in
 * the host's and in the inviter's record)? */
static int
have_token(const struct imp_batch *b, const char *token)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (b->recs[i].token && strcmp(b->recs[i].token, token) == 0)
			return 1;
	return 0;
}

#endif /* HAVE_LUA || HAVE_SQLITE */

#ifdef HAVE_LUA
/* %xx-decode a name of Prosody's datamanager. */
static const char *
decode_name(struct imp_batch *b, const char *s)
{
	char buf[1024];
	size_t o = 0;
	unsigned v;

	for (; *s != '\0' && o + 1 < sizeof(buf); s++) {
		if (*s == '%' && s[1] && s[2] && sscanf(s + 1, "%2x", &v) == 1) {
			buf[o++] = (char)v;
			s += 2;
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = '\0';
	return imp_batch_str(b, buf);
}

/* ------------------------------------------------------------------ */
/* Internal storage: Lua data files                                    */
/* ------------------------------------------------------------------ */
#endif /* HAVE_LUA */

#ifdef HAVE_LUA

struct lua_budget {
	size_t used;
	long steps;
};

static void *
l_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct lua_budget *m = ud;

	if (ptr == NULL)
		osize = 0;
	if (nsize == 0) {
		free(ptr);
		m->used -= osize;
		return NULL;
	}
	if (nsize > osize && m->used + (nsize - osize) > LUA_MEM_MAX)
		return NULL;
	ptr = realloc(ptr, nsize);
	if (ptr != NULL)
		m->used = m->used - osize + nsize;
	return ptr;
}

static void
l_hook(lua_State *L, lua_Debug *ar)
{
	struct lua_budget *m;

	(void)ar;
	lua_getallocf(L, (void **)&m);
	m->steps += 1000;
	if (m->steps > LUA_STEPS_MAX)
		luaL_error(L, "too many instructions for a data file");
}

static char *
read_file(const char *path, size_t *len_r, int *errno_r)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *p;
	size_t len = 0, cap = 0, n;

	*errno_r = 0;
	if (f == NULL) {
		*errno_r = errno;
		return NULL;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > MAX_FILE + 1 || (p = realloc(buf, cap)) == NULL) {
				*errno_r = cap > MAX_FILE + 1 ? EFBIG : ENOMEM;
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		*errno_r = EIO;
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len_r = len;
	return buf;
}

/*
 * Evaluate a data file in an empty sandbox; on success the state's top is
 * the table it returned.
 */
static int
eval_file(struct reader *r, lua_State *L, const char *path)
{
	size_t len;
	char *buf;
	int e, rc;

	buf = read_file(path, &len, &e);
	if (buf == NULL)
		return rfail(r, "%s: %s", path, strerror(e));
	/* "t": text only, never precompiled bytecode */
	rc = luaL_loadbufferx(L, buf, len, "=datafile", "t");
	free(buf);
	if (rc != LUA_OK)
		return rfail(r, "%s: not a Prosody data file: %s", path,
		             lua_tostring(L, -1));
	lua_newtable(L);               /* _ENV: nothing at all */
	if (lua_setupvalue(L, -2, 1) == NULL)
		lua_pop(L, 1);
	rc = lua_pcall(L, 0, 1, 0);
	if (rc != LUA_OK)
		return rfail(r, "%s: not a Prosody data file: %s", path,
		             lua_tostring(L, -1));
	if (!lua_istable(L, -1))
		return rfail(r, "%s: not a Prosody data file: it returns no "
		             "table", path);
	return 0;
}

/* String field k of the table at idx, copied into the batch, or NULL. */
static const char *
l_str(struct reader *r, lua_State *L, int idx, const char *k)
{
	const char *v = NULL;
	size_t n;

	lua_pushstring(L, k);
	lua_rawget(L, idx < 0 ? idx - 1 : idx);
	if (lua_type(L, -1) == LUA_TSTRING) {
		v = lua_tolstring(L, -1, &n);
		v = imp_batch_strn(r->b, v, n);
	}
	lua_pop(L, 1);
	return v;
}

static int64_t
l_num(lua_State *L, int idx, const char *k)
{
	int64_t v = 0;
	int ok = 0;

	lua_pushstring(L, k);
	lua_rawget(L, idx < 0 ? idx - 1 : idx);
	if (lua_type(L, -1) == LUA_TNUMBER) {
		lua_Number d = lua_tonumber(L, -1);

		if (d > 0 && d < 1e15) {
			v = (int64_t)d;
			ok = 1;
		}
	}
	lua_pop(L, 1);
	return ok ? v : 0;
}

static int
l_bool(lua_State *L, int idx, const char *k)
{
	int v;

	lua_pushstring(L, k);
	lua_rawget(L, idx < 0 ? idx - 1 : idx);
	v = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
}

/*
 * A list of names at the top of the stack (a set {name = true} or an
 * array {name, ...}) into v; pops it.
 */
static void
l_names(struct reader *r, lua_State *L, const char **v, size_t *n)
{
	*n = 0;
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		return;
	}
	lua_pushnil(L);
	while (lua_next(L, -2) != 0) {
		const char *s = NULL;
		size_t len;

		if (lua_type(L, -2) == LUA_TSTRING && lua_toboolean(L, -1))
			s = lua_tolstring(L, -2, &len);
		else if (lua_type(L, -2) == LUA_TNUMBER &&
		         lua_type(L, -1) == LUA_TSTRING)
			s = lua_tolstring(L, -1, &len);
		if (s != NULL && *n < MAX_LIST)
			v[(*n)++] = imp_batch_strn(r->b, s, len);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/* The host record: token -> invite table. */
static int
read_host_file(struct reader *r, lua_State *L, const char *path,
               const char *host)
{
	struct pinv p;
	int t;

	if (eval_file(r, L, path) != 0)
		return -1;
	t = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, t) != 0) {
		memset(&p, 0, sizeof(p));
		p.where = path;
		p.host = host;
		if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1)) {
			lua_pop(L, 1);
			r->b->ignored++;
			imp_batch_note(r->b, "%s: an entry that is not an "
			               "invite was left out", path);
			continue;
		}
		p.token = imp_batch_str(r->b, lua_tostring(L, -2));
		p.type = l_str(r, L, -1, "type");
		p.jid = l_str(r, L, -1, "jid");
		p.allow_registration = l_bool(L, -1, "allow_registration");
		p.reusable = l_bool(L, -1, "reusable");
		p.created = l_num(L, -1, "created_at");
		p.expires = l_num(L, -1, "expires");
		lua_pushstring(L, "additional_data");
		lua_rawget(L, -2);
		if (lua_istable(L, -1)) {
			p.allow_reset = l_str(r, L, -1, "allow_reset");
			p.source = l_str(r, L, -1, "source");
			p.note = l_str(r, L, -1, "note");
			lua_pushstring(L, "roles");
			lua_rawget(L, -2);
			l_names(r, L, p.roles, &p.n_roles);
			lua_pushstring(L, "groups");
			lua_rawget(L, -2);
			l_names(r, L, p.groups, &p.n_groups);
		}
		lua_pop(L, 1);
		if (p.token == NULL || add_invite(r, &p) != 0) {
			lua_pop(L, 2);
			return p.token == NULL ? rfail(r, "out of memory") : -1;
		}
		lua_pop(L, 1);
	}
	lua_settop(L, 0);
	return 0;
}

/* A user's record: token -> expiry of their contact invites. */
static int
read_user_file(struct reader *r, lua_State *L, const char *path,
               const char *host, const char *user)
{
	struct pinv p;
	int t;

	if (eval_file(r, L, path) != 0)
		return -1;
	t = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, t) != 0) {
		if (lua_type(L, -2) == LUA_TSTRING &&
		    lua_type(L, -1) == LUA_TNUMBER) {
			const char *tok = lua_tostring(L, -2);

			if (!have_token(r->b, tok)) {
				memset(&p, 0, sizeof(p));
				p.where = path;
				p.host = host;
				p.user = user;
				p.token = imp_batch_str(r->b, tok);
				p.expires = (int64_t)lua_tonumber(L, -1);
				if (p.token == NULL || add_invite(r, &p) != 0) {
					lua_settop(L, 0);
					return p.token == NULL
					       ? rfail(r, "out of memory") : -1;
				}
			}
		}
		lua_pop(L, 1);
	}
	lua_settop(L, 0);
	return 0;
}

static int
is_dir(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int
is_file(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* One host directory: invite_token.dat, then invite_token/USER.dat. */
static int
read_host_dir(struct reader *r, const char *dir, const char *host)
{
	struct lua_budget budget = { 0, 0 };
	char path[4096];
	struct dirent *de;
	lua_State *L;
	DIR *d;
	int rc = 0;

	L = lua_newstate(l_alloc, &budget);
	if (L == NULL)
		return rfail(r, "out of memory starting Lua");
	lua_sethook(L, l_hook, LUA_MASKCOUNT, 1000);
	bfmt(path, sizeof(path), "%s/invite_token.dat", dir);
	if (is_file(path))
		rc = read_host_file(r, L, imp_batch_str(r->b, path), host);
	bfmt(path, sizeof(path), "%s/invite_token", dir);
	if (rc == 0 && is_dir(path) && (d = opendir(path)) != NULL) {
		while (rc == 0 && (de = readdir(d)) != NULL) {
			size_t n = strlen(de->d_name);
			char *name;
			const char *user;

			if (n < 5 || strcmp(de->d_name + n - 4, ".dat") != 0)
				continue;
			name = strndup(de->d_name, n - 4);
			user = name ? decode_name(r->b, name) : NULL;
			free(name);
			bfmt(path, sizeof(path), "%s/invite_token/%s", dir,
			         de->d_name);
			rc = user == NULL ? rfail(r, "out of memory")
			     : read_user_file(r, L, imp_batch_str(r->b, path),
			                      host, user);
		}
		closedir(d);
	}
	lua_close(L);
	return rc;
}

static int
has_invites(const char *dir)
{
	char path[4096];

	bfmt(path, sizeof(path), "%s/invite_token.dat", dir);
	if (is_file(path))
		return 1;
	bfmt(path, sizeof(path), "%s/invite_token", dir);
	return is_dir(path);
}

static const char *
base_name(const char *path, char *buf, size_t n)
{
	size_t len = strlen(path);
	const char *s;

	while (len > 1 && path[len - 1] == '/')
		len--;
	bfmt(buf, n, "%.*s", (int)len, path);
	s = strrchr(buf, '/');
	return s ? s + 1 : buf;
}

static int
read_files(struct reader *r, const char *path, const char *domain)
{
	char buf[4096], dir[4096], sub[4096];
	const char *host;
	struct dirent *de;
	DIR *d;
	int found = 0, rc = 0;

	if (is_file(path)) {
		/* a host's invite_token.dat: its directory is the host */
		bfmt(dir, sizeof(dir), "%s", path);
		if (strrchr(dir, '/') != NULL)
			*strrchr(dir, '/') = '\0';
		else
			bfmt(dir, sizeof(dir), ".");
		path = dir;
	}
	if (!is_dir(path))
		return rfail(r, "%s: no such file or directory", path);
	if (has_invites(path)) {
		char real[4096];

		if (realpath(path, real) == NULL)
			bfmt(real, sizeof(real), "%s", path);
		host = decode_name(r->b, base_name(real, buf, sizeof(buf)));
		if (host == NULL)
			return rfail(r, "out of memory");
		if (domain != NULL && strcmp(host, domain) != 0)
			return rfail(r, "%s holds the invites of %s, not %s",
			             path, host, domain);
		return read_host_dir(r, path, host);
	}
	d = opendir(path);
	if (d == NULL)
		return rfail(r, "%s: %s", path, strerror(errno));
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		bfmt(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (!is_dir(sub) || !has_invites(sub))
			continue;
		host = decode_name(r->b, de->d_name);
		if (host == NULL) {
			rc = rfail(r, "out of memory");
			break;
		}
		if (domain != NULL && strcmp(host, domain) != 0)
			continue;
		found++;
		rc = read_host_dir(r, sub, host);
	}
	closedir(d);
	if (rc == 0 && found == 0)
		return rfail(r, "%s: no invites of %s found (expected HOST/"
		             "invite_token.dat in Prosody's data directory)",
		             path, domain ? domain : "any host");
	return rc;
}

#endif /* HAVE_LUA */

/* ------------------------------------------------------------------ */
/* SQL storage in SQLite                                               */
/* ------------------------------------------------------------------ */

#ifdef HAVE_SQLITE

static const char *
col_str(struct reader *r, sqlite3_stmt *s, int i)
{
	const unsigned char *v = sqlite3_column_text(s, i);

	return v ? imp_batch_str(r->b, (const char *)v) : NULL;
}

static void
sql_names(struct reader *r, sqlite3 *db, const char *json, const char *path,
          const char **v, size_t *n)
{
	sqlite3_stmt *s = NULL;

	*n = 0;
	/* a set {"name": true} or an array ["name"] */
	if (sqlite3_prepare_v2(db,
	        "SELECT CASE WHEN typeof(key) = 'text' THEN key ELSE value END "
	        "FROM json_each(?1, ?2) WHERE (typeof(key) = 'text' AND "
	        "value) OR (typeof(key) = 'integer' AND type = 'text')",
	        -1, &s, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW && *n < MAX_LIST) {
		const char *x = col_str(r, s, 0);

		if (x != NULL)
			v[(*n)++] = x;
	}
	sqlite3_finalize(s);
}

static int
read_sql(struct reader *r, const char *path, const char *domain)
{
	static const char *const q_host =
		"SELECT host, key, value, "
		"json_extract(value, '$.type'), json_extract(value, '$.jid'), "
		"json_extract(value, '$.allow_registration'), "
		"json_extract(value, '$.reusable'), "
		"json_extract(value, '$.created_at'), "
		"json_extract(value, '$.expires'), "
		"json_extract(value, '$.additional_data.allow_reset'), "
		"json_extract(value, '$.additional_data.source'), "
		"json_extract(value, '$.additional_data.note') "
		"FROM prosody WHERE store = 'invite_token' AND user = '' "
		"AND type = 'json' AND (?1 IS NULL OR host = ?1) "
		"ORDER BY host, key";
	static const char *const q_user =
		"SELECT host, user, key, value FROM prosody "
		"WHERE store = 'invite_token' AND user <> '' "
		"AND type = 'number' AND (?1 IS NULL OR host = ?1) "
		"ORDER BY host, user, key";
	sqlite3_stmt *s = NULL;
	sqlite3 *db = NULL;
	struct pinv p;
	const char *where;
	int rc = 0, step;

	where = imp_batch_printf(r->b, "%s (table prosody)", path);
	if (where == NULL)
		return rfail(r, "out of memory");
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = rfail(r, "%s: %s", path, db ? sqlite3_errmsg(db)
		                                 : "cannot open");
		sqlite3_close(db);
		return rc;
	}
	if (sqlite3_prepare_v2(db, q_host, -1, &s, NULL) != SQLITE_OK) {
		rc = rfail(r, "%s: not Prosody's SQL storage: %s", path,
		           sqlite3_errmsg(db));
		goto out;
	}
	if (domain != NULL)
		sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *json = (const char *)sqlite3_column_text(s, 2);

		memset(&p, 0, sizeof(p));
		p.where = where;
		p.host = col_str(r, s, 0);
		p.token = col_str(r, s, 1);
		p.type = col_str(r, s, 3);
		p.jid = col_str(r, s, 4);
		p.allow_registration = sqlite3_column_int(s, 5) != 0;
		p.reusable = sqlite3_column_int(s, 6) != 0;
		p.created = sqlite3_column_int64(s, 7);
		p.expires = sqlite3_column_int64(s, 8);
		p.allow_reset = col_str(r, s, 9);
		p.source = col_str(r, s, 10);
		p.note = col_str(r, s, 11);
		if (json != NULL) {
			sql_names(r, db, json, "$.additional_data.roles",
			          p.roles, &p.n_roles);
			sql_names(r, db, json, "$.additional_data.groups",
			          p.groups, &p.n_groups);
		}
		if (p.host == NULL || p.token == NULL)
			rc = rfail(r, "%s: a row without host or key", where);
		else
			rc = add_invite(r, &p);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = rfail(r, "%s: %s", path, sqlite3_errmsg(db));
	sqlite3_finalize(s);
	s = NULL;
	if (rc != 0)
		goto out;
	if (sqlite3_prepare_v2(db, q_user, -1, &s, NULL) != SQLITE_OK) {
		rc = rfail(r, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	if (domain != NULL)
		sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *tok = (const char *)sqlite3_column_text(s, 2);
		const char *val = (const char *)sqlite3_column_text(s, 3);

		if (tok == NULL || have_token(r->b, tok))
			continue;
		memset(&p, 0, sizeof(p));
		p.where = where;
		p.host = col_str(r, s, 0);
		p.user = col_str(r, s, 1);
		p.token = col_str(r, s, 2);
		if (val == NULL || imp_parse_time(val, &p.expires) != 0)
			rc = rfail(r, "%s: a contact invite of %s with no "
			           "expiry", where, p.user ? p.user : "?");
		else
			rc = add_invite(r, &p);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = rfail(r, "%s: %s", path, sqlite3_errmsg(db));
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}

#endif /* HAVE_SQLITE */

/* Lua iterates tables in no fixed order: list records by where they
 * were found, then by creation time (and token, to break ties). */
static int
cmp_rec(const void *x, const void *y)
{
	const struct invites_import_record *a = x, *b = y;
	int c = strcmp(a->label ? a->label : "", b->label ? b->label : "");

	if (a->created != b->created)
		return a->created < b->created ? -1 : 1;
	if (c != 0)
		return c;
	return strcmp(a->token ? a->token : "", b->token ? b->token : "");
}

static int
read_any(struct reader *r, const char *path, const char *domain);

int
imp_prosody_read(const char *path, const char *domain, int64_t now,
                 struct imp_batch *b, char *err, size_t errsz)
{
	struct reader r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.b = b;
	r.now = now;
	r.err = err;
	r.errsz = errsz;
	rc = read_any(&r, path, domain);
	if (rc == 0 && b->n > 1)
		qsort(b->recs, b->n, sizeof(*b->recs), cmp_rec);
	return rc;
}

static int
read_any(struct reader *rp, const char *path, const char *domain)
{
	struct reader r = *rp;

	if (strncmp(path, "sqlite:", 7) == 0 || strncmp(path, "sqlite3:", 8) == 0) {
		path = strchr(path, ':') + 1;
		if (strncmp(path, "//", 2) == 0)
			path += 2;
		if (!imp_is_sqlite(path))
			return rfail(&r, "%s: not an SQLite database", path);
	}
	if (strstr(path, "://") != NULL)
		return rfail(&r, "%s: only SQLite databases are read; export "
		             "other SQL storage with prosody-migrator to an "
		             "SQLite file or to internal storage", path);
	if (imp_is_sqlite(path)) {
#ifdef HAVE_SQLITE
		return read_sql(&r, path, domain);
#else
		return rfail(&r, "%s: this invitectl was built without "
		             "SQLite (libsqlite3-dev)", path);
#endif
	}
#ifdef HAVE_LUA
	return read_files(&r, path, domain);
#else
	return rfail(&r, "%s: this invitectl was built without Lua 5.4 "
	             "(liblua5.4-dev), which reads Prosody's data files", path);
#endif
}
