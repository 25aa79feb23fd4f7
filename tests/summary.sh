#!/bin/sh
# Sum the results of automake's TAP driver (*.trs files) under the given
# build directories and print "N passed, N failed, N skipped".  Exits 1 when
# any test failed or errored, or when no test ran at all.
#
# Before that line, every failed test point is named with the end of its
# log, so that a CI transcript which keeps only the last lines still says
# what broke.
#
# The slowest tests of each build (tests/limit.sh writes each one's time
# into its log).
for dir in "$@"; do
	find "$dir" -name '*.log' ! -name test-suite.log -exec cat {} + 2>/dev/null |
	sed -n 's/^.*# limit\.sh: \(.*\) took \([0-9]*\) s .*/\2 \1/p' |
	sort -rn | head -n 5 |
	awk -v d="$dir" 'NR == 1 { printf "slowest in %s:", d }
	    { printf " %s %d s;", $2, $1 } END { if (NR) print "" }'
done
for dir in "$@"; do
	find "$dir" -name '*.trs' 2>/dev/null | sort | while read -r trs; do
		grep -q '^:test-result: \(FAIL\|XPASS\|ERROR\)' "$trs" || continue
		log=${trs%.trs}.log
		echo "---- failed: $log"
		grep -E '^(not ok|Bail out!)' "$log" 2>/dev/null | head -n 10
		echo "---- its last lines:"
		tail -n 25 "$log" 2>/dev/null
	done
done
find "$@" -name '*.trs' -exec cat {} + 2>/dev/null |
awk '/^:test-result: (PASS|XFAIL)/ {p++}
     /^:test-result: (FAIL|XPASS|ERROR)/ {f++}
     /^:test-result: SKIP/ {s++}
     END {
	printf "%d passed, %d failed, %d skipped\n", p, f, s
	exit (f > 0 || p == 0) ? 1 : 0
     }'
