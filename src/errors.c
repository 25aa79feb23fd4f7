/* SPDX-License-Identifier: MIT */
/*
 * Error codes: message, symbolic name, XMPP stanza error and CLI exit
 * status, all generated from INVITES_ERROR_TABLE in invites.h so that the
 * protocol engine, invitectl and the logs agree.  A code outside the table
 * is reported as EINTERNAL.
 */
#include "config.h"

#include <stddef.h>

#include <invites/invites.h>

struct err_info {
	int code;
	const char *name;
	const char *msg;
	const char *type;
	const char *cond;
	int exit_code;
};

static const struct err_info err_table[] = {
#define INV_X_ROW(name, val, msg, type, cond, ex) \
	{ (val), #name, (msg), (type), (cond), (ex) },
	INVITES_ERROR_TABLE(INV_X_ROW)
#undef INV_X_ROW
};

static const struct err_info *
err_lookup(int err)
{
	size_t i;

	for (i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++) {
		if (err_table[i].code == err)
			return &err_table[i];
	}
	for (i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++) {
		if (err_table[i].code == INVITES_EINTERNAL)
			return &err_table[i];
	}
	return &err_table[0]; /* not reached: EINTERNAL is in the table */
}

const char *
invites_strerror(int err)
{
	return err_lookup(err)->msg;
}

const char *
invites_err_name(int err)
{
	return err_lookup(err)->name;
}

const char *
invites_err_condition(int err)
{
	return err_lookup(err)->cond;
}

const char *
invites_err_type(int err)
{
	return err_lookup(err)->type;
}

int
invites_err_exit_code(int err)
{
	return err_lookup(err)->exit_code;
}
