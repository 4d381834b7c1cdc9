// src/vitess: libmariadb's client headers, for every source that talks to MySQL/MariaDB (the
// connector's MySQL session, the emulator's MariaDB backend and MySQL front, their tests).
// mysql.h defines the column flags (NOT_NULL_FLAG, PRI_KEY_FLAG, …) as macros, and Vitess's
// query.pb.h declares enumerators with the same names, which stop parsing once the macros exist.
// Each source used to get the order right on its own; a unity build (meson -Dunity=on, which
// scripts/test uses) joins several sources into one unit, so the protos come first here.
#pragma once

#include "query.pb.h"

#include <mariadb/errmsg.h>
#include <mariadb/mysql.h>
#include <mariadb/mysqld_error.h>
