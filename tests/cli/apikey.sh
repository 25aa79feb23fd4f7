# invitectl api-key (the HTTP API keys of invites-web): create prints the
# key once; list and revoke never show it; bad input gives one line and
# the documented exit status.
. "$top_srcdir/tests/cli/lib.sh"

write_conf
ic generate example.com >/dev/null
ok $? "a store to work on"

run ic api-key create portal --scope invites:create --scope invites:read
is "$rc" 0 "api-key create exits 0"
printf '%s\n' "$out" | grep -q '^inv_[A-Za-z0-9_-]\{22\}$'
ok $? "create prints the key on one line"
key=$out
run ic api-key create ops --scope 'invites:revoke,invites:read' --expires 30d
is "$rc" 0 "comma-separated scopes and --expires"

run ic api-key list
is "$rc" 0 "api-key list exits 0"
is "$(lines "$out")" 3 "list: a header and two keys"
printf '%s\n' "$out" | grep 'portal' | grep -q 'invites:create,invites:read'
ok $? "list: name and scopes"
printf '%s\n' "$out" | grep 'portal' | grep -q 'never'
ok $? "list: no expiry"
run ic api-key list --json
is "$(printf '%s' "$out" | json 'sorted(k["name"] for k in d)')" '["ops", "portal"]' \
	"list --json"
# (invitectl reads the clock for the expiry, the library for the creation
# time: a second may tick between the two)
is "$(printf '%s' "$out" | json '2592000 - ([k for k in d if k["name"] == "ops"][0]["expires_unix"] - [k for k in d if k["name"] == "ops"][0]["created_unix"]) in (0, 1)')" \
	True "list --json: the expiry of --expires 30d"
all=$(ic api-key list; ic api-key list --json)
case "$all" in *"${key#inv_}"*) ok 1 "the key never appears in list" ;;
*) ok 0 "the key never appears in list" ;; esac

fails 1 "a name that exists" ic api-key create portal --scope invites:read
fails 64 "no scope" ic api-key create nokey
fails 64 "an unknown scope" ic api-key create x --scope invites:everything
fails 64 "a bad name" ic api-key create 'a b' --scope invites:read
fails 64 "a bad duration" ic api-key create y --scope invites:read --expires never
fails 64 "no action" ic api-key
fails 64 "an unknown action" ic api-key rotate

run ic api-key revoke portal
is "$rc" 0 "api-key revoke exits 0"
printf '%s\n' "$out" | grep -q '^revoked API key portal ([0-9a-f]*)$'
ok $? "revoke names the key and its id"
run ic api-key list --json
is "$(printf '%s' "$out" | json '[k["name"] for k in d]')" '["ops"]' \
	"a revoked key leaves the list"
fails 1 "revoke an unknown key" ic api-key revoke portal

done_testing
