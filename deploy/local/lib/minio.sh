# shellcheck shell=bash
# MinIO: built from source with `go install` through the Go module proxy
# (no binary download site is reachable), single drive, object lock capable.

MINIO_CACHE="$AA_CACHE_DIR/minio/$AA_MINIO_VERSION"
MINIO_BIN="$MINIO_CACHE/minio"
MINIO_MARKER="$MINIO_CACHE/.complete"
MINIO_DIR="$AA_STACK_DIR/minio"
MINIO_DATA="$MINIO_DIR/data"
MINIO_LOG="$AA_LOGS/minio.log"
MINIO_BUILD_LOG="$AA_LOGS/minio-build.log"
MINIO_PID="$AA_RUN/minio.pid"
MINIO_ADDR="$AA_BIND_HOST:$AA_MINIO_PORT"

minio_apt_needs() {
  command -v curl >/dev/null || echo curl   # health check
  return 0
}

minio_install() {
  mkdir -p "$MINIO_CACHE"
  exec 8>"$MINIO_CACHE/.lock"
  flock 8
  # A binary that runs `--version` is complete (go install only moves a
  # finished link into GOBIN); the marker just skips that check next time.
  if [[ ! -f $MINIO_MARKER ]]; then
    if [[ -x $MINIO_BIN ]] && "$MINIO_BIN" --version >/dev/null 2>&1; then
      : # built earlier (e.g. by hand) — accept it
    else
      command -v go >/dev/null ||
        { fail minio "go not found: Go >= 1.24 is needed to build MinIO (Debian's golang is too old)"; return 1; }
      say "minio: building $AA_MINIO_VERSION with go install (first run, takes 5-10 min on 2 cores)…"
      rm -f "$MINIO_BIN"
      local start; start=$(now)
      # CGO off: static binary, no C toolchain needed.
      if ! (cd "$MINIO_CACHE" && GOBIN="$MINIO_CACHE" CGO_ENABLED=0 \
            go install "github.com/minio/minio@$AA_MINIO_VERSION") >"$MINIO_BUILD_LOG" 2>&1; then
        log_tail "$MINIO_BUILD_LOG"
        fail minio "go install github.com/minio/minio@$AA_MINIO_VERSION failed" "$MINIO_BUILD_LOG"
        return 1
      fi
      "$MINIO_BIN" --version >/dev/null 2>&1 ||
        { fail minio "built binary $MINIO_BIN does not run" "$MINIO_BUILD_LOG"; return 1; }
      say "minio: built in $(($(now) - start))s"
    fi
    echo "$AA_MINIO_VERSION" >"$MINIO_MARKER"
  fi
  flock -u 8
  exec 8>&-
}

minio_pid() { pidfile_pid "$MINIO_PID" "$MINIO_DATA"; }

minio_healthy() {
  curl -fsS --max-time 2 "http://$MINIO_ADDR/minio/health/live" >/dev/null 2>&1
}

minio_wait() {
  local pid=$1 deadline
  deadline=$(($(now) + AA_MINIO_START_TIMEOUT))
  until minio_healthy; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log_tail "$MINIO_LOG"
      fail minio "exited during startup" "$MINIO_LOG"
      return 1
    fi
    if (($(now) >= deadline)); then
      fail minio "did not answer on http://$MINIO_ADDR/minio/health/live within ${AA_MINIO_START_TIMEOUT}s" "$MINIO_LOG"
      return 1
    fi
    sleep 0.5
  done
}

minio_up() {
  local pid start
  start=$(now)
  command -v curl >/dev/null || { fail minio "curl not found (health check)"; return 1; }
  pid=$(minio_pid)
  if [[ -n $pid ]]; then
    if minio_healthy; then
      say "minio: already running on http://$MINIO_ADDR (pid $pid)"
      return 0
    fi
    say "minio: process $pid is up but not healthy yet, waiting…"
    minio_wait "$pid" || return 1
    say "minio: started on http://$MINIO_ADDR (pid $pid)"
    return 0
  fi
  if port_open "$AA_BIND_HOST" "$AA_MINIO_PORT" || port_open "$AA_BIND_HOST" "$AA_MINIO_CONSOLE_PORT"; then
    fail minio "port $AA_MINIO_PORT or $AA_MINIO_CONSOLE_PORT is already used by another process (not started by this stack; set AA_MINIO_PORT/AA_MINIO_CONSOLE_PORT)"
    return 1
  fi
  minio_install || return 1
  mkdir -p "$MINIO_DATA"
  say "minio: starting…"
  # UPDATE off: never phone home; BROWSER off: no web console needed.
  (exec env MINIO_ROOT_USER="$AA_MINIO_ACCESS_KEY" MINIO_ROOT_PASSWORD="$AA_MINIO_SECRET_KEY" \
      MINIO_UPDATE=off MINIO_BROWSER=off \
      setsid nohup "$MINIO_BIN" server "$MINIO_DATA" \
        --address "$MINIO_ADDR" --console-address "$AA_BIND_HOST:$AA_MINIO_CONSOLE_PORT" \
        >>"$MINIO_LOG" 2>&1 </dev/null 8>&- 9>&-) &
  pid=$!
  echo "$pid" >"$MINIO_PID"
  minio_wait "$pid" || return 1
  say "minio: started on http://$MINIO_ADDR (pid $pid, $(($(now) - start))s)"
}

minio_down() {
  local pid pids
  pid=$(minio_pid)
  [[ -n $pid ]] && stop_pids minio TERM 20 "$pid"
  mapfile -t pids < <(pids_matching "$MINIO_DATA")
  ((${#pids[@]})) && stop_pids minio TERM 20 "${pids[@]}"
  rm -f "$MINIO_PID"
  if [[ -n $pid || ${#pids[@]} -gt 0 ]]; then say "minio: stopped"; else say "minio: not running"; fi
}

minio_status() {
  local pid state
  pid=$(minio_pid)
  [[ -n $pid ]] || pid=$(first_pid_matching "$MINIO_DATA")
  if [[ -z $pid ]]; then state=stopped
  elif minio_healthy; then state=running
  else state=starting/unhealthy
  fi
  printf '%-9s %-18s %-24s %s\n' minio "$state" "http://$MINIO_ADDR" "${pid:+pid $pid, }log $(rel "$MINIO_LOG")"
  [[ $state == running ]]
}
