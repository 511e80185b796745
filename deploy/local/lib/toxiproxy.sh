# shellcheck shell=bash
# toxiproxy (Shopify): a TCP proxy on loopback whose links can be given latency, stalls and resets over
# its HTTP API. Only the fault-injection harness (bench/chaos/) starts it, in front of a stack of its own.
# Built from source with `go install` through the Go module proxy, by the Go that builds MinIO
# (lib/minio.sh, minio_find_go), and cached like MinIO, keyed by version.

TOXIPROXY_CACHE="$AA_CACHE_DIR/toxiproxy/$AA_TOXIPROXY_VERSION"
TOXIPROXY_BIN="$TOXIPROXY_CACHE/toxiproxy-server"
TOXIPROXY_LOG="$AA_LOGS/toxiproxy.log"
TOXIPROXY_BUILD_LOG="$AA_LOGS/toxiproxy-build.log"
TOXIPROXY_PID="$AA_RUN/toxiproxy.pid"
TOXIPROXY_ADDR="$AA_BIND_HOST:$AA_TOXIPROXY_PORT"

# Packages apt must provide, one "PACKAGE REASON" line each (see apt_install_needs).
toxiproxy_apt_needs() {
  command -v curl >/dev/null || echo "curl no curl found: toxiproxy's health check"
  return 0
}

toxiproxy_install() {
  mkdir -p "$TOXIPROXY_CACHE"
  exec 8>"$TOXIPROXY_CACHE/.lock"
  flock 8
  if ! [[ -x $TOXIPROXY_BIN ]] || ! "$TOXIPROXY_BIN" -version >/dev/null 2>&1; then
    # The Go that builds MinIO (the machine's when new enough, else the cached toolchain) builds it too.
    minio_find_go || return 1
    say "toxiproxy: building $AA_TOXIPROXY_VERSION with $MINIO_GO install (first run, ~1 min)…"
    local tmp
    tmp=$(mktemp -d)
    # The module's server command is cmd/server; go install names the binary after that folder.
    if ! (cd "$tmp" && env -u GOROOT GOBIN="$tmp" CGO_ENABLED=0 GOTOOLCHAIN=local \
          "$MINIO_GO" install "github.com/Shopify/toxiproxy/v2/cmd/server@$AA_TOXIPROXY_VERSION") >"$TOXIPROXY_BUILD_LOG" 2>&1; then
      rm -rf "$tmp"
      log_tail "$TOXIPROXY_BUILD_LOG"
      fail toxiproxy "go install github.com/Shopify/toxiproxy/v2/cmd/server@$AA_TOXIPROXY_VERSION failed" "$TOXIPROXY_BUILD_LOG"
      return 1
    fi
    mv "$tmp/server" "$TOXIPROXY_BIN"
    rm -rf "$tmp"
  fi
  flock -u 8
  exec 8>&-
}

toxiproxy_pid() { pidfile_pid "$TOXIPROXY_PID" "$TOXIPROXY_BIN"; }

toxiproxy_healthy() {
  curl -fsS --max-time 2 "http://$TOXIPROXY_ADDR/version" >/dev/null 2>&1
}

toxiproxy_up() {
  local pid deadline
  pid=$(toxiproxy_pid)
  if [[ -n $pid ]] && toxiproxy_healthy; then
    say "toxiproxy: already running on $TOXIPROXY_ADDR (pid $pid)"
    return 0
  fi
  if [[ -z $pid ]] && port_open "$AA_BIND_HOST" "$AA_TOXIPROXY_PORT"; then
    fail toxiproxy "port $AA_TOXIPROXY_PORT is already used by another process (set AA_TOXIPROXY_PORT)"
    return 1
  fi
  toxiproxy_install || return 1
  if [[ -z $pid ]]; then
    (exec setsid nohup "$TOXIPROXY_BIN" -host "$AA_BIND_HOST" -port "$AA_TOXIPROXY_PORT" \
        >>"$TOXIPROXY_LOG" 2>&1 </dev/null 8>&- 9>&-) &
    pid=$!
    echo "$pid" >"$TOXIPROXY_PID"
  fi
  deadline=$(($(now) + AA_TOXIPROXY_START_TIMEOUT))
  until toxiproxy_healthy; do
    kill -0 "$pid" 2>/dev/null || { log_tail "$TOXIPROXY_LOG"; fail toxiproxy "exited during startup" "$TOXIPROXY_LOG"; return 1; }
    (($(now) < deadline)) || { fail toxiproxy "API did not answer on $TOXIPROXY_ADDR" "$TOXIPROXY_LOG"; return 1; }
    sleep 0.2
  done
  say "toxiproxy: started, API on http://$TOXIPROXY_ADDR (pid $pid)"
}

toxiproxy_down() {
  local pid
  pid=$(toxiproxy_pid)
  [[ -n $pid ]] && stop_pids toxiproxy TERM 10 "$pid"
  rm -f "$TOXIPROXY_PID"
  if [[ -n $pid ]]; then say "toxiproxy: stopped"; else say "toxiproxy: not running"; fi
}

toxiproxy_status() {
  local pid state
  pid=$(toxiproxy_pid)
  if [[ -z $pid ]]; then state=stopped
  elif toxiproxy_healthy; then state=running
  else state=starting/unhealthy
  fi
  printf '%-9s %-18s %-24s %s\n' toxiproxy "$state" "http://$TOXIPROXY_ADDR" "${pid:+pid $pid, }log $(rel "$TOXIPROXY_LOG")"
  [[ $state == running ]]
}
