#!/usr/bin/env bash
# Installs what the browser columns need: Debian's chromium, chromium-driver
# and firefox-esr, and geckodriver (pinned) from crates.io. Idempotent: what
# is already there is left alone. Says what it did.
set -euo pipefail

GECKODRIVER_VERSION=0.37.1

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
if [ ${#need[@]} -gt 0 ]; then
  echo "install.sh: installing ${need[*]} with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "install.sh: chromium, chromium-driver and firefox-esr are already installed"
fi

gecko="$(command -v geckodriver || true)"
[ -n "$gecko" ] || { [ -x "$HOME/.cargo/bin/geckodriver" ] && gecko="$HOME/.cargo/bin/geckodriver"; } || true
if [ -n "$gecko" ] && "$gecko" --version 2>/dev/null | head -1 | grep -q " $GECKODRIVER_VERSION"; then
  echo "install.sh: geckodriver $GECKODRIVER_VERSION is already installed ($gecko)"
else
  echo "install.sh: installing geckodriver $GECKODRIVER_VERSION with cargo install"
  cargo install geckodriver --locked --version "$GECKODRIVER_VERSION" --quiet
fi

echo "install.sh: $(chromium --version 2>/dev/null | head -1)"
echo "install.sh: $(chromedriver --version 2>/dev/null | head -1)"
echo "install.sh: $(firefox-esr --version 2>/dev/null | head -1)"
echo "install.sh: $({ command -v geckodriver >/dev/null && geckodriver --version || "$HOME/.cargo/bin/geckodriver" --version; } 2>/dev/null | head -1)"
