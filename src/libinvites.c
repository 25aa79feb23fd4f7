/* SPDX-License-Identifier: MIT */
/*
 * The shared library's own translation unit.  Everything else comes from
 * the core convenience library; this file holds what is specific to the
 * installed library: its version string.
 */
#include "config.h"

#include <invites/invites.h>

const char *
invites_version(void)
{
	return PACKAGE_VERSION;
}
