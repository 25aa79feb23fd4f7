#!/bin/sh
# Two c2s processes on different ports (two machines, in effect) with one
# sm and one PostgreSQL invite store: Debian's jabberd2 through
# contrib/jabberd2/xmpp-local with a `store` URI, plus a second c2s on a
# copy of its c2s.xml; tests/pg/two_c2s_client.py registers through both.
. "$top_srcdir/tests/tap.sh"
[ -x /usr/sbin/jabberd2-c2s ] || skip_all "jabberd2 is not installed"
/usr/bin/python3 -c 'import slixmpp' 2>/dev/null ||
	skip_all "python3-slixmpp is not installed"
mods=$top_builddir/plugin/jabberd2/.libs
[ -f "$mods/authreg_invites.so" ] || { echo "Bail out! modules not built"; exit 1; }
case $(readelf -d "$mods/authreg_invites.so" 2>/dev/null) in
*san.so*) skip_all "a sanitizer build (tests/integration runs jabberd2 under it)" ;;
esac
. "$top_srcdir/tests/pg/lib.sh"
pg_start
chmod 711 "$PG_DIR" # the daemons' user reaches the socket

xl=$top_srcdir/contrib/jabberd2/xmpp-local
work=$(mktemp -d /tmp/xi-pg-c2s.XXXXXX)
chmod 755 "$work"
XMPP_DIR=$work/srv
XMPP_DOMAIN=localhost
XMPP_MODULE_DIR=$mods
XMPP_WATCH_PID=$$
export XMPP_DIR XMPP_DOMAIN XMPP_MODULE_DIR XMPP_WATCH_PID
unset XMPP_C2S_PORT XMPP_ROUTER_PORT XMPP_MODULES XMPP_PRELOAD
c2s2=
cleanup() {
	[ -n "$c2s2" ] && kill "$c2s2" 2>/dev/null
	"$xl" stop >/dev/null 2>&1
	[ -n "${KEEP_XMPP_DIR:-}" ] || rm -rf "$work"
	pg_stop
}
trap cleanup EXIT

mkdir -p "$XMPP_DIR"
store="$(pg_uri xmpp)"
printf 'store = %s\ndomains = localhost\n' "$store" >"$XMPP_DIR/invites.conf"
: >"$XMPP_DIR/xmpp-local.env" # an xmpp-local directory, with our invites.conf
INVITES_CONFIG=$XMPP_DIR/invites.conf
export INVITES_CONFIG
"$top_builddir/invitectl" db init >/dev/null
ok $? "invitectl db init creates the store in PostgreSQL"
if ! "$xl" start >"$work/start.log" 2>&1; then
	sed 's/^/# /' "$work/start.log"
	tail -n 20 "$XMPP_DIR"/log/*.log | sed 's/^/# /'
	echo "Bail out! xmpp-local could not start jabberd2"
	exit 1
fi
ok 0 "jabberd2 started with the PostgreSQL store"
XMPP_C2S_PORT=$(sed -n "s/^XMPP_C2S_PORT='\(.*\)'\$/\1/p" "$XMPP_DIR/xmpp-local.env")
XMPP_C2S2_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s|<port>$XMPP_C2S_PORT</port>|<port>$XMPP_C2S2_PORT</port>|" \
	-e 's|<id>c2s</id>|<id>c2s2</id>|' \
	-e 's|run/c2s.pid|run/c2s2.pid|' -e 's|log/c2s.log|log/c2s2.log|' \
	"$XMPP_DIR/etc/c2s.xml" >"$work/c2s2.xml"
cp "$work/c2s2.xml" "$XMPP_DIR/etc/c2s2.xml"
chown --reference="$XMPP_DIR/etc/c2s.xml" "$XMPP_DIR/etc/c2s2.xml" 2>/dev/null
"$xl" exec /usr/sbin/jabberd2-c2s -c etc/c2s2.xml >"$work/c2s2.out" 2>&1 &
c2s2=$!
i=0
while [ $i -lt 100 ] && ! grep -q "ready for connections" "$XMPP_DIR/log/c2s2.log" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
grep -q "ready for connections" "$XMPP_DIR/log/c2s2.log" 2>/dev/null
ok $? "a second c2s on port $XMPP_C2S2_PORT"
[ -f "$XMPP_DIR/log/c2s2.log" ] && ! grep -q "ready for connections" "$XMPP_DIR/log/c2s2.log" &&
	tail -n 20 "$XMPP_DIR/log/c2s2.log" | sed 's/^/# /'

link() { "$top_builddir/invitectl" generate localhost | sed -n 's/.*preauth=\([A-Za-z0-9_-]*\).*/\1/p' | head -n 1; }
TOKEN=$(link)
TOKEN2=$(link)
[ -n "$TOKEN" ] && [ -n "$TOKEN2" ]
ok $? "two invites generated"
export XMPP_C2S_PORT XMPP_C2S2_PORT TOKEN TOKEN2 top_srcdir
/usr/bin/python3 "$top_srcdir/tests/pg/two_c2s_client.py" | sed -e '/^1\.\./d' -e "s/^ok [0-9]*/ok/" -e "s/^not ok [0-9]*/not ok/" >"$work/py.out"
while IFS= read -r line; do
	case $line in
	"ok - "*) ok 0 "${line#ok - }" ;;
	"not ok - "*) ok 1 "${line#not ok - }" ;;
	*) echo "$line" ;;
	esac
done <"$work/py.out"
[ $(grep -c '^ok' "$work/py.out") -eq 4 ]
ok $? "all four registration steps ran"
done_testing
