/* SPDX-License-Identifier: MIT */
/*
 * store_bench: the invite store measured in-process through the public
 * API of libinvites (issue 5, measurements 2, 4 and 5, and the stores
 * measurement 1 runs `invitectl generate` against).
 *
 *   store_bench fill DIR N TOKFILE [EXPIRING]
 *       create a store in DIR holding N account invites (1000 distinct
 *       inviters, like the bare baseline), the first EXPIRING of them
 *       expiring two minutes from now, the others after the configured
 *       week; their tokens go to TOKFILE, one a line.  Fast: for the
 *       duration of the fill, DB_CONFIG gets `set_flags
 *       DB_TXN_WRITE_NOSYNC` (commits written, not fsynced) and a 1 GB
 *       cache, removed again before it returns, with the environment's
 *       regions, so that what is measured later runs with the store's own
 *       settings.
 *   store_bench add DIR N TOKFILE [INVITER]
 *       add N account invites to an existing store (which daemons may
 *       have open), with the store's own settings, as `invitectl
 *       generate DOMAIN` makes them (no inviter), or made by the user
 *       INVITER (who is told when they are used); tokens to TOKFILE
 *   store_bench ops DIR TOKFILE OPS SEED
 *       OPS invites_create (one transaction each), OPS validations
 *       (invites_get_by_token + invites_invite_validate, as pre-auth does)
 *       of random stored tokens, OPS invites_consume of distinct tokens
 *   store_bench purge DIR
 *       invites_purge at now + 1 hour, twice (the second finds nothing)
 *   store_bench stats DIR
 *       invites stored, bytes of the database files and of the logs
 *
 * Output: `phase NAME key value...` lines, as bench/bdb_bare prints them.
 * Tokens are bench data in a temporary directory; they are never printed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <db.h>
#include <invites/invites.h>

#include "benchutil.h"

#define N_INVITERS 1000
/* The fill's own settings: commits written but not fsynced, and a cache
 * that holds a million invites (with the store's 64 MB, every evicted
 * dirty page forces a log fsync). */
#define FAST_LINE "set_flags DB_TXN_WRITE_NOSYNC\nset_cachesize 0 1073741824 1\n"

static void
die(const char *what, int rc)
{
	fprintf(stderr, "store_bench: %s: %s\n", what, invites_strerror(rc));
	exit(70);
}

static struct invites_config *
config_for(const char *dir)
{
	struct invites_config *cfg = NULL;
	char *msg = NULL;
	int rc = invites_config_new(dir, &cfg);

	if (rc != 0)
		die("config", rc);
	rc = invites_config_set(cfg, "domains", "localhost", &msg);
	if (rc != 0) {
		fprintf(stderr, "store_bench: %s\n", msg ? msg : "domains");
		exit(70);
	}
	return cfg;
}

/* Add or remove the fast-fill line of DIR/DB_CONFIG. */
static void
fast_fill(const char *dir, int on)
{
	char path[4096], *text, *p;
	FILE *f;
	long len;

	snprintf(path, sizeof(path), "%s/DB_CONFIG", dir);
	f = fopen(path, "r");
	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0) {
		perror(path);
		exit(74);
	}
	rewind(f);
	text = calloc(1, (size_t)len + sizeof(FAST_LINE) + 1);
	if (text == NULL || fread(text, 1, (size_t)len, f) != (size_t)len) {
		perror(path);
		exit(74);
	}
	fclose(f);
	p = strstr(text, FAST_LINE);
	if (p != NULL)
		memmove(p, p + strlen(FAST_LINE), strlen(p + strlen(FAST_LINE)) + 1);
	if (on)
		strcat(text, FAST_LINE);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(74);
	}
	free(text);
}

/*
 * Drop the environment's regions (the store is closed and nobody else has
 * it open), so that the next open builds them from DB_CONFIG as it now
 * reads: region settings such as the cache size are fixed when the
 * regions are created.
 */
static void
drop_regions(const char *dir)
{
	char path[4096];
	DB_ENV *env;
	int ret = db_env_create(&env, 0);

	if (ret == 0)
		ret = env->remove(env, dir, 0);
	if (ret != 0) {
		fprintf(stderr, "store_bench: %s: removing the regions: %s\n", dir,
		        db_strerror(ret));
		exit(74);
	}
	snprintf(path, sizeof(path), "%s/__db.register", dir);
	if (unlink(path) != 0 && errno != ENOENT) {
		perror(path);
		exit(74);
	}
}

static void
spec_for(struct invites_spec *spec, uint64_t i, char *inviter, size_t size)
{
	memset(spec, 0, sizeof(*spec));
	snprintf(inviter, size, "user%u@localhost", (unsigned)(i % N_INVITERS));
	spec->kind = INVITES_KIND_ACCOUNT;
	spec->domain = "localhost";
	spec->inviter = inviter;
}

static int
cmd_fill(const char *dir, uint64_t n, const char *tokfile, uint64_t expiring)
{
	struct invites_config *cfg = config_for(dir);
	struct invites_store *st = NULL;
	int64_t soon = (int64_t)time(NULL) + 120;
	double t0 = bench_now_us();
	FILE *out;
	int rc;

	rc = invites_store_open(cfg, INVITES_OPEN_CREATE, &st);
	if (rc != 0)
		die("create store", rc);
	invites_store_close(&st);
	fast_fill(dir, 1);
	drop_regions(dir);
	/* a daemon's handle: its checkpoints keep the logs bounded */
	rc = invites_store_open(cfg, INVITES_OPEN_DAEMON, &st);
	if (rc != 0)
		die("open store", rc);
	out = fopen(tokfile, "w");
	if (out == NULL) {
		perror(tokfile);
		return 73;
	}
	for (uint64_t i = 0; i < n; i++) {
		struct invites_spec spec;
		char inviter[64], token[INVITES_TOKEN_MAX + 1];

		spec_for(&spec, i, inviter, sizeof(inviter));
		if (i < expiring)
			spec.expires = soon;
		rc = invites_create(st, cfg, &spec, token, sizeof(token), NULL);
		if (rc != 0)
			die("create", rc);
		fprintf(out, "%s\n", token);
	}
	if (fclose(out) != 0) {
		perror(tokfile);
		return 74;
	}
	invites_store_close(&st);
	fast_fill(dir, 0);
	drop_regions(dir);
	invites_config_free(&cfg);
	printf("phase fill n %llu secs %.3f\n", (unsigned long long)n,
	       (bench_now_us() - t0) / 1e6);
	return 0;
}

static int
cmd_add(const char *dir, uint64_t n, const char *tokfile, const char *by)
{
	struct invites_config *cfg = config_for(dir);
	struct invites_store *st = NULL;
	FILE *out;
	int rc;

	rc = invites_store_open(cfg, 0, &st);
	if (rc != 0)
		die("open store", rc);
	out = fopen(tokfile, "w");
	if (out == NULL) {
		perror(tokfile);
		return 73;
	}
	for (uint64_t i = 0; i < n; i++) {
		struct invites_spec spec;
		char inviter[64], token[INVITES_TOKEN_MAX + 1];

		/* as `invitectl generate DOMAIN` makes them: no inviter, so
		 * nobody is told when they are used */
		spec_for(&spec, i, inviter, sizeof(inviter));
		spec.inviter = by;
		spec.created_by = by != NULL ? NULL : "invitectl:bench";
		rc = invites_create(st, cfg, &spec, token, sizeof(token), NULL);
		if (rc != 0)
			die("create", rc);
		fprintf(out, "%s\n", token);
	}
	if (fclose(out) != 0) {
		perror(tokfile);
		return 74;
	}
	invites_store_close(&st);
	invites_config_free(&cfg);
	return 0;
}

static char **
load_tokens(const char *tokfile, size_t *n_r)
{
	char line[256], **v = NULL;
	size_t n = 0, cap = 0;
	FILE *f = fopen(tokfile, "r");

	if (f == NULL) {
		perror(tokfile);
		exit(66);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			v = realloc(v, cap * sizeof(*v));
			if (v == NULL)
				exit(70);
		}
		v[n] = strdup(line);
		if (v[n++] == NULL)
			exit(70);
	}
	fclose(f);
	*n_r = n;
	return v;
}

/* Read every invite once (a scan), so the timed phases start warm. */
static void
warm(struct invites_store *st)
{
	struct invites_stats s;
	int rc = invites_stats_get(st, 0, &s);

	if (rc != 0)
		die("stats", rc);
}

static int
cmd_ops(const char *dir, const char *tokfile, uint64_t ops, uint64_t seed)
{
	struct invites_config *cfg = config_for(dir);
	struct invites_store *st = NULL;
	struct bench_lat lat;
	uint64_t rng = seed * 2654435761u + 1, *perm;
	size_t n;
	char **tok = load_tokens(tokfile, &n);
	int64_t now = (int64_t)time(NULL);
	int rc;

	if (n == 0) {
		fprintf(stderr, "store_bench: %s: no tokens\n", tokfile);
		return 65;
	}
	if (ops > n)
		ops = n;
	perm = bench_perm(n, &rng);
	if (perm == NULL || bench_lat_init(&lat, ops) != 0)
		die("setup", INVITES_ENOMEM);
	rc = invites_store_open(cfg, INVITES_OPEN_DAEMON, &st);
	if (rc != 0)
		die("open store", rc);
	warm(st);

	bench_phase_begin();
	for (uint64_t j = 0; j < ops; j++) {
		struct invites_spec spec;
		char inviter[64], token[INVITES_TOKEN_MAX + 1];
		double t0 = bench_now_us();

		spec_for(&spec, j, inviter, sizeof(inviter));
		rc = invites_create(st, cfg, &spec, token, sizeof(token), NULL);
		if (rc != 0)
			die("create", rc);
		bench_lat_add(&lat, bench_now_us() - t0);
	}
	bench_phase_end("create");
	bench_lat_print("create", &lat);

	bench_lat_reset(&lat);
	bench_phase_begin();
	for (uint64_t j = 0; j < ops; j++) {
		struct invites_invite *inv = NULL;
		const char *t = tok[bench_rand(&rng) % n];
		double t0 = bench_now_us();

		rc = invites_get_by_token(st, t, &inv);
		if (rc == 0)
			rc = invites_invite_validate(inv, "localhost",
			                             INVITES_FOR_PREAUTH, NULL, now, 1);
		if (rc != 0)
			die("validate", rc);
		invites_invite_free(&inv);
		bench_lat_add(&lat, bench_now_us() - t0);
	}
	bench_phase_end("validate");
	bench_lat_print("validate", &lat);

	bench_lat_reset(&lat);
	bench_phase_begin();
	for (uint64_t j = 0; j < ops; j++) {
		char user[64], jid[96];
		double t0 = bench_now_us();

		snprintf(user, sizeof(user), "b%llux%llu", (unsigned long long)seed,
		         (unsigned long long)j);
		snprintf(jid, sizeof(jid), "%s@localhost", user);
		rc = invites_consume(st, tok[perm[j]], "localhost",
		                     INVITES_FOR_REGISTER, user, jid, 0, now, NULL);
		if (rc != 0)
			die("consume", rc);
		bench_lat_add(&lat, bench_now_us() - t0);
	}
	bench_phase_end("consume");
	bench_lat_print("consume", &lat);

	invites_store_close(&st);
	invites_config_free(&cfg);
	bench_lat_free(&lat);
	for (size_t i = 0; i < n; i++)
		free(tok[i]);
	free(tok);
	free(perm);
	return 0;
}

static int
cmd_purge(const char *dir)
{
	struct invites_config *cfg = config_for(dir);
	struct invites_store *st = NULL;
	int64_t now = (int64_t)time(NULL) + 3600;
	size_t p1 = 0, p2 = 0;
	double t0, t1, t2;
	int rc;

	rc = invites_store_open(cfg, INVITES_OPEN_DAEMON, &st);
	if (rc != 0)
		die("open store", rc);
	warm(st);
	t0 = bench_now_us();
	bench_phase_begin();
	rc = invites_purge(st, now, &p1);
	bench_phase_end("purge1");
	if (rc != 0)
		die("purge", rc);
	t1 = bench_now_us();
	rc = invites_purge(st, now, &p2);
	if (rc != 0)
		die("purge", rc);
	t2 = bench_now_us();
	invites_store_close(&st);
	invites_config_free(&cfg);
	printf("phase purge deleted %zu ms %.3f second_deleted %zu "
	       "second_ms %.3f\n",
	       p1, (t1 - t0) / 1e3, p2, (t2 - t1) / 1e3);
	return 0;
}

static int
cmd_stats(const char *dir)
{
	struct invites_config *cfg = config_for(dir);
	struct invites_store *st = NULL;
	struct invites_stats s;
	int rc;

	rc = invites_store_open(cfg, INVITES_OPEN_READONLY, &st);
	if (rc != 0)
		die("open store", rc);
	rc = invites_stats_get(st, 0, &s);
	if (rc != 0)
		die("stats", rc);
	printf("phase stats total %zu pending %zu audit %zu data_bytes %llu "
	       "log_bytes %llu\n",
	       s.total, s.pending, s.audit_records,
	       (unsigned long long)s.data_bytes, (unsigned long long)s.log_bytes);
	invites_store_close(&st);
	invites_config_free(&cfg);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: store_bench fill DIR N TOKFILE [EXPIRING]\n"
	                "       store_bench add DIR N TOKFILE [INVITER]\n"
	                "       store_bench ops DIR TOKFILE OPS SEED\n"
	                "       store_bench purge DIR\n"
	                "       store_bench stats DIR\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	if (strcmp(argv[1], "fill") == 0 && (argc == 5 || argc == 6))
		return cmd_fill(argv[2], strtoull(argv[3], NULL, 10), argv[4],
		                argc == 6 ? strtoull(argv[5], NULL, 10) : 0);
	if (strcmp(argv[1], "add") == 0 && (argc == 5 || argc == 6))
		return cmd_add(argv[2], strtoull(argv[3], NULL, 10), argv[4],
		               argc == 6 ? argv[5] : NULL);
	if (strcmp(argv[1], "ops") == 0 && argc == 6)
		return cmd_ops(argv[2], argv[3], strtoull(argv[4], NULL, 10),
		               strtoull(argv[5], NULL, 10));
	if (strcmp(argv[1], "purge") == 0 && argc == 3)
		return cmd_purge(argv[2]);
	if (strcmp(argv[1], "stats") == 0 && argc == 3)
		return cmd_stats(argv[2]);
	usage();
	return 64;
}
