#!/usr/bin/env bash
# Creates the project's Python environment (.venv, Python 3.11) and installs the project with its
# development tools. Idempotent: it reinstalls only when pyproject.toml changed since the last install.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

python_bin="${AA_PYTHON:-$(command -v python3.11 || true)}"
if [ -z "$python_bin" ]; then
  echo "python: Python 3.11 is required (python3.11 not found); on Debian 12: apt-get install python3 python3-venv" >&2
  exit 1
fi

stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ -f "$stamp" ]; then
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  echo "python: creating .venv with $("$python_bin" --version)"
  "$python_bin" -m venv .venv || {
    echo "python: 'python3.11 -m venv' failed; on Debian: apt-get install python3-venv" >&2; exit 1; }
fi
echo "python: installing the project and its dependencies into .venv (first run: about a minute)"
log=".venv/pip-install.log"
if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip &&
       .venv/bin/python -m pip install --disable-pip-version-check -e ".[dev]"; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "python: installing the dependencies failed (PyPI unreachable, or a package without a wheel?) — full log: $log" >&2
  exit 1
fi
rm -f .venv/.installed-*
touch "$stamp"
echo "python: .venv ready"
