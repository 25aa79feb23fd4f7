#!/bin/sh
# invites.so must export exactly one symbol: the plugin entry point.
. "$top_srcdir/tests/tap.sh"
so="$top_builddir/.libs/invites.so"
[ -f "$so" ] || skip_all "no $so"
command -v nm >/dev/null 2>&1 || skip_all "nm not found"
# Defined dynamic symbols, without the version node (type A).
syms=$(nm -D --defined-only "$so" | awk '$2 != "A" { print $3 }' | sed 's/@.*//' | sort | tr '\n' ' ')
is "$syms" "invites_plugin_entry " "invites.so exports only invites_plugin_entry"
nm -D --defined-only "$so" | grep -q ' invites_plugin_entry@@INVITES_PLUGIN_1$'
ok $? "the entry point carries the version node INVITES_PLUGIN_1"
undef=$(nm -D --undefined-only "$so" | awk '{ print $2 }' | grep -E '^(invites_|inv__)' | tr '\n' ' ')
is "$undef" "" "nothing of libinvites is left to the host to provide"
done_testing
