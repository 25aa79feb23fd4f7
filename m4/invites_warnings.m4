# INVITES_APPEND_CFLAG(VAR, FLAG): append FLAG to VAR when the compiler
# accepts it (with -Werror, so that unknown flags are not silently taken).
AC_DEFUN([INVITES_APPEND_CFLAG], [
  AS_VAR_PUSHDEF([invites_cv], [invites_cv_cflag_$2])
  AC_CACHE_CHECK([whether $CC accepts $2], [invites_cv], [
    invites_save_CFLAGS=$CFLAGS
    CFLAGS="$CFLAGS -Werror $2"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
      [AS_VAR_SET([invites_cv], [yes])], [AS_VAR_SET([invites_cv], [no])])
    CFLAGS=$invites_save_CFLAGS
  ])
  AS_VAR_IF([invites_cv], [yes], [$1="$$1 $2"])
  AS_VAR_POPDEF([invites_cv])
])
