#!/bin/sh
# The store's own test suite (tests/unit/test_store: the same program that
# tests Berkeley DB) against a PostgreSQL server of its own.
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/pg/lib.sh"
pg_start
TEST_STORE_PG=$PG_URI
export TEST_STORE_PG
"$top_builddir/tests/unit/test_store"
