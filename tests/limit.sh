# limit.sh: run one test under a time limit (the LOG_COMPILER of every test).
#
#   sh tests/limit.sh PROGRAM [ARGS...]
#
# A test that hangs must become a failure that names it, not a CI job that
# runs out of time with nothing said.  GNU timeout puts the test in a
# process group of its own and, past its limit, signals the whole group,
# so the daemons and forked children a test leaves behind go with it and
# cannot hold the TAP driver's pipe open; the TAP stream then ends with a
# "Bail out!" line.  The limit is TEST_TIME_LIMIT seconds, by default 900,
# and 1800 for the fault-injection test (about three times what it takes
# under the sanitizers on a 2-core machine).  The time each test took ends
# its log (a TAP comment), to see which tests are the long ones.
for name; do :; done   # the test is the last argument
name=${name##*/}
case $name in
faults.py) default=1800 ;;  # 200 kill trials: 550 s under ASan here
*) default=900 ;;
esac
limit=${TEST_TIME_LIMIT:-$default}
start=$(date +%s)
timeout -k 20 "$limit" "$@"
rc=$?
took=$(($(date +%s) - start))
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && [ "$took" -ge "$limit" ]; then
	echo "Bail out! $name did not finish within TEST_TIME_LIMIT=$limit s"
fi
echo "# limit.sh: $name took $took s (exit $rc)"
exit "$rc"
