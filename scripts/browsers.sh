#!/usr/bin/env bash
# Installs what the console's browser tests drive when it is missing: Debian's chromium and
# its chromedriver (WebDriver). Sourced by scripts/test; safe to run again.
set -euo pipefail

if ! command -v chromium > /dev/null 2>&1 || ! command -v chromedriver > /dev/null 2>&1; then
  echo "installing chromium and chromium-driver (for the console's browser tests)" >&2
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium chromium-driver > /dev/null
fi
