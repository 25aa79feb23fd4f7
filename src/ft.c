/* SPDX-License-Identifier: MIT */
/*
 * Fault tolerance, public entry points (issue 8): the process-wide hang
 * handler that the store's watchdog calls when a thread can never return
 * from Berkeley DB (a process died holding a mutex it waits for), and the
 * backup and verification calls, which hand over to the backend.  The
 * library never exits by itself: what to do about a hung thread is the
 * host's decision (daemons under a supervisor exit and are restarted).
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>

#include "ft.h"
#include "store.h"

static pthread_mutex_t hang_lock = PTHREAD_MUTEX_INITIALIZER;
static invites_hang_fn *hang_fn;
static void *hang_ctx;

void
invites_set_hang_handler(invites_hang_fn *fn, void *ctx)
{
	pthread_mutex_lock(&hang_lock);
	hang_fn = fn;
	hang_ctx = ctx;
	pthread_mutex_unlock(&hang_lock);
}

int
inv__hang_handler_set(void)
{
	int set;

	pthread_mutex_lock(&hang_lock);
	set = hang_fn != NULL;
	pthread_mutex_unlock(&hang_lock);
	return set;
}

void
inv__hang_notify(const char *msg)
{
	invites_hang_fn *fn;
	void *ctx;

	pthread_mutex_lock(&hang_lock);
	fn = hang_fn;
	ctx = hang_ctx;
	pthread_mutex_unlock(&hang_lock);
	if (fn != NULL)
		fn(ctx, msg);
}

int
invites_store_backup(struct invites_store *st, const char *dir,
                     invites_verify_fn *fn, void *ctx)
{
	const struct inv__store_ops *ops;
	struct inv__backend *be;

	if (st == NULL || dir == NULL || dir[0] == '\0')
		return INVITES_EINVAL;
	inv__store_backend(st, &ops, &be);
	if (ops != &inv__store_bdb_ops) {
		inv__log(INVITES_LOG_ERR, "invite store: the %s backend makes "
		         "its backups with its own tools", ops->name);
		return INVITES_EINVAL;
	}
	if (ops->failed(be))
		return INVITES_ERECOVER;
	return inv__bdb_backup(be, dir, fn, ctx);
}

int
invites_store_verify(const char *dir, const char *tmpdir,
                     invites_verify_fn *fn, void *ctx)
{
	if (dir == NULL || dir[0] == '\0')
		return INVITES_EINVAL;
	if (tmpdir == NULL || tmpdir[0] == '\0')
		tmpdir = getenv("TMPDIR");
	if (tmpdir == NULL || tmpdir[0] == '\0')
		tmpdir = "/tmp";
	return inv__bdb_verify(dir, tmpdir, fn, ctx);
}
