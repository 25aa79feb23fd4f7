/* SPDX-License-Identifier: MIT */
/*
 * Reader of ejabberd's invites (mod_invites, SQL backend) for
 * `invitectl import ejabberd`.
 *
 * ejabberd keeps one row per token in the table invite_token: token,
 * username (the inviter's node; empty for admin-made tokens), server_host
 * (absent in the old single-host schema), invitee (the bare JID that used
 * it; empty while unused), created_at and expires (UTC timestamps; a
 * revoked token gets expires 1970-01-01 00:00:01), type (R roster_only,
 * A account_only, S account_subscription, T reset_token) and account_name
 * (a preset or target name; for R, the name registered with it).
 *
 * Two inputs are read: an SQLite database holding that table (ejabberd's
 * sql_type: sqlite), and a tab-separated dump with a header line naming
 * the columns, as `mysql -B -e 'SELECT * FROM invite_token'`,
 * `psql -A -F $'\t' -c ...` (without its row-count footer) or `sqlite3
 * -header -separator $'\t'` print it (\N or an empty field is empty).
 * Mnesia, ejabberd's default storage, is not read: switch mod_invites to
 * SQL first (ejabberdctl export2sql) or dump the rows that way.
 *
 * Mapping (docs/operations.md): R -> contact invite of username@host
 * (that may register when asked: ejabberd decides ;ibr=y by its access
 * rules), S -> account invite paired with the inviter, A -> account invite
 * credited to the inviter without pairing, T -> password reset; a non-empty
 * invitee, or an R token whose account_name is set, means used.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_SQLITE
#include <sqlite3.h>
#endif

#include "import_readers.h"

#define MAX_LINE 65536

enum col {
	C_TOKEN, C_USERNAME, C_HOST, C_INVITEE, C_CREATED, C_EXPIRES, C_TYPE,
	C_ACCOUNT, N_COLS
};

static const char *const col_names[N_COLS] = {
	"token", "username", "server_host", "invitee", "created_at",
	"expires", "type", "account_name"
};

struct row {
	const char *v[N_COLS];  /* NULL when absent */
	const char *label;
};

struct ereader {
	struct imp_batch *b;
	const char *domain;
	int contact_register;
	char *err;
	size_t errsz;
};

static int
efail(struct ereader *r, const char *fmt, ...) INVITES_PRINTF(2, 3);

static int
efail(struct ereader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, r->errsz, fmt, ap);
	va_end(ap);
	return -1;
}

static int
empty(const char *s)
{
	return s == NULL || *s == '\0' || strcmp(s, "\\N") == 0 ||
	       strcmp(s, "NULL") == 0;
}

static int
add_row(struct ereader *r, const struct row *w)
{
	struct invites_import_record *rec;
	const char *host, *user, *acct, *invitee, *type;
	int64_t t;

	if (empty(w->v[C_TOKEN]) || empty(w->v[C_TYPE]) ||
	    empty(w->v[C_CREATED]) || empty(w->v[C_EXPIRES]))
		return efail(r, "%s: token, type, created_at or expires is "
		             "empty", w->label);
	host = !empty(w->v[C_HOST]) ? w->v[C_HOST] : r->domain;
	if (host == NULL)
		return efail(r, "%s: no server_host column: say which domain "
		             "with --domain", w->label);
	user = empty(w->v[C_USERNAME]) ? NULL : w->v[C_USERNAME];
	acct = empty(w->v[C_ACCOUNT]) ? NULL : w->v[C_ACCOUNT];
	invitee = empty(w->v[C_INVITEE]) ? NULL : w->v[C_INVITEE];
	type = w->v[C_TYPE];

	rec = imp_batch_add(r->b);
	if (rec == NULL)
		return efail(r, "out of memory");
	rec->label = w->label;
	rec->token = w->v[C_TOKEN];
	rec->domain = host;
	if (imp_parse_time(w->v[C_CREATED], &t) != 0)
		return efail(r, "%s: created_at '%s' is not a time", w->label,
		             w->v[C_CREATED]);
	rec->created = t;
	if (imp_parse_time(w->v[C_EXPIRES], &t) != 0)
		return efail(r, "%s: expires '%s' is not a time", w->label,
		             w->v[C_EXPIRES]);
	/* a revoked token has expires 1970-01-01 00:00:01: long over */
	rec->expires = t > rec->created ? t : rec->created + 1;
	if (user != NULL) {
		rec->created_by = imp_batch_printf(r->b, "%s@%s", user, host);
		if (rec->created_by == NULL)
			return efail(r, "out of memory");
	} else {
		rec->created_by = "ejabberd";
	}
	switch (strlen(type) == 1 ? type[0] : '?') {
	case 'R':
		if (user == NULL)
			return efail(r, "%s: a roster token without username",
			             w->label);
		rec->kind = INVITES_KIND_CONTACT;
		rec->inviter = rec->created_by;
		if (r->contact_register)
			rec->flags = INVITES_F_REGISTER;
		if (invitee == NULL && acct != NULL) {
			/* its registration half was used */
			invitee = imp_batch_printf(r->b, "%s@%s", acct, host);
			if (invitee == NULL)
				return efail(r, "out of memory");
		}
		break;
	case 'S':
		rec->kind = INVITES_KIND_ACCOUNT;
		rec->username = acct;
		rec->inviter = user != NULL ? rec->created_by : NULL;
		break;
	case 'A':
		rec->kind = INVITES_KIND_ACCOUNT;
		rec->username = acct;
		break;
	case 'T':
		if (acct == NULL)
			return efail(r, "%s: a reset token without account_name",
			             w->label);
		rec->kind = INVITES_KIND_RESET;
		rec->username = acct;
		break;
	default:
		return efail(r, "%s: unknown type '%s' (R, A, S or T)",
		             w->label, type);
	}
	if (invitee != NULL) {
		rec->uses = 1;
		rec->used_by = invitee;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Tab-separated dump                                                  */
/* ------------------------------------------------------------------ */

/* Split line at tabs into at most max fields (in place). */
static size_t
split_tabs(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;

	for (;;) {
		if (n < max)
			f[n] = p;
		n++;
		p = strchr(p, '\t');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	return n;
}

static void
chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

static int
read_tsv(struct ereader *r, const char *path)
{
	char *line = NULL, *f[32];
	int map[32];
	size_t cap = 0, nf, nh = 0, i, lineno = 0;
	ssize_t len;
	struct row w;
	FILE *fp;
	int rc = 0, j, seen[N_COLS];

	fp = fopen(path, "r");
	if (fp == NULL)
		return efail(r, "%s: %s", path, strerror(errno));
	memset(seen, 0, sizeof(seen));
	while (rc == 0 && (len = getline(&line, &cap, fp)) >= 0) {
		lineno++;
		if (len > MAX_LINE) {
			rc = efail(r, "%s: line %zu is too long", path, lineno);
			break;
		}
		chomp(line);
		if (line[0] == '\0')
			continue;
		nf = split_tabs(line, f, 32);
		if (nf > 32) {
			rc = efail(r, "%s: line %zu has more than 32 fields",
			           path, lineno);
			break;
		}
		if (nh == 0) {
			/* the header names the columns, in any order */
			for (i = 0; i < nf; i++) {
				map[i] = -1;
				for (j = 0; j < N_COLS; j++)
					if (strcmp(f[i], col_names[j]) == 0)
						map[i] = j, seen[j] = 1;
			}
			nh = nf;
			if (!seen[C_TOKEN] || !seen[C_TYPE] || !seen[C_CREATED] ||
			    !seen[C_EXPIRES] || !seen[C_USERNAME] ||
			    !seen[C_INVITEE] || !seen[C_ACCOUNT]) {
				rc = efail(r, "%s: line 1 is not a header of "
				           "invite_token columns (token, username, "
				           "[server_host,] invitee, created_at, "
				           "expires, type, account_name)", path);
			}
			continue;
		}
		if (nf != nh) {
			rc = efail(r, "%s: line %zu has %zu fields, the header "
			           "%zu", path, lineno, nf, nh);
			break;
		}
		memset(&w, 0, sizeof(w));
		w.label = imp_batch_printf(r->b, "%s: line %zu", path, lineno);
		for (i = 0; i < nf; i++) {
			if (map[i] < 0)
				continue;
			w.v[map[i]] = imp_batch_str(r->b, f[i]);
			if (w.v[map[i]] == NULL)
				rc = efail(r, "out of memory");
		}
		if (rc == 0 && w.label == NULL)
			rc = efail(r, "out of memory");
		if (rc == 0)
			rc = add_row(r, &w);
	}
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	if (rc == 0 && ferror(fp))
		rc = efail(r, "%s: read error", path);
	if (rc == 0 && nh == 0)
		rc = efail(r, "%s: empty (expected a header line)", path);
	fclose(fp);
	return rc;
}

/* ------------------------------------------------------------------ */
/* SQLite                                                              */
/* ------------------------------------------------------------------ */

#ifdef HAVE_SQLITE

static int
read_sqlite(struct ereader *r, const char *path)
{
	sqlite3_stmt *s = NULL;
	sqlite3 *db = NULL;
	char q[512];
	struct row w;
	int has_host = 0, rc = 0, step, j;
	size_t n = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = efail(r, "%s: %s", path, db ? sqlite3_errmsg(db)
		                                 : "cannot open");
		sqlite3_close(db);
		return rc;
	}
	if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info("
	                       "'invite_token')", -1, &s, NULL) != SQLITE_OK) {
		rc = efail(r, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(s, 0);

		n++;
		if (name && strcmp((const char *)name, "server_host") == 0)
			has_host = 1;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (n == 0) {
		rc = efail(r, "%s: no table invite_token (ejabberd's "
		           "mod_invites with SQL storage)", path);
		goto out;
	}
	snprintf(q, sizeof(q),
	         "SELECT token, username, %s, invitee, CAST(created_at AS "
	         "TEXT), CAST(expires AS TEXT), type, account_name, rowid "
	         "FROM invite_token ORDER BY rowid",
	         has_host ? "server_host" : "NULL");
	if (sqlite3_prepare_v2(db, q, -1, &s, NULL) != SQLITE_OK) {
		rc = efail(r, "%s: table invite_token is not ejabberd's: %s",
		           path, sqlite3_errmsg(db));
		goto out;
	}
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&w, 0, sizeof(w));
		w.label = imp_batch_printf(r->b, "%s: invite_token row %lld",
		                           path,
		                           (long long)sqlite3_column_int64(s, 8));
		for (j = 0; j < N_COLS; j++) {
			const unsigned char *v = sqlite3_column_text(s, j);

			w.v[j] = v ? imp_batch_str(r->b, (const char *)v) : NULL;
			if (v != NULL && w.v[j] == NULL)
				rc = efail(r, "out of memory");
		}
		if (rc == 0 && w.label == NULL)
			rc = efail(r, "out of memory");
		if (rc == 0)
			rc = add_row(r, &w);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = efail(r, "%s: %s", path, sqlite3_errmsg(db));
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}

#endif /* HAVE_SQLITE */

int
imp_ejabberd_read(const char *path, const char *domain, int contact_register,
                  struct imp_batch *b, char *err, size_t errsz)
{
	struct ereader r;

	memset(&r, 0, sizeof(r));
	r.b = b;
	r.domain = domain;
	r.contact_register = contact_register;
	r.err = err;
	r.errsz = errsz;
	if (strstr(path, "://") != NULL)
		return efail(&r, "%s: only an SQLite database or a "
		             "tab-separated dump of invite_token is read", path);
	if (imp_is_sqlite(path)) {
#ifdef HAVE_SQLITE
		return read_sqlite(&r, path);
#else
		return efail(&r, "%s: this invitectl was built without SQLite "
		             "(libsqlite3-dev); give a tab-separated dump", path);
#endif
	}
	return read_tsv(&r, path);
}
