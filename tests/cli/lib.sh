# Helpers for the invitectl tests (tests/cli/*.sh): source this file.
# Each test gets its own temporary directory, configuration and store,
# removed on exit.
. "$top_srcdir/tests/tap.sh"

INVITECTL="$top_builddir/invitectl"
[ -x "$INVITECTL" ] || skip_all "invitectl is not built"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed"

T=$(mktemp -d "${TMPDIR:-/tmp}/invitectl-test.XXXXXX") ||
	skip_all "cannot make a temporary directory"
trap 'rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
CONF="$T/invites.conf"
STORE="$T/store"
unset INVITES_FAKE_NOW INVITES_OPEN_TIMEOUT

# write_conf [extra lines...]: a valid configuration for two domains.
write_conf() {
	{
		echo "# invitectl test configuration"
		echo "store = $STORE"
		echo "domains = example.com, example.org"
		for l in "$@"; do
			echo "$l"
		done
	} >"$CONF"
}

# ic ARGS...: invitectl with the test configuration.
ic() {
	"$INVITECTL" --config "$CONF" "$@"
}

# run CMD ARGS...: run a command, keep stdout in $out, stderr in $err,
# the exit status in $rc.
run() {
	"$@" >"$T/.out" 2>"$T/.err"
	rc=$?
	out=$(cat "$T/.out")
	err=$(cat "$T/.err")
}

# lines TEXT: how many lines TEXT has (0 for empty).
lines() {
	if [ -z "$1" ]; then
		echo 0
	else
		printf '%s\n' "$1" | wc -l | tr -d ' '
	fi
}

# fails WANT_RC NAME CMD ARGS...: CMD fails with exit status WANT_RC,
# one line on stderr that starts with "invitectl: ", nothing on stdout.
fails() {
	want=$1
	name=$2
	shift 2
	run "$@"
	is "$rc" "$want" "$name: exit status $want"
	case "$(lines "$err"):$err" in
	"1:invitectl: "*) ok 0 "$name: one line on stderr" ;;
	*) ok 1 "$name: one line on stderr"; diag "stderr: $err" ;;
	esac
	is "$out" "" "$name: nothing on stdout"
}

# json EXPR: evaluate a Python expression on the JSON document on stdin
# (bound to d) and print the result; exit 1 when it does not parse or
# an object has a key twice.
json() {
	python3 -c '
import json, sys
def pairs(kv):
    keys = [k for k, _ in kv]
    if len(keys) != len(set(keys)):
        sys.exit("duplicate key in %s" % keys)
    return dict(kv)
d = json.load(sys.stdin, object_pairs_hook=pairs)
r = eval(sys.argv[1])
print(r if not isinstance(r, (dict, list)) else json.dumps(r))
' "$1"
}

# token_of LINK: the preauth token in an xmpp: URI or a landing URL.
token_of() {
	printf '%s\n' "$1" | sed -n 's/.*preauth=\([A-Za-z0-9_-]*\).*/\1/p; t; s/.*invite\/\([A-Za-z0-9_-]*\)$/\1/p'
}

# id_of TOKEN: the public id of a token (first 12 hex digits of SHA-256).
id_of() {
	printf '%s' "$1" | sha256sum | cut -c1-12
}
