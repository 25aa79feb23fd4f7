/* SPDX-License-Identifier: MIT */
/*
 * kill -9 of a writer, many times.  A writer process creates invites and
 * consumes every other one in a loop, acknowledging each committed
 * operation in memory it shares with this process (MAP_SHARED survives the
 * kill).  It is SIGKILLed at random moments: during its open (and so
 * during recovery), or in the middle of its load; every other round it is
 * a daemon with a watchdog thread.  After each kill a recovering open must
 * find every acknowledged invite, every acknowledged consume still
 * consumed, and nothing consumed that was never attempted.  Then a daemon
 * keeps its handle open while writers beside it are killed, and must go on
 * answering (see daemon_phase).  At the end the database files, copied
 * after a checkpoint, pass $DB_VERIFY (db5.3_verify) when configure found
 * it.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "tap.h"
#include "store/helpers.h"

#define ROUNDS 12
#define DAEMON_ROUNDS 6
#define MAX_SLOTS 4000
/* Bounds, so that a hang is a failure and not a test that never ends:
 * the daemon's wait for two watchdog passes (in 10 ms steps), the daemon
 * process, the kill rounds. */
#define WATCHDOG_WAIT 3000
#define DAEMON_ALARM 240
#define ROUNDS_ALARM 240

enum slot_state {
	S_EMPTY = 0,
	S_CREATED = 1,  /* create acknowledged, no consume attempted */
	S_CONSUMING = 2, /* consume started, outcome unknown */
	S_CONSUMED = 3  /* consume acknowledged */
};

struct slot {
	char token[INVITES_TOKEN_MAX + 1];
	volatile int state;
	int contact;
};

struct shared {
	volatile int opened;
	volatile int n;          /* slots in use */
	volatile int next;       /* first slot that may still be consumed */
	/* phase 2 results, written by the daemon process */
	volatile int d_rounds, d_lost, d_revived, d_stuck, d_failed_seen,
	    d_reopened, d_errors, d_next, d_hang_exits, d_restarts_answered;
	struct slot slots[MAX_SLOTS];
};

static struct shared *sh;

/* The store's log lines go to the test's log (stderr), with the pid. */
static void
log_stderr(void *ctx, int level, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "# [%ld] %d: %s\n", (long)getpid(), level, msg);
}

static void
writer(const struct invites_config *cfg, unsigned flags, uint64_t seed)
{
	struct invites_store *st = NULL;
	struct invites_spec s;
	char tok[INVITES_TOKEN_MAX + 1], user[32];
	const char *groups[] = { "Friends" };
	unsigned iter = 0;
	int rc, i;

#ifdef __linux__
	/* a writer outlives no parent that stopped killing it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
	/* forked by a daemon: a writer only ever dies by the kill */
	invites_set_hang_handler(NULL, NULL);
	if (invites_store_open(cfg, flags, &st) != 0)
		_exit(2);
	sh->opened = 1;
	for (;;) {
		iter++;
		i = sh->n;
		if (i < MAX_SLOTS) {
			memset(&s, 0, sizeof(s));
			s.domain = "example.com";
			if (helper_rand(&seed) % 3 == 0) {
				s.kind = INVITES_KIND_CONTACT;
				s.flags = INVITES_F_REGISTER;
				s.inviter = "romeo@example.com";
				s.groups = groups;
				s.n_groups = 1;
			} else {
				s.kind = INVITES_KIND_ACCOUNT;
			}
			rc = invites_create(st, cfg, &s, tok, sizeof(tok), NULL);
			if (rc != 0)
				_exit(3);
			/* acknowledged: the slot is written after the commit */
			memcpy(sh->slots[i].token, tok, sizeof(tok));
			sh->slots[i].contact = s.kind == INVITES_KIND_CONTACT;
			__sync_synchronize();
			sh->slots[i].state = S_CREATED;
			__sync_synchronize();
			sh->n = i + 1;
		}
		if (iter % 2 == 0) {
			while (sh->next < sh->n &&
			       sh->slots[sh->next].state != S_CREATED)
				sh->next++;
			i = sh->next;
			if (i >= sh->n)
				continue;
			sh->slots[i].state = S_CONSUMING;
			__sync_synchronize();
			snprintf(user, sizeof(user), "u%d", i);
			rc = invites_consume(st, sh->slots[i].token, "example.com",
			                     INVITES_FOR_REGISTER, user, NULL, 1, 0,
			                     NULL);
			if (rc != 0)
				_exit(4);
			__sync_synchronize();
			sh->slots[i].state = S_CONSUMED;
		}
	}
}

/* Check every acknowledged operation through st; settle the unknown ones. */
static int
check_slots(struct invites_store *st, int round, int *lost, int *revived)
{
	struct invites_invite *inv = NULL;
	int i, rc, n = sh->n;

	for (i = 0; i < n; i++) {
		struct slot *sl = &sh->slots[i];

		if (sl->state == S_EMPTY)
			continue;
		rc = invites_get_by_token(st, sl->token, &inv);
		if (rc != 0) {
			(*lost)++;
			diag("round %d: acknowledged invite %d: %s", round, i,
			     invites_err_name(rc));
			continue;
		}
		switch (sl->state) {
		case S_CREATED:
			if (inv->uses != 0) {
				(*revived)++; /* consumed without an attempt */
				diag("round %d: invite %d used without a consume",
				     round, i);
			}
			break;
		case S_CONSUMED:
			if (inv->uses != 1) {
				(*revived)++;
				diag("round %d: consumed invite %d is usable again",
				     round, i);
			}
			break;
		case S_CONSUMING:
			/* the kill landed inside consume: either outcome is
			 * fine, but it must be all or nothing */
			sl->state = inv->uses == 1 ? S_CONSUMED : S_CREATED;
			if (sl->state == S_CREATED && sh->next > i)
				sh->next = i;
			break;
		}
		invites_invite_free(&inv);
	}
	return 0;
}

static int
verify(const struct invites_config *cfg, int round, int *lost, int *revived)
{
	struct invites_store *st = NULL;
	int rc;

	rc = invites_store_open(cfg, 0, &st);
	if (rc != 0) {
		diag("round %d: reopen: %s", round, invites_err_name(rc));
		return rc;
	}
	rc = check_slots(st, round, lost, revived);
	invites_store_close(&st);
	return rc;
}

/* Kill a freshly forked writer after a random delay in its load. */
static int
kill_writer(const struct invites_config *cfg, uint64_t *seed, int round)
{
	int i, status;
	pid_t pid;

	sh->opened = 0;
	pid = fork();
	if (pid == 0)
		writer(cfg, 0, *seed + (uint64_t)round * 31);
	for (i = 0; i < 2000 && !sh->opened; i++)
		usleep(1000);
	usleep((useconds_t)(30000 + helper_rand(seed) % 220000));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status);
}

/*
 * Phase 2, in a process of its own: a daemon handle (watchdog thread)
 * stays open while writers beside it are killed.  After each kill it waits
 * for two complete failchk passes of its watchdog (or for the watchdog to
 * declare the environment dead), so no call can be left blocked behind
 * the dead writer; then its calls must answer, at worst once with
 * ERECOVER (the handle then reopens underneath), and every acknowledged
 * operation must be there.  A thread of it can still be caught behind the
 * dead writer's mutex (failchk itself takes mutexes); then, as a server
 * does, it leaves through its hang handler with INVITES_EXIT_HANG and is
 * started again, and the new process must open the store and find every
 * acknowledged operation: sh->d_next says where it goes on.  It leaves
 * with _exit(): Berkeley DB does not free a panicked environment, which
 * the sanitizer build would report.
 */
static void
on_hang(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "# [%ld] hang handler: %s\n", (long)getpid(), msg);
	_exit(INVITES_EXIT_HANG);
}

static void
daemon_phase(const struct invites_config *cfg, uint64_t seed, int restarted)
{
	struct invites_store *st = NULL;
	struct invites_invite *inv = NULL;
	uint64_t t0, t;
	int round, failed, rc, waited, lost = 0, revived = 0;

	alarm(DAEMON_ALARM);
	invites_set_hang_handler(on_hang, NULL);
	if (invites_store_open(cfg, INVITES_OPEN_DAEMON, &st) != 0)
		_exit(2);
	if (restarted) {
		/* the round its predecessor left in: answered by this one */
		if (check_slots(st, 100 + sh->d_next, &lost, &revived) != 0)
			sh->d_errors++;
		sh->d_restarts_answered++;
		sh->d_next++;
	}
	for (round = sh->d_next; round < DAEMON_ROUNDS; round++) {
		if (!kill_writer(cfg, &seed, round))
			sh->d_errors++;
		inv__store_watchdog(st, &t0);
		waited = 0;
		do {
			usleep(10000);
			failed = inv__store_watchdog(st, &t);
		} while (!failed && t < t0 + 2 && ++waited < WATCHDOG_WAIT);
		if (failed)
			sh->d_failed_seen++;
		if (!failed && t < t0 + 2) {
			/* 100 ms passes that did not come in 30 s, and no
			 * hang exit: the watchdog is blocked for good */
			sh->d_stuck++;
			diag("daemon round %d: the watchdog made %llu passes in "
			     "%d s", round, (unsigned long long)(t - t0),
			     WATCHDOG_WAIT / 100);
			sh->d_next = round + 1;
			continue;
		}
		/* one call may meet the dead environment; the next works */
		rc = invites_get_by_token(st, sh->slots[0].token, &inv);
		invites_invite_free(&inv);
		if (rc == INVITES_ERECOVER) {
			sh->d_reopened++;
			rc = invites_get_by_token(st, sh->slots[0].token, &inv);
			invites_invite_free(&inv);
		}
		if (rc != 0) {
			sh->d_stuck++;
			diag("daemon round %d: %s", round, invites_err_name(rc));
		} else {
			if (check_slots(st, 100 + round, &lost, &revived) != 0)
				sh->d_errors++;
			sh->d_rounds++;
		}
		sh->d_next = round + 1;
	}
	sh->d_lost += lost;
	sh->d_revived += revived;
	_exit(0);
}

/* Copy the database files after a checkpoint and run $DB_VERIFY on them. */
static void
db_verify(const char *base, const char *dir, const struct invites_config *cfg)
{
	const char *prog = getenv("DB_VERIFY");
	struct invites_store *st = NULL;
	struct dirent *de;
	char *copy, *from, *to, *cmd;
	int failed = 0, files = 0, rc;
	DIR *d;

	if (prog == NULL || *prog == '\0') {
		ok(1, "# SKIP DB_VERIFY is not set (db5.3_verify not found)");
		return;
	}
	rc = invites_store_open(cfg, 0, &st);
	if (rc == 0)
		rc = inv__store_checkpoint(st, 1);
	invites_store_close(&st);
	ok(rc == 0, "recovering open and checkpoint before verification");
	copy = inv__asprintf("%s/verify-copy", base);
	mkdir(copy, 0700);
	d = opendir(dir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 4 || strcmp(de->d_name + len - 3, ".db") != 0)
			continue;
		from = inv__asprintf("%s/%s", dir, de->d_name);
		to = inv__asprintf("%s/%s", copy, de->d_name);
		cmd = inv__asprintf("cp '%s' '%s' && '%s' -q '%s'", from, to, prog,
		                    to);
		files++;
		if (system(cmd) != 0) {
			failed++;
			diag("%s fails verification", de->d_name);
		}
		free(from);
		free(to);
		free(cmd);
	}
	if (d != NULL)
		closedir(d);
	ok(files == 8 && failed == 0, "%s passes on all %d database files",
	   prog, files);
	free(copy);
}

int
main(void)
{
	struct invites_config *cfg;
	struct invites_store *st = NULL;
	char base[512], *dir;
	int round, lost = 0, revived = 0, settled = 1, killed_open = 0;
	int consumed = 0, i, status, daemon_ok;
	const char *env_seed = getenv("KILL_SEED");
	uint64_t seed;
	pid_t pid;

	seed = env_seed != NULL ? strtoull(env_seed, NULL, 10)
	                        : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	if (seed == 0)
		seed = 1;
	diag("KILL_SEED=%llu", (unsigned long long)seed);
	invites_set_log(log_stderr, NULL);
	alarm(ROUNDS_ALARM);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		skip_all("no shared memory");
	memset(sh, 0, sizeof(*sh));
	helper_base(base, sizeof(base), "kill");
	dir = inv__asprintf("%s/store", base);
	cfg = helper_cfg(dir);
	if (invites_store_open(cfg, INVITES_OPEN_CREATE, &st) != 0)
		skip_all("cannot create a store");
	invites_store_close(&st);

	for (round = 0; round < ROUNDS; round++) {
		unsigned flags = round % 2 ? INVITES_OPEN_DAEMON : 0;
		long delay_us;

		sh->opened = 0;
		pid = fork();
		if (pid == 0)
			writer(cfg, flags, seed + (uint64_t)round);
		if (round % 4 == 3) {
			/* early: often inside open, and so inside recovery */
			delay_us = (long)(helper_rand(&seed) % 8000);
		} else {
			for (i = 0; i < 2000 && !sh->opened; i++)
				usleep(1000);
			delay_us = 30000 + (long)(helper_rand(&seed) % 220000);
		}
		usleep((useconds_t)delay_us);
		if (!sh->opened)
			killed_open++;
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		if (!WIFSIGNALED(status)) {
			diag("round %d: the writer exited with %d before the kill",
			     round, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			settled = 0;
		}
		if (verify(cfg, round, &lost, &revived) != 0)
			settled = 0;
	}
	for (i = 0; i < sh->n; i++)
		if (sh->slots[i].state == S_CONSUMED)
			consumed++;
	diag("%d rounds (%d killed before the open finished): %d invites "
	     "acknowledged, %d consumed", ROUNDS, killed_open, sh->n, consumed);
	ok(settled, "every writer died by the kill and every reopen worked");
	ok(sh->n > 0 && consumed > 0, "the writers got work done");
	ok(lost == 0, "no acknowledged invite was lost (%d)", lost);
	ok(revived == 0, "no acknowledged consume was undone, nothing was "
	   "consumed unasked (%d)", revived);

	alarm(0); /* each daemon process has its own */
	daemon_ok = 1;
	for (i = 0; sh->d_next < DAEMON_ROUNDS && i <= DAEMON_ROUNDS; i++) {
		pid = fork();
		if (pid == 0)
			daemon_phase(cfg, (seed ^ 0x5bd1e995) + (uint64_t)i,
			             i > 0);
		waitpid(pid, &status, 0);
		if (WIFEXITED(status) &&
		    WEXITSTATUS(status) == INVITES_EXIT_HANG)
			sh->d_hang_exits++; /* and is started again */
		else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			daemon_ok = 0;
	}
	alarm(ROUNDS_ALARM);
	diag("daemon beside killed writers: %d rounds, watchdog saw a dead "
	     "environment %d times, %d calls met ERECOVER and reopened, %d "
	     "hang exits, each restart answered: %d",
	     sh->d_rounds, sh->d_failed_seen, sh->d_reopened,
	     sh->d_hang_exits, sh->d_restarts_answered);
	ok(daemon_ok && sh->d_next == DAEMON_ROUNDS && sh->d_errors == 0,
	   "the daemon processes ran every round");
	ok(sh->d_rounds + sh->d_restarts_answered == DAEMON_ROUNDS &&
	   sh->d_restarts_answered == sh->d_hang_exits && sh->d_stuck == 0,
	   "after every kill its handle answered, or it left through its "
	   "hang handler and its restart answered (%d + %d of %d rounds)",
	   sh->d_rounds, sh->d_restarts_answered, DAEMON_ROUNDS);
	ok(sh->d_lost == 0 && sh->d_revived == 0,
	   "and saw every acknowledged invite and consume (%d lost, %d undone)",
	   sh->d_lost, sh->d_revived);
	db_verify(base, dir, cfg);
	invites_config_free(&cfg);
	free(dir);
	helper_rm_rf(base);
	munmap(sh, sizeof(*sh));
	return done_testing();
}
