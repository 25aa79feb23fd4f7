/* SPDX-License-Identifier: MIT */
/*
 * What the import readers share (src/import_readers.h): a batch of
 * records that owns every string it points to (tokens among them, wiped
 * when the batch is freed), notes for the user, and the parsers of the
 * time formats and file types the other servers use.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "import_readers.h"

void
imp_batch_init(struct imp_batch *b)
{
	memset(b, 0, sizeof(*b));
}

void
imp_batch_free(struct imp_batch *b)
{
	size_t i;

	for (i = 0; i < b->n_strs; i++) {
		if (b->strs[i] != NULL) {
			/* tokens live here: wipe every string */
			explicit_bzero(b->strs[i], strlen(b->strs[i]));
			free(b->strs[i]);
		}
	}
	free(b->strs);
	for (i = 0; i < b->n_arrays; i++)
		free(b->arrays[i]);
	free(b->arrays);
	free(b->recs);
	free(b->notes);
	memset(b, 0, sizeof(*b));
}

struct invites_import_record *
imp_batch_add(struct imp_batch *b)
{
	struct invites_import_record *r;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;

		r = realloc(b->recs, cap * sizeof(*r));
		if (r == NULL)
			return NULL;
		b->recs = r;
		b->cap = cap;
	}
	r = &b->recs[b->n++];
	memset(r, 0, sizeof(*r));
	return r;
}

/* Take ownership of p (freed with the batch). */
static void *
keep(struct imp_batch *b, void *p)
{
	if (p == NULL)
		return NULL;
	if (b->n_strs == b->cap_strs) {
		size_t cap = b->cap_strs ? b->cap_strs * 2 : 64;
		char **v = realloc(b->strs, cap * sizeof(*v));

		if (v == NULL) {
			free(p);
			return NULL;
		}
		b->strs = v;
		b->cap_strs = cap;
	}
	b->strs[b->n_strs++] = p;
	return p;
}

const char *
imp_batch_strn(struct imp_batch *b, const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return keep(b, p);
}

const char *
imp_batch_str(struct imp_batch *b, const char *s)
{
	return s == NULL ? NULL : imp_batch_strn(b, s, strlen(s));
}

const char *
imp_batch_printf(struct imp_batch *b, const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	return keep(b, p);
}

const char **
imp_batch_strv(struct imp_batch *b, size_t n)
{
	const char **v = calloc(n > 0 ? n : 1, sizeof(*v));
	void **a;

	if (v == NULL)
		return NULL;
	if (b->n_arrays == b->cap_arrays) {
		size_t cap = b->cap_arrays ? b->cap_arrays * 2 : 16;

		a = realloc(b->arrays, cap * sizeof(*a));
		if (a == NULL) {
			free(v);
			return NULL;
		}
		b->arrays = a;
		b->cap_arrays = cap;
	}
	b->arrays[b->n_arrays++] = v;
	return v;
}

void
imp_batch_note(struct imp_batch *b, const char *fmt, ...)
{
	char line[512];
	size_t n;
	char *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = strlen(line);
	p = realloc(b->notes, b->notes_len + n + 2);
	if (p == NULL)
		return;
	b->notes = p;
	memcpy(p + b->notes_len, line, n);
	p[b->notes_len + n] = '\n';
	p[b->notes_len + n + 1] = '\0';
	b->notes_len += n + 1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
imp_parse_time(const char *s, int64_t *t_r)
{
	int y, mo, d, h, mi, se;
	const char *p;
	int64_t v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (v > INT64_MAX / 10 - 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (*p == '\0' || (*p == '.' && p > s)) {
		/* Unix seconds (Lua numbers may carry a fraction) */
		if (*p == '.')
			for (p++; *p >= '0' && *p <= '9'; p++)
				;
		if (*p != '\0')
			return -1;
		*t_r = v;
		return 0;
	}
	if (strlen(s) < 19 || digits(s, 4, &y) || s[4] != '-' ||
	    digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
	    (s[10] != ' ' && s[10] != 'T') || digits(s + 11, 2, &h) ||
	    s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
	    digits(s + 17, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	p = s + 19;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z')
		p++;
	else if (strcmp(p, "+00") == 0 || strcmp(p, "+00:00") == 0 ||
	         strcmp(p, "+0000") == 0)
		p += strlen(p);
	if (*p != '\0')
		return -1;
	*t_r = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	return 0;
}

const char *
imp_time_str(int64_t t)
{
	static char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, sizeof(buf), "%lld", (long long)t);
	return buf;
}

int
imp_is_sqlite(const char *path)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return 0;
	n = fread(head, 1, sizeof(head), f);
	fclose(f);
	return n == sizeof(head) && memcmp(head, magic, sizeof(head)) == 0;
}
