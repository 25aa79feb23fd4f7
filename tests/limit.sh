# limit.sh: run one test under a time limit (the LOG_COMPILER of every test).
#
#   sh tests/limit.sh PROGRAM [ARGS...]
#
# A test that hangs must become a failure that names it, not a CI job that
# runs out of time with nothing said.  GNU timeout puts the test in a
# process group of its own and, past TEST_TIME_LIMIT seconds (default 900;
# the slowest test takes about a tenth of that under the sanitizers),
# signals the whole group, so the daemons and forked children a test
# leaves behind go with it and cannot hold the TAP driver's pipe open.
# The TAP stream then ends with a "Bail out!" line.  The time each test
# took goes to its log (stderr), to see which tests are the long ones.
limit=${TEST_TIME_LIMIT:-900}
for name; do :; done   # the test is the last argument
name=${name##*/}
start=$(date +%s)
timeout -k 20 "$limit" "$@"
rc=$?
took=$(($(date +%s) - start))
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && [ "$took" -ge "$limit" ]; then
	echo "Bail out! $name did not finish within TEST_TIME_LIMIT=$limit s"
fi
echo "# limit.sh: $name took $took s (exit $rc)" >&2
exit "$rc"
