/* SPDX-License-Identifier: MIT */
/*
 * The writers' gate of the Berkeley DB store (issue 8; store_bdb.c, "The
 * writers' gate"): an opener, who may recover the environment and
 * truncate its log, waits until no writer of another process is inside
 * Berkeley DB, and keeps new writers out until its open is done.
 *
 * This test plays the other process itself, with open file description
 * locks on the gate file: a shared lock on byte 1 is "a writer inside",
 * exclusive locks on bytes 0 and 1 are "an opener".  No timed
 * assertion: every check looks at lock state and at whether a child has
 * finished, and the waits it allows the children are bounds, not
 * expectations.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "store/helpers.h"

#define GATE "invites.gate"
enum { TURNSTILE = 0, INSIDE = 1 };

static char base[4096], store[4200], gate[4300], logfile[4300];

/* fl describes one byte of the gate file, for a lock of type. */
static void
one_byte(struct flock *fl, short type, off_t byte)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = type;
	fl->l_whence = SEEK_SET;
	fl->l_start = byte;
	fl->l_len = 1;
}

static int
lock_byte(int fd, short type, off_t byte)
{
	struct flock fl;

	one_byte(&fl, type, byte);
	return fcntl(fd, F_OFD_SETLK, &fl);
}

/* The type of lock another descriptor holds on byte (F_UNLCK: none). */
static short
held(int fd, off_t byte)
{
	struct flock fl;

	one_byte(&fl, F_WRLCK, byte);
	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		return -1;
	return fl.l_type;
}

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The library's log lines go to logfile (the children's too). */
static void
to_file(void *ctx, int level, const char *msg)
{
	FILE *f = fopen(logfile, "a");

	(void)ctx;
	(void)level;
	if (f != NULL) {
		fprintf(f, "%s\n", msg);
		fclose(f);
	}
}

static int
log_has(const char *what)
{
	char line[1024];
	int found = 0;
	FILE *f = fopen(logfile, "r");

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

/* A child that opens the store and exits with the result (0: opened). */
static pid_t
spawn_opener(const struct invites_config *cfg)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct invites_store *st = NULL;
		int rc = invites_store_open(cfg, 0, &st);

		invites_store_close(&st);
		_exit(rc == 0 ? 0 : 1);
	}
	return pid;
}

/* 1 when child has exited (status in *status). */
static int
finished(pid_t pid, int *status)
{
	return waitpid(pid, status, WNOHANG) == pid;
}

static void
opener_waits_for_writer(const struct invites_config *cfg)
{
	int fd, fd2, status = 0, i, turnstile = 0;
	pid_t pid;

	fd = open(gate, O_RDWR | O_CLOEXEC);
	fd2 = open(gate, O_RDWR | O_CLOEXEC);
	if (!ok(fd >= 0 && fd2 >= 0, "the gate file can be opened")) {
		diag("%s: %s", gate, strerror(errno));
		return;
	}
	ok(lock_byte(fd, F_RDLCK, INSIDE) == 0,
	   "a writer of another process is inside (shared lock on byte 1)");
	pid = spawn_opener(cfg);
	/* (a bound for a loaded machine, not an expectation) */
	for (i = 0; i < 3000 && !turnstile; i++) {
		turnstile = held(fd2, TURNSTILE) == F_WRLCK;
		if (!turnstile)
			pause_ms(10);
	}
	ok(turnstile, "the opener closes the turnstile (exclusive lock on "
	   "byte 0)");
	ok(!finished(pid, &status), "and waits while the writer is inside");
	ok(lock_byte(fd2, F_RDLCK, TURNSTILE) != 0 && errno == EAGAIN,
	   "a new writer is held at the turnstile meanwhile");
	ok(lock_byte(fd, F_UNLCK, INSIDE) == 0, "the writer leaves");
	ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	   WEXITSTATUS(status) == 0, "the opener then opens the store");
	ok(held(fd2, TURNSTILE) == F_UNLCK && held(fd2, INSIDE) == F_UNLCK,
	   "and leaves the gate open behind it");
	ok(!log_has("without the writers' gate"),
	   "no warning about the gate in the log");
	close(fd);
	close(fd2);
}

static void
writer_waits_for_opener(const struct invites_config *cfg)
{
	int go[2], done[2], fd, status = 0;
	struct invites_spec s;
	struct pollfd pf;
	char c, tok[INVITES_TOKEN_MAX + 1];
	pid_t pid;

	if (pipe(go) != 0 || pipe(done) != 0) {
		ok(0, "pipes for the writer");
		return;
	}
	pid = fork();
	if (pid == 0) {
		struct invites_store *st = NULL;
		int rc = invites_store_open(cfg, 0, &st);

		c = rc == 0 ? 'r' : 'x';
		if (write(done[1], &c, 1) != 1 || rc != 0 ||
		    read(go[0], &c, 1) != 1)
			_exit(2);
		memset(&s, 0, sizeof(s));
		s.kind = INVITES_KIND_ACCOUNT;
		s.domain = "example.com";
		rc = invites_create(st, cfg, &s, tok, sizeof(tok), NULL);
		c = rc == 0 ? 'c' : 'e';
		if (write(done[1], &c, 1) != 1)
			_exit(3);
		invites_store_close(&st);
		_exit(rc == 0 ? 0 : 1);
	}
	close(go[0]);
	close(done[1]);
	ok(read(done[0], &c, 1) == 1 && c == 'r',
	   "a writer has the store open");
	fd = open(gate, O_RDWR | O_CLOEXEC);
	ok(fd >= 0 && lock_byte(fd, F_WRLCK, TURNSTILE) == 0 &&
	   lock_byte(fd, F_WRLCK, INSIDE) == 0,
	   "an opener of another process holds the gate");
	c = 'g';
	if (write(go[1], &c, 1) != 1)
		diag("cannot start the writer");
	/* The writer is held as long as we hold the gate: give it time to
	 * get there (if the gate did not hold it, it would be done). */
	pf.fd = done[0];
	pf.events = POLLIN;
	ok(poll(&pf, 1, 300) == 0, "the writer waits at the gate");
	ok(lock_byte(fd, F_UNLCK, INSIDE) == 0 &&
	   lock_byte(fd, F_UNLCK, TURNSTILE) == 0, "the opener is done");
	ok(read(done[0], &c, 1) == 1 && c == 'c',
	   "the writer then creates its invite");
	ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	   WEXITSTATUS(status) == 0, "and closes the store");
	close(fd);
	close(go[1]);
	close(done[0]);
}

static void
gate_wait_is_bounded(const struct invites_config *cfg)
{
	int fd, status = 0;
	pid_t pid;

	fd = open(gate, O_RDWR | O_CLOEXEC);
	ok(fd >= 0 && lock_byte(fd, F_RDLCK, INSIDE) == 0,
	   "a writer of another process stays inside for good");
	pid = spawn_opener(cfg);
	ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	   WEXITSTATUS(status) == 0,
	   "the opener opens the store after a bounded wait");
	ok(log_has("opening without the writers' gate"),
	   "and says so in the log");
	close(fd);
}

int
main(void)
{
	struct invites_config *cfg;
	struct invites_store *st = NULL;

	helper_base(base, sizeof(base), "gate");
	snprintf(store, sizeof(store), "%s/store", base);
	snprintf(gate, sizeof(gate), "%s/%s", store, GATE);
	snprintf(logfile, sizeof(logfile), "%s/log", base);
	invites_set_log(to_file, NULL);
	cfg = helper_cfg(store);
	if (!ok(invites_store_open(cfg, INVITES_OPEN_CREATE, &st) == 0,
	        "create a store"))
		goto out;
	invites_store_close(&st);
	ok(access(gate, F_OK) == 0, "it has a gate file");

	opener_waits_for_writer(cfg);
	writer_waits_for_opener(cfg);
	gate_wait_is_bounded(cfg);
out:
	invites_config_free(&cfg);
	helper_rm_rf(base);
	return done_testing();
}
