#!/bin/sh
# Racing consumers (8 processes x 2 connections), clients killed
# mid-transaction, and the server restarted under load (tests/pg/race.c),
# against a PostgreSQL server of its own.
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/pg/lib.sh"
pg_start
TEST_STORE_PG=$PG_URI
export TEST_STORE_PG
"$top_builddir/tests/pg/race"
