# invitectl purge, stats and audit: purge with the clock moved ahead,
# counts and sizes, the audit trail of who did what, --since.
. "$top_srcdir/tests/cli/lib.sh"

write_conf
now=$(date +%s)
export INVITES_FAKE_NOW=$now
short1=$(ic generate example.com --expires 1h) || exit 1
short2=$(ic generate example.com --expires 1h --contact romeo@example.com) || exit 1
short3=$(ic generate example.org --expires 90m --reset juliet) || exit 1
long=$(ic generate example.com --expires 30d) || exit 1
longid=$(id_of "$(token_of "$long")")
s2id=$(id_of "$(token_of "$short2")")

# ---- stats ----
run ic stats
is "$rc" 0 "stats exits 0"
printf '%s\n' "$out" | grep -q '^invites: *4$'
ok $? "stats: 4 invites"
printf '%s\n' "$out" | grep -q '^  pending: *4$'
ok $? "stats: 4 pending"
printf '%s\n' "$out" | grep -q '^data size: *[0-9]* bytes'
ok $? "stats: data size"
printf '%s\n' "$out" | grep -q '^log size: *[0-9]* bytes'
ok $? "stats: log size"
run ic stats --json
is "$rc" 0 "stats --json exits 0"
is "$(printf '%s' "$out" | json 'd["total"], d["pending"], d["by_kind"]["account"], d["by_kind"]["contact"], d["by_kind"]["reset"]')" \
	"(4, 4, 2, 1, 1)" "stats --json: counts"
is "$(printf '%s' "$out" | json 'd["data_bytes"] > 0 and d["log_bytes"] > 0')" "True" \
	"stats --json: sizes on disk"

# ---- purge ----
run ic purge
is "$rc:$out" "0:purged 0" "purge: nothing expired yet"
export INVITES_FAKE_NOW=$((now + 2 * 3600))
run ic purge
is "$rc:$out" "0:purged 3" "purge two hours later: three expired invites"
run ic list --all --json
is "$(printf '%s' "$out" | json '[i["id"] for i in d]')" "[\"$longid\"]" \
	"only the long-lived invite is left"
run ic purge --json
is "$(printf '%s' "$out" | json 'd["purged"]')" 0 "purge --json: nothing more"
run ic stats --json
is "$(printf '%s' "$out" | json 'd["total"]')" 1 "stats after purge"
unset INVITES_FAKE_NOW

# ---- audit ----
ic revoke "$longid" >/dev/null
run ic audit
is "$rc" 0 "audit exits 0"
is "$(printf '%s\n' "$out" | head -n1 | tr -s ' ')" \
	"SEQ TIME EVENT ID KIND DOMAIN ACTOR SUBJECT" "audit: header"
is "$(printf '%s\n' "$out" | awk 'NR > 1 && $3 == "created"' | wc -l | tr -d ' ')" 4 \
	"audit: four created"
is "$(printf '%s\n' "$out" | awk 'NR > 1 && $3 == "purged"' | wc -l | tr -d ' ')" 3 \
	"audit: three purged"
printf '%s\n' "$out" | awk -v id="$longid" 'NR > 1 && $3 == "revoked" && $4 == id' | grep -q 'invitectl:'
ok $? "audit: revoked, by invitectl:LOGIN"
printf '%s\n' "$out" | awk -v id="$s2id" '$3 == "created" && $4 == id && $5 == "contact"' | grep -q .
ok $? "audit: id and kind"

run ic audit --json
is "$rc" 0 "audit --json exits 0"
is "$(printf '%s' "$out" | json 'len(d)')" 8 "audit --json: eight records"
is "$(printf '%s' "$out" | json 'all(a["seq"] < b["seq"] for a, b in zip(d, d[1:]))')" "True" \
	"audit --json: seq strictly increasing"
is "$(printf '%s' "$out" | json 'sorted(d[0])')" \
	'["actor", "domain", "event", "id", "kind", "seq", "subject", "time", "time_unix"]' \
	"audit --json: fields"
last=$(printf '%s' "$out" | json 'd[-1]["seq"]')
third=$(printf '%s' "$out" | json 'd[2]["seq"]')
run ic audit --since "$third" --json
is "$(printf '%s' "$out" | json 'len(d)')" 5 "audit --since: only later records"
run ic audit --since "$last" --json
is "$(printf '%s' "$out" | json 'd')" "[]" "audit --since the last: empty array"
run ic audit --since "$last"
is "$rc:$(lines "$out")" "0:1" "audit --since the last: the header only"

for t in "$short1" "$short2" "$short3" "$long"; do
	tk=$(token_of "$t")
	case "$(ic audit; ic audit --json)" in
	*"$tk"*) ok 1 "no token in the audit output" ;;
	*) ok 0 "no token in the audit output" ;;
	esac
done

fails 64 "audit --since junk" ic audit --since 12x
fails 64 "purge with an argument" ic purge now
fails 64 "stats with an argument" ic stats x

done_testing
