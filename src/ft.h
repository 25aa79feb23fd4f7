/* SPDX-License-Identifier: MIT */
/*
 * Fault tolerance inside libinvites (issue 8): the process-wide hang
 * handler (ft.c), the hooks the Berkeley DB backend offers to the backup
 * and verification code (store_bdb.c), and that code (store_bdb_ft.c).
 * Not installed.
 */
#ifndef INVITES_FT_H
#define INVITES_FT_H

#include "internal.h"

struct inv__backend;
struct __db_env;

/* 1 when the process set a hang handler (stores then get a watchdog). */
int inv__hang_handler_set(void);
/* Hand msg (one line) to the hang handler, if any. */
void inv__hang_notify(const char *msg);

/* ---- store_bdb.c, for store_bdb_ft.c ---- */

/* The backend's environment, or NULL once it has failed. */
struct __db_env *inv__bdb_env(struct inv__backend *be);
/* The store directory. */
const char *inv__bdb_path(const struct inv__backend *be);
/* Watch a long call (see "Hung calls" in store_bdb.c): enter returns the
 * slot to hand back to leave. */
int inv__bdb_busy_enter(struct inv__backend *be);
void inv__bdb_busy_leave(struct inv__backend *be, int slot);
/* A call that may write the log: see "The writers' gate"; its file. */
#define INV__BDB_GATE_FILE "invites.gate"
void inv__bdb_write_enter(struct inv__backend *be);
void inv__bdb_write_leave(struct inv__backend *be);
/* Map a Berkeley DB code to INVITES_E*, failing the backend on
 * DB_RUNRECOVERY; what names the step in the log line. */
int inv__bdb_error(struct inv__backend *be, int ret, const char *what);
/* Write the store's DB_CONFIG into dir (a backup); 0 or INVITES_E*. */
int inv__bdb_write_config(const char *dir);
/* 1 when name is a database file of the store ("invites.db", ...). */
int inv__bdb_is_db_file(const char *name);
/* 1 when the process registry of the store in dir names a process that
 * is gone; never drops this process's own registry locks. */
int inv__bdb_registry_dead(const char *dir);
/* Why a daemon's watchdog ran failchk (see failchk_due), and how often
 * the watchdogs of this process did, by reason. */
enum {
	INV__FC_FIRST,       /* its first pass */
	INV__FC_DIED,        /* a registered process died */
	INV__FC_UNREADABLE,  /* the registry cannot be read */
	INV__FC_SLOW,        /* a call of this process is slow */
	INV__FC_PERIODIC,    /* none of those for a while */
	INV__FC_NREASONS
};
void inv__bdb_failchk_runs(unsigned long out[INV__FC_NREASONS]);

/* ---- store_bdb_ft.c ---- */

int inv__bdb_backup(struct inv__backend *be, const char *dir,
                    invites_verify_fn *fn, void *ctx);
int inv__bdb_verify(const char *dir, const char *tmpdir,
                    invites_verify_fn *fn, void *ctx);

#endif /* INVITES_FT_H */
