#!/bin/sh
# make bench-pg: the PostgreSQL store against bare libpq in one run, on a
# throwaway server (tests/pg/lib.sh), N invites per phase (default 2000).
# Prints the phases and a Markdown table with the product/bare ratios.
set -u
top_srcdir=${top_srcdir:?}
top_builddir=${top_builddir:?}
n=${1:-2000}
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/pg/lib.sh"
pg_start
out=$("$top_builddir/bench/pg/pg_bench" "$PG_URI" "$n") || exit 1
echo "$out"
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
