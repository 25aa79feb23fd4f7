/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/errors.c: every code of INVITES_ERROR_TABLE maps to
 * its own message, name, stanza error and exit code; unknown codes map to
 * EINTERNAL's.
 */
#include "config.h"

#include <string.h>

#include <invites/invites.h>

#include "tap.h"

struct row {
	int code;
	const char *name;
	const char *msg;
	const char *type;
	const char *cond;
	int ex;
};

static const struct row rows[] = {
#define T_ROW(name, val, msg, type, cond, ex) \
	{ (val), #name, (msg), (type), (cond), (ex) },
	INVITES_ERROR_TABLE(T_ROW)
#undef T_ROW
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

int
main(void)
{
	size_t i, j;
	int dup_code = 0, dup_name = 0, bad = 0;

	ok(N_ROWS == 28, "28 codes in the table (%zu)", N_ROWS);
	for (i = 0; i < N_ROWS; i++) {
		const struct row *r = &rows[i];

		is_str(invites_strerror(r->code), r->msg, r->name);
		is_str(invites_err_name(r->code), r->name, r->name);
		is_str(invites_err_condition(r->code), r->cond, r->name);
		is_str(invites_err_type(r->code), r->type, r->name);
		is_int(invites_err_exit_code(r->code), r->ex, r->name);
		for (j = i + 1; j < N_ROWS; j++) {
			if (rows[j].code == r->code)
				dup_code++;
			if (strcmp(rows[j].name, r->name) == 0)
				dup_name++;
		}
		if (r->code != 0 && (r->msg[0] == '\0' || r->cond[0] == '\0' ||
		                     r->type[0] == '\0' || r->ex == 0))
			bad++;
	}
	is_int(dup_code, 0, "codes are unique");
	is_int(dup_name, 0, "names are unique");
	is_int(bad, 0, "every error has a message, stanza error and exit code");

	/* spot checks against the contract */
	is_str(invites_err_name(INVITES_ENOTFOUND), "ENOTFOUND", "ENOTFOUND name");
	is_str(invites_err_condition(INVITES_ENOTFOUND), "item-not-found",
	       "ENOTFOUND condition");
	is_str(invites_err_condition(INVITES_EJID), "jid-malformed",
	       "EJID condition");
	is_str(invites_err_type(INVITES_EFORBIDDEN), "auth", "EFORBIDDEN type");
	is_int(invites_err_exit_code(INVITES_ECONFIG), 78, "ECONFIG exit");
	is_int(invites_err_exit_code(INVITES_OK), 0, "OK exit");
	is_str(invites_strerror(INVITES_OK), "success", "OK message");

	/* unknown codes */
	{
		static const int unknown[] = { 1, -28, -1000, 12345, -2147483647 - 1 };

		for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
			int c = unknown[i];

			is_str(invites_err_name(c), "EINTERNAL", "unknown -> EINTERNAL name");
			is_str(invites_strerror(c), invites_strerror(INVITES_EINTERNAL),
			       "unknown -> EINTERNAL message");
			is_str(invites_err_condition(c), "internal-server-error",
			       "unknown -> internal-server-error");
			is_str(invites_err_type(c), "wait", "unknown -> wait");
			is_int(invites_err_exit_code(c), 70, "unknown -> exit 70");
		}
	}
	return done_testing();
}
