# shellcheck shell=bash
# MinIO: built from source with `go install` through the Go module proxy
# (no binary download site is reachable), single drive, object lock capable.
# The Go that builds it is the machine's when new enough (AA_GO_MIN_VERSION),
# else a toolchain from the same proxy, cached by version (minio_find_go).

MINIO_CACHE="$AA_CACHE_DIR/minio/$AA_MINIO_VERSION"
MINIO_BIN="$MINIO_CACHE/minio"
MINIO_MARKER="$MINIO_CACHE/.complete"
MINIO_BUILD_LOG="$AA_LOGS/minio-build.log"
GO_CACHE="$AA_CACHE_DIR/go"
GO_TOOLCHAIN="$GO_CACHE/go$AA_GO_VERSION"
GO_FETCH_LOG="$AA_LOGS/go-toolchain.log"

# minio_site NAME PORT CONSOLE_PORT: the server the minio_* functions below act on. Two sites run from
# the same binary: `minio` (the primary, .stack/minio) and `minio-replica` (the second copy of every
# package, .stack/minio-replica; docs/packages.md "Two copies").
minio_site() {
  MINIO_NAME=$1
  MINIO_PORT=$2
  MINIO_CONSOLE_PORT=$3
  MINIO_DIR="$AA_STACK_DIR/$MINIO_NAME"
  MINIO_DATA="$MINIO_DIR/data"
  MINIO_LOG="$AA_LOGS/$MINIO_NAME.log"
  MINIO_PID="$AA_RUN/$MINIO_NAME.pid"
  MINIO_ADDR="$AA_BIND_HOST:$MINIO_PORT"
}
minio_site minio "$AA_MINIO_PORT" "$AA_MINIO_CONSOLE_PORT"

# Version of a go binary ("1.19.8"; empty if it does not run). GOTOOLCHAIN=local: report itself, never
# switch to another toolchain (Go >= 1.21 would, inside a module that asks for a newer one).
go_version_of() {
  local v
  v=$(cd / && env -u GOROOT GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null) || return 0
  v=${v#go}
  printf '%s' "${v%% *}"
}

minio_built() {
  [[ -f $MINIO_MARKER ]] || { [[ -x $MINIO_BIN ]] && "$MINIO_BIN" --version >/dev/null 2>&1; }
}

toolchain_cached() {
  [[ $(go_version_of "$GO_TOOLCHAIN/bin/go") == "$AA_GO_VERSION" ]]
}

# Packages apt must provide, one "PACKAGE REASON" line each (see apt_install_needs).
minio_apt_needs() {
  command -v curl >/dev/null || echo "curl no curl found: MinIO's health check"
  minio_built && return 0
  if ! command -v go >/dev/null && ! toolchain_cached; then
    echo "golang-go no go found: Debian's go fetches the Go $AA_GO_VERSION toolchain that builds MinIO (needs >= $AA_GO_MIN_VERSION)"
  fi
  if [[ ! -f /etc/ssl/certs/ca-certificates.crt ]]; then
    echo "ca-certificates no CA certificates: go fetches MinIO's sources from the Go module proxy over HTTPS"
  fi
  return 0
}

# MINIO_GO: a go >= AA_GO_MIN_VERSION. The machine's `go` when new enough; otherwise the toolchain
# go$AA_GO_VERSION in $GO_CACHE, fetched once by the machine's older go (go_fetch_toolchain).
minio_find_go() {
  local system version
  MINIO_GO=""
  system=$(command -v go || true)
  if [[ -n $system ]]; then
    version=$(go_version_of "$system")
    if version_at_least "$version" "$AA_GO_MIN_VERSION"; then MINIO_GO=$system; return 0; fi
  fi
  if toolchain_cached; then MINIO_GO="$GO_TOOLCHAIN/bin/go"; return 0; fi
  [[ -n $system ]] ||
    { fail minio "go not found: Go >= $AA_GO_MIN_VERSION builds MinIO (stack.sh up installs Debian's golang-go, which fetches one)"; return 1; }
  say "minio: $system is Go ${version:-of unknown version}, MinIO needs >= $AA_GO_MIN_VERSION: fetching the Go $AA_GO_VERSION toolchain from the Go module proxy into $GO_TOOLCHAIN (once, ~70 MB)…"
  go_fetch_toolchain "$system" || return 1
  MINIO_GO="$GO_TOOLCHAIN/bin/go"
}

# go_fetch_toolchain GO: download golang.org/toolchain@v0.0.1-go$AA_GO_VERSION.<os>-<arch> — the module
# GOTOOLCHAIN switching uses — with `go mod download`, which Debian 12's go 1.19 has (GOTOOLCHAIN needs
# Go >= 1.21). The module cache it lands in is a throwaway one; the toolchain moves to $GO_TOOLCHAIN.
go_fetch_toolchain() {
  local bootstrap=$1 platform module tmp dir start
  mkdir -p "$GO_CACHE"
  exec 7>"$GO_CACHE/.lock"
  flock 7
  if toolchain_cached; then flock -u 7; exec 7>&-; return 0; fi   # another clone fetched it meanwhile
  start=$(now)
  platform=$(cd / && env -u GOROOT "$bootstrap" env GOHOSTOS GOHOSTARCH | paste -sd-)
  module="golang.org/toolchain@v0.0.1-go$AA_GO_VERSION.$platform"
  tmp=$(mktemp -d "$GO_CACHE/.fetch-XXXXXX")
  dir="$tmp/mod/$module"
  if ! (cd "$tmp" && env -u GOROOT GOTOOLCHAIN=local GOFLAGS=-mod=mod GO111MODULE=on \
        GOPATH="$tmp/gopath" GOMODCACHE="$tmp/mod" "$bootstrap" mod download -x "$module") >"$GO_FETCH_LOG" 2>&1 ||
     [[ ! -x $dir/bin ]]; then
    chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"
    log_tail "$GO_FETCH_LOG"
    fail minio "go mod download $module failed (is the Go module proxy reachable? \`go env GOPROXY\`; versions: GOFLAGS=-mod=mod go list -m -versions golang.org/toolchain)" "$GO_FETCH_LOG"
    flock -u 7; exec 7>&-
    return 1
  fi
  # The module cache is read-only, and module zips keep no file modes: the toolchain's programs get
  # their execute bits back, as Go's own toolchain switch does.
  chmod -R u+w "$tmp/mod"
  chmod +x "$dir"/bin/* "$dir"/pkg/tool/*/*
  rm -rf "$GO_TOOLCHAIN"
  mv "$dir" "$GO_TOOLCHAIN"
  rm -rf "$tmp"
  flock -u 7
  exec 7>&-
  toolchain_cached ||
    { fail minio "the fetched toolchain $GO_TOOLCHAIN/bin/go does not report go$AA_GO_VERSION" "$GO_FETCH_LOG"; return 1; }
  say "minio: Go $AA_GO_VERSION toolchain ready in $GO_TOOLCHAIN ($(($(now) - start))s)"
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
      minio_find_go || return 1
      say "minio: building $AA_MINIO_VERSION with $MINIO_GO install, Go $(go_version_of "$MINIO_GO") (first run, takes 5-10 min on 2 cores)…"
      rm -f "$MINIO_BIN"
      local start; start=$(now)
      # CGO off: static binary, no C toolchain needed. GOTOOLCHAIN=local: the go chosen above builds.
      if ! (cd "$MINIO_CACHE" && env -u GOROOT GOBIN="$MINIO_CACHE" CGO_ENABLED=0 GOTOOLCHAIN=local \
            "$MINIO_GO" install "github.com/minio/minio@$AA_MINIO_VERSION") >"$MINIO_BUILD_LOG" 2>&1; then
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

# AA_MINIO_DATA_SIZE set: the data folder is a tmpfs of that size (mounted once, kept across restarts of
# the server), so a fault-injection run can fill it or remount it read-only.
minio_mount_data() {
  [[ -n $AA_MINIO_DATA_SIZE ]] || return 0
  mountpoint -q "$MINIO_DATA" && return 0
  as_root mount -t tmpfs -o "size=$AA_MINIO_DATA_SIZE,mode=0755" tmpfs "$MINIO_DATA" ||
    { fail minio "mounting a $AA_MINIO_DATA_SIZE tmpfs on $(rel "$MINIO_DATA") failed (AA_MINIO_DATA_SIZE needs root and mount rights; unset it for a plain folder)"; return 1; }
  say "minio: data folder is a $AA_MINIO_DATA_SIZE tmpfs ($(rel "$MINIO_DATA"))"
}

# After the server stopped (stack.sh reset): the tmpfs goes, and its data with it.
minio_unmount_data() {
  if [[ -d $MINIO_DATA ]] && mountpoint -q "$MINIO_DATA"; then as_root umount "$MINIO_DATA"; fi
  return 0
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
      fail "$MINIO_NAME" "exited during startup" "$MINIO_LOG"
      return 1
    fi
    if (($(now) >= deadline)); then
      fail "$MINIO_NAME" "did not answer on http://$MINIO_ADDR/minio/health/live within ${AA_MINIO_START_TIMEOUT}s" "$MINIO_LOG"
      return 1
    fi
    sleep 0.5
  done
}

minio_up() {
  local pid start
  start=$(now)
  command -v curl >/dev/null || { fail "$MINIO_NAME" "curl not found (health check)"; return 1; }
  pid=$(minio_pid)
  if [[ -n $pid ]]; then
    if minio_healthy; then
      say "$MINIO_NAME: already running on http://$MINIO_ADDR (pid $pid)"
      return 0
    fi
    say "$MINIO_NAME: process $pid is up but not healthy yet, waiting…"
    minio_wait "$pid" || return 1
    say "$MINIO_NAME: started on http://$MINIO_ADDR (pid $pid)"
    return 0
  fi
  if port_open "$AA_BIND_HOST" "$MINIO_PORT" || port_open "$AA_BIND_HOST" "$MINIO_CONSOLE_PORT"; then
    fail "$MINIO_NAME" "port $MINIO_PORT or $MINIO_CONSOLE_PORT is already used by another process (not started by this stack; set AA_MINIO_PORT/AA_MINIO_CONSOLE_PORT)"
    return 1
  fi
  minio_install || return 1
  mkdir -p "$MINIO_DATA"
  minio_mount_data || return 1
  say "$MINIO_NAME: starting…"
  # UPDATE off: never phone home; BROWSER off: no web console needed.
  (exec env MINIO_ROOT_USER="$AA_MINIO_ACCESS_KEY" MINIO_ROOT_PASSWORD="$AA_MINIO_SECRET_KEY" \
      MINIO_UPDATE=off MINIO_BROWSER=off \
      setsid nohup "$MINIO_BIN" server "$MINIO_DATA" \
        --address "$MINIO_ADDR" --console-address "$AA_BIND_HOST:$MINIO_CONSOLE_PORT" \
        >>"$MINIO_LOG" 2>&1 </dev/null 8>&- 9>&-) &
  pid=$!
  echo "$pid" >"$MINIO_PID"
  minio_wait "$pid" || return 1
  say "$MINIO_NAME: started on http://$MINIO_ADDR (pid $pid, $(($(now) - start))s)"
}

minio_down() {
  local pid pids
  pid=$(minio_pid)
  [[ -n $pid ]] && stop_pids "$MINIO_NAME" TERM 20 "$pid"
  mapfile -t pids < <(pids_matching "$MINIO_DATA")
  ((${#pids[@]})) && stop_pids "$MINIO_NAME" TERM 20 "${pids[@]}"
  rm -f "$MINIO_PID"
  if [[ -n $pid || ${#pids[@]} -gt 0 ]]; then say "$MINIO_NAME: stopped"; else say "$MINIO_NAME: not running"; fi
}

minio_status() {
  local pid state
  pid=$(minio_pid)
  [[ -n $pid ]] || pid=$(first_pid_matching "$MINIO_DATA")
  if [[ -z $pid ]]; then state=stopped
  elif minio_healthy; then state=running
  else state=starting/unhealthy
  fi
  printf '%-9s %-18s %-24s %s\n' "$MINIO_NAME" "$state" "http://$MINIO_ADDR" "${pid:+pid $pid, }log $(rel "$MINIO_LOG")"
  [[ $state == running ]]
}

# The replica site: the same functions on the second server, in a subshell so the primary's variables stay.
minio_replica_site() { minio_site minio-replica "$AA_MINIO_REPLICA_PORT" "$AA_MINIO_REPLICA_CONSOLE_PORT"; }
minio_replica_apt_needs() { minio_apt_needs; }
minio_replica_up() { (minio_replica_site && minio_up); }
minio_replica_down() { (minio_replica_site && minio_down); }
minio_replica_status() { (minio_replica_site && minio_status); }
