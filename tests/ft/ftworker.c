/* SPDX-License-Identifier: MIT */
/*
 * ftworker: the library-level processes of the fault-injection test and
 * the soak (tests/ft/faults.py, tests/ft/soak.py), and their checker.
 *
 *   ftworker run SHM IDX CONFIG [DOMAIN]
 *       A consumer daemon (INVITES_OPEN_DAEMON, like c2s and sm) that
 *       loops: create an invite, consume the oldest unconsumed one, now
 *       and then a short-lived invite for purge to find.  Every
 *       acknowledged operation is written to its slots in SHM, a file
 *       shared with the driver, which survives SIGKILL.  It installs a
 *       hang handler: a call blocked behind a dead process makes it exit
 *       INVITES_EXIT_HANG, and the driver (its supervisor) restarts it.
 *   ftworker mint CONFIG DOMAIN N
 *       Create N account invites and print their tokens (the driver's
 *       registrations use them).
 *   ftworker check SHM CONFIG SINCE_MS [LIST]
 *       Check every acknowledged operation of the workers' slots (those
 *       acknowledged at or after SINCE_MS, monotonic, and one in 50 of
 *       the older; 0: all), and of LIST, the driver's own tokens (lines
 *       "TOKEN created|consumed|revoked"): an acknowledged invite must be
 *       there and usable, a consumed one used up, a revoked one revoked.
 *       Prints "checked N lost L revived R"; exit 0 when both are 0.
 *
 * SHM layout (little-endian int64 fields, read by the Python drivers):
 * FT_WORKERS headers of FT_HDR bytes, then FT_SLOTS slots of FT_SLOT
 * bytes per worker.  See the H_* and slot offsets below.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <invites/invites.h>

#define FT_WORKERS 8
#define FT_HDR 128
#define FT_SLOTS 50000
#define FT_SLOT 64
#define FT_TOKEN 40

/* header fields (int64 index) */
enum {
	H_PID = 0,
	H_OPS,          /* successful operations */
	H_LAST_OK,      /* monotonic ms of the last success */
	H_ERRORS,       /* calls that failed (store busy, recovering) */
	H_N,            /* slots used */
	H_NEXT,         /* next slot to consume */
	H_MARK,         /* set by the driver: a kill at this time */
	H_FIRST_AFTER,  /* first success after H_MARK */
	H_HANG_EXITS,   /* exits through the hang handler */
	H_BAD,          /* definite wrong answers (a created invite missing) */
	H_STOP,         /* set by the driver: leave */
	H_MAX_GAP,      /* longest time between two successes */
	H_STARTS,       /* incarnations */
	H_OPEN_FAILS    /* opens that failed */
};

/* slot: token (FT_TOKEN bytes, NUL-terminated), state, ack time */
enum slot_state {
	S_EMPTY = 0,
	S_CREATED,      /* create acknowledged */
	S_CONSUMING,    /* consume started: unknown outcome */
	S_CONSUMED,     /* consume acknowledged */
	S_EPHEMERAL,    /* short-lived, for purge: not checked */
	S_UNKNOWN       /* consume failed in an unknown way */
};
#define SL_STATE FT_TOKEN
#define SL_TIME (FT_TOKEN + 8)

static unsigned char *shm;
static int64_t *hdr;
static unsigned char *slots;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
ld(const int64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static void
st64(int64_t *p, int64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static int64_t *
slot_state(int w, int64_t i)
{
	return (int64_t *)(slots + ((size_t)w * FT_SLOTS + (size_t)i) * FT_SLOT +
	                   SL_STATE);
}

static int64_t *
slot_time(int w, int64_t i)
{
	return (int64_t *)(slots + ((size_t)w * FT_SLOTS + (size_t)i) * FT_SLOT +
	                   SL_TIME);
}

static char *
slot_token(int w, int64_t i)
{
	return (char *)(slots + ((size_t)w * FT_SLOTS + (size_t)i) * FT_SLOT);
}

static void
map_shm(const char *path)
{
	size_t size = (size_t)FT_WORKERS * FT_HDR +
	              (size_t)FT_WORKERS * FT_SLOTS * FT_SLOT;
	int fd = open(path, O_RDWR | O_CREAT, 0666);

	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		fprintf(stderr, "ftworker: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	shm = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (shm == MAP_FAILED) {
		fprintf(stderr, "ftworker: mmap: %s\n", strerror(errno));
		exit(2);
	}
	slots = shm + (size_t)FT_WORKERS * FT_HDR;
}

static void
on_hang(void *ctx, const char *msg)
{
	static const char pfx[] = "ftworker: ";

	(void)ctx;
	__atomic_add_fetch(&hdr[H_HANG_EXITS], 1, __ATOMIC_SEQ_CST);
	if (write(STDERR_FILENO, pfx, sizeof(pfx) - 1) < 0 ||
	    write(STDERR_FILENO, msg, strlen(msg)) < 0 ||
	    write(STDERR_FILENO, "\n", 1) < 0) {
		/* leaving anyway */
	}
	_exit(INVITES_EXIT_HANG);
}

static void
on_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level <= INVITES_LOG_NOTICE)
		fprintf(stderr, "ftworker %ld: %lld: %s\n", (long)getpid(),
		        (long long)now_ms(), msg);
}

static void
success(int64_t *last)
{
	int64_t t = now_ms(), mark;

	if (*last != 0 && t - *last > ld(&hdr[H_MAX_GAP]))
		st64(&hdr[H_MAX_GAP], t - *last);
	*last = t;
	st64(&hdr[H_LAST_OK], t);
	__atomic_add_fetch(&hdr[H_OPS], 1, __ATOMIC_SEQ_CST);
	mark = ld(&hdr[H_MARK]);
	if (mark != 0 && t >= mark && ld(&hdr[H_FIRST_AFTER]) == 0)
		st64(&hdr[H_FIRST_AFTER], t);
}

/* Errors that say nothing about the invite: the store was busy, being
 * recovered, or out of something. */
static int
transient(int rc)
{
	return rc == INVITES_ERECOVER || rc == INVITES_EBUSY ||
	       rc == INVITES_ESTORE || rc == INVITES_ENOMEM ||
	       rc == INVITES_ENOSPC || rc == INVITES_EACCES ||
	       rc == INVITES_ECORRUPT;
}

static int
run(int w, const char *config, const char *domain)
{
	struct invites_config *cfg = NULL;
	struct invites_store *st = NULL;
	struct invites_spec s;
	char tok[INVITES_TOKEN_MAX + 1], user[48], *msg = NULL;
	int64_t last = 0, i, n, iter = 0, t0;
	int rc;

	hdr = (int64_t *)(shm + (size_t)w * FT_HDR);
	st64(&hdr[H_PID], (int64_t)getpid());
	__atomic_add_fetch(&hdr[H_STARTS], 1, __ATOMIC_SEQ_CST);
	invites_set_hang_handler(on_hang, NULL);
	invites_set_log(on_log, NULL);
	if (invites_config_load(config, &cfg, &msg) != 0) {
		fprintf(stderr, "ftworker: %s\n", msg != NULL ? msg : config);
		return 2;
	}
	t0 = now_ms();
	while ((rc = invites_store_open(cfg, INVITES_OPEN_DAEMON, &st)) != 0) {
		/* (the store may be being recovered: try again, as a
		 * supervisor would restart us) */
		__atomic_add_fetch(&hdr[H_OPEN_FAILS], 1, __ATOMIC_SEQ_CST);
		fprintf(stderr, "ftworker %d: open: %s\n", w, invites_strerror(rc));
		if (ld(&hdr[H_STOP]))
			return 0;
		usleep(20000);
	}
	if (now_ms() - t0 > 300)
		fprintf(stderr, "ftworker %d: the open took %lld ms\n", w,
		        (long long)(now_ms() - t0));
	while (!ld(&hdr[H_STOP])) {
		iter++;
		/* create */
		n = ld(&hdr[H_N]);
		memset(&s, 0, sizeof(s));
		s.domain = domain;
		s.kind = INVITES_KIND_ACCOUNT;
		if (iter % 8 == 0)
			s.expires = (int64_t)time(NULL) + 2;
		if (n < FT_SLOTS) {
			rc = invites_create(st, cfg, &s, tok, sizeof(tok), NULL);
			if (rc == 0) {
				memcpy(slot_token(w, n), tok, strlen(tok) + 1);
				st64(slot_time(w, n), now_ms());
				st64(slot_state(w, n),
				     s.expires != 0 ? S_EPHEMERAL : S_CREATED);
				st64(&hdr[H_N], n + 1);
				success(&last);
			} else if (transient(rc) ||
			           (rc == INVITES_EINVAL && s.expires != 0)) {
				/* (a short expiry that a slow call let pass) */
				__atomic_add_fetch(&hdr[H_ERRORS], 1, __ATOMIC_SEQ_CST);
			} else {
				fprintf(stderr, "ftworker %d: create: %s\n", w,
				        invites_strerror(rc));
				__atomic_add_fetch(&hdr[H_BAD], 1, __ATOMIC_SEQ_CST);
			}
		} else {
			/* full: reads keep it busy */
			rc = invites_get_by_token(st, slot_token(w, iter % n), NULL);
			if (rc == 0)
				success(&last);
		}
		/* consume the next created one */
		i = ld(&hdr[H_NEXT]);
		n = ld(&hdr[H_N]);
		while (i < n && ld(slot_state(w, i)) != S_CREATED)
			i++;
		st64(&hdr[H_NEXT], i);
		if (i < n && iter % 2 == 0) {
			st64(slot_state(w, i), S_CONSUMING);
			snprintf(user, sizeof(user), "w%d-%lld", w, (long long)i);
			rc = invites_consume(st, slot_token(w, i), domain,
			                     INVITES_FOR_REGISTER, user, NULL, 1, 0,
			                     NULL);
			if (rc == 0) {
				st64(slot_time(w, i), now_ms());
				st64(slot_state(w, i), S_CONSUMED);
				success(&last);
			} else if (transient(rc)) {
				/* the commit may or may not have happened */
				st64(slot_state(w, i), S_UNKNOWN);
				__atomic_add_fetch(&hdr[H_ERRORS], 1, __ATOMIC_SEQ_CST);
			} else {
				fprintf(stderr, "ftworker %d: consume of an "
				        "acknowledged invite: %s\n", w,
				        invites_strerror(rc));
				st64(slot_state(w, i), S_UNKNOWN);
				__atomic_add_fetch(&hdr[H_BAD], 1, __ATOMIC_SEQ_CST);
			}
		}
		usleep(2000);
	}
	invites_store_close(&st);
	invites_config_free(&cfg);
	return 0;
}

/* 0 fine, 1 lost (should be usable), 2 revived (should not be). */
static int
check_one(struct invites_store *st, const char *token, int want)
{
	struct invites_invite *inv = NULL;
	int rc = 0, tries, usable, revoked, used_up, res = 0;

	for (tries = 0; tries < 5; tries++) {
		rc = invites_get_by_token(st, token, &inv);
		if (!transient(rc))
			break;
		usleep(100000);
	}
	if (rc == INVITES_ENOTFOUND)
		return want == S_CREATED ? 1 : 0;
	if (rc != 0) {
		fprintf(stderr, "ftworker check: get: %s\n", invites_strerror(rc));
		return want == S_CREATED ? 1 : 2;
	}
	used_up = inv->uses >= inv->max_uses;
	revoked = (inv->flags & INVITES_F_REVOKED) != 0;
	usable = !used_up && !revoked && inv->expires > (int64_t)time(NULL);
	if (want == S_CREATED && !usable)
		res = 1;
	else if ((want == S_CONSUMED && !used_up) ||
	         (want == 100 && !revoked))
		res = 2;
	invites_invite_free(&inv);
	return res;
}

static int
check(const char *config, int64_t since, const char *list)
{
	struct invites_config *cfg = NULL;
	struct invites_store *st = NULL;
	char *msg = NULL, line[256], *sp;
	long long checked = 0, lost = 0, revived = 0;
	int64_t n, i, state;
	long lineno;
	int w, r, want, rc;
	FILE *f;

	if (invites_config_load(config, &cfg, &msg) != 0) {
		fprintf(stderr, "ftworker: %s\n", msg != NULL ? msg : config);
		return 2;
	}
	rc = invites_store_open(cfg, INVITES_OPEN_READONLY, &st);
	if (rc == INVITES_ERECOVER)
		rc = invites_store_open(cfg, INVITES_OPEN_READONLY, &st);
	if (rc != 0) {
		fprintf(stderr, "ftworker check: open: %s\n", invites_strerror(rc));
		return 2;
	}
	for (w = 0; w < FT_WORKERS; w++) {
		hdr = (int64_t *)(shm + (size_t)w * FT_HDR);
		n = ld(&hdr[H_N]);
		for (i = 0; i < n && i < FT_SLOTS; i++) {
			state = ld(slot_state(w, i));
			if (state != S_CREATED && state != S_CONSUMED)
				continue;
			if (since > 0 && ld(slot_time(w, i)) < since && i % 50 != 0)
				continue;
			do {
				r = check_one(st, slot_token(w, i), (int)state);
				/* a consume acknowledged while we read */
			} while (r == 1 && ld(slot_state(w, i)) != state &&
			         (state = ld(slot_state(w, i))) != S_CREATED);
			checked++;
			if (r == 1) {
				lost++;
				fprintf(stderr, "lost: worker %d slot %lld\n", w,
				        (long long)i);
			} else if (r == 2) {
				revived++;
				fprintf(stderr, "revived: worker %d slot %lld\n", w,
				        (long long)i);
			}
		}
	}
	f = list != NULL ? fopen(list, "r") : NULL;
	lineno = 0;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		sp = strchr(line, ' ');
		if (sp == NULL)
			continue;
		*sp++ = '\0';
		want = strcmp(sp, "created") == 0 ? S_CREATED :
		       strcmp(sp, "consumed") == 0 ? S_CONSUMED :
		       strcmp(sp, "revoked") == 0 ? 100 : 0;
		if (want == 0)
			continue;
		r = check_one(st, line, want);
		checked++;
		/* (named by line: tokens are not printed) */
		if (r == 1) {
			lost++;
			fprintf(stderr, "lost: driver line %ld (%s)\n", lineno, sp);
		} else if (r == 2) {
			revived++;
			fprintf(stderr, "revived: driver line %ld (%s)\n", lineno,
			        sp);
		}
	}
	if (f != NULL)
		fclose(f);
	invites_store_close(&st);
	invites_config_free(&cfg);
	printf("checked %lld lost %lld revived %lld\n", checked, lost, revived);
	return lost == 0 && revived == 0 ? 0 : 1;
}

/* Create n account invites for domain and print their tokens. */
static int
mint(const char *config, const char *domain, long n)
{
	struct invites_config *cfg = NULL;
	struct invites_store *st = NULL;
	struct invites_spec s;
	char tok[INVITES_TOKEN_MAX + 1], *msg = NULL;
	long i;
	int rc;

	if (invites_config_load(config, &cfg, &msg) != 0) {
		fprintf(stderr, "ftworker: %s\n", msg != NULL ? msg : config);
		return 2;
	}
	rc = invites_store_open(cfg, 0, &st);
	for (i = 0; rc == 0 && i < n; i++) {
		memset(&s, 0, sizeof(s));
		s.domain = domain;
		s.kind = INVITES_KIND_ACCOUNT;
		rc = invites_create(st, cfg, &s, tok, sizeof(tok), NULL);
		if (rc == 0)
			printf("%s\n", tok);
	}
	if (rc != 0)
		fprintf(stderr, "ftworker mint: %s\n", invites_strerror(rc));
	invites_store_close(&st);
	invites_config_free(&cfg);
	return rc == 0 && fflush(stdout) == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "run") == 0) {
		int w = atoi(argv[3]);

		if (w < 0 || w >= FT_WORKERS)
			return 64;
		map_shm(argv[2]);
		return run(w, argv[4], argc > 5 ? argv[5] : "example.com");
	}
	if (argc >= 5 && strcmp(argv[1], "check") == 0) {
		map_shm(argv[2]);
		return check(argv[3], strtoll(argv[4], NULL, 10),
		             argc > 5 ? argv[5] : NULL);
	}
	if (argc == 5 && strcmp(argv[1], "mint") == 0)
		return mint(argv[2], argv[3], strtol(argv[4], NULL, 10));
	fprintf(stderr, "usage: ftworker run SHM IDX CONFIG [DOMAIN] | "
	        "check SHM CONFIG SINCE_MS [LIST] | mint CONFIG DOMAIN N\n");
	return 64;
}
