#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Integration tests: Debian's unmodified jabberd2 (router, sm, c2s) with
# authreg_invites.so and mod_invites.so from this build, started on
# loopback ports in a temporary directory by contrib/jabberd2/xmpp-local,
# driven by a real client (python3-slixmpp) through every scenario of the
# issue (scenarios.py).  Skipped (77) only when jabberd2 or slixmpp is
# missing.  In a sanitizer build the daemons run with the ASan/UBSan
# runtimes preloaded, so the modules are checked inside the real host.
# Every process started here is stopped on exit.
. "$top_srcdir/tests/tap.sh"

[ -x /usr/sbin/jabberd2-c2s ] || skip_all "jabberd2 is not installed (/usr/sbin/jabberd2-c2s)"
py=
for c in /usr/bin/python3 "${PYTHON3:-python3}" python3; do
	if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import slixmpp' 2>/dev/null; then
		py=$c
		break
	fi
done
[ -n "$py" ] || skip_all "python3-slixmpp is not installed"

mods=$top_builddir/plugin/jabberd2/.libs
for m in authreg_invites.so mod_invites.so; do
	if [ ! -f "$mods/$m" ]; then
		echo "Bail out! $mods/$m was not built"
		exit 1
	fi
done
# A sanitizer build: jabberd2 itself is not instrumented, so its daemons
# get the sanitizer runtimes our modules need preloaded.
preload=
for lib in $(readelf -d "$mods/authreg_invites.so" 2>/dev/null |
	sed -n 's/.*Shared library: \[\(lib[atu][a-z]*san\.so[.0-9]*\)\].*/\1/p'); do
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
	[ -n "$path" ] || skip_all "sanitizer runtime $lib not found to preload into jabberd2"
	preload="$preload${preload:+ }$path"
done
XMPP_PRELOAD=$preload
export XMPP_PRELOAD
invitectl=$top_builddir/invitectl
[ -x "$invitectl" ] || { echo "Bail out! $invitectl was not built"; exit 1; }
xl=$top_srcdir/contrib/jabberd2/xmpp-local

work=$(mktemp -d "${TMPDIR:-/tmp}/xi-integration.XXXXXX")
chmod 755 "$work"
XMPP_DIR=$work/srv
XMPP_DOMAIN=localhost
XMPP_MODULE_DIR=$mods
XMPP_LOCAL=$xl
INVITECTL=$(cd "$(dirname "$invitectl")" && pwd)/$(basename "$invitectl")
# even if this script is killed, the daemons stop when it is gone
XMPP_WATCH_PID=$$
export XMPP_DIR XMPP_DOMAIN XMPP_MODULE_DIR XMPP_LOCAL INVITECTL XMPP_WATCH_PID
unset XMPP_C2S_PORT XMPP_ROUTER_PORT XMPP_MODULES

cleanup() {
	"$xl" stop >/dev/null 2>&1 || true
	if [ -n "${KEEP_XMPP_DIR:-}" ]; then
		echo "# kept $XMPP_DIR" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if ! "$xl" start >"$work/start.log" 2>&1; then
	sed 's/^/# /' "$work/start.log"
	for f in "$XMPP_DIR"/log/*.log; do
		[ -f "$f" ] && { echo "# --- $f"; tail -n 20 "$f" | sed 's/^/# /'; }
	done
	echo "Bail out! xmpp-local could not start jabberd2 with our modules"
	exit 1
fi
XMPP_C2S_PORT=$(sed -n "s/^XMPP_C2S_PORT='\(.*\)'\$/\1/p" "$XMPP_DIR/xmpp-local.env")
export XMPP_C2S_PORT
# invitectl runs as the daemons' user, so that the store stays theirs; when
# that user cannot reach the build tree (a clone under /root), the tests
# run it as root and hand the store's files back after each call.
INVITECTL_AS_CALLER=${INVITECTL_AS_CALLER:-}
if [ -z "$INVITECTL_AS_CALLER" ] && ! "$xl" exec "$INVITECTL" --version >/dev/null 2>&1; then
	INVITECTL_AS_CALLER=1
	echo "# invitectl runs as $(id -un): the daemons' user cannot run $INVITECTL"
fi
export INVITECTL_AS_CALLER

"$py" "$top_srcdir/tests/integration/scenarios.py"
rc=$?
if [ $rc -ne 0 ]; then
	# (the .out files hold the daemons' stderr: a sanitizer's report,
	# a crash)
	for f in c2s.log sm.log c2s.out sm.out; do
		echo "# --- the end of log/$f"
		tail -n 25 "$XMPP_DIR/log/$f" 2>/dev/null | sed 's/^/# /'
	done
fi
exit $rc
