# INVITES_CHECK_BDB: find Berkeley DB >= 5.3 (Debian ships no .pc for it).
# Sets and substitutes BDB_CPPFLAGS, BDB_LDFLAGS and BDB_LIBS.
AC_DEFUN([INVITES_CHECK_BDB], [
  AC_ARG_WITH([bdb],
    [AS_HELP_STRING([--with-bdb=DIR], [Berkeley DB installed under DIR])],
    [], [with_bdb=])
  BDB_CPPFLAGS=
  BDB_LDFLAGS=
  AS_IF([test -n "$with_bdb" && test "x$with_bdb" != xyes], [
    BDB_CPPFLAGS="-I$with_bdb/include"
    BDB_LDFLAGS="-L$with_bdb/lib"
  ])
  invites_save_CPPFLAGS=$CPPFLAGS
  invites_save_LDFLAGS=$LDFLAGS
  invites_save_LIBS=$LIBS
  CPPFLAGS="$CPPFLAGS $BDB_CPPFLAGS"
  LDFLAGS="$LDFLAGS $BDB_LDFLAGS"
  AC_CHECK_HEADER([db.h], [],
    [AC_MSG_ERROR([db.h not found: install libdb5.3-dev or use --with-bdb=DIR])])
  AC_MSG_CHECKING([whether db.h is Berkeley DB 5.3 or newer])
  AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[#include <db.h>
#if DB_VERSION_MAJOR < 5 || (DB_VERSION_MAJOR == 5 && DB_VERSION_MINOR < 3)
#error Berkeley DB too old
#endif
]], [[]])],
    [AC_MSG_RESULT([yes])],
    [AC_MSG_RESULT([no])
     AC_MSG_ERROR([Berkeley DB 5.3 or newer is required])])
  LIBS=
  AC_SEARCH_LIBS([db_create], [db db-5.3], [],
    [AC_MSG_ERROR([libdb not found: install libdb5.3-dev])])
  BDB_LIBS=$LIBS
  CPPFLAGS=$invites_save_CPPFLAGS
  LDFLAGS=$invites_save_LDFLAGS
  LIBS=$invites_save_LIBS
  AC_SUBST([BDB_CPPFLAGS])
  AC_SUBST([BDB_LDFLAGS])
  AC_SUBST([BDB_LIBS])
])
