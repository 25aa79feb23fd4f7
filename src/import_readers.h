/* SPDX-License-Identifier: MIT */
/*
 * Readers of other servers' invite storage, for `invitectl import`
 * (src/invitectl/import.c).  Each reader fills a batch of
 * struct invites_import_record (include/invites/invites.h) that
 * invites_import() checks and stores in one transaction.  They are built
 * into invitectl only, so that the servers' processes never link Lua or
 * SQLite.
 *
 *   import_prosody.c   Prosody's mod_invites data: the internal file
 *                      storage (Lua data files, evaluated by Lua 5.4 in an
 *                      empty sandbox) or SQL storage in an SQLite file
 *   import_ejabberd.c  ejabberd's invite_token SQL table: an SQLite file,
 *                      or a tab-separated dump with a header line
 */
#ifndef INVITES_IMPORT_READERS_H
#define INVITES_IMPORT_READERS_H

#include <stddef.h>
#include <stdint.h>

#include <invites/invites.h>

/* Records plus every string they point to (owned by the batch). */
struct imp_batch {
	struct invites_import_record *recs;
	size_t n, cap;
	char **strs;            /* strings owned by the batch */
	size_t n_strs, cap_strs;
	void **arrays;          /* pointer arrays owned by the batch */
	size_t n_arrays, cap_arrays;
	size_t ignored;         /* records the reader left out, with a note */
	char *notes;            /* "\n"-separated notes for the user */
	size_t notes_len;
};

void imp_batch_init(struct imp_batch *b);
/* Wipe (tokens are secrets) and free everything. */
void imp_batch_free(struct imp_batch *b);
/* A new zeroed record (NULL when out of memory). */
struct invites_import_record *imp_batch_add(struct imp_batch *b);
/* A copy of s[0..n) owned by the batch (NULL when out of memory). */
const char *imp_batch_strn(struct imp_batch *b, const char *s, size_t n);
const char *imp_batch_str(struct imp_batch *b, const char *s);
const char *imp_batch_printf(struct imp_batch *b, const char *fmt, ...)
	INVITES_PRINTF(2, 3);
/* An array of n pointers owned by the batch. */
const char **imp_batch_strv(struct imp_batch *b, size_t n);
/* Add a note for the user (one line). */
void imp_batch_note(struct imp_batch *b, const char *fmt, ...)
	INVITES_PRINTF(2, 3);

/* Parse "2026-05-01 12:00:00" (UTC; "T" allowed; fraction and a "Z" or
 * "+00:00" suffix ignored) or a number of Unix seconds.  0 or -1. */
int imp_parse_time(const char *s, int64_t *t_r);

/* ISO 8601 UTC of t in a static buffer (labels). */
const char *imp_time_str(int64_t t);

/* 1 when path starts like an SQLite database file. */
int imp_is_sqlite(const char *path);

/*
 * Read Prosody's invites from path: a data directory (every host in it,
 * or only `domain` when not NULL), one host's directory, a host's
 * invite_token.dat, an SQLite database of Prosody's SQL storage, or
 * "sqlite:PATH".  now decides nothing here (invites_import() does); it
 * stands in for the creation time of contact-only invites, which
 * Prosody does not keep.  0, or -1 with a message in err.
 */
int imp_prosody_read(const char *path, const char *domain, int64_t now,
                     struct imp_batch *b, char *err, size_t errsz);

/*
 * Read ejabberd's invite_token rows from path: an SQLite database or a
 * tab-separated dump with a header line naming the columns.  domain is
 * the host for rows without server_host (the old single-host schema);
 * contact_register: roster invites may also register (;ibr=y, which
 * ejabberd decides by its access rules).  0, or -1 with a message.
 */
int imp_ejabberd_read(const char *path, const char *domain,
                      int contact_register, struct imp_batch *b, char *err,
                      size_t errsz);

#endif /* INVITES_IMPORT_READERS_H */
