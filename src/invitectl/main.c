/* SPDX-License-Identifier: MIT */
/*
 * invitectl's entry point and process plumbing: global options, finding
 * the configuration file, dispatching to a subcommand, opening the invite
 * store safely for a short-lived process (SIGINT, SIGTERM, SIGHUP, SIGQUIT
 * and SIGPIPE blocked while it is open, so no signal kills the process
 * inside Berkeley DB; a hard SIGALRM timeout around the open), one-line
 * error reporting with the library's exit codes, and buffered output that
 * reaches stdout only after the store is closed (a slow reader of the
 * output never holds the store open).
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char global_usage[] =
"Usage: invitectl [--config FILE] COMMAND [ARGS...]\n"
"       invitectl COMMAND --help\n"
"       invitectl --help | --version\n"
"\n"
"Manage the invites of xmpp-invites: invite-based account registration\n"
"for XMPP servers.\n"
"\n"
"Commands:\n"
"%s"
"\n"
"Global options (also accepted after the command):\n"
"  -c, --config FILE   the configuration file (default: $INVITES_CONFIG,\n"
"                      else %s)\n"
"  -h, --help          show this help, or a command's help\n"
"  -v, --verbose       print the library's log lines (store warnings,\n"
"                      recovery notices) on stderr\n"
"  -V, --version       show the version\n"
"\n"
"Environment:\n"
"  INVITES_CONFIG        the configuration file when --config is not given\n"
"  INVITES_OPEN_TIMEOUT  seconds to wait for the store to open (default 10;\n"
"                        0: no limit)\n"
"\n"
"Exit status:\n"
"  0   success\n"
"  1   no such invite, or the invite is expired, used, revoked, over a limit\n"
"  64  usage error (unknown command or option, missing or bad argument)\n"
"  65  bad data: malformed JID or token, an id prefix matching several invites\n"
"  66  no invite store at the configured path\n"
"  70  internal error or out of memory\n"
"  74  store I/O error, damaged store, no space, or output could not be written\n"
"  75  temporary failure: store busy, needs recovery, or timed out opening\n"
"  77  permission denied\n"
"  78  configuration error (the message names file and line), or a store\n"
"      written by a newer version\n";

static sigset_t saved_mask;
static int mask_saved;

/* Make a string safe to print on one line (control bytes become '?'). */
static void
put_line(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, f);
	}
}

static void
verror(const struct cli *c, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	fputs("invitectl: ", stderr);
	if (c != NULL && c->cmd != NULL)
		fprintf(stderr, "%s: ", c->cmd);
	put_line(stderr, buf);
	fputc('\n', stderr);
}

void
cli_error(const struct cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(c, fmt, ap);
	va_end(ap);
}

int
cli_fail(const struct cli *c, const char *what, int err)
{
	if (err == INVITES_ERECOVER && c != NULL && c->may_retry) {
		((struct cli *)c)->retry = 1;
		return invites_err_exit_code(err);
	}
	if (what != NULL && what[0] != '\0')
		cli_error(c, "%s: %s", what, invites_strerror(err));
	else
		cli_error(c, "%s", invites_strerror(err));
	return invites_err_exit_code(err);
}

int
cli_usage(const struct cli *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (c != NULL && c->cmd != NULL)
		cli_error(NULL, "%s: %s (see 'invitectl %s --help')", c->cmd,
		          buf, c->cmd);
	else
		cli_error(NULL, "%s (see 'invitectl --help')", buf);
	return CLI_EX_USAGE;
}

int
cli_load_config(struct cli *c)
{
	char *msg = NULL;
	int rc;

	if (c->cfg != NULL)
		return 0;
	rc = invites_config_load(c->config_path, &c->cfg, &msg);
	if (rc != INVITES_OK) {
		if (msg != NULL)
			cli_error(NULL, "%s", msg);
		else
			cli_error(NULL, "%s: %s", c->config_path,
			          invites_strerror(rc));
		invites_free(msg);
		return invites_err_exit_code(rc);
	}
	invites_free(msg);
	return 0;
}

/* ---- store open: signals and the hard timeout ---- */

static unsigned open_timeout = 10;

static void
on_alarm(int sig)
{
	static const char msg[] =
		"invitectl: timed out opening the invite store\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do: we are leaving */
	}
	_exit(CLI_EX_TEMPFAIL);
}

/*
 * Berkeley DB's shared regions are memory-mapped files that grow on
 * demand: on a full file system the first touch of a new page raises
 * SIGBUS (seen with a full tmpfs as the store).  Leave with one clear
 * line instead of a core dump; the next opener recovers the store.
 */
static void
on_bus_error(int sig)
{
	static const char msg[] =
		"invitectl: the invite store's shared memory could not grow: "
		"no space left on device (bus error)\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do: we are leaving */
	}
	_exit(CLI_EX_IOERR);
}

/* The operating system's word for the last store failure the library
 * logged (log_cause below), or NULL. */
static const char *seen_cause;

/*
 * The store did not open: name the cause when a failed recovery hid it
 * (a full or read-only file system reported as "damaged", a read-only
 * one as "permission denied").
 */
static int
fail_open(struct cli *c, int rc)
{
	const char *path = invites_config_store(c->cfg);
	const char *cause = seen_cause;
	struct statvfs vs;

	if (path != NULL && strstr(path, "://") == NULL &&
	    (rc == INVITES_EACCES || rc == INVITES_ECORRUPT) &&
	    statvfs(path, &vs) == 0 && (vs.f_flag & ST_RDONLY))
		cause = "read-only file system";
	if (cause == NULL || rc == INVITES_ENOSPC || rc == INVITES_ENOSTORE ||
	    (rc == INVITES_ERECOVER && c->may_retry))
		return cli_fail(c, path, rc);
	if (strcmp(cause, "no space left on device") == 0) {
		cli_error(c, "%s: %s (it cannot be opened or recovered: %s)",
		          path, invites_strerror(INVITES_ENOSPC), cause);
		return invites_err_exit_code(INVITES_ENOSPC);
	}
	cli_error(c, "%s: %s (%s)", path, invites_strerror(rc), cause);
	return invites_err_exit_code(rc);
}

/* INVITES_OPEN_TIMEOUT: whole seconds, 0 = no limit.  -1 when bad. */
static int
read_open_timeout(void)
{
	const char *s = getenv("INVITES_OPEN_TIMEOUT");
	unsigned long v = 0;
	const char *p;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v > 86400)
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 86400)
		return -1;
	open_timeout = (unsigned)v;
	return 0;
}

static int64_t cli_now(void);

int
cli_open_store(struct cli *c, unsigned flags)
{
	struct sigaction sa, old_alrm;
	sigset_t block;
	int rc;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &block, mask_saved ? NULL : &saved_mask) != 0)
		return cli_fail(c, "blocking signals", INVITES_EINTERNAL);
	mask_saved = 1;

	/* The timeout must fire even if our parent blocked SIGALRM. */
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old_alrm);
	sa.sa_handler = on_bus_error;
	sigaction(SIGBUS, &sa, NULL);
	alarm(open_timeout);

	rc = invites_store_open(c->cfg, flags, &c->st);

	alarm(0);
	sigaction(SIGALRM, &old_alrm, NULL);
	if (rc != INVITES_OK) {
		c->st = NULL;
		sigprocmask(SIG_SETMASK, &saved_mask, NULL);
		mask_saved = 0;
		return fail_open(c, rc);
	}
	c->store_open = 1;
	/* expiry times are reckoned from here: an open that waited (for a
	 * recovery, say) must not eat into a short --expires */
	c->now = cli_now();
	return 0;
}

void
cli_close_store(struct cli *c)
{
	if (c->store_open) {
		invites_store_close(&c->st);
		c->store_open = 0;
	}
}

/*
 * Restore the signal mask.  Signals that came while the store was open
 * are delivered here: after the close, and after the output is written,
 * so an interrupted generate still prints the link of the invite it made.
 */
static void
restore_signals(void)
{
	if (mask_saved) {
		sigprocmask(SIG_SETMASK, &saved_mask, NULL);
		mask_saved = 0;
	}
}

const char *
cli_actor(void)
{
	static char actor[300];
	const char *name = NULL;
	struct passwd *pw;

	if (actor[0] != '\0')
		return actor;
	name = getlogin();
	if (name == NULL || name[0] == '\0') {
		pw = getpwuid(getuid());
		if (pw != NULL)
			name = pw->pw_name;
	}
	if (name != NULL && name[0] != '\0')
		snprintf(actor, sizeof(actor), "invitectl:%s", name);
	else
		snprintf(actor, sizeof(actor), "invitectl:uid=%lu",
		         (unsigned long)getuid());
	return actor;
}

/* INVITES_FAKE_NOW (Unix seconds) overrides the clock, as in the library. */
static int64_t
cli_now(void)
{
	const char *s = getenv("INVITES_FAKE_NOW");
	char *end;
	long long v;

	if (s != NULL && s[0] != '\0') {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0' && v >= 0)
			return (int64_t)v;
	}
	return (int64_t)time(NULL);
}

/*
 * The library's log: on stderr with --verbose; always, the cause of a
 * store failure as the operating system named it, for fail_open.
 */
static void log_to_stderr(void *ctx, int level, const char *msg);

static void
log_cause(void *ctx, int level, const char *msg)
{
	if (level == INVITES_LOG_ERR) {
		if (strstr(msg, "No space left on device") != NULL)
			seen_cause = "no space left on device";
		else if (strstr(msg, "Read-only file system") != NULL)
			seen_cause = "read-only file system";
		else if (strstr(msg, "Permission denied") != NULL)
			seen_cause = "permission denied";
	}
	if (ctx != NULL)
		log_to_stderr(NULL, level, msg);
}

/* ---- help ---- */

static void
print_global_usage(FILE *f)
{
	char list[2048];
	size_t o = 0;
	const struct cli_command *cmd;

	list[0] = '\0';
	for (cmd = cli_commands; cmd->name != NULL; cmd++) {
		int n = snprintf(list + o, sizeof(list) - o, "  %-10s %s\n",
		                 cmd->name, cmd->summary);

		if (n < 0 || (size_t)n >= sizeof(list) - o)
			break;
		o += (size_t)n;
	}
	fprintf(f, global_usage, list, SYSCONFDIR "/invites.conf");
}

static const struct cli_optdef global_opts[] = {
	{ "help", 'h', 0, CLI_O_HELP },
	{ "version", 'V', 0, CLI_O_VERSION },
	{ "config", 'c', CLI_OPT_ARG, CLI_O_CONFIG },
	{ "verbose", 'v', 0, CLI_O_VERBOSE },
	{ NULL, 0, 0, 0 }
};

static void
log_to_stderr(void *ctx, int level, const char *msg)
{
	static const char *const names[] = {
		"error", "warning", "notice", "info", "debug"
	};
	const char *name = level >= INVITES_LOG_ERR &&
	                   level <= INVITES_LOG_DEBUG ?
	                   names[level - INVITES_LOG_ERR] : "log";

	(void)ctx;
	fprintf(stderr, "invitectl: libinvites %s: ", name);
	put_line(stderr, msg);
	fputc('\n', stderr);
}

/* Write the buffered output to stdout; an exit code. */
static int
flush_output(struct cli *c, int rc)
{
	if (c->out == NULL)
		return rc;
	if (fclose(c->out) != 0 && rc == 0) {
		cli_error(c, "buffering output: %s", strerror(errno));
		rc = CLI_EX_SOFTWARE;
	}
	c->out = NULL;
	if (rc == 0 && c->outlen > 0 &&
	    fwrite(c->outbuf, 1, c->outlen, stdout) != c->outlen)
		rc = -1;
	/* It may hold a link, that is a token. */
	if (c->outbuf != NULL)
		explicit_bzero(c->outbuf, c->outlen);
	free(c->outbuf);
	c->outbuf = NULL;
	if (fflush(stdout) != 0 || ferror(stdout))
		rc = -1;
	if (rc == -1) {
		/* A reader that went away (| head) is not worth a message;
		 * the pending SIGPIPE ends us when signals are restored. */
		if (errno != EPIPE)
			cli_error(NULL, "writing output: %s", strerror(errno));
		rc = CLI_EX_IOERR;
	}
	return rc;
}

int
main(int argc, char **argv)
{
	static struct cli_args g, a;
	struct cli c;
	const struct cli_command *cmd;
	const char *cfg;
	char err[256];
	int next = 0, rc;

	memset(&c, 0, sizeof(c));
	if (argc < 1)
		return CLI_EX_USAGE;
	if (cli_opts_parse(argc - 1, argv + 1, global_opts, 1, &g, &next,
	                   err, sizeof(err)) < 0)
		return cli_usage(NULL, "%s", err);
	next += 1;
	if (cli_opt_has(&g, CLI_O_VERSION)) {
		printf("invitectl (%s) %s\nlibinvites %s\n", PACKAGE_NAME,
		       PACKAGE_VERSION, invites_version());
		return fflush(stdout) == 0 ? 0 : CLI_EX_IOERR;
	}
	if (next >= argc) {
		if (cli_opt_has(&g, CLI_O_HELP)) {
			print_global_usage(stdout);
			return fflush(stdout) == 0 ? 0 : CLI_EX_IOERR;
		}
		return cli_usage(NULL, "no command given");
	}
	if (strcmp(argv[next], "help") == 0) {
		if (next + 1 >= argc) {
			print_global_usage(stdout);
			return fflush(stdout) == 0 ? 0 : CLI_EX_IOERR;
		}
		cmd = cli_command_find(argv[next + 1]);
		if (cmd == NULL || next + 2 < argc)
			return cli_usage(NULL, "no such command '%.40s'",
			                 argv[next + 1]);
		fputs(cmd->usage, stdout);
		return fflush(stdout) == 0 ? 0 : CLI_EX_IOERR;
	}
	cmd = cli_command_find(argv[next]);
	if (cmd == NULL)
		return cli_usage(NULL, "unknown command '%.40s'", argv[next]);
	c.cmd = cmd->name;
	if (cli_opts_parse(argc - next - 1, argv + next + 1, cmd->opts, 0, &a,
	                   NULL, err, sizeof(err)) < 0)
		return cli_usage(&c, "%s", err);
	if (cli_opt_has(&a, CLI_O_HELP) || cli_opt_has(&g, CLI_O_HELP)) {
		fputs(cmd->usage, stdout);
		return fflush(stdout) == 0 ? 0 : CLI_EX_IOERR;
	}

	cfg = cli_opt_get(&a, CLI_O_CONFIG);
	if (cfg == NULL)
		cfg = cli_opt_get(&g, CLI_O_CONFIG);
	if (cfg == NULL)
		cfg = invites_config_default_path();
	if (cfg == NULL || cfg[0] == '\0')
		return cli_usage(&c, "the configuration file name is empty");
	c.config_path = cfg;
	invites_set_log(log_cause, cli_opt_has(&g, CLI_O_VERBOSE) ||
	                cli_opt_has(&a, CLI_O_VERBOSE) ? (void *)&c : NULL);
	if (read_open_timeout() < 0) {
		cli_error(NULL, "INVITES_OPEN_TIMEOUT: not a number of seconds "
		          "from 0 to 86400");
		return CLI_EX_CONFIG;
	}
	c.now = cli_now();
	c.out = open_memstream(&c.outbuf, &c.outlen);
	if (c.out == NULL)
		return cli_fail(&c, "", INVITES_ENOMEM);

	/*
	 * Another process may run recovery on the store while we use it
	 * (for example after a crash of one of the server's processes):
	 * our handle then fails with ERECOVER, and the cure is to reopen.
	 * Nothing was changed by the failed attempt, so run the command
	 * once more on a fresh handle, with its output discarded.
	 */
	c.may_retry = 1;
	invites_set_hang_handler(cli_hang_handler, NULL); /* backup.c */
	rc = cmd->run(&c, &a);
	if (c.retry) {
		cli_close_store(&c);
		fclose(c.out);
		if (c.outbuf != NULL)
			explicit_bzero(c.outbuf, c.outlen);
		free(c.outbuf);
		c.outbuf = NULL;
		c.outlen = 0;
		c.out = open_memstream(&c.outbuf, &c.outlen);
		if (c.out == NULL)
			return cli_fail(&c, "", INVITES_ENOMEM);
		c.may_retry = 0;
		c.retry = 0;
		rc = cmd->run(&c, &a);
	}

	cli_close_store(&c);
	invites_config_free(&c.cfg);
	rc = flush_output(&c, rc);
	restore_signals();
	return rc;
}
