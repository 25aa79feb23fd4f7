/* SPDX-License-Identifier: MIT */
/*
 * The Berkeley DB backend of the invite store: the only file that includes
 * <db.h>.
 *
 * One transactional environment in one directory, shared by every process
 * of a site (c2s, sm, invitectl).  The open sequence, the failure handling
 * and the sizing follow docs/berkeley-db.md, which measured them: DB_CONFIG
 * written at creation, deadlock detection on every conflict, an is_alive
 * check that counts zombies as dead, DB_REGISTER with DB_RECOVER (never
 * DB_RECOVER alone), full sync on commit, a failchk watchdog and periodic
 * checkpoints in daemons.  Every operation of store.h is one transaction,
 * retried when Berkeley DB picks it as a deadlock victim; once the
 * environment has panicked every call returns INVITES_ERECOVER without
 * touching it, and the caller reopens.
 *
 * Hung calls (issue 8).  A process killed inside Berkeley DB leaves a mutex
 * held; a thread of ours that waits for it is never woken, not by failchk
 * and not by another process's recovery.  So every call into Berkeley DB
 * takes a "busy" slot with its start time, and a monitor thread, which
 * calls nothing in Berkeley DB, watches them: once the environment has
 * failed (failchk found the dead process, or a panic), a call still inside
 * it STUCK_MS later cannot come back.  Nor can anything when failchk
 * itself is stuck: aborting a dead process's transaction, it can block
 * destroying a mutex that a thread of ours waits on (seen in the fault
 * tests, glibc 2.36).  The monitor then logs one line and calls the
 * process's hang handler (invites_set_hang_handler(): daemons exit there
 * and are restarted); the library itself never exits.  The watchdog
 * thread looks every WATCHDOG_MS and runs failchk when a registered
 * process has died or a call is slow (failchk_due says why not always);
 * checkpoints run in a third thread, so neither can silence the other.
 * The threads run with INVITES_OPEN_DAEMON (checkpoints too) and in any
 * process that set a hang handler (invitectl).
 *
 * Files in the store directory: meta.db (magic and format version; its
 * presence marks the directory as a store), invites.db (hash -> record),
 * expiry.db and inviter.db (secondary indexes kept by DB->associate),
 * reserve.db, pending.db, roles.db, audit.db, invites.gate (see "The
 * writers' gate" below), and Berkeley DB's own DB_CONFIG, __db.* regions
 * and log.* files.
 */
#include "config.h"

#include <db.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "ft.h"
#include "store.h"

#define F_META    "meta.db"
#define F_INVITES "invites.db"
#define F_EXPIRY  "expiry.db"
#define F_INVITER "inviter.db"
#define F_RESERVE "reserve.db"
#define F_PENDING "pending.db"
#define F_ROLES   "roles.db"
#define F_AUDIT   "audit.db"
#define F_GATE    INV__BDB_GATE_FILE

static const char *const db_files[] = {
	F_META, F_INVITES, F_EXPIRY, F_INVITER, F_RESERVE, F_PENDING, F_ROLES,
	F_AUDIT
};
#define N_DB_FILES (sizeof(db_files) / sizeof(db_files[0]))

/* First line of the DB_CONFIG we write: marks a store being created. */
#define CONFIG_SIGNATURE "# xmpp-invites store"
#define THREAD_COUNT 128
#define LOG_MAX (1024 * 1024)
#define WATCHDOG_MS 100
/* failchk also runs (see failchk_due) when a call of ours has been inside
 * Berkeley DB for FC_SLOW_MS, and at least every FC_BACKSTOP_MS; the
 * dead registered processes it was run for, up to FC_HANDLED, are not run
 * for again. */
#define FC_SLOW_MS 500
#define FC_BACKSTOP_MS 10000
#define FC_HANDLED 32
#define CHECKPOINT_MS 1000    /* every second ... */
#define CHECKPOINT_KB 1024    /* ... when 1 MB of log was written */
#define CHECKPOINT_MIN 1      /* ... or a minute has passed */
/* A call still inside Berkeley DB this long after the environment failed
 * is blocked behind the dead process for good; so is failchk itself when
 * it has not come back after FAILCHK_STUCK_MS. */
#define STUCK_MS 400
#define FAILCHK_STUCK_MS 1000
/* How long a recovering opener lets live processes finish their writes.
 * Berkeley DB only sleeps that long before it reads the log: a writer
 * descheduled for longer lands its bytes behind the recovery, and the
 * log no longer recovers (seen once at 100 ms with the machine at load
 * 25: "Log sequence error" at the next recovery).  Longer is safer and
 * delays every survivor of a death inside the store by as much. */
#define REG_WAIT_US 250000
/* An open (with recovery) that has not come back after this long waits
 * for a dead process's mutex (see open_watch_main). */
#define OPEN_STUCK_MS 2000
/* ... and these long without that evidence (see inv__bdb_registry_dead): a
 * recovering opener clears the registry before it recovers, so one that
 * blocks after that leaves none; only time tells then. */
#define OPEN_STUCK_BLIND_MS 8000
#define FAILCHK_STUCK_BLIND_MS 5000
/* The longest a writer waits at the gate for an opener, or an opener for
 * the writers inside: longer than a process blocked inside Berkeley DB
 * behind a dead one takes to exit through its hang handler. */
#define GATE_WAIT_MS 6000
/* Calls inside Berkeley DB at once that the watchdog can follow. */
#define BUSY_SLOTS 16
#define SCAN_BATCH 256        /* records per read transaction */
#define META_KEY "meta"
#define META_MAGIC "xmpp-invites-db1" /* 16 bytes */
#define META_MAGIC_LEN 16
#define META_LEN (META_MAGIC_LEN + 4 + 8)

struct inv__backend {
	DB_ENV *env;
	DB *meta, *inv, *exp, *byinv, *res, *pend, *roles, *audit;
	char *path;
	unsigned flags;
	atomic_int panicked;
	atomic_int region_panicked;    /* see panic_region() */
	atomic_int damaged;            /* a page failed its checksum */
	atomic_int os_error;           /* errno Berkeley DB last reported in
	                                  a message (ENOSPC, EACCES, EROFS) */
	atomic_int_fast64_t failed_ms; /* when it failed (monotonic ms) */
	/* calls inside Berkeley DB: their start (monotonic ms), 0 = free */
	atomic_int_fast64_t busy[BUSY_SLOTS];
	/* the watchdog (failchk), the monitor (hung calls), the
	 * checkpointer */
	int have_threads;
	int have_monitor;
	pthread_t monitor;
	int have_watchdog;
	pthread_t watchdog;
	atomic_int wd_running;         /* 0 once the watchdog has left */
	atomic_int_fast64_t fc_since;  /* failchk running since, 0: not */
	int have_checkpointer;
	pthread_t checkpointer;
	atomic_int ckpt_running;       /* 0 once the checkpointer has left */
	pthread_mutex_t wd_lock;
	pthread_cond_t wd_cond;
	/* stop requests, one per thread (THR_*), under wd_lock */
	int stop[3];
	int hang_reported;             /* monitor thread only */
	atomic_uint_fast64_t wd_ticks; /* completed watchdog passes (tests) */
	/* the watchdog's own (see failchk_due) */
	int64_t fc_last;               /* its last failchk, monotonic ms */
	unsigned fc_nhandled;          /* dead processes it has run it for */
	uint64_t fc_handled[FC_HANDLED];
	/* the writers' gate: its file (-1: none), held exclusively while
	 * opening, and this process's writers inside, under gate_lock */
	int gate_fd;
	int gate_excl;
	unsigned gate_writers;
	pthread_mutex_t gate_lock;
	/* this process's open stores (one handle per store: DB_REGISTER) */
	dev_t dev;
	ino_t ino;
	pid_t pid;
	struct inv__backend *next_open;
};

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct inv__backend *open_list;

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

static void
set_panicked(struct inv__backend *be, const char *what)
{
	if (atomic_exchange(&be->panicked, 1) == 0) {
		atomic_store(&be->failed_ms, inv__monotonic_ms());
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: %s: Berkeley DB needs recovery; "
		         "every operation now fails until the store is reopened",
		         be->path, what);
	}
}

/*
 * Mark the shared environment itself panicked, once we know it needs
 * recovery.  Berkeley DB 5.3 never wakes a thread that waits for a mutex
 * a dead process holds; with the region's panic flag set, every call of
 * every process sharing it (closing our own handles too: DB->close logs a
 * record, and so waits for the log's mutex) fails at once with
 * DB_RUNRECOVERY instead.  Setting the flag takes no mutex.
 */
static void
panic_region(struct inv__backend *be)
{
	if (be->env != NULL && atomic_exchange(&be->region_panicked, 1) == 0)
		(void)be->env->set_flags(be->env, DB_PANIC_ENVIRONMENT, 1);
}

/*
 * A call into Berkeley DB begins: take a busy slot (the watchdog looks
 * for calls that never come back).  Returns the slot, or -1 when all are
 * taken (that call is then not watched).
 */
int
inv__bdb_busy_enter(struct inv__backend *be)
{
	int_fast64_t free_slot, now = inv__monotonic_ms();
	int i;

	for (i = 0; i < BUSY_SLOTS; i++) {
		free_slot = 0;
		if (atomic_compare_exchange_strong(&be->busy[i], &free_slot, now))
			return i;
	}
	return -1;
}

void
inv__bdb_busy_leave(struct inv__backend *be, int slot)
{
	if (slot >= 0)
		atomic_store(&be->busy[slot], 0);
}

/*
 * The writers' gate.  An opener that has to recover the environment
 * marks it panicked, so that live processes stop, waits REG_WAIT_US
 * twice, then reads and truncates the log.  A writer of another process
 * already inside a commit, and descheduled for longer than that, would
 * land its log records behind the recovery: a rolled-back or unreadable
 * log.  So a process holds a shared lock on F_GATE while any of its
 * threads is inside a call that may write the log, and an opener holds
 * it exclusively from before its open until its databases are open: it
 * waits until no writer of another process is inside (one blocked there
 * for good exits through its hang handler, and the kernel drops its
 * lock), and keeps new ones out until it is done.
 *
 * The locks are open file description locks (F_OFD_SETLK): one per
 * descriptor, so the threads of a process share one shared lock
 * (counted in gate_writers), and dropped when the process dies.  Byte 0
 * is a turnstile: writers pass through it on their way in and an opener
 * takes it first, so that a stream of calls from several processes
 * cannot starve an opener (failchk goes straight in: see gate_enter).
 * Every wait ends after GATE_WAIT_MS; past
 * that, the call or the open goes on without the gate (logged), as it
 * did before there was one.  Reads (DB_READ_COMMITTED transactions)
 * write no log record and do not pass the gate.
 */
enum { GATE_TURNSTILE = 0, GATE_INSIDE = 1 };

static char *file_path(const char *dir, const char *name);

/* Lock (F_RDLCK, F_WRLCK) or unlock (F_UNLCK) one byte of the gate,
 * waiting up to wait_ms: 0, ETIMEDOUT, or an errno. */
static int
gate_byte(int fd, short type, off_t byte, int wait_ms)
{
	struct timespec pause = { 0, 100000 };
	int64_t until = inv__monotonic_ms() + wait_ms;
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = byte;
	fl.l_len = 1;
	for (;;) {
		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return errno;
		if (inv__monotonic_ms() >= until)
			return ETIMEDOUT;
		/* (an opener holds it for milliseconds: poll, backing off
		 * from 0.1 ms to 3.2 ms) */
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 3200000)
			pause.tv_nsec *= 2;
	}
}

static void
gate_open(struct inv__backend *be)
{
	char *path = file_path(be->path, F_GATE);

	be->gate_fd = -1;
	if (path == NULL)
		return;
	be->gate_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	                   0600);
	/* a read-only store: take part as a reader of the gate at least */
	if (be->gate_fd < 0)
		be->gate_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
}

static void
gate_close(struct inv__backend *be)
{
	if (be->gate_fd >= 0)
		close(be->gate_fd);
	be->gate_fd = -1;
}

/*
 * A call that may write the log begins (see "The writers' gate").
 * failchk skips the turnstile: it aborts a dead process's transactions,
 * which may be what a writer inside waits for, and so what an opener at
 * the turnstile waits for.
 */
static void
gate_enter(struct inv__backend *be, int turnstile)
{
	int rc = 0;

	if (be->gate_fd < 0 || be->gate_excl)
		return;
	pthread_mutex_lock(&be->gate_lock);
	if (be->gate_writers++ == 0) {
		if (turnstile)
			rc = gate_byte(be->gate_fd, F_RDLCK, GATE_TURNSTILE,
			               GATE_WAIT_MS);
		if (rc == 0)
			rc = gate_byte(be->gate_fd, F_RDLCK, GATE_INSIDE,
			               GATE_WAIT_MS);
		if (turnstile)
			(void)gate_byte(be->gate_fd, F_UNLCK, GATE_TURNSTILE, 0);
	}
	pthread_mutex_unlock(&be->gate_lock);
	if (rc != 0)
		inv__log(INVITES_LOG_WARNING, "invite store %s: %s: going on "
		         "without the writers' gate", be->path,
		         rc == ETIMEDOUT ? "an opener held it too long"
		                         : strerror(rc));
}

void
inv__bdb_write_enter(struct inv__backend *be)
{
	gate_enter(be, 1);
}

void
inv__bdb_write_leave(struct inv__backend *be)
{
	if (be->gate_fd < 0 || be->gate_excl)
		return;
	pthread_mutex_lock(&be->gate_lock);
	if (--be->gate_writers == 0)
		(void)gate_byte(be->gate_fd, F_UNLCK, GATE_INSIDE, 0);
	pthread_mutex_unlock(&be->gate_lock);
}

/* An open begins: hold the gate alone (see "The writers' gate"). */
static void
gate_close_in(struct inv__backend *be)
{
	int rc;

	if (be->gate_fd < 0)
		return;
	be->gate_excl = 1;
	rc = gate_byte(be->gate_fd, F_WRLCK, GATE_TURNSTILE, GATE_WAIT_MS);
	if (rc == 0)
		rc = gate_byte(be->gate_fd, F_WRLCK, GATE_INSIDE, GATE_WAIT_MS);
	/* (EBADF: a read-only store, where nobody writes) */
	if (rc != 0 && rc != EBADF)
		inv__log(INVITES_LOG_WARNING, "invite store %s: %s: opening "
		         "without the writers' gate", be->path,
		         rc == ETIMEDOUT ? "a writer of another process stayed "
		                           "inside Berkeley DB"
		                         : strerror(rc));
}

static void
gate_reopen(struct inv__backend *be)
{
	if (be->gate_fd < 0 || !be->gate_excl)
		return;
	(void)gate_byte(be->gate_fd, F_UNLCK, GATE_INSIDE, 0);
	(void)gate_byte(be->gate_fd, F_UNLCK, GATE_TURNSTILE, 0);
	be->gate_excl = 0;
}

/* Map a Berkeley DB or errno code (or one of ours, passed through). */
static int
map_ret(struct inv__backend *be, int ret, const char *what)
{
	if (ret == 0)
		return 0;
	if (ret < 0 && ret >= INVITES_EINTERNAL)
		return ret;
	switch (ret) {
	case DB_NOTFOUND:
	case DB_KEYEMPTY:
		return INVITES_ENOTFOUND;
	case DB_KEYEXIST:
		return INVITES_EEXIST;
	case DB_LOCK_DEADLOCK:
	case DB_LOCK_NOTGRANTED:
		return INVITES_EBUSY;
	case DB_RUNRECOVERY:
		set_panicked(be, what);
		return atomic_load(&be->damaged) ? INVITES_ECORRUPT :
		       INVITES_ERECOVER;
	case DB_VERIFY_BAD:
	case DB_PAGE_NOTFOUND:
	case DB_SECONDARY_BAD:
		inv__log(INVITES_LOG_ERR, "invite store %s: %s: %s", be->path,
		         what, db_strerror(ret));
		return INVITES_ECORRUPT;
	case DB_VERSION_MISMATCH:
	case DB_OLD_VERSION:
		inv__log(INVITES_LOG_ERR, "invite store %s: %s: %s", be->path,
		         what, db_strerror(ret));
		return INVITES_EVERSION;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		inv__log(INVITES_LOG_ERR, "invite store %s: %s: %s", be->path,
		         what, db_strerror(ret));
		return INVITES_ENOSPC;
	case EACCES:
	case EPERM:
	case EROFS:
		inv__log(INVITES_LOG_ERR, "invite store %s: %s: %s", be->path,
		         what, db_strerror(ret));
		return INVITES_EACCES;
	case ENOMEM:
		inv__log(INVITES_LOG_ERR, "invite store %s: %s: %s", be->path,
		         what, db_strerror(ret));
		return INVITES_ENOMEM;
	default:
		inv__log(INVITES_LOG_ERR, "invite store %s: %s: %s", be->path,
		         what, db_strerror(ret));
		return INVITES_ESTORE;
	}
}

static int
is_retry(int ret)
{
	return ret == DB_LOCK_DEADLOCK || ret == DB_LOCK_NOTGRANTED;
}

/* ------------------------------------------------------------------ */
/* Environment callbacks                                               */
/* ------------------------------------------------------------------ */

static void
errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	struct inv__backend *be = env->app_private;

	(void)pfx;
	inv__log(INVITES_LOG_ERR, "invite store %s: %s",
	         be != NULL ? be->path : "?", msg);
	/* Berkeley DB names the OS error only in its message: remember the
	 * ones that tell a failed open from a damaged store. */
	if (be != NULL) {
		if (strstr(msg, strerror(ENOSPC)) != NULL)
			atomic_store(&be->os_error, ENOSPC);
		else if (strstr(msg, strerror(EROFS)) != NULL)
			atomic_store(&be->os_error, EROFS);
		else if (strstr(msg, strerror(EACCES)) != NULL)
			atomic_store(&be->os_error, EACCES);
	}
	/* A page failed its checksum (BDB0684): a damaged file, which no
	 * recovery mends; the panic that follows is reported as ECORRUPT. */
	if (be != NULL && strstr(msg, "checksum error") != NULL &&
	    atomic_exchange(&be->damaged, 1) == 0)
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: a database page is damaged; check the "
		         "store with `invitectl verify` and restore the last "
		         "backup (docs/fault-tolerance.md)", be->path);
}

static void
msgcall(const DB_ENV *env, const char *msg)
{
	const struct inv__backend *be = env->app_private;

	inv__log(INVITES_LOG_INFO, "invite store %s: %s",
	         be != NULL ? be->path : "?", msg);
}

static void
event_notify(DB_ENV *env, u_int32_t event, void *info)
{
	struct inv__backend *be = env->app_private;

	(void)info;
	if (be == NULL)
		return;
	if (event == DB_EVENT_PANIC)
		set_panicked(be, "panic");
	else if (event == DB_EVENT_REG_PANIC)
		set_panicked(be, "another process recovered the environment");
}

/*
 * Is process pid alive?  kill(pid, 0) succeeds on an unreaped zombie, and
 * failchk then never notices a dead writer (berkeley-db.md, Pitfalls), so
 * a zombie (state Z or X in /proc/PID/stat) counts as dead.
 */
static int
proc_alive(pid_t pid)
{
	char path[64], buf[512], *rp;
	ssize_t n;
	int fd;

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

/*
 * failchk asks once per thread slot, so a pass asks about the same few
 * processes many times (each of c2s, sm and invites-web has several
 * threads in the table): an answer is kept for ALIVE_CACHE_MS, well
 * under the watchdog's 100 ms period, per calling thread.
 */
#define ALIVE_CACHE 16
#define ALIVE_CACHE_MS 20

static int
is_alive(DB_ENV *env, pid_t pid, db_threadid_t tid, u_int32_t flags)
{
	static _Thread_local struct {
		pid_t pid;
		int alive;
		int64_t at;
	} cache[ALIVE_CACHE];
	static _Thread_local unsigned next;
	int64_t now;
	unsigned i;
	int alive;

	(void)env;
	(void)tid;
	(void)flags;
	if (pid == getpid())
		return 1;
	now = inv__monotonic_ms();
	for (i = 0; i < ALIVE_CACHE; i++)
		if (cache[i].pid == pid && now - cache[i].at < ALIVE_CACHE_MS)
			return cache[i].alive;
	alive = proc_alive(pid);
	i = next++ % ALIVE_CACHE;
	cache[i].pid = pid;
	cache[i].alive = alive;
	cache[i].at = now;
	return alive;
}

/*
 * Reading the process registry without losing our own place in it.
 * DB_REGISTER marks each live process by a POSIX record lock (fcntl) on
 * its slot of __db.register, and POSIX drops every record lock a process
 * holds on a file as soon as the process closes *any* descriptor of that
 * file.  A read through a descriptor of our own that is then closed
 * would therefore unlock this process's slot (and, during an open, the
 * registry lock Berkeley DB holds meanwhile); the next opener would take
 * this live process for a dead one and recover the environment under
 * everyone (tests/store/registry shows the lock going).  So the
 * descriptor used for reading is never closed: one per
 * registry file (device and inode) this process has looked at, a handful
 * at most; a file replaced meanwhile gets a new one and the old one stays.
 */
#define REG_FDS 8

static struct {
	dev_t dev;
	ino_t ino;
	int fd;
} reg_fds[REG_FDS];
static int reg_nfds;
static pthread_mutex_t reg_fds_lock = PTHREAD_MUTEX_INITIALIZER;

/* A descriptor of path's registry that stays open; -1 when there is
 * none (no file, or the table is full: nothing is known then). */
static int
registry_fd(const char *path)
{
	struct stat st, fst;
	int fd = -1, i;

	if (stat(path, &st) != 0)
		return -1;
	pthread_mutex_lock(&reg_fds_lock);
	for (i = 0; i < reg_nfds && fd < 0; i++)
		if (reg_fds[i].dev == st.st_dev && reg_fds[i].ino == st.st_ino &&
		    fstat(reg_fds[i].fd, &fst) == 0 && fst.st_nlink > 0)
			fd = reg_fds[i].fd;
	if (fd < 0 && reg_nfds < REG_FDS) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &fst) == 0) {
			/* (kept even when it is not the file stat saw: closing
			 * it is what must never happen) */
			reg_fds[reg_nfds].dev = fst.st_dev;
			reg_fds[reg_nfds].ino = fst.st_ino;
			reg_fds[reg_nfds].fd = fd;
			reg_nfds++;
			if (fst.st_dev != st.st_dev || fst.st_ino != st.st_ino)
				fd = -1;
		} else if (fd >= 0) {
			/* (cannot happen on an open descriptor; if it does, the
			 * descriptor is kept all the same, unused) */
			fd = -1;
		}
	}
	pthread_mutex_unlock(&reg_fds_lock);
	return fd;
}

/* This process has closed its environment handle on the store in dir:
 * Berkeley DB has closed its own descriptor of the registry, so this
 * process holds no lock there any more, and the descriptor kept for
 * reading can go (a process that opens many stores, one after another,
 * would otherwise fill the table and lose sight of the registry). */
static void
registry_forget(const char *dir)
{
	char path[4096];
	struct stat st;
	int i;

	if (snprintf(path, sizeof(path), "%s/__db.register", dir) >=
	    (int)sizeof(path) || stat(path, &st) != 0)
		return;
	pthread_mutex_lock(&reg_fds_lock);
	for (i = 0; i < reg_nfds; i++)
		if (reg_fds[i].dev == st.st_dev && reg_fds[i].ino == st.st_ino) {
			close(reg_fds[i].fd);
			reg_fds[i] = reg_fds[--reg_nfds];
			break;
		}
	pthread_mutex_unlock(&reg_fds_lock);
}

/*
 * The process registry (DB_REGISTER's __db.register): one slot of
 * REG_SLOT bytes per process, a right-aligned PID, or 'X' when free.
 * registry_scan() lists the slots whose process is gone, as
 * (slot << 32 | pid), up to max of them, and counts them all in *n_r.
 * Reads a file and /proc, nothing of Berkeley DB's; -1 when the registry
 * cannot be read.
 */
#define REG_SLOT 25

static int
registry_scan(const char *dir, uint64_t *dead, unsigned max, unsigned *n_r)
{
	char path[4096], buf[REG_SLOT * 256 + 1], *line, *nl, *p;
	ssize_t n;
	size_t len = 0;
	uint64_t slot;
	long pid;
	int fd;

	*n_r = 0;
	if (snprintf(path, sizeof(path), "%s/__db.register", dir) >=
	    (int)sizeof(path))
		return -1;
	fd = registry_fd(path);
	if (fd < 0)
		return -1;
	while (len < sizeof(buf) - 1 &&
	       (n = pread(fd, buf + len, sizeof(buf) - 1 - len,
	                  (off_t)len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	/* only well-formed slots count: REG_SLOT - 1 characters, blanks
	 * then digits, and a newline (a process that died registering may
	 * have left a partial one) */
	for (line = buf, slot = 0; (nl = strchr(line, '\n')) != NULL;
	     line = nl + 1, slot++) {
		if (nl - line != REG_SLOT - 1)
			continue;
		for (p = line; p < nl && *p == ' '; p++)
			;
		if (p == nl || strspn(p, "0123456789") != (size_t)(nl - p))
			continue;
		pid = strtol(p, NULL, 10);
		if (pid <= 0 || pid == (long)getpid() || proc_alive((pid_t)pid))
			continue;
		if (*n_r < max)
			dead[*n_r] = slot << 32 | (uint64_t)(uint32_t)pid;
		(*n_r)++;
	}
	return 0;
}

/*
 * 1 when the registry names a process that is gone.  Only then can a
 * call never return; a call that is merely slow (a loaded machine,
 * valgrind) must not count as a hang.  0 when it cannot be read.
 */
int
inv__bdb_registry_dead(const char *dir)
{
	unsigned n;

	return registry_scan(dir, NULL, 0, &n) == 0 && n > 0;
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static void
dbt_in(DBT *d, const void *p, size_t n)
{
	memset(d, 0, sizeof(*d));
	d->data = (void *)(uintptr_t)p;
	d->size = (u_int32_t)n;
}

/*
 * The environment is opened with DB_THREAD (the watchdog shares it), which
 * every DB handle inherits: Berkeley DB then returns data only into memory
 * the caller names.  Outputs use DB_DBT_REALLOC buffers, released with
 * dbt_free(); a DBT can be reused across calls and freed once.
 */
static void
dbt_out(DBT *d)
{
	memset(d, 0, sizeof(*d));
	d->flags = DB_DBT_REALLOC;
}

/* An empty read: only the key is wanted. */
static void
dbt_none(DBT *d)
{
	memset(d, 0, sizeof(*d));
	d->flags = DB_DBT_REALLOC | DB_DBT_PARTIAL;
	d->dlen = 0;
	d->doff = 0;
}

/* A key to search from (DB_SET_RANGE, DB_SET then DB_NEXT_DUP), which
 * Berkeley DB replaces with the key it finds. */
static int
dbt_inout(DBT *d, const void *p, size_t n)
{
	memset(d, 0, sizeof(*d));
	d->data = inv__malloc(n > 0 ? n : 1);
	if (d->data == NULL)
		return INVITES_ENOMEM;
	memcpy(d->data, p, n);
	d->size = (u_int32_t)n;
	d->flags = DB_DBT_REALLOC;
	return 0;
}

static void
dbt_free(DBT *d)
{
	if (d->flags & DB_DBT_REALLOC)
		free(d->data);
	d->data = NULL;
	d->size = 0;
}

typedef int txn_fn(struct inv__backend *be, DB_TXN *txn, void *arg);

/*
 * Run fn in a transaction, retrying deadlock victims.  fn returns 0, a
 * Berkeley DB code or an INVITES_E* code; on anything but 0 the
 * transaction is aborted.  fn must be safe to run again from scratch.
 */
static int
run_txn_busy(struct inv__backend *be, u_int32_t flags, txn_fn *fn, void *arg,
             const char *what)
{
	DB_TXN *txn;
	int i, ret;

	for (i = 0; i < INV__STORE_RETRIES; i++) {
		if (atomic_load(&be->panicked))
			return INVITES_ERECOVER;
		ret = be->env->txn_begin(be->env, NULL, &txn, flags);
		if (ret != 0)
			return map_ret(be, ret, what);
		ret = fn(be, txn, arg);
		if (ret == 0)
			return map_ret(be, txn->commit(txn, 0), what);
		(void)txn->abort(txn);
		if (!is_retry(ret))
			return map_ret(be, ret, what);
	}
	inv__log(INVITES_LOG_WARNING,
	         "invite store %s: %s: gave up after %d deadlocks", be->path,
	         what, INV__STORE_RETRIES);
	return INVITES_EBUSY;
}

static int
run_txn(struct inv__backend *be, u_int32_t flags, txn_fn *fn, void *arg,
        const char *what)
{
	int slot, rc;

	if (!(flags & DB_READ_COMMITTED))
		inv__bdb_write_enter(be);
	slot = inv__bdb_busy_enter(be);
	rc = run_txn_busy(be, flags, fn, arg, what);
	inv__bdb_busy_leave(be, slot);
	if (!(flags & DB_READ_COMMITTED))
		inv__bdb_write_leave(be);
	return rc;
}

static int
check_writable(struct inv__backend *be)
{
	if (atomic_load(&be->panicked))
		return INVITES_ERECOVER;
	if (be->flags & INVITES_OPEN_READONLY)
		return INVITES_EINVAL;
	return 0;
}

static char *
file_path(const char *dir, const char *name)
{
	return inv__asprintf("%s/%s", dir, name);
}

/* ------------------------------------------------------------------ */
/* Records in a transaction                                            */
/* ------------------------------------------------------------------ */

static int
put_invite(struct inv__backend *be, DB_TXN *txn,
           const struct invites_invite *inv,
           const struct inv__invite_extra *extra, u_int32_t flags)
{
	struct inv__buf b;
	DBT k, d;
	int ret;

	inv__buf_init(&b);
	ret = inv__record_invite_encode(&b, inv, extra);
	if (ret == 0) {
		dbt_in(&k, inv->hash, INVITES_HASH_LEN);
		dbt_in(&d, b.p, b.len);
		ret = be->inv->put(be->inv, txn, &k, &d, flags);
	}
	inv__buf_free(&b);
	return ret;
}

static int
decode_invite(struct inv__backend *be, const DBT *k, const DBT *d,
              struct invites_invite **inv_r, struct inv__invite_extra *extra)
{
	char id[INVITES_ID_LEN + 1];
	int rc;

	if (k->size != INVITES_HASH_LEN)
		return INVITES_ECORRUPT;
	rc = inv__record_invite_decode(k->data, d->data, d->size, inv_r, extra);
	if (rc == INVITES_ECORRUPT || rc == INVITES_EVERSION) {
		invites_hash_id(k->data, id);
		inv__log(INVITES_LOG_ERR, "invite store %s: invite %s: %s",
		         be->path, id, invites_strerror(rc));
	}
	return rc;
}

/* Read the invite ref names (write-locked with DB_RMW when rmw). */
static int
find_invite(struct inv__backend *be, DB_TXN *txn, const struct inv__ref *ref,
            int rmw, struct invites_invite **inv_r,
            struct inv__invite_extra *extra)
{
	u_int32_t lock = rmw ? DB_RMW : 0;
	DBC *c;
	DBT k, d;
	int ret, ret2;

	*inv_r = NULL;
	if (ref->by_hash) {
		dbt_in(&k, ref->hash, INVITES_HASH_LEN);
		dbt_out(&d);
		ret = be->inv->get(be->inv, txn, &k, &d, lock);
		if (ret == 0)
			ret = decode_invite(be, &k, &d, inv_r, extra);
		dbt_free(&d);
		return ret;
	}
	if (dbt_inout(&k, ref->hash, INVITES_HASH_LEN) != 0)
		return INVITES_ENOMEM;
	dbt_out(&d);
	ret = be->inv->cursor(be->inv, txn, &c, 0);
	if (ret != 0) {
		dbt_free(&k);
		return ret;
	}
	ret = c->get(c, &k, &d, DB_SET_RANGE | lock);
	if (ret == 0 && (k.size != INVITES_HASH_LEN || !inv__ref_match(ref, k.data)))
		ret = DB_NOTFOUND;
	if (ret == 0)
		ret = decode_invite(be, &k, &d, inv_r, extra);
	if (ret == 0) {
		dbt_free(&d);
		dbt_none(&d);
		ret2 = c->get(c, &k, &d, DB_NEXT);
		if (ret2 == 0 && k.size == INVITES_HASH_LEN &&
		    inv__ref_match(ref, k.data))
			ret = INVITES_EAMBIG;
		else if (ret2 != 0 && ret2 != DB_NOTFOUND)
			ret = ret2;
		if (ret != 0)
			invites_invite_free(inv_r);
	}
	ret2 = c->close(c);
	dbt_free(&k);
	dbt_free(&d);
	if (ret == 0 && ret2 != 0) {
		invites_invite_free(inv_r);
		ret = ret2;
	}
	return ret;
}

/* Append an audit record: seq = the last one + 1. */
static int
audit_append(struct inv__backend *be, DB_TXN *txn, const struct invites_audit *a)
{
	unsigned char key[8];
	struct inv__buf b;
	uint64_t seq = 1;
	DBC *c;
	DBT k, d;
	int ret, ret2;

	ret = be->audit->cursor(be->audit, txn, &c, 0);
	if (ret != 0)
		return ret;
	dbt_out(&k);
	dbt_none(&d);
	ret = c->get(c, &k, &d, DB_LAST | DB_RMW);
	if (ret == 0 && k.size == 8)
		seq = inv__get_u64(k.data) + 1;
	else if (ret == 0)
		ret = INVITES_ECORRUPT;
	else if (ret == DB_NOTFOUND)
		ret = 0;
	ret2 = c->close(c);
	dbt_free(&k);
	dbt_free(&d);
	if (ret == 0)
		ret = ret2;
	if (ret != 0)
		return ret;
	inv__put_u64(key, seq);
	inv__buf_init(&b);
	ret = inv__record_audit_encode(&b, a);
	if (ret == 0) {
		dbt_in(&k, key, 8);
		dbt_in(&d, b.p, b.len);
		ret = be->audit->put(be->audit, txn, &k, &d, DB_NOOVERWRITE);
	}
	inv__buf_free(&b);
	return ret;
}

/* Is the invite with this hash usable at now?  (0 when it is gone) */
static int
hash_usable(struct inv__backend *be, DB_TXN *txn,
            const unsigned char hash[INVITES_HASH_LEN], int64_t now,
            int *usable)
{
	struct inv__invite_peek p;
	DBT k, d;
	int ret;

	*usable = 0;
	dbt_in(&k, hash, INVITES_HASH_LEN);
	dbt_out(&d);
	ret = be->inv->get(be->inv, txn, &k, &d, 0);
	if (ret == DB_NOTFOUND)
		ret = 0;
	else if (ret == 0 && inv__record_invite_peek(d.data, d.size, &p) == 0)
		*usable = inv__usable(p.flags, p.uses, p.max_uses, p.expires,
		                      now);
	/* (a damaged holder reserves nothing) */
	dbt_free(&d);
	return ret;
}

struct reskey {
	char buf[2 * INVITES_JID_MAX + 2];
	size_t len;
};

static int
reskey_make(struct reskey *rk, const char *domain, const char *username)
{
	rk->len = inv__reserve_key(rk->buf, sizeof(rk->buf), domain, username);
	return rk->len == 0 ? INVITES_EJID : 0;
}

/* The holder of a reservation (*found 0 when there is none). */
static int
res_get(struct inv__backend *be, DB_TXN *txn, const struct reskey *rk,
        int rmw, unsigned char holder[INVITES_HASH_LEN], int *found)
{
	DBT k, d;
	int ret;

	*found = 0;
	dbt_in(&k, rk->buf, rk->len);
	dbt_out(&d);
	ret = be->res->get(be->res, txn, &k, &d, rmw ? DB_RMW : 0);
	if (ret == DB_NOTFOUND)
		ret = 0;
	else if (ret == 0 &&
	         inv__record_reserve_decode(d.data, d.size, holder) == 0)
		*found = 1;
	/* (damaged: treated as free, and overwritten) */
	dbt_free(&d);
	return ret;
}

/* 1 in *blocked when the name is held by a usable invite other than mine. */
static int
res_blocked(struct inv__backend *be, DB_TXN *txn, const struct reskey *rk,
            const unsigned char *mine, int64_t now, int rmw, int *blocked)
{
	unsigned char holder[INVITES_HASH_LEN];
	int found, ret;

	*blocked = 0;
	ret = res_get(be, txn, rk, rmw, holder, &found);
	if (ret != 0 || !found)
		return ret;
	if (mine != NULL && memcmp(holder, mine, INVITES_HASH_LEN) == 0)
		return 0;
	return hash_usable(be, txn, holder, now, blocked);
}

static int
res_put(struct inv__backend *be, DB_TXN *txn, const struct reskey *rk,
        const unsigned char hash[INVITES_HASH_LEN])
{
	struct inv__buf b;
	DBT k, d;
	int ret;

	inv__buf_init(&b);
	ret = inv__record_reserve_encode(&b, hash);
	if (ret == 0) {
		dbt_in(&k, rk->buf, rk->len);
		dbt_in(&d, b.p, b.len);
		ret = be->res->put(be->res, txn, &k, &d, 0);
	}
	inv__buf_free(&b);
	return ret;
}

/* Drop the reservation of inv's name if inv holds it. */
static int
res_release(struct inv__backend *be, DB_TXN *txn,
            const struct invites_invite *inv)
{
	unsigned char holder[INVITES_HASH_LEN];
	struct reskey rk;
	DBT k;
	int found, ret;

	if (!inv__reserves_name(inv))
		return 0;
	if (reskey_make(&rk, inv->domain, inv->username) != 0)
		return 0;
	ret = res_get(be, txn, &rk, 1, holder, &found);
	if (ret != 0 || !found || memcmp(holder, inv->hash, INVITES_HASH_LEN) != 0)
		return ret;
	dbt_in(&k, rk.buf, rk.len);
	ret = be->res->del(be->res, txn, &k, 0);
	return ret == DB_NOTFOUND ? 0 : ret;
}

/* Count the usable invites of inviter (through the inviter index). */
static int
count_inviter(struct inv__backend *be, DB_TXN *txn, const char *inviter,
              int64_t now, size_t *count)
{
	struct inv__invite_peek p;
	DBC *c;
	DBT k, pk, d;
	int ret, ret2;

	*count = 0;
	ret = be->byinv->cursor(be->byinv, txn, &c, 0);
	if (ret != 0)
		return ret;
	if (dbt_inout(&k, inviter, strlen(inviter)) != 0) {
		(void)c->close(c);
		return INVITES_ENOMEM;
	}
	dbt_out(&pk);
	dbt_out(&d);
	ret = c->pget(c, &k, &pk, &d, DB_SET);
	while (ret == 0) {
		if (inv__record_invite_peek(d.data, d.size, &p) == 0 &&
		    inv__usable(p.flags, p.uses, p.max_uses, p.expires, now))
			(*count)++;
		ret = c->pget(c, &k, &pk, &d, DB_NEXT_DUP);
	}
	if (ret == DB_NOTFOUND)
		ret = 0;
	ret2 = c->close(c);
	dbt_free(&k);
	dbt_free(&pk);
	dbt_free(&d);
	return ret != 0 ? ret : ret2;
}

/* ------------------------------------------------------------------ */
/* Secondary index keys                                                */
/* ------------------------------------------------------------------ */

static int
expiry_key(DB *sec, const DBT *pkey, const DBT *pdata, DBT *skey)
{
	(void)sec;
	(void)pkey;
	if (pdata->size < INV__REC_INVITE_FIXED)
		return DB_DONOTINDEX;
	memset(skey, 0, sizeof(*skey));
	skey->data = (unsigned char *)pdata->data + INV__REC_INVITE_PURGE_OFF;
	skey->size = 8;
	return 0;
}

static int
inviter_key(DB *sec, const DBT *pkey, const DBT *pdata, DBT *skey)
{
	struct inv__invite_peek p;

	(void)sec;
	(void)pkey;
	if (inv__record_invite_peek(pdata->data, pdata->size, &p) != 0 ||
	    p.inviter == NULL || p.inviter_len == 0)
		return DB_DONOTINDEX;
	memset(skey, 0, sizeof(*skey));
	skey->data = (void *)(uintptr_t)p.inviter;
	skey->size = (u_int32_t)p.inviter_len;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Opening: the directory                                              */
/* ------------------------------------------------------------------ */

static int
errno_to_inv(int e)
{
	switch (e) {
	case ENOENT:
		return INVITES_ENOSTORE;
	case EACCES:
	case EPERM:
	case EROFS:
		return INVITES_EACCES;
	case ENOSPC:
	case EDQUOT:
		return INVITES_ENOSPC;
	case ENOMEM:
		return INVITES_ENOMEM;
	default:
		return INVITES_ESTORE;
	}
}

static int
is_db_file(const char *name)
{
	size_t i;

	for (i = 0; i < N_DB_FILES; i++)
		if (strcmp(name, db_files[i]) == 0)
			return 1;
	return 0;
}

/* Names Berkeley DB or we put in a store directory. */
static int
is_store_file(const char *name)
{
	return is_db_file(name) || strcmp(name, "DB_CONFIG") == 0 ||
	       strcmp(name, F_GATE) == 0 ||
	       strncmp(name, "__db.", 5) == 0 || strncmp(name, "log.", 4) == 0 ||
	       strncmp(name, "DB_CONFIG.tmp.", 14) == 0;
}

/*
 * Is this file a Berkeley DB B-tree?  Checked before the environment is
 * opened, so that garbage is reported without Berkeley DB touching the
 * directory (and without its log noise).  The meta page holds the magic
 * at offset 12 and the page size at offset 20, in the creator's byte
 * order.
 */
static int
check_db_header(struct inv__backend *be, const char *name)
{
	unsigned char h[512];
	uint32_t magic_le, magic_be, psize;
	struct stat sb;
	char *path;
	ssize_t n;
	int fd, little, rc = 0;

	path = file_path(be->path, name);
	if (path == NULL)
		return INVITES_ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = errno == ENOENT ? 0 : errno_to_inv(errno);
		if (errno == ELOOP)
			rc = INVITES_ECORRUPT;
		if (rc != 0)
			inv__log(INVITES_LOG_ERR, "invite store %s: cannot open %s: %s",
			         be->path, name, strerror(errno));
		free(path);
		return rc;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		rc = INVITES_ECORRUPT;
	} else {
		n = read(fd, h, sizeof(h));
		if (n < (ssize_t)sizeof(h)) {
			rc = INVITES_ECORRUPT;
		} else {
			magic_le = (uint32_t)h[12] | (uint32_t)h[13] << 8 |
			           (uint32_t)h[14] << 16 | (uint32_t)h[15] << 24;
			magic_be = inv__get_u32(h + 12);
			little = magic_le == DB_BTREEMAGIC;
			if (!little && magic_be != DB_BTREEMAGIC)
				rc = INVITES_ECORRUPT;
			psize = little ? ((uint32_t)h[20] | (uint32_t)h[21] << 8 |
			                  (uint32_t)h[22] << 16 | (uint32_t)h[23] << 24)
			               : inv__get_u32(h + 20);
			if (rc == 0 && (psize < 512 || psize > 65536 ||
			                (psize & (psize - 1)) != 0 ||
			                (uint64_t)sb.st_size < psize))
				rc = INVITES_ECORRUPT;
		}
	}
	close(fd);
	if (rc != 0)
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: %s is damaged or not a Berkeley DB "
		         "B-tree file; refusing to use the directory",
		         be->path, path);
	free(path);
	return rc;
}

int
inv__bdb_write_config(const char *dir)
{
	char *tmp = NULL, *dst = NULL, *text = NULL;
	size_t len;
	int fd = -1, rc = 0;

	text = inv__asprintf(
	    CONFIG_SIGNATURE ": Berkeley DB settings shared by every process\n"
	    "# that opens it, and by the db5.3_* utilities.  Written when the\n"
	    "# store was created; region settings take effect at the next\n"
	    "# recovery.  Never add DB_TXN_NOSYNC: a killed process would lose\n"
	    "# committed invites and revive consumed ones.\n"
	    "set_cachesize 0 %llu 1\n"
	    "set_lg_max %d\n"
	    "set_lk_detect DB_LOCK_DEFAULT\n"
	    "set_thread_count %d\n",
	    (unsigned long long)(UINT64_C(64) << 20), LOG_MAX, THREAD_COUNT);
	tmp = inv__asprintf("%s/DB_CONFIG.tmp.%ld", dir, (long)getpid());
	dst = file_path(dir, "DB_CONFIG");
	if (text == NULL || tmp == NULL || dst == NULL) {
		rc = INVITES_ENOMEM;
		goto out;
	}
	len = strlen(text);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		rc = errno_to_inv(errno);
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = errno_to_inv(errno);
		goto out;
	}
	fd = -1;
	/* link, not rename: a concurrent creator's file is as good as ours */
	if (link(tmp, dst) != 0 && errno != EEXIST)
		rc = errno_to_inv(errno);
out:
	if (rc != 0)
		inv__log(INVITES_LOG_ERR, "invite store %s: cannot write DB_CONFIG: %s",
		         dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(dst);
	free(text);
	return rc;
}

static int
write_db_config(struct inv__backend *be)
{
	return inv__bdb_write_config(be->path);
}

static int
has_signature(struct inv__backend *be)
{
	char buf[sizeof(CONFIG_SIGNATURE)], *path;
	ssize_t n;
	int fd;

	path = file_path(be->path, "DB_CONFIG");
	if (path == NULL)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n == (ssize_t)sizeof(buf) - 1 &&
	       memcmp(buf, CONFIG_SIGNATURE, sizeof(buf) - 1) == 0;
}

/*
 * Decide what the directory is, before Berkeley DB touches it:
 *  - a store (meta.db present): check every database file's header;
 *  - missing or empty: create it with INVITES_OPEN_CREATE, else ENOSTORE;
 *  - a store being created, by a concurrent process or one that died
 *    doing it (only Berkeley DB's files, our DB_CONFIG or its temporary
 *    file, no meta.db): finish it with INVITES_OPEN_CREATE;
 *  - anything else: ECORRUPT, and nothing in it is changed.
 */
static int
prepare_dir(struct inv__backend *be, int *creating)
{
	char foreign[256] = "";
	int has_meta = 0, has_config = 0, entries = 0, rc;
	struct dirent *de;
	struct stat sb;
	size_t i;
	DIR *dir;

	*creating = 0;
	if (stat(be->path, &sb) != 0) {
		if (errno != ENOENT) {
			rc = errno_to_inv(errno);
			inv__log(INVITES_LOG_ERR, "invite store %s: %s", be->path,
			         strerror(errno));
			return rc;
		}
		if (!(be->flags & INVITES_OPEN_CREATE)) {
			inv__log(INVITES_LOG_ERR, "invite store %s: no such store",
			         be->path);
			return INVITES_ENOSTORE;
		}
		if (mkdir(be->path, 0700) != 0 && errno != EEXIST) {
			rc = errno_to_inv(errno);
			inv__log(INVITES_LOG_ERR,
			         "invite store %s: cannot create the directory: %s",
			         be->path, strerror(errno));
			return rc;
		}
		if (stat(be->path, &sb) != 0)
			return errno_to_inv(errno);
	}
	if (!S_ISDIR(sb.st_mode)) {
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: not a directory; refusing to use it",
		         be->path);
		return INVITES_ECORRUPT;
	}
	be->dev = sb.st_dev;
	be->ino = sb.st_ino;

	dir = opendir(be->path);
	if (dir == NULL) {
		rc = errno_to_inv(errno);
		inv__log(INVITES_LOG_ERR, "invite store %s: %s", be->path,
		         strerror(errno));
		return rc;
	}
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		entries++;
		if (strcmp(de->d_name, F_META) == 0)
			has_meta = 1;
		else if (strcmp(de->d_name, "DB_CONFIG") == 0)
			has_config = 1;
		if (!is_store_file(de->d_name) && foreign[0] == '\0')
			snprintf(foreign, sizeof(foreign), "%s", de->d_name);
	}
	closedir(dir);

	if (has_meta) {
		for (i = 0; i < N_DB_FILES; i++) {
			rc = check_db_header(be, db_files[i]);
			if (rc != 0)
				return rc;
		}
		if (!has_config && !(be->flags & INVITES_OPEN_READONLY)) {
			inv__log(INVITES_LOG_WARNING,
			         "invite store %s: DB_CONFIG was missing; rewriting it",
			         be->path);
			rc = write_db_config(be);
			if (rc != 0)
				return rc;
		}
		return 0;
	}
	/* Only our own files and no meta.db: a store being created, now by
	 * another process or by one that died doing it. */
	if (foreign[0] != '\0' || (has_config && !has_signature(be))) {
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: the directory is not empty and holds no "
		         "invite store (found '%s'); refusing to use it",
		         be->path, foreign[0] ? foreign : "DB_CONFIG");
		return INVITES_ECORRUPT;
	}
	if (!(be->flags & INVITES_OPEN_CREATE)) {
		inv__log(INVITES_LOG_ERR, "invite store %s: no invite store here yet",
		         be->path);
		return INVITES_ENOSTORE;
	}
	*creating = 1;
	if (!has_config)
		return write_db_config(be);
	return 0;
}

/* One environment handle per store and process (DB_REGISTER's rule). */
static int
register_open(struct inv__backend *be)
{
	struct inv__backend *o;
	int rc = 0;

	pthread_mutex_lock(&open_lock);
	be->pid = getpid();
	for (o = open_list; o != NULL; o = o->next_open)
		if (o->pid == be->pid && o->dev == be->dev && o->ino == be->ino)
			rc = INVITES_EBUSY;
	if (rc == 0) {
		be->next_open = open_list;
		open_list = be;
	}
	pthread_mutex_unlock(&open_lock);
	if (rc != 0)
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: already open in this process (one handle "
		         "per process)", be->path);
	return rc;
}

static void
unregister_open(struct inv__backend *be)
{
	struct inv__backend **pp;

	pthread_mutex_lock(&open_lock);
	for (pp = &open_list; *pp != NULL; pp = &(*pp)->next_open)
		if (*pp == be) {
			*pp = be->next_open;
			break;
		}
	pthread_mutex_unlock(&open_lock);
}

/* ------------------------------------------------------------------ */
/* Opening: environment and databases                                  */
/* ------------------------------------------------------------------ */

static int reserve_regions(struct inv__backend *be);

static int
env_open(struct inv__backend *be, uint64_t cache_bytes)
{
	u_int32_t flags = DB_CREATE | DB_INIT_MPOOL | DB_INIT_LOCK |
	                  DB_INIT_LOG | DB_INIT_TXN | DB_REGISTER | DB_RECOVER |
	                  DB_THREAD;
	DB_ENV *env;
	int ret;

	ret = db_env_create(&env, 0);
	if (ret != 0)
		return map_ret(be, ret, "db_env_create");
	env->app_private = be;
	env->set_errcall(env, errcall);
	env->set_msgcall(env, msgcall);
	ret = env->set_event_notify(env, event_notify);
	if (ret == 0)
		ret = env->set_lk_detect(env, DB_LOCK_DEFAULT);
	if (ret == 0)
		ret = env->set_isalive(env, is_alive);
	if (ret == 0)
		ret = env->set_thread_count(env, THREAD_COUNT);
	/* An opener that must recover first marks the environment panicked,
	 * then waits this long (twice) before it reads and truncates the log:
	 * a process of ours in the middle of a commit finishes writing it
	 * meanwhile, instead of having an acknowledged commit zeroed by the
	 * recovery (seen in the fault tests with no wait). */
	if (ret == 0)
		ret = env->set_timeout(env, REG_WAIT_US, DB_SET_REG_TIMEOUT);
	/* DB_CONFIG overrides these; they matter only when it is gone */
	if (ret == 0)
		ret = env->set_cachesize(env, (u_int32_t)(cache_bytes >> 30),
		                         (u_int32_t)(cache_bytes & 0x3fffffff), 1);
	if (ret == 0)
		ret = env->set_lg_max(env, LOG_MAX);
	if (ret == 0)
		ret = env->open(env, be->path, flags, 0600);
	if (ret != 0) {
		int rc;

		env->app_private = NULL;
		(void)env->close(env, 0);
		switch (ret) {
		case ENOENT:
			rc = INVITES_ENOSTORE;
			break;
		case DB_RUNRECOVERY:
		case DB_VERIFY_BAD:
			/* a recovery that failed for want of space or
			 * permission is no damage */
			switch (atomic_load(&be->os_error)) {
			case ENOSPC:
				rc = INVITES_ENOSPC;
				break;
			case EROFS:
			case EACCES:
				rc = INVITES_EACCES;
				break;
			default:
				rc = INVITES_ECORRUPT;
				break;
			}
			break;
		case DB_VERSION_MISMATCH:
			rc = INVITES_EVERSION;
			break;
		case EINVAL:
			rc = INVITES_ECORRUPT;
			break;
		default:
			rc = map_ret(be, ret, "open environment");
			break;
		}
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: cannot open the environment: %s",
		         be->path, db_strerror(ret));
		return rc;
	}
	/* Joining a region that is marked panicked (panic_region) reports a
	 * panic event to this handle; an open that succeeded has recovered
	 * and the environment it made is sound, so that event is history. */
	if (atomic_exchange(&be->panicked, 0) != 0) {
		atomic_store(&be->failed_ms, 0);
		inv__log(INVITES_LOG_INFO, "invite store %s: recovered an "
		         "environment that was marked for recovery", be->path);
	}
	be->env = env;
	ret = reserve_regions(be);
	if (ret != 0)
		return ret;
	if (!(be->flags & INVITES_OPEN_READONLY)) {
		/* bounded logs: files no longer needed go at each checkpoint */
		ret = env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1);
		if (ret != 0)
			return map_ret(be, ret, "log_set_config");
	}
	return 0;
}

/*
 * Berkeley DB makes its region files (__db.001 ...) at full length but
 * sparse, and maps them: the first touch of a page that has no block yet
 * on a full file system kills the process with SIGBUS, in whatever call
 * touched it.  Giving every region file its blocks now turns that into a
 * clean INVITES_ENOSPC at open.  (File systems without fallocate are left
 * as they are.)
 */
static int
reserve_regions(struct inv__backend *be)
{
	char path[4096];
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int fd, err = 0;

	d = opendir(be->path);
	if (d == NULL)
		return 0;
	while (err == 0 && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "__db.", 5) != 0 ||
		    strspn(de->d_name + 5, "0123456789") != strlen(de->d_name + 5) ||
		    de->d_name[5] == '\0')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", be->path, de->d_name) >=
		    (int)sizeof(path))
			continue;
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &sb) == 0 && sb.st_size > 0 &&
		    (sb.st_blocks * INT64_C(512)) < (int64_t)sb.st_size) {
			err = posix_fallocate(fd, 0, sb.st_size);
			if (err == EOPNOTSUPP || err == EINVAL)
				err = 0;
		}
		close(fd);
	}
	closedir(d);
	if (err == 0)
		return 0;
	inv__log(INVITES_LOG_ERR, "invite store %s: cannot reserve the space "
	         "of its shared regions: %s", be->path, strerror(err));
	return err == ENOSPC || err == EDQUOT ? INVITES_ENOSPC : INVITES_ESTORE;
}

static int
open_db(struct inv__backend *be, DB **dbp, const char *name, int dupsort,
        int create)
{
	u_int32_t flags = DB_AUTO_COMMIT;
	DB *db;
	int i, ret = 0, rc;

	if (be->flags & INVITES_OPEN_READONLY)
		flags |= DB_RDONLY;
	else if (create)
		flags |= DB_CREATE;
	for (i = 0; i < INV__STORE_RETRIES; i++) {
		ret = db_create(&db, be->env, 0);
		if (ret != 0)
			return map_ret(be, ret, name);
		/* page checksums: a damaged page is reported, never read as
		 * data (taken at creation; ignored for existing files) */
		ret = db->set_flags(db, DB_CHKSUM | (dupsort ? DB_DUPSORT : 0));
		if (ret == 0)
			ret = db->open(db, NULL, name, NULL, DB_BTREE, flags, 0600);
		if (ret == 0) {
			*dbp = db;
			return 0;
		}
		(void)db->close(db, 0);
		if (!is_retry(ret))
			break;
	}
	switch (ret) {
	case ENOENT:
		inv__log(INVITES_LOG_ERR, "invite store %s: %s is missing",
		         be->path, name);
		rc = INVITES_ECORRUPT;
		break;
	case EINVAL:
	case DB_VERIFY_BAD:
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: %s is damaged or of the wrong type",
		         be->path, name);
		rc = INVITES_ECORRUPT;
		break;
	default:
		rc = map_ret(be, ret, name);
		break;
	}
	return rc;
}

static void
meta_encode(unsigned char out[META_LEN], uint32_t version, int64_t created)
{
	memcpy(out, META_MAGIC, META_MAGIC_LEN);
	inv__put_u32(out + META_MAGIC_LEN, version);
	inv__put_u64(out + META_MAGIC_LEN + 4, (uint64_t)created);
}

static int
meta_put(struct inv__backend *be, uint32_t version, u_int32_t flags)
{
	unsigned char v[META_LEN];
	DBT k, d;

	meta_encode(v, version, inv__now());
	dbt_in(&k, META_KEY, strlen(META_KEY));
	dbt_in(&d, v, sizeof(v));
	return be->meta->put(be->meta, NULL, &k, &d, DB_AUTO_COMMIT | flags);
}

static int
db_empty(struct inv__backend *be, DB *db, int *empty)
{
	DBC *c;
	DBT k, d;
	int ret;

	*empty = 1;
	ret = db->cursor(db, NULL, &c, 0);
	if (ret == 0) {
		dbt_out(&k);
		dbt_none(&d);
		ret = c->get(c, &k, &d, DB_FIRST);
		if (ret == 0)
			*empty = 0;
		if (ret == DB_NOTFOUND)
			ret = 0;
		(void)c->close(c);
		dbt_free(&k);
		dbt_free(&d);
	}
	return map_ret(be, ret, "read");
}

/* An interrupted creation leaves meta.db without its record; only then
 * (no invites stored) may the record be written now. */
static int
invites_empty(struct inv__backend *be, int *empty)
{
	DB *db = NULL;
	char *path;
	int ret;

	*empty = 1;
	path = file_path(be->path, F_INVITES);
	if (path == NULL)
		return INVITES_ENOMEM;
	ret = access(path, F_OK);
	free(path);
	if (ret != 0)
		return 0;
	ret = open_db(be, &db, F_INVITES, 0, 0);
	if (ret != 0)
		return ret;
	ret = db_empty(be, db, empty);
	(void)db->close(db, DB_NOSYNC);
	return ret;
}

static int
meta_check(struct inv__backend *be)
{
	unsigned char v[META_LEN];
	uint32_t version, size;
	DBT k, d;
	int empty, ret;

	dbt_in(&k, META_KEY, strlen(META_KEY));
	dbt_out(&d);
	ret = be->meta->get(be->meta, NULL, &k, &d, 0);
	if (ret == DB_NOTFOUND) {
		dbt_free(&d);
		/* only an empty meta.db is an interrupted creation; one with
		 * other records belongs to someone else */
		ret = db_empty(be, be->meta, &empty);
		if (ret == 0 && empty)
			ret = invites_empty(be, &empty);
		if (ret != 0)
			return ret;
		if (!empty) {
			inv__log(INVITES_LOG_ERR,
			         "invite store %s: %s has no format record",
			         be->path, F_META);
			return INVITES_ECORRUPT;
		}
		if (!(be->flags & INVITES_OPEN_CREATE)) {
			inv__log(INVITES_LOG_ERR,
			         "invite store %s: the store was never completed",
			         be->path);
			return INVITES_ENOSTORE;
		}
		ret = meta_put(be, INV__STORE_FORMAT, DB_NOOVERWRITE);
		if (ret == DB_KEYEXIST)
			ret = 0; /* a concurrent creator was first */
		if (ret != 0)
			return map_ret(be, ret, "write format record");
		dbt_out(&d);
		ret = be->meta->get(be->meta, NULL, &k, &d, 0);
	}
	if (ret != 0) {
		dbt_free(&d);
		return map_ret(be, ret, "read format record");
	}
	memset(v, 0, sizeof(v));
	if (d.size >= META_LEN)
		memcpy(v, d.data, META_LEN);
	size = d.size;
	dbt_free(&d);
	if (size < META_LEN || memcmp(v, META_MAGIC, META_MAGIC_LEN) != 0) {
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: %s is not an invite store's", be->path,
		         F_META);
		return INVITES_ECORRUPT;
	}
	version = inv__get_u32(v + META_MAGIC_LEN);
	if (version > INV__STORE_FORMAT) {
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: format %u is newer than this program's "
		         "(%u); upgrade it", be->path, (unsigned)version,
		         (unsigned)INV__STORE_FORMAT);
		return INVITES_EVERSION;
	}
	if (version < 1) {
		inv__log(INVITES_LOG_ERR, "invite store %s: bad format %u",
		         be->path, (unsigned)version);
		return INVITES_ECORRUPT;
	}
	return 0;
}

static int
open_dbs(struct inv__backend *be, int creating)
{
	int ret;

	ret = open_db(be, &be->meta, F_META, 0, creating);
	if (ret == 0)
		ret = meta_check(be);
	if (ret == 0)
		ret = open_db(be, &be->inv, F_INVITES, 0, 1);
	if (ret == 0)
		ret = open_db(be, &be->exp, F_EXPIRY, 1, 1);
	if (ret == 0)
		ret = open_db(be, &be->byinv, F_INVITER, 1, 1);
	if (ret == 0)
		ret = open_db(be, &be->res, F_RESERVE, 0, 1);
	if (ret == 0)
		ret = open_db(be, &be->pend, F_PENDING, 0, 1);
	if (ret == 0)
		ret = open_db(be, &be->roles, F_ROLES, 0, 1);
	if (ret == 0)
		ret = open_db(be, &be->audit, F_AUDIT, 0, 1);
	/* every process that writes the primary must associate, or the
	 * indexes go stale (berkeley-db.md, Pitfalls) */
	if (ret == 0)
		ret = map_ret(be, be->inv->associate(be->inv, NULL, be->exp,
		                                     expiry_key, 0), "associate");
	if (ret == 0)
		ret = map_ret(be, be->inv->associate(be->inv, NULL, be->byinv,
		                                     inviter_key, 0), "associate");
	return ret;
}

/* ------------------------------------------------------------------ */
/* Watchdog, monitor and checkpointer                                  */
/* ------------------------------------------------------------------ */

enum { THR_MONITOR, THR_WATCHDOG, THR_CHECKPOINTER };

/* Wait on the threads' condition until ms from now or a stop of thread
 * which; 1 on stop.  Called with wd_lock held. */
static int
wd_wait(struct inv__backend *be, int which, long ms)
{
	struct timespec ts;

	if (be->stop[which])
		return 1;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&be->wd_cond, &be->wd_lock, &ts);
	return be->stop[which];
}

/*
 * Is a call blocked for good?  Either the environment has failed and a
 * call is still inside STUCK_MS after both its start and the failure (it
 * waits for a mutex of the dead process), or failchk itself has not come
 * back for FAILCHK_STUCK_MS (cleaning up after a dead process it can
 * block on a mutex that a thread of ours waits on, and then nothing in
 * this process gets out).  Say so once, and hand over to the process's
 * hang handler (which normally exits).
 */
static void
hang_check(struct inv__backend *be)
{
	int64_t fail, since, from, now, worst = 0;
	char msg[512];
	int i;

	if (be->hang_reported)
		return;
	now = inv__monotonic_ms();
	fail = atomic_load(&be->failed_ms);
	if (fail != 0) {
		for (i = 0; i < BUSY_SLOTS; i++) {
			since = atomic_load(&be->busy[i]);
			if (since == 0)
				continue;
			from = since > fail ? since : fail;
			if (now - from >= STUCK_MS && now - since > worst)
				worst = now - since;
		}
	}
	since = atomic_load(&be->fc_since);
	if (since != 0 && now - since >= FAILCHK_STUCK_MS && now - since > worst &&
	    (now - since >= FAILCHK_STUCK_BLIND_MS ||
	     inv__bdb_registry_dead(be->path)))
		worst = now - since;
	if (worst == 0)
		return;
	be->hang_reported = 1;
	snprintf(msg, sizeof(msg),
	         "invite store %s: a call has been blocked inside Berkeley DB "
	         "for %lld ms, behind a process that died there; it can never "
	         "return, so this process must be restarted",
	         be->path, (long long)worst);
	inv__log(INVITES_LOG_ERR, "%s", msg);
	inv__hang_notify(msg);
}

/* The monitor: calls nothing in Berkeley DB, so nothing there can stop
 * it; it looks at the busy slots every WATCHDOG_MS. */
static void *
monitor_main(void *arg)
{
	struct inv__backend *be = arg;

	pthread_mutex_lock(&be->wd_lock);
	while (!wd_wait(be, THR_MONITOR, WATCHDOG_MS)) {
		pthread_mutex_unlock(&be->wd_lock);
		hang_check(be);
		pthread_mutex_lock(&be->wd_lock);
	}
	pthread_mutex_unlock(&be->wd_lock);
	return NULL;
}

/*
 * When the watchdog runs failchk.  It looks every WATCHDOG_MS, but runs
 * failchk only when there can be something for it to find:
 *   - on its first pass;
 *   - when the registry names a dead process that it has not run failchk
 *     for yet: every process of ours opens with DB_REGISTER, and only a
 *     process that dies with the store open (it is then still named
 *     there) can leave a mutex, a lock or a transaction behind;
 *   - when the registry cannot be read (as before: every pass);
 *   - when a call of this process has been inside Berkeley DB for
 *     FC_SLOW_MS (something may hold what it waits for: a program that
 *     did not register, db5.3_stat for one);
 *   - FC_BACKSTOP_MS after its last run, whatever the rest says.
 * Why not every pass: Berkeley DB 5.3's failchk (__env_in_api) reads a
 * thread slot without a lock.  Once the thread table is full, every new
 * thread takes over the slot of a thread that is gone; when that happens
 * between failchk's reading the slot's dead owner and its reading the
 * slot's state again, failchk reports the new, live owner as "Thread
 * died in Berkeley DB library" and the environment panics, with nothing
 * killed.  A 10-minute soak met this 5 to 7 times, naming short-lived
 * invitectl runs that went on and exited 0 (bench/FAULTS.md, section 6).
 * Running failchk only when a process has died, or something is slow,
 * leaves it that window only then.  The dead processes it was run for
 * are given in dead[0..n) (n > FC_HANDLED: too many to remember, so it
 * runs every pass while they stay).  Returns why failchk is due (an
 * INV__FC_* reason, counted for tests), or -1.  Watchdog thread only.
 */
static int
failchk_due(struct inv__backend *be, uint64_t *dead, unsigned *n_r)
{
	int64_t now = inv__monotonic_ms(), since;
	unsigned i, j;

	if (registry_scan(be->path, dead, FC_HANDLED, n_r) != 0) {
		*n_r = FC_HANDLED + 1;
		return INV__FC_UNREADABLE;
	}
	if (be->fc_last == 0)
		return INV__FC_FIRST;
	if (*n_r > FC_HANDLED)
		return INV__FC_DIED;
	for (i = 0; i < *n_r; i++) {
		for (j = 0; j < be->fc_nhandled; j++)
			if (be->fc_handled[j] == dead[i])
				break;
		if (j == be->fc_nhandled)
			return INV__FC_DIED;
	}
	for (i = 0; i < BUSY_SLOTS; i++) {
		since = atomic_load(&be->busy[i]);
		if (since != 0 && now - since >= FC_SLOW_MS)
			return INV__FC_SLOW;
	}
	if (now - be->fc_last >= FC_BACKSTOP_MS)
		return INV__FC_PERIODIC;
	return -1;
}

/* failchk runs of this process's watchdogs, by reason (for tests) */
static atomic_ulong fc_runs[INV__FC_NREASONS];

void
inv__bdb_failchk_runs(unsigned long out[INV__FC_NREASONS])
{
	int i;

	for (i = 0; i < INV__FC_NREASONS; i++)
		out[i] = atomic_load(&fc_runs[i]);
}

/*
 * The watchdog.  A process that died inside Berkeley DB holds mutexes
 * that would block us forever: failchk notices and fails the
 * environment; one that died between calls held locks, which failchk
 * releases by aborting its transaction.
 */
static void *
watchdog_main(void *arg)
{
	struct inv__backend *be = arg;
	uint64_t dead[FC_HANDLED];
	unsigned ndead;
	int why, ret;

	pthread_mutex_lock(&be->wd_lock);
	while (!wd_wait(be, THR_WATCHDOG, WATCHDOG_MS)) {
		pthread_mutex_unlock(&be->wd_lock);
		if (atomic_load(&be->panicked)) {
			/* (the handle is being replaced) */
		} else if ((why = failchk_due(be, dead, &ndead)) < 0) {
			atomic_fetch_add(&be->wd_ticks, 1);
		} else {
			atomic_fetch_add(&fc_runs[why], 1);
			/* (aborting a dead process's transaction writes) */
			gate_enter(be, 0);
			atomic_store(&be->fc_since, inv__monotonic_ms());
			ret = be->env->failchk(be->env, 0);
			atomic_store(&be->fc_since, 0);
			inv__bdb_write_leave(be);
			be->fc_last = inv__monotonic_ms();
			if (ret == DB_RUNRECOVERY) {
				set_panicked(be, "failchk found a process that died "
				                 "inside Berkeley DB");
				panic_region(be);
			} else if (ret != 0) {
				inv__log(INVITES_LOG_WARNING,
				         "invite store %s: failchk: %s", be->path,
				         db_strerror(ret));
			} else {
				/* (those dead before it began: it saw them) */
				be->fc_nhandled = ndead <= FC_HANDLED ? ndead : 0;
				memcpy(be->fc_handled, dead,
				       be->fc_nhandled * sizeof(dead[0]));
				atomic_fetch_add(&be->wd_ticks, 1);
			}
		}
		pthread_mutex_lock(&be->wd_lock);
	}
	pthread_mutex_unlock(&be->wd_lock);
	atomic_store(&be->wd_running, 0);
	return NULL;
}

/* Checkpoints of a daemon: each second, when 1 MB of log was written or a
 * minute has passed, so that logs stay bounded (DB_LOG_AUTO_REMOVE) and
 * recovery fast.  A checkpoint is a watched call like any other. */
static void *
checkpointer_main(void *arg)
{
	struct inv__backend *be = arg;
	int slot, ret;

	pthread_mutex_lock(&be->wd_lock);
	while (!wd_wait(be, THR_CHECKPOINTER, CHECKPOINT_MS)) {
		pthread_mutex_unlock(&be->wd_lock);
		if (!atomic_load(&be->panicked)) {
			inv__bdb_write_enter(be);
			slot = inv__bdb_busy_enter(be);
			ret = be->env->txn_checkpoint(be->env, CHECKPOINT_KB,
			                              CHECKPOINT_MIN, 0);
			inv__bdb_busy_leave(be, slot);
			inv__bdb_write_leave(be);
			if (ret == DB_RUNRECOVERY)
				set_panicked(be, "checkpoint");
			else if (ret != 0)
				inv__log(INVITES_LOG_WARNING,
				         "invite store %s: checkpoint: %s",
				         be->path, db_strerror(ret));
		}
		pthread_mutex_lock(&be->wd_lock);
	}
	pthread_mutex_unlock(&be->wd_lock);
	atomic_store(&be->ckpt_running, 0);
	return NULL;
}

static int
threads_start(struct inv__backend *be, int checkpointer)
{
	sigset_t all, old;
	int ret;

	if (pthread_mutex_init(&be->wd_lock, NULL) != 0)
		return INVITES_ENOMEM;
	if (pthread_cond_init(&be->wd_cond, NULL) != 0) {
		pthread_mutex_destroy(&be->wd_lock);
		return INVITES_ENOMEM;
	}
	be->have_threads = 1;
	/* the host's signals stay with the host's threads */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&be->monitor, NULL, monitor_main, be);
	be->have_monitor = ret == 0;
	if (ret == 0) {
		atomic_store(&be->wd_running, 1);
		ret = pthread_create(&be->watchdog, NULL, watchdog_main, be);
		be->have_watchdog = ret == 0;
	}
	if (ret == 0 && checkpointer) {
		atomic_store(&be->ckpt_running, 1);
		ret = pthread_create(&be->checkpointer, NULL, checkpointer_main,
		                     be);
		be->have_checkpointer = ret == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != 0) {
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: cannot start the watchdog threads: %s",
		         be->path, strerror(ret));
		return INVITES_ENOMEM;
	}
	return 0;
}

/* Ask thread which to stop (it leaves at its next wake-up). */
static void
thread_signal_stop(struct inv__backend *be, int which)
{
	pthread_mutex_lock(&be->wd_lock);
	be->stop[which] = 1;
	pthread_cond_broadcast(&be->wd_cond);
	pthread_mutex_unlock(&be->wd_lock);
}

/*
 * Stop a thread that calls into Berkeley DB.  One blocked there for good
 * cannot be joined: it is left behind, and with it the handle's memory
 * and Berkeley DB handles, which it still uses.  Returns 1 in that case
 * (the caller must then free nothing).  A healthy call may take its time;
 * one in a failed environment, or a failchk that is stuck, gets STUCK_MS
 * twice over.
 */
static int
bdb_thread_stop(struct inv__backend *be, int which, pthread_t thr,
                atomic_int *running, const char *name)
{
	int i;

	thread_signal_stop(be, which);
	for (i = 0; atomic_load(running) && i < 2 * STUCK_MS / 10; i++) {
		if (!atomic_load(&be->panicked) && !be->hang_reported)
			break;
		usleep(10000);
	}
	if ((atomic_load(&be->panicked) || be->hang_reported) &&
	    atomic_load(running)) {
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: the %s thread is blocked behind a "
		         "process that died inside Berkeley DB; leaving it, and "
		         "this handle's memory, behind", be->path, name);
		pthread_detach(thr);
		return 1;
	}
	pthread_join(thr, NULL);
	return 0;
}

static int
checkpointer_stop(struct inv__backend *be)
{
	if (!be->have_checkpointer)
		return 0;
	be->have_checkpointer = 0;
	return bdb_thread_stop(be, THR_CHECKPOINTER, be->checkpointer,
	                       &be->ckpt_running, "checkpoint");
}

/* Stop the watchdog; 1 when it was left behind (see bdb_thread_stop). */
static int
watchdog_stop(struct inv__backend *be)
{
	if (!be->have_watchdog)
		return 0;
	be->have_watchdog = 0;
	return bdb_thread_stop(be, THR_WATCHDOG, be->watchdog, &be->wd_running,
	                       "watchdog");
}

/* Stop the monitor, last of the threads. */
static void
monitor_stop(struct inv__backend *be)
{
	if (be->have_monitor) {
		thread_signal_stop(be, THR_MONITOR);
		pthread_join(be->monitor, NULL);
		be->have_monitor = 0;
	}
	if (be->have_threads && !be->have_checkpointer && !be->have_watchdog) {
		pthread_cond_destroy(&be->wd_cond);
		pthread_mutex_destroy(&be->wd_lock);
		be->have_threads = 0;
	}
}

/*
 * Opening can block for good too: the opener that runs recovery first
 * attaches to the old regions to mark them panicked, and waits there for
 * a mutex of the dead process, holding the registry lock every other
 * opener then waits for.  A thread of its own watches the open (in
 * processes with threads, see bdb_open) and calls the hang handler after
 * OPEN_STUCK_MS.
 */
struct open_watch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
	const char *path;
	pthread_t thr;
};

static void *
open_watch_main(void *arg)
{
	struct open_watch *ow = arg;
	struct timespec ts;
	char msg[512];
	int done, waited;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += OPEN_STUCK_MS / 1000;
	ts.tv_nsec += (OPEN_STUCK_MS % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	/* past OPEN_STUCK_MS, an open with a dead process behind it is
	 * blocked for good; a slow one is looked at again every half second,
	 * up to OPEN_STUCK_BLIND_MS */
	pthread_mutex_lock(&ow->lock);
	for (waited = OPEN_STUCK_MS;; waited += 500) {
		while (!ow->done &&
		       pthread_cond_timedwait(&ow->cond, &ow->lock, &ts) == 0)
			;
		if (ow->done || waited >= OPEN_STUCK_BLIND_MS ||
		    inv__bdb_registry_dead(ow->path))
			break;
		ts.tv_nsec += 500000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
	}
	done = ow->done;
	pthread_mutex_unlock(&ow->lock);
	if (done)
		return NULL;
	snprintf(msg, sizeof(msg),
	         "invite store %s: opening it has been blocked for %d ms, "
	         "behind a process that died inside Berkeley DB; it can never "
	         "return, so this process must be restarted",
	         ow->path, waited);
	inv__log(INVITES_LOG_ERR, "%s", msg);
	inv__hang_notify(msg);
	return NULL;
}

static int
open_watch_start(struct open_watch *ow, const char *path)
{
	sigset_t all, old;
	int ret;

	memset(ow, 0, sizeof(*ow));
	ow->path = path;
	if (pthread_mutex_init(&ow->lock, NULL) != 0)
		return INVITES_ENOMEM;
	if (pthread_cond_init(&ow->cond, NULL) != 0) {
		pthread_mutex_destroy(&ow->lock);
		return INVITES_ENOMEM;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&ow->thr, NULL, open_watch_main, ow);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != 0) {
		pthread_cond_destroy(&ow->cond);
		pthread_mutex_destroy(&ow->lock);
		return INVITES_ENOMEM;
	}
	return 0;
}

static void
open_watch_stop(struct open_watch *ow)
{
	pthread_mutex_lock(&ow->lock);
	ow->done = 1;
	pthread_cond_signal(&ow->cond);
	pthread_mutex_unlock(&ow->lock);
	pthread_join(ow->thr, NULL);
	pthread_cond_destroy(&ow->cond);
	pthread_mutex_destroy(&ow->lock);
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */
/* ------------------------------------------------------------------ */

static void
close_dbs(struct inv__backend *be)
{
	DB **dbs[] = { &be->exp, &be->byinv, &be->inv, &be->res, &be->pend,
	               &be->roles, &be->audit, &be->meta };
	size_t i;

	/* secondaries before their primary; DB_NOSYNC: the log has it all */
	for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		if (*dbs[i] != NULL)
			(void)(*dbs[i])->close(*dbs[i], DB_NOSYNC);
		*dbs[i] = NULL;
	}
}

static struct inv__backend failed_backend;

static void
bdb_close(struct inv__backend *be)
{
	int slot, ret, closed;

	if (be == NULL || be == &failed_backend)
		return;
	if (checkpointer_stop(be) != 0) {
		/* (the monitor goes on watching; the handle stays) */
		unregister_open(be);
		return;
	}
	/* the watchdog still watches the last calls; closing writes */
	inv__bdb_write_enter(be);
	slot = inv__bdb_busy_enter(be);
	if (be->env != NULL && !atomic_load(&be->panicked) &&
	    !(be->flags & INVITES_OPEN_READONLY)) {
		/* only when 1 MB of log has piled up: keeps CLI-only sites'
		 * logs bounded, costs nothing otherwise */
		ret = be->env->txn_checkpoint(be->env, CHECKPOINT_KB, 0, 0);
		if (ret != 0 && ret != DB_RUNRECOVERY)
			inv__log(INVITES_LOG_WARNING, "invite store %s: checkpoint: %s",
			         be->path, db_strerror(ret));
	}
	if (atomic_load(&be->panicked))
		panic_region(be);
	close_dbs(be);
	if (watchdog_stop(be) != 0) {
		/* (the stuck watchdog still counts as a writer) */
		inv__bdb_write_leave(be);
		unregister_open(be);
		return;
	}
	/* (still a watched call: detaching takes region mutexes) */
	closed = be->env != NULL;
	if (closed) {
		(void)be->env->close(be->env, 0);
		be->env = NULL;
	}
	inv__bdb_busy_leave(be, slot);
	inv__bdb_write_leave(be);
	monitor_stop(be);
	/* (before unregister_open: no new handle of this process on the
	 * store can have read the registry yet) */
	if (closed)
		registry_forget(be->path);
	unregister_open(be);
	gate_close(be);
	pthread_mutex_destroy(&be->gate_lock);
	free(be->path);
	free(be);
}

static int
bdb_open(const struct inv__store_params *p, struct inv__backend **be_r)
{
	struct inv__backend *be;
	struct open_watch ow;
	int major, minor, patch, creating, registered = 0, watched, rc;

	*be_r = NULL;
	(void)db_version(&major, &minor, &patch);
	if (major != DB_VERSION_MAJOR || minor != DB_VERSION_MINOR) {
		inv__log(INVITES_LOG_ERR,
		         "invite store: the Berkeley DB library is %d.%d.%d but "
		         "this program was built for %d.%d; rebuild it",
		         major, minor, patch, DB_VERSION_MAJOR, DB_VERSION_MINOR);
		return INVITES_ESTORE;
	}
	be = inv__calloc(1, sizeof(*be));
	if (be == NULL)
		return INVITES_ENOMEM;
	atomic_init(&be->panicked, 0);
	atomic_init(&be->damaged, 0);
	atomic_init(&be->region_panicked, 0);
	atomic_init(&be->os_error, 0);
	atomic_init(&be->failed_ms, 0);
	atomic_init(&be->wd_ticks, 0);
	be->gate_fd = -1;
	be->flags = p->flags;
	be->path = inv__strdup(p->path);
	if (be->path == NULL || pthread_mutex_init(&be->gate_lock, NULL) != 0) {
		free(be->path);
		free(be);
		return INVITES_ENOMEM;
	}
	rc = prepare_dir(be, &creating);
	if (rc == 0) {
		rc = register_open(be);
		registered = rc == 0;
	}
	/* (before the watch: waiting at the gate is bounded, not stuck) */
	if (rc == 0) {
		gate_open(be);
		gate_close_in(be);
	}
	watched = rc == 0 && ((p->flags & INVITES_OPEN_DAEMON) ||
	                      inv__hang_handler_set());
	if (watched && open_watch_start(&ow, be->path) != 0)
		watched = 0;
	if (rc == 0)
		rc = env_open(be, p->cache_bytes);
	if (rc == 0)
		rc = open_dbs(be, creating);
	if (watched)
		open_watch_stop(&ow);
	gate_reopen(be);
	if (rc == 0 && ((p->flags & INVITES_OPEN_DAEMON) || inv__hang_handler_set()))
		rc = threads_start(be, (p->flags & INVITES_OPEN_DAEMON) &&
		                       !(p->flags & INVITES_OPEN_READONLY));
	if (rc != 0) {
		(void)checkpointer_stop(be);
		(void)watchdog_stop(be);
		monitor_stop(be);
		close_dbs(be);
		if (be->env != NULL)
			(void)be->env->close(be->env, 0);
		if (registered)
			unregister_open(be);
		gate_close(be);
		pthread_mutex_destroy(&be->gate_lock);
		free(be->path);
		free(be);
		return rc;
	}
	*be_r = be;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Create, get                                                         */
/* ------------------------------------------------------------------ */

static int
create_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	const struct inv__create_req *req = arg;
	const struct invites_invite *inv = req->inv;
	struct invites_audit a;
	struct reskey rk;
	size_t count;
	int blocked, ret;

	if (req->limit > 0 && inv->inviter != NULL) {
		ret = count_inviter(be, txn, inv->inviter, req->now, &count);
		if (ret != 0)
			return ret;
		if (count >= req->limit)
			return INVITES_ELIMIT;
	}
	if (inv__reserves_name(inv)) {
		ret = reskey_make(&rk, inv->domain, inv->username);
		if (ret == 0)
			ret = res_blocked(be, txn, &rk, NULL, req->now, 1, &blocked);
		if (ret != 0)
			return ret;
		if (blocked)
			return INVITES_ERESERVED;
		ret = res_put(be, txn, &rk, inv->hash);
		if (ret != 0)
			return ret;
	}
	ret = put_invite(be, txn, inv, &req->extra, DB_NOOVERWRITE);
	if (ret != 0)
		return ret;
	inv__audit_fill(&a, INVITES_EV_CREATED, inv, inv->created_by, NULL,
	                req->now);
	return audit_append(be, txn, &a);
}

static int
bdb_create(struct inv__backend *be, const struct inv__create_req *req)
{
	int rc = check_writable(be);

	if (rc != 0)
		return rc;
	return run_txn(be, 0, create_txn, (void *)(uintptr_t)req, "create");
}

struct get_arg {
	const struct inv__ref *ref;
	struct invites_invite *inv;
};

static int
get_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct get_arg *g = arg;

	invites_invite_free(&g->inv);
	return find_invite(be, txn, g->ref, 0, &g->inv, NULL);
}

static int
bdb_get(struct inv__backend *be, const struct inv__ref *ref,
        struct invites_invite **inv_r)
{
	struct get_arg g = { ref, NULL };
	int rc;

	rc = run_txn(be, DB_READ_COMMITTED, get_txn, &g, "get");
	if (rc != 0)
		invites_invite_free(&g.inv);
	*inv_r = g.inv;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Consume, unconsume                                                  */
/* ------------------------------------------------------------------ */

static int
put_pending(struct inv__backend *be, DB_TXN *txn,
            const struct invites_pending *p,
            const unsigned char hash[INVITES_HASH_LEN])
{
	struct inv__buf b;
	DBT k, d;
	int ret;

	inv__buf_init(&b);
	ret = inv__record_pending_encode(&b, p, hash);
	if (ret == 0) {
		dbt_in(&k, p->jid, strlen(p->jid));
		dbt_in(&d, b.p, b.len);
		ret = be->pend->put(be->pend, txn, &k, &d, 0);
	}
	inv__buf_free(&b);
	return ret;
}

struct consume_arg {
	const struct inv__consume_req *req;
	struct invites_invite *inv;
};

static int
consume_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct consume_arg *ca = arg;
	const struct inv__consume_req *req = ca->req;
	struct inv__consume_plan plan;
	struct inv__invite_extra extra;
	struct invites_invite *inv = NULL;
	struct inv__ref ref;
	struct reskey rk;
	int check_res, blocked, ret;

	invites_invite_free(&ca->inv);
	memset(&ref, 0, sizeof(ref));
	ref.by_hash = 1;
	memcpy(ref.hash, req->hash, INVITES_HASH_LEN);
	ret = find_invite(be, txn, &ref, 1, &inv, &extra);
	if (ret != 0)
		return ret;
	ret = inv__consume_check(inv, req, &check_res);
	if (ret == 0 && check_res) {
		ret = reskey_make(&rk, req->domain, req->username);
		if (ret == 0)
			ret = res_blocked(be, txn, &rk, inv->hash, req->now, 0,
			                  &blocked);
		if (ret == 0 && blocked)
			ret = INVITES_ERESERVED;
	}
	if (ret != 0) {
		invites_invite_free(&inv);
		return ret;
	}
	ret = inv__consume_apply(inv, &extra, req, &plan);
	if (ret == 0)
		ret = put_invite(be, txn, inv, &extra, 0);
	if (ret == 0 && plan.release_reservation)
		ret = res_release(be, txn, inv);
	if (ret == 0 && plan.pending != NULL)
		ret = put_pending(be, txn, plan.pending, inv->hash);
	if (ret == 0)
		ret = audit_append(be, txn, &plan.audit);
	inv__consume_plan_free(&plan);
	if (ret != 0) {
		invites_invite_free(&inv);
		return ret;
	}
	ca->inv = inv;
	return 0;
}

static int
bdb_consume(struct inv__backend *be, const struct inv__consume_req *req,
            struct invites_invite **inv_r)
{
	struct consume_arg ca = { req, NULL };
	int rc = check_writable(be);

	if (rc == 0)
		rc = run_txn(be, 0, consume_txn, &ca, "consume");
	if (rc == 0 && inv_r != NULL)
		*inv_r = ca.inv;
	else
		invites_invite_free(&ca.inv);
	return rc;
}

struct unconsume_arg {
	const unsigned char *hash;
	const char *invitee;
	int64_t now;
	int64_t grace;
};

static int
unconsume_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct unconsume_arg *ua = arg;
	unsigned char phash[INVITES_HASH_LEN], holder[INVITES_HASH_LEN];
	struct inv__unconsume_plan plan;
	struct invites_pending *p = NULL;
	struct inv__invite_extra extra;
	struct invites_invite *inv = NULL;
	struct inv__ref ref;
	struct reskey rk;
	int matches = 0, found, usable, ret;
	DBT k, d;

	memset(&ref, 0, sizeof(ref));
	ref.by_hash = 1;
	memcpy(ref.hash, ua->hash, INVITES_HASH_LEN);
	ret = find_invite(be, txn, &ref, 1, &inv, &extra);
	if (ret != 0)
		return ret;
	dbt_in(&k, ua->invitee, strlen(ua->invitee));
	dbt_out(&d);
	ret = be->pend->get(be->pend, txn, &k, &d, DB_RMW);
	if (ret == 0) {
		if (inv__record_pending_decode(ua->invitee, strlen(ua->invitee),
		                               d.data, d.size, &p, phash) == 0 &&
		    memcmp(phash, ua->hash, INVITES_HASH_LEN) == 0)
			matches = 1;
		invites_pending_free(&p);
	} else if (ret == DB_NOTFOUND) {
		ret = 0;
	}
	dbt_free(&d);
	if (ret == 0)
		inv__unconsume_apply(inv, &extra, ua->invitee, matches, ua->now,
		                     ua->grace, &plan);
	if (ret == 0 && plan.undo) {
		ret = put_invite(be, txn, inv, &extra, 0);
		if (ret == 0 && matches) {
			dbt_in(&k, ua->invitee, strlen(ua->invitee));
			ret = be->pend->del(be->pend, txn, &k, 0);
		}
		if (ret == 0 && plan.restore_reservation &&
		    reskey_make(&rk, inv->domain, inv->username) == 0) {
			ret = res_get(be, txn, &rk, 1, holder, &found);
			usable = 0;
			if (ret == 0 && found &&
			    memcmp(holder, inv->hash, INVITES_HASH_LEN) != 0)
				ret = hash_usable(be, txn, holder, ua->now, &usable);
			if (ret == 0 && !usable)
				ret = res_put(be, txn, &rk, inv->hash);
		}
		if (ret == 0)
			ret = audit_append(be, txn, &plan.audit);
	}
	invites_invite_free(&inv);
	return ret;
}

static int
bdb_unconsume(struct inv__backend *be, const unsigned char hash[INVITES_HASH_LEN],
              const char *invitee, int64_t now, int64_t purge_grace)
{
	struct unconsume_arg ua = { hash, invitee, now, purge_grace };
	int rc = check_writable(be);

	if (rc != 0)
		return rc;
	return run_txn(be, 0, unconsume_txn, &ua, "unconsume");
}

/* ------------------------------------------------------------------ */
/* Revoke, reissue                                                     */
/* ------------------------------------------------------------------ */

struct revoke_arg {
	const struct inv__ref *ref;
	const char *actor;
	int64_t now;
	int64_t grace;
	struct invites_invite *inv;
};

static int
revoke_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct revoke_arg *ra = arg;
	struct inv__invite_extra extra;
	struct invites_invite *inv = NULL;
	struct invites_audit a;
	int ret;

	invites_invite_free(&ra->inv);
	ret = find_invite(be, txn, ra->ref, 1, &inv, &extra);
	if (ret != 0)
		return ret;
	if (inv->flags & INVITES_F_REVOKED) {
		invites_invite_free(&inv);
		return INVITES_EREVOKED;
	}
	inv__revoke_apply(inv, &extra, ra->now, ra->grace);
	ret = put_invite(be, txn, inv, &extra, 0);
	if (ret == 0)
		ret = res_release(be, txn, inv);
	if (ret == 0) {
		inv__audit_fill(&a, INVITES_EV_REVOKED, inv, ra->actor, NULL,
		                ra->now);
		ret = audit_append(be, txn, &a);
	}
	if (ret != 0) {
		invites_invite_free(&inv);
		return ret;
	}
	ra->inv = inv;
	return 0;
}

static int
bdb_revoke(struct inv__backend *be, const struct inv__ref *ref,
           const char *actor, int64_t now, int64_t purge_grace,
           struct invites_invite **inv_r)
{
	struct revoke_arg ra = { ref, actor, now, purge_grace, NULL };
	int rc = check_writable(be);

	if (rc == 0)
		rc = run_txn(be, 0, revoke_txn, &ra, "revoke");
	if (rc == 0 && inv_r != NULL)
		*inv_r = ra.inv;
	else
		invites_invite_free(&ra.inv);
	return rc;
}

struct reissue_arg {
	const struct inv__reissue_req *req;
	struct invites_invite *inv;
};

static int
reissue_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct reissue_arg *ra = arg;
	const struct inv__reissue_req *req = ra->req;
	struct inv__invite_extra old_extra, new_extra;
	struct invites_invite *old = NULL, *n = NULL;
	struct invites_audit a;
	struct reskey rk;
	int ret;

	invites_invite_free(&ra->inv);
	ret = find_invite(be, txn, &req->old, 1, &old, &old_extra);
	if (ret != 0)
		return ret;
	ret = inv__reissue_build(old, req, &n, &new_extra);
	if (ret == 0) {
		inv__revoke_apply(old, &old_extra, req->now, req->purge_grace);
		ret = put_invite(be, txn, old, &old_extra, 0);
	}
	if (ret == 0)
		ret = put_invite(be, txn, n, &new_extra, DB_NOOVERWRITE);
	if (ret == 0 && inv__reserves_name(n)) {
		ret = reskey_make(&rk, n->domain, n->username);
		if (ret == 0)
			ret = res_put(be, txn, &rk, n->hash);
	}
	if (ret == 0) {
		inv__audit_fill(&a, INVITES_EV_REISSUED, old, req->actor, n->id,
		                req->now);
		ret = audit_append(be, txn, &a);
	}
	if (ret == 0) {
		inv__audit_fill(&a, INVITES_EV_CREATED, n, req->actor, old->id,
		                req->now);
		ret = audit_append(be, txn, &a);
	}
	invites_invite_free(&old);
	if (ret != 0) {
		invites_invite_free(&n);
		return ret;
	}
	ra->inv = n;
	return 0;
}

static int
bdb_reissue(struct inv__backend *be, const struct inv__reissue_req *req,
            struct invites_invite **inv_r)
{
	struct reissue_arg ra = { req, NULL };
	int rc = check_writable(be);

	if (rc == 0)
		rc = run_txn(be, 0, reissue_txn, &ra, "reissue");
	if (rc == 0)
		*inv_r = ra.inv;
	else
		invites_invite_free(&ra.inv);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Batched scans: short read transactions, callbacks outside them      */
/* ------------------------------------------------------------------ */

/* A visitor returns 0 to go on, 1 when its batch is full, or an error. */
typedef int visit_fn(struct inv__backend *be, void *ctx, const DBT *k,
                     const DBT *d);

struct scan {
	DB *db;
	unsigned char key[2 * INVITES_JID_MAX + 2]; /* resume after this */
	size_t key_len;
	int started;
	int done;
	size_t limit;
	visit_fn *visit;
	void (*reset)(void *ctx);
	void *ctx;
};

static int
scan_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct scan *s = arg;
	size_t n = 0;
	DBC *c;
	DBT k, d;
	int ret, ret2, v = 0;

	s->reset(s->ctx);
	ret = s->db->cursor(s->db, txn, &c, 0);
	if (ret != 0)
		return ret;
	dbt_out(&k);
	dbt_out(&d);
	if (!s->started) {
		ret = c->get(c, &k, &d, DB_FIRST);
	} else if (dbt_inout(&k, s->key, s->key_len) != 0) {
		ret = INVITES_ENOMEM;
	} else {
		ret = c->get(c, &k, &d, DB_SET_RANGE);
		if (ret == 0 && k.size == s->key_len &&
		    memcmp(k.data, s->key, s->key_len) == 0)
			ret = c->get(c, &k, &d, DB_NEXT);
	}
	while (ret == 0) {
		v = s->visit(be, s->ctx, &k, &d);
		if (v < 0) {
			ret = v;
			break;
		}
		n++;
		if (k.size > sizeof(s->key)) {
			ret = INVITES_ECORRUPT;
			break;
		}
		if (v > 0 || n >= s->limit) {
			memcpy(s->key, k.data, k.size);
			s->key_len = k.size;
			break;
		}
		ret = c->get(c, &k, &d, DB_NEXT);
	}
	if (ret == DB_NOTFOUND) {
		s->done = 1;
		ret = 0;
	}
	ret2 = c->close(c);
	dbt_free(&k);
	dbt_free(&d);
	if (ret == 0)
		ret = ret2;
	if (ret == 0)
		s->started = 1;
	return ret;
}

/* ---- list ---- */

struct list_ctx {
	const struct invites_filter *f;
	struct invites_invite *items[SCAN_BATCH];
	size_t n;
};

static void
list_reset(void *ctx)
{
	struct list_ctx *l = ctx;
	size_t i;

	for (i = 0; i < l->n; i++)
		invites_invite_free(&l->items[i]);
	l->n = 0;
}

static int
list_visit(struct inv__backend *be, void *ctx, const DBT *k, const DBT *d)
{
	struct list_ctx *l = ctx;
	struct inv__invite_peek p;
	int rc;

	if (inv__record_invite_peek(d->data, d->size, &p) != 0 ||
	    !inv__filter_match(&p, l->f))
		return 0; /* damaged records are logged by show, not list */
	rc = decode_invite(be, k, d, &l->items[l->n], NULL);
	if (rc == INVITES_ECORRUPT || rc == INVITES_EVERSION)
		return 0;
	if (rc != 0)
		return rc;
	l->n++;
	return l->n >= SCAN_BATCH ? 1 : 0;
}

/* Hand the batch to the caller; returns its non-zero answer, if any. */
static int
list_deliver(struct list_ctx *l, invites_list_fn *fn, void *ctx)
{
	size_t i;
	int r = 0;

	for (i = 0; i < l->n && r == 0; i++)
		r = fn(ctx, l->items[i]);
	list_reset(l);
	return r;
}

/* Through the inviter index: collect the keys, then read them in batches. */
struct keys_ctx {
	const char *inviter;
	unsigned char (*keys)[INVITES_HASH_LEN];
	size_t n, cap;
};

static int
keys_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct keys_ctx *kc = arg;
	void *grown;
	DBC *c;
	DBT k, pk, d;
	int ret, ret2;

	kc->n = 0;
	ret = be->byinv->cursor(be->byinv, txn, &c, 0);
	if (ret != 0)
		return ret;
	if (dbt_inout(&k, kc->inviter, strlen(kc->inviter)) != 0) {
		(void)c->close(c);
		return INVITES_ENOMEM;
	}
	dbt_out(&pk);
	dbt_none(&d);
	ret = c->pget(c, &k, &pk, &d, DB_SET);
	while (ret == 0) {
		if (pk.size == INVITES_HASH_LEN) {
			if (kc->n == kc->cap) {
				size_t cap = kc->cap ? kc->cap * 2 : 64;

				grown = inv__realloc(kc->keys, cap * INVITES_HASH_LEN);
				if (grown == NULL) {
					ret = INVITES_ENOMEM;
					break;
				}
				kc->keys = grown;
				kc->cap = cap;
			}
			memcpy(kc->keys[kc->n++], pk.data, INVITES_HASH_LEN);
		}
		ret = c->pget(c, &k, &pk, &d, DB_NEXT_DUP);
	}
	if (ret == DB_NOTFOUND)
		ret = 0;
	ret2 = c->close(c);
	dbt_free(&k);
	dbt_free(&pk);
	dbt_free(&d);
	return ret != 0 ? ret : ret2;
}

struct fetch_ctx {
	struct keys_ctx *kc;
	size_t from, to;
	struct list_ctx *l;
};

static int
fetch_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct fetch_ctx *fc = arg;
	size_t i;
	DBT k, d;
	int ret;

	list_reset(fc->l);
	dbt_out(&d);
	for (i = fc->from; i < fc->to; i++) {
		dbt_in(&k, fc->kc->keys[i], INVITES_HASH_LEN);
		ret = be->inv->get(be->inv, txn, &k, &d, 0);
		if (ret == DB_NOTFOUND)
			continue; /* purged meanwhile */
		if (ret == 0)
			ret = list_visit(be, fc->l, &k, &d);
		if (ret < 0 || ret > 0x10000) {
			dbt_free(&d);
			return ret;
		}
	}
	dbt_free(&d);
	return 0;
}

static int
list_by_inviter(struct inv__backend *be, struct list_ctx *l,
                invites_list_fn *fn, void *ctx)
{
	struct keys_ctx kc;
	struct fetch_ctx fc;
	int rc;

	memset(&kc, 0, sizeof(kc));
	kc.inviter = l->f->inviter;
	rc = run_txn(be, DB_READ_COMMITTED, keys_txn, &kc, "list");
	for (fc.from = 0; rc == 0 && fc.from < kc.n; fc.from = fc.to) {
		fc.kc = &kc;
		fc.l = l;
		fc.to = fc.from + SCAN_BATCH < kc.n ? fc.from + SCAN_BATCH : kc.n;
		rc = run_txn(be, DB_READ_COMMITTED, fetch_txn, &fc, "list");
		if (rc == 0)
			rc = list_deliver(l, fn, ctx);
	}
	list_reset(l);
	free(kc.keys);
	return rc;
}

static int
bdb_list(struct inv__backend *be, const struct invites_filter *f,
         invites_list_fn *fn, void *ctx)
{
	struct list_ctx *l;
	struct scan *s;
	int rc = 0;

	l = inv__calloc(1, sizeof(*l));
	s = inv__calloc(1, sizeof(*s));
	if (l == NULL || s == NULL) {
		free(l);
		free(s);
		return INVITES_ENOMEM;
	}
	l->f = f;
	if (f->inviter != NULL) {
		rc = list_by_inviter(be, l, fn, ctx);
	} else {
		s->db = be->inv;
		s->limit = SIZE_MAX;
		s->visit = list_visit;
		s->reset = list_reset;
		s->ctx = l;
		while (rc == 0 && !s->done) {
			rc = run_txn(be, DB_READ_COMMITTED, scan_txn, s, "list");
			if (rc == 0)
				rc = list_deliver(l, fn, ctx);
		}
		list_reset(l);
	}
	free(l);
	free(s);
	return rc;
}

/* ---- stats ---- */

struct stats_ctx {
	struct invites_stats batch;
	int64_t now;
};

static void
stats_reset(void *ctx)
{
	struct stats_ctx *sc = ctx;

	memset(&sc->batch, 0, sizeof(sc->batch));
}

static int
stats_visit(struct inv__backend *be, void *ctx, const DBT *k, const DBT *d)
{
	struct stats_ctx *sc = ctx;
	struct inv__invite_peek p;

	(void)be;
	(void)k;
	if (inv__record_invite_peek(d->data, d->size, &p) == 0)
		inv__stats_count(&sc->batch, &p, sc->now);
	else
		sc->batch.total++;
	return 0;
}

static void
stats_merge(struct invites_stats *st, const struct invites_stats *b)
{
	size_t i;

	st->total += b->total;
	st->pending += b->pending;
	st->expired += b->expired;
	st->used_up += b->used_up;
	st->revoked += b->revoked;
	for (i = 0; i < 4; i++)
		st->by_kind[i] += b->by_kind[i];
	if (b->oldest_expiry != 0 &&
	    (st->oldest_expiry == 0 || b->oldest_expiry < st->oldest_expiry))
		st->oldest_expiry = b->oldest_expiry;
}

struct count_ctx {
	size_t batch;
};

static void
count_reset(void *ctx)
{
	((struct count_ctx *)ctx)->batch = 0;
}

static int
count_visit(struct inv__backend *be, void *ctx, const DBT *k, const DBT *d)
{
	(void)be;
	(void)k;
	(void)d;
	((struct count_ctx *)ctx)->batch++;
	return 0;
}

/* Audit sequence numbers are contiguous from the first kept to the last. */
static int
audit_span_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	size_t *count = arg;
	uint64_t first = 0, last = 0;
	DBC *c;
	DBT k, d;
	int ret, ret2;

	*count = 0;
	ret = be->audit->cursor(be->audit, txn, &c, 0);
	if (ret != 0)
		return ret;
	dbt_out(&k);
	dbt_none(&d);
	ret = c->get(c, &k, &d, DB_FIRST);
	if (ret == 0 && k.size == 8)
		first = inv__get_u64(k.data);
	if (ret == 0)
		ret = c->get(c, &k, &d, DB_LAST);
	if (ret == 0 && k.size == 8)
		last = inv__get_u64(k.data);
	if (ret == 0 && last >= first && first > 0)
		*count = (size_t)(last - first + 1);
	if (ret == DB_NOTFOUND)
		ret = 0;
	ret2 = c->close(c);
	dbt_free(&k);
	dbt_free(&d);
	return ret != 0 ? ret : ret2;
}

static void
disk_usage(struct inv__backend *be, struct invites_stats *st)
{
	struct dirent *de;
	struct stat sb;
	char *path;
	DIR *dir;

	dir = opendir(be->path);
	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		int data = is_db_file(de->d_name);
		int log = strncmp(de->d_name, "log.", 4) == 0;

		if (!data && !log)
			continue;
		path = file_path(be->path, de->d_name);
		if (path != NULL && stat(path, &sb) == 0) {
			if (data)
				st->data_bytes += (uint64_t)sb.st_size;
			else
				st->log_bytes += (uint64_t)sb.st_size;
		}
		free(path);
	}
	closedir(dir);
}

static int
bdb_stats(struct inv__backend *be, int64_t now, struct invites_stats *st)
{
	struct stats_ctx sc;
	struct count_ctx cc;
	struct scan *s;
	int rc = 0;

	s = inv__calloc(1, sizeof(*s));
	if (s == NULL)
		return INVITES_ENOMEM;
	memset(&sc, 0, sizeof(sc));
	sc.now = now;
	s->db = be->inv;
	s->limit = 4 * SCAN_BATCH;
	s->visit = stats_visit;
	s->reset = stats_reset;
	s->ctx = &sc;
	while (rc == 0 && !s->done) {
		rc = run_txn(be, DB_READ_COMMITTED, scan_txn, s, "stats");
		if (rc == 0)
			stats_merge(st, &sc.batch);
	}
	memset(s, 0, sizeof(*s));
	cc.batch = 0;
	s->db = be->pend;
	s->limit = 4 * SCAN_BATCH;
	s->visit = count_visit;
	s->reset = count_reset;
	s->ctx = &cc;
	while (rc == 0 && !s->done) {
		rc = run_txn(be, DB_READ_COMMITTED, scan_txn, s, "stats");
		if (rc == 0)
			st->pending_actions += cc.batch;
	}
	free(s);
	if (rc == 0)
		rc = run_txn(be, DB_READ_COMMITTED, audit_span_txn,
		             &st->audit_records, "stats");
	if (rc == 0)
		disk_usage(be, st);
	return rc;
}

/* ---- audit walk ---- */

struct audit_item {
	struct invites_audit rec;
	char *strings;
};

struct audit_ctx {
	struct audit_item items[SCAN_BATCH];
	size_t n;
};

static void
audit_reset(void *ctx)
{
	struct audit_ctx *ac = ctx;
	size_t i;

	for (i = 0; i < ac->n; i++)
		free(ac->items[i].strings);
	ac->n = 0;
}

static int
audit_visit(struct inv__backend *be, void *ctx, const DBT *k, const DBT *d)
{
	struct audit_ctx *ac = ctx;
	struct audit_item *it = &ac->items[ac->n];
	int rc;

	if (k->size != 8)
		return INVITES_ECORRUPT;
	rc = inv__record_audit_decode(inv__get_u64(k->data), d->data, d->size,
	                              &it->rec, &it->strings);
	if (rc == INVITES_ECORRUPT || rc == INVITES_EVERSION) {
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: audit record %llu: %s", be->path,
		         (unsigned long long)inv__get_u64(k->data),
		         invites_strerror(rc));
		return 0;
	}
	if (rc != 0)
		return rc;
	ac->n++;
	return ac->n >= SCAN_BATCH ? 1 : 0;
}

static int
bdb_audit_walk(struct inv__backend *be, uint64_t from, invites_audit_fn *fn,
               void *ctx)
{
	struct audit_ctx *ac;
	struct scan *s;
	size_t i;
	int rc = 0, r = 0;

	ac = inv__calloc(1, sizeof(*ac));
	s = inv__calloc(1, sizeof(*s));
	if (ac == NULL || s == NULL) {
		free(ac);
		free(s);
		return INVITES_ENOMEM;
	}
	s->db = be->audit;
	s->limit = SIZE_MAX;
	s->visit = audit_visit;
	s->reset = audit_reset;
	s->ctx = ac;
	if (from > 1) {
		/* resume "after" from - 1, i.e. at from */
		inv__put_u64(s->key, from - 1);
		s->key_len = 8;
		s->started = 1;
	}
	while (rc == 0 && r == 0 && !s->done) {
		rc = run_txn(be, DB_READ_COMMITTED, scan_txn, s, "audit");
		for (i = 0; rc == 0 && r == 0 && i < ac->n; i++)
			r = fn(ctx, &ac->items[i].rec);
		audit_reset(ac);
	}
	free(ac);
	free(s);
	return rc != 0 ? rc : r;
}

/* ------------------------------------------------------------------ */
/* Purge                                                               */
/* ------------------------------------------------------------------ */

struct purge_arg {
	int64_t now;
	size_t n;    /* purged in this batch */
	int done;
};

static int
purge_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct purge_arg *pa = arg;
	struct invites_invite *inv = NULL, stub;
	struct invites_audit a;
	DBC *c;
	DBT sk, pk, d;
	int ret, ret2;

	pa->n = 0;
	pa->done = 0;
	ret = be->exp->cursor(be->exp, txn, &c, 0);
	if (ret != 0)
		return ret;
	dbt_out(&sk);
	dbt_out(&pk);
	dbt_out(&d);
	ret = c->pget(c, &sk, &pk, &d, DB_FIRST | DB_RMW);
	while (ret == 0 && pa->n < INV__PURGE_BATCH) {
		if (sk.size != 8 || pk.size != INVITES_HASH_LEN) {
			ret = INVITES_ECORRUPT;
			break;
		}
		if (inv__time_from_key(sk.data) > pa->now) {
			pa->done = 1;
			break;
		}
		ret = decode_invite(be, &pk, &d, &inv, NULL);
		if (ret == INVITES_ECORRUPT || ret == INVITES_EVERSION) {
			/* still due: drop it, audit what is known */
			memset(&stub, 0, sizeof(stub));
			memcpy(stub.hash, pk.data, INVITES_HASH_LEN);
			invites_hash_id(stub.hash, stub.id);
			ret = 0;
		} else if (ret != 0) {
			break;
		}
		ret = c->del(c, 0);
		if (ret == 0 && inv != NULL)
			ret = res_release(be, txn, inv);
		if (ret == 0) {
			inv__audit_fill(&a, INVITES_EV_PURGED, inv ? inv : &stub,
			                NULL, NULL, pa->now);
			ret = audit_append(be, txn, &a);
		}
		invites_invite_free(&inv);
		if (ret != 0)
			break;
		pa->n++;
		ret = c->pget(c, &sk, &pk, &d, DB_NEXT | DB_RMW);
	}
	if (ret == DB_NOTFOUND) {
		pa->done = 1;
		ret = 0;
	}
	ret2 = c->close(c);
	dbt_free(&sk);
	dbt_free(&pk);
	dbt_free(&d);
	return ret != 0 ? ret : ret2;
}

struct trim_arg {
	int64_t before;
	size_t n;
	int done;
};

/* Drop audit records older than before, in batches, keeping the newest
 * (so that sequence numbers never restart). */
static int
trim_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct trim_arg *ta = arg;
	unsigned char hdr[16];
	uint64_t last = 0;
	DBC *c;
	DBT k, d;
	int ret, ret2;

	ta->n = 0;
	ta->done = 0;
	ret = be->audit->cursor(be->audit, txn, &c, 0);
	if (ret != 0)
		return ret;
	dbt_out(&k);
	dbt_none(&d);
	ret = c->get(c, &k, &d, DB_LAST);
	if (ret == 0 && k.size == 8)
		last = inv__get_u64(k.data);
	if (ret == 0) {
		dbt_free(&d);
		memset(&d, 0, sizeof(d));
		d.flags = DB_DBT_PARTIAL | DB_DBT_USERMEM;
		d.data = hdr;
		d.ulen = sizeof(hdr);
		d.dlen = sizeof(hdr);
		ret = c->get(c, &k, &d, DB_FIRST | DB_RMW);
	}
	while (ret == 0 && ta->n < INV__PURGE_BATCH) {
		if (k.size != 8 || d.size < 12 ||
		    inv__get_u64(k.data) >= last ||
		    (int64_t)inv__get_u64(hdr + 4) >= ta->before) {
			ta->done = 1;
			break;
		}
		ret = c->del(c, 0);
		if (ret != 0)
			break;
		ta->n++;
		ret = c->get(c, &k, &d, DB_NEXT | DB_RMW);
	}
	if (ret == DB_NOTFOUND) {
		ta->done = 1;
		ret = 0;
	}
	ret2 = c->close(c);
	dbt_free(&k);
	dbt_free(&d);
	return ret != 0 ? ret : ret2;
}

static int
bdb_purge(struct inv__backend *be, int64_t now, int64_t audit_before,
          size_t *purged_r)
{
	struct purge_arg pa;
	struct trim_arg ta;
	int rc = check_writable(be);

	*purged_r = 0;
	memset(&pa, 0, sizeof(pa));
	pa.now = now;
	while (rc == 0 && !pa.done) {
		rc = run_txn(be, 0, purge_txn, &pa, "purge");
		if (rc == 0)
			*purged_r += pa.n;
	}
	memset(&ta, 0, sizeof(ta));
	ta.before = audit_before;
	ta.done = audit_before == 0;
	while (rc == 0 && !ta.done)
		rc = run_txn(be, 0, trim_txn, &ta, "purge audit");
	return rc;
}

/* ------------------------------------------------------------------ */
/* Counts, reservations, pending work, roles                           */
/* ------------------------------------------------------------------ */

struct inviter_arg {
	const char *inviter;
	int64_t now;
	size_t count;
};

static int
inviter_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct inviter_arg *ia = arg;

	return count_inviter(be, txn, ia->inviter, ia->now, &ia->count);
}

static int
bdb_count_by_inviter(struct inv__backend *be, const char *inviter, int64_t now,
                     size_t *count_r)
{
	struct inviter_arg ia = { inviter, now, 0 };
	int rc;

	rc = run_txn(be, DB_READ_COMMITTED, inviter_txn, &ia, "count");
	*count_r = rc == 0 ? ia.count : 0;
	return rc;
}

struct reserved_arg {
	const char *domain, *username;
	const unsigned char *except;
	int64_t now;
	int blocked;
};

static int
reserved_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct reserved_arg *ra = arg;
	struct reskey rk;
	int ret;

	ret = reskey_make(&rk, ra->domain, ra->username);
	if (ret != 0)
		return ret;
	return res_blocked(be, txn, &rk, ra->except, ra->now, 0, &ra->blocked);
}

static int
bdb_reserved(struct inv__backend *be, const char *domain, const char *username,
             const unsigned char *except_hash, int64_t now)
{
	struct reserved_arg ra = { domain, username, except_hash, now, 0 };
	int rc;

	rc = run_txn(be, DB_READ_COMMITTED, reserved_txn, &ra, "reserved");
	return rc != 0 ? rc : ra.blocked;
}

struct pending_arg {
	const char *jid;
	int take;
	struct invites_pending *p;
};

static int
pending_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct pending_arg *pa = arg;
	DBT k, d;
	int ret;

	invites_pending_free(&pa->p);
	dbt_in(&k, pa->jid, strlen(pa->jid));
	dbt_out(&d);
	ret = be->pend->get(be->pend, txn, &k, &d, pa->take ? DB_RMW : 0);
	if (ret != 0) {
		dbt_free(&d);
		return ret;
	}
	ret = inv__record_pending_decode(pa->jid, strlen(pa->jid), d.data,
	                                 d.size, &pa->p, NULL);
	dbt_free(&d);
	if (ret == INVITES_ECORRUPT || ret == INVITES_EVERSION)
		inv__log(INVITES_LOG_ERR,
		         "invite store %s: pending work of %s: %s", be->path,
		         pa->jid, invites_strerror(ret));
	if (ret == 0 && pa->take) {
		ret = be->pend->del(be->pend, txn, &k, 0);
		if (ret != 0)
			invites_pending_free(&pa->p);
	}
	return ret;
}

static int
bdb_pending(struct inv__backend *be, const char *jid, int take,
            struct invites_pending **p_r)
{
	struct pending_arg pa = { jid, take, NULL };
	int rc = take ? check_writable(be) : 0;

	if (rc == 0)
		rc = run_txn(be, take ? 0 : DB_READ_COMMITTED, pending_txn, &pa,
		             "pending");
	if (rc == 0)
		*p_r = pa.p;
	else
		invites_pending_free(&pa.p);
	return rc;
}

static int
roles_read(struct inv__backend *be, DB_TXN *txn, const char *jid, int rmw,
           char ***roles_r, size_t *n_r)
{
	DBT k, d;
	int ret;

	*roles_r = NULL;
	*n_r = 0;
	dbt_in(&k, jid, strlen(jid));
	dbt_out(&d);
	ret = be->roles->get(be->roles, txn, &k, &d, rmw ? DB_RMW : 0);
	if (ret == DB_NOTFOUND)
		ret = 0;
	else if (ret == 0)
		ret = inv__record_roles_decode(d.data, d.size, roles_r, n_r);
	dbt_free(&d);
	if (ret == INVITES_ECORRUPT || ret == INVITES_EVERSION)
		inv__log(INVITES_LOG_ERR, "invite store %s: roles of %s: %s",
		         be->path, jid, invites_strerror(ret));
	return ret;
}

struct roles_arg {
	const char *jid;
	const char *role;
	int add;
	char **roles;
	size_t n;
};

static int
roles_get_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct roles_arg *ra = arg;

	invites_strv_free(ra->roles, ra->n);
	ra->roles = NULL;
	ra->n = 0;
	return roles_read(be, txn, ra->jid, 0, &ra->roles, &ra->n);
}

static int
bdb_roles_get(struct inv__backend *be, const char *jid, char ***roles_r,
              size_t *n_r)
{
	struct roles_arg ra = { jid, NULL, 0, NULL, 0 };
	int rc;

	rc = run_txn(be, DB_READ_COMMITTED, roles_get_txn, &ra, "roles");
	if (rc != 0) {
		invites_strv_free(ra.roles, ra.n);
		ra.roles = NULL;
		ra.n = 0;
	}
	*roles_r = ra.roles;
	*n_r = ra.n;
	return rc;
}

static int
roles_update_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct roles_arg *ra = arg;
	struct inv__buf b;
	char **roles, **grown;
	size_t n, i, at = SIZE_MAX;
	DBT k, d;
	int ret;

	ret = roles_read(be, txn, ra->jid, 1, &roles, &n);
	if (ret != 0)
		return ret;
	for (i = 0; i < n; i++)
		if (strcmp(roles[i], ra->role) == 0)
			at = i;
	if ((ra->add && at != SIZE_MAX) || (!ra->add && at == SIZE_MAX)) {
		invites_strv_free(roles, n);
		return 0; /* nothing changes */
	}
	if (ra->add) {
		if (n >= INV__MAX_ROLES) {
			invites_strv_free(roles, n);
			return INVITES_ELIMIT;
		}
		grown = inv__realloc(roles, (n + 1) * sizeof(*roles));
		if (grown == NULL) {
			invites_strv_free(roles, n);
			return INVITES_ENOMEM;
		}
		roles = grown;
		roles[n] = inv__strdup(ra->role);
		if (roles[n] == NULL) {
			invites_strv_free(roles, n);
			return INVITES_ENOMEM;
		}
		n++;
	} else {
		free(roles[at]);
		memmove(roles + at, roles + at + 1, (n - at - 1) * sizeof(*roles));
		n--;
	}
	dbt_in(&k, ra->jid, strlen(ra->jid));
	if (n == 0) {
		ret = be->roles->del(be->roles, txn, &k, 0);
	} else {
		inv__buf_init(&b);
		ret = inv__record_roles_encode(&b, roles, n);
		if (ret == 0) {
			dbt_in(&d, b.p, b.len);
			ret = be->roles->put(be->roles, txn, &k, &d, 0);
		}
		inv__buf_free(&b);
	}
	invites_strv_free(roles, n);
	return ret;
}

static int
bdb_roles_update(struct inv__backend *be, const char *jid, const char *role,
                 int add)
{
	struct roles_arg ra = { jid, role, add, NULL, 0 };
	int rc = check_writable(be);

	if (rc != 0)
		return rc;
	return run_txn(be, 0, roles_update_txn, &ra, "roles");
}

/* ------------------------------------------------------------------ */
/* Maintenance                                                         */
/* ------------------------------------------------------------------ */

static int
bdb_checkpoint(struct inv__backend *be, int force)
{
	int slot, ret;

	if (atomic_load(&be->panicked))
		return INVITES_ERECOVER;
	inv__bdb_write_enter(be);
	slot = inv__bdb_busy_enter(be);
	ret = be->env->txn_checkpoint(be->env, 0, 0, force ? DB_FORCE : 0);
	inv__bdb_busy_leave(be, slot);
	inv__bdb_write_leave(be);
	return map_ret(be, ret, "checkpoint");
}

static int
bdb_set_format(struct inv__backend *be, uint32_t version)
{
	int slot, ret, rc = check_writable(be);

	if (rc != 0)
		return rc;
	inv__bdb_write_enter(be);
	slot = inv__bdb_busy_enter(be);
	ret = meta_put(be, version, 0);
	inv__bdb_busy_leave(be, slot);
	inv__bdb_write_leave(be);
	return map_ret(be, ret, "write format record");
}

/* ---- for store_bdb_ft.c (ft.h) ---- */

struct __db_env *
inv__bdb_env(struct inv__backend *be)
{
	return atomic_load(&be->panicked) ? NULL : be->env;
}

const char *
inv__bdb_path(const struct inv__backend *be)
{
	return be->path;
}

int
inv__bdb_error(struct inv__backend *be, int ret, const char *what)
{
	return map_ret(be, ret, what);
}

int
inv__bdb_is_db_file(const char *name)
{
	return is_db_file(name);
}

/* ------------------------------------------------------------------ */
/* Auxiliary records (API keys): prefixed keys in meta.db               */
/* ------------------------------------------------------------------ */

/* meta.db holds the format record under META_KEY; auxiliary keys always
 * carry a "prefix:" of their own, so they never meet it. */
static int
aux_key_ok(const char *key)
{
	return key != NULL && strchr(key, ':') != NULL &&
	       strcmp(key, META_KEY) != 0 && strlen(key) < 256;
}

struct aux_arg {
	const char *key;
	const void *val;
	size_t len;
	int nooverwrite;
	char *out;
	size_t outlen;
	int (*fn)(void *ctx, const char *key, const char *val, size_t len);
	void *ctx;
	int stopped;
};

static int
aux_get_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct aux_arg *aa = arg;
	DBT k, d;
	int ret;

	dbt_in(&k, aa->key, strlen(aa->key));
	dbt_out(&d);
	ret = be->meta->get(be->meta, txn, &k, &d, 0);
	if (ret == DB_NOTFOUND) {
		dbt_free(&d);
		return INVITES_ENOTFOUND;
	}
	if (ret != 0) {
		dbt_free(&d);
		return ret;
	}
	free(aa->out);
	aa->out = inv__strndup(d.data, d.size);
	aa->outlen = d.size;
	dbt_free(&d);
	return aa->out ? 0 : INVITES_ENOMEM;
}

static int
bdb_aux_get(struct inv__backend *be, const char *key, char **val_r,
            size_t *len_r)
{
	struct aux_arg aa;
	int rc;

	memset(&aa, 0, sizeof(aa));
	*val_r = NULL;
	if (!aux_key_ok(key))
		return INVITES_EINVAL;
	aa.key = key;
	rc = run_txn(be, DB_READ_COMMITTED, aux_get_txn, &aa, "aux read");
	if (rc != 0) {
		free(aa.out);
		return rc;
	}
	*val_r = aa.out;
	if (len_r)
		*len_r = aa.outlen;
	return 0;
}

static int
aux_put_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct aux_arg *aa = arg;
	DBT k, d;
	int ret;

	dbt_in(&k, aa->key, strlen(aa->key));
	if (aa->val == NULL) {
		ret = be->meta->del(be->meta, txn, &k, 0);
		return ret == DB_NOTFOUND ? INVITES_ENOTFOUND : ret;
	}
	dbt_in(&d, aa->val, aa->len);
	ret = be->meta->put(be->meta, txn, &k, &d,
	                    aa->nooverwrite ? DB_NOOVERWRITE : 0);
	return ret == DB_KEYEXIST ? INVITES_EEXIST : ret;
}

static int
bdb_aux_put(struct inv__backend *be, const char *key, const void *val,
            size_t len, int nooverwrite)
{
	struct aux_arg aa;
	int rc = check_writable(be);

	if (rc != 0)
		return rc;
	if (!aux_key_ok(key) || val == NULL)
		return INVITES_EINVAL;
	memset(&aa, 0, sizeof(aa));
	aa.key = key;
	aa.val = val;
	aa.len = len;
	aa.nooverwrite = nooverwrite;
	return run_txn(be, 0, aux_put_txn, &aa, "aux write");
}

static int
bdb_aux_del(struct inv__backend *be, const char *key)
{
	struct aux_arg aa;
	int rc = check_writable(be);

	if (rc != 0)
		return rc;
	if (!aux_key_ok(key))
		return INVITES_EINVAL;
	memset(&aa, 0, sizeof(aa));
	aa.key = key;
	return run_txn(be, 0, aux_put_txn, &aa, "aux delete");
}

static int
aux_walk_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct aux_arg *aa = arg;
	size_t plen = strlen(aa->key);
	DBC *c;
	DBT k, d;
	int ret, cret;

	aa->stopped = 0;
	ret = be->meta->cursor(be->meta, txn, &c, 0);
	if (ret != 0)
		return ret;
	ret = dbt_inout(&k, aa->key, plen);
	if (ret != 0) {
		(void)c->close(c);
		return ret;
	}
	dbt_out(&d);
	ret = c->get(c, &k, &d, DB_SET_RANGE);
	while (ret == 0 && k.size >= plen && memcmp(k.data, aa->key, plen) == 0) {
		char *key = inv__strndup(k.data, k.size);
		char *val = inv__strndup(d.data, d.size);

		if (key == NULL || val == NULL) {
			free(key);
			free(val);
			ret = INVITES_ENOMEM;
			break;
		}
		aa->stopped = aa->fn(aa->ctx, key, val, d.size);
		free(key);
		inv__cleanse(val, d.size);
		free(val);
		if (aa->stopped)
			break;
		ret = c->get(c, &k, &d, DB_NEXT);
	}
	if (ret == DB_NOTFOUND || aa->stopped || (ret == 0))
		ret = 0;
	dbt_free(&k);
	dbt_free(&d);
	cret = c->close(c);
	return ret != 0 ? ret : cret;
}

static int
bdb_aux_walk(struct inv__backend *be, const char *prefix,
             int (*fn)(void *ctx, const char *key, const char *val, size_t len),
             void *ctx)
{
	struct aux_arg aa;
	int rc;

	if (prefix == NULL || strchr(prefix, ':') == NULL)
		return INVITES_EINVAL;
	memset(&aa, 0, sizeof(aa));
	aa.key = prefix;
	aa.fn = fn;
	aa.ctx = ctx;
	rc = run_txn(be, DB_READ_COMMITTED, aux_walk_txn, &aa, "aux walk");
	if (rc != 0)
		return rc;
	return aa.stopped;
}

static int
bdb_failed(struct inv__backend *be)
{
	return atomic_load(&be->panicked) != 0;
}

/* Every operation checks panicked before it touches env or a handle, so
 * this empty backend answers INVITES_ERECOVER to all of them. */
static struct inv__backend failed_backend;
static pthread_once_t failed_once = PTHREAD_ONCE_INIT;
static char failed_path[] = "(not open)";

static void
failed_init(void)
{
	failed_backend.path = failed_path;
	failed_backend.gate_fd = -1;
	atomic_store(&failed_backend.panicked, 1);
}

static struct inv__backend *
bdb_placeholder(void)
{
	pthread_once(&failed_once, failed_init);
	return &failed_backend;
}

/* ------------------------------------------------------------------ */
/* Import                                                              */
/* ------------------------------------------------------------------ */

static int
import_one(struct inv__backend *be, DB_TXN *txn,
           const struct inv__import_item *it, int64_t now)
{
	const struct invites_invite *inv = it->inv;
	struct reskey rk;
	size_t i;
	int blocked, ret = 0;

	if (inv != NULL && inv__reserves_name(inv)) {
		ret = reskey_make(&rk, inv->domain, inv->username);
		if (ret == 0)
			ret = res_blocked(be, txn, &rk, NULL, now, 1, &blocked);
		if (ret == 0 && blocked)
			ret = INVITES_ERESERVED;
		if (ret == 0)
			ret = res_put(be, txn, &rk, inv->hash);
	}
	if (ret == 0 && inv != NULL)
		ret = put_invite(be, txn, inv, &it->extra, DB_NOOVERWRITE);
	for (i = 0; ret == 0 && i < it->n_audit; i++)
		ret = audit_append(be, txn, &it->audit[i]);
	return ret;
}

static int
import_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct inv__import_req *req = arg;
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < req->n; i++) {
		req->failed = i;
		ret = import_one(be, txn, &req->items[i], req->now);
	}
	return ret;
}

static int
bdb_import(struct inv__backend *be, struct inv__import_req *req)
{
	int rc = check_writable(be);

	if (rc != 0)
		return rc;
	return run_txn(be, 0, import_txn, req, "import");
}

static uint64_t
bdb_watchdog_ticks(struct inv__backend *be)
{
	return (uint64_t)atomic_load(&be->wd_ticks);
}

/* Whole-store copies: defined at the end. */
static int bdb_raw_walk(struct inv__backend *be, int kind, inv__raw_fn *fn,
                        void *ctx);
static int bdb_raw_load(struct inv__backend *be, const struct inv__raw *recs,
                        size_t n);

const struct inv__store_ops inv__store_bdb_ops = {
	"bdb",
	bdb_open,
	bdb_close,
	bdb_create,
	bdb_get,
	bdb_consume,
	bdb_unconsume,
	bdb_revoke,
	bdb_reissue,
	bdb_list,
	bdb_purge,
	bdb_stats,
	bdb_count_by_inviter,
	bdb_reserved,
	bdb_pending,
	bdb_roles_get,
	bdb_roles_update,
	bdb_audit_walk,
	bdb_checkpoint,
	bdb_set_format,
	bdb_aux_get,
	bdb_aux_put,
	bdb_aux_del,
	bdb_aux_walk,
	bdb_failed,
	bdb_placeholder,
	bdb_import,
	bdb_watchdog_ticks,
	bdb_raw_walk,
	bdb_raw_load,
};

/* ------------------------------------------------------------------ */
/* Whole-store copies (store_copy.c): records as they are stored       */
/* ------------------------------------------------------------------ */

#define RAW_BATCH 256

struct raw_ctx {
	int kind;
	struct inv__raw recs[RAW_BATCH];
	void *mem[RAW_BATCH];
	size_t n;
};

static void
raw_reset(void *ctx)
{
	struct raw_ctx *r = ctx;
	size_t i;

	for (i = 0; i < r->n; i++) {
		inv__cleanse(r->mem[i], r->recs[i].klen + r->recs[i].vlen);
		free(r->mem[i]);
	}
	r->n = 0;
}

static int
is_meta_key(const void *k, size_t n)
{
	return n == strlen(META_KEY) && memcmp(k, META_KEY, n) == 0;
}

static int
raw_visit(struct inv__backend *be, void *ctx, const DBT *k, const DBT *d)
{
	struct raw_ctx *r = ctx;
	unsigned char *m;

	(void)be;
	if (r->kind == INV__RAW_AUX && is_meta_key(k->data, k->size))
		return 0; /* the format record stays with its store */
	m = inv__malloc((size_t)k->size + d->size + 1);
	if (m == NULL)
		return INVITES_ENOMEM;
	memcpy(m, k->data, k->size);
	memcpy(m + k->size, d->data, d->size);
	r->mem[r->n] = m;
	r->recs[r->n].kind = r->kind;
	r->recs[r->n].key = m;
	r->recs[r->n].klen = k->size;
	r->recs[r->n].val = m + k->size;
	r->recs[r->n].vlen = d->size;
	r->n++;
	return r->n >= RAW_BATCH ? 1 : 0;
}

static DB *
raw_db(struct inv__backend *be, int kind)
{
	switch (kind) {
	case INV__RAW_INVITE:
		return be->inv;
	case INV__RAW_RESERVE:
		return be->res;
	case INV__RAW_PENDING:
		return be->pend;
	case INV__RAW_ROLES:
		return be->roles;
	case INV__RAW_AUDIT:
		return be->audit;
	case INV__RAW_AUX:
		return be->meta;
	}
	return NULL;
}

static int
bdb_raw_walk(struct inv__backend *be, int kind, inv__raw_fn *fn, void *ctx)
{
	struct raw_ctx *r;
	struct scan *s;
	size_t i;
	int rc = 0, stop = 0;

	if (atomic_load(&be->panicked))
		return INVITES_ERECOVER;
	if (raw_db(be, kind) == NULL)
		return INVITES_EINVAL;
	r = inv__calloc(1, sizeof(*r));
	s = inv__calloc(1, sizeof(*s));
	if (r == NULL || s == NULL) {
		free(r);
		free(s);
		return INVITES_ENOMEM;
	}
	r->kind = kind;
	s->db = raw_db(be, kind);
	s->limit = SIZE_MAX;
	s->visit = raw_visit;
	s->reset = raw_reset;
	s->ctx = r;
	while (rc == 0 && stop == 0 && !s->done) {
		rc = run_txn(be, DB_READ_COMMITTED, scan_txn, s, "copy");
		for (i = 0; rc == 0 && stop == 0 && i < r->n; i++)
			stop = fn(ctx, &r->recs[i]);
		raw_reset(r);
	}
	free(r);
	free(s);
	return rc != 0 ? rc : stop;
}

struct raw_load_arg {
	const struct inv__raw *recs;
	size_t n;
};

static int
raw_load_txn(struct inv__backend *be, DB_TXN *txn, void *arg)
{
	struct raw_load_arg *la = arg;
	const struct inv__raw *r;
	DB *db;
	DBT k, d;
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < la->n; i++) {
		r = &la->recs[i];
		db = raw_db(be, r->kind);
		if (db == NULL || r->klen == 0 ||
		    (r->kind == INV__RAW_AUX &&
		     (is_meta_key(r->key, r->klen) ||
		      memchr(r->key, ':', r->klen) == NULL)))
			return INVITES_EINVAL;
		dbt_in(&k, r->key, r->klen);
		dbt_in(&d, r->val, r->vlen);
		ret = db->put(db, txn, &k, &d, DB_NOOVERWRITE);
	}
	return ret;
}

static int
bdb_raw_load(struct inv__backend *be, const struct inv__raw *recs, size_t n)
{
	struct raw_load_arg la = { recs, n };
	int rc = check_writable(be);

	if (rc != 0)
		return rc;
	return run_txn(be, 0, raw_load_txn, &la, "copy");
}
