#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Build every libFuzzer target with clang in a separate build directory
# and run each for a bounded time, for CI and for people.
#
#   tests/fuzz/run-fuzzers.sh [NAME...]
#
# Targets are the files tests/fuzz/fuzz_NAME.c (all of them by default).
# Each runs on a scratch copy of its corpus, tests/fuzz/corpus/NAME, with
# tests/fuzz/NAME.dict when it exists.  Environment:
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_BUILDDIR  build directory (default _build-fuzz in the source tree)
#   FUZZ_JOBS      parallel make jobs (default 2)
#   FUZZ_ARTIFACTS where crashing inputs go (default $FUZZ_BUILDDIR/artifacts)
#   CC             clang to use (default clang)
# Exit status: 0 when no target crashed, 1 when one did (its input is in
# FUZZ_ARTIFACTS: fix the bug, then commit the input to the corpus as a
# regression seed), 2 on a build failure (the targets that build still
# run), 77 when clang cannot fuzz.
set -u

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${FUZZ_SECONDS:-60}
builddir=${FUZZ_BUILDDIR:-$srcdir/_build-fuzz}
jobs=${FUZZ_JOBS:-2}
artifacts=${FUZZ_ARTIFACTS:-$builddir/artifacts}
cc=${CC:-clang}

if [ $# -gt 0 ]; then
	targets=$*
else
	targets=
	for f in "$srcdir"/tests/fuzz/fuzz_*.c; do
		[ -f "$f" ] || continue
		n=${f##*/fuzz_}
		targets="$targets ${n%.c}"
	done
fi
if [ -z "$targets" ]; then
	echo "run-fuzzers: no targets" >&2
	exit 2
fi

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "run-fuzzers: $cc not found; skipping" >&2
	exit 77
fi
probe=$(mktemp -d) || exit 2
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
	>"$probe/p.c"
if ! "$cc" -fsanitize=fuzzer -o "$probe/p" "$probe/p.c" >/dev/null 2>&1; then
	rm -rf "$probe"
	echo "run-fuzzers: $cc cannot build libFuzzer targets; skipping" >&2
	exit 77
fi
rm -rf "$probe"

# The whole library is instrumented for coverage (fuzzer-no-link) and
# sanitizers; the fuzz targets add -fsanitize=fuzzer (tests/fuzz/fuzz.am).
if [ ! -f "$srcdir/configure" ]; then
	if command -v flock >/dev/null 2>&1; then
		(cd "$srcdir" && flock /tmp/xi-build.lock ./bootstrap) || exit 2
	else
		(cd "$srcdir" && ./bootstrap) || exit 2
	fi
fi
mkdir -p "$builddir" "$artifacts" || exit 2
cd "$builddir" || exit 2
flags="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
if [ ! -f Makefile ]; then
	"$srcdir/configure" --enable-fuzzing --disable-jabberd2 \
		CC="$cc" CFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" \
		>configure.log 2>&1 || {
		echo "run-fuzzers: configure failed, see $builddir/configure.log" >&2
		exit 2
	}
fi
status=0
built=
: >make.log
for t in $targets; do
	if make -j"$jobs" "tests/fuzz/fuzz_$t" >>make.log 2>&1; then
		built="$built $t"
	else
		echo "run-fuzzers: fuzz_$t does not build, see $builddir/make.log" >&2
		tail -20 make.log >&2
		status=2
	fi
done

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
for t in $built; do
	work="$builddir/corpus-$t"
	mkdir -p "$work"
	seeds="$srcdir/tests/fuzz/corpus/$t"
	dict=
	[ -f "$srcdir/tests/fuzz/$t.dict" ] && dict="-dict=$srcdir/tests/fuzz/$t.dict"
	echo "run-fuzzers: fuzz_$t for ${seconds}s"
	# shellcheck disable=SC2086
	if ! "./tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=20 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$artifacts/$t-" $dict \
		"$work" "$seeds" >"fuzz-$t.log" 2>&1; then
		echo "run-fuzzers: fuzz_$t FAILED; log $builddir/fuzz-$t.log," \
			"inputs in $artifacts" >&2
		tail -40 "fuzz-$t.log" >&2
		status=1
	else
		grep -E '^stat::number_of_executed_units|^Done' "fuzz-$t.log" |
			sed "s/^/run-fuzzers: fuzz_$t: /"
	fi
done
exit $status
