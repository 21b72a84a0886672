#!/usr/bin/env bash
# The whole test suite, as CI runs it. Installs what it needs on a fresh Debian
# machine (Chromium for the browser tests), checks generated code and formatting,
# then runs every Go test, the browser tests included.
set -euo pipefail
cd "$(dirname "$0")/.."

export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

# 1. Chromium from Debian's packages for the browser tests (never a downloaded build).
if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Chromium (Debian package)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
export AGENTDESK_CHROMIUM="${AGENTDESK_CHROMIUM:-$(command -v chromium)}"

# 1b. PostgreSQL and Redis for the store, lock and multi-replica tests (each test
# makes its own database or key prefix). Start them when they do not answer.
export AGENTDESK_TEST_POSTGRES="${AGENTDESK_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
export AGENTDESK_TEST_REDIS="${AGENTDESK_TEST_REDIS:-redis://127.0.0.1:6379/0}"
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "== starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "== starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no
  for _ in $(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi

# 2. Generated templ code must be current: regenerate and fail on any difference.
echo "== templ generate"
go tool templ generate -path views >/dev/null
if ! git diff --quiet -- views; then
  echo "generated templ code is stale; run: go tool templ generate -path views" >&2
  git --no-pager diff --stat -- views >&2
  exit 1
fi

# 3. Formatting and vet.
echo "== gofmt, go vet"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...

# 3b. staticcheck and govulncheck (offline database), each against its reviewed allowlist.
scripts/security.sh

# 4. Tests, browser tests included (a missing browser fails them, it never skips).
echo "== go test"
mkdir -p e2e/artifacts
go test -count=1 -timeout 15m ./...

# 4b. Data races: two users hammering lists and actions, EM sessions dropped under load.
echo "== go test -race (handlers)"
go test -race -count=1 -timeout 10m -run '^(TestConcurrentUsers|TestEMSessionsDropped|TestConcurrentSignIns|TestSlowBodiesCannotStarve)$' ./handlers/

# 4c. Robustness under load: the packages whose tests wait on clocks, locks,
# stores and EM run again while two busy loops keep every core busy. Their
# tests wait for events and injected clocks, never for wall-clock windows, so
# a slow machine must not fail them. (The binaries are cached from step 4.)
echo "== go test under CPU load (emclient, jobs, lock, holds, audit, handlers)"
burners=()
for _ in 1 2; do
  bash -c 'while :; do :; done' &
  burners+=($!)
done
stop_burners() { for pid in "${burners[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap stop_burners EXIT
go test -count=1 -p 2 -timeout 10m ./emclient/ ./jobs/ ./lock/ ./holds/ ./audit/ ./handlers/
stop_burners
trap - EXIT

# 5. Fuzz targets for a bounded number of inputs each: the seed corpora also run in step 4.
echo "== fuzz (short)"
# A count of inputs rather than a duration: a time budget can run out while the
# fuzz engine is still measuring the seed corpus on a loaded machine, which Go
# reports as "context deadline exceeded" although nothing failed.
go test -run '^$' -fuzz '^FuzzSafeReturnTo$' -fuzztime 20000x ./auth/
go test -run '^$' -fuzz '^FuzzFilter$' -fuzztime 20000x ./emclient/
go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime 20000x ./emclient/
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 20000x ./policy/
echo "== all tests passed"
