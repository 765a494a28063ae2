#!/usr/bin/env bash
# Sets up the Python environment of the example exec adapters:
# harness/adapters/.venv with the packages of requirements.txt.
# Safe to run again: an existing environment is reused and brought up to date.
set -euo pipefail

src="${BASH_SOURCE[0]}"; case "$src" in */*) dir="${src%/*}" ;; *) dir=. ;; esac
here="$(cd "$dir" && pwd)"
venv="$here/.venv"

die() { echo "setup.sh: error: $*" >&2; exit 1; }

command -v python3 >/dev/null 2>&1 \
  || die "python3 was not found on PATH; install Python 3.11 or later."
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || die "python3 is $(python3 -V 2>&1); the adapters need Python 3.11 or later."
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 \
  || die "the Python venv module (with ensurepip) is missing; on Debian/Ubuntu: apt-get install python3-venv"

if [ ! -x "$venv/bin/python3" ]; then
  echo "setup.sh: creating $venv" >&2
  python3 -m venv "$venv" || die "python3 -m venv $venv failed"
fi

"$venv/bin/python3" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" \
  || die "pip install -r $here/requirements.txt failed"

"$venv/bin/python3" -c 'import cryptography, yaml' \
  || die "cryptography or yaml (PyYAML) does not import in $venv"
echo "setup.sh: ready: $venv" >&2
