#!/usr/bin/env bash
# Installs the Python MCP servers that warden-mcp's tests talk to (mcp-server-time and
# mcp-server-git) into a virtualenv outside the clone, at $WARDEN_PYTHON_TOOLS
# (default /var/tmp/warden-python-tools). Idempotent: when the pinned versions are already
# installed it only checks them and returns.

set -euo pipefail

venv="${WARDEN_PYTHON_TOOLS:-/var/tmp/warden-python-tools}"

# Pinned so a test run does not change under us when PyPI publishes a new release. Bump
# them together with any test that depends on their tool names or outputs.
packages=(
  "mcp-server-time==2026.10.19"
  "mcp-server-git==2026.10.19"
  "mcp==2.3.0"
  "mcp-types==2.3.0"
)
stamp="$venv/.warden-packages"
wanted="$(printf '%s\n' "${packages[@]}")"

if [ -x "$venv/bin/mcp-server-time" ] && [ -x "$venv/bin/mcp-server-git" ] \
  && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  exit 0
fi

if ! command -v python3 >/dev/null 2>&1; then
  echo "error: python3 is needed to install the Python MCP test servers" >&2
  exit 2
fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  echo "installing python3-venv (needed for the Python MCP test servers)" >&2
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-venv >/dev/null
fi

echo "installing ${packages[*]} into $venv" >&2
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}"

for tool in mcp-server-time mcp-server-git; do
  if [ ! -x "$venv/bin/$tool" ]; then
    echo "error: $venv/bin/$tool is missing after the install" >&2
    exit 1
  fi
done
printf '%s\n' "$wanted" > "$stamp"
