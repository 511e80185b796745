# shellcheck shell=bash
# PostgreSQL: Debian's server binaries, but a cluster of our own (own data
# dir, own port, own socket dir) — the system cluster/service is not used.
#
# The server refuses to run as root, so as root the cluster runs as the
# `postgres` OS user (runuser). That user must be able to reach the data
# dir; we never loosen permissions on directories we do not own, so if it
# cannot reach .stack/postgres, a fallback location is used (pg_select_root).

# Keyed by checkout, and by stack dir when it is not the default one: a second stack of the same checkout
# (AA_STACK_DIR=.stack-chaos, bench/chaos/) must not share a fallback cluster location with the first.
if [[ $AA_STACK_DIR == "$AA_REPO_ROOT/.stack" ]]; then
  PG_HASH=$(printf '%s' "$AA_REPO_ROOT" | sha256sum | cut -c1-12)
else
  PG_HASH=$(printf '%s' "$AA_STACK_DIR" | sha256sum | cut -c1-12)
fi

if ((EUID == 0)); then
  PG_OS_USER=postgres
  PG_AS=(runuser -u postgres --)
else
  PG_OS_USER=$(id -un)   # non-root developer: run the cluster as ourselves
  PG_AS=()
fi
PG_SUPERUSER=$PG_OS_USER  # peer auth over the unix socket maps OS user = db user

pg_candidate_roots() {
  if [[ -n $AA_PG_ROOT ]]; then echo "$AA_PG_ROOT"; return; fi
  echo "$AA_STACK_DIR/postgres"
  echo "$AA_CACHE_DIR/pgdata/$PG_HASH"
  local home
  home=$(getent passwd "$PG_OS_USER" | cut -d: -f6 || true)
  [[ -n $home ]] && echo "$home/approval-archive/$PG_HASH"
  return 0
}

# Can the server's OS user search (traverse) DIR and everything above it?
pg_can_reach() {
  ((${#PG_AS[@]})) || return 0
  "${PG_AS[@]}" test -x "$1" -a -r "$1" 2>/dev/null
}

# Sets PG_ROOT and the paths under it. CREATE=1 (up) creates candidates until
# one is reachable; otherwise (down/status) picks the one holding a cluster.
pg_select_root() {
  local create=${1:-0} c first=""
  PG_ROOT=""
  while IFS= read -r c; do
    [[ -z $first ]] && first=$c
    if ((create)); then
      mkdir -p "$c" 2>/dev/null || continue
      [[ $c == "$AA_STACK_DIR/postgres" ]] && chmod 755 "$c"   # our own dir
      if pg_can_reach "$c"; then PG_ROOT=$c; break; fi
      rmdir "$c" 2>/dev/null || true   # do not leave empty candidates behind
    elif [[ -f $c/data/PG_VERSION ]]; then
      PG_ROOT=$c; break
    fi
  done < <(pg_candidate_roots)
  [[ -z $PG_ROOT ]] && { ((create)) && return 1; PG_ROOT=$first; }
  PG_DATA="$PG_ROOT/data"
  PG_SOCK="$PG_ROOT/run"
  # Unix socket paths are limited to ~107 bytes.
  ((${#PG_SOCK} > 80)) && PG_SOCK=/tmp
  if [[ $PG_ROOT == "$AA_STACK_DIR/postgres" ]]; then
    PG_LOG="$AA_LOGS/postgres.log"
  else
    PG_LOG="$PG_ROOT/postgres.log"
  fi
  return 0
}

pg_bindir() {
  local v d
  # An existing cluster must be run by its own major version.
  if [[ -f $PG_DATA/PG_VERSION ]]; then
    v=$(cat "$PG_DATA/PG_VERSION")
    if [[ -x /usr/lib/postgresql/$v/bin/postgres ]]; then echo "/usr/lib/postgresql/$v/bin"; fi
    return 0
  fi
  # Newest installed major version.
  while IFS= read -r d; do
    [[ -x $d/initdb ]] && { echo "$d"; return 0; }
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
  return 0
}

# Packages apt must provide, one "PACKAGE REASON" line each (see apt_install_needs).
pg_apt_needs() {
  pg_select_root 0
  local bindir v
  bindir=$(pg_bindir)
  if [[ -z $bindir ]]; then
    echo "postgresql no PostgreSQL server (initdb under /usr/lib/postgresql) found: the index database"
    echo "postgresql-contrib the pg_trgm extension the index's migrations create"
    return 0
  fi
  v=$(basename "$(dirname "$bindir")")
  # pg_trgm ships in the server package on Debian; postgresql-contrib is the
  # documented way to make sure it is there.
  [[ -f /usr/share/postgresql/$v/extension/pg_trgm.control ]] ||
    echo "postgresql-contrib PostgreSQL $v lacks the pg_trgm extension the index's migrations create"
  [[ -x $bindir/pg_isready ]] || echo "postgresql-client-$v no pg_isready for PostgreSQL $v: the health check"
  return 0
}

pg_pid() {
  local pid
  [[ -f $PG_DATA/postmaster.pid ]] || return 0
  pid=$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)
  if pid_is "$pid" "$PG_DATA"; then printf '%s' "$pid"; fi
}

pg_ready() {
  local bindir=${1:-$(pg_bindir)}
  "$bindir/pg_isready" -q -h "$AA_BIND_HOST" -p "$AA_PG_PORT" -t 3 >/dev/null 2>&1
}

# psql as the cluster superuser over the unix socket (peer auth).
pg_psql() {
  (cd / && "${PG_AS[@]}" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
      -h "$PG_SOCK" -p "$AA_PG_PORT" -U "$PG_SUPERUSER" "$@")
}

pg_init() {
  if [[ -f $PG_DATA/PG_VERSION && -f $PG_DATA/postgresql.conf ]]; then return 0; fi
  # Anything else in there is a half-finished initdb: start over.
  rm -rf "$PG_DATA"
  mkdir -p "$PG_DATA"
  chown "$PG_OS_USER:" "$PG_DATA"
  chmod 700 "$PG_DATA"
  local locale=C.UTF-8
  # C.UTF-8 keeps pg_trgm aware of non-ASCII letters; fall back to C.
  grep -qix 'c.utf-\?8' < <(locale -a 2>/dev/null) || locale=C  # not a pipe: see kafka_wait
  say "postgres: initdb in $(rel "$PG_DATA")"
  (cd / && "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DATA" --username="$PG_SUPERUSER" \
      --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale="$locale") \
      >"$AA_LOGS/postgres-initdb.log" 2>&1 ||
    { log_tail "$AA_LOGS/postgres-initdb.log"; fail postgres "initdb failed" "$AA_LOGS/postgres-initdb.log"; return 1; }
  echo "include_if_exists = 'approval-archive.conf'" >>"$PG_DATA/postgresql.conf"
}

pg_configure() {
  mkdir -p "$PG_SOCK"
  [[ $PG_SOCK == /tmp ]] || { chown "$PG_OS_USER:" "$PG_SOCK"; chmod 755 "$PG_SOCK"; }
  # Rewritten on every `up`; included from postgresql.conf.
  cat >"$PG_DATA/approval-archive.conf" <<EOF
# Generated by deploy/local/lib/postgres.sh — edit stack.env instead.
listen_addresses = '$AA_BIND_HOST'
port = $AA_PG_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = 200
# On, as an archive runs it: with it off a killed server loses its last commits although their effects were
# announced (the fault-injection harness found an archived event whose index row was gone after a kill).
synchronous_commit = $AA_PG_SYNCHRONOUS_COMMIT
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  chown "$PG_OS_USER:" "$PG_DATA/approval-archive.conf"
  touch "$PG_LOG"
  chown "$PG_OS_USER:" "$PG_LOG"
  [[ $PG_LOG == "$AA_LOGS/postgres.log" ]] || ln -sfn "$PG_LOG" "$AA_LOGS/postgres.log"
}

# Role, databases and pg_trgm; idempotent, cheap, run on every `up` so the
# credentials always match stack.env.
pg_bootstrap() {
  local out
  out=$(pg_psql -d postgres -v role="$AA_PG_USER" -v pw="$AA_PG_PASSWORD" \
        -v db="$AA_PG_DB" -v testdb="$AA_PG_TEST_DB" 2>&1 <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', d, :'role')
  FROM unnest(ARRAY[:'db', :'testdb']) AS d
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d) \gexec
SQL
  ) || { fail postgres "creating role/databases failed: $out" "$PG_LOG"; return 1; }
  local db
  for db in "$AA_PG_DB" "$AA_PG_TEST_DB"; do
    out=$(pg_psql -d "$db" -c 'CREATE EXTENSION IF NOT EXISTS pg_trgm' 2>&1) ||
      { fail postgres "CREATE EXTENSION pg_trgm in $db failed: $out" "$PG_LOG"; return 1; }
  done
}

pg_up() {
  local pid start out
  start=$(now)
  pg_select_root 1 ||
    { fail postgres "no data dir location reachable by OS user $PG_OS_USER (tried: $(pg_candidate_roots | tr '\n' ' ')); set AA_PG_ROOT"; return 1; }
  [[ $PG_ROOT == "$AA_STACK_DIR/postgres" ]] ||
    say "postgres: $(rel "$AA_STACK_DIR") is not reachable by OS user $PG_OS_USER; cluster lives in $PG_ROOT"
  PG_BIN=$(pg_bindir)
  if [[ -z $PG_BIN ]]; then
    if [[ -f $PG_DATA/PG_VERSION ]]; then
      fail postgres "cluster in $PG_DATA is PostgreSQL $(cat "$PG_DATA/PG_VERSION") but that version is not installed (reset: stack.sh reset)"
    else
      fail postgres "no /usr/lib/postgresql/*/bin/initdb (apt install postgresql failed?)" "$AA_LOGS/apt.log"
    fi
    return 1
  fi
  pid=$(pg_pid)
  if [[ -n $pid ]]; then
    if pg_ready "$PG_BIN"; then
      pg_bootstrap || return 1
      say "postgres: already running on $AA_BIND_HOST:$AA_PG_PORT (pid $pid)"
      return 0
    fi
  elif port_open "$AA_BIND_HOST" "$AA_PG_PORT"; then
    fail postgres "port $AA_PG_PORT is already used by another process (not started by this stack; set AA_PG_PORT)"
    return 1
  fi
  pg_init || return 1
  pg_configure || return 1
  if [[ -z $pid ]]; then
    say "postgres: starting…"
    # setsid: the postmaster must outlive this script's session; -w waits
    # until it accepts connections.
    if ! out=$(cd / && setsid -w "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" \
               -w -t "$AA_PG_START_TIMEOUT" start 2>&1 </dev/null 8>&- 9>&-); then
      log_tail "$PG_LOG"
      fail postgres "pg_ctl start failed or did not answer on $AA_BIND_HOST:$AA_PG_PORT within ${AA_PG_START_TIMEOUT}s ($(tail -n1 <<<"$out"))" "$PG_LOG"
      return 1
    fi
  fi
  local deadline=$(($(now) + AA_PG_START_TIMEOUT))
  until pg_ready "$PG_BIN"; do
    if (($(now) >= deadline)); then
      fail postgres "did not answer on $AA_BIND_HOST:$AA_PG_PORT within ${AA_PG_START_TIMEOUT}s" "$PG_LOG"
      return 1
    fi
    sleep 0.5
  done
  pg_bootstrap || return 1
  say "postgres: started on $AA_BIND_HOST:$AA_PG_PORT (pid $(pg_pid), $(($(now) - start))s)"
}

pg_down() {
  local pid pids bindir
  pg_select_root 0
  bindir=$(pg_bindir)
  pid=$(pg_pid)
  if [[ -n $pid && -n $bindir ]]; then
    # Fast shutdown: roll back open transactions, checkpoint, exit.
    (cd / && "${PG_AS[@]}" "$bindir/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop) >/dev/null 2>&1 || true
  fi
  # pg_ctl failed, or no pid file: SIGINT (= fast shutdown) the postmaster.
  mapfile -t pids < <(pids_matching "$PG_DATA")
  ((${#pids[@]})) && stop_pids postgres INT 30 "${pids[@]}"
  if [[ -n $pid || ${#pids[@]} -gt 0 ]]; then say "postgres: stopped"; else say "postgres: not running"; fi
}

pg_status() {
  local pid state bindir
  pg_select_root 0
  bindir=$(pg_bindir)
  pid=$(pg_pid)
  [[ -n $pid ]] || pid=$(first_pid_matching "$PG_DATA")
  if [[ -z $pid ]]; then state=stopped
  elif [[ -n $bindir ]] && pg_ready "$bindir"; then state=running
  else state=starting/unhealthy
  fi
  printf '%-9s %-18s %-24s %s\n' postgres "$state" "$AA_BIND_HOST:$AA_PG_PORT" \
    "${pid:+pid $pid, }data $(rel "$PG_DATA"), log $(rel "$PG_LOG")"
  [[ $state == running ]]
}
