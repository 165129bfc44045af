#!/usr/bin/env bash
# Make a PostgreSQL server available on loopback for the warehouse tests, and print its DSN.
#
#   eval "$(.ci/postgres.sh)"    # exports NP6_TEST_POSTGRES=postgresql://np6:np6@127.0.0.1:54329/np6
#
# - NP6_TEST_POSTGRES already set and reachable: nothing to do, print it back.
# - No PostgreSQL binaries: install the Debian package `postgresql` (root: apt-get).
# - Otherwise initdb a private cluster in $NP6_PG_DIR (default /tmp/np6-postgres), listening on
#   127.0.0.1:$NP6_PG_PORT (default 54329) only, start it (idempotent: a running one is reused),
#   and create the role and database `np6` (password `np6`). The system cluster is untouched.
#   When this run started the server, it also prints `export NP6_PG_STARTED=<dir>`: whoever
#   evaluates it stops that server when done, with `.ci/postgres.sh stop` (make test does).
# Everything but the final `export` line goes to stderr, so `eval` sees only the DSN.
set -euo pipefail

PG_DIR="${NP6_PG_DIR:-/tmp/np6-postgres}"
PG_PORT="${NP6_PG_PORT:-54329}"
DSN="postgresql://np6:np6@127.0.0.1:${PG_PORT}/np6"

say() { echo "postgres.sh: $*" >&2; }
STARTED=""

reachable() {  # $1: DSN
    command -v psql >/dev/null && psql "$1" -Atqc 'select 1' >/dev/null 2>&1
}

pg_bin() {  # newest installed server's bin directory
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1
}

if [[ "${1:-}" == stop ]]; then  # stop the private cluster in $NP6_PG_DIR (if running), before the
    # check below: the caller that started it has NP6_TEST_POSTGRES set to it
    [[ "$(id -u)" == 0 ]] && run() { runuser -u postgres -- "$@"; } || run() { "$@"; }
    if run "$(pg_bin)/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1; then
        run "$(pg_bin)/pg_ctl" -D "$PG_DIR" -m fast -w stop >/dev/null && say "stopped $PG_DIR"
    fi
    exit 0
fi

if [[ -n "${NP6_TEST_POSTGRES:-}" ]] && reachable "$NP6_TEST_POSTGRES"; then
    say "using the running server of NP6_TEST_POSTGRES"
    echo "export NP6_TEST_POSTGRES='${NP6_TEST_POSTGRES}'"
    exit 0
fi

if [[ -z "$(pg_bin)" || ! -x "$(pg_bin)/initdb" ]]; then
    if [[ "$(id -u)" != 0 ]]; then
        say "PostgreSQL is not installed; run as root, or: sudo apt-get install -y postgresql"
        exit 1
    fi
    say "installing PostgreSQL (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql postgresql-client >&2
fi
BIN="$(pg_bin)"

# initdb and postgres refuse to run as root: use the `postgres` account the package creates.
if [[ "$(id -u)" == 0 ]]; then
    OWNER=postgres
    as_owner() { runuser -u postgres -- "$@"; }
else
    OWNER="$(id -un)"
    as_owner() { "$@"; }
fi

if [[ ! -f "$PG_DIR/PG_VERSION" ]]; then
    say "initdb $PG_DIR"
    mkdir -p "$PG_DIR"
    chown "$OWNER" "$PG_DIR"
    chmod 700 "$PG_DIR"
    as_owner "$BIN/initdb" -D "$PG_DIR" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi

if ! as_owner "$BIN/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1; then
    say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_owner "$BIN/pg_ctl" -D "$PG_DIR" -l "$PG_DIR/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off" >/dev/null
    STARTED="$PG_DIR"
fi

ADMIN="postgresql://postgres@127.0.0.1:${PG_PORT}/postgres"
if ! psql "$ADMIN" -Atqc "select 1 from pg_roles where rolname = 'np6'" | grep -q 1; then
    psql "$ADMIN" -qc "create role np6 login password 'np6' createdb" >&2
fi
if ! psql "$ADMIN" -Atqc "select 1 from pg_database where datname = 'np6'" | grep -q 1; then
    psql "$ADMIN" -qc "create database np6 owner np6" >&2
fi
reachable "$DSN" || { say "server started but $DSN does not answer; see $PG_DIR/server.log"; exit 1; }
say "ready: $DSN"
echo "export NP6_TEST_POSTGRES='${DSN}'"
[[ -z "$STARTED" ]] || echo "export NP6_PG_STARTED='${STARTED}'"
