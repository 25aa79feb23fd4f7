#!/bin/sh
# Sum the results of automake's TAP driver (*.trs files) under the given
# build directories and print "N passed, N failed, N skipped".  Exits 1 when
# any test failed or errored, or when no test ran at all.
find "$@" -name '*.trs' -exec cat {} + 2>/dev/null |
awk '/^:test-result: (PASS|XFAIL)/ {p++}
     /^:test-result: (FAIL|XPASS|ERROR)/ {f++}
     /^:test-result: SKIP/ {s++}
     END {
	printf "%d passed, %d failed, %d skipped\n", p, f, s
	exit (f > 0 || p == 0) ? 1 : 0
     }'
