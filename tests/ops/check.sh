# SPDX-License-Identifier: MIT
# invitectl check on a correct deployment and on broken ones, each broken
# one named by the check's FAIL line: jabberd2's c2s.xml and sm.xml as
# contrib/jabberd2/xmpp-local writes them (from the same templates), the
# invite store, and a stand-in for invites-web (tests/ops/webstub.py)
# that answers HEAD with or without the Link header.  jabberd2 itself is
# not started: check reads its files.
. "$top_srcdir/tests/tap.sh"

INVITECTL=$top_builddir/invitectl
[ -x "$INVITECTL" ] || skip_all "invitectl is not built"
py=
for c in /usr/bin/python3 python3; do
	command -v "$c" >/dev/null 2>&1 && { py=$c; break; }
done
[ -n "$py" ] || skip_all "python3 is needed for the invites-web stand-in"

T=$(mktemp -d "${TMPDIR:-/tmp}/ops-check.XXXXXX") || skip_all "no temporary directory"
chmod 755 "$T"
stubs=
cleanup() {
	for p in $stubs; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
unset INVITES_FAKE_NOW

# start_stub NAME [--no-link]: a web stand-in; its port in $port
start_stub() {
	rm -f "$T/$1.port"
	"$py" "$top_srcdir/tests/ops/webstub.py" localhost "$T/$1.port" $2 &
	stubs="$stubs $!"
	i=0
	while [ ! -s "$T/$1.port" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	port=$(cat "$T/$1.port" 2>/dev/null)
}

start_stub good
good_port=$port
start_stub nolink --no-link
nolink_port=$port
[ -n "$good_port" ] && [ -n "$nolink_port" ] || { echo "Bail out! web stand-in did not start"; exit 1; }
# a port nobody listens on: the stub's, after it is gone
start_stub gone
gone_port=$port
kill $(echo "$stubs" | awk '{print $NF}') 2>/dev/null
sleep 0.2

# The good setup, laid out like xmpp-local's (relative paths from SRV).
SRV=$T/srv
mkdir -p "$SRV/etc" "$SRV/modules"
for f in c2s sm; do
	sed -e '/<!-- stock -->/d' -e 's/@DOMAIN@/localhost/g' \
	    -e 's/@C2S_PORT@/15222/g' -e 's/@ROUTER_PORT@/15347/g' \
	    -e 's/@ROUTER_SECRET@/secret/g' \
	    "$top_srcdir/contrib/jabberd2/$f.xml" >"$SRV/etc/$f.xml"
done
: >"$SRV/modules/authreg_invites.so"
: >"$SRV/modules/mod_invites.so"
cat >"$SRV/invites.conf" <<CONF
store = store
domains = localhost
landing_url = http://127.0.0.1:$good_port/invite/{token}
CONF
me=$(id -un)
"$INVITECTL" --config "$SRV/invites.conf" generate localhost >/dev/null
ok $? "a store with one invite"

# check_run [CONF] [ARGS...]: run check; output in $out, status in $rc
check_run() {
	conf=$1
	shift
	out=$("$INVITECTL" --config "$conf" check --jabberd2-config "${J2DIR:-$SRV/etc}" \
		--user "$me" "$@" 2>&1)
	rc=$?
}

check_run "$SRV/invites.conf"
is "$rc" 0 "correct setup: exit status 0"
case $out in *FAIL*) ok 1 "correct setup: no FAIL line"; printf '%s\n' "$out" | sed 's/^/# /' ;;
*) ok 0 "correct setup: no FAIL line" ;; esac
for want in \
	"ok    configuration: $SRV/invites.conf is valid" \
	"ok    store: $SRV/store opens" \
	"ok    store: every record decodes (1 invites" \
	"writable by $me" \
	"ok    jabberd2: c2s loads authreg_invites for localhost" \
	"ok    jabberd2: c2s runs registration for localhost" \
	"ok    jabberd2: c2s requires STARTTLS for localhost" \
	"ok    jabberd2: no host of c2s registers accounts except through invites" \
	"ok    jabberd2: the default authreg module is db, not invites" \
	"ok    jabberd2: mod_invites is in the sm's pkt-user chain before roster" \
	"ok    jabberd2: mod_invites is in the sm's user-delete chain" \
	"ok    jabberd2: c2s.xml reads this configuration" \
	"ok    jabberd2: sm.xml reads this configuration" \
	"ok    invites-web: http://127.0.0.1:$good_port/invite/ answers" \
	"ok    invites-web: HEAD of a landing page answers 200 with Link"; do
	case $out in *"$want"*) ok 0 "correct setup: $want" ;;
	*) ok 1 "correct setup: $want" ;; esac
done
# the probe invite is revoked at once
"$INVITECTL" --config "$SRV/invites.conf" list --json | grep -q 'probe' 
ok $((! $?)) "the probe invite is not pending afterwards"

# broken NAME WANT: after a change (made by the caller), check fails and
# names the problem; then the caller restores the setup
broken() {
	name=$1
	want=$2
	shift 2
	check_run "${BCONF:-$SRV/invites.conf}" "$@"
	is "$rc" 1 "$name: exit status 1"
	case $out in *"FAIL  $want"*) ok 0 "$name: named ($want)" ;;
	*) ok 1 "$name: named ($want)"; printf '%s\n' "$out" | grep -v '^ok' | sed 's/^/# /' ;; esac
}

# edit FILE SED-EXPR: change a copy; restore with `restore FILE`
edit() {
	cp "$1" "$1.orig"
	sed -i "$2" "$1"
}
restore() {
	mv "$1.orig" "$1"
}

C2S=$SRV/etc/c2s.xml
SM=$SRV/etc/sm.xml

edit "$C2S" "s/ authreg-module='invites'//"
broken "c2s without the module" "jabberd2: c2s does not load authreg_invites for localhost"
restore "$C2S"

edit "$C2S" "s|<module>db</module>|<module>invites</module>|"
broken "invites as the default authreg" "jabberd2: invites is the default authreg module of c2s"
restore "$C2S"

edit "$C2S" "s/ require-starttls='true'//"
broken "no STARTTLS" "jabberd2: c2s does not require STARTTLS for localhost"
restore "$C2S"

edit "$C2S" "s|<ip>127.0.0.1</ip>|<id register-enable='true'>other.example</id><ip>127.0.0.1</ip>|"
broken "open registration elsewhere" "jabberd2: c2s has open registration for other.example"
restore "$C2S"

edit "$C2S" "s/ register-enable='true'//"
broken "no registration path" "jabberd2: c2s has no register-enable for localhost"
restore "$C2S"

edit "$SM" "/<chain id='pkt-user'>/,/<\/chain>/{/invites/d;s|<module>presence</module>|<module>invites</module><module>presence</module>|}"
broken "mod_invites after roster" "jabberd2: mod_invites comes after roster in the sm's pkt-user chain"
restore "$SM"

edit "$SM" "/<chain id='user-delete'>/,/<\/chain>/{/invites/d}"
broken "no user-delete hook" "jabberd2: mod_invites is not in the sm's user-delete chain"
restore "$SM"

edit "$SM" "s|<config>invites.conf</config>|<config>other.conf</config>|"
: >"$SRV/other.conf"
# (relative to DIR/.. for a DIR ending in /etc: the daemons' directory)
broken "sm reads another file" "jabberd2: sm.xml reads $SRV/other.conf, not $SRV/invites.conf"
restore "$SM"

mv "$SRV/modules/mod_invites.so" "$SRV/mod_invites.so.away"
broken "mod_invites.so missing" "jabberd2: mod_invites.so is not at"
mv "$SRV/mod_invites.so.away" "$SRV/modules/mod_invites.so"

J2DIR=$T/nowhere
broken "no jabberd2 config" "jabberd2: $T/nowhere/c2s.xml: No such file"
J2DIR=

# store: a file the server's user cannot write
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	chmod 644 "$SRV"/store/*.db
	save_me=$me
	me=nobody
	broken "store not writable by the server's user" "store: the directory $SRV/store is not writable by nobody"
	me=$save_me
else
	f=$(ls "$SRV"/store/*.db | head -n 1)
	chmod 444 "$f"
	broken "store not writable by the server's user" "store: $f is not writable by $me"
	chmod 644 "$f"
fi

# run as root on the server's store: the probe leaves no file to root
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	chown -R nobody: "$SRV/store"
	save_me=$me
	me=nobody
	check_run "$SRV/invites.conf"
	is "$rc" 0 "as root on nobody's store: all holds"
	is "$(find "$SRV/store" ! -user nobody | wc -l)" 0 \
		"... and every file of the store is still nobody's"
	me=$save_me
	chown -R root: "$SRV/store"
fi

# invites-web
sed "s/:$good_port/:$nolink_port/" "$SRV/invites.conf" >"$SRV/nolink.conf"
BCONF=$SRV/nolink.conf
broken "landing page without Link" "invites-web: HEAD of the landing page of probe invite"
sed "s/:$good_port/:$gone_port/" "$SRV/invites.conf" >"$SRV/gone.conf"
BCONF=$SRV/gone.conf
broken "invites-web down" "invites-web: http://127.0.0.1:$gone_port/invite/ is not reachable"
BCONF=

# configuration
printf 'bogus_key = 1\n' >>"$SRV/invites.conf"
broken "invalid configuration" "configuration: $SRV/invites.conf:4"
sed -i '$d' "$SRV/invites.conf"
printf 'require_tls = no\n' >>"$SRV/invites.conf"
broken "require_tls off" "configuration: require_tls is off"
sed -i '$d' "$SRV/invites.conf"

check_run "$SRV/invites.conf"
is "$rc" 0 "restored setup: exit status 0 again"

done_testing
