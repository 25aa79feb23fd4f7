/* SPDX-License-Identifier: MIT */
/*
 * invitectl backup and verify (issue 8), and invitectl's hang handler.
 *
 * backup DIR takes a hot copy of the invite store while the servers run
 * (invites_store_backup: checkpoint, page-consistent copy of the database
 * files, then the logs; the copy recovered alone and verified).  verify
 * checks every database file without joining a store that might hang:
 * a running store through a backup into a temporary directory, a backup
 * or a store that cannot be opened through a copy of its files
 * (invites_store_verify).  Both print one line per database file.
 *
 * The hang handler: invitectl blocks SIGINT and friends while the store
 * is open, so a call blocked behind a process that died inside Berkeley
 * DB could only be ended by SIGKILL.  The library's watchdog calls this
 * handler instead; it says so on stderr and leaves with EX_TEMPFAIL.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CLI_EX_CANTCREAT 73

enum {
	O_DIR = CLI_O_FIRST_CMD + 600,
	O_TMPDIR
};

const struct cli_optdef cli_backup_opts[] = {
	{ "help", 'h', 0, CLI_O_HELP },
	{ "config", 'c', CLI_OPT_ARG, CLI_O_CONFIG },
	{ "verbose", 'v', 0, CLI_O_VERBOSE },
	{ "json", 0, 0, CLI_O_JSON },
	{ NULL, 0, 0, 0 }
};

const struct cli_optdef cli_verify_opts[] = {
	{ "help", 'h', 0, CLI_O_HELP },
	{ "config", 'c', CLI_OPT_ARG, CLI_O_CONFIG },
	{ "verbose", 'v', 0, CLI_O_VERBOSE },
	{ "json", 0, 0, CLI_O_JSON },
	{ "dir", 0, CLI_OPT_ARG, O_DIR },
	{ "tmpdir", 0, CLI_OPT_ARG, O_TMPDIR },
	{ NULL, 0, 0, 0 }
};

const char cli_backup_usage[] =
"Usage: invitectl backup DIR [--json]\n"
"\n"
"Copy the invite store into DIR, a new or empty directory, while the\n"
"servers keep running: a checkpoint, a page-consistent copy of every\n"
"database file, then the transaction logs.  The copy is then recovered\n"
"on its own and every database file in it verified; one line per file.\n"
"DIR is then a complete store.  To restore it: stop every process that\n"
"uses the store (c2s, sm, invites-web), move the store directory aside,\n"
"put a copy of DIR in its place with the same owner, and start them\n"
"again (docs/fault-tolerance.md).\n"
"\n"
"Options:\n"
"  --json                  print a JSON object\n"
"  -c, --config FILE       the configuration file\n"
"  -v, --verbose           print the library's log lines on stderr\n"
"  -h, --help              show this help\n"
"\n"
"Exit status: 0 the backup is complete and verified; 64 usage; 66 no\n"
"store; 73 DIR is not empty or cannot be created; 74 the copy failed\n"
"verification, or an I/O error or no space; 75 busy (try again); 77\n"
"permission denied.\n";

const char cli_verify_usage[] =
"Usage: invitectl verify [--dir DIR] [--tmpdir TMP] [--json]\n"
"\n"
"Check every database file of the invite store with Berkeley DB's\n"
"verifier, without ever joining an environment that could hang: the\n"
"running store is backed up into a temporary directory under TMP,\n"
"recovered and verified there, and the copy removed.  A store that\n"
"cannot be opened (damaged) is checked on a copy of its files instead.\n"
"With --dir, the backup (or the stopped store) in DIR is checked, on a\n"
"copy; DIR itself is never changed.\n"
"\n"
"Prints one line per file: \"ok FILE\" or \"DAMAGED FILE: detail\".\n"
"\n"
"Options:\n"
"  --dir DIR               check the store or backup in DIR instead\n"
"  --tmpdir TMP            where the temporary copy goes (default:\n"
"                          $TMPDIR, else /tmp); it needs room for the store\n"
"  --json                  print a JSON object\n"
"  -c, --config FILE       the configuration file\n"
"  -v, --verbose           print the library's log lines on stderr\n"
"  -h, --help              show this help\n"
"\n"
"Exit status: 0 every file passes; 64 usage; 66 no store; 74 a file is\n"
"damaged (restore the last backup), or an I/O error or no space; 75 busy\n"
"or timed out opening; 77 permission denied.\n";

/* ---- the hang handler ---- */

void
cli_hang_handler(void *ctx, const char *msg)
{
	static const char line[] =
		"invitectl: the invite store is blocked by a process that died "
		"inside it; giving up (the command may or may not have taken "
		"effect; run it again)\n";

	(void)ctx;
	(void)msg;
	if (write(STDERR_FILENO, line, sizeof(line) - 1) < 0) {
		/* leaving anyway */
	}
	_exit(CLI_EX_TEMPFAIL);
}

/* ---- the per-file report ---- */

#define MAX_FILES 32

struct report {
	struct {
		char file[64];
		int err;
		char detail[256];
	} f[MAX_FILES];
	size_t n;
	int damaged;
};

static void
on_file(void *ctx, const char *file, int err, const char *detail)
{
	struct report *r = ctx;

	if (err != 0)
		r->damaged++;
	if (r->n == MAX_FILES)
		return;
	snprintf(r->f[r->n].file, sizeof(r->f[r->n].file), "%s", file);
	r->f[r->n].err = err;
	snprintf(r->f[r->n].detail, sizeof(r->f[r->n].detail), "%s",
	         detail != NULL ? detail : "");
	r->n++;
}

static int
cmp_file(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void
print_report(struct cli *c, const struct cli_args *a, struct report *r,
             const char *what, const char *dir, int rc)
{
	FILE *f = rc == 0 ? c->out : stderr;
	size_t i;

	qsort(r->f, r->n, sizeof(r->f[0]), cmp_file);
	/* (buffered output reaches stdout only on success: a failure's
	 * lines go to stderr, as plain text) */
	if (rc == 0 && cli_opt_has(a, CLI_O_JSON)) {
		struct cli_json j;

		cli_json_init(&j, c->out);
		cli_json_begin_object(&j);
		cli_json_key(&j, what);
		cli_json_string(&j, dir);
		cli_json_key(&j, "ok");
		cli_json_bool(&j, rc == 0);
		cli_json_key(&j, "error");
		if (rc == 0)
			cli_json_null(&j);
		else
			cli_json_string(&j, invites_err_name(rc));
		cli_json_key(&j, "files");
		cli_json_begin_array(&j);
		for (i = 0; i < r->n; i++) {
			cli_json_begin_object(&j);
			cli_json_key(&j, "file");
			cli_json_string(&j, r->f[i].file);
			cli_json_key(&j, "ok");
			cli_json_bool(&j, r->f[i].err == 0);
			cli_json_key(&j, "detail");
			if (r->f[i].err == 0)
				cli_json_null(&j);
			else
				cli_json_string(&j, r->f[i].detail);
			cli_json_end_object(&j);
		}
		cli_json_end_array(&j);
		cli_json_end_object(&j);
		return;
	}
	for (i = 0; i < r->n; i++) {
		if (r->f[i].err == 0)
			fprintf(f, "ok %s\n", r->f[i].file);
		else
			fprintf(f, "DAMAGED %s: %s\n", r->f[i].file,
			        r->f[i].detail);
	}
}

/* ---- backup ---- */

int
cli_cmd_backup(struct cli *c, const struct cli_args *a)
{
	struct report r;
	const char *dir;
	int rc;

	if (a->n_pos != 1)
		return cli_usage(c, "backup takes one DIR");
	dir = a->pos[0];
	if (dir[0] == '\0')
		return cli_usage(c, "the backup directory name is empty");
	if ((rc = cli_load_config(c)) != 0 || (rc = cli_open_store(c, 0)) != 0)
		return rc;
	memset(&r, 0, sizeof(r));
	rc = invites_store_backup(c->st, dir, on_file, &r);
	if (rc == INVITES_ERECOVER && c->may_retry)
		return cli_fail(c, "", rc); /* main runs it again, reopened */
	if (rc == INVITES_EEXIST) {
		cli_error(c, "%s: not empty; a backup goes into a new or empty "
		          "directory", dir);
		return CLI_EX_CANTCREAT;
	}
	if (rc == INVITES_ENOSTORE) {
		cli_error(c, "%s: cannot create it (its parent is missing)", dir);
		return CLI_EX_CANTCREAT;
	}
	if (rc == INVITES_EINVAL) {
		cli_error(c, "%s: inside the store directory; choose one "
		          "elsewhere", dir);
		return CLI_EX_CANTCREAT;
	}
	print_report(c, a, &r, "backup", dir, rc);
	if (rc != 0)
		return cli_fail(c, dir, rc);
	if (!cli_opt_has(a, CLI_O_JSON))
		fprintf(c->out, "backup complete and verified: %s\n", dir);
	return 0;
}

/* ---- verify ---- */

/* Remove a temporary backup (store files only) and its directory. */
static void
remove_tmp_backup(const char *dir)
{
	struct dirent *de;
	char path[4096];
	DIR *d;

	d = opendir(dir);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
			                     de->d_name) < sizeof(path))
				(void)unlink(path);
		}
		closedir(d);
	}
	(void)rmdir(dir);
}

static const char *
tmp_root(const struct cli_args *a)
{
	const char *t = cli_opt_get(a, O_TMPDIR);

	if (t == NULL || t[0] == '\0')
		t = getenv("TMPDIR");
	if (t == NULL || t[0] == '\0')
		t = "/tmp";
	return t;
}

int
cli_cmd_verify(struct cli *c, const struct cli_args *a)
{
	struct report r;
	const char *dir = cli_opt_get(a, O_DIR), *store;
	char tmp[4096];
	int rc;

	if (a->n_pos > 0)
		return cli_usage(c, "unexpected argument '%.40s'", a->pos[0]);
	memset(&r, 0, sizeof(r));
	if (dir != NULL) {
		if (dir[0] == '\0')
			return cli_usage(c, "--dir needs a directory");
		rc = invites_store_verify(dir, tmp_root(a), on_file, &r);
		print_report(c, a, &r, "dir", dir, rc);
		return rc == 0 ? 0 : cli_fail(c, dir, rc);
	}
	if ((rc = cli_load_config(c)) != 0)
		return rc;
	store = invites_config_store(c->cfg);
	rc = cli_open_store(c, 0);
	if (rc == 0) {
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s/invites-backup-XXXXXX",
		                     tmp_root(a)) >= sizeof(tmp))
			return cli_usage(c, "--tmpdir is too long");
		if (mkdtemp(tmp) == NULL) {
			cli_error(c, "%s: %s", tmp_root(a), strerror(errno));
			return CLI_EX_CANTCREAT;
		}
		rc = invites_store_backup(c->st, tmp, on_file, &r);
		remove_tmp_backup(tmp);
		if (rc == INVITES_ERECOVER && c->may_retry)
			return cli_fail(c, "", rc);
	} else if (c->st == NULL && store != NULL &&
	           rc == invites_err_exit_code(INVITES_ECORRUPT)) {
		/* it cannot be opened: check its files as they are */
		cli_error(c, "checking a copy of the files in %s instead", store);
		memset(&r, 0, sizeof(r));
		rc = invites_store_verify(store, tmp_root(a), on_file, &r);
	} else {
		return rc;
	}
	print_report(c, a, &r, "store", store != NULL ? store : "", rc);
	return rc == 0 ? 0 : cli_fail(c, store, rc);
}
