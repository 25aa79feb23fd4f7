# SPDX-License-Identifier: MIT
# invitectl import ejabberd: rows written here into ejabberd's invite_token
# table as its SQL schema defines it (sql/lite.new.sql; and the old
# single-host one of sql/lite.sql), with SQLite's own clock for the times
# as ejabberd writes them (UTC 'YYYY-MM-DD HH:MM:SS'); also the same rows
# dumped tab-separated.  Every type (R, S, A, T), used rows, a revoked and
# an expired one; checked invite by invite; a bad row imports nothing and
# is named; and audit_retention: used rows older than it are not kept, and
# purge trims the audit of old records while the tree keeps the rest.
. "$top_srcdir/tests/tap.sh"

INVITECTL=$top_builddir/invitectl
[ -x "$INVITECTL" ] || skip_all "invitectl is not built"
grep -q '^#define HAVE_SQLITE 1' "$top_builddir/config.h" ||
	skip_all "built without SQLite (libsqlite3-dev): SQL storage is not read"
command -v sqlite3 >/dev/null 2>&1 || skip_all "sqlite3 is not installed"
"$INVITECTL" import --help | grep -q ejabberd || skip_all "no import command"
py=
for c in /usr/bin/python3 python3; do
	command -v "$c" >/dev/null 2>&1 && { py=$c; break; }
done
[ -n "$py" ] || skip_all "python3 is needed"

T=$(mktemp -d "${TMPDIR:-/tmp}/ops-ejabberd.XXXXXX") || skip_all "no temporary directory"
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
unset INVITES_FAKE_NOW

new_conf() {
	mkdir -p "$T/$1"
	printf 'store = %s/%s/store\ndomains = localhost\n' "$T" "$1" >"$T/$1/invites.conf"
}
ic() {
	dir=$1
	shift
	"$INVITECTL" --config "$T/$dir/invites.conf" "$@"
}
id_of() {
	printf '%s' "$1" | sha256sum | cut -c1-12
}
field() {
	printf '%s' "$1" | "$py" -c 'import json, sys
v = json.load(sys.stdin).get(sys.argv[1])
print("null" if v is None else (",".join(v) if isinstance(v, list) else
      json.dumps(v) if isinstance(v, bool) else v))' "$2"
}

SCHEMA="CREATE TABLE invite_token (
    token text NOT NULL,
    username text NOT NULL,
    server_host text NOT NULL,
    invitee text NOT NULL DEFAULT '',
    created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    type character(1) NOT NULL,
    account_name text NOT NULL,
    PRIMARY KEY (token)
);
CREATE INDEX i_invite_token_username_server_host ON invite_token(username, server_host);
CREATE INDEX i_invite_token_invitee ON invite_token(invitee);"

# 24 characters of a-z0-5, as ejabberd makes them
T_R=roster0aaaaaaaaaaaaaaaa1
T_S=subscr0bbbbbbbbbbbbbbbb2
T_A=accnt0ccccccccccccccccc3
T_T=reset0dddddddddddddddd04
T_AU=usedaeeeeeeeeeeeeeeeee5
T_RU=usedrffffffffffffffffff0
T_REV=revokedggggggggggggggg1
T_EXP=expiredhhhhhhhhhhhhhhh2
T_OLD=oldusediiiiiiiiiiiiiii3

DB=$T/ejabberd.db
sqlite3 "$DB" <<SQL
$SCHEMA
INSERT INTO invite_token (token, username, server_host, created_at, expires, type, account_name) VALUES
 ('$T_R', 'romeo', 'localhost', datetime('now', '-1 day'), datetime('now', '+4 days'), 'R', ''),
 ('$T_S', 'admin', 'localhost', datetime('now', '-1 day'), datetime('now', '+4 days'), 'S', 'juliet'),
 ('$T_A', 'admin', 'localhost', datetime('now', '-2 days'), datetime('now', '+3 days'), 'A', ''),
 ('$T_T', '', 'localhost', datetime('now', '-1 hour'), datetime('now', '+4 days'), 'T', 'alice'),
 ('$T_REV', 'admin', 'localhost', datetime('now', '-1 day'), '1970-01-01 00:00:01', 'A', '');
INSERT INTO invite_token (token, username, server_host, invitee, created_at, expires, type, account_name) VALUES
 ('$T_AU', 'admin', 'localhost', 'mercutio@localhost', datetime('now', '-10 days'), datetime('now', '-5 days'), 'A', ''),
 ('$T_RU', 'romeo', 'localhost', '', datetime('now', '-9 days'), datetime('now', '-4 days'), 'R', 'tybalt'),
 ('$T_EXP', 'romeo', 'localhost', '', datetime('now', '-9 days'), datetime('now', '-4 days'), 'R', ''),
 ('$T_OLD', 'admin', 'localhost', 'oldtimer@localhost', datetime('now', '-400 days'), datetime('now', '-395 days'), 'A', '');
SQL
ok $? "ejabberd's invite_token table, nine rows"

new_conf a
ic a generate localhost >/dev/null
out=$(ic a import ejabberd "$DB" --contact-register --dry-run)
ok $? "dry run"
is "$(ic a list | wc -l)" 2 "the dry run stored nothing"
out=$(ic a import ejabberd "$DB" --contact-register)
ok $? "import from the SQLite database"
is "$(printf '%s\n' "$out" | tail -n 1)" \
	"imported 4 pending invites, 2 used invites as audit records; 3 expired (or used before audit_retention) left out" \
	"four pending, two used, three left out"

expect() {
	tok=$1
	name=$2
	shift 2
	j=$(ic a show "$(id_of "$tok")" --json)
	ok $? "$name: stored"
	while [ $# -gt 0 ]; do
		is "$(field "$j" "${1%%=*}")" "${1#*=}" "$name: ${1%%=*}"
		shift
	done
}
expect "$T_R" "R (roster_only)" kind=contact allow_register=true \
	inviter=romeo@localhost state=pending
expect "$T_S" "S (account_subscription)" kind=account username=juliet \
	inviter=admin@localhost
expect "$T_A" "A (account_only)" kind=account username=null inviter=null \
	created_by=admin@localhost
expect "$T_T" "T (reset_token)" kind=reset username=alice created_by=ejabberd
# ejabberd's expiry, to the second
want=$(sqlite3 "$DB" "SELECT strftime('%s', expires) FROM invite_token WHERE token = '$T_S'")
j=$(ic a show "$(id_of "$T_S")" --json)
is "$(field "$j" expires_unix)" "$want" "S: ejabberd's expiry"
for t in "$T_AU" "$T_RU" "$T_REV" "$T_EXP" "$T_OLD"; do
	ic a show "$(id_of "$t")" >/dev/null 2>&1
	is "$?" 1 "used, revoked or expired row $t is not a pending invite"
done
is "$(ic a audit | grep -c ' used ')" 2 "two used rows in the audit"
tree=$(ic a tree)
case $tree in *"admin@localhost"*"mercutio@localhost"*) ok 0 "tree: admin invited mercutio" ;;
*) ok 1 "tree: admin invited mercutio"; diag "$tree" ;; esac
case $tree in *"romeo@localhost"*"tybalt@localhost"*) ok 0 "tree: romeo invited tybalt" ;;
*) ok 1 "tree: romeo invited tybalt"; diag "$tree" ;; esac
case $tree in *oldtimer*) ok 1 "a use older than audit_retention is not kept" ;;
*) ok 0 "a use older than audit_retention is not kept" ;; esac

# The same rows dumped tab-separated give the same import.
sqlite3 -header -separator "$(printf '\t')" "$DB" 'SELECT * FROM invite_token' >"$T/dump.tsv"
new_conf b
b=$(ic b import ejabberd "$T/dump.tsv" --contact-register --dry-run | sed 's/  (.*//')
a=$(ic b import ejabberd "$DB" --contact-register --dry-run | sed 's/  (.*//')
is "$b" "$a" "a tab-separated dump reads like the database"
ic b import ejabberd "$T/dump.tsv" >/dev/null
ok $? "import of the dump"
j=$(ic b show "$(id_of "$T_R")" --json)
is "$(field "$j" allow_register)" false "without --contact-register a roster invite is contact only"

# The old single-host schema (no server_host): the configured domain.
sqlite3 "$T/old.db" <<SQL
CREATE TABLE invite_token (token text NOT NULL, username text NOT NULL,
 invitee text NOT NULL DEFAULT '', created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
 expires timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, type character(1) NOT NULL,
 account_name text NOT NULL, PRIMARY KEY (token));
INSERT INTO invite_token (token, username, created_at, expires, type, account_name) VALUES
 ('$T_R', 'romeo', datetime('now', '-1 day'), datetime('now', '+4 days'), 'R', '');
SQL
new_conf c
ic c import ejabberd "$T/old.db" >/dev/null
ok $? "the old schema: the configured domain"
j=$(ic c show "$(id_of "$T_R")" --json)
is "$(field "$j" inviter)" romeo@localhost "... romeo@localhost"

# Bad rows: nothing is imported, the row is named.
cp "$DB" "$T/bad.db"
sqlite3 "$T/bad.db" "INSERT INTO invite_token (token, username, server_host, created_at, expires, type, account_name) VALUES ('badtype0jjjjjjjjjjjjjjj4', 'romeo', 'localhost', datetime('now'), datetime('now', '+1 day'), 'Q', '')"
row=$(sqlite3 "$T/bad.db" "SELECT rowid FROM invite_token WHERE token = 'badtype0jjjjjjjjjjjjjjj4'")
new_conf d
ic d generate localhost >/dev/null
err=$(ic d import ejabberd "$T/bad.db" 2>&1)
is "$?" 65 "an unknown type: exit status 65"
case $err in *"$T/bad.db: invite_token row $row: unknown type 'Q'"*) ok 0 "... names the row" ;;
*) ok 1 "... names the row"; diag "$err" ;; esac
is "$(ic d list | wc -l)" 2 "... nothing imported"
cp "$DB" "$T/bad2.db"
sqlite3 "$T/bad2.db" "INSERT INTO invite_token (token, username, server_host, created_at, expires, type, account_name) VALUES ('othrdom0kkkkkkkkkkkkkkk5', 'romeo', 'example.org', datetime('now'), datetime('now', '+1 day'), 'R', '')"
row=$(sqlite3 "$T/bad2.db" "SELECT rowid FROM invite_token WHERE token = 'othrdom0kkkkkkkkkkkkkkk5'")
err=$(ic d import ejabberd "$T/bad2.db" 2>&1)
is "$?" 1 "a domain we do not serve: refused"
case $err in *"invite_token row $row: invite $(id_of othrdom0kkkkkkkkkkkkkkk5): domain example.org is not in"*"nothing was imported"*)
	ok 0 "... names the row and the domain" ;;
*) ok 1 "... names the row and the domain"; diag "$err" ;; esac
is "$(ic d list | wc -l)" 2 "... nothing imported"
case $err in *othrdom0kkkk*) ok 1 "the message holds no token" ;; *) ok 0 "the message holds no token" ;; esac
ic d import ejabberd "$T/nothere.db" >/dev/null 2>&1
is "$?" 65 "a missing file: exit status 65"

# audit_retention: purge trims the audit oldest first; the tree follows.
new_conf e
printf 'audit_retention = 30d\n' >>"$T/e/invites.conf"
now=$(date +%s)
sqlite3 "$T/early.db" <<SQL
$SCHEMA
INSERT INTO invite_token (token, username, server_host, invitee, created_at, expires, type, account_name) VALUES
 ('earlyuse0lllllllllllll5', 'admin', 'localhost', 'escalus@localhost', datetime('now', '-60 days'), datetime('now', '-55 days'), 'A', '');
SQL
# imported 50 days ago (then, the use was 10 days old)
INVITES_FAKE_NOW=$((now - 50 * 86400)) ic e import ejabberd "$T/early.db" >/dev/null
ok $? "a use imported 50 days ago"
ic e import ejabberd "$DB" >/dev/null
ok $? "then today's rows"
case $(ic e tree) in *escalus*) ok 0 "before purge: the old use is in the tree" ;;
*) ok 1 "before purge: the old use is in the tree" ;; esac
n_before=$(ic e audit | wc -l)
ic e purge >/dev/null
ok $? "purge"
n_after=$(ic e audit | wc -l)
is "$((n_before - n_after))" 2 "purge dropped the two audit records older than 30 days"
tree=$(ic e tree)
case $tree in *escalus*) ok 1 "after purge: the old use left the tree"; diag "$tree" ;;
*) ok 0 "after purge: the old use left the tree" ;; esac
case $tree in *tybalt*) ok 0 "after purge: newer uses stay" ;;
*) ok 1 "after purge: newer uses stay"; diag "$tree" ;; esac

done_testing
