# invitectl list and show: the table and JSON forms, every filter,
# prefixes and ambiguous prefixes, look-up by token, and no token ever in
# their output.
. "$top_srcdir/tests/cli/lib.sh"

write_conf
: >"$T/tokens"
gen() {
	run ic generate "$@" --json
	if [ "$rc" -ne 0 ]; then
		diag "generate $*: $err"
		return 1
	fi
	printf '%s\n' "$out" | sed -n 's/.*"token":"\([A-Za-z0-9_-]*\)".*/\1/p' >>"$T/tokens"
	printf '%s\n' "$out" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p'
}

a1=$(gen example.com --note 'first one') || exit 1
a2=$(gen example.org --username juliet) || exit 1
r1=$(gen example.com --reset romeo) || exit 1
c1=$(gen example.com --contact romeo@example.com --allow-register) || exit 1
c2=$(gen example.com --contact tybalt@example.com) || exit 1

# ---- list: the table ----
run ic list
is "$rc" 0 "list exits 0"
is "$(printf '%s\n' "$out" | head -n1 | tr -s ' ')" \
	"ID KIND DOMAIN USERNAME INVITER USES EXPIRES STATE" "list: header"
is "$(lines "$out")" 6 "list: a header and five invites"
for id in $a1 $a2 $r1 $c1 $c2; do
	printf '%s\n' "$out" | grep -q "^$id "
	ok $? "list shows $id"
done
printf '%s\n' "$out" | grep "^$c1 " | grep -q 'contact+register.*romeo@example\.com.*0/1.*pending'
ok $? "list: kind, inviter, uses and state of a contact invite"
printf '%s\n' "$out" | grep "^$a2 " | grep -q 'account  *example\.org  *juliet '
ok $? "list: domain and username"
printf '%s\n' "$out" | grep "^$a1 " | grep -q 'invitectl:'
ok $? "list: an admin's invite shows who made it"

# ---- list: filters ----
run ic list --kind reset
is "$(printf '%s\n' "$out" | tail -n +2 | cut -d' ' -f1)" "$r1" "list --kind reset"
run ic list --kind contact --json
is "$(printf '%s' "$out" | json 'sorted(i["id"] for i in d)')" \
	"$(printf '["%s", "%s"]' $(printf '%s\n%s\n' "$c1" "$c2" | sort))" "list --kind contact"
run ic list --domain EXAMPLE.ORG
is "$(printf '%s\n' "$out" | tail -n +2 | cut -d' ' -f1)" "$a2" "list --domain (normalised)"
run ic list --inviter tybalt@example.com
is "$(printf '%s\n' "$out" | tail -n +2 | cut -d' ' -f1)" "$c2" "list --inviter"
run ic list --inviter nobody@example.com
is "$rc:$(lines "$out")" "0:1" "list with no match: the header only"

# ---- list --json ----
run ic list --json
is "$rc" 0 "list --json exits 0"
is "$(printf '%s' "$out" | json 'len(d)')" 5 "list --json: an array of five"
is "$(printf '%s' "$out" | json '[i for i in d if i["id"] == "'"$a1"'"][0]["note"]')" \
	"first one" "list --json: fields"
is "$(printf '%s' "$out" | json 'sorted(set(k for i in d for k in i))')" \
	'["allow_register", "created", "created_by", "created_unix", "domain", "expires", "expires_unix", "groups", "id", "inviter", "kind", "last_used_by", "max_uses", "note", "revoked", "revoked_unix", "roles", "state", "username", "uses"]' \
	"list --json: every field, no token"

# ---- --all ----
ic revoke "$a1" >/dev/null 2>&1
run ic list
printf '%s\n' "$out" | grep -q "^$a1 "
ok $(( ! $? )) "list hides a revoked invite"
run ic list --all
printf '%s\n' "$out" | grep "^$a1 " | grep -q 'revoked$'
ok $? "list --all shows it, revoked"
run ic list -a --json
is "$(printf '%s' "$out" | json 'len(d)')" 5 "list -a --json"

# Expired invites: --all only.
run env INVITES_FAKE_NOW=$(( $(date +%s) + 30 * 86400 )) "$INVITECTL" --config "$CONF" list
is "$(lines "$out")" 1 "with the clock 30 days ahead, nothing is pending"
run env INVITES_FAKE_NOW=$(( $(date +%s) + 30 * 86400 )) "$INVITECTL" --config "$CONF" list --all
printf '%s\n' "$out" | grep "^$a2 " | grep -q 'expired$'
ok $? "list --all shows expired invites as expired"

# ---- show ----
run ic show "$c1"
is "$rc" 0 "show exits 0"
printf '%s\n' "$out" | grep -q "^id: *$c1\$"
ok $? "show: id"
printf '%s\n' "$out" | grep -q "^kind: *contact+register\$"
ok $? "show: kind"
printf '%s\n' "$out" | grep -q "^inviter: *romeo@example.com\$"
ok $? "show: inviter"
printf '%s\n' "$out" | grep -q "^state: *pending\$"
ok $? "show: state"
run ic show "$(printf '%s' "$a2" | cut -c1-6)"
printf '%s\n' "$out" | grep -q "^id: *$a2\$"
ok $? "show by a 6-digit prefix"
run ic show "$(printf '%s' "$a2" | tr a-f A-F)"
printf '%s\n' "$out" | grep -q "^id: *$a2\$"
ok $? "show: ids are case-insensitive"
run ic show "$r1" --json
is "$(printf '%s' "$out" | json 'd["id"] + " " + d["kind"] + " " + d["username"]')" \
	"$r1 reset romeo" "show --json"
is "$(printf '%s' "$out" | json '"token" in d or "uri" in d')" "False" \
	"show --json: no token, no link"
tok_c2=$(sed -n 5p "$T/tokens")
run ic show "$tok_c2"
printf '%s\n' "$out" | grep -q "^id: *$c2\$"
ok $? "show by token"
run ic show "xmpp:tybalt@example.com?roster;preauth=$tok_c2"
printf '%s\n' "$out" | grep -q "^id: *$c2\$"
ok $? "show by xmpp: URI"

# ---- ambiguous prefixes: make invites until two ids share 4 hex
# digits (about 300 are needed), four invitectl processes at a time ----
# The loop runs the program behind libtool's wrapper script when there
# is one: the wrapper's start-up would cost more than invitectl's.
bulk="$INVITECTL"
if [ -x "$top_builddir/.libs/invitectl" ] &&
	LD_LIBRARY_PATH="$top_builddir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
	"$top_builddir/.libs/invitectl" --version >/dev/null 2>&1; then
	bulk="$top_builddir/.libs/invitectl"
	LD_LIBRARY_PATH="$top_builddir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	export LD_LIBRARY_PATH
fi
n=0
amb=
while [ -z "$amb" ] && [ $n -lt 3000 ]; do
	seq 100 | xargs -P 4 -I{} "$bulk" --config "$CONF" generate \
		example.com --note "batch {}" >>"$T/links" 2>>"$T/batch.err"
	n=$((n + 100))
	amb=$(ic list --json | json '
next(iter([p for p in __import__("collections").Counter(i["id"][:4] for i in d).items() if p[1] > 1]), ("", 0))[0]')
done
is "$(cat "$T/batch.err")" "" "$n invites made by 4 processes at once: no error"
is "$(ic list --json | json 'len(d)')" $((n + 4)) "... and every one is stored"
sed -n 's/.*preauth=\([A-Za-z0-9_-]*\).*/\1/p' "$T/links" >>"$T/tokens"
diag "two ids share the prefix '$amb' among $n more invites"
if [ -n "$amb" ]; then
	fails 65 "show with an ambiguous prefix" ic show "$amb"
	fails 65 "revoke with an ambiguous prefix" ic revoke "$amb"
else
	ok 1 "found an ambiguous prefix"
fi

# ---- no token in any output of list or show ----
all=$( { ic list --all; ic list --all --json; for id in $a1 $a2 $r1 $c1 $c2; do
	ic show "$id"; ic show "$id" --json; done; ic audit; ic audit --json; } 2>&1)
leaked=0
while read -r t; do
	case "$all" in *"$t"*) leaked=$((leaked + 1)) ;; esac
done <"$T/tokens"
is "$leaked" 0 "no token appears in list, show or audit output ($(wc -l <"$T/tokens") tokens)"

done_testing
