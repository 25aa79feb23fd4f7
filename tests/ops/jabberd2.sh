# SPDX-License-Identifier: MIT
# Operations on a real server: Debian's jabberd2 with our modules
# (contrib/jabberd2/xmpp-local, loopback ports, a temporary directory, an
# unprivileged user), driven by real clients (tests/ops/scenario.py):
# the inviter's notification, received online and, kept by mod_offline,
# offline; a three-level invitation chain shown by invitectl tree and
# stats --by-inviter; max_invites_per_user counting what the tree shows;
# revoke_on_delete when an account is deleted, with the tree keeping it;
# and invitectl check on this running setup (with invites-web, when built,
# answering the landing page's HEAD).  Skipped only when jabberd2
# or slixmpp is missing.
. "$top_srcdir/tests/tap.sh"

[ -x /usr/sbin/jabberd2-c2s ] || skip_all "jabberd2 is not installed (/usr/sbin/jabberd2-c2s)"
py=
for c in /usr/bin/python3 python3; do
	if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import slixmpp' 2>/dev/null; then
		py=$c
		break
	fi
done
[ -n "$py" ] || skip_all "python3-slixmpp is not installed"
mods=$top_builddir/plugin/jabberd2/.libs
for m in authreg_invites.so mod_invites.so; do
	[ -f "$mods/$m" ] || { echo "Bail out! $mods/$m was not built"; exit 1; }
done
invitectl=$top_builddir/invitectl
[ -x "$invitectl" ] || { echo "Bail out! $invitectl was not built"; exit 1; }
# sanitizer builds: the runtimes our modules need, preloaded into jabberd2
preload=
for lib in $(readelf -d "$mods/mod_invites.so" 2>/dev/null |
	sed -n 's/.*Shared library: \[\(lib[atu][a-z]*san\.so[.0-9]*\)\].*/\1/p'); do
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
	[ -n "$path" ] || skip_all "sanitizer runtime $lib not found to preload into jabberd2"
	preload="$preload${preload:+ }$path"
done
XMPP_PRELOAD=$preload
xl=$top_srcdir/contrib/jabberd2/xmpp-local

work=$(mktemp -d "${TMPDIR:-/tmp}/ops-j2.XXXXXX") || skip_all "no temporary directory"
chmod 755 "$work"
XMPP_DIR=$work/srv
XMPP_DOMAIN=localhost
XMPP_MODULE_DIR=$mods
XMPP_LOCAL=$xl
INVITECTL=$(cd "$(dirname "$invitectl")" && pwd)/$(basename "$invitectl")
XMPP_WATCH_PID=$$
export XMPP_DIR XMPP_DOMAIN XMPP_MODULE_DIR XMPP_LOCAL INVITECTL XMPP_WATCH_PID XMPP_PRELOAD
unset XMPP_C2S_PORT XMPP_ROUTER_PORT XMPP_MODULES XMPP_WEB INVITES_FAKE_NOW
# invites-web too when it was built: check then asks the real one
if [ -x "$top_builddir/invites-web" ]; then
	XMPP_WEB=$top_builddir/invites-web
	XMPP_WEB_DATA=$top_srcdir/data/web
	export XMPP_WEB XMPP_WEB_DATA
fi

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

start() {
	if ! "$xl" start >"$work/start.log" 2>&1; then
		sed 's/^/# /' "$work/start.log"
		for f in "$XMPP_DIR"/log/*.log; do
			[ -f "$f" ] && { echo "# --- $f"; tail -n 20 "$f" | sed 's/^/# /'; }
		done
		echo "Bail out! xmpp-local could not start jabberd2 with our modules"
		exit 1
	fi
}
# First start writes invites.conf; the limit needs the daemons to read it.
start
"$xl" stop >/dev/null 2>&1
cat >>"$XMPP_DIR/invites.conf" <<CONF
# tests/ops/jabberd2.sh
max_invites_per_user = 2
CONF
start
XMPP_C2S_PORT=$(sed -n "s/^XMPP_C2S_PORT='\(.*\)'\$/\1/p" "$XMPP_DIR/xmpp-local.env")
export XMPP_C2S_PORT
INVITECTL_AS_CALLER=${INVITECTL_AS_CALLER:-}
if [ -z "$INVITECTL_AS_CALLER" ] && ! "$xl" exec "$INVITECTL" --version >/dev/null 2>&1; then
	INVITECTL_AS_CALLER=1
fi
export INVITECTL_AS_CALLER

"$py" "$top_srcdir/tests/ops/scenario.py"
rc=$?
if [ $rc -ne 0 ]; then
	for f in c2s sm; do
		echo "# --- the end of log/$f.log"
		tail -n 25 "$XMPP_DIR/log/$f.log" 2>/dev/null | sed 's/^/# /'
	done
fi
exit $rc
