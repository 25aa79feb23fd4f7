# invitectl: --help, --version, per-command help, and the man page
# documenting every command, option and exit code.  No store needed.
. "$top_srcdir/tests/cli/lib.sh"

cmds="generate list show revoke reissue purge stats audit api-key"

run "$INVITECTL" --help
is "$rc" 0 "--help exits 0"
for c in $cmds; do
	case "$out" in
	*"  $c "*) ok 0 "--help lists $c" ;;
	*) ok 1 "--help lists $c" ;;
	esac
done
for code in 0 1 64 65 66 70 74 75 77 78; do
	printf '%s\n' "$out" | grep -q "^  $code " 
	ok $? "--help documents exit status $code"
done
printf '%s\n' "$out" | grep -q 'INVITES_CONFIG'
ok $? "--help names INVITES_CONFIG"
printf '%s\n' "$out" | grep -q 'INVITES_OPEN_TIMEOUT'
ok $? "--help names INVITES_OPEN_TIMEOUT"

run "$INVITECTL" -h
is "$rc" 0 "-h exits 0"

run "$INVITECTL" --version
is "$rc" 0 "--version exits 0"
printf '%s\n' "$out" | grep -Eq '^invitectl \(xmpp-invites\) [0-9]+\.[0-9]+'
ok $? "--version prints the version"

run "$INVITECTL" help
is "$rc" 0 "help exits 0"

for c in $cmds; do
	run "$INVITECTL" "$c" --help
	is "$rc" 0 "$c --help exits 0"
	case "$out" in
	"Usage: invitectl $c"*) ok 0 "$c --help shows its usage" ;;
	*) ok 1 "$c --help shows its usage" ;;
	esac
	printf '%s\n' "$out" | grep -q '^Exit status'
	ok $? "$c --help documents the exit status"
	run "$INVITECTL" help "$c"
	is "$rc" 0 "help $c exits 0"
	run "$INVITECTL" --help "$c"
	is "$rc" 0 "--help $c exits 0"
	# --help works without any configuration or store.
	run "$INVITECTL" --config /nonexistent/x.conf "$c" -h
	is "$rc" 0 "$c -h needs no configuration"
done

fails 64 "no command" "$INVITECTL"
fails 64 "unknown command" "$INVITECTL" frobnicate
case "$err" in *"--help"*) ok 0 "unknown command: hint to --help" ;;
*) ok 1 "unknown command: hint to --help" ;; esac
fails 64 "unknown global option" "$INVITECTL" --frob list
fails 64 "help for an unknown command" "$INVITECTL" help frobnicate
fails 64 "--config without a value" "$INVITECTL" --config

# The man page documents every command, every option of every command
# and every exit status.
man="$top_srcdir/man/invitectl.8"
for c in $cmds; do
	grep -q "^\.SS \"$c" "$man"
	ok $? "man page: section for $c"
	opts=$("$INVITECTL" "$c" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
	for o in $opts; do
		m=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
		grep -q -- "$m" "$man"
		ok $? "man page: $c $o"
	done
done
for code in 0 1 64 65 66 70 74 75 77 78; do
	grep -A0 -q "^\.B $code\$" "$man"
	ok $? "man page: exit status $code"
done
grep -q 'prosodyctl mod_invites generate' "$man"
ok $? "man page: Prosody equivalents"

done_testing
