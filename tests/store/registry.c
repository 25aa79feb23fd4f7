/* SPDX-License-Identifier: MIT */
/*
 * The store's reading of Berkeley DB's process registry (store_bdb.c,
 * inv__bdb_registry_dead; issue 8).  Each process that has the store
 * open holds a POSIX record lock on its slot of __db.register, which is
 * how the next opener tells a live process from a dead one.  POSIX drops
 * all of a process's record locks on a file when the process closes any
 * descriptor of it, so reading the registry must not cost the reader its
 * own slot lock: if it did, the next opener would recover the
 * environment under a live process (a soak with nothing killed saw that,
 * dozens of times).
 *
 * A child opens the store and reads the registry several times; this
 * process then asks the kernel (F_GETLK) whether the child still holds
 * the lock on its slot, and opens the store itself to check that it
 * found nothing to recover.  A second child registers and leaves without
 * closing: the registry must name it as gone.
 *
 * The registry also decides when a daemon's watchdog runs failchk (see
 * failchk_due in store_bdb.c): not for processes that closed the store
 * and exited, once for one that died with it open; and a process that
 * opens one store after another can read each one's registry.  The
 * library counts failchk runs by reason for this test.  No timed
 * assertion: waits are counted in watchdog passes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "store/helpers.h"
#include "ft.h"
#include "store.h"

#define SLOT 25 /* DB_REGISTER's slot: a right-aligned PID and '\n' */

static char base[4096], store[4200], registry[4300];

/* The offset of pid's slot in the registry, or -1. */
static off_t
slot_of(pid_t pid)
{
	char buf[SLOT * 256 + 1], want[SLOT + 1];
	ssize_t n;
	int fd;
	off_t off;

	snprintf(want, sizeof(want), "%*ld\n", SLOT - 1, (long)pid);
	fd = open(registry, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	for (off = 0; off + SLOT <= n; off += SLOT)
		if (memcmp(buf + off, want, SLOT) == 0)
			return off;
	return -1;
}

/* The PID holding a lock on byte off of the registry, 0 for none, -1 if
 * the kernel cannot say. */
static long
holder(off_t off)
{
	struct flock fl;
	int fd;
	long who;

	fd = open(registry, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = off;
	fl.l_len = 1;
	who = fcntl(fd, F_GETLK, &fl) != 0 ? -1 :
	      fl.l_type == F_UNLCK ? 0 : (long)fl.l_pid;
	/* (this process holds no lock of its own here: closing is safe) */
	close(fd);
	return who;
}

/* Child: open the store, read the registry `reads` times, say so on
 * `out` with the last answer, wait for a byte on `in`, close. */
static int
reader(struct invites_config *cfg, int reads, int in, int out)
{
	struct invites_store *st = NULL;
	char c, answer;
	int i, dead = 0;

	if (invites_store_open(cfg, 0, &st) != 0)
		return 2;
	for (i = 0; i < reads; i++)
		dead |= inv__bdb_registry_dead(store);
	answer = dead ? 'D' : 'L';
	if (write(out, &answer, 1) != 1)
		return 3;
	if (read(in, &c, 1) != 1)
		c = 0;
	invites_store_close(&st);
	return 0;
}

/* failchk runs of this process's watchdogs for reason r */
static unsigned long
failchk_runs_for(int r)
{
	unsigned long runs[INV__FC_NREASONS];

	inv__bdb_failchk_runs(runs);
	return runs[r];
}

/* Wait for n more passes of st's watchdog (at most about 30 s); 0 when
 * they came. */
static int
watchdog_passes(struct invites_store *st, unsigned n)
{
	uint64_t t0, t;
	int i;

	inv__store_watchdog(st, &t0);
	for (i = 0; i < 3000; i++) {
		if (inv__store_watchdog(st, &t) != 0)
			return -1;  /* (the environment failed) */
		if (t >= t0 + n)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* A child that opens the store and exits: closing it first, or not. */
static int
open_and_exit(struct invites_config *cfg, int close_it)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct invites_store *cst = NULL;

		if (invites_store_open(cfg, 0, &cst) != 0)
			_exit(2);
		if (close_it)
			invites_store_close(&cst);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* 3. when the watchdog runs failchk */
static void
failchk_runs(struct invites_config *cfg)
{
	struct invites_store *st = NULL;
	unsigned long before, first;
	unsigned i, bad = 0;
	int rc;

	first = failchk_runs_for(INV__FC_FIRST);
	rc = invites_store_open(cfg, INVITES_OPEN_DAEMON, &st);
	ok(rc == 0, "a daemon opens the store (%s)", invites_strerror(rc));
	if (rc != 0)
		return;
	ok(watchdog_passes(st, 3) == 0, "its watchdog makes passes");
	ok(failchk_runs_for(INV__FC_FIRST) == first + 1,
	   "it ran failchk on its first pass");
	ok(failchk_runs_for(INV__FC_UNREADABLE) == 0,
	   "it could read the registry every time");

	before = failchk_runs_for(INV__FC_DIED);
	for (i = 0; i < 20; i++)
		if (open_and_exit(cfg, 1) != 0)
			bad++;
	ok(bad == 0, "20 processes opened the store, closed it and exited "
	   "(%u did not)", bad);
	ok(watchdog_passes(st, 5) == 0, "the watchdog made 5 more passes");
	ok(failchk_runs_for(INV__FC_DIED) == before,
	   "none of them made it run failchk for a dead process (%lu runs)",
	   failchk_runs_for(INV__FC_DIED) - before);

	ok(open_and_exit(cfg, 0) == 0,
	   "a process opened the store and exited without closing it");
	ok(watchdog_passes(st, 3) == 0, "the watchdog made 3 more passes");
	ok(failchk_runs_for(INV__FC_DIED) == before + 1,
	   "it ran failchk once for that process (%lu runs)",
	   failchk_runs_for(INV__FC_DIED) - before);
	ok(watchdog_passes(st, 10) == 0, "and 10 more passes");
	ok(failchk_runs_for(INV__FC_DIED) == before + 1,
	   "not again for the same process (%lu runs)",
	   failchk_runs_for(INV__FC_DIED) - before);
	invites_store_close(&st);
	diag("failchk runs for slow calls: %lu, periodic: %lu",
	     failchk_runs_for(INV__FC_SLOW), failchk_runs_for(INV__FC_PERIODIC));
}

/* 4. a process that opens one store after another keeps reading their
 * registries (it used to keep a descriptor of each, up to 8) */
static void
many_stores(void)
{
	char dir[4300];
	struct invites_config *c;
	struct invites_store *st = NULL;
	unsigned i, bad = 0;
	unsigned long unreadable = failchk_runs_for(INV__FC_UNREADABLE);

	for (i = 0; i < 12; i++) {
		snprintf(dir, sizeof(dir), "%s/many%u", base, i);
		c = helper_cfg(dir);
		if (invites_store_open(c, INVITES_OPEN_CREATE | INVITES_OPEN_DAEMON,
		                       &st) != 0 ||
		    watchdog_passes(st, 2) != 0)
			bad++;
		invites_store_close(&st);
		invites_config_free(&c);
	}
	ok(bad == 0, "12 stores opened by one process in turn (%u failed)", bad);
	ok(failchk_runs_for(INV__FC_UNREADABLE) == unreadable,
	   "the watchdog read each store's registry (%lu times it could not)",
	   failchk_runs_for(INV__FC_UNREADABLE) - unreadable);
}

int
main(void)
{
	struct invites_config *cfg;
	struct invites_store *st = NULL;
	int to_child[2], from_child[2], status, rc;
	char answer = 0, go = 'g';
	off_t off;
	long who;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	helper_base(base, sizeof(base), "registry");
	snprintf(store, sizeof(store), "%s/store", base);
	snprintf(registry, sizeof(registry), "%s/__db.register", store);
	cfg = helper_cfg(store);
	if (invites_store_open(cfg, INVITES_OPEN_CREATE, &st) != 0)
		bail_out("cannot create the store");
	invites_store_close(&st);

	/* 1. a live reader keeps its slot lock */
	if (pipe(to_child) != 0 || pipe(from_child) != 0)
		bail_out("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		close(to_child[1]);
		close(from_child[0]);
		_exit(reader(cfg, 5, to_child[0], from_child[1]));
	}
	close(to_child[0]);
	close(from_child[1]);
	if (read(from_child[0], &answer, 1) != 1)
		answer = '?';
	ok(answer == 'L', "a process with the store open reads the "
	   "registry: nobody is gone (%c)", answer);
	off = slot_of(pid);
	ok(off >= 0, "the registry has the reader's slot");
	who = off >= 0 ? holder(off) : -1;
	ok(who == (long)pid,
	   "after reading the registry 5 times, the reader still holds the "
	   "lock on its slot (held by %ld)", who);
	/* a new opener must find nothing to recover: the reader's handle
	 * stays usable */
	rc = invites_store_open(cfg, 0, &st);
	ok(rc == 0, "another process opens the store meanwhile (%s)",
	   invites_strerror(rc));
	invites_store_close(&st);
	who = off >= 0 ? holder(off) : -1;
	ok(who == (long)pid, "and the reader is still registered as live "
	   "(held by %ld)", who);
	if (write(to_child[1], &go, 1) != 1)
		diag("cannot wake the reader");
	close(to_child[1]);
	close(from_child[0]);
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	ok(status == 0, "the reader closed the store normally (status %d)",
	   status);

	/* 2. a process that left without closing is named as gone */
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		struct invites_store *cst = NULL;

		_exit(invites_store_open(cfg, 0, &cst) == 0 ? 0 : 2);
	}
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	ok(status == 0, "a process opened the store and left without "
	   "closing it (status %d)", status);
	ok(slot_of(pid) >= 0, "its slot is still in the registry");
	ok(inv__bdb_registry_dead(store) == 1,
	   "reading the registry names a process that is gone");
	/* (and the next opener recovers, as Berkeley DB does) */
	rc = invites_store_open(cfg, 0, &st);
	ok(rc == 0, "the next opener recovers the store (%s)",
	   invites_strerror(rc));
	invites_store_close(&st);

	failchk_runs(cfg);
	many_stores();

	invites_config_free(&cfg);
	helper_rm_rf(base);
	return done_testing();
}
