#!/usr/bin/env bash
# Creates the project's Python environment (.venv, Python 3.11) and installs the project with its
# development tools. Idempotent: it reinstalls only when pyproject.toml changed since the last install.
# On Debian 12 it first installs what the machine lacks, with apt: python3.11-venv (Debian keeps venv's
# ensurepip, and with it pip, out of python3.11), and python3.11 itself when it is missing. pip inside
# .venv comes from ensurepip; the packages come from PyPI.
set -euo pipefail
AA_LOCAL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AA_REPO_ROOT=$(cd "$AA_LOCAL_DIR/../.." && pwd)
# shellcheck source=stack.env
source "$AA_LOCAL_DIR/stack.env"
# shellcheck source=lib/common.sh
source "$AA_LOCAL_DIR/lib/common.sh"
cd "$AA_REPO_ROOT"

DEBIAN_PYTHON=/usr/bin/python3.11

# A Python that can make a venv with pip: venv, and ensurepip (which Debian packages separately).
can_make_venv() { "$1" -c 'import ensurepip, venv' >/dev/null 2>&1; }

# What apt must install for Debian's Python 3.11 to make the venv, one "PACKAGE REASON" line each.
python_apt_needs() {
  local found
  found=$(command -v python3.11 || true)
  if [[ -z $found ]]; then
    echo "python3.11-venv no python3.11 found: Debian 12's Python 3.11, with venv and pip (pulls in python3.11)"
  elif ! can_make_venv "$DEBIAN_PYTHON" 2>/dev/null && ! can_make_venv "$found"; then
    echo "python3.11-venv $found cannot create a virtual environment with pip (no ensurepip)"
  fi
  return 0
}

stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [[ -f $stamp ]]; then
  exit 0
fi

if [[ ! -x .venv/bin/python ]]; then
  if [[ -n ${AA_PYTHON:-} ]]; then
    python_bin=$AA_PYTHON   # the developer's choice: used as it is, nothing installed for it
  else
    needs=$(python_apt_needs)
    if [[ -n $needs ]] && command -v apt-get >/dev/null; then
      mkdir -p "$AA_LOGS"   # apt's log: .stack/logs/apt.log
      apt_install_needs <<<"$needs" || exit 1
    fi
    python_bin=$(command -v python3.11 || true)
    # A python3.11 earlier on PATH (pyenv, a build of one's own) without ensurepip: Debian's can.
    if [[ -n $python_bin ]] && ! can_make_venv "$python_bin" && can_make_venv "$DEBIAN_PYTHON"; then
      python_bin=$DEBIAN_PYTHON
    fi
  fi
  if [[ -z $python_bin ]] || ! "$python_bin" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
    fail python "Python 3.11 is required (${python_bin:-python3.11 not found}); on Debian 12: apt-get install python3.11-venv, or set AA_PYTHON"
    exit 1
  fi
  if ! can_make_venv "$python_bin"; then
    fail python "$python_bin cannot create a virtual environment with pip (no ensurepip); on Debian: apt-get install python3.11-venv"
    exit 1
  fi
  say "python: creating .venv with $("$python_bin" --version) ($python_bin)"
  "$python_bin" -m venv .venv || { fail python "'$python_bin -m venv .venv' failed"; exit 1; }
fi
say "python: installing the project and its dependencies from PyPI into .venv (first run: about a minute)"
log=".venv/pip-install.log"
if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip &&
       .venv/bin/python -m pip install --disable-pip-version-check -e ".[dev]"; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  fail python "installing the dependencies failed (PyPI unreachable, or a package without a wheel?) — full log: $log"
  exit 1
fi
rm -f .venv/.installed-*
touch "$stamp"
say "python: .venv ready"
