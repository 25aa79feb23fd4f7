/* SPDX-License-Identifier: MIT */
/*
 * invitectl's output: times in ISO 8601 UTC, the state and kind labels of
 * an invite, its human and JSON forms, and text tables whose columns fit
 * their contents.  Nothing here ever sees a token: links are printed by
 * the commands that just made them.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

const char *
cli_fmt_time(int64_t t, char *buf, size_t n)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, n, "-");
	return buf;
}

const char *
cli_invite_state(const struct invites_invite *inv, int64_t now)
{
	if ((inv->flags & INVITES_F_REVOKED) || inv->revoked != 0)
		return "revoked";
	if (inv->max_uses > 0 && inv->uses >= inv->max_uses)
		return "used";
	if (now >= inv->expires)
		return "expired";
	return "pending";
}

const char *
cli_invite_kind_label(const struct invites_invite *inv)
{
	if (inv->kind == INVITES_KIND_CONTACT &&
	    (inv->flags & INVITES_F_REGISTER))
		return "contact+register";
	return invites_kind_name(inv->kind);
}

void
cli_json_time(struct cli_json *j, const char *key, int64_t t)
{
	char buf[64], ukey[64];

	cli_json_key(j, key);
	if (t == 0)
		cli_json_null(j);
	else
		cli_json_string(j, cli_fmt_time(t, buf, sizeof(buf)));
	snprintf(ukey, sizeof(ukey), "%s_unix", key);
	cli_json_key(j, ukey);
	if (t == 0)
		cli_json_null(j);
	else
		cli_json_int(j, t);
}

static void
json_strv(struct cli_json *j, const char *key, char *const *v, size_t n)
{
	size_t i;

	cli_json_key(j, key);
	cli_json_begin_array(j);
	for (i = 0; i < n; i++)
		cli_json_string(j, v[i]);
	cli_json_end_array(j);
}

void
cli_json_invite_fields(struct cli_json *j, const struct invites_invite *inv,
                       int64_t now, int with_id)
{
	if (with_id) {
		cli_json_key(j, "id");
		cli_json_string(j, inv->id);
	}
	cli_json_key(j, "kind");
	cli_json_string(j, invites_kind_name(inv->kind));
	cli_json_key(j, "allow_register");
	cli_json_bool(j, inv->kind == INVITES_KIND_CONTACT &&
	              (inv->flags & INVITES_F_REGISTER));
	cli_json_key(j, "domain");
	cli_json_string(j, inv->domain);
	cli_json_key(j, "username");
	cli_json_string(j, inv->username);
	cli_json_key(j, "inviter");
	cli_json_string(j, inv->inviter);
	cli_json_key(j, "created_by");
	cli_json_string(j, inv->created_by);
	json_strv(j, "roles", inv->roles, inv->n_roles);
	json_strv(j, "groups", inv->groups, inv->n_groups);
	cli_json_key(j, "note");
	cli_json_string(j, inv->note);
	cli_json_time(j, "created", inv->created);
	cli_json_time(j, "expires", inv->expires);
	cli_json_time(j, "revoked", inv->revoked);
	cli_json_key(j, "max_uses");
	cli_json_uint(j, inv->max_uses);
	cli_json_key(j, "uses");
	cli_json_uint(j, inv->uses);
	cli_json_key(j, "last_used_by");
	cli_json_string(j, inv->last_used_by);
	cli_json_key(j, "state");
	cli_json_string(j, cli_invite_state(inv, now));
}

/* Print s with control characters replaced, so one field is one line. */
static void
put_clean(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, f);
	}
}

static void
print_field(FILE *f, const char *key, const char *value)
{
	fprintf(f, "%-13s ", key);
	put_clean(f, value != NULL ? value : "-");
	fputc('\n', f);
}

static void
print_strv(FILE *f, const char *key, char *const *v, size_t n)
{
	size_t i;

	fprintf(f, "%-13s ", key);
	if (n == 0)
		fputc('-', f);
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", f);
		put_clean(f, v[i]);
	}
	fputc('\n', f);
}

void
cli_print_invite(FILE *f, const struct invites_invite *inv, int64_t now)
{
	char t[64], uses[48];

	print_field(f, "id:", inv->id);
	print_field(f, "kind:", cli_invite_kind_label(inv));
	print_field(f, "state:", cli_invite_state(inv, now));
	print_field(f, "domain:", inv->domain);
	print_field(f, "username:", inv->username);
	print_field(f, "inviter:", inv->inviter);
	print_field(f, "created by:", inv->created_by);
	print_strv(f, "roles:", inv->roles, inv->n_roles);
	print_strv(f, "groups:", inv->groups, inv->n_groups);
	print_field(f, "note:", inv->note);
	print_field(f, "created:", cli_fmt_time(inv->created, t, sizeof(t)));
	print_field(f, "expires:", cli_fmt_time(inv->expires, t, sizeof(t)));
	if (inv->revoked != 0)
		print_field(f, "revoked:",
		            cli_fmt_time(inv->revoked, t, sizeof(t)));
	snprintf(uses, sizeof(uses), "%" PRIu32 "/%" PRIu32, inv->uses,
	         inv->max_uses);
	print_field(f, "uses:", uses);
	print_field(f, "last used by:", inv->last_used_by);
}

/* ---- tables ---- */

/* Rows buffered to size the columns; later rows are streamed. */
#define TABLE_BUFFER_ROWS 1000

void
cli_table_init(struct cli_table *t, FILE *f, size_t ncols,
               const char *const *head)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	t->f = f;
	t->ncols = ncols < CLI_TABLE_MAXCOLS ? ncols : CLI_TABLE_MAXCOLS;
	for (i = 0; i < t->ncols; i++) {
		t->head[i] = head[i];
		t->width[i] = strlen(head[i]);
	}
}

/* Display width: count UTF-8 lead bytes, not continuation bytes. */
static size_t
text_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	}
	return w;
}

static void
print_row(struct cli_table *t, const char *const *cells)
{
	size_t i, w;

	for (i = 0; i < t->ncols; i++) {
		const char *s = cells[i] != NULL ? cells[i] : "-";

		put_clean(t->f, s);
		if (i + 1 == t->ncols)
			break;
		for (w = text_width(s); w < t->width[i] + 2; w++)
			fputc(' ', t->f);
	}
	fputc('\n', t->f);
}

static void
table_flush(struct cli_table *t)
{
	size_t r;

	print_row(t, t->head);
	for (r = 0; r < t->nrows; r++)
		print_row(t, (const char *const *)&t->rows[r * t->ncols]);
	for (r = 0; r < t->nrows * t->ncols; r++)
		free(t->rows[r]);
	free(t->rows);
	t->rows = NULL;
	t->nrows = t->cap = 0;
	t->flushed = 1;
}

int
cli_table_row(struct cli_table *t, const char *const *cells)
{
	size_t i;

	if (t->oom)
		return -1;
	if (t->flushed) {
		print_row(t, cells);
		return 0;
	}
	if (t->nrows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		char **n = realloc(t->rows, ncap * t->ncols * sizeof(char *));

		if (n == NULL) {
			t->oom = 1;
			return -1;
		}
		t->rows = n;
		t->cap = ncap;
	}
	for (i = 0; i < t->ncols; i++) {
		const char *s = cells[i] != NULL ? cells[i] : "-";
		char *d = strdup(s);
		size_t w;

		if (d == NULL) {
			while (i-- > 0)
				free(t->rows[t->nrows * t->ncols + i]);
			t->oom = 1;
			return -1;
		}
		t->rows[t->nrows * t->ncols + i] = d;
		w = text_width(s);
		if (w > t->width[i])
			t->width[i] = w;
	}
	t->nrows++;
	if (t->nrows >= TABLE_BUFFER_ROWS)
		table_flush(t);
	return 0;
}

void
cli_table_finish(struct cli_table *t)
{
	size_t r;

	if (t->oom) {
		for (r = 0; r < t->nrows * t->ncols; r++)
			free(t->rows[r]);
		free(t->rows);
		t->rows = NULL;
		t->nrows = 0;
		return;
	}
	if (!t->flushed)
		table_flush(t);
}
