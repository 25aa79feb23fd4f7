/* SPDX-License-Identifier: MIT */
/*
 * bdb_bare: the bare Berkeley DB baselines the invite store is judged
 * against (issue 5, measurements 1, 2 and 5).
 *
 * It opens an environment exactly as src/store_bdb.c does (same DB_CONFIG,
 * same open flags: DB_CREATE, the four subsystems, DB_REGISTER|DB_RECOVER,
 * DB_THREAD; lock detection, an is_alive check, 64 MB cache, 1 MB log
 * files, DB_LOG_AUTO_REMOVE, full sync on commit) with the same index set:
 * a primary B-tree of 32-byte keys and about 300-byte records, and two
 * DB_DUPSORT secondaries kept by DB->associate (expiry time at a fixed
 * offset, inviter JID).  Nothing else: no audit, no reservations, no
 * record encoding.  That is the floor a store built on BDB can reach.
 *
 *   bdb_bare floor DIR           open, draw one token (RAND_bytes +
 *                                SHA-256), put it in one transaction,
 *                                close: what one `invitectl generate` must
 *                                at least do
 *   bdb_bare fill DIR N [PCT]    create DIR with N records, PCT percent of
 *                                them expiring at time 1000 (batched)
 *   bdb_bare ops DIR N OPS SEED  on a store filled with N: OPS puts (one
 *                                transaction each), OPS gets of random
 *                                keys, OPS consumes (txn: get DB_RMW + del)
 *   bdb_bare scan DIR NOW        purge by full scan: visit every record,
 *                                delete those expired before NOW, twice
 *   bdb_bare fsync DIR N         append 512 bytes + fdatasync, N times:
 *                                the disk's floor under every sync commit
 *
 * Results are printed as `key value` words, one phase per line.  Under
 * callgrind, instrumentation is switched on around each timed phase and
 * the counts dumped per phase (valgrind --instr-atstart=no).
 */
#include "config.h"

#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "benchutil.h"

#define REC_LEN 300
#define EXP_OFF 8
#define INVITER_OFF 40
#define N_INVITERS 1000
#define FILL_BATCH 1000
#define SCAN_VISIT 20000
#define SCAN_DELETES 1000

struct bare {
	DB_ENV *env;
	DB *prim;
	DB *exp;
	DB *inv;
};

static const char db_config[] =
    "set_cachesize 0 67108864 1\n"
    "set_lg_max 1048576\n"
    "set_lk_detect DB_LOCK_DEFAULT\n"
    "set_thread_count 128\n";

static void
die_db(const char *what, int ret)
{
	fprintf(stderr, "bdb_bare: %s: %s\n", what, db_strerror(ret));
	exit(70);
}

/* The store's rule: an unreaped zombie is dead (berkeley-db.md). */
static int
is_alive(DB_ENV *env, pid_t pid, db_threadid_t tid, u_int32_t flags)
{
	char path[64], buf[512], *rp;
	ssize_t n;
	int fd;

	(void)env;
	(void)tid;
	(void)flags;
	if (pid == getpid())
		return 1;
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	if (rp == NULL || rp[1] != ' ')
		return 1;
	return !(rp[2] == 'Z' || rp[2] == 'X' || rp[2] == 'x');
}

static void
errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env;
	(void)pfx;
	fprintf(stderr, "bdb_bare: %s\n", msg);
}

static int
exp_key(DB *sec, const DBT *pkey, const DBT *pdata, DBT *skey)
{
	(void)sec;
	(void)pkey;
	if (pdata->size < EXP_OFF + 8)
		return DB_DONOTINDEX;
	memset(skey, 0, sizeof(*skey));
	skey->data = (unsigned char *)pdata->data + EXP_OFF;
	skey->size = 8;
	return 0;
}

static int
inviter_key(DB *sec, const DBT *pkey, const DBT *pdata, DBT *skey)
{
	const char *p;

	(void)sec;
	(void)pkey;
	if (pdata->size < REC_LEN)
		return DB_DONOTINDEX;
	p = (const char *)pdata->data + INVITER_OFF;
	memset(skey, 0, sizeof(*skey));
	skey->data = (void *)(uintptr_t)p;
	skey->size = (u_int32_t)strnlen(p, 64);
	return 0;
}

/* The fill's cache: a million records fit (see store_bench fill). */
static const char fill_config[] = "set_cachesize 0 1073741824 1\n";

static void
write_config(const char *dir, int fill)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/DB_CONFIG", dir);
	/* like the store, an open that is no fill leaves DB_CONFIG alone */
	if (!fill && access(path, F_OK) == 0)
		return;
	f = fopen(path, "w");
	if (f == NULL || fputs(db_config, f) < 0 ||
	    (fill && fputs(fill_config, f) < 0) || fclose(f) != 0) {
		perror(path);
		exit(73);
	}
}

/* Remove the regions of a closed environment (see cmd_fill). */
static void
drop_regions(const char *dir)
{
	char path[4096];
	DB_ENV *env;
	int ret = db_env_create(&env, 0);

	if (ret == 0)
		ret = env->remove(env, dir, 0);
	if (ret != 0)
		die_db("remove regions", ret);
	snprintf(path, sizeof(path), "%s/__db.register", dir);
	if (unlink(path) != 0 && errno != ENOENT) {
		perror(path);
		exit(74);
	}
}

static DB *
open_one(DB_ENV *env, const char *name, int dupsort)
{
	DB *db;
	int ret;

	if ((ret = db_create(&db, env, 0)) != 0)
		die_db("db_create", ret);
	if (dupsort && (ret = db->set_flags(db, DB_DUPSORT)) != 0)
		die_db("set_flags", ret);
	ret = db->open(db, NULL, name, NULL, DB_BTREE,
	               DB_AUTO_COMMIT | DB_CREATE, 0600);
	if (ret != 0)
		die_db(name, ret);
	return db;
}

static void
bare_open(struct bare *b, const char *dir, int fill)
{
	u_int32_t flags = DB_CREATE | DB_INIT_MPOOL | DB_INIT_LOCK |
	                  DB_INIT_LOG | DB_INIT_TXN | DB_REGISTER | DB_RECOVER |
	                  DB_THREAD;
	int ret;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		perror(dir);
		exit(73);
	}
	write_config(dir, fill);
	if ((ret = db_env_create(&b->env, 0)) != 0)
		die_db("db_env_create", ret);
	b->env->set_errcall(b->env, errcall);
	b->env->set_lk_detect(b->env, DB_LOCK_DEFAULT);
	b->env->set_isalive(b->env, is_alive);
	b->env->set_thread_count(b->env, 128);
	b->env->set_cachesize(b->env, 0, 64u << 20, 1);
	b->env->set_lg_max(b->env, 1u << 20);
	if ((ret = b->env->open(b->env, dir, flags, 0600)) != 0)
		die_db("env open", ret);
	if ((ret = b->env->log_set_config(b->env, DB_LOG_AUTO_REMOVE, 1)) != 0)
		die_db("log_set_config", ret);
	b->prim = open_one(b->env, "invites.db", 0);
	b->exp = open_one(b->env, "expiry.db", 1);
	b->inv = open_one(b->env, "inviter.db", 1);
	if ((ret = b->prim->associate(b->prim, NULL, b->exp, exp_key, 0)) != 0 ||
	    (ret = b->prim->associate(b->prim, NULL, b->inv, inviter_key, 0)) != 0)
		die_db("associate", ret);
}

static void
bare_close(struct bare *b)
{
	/* secondaries first; DB_NOSYNC as the store does (the log has it) */
	b->inv->close(b->inv, DB_NOSYNC);
	b->exp->close(b->exp, DB_NOSYNC);
	b->prim->close(b->prim, DB_NOSYNC);
	b->env->close(b->env, 0);
}

/* Deterministic key of record i: SHA-256 of its number. */
static void
key_of(uint64_t i, unsigned char key[32])
{
	unsigned char in[8];

	for (int k = 0; k < 8; k++)
		in[k] = (unsigned char)(i >> (8 * k));
	SHA256(in, sizeof(in), key);
}

static void
record_of(uint64_t i, int64_t expires, unsigned char rec[REC_LEN])
{
	memset(rec, 'x', REC_LEN);
	rec[0] = 0x49;
	rec[1] = 1;
	for (int k = 0; k < 8; k++)
		rec[EXP_OFF + k] = (unsigned char)((uint64_t)expires >> (56 - 8 * k));
	memset(rec + 16, 0, 24);
	snprintf((char *)rec + INVITER_OFF, 64, "user%u@localhost",
	         (unsigned)(i % N_INVITERS));
	rec[INVITER_OFF + 63] = '\0';
}

/* DB_THREAD wants returned DBTs in memory the caller names. */
static void
dbt_user(DBT *d, void *buf, size_t size)
{
	memset(d, 0, sizeof(*d));
	d->data = buf;
	d->ulen = (u_int32_t)size;
	d->flags = DB_DBT_USERMEM;
}

static int
put_rec(struct bare *b, DB_TXN *txn, const unsigned char key[32],
        const unsigned char rec[REC_LEN])
{
	DBT k, d;

	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = (void *)(uintptr_t)key;
	k.size = 32;
	d.data = (void *)(uintptr_t)rec;
	d.size = REC_LEN;
	return b->prim->put(b->prim, txn, &k, &d, DB_NOOVERWRITE);
}

/* One put in its own transaction, retried on deadlock. */
static void
put_txn(struct bare *b, const unsigned char key[32],
        const unsigned char rec[REC_LEN])
{
	for (;;) {
		DB_TXN *txn;
		int ret = b->env->txn_begin(b->env, NULL, &txn, 0);

		if (ret != 0)
			die_db("txn_begin", ret);
		ret = put_rec(b, txn, key, rec);
		if (ret == 0) {
			if ((ret = txn->commit(txn, 0)) != 0)
				die_db("commit", ret);
			return;
		}
		txn->abort(txn);
		if (ret != DB_LOCK_DEADLOCK)
			die_db("put", ret);
	}
}

static int
cmd_floor(const char *dir)
{
	struct bare b;
	unsigned char raw[18], key[32], rec[REC_LEN];

	bare_open(&b, dir, 0);
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		fprintf(stderr, "bdb_bare: RAND_bytes failed\n");
		return 70;
	}
	SHA256(raw, sizeof(raw), key);
	record_of(0, (int64_t)time(NULL) + 7 * 86400, rec);
	put_txn(&b, key, rec);
	bare_close(&b);
	return 0;
}

static void
fill(struct bare *b, uint64_t from, uint64_t n, unsigned pct)
{
	int64_t far = (int64_t)time(NULL) + 7 * 86400;
	uint64_t i = from;

	while (i < from + n) {
		DB_TXN *txn;
		int ret = b->env->txn_begin(b->env, NULL, &txn, 0);
		uint64_t end = i + FILL_BATCH;

		if (ret != 0)
			die_db("txn_begin", ret);
		if (end > from + n)
			end = from + n;
		for (; i < end; i++) {
			unsigned char key[32], rec[REC_LEN];

			key_of(i, key);
			/* every 100/pct-th record expires early, spread evenly */
			record_of(i, pct > 0 && (i * pct) % 100 < pct ? 1000 : far,
			          rec);
			if ((ret = put_rec(b, txn, key, rec)) != 0)
				die_db("fill put", ret);
		}
		if ((ret = txn->commit(txn, 0)) != 0)
			die_db("fill commit", ret);
	}
}

static int
cmd_fill(const char *dir, uint64_t n, unsigned pct)
{
	char path[4096];
	struct bare b;
	double t0 = bench_now_us();

	bare_open(&b, dir, 1);
	fill(&b, 0, n, pct);
	b.env->txn_checkpoint(b.env, 0, 0, DB_FORCE);
	bare_close(&b);
	/* back to the store's settings: regions are rebuilt at the next open */
	snprintf(path, sizeof(path), "%s/DB_CONFIG", dir);
	if (unlink(path) != 0) {
		perror(path);
		return 74;
	}
	write_config(dir, 0);
	drop_regions(dir);
	printf("phase fill n %llu secs %.3f\n", (unsigned long long)n,
	       (bench_now_us() - t0) / 1e6);
	return 0;
}

/* Read every primary record once so the timed phases start warm. */
static void
warm(struct bare *b)
{
	unsigned char kb[64], db[1024];
	DBC *c;
	DBT k, d;
	int ret;

	if ((ret = b->prim->cursor(b->prim, NULL, &c, 0)) != 0)
		die_db("cursor", ret);
	dbt_user(&k, kb, sizeof(kb));
	dbt_user(&d, db, sizeof(db));
	while ((ret = c->get(c, &k, &d, DB_NEXT)) == 0)
		;
	c->close(c);
}

static int
cmd_ops(const char *dir, uint64_t n, uint64_t ops, uint64_t seed)
{
	struct bench_lat lat;
	struct bare b;
	uint64_t *perm, rng = seed * 2654435761u + 1;
	int64_t far = (int64_t)time(NULL) + 7 * 86400;

	if (ops > n)
		ops = n;
	perm = bench_perm(n, &rng);
	if (perm == NULL || bench_lat_init(&lat, ops) != 0) {
		fprintf(stderr, "bdb_bare: out of memory\n");
		return 70;
	}
	bare_open(&b, dir, 0);
	warm(&b);

	/* put: new keys, one transaction each */
	bench_phase_begin();
	for (uint64_t j = 0; j < ops; j++) {
		unsigned char key[32], rec[REC_LEN];
		double t0 = bench_now_us();

		key_of(n + seed * ops + j + 1000000000ull, key);
		record_of(j, far, rec);
		put_txn(&b, key, rec);
		bench_lat_add(&lat, bench_now_us() - t0);
	}
	bench_phase_end("put");
	bench_lat_print("put", &lat);

	/* get: random existing keys, no transaction (a read) */
	bench_lat_reset(&lat);
	bench_phase_begin();
	for (uint64_t j = 0; j < ops; j++) {
		unsigned char key[32], buf[1024];
		DBT k, d;
		double t0 = bench_now_us();
		int ret;

		key_of(bench_rand(&rng) % n, key);
		memset(&k, 0, sizeof(k));
		dbt_user(&d, buf, sizeof(buf));
		k.data = key;
		k.size = 32;
		ret = b.prim->get(b.prim, NULL, &k, &d, 0);
		if (ret != 0)
			die_db("get", ret);
		bench_lat_add(&lat, bench_now_us() - t0);
	}
	bench_phase_end("get");
	bench_lat_print("get", &lat);

	/* consume: txn, get DB_RMW, del, commit; distinct existing keys */
	bench_lat_reset(&lat);
	bench_phase_begin();
	for (uint64_t j = 0; j < ops; j++) {
		unsigned char key[32], buf[1024];
		double t0 = bench_now_us();

		key_of(perm[j], key);
		for (;;) {
			DB_TXN *txn;
			DBT k, d;
			int ret = b.env->txn_begin(b.env, NULL, &txn, 0);

			if (ret != 0)
				die_db("txn_begin", ret);
			memset(&k, 0, sizeof(k));
			dbt_user(&d, buf, sizeof(buf));
			k.data = key;
			k.size = 32;
			ret = b.prim->get(b.prim, txn, &k, &d, DB_RMW);
			if (ret == 0)
				ret = b.prim->del(b.prim, txn, &k, 0);
			if (ret == 0) {
				if ((ret = txn->commit(txn, 0)) != 0)
					die_db("commit", ret);
				break;
			}
			txn->abort(txn);
			if (ret != DB_LOCK_DEADLOCK)
				die_db("consume", ret);
		}
		bench_lat_add(&lat, bench_now_us() - t0);
	}
	bench_phase_end("consume");
	bench_lat_print("consume", &lat);

	bare_close(&b);
	bench_lat_free(&lat);
	free(perm);
	return 0;
}

/*
 * One pass of a purge by full scan: a cursor over the primary in
 * transactions of at most SCAN_VISIT visits or SCAN_DELETES deletions
 * (one transaction over 1M records runs out of locks), resuming after the
 * last key seen.
 */
static uint64_t
scan_pass(struct bare *b, int64_t now)
{
	unsigned char last[32], kb[64], db[1024];
	int have_last = 0, done = 0;
	uint64_t deleted = 0;

	while (!done) {
		DB_TXN *txn;
		DBC *c;
		DBT k, d;
		unsigned visited = 0, dels = 0;
		int ret = b->env->txn_begin(b->env, NULL, &txn, 0);

		if (ret != 0)
			die_db("txn_begin", ret);
		if ((ret = b->prim->cursor(b->prim, txn, &c, 0)) != 0)
			die_db("cursor", ret);
		dbt_user(&k, kb, sizeof(kb));
		dbt_user(&d, db, sizeof(db));
		if (have_last) {
			memcpy(kb, last, 32);
			k.size = 32;
			ret = c->get(c, &k, &d, DB_SET_RANGE | DB_RMW);
		} else {
			ret = c->get(c, &k, &d, DB_FIRST | DB_RMW);
		}
		while (ret == 0) {
			const unsigned char *r = d.data;
			int64_t exp = 0;

			for (int i = 0; i < 8; i++)
				exp = (int64_t)(((uint64_t)exp << 8) | r[EXP_OFF + i]);
			memcpy(last, k.data, 32);
			have_last = 1;
			if (exp < now) {
				if ((ret = c->del(c, 0)) != 0)
					die_db("scan del", ret);
				deleted++;
				dels++;
			}
			if (++visited >= SCAN_VISIT || dels >= SCAN_DELETES)
				break;
			ret = c->get(c, &k, &d, DB_NEXT | DB_RMW);
		}
		if (ret == DB_NOTFOUND)
			done = 1;
		else if (ret != 0)
			die_db("scan", ret);
		c->close(c);
		if ((ret = txn->commit(txn, 0)) != 0)
			die_db("scan commit", ret);
		/* resume strictly after the last key visited */
		if (!done && have_last) {
			int i = 31;

			while (i >= 0 && ++last[i] == 0)
				i--;
			if (i < 0)
				done = 1;
		}
	}
	return deleted;
}

static int
cmd_scan(const char *dir, int64_t now)
{
	struct bare b;
	uint64_t d1, d2;
	double t0, t1, t2;

	bare_open(&b, dir, 0);
	warm(&b);
	t0 = bench_now_us();
	bench_phase_begin();
	d1 = scan_pass(&b, now);
	bench_phase_end("scan1");
	t1 = bench_now_us();
	d2 = scan_pass(&b, now);
	t2 = bench_now_us();
	bare_close(&b);
	printf("phase scan deleted %llu ms %.3f second_deleted %llu "
	       "second_ms %.3f\n",
	       (unsigned long long)d1, (t1 - t0) / 1e3, (unsigned long long)d2,
	       (t2 - t1) / 1e3);
	return 0;
}

/* The physical floor of a durable commit here: append 512 bytes and
 * fdatasync, n times (berkeley-db.md measured 170 us on its machine). */
static int
cmd_fsync(const char *dir, uint64_t n)
{
	struct bench_lat lat;
	char path[4096], buf[512];
	int fd;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		perror(dir);
		return 73;
	}
	snprintf(path, sizeof(path), "%s/fsync.probe", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	if (fd < 0 || bench_lat_init(&lat, n) != 0) {
		perror(path);
		return 73;
	}
	memset(buf, 'f', sizeof(buf));
	for (uint64_t i = 0; i < n; i++) {
		double t0 = bench_now_us();

		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) ||
		    fdatasync(fd) != 0) {
			perror(path);
			return 74;
		}
		bench_lat_add(&lat, bench_now_us() - t0);
	}
	close(fd);
	unlink(path);
	bench_lat_print("fdatasync", &lat);
	bench_lat_free(&lat);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bdb_bare floor DIR\n"
	                "       bdb_bare fill DIR N [PCT_EXPIRED]\n"
	                "       bdb_bare ops DIR N OPS SEED\n"
	                "       bdb_bare scan DIR NOW\n"
	                "       bdb_bare fsync DIR N\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	if (strcmp(argv[1], "floor") == 0 && argc == 3)
		return cmd_floor(argv[2]);
	if (strcmp(argv[1], "fill") == 0 && (argc == 4 || argc == 5))
		return cmd_fill(argv[2], strtoull(argv[3], NULL, 10),
		                argc == 5 ? (unsigned)strtoul(argv[4], NULL, 10) : 0);
	if (strcmp(argv[1], "ops") == 0 && argc == 6)
		return cmd_ops(argv[2], strtoull(argv[3], NULL, 10),
		               strtoull(argv[4], NULL, 10),
		               strtoull(argv[5], NULL, 10));
	if (strcmp(argv[1], "fsync") == 0 && argc == 4)
		return cmd_fsync(argv[2], strtoull(argv[3], NULL, 10));
	if (strcmp(argv[1], "scan") == 0 && argc == 4)
		return cmd_scan(argv[2], strtoll(argv[3], NULL, 10));
	usage();
	return 64;
}
