/* SPDX-License-Identifier: MIT */
/*
 * Private declarations shared by the modules of invitectl, the admin
 * console command: the option parser (opts.c), the JSON writer (json.c),
 * output helpers (output.c), the subcommands (commands.c) and the
 * process-wide plumbing in main.c (configuration, store open with
 * signals blocked and a hard timeout, error reporting).
 *
 * invitectl uses the public libinvites API only.
 */
#ifndef INVITECTL_CLI_H
#define INVITECTL_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <invites/invites.h>

/* Exit codes of our own (sysexits(3)); the rest come from the library. */
#define CLI_EX_OK       0
#define CLI_EX_USAGE    64
#define CLI_EX_SOFTWARE 70
#define CLI_EX_IOERR    74
#define CLI_EX_TEMPFAIL 75
#define CLI_EX_CONFIG   78

/* ---- option parsing (opts.c) ---- */

#define CLI_OPT_ARG    0x1u /* takes a value */
#define CLI_OPT_REPEAT 0x2u /* may be given several times */

struct cli_optdef {
	const char *name;   /* long name without "--" */
	char short_name;    /* 0 for none */
	unsigned flags;     /* CLI_OPT_* */
	int id;             /* returned in cli_optval.id */
};

struct cli_optval {
	int id;
	const char *value;  /* NULL for flags */
};

#define CLI_MAX_ARGS 64

struct cli_args {
	struct cli_optval opts[CLI_MAX_ARGS];
	size_t n_opts;
	const char *pos[CLI_MAX_ARGS];
	size_t n_pos;
};

/*
 * Parse argv[0..argc-1] against defs (terminated by a NULL name).  Stops
 * at the first positional argument when stop_at_pos is set (global
 * options before the subcommand); *next_r is then the index of that
 * argument.  On a usage error, returns -1 and writes a one-line message
 * (no newline) into err.
 */
int cli_opts_parse(int argc, char **argv, const struct cli_optdef *defs,
                   int stop_at_pos, struct cli_args *a, int *next_r,
                   char *err, size_t errsz);
/* The last value of option id, or NULL when absent. */
const char *cli_opt_get(const struct cli_args *a, int id);
/* 1 when option id was given. */
int cli_opt_has(const struct cli_args *a, int id);

/* ---- JSON writer (json.c) ---- */

#define CLI_JSON_DEPTH 16

struct cli_json {
	FILE *f;
	int depth;
	int need_comma[CLI_JSON_DEPTH];
	int after_key;
};

void cli_json_init(struct cli_json *j, FILE *f);
void cli_json_begin_object(struct cli_json *j);
void cli_json_end_object(struct cli_json *j);
void cli_json_begin_array(struct cli_json *j);
void cli_json_end_array(struct cli_json *j);
void cli_json_key(struct cli_json *j, const char *key);
/* A string (escaped; invalid UTF-8 becomes U+FFFD), or null for NULL. */
void cli_json_string(struct cli_json *j, const char *s);
void cli_json_int(struct cli_json *j, int64_t v);
void cli_json_uint(struct cli_json *j, uint64_t v);
void cli_json_bool(struct cli_json *j, int v);
void cli_json_null(struct cli_json *j);
/* Write s as a JSON string literal to f. */
void cli_json_escape(FILE *f, const char *s);
/* Start a new line between array elements (cosmetic). */
void cli_json_newline(struct cli_json *j);

/* ---- output helpers (output.c) ---- */

/* "2024-05-01T12:00:00Z" into buf (at least 32 bytes); "-" for 0. */
const char *cli_fmt_time(int64_t t, char *buf, size_t n);
/* "pending", "expired", "used", "revoked". */
const char *cli_invite_state(const struct invites_invite *inv, int64_t now);
/* "account", "contact", "contact+register", "reset". */
const char *cli_invite_kind_label(const struct invites_invite *inv);

/* A key/value pair and a time as ISO 8601 plus Unix seconds. */
void cli_json_time(struct cli_json *j, const char *key, int64_t t);
/*
 * Write the fields of inv into an open JSON object, "id" first unless
 * with_id is 0 (no token or link: callers add those).
 */
void cli_json_invite_fields(struct cli_json *j,
                            const struct invites_invite *inv, int64_t now,
                            int with_id);
/* The human-readable "key: value" form of an invite. */
void cli_print_invite(FILE *f, const struct invites_invite *inv, int64_t now);

/*
 * A text table: rows are buffered (up to a limit) so that column widths
 * fit the data, then streamed.
 */
#define CLI_TABLE_MAXCOLS 10
struct cli_table {
	FILE *f;
	size_t ncols;
	const char *head[CLI_TABLE_MAXCOLS];
	size_t width[CLI_TABLE_MAXCOLS];
	char **rows;      /* buffered rows: ncols strings each */
	size_t nrows;
	size_t cap;
	int flushed;
	int oom;
};
void cli_table_init(struct cli_table *t, FILE *f, size_t ncols,
                    const char *const *head);
/* Add a row of t->ncols strings (NULL prints as "-").  0 or -1 (ENOMEM). */
int cli_table_row(struct cli_table *t, const char *const *cells);
/* Print whatever is buffered; free everything. */
void cli_table_finish(struct cli_table *t);

/* ---- the run-time context (main.c) ---- */

struct cli {
	const char *cmd;              /* subcommand name, for messages */
	const char *config_path;      /* from --config, env or default */
	struct invites_config *cfg;
	struct invites_store *st;
	int64_t now;                  /* INVITES_FAKE_NOW or time(NULL) */
	FILE *out;                    /* buffered output (memory) */
	char *outbuf;
	size_t outlen;
	int store_open;
	int may_retry;                /* an ERECOVER may be retried once */
	int retry;                    /* set by cli_fail on such an ERECOVER */
};

/* Print "invitectl: CMD: <message>" to stderr (one line). */
void cli_error(const struct cli *c, const char *fmt, ...) INVITES_PRINTF(2, 3);
/*
 * A library error: print "invitectl: WHAT: <strerror>" and return the exit
 * code.  INVITES_ERECOVER (another process recovered the store under us)
 * is not printed the first time: main reopens the store and runs the
 * command again.
 */
int cli_fail(const struct cli *c, const char *what, int err);
/* A usage error: print the message plus a hint to --help, return 64. */
int cli_usage(const struct cli *c, const char *fmt, ...) INVITES_PRINTF(2, 3);

/* Load the configuration (once); returns an exit code (0 when loaded). */
int cli_load_config(struct cli *c);
/*
 * Open the store with signals blocked and the open timeout armed; returns
 * an exit code (0 when open).
 */
int cli_open_store(struct cli *c, unsigned flags);
/* --expires DURATION, in seconds; 0 when S is NULL, a usage error when it
 * is not a positive duration.  It becomes a time only once the store is
 * open (cli_open_store sets c->now then). */
int cli_parse_expires(const struct cli *c, const char *s, int64_t *secs_r);
/* Close the store (main restores the signal mask after the output). */
void cli_close_store(struct cli *c);
/* The actor recorded for changes: "invitectl:" + login name. */
const char *cli_actor(void);

/* ---- subcommands (commands.c) ---- */

struct cli_command {
	const char *name;
	const char *summary;
	const char *usage;   /* the full --help text */
	const struct cli_optdef *opts;
	int (*run)(struct cli *c, const struct cli_args *a);
};

extern const struct cli_command cli_commands[];
/* `api-key` (apikey.c) */
extern const struct cli_optdef cli_apikey_opts[];
extern const char cli_apikey_usage[];
int cli_cmd_apikey(struct cli *c, const struct cli_args *a);
/* `import`, `tree`, `check`, `stats --by-inviter` (import.c, tree.c, check.c) */
extern const struct cli_optdef cli_import_opts[], cli_tree_opts[], cli_check_opts[];
extern const char cli_import_usage[], cli_tree_usage[], cli_check_usage[];
int cli_cmd_import(struct cli *c, const struct cli_args *a);
int cli_cmd_tree(struct cli *c, const struct cli_args *a);
int cli_cmd_check(struct cli *c, const struct cli_args *a);
#define CLI_O_BY_INVITER (CLI_O_FIRST_CMD + 500)
int cli_stats_by_inviter(struct cli *c, const struct cli_args *a);
/* `backup`, `verify`, and the store's hang handler (backup.c) */
extern const struct cli_optdef cli_backup_opts[], cli_verify_opts[];
extern const char cli_backup_usage[], cli_verify_usage[];
int cli_cmd_backup(struct cli *c, const struct cli_args *a);
int cli_cmd_verify(struct cli *c, const struct cli_args *a);
void cli_hang_handler(void *ctx, const char *msg);
/* `db init|migrate`, `store copy FROM TO` (db.c) */
extern const struct cli_optdef cli_db_opts[], cli_storecmd_opts[];
extern const char cli_db_usage[], cli_storecmd_usage[];
int cli_cmd_db(struct cli *c, const struct cli_args *a);
int cli_cmd_store(struct cli *c, const struct cli_args *a);
const struct cli_command *cli_command_find(const char *name);

/* Option ids shared by every subcommand. */
enum {
	CLI_O_HELP = 1,
	CLI_O_CONFIG,
	CLI_O_VERSION,
	CLI_O_JSON,
	CLI_O_VERBOSE,
	CLI_O_FIRST_CMD /* subcommands number theirs from here */
};

#endif /* INVITECTL_CLI_H */
