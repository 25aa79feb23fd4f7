/* SPDX-License-Identifier: MIT */
/*
 * The PostgreSQL store under contention and failure (TEST_STORE_PG names
 * the server; tests/pg/race.sh starts one):
 *
 *  1. racing consumers: 8 processes with 2 connections each (a thread per
 *     store handle) start together on the same single-use tokens, each in
 *     its own order, and on a multi-use token; every answer comes back
 *     through a pipe and is counted: one winner per single-use token,
 *     max_uses winners for the multi-use one, EUSED for everyone else, and
 *     the store, the audit and the pending work agree;
 *  2. clients killed mid-transaction: writers that create and consume
 *     (acknowledging each committed operation in shared memory) are
 *     SIGKILLed at random moments; every acknowledged create and consume
 *     is there afterwards, nothing was consumed that was never tried, and
 *     no row stays locked by a dead client;
 *  3. the server restarted under load ($PG_RESTART, twice): the clients
 *     get EBUSY while it is away, reconnect by themselves, no token is
 *     spent twice and no acknowledged create or consume is lost.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "tap.h"
#include "store/helpers.h"

#define PROCS 8
#define CONNS 2
#define N_TOKENS 80
#define MULTI_USES 20
#define MULTI_TRIES 3 /* per connection: 8 * 2 * 3 > MULTI_USES */

#define KILL_ROUNDS 8
#define KILL_WRITERS 2
#define MAX_SLOTS 3000

#define LOAD_PROCS 4
#define LOAD_TOKENS 400
#define LOAD_CREATES 1500

static const char *pg_base;
static uint64_t seed;

static char *
store_uri(const char *schema)
{
	return inv__asprintf("%s%cschema=%s", pg_base,
	                     strchr(pg_base, '?') ? '&' : '?', schema);
}

static int64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* 1. Racing consumers                                                 */
/* ------------------------------------------------------------------ */

struct report {
	int proc;
	int conn;
	int token; /* N_TOKENS: the multi-use one */
	int rc;
};

static char tokens[N_TOKENS + 1][INVITES_TOKEN_MAX + 1];

struct racer {
	const struct invites_config *cfg;
	struct invites_store *st;
	int proc, conn, out_fd;
	uint64_t seed;
	int failed;
};

static int go_fd = -1;
static pthread_mutex_t go_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cond = PTHREAD_COND_INITIALIZER;
static int go;

static void *
racer_main(void *arg)
{
	struct racer *r = arg;
	unsigned order[N_TOKENS];
	struct report rep;
	char user[64];
	int i, t;

	for (i = 0; i < N_TOKENS; i++)
		order[i] = (unsigned)i;
	helper_shuffle(order, N_TOKENS, &r->seed);
	pthread_mutex_lock(&go_lock);
	while (!go)
		pthread_cond_wait(&go_cond, &go_lock);
	pthread_mutex_unlock(&go_lock);
	for (i = 0; i < N_TOKENS + MULTI_TRIES; i++) {
		t = i < N_TOKENS ? (int)order[i] : N_TOKENS;
		snprintf(user, sizeof(user), "p%dc%dt%di%d", r->proc, r->conn, t, i);
		rep.proc = r->proc;
		rep.conn = r->conn;
		rep.token = t;
		rep.rc = invites_consume(r->st, tokens[t], "example.com",
		                         INVITES_FOR_REGISTER, user, NULL, 1, 0,
		                         NULL);
		if (write(r->out_fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
			r->failed = 1;
	}
	return NULL;
}

static void
race_child(const struct invites_config *cfg, int proc, int ready_fd,
           int out_fd)
{
	struct racer r[CONNS];
	pthread_t th[CONNS];
	char c;
	int i, bad = 0;

	for (i = 0; i < CONNS; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].cfg = cfg;
		r[i].proc = proc;
		r[i].conn = i;
		r[i].out_fd = out_fd;
		r[i].seed = seed + (uint64_t)(proc * CONNS + i) * 7919;
		if (invites_store_open(cfg, 0, &r[i].st) != 0)
			_exit(2);
	}
	for (i = 0; i < CONNS; i++)
		if (pthread_create(&th[i], NULL, racer_main, &r[i]) != 0)
			_exit(3);
	/* every connection is open: tell the parent, wait for the start */
	if (write(ready_fd, "r", 1) != 1 || read(go_fd, &c, 1) != 1)
		_exit(4);
	pthread_mutex_lock(&go_lock);
	go = 1;
	pthread_cond_broadcast(&go_cond);
	pthread_mutex_unlock(&go_lock);
	for (i = 0; i < CONNS; i++) {
		pthread_join(th[i], NULL);
		bad |= r[i].failed;
		invites_store_close(&r[i].st);
	}
	_exit(bad ? 5 : 0);
}

static int
count_used(void *ctx, const struct invites_audit *a)
{
	if (a->event == INVITES_EV_USED)
		(*(int *)ctx)++;
	return 0;
}

static void
test_race(void)
{
	char *uri = store_uri("race");
	struct invites_config *cfg = helper_cfg(uri);
	struct invites_store *st = NULL;
	struct invites_invite *inv = NULL;
	struct invites_pending *p = NULL;
	struct invites_stats stats;
	struct invites_spec s;
	struct report r;
	int ready[2], gop[2], out[2];
	int wins[N_TOKENS + 1], losses = 0, odd = 0, zero = 0, many = 0;
	int i, rc = 0, status, children_ok = 1, bad_uses = 0, used = 0;
	pid_t pids[PROCS];
	char c;

	memset(wins, 0, sizeof(wins));
	if (invites_store_open(cfg, INVITES_OPEN_CREATE, &st) != 0) {
		ok(0, "open the store for the race");
		goto out;
	}
	memset(&s, 0, sizeof(s));
	s.kind = INVITES_KIND_ACCOUNT;
	s.domain = "example.com";
	for (i = 0; i <= N_TOKENS && rc == 0; i++) {
		s.max_uses = i == N_TOKENS ? MULTI_USES : 1;
		rc = invites_create(st, cfg, &s, tokens[i], sizeof(tokens[i]), NULL);
	}
	ok(rc == 0, "created %d single-use tokens and one %d-use token",
	   N_TOKENS, MULTI_USES);
	invites_store_close(&st);

	if (pipe(ready) != 0 || pipe(gop) != 0 || pipe(out) != 0)
		skip_all("no pipes");
	fflush(stdout);
	for (i = 0; i < PROCS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(ready[0]);
			close(gop[1]);
			close(out[0]);
			go_fd = gop[0];
			race_child(cfg, i, ready[1], out[1]);
		}
	}
	close(ready[1]);
	close(gop[0]);
	close(out[1]);
	for (i = 0; i < PROCS; i++)
		if (read(ready[0], &c, 1) != 1)
			children_ok = 0;
	ok(children_ok, "%d processes opened %d connections each", PROCS, CONNS);
	for (i = 0; i < PROCS; i++)
		if (write(gop[1], "g", 1) != 1)
			children_ok = 0;
	close(gop[1]);
	while (read(out[0], &r, sizeof(r)) == (ssize_t)sizeof(r)) {
		if (r.token < 0 || r.token > N_TOKENS) {
			odd++;
		} else if (r.rc == 0) {
			wins[r.token]++;
		} else if (r.rc == INVITES_EUSED) {
			losses++;
		} else {
			odd++;
			diag("process %d connection %d, token %d: %s", r.proc, r.conn,
			     r.token, invites_err_name(r.rc));
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
	diag("wins of the multi-use token %d; EUSED answers %d; other %d",
	     wins[N_TOKENS], losses, odd);
	ok(zero == 0, "every single-use token was won: %d were not", zero);
	ok(many == 0, "no single-use token was won twice: %d were", many);
	is_int(wins[N_TOKENS], MULTI_USES, "the multi-use token was won "
	       "exactly max_uses times");
	is_int(losses, (PROCS * CONNS - 1) * N_TOKENS +
	       PROCS * CONNS * MULTI_TRIES - MULTI_USES,
	       "every other attempt was told EUSED");
	is_int(odd, 0, "no other answers");

	if (invites_store_open(cfg, INVITES_OPEN_READONLY, &st) == 0) {
		for (i = 0; i <= N_TOKENS; i++) {
			if (invites_get_by_token(st, tokens[i], &inv) != 0 ||
			    inv->uses != (i == N_TOKENS ? MULTI_USES : 1u))
				bad_uses++;
			invites_invite_free(&inv);
		}
		invites_audit_walk(st, 0, count_used, &used);
		invites_stats_get(st, 0, &stats);
		rc = invites_pending_get(st, "p0c0t0i0@example.com", &p);
		invites_pending_free(&p);
		invites_store_close(&st);
	} else {
		bad_uses = -1;
	}
	is_int(bad_uses, 0, "the store counts the same uses");
	is_int(used, N_TOKENS + MULTI_USES, "one audit record per winning use");
	is_int(stats.pending_actions, N_TOKENS + MULTI_USES,
	       "one pending action per winning use");
out:
	invites_config_free(&cfg);
	free(uri);
}

/* ------------------------------------------------------------------ */
/* 2. Clients killed mid-transaction                                   */
/* ------------------------------------------------------------------ */

enum { S_EMPTY, S_CREATED, S_CONSUMING, S_CONSUMED };

struct slot {
	char token[INVITES_TOKEN_MAX + 1];
	volatile int state;
};

struct shared {
	volatile int opened[KILL_WRITERS];
	struct slot slots[KILL_WRITERS][MAX_SLOTS];
	volatile int n[KILL_WRITERS];
	volatile int next[KILL_WRITERS];
};

static struct shared *sh;

static void
writer(const struct invites_config *cfg, int w)
{
	struct invites_store *st = NULL;
	struct invites_spec s;
	struct slot *sl;
	char tok[INVITES_TOKEN_MAX + 1], user[40];
	int i, was, rc;

	if (invites_store_open(cfg, 0, &st) != 0)
		_exit(2);
	sh->opened[w] = 1;
	memset(&s, 0, sizeof(s));
	s.kind = INVITES_KIND_ACCOUNT;
	s.domain = "example.com";
	for (;;) {
		i = sh->n[w];
		if (i < MAX_SLOTS &&
		    invites_create(st, cfg, &s, tok, sizeof(tok), NULL) == 0) {
			memcpy(sh->slots[w][i].token, tok, sizeof(tok));
			__sync_synchronize();
			sh->slots[w][i].state = S_CREATED;
			sh->n[w] = i + 1;
		}
		i = sh->next[w];
		if (i < sh->n[w] && (i % 2 == 0 || i + 4 < sh->n[w])) {
			sl = &sh->slots[w][i];
			/* a killed writer's consume in flight may have
			 * committed: then this one is told EUSED */
			was = sl->state;
			sl->state = S_CONSUMING;
			__sync_synchronize();
			snprintf(user, sizeof(user), "w%ds%d", w, i);
			rc = invites_consume(st, sl->token, "example.com",
			                     INVITES_FOR_REGISTER, user, NULL, 1, 0,
			                     NULL);
			if (rc == 0 || (rc == INVITES_EUSED && was == S_CONSUMING))
				sl->state = S_CONSUMED;
			else
				sl->state = S_CREATED; /* no use made */
			sh->next[w] = i + 1;
		}
	}
}

static void
test_kill(void)
{
	char *uri = store_uri("killed");
	struct invites_config *cfg = helper_cfg(uri);
	struct invites_store *st = NULL;
	struct invites_invite *inv = NULL;
	int round, w, i, status, lost = 0, revived = 0, unknown = 0;
	int busy = 0, inside = 0, checked = 0, rc;
	pid_t pids[KILL_WRITERS];
	uint64_t rs = seed;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		skip_all("no shared memory");
	memset(sh, 0, sizeof(*sh));
	if (invites_store_open(cfg, INVITES_OPEN_CREATE, &st) != 0) {
		ok(0, "open the store for the kill test");
		goto out;
	}
	invites_store_close(&st);
	for (round = 0; round < KILL_ROUNDS; round++) {
		fflush(stdout);
		for (w = 0; w < KILL_WRITERS; w++) {
			sh->opened[w] = 0;
			pids[w] = fork();
			if (pids[w] == 0)
				writer(cfg, w);
		}
		for (w = 0; w < KILL_WRITERS; w++) {
			for (i = 0; i < 500 && !sh->opened[w]; i++)
				usleep(10000);
		}
		usleep((useconds_t)(20000 + helper_rand(&rs) % 180000));
		for (w = 0; w < KILL_WRITERS; w++) {
			kill(pids[w], SIGKILL);
			waitpid(pids[w], &status, 0);
			if (sh->next[w] < sh->n[w] &&
			    sh->slots[w][sh->next[w]].state == S_CONSUMING)
				inside++;
		}
	}
	if (invites_store_open(cfg, 0, &st) != 0) {
		ok(0, "reopen after the kills");
		goto out;
	}
	for (w = 0; w < KILL_WRITERS; w++) {
		for (i = 0; i < sh->n[w]; i++) {
			struct slot *sl = &sh->slots[w][i];

			rc = invites_get_by_token(st, sl->token, &inv);
			checked++;
			if (rc != 0)
				lost++;
			else if (sl->state == S_CONSUMED && inv->uses != 1)
				lost++;
			else if (sl->state == S_CREATED && inv->uses != 0)
				revived++;
			else if (sl->state == S_CONSUMING)
				unknown++;
			invites_invite_free(&inv);
			/* a use cut short by the kill left no lock behind */
			if (sl->state == S_CONSUMING) {
				rc = invites_consume(st, sl->token, "example.com",
				                     INVITES_FOR_REGISTER, "after", NULL,
				                     1, 0, NULL);
				if (rc != 0 && rc != INVITES_EUSED)
					busy++;
			}
		}
	}
	invites_store_close(&st);
	diag("%d kills, %d of them while a consume was in flight; %d invites "
	     "checked", KILL_ROUNDS * KILL_WRITERS, inside, checked);
	ok(checked > 0, "the writers got work done between kills");
	is_int(lost, 0, "no acknowledged create or consume was lost");
	is_int(revived, 0, "nothing was consumed that was never tried");
	is_int(busy, 0, "no row stayed locked by a killed client");
	(void)unknown;
out:
	if (sh != MAP_FAILED)
		munmap(sh, sizeof(*sh));
	invites_config_free(&cfg);
	free(uri);
}

/* ------------------------------------------------------------------ */
/* 3. The server restarted under load                                  */
/* ------------------------------------------------------------------ */

enum { L_NONE, L_WON, L_LOST, L_UNKNOWN };

struct load {
	char tokens[LOAD_TOKENS][INVITES_TOKEN_MAX + 1];
	volatile int outcome[LOAD_PROCS][LOAD_TOKENS];
	char created[LOAD_CREATES][INVITES_TOKEN_MAX + 1];
	volatile int n_created;
	volatile int busy[LOAD_PROCS + 1];
	volatile int after[LOAD_PROCS + 1];   /* ops done after the restarts */
	volatile int other[LOAD_PROCS + 1];
	volatile int restarted;
	volatile int stop;
};

static struct load *ld;

static int
transient(int rc)
{
	return rc == INVITES_EBUSY || rc == INVITES_ERECOVER;
}

static void
consumer(const struct invites_config *cfg, int proc)
{
	struct invites_store *st = NULL;
	unsigned order[LOAD_TOKENS];
	char user[40];
	uint64_t s = seed + (uint64_t)proc * 31;
	int i, t, rc, unknown;

	if (invites_store_open(cfg, 0, &st) != 0)
		_exit(2);
	for (i = 0; i < LOAD_TOKENS; i++)
		order[i] = (unsigned)i;
	helper_shuffle(order, LOAD_TOKENS, &s);
	for (i = 0; i < LOAD_TOKENS && !ld->stop; i++) {
		t = (int)order[i];
		unknown = 0;
		snprintf(user, sizeof(user), "l%dt%d", proc, t);
		do {
			rc = invites_consume(st, ld->tokens[t], "example.com",
			                     INVITES_FOR_REGISTER, user, NULL, 1, 0,
			                     NULL);
			if (rc == INVITES_ERECOVER)
				unknown = 1;
			if (transient(rc)) {
				ld->busy[proc]++;
				usleep(20000);
			}
		} while (transient(rc) && !ld->stop);
		if (rc == 0)
			ld->outcome[proc][t] = L_WON;
		else if (rc == INVITES_EUSED)
			ld->outcome[proc][t] = unknown ? L_UNKNOWN : L_LOST;
		else if (!transient(rc))
			ld->other[proc]++;
		if (ld->restarted && (rc == 0 || rc == INVITES_EUSED))
			ld->after[proc]++;
		usleep(2000);
	}
	invites_store_close(&st);
	_exit(0);
}

static void
creator(const struct invites_config *cfg)
{
	struct invites_store *st = NULL;
	struct invites_spec s;
	char tok[INVITES_TOKEN_MAX + 1];
	int rc;

	if (invites_store_open(cfg, 0, &st) != 0)
		_exit(2);
	memset(&s, 0, sizeof(s));
	s.kind = INVITES_KIND_ACCOUNT;
	s.domain = "example.com";
	while (!ld->stop && ld->n_created < LOAD_CREATES) {
		rc = invites_create(st, cfg, &s, tok, sizeof(tok), NULL);
		if (rc == 0) {
			memcpy(ld->created[ld->n_created], tok, sizeof(tok));
			__sync_synchronize();
			ld->n_created++;
			if (ld->restarted)
				ld->after[LOAD_PROCS]++;
		} else if (transient(rc)) {
			ld->busy[LOAD_PROCS]++;
			usleep(20000);
		} else {
			ld->other[LOAD_PROCS]++;
		}
		usleep(3000);
	}
	invites_store_close(&st);
	_exit(0);
}

static void
test_restart(void)
{
	const char *restart = getenv("PG_RESTART");
	char *uri = store_uri("restarted");
	struct invites_config *cfg = helper_cfg(uri);
	struct invites_store *st = NULL;
	struct invites_invite *inv = NULL;
	struct invites_spec s;
	pid_t pids[LOAD_PROCS + 1];
	int i, p, rc = 0, status, twice = 0, unaccounted = 0, lost = 0;
	int busy = 0, after_ok = 1, other = 0, restarts_ok = 1, bad = 0;
	int64_t t0;

	if (restart == NULL) {
		ok(1, "# SKIP PG_RESTART is not set");
		goto out;
	}
	ld = mmap(NULL, sizeof(*ld), PROT_READ | PROT_WRITE,
	          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ld == MAP_FAILED)
		skip_all("no shared memory");
	memset(ld, 0, sizeof(*ld));
	if (invites_store_open(cfg, INVITES_OPEN_CREATE, &st) != 0) {
		ok(0, "open the store for the restart test");
		goto out;
	}
	memset(&s, 0, sizeof(s));
	s.kind = INVITES_KIND_ACCOUNT;
	s.domain = "example.com";
	for (i = 0; i < LOAD_TOKENS && rc == 0; i++)
		rc = invites_create(st, cfg, &s, ld->tokens[i],
		                    sizeof(ld->tokens[i]), NULL);
	ok(rc == 0, "created %d tokens for the load", LOAD_TOKENS);
	invites_store_close(&st);
	fflush(stdout);
	for (p = 0; p <= LOAD_PROCS; p++) {
		pids[p] = fork();
		if (pids[p] == 0) {
			if (p < LOAD_PROCS)
				consumer(cfg, p);
			creator(cfg);
		}
	}
	t0 = ms_now();
	usleep(300000);
	for (i = 0; i < 2; i++) {
		if (system(restart) != 0)
			restarts_ok = 0;
		usleep(400000);
	}
	ld->restarted = 1;
	diag("two restarts under load took %lld ms",
	     (long long)(ms_now() - t0));
	ok(restarts_ok, "the server was restarted twice under load");
	/* the clients finish their lists on the server that came back */
	for (p = 0; p <= LOAD_PROCS; p++) {
		for (i = 0; i < 600; i++) {
			if (waitpid(pids[p], &status, WNOHANG) == pids[p])
				break;
			if (i == 500)
				ld->stop = 1; /* bounded: 60 s at most */
			usleep(100000);
		}
		if (i == 600) {
			kill(pids[p], SIGKILL);
			waitpid(pids[p], &status, 0);
			bad++;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			bad++;
		}
	}
	is_int(bad, 0, "every client finished by itself");
	for (p = 0; p <= LOAD_PROCS; p++) {
		busy += ld->busy[p];
		other += ld->other[p];
		if (ld->after[p] == 0)
			after_ok = 0;
	}
	diag("EBUSY/ERECOVER answers while the server was away: %d", busy);
	ok(after_ok, "every client reconnected and went on after the restarts");
	is_int(other, 0, "no answers other than success, EUSED and EBUSY");
	for (i = 0; i < LOAD_TOKENS; i++) {
		int won = 0, unknown = 0;

		for (p = 0; p < LOAD_PROCS; p++) {
			won += ld->outcome[p][i] == L_WON;
			unknown += ld->outcome[p][i] == L_UNKNOWN;
		}
		if (won > 1)
			twice++;
		else if (won == 0 && unknown == 0)
			unaccounted++;
	}
	is_int(twice, 0, "no token was spent twice");
	is_int(unaccounted, 0, "every token has its winner (or a client whose "
	       "answer was lost in the restart)");
	if (invites_store_open(cfg, INVITES_OPEN_READONLY, &st) == 0) {
		for (i = 0; i < LOAD_TOKENS; i++) {
			if (invites_get_by_token(st, ld->tokens[i], &inv) != 0 ||
			    inv->uses != 1)
				lost++;
			invites_invite_free(&inv);
		}
		for (i = 0; i < ld->n_created; i++) {
			if (invites_get_by_token(st, ld->created[i], &inv) != 0)
				lost++;
			invites_invite_free(&inv);
		}
		invites_store_close(&st);
	} else {
		lost = -1;
	}
	diag("%d invites created under load", ld->n_created);
	is_int(lost, 0, "every token used once in the store, every "
	       "acknowledged create there");
out:
	if (ld != NULL && ld != MAP_FAILED)
		munmap(ld, sizeof(*ld));
	invites_config_free(&cfg);
	free(uri);
}

int
main(void)
{
	const char *env_seed = getenv("RACE_SEED");

	pg_base = getenv("TEST_STORE_PG");
	if (pg_base == NULL || *pg_base == '\0')
		skip_all("TEST_STORE_PG names no PostgreSQL server "
		         "(tests/pg/race.sh starts one)");
	seed = env_seed != NULL ? strtoull(env_seed, NULL, 10)
	                        : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	if (seed == 0)
		seed = 1;
	diag("RACE_SEED=%llu", (unsigned long long)seed);
	alarm(240); /* a hang is a failure, not a stuck test suite */
	test_race();
	test_kill();
	test_restart();
	return done_testing();
}
