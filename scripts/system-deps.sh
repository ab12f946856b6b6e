#!/usr/bin/env bash
# The Debian packages that `make test` and `make demo` need and pip cannot install, checked before
# anything long starts. As root, missing ones are installed with apt-get; otherwise the script stops
# with one line naming the exact command. Used by the Makefile and by .ci/run.
#
#   scripts/system-deps.sh test   chromium (page tests), opencv-doc (vtest.avi), mosquitto, redis,
#                                 haproxy (replicas behind a load balancer), nats-server (the
#                                 clustered broker), npm
#   scripts/system-deps.sh demo   opencv-doc (the demo's footage), npm (the pages' libraries)
set -euo pipefail

# HALLWATCH_VTEST: where the video is looked for (tests point it elsewhere to see the message).
VTEST=${HALLWATCH_VTEST:-/usr/share/doc/opencv-doc/examples/data/vtest.avi}
need=()
case "${1:-test}" in
  test)
    [ -x /usr/bin/chromium ] || need+=(chromium)
    [ -f "$VTEST" ] || need+=(opencv-doc)
    command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
    command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || need+=(redis-server)
    command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
    command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
    command -v npm >/dev/null || need+=(nodejs npm)
    ;;
  demo)
    [ -f "$VTEST" ] || need+=(opencv-doc)
    command -v npm >/dev/null || need+=(nodejs npm)
    ;;
  *)
    echo "usage: $0 test|demo" >&2
    exit 2
    ;;
esac

[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "hallwatch: missing Debian packages; run: sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
  exit 1
fi
echo "hallwatch: installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
