# SPDX-License-Identifier: MIT
# invitectl import prosody with real data: Debian's Prosody 0.12 (with
# prosody-modules' mod_invites) is started here, in a temporary directory,
# as an unprivileged user, on a loopback port, and makes invites of every
# kind with its own commands: prosodyctl mod_invites generate (account,
# --admin with a group, --reset, and one that expires at once), its admin
# shell (a preset name) and its ad-hoc commands run by a real client
# (contact invites of a plain user and of an admin, an admin's account
# invite).  Its files are then imported, and checked invite by invite; the
# same data through Prosody's SQL storage (prosody-migrator to SQLite) give
# the same result; a bad file imports nothing and is named; and the
# imported links register accounts on jabberd2 with our modules
# (contrib/jabberd2/xmpp-local) when jabberd2 is installed.
. "$top_srcdir/tests/tap.sh"

INVITECTL=$top_builddir/invitectl
[ -x "$INVITECTL" ] || skip_all "invitectl is not built"
grep -q '^#define HAVE_LUA 1' "$top_builddir/config.h" ||
	skip_all "built without Lua 5.4 (liblua5.4-dev): Prosody files are not read"
command -v prosodyctl >/dev/null 2>&1 && [ -x /usr/bin/prosody ] ||
	skip_all "prosody is not installed (apt-get install prosody prosody-modules)"
[ -f /usr/lib/prosody/modules/mod_invites.lua ] ||
	skip_all "prosody-modules (mod_invites) is not installed"
"$INVITECTL" import --help | grep -q prosody || skip_all "no import command"
py=
for c in /usr/bin/python3 python3; do
	if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import slixmpp' 2>/dev/null; then
		py=$c
		break
	fi
done
[ -n "$py" ] || skip_all "python3-slixmpp is not installed"
client=$top_srcdir/tests/ops/client.py

T=$(mktemp -d "${TMPDIR:-/tmp}/ops-prosody.XXXXXX") || skip_all "no temporary directory"
chmod 755 "$T"
P=$T/prosody
mkdir -p "$P/data"
prosody_pid=
xl=$top_srcdir/contrib/jabberd2/xmpp-local
XMPP_DIR=$T/srv
export XMPP_DIR
cleanup() {
	[ -z "$prosody_pid" ] || kill "$prosody_pid" 2>/dev/null
	[ -f "$XMPP_DIR/xmpp-local.pids" ] && "$xl" stop >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
unset INVITES_FAKE_NOW

# Prosody runs as its own unprivileged user when we are root.
as_prosody() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=prosody --regid=prosody --clear-groups -- "$@"
	else
		"$@"
	fi
}
if [ "$(id -u)" -eq 0 ]; then
	id prosody >/dev/null 2>&1 || skip_all "no prosody user"
fi

port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
write_cfg() {
	cat >"$1" <<CFG
pidfile = "$P/prosody.pid"
data_path = "$P/data"
certificates = "$P"
log = { error = "$P/prosody.log" }
admins = { "admin@localhost" }
c2s_ports = { $port }
c2s_interfaces = { "127.0.0.1" }
interfaces = { "127.0.0.1" }
s2s_ports = { }
http_ports = { }
https_ports = { }
admin_socket = "$P/prosody.sock"
modules_enabled = { "roster", "saslauth", "disco", "adhoc", "register",
	"invites", "invites_adhoc", "invites_register", "admin_shell",
	"admin_socket" }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
invite_expiry = $2
VirtualHost "localhost"
CFG
}
write_cfg "$P/prosody.cfg.lua" 604800
write_cfg "$P/short.cfg.lua" 60
[ "$(id -u)" -ne 0 ] || chown -R prosody: "$P"
ctl() {
	as_prosody prosodyctl --config "$P/prosody.cfg.lua" "$@" 2>>"$P/ctl.log"
}
token_of() {
	sed -n 's/.*preauth=\([A-Za-z0-9_-]*\).*/\1/p'
}
id_of() {
	printf '%s' "$1" | sha256sum | cut -c1-12
}

ctl register alice localhost alicepw && ctl register admin localhost adminpw
ok $? "Prosody: two accounts (prosodyctl register)"
t_acct=$(ctl mod_invites generate localhost | token_of)
t_admin=$(ctl mod_invites generate localhost --admin --group friends | token_of)
t_reset=$(ctl mod_invites generate localhost --reset alice | token_of)
t_short=$(as_prosody prosodyctl --config "$P/short.cfg.lua" mod_invites generate localhost 2>>"$P/ctl.log" | token_of)
[ -n "$t_acct" ] && [ -n "$t_admin" ] && [ -n "$t_reset" ] && [ -n "$t_short" ]
ok $? "Prosody: prosodyctl mod_invites generate (plain, --admin --group, --reset, short-lived)"

# (not through the as_prosody function: a function in the background runs
# in a subshell, and $! would be the subshell, not Prosody; setpriv execs)
if [ "$(id -u)" -eq 0 ]; then
	setpriv --reuid=prosody --regid=prosody --clear-groups -- \
		prosody --config "$P/prosody.cfg.lua" -F >"$P/out.log" 2>&1 &
else
	prosody --config "$P/prosody.cfg.lua" -F >"$P/out.log" 2>&1 &
fi
prosody_pid=$!
i=0
until ss -Hltn "src 127.0.0.1 and sport = :$port" | grep -q . || [ $i -ge 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
ss -Hltn "src 127.0.0.1 and sport = :$port" | grep -q .
ok $? "Prosody started on 127.0.0.1:$port"
t_named=$(echo 'invite:create_account("juliet@localhost")' | ctl shell | token_of)
[ -n "$t_named" ]
ok $? "Prosody shell: an invite for the name juliet"
uris=$("$py" "$client" adhoc "$port" localhost alice alicepw urn:xmpp:invite#invite)
ok $? "Prosody ad-hoc: alice's contact invite"
t_contact=$(printf '%s\n' "$uris" | token_of)
case $uris in *ibr=y*) ok 1 "alice's invite is contact-only" ;; *) ok 0 "alice's invite is contact-only" ;; esac
uris=$("$py" "$client" adhoc "$port" localhost admin adminpw \
	urn:xmpp:invite#invite urn:xmpp:invite#create-account)
ok $? "Prosody ad-hoc: the admin's contact and account invites"
t_cibr=$(printf '%s\n' "$uris" | sed -n 1p | token_of)
t_adhoc=$(printf '%s\n' "$uris" | sed -n 2p | token_of)
case $uris in *ibr=y*) ok 0 "the admin's contact invite may register" ;; *) ok 1 "the admin's contact invite may register" ;; esac
kill "$prosody_pid"
wait "$prosody_pid" 2>/dev/null
prosody_pid=
[ -f "$P/data/localhost/invite_token.dat" ]
ok $? "Prosody wrote invite_token.dat"

# Our side: the xmpp-local setup when jabberd2 is here, else a bare store.
have_j2=
if [ -x /usr/sbin/jabberd2-c2s ] && [ -f "$top_builddir/plugin/jabberd2/.libs/mod_invites.so" ]; then
	XMPP_DOMAIN=localhost
	XMPP_MODULE_DIR=$top_builddir/plugin/jabberd2/.libs
	XMPP_WATCH_PID=$$
	# sanitizer builds: the runtimes our modules need, preloaded
	XMPP_PRELOAD=
	for lib in $(readelf -d "$XMPP_MODULE_DIR/mod_invites.so" 2>/dev/null |
		sed -n 's/.*Shared library: \[\(lib[atu][a-z]*san\.so[.0-9]*\)\].*/\1/p'); do
		path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
		XMPP_PRELOAD="$XMPP_PRELOAD${XMPP_PRELOAD:+ }$path"
	done
	export XMPP_DOMAIN XMPP_MODULE_DIR XMPP_WATCH_PID XMPP_PRELOAD
	unset XMPP_C2S_PORT XMPP_ROUTER_PORT XMPP_MODULES XMPP_WEB
	if "$xl" start >"$T/start.log" 2>&1; then
		have_j2=1
	else
		sed 's/^/# /' "$T/start.log"
		echo "Bail out! xmpp-local could not start jabberd2"
		exit 1
	fi
	CONF=$XMPP_DIR/invites.conf
	j2port=$(sed -n "s/^XMPP_C2S_PORT='\(.*\)'\$/\1/p" "$XMPP_DIR/xmpp-local.env")
else
	mkdir -p "$XMPP_DIR"
	CONF=$XMPP_DIR/invites.conf
	printf 'store = %s/store\ndomains = localhost\n' "$XMPP_DIR" >"$CONF"
	diag "jabberd2 or our modules are missing: imported links are not registered"
fi
# invitectl as root hands the store back to the daemons' user
ic() {
	"$INVITECTL" --config "$CONF" "$@"
	rc_ic=$?
	[ -z "$have_j2" ] || chown -R --reference="$XMPP_DIR" "$XMPP_DIR/store"
	return $rc_ic
}

# The import, read back invite by invite; five minutes from now, when
# the short-lived invite (60 s) has expired and the others (7 days) not.
later=$(( $(date +%s) + 300 ))
export INVITES_FAKE_NOW=$later
out=$(ic import prosody "$P/data" --dry-run)
ok $? "dry run of Prosody's data directory"
ic list --json >"$T/before.json" 2>&1
case $(cat "$T/before.json") in *preauth*|*'"id"'*) ok 1 "the dry run stored nothing" ;; *) ok 0 "the dry run stored nothing" ;; esac
out=$(ic import prosody "$P/data")
ok $? "import of Prosody's data directory"
printf '%s\n' "$out" | tail -n 1 | grep -q '^imported 7 pending invites, 0 used invites as audit records; 1 expired (or used before audit_retention) left out$'
ok $? "seven pending invites imported, the expired one left out"
printf '%s\n' "$out" | grep -q "^skipped .* $(id_of "$t_short") "
ok $? "the expired invite is named as left out"

show() {
	ic show "$(id_of "$1")" --json
}
# field JSON NAME: a value of the show --json output (strings bare)
field() {
	printf '%s' "$1" | "$py" -c 'import json, sys
v = json.load(sys.stdin).get(sys.argv[1])
print("null" if v is None else (",".join(v) if isinstance(v, list) else
      json.dumps(v) if isinstance(v, bool) else v))' "$2"
}
# prosody_expiry TOKEN: the expiry Prosody stored
prosody_expiry() {
	lua5.4 -e "local f = '$P/data/localhost/invite_token.dat'
local t = dofile(f)
if t['$1'] then print(math.floor(t['$1'].expires)) return end
for _, name in ipairs({ 'alice', 'admin' }) do
	local ok, u = pcall(dofile, '$P/data/localhost/invite_token/' .. name .. '.dat')
	if ok and u['$1'] then print(math.floor(u['$1'])) end
end"
}
expect() {
	tok=$1
	name=$2
	shift 2
	j=$(show "$tok")
	ok $? "$name: stored"
	while [ $# -gt 0 ]; do
		is "$(field "$j" "${1%%=*}")" "${1#*=}" "$name: ${1%%=*}"
		shift
	done
	if command -v lua5.4 >/dev/null 2>&1; then
		is "$(field "$j" expires_unix)" "$(prosody_expiry "$tok")" "$name: Prosody's expiry"
	fi
}
expect "$t_acct" "plain account invite" kind=account username=null roles= \
	groups= inviter=null created_by=prosodyctl max_uses=1 state=pending
expect "$t_admin" "--admin --group" kind=account roles=admin groups=friends
expect "$t_reset" "--reset alice" kind=reset username=alice
expect "$t_named" "shell: juliet" kind=account username=juliet
expect "$t_contact" "alice's contact invite" kind=contact allow_register=false \
	inviter=alice@localhost
expect "$t_cibr" "the admin's contact invite" kind=contact allow_register=true \
	inviter=admin@localhost
expect "$t_adhoc" "the admin's account invite" kind=account inviter=null \
	created_by=admin@localhost
ic show "$(id_of "$t_short")" >/dev/null 2>&1
is "$?" 1 "the expired invite is not stored"
unset INVITES_FAKE_NOW

# Prosody's SQL storage: the same data through prosody-migrator.
if lua5.4 -e 'require "DBI"' 2>/dev/null; then
	cat >"$P/migrator.cfg.lua" <<CFG
input { type = "internal"; path = "$P/data";
	hosts = { ["localhost"] = { "invite_token-keyval" } } }
output { type = "sql"; driver = "SQLite3"; database = "$P/prosody.sqlite" }
CFG
	[ "$(id -u)" -ne 0 ] || chown prosody: "$P/migrator.cfg.lua"
	as_prosody prosody-migrator --config="$P/migrator.cfg.lua" input output >"$P/migrate.log" 2>&1
	ok $? "prosody-migrator: internal storage to SQL (SQLite)"
	mkdir -p "$T/sql"
	printf 'store = %s/sql/store\ndomains = localhost\n' "$T" >"$T/sql/invites.conf"
	a=$("$INVITECTL" --config "$T/sql/invites.conf" import prosody "$P/data" --dry-run | sed 's/  (.*//')
	b=$("$INVITECTL" --config "$T/sql/invites.conf" import prosody "sqlite:$P/prosody.sqlite" --dry-run | sed 's/  (.*//')
	is "$b" "$a" "SQL storage gives the same invites as the files"
	"$INVITECTL" --config "$T/sql/invites.conf" import prosody "$P/prosody.sqlite" >/dev/null
	ok $? "import from the SQLite database"
	j=$("$INVITECTL" --config "$T/sql/invites.conf" show "$(id_of "$t_admin")" --json)
	is "$(field "$j" roles),$(field "$j" groups)" "admin,friends" "SQL: roles and groups"
else
	diag "lua-dbi-sqlite3 is not installed: Prosody's SQL storage not tested"
fi

# Bad input: a record with a broken token; nothing is imported.
mkdir -p "$T/bad/localhost"
sed "s/$t_acct/not a token/g" "$P/data/localhost/invite_token.dat" >"$T/bad/localhost/invite_token.dat"
printf 'store = %s/bad/store\ndomains = localhost\n' "$T" >"$T/bad/invites.conf"
"$INVITECTL" --config "$T/bad/invites.conf" generate localhost >/dev/null
err=$("$INVITECTL" --config "$T/bad/invites.conf" import prosody "$T/bad/localhost" 2>&1)
is "$?" 65 "a bad record: exit status 65"
case $err in *"$T/bad/localhost/invite_token.dat: the invite created"*"the token is not"*"nothing was imported"*)
	ok 0 "... names the file and the record" ;;
*) ok 1 "... names the file and the record"; diag "$err" ;; esac
is "$("$INVITECTL" --config "$T/bad/invites.conf" list | wc -l)" 2 "... and nothing was imported"
sed 's/= {/= {{/' "$P/data/localhost/invite_token.dat" >"$T/bad/localhost/invite_token.dat"
err=$("$INVITECTL" --config "$T/bad/invites.conf" import prosody "$T/bad/localhost" 2>&1)
is "$?" 65 "a file that is not Lua: exit status 65"
case $err in *"invite_token.dat: not a Prosody data file"*) ok 0 "... named" ;;
*) ok 1 "... named"; diag "$err" ;; esac

# The imported links register on jabberd2 with our modules.
if [ -n "$have_j2" ]; then
	r=$("$py" "$client" register "$j2port" localhost romeo romeopw "$t_acct")
	is "$r" ok "jabberd2: Prosody's account link registers romeo"
	r=$("$py" "$client" login "$j2port" localhost romeo romeopw | head -n 1)
	is "$r" ok "jabberd2: romeo logs in"
	r=$("$py" "$client" register "$j2port" localhost paris parispw "$t_named")
	is "$r" not-allowed "jabberd2: the link for juliet refuses another name"
	r=$("$py" "$client" register "$j2port" localhost juliet julietpw "$t_named")
	is "$r" ok "jabberd2: the link for juliet registers juliet"
	r=$("$py" "$client" register "$j2port" localhost tybalt tybaltpw "$t_cibr")
	is "$r" ok "jabberd2: the admin's contact link registers tybalt"
	r=$("$py" "$client" register "$j2port" localhost mercutio mercpw "$t_contact")
	is "$r" "preauth:item-not-found" "jabberd2: a contact-only link does not register"
	r=$("$py" "$client" register "$j2port" localhost benvolio benpw "$t_acct")
	is "$r" "preauth:item-not-found" "jabberd2: a used link does not register twice"
	j=$(show "$t_acct")
	is "$(field "$j" state)" used "the imported invite is used up"
fi

done_testing
