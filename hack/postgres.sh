#!/usr/bin/env bash
# A private PostgreSQL 15 for tests, benchmarks and `make dev STORE=postgres`:
# Debian's package (installed when missing), a cluster in a fresh temporary
# folder, run as an unprivileged user (postgres, else nobody, or the caller
# when that is not root), reachable on a Unix socket in that folder or, with
# --listen, on one address and a free port. Nothing else on the machine is
# touched: no system cluster is created or started, no service is enabled.
#
#   hack/postgres.sh start [--listen ADDR] [--port N]
#       Prints the URL of database "mcp", owned by role "mcp" (which may
#       create databases, as the tests do), on stdout; the folder on stderr.
#       Over TCP the role has a random password (in the URL) and
#       scram-sha-256 is required; on the socket the folder's permissions
#       keep others out.
#   hack/postgres.sh dir URL
#       Prints the folder of the server a URL of this script names.
#   hack/postgres.sh stop DIR|URL
#       Stops that server by its PID (fast shutdown, then SIGKILL after 30 s)
#       and removes its folder.
#   hack/postgres.sh run [--listen ADDR] [--port N] -- COMMAND...
#       start, then COMMAND with MCP_TEST_POSTGRES_URL set to the URL, then
#       stop, also when COMMAND fails or the script is interrupted; exits
#       with COMMAND's status.
#
# Durability settings are PostgreSQL's defaults (fsync on, synchronous_commit
# on, full_page_writes on), so benchmarks measure what production gets.
set -euo pipefail

pgbin="${PGBIN:-/usr/lib/postgresql/15/bin}"
log() { echo "postgres.sh: $*" >&2; }

# install puts Debian's postgresql-15 on the machine when it is missing,
# without creating or starting the package's default cluster.
install() {
  [ -x "$pgbin/postgres" ] && return 0
  [ "$(id -u)" -eq 0 ] || { log "$pgbin/postgres is missing and only root can install postgresql-15"; exit 1; }
  log "installing Debian's postgresql-15 (no default cluster is created)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-common >/dev/null
  local dropin=/etc/postgresql-common/createcluster.d/00-mcp-session-operator-no-main.conf
  mkdir -p "$(dirname "$dropin")"
  echo "create_main_cluster = false" >"$dropin"
  local status=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null || status=$?
  rm -f "$dropin"
  [ "$status" -eq 0 ] || { log "apt-get install postgresql-15 failed"; exit "$status"; }
}

# runas runs a command as the cluster's user.
runas() {
  if [ "$user" = "$(id -un)" ]; then
    "$@"
  else
    runuser -u "$user" -- "$@"
  fi
}

# free_port prints a TCP port nothing listens on, from 54320 up.
free_port() {
  local p
  for p in $(seq 54320 54420); do
    if [ -z "$(ss -Htln "sport = :$p")" ]; then
      echo "$p"
      return 0
    fi
  done
  log "no free port in 54320-54420"
  return 1
}

# stop_dir stops the server of folder $1 by its PID and removes the folder.
stop_dir() {
  local dir="$1" pid=""
  [ -d "$dir" ] || { log "$dir does not exist"; return 1; }
  [ -f "$dir/cluster" ] || { log "$dir is not a folder this script made"; return 1; }
  if [ -f "$dir/data/postmaster.pid" ]; then
    pid="$(head -n1 "$dir/data/postmaster.pid")"
  fi
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid" 2>/dev/null || true   # fast shutdown: clients are cut off
    for _ in $(seq 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "server $pid did not stop within 30 s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      # Its backends exit once the postmaster is gone.
      for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
  fi
  rm -rf "$dir"
}

start() {
  local listen="" port=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --listen) listen="$2"; shift 2 ;;
      --port) port="$2"; shift 2 ;;
      *) log "unknown argument $1"; exit 2 ;;
    esac
  done
  install
  if [ "$(id -u)" -ne 0 ]; then
    user="$(id -un)"
  elif id postgres >/dev/null 2>&1; then
    user=postgres
  else
    user=nobody
  fi
  local dir
  dir="$(mktemp -d "${TMPDIR:-/tmp}/mcp-postgres.XXXXXX")"
  # From here on a failure removes what was made.
  trap 'status=$?; if [ "$status" -ne 0 ]; then stop_dir "$dir" >/dev/null 2>&1 || rm -rf "$dir"; fi' EXIT
  echo "$user" >"$dir/cluster"
  mkdir -p "$dir/data" "$dir/sock"
  chown -R "$user" "$dir"
  chmod 0700 "$dir" "$dir/sock"

  local password="" hba_host=""
  if [ -n "$listen" ]; then
    [ -n "$port" ] || port="$(free_port)"
    password="$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
    hba_host="host all mcp 0.0.0.0/0 scram-sha-256
host all mcp ::/0 scram-sha-256"
  else
    port="${port:-5432}"
  fi
  runas "$pgbin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=reject \
    --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  cat >"$dir/data/pg_hba.conf" <<EOF
local all all trust
$hba_host
EOF
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '${listen}'
port = ${port}
unix_socket_directories = '$dir/sock'
max_connections = 300
password_encryption = scram-sha-256
fsync = on
synchronous_commit = on
full_page_writes = on
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  runas "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null \
    || { cat "$dir/postgres.log" >&2; exit 1; }
  local psql=(runas "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$port" -U postgres -d postgres)
  if [ -n "$password" ]; then
    "${psql[@]}" -c "CREATE ROLE mcp LOGIN CREATEDB PASSWORD '$password'"
  else
    "${psql[@]}" -c "CREATE ROLE mcp LOGIN CREATEDB"
  fi
  # Tests drop their databases WITH (FORCE); PostgreSQL 15 lets a role end
  # an autovacuum worker there only through pg_signal_backend (the worker
  # belongs to no role), and autovacuum often works on a database a
  # benchmark has just filled.
  "${psql[@]}" -c "GRANT pg_signal_backend TO mcp"
  "${psql[@]}" -c "CREATE DATABASE mcp OWNER mcp"
  trap - EXIT
  log "PostgreSQL 15 (pid $(head -n1 "$dir/data/postmaster.pid"), user $user) in $dir; stop it with: hack/postgres.sh stop $dir"
  if [ -n "$listen" ]; then
    local host="$listen"
    [[ "$host" == *:* ]] && host="[$host]"
    echo "postgres://mcp:${password}@${host}:${port}/mcp?sslmode=disable"
  else
    echo "postgres://mcp@/mcp?host=${dir}/sock&port=${port}&sslmode=disable"
  fi
}

# dir_of finds the folder of a URL this script printed (or takes a folder).
dir_of() {
  local arg="$1"
  if [ -d "$arg" ]; then
    echo "$arg"
    return
  fi
  if [[ "$arg" =~ host=([^&]+)/sock ]]; then
    echo "${BASH_REMATCH[1]}"
    return
  fi
  # A TCP URL: the server listening on its port is ours if its folder is.
  local port
  port="$(sed -E 's#.*:([0-9]+)/.*#\1#' <<<"$arg")"
  local d
  for d in "${TMPDIR:-/tmp}"/mcp-postgres.*; do
    if [ -f "$d/data/postgresql.conf" ] && grep -qx "port = $port" "$d/data/postgresql.conf"; then
      echo "$d"
      return
    fi
  done
  log "no folder of this script serves $arg"
  return 1
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  start)
    start "$@"
    ;;
  dir)
    [ $# -eq 1 ] || { log "usage: $0 dir URL"; exit 2; }
    dir_of "$1"
    ;;
  stop)
    [ $# -eq 1 ] || { log "usage: $0 stop DIR|URL"; exit 2; }
    stop_dir "$(dir_of "$1")"
    ;;
  run)
    args=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
    [ "${1:-}" = "--" ] && shift
    [ $# -gt 0 ] || { log "usage: $0 run [--listen ADDR] [--port N] -- COMMAND..."; exit 2; }
    url="$(start "${args[@]}")"
    dir="$(dir_of "$url")"
    trap 'stop_dir "$dir"' EXIT
    # COMMAND runs in the background so that a signal to this script is
    # handled at once: passed on to COMMAND, then the server is stopped.
    MCP_TEST_POSTGRES_URL="$url" "$@" &
    child=$!
    trap 'kill -INT "$child" 2>/dev/null; wait "$child"; exit 130' INT
    trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 143' TERM
    status=0
    wait "$child" || status=$?
    exit "$status"
    ;;
  *)
    echo "usage: $0 start [--listen ADDR] [--port N] | dir URL | stop DIR|URL | run [--listen ADDR] [--port N] -- COMMAND..." >&2
    exit 2
    ;;
esac
