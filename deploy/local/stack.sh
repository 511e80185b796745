#!/usr/bin/env bash
# Local dev/test stack for approval-archive, without Docker:
#   PostgreSQL, MinIO, ClamAV (clamd) and Kafka (KRaft), all on 127.0.0.1.
#
#   deploy/local/stack.sh up     [server…]  install what is missing, start what is not running, wait for health
#   deploy/local/stack.sh down   [server…]  stop servers (pid files, then a .stack path match as fallback)
#   deploy/local/stack.sh status [server…]  one line per server + disk usage; exit 3 if any is not running
#   deploy/local/stack.sh env               print `export AA_…` lines (eval "$(deploy/local/stack.sh env)")
#   deploy/local/stack.sh reset             down, then delete all runtime data (.stack/)
#
# servers: postgres minio minio-replica clamav kafka verapdf (default: all), toxiproxy (only when named: the TCP proxy of
# the fault-injection harness, bench/chaos/). Settings: stack.env.
# Safe to run non-interactively (CI=true, no stdin); never prompts.
set -euo pipefail

AA_LOCAL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AA_LIB_DIR="$AA_LOCAL_DIR/lib"
AA_REPO_ROOT=$(cd "$AA_LOCAL_DIR/../.." && pwd)
# shellcheck source=stack.env
source "$AA_LOCAL_DIR/stack.env"
# shellcheck source=lib/common.sh
source "$AA_LIB_DIR/common.sh"
# shellcheck source=lib/postgres.sh
source "$AA_LIB_DIR/postgres.sh"
# shellcheck source=lib/minio.sh
source "$AA_LIB_DIR/minio.sh"
# shellcheck source=lib/clamav.sh
source "$AA_LIB_DIR/clamav.sh"
# shellcheck source=lib/kafka.sh
source "$AA_LIB_DIR/kafka.sh"
# shellcheck source=lib/verapdf.sh
source "$AA_LIB_DIR/verapdf.sh"
# shellcheck source=lib/toxiproxy.sh
source "$AA_LIB_DIR/toxiproxy.sh"

ALL_SERVERS=(postgres minio minio-replica clamav kafka verapdf)   # start order; kafka is slowest
# Started only when named; first, because a broker advertised through the proxy needs it to answer.
KNOWN_SERVERS=(toxiproxy "${ALL_SERVERS[@]}")

# Server name -> function prefix.
prefix() { case $1 in postgres) echo pg ;; minio-replica) echo minio_replica ;; *) echo "$1" ;; esac; }

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

ensure_dirs() {
  mkdir -p "$AA_STACK_DIR" "$AA_LOGS" "$AA_RUN"
  # Ours: readable by the postgres OS user, which writes its log in logs/.
  chmod 755 "$AA_STACK_DIR" "$AA_LOGS"
  # Leave a note for whoever finds the folder.
  [[ -f $AA_STACK_DIR/README ]] ||
    echo "Runtime data of deploy/local/stack.sh (git-ignored). Reset: deploy/local/stack.sh reset" >"$AA_STACK_DIR/README"
}

# One stack.sh at a time per checkout (fd 9; servers are started with 9>&-
# so they do not keep the lock).
take_lock() {
  exec 9>"$AA_RUN/stack.lock"
  if ! flock -n 9; then
    say "stack: another stack.sh is running in this checkout, waiting for it…"
    flock -w 1200 9 || { fail stack "gave up waiting for $(rel "$AA_RUN/stack.lock")"; exit 1; }
  fi
}

parse_servers() {
  local s
  SERVERS=()
  (($#)) || { SERVERS=("${ALL_SERVERS[@]}"); return; }
  for s in "${KNOWN_SERVERS[@]}"; do   # keep the canonical order
    [[ " $* " == *" $s "* ]] && SERVERS+=("$s")
  done
  for s in "$@"; do
    [[ " ${KNOWN_SERVERS[*]} " == *" $s "* ]] || { warn "unknown server '$s' (known: ${KNOWN_SERVERS[*]})"; exit 2; }
  done
}

cmd_up() {
  local start s failed=()
  declare -A job
  start=$(now)
  parse_servers "$@"
  ensure_dirs
  take_lock

  # 1. System packages, all in one apt run (dpkg allows one installer at a
  #    time, so this cannot be done inside the parallel per-server jobs).
  #    Each server says which package it lacks and why; each is printed.
  apt_install_needs < <(for s in "${SERVERS[@]}"; do "$(prefix "$s")_apt_needs"; done; tools_apt_needs) || exit 1
  if [[ " ${APT_INSTALLED[*]} " == *" clamav-daemon "* ]]; then clamav_disable_system_services; fi

  # 2. Install (jars, MinIO build), start and health-check every server in
  #    parallel; each job prints its own progress and failure lines.
  for s in "${SERVERS[@]}"; do
    ("$(prefix "$s")_up") &
    job[$s]=$!
  done
  for s in "${SERVERS[@]}"; do
    wait "${job[$s]}" || failed+=("$s")
  done
  if ((${#failed[@]})); then
    warn "stack: FAILED: ${failed[*]} ($(($(now) - start))s) — the others are left running; see messages above, \`$(rel "$AA_LOCAL_DIR")/stack.sh status\`"
    exit 1
  fi
  if ((${#SERVERS[@]} < ${#ALL_SERVERS[@]})); then
    say "stack: ${SERVERS[*]} up in $(($(now) - start))s"
    return 0
  fi
  say "stack: up in $(($(now) - start))s — kafka $AA_KAFKA_BOOTSTRAP | s3 $AA_MINIO_ENDPOINT (replica $AA_MINIO_REPLICA_ENDPOINT) | pg $AA_BIND_HOST:$AA_PG_PORT/$AA_PG_DB | clamd $AA_CLAMD_ADDRESS"
}

cmd_down() {
  local s i pids=()
  parse_servers "$@"
  [[ -d $AA_STACK_DIR ]] || { say "stack: nothing to stop ($(rel "$AA_STACK_DIR") does not exist)"; return 0; }
  ensure_dirs
  take_lock
  # Reverse start order, in parallel (kafka's controlled shutdown is slowest).
  for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do
    s=${SERVERS[i]}
    ("$(prefix "$s")_down") &
    pids+=("$!")
  done
  for i in "${pids[@]}"; do wait "$i" || true; done
}

cmd_status() {
  local s rc=0 sizes="" d
  parse_servers "$@"
  for s in "${SERVERS[@]}"; do
    "$(prefix "$s")_status" || rc=3
  done
  if [[ -d $AA_STACK_DIR ]]; then
    for d in kafka minio minio-replica postgres clamav logs; do
      [[ -d $AA_STACK_DIR/$d ]] && sizes+="${sizes:+, }$d $(du -sh "$AA_STACK_DIR/$d" 2>/dev/null | cut -f1)"
    done
    printf 'disk      %s total in %s (%s)\n' "$(du -sh "$AA_STACK_DIR" 2>/dev/null | cut -f1)" \
      "$(rel "$AA_STACK_DIR")" "$sizes"
  else
    printf 'disk      %s does not exist\n' "$(rel "$AA_STACK_DIR")"
  fi
  pg_select_root 0
  if [[ $PG_ROOT != "$AA_STACK_DIR/postgres" && -d $PG_ROOT ]]; then
    printf 'disk      %s in %s (postgres, outside .stack)\n' "$(du -sh "$PG_ROOT" 2>/dev/null | cut -f1)" "$PG_ROOT"
  fi
  [[ -d $AA_CACHE_DIR ]] &&
    printf 'cache     %s in %s (server software)\n' "$(du -sh "$AA_CACHE_DIR" 2>/dev/null | cut -f1)" "$AA_CACHE_DIR"
  return $rc
}

cmd_env() {
  local v
  for v in AA_KAFKA_BOOTSTRAP AA_MINIO_ENDPOINT AA_MINIO_ACCESS_KEY AA_MINIO_SECRET_KEY AA_MINIO_REPLICA_ENDPOINT \
           AA_PG_DSN AA_PG_TEST_DSN AA_CLAMD_ADDRESS AA_BIND_HOST AA_KAFKA_PORT \
           AA_MINIO_PORT AA_PG_PORT AA_PG_USER AA_PG_PASSWORD AA_PG_DB AA_PG_TEST_DB AA_CLAMD_PORT; do
    printf 'export %s=%q\n' "$v" "${!v}"
  done
}

cmd_reset() {
  cmd_down "${KNOWN_SERVERS[@]}"
  minio_unmount_data
  # Every tmpfs under the stack's folder (AA_MINIO_DATA_SIZE mounts one per MinIO site, the replica's too):
  # deleting the folder with a mount inside it would leave the mount and the folder behind.
  local mnt
  while read -r mnt; do
    if [[ $mnt == "$AA_STACK_DIR"/* ]]; then as_root umount "$mnt"; fi
  done < <(awk '{print $2}' /proc/mounts | sort -r)
  pg_select_root 0
  if [[ $PG_ROOT != "$AA_STACK_DIR"/* && -d $PG_ROOT ]]; then
    say "stack: removing postgres cluster in $PG_ROOT"
    rm -rf "$PG_ROOT"
  fi
  say "stack: removing $(rel "$AA_STACK_DIR") (server software in $AA_CACHE_DIR is kept)"
  exec 9>&-
  rm -rf "$AA_STACK_DIR"
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    env) cmd_env ;;
    reset) cmd_reset ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
