/* SPDX-License-Identifier: MIT */
/*
 * Backup and verification of the Berkeley DB invite store (issue 8).
 *
 * A backup is taken through a live handle while other processes keep
 * working: a forced checkpoint, then DB_ENV->backup, which copies every
 * database file page by page through the memory pool (no torn pages) and
 * then the log files.  DB_LOG_AUTO_REMOVE may remove a log file while the
 * data files are being copied; the copy is only usable when it holds every
 * log file from the one the checkpoint still needed, so that is checked
 * and the copy taken again when it does not.  The copy is then recovered
 * on its own (catastrophic recovery, in a private environment that shares
 * nothing with the live one) and every database file in it verified
 * (DB->verify, without an environment).  The result is a complete store
 * directory: DB_CONFIG, the database files and the logs.
 *
 * Verification of a directory (a backup, or a store no process has open)
 * never touches that directory: its files are copied into a temporary
 * one, which is recovered, verified and removed.  Nothing here joins the
 * environment of a store that might hold a dead process's mutex, so
 * nothing here can hang on one (berkeley-db.md, Pitfalls: db_verify -h
 * did).
 */
#include "config.h"

#include <db.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "ft.h"

#define BACKUP_TRIES 3
#define COPY_BUF (1024 * 1024)
#define MSG_MAX 400

/* The first message Berkeley DB gives while a step runs. */
struct collect {
	char msg[MSG_MAX];
};

static void
collect_err(const DB_ENV *env, const char *pfx, const char *msg)
{
	struct collect *c = env->app_private;

	(void)pfx;
	if (c != NULL && c->msg[0] == '\0')
		snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

static int
is_log_name(const char *name)
{
	size_t i;

	if (strncmp(name, "log.", 4) != 0 || name[4] == '\0')
		return 0;
	for (i = 4; name[i] != '\0'; i++)
		if (name[i] < '0' || name[i] > '9')
			return 0;
	return 1;
}

/* Files a store (or a backup of one) consists of. */
static int
is_copied_name(const char *name)
{
	return inv__bdb_is_db_file(name) || is_log_name(name) ||
	       strcmp(name, "DB_CONFIG") == 0;
}

static char *
join(const char *dir, const char *name)
{
	return inv__asprintf("%s/%s", dir, name);
}

/* 0, or INVITES_EEXIST when dir holds anything; *made when we made it. */
static int
prepare_target(const char *dir, int *made)
{
	struct dirent *de;
	DIR *d;
	int rc = 0;

	*made = 0;
	if (mkdir(dir, 0700) == 0) {
		*made = 1;
		return 0;
	}
	if (errno != EEXIST) {
		rc = errno == ENOENT ? INVITES_ENOSTORE :
		     errno == EACCES || errno == EPERM || errno == EROFS ?
		     INVITES_EACCES : errno == ENOSPC ? INVITES_ENOSPC :
		     INVITES_ESTORE;
		inv__log(INVITES_LOG_ERR, "backup %s: cannot create it: %s", dir,
		         strerror(errno));
		return rc;
	}
	d = opendir(dir);
	if (d == NULL) {
		inv__log(INVITES_LOG_ERR, "backup %s: %s", dir, strerror(errno));
		return errno == ENOTDIR ? INVITES_EEXIST :
		       errno == EACCES ? INVITES_EACCES : INVITES_ESTORE;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			rc = INVITES_EEXIST;
			break;
		}
	}
	closedir(d);
	if (rc != 0)
		inv__log(INVITES_LOG_ERR, "backup %s: not empty; a backup goes "
		         "into a new or empty directory", dir);
	return rc;
}

/* Remove the files of a store copy from dir, and dir when rmdir_too. */
static void
clean_copy(const char *dir, int rmdir_too)
{
	struct dirent *de;
	char *p;
	DIR *d;

	d = opendir(dir);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (!is_copied_name(de->d_name) &&
			    strcmp(de->d_name, INV__BDB_GATE_FILE) != 0 &&
			    strncmp(de->d_name, "__db.", 5) != 0 &&
			    strncmp(de->d_name, "DB_CONFIG.tmp.", 14) != 0)
				continue;
			p = join(dir, de->d_name);
			if (p != NULL)
				(void)unlink(p);
			free(p);
		}
		closedir(d);
	}
	if (rmdir_too)
		(void)rmdir(dir);
}

/* Region files a private environment may leave. */
static void
remove_regions(const char *dir)
{
	struct dirent *de;
	char *p;
	DIR *d;

	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "__db.", 5) != 0)
			continue;
		p = join(dir, de->d_name);
		if (p != NULL)
			(void)unlink(p);
		free(p);
	}
	closedir(d);
}

/* The numbers of the first and last log files in dir (0 when none), and
 * whether every number in between is there. */
static int
log_span(const char *dir, unsigned long *first, unsigned long *last,
         int *contiguous)
{
	struct dirent *de;
	unsigned long n, count = 0;
	DIR *d;

	*first = *last = 0;
	*contiguous = 0;
	d = opendir(dir);
	if (d == NULL)
		return INVITES_ESTORE;
	while ((de = readdir(d)) != NULL) {
		if (!is_log_name(de->d_name))
			continue;
		n = strtoul(de->d_name + 4, NULL, 10);
		if (*first == 0 || n < *first)
			*first = n;
		if (n > *last)
			*last = n;
		count++;
	}
	closedir(d);
	*contiguous = count > 0 && *last - *first + 1 == count;
	return 0;
}

/*
 * The first log file that recovery from the last checkpoint still needs:
 * the one after the newest removable file, or the oldest there is.
 */
static int
first_needed_log(DB_ENV *env, unsigned long *first)
{
	char **list = NULL, **p;
	unsigned long n, removable = 0, oldest = 0;
	int ret;

	*first = 0;
	ret = env->log_archive(env, &list, 0);
	if (ret != 0)
		return ret;
	for (p = list; p != NULL && *p != NULL; p++) {
		const char *base = strrchr(*p, '/');

		n = strtoul((base != NULL ? base + 1 : *p) + 4, NULL, 10);
		if (n > removable)
			removable = n;
	}
	free(list);
	list = NULL;
	ret = env->log_archive(env, &list, DB_ARCH_LOG);
	if (ret != 0)
		return ret;
	for (p = list; p != NULL && *p != NULL; p++) {
		const char *base = strrchr(*p, '/');

		n = strtoul((base != NULL ? base + 1 : *p) + 4, NULL, 10);
		if (oldest == 0 || n < oldest)
			oldest = n;
	}
	free(list);
	*first = removable > 0 ? removable + 1 : oldest;
	return 0;
}

/*
 * Is the database file at path a Berkeley DB B-tree (the magic and page
 * size of its meta page, in either byte order)?  Asked before the copy
 * is recovered: catastrophic recovery replays the whole log and may write
 * a new file over another program's, which would then pass.
 */
static int
is_btree_file(const char *path)
{
	unsigned char h[512];
	uint32_t le, be, ps;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	n = read(fd, h, sizeof(h));
	close(fd);
	if (n < (ssize_t)sizeof(h))
		return 0;
	le = (uint32_t)h[12] | (uint32_t)h[13] << 8 | (uint32_t)h[14] << 16 |
	     (uint32_t)h[15] << 24;
	be = (uint32_t)h[12] << 24 | (uint32_t)h[13] << 16 |
	     (uint32_t)h[14] << 8 | (uint32_t)h[15];
	if (le == DB_BTREEMAGIC)
		ps = (uint32_t)h[20] | (uint32_t)h[21] << 8 |
		     (uint32_t)h[22] << 16 | (uint32_t)h[23] << 24;
	else if (be == DB_BTREEMAGIC)
		ps = (uint32_t)h[20] << 24 | (uint32_t)h[21] << 16 |
		     (uint32_t)h[22] << 8 | (uint32_t)h[23];
	else
		return 0;
	return ps >= 512 && ps <= 65536 && (ps & (ps - 1)) == 0;
}

/*
 * Read every record of a database file in a private environment.  A page
 * that fails its checksum shows here at once, whereas DB->verify of such
 * a file spins for 15-60 s of CPU in Berkeley DB 5.3 (its clean-up after
 * the panic) before it reports.  0 or Berkeley DB's error (c: message).
 */
static int
walk_file(const char *path, struct collect *c)
{
	DB *db = NULL;
	DBC *cur = NULL;
	DBT k, v;
	int ret, t;

	ret = db_create(&db, NULL, 0);
	if (ret != 0)
		return ret;
	db->get_env(db)->app_private = c;
	db->set_errcall(db, collect_err);
	ret = db->open(db, NULL, path, NULL, DB_UNKNOWN, DB_RDONLY, 0);
	if (ret == 0)
		ret = db->cursor(db, NULL, &cur, 0);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	while (ret == 0)
		ret = cur->get(cur, &k, &v, DB_NEXT);
	if (ret == DB_NOTFOUND)
		ret = 0;
	if (cur != NULL && (t = cur->close(cur)) != 0 && ret == 0)
		ret = t;
	if ((t = db->close(db, 0)) != 0 && ret == 0)
		ret = t;
	return ret;
}

#define MAX_BAD 16

/*
 * Recover the store copy in dir on its own (catastrophic recovery in a
 * private environment), then verify each database file in it.  fn hears
 * about every file.  0, INVITES_ECORRUPT, or another INVITES_E*.
 */
static int
recover_and_verify(const char *dir, invites_verify_fn *fn, void *ctx)
{
	struct collect c;
	DB_ENV *penv = NULL;
	DB *db = NULL;
	struct dirent *de;
	char *path, bad[MAX_BAD][256];
	DIR *d;
	int ret, rc = 0, files = 0, has_meta = 0, n_bad = 0, i;

	/* another program's files first, before recovery writes over them */
	d = opendir(dir);
	if (d == NULL)
		return INVITES_ESTORE;
	while ((de = readdir(d)) != NULL) {
		if (!inv__bdb_is_db_file(de->d_name))
			continue;
		path = join(dir, de->d_name);
		if (path == NULL) {
			closedir(d);
			return INVITES_ENOMEM;
		}
		if (!is_btree_file(path) && n_bad < MAX_BAD) {
			snprintf(bad[n_bad++], sizeof(bad[0]), "%s", de->d_name);
			inv__log(INVITES_LOG_ERR, "store copy %s: %s is not a "
			         "Berkeley DB B-tree file", dir, de->d_name);
			if (fn != NULL)
				fn(ctx, de->d_name, INVITES_ECORRUPT,
				   "not a Berkeley DB B-tree file (damaged, or "
				   "another program's file)");
			rc = INVITES_ECORRUPT;
		}
		free(path);
	}
	closedir(d);

	memset(&c, 0, sizeof(c));
	ret = db_env_create(&penv, 0);
	if (ret != 0)
		return INVITES_ENOMEM;
	penv->app_private = &c;
	penv->set_errcall(penv, collect_err);
	ret = penv->open(penv, dir,
	                 DB_CREATE | DB_INIT_MPOOL | DB_INIT_LOCK | DB_INIT_LOG |
	                 DB_INIT_TXN | DB_RECOVER_FATAL | DB_PRIVATE, 0600);
	if (ret == 0)
		ret = penv->close(penv, 0);
	else
		(void)penv->close(penv, 0);
	remove_regions(dir);
	if (ret != 0) {
		inv__log(INVITES_LOG_ERR, "store copy %s: recovery failed: %s", dir,
		         c.msg[0] != '\0' ? c.msg : db_strerror(ret));
		if (fn != NULL)
			fn(ctx, "(recovery)", INVITES_ECORRUPT,
			   c.msg[0] != '\0' ? c.msg : db_strerror(ret));
		rc = ret == ENOSPC ? INVITES_ENOSPC : INVITES_ECORRUPT;
	}

	d = opendir(dir);
	if (d == NULL)
		return INVITES_ESTORE;
	while ((de = readdir(d)) != NULL) {
		if (!inv__bdb_is_db_file(de->d_name))
			continue;
		if (strcmp(de->d_name, "meta.db") == 0)
			has_meta = 1;
		files++;
		for (i = 0; i < n_bad; i++)
			if (strcmp(bad[i], de->d_name) == 0)
				break;
		if (i < n_bad)
			continue;
		path = join(dir, de->d_name);
		if (path == NULL) {
			rc = INVITES_ENOMEM;
			break;
		}
		memset(&c, 0, sizeof(c));
		ret = walk_file(path, &c);
		if (ret == 0)
			ret = db_create(&db, NULL, 0);
		if (ret == 0) {
			db->get_env(db)->app_private = &c;
			db->set_errcall(db, collect_err);
			/* the handle is gone after verify, whatever it says */
			ret = db->verify(db, path, NULL, NULL, 0);
		}
		free(path);
		if (ret != 0) {
			inv__log(INVITES_LOG_ERR, "store copy %s: %s fails "
			         "verification: %s", dir, de->d_name,
			         c.msg[0] != '\0' ? c.msg : db_strerror(ret));
			if (rc == 0 || rc == INVITES_ECORRUPT)
				rc = ret == ENOMEM ? INVITES_ENOMEM :
				     INVITES_ECORRUPT;
		}
		if (fn != NULL)
			fn(ctx, de->d_name, ret == 0 ? 0 : INVITES_ECORRUPT,
			   ret == 0 ? NULL : c.msg[0] != '\0' ? c.msg :
			   db_strerror(ret));
	}
	closedir(d);
	if (rc == 0 && (!has_meta || files == 0)) {
		inv__log(INVITES_LOG_ERR, "store copy %s: no meta.db: not an "
		         "invite store", dir);
		rc = INVITES_ENOSTORE;
	}
	return rc;
}

/* Where the store itself lives must not receive its own backup. */
static int
inside_store(const char *store, const char *dir)
{
	char rs[PATH_MAX], rd[PATH_MAX], *parent, *slash;
	size_t n;
	int inside = 0;

	if (realpath(store, rs) == NULL)
		return 0;
	if (realpath(dir, rd) == NULL) {
		parent = inv__strdup(dir);
		if (parent == NULL)
			return 0;
		slash = strrchr(parent, '/');
		if (slash == NULL)
			snprintf(parent, strlen(parent) + 1, ".");
		else if (slash == parent)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (realpath(parent, rd) == NULL) {
			free(parent);
			return 0;
		}
		free(parent);
	}
	n = strlen(rs);
	if (strcmp(rs, rd) == 0 || (strncmp(rs, rd, n) == 0 && rd[n] == '/'))
		inside = 1;
	return inside;
}

int
inv__bdb_backup(struct inv__backend *be, const char *dir,
                invites_verify_fn *fn, void *ctx)
{
	unsigned long need, first, last;
	struct collect c;
	DB_ENV *env;
	int made, contiguous, slot, tries, ret = 0, rc;

	if (inside_store(inv__bdb_path(be), dir)) {
		inv__log(INVITES_LOG_ERR, "backup %s: inside the store itself; "
		         "choose a directory elsewhere", dir);
		return INVITES_EINVAL;
	}
	rc = prepare_target(dir, &made);
	if (rc != 0)
		return rc;
	env = inv__bdb_env(be);
	if (env == NULL) {
		clean_copy(dir, made);
		return INVITES_ERECOVER;
	}
	memset(&c, 0, sizeof(c));
	slot = inv__bdb_busy_enter(be);
	for (tries = 0; tries < BACKUP_TRIES; tries++) {
		/* (only the checkpoint writes; the copy may take long) */
		inv__bdb_write_enter(be);
		ret = env->txn_checkpoint(env, 0, 0, DB_FORCE);
		inv__bdb_write_leave(be);
		if (ret == 0)
			ret = first_needed_log(env, &need);
		if (ret == 0)
			ret = env->backup(env, dir, tries > 0 ? DB_BACKUP_CLEAN : 0);
		if (ret != 0)
			break;
		rc = log_span(dir, &first, &last, &contiguous);
		if (rc != 0)
			break;
		if (contiguous && first <= need)
			break;
		/* a checkpoint elsewhere removed a log file we needed */
		inv__log(INVITES_LOG_WARNING, "backup %s: log file %lu went away "
		         "during the copy; copying again", dir, need);
		rc = INVITES_EBUSY;
	}
	inv__bdb_busy_leave(be, slot);
	if (ret != 0) {
		rc = inv__bdb_error(be, ret, "backup");
	} else if (rc == 0) {
		rc = inv__bdb_write_config(dir);
		if (rc == 0)
			rc = recover_and_verify(dir, fn, ctx);
	}
	if (rc != 0)
		clean_copy(dir, made);
	return rc;
}

/* Copy one file; 0 or an errno. */
static int
copy_file(const char *from, const char *to, char *buf)
{
	ssize_t n, w, off;
	int in, out, e = 0;

	in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return errno;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		e = errno;
		close(in);
		return e;
	}
	while (e == 0 && (n = read(in, buf, COPY_BUF)) != 0) {
		if (n < 0) {
			if (errno != EINTR)
				e = errno;
			continue;
		}
		for (off = 0; off < n && e == 0; off += w) {
			w = write(out, buf + off, (size_t)(n - off));
			if (w < 0) {
				if (errno == EINTR)
					w = 0;
				else
					e = errno;
			}
		}
	}
	if (close(out) != 0 && e == 0)
		e = errno;
	close(in);
	return e;
}

int
inv__bdb_verify(const char *dir, const char *tmpdir, invites_verify_fn *fn,
                void *ctx)
{
	struct dirent *de;
	struct stat sb;
	char *copy, *meta, *from, *to, *buf;
	DIR *d;
	int e = 0, rc, has_config = 0;

	meta = join(dir, "meta.db");
	if (meta == NULL)
		return INVITES_ENOMEM;
	rc = stat(meta, &sb);
	free(meta);
	if (rc != 0) {
		inv__log(INVITES_LOG_ERR, "verify %s: %s", dir,
		         errno == ENOENT || errno == ENOTDIR ?
		         "no invite store there (no meta.db)" : strerror(errno));
		return errno == EACCES ? INVITES_EACCES : INVITES_ENOSTORE;
	}
	copy = inv__asprintf("%s/invites-verify-XXXXXX", tmpdir);
	buf = inv__malloc(COPY_BUF);
	if (copy == NULL || buf == NULL) {
		free(copy);
		free(buf);
		return INVITES_ENOMEM;
	}
	if (mkdtemp(copy) == NULL) {
		inv__log(INVITES_LOG_ERR, "verify: cannot make a directory in "
		         "%s: %s", tmpdir, strerror(errno));
		rc = errno == ENOSPC ? INVITES_ENOSPC :
		     errno == EACCES ? INVITES_EACCES : INVITES_ESTORE;
		free(copy);
		free(buf);
		return rc;
	}
	d = opendir(dir);
	if (d == NULL)
		e = errno;
	while (e == 0 && (de = readdir(d)) != NULL) {
		if (!is_copied_name(de->d_name))
			continue;
		if (strcmp(de->d_name, "DB_CONFIG") == 0)
			has_config = 1;
		from = join(dir, de->d_name);
		to = join(copy, de->d_name);
		e = from != NULL && to != NULL ? copy_file(from, to, buf) : ENOMEM;
		if (e != 0)
			inv__log(INVITES_LOG_ERR, "verify: copying %s: %s",
			         from != NULL ? from : de->d_name, strerror(e));
		free(from);
		free(to);
	}
	if (d != NULL)
		closedir(d);
	free(buf);
	if (e != 0)
		rc = e == ENOSPC ? INVITES_ENOSPC : e == ENOMEM ? INVITES_ENOMEM :
		     e == EACCES ? INVITES_EACCES : INVITES_ESTORE;
	else if (!has_config)
		rc = inv__bdb_write_config(copy);
	if (rc == 0)
		rc = recover_and_verify(copy, fn, ctx);
	clean_copy(copy, 1);
	free(copy);
	return rc;
}
