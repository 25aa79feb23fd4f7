# invitectl generate: the store is created on first use; every kind of
# invite gets the right link; every option reaches the stored invite;
# --json parses and holds every field; the landing URL is used when
# configured.
. "$top_srcdir/tests/cli/lib.sh"

write_conf "reset_expiry = 2h"
tok='[A-Za-z0-9_-]\{22\}'

# ---- store created on first generate ----
[ ! -e "$STORE" ]
ok $? "no store before the first generate"
run ic generate example.com
is "$rc" 0 "generate exits 0"
[ -d "$STORE" ]
ok $? "the store is created by the first generate"
is "$(lines "$out")" 1 "generate prints one line"
printf '%s\n' "$out" | grep -q "^xmpp:example\.com?register;preauth=$tok\$"
ok $? "account invite: xmpp:DOMAIN?register;preauth=TOKEN"
is "$err" "" "nothing on stderr"
first=$out

run ic generate example.com
[ "$rc" -eq 0 ] && [ "$out" != "$first" ]
ok $? "a second invite has another token"

# ---- each kind ----
run ic generate example.com --username Juliet
printf '%s\n' "$out" | grep -q "^xmpp:juliet@example\.com?register;preauth=$tok\$"
ok $? "preset username: xmpp:USER@DOMAIN?register (name normalised)"

run ic generate example.com --reset romeo
printf '%s\n' "$out" | grep -q "^xmpp:romeo@example\.com?register;preauth=$tok\$"
ok $? "reset: xmpp:USER@DOMAIN?register;preauth=TOKEN"

run ic generate example.com --contact romeo@example.com
printf '%s\n' "$out" | grep -q "^xmpp:romeo@example\.com?roster;preauth=$tok\$"
ok $? "contact: xmpp:JID?roster;preauth=TOKEN"

run ic generate example.com --contact Romeo@Example.COM/phone --allow-register
printf '%s\n' "$out" | grep -q "^xmpp:romeo@example\.com?roster;preauth=$tok;ibr=y\$"
ok $? "contact + register: ;ibr=y (JID normalised, resource dropped)"

run ic generate EXAMPLE.org
printf '%s\n' "$out" | grep -q "^xmpp:example\.org?register;preauth=$tok\$"
ok $? "the domain is normalised"

# ---- --json: every field ----
export INVITES_FAKE_NOW=$(( $(date +%s) + 10 ))
run ic generate example.com --json --admin --role moderator --role admin \
	--group Friends --group 'Book club' --uses 5 --expires 36h \
	--note 'say "hi" \ to élodie
and tab	here'
is "$rc" 0 "generate --json with every option exits 0"
json_doc=$out
printf '%s' "$json_doc" | json 'd' >/dev/null
ok $? "--json output parses"
is "$(lines "$out")" 1 "--json prints one line"
j() { printf '%s' "$json_doc" | json "$1"; }
token=$(j 'd["token"]')
printf '%s\n' "$token" | grep -q "^$tok\$"
ok $? "json: token"
is "$(j 'd["id"]')" "$(id_of "$token")" "json: id is the SHA-256 prefix of the token"
is "$(j 'd["uri"]')" "xmpp:example.com?register;preauth=$token" "json: uri"
is "$(j 'd["link"]')" "xmpp:example.com?register;preauth=$token" "json: link"
is "$(j '"landing_url" in d')" "False" "json: no landing_url when not configured"
is "$(j 'd["kind"]')" "account" "json: kind"
is "$(j 'd["domain"]')" "example.com" "json: domain"
is "$(j 'd["username"]')" "None" "json: username null"
is "$(j 'd["inviter"]')" "None" "json: inviter null for an admin invite"
is "$(j 'sorted(d["roles"])')" '["admin", "moderator"]' "json: roles (--admin, --role, no duplicates)"
is "$(j 'd["groups"]')" '["Friends", "Book club"]' "json: groups"
is "$(j 'd["note"]')" 'say "hi" \ to élodie
and tab	here' "json: note round-trips (quotes, backslash, UTF-8, newline, tab)"
is "$(j 'd["max_uses"]')" 5 "json: max_uses"
is "$(j 'd["uses"]')" 0 "json: uses"
is "$(j 'd["created_unix"]')" "$INVITES_FAKE_NOW" "json: created_unix"
is "$(j 'd["expires_unix"] - d["created_unix"]')" 129600 "json: --expires 36h"
is "$(j 'd["created"]')" "$(date -u -d "@$INVITES_FAKE_NOW" +%Y-%m-%dT%H:%M:%SZ)" \
	"json: created in ISO 8601 UTC"
is "$(j 'd["expires"]')" "$(date -u -d "@$((INVITES_FAKE_NOW + 129600))" +%Y-%m-%dT%H:%M:%SZ)" \
	"json: expires in ISO 8601 UTC"
j 'd["created_by"]' | grep -q '^invitectl:.'
ok $? "json: created_by is invitectl:LOGIN"
is "$(j 'd["state"]')" "pending" "json: state"

# Bytes that are not UTF-8 and control characters still give valid JSON,
# and one line per field in show.
run ic generate example.com --json --note "$(printf 'a\377b\001c\342\202')"
is "$(printf '%s' "$out" | json 'ascii(d["note"])')" "'a\\ufffdb\\x01c\\ufffd\\ufffd'" \
	"json: invalid UTF-8 becomes U+FFFD, control characters are escaped"
run ic show "$(printf '%s' "$out" | json 'd["id"]')"
printf '%s\n' "$out" | LC_ALL=C grep -q '^note: *a.b?c..$'
ok $? "show: the note on one line, control characters replaced"

run ic generate example.com --json
is "$(printf '%s' "$out" | json 'd["expires_unix"] - d["created_unix"]')" 604800 \
	"default expiry: invite_expiry (7d)"
run ic generate example.com --reset juliet --json
is "$(printf '%s' "$out" | json 'd["expires_unix"] - d["created_unix"]')" 7200 \
	"reset default expiry: reset_expiry (2h)"
is "$(printf '%s' "$out" | json 'd["kind"] + " " + d["username"]')" "reset juliet" \
	"json: reset kind and username"
run ic generate example.com --reset juliet --expires 15m --json
is "$(printf '%s' "$out" | json 'd["expires_unix"] - d["created_unix"]')" 900 \
	"reset with --expires"
run ic generate example.com --contact romeo@example.com --allow-register \
	--role friend --group Family --json
is "$(printf '%s' "$out" | json 'd["kind"] + " " + str(d["allow_register"]) + " " + d["inviter"]')" \
	"contact True romeo@example.com" "json: contact, allow_register, inviter"
is "$(printf '%s' "$out" | json 'd["uri"].endswith(";ibr=y")')" "True" \
	"json: contact + register uri has ;ibr=y"
run ic generate example.com --uses 3 --json
is "$(printf '%s' "$out" | json 'd["max_uses"]')" 3 "--uses 3"
unset INVITES_FAKE_NOW

# ---- the landing URL when configured ----
write_conf "landing_url = https://example.com/invite/{token}"
run ic generate example.com
is "$rc" 0 "generate with landing_url exits 0"
printf '%s\n' "$out" | grep -q "^https://example\.com/invite/$tok\$"
ok $? "the landing URL is printed when configured"
run ic generate example.com --contact romeo@example.com --json
t2=$(printf '%s' "$out" | json 'd["token"]')
is "$(printf '%s' "$out" | json 'd["landing_url"]')" "https://example.com/invite/$t2" \
	"json: landing_url"
is "$(printf '%s' "$out" | json 'd["link"]')" "https://example.com/invite/$t2" \
	"json: link is the landing URL"
is "$(printf '%s' "$out" | json 'd["uri"]')" "xmpp:romeo@example.com?roster;preauth=$t2" \
	"json: uri still given"

write_conf 'landing_url = https://invite.example.net/#{uri-noscheme}'
run ic generate example.org
printf '%s\n' "$out" | grep -q '^https://invite\.example\.net/#example\.org'
ok $? "landing URL template with {uri-noscheme}"

# ---- the configuration through INVITES_CONFIG ----
write_conf
run env INVITES_CONFIG="$CONF" "$INVITECTL" generate example.com
is "$rc" 0 "INVITES_CONFIG names the configuration"
run env INVITES_CONFIG=/nonexistent/invites.conf "$INVITECTL" --config "$CONF" generate example.com
is "$rc" 0 "--config wins over INVITES_CONFIG"
run "$INVITECTL" generate example.com --config "$CONF"
is "$rc" 0 "--config after the command"

done_testing
