# invitectl and bad input: every mistake gives one line on stderr, nothing
# on stdout and the documented exit status; a bad configuration names file
# and line; a store directory holding something else is refused and left
# untouched.
. "$top_srcdir/tests/cli/lib.sh"

write_conf

# ---- usage errors (64) ----
fails 64 "unknown subcommand" ic frob
fails 64 "unknown option" ic generate example.com --frob
case "$err" in *"invitectl generate --help"*) ok 0 "usage error: hint to --help" ;;
*) ok 1 "usage error: hint to --help"; diag "$err" ;; esac
fails 64 "unknown short option" ic list -z
fails 64 "missing DOMAIN" ic generate
fails 64 "two domains" ic generate example.com example.org
fails 64 "option without its value" ic generate example.com --uses
fails 64 "flag with a value" ic generate example.com --admin=yes
fails 64 "option given twice" ic generate example.com --uses 2 --uses 3
fails 64 "bad duration" ic generate example.com --expires 5x
fails 64 "negative duration" ic generate example.com --expires -5
fails 64 "zero duration" ic generate example.com --expires 0
fails 64 "--uses 0" ic generate example.com --uses 0
fails 64 "--uses junk" ic generate example.com --uses many
fails 64 "--uses too large" ic generate example.com --uses 99999999999
fails 64 "--reset with --contact" ic generate example.com --reset juliet --contact romeo@example.com
fails 64 "--reset with --username" ic generate example.com --reset juliet --username juliet
fails 64 "--username with --contact" ic generate example.com --username juliet --contact romeo@example.com
fails 64 "--allow-register without --contact" ic generate example.com --allow-register
fails 64 "--reset with --uses 2" ic generate example.com --reset juliet --uses 2
fails 64 "--username with --uses 2" ic generate example.com --username juliet --uses 2
fails 64 "too many roles" ic generate example.com $(i=0; while [ $i -lt 33 ]; do printf -- '--role r%d ' $i; i=$((i + 1)); done)
fails 64 "a role too long" ic generate example.com --role "$(head -c 256 /dev/zero | tr '\0' r)"
fails 64 "a note too long" ic generate example.com --note "$(head -c 4097 /dev/zero | tr '\0' n)"
fails 64 "a group with a control character" ic generate example.com --group "$(printf 'a\tb')"
fails 64 "--reset with --admin" ic generate example.com --reset juliet --admin
fails 64 "--reset with --group" ic generate example.com --reset juliet --group G
fails 64 "roles on a contact invite without --allow-register" \
	ic generate example.com --contact romeo@example.com --role x
fails 64 "an empty role" ic generate example.com --role ''
fails 64 "--contact from another domain" ic generate example.com --contact romeo@example.org
fails 64 "--contact without a user" ic generate example.com --contact example.com
fails 64 "list with an argument" ic list x
fails 64 "list --kind unknown" ic list --kind bogus
fails 64 "show without an id" ic show
fails 64 "show with a malformed id" ic show xyz
fails 64 "show with a too-short prefix" ic show abc
fails 64 "revoke with two arguments" ic revoke abcd abce
fails 64 "audit --since junk" ic audit --since -1
[ ! -e "$STORE" ]
ok $? "no usage error created the store"

# ---- bad data (65) ----
fails 65 "bad domain" ic generate 'exa mple.com'
fails 65 "bad --contact JID" ic generate example.com --contact 'romeo@@example.com'
fails 65 "bad --reset username" ic generate example.com --reset 'bad user'
fails 65 "bad --username" ic generate example.com --username 'a:b'
fails 65 "list --inviter bad JID" ic list --inviter '@'

# ---- domain not served (1) ----
fails 1 "a domain that is not served" ic generate example.net
case "$err" in *example.net*) ok 0 "the message names the domain" ;;
*) ok 1 "the message names the domain" ;; esac

# ---- no store yet (66), then an unknown id (1) ----
fails 66 "list without a store" ic list
fails 66 "show without a store" ic show abcdef
fails 66 "revoke without a store" ic revoke abcdef
fails 66 "stats without a store" ic stats
[ ! -e "$STORE" ]
ok $? "read commands do not create the store"
ic generate example.com >/dev/null
ok $? "generate creates the store"
fails 1 "show an unknown id" ic show abcdef
fails 1 "show an unknown token" ic show AAAAAAAAAAAAAAAAAAAAAA
fails 1 "revoke an unknown id" ic revoke abcdef0123

# ---- configuration errors (78) ----
fails 78 "missing configuration file" "$INVITECTL" --config "$T/nope.conf" list
case "$err" in *"$T/nope.conf"*) ok 0 "the message names the missing file" ;;
*) ok 1 "the message names the missing file"; diag "$err" ;; esac
fails 78 "missing INVITES_CONFIG file" env INVITES_CONFIG="$T/nope.conf" "$INVITECTL" list

write_conf "bogus_key = 1"
fails 78 "unknown key" ic list
case "$err" in *"invites.conf:4:"*) ok 0 "unknown key: FILE:LINE" ;;
*) ok 1 "unknown key: FILE:LINE"; diag "$err" ;; esac

write_conf "invite_expiry = soon"
fails 78 "bad duration in the configuration" ic generate example.com
case "$err" in *"invites.conf:4:"*) ok 0 "bad value: FILE:LINE" ;;
*) ok 1 "bad value: FILE:LINE"; diag "$err" ;; esac

printf 'domains = example.com\n' >"$CONF"
fails 78 "missing store key" ic list
case "$err" in *store*) ok 0 "missing key named" ;; *) ok 1 "missing key named" ;; esac

write_conf
fails 78 "bad INVITES_OPEN_TIMEOUT" env INVITES_OPEN_TIMEOUT=soon "$INVITECTL" --config "$CONF" list
run env INVITES_OPEN_TIMEOUT=30 "$INVITECTL" --config "$CONF" list
is "$rc" 0 "INVITES_OPEN_TIMEOUT=30 is accepted"

# ---- a store directory that holds something else ----
# refused DIR FILES...: generate and list refuse DIR (exit 74, one line,
# no link) and leave it exactly as it was.
refused() {
	dir=$1
	shift
	mkdir "$dir"
	for f in "$@"; do
		head -c 4096 /dev/urandom >"$dir/$f"
	done
	(cd "$dir" && ls -la --time-style=+ && md5sum * 2>/dev/null) >"$T/before"
	cat >"$CONF" <<EOF2
store = $dir
domains = example.com
EOF2
	run ic generate example.com
	is "$rc" 74 "$(basename "$dir"): generate refuses it with exit status 74"
	is "$(lines "$err")" 1 "... one line on stderr"
	is "$out" "" "... no link printed"
	fails 74 "$(basename "$dir"): list refuses it too" ic list
	(cd "$dir" && ls -la --time-style=+ && md5sum * 2>/dev/null) >"$T/after"
	cmp -s "$T/before" "$T/after"
	ok $? "$(basename "$dir"): nothing in it was changed, removed or added"
}
refused "$T/foreign" notes.txt data.bin
refused "$T/corrupt" meta.db invites.db
refused "$T/corrupt-all" meta.db invites.db expiry.db inviter.db audit.db

# Garbage under the store's own data file names, without meta.db: the
# data file is never overwritten (the store may take the directory for
# a creation that was interrupted and add its own files beside it).
mkdir "$T/half"
head -c 4096 /dev/urandom >"$T/half/invites.db"
cp "$T/half/invites.db" "$T/invites.db.copy"
cat >"$CONF" <<EOF2
store = $T/half
domains = example.com
EOF2
run ic generate example.com
is "$rc" 74 "garbage invites.db: generate refuses it with exit status 74"
is "$out" "" "... no link printed"
cmp -s "$T/half/invites.db" "$T/invites.db.copy"
ok $? "... and the garbage invites.db is untouched"

# A store path that is a regular file.
printf 'x\n' >"$T/file"
cat >"$CONF" <<EOF2
store = $T/file
domains = example.com
EOF2
run ic generate example.com
[ "$rc" -ne 0 ] && [ "$(lines "$err")" -eq 1 ] && [ -z "$out" ]
ok $? "a store path that is a file is refused (exit $rc)"
is "$(cat "$T/file")" "x" "... and the file is untouched"

done_testing
