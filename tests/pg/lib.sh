# Shell helpers of the PostgreSQL tests: start a throwaway server from
# Debian's postgresql package and stop it again.  Sourced after tests/tap.sh.
#
#   pg_start        initdb into a new directory under /tmp, as an
#                   unprivileged user (the package's "postgres" when we are
#                   root), and start it on a Unix socket in that directory
#                   only (no TCP); sets PG_BIN, PG_DIR, PG_URI (a libpq URI
#                   of the database "postgres" as the superuser "xi") and
#                   PSQL.  Skips the whole test (SKIP plan, exit 0) only
#                   when the package is not installed.
#   pg_stop         stop the server and remove its directory (also at exit)
#   pg_restart      stop (fast: connections are cut) and start again
#   pg_psql SQL     run SQL as the superuser
#   pg_uri SCHEMA   the URI of a store in its own schema

PG_BIN=
PG_DIR=
PG_RUN=
PG_STARTED=

pg_bail() {
	echo "Bail out! $*"
	exit 99
}

pg_find() {
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] &&
			PG_BIN=$d
	done
	[ -n "$PG_BIN" ]
}

pg_ctl_() {
	$PG_RUN "$PG_BIN/pg_ctl" -D "$PG_DIR/data" "$@"
}

pg_start() {
	if ! pg_find; then
		echo "1..0 # SKIP the postgresql package is not installed"
		exit 0
	fi
	PG_DIR=$(mktemp -d /tmp/xi-pg.XXXXXX) || pg_bail "mktemp failed"
	if [ "$(id -u)" = 0 ]; then
		pg_user=postgres
		id "$pg_user" >/dev/null 2>&1 || pg_user=nobody
		chown "$pg_user" "$PG_DIR" || pg_bail "chown failed"
		PG_RUN="runuser -u $pg_user --"
	fi
	chmod 700 "$PG_DIR"
	trap 'pg_stop' EXIT
	if ! $PG_RUN "$PG_BIN/initdb" -D "$PG_DIR/data" -U xi -A trust -E UTF8 \
		--locale=C --no-sync >"$PG_DIR/initdb.log" 2>&1; then
		sed 's/^/# /' "$PG_DIR/initdb.log"
		pg_bail "initdb failed"
	fi
	pg_server_start || pg_bail "the PostgreSQL server did not start"
	# for tests that restart the server under load (the same options)
	cat >"$PG_DIR/restart.sh" <<RESTART
#!/bin/sh
$PG_RUN "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1
exec $PG_RUN "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \\
	-o "$PG_OPTS" start >/dev/null 2>&1
RESTART
	PG_RESTART="sh $PG_DIR/restart.sh"
	export PG_RESTART
	PG_STARTED=1
	PG_URI="postgresql:///postgres?host=$PG_DIR&user=xi"
	PSQL="$PG_BIN/psql"
	export PG_URI PG_DIR PG_BIN PSQL
}

pg_server_start() {
	PG_OPTS="-k $PG_DIR -c listen_addresses='' -c max_connections=120 -c shared_buffers=32MB"
	pg_ctl_ -l "$PG_DIR/server.log" -w -t 60 -o "$PG_OPTS" \
		start >/dev/null 2>&1 || { sed 's/^/# /' "$PG_DIR/server.log" | tail -20; return 1; }
}

pg_restart() {
	pg_ctl_ -m fast -w stop >/dev/null 2>&1
	pg_server_start
}

pg_stop() {
	if [ -n "$PG_DIR" ] && [ -d "$PG_DIR" ]; then
		[ -n "$PG_STARTED" ] && pg_ctl_ -m immediate -w stop >/dev/null 2>&1
		PG_STARTED=
		if [ -n "${TEST_PG_KEEP:-}" ]; then
			echo "# kept $PG_DIR"
		else
			rm -rf "$PG_DIR"
		fi
	fi
	PG_DIR=
}

pg_psql() {
	"$PSQL" -X -q -v ON_ERROR_STOP=1 -At -d "$PG_URI" -c "$1"
}

pg_uri() {
	echo "$PG_URI&schema=$1"
}
