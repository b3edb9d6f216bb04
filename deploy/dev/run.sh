#!/usr/bin/env bash
# `make run`: the app, its outbox and push workers, and the external systems played by the
# fakes of devkit/fakes (accounting on :8091, payment provider on :8092, which settles app
# orders as paid two seconds after they are created; FCM on :8097 and APNs on :8098 for the
# apps' devices; a browser's Web Push goes to its own push service). Ctrl-C stops them all.
# Their addresses and development tokens are the settings' development defaults
# (DEV_EXTERNAL_SYSTEMS in backend/settings.py), so that `astrocoffee reconcile` or `worker`
# in another shell finds them too; production never gets those defaults.
# Only Python is needed: no curl, no system packages.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.venv/bin}
HOST=${ASTROCOFFEE_HOST:-127.0.0.1}
PORT=${ASTROCOFFEE_PORT:-8000}
pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

# Each fake listens where the settings look for it by default (DEV_EXTERNAL_SYSTEMS).
"$BIN/python" -m devkit.fakes.accounting 2>.run-accounting.log &
pids+=($!)
"$BIN/python" -m devkit.fakes.payment_provider --auto-settle succeeded \
  --webhook-url "http://$HOST:$PORT/v1/webhooks/payments" 2>.run-payment-provider.log &
pids+=($!)
# Where the push settings' development credentials point (backend/push/development.py).
"$BIN/python" -m devkit.fakes.fcm 2>.run-fcm.log &
pids+=($!)
"$BIN/python" -m devkit.fakes.apns 2>.run-apns.log &
pids+=($!)

"$BIN/astrocoffee" serve --migrate --seed-demo &
server=$!
pids+=("$server")
# The worker starts once the app is up, so both use the same (possibly embedded) servers.
for _ in $(seq 1 300); do
  if "$BIN/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "http://$HOST:$PORT/health/ready" >/dev/null 2>&1; then
    "$BIN/astrocoffee" worker &
    pids+=($!)
    "$BIN/astrocoffee" push-worker &
    pids+=($!)
    break
  fi
  kill -0 "$server" 2>/dev/null || exit 1
  sleep 0.2
done
wait "$server"
