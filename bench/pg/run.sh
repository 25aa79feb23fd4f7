#!/bin/sh
# make bench-pg: the PostgreSQL store against bare libpq in one run, on a
# throwaway server (tests/pg/lib.sh), N invites per phase (default 2000).
# Prints the phases and a Markdown table with the product/bare ratios; then
# (bench/pg/e2e.py, when jabberd2 and our modules are there) end-to-end
# registrations/s through jabberd2 with the PostgreSQL store against the
# Berkeley DB store.  The tables also go to $BENCH_PG_OUT (make bench-pg:
# bench/pg/RESULTS.md in the source tree).
set -u
top_srcdir=${top_srcdir:?}
top_builddir=${top_builddir:?}
n=${1:-2000}
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/pg/lib.sh"
pg_start
out=$("$top_builddir/bench/pg/pg_bench" "$PG_URI" "$n") || exit 1
pg_stop
trap - EXIT
echo "$out"
echo
{
echo "# PostgreSQL store benchmarks (make bench-pg)"
echo
echo "## In-process operations: the store against bare libpq"
echo
echo "$(date '+%Y-%m-%d %H:%M'), $n invites per phase, load average $(cut -d' ' -f1-3 /proc/loadavg) after the run."
echo
echo "| operation | product ops/s | bare libpq ops/s | product p50 / p99 us | bare p50 / p99 us | p50 ratio |"
echo "|---|---|---|---|---|---|"
echo "$out" | awk '
	$1 == "phase" { ops[$2] = $8; p50[$2] = $10; p99[$2] = $12 }
	END {
		split("create validate consume", names, " ")
		for (i = 1; i <= 3; i++) {
			o = names[i]; b = o "_bare"
			printf "| %s | %.0f | %.0f | %.1f / %.1f | %.1f / %.1f | %.2fx |\n",
			    o, ops[o], ops[b], p50[o], p99[o], p50[b], p99[b],
			    (p50[b] > 0 ? p50[o] / p50[b] : 0)
		}
	}'
echo
if [ -f "$top_builddir/plugin/jabberd2/.libs/mod_invites.so" ]; then
	"${PYTHON3:-python3}" "$top_srcdir/bench/pg/e2e.py" \
		--srcdir "$top_srcdir" --builddir "$top_builddir" \
		--flows "${BENCH_PG_E2E_FLOWS:-200}" --clients "${BENCH_PG_E2E_CLIENTS:-1,4}"
else
	echo "(end-to-end part skipped: the jabberd2 modules were not built)"
fi
} | tee "${BENCH_PG_OUT:-/dev/null}"
