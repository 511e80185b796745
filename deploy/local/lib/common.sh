# shellcheck shell=bash
# Shared helpers for deploy/local/stack.sh (sourced, not executed).
# Only bash, coreutils and util-linux are assumed here: a fresh Debian image
# has no procps/iproute2, so processes are found via /proc and ports are
# probed with bash's /dev/tcp.

AA_LOGS="$AA_STACK_DIR/logs"
# shellcheck disable=SC2034  # used by the other lib/*.sh files
AA_RUN="$AA_STACK_DIR/run"

say()  { printf '%s\n' "$*"; }
warn() { printf '%s\n' "$*" >&2; }

# Path relative to the repo root when inside it (shorter messages).
rel() {
  local p=$1
  [[ $p == "$AA_REPO_ROOT"/* ]] && p=${p#"$AA_REPO_ROOT"/}
  printf '%s' "$p"
}

# fail SERVER REASON [LOGFILE]: one line naming server, reason and log; returns 1.
fail() {
  local server=$1 reason=$2 log=${3:-}
  if [[ -n $log ]]; then
    warn "$server: $reason — see $(rel "$log")"
  else
    warn "$server: $reason"
  fi
  return 1
}

# Last lines of a log, indented, to make a failure readable without opening it.
log_tail() {
  local log=$1 n=${2:-8}
  [[ -s $log ]] || return 0
  tail -n "$n" "$log" | sed 's/^/    | /' >&2
}

now() { date +%s; }

# True if something accepts TCP connections on host:port.
port_open() {
  # shellcheck disable=SC2016  # expanded by the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# Command line of a pid with NULs turned into spaces (empty if gone).
pid_cmdline() {
  tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" || true
}

# pid_is PID NEEDLE: pid is alive and its command line contains NEEDLE
# (guards against a stale pid file whose pid was reused by something else).
pid_is() {
  local pid=$1 needle=$2
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ $(pid_cmdline "$pid") == *"$needle"* ]]
}

# Pids whose command line contains NEEDLE (our .stack paths), excluding us.
pids_matching() {
  local needle=$1 d pid cmd
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [[ $pid == "$$" || $pid == "${BASHPID:-}" ]] && continue
    cmd=$(pid_cmdline "$pid")
    [[ -n $cmd && $cmd == *"$needle"* ]] && printf '%s\n' "$pid"
  done
  return 0
}

first_pid_matching() {
  local pids
  mapfile -t pids < <(pids_matching "$1")
  ((${#pids[@]} == 0)) || printf '%s' "${pids[0]}"
}

# Pid recorded in a pid file if it is still our process, else nothing.
pidfile_pid() {
  local file=$1 needle=$2 pid
  [[ -f $file ]] || return 0
  pid=$(head -n1 "$file" 2>/dev/null || true)
  if pid_is "$pid" "$needle"; then printf '%s' "$pid"; fi
}

# stop_pids NAME SIGNAL TIMEOUT PID...: send SIGNAL, wait up to TIMEOUT
# seconds for a clean exit, then SIGKILL whatever is left.
stop_pids() {
  local name=$1 sig=$2 timeout=$3; shift 3
  local pids=("$@") pid alive deadline
  ((${#pids[@]})) || return 0
  kill "-$sig" "${pids[@]}" 2>/dev/null || true
  deadline=$(($(now) + timeout))
  while :; do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    ((${#alive[@]})) || return 0
    if (($(now) >= deadline)); then
      warn "$name: still running ${timeout}s after SIG$sig, sending SIGKILL to ${alive[*]}"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      sleep 1
      return 0
    fi
    sleep 0.5
  done
}

# Run a command as root (we normally are root; otherwise try sudo -n).
as_root() {
  if ((EUID == 0)); then "$@"; else sudo -n "$@"; fi
}

# apt_install PKG...: one `apt-get update` + install, non-interactive.
# A temporary policy-rc.d (exit 101) stops the packages' postinst from
# starting system services: clamav-freshclam would try the internet and the
# Debian postgresql/clamav-daemon instances are not ours.
apt_install() {
  local log="$AA_LOGS/apt.log" policy=/usr/sbin/policy-rc.d created=0 rc=0
  if [[ ! -e $policy ]]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy" && created=1
  fi
  say "apt: installing $* (log: $(rel "$log"))…"
  {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold "$@"
  } >>"$log" 2>&1 || rc=$?
  ((created)) && as_root rm -f "$policy"
  if ((rc)); then
    log_tail "$log"
    fail apt "installing $* failed (exit $rc)" "$log"
    return 1
  fi
}

# apt_install_needs: reads "PACKAGE REASON…" lines (what the *_apt_needs functions print), says for each
# package why it is installed, then installs them all in one apt run. Nothing to read: nothing to do.
# Sets APT_INSTALLED to the packages installed.
apt_install_needs() {
  local pkg reason pkgs=()
  declare -A why=()
  APT_INSTALLED=()
  while read -r pkg reason; do
    [[ -n $pkg ]] || continue
    if [[ ! -v why[$pkg] ]]; then pkgs+=("$pkg"); why[$pkg]=$reason; fi
  done
  ((${#pkgs[@]})) || return 0
  for pkg in "${pkgs[@]}"; do say "apt: $pkg — ${why[$pkg]}"; done
  apt_install "${pkgs[@]}" || return 1
  # shellcheck disable=SC2034  # read by stack.sh
  APT_INSTALLED=("${pkgs[@]}")
}

# Programs the services run themselves (no server of the stack): one "PACKAGE REASON" line each.
tools_apt_needs() {
  command -v ffmpeg >/dev/null ||
    echo "ffmpeg no ffmpeg found: validation decodes audio and video through to the end (USAB-OPENS)"
  return 0
}

# version_at_least VERSION MINIMUM: dotted versions compared part by part (sort -V).
version_at_least() {
  [[ -n $1 && $(printf '%s\n' "$2" "$1" | sort -V | head -n1) == "$2" ]]
}
