# invitectl revoke and reissue: by id, prefix, token and URI; their
# effects visible in list and show; reissue keeps every setting.
. "$top_srcdir/tests/cli/lib.sh"

write_conf
idof() { printf '%s\n' "$1" | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p'; }

# ---- revoke by id ----
run ic generate example.com --json
id1=$(idof "$out")
run ic revoke "$id1"
is "$rc" 0 "revoke exits 0"
is "$out" "revoked $id1" "revoke prints the id"
run ic show "$id1" --json
is "$(printf '%s' "$out" | json 'd["state"]')" "revoked" "show: revoked"
is "$(printf '%s' "$out" | json 'd["revoked_unix"] is not None')" "True" "show: revocation time"
run ic list
printf '%s\n' "$out" | grep -q "^$id1 "
ok $(( ! $? )) "a revoked invite leaves the pending list"
run ic list --all
printf '%s\n' "$out" | grep "^$id1 " | grep -q 'revoked$'
ok $? "list --all: revoked"
fails 1 "revoking twice" ic revoke "$id1"

# ---- by prefix, token, URI ----
run ic generate example.com --json
id2=$(idof "$out")
run ic revoke "$(printf '%s' "$id2" | cut -c1-5)"
is "$out" "revoked $id2" "revoke by a prefix"

link=$(ic generate example.com)
t3=$(token_of "$link")
id3=$(id_of "$t3")
run ic revoke "$t3"
is "$rc:$out" "0:revoked $id3" "revoke by token"
case "$out$err" in *"$t3"*) ok 1 "revoke does not echo the token" ;;
*) ok 0 "revoke does not echo the token" ;; esac
fails 1 "revoke by token twice" ic revoke "$t3"
case "$err" in *"$t3"*) ok 1 "the error does not echo the token" ;;
*) ok 0 "the error does not echo the token" ;; esac

link=$(ic generate example.com --contact romeo@example.com)
id4=$(id_of "$(token_of "$link")")
run ic revoke "$link"
is "$rc:$out" "0:revoked $id4" "revoke by xmpp: URI"

fails 1 "revoke an unknown id" ic revoke 0000000000ff
fails 1 "revoke an unknown token" ic revoke AAAAAAAAAAAAAAAAAAAAAA

# ---- reissue ----
export INVITES_FAKE_NOW=$(( $(date +%s) + 5 ))
run ic generate example.com --json --role editor \
	--group Team --uses 4 --note keep --expires 1d
old=$(idof "$out")
oldtok=$(printf '%s' "$out" | json 'd["token"]')
run ic reissue "$old"
is "$rc" 0 "reissue exits 0"
is "$(lines "$out")" 1 "reissue prints one line"
printf '%s\n' "$out" | grep -q '^xmpp:example\.com?register;preauth=[A-Za-z0-9_-]\{22\}$'
ok $? "reissue prints the new link"
newtok=$(token_of "$out")
[ -n "$newtok" ] && [ "$newtok" != "$oldtok" ]
ok $? "the new link has a new token"
new=$(id_of "$newtok")
run ic show "$old" --json
is "$(printf '%s' "$out" | json 'd["state"]')" "revoked" "the old invite is revoked"
run ic show "$new" --json
is "$(printf '%s' "$out" | json 'd["state"]')" "pending" "the new invite is pending"
is "$(printf '%s' "$out" | json '" ".join([d["kind"], ",".join(d["roles"]), ",".join(d["groups"]), str(d["max_uses"]), d["note"]])')" \
	"account editor Team 4 keep" "the new invite keeps every setting"
is "$(printf '%s' "$out" | json 'd["expires_unix"] - d["created_unix"]')" 604800 \
	"reissue without --expires: the configured expiry"
run ic list
printf '%s\n' "$out" | grep -q "^$new "
ok $? "list shows the new invite"
printf '%s\n' "$out" | grep -q "^$old "
ok $(( ! $? )) "list no longer shows the old one"

run ic reissue "$new" --expires 2h --json
is "$rc" 0 "reissue --json exits 0"
is "$(printf '%s' "$out" | json 'd["replaces"]')" "$new" "reissue --json: replaces"
is "$(printf '%s' "$out" | json 'd["expires_unix"] - d["created_unix"]')" 7200 \
	"reissue --expires 2h"
is "$(printf '%s' "$out" | json 'd["id"] != d["replaces"] and len(d["token"]) == 22')" \
	"True" "reissue --json: new id and token"

run ic generate example.com --username juliet --json
uid=$(idof "$out")
run ic reissue "$uid"
printf '%s\n' "$out" | grep -q '^xmpp:juliet@example\.com?register;preauth=[A-Za-z0-9_-]\{22\}$'
ok $? "reissue of an invite for one username: the same username"
run ic generate example.com --reset romeo --json
rid=$(idof "$out")
run ic reissue "$rid"
printf '%s\n' "$out" | grep -q '^xmpp:romeo@example\.com?register;preauth='
ok $? "reissue of a reset invite: a reset link"
run ic generate example.com --contact romeo@example.com --allow-register --json
cid=$(idof "$out")
run ic reissue "$cid"
printf '%s\n' "$out" | grep -q '^xmpp:romeo@example\.com?roster;preauth=[A-Za-z0-9_-]*;ibr=y$'
ok $? "reissue of a contact invite: ;ibr=y kept"
unset INVITES_FAKE_NOW

fails 1 "reissue an unknown id" ic reissue 0000000000ff
fails 64 "reissue a malformed id" ic reissue zzzz
fails 64 "reissue with a bad duration" ic reissue "$cid" --expires soon
fails 64 "reissue without an id" ic reissue

done_testing
