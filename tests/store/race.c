/* SPDX-License-Identifier: MIT */
/*
 * Consume races between processes.  PROCS processes, each with its own
 * store handle, start together and try to consume the same N single-use
 * tokens (each in its own random order, or all in one order) and a
 * multi-use token with max_uses = M.  Every success is reported through a
 * pipe; the parent counts: each single-use token must have exactly one
 * winner, the multi-use token exactly M, the losers must have been told
 * EUSED, and the reopened store must agree.  First, the same number of
 * processes create one new store at once.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "tap.h"
#include "store/helpers.h"

#define PROCS 5
#define N_TOKENS 60
#define MULTI_USES 12
#define MULTI_TRIES 6 /* per process: PROCS * MULTI_TRIES > MULTI_USES */

/* One report through the pipe (smaller than PIPE_BUF: atomic). */
struct report {
	int proc;
	int token;  /* N_TOKENS: the multi-use one */
	int rc;     /* 0: won; else the error */
};

static char tokens[N_TOKENS + 1][INVITES_TOKEN_MAX + 1];

static void
child(const struct invites_config *cfg, int proc, int same_order,
      uint64_t seed, int ready_fd, int go_fd, int out_fd)
{
	struct invites_store *st = NULL;
	unsigned order[N_TOKENS];
	struct report r;
	char user[64], c;
	int i, rc;

	if (invites_store_open(cfg, 0, &st) != 0)
		_exit(2);
	for (i = 0; i < N_TOKENS; i++)
		order[i] = (unsigned)i;
	if (!same_order)
		seed += (uint64_t)proc * 7919;
	helper_shuffle(order, N_TOKENS, &seed);
	if (write(ready_fd, "r", 1) != 1 || read(go_fd, &c, 1) != 1)
		_exit(3);
	for (i = 0; i < N_TOKENS + MULTI_TRIES; i++) {
		int t = i < N_TOKENS ? (int)order[i] : N_TOKENS;

		snprintf(user, sizeof(user), "p%dt%di%d", proc, t, i);
		rc = invites_consume(st, tokens[t], "example.com",
		                     INVITES_FOR_REGISTER, user, NULL, 1, 0, NULL);
		r.proc = proc;
		r.token = t;
		r.rc = rc;
		if (write(out_fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(4);
	}
	invites_store_close(&st);
	_exit(0);
}

static void
round_run(const char *dir, int same_order, uint64_t seed)
{
	struct invites_config *cfg = helper_cfg(dir);
	struct invites_store *st = NULL;
	struct invites_invite *inv = NULL;
	struct invites_spec s;
	struct report r;
	int ready[2], go[2], out[2];
	int wins[N_TOKENS + 1], by_proc[PROCS], losses = 0, odd = 0;
	int i, rc, status, children_ok = 1, zero = 0, many = 0, bad_uses = 0;
	const char *how = same_order ? "one order" : "own orders";
	pid_t pids[PROCS];
	char c;

	memset(wins, 0, sizeof(wins));
	memset(by_proc, 0, sizeof(by_proc));
	if (invites_store_open(cfg, INVITES_OPEN_CREATE, &st) != 0) {
		ok(0, "open the store for the race (%s)", how);
		invites_config_free(&cfg);
		return;
	}
	memset(&s, 0, sizeof(s));
	s.kind = INVITES_KIND_ACCOUNT;
	s.domain = "example.com";
	for (i = 0; i <= N_TOKENS; i++) {
		s.max_uses = i == N_TOKENS ? MULTI_USES : 1;
		rc = invites_create(st, cfg, &s, tokens[i], sizeof(tokens[i]), NULL);
		if (rc != 0)
			break;
	}
	ok(rc == 0, "created %d single-use tokens and one %d-use token (%s)",
	   N_TOKENS, MULTI_USES, how);
	invites_store_close(&st);

	if (pipe(ready) != 0 || pipe(go) != 0 || pipe(out) != 0)
		skip_all("no pipes");
	for (i = 0; i < PROCS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			close(out[0]);
			child(cfg, i, same_order, seed, ready[1], go[0], out[1]);
		}
	}
	close(ready[1]);
	close(go[0]);
	close(out[1]);
	for (i = 0; i < PROCS; i++)
		if (read(ready[0], &c, 1) != 1)
			children_ok = 0;
	ok(children_ok, "%d processes opened the store", PROCS);
	for (i = 0; i < PROCS; i++)
		if (write(go[1], "g", 1) != 1)
			children_ok = 0;
	close(go[1]);
	while (read(out[0], &r, sizeof(r)) == (ssize_t)sizeof(r)) {
		if (r.token < 0 || r.token > N_TOKENS || r.proc < 0 ||
		    r.proc >= PROCS) {
			odd++;
		} else if (r.rc == 0) {
			wins[r.token]++;
			by_proc[r.proc]++;
		} else if (r.rc == INVITES_EUSED) {
			losses++;
		} else {
			odd++;
			diag("process %d, token %d: %s", r.proc, r.token,
			     invites_err_name(r.rc));
		}
	}
	close(out[0]);
	close(ready[0]);
	for (i = 0; i < PROCS; i++) {
		waitpid(pids[i], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			children_ok = 0;
			diag("process %d: status %d", i, status);
		}
	}
	ok(children_ok, "every process finished cleanly");
	for (i = 0; i < N_TOKENS; i++) {
		if (wins[i] == 0)
			zero++;
		else if (wins[i] > 1)
			many++;
	}
	diag("%s: wins per process %d %d %d %d %d; multi-use wins %d; "
	     "EUSED answers %d; other answers %d",
	     how, by_proc[0], by_proc[1], by_proc[2], by_proc[3], by_proc[4],
	     wins[N_TOKENS], losses, odd);
	ok(zero == 0, "no single-use token went unused (%s): %d", how, zero);
	ok(many == 0, "no single-use token was used twice (%s): %d", how, many);
	ok(wins[N_TOKENS] == MULTI_USES, "the multi-use token was used exactly "
	   "max_uses = %d times (%s): %d", MULTI_USES, how, wins[N_TOKENS]);
	ok(losses == (PROCS - 1) * N_TOKENS + PROCS * MULTI_TRIES - MULTI_USES,
	   "every other attempt was told EUSED (%s): %d", how, losses);
	ok(odd == 0, "no other answers (%s): %d", how, odd);

	if (invites_store_open(cfg, 0, &st) == 0) {
		for (i = 0; i <= N_TOKENS; i++) {
			if (invites_get_by_token(st, tokens[i], &inv) != 0 ||
			    inv->uses != (i == N_TOKENS ? MULTI_USES : 1u))
				bad_uses++;
			invites_invite_free(&inv);
		}
		invites_store_close(&st);
	} else {
		bad_uses = -1;
	}
	ok(bad_uses == 0, "the reopened store counts the same uses (%s): %d bad",
	   how, bad_uses);
	invites_config_free(&cfg);
}

/* Several processes create the same new store at once (a fresh install
 * whose daemons and invitectl start together): all succeed, one store. */
static void
create_race(const char *dir)
{
	struct invites_config *cfg = helper_cfg(dir);
	struct invites_store *st = NULL;
	struct invites_stats stats;
	struct invites_spec s;
	char tok[INVITES_TOKEN_MAX + 1];
	int i, status, good = 0;
	pid_t pids[PROCS];

	memset(&s, 0, sizeof(s));
	s.kind = INVITES_KIND_ACCOUNT;
	s.domain = "example.com";
	for (i = 0; i < PROCS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			if (invites_store_open(cfg, INVITES_OPEN_CREATE, &st) != 0)
				_exit(1);
			if (invites_create(st, cfg, &s, tok, sizeof(tok), NULL) != 0)
				_exit(2);
			invites_store_close(&st);
			_exit(0);
		}
	}
	for (i = 0; i < PROCS; i++) {
		waitpid(pids[i], &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			good++;
		else
			diag("creator %d: status %d", i, status);
	}
	ok(good == PROCS, "%d processes created one new store at once: %d ok",
	   PROCS, good);
	memset(&stats, 0, sizeof(stats));
	if (invites_store_open(cfg, 0, &st) == 0) {
		invites_stats_get(st, 0, &stats);
		invites_store_close(&st);
	}
	ok(stats.total == PROCS, "... and it holds all %d invites: %zu", PROCS,
	   stats.total);
	invites_config_free(&cfg);
}

int
main(void)
{
	char base[512], *dir;
	uint64_t seed;
	const char *env_seed = getenv("RACE_SEED");

	seed = env_seed != NULL ? strtoull(env_seed, NULL, 10)
	                        : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	if (seed == 0)
		seed = 1;
	diag("RACE_SEED=%llu", (unsigned long long)seed);
	alarm(120); /* a hang is a failure, not a stuck test suite */
	helper_base(base, sizeof(base), "race");
	dir = inv__asprintf("%s/created-together", base);
	create_race(dir);
	free(dir);
	dir = inv__asprintf("%s/shuffled", base);
	round_run(dir, 0, seed);
	free(dir);
	dir = inv__asprintf("%s/same", base);
	round_run(dir, 1, seed);
	free(dir);
	helper_rm_rf(base);
	return done_testing();
}
