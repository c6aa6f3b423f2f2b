#!/usr/bin/env bash
# A production Temporal server on this machine: go.temporal.io/server built from source, PostgreSQL
# for history and visibility, mTLS on the frontend. README "Production Temporal (PostgreSQL + mTLS)".
#
#   scripts/prod-temporal.sh build     temporal-server + temporal-sql-tool into tools/bin (Go build cache: quick after the first time)
#   scripts/prod-temporal.sh certs     a CA, a server cert (localhost, 127.0.0.1, $PROD_TEMPORAL_SERVER_SANS) and a client cert
#   scripts/prod-temporal.sh init-db   a PostgreSQL cluster (initdb), started, with Temporal's schema set up by temporal-sql-tool
#   scripts/prod-temporal.sh start     PostgreSQL (if local) and the Temporal server, in the background; waits until it answers
#   scripts/prod-temporal.sh stop      the Temporal server, then PostgreSQL (if local)
#   scripts/prod-temporal.sh status    what runs
#   scripts/prod-temporal.sh env       the RINGRIFT_* exports for the ringrift CLI and workers: eval "$(scripts/prod-temporal.sh env)"
#
# Everything lives in $PROD_TEMPORAL_DIR (default state/prod-temporal): certs/, pgdata/, logs/, pid files.
# Ports: PROD_TEMPORAL_PORT (frontend gRPC, 7233), PROD_TEMPORAL_PG_PORT (5432) and the others read by
# config/temporal-server/postgres12-tls.yaml. An existing PostgreSQL: set PROD_TEMPORAL_PG_HOST (and
# _PG_PORT, _PG_USER, _PG_PASSWORD); init-db then only sets up the schema there. PROD_TEMPORAL_STOP_WITH_PID:
# `start` also stops everything once that process has ended (tests).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SERVER_VERSION="${TEMPORAL_SERVER_VERSION:-1.29.1}"
BIN_DIR="$ROOT/tools/bin"
SERVER_BIN="$BIN_DIR/temporal-server"
SQL_TOOL="$BIN_DIR/temporal-sql-tool"

DIR="${PROD_TEMPORAL_DIR:-$ROOT/state/prod-temporal}"
case "$DIR" in /*) ;; *) DIR="$ROOT/$DIR" ;; esac
export PROD_TEMPORAL_CERTS="$DIR/certs"
export PROD_TEMPORAL_CONFIG_DIR="$ROOT/config/temporal-server"
export PROD_TEMPORAL_PORT="${PROD_TEMPORAL_PORT:-7233}"
LOCAL_PG=1
[ -n "${PROD_TEMPORAL_PG_HOST:-}" ] && LOCAL_PG=0
PG_HOST="${PROD_TEMPORAL_PG_HOST:-127.0.0.1}" # not exported: its absence means the local cluster
export PROD_TEMPORAL_PG_PORT="${PROD_TEMPORAL_PG_PORT:-5432}"
export PROD_TEMPORAL_PG_USER="${PROD_TEMPORAL_PG_USER:-temporal}"
PGDATA="$DIR/pgdata"
PW_FILE="$DIR/pg-password"
LOG_DIR="$DIR/logs"
PID_FILE="$DIR/temporal-server.pid"
START_TIMEOUT="${PROD_TEMPORAL_START_TIMEOUT:-90}"

die() { echo "prod-temporal: $*" >&2; exit 1; }
pg_bin() { # PostgreSQL server programs: PATH first (e.g. /usr/local/bin), then Debian's layout
  local p
  p="$(command -v "$1" 2>/dev/null || true)"
  [ -z "$p" ] && p="$(ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -1)"
  [ -n "$p" ] || die "$1 not found: install PostgreSQL >= 12 (Debian: apt-get install postgresql) or set PROD_TEMPORAL_PG_HOST to an existing server"
  echo "$p"
}
# PostgreSQL refuses to run as root: there, its programs run as PROD_TEMPORAL_PG_OS_USER (default postgres, else nobody).
pg_os_user() {
  if [ "$(id -u)" != 0 ]; then return; fi
  if [ -n "${PROD_TEMPORAL_PG_OS_USER:-}" ]; then echo "$PROD_TEMPORAL_PG_OS_USER"
  elif id postgres >/dev/null 2>&1; then echo postgres
  else echo nobody; fi
}
as_pg() { local u; u="$(pg_os_user)"; if [ -n "$u" ]; then runuser -u "$u" -- "$@"; else "$@"; fi; }
pg_password() {
  if [ -n "${PROD_TEMPORAL_PG_PASSWORD:-}" ]; then echo "$PROD_TEMPORAL_PG_PASSWORD"
  elif [ -f "$PW_FILE" ]; then cat "$PW_FILE"
  else die "no PostgreSQL password: run '$0 init-db' first or set PROD_TEMPORAL_PG_PASSWORD"; fi
}
server_version_ok() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -q "version $SERVER_VERSION\$"; }
temporal_tls_args() {
  echo --address "127.0.0.1:$PROD_TEMPORAL_PORT" --tls-cert-path "$PROD_TEMPORAL_CERTS/client.pem" \
    --tls-key-path "$PROD_TEMPORAL_CERTS/client.key" --tls-ca-path "$PROD_TEMPORAL_CERTS/ca.pem" --tls-server-name localhost
}
server_running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null && grep -qa temporal-server "/proc/$(cat "$PID_FILE")/cmdline" 2>/dev/null; }
pg_running() { [ -f "$PGDATA/postmaster.pid" ] && as_pg "$(pg_bin pg_ctl)" status -D "$PGDATA" >/dev/null 2>&1; }

cmd_build() {
  if server_version_ok "$SERVER_BIN" && server_version_ok "$SQL_TOOL"; then
    echo "temporal-server and temporal-sql-tool $SERVER_VERSION already built in $BIN_DIR"
    return
  fi
  command -v go >/dev/null 2>&1 || die "Go is not installed: install Go >= 1.25 and re-run '$0 build'"
  local start
  BUILD_OUT="$(mktemp -d)"
  trap 'rm -rf "$BUILD_OUT"' EXIT
  start=$(date +%s)
  echo "building go.temporal.io/server@v$SERVER_VERSION (server + SQL tool; the first build takes minutes, later ones seconds)..."
  # GOTOOLCHAIN=local: never download another Go; the module and build caches are Go's own, shared with the CLI build.
  GOTOOLCHAIN=local GOFLAGS=-buildvcs=false GOBIN="$BUILD_OUT" \
    go install "go.temporal.io/server/cmd/server@v$SERVER_VERSION" "go.temporal.io/server/cmd/tools/sql@v$SERVER_VERSION"
  mkdir -p "$BIN_DIR"
  mv -f "$BUILD_OUT/server" "$SERVER_BIN"
  mv -f "$BUILD_OUT/sql" "$SQL_TOOL"
  echo "built $SERVER_BIN and $SQL_TOOL in $(($(date +%s) - start))s"
}

cmd_certs() {
  local c="$PROD_TEMPORAL_CERTS"
  if [ -f "$c/ca.pem" ] && [ -f "$c/server.pem" ] && [ -f "$c/client.pem" ]; then
    echo "certificates already in $c (delete the folder to make new ones)"
    return
  fi
  command -v openssl >/dev/null 2>&1 || die "openssl not found: install it (Debian: apt-get install openssl)"
  mkdir -p "$c"
  chmod 700 "$c"
  local key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${key[@]}" -keyout "$c/ca.key" -out "$c/ca.pem" -days 3650 -subj "/CN=ringrift Temporal CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  # leaf <name> <CN> <extensions>
  leaf() {
    openssl req "${key[@]}" -keyout "$c/$1.key" -out "$c/$1.csr" -subj "/CN=$2" 2>/dev/null
    printf '%s\n' "$3" >"$c/$1.ext"
    openssl x509 -req -in "$c/$1.csr" -CA "$c/ca.pem" -CAkey "$c/ca.key" -CAcreateserial -days 825 \
      -extfile "$c/$1.ext" -out "$c/$1.pem" 2>/dev/null
    rm -f "$c/$1.csr" "$c/$1.ext"
  }
  local sans="DNS:localhost,IP:127.0.0.1${PROD_TEMPORAL_SERVER_SANS:+,$PROD_TEMPORAL_SERVER_SANS}"
  leaf server localhost "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$sans"
  leaf client ringrift-client "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  rm -f "$c/ca.srl"
  chmod 600 "$c"/*.key
  echo "certificates in $c: ca.pem, server.pem ($sans), client.pem (give ca.pem + client.* to each worker machine; ca.key stays here)"
}

pg_start() {
  [ "$LOCAL_PG" = 1 ] || return 0
  if pg_running; then return; fi
  [ -f "$PGDATA/PG_VERSION" ] || die "no PostgreSQL cluster in $PGDATA: run '$0 init-db' first"
  as_pg "$(pg_bin pg_ctl)" start -D "$PGDATA" -w -t 60 -l "$LOG_DIR/postgres.log" -o "-p $PROD_TEMPORAL_PG_PORT" >/dev/null ||
    die "PostgreSQL did not start (port $PROD_TEMPORAL_PG_PORT in use? see $LOG_DIR/postgres.log)"
  echo "PostgreSQL listening on 127.0.0.1:$PROD_TEMPORAL_PG_PORT (data $PGDATA)"
}

cmd_init_db() {
  server_version_ok "$SQL_TOOL" || die "temporal-sql-tool $SERVER_VERSION not built: run '$0 build' first"
  mkdir -p "$DIR" "$LOG_DIR"
  if [ "$LOCAL_PG" = 1 ]; then
    local u
    u="$(pg_os_user)"
    if [ -n "$u" ] && ! runuser -u "$u" -- test -x "$DIR"; then
      die "$DIR is not reachable by the user $u that runs PostgreSQL: make it and its parents searchable (chmod o+x) or set PROD_TEMPORAL_DIR"
    fi
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
      if [ -z "${PROD_TEMPORAL_PG_PASSWORD:-}" ] && [ ! -f "$PW_FILE" ]; then
        (umask 077 && openssl rand -hex 16 >"$PW_FILE")
      fi
      local pwtmp
      pwtmp="$(mktemp)"
      pg_password >"$pwtmp"
      mkdir -p "$PGDATA"
      chmod 700 "$PGDATA"
      if [ -n "$u" ]; then chown "$u" "$PGDATA" "$LOG_DIR" "$pwtmp"; fi
      as_pg "$(pg_bin initdb)" -D "$PGDATA" -U "$PROD_TEMPORAL_PG_USER" --pwfile="$pwtmp" --auth=scram-sha-256 \
        -E UTF8 --locale=C >"$LOG_DIR/initdb.log" 2>&1 || { rm -f "$pwtmp"; die "initdb failed: see $LOG_DIR/initdb.log"; }
      rm -f "$pwtmp"
      # TCP on loopback only, no Unix socket (its folder may not be writable here)
      printf "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\nmax_connections = 100\n" >>"$PGDATA/postgresql.conf"
      echo "PostgreSQL cluster created in $PGDATA (superuser $PROD_TEMPORAL_PG_USER, password in $PW_FILE)"
    fi
    pg_start
  fi
  local pw schema
  pw="$(pg_password)"
  schema="$(GOFLAGS= go env GOMODCACHE 2>/dev/null)/go.temporal.io/server@v$SERVER_VERSION/schema/postgresql/v12"
  [ -d "$schema" ] || die "schema files not found in $schema: run '$0 build' (it downloads the server module)"
  local db
  for db in temporal temporal_visibility; do
    local sub=temporal
    [ "$db" = temporal_visibility ] && sub=visibility
    local sql=("$SQL_TOOL" --plugin postgres12 --ep "$PG_HOST" -p "$PROD_TEMPORAL_PG_PORT"
      -u "$PROD_TEMPORAL_PG_USER" --pw "$pw" --db "$db")
    # create and setup-schema fail on a database that has them; update-schema then brings it to the latest version
    "${sql[@]}" create-database >>"$LOG_DIR/schema.log" 2>&1 || true
    "${sql[@]}" setup-schema -v 0.0 >>"$LOG_DIR/schema.log" 2>&1 || true
    "${sql[@]}" update-schema -d "$schema/$sub/versioned" >>"$LOG_DIR/schema.log" 2>&1 ||
      die "schema update of $db failed: see $LOG_DIR/schema.log"
  done
  echo "schema of temporal and temporal_visibility up to date ($schema)"
}

cmd_start() {
  server_version_ok "$SERVER_BIN" || die "temporal-server $SERVER_VERSION not built: run '$0 build' first"
  [ -f "$PROD_TEMPORAL_CERTS/server.pem" ] || die "no certificates in $PROD_TEMPORAL_CERTS: run '$0 certs' first"
  mkdir -p "$LOG_DIR"
  pg_start
  if server_running; then
    echo "Temporal server already running (pid $(cat "$PID_FILE"))"
    return
  fi
  PROD_TEMPORAL_PG_PASSWORD="$(pg_password)"
  export PROD_TEMPORAL_PG_PASSWORD
  # setsid: the server outlives this shell and its terminal; stop sends SIGTERM to it
  setsid "$SERVER_BIN" --root "$ROOT" --config config/temporal-server --env postgres12-tls --allow-no-auth start \
    >>"$LOG_DIR/temporal-server.log" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  if [ -n "${PROD_TEMPORAL_STOP_WITH_PID:-}" ]; then # tests: everything stops when that process ends, however it ends
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec bash "$2" stop' _ "$PROD_TEMPORAL_STOP_WITH_PID" "$0" \
      >/dev/null 2>&1 </dev/null &
  fi
  local deadline=$(($(date +%s) + START_TIMEOUT)) temporal="$BIN_DIR/temporal"
  [ -x "$temporal" ] || temporal="$(command -v temporal || true)"
  [ -n "$temporal" ] || die "the temporal CLI is needed to check the server: run 'npm run setup'"
  # shellcheck disable=SC2046
  until "$temporal" operator cluster health $(temporal_tls_args) >/dev/null 2>&1; do
    if ! server_running; then die "the Temporal server exited during start-up: see $LOG_DIR/temporal-server.log"; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then die "the Temporal server did not answer within ${START_TIMEOUT}s: see $LOG_DIR/temporal-server.log"; fi
    sleep 1
  done
  echo "Temporal server $SERVER_VERSION (pid $(cat "$PID_FILE")) answering with mTLS on 127.0.0.1:$PROD_TEMPORAL_PORT"
  echo "next: eval \"\$($0 env)\" && ./bin/ringrift cluster init"
}

cmd_stop() {
  if server_running; then
    local pid
    pid="$(cat "$PID_FILE")"
    kill -TERM "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    echo "Temporal server stopped"
  fi
  rm -f "$PID_FILE"
  if [ "$LOCAL_PG" = 1 ] && pg_running; then
    as_pg "$(pg_bin pg_ctl)" stop -D "$PGDATA" -m fast -w >/dev/null
    echo "PostgreSQL stopped"
  fi
}

cmd_status() {
  if server_running; then echo "Temporal server: running (pid $(cat "$PID_FILE")), 127.0.0.1:$PROD_TEMPORAL_PORT"; else echo "Temporal server: stopped"; fi
  if [ "$LOCAL_PG" = 1 ]; then
    if pg_running; then echo "PostgreSQL: running, 127.0.0.1:$PROD_TEMPORAL_PG_PORT"; else echo "PostgreSQL: stopped"; fi
  fi
}

cmd_env() {
  cat <<EOF
export RINGRIFT_TEMPORAL_ADDRESS=127.0.0.1:$PROD_TEMPORAL_PORT
export RINGRIFT_TLS=1
export RINGRIFT_TLS_CERT=$PROD_TEMPORAL_CERTS/client.pem
export RINGRIFT_TLS_KEY=$PROD_TEMPORAL_CERTS/client.key
export RINGRIFT_TLS_CA=$PROD_TEMPORAL_CERTS/ca.pem
export RINGRIFT_TLS_SERVER_NAME=localhost
EOF
}

case "${1:-}" in
  build) cmd_build ;;
  certs) cmd_certs ;;
  init-db) cmd_init_db ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) die "usage: $0 build|certs|init-db|start|stop|status|env" ;;
esac
