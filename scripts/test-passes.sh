#!/usr/bin/env bash
# `make test`: the SQLite pass (every test) and the PostgreSQL pass (the tests marked uses_db)
# run at the same time, each in its own pytest process with its own temporary folder. Much of
# either pass waits on spawned servers, browsers and databases rather than computing, so on two
# cores the pair takes far less than one after the other (the README gives the figures).
# The SQLite pass prints as it goes; the PostgreSQL pass's output follows it. Fails when either
# pass fails. Needs scripts/test-deps.sh sourced first (the PostgreSQL cluster, npm tools).
#   SWITCHBOARD_TEST_SERIAL=1  runs the passes one after the other instead.
set -u
py="${PY:-.venv/bin/python}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/sb-test-passes.XXXXXX")"
pg_log="$tmp/postgres.log"
sqlite_pass=("$py" -m pytest -q --durations=15 -p no:cacheprovider --basetemp="$tmp/sqlite" tests)
pg_pass=(env SWITCHBOARD_TEST_BACKEND=postgres "$py" -m pytest -q --durations=15 -p no:cacheprovider
  --basetemp="$tmp/postgres" -m uses_db tests)

start=$SECONDS
if [ "${SWITCHBOARD_TEST_SERIAL:-}" = "1" ]; then
  echo "== SQLite pass"
  "${sqlite_pass[@]}"; sqlite_rc=$?
  echo "== PostgreSQL pass"
  "${pg_pass[@]}"; pg_rc=$?
else
  "${pg_pass[@]}" >"$pg_log" 2>&1 &
  pg_pid=$!
  trap 'kill "$pg_pid" 2>/dev/null' INT TERM
  echo "== SQLite pass (the PostgreSQL pass runs alongside; its output follows)"
  "${sqlite_pass[@]}"; sqlite_rc=$?
  wait "$pg_pid"; pg_rc=$?
  echo "== PostgreSQL pass"
  cat "$pg_log"
fi
echo "== SQLite pass: exit $sqlite_rc · PostgreSQL pass: exit $pg_rc · $((SECONDS - start)) s in all"
rm -rf "$tmp"
[ "$sqlite_rc" -eq 0 ] && [ "$pg_rc" -eq 0 ]
