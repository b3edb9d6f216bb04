#!/usr/bin/env bash
# The Dockerfile's steps without Docker (no engine on the CI machine): the build stage's
# install into a fresh venv, then the runtime stage's environment and entrypoint against real
# PostgreSQL and Redis: `migrate`, then `serve`, which must answer /health/ready.
# Usage: DATABASE_URL=... REDIS_URL=... deploy/check-image-steps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL (a server this check may create a database on)}"
: "${REDIS_URL:?set REDIS_URL}"
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
db="astrocoffee_image_check_$$"
port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== build stage: the image's install commands (pinned, no dev or embedded extras)"
"$PYTHON" -m venv "$work/venv"
mkdir "$work/src"
cp -r pyproject.toml constraints.txt README.md backend realtime db "$work/src/"
(cd "$work/src" && PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
  "$work/venv/bin/pip" install --quiet --constraint constraints.txt .)
if "$work/venv/bin/python" -c 'import pgserver' 2>/dev/null; then
  echo "the image must not carry the embedded servers" >&2; exit 1
fi

echo "== runtime stage: the image's environment, entrypoint 'astrocoffee'"
psql "$DATABASE_URL" -qc "CREATE DATABASE \"$db\"" >/dev/null
export PATH="$work/venv/bin:$PATH" PYTHONUNBUFFERED=1 PICCOLO_CONF=db.piccolo_conf \
  ASTROCOFFEE_ENVIRONMENT=production ASTROCOFFEE_HOST=127.0.0.1 ASTROCOFFEE_PORT="$port" \
  ASTROCOFFEE_SECRET_KEY="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(40))')" \
  ASTROCOFFEE_PAYMENT_WEBHOOK_SECRET="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))')" \
  ASTROCOFFEE_SMS_GATEWAY_URL=http://127.0.0.1:9/unused \
  ASTROCOFFEE_ACCOUNTING_URL=http://127.0.0.1:9/unused \
  ASTROCOFFEE_PAYMENT_PROVIDER_URL=http://127.0.0.1:9/unused \
  ASTROCOFFEE_REDIS_PREFIX="image-check-$$:" \
  DATABASE_URL="${DATABASE_URL%/*}/$db"
cd "$work"  # like the image: nothing of the checkout on the path
astrocoffee migrate
astrocoffee serve &
server=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then
    echo "== serve answers /health/ready: $(curl -fsS "http://127.0.0.1:$port/health/ready")"
    exit 0
  fi
  sleep 0.2
done
echo "serve did not become ready" >&2
exit 1
