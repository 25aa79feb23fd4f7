# invitectl and signals: SIGTERM while the store is being opened is held
# until the work is done and the store closed (the invite is made, its
# link printed); a store that cannot be opened in INVITES_OPEN_TIMEOUT
# seconds gives exit status 75 and one line.  A helper holds the lock of
# the store's process registry (__db.register) so that an open blocks.
. "$top_srcdir/tests/cli/lib.sh"

[ -d /proc/self/fd ] || skip_all "needs /proc"
write_conf
ic generate example.com >/dev/null
ok $? "a store to work on"
[ -f "$STORE/__db.register" ] || skip_all "the store has no __db.register"

holder=
stop_holder() {
	if [ -n "$holder" ]; then
		kill "$holder" 2>/dev/null
		wait "$holder" 2>/dev/null
		holder=
	fi
}
trap 'stop_holder; rm -rf "$T"' EXIT

# start_holder: lock __db.register until killed (at most 5 minutes).
start_holder() {
	rm -f "$T/locked"
	python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX, 0, 0)
open(sys.argv[2], "w").close()
time.sleep(300)
' "$STORE/__db.register" "$T/locked" &
	holder=$!
	i=0
	while [ ! -e "$T/locked" ] && [ $i -lt 3000 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -e "$T/locked" ]
}

# wait_open PID: until PID has the registry open (it is inside the open).
wait_open() {
	i=0
	while [ $i -lt 3000 ]; do
		for fd in /proc/"$1"/fd/*; do
			case "$(readlink "$fd" 2>/dev/null)" in
			*/__db.register) return 0 ;;
			esac
		done
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# ---- the open timeout ----
start_holder
ok $? "the helper holds the registry lock"
run env INVITES_OPEN_TIMEOUT=1 "$INVITECTL" --config "$CONF" list
is "$rc" 75 "a blocked open times out with exit status 75"
is "$err" "invitectl: timed out opening the invite store" "... and one line"
is "$out" "" "... and nothing on stdout"

# ---- SIGTERM while opening ----
"$INVITECTL" --config "$CONF" generate example.com --json >"$T/gen.out" 2>"$T/gen.err" &
pid=$!
wait_open "$pid"
ok $? "invitectl is inside the store open"
kill -TERM "$pid"
stop_holder
wait "$pid"
rc=$?
is "$rc" 143 "SIGTERM takes effect after the work (exit status 128 + 15)"
id=$(json 'd["id"]' <"$T/gen.out")
[ -n "$id" ] && ic show "$id" >/dev/null
ok $? "the invite was made and its link printed"
is "$(cat "$T/gen.err")" "" "nothing on stderr"
run ic list
is "$rc" 0 "the store opens normally afterwards"
is "$(lines "$out")" 3 "both invites are there"

done_testing
